//! SIGINT, SIGTERM and SIGHUP as a flag every loop checks between frames, and the
//! exit by that signal once the output is complete. Used by `replay`, `run` and
//! `record` alike.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

/// A signal that asks emocue to stop cleanly at the next frame boundary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopSignal {
    /// Ctrl-C.
    Int,
    /// `kill`, a supervisor (systemd, docker stop) ending the service.
    Term,
    /// The terminal closed (an ssh session dropped).
    Hup,
}

impl StopSignal {
    const ALL: [StopSignal; 3] = [StopSignal::Int, StopSignal::Term, StopSignal::Hup];

    /// The signal's number, to end the process by it.
    pub fn number(self) -> libc::c_int {
        match self {
            StopSignal::Int => libc::SIGINT,
            StopSignal::Term => libc::SIGTERM,
            StopSignal::Hup => libc::SIGHUP,
        }
    }

    /// Its name, for the summary's `stopped` key and the log.
    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Int => "SIGINT",
            StopSignal::Term => "SIGTERM",
            StopSignal::Hup => "SIGHUP",
        }
    }

    fn from_number(n: libc::c_int) -> Option<StopSignal> {
        StopSignal::ALL.into_iter().find(|s| s.number() == n)
    }
}

/// Raised by the first stop signal; every loop checks it between frames.
static STOP: AtomicBool = AtomicBool::new(false);
/// The first stop signal's number (0 until one came), so the exit can name it.
static STOP_SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_stop_signal(sig: libc::c_int) {
    // The first signal is recorded; a later one of another kind keeps the first name.
    let _ = STOP_SIGNAL.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
    if STOP.swap(true, Ordering::SeqCst) && sig == libc::SIGINT {
        // A second Ctrl-C: the user does not want to wait for the frame to finish.
        // Lines already written stay whole (each is one write); no summary.
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(128 + sig) };
    }
}

/// Makes SIGINT (Ctrl-C), SIGTERM and SIGHUP raise the returned flag instead of
/// killing the process, so `replay`, `run` and `record` stop at a frame boundary with
/// their output complete; [`stop_signal`] says which came. A signal the parent set to
/// be ignored (`nohup` ignores SIGHUP) stays ignored. A second Ctrl-C ends the process
/// at once (status 130); a second SIGTERM or SIGHUP does not, since supervisors send
/// SIGHUP right after SIGTERM.
pub fn stop_on_signal() -> &'static AtomicBool {
    let handler: extern "C" fn(libc::c_int) = on_stop_signal;
    for sig in StopSignal::ALL {
        // SAFETY: plain sigaction calls on zero-initialised structs; the handler only
        // touches atomics and calls _exit, which are async-signal-safe.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig.number(), std::ptr::null(), &mut old) != 0
                || old.sa_sigaction == libc::SIG_IGN
            {
                continue;
            }
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = handler as libc::sighandler_t;
            // SA_RESTART: a read or write in progress finishes instead of failing
            // with EINTR half-way through a frame or a line.
            act.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut act.sa_mask);
            libc::sigaction(sig.number(), &act, std::ptr::null_mut());
        }
    }
    &STOP
}

/// The stop signal that came since [`stop_on_signal`], if any.
pub fn stop_signal() -> Option<StopSignal> {
    StopSignal::from_number(STOP_SIGNAL.load(Ordering::SeqCst))
}

/// Ends the process by `sig` with the signal's default action, once everything is
/// written: the parent sees a process stopped by that signal, as Unix tools are (a
/// shell reports 130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP; systemd counts it a
/// clean stop; a shell script's loop stops on Ctrl-C).
pub fn exit_by_signal(sig: StopSignal) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    let n = sig.number();
    // SAFETY: restoring the default action and raising the signal to ourselves.
    unsafe {
        libc::signal(n, libc::SIG_DFL);
        libc::raise(n);
    }
    // Only reached when the signal is blocked in this process.
    std::process::exit(128 + n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_signals_have_their_names_and_numbers() {
        for s in StopSignal::ALL {
            assert_eq!(StopSignal::from_number(s.number()), Some(s));
        }
        assert_eq!(StopSignal::Term.name(), "SIGTERM");
        assert_eq!(StopSignal::from_number(libc::SIGKILL), None);
    }
}
