//! Payload verification against tshark, on real captures.
//!
//! `../shared/captures/truth/<capture>.tsv` and `../shared/captures/windows/truth/<capture>.tsv`
//! list per conversation the protocols tshark 4.0 dissected above the transport (`app`, and
//! `app_stack` with frame counts). This test runs the real binary (`analyze FILE --flows TMP -q`)
//! on every capture there and, for every conversation tshark dissected as something:
//!
//! - on a catalog label whose protocol is what tshark dissected, svcscope must say `verified`;
//! - on a catalog label whose protocol is not (MMS on X.400's TCP 102), `mismatch`, naming what
//!   tshark named;
//! - on unclassified traffic, the flow record's `payload` must be what tshark dissected.
//!
//! One rule stands between the two: a TCP conversation captured from its middle (no SYN in the
//! flow record) is `port-only` when its first bytes did not show the protocol — svcscope does not
//! claim a mismatch from the middle of a stream. Every other disagreement fails the test. The
//! figures (agreement per protocol) are printed (`--nocapture`).
//!
//! Skipped, with a message, when `../shared/captures` is absent.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use svcscope::catalog::Transport;
use svcscope::inspect::verify::expected_app;
use svcscope_testkit::truth::{self, pair};

/// What tshark's dissection says the conversation carries, in svcscope's names; `None` when it
/// dissected nothing above the transport (or only protocols svcscope has no recogniser for).
fn tshark_wire(app: &str, stack: &str) -> Option<&'static str> {
    let has = |p: &str| stack.split([';', ':', '(']).any(|x| x == p);
    Some(match app {
        "tpkt" if has("mms") => "iso-mms",
        "tpkt" if has("s7comm") => "s7comm",
        "tpkt" if has("rdp") || has("t125") || has("tls") => "rdp",
        "tpkt" => "iso-tsap",
        "nbss" if has("smb") || has("smb2") => "smb",
        "nbss" => "netbios-session",
        "smb" | "smb2" => "smb",
        "nbns" => "netbios-name",
        "nbdgm" => "netbios-datagram",
        "kerberos" => "kerberos",
        "ldap" | "cldap" => "ldap",
        "dns" | "mdns" => "dns",
        "dcerpc" => "dcerpc",
        "tds" => "tds",
        "tls" | "ssl" => "tls",
        "http" => "http",
        "ssdp" => "ssdp",
        "rtsp" => "rtsp",
        "sip" => "sip",
        "smtp" => "smtp",
        "pop" => "pop3",
        "imap" => "imap",
        "nntp" => "nntp",
        "ftp" => "ftp",
        "telnet" => "telnet",
        "ntp" => "ntp",
        "snmp" => "snmp",
        "radius" => "radius",
        "isakmp" => "ike",
        "udpencap" => "nat-t",
        "l2tp" => "l2tp",
        "pptp" => "pptp",
        "dhcp" | "bootp" => "dhcp",
        "tftp" => "tftp",
        "rdpudp" => "rdp-udp",
        _ => return None,
    })
}

/// The wire protocols a flow record's application protocol verifies with, and whether TLS on it
/// is the protocol wrapped.
fn expected_of(app: &str, transport: &str, port: Option<u16>) -> Option<(Vec<&'static str>, bool)> {
    let t = if transport == "udp" {
        Transport::Udp
    } else {
        Transport::Tcp
    };
    let app = if app.starts_with("RPC ") && app != "RPC over HTTP" {
        "RPC"
    } else {
        app
    };
    expected_app(app, t, port).map(|e| (e.wires.iter().map(|w| w.as_str()).collect(), e.tls))
}

fn truth_dirs(root: &Path) -> Vec<PathBuf> {
    let shared = root.join("../shared/captures");
    vec![shared.clone(), shared.join("windows")]
}

#[derive(Default)]
struct Tally {
    agree: u32,
    total: u32,
}

