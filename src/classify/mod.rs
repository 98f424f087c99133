//! Classify: decide a new flow's server side and label it from the catalog.
//!
//! The server side is decided once, from the flow's first packet, by the first rule that applies:
//!
//! 1. `syn` / `syn-ack`: a SYN without ACK comes from the client; a SYN+ACK from the server; then
//!    `announced`: an endpoint a control connection announced (endpoint mapper, FTP: the server's;
//!    TFTP: the client the server answers from a new port).
//! 2. `catalog-port`: exactly one side's port is a catalog row for the transport.
//!    Both ports in the catalog over UDP: the first packet's destination (`first-packet`), since a UDP
//!    exchange starts with the request (RADIUS 1645 → 1812, NetBIOS 137 → 137).
//! 3. `endpoint-mapper`: the client spoke to this server's RPC endpoint mapper (TCP 135) shortly before
//!    and the server's port is in the dynamic RPC range.
//! 4. `known-server`: one endpoint (address, port) was the server of an earlier flow whose side a
//!    handshake decided (for port-less protocols such as GRE and ESP: one address served an earlier
//!    TCP or UDP flow, as a PPTP or IKE server does); else `repeated-endpoint`: one endpoint already took part in an earlier flow
//!    with another peer and the other did not (servers keep their port, clients pick new ones).
//! 5. `well-known-port`: one port is below 1024 and the other is not.
//! 6. `lower-port`: both ports are 1024 or above and differ: the lower port is the server's.
//! 7. `icmp-type`: ICMP echo and other request/reply pairs.
//! 8. `first-packet`: otherwise (equal ports such as UDP 137↔137, GRE/ESP/AH), the first packet's
//!    destination is the server — for UDP that is "a request to a catalog port".
//!
//! The label comes from the server's (transport, port), or the IP protocol number for port-less
//! protocols, or an announcement (see `inspect`). A TCP port in the dynamic RPC range is labelled
//! `RPC dynamic (unconfirmed)` only when the same client spoke to the same server's TCP 135 within the
//! endpoint-mapper window. Payload inspection may relabel a flow later (a DCE/RPC bind, a
//! connectionless RPC header) and, for a bind sent by the side taken for the server, swap its sides.

use std::sync::Arc;
use std::time::Duration;

use crate::bounded::{share, BoundedMap};
use crate::catalog::{Catalog, Transport, Uuid};
use crate::decode::{proto, tcp_flags, Addr, Decoded};
use crate::flow::{Class, Flow, ServerRule};
use crate::inspect::{self, Counter, EvidenceKind, Expected, Provenance, Registry, Seen, Segment};
use crate::time::{nanos, Ts};

/// The RPC endpoint mapper's port.
pub const EPM_PORT: u16 = crate::inspect::dcerpc::EPM_PORT;
/// How long after a client's endpoint-mapper contact its flows to dynamic ports are labelled RPC.
pub const DEFAULT_EPM_WINDOW: Duration = Duration::from_secs(600);
/// Endpoint-mapper contacts remembered (for the whole process: see [`crate::bounded::share`]).
pub const MAX_EPM_CONTACTS: usize = 100_000;
/// Endpoints remembered for the `known-server` and `repeated-endpoint` rules (each table), and for
/// how long.
pub const MAX_ENDPOINTS: usize = 200_000;
const ENDPOINT_MEMORY: i64 = 3600 * 1_000_000_000;

/// A transport endpoint: (address, port, IP protocol).
type Endpoint = (Addr, u16, u8);

/// Endpoint-mapper contacts forgotten, oldest first, when the table was full.
pub static EPM_CONTACTS_EVICTED: Counter = Counter {
    key: "epm_contacts_evicted",
    text: "endpoint-mapper contacts forgotten (table full)",
};
/// Known-server, recent and server-address endpoints forgotten, oldest first, when full.
pub static ENDPOINTS_EVICTED: Counter = Counter {
    key: "endpoints_evicted",
    text: "endpoints forgotten (table full)",
};

pub struct Classifier {
    catalog: Arc<Catalog>,
    /// (client, server) → last time the client opened a flow to the server's TCP 135.
    epm_contacts: BoundedMap<(Addr, Addr), Ts>,
    epm_window: i64,
    /// Server endpoints of flows whose side a handshake decided.
    known_servers: BoundedMap<Endpoint, Ts>,
    /// Endpoints of recent flows, with the peer address they were seen with.
    recent_endpoints: BoundedMap<Endpoint, (Addr, Ts)>,
    /// Addresses that served a TCP or UDP flow (handshake or catalog port), for port-less protocols:
    /// the PPTP server is the GRE tunnel's server, the IKE responder the ESP one's.
    server_addrs: BoundedMap<Addr, Ts>,
    inspect: Registry,
}

