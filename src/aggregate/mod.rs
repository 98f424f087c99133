//! Aggregate: per-label and per-service traffic statistics, unclassified traffic by port, and
//! capture health.
//!
//! Statistics are kept per catalog [`Label`](crate::catalog::Label) — one (transport, port), IP
//! protocol or the dynamic RPC range — so every flow is counted exactly once there; the
//! per-application view of a report comes from these. Per service they are kept by basis
//! (`services.rs`): what each flow's attribution credits it with (evidence, or a port it alone
//! owns), apart from the shared-port flows no evidence determined. Everything merges exactly
//! (hdrhistograms too), which is how statistics from several classifier workers or intervals
//! combine.
//!
//! Packet sizes are recorded as packets arrive; everything else when a flow ends. TCP connection
//! attempts the server never accepted are kept apart as "unanswered" and never count as service traffic.

pub mod auth;
pub mod hosts;
pub mod services;
pub mod timeline;
pub mod verification;

use std::collections::BTreeMap;

use crate::hash::{HashMap, HashSet};
use hdrhistogram::Histogram;

use crate::bounded::Workers;
use crate::catalog::{Catalog, LabelId, Uuid};
use crate::decode::{Addr, Malformed, NotIp};
use crate::flow::{Flow, FlowCounters, C2S, S2C};
use crate::inspect::Counters;
use crate::time::Ts;

/// Traffic of the current reporting interval (live capture): per label and per host.
#[derive(Clone, Debug, Default)]
pub struct IntervalCounters {
    pub packets: u64,
    pub bytes: u64,
    /// (packets, bytes) per label; `None` = unclassified.
    pub by_label: HashMap<Option<LabelId>, (u64, u64)>,
    /// Bytes sent plus received per address.
    pub by_host: HashMap<Addr, u64>,
}

/// At most this many hosts are counted per interval.
pub const MAX_INTERVAL_HOSTS: usize = 65_536;

impl IntervalCounters {
    pub fn add(&mut self, label: Option<LabelId>, src: Addr, dst: Addr, bytes: u64) {
        self.packets += 1;
        self.bytes += bytes;
        let e = self.by_label.entry(label).or_default();
        e.0 += 1;
        e.1 += bytes;
        for a in [src, dst] {
            if self.by_host.len() < MAX_INTERVAL_HOSTS || self.by_host.contains_key(&a) {
                *self.by_host.entry(a).or_default() += bytes;
            }
        }
    }

    /// Combines another worker's counters of the same interval into these (hosts up to the cap).
    pub fn merge(&mut self, o: &IntervalCounters) {
        self.packets += o.packets;
        self.bytes += o.bytes;
        for (label, (packets, bytes)) in &o.by_label {
            let e = self.by_label.entry(*label).or_default();
            e.0 += packets;
            e.1 += bytes;
        }
        for (a, bytes) in &o.by_host {
            if self.by_host.len() < MAX_INTERVAL_HOSTS || self.by_host.contains_key(a) {
                *self.by_host.entry(*a).or_default() += bytes;
            }
        }
    }
}

/// Distinct client and server addresses are counted exactly up to this many per statistic; beyond it
/// the count is reported as a lower bound, keeping memory bounded on floods of spoofed addresses.
/// With several workers, each counts its share (see [`crate::bounded::share`]) and the merge up to
/// this many.
pub const MAX_DISTINCT_ADDRS: usize = 100_000;

/// A set of addresses with a size cap.
#[derive(Clone, Debug)]
pub struct AddrSet {
    set: HashSet<Addr>,
    pub capped: bool,
    cap: usize,
}

impl Default for AddrSet {
    fn default() -> Self {
        AddrSet::with_cap(MAX_DISTINCT_ADDRS)
    }
}

impl AddrSet {
    pub fn with_cap(cap: usize) -> AddrSet {
        AddrSet {
            set: HashSet::default(),
            capped: false,
            cap,
        }
    }

    pub fn insert(&mut self, a: Addr) {
        if self.set.len() < self.cap {
            self.set.insert(a);
        } else if !self.set.contains(&a) {
            self.capped = true;
        }
    }
    pub fn len(&self) -> usize {
        self.set.len()
    }
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }
    pub fn merge(&mut self, other: &AddrSet) {
        for &a in &other.set {
            self.insert(a);
        }
        self.capped |= other.capped;
    }
    pub fn iter(&self) -> impl Iterator<Item = &Addr> {
        self.set.iter()
    }
}

/// A distribution: an auto-resizing hdrhistogram, whose quantiles are exact to 2 significant
/// digits (a value is known within 1%, reported as the top of its bucket), with the exact least
/// and greatest value recorded kept beside it (the histogram knows only their buckets).
#[derive(Clone, Debug)]
pub struct Dist {
    pub hist: Histogram<u64>,
    /// The least value recorded (`u64::MAX` while empty).
    pub min: u64,
    /// The greatest value recorded (0 while empty).
    pub max: u64,
}

