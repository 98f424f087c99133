//! Pipeline: the threads and channels, one driver for capture files and live interfaces.
//!
//! ```text
//!  capture thread ──(shard by address pair)──▶ worker 0 (Tracker) ──┐
//!  source → Batch  ├─────────────────────────▶ worker 1 (Tracker) ──┼─▶ merge ─▶ Aggregate
//!  (decoded)       └─────────────────────────▶ worker N-1 (Tracker) ┘
//!        │ input ends, live counters                     ▲ interval ticks (live)
//!        └─────────────────────────────▶ driver (the calling thread)
//! ```
//!
//! The capture thread reads a source (capture files in turn, or a live interface) into batches,
//! decoding each frame as it lands, and hands each batch to its [`Feed`]: with one worker the whole
//! batch goes to it; with several, the feed works out the worker of each packet by
//! [`shard_batch`](crate::tracker::shard_batch) (a symmetric hash of its address pair) and sends every
//! worker the shared batch (`Arc<Batch>`): each classifies its own packets, and its flow table's
//! clock follows the others' so that flows end as they would with one worker. Each worker's
//! queue is bounded; what happens when one is full is the source's policy, [`WhenFull`]: capture
//! files wait (back-pressure: nothing is ever lost), a live capture drops that worker's packets of
//! the batch and counts them (`dropped_by_svcscope`), so the capture thread never waits for a
//! classifier. Emptied batches go back on a recycling channel to be refilled, so buffers are reused
//! rather than allocated per batch.
//!
//! Live with `capture --sockets N` (a Linux PACKET_FANOUT group, [`crate::capture::fanout`]) there
//! are N capture threads, one a socket, and worker `w` belongs to socket `w % N`: each thread
//! shards its batches over its own workers only, whose flow-table clocks follow that socket's
//! packets. The kernel already split the traffic by address pair, so what the workers' sharding
//! guarantees (a pair in one worker) still holds. The threads share the stop, the `--count` and
//! the end: when one ends, all do.
//!
//! The driver collects the end of each input and the live counters (summed over the sockets), asks every worker for its
//! interval counters and a snapshot at each live `--interval`, and at the end merges the workers'
//! aggregates. Several files make one merged analysis: they share the workers' flow tables, in the
//! order given.

use std::path::PathBuf;
use std::sync::Arc;
use std::thread;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};

use crate::aggregate::{Aggregate, IntervalCounters};
use crate::capture::savefile::{Recorder, SaveReport, WriteOptions};
use crate::capture::{
    Batch, CaptureError, FileSource, Filters, LiveCounters, LiveSource, PacketSource,
    SourceCounters,
};
use crate::catalog::Catalog;
use crate::decode::LinkType;
use crate::flow::FlowSink;
use crate::report::live::Tick;
use crate::report::{InputReport, LiveHealth};
use crate::time::Ts;
use crate::tracker::{shard_batch, Tracker, TrackerConfig};

/// Batches a capture file may have in flight towards the classifier (see [`queue_per_worker`]).
pub const CHANNEL_BATCHES: usize = 8;
/// Batches a live capture may have in flight: more, to absorb bursts rather than drop them.
pub const LIVE_BATCHES: usize = CHANNEL_BATCHES * 4;

/// At most this many classifier workers (a batch names each packet's worker in a byte).
pub const MAX_WORKERS: usize = 64;

/// What the capture thread does when a worker's queue is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhenFull {
    /// Wait for the worker (capture files: back-pressure, nothing is lost).
    Wait,
    /// Drop the worker's packets of the batch and count them (live: the capture never waits).
    Drop,
}

/// The capacity of each worker's queue for `total` batches in flight: `total` with one or two
/// workers; with more, fewer each, so that about `2 × total` batches are in flight when traffic
/// spreads over the workers (every batch then sits in every queue), and never more than
/// `2 × max(total, workers)` however it is skewed.
pub fn queue_per_worker(total: usize, workers: usize) -> usize {
    (total * 2 / workers.max(1)).clamp(2, total.max(2))
}

/// Work for one classifier worker.
enum Work {
    /// A shared batch; with several workers, [`Batch::owners`] says which packets are this one's.
    Batch(Arc<Batch>),
    /// An interval report is due: the worker answers with its part.
    Tick(Sender<Gathered>),
    /// A snapshot is asked for (the metrics endpoint): the worker answers with its part, leaving
    /// its interval counters to the next tick.
    Snapshot(Sender<Gathered>),
}

/// What the workers have at an interval tick (one worker's, or all of them merged).
#[derive(Default)]
struct Gathered {
    counters: IntervalCounters,
    snapshot: Aggregate,
    active_flows: usize,
}

impl Gathered {
    fn merge(&mut self, o: &Gathered) {
        self.counters.merge(&o.counters);
        self.snapshot.merge(&o.snapshot);
        self.active_flows += o.active_flows;
    }
}

/// Live: libpcap's counters and the packets dropped by svcscope.
type LiveTotals = (LiveCounters, u64);

/// The live counters of several sockets as one: packets received and dropped add up; the
/// interface's drops are the interface's, which every socket reads, so the largest is taken.
/// `None` while no socket has reported.
fn sum_live(parts: &[Option<LiveTotals>]) -> Option<LiveTotals> {
    parts.iter().flatten().fold(None, |all, &(c, dropped)| {
        let (a, d) = all.unwrap_or_default();
        Some((
            LiveCounters {
                received: a.received + c.received,
                dropped: a.dropped + c.dropped,
                if_dropped: a.if_dropped.max(c.if_dropped),
            },
            d + dropped,
        ))
    })
}

