//! Inspect: the payload of the few flows that announce or name other traffic — the RPC endpoint
//! mapper's answers, DCE/RPC binds, connectionless DCE/RPC headers, FTP control commands — and the
//! announcements they make, which label later flows.
//!
//! Bounds: at most [`MAX_INSPECTED`] flows are inspected at once; a flow is inspected for at most
//! [`MAX_INSPECT_BYTES`] (the endpoint mapper and FTP control) or until its first DCE/RPC bind or
//! [`MAX_PROBE_SEGMENTS`] payload segments without one (other flows); at most one PDU per direction is
//! buffered; at most [`MAX_ANNOUNCED`] announced endpoints are remembered, for the endpoint-mapper
//! window.

use rustc_hash::FxHashMap;
use serde::Serialize;

use super::dcerpc::{self, ptype, PduStream, TowerTransport};
use crate::catalog::{Catalog, LabelId, Uuid};
use crate::decode::{proto, Addr};
use crate::flow::{FlowKey, Provenance, Ts};

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
    /// Flows not inspected because the inspection table was full.
    pub flows_not_inspected: u64,
    pub rpc_binds: u64,
    pub rpc_connectionless: u64,
    pub epm_answers: u64,
    pub endpoints_announced: u64,
    pub ftp_data_announced: u64,
    pub tftp_transfers: u64,
    /// Streams that stopped parsing as DCE/RPC where it was expected (lost segments, not RPC).
    pub rpc_streams_abandoned: u64,
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
    done: bool,
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

#[derive(Default)]
pub struct Inspector {
    flows: FxHashMap<FlowKey, State>,
    /// (address, port, IP protocol) → what a flow to it is.
    announced: FxHashMap<(Addr, u16, u8), Announced>,
    /// Bytes held in every inspected flow's PDU buffers (bounded by [`MAX_BUFFERED`]).
    buffered: usize,
    pub counters: InspectCounters,
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
    /// Starts inspecting a new flow; false when the table is full.
    pub fn start(&mut self, key: FlowKey, kind: Kind) -> bool {
        if self.flows.len() >= MAX_INSPECTED {
            self.counters.flows_not_inspected += 1;
            return false;
        }
        self.counters.flows_inspected += 1;
        self.flows.insert(
            key,
            State {
                kind,
                streams: Default::default(),
                lines: Default::default(),
                bytes: 0,
                segments: 0,
                epm_calls: Vec::new(),
                interface: None,
                done: false,
            },
        );
        true
    }

    /// Whether a flow with this key is inspected (or ended and not yet forgotten).
    pub fn has(&self, key: &FlowKey) -> bool {
        self.flows.contains_key(key)
    }

    /// Forgets an ended flow; returns the DCE/RPC interface it was seen to use.
    pub fn end(&mut self, key: &FlowKey) -> Option<Uuid> {
        let s = self.flows.remove(key)?;
        self.buffered -= s.streams.iter().map(PduStream::buffered).sum::<usize>();
        s.interface
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
        if let Some(s) = self.flows.get_mut(&key) {
            s.interface = Some(interface);
        }
    }

    fn announce(&mut self, addr: Addr, port: u16, protocol: u8, a: Announced) {
        if self.announced.len() >= MAX_ANNOUNCED {
            let oldest_kept = a.ts;
            self.announced
                .retain(|_, x| oldest_kept.saturating_sub(x.ts) < 60_000_000_000);
            if self.announced.len() >= MAX_ANNOUNCED {
                self.announced.clear();
            }
        }
        self.announced.insert((addr, port, protocol), a);
    }

    /// Forgets announcements older than the window.
    pub fn expire(&mut self, now: Ts, window: i64) {
        self.announced
            .retain(|_, a| now.saturating_sub(a.ts) <= window);
    }

    /// Looks at one packet of an inspected flow: a change of classification, if any, and whether
    /// the flow's later packets need not be shown.
    pub fn packet(&mut self, catalog: &Catalog, p: &Packet<'_>) -> Seen {
        let Some(state) = self.flows.get_mut(&p.key) else {
            return Seen::DONE;
        };
        if state.done {
            return Seen::DONE;
        }
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
                self.buffered = self.buffered + state.streams[dir].buffered() - before;
                if self.buffered > MAX_BUFFERED {
                    // Too much held across flows (many partial PDUs that never complete): give this
                    // stream up rather than grow.
                    self.buffered -= state.streams[dir].buffered();
                    state.streams[dir].clear();
                    state.done = true;
                    self.counters.rpc_streams_abandoned += 1;
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
                        if let Some((addr, port)) =
                            super::ftp::data_endpoint(&line, p.from_client, p.server.0, p.client.0)
                        {
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
        let done = state.done;
        for (k, a) in announcements {
            self.counters.endpoints_announced +=
                u64::from(a.provenance == Provenance::EndpointMapper);
            self.announce(k.0, k.1, k.2, a);
        }
        Seen { finding, done }
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
        assert!(inspector.counters.rpc_streams_abandoned > 0);
        // Ending the flows gives the bytes back.
        let keys: Vec<FlowKey> = inspector.flows.keys().copied().collect();
        for k in keys {
            inspector.end(&k);
        }
        assert_eq!(inspector.buffered, 0);
    }
}