impl Default for Dist {
    fn default() -> Self {
        Dist {
            // Two significant digits (1% resolution) keep each histogram a few KiB; it grows as
            // needed.
            hist: Histogram::new(2).expect("2 significant digits is valid"),
            min: u64::MAX,
            max: 0,
        }
    }
}

impl Dist {
    /// Records one value (an auto-resizing histogram never refuses a `u64`).
    #[inline]
    pub fn record(&mut self, value: u64) {
        self.record_n(value, 1);
    }

    /// Records a value `n` times.
    #[inline]
    pub fn record_n(&mut self, value: u64, n: u64) {
        if n == 0 {
            return;
        }
        let _ = self.hist.record_n(value, n);
        self.min = self.min.min(value);
        self.max = self.max.max(value);
    }

    pub fn add(&mut self, o: &Dist) {
        // Auto-resizing histograms of equal precision always merge.
        let _ = self.hist.add(&o.hist);
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
    }

    pub fn is_empty(&self) -> bool {
        self.hist.is_empty()
    }

    /// Values recorded.
    pub fn len(&self) -> u64 {
        self.hist.len()
    }

    /// The histogram's value at quantile `q` (within 1%), never above the exact maximum nor below
    /// the exact minimum.
    pub fn value_at_quantile(&self, q: f64) -> u64 {
        self.hist
            .value_at_quantile(q)
            .clamp(self.min.min(self.max), self.max)
    }
}

/// Frame lengths below this are tallied as packets come ([`SizeTally`]), longer ones go straight
/// to the histogram. Ethernet frames with two VLAN tags are at most 1,526 bytes.
const TALLIED_SIZES: u64 = 2048;

/// Below this a histogram of two significant digits keeps every value apart; from it on, each
/// power of two is split into 128 buckets (256 to 511 in steps of 2, 512 to 1,023 in steps of 4,
/// 1,024 to 2,047 in steps of 8).
const EXACT_SIZES: u64 = 256;

/// The tally's buckets: 256 exact sizes, then 128 for each of the three powers of two up to
/// [`TALLIED_SIZES`].
const TALLY_BUCKETS: usize = 256 + 3 * 128;

/// The tally bucket of a size below [`TALLIED_SIZES`]. The buckets are the histogram's own (a test
/// checks them against `Histogram::lowest_equivalent` for every size), so counting a size in its
/// bucket and recording the bucket's least size ([`bucket_floor`]) gives the histogram that
/// recording the size itself would.
#[inline]
fn tally_bucket(size: u64) -> usize {
    if size < EXACT_SIZES {
        return size as usize;
    }
    // 8, 9 or 10: the power of two the size lies in.
    let octave = 63 - size.leading_zeros();
    let shift = octave - 7;
    let step = size >> shift; // 128..=255
    256 + (octave as usize - 8) * 128 + (step as usize - 128)
}

/// The least size of a tally bucket (the inverse of [`tally_bucket`]).
fn bucket_floor(index: usize) -> u64 {
    if index < EXACT_SIZES as usize {
        return index as u64;
    }
    let octave = (index - 256) / 128 + 8;
    let step = ((index - 256) % 128 + 128) as u64;
    step << (octave - 7)
}

/// Packet sizes as they come, counted per histogram bucket, then folded into a [`Dist`] in one go
/// ([`SizeTally::fold_into`]). Recording a packet here is an increment where a histogram record
/// computes its bucket and updates its totals, extremes and range; the histogram that results is
/// the same, since a histogram's counts, extremes and total do not depend on the order of the
/// values, and the exact least and greatest size are kept beside the counts. 1,280 bytes (20 cache
/// lines) once a size has been recorded, nothing before: one label's packets touch few lines, which
/// stay cached between them.
#[derive(Clone, Debug)]
pub struct SizeTally {
    /// Packets in each bucket ([`tally_bucket`]); empty until the first one.
    counts: Vec<u16>,
    /// The least and greatest size counted (`u64::MAX` and 0 while nothing is).
    min: u64,
    max: u64,
}

impl Default for SizeTally {
    fn default() -> Self {
        SizeTally {
            counts: Vec::new(),
            min: u64::MAX,
            max: 0,
        }
    }
}

impl SizeTally {
    /// Counts a packet of `size` bytes; a size that is not tallied goes to `dist` at once.
    #[inline]
    pub fn record(&mut self, dist: &mut Dist, size: u64) {
        if size >= TALLIED_SIZES {
            dist.record(size);
            return;
        }
        if self.counts.is_empty() {
            self.counts = vec![0; TALLY_BUCKETS];
        }
        self.min = self.min.min(size);
        self.max = self.max.max(size);
        let i = tally_bucket(size);
        let c = &mut self.counts[i];
        *c += 1;
        if *c == u16::MAX {
            // A count never overflows, on an endless live capture either: a full one moves into
            // the histogram (the exact extremes follow when the tally is folded).
            let _ = dist.hist.record_n(bucket_floor(i), u64::from(*c));
            *c = 0;
        }
    }

