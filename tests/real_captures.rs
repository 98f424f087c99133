//! Agreement with tshark on real third-party captures.
//!
//! `../shared/captures/` (next to the repository; never copied into it) holds captures written by
//! other projects' test suites, a `manifest.tsv` listing them and, per capture, `truth/<file>.tsv`:
//! the conversations as tshark 4.0 dissected them (protocol, client and server endpoints, packet
//! counts, how tshark chose the server side, and the dissectors it ran above the transport).
//!
//! For every capture this test runs the real binary (`analyze FILE --flows TMP --format json -q`),
//! checks that it does not crash, and matches each tshark conversation to svcscope's flows by
//! protocol and unordered endpoint pair. svcscope may split one tshark conversation into several
//! flows (a UDP flow idles out and comes back, a TCP 5-tuple is reused after a close): their packets
//! are summed. Packet counts that differ are printed.
//!
//! A conversation is *on a catalog port* when tshark's server port is a catalog port for its
//! transport, or its IP protocol (GRE, ESP, AH) has a catalog row. For those, svcscope agrees when
//! (a) it picks the same server side as tshark and (b) its application protocol is one that tshark's
//! dissectors support, per [`DISSECTORS`]. Where tshark dissected nothing (`data` or `-`), only the
//! server side is compared and the catalog's label for the port counts as agreement. Justified
//! disagreements are listed, with the reason, in `tests/real_captures_allowlist.tsv`; an entry that
//! no longer matches a disagreement fails the test, so the list stays honest.
//!
//! The test also checks that unanswered TCP attempts (`unanswered: true`) never count as a
//! service's traffic in the JSON report, using the SYN scan in `ndpi__synscan.pcap`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Overall (agreed + allow-listed) / (conversations on catalog ports) must reach this.
const MIN_AGREEMENT: f64 = 0.98;

/// The SYN scan of ~1,000 ports: nearly all of its flows must be unanswered.
const SYNSCAN: &str = "ndpi__synscan.pcap";

/// tshark dissector → the catalog application protocols that agree with it.
///
/// Columns: dissector name as tshark prints it in `app` / `app_stack`; the server port it applies
/// to (`None` = any port); the catalog `app_protocol` names that count as agreement. A conversation
/// agrees when svcscope's label is listed for *any* dissector in its stack (so `nbss:smb2` on 445
/// agrees with "SMB" and `nbss:smb` on 139 with "NetBIOS Session Service"). Wrappers that say
/// nothing about the service (tpkt and cotp off 3389, gss-api, imf, sdp, ses, pres, acse, …) are
/// absent on purpose: a stack made only of them, on a catalog port, is a disagreement. For
/// port-less protocols (GRE, ESP, AH) the protocol's own name is part of the stack.
const DISSECTORS: &[(&str, Option<u16>, &[&str])] = &[
    ("kerberos", None, &["Kerberos"]),
    ("ldap", None, &["LDAP Server", "Global Catalog Server"]),
    ("cldap", None, &["LDAP Server"]),
    ("dns", None, &["DNS"]),
    ("smb", Some(445), &["SMB"]),
    ("smb2", Some(445), &["SMB"]),
    ("nbss", None, &["NetBIOS Session Service"]),
    ("nbns", None, &["NetBIOS Name Resolution"]),
    ("nbdgm", None, &["NetBIOS Datagram Service"]),
    ("browser", None, &["NetBIOS Datagram Service"]),
    ("dcerpc", Some(135), &["RPC"]),
    ("dcerpc", Some(593), &["RPC over HTTP"]),
    ("dcerpc", Some(2103), &["MSMQ-RPC"]),
    ("dcerpc", Some(2105), &["MSMQ-RPC"]),
    (
        "http",
        None,
        &[
            "HTTP",
            "RPC over HTTP",
            "UPNP",
            "SSDP event notification",
            "SSDP legacy event notification",
        ],
    ),
    (
        "tls",
        None,
        &[
            "HTTPS",
            "LDAP SSL",
            "Global Catalog Server",
            "IMAP over SSL",
            "POP3 over SSL",
            "NNTP over SSL",
            "MOM-Encrypted",
            "Terminal Services",
        ],
    ),
    ("snmp", None, &["SNMP", "SNMP Traps Outbound"]),
    (
        "radius",
        None,
        &[
            "RADIUS Authentication",
            "RADIUS Accounting",
            "Legacy RADIUS",
        ],
    ),
    ("tds", None, &["SQL over TCP"]),
    ("rdp", None, &["Terminal Services"]),
    ("tpkt", Some(3389), &["Terminal Services"]),
    ("cotp", Some(3389), &["Terminal Services"]),
    ("ntp", None, &["NTP"]),
    ("pptp", None, &["PPTP"]),
    ("gre", None, &["GRE (IP protocol 47)"]),
    // ESP inside UDP 4500 (udpencap:esp) is NAT-T traffic.
    ("esp", None, &["IPSec ESP (IP protocol 50)", "NAT-T"]),
    ("ah", None, &["IPSec AH (IP protocol 51)"]),
    ("isakmp", None, &["IPSec ISAKMP", "NAT-T"]),
    ("udpencap", None, &["NAT-T"]),
    ("ftp", None, &["FTP control"]),
    ("ftp-data", None, &["FTP default data"]),
    ("tftp", None, &["TFTP"]),
    ("dhcp", None, &["DHCP Server"]),
    ("ssdp", None, &["SSDP"]),
    ("pop", None, &["POP3"]),
    ("imap", None, &["IMAP"]),
    ("smtp", None, &["SMTP"]),
    ("nntp", None, &["NNTP"]),
    ("telnet", None, &["Telnet"]),
    ("rtsp", None, &["RTSP"]),
];

