//! CSV rendering: one header, then one row per application protocol, service, undetermined shared
//! port and unclassified port, told apart by the `view` column.

use super::{Report, Traffic};

/// One CSV field: quoted when needed (RFC 4180), and never a formula to a spreadsheet (see
/// [`super::escape::csv_cell`]).
pub fn field(s: &str) -> String {
    super::escape::csv_cell(s).into_owned()
}

/// Joins fields into one CSV line.
pub fn line<S: AsRef<str>>(fields: &[S]) -> String {
    let mut s = fields
        .iter()
        .map(|f| field(f.as_ref()))
        .collect::<Vec<_>>()
        .join(",");
    s.push('\n');
    s
}

const HEADER: [&str; 30] = [
    "view",
    "name",
    "system_service",
    "transport",
    "port",
    "port_ranges",
    "basis",
    "flows",
    "evidence_flows",
    "candidate_flows",
    "packets",
    "bytes",
    "packets_c2s",
    "packets_s2c",
    "bytes_c2s",
    "bytes_s2c",
    "clients",
    "servers",
    "first_seen",
    "last_seen",
    "packet_size_p50",
    "packet_size_max",
    "flow_duration_ms_p50",
    "flow_duration_ms_max",
    "related",
    "evidence",
    "verified_flows",
    "port_only_flows",
    "mismatch_flows",
    "sensor",
];

fn traffic_fields(t: &Traffic) -> [String; 14] {
    [
        t.packets().to_string(),
        t.bytes().to_string(),
        t.packets_c2s.to_string(),
        t.packets_s2c.to_string(),
        t.bytes_c2s.to_string(),
        t.bytes_s2c.to_string(),
        t.clients.to_string(),
        t.servers.to_string(),
        t.first_seen.clone().unwrap_or_default(),
        t.last_seen.clone().unwrap_or_default(),
        t.packet_size.map(|p| p.p50.to_string()).unwrap_or_default(),
        t.packet_size.map(|p| p.max.to_string()).unwrap_or_default(),
        t.flow_duration_ms
            .map(|p| p.p50.to_string())
            .unwrap_or_default(),
        t.flow_duration_ms
            .map(|p| p.max.to_string())
            .unwrap_or_default(),
    ]
}