    /// Records what was tallied in `dist` (leaving the tally as it is).
    pub fn fold_into(&self, dist: &mut Dist) {
        if self.min > self.max {
            return;
        }
        for (i, &n) in self.counts.iter().enumerate() {
            if n > 0 {
                let _ = dist.hist.record_n(bucket_floor(i), u64::from(n));
            }
        }
        dist.min = dist.min.min(self.min);
        dist.max = dist.max.max(self.max);
    }

    /// Moves what was tallied into `dist` and empties the tally.
    pub fn settle(&mut self, dist: &mut Dist) {
        self.fold_into(dist);
        if self.min <= self.max {
            self.counts.fill(0);
            (self.min, self.max) = (u64::MAX, 0);
        }
    }
}

/// Traffic statistics of a set of flows.
#[derive(Clone, Debug)]
pub struct Stats {
    pub flows: u64,
    pub packets: [u64; 2],
    pub bytes: [u64; 2],
    pub clients: AddrSet,
    pub servers: AddrSet,
    pub first_ts: Ts,
    pub last_ts: Ts,
    /// Frame length of each packet, bytes (with what `sizes` still holds: see [`Stats::settle`]).
    pub packet_size: Dist,
    /// Frame lengths recorded per packet and not yet in `packet_size`.
    pub sizes: SizeTally,
    /// Flow duration, microseconds.
    pub flow_duration_us: Dist,
    /// Bytes of each flow, both directions.
    pub flow_bytes: Dist,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            flows: 0,
            packets: [0; 2],
            bytes: [0; 2],
            clients: AddrSet::default(),
            servers: AddrSet::default(),
            first_ts: i64::MAX,
            last_ts: i64::MIN,
            packet_size: Dist::default(),
            sizes: SizeTally::default(),
            flow_duration_us: Dist::default(),
            flow_bytes: Dist::default(),
        }
    }
}

impl Stats {
    /// Statistics whose address sets hold at most `addr_cap` addresses each.
    pub fn with_addr_cap(addr_cap: usize) -> Stats {
        Stats {
            clients: AddrSet::with_cap(addr_cap),
            servers: AddrSet::with_cap(addr_cap),
            ..Stats::default()
        }
    }

    pub fn add_flow(&mut self, f: &Flow) {
        self.flows += 1;
        for d in [C2S, S2C] {
            self.packets[d] += f.packets[d];
            self.bytes[d] += f.bytes[d];
        }
        self.clients.insert(f.client().0);
        self.servers.insert(f.server().0);
        self.first_ts = self.first_ts.min(f.first_ts);
        self.last_ts = self.last_ts.max(f.last_ts);
        self.flow_duration_us
            .record((f.duration().max(0) / 1000) as u64);
        self.flow_bytes.record(f.total_bytes());
    }

    pub fn merge(&mut self, o: &Stats) {
        self.flows += o.flows;
        for d in [C2S, S2C] {
            self.packets[d] += o.packets[d];
            self.bytes[d] += o.bytes[d];
        }
        self.clients.merge(&o.clients);
        self.servers.merge(&o.servers);
        self.first_ts = self.first_ts.min(o.first_ts);
        self.last_ts = self.last_ts.max(o.last_ts);
        self.packet_size.add(&o.packet_size);
        o.sizes.fold_into(&mut self.packet_size);
        self.flow_duration_us.add(&o.flow_duration_us);
        self.flow_bytes.add(&o.flow_bytes);
    }

    /// Moves the per-packet sizes tallied so far into `packet_size`, which is then complete.
    pub fn settle(&mut self) {
        self.sizes.settle(&mut self.packet_size);
    }

    pub fn total_bytes(&self) -> u64 {
        self.bytes[C2S] + self.bytes[S2C]
    }

    pub fn total_packets(&self) -> u64 {
        self.packets[C2S] + self.packets[S2C]
    }
}

/// Counts of unclassified traffic on one (IP protocol, server port).
#[derive(Clone, Copy, Debug, Default)]
pub struct PortCounts {
    pub flows: u64,
    pub packets: u64,
    pub bytes: u64,
}

impl PortCounts {
    fn add_flow(&mut self, f: &Flow) {
        self.flows += 1;
        self.packets += f.total_packets();
        self.bytes += f.total_bytes();
    }

    fn merge(&mut self, o: &PortCounts) {
        self.flows += o.flows;
        self.packets += o.packets;
        self.bytes += o.bytes;
    }
}

/// At most this many distinct unclassified (protocol, port) pairs are tracked; the rest are summed
/// in the unclassified totals only.
pub const MAX_UNCLASSIFIED_PORTS: usize = 65_536 * 2 + 256;

/// Decode and input counters: how much of the capture svcscope could use.
#[derive(Clone, Debug, Default)]
pub struct DecodeCounters {
    pub packets: u64,
    pub bytes: u64,
    pub ip_packets: u64,
    pub not_ip: u64,
    /// What the frames without IP carried (a handful of kinds: the decoder names them).
    pub not_ip_by: BTreeMap<NotIp, u64>,
    pub malformed: BTreeMap<Malformed, u64>,
    /// Packets whose capture length is below their length on the wire.
    pub truncated: u64,
}

