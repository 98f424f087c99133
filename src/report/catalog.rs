//! `svcscope catalog`: the catalog's rows as a table grouped by service, JSON or CSV.

use std::fmt::Write as _;

use serde::Serialize;

use crate::catalog::{Catalog, Interface, Name, NameKind, Origin, PortSpec, Row, Transport};

use super::escape::terminal;
use super::table::Table;

/// One catalog row as `svcscope catalog --format json` prints it (schema in the README).
#[derive(Serialize)]
pub struct CatalogRow<'a> {
    pub service: &'a str,
    pub system_service: Option<&'a str>,
    pub app_protocol: &'a str,
    pub transport: Transport,
    pub port: Option<u16>,
    /// The first configured dynamic RPC range, for "Randomly allocated high TCP ports" rows.
    pub port_range: Option<[u16; 2]>,
    /// Every configured dynamic range, for those rows.
    pub port_ranges: Option<Vec<[u16; 2]>>,
    pub ip_protocol: Option<u8>,
    /// The row's note (a correction of the article, say), else the service's note.
    pub note: Option<&'a str>,
    pub origin: Origin,
    /// False for a row that documents a port the service is reached on without making it a
    /// candidate of the port (only evidence names the service).
    pub candidate: bool,
    /// Where the row is defined: "file:line".
    pub source: String,
}

impl<'a> CatalogRow<'a> {
    pub fn new(c: &'a Catalog, r: &'a Row) -> CatalogRow<'a> {
        let s = c.service(r.service);
        let ranges: Vec<[u16; 2]> = c.dynamic_ranges.iter().map(|&(a, b)| [a, b]).collect();
        let (port, port_range, port_ranges, ip_protocol) = match r.spec {
            PortSpec::Port(p) => (Some(p), None, None, None),
            PortSpec::IpProtocol(n) => (None, None, None, Some(n)),
            PortSpec::Dynamic => (None, ranges.first().copied(), Some(ranges), None),
        };
        CatalogRow {
            service: &s.name,
            system_service: s.system.as_deref(),
            app_protocol: &r.app,
            transport: r.transport,
            port,
            port_range,
            port_ranges,
            ip_protocol,
            note: r.note.as_deref().or(s.note.as_deref()),
            origin: r.origin,
            candidate: r.candidate,
            source: r.source.to_string(),
        }
    }

    fn port_text(&self) -> String {
        match (self.port, self.ip_protocol, &self.port_ranges) {
            (Some(p), _, _) => p.to_string(),
            (None, Some(n), _) => format!("protocol {n}"),
            (None, None, Some(r)) => r
                .iter()
                .map(|[a, b]| format!("{a}-{b}"))
                .collect::<Vec<_>>()
                .join(", "),
            _ => "-".into(),
        }
    }
}

pub fn json<'a>(c: &'a Catalog, rows: &[&'a Row]) -> String {
    let rows: Vec<CatalogRow> = rows.iter().map(|r| CatalogRow::new(c, r)).collect();
    serde_json::to_string_pretty(&rows).expect("catalog rows serialize")
}

pub fn csv(c: &Catalog, rows: &[&Row]) -> String {
    let mut out = super::csv::line(&[
        "service",
        "system_service",
        "app_protocol",
        "transport",
        "port",
        "port_range",
        "ip_protocol",
        "note",
        "origin",
        "candidate",
    ]);
    for r in rows {
        let row = CatalogRow::new(c, r);
        out.push_str(&super::csv::line(&[
            row.service.to_string(),
            row.system_service.unwrap_or("").to_string(),
            row.app_protocol.to_string(),
            row.transport.to_string(),
            row.port.map(|p| p.to_string()).unwrap_or_default(),
            row.port_ranges
                .as_ref()
                .map(|_| row.port_text())
                .unwrap_or_default(),
            row.ip_protocol.map(|n| n.to_string()).unwrap_or_default(),
            row.note.unwrap_or("").to_string(),
            serde_json::to_value(row.origin)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default(),
            row.candidate.to_string(),
        ]));
    }
    out
}

/// Aligned table, grouped by service; notes become numbered footnotes.
pub fn table(c: &Catalog, rows: &[&Row]) -> String {
    let mut tab = Table::new(&[
        "SERVICE",
        "SYSTEM NAME",
        "APPLICATION PROTOCOL",
        "TRANSPORT",
        "PORT",
        "NOTE",
    ]);
    let mut notes: Vec<&str> = Vec::new();
    let mut last_service = None;
    for r in rows {
        let row = CatalogRow::new(c, r);
        let first = last_service != Some(r.service);
        last_service = Some(r.service);
        let mut note = String::new();
        if let Some(n) = row.note {
            let i = match notes.iter().position(|x| *x == n) {
                Some(i) => i,
                None => {
                    notes.push(n);
                    notes.len() - 1
                }
            };
            note = format!("[{}]", i + 1);
        }
        let mut name = row.service.to_string();
        let service_origin = c.service(r.service).origin;
        if first && service_origin == Origin::LaterEdition {
            name.push_str(" (later edition)");
        } else if first && service_origin == Origin::BeyondArticle {
            name.push_str(" (beyond the article)");
        } else if first && service_origin == Origin::User {
            name.push_str(" (user catalog)");
        }
        let mut app = row.app_protocol.to_string();
        if row.origin != service_origin && row.origin == Origin::LaterEdition {
            app.push_str(" (later edition)");
        }
        tab.row(vec![
            if first { name } else { String::new() },
            if first {
                row.system_service.unwrap_or("-").to_string()
            } else {
                String::new()
            },
            app,
            row.transport.to_string(),
            if row.candidate {
                row.port_text()
            } else {
                // Reached on this port, but only evidence names the service there.
                format!("{} (evidence)", row.port_text())
            },
            note,
        ]);
    }
    let mut out = tab.render("");
    let services = {
        let mut s: Vec<_> = rows.iter().map(|r| r.service).collect();
        s.dedup();
        s.len()
    };
    let _ = writeln!(out, "\n{} rows of {} services.", rows.len(), services);
    if rows.iter().any(|r| !r.candidate) {
        let _ = writeln!(
            out,
            "(evidence): the service is reached on that port, but only evidence (a named pipe, an interface bound) makes it a candidate there."
        );
    }
    for (i, n) in notes.iter().enumerate() {
        let _ = writeln!(out, "[{}] {}", i + 1, terminal(n));
    }
    out
}

