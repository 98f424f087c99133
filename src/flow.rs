//! Flow table: bidirectional flows keyed on (IP protocol, address pair, port pair).
//!
//! Time is trace time: every timeout and sweep follows packet timestamps, never the wall clock, so a
//! capture file gives the same flows however fast it is read. A flow ends when it has been idle longer
//! than its protocol's timeout, shortly after a TCP close (both FINs, or a RST), when a new SYN reuses a
//! closed connection's ports, when the table is full (eviction), or at the end of input. Ended flows are
//! handed back to the caller; the table never classifies or aggregates (see `classify` and `aggregate`).
//!
//! Memory is bounded by `max_flows`: when the table is full, the least recently active sixteenth of
//! the flows is ended early and counted as evicted. IPv4/IPv6 fragments without a transport header are
//! attributed through a table of recent first fragments, itself bounded: when it is full, the oldest
//! first fragment is forgotten (counted), so a flood of first fragments costs O(1) each.
//!
//! Speed: the table is one hashbrown `HashTable` of flows, each hashed by its key (stored once, in the
//! flow). With tens of thousands of flows the table outgrows the caches and a lookup is a cache miss,
//! so the tracker looks up a group of packets' flows first ([`FlowTable::warm`]), letting the misses
//! overlap, and then places the packets with the key and hash already worked out. Closed TCP flows wait
//! in a queue for their short linger, so the sweep of the whole table for idle flows runs only every
//! quarter of the shortest idle timeout.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hash::BuildHasher;
use std::time::Duration;

use hashbrown::HashTable;

use crate::bounded::BoundedMap;

use crate::catalog::{Catalog, LabelId};
use crate::decode::{proto, tcp_flags, Addr, Decoded, FlowKey, Fragment};
use crate::inspect::verify::{self, Verification};
use crate::inspect::{attribute, Attribution, EntryId, Provenance, Slot};
use crate::time::{nanos, Ts};
use crate::wire::signature::Wire;

/// Which rule decided the server side of a flow (recorded in flow records).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServerRule {
    /// A SYN without ACK came from the client.
    Syn,
    /// A SYN+ACK came from the server.
    SynAck,
    /// Exactly one side's port is in the catalog.
    CatalogPort,
    /// The client spoke to this server's RPC endpoint mapper shortly before.
    EndpointMapper,
    /// This endpoint was the server of an earlier flow whose side a handshake decided.
    KnownServer,
    /// This endpoint took part in an earlier flow with another peer; the other did not.
    RepeatedEndpoint,
    /// An earlier control connection announced this endpoint (endpoint mapper, FTP, TFTP).
    Announced,
    /// The client sent a DCE/RPC bind (decided after the first packet, overriding the earlier rule).
    RpcBind,
    /// One port is well-known (below 1024), the other is not.
    WellKnownPort,
    /// Both ports are 1024 or above: the lower one.
    LowerPort,
    /// ICMP echo request/reply and similar request types.
    IcmpType,
    /// Nothing else applied (equal ports, port-less protocols): the first packet's destination.
    FirstPacket,
}

impl ServerRule {
    pub fn as_str(self) -> &'static str {
        match self {
            ServerRule::Syn => "syn",
            ServerRule::SynAck => "syn-ack",
            ServerRule::CatalogPort => "catalog-port",
            ServerRule::EndpointMapper => "endpoint-mapper",
            ServerRule::KnownServer => "known-server",
            ServerRule::RepeatedEndpoint => "repeated-endpoint",
            ServerRule::Announced => "announced",
            ServerRule::RpcBind => "rpc-bind",
            ServerRule::WellKnownPort => "well-known-port",
            ServerRule::LowerPort => "lower-port",
            ServerRule::IcmpType => "icmp-type",
            ServerRule::FirstPacket => "first-packet",
        }
    }
}

/// What classification decided for a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Class {
    /// True when the key's `lo` endpoint is the client.
    pub client_is_lo: bool,
    pub server_rule: ServerRule,
    pub label: Option<LabelId>,
    pub provenance: Provenance,
    /// The inspector that reads this flow's payload (DCE/RPC, FTP control, …), if any.
    pub inspector: Option<EntryId>,
}

/// Why a flow ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    Idle,
    Closed,
    Reused,
    Evicted,
    EndOfInput,
}

/// Where ended flows go besides the statistics (the flow records of `--flows`, rendered by the
/// report module). The tracker hands each ended flow over once it is classified and counted.
///
/// With several classifier workers, each holds its own sink made by [`FlowSink::fork`] from the
/// first; all of them go to the same destination, each flow's record whole.
pub trait FlowSink: Send {
    /// A flow ended (in order of first packet within one batch of ended flows).
    fn ended(&mut self, f: &Flow, why: EndReason);
    /// A flow still going has been active for another export interval (see
    /// `TrackerConfig::active_timeout`); only sinks that export active flows care.
    fn active(&mut self, _f: &Flow) {}
    /// Writes out whatever is buffered; the first error writing (of this sink or of any sink forked
    /// from the same one), if any.
    fn finish(&mut self) -> Result<(), String>;
    /// Another sink to the same destination, for a worker on another thread.
    fn fork(&self) -> Box<dyn FlowSink>;
}

/// Several sinks fed the same flows (`--flows` and `--ipfix`), in order.
pub struct FanOut(pub Vec<Box<dyn FlowSink>>);

impl FlowSink for FanOut {
    fn ended(&mut self, f: &Flow, why: EndReason) {
        self.0.iter_mut().for_each(|s| s.ended(f, why));
    }

    fn active(&mut self, f: &Flow) {
        self.0.iter_mut().for_each(|s| s.active(f));
    }

    /// Every sink finishes; the first error.
    fn finish(&mut self) -> Result<(), String> {
        let mut first = Ok(());
        for s in &mut self.0 {
            let r = s.finish();
            if first.is_ok() {
                first = r;
            }
        }
        first
    }

