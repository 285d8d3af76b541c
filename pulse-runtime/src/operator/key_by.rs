//! `key_by`: pairs each element with its key, so windows, joins and `process` partition by it.
//!
//! In a parallel run `key_by` is also the exchange: an element whose key belongs to another
//! worker waits in that worker's outbox, and the driver sends it there (see
//! the parallel driver in `exec/parallel.rs`). Its watermark downstream is the minimum over every worker's.
//! When a windowed aggregate follows that can pre-aggregate ([`Combiner`]), the `key_by` keeps
//! every element on the worker that read it, and the aggregate sends partial accumulators
//! instead.

use std::any::Any;
use std::cell::Cell;
use std::hash::Hash;
use std::rc::Rc;

use super::{Node, Operator};
use crate::time::MIN_WATERMARK;

/// The same seeds in every worker, so a key lands on the same worker from every `key_by`.
static ROUTER: ahash::RandomState = ahash::RandomState::with_seeds(
    0x243f_6a88_85a3_08d3,
    0x1319_8a2e_0370_7344,
    0xa409_3822_299f_31d0,
    0x082e_fa98_ec4e_6c89,
);

/// The worker, of `workers`, that owns key `k`: the high bits of its hash scaled to the range.
#[inline(always)]
pub(crate) fn owner<K: Hash + ?Sized>(k: &K, workers: usize) -> usize {
    owner_of_hash(ROUTER.hash_one(k), workers)
}

#[inline(always)]
fn owner_of_hash(h: u64, workers: usize) -> usize {
    (((h >> 32) * workers as u64) >> 32) as usize
}

/// An element held for another worker: keyed, with its timestamp and the watermark downstream
/// when it was keyed.
type Keyed<K, T> = ((K, T), i64, i64);

/// Emits `(key(&x), x)`, or in a parallel run holds it for the worker that owns the key.
pub struct KeyBy<T, K, F> {
    f: F,
    me: usize,
    workers: usize,
    /// Whether elements of other workers' keys go to their outboxes (a parallel run without a
    /// combiner downstream).
    route: bool,
    /// Whether a combiner downstream pre-aggregates: elements stay here, and the watermark
    /// downstream waits for this worker's own published one too.
    local_only: bool,
    /// Hashes a key for routing (a pointer, so `push` needs no `Hash` bound of its own and a
    /// key type that is not `Hash` is reported once, at `key_by`).
    hash: fn(&K) -> u64,
    /// Per worker: elements whose key it owns, waiting to be sent, each with the watermark
    /// downstream when it was keyed.
    outbox: Vec<Vec<Keyed<K, T>>>,
    /// The watermark of this worker's own input (shared with a combiner in an ordered run).
    local: Rc<Cell<i64>>,
    /// Per worker: the latest watermark it sent (this worker's own entry: the one it last
    /// published, used only when a combiner pre-aggregates).
    remote: Vec<i64>,
    /// Whether the run is ordered (see [`Exchange::order`]): every watermark is then the
    /// whole input's at some point of it, and the latest one is the largest.
    ordered: bool,
    /// In an ordered run: the largest watermark an element arrived with.
    arrived: i64,
    /// The watermark downstream, as [`combine`](Self::combine) last worked it out.
    current: i64,
}

impl<T, K: Hash, F: FnMut(&T) -> K> KeyBy<T, K, F> {
    /// Keys elements by `f`.
    pub fn new(f: F) -> Self {
        KeyBy {
            f,
            me: 0,
            workers: 1,
            route: false,
            local_only: false,
            hash: |k| ROUTER.hash_one(k),
            outbox: Vec::new(),
            local: Rc::new(Cell::new(MIN_WATERMARK)),
            remote: Vec::new(),
            ordered: false,
            arrived: MIN_WATERMARK,
            current: MIN_WATERMARK,
        }
    }
}

impl<T, K, F: FnMut(&T) -> K> KeyBy<T, K, F> {
    /// Emits `(f(&x), x)` if this worker owns the key; holds it for its owner otherwise.
    #[inline(always)]
    pub fn push(&mut self, x: T, ts: i64, out: &mut impl FnMut((K, T), i64)) {
        let k = (self.f)(&x);
        if self.route {
            let to = owner_of_hash((self.hash)(&k), self.workers);
            if to != self.me {
                self.outbox[to].push(((k, x), ts, self.current));
                return;
            }
        }
        out((k, x), ts)
    }
}

impl<T, K, F> KeyBy<T, K, F> {
    /// The watermark downstream: this worker's input watermark `local`, held back by every
    /// other worker's. With a combiner downstream, this worker's own counts as published: its
    /// partial accumulators reach their owners before the watermark that covers them.
    ///
    /// In an ordered run every watermark is the whole input's at some point of it, so the
    /// latest is the largest: this worker's own (unless a combiner publishes it), the ones
    /// other workers sent, and the ones elements arrived with.
    #[inline]
    pub fn combine(&mut self, local: i64) -> i64 {
        self.local.set(local);
        let wm = if self.ordered {
            let own = if self.local_only {
                MIN_WATERMARK
            } else {
                local
            };
            self.remote
                .iter()
                .fold(own.max(self.arrived), |m, &r| m.max(r))
        } else {
            let mut wm = if self.local_only {
                crate::time::MAX_WATERMARK
            } else {
                local
            };
            for (w, &r) in self.remote.iter().enumerate() {
                if w != self.me || self.local_only {
                    wm = wm.min(r);
                }
            }
            wm
        };
        self.current = wm;
        wm
    }

