//! Pipeline: the threads and channels. A capture thread reads sources into batches, decoding each frame
//! as it lands, and sends them over a bounded crossbeam channel to the classifier (a [`Tracker`], or
//! several sharded by address pair); emptied batches go back on a second channel to be refilled, so
//! buffers are recycled rather than allocated per batch.
//!
//! Offline, the channel applies back-pressure: the reader waits for the classifier and nothing is ever
//! dropped. Several files make one merged analysis: they share one flow table, in the order given.

use std::path::PathBuf;
use std::sync::Arc;
use std::thread;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};

use crate::aggregate::Aggregate;
use crate::capture::savefile::{Recorder, SaveReport, WriteOptions};
use crate::capture::{
    Batch, CaptureError, FileSource, LiveCounters, LiveSource, PacketSource, SourceCounters,
};
use crate::catalog::Catalog;
use crate::report::live::Tick;
use crate::report::{InputReport, LiveHealth};
use crate::tracker::{shard_of, FlowSink, SharedSink, Tracker, TrackerConfig};

/// Batches in flight between the capture thread and the classifier.
pub const CHANNEL_BATCHES: usize = 8;

/// Options of an offline analysis.
pub struct AnalyzeOptions {
    pub tracker: TrackerConfig,
    /// Classifier workers (threads), sharded by address pair; 1 keeps everything on one thread.
    pub workers: usize,
    pub filter: Option<String>,
    pub flows: Option<FlowSink>,
    pub progress: bool,
}

/// What an analysis produced.
pub struct Analysis {
    pub aggregate: Aggregate,
    pub inputs: Vec<InputReport>,
    /// Set when writing flow records failed.
    pub flow_log_error: Option<String>,
}

enum Event {
    Batch(Batch),
    End {
        input: usize,
        counters: SourceCounters,
        link_types: Vec<String>,
        error: Option<CaptureError>,
    },
}

/// Analyses capture files into one merged aggregate.
pub fn analyze_files(catalog: Arc<Catalog>, paths: &[PathBuf], opts: AnalyzeOptions) -> Analysis {
    let (tx, rx) = bounded::<Event>(CHANNEL_BATCHES);
    let (recycle_tx, recycle_rx) = bounded::<Batch>(CHANNEL_BATCHES + 2);
    let progress = opts.progress.then(|| progress_bar(paths));
    let reader = {
        let paths = paths.to_vec();
        let filter = opts.filter.clone();
        let progress = progress.clone();
        thread::Builder::new()
            .name("svcscope-capture".into())
            .spawn(move || {
                read_files(
                    &paths,
                    filter.as_deref(),
                    &tx,
                    &recycle_rx,
                    progress.as_ref(),
                )
            })
            .expect("spawning the capture thread")
    };

    // Each worker holds its share of every cap (`Tracker::with_share`): at least one flow each.
    let workers = opts.workers.max(1).min(opts.tracker.max_flows.max(1));
    let mut inputs: Vec<InputReport> = paths
        .iter()
        .map(|p| InputReport {
            path: p.display().to_string(),
            link_types: Vec::new(),
            packets: 0,
            filtered: 0,
            error: None,
        })
        .collect();
    let mut ends = Vec::new();
    let (aggregate, flow_log_error) = if workers == 1 {
        let mut tracker = Tracker::new(catalog, &opts.tracker, opts.flows);
        for event in rx.iter() {
            match event {
                Event::Batch(b) => {
                    tracker.batch(&b);
                    let _ = recycle_tx.try_send(b);
                }
                end => ends.push(end),
            }
        }
        tracker.finish()
    } else {
        run_workers(
            catalog,
            &opts.tracker,
            opts.flows,
            workers,
            (&rx, &recycle_tx),
            &mut ends,
        )
    };
    for end in ends {
        if let Event::End {
            input,
            counters,
            link_types,
            error,
        } = end
        {
            inputs[input].link_types = link_types;
            inputs[input].packets = counters.packets;
            inputs[input].filtered = counters.filtered;
            inputs[input].error = error.map(|e| e.message);
        }
    }
    // The reader only ends by finishing its inputs; a panic there is a bug worth surfacing.
    reader.join().expect("capture thread panicked");
    if let Some(p) = progress {
        p.finish_and_clear();
    }
    Analysis {
        aggregate,
        inputs,
        flow_log_error,
    }
}

