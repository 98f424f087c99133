//! Per-host aggregation: what each address serves (per catalog label or unclassified port) and which
//! servers and services it uses as a client. Feeds `svcscope hosts` and `svcscope rules`.
//!
//! Per (server, label) and (client, server, label) every answered flow counts once, with how many
//! of them evidence determined and how many no evidence did; per (server, service) and (client,
//! server, service) the evidence-backed flows count, with a small summary of the evidence.
//!
//! Bounded: at most [`MAX_SERVED`] (server, label) entries, [`MAX_USED`] (client, server, label)
//! entries, [`MAX_SERVED_SERVICES`] (server, service) and [`MAX_USED_SERVICES`] (client, server,
//! service) entries; flows beyond that are counted in `overflow` (`services_overflow` for the
//! evidence-backed tables) and missing from the host view only (the per-service statistics are
//! unaffected).

use crate::hash::HashMap;

use super::services::EvidenceSummary;
use super::{AddrSet, MAX_DISTINCT_ADDRS};
use crate::bounded::Workers;
use crate::catalog::{Catalog, LabelId, ServiceId};
use crate::decode::Addr;
use crate::flow::{Flow, C2S, S2C};
use crate::inspect::verify::Verification;
use crate::inspect::{Attribution, Basis, EvidenceKind};
use crate::time::Ts;
use crate::wire::signature::Wire;

/// For the whole process: with several workers, each holds its share (see [`crate::bounded::share`]).
pub const MAX_SERVED: usize = 200_000;
pub const MAX_USED: usize = 500_000;
pub const MAX_SERVED_SERVICES: usize = 50_000;
pub const MAX_USED_SERVICES: usize = 200_000;
/// Evidence items summarised per (server, service) entry; more are counted.
pub const MAX_HOST_EVIDENCE: usize = 8;
/// Labels remembered per (server, service) entry (the ports its flows came in on).
const MAX_SERVICE_LABELS: usize = 16;

/// What a server offers: a catalog label, or an unclassified (IP protocol, port).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Offer {
    Label(LabelId),
    Port { protocol: u8, port: u16 },
}

impl Offer {
    pub fn of(f: &Flow) -> Offer {
        match f.class.label {
            Some(l) => Offer::Label(l),
            None => Offer::Port {
                protocol: f.key.protocol,
                port: if f.has_ports() { f.server().1 } else { 0 },
            },
        }
    }
}

/// Traffic of one (server, offer).
#[derive(Clone, Debug)]
pub struct Served {
    pub flows: u64,
    pub packets: [u64; 2],
    pub bytes: [u64; 2],
    pub clients: AddrSet,
    pub first_ts: Ts,
    pub last_ts: Ts,
    /// Distinct server ports seen (dynamic RPC flows use several).
    pub ports: Vec<u16>,
    /// Of `flows`: those evidence determined the services of, and those on a shared label that
    /// nothing determined.
    pub evidence_flows: u64,
    pub undetermined_flows: u64,
    /// Of `flows`: verified, port-only and mismatching (see `inspect::verify`).
    pub verification: [u64; 3],
    /// What the mismatching flows carried, with their flows (at most [`MAX_PAYLOADS`] kinds).
    pub mismatch_payloads: Vec<(Wire, u64)>,
    /// TLS names seen (SNI, certificate subjects), at most [`MAX_TLS_NAMES`].
    pub tls_names: Vec<Box<str>>,
}

/// Kinds of mismatching payload remembered per served entry.
pub const MAX_PAYLOADS: usize = 8;
/// TLS names remembered per served entry.
pub const MAX_TLS_NAMES: usize = 4;

impl Default for Served {
    fn default() -> Self {
        Served {
            flows: 0,
            packets: [0; 2],
            bytes: [0; 2],
            clients: AddrSet::default(),
            first_ts: i64::MAX,
            last_ts: i64::MIN,
            ports: Vec::new(),
            evidence_flows: 0,
            undetermined_flows: 0,
            verification: [0; 3],
            mismatch_payloads: Vec::new(),
            tls_names: Vec::new(),
        }
    }
}

/// Ports remembered per served entry (enough for dynamic RPC; more are counted, not listed).
const MAX_PORTS: usize = 64;