/// What a capture thread tells the driver besides batches.
enum Control {
    /// Live: a socket's libpcap counters and the packets dropped by svcscope so far.
    Health(usize, LiveCounters, u64),
    /// An input ended.
    End(InputEnd),
}

/// The end of one input.
struct InputEnd {
    /// The file's position among the inputs; live: the socket's.
    input: usize,
    counters: SourceCounters,
    link_types: Vec<String>,
    error: Option<CaptureError>,
    /// Live: libpcap's counters at the end and the packets dropped by svcscope.
    live: Option<LiveTotals>,
    /// Live with `--write`: what was saved.
    saved: Option<SaveReport>,
}

/// The workers are gone (one panicked): nothing more can be classified.
#[derive(Debug)]
struct WorkersGone;

/// The capture thread's end of the pipeline: shards batches to the workers under the source's
/// [`WhenFull`] policy, recycles emptied batches and reports input ends and live counters.
struct Feed {
    /// This capture thread's workers (all of them, but with `capture --sockets`).
    workers: Vec<Sender<Work>>,
    /// Live: which socket's capture thread this is.
    socket: usize,
    control: Sender<Control>,
    recycle: Receiver<Batch>,
    when_full: WhenFull,
    /// Packets left unclassified because a worker's queue was full (only with [`WhenFull::Drop`]).
    dropped: u64,
}

impl Feed {
    /// An empty batch to fill: `spare` (one no worker kept), else a recycled one, else a new one.
    fn batch(&self, spare: Option<Batch>) -> Batch {
        let mut b = spare
            .or_else(|| self.recycle.try_recv().ok())
            .unwrap_or_default();
        b.clear();
        b
    }

    /// Sends a batch to the workers, each its shard, under the feed's policy. Returns the batch when
    /// no worker kept it (all its packets dropped, or the workers were done with it first), to be
    /// refilled.
    fn send(&mut self, batch: Batch) -> Result<Option<Batch>, WorkersGone> {
        self.send_with(batch, self.when_full)
    }

    fn send_with(
        &mut self,
        mut batch: Batch,
        when_full: WhenFull,
    ) -> Result<Option<Batch>, WorkersGone> {
        let n = self.workers.len();
        // Every worker gets every sharded batch, its own packets or not: its flow table's clock
        // follows all of them.
        let counts = if n == 1 {
            vec![batch.packets.len() as u64]
        } else {
            shard_batch(&mut batch, n)
        };
        let batch = Arc::new(batch);
        for (tx, packets) in self.workers.iter().zip(counts) {
            let work = Work::Batch(batch.clone());
            match when_full {
                WhenFull::Wait => tx.send(work).map_err(|_| WorkersGone)?,
                WhenFull::Drop => match tx.try_send(work) {
                    Ok(()) => {}
                    Err(TrySendError::Full(_)) => self.dropped += packets,
                    Err(TrySendError::Disconnected(_)) => return Err(WorkersGone),
                },
            }
        }
        // Whoever lets go of the batch last (this thread or a worker) has it refilled.
        Ok(Arc::into_inner(batch))
    }

    /// Tells the driver an input ended.
    fn end(&self, end: InputEnd) {
        // The driver listens until this thread is done.
        let _ = self.control.send(Control::End(end));
    }

    /// Tells the driver the live counters, unless it is busy (they are sent again soon).
    fn health(&self, c: LiveCounters) {
        let _ = self
            .control
            .try_send(Control::Health(self.socket, c, self.dropped));
    }
}

/// One worker: classifies its packets of each batch until the capture thread is done.
fn work(tracker: &mut Tracker, me: usize, rx: &Receiver<Work>, recycle: &Sender<Batch>) {
    for work in rx.iter() {
        match work {
            Work::Batch(b) => {
                tracker.batch_shard(&b, me);
                if let Some(b) = Arc::into_inner(b) {
                    let _ = recycle.try_send(b);
                }
            }
            Work::Tick(reply) => {
                let _ = reply.send(Gathered {
                    counters: tracker.take_interval(),
                    snapshot: tracker.snapshot(),
                    active_flows: tracker.active_flows(),
                });
            }
            Work::Snapshot(reply) => {
                let _ = reply.send(Gathered {
                    counters: IntervalCounters::default(),
                    snapshot: tracker.snapshot(),
                    active_flows: tracker.active_flows(),
                });
            }
        }
    }
}

/// Every worker's interval counters and snapshot, merged (a worker that is gone adds nothing).
fn gather(workers: &[Sender<Work>]) -> Gathered {
    gather_with(workers, Work::Tick)
}

/// Every worker's answer to `ask`, merged.
fn gather_with(workers: &[Sender<Work>], ask: fn(Sender<Gathered>) -> Work) -> Gathered {
    let (tx, rx) = bounded(workers.len());
    let asked = workers
        .iter()
        .filter(|w| w.send(ask(tx.clone())).is_ok())
        .count();
    drop(tx);
    let mut parts = rx.iter().take(asked);
    match (workers.len(), parts.next()) {
        // One worker's counters are the result as they are; several merge.
        (1, Some(one)) => one,
        (_, first) => {
            let mut all = Gathered::default();
            for part in first.into_iter().chain(parts) {
                all.merge(&part);
            }
            all
        }
    }
}

