//! Tracker: one classifier worker — each decoded frame through flow table → classify → aggregate.
//!
//! The tracker owns the state of those stages for the flows it sees and has no threads or I/O of its
//! own; ended flows also go to an optional [`FlowSink`] (the flow records, which the pipeline hands
//! in). The pipeline feeds it batches, decoded by the capture thread (a batch not decoded yet is
//! decoded here). Several trackers can run side by side on disjoint flows and their [`Aggregate`]s
//! merge.

use std::sync::Arc;
use std::time::Duration;

use crate::aggregate::{Aggregate, IntervalCounters};
use crate::bounded::share;
use crate::capture::{Batch, TimeSpan};
use crate::catalog::Catalog;
use crate::classify::Classifier;
use crate::decode::{decode, proto, LinkType, Outcome};
use crate::flow::{
    update, EndReason, Flow, FlowSink, FlowTable, Lookup, Placed, ServerRule, Timeouts,
};
use crate::inspect::{learn, Slot};
use crate::select::Selection;
use crate::time::Ts;

/// Settings of the classification stages.
#[derive(Clone, Debug)]
pub struct TrackerConfig {
    pub timeouts: Timeouts,
    pub max_flows: usize,
    pub epm_window: Duration,
    /// Hand flows still going to the sink's [`FlowSink::active`] each time they have been going
    /// for another this long (live IPFIX export); `None`: only ended flows.
    pub active_timeout: Option<Duration>,
    /// Only the flows it selects are counted (`analyze --service …`); `None`: every flow.
    pub selection: Option<Arc<Selection>>,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            timeouts: Timeouts::default(),
            max_flows: crate::flow::DEFAULT_MAX_FLOWS,
            epm_window: crate::classify::DEFAULT_EPM_WINDOW,
            active_timeout: None,
            selection: None,
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
            // FxHash of the four address words, high word first (a fixed function, whatever
            // `Addr`'s own `Hash` writes: the workers a capture's flows meet in stay the same).
            use std::hash::Hasher;
            let mut h = rustc_hash::FxHasher::default();
            for addr in [a, b] {
                let bits = addr.to_bits();
                h.write_u64((bits >> 64) as u64);
                h.write_u64(bits as u64);
            }
            (h.finish() % shards as u64) as usize
        }
        _ => 0,
    }
}

/// The positions of worker `me`'s frames in a sharded batch (worker 0 also takes those not IP).
fn own_frames(owners: &[u8], me: u8) -> impl Iterator<Item = usize> + '_ {
    owners
        .iter()
        .enumerate()
        .filter(move |&(_, &o)| o == me || (me == 0 && o == NOT_IP))
        .map(|(i, _)| i)
}

/// In [`Batch::owners`]: a frame that is not IP, which worker 0 counts and which moves no worker's
/// clock.
pub const NOT_IP: u8 = u8::MAX;

/// Sets [`Batch::owners`] for `shards` workers (at most 64; decoding every frame first) and returns
/// how many frames each worker takes.
pub fn shard_batch(batch: &mut Batch, shards: usize) -> Vec<u64> {
    batch.decode();
    let mut counts = vec![0u64; shards.max(1)];
    let mut owners = std::mem::take(&mut batch.owners);
    owners.clear();
    batch.learn.clear();
    let (mut earliest, mut latest, mut in_order) = (Ts::MAX, Ts::MIN, true);
    for (p, parsed) in batch.packets.iter().zip(&batch.parsed) {
        let frame = &batch.data[p.offset as usize..][..p.caplen as usize];
        let (owner, shard) = match parsed.attach(frame) {
            outcome @ Outcome::Ip(d) => {
                if learn::wants(&d) {
                    batch.learn.push(owners.len() as u32);
                }
                in_order &= p.ts >= latest;
                earliest = earliest.min(p.ts);
                latest = latest.max(p.ts);
                let shard = shard_of(&outcome, shards);
                (shard as u8, shard)
            }
            _ => (NOT_IP, 0),
        };
        counts[shard] += 1;
        owners.push(owner);
    }
    batch.owners = owners;
    batch.ip_times = (latest >= earliest).then_some(TimeSpan {
        earliest,
        latest,
        in_order,
    });
    counts
}

pub struct Tracker {
    classifier: Classifier,
    flows: FlowTable,
    agg: Aggregate,
    ended: Vec<(Flow, EndReason)>,
    sink: Option<Box<dyn FlowSink>>,
    last_expire: Ts,
    interval: Option<IntervalCounters>,
    active: Option<ActiveWalk>,
    selection: Option<Arc<Selection>>,
}

