//! Running one child process under a wall-clock and a memory limit, and measuring it.
//!
//! The memory limit is `setrlimit(RLIMIT_AS)` in the child (an allocation beyond it fails, which
//! aborts the child only); the wall-clock limit is a watchdog thread that sends `SIGKILL`. The
//! child is reaped with `wait4`, whose `ru_maxrss` is its peak resident memory. The watchdog and
//! the reaper agree through a mutex and `waitid(WNOWAIT)`, so a kill can never hit a recycled pid.
//! On Linux the child also gets `PR_SET_PDEATHSIG`: if the harness dies, its runs die with it.

use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// Set by a signal handler when the user interrupts the harness: running children are killed
/// and their runs discarded (not recorded), so a rerun redoes them.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(sig: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
    // A second signal of the same kind terminates at once.
    // SAFETY: `signal` is async-signal-safe.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
    }
}

/// Route SIGINT and SIGTERM to [`INTERRUPTED`].
pub fn install_interrupt_handler() {
    // SAFETY: installing a handler that only touches an atomic and calls `signal`.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
}

/// Resource limits of one run.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Hard wall-clock limit: the child is killed when it is reached.
    pub wall: Duration,
    /// Address-space limit in bytes (`None`: unlimited).
    pub memory_bytes: Option<u64>,
    /// The CPU the child (and every thread it starts) is confined to (`sched_setaffinity`;
    /// `None`: the harness's own set). Linux only; elsewhere ignored.
    pub cpu: Option<usize>,
}

/// The CPUs this process may run on (`sched_getaffinity`), ascending; on other systems
/// `0..available_parallelism`.
pub fn allowed_cpus() -> Vec<usize> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: `set` is a plain bit mask that `sched_getaffinity` fills; CPU_ISSET reads it.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) == 0 {
                return (0..libc::CPU_SETSIZE as usize).filter(|&c| libc::CPU_ISSET(c, &set)).collect();
            }
        }
    }
    (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect()
}

/// What happened to a child.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub wall_seconds: f64,
    /// Peak resident set size in KiB.
    pub peak_rss_kib: u64,
    /// Killed by the watchdog at the wall-clock limit.
    pub killed_for_time: bool,
    /// Killed because the harness was interrupted.
    pub killed_for_interrupt: bool,
}

fn read_all(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Run `exe args…` under `limits` and wait for it.
pub fn run(exe: &Path, args: &[String], limits: Limits) -> std::io::Result<Outcome> {
    let mut cmd = Command::new(exe);
    cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mem = limits.memory_bytes;
    #[cfg(target_os = "linux")]
    let cpu_set = limits.cpu.map(|c| {
        // SAFETY: a zeroed `cpu_set_t` is the empty set; CPU_SET only sets bit `c` (< CPU_SETSIZE,
        // checked by the caller through `allowed_cpus`).
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(c, &mut set);
            set
        }
    });
    // SAFETY: only async-signal-safe calls (setrlimit, sched_setaffinity, prctl) between fork and
    // exec.
    unsafe {
        cmd.pre_exec(move || {
            let none = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
            libc::setrlimit(libc::RLIMIT_CORE, &none);
            if let Some(bytes) = mem {
                let lim = libc::rlimit { rlim_cur: bytes as libc::rlim_t, rlim_max: bytes as libc::rlim_t };
                if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            #[cfg(target_os = "linux")]
            if let Some(set) = &cpu_set {
                if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), set) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            #[cfg(target_os = "linux")]
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0);
            Ok(())
        });
    }
    let start = Instant::now();
    let mut child = cmd.spawn()?;
    let pid = child.id() as libc::pid_t;
    let out = read_all(child.stdout.take().expect("piped stdout"));
    let err = read_all(child.stderr.take().expect("piped stderr"));

    // The watchdog kills at the deadline (or on interrupt) unless the child has already exited.
    let exited = Arc::new(Mutex::new(false));
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let watchdog = {
        let exited = Arc::clone(&exited);
        let deadline = start + limits.wall;
        std::thread::spawn(move || -> (bool, bool) {
            loop {
                let now = Instant::now();
                let wait = deadline.saturating_duration_since(now).min(Duration::from_millis(100));
                match done_rx.recv_timeout(wait) {
                    Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => return (false, false),
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                }
                let (time_up, interrupted) = (Instant::now() >= deadline, INTERRUPTED.load(Ordering::SeqCst));
                if time_up || interrupted {
                    let guard = exited.lock().expect("watchdog lock");
                    if !*guard {
                        // SAFETY: the child has not been reaped (`exited` is false under the lock),
                        // so `pid` still names it.
                        unsafe {
                            libc::kill(pid, libc::SIGKILL);
                        }
                        return (time_up && !interrupted, interrupted);
                    }
                    return (false, false);
                }
            }
        })
    };

    // Wait for exit without reaping, so the pid stays valid for the watchdog until we say so.
    loop {
        // SAFETY: a zeroed siginfo_t is a valid out-parameter.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let rc = unsafe { libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, libc::WEXITED | libc::WNOWAIT) };
        if rc == 0 {
            break;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    let wall_seconds = start.elapsed().as_secs_f64();
    *exited.lock().expect("reaper lock") = true;
    let _ = done_tx.send(());
    let (killed_for_time, killed_for_interrupt) = watchdog.join().unwrap_or((false, false));

    let mut status: libc::c_int = 0;
    // SAFETY: zeroed rusage is a valid out-parameter; pid is our unreaped child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if rc == pid {
            break;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    let st = std::process::ExitStatus::from_raw(status);
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    // `child` is already reaped: forget it without waiting.
    drop(child);
    Ok(Outcome {
        exit_code: st.code(),
        signal: st.signal(),
        stdout,
        stderr,
        wall_seconds,
        peak_rss_kib: usage.ru_maxrss.max(0) as u64,
        killed_for_time,
        killed_for_interrupt,
    })
}

/// The line of the child's stderr that shows an allocation failure (the memory limit), if any:
/// Rust's allocation-failure abort, C++ `std::bad_alloc`, or the dynamic loader unable to map a
/// library under the address-space limit.
pub fn out_of_memory(stderr: &str) -> Option<String> {
    const SIGNS: [&str; 6] = [
        "memory allocation of",
        "bad_alloc",
        "Cannot allocate memory",
        "out of memory",
        "Out of memory",
        "failed to map segment",
    ];
    stderr.lines().find(|l| SIGNS.iter().any(|s| l.contains(s))).map(|l| l.trim().chars().take(300).collect())
}
