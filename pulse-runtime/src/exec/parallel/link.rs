//! What workers share and how they talk: the exchange channels, in-flight counting, the
//! checkpoint epoch and failure.

use super::*;

/// What all workers share.
pub(super) struct Shared {
    /// The checkpoint epoch the sink thread asks for.
    pub(super) requested: AtomicU64,
    /// The last epoch written: workers waiting on it go on.
    pub(super) resumed: AtomicU64,
    /// Workers stopped for the requested epoch.
    pub(super) paused: AtomicUsize,
    /// Set by the sink thread once the run is done (and its last checkpoint written).
    pub(super) exit: AtomicBool,
    /// Messages sent and not yet fully handled by their receiver.
    pub(super) inflight: AtomicI64,
    /// Results sent to the sink thread and not yet written.
    pub(super) to_sinks: AtomicU64,
    /// Results dropped in drop mode.
    pub(super) dropped: AtomicU64,
    /// Workers still reading their inputs.
    pub(super) active: AtomicUsize,
    /// Set when any worker fails: the others stop.
    pub(super) failed: AtomicBool,
    /// The first error, unless it was a panic.
    pub(super) error: Mutex<Option<Error>>,
    /// Records read, per worker (for the progress line).
    pub(super) read: Vec<AtomicU64>,
    /// Bytes of keyed state in memory, per worker (for the memory budget).
    pub(super) state: Vec<AtomicUsize>,
    /// Buffers of encoded results the sink thread has written, for workers to encode into
    /// again: a fresh buffer for every batch would be fresh pages, faulted in by the worker
    /// and returned to the system by the sink thread.
    pub(super) spare: Mutex<Vec<Vec<u8>>>,
    /// In an ordered run, per worker: the part of the input it works on or waits to (see
    /// [`Source::segment`]), `u64::MAX` once its share is read.
    pub(super) at: Vec<AtomicU64>,
    /// In an ordered run: the last part processed and the `watermark` operators' states after
    /// it, which the worker of the next part starts from.
    pub(super) prefix: Mutex<Prefix>,
}

impl Shared {
    pub(super) fn new(workers: usize) -> Self {
        Shared {
            requested: AtomicU64::new(0),
            resumed: AtomicU64::new(0),
            paused: AtomicUsize::new(0),
            exit: AtomicBool::new(false),
            inflight: AtomicI64::new(0),
            to_sinks: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            active: AtomicUsize::new(workers),
            failed: AtomicBool::new(false),
            error: Mutex::new(None),
            read: (0..workers).map(|_| AtomicU64::new(0)).collect(),
            state: (0..workers).map(|_| AtomicUsize::new(0)).collect(),
            spare: Mutex::new(Vec::new()),
            at: (0..workers).map(|_| AtomicU64::new(0)).collect(),
            prefix: Mutex::new(Prefix::default()),
        }
    }

    /// Whether every part of the input before `part` is processed: every other worker is at a
    /// later one. (What those parts sent is in this worker's inbox, ahead of anything a later
    /// part sends.)
    pub(super) fn before_done(&self, me: usize, part: u64) -> bool {
        self.at
            .iter()
            .enumerate()
            .all(|(w, at)| w == me || at.load(SeqCst) > part)
    }

    /// An empty buffer to encode results into.
    pub(super) fn buffer(&self) -> Vec<u8> {
        let mut spare = self.spare.lock().unwrap_or_else(|p| p.into_inner());
        spare.pop().unwrap_or_default()
    }

    /// Gives back a written buffer: kept unless enough are spare, or it grew past
    /// [`SPARE_BYTES`] (one huge firing should not hold its memory for the rest of the run).
    pub(super) fn give_back(&self, mut bytes: Vec<u8>) {
        if bytes.capacity() > SPARE_BYTES {
            return;
        }
        bytes.clear();
        let mut spare = self.spare.lock().unwrap_or_else(|p| p.into_inner());
        if spare.len() < 2 * self.read.len() + 2 {
            spare.push(bytes);
        }
    }

    pub(super) fn fail(&self, e: Option<Error>) {
        self.failed.store(true, SeqCst);
        if let Some(e) = e {
            let mut slot = self.error.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert(e);
        }
    }
}

pub(super) fn stopped() -> Error {
    Error::config("stopped: another worker failed")
}

/// Marks the run failed if a worker unwinds.
pub(super) struct PanicGuard<'a>(pub(super) &'a Shared);

impl Drop for PanicGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.fail(None);
        }
    }
}

/// One worker's end of the exchange.
pub(super) struct Link<'a> {
    pub(super) me: usize,
    pub(super) to: Vec<Option<SyncSender<Msg>>>,
    pub(super) inbox: Receiver<Msg>,
    pub(super) shared: &'a Shared,
    /// Messages handled since the last flush; they leave `inflight` once what they caused is
    /// sent on.
    pub(super) handled: i64,
    /// Per exchange: the watermark last sent to the other workers.
    pub(super) sent: Vec<i64>,
    /// Whether combiners send all their partials, not only those of windows this worker's
    /// watermark closed (while stopped for a checkpoint, so no partial is left out of it).
    pub(super) send_all: bool,
}