/// How [`drive`] runs the classifier side of the pipeline.
struct Drive<'a> {
    catalog: Arc<Catalog>,
    config: &'a TrackerConfig,
    workers: usize,
    flows: Option<Box<dyn FlowSink>>,
    when_full: WhenFull,
    /// Batches in flight (see [`queue_per_worker`]).
    queue: usize,
    /// Live: how often to call `on_tick`.
    interval: Option<Duration>,
    /// Live: requests for a snapshot (each answered by `on_snapshot`).
    snapshots: Option<Receiver<()>>,
}

/// What [`drive`] produced.
struct Driven {
    aggregate: Aggregate,
    ends: Vec<InputEnd>,
    flow_log_error: Option<String>,
}

/// A capture thread's work: reading its source(s) into its [`Feed`].
type Reader = Box<dyn FnOnce(&mut Feed) + Send + 'static>;

/// Runs the pipeline: each of `readers` on a capture thread of its own with its [`Feed`] (one, but
/// for `capture --sockets`: then worker `w` is reader `w % readers`' and every reader has at least
/// one), the workers on theirs, and this thread collecting input ends and calling `on_tick` every
/// interval (with the workers' counters merged, the length of the interval and the latest live
/// counters, summed over the readers), until the readers return and the workers are done; then
/// their aggregates merge.
fn drive(
    d: Drive<'_>,
    readers: Vec<Reader>,
    on_tick: &mut dyn FnMut(&Gathered, Duration, Option<LiveTotals>),
    on_snapshot: &mut dyn FnMut(&Gathered, Option<LiveTotals>),
) -> std::io::Result<Driven> {
    let groups = readers.len().max(1);
    // Each worker holds its share of every cap (`Tracker::with_share`): at least one flow each.
    let workers = d
        .workers
        .clamp(1, MAX_WORKERS)
        .min(d.config.max_flows.max(1))
        .max(groups);
    let capacity = queue_per_worker(d.queue, workers);
    let (recycle_tx, recycle_rx) = bounded::<Batch>(d.queue * groups + 2);
    let mut flows = d.flows;
    let mut senders = Vec::with_capacity(workers);
    let mut handles = Vec::with_capacity(workers);
    for shard in 0..workers {
        let (tx, rx) = bounded::<Work>(capacity);
        senders.push(tx);
        let catalog = d.catalog.clone();
        let config = d.config.clone();
        // The last worker takes the sink itself, the others forks of it.
        let sink = if shard + 1 < workers {
            flows.as_ref().map(|s| s.fork())
        } else {
            flows.take()
        };
        let recycle = recycle_tx.clone();
        let intervals = d.interval.is_some();
        handles.push(
            thread::Builder::new()
                .name(format!("svcscope-worker-{shard}"))
                .spawn(move || {
                    let mut tracker = Tracker::with_share(catalog, &config, sink, workers);
                    if intervals {
                        tracker.count_intervals();
                    }
                    // Its position among its capture thread's workers.
                    work(&mut tracker, shard / groups, &rx, &recycle);
                    tracker.finish()
                })?,
        );
    }
    drop(recycle_tx);
    let (control_tx, control_rx) = bounded::<Control>(64);
    let mut threads = Vec::with_capacity(groups);
    for (socket, read) in readers.into_iter().enumerate() {
        let mut feed = Feed {
            workers: senders
                .iter()
                .skip(socket)
                .step_by(groups)
                .cloned()
                .collect(),
            socket,
            control: control_tx.clone(),
            recycle: recycle_rx.clone(),
            when_full: d.when_full,
            dropped: 0,
        };
        let name = if groups == 1 {
            "svcscope-capture".to_string()
        } else {
            format!("svcscope-capture-{socket}")
        };
        threads.push(
            thread::Builder::new()
                .name(name)
                .spawn(move || read(&mut feed))?,
        );
    }
    // The readers hold the only senders: the control channel ends when the last reader is done.
    drop(control_tx);
    drop(recycle_rx);

    let mut ends = Vec::new();
    let mut health = vec![None; groups];
    let mut last_tick = Instant::now();
    let mut snapshots = d.snapshots.unwrap_or_else(crossbeam_channel::never);
    loop {
        let wait = d.interval.map_or(Duration::from_secs(3600), |i| {
            i.saturating_sub(last_tick.elapsed())
        });
        let control = crossbeam_channel::select! {
            recv(control_rx) -> c => c.map_err(|_| RecvTimeoutError::Disconnected),
            recv(snapshots) -> asked => {
                match asked {
                    Ok(()) => on_snapshot(&gather_with(&senders, Work::Snapshot), sum_live(&health)),
                    // Nobody asks any more.
                    Err(_) => snapshots = crossbeam_channel::never(),
                }
                Err(RecvTimeoutError::Timeout)
            }
            default(wait) => Err(RecvTimeoutError::Timeout),
        };
        match control {
            Ok(Control::Health(socket, c, dropped)) => {
                if let Some(h) = health.get_mut(socket) {
                    *h = Some((c, dropped));
                }
            }
            Ok(Control::End(e)) => {
                if let (Some(h), Some(live)) = (health.get_mut(e.input), e.live) {
                    *h = Some(live);
                }
                ends.push(e);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if let Some(i) = d.interval {
            if last_tick.elapsed() >= i {
                let interval = last_tick.elapsed();
                last_tick = Instant::now();
                on_tick(&gather(&senders), interval, sum_live(&health));
            }
        }
    }
    // The capture threads are done and have dropped their senders: the workers end once these go
    // too.
    drop(senders);
    // A reader only ends by finishing its inputs; a panic there is a bug worth surfacing.
    for reader in threads {
        reader.join().expect("capture thread panicked");
    }
    let mut aggregate = None;
    let mut flow_log_error = None;
    for h in handles {
        let (agg, e) = h.join().expect("classifier worker panicked");
        flow_log_error = flow_log_error.or(e);
        match &mut aggregate {
            // One worker's aggregate is the result as it is; several merge into one with the
            // process-wide caps.
            None if workers == 1 => aggregate = Some(agg),
            None => {
                let mut all = Aggregate::default();
                all.merge(&agg);
                aggregate = Some(all);
            }
            Some(all) => all.merge(&agg),
        }
    }
    let aggregate = aggregate.unwrap_or_default();
    Ok(Driven {
        aggregate,
        ends,
        flow_log_error,
    })
}

// ---- capture files ------------------------------------------------------------------------------------

/// Options of an offline analysis.
pub struct AnalyzeOptions {
    pub tracker: TrackerConfig,
    /// Classifier workers (threads), sharded by address pair; 1 keeps them all on one thread.
    pub workers: usize,
    pub filter: Option<String>,
    pub flows: Option<Box<dyn FlowSink>>,
    pub progress: bool,
}

/// What an analysis produced.
pub struct Analysis {
    pub aggregate: Aggregate,
    pub inputs: Vec<InputReport>,
    /// Set when writing flow records failed.
    pub flow_log_error: Option<String>,
}

/// The order in which inputs are read, as mergecap merges them: first what can be read only once
/// (pipes, standard input) in the order given, then capture files by the timestamp of their first
/// packet (ties in the order given), then files whose first packet cannot be read (they fail or
/// are empty when read) in the order given. Rotated captures (`cap.pcap10` given before
/// `cap.pcap2`) are thus read in capture order, and flows continuing from one into the next stay one.
pub fn processing_order(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut keyed: Vec<((u8, Ts), usize)> = paths
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let once = p.as_path() == std::path::Path::new(crate::capture::file::STDIN)
                || std::fs::metadata(p).is_ok_and(|m| !m.is_file() && !m.is_dir());
            let key = match crate::capture::file::first_packet_time(p) {
                _ if once => (0, 0),
                Some(ts) => (1, ts),
                None => (2, 0),
            };
            (key, i)
        })
        .collect();
    keyed.sort();
    keyed.into_iter().map(|(_, i)| paths[i].clone()).collect()
}

