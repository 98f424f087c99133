//! Inspect: the payload of the few flows that announce or name other traffic — the RPC endpoint
//! mapper's answers, DCE/RPC binds, connectionless DCE/RPC headers, FTP control commands — and the
//! announcements they make, which label later flows.
//!
//! Bounds: at most [`MAX_INSPECTED`] flows are inspected at once; a flow is inspected for at most
//! [`MAX_INSPECT_BYTES`] (the endpoint mapper and FTP control) or until its first DCE/RPC bind or
//! [`MAX_PROBE_SEGMENTS`] payload segments without one (other flows); at most one PDU per direction is
//! buffered, and [`MAX_BUFFERED`] bytes across flows; at most [`MAX_ANNOUNCED`] announced endpoints
//! are remembered, for the endpoint-mapper window. Every cap is for the whole process (each of
//! several workers holds its share) and, when reached, gives up the oldest: the inspection started
//! first, the partial PDU held longest, the announcement made first — so a flood of new flows or
//! PDUs that never complete cannot blind inspection, and each costs amortised O(1).

use std::collections::VecDeque;

use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::bounded::{share, BoundedMap};
use crate::catalog::{Catalog, LabelId, Uuid};
use crate::decode::{proto, Addr};
use crate::flow::{FlowKey, Provenance};
use crate::time::Ts;
use crate::wire::dcerpc::{self, ptype, PduStream, TowerTransport};

pub const MAX_INSPECTED: usize = 50_000;
pub const MAX_INSPECT_BYTES: u64 = 256 * 1024;
pub const MAX_PROBE_SEGMENTS: u32 = 8;
pub const MAX_ANNOUNCED: usize = 100_000;
/// Bytes of partial PDUs held across all inspected flows; a stream that would pass it is given up.
pub const MAX_BUFFERED: usize = 32 << 20;
/// The longest FTP control line buffered.
const MAX_LINE: usize = 1024;

/// Counters for capture health.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct InspectCounters {
    pub flows_inspected: u64,
    /// Flows not inspected because the inspection table was full (no longer happens: the oldest
    /// inspection is given up instead, counted in `inspections_evicted`).
    pub flows_not_inspected: u64,
    pub rpc_binds: u64,
    pub rpc_connectionless: u64,
    pub epm_answers: u64,
    pub endpoints_announced: u64,
    pub ftp_data_announced: u64,
    pub tftp_transfers: u64,
    /// Streams that stopped parsing as DCE/RPC where it was expected (lost segments, not RPC).
    pub rpc_streams_abandoned: u64,
    /// Inspections given up, oldest first, to start new ones when [`MAX_INSPECTED`] were running.
    pub inspections_evicted: u64,
    /// Partial PDUs dropped, held longest first, when [`MAX_BUFFERED`] bytes were held (their
    /// flows' inspection ends).
    pub rpc_buffers_evicted: u64,
    /// Announced endpoints forgotten, oldest first, when [`MAX_ANNOUNCED`] were remembered.
    pub announcements_evicted: u64,
    /// Endpoint-mapper contacts forgotten, oldest first, when the table was full (classifier).
    pub epm_contacts_evicted: u64,
    /// Known-server, recent and server-address endpoints forgotten, oldest first, when their
    /// tables were full (classifier).
    pub endpoints_evicted: u64,
}

impl InspectCounters {
    pub fn merge(&mut self, o: &InspectCounters) {
        self.flows_inspected += o.flows_inspected;
        self.flows_not_inspected += o.flows_not_inspected;
        self.rpc_binds += o.rpc_binds;
        self.rpc_connectionless += o.rpc_connectionless;
        self.epm_answers += o.epm_answers;
        self.endpoints_announced += o.endpoints_announced;
        self.ftp_data_announced += o.ftp_data_announced;
        self.tftp_transfers += o.tftp_transfers;
        self.rpc_streams_abandoned += o.rpc_streams_abandoned;
        self.inspections_evicted += o.inspections_evicted;
        self.rpc_buffers_evicted += o.rpc_buffers_evicted;
        self.announcements_evicted += o.announcements_evicted;
        self.epm_contacts_evicted += o.epm_contacts_evicted;
        self.endpoints_evicted += o.endpoints_evicted;
    }
}

/// What a flow is inspected for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The endpoint mapper (TCP 135) or RPC over HTTP (593): binds, requests and answers.
    EndpointMapper,
    /// Any other TCP flow that may start with a DCE/RPC bind.
    RpcProbe,
    /// The first datagram of a UDP flow that may be connectionless DCE/RPC.
    RpcDatagram,
    FtpControl,
}