impl Classifier {
    pub fn new(catalog: Arc<Catalog>, epm_window: Duration) -> Classifier {
        Classifier::with_share(catalog, epm_window, 1)
    }

    /// A classifier for one of `workers` workers: each of its tables (and the inspector's) holds
    /// that share of the process-wide cap.
    pub fn with_share(catalog: Arc<Catalog>, epm_window: Duration, workers: usize) -> Classifier {
        Classifier {
            catalog,
            epm_contacts: BoundedMap::new(share(MAX_EPM_CONTACTS, workers)),
            epm_window: nanos(epm_window),
            known_servers: BoundedMap::new(share(MAX_ENDPOINTS, workers)),
            recent_endpoints: BoundedMap::new(share(MAX_ENDPOINTS, workers)),
            server_addrs: BoundedMap::new(share(MAX_ENDPOINTS, workers)),
            inspect: Registry::with_share(workers),
        }
    }

    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    fn transport(protocol: u8) -> Option<Transport> {
        match protocol {
            proto::TCP => Some(Transport::Tcp),
            proto::UDP => Some(Transport::Udp),
            _ => None,
        }
    }

    fn spoke_to_epm(&self, client: Addr, server: Addr, ts: Ts) -> bool {
        self.epm_contacts
            .get(&(client, server))
            .is_some_and(|&t| ts.saturating_sub(t) <= self.epm_window)
    }

    /// Decides the server side and label of a new flow from its first packet (`d`), whose source is
    /// the key's `lo` side when `src_is_lo`, and which inspector reads its payload. The announcement
    /// that labelled it, if any, is returned too: it is the flow's first evidence.
    pub fn classify(
        &mut self,
        d: &Decoded<'_>,
        src_is_lo: bool,
        ts: Ts,
    ) -> (Class, Option<Expected>) {
        let (src_is_client, server_rule) = self.server_side(d, ts);
        let (client, server) = if src_is_client {
            (d.src, d.dst)
        } else {
            (d.dst, d.src)
        };
        let mut inspector = None;
        let mut used = None;
        let (label, provenance) = match (Self::transport(d.protocol), d.ports) {
            (Some(t), Some((sp, dp))) => {
                let server_port = if src_is_client { dp } else { sp };
                let client_port = if src_is_client { sp } else { dp };
                // A bare SYN is not yet a conversation: the tracker remembers the endpoint-mapper
                // contact when the server answers (see `server_answered`).
                if server_rule != ServerRule::Syn {
                    self.server_answered(
                        d.protocol,
                        (client, client_port),
                        (server, server_port),
                        server_rule,
                        ts,
                    );
                }
                self.remember_endpoints(
                    d.protocol,
                    (client, client_port),
                    (server, server_port),
                    ts,
                );
                let announced = self.expected((server, server_port, d.protocol), client, ts);
                let tftp = self
                    .announced((client, client_port, d.protocol), ts)
                    .filter(|a| a.kind == EvidenceKind::Tftp);
                let (label, provenance) =
                    match (self.catalog.lookup_port(t, server_port), announced, tftp) {
                        (_, Some(a), _) if a.kind != EvidenceKind::Tftp => {
                            used = Some(a);
                            (Some(a.label), Provenance::Evidence(a.kind))
                        }
                        (Some(l), _, _) => (Some(l), Provenance::Port),
                        (None, _, Some(a)) if t == Transport::Udp => {
                            self.inspect.counters.add(&inspect::tftp::TRANSFERS, 1);
                            used = Some(a);
                            (Some(a.label), Provenance::Evidence(a.kind))
                        }
                        // Active-mode FTP data comes from the server's port 20.
                        (None, _, _) if t == Transport::Tcp && client_port == 20 => {
                            match self.catalog.lookup_port(t, 20) {
                                Some(l) => (Some(l), Provenance::Port),
                                None => (None, Provenance::Unknown),
                            }
                        }
                        (None, _, _)
                            if t == Transport::Tcp
                                && self.catalog.is_dynamic_port(server_port)
                                && self.spoke_to_epm(client, server, ts) =>
                        {
                            match self.catalog.rpc_dynamic_label() {
                                Some(l) => (Some(l), Provenance::DynamicRange),
                                None => (None, Provenance::Unknown),
                            }
                        }
                        (None, _, _) => (None, Provenance::Unknown),
                    };
                inspector = self.inspect.pick(&inspect::Offer {
                    protocol: d.protocol,
                    server_port,
                    client_port,
                    label,
                    provenance,
                });
                (label, provenance)
            }
            (Some(_), None) => (None, Provenance::Unknown),
            (None, _) => {
                let label = self.catalog.lookup_ip_protocol(d.protocol);
                // Port-less protocols a payload check reads (GRE: PPTP's enhanced GRE).
                inspector = self.inspect.pick(&inspect::Offer {
                    protocol: d.protocol,
                    server_port: 0,
                    client_port: 0,
                    label,
                    provenance: Provenance::IpProtocol,
                });
                match label {
                    Some(l) => (Some(l), Provenance::IpProtocol),
                    None => (None, Provenance::Unknown),
                }
            }
        };
        let class = Class {
            client_is_lo: src_is_client == src_is_lo,
            server_rule,
            label,
            provenance,
            inspector,
        };
        (class, used)
    }