impl Served {
    fn add_payload(&mut self, w: Wire, n: u64) {
        let full = self.mismatch_payloads.len() >= MAX_PAYLOADS;
        match self.mismatch_payloads.iter_mut().find(|(x, _)| *x == w) {
            Some((_, c)) => *c += n,
            None if !full => self.mismatch_payloads.push((w, n)),
            None => {}
        }
    }

    fn add_tls_name(&mut self, name: &str) {
        if self.tls_names.len() < MAX_TLS_NAMES && !self.tls_names.iter().any(|n| &**n == name) {
            self.tls_names.push(name.into());
        }
    }

    fn verify(&mut self, f: &Flow, v: Option<Verification>) {
        if let Some(v) = v {
            self.verification[v.index()] += 1;
            if let Verification::Mismatch(w) = v {
                self.add_payload(w, 1);
            }
        }
        for e in f.slot.iter().flat_map(|s| s.evidence.iter()) {
            if matches!(e.kind, EvidenceKind::TlsSni | EvidenceKind::TlsCert) {
                if let Some(t) = e.value.text() {
                    self.add_tls_name(&t);
                }
            }
        }
    }

    fn add(&mut self, f: &Flow, basis: Basis) {
        self.evidence_flows += u64::from(basis == Basis::Evidence);
        self.undetermined_flows += u64::from(basis == Basis::Candidates);
        self.flows += 1;
        for d in [C2S, S2C] {
            self.packets[d] += f.packets[d];
            self.bytes[d] += f.bytes[d];
        }
        self.clients.insert(f.client().0);
        self.first_ts = self.first_ts.min(f.first_ts);
        self.last_ts = self.last_ts.max(f.last_ts);
        let port = f.server().1;
        if f.has_ports() && self.ports.len() < MAX_PORTS && !self.ports.contains(&port) {
            self.ports.push(port);
        }
    }

    fn merge(&mut self, o: &Served) {
        for i in 0..3 {
            self.verification[i] += o.verification[i];
        }
        for &(w, n) in &o.mismatch_payloads {
            self.add_payload(w, n);
        }
        for n in &o.tls_names {
            self.add_tls_name(n);
        }
        self.evidence_flows += o.evidence_flows;
        self.undetermined_flows += o.undetermined_flows;
        self.flows += o.flows;
        for d in [C2S, S2C] {
            self.packets[d] += o.packets[d];
            self.bytes[d] += o.bytes[d];
        }
        self.clients.merge(&o.clients);
        self.first_ts = self.first_ts.min(o.first_ts);
        self.last_ts = self.last_ts.max(o.last_ts);
        for &p in &o.ports {
            if self.ports.len() < MAX_PORTS && !self.ports.contains(&p) {
                self.ports.push(p);
            }
        }
    }
}

/// The evidence-backed flows of one service on one server.
#[derive(Clone, Debug)]
pub struct ServedService {
    /// The flows, packets, bytes, clients, times and ports of `Served` (its basis counts unused).
    pub traffic: Served,
    /// The labels its flows came in on (at most 16), in the order first seen.
    pub labels: Vec<LabelId>,
    pub evidence: EvidenceSummary,
}

impl ServedService {
    fn new(addr_cap: usize) -> ServedService {
        ServedService {
            traffic: Served {
                clients: AddrSet::with_cap(addr_cap),
                ..Served::default()
            },
            labels: Vec::new(),
            evidence: EvidenceSummary::with_cap(MAX_HOST_EVIDENCE),
        }
    }

    fn add_label(&mut self, l: LabelId) {
        if self.labels.len() < MAX_SERVICE_LABELS && !self.labels.contains(&l) {
            self.labels.push(l);
        }
    }

    fn merge(&mut self, o: &ServedService) {
        self.traffic.merge(&o.traffic);
        for &l in &o.labels {
            self.add_label(l);
        }
        self.evidence.merge(&o.evidence);
    }
}

/// Traffic of one (client, server, offer).
#[derive(Clone, Copy, Debug)]
pub struct Used {
    pub flows: u64,
    pub bytes: [u64; 2],
    pub first_ts: Ts,
    pub last_ts: Ts,
}

impl Default for Used {
    fn default() -> Self {
        Used {
            flows: 0,
            bytes: [0; 2],
            first_ts: i64::MAX,
            last_ts: i64::MIN,
        }
    }
}

