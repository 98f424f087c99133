//! Inspect: per-flow payload inspectors, one file per protocol, and the registry that says which
//! flows each one reads.
//!
//! An inspector is a small state machine over one flow's payload segments. It finds [`Evidence`]
//! (an interface bound, a name announced), may relabel its flow (a DCE/RPC bind names the service
//! behind a dynamic port, and the side that sent it is the client), announces flows to come (the
//! endpoint mapper's towers, FTP's PORT and PASV, a TFTP request: see [`expect`]) and keeps named
//! counters for capture health.
//!
//! [`REGISTRY`] lists the inspectors; the first whose `wants` accepts a new flow reads it. Each
//! entry says how much of a flow it may read ([`Budget`]); the registry enforces that, so an
//! inspector only parses. The state lives with the flow ([`Slot`], dropped with it), created at the
//! flow's first payload segment, so a flood of flows without payload costs no inspection state.
//!
//! Bounds for the whole process (each of several workers holds its share, see `bounded::share`): at
//! most [`MAX_INSPECTED`] inspections run at once and [`MAX_BUFFERED`] bytes of partial messages are
//! held across them; when either is reached the oldest gives way — the inspection started first, the
//! partial message held longest — so a flood of new flows or messages that never complete cannot
//! blind inspection, and each costs amortised O(1). Those given up are handed to the caller
//! ([`Registry::take_given_up`]), which owns the flows.
//!
//! Adding an inspector: a file here with a type implementing [`Inspector`] and a `pub const`
//! [`Registration`] (what flows it wants, its budget, its counters), one line in [`REGISTRY`], the
//! evidence kinds it reports in `evidence.rs`, and its tests. Everything else — choosing flows,
//! budgets, counters in health, evidence in flow records and reports — is generic.

pub mod auth;
#[cfg(test)]
pub(crate) mod bench;
pub mod dcerpc;
pub mod evidence;
pub mod expect;
pub mod ftp;
pub mod kerberos;
pub mod ldap;
pub mod learn;
pub mod names;
pub mod payload;
pub mod smb;
pub mod tftp;
pub mod verify;

use std::collections::VecDeque;

use crate::hash::HashMap;

pub use evidence::{
    attribute, Attribution, Basis, Evidence, EvidenceKind, EvidenceList, Provenance, Value,
    MAX_EVIDENCE,
};
pub use expect::{Endpoint, Expectations, Expected};

use crate::bounded::share;
use crate::catalog::{Catalog, LabelId, Uuid};
use crate::decode::{Addr, FlowKey};
use crate::time::Ts;

/// Inspections running at once, for the whole process.
pub const MAX_INSPECTED: usize = 50_000;
/// Bytes of partial messages held across all running inspections, for the whole process.
pub const MAX_BUFFERED: usize = 32 << 20;

/// A named counter for capture health: its JSON key and the words the table prints after its value.
#[derive(Debug)]
pub struct Counter {
    pub key: &'static str,
    pub text: &'static str,
}

/// Flows chosen for inspection.
pub static FLOWS_INSPECTED: Counter = Counter {
    key: "flows_inspected",
    text: "flows inspected",
};
/// Kept for the report's schema: flows are no longer refused (the oldest inspection gives way).
pub static FLOWS_NOT_INSPECTED: Counter = Counter {
    key: "flows_not_inspected",
    text: "not inspected (table full)",
};
pub static INSPECTIONS_EVICTED: Counter = Counter {
    key: "inspections_evicted",
    text: "inspections given up for newer ones (table full)",
};
pub static BUFFERS_EVICTED: Counter = Counter {
    key: "rpc_buffers_evicted",
    text: "partial messages dropped (buffer budget)",
};
pub static ANNOUNCEMENTS_EVICTED: Counter = Counter {
    key: "announcements_evicted",
    text: "announcements forgotten (table full)",
};
pub static EVIDENCE_DROPPED: Counter = Counter {
    key: "evidence_dropped",
    text: "evidence items past a flow's limit",
};