    /// What a flow from `client` to an announced endpoint is, within the endpoint-mapper window.
    fn expected(&self, at: inspect::Endpoint, client: Addr, ts: Ts) -> Option<Expected> {
        self.inspect.expected.get(at, client, ts, self.epm_window)
    }

    /// The newest announcement of an endpoint, whatever it names (it is a server's, or a TFTP
    /// client's).
    fn announced(&self, at: inspect::Endpoint, ts: Ts) -> Option<Expected> {
        self.inspect.expected.any(at, ts, self.epm_window)
    }

    /// Shows a packet of an inspected flow to its inspector and relabels the flow (or swaps its
    /// sides) when the payload says so: a DCE/RPC bind, a connectionless RPC header.
    pub fn inspect(&mut self, flow: &mut Flow, d: &Decoded<'_>, from_client: bool, ts: Ts) {
        let Some(entry) = flow.class.inspector else {
            return;
        };
        if d.payload.is_empty() {
            return;
        }
        let seg = Segment {
            from_client,
            seq: d.tcp_seq,
            payload: d.payload,
            ts,
            client: flow.client(),
            server: flow.server(),
            protocol: d.protocol,
            label: flow.class.label,
        };
        let Seen { relabel, done } =
            self.inspect
                .segment(&self.catalog, flow.key, entry, &mut flow.slot, &seg);
        flow.inspect_done = done;
        if let Some(found) = relabel {
            if found.weak && flow.class.label.is_some() {
                return;
            }
            if found.flip {
                flow.flip();
                flow.class.server_rule = ServerRule::RpcBind;
            }
            if found.label.is_some() {
                if found.label != flow.class.label {
                    // This packet and the held-back ones are recorded under the new label.
                    let recorded = flow
                        .total_packets()
                        .saturating_sub(1 + u64::from(flow.n_pending));
                    if let Some(slot) = flow.slot.as_mut() {
                        slot.sized_under_old_label = recorded;
                    }
                }
                flow.class.label = found.label;
                flow.class.provenance = found.provenance;
            }
            // A bind names what the server's endpoint serves: later flows to it (and flows to it
            // that end without a bind of their own) learn it, as a set (see `inspect::expect`).
            if let (Some(label), Some(interface), Provenance::Evidence(EvidenceKind::RpcBind)) =
                (found.label, found.interface, found.provenance)
            {
                let (server, port) = flow.server();
                if d.protocol == proto::TCP
                    && self.catalog.lookup_port(Transport::Tcp, port).is_none()
                {
                    self.inspect.expected.announce(
                        (server, port, proto::TCP),
                        Expected {
                            label,
                            kind: EvidenceKind::LearntEndpoint,
                            interface: Some(interface),
                            client: None,
                            ts,
                        },
                    );
                }
            }
        }
    }

    /// Inspections given up for the budgets: (flow key, stamp) to end with
    /// [`Classifier::give_up`] in the flow that has the key.
    pub fn take_given_up(&mut self) -> Vec<(crate::decode::FlowKey, u64)> {
        self.inspect.take_given_up()
    }

    /// Whether inspections were given up since the last [`Classifier::take_given_up`].
    pub fn has_given_up(&self) -> bool {
        self.inspect.has_given_up()
    }

    /// Ends inspection `stamp` in this flow, if the flow still runs it.
    pub fn give_up(flow: &mut Flow, stamp: u64) {
        if let Some(slot) = &mut flow.slot {
            if Registry::give_up(slot, stamp) {
                flow.inspect_done = true;
            }
        }
    }

    /// An ended flow's inspection no longer counts against the budgets; returns the DCE/RPC
    /// interface its label came from, if seen.
    ///
    /// A flow that was open before its endpoint was announced (the endpoint-mapper answer or a bind
    /// on another connection came later) and showed nothing of its own takes the announcement now.
    pub fn flow_ended(&mut self, flow: &mut Flow) -> Option<Uuid> {
        self.late_announcement(flow);
        self.ticket(flow);
        let slot = flow.slot.as_mut()?;
        self.inspect.flow_ended(slot);
        slot.interface
    }

    /// Reads a packet every worker learns from (see [`inspect::learn`]).
    pub fn learn(&mut self, d: &Decoded<'_>, ts: Ts) {
        self.inspect.learn.packet(&self.catalog, d, ts);
    }