    fn fork(&self) -> Box<dyn FlowSink> {
        Box::new(FanOut(self.0.iter().map(|s| s.fork()).collect()))
    }
}

/// Direction index: 0 = client to server, 1 = server to client.
pub const C2S: usize = 0;
pub const S2C: usize = 1;

/// Packet sizes held back until a TCP flow that began with a SYN is answered, so that unanswered
/// probes do not count as service traffic.
pub const PENDING_SIZES: usize = 4;

/// One bidirectional flow.
#[derive(Debug)]
pub struct Flow {
    pub key: FlowKey,
    pub class: Class,
    pub first_ts: Ts,
    pub last_ts: Ts,
    pub packets: [u64; 2],
    pub bytes: [u64; 2],
    /// TCP flags seen in each direction (OR of all).
    pub flags: [u8; 2],
    /// Sizes of client packets not yet recorded (see [`PENDING_SIZES`]).
    pub pending: [u16; PENDING_SIZES],
    pub n_pending: u8,
    /// True once the server side has answered (always true for flows not opened by a seen SYN).
    pub answered: bool,
    /// Inspection of the payload is over (see [`Class::inspector`]): later packets skip it.
    pub inspect_done: bool,
    /// The flow's inspection state and evidence, once it has any (see `inspect::Slot`).
    pub slot: Option<Box<Slot>>,
    fin: [bool; 2],
    closed: bool,
}

impl Flow {
    /// A flow with no packets yet.
    pub fn new(key: FlowKey, class: Class, ts: Ts) -> Flow {
        Flow {
            key,
            class,
            first_ts: ts,
            last_ts: ts,
            packets: [0; 2],
            bytes: [0; 2],
            flags: [0; 2],
            pending: [0; PENDING_SIZES],
            n_pending: 0,
            answered: true,
            inspect_done: false,
            slot: None,
            fin: [false; 2],
            closed: false,
        }
    }

    pub fn client(&self) -> (Addr, u16) {
        if self.class.client_is_lo {
            (self.key.lo, self.key.lo_port)
        } else {
            (self.key.hi, self.key.hi_port)
        }
    }

    pub fn server(&self) -> (Addr, u16) {
        if self.class.client_is_lo {
            (self.key.hi, self.key.hi_port)
        } else {
            (self.key.lo, self.key.lo_port)
        }
    }

    /// The services the flow is credited with, and on what basis (see `inspect::attribute`).
    pub fn attribution(&self, catalog: &Catalog) -> Attribution {
        attribute(
            catalog,
            self.slot.as_ref().map(|s| &s.evidence),
            self.class.label,
            self.class.provenance,
        )
    }

    /// Whether the payload verified the flow's label (see `inspect::verify`); `None` when it has
    /// no label.
    pub fn verification(&self, catalog: &Catalog) -> Option<Verification> {
        let syn = (self.flags[C2S] | self.flags[S2C]) & tcp_flags::SYN != 0;
        verify::verdict(
            catalog,
            self.class.label,
            self.key.protocol,
            self.slot.as_deref(),
            syn,
        )
    }

    /// What the flow's payload looks like (the client's first payload's protocol, else the
    /// server's), if it carried any.
    pub fn looks_like(&self) -> Option<Wire> {
        verify::looks_like(self.slot.as_deref())
    }

    pub fn has_ports(&self) -> bool {
        matches!(self.key.protocol, proto::TCP | proto::UDP)
    }

    pub fn total_bytes(&self) -> u64 {
        self.bytes[C2S] + self.bytes[S2C]
    }

    /// Swaps client and server (later evidence, such as a DCE/RPC bind, showed the other side asks).
    pub fn flip(&mut self) {
        self.class.client_is_lo = !self.class.client_is_lo;
        self.packets.swap(C2S, S2C);
        self.bytes.swap(C2S, S2C);
        self.flags.swap(C2S, S2C);
        self.fin.swap(C2S, S2C);
    }

    pub fn total_packets(&self) -> u64 {
        self.packets[C2S] + self.packets[S2C]
    }

    pub fn duration(&self) -> i64 {
        self.last_ts.saturating_sub(self.first_ts)
    }

    /// A TCP connection attempt the server never accepted: a SYN, then nothing from the server or
    /// only RSTs, and nothing from the client but SYNs and RSTs.
    pub fn is_unanswered(&self) -> bool {
        !self.answered
    }

    /// A TCP flow of which only one direction was seen, though it carried more than an unanswered
    /// attempt (the client went on past its SYN, or the server's side alone was captured): the
    /// capture probably misses the other direction (a SPAN port fed one way, asymmetric routing).
    pub fn is_one_direction(&self) -> bool {
        self.key.protocol == proto::TCP
            && self.answered
            && (self.packets[C2S] == 0 || self.packets[S2C] == 0)
    }

    /// A TCP connection that has ended (both FINs, or a RST).
    pub fn is_closed(&self) -> bool {
        self.closed
    }
}

/// Idle timeouts, in trace time.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    pub tcp: Duration,
    pub tcp_closed: Duration,
    pub udp: Duration,
    pub other: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            tcp: Duration::from_secs(2 * 3600),
            tcp_closed: Duration::from_secs(10),
            udp: Duration::from_secs(120),
            other: Duration::from_secs(120),
        }
    }
}

/// Default cap on concurrent flows (7/8 of 2^19, what a hash table of 2^19 buckets holds). A bucket
/// is a 120-byte flow and a control byte; with the table's growth and everything else, peak memory
/// at the cap is about 260 MiB (measured: see the README's memory section).
pub const DEFAULT_MAX_FLOWS: usize = 458_752;
/// First fragments remembered for their later fragments (for the whole process: see
/// [`crate::bounded::share`]).
pub const MAX_FRAGMENTS: usize = 65_536;
const FRAGMENT_TIMEOUT: i64 = 30_000_000_000;
const SWEEP_EVERY: i64 = 1_000_000_000;
/// Flows sampled to choose the eviction cut-off.
const EVICTION_SAMPLE: usize = 4096;

