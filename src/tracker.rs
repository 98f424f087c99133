//! Tracker: one classifier worker — each decoded frame through flow table → classify → aggregate.
//!
//! The tracker owns the state of those stages for the flows it sees and has no threads or I/O of its
//! own besides the optional flow-record writer; the pipeline feeds it batches, decoded by the capture
//! thread (a batch not decoded yet is decoded here). Several trackers can run side by side on disjoint
//! flows and their [`Aggregate`]s merge.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use crate::aggregate::{Aggregate, IntervalCounters};
use crate::bounded::share;
use crate::capture::Batch;
use crate::catalog::Catalog;
use crate::classify::Classifier;
use crate::decode::{decode, proto, LinkType, Outcome};
use crate::flow::{update, EndReason, Flow, FlowTable, Lookup, Placed, ServerRule, Timeouts};
use crate::inspect::Slot;
use crate::report::flows::FlowRecord;
use crate::time::Ts;

/// Settings of the classification stages.
#[derive(Clone, Debug)]
pub struct TrackerConfig {
    pub timeouts: Timeouts,
    pub max_flows: usize,
    pub epm_window: Duration,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            timeouts: Timeouts::default(),
            max_flows: crate::flow::DEFAULT_MAX_FLOWS,
            epm_window: crate::classify::DEFAULT_EPM_WINDOW,
        }
    }
}

/// The worker a frame belongs to: a symmetric hash of its address pair, so that both directions of a
/// flow, its fragments, and every flow between the same two hosts (what cross-flow learning relates:
/// endpoint-mapper contacts, FTP and TFTP announcements) meet in one worker. Frames that are not IP go
/// to worker 0, so they are counted once.
pub fn shard_of(outcome: &Outcome<'_>, shards: usize) -> usize {
    match outcome {
        Outcome::Ip(d) if shards > 1 => {
            let (a, b) = if d.src <= d.dst {
                (d.src, d.dst)
            } else {
                (d.dst, d.src)
            };
            let mut h = rustc_hash::FxHasher::default();
            std::hash::Hash::hash(&(a, b), &mut h);
            (std::hash::Hasher::finish(&h) % shards as u64) as usize
        }
        _ => 0,
    }
}

/// Where ended flows go besides the statistics: a JSON Lines writer.
pub type FlowSink = Box<dyn Write + Send>;

pub struct Tracker {
    classifier: Classifier,
    flows: FlowTable,
    agg: Aggregate,
    ended: Vec<(Flow, EndReason)>,
    sink: Option<FlowSink>,
    sink_error: Option<String>,
    last_expire: Ts,
    interval: Option<IntervalCounters>,
}

const EPM_EXPIRE_EVERY: i64 = 60_000_000_000;
/// Packets whose flows are looked up together before they are processed.
const WARM_GROUP: usize = 16;

impl Tracker {
    pub fn new(catalog: Arc<Catalog>, config: &TrackerConfig, sink: Option<FlowSink>) -> Tracker {
        Tracker::with_share(catalog, config, sink, 1)
    }

    /// One of `workers` trackers running side by side: every cap (flows, fragments, the classifier's
    /// and inspector's tables, the aggregate's address sets and host tables) is its share of the
    /// process-wide one, rounded down, so that together they never hold more than one tracker would.
    pub fn with_share(
        catalog: Arc<Catalog>,
        config: &TrackerConfig,
        sink: Option<FlowSink>,
        workers: usize,
    ) -> Tracker {
        let workers = workers.max(1);
        Tracker {
            classifier: Classifier::with_share(catalog, config.epm_window, workers),
            flows: FlowTable::with_fragment_cap(
                config.timeouts,
                share(config.max_flows, workers),
                share(crate::flow::MAX_FRAGMENTS, workers),
            ),
            agg: Aggregate::with_share(workers),
            ended: Vec::new(),
            sink,
            sink_error: None,
            last_expire: i64::MIN,
            interval: None,
        }
    }

    /// Starts counting per-interval traffic (see [`Tracker::take_interval`]).
    pub fn count_intervals(&mut self) {
        self.interval = Some(IntervalCounters::default());
    }

    /// The traffic since the previous call, and a fresh interval.
    pub fn take_interval(&mut self) -> IntervalCounters {
        self.interval
            .replace(IntervalCounters::default())
            .unwrap_or_default()
    }

    pub fn catalog(&self) -> &Arc<Catalog> {
        self.classifier.catalog()
    }

    /// Processes every frame of a batch.
    pub fn batch(&mut self, batch: &Batch) {
        self.frames_of(batch, 0..batch.packets.len());
    }

    /// Processes the frames of a batch at the given positions (a worker's shard: see [`shard_of`]).
    pub fn batch_part(&mut self, batch: &Batch, positions: &[u32]) {
        self.frames_of(batch, positions.iter().map(|&i| i as usize));
    }

    /// Processes one frame.
    pub fn packet(&mut self, link: LinkType, ts: Ts, wire_len: u32, frame: &[u8]) {
        self.decoded(ts, wire_len, frame.len(), decode(link, frame), None);
    }