    /// A Kerberos ticket the client asked for its server's service before the flow began: evidence
    /// for the flow (see [`inspect::learn::Learner::ticket_for`]).
    fn ticket(&mut self, flow: &mut Flow) {
        let Some(label) = flow.class.label else {
            return;
        };
        if !flow.has_ports() || flow.is_unanswered() {
            return;
        }
        // The server name the flow's own ClientHello sent names the server as well as DNS does.
        let sni = flow.slot.as_ref().and_then(|slot| {
            slot.evidence
                .iter()
                .find(|e| e.kind == EvidenceKind::TlsSni)
                .and_then(|e| match &e.value {
                    inspect::Value::Text(t) => Some(t.clone()),
                    _ => None,
                })
        });
        let Some(e) = self.inspect.learn.ticket_for(
            &self.catalog,
            flow.client().0,
            flow.server(),
            label,
            flow.first_ts,
            sni.as_deref(),
        ) else {
            return;
        };
        let slot = flow.slot.get_or_insert_with(Box::default);
        if slot.evidence.add(e) {
            self.inspect.counters.add(&inspect::learn::TICKET_FLOWS, 1);
        }
    }

    fn late_announcement(&self, flow: &mut Flow) {
        if !matches!(
            flow.class.provenance,
            Provenance::Unknown | Provenance::DynamicRange
        ) || !flow.has_ports()
            || flow.is_unanswered()
        {
            return;
        }
        let (server, port) = flow.server();
        let Some(a) = self.expected(
            (server, port, flow.key.protocol),
            flow.client().0,
            flow.last_ts,
        ) else {
            return;
        };
        if a.kind == EvidenceKind::Tftp || a.ts < flow.first_ts {
            return;
        }
        let relabelled = flow.class.label != Some(a.label);
        flow.class.label = Some(a.label);
        flow.class.provenance = Provenance::Evidence(a.kind);
        let recorded = flow.total_packets();
        let slot = flow.slot.get_or_insert_with(Box::default);
        if relabelled {
            // Every packet was recorded, under the label the flow had until now.
            slot.sized_under_old_label = recorded;
        }
        slot.evidence.add(a.evidence());
        if slot.interface.is_none() {
            slot.interface = a.interface;
        }
    }

    /// The inspectors' counters, with what the classifier's own tables forgot when full.
    /// The host names DNS answers gave.
    pub fn names(&self) -> &inspect::names::Names {
        &self.inspect.learn.names
    }

    pub fn inspect_counters(&self) -> inspect::Counters {
        let mut c = self.inspect.counters();
        c.set(&EPM_CONTACTS_EVICTED, self.epm_contacts.evicted);
        c.set(
            &ENDPOINTS_EVICTED,
            self.known_servers.evicted + self.recent_endpoints.evicted + self.server_addrs.evicted,
        );
        c
    }