/// Analyses capture files into one merged aggregate. Files are read in [`processing_order`], and
/// [`Analysis::inputs`] lists them in that order.
pub fn analyze_files(catalog: Arc<Catalog>, paths: &[PathBuf], opts: AnalyzeOptions) -> Analysis {
    let paths = &processing_order(paths)[..];
    let progress = opts.progress.then(|| progress_bar(paths));
    let read = {
        let paths = paths.to_vec();
        let filter = opts.filter.clone();
        let progress = progress.clone();
        move |feed: &mut Feed| read_files(feed, &paths, filter.as_deref(), progress.as_ref())
    };
    let drive_opts = Drive {
        catalog,
        config: &opts.tracker,
        workers: opts.workers,
        flows: opts.flows,
        when_full: WhenFull::Wait,
        queue: CHANNEL_BATCHES,
        interval: None,
        snapshots: None,
    };
    let driven = drive(
        drive_opts,
        vec![Box::new(read)],
        &mut |_, _, _| {},
        &mut |_, _| {},
    )
    .expect("starting the pipeline threads");
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
    for end in driven.ends {
        let i = &mut inputs[end.input];
        i.link_types = end.link_types;
        i.packets = end.counters.packets;
        i.filtered = end.counters.filtered;
        i.error = end.error.map(|e| e.message);
    }
    if let Some(p) = progress {
        p.finish_and_clear();
    }
    Analysis {
        aggregate: driven.aggregate,
        inputs,
        flow_log_error: driven.flow_log_error,
    }
}

fn read_files(
    feed: &mut Feed,
    paths: &[PathBuf],
    filter: Option<&str>,
    progress: Option<&indicatif::ProgressBar>,
) {
    let mut done_bytes = 0u64;
    // Compiled once per link type for all the files.
    let mut filters = Filters::default();
    for (input, path) in paths.iter().enumerate() {
        let mut source = match FileSource::open_with(path, filter, std::mem::take(&mut filters)) {
            Ok(s) => s,
            Err(e) => {
                feed.end(InputEnd {
                    input,
                    counters: SourceCounters::default(),
                    link_types: Vec::new(),
                    error: Some(e),
                    live: None,
                    saved: None,
                });
                continue;
            }
        };
        let Ok(error) = pump(feed, &mut source, input, |c| {
            if let Some(p) = progress {
                p.set_position(done_bytes + c.file_bytes);
            }
        }) else {
            return;
        };
        filters = source.take_filters();
        let counters = source.counters();
        done_bytes += std::fs::metadata(path)
            .map(|m| m.len())
            .unwrap_or(counters.file_bytes);
        let link_types = source.link_types();
        feed.end(InputEnd {
            input,
            counters,
            link_types,
            error,
            live: None,
            saved: None,
        });
    }
}

