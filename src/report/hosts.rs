//! `svcscope hosts`: per host, the services it serves and the ones it uses, and a likely role
//! (inferred in `roles.rs`); building the report and rendering it as a table or CSV.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::escape::terminal;
pub use super::roles::Role;
use super::roles::{infer_roles, ServedProtocol, ServedService as ShownService};
use super::table::{bytes, clip, count, Table};
use super::{port_text, time, transport_name, EvidenceRow, InputReport, SCHEMA_VERSION};
use crate::aggregate::hosts::{is_group_address, HostTable, Offer, Served, ServedService};
use crate::aggregate::Aggregate;
use crate::catalog::{Catalog, LabelId, PortSpec, Transport};
use crate::decode::Addr;
use crate::flow::{C2S, S2C};

pub use crate::select::Net;

/// One thing a host serves.
#[derive(Clone, Debug, Serialize)]
pub struct ServeRow {
    /// Catalog application protocol, or null for unclassified traffic.
    pub app_protocol: Option<String>,
    /// "tcp", "udp", or an IP protocol name ("gre", "esp", …).
    pub transport: String,
    pub port: Option<u16>,
    /// Server ports seen (several for dynamic RPC).
    pub ports: Vec<u16>,
    pub ip_protocol: u8,
    pub services: Vec<String>,
    pub clients: usize,
    pub client_addrs: Vec<Addr>,
    /// True when more clients were seen than listed (the address cap was reached).
    pub clients_capped: bool,
    pub flows: u64,
    pub packets_c2s: u64,
    pub packets_s2c: u64,
    pub bytes_c2s: u64,
    pub bytes_s2c: u64,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    /// Of `flows`: those whose services evidence named, and those (on a shared port) that nothing
    /// determined.
    pub evidence_flows: u64,
    pub undetermined_flows: u64,
    /// Of `flows`: those the payload verified, left at the port, contradicted (see
    /// `verification` in flow records); `mismatch_payloads` says what the mismatching ones carried.
    pub verified_flows: u64,
    pub port_only_flows: u64,
    pub mismatch_flows: u64,
    pub mismatch_payloads: Vec<PayloadCount>,
    /// TLS server names asked for and certificate subjects seen (at most 4).
    pub tls_names: Vec<String>,
    #[serde(skip)]
    pub offer: Option<Offer>,
}

/// Flows whose payload was this protocol.
#[derive(Clone, Debug, Serialize)]
pub struct PayloadCount {
    pub payload: &'static str,
    pub flows: u64,
}

/// One catalog service a host was seen serving, from evidence (a pipe opened, an interface bound…).
#[derive(Clone, Debug, Serialize)]
pub struct ServiceServeRow {
    pub service: String,
    pub system_service: Option<String>,
    /// "SMB tcp/445", … that its flows came in on.
    pub app_protocols: Vec<String>,
    /// Server ports seen.
    pub ports: Vec<u16>,
    /// The evidence: distinct (kind, value) with their flows, at most 8.
    pub evidence: Vec<EvidenceRow>,
    pub evidence_other_flows: u64,
    pub clients: usize,
    pub client_addrs: Vec<Addr>,
    pub clients_capped: bool,
    pub flows: u64,
    pub packets_c2s: u64,
    pub packets_s2c: u64,
    pub bytes_c2s: u64,
    pub bytes_s2c: u64,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    #[serde(skip)]
    pub labels: Vec<LabelId>,
}

/// A service principal a host asked a ticket for or presented one for.
#[derive(Clone, Debug, Serialize)]
pub struct TicketRow {
    pub principal: String,
    /// The catalog services its class maps to (empty for an unknown class).
    pub services: Vec<String>,
    /// The addresses its host resolves to by the capture's DNS answers: the server it uses.
    pub servers: Vec<Addr>,
}

/// A service principal on this host that clients asked Kerberos tickets for: a service it serves,
/// by its clients' word, whether or not their flows to it were captured.
#[derive(Clone, Debug, Serialize)]
pub struct AskedRow {
    pub principal: String,
    /// The catalog services its class maps to (empty for an unknown class).
    pub services: Vec<String>,
    /// Clients that asked for (or presented) a ticket for it.
    pub clients: usize,
}

/// Service principals listed per host, at most.
pub const MAX_TICKETS: usize = 100;