/// Runs `workers` trackers on their own threads. This thread shards each batch — the positions of
/// each worker's packets, by [`shard_of`] — and sends every worker the shared batch with its
/// positions. The workers' aggregates merge at the end.
fn run_workers(
    catalog: Arc<Catalog>,
    config: &TrackerConfig,
    flows: Option<FlowSink>,
    workers: usize,
    (rx, recycle): (&Receiver<Event>, &Sender<Batch>),
    ends: &mut Vec<Event>,
) -> (Aggregate, Option<String>) {
    let shared = flows.map(|f| SharedSink(Arc::new(std::sync::Mutex::new(f))));
    let mut senders = Vec::new();
    let mut handles = Vec::new();
    for shard in 0..workers {
        let (tx, wrx) = bounded::<(Arc<Batch>, Vec<u32>)>(CHANNEL_BATCHES);
        senders.push(tx);
        let catalog = catalog.clone();
        let config = config.clone();
        let sink: Option<FlowSink> = shared.clone().map(|s| Box::new(s) as FlowSink);
        let recycle = recycle.clone();
        handles.push(
            thread::Builder::new()
                .name(format!("svcscope-worker-{shard}"))
                .spawn(move || {
                    let mut tracker = Tracker::with_share(catalog, &config, sink, workers);
                    for (b, positions) in wrx.iter() {
                        tracker.batch_part(&b, &positions);
                        // The last worker done with a batch gives it back to be refilled.
                        if let Some(b) = Arc::into_inner(b) {
                            let _ = recycle.try_send(b);
                        }
                    }
                    tracker.finish()
                })
                .expect("spawning a classifier worker"),
        );
    }
    for event in rx.iter() {
        match event {
            Event::Batch(mut b) => {
                // Sources decode as they fill; the shards below need every frame decoded.
                b.decode();
                let mut parts = vec![Vec::new(); workers];
                for (i, parsed) in b.parsed.iter().enumerate() {
                    let (_, frame) = b.frame(i);
                    parts[shard_of(&parsed.attach(frame), workers)].push(i as u32);
                }
                let b = Arc::new(b);
                for (tx, positions) in senders.iter().zip(parts) {
                    if !positions.is_empty() {
                        let _ = tx.send((b.clone(), positions));
                    }
                }
            }
            end => ends.push(end),
        }
    }
    drop(senders);
    let mut merged = Aggregate::default();
    let mut error = None;
    for h in handles {
        let (agg, e) = h.join().expect("classifier worker panicked");
        merged.merge(&agg);
        error = error.or(e);
    }
    (merged, error)
}

fn read_files(
    paths: &[PathBuf],
    filter: Option<&str>,
    tx: &Sender<Event>,
    recycle: &Receiver<Batch>,
    progress: Option<&indicatif::ProgressBar>,
) {
    let mut done_bytes = 0u64;
    for (input, path) in paths.iter().enumerate() {
        let mut source = match FileSource::open(path, filter) {
            Ok(s) => s,
            Err(e) => {
                let _ = tx.send(Event::End {
                    input,
                    counters: SourceCounters::default(),
                    link_types: Vec::new(),
                    error: Some(e),
                });
                continue;
            }
        };
        let error = pump(&mut source, input, tx, recycle, |c| {
            if let Some(p) = progress {
                p.set_position(done_bytes + c.file_bytes);
            }
        });
        let counters = source.counters();
        done_bytes += std::fs::metadata(path)
            .map(|m| m.len())
            .unwrap_or(counters.file_bytes);
        let link_types = source.link_types();
        if tx
            .send(Event::End {
                input,
                counters,
                link_types,
                error,
            })
            .is_err()
        {
            return;
        }
    }
}

/// Moves every batch of one source into the channel (blocking: back-pressure). Returns the source's
/// error, if it ended with one.
fn pump(
    source: &mut dyn PacketSource,
    input: usize,
    tx: &Sender<Event>,
    recycle: &Receiver<Batch>,
    mut on_batch: impl FnMut(&SourceCounters),
) -> Option<CaptureError> {
    loop {
        let mut batch = recycle.try_recv().unwrap_or_default();
        batch.clear();
        batch.input = input;
        batch.link = None;
        let result = source.fill(&mut batch);
        if !batch.packets.is_empty() && tx.send(Event::Batch(batch)).is_err() {
            return None;
        }
        on_batch(&source.counters());
        match result {
            Ok(true) => continue,
            Ok(false) => return None,
            Err(e) => return Some(e),
        }
    }
}

