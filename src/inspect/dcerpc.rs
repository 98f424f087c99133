//! DCE/RPC inspectors (C706, MS-RPCE; parsing in `wire::dcerpc`):
//!
//! - `epm`: the endpoint mapper (TCP 135) and RPC over HTTP (593): binds, and the towers of
//!   `ept_map` / `ept_lookup` answers, which announce (server, port) → interface for later flows;
//! - `dcerpc`: any other TCP flow that may be DCE/RPC (an unknown port, a dynamic port after an
//!   endpoint-mapper contact or announcement): the interface of its first bind labels it, and a bind
//!   sent by the side taken for the server swaps the sides; requests without a captured bind show
//!   RPC with the interface unknown;
//! - `dcerpc-cl`: the first datagram of an unknown UDP flow, whose connectionless header names the
//!   interface.
//!
//! PDUs split across segments and several PDUs in one segment are reassembled (one PDU buffered per
//! direction, counted against the registry's budget).

use super::{
    Budget, Counter, Endpoint, Evidence, EvidenceKind, Expected, Inspector, Offer, Out, Provenance,
    Registration, Relabel, Segment, Step, Value,
};
use crate::catalog::Uuid;
use crate::decode::{proto, Addr};
use crate::wire::dcerpc::{self as wire, ptype, CoHeader, PduStream, TowerTransport};

/// Payload read from an endpoint-mapper flow at most.
pub const MAX_EPM_BYTES: u64 = 256 * 1024;
/// Payload segments read from other flows (binds and later alter_contexts).
pub const MAX_PROBE_SEGMENTS: u32 = 64;
/// Segments that do not parse, before any did, after which a flow is taken not to be DCE/RPC.
const MAX_MISSES: u8 = 4;
/// `ept_map` / `ept_lookup` calls awaiting their answer, per flow.
const MAX_CALLS: usize = 16;

pub static RPC_BINDS: Counter = Counter {
    key: "rpc_binds",
    text: "DCE/RPC binds",
};
pub static RPC_CONNECTIONLESS: Counter = Counter {
    key: "rpc_connectionless",
    text: "connectionless RPC",
};
pub static EPM_REQUESTS: Counter = Counter {
    key: "epm_requests",
    text: "endpoint-mapper lookups",
};
pub static DCOM_ENDPOINTS: Counter = Counter {
    key: "dcom_endpoints_announced",
    text: "DCOM endpoints announced",
};
pub static EPM_ANSWERS: Counter = Counter {
    key: "epm_answers",
    text: "endpoint-mapper answers",
};
pub static ENDPOINTS_ANNOUNCED: Counter = Counter {
    key: "endpoints_announced",
    text: "endpoints announced",
};
/// Streams that stopped parsing as DCE/RPC where it was expected (lost segments, not RPC).
pub static RPC_STREAMS_ABANDONED: Counter = Counter {
    key: "rpc_streams_abandoned",
    text: "DCE/RPC streams given up",
};

pub const ENDPOINT_MAPPER: Registration = Registration {
    name: "epm",
    wants: |o: &Offer| {
        o.protocol == proto::TCP && matches!(o.server_port, EPM_PORT | RPC_OVER_HTTP_PORT)
    },
    budget: Budget {
        bytes: MAX_EPM_BYTES,
        segments: u32::MAX,
    },
    start: || Box::new(Connection::new(true)),
    counters: &[
        &RPC_BINDS,
        &EPM_REQUESTS,
        &EPM_ANSWERS,
        &ENDPOINTS_ANNOUNCED,
        &DCOM_ENDPOINTS,
        &RPC_STREAMS_ABANDONED,
    ],
};

pub const PROBE: Registration = Registration {
    name: "dcerpc",
    wants: |o: &Offer| {
        o.protocol == proto::TCP
            && (o.label.is_none()
                || matches!(
                    o.provenance,
                    Provenance::DynamicRange
                        | Provenance::Evidence(
                            EvidenceKind::EndpointMapper
                                | EvidenceKind::LearntEndpoint
                                | EvidenceKind::DcomActivation
                        )
                ))
    },
    budget: Budget {
        bytes: MAX_EPM_BYTES,
        segments: MAX_PROBE_SEGMENTS,
    },
    start: || Box::new(Connection::new(false)),
    counters: &[&RPC_BINDS, &RPC_STREAMS_ABANDONED],
};

pub const DATAGRAM: Registration = Registration {
    name: "dcerpc-cl",
    wants: |o: &Offer| o.protocol == proto::UDP && o.label.is_none(),
    budget: Budget {
        bytes: u64::MAX,
        segments: 1,
    },
    start: || Box::new(Datagram),
    counters: &[&RPC_CONNECTIONLESS],
};

/// The RPC endpoint mapper's port.
pub const EPM_PORT: u16 = 135;
/// RPC over HTTP (ncacn_http).
pub const RPC_OVER_HTTP_PORT: u16 = 593;

