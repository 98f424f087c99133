//! `svcscope rules`: inbound firewall rules drafted from what one host was seen serving, as Windows
//! PowerShell `New-NetFirewallRule`, `netsh advfirewall` commands, or an nftables ruleset.
//!
//! One rule per application protocol and port, grouped by the catalog services that share it. The
//! endpoint mapper and dynamic RPC use the Windows firewall's own `RPCEPMap` / `RPC` local-port
//! keywords (`RPC-EPMap` / `RPC` in netsh); nftables gets the configured dynamic ranges.

use std::fmt::Write as _;

use super::hosts::HostRow;
use super::InputReport;
use crate::aggregate::hosts::is_group_address;
use crate::aggregate::hosts::Offer;
use crate::catalog::{Catalog, PortSpec};
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
}

fn rules_for(catalog: &Catalog, host: &HostRow, remote_from_observed: bool) -> Vec<Rule> {
    let mut rules = Vec::new();
    for s in &host.serves {
        let Some(Offer::Label(l)) = s.offer else {
            continue;
        };
        let label = catalog.label(l);
        let m = match label.spec {
            PortSpec::Port(135) if s.transport == "tcp" => Match::EndpointMapper,
            PortSpec::Port(p) => Match::Port {
                tcp: s.transport == "tcp",
                port: p,
            },
            PortSpec::Dynamic => Match::DynamicRpc,
            PortSpec::IpProtocol(n) => Match::IpProtocol(n),
        };
        let what = match &m {
            Match::Port { tcp, port } => format!("{} {port}", if *tcp { "TCP" } else { "UDP" }),
            Match::EndpointMapper => "TCP 135".to_string(),
            Match::DynamicRpc => "dynamic RPC ports".to_string(),
            Match::IpProtocol(n) => format!("IP protocol {n}"),
        };
        let broadcast_clients = s
            .client_addrs
            .iter()
            .any(|&a| is_group_address(a) || a.ip().is_unspecified());
        let (remote, remote_note) = if !remote_from_observed {
            (None, None)
        } else if broadcast_clients {
            (None, Some("clients include broadcast or unspecified addresses (as DHCP's do): not restricted".to_string()))
        } else if s.clients_capped || s.client_addrs.len() > MAX_REMOTE {
            (
                None,
                Some(format!(
                    "{} clients seen, more than the {MAX_REMOTE} a rule lists: not restricted",
                    s.clients
                )),
            )
        } else {
            (Some(s.client_addrs.clone()), None)
        };
        let plural = |n: u64, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        rules.push(Rule {
            name: if label.name.contains("IP protocol") {
                format!("svcscope: {}", label.name)
            } else {
                format!("svcscope: {} ({what})", label.name)
            },
            group: group_name(&label.name, &s.services),
            heading: match &s.services[..] {
                [one] => one.clone(),
                all => format!("{} — shared by {}", label.name, all.join(", ")),
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
        });
    }
    // Group order: by group name; within a group, by what they match.
    rules.sort_by(|a, b| a.group.cmp(&b.group).then_with(|| a.name.cmp(&b.name)));
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

fn header(
    host: &HostRow,
    inputs: &[InputReport],
    first: Option<&str>,
    last: Option<&str>,
    comment: &str,
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
        let _ = writeln!(out, "{comment} {l}");
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
        let _ = writeln!(
            out,
            "{comment} Also served, not in the catalog, no rule drafted: {}",
            unclassified.join(", ")
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

/// Renders the rules for one host.
pub fn render(
    catalog: &Catalog,
    host: &HostRow,
    inputs: &[InputReport],
    format: RuleFormat,
    remote_from_observed: bool,
) -> String {
    let rules = rules_for(catalog, host, remote_from_observed);
    let (first, last) = span(host);
    let comment = match format {
        RuleFormat::Powershell | RuleFormat::Nftables => "#",
        RuleFormat::Netsh => "REM",
    };
    let mut out = header(host, inputs, first.as_deref(), last.as_deref(), comment);
    if rules.is_empty() {
        let _ = writeln!(
            out,
            "{comment} No catalog service was seen served by {}: no rules.",
            host.addr
        );
    }
    match format {
        RuleFormat::Powershell => powershell(&mut out, &rules),
        RuleFormat::Netsh => netsh(&mut out, &rules),
        RuleFormat::Nftables => nftables(&mut out, &rules, catalog),
    }
    out
}

fn ps_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The Windows formats: the same rules and groups, in PowerShell or netsh syntax. `epmap` is the
/// format's keyword for the endpoint mapper; `line` writes one rule from (rule, protocol, local port).
fn windows(
    out: &mut String,
    rules: &[Rule],
    comment: &str,
    epmap: &str,
    line: impl Fn(&Rule, &str, Option<&str>) -> String,
) {
    let mut group = "";
    for r in rules {
        if r.group != group {
            group = &r.group;
            let _ = writeln!(out, "\n{comment} {}", r.heading);
        }
        if let Some(n) = &r.remote_note {
            let _ = writeln!(out, "{comment} {n}");
        }
        let (protocol, port) = match r.m {
            Match::Port { tcp, port } => (
                if tcp { "TCP" } else { "UDP" }.to_string(),
                Some(port.to_string()),
            ),
            Match::EndpointMapper => ("TCP".into(), Some(epmap.to_string())),
            Match::DynamicRpc => ("TCP".into(), Some("RPC".into())),
            Match::IpProtocol(n) => (n.to_string(), None),
        };
        let _ = writeln!(out, "{}", line(r, &protocol, port.as_deref()));
    }
}

fn powershell(out: &mut String, rules: &[Rule]) {
    windows(out, rules, "#", "RPCEPMap", |r, protocol, port| {
        let mut line = format!(
            "New-NetFirewallRule -DisplayName {} -Group {} -Direction Inbound -Action Allow -Protocol {protocol}",
            ps_quote(&r.name),
            ps_quote(&r.group)
        );
        if let Some(p) = port {
            let _ = write!(line, " -LocalPort {p}");
        }
        if let Some(remote) = &r.remote {
            let _ = write!(line, " -RemoteAddress {}", addr_list(remote));
        }
        let _ = write!(line, " -Description {}", ps_quote(&r.description));
        line
    });
}

fn netsh_quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "'"))
}

fn netsh(out: &mut String, rules: &[Rule]) {
    windows(out, rules, "REM", "RPC-EPMap", |r, protocol, port| {
        let mut line = format!(
            "netsh advfirewall firewall add rule name={} dir=in action=allow protocol={protocol}",
            netsh_quote(&r.name)
        );
        if let Some(p) = port {
            let _ = write!(line, " localport={p}");
        }
        if let Some(remote) = &r.remote {
            let _ = write!(line, " remoteip={}", addr_list(remote));
        }
        let _ = write!(line, " description={}", netsh_quote(&r.description));
        line
    });
}

fn nft_comment(s: &str) -> String {
    // nft comments are at most 128 bytes and may not contain double quotes.
    let mut c: String = s.replace('"', "'");
    if c.len() > 120 {
        let mut cut = 117;
        while !c.is_char_boundary(cut) {
            cut -= 1;
        }
        c.truncate(cut);
        c.push_str("...");
    }
    format!("\"{c}\"")
}

fn nftables(out: &mut String, rules: &[Rule], catalog: &Catalog) {
    let _ = writeln!(out, "# Load with: nft -f FILE (check first with: nft -c -f FILE). Everything else inbound is dropped.");
    out.push_str("\ntable inet svcscope {\n  chain inbound {\n    type filter hook input priority filter; policy drop;\n");
    out.push_str("    ct state established,related accept\n    ct state invalid drop\n    iif \"lo\" accept\n");
    out.push_str(
        "    # Not from the traffic: ICMP keeps path-MTU discovery and IPv6 neighbour discovery working.\n    meta l4proto { icmp, ipv6-icmp } accept\n",
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
            let _ = writeln!(out, "\n    # {}", r.heading);
        }
        if let Some(n) = &r.remote_note {
            let _ = writeln!(out, "    # {n}");
        }
        let matcher = match r.m {
            Match::Port { tcp, port } => {
                format!("{} dport {port}", if tcp { "tcp" } else { "udp" })
            }
            Match::EndpointMapper => "tcp dport 135".to_string(),
            Match::DynamicRpc => format!("tcp dport {{ {} }}", dynamic.join(", ")),
            Match::IpProtocol(n) => format!("meta l4proto {n}"),
        };
        let comment = nft_comment(r.name.trim_start_matches("svcscope: "));
        match &r.remote {
            None => {
                let _ = writeln!(out, "    {matcher} accept comment {comment}");
            }
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
                    let _ = writeln!(
                        out,
                        "    ip saddr {{ {} }} {matcher} accept comment {comment}",
                        v4.join(", ")
                    );
                }
                if !v6.is_empty() {
                    let _ = writeln!(
                        out,
                        "    ip6 saddr {{ {} }} {matcher} accept comment {comment}",
                        v6.join(", ")
                    );
                }
            }
        }
    }
    out.push_str("  }\n}\n");
}