#[derive(Debug)]
struct State {
    kind: Kind,
    streams: [PduStream; 2],
    lines: [Vec<u8>; 2],
    bytes: u64,
    segments: u32,
    /// Request call ids of `ept_map`/`ept_lookup` awaiting their answer.
    epm_calls: Vec<u32>,
    interface: Option<Uuid>,
    /// Inspection is over; the state shrinks to [`Slot::Done`] after this packet.
    done: bool,
    /// When the inspection started (its place in [`Inspector::order`]).
    stamp: u64,
    /// When each direction's partial PDU began to be held (its place in [`Inspector::holding`]).
    held_since: [u64; 2],
}

/// A flow's inspection: running, or over with only the interface it was seen to use kept (a few
/// bytes, until the flow ends).
#[derive(Debug)]
enum Slot {
    Active(Box<State>),
    Done(Option<Uuid>),
}

/// A change to a flow's classification found in its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Finding {
    pub label: Option<LabelId>,
    pub provenance: Provenance,
    /// The packet that showed it came from the server side: the flow's sides are reversed.
    pub flip: bool,
    /// Only for a flow with no label yet (DCE/RPC seen, interface not known).
    pub weak: bool,
}

/// What one packet of an inspected flow showed.
#[derive(Clone, Copy, Debug, Default)]
pub struct Seen {
    pub finding: Option<Finding>,
    /// Inspection of the flow is over: its later packets need not be shown.
    pub done: bool,
}

impl Seen {
    const DONE: Seen = Seen {
        finding: None,
        done: true,
    };
}

/// An endpoint announced by a control connection, and what its flows are.
#[derive(Clone, Copy, Debug)]
pub struct Announced {
    pub label: LabelId,
    pub provenance: Provenance,
    pub interface: Option<Uuid>,
    pub ts: Ts,
}

pub struct Inspector {
    flows: FxHashMap<FlowKey, Slot>,
    /// Inspections running (`Slot::Active`), at most `max_inspected`.
    active: usize,
    max_inspected: usize,
    /// Running inspections in the order they started, with their stamp (slots of inspections since
    /// over are stale and skipped; compacted at twice the cap).
    order: VecDeque<(FlowKey, u64)>,
    next_stamp: u64,
    /// (address, port, IP protocol) → what a flow to it is.
    announced: BoundedMap<(Addr, u16, u8), Announced>,
    /// Bytes held in every inspected flow's PDU buffers (bounded by `max_buffered`).
    buffered: usize,
    max_buffered: usize,
    /// Directions holding a partial PDU, in the order they began to (stale slots skipped).
    holding: VecDeque<(FlowKey, usize, u64)>,
    pub counters: InspectCounters,
    /// Queue slots looked at (the work the caps cost, for tests).
    examined: u64,
}

impl Default for Inspector {
    fn default() -> Self {
        Inspector::with_share(1)
    }
}

/// The packet being inspected, with the flow's endpoints.
pub struct Packet<'a> {
    pub key: FlowKey,
    pub from_client: bool,
    pub client: (Addr, u16),
    pub server: (Addr, u16),
    pub protocol: u8,
    pub seq: u32,
    pub payload: &'a [u8],
    pub ts: Ts,
}

impl Inspector {
    /// An inspector for one of `workers` workers: its share of each process-wide cap.
    pub fn with_share(workers: usize) -> Inspector {
        Inspector {
            flows: FxHashMap::default(),
            active: 0,
            max_inspected: share(MAX_INSPECTED, workers),
            order: VecDeque::new(),
            next_stamp: 0,
            announced: BoundedMap::new(share(MAX_ANNOUNCED, workers)),
            buffered: 0,
            max_buffered: share(MAX_BUFFERED, workers),
            holding: VecDeque::new(),
            counters: InspectCounters::default(),
            examined: 0,
        }
    }