/// When flows still going are handed to the sink as active (see [`TrackerConfig::active_timeout`]):
/// a flow is handed over when its age (trace time since its first packet) has passed another
/// multiple of `every` since the previous walk of the table, which comes every quarter of `every`
/// (at least a second) at the end of a batch. No state per flow; the walk costs what the flow
/// table's idle sweep costs, on the same kind of schedule, and a flow is exported at most a
/// quarter of `every` late.
struct ActiveWalk {
    every: i64,
    step: i64,
    last: Ts,
}

impl ActiveWalk {
    fn new(every: Duration) -> ActiveWalk {
        let every = i64::try_from(every.as_nanos()).unwrap_or(i64::MAX).max(1);
        ActiveWalk {
            every,
            step: (every / 4).max(1_000_000_000),
            last: i64::MIN,
        }
    }

    /// Whether a flow that began at `first` crossed a multiple of `every` between the previous walk
    /// and `now`.
    fn due(&self, first: Ts, now: Ts) -> bool {
        let age = now.saturating_sub(first);
        let before = self.last.saturating_sub(first).max(0);
        age >= self.every && age / self.every > before / self.every
    }
}

const EPM_EXPIRE_EVERY: i64 = 60_000_000_000;
/// Packets whose flows are looked up together before they are processed.
const WARM_GROUP: usize = 16;

impl Tracker {
    pub fn new(
        catalog: Arc<Catalog>,
        config: &TrackerConfig,
        sink: Option<Box<dyn FlowSink>>,
    ) -> Tracker {
        Tracker::with_share(catalog, config, sink, 1)
    }

    /// One of `workers` trackers running side by side: every cap (flows, fragments, the classifier's
    /// and inspector's tables, the aggregate's address sets and host tables) is its share of the
    /// process-wide one, rounded down, so that together they never hold more than one tracker would.
    pub fn with_share(
        catalog: Arc<Catalog>,
        config: &TrackerConfig,
        sink: Option<Box<dyn FlowSink>>,
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
            last_expire: i64::MIN,
            interval: None,
            active: config.active_timeout.map(ActiveWalk::new),
            selection: config.selection.clone().filter(|s| !s.is_everything()),
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
        self.frames_of(batch, 0..batch.packets.len(), None, None);
    }

    /// Processes worker `me`'s frames of a batch sharded by [`shard_batch`] (every frame when it is
    /// not sharded). The flow table's clock still follows every IP frame of the batch, in order, so
    /// that flows end (idle, closed) at the same moments as with one worker.
    pub fn batch_shard(&mut self, batch: &Batch, me: usize) {
        if batch.owners.len() != batch.packets.len() {
            return self.batch(batch);
        }
        let me = me as u8;
        let owners = &batch.owners;
        // Mostly nothing can come due among the other workers' frames (their times are in order
        // and none reaches the next sweep or closed flow's end): then the clock need only catch up
        // at the end.
        if let Some(t) = batch.ip_times {
            if t.in_order && t.latest < self.flows.quiet_until(t.earliest) {
                self.frames_of(batch, own_frames(owners, me), None, Some(me));
                self.flows.set_clock(t.latest);
                return;
            }
        }
        self.frames_of(batch, own_frames(owners, me), Some(me), Some(me));
    }

    /// Processes one frame.
    pub fn packet(&mut self, link: LinkType, ts: Ts, wire_len: u32, frame: &[u8]) {
        self.decoded(ts, wire_len, frame.len(), decode(link, frame), None);
    }

