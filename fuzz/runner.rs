//! The stable fuzz runner: no nightly compiler, no instrumentation, bounded in time.
//!
//! CI runs it (`cargo run --example fuzz -- --seconds 60 --jobs 2`) because the
//! coverage-guided libFuzzer build needs half an hour of instrumented compilation that
//! CI cannot afford. For each target it replays the seed corpus (`fuzz/seeds/TARGET/`)
//! and the crash regressions (`fuzz/regressions/TARGET/`), then mutates them for a
//! fixed time: bit flips, byte insert/delete/duplicate, splices, interesting numbers
//! (binary and decimal), multi-byte characters and the tokens of the target's
//! dictionary (`fuzz/dict/`). Its only feedback is the outcome: a mutant whose outcome
//! signature is new joins the corpus. The input sequence depends only on the seed,
//! which is printed, so a failure reproduces.
//!
//! Each target runs in a child process (this program again, `--child`) with its
//! address space limited (`--mem-mb`), and records each input in a state file before
//! running it. The parent watches: a panic, an abort (allocation failure, stack
//! overflow), a signal or an input that runs longer than `--timeout` seconds is a
//! failure, and the input is saved to `fuzz/artifacts/TARGET/` with the command that
//! replays it.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::targets::{MAX_INPUT, TARGETS, Target, target};

const USAGE: &str = "\
usage: cargo run --example fuzz -- [TARGET...] [--seconds N] [--seed N] [--jobs N]
                                   [--timeout S] [--mem-mb N] [--keep-going]
       cargo run --example fuzz -- --replay TARGET FILE...
       cargo run --example fuzz -- --write-seeds
       cargo run --example fuzz -- --list

Fuzzes each TARGET (default: all) for N seconds (default 60, or $EMOCUE_FUZZ_SECONDS)
after replaying fuzz/seeds/TARGET and fuzz/regressions/TARGET. Fails, with the input
saved under fuzz/artifacts/TARGET/, on a panic, abort, signal, an input running longer
than S seconds (default 10) or the child needing more than N MiB of address space
(default 2048). --seed (default 2126, or $EMOCUE_FUZZ_SEED) fixes the inputs tried;
--jobs runs that many targets at once (default 1); --keep-going goes on after a
failure (a dead child is restarted with the next seed) to collect every distinct one.";

/// Address space a child may use (MiB); its baseline is about 35 MiB.
pub const DEFAULT_MEM_MB: u64 = 2048;

/// Settings of one run.
struct Opts {
    targets: Vec<&'static Target>,
    seconds: f64,
    seed: u64,
    jobs: usize,
    timeout: f64,
    mem_mb: u64,
    keep_going: bool,
}

/// The repository root (fuzz/ lives there).
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Entry point of `examples/fuzz.rs`.
pub fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("fuzz: {e}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[String]) -> Result<ExitCode, String> {
    match args.first().map(String::as_str) {
        Some("--help" | "-h") => {
            println!("{USAGE}");
            return Ok(ExitCode::SUCCESS);
        }
        Some("--list") => {
            for t in TARGETS {
                println!("{}", t.name);
            }
            return Ok(ExitCode::SUCCESS);
        }
        Some("--write-seeds") => {
            crate::seeds::write_all(&root().join("fuzz/seeds")).map_err(|e| e.to_string())?;
            return Ok(ExitCode::SUCCESS);
        }
        Some("--replay") => {
            let name = args.get(1).ok_or("--replay needs a TARGET and files")?;
            let t = target(name).ok_or_else(|| format!("unknown target `{name}`"))?;
            return replay(t, &args[2..]);
        }
        Some("--child") => return child(args),
        _ => {}
    }
    let opts = parse(args)?;
    Ok(supervise(&opts))
}

