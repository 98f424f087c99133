//! Report: the analysis result as one serialisable document, and its renderings.
//!
//! [`Report::build`] turns an [`Aggregate`] into the per-application-protocol view (one row per catalog
//! label: a (transport, port), IP protocol or the dynamic RPC range), the per-service view (the
//! traffic each service is credited with — evidence-backed first, then by a port it alone owns — and
//! the flows where it was only a candidate, kept apart), the undetermined traffic per shared port
//! (no evidence said which of its candidates was used), unclassified traffic with its top ports,
//! unanswered connection attempts, and capture health. `--format json` prints this document as it is (schema in the README); `table` and `csv`
//! render it.

pub mod authentication;
pub mod catalog;
pub mod community_id;
pub mod csv;
pub mod escape;
pub mod flowfile;
pub mod flows;
pub mod hosts;
pub mod html;
pub mod interfaces;
pub mod ipfix;
pub mod live;
pub mod metrics;
pub mod roles;
pub mod rules;
pub mod sensor;
pub mod svg;
pub mod table;
pub mod timeline;

use serde::Serialize;

use crate::aggregate::services::EvidenceSummary;
use crate::aggregate::{Aggregate, Dist, Stats};
use crate::catalog::{Catalog, LabelId, Origin, PortSpec, Transport};
use crate::decode::Addr;
use crate::flow::{C2S, S2C};
use crate::inspect::Basis;
use crate::inspect::Counters;
use crate::time::Ts;

pub use flows::rfc3339;

/// Version of the JSON report schema; bumped on incompatible changes.
pub const SCHEMA_VERSION: u32 = 3;

/// One input's part in the report.
#[derive(Clone, Debug, Serialize)]
pub struct InputReport {
    pub path: String,
    pub link_types: Vec<String>,
    pub packets: u64,
    pub filtered: u64,
    pub error: Option<String>,
}

/// A distribution: its exact least and greatest values, and its p50/p90/p99 from the histogram
/// (within 1%: the top of the value's bucket, kept between `min` and `max`).
#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
pub struct Percentiles {
    pub min: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub max: u64,
}

impl Percentiles {
    fn of(h: &Dist, scale: u64) -> Option<Percentiles> {
        if h.is_empty() {
            return None;
        }
        let q = |p: f64| h.value_at_quantile(p) / scale;
        Some(Percentiles {
            min: h.min / scale,
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            max: h.max / scale,
        })
    }
}

/// Traffic figures shared by every view.
#[derive(Clone, Debug, Serialize)]
pub struct Traffic {
    pub flows: u64,
    pub packets_c2s: u64,
    pub packets_s2c: u64,
    pub bytes_c2s: u64,
    pub bytes_s2c: u64,
    pub clients: usize,
    pub servers: usize,
    /// True when `clients` or `servers` reached the distinct-address cap (the figure is a lower bound).
    pub addresses_capped: bool,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub packet_size: Option<Percentiles>,
    pub flow_duration_ms: Option<Percentiles>,
    pub flow_bytes: Option<Percentiles>,
}

impl Traffic {
    fn of(s: &Stats) -> Traffic {
        Traffic {
            flows: s.flows,
            packets_c2s: s.packets[C2S],
            packets_s2c: s.packets[S2C],
            bytes_c2s: s.bytes[C2S],
            bytes_s2c: s.bytes[S2C],
            clients: s.clients.len(),
            servers: s.servers.len(),
            addresses_capped: s.clients.capped || s.servers.capped,
            first_seen: time(s.first_ts),
            last_seen: time(s.last_ts),
            // Sizes recorded for a label none of whose flows ended with it (evidence relabelled
            // them all) describe no flow of the row.
            packet_size: (s.flows > 0)
                .then(|| Percentiles::of(&s.packet_size, 1))
                .flatten(),
            flow_duration_ms: Percentiles::of(&s.flow_duration_us, 1000),
            flow_bytes: Percentiles::of(&s.flow_bytes, 1),
        }
    }

    pub fn bytes(&self) -> u64 {
        self.bytes_c2s + self.bytes_s2c
    }

    pub fn packets(&self) -> u64 {
        self.packets_c2s + self.packets_s2c
    }
}

pub(crate) fn time(ts: Ts) -> Option<String> {
    (ts != i64::MAX && ts != i64::MIN).then(|| rfc3339(ts))
}