/// Counters the flow table keeps for capture health.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct FlowCounters {
    pub flows_created: u64,
    pub flows_evicted: u64,
    pub fragments_attributed: u64,
    pub fragments_unmatched: u64,
    /// First fragments forgotten before their datagram's later fragments came, the table being full.
    pub fragments_evicted: u64,
    pub peak_flows: u64,
}

/// The result of placing one packet in the table.
pub enum Placed<'t> {
    /// An existing flow; `from_client` tells the packet's direction.
    Existing {
        flow: &'t mut Flow,
        from_client: bool,
    },
    /// A new flow: the caller must classify it with [`FlowTable::insert`].
    New { key: FlowKey, src_is_lo: bool },
    /// A later fragment whose first fragment was not seen.
    Unmatched,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct FragKey {
    src: Addr,
    dst: Addr,
    protocol: u8,
    id: u32,
}

/// A flow as the table stores it: on a cache-line boundary, so that its 120 bytes take two cache
/// lines rather than three (and two fetches ahead of its packet, see [`FlowTable::warm`]). The
/// flows that end leave the table without it.
#[repr(align(64))]
struct Stored(Flow);

impl std::ops::Deref for Stored {
    type Target = Flow;
    #[inline]
    fn deref(&self) -> &Flow {
        &self.0
    }
}

impl std::ops::DerefMut for Stored {
    #[inline]
    fn deref_mut(&mut self) -> &mut Flow {
        &mut self.0
    }
}

pub struct FlowTable {
    /// The flows, each hashed by its key ([`FlowKey::hash`]); the key lives only in the flow.
    flows: HashTable<Stored>,
    /// First fragments by datagram: the ports and when it came.
    fragments: BoundedMap<FragKey, ((u16, u16), Ts)>,
    /// Closed TCP flows by the time of their last packet, earliest on top, so that they end once
    /// their short linger is over without a sweep of the whole table. Entries of flows that ended
    /// otherwise (reuse, eviction) go stale and are dropped when they come up; at most `2 * max_flows`
    /// entries (48 bytes each), then the queue is rebuilt from the table.
    closing: BinaryHeap<Reverse<(Ts, FlowKey)>>,
    timeouts: Timeouts,
    max_flows: usize,
    now: Ts,
    last_sweep: Ts,
    /// How often (trace time) idle flows are looked for: a quarter of the shortest idle timeout, at
    /// least a second, so a flow ends at most a quarter of its timeout late while sweeps stay rare.
    sweep_every: i64,
    /// The closed-TCP linger in nanoseconds.
    linger: i64,
    pub counters: FlowCounters,
    /// Flows looked at by evictions (the work they do, for tests).
    evict_examined: u64,
    /// The flow keys' hasher, seeded at random (see [`crate::hash`]): addresses a sender picks
    /// cannot be made to collide in the table.
    hasher: crate::hash::Seeded,
}

/// A packet's flow key and its hash, worked out ahead of [`FlowTable::place`] (see
/// [`FlowTable::warm`]).
#[derive(Clone, Copy, Debug)]
pub struct Lookup {
    key: FlowKey,
    src_is_lo: bool,
    hash: u64,
}

impl FlowTable {
    pub fn new(timeouts: Timeouts, max_flows: usize) -> FlowTable {
        FlowTable::with_fragment_cap(timeouts, max_flows, MAX_FRAGMENTS)
    }