    /// The frames at `positions` (ascending); `shard`: the worker's own in a sharded batch, whose
    /// other workers' IP frames advance the clock between them; `learner`: the worker's own in a
    /// sharded batch, which learns from the other workers' frames in [`Batch::learn`] between them.
    fn frames_of(
        &mut self,
        batch: &Batch,
        positions: impl Iterator<Item = usize>,
        shard: Option<u8>,
        learner: Option<u8>,
    ) {
        // The next frame whose time the clock has not yet followed (sharded batches).
        let mut clock = 0;
        // The next of the batch's frames to learn from (sharded batches).
        let mut learnt = 0;
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
                    // The flow lookup needs no payload: the frame's bytes wait for the second pass.
                    ahead[n] = batch.parsed[i].headers().and_then(|d| self.flows.warm(d));
                    n += 1;
                }
                for (&i, &ahead) in group[..n].iter().zip(&ahead) {
                    if let Some(me) = shard {
                        self.follow_clock(batch, me, clock..i);
                        clock = i + 1;
                    }
                    if let Some(me) = learner {
                        self.learn_from_others(batch, me, &mut learnt, i);
                    }
                    let (p, frame) = batch.frame(i);
                    let outcome = batch.parsed[i].attach(frame);
                    self.decoded(p.ts, p.wire_len, frame.len(), outcome, ahead);
                }
            }
        }
        if let Some(me) = shard {
            self.follow_clock(batch, me, clock..batch.packets.len());
        }
        if let Some(me) = learner {
            self.learn_from_others(batch, me, &mut learnt, batch.packets.len());
        }
        if !self.ended.is_empty() {
            self.end_flows();
        }
        self.walk_active();
    }

    /// Hands the flows that are due to the sink as active (see [`ActiveWalk`]), when a walk is due.
    fn walk_active(&mut self) {
        let (Some(walk), Some(sink)) = (&mut self.active, &mut self.sink) else {
            return;
        };
        let now = self.flows.now();
        if now < walk.last.saturating_add(walk.step) {
            return;
        }
        for f in self.flows.iter() {
            if walk.due(f.first_ts, now) {
                sink.active(f);
            }
        }
        walk.last = now;
    }

    /// Learns from the other workers' frames of [`Batch::learn`] before position `before`, from
    /// `next` on, in order (this worker learns from its own as it processes them): every worker
    /// knows what one worker would at each frame.
    fn learn_from_others(&mut self, batch: &Batch, me: u8, next: &mut usize, before: usize) {
        while let Some(&j) = batch.learn.get(*next) {
            let j = j as usize;
            if j >= before {
                break;
            }
            *next += 1;
            if batch.owners.get(j) != Some(&me) {
                let (p, frame) = batch.frame(j);
                if let Outcome::Ip(d) = batch.parsed[j].attach(frame) {
                    self.classifier.learn(&d, p.ts);
                }
            }
        }
    }

    /// Advances the flow table's clock through the other workers' IP frames in `range`, as if this
    /// tracker had seen them: those at which something is due one by one, the others at once.
    #[inline(always)]
    fn follow_clock(&mut self, batch: &Batch, me: u8, range: std::ops::Range<usize>) {
        if range.is_empty() {
            return;
        }
        let mut due = self.flows.next_due();
        let mut latest = Ts::MIN;
        for (o, p) in batch.owners[range.clone()]
            .iter()
            .zip(&batch.packets[range])
        {
            if *o != me && *o != NOT_IP {
                if p.ts >= due {
                    self.flows.advance(p.ts, &mut self.ended);
                    due = self.flows.next_due();
                } else {
                    latest = latest.max(p.ts);
                }
            }
        }
        // Every skipped time was before anything due, and what is due only moves later as the
        // clock advances: moving the clock is all they do.
        self.flows.set_clock(latest);
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
        let d = match &outcome {
            Outcome::Ip(d) => d,
            Outcome::NotIp(n) => {
                counters.not_ip += 1;
                *counters.not_ip_by.entry(*n).or_default() += 1;
                return;
            }
            Outcome::Malformed(m) => {
                *counters.malformed.entry(*m).or_default() += 1;
                return;
            }
        };
        counters.ip_packets += 1;
        if learn::wants(d) {
            self.classifier.learn(d, ts);
        }
        self.flows.advance(ts, &mut self.ended);
        let tcp = (d.protocol == proto::TCP && d.ports.is_some()).then_some(d.tcp_flags);
        let size = u64::from(wire_len);
        let mut closed = None;
        let label = match self.flows.place(d, ahead, &mut self.ended) {
            Placed::Existing { flow, from_client } => {
                if let (Some(slot), false) = (&flow.slot, flow.inspect_done) {
                    svcscope_prefetch::prefetch(&**slot);
                }
                let was_answered = flow.answered;
                let was_closed = flow.is_closed();
                let record_now = update(flow, from_client, ts, wire_len, tcp);
                if !was_closed && flow.is_closed() {
                    closed = Some(flow.key);
                }
                if flow.class.inspector.is_some() && !flow.inspect_done {
                    self.classifier.inspect(flow, d, from_client, ts);
                }
                let counted = self.selection.as_ref().is_none_or(|s| s.may_count(flow));
                if record_now && counted {
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
                let (class, announced) = self.classifier.classify(d, src_is_lo, ts);
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
                    self.classifier.inspect(flow, d, from_client, ts);
                }
                let counted = self.selection.as_ref().is_none_or(|s| s.may_count(flow));
                if record_now && counted {
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
        // Flows that end together end in an order of their own, not the hash table's (which is
        // seeded at random, see `crate::hash`): flow records, and statistics whose tables reach
        // their caps, come out the same every run.
        self.ended
            .sort_unstable_by_key(|(f, _)| (f.first_ts, f.key));
        for (mut f, why) in self.ended.drain(..) {
            self.classifier.flow_ended(&mut f);
            if let Some(s) = &self.selection {
                if !s.matches(self.classifier.catalog(), &f) {
                    self.agg.flows_not_selected += 1;
                    continue;
                }
            }
            self.agg.end_flow(&f, self.classifier.catalog());
            if let Some(sink) = &mut self.sink {
                sink.ended(&f, why);
            }
        }
    }

    /// Current aggregate including the flows still active (for periodic live reports), without
    /// ending them.
    pub fn snapshot(&self) -> Aggregate {
        let mut agg = self.agg.clone();
        for f in self.flows.iter() {
            if let Some(s) = &self.selection {
                if !s.matches(self.classifier.catalog(), f) {
                    agg.flows_not_selected += 1;
                    continue;
                }
            }
            agg.end_flow(f, self.classifier.catalog());
        }
        agg.settle();
        agg.flow_counters = self.flows.counters;
        agg.inspect = self.classifier.inspect_counters();
        agg.names = self.classifier.names().clone();
        agg
    }

    /// Flows currently tracked.
    pub fn active_flows(&self) -> usize {
        self.flows.len()
    }

    /// Ends every flow and returns the statistics; an error of the flow sink is returned too.
    pub fn finish(mut self) -> (Aggregate, Option<String>) {
        self.flows.drain(&mut self.ended);
        self.end_flows();
        let sink_error = self.sink.as_mut().and_then(|s| s.finish().err());
        self.agg.settle();
        self.agg.flow_counters = self.flows.counters;
        self.agg.inspect = self.classifier.inspect_counters();
        self.agg.names = self.classifier.names().clone();
        (self.agg, sink_error)
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

    /// Records the flows handed over as active, and their packet counts then.
    struct Actives(Arc<std::sync::Mutex<Vec<(Ts, u64)>>>);

    impl FlowSink for Actives {
        fn ended(&mut self, _f: &Flow, _why: EndReason) {}
        fn active(&mut self, f: &Flow) {
            self.0.lock().unwrap().push((f.last_ts, f.total_packets()));
        }
        fn finish(&mut self) -> Result<(), String> {
            Ok(())
        }
        fn fork(&self) -> Box<dyn FlowSink> {
            Box::new(Actives(self.0.clone()))
        }
    }

    #[test]
    fn a_long_flow_is_handed_over_as_active_once_per_timeout() {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let config = TrackerConfig {
            active_timeout: Some(Duration::from_secs(60)),
            ..TrackerConfig::default()
        };
        let mut t = Tracker::new(
            Arc::new(Catalog::builtin()),
            &config,
            Some(Box::new(Actives(seen.clone()))),
        );
        // One packet a second for 200 seconds, a batch of ten at a time.
        let mut seq = 101;
        for chunk in 0..20i64 {
            let mut batch = Batch {
                link: Some(LinkType::Ethernet),
                ..Batch::default()
            };
            for i in 0..10i64 {
                let f = frame(true, ACK | PSH, seq, b"x");
                seq += 1;
                batch.push((chunk * 10 + i) * 1_000_000_000, f.len() as u32, &f);
            }
            t.batch(&batch);
        }
        let seen = seen.lock().unwrap().clone();
        // At ages 60, 120 and 180 s, each found by the walk at most a quarter of the timeout late.
        assert_eq!(seen.len(), 3, "{seen:?}");
        for (n, (last, _)) in seen.iter().enumerate() {
            let due = (n as i64 + 1) * 60_000_000_000;
            assert!(*last >= due && *last <= due + 15_000_000_000, "{seen:?}");
        }
    }

    #[test]
    fn an_active_walk_is_due_once_per_multiple_of_the_timeout() {
        let mut w = ActiveWalk::new(Duration::from_secs(60));
        let s = 1_000_000_000i64;
        assert_eq!(w.step, 15 * s);
        // The first walk: flows of at least the timeout are due, younger ones not.
        assert!(w.due(0, 61 * s));
        assert!(!w.due(2 * s, 61 * s));
        w.last = 61 * s;
        // Between 61 s and 75 s no flow started at 0 crosses 120 s; one started at 2 s crossed 60.
        assert!(!w.due(0, 75 * s));
        assert!(w.due(2 * s, 75 * s));
        // A flow born after the previous walk is not due before its first timeout.
        assert!(!w.due(70 * s, 120 * s));
        assert!(w.due(0, 121 * s));
        // Tiny and huge timeouts stay within bounds.
        assert_eq!(ActiveWalk::new(Duration::from_millis(1)).step, s);
        let huge = ActiveWalk::new(Duration::from_secs(u64::MAX));
        assert!(!huge.due(0, 1_000_000 * s));
        // Times at the ends of the range saturate instead of overflowing (both ages at the
        // largest: not due again).
        assert!(!w.due(i64::MIN, i64::MAX));
    }
}