/// tshark's names for "nothing dissected above the transport".
const UNDISSECTED: &[&str] = &["data", "-"];

/// IP protocol numbers of the port-less protocols tshark names in `proto`.
fn ip_protocol_number(proto: &str) -> Option<u8> {
    Some(match proto {
        "icmp" => 1,
        "igmp" => 2,
        "gre" => 47,
        "esp" => 50,
        "ah" => 51,
        "icmpv6" => 58,
        "ospf" => 89,
        "pim" => 103,
        "vrrp" => 112,
        "sctp" => 132,
        _ => return None,
    })
}

/// An address with its port (`None` for port-less protocols).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Endpoint {
    ip: IpAddr,
    port: Option<u16>,
}

impl Endpoint {
    /// Parses tshark's notation: `1.2.3.4:80`, `[2001:db8::1]:80`, or a bare address.
    fn parse(text: &str) -> Endpoint {
        fn bad<T>(text: &str) -> T {
            panic!("bad endpoint {text:?} in a truth file")
        }
        let (ip, port) = match text.strip_prefix('[') {
            Some(rest) => rest.split_once("]:").unwrap_or_else(|| bad(text)),
            None if text.matches(':').count() == 1 => text.split_once(':').unwrap(),
            None => (text, ""),
        };
        Endpoint {
            ip: ip.parse().unwrap_or_else(|_| bad(text)),
            port: (!port.is_empty()).then(|| port.parse().unwrap_or_else(|_| bad(text))),
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.ip, self.port) {
            (IpAddr::V6(ip), Some(p)) => write!(f, "[{ip}]:{p}"),
            (ip, Some(p)) => write!(f, "{ip}:{p}"),
            (ip, None) => write!(f, "{ip}"),
        }
    }
}

/// (protocol, lower endpoint, higher endpoint): a conversation regardless of direction.
type PairKey = (String, Endpoint, Endpoint);

fn pair_key(proto: &str, a: Endpoint, b: Endpoint) -> PairKey {
    (proto.to_string(), a.min(b), a.max(b))
}

/// One row of `truth/<file>.tsv`.
struct Conversation {
    proto: String,
    client_text: String,
    server_text: String,
    client: Endpoint,
    server: Endpoint,
    packets: u64,
    pkts_c2s: u64,
    pkts_s2c: u64,
    basis: String,
    app: String,
    app_stack: String,
}