/// What the registry knows of a new flow when it picks an inspector for it.
#[derive(Clone, Copy, Debug)]
pub struct Offer {
    pub protocol: u8,
    pub server_port: u16,
    pub client_port: u16,
    pub label: Option<LabelId>,
    pub provenance: Provenance,
}

/// How much of a flow an inspector may read; past either bound its inspection ends.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Payload bytes, both directions.
    pub bytes: u64,
    /// Payload segments (datagrams), both directions.
    pub segments: u32,
}

/// One inspector's entry in the registry.
pub struct Registration {
    pub name: &'static str,
    /// Whether it reads this new flow.
    pub wants: fn(&Offer) -> bool,
    pub budget: Budget,
    /// A fresh state, at the flow's first payload segment.
    pub start: fn() -> Box<dyn Inspector>,
    /// Its counters, in the order health shows them.
    pub counters: &'static [&'static Counter],
}

/// The inspectors, in the order they are offered a flow (the first that wants it reads it).
pub static REGISTRY: &[Registration] = &[
    dcerpc::ENDPOINT_MAPPER,
    ftp::CONTROL,
    smb::SESSION,
    kerberos::KDC,
    ldap::DIRECTORY,
    tftp::REQUEST,
    dcerpc::PROBE,
    dcerpc::DATAGRAM,
    payload::PAYLOAD,
];

/// An inspector's place in [`REGISTRY`], kept in the flow's classification (one byte, with its
/// `Option`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EntryId(std::num::NonZeroU8);

impl EntryId {
    fn new(index: usize) -> EntryId {
        let n = u8::try_from(index + 1).expect("fewer than 255 inspectors");
        EntryId(std::num::NonZeroU8::new(n).expect("index + 1 is not 0"))
    }

    pub fn registration(self) -> &'static Registration {
        &REGISTRY[usize::from(self.0.get() - 1)]
    }
}

/// One payload segment of an inspected flow.
#[derive(Clone, Copy, Debug)]
pub struct Segment<'a> {
    pub from_client: bool,
    /// TCP sequence number (0 for other protocols).
    pub seq: u32,
    pub payload: &'a [u8],
    pub ts: Ts,
    pub client: (Addr, u16),
    pub server: (Addr, u16),
    pub protocol: u8,
    /// The flow's label so far.
    pub label: Option<LabelId>,
}

/// Whether an inspector wants more of its flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    More,
    Done,
}

/// A per-flow payload inspector.
pub trait Inspector: Send {
    /// Reads one payload segment (never empty), in capture order.
    fn segment(&mut self, seg: &Segment<'_>, out: &mut Out<'_>) -> Step;

    /// Bytes held in buffers waiting for the rest of a message (counted against [`MAX_BUFFERED`]).
    fn held(&self) -> usize {
        0
    }
}

/// A change to a flow's classification found in its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Relabel {
    pub label: Option<LabelId>,
    pub provenance: Provenance,
    /// The segment that showed it came from the side taken for the server: the sides swap.
    pub flip: bool,
    /// Only for a flow with no label yet (DCE/RPC seen, interface not known).
    pub weak: bool,
    /// The DCE/RPC interface the new label stands for.
    pub interface: Option<Uuid>,
}

/// What an inspector writes to while it reads a segment.
pub struct Out<'a> {
    pub catalog: &'a Catalog,
    counters: &'a mut Counters,
    expected: &'a mut Expectations,
    evidence: &'a mut EvidenceList,
    relabel: Option<Relabel>,
}

impl Out<'_> {
    pub fn count(&mut self, c: &'static Counter) {
        self.counters.add(c, 1);
    }

    /// Announces a flow to come.
    pub fn announce(&mut self, at: Endpoint, e: Expected) {
        self.expected.announce(at, e);
    }

    /// Records evidence about this flow.
    pub fn evidence(&mut self, e: Evidence) {
        if !self.evidence.add(e) {
            self.counters.add(&EVIDENCE_DROPPED, 1);
        }
    }

    /// Changes this flow's label (the last call in a segment wins).
    pub fn relabel(&mut self, r: Relabel) {
        self.relabel = Some(r);
    }

    /// Whether this segment already relabels the flow.
    pub fn relabelled(&self) -> bool {
        self.relabel.is_some()
    }
}

