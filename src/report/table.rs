//! Terminal rendering: aligned tables, services (evidence-backed first, then by port) and the shared
//! ports whose service was not determined, then application protocols, unclassified traffic,
//! unanswered attempts and capture health.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::escape::terminal;
use super::{Percentiles, Report, Traffic};

/// The width tables are fitted to, in columns; 0 is no limit (the default: a pipe, `--wide`).
static WIDTH: AtomicUsize = AtomicUsize::new(0);

/// Narrowest width tables are fitted to: below it they keep their natural width.
pub const MIN_WIDTH: usize = 40;

/// Sets the width every table of this process is fitted to (`None`: no limit).
pub fn set_width(width: Option<usize>) {
    WIDTH.store(
        width.filter(|&w| w >= MIN_WIDTH).unwrap_or(0),
        Ordering::Relaxed,
    );
}

/// The width tables are fitted to, if any.
pub fn width() -> Option<usize> {
    Some(WIDTH.load(Ordering::Relaxed)).filter(|&w| w > 0)
}

/// The terminal width for tables: `COLUMNS` when set to a number, else the width of standard
/// output when it is a terminal, else none (a file or a pipe gets whole lines).
pub fn detect_width() -> Option<usize> {
    if let Some(c) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
    {
        return Some(c);
    }
    terminal_size::terminal_size_of(std::io::stdout())
        .map(|(terminal_size::Width(w), _)| usize::from(w))
}

/// Text as lines of at most `width` columns (when a width is set), broken at spaces; continuation
/// lines start with `indent`.
pub fn fill(text: &str, indent: &str) -> String {
    fill_to(text, indent, width())
}