/// One catalog service a host was seen using on a server, from evidence.
#[derive(Clone, Debug, Serialize)]
pub struct ServiceUseRow {
    pub server: Addr,
    pub service: String,
    pub flows: u64,
    pub bytes_c2s: u64,
    pub bytes_s2c: u64,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
}

/// One service a host uses as a client.
#[derive(Clone, Debug, Serialize)]
pub struct UseRow {
    pub server: Addr,
    pub app_protocol: Option<String>,
    pub transport: String,
    pub port: Option<u16>,
    pub services: Vec<String>,
    pub flows: u64,
    pub bytes_c2s: u64,
    pub bytes_s2c: u64,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct HostRow {
    pub addr: Addr,
    /// Its names, from DNS answers in the capture (at most 4, first learnt first).
    pub names: Vec<String>,
    /// Services evidence showed it serving, most bytes first.
    pub services_served: Vec<ServiceServeRow>,
    /// Services evidence showed it using, most bytes first.
    pub services_used: Vec<ServiceUseRow>,
    pub serves: Vec<ServeRow>,
    pub uses: Vec<UseRow>,
    /// How clients authenticated to the services it serves (see the report's `authentication`).
    pub authentication: Vec<super::authentication::ServiceAuthRow>,
    /// Service principals it asked Kerberos tickets for or presented them: the services it uses,
    /// as Kerberos names them (even when their own traffic is encrypted or not captured).
    pub kerberos_tickets: Vec<TicketRow>,
    /// Service principals whose host name resolves to this host, that clients asked tickets for.
    pub kerberos_asked_for: Vec<AskedRow>,
    /// Present with --role.
    pub roles: Option<Vec<Role>>,
}

#[derive(Clone, Debug, Serialize)]
pub struct HostsReport {
    pub schema_version: u32,
    pub generator: String,
    /// The sensor that saw the traffic (`--sensor`, else the host name; set by the command line).
    pub sensor: String,
    pub inputs: Vec<InputReport>,
    pub hosts: Vec<HostRow>,
    /// Flows left out of this view because the host tables were full.
    pub flows_not_shown: u64,
    /// (Flow, service) pairs left out of `services_served` / `services_used`: those tables were full.
    pub evidence_flows_not_shown: u64,
    /// Hosts left out by `--top`.
    pub hosts_not_shown: u64,
}

fn offer_fields(
    catalog: &Catalog,
    offer: Offer,
    port_seen: Option<u16>,
) -> (Option<String>, String, Option<u16>, u8, Vec<String>) {
    match offer {
        Offer::Label(l) => {
            let label = catalog.label(l);
            let services = label
                .services
                .iter()
                .map(|&s| catalog.service(s).name.clone())
                .collect();
            let (transport, port, ip_protocol) = match (label.transport, label.spec) {
                (Transport::Tcp, PortSpec::Port(p)) => ("tcp".to_string(), Some(p), 6),
                (Transport::Udp, PortSpec::Port(p)) => ("udp".to_string(), Some(p), 17),
                (_, PortSpec::IpProtocol(n)) => (transport_name(n), None, n),
                (Transport::Udp, PortSpec::Dynamic) => ("udp".to_string(), port_seen, 17),
                (_, PortSpec::Dynamic) => ("tcp".to_string(), port_seen, 6),
                (t, PortSpec::Port(p)) => (t.to_string(), Some(p), 0),
            };
            (
                Some(label.name.clone()),
                transport,
                port,
                ip_protocol,
                services,
            )
        }
        Offer::Port { protocol, port } => {
            let port = matches!(protocol, 6 | 17).then_some(port);
            (None, transport_name(protocol), port, protocol, Vec::new())
        }
    }
}

fn serve_row(catalog: &Catalog, offer: Offer, s: &Served, max_clients: usize) -> ServeRow {
    let dynamic = matches!(offer, Offer::Label(l) if catalog.label(l).spec == PortSpec::Dynamic);
    let (app_protocol, transport, port, ip_protocol, services) = offer_fields(
        catalog,
        offer,
        if dynamic {
            None
        } else {
            s.ports.first().copied()
        },
    );
    let mut ports = s.ports.clone();
    ports.sort_unstable();
    let mut client_addrs: Vec<Addr> = s.clients.iter().copied().collect();
    client_addrs.sort_unstable();
    let capped = s.clients.capped || client_addrs.len() > max_clients;
    client_addrs.truncate(max_clients);
    ServeRow {
        app_protocol,
        transport,
        port,
        ports,
        ip_protocol,
        services,
        clients: s.clients.len(),
        client_addrs,
        clients_capped: capped,
        flows: s.flows,
        packets_c2s: s.packets[C2S],
        packets_s2c: s.packets[S2C],
        bytes_c2s: s.bytes[C2S],
        bytes_s2c: s.bytes[S2C],
        first_seen: time(s.first_ts),
        last_seen: time(s.last_ts),
        evidence_flows: s.evidence_flows,
        undetermined_flows: s.undetermined_flows,
        verified_flows: s.verification[0],
        port_only_flows: s.verification[1],
        mismatch_flows: s.verification[2],
        mismatch_payloads: {
            let mut v: Vec<PayloadCount> = s
                .mismatch_payloads
                .iter()
                .map(|&(w, flows)| PayloadCount {
                    payload: w.as_str(),
                    flows,
                })
                .collect();
            v.sort_by(|a, b| b.flows.cmp(&a.flows).then(a.payload.cmp(b.payload)));
            v
        },
        tls_names: s.tls_names.iter().map(|n| n.to_string()).collect(),
        offer: Some(offer),
    }
}

fn service_serve_row(
    catalog: &Catalog,
    svc: crate::catalog::ServiceId,
    e: &ServedService,
    max_clients: usize,
) -> ServiceServeRow {
    let service = catalog.service(svc);
    let s = &e.traffic;
    let mut labels = e.labels.clone();
    labels.sort_unstable();
    let mut ports = s.ports.clone();
    ports.sort_unstable();
    let mut client_addrs: Vec<Addr> = s.clients.iter().copied().collect();
    client_addrs.sort_unstable();
    let capped = s.clients.capped || client_addrs.len() > max_clients;
    client_addrs.truncate(max_clients);
    ServiceServeRow {
        service: service.name.clone(),
        system_service: service.system.clone(),
        app_protocols: labels
            .iter()
            .map(|&l| format!("{} {}", catalog.label(l).name, port_text(catalog, l)))
            .collect(),
        ports,
        evidence: EvidenceRow::rows(catalog, &e.evidence),
        evidence_other_flows: e.evidence.other_flows,
        clients: s.clients.len(),
        client_addrs,
        clients_capped: capped,
        flows: s.flows,
        packets_c2s: s.packets[C2S],
        packets_s2c: s.packets[S2C],
        bytes_c2s: s.bytes[C2S],
        bytes_s2c: s.bytes[S2C],
        first_seen: time(s.first_ts),
        last_seen: time(s.last_ts),
        labels,
    }
}

impl HostRow {
    /// A host seen doing nothing.
    pub fn new(addr: Addr) -> HostRow {
        HostRow {
            addr,
            services_served: Vec::new(),
            services_used: Vec::new(),
            serves: Vec::new(),
            uses: Vec::new(),
            names: Vec::new(),
            authentication: Vec::new(),
            kerberos_tickets: Vec::new(),
            kerberos_asked_for: Vec::new(),
            roles: None,
        }
    }
}

/// Client addresses listed per served row, at most.
pub const MAX_LISTED_CLIENTS: usize = 1000;

impl HostsReport {
    pub fn build(
        catalog: &Catalog,
        agg: &Aggregate,
        inputs: Vec<InputReport>,
        nets: &[Net],
        roles: bool,
    ) -> HostsReport {
        let t: &HostTable = &agg.hosts;
        let wanted = |a: Addr| nets.is_empty() || nets.iter().any(|n| n.contains(a));
        let mut hosts: BTreeMap<Addr, HostRow> = BTreeMap::new();
        for (&(server, offer), s) in &t.served {
            if wanted(server) {
                hosts
                    .entry(server)
                    .or_insert_with(|| HostRow::new(server))
                    .serves
                    .push(serve_row(catalog, offer, s, MAX_LISTED_CLIENTS));
            }
        }
        for (&(server, svc), e) in &t.served_services {
            if wanted(server) {
                hosts
                    .entry(server)
                    .or_insert_with(|| HostRow::new(server))
                    .services_served
                    .push(service_serve_row(catalog, svc, e, MAX_LISTED_CLIENTS));
            }
        }
        for (&(client, server, svc), u) in &t.used_services {
            if wanted(client) {
                hosts
                    .entry(client)
                    .or_insert_with(|| HostRow::new(client))
                    .services_used
                    .push(ServiceUseRow {
                        server,
                        service: catalog.service(svc).name.clone(),
                        flows: u.flows,
                        bytes_c2s: u.bytes[C2S],
                        bytes_s2c: u.bytes[S2C],
                        first_seen: time(u.first_ts),
                        last_seen: time(u.last_ts),
                    });
            }
        }
        for (&(client, server, offer), u) in &t.used {
            if wanted(client) {
                let (app_protocol, transport, port, _, services) =
                    offer_fields(catalog, offer, None);
                hosts
                    .entry(client)
                    .or_insert_with(|| HostRow::new(client))
                    .uses
                    .push(UseRow {
                        server,
                        app_protocol,
                        transport,
                        port,
                        services,
                        flows: u.flows,
                        bytes_c2s: u.bytes[C2S],
                        bytes_s2c: u.bytes[S2C],
                        first_seen: time(u.first_ts),
                        last_seen: time(u.last_ts),
                    });
            }
        }
        let names = agg.names.index();
        for p in super::authentication::Kerberos::build(catalog, &agg.auth, &names).principals {
            let Some(counted) = agg.auth.principals.get(p.principal.as_str()) else {
                continue;
            };
            for addr in counted.clients.iter() {
                if let Some(h) = hosts.get_mut(addr) {
                    if h.kerberos_tickets.len() < MAX_TICKETS {
                        h.kerberos_tickets.push(TicketRow {
                            principal: p.principal.clone(),
                            services: p.services.clone(),
                            servers: p.resolved.clone(),
                        });
                    }
                }
            }
            // The server the principal names is evidence too, before (or without) its flows;
            // ticket-granting tickets name the realm, not a server.
            if p.class.eq_ignore_ascii_case("krbtgt") || p.clients == 0 {
                continue;
            }
            for &server in p.resolved.iter().filter(|&&a| wanted(a)) {
                let h = hosts.entry(server).or_insert_with(|| HostRow::new(server));
                if h.kerberos_asked_for.len() < MAX_TICKETS {
                    h.kerberos_asked_for.push(AskedRow {
                        principal: p.principal.clone(),
                        services: p.services.clone(),
                        clients: p.clients,
                    });
                }
            }
        }
        for row in super::authentication::Authentication::build(catalog, &agg.auth).by_service {
            if let Some(h) = hosts.get_mut(&row.server) {
                h.authentication.push(row);
            }
        }
        let mut hosts: Vec<HostRow> = hosts.into_values().collect();
        for h in &mut hosts {
            h.names = agg.names.of(h.addr).iter().map(|n| n.to_string()).collect();
            h.services_served.sort_by(|a, b| {
                (b.bytes_c2s + b.bytes_s2c)
                    .cmp(&(a.bytes_c2s + a.bytes_s2c))
                    .then_with(|| a.service.cmp(&b.service))
            });
            h.services_used.sort_by(|a, b| {
                (b.bytes_c2s + b.bytes_s2c)
                    .cmp(&(a.bytes_c2s + a.bytes_s2c))
                    .then_with(|| a.server.cmp(&b.server))
                    .then_with(|| a.service.cmp(&b.service))
            });
            h.serves.sort_by(|a, b| {
                (b.bytes_c2s + b.bytes_s2c)
                    .cmp(&(a.bytes_c2s + a.bytes_s2c))
                    .then_with(|| a.transport.cmp(&b.transport))
                    .then_with(|| a.port.cmp(&b.port))
                    .then_with(|| a.app_protocol.cmp(&b.app_protocol))
            });
            h.uses.sort_by(|a, b| {
                (b.bytes_c2s + b.bytes_s2c)
                    .cmp(&(a.bytes_c2s + a.bytes_s2c))
                    .then_with(|| a.server.cmp(&b.server))
                    .then_with(|| a.transport.cmp(&b.transport))
                    .then_with(|| a.port.cmp(&b.port))
            });
            if roles {
                let served: Vec<ServedProtocol<'_>> = h
                    .serves
                    .iter()
                    .map(|s| ServedProtocol {
                        app_protocol: s.app_protocol.as_deref(),
                        transport: &s.transport,
                        port: s.port,
                        flows: s.flows,
                        clients: s.clients,
                    })
                    .collect();
                let shown: Vec<ShownService<'_>> = h
                    .services_served
                    .iter()
                    .map(|s| ShownService {
                        service: &s.service,
                        evidence: s
                            .evidence
                            .iter()
                            .map(EvidenceRow::short)
                            .collect::<Vec<_>>()
                            .join(", "),
                        flows: s.flows,
                        clients: s.clients,
                    })
                    .collect();
                h.roles = Some(infer_roles(&served, &shown));
            }
        }
        // Servers first, by bytes served; then clients by address.
        let served = |h: &HostRow| {
            h.serves
                .iter()
                .map(|s| s.bytes_c2s + s.bytes_s2c)
                .sum::<u64>()
        };
        hosts.sort_by(|a, b| served(b).cmp(&served(a)).then_with(|| a.addr.cmp(&b.addr)));
        HostsReport {
            schema_version: SCHEMA_VERSION,
            generator: format!("svcscope {}", env!("CARGO_PKG_VERSION")),
            sensor: String::new(),
            inputs,
            hosts,
            flows_not_shown: t.overflow,
            evidence_flows_not_shown: t.services_overflow,
            hosts_not_shown: 0,
        }
    }