    /// Returns (the packet's source is the client, the rule that decided).
    pub fn server_side(&self, d: &Decoded<'_>, ts: Ts) -> (bool, ServerRule) {
        if d.protocol == proto::TCP {
            let syn_ack = d.tcp_flags & (tcp_flags::SYN | tcp_flags::ACK);
            if syn_ack == tcp_flags::SYN {
                return (true, ServerRule::Syn);
            }
            if syn_ack == tcp_flags::SYN | tcp_flags::ACK {
                return (false, ServerRule::SynAck);
            }
        }
        if let (Some(t), Some((sp, dp))) = (Self::transport(d.protocol), d.ports) {
            // An endpoint a control connection announced: the endpoint mapper's or FTP's are servers,
            // TFTP's is the client the server answers from a new port.
            let announced = |a: Addr, p: u16| self.announced((a, p, d.protocol), ts);
            match (announced(d.dst, dp), announced(d.src, sp)) {
                (Some(a), _) if a.kind == EvidenceKind::Tftp => {
                    return (false, ServerRule::Announced)
                }
                (_, Some(a)) if a.kind == EvidenceKind::Tftp => {
                    return (true, ServerRule::Announced)
                }
                (Some(_), None) => return (true, ServerRule::Announced),
                (None, Some(_)) => return (false, ServerRule::Announced),
                _ => {}
            }
            let s_cat = self.catalog.lookup_port(t, sp).is_some();
            let d_cat = self.catalog.lookup_port(t, dp).is_some();
            if d_cat != s_cat {
                return (d_cat, ServerRule::CatalogPort);
            }
            if d_cat && t == Transport::Udp {
                return (true, ServerRule::FirstPacket);
            }
            if t == Transport::Tcp && !d_cat {
                if self.catalog.is_dynamic_port(dp) && self.spoke_to_epm(d.src, d.dst, ts) {
                    return (true, ServerRule::EndpointMapper);
                }
                if self.catalog.is_dynamic_port(sp) && self.spoke_to_epm(d.dst, d.src, ts) {
                    return (false, ServerRule::EndpointMapper);
                }
            }
            let (src, dst) = ((d.src, sp, d.protocol), (d.dst, dp, d.protocol));
            let known = |e: &Endpoint| {
                self.known_servers
                    .get(e)
                    .is_some_and(|&t| ts.saturating_sub(t) <= ENDPOINT_MEMORY)
            };
            if known(&dst) != known(&src) {
                return (known(&dst), ServerRule::KnownServer);
            }
            let repeated = |e: &Endpoint, peer: Addr| {
                self.recent_endpoints
                    .get(e)
                    .is_some_and(|&(p, t)| p != peer && ts.saturating_sub(t) <= ENDPOINT_MEMORY)
            };
            let (dst_rep, src_rep) = (repeated(&dst, d.src), repeated(&src, d.dst));
            if dst_rep != src_rep {
                return (dst_rep, ServerRule::RepeatedEndpoint);
            }
            if (sp < 1024) != (dp < 1024) {
                return (dp < 1024, ServerRule::WellKnownPort);
            }
            if sp != dp && sp >= 1024 {
                return (dp < sp, ServerRule::LowerPort);
            }
            return (true, ServerRule::FirstPacket);
        }
        if matches!(d.protocol, proto::ICMP | proto::ICMPV6) {
            if let Some(&icmp_type) = d.payload.first() {
                // Replies come from the server: echo reply (0 / 129), timestamp, information, address
                // mask replies; ICMPv6 node information reply.
                let reply = if d.protocol == proto::ICMP {
                    matches!(icmp_type, 0 | 14 | 16 | 18)
                } else {
                    matches!(icmp_type, 129 | 140)
                };
                let request = if d.protocol == proto::ICMP {
                    matches!(icmp_type, 8 | 13 | 15 | 17)
                } else {
                    matches!(icmp_type, 128 | 139)
                };
                if reply || request {
                    return (request, ServerRule::IcmpType);
                }
            }
        }
        let known = |a: &Addr| {
            self.server_addrs
                .get(a)
                .is_some_and(|&t| ts.saturating_sub(t) <= ENDPOINT_MEMORY)
        };
        if known(&d.dst) != known(&d.src) {
            return (known(&d.dst), ServerRule::KnownServer);
        }
        (true, ServerRule::FirstPacket)
    }

    /// Learns from a flow whose server has answered: endpoint-mapper contacts, and server endpoints
    /// decided by a handshake.
    pub fn server_answered(
        &mut self,
        protocol: u8,
        client: (Addr, u16),
        server: (Addr, u16),
        rule: ServerRule,
        ts: Ts,
    ) {
        if protocol == proto::TCP && server.1 == EPM_PORT {
            self.remember_epm(client.0, server.0, ts);
        }
        if matches!(
            rule,
            ServerRule::Syn | ServerRule::SynAck | ServerRule::CatalogPort
        ) {
            self.server_addrs.insert(server.0, ts);
        }
        if matches!(rule, ServerRule::Syn | ServerRule::SynAck) {
            self.known_servers
                .insert((server.0, server.1, protocol), ts);
        }
    }

    fn remember_endpoints(
        &mut self,
        protocol: u8,
        client: (Addr, u16),
        server: (Addr, u16),
        ts: Ts,
    ) {
        self.recent_endpoints
            .insert((client.0, client.1, protocol), (server.0, ts));
        self.recent_endpoints
            .insert((server.0, server.1, protocol), (client.0, ts));
    }

    /// Remembers a contact; when the table is full, the oldest is forgotten (O(1), whatever the
    /// contacts' timing: a flood of young contacts used to clear or scan the whole table each).
    fn remember_epm(&mut self, client: Addr, server: Addr, ts: Ts) {
        self.epm_contacts.insert((client, server), ts);
    }

    /// Forgets endpoint-mapper contacts and announcements older than the window, and old endpoints.
    /// Each table is in insertion order, so only the entries forgotten (and one more) are looked at.
    pub fn expire(&mut self, now: Ts) {
        self.inspect.expire(now, self.epm_window);
        let old = |t: Ts| now.saturating_sub(t) > ENDPOINT_MEMORY;
        self.known_servers.expire(|&t| old(t));
        self.recent_endpoints.expire(|&(_, t)| old(t));
        self.server_addrs.expire(|&t| old(t));
        let window = self.epm_window;
        self.epm_contacts
            .expire(|&t| now.saturating_sub(t) > window);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::FlowKey;

    fn key_of(d: &Decoded<'_>) -> FlowKey {
        FlowKey::of(d.protocol, d.src, d.dst, d.ports).0
    }

    /// The class of a new flow with this key (the key checks the test's packet is the flow's).
    fn classify(
        c: &mut Classifier,
        key: FlowKey,
        d: &Decoded<'_>,
        src_is_lo: bool,
        ts: Ts,
    ) -> Class {
        assert_eq!(key, key_of(d));
        c.classify(d, src_is_lo, ts).0
    }

    fn classifier() -> Classifier {
        Classifier::new(Arc::new(Catalog::builtin()), DEFAULT_EPM_WINDOW)
    }

    use crate::decode::test_packets::{addr as a, tcp};

    fn udp(src: u8, sport: u16, dst: u8, dport: u16) -> Decoded<'static> {
        Decoded {
            protocol: proto::UDP,
            ..tcp(src, sport, dst, dport, 0)
        }
    }