impl Link<'_> {
    pub(super) fn check(&self) -> Result<()> {
        if self.shared.failed.load(SeqCst) {
            return Err(stopped());
        }
        Ok(())
    }

    /// Sends everything the graph holds for other workers, and the watermarks that moved.
    pub(super) fn flush<G: Graph + ?Sized>(&mut self, g: &mut G) -> Result<()> {
        let workers = self.to.len();
        if workers <= 1 {
            // Alone: every key is this worker's, and no one waits for its watermarks.
            return Ok(());
        }
        loop {
            let mut msgs = Vec::new();
            // Partials for keys this worker owns, and the watermarks it publishes to itself.
            let (mut own, mut publish) = (Vec::new(), Vec::new());
            let (me, sent, all) = (self.me, &mut self.sent, self.send_all);
            g.for_each_exchange(&mut |ex, x, combiner, _| {
                let x = x.expect("exchanges are checked when the worker starts");
                for to in (0..workers).filter(|&w| w != me) {
                    if let Some(b) = x.take_outbox(to) {
                        msgs.push((to, Msg::Records(ex, b)));
                    }
                }
                if sent.len() <= ex {
                    sent.resize(ex + 1, MIN_WATERMARK);
                }
                let wm = x.local_watermark();
                let local = x.keeps_local();
                if let Some(c) = combiner.filter(|_| local) {
                    // Before the watermark that covers them, as elements are.
                    c.take_partials(wm, all, &mut |to, b| {
                        if to == me {
                            own.push((ex, b));
                        } else {
                            msgs.push((to, Msg::Partials(ex, b)));
                        }
                    });
                }
                if wm > sent[ex] {
                    sent[ex] = wm;
                    for to in (0..workers).filter(|&w| w != me) {
                        msgs.push((to, Msg::Watermark(ex, me, wm)));
                    }
                    if local {
                        publish.push((ex, wm));
                    }
                }
            });
            if msgs.is_empty() && own.is_empty() && publish.is_empty() {
                break;
            }
            for (to, msg) in msgs {
                self.send(g, to, msg)?;
            }
            for (ex, mut b) in own {
                g.merge_partials(ex, b.as_mut());
            }
            if !publish.is_empty() {
                g.for_each_exchange(&mut |ex, x, _, _| {
                    if let Some(&(_, wm)) = publish.iter().find(|(e, _)| *e == ex) {
                        x.expect("checked").set_remote_watermark(me, wm);
                    }
                });
                g.propagate_watermarks();
            }
        }
        self.shared.inflight.fetch_sub(self.handled, SeqCst);
        self.handled = 0;
        Ok(())
    }

    /// Sends one message; while the receiver is full, handles this worker's own inbox so two
    /// workers sending to each other cannot both wait.
    pub(super) fn send<G: Graph + ?Sized>(&mut self, g: &mut G, to: usize, msg: Msg) -> Result<()> {
        self.shared.inflight.fetch_add(1, SeqCst);
        let tx = self.to[to].clone().expect("no channel to self");
        let mut msg = msg;
        loop {
            match tx.try_send(msg) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Full(m)) => {
                    msg = m;
                    self.check()?;
                    if !self.receive(g) {
                        std::thread::yield_now();
                    }
                }
                Err(TrySendError::Disconnected(_)) => return Err(stopped()),
            }
        }
    }

    /// Handles every message waiting; returns whether there was any.
    pub(super) fn receive<G: Graph + ?Sized>(&mut self, g: &mut G) -> bool {
        let mut any = false;
        while let Ok(msg) = self.inbox.try_recv() {
            self.handle(g, msg);
            any = true;
        }
        any
    }

    pub(super) fn handle<G: Graph + ?Sized>(&mut self, g: &mut G, msg: Msg) {
        match msg {
            Msg::Records(ex, mut batch) => g.push_exchange(ex, batch.as_mut()),
            Msg::Partials(ex, mut batch) => g.merge_partials(ex, batch.as_mut()),
            Msg::Watermark(ex, from, wm) => {
                g.for_each_exchange(&mut |e, x, _, _| {
                    if e == ex {
                        x.expect("checked").set_remote_watermark(from, wm);
                    }
                });
                g.propagate_watermarks();
            }
        }
        self.handled += 1;
    }

    /// Waits up to `timeout` for messages and handles them; then flushes. Returns whether the
    /// whole run is done: no worker reads and nothing is in flight.
    pub(super) fn serve<G: Graph + ?Sized>(
        &mut self,
        g: &mut G,
        timeout: Duration,
    ) -> Result<bool> {
        self.check()?;
        match self.inbox.recv_timeout(timeout) {
            Ok(msg) => {
                self.handle(g, msg);
                self.receive(g);
            }
            Err(RecvTimeoutError::Timeout) => {}
            // Every other worker has seen the run done (a failure sets `failed`).
            Err(RecvTimeoutError::Disconnected) => std::thread::sleep(timeout),
        }
        self.flush(g)?;
        Ok(self.shared.active.load(SeqCst) == 0 && self.shared.inflight.load(SeqCst) == 0)
    }
}