    /// A table of at most `max_flows` flows that remembers at most `max_fragments` first fragments.
    pub fn with_fragment_cap(
        timeouts: Timeouts,
        max_flows: usize,
        max_fragments: usize,
    ) -> FlowTable {
        FlowTable {
            flows: HashTable::new(),
            hasher: crate::hash::Seeded::default(),
            fragments: BoundedMap::new(max_fragments),
            closing: BinaryHeap::new(),
            timeouts,
            max_flows: max_flows.max(1),
            now: i64::MIN,
            last_sweep: i64::MIN,
            sweep_every: [timeouts.tcp, timeouts.udp, timeouts.other]
                .iter()
                .map(|&d| nanos(d) / 4)
                .min()
                .unwrap_or(0)
                .max(SWEEP_EVERY),
            linger: nanos(timeouts.tcp_closed),
            counters: FlowCounters::default(),
            evict_examined: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.flows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    /// Current trace time: the latest packet timestamp seen.
    pub fn now(&self) -> Ts {
        self.now
    }

    /// Active flows, for periodic reports.
    pub fn iter(&self) -> impl Iterator<Item = &Flow> {
        self.flows.iter().map(|s| &s.0)
    }

    /// A time before which [`FlowTable::advance`] only moves the clock: no sweep for idle flows and
    /// no closed flow's end is due before it (it may be early, never late). A caller following the
    /// clock through many timestamps can skip those before it, as long as it then advances to the
    /// latest of them.
    #[inline]
    pub fn next_due(&self) -> Ts {
        let sweep = self.last_sweep.saturating_add(self.sweep_every);
        let closed = self
            .closing
            .peek()
            .map_or(Ts::MAX, |&Reverse((t, _))| t.saturating_add(self.linger));
        sweep.min(closed)
    }

    /// A time before which nothing is due (see [`FlowTable::next_due`]) while only packets no
    /// earlier than `earliest` arrive, whatever flows they close.
    #[inline]
    pub fn quiet_until(&self, earliest: Ts) -> Ts {
        self.next_due().min(earliest.saturating_add(self.linger))
    }

    /// Moves trace time forward to `ts`, ending nothing: only for a time before
    /// [`FlowTable::next_due`], where [`FlowTable::advance`] would do just that.
    #[inline]
    pub fn set_clock(&mut self, ts: Ts) {
        debug_assert!(ts < self.next_due() || ts <= self.now);
        if ts > self.now {
            self.now = ts;
        }
    }

    /// Advances trace time; ends closed flows whose linger is over, and idle flows once per sweep
    /// interval, into `ended`.
    #[inline]
    pub fn advance(&mut self, ts: Ts, ended: &mut Vec<(Flow, EndReason)>) {
        if ts > self.now {
            self.now = ts;
        }
        if self.now.saturating_sub(self.last_sweep) >= self.sweep_every {
            self.last_sweep = self.now;
            self.sweep(ended);
        }
        if self
            .closing
            .peek()
            .is_some_and(|&Reverse((t, _))| self.now.saturating_sub(t) > self.linger)
        {
            self.end_closed(ended);
        }
    }

    /// Notes that a flow has just closed (both FINs, or a RST): it ends after the closed-TCP linger.
    pub fn closed(&mut self, key: FlowKey, ts: Ts) {
        if self.closing.len() >= 2 * self.max_flows {
            // Mostly stale entries (a flood of closes whose flows were since evicted or reused):
            // start again from the closed flows in the table, this one among them. At least
            // `max_flows` closes come between two rebuilds.
            self.closing = self
                .flows
                .iter()
                .filter(|f| f.closed)
                .map(|f| Reverse((f.last_ts, f.key)))
                .collect();
            return;
        }
        self.closing.push(Reverse((ts, key)));
    }

    fn end_closed(&mut self, ended: &mut Vec<(Flow, EndReason)>) {
        let linger = self.linger;
        while let Some(&Reverse((t, key))) = self.closing.peek() {
            if self.now.saturating_sub(t) <= linger {
                break;
            }
            self.closing.pop();
            let Ok(entry) = self
                .flows
                .find_entry(self.hasher.hash_one(key), |f| f.key == key)
            else {
                continue;
            };
            let f = entry.get();
            if !f.closed {
                // The ports were reused by a new connection.
                continue;
            }
            if self.now.saturating_sub(f.last_ts) > linger {
                let (f, _) = entry.remove();
                ended.push((f.0, EndReason::Closed));
            } else {
                // Packets after the close: look again a linger after the last one.
                let last = f.last_ts;
                self.closing.push(Reverse((last, key)));
            }
        }
    }

    fn sweep(&mut self, ended: &mut Vec<(Flow, EndReason)>) {
        let now = self.now;
        let t = self.timeouts;
        let timeout = |f: &Flow| {
            nanos(if f.closed {
                t.tcp_closed
            } else {
                match f.key.protocol {
                    proto::TCP => t.tcp,
                    proto::UDP => t.udp,
                    _ => t.other,
                }
            })
        };
        for f in self
            .flows
            .extract_if(|f| now.saturating_sub(f.last_ts) > timeout(f))
        {
            let why = if f.closed {
                EndReason::Closed
            } else {
                EndReason::Idle
            };
            ended.push((f.0, why));
        }
        // In the order they came, which is trace time's: only the expired ones are looked at.
        self.fragments
            .expire(|&(_, ts)| now.saturating_sub(ts) > FRAGMENT_TIMEOUT);
    }

    /// The flow with this key, if it is in the table.
    #[inline]
    pub fn get_mut(&mut self, key: &FlowKey) -> Option<&mut Flow> {
        self.flows
            .find_mut(self.hasher.hash_one(key), |f| f.key == *key)
            .map(|s| &mut s.0)
    }

    /// Fetches the flow of a packet into the cache ahead of [`FlowTable::place`], so that the
    /// memory accesses of several packets overlap, and returns the key and hash for `place` (not
    /// for fragments, whose ports may depend on packets placed in between). Has no effect on the
    /// table.
    #[inline]
    pub fn warm(&self, d: &Decoded<'_>) -> Option<Lookup> {
        if d.fragment != Fragment::None {
            return None;
        }
        let (key, src_is_lo) = FlowKey::of(d.protocol, d.src, d.dst, d.ports);
        let hash = self.hasher.hash_one(key);
        // Each flow whose tag matches is fetched, none is compared: a comparison would wait for
        // the flow's bytes, and the group's fetches would come one after the other.
        self.flows.find(hash, |f| {
            svcscope_prefetch::prefetch(f);
            false
        });
        Some(Lookup {
            key,
            src_is_lo,
            hash,
        })
    }

    /// Finds the flow of a decoded packet (`ahead`: what [`FlowTable::warm`] returned for it, if it
    /// was called). Fragments are resolved here.
    pub fn place(
        &mut self,
        d: &Decoded<'_>,
        ahead: Option<Lookup>,
        ended: &mut Vec<(Flow, EndReason)>,
    ) -> Placed<'_> {
        let Lookup {
            key,
            src_is_lo,
            hash,
        } = match ahead.or_else(|| self.lookup(d)) {
            Some(l) => l,
            None => return Placed::Unmatched,
        };
        // A new SYN on a closed connection starts a new flow.
        let syn_only = d.protocol == proto::TCP
            && d.tcp_flags & (tcp_flags::SYN | tcp_flags::ACK) == tcp_flags::SYN;
        match self.flows.find_entry(hash, |f| f.key == key) {
            Ok(entry) if syn_only && entry.get().closed => {
                let (f, _) = entry.remove();
                ended.push((f.0, EndReason::Reused));
                Placed::New { key, src_is_lo }
            }
            Ok(entry) => {
                let flow = &mut entry.into_mut().0;
                let from_client = src_is_lo == flow.class.client_is_lo;
                Placed::Existing { flow, from_client }
            }
            Err(_) => Placed::New { key, src_is_lo },
        }
    }

    /// The flow key of a packet; fragments are resolved here (`None`: a later fragment whose first
    /// was not seen).
    fn lookup(&mut self, d: &Decoded<'_>) -> Option<Lookup> {
        let ports = match d.fragment {
            Fragment::Later { id } => {
                let k = FragKey {
                    src: d.src,
                    dst: d.dst,
                    protocol: d.protocol,
                    id,
                };
                match self.fragments.get(&k) {
                    Some((ports, _)) => {
                        self.counters.fragments_attributed += 1;
                        Some(*ports)
                    }
                    None if matches!(d.protocol, proto::TCP | proto::UDP) => {
                        self.counters.fragments_unmatched += 1;
                        return None;
                    }
                    None => None,
                }
            }
            Fragment::First { id } => {
                if let Some(ports) = d.ports {
                    let k = FragKey {
                        src: d.src,
                        dst: d.dst,
                        protocol: d.protocol,
                        id,
                    };
                    // When full, the oldest first fragment is forgotten: O(1), whatever the timing.
                    self.fragments.insert(k, (ports, self.now));
                    self.counters.fragments_evicted = self.fragments.evicted;
                }
                d.ports
            }
            Fragment::None => d.ports,
        };
        let (key, src_is_lo) = FlowKey::of(d.protocol, d.src, d.dst, ports);
        Some(Lookup {
            key,
            src_is_lo,
            hash: self.hasher.hash_one(key),
        })
    }

    /// Inserts a new, classified flow (after [`Placed::New`]); evicts if the table is full.
    pub fn insert(
        &mut self,
        key: FlowKey,
        class: Class,
        ts: Ts,
        ended: &mut Vec<(Flow, EndReason)>,
    ) -> &mut Flow {
        if self.flows.len() >= self.max_flows {
            self.evict(ended);
        }
        self.counters.flows_created += 1;
        let flow = Flow::new(key, class, ts);
        let hash = self.hasher.hash_one(key);
        if let Ok(entry) = self.flows.find_entry(hash, |f| f.key == key) {
            // Cannot happen (place() said New), but never lose a flow: end the old one.
            let (old, _) = entry.remove();
            ended.push((old.0, EndReason::Reused));
        }
        let len = self.flows.len() as u64 + 1;
        self.counters.peak_flows = self.counters.peak_flows.max(len);
        let hasher = &self.hasher;
        &mut self
            .flows
            .insert_unique(hash, Stored(flow), |f| hasher.hash_one(f.key))
            .into_mut()
            .0
    }

    /// Ends the least recently active sixteenth of the flows.
    ///
    /// The cut-off time is the sixteenth-quantile of the last activity of a sample of flows (the hash
    /// table's order has nothing to do with time), then one pass ends the flows at or before it, at
    /// most a sixteenth of the table. Should the sample mislead (crafted keys and timestamps can make
    /// the flows it sees the oldest by far), a second pass ends any flows up to a sixteenth, so that
    /// every eviction frees a sixteenth of the table for at most two passes over it: amortised O(1)
    /// per new flow.
    fn evict(&mut self, ended: &mut Vec<(Flow, EndReason)>) {
        let n = (self.flows.len() / 16).max(1);
        let mut sample: Vec<Ts> = self
            .flows
            .iter()
            .take(EVICTION_SAMPLE)
            .map(|f| f.last_ts)
            .collect();
        let k = (sample.len() / 16).max(1);
        let (_, cut, _) = sample.select_nth_unstable(k - 1);
        let cut = *cut;
        let mut taken = 0;
        let before = self.flows.len();
        for f in self.flows.extract_if(|f| {
            let take = taken < n && f.last_ts <= cut;
            taken += usize::from(take);
            take
        }) {
            self.counters.flows_evicted += 1;
            ended.push((f.0, EndReason::Evicted));
        }
        self.evict_examined += before as u64;
        if taken < n / 2 {
            let before = self.flows.len();
            for f in self.flows.extract_if(|_| {
                taken += 1;
                taken <= n
            }) {
                self.counters.flows_evicted += 1;
                ended.push((f.0, EndReason::Evicted));
            }
            self.evict_examined += before as u64;
        }
    }

    /// Ends every flow (end of input).
    pub fn drain(&mut self, ended: &mut Vec<(Flow, EndReason)>) {
        ended.extend(self.flows.drain().map(|f| (f.0, EndReason::EndOfInput)));
        self.fragments.clear();
        self.closing.clear();
    }
}

/// Updates a flow's counters with one packet. Returns true when the packet's size should be recorded
/// now (false while it is held back in `pending`).
pub fn update(flow: &mut Flow, from_client: bool, ts: Ts, wire_len: u32, tcp: Option<u8>) -> bool {
    let dir = if from_client { C2S } else { S2C };
    flow.packets[dir] += 1;
    flow.bytes[dir] += u64::from(wire_len);
    if ts > flow.last_ts {
        flow.last_ts = ts;
    }
    if ts < flow.first_ts {
        flow.first_ts = ts;
    }
    let Some(flags) = tcp else {
        return true;
    };
    flow.flags[dir] |= flags;
    if flags & tcp_flags::FIN != 0 {
        flow.fin[dir] = true;
    }
    if flags & tcp_flags::RST != 0 || (flow.fin[C2S] && flow.fin[S2C]) {
        flow.closed = true;
    }
    if flow.answered {
        return true;
    }
    if !from_client && flags & tcp_flags::RST == 0 {
        flow.answered = true;
        return true;
    }
    if from_client && flags & (tcp_flags::SYN | tcp_flags::RST) == 0 {
        // The client acknowledges or sends data after its SYN: the server did accept, in the
        // direction the capture does not see (see [`Flow::is_one_direction`]).
        flow.answered = true;
        return true;
    }
    if usize::from(flow.n_pending) < PENDING_SIZES {
        flow.pending[usize::from(flow.n_pending)] = wire_len.min(u32::from(u16::MAX)) as u16;
        flow.n_pending += 1;
        return false;
    }
    // More packets before an answer than we hold back: record them as they come.
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::test_packets::{addr, tcp as pkt};
    use crate::decode::Decoded;

    fn class(client_is_lo: bool) -> Class {
        Class {
            client_is_lo,
            server_rule: ServerRule::Syn,
            label: None,
            provenance: Provenance::Unknown,
            inspector: None,
        }
    }

    /// Places a packet, creating the flow with the sender as client if new; returns the flow key.
    fn feed(
        t: &mut FlowTable,
        d: &Decoded<'_>,
        ts: Ts,
        ended: &mut Vec<(Flow, EndReason)>,
    ) -> FlowKey {
        t.advance(ts, ended);
        let (key, closed) = match t.place(d, None, ended) {
            Placed::Existing { flow, from_client } => {
                let was_closed = flow.is_closed();
                update(flow, from_client, ts, 60, Some(d.tcp_flags));
                (flow.key, !was_closed && flow.is_closed())
            }
            Placed::New { key, src_is_lo } => {
                let f = t.insert(key, class(src_is_lo), ts, ended);
                update(f, true, ts, 60, Some(d.tcp_flags));
                (key, f.is_closed())
            }
            Placed::Unmatched => panic!("unmatched"),
        };
        if closed {
            t.closed(key, ts);
        }
        key
    }

    /// A sink that records what it is handed, and finishes with `result`.
    struct Log(
        std::sync::Arc<std::sync::Mutex<Vec<&'static str>>>,
        Result<(), String>,
    );

    impl FlowSink for Log {
        fn ended(&mut self, _f: &Flow, _why: EndReason) {
            self.0.lock().unwrap().push("ended");
        }
        fn active(&mut self, _f: &Flow) {
            self.0.lock().unwrap().push("active");
        }
        fn finish(&mut self) -> Result<(), String> {
            self.0.lock().unwrap().push("finish");
            self.1.clone()
        }
        fn fork(&self) -> Box<dyn FlowSink> {
            Box::new(Log(self.0.clone(), self.1.clone()))
        }
    }

    #[test]
    fn a_fan_out_hands_every_flow_to_every_sink_and_keeps_the_first_error() {
        let (a, b) = (Default::default(), Default::default());
        let sinks: Vec<Box<dyn FlowSink>> = vec![
            Box::new(Log(std::sync::Arc::clone(&a), Ok(()))),
            Box::new(Log(std::sync::Arc::clone(&b), Err("disk full".into()))),
        ];
        let mut fan = FanOut(sinks).fork();
        let (key, _) = FlowKey::of(proto::UDP, addr(1), addr(2), Some((5000, 53)));
        let f = Flow::new(key, class(true), 0);
        fan.active(&f);
        fan.ended(&f, EndReason::Idle);
        assert_eq!(fan.finish(), Err("disk full".to_string()));
        for log in [a, b] {
            assert_eq!(*log.lock().unwrap(), ["active", "ended", "finish"]);
        }
    }

    /// Regression: a capture of one direction only (a SPAN port fed the client side) counted every
    /// connection as an unanswered attempt.
    #[test]
    fn client_data_after_a_syn_is_one_direction_not_unanswered() {
        let mut t = FlowTable::new(Timeouts::default(), 1000);
        let mut ended = Vec::new();
        // Each packet of a flow from the client, unless `from_server`; opened by a SYN, as the
        // tracker opens it (not answered yet).
        let mut flow = |packets: &[(bool, u8)], cport| {
            let (c, s) = ((101, cport), (10, 445));
            let mut key = None;
            for (i, &(from_server, flags)) in packets.iter().enumerate() {
                let ((sa, sp), (da, dp)) = if from_server { (s, c) } else { (c, s) };
                let d = pkt(sa, sp, da, dp, flags);
                let ts = i as i64 * 1_000_000;
                t.advance(ts, &mut ended);
                match t.place(&d, None, &mut ended) {
                    Placed::New { key: k, src_is_lo } => {
                        let f = t.insert(k, class(src_is_lo), ts, &mut ended);
                        f.answered = false;
                        update(f, true, ts, 60, Some(flags));
                        key = Some(k);
                    }
                    Placed::Existing { flow, from_client } => {
                        update(flow, from_client, ts, 60, Some(flags));
                    }
                    Placed::Unmatched => panic!("unmatched"),
                }
            }
            let f = t.get_mut(&key.unwrap()).unwrap();
            (f.is_unanswered(), f.is_one_direction())
        };
        let (syn, ack, rst) = (tcp_flags::SYN, tcp_flags::ACK, tcp_flags::RST);
        // Answered out of sight: SYN, ACK, data, all from the client.
        assert_eq!(
            flow(
                &[(false, syn), (false, ack), (false, ack | tcp_flags::PSH)],
                50000
            ),
            (false, true)
        );
        // Unanswered: a SYN, its retransmission, the client's RST.
        assert_eq!(
            flow(&[(false, syn), (false, syn), (false, rst)], 50001),
            (true, false)
        );
        // Refused: a SYN and the server's RST.
        assert_eq!(
            flow(&[(false, syn), (true, rst | ack)], 50002),
            (true, false)
        );
        // Both ways: neither.
        assert_eq!(
            flow(&[(false, syn), (true, syn | ack), (false, ack)], 50003),
            (false, false)
        );
    }

    #[test]
    fn a_closed_flow_with_late_packets_does_not_wait_for_later_closes() {
        let mut t = FlowTable::new(Timeouts::default(), 1000);
        let mut ended = Vec::new();
        let ms = 1_000_000;
        for (p, ts) in [
            (pkt(101, 50000, 10, 445, tcp_flags::SYN), 0),
            (pkt(10, 445, 101, 50000, tcp_flags::RST), 100 * ms),
            // The last packet of the closed connection, after its close.
            (pkt(101, 50000, 10, 445, tcp_flags::ACK), 300 * ms),
            (pkt(101, 50001, 10, 445, tcp_flags::SYN), 10_000 * ms),
            (pkt(10, 445, 101, 50001, tcp_flags::RST), 10_090 * ms),
        ] {
            feed(&mut t, &p, ts, &mut ended);
        }
        t.advance(10_200 * ms, &mut ended);
        assert!(ended.is_empty());
        // A linger after its last packet, not after the later connection's.
        t.advance(10_301 * ms, &mut ended);
        assert_eq!(ended.len(), 1);
        assert_eq!(
            (ended[0].0.key.hi_port, ended[0].1),
            (50000, EndReason::Closed)
        );
    }

    #[test]
    fn a_flood_of_closes_keeps_the_closing_queue_bounded() {
        let mut t = FlowTable::new(Timeouts::default(), 16);
        let mut ended = Vec::new();
        for i in 0..200u16 {
            feed(
                &mut t,
                &pkt(101, 40000 + i, 10, 445, tcp_flags::SYN),
                0,
                &mut ended,
            );
            feed(
                &mut t,
                &pkt(10, 445, 101, 40000 + i, tcp_flags::RST),
                1,
                &mut ended,
            );
            assert!(t.closing.len() <= 2 * 16);
        }
        // Every closed flow still in the table is in the queue, and ends after the linger.
        t.advance(11_000_000_000, &mut ended);
        assert!(t.is_empty());
    }

    #[test]
    fn a_flow_stays_small() {
        // The table's memory per flow and its cache misses per packet follow this size (see the
        // README's memory section).
        assert!(
            std::mem::size_of::<Flow>() <= 120,
            "{}",
            std::mem::size_of::<Flow>()
        );
        // Stored on a cache-line boundary, a flow takes exactly two lines.
        assert_eq!(std::mem::size_of::<Stored>(), 128);
        assert_eq!(std::mem::align_of::<Stored>(), 64);
    }

    /// Keys crafted against FxHash (`(h + word) × K` per 64-bit word: the high word of a source
    /// address cancelling what its low word added) all hash alike under it, and apart under the
    /// table's seeded hash.
    #[test]
    fn flow_keys_crafted_to_collide_under_a_fixed_hash_spread_in_the_table() {
        use std::collections::HashSet;
        const K: u64 = 0xf1357aea2e62a9c5;
        let step = |h: u64, w: u64| h.wrapping_add(w).wrapping_mul(K);
        let dst = Addr::from_bits(0x2001_0db8_0000_0000_0000_0000_0000_0010);
        // The server's address is hashed first when it is the lower one (an address hashes its
        // low word, then its high word).
        let after_dst = step(step(0, dst.to_bits() as u64), (dst.to_bits() >> 64) as u64);
        let keys: Vec<FlowKey> = (0..8192u64)
            .map(|low| {
                let high = 12345u64.wrapping_sub(step(after_dst, low));
                let src = Addr::from_bits((u128::from(high) << 64) | u128::from(low));
                FlowKey::of(6, src, dst, Some((40_000, 445))).0
            })
            .filter(|k| k.lo == dst)
            .take(4096)
            .collect();
        assert_eq!(keys.len(), 4096);
        let distinct = |hashes: Vec<u64>| hashes.into_iter().collect::<HashSet<u64>>().len();
        let fx = rustc_hash::FxBuildHasher;
        assert_eq!(distinct(keys.iter().map(|k| fx.hash_one(k)).collect()), 1);
        let table = FlowTable::new(Timeouts::default(), 10_000);
        let seeded = distinct(keys.iter().map(|k| table.hasher.hash_one(k)).collect());
        assert_eq!(seeded, keys.len());
    }

    #[test]
    fn both_directions_share_one_flow() {
        let mut t = FlowTable::new(Timeouts::default(), 1000);
        let mut ended = Vec::new();
        let k1 = feed(
            &mut t,
            &pkt(101, 50000, 10, 445, tcp_flags::SYN),
            0,
            &mut ended,
        );
        let k2 = feed(
            &mut t,
            &pkt(10, 445, 101, 50000, tcp_flags::SYN | tcp_flags::ACK),
            1,
            &mut ended,
        );
        assert_eq!(k1, k2);
        assert_eq!(t.len(), 1);
        let f = t.iter().next().unwrap();
        assert_eq!(f.packets, [1, 1]);
        assert_eq!(f.client(), (addr(101), 50000));
        assert_eq!(f.server(), (addr(10), 445));
    }

    #[test]
    fn idle_flows_end_by_trace_time() {
        let timeouts = Timeouts {
            udp: Duration::from_secs(60),
            ..Default::default()
        };
        let mut t = FlowTable::new(timeouts, 1000);
        let mut ended = Vec::new();
        let mut d = pkt(101, 50000, 10, 53, 0);
        d.protocol = proto::UDP;
        feed(&mut t, &d, 0, &mut ended);
        t.advance(59_000_000_000, &mut ended);
        assert!(ended.is_empty());
        // Sweeps run every quarter of the shortest idle timeout (here 15 s), so a flow ends at most
        // that late.
        t.advance(61_000_000_000, &mut ended);
        t.advance(74_000_000_000, &mut ended);
        assert_eq!(ended.len(), 1);
        assert_eq!(ended[0].1, EndReason::Idle);
    }

    #[test]
    fn closed_flows_end_after_the_linger_without_a_sweep() {
        let mut t = FlowTable::new(Timeouts::default(), 1000);
        let mut ended = Vec::new();
        let s = 1_000_000_000;
        for (p, ts) in [
            (pkt(101, 50000, 10, 445, tcp_flags::SYN), 0),
            (pkt(101, 50001, 10, 445, tcp_flags::SYN), 0),
            (pkt(10, 445, 101, 50000, tcp_flags::RST), s),
            (pkt(10, 445, 101, 50001, tcp_flags::RST), s),
            // A packet after the close keeps the second flow a linger longer.
            (pkt(101, 50001, 10, 445, tcp_flags::ACK), 5 * s),
        ] {
            feed(&mut t, &p, ts, &mut ended);
        }
        t.advance(11 * s + 1, &mut ended);
        assert_eq!(ended.len(), 1);
        assert_eq!(
            (ended[0].0.key.hi_port, ended[0].1),
            (50000, EndReason::Closed)
        );
        t.advance(15 * s + 1, &mut ended);
        assert_eq!(ended.len(), 2);
        assert_eq!(
            (ended[1].0.key.hi_port, ended[1].1),
            (50001, EndReason::Closed)
        );
        assert!(t.is_empty());
    }

    #[test]
    fn closed_connection_ends_and_port_reuse_starts_a_new_flow() {
        let mut t = FlowTable::new(Timeouts::default(), 1000);
        let mut ended = Vec::new();
        feed(
            &mut t,
            &pkt(101, 50000, 10, 445, tcp_flags::SYN),
            0,
            &mut ended,
        );
        feed(
            &mut t,
            &pkt(10, 445, 101, 50000, tcp_flags::RST | tcp_flags::ACK),
            1,
            &mut ended,
        );
        feed(
            &mut t,
            &pkt(101, 50000, 10, 445, tcp_flags::SYN),
            2,
            &mut ended,
        );
        assert_eq!(ended.len(), 1);
        assert_eq!(ended[0].1, EndReason::Reused);
        assert_eq!(t.len(), 1);
        assert_eq!(t.counters.flows_created, 2);
    }

    #[test]
    fn full_table_evicts_least_recent_and_counts() {
        let mut t = FlowTable::new(Timeouts::default(), 32);
        let mut ended = Vec::new();
        for i in 0..40u16 {
            feed(
                &mut t,
                &pkt(101, 40000 + i, 10, 445, tcp_flags::SYN),
                i64::from(i),
                &mut ended,
            );
        }
        assert!(t.len() <= 32);
        assert_eq!(t.counters.flows_evicted as usize, ended.len());
        // The oldest flows went first: client ports 40000.. were opened first.
        assert!(
            ended
                .iter()
                .all(|(f, why)| *why == EndReason::Evicted
                    && f.key.lo_port.max(f.key.hi_port) < 40010)
        );
        assert_eq!(t.counters.flows_created, 40);
    }

    #[test]
    fn later_fragments_follow_their_first() {
        let mut t = FlowTable::new(Timeouts::default(), 1000);
        let mut ended = Vec::new();
        let mut first = pkt(101, 50000, 10, 88, 0);
        first.protocol = proto::UDP;
        first.fragment = Fragment::First { id: 9 };
        let k = feed(&mut t, &first, 0, &mut ended);
        let mut later = first;
        later.ports = None;
        later.fragment = Fragment::Later { id: 9 };
        assert_eq!(feed(&mut t, &later, 1, &mut ended), k);
        later.fragment = Fragment::Later { id: 10 };
        assert!(matches!(
            t.place(&later, None, &mut ended),
            Placed::Unmatched
        ));
        assert_eq!(t.counters.fragments_attributed, 1);
        assert_eq!(t.counters.fragments_unmatched, 1);
    }

    /// Regression: with the fragment table full of first fragments younger than a second, every new
    /// first fragment scanned the whole table (200,000 took 95 s) and was then dropped, so its later
    /// fragments went unmatched.
    #[test]
    fn a_flood_of_first_fragments_costs_constant_work_each_and_keeps_the_newest() {
        let mut t = FlowTable::with_fragment_cap(Timeouts::default(), 1_000_000, 1000);
        let mut ended = Vec::new();
        let mut first = pkt(101, 50000, 10, 88, 0);
        first.protocol = proto::UDP;
        let n = 100_000u32;
        for id in 0..n {
            first.fragment = Fragment::First { id };
            first.ports = Some((1024 + (id % 60_000) as u16, 88));
            // All within the same millisecond: nothing is old enough to expire.
            feed(&mut t, &first, i64::from(id), &mut ended);
        }
        assert_eq!(t.fragments.len(), 1000);
        assert_eq!(t.counters.fragments_evicted, u64::from(n - 1000));
        assert!(
            t.fragments.examined <= 3 * u64::from(n),
            "{} fragment slots examined for {n} first fragments",
            t.fragments.examined
        );
        // The newest datagram's later fragment finds its flow; the oldest one's does not.
        let mut later = first;
        later.ports = None;
        later.fragment = Fragment::Later { id: n - 1 };
        assert!(matches!(
            t.place(&later, None, &mut ended),
            Placed::Existing { .. }
        ));
        later.fragment = Fragment::Later { id: 0 };
        assert!(matches!(
            t.place(&later, None, &mut ended),
            Placed::Unmatched
        ));
    }

    #[test]
    fn evictions_do_constant_work_per_new_flow() {
        let mut t = FlowTable::new(Timeouts::default(), 1600);
        let mut ended = Vec::new();
        let n = 50_000u32;
        for i in 0..n {
            // Timestamps going back and forth, so activity order has nothing to do with arrival.
            let ts = i64::from((i * 7919) % 1000);
            let d = pkt(
                101 + (i / 60_000) as u8,
                1024 + (i % 60_000) as u16,
                10,
                445,
                0,
            );
            feed(&mut t, &d, ts, &mut ended);
            assert!(t.len() <= 1600);
        }
        assert_eq!(t.counters.flows_evicted as usize, ended.len());
        assert_eq!(t.counters.flows_created, u64::from(n));
        assert_eq!(t.counters.peak_flows, 1600);
        // Each eviction frees a sixteenth of the table for at most two passes over it.
        assert!(
            t.evict_examined <= 40 * u64::from(n),
            "{} flows examined for {n} new flows",
            t.evict_examined
        );
    }

    #[test]
    fn unanswered_syn_holds_sizes_back() {
        let mut t = FlowTable::new(Timeouts::default(), 1000);
        let mut ended = Vec::new();
        t.advance(0, &mut ended);
        let Placed::New { key, src_is_lo } =
            t.place(&pkt(101, 50000, 10, 445, tcp_flags::SYN), None, &mut ended)
        else {
            panic!()
        };
        let f = t.insert(key, class(src_is_lo), 0, &mut ended);
        f.answered = false;
        assert!(!update(f, true, 0, 66, Some(tcp_flags::SYN)));
        assert!(!update(
            f,
            false,
            1,
            54,
            Some(tcp_flags::RST | tcp_flags::ACK)
        ));
        assert!(f.is_unanswered());
        assert_eq!(&f.pending[..usize::from(f.n_pending)], &[66, 54]);
        // A later real answer releases the held sizes.
        assert!(update(
            f,
            false,
            2,
            60,
            Some(tcp_flags::SYN | tcp_flags::ACK)
        ));
        assert!(!f.is_unanswered());
    }
}