    /// An element from another worker arrives with the watermark `wm` it was keyed under;
    /// returns whether that moves this watermark (in an ordered run: then the watermarks move
    /// through the graph before the element goes on).
    #[inline(always)]
    pub fn arrive(&mut self, wm: i64) -> bool {
        if self.ordered && wm > self.arrived {
            self.arrived = wm;
            wm > self.current
        } else {
            false
        }
    }

    /// `route`, as `workers` and `local_only` make it (kept as one flag for `push`).
    fn reroute(&mut self) {
        self.route = self.workers > 1 && !self.local_only;
    }
}

impl<T, K, F> Node for KeyBy<T, K, F> {
    type Out = (K, T);
}
impl<T, K, F> Operator for KeyBy<T, K, F> {}

/// A `key_by` as the parallel driver sees it.
pub trait Exchange {
    /// Makes this the exchange of worker `me` of `workers`.
    fn configure(&mut self, me: usize, workers: usize);
    /// Keeps every element on this worker, for the [`Combiner`] after it; the driver then
    /// publishes this worker's own watermark with
    /// [`set_remote_watermark`](Self::set_remote_watermark) after its partials.
    fn keep_local(&mut self);
    /// Whether [`keep_local`](Self::keep_local) was called.
    fn keeps_local(&self) -> bool;
    /// Orders the run: elements reach this exchange in the whole input's order, each with the
    /// watermark of what came before it (see [`Source::segments`](crate::io::Source::segments)).
    fn order(&mut self);
    /// This worker's input watermark at the exchange, as it moves (for a combiner in an ordered
    /// run, which judges each element against it).
    fn local_cell(&self) -> Rc<Cell<i64>>;
    /// The elements held for worker `to` (a `Vec<((K, T), i64, i64)>`: element, timestamp and
    /// the watermark it was keyed under), if any.
    fn take_outbox(&mut self, to: usize) -> Option<Box<dyn Any + Send>>;
    /// This worker's input watermark at the exchange.
    fn local_watermark(&self) -> i64;
    /// Worker `from`'s input watermark at the exchange (this worker's own as published, when it
    /// keeps elements local).
    fn set_remote_watermark(&mut self, from: usize, wm: i64);
}

impl<T: Send + 'static, K: Send + 'static, F> Exchange for KeyBy<T, K, F> {
    fn configure(&mut self, me: usize, workers: usize) {
        self.me = me;
        self.workers = workers.max(1);
        self.reroute();
        self.outbox = (0..self.workers).map(|_| Vec::new()).collect();
        self.remote = vec![MIN_WATERMARK; self.workers];
    }
    fn keep_local(&mut self) {
        self.local_only = true;
        self.reroute();
    }
    fn keeps_local(&self) -> bool {
        self.local_only
    }
    fn order(&mut self) {
        self.ordered = true;
    }
    fn local_cell(&self) -> Rc<Cell<i64>> {
        self.local.clone()
    }
    fn take_outbox(&mut self, to: usize) -> Option<Box<dyn Any + Send>> {
        let b = self.outbox.get_mut(to)?;
        if b.is_empty() {
            return None;
        }
        let cap = b.capacity();
        Some(Box::new(std::mem::replace(b, Vec::with_capacity(cap))))
    }
    fn local_watermark(&self) -> i64 {
        self.local.get()
    }
    fn set_remote_watermark(&mut self, from: usize, wm: i64) {
        if let Some(r) = self.remote.get_mut(from) {
            *r = (*r).max(wm);
        }
    }
}

/// A windowed aggregate right after a `key_by`, pre-aggregating in a parallel run: each worker
/// adds the elements it read into partial accumulators per window and key, and sends a
/// window's partials to the keys' owners once its own watermark closes the window (or all of
/// them before a checkpoint). The owner merges them and fires under the minimum watermark, as
/// before; only partials cross threads, not elements.
///
/// Lateness is decided where the element is read, against the watermark that worker last
/// published; its partials go out before the next one, so an owner always merges them before
/// its own watermark can pass the window's cleanup time.
pub trait Combiner {
    /// Pre-aggregates on worker `me` of `workers`; `false` if it cannot (session windows), and
    /// then the `key_by` routes elements instead. In an ordered run, `local` is this worker's
    /// watermark at the `key_by` as it moves, element by element: the combiner judges each
    /// element against it, and declines if a late element could still change a fired window
    /// (allowed lateness), whose re-firings must then follow the input's order on the owner.
    fn configure(&mut self, me: usize, workers: usize, local: Option<Rc<Cell<i64>>>) -> bool;
    /// Hands `send` the partials to send, per owning worker (this one included): those of
    /// windows with `end - 1 <= wm`, or all of them if `all`. `wm` becomes the watermark later
    /// elements are judged late against; the driver publishes it after these partials.
    fn take_partials(
        &mut self,
        wm: i64,
        all: bool,
        send: &mut dyn FnMut(usize, Box<dyn Any + Send>),
    );
}