fn progress_bar(paths: &[PathBuf]) -> indicatif::ProgressBar {
    let total: u64 = paths
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(total),
        indicatif::ProgressDrawTarget::stderr(),
    );
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {bytes}/{total_bytes} {wide_bar} {bytes_per_sec} eta {eta}",
        )
        .expect("valid template"),
    );
    bar
}

// ---- live capture ------------------------------------------------------------------------------------

/// Options of a live capture run.
pub struct LiveRunOptions {
    pub tracker: TrackerConfig,
    pub flows: Option<FlowSink>,
    /// Stop after this many packets (after the filter).
    pub count: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Report every so often (the callback of [`capture_live`]).
    pub interval: Option<Duration>,
    pub write: Option<WriteOptions>,
    /// Set (by a signal handler) to stop the capture cleanly.
    pub stop: Arc<AtomicBool>,
}

/// What a live run produced.
pub struct LiveResult {
    pub aggregate: Aggregate,
    pub input: InputReport,
    pub live: LiveHealth,
    pub flow_log_error: Option<String>,
    /// What `--write` saved and lost.
    pub saved: Option<SaveReport>,
}

enum LiveEvent {
    Batch(Batch),
    Stats(LiveCounters, u64),
    End {
        counters: SourceCounters,
        live: LiveCounters,
        dropped: u64,
        saved: Option<SaveReport>,
        error: Option<CaptureError>,
    },
}

/// How often the capture thread sends a partly filled batch (latency bound of live reports).
const LIVE_FLUSH: Duration = Duration::from_millis(100);