    /// Orders the hosts by what they serve (`sort`: bytes, flows, packets or distinct clients, most
    /// first; ties by address) and keeps the first `top`.
    pub fn narrow(&mut self, sort: Option<super::SortKey>, top: Option<usize>) {
        if let Some(k) = sort {
            let key = |h: &HostRow| -> u64 {
                match k {
                    super::SortKey::Bytes => {
                        h.serves.iter().map(|s| s.bytes_c2s + s.bytes_s2c).sum()
                    }
                    super::SortKey::Flows => h.serves.iter().map(|s| s.flows).sum(),
                    super::SortKey::Packets => {
                        h.serves.iter().map(|s| s.packets_c2s + s.packets_s2c).sum()
                    }
                    super::SortKey::Clients => {
                        let mut all: Vec<Addr> = h
                            .serves
                            .iter()
                            .flat_map(|s| s.client_addrs.iter().copied())
                            .collect();
                        all.sort_unstable();
                        all.dedup();
                        all.len() as u64
                    }
                }
            };
            self.hosts
                .sort_by(|a, b| key(b).cmp(&key(a)).then_with(|| a.addr.cmp(&b.addr)));
        }
        if let Some(n) = top {
            self.hosts_not_shown += self.hosts.len().saturating_sub(n) as u64;
            self.hosts.truncate(n);
        }
    }
}

fn serve_port(s: &ServeRow) -> String {
    match (s.port, s.ports.len()) {
        (Some(p), _) => format!("{}/{p}", s.transport),
        (None, 0) => s.transport.clone(),
        (None, 1) => format!("{}/{}", s.transport, s.ports[0]),
        (None, n) => format!("{}/{} ports", s.transport, n),
    }
}

impl HostsReport {
    pub fn render_table(&self) -> String {
        let mut out = String::new();
        if self.hosts.is_empty() {
            out.push_str("No hosts match.\n");
        }
        for h in &self.hosts {
            let clients: std::collections::BTreeSet<&Addr> = h
                .serves
                .iter()
                .flat_map(|s| s.client_addrs.iter())
                .filter(|a| !is_group_address(**a) && !a.ip().is_unspecified())
                .collect();
            let plural = |n: usize| if n == 1 { "" } else { "s" };
            let mut what = Vec::new();
            if !h.serves.is_empty() {
                what.push(format!(
                    "serves {} protocol{} to {} client{}",
                    h.serves.len(),
                    plural(h.serves.len()),
                    clients.len(),
                    plural(clients.len())
                ));
            }
            if !h.uses.is_empty() {
                what.push(format!(
                    "uses {} service{}",
                    h.uses.len(),
                    plural(h.uses.len())
                ));
            }
            let named = if h.names.is_empty() {
                h.addr.to_string()
            } else {
                format!("{} ({})", h.addr, terminal(&h.names.join(", ")))
            };
            let _ = writeln!(
                out,
                "{}",
                super::table::fill(&format!("{named} — {}", what.join(", ")), "    ")
            );
            if let Some(roles) = &h.roles {
                for r in roles {
                    let line = format!("  role: {} — {}", r.role, terminal(&r.evidence.join("; ")));
                    let _ = writeln!(out, "{}", super::table::fill(&line, "        "));
                    if !r.missing.is_empty() {
                        let line = format!("        not seen: {}", terminal(&r.missing.join(", ")));
                        let _ = writeln!(out, "{}", super::table::fill(&line, "          "));
                    }
                }
                if roles.is_empty() && !h.serves.is_empty() {
                    let _ = writeln!(out, "  role: none recognised");
                }
            }
            render_services(&mut out, h);
            if !h.serves.is_empty() {
                let mut t = Table::new(&[
                    "SERVES",
                    "PORT",
                    ">CLIENTS",
                    ">FLOWS",
                    ">BYTES C→S",
                    ">BYTES S→C",
                    "?3FIRST SEEN UTC",
                    "?2LAST SEEN UTC",
                    "?1VERIFIED",
                    "CANDIDATE SERVICES",
                ]);
                for s in &h.serves {
                    t.row(vec![
                        s.app_protocol
                            .clone()
                            .unwrap_or_else(|| "(unclassified)".into()),
                        serve_port(s),
                        if s.clients_capped {
                            format!("≥{}", s.clients)
                        } else {
                            s.clients.to_string()
                        },
                        count(s.flows),
                        bytes(s.bytes_c2s),
                        bytes(s.bytes_s2c),
                        short(&s.first_seen),
                        short(&s.last_seen),
                        verified_text(s),
                        clip(&s.services.join(", "), 60),
                    ]);
                }
                out.push_str(&t.render("  "));
            }
            if !h.uses.is_empty() {
                let mut t = Table::new(&[
                    "USES",
                    "SERVER",
                    "PORT",
                    ">FLOWS",
                    ">BYTES C→S",
                    ">BYTES S→C",
                ]);
                for u in &h.uses {
                    t.row(vec![
                        u.app_protocol
                            .clone()
                            .unwrap_or_else(|| "(unclassified)".into()),
                        u.server.to_string(),
                        match u.port {
                            Some(p) => format!("{}/{p}", u.transport),
                            None if u.app_protocol.as_deref()
                                == Some(crate::catalog::RPC_DYNAMIC_APP) =>
                            {
                                "tcp/dynamic".into()
                            }
                            None => u.transport.clone(),
                        },
                        count(u.flows),
                        bytes(u.bytes_c2s),
                        bytes(u.bytes_s2c),
                    ]);
                }
                out.push_str(&t.render("  "));
            }
            out.push('\n');
        }
        if self.flows_not_shown > 0 {
            let _ = writeln!(
                out,
                "{} flows not shown: the host tables were full.",
                count(self.flows_not_shown)
            );
        }
        if self.hosts_not_shown > 0 {
            let _ = writeln!(
                out,
                "{} more hosts not shown (--top).",
                count(self.hosts_not_shown)
            );
        }
        out
    }

