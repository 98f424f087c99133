//! `svcscope rules`: inbound firewall rules drafted from what one host was seen serving, as Windows
//! PowerShell `New-NetFirewallRule`, `netsh advfirewall` commands, or an nftables ruleset.
//!
//! One rule per application protocol and port. Services the payload showed served (an interface
//! bound, a pipe opened) get a group each, with a rule per port their flows came in on; a port one
//! service owns is grouped under it; a shared port with flows no evidence determined is a group of
//! its own whose heading says so and lists the candidates. The
//! endpoint mapper and dynamic RPC use the Windows firewall's own `RPCEPMap` / `RPC` local-port
//! keywords (`RPC-EPMap` / `RPC` in netsh); nftables gets the configured dynamic ranges.
//!
//! Names come from catalog files and the header names the capture files: every piece of text is
//! quoted or escaped for the script's language ([`super::escape`]), so each line of a draft is one
//! comment or one of the intended commands, whatever the names hold. Nothing drafted is no draft:
//! [`render`] returns `None` rather than an nftables ruleset that would drop everything.

use std::fmt::Write as _;

use super::escape::{cmd_arg, cmd_comment, comment_text, nft_string, powershell_string};
use super::hosts::{HostRow, ServeRow};
use super::InputReport;
use crate::aggregate::hosts::is_group_address;
use crate::aggregate::hosts::Offer;
use crate::catalog::{Catalog, LabelId, PortSpec, Transport};
use crate::decode::Addr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum RuleFormat {
    Powershell,
    Netsh,
    Nftables,
}

/// At most this many client addresses go into one rule's remote-address list; beyond it the rule is
/// left unrestricted, with a comment.
pub const MAX_REMOTE: usize = 256;

/// What a rule matches.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Match {
    Port {
        tcp: bool,
        port: u16,
    },
    /// The RPC endpoint mapper, TCP 135.
    EndpointMapper,
    /// The dynamic RPC range.
    DynamicRpc,
    /// Connectionless DCE/RPC (UDP) on the dynamic ranges: the firewall's `RPC` keyword is TCP only.
    UdpDynamic(Vec<(u16, u16)>),
    IpProtocol(u8),
}

struct Rule {
    name: String,
    group: String,
    /// The group's comment line: the service, or the shared port and every candidate.
    heading: String,
    m: Match,
    remote: Option<Vec<Addr>>,
    /// Set when --remote-from-observed could not list the clients.
    remote_note: Option<String>,
    description: String,
    /// Drafted from a service the payload showed, not from a port.
    from_evidence: bool,
    /// What the payload check said of the port's flows, when it did not verify them all.
    verify_note: Option<String>,
    /// Every flow carried another protocol: the rule is drafted as a comment.
    commented: bool,
}

/// How rules are drafted.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Restrict each rule to the client addresses seen using it.
    pub remote_from_observed: bool,
    /// Draft the rules of mismatching ports as rules, not comments.
    pub keep_mismatches: bool,
}