impl Conversation {
    /// The dissectors tshark ran above the transport (plus the protocol itself when port-less),
    /// without the "not dissected" markers.
    fn dissectors(&self) -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        if self.server.port.is_none() {
            names.insert(self.proto.clone());
        }
        names.insert(self.app.clone());
        for stack in self.app_stack.split(';') {
            let stack = stack.split('(').next().unwrap_or_default();
            names.extend(stack.split(':').map(str::to_string));
        }
        names.retain(|n| !n.is_empty() && !UNDISSECTED.contains(&n.as_str()));
        names
    }

    fn describe(&self) -> String {
        format!(
            "{} {} -> {} (tshark: {} pkts, side by {}, app {}, stack {})",
            self.proto,
            self.client_text,
            self.server_text,
            self.packets,
            self.basis,
            self.app,
            self.app_stack
        )
    }
}

/// The fields of a `--flows` record this test uses.
struct FlowRec {
    transport: String,
    client: Endpoint,
    server: Endpoint,
    app_protocol: Option<String>,
    /// The services the flow is credited with, and how they are known.
    services: Vec<String>,
    service_basis: String,
    server_rule: String,
    provenance: String,
    packets: u64,
    unanswered: bool,
    one_direction: bool,
    end_reason: String,
}

impl FlowRec {
    fn from_json(v: &Value) -> FlowRec {
        let s = |k: &str| -> String {
            v[k].as_str()
                .unwrap_or_else(|| panic!("flow record without {k}: {v}"))
                .to_string()
        };
        let port = |k: &str| v[k].as_u64().map(|p| u16::try_from(p).expect("port"));
        let n = |k: &str| {
            v[k].as_u64()
                .unwrap_or_else(|| panic!("flow record without {k}: {v}"))
        };
        let ip = |k: &str| -> IpAddr {
            s(k).parse()
                .unwrap_or_else(|_| panic!("bad address in {k}: {v}"))
        };
        FlowRec {
            transport: s("transport"),
            client: Endpoint {
                ip: ip("client_addr"),
                port: port("client_port"),
            },
            server: Endpoint {
                ip: ip("server_addr"),
                port: port("server_port"),
            },
            app_protocol: v["app_protocol"].as_str().map(str::to_string),
            services: v["services"]
                .as_array()
                .expect("services")
                .iter()
                .map(|s| s.as_str().expect("service name").to_string())
                .collect(),
            service_basis: s("service_basis"),
            server_rule: s("server_rule"),
            provenance: s("provenance"),
            packets: n("packets_c2s") + n("packets_s2c"),
            unanswered: v["unanswered"].as_bool().expect("unanswered"),
            one_direction: v["one_direction"].as_bool().expect("one_direction"),
            end_reason: s("end_reason"),
        }
    }

    fn describe(&self) -> String {
        format!(
            "{} -> {} (rule {}, label {}, provenance {}, {} pkts{})",
            self.client,
            self.server,
            self.server_rule,
            self.app_protocol.as_deref().unwrap_or("none"),
            self.provenance,
            self.packets,
            if self.unanswered { ", unanswered" } else { "" }
        )
    }
}

/// The catalog as the binary lists it.
struct CatalogPorts {
    /// (transport, port) → application protocols.
    ports: HashMap<(String, u16), BTreeSet<String>>,
    /// IP protocol number → application protocols.
    ip_protocols: HashMap<u8, BTreeSet<String>>,
}

impl CatalogPorts {
    fn load(bin: &Path) -> CatalogPorts {
        let out = Command::new(bin)
            .args(["catalog", "--format", "json"])
            .output()
            .expect("run svcscope catalog");
        assert!(out.status.success(), "svcscope catalog failed: {out:?}");
        let rows: Vec<Value> = serde_json::from_slice(&out.stdout).expect("catalog JSON");
        let mut catalog = CatalogPorts {
            ports: HashMap::new(),
            ip_protocols: HashMap::new(),
        };
        for row in &rows {
            let app = row["app_protocol"].as_str().expect("app_protocol");
            let transport = row["transport"].as_str().expect("transport");
            if let Some(port) = row["port"].as_u64() {
                catalog
                    .ports
                    .entry((transport.to_string(), u16::try_from(port).expect("port")))
                    .or_default()
                    .insert(app.to_string());
            }
            if let Some(p) = row["ip_protocol"].as_u64() {
                catalog
                    .ip_protocols
                    .entry(u8::try_from(p).expect("ip protocol"))
                    .or_default()
                    .insert(app.to_string());
            }
        }
        assert!(!catalog.ports.is_empty(), "the catalog lists no ports");
        catalog
    }