/// One application protocol on one port (a catalog label).
#[derive(Clone, Debug, Serialize)]
pub struct AppRow {
    pub app_protocol: String,
    /// "tcp", "udp", or for an IP protocol row its name ("gre", "esp", "ah", "ip-N"): the
    /// vocabulary of flow records and `hosts`.
    pub transport: String,
    pub port: Option<u16>,
    pub ip_protocol: Option<u8>,
    /// For the dynamic RPC range: the configured ranges.
    pub port_ranges: Option<Vec<[u16; 2]>>,
    /// For a DCE/RPC interface's row: its UUID.
    pub rpc_interface: Option<String>,
    /// Candidate catalog services, in catalog order.
    pub services: Vec<String>,
    /// True when more than one service could own this traffic.
    pub shared: bool,
    /// What the payload said of the protocol (see `inspect::verify`).
    #[serde(flatten)]
    pub verification: VerificationCounts,
    #[serde(flatten)]
    pub traffic: Traffic,
}

/// Flows and bytes of an application protocol by verification.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct VerificationCounts {
    pub verified_flows: u64,
    pub verified_bytes: u64,
    pub port_only_flows: u64,
    pub port_only_bytes: u64,
    pub mismatch_flows: u64,
    pub mismatch_bytes: u64,
}

impl VerificationCounts {
    fn of(c: &crate::aggregate::verification::VerifyCounts) -> VerificationCounts {
        VerificationCounts {
            verified_flows: c.flows[0],
            verified_bytes: c.bytes[0],
            port_only_flows: c.flows[1],
            port_only_bytes: c.bytes[1],
            mismatch_flows: c.flows[2],
            mismatch_bytes: c.bytes[2],
        }
    }
}

/// A catalog port on one server that carried another protocol.
#[derive(Clone, Debug, Serialize)]
pub struct MismatchRow {
    pub app_protocol: String,
    pub transport: Transport,
    pub port: Option<u16>,
    pub server: Addr,
    /// What the payload looked like: "tls", "ssh", "http", "s7comm", "iso-mms", …, "unknown".
    pub payload: &'static str,
    pub flows: u64,
    pub bytes: u64,
    pub first_seen: Option<String>,
    /// Where the catalog has the protocol the payload showed: `"LDAP Server tcp/389"`, … (empty
    /// when it has none).
    pub catalog_has: Vec<String>,
    /// "tcp/102 on 10.0.0.5 carries iso-mms, not X.400".
    pub summary: String,
}

/// The TLS names one server was seen with.
#[derive(Clone, Debug, Serialize)]
pub struct TlsRow {
    pub server: Addr,
    pub port: u16,
    /// Flows with a ClientHello or certificate read.
    pub flows: u64,
    /// Server names asked for (SNI), ALPN lists offered, certificate subject CNs (each at most 4).
    pub sni: Vec<String>,
    pub alpn: Vec<String>,
    pub certificates: Vec<String>,
}

/// What unclassified flows on a port looked like.
#[derive(Clone, Debug, Serialize)]
pub struct LooksRow {
    pub payload: &'static str,
    pub flows: u64,
}

/// Where the catalog has the protocol `w` (the rows whose protocol it verifies first), at most 3.
pub fn catalog_rows_for(catalog: &Catalog, w: crate::wire::signature::Wire) -> Vec<String> {
    use crate::wire::signature::Wire;
    if w == Wire::Unknown {
        return Vec::new();
    }
    let mut rows: Vec<(u16, String)> = Vec::new();
    for (i, l) in catalog.labels.iter().enumerate() {
        let PortSpec::Port(p) = l.spec else {
            continue;
        };
        if crate::inspect::verify::expected(l).is_some_and(|e| e.wires.first() == Some(&w)) {
            rows.push((
                p,
                format!("{} {}", l.name, port_text(catalog, i as LabelId)),
            ));
        }
    }
    rows.sort();
    rows.dedup();
    rows.into_iter().take(3).map(|(_, r)| r).collect()
}

/// One catalog service and the traffic it is credited with: evidence-backed flows, and flows on a
/// port (or IP protocol) it alone owns. Flows on shared ports that no evidence determined are not
/// its traffic: they are counted in `candidate_flows` and listed under [`Report::undetermined`].
#[derive(Clone, Debug, Serialize)]
pub struct ServiceRow {
    pub service: String,
    pub system_service: Option<String>,
    pub origin: Origin,
    /// "evidence" when any of its flows are evidence-backed, else "port".
    pub basis: Basis,
    /// "App tcp/88" for each application protocol its traffic came in on.
    pub app_protocols: Vec<String>,
    /// Of `flows`, those (and their bytes) that evidence backs.
    pub evidence_flows: u64,
    pub evidence_bytes: u64,
    /// The evidence behind them: distinct (kind, value) with the flows each was found on.
    pub evidence: Vec<EvidenceRow>,
    /// Flows of evidence items the summary had no room for (one per item and flow).
    pub evidence_other_flows: u64,
    /// Flows (and bytes) on ports it shares with other services where nothing said which was used;
    /// never part of `flows` or the other traffic fields.
    pub candidate_flows: u64,
    pub candidate_bytes: u64,
    #[serde(flatten)]
    pub traffic: Traffic,
}

