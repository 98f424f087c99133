//! `--format html`: the report as one self-contained page — style sheet, SVG charts and a small
//! script inline, nothing fetched when it is opened — readable on a laptop and printable.
//!
//! The page answers first: per server, the services the traffic shows, each with its basis
//! (evidence from the payload, a port only it uses, or a shared port nothing determined) and the
//! evidence. Then charts (services by bytes, host × service heat maps, bytes over time, packet-size
//! and flow-duration ranges per protocol), the tables (sortable, filterable by service, host and
//! protocol), one section per host (role, evidence, authentication seen, what it serves and uses,
//! its firewall draft), capture health and the inputs.
//!
//! Every text from outside — catalog names, wire names, file names — goes through
//! [`html_text`]/[`html_attr`]; the script reads only the page's own attributes and writes only
//! `textContent`, classes and `hidden`. Tables are bounded (top rows, the rest summed in a last
//! row), so the page stays small for any capture.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::escape::{html_attr, html_text};
use super::hosts::{HostRow, HostsReport};
use super::rules::RuleFormat;
use super::svg::{self, Bar, Range};
use super::table::{bytes, count, duration_ms};
use super::{Percentiles, Report};
use crate::aggregate::hosts::is_group_address;
use crate::catalog::Catalog;
use crate::decode::Addr;

/// Rows of the per-server answer, the hosts table and a host's served and used tables, at most.
pub const MAX_ROWS: usize = 300;
/// Host sections (the hosts with most bytes served, then used), at most.
pub const MAX_HOST_SECTIONS: usize = 40;
/// Rows and columns of a heat map, at most.
pub const MAX_HEAT_ROWS: usize = 25;
pub const MAX_HEAT_COLS: usize = 20;
/// Series drawn over time (the rest summed as "other"), and protocols in a distribution chart.
pub const MAX_SERIES: usize = 8;
pub const MAX_RANGES: usize = 15;
/// A host's firewall draft is shown up to this many bytes (the `rules` command prints it whole).
pub const MAX_DRAFT: usize = 16 * 1024;

