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

const HEADER: [&str; 29] = [
    "view",
    "name",
    "system_service",
    "transport",
    "port",
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

pub fn render(r: &Report) -> String {
    let mut out = line(&HEADER);
    // Every row ends with the sensor's name, so that rows of several sensors can be pooled.
    let mut row = |mut f: Vec<String>| {
        f.resize(HEADER.len() - 1, String::new());
        f.push(r.sensor.clone());
        out.push_str(&line(&f));
    };
    for a in &r.app_protocols {
        let port = match (a.port, a.ip_protocol) {
            (Some(p), _) => p.to_string(),
            (None, Some(n)) => n.to_string(),
            (None, None) => "dynamic".into(),
        };
        let mut f = vec![
            "app_protocol".to_string(),
            a.app_protocol.clone(),
            String::new(),
            a.transport.to_string(),
            port,
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
        let port = match (u.port, u.ip_protocol) {
            (Some(p), _) => p.to_string(),
            (None, Some(n)) => n.to_string(),
            (None, None) => "dynamic".into(),
        };
        let mut f = vec![
            "undetermined".to_string(),
            u.app_protocol.clone(),
            String::new(),
            u.transport.to_string(),
            port,
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
            "unclassified".into(),
            p.flows.to_string(),
            String::new(),
            String::new(),
            p.packets.to_string(),
            p.bytes.to_string(),
        ];
        f.resize(HEADER.len() - 1, String::new());
        // What its flows carried, in `related`: "tls 3; http 1".
        f[23] = p
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
            row.starts_with("Print Spooler,Spooler,,,evidence,1,1,0,"),
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

    #[test]
    fn quoting() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a, b"), "\"a, b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