impl DecodeCounters {
    pub fn merge(&mut self, o: &DecodeCounters) {
        self.packets += o.packets;
        self.bytes += o.bytes;
        self.ip_packets += o.ip_packets;
        self.not_ip += o.not_ip;
        self.truncated += o.truncated;
        for (k, v) in &o.not_ip_by {
            *self.not_ip_by.entry(*k).or_default() += v;
        }
        for (k, v) in &o.malformed {
            *self.malformed.entry(*k).or_default() += v;
        }
    }
}

/// Everything the classifier accumulates; reports are built from it.
#[derive(Clone, Debug, Default)]
pub struct Aggregate {
    /// Indexed by label id; `None` until a flow with that label is seen.
    pub by_label: Vec<Option<Box<Stats>>>,
    pub unclassified: Stats,
    pub unclassified_ports: HashMap<(u8, u16), PortCounts>,
    /// TCP connection attempts the server never accepted, by the label they aimed at.
    pub unanswered: Stats,
    pub unanswered_by_label: HashMap<Option<LabelId>, u64>,
    /// TCP flows of which only one direction was seen (see [`Flow::is_one_direction`]); they count
    /// as service traffic as well.
    pub one_direction_flows: u64,
    /// Flows a selection (`analyze --service …`) left out: counted nowhere else.
    pub flows_not_selected: u64,
    pub decode: DecodeCounters,
    pub flow_counters: FlowCounters,
    /// What each host serves and uses (answered flows only).
    pub hosts: hosts::HostTable,
    /// Flows per DCE/RPC interface seen (bind, connectionless header or endpoint-mapper answer).
    pub rpc_interfaces: HashMap<Uuid, PortCounts>,
    /// Per service by basis (evidence, port, candidates), and the undetermined flows per label.
    pub by_basis: services::ByBasis,
    /// How clients authenticated, per service and server.
    pub auth: auth::AuthInventory,
    /// Bytes over time per service (and undetermined, unclassified), in bounded buckets.
    pub timeline: timeline::Timeline,
    pub inspect: Counters,
    /// Host names DNS answers gave (copied from the worker's registry with its counters).
    pub names: crate::inspect::names::Names,
    /// Verification per label, mismatches, what unclassified ports carry, TLS names per server.
    pub verified: verification::Verified,
    /// The workers sharing the process-wide caps; a merged aggregate has the whole caps.
    pub workers: Workers,
}

/// A label's statistics, the first time it is seen (kept out of the per-packet path).
#[cold]
#[inline(never)]
fn new_label_stats(workers: Workers) -> Box<Stats> {
    Box::new(Stats::with_addr_cap(workers.share(MAX_DISTINCT_ADDRS)))
}

/// At most this many distinct DCE/RPC interfaces are counted.
pub const MAX_INTERFACES: usize = 4096;

impl Aggregate {
    /// The aggregate of one of `workers` workers: its tables hold their share of each cap.
    pub fn with_share(workers: usize) -> Aggregate {
        let workers = Workers(workers.max(1));
        let addr_cap = workers.share(MAX_DISTINCT_ADDRS);
        Aggregate {
            unclassified: Stats::with_addr_cap(addr_cap),
            unanswered: Stats::with_addr_cap(addr_cap),
            hosts: hosts::HostTable::with_share(workers),
            auth: auth::AuthInventory::with_share(workers),
            workers,
            ..Aggregate::default()
        }
    }

    /// The statistics of a label, created the first time (inline: it runs for every packet).
    #[inline]
    fn label_stats(&mut self, label: LabelId) -> &mut Stats {
        let i = usize::from(label);
        if self.by_label.len() <= i {
            self.grow_labels(i + 1);
        }
        let workers = self.workers;
        self.by_label[i].get_or_insert_with(|| new_label_stats(workers))
    }

    #[cold]
    #[inline(never)]
    fn grow_labels(&mut self, len: usize) {
        self.by_label.resize_with(len, || None);
    }

    /// Records the frame length of one packet of a flow (see [`crate::flow::update`]). It is
    /// tallied: [`Aggregate::settle`] completes the histograms before anything reads them.
    #[inline]
    pub fn record_size(&mut self, label: Option<LabelId>, unanswered: bool, size: u64) {
        let stats = if unanswered {
            &mut self.unanswered
        } else {
            match label {
                Some(l) => self.label_stats(l),
                None => &mut self.unclassified,
            }
        };
        stats.sizes.record(&mut stats.packet_size, size);
    }

    /// Completes the packet-size histograms with the sizes tallied per packet (see
    /// [`Aggregate::record_size`]); the tracker calls it before handing its aggregate out.
    pub fn settle(&mut self) {
        for s in self.by_label.iter_mut().flatten() {
            s.settle();
        }
        self.unclassified.settle();
        self.unanswered.settle();
    }