/// Named counters in a fixed order; values add up by key when merged.
#[derive(Clone, Debug, Default)]
pub struct Counters {
    values: Vec<(&'static Counter, u64)>,
}

impl Counters {
    /// Every counter the registry and its inspectors keep, at zero, in health order.
    pub fn registry() -> Counters {
        let mut c = Counters::default();
        for &k in [
            &FLOWS_INSPECTED,
            &FLOWS_NOT_INSPECTED,
            &INSPECTIONS_EVICTED,
            &BUFFERS_EVICTED,
            &ANNOUNCEMENTS_EVICTED,
            &EVIDENCE_DROPPED,
            &learn::TICKET_FLOWS,
        ]
        .iter()
        .chain(REGISTRY.iter().flat_map(|r| r.counters))
        {
            c.add(k, 0);
        }
        c
    }

    pub fn add(&mut self, c: &'static Counter, n: u64) {
        *self.value(c) += n;
    }

    pub fn set(&mut self, c: &'static Counter, n: u64) {
        *self.value(c) = n;
    }

    /// The value of `c` (by identity, else by key), added at zero if it is not there yet.
    fn value(&mut self, c: &'static Counter) -> &mut u64 {
        let i = match self
            .values
            .iter()
            .position(|(k, _)| std::ptr::eq(*k, c) || k.key == c.key)
        {
            Some(i) => i,
            None => {
                self.values.push((c, 0));
                self.values.len() - 1
            }
        };
        &mut self.values[i].1
    }

    pub fn get(&self, key: &str) -> u64 {
        self.values
            .iter()
            .find(|(k, _)| k.key == key)
            .map_or(0, |(_, v)| *v)
    }

    pub fn merge(&mut self, o: &Counters) {
        for &(k, v) in &o.values {
            self.add(k, v);
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'static Counter, u64)> + '_ {
        self.values.iter().copied()
    }
}

impl serde::Serialize for Counters {
    /// One JSON object: key → value, in health order.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.values.len()))?;
        for (k, v) in &self.values {
            m.serialize_entry(k.key, v)?;
        }
        m.end()
    }
}

/// A flow's inspection: the evidence found (kept until the flow ends) and, while it runs, the
/// inspector's state. Owned by the flow.
#[derive(Default)]
pub struct Slot {
    pub evidence: EvidenceList,
    /// The DCE/RPC interface the flow's label came from (bind, header, announcement).
    pub interface: Option<Uuid>,
    /// Packets whose sizes were recorded under the flow's label before its last relabelling: when
    /// the flow ends they count, at its mean size, under the label it ends with.
    pub sized_under_old_label: u64,
    /// What the first payload of each direction (client to server, server to client) looked like
    /// (see [`verify`]).
    pub looks: [verify::Looks; 2],
    /// Payload segments the signature check has seen (it stops at
    /// [`verify::SIGNATURE_FLOW_SEGMENTS`]).
    pub signature_segments: u8,
    run: Option<Run>,
    /// Inspection is over (done, past its budget, or given up).
    over: bool,
}

struct Run {
    entry: EntryId,
    stamp: u64,
    bytes: u64,
    segments: u32,
    /// What the inspector held after its last segment (the budgets are told only of changes).
    held: usize,
    state: Box<dyn Inspector>,
}

impl Slot {
    /// A slot holding evidence found before the flow's first packet (an announcement).
    pub fn with(evidence: Evidence, interface: Option<Uuid>) -> Slot {
        let mut s = Slot {
            interface,
            ..Slot::default()
        };
        s.evidence.add(evidence);
        s
    }

    pub fn is_running(&self) -> bool {
        self.run.is_some()
    }