    /// The catalog labels of a conversation's server, if it is on a catalog port.
    fn labels_for(&self, c: &Conversation) -> Option<&BTreeSet<String>> {
        match c.server.port {
            Some(port) => self.ports.get(&(c.proto.clone(), port)),
            None => ip_protocol_number(&c.proto).and_then(|n| self.ip_protocols.get(&n)),
        }
    }
}

/// One line of `tests/real_captures_allowlist.tsv`.
struct AllowEntry {
    line: usize,
    capture: String,
    proto: String,
    client: String,
    server: String,
    reason: String,
}

fn load_allowlist(path: &Path) -> Vec<AllowEntry> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut entries = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') || line.starts_with("capture\t") {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        assert!(
            cols.len() == 5 && !cols[4].trim().is_empty(),
            "{}:{}: want 5 tab-separated columns (capture, proto, client, server, reason)",
            path.display(),
            i + 1
        );
        entries.push(AllowEntry {
            line: i + 1,
            capture: cols[0].to_string(),
            proto: cols[1].to_string(),
            client: cols[2].to_string(),
            server: cols[3].to_string(),
            reason: cols[4].to_string(),
        });
    }
    entries
}

/// Reads a TSV file with a header line into maps from column name to value.
fn read_tsv(path: &Path) -> Vec<HashMap<String, String>> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines.next().expect("header line").split('\t').collect();
    lines
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            assert_eq!(
                cols.len(),
                header.len(),
                "{}: ragged line {line:?}",
                path.display()
            );
            header
                .iter()
                .zip(cols)
                .map(|(h, c)| (h.to_string(), c.to_string()))
                .collect()
        })
        .collect()
}

fn load_truth(path: &Path) -> Vec<Conversation> {
    read_tsv(path)
        .into_iter()
        .filter(|r| r["proto"] != "l2")
        .map(|r| {
            let n = |k: &str| -> u64 {
                r[k].parse()
                    .unwrap_or_else(|_| panic!("{}: bad {k} in {r:?}", path.display()))
            };
            Conversation {
                proto: r["proto"].clone(),
                client: Endpoint::parse(&r["client"]),
                server: Endpoint::parse(&r["server"]),
                client_text: r["client"].clone(),
                server_text: r["server"].clone(),
                packets: n("packets"),
                pkts_c2s: n("pkts_c2s"),
                pkts_s2c: n("pkts_s2c"),
                basis: r["basis"].clone(),
                app: r["app"].clone(),
                app_stack: r["app_stack"].clone(),
            }
        })
        .collect()
}

/// What one run of `svcscope analyze` produced.
struct Run {
    flows: Vec<FlowRec>,
    report: Value,
    /// Set when the binary exited 1 and the report said why.
    input_error: Option<String>,
}

fn analyze(bin: &Path, capture: &Path, tag: usize) -> Run {
    let name = capture.file_name().unwrap().to_string_lossy();
    let flows_path = std::env::temp_dir().join(format!(
        "svcscope-real-captures-{}-{tag}-{name}.jsonl",
        std::process::id()
    ));
    let out = Command::new(bin)
        .arg("analyze")
        .arg(capture)
        .arg("--flows")
        .arg(&flows_path)
        .args(["--format", "json", "-q"])
        .output()
        .expect("run svcscope analyze");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let code = out.status.code();
    assert!(
        matches!(code, Some(0 | 1)),
        "{name}: svcscope crashed ({:?}); stderr:\n{stderr}",
        out.status
    );
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{name}: report is not JSON ({e}); stderr:\n{stderr}"));
    let errors: Vec<String> = report["inputs"]
        .as_array()
        .expect("inputs")
        .iter()
        .filter_map(|i| i["error"].as_str().map(str::to_string))
        .collect();
    let input_error = if code == Some(1) {
        assert!(
            !errors.is_empty(),
            "{name}: exit code 1 but no inputs[].error in the report; stderr:\n{stderr}"
        );
        Some(errors.join("; "))
    } else {
        None
    };
    let text = std::fs::read_to_string(&flows_path).unwrap_or_default();
    let _ = std::fs::remove_file(&flows_path);
    let flows = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            FlowRec::from_json(
                &serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("{name}: bad flow record ({e}): {l}")),
            )
        })
        .collect();
    Run {
        flows,
        report,
        input_error,
    }
}