/// One distinct evidence item behind a service.
#[derive(Clone, Debug, Serialize)]
pub struct EvidenceRow {
    /// `rpc-bind`, `smb-pipe`, … (see the README's evidence kinds).
    pub kind: &'static str,
    /// What it names (an interface UUID, a pipe or share name from the wire), or null.
    pub value: Option<String>,
    /// The catalog's name for the value (a DCE/RPC interface's, e.g. "netlogon"), or null.
    pub name: Option<String>,
    pub flows: u64,
}

impl EvidenceRow {
    pub fn rows(catalog: &Catalog, s: &EvidenceSummary) -> Vec<EvidenceRow> {
        let mut rows: Vec<EvidenceRow> = s
            .items
            .iter()
            .map(|c| EvidenceRow {
                kind: c.kind.as_str(),
                value: c.value.text(),
                name: c
                    .value
                    .interface()
                    .and_then(|u| catalog.interface(u))
                    .map(|i| i.name.clone()),
                flows: c.flows,
            })
            .collect();
        rows.sort_by(|a, b| {
            b.flows
                .cmp(&a.flows)
                .then_with(|| a.kind.cmp(b.kind))
                .then_with(|| a.value.cmp(&b.value))
        });
        rows
    }

    /// A few words for a table cell: "spoolss pipe", "SYSVOL share", "rpc-bind netlogon".
    pub fn short(&self) -> String {
        let what = self.name.as_deref().or(self.value.as_deref());
        match (self.kind, what) {
            ("smb-pipe", Some(v)) => format!("{v} pipe"),
            ("smb-share", Some(v)) => format!("{v} share"),
            (kind, Some(v)) => format!("{kind} {v}"),
            (kind, None) => kind.to_string(),
        }
    }
}

/// The flows of one shared label that no evidence determined: one of its candidates was used, but
/// nothing said which.
#[derive(Clone, Debug, Serialize)]
pub struct UndeterminedRow {
    pub app_protocol: String,
    /// As [`AppRow::transport`].
    pub transport: String,
    pub port: Option<u16>,
    pub ip_protocol: Option<u8>,
    /// For the dynamic RPC range: the configured ranges.
    pub port_ranges: Option<Vec<[u16; 2]>>,
    /// Every candidate service, in catalog order.
    pub services: Vec<String>,
    #[serde(flatten)]
    pub traffic: Traffic,
}

impl UndeterminedRow {
    pub fn port_ranges(&self) -> Option<&[[u16; 2]]> {
        self.port_ranges.as_deref()
    }
}