fn parse(args: &[String]) -> Result<Opts, String> {
    let env_num = |key: &str, default: f64| -> Result<f64, String> {
        match std::env::var(key) {
            Ok(v) => v
                .parse()
                .map_err(|_| format!("${key} = {v:?} is not a number")),
            Err(_) => Ok(default),
        }
    };
    let mut o = Opts {
        targets: Vec::new(),
        seconds: env_num("EMOCUE_FUZZ_SECONDS", 60.0)?,
        seed: env_num("EMOCUE_FUZZ_SEED", 2126.0)? as u64,
        jobs: 1,
        timeout: 10.0,
        mem_mb: DEFAULT_MEM_MB,
        keep_going: false,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |what: &str| -> Result<f64, String> {
            let v = it.next().ok_or_else(|| format!("{a} needs {what}"))?;
            v.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .ok_or_else(|| format!("{a} {v}: not a non-negative number"))
        };
        match a.as_str() {
            "--seconds" => o.seconds = value("a number of seconds")?,
            "--seed" => o.seed = value("a number")? as u64,
            "--jobs" => o.jobs = (value("a count")? as usize).max(1),
            "--timeout" => o.timeout = value("a number of seconds")?.max(0.1),
            "--mem-mb" => o.mem_mb = value("a number of MiB")? as u64,
            "--keep-going" => o.keep_going = true,
            name => o.targets.push(target(name).ok_or_else(|| {
                let names: Vec<&str> = TARGETS.iter().map(|t| t.name).collect();
                format!(
                    "unknown target `{name}`; the targets are {}",
                    names.join(", ")
                )
            })?),
        }
    }
    if o.targets.is_empty() {
        o.targets = TARGETS.iter().collect();
    }
    Ok(o)
}

/// Replays files in this process (no child), under the default memory limit so an
/// `oom-*` input fails its allocation here too: for a saved crash.
fn replay(t: &Target, files: &[String]) -> Result<ExitCode, String> {
    if files.is_empty() {
        return Err("--replay needs files".into());
    }
    limit_memory(DEFAULT_MEM_MB);
    for f in files {
        let data = std::fs::read(f).map_err(|e| format!("cannot read {f}: {e}"))?;
        println!(
            "{}: {f} ({} bytes): {}",
            t.name,
            data.len(),
            escape(&data, 200)
        );
        let sig = (t.run)(&data[..data.len().min(MAX_INPUT)]);
        println!("  -> {sig}");
    }
    Ok(ExitCode::SUCCESS)
}

// ---------------------------------------------------------------- the parent

/// A target's child process and what the parent knows of it.
struct Running {
    target: &'static Target,
    child: Child,
    state: PathBuf,
    log: PathBuf,
    /// Where this target's log starts for the current child.
    log_from: usize,
    started: Instant,
    seed: u64,
    restarts: u64,
    failures: usize,
    /// Kinds of child deaths reported so far (`--keep-going` reports each once).
    seen: HashSet<String>,
    last_exec: u64,
    last_progress: Instant,
}