    fn side(c: &Classifier, d: &Decoded<'_>) -> (bool, &'static str) {
        let (client, rule) = c.server_side(d, 0);
        (client, rule.as_str())
    }

    const ACK: u8 = tcp_flags::ACK;
    const SYN: u8 = tcp_flags::SYN;

    /// A bind on one connection teaches the server's endpoint: a later flow to it is labelled at
    /// once, and one already open when the bind was seen takes it when it ends.
    #[test]
    fn binds_teach_their_endpoint_to_later_and_to_open_flows() {
        let mut c = classifier();
        let netlogon = Uuid::parse("12345678-1234-abcd-ef00-01234567cffb").unwrap();
        let bind = crate::wire::dcerpc::tests::bind(1, netlogon, 1);
        let flow_to = |c: &mut Classifier, client: u8, port: u16, ts: Ts| {
            let d = tcp(client, 50_000 + u16::from(client), 10, port, SYN);
            let (class, used) = c.classify(&d, key_of(&d).lo == d.src, ts);
            assert!(used.is_none());
            let mut f = Flow::new(key_of(&d), class, ts);
            f.last_ts = ts;
            f
        };
        // Open before anything is known of 50300.
        let mut early = flow_to(&mut c, 103, 50_300, 1_000);
        assert_eq!(early.class.label, None);
        // Another client binds on its own connection to 50300.
        let mut first = flow_to(&mut c, 101, 50_300, 2_000);
        let mut d = tcp(101, 50_101, 10, 50_300, ACK);
        d.payload = &bind;
        d.tcp_seq = 1;
        c.inspect(&mut first, &d, true, 2_100);
        assert_eq!(first.class.provenance.as_str(), "rpc-bind");
        // A later flow from a third client is labelled from the start.
        let later = c.classify(&tcp(102, 50_102, 10, 50_300, SYN), true, 3_000);
        assert_eq!(
            (later.0.label, later.0.provenance.as_str()),
            (first.class.label, "learnt-endpoint")
        );
        assert_eq!(later.1.map(|e| e.interface), Some(Some(netlogon)));
        // The early flow learns it when it ends.
        early.last_ts = 4_000;
        assert_eq!(c.flow_ended(&mut early), Some(netlogon));
        assert_eq!(early.class.label, first.class.label);
        assert_eq!(early.class.provenance.as_str(), "learnt-endpoint");
    }

    #[test]
    fn syn_beats_every_port_heuristic() {
        let c = classifier();
        // Client on port 1000 connects to a server on 50000: ports alone would say the opposite.
        assert_eq!(side(&c, &tcp(101, 1000, 10, 50000, SYN)), (true, "syn"));
        assert_eq!(
            side(&c, &tcp(10, 50000, 101, 1000, SYN | ACK)),
            (false, "syn-ack")
        );
        // SYN from a catalog port (client bound to 445 by accident) still makes the sender the client.
        assert_eq!(side(&c, &tcp(101, 445, 10, 50000, SYN)), (true, "syn"));
    }

    #[test]
    fn mid_stream_uses_the_catalog_then_port_numbers() {
        let c = classifier();
        assert_eq!(
            side(&c, &tcp(10, 445, 101, 49800, ACK)),
            (false, "catalog-port")
        );
        assert_eq!(
            side(&c, &tcp(101, 49800, 10, 445, ACK)),
            (true, "catalog-port")
        );
        // Neither in the catalog: 5999 vs 40000.
        assert_eq!(
            side(&c, &tcp(10, 5999, 101, 40000, ACK)),
            (false, "lower-port")
        );
        assert_eq!(
            side(&c, &tcp(101, 40000, 10, 5999, ACK)),
            (true, "lower-port")
        );
        // Well-known (not in the catalog) vs ephemeral.
        assert_eq!(
            side(&c, &tcp(10, 22, 101, 1030, ACK)),
            (false, "well-known-port")
        );
    }