/// Runs a live capture on an opened source until `count`, `duration`, `stop` or an error; calls
/// `tick` every `interval`. The capture thread never blocks on the classifier: when the channel is
/// full, the batch is dropped and counted.
///
/// `before_read` runs once everything that may need privileges is open (the interface, the first
/// savefile) and before any packet is parsed: the place to drop root.
pub fn capture_live(
    catalog: Arc<Catalog>,
    mut source: LiveSource,
    mut opts: LiveRunOptions,
    before_read: impl FnOnce() -> Result<(), String>,
    mut tick: impl FnMut(&Tick<'_>),
) -> Result<LiveResult, CaptureError> {
    let writer = match opts.write.take() {
        Some(w) => {
            let path = w.path.display().to_string();
            Some(
                Recorder::create(w, source.save_format()).map_err(|e| CaptureError {
                    input: path,
                    message: format!("cannot write capture file: {e}"),
                })?,
            )
        }
        None => None,
    };
    before_read().map_err(|message| CaptureError {
        input: source.name().to_string(),
        message,
    })?;
    let (tx, rx) = bounded::<LiveEvent>(CHANNEL_BATCHES * 4);
    let (recycle_tx, recycle_rx) = bounded::<Batch>(CHANNEL_BATCHES * 4 + 2);
    let interface = source.name().to_string();
    let link = source.link_type();
    let stop = opts.stop.clone();
    let (count, duration) = (opts.count, opts.duration);
    let started = Instant::now();
    let reader = thread::Builder::new()
        .name("svcscope-capture".into())
        .spawn(move || {
            live_reader(
                &mut source,
                writer,
                &tx,
                &recycle_rx,
                &stop,
                count,
                duration,
                started,
            )
        })
        .map_err(|e| CaptureError {
            input: interface.clone(),
            message: format!("cannot start the capture thread: {e}"),
        })?;

    let mut tracker = Tracker::new(catalog, &opts.tracker, opts.flows.take());
    if opts.interval.is_some() {
        tracker.count_intervals();
    }
    let mut live = LiveHealth {
        interface: interface.clone(),
        ..LiveHealth::default()
    };
    let mut last_tick = Instant::now();
    let mut end = None;
    while end.is_none() {
        let wait = match opts.interval {
            Some(i) => i.saturating_sub(last_tick.elapsed()),
            None => Duration::from_secs(3600),
        };
        match rx.recv_timeout(wait) {
            Ok(LiveEvent::Batch(b)) => {
                tracker.batch(&b);
                let _ = recycle_tx.try_send(b);
            }
            Ok(LiveEvent::Stats(c, dropped)) => set_live(&mut live, c, dropped),
            Ok(e @ LiveEvent::End { .. }) => end = Some(e),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if let Some(i) = opts.interval {
            if last_tick.elapsed() >= i {
                let interval = last_tick.elapsed();
                last_tick = Instant::now();
                let counters = tracker.take_interval();
                let snapshot = tracker.snapshot();
                tick(&Tick {
                    elapsed: started.elapsed(),
                    interval,
                    counters: &counters,
                    snapshot: &snapshot,
                    active_flows: tracker.active_flows(),
                    live: &live,
                });
            }
        }
    }
    reader.join().expect("capture thread panicked");
    let mut input = InputReport {
        path: interface,
        link_types: vec![link.name()],
        packets: 0,
        filtered: 0,
        error: None,
    };
    let mut saved = None;
    if let Some(LiveEvent::End {
        counters,
        live: c,
        dropped,
        saved: s,
        error,
    }) = end
    {
        set_live(&mut live, c, dropped);
        input.packets = counters.packets;
        input.error = error.map(|e| e.to_string());
        saved = s;
    }
    let (aggregate, flow_log_error) = tracker.finish();
    Ok(LiveResult {
        aggregate,
        input,
        live,
        flow_log_error,
        saved,
    })
}

fn set_live(live: &mut LiveHealth, c: LiveCounters, dropped: u64) {
    live.received = c.received;
    live.set_drops(c.dropped, c.if_dropped, dropped);
}

#[allow(clippy::too_many_arguments)]
fn live_reader(
    source: &mut LiveSource,
    mut writer: Option<Recorder>,
    tx: &Sender<LiveEvent>,
    recycle: &Receiver<Batch>,
    stop: &AtomicBool,
    count: Option<u64>,
    duration: Option<Duration>,
    started: Instant,
) {
    let link = source.link_type();
    let fresh = |recycle: &Receiver<Batch>| {
        let mut b = recycle.try_recv().unwrap_or_default();
        b.clear();
        b.link = Some(link);
        b
    };
    let mut batch = fresh(recycle);
    let mut dropped = 0u64;
    let mut last_flush = Instant::now();
    let mut last_stats = Instant::now();
    let mut error = None;
    // Set when the classifier is gone (it panicked): the savefile is still finished.
    let mut gone = false;
    loop {
        if stop.load(Ordering::Relaxed)
            || count.is_some_and(|n| source.counters().packets >= n)
            || duration.is_some_and(|d| started.elapsed() >= d)
        {
            break;
        }
        // The savefile sees every packet before it is counted, so a run can be re-analysed.
        let read = match &mut writer {
            Some(w) => source.read_one(&mut batch, &mut |ts, len, data| w.write(ts, len, data)),
            None => source.read_one(&mut batch, &mut |_, _, _| {}),
        };
        if let Err(e) = read {
            error = Some(e);
            break;
        }
        if batch.is_full() || (!batch.packets.is_empty() && last_flush.elapsed() >= LIVE_FLUSH) {
            last_flush = Instant::now();
            let n = batch.packets.len() as u64;
            match tx.try_send(LiveEvent::Batch(batch)) {
                Ok(()) => batch = fresh(recycle),
                Err(TrySendError::Full(LiveEvent::Batch(mut b))) => {
                    dropped += n;
                    b.clear();
                    batch = b;
                }
                Err(_) => {
                    gone = true;
                    batch = Batch::default();
                    break;
                }
            }
        }
        if last_stats.elapsed() >= Duration::from_secs(1) {
            last_stats = Instant::now();
            let _ = tx.try_send(LiveEvent::Stats(source.live_counters(), dropped));
        }
    }
    if !gone && !batch.packets.is_empty() {
        gone = tx.send(LiveEvent::Batch(batch)).is_err();
    }
    let saved = writer.map(Recorder::finish);
    if gone {
        return;
    }
    let _ = tx.send(LiveEvent::End {
        counters: source.counters(),
        live: source.live_counters(),
        dropped,
        saved,
        error,
    });
}