/// A connection-oriented DCE/RPC flow.
struct Connection {
    /// The endpoint mapper's own port (answers announce endpoints; its own bind is no news).
    epm: bool,
    streams: [PduStream; 2],
    /// Request call ids of `ept_map`/`ept_lookup` awaiting their answer.
    calls: Vec<u32>,
    /// An interface bound so far.
    bound: bool,
    /// Some PDU was read.
    parsed: bool,
    /// A DCOM activation or OXID-resolution interface was bound: answers carry string bindings.
    dcom: bool,
    /// Segments at which the stream did not parse.
    misses: u8,
    /// Authentications recorded (at most [`MAX_AUTH`]).
    authenticated: u8,
}

/// Authentications recorded per connection (a client may authenticate each context it binds).
const MAX_AUTH: u8 = 4;

/// Records how a client's bind, alter_context or AUTH3 authenticates, from its verifier; true
/// when it recorded one. SPNEGO and NTLM tokens are read (an NTLM NEGOTIATE says nothing until
/// its AUTHENTICATE, in AUTH3 or an alter_context); Kerberos, Schannel and the Netlogon secure
/// channel are known by the auth type.
pub(super) fn auth(pdu: &[u8], h: &CoHeader, out: &mut Out<'_>) -> bool {
    let Some(v) = wire::auth_verifier(pdu, h) else {
        return false;
    };
    if matches!(v.auth_type, 9 | 10 | 16) && super::auth::token(v.token, out) {
        return true;
    }
    match super::auth::rpc_auth_type(v.auth_type) {
        Some(m) => {
            super::auth::record(m, None, out);
            true
        }
        None => false,
    }
}

impl Connection {
    fn new(epm: bool) -> Connection {
        Connection {
            epm,
            streams: Default::default(),
            calls: Vec::new(),
            bound: false,
            parsed: false,
            dcom: false,
            misses: 0,
            authenticated: 0,
        }
    }
}

impl Inspector for Connection {
    fn segment(&mut self, seg: &Segment<'_>, out: &mut Out<'_>) -> Step {
        let dir = usize::from(!seg.from_client);
        let mut pdus: Vec<(CoHeader, Vec<u8>)> = Vec::new();
        let mut any = false;
        // Requests and responses matter on the endpoint mapper (lookups, answers) and before a
        // bind (RPC whose bind was not captured); elsewhere only binds are copied out.
        let calls = self.epm || !self.bound;
        let ok = self.streams[dir].push(seg.seq, seg.payload, |h, pdu| {
            any = true;
            let wanted = match h.ptype {
                ptype::BIND | ptype::ALTER_CONTEXT => true,
                ptype::AUTH3 => h.auth_len > 0,
                ptype::REQUEST | ptype::RESPONSE => calls,
                _ => false,
            };
            if wanted {
                pdus.push((*h, pdu.to_vec()));
            }
        });
        let mut step = Step::More;
        if !ok {
            self.misses += 1;
            if self.epm || self.bound {
                out.count(&RPC_STREAMS_ABANDONED);
            }
            // A stream that never parsed is not DCE/RPC (or starts mid-PDU: the next segments may
            // begin one, see MAX_MISSES); one that did resynchronises on the next PDU header.
            if !self.parsed && self.misses > MAX_MISSES {
                step = Step::Done;
            }
        }
        self.parsed |= any;
        for (h, pdu) in &pdus {
            if seg.from_client && self.authenticated < MAX_AUTH && auth(pdu, h, out) {
                self.authenticated += 1;
            }
            match h.ptype {
                ptype::BIND | ptype::ALTER_CONTEXT => {
                    // Every interface presented is evidence (a connection may alter to several:
                    // IRemUnknown2, then IWbemServices); the first names the flow.
                    let interfaces = wire::bind_interfaces(pdu);
                    let Some(&(uuid, _)) = interfaces.first() else {
                        continue;
                    };
                    out.count(&RPC_BINDS);
                    self.dcom |= interfaces
                        .iter()
                        .any(|(u, _)| wire::DCOM_ACTIVATION.contains(u));
                    for &(u, _) in &interfaces {
                        let label = out.catalog.interface_label(u, false);
                        out.evidence(Evidence::labelled(
                            EvidenceKind::RpcBind,
                            Value::Interface(u),
                            label,
                        ));
                    }
                    if uuid == wire::EPM_UUID && self.epm {
                        // Binding to the endpoint mapper on its own port: the port label stands.
                        continue;
                    }
                    if !self.bound || h.ptype == ptype::BIND {
                        self.bound = true;
                        out.relabel(Relabel {
                            label: out.catalog.interface_label(uuid, false),
                            provenance: Provenance::Evidence(EvidenceKind::RpcBind),
                            flip: !seg.from_client,
                            weak: false,
                            interface: Some(uuid),
                        });
                    }
                }
                ptype::REQUEST if seg.from_client && self.epm => {
                    // ept_lookup (2) and ept_map (3) answer with towers.
                    if let Some((opnum, stub)) = wire::stub(pdu, h) {
                        if matches!(opnum, 2 | 3) && self.calls.len() < MAX_CALLS {
                            self.calls.push(h.call_id);
                        }
                        // What the client looks up is what it uses, answered or not.
                        if opnum == 3 {
                            if let Some(u) = wire::ept_map_request_interface(stub, h.little) {
                                out.count(&EPM_REQUESTS);
                                let label = out.catalog.interface_label(u, false);
                                out.evidence(Evidence::labelled(
                                    EvidenceKind::EpmRequest,
                                    Value::Interface(u),
                                    label,
                                ));
                            }
                        }
                    }
                }
                ptype::RESPONSE if !seg.from_client && self.epm => {
                    if let Some(i) = self.calls.iter().position(|&c| c == h.call_id) {
                        self.calls.swap_remove(i);
                    }
                    // An answer to a call we did not see asked still carries towers.
                    let Some((_, stub)) = wire::stub(pdu, h) else {
                        continue;
                    };
                    announce_towers(stub, h.little, seg, out);
                    if self.dcom {
                        announce_bindings(stub, seg, out);
                    }
                }
                // Requests and responses without a bind: DCE/RPC whose bind was not captured.
                ptype::REQUEST | ptype::RESPONSE
                    if !self.epm && !self.bound && !out.relabelled() =>
                {
                    let from_server = h.ptype == ptype::REQUEST && !seg.from_client
                        || h.ptype == ptype::RESPONSE && seg.from_client;
                    let label = out.catalog.interface_label(Uuid::default(), false);
                    // Evidence of DCE/RPC, not of any service: the interface is not known.
                    out.evidence(Evidence::labelled(
                        EvidenceKind::RpcHeader,
                        Value::None,
                        None,
                    ));
                    out.relabel(Relabel {
                        label,
                        provenance: Provenance::Evidence(EvidenceKind::RpcHeader),
                        flip: from_server,
                        weak: true,
                        interface: None,
                    });
                }
                _ => {}
            }
        }
        step
    }