/// The `port` and `port_ranges` cells: a port number, or for the dynamic RPC range its ranges
/// ("49152-65535"); both empty for an IP protocol (its `transport` names it).
fn port_fields(port: Option<u16>, ranges: Option<&[[u16; 2]]>) -> (String, String) {
    let ranges = ranges
        .map(|r| {
            r.iter()
                .map(|[a, b]| format!("{a}-{b}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
        .unwrap_or_default();
    (port.map(|p| p.to_string()).unwrap_or_default(), ranges)
}

pub fn render(r: &Report) -> String {
    let mut out = line(&HEADER);
    // Every row ends with the sensor's name, so that rows of several sensors can be pooled.
    let mut row = |mut f: Vec<String>| {
        f.resize(HEADER.len() - 1, String::new());
        f.push(r.sensor.clone());
        out.push_str(&line(&f));
    };
    for a in &r.app_protocols {
        let (port, ranges) = port_fields(a.port, a.port_ranges());
        let mut f = vec![
            "app_protocol".to_string(),
            a.app_protocol.clone(),
            String::new(),
            a.transport.clone(),
            port,
            ranges,
            String::new(),
            a.traffic.flows.to_string(),
            String::new(),
            String::new(),
        ];
        f.extend(traffic_fields(&a.traffic));
        f.push(a.services.join("; "));
        f.push(String::new());
        f.push(a.verification.verified_flows.to_string());
        f.push(a.verification.port_only_flows.to_string());
        f.push(a.verification.mismatch_flows.to_string());
        row(f);
    }
    for s in &r.services {
        let mut f = vec![
            "service".to_string(),
            s.service.clone(),
            s.system_service.clone().unwrap_or_default(),
            String::new(),
            String::new(),
            String::new(),
            s.basis.as_str().to_string(),
            s.traffic.flows.to_string(),
            s.evidence_flows.to_string(),
            s.candidate_flows.to_string(),
        ];
        f.extend(traffic_fields(&s.traffic));
        f.push(s.app_protocols.join("; "));
        f.push(
            s.evidence
                .iter()
                .map(|e| format!("{} {}", e.short(), e.flows))
                .collect::<Vec<_>>()
                .join("; "),
        );
        row(f);
    }
    for u in &r.undetermined {
        let (port, ranges) = port_fields(u.port, u.port_ranges());
        let mut f = vec![
            "undetermined".to_string(),
            u.app_protocol.clone(),
            String::new(),
            u.transport.clone(),
            port,
            ranges,
            "candidates".to_string(),
            u.traffic.flows.to_string(),
            "0".into(),
            u.traffic.flows.to_string(),
        ];
        f.extend(traffic_fields(&u.traffic));
        f.push(u.services.join("; "));
        f.push(String::new());
        row(f);
    }
    for p in &r.unclassified.top_ports {
        let mut f = vec![
            "unclassified".to_string(),
            String::new(),
            String::new(),
            p.transport.clone(),
            p.port.map(|p| p.to_string()).unwrap_or_default(),
            String::new(),
            "unclassified".into(),
            p.flows.to_string(),
            String::new(),
            String::new(),
            p.packets.to_string(),
            p.bytes.to_string(),
        ];
        f.resize(HEADER.len() - 1, String::new());
        // What its flows carried, in `related`: "tls 3; http 1".
        f[24] = p
            .looks_like
            .iter()
            .map(|l| format!("{} {}", l.payload, l.flows))
            .collect::<Vec<_>>()
            .join("; ");
        row(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pipe name from a packet lands in the evidence cell: never a formula, always one cell.
    #[test]
    fn evidence_from_the_wire_is_one_inert_cell() {
        use crate::aggregate::{test_flow, Aggregate};
        use crate::catalog::{Catalog, Transport, Uuid};
        use crate::inspect::{Evidence, EvidenceKind, Slot, Value};
        let catalog = Catalog::builtin();
        let spoolss = Uuid::parse("12345678-1234-abcd-ef00-0123456789ab").unwrap();
        let label = catalog.interface_label(spoolss, false);
        let mut f = test_flow(catalog.lookup_port(Transport::Tcp, 445), 101, [1, 2], true);
        let pipe = Value::Text("=HYPERLINK(\"x\"),\nA".into());
        let e = Evidence::labelled(EvidenceKind::SmbPipe, pipe, label);
        f.slot = Some(Box::new(Slot::with(e, None)));
        let mut agg = Aggregate::default();
        agg.end_flow(&f, &catalog);
        let mut report = super::super::Report::build(&catalog, &agg, Vec::new(), 10);
        report.sensor = "s1".into();
        let csv = render(&report);
        let row = csv.split("\nservice,").nth(1).expect("a service row");
        assert!(
            row.starts_with("Print Spooler,Spooler,,,,evidence,1,1,0,"),
            "{row}"
        );
        assert!(
            row.contains(",\"'=HYPERLINK(\"\"x\"\"),\nA pipe 1\",,,,s1\n"),
            "{row}"
        );
    }

    /// Every row has the header's cells, whatever its view.
    #[test]
    fn every_row_has_every_column() {
        use crate::aggregate::{test_flow, Aggregate};
        use crate::catalog::{Catalog, Transport};
        let catalog = Catalog::builtin();
        let mut agg = Aggregate::default();
        for (label, client) in [
            (catalog.lookup_port(Transport::Tcp, 445), 101),
            (catalog.lookup_port(Transport::Tcp, 88), 102),
            (None, 103),
        ] {
            agg.end_flow(&test_flow(label, client, [1, 2], true), &catalog);
        }
        let csv = render(&super::super::Report::build(&catalog, &agg, Vec::new(), 10));
        let views: Vec<&str> = csv
            .lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap())
            .collect();
        for v in ["app_protocol", "service", "undetermined", "unclassified"] {
            assert!(views.contains(&v), "{v}: {csv}");
        }
        for l in csv.lines() {
            assert_eq!(l.split(',').count(), HEADER.len(), "{l}");
        }
    }

    /// Regression: the port column mixed port numbers, IP protocol numbers (GRE's 47 looked like a
    /// port) and the word "dynamic".
    #[test]
    fn the_port_column_holds_ports_only() {
        use crate::aggregate::{test_flow, Aggregate};
        use crate::catalog::{Catalog, PortSpec};
        let catalog = Catalog::builtin();
        let find = |spec: PortSpec| {
            (0..catalog.labels.len())
                .find(|&i| catalog.labels[i].spec == spec)
                .map(|i| i as crate::catalog::LabelId)
        };
        let mut agg = Aggregate::default();
        for spec in [
            PortSpec::IpProtocol(47),
            PortSpec::Dynamic,
            PortSpec::Port(88),
        ] {
            agg.end_flow(&test_flow(find(spec), 101, [1, 2], true), &catalog);
        }
        let report = super::super::Report::build(&catalog, &agg, Vec::new(), 10);
        let csv = render(&report);
        let cells: Vec<(String, String, String)> = csv
            .lines()
            .skip(1)
            .filter(|l| l.starts_with("app_protocol,"))
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                (f[3].to_string(), f[4].to_string(), f[5].to_string())
            })
            .collect();
        assert!(
            cells.contains(&("gre".into(), String::new(), String::new())),
            "{csv}"
        );
        assert!(
            cells.contains(&("tcp".into(), "88".into(), String::new())),
            "{csv}"
        );
        assert!(
            cells
                .iter()
                .any(|(t, p, r)| t == "tcp" && p.is_empty() && r.contains("49152-65535")),
            "{csv}"
        );
    }

    #[test]
    fn quoting() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a, b"), "\"a, b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