fn supervise(o: &Opts) -> ExitCode {
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("fuzz: cannot find this program to start children: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "fuzz: {} target(s), {} s each, seed {}, {} at once, timeout {} s, {} MiB per child",
        o.targets.len(),
        o.seconds,
        o.seed,
        o.jobs,
        o.timeout,
        o.mem_mb
    );
    let started = Instant::now();
    let mut queue: Vec<&'static Target> = o.targets.iter().rev().copied().collect();
    let mut running: Vec<Running> = Vec::new();
    let mut failed = Vec::new();
    while !queue.is_empty() || !running.is_empty() {
        while running.len() < o.jobs {
            let Some(t) = queue.pop() else { break };
            match start(&exe, t, o) {
                Ok(r) => running.push(r),
                Err(e) => {
                    println!("fuzz {}: FAILED to start: {e}", t.name);
                    failed.push(t.name);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(100));
        let mut i = 0;
        while i < running.len() {
            match check(&exe, &mut running[i], o) {
                None => i += 1,
                Some(ok) => {
                    let r = running.swap_remove(i);
                    if !ok {
                        failed.push(r.target.name);
                    }
                }
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let n = o.targets.len();
    if failed.is_empty() {
        println!("fuzz: all {n} target(s) clean in {secs:.0} s");
    } else {
        println!(
            "fuzz: FAILED: {} (seed {}; {secs:.0} s); inputs and logs in fuzz/artifacts/",
            failed.join(", "),
            o.seed
        );
    }
    // The plain closing line CI summaries read.
    println!("fuzz: {} passed, {} failed", n - failed.len(), failed.len());
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn artifacts(t: &Target) -> PathBuf {
    root().join("fuzz/artifacts").join(t.name)
}

fn start(exe: &Path, t: &'static Target, o: &Opts) -> std::io::Result<Running> {
    let dir = artifacts(t);
    std::fs::create_dir_all(&dir)?;
    let state = dir.join("current-input");
    let log = dir.join("last-run.log");
    File::create(&log)?;
    let mut r = Running {
        target: t,
        child: spawn(exe, t, o, o.seed, o.seconds, true, &state, &log)?,
        state,
        log,
        log_from: 0,
        started: Instant::now(),
        seed: o.seed,
        restarts: 0,
        failures: 0,
        seen: HashSet::new(),
        last_exec: u64::MAX,
        last_progress: Instant::now(),
    };
    r.last_progress = Instant::now();
    Ok(r)
}

#[allow(clippy::too_many_arguments)]
fn spawn(
    exe: &Path,
    t: &Target,
    o: &Opts,
    seed: u64,
    seconds: f64,
    replay: bool,
    state: &Path,
    log: &Path,
) -> std::io::Result<Child> {
    let out = OpenOptions::new().append(true).create(true).open(log)?;
    // Backtraces only on request: a panic's message and saved input say enough.
    let backtrace = std::env::var("EMOCUE_FUZZ_BACKTRACE").unwrap_or_else(|_| "0".into());
    Command::new(exe)
        .env("RUST_BACKTRACE", backtrace)
        .args(["--child", t.name])
        .args(["--seconds", &seconds.to_string()])
        .args(["--seed", &seed.to_string()])
        .args(["--mem-mb", &o.mem_mb.to_string()])
        .arg(state)
        .arg(if replay { "replay" } else { "no-replay" })
        .arg(if o.keep_going { "keep-going" } else { "stop" })
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
}

/// `None` while the target runs; `Some(clean)` once it has ended (or was stopped).
fn check(exe: &Path, r: &mut Running, o: &Opts) -> Option<bool> {
    let name = r.target.name;
    let status = match r.child.try_wait() {
        Ok(s) => s,
        Err(e) => {
            println!("fuzz {name}: FAILED: cannot wait for the child: {e}");
            return Some(false);
        }
    };
    let log = || {
        let all = std::fs::read_to_string(&r.log).unwrap_or_default();
        all.get(r.log_from..).unwrap_or_default().to_string()
    };
    let died = match status {
        None => {
            let (exec, _) = read_state(&r.state);
            if exec != r.last_exec {
                r.last_exec = exec;
                r.last_progress = Instant::now();
                return None;
            }
            if r.last_progress.elapsed().as_secs_f64() <= o.timeout {
                return None;
            }
            // Ignore kill errors: the child may have ended on its own meanwhile.
            let _ = r.child.kill();
            let _ = r.child.wait();
            let why = format!("an input ran over {} s", o.timeout);
            report_lost_input(r, "timeout", &why, "");
            true
        }
        Some(status) => match status.code() {
            Some(0) | Some(1) => {
                // The child's own report: lines starting with the target's name and
                // their indented continuation lines.
                let mut ours = false;
                for l in log().lines() {
                    ours = l.starts_with(name) || (ours && l.starts_with("  "));
                    if ours {
                        println!("{}{l}", if l.starts_with(name) { "fuzz " } else { "" });
                    }
                }
                if status.code() == Some(1) {
                    r.failures += 1;
                }
                false
            }
            _ => {
                let text = log();
                let kind = if text.contains("memory allocation of") {
                    "oom"
                } else {
                    "crash"
                };
                r.failures += text
                    .lines()
                    .filter(|l| l.starts_with(&format!("{name}: panic")))
                    .count();
                let why = format!("the child ended with {status}");
                report_lost_input(r, kind, &why, &report(&text, 20));
                true
            }
        },
    };
    if died {
        r.failures += 1;
        let left = o.seconds - r.started.elapsed().as_secs_f64();
        if o.keep_going && left > 1.0 && r.restarts < 50 {
            r.restarts += 1;
            r.seed = o.seed + r.restarts;
            println!("fuzz {name}: going on for {left:.0} s with seed {}", r.seed);
            r.log_from = std::fs::metadata(&r.log).map_or(0, |m| m.len() as usize);
            match spawn(exe, r.target, o, r.seed, left, false, &r.state, &r.log) {
                Ok(c) => {
                    r.child = c;
                    r.last_exec = u64::MAX;
                    r.last_progress = Instant::now();
                    return None;
                }
                Err(e) => println!("fuzz {name}: cannot restart: {e}"),
            }
        }
    }
    if r.failures > 0 {
        println!(
            "fuzz {name}: FAILED ({} failure(s)); log: {}",
            r.failures,
            rel(&r.log).display()
        );
    }
    Some(r.failures == 0)
}

/// The child died without reporting: save the input it was running, and report it
/// unless the same kind of failure (same kind, same last words) was reported before.
fn report_lost_input(r: &mut Running, kind: &str, why: &str, log: &str) {
    let (exec, data) = read_state(&r.state);
    let name = r.target.name;
    let last = log
        .lines()
        .rev()
        .find(|l| !l.starts_with("note: "))
        .unwrap_or_default();
    let saved = save(r.target, kind, &data);
    if !r.seen.insert(format!("{kind} {}", normalise(last))) {
        if let Ok(p) = saved {
            println!("fuzz {name}: {kind} again ({last}): {}", p.display());
        }
        return;
    }
    match saved {
        Ok(p) => println!(
            "fuzz {name}: FAILED ({kind}: {why}) at exec {exec} (seed {}): input ({} bytes) \
             saved to {}\n  input: {}\n  replay: cargo run --example fuzz -- --replay {name} {}",
            r.seed,
            data.len(),
            p.display(),
            escape(&data, 200),
            p.display()
        ),
        Err(e) => println!("fuzz {name}: FAILED ({kind}: {why}); cannot save the input: {e}"),
    }
    if !log.is_empty() {
        println!("{log}");
    }
}

/// Exec counter and input from a state file (zeros when unreadable).
fn read_state(path: &Path) -> (u64, Vec<u8>) {
    let mut bytes = Vec::new();
    if File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .is_err()
        || bytes.len() < 16
    {
        return (0, Vec::new());
    }
    let word = |i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&bytes[i..i + 8]);
        u64::from_le_bytes(w)
    };
    let (exec, len) = (word(0), word(8) as usize);
    let data = bytes[16..].get(..len).unwrap_or(&bytes[16..]).to_vec();
    (exec, data)
}

/// The last `n` lines of a child's log without its backtraces (the log keeps them).
fn report(log: &str, n: usize) -> String {
    let mut lines = Vec::new();
    let mut in_trace = false;
    for l in log.lines() {
        if l == "stack backtrace:" {
            in_trace = true;
        } else if in_trace {
            in_trace = !l.starts_with("note: ");
        } else if !l.trim().is_empty() {
            lines.push(l);
        }
    }
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn rel(p: &Path) -> PathBuf {
    p.strip_prefix(root())
        .map(Path::to_owned)
        .unwrap_or_else(|_| p.to_owned())
}

/// Saves a failing input as `KIND-HASH` (libFuzzer's naming) and returns its path.
fn save(t: &Target, kind: &str, data: &[u8]) -> std::io::Result<PathBuf> {
    let dir = artifacts(t);
    std::fs::create_dir_all(&dir)?;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    let p = dir.join(format!("{kind}-{h:016x}"));
    std::fs::write(&p, data)?;
    Ok(rel(&p))
}

/// Bytes as printable ASCII with `\xNN` escapes, cut at `max` bytes.
pub fn escape(data: &[u8], max: usize) -> String {
    let mut s: String = data[..data.len().min(max)]
        .iter()
        .flat_map(|&b| std::ascii::escape_default(b))
        .map(char::from)
        .collect();
    if data.len() > max {
        s.push_str(&format!("... ({} more bytes)", data.len() - max));
    }
    s
}

// ---------------------------------------------------------------- the child

/// What the parent starts: `--child TARGET --seconds S --seed N --mem-mb M STATE
/// replay|no-replay keep-going|stop`. Exit 0: clean; 1: panics caught and reported.
fn child(args: &[String]) -> Result<ExitCode, String> {
    let get = |i: usize| args.get(i).map(String::as_str).unwrap_or_default();
    let t = target(get(1)).ok_or("child: unknown target")?;
    let num = |i: usize| get(i).parse::<f64>().map_err(|_| "child: bad arguments");
    let (seconds, seed, mem_mb) = (num(3)?, num(5)? as u64, num(7)? as u64);
    let state = PathBuf::from(get(8));
    let (replay_first, keep_going) = (get(9) == "replay", get(10) == "keep-going");
    limit_memory(mem_mb);
    let mut st = State::create(&state).map_err(|e| format!("{}: {e}", state.display()))?;

    let dict = load_dict(&root().join("fuzz/dict").join(t.dict));
    let mut corpus = Vec::new();
    // A restarted child (after a crash) leaves out the regressions, which may be what
    // crashed it.
    let dirs: &[&str] = if replay_first {
        &["fuzz/seeds", "fuzz/regressions"]
    } else {
        &["fuzz/seeds"]
    };
    for dir in dirs {
        corpus.extend(load_dir(&root().join(dir).join(t.name)));
    }
    if corpus.is_empty() {
        corpus.push(Vec::new());
    }
    let seeds = corpus.len();
    let mut seen = HashSet::new();
    let mut panics = HashSet::new();
    // Panics are caught and reported below, once per kind; the hook only notes where.
    static PANIC_AT: Mutex<String> = Mutex::new(String::new());
    std::panic::set_hook(Box::new(|info| {
        if let Ok(mut at) = PANIC_AT.lock() {
            *at = info.location().map(|l| l.to_string()).unwrap_or_default();
        }
    }));
    let started = Instant::now();
    let mut execs = 0u64;
    // Ok(outcome), or Err(()) after a panic (reported and saved here).
    let mut exec = |data: &[u8], execs: &mut u64| -> Result<String, ()> {
        *execs += 1;
        st.record(*execs, data);
        let payload = match std::panic::catch_unwind(|| (t.run)(data)) {
            Ok(sig) => return Ok(sig),
            Err(p) => p,
        };
        let msg = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        let at = PANIC_AT
            .lock()
            .map(|mut a| std::mem::take(&mut *a))
            .unwrap_or_default();
        if panics.insert(format!("{at} {}", normalise(&msg))) {
            let saved = save(t, "crash", data).map_or_else(
                |e| format!("(cannot save: {e})"),
                |p| p.display().to_string(),
            );
            println!(
                "{}: panic at exec {} (seed {seed}) at {at}: {msg}\n  input ({} bytes) saved to \
                 {saved}\n  input: {}\n  replay: cargo run --example fuzz -- --replay {} \
                 {saved}",
                t.name,
                *execs,
                data.len(),
                escape(data, 200),
                t.name
            );
        }
        Err(())
    };
    if replay_first {
        for input in corpus.clone() {
            match exec(&input, &mut execs) {
                Ok(sig) => {
                    seen.insert(normalise(&sig));
                }
                Err(()) if keep_going => {}
                Err(()) => return Ok(ExitCode::FAILURE),
            }
        }
    }
    let mut rng = Rng(seed ^ hash_name(t.name));
    let deadline = Duration::from_secs_f64(seconds);
    while started.elapsed() < deadline {
        let m = mutate(&mut rng, &corpus, &dict);
        match exec(&m, &mut execs) {
            Ok(sig) => {
                if seen.insert(normalise(&sig)) && corpus.len() < 4096 {
                    corpus.push(m);
                }
            }
            Err(()) if keep_going => {}
            Err(()) => return Ok(ExitCode::FAILURE),
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{}: {execs} execs in {secs:.1} s ({:.0}/s), {seeds} seeds, corpus {}, {} outcomes, {}",
        t.name,
        execs as f64 / secs.max(1e-9),
        corpus.len(),
        seen.len(),
        if panics.is_empty() {
            "clean".to_string()
        } else {
            format!("{} distinct panic(s)", panics.len())
        }
    );
    if std::env::var_os("EMOCUE_FUZZ_OUTCOMES").is_some() {
        let mut all: Vec<&String> = seen.iter().collect();
        all.sort();
        for s in all {
            println!("  outcome: {s}");
        }
    }
    Ok(if panics.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Caps the child's address space, so a reader that trusts a size in its input fails
/// its allocation (reported as `oom`) instead of taking the machine's memory.
pub fn limit_memory(mb: u64) {
    if mb == 0 {
        return;
    }
    let bytes = mb.saturating_mul(1 << 20) as libc::rlim_t;
    let lim = libc::rlimit {
        rlim_cur: bytes,
        rlim_max: bytes,
    };
    // SAFETY: setrlimit only reads the struct passed by reference.
    if unsafe { libc::setrlimit(libc::RLIMIT_AS, &lim) } != 0 {
        eprintln!(
            "fuzz: cannot limit memory: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// The input being run, written before each run so the parent can save it when the
/// child dies: exec number (u64 LE), length (u64 LE), bytes.
struct State {
    file: File,
    buf: Vec<u8>,
}

impl State {
    fn create(path: &Path) -> std::io::Result<Self> {
        Ok(State {
            file: File::create(path)?,
            buf: Vec::with_capacity(MAX_INPUT + 16),
        })
    }

    fn record(&mut self, exec: u64, data: &[u8]) {
        self.buf.clear();
        self.buf.extend_from_slice(&exec.to_le_bytes());
        self.buf
            .extend_from_slice(&(data.len() as u64).to_le_bytes());
        self.buf.extend_from_slice(data);
        // A failed write only loses the copy of an input that did not crash.
        let _ = self.file.write_all_at(&self.buf, 0);
    }
}

fn load_dir(dir: &Path) -> Vec<Vec<u8>> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
        .iter()
        .filter(|p| p.file_name().is_some_and(|n| n != "README.md"))
        .filter_map(|p| std::fs::read(p).ok())
        .map(|mut d| {
            d.truncate(MAX_INPUT);
            d
        })
        .collect()
}

/// Tokens of a libFuzzer dictionary: one `"..."` per line (optionally `name="..."`),
/// with `\\`, `\"` and `\xNN` escapes; `#` starts a comment.
pub fn load_dict(path: &Path) -> Vec<Vec<u8>> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let (Some(a), Some(b)) = (line.find('"'), line.rfind('"')) else {
            continue;
        };
        if b <= a {
            continue;
        }
        let body = &line.as_bytes()[a + 1..b];
        let mut tok = Vec::new();
        let mut i = 0;
        while i < body.len() {
            match (body[i], body.get(i + 1)) {
                (b'\\', Some(b'x')) => {
                    let hex = std::str::from_utf8(body.get(i + 2..i + 4).unwrap_or_default())
                        .ok()
                        .and_then(|h| u8::from_str_radix(h, 16).ok());
                    if let Some(v) = hex {
                        tok.push(v);
                        i += 4;
                        continue;
                    }
                    tok.push(b'\\');
                }
                (b'\\', Some(&c)) => {
                    tok.push(c);
                    i += 2;
                    continue;
                }
                (c, _) => tok.push(c),
            }
            i += 1;
        }
        if !tok.is_empty() {
            out.push(tok);
        }
    }
    out
}

fn hash_name(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// An outcome signature with what varies per input taken out: a word that is not
/// plain (up to 20 letters and `_.,;:()-`, starting with a letter) becomes `#`, so
/// numbers, positions, paths and quoted input do not make an outcome new. The first
/// 8 words are kept.
fn normalise(sig: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for w in sig.split_whitespace() {
        let plain = w.len() <= 20
            && w.starts_with(|c: char| c.is_ascii_alphabetic())
            && w.chars()
                .all(|c| c.is_ascii_alphabetic() || "_.,;:()-".contains(c));
        let w = if plain { w } else { "#" };
        if !(w == "#" && out.last() == Some(&"#")) {
            out.push(w);
        }
        if out.len() >= 8 {
            break;
        }
    }
    out.join(" ")
}

// ---------------------------------------------------------------- mutations

/// splitmix64: small, fast, and the same sequence everywhere for a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.below(items.len()))
    }
}

const INTERESTING: &[u64] = &[
    0,
    1,
    2,
    0x7f,
    0x80,
    0xff,
    0x100,
    0x7fff,
    0x8000,
    0xffff,
    0x1_0000,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x4000,
    16384,
    16385,
    65000,
    100_000,
    u64::MAX,
];

const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "2",
    "255",
    "256",
    "16384",
    "16385",
    "65535",
    "65536",
    "100000",
    "2147483647",
    "4294967295",
    "4294967296",
    "18446744073709551616",
    "1e308",
    "-1e308",
    "1e-45",
    "nan",
    "inf",
    "-inf",
    "0.0",
    "1.0",
    "0.5",
    "1e400",
    "0x10",
    "1_000",
    "+1",
    ".5",
];

const CHARS: &[&str] = &[
    "\u{e9}",
    "\u{1f600}",
    "\u{feff}",
    "\u{0}",
    "\u{85}",
    "\r",
    "\t",
    "\n",
];

fn mutate(rng: &mut Rng, corpus: &[Vec<u8>], dict: &[Vec<u8>]) -> Vec<u8> {
    let mut d = rng.pick(corpus).cloned().unwrap_or_default();
    let rounds = 1 + (rng.next().trailing_zeros() as usize).min(7);
    for _ in 0..rounds {
        mutate_once(rng, &mut d, corpus, dict);
    }
    d.truncate(MAX_INPUT);
    d
}

fn mutate_once(rng: &mut Rng, d: &mut Vec<u8>, corpus: &[Vec<u8>], dict: &[Vec<u8>]) {
    let len = d.len();
    let pos = rng.below(len + 1);
    match rng.below(13) {
        0 if len > 0 => {
            let i = rng.below(len);
            d[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = rng.below(len);
            d[i] = rng.next() as u8;
        }
        2 => {
            let n = 1 + rng.below(8);
            let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            d.splice(pos..pos, bytes);
        }
        3 if len > 0 => {
            let n = 1 + rng.below((len - pos.min(len - 1)).min(64));
            let at = pos.min(len - 1);
            d.drain(at..(at + n).min(len));
        }
        4 if len > 0 => {
            // duplicate a chunk somewhere else
            let from = rng.below(len);
            let n = 1 + rng.below((len - from).min(256));
            let chunk = d[from..from + n].to_vec();
            d.splice(pos..pos, chunk);
        }
        5 => {
            // splice: our head, another input's tail
            if let Some(other) = rng.pick(corpus) {
                let cut = rng.below(other.len() + 1);
                d.truncate(pos);
                d.extend_from_slice(&other[cut..]);
            }
        }
        6 if len > 0 => {
            // a binary interesting number, 1, 2, 4 or 8 bytes, either byte order
            let v = INTERESTING[rng.below(INTERESTING.len())];
            let w = [1, 2, 4, 8][rng.below(4)];
            let bytes = if rng.below(2) == 0 {
                v.to_le_bytes()
            } else {
                (v << (64 - 8 * w)).to_be_bytes()
            };
            let at = rng.below(len);
            let end = (at + w).min(len);
            d[at..end].copy_from_slice(&bytes[..end - at]);
        }
        7 => {
            // a decimal interesting number over a run of digits (or inserted)
            let num = NUMBERS[rng.below(NUMBERS.len())].as_bytes().to_vec();
            let start = (pos..len).find(|&i| d[i].is_ascii_digit());
            match start {
                Some(s) => {
                    let mut e = s;
                    while e < len && (d[e].is_ascii_digit() || d[e] == b'.') {
                        e += 1;
                    }
                    d.splice(s..e, num);
                }
                None => {
                    d.splice(pos..pos, num);
                }
            }
        }
        8 | 9 => {
            if let Some(tok) = rng.pick(dict) {
                d.splice(pos..pos, tok.iter().copied());
            }
        }
        10 => {
            if let Some(tok) = rng.pick(dict) {
                let end = (pos + tok.len()).min(len);
                d.splice(pos..end, tok.iter().copied());
            }
        }
        11 => {
            let c = CHARS[rng.below(CHARS.len())].as_bytes().to_vec();
            d.splice(pos..pos, c);
        }
        12 => d.truncate(pos),
        _ => d.push(rng.next() as u8),
    }
}
