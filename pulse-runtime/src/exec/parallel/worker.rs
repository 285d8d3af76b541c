//! One worker's loop: read its share, run its copy of the graph, serve the exchange.

use super::*;

/// What a worker is given besides its graph.
pub(super) struct WorkerEnv<'a> {
    pub(super) me: usize,
    pub(super) workers: usize,
    pub(super) open: &'a OpenSources<'a>,
    pub(super) opts: &'a RunOptions,
    pub(super) store: Option<&'a CheckpointStore>,
    pub(super) resume: Option<&'a (Checkpoint, Snapshot)>,
    /// This worker's share of the memory budget for keyed state.
    pub(super) budget: Option<usize>,
}

/// One worker: its graph, its share of the inputs, its end of the exchange.
pub(super) fn worker<P: Pipeline>(
    pipeline: &P,
    env: &WorkerEnv<'_>,
    mut link: Link<'_>,
    results: Results,
) -> Result<WorkerSummary> {
    let out = &results.out;
    let (me, workers) = (env.me, env.workers);
    let _span = tracing::info_span!("worker", pipeline = pipeline.name(), worker = me).entered();
    let mut g = pipeline.build();
    let mut sources = (env.open)(me)?;
    // One input read in parts (stripes, files): the parts are processed in the input's order,
    // one at a time, each starting from the watermarks the part before it left, so every
    // element is judged as on one worker. Reading (parsing) still runs side by side: a worker
    // reads its next part while the others process theirs.
    let ordered = workers > 1 && sources.len() == 1 && sources[0].segments();
    let mut not_send = None;
    g.for_each_exchange(&mut |ex, x, combiner, first| match x {
        Some(x) => {
            x.configure(me, workers);
            // Only an exchange fed straight from the input sees it in order; one behind another
            // exchange gets elements from several owners at once, and keeps the minimum. A
            // combiner judges each element where it is read, against the input's watermark
            // before it; its windows may then fire later than on one worker (when every worker
            // has passed them, as unordered), which changes no row without allowed lateness.
            let ordered = ordered && first;
            let local = ordered.then(|| x.local_cell());
            if combiner.is_some_and(|c| c.configure(me, workers, local)) {
                x.keep_local();
            } else if ordered {
                x.order();
            }
        }
        None => not_send = Some(ex),
    });
    if let (Some(ex), true) = (not_send, workers > 1) {
        return Err(Error::config(format!(
            "pipeline `{}` cannot run on several workers: the elements of its `key_by` number {} (from 1) are not `Send`",
            pipeline.name(),
            ex + 1
        )));
    }
    let prefix = worker_id(me, "");
    if let Some(store) = env.store {
        g.attach_as(store, &prefix)?;
    }
    if let Some((cp, state)) = env.resume {
        let mine: Snapshot = state
            .iter()
            .filter_map(|(id, b)| Some((id.strip_prefix(&prefix)?.to_string(), b.clone())))
            .collect();
        g.restore(&mine)?;
        for src in sources.iter_mut() {
            let name = worker_input(me, src.name());
            if let Some((_, pos)) = cp.sources.iter().find(|(n, _)| *n == name) {
                src.seek(pos)?;
            }
        }
    }
    let board = if me == 0 {
        env.opts.status.clone()
    } else {
        None
    };
    let mut meter = Meter::new(
        env.opts.metrics,
        pipeline.name(),
        Some(me),
        P::NODES,
        &sources,
        &[],
        board,
    );
    let mut batches: Vec<_> = sources.iter().map(|s| s.new_batch()).collect();
    let mut outs = (0..P::OUTPUTS.len())
        .map(|j| {
            pipeline
                .output_batch(j)
                .expect("checked before the workers start")
        })
        .collect::<Vec<_>>();
    let mut live = vec![true; sources.len()];
    let shared = link.shared;
    let bound = env.opts.channel_bound;
    // Drop mode: whether `n` more results would take those in flight to the sinks past the
    // bound (then they are dropped and counted); otherwise they are counted in flight.
    let admit = |n: u64| -> bool {
        let Some(bound) = bound else {
            return true;
        };
        if shared.to_sinks.load(SeqCst) + n > bound {
            shared.dropped.fetch_add(n, SeqCst);
            return false;
        }
        shared.to_sinks.fetch_add(n, SeqCst);
        true
    };
    let drain = |g: &mut dyn Graph, outs: &mut Vec<Box<dyn OutputBatch>>| -> Result<()> {
        for (j, b) in outs.iter_mut().enumerate() {
            g.drain_output(j, b.as_any_mut());
            if b.is_empty() {
                continue;
            }
            if let Some(encoder) = &results.encoders[j] {
                // Encoded here, beside the other workers, rather than on the sink thread.
                let mut bytes = shared.buffer();
                let (rows, encoded) = encoder.encode(b.as_any_mut(), &mut bytes);
                if rows > 0 {
                    if admit(rows) {
                        out.send(ToSinks::Encoded(j, bytes, rows))
                            .map_err(|_| stopped())?;
                    } else {
                        shared.give_back(bytes);
                    }
                }
                encoded?;
            } else if !admit(b.len() as u64) {
                let fresh = pipeline
                    .output_batch(j)
                    .expect("checked before the workers start");
                *b = fresh;
            } else {
                let full = std::mem::replace(
                    b,
                    pipeline
                        .output_batch(j)
                        .expect("checked before the workers start"),
                );
                out.send(ToSinks::Results(j, full)).map_err(|_| stopped())?;
            }
        }
        Ok(())
    };
    // Stops for the requested checkpoint: serves the exchange until every worker has stopped
    // and nothing is in flight, sends results and state, and waits until it is written.
    let mut epoch = 0;
    let mut evicted = 0;
    // `held`: in an ordered run, where the part read ahead (and not yet processed) starts.
    let mut barrier = |g: &mut dyn Graph,
                       link: &mut Link<'_>,
                       outs: &mut Vec<Box<dyn OutputBatch>>,
                       sources: &[Box<dyn Source>],
                       held: Option<&[u8]>|
     -> Result<()> {
        let requested = link.shared.requested.load(SeqCst);
        if requested <= epoch {
            return Ok(());
        }
        epoch = requested;
        link.send_all = true;
        link.flush(g)?;
        link.shared.paused.fetch_add(1, SeqCst);
        loop {
            link.serve(g, Duration::from_micros(200))?;
            if link.shared.paused.load(SeqCst) == workers && link.shared.inflight.load(SeqCst) == 0
            {
                break;
            }
        }
        link.send_all = false;
        drain(g, outs)?;
        let named = |m: BTreeMap<String, String>| {
            m.into_iter()
                .map(|(id, v)| (worker_id(me, &id), v))
                .collect::<BTreeMap<_, _>>()
        };
        let part = WorkerState {
            state: g
                .snapshot()?
                .into_iter()
                .map(|(id, b)| (worker_id(me, &id), b))
                .collect(),
            dirty: g
                .take_dirty()
                .into_iter()
                .map(|(id, cells)| (worker_id(me, &id), cells))
                .collect(),
            fingerprints: named(g.fingerprints()),
            positions: sources
                .iter()
                .map(|s| {
                    let at = held.map_or_else(|| s.position(), <[u8]>::to_vec);
                    (worker_input(me, s.name()), at)
                })
                .chain((ordered && me == 0).then(|| {
                    let p = link.shared.prefix.lock().unwrap_or_else(|p| p.into_inner());
                    (
                        ORDER.to_string(),
                        postcard::to_stdvec(&*p).unwrap_or_default(),
                    )
                }))
                .collect(),
        };
        out.send(ToSinks::State(me, Box::new(part)))
            .map_err(|_| stopped())?;
        while link.shared.resumed.load(SeqCst) < epoch {
            link.check()?;
            std::thread::sleep(Duration::from_micros(100));
        }
        if let Some(budget) = env.budget {
            evicted += g.evict(budget) as u64;
            link.shared.state[me].store(g.state_bytes(), SeqCst);
        }
        Ok(())
    };
    let mut order = Vec::with_capacity(sources.len());
    // Spare batches for the parts read ahead.
    let mut spare: Vec<Box<dyn Any>> = vec![];
    while ordered && live[0] {
        link.check()?;
        if crate::exec::driver::stopped(env.opts) {
            live[0] = false;
            break;
        }
        barrier(&mut g, &mut link, &mut outs, &sources, None)?;
        // Read the next part (parsing beside the other workers), then wait until every part
        // before it is processed.
        let mut next = Ahead::at(sources[0].as_ref());
        shared.at[me].store(next.part, SeqCst);
        while !next.read {
            next.read_batch(
                sources[0].as_mut(),
                &mut spare,
                &mut live[0],
                env.opts.batch_size,
            )?;
        }
        if next.part == u64::MAX {
            // The share was read to its end already: nothing to process.
            spare.append(&mut next.batches);
            continue;
        }
        while !shared.before_done(me, next.part) {
            link.check()?;
            barrier(&mut g, &mut link, &mut outs, &sources, Some(&next.at))?;
            link.serve(&mut g, Duration::from_micros(50))?;
            drain(&mut g, &mut outs)?;
        }
        // Whatever the parts before this one sent is here: take it in first.
        link.receive(&mut g);
        link.flush(&mut g)?;
        let start = shared
            .prefix
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if start.part.is_some() {
            g.seed_watermarks(&start.states)?;
        }
        for mut b in next.batches.drain(..) {
            g.push_batch(0, b.as_mut());
            spare.push(b);
            g.advance_processing_time(now_millis());
            link.flush(&mut g)?;
            link.receive(&mut g);
            drain(&mut g, &mut outs)?;
        }
        let states = g.watermark_states()?;
        *shared.prefix.lock().unwrap_or_else(|p| p.into_inner()) = Prefix {
            part: Some(next.part),
            states,
        };
        link.shared.read[me].store(sources[0].stats().records, SeqCst);
        if env.budget.is_some() {
            link.shared.state[me].store(g.state_bytes(), SeqCst);
        }
        meter.round(&g, &sources, &[], false);
        meter.queue_depth(shared.inflight.load(SeqCst).max(0) as usize);
    }
    if ordered {
        // The end of the input is the end of every worker's share.
        shared.at[me].store(u64::MAX, SeqCst);
        while !shared.before_done(me, u64::MAX - 1) || shared.inflight.load(SeqCst) != 0 {
            link.check()?;
            barrier(&mut g, &mut link, &mut outs, &sources, None)?;
            link.serve(&mut g, Duration::from_micros(50))?;
            drain(&mut g, &mut outs)?;
        }
        link.receive(&mut g);
        g.input_watermark(0, MAX_WATERMARK);
        link.flush(&mut g)?;
        drain(&mut g, &mut outs)?;
    }
    let any_live = sources.iter().any(|s| s.is_live());
    let mut idleness = crate::exec::driver::Idleness::new(sources.len(), env.opts.idle_timeout);
    while live.iter().any(|&l| l) {
        link.check()?;
        barrier(&mut g, &mut link, &mut outs, &sources, None)?;
        crate::exec::driver::to_read(&sources, &live, &mut order);
        let mut got = 0;
        for &port in &order {
            let src = &mut sources[port];
            let before = src.stats().records;
            let more = src.read_batch(batches[port].as_mut(), env.opts.batch_size.max(1))?;
            let n = src.stats().records - before;
            got += n;
            idleness.read(&mut g, port, &**src, n);
            g.push_batch(port, batches[port].as_mut());
            if !more {
                live[port] = false;
                g.input_watermark(port, MAX_WATERMARK);
            }
        }
        idleness.check(&mut g, &sources, &live);
        if got == 0 && any_live {
            // Live inputs with nothing new: serve the exchange a little instead of spinning.
            link.serve(&mut g, Duration::from_millis(2))?;
        }
        g.advance_processing_time(now_millis());
        link.flush(&mut g)?;
        link.receive(&mut g);
        drain(&mut g, &mut outs)?;
        let read: u64 = sources.iter().map(|s| s.stats().records).sum();
        link.shared.read[me].store(read, SeqCst);
        if env.budget.is_some() {
            link.shared.state[me].store(g.state_bytes(), SeqCst);
        }
        meter.round(&g, &sources, &[], false);
        meter.queue_depth(shared.inflight.load(SeqCst).max(0) as usize);
        if crate::exec::driver::stopped(env.opts) {
            for (port, l) in live.iter_mut().enumerate() {
                if std::mem::take(l) {
                    g.input_watermark(port, MAX_WATERMARK);
                }
            }
        }
    }
    link.flush(&mut g)?;
    link.shared.active.fetch_sub(1, SeqCst);
    let mut said_done = false;
    while !link.shared.exit.load(SeqCst) {
        barrier(&mut g, &mut link, &mut outs, &sources, None)?;
        let done = link.serve(&mut g, Duration::from_millis(1))?;
        drain(&mut g, &mut outs)?;
        if done && !said_done {
            said_done = true;
            out.send(ToSinks::Done).map_err(|_| stopped())?;
        }
    }
    meter.round(&g, &sources, &[], true);
    meter.finish();
    Ok(WorkerSummary {
        inputs: sources
            .iter()
            .map(|s| (s.name().to_string(), s.stats()))
            .collect(),
        late: g.late_dropped(),
        evicted,
    })
}
