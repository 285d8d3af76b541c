//! Ctrl-C and SIGTERM on a live run: the first asks the run to end cleanly, a second one ends
//! the process at once. SIGUSR1 prints what each operator is doing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};

static STOP: LazyLock<Arc<AtomicBool>> = LazyLock::new(|| Arc::new(AtomicBool::new(false)));

/// The flag SIGINT and SIGTERM set, with the handlers installed.
pub(crate) fn stop_on_signals() -> Arc<AtomicBool> {
    let flag = LazyLock::force(&STOP).clone();
    #[cfg(unix)]
    // SAFETY: the handler only touches an atomic that exists before it is installed, and
    // `_exit`, both async-signal-safe.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGINT, &action, std::ptr::null_mut());
        libc::sigaction(libc::SIGTERM, &action, std::ptr::null_mut());
    }
    flag
}

#[cfg(unix)]
extern "C" fn on_signal(_: libc::c_int) {
    // Initialised before the handler was installed, so this is one atomic load.
    if STOP.swap(true, Ordering::SeqCst) {
        // SAFETY: `_exit` is async-signal-safe.
        unsafe { libc::_exit(130) }
    }
}

static STATUS_ASKED: AtomicBool = AtomicBool::new(false);

#[cfg(unix)]
extern "C" fn on_usr1(_: libc::c_int) {
    STATUS_ASKED.store(true, Ordering::SeqCst);
}

/// Prints the run's status on stderr at every SIGUSR1 until `done` is set (then unpark the
/// thread): a thread that wakes every 100 ms, so the operator threads do nothing for it.
pub(crate) fn status_on_usr1(
    board: pulse_runtime::exec::StatusBoard,
    done: Arc<AtomicBool>,
) -> Option<std::thread::JoinHandle<()>> {
    #[cfg(unix)]
    // SAFETY: the handler only stores to a static atomic (async-signal-safe).
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_usr1 as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGUSR1, &action, std::ptr::null_mut());
    }
    std::thread::Builder::new()
        .name("pulse-status".into())
        .spawn(move || {
            while !done.load(Ordering::Relaxed) {
                // Woken at once when the run ends (`unpark`), so it never delays the exit.
                std::thread::park_timeout(std::time::Duration::from_millis(100));
                if STATUS_ASKED.swap(false, Ordering::SeqCst) {
                    let st = board.lock().unwrap_or_else(|p| p.into_inner()).clone();
                    eprint!("{}", status_text(&st));
                }
            }
        })
        .ok()
}

/// The status as lines: the run, then one line per operator.
pub(crate) fn status_text(st: &pulse_runtime::exec::RunStatus) -> String {
    let mut s = format!(
        "status of {}: up {:.1} s, {} records in, {} out{}\n",
        st.pipeline,
        st.uptime_s,
        st.records_in,
        st.records_out,
        if st.live { "" } else { " (ended)" }
    );
    for op in &st.operators {
        s.push_str(&format!(
            "  {:<32} {:<10} in {:>10}  out {:>10}",
            op.id, op.op, op.records_in, op.records_out
        ));
        if let Some(w) = op.watermark {
            s.push_str(&format!(
                "  watermark {}",
                pulse_runtime::Timestamp::from_millis(w)
            ));
        }
        if let Some(n) = op.open_windows {
            s.push_str(&format!("  open windows {n}"));
        }
        if let Some(by) = &op.held_back_by {
            s.push_str(&format!("  held back by {by}"));
        }
        s.push('\n');
    }
    s
}