    #[test]
    fn udp_request_to_a_catalog_port() {
        let c = classifier();
        assert_eq!(side(&c, &udp(101, 49900, 10, 161)), (true, "catalog-port"));
        assert_eq!(side(&c, &udp(10, 161, 101, 49900)), (false, "catalog-port"));
        // NetBIOS name service between two 137s: the first packet's destination serves.
        assert_eq!(side(&c, &udp(101, 137, 10, 137)), (true, "first-packet"));
    }

    #[test]
    fn labels_by_port_and_ip_protocol() {
        let mut c = classifier();
        let class = classify(
            &mut c,
            key_of(&tcp(101, 50000, 10, 88, SYN)),
            &tcp(101, 50000, 10, 88, SYN),
            true,
            0,
        );
        let cat = c.catalog().clone();
        assert_eq!(cat.label(class.label.unwrap()).name, "Kerberos");
        assert_eq!(class.provenance, Provenance::Port);
        let mut gre = tcp(101, 0, 10, 0, 0);
        gre.protocol = proto::GRE;
        gre.ports = None;
        let class = classify(&mut c, key_of(&gre), &gre, true, 0);
        assert_eq!(cat.label(class.label.unwrap()).name, "GRE (IP protocol 47)");
        assert_eq!(class.provenance, Provenance::IpProtocol);
        let class = classify(
            &mut c,
            key_of(&tcp(101, 50000, 10, 8443, SYN)),
            &tcp(101, 50000, 10, 8443, SYN),
            true,
            0,
        );
        assert_eq!((class.label, class.provenance), (None, Provenance::Unknown));
    }

    #[test]
    fn dynamic_port_is_rpc_only_after_the_endpoint_mapper() {
        let mut c = classifier();
        let cat = c.catalog().clone();
        let second = 1_000_000_000;
        // Client .102 never spoke to 135: a dynamic port stays unclassified.
        let class = classify(
            &mut c,
            key_of(&tcp(102, 50001, 10, 49701, SYN)),
            &tcp(102, 50001, 10, 49701, SYN),
            true,
            0,
        );
        assert_eq!(class.label, None);
        // Client .101 sends a SYN to the endpoint mapper: not a contact until the server answers.
        let epm = classify(
            &mut c,
            key_of(&tcp(101, 50000, 10, 135, SYN)),
            &tcp(101, 50000, 10, 135, SYN),
            true,
            second,
        );
        assert_eq!(
            classify(
                &mut c,
                key_of(&tcp(101, 50001, 10, 49699, SYN)),
                &tcp(101, 50001, 10, 49699, SYN),
                true,
                second
            )
            .label,
            None
        );
        c.server_answered(
            proto::TCP,
            (a(101), 50000),
            (a(10), 135),
            epm.server_rule,
            second,
        );
        // Then it connects to a dynamic port.
        let class = classify(
            &mut c,
            key_of(&tcp(101, 50002, 10, 49700, SYN)),
            &tcp(101, 50002, 10, 49700, SYN),
            true,
            2 * second,
        );
        assert_eq!(
            cat.label(class.label.unwrap()).name,
            "RPC dynamic (unconfirmed)"
        );
        assert_eq!(class.provenance, Provenance::DynamicRange);
        // The other direction (server → client port) does not count.
        let class = classify(
            &mut c,
            key_of(&tcp(10, 50003, 101, 49702, SYN)),
            &tcp(10, 50003, 101, 49702, SYN),
            false,
            2 * second,
        );
        assert_eq!(class.label, None);
        // Mid-stream, the endpoint-mapper contact also decides the server side.
        assert_eq!(
            c.server_side(&tcp(10, 49703, 101, 60000, ACK), 2 * second),
            (false, ServerRule::EndpointMapper)
        );
        // After the window, the contact is forgotten.
        let late = 2 * second + nanos(DEFAULT_EPM_WINDOW) + second;
        assert_eq!(
            classify(
                &mut c,
                key_of(&tcp(101, 50004, 10, 49704, SYN)),
                &tcp(101, 50004, 10, 49704, SYN),
                true,
                late
            )
            .label,
            None
        );
    }

    #[test]
    fn udp_between_two_catalog_ports_goes_to_the_first_destination() {
        let c = classifier();
        // RADIUS: a legacy-port client (1645) asks the server on 1812.
        assert_eq!(side(&c, &udp(1, 1645, 100, 1812)), (true, "first-packet"));
    }