    /// Folds an ended flow into the statistics; the catalog tells which services its evidence backs.
    pub fn end_flow(&mut self, f: &Flow, catalog: &Catalog) {
        let label = f.class.label;
        let interface = f.slot.as_ref().and_then(|s| s.interface);
        if let Some(u) = interface {
            let n = self.rpc_interfaces.len();
            if n < self.workers.share(MAX_INTERFACES) || self.rpc_interfaces.contains_key(&u) {
                let c = self.rpc_interfaces.entry(u).or_default();
                c.add_flow(f);
            }
        }
        if f.is_unanswered() {
            for &s in &f.pending[..usize::from(f.n_pending)] {
                self.unanswered.packet_size.record(u64::from(s));
            }
            self.unanswered.add_flow(f);
            *self.unanswered_by_label.entry(label).or_default() += 1;
            return;
        }
        self.one_direction_flows += u64::from(f.is_one_direction());
        let attribution = f.attribution(catalog);
        self.hosts.add(catalog, f, &attribution);
        self.auth.add(f, &attribution);
        let addr_cap = self.workers.share(MAX_DISTINCT_ADDRS);
        self.by_basis.add(catalog, f, &attribution, addr_cap);
        self.timeline.add_flow(f, &attribution);
        // Packets recorded under the label the flow had before evidence relabelled it count under
        // its final label too, at the flow's mean size (their own sizes are in the old label's
        // histogram, which the report shows only for labels that keep flows).
        let moved = f.slot.as_ref().map_or(0, |s| s.sized_under_old_label);
        let mean = f.total_bytes().checked_div(f.total_packets()).unwrap_or(0);
        let stats = match label {
            Some(l) => self.label_stats(l),
            None => &mut self.unclassified,
        };
        stats
            .packet_size
            .record_n(mean, moved.min(f.total_packets()));
        match label {
            Some(l) => self.label_stats(l).add_flow(f),
            None => {
                self.unclassified.add_flow(f);
                let key = (f.key.protocol, f.server().1);
                let n = self.unclassified_ports.len();
                let entry = if n < MAX_UNCLASSIFIED_PORTS {
                    Some(self.unclassified_ports.entry(key).or_default())
                } else {
                    self.unclassified_ports.get_mut(&key)
                };
                let kept = entry.is_some();
                if let Some(c) = entry {
                    c.add_flow(f);
                }
                self.verified.add(catalog, f, self.workers, kept);
                return;
            }
        }
        self.verified.add(catalog, f, self.workers, false);
    }

    /// Combines another worker's or interval's aggregate into this one.
    pub fn merge(&mut self, o: &Aggregate) {
        for (i, s) in o.by_label.iter().enumerate() {
            if let Some(s) = s {
                self.label_stats(i as LabelId).merge(s);
            }
        }
        self.unclassified.merge(&o.unclassified);
        for (k, v) in &o.unclassified_ports {
            let c = self.unclassified_ports.entry(*k).or_default();
            c.merge(v);
        }
        self.unanswered.merge(&o.unanswered);
        for (k, v) in &o.unanswered_by_label {
            *self.unanswered_by_label.entry(*k).or_default() += v;
        }
        self.one_direction_flows += o.one_direction_flows;
        self.flows_not_selected += o.flows_not_selected;
        self.decode.merge(&o.decode);
        self.hosts.merge(&o.hosts);
        for (k, v) in &o.rpc_interfaces {
            let c = self.rpc_interfaces.entry(*k).or_default();
            c.merge(v);
        }
        let addr_cap = self.workers.share(MAX_DISTINCT_ADDRS);
        self.by_basis.merge(&o.by_basis, addr_cap);
        self.auth.merge(&o.auth);
        self.timeline.merge(&o.timeline);
        self.inspect.merge(&o.inspect);
        self.names.merge(&o.names);
        self.verified.merge(&o.verified);
        let (a, b) = (&mut self.flow_counters, &o.flow_counters);
        a.flows_created += b.flows_created;
        a.flows_evicted += b.flows_evicted;
        a.fragments_attributed += b.fragments_attributed;
        a.fragments_unmatched += b.fragments_unmatched;
        a.fragments_evicted += b.fragments_evicted;
        a.peak_flows += b.peak_flows;
    }

    /// Iterates (label, stats) for every label seen.
    pub fn labels(&self) -> impl Iterator<Item = (LabelId, &Stats)> {
        self.by_label
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_deref().map(|s| (i as LabelId, s)))
    }
}