    fn held(&self) -> usize {
        self.streams.iter().map(PduStream::buffered).sum()
    }
}

/// The towers of an endpoint-mapper answer: each endpoint is announced for its interface.
fn announce_towers(stub: &[u8], little: bool, seg: &Segment<'_>, out: &mut Out<'_>) {
    let towers = wire::ept_map_towers(stub, little);
    if towers.is_empty() {
        return;
    }
    out.count(&EPM_ANSWERS);
    for t in towers {
        let addr = match t.addr {
            Some(a) if a != [0, 0, 0, 0] => Addr::from_v4(a),
            _ => seg.server.0,
        };
        let (protocol, udp) = match t.transport {
            TowerTransport::Tcp | TowerTransport::Http => (proto::TCP, false),
            TowerTransport::Udp => (proto::UDP, true),
        };
        if let Some(label) = out.catalog.interface_label(t.interface, udp) {
            let at: Endpoint = (addr, t.port, protocol);
            out.count(&ENDPOINTS_ANNOUNCED);
            out.announce(
                at,
                Expected {
                    label,
                    kind: EvidenceKind::EndpointMapper,
                    interface: Some(t.interface),
                    client: Some(seg.client.0),
                    ts: seg.ts,
                },
            );
        }
    }
}

/// The TCP string bindings of a DCOM activation or OXID-resolution answer: each endpoint is
/// announced as DCOM (IRemUnknown2, the object exporter's interface) to the client that asked; the
/// connection's own binds then name the object's interfaces.
fn announce_bindings(stub: &[u8], seg: &Segment<'_>, out: &mut Out<'_>) {
    let Some(label) = out.catalog.interface_label(REM_UNKNOWN2, false) else {
        return;
    };
    for b in wire::tcp_string_bindings(stub) {
        // A name (the server's NetBIOS or DNS name) is the answering server itself.
        let addr = match b.host.parse::<std::net::Ipv4Addr>() {
            Ok(a) if !a.is_unspecified() => Addr::from_v4(a.octets()),
            _ => seg.server.0,
        };
        out.count(&DCOM_ENDPOINTS);
        out.announce(
            (addr, b.port, proto::TCP),
            Expected {
                label,
                kind: EvidenceKind::DcomActivation,
                interface: Some(REM_UNKNOWN2),
                client: Some(seg.client.0),
                ts: seg.ts,
            },
        );
    }
}

/// IRemUnknown2, the interface every DCOM object exporter serves.
const REM_UNKNOWN2: Uuid = Uuid([
    0x00, 0x00, 0x01, 0x43, 0, 0, 0, 0, 0xc0, 0, 0, 0, 0, 0, 0, 0x46,
]);

/// A UDP flow's first datagram, which may be connectionless DCE/RPC.
struct Datagram;

impl Inspector for Datagram {
    fn segment(&mut self, seg: &Segment<'_>, out: &mut Out<'_>) -> Step {
        if let Some(uuid) = wire::cl_interface(seg.payload) {
            out.count(&RPC_CONNECTIONLESS);
            let label = out.catalog.interface_label(uuid, true);
            out.evidence(Evidence::labelled(
                EvidenceKind::RpcHeader,
                Value::Interface(uuid),
                label,
            ));
            out.relabel(Relabel {
                label,
                provenance: Provenance::Evidence(EvidenceKind::RpcHeader),
                flip: false,
                weak: false,
                interface: Some(uuid),
            });
        }
        Step::Done
    }
}