const STYLE: &str = r#"
:root{--ev:#0072b2;--port:#e69f00;--und:#9a9a9a;--fg:#1b1b1b;--mute:#5a5a5a;--line:#d8d8d8}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;color:var(--fg);margin:0;background:#fff}
header,main,footer{max-width:1200px;margin:0 auto;padding:0 16px}
header{padding-top:12px}
h1{font-size:22px;margin:8px 0}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid var(--line)}h3{font-size:15px;margin:18px 0 6px}
nav a{margin-right:12px}
a{color:#005a8c}
.summary{color:var(--mute)}
table{border-collapse:collapse;width:100%;margin:6px 0 10px;font-size:13px}
th,td{border-bottom:1px solid var(--line);padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3;position:sticky;top:0}
th.sort{cursor:pointer}th.sort::after{content:" \2195";color:#999}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.sum td{font-style:italic;color:var(--mute)}
.rep,.rep a{color:#8c8c8c;font-size:12px}.cand{color:var(--mute);font-size:12px}
.badge{display:inline-block;padding:0 6px;border-radius:8px;font-size:12px;color:#fff;white-space:nowrap}
.b-evidence{background:var(--ev)}.b-port{background:var(--port);color:#222}.b-undetermined{background:var(--und)}
tr.evidence td:first-child{border-left:4px solid var(--ev)}tr.port td:first-child{border-left:4px solid var(--port)}tr.undetermined td:first-child{border-left:4px solid var(--und)}
.chart{max-width:100%;height:auto;display:block;margin:6px 0}
.chart .lbl{font-size:12px;fill:var(--fg)}.chart .val{font-size:11px;fill:var(--mute)}
.chart .bar.evidence{fill:var(--ev)}.chart .bar.port{fill:var(--port)}.chart .bar.undetermined{fill:var(--und)}
.chart .axis{stroke:#888;fill:none}.chart .p99{stroke:#d55e00;stroke-width:2}
.filters{display:flex;gap:10px;flex-wrap:wrap;background:#f7f7f7;padding:8px;border:1px solid var(--line);position:sticky;top:0;z-index:2}
.filters input{font:inherit;padding:2px 6px}
pre{background:#f7f7f7;border:1px solid var(--line);padding:8px;overflow:auto;font-size:12px;max-height:360px}
.host{border-top:2px solid var(--line);margin-top:18px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(480px,1fr));gap:12px}
.legend span{margin-right:12px}
@media print{.filters,nav,noscript{display:none}pre{max-height:none}th{position:static}a{color:inherit;text-decoration:none}.host{break-before:page}}
"#;

/// Sorting and filtering; it reads `data-` attributes and cell text and writes only `hidden` (of
/// rows and host sections), the order of rows, its own `data-dir` and `sort` class, and the row
/// count.
const SCRIPT: &str = r#"
(function(){
  function key(td){var v=td.getAttribute('data-v');return v===null?td.textContent.toLowerCase():parseFloat(v);}
  document.querySelectorAll('table.sortable').forEach(function(t){
    t.querySelectorAll('th').forEach(function(th,i){
      th.classList.add('sort');
      th.addEventListener('click',function(){
        var body=t.tBodies[0];var rows=Array.prototype.slice.call(body.rows).filter(function(r){return !r.classList.contains('sum');});
        var sums=Array.prototype.slice.call(body.rows).filter(function(r){return r.classList.contains('sum');});
        var asc=th.getAttribute('data-dir')!=='asc';th.setAttribute('data-dir',asc?'asc':'desc');
        rows.sort(function(a,b){var x=key(a.cells[i]),y=key(b.cells[i]);if(x<y)return asc?-1:1;if(x>y)return asc?1:-1;return 0;});
        rows.concat(sums).forEach(function(r){body.appendChild(r);});
      });
    });
  });
  var f={service:document.getElementById('f-service'),host:document.getElementById('f-host'),protocol:document.getElementById('f-protocol')};
  function apply(){
    var want={};Object.keys(f).forEach(function(k){want[k]=f[k]?f[k].value.trim().toLowerCase():'';});
    document.querySelectorAll('[data-f]').forEach(function(r){
      var show=Object.keys(want).every(function(k){
        if(!want[k])return true;var v=r.getAttribute('data-'+k);
        return v===null||v.toLowerCase().indexOf(want[k])>=0;});
      r.hidden=!show;});
    var n=document.getElementById('f-count');if(n){n.textContent=document.querySelectorAll('tr[data-f]:not([hidden])').length+' rows shown';}
  }
  // A link can carry the filters: report.html?host=192.0.2.10&service=Net%20Logon
  var q=new URLSearchParams(location.search);
  Object.keys(f).forEach(function(k){if(f[k]){if(q.has(k))f[k].value=q.get(k);f[k].addEventListener('input',apply);}});
  apply();
})();
"#;

/// A page id for a host: `host-` and its address with every character that is not a letter or
/// digit replaced by `-` (addresses are svcscope's own text, but ids stay plain anyway).
pub fn host_id(a: Addr) -> String {
    let text: String = a
        .to_string()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("host-{text}")
}

struct Page {
    out: String,
}

impl Page {
    fn raw(&mut self, s: &str) {
        self.out.push_str(s);
    }
    fn text(&mut self, s: &str) {
        self.out.push_str(&html_text(s));
    }
}

/// A table cell: text, optionally numeric (right-aligned, sorted by `sort`).
enum Cell {
    Text(String),
    /// Pre-rendered, escaped HTML.
    Html(String),
    Num(String, u64),
}

fn table_html(
    id: &str,
    headers: &[&str],
    rows: Vec<(Vec<Cell>, RowAttrs)>,
    sum: Option<Vec<Cell>>,
) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<table class="sortable" id="{}"><thead><tr>"#,
        html_attr(id)
    );
    for h in headers {
        let (class, name) = match h.strip_prefix('>') {
            Some(n) => (" class=\"n\"", n),
            None => ("", *h),
        };
        let _ = write!(s, "<th{class}>{}</th>", html_text(name));
    }
    s.push_str("</tr></thead><tbody>");
    let cells = |s: &mut String, row: Vec<Cell>| {
        for c in row {
            match c {
                Cell::Text(t) => {
                    let _ = write!(s, "<td>{}</td>", html_text(&t));
                }
                Cell::Html(h) => {
                    let _ = write!(s, "<td>{h}</td>");
                }
                Cell::Num(t, v) => {
                    let _ = write!(s, r#"<td class="n" data-v="{v}">{}</td>"#, html_text(&t));
                }
            }
        }
    };
    for (row, attrs) in rows {
        s.push_str("<tr");
        if !attrs.id.is_empty() {
            let _ = write!(s, r#" id="{}""#, html_attr(&attrs.id));
        }
        if !attrs.class.is_empty() {
            let _ = write!(s, r#" class="{}""#, attrs.class);
        }
        if attrs.filter {
            s.push_str(" data-f=\"1\"");
            for (k, v) in [
                ("service", &attrs.service),
                ("host", &attrs.host),
                ("protocol", &attrs.protocol),
            ] {
                if let Some(v) = v {
                    let _ = write!(s, r#" data-{k}="{}""#, html_attr(v));
                }
            }
        }
        s.push('>');
        cells(&mut s, row);
        s.push_str("</tr>");
    }
    if let Some(row) = sum {
        s.push_str(r#"<tr class="sum">"#);
        cells(&mut s, row);
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table>");
    s
}

#[derive(Default)]
struct RowAttrs {
    id: String,
    class: &'static str,
    filter: bool,
    service: Option<String>,
    host: Option<String>,
    protocol: Option<String>,
}

fn num(v: u64) -> Cell {
    Cell::Num(count(v), v)
}

fn size(v: u64) -> Cell {
    Cell::Num(bytes(v), v)
}

fn badge(basis: &str) -> String {
    let (class, text) = match basis {
        "evidence" => ("evidence", "evidence"),
        "port" => ("port", "port only"),
        _ => ("undetermined", "not determined"),
    };
    format!(r#"<span class="badge b-{class}">{text}</span>"#)
}

/// Names of hosts where the traffic tells them: the host part of a Kerberos service principal
/// name a server was asked for (`cifs/dc01.corp.example` → `dc01.corp.example`).
pub fn host_names(hosts: &HostsReport) -> BTreeMap<Addr, String> {
    let mut names = BTreeMap::new();
    for h in &hosts.hosts {
        let mut seen: BTreeSet<String> = BTreeSet::new();
        for s in &h.services_served {
            for e in &s.evidence {
                if e.kind != "kerberos-spn" {
                    continue;
                }
                if let Some(v) = &e.value {
                    // `service/host[:port][/domain]`; krbtgt and kadmin name a realm, not a host.
                    let Some((service, host)) = v.split_once('/') else {
                        continue;
                    };
                    if service.eq_ignore_ascii_case("krbtgt")
                        || service.eq_ignore_ascii_case("kadmin")
                    {
                        continue;
                    }
                    let host = host.split([':', '/', '@']).next().unwrap_or(host);
                    if !host.is_empty() {
                        seen.insert(host.to_ascii_lowercase());
                    }
                }
            }
        }
        if !seen.is_empty() {
            names.insert(h.addr, seen.into_iter().collect::<Vec<_>>().join(", "));
        }
    }
    names
}

struct Ctx<'a> {
    names: BTreeMap<Addr, String>,
    /// Service name → its page id.
    service_ids: BTreeMap<&'a str, String>,
    /// Hosts that have a section.
    sections: BTreeSet<Addr>,
}

impl Ctx<'_> {
    fn addr_text(&self, a: Addr) -> String {
        match self.names.get(&a) {
            Some(n) => format!("{a} ({n})"),
            None => a.to_string(),
        }
    }
    fn addr_link(&self, a: Addr) -> String {
        let t = html_text(&self.addr_text(a)).into_owned();
        if self.sections.contains(&a) {
            format!(r##"<a href="#{}">{t}</a>"##, host_id(a))
        } else {
            t
        }
    }
    fn service_link(&self, name: &str) -> String {
        match self.service_ids.get(name) {
            Some(id) => format!(r##"<a href="#{}">{}</a>"##, html_attr(id), html_text(name)),
            None => html_text(name).into_owned(),
        }
    }
}

/// One line of the per-server answer.
struct Answer {
    server: Addr,
    service: String,
    basis: &'static str,
    evidence: String,
    via: String,
    flows: u64,
    bytes: u64,
    clients: usize,
}

/// Per server: services from evidence, services by a port only they use, and shared ports nothing
/// determined (with their candidates).
fn answers(hosts: &HostsReport) -> Vec<Answer> {
    let mut out = Vec::new();
    for h in &hosts.hosts {
        for s in &h.services_served {
            out.push(Answer {
                server: h.addr,
                service: s.service.clone(),
                basis: "evidence",
                evidence: s
                    .evidence
                    .iter()
                    .map(|e| e.short())
                    .collect::<Vec<_>>()
                    .join("; "),
                via: s.app_protocols.join(", "),
                flows: s.flows,
                bytes: s.bytes_c2s + s.bytes_s2c,
                clients: s.clients,
            });
        }
        for s in &h.serves {
            let Some(app) = &s.app_protocol else { continue };
            let port = match s.port {
                Some(p) => format!("{app} {}/{p}", s.transport),
                None => format!("{app} {}", s.transport),
            };
            let rest = s.flows.saturating_sub(s.evidence_flows);
            if s.services.len() == 1 && rest > 0 {
                // Bytes are kept per port, not per basis: when evidence named the service of
                // some of the port's flows, the bytes are the port's and the row says so.
                let evidence = if s.evidence_flows > 0 {
                    format!(
                        "- (port only for {} of {} flows; bytes of all of them)",
                        count(rest),
                        count(s.flows)
                    )
                } else {
                    "-".into()
                };
                out.push(Answer {
                    server: h.addr,
                    service: s.services[0].clone(),
                    basis: "port",
                    evidence,
                    via: port,
                    flows: rest,
                    bytes: s.bytes_c2s + s.bytes_s2c,
                    clients: s.clients,
                });
            } else if s.undetermined_flows > 0 {
                out.push(Answer {
                    server: h.addr,
                    service: format!(
                        "not determined ({} candidates: {})",
                        s.services.len(),
                        s.services.join(", ")
                    ),
                    basis: "undetermined",
                    evidence: if s.undetermined_flows < s.flows {
                        format!(
                            "- (not determined for {} of {} flows; bytes of all of them)",
                            count(s.undetermined_flows),
                            count(s.flows)
                        )
                    } else {
                        "-".into()
                    },
                    via: port,
                    flows: s.undetermined_flows,
                    bytes: s.bytes_c2s + s.bytes_s2c,
                    clients: s.clients,
                });
            }
        }
    }
    out
}

fn pct(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        100.0 * a as f64 / b as f64
    }
}

fn short_time(t: &Option<String>) -> String {
    match t {
        Some(t) => format!("{} UTC", t.get(..19).unwrap_or(t).replace('T', " ")),
        None => "-".into(),
    }
}

/// The whole page for a report and the host view of the same traffic (built with roles).
pub fn render(catalog: &Catalog, r: &Report, hosts: &HostsReport) -> String {
    let mut p = Page {
        out: String::with_capacity(256 * 1024),
    };
    let service_ids: BTreeMap<&str, String> = r
        .services
        .iter()
        .enumerate()
        .map(|(i, s)| (s.service.as_str(), format!("svc-{i}")))
        .collect();
    let served_bytes = |h: &HostRow| {
        h.serves
            .iter()
            .map(|s| s.bytes_c2s + s.bytes_s2c)
            .sum::<u64>()
    };
    let used_bytes = |h: &HostRow| {
        h.uses
            .iter()
            .map(|s| s.bytes_c2s + s.bytes_s2c)
            .sum::<u64>()
    };
    let mut ranked: Vec<&HostRow> = hosts.hosts.iter().collect();
    ranked.sort_by(|a, b| {
        (served_bytes(b), used_bytes(b))
            .cmp(&(served_bytes(a), used_bytes(a)))
            .then_with(|| a.addr.cmp(&b.addr))
    });
    let sections: BTreeSet<Addr> = ranked
        .iter()
        .take(MAX_HOST_SECTIONS)
        .map(|h| h.addr)
        .collect();
    let ctx = Ctx {
        names: host_names(hosts),
        service_ids,
        sections,
    };

    p.raw("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    p.raw(r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#);
    // Nothing is loaded from anywhere: no network, no inline event handlers.
    p.raw(r#"<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">"#);
    p.raw("<title>svcscope report");
    if let Some(i) = r.inputs.first() {
        p.raw(" — ");
        p.text(&i.path);
        if r.inputs.len() > 1 {
            p.text(&format!(" and {} more", r.inputs.len() - 1));
        }
    }
    p.raw("</title><style>");
    p.raw(STYLE);
    p.raw("</style></head><body><header><h1>Windows services seen in this traffic</h1>");
    let t = &r.totals;
    let _ = write!(
        p.out,
        r#"<p class="summary" id="summary">{} — {} input{}, {} packets, {}, {} → {}. {} flows: {} classified ({:.1}% of bytes); service known from evidence for {} flows ({:.1}% of bytes), not determined for {} flows on shared ports ({:.1}% of bytes).</p>"#,
        html_text(&r.generator),
        r.inputs.len(),
        if r.inputs.len() == 1 { "" } else { "s" },
        count(r.health.packets_read),
        bytes(r.health.bytes_read),
        html_text(&short_time(&r.first_seen)),
        html_text(&short_time(&r.last_seen)),
        count(t.flows),
        count(t.classified_flows),
        pct(t.classified_bytes, t.bytes),
        count(t.evidence_flows),
        pct(t.evidence_bytes, t.bytes),
        count(t.undetermined_flows),
        pct(t.undetermined_bytes, t.bytes),
    );
    p.raw(r##"<nav><a href="#answer">Services per server</a><a href="#charts">Charts</a><a href="#services">Services</a><a href="#undetermined">Not determined</a><a href="#protocols">Protocols</a><a href="#hosts">Hosts</a><a href="#health">Capture health</a><a href="#inputs">Inputs</a></nav></header>"##);
    p.raw(r#"<div class="filters" role="search"><label>Service <input id="f-service" type="search" placeholder="e.g. Net Logon"></label><label>Host <input id="f-host" type="search" placeholder="e.g. 192.0.2.10"></label><label>Protocol <input id="f-protocol" type="search" placeholder="e.g. SMB"></label><span id="f-count"></span></div><main>"#);

    answer_section(&mut p, &ctx, hosts);
    charts_section(&mut p, &ctx, r, hosts);
    services_section(&mut p, &ctx, r, hosts);
    undetermined_section(&mut p, r);
    protocols_section(&mut p, r);
    hosts_section(&mut p, &ctx, catalog, hosts, &ranked);
    health_section(&mut p, r);
    p.raw(
        "</main><footer><p class=\"summary\">Times are UTC. Bytes are frame bytes. Generated by ",
    );
    p.text(&r.generator);
    p.raw(".</p></footer><script>");
    p.raw(SCRIPT);
    p.raw("</script></body></html>\n");
    p.out
}

fn answer_section(p: &mut Page, ctx: &Ctx<'_>, hosts: &HostsReport) {
    p.raw(r#"<section id="answer"><h2>Services per server</h2>"#);
    p.raw(r#"<p class="legend"><span><span class="badge b-evidence">evidence</span> the payload showed it (a bind, a pipe, a Kerberos name, a verified protocol)</span><span><span class="badge b-port">port only</span> a port only this service uses</span><span><span class="badge b-undetermined">not determined</span> a port several services share, nothing said which</span></p>"#);
    let mut all = answers(hosts);
    let order = |b: &str| match b {
        "evidence" => 0,
        "port" => 1,
        _ => 2,
    };
    // Servers in the order of the hosts view (most bytes served first), then by basis and bytes.
    let rank: BTreeMap<Addr, usize> = hosts
        .hosts
        .iter()
        .enumerate()
        .map(|(i, h)| (h.addr, i))
        .collect();
    all.sort_by(|a, b| {
        rank[&a.server]
            .cmp(&rank[&b.server])
            .then_with(|| order(a.basis).cmp(&order(b.basis)))
            .then_with(|| b.bytes.cmp(&a.bytes))
            .then_with(|| a.service.cmp(&b.service))
    });
    if all.is_empty() {
        p.raw("<p>No server was seen serving a catalog service.</p></section>");
        return;
    }
    let total = all.len();
    let mut rest = (0u64, 0u64);
    let mut rows = Vec::new();
    let mut last_server = None;
    for (i, a) in all.into_iter().enumerate() {
        if i >= MAX_ROWS {
            rest.0 += a.flows;
            rest.1 += a.bytes;
            continue;
        }
        let service = if a.basis == "undetermined" {
            format!(r#"<span class="cand">{}</span>"#, html_text(&a.service))
        } else {
            ctx.service_link(&a.service)
        };
        // The server is named on each row (rows sort), muted where it repeats the row above.
        let repeat = last_server == Some(a.server);
        last_server = Some(a.server);
        let server = if repeat {
            format!(r#"<span class="rep">{}</span>"#, ctx.addr_link(a.server))
        } else {
            ctx.addr_link(a.server)
        };
        rows.push((
            vec![
                Cell::Html(server),
                Cell::Html(service),
                Cell::Html(badge(a.basis)),
                Cell::Text(a.evidence),
                Cell::Text(a.via.clone()),
                num(a.flows),
                num(a.clients as u64),
                size(a.bytes),
            ],
            RowAttrs {
                class: a.basis,
                filter: true,
                service: Some(a.service),
                host: Some(ctx.addr_text(a.server)),
                protocol: Some(a.via),
                ..RowAttrs::default()
            },
        ));
    }
    let sum = (total > MAX_ROWS).then(|| {
        vec![
            Cell::Text(format!("{} more rows", count((total - MAX_ROWS) as u64))),
            Cell::Text(String::new()),
            Cell::Text(String::new()),
            Cell::Text(String::new()),
            Cell::Text(String::new()),
            num(rest.0),
            Cell::Text(String::new()),
            size(rest.1),
        ]
    });
    p.raw(&table_html(
        "answer-table",
        &[
            "SERVER", "SERVICE", "BASIS", "EVIDENCE", "VIA", ">FLOWS", ">CLIENTS", ">BYTES",
        ],
        rows,
        sum,
    ));
    p.raw("</section>");
}

fn charts_section(p: &mut Page, ctx: &Ctx<'_>, r: &Report, hosts: &HostsReport) {
    p.raw(r#"<section id="charts"><h2>Charts</h2><div><h3 id="chart-services">Services by bytes</h3>"#);
    let mut bars: Vec<Bar> = r
        .services
        .iter()
        .map(|s| Bar {
            label: s.service.clone(),
            value: s.traffic.bytes(),
            class: if s.evidence_flows > 0 {
                "evidence"
            } else {
                "port"
            },
            href: ctx
                .service_ids
                .get(s.service.as_str())
                .cloned()
                .unwrap_or_default(),
            note: if s.evidence_flows > 0 {
                format!(
                    "evidence for {} of {} flows",
                    count(s.evidence_flows),
                    count(s.traffic.flows)
                )
            } else {
                "by a port only it uses".into()
            },
        })
        .chain(r.undetermined.iter().map(|u| Bar {
            label: format!("{} (not determined)", u.app_protocol),
            value: u.traffic.bytes(),
            class: "undetermined",
            href: String::new(),
            note: format!("candidates: {}", u.services.join(", ")),
        }))
        .collect();
    bars.sort_by(|a, b| b.value.cmp(&a.value).then_with(|| a.label.cmp(&b.label)));
    bars.truncate(25);
    if bars.is_empty() {
        p.raw("<p>No service traffic.</p>");
    } else {
        p.raw(&svg::bars("Services by bytes", &bars));
        p.raw(r#"<p class="legend"><span><span class="badge b-evidence">evidence</span></span><span><span class="badge b-port">port only</span></span><span><span class="badge b-undetermined">not determined</span></span></p>"#);
    }
    p.raw("</div><div><h3 id=\"chart-time\">Traffic over time per service</h3>");
    let tl = &r.timeline;
    if tl.buckets == 0 {
        p.raw("<p>No traffic.</p>");
    } else {
        let mut series: Vec<(String, Vec<u64>)> = Vec::new();
        let mut other = vec![0u64; tl.buckets];
        for (i, s) in tl.series.iter().enumerate() {
            let name = match (s.kind, &s.service) {
                ("service", Some(n)) => n.clone(),
                ("undetermined", _) => "not determined".into(),
                _ => "unclassified".into(),
            };
            if i < MAX_SERIES {
                series.push((name, s.bytes.clone()));
            } else {
                for (o, v) in other.iter_mut().zip(&s.bytes) {
                    *o = o.saturating_add(*v);
                }
            }
        }
        if other.iter().any(|&v| v > 0) {
            series.push(("other".into(), other));
        }
        let start = short_time(&tl.start);
        p.raw(&svg::stacked(
            "Bytes per time bucket, per service",
            &series,
            tl.bucket_seconds,
            &start,
        ));
        p.raw("<p class=\"summary\">A service credited on a flow gets all its bytes (a flow can count for several services), spread evenly over the minutes the flow was active.</p>");
    }
    p.raw("</div>");

    // Host × service heat maps: who serves what, who uses what.
    let cols: Vec<&str> = r
        .services
        .iter()
        .take(MAX_HEAT_COLS)
        .map(|s| s.service.as_str())
        .collect();
    let col_index: BTreeMap<&str, usize> = cols.iter().enumerate().map(|(i, s)| (*s, i)).collect();
    let mut serve: BTreeMap<Addr, Vec<u64>> = BTreeMap::new();
    let mut uses: BTreeMap<Addr, Vec<u64>> = BTreeMap::new();
    for h in &hosts.hosts {
        let add = |m: &mut BTreeMap<Addr, Vec<u64>>, a: Addr, svc: &str, v: u64| {
            if let Some(&c) = col_index.get(svc) {
                let row = m.entry(a).or_insert_with(|| vec![0; cols.len()]);
                row[c] = row[c].saturating_add(v);
            }
        };
        for s in &h.services_served {
            add(&mut serve, h.addr, &s.service, s.bytes_c2s + s.bytes_s2c);
        }
        for s in &h.serves {
            if s.services.len() == 1 && s.evidence_flows == 0 {
                add(
                    &mut serve,
                    h.addr,
                    &s.services[0],
                    s.bytes_c2s + s.bytes_s2c,
                );
            }
        }
        for u in &h.services_used {
            add(&mut uses, h.addr, &u.service, u.bytes_c2s + u.bytes_s2c);
        }
        for u in &h.uses {
            if u.services.len() == 1 && !is_group_address(u.server) {
                add(&mut uses, h.addr, &u.services[0], u.bytes_c2s + u.bytes_s2c);
            }
        }
    }
    let col_refs: Vec<(String, String)> = cols
        .iter()
        .map(|c| {
            (
                c.to_string(),
                ctx.service_ids.get(c).cloned().unwrap_or_default(),
            )
        })
        .collect();
    p.raw("<div class=\"grid\">");
    for (id, title, m, hue) in [
        (
            "chart-serves",
            "Hosts serving services (evidence or port only)",
            serve,
            205,
        ),
        ("chart-uses", "Hosts using services", uses, 25),
    ] {
        let _ = write!(p.out, r#"<div><h3 id="{id}">{}</h3>"#, html_text(title));
        let mut rows: Vec<(Addr, Vec<u64>)> = m.into_iter().collect();
        rows.sort_by(|a, b| {
            b.1.iter()
                .sum::<u64>()
                .cmp(&a.1.iter().sum::<u64>())
                .then_with(|| a.0.cmp(&b.0))
        });
        let shown = rows.len().min(MAX_HEAT_ROWS);
        if rows.is_empty() || cols.is_empty() {
            p.raw("<p>None seen.</p></div>");
            continue;
        }
        let labels: Vec<(String, String)> = rows[..shown]
            .iter()
            .map(|(a, _)| {
                (
                    ctx.addr_text(*a),
                    if ctx.sections.contains(a) {
                        host_id(*a)
                    } else {
                        String::new()
                    },
                )
            })
            .collect();
        let cells: Vec<Vec<u64>> = rows[..shown].iter().map(|(_, v)| v.clone()).collect();
        p.raw(&svg::heatmap(title, &labels, &col_refs, &cells, hue));
        if rows.len() > shown {
            let _ = write!(
                p.out,
                "<p class=\"summary\">{} more hosts not drawn.</p>",
                count((rows.len() - shown) as u64)
            );
        }
        p.raw("</div>");
    }
    p.raw("</div>");

    // Distributions per application protocol, most bytes first.
    let ranges = |f: fn(&super::Traffic) -> &Option<Percentiles>| -> Vec<Range> {
        r.app_protocols
            .iter()
            .filter_map(|a| {
                let q = f(&a.traffic).as_ref()?;
                let port = match (a.port, a.ip_protocol) {
                    (Some(p), _) => format!("{}/{p}", a.transport),
                    (None, Some(n)) => format!("ip/{n}"),
                    (None, None) => format!("{}/dynamic", a.transport),
                };
                Some(Range {
                    label: format!("{} {port}", a.app_protocol),
                    min: q.min,
                    p50: q.p50,
                    p90: q.p90,
                    p99: q.p99,
                    max: q.max,
                })
            })
            .take(MAX_RANGES)
            .collect()
    };
    p.raw("<div><h3 id=\"chart-sizes\">Packet size per protocol</h3>");
    let sizes = ranges(|t| &t.packet_size);
    if sizes.is_empty() {
        p.raw("<p>None.</p>");
    } else {
        p.raw(&svg::ranges(
            "Packet size per protocol (log scale)",
            &sizes,
            |v| format!("{v} B"),
        ));
    }
    p.raw("</div><div><h3 id=\"chart-durations\">Flow duration per protocol</h3>");
    let durations = ranges(|t| &t.flow_duration_ms);
    if durations.is_empty() {
        p.raw("<p>None.</p>");
    } else {
        p.raw(&svg::ranges(
            "Flow duration per protocol (log scale)",
            &durations,
            duration_ms,
        ));
    }
    p.raw("</div><p class=\"summary\">Ranges: a line from the least to the greatest value, a box from the median (p50) to p90, a red tick at p99.</p></section>");
}

fn services_section(p: &mut Page, ctx: &Ctx<'_>, r: &Report, hosts: &HostsReport) {
    p.raw(r#"<section id="services"><h2>Services</h2><p class="summary">From evidence seen in the payload, else by a port only they use. Each links to the servers seen serving it.</p>"#);
    // Servers per service: from evidence, or a port only it uses.
    let mut servers: BTreeMap<&str, BTreeSet<Addr>> = BTreeMap::new();
    for h in &hosts.hosts {
        for s in &h.services_served {
            servers
                .entry(s.service.as_str())
                .or_default()
                .insert(h.addr);
        }
        for s in &h.serves {
            if s.services.len() == 1 && s.flows > s.evidence_flows {
                servers
                    .entry(s.services[0].as_str())
                    .or_default()
                    .insert(h.addr);
            }
        }
    }
    let rows = r
        .services
        .iter()
        .map(|s| {
            let basis = if s.evidence_flows > 0 {
                "evidence"
            } else {
                "port"
            };
            let list = servers.get(s.service.as_str());
            let links: Vec<String> = list
                .into_iter()
                .flatten()
                .take(12)
                .map(|a| ctx.addr_link(*a))
                .collect();
            let more = list.map_or(0, |l| l.len().saturating_sub(12));
            let mut served = links.join(", ");
            if more > 0 {
                let _ = write!(served, ", {more} more");
            }
            let evidence: Vec<String> = s.evidence.iter().map(|e| e.short()).collect();
            (
                vec![
                    Cell::Text(s.service.clone()),
                    Cell::Text(s.system_service.clone().unwrap_or_else(|| "-".into())),
                    Cell::Html(
                        if s.evidence_flows > 0 && s.evidence_flows < s.traffic.flows {
                            format!(
                                "{} {}/{}",
                                badge(basis),
                                count(s.evidence_flows),
                                count(s.traffic.flows)
                            )
                        } else {
                            badge(basis)
                        },
                    ),
                    Cell::Text(if evidence.is_empty() {
                        "-".into()
                    } else {
                        evidence.join("; ")
                    }),
                    num(s.traffic.flows),
                    size(s.traffic.bytes_c2s),
                    size(s.traffic.bytes_s2c),
                    num(s.traffic.clients as u64),
                    Cell::Html(if served.is_empty() {
                        "-".into()
                    } else {
                        served
                    }),
                    Cell::Text(s.app_protocols.join(", ")),
                ],
                RowAttrs {
                    id: ctx
                        .service_ids
                        .get(s.service.as_str())
                        .cloned()
                        .unwrap_or_default(),
                    class: basis,
                    filter: true,
                    service: Some(s.service.clone()),
                    host: Some(
                        list.into_iter()
                            .flatten()
                            .map(|a| ctx.addr_text(*a))
                            .collect::<Vec<_>>()
                            .join(" "),
                    ),
                    protocol: Some(s.app_protocols.join(", ")),
                },
            )
        })
        .collect();
    if r.services.is_empty() {
        p.raw("<p>No traffic credited to a catalog service.</p>");
    } else {
        p.raw(&table_html(
            "services-table",
            &[
                "SERVICE",
                "SYSTEM",
                "BASIS",
                "EVIDENCE",
                ">FLOWS",
                ">BYTES C→S",
                ">BYTES S→C",
                ">CLIENTS",
                "SERVERS",
                "VIA",
            ],
            rows,
            None,
        ));
    }
    p.raw("</section>");
}

fn port_of(transport: impl std::fmt::Display, port: Option<u16>, ip: Option<u8>) -> String {
    match (port, ip) {
        (Some(p), _) => format!("{transport}/{p}"),
        (None, Some(n)) => format!("ip/{n}"),
        (None, None) => format!("{transport}/dynamic"),
    }
}

fn undetermined_section(p: &mut Page, r: &Report) {
    p.raw(r#"<section id="undetermined"><h2>Not determined</h2><p class="summary">Ports several services share where no evidence said which was used; this traffic is counted under no service.</p>"#);
    if r.undetermined.is_empty() {
        p.raw("<p>None: every flow on a shared port was determined.</p></section>");
        return;
    }
    let rows = r
        .undetermined
        .iter()
        .map(|u| {
            let port = port_of(&u.transport, u.port, u.ip_protocol);
            (
                vec![
                    Cell::Text(u.app_protocol.clone()),
                    Cell::Text(port.clone()),
                    num(u.traffic.flows),
                    size(u.traffic.bytes()),
                    num(u.traffic.clients as u64),
                    num(u.traffic.servers as u64),
                    Cell::Text(u.services.join(", ")),
                ],
                RowAttrs {
                    class: "undetermined",
                    filter: true,
                    service: Some(u.services.join(", ")),
                    protocol: Some(format!("{} {port}", u.app_protocol)),
                    ..RowAttrs::default()
                },
            )
        })
        .collect();
    p.raw(&table_html(
        "undetermined-table",
        &[
            "PROTOCOL",
            "PORT",
            ">FLOWS",
            ">BYTES",
            ">CLIENTS",
            ">SERVERS",
            "CANDIDATES",
        ],
        rows,
        None,
    ));
    p.raw("</section>");
}

fn pcts(q: &Option<Percentiles>, f: fn(u64) -> String) -> Cell {
    match q {
        Some(q) => Cell::Num(format!("{} / {} / {}", f(q.p50), f(q.p99), f(q.max)), q.p50),
        None => Cell::Num("-".into(), 0),
    }
}

fn protocols_section(p: &mut Page, r: &Report) {
    p.raw(r#"<section id="protocols"><h2>Application protocols</h2><p class="summary">Each flow once, most bytes first.</p>"#);
    let rows = r
        .app_protocols
        .iter()
        .map(|a| {
            let port = port_of(&a.transport, a.port, a.ip_protocol);
            (
                vec![
                    Cell::Text(a.app_protocol.clone()),
                    Cell::Text(port.clone()),
                    num(a.traffic.flows),
                    num(a.traffic.packets()),
                    size(a.traffic.bytes()),
                    num(a.traffic.clients as u64),
                    num(a.traffic.servers as u64),
                    pcts(&a.traffic.packet_size, |v| format!("{v} B")),
                    pcts(&a.traffic.flow_duration_ms, duration_ms),
                    Cell::Text(a.services.join(", ")),
                ],
                RowAttrs {
                    filter: true,
                    service: Some(a.services.join(", ")),
                    protocol: Some(format!("{} {port}", a.app_protocol)),
                    ..RowAttrs::default()
                },
            )
        })
        .collect();
    p.raw(&table_html(
        "protocols-table",
        &[
            "PROTOCOL",
            "PORT",
            ">FLOWS",
            ">PACKETS",
            ">BYTES",
            ">CLIENTS",
            ">SERVERS",
            ">PKT SIZE p50/p99/max",
            ">DURATION p50/p99/max",
            "SERVICES",
        ],
        rows,
        None,
    ));
    let u = &r.unclassified;
    let _ = write!(
        p.out,
        "<h3>Unclassified traffic</h3><p>{} flows, {} packets, {}.</p>",
        count(u.traffic.flows),
        count(u.traffic.packets()),
        bytes(u.traffic.bytes())
    );
    if !u.top_ports.is_empty() {
        let rows = u
            .top_ports
            .iter()
            .map(|t| {
                let port = match t.port {
                    Some(p) => format!("{}/{p}", t.transport),
                    None => t.transport.clone(),
                };
                (
                    vec![
                        Cell::Text(port.clone()),
                        num(t.flows),
                        num(t.packets),
                        size(t.bytes),
                    ],
                    RowAttrs {
                        filter: true,
                        protocol: Some(port),
                        ..RowAttrs::default()
                    },
                )
            })
            .collect();
        p.raw(&table_html(
            "unclassified-table",
            &["SERVER PORT", ">FLOWS", ">PACKETS", ">BYTES"],
            rows,
            None,
        ));
    }
    let un = &r.unanswered;
    if un.flows > 0 {
        let list: Vec<String> = un
            .by_app_protocol
            .iter()
            .take(8)
            .map(|c| format!("{} {}", c.name, count(c.count)))
            .collect();
        let _ = write!(
            p.out,
            "<h3>Unanswered connection attempts</h3><p>{} from {} clients to {} servers (not service traffic): {}.</p>",
            count(un.flows),
            un.clients,
            un.servers,
            html_text(&list.join(", "))
        );
    }
    p.raw("</section>");
}

/// Authentication the host's evidence shows: Kerberos tickets for its names, SMB and LDAP binds.
fn auth_seen(h: &HostRow) -> Vec<String> {
    let mut out: BTreeSet<String> = BTreeSet::new();
    for s in &h.services_served {
        for e in &s.evidence {
            let v = e.value.as_deref().unwrap_or("");
            match e.kind {
                "kerberos-spn" => {
                    out.insert(format!("Kerberos (service ticket for {v})"));
                }
                "kerberos" | "kerberos-etype" | "kerberos-client" => {
                    out.insert(format!("Kerberos {v}").trim_end().to_string());
                }
                "smb-auth" => {
                    out.insert(format!("SMB session setup {v}").trim_end().to_string());
                }
                "ldap-bind" => {
                    out.insert(format!("LDAP bind {v}").trim_end().to_string());
                }
                "ldap" if v == "bindRequest" => {
                    out.insert("LDAP bind".to_string());
                }
                _ => {}
            }
        }
    }
    out.into_iter().collect()
}

fn hosts_section(
    p: &mut Page,
    ctx: &Ctx<'_>,
    catalog: &Catalog,
    hosts: &HostsReport,
    ranked: &[&HostRow],
) {
    p.raw(r#"<section id="hosts"><h2>Hosts</h2>"#);
    if hosts.hosts.is_empty() {
        p.raw("<p>No hosts.</p></section>");
        return;
    }
    let mut rows = Vec::new();
    let mut rest = (0usize, 0u64, 0u64);
    for (i, h) in ranked.iter().enumerate() {
        let served: u64 = h.serves.iter().map(|s| s.bytes_c2s + s.bytes_s2c).sum();
        let used: u64 = h.uses.iter().map(|s| s.bytes_c2s + s.bytes_s2c).sum();
        if i >= MAX_ROWS {
            rest = (rest.0 + 1, rest.1 + served, rest.2 + used);
            continue;
        }
        let roles: Vec<&str> = h.roles.iter().flatten().map(|r| r.role.as_str()).collect();
        let services: Vec<&str> = h
            .services_served
            .iter()
            .map(|s| s.service.as_str())
            .collect();
        rows.push((
            vec![
                Cell::Html(ctx.addr_link(h.addr)),
                Cell::Text(if roles.is_empty() {
                    "-".into()
                } else {
                    roles.join(", ")
                }),
                Cell::Text(if services.is_empty() {
                    "-".into()
                } else {
                    services.join(", ")
                }),
                num(h.serves.len() as u64),
                size(served),
                num(h.uses.len() as u64),
                size(used),
            ],
            RowAttrs {
                filter: true,
                host: Some(ctx.addr_text(h.addr)),
                service: Some(services.join(", ")),
                ..RowAttrs::default()
            },
        ));
    }
    let sum = (rest.0 > 0).then(|| {
        vec![
            Cell::Text(format!("{} more hosts", count(rest.0 as u64))),
            Cell::Text(String::new()),
            Cell::Text(String::new()),
            Cell::Text(String::new()),
            size(rest.1),
            Cell::Text(String::new()),
            size(rest.2),
        ]
    });
    p.raw(&table_html(
        "hosts-table",
        &[
            "HOST",
            "ROLE",
            "SERVES (EVIDENCE)",
            ">PROTOCOLS SERVED",
            ">BYTES SERVED",
            ">SERVICES USED",
            ">BYTES USED",
        ],
        rows,
        sum,
    ));
    if ranked.len() > MAX_HOST_SECTIONS {
        let _ = write!(
            p.out,
            "<p class=\"summary\">Sections below for the {MAX_HOST_SECTIONS} hosts with most traffic; <code>svcscope hosts --host ADDR</code> shows any other.</p>"
        );
    }
    for h in ranked.iter().take(MAX_HOST_SECTIONS) {
        host_section(p, ctx, catalog, hosts, h);
    }
    if hosts.flows_not_shown > 0 {
        let _ = write!(
            p.out,
            "<p>{} flows not shown: the host tables were full.</p>",
            count(hosts.flows_not_shown)
        );
    }
    p.raw("</section>");
}

fn host_section(p: &mut Page, ctx: &Ctx<'_>, catalog: &Catalog, hosts: &HostsReport, h: &HostRow) {
    // The host filter hides the sections of other hosts too.
    let _ = write!(
        p.out,
        r#"<section class="host" id="{}" data-f="1" data-host="{}"><h3>{}</h3>"#,
        host_id(h.addr),
        html_attr(&ctx.addr_text(h.addr)),
        html_text(&ctx.addr_text(h.addr))
    );
    match &h.roles {
        Some(roles) if !roles.is_empty() => {
            p.raw("<ul class=\"roles\">");
            for r in roles {
                p.raw("<li><b>");
                p.text(&r.role);
                p.raw("</b> — ");
                p.text(&r.evidence.join("; "));
                if !r.missing.is_empty() {
                    p.raw(" <i>(not seen: ");
                    p.text(&r.missing.join(", "));
                    p.raw(")</i>");
                }
                p.raw("</li>");
            }
            p.raw("</ul>");
        }
        Some(_) if !h.serves.is_empty() => p.raw("<p>Role: none recognised.</p>"),
        _ => {}
    }
    let auth = auth_seen(h);
    if !auth.is_empty() {
        p.raw("<p><b>Authentication seen:</b> ");
        p.text(&auth.join("; "));
        p.raw("</p>");
    }
    if !h.services_served.is_empty() {
        let rows = h
            .services_served
            .iter()
            .map(|s| {
                let ev: Vec<String> = s
                    .evidence
                    .iter()
                    .map(|e| format!("{} ({} flows)", e.short(), count(e.flows)))
                    .collect();
                (
                    vec![
                        Cell::Html(ctx.service_link(&s.service)),
                        Cell::Text(ev.join("; ")),
                        Cell::Text(s.app_protocols.join(", ")),
                        num(s.clients as u64),
                        num(s.flows),
                        size(s.bytes_c2s + s.bytes_s2c),
                    ],
                    RowAttrs {
                        class: "evidence",
                        filter: true,
                        service: Some(s.service.clone()),
                        host: Some(ctx.addr_text(h.addr)),
                        protocol: Some(s.app_protocols.join(", ")),
                        ..RowAttrs::default()
                    },
                )
            })
            .collect();
        p.raw("<h4>Services the payload showed it serving</h4>");
        p.raw(&table_html(
            &format!("{}-services", host_id(h.addr)),
            &["SERVICE", "EVIDENCE", "VIA", ">CLIENTS", ">FLOWS", ">BYTES"],
            rows,
            None,
        ));
    }
    if !h.serves.is_empty() {
        let mut rest = (0usize, 0u64, 0u64);
        let mut rows = Vec::new();
        for (i, s) in h.serves.iter().enumerate() {
            let b = s.bytes_c2s + s.bytes_s2c;
            if i >= MAX_ROWS {
                rest = (rest.0 + 1, rest.1 + s.flows, rest.2 + b);
                continue;
            }
            let app = s
                .app_protocol
                .clone()
                .unwrap_or_else(|| "(unclassified)".into());
            let port = match (s.port, s.ports.len()) {
                (Some(p), _) => format!("{}/{p}", s.transport),
                (None, 0) => s.transport.clone(),
                (None, 1) => format!("{}/{}", s.transport, s.ports[0]),
                (None, n) => format!("{}/{n} ports", s.transport),
            };
            let basis = if s.evidence_flows == s.flows && s.flows > 0 {
                "evidence"
            } else if s.undetermined_flows > 0 {
                "undetermined"
            } else if s.services.len() == 1 {
                "port"
            } else {
                ""
            };
            rows.push((
                vec![
                    Cell::Text(app.clone()),
                    Cell::Text(port.clone()),
                    num(s.clients as u64),
                    num(s.flows),
                    num(s.evidence_flows),
                    size(s.bytes_c2s),
                    size(s.bytes_s2c),
                    Cell::Text(
                        short_time(&s.first_seen)
                            .trim_end_matches(" UTC")
                            .to_string(),
                    ),
                    Cell::Text(
                        short_time(&s.last_seen)
                            .trim_end_matches(" UTC")
                            .to_string(),
                    ),
                    Cell::Text(s.services.join(", ")),
                ],
                RowAttrs {
                    class: basis,
                    filter: true,
                    service: Some(s.services.join(", ")),
                    host: Some(ctx.addr_text(h.addr)),
                    protocol: Some(format!("{app} {port}")),
                    ..RowAttrs::default()
                },
            ));
        }
        let sum = (rest.0 > 0).then(|| {
            vec![
                Cell::Text(format!("{} more", count(rest.0 as u64))),
                Cell::Text(String::new()),
                Cell::Text(String::new()),
                num(rest.1),
                Cell::Text(String::new()),
                Cell::Text(String::new()),
                size(rest.2),
                Cell::Text(String::new()),
                Cell::Text(String::new()),
                Cell::Text(String::new()),
            ]
        });
        p.raw("<h4>Flows it served, per protocol and port</h4>");
        p.raw(&table_html(
            &format!("{}-serves", host_id(h.addr)),
            &[
                "PROTOCOL",
                "PORT",
                ">CLIENTS",
                ">FLOWS",
                ">FROM EVIDENCE",
                ">BYTES C→S",
                ">BYTES S→C",
                "FIRST SEEN (UTC)",
                "LAST SEEN (UTC)",
                "CANDIDATE SERVICES",
            ],
            rows,
            sum,
        ));
    }
    if !h.uses.is_empty() {
        let mut rest = (0usize, 0u64, 0u64);
        let mut rows = Vec::new();
        for (i, u) in h.uses.iter().enumerate() {
            let b = u.bytes_c2s + u.bytes_s2c;
            if i >= MAX_ROWS {
                rest = (rest.0 + 1, rest.1 + u.flows, rest.2 + b);
                continue;
            }
            let app = u
                .app_protocol
                .clone()
                .unwrap_or_else(|| "(unclassified)".into());
            let port = match u.port {
                Some(p) => format!("{}/{p}", u.transport),
                None => u.transport.clone(),
            };
            rows.push((
                vec![
                    Cell::Text(app.clone()),
                    Cell::Html(ctx.addr_link(u.server)),
                    Cell::Text(port.clone()),
                    num(u.flows),
                    size(b),
                    Cell::Text(u.services.join(", ")),
                ],
                RowAttrs {
                    filter: true,
                    service: Some(u.services.join(", ")),
                    host: Some(format!(
                        "{} {}",
                        ctx.addr_text(h.addr),
                        ctx.addr_text(u.server)
                    )),
                    protocol: Some(format!("{app} {port}")),
                    ..RowAttrs::default()
                },
            ));
        }
        let sum = (rest.0 > 0).then(|| {
            vec![
                Cell::Text(format!("{} more", count(rest.0 as u64))),
                Cell::Text(String::new()),
                Cell::Text(String::new()),
                num(rest.1),
                size(rest.2),
                Cell::Text(String::new()),
            ]
        });
        p.raw("<h4>Services it used</h4>");
        p.raw(&table_html(
            &format!("{}-uses", host_id(h.addr)),
            &["PROTOCOL", "SERVER", "PORT", ">FLOWS", ">BYTES", "SERVICES"],
            rows,
            sum,
        ));
    }
    if let Some(draft) = super::rules::render(
        catalog,
        h,
        &hosts.inputs,
        RuleFormat::Powershell,
        super::rules::Options {
            remote_from_observed: false,
            keep_mismatches: false,
        },
    ) {
        p.raw("<details><summary>Firewall draft (PowerShell; review before use — <code>svcscope rules</code> writes netsh and nftables too)</summary><pre>");
        if draft.len() > MAX_DRAFT {
            let mut end = MAX_DRAFT;
            while !draft.is_char_boundary(end) {
                end -= 1;
            }
            p.text(&draft[..end]);
            let _ = write!(
                p.out,
                "\n# … cut here ({} of {}): svcscope rules --host {} prints it whole",
                bytes(MAX_DRAFT as u64),
                bytes(draft.len() as u64),
                h.addr
            );
        } else {
            p.text(&draft);
        }
        p.raw("</pre></details>");
    }
    p.raw("</section>");
}

fn health_section(p: &mut Page, r: &Report) {
    let h = &r.health;
    p.raw(r#"<section id="health"><h2>Capture health</h2><ul>"#);
    let _ = write!(
        p.out,
        "<li>{} packets read ({}), {} filtered out; decoded {} IP packets, {} not IP, {} malformed, {} cut by snaplen.</li>",
        count(h.packets_read),
        bytes(h.bytes_read),
        count(h.packets_filtered),
        count(h.packets_decoded),
        count(h.packets_not_ip),
        count(h.packets_malformed),
        count(h.packets_truncated)
    );
    for m in &h.malformed {
        p.raw("<li>malformed ");
        p.text(&format!("{}: {} ({})", m.layer, m.reason, count(m.packets)));
        p.raw("</li>");
    }
    let _ = write!(
        p.out,
        "<li>IP fragments: {} attributed, {} without a first fragment, {} forgotten (table full).</li><li>Flows: {} created, {} evicted early (table full), peak {} concurrent.</li>",
        count(h.fragments_attributed),
        count(h.fragments_unmatched),
        count(h.fragments_evicted),
        count(h.flows_created),
        count(h.flows_evicted),
        count(h.peak_flows)
    );
    let inspected = h.inspection.get("flows_inspected");
    if inspected > 0 {
        let found: Vec<String> = h
            .inspection
            .iter()
            .filter(|(c, v)| *v > 0 && c.key != "flows_inspected")
            .map(|(c, v)| format!("{} {}", count(v), c.text))
            .collect();
        p.raw("<li>");
        p.text(&format!(
            "Inspected {} flows: {}.",
            count(inspected),
            if found.is_empty() {
                "nothing found".to_string()
            } else {
                found.join(", ")
            }
        ));
        p.raw("</li>");
    }
    if let Some(l) = &h.live {
        p.raw("<li>");
        p.text(&format!(
            "Live {}: {} received, {} dropped by the kernel, {} by the interface, {} by svcscope{}.",
            l.interface,
            count(l.received),
            count(l.dropped_by_kernel),
            count(l.dropped_by_interface),
            count(l.dropped_by_svcscope),
            if l.packets_dropped > 0 { " — the report is incomplete" } else { "" }
        ));
        p.raw("</li>");
        if let Some(f) = &l.savefile {
            p.raw("<li>");
            p.text(&format!(
                "Saved {} packets in {}{}",
                count(f.packets_saved),
                f.files.join(", "),
                match &f.error {
                    Some(e) => format!(" — {} NOT SAVED: {e}", count(f.packets_not_saved)),
                    None => String::new(),
                }
            ));
            p.raw("</li>");
        }
    }
    p.raw("</ul></section><section id=\"inputs\"><h2>Inputs</h2>");
    let rows = r
        .inputs
        .iter()
        .map(|i| {
            (
                vec![
                    Cell::Text(i.path.clone()),
                    Cell::Text(if i.link_types.is_empty() {
                        "-".into()
                    } else {
                        i.link_types.join(", ")
                    }),
                    num(i.packets),
                    num(i.filtered),
                    Cell::Text(match &i.error {
                        Some(e) => format!("ERROR: {e}"),
                        None => "ok".into(),
                    }),
                ],
                RowAttrs::default(),
            )
        })
        .collect();
    p.raw(&table_html(
        "inputs-table",
        &["FILE", "LINK TYPES", ">PACKETS", ">FILTERED OUT", "STATUS"],
        rows,
        None,
    ));
    p.raw("</section>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::hosts::{ServeRow, ServiceServeRow};
    use crate::report::EvidenceRow;

    fn addr(text: &str) -> Addr {
        Addr::from(text.parse::<std::net::IpAddr>().unwrap())
    }

    fn serve(port: u16, bytes: u64) -> ServeRow {
        ServeRow {
            app_protocol: Some(format!("App {port}")),
            transport: "tcp".into(),
            port: Some(port),
            ports: vec![port],
            ip_protocol: 6,
            services: vec!["Only Service".into()],
            clients: 1,
            client_addrs: vec![addr("192.0.2.99")],
            clients_capped: false,
            flows: 1,
            packets_c2s: 1,
            packets_s2c: 1,
            bytes_c2s: bytes,
            bytes_s2c: 0,
            first_seen: None,
            last_seen: None,
            evidence_flows: 0,
            undetermined_flows: 0,
            verified_flows: 0,
            port_only_flows: 1,
            mismatch_flows: 0,
            mismatch_payloads: Vec::new(),
            tls_names: Vec::new(),
            offer: None,
        }
    }

    fn spn_service(value: &str) -> ServiceServeRow {
        ServiceServeRow {
            service: "Server".into(),
            system_service: None,
            app_protocols: vec!["SMB tcp/445".into()],
            ports: vec![445],
            evidence: vec![EvidenceRow {
                kind: "kerberos-spn",
                value: Some(value.into()),
                name: None,
                flows: 1,
            }],
            evidence_other_flows: 0,
            clients: 1,
            client_addrs: Vec::new(),
            clients_capped: false,
            flows: 1,
            packets_c2s: 1,
            packets_s2c: 1,
            bytes_c2s: 1,
            bytes_s2c: 1,
            first_seen: None,
            last_seen: None,
            labels: Vec::new(),
        }
    }

    fn hosts_report(hosts: Vec<HostRow>) -> HostsReport {
        HostsReport {
            schema_version: 2,
            generator: "svcscope test".into(),
            sensor: "test".into(),
            inputs: Vec::new(),
            hosts,
            flows_not_shown: 0,
            evidence_flows_not_shown: 0,
            hosts_not_shown: 0,
        }
    }

    #[test]
    fn host_ids_are_plain_for_every_address() {
        assert_eq!(host_id(addr("192.0.2.10")), "host-192-0-2-10");
        assert_eq!(host_id(addr("2001:db8::1")), "host-2001-db8--1");
    }

    #[test]
    fn names_come_from_the_service_principals_a_server_was_asked_for() {
        let mut h = HostRow::new(addr("192.0.2.10"));
        h.services_served = vec![
            spn_service("cifs/DC01.corp.example"),
            spn_service("ldap/dc01.corp.example/corp.example"),
            spn_service("HOST/dc01.corp.example:1433"),
        ];
        // A realm is not a host's name; nor is a principal with no host part.
        let mut other = HostRow::new(addr("192.0.2.20"));
        other.services_served = vec![
            spn_service("krbtgt/CORP.EXAMPLE@CORP.EXAMPLE"),
            spn_service("administrator"),
        ];
        let names = host_names(&hosts_report(vec![h, other]));
        assert_eq!(names[&addr("192.0.2.10")], "dc01.corp.example");
        assert_eq!(names.len(), 1, "{names:?}");
    }

    /// Regression guard for page weight: a host serving thousands of ports gets the first
    /// MAX_ROWS rows and one row summing the rest, in its table and in the answer.
    #[test]
    fn long_tables_are_cut_with_the_rest_summed() {
        let catalog = Catalog::builtin();
        let report = Report::build(
            &catalog,
            &crate::aggregate::Aggregate::default(),
            Vec::new(),
            10,
        );
        let mut h = HostRow::new(addr("192.0.2.10"));
        h.serves = (0..(MAX_ROWS as u16 + 50))
            .map(|p| serve(1000 + p, 10))
            .collect();
        let page = render(&catalog, &report, &hosts_report(vec![h]));
        let table = |id: &str| {
            let at = page
                .find(&format!("<table class=\"sortable\" id=\"{id}\""))
                .unwrap();
            let t = &page[at..];
            t[..t.find("</table>").unwrap()].to_string()
        };
        let serves = table("host-192-0-2-10-serves");
        assert_eq!(serves.matches("<tr").count(), 1 + MAX_ROWS + 1);
        assert!(
            serves.contains("<tr class=\"sum\"><td>50 more</td>"),
            "{serves}"
        );
        // The 50 left out, 10 bytes each.
        assert!(serves.contains("data-v=\"500\">500 B</td>"), "{serves}");
        let answer = table("answer-table");
        assert_eq!(answer.matches("<tr").count(), 1 + MAX_ROWS + 1);
        assert!(answer.contains("50 more rows"), "{answer}");
        assert!(page.len() < 1 << 20, "{}", page.len());
    }

    /// Pipe and share names come from packets: on the page they are text wherever they show (the
    /// answer, the services table, the host's evidence, its role), never markup.
    #[test]
    fn wire_names_are_text_on_the_page() {
        use crate::aggregate::{test_flow, Aggregate};
        use crate::catalog::{Transport, Uuid};
        use crate::inspect::{Evidence, EvidenceKind, Slot, Value};
        let catalog = Catalog::builtin();
        let smb = catalog.lookup_port(Transport::Tcp, 445);
        let spoolss = Uuid::parse("12345678-1234-abcd-ef00-0123456789ab").unwrap();
        let label = catalog.interface_label(spoolss, false);
        let mut agg = Aggregate::default();
        let hostile = "</style><script>alert(1)</script>\"'<img src=x onerror=alert(2)>";
        for (client, kind) in [(101, EvidenceKind::SmbPipe), (102, EvidenceKind::SmbShare)] {
            let mut f = test_flow(smb, client, [100, 200], true);
            let e = Evidence::labelled(kind, Value::Text(hostile.into()), label);
            f.slot = Some(Box::new(Slot::with(e, None)));
            agg.end_flow(&f, &catalog);
        }
        let report = Report::build(&catalog, &agg, Vec::new(), 10);
        let hosts = HostsReport::build(&catalog, &agg, Vec::new(), &[], true);
        let page = render(&catalog, &report, &hosts);
        assert_eq!(
            page.matches("<script").count(),
            1,
            "only the page's own script"
        );
        assert_eq!(page.matches("</style").count(), 1);
        assert!(!page.contains("<img"));
        let text = "&lt;/style&gt;&lt;script&gt;alert(1)&lt;/script&gt;\"'&lt;img src=x onerror=alert(2)&gt;";
        assert!(
            page.matches(text).count() >= 3,
            "the name as text in several places"
        );
    }
}