/// One DCE/RPC interface as `svcscope catalog --interfaces --format json` prints it.
#[derive(Serialize)]
pub struct InterfaceRow<'a> {
    pub uuid: String,
    pub name: &'a str,
    pub protocol: &'a str,
    pub title: Option<&'a str>,
    pub services: Vec<&'a str>,
    pub source: String,
}

fn interface_row<'a>(c: &'a Catalog, i: &'a Interface) -> InterfaceRow<'a> {
    InterfaceRow {
        uuid: i.uuid.to_string(),
        name: &i.name,
        protocol: &i.protocol,
        title: i.title.as_deref(),
        services: i
            .services
            .iter()
            .map(|&s| c.service(s).name.as_str())
            .collect(),
        source: i.source.to_string(),
    }
}

pub fn interfaces_json(c: &Catalog, list: &[&Interface]) -> String {
    let rows: Vec<InterfaceRow> = list.iter().map(|i| interface_row(c, i)).collect();
    serde_json::to_string_pretty(&rows).expect("interface rows serialize")
}

pub fn interfaces_csv(c: &Catalog, list: &[&Interface]) -> String {
    let mut out = super::csv::line(&["uuid", "name", "protocol", "title", "services"]);
    for i in list {
        let r = interface_row(c, i);
        out.push_str(&super::csv::line(&[
            r.uuid,
            r.name.to_string(),
            r.protocol.to_string(),
            r.title.unwrap_or("").to_string(),
            r.services.join("; "),
        ]));
    }
    out
}

pub fn interfaces_table(c: &Catalog, list: &[&Interface]) -> String {
    let mut tab = Table::new(&["INTERFACE", "PROTOCOL", "UUID", "SERVICES"]);
    for i in list {
        let r = interface_row(c, i);
        tab.row(vec![
            r.name.to_string(),
            r.protocol.to_string(),
            r.uuid,
            if r.services.is_empty() {
                "-".into()
            } else {
                r.services.join(", ")
            },
        ]);
    }
    let mut out = tab.render("");
    let _ = writeln!(out, "\n{} DCE/RPC interfaces.", list.len());
    out
}

/// One pipe, share or protocol as `svcscope catalog --names --format json` prints it.
#[derive(Serialize)]
pub struct NameRow<'a> {
    pub kind: NameKind,
    /// The lookup key: lowercase, a pipe without `\PIPE\`, `?$` for the drive shares.
    pub name: &'a str,
    pub services: Vec<&'a str>,
    pub reference: &'a str,
    pub note: Option<&'a str>,
    pub source: String,
}

fn name_row<'a>(c: &'a Catalog, n: &'a Name) -> NameRow<'a> {
    NameRow {
        kind: n.kind,
        name: &n.name,
        services: n
            .services
            .iter()
            .map(|&s| c.service(s).name.as_str())
            .collect(),
        reference: &n.reference,
        note: n.note.as_deref(),
        source: n.source.to_string(),
    }
}

pub fn names_json(c: &Catalog, list: &[&Name]) -> String {
    let rows: Vec<NameRow> = list.iter().map(|n| name_row(c, n)).collect();
    serde_json::to_string_pretty(&rows).expect("name rows serialize")
}

pub fn names_csv(c: &Catalog, list: &[&Name]) -> String {
    let mut out = super::csv::line(&["kind", "name", "services", "reference", "note"]);
    for n in list {
        let r = name_row(c, n);
        out.push_str(&super::csv::line(&[
            r.kind.as_str().to_string(),
            r.name.to_string(),
            r.services.join("; "),
            r.reference.to_string(),
            r.note.unwrap_or("").to_string(),
        ]));
    }
    out
}

/// Aligned table; notes become numbered footnotes.
pub fn names_table(c: &Catalog, list: &[&Name]) -> String {
    let mut tab = Table::new(&["KIND", "NAME", "SERVICES", "REFERENCE", "NOTE"]);
    let mut notes: Vec<&str> = Vec::new();
    for n in list {
        let r = name_row(c, n);
        let note = r.note.map_or_else(String::new, |text| {
            notes.push(text);
            format!("[{}]", notes.len())
        });
        tab.row(vec![
            r.kind.as_str().to_string(),
            r.name.to_string(),
            if r.services.is_empty() {
                "-".into()
            } else {
                r.services.join(", ")
            },
            r.reference.to_string(),
            note,
        ]);
    }
    let mut out = tab.render("");
    let _ = writeln!(out, "\n{} pipes, shares and protocols.", list.len());
    for (i, n) in notes.iter().enumerate() {
        let _ = writeln!(out, "[{}] {}", i + 1, terminal(n));
    }
    out
}
