//! The latest-value slot that joins the live stages: a slow stage drops frames
//! instead of adding delay.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Locks `m`, taking the value of a thread that panicked while holding it (the run
/// ends with that thread's error anyway; the report must still come out).
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

struct Slot<T> {
    value: Option<T>,
    put: u64,
    overwritten: u64,
    closed: bool,
}

/// A one-value channel: the writer overwrites, the reader takes the newest. What the
/// reader never saw is counted as dropped, and no stage ever works on a stale frame.
pub struct Latest<T> {
    slot: Mutex<Slot<T>>,
    ready: Condvar,
}

impl<T> Default for Latest<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Latest<T> {
    /// An empty, open slot.
    pub fn new() -> Self {
        Latest {
            slot: Mutex::new(Slot {
                value: None,
                put: 0,
                overwritten: 0,
                closed: false,
            }),
            ready: Condvar::new(),
        }
    }

    /// Stores `value`, replacing (and counting) one the reader has not taken.
    pub fn put(&self, value: T) {
        let mut s = lock(&self.slot);
        if s.value.replace(value).is_some() {
            s.overwritten += 1;
        }
        s.put += 1;
        drop(s);
        self.ready.notify_one();
    }

    /// The newest value, waiting up to `timeout`; `None` on timeout or once closed
    /// and empty.
    pub fn take(&self, timeout: Duration) -> Option<T> {
        let deadline = Instant::now() + timeout;
        let mut s = lock(&self.slot);
        loop {
            if let Some(v) = s.value.take() {
                return Some(v);
            }
            let now = Instant::now();
            if s.closed || now >= deadline {
                return None;
            }
            s = self
                .ready
                .wait_timeout(s, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    /// No more values will come; wakes a waiting reader.
    pub fn close(&self) {
        lock(&self.slot).closed = true;
        self.ready.notify_all();
    }

    /// True after [`Latest::close`].
    pub fn is_closed(&self) -> bool {
        lock(&self.slot).closed
    }

    /// Values replaced before the reader took them: dropped frames.
    pub fn overwritten(&self) -> u64 {
        lock(&self.slot).overwritten
    }

    /// Values put so far.
    pub fn put_count(&self) -> u64 {
        lock(&self.slot).put
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn latest_keeps_the_newest_and_counts_what_it_replaced() {
        let l = Latest::new();
        l.put(1);
        l.put(2);
        l.put(3);
        assert_eq!(l.take(Duration::ZERO), Some(3));
        assert_eq!(l.overwritten(), 2);
        assert_eq!(l.put_count(), 3);
        assert_eq!(l.take(Duration::from_millis(5)), None);
        l.put(4);
        assert_eq!(l.take(Duration::ZERO), Some(4));
        assert_eq!(l.overwritten(), 2);
    }

    #[test]
    fn close_wakes_a_waiting_reader_and_a_put_wakes_it_early() {
        let l = Arc::new(Latest::<u32>::new());
        let l2 = l.clone();
        let t = std::thread::spawn(move || {
            let t0 = Instant::now();
            let v = l2.take(Duration::from_secs(10));
            (v, t0.elapsed())
        });
        std::thread::sleep(Duration::from_millis(20));
        l.put(7);
        let (v, waited) = t.join().unwrap();
        assert_eq!(v, Some(7));
        assert!(waited < Duration::from_secs(5));
        let l2 = l.clone();
        let t = std::thread::spawn(move || l2.take(Duration::from_secs(10)));
        std::thread::sleep(Duration::from_millis(20));
        l.close();
        assert_eq!(t.join().unwrap(), None);
        assert!(l.is_closed());
    }
}