    pub fn render_csv(&self) -> String {
        let mut out = super::csv::line(&[
            "host",
            "relation",
            "peer",
            "app_protocol",
            "transport",
            "port",
            "services",
            "clients",
            "flows",
            "bytes_c2s",
            "bytes_s2c",
            "first_seen",
            "last_seen",
            "evidence",
        ]);
        for h in &self.hosts {
            for s in &h.services_served {
                out.push_str(&super::csv::line(&[
                    h.addr.to_string(),
                    "serves-service".into(),
                    String::new(),
                    s.app_protocols.join("; "),
                    String::new(),
                    String::new(),
                    s.service.clone(),
                    s.clients.to_string(),
                    s.flows.to_string(),
                    s.bytes_c2s.to_string(),
                    s.bytes_s2c.to_string(),
                    s.first_seen.clone().unwrap_or_default(),
                    s.last_seen.clone().unwrap_or_default(),
                    s.evidence
                        .iter()
                        .map(|e| format!("{} {}", e.short(), e.flows))
                        .collect::<Vec<_>>()
                        .join("; "),
                ]));
            }
            for u in &h.services_used {
                out.push_str(&super::csv::line(&[
                    h.addr.to_string(),
                    "uses-service".into(),
                    u.server.to_string(),
                    String::new(),
                    String::new(),
                    String::new(),
                    u.service.clone(),
                    String::new(),
                    u.flows.to_string(),
                    u.bytes_c2s.to_string(),
                    u.bytes_s2c.to_string(),
                    u.first_seen.clone().unwrap_or_default(),
                    u.last_seen.clone().unwrap_or_default(),
                    String::new(),
                ]));
            }
            for s in &h.serves {
                out.push_str(&super::csv::line(&[
                    h.addr.to_string(),
                    "serves".into(),
                    String::new(),
                    s.app_protocol.clone().unwrap_or_default(),
                    s.transport.clone(),
                    s.port.map(|p| p.to_string()).unwrap_or_default(),
                    s.services.join("; "),
                    s.clients.to_string(),
                    s.flows.to_string(),
                    s.bytes_c2s.to_string(),
                    s.bytes_s2c.to_string(),
                    s.first_seen.clone().unwrap_or_default(),
                    s.last_seen.clone().unwrap_or_default(),
                    String::new(),
                ]));
            }
            for u in &h.uses {
                out.push_str(&super::csv::line(&[
                    h.addr.to_string(),
                    "uses".into(),
                    u.server.to_string(),
                    u.app_protocol.clone().unwrap_or_default(),
                    u.transport.clone(),
                    u.port.map(|p| p.to_string()).unwrap_or_default(),
                    u.services.join("; "),
                    String::new(),
                    u.flows.to_string(),
                    u.bytes_c2s.to_string(),
                    u.bytes_s2c.to_string(),
                    u.first_seen.clone().unwrap_or_default(),
                    u.last_seen.clone().unwrap_or_default(),
                    String::new(),
                ]));
            }
        }
        out
    }
}

/// Service lines listed per host and direction, at most; the rest are counted.
const MAX_SERVICE_LINES: usize = 12;

/// The services evidence showed a host serving and using, ahead of its port tables.
/// "3 of 3", "1 of 2; mismatch: iso-mms 1", "-" (unclassified), with TLS names when seen.
fn verified_text(s: &ServeRow) -> String {
    let mut t = if s.app_protocol.is_none() {
        "-".to_string()
    } else {
        format!("{} of {}", count(s.verified_flows), count(s.flows))
    };
    if !s.mismatch_payloads.is_empty() {
        let list: Vec<String> = s
            .mismatch_payloads
            .iter()
            .map(|p| format!("{} {}", p.payload, count(p.flows)))
            .collect();
        t.push_str(&format!("; mismatch: {}", list.join(", ")));
    }
    if !s.tls_names.is_empty() {
        t.push_str(&format!("; tls {}", s.tls_names.join(", ")));
    }
    clip(&t, 80)
}

fn render_services(out: &mut String, h: &HostRow) {
    let plural = |n: u64, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    for s in h.services_served.iter().take(MAX_SERVICE_LINES) {
        let evidence: Vec<String> = s.evidence.iter().map(EvidenceRow::short).collect();
        let clients = if s.clients_capped {
            format!("≥{} clients", s.clients)
        } else {
            plural(s.clients as u64, "client")
        };
        let line = format!(
            "  serves {} ({}; {clients}, {}) via {}",
            s.service,
            clip(&evidence.join(", "), 80),
            plural(s.flows, "flow"),
            clip(&s.app_protocols.join(", "), 60),
        );
        let _ = writeln!(out, "{}", super::table::fill(&terminal(&line), "      "));
    }
    if h.services_served.len() > MAX_SERVICE_LINES {
        let _ = writeln!(
            out,
            "  serves {} more services from evidence (see --format json)",
            h.services_served.len() - MAX_SERVICE_LINES
        );
    }
    if !h.kerberos_tickets.is_empty() {
        let tickets: Vec<String> = h
            .kerberos_tickets
            .iter()
            .map(|t| {
                let on = match t.servers.as_slice() {
                    [] => String::new(),
                    [one] => format!(" on {one}"),
                    [one, rest @ ..] => format!(" on {one} and {} more", rest.len()),
                };
                if t.services.is_empty() {
                    format!("{}{on}", t.principal)
                } else {
                    format!("{} ({}){on}", t.principal, t.services.join(", "))
                }
            })
            .collect();
        let line = format!(
            "  uses by Kerberos tickets: {}",
            clip(&tickets.join(", "), 160)
        );
        let _ = writeln!(out, "{}", super::table::fill(&terminal(&line), "      "));
    }
    if !h.kerberos_asked_for.is_empty() {
        let asked: Vec<String> = h
            .kerberos_asked_for
            .iter()
            .map(|t| {
                let by = plural(t.clients as u64, "client");
                if t.services.is_empty() {
                    format!("{} by {by}", t.principal)
                } else {
                    format!("{} ({}) by {by}", t.principal, t.services.join(", "))
                }
            })
            .collect();
        let line = format!(
            "  clients asked Kerberos tickets for: {}",
            clip(&asked.join(", "), 160)
        );
        let _ = writeln!(out, "{}", super::table::fill(&terminal(&line), "      "));
    }
    for a in h.authentication.iter().take(MAX_SERVICE_LINES) {
        let facets = |rows: &[super::authentication::FacetRow]| {
            rows.iter()
                .map(|m| format!("{} {}", m.name, plural(m.flows, "flow")))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut line = format!(
            "  {}authenticates clients to {}: {}",
            if a.weak { "WEAK: " } else { "" },
            a.service.clone().unwrap_or_else(|| format!(
                "{} (service not determined)",
                a.app_protocol.clone().unwrap_or_default()
            )),
            facets(&a.mechanisms),
        );
        if !a.kerberos_etypes.is_empty() {
            line.push_str(&format!("; tickets {}", facets(&a.kerberos_etypes)));
        }
        let _ = writeln!(out, "{}", super::table::fill(&terminal(&line), "      "));
    }
    for u in h.services_used.iter().take(MAX_SERVICE_LINES) {
        let line = format!(
            "  uses {} on {} ({})",
            u.service,
            u.server,
            plural(u.flows, "flow")
        );
        let _ = writeln!(out, "{}", terminal(&line));
    }
    if h.services_used.len() > MAX_SERVICE_LINES {
        let _ = writeln!(
            out,
            "  uses {} more services from evidence (see --format json)",
            h.services_used.len() - MAX_SERVICE_LINES
        );
    }
}

fn short(t: &Option<String>) -> String {
    t.as_deref()
        .map(|t| t.get(..19).unwrap_or(t).replace('T', " "))
        .unwrap_or_else(|| "-".into())
}

/// "Kerberos tcp/88" for evidence and rule names.
pub fn serve_name(catalog: &Catalog, s: &ServeRow) -> String {
    match (s.offer, &s.app_protocol) {
        (Some(Offer::Label(l)), Some(app)) => format!("{app} {}", port_text(catalog, l)),
        _ => format!(
            "{} {}",
            s.app_protocol.as_deref().unwrap_or("unclassified"),
            serve_port(s)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_contain_their_addresses() {
        let n = Net::parse("192.0.2.0/24").unwrap();
        assert!(n.contains(Addr::from(
            "192.0.2.77".parse::<std::net::IpAddr>().unwrap()
        )));
        assert!(!n.contains(Addr::from("192.0.3.1".parse::<std::net::IpAddr>().unwrap())));
        let h = Net::parse("192.0.2.10").unwrap();
        assert!(h.contains(Addr::from(
            "192.0.2.10".parse::<std::net::IpAddr>().unwrap()
        )));
        assert!(!h.contains(Addr::from(
            "192.0.2.11".parse::<std::net::IpAddr>().unwrap()
        )));
        let v6 = Net::parse("2001:db8::/32").unwrap();
        assert!(v6.contains(Addr::from(
            "2001:db8::1".parse::<std::net::IpAddr>().unwrap()
        )));
        assert!(Net::parse("192.0.2.0/33").is_err());
        assert!(Net::parse("dc01").is_err());
        assert!(Net::parse("0.0.0.0/0").unwrap().contains(Addr::from(
            "203.0.113.1".parse::<std::net::IpAddr>().unwrap()
        )));
    }
}