/// Feeds every batch of one source to the workers. Returns the source's error, if it ended with one.
fn pump(
    feed: &mut Feed,
    source: &mut dyn PacketSource,
    input: usize,
    mut on_batch: impl FnMut(&SourceCounters),
) -> Result<Option<CaptureError>, WorkersGone> {
    let mut spare = None;
    loop {
        let mut batch = feed.batch(spare.take());
        batch.input = input;
        batch.link = None;
        let result = source.fill(&mut batch);
        spare = if batch.packets.is_empty() {
            Some(batch)
        } else {
            feed.send(batch)?
        };
        on_batch(&source.counters());
        match result {
            Ok(true) => continue,
            Ok(false) => return Ok(None),
            Err(e) => return Ok(Some(e)),
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
    /// Classifier workers (threads), sharded by address pair, as for capture files.
    pub workers: usize,
    pub flows: Option<Box<dyn FlowSink>>,
    /// Stop after this many packets (after the filter).
    pub count: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Report every so often (the callback of [`capture_live`]).
    pub interval: Option<Duration>,
    pub write: Option<WriteOptions>,
    /// Set (by a signal handler) to stop the capture cleanly.
    pub stop: Arc<AtomicBool>,
    /// Snapshots on request (the metrics endpoint).
    pub snapshots: Option<Snapshots>,
}

/// Snapshots of a live capture on request: each message on `requests` asks the workers for their
/// statistics so far (active flows included), merged and handed to `publish` on the driver thread
/// (the workers' interval counters are left to the next `--interval` report).
pub struct Snapshots {
    pub requests: Receiver<()>,
    pub publish: Box<dyn FnMut(&Tick<'_>)>,
}

/// What a live run produced.
pub struct LiveResult {
    pub aggregate: Aggregate,
    pub input: InputReport,
    pub live: LiveHealth,
    pub flow_log_error: Option<String>,
    /// What `--write` saved and lost.
    pub saved: Option<SaveReport>,
    /// Each socket's counters, in the order they joined the fanout group (one with one socket);
    /// `live` has their sum.
    pub sockets: Vec<SocketCounters>,
}

/// One capture socket's counters at the end of a live run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SocketCounters {
    /// libpcap's counters of the socket.
    pub libpcap: LiveCounters,
    /// Packets read from it.
    pub packets: u64,
    /// Of those, packets left unclassified because a worker's queue was full.
    pub dropped_by_svcscope: u64,
}

/// With several sockets: what their capture threads share. Any thread that ends sets `halt`, and
/// the others end too; `taken` counts the packets taken towards `--count`.
#[derive(Default)]
struct Sockets {
    halt: AtomicBool,
    taken: AtomicU64,
}

/// How often the capture thread sends a partly filled batch (latency bound of live reports).
const LIVE_FLUSH: Duration = Duration::from_millis(100);

/// Runs a live capture on opened sources until `count`, `duration`, `stop` or an error; calls
/// `tick` every `interval`. The capture thread never blocks on the classifier: when a worker's queue
/// is full, its packets of the batch are dropped and counted.
///
/// `sources` is one socket, or the sockets of a fanout group
/// ([`open_group`](crate::capture::fanout::open_group)): each then has a capture thread of its own
/// feeding its share of the workers (worker `w` is socket `w % sockets`', at least one each), the
/// run ends for all when it ends for one, and the counters add up. `--write` takes one socket.
///
/// `before_read` runs once everything that may need privileges is open (the interface, the first
/// savefile) and before any packet is parsed: the place to drop root.
pub fn capture_live(
    catalog: Arc<Catalog>,
    mut sources: Vec<LiveSource>,
    mut opts: LiveRunOptions,
    before_read: impl FnOnce() -> Result<(), String>,
    mut tick: impl FnMut(&Tick<'_>),
) -> Result<LiveResult, CaptureError> {
    let Some(first) = sources.first() else {
        return Err(CaptureError {
            input: String::new(),
            message: "no capture socket".into(),
        });
    };
    let interface = first.name().to_string();
    let link = first.link_type();
    let save_format = first.save_format();
    if sources.len() > 1 && opts.write.is_some() {
        return Err(CaptureError {
            input: interface,
            message: "--write takes one capture socket, not --sockets".into(),
        });
    }
    let writer = match opts.write.take() {
        Some(w) => {
            let path = w.path.display().to_string();
            Some(Recorder::create(w, save_format).map_err(|e| CaptureError {
                input: path,
                message: format!("cannot write capture file: {e}"),
            })?)
        }
        None => None,
    };
    before_read().map_err(|message| CaptureError {
        input: interface.clone(),
        message,
    })?;
    let (count, duration) = (opts.count, opts.duration);
    let started = Instant::now();
    let readers: Vec<Reader> = if sources.len() == 1 {
        let mut source = sources.remove(0);
        let stop = opts.stop.clone();
        vec![Box::new(move |feed: &mut Feed| {
            live_reader(feed, &mut source, writer, &stop, count, duration, started)
        })]
    } else {
        let shared = Arc::new(Sockets::default());
        sources
            .into_iter()
            .map(|mut source| {
                let (stop, shared) = (opts.stop.clone(), shared.clone());
                Box::new(move |feed: &mut Feed| {
                    fanout_reader(feed, &mut source, &stop, &shared, count, duration, started)
                }) as Reader
            })
            .collect()
    };
    let socket_count = readers.len();
    let mut live = LiveHealth {
        interface: interface.clone(),
        ..LiveHealth::default()
    };
    let mut on_tick = |g: &Gathered, interval: Duration, health: Option<LiveTotals>| {
        if let Some((c, dropped)) = health {
            set_live(&mut live, c, dropped);
        }
        tick(&Tick {
            elapsed: started.elapsed(),
            interval,
            counters: &g.counters,
            snapshot: &g.snapshot,
            active_flows: g.active_flows,
            live: &live,
        });
    };
    let drive_opts = Drive {
        catalog,
        config: &opts.tracker,
        workers: opts.workers,
        flows: opts.flows.take(),
        when_full: WhenFull::Drop,
        queue: LIVE_BATCHES,
        interval: opts.interval,
        snapshots: opts.snapshots.as_ref().map(|s| s.requests.clone()),
    };
    let mut publish = opts.snapshots.take().map(|s| s.publish);
    let snapshot_interface = interface.clone();
    let mut on_snapshot = |g: &Gathered, health: Option<LiveTotals>| {
        let Some(publish) = &mut publish else {
            return;
        };
        let mut live = LiveHealth {
            interface: snapshot_interface.clone(),
            ..LiveHealth::default()
        };
        if let Some((c, dropped)) = health {
            set_live(&mut live, c, dropped);
        }
        publish(&Tick {
            elapsed: started.elapsed(),
            interval: Duration::ZERO,
            counters: &g.counters,
            snapshot: &g.snapshot,
            active_flows: g.active_flows,
            live: &live,
        });
    };
    let driven =
        drive(drive_opts, readers, &mut on_tick, &mut on_snapshot).map_err(|e| CaptureError {
            input: interface.clone(),
            message: format!("cannot start the capture threads: {e}"),
        })?;
    let mut input = InputReport {
        path: interface,
        link_types: vec![link.name()],
        packets: 0,
        filtered: 0,
        error: None,
    };
    let mut saved = None;
    let mut sockets = vec![SocketCounters::default(); socket_count];
    let mut totals = vec![None; socket_count];
    for end in driven.ends {
        if let Some(socket) = sockets.get_mut(end.input) {
            socket.packets = end.counters.packets;
            if let Some((c, dropped)) = end.live {
                socket.libpcap = c;
                socket.dropped_by_svcscope = dropped;
            }
        }
        if let Some(t) = totals.get_mut(end.input) {
            *t = end.live;
        }
        input.packets += end.counters.packets;
        // The first error ended the run (the other sockets then stopped cleanly).
        input.error = input.error.or(end.error.map(|e| e.to_string()));
        saved = saved.or(end.saved);
    }
    if let Some((c, dropped)) = sum_live(&totals) {
        set_live(&mut live, c, dropped);
    }
    Ok(LiveResult {
        aggregate: driven.aggregate,
        input,
        live,
        flow_log_error: driven.flow_log_error,
        saved,
        sockets,
    })
}

fn set_live(live: &mut LiveHealth, c: LiveCounters, dropped: u64) {
    live.received = c.received;
    live.set_drops(c.dropped, c.if_dropped, dropped);
}

fn live_reader(
    feed: &mut Feed,
    source: &mut LiveSource,
    mut writer: Option<Recorder>,
    stop: &AtomicBool,
    count: Option<u64>,
    duration: Option<Duration>,
    started: Instant,
) {
    let mut filling = Filling::new(feed, source.link_type());
    let mut error = None;
    // Set when the classifier is gone (a worker panicked): the savefile is still finished.
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
            Some(w) => source.read_one(&mut filling.batch, &mut |ts, len, data| {
                w.write(ts, len, data);
                true
            }),
            None => source.read_one(&mut filling.batch, &mut |_, _, _| true),
        };
        if let Err(e) = read {
            error = Some(e);
            break;
        }
        if filling.due(feed, source).is_err() {
            gone = true;
            break;
        }
    }
    gone = gone || filling.finish(feed).is_err();
    let saved = writer.map(Recorder::finish);
    if gone {
        return;
    }
    feed.end(InputEnd {
        input: 0,
        counters: source.counters(),
        link_types: Vec::new(),
        error,
        live: Some((source.live_counters(), feed.dropped)),
        saved,
    });
}

/// A live capture thread's batch being filled: sent when full or [`LIVE_FLUSH`] old, the live
/// counters reported every second (one socket's reader and each of a fanout group's).
struct Filling {
    batch: Batch,
    link: LinkType,
    last_flush: Instant,
    last_stats: Instant,
}

impl Filling {
    fn new(feed: &Feed, link: LinkType) -> Filling {
        let mut batch = feed.batch(None);
        batch.link = Some(link);
        Filling {
            batch,
            link,
            last_flush: Instant::now(),
            last_stats: Instant::now(),
        }
    }

    /// After a read: sends the batch if it is due, and the live counters once a second.
    fn due(&mut self, feed: &mut Feed, source: &mut LiveSource) -> Result<(), WorkersGone> {
        let batch = &self.batch;
        if batch.is_full() || (!batch.packets.is_empty() && self.last_flush.elapsed() >= LIVE_FLUSH)
        {
            self.last_flush = Instant::now();
            let full = std::mem::take(&mut self.batch);
            let spare = feed.send(full)?;
            self.batch = feed.batch(spare);
            self.batch.link = Some(self.link);
        }
        if self.last_stats.elapsed() >= Duration::from_secs(1) {
            self.last_stats = Instant::now();
            feed.health(source.live_counters());
        }
        Ok(())
    }

    /// The last batch, waiting for room: the capture is over, nothing is lost by waiting.
    fn finish(self, feed: &mut Feed) -> Result<(), WorkersGone> {
        if !self.batch.packets.is_empty() {
            feed.send_with(self.batch, WhenFull::Wait)?;
        }
        Ok(())
    }
}

/// One socket of a fanout group: [`live_reader`] without a savefile, ending when any socket's
/// thread ends (`shared.halt`) and counting `--count` across the sockets (`shared.taken`: a packet
/// past the count is not taken, so the sockets together take exactly `count`).
fn fanout_reader(
    feed: &mut Feed,
    source: &mut LiveSource,
    stop: &AtomicBool,
    shared: &Sockets,
    count: Option<u64>,
    duration: Option<Duration>,
    started: Instant,
) {
    let mut filling = Filling::new(feed, source.link_type());
    let mut error = None;
    let mut gone = false;
    // Without a count no packet needs the shared counter.
    let mut take = |_: Ts, _: u32, _: &[u8]| {
        count.is_none_or(|n| shared.taken.fetch_add(1, Ordering::Relaxed) < n)
    };
    loop {
        if stop.load(Ordering::Relaxed)
            || shared.halt.load(Ordering::Relaxed)
            || count.is_some_and(|n| shared.taken.load(Ordering::Relaxed) >= n)
            || duration.is_some_and(|d| started.elapsed() >= d)
        {
            break;
        }
        if let Err(e) = source.read_one(&mut filling.batch, &mut take) {
            error = Some(e);
            break;
        }
        if filling.due(feed, source).is_err() {
            gone = true;
            break;
        }
    }
    shared.halt.store(true, Ordering::Relaxed);
    gone = gone || filling.finish(feed).is_err();
    if gone {
        return;
    }
    feed.end(InputEnd {
        input: feed.socket,
        counters: source.counters(),
        link_types: Vec::new(),
        error,
        live: Some((source.live_counters(), feed.dropped)),
        saved: None,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{LinkType, Outcome};
    use crate::tracker::shard_of;
    use etherparse::PacketBuilder;

    /// A batch of UDP frames from 192.0.2.`client` to 192.0.2.10:53, one per client.
    fn batch(clients: std::ops::Range<u8>) -> Batch {
        let mut b = Batch {
            link: Some(LinkType::Ethernet),
            ..Batch::default()
        };
        for (i, c) in clients.enumerate() {
            let mut frame = Vec::new();
            PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
                .ipv4([192, 0, 2, c], [192, 0, 2, 10], 64)
                .udp(50000, 53)
                .write(&mut frame, &[0; 12])
                .unwrap();
            b.push(i as i64 * 1_000_000, frame.len() as u32, &frame);
        }
        b
    }

    /// The packets of `b` each of `n` workers takes.
    fn shares(b: &Batch, n: usize) -> Vec<u64> {
        let mut counts = vec![0; n];
        for (i, parsed) in b.parsed.iter().enumerate() {
            let outcome = parsed.attach(b.frame(i).1);
            assert!(matches!(outcome, Outcome::Ip(_)));
            counts[shard_of(&outcome, n)] += 1;
        }
        counts
    }

    fn feed(workers: Vec<Sender<Work>>, when_full: WhenFull) -> (Feed, Receiver<Control>) {
        let (control, control_rx) = bounded(4);
        let (_, recycle) = bounded(1);
        let feed = Feed {
            workers,
            socket: 0,
            control,
            recycle,
            when_full,
            dropped: 0,
        };
        (feed, control_rx)
    }

    fn received(rx: &Receiver<Work>) -> Vec<Arc<Batch>> {
        rx.try_iter()
            .map(|w| match w {
                Work::Batch(b) => b,
                Work::Tick(_) | Work::Snapshot(_) => panic!("a tick"),
            })
            .collect()
    }

    #[test]
    fn live_drops_and_counts_only_the_packets_of_a_worker_whose_queue_is_full() {
        let (tx0, rx0) = bounded(1);
        let (tx1, rx1) = bounded(1);
        let (mut feed, _control) = feed(vec![tx0, tx1], WhenFull::Drop);
        let first = batch(1..40);
        let second = batch(40..90);
        let share = shares(&second, 2);
        assert!(
            share.iter().all(|&n| n > 0),
            "both workers get packets: {share:?}"
        );
        assert!(
            feed.send(first).unwrap().is_none(),
            "the workers hold the batch"
        );
        // Worker 1 keeps up, worker 0 does not.
        assert_eq!(received(&rx1).len(), 1);
        assert!(feed.send(second).unwrap().is_none());
        assert_eq!(feed.dropped, share[0]);
        let (got0, got1) = (received(&rx0), received(&rx1));
        assert_eq!((got0.len(), got1.len()), (1, 1));
        // Worker 1 has the second batch and knows its packets; worker 0 only the first.
        assert_eq!(got1[0].packets.len(), 50);
        let mine = got1[0].owners.iter().filter(|&&o| o == 1).count() as u64;
        assert_eq!(mine, share[1]);
        assert_eq!(got0[0].packets.len(), 39);
    }

    #[test]
    fn a_batch_no_worker_kept_comes_back_to_be_refilled() {
        let (tx, _rx) = bounded(1);
        let (mut feed, _control) = feed(vec![tx], WhenFull::Drop);
        assert!(feed.send(batch(1..3)).unwrap().is_none());
        // The queue is full: the batch is dropped, counted and handed back.
        let back = feed
            .send(batch(3..8))
            .unwrap()
            .expect("the dropped batch back");
        assert_eq!((back.packets.len(), feed.dropped), (5, 5));
        assert!(feed.batch(Some(back)).packets.is_empty());
    }

    #[test]
    fn capture_files_wait_for_a_full_worker_and_lose_nothing() {
        let (tx, rx) = bounded(1);
        let (mut feed, _control) = feed(vec![tx], WhenFull::Wait);
        let slow = thread::spawn(move || {
            let mut packets = 0;
            for w in rx.iter() {
                thread::sleep(Duration::from_millis(20));
                if let Work::Batch(b) = w {
                    packets += b.packets.len();
                }
            }
            packets
        });
        for i in 0..5u8 {
            feed.send(batch(i * 10 + 1..i * 10 + 11)).unwrap();
        }
        drop(feed);
        assert_eq!(slow.join().unwrap(), 50);
    }

    #[test]
    fn a_worker_that_is_gone_ends_the_feed() {
        let (tx, rx) = bounded(1);
        drop(rx);
        for when_full in [WhenFull::Wait, WhenFull::Drop] {
            let (mut feed, _control) = feed(vec![tx.clone()], when_full);
            assert!(feed.send(batch(1..3)).is_err(), "{when_full:?}");
        }
    }

    #[test]
    fn the_live_counters_of_several_sockets_add_up_but_the_interface_drops_once() {
        let socket = |received, dropped, if_dropped, svcscope| {
            Some((
                LiveCounters {
                    received,
                    dropped,
                    if_dropped,
                },
                svcscope,
            ))
        };
        assert_eq!(sum_live(&[None, None]), None);
        let one = socket(10, 1, 4, 2);
        assert_eq!(sum_live(&[one]), one);
        assert_eq!(
            sum_live(&[socket(10, 1, 4, 2), None, socket(7, 3, 5, 0)]),
            socket(17, 4, 5, 2)
        );
    }

    /// Two capture threads (the sockets of a fanout group) with three workers: socket 0 feeds
    /// workers 0 and 2, socket 1 worker 1; every packet is classified once, and each socket's end
    /// comes back under its number.
    #[test]
    fn each_capture_thread_feeds_its_own_share_of_the_workers() {
        let (seen_tx, seen_rx) = crossbeam_channel::unbounded();
        let readers: Vec<Reader> = (0..2u8)
            .map(|socket| {
                let seen = seen_tx.clone();
                Box::new(move |feed: &mut Feed| {
                    let _ = seen.send((feed.socket, feed.workers.len()));
                    let first = 1 + socket * 100;
                    let packets = 60 + u64::from(socket) * 10;
                    feed.send_with(batch(first..first + packets as u8), WhenFull::Wait)
                        .unwrap();
                    feed.end(InputEnd {
                        input: feed.socket,
                        counters: SourceCounters {
                            packets,
                            ..SourceCounters::default()
                        },
                        link_types: Vec::new(),
                        error: None,
                        live: Some((
                            LiveCounters {
                                received: packets,
                                ..LiveCounters::default()
                            },
                            0,
                        )),
                        saved: None,
                    });
                }) as Reader
            })
            .collect();
        drop(seen_tx);
        let config = TrackerConfig::default();
        let d = Drive {
            catalog: Arc::new(Catalog::builtin()),
            config: &config,
            workers: 3,
            flows: None,
            when_full: WhenFull::Drop,
            queue: LIVE_BATCHES,
            interval: None,
            snapshots: None,
        };
        let driven = drive(d, readers, &mut |_, _, _| {}, &mut |_, _| {}).unwrap();
        let mut seen: Vec<_> = seen_rx.iter().collect();
        seen.sort();
        assert_eq!(seen, [(0, 2), (1, 1)]);
        assert_eq!(driven.aggregate.decode.packets, 60 + 70);
        let mut ends: Vec<_> = driven
            .ends
            .iter()
            .map(|e| (e.input, e.counters.packets))
            .collect();
        ends.sort();
        assert_eq!(ends, [(0, 60), (1, 70)]);
    }

    #[test]
    fn queues_hold_about_the_batches_of_one_worker_however_many_there_are() {
        assert_eq!(queue_per_worker(CHANNEL_BATCHES, 1), CHANNEL_BATCHES);
        assert_eq!(queue_per_worker(CHANNEL_BATCHES, 2), CHANNEL_BATCHES);
        assert_eq!(queue_per_worker(CHANNEL_BATCHES, 4), 4);
        assert_eq!(queue_per_worker(CHANNEL_BATCHES, 64), 2);
        assert_eq!(queue_per_worker(LIVE_BATCHES, 3), 21);
    }
}