impl Used {
    fn add(&mut self, f: &Flow) {
        self.flows += 1;
        self.bytes[C2S] += f.bytes[C2S];
        self.bytes[S2C] += f.bytes[S2C];
        self.first_ts = self.first_ts.min(f.first_ts);
        self.last_ts = self.last_ts.max(f.last_ts);
    }

    fn merge(&mut self, o: &Used) {
        self.flows += o.flows;
        self.bytes[C2S] += o.bytes[C2S];
        self.bytes[S2C] += o.bytes[S2C];
        self.first_ts = self.first_ts.min(o.first_ts);
        self.last_ts = self.last_ts.max(o.last_ts);
    }
}

#[derive(Clone, Debug, Default)]
pub struct HostTable {
    pub served: HashMap<(Addr, Offer), Served>,
    pub used: HashMap<(Addr, Addr, Offer), Used>,
    /// Evidence-backed: per (server, service) and (client, server, service).
    pub served_services: HashMap<(Addr, ServiceId), ServedService>,
    pub used_services: HashMap<(Addr, Addr, ServiceId), Used>,
    /// Flows left out of the host view because a table was full.
    pub overflow: u64,
    /// (Flow, service) pairs left out of the evidence-backed tables because they were full.
    pub services_overflow: u64,
    /// The workers sharing the caps.
    pub workers: Workers,
}

/// Broadcast and multicast destinations receive traffic but serve nothing: 255.255.255.255, IPv4
/// addresses ending in .255 (the directed broadcast of a /24 or larger), 224.0.0.0/4 and ff00::/8.
pub fn is_group_address(a: Addr) -> bool {
    match a.ip() {
        std::net::IpAddr::V4(v4) => v4.is_broadcast() || v4.is_multicast() || v4.octets()[3] == 255,
        std::net::IpAddr::V6(v6) => v6.is_multicast(),
    }
}

impl HostTable {
    /// The table of one of several workers: its share of each cap.
    pub fn with_share(workers: Workers) -> HostTable {
        HostTable {
            workers,
            ..HostTable::default()
        }
    }

    /// Folds in an answered flow with its attribution (the catalog tells which services its
    /// evidence backs).
    pub fn add(&mut self, catalog: &Catalog, f: &Flow, a: &Attribution) {
        let offer = Offer::of(f);
        let (client, server) = (f.client().0, f.server().0);
        if !is_group_address(server) {
            let n = self.served.len();
            let entry = match self.served.get_mut(&(server, offer)) {
                Some(s) => Some(s),
                None if n < self.workers.share(MAX_SERVED) => {
                    let s = Served {
                        clients: AddrSet::with_cap(self.workers.share(MAX_DISTINCT_ADDRS)),
                        ..Served::default()
                    };
                    Some(self.served.entry((server, offer)).or_insert(s))
                }
                None => {
                    self.overflow += 1;
                    None
                }
            };
            if let Some(s) = entry {
                s.add(f, a.basis);
                s.verify(f, f.verification(catalog));
            }
        }
        if a.basis == Basis::Evidence {
            self.add_services(catalog, f, a, client, server);
        }
        if is_group_address(client) {
            return;
        }
        let n = self.used.len();
        let key = (client, server, offer);
        let u = match self.used.get_mut(&key) {
            Some(u) => u,
            None if n < self.workers.share(MAX_USED) => self.used.entry(key).or_default(),
            None => {
                self.overflow += 1;
                return;
            }
        };
        u.add(f);
    }

    fn add_services(
        &mut self,
        catalog: &Catalog,
        f: &Flow,
        a: &Attribution,
        client: Addr,
        server: Addr,
    ) {
        let addr_cap = self.workers.share(MAX_DISTINCT_ADDRS);
        for &svc in &a.services {
            if !is_group_address(server) {
                let n = self.served_services.len();
                let entry = match self.served_services.get_mut(&(server, svc)) {
                    Some(e) => Some(e),
                    None if n < self.workers.share(MAX_SERVED_SERVICES) => Some(
                        self.served_services
                            .entry((server, svc))
                            .or_insert_with(|| ServedService::new(addr_cap)),
                    ),
                    None => None,
                };
                match entry {
                    Some(e) => {
                        e.traffic.add(f, Basis::Evidence);
                        if let Some(l) = f.class.label {
                            e.add_label(l);
                        }
                        e.evidence.add_flow(catalog, f, svc);
                    }
                    None => self.services_overflow += 1,
                }
            }
            if is_group_address(client) {
                continue;
            }
            let n = self.used_services.len();
            let key = (client, server, svc);
            let u = match self.used_services.get_mut(&key) {
                Some(u) => u,
                None if n < self.workers.share(MAX_USED_SERVICES) => {
                    self.used_services.entry(key).or_default()
                }
                None => {
                    self.services_overflow += 1;
                    continue;
                }
            };
            u.add(f);
        }
    }