/// [`fill`] to a given width.
pub fn fill_to(text: &str, indent: &str, width: Option<usize>) -> String {
    let Some(width) = width else {
        return text.to_string();
    };
    let body = text.trim_start_matches(' ');
    let lead = &text[..text.len() - body.len()];
    let mut out = String::new();
    let mut line = lead.to_string();
    for word in body.split(' ') {
        let len = line.chars().count();
        if len > lead.len() && len + 1 + word.chars().count() > width {
            out.push_str(line.trim_end());
            out.push('\n');
            line = format!("{indent}{word}");
        } else {
            if len > lead.len() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    out.push_str(&line);
    out
}

/// A table of left- or right-aligned columns. Cells are for a terminal: their control characters are
/// shown escaped ([`terminal`]), so a name from a catalog or the system cannot send escape sequences
/// or break the line.
///
/// With a width set ([`set_width`]) a table that would be wider is fitted: its text columns are
/// narrowed (the widest first, never below their header or 8 columns) and cut with `…`; if that is
/// not enough, its optional columns are left out, the last first. Numbers are never cut.
pub struct Table {
    headers: Vec<&'static str>,
    right: Vec<bool>,
    /// 0: always shown; else left out to fit, rank 1 first.
    drop_rank: Vec<u8>,
    /// Never cut (numbers, and columns marked `!` such as UUIDs).
    whole: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// Columns whose header starts with '>' are right-aligned (the '>' is not printed); `!` marks a
    /// left-aligned column that is never cut (a UUID); `?` and a digit before either
    /// (`?2>PACKETS`, `?1VIA`) make the column optional: left out when the table does not fit the
    /// width, rank 1 first.
    pub fn new(headers: &[&'static str]) -> Table {
        let mut drop_rank = Vec::with_capacity(headers.len());
        let headers: Vec<&'static str> = headers
            .iter()
            .map(|h| {
                let mut b = h.bytes();
                match (b.next(), b.next()) {
                    (Some(b'?'), Some(d @ b'1'..=b'9')) => {
                        drop_rank.push(d - b'0');
                        &h[2..]
                    }
                    _ => {
                        drop_rank.push(0);
                        h
                    }
                }
            })
            .collect();
        Table {
            headers: headers
                .iter()
                .map(|h| h.trim_start_matches(['>', '!']))
                .collect(),
            right: headers.iter().map(|h| h.starts_with('>')).collect(),
            whole: headers.iter().map(|h| h.starts_with(['>', '!'])).collect(),
            drop_rank,
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(
            cells
                .into_iter()
                .map(|c| match terminal(&c) {
                    std::borrow::Cow::Borrowed(_) => c,
                    std::borrow::Cow::Owned(escaped) => escaped,
                })
                .collect(),
        );
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The columns shown and their widths, fitted to `width` (columns of the whole line): text
    /// columns narrowed to a comfortable width (16, or their header), optional columns left out
    /// (the lowest drop rank first, then the rightmost) while that does not fit, and only then text
    /// columns cut further (to 8 columns, or their header).
    fn layout(&self, indent: usize, width: Option<usize>) -> (Vec<usize>, Vec<usize>) {
        let n = self.headers.len();
        let mut natural: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate().take(n) {
                natural[i] = natural[i].max(c.chars().count());
            }
        }
        let mut shown: Vec<usize> = (0..n).collect();
        let Some(width) = width else {
            return (shown, natural);
        };
        let header = |i: usize| self.headers[i].chars().count();
        let fit = |shown: &[usize], floor: &dyn Fn(usize) -> usize| {
            let mut widths = natural.clone();
            let total = indent
                + shown.iter().map(|&i| widths[i]).sum::<usize>()
                + 2 * shown.len().saturating_sub(1);
            let mut excess = total.saturating_sub(width);
            while excess > 0 {
                // The widest text column that can still give a column.
                let Some(&i) = shown
                    .iter()
                    .filter(|&&i| !self.whole[i] && widths[i] > floor(i))
                    .max_by_key(|&&i| (widths[i], std::cmp::Reverse(i)))
                else {
                    break;
                };
                widths[i] -= 1;
                excess -= 1;
            }
            (excess == 0, widths)
        };
        let comfortable = |i: usize| natural[i].min(header(i).max(16));
        let tight = |i: usize| natural[i].min(header(i).max(8));
        loop {
            let (fits, widths) = fit(&shown, &comfortable);
            if fits {
                return (shown, widths);
            }
            let drop = shown
                .iter()
                .enumerate()
                .filter(|(_, &i)| self.drop_rank[i] > 0)
                .min_by_key(|(p, &i)| (self.drop_rank[i], std::cmp::Reverse(*p)))
                .map(|(p, _)| p);
            match drop {
                Some(p) => {
                    shown.remove(p);
                }
                None => return (shown.clone(), fit(&shown, &tight).1),
            }
        }
    }

    /// The table, fitted to the width set by [`set_width`].
    pub fn render(&self, indent: &str) -> String {
        self.render_to(indent, width())
    }

    /// The table fitted to `width` columns (`None`: its natural width).
    pub fn render_to(&self, indent: &str, width: Option<usize>) -> String {
        let (shown, widths) = self.layout(indent.chars().count(), width);
        let n = shown.len();
        let mut out = String::new();
        let line = |cells: &[&str], out: &mut String| {
            let mut s = String::from(indent);
            for (i, &col) in shown.iter().enumerate() {
                let c = cells.get(col).copied().unwrap_or("");
                let w = widths[col];
                let clipped;
                let c = if c.chars().count() > w {
                    clipped = clip(c, w);
                    clipped.as_str()
                } else {
                    c
                };
                let pad = w.saturating_sub(c.chars().count());
                if i > 0 {
                    s.push_str("  ");
                }
                if self.right[col] {
                    s.push_str(&" ".repeat(pad));
                    s.push_str(c);
                } else {
                    s.push_str(c);
                    if i + 1 < n {
                        s.push_str(&" ".repeat(pad));
                    }
                }
            }
            out.push_str(s.trim_end());
            out.push('\n');
        };
        line(&self.headers, &mut out);
        for r in &self.rows {
            let cells: Vec<&str> = r.iter().map(String::as_str).collect();
            line(&cells, &mut out);
        }
        out
    }
}

/// 1234567 → "1,234,567".
pub fn count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes in binary units: "812 B", "12.3 KiB", "4.5 MiB".
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if v < 10.0 {
        format!("{v:.1} {}", UNITS[u])
    } else {
        format!("{v:.0} {}", UNITS[u])
    }
}

/// Milliseconds as "850 ms", "12.5 s", "3m 20s", "2h 5m".
pub fn duration_ms(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else if ms < 3_600_000 {
        format!("{}m {}s", ms / 60_000, ms % 60_000 / 1000)
    } else {
        format!("{}h {}m", ms / 3_600_000, ms % 3_600_000 / 60_000)
    }
}

fn p50_p99_max(p: &Option<Percentiles>, f: fn(u64) -> String) -> String {
    match p {
        Some(p) => format!("{} / {} / {}", f(p.p50), f(p.p99), f(p.max)),
        None => "-".into(),
    }
}

fn short_time(rfc: &Option<String>) -> String {
    rfc.as_deref()
        .map(|t| t.get(..19).unwrap_or(t).replace('T', " "))
        .unwrap_or_else(|| "-".into())
}

/// Shortens text to `max` characters with an ellipsis, for table cells.
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

fn hosts(t: &Traffic, n: usize) -> String {
    if t.addresses_capped {
        format!("≥{n}")
    } else {
        n.to_string()
    }
}

/// The services section: evidence-backed services first (with the evidence), then those credited
/// by a port they alone own, each most bytes first.
fn services(r: &Report) -> String {
    let mut out = format!(
        "{}\n",
        fill(
            "Services (from evidence seen in the payload, else by a port only they use)",
            "  "
        )
    );
    let mut tab = Table::new(&[
        "SERVICE",
        "?4SYSTEM",
        ">FLOWS",
        "?3>PACKETS",
        ">BYTES C→S",
        ">BYTES S→C",
        ">CLIENTS",
        "?2>SERVERS",
        "BASIS",
        "?5EVIDENCE",
        "?1VIA",
    ]);
    for s in &r.services {
        let basis = if s.evidence_flows == 0 {
            "by port".to_string()
        } else if s.evidence_flows == s.traffic.flows {
            "evidence".to_string()
        } else {
            format!(
                "evidence {}/{}",
                count(s.evidence_flows),
                count(s.traffic.flows)
            )
        };
        let evidence: Vec<String> = s.evidence.iter().map(|e| e.short()).collect();
        let evidence = if evidence.is_empty() {
            "-".to_string()
        } else {
            clip(&evidence.join("; "), 48)
        };
        tab.row(vec![
            clip(&s.service, 40),
            s.system_service.clone().unwrap_or_else(|| "-".into()),
            count(s.traffic.flows),
            count(s.traffic.packets()),
            bytes(s.traffic.bytes_c2s),
            bytes(s.traffic.bytes_s2c),
            hosts(&s.traffic, s.traffic.clients),
            hosts(&s.traffic, s.traffic.servers),
            basis,
            evidence,
            clip(&s.app_protocols.join(", "), 56),
        ]);
    }
    if tab.is_empty() {
        out.push_str("  (no traffic credited to a catalog service)\n");
    } else {
        out.push_str(&tab.render("  "));
    }
    out
}

/// The shared ports whose service nothing determined, with their candidates.
fn undetermined(r: &Report) -> String {
    if r.undetermined.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "\n{}\n",
        fill(
            "Not determined (ports several services share, no evidence of which; counted under none)",
            "  "
        )
    );
    let mut tab = Table::new(&[
        "PROTOCOL",
        "PORT",
        ">FLOWS",
        "?2>PACKETS",
        ">BYTES",
        ">CLIENTS",
        "?1>SERVERS",
        "SERVICE",
    ]);
    for u in &r.undetermined {
        let port = match (u.port, u.ip_protocol) {
            (Some(p), _) => format!("{}/{p}", u.transport),
            (None, Some(_)) => u.transport.clone(),
            (None, None) => format!("{}/dynamic", u.transport),
        };
        let candidates = format!(
            "service not determined ({} candidates: {})",
            u.services.len(),
            u.services.join(", ")
        );
        tab.row(vec![
            u.app_protocol.clone(),
            port,
            count(u.traffic.flows),
            count(u.traffic.packets()),
            bytes(u.traffic.bytes()),
            hosts(&u.traffic, u.traffic.clients),
            hosts(&u.traffic, u.traffic.servers),
            clip(&candidates, 96),
        ]);
    }
    out.push_str(&tab.render("  "));
    out
}

/// `writeln!` of a line wrapped to the table width ([`fill`]), continuation lines indented by 6.
macro_rules! wrapln {
    ($out:expr, $($arg:tt)*) => {
        writeln!($out, "{}", fill(&format!($($arg)*), "      "))
    };
}

fn plural(n: u64, word: &str) -> String {
    format!("{} {word}{}", count(n), if n == 1 { "" } else { "s" })
}

/// Rows of the authentication table shown (the JSON report has them all).
const AUTH_ROWS: usize = 20;

/// How clients authenticated: the mechanisms and ticket encryption types over all flows, the weak
/// ones by service and server, then the table per service and server.
fn authentication(r: &Report) -> String {
    let a = &r.authentication;
    let mut out = String::new();
    if a.mechanisms.is_empty() && a.kerberos_etypes.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "\n{}",
        fill(
            "Authentication (how clients proved who they are; weak: NTLMv1, passwords in clear, RC4 and DES)",
            "  "
        )
    );
    let list = |rows: &[super::authentication::FacetRow]| {
        rows.iter()
            .map(|m| {
                let weak = if m.weak { " (weak)" } else { "" };
                let name = m.name.trim_end_matches(" (weak)");
                format!(
                    "{name}{weak} {}, {}",
                    plural(m.flows, "flow"),
                    plural(m.clients as u64, "client")
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    if !a.mechanisms.is_empty() {
        let _ = wrapln!(out, "  mechanisms: {}", list(&a.mechanisms));
    }
    if !a.kerberos_etypes.is_empty() {
        let _ = wrapln!(
            out,
            "  Kerberos encryption types: {}",
            list(&a.kerberos_etypes)
        );
    }
    for p in r.kerberos.principals.iter().filter(|p| p.weak) {
        let weak: Vec<&str> = p
            .etypes
            .iter()
            .filter(|e| crate::wire::kerberos::etype_text_is_weak(e))
            .map(|e| e.trim_end_matches(" (weak)"))
            .collect();
        let _ = wrapln!(
            out,
            "  WEAK  {} tickets for {}{}: {}",
            weak.join(", "),
            terminal(&p.principal),
            if p.services.is_empty() {
                String::new()
            } else {
                format!(" ({})", terminal(&p.services.join(", ")))
            },
            plural(p.clients as u64, "client")
        );
    }
    for w in &a.weak {
        let _ = wrapln!(
            out,
            "  WEAK  {} to {} on {}: {}, {}",
            terminal(w.name.trim_end_matches(" (weak)")),
            terminal(&w.service),
            w.server,
            plural(w.flows, "flow"),
            plural(w.clients as u64, "client")
        );
    }
    let mut tab = Table::new(&[
        "SERVICE",
        "SERVER",
        "MECHANISMS (flows)",
        "KERBEROS ETYPES (flows)",
    ]);
    let cell = |rows: &[super::authentication::FacetRow]| {
        if rows.is_empty() {
            return "-".to_string();
        }
        rows.iter()
            .map(|m| format!("{} {}", m.name, count(m.flows)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for row in a.by_service.iter().take(AUTH_ROWS) {
        let service = match (&row.service, &row.app_protocol) {
            (Some(s), _) => s.clone(),
            (None, Some(app)) => format!("not determined ({app})"),
            (None, None) => "-".into(),
        };
        tab.row(vec![
            service,
            row.server.to_string(),
            cell(&row.mechanisms),
            cell(&row.kerberos_etypes),
        ]);
    }
    out.push_str(&tab.render("  "));
    let more = a.by_service.len().saturating_sub(AUTH_ROWS) + a.rows_not_shown;
    if more > 0 {
        let _ = writeln!(
            out,
            "  … {} more rows in the JSON report",
            count(more as u64)
        );
    }
    out
}

/// The service principals tickets were asked for or presented, most clients first.
fn kerberos(r: &Report) -> String {
    let k = &r.kerberos;
    let mut out = String::new();
    if k.principals.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "\n{}",
        fill(
            "Kerberos service principals (tickets asked for at the KDC, presented to servers)",
            "  "
        )
    );
    let mut tab = Table::new(&[
        "PRINCIPAL",
        ">CLIENTS",
        ">ASKED",
        ">PRESENTED",
        "TICKETS",
        "SERVICES",
    ]);
    for p in k.principals.iter().take(AUTH_ROWS) {
        let services = if p.known_class {
            p.services.join(", ")
        } else {
            format!("unknown class {}", p.class)
        };
        tab.row(vec![
            p.principal.clone(),
            count(p.clients as u64),
            count(p.requested_flows),
            count(p.presented_flows),
            if p.etypes.is_empty() {
                "-".into()
            } else {
                p.etypes.join(", ")
            },
            services,
        ]);
    }
    out.push_str(&tab.render("  "));
    let more = k.principals.len().saturating_sub(AUTH_ROWS) + k.principals_not_shown;
    if more > 0 {
        let _ = writeln!(out, "  … {} more in the JSON report", count(more as u64));
    }
    out
}

/// The mismatch section: catalog ports whose payload was another protocol.
fn mismatches(r: &Report) -> String {
    let mut out = String::new();
    if r.mismatches.is_empty() {
        return out;
    }
    out.push_str("\nMismatches (a catalog port carrying another protocol)\n");
    let mut tab = Table::new(&["MISMATCH", ">FLOWS", ">BYTES", "CATALOG HAS IT ON"]);
    for m in &r.mismatches {
        tab.row(vec![
            m.summary.clone(),
            count(m.flows),
            bytes(m.bytes),
            if m.catalog_has.is_empty() {
                "-".to_string()
            } else {
                m.catalog_has.join(", ")
            },
        ]);
    }
    out.push_str(&tab.render("  "));
    if r.mismatches_not_shown > 0 {
        let _ = writeln!(
            out,
            "  … and {} mismatching flows not shown (table full)",
            count(r.mismatches_not_shown)
        );
    }
    out
}

/// TLS names per server.
fn tls(r: &Report) -> String {
    let mut out = String::new();
    if r.tls.is_empty() {
        return out;
    }
    out.push_str("\nTLS servers (names from ClientHellos and certificates sent in clear)\n");
    let mut tab = Table::new(&["SERVER", ">FLOWS", "SNI", "ALPN", "CERTIFICATE"]);
    let list = |v: &[String]| {
        if v.is_empty() {
            "-".to_string()
        } else {
            clip(&v.join(", "), 80)
        }
    };
    for t in &r.tls {
        tab.row(vec![
            match t.server {
                a if a.ip().is_ipv4() => format!("{a}:{}", t.port),
                a => format!("[{a}]:{}", t.port),
            },
            count(t.flows),
            list(&t.sni),
            list(&t.alpn),
            list(&t.certificates),
        ]);
    }
    out.push_str(&tab.render("  "));
    out
}

/// "Selected: service Net Logon, net 192.0.2.0/24 (1,234 other flows not counted); sorted by
/// flows; top 5 rows (3 not shown)", one line.
fn selection_line(sel: &super::Selected) -> String {
    let mut what: Vec<String> = Vec::new();
    let mut kind = |name: &str, values: &[String]| {
        if !values.is_empty() {
            what.push(format!("{name} {}", terminal(&values.join(" or "))));
        }
    };
    kind("service", &sel.services);
    kind("protocol", &sel.protocols);
    kind("host/net", &sel.nets);
    let mut parts = Vec::new();
    if !what.is_empty() {
        parts.push(format!(
            "Selected: flows of {} ({} other flows not counted)",
            what.join(" and "),
            count(sel.flows_not_selected)
        ));
    }
    if let Some(k) = sel.sort {
        parts.push(format!("sorted by {}", k.as_str()));
    }
    if let Some(n) = sel.top {
        parts.push(format!(
            "top {} rows per table ({} not shown)",
            count(n as u64),
            count(sel.rows_not_shown)
        ));
    }
    format!("{}\n", parts.join("; "))
}

/// Renders the whole report for a terminal.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let files = r.inputs.len();
    let head = format!(
        "{} — sensor {} — {} input{}, {} packets, {}, {} → {} UTC",
        r.generator,
        r.sensor,
        files,
        if files == 1 { "" } else { "s" },
        count(r.health.packets_read),
        bytes(r.health.bytes_read),
        short_time(&r.first_seen),
        short_time(&r.last_seen),
    );
    let _ = writeln!(out, "{}", fill(&head, "  "));
    if let Some(sel) = &r.selection {
        out.push_str(&selection_line(sel));
    }
    let t = &r.totals;
    let pct = |a: u64, b: u64| {
        if b == 0 {
            0.0
        } else {
            100.0 * a as f64 / b as f64
        }
    };
    let flows = format!(
        "{} flows: {} classified ({:.1}% of bytes), {} unclassified, {} unanswered attempts",
        count(t.flows),
        count(t.classified_flows),
        pct(t.classified_bytes, t.bytes),
        count(t.unclassified_flows),
        count(t.unanswered_flows),
    );
    let _ = writeln!(out, "{}\n", fill(&flows, "  "));

    if t.classified_flows > 0 {
        let known = format!(
            "Service known from evidence for {} flows ({:.1}% of bytes); not determined for {} flows on shared ports ({:.1}% of bytes)",
            count(t.evidence_flows),
            pct(t.evidence_bytes, t.bytes),
            count(t.undetermined_flows),
            pct(t.undetermined_bytes, t.bytes),
        );
        let _ = writeln!(out, "{}\n", fill(&known, "  "));
    }
    out.push_str(&services(r));
    out.push_str(&undetermined(r));
    out.push_str(&authentication(r));
    out.push_str(&kerberos(r));

    let by = r
        .selection
        .as_ref()
        .and_then(|s| s.sort)
        .map_or("bytes", |k| k.as_str());
    let _ = writeln!(out, "\nApplication protocols by {by} (each flow once)");
    let mut tab = Table::new(&[
        "PROTOCOL",
        "PORT",
        ">FLOWS",
        "?4>PACKETS",
        ">BYTES C→S",
        ">BYTES S→C",
        ">CLIENTS",
        "?4>SERVERS",
        "?3>PKT SIZE p50/p99/max",
        "?2>DURATION p50/p99/max",
        "?1>VERIFIED/PORT-ONLY/MISMATCH",
        "SERVICES",
    ]);
    for a in &r.app_protocols {
        let port = match (a.port, a.ip_protocol) {
            (Some(p), _) => format!("{}/{p}", a.transport),
            (None, Some(_)) => a.transport.clone(),
            (None, None) => format!("{}/dynamic", a.transport),
        };
        let services = if a.services.len() > 3 {
            format!(
                "{}, {} +{} more",
                a.services[0],
                a.services[1],
                a.services.len() - 2
            )
        } else {
            a.services.join(", ")
        };
        tab.row(vec![
            a.app_protocol.clone(),
            port,
            count(a.traffic.flows),
            count(a.traffic.packets()),
            bytes(a.traffic.bytes_c2s),
            bytes(a.traffic.bytes_s2c),
            hosts(&a.traffic, a.traffic.clients),
            hosts(&a.traffic, a.traffic.servers),
            p50_p99_max(&a.traffic.packet_size, |v| format!("{v} B")),
            p50_p99_max(&a.traffic.flow_duration_ms, duration_ms),
            format!(
                "{} / {} / {}",
                count(a.verification.verified_flows),
                count(a.verification.port_only_flows),
                count(a.verification.mismatch_flows)
            ),
            services,
        ]);
    }
    if tab.is_empty() {
        out.push_str("  (none)\n");
    } else {
        out.push_str(&tab.render("  "));
    }
    out.push_str(&mismatches(r));
    out.push_str(&tls(r));

    let u = &r.unclassified;
    let _ = writeln!(
        out,
        "\nUnclassified traffic: {} flows, {} packets, {}",
        count(u.traffic.flows),
        count(u.traffic.packets()),
        bytes(u.traffic.bytes()),
    );
    if !u.top_ports.is_empty() {
        let mut tab = Table::new(&["SERVER PORT", ">FLOWS", ">PACKETS", ">BYTES", "PAYLOAD"]);
        for p in &u.top_ports {
            let port = match p.port {
                Some(port) => format!("{}/{port}", p.transport),
                None => p.transport.clone(),
            };
            let payload = p
                .summary
                .strip_prefix(&port)
                .and_then(|s| s.strip_prefix(": "))
                .unwrap_or("-");
            tab.row(vec![
                port.clone(),
                count(p.flows),
                count(p.packets),
                bytes(p.bytes),
                clip(payload, 100),
            ]);
        }
        out.push_str(&tab.render("  "));
    }

    let un = &r.unanswered;
    if un.flows > 0 {
        let line = format!(
            "Unanswered connection attempts (not counted as service traffic): {} from {} clients to {} servers",
            count(un.flows),
            un.clients,
            un.servers
        );
        let _ = writeln!(out, "\n{}", fill(&line, "  "));
        let shown: Vec<String> = un
            .by_app_protocol
            .iter()
            .take(8)
            .map(|c| format!("{} {}", terminal(&c.name), count(c.count)))
            .collect();
        let _ = writeln!(out, "{}", fill(&format!("  {}", shown.join(", ")), "  "));
    }

    if !r.rpc.interfaces.is_empty() || r.rpc.unconfirmed_dynamic_flows > 0 {
        let _ = writeln!(
            out,
            "\n{}",
            fill(
                "DCE/RPC interfaces (from binds, endpoint-mapper answers and connectionless headers)",
                "  "
            )
        );
        let mut tab = Table::new(&[
            "INTERFACE",
            "?2!UUID",
            ">FLOWS",
            "?1>PACKETS",
            ">BYTES",
            "SERVICES",
        ]);
        for i in &r.rpc.interfaces {
            tab.row(vec![
                match (&i.name, &i.protocol) {
                    (Some(n), Some(p)) if !p.is_empty() => format!("{n} ({p})"),
                    (Some(n), _) => n.clone(),
                    _ => "(not in catalog)".into(),
                },
                i.uuid.clone(),
                count(i.flows),
                count(i.packets),
                bytes(i.bytes),
                clip(&i.services.join(", "), 50),
            ]);
        }
        if !tab.is_empty() {
            out.push_str(&tab.render("  "));
        }
        if r.rpc.unconfirmed_dynamic_flows > 0 {
            let _ = writeln!(
                out,
                "  {} dynamic-port flows after an endpoint-mapper contact stay unconfirmed (no bind or answer named the interface)",
                count(r.rpc.unconfirmed_dynamic_flows)
            );
        }
    }

    let h = &r.health;
    out.push_str("\nCapture health\n");
    for i in &r.inputs {
        let status = match (&i.error, &h.live) {
            (Some(e), _) => format!("ERROR: {}", terminal(e)),
            (None, Some(l)) if l.packets_dropped > 0 && l.interface == i.path => format!(
                "INCOMPLETE: {} packets dropped, not in this report",
                count(l.packets_dropped)
            ),
            (None, _) => "ok".into(),
        };
        let _ = wrapln!(
            out,
            "  {}: {}, {} packets{} — {}",
            terminal(&i.path),
            if i.link_types.is_empty() {
                "-".to_string()
            } else {
                i.link_types.join(", ")
            },
            count(i.packets),
            if i.filtered > 0 {
                format!(" ({} filtered out)", count(i.filtered))
            } else {
                String::new()
            },
            status
        );
    }
    let _ = wrapln!(
        out,
        "  decoded {} IP packets, {} not IP, {} malformed, {} cut by snaplen",
        count(h.packets_decoded),
        count(h.packets_not_ip),
        count(h.packets_malformed),
        count(h.packets_truncated),
    );
    for n in &h.not_ip {
        let _ = writeln!(
            out,
            "    not IP {}: {} ({})",
            n.layer,
            n.carries,
            count(n.packets)
        );
    }
    for m in &h.malformed {
        let _ = wrapln!(
            out,
            "    malformed {}: {} ({})",
            m.layer,
            m.reason,
            count(m.packets)
        );
    }
    if h.fragments_attributed + h.fragments_unmatched > 0 {
        let _ = wrapln!(
            out,
            "  IP fragments: {} attributed to their flow, {} without a first fragment",
            count(h.fragments_attributed),
            count(h.fragments_unmatched)
        );
    }
    let _ = wrapln!(
        out,
        "  flows: {} created, {} evicted early (table full), peak {} concurrent",
        count(h.flows_created),
        count(h.flows_evicted),
        count(h.peak_flows)
    );
    if h.one_direction_flows > 0 {
        let _ = writeln!(
            out,
            "  {} flows seen in one direction only: the capture may miss the other direction",
            count(h.one_direction_flows)
        );
    }
    // What the inspectors found, generically: every counter of theirs that is not zero.
    let inspected = h.inspection.get("flows_inspected");
    if inspected > 0 {
        let found: Vec<String> = h
            .inspection
            .iter()
            .filter(|(c, v)| *v > 0 && c.key != "flows_inspected")
            .map(|(c, v)| format!("{} {}", count(v), c.text))
            .collect();
        let _ = wrapln!(
            out,
            "  inspected {} flows: {}",
            count(inspected),
            if found.is_empty() {
                "nothing found".to_string()
            } else {
                found.join(", ")
            }
        );
    }
    if let Some(l) = &h.live {
        let _ = wrapln!(
            out,
            "  live {}: {} received, {} dropped by the kernel, {} by the interface, {} by svcscope",
            terminal(&l.interface),
            count(l.received),
            count(l.dropped_by_kernel),
            count(l.dropped_by_interface),
            count(l.dropped_by_svcscope)
        );
        if let Some(f) = &l.savefile {
            let status = match &f.error {
                Some(e) => format!("{} NOT SAVED — ERROR: {e}", count(f.packets_not_saved)),
                None => "ok".into(),
            };
            let _ = wrapln!(
                out,
                "  saved {} packets in {} — {status}",
                count(f.packets_saved),
                f.files.join(", "),
            );
        }
    }
    if let Some(x) = &h.ipfix {
        let _ = writeln!(out, "  {}", ipfix_line(x));
    }
    out
}

/// The capture-health line of `--ipfix`.
fn ipfix_line(x: &super::ipfix::IpfixHealth) -> String {
    let dropped = x.dropped_queue_full + x.dropped_unsent;
    let mut line = format!(
        "ipfix {} ({}): {} of {} flow records sent in {} messages",
        terminal(&x.collector),
        match x.transport {
            super::ipfix::Transport::Udp => "udp",
            super::ipfix::Transport::Tcp => "tcp",
        },
        count(x.records_sent),
        count(x.records),
        count(x.messages_sent),
    );
    if dropped > 0 {
        line += &format!(
            ", {} dropped ({} queue full, {} not sent)",
            count(dropped),
            count(x.dropped_queue_full),
            count(x.dropped_unsent)
        );
    }
    if let Some(e) = &x.last_error {
        line += &format!(
            "; {} send errors, last: {}",
            count(x.send_errors),
            terminal(e)
        );
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pipe and share names come from packets: in a table they cannot move the cursor or start a
    /// line, and the service leads with its evidence while shared ports stay undetermined.
    #[test]
    fn evidence_from_the_wire_is_escaped_and_leads_the_services() {
        use crate::aggregate::{test_flow, Aggregate};
        use crate::catalog::{Catalog, Transport, Uuid};
        use crate::inspect::{Evidence, EvidenceKind, Slot, Value};
        let catalog = Catalog::builtin();
        let smb = catalog.lookup_port(Transport::Tcp, 445);
        let spoolss = Uuid::parse("12345678-1234-abcd-ef00-0123456789ab").unwrap();
        let label = catalog.interface_label(spoolss, false);
        assert!(label.is_some(), "the catalog lists spoolss");
        let mut agg = Aggregate::default();
        let mut f = test_flow(smb, 101, [100, 200], true);
        let pipe = Value::Text("spool\u{1b}[2J\nss".into());
        let e = Evidence::labelled(EvidenceKind::SmbPipe, pipe, label);
        f.slot = Some(Box::new(Slot::with(e, None)));
        agg.end_flow(&f, &catalog);
        agg.end_flow(&test_flow(smb, 102, [10, 20], true), &catalog);
        let kerberos = catalog.lookup_port(Transport::Tcp, 88);
        agg.end_flow(&test_flow(kerberos, 103, [1000, 2000], true), &catalog);
        let report = Report::build(&catalog, &agg, Vec::new(), 10);
        let text = render(&report);
        assert!(!text.contains('\u{1b}'), "{text}");
        let lines: Vec<&str> = text.lines().collect();
        let at = |needle: &str| {
            lines
                .iter()
                .position(|l| l.contains(needle))
                .unwrap_or_else(|| panic!("no line with {needle:?} in\n{text}"))
        };
        let spooler = at("Print Spooler");
        assert!(
            lines[spooler].contains("evidence  spool\\x1b[2J\\nss pipe"),
            "{}",
            lines[spooler]
        );
        // Evidence first, though Kerberos has more bytes.
        assert!(spooler < at("Kerberos Key Distribution Center"));
        assert!(lines[at("Kerberos Key Distribution Center")].contains("by port"));
        let smb_line = lines[at("service not determined (7 candidates")];
        assert!(
            smb_line.contains("SMB") && smb_line.contains("tcp/445"),
            "{smb_line}"
        );
        assert!(at("Not determined") > at("Kerberos Key Distribution Center"));
        // A candidate with no credited traffic has no service row.
        assert!(
            !lines.iter().any(|l| l.starts_with("  Fax Service")),
            "{text}"
        );
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(count(0), "0");
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(bytes(812), "812 B");
        assert_eq!(bytes(12_595), "12 KiB");
        assert_eq!(bytes(4_718_592), "4.5 MiB");
        assert_eq!(duration_ms(850), "850 ms");
        assert_eq!(duration_ms(200_000), "3m 20s");
    }

    /// A live report with the given drops and savefile, rendered: its capture-health lines.
    fn live_health_lines(
        drops: (u64, u64, u64),
        savefile: Option<super::super::SavefileHealth>,
    ) -> Vec<String> {
        let catalog = crate::catalog::Catalog::load(&[]).unwrap();
        let input = super::super::InputReport {
            path: "eth0".into(),
            link_types: vec!["EN10MB".into()],
            packets: 1000,
            filtered: 0,
            error: None,
        };
        let agg = crate::aggregate::Aggregate::default();
        let mut report = Report::build(&catalog, &agg, vec![input], 10);
        let mut live = super::super::LiveHealth {
            interface: "eth0".into(),
            received: 2000,
            savefile,
            ..Default::default()
        };
        live.set_drops(drops.0, drops.1, drops.2);
        report.health.live = Some(live);
        let text = render(&report);
        let health = text.split("Capture health\n").nth(1).unwrap();
        health
            .lines()
            .filter(|l| {
                l.starts_with("  eth0") || l.starts_with("  live") || l.starts_with("  saved")
            })
            .map(String::from)
            .collect()
    }

    /// Regression: live health said "ok" while the kernel dropped half the packets.
    #[test]
    fn live_drops_make_the_health_incomplete() {
        assert_eq!(
            live_health_lines((0, 0, 0), None),
            [
                "  eth0: EN10MB, 1,000 packets — ok",
                "  live eth0: 2,000 received, 0 dropped by the kernel, 0 by the interface, 0 by svcscope",
            ]
        );
        for (drops, total) in [
            ((1000, 0, 0), "1,000"),
            ((0, 3, 0), "3"),
            ((0, 0, 1024), "1,024"),
        ] {
            let lines = live_health_lines(drops, None);
            assert_eq!(
                lines[0],
                format!("  eth0: EN10MB, 1,000 packets — INCOMPLETE: {total} packets dropped, not in this report"),
                "{drops:?}"
            );
        }
    }

    /// Regression: a savefile on a full disk was reported as written.
    #[test]
    fn savefile_losses_are_in_the_health() {
        let saved = |error: Option<&str>, not_saved| super::super::SavefileHealth {
            files: vec!["a.pcap".into(), "a.pcap1".into()],
            packets_saved: 600,
            packets_not_saved: not_saved,
            error: error.map(String::from),
        };
        assert_eq!(
            live_health_lines((0, 0, 0), Some(saved(None, 0)))[2],
            "  saved 600 packets in a.pcap, a.pcap1 — ok"
        );
        assert_eq!(
            live_health_lines((0, 0, 0), Some(saved(Some("a.pcap1: writing failed: No space left on device (os error 28)"), 400)))[2],
            "  saved 600 packets in a.pcap, a.pcap1 — 400 NOT SAVED — ERROR: a.pcap1: writing failed: No space left on device (os error 28)"
        );
    }

    #[test]
    fn table_cells_show_control_characters_escaped() {
        let mut t = Table::new(&["NAME", ">N"]);
        t.row(vec!["a\x1b[2Jb\nc".into(), "1".into()]);
        // The width is that of the escaped text, so the columns stay aligned.
        assert_eq!(t.render(""), "NAME          N\na\\x1b[2Jb\\nc  1\n");
    }

    #[test]
    fn tables_fit_the_width_cutting_text_and_leaving_out_optional_columns() {
        let mut t = Table::new(&["SERVICE", "?2SYSTEM", ">BYTES", "?1VIA"]);
        t.row(vec![
            "Kerberos Key Distribution Center".into(),
            "kdc".into(),
            "1,234,567".into(),
            "Kerberos tcp/88, Kerberos udp/88".into(),
        ]);
        t.row(vec![
            "Server".into(),
            "lanmanserver".into(),
            "1".into(),
            "SMB tcp/445".into(),
        ]);
        let wide = t.render_to("  ", None);
        assert!(wide.contains("Kerberos Key Distribution Center"), "{wide}");
        // Room for everything once text is narrowed: nothing left out.
        let fitted = t.render_to("  ", Some(64));
        assert!(fitted.lines().all(|l| l.chars().count() <= 64), "{fitted}");
        assert!(
            fitted.contains("SYSTEM") && fitted.contains("VIA"),
            "{fitted}"
        );
        assert!(fitted.contains('…'), "{fitted}");
        // Narrower: VIA (rank 1) goes, then SYSTEM; numbers are never cut.
        let narrow = t.render_to("  ", Some(40));
        assert!(narrow.lines().all(|l| l.chars().count() <= 40), "{narrow}");
        assert!(!narrow.contains("VIA"), "{narrow}");
        assert!(narrow.contains("1,234,567"), "{narrow}");
        assert_eq!(
            narrow,
            "  SERVICE                          BYTES\n  Kerberos Key Distribution …  1,234,567\n  Server                               1\n"
        );
        let tiny = t.render_to("  ", Some(28));
        assert!(
            !tiny.contains("SYSTEM") && tiny.contains("1,234,567"),
            "{tiny}"
        );
        assert!(tiny.lines().all(|l| l.chars().count() <= 28), "{tiny}");
    }

    #[test]
    fn prose_wraps_at_spaces_keeping_its_indent() {
        assert_eq!(fill_to("  a bb ccc dddd", "    ", None), "  a bb ccc dddd");
        assert_eq!(
            fill_to("  a bb ccc dddd", "    ", Some(9)),
            "  a bb\n    ccc\n    dddd"
        );
        // A word longer than the width stays whole on its own line.
        assert_eq!(fill_to("x abcdefghijk y", "", Some(5)), "x\nabcdefghijk\ny");
    }

    #[test]
    fn tables_align() {
        let mut t = Table::new(&["NAME", ">N"]);
        t.row(vec!["a".into(), "1".into()]);
        t.row(vec!["long".into(), "1,000".into()]);
        assert_eq!(t.render(""), "NAME      N\na         1\nlong  1,000\n");
    }
}