    /// Starts inspecting a new flow. When `max_inspected` inspections are running, the one that
    /// started first is given up (counted in `inspections_evicted`). Always true.
    pub fn start(&mut self, key: FlowKey, kind: Kind) -> bool {
        if self.flows.contains_key(&key) {
            // Not expected (the flow that had the key ended first), but never count a state twice.
            self.end(&key);
        }
        while self.active >= self.max_inspected {
            let Some((k, stamp)) = self.order.pop_front() else {
                break;
            };
            self.examined += 1;
            if matches!(self.flows.get(&k), Some(Slot::Active(s)) if s.stamp == stamp) {
                self.finish(&k);
                self.counters.inspections_evicted += 1;
            }
        }
        self.counters.flows_inspected += 1;
        let stamp = self.next_stamp;
        self.next_stamp += 1;
        self.flows.insert(
            key,
            Slot::Active(Box::new(State {
                kind,
                streams: Default::default(),
                lines: Default::default(),
                bytes: 0,
                segments: 0,
                epm_calls: Vec::new(),
                interface: None,
                done: false,
                stamp,
                held_since: [0; 2],
            })),
        );
        self.active += 1;
        self.order.push_back((key, stamp));
        if self.order.len() >= 2 * self.max_inspected {
            self.examined += self.order.len() as u64;
            let flows = &self.flows;
            self.order.retain(
                |(k, stamp)| matches!(flows.get(k), Some(Slot::Active(s)) if s.stamp == *stamp),
            );
        }
        true
    }

    /// Ends a running inspection: its buffers go, the interface it found stays until the flow ends.
    fn finish(&mut self, key: &FlowKey) {
        if let Some(slot) = self.flows.get_mut(key) {
            if let Slot::Active(s) = slot {
                self.buffered -= s.streams.iter().map(PduStream::buffered).sum::<usize>();
                self.active -= 1;
                *slot = Slot::Done(s.interface);
            }
        }
    }

    /// Whether a flow with this key is inspected (or ended and not yet forgotten).
    pub fn has(&self, key: &FlowKey) -> bool {
        self.flows.contains_key(key)
    }

    /// Forgets an ended flow; returns the DCE/RPC interface it was seen to use.
    pub fn end(&mut self, key: &FlowKey) -> Option<Uuid> {
        match self.flows.remove(key)? {
            Slot::Active(s) => {
                self.buffered -= s.streams.iter().map(PduStream::buffered).sum::<usize>();
                self.active -= 1;
                s.interface
            }
            Slot::Done(interface) => interface,
        }
    }

    /// Drops partial PDUs, held longest first, until the budget is kept; their inspections end.
    fn shed_buffers(&mut self) {
        while self.buffered > self.max_buffered {
            let Some((k, dir, since)) = self.holding.pop_front() else {
                break;
            };
            self.examined += 1;
            if let Some(Slot::Active(s)) = self.flows.get_mut(&k) {
                let held = s.streams[dir].buffered();
                if s.held_since[dir] == since && held > 0 {
                    self.buffered -= held;
                    s.streams[dir].clear();
                    self.counters.rpc_buffers_evicted += 1;
                    self.finish(&k);
                }
            }
        }
    }

    /// What an announced endpoint's flows are, within `window` of the announcement.
    pub fn announced(
        &self,
        addr: Addr,
        port: u16,
        protocol: u8,
        ts: Ts,
        window: i64,
    ) -> Option<Announced> {
        self.announced
            .get(&(addr, port, protocol))
            .filter(|a| ts.saturating_sub(a.ts) <= window)
            .copied()
    }

    /// Records the interface a flow was labelled with through an announcement.
    pub fn note_interface(&mut self, key: FlowKey, interface: Uuid) {
        match self.flows.get_mut(&key) {
            Some(Slot::Active(s)) => s.interface = Some(interface),
            Some(Slot::Done(i)) => *i = Some(interface),
            None => {}
        }
    }

    /// Remembers an announcement; when the table is full, the oldest is forgotten (O(1), whatever
    /// the announcements' timing).
    fn announce(&mut self, addr: Addr, port: u16, protocol: u8, a: Announced) {
        self.announced.insert((addr, port, protocol), a);
        self.counters.announcements_evicted = self.announced.evicted;
    }

    /// Forgets announcements older than the window (looking only at those, in the order they came).
    pub fn expire(&mut self, now: Ts, window: i64) {
        self.announced.expire(|a| now.saturating_sub(a.ts) > window);
    }