    pub fn merge(&mut self, o: &HostTable) {
        for (k, v) in &o.served {
            self.served.entry(*k).or_default().merge(v);
        }
        for (k, v) in &o.used {
            self.used.entry(*k).or_default().merge(v);
        }
        for (k, v) in &o.served_services {
            self.served_services
                .entry(*k)
                .or_insert_with(|| ServedService::new(MAX_DISTINCT_ADDRS))
                .merge(v);
        }
        for (k, v) in &o.used_services {
            self.used_services.entry(*k).or_default().merge(v);
        }
        self.overflow += o.overflow;
        self.services_overflow += o.services_overflow;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::test_flow;
    use crate::catalog::{Transport, Uuid};
    use crate::inspect::{Evidence, EvidenceKind, Provenance, Slot, Value};

    /// An SMB flow from 192.0.2.`client` whose bind names Net Logon's interface.
    fn netlogon(c: &Catalog, client: u8) -> Flow {
        let uuid = Uuid::parse("12345678-1234-abcd-ef00-01234567cffb").unwrap();
        let label = c.interface_label(uuid, false);
        let mut f = test_flow(c.lookup_port(Transport::Tcp, 445), client, [10, 20], true);
        f.class.label = label;
        f.class.provenance = Provenance::Evidence(EvidenceKind::RpcBind);
        let e = Evidence::labelled(EvidenceKind::RpcBind, Value::Interface(uuid), label);
        f.slot = Some(Box::new(Slot::with(e, Some(uuid))));
        f
    }

    #[test]
    fn evidence_backed_services_are_kept_per_server_and_client_bounded_and_merged() {
        let c = Catalog::builtin();
        // One entry's share each: the second server's service finds the tables full.
        let mut t = HostTable::with_share(Workers(MAX_USED_SERVICES));
        let smb = || test_flow(c.lookup_port(Transport::Tcp, 445), 7, [1, 2], true);
        for f in [netlogon(&c, 101), netlogon(&c, 102), smb()] {
            let a = f.attribution(&c);
            t.add(&c, &f, &a);
        }
        assert_eq!(t.served_services.len(), 1);
        let (&(server, svc), e) = t.served_services.iter().next().unwrap();
        assert_eq!(server, Addr::from_v4([192, 0, 2, 10]));
        assert_eq!(c.service(svc).name, "Net Logon");
        // Its address set has its share of the cap too: one address, and it says it is capped.
        assert_eq!(
            (
                e.traffic.flows,
                e.traffic.clients.len(),
                e.traffic.clients.capped
            ),
            (2, 1, true)
        );
        assert_eq!(e.evidence.items[0].flows, 2);
        // The used table holds one (client, server, service) entry: the second client's is counted.
        assert_eq!((t.used_services.len(), t.services_overflow), (1, 1));
        // The SMB flow nothing determined counts as such on its (server, label) entry, which did
        // not fit in this table (nor its client's used entry): the per-label tables share their
        // caps the same way.
        assert_eq!(t.overflow, 2);
        let mut full = HostTable::default();
        for f in [netlogon(&c, 101), smb()] {
            let a = f.attribution(&c);
            full.add(&c, &f, &a);
        }
        let smb_label = c.lookup_port(Transport::Tcp, 445).unwrap();
        let served_smb = &full.served[&(server, Offer::Label(smb_label))];
        assert_eq!(
            (served_smb.undetermined_flows, served_smb.evidence_flows),
            (1, 0)
        );
        assert!(full.served_services.contains_key(&(server, svc)));

        let mut merged = HostTable::default();
        merged.merge(&t);
        merged.merge(&t);
        let e = &merged.served_services[&(server, svc)];
        assert_eq!((e.traffic.flows, e.evidence.items[0].flows), (4, 4));
        assert_eq!(merged.services_overflow, 2);
    }
}