    #[test]
    fn earlier_flows_teach_the_server_side_of_mid_stream_ones() {
        let mut c = classifier();
        // A handshake showed .10:5999 serving; a later mid-stream flow from it is decided by that.
        let class = classify(
            &mut c,
            key_of(&tcp(101, 40000, 10, 5999, SYN)),
            &tcp(101, 40000, 10, 5999, SYN),
            true,
            0,
        );
        c.server_answered(
            proto::TCP,
            (a(101), 40000),
            (a(10), 5999),
            class.server_rule,
            1,
        );
        assert_eq!(
            c.server_side(&tcp(10, 5999, 102, 1200, ACK), 2),
            (false, ServerRule::KnownServer)
        );
        // Without a handshake: an endpoint seen with another peer before is the server (fan-in).
        classify(
            &mut c,
            key_of(&tcp(105, 2002, 147, 1050, ACK)),
            &tcp(105, 2002, 147, 1050, ACK),
            true,
            3,
        );
        assert_eq!(
            c.server_side(&tcp(167, 1075, 105, 2002, ACK), 4),
            (true, ServerRule::RepeatedEndpoint)
        );
    }

    fn v4(i: u32) -> Addr {
        Addr::from_v4([198, 51, (i >> 8) as u8, i as u8])
    }

    /// Regression: with the contact table full of contacts younger than the window (crafted timing),
    /// each new contact expired every table (a full scan of each), then cleared the contacts: 84.6 s
    /// instead of 0.70 s for a flood, and the contacts just made were forgotten.
    #[test]
    fn a_flood_of_endpoint_mapper_contacts_forgets_the_oldest_in_constant_work_each() {
        let mut c = Classifier::with_share(Arc::new(Catalog::builtin()), DEFAULT_EPM_WINDOW, 100);
        let cap = MAX_EPM_CONTACTS / 100;
        let n = 100_000u32;
        let server = a(10);
        for i in 0..n {
            c.server_answered(
                proto::TCP,
                (v4(i), 50_000),
                (server, EPM_PORT),
                ServerRule::Syn,
                i64::from(i),
            );
        }
        assert_eq!(c.epm_contacts.len(), cap);
        assert_eq!(
            c.inspect_counters().get("epm_contacts_evicted"),
            u64::from(n) - cap as u64
        );
        assert!(c.epm_contacts.examined <= 3 * u64::from(n));
        // Every one of the most recent contacts still labels its dynamic-port flow.
        let cat = c.catalog().clone();
        for i in n - cap as u32..n {
            assert!(c.spoke_to_epm(v4(i), server, i64::from(n)), "{i}");
        }
        let d = Decoded {
            src: v4(n - 1),
            dst: server,
            ..tcp(0, 50_001, 0, 49_700, SYN)
        };
        let class = classify(&mut c, key_of(&d), &d, true, i64::from(n));
        assert_eq!(
            cat.label(class.label.unwrap()).name,
            "RPC dynamic (unconfirmed)"
        );
        assert!(!c.spoke_to_epm(v4(0), server, i64::from(n)));
    }

    #[test]
    fn a_flood_of_new_endpoints_forgets_the_oldest_in_constant_work_each() {
        let mut c = Classifier::with_share(Arc::new(Catalog::builtin()), DEFAULT_EPM_WINDOW, 100);
        let cap = MAX_ENDPOINTS / 100;
        let n = 100_000u32;
        for i in 0..n {
            // A handshake with a new server each time: known server, server address, two endpoints.
            let d = Decoded {
                src: v4(i),
                dst: v4(i + 1_000_000),
                ..tcp(0, 50_000, 0, 5999, SYN)
            };
            classify(&mut c, key_of(&d), &d, true, 0);
            c.server_answered(
                proto::TCP,
                (d.src, 50_000),
                (d.dst, 5999),
                ServerRule::Syn,
                0,
            );
        }
        for (len, examined) in [
            (c.known_servers.len(), c.known_servers.examined),
            (c.server_addrs.len(), c.server_addrs.examined),
        ] {
            assert_eq!(len, cap);
            assert!(examined <= 3 * u64::from(n));
        }
        assert_eq!(c.recent_endpoints.len(), cap);
        assert!(c.recent_endpoints.examined <= 6 * u64::from(n));
        // Two endpoints per flow in the recent table, one in each other.
        assert_eq!(
            c.inspect_counters().get("endpoints_evicted"),
            4 * u64::from(n) - 3 * cap as u64
        );
        // The newest server is known.
        let newest = (v4(n - 1 + 1_000_000), 5999, proto::TCP);
        assert!(c.known_servers.get(&newest).is_some());
    }

    #[test]
    fn icmp_echo_server_is_the_one_that_replies() {
        let c = classifier();
        let mut d = tcp(101, 0, 10, 0, 0);
        d.protocol = proto::ICMP;
        d.ports = None;
        d.payload = &[8, 0];
        assert_eq!(side(&c, &d), (true, "icmp-type"));
        d.payload = &[0, 0];
        assert_eq!(side(&c, &d), (false, "icmp-type"));
        d.payload = &[3, 3];
        assert_eq!(side(&c, &d), (true, "first-packet"));
    }
}
