//! Ctrl-C and SIGTERM on a live run: the first asks the run to end cleanly, a second one ends
//! the process at once.

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