    /// Whether the signature check still wants this flow's segments.
    pub fn signature_open(&self) -> bool {
        self.signature_segments < verify::SIGNATURE_FLOW_SEGMENTS
            && self.looks.iter().any(|l| {
                l.wire.is_none() || (l.tentative && l.segments < verify::SIGNATURE_SEGMENTS)
            })
    }
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot")
            .field("evidence", &self.evidence)
            .field("interface", &self.interface)
            .field(
                "running",
                &self.run.as_ref().map(|r| r.entry.registration().name),
            )
            .field("over", &self.over)
            .finish()
    }
}

/// What one segment of an inspected flow showed.
#[derive(Clone, Copy, Debug, Default)]
pub struct Seen {
    pub relabel: Option<Relabel>,
    /// Inspection of the flow is over: its later packets need not be shown.
    pub done: bool,
}

/// A running inspection, for the budgets.
struct Live {
    key: FlowKey,
    held: usize,
    /// When its partial message began to be held (its place in `holding`); 0 when it holds none.
    held_since: u64,
}

/// The inspectors' shared state in one classifier worker: the budgets, the expected flows and the
/// counters.
pub struct Registry {
    pub expected: Expectations,
    pub counters: Counters,
    /// What DNS answers and Kerberos requests told of other hosts (the same in every worker).
    pub learn: learn::Learner,
    /// Running inspections by stamp.
    live: HashMap<u64, Live>,
    max_inspected: usize,
    /// Running inspections in the order they started (stale slots skipped; compacted at twice the
    /// cap).
    order: VecDeque<(u64, FlowKey)>,
    buffered: usize,
    max_buffered: usize,
    /// Inspections holding a partial message, in the order they began to (stale slots skipped).
    holding: VecDeque<(u64, u64)>,
    next_stamp: u64,
    /// Inspections given up for the budgets, for the caller to end in their flows.
    given_up: Vec<(FlowKey, u64)>,
    /// Queue slots looked at (the work the caps cost, for tests).
    examined: u64,
}

impl Registry {
    /// The state for one of `workers` workers: its share of each process-wide cap.
    pub fn with_share(workers: usize) -> Registry {
        Registry {
            expected: Expectations::new(share(expect::MAX_EXPECTED, workers)),
            counters: Counters::registry(),
            learn: learn::Learner::new(),
            live: HashMap::default(),
            max_inspected: share(MAX_INSPECTED, workers),
            order: VecDeque::new(),
            buffered: 0,
            max_buffered: share(MAX_BUFFERED, workers),
            holding: VecDeque::new(),
            next_stamp: 1,
            given_up: Vec::new(),
            examined: 0,
        }
    }

    /// The inspector that reads a new flow, if any (counted as inspected).
    pub fn pick(&mut self, offer: &Offer) -> Option<EntryId> {
        let i = REGISTRY.iter().position(|r| (r.wants)(offer))?;
        self.counters.add(&FLOWS_INSPECTED, 1);
        Some(EntryId::new(i))
    }

    /// Shows an inspected flow's payload segment to its inspector, creating the flow's slot and the
    /// inspector's state at the first one.
    pub fn segment(
        &mut self,
        catalog: &Catalog,
        key: FlowKey,
        entry: EntryId,
        slot: &mut Option<Box<Slot>>,
        seg: &Segment<'_>,
    ) -> Seen {
        let slot = slot.get_or_insert_with(Box::default);
        if seg.payload.is_empty() {
            return Seen::default();
        }
        // The signature check, beside whichever inspector reads the flow (see `verify`).
        let signature_open = slot.signature_open() && verify::look(catalog, seg, slot);
        if slot.over {
            return Seen {
                relabel: None,
                done: !signature_open,
            };
        }
        if slot.run.is_none() {
            slot.run = Some(self.start(key, entry));
        }
        let run = slot.run.as_mut().expect("started above");
        run.bytes += seg.payload.len() as u64;
        run.segments += 1;
        let reg = run.entry.registration();
        let mut out = Out {
            catalog,
            counters: &mut self.counters,
            expected: &mut self.expected,
            evidence: &mut slot.evidence,
            relabel: None,
        };
        let step = run.state.segment(seg, &mut out);
        let relabel = out.relabel;
        if let Some(r) = &relabel {
            if let Some(u) = r.interface {
                slot.interface = Some(u);
            }
        }
        let stamp = run.stamp;
        let held = run.state.held();
        let held_changed = held != run.held;
        run.held = held;
        let mut done = step == Step::Done
            || run.bytes >= reg.budget.bytes
            || run.segments >= reg.budget.segments;
        if done {
            self.finish(slot);
            done = !slot.signature_open();
        } else if held_changed {
            self.hold(stamp, held);
            if self.buffered > self.max_buffered {
                self.shed_buffers();
                if !self.live.contains_key(&stamp) {
                    // This one was given up too.
                    self.given_up.retain(|&(_, s)| s != stamp);
                    slot.run = None;
                    slot.over = true;
                    done = !slot.signature_open();
                }
            }
        }
        if self.holding.len() >= 4 * self.max_inspected.max(16) {
            self.compact_holding();
        }
        Seen { relabel, done }
    }