/// A flow for unit tests: TCP from 192.0.2.`client`:50000 to 192.0.2.10:445 with this label, 3 and
/// 2 packets and these bytes each way over 2 s; `answered` false makes it an unanswered attempt.
#[cfg(test)]
pub(crate) fn test_flow(
    label: Option<LabelId>,
    client: u8,
    bytes: [u64; 2],
    answered: bool,
) -> Flow {
    let (key, _) = crate::decode::FlowKey::of(
        6,
        Addr::from_v4([192, 0, 2, client]),
        Addr::from_v4([192, 0, 2, 10]),
        Some((50000, 445)),
    );
    let server = Addr::from_v4([192, 0, 2, 10]);
    let class = crate::flow::Class {
        client_is_lo: key.lo != server,
        server_rule: crate::flow::ServerRule::Syn,
        label,
        provenance: crate::inspect::Provenance::Port,
        inspector: None,
    };
    let mut f = Flow::new(key, class, 0);
    f.last_ts = 2_000_000_000;
    f.packets = [3, 2];
    f.bytes = bytes;
    f.answered = answered;
    f
}

#[cfg(test)]
mod tests {
    use super::test_flow as flow;
    use super::*;
    use crate::catalog::{Catalog, Transport};
    use crate::inspect::{Basis, Evidence, EvidenceKind, Provenance, Slot, Value};

    /// The tally's buckets are the histogram's: two sizes share a bucket exactly when the
    /// histogram cannot tell them apart, and a bucket's floor is the histogram's least equivalent.
    #[test]
    fn tally_buckets_are_the_histograms_buckets() {
        let hist = Dist::default().hist;
        let mut seen = vec![false; TALLY_BUCKETS];
        for size in 0..TALLIED_SIZES {
            let i = tally_bucket(size);
            assert_eq!(bucket_floor(i), hist.lowest_equivalent(size), "size {size}");
            seen[i] = true;
            if size > 0 {
                let prev = tally_bucket(size - 1);
                assert_eq!(prev == i, hist.equivalent(size - 1, size), "size {size}");
            }
        }
        assert!(seen.iter().all(|&s| s), "every bucket holds some size");
    }

    /// A bucket's count that fills moves into the histogram and counting goes on.
    #[test]
    fn a_full_tally_count_moves_into_the_histogram() {
        let mut stats = Stats::default();
        let n = 3 * u64::from(u16::MAX) + 5;
        for i in 0..n {
            // 1,500 and 1,503 share a bucket.
            let size = if i % 2 == 0 { 1500 } else { 1503 };
            stats.sizes.record(&mut stats.packet_size, size);
        }
        stats.settle();
        let d = &stats.packet_size;
        assert_eq!(d.len(), n);
        assert_eq!((d.min, d.max), (1500, 1503));
        assert_eq!(d.value_at_quantile(0.5), 1503);
    }

    #[test]
    fn tallied_packet_sizes_make_the_histogram_recording_each_would() {
        // Every tallied size, the sizes beyond the tally, and the ends of the range, in an order
        // that is not sorted.
        let sizes: Vec<u64> = (0..20_000u64)
            .map(|i| (i * 7919) % 2100)
            .chain([0, 1, 2047, 2048, 9000, 65_535, 1 << 40])
            .collect();
        let mut direct = Dist::default();
        let mut stats = Stats::default();
        for &v in &sizes {
            direct.record(v);
            stats.sizes.record(&mut stats.packet_size, v);
        }
        // A merge folds the other side's tally in; settling folds one's own.
        let mut merged = Stats::default();
        merged.merge(&stats);
        stats.settle();
        for d in [&stats.packet_size, &merged.packet_size] {
            assert!(d.hist == direct.hist);
            assert_eq!(
                (d.min, d.max, d.len()),
                (direct.min, direct.max, direct.len())
            );
            for q in [0.0, 0.25, 0.5, 0.9, 0.99, 1.0] {
                assert_eq!(d.value_at_quantile(q), direct.value_at_quantile(q));
            }
        }
        // Settled twice counts nothing twice.
        stats.settle();
        assert_eq!(stats.packet_size.len(), sizes.len() as u64);
    }

    /// Regression: the maximum was the histogram's bucket edge (1519 B for frames of at most 1514 B)
    /// and p99 could exceed it; the exact range is kept beside the histogram and merges exactly.
    #[test]
    fn distributions_keep_their_exact_range_through_merges() {
        let (mut a, mut b) = (Dist::default(), Dist::default());
        a.record_n(66, 50);
        a.record(1514);
        b.record(61);
        b.record(1513);
        assert_eq!((a.min, a.max), (66, 1514));
        assert!(a.hist.max() > 1514, "the bucket edge is above the value");
        assert_eq!(a.value_at_quantile(0.99), 1514);
        a.add(&Dist::default());
        assert_eq!((a.min, a.max), (66, 1514), "an empty merge changes nothing");
        let mut empty = Dist::default();
        empty.record_n(7, 0);
        assert!(empty.is_empty());
        a.add(&b);
        assert_eq!((a.min, a.max, a.len()), (61, 1514, 53));
        assert_eq!(a.value_at_quantile(1.0), 1514);
        assert_eq!(a.value_at_quantile(0.0), 61);
    }

    const NETLOGON: &str = "12345678-1234-abcd-ef00-01234567cffb";

