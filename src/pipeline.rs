//! Pipeline: the threads and channels. A capture thread reads sources into batches and sends them over a
//! bounded crossbeam channel to the classifier (a [`Tracker`]); emptied batches go back on a second
//! channel to be refilled, so buffers are recycled rather than allocated per batch.
//!
//! Offline, the channel applies back-pressure: the reader waits for the classifier and nothing is ever
//! dropped. Several files make one merged analysis: they share one flow table, in the order given.

use std::path::PathBuf;
use std::sync::Arc;
use std::thread;

use crossbeam_channel::{bounded, Receiver, Sender};

use crate::aggregate::Aggregate;
use crate::capture::{Batch, CaptureError, FileSource, PacketSource, SourceCounters};
use crate::catalog::Catalog;
use crate::decode::LinkType;
use crate::report::InputReport;
use crate::tracker::{FlowSink, Tracker, TrackerConfig};

/// Batches in flight between the capture thread and the classifier.
pub const CHANNEL_BATCHES: usize = 8;

/// Options of an offline analysis.
pub struct AnalyzeOptions {
    pub tracker: TrackerConfig,
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
    Start {
        input: usize,
        link: LinkType,
    },
    Batch(Batch),
    End {
        input: usize,
        counters: SourceCounters,
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

    let mut tracker = Tracker::new(catalog, &opts.tracker, opts.flows);
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
    for event in rx.iter() {
        match event {
            Event::Batch(b) => {
                tracker.batch(&b);
                let _ = recycle_tx.try_send(b);
            }
            Event::Start { input, link } => inputs[input].link_types.push(link.name()),
            Event::End {
                input,
                counters,
                error,
            } => {
                inputs[input].packets = counters.packets;
                inputs[input].filtered = counters.filtered;
                inputs[input].error = error.map(|e| e.message);
            }
        }
    }
    // The reader only ends by finishing its inputs; a panic there is a bug worth surfacing.
    reader.join().expect("capture thread panicked");
    if let Some(p) = progress {
        p.finish_and_clear();
    }
    let (aggregate, flow_log_error) = tracker.finish();
    Analysis {
        aggregate,
        inputs,
        flow_log_error,
    }
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
                    error: Some(e),
                });
                continue;
            }
        };
        if tx
            .send(Event::Start {
                input,
                link: source.link_type(),
            })
            .is_err()
        {
            return;
        }
        let error = pump(&mut source, input, tx, recycle, |c| {
            if let Some(p) = progress {
                p.set_position(done_bytes + c.file_bytes);
            }
        });
        let counters = source.counters();
        done_bytes += std::fs::metadata(path)
            .map(|m| m.len())
            .unwrap_or(counters.file_bytes);
        if tx
            .send(Event::End {
                input,
                counters,
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
        batch.link = Some(source.link_type());
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