    fn start(&mut self, key: FlowKey, entry: EntryId) -> Run {
        while self.live.len() >= self.max_inspected {
            let Some((stamp, k)) = self.order.pop_front() else {
                break;
            };
            self.examined += 1;
            if let Some(l) = self.live.remove(&stamp) {
                self.buffered -= l.held;
                self.given_up.push((k, stamp));
                self.counters.add(&INSPECTIONS_EVICTED, 1);
            }
        }
        let stamp = self.next_stamp;
        self.next_stamp += 1;
        self.live.insert(
            stamp,
            Live {
                key,
                held: 0,
                held_since: 0,
            },
        );
        self.order.push_back((stamp, key));
        if self.order.len() >= 2 * self.max_inspected.max(16) {
            self.examined += self.order.len() as u64;
            let live = &self.live;
            self.order.retain(|(s, _)| live.contains_key(s));
        }
        Run {
            entry,
            stamp,
            bytes: 0,
            segments: 0,
            held: 0,
            state: (entry.registration().start)(),
        }
    }

    /// Records what a running inspection holds after a segment.
    fn hold(&mut self, stamp: u64, held: usize) {
        let Some(l) = self.live.get_mut(&stamp) else {
            return;
        };
        self.buffered = self.buffered + held - l.held;
        if l.held == 0 && held > 0 {
            let since = self.next_stamp;
            self.next_stamp += 1;
            l.held_since = since;
            self.holding.push_back((stamp, since));
        } else if held == 0 {
            l.held_since = 0;
        }
        l.held = held;
    }

    /// Gives up the inspections holding partial messages longest until the budget is kept.
    fn shed_buffers(&mut self) {
        while self.buffered > self.max_buffered {
            let Some((stamp, since)) = self.holding.pop_front() else {
                break;
            };
            self.examined += 1;
            if self
                .live
                .get(&stamp)
                .is_some_and(|l| l.held_since == since && l.held > 0)
            {
                let l = self.live.remove(&stamp).expect("checked above");
                self.buffered -= l.held;
                self.given_up.push((l.key, stamp));
                self.counters.add(&BUFFERS_EVICTED, 1);
            }
        }
    }

    /// Drops the slots of partial messages since completed or given up (at most one of the
    /// `4 * max_inspected` slots per running inspection is live, so this follows at least as many
    /// pushes as it costs).
    fn compact_holding(&mut self) {
        self.examined += self.holding.len() as u64;
        let live = &self.live;
        self.holding.retain(|&(stamp, since)| {
            live.get(&stamp)
                .is_some_and(|l| l.held_since == since && l.held > 0)
        });
    }

    /// Ends a slot's running inspection: its state and buffers go, its evidence stays.
    fn finish(&mut self, slot: &mut Slot) {
        if let Some(run) = slot.run.take() {
            if let Some(l) = self.live.remove(&run.stamp) {
                self.buffered -= l.held;
            }
        }
        slot.over = true;
    }

    /// Inspections given up for the budgets since the last call: (flow key, stamp) for
    /// [`Registry::give_up`] on the flow that has the key, if it still is that inspection's.
    pub fn take_given_up(&mut self) -> Vec<(FlowKey, u64)> {
        std::mem::take(&mut self.given_up)
    }

    /// Whether any inspection was given up since the last [`Registry::take_given_up`].
    pub fn has_given_up(&self) -> bool {
        !self.given_up.is_empty()
    }