    #[test]
    fn flows_fold_into_their_label_and_merge() {
        let c = Catalog::builtin();
        let mut a = Aggregate::default();
        a.end_flow(&flow(Some(3), 101, [100, 200], true), &c);
        a.end_flow(&flow(Some(3), 102, [10, 20], true), &c);
        a.end_flow(&flow(None, 103, [1, 2], true), &c);
        a.end_flow(&flow(Some(3), 104, [60, 0], false), &c);
        let s = a.by_label[3].as_ref().unwrap();
        assert_eq!(
            (s.flows, s.bytes, s.clients.len(), s.servers.len()),
            (2, [110, 220], 2, 1)
        );
        assert_eq!(s.flow_duration_us.max, 2_000_000);
        assert_eq!(a.unclassified.flows, 1);
        assert_eq!(a.unclassified_ports[&(6, 445)].bytes, 3);
        assert_eq!(
            (a.unanswered.flows, a.unanswered_by_label[&Some(3)]),
            (1, 1)
        );

        let mut b = Aggregate::default();
        b.end_flow(&flow(Some(3), 101, [1, 1], true), &c);
        b.merge(&a);
        let s = b.by_label[3].as_ref().unwrap();
        assert_eq!((s.flows, s.clients.len()), (3, 2));
        assert_eq!(s.flow_bytes.len(), 3);
    }

    /// A flow on SMB (TCP 445) with a DCE/RPC bind of Net Logon's interface: evidence names it.
    fn netlogon_over_smb(c: &Catalog, client: u8, bytes: [u64; 2]) -> Flow {
        let uuid = crate::catalog::Uuid::parse(NETLOGON).unwrap();
        let label = c.interface_label(uuid, false);
        let mut f = flow(c.lookup_port(Transport::Tcp, 445), client, bytes, true);
        f.class.label = label;
        f.class.provenance = Provenance::Evidence(EvidenceKind::RpcBind);
        let e = Evidence::labelled(EvidenceKind::RpcBind, Value::Interface(uuid), label);
        f.slot = Some(Box::new(Slot::with(e, Some(uuid))));
        f
    }

    fn service_id(c: &Catalog, name: &str) -> u16 {
        c.services.iter().position(|s| s.name == name).unwrap() as u16
    }

    /// What the per-service view of an aggregate holds, comparable across merges.
    fn by_service(c: &Catalog, a: &Aggregate) -> Vec<String> {
        let mut v: Vec<String> = a
            .by_basis
            .services()
            .map(|(id, s)| {
                let d = &s.determined;
                format!(
                    "{} determined {} {:?} {:?} c{} s{} p50 {} evidence {} {} candidates {} {} \
                     labels {:?} items {:?} other {}",
                    c.service(id).name,
                    d.flows,
                    d.packets,
                    d.bytes,
                    d.clients.len(),
                    d.servers.len(),
                    d.packet_size.value_at_quantile(0.5),
                    s.evidence_flows,
                    s.evidence_bytes,
                    s.candidate_flows,
                    s.candidate_bytes,
                    s.labels,
                    s.evidence.items,
                    s.evidence.other_flows
                )
            })
            .collect();
        v.extend(a.by_basis.undetermined().map(|(l, s)| {
            format!(
                "undetermined {} {} {} c{}",
                c.label(l).name,
                s.flows,
                s.total_bytes(),
                s.clients.len()
            )
        }));
        let (e, u) = (&a.by_basis.evidence, &a.by_basis.candidates);
        v.push(format!(
            "totals {} {} {} {}",
            e.flows, e.bytes, u.flows, u.bytes
        ));
        v
    }

    #[test]
    fn services_are_credited_by_evidence_or_port_and_shared_ports_stay_undetermined() {
        let c = Catalog::builtin();
        let smb = c.lookup_port(Transport::Tcp, 445);
        let kerberos = c.lookup_port(Transport::Tcp, 88);
        let mut a = Aggregate::default();
        a.end_flow(&netlogon_over_smb(&c, 101, [300, 400]), &c);
        a.end_flow(&flow(smb, 102, [10, 20], true), &c);
        a.end_flow(&flow(smb, 103, [5, 5], true), &c);
        a.end_flow(&flow(kerberos, 104, [50, 70], true), &c);
        // Unanswered attempts credit nothing.
        a.end_flow(&flow(smb, 105, [60, 0], false), &c);

        let svc = |name: &str| {
            a.by_basis.services[usize::from(service_id(&c, name))]
                .as_deref()
                .unwrap()
        };
        let netlogon = svc("Net Logon");
        assert_eq!(
            (
                netlogon.determined.flows,
                netlogon.determined.total_bytes(),
                netlogon.evidence_flows,
                netlogon.evidence_bytes,
                netlogon.basis()
            ),
            (1, 700, 1, 700, Basis::Evidence)
        );
        // And one of the two undetermined SMB flows' candidates, never summed into its traffic.
        assert_eq!(
            (netlogon.candidate_flows, netlogon.candidate_bytes),
            (2, 40)
        );
        let uuid = crate::catalog::Uuid::parse(NETLOGON).unwrap();
        assert_eq!(
            netlogon.evidence.items,
            vec![services::EvidenceCount {
                kind: EvidenceKind::RpcBind,
                value: Value::Interface(uuid),
                flows: 1
            }]
        );
        // The mean frame size counts once per packet: 700 bytes over 5 packets.
        assert_eq!(netlogon.determined.packet_size.len(), 5);
        assert_eq!(netlogon.determined.packet_size.value_at_quantile(0.5), 140);
        let fax = svc("Fax Service");
        assert_eq!(
            (
                fax.determined.flows,
                fax.candidate_flows,
                fax.candidate_bytes
            ),
            (0, 2, 40)
        );
        let kdc = svc("Kerberos Key Distribution Center");
        assert_eq!(
            (kdc.determined.flows, kdc.evidence_flows, kdc.basis()),
            (1, 0, Basis::Port)
        );
        assert_eq!(kdc.labels, vec![kerberos.unwrap()]);
        let undetermined: Vec<(LabelId, u64, u64)> = a
            .by_basis
            .undetermined()
            .map(|(l, s)| (l, s.flows, s.total_bytes()))
            .collect();
        assert_eq!(undetermined, vec![(smb.unwrap(), 2, 40)]);
        let (e, u) = (&a.by_basis.evidence, &a.by_basis.candidates);
        assert_eq!((e.flows, e.bytes, u.flows, u.bytes), (1, 700, 2, 40));
    }

