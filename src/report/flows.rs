//! Flow records (`--flows FILE`): one JSON object per ended flow, one per line.

use serde::Serialize;

use crate::catalog::{Catalog, ServiceId};
use crate::decode::{proto, tcp_flags, Addr};
use crate::flow::{EndReason, Flow, C2S, S2C};
use crate::inspect::Evidence;
use crate::time::Ts;

use super::transport_name;

#[derive(Serialize)]
pub struct FlowRecord<'a> {
    pub first_seen: String,
    pub last_seen: String,
    pub ip_protocol: u8,
    pub transport: String,
    pub client_addr: Addr,
    pub client_port: Option<u16>,
    pub server_addr: Addr,
    pub server_port: Option<u16>,
    pub server_rule: &'static str,
    pub app_protocol: Option<&'a str>,
    /// The services the flow is credited with: those its evidence backs, else its label's candidates.
    pub services: Vec<&'a str>,
    /// How `services` are known: "evidence", "port" (one candidate), "candidates" (a shared port,
    /// not determined) or "unclassified".
    pub service_basis: &'static str,
    /// The candidate services of the flow's label, whatever the evidence said.
    pub candidate_services: Vec<&'a str>,
    pub provenance: &'static str,
    pub packets_c2s: u64,
    pub packets_s2c: u64,
    pub bytes_c2s: u64,
    pub bytes_s2c: u64,
    /// TCP flags seen in either direction, e.g. "SYN,ACK,PSH,FIN"; null for other protocols.
    pub tcp_flags: Option<String>,
    pub tcp_flags_c2s: Option<String>,
    pub tcp_flags_s2c: Option<String>,
    /// A TCP connection attempt the server never accepted.
    pub unanswered: bool,
    /// "idle", "closed", "reused", "evicted" or "end-of-input".
    pub end_reason: &'static str,
    /// The DCE/RPC interface UUID seen on or announced for the flow, else null.
    pub rpc_interface: Option<String>,
    /// What the payload (or the flow that announced this one) showed, in the order found.
    pub evidence: Vec<EvidenceRecord<'a>>,
}

/// One evidence item of a flow record.
#[derive(Serialize)]
pub struct EvidenceRecord<'a> {
    /// `rpc-bind`, `rpc-header`, `endpoint-mapper`, `ftp-control`, `tftp`.
    pub kind: &'static str,
    /// What it names (an interface UUID, …), or null.
    pub value: Option<String>,
    /// The catalog services it backs (those of its catalog name, else of the application protocol
    /// it implies).
    pub services: Vec<&'a str>,
}

impl<'a> EvidenceRecord<'a> {
    pub fn new(catalog: &'a Catalog, e: &Evidence) -> EvidenceRecord<'a> {
        EvidenceRecord {
            kind: e.kind.as_str(),
            value: e.value.text(),
            services: names(catalog, e.services(catalog)),
        }
    }
}

/// The names of these services.
fn names<'c>(catalog: &'c Catalog, services: &[ServiceId]) -> Vec<&'c str> {
    services
        .iter()
        .map(|&s| catalog.service(s).name.as_str())
        .collect()
}

impl<'a> FlowRecord<'a> {
    pub fn new(catalog: &'a Catalog, f: &Flow, why: EndReason) -> FlowRecord<'a> {
        let interface = f.slot.as_ref().and_then(|s| s.interface);
        let (client, cport) = f.client();
        let (server, sport) = f.server();
        let ports = f.has_ports();
        let label = f.class.label.map(|l| catalog.label(l));
        let tcp = f.key.protocol == proto::TCP;
        let flags = |bits: u8| tcp.then(|| tcp_flags::to_text(bits));
        let attribution = f.attribution(catalog);
        FlowRecord {
            first_seen: rfc3339(f.first_ts),
            last_seen: rfc3339(f.last_ts),
            ip_protocol: f.key.protocol,
            transport: transport_name(f.key.protocol),
            client_addr: client,
            client_port: ports.then_some(cport),
            server_addr: server,
            server_port: ports.then_some(sport),
            server_rule: f.class.server_rule.as_str(),
            app_protocol: label.map(|l| l.name.as_str()),
            services: names(catalog, &attribution.services),
            service_basis: attribution.basis.as_str(),
            candidate_services: label.map_or_else(Vec::new, |l| names(catalog, &l.services)),
            provenance: f.class.provenance.as_str(),
            packets_c2s: f.packets[C2S],
            packets_s2c: f.packets[S2C],
            bytes_c2s: f.bytes[C2S],
            bytes_s2c: f.bytes[S2C],
            tcp_flags: flags(f.flags[C2S] | f.flags[S2C]),
            tcp_flags_c2s: flags(f.flags[C2S]),
            tcp_flags_s2c: flags(f.flags[S2C]),
            unanswered: f.is_unanswered(),
            end_reason: match why {
                EndReason::Idle => "idle",
                EndReason::Closed => "closed",
                EndReason::Reused => "reused",
                EndReason::Evicted => "evicted",
                EndReason::EndOfInput => "end-of-input",
            },
            rpc_interface: interface.map(|u| u.to_string()),
            evidence: f
                .slot
                .iter()
                .flat_map(|s| s.evidence.iter())
                .map(|e| EvidenceRecord::new(catalog, e))
                .collect(),
        }
    }
}

/// RFC 3339 UTC time with microseconds, e.g. `2024-03-04T09:00:00.000000Z`.
pub fn rfc3339(ts: Ts) -> String {
    let secs = ts.div_euclid(1_000_000_000);
    let micros = ts.rem_euclid(1_000_000_000) / 1000;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            rfc3339(1_709_542_800_123_456_789),
            "2024-03-04T09:00:00.123456Z"
        );
        assert_eq!(
            rfc3339(951_782_400_000_000_000),
            "2000-02-29T00:00:00.000000Z"
        );
        assert_eq!(rfc3339(-1_000_000_000), "1969-12-31T23:59:59.000000Z");
    }
}