    fn frames_of(&mut self, batch: &Batch, positions: impl Iterator<Item = usize>) {
        if batch.parsed.len() != batch.packets.len() {
            let link = batch.link.unwrap_or(LinkType::Unsupported(-1));
            for i in positions {
                let (p, frame) = batch.frame(i);
                self.decoded(p.ts, p.wire_len, frame.len(), decode(link, frame), None);
            }
        } else {
            // In groups: first the flows of the group are looked up, their cache misses overlapping,
            // then the packets are processed in order.
            let mut group = [0usize; WARM_GROUP];
            let mut ahead = [None; WARM_GROUP];
            let mut positions = positions.peekable();
            while positions.peek().is_some() {
                let mut n = 0;
                // `group` first: a full group ends the zip before it takes a position.
                for (slot, i) in group.iter_mut().zip(positions.by_ref()) {
                    *slot = i;
                    let (_, frame) = batch.frame(i);
                    ahead[n] = match batch.parsed[i].attach(frame) {
                        Outcome::Ip(d) => self.flows.warm(&d),
                        _ => None,
                    };
                    n += 1;
                }
                for (&i, &ahead) in group[..n].iter().zip(&ahead) {
                    let (p, frame) = batch.frame(i);
                    let outcome = batch.parsed[i].attach(frame);
                    self.decoded(p.ts, p.wire_len, frame.len(), outcome, ahead);
                }
            }
        }
        if !self.ended.is_empty() {
            self.end_flows();
        }
    }

    /// Processes one decoded frame.
    fn decoded(
        &mut self,
        ts: Ts,
        wire_len: u32,
        caplen: usize,
        outcome: Outcome<'_>,
        ahead: Option<Lookup>,
    ) {
        let counters = &mut self.agg.decode;
        counters.packets += 1;
        counters.bytes += u64::from(wire_len);
        if (caplen as u64) < u64::from(wire_len) {
            counters.truncated += 1;
        }
        let d = match outcome {
            Outcome::Ip(d) => d,
            Outcome::NotIp => {
                counters.not_ip += 1;
                return;
            }
            Outcome::Malformed(m) => {
                *counters.malformed.entry(m).or_default() += 1;
                return;
            }
        };
        counters.ip_packets += 1;
        self.flows.advance(ts, &mut self.ended);
        let tcp = (d.protocol == proto::TCP && d.ports.is_some()).then_some(d.tcp_flags);
        let size = u64::from(wire_len);
        let mut closed = None;
        let label = match self.flows.place(&d, ahead, &mut self.ended) {
            Placed::Existing { flow, from_client } => {
                let was_answered = flow.answered;
                let was_closed = flow.is_closed();
                let record_now = update(flow, from_client, ts, wire_len, tcp);
                if !was_closed && flow.is_closed() {
                    closed = Some(flow.key);
                }
                if flow.class.inspector.is_some() && !flow.inspect_done {
                    self.classifier.inspect(flow, &d, from_client, ts);
                }
                if record_now {
                    if !was_answered {
                        let (client, server) = (flow.client(), flow.server());
                        self.classifier.server_answered(
                            d.protocol,
                            client,
                            server,
                            flow.class.server_rule,
                            ts,
                        );
                        // The server answered: the held-back sizes are service traffic after all.
                        for &s in &flow.pending[..usize::from(flow.n_pending)] {
                            self.agg.record_size(flow.class.label, false, u64::from(s));
                        }
                        flow.n_pending = 0;
                    }
                    self.agg.record_size(flow.class.label, !flow.answered, size);
                }
                flow.class.label
            }
            Placed::New { key, src_is_lo } => {
                let (class, announced) = self.classifier.classify(&d, src_is_lo, ts);
                let flow = self.flows.insert(key, class, ts, &mut self.ended);
                flow.answered = class.server_rule != ServerRule::Syn;
                if let Some(a) = announced {
                    flow.slot = Some(Box::new(Slot::with(a.evidence(), a.interface)));
                }
                let from_client = src_is_lo == class.client_is_lo;
                let record_now = update(flow, from_client, ts, wire_len, tcp);
                if flow.is_closed() {
                    closed = Some(key);
                }
                if class.inspector.is_some() {
                    self.classifier.inspect(flow, &d, from_client, ts);
                }
                if record_now {
                    self.agg.record_size(flow.class.label, !flow.answered, size);
                }
                flow.class.label
            }
            Placed::Unmatched => None,
        };
        if let Some(key) = closed {
            self.flows.closed(key, ts);
        }
        if self.classifier.has_given_up() {
            // Inspections the budgets gave up for newer ones: end them in their flows (a flow
            // that has ended since, or whose key a new flow took, is passed over).
            for (key, stamp) in self.classifier.take_given_up() {
                if let Some(f) = self.flows.get_mut(&key) {
                    Classifier::give_up(f, stamp);
                }
            }
        }
        if let Some(i) = &mut self.interval {
            i.add(label, d.src, d.dst, size);
        }
        if ts.saturating_sub(self.last_expire) >= EPM_EXPIRE_EVERY {
            self.last_expire = ts;
            self.classifier.expire(ts);
        }
    }