    #[test]
    fn per_service_statistics_merge_to_what_one_aggregate_counts() {
        let c = Catalog::builtin();
        let smb = c.lookup_port(Transport::Tcp, 445);
        let kerberos = c.lookup_port(Transport::Tcp, 88);
        let flows = vec![
            netlogon_over_smb(&c, 101, [300, 400]),
            flow(smb, 102, [10, 20], true),
            netlogon_over_smb(&c, 102, [30, 40]),
            flow(kerberos, 104, [50, 70], true),
            flow(smb, 101, [7, 9], true),
            flow(kerberos, 101, [1, 2], true),
            netlogon_over_smb(&c, 103, [3, 4]),
        ];
        let mut one = Aggregate::default();
        for f in &flows {
            one.end_flow(f, &c);
        }
        // Two workers' shares, then an interval merged into an empty total.
        let (mut w1, mut w2) = (Aggregate::with_share(2), Aggregate::with_share(2));
        for (i, f) in flows.iter().enumerate() {
            if i % 2 == 0 { &mut w1 } else { &mut w2 }.end_flow(f, &c);
        }
        let mut merged = Aggregate::default();
        merged.merge(&w1);
        merged.merge(&w2);
        assert_eq!(by_service(&c, &merged), by_service(&c, &one));
        let netlogon = one.by_basis.services[usize::from(service_id(&c, "Net Logon"))]
            .as_deref()
            .unwrap();
        assert_eq!(
            (netlogon.evidence_flows, netlogon.evidence.items[0].flows),
            (3, 3)
        );
    }

    #[test]
    fn the_evidence_summary_is_capped_and_counts_what_it_left_out() {
        let mut s = services::EvidenceSummary::default();
        for n in 0..services::MAX_SUMMARY_ITEMS + 3 {
            let v = Value::Text(format!("pipe{n}").into());
            s.add(EvidenceKind::SmbPipe, &v, 2);
        }
        // An item already summarised still counts when the summary is full.
        s.add(EvidenceKind::SmbPipe, &Value::Text("pipe0".into()), 1);
        assert_eq!(s.items.len(), services::MAX_SUMMARY_ITEMS);
        assert_eq!((s.items[0].flows, s.other_flows), (3, 6));
        let mut t = services::EvidenceSummary::default();
        t.add(EvidenceKind::SmbPipe, &Value::Text("other".into()), 4);
        s.merge(&t);
        assert_eq!(s.other_flows, 10);
        // Wire text is kept cut short: names differing past the cut are one item.
        let mut s = services::EvidenceSummary::with_cap(2);
        let long = |tail: &str| Value::Text(format!("{}{tail}", "é".repeat(200)).into());
        s.add(EvidenceKind::SmbShare, &long("a"), 1);
        s.add(EvidenceKind::SmbShare, &long("b"), 1);
        assert_eq!((s.items.len(), s.items[0].flows), (1, 2));
        let Value::Text(kept) = &s.items[0].value else {
            panic!("{:?}", s.items[0].value)
        };
        assert!(
            kept.len() <= services::MAX_SUMMARY_TEXT + '…'.len_utf8(),
            "{}",
            kept.len()
        );
        assert!(kept.ends_with('…'));
    }

    #[test]
    fn address_sets_are_capped() {
        let mut s = AddrSet::default();
        for i in 0..(MAX_DISTINCT_ADDRS as u32 + 10) {
            s.insert(Addr::from_bits(u128::from(i)));
        }
        assert_eq!(s.len(), MAX_DISTINCT_ADDRS);
        assert!(s.capped);
    }
}