/// A conversation on a catalog port where svcscope and tshark disagree.
struct Disagreement {
    capture: String,
    proto: String,
    client: String,
    server: String,
    detail: String,
}

#[derive(Default)]
struct Tally {
    conversations: usize,
    on_catalog: usize,
    agreed: usize,
    allowed: usize,
    disagreed: usize,
    packet_mismatches: usize,
    split: usize,
    unmatched: usize,
}

/// Checks that unanswered flows never reach the service views of the report: every application
/// protocol row counts exactly the answered flows carrying its label, every service row exactly
/// the answered flows credited to it (by evidence or by port), and the unanswered section counts
/// the rest.
fn check_unanswered_excluded(name: &str, run: &Run) {
    let answered = run.flows.iter().filter(|f| !f.unanswered);
    let mut by_app: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_service: BTreeMap<String, u64> = BTreeMap::new();
    for f in answered {
        if let Some(app) = &f.app_protocol {
            *by_app.entry(app.clone()).or_default() += 1;
        }
        if matches!(f.service_basis.as_str(), "evidence" | "port") {
            for s in &f.services {
                *by_service.entry(s.clone()).or_default() += 1;
            }
        }
    }
    let sum_rows = |key: &str, field: &str| -> BTreeMap<String, u64> {
        let mut m: BTreeMap<String, u64> = BTreeMap::new();
        for row in run.report[key].as_array().expect(key) {
            let flows = row["flows"].as_u64().expect("flows");
            if flows > 0 {
                *m.entry(row[field].as_str().expect(field).to_string())
                    .or_default() += flows;
            }
        }
        m
    };
    assert_eq!(
        sum_rows("app_protocols", "app_protocol"),
        by_app,
        "{name}: application-protocol rows must count exactly the answered labelled flows"
    );
    assert_eq!(
        sum_rows("services", "service"),
        by_service,
        "{name}: service rows must count exactly the answered flows credited to them"
    );
    let unanswered = run.flows.iter().filter(|f| f.unanswered).count() as u64;
    assert_eq!(
        run.report["unanswered"]["flows"].as_u64(),
        Some(unanswered),
        "{name}: the unanswered section must count the unanswered flows"
    );
}