    fn end_flows(&mut self) {
        // Deterministic order for flow records, whatever the hash table's.
        if self.sink.is_some() {
            self.ended.sort_unstable_by_key(|(f, _)| {
                (
                    f.first_ts,
                    f.key.lo,
                    f.key.hi,
                    f.key.lo_port,
                    f.key.hi_port,
                    f.key.protocol,
                )
            });
        }
        for (mut f, why) in self.ended.drain(..) {
            self.classifier.flow_ended(&mut f);
            self.agg.end_flow(&f, self.classifier.catalog());
            if let Some(sink) = &mut self.sink {
                if self.sink_error.is_none() {
                    let record = FlowRecord::new(self.classifier.catalog(), &f, why);
                    let mut line = serde_json::to_string(&record).expect("flow records serialize");
                    line.push('\n');
                    // One write per record, so that workers sharing a sink never interleave lines.
                    if let Err(e) = sink.write_all(line.as_bytes()) {
                        self.sink_error = Some(e.to_string());
                    }
                }
            }
        }
    }

    /// Current aggregate including the flows still active (for periodic live reports), without
    /// ending them.
    pub fn snapshot(&self) -> Aggregate {
        let mut agg = self.agg.clone();
        for f in self.flows.iter() {
            agg.end_flow(f, self.classifier.catalog());
        }
        agg.flow_counters = self.flows.counters;
        agg.inspect = self.classifier.inspect_counters();
        agg
    }

    /// Flows currently tracked.
    pub fn active_flows(&self) -> usize {
        self.flows.len()
    }

    /// Ends every flow and returns the statistics; an error writing flow records is returned too.
    pub fn finish(mut self) -> (Aggregate, Option<String>) {
        self.flows.drain(&mut self.ended);
        self.end_flows();
        if let Some(sink) = &mut self.sink {
            if let Err(e) = sink.flush() {
                self.sink_error.get_or_insert(e.to_string());
            }
        }
        self.agg.flow_counters = self.flows.counters;
        self.agg.inspect = self.classifier.inspect_counters();
        (self.agg, self.sink_error)
    }
}

/// A flow-record writer several workers share; each record is written under the lock in one call.
#[derive(Clone)]
pub struct SharedSink(pub std::sync::Arc<std::sync::Mutex<FlowSink>>);

impl Write for SharedSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.write_all(buf).map(|_| buf.len())
    }
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        let mut sink = self.0.lock().unwrap_or_else(|e| e.into_inner());
        sink.write_all(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        let mut sink = self.0.lock().unwrap_or_else(|e| e.into_inner());
        sink.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Uuid;
    use crate::decode::tcp_flags::{ACK, PSH, RST, SYN};
    use crate::wire::dcerpc::tests::bind;
    use etherparse::PacketBuilder;

    /// A TCP frame between 192.0.2.101:50000 (client) and 192.0.2.10:49700.
    fn frame(from_client: bool, flags: u8, seq: u32, payload: &[u8]) -> Vec<u8> {
        let (src, dst, sport, dport) = if from_client {
            ([192, 0, 2, 101], [192, 0, 2, 10], 50000, 49700)
        } else {
            ([192, 0, 2, 10], [192, 0, 2, 101], 49700, 50000)
        };
        let mut b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4(src, dst, 64)
            .tcp(sport, dport, seq, 64240);
        if flags & SYN != 0 {
            b = b.syn();
        }
        if flags & ACK != 0 {
            b = b.ack(1);
        }
        if flags & PSH != 0 {
            b = b.psh();
        }
        if flags & RST != 0 {
            b = b.rst();
        }
        let mut out = Vec::new();
        b.write(&mut out, payload).unwrap();
        out
    }

    #[test]
    fn a_connection_reusing_ports_in_the_same_batch_keeps_its_own_inspection() {
        let netlogon = Uuid::parse("12345678-1234-abcd-ef00-01234567cffb").unwrap();
        let drsuapi = Uuid::parse("e3514235-4b06-11d1-ab04-00c04fc2dcd2").unwrap();
        let mut batch = Batch {
            link: Some(LinkType::Ethernet),
            ..Batch::default()
        };
        let mut ts = 0;
        for iface in [netlogon, drsuapi] {
            // Connect, bind to the interface, reset; then the same ports again.
            let pdu = bind(1, iface, 1);
            for f in [
                frame(true, SYN, 100, &[]),
                frame(false, SYN | ACK, 500, &[]),
                frame(true, ACK | PSH, 101, &pdu),
                frame(false, RST, 501, &[]),
            ] {
                ts += 1_000_000;
                batch.push(ts, f.len() as u32, &f);
            }
        }
        let mut t = Tracker::new(
            Arc::new(Catalog::builtin()),
            &TrackerConfig::default(),
            None,
        );
        t.batch(&batch);
        let (agg, _) = t.finish();
        let flows = |u: Uuid| agg.rpc_interfaces.get(&u).map_or(0, |c| c.flows);
        assert_eq!((flows(netlogon), flows(drsuapi)), (1, 1));
        assert_eq!(agg.flow_counters.flows_created, 2);
    }
}