    /// Ends the inspection `stamp` in its flow's slot (the budgets no longer count it); false when
    /// the slot runs another inspection (the key was reused) or none.
    pub fn give_up(slot: &mut Slot, stamp: u64) -> bool {
        match &slot.run {
            Some(run) if run.stamp == stamp => {
                slot.run = None;
                slot.over = true;
                true
            }
            _ => false,
        }
    }

    /// A flow ended: its running inspection, if any, no longer counts against the budgets.
    pub fn flow_ended(&mut self, slot: &mut Slot) {
        self.finish(slot);
    }

    /// The counters, with what the announcement table forgot.
    pub fn counters(&self) -> Counters {
        let mut c = self.counters.clone();
        c.set(&ANNOUNCEMENTS_EVICTED, self.expected.evicted());
        c
    }

    /// Forgets announcements older than the window.
    pub fn expire(&mut self, now: Ts, window: i64) {
        self.expected.expire(now, window);
    }

    /// Running inspections and bytes held (for tests).
    #[cfg(test)]
    pub fn load(&self) -> (usize, usize) {
        (self.live.len(), self.buffered)
    }

    #[cfg(test)]
    pub fn examined(&self) -> u64 {
        self.examined
    }
}

impl Default for Registry {
    fn default() -> Self {
        Registry::with_share(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::proto;

    fn flow(i: u32) -> (FlowKey, (Addr, u16), (Addr, u16)) {
        let client = Addr::from_v4([198, 51, (i >> 16) as u8, (i >> 8) as u8]);
        let server = Addr::from_v4([192, 0, 2, 10]);
        let port = 1024 + (i & 0xff) as u16;
        let (key, _) = FlowKey::of(proto::TCP, client, server, Some((port, 49_700)));
        (key, (client, port), (server, 49_700))
    }

    fn probe() -> EntryId {
        let offer = Offer {
            protocol: proto::TCP,
            server_port: 49_700,
            client_port: 50_000,
            label: None,
            provenance: Provenance::Unknown,
        };
        let mut r = Registry::default();
        let id = r.pick(&offer).unwrap();
        assert_eq!(id.registration().name, "dcerpc");
        id
    }

    fn seg<'a>(client: (Addr, u16), server: (Addr, u16), payload: &'a [u8]) -> Segment<'a> {
        Segment {
            from_client: true,
            seq: 1,
            payload,
            ts: 0,
            client,
            server,
            protocol: proto::TCP,
            label: None,
        }
    }

    /// Every TCP and UDP flow with payload has a slot (the signature check's): it stays small.
    #[test]
    fn a_slot_stays_within_112_bytes() {
        let size = std::mem::size_of::<Slot>();
        assert!(size <= 112, "{size}");
        println!("slot: {size} bytes");
    }

    #[test]
    fn the_first_registration_that_wants_a_flow_reads_it() {
        let mut r = Registry::default();
        let offer = |protocol, server_port, label| Offer {
            protocol,
            server_port,
            client_port: 50_000,
            label,
            provenance: Provenance::Port,
        };
        let catalog = Catalog::builtin();
        let name = |r: &mut Registry, o: Offer| r.pick(&o).map(|e| e.registration().name);
        let kerberos = catalog.lookup_port(crate::catalog::Transport::Tcp, 88);
        assert_eq!(name(&mut r, offer(proto::TCP, 135, None)), Some("epm"));
        assert_eq!(name(&mut r, offer(proto::TCP, 21, None)), Some("ftp"));
        assert_eq!(
            name(&mut r, offer(proto::TCP, 40_000, None)),
            Some("dcerpc")
        );
        assert_eq!(
            name(&mut r, offer(proto::UDP, 40_000, None)),
            Some("dcerpc-cl")
        );
        assert_eq!(
            name(&mut r, offer(proto::TCP, 88, kerberos)),
            Some("kerberos")
        );
        assert_eq!(
            name(&mut r, offer(proto::UDP, 88, kerberos)),
            Some("kerberos")
        );
        assert_eq!(name(&mut r, offer(proto::TCP, 8080, None)), Some("dcerpc"));
        let ldap = catalog.lookup_port(crate::catalog::Transport::Udp, 389);
        assert_eq!(name(&mut r, offer(proto::UDP, 389, ldap)), Some("ldap"));
        assert_eq!(name(&mut r, offer(proto::TCP, 3268, None)), Some("ldap"));
        assert_eq!(r.counters.get("flows_inspected"), 9);
    }