#[test]
fn real_captures_agree_with_tshark() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let captures = root.join("../shared/captures");
    if !captures.join("manifest.tsv").is_file() {
        println!("skipped: ../shared/captures not present");
        return;
    }
    let started = std::time::Instant::now();
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_svcscope"));
    let catalog = CatalogPorts::load(&bin);
    let allow_path = root.join("tests/real_captures_allowlist.tsv");
    let allowlist = load_allowlist(&allow_path);
    let mut allow_used = vec![false; allowlist.len()];

    let manifest = read_tsv(&captures.join("manifest.tsv"));
    assert!(!manifest.is_empty(), "manifest.tsv lists no captures");

    let mut table: Vec<(String, Tally)> = Vec::new();
    let mut disagreements: Vec<Disagreement> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let mut input_errors: Vec<String> = Vec::new();
    let mut unanswered_problems: Vec<String> = Vec::new();
    let mut synscan: Option<(usize, usize)> = None;
    let mut off_catalog: BTreeMap<String, usize> = BTreeMap::new();
    // (conversations on dynamic ports that tshark dissected as DCE/RPC, FTP data or TFTP, labelled right)
    let mut dynamic = (0usize, 0usize);
    let mut dynamic_misses: Vec<String> = Vec::new();
    let mut split_reasons: BTreeMap<String, usize> = BTreeMap::new();

    for (idx, row) in manifest.iter().enumerate() {
        let name = row["file"].clone();
        let path = captures.join(&name);
        assert!(path.is_file(), "{name} is in manifest.tsv but not on disk");
        let run = analyze(&bin, &path, idx);
        if let Some(e) = &run.input_error {
            input_errors.push(format!("{name}: exit 1: {e}"));
        }
        check_unanswered_excluded(&name, &run);
        if name == SYNSCAN {
            let unanswered = run.flows.iter().filter(|f| f.unanswered).count();
            synscan = Some((run.flows.len(), unanswered));
        }
        let truth = load_truth(&captures.join("truth").join(format!("{name}.tsv")));

        let mut flows_by_pair: HashMap<PairKey, Vec<usize>> = HashMap::new();
        for (i, f) in run.flows.iter().enumerate() {
            flows_by_pair
                .entry(pair_key(&f.transport, f.client, f.server))
                .or_default()
                .push(i);
        }
        let mut matched = vec![false; run.flows.len()];
        let mut tally = Tally::default();

        for c in &truth {
            tally.conversations += 1;
            let key = pair_key(&c.proto, c.client, c.server);
            let ids = flows_by_pair.get(&key).cloned().unwrap_or_default();
            for &i in &ids {
                matched[i] = true;
            }
            let flows: Vec<&FlowRec> = ids.iter().map(|&i| &run.flows[i]).collect();
            if flows.is_empty() {
                tally.unmatched += 1;
                notes.push(format!("{name}: no svcscope flow for {}", c.describe()));
            }
            if flows.len() > 1 {
                tally.split += 1;
                // Why svcscope ended the earlier parts: "idle" (a UDP gap over the idle timeout) or
                // "reused" (a new SYN on a closed 5-tuple) are by design.
                let reasons: Vec<&str> = flows[..flows.len() - 1]
                    .iter()
                    .map(|f| f.end_reason.as_str())
                    .collect();
                *split_reasons
                    .entry(format!("{name}: ended by {}", reasons.join("+")))
                    .or_default() += 1;
            }
            let packets: u64 = flows.iter().map(|f| f.packets).sum();
            if !flows.is_empty() && packets != c.packets {
                tally.packet_mismatches += 1;
                notes.push(format!(
                    "{name}: packet count {packets} (svcscope) != {} (tshark) for {}",
                    c.packets,
                    c.describe()
                ));
            }
            // A TCP connection with no reply in the capture is an unanswered attempt, or — when
            // the client went on past its SYN (a capture of one direction, as ndpi__ocs.pcap
            // is) — service traffic seen in one direction; never traffic seen both ways.
            if c.proto == "tcp" && c.basis == "syn" && c.pkts_s2c == 0 && c.pkts_c2s > 0 {
                for f in flows.iter().filter(|f| !f.unanswered && !f.one_direction) {
                    unanswered_problems.push(format!(
                        "{name}: {} has no reply but svcscope's flow {} is neither unanswered nor one-direction",
                        c.describe(),
                        f.describe()
                    ));
                }
            }

            let Some(port_labels) = catalog.labels_for(c) else {
                // Off the catalog's ports: not scored, but what svcscope made of it is summarised
                // (dynamic RPC ports, FTP data, TFTP transfers, …).
                let tshark = match c.dissectors() {
                    d if d.is_empty() => "-".to_string(),
                    _ => c.app.clone(),
                };
                // Dynamic ports: DCE/RPC, FTP data and TFTP transfers that only learning can label.
                let expected = match c.app.as_str() {
                    "dcerpc" => Some("RPC"),
                    "ftp-data" => Some("FTP data"),
                    "tftp" => Some("TFTP"),
                    _ => None,
                };
                if let Some(prefix) = expected {
                    dynamic.0 += 1;
                    let right = !flows.is_empty()
                        && flows.iter().all(|f| {
                            f.server == c.server
                                && f.app_protocol
                                    .as_deref()
                                    .is_some_and(|a| a.starts_with(prefix))
                        });
                    if right {
                        dynamic.1 += 1;
                    } else {
                        dynamic_misses.push(format!(
                            "{name}: {} (tshark {}) -> {:?}",
                            c.describe(),
                            c.app,
                            flows.iter().map(|f| f.describe()).collect::<Vec<_>>()
                        ));
                    }
                }
                for f in &flows {
                    if f.server != c.server {
                        notes.push(format!(
                            "{name}: off the catalog's ports, server side differs: {}\n      svcscope {}",
                            c.describe(),
                            f.describe()
                        ));
                    }
                    let label = f.app_protocol.as_deref().unwrap_or("none");
                    *off_catalog
                        .entry(format!(
                            "{name}: {} tshark {tshark} -> svcscope {label} ({}{})",
                            c.proto,
                            f.provenance,
                            if f.unanswered { ", unanswered" } else { "" }
                        ))
                        .or_default() += 1;
                }
                continue;
            };
            tally.on_catalog += 1;
            let dissectors = c.dissectors();
            let accepted: BTreeSet<&str> = if dissectors.is_empty() {
                port_labels.iter().map(String::as_str).collect()
            } else {
                DISSECTORS
                    .iter()
                    .filter(|(d, port, _)| {
                        dissectors.contains(*d) && port.is_none_or(|p| c.server.port == Some(p))
                    })
                    .flat_map(|(_, _, apps)| apps.iter().copied())
                    .collect()
            };
            let mut problems = Vec::new();
            if flows.is_empty() {
                problems.push("no svcscope flow".to_string());
            }
            for f in &flows {
                let same_side = f.server == c.server && f.client == c.client;
                // A shared port's label joins its application protocols with " | " (TCP 2869:
                // "SSDP event notification | UPNP"); any of them agreeing is agreement.
                let label_ok = f
                    .app_protocol
                    .as_deref()
                    .is_some_and(|l| l.split(" | ").any(|part| accepted.contains(part)));
                if !same_side || !label_ok {
                    problems.push(format!(
                        "svcscope {}{}{}",
                        f.describe(),
                        if same_side {
                            ""
                        } else {
                            " [server side differs]"
                        },
                        if label_ok {
                            String::new()
                        } else {
                            format!(" [label not in {accepted:?}]")
                        }
                    ));
                }
            }
            if problems.is_empty() {
                tally.agreed += 1;
                continue;
            }
            let allowed = allowlist.iter().position(|e| {
                e.capture == name
                    && e.proto == c.proto
                    && e.client == c.client_text
                    && e.server == c.server_text
            });
            match allowed {
                Some(i) => {
                    tally.allowed += 1;
                    allow_used[i] = true;
                }
                None => {
                    tally.disagreed += 1;
                    disagreements.push(Disagreement {
                        capture: name.clone(),
                        proto: c.proto.clone(),
                        client: c.client_text.clone(),
                        server: c.server_text.clone(),
                        detail: format!("{}\n      {}", c.describe(), problems.join("\n      ")),
                    });
                }
            }
        }
        for (i, f) in run.flows.iter().enumerate() {
            if !matched[i] {
                notes.push(format!(
                    "{name}: svcscope flow {} {} matches no tshark conversation",
                    f.transport,
                    f.describe()
                ));
            }
        }
        table.push((name, tally));
    }

    // The SYN scan: nearly every flow is an unanswered attempt.
    let (scan_flows, scan_unanswered) = synscan.expect("ndpi__synscan.pcap is not in manifest.tsv");
    println!("{SYNSCAN}: {scan_unanswered} of {scan_flows} flows unanswered");
    assert!(
        scan_flows > 1000 && scan_unanswered as f64 >= 0.99 * scan_flows as f64,
        "{SYNSCAN}: only {scan_unanswered} of {scan_flows} flows are unanswered"
    );

    // Report.
    println!();
    println!(
        "{:<38} {:>6} {:>8} {:>7} {:>8} {:>9} {:>6} {:>6} {:>9}",
        "capture",
        "convs",
        "catalog",
        "agreed",
        "allowed",
        "disagreed",
        "split",
        "nomatch",
        "pkt-diff"
    );
    let mut total = Tally::default();
    for (name, t) in &table {
        println!(
            "{:<38} {:>6} {:>8} {:>7} {:>8} {:>9} {:>6} {:>6} {:>9}",
            name,
            t.conversations,
            t.on_catalog,
            t.agreed,
            t.allowed,
            t.disagreed,
            t.split,
            t.unmatched,
            t.packet_mismatches
        );
        total.conversations += t.conversations;
        total.on_catalog += t.on_catalog;
        total.agreed += t.agreed;
        total.allowed += t.allowed;
        total.disagreed += t.disagreed;
        total.split += t.split;
        total.unmatched += t.unmatched;
        total.packet_mismatches += t.packet_mismatches;
    }
    println!(
        "{:<38} {:>6} {:>8} {:>7} {:>8} {:>9} {:>6} {:>6} {:>9}",
        "TOTAL",
        total.conversations,
        total.on_catalog,
        total.agreed,
        total.allowed,
        total.disagreed,
        total.split,
        total.unmatched,
        total.packet_mismatches
    );
    let ratio = (total.agreed + total.allowed) as f64 / total.on_catalog.max(1) as f64;
    println!(
        "overall agreement on catalog ports: ({} agreed + {} allow-listed) / {} = {:.2}%",
        total.agreed,
        total.allowed,
        total.on_catalog,
        100.0 * ratio
    );
    for e in &input_errors {
        println!("input error (exit 1): {e}");
    }
    if !notes.is_empty() {
        println!("\nnotes:");
        for n in &notes {
            println!("  {n}");
        }
    }
    if !split_reasons.is_empty() {
        println!("\ntshark conversations split into several svcscope flows (packets summed):");
        for (k, n) in &split_reasons {
            println!("  {n:>5}  {k}");
        }
    }
    println!(
        "\ndynamic ports (DCE/RPC, FTP data, TFTP off the catalog's ports): {} of {} labelled with the right protocol and server",
        dynamic.1, dynamic.0
    );
    for m in &dynamic_misses {
        println!("  not labelled: {m}");
    }
    assert!(
        dynamic.0 > 0,
        "no dynamic-port conversations found in the truth files"
    );
    assert!(
        dynamic.1 * 10 >= dynamic.0 * 8,
        "dynamic-port labelling fell to {} of {}",
        dynamic.1,
        dynamic.0
    );
    if !off_catalog.is_empty() {
        println!("\nconversations off catalog ports (not scored), flows by outcome:");
        for (k, n) in &off_catalog {
            println!("  {n:>5}  {k}");
        }
    }
    let allowed: Vec<&AllowEntry> = allowlist
        .iter()
        .zip(&allow_used)
        .filter(|(_, &used)| used)
        .map(|(e, _)| e)
        .collect();
    if !allowed.is_empty() {
        println!("\nallow-listed disagreements:");
        for e in allowed {
            println!(
                "  {} {} {} -> {}: {}",
                e.capture, e.proto, e.client, e.server, e.reason
            );
        }
    }
    if !disagreements.is_empty() {
        println!("\ndisagreements:");
        for d in &disagreements {
            println!(
                "  {} {} {} -> {}\n      {}",
                d.capture, d.proto, d.client, d.server, d.detail
            );
        }
    }
    println!("\n(real-capture test took {:.1?})", started.elapsed());

    let stale: Vec<String> = allowlist
        .iter()
        .zip(&allow_used)
        .filter(|(_, &used)| !used)
        .map(|(e, _)| {
            format!(
                "line {}: {} {} {} -> {}",
                e.line, e.capture, e.proto, e.client, e.server
            )
        })
        .collect();
    assert!(
        stale.is_empty(),
        "allow-list entries that match no disagreement any more (remove them):\n{}",
        stale.join("\n")
    );
    assert!(
        unanswered_problems.is_empty(),
        "flows without a reply marked neither unanswered nor one-direction:\n{}",
        unanswered_problems.join("\n")
    );
    assert!(
        ratio >= MIN_AGREEMENT,
        "agreement with tshark on catalog ports is {:.2}% < {:.0}% ({} disagreements listed above)",
        100.0 * ratio,
        100.0 * MIN_AGREEMENT,
        disagreements.len()
    );
}