    /// Looks at one packet of an inspected flow: a change of classification, if any, and whether
    /// the flow's later packets need not be shown.
    pub fn packet(&mut self, catalog: &Catalog, p: &Packet<'_>) -> Seen {
        let Some(Slot::Active(state)) = self.flows.get_mut(&p.key) else {
            return Seen::DONE;
        };
        if p.payload.is_empty() {
            return Seen::default();
        }
        state.bytes += p.payload.len() as u64;
        state.segments += 1;
        let mut finding = None;
        let mut announcements: Vec<((Addr, u16, u8), Announced)> = Vec::new();
        let dir = usize::from(!p.from_client);
        match state.kind {
            Kind::RpcDatagram => {
                state.done = true;
                if let Some(uuid) = dcerpc::cl_interface(p.payload) {
                    self.counters.rpc_connectionless += 1;
                    state.interface = Some(uuid);
                    finding = Some(Finding {
                        label: catalog.interface_label(uuid, true),
                        provenance: Provenance::RpcHeader,
                        flip: false,
                        weak: false,
                    });
                }
            }
            Kind::EndpointMapper | Kind::RpcProbe => {
                let mut pdus: Vec<(dcerpc::CoHeader, Vec<u8>)> = Vec::new();
                let before = state.streams[dir].buffered();
                let ok = state.streams[dir].push(p.seq, p.payload, |h, pdu| {
                    if matches!(
                        h.ptype,
                        ptype::BIND | ptype::ALTER_CONTEXT | ptype::REQUEST | ptype::RESPONSE
                    ) {
                        pdus.push((*h, pdu.to_vec()));
                    }
                });
                let after = state.streams[dir].buffered();
                self.buffered = self.buffered + after - before;
                if before == 0 && after > 0 {
                    // A partial PDU begins to be held: the budget gives up the oldest first.
                    let since = self.next_stamp;
                    self.next_stamp += 1;
                    state.held_since[dir] = since;
                    self.holding.push_back((p.key, dir, since));
                }
                if !ok {
                    state.done = true;
                    if state.kind == Kind::EndpointMapper || state.interface.is_some() {
                        self.counters.rpc_streams_abandoned += 1;
                    }
                }
                for (h, pdu) in &pdus {
                    match h.ptype {
                        ptype::BIND | ptype::ALTER_CONTEXT => {
                            let Some(&(uuid, _)) = dcerpc::bind_interfaces(pdu).first() else {
                                continue;
                            };
                            self.counters.rpc_binds += 1;
                            if uuid == dcerpc::EPM_UUID && state.kind == Kind::EndpointMapper {
                                // Binding to the endpoint mapper on its own port: the port label stands.
                                continue;
                            }
                            if state.interface.is_none() || h.ptype == ptype::BIND {
                                state.interface = Some(uuid);
                                finding = Some(Finding {
                                    label: catalog.interface_label(uuid, false),
                                    provenance: Provenance::RpcBind,
                                    flip: !p.from_client,
                                    weak: false,
                                });
                            }
                            if state.kind == Kind::RpcProbe {
                                state.done = true;
                            }
                        }
                        ptype::REQUEST if p.from_client && state.kind == Kind::EndpointMapper => {
                            // ept_lookup (2) and ept_map (3) answer with towers.
                            if let Some((opnum, _)) = dcerpc::stub(pdu, h) {
                                if matches!(opnum, 2 | 3) && state.epm_calls.len() < 16 {
                                    state.epm_calls.push(h.call_id);
                                }
                            }
                        }
                        ptype::RESPONSE if !p.from_client && state.kind == Kind::EndpointMapper => {
                            let asked = state.epm_calls.iter().position(|&c| c == h.call_id);
                            if let Some(i) = asked {
                                state.epm_calls.swap_remove(i);
                            }
                            // An answer to a call we did not see asked still carries towers.
                            let Some((_, stub)) = dcerpc::stub(pdu, h) else {
                                continue;
                            };
                            let towers = dcerpc::ept_map_towers(stub, h.little);
                            if towers.is_empty() {
                                continue;
                            }
                            self.counters.epm_answers += 1;
                            for t in towers {
                                let addr = match t.addr {
                                    Some(a) if a != [0, 0, 0, 0] => Addr::from_v4(a),
                                    _ => p.server.0,
                                };
                                let (protocol, udp) = match t.transport {
                                    TowerTransport::Tcp | TowerTransport::Http => {
                                        (proto::TCP, false)
                                    }
                                    TowerTransport::Udp => (proto::UDP, true),
                                };
                                if let Some(label) = catalog.interface_label(t.interface, udp) {
                                    announcements.push((
                                        (addr, t.port, protocol),
                                        Announced {
                                            label,
                                            provenance: Provenance::EndpointMapper,
                                            interface: Some(t.interface),
                                            ts: p.ts,
                                        },
                                    ));
                                }
                            }
                        }
                        // Requests and responses without a bind: DCE/RPC whose bind was not captured.
                        ptype::REQUEST | ptype::RESPONSE
                            if state.kind == Kind::RpcProbe && finding.is_none() =>
                        {
                            let from_server = h.ptype == ptype::REQUEST && !p.from_client
                                || h.ptype == ptype::RESPONSE && p.from_client;
                            finding = Some(Finding {
                                label: catalog.interface_label(Uuid::default(), false),
                                provenance: Provenance::RpcHeader,
                                flip: from_server,
                                weak: true,
                            });
                        }
                        _ => {}
                    }
                }
                if state.kind == Kind::RpcProbe && state.segments >= MAX_PROBE_SEGMENTS {
                    state.done = true;
                }
            }
            Kind::FtpControl => {
                let line_buf = &mut state.lines[dir];
                for &b in p.payload {
                    if b == b'\n' {
                        let line = String::from_utf8_lossy(line_buf).trim().to_string();
                        line_buf.clear();
                        if let Some((addr, port)) = crate::wire::ftp::data_endpoint(
                            &line,
                            p.from_client,
                            p.server.0,
                            p.client.0,
                        ) {
                            if let Some(label) = catalog.ftp_data_label() {
                                self.counters.ftp_data_announced += 1;
                                announcements.push((
                                    (addr, port, proto::TCP),
                                    Announced {
                                        label,
                                        provenance: Provenance::FtpControl,
                                        interface: None,
                                        ts: p.ts,
                                    },
                                ));
                            }
                        }
                    } else if line_buf.len() < MAX_LINE {
                        line_buf.push(b);
                    }
                }
            }
        }
        if state.kind != Kind::RpcDatagram && state.bytes >= MAX_INSPECT_BYTES {
            state.done = true;
        }
        let mut done = state.done;
        if done {
            self.finish(&p.key);
        }
        if self.buffered > self.max_buffered {
            // Too much held across flows (many partial PDUs that never complete): drop the ones held
            // longest, this one perhaps among them.
            self.shed_buffers();
            done |= !matches!(self.flows.get(&p.key), Some(Slot::Active(_)));
        }
        if self.holding.len() >= 4 * self.max_inspected {
            self.compact_holding();
        }
        for (k, a) in announcements {
            self.counters.endpoints_announced +=
                u64::from(a.provenance == Provenance::EndpointMapper);
            self.announce(k.0, k.1, k.2, a);
        }
        Seen { finding, done }
    }