    /// Regression: once the inspection table was full of flows that never ended (idle TCP lives
    /// 2 h), no new flow was inspected: binds and endpoint-mapper answers went unseen.
    #[test]
    fn a_flood_of_inspected_flows_gives_up_the_oldest_and_new_flows_are_still_read() {
        let catalog = Catalog::builtin();
        let mut r = Registry::with_share(50);
        assert_eq!(r.max_inspected, 1000);
        let entry = probe();
        let n = 20_000u32;
        // Each flow sends one segment that is not yet a whole PDU header.
        let mut slots: Vec<Option<Box<Slot>>> = Vec::new();
        for i in 0..n {
            let (key, c, s) = flow(i);
            let mut slot = None;
            let seen = r.segment(&catalog, key, entry, &mut slot, &seg(c, s, &[5, 0]));
            assert!(!seen.done);
            assert!(r.load().0 <= 1000);
            slots.push(slot);
        }
        assert_eq!(r.counters.get("inspections_evicted"), u64::from(n - 1000));
        assert_eq!(r.take_given_up().len(), (n - 1000) as usize);
        assert!(r.examined() <= 3 * u64::from(n), "{}", r.examined());
        // The newest flow binds to netlogon: seen.
        let (key, c, s) = flow(n - 1);
        let uuid = Uuid::parse("12345678-1234-abcd-ef00-01234567cffb").unwrap();
        let bind = crate::wire::dcerpc::tests::bind(1, uuid, 1);
        let mut slot = slots.pop().unwrap();
        let mut next = seg(c, s, &bind);
        // After a gap (lost segments) the stream starts again at the bind.
        next.seq = 100;
        let seen = r.segment(&catalog, key, entry, &mut slot, &next);
        assert_eq!(
            seen.relabel.map(|f| f.provenance),
            Some(Provenance::Evidence(EvidenceKind::RpcBind))
        );
        // Read on: later alter_contexts on the connection are evidence too.
        assert!(!seen.done);
        assert_eq!(slot.as_ref().unwrap().interface, Some(uuid));
    }

    #[test]
    fn partial_messages_across_many_flows_stay_within_the_global_budget() {
        let catalog = Catalog::builtin();
        let mut r = Registry::default();
        let entry = probe();
        // Each flow sends a header claiming a 65,535-byte PDU, then 60 KB that never completes it.
        let mut header = vec![5, 0, 11, 3, 0x10, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0];
        header.extend_from_slice(&[0u8; 60_000]);
        let mut slots = Vec::new();
        for i in 0..1000u32 {
            let (key, c, s) = flow(i);
            let mut slot = None;
            r.segment(&catalog, key, entry, &mut slot, &seg(c, s, &header));
            assert!(r.load().1 <= MAX_BUFFERED);
            slots.push((key, slot));
        }
        // The partial PDUs held longest were given up for the newer ones: the newest still holds.
        let evicted = r.counters.get("rpc_buffers_evicted");
        let fit = (MAX_BUFFERED / 60_016) as u64;
        assert!(
            (1000 - fit..=1000 - fit + 1).contains(&evicted),
            "{evicted}"
        );
        assert!(r.examined() <= 3 * 1000, "{}", r.examined());
        let given_up = r.take_given_up();
        assert_eq!(given_up.len() as u64, evicted);
        for (key, stamp) in given_up {
            let slot = slots.iter_mut().find(|(k, _)| *k == key).unwrap();
            assert!(Registry::give_up(slot.1.as_mut().unwrap(), stamp));
        }
        assert!(slots.last().unwrap().1.as_ref().unwrap().is_running());
        // Ending the flows gives the bytes back.
        for (_, slot) in &mut slots {
            r.flow_ended(slot.as_mut().unwrap());
        }
        assert_eq!(r.load(), (0, 0));
    }
}