#[test]
fn verification_agrees_with_tshark_on_real_captures() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dirs: Vec<PathBuf> = truth_dirs(root)
        .into_iter()
        .filter(|d| d.join("truth").is_dir())
        .collect();
    if dirs.is_empty() {
        eprintln!("skipped: ../shared/captures is absent");
        return;
    }
    let tmp = std::env::temp_dir().join(format!("svcscope-verification-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let mut per_protocol: BTreeMap<String, Tally> = BTreeMap::new();
    let mut unclassified = Tally::default();
    let (mut mid_stream, mut mismatches) = (0, Vec::new());
    let mut failures = Vec::new();
    let mut n = 0;
    for dir in &dirs {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("truth"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "tsv"))
            .collect();
        files.sort();
        for truth_file in files {
            let capture = truth_file
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .to_string();
            n += 1;
            let seen = truth::flow_records(
                env!("CARGO_BIN_EXE_svcscope"),
                &dir.join(&capture),
                &tmp.join(format!("{n}.jsonl")),
            );
            for row in truth::rows(&truth_file) {
                let col = |name: &str| row[name].as_str();
                if !matches!(col("proto"), "tcp" | "udp") {
                    continue;
                }
                let Some(wire) = tshark_wire(col("app"), col("app_stack")) else {
                    continue;
                };
                let key = pair(col("proto"), col("client"), col("server"));
                let Some(records) = seen.get(&key) else {
                    continue;
                };
                let r = &records[0];
                if r["unanswered"] == true {
                    continue;
                }
                let at = format!("{capture} {}→{} ({wire})", col("client"), col("server"));
                let Some(app) = r["app_protocol"].as_str() else {
                    unclassified.total += 1;
                    if r["payload"] == wire {
                        unclassified.agree += 1;
                    } else {
                        failures.push(format!("{at}: unclassified, payload {}", r["payload"]));
                    }
                    continue;
                };
                let port = r["server_port"].as_u64().map(|p| p as u16);
                let Some((wires, tls_ok)) = expected_of(app, col("proto"), port) else {
                    continue;
                };
                let fits = wires.contains(&wire);
                let want = if fits {
                    "verified"
                } else if wire == "tls" && tls_ok {
                    "port-only"
                } else {
                    "mismatch"
                };
                let got = r["verification"].as_str().unwrap_or("null");
                let syn = r["tcp_flags"].as_str().is_some_and(|f| f.contains("SYN"));
                let t = per_protocol.entry(app.to_string()).or_default();
                t.total += 1;
                if got == want && (want != "mismatch" || r["payload"] == wire) {
                    t.agree += 1;
                    if want == "mismatch" {
                        mismatches.push(format!("{at}: {app} carries {wire}"));
                    }
                } else if col("proto") == "tcp" && !syn && got == "port-only" {
                    // Captured from the middle: the first bytes svcscope saw are not a message
                    // start, and it does not guess.
                    mid_stream += 1;
                    t.agree += 1;
                } else {
                    failures.push(format!(
                        "{at}: {app} is {got} (payload {}), tshark says {want}",
                        r["payload"]
                    ));
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    let (agree, total) = per_protocol
        .values()
        .fold((0, 0), |(a, t), x| (a + x.agree, t + x.total));
    println!("verification against tshark: {agree} of {total} labelled conversations agree ({mid_stream} of them port-only mid-stream TCP)");
    for (app, t) in &per_protocol {
        println!("  {app:32} {:4} of {:4}", t.agree, t.total);
    }
    println!(
        "unclassified conversations whose payload svcscope names as tshark does: {} of {}",
        unclassified.agree, unclassified.total
    );
    for m in &mismatches {
        println!("  mismatch: {m}");
    }
    assert!(
        mismatches
            .iter()
            .any(|m| m.contains("X.400 carries iso-mms")),
        "the MMS capture on TCP 102 is a mismatch: {mismatches:?}"
    );
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The MMS capture's server served only X.400's port, and every flow carried MMS: no draft unless
/// asked, and the message says why.
#[test]
fn rules_for_a_port_that_only_carried_another_protocol_need_keep_mismatches() {
    let capture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/captures/ndpi__iso9506-1-mms.pcap");
    if !capture.is_file() {
        eprintln!("skipped: {} is absent", capture.display());
        return;
    }
    let file = capture.to_str().unwrap();
    let exe = env!("CARGO_BIN_EXE_svcscope");
    let dir = std::env::temp_dir();
    let (code, out, err) =
        svcscope_testkit::run(exe, &dir, &["rules", "--host", "172.16.202.5", file]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert_eq!(
        err.trim_end(),
        "svcscope: no rules drafted: every port 172.16.202.5 served carried another protocol than the catalog's (tcp/102 carried iso-mms); --keep-mismatches drafts them"
    );
    let (code, out, err) = svcscope_testkit::run(
        exe,
        &dir,
        &["rules", "--host", "172.16.202.5", "--keep-mismatches", file],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(
            "# mismatch: every flow carried iso-mms (1 flow), not X.400 (kept: --keep-mismatches)"
        ),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("New-NetFirewallRule") && l.contains("-LocalPort 102")),
        "{out}"
    );
}