impl AppRow {
    pub fn port_ranges(&self) -> Option<&[[u16; 2]]> {
        self.port_ranges.as_deref()
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct PortRow {
    /// "tcp", "udp", or the IP protocol's name ("icmp", "ip-89", …).
    pub transport: String,
    pub port: Option<u16>,
    pub flows: u64,
    pub packets: u64,
    pub bytes: u64,
    /// What its flows' payload looked like, most flows first (empty when none carried payload).
    pub looks_like: Vec<LooksRow>,
    /// The first TLS server name seen on the port.
    pub sni: Option<String>,
    /// Where the catalog has the protocol the payload looked like most (`"LDAP Server tcp/389"`).
    pub catalog_has: Vec<String>,
    /// "tcp/8443: tls, sni=portal.corp.example", "tcp/3899: ldap (the catalog has it on LDAP
    /// Server tcp/389)".
    pub summary: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Unclassified {
    #[serde(flatten)]
    pub traffic: Traffic,
    /// Unclassified traffic by server (transport, port), most bytes first.
    pub top_ports: Vec<PortRow>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Unanswered {
    /// TCP connection attempts (a SYN was seen) that the server never accepted.
    pub flows: u64,
    pub packets: u64,
    pub bytes: u64,
    pub clients: usize,
    pub servers: usize,
    /// The application protocols they aimed at.
    pub by_app_protocol: Vec<NamedCount>,
}

#[derive(Clone, Debug, Serialize)]
pub struct NamedCount {
    pub name: String,
    pub count: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct MalformedRow {
    pub layer: String,
    pub reason: String,
    pub packets: u64,
}

/// Frames that carry no IP, by what they carry.
#[derive(Clone, Debug, Serialize)]
pub struct NotIpRow {
    pub layer: String,
    pub carries: String,
    pub packets: u64,
}

#[derive(Clone, Debug, Serialize, Default)]
pub struct Health {
    pub packets_read: u64,
    pub bytes_read: u64,
    pub packets_filtered: u64,
    pub packets_decoded: u64,
    pub packets_not_ip: u64,
    /// Most packets first.
    pub not_ip: Vec<NotIpRow>,
    pub packets_malformed: u64,
    pub malformed: Vec<MalformedRow>,
    /// Frames cut by the snapshot length (decoded as far as they go).
    pub packets_truncated: u64,
    pub fragments_attributed: u64,
    pub fragments_unmatched: u64,
    /// First fragments forgotten (oldest first) because the fragment table was full.
    pub fragments_evicted: u64,
    pub flows_created: u64,
    pub flows_evicted: u64,
    pub peak_flows: u64,
    /// TCP flows of which only one direction was seen (more than an unanswered attempt): the capture
    /// may miss the other direction. Counted as service traffic too.
    pub one_direction_flows: u64,
    /// Payload inspection: DCE/RPC binds and endpoint-mapper answers, FTP and TFTP announcements.
    pub inspection: Counters,
    /// Live capture only: libpcap's and svcscope's own counters.
    pub live: Option<LiveHealth>,
    /// `--ipfix` only (absent without it): the exporter's counters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipfix: Option<ipfix::IpfixHealth>,
}

#[derive(Clone, Debug, Serialize, Default, PartialEq, Eq)]
pub struct LiveHealth {
    pub interface: String,
    pub received: u64,
    pub dropped_by_kernel: u64,
    pub dropped_by_interface: u64,
    /// Packets dropped because the classifier fell behind.
    pub dropped_by_svcscope: u64,
    /// All three: packets this report is missing.
    pub packets_dropped: u64,
    /// `--write`: what was saved; `None` without it.
    pub savefile: Option<SavefileHealth>,
}

impl LiveHealth {
    /// Sets the drop counters and their total.
    pub fn set_drops(&mut self, kernel: u64, interface: u64, svcscope: u64) {
        self.dropped_by_kernel = kernel;
        self.dropped_by_interface = interface;
        self.dropped_by_svcscope = svcscope;
        self.packets_dropped = kernel.saturating_add(interface).saturating_add(svcscope);
    }
}

/// The savefiles of a live capture (`--write`).
#[derive(Clone, Debug, Serialize, Default, PartialEq, Eq)]
pub struct SavefileHealth {
    /// Files written, in order; each holds whole records.
    pub files: Vec<String>,
    pub packets_saved: u64,
    /// Captured (and in this report) but in no file: writing failed, and nothing more was written.
    pub packets_not_saved: u64,
    /// The failure: the file and what went wrong; `None` when every packet was saved.
    pub error: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Totals {
    pub flows: u64,
    pub packets: u64,
    pub bytes: u64,
    pub classified_flows: u64,
    pub classified_packets: u64,
    pub classified_bytes: u64,
    pub unclassified_flows: u64,
    pub unanswered_flows: u64,
    /// Flows (each once) whose services evidence names, and their bytes.
    pub evidence_flows: u64,
    pub evidence_bytes: u64,
    /// Flows (each once) on shared ports that no evidence determined, and their bytes: traffic whose
    /// service is a guess among candidates.
    pub undetermined_flows: u64,
    pub undetermined_bytes: u64,
}

/// The whole analysis result.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub generator: String,
    /// The sensor that saw the traffic (`--sensor`, else the host name; set by the command line).
    pub sensor: String,
    pub inputs: Vec<InputReport>,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub totals: Totals,
    /// Most bytes first.
    pub app_protocols: Vec<AppRow>,
    /// Services credited with traffic: evidence-backed first, then by port; most bytes first.
    pub services: Vec<ServiceRow>,
    /// Per shared label, the flows no evidence determined; most bytes first.
    pub undetermined: Vec<UndeterminedRow>,
    /// Catalog ports whose payload was another protocol, most bytes first.
    pub mismatches: Vec<MismatchRow>,
    /// Mismatching flows left out because the table was full.
    pub mismatches_not_shown: u64,
    /// TLS names per server (SNI, ALPN, certificate subjects), most flows first.
    pub tls: Vec<TlsRow>,
    pub tls_not_shown: u64,
    pub unclassified: Unclassified,
    pub unanswered: Unanswered,
    /// DCE/RPC: flows per interface, and dynamic-range flows no bind or endpoint-mapper answer named.
    pub rpc: Rpc,
    /// How clients authenticated, per service and server.
    pub authentication: authentication::Authentication,
    /// The Kerberos service principals clients asked tickets for or presented.
    pub kerberos: authentication::Kerberos,
    /// Host names DNS answers in the traffic gave addresses, by address.
    pub names: Vec<NameRow>,
    /// DNS answers for addresses past the names table's 16,384.
    pub names_not_kept: u64,
    pub health: Health,
    /// Bytes over time per service, undetermined and unclassified traffic.
    pub timeline: timeline::TimelineReport,
    /// What `--service`, `--protocol`, `--host`, `--net`, `--sort` and `--top` selected; `null`
    /// without them.
    pub selection: Option<Selected>,
}

/// The names of one address.
#[derive(Clone, Debug, Serialize)]
pub struct NameRow {
    pub addr: Addr,
    pub names: Vec<String>,
}

/// The flows and rows a report was narrowed to (see [`crate::select`]).
#[derive(Clone, Debug, Serialize, Default)]
pub struct Selected {
    /// Catalog service names (friendly), application protocols and networks asked for.
    pub services: Vec<String>,
    pub protocols: Vec<String>,
    pub nets: Vec<String>,
    /// Flows left out: in no figure of the report but capture health's packet counts.
    pub flows_not_selected: u64,
    /// `--sort`: "bytes", "flows", "packets" or "clients"; `null`: the default order.
    pub sort: Option<SortKey>,
    /// `--top`: at most this many rows of each of services, undetermined, app_protocols and
    /// unclassified.top_ports.
    pub top: Option<usize>,
    /// Rows `--top` left out of those tables (their flows are still in `totals`).
    pub rows_not_shown: u64,
}

/// What service, protocol and host tables can be ordered by (most first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum SortKey {
    Bytes,
    Flows,
    Packets,
    Clients,
}

impl SortKey {
    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::Bytes => "bytes",
            SortKey::Flows => "flows",
            SortKey::Packets => "packets",
            SortKey::Clients => "clients",
        }
    }

    /// The value rows are ordered by, most first.
    pub fn of(self, t: &Traffic) -> u64 {
        match self {
            SortKey::Bytes => t.bytes(),
            SortKey::Flows => t.flows,
            SortKey::Packets => t.packets_c2s + t.packets_s2c,
            SortKey::Clients => t.clients as u64,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct RpcInterfaceRow {
    pub uuid: String,
    /// The catalog's name and protocol document; null for interfaces it does not list.
    pub name: Option<String>,
    pub protocol: Option<String>,
    pub services: Vec<String>,
    pub flows: u64,
    pub packets: u64,
    pub bytes: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Rpc {
    /// Most bytes first.
    pub interfaces: Vec<RpcInterfaceRow>,
    /// Flows labelled "RPC dynamic (unconfirmed)": the client had spoken to the endpoint mapper, but no
    /// bind or answer named the interface.
    pub unconfirmed_dynamic_flows: u64,
}

/// Name of an IP protocol in flow records and port tables.
pub fn transport_name(protocol: u8) -> String {
    match protocol {
        1 => "icmp".into(),
        2 => "igmp".into(),
        6 => "tcp".into(),
        17 => "udp".into(),
        47 => "gre".into(),
        50 => "esp".into(),
        51 => "ah".into(),
        58 => "icmpv6".into(),
        89 => "ospf".into(),
        103 => "pim".into(),
        112 => "vrrp".into(),
        132 => "sctp".into(),
        n => format!("ip-{n}"),
    }
}

/// "tcp/445", "udp/53", "ip/47", "tcp/dynamic" (a DCE/RPC interface over UDP: "udp/dynamic").
pub fn port_text(catalog: &Catalog, label: LabelId) -> String {
    let l = catalog.label(label);
    match l.spec {
        PortSpec::Port(p) => format!("{}/{p}", l.transport),
        PortSpec::IpProtocol(n) => transport_name(n),
        PortSpec::Dynamic => format!("{}/dynamic", l.transport),
    }
}

/// A label's transport as data documents name it: "tcp", "udp", or its IP protocol's name.
pub fn label_transport(catalog: &Catalog, label: LabelId) -> String {
    let l = catalog.label(label);
    match l.spec {
        PortSpec::IpProtocol(n) => transport_name(n),
        _ => l.transport.to_string(),
    }
}

/// A label's port, IP protocol, or (dynamic RPC range) the configured ranges.
type LabelPort = (Option<u16>, Option<u8>, Option<Vec<[u16; 2]>>);

fn label_port(catalog: &Catalog, id: LabelId) -> LabelPort {
    match catalog.label(id).spec {
        PortSpec::Port(p) => (Some(p), None, None),
        PortSpec::IpProtocol(n) => (None, Some(n), None),
        PortSpec::Dynamic => (
            None,
            None,
            Some(
                catalog
                    .dynamic_ranges
                    .iter()
                    .map(|&(a, b)| [a, b])
                    .collect(),
            ),
        ),
    }
}

fn service_names(catalog: &Catalog, l: LabelId) -> Vec<String> {
    catalog
        .label(l)
        .services
        .iter()
        .map(|&s| catalog.service(s).name.clone())
        .collect()
}

impl Report {
    pub fn build(
        catalog: &Catalog,
        agg: &Aggregate,
        inputs: Vec<InputReport>,
        top_ports: usize,
    ) -> Report {
        // Per label.
        let mut app_protocols: Vec<AppRow> = agg
            .labels()
            .map(|(id, s)| {
                let l = catalog.label(id);
                let (port, ip_protocol, port_ranges) = label_port(catalog, id);
                AppRow {
                    app_protocol: l.name.clone(),
                    transport: label_transport(catalog, id),
                    port,
                    ip_protocol,
                    port_ranges,
                    rpc_interface: l
                        .interface
                        .map(|i| catalog.interfaces[usize::from(i)].uuid.to_string()),
                    services: service_names(catalog, id),
                    shared: l.is_shared(),
                    verification: VerificationCounts::of(&agg.verified.of(id)),
                    traffic: Traffic::of(s),
                }
            })
            .collect();
        app_protocols.sort_by(|a, b| {
            b.traffic
                .bytes()
                .cmp(&a.traffic.bytes())
                .then_with(|| a.app_protocol.cmp(&b.app_protocol))
                .then_with(|| a.port.cmp(&b.port))
        });

        // Per service: the traffic each is credited with; candidate-only services are left to the
        // undetermined list.
        let mut services: Vec<ServiceRow> = agg
            .by_basis
            .services()
            .filter(|(_, s)| s.determined.flows > 0)
            .map(|(svc, s)| {
                let service = catalog.service(svc);
                // Label order, as the application protocols are listed everywhere else.
                let mut labels = s.labels.clone();
                labels.sort_unstable();
                ServiceRow {
                    service: service.name.clone(),
                    system_service: service.system.clone(),
                    origin: service.origin,
                    basis: s.basis(),
                    app_protocols: labels
                        .iter()
                        .map(|&l| format!("{} {}", catalog.label(l).name, port_text(catalog, l)))
                        .collect(),
                    evidence_flows: s.evidence_flows,
                    evidence_bytes: s.evidence_bytes,
                    evidence: EvidenceRow::rows(catalog, &s.evidence),
                    evidence_other_flows: s.evidence.other_flows,
                    candidate_flows: s.candidate_flows,
                    candidate_bytes: s.candidate_bytes,
                    traffic: Traffic::of(&s.determined),
                }
            })
            .collect();
        services.sort_by(|a, b| {
            a.basis
                .cmp(&b.basis)
                .then_with(|| b.traffic.bytes().cmp(&a.traffic.bytes()))
                .then_with(|| a.service.cmp(&b.service))
        });
        let mut undetermined: Vec<UndeterminedRow> = agg
            .by_basis
            .undetermined()
            .map(|(id, s)| {
                let l = catalog.label(id);
                let (port, ip_protocol, port_ranges) = label_port(catalog, id);
                UndeterminedRow {
                    app_protocol: l.name.clone(),
                    transport: label_transport(catalog, id),
                    port,
                    ip_protocol,
                    port_ranges,
                    services: service_names(catalog, id),
                    traffic: Traffic::of(s),
                }
            })
            .collect();
        undetermined.sort_by(|a, b| {
            b.traffic
                .bytes()
                .cmp(&a.traffic.bytes())
                .then_with(|| a.app_protocol.cmp(&b.app_protocol))
                .then_with(|| a.port.cmp(&b.port))
        });

        let mut ports: Vec<PortRow> = agg
            .unclassified_ports
            .iter()
            .map(|(&(protocol, port), c)| {
                let looks = agg.verified.unclassified.get(&(protocol, port));
                let looks_like: Vec<LooksRow> = looks
                    .map(|l| l.sorted())
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(w, flows)| LooksRow {
                        payload: w.as_str(),
                        flows,
                    })
                    .collect();
                let sni = looks.and_then(|l| l.sni.as_deref().map(str::to_string));
                let main = looks.and_then(|l| l.sorted().first().map(|&(w, _)| w));
                let catalog_has = main.map_or_else(Vec::new, |w| catalog_rows_for(catalog, w));
                let transport = transport_name(protocol);
                let port = matches!(protocol, 6 | 17).then_some(port);
                let mut summary = match port {
                    Some(p) => format!("{transport}/{p}"),
                    None => transport.clone(),
                };
                if let Some(w) = main {
                    summary.push_str(&format!(": {w}"));
                    if let Some(name) = &sni {
                        summary.push_str(&format!(", sni={name}"));
                    }
                    if let Some(first) = catalog_has.first() {
                        summary.push_str(&format!(" (the catalog has it on {first})"));
                    }
                }
                PortRow {
                    transport,
                    port,
                    flows: c.flows,
                    packets: c.packets,
                    bytes: c.bytes,
                    looks_like,
                    sni,
                    catalog_has,
                    summary,
                }
            })
            .collect();
        ports.sort_by(|a, b| {
            b.bytes
                .cmp(&a.bytes)
                .then_with(|| a.transport.cmp(&b.transport))
                .then_with(|| a.port.cmp(&b.port))
        });
        ports.truncate(top_ports);

        let mut by_app: Vec<NamedCount> = agg
            .unanswered_by_label
            .iter()
            .map(|(l, &count)| NamedCount {
                name: match l {
                    Some(l) => format!("{} {}", catalog.label(*l).name, port_text(catalog, *l)),
                    None => "unclassified".to_string(),
                },
                count,
            })
            .collect();
        by_app.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));

        // Totals over labels (each flow once), never over services.
        let mut all = Stats::default();
        let mut classified = Stats::default();
        for (_, s) in agg.labels() {
            classified.merge(s);
        }
        all.merge(&classified);
        all.merge(&agg.unclassified);
        all.merge(&agg.unanswered);

        let d = &agg.decode;
        let fc = &agg.flow_counters;
        let malformed: Vec<MalformedRow> = d
            .malformed
            .iter()
            .map(|(m, &n)| MalformedRow {
                layer: m.layer.to_string(),
                reason: m.reason.to_string(),
                packets: n,
            })
            .collect();
        let health = Health {
            packets_read: d.packets + inputs.iter().map(|i| i.filtered).sum::<u64>(),
            bytes_read: d.bytes,
            packets_filtered: inputs.iter().map(|i| i.filtered).sum(),
            packets_decoded: d.ip_packets,
            packets_not_ip: d.not_ip,
            not_ip: {
                let mut rows: Vec<NotIpRow> = d
                    .not_ip_by
                    .iter()
                    .map(|(n, &packets)| NotIpRow {
                        layer: n.layer.to_string(),
                        carries: n.carries.to_string(),
                        packets,
                    })
                    .collect();
                rows.sort_by_key(|r| std::cmp::Reverse(r.packets));
                rows
            },
            packets_malformed: malformed.iter().map(|m| m.packets).sum(),
            malformed,
            packets_truncated: d.truncated,
            fragments_attributed: fc.fragments_attributed,
            fragments_unmatched: fc.fragments_unmatched,
            fragments_evicted: fc.fragments_evicted,
            flows_created: fc.flows_created,
            flows_evicted: fc.flows_evicted,
            one_direction_flows: agg.one_direction_flows,
            peak_flows: fc.peak_flows,
            inspection: agg.inspect.clone(),
            live: None,
            ipfix: None,
        };
        let mut interfaces: Vec<RpcInterfaceRow> = agg
            .rpc_interfaces
            .iter()
            .map(|(uuid, c)| {
                let known = catalog.interface(*uuid);
                RpcInterfaceRow {
                    uuid: uuid.to_string(),
                    name: known.map(|i| i.name.clone()),
                    protocol: known.map(|i| i.protocol.clone()),
                    services: known
                        .map(|i| {
                            i.services
                                .iter()
                                .map(|&s| catalog.service(s).name.clone())
                                .collect()
                        })
                        .unwrap_or_default(),
                    flows: c.flows,
                    packets: c.packets,
                    bytes: c.bytes,
                }
            })
            .collect();
        interfaces.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.uuid.cmp(&b.uuid)));
        let unconfirmed_dynamic_flows = catalog
            .rpc_dynamic_label()
            .and_then(|l| agg.by_label.get(usize::from(l)))
            .and_then(|s| s.as_ref())
            .map_or(0, |s| s.flows);
        let mut mismatches: Vec<MismatchRow> = agg
            .verified
            .mismatches
            .iter()
            .map(|(&(label, server, port, wire), m)| {
                let l = catalog.label(label);
                let (label_port, _, _) = label_port(catalog, label);
                let at = format!("{}/{port}", l.transport);
                MismatchRow {
                    app_protocol: l.name.clone(),
                    transport: l.transport,
                    port: label_port.or(Some(port)),
                    server,
                    payload: wire.as_str(),
                    flows: m.flows,
                    bytes: m.bytes,
                    first_seen: time(m.first_ts),
                    catalog_has: catalog_rows_for(catalog, wire),
                    summary: if wire == crate::wire::signature::Wire::Unknown {
                        format!("{at} on {server} carries no {} (unknown payload)", l.name)
                    } else {
                        format!("{at} on {server} carries {wire}, not {}", l.name)
                    },
                }
            })
            .collect();
        mismatches.sort_by(|a, b| {
            b.bytes
                .cmp(&a.bytes)
                .then_with(|| a.summary.cmp(&b.summary))
        });
        let mut tls: Vec<TlsRow> = agg
            .verified
            .tls
            .iter()
            .map(|(&(server, port), t)| TlsRow {
                server,
                port,
                flows: t.flows,
                sni: t.sni.iter().map(|n| n.to_string()).collect(),
                alpn: t.alpn.iter().map(|n| n.to_string()).collect(),
                certificates: t.cert.iter().map(|n| n.to_string()).collect(),
            })
            .collect();
        tls.sort_by(|a, b| {
            b.flows
                .cmp(&a.flows)
                .then_with(|| a.server.cmp(&b.server))
                .then_with(|| a.port.cmp(&b.port))
        });
        Report {
            schema_version: SCHEMA_VERSION,
            generator: format!("svcscope {}", env!("CARGO_PKG_VERSION")),
            sensor: String::new(),
            inputs,
            first_seen: time(all.first_ts),
            last_seen: time(all.last_ts),
            totals: Totals {
                flows: all.flows,
                packets: all.total_packets(),
                bytes: all.total_bytes(),
                classified_flows: classified.flows,
                classified_packets: classified.total_packets(),
                classified_bytes: classified.total_bytes(),
                unclassified_flows: agg.unclassified.flows,
                unanswered_flows: agg.unanswered.flows,
                evidence_flows: agg.by_basis.evidence.flows,
                evidence_bytes: agg.by_basis.evidence.bytes,
                undetermined_flows: agg.by_basis.candidates.flows,
                undetermined_bytes: agg.by_basis.candidates.bytes,
            },
            app_protocols,
            services,
            undetermined,
            mismatches,
            mismatches_not_shown: agg.verified.mismatches_not_shown,
            tls,
            tls_not_shown: agg.verified.tls_not_shown,
            unclassified: Unclassified {
                traffic: Traffic::of(&agg.unclassified),
                top_ports: ports,
            },
            unanswered: Unanswered {
                flows: agg.unanswered.flows,
                packets: agg.unanswered.total_packets(),
                bytes: agg.unanswered.total_bytes(),
                clients: agg.unanswered.clients.len(),
                servers: agg.unanswered.servers.len(),
                by_app_protocol: by_app,
            },
            rpc: Rpc {
                interfaces,
                unconfirmed_dynamic_flows,
            },
            authentication: authentication::Authentication::build(catalog, &agg.auth),
            kerberos: authentication::Kerberos::build(catalog, &agg.auth, &agg.names.index()),
            names: {
                let mut rows: Vec<NameRow> = agg
                    .names
                    .by_addr
                    .iter()
                    .map(|(a, n)| NameRow {
                        addr: *a,
                        names: n.iter().map(|x| x.to_string()).collect(),
                    })
                    .collect();
                rows.sort_by_key(|r| r.addr);
                rows
            },
            names_not_kept: agg.names.not_kept,
            health,
            timeline: timeline::TimelineReport::build(catalog, &agg.timeline),
            selection: None,
        }
    }

    /// Orders the service and application-protocol tables by `sort` (most first; ties keep the
    /// default order) and keeps at most `top` rows of each, saying so in [`Report::selection`],
    /// which `selected` (the flows chosen, if any) starts.
    pub fn narrow(&mut self, mut selected: Selected, sort: Option<SortKey>, top: Option<usize>) {
        if let Some(k) = sort {
            let desc = |t: &Traffic| std::cmp::Reverse(k.of(t));
            self.services.sort_by_key(|r| desc(&r.traffic));
            self.undetermined.sort_by_key(|r| desc(&r.traffic));
            self.app_protocols.sort_by_key(|r| desc(&r.traffic));
            let key = |r: &PortRow| match k {
                SortKey::Flows => r.flows,
                SortKey::Packets => r.packets,
                // Unclassified ports keep no clients: by bytes.
                SortKey::Bytes | SortKey::Clients => r.bytes,
            };
            self.unclassified
                .top_ports
                .sort_by_key(|r| std::cmp::Reverse(key(r)));
        }
        let mut cut = 0u64;
        if let Some(n) = top {
            let mut keep = |len: usize| {
                cut += len.saturating_sub(n) as u64;
                n
            };
            let n1 = keep(self.services.len());
            self.services.truncate(n1);
            let n2 = keep(self.undetermined.len());
            self.undetermined.truncate(n2);
            let n3 = keep(self.app_protocols.len());
            self.app_protocols.truncate(n3);
            // Unclassified ports were already cut to `top` when the report was built.
            self.unclassified.top_ports.truncate(n);
        }
        selected.sort = sort;
        selected.top = top;
        selected.rows_not_shown = cut;
        self.selection = Some(selected);
    }

    /// True when some input failed.
    pub fn has_errors(&self) -> bool {
        self.inputs.iter().any(|i| i.error.is_some())
    }
}