    /// Drops the slots of partial PDUs since completed or given up (at most two of the `4 *
    /// max_inspected` slots per running inspection are live, so this follows at least as many
    /// pushes as it costs).
    fn compact_holding(&mut self) {
        self.examined += self.holding.len() as u64;
        let flows = &self.flows;
        self.holding.retain(|&(k, dir, since)| {
            matches!(flows.get(&k), Some(Slot::Active(s))
                if s.held_since[dir] == since && s.streams[dir].buffered() > 0)
        });
    }

    /// Remembers a TFTP request (client endpoint → server) so the server's answer from a new port is
    /// recognised.
    pub fn tftp_request(&mut self, client: (Addr, u16), label: LabelId, ts: Ts) {
        self.announce(
            client.0,
            client.1,
            proto::UDP,
            Announced {
                label,
                provenance: Provenance::Tftp,
                interface: None,
                ts,
            },
        );
    }

    pub fn count_tftp(&mut self) {
        self.counters.tftp_transfers += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::FlowKey;

    fn flow(i: u32) -> (FlowKey, (Addr, u16), (Addr, u16)) {
        let client = Addr::from_v4([198, 51, (i >> 16) as u8, (i >> 8) as u8]);
        let server = Addr::from_v4([192, 0, 2, 10]);
        let port = 1024 + (i & 0xff) as u16;
        let (key, _) = FlowKey::of(proto::TCP, client, server, Some((port, 49_700)));
        (key, (client, port), (server, 49_700))
    }

    /// Regression: once the inspection table was full of flows that never ended (idle TCP lives
    /// 2 h), no new flow was inspected: binds and endpoint-mapper answers went unseen.
    #[test]
    fn a_flood_of_inspected_flows_gives_up_the_oldest_and_new_flows_are_still_read() {
        let catalog = Catalog::builtin();
        let mut inspector = Inspector::with_share(50);
        assert_eq!(inspector.max_inspected, 1000);
        let n = 100_000u32;
        for i in 0..n {
            assert!(inspector.start(flow(i).0, Kind::RpcProbe));
            assert!(inspector.active <= 1000);
        }
        assert_eq!(inspector.counters.inspections_evicted, u64::from(n - 1000));
        assert!(
            inspector.examined <= 3 * u64::from(n),
            "{}",
            inspector.examined
        );
        // The newest flow binds to netlogon: seen.
        let (key, client, server) = flow(n - 1);
        let uuid = Uuid::parse("12345678-1234-abcd-ef00-01234567cffb").unwrap();
        let bind = crate::wire::dcerpc::tests::bind(1, uuid, 1);
        let p = Packet {
            key,
            from_client: true,
            client,
            server,
            protocol: proto::TCP,
            seq: 1,
            payload: &bind,
            ts: 0,
        };
        let seen = inspector.packet(&catalog, &p);
        assert_eq!(
            seen.finding.map(|f| f.provenance),
            Some(Provenance::RpcBind)
        );
        assert!(seen.done);
        assert_eq!(inspector.end(&key), Some(uuid));
    }

    /// Regression: with the announcement table full of announcements younger than a minute, each
    /// new one scanned the whole table, then cleared it.
    #[test]
    fn a_flood_of_announcements_forgets_the_oldest_in_constant_work_each() {
        let mut inspector = Inspector::with_share(100);
        let label = Catalog::builtin().ftp_data_label().unwrap();
        let n = 100_000u32;
        for i in 0..n {
            let a = Announced {
                label,
                provenance: Provenance::FtpControl,
                interface: None,
                ts: i64::from(i),
            };
            let addr = Addr::from_v4([203, 0, (i >> 16) as u8, (i >> 8) as u8]);
            inspector.announce(addr, i as u16, proto::TCP, a);
        }
        let cap = MAX_ANNOUNCED / 100;
        assert_eq!(inspector.announced.len(), cap);
        assert_eq!(
            inspector.counters.announcements_evicted,
            u64::from(n) - cap as u64
        );
        assert!(
            inspector.announced.examined <= 3 * u64::from(n),
            "{}",
            inspector.announced.examined
        );
        let last = n - 1;
        let newest = Addr::from_v4([203, 0, (last >> 16) as u8, (last >> 8) as u8]);
        assert!(inspector
            .announced(
                newest,
                last as u16,
                proto::TCP,
                i64::from(n),
                600_000_000_000
            )
            .is_some());
        // Expiry looks only at what it forgets.
        let before = inspector.announced.examined;
        inspector.expire(i64::from(n) + 10, 10 + (cap as i64 / 2));
        assert_eq!(inspector.announced.len(), cap / 2);
        assert!(inspector.announced.examined - before <= cap as u64);
    }

    #[test]
    fn partial_pdus_across_many_flows_stay_within_the_global_budget() {
        let catalog = Catalog::builtin();
        let mut inspector = Inspector::default();
        // Each flow sends a header claiming a 65,535-byte PDU, then 60 KB that never completes it.
        let mut header = vec![5, 0, 11, 3, 0x10, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0];
        header.extend_from_slice(&[0u8; 60_000]);
        for i in 0..1000u32 {
            let client = Addr::from_v4([192, 0, 2, 100]);
            let server = Addr::from_v4([192, 0, 2, 10]);
            let (key, _) = FlowKey::of(
                crate::decode::proto::TCP,
                client,
                server,
                Some((10_000 + i as u16, 49_700)),
            );
            assert!(inspector.start(key, Kind::RpcProbe));
            let p = Packet {
                key,
                from_client: true,
                client: (client, 10_000 + i as u16),
                server: (server, 49_700),
                protocol: crate::decode::proto::TCP,
                seq: 1,
                payload: &header,
                ts: 0,
            };
            inspector.packet(&catalog, &p);
            assert!(inspector.buffered <= MAX_BUFFERED);
        }
        // The partial PDUs held longest were dropped for the newer ones: the newest still holds.
        let evicted = inspector.counters.rpc_buffers_evicted;
        let fit = (MAX_BUFFERED / 60_016) as u64;
        assert!(
            (1000 - fit..=1000 - fit + 1).contains(&evicted),
            "{evicted}"
        );
        assert!(inspector.examined <= 3 * 1000, "{}", inspector.examined);
        let newest = inspector.holding.back().unwrap().0;
        assert!(
            matches!(inspector.flows.get(&newest), Some(Slot::Active(s)) if s.streams[0].buffered() > 0)
        );
        // Ending the flows gives the bytes back.
        let keys: Vec<FlowKey> = inspector.flows.keys().copied().collect();
        for k in keys {
            inspector.end(&k);
        }
        assert_eq!(inspector.buffered, 0);
    }
}