/// The note and whether the rule is commented out, from a port's verification counts (the caller
/// drops the port-only note of protocols svcscope has no recogniser for).
fn verify_note(app: &str, s: &ServeRow, keep_mismatches: bool) -> (Option<String>, bool) {
    let carried = || {
        s.mismatch_payloads
            .iter()
            .map(|p| format!("{} ({})", p.payload, plural(p.flows, "flow")))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if s.flows > 0 && s.mismatch_flows == s.flows {
        if keep_mismatches {
            (
                Some(format!(
                    "mismatch: every flow carried {}, not {app} (kept: --keep-mismatches)",
                    carried()
                )),
                false,
            )
        } else {
            (
                Some(format!(
                    "mismatch: every flow carried {}, not {app}: left commented out (--keep-mismatches keeps it)",
                    carried()
                )),
                true,
            )
        }
    } else if s.mismatch_flows > 0 {
        (
            Some(format!(
                "partly mismatched: {} of {} carried {}",
                s.mismatch_flows,
                plural(s.flows, "flow"),
                carried()
            )),
            false,
        )
    } else if s.verified_flows == 0 && s.flows > 0 {
        (
            Some(format!(
                "port-only: no payload showed {app} (none seen, encrypted, or not told apart)"
            )),
            false,
        )
    } else {
        (None, false)
    }
}

/// What to match for a label, and the words that name it.
fn matcher(catalog: &Catalog, l: LabelId) -> (Match, String) {
    let label = catalog.label(l);
    let tcp = label.transport == Transport::Tcp;
    let m = match label.spec {
        PortSpec::Port(135) if tcp => Match::EndpointMapper,
        PortSpec::Port(p) => Match::Port { tcp, port: p },
        PortSpec::Dynamic if tcp => Match::DynamicRpc,
        PortSpec::Dynamic => Match::UdpDynamic(catalog.dynamic_ranges.clone()),
        PortSpec::IpProtocol(n) => Match::IpProtocol(n),
    };
    let what = match &m {
        Match::Port { tcp, port } => format!("{} {port}", if *tcp { "TCP" } else { "UDP" }),
        Match::EndpointMapper => "TCP 135".to_string(),
        Match::DynamicRpc => "dynamic RPC ports".to_string(),
        Match::UdpDynamic(_) => "dynamic UDP ports".to_string(),
        Match::IpProtocol(n) => format!("IP protocol {n}"),
    };
    (m, what)
}

/// The remote addresses a rule is restricted to with --remote-from-observed, or why it is not.
fn remote_for(
    remote_from_observed: bool,
    client_addrs: &[Addr],
    clients: usize,
    clients_capped: bool,
) -> (Option<Vec<Addr>>, Option<String>) {
    let broadcast_clients = client_addrs
        .iter()
        .any(|&a| is_group_address(a) || a.ip().is_unspecified());
    if !remote_from_observed {
        (None, None)
    } else if broadcast_clients {
        (
            None,
            Some(
                "clients include broadcast or unspecified addresses (as DHCP's do): not restricted"
                    .to_string(),
            ),
        )
    } else if clients_capped || client_addrs.len() > MAX_REMOTE {
        (
            None,
            Some(format!(
                "{clients} clients seen, more than the {MAX_REMOTE} a rule lists: not restricted"
            )),
        )
    } else {
        (Some(client_addrs.to_vec()), None)
    }
}

fn plural(n: u64, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

fn rules_for(catalog: &Catalog, host: &HostRow, options: Options) -> Vec<Rule> {
    let remote_from_observed = options.remote_from_observed;
    let mut rules = Vec::new();
    // Services the payload showed served: one group each, a rule per port their flows came in on.
    for s in &host.services_served {
        let evidence: Vec<String> = s.evidence.iter().map(|e| e.short()).collect();
        let (remote, remote_note) = remote_for(
            remote_from_observed,
            &s.client_addrs,
            s.clients,
            s.clients_capped,
        );
        for &l in &s.labels {
            let label = catalog.label(l);
            let (m, what) = matcher(catalog, l);
            let named = if label.name.contains("IP protocol") {
                label.name.clone()
            } else {
                format!("{} {what}", label.name)
            };
            rules.push(Rule {
                name: if label.name.contains("IP protocol") {
                    format!("svcscope: {}", label.name)
                } else {
                    format!("svcscope: {} ({what})", label.name)
                },
                group: group_name(&label.name, std::slice::from_ref(&s.service)),
                heading: format!("{} — from evidence: {}", s.service, evidence.join(", ")),
                m,
                remote: remote.clone(),
                remote_note: remote_note.clone(),
                description: format!(
                    "{named} for {} (seen in the payload); seen {} from {}, {} to {}",
                    s.service,
                    plural(s.flows, "flow"),
                    plural(s.clients as u64, "client"),
                    s.first_seen.as_deref().unwrap_or("-"),
                    s.last_seen.as_deref().unwrap_or("-"),
                ),
                from_evidence: true,
                verify_note: None,
                commented: false,
            });
        }
    }
    for s in &host.serves {
        let Some(Offer::Label(l)) = s.offer else {
            continue;
        };
        let label = catalog.label(l);
        // A shared port whose every flow evidence determined is drafted under those services.
        if label.is_shared() && s.undetermined_flows == 0 {
            continue;
        }
        let (m, what) = matcher(catalog, l);
        let (remote, remote_note) = remote_for(
            remote_from_observed,
            &s.client_addrs,
            s.clients,
            s.clients_capped,
        );
        let (mut verify_note, commented) = verify_note(&label.name, s, options.keep_mismatches);
        if s.verified_flows == 0
            && s.mismatch_flows == 0
            && crate::inspect::verify::expected(label).is_none()
        {
            // No recogniser for the protocol (ESP, Chargen, …): port-only says nothing.
            verify_note = None;
        }
        rules.push(Rule {
            name: if label.name.contains("IP protocol") {
                format!("svcscope: {}", label.name)
            } else {
                format!("svcscope: {} ({what})", label.name)
            },
            group: group_name(&label.name, &s.services),
            heading: match &s.services[..] {
                [one] => one.clone(),
                all => format!(
                    "{} — service not determined (no evidence of which was used); candidates: {}",
                    label.name,
                    all.join(", ")
                ),
            },
            m,
            remote,
            remote_note,
            description: format!(
                "{} for {}; seen {} from {}, {} to {}",
                if label.name.contains("IP protocol") {
                    label.name.clone()
                } else {
                    format!("{} {what}", label.name)
                },
                s.services.join(", "),
                plural(s.flows, "flow"),
                plural(s.clients as u64, "client"),
                s.first_seen.as_deref().unwrap_or("-"),
                s.last_seen.as_deref().unwrap_or("-"),
            ),
            from_evidence: false,
            verify_note,
            commented,
        });
    }
    // Group order: by group name; within a group, by what they match. A port drafted from evidence
    // and by its port for the same service is one rule (the evidence's, listed first).
    rules.sort_by(|a, b| a.group.cmp(&b.group).then_with(|| a.name.cmp(&b.name)));
    rules.dedup_by(|b, a| a.group == b.group && a.name == b.name);
    // One heading per group: the evidence's where the group has one.
    let mut from_evidence: std::collections::HashMap<String, String> = Default::default();
    for r in rules.iter().filter(|r| r.from_evidence) {
        from_evidence
            .entry(r.group.clone())
            .or_insert_with(|| r.heading.clone());
    }
    for r in &mut rules {
        if let Some(h) = from_evidence.get(&r.group) {
            r.heading.clone_from(h);
        }
    }
    rules
}

/// Rules group per catalog service; a port several services share is a group of its own, named after
/// its application protocol.
fn group_name(app: &str, services: &[String]) -> String {
    match services {
        [one] => format!("svcscope: {one}"),
        _ => format!("svcscope: {app} (shared by {} services)", services.len()),
    }
}

/// One comment line in the format's syntax, with `text` escaped so that nothing in it ends the line
/// (or, in cmd, expands).
fn comment_line(out: &mut String, format: RuleFormat, indent: &str, text: &str) {
    let _ = match format {
        RuleFormat::Netsh => writeln!(out, "{indent}REM {}", cmd_comment(text)),
        RuleFormat::Powershell | RuleFormat::Nftables => {
            writeln!(out, "{indent}# {}", comment_text(text))
        }
    };
}

fn header(
    host: &HostRow,
    inputs: &[InputReport],
    first: Option<&str>,
    last: Option<&str>,
    format: RuleFormat,
) -> String {
    let mut out = String::new();
    let files: Vec<&str> = inputs.iter().map(|i| i.path.as_str()).collect();
    let lines = [
        format!("Inbound firewall rules for {} drafted by svcscope {} from observed traffic.", host.addr, env!("CARGO_PKG_VERSION")),
        format!("Traffic: {} ({} to {}).", files.join(", "), first.unwrap_or("-"), last.unwrap_or("-")),
        "REVIEW BEFORE USE: they allow exactly what this host was seen serving in that traffic, nothing it".to_string(),
        "did not happen to serve then, and nothing about what it needs outbound. The knowledge-base article".to_string(),
        "these services come from warns itself that its port list is not a firewall configuration.".to_string(),
    ];
    for l in lines {
        comment_line(&mut out, format, "", &l);
    }
    let unclassified: Vec<String> = host
        .serves
        .iter()
        .filter(|s| s.app_protocol.is_none())
        .map(|s| match s.port {
            Some(p) => format!("{}/{p} ({} flows)", s.transport, s.flows),
            None => format!("{} ({} flows)", s.transport, s.flows),
        })
        .collect();
    if !unclassified.is_empty() {
        comment_line(
            &mut out,
            format,
            "",
            &format!(
                "Also served, not in the catalog, no rule drafted: {}",
                unclassified.join(", ")
            ),
        );
    }
    out
}

fn span(host: &HostRow) -> (Option<String>, Option<String>) {
    let first = host
        .serves
        .iter()
        .filter_map(|s| s.first_seen.clone())
        .min();
    let last = host.serves.iter().filter_map(|s| s.last_seen.clone()).max();
    (first, last)
}

fn addr_list(addrs: &[Addr]) -> String {
    addrs
        .iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Renders the rules for one host; `None` when the host was seen serving no catalog service, so
/// there is no rule to draft (an nftables draft of nothing would drop everything inbound).
pub fn render(
    catalog: &Catalog,
    host: &HostRow,
    inputs: &[InputReport],
    format: RuleFormat,
    options: Options,
) -> Option<String> {
    let rules = rules_for(catalog, host, options);
    // Rules that are all comments are no draft either (an nftables ruleset of nothing drops
    // everything inbound).
    if rules.iter().all(|r| r.commented) {
        return None;
    }
    let (first, last) = span(host);
    let mut out = header(host, inputs, first.as_deref(), last.as_deref(), format);
    match format {
        RuleFormat::Powershell => powershell(&mut out, &rules),
        RuleFormat::Netsh => netsh(&mut out, &rules),
        RuleFormat::Nftables => nftables(&mut out, &rules, catalog),
    }
    Some(out)
}

/// The Windows formats: the same rules and groups, in PowerShell or netsh syntax. `epmap` is the
/// format's keyword for the endpoint mapper; `line` writes one rule from (rule, protocol, local port).
fn windows(
    out: &mut String,
    rules: &[Rule],
    format: RuleFormat,
    epmap: &str,
    line: impl Fn(&Rule, &str, Option<&str>) -> String,
) {
    let mut group = "";
    for r in rules {
        if r.group != group {
            group = &r.group;
            out.push('\n');
            comment_line(out, format, "", &r.heading);
        }
        if let Some(n) = &r.remote_note {
            comment_line(out, format, "", n);
        }
        if let Some(n) = &r.verify_note {
            comment_line(out, format, "", n);
        }
        let (protocol, port) = match &r.m {
            Match::Port { tcp, port } => (
                if *tcp { "TCP" } else { "UDP" }.to_string(),
                Some(port.to_string()),
            ),
            Match::EndpointMapper => ("TCP".into(), Some(epmap.to_string())),
            Match::DynamicRpc => ("TCP".into(), Some("RPC".into())),
            Match::UdpDynamic(ranges) => (
                "UDP".into(),
                Some(
                    ranges
                        .iter()
                        .map(|(a, b)| format!("{a}-{b}"))
                        .collect::<Vec<_>>()
                        .join(","),
                ),
            ),
            Match::IpProtocol(n) => (n.to_string(), None),
        };
        let text = line(r, &protocol, port.as_deref());
        if r.commented {
            comment_line(out, format, "", &text);
        } else {
            let _ = writeln!(out, "{text}");
        }
    }
}

fn powershell(out: &mut String, rules: &[Rule]) {
    windows(
        out,
        rules,
        RuleFormat::Powershell,
        "RPCEPMap",
        |r, protocol, port| {
            let mut line = format!(
            "New-NetFirewallRule -DisplayName {} -Group {} -Direction Inbound -Action Allow -Protocol {protocol}",
            powershell_string(&r.name),
            powershell_string(&r.group)
        );
            if let Some(p) = port {
                let _ = write!(line, " -LocalPort {p}");
            }
            if let Some(remote) = &r.remote {
                let _ = write!(line, " -RemoteAddress {}", addr_list(remote));
            }
            let _ = write!(line, " -Description {}", powershell_string(&r.description));
            line
        },
    );
}

fn netsh(out: &mut String, rules: &[Rule]) {
    windows(
        out,
        rules,
        RuleFormat::Netsh,
        "RPC-EPMap",
        |r, protocol, port| {
            let mut line = format!(
            "netsh advfirewall firewall add rule name={} dir=in action=allow protocol={protocol}",
            cmd_arg(&r.name)
        );
            if let Some(p) = port {
                let _ = write!(line, " localport={p}");
            }
            if let Some(remote) = &r.remote {
                let _ = write!(line, " remoteip={}", addr_list(remote));
            }
            let _ = write!(line, " description={}", cmd_arg(&r.description));
            line
        },
    );
}

/// nft rule comments hold at most 128 bytes; drafts keep them to 120.
const NFT_COMMENT_BYTES: usize = 120;

fn nftables(out: &mut String, rules: &[Rule], catalog: &Catalog) {
    let _ = writeln!(out, "# Load with: nft -f FILE (check first with: nft -c -f FILE). Everything else inbound is dropped.");
    out.push_str("\ntable inet svcscope {\n  chain inbound {\n    type filter hook input priority filter; policy drop;\n");
    out.push_str("    ct state established,related accept\n    ct state invalid drop\n    iif \"lo\" accept\n");
    out.push_str(
        // `icmpv6`, not `ipv6-icmp`: nft resolves that name only through /etc/protocols, which minimal
        // systems and containers lack. Every other protocol below is a keyword or a number.
        "    # Not from the traffic: ICMP keeps path-MTU discovery and IPv6 neighbour discovery working.\n    meta l4proto { icmp, icmpv6 } accept\n",
    );
    let dynamic: Vec<String> = catalog
        .dynamic_ranges
        .iter()
        .map(|(a, b)| format!("{a}-{b}"))
        .collect();
    let mut group = "";
    for r in rules {
        if r.group != group {
            group = &r.group;
            out.push('\n');
            comment_line(out, RuleFormat::Nftables, "    ", &r.heading);
        }
        if let Some(n) = &r.remote_note {
            comment_line(out, RuleFormat::Nftables, "    ", n);
        }
        if let Some(n) = &r.verify_note {
            comment_line(out, RuleFormat::Nftables, "    ", n);
        }
        let matcher = match &r.m {
            Match::Port { tcp, port } => {
                format!("{} dport {port}", if *tcp { "tcp" } else { "udp" })
            }
            Match::EndpointMapper => "tcp dport 135".to_string(),
            Match::DynamicRpc => format!("tcp dport {{ {} }}", dynamic.join(", ")),
            Match::UdpDynamic(_) => format!("udp dport {{ {} }}", dynamic.join(", ")),
            Match::IpProtocol(n) => format!("meta l4proto {n}"),
        };
        let comment = nft_string(r.name.trim_start_matches("svcscope: "), NFT_COMMENT_BYTES);
        let mut lines = Vec::new();
        match &r.remote {
            None => lines.push(format!("{matcher} accept comment {comment}")),
            Some(addrs) => {
                let v4: Vec<String> = addrs
                    .iter()
                    .filter(|a| a.ip().is_ipv4())
                    .map(|a| a.to_string())
                    .collect();
                let v6: Vec<String> = addrs
                    .iter()
                    .filter(|a| a.ip().is_ipv6())
                    .map(|a| a.to_string())
                    .collect();
                if !v4.is_empty() {
                    lines.push(format!(
                        "ip saddr {{ {} }} {matcher} accept comment {comment}",
                        v4.join(", ")
                    ));
                }
                if !v6.is_empty() {
                    lines.push(format!(
                        "ip6 saddr {{ {} }} {matcher} accept comment {comment}",
                        v6.join(", ")
                    ));
                }
            }
        }
        for l in lines {
            if r.commented {
                comment_line(out, RuleFormat::Nftables, "    ", &l);
            } else {
                let _ = writeln!(out, "    {l}");
            }
        }
    }
    out.push_str("  }\n}\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Transport;
    use crate::report::escape::is_unsafe;
    use crate::report::hosts::ServiceServeRow;

    fn serve(label: crate::catalog::LabelId, services: &[&str]) -> ServeRow {
        ServeRow {
            app_protocol: Some("x".into()),
            transport: "tcp".into(),
            port: Some(88),
            ports: vec![88],
            ip_protocol: 6,
            services: services.iter().map(|s| s.to_string()).collect(),
            clients: 1,
            client_addrs: vec![Addr::from(
                "192.0.2.50".parse::<std::net::IpAddr>().unwrap(),
            )],
            clients_capped: false,
            flows: 1,
            packets_c2s: 1,
            packets_s2c: 1,
            bytes_c2s: 60,
            bytes_s2c: 60,
            first_seen: Some("2024-03-04T09:00:00.000000Z".into()),
            last_seen: Some("2024-03-04T09:00:01.000000Z".into()),
            evidence_flows: 0,
            undetermined_flows: 0,
            verified_flows: 1,
            port_only_flows: 0,
            mismatch_flows: 0,
            mismatch_payloads: Vec::new(),
            tls_names: Vec::new(),
            offer: Some(Offer::Label(label)),
        }
    }

    /// A service the payload showed served on `label`, with a pipe name from the wire.
    fn shown(label: crate::catalog::LabelId, service: &str, pipe: &str) -> ServiceServeRow {
        let s = serve(label, &[service]);
        ServiceServeRow {
            service: service.to_string(),
            system_service: None,
            app_protocols: vec!["x tcp/88".into()],
            ports: s.ports,
            evidence: vec![crate::report::EvidenceRow {
                kind: "smb-pipe",
                value: Some(pipe.to_string()),
                name: None,
                flows: 1,
            }],
            evidence_other_flows: 0,
            clients: s.clients,
            client_addrs: s.client_addrs,
            clients_capped: false,
            flows: 1,
            packets_c2s: 1,
            packets_s2c: 1,
            bytes_c2s: 60,
            bytes_s2c: 60,
            first_seen: s.first_seen,
            last_seen: s.last_seen,
            labels: vec![label],
        }
    }

    /// The catalog loader refuses control characters, but the drafts do not rely on it: a label,
    /// service names, a pipe name from a packet and a file path with line breaks and escape
    /// sequences still give one line per comment or rule, the same lines as plain names give.
    #[test]
    fn line_breaks_in_names_and_paths_stay_inside_their_line() {
        let hostile = [
            "a\nStart-Process calc.exe\n#",
            "b\r& calc.exe\r\nREM",
            "c\n tcp dport 22 accept\n\u{1b}[2J\u{85}\u{2028}",
        ];
        for format in [
            RuleFormat::Powershell,
            RuleFormat::Netsh,
            RuleFormat::Nftables,
        ] {
            let draft = |names: [&str; 3], path: &str| {
                let mut catalog = Catalog::builtin();
                let id = catalog.lookup_port(Transport::Tcp, 88).unwrap();
                let smb = catalog.lookup_port(Transport::Tcp, 445).unwrap();
                catalog.labels[usize::from(id)].name = names[0].to_string();
                let mut host = HostRow::new(Addr::from(
                    "192.0.2.10".parse::<std::net::IpAddr>().unwrap(),
                ));
                host.serves = vec![serve(id, &names[1..])];
                host.services_served = vec![shown(smb, names[1], names[2])];
                let inputs = [InputReport {
                    path: path.to_string(),
                    link_types: vec!["EN10MB".into()],
                    packets: 2,
                    filtered: 0,
                    error: None,
                }];
                let options = Options {
                    remote_from_observed: true,
                    keep_mismatches: false,
                };
                render(&catalog, &host, &inputs, format, options).unwrap()
            };
            let plain = draft(["A", "B", "C"], "cap.pcap");
            let evil = draft(hostile, "cap\nflush ruleset\n\r#.pcap");
            assert_eq!(
                evil.lines().count(),
                plain.lines().count(),
                "{format:?}:\n{evil}"
            );
            for (e, p) in evil.lines().zip(plain.lines()) {
                let word = |l: &str| l.split(' ').find(|w| !w.is_empty()).map(str::to_string);
                assert_eq!(word(e), word(p), "{format:?}: {e}");
            }
            assert!(
                !evil.chars().any(|c| c != '\n' && is_unsafe(c)),
                "{format:?}:\n{evil}"
            );
            assert!(evil.contains("cap\\nflush ruleset\\n\\r#.pcap"), "{evil}");
        }
    }

    /// A port whose every flow carried another protocol is drafted commented out (the rule
    /// would open the port to what was seen, not to the catalog's service), unless asked; a port
    /// whose payload never verified is marked port-only.
    #[test]
    fn mismatching_ports_are_commented_out_and_port_only_ones_marked() {
        let catalog = Catalog::builtin();
        let x400 = catalog.lookup_port(Transport::Tcp, 102).unwrap();
        let http = catalog.lookup_port(Transport::Tcp, 80).unwrap();
        let mut host = HostRow::new(Addr::from(
            "192.0.2.10".parse::<std::net::IpAddr>().unwrap(),
        ));
        let mut mms = serve(x400, &["Microsoft Exchange MTA Stacks"]);
        mms.port = Some(102);
        mms.verified_flows = 0;
        mms.mismatch_flows = 1;
        mms.mismatch_payloads = vec![crate::report::hosts::PayloadCount {
            payload: "iso-mms",
            flows: 1,
        }];
        let mut web = serve(http, &["World Wide Web Publishing Service"]);
        web.port = Some(80);
        web.verified_flows = 0;
        web.port_only_flows = 1;
        web.undetermined_flows = 1;
        host.serves = vec![mms, web];
        for format in [
            RuleFormat::Powershell,
            RuleFormat::Netsh,
            RuleFormat::Nftables,
        ] {
            let draft = |keep_mismatches| {
                let options = Options {
                    remote_from_observed: false,
                    keep_mismatches,
                };
                render(&catalog, &host, &[], format, options).unwrap()
            };
            let rule = |l: &str| {
                let l = l.trim_start();
                l.starts_with("New-NetFirewallRule")
                    || l.starts_with("netsh ")
                    || l.starts_with("tcp dport")
            };
            let commented = draft(false);
            let live: Vec<&str> = commented.lines().filter(|l| rule(l)).collect();
            assert_eq!(live.len(), 1, "{format:?}:\n{commented}");
            assert!(!live[0].contains("102"), "{format:?}:\n{commented}");
            assert!(commented.contains("mismatch: every flow carried iso-mms (1 flow), not X.400"));
            assert!(
                commented.contains("port-only: no payload showed HTTP"),
                "{commented}"
            );
            let kept = draft(true);
            assert_eq!(
                kept.lines().filter(|l| rule(l)).count(),
                2,
                "{format:?}:\n{kept}"
            );
            assert!(kept.contains("kept: --keep-mismatches"));
        }
    }
}
