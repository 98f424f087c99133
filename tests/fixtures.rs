//! The real binary on every fixture: golden reports and flow records (tests/golden/), plus the
//! expectations each fixture was built for (fixtures/README.md), checked field by field.
//!
//! After an intended change of output, review the difference and rewrite the goldens with
//! `SVCSCOPE_BLESS=1 cargo test --test fixtures`.

use std::path::{Path, PathBuf};

use serde_json::Value;
use svcscope_testkit::Run;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn svcscope(args: &[&str]) -> Run {
    Run::of(&mut svcscope_testkit::command(
        env!("CARGO_BIN_EXE_svcscope"),
        &root(),
        args,
    ))
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("svcscope-fixtures-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Analyses fixtures; returns (report, flow records, exit code, stderr).
fn analyze(files: &[&str], extra: &[&str]) -> (Value, Vec<Value>, i32, String) {
    // Tests run in parallel and several analyse the same fixture: one file each run.
    static RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let flows = temp(&format!(
        "{}.{run}.flows",
        files.join("+").replace('/', "_")
    ));
    let mut args = vec![
        "analyze",
        "--format",
        "json",
        "-q",
        // The host name by default: the goldens name a sensor of their own.
        "--sensor",
        "fixture",
        "--flows",
        flows.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    args.extend(files.iter().copied());
    let run = svcscope(&args);
    let report: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("report JSON: {e}\n{}", run.stdout));
    let records = std::fs::read_to_string(&flows)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("flow record JSON"))
        .collect();
    (report, records, run.code, run.stderr)
}

/// Compares text with a golden file, or rewrites it under SVCSCOPE_BLESS=1.
fn golden(name: &str, actual: &str) {
    let path = root().join("tests/golden").join(name);
    if std::env::var_os("SVCSCOPE_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "missing golden {}; run with SVCSCOPE_BLESS=1 to create it",
            path.display()
        )
    });
    if expected != actual {
        let diff: Vec<String> = expected
            .lines()
            .zip(actual.lines())
            .enumerate()
            .filter(|(_, (e, a))| e != a)
            .take(5)
            .map(|(i, (e, a))| format!("line {}:\n  expected: {e}\n  actual:   {a}", i + 1))
            .collect();
        panic!(
            "{} differs from svcscope's output ({} vs {} lines):\n{}",
            path.display(),
            expected.lines().count(),
            actual.lines().count(),
            diff.join("\n")
        );
    }
}

/// (transport, client, server, app_protocol, packets_c2s, packets_s2c, server_rule) of each flow.
fn summary(records: &[Value]) -> Vec<(String, String, String, String, u64, u64, String)> {
    let ep = |a: &Value, p: &Value| match p.as_u64() {
        Some(p) => format!("{}:{p}", a.as_str().unwrap()),
        None => a.as_str().unwrap().to_string(),
    };
    records
        .iter()
        .map(|r| {
            (
                r["transport"].as_str().unwrap().to_string(),
                ep(&r["client_addr"], &r["client_port"]),
                ep(&r["server_addr"], &r["server_port"]),
                r["app_protocol"].as_str().unwrap_or("-").to_string(),
                r["packets_c2s"].as_u64().unwrap(),
                r["packets_s2c"].as_u64().unwrap(),
                r["server_rule"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn flow<'a>(records: &'a [Value], server: &str) -> &'a Value {
    records
        .iter()
        .find(|r| {
            let s = match r["server_port"].as_u64() {
                Some(p) => format!("{}:{p}", r["server_addr"].as_str().unwrap()),
                None => r["server_addr"].as_str().unwrap().to_string(),
            };
            s == server
        })
        .unwrap_or_else(|| panic!("no flow to {server} in {:#?}", summary(records)))
}

fn app_row<'a>(report: &'a Value, app: &str, port: Option<u64>) -> &'a Value {
    report["app_protocols"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["app_protocol"] == app && (port.is_none() || r["port"].as_u64() == port))
        .unwrap_or_else(|| panic!("no app_protocols row {app} {port:?}"))
}

fn service<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["service"] == name)
        .unwrap_or_else(|| panic!("no services row {name}"))
}

fn has_service(report: &Value, name: &str) -> bool {
    report["services"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["service"] == name)
}

const FIXTURES: [&str; 23] = [
    "catalog-rows.pcap",
    "one-direction.pcap",
    "tunnels.pcapng",
    "domain.pcapng",
    "ipv4-fragments.pcap",
    "ipv6-ext.pcap",
    "malformed.pcap",
    "multi-a.pcap",
    "multi-b.pcap",
    "multi-if.pcapng",
    "null.pcap",
    "rawip.pcap",
    "server-side.pcap",
    "shared-ports.pcap",
    "sll.pcap",
    "sll2.pcap",
    "snaplen.pcap",
    "truncated.pcap",
    "vlan.pcap",
    "rpc.pcap",
    "ftp.pcap",
    "tftp.pcap",
    "smb.pcap",
];

#[test]
fn every_fixture_matches_its_golden_report_and_flow_records() {
    for name in FIXTURES {
        let path = format!("fixtures/{name}");
        let (report, records, _, _) = analyze(&[&path], &[]);
        let mut report = report;
        report["generator"] = Value::String("svcscope".into());
        golden(
            &format!("{name}.report.json"),
            &(serde_json::to_string_pretty(&report).unwrap() + "\n"),
        );
        let lines: String = records
            .iter()
            .map(|r| serde_json::to_string(r).unwrap() + "\n")
            .collect();
        golden(&format!("{name}.flows.jsonl"), &lines);
    }
}

/// Flows classified from another address pair's traffic, which classifier workers sharded by address
/// pair cannot relate (README, Performance): (fixture, client, server, the server rule one worker
/// applies, a filter without the flow under which the reports must be the same).
const LEARNT_ACROSS_PAIRS: [(&str, &str, &str, &str, Option<&str>); 2] = [
    // 192.0.2.10's endpoint-mapper answer to 192.0.2.101 announced 192.0.2.10:49668 for Net Logon.
    (
        "rpc.pcap",
        "192.0.2.103:49740",
        "192.0.2.10:49668",
        "announced",
        Some("not host 192.0.2.103"),
    ),
    // 224.0.0.251:5353 is an endpoint other hosts' mDNS flows had already used; the report does not
    // show server rules.
    (
        "domain.pcapng",
        "192.0.2.115:5353",
        "224.0.0.251:5353",
        "repeated-endpoint",
        None,
    ),
];

/// The report without what legitimately differs with several workers: `peak_flows`, which is then the
/// sum of the workers' peaks (each worker's table peaks at its own moment).
fn comparable_report(mut report: Value) -> Value {
    let health = report["health"].as_object_mut().expect("health");
    assert!(
        health.remove("peak_flows").is_some(),
        "no health.peak_flows"
    );
    report
}

/// Where two JSON values first differ (a JSON pointer and both values), if they do.
fn first_difference(a: &Value, b: &Value, at: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => x
            .keys()
            .chain(y.keys().filter(|k| !x.contains_key(*k)))
            .find_map(|k| {
                let (u, v) = (&x.get(k).cloned(), &y.get(k).cloned());
                let (u, v) = (
                    u.as_ref().unwrap_or(&Value::Null),
                    v.as_ref().unwrap_or(&Value::Null),
                );
                first_difference(u, v, &format!("{at}/{k}"))
            }),
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (u, v))| first_difference(u, v, &format!("{at}/{i}"))),
        _ => (a != b).then(|| format!("{at}: {a} vs {b}")),
    }
}

/// Flow records keyed by client and server, sorted (several workers write them in another order).
fn records_by_flow(records: Vec<Value>) -> Vec<(String, String, Value)> {
    let ep = |r: &Value, side: &str| match r[format!("{side}_port")].as_u64() {
        Some(p) => format!("{}:{p}", r[format!("{side}_addr")].as_str().unwrap()),
        None => r[format!("{side}_addr")].as_str().unwrap().to_string(),
    };
    let mut out: Vec<(String, String, Value)> = records
        .into_iter()
        .map(|r| (ep(&r, "client"), ep(&r, "server"), r))
        .collect();
    out.sort_by_cached_key(|(c, s, r)| (c.clone(), s.clone(), r.to_string()));
    out
}

#[test]
fn three_workers_give_the_report_and_flow_records_of_one() {
    for name in FIXTURES {
        let path = format!("fixtures/{name}");
        let (one, one_records, one_code, one_err) = analyze(&[&path], &["--workers", "1"]);
        let (three, three_records, three_code, three_err) = analyze(&[&path], &["--workers", "3"]);
        assert_eq!((one_code, &one_err), (three_code, &three_err), "{name}");
        let learnt: Vec<_> = LEARNT_ACROSS_PAIRS.iter().filter(|l| l.0 == name).collect();
        match learnt.iter().find_map(|l| l.4) {
            None => {
                let diff = first_difference(&comparable_report(one), &comparable_report(three), "");
                assert_eq!(
                    diff, None,
                    "{name}: report: one worker vs three (first difference)"
                );
            }
            Some(filter) => {
                let (one, ..) = analyze(&[&path], &["--workers", "1", "--filter", filter]);
                let (three, ..) = analyze(&[&path], &["--workers", "3", "--filter", filter]);
                let diff = first_difference(&comparable_report(one), &comparable_report(three), "");
                assert_eq!(
                    diff, None,
                    "{name} with --filter '{filter}': report: one worker vs three (first difference)"
                );
            }
        }
        let (one, three) = (records_by_flow(one_records), records_by_flow(three_records));
        assert_eq!(one.len(), three.len(), "{name}: flow records");
        assert!(!one.is_empty(), "{name}: no flow records");
        for ((c, s, r1), (_, _, r3)) in one.iter().zip(&three) {
            match learnt.iter().find(|l| l.1 == c && l.2 == s) {
                None => assert_eq!(
                    first_difference(r1, r3, ""),
                    None,
                    "{name}: flow record {c} -> {s}: one worker vs three (first difference)"
                ),
                Some(l) => {
                    assert_eq!(r1["server_rule"], l.3, "{name}: {c} -> {s} with 1 worker");
                    // The same flow, whatever its classification.
                    for key in ["first_seen", "last_seen", "packets_c2s", "packets_s2c"] {
                        assert_eq!(r1[key], r3[key], "{name}: {c} -> {s}: {key}");
                    }
                }
            }
        }
    }
}

#[test]
fn the_bundled_domain_capture_reads_well_in_a_terminal_and_as_csv() {
    let run = svcscope(&["analyze", "--sensor", "fixture", "fixtures/domain.pcapng"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let table = run.stdout.replacen(
        &format!("svcscope {}", env!("CARGO_PKG_VERSION")),
        "svcscope",
        1,
    );
    golden("domain.pcapng.table.txt", &table);
    let run = svcscope(&[
        "analyze",
        "--format",
        "csv",
        "--sensor",
        "fixture",
        "fixtures/domain.pcapng",
    ]);
    golden("domain.pcapng.csv", &run.stdout);
}

#[test]
fn domain_capture_has_the_services_of_a_windows_domain() {
    let (report, records, code, _) = analyze(&["fixtures/domain.pcapng"], &[]);
    assert_eq!(code, 0);
    assert_eq!(report["totals"]["flows"], 312);
    assert_eq!(report["totals"]["packets"], 4927);
    // Per the generator: (app, port, flows, packets c→s, packets s→c).
    for (app, port, flows, c2s, s2c) in [
        // 18 logons (AS and TGS), 6 ticket renewals, tickets for the 3 remote desktop, 2 SQL and
        // 4 HTTPS sessions.
        ("Kerberos", 88, 51, 339, 204),
        // 18 logons' binds, and an application's simple bind.
        ("LDAP Server", 389, 19, 151, 112),
        ("Global Catalog Server", 3268, 6, 48, 36),
        // 18 endpoint-mapper lookups (a bind to epmapper leaves the port's label).
        ("RPC", 135, 18, 126, 72),
        ("Terminal Services", 3389, 3, 408, 292),
        ("SQL over TCP", 1433, 2, 38, 36),
        ("PPTP", 1723, 1, 13, 9),
        ("HTTPS", 443, 4, 49, 50),
    ] {
        let row = report["app_protocols"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["app_protocol"] == app && r["port"] == port && r["transport"] == "tcp")
            .unwrap_or_else(|| panic!("{app} tcp/{port} missing"));
        assert_eq!(
            (&row["flows"], &row["packets_c2s"], &row["packets_s2c"]),
            (&flows.into(), &c2s.into(), &s2c.into()),
            "{app}"
        );
    }
    // SMB on the DC and the file server: one label, 38 flows (19 each).
    let smb = app_row(&report, "SMB", Some(445));
    assert_eq!(smb["flows"], 38);
    assert_eq!(smb["servers"], 2);
    assert_eq!(smb["shared"], true);
    // Net Logon on 49667, which the endpoint mapper announced to the same client a moment before;
    // its bind names it.
    let netlogon = app_row(&report, "RPC netlogon (MS-NRPC)", None);
    assert_eq!(netlogon["flows"], 18);
    assert!(records
        .iter()
        .filter(|r| r["server_port"] == 49667)
        .all(|r| r["app_protocol"] == "RPC netlogon (MS-NRPC)"
            && r["provenance"] == "rpc-bind"
            && r["services"] == serde_json::json!(["Net Logon"])));
    // The lookups on 135: the endpoint mapper's own service, and what the client asked for.
    assert!(records
        .iter()
        .filter(|r| r["server_port"] == 135)
        .all(|r| r["services"] == serde_json::json!(["Remote Procedure Call (RPC)", "Net Logon"])));
    // Replication from DC02, joined mid-stream: its alter_context names drsuapi.
    let drs: Vec<&Value> = records
        .iter()
        .filter(|r| r["server_port"] == 49669 && r["client_addr"] == "192.0.2.11")
        .collect();
    assert_eq!(drs.len(), 1);
    assert_eq!(
        (&drs[0]["app_protocol"], &drs[0]["provenance"]),
        (&"RPC drsuapi (MS-DRSR)".into(), &"rpc-bind".into())
    );
    // The VPN gateway's IP protocols and IKE.
    assert_eq!(
        app_row(&report, "GRE (IP protocol 47)", None)["packets_c2s"],
        45
    );
    assert_eq!(
        app_row(&report, "IPSec ESP (IP protocol 50)", None)["packets_s2c"],
        49
    );
    assert_eq!(app_row(&report, "NAT-T", Some(4500))["flows"], 1);
    // Per service: a port one service owns credits it; shared ports with no evidence credit no
    // one, and are listed as undetermined with their candidates.
    // Its payload is Kerberos: evidence.
    let kdc = service(&report, "Kerberos Key Distribution Center");
    assert_eq!(kdc["flows"], 51 + 18);
    assert_eq!(
        (
            &kdc["basis"],
            &kdc["evidence_flows"],
            &kdc["candidate_flows"]
        ),
        (&"evidence".into(), &69.into(), &0.into())
    );
    // HTTPS is encrypted, and its Negotiate authentication travels inside TLS: the ticket each
    // client asked the KDC for `HTTP/portal.corp.example` just before, with the DNS answer naming
    // the server, says which of the port's candidates it is (the web server), on every flow.
    let https: Vec<&Value> = records.iter().filter(|r| r["server_port"] == 443).collect();
    assert_eq!(https.len(), 4);
    for r in https {
        assert_eq!(
            (&r["services"], &r["service_basis"]),
            (
                &serde_json::json!(["World Wide Web Publishing Service"]),
                &"evidence".into()
            ),
            "{r}"
        );
        assert!(
            r["evidence"].as_array().unwrap().iter().any(|e| e["kind"]
                == "kerberos-ticket"
                && e["value"] == "HTTP/portal.corp.example"),
            "{r}"
        );
    }
    assert_eq!(
        report["health"]["inspection"]["flows_credited_by_tickets"],
        28
    );
    // SMB flows are credited from what they carry: the dialect (Server), the shares, the pipes and
    // the interfaces bound over them, the DFS referral; the port's other candidates get nothing.
    for name in ["Fax Service", "License Logging"] {
        assert!(
            !has_service(&report, name),
            "{name}: a candidate of shared ports only, credited with traffic"
        );
    }
    for (name, flows) in [
        ("Server", 40),
        ("Print Spooler", 4),
        // SMB's netlogon pipe, the endpoint-mapper lookups for it, the calls on 49667 and the
        // CLDAP pings its service answers.
        ("Net Logon", 18 + 18 + 18 + 18),
        ("Distributed File System", 18),
    ] {
        let row = service(&report, name);
        assert_eq!(
            (&row["basis"], &row["flows"], &row["evidence_flows"]),
            (&"evidence".into(), &flows.into(), &flows.into()),
            "{name}"
        );
    }
    assert!(
        !report["undetermined"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["app_protocol"] == "SMB"),
        "every SMB flow carries evidence"
    );
    // LDAP and CLDAP are verified: every flow to 389 and 3268 is the Local Security Authority's
    // (each TCP session binds with Kerberos for ldap/dc01), the pings also Net Logon's; DFS, the
    // port's other candidate, gets none of them.
    assert!(
        !report["undetermined"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["app_protocol"] == "LDAP Server"),
        "every LDAP flow carries evidence"
    );
    let ldap: Vec<&Value> = records
        .iter()
        .filter(|r| matches!(r["server_port"].as_u64(), Some(389 | 3268)))
        .collect();
    assert_eq!(ldap.len(), 18 + 18 + 6 + 1);
    // The application's simple bind: its password in clear, flagged.
    let (simple, ldap): (Vec<&Value>, Vec<&Value>) = ldap.into_iter().partition(|r| {
        r["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["value"] == "simple (password in clear)")
    });
    assert_eq!(simple.len(), 1);
    assert_eq!(simple[0]["client_addr"], "192.0.2.107");
    assert!(simple[0]["evidence"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!({
            "kind": "auth",
            "value": "clear password cn=svc-helpdesk,ou=Service Accounts,dc=corp,dc=example",
            "services": []
        })));
    assert_eq!(
        simple[0]["services"],
        serde_json::json!(["Local Security Authority"])
    );
    let weak: Vec<(&str, &str)> = report["authentication"]["weak"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| (w["service"].as_str().unwrap(), w["name"].as_str().unwrap()))
        .collect();
    assert_eq!(
        weak,
        [
            ("Kerberos Key Distribution Center", "rc4-hmac (weak)"),
            ("Local Security Authority", "clear-password"),
            ("Server", "ntlmv1"),
        ]
    );
    for r in &ldap {
        let kinds: Vec<&str> = r["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        let (want_kinds, want_services) = if r["transport"] == "udp" {
            (
                vec!["ldap", "ldap-ping", "ldap-ping"],
                serde_json::json!(["Local Security Authority", "Net Logon"]),
            )
        } else {
            (
                vec![
                    "ldap",
                    "ldap-bind",
                    "auth",
                    "kerberos-spn",
                    "kerberos-etype",
                ],
                serde_json::json!(["Local Security Authority"]),
            )
        };
        assert_eq!(kinds, want_kinds, "{r}");
        assert_eq!(r["services"], want_services, "{r}");
    }
    assert_eq!(report["health"]["inspection"]["ldap_pings"], 18);
    assert_eq!(report["health"]["inspection"]["ldap_unreadable"], 0);
    let t = &report["totals"];
    let undetermined_flows: u64 = report["undetermined"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["flows"].as_u64().unwrap())
        .sum();
    assert_eq!(t["undetermined_flows"], undetermined_flows);
    assert!(t["evidence_flows"].as_u64().unwrap() >= 40);
    let sum_app: u64 = report["app_protocols"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["flows"].as_u64().unwrap())
        .sum();
    assert_eq!(
        sum_app + report["unclassified"]["flows"].as_u64().unwrap(),
        312
    );
    // Names from the DNS answers in the capture, next to the addresses they name.
    let names = report["names"].as_array().unwrap();
    for (addr, name) in [
        ("192.0.2.10", "dc01.corp.example"),
        ("192.0.2.30", "sql01.corp.example"),
        ("192.0.2.40", "ts01.corp.example"),
    ] {
        assert!(
            names
                .iter()
                .any(|n| n["addr"] == addr && n["names"][0] == name),
            "{addr} {name} in {names:?}"
        );
    }
    // Unclassified: the generator's unknown ports.
    let mut ports: Vec<String> = report["unclassified"]["top_ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| format!("{}/{}", p["transport"].as_str().unwrap(), p["port"]))
        .collect();
    // (Most bytes first; which of them carried more is the generator's random sizes.)
    ports.sort();
    assert_eq!(ports, ["tcp/5432", "tcp/8443", "udp/5353"]);
}

#[test]
fn catalog_rows_fixture_labels_every_kind_of_row() {
    let (_, records, _, _) = analyze(&["fixtures/catalog-rows.pcap"], &[]);
    let s = summary(&records);
    let expect =
        |transport: &str, client: &str, server: &str, app: &str, c2s: u64, s2c: u64, rule: &str| {
            assert!(
                s.contains(&(
                    transport.into(),
                    client.into(),
                    server.into(),
                    app.into(),
                    c2s,
                    s2c,
                    rule.into()
                )),
                "{transport} {client} -> {server} {app} {c2s}/{s2c} {rule} not in {s:#?}"
            );
        };
    expect(
        "tcp",
        "192.0.2.101:49152",
        "192.0.2.10:88",
        "Kerberos",
        6,
        4,
        "syn",
    );
    expect(
        "udp",
        "192.0.2.101:49153",
        "192.0.2.10:53",
        "DNS",
        1,
        1,
        "catalog-port",
    );
    expect(
        "gre",
        "203.0.113.50",
        "192.0.2.1",
        "GRE (IP protocol 47)",
        3,
        3,
        "first-packet",
    );
    expect(
        "esp",
        "203.0.113.60",
        "192.0.2.1",
        "IPSec ESP (IP protocol 50)",
        3,
        3,
        "first-packet",
    );
    // .10 served Kerberos just before: a known server.
    expect(
        "ah",
        "198.51.100.20",
        "192.0.2.10",
        "IPSec AH (IP protocol 51)",
        2,
        2,
        "known-server",
    );
    expect(
        "tcp",
        "192.0.2.102:49161",
        "192.0.2.10:49700",
        "RPC dynamic (unconfirmed)",
        8,
        5,
        "syn",
    );
    // The client that never spoke to the endpoint mapper gets no RPC label from the port; its DCE/RPC
    // PDUs (whose bind body is not a valid context list) still mark it as RPC of an unknown interface.
    expect(
        "tcp",
        "192.0.2.103:49170",
        "192.0.2.10:49701",
        "RPC (interface unknown)",
        8,
        5,
        "syn",
    );
    assert_eq!(
        flow(&records, "192.0.2.10:49701")["provenance"],
        "rpc-header"
    );
    assert_eq!(
        flow(&records, "192.0.2.10:49700")["provenance"],
        "dynamic-range"
    );
    assert_eq!(flow(&records, "192.0.2.1")["transport"], "gre");
}

#[test]
fn server_side_rules_are_recorded() {
    let (_, records, _, _) = analyze(&["fixtures/server-side.pcap"], &[]);
    let rule = |server: &str| {
        flow(&records, server)["server_rule"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        rule("192.0.2.70:50000"),
        "syn",
        "client on port 1000 still the client"
    );
    assert_eq!(
        rule("192.0.2.20:445"),
        "catalog-port",
        "mid-stream, first packet from the server"
    );
    assert_eq!(rule("192.0.2.71:5999"), "lower-port");
    assert_eq!(rule("192.0.2.72:161"), "catalog-port");
    assert_eq!(rule("192.0.2.73:61000"), "syn-ack");
    assert_eq!(flow(&records, "192.0.2.72:161")["app_protocol"], "SNMP");
}

/// Regression: with one direction captured (a SPAN port fed one way), every connection counted as an
/// unanswered attempt and none as service traffic.
#[test]
fn one_direction_flows_are_service_traffic_and_said_so() {
    let (report, records, code, _) = analyze(&["fixtures/one-direction.pcap"], &[]);
    assert_eq!(code, 0);
    assert_eq!(report["health"]["one_direction_flows"], 3);
    assert_eq!(report["totals"]["unanswered_flows"], 1);
    assert_eq!(report["unanswered"]["flows"], 1);
    for (server, rule, one_way) in [
        ("192.0.2.10:88", "syn", true),
        ("192.0.2.10:389", "syn-ack", true),
        ("192.0.2.30:1433", "catalog-port", true),
        ("192.0.2.20:445", "syn", false),
    ] {
        let f = flow(&records, server);
        assert_eq!(f["server_rule"], rule, "{server}");
        assert_eq!(f["one_direction"], one_way, "{server}");
        assert_eq!(f["unanswered"], !one_way, "{server}");
    }
    assert!(has_service(&report, "Kerberos Key Distribution Center"));
    assert_eq!(app_row(&report, "Kerberos", Some(88))["flows"], 1);
    let table = svcscope(&["analyze", "-q", "fixtures/one-direction.pcap"]);
    assert!(
        table.stdout.contains(
            "  3 flows seen in one direction only: the capture may miss the other direction\n"
        ),
        "{}",
        table.stdout
    );
}

/// `--service`, `--protocol`, `--host`, `--net`: the flows selected are counted whole, as in the
/// full report, and the rest nowhere; the report says what was selected.
#[test]
fn analyze_selects_flows_by_service_protocol_and_address() {
    let domain = "fixtures/domain.pcapng";
    let (full, all_records, _, _) = analyze(&[domain], &[]);
    let netlogon = full["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["service"] == "Net Logon")
        .unwrap()
        .clone();
    let (report, records, code, _) = analyze(&[domain], &["--service", "netlogon"]);
    assert_eq!(code, 0);
    assert_eq!(report["totals"]["flows"], netlogon["flows"]);
    assert_eq!(records.len() as u64, netlogon["flows"].as_u64().unwrap());
    assert_eq!(
        report["selection"]["flows_not_selected"].as_u64().unwrap(),
        full["totals"]["flows"].as_u64().unwrap() - netlogon["flows"].as_u64().unwrap()
    );
    assert_eq!(
        report["selection"]["services"],
        serde_json::json!(["Net Logon"])
    );
    for r in &records {
        assert!(
            r["services"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s == "Net Logon")
                && matches!(r["service_basis"].as_str(), Some("evidence" | "port")),
            "{r}"
        );
    }
    let row = report["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["service"] == "Net Logon")
        .unwrap();
    for k in [
        "flows",
        "packets_c2s",
        "packets_s2c",
        "bytes_c2s",
        "bytes_s2c",
        "clients",
    ] {
        assert_eq!(row[k], netlogon[k], "{k}");
    }

    let host = "192.0.2.101";
    let involved = |r: &Value| r["client_addr"] == host || r["server_addr"] == host;
    let expected = all_records.iter().filter(|r| involved(r)).count();
    let (report, records, _, _) = analyze(&[domain], &["--host", host, "--protocol", "SMB"]);
    let smb = all_records
        .iter()
        .filter(|r| involved(r) && r["app_protocol"] == "SMB")
        .count();
    assert!(smb > 0 && smb < expected);
    assert_eq!(report["totals"]["flows"], smb);
    assert!(records
        .iter()
        .all(|r| involved(r) && r["app_protocol"] == "SMB"));
    let (report, _, _, _) = analyze(&[domain], &["--net", "192.0.2.101/32"]);
    assert_eq!(report["totals"]["flows"], expected);

    let table = svcscope(&["analyze", "-q", "--service", "Net Logon", domain]);
    assert!(
        table
            .stdout
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("Selected: flows of service Net Logon ("),
        "{}",
        table.stdout
    );
    let bad = svcscope(&["analyze", "-q", "--protocol", "Kerbros", domain]);
    assert_eq!(bad.code, 2);
    assert!(bad
        .stderr
        .contains("--protocol \"Kerbros\": no such application protocol"));
}

/// `--sort` and `--top` order and cut the service and application-protocol tables, and the hosts.
#[test]
fn analyze_and_hosts_sort_and_keep_the_top_rows() {
    let domain = "fixtures/domain.pcapng";
    let (full, _, _, _) = analyze(&[domain], &[]);
    let (report, _, _, _) = analyze(&[domain], &["--sort", "flows", "--top", "3"]);
    for table in ["services", "app_protocols"] {
        let rows = report[table].as_array().unwrap();
        assert_eq!(rows.len(), 3, "{table}");
        let flows: Vec<u64> = rows.iter().map(|r| r["flows"].as_u64().unwrap()).collect();
        let mut all: Vec<u64> = full[table]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["flows"].as_u64().unwrap())
            .collect();
        all.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(flows, all[..3], "{table}");
    }
    assert_eq!(report["selection"]["sort"], "flows");
    assert_eq!(report["selection"]["top"], 3);
    assert!(report["selection"]["rows_not_shown"].as_u64().unwrap() > 0);
    assert_eq!(
        report["totals"], full["totals"],
        "--top cuts rows, not flows"
    );

    let hosts = svcscope(&[
        "hosts", "-q", "--format", "json", "--sort", "clients", "--top", "2", domain,
    ]);
    let v: Value = serde_json::from_str(&hosts.stdout).unwrap();
    assert_eq!(v["hosts"].as_array().unwrap().len(), 2);
    assert_eq!(v["hosts"][0]["addr"], "192.0.2.10");
    assert!(v["hosts_not_shown"].as_u64().unwrap() > 0);
}

/// `--write-service`: the packets of the flows credited to the service, all of them and no other,
/// later IP fragments included; analysing the file gives the service's numbers again.
#[test]
fn write_service_saves_exactly_the_packets_of_its_flows() {
    for (fixture, service) in [
        ("fixtures/domain.pcapng", "Net Logon"),
        ("fixtures/ipv4-fragments.pcap", "kdc"),
    ] {
        let out = temp(&format!("{}.{service}.pcap", fixture.replace('/', "_")));
        let (full, _, code, stderr) = analyze(
            &[fixture],
            &["--write-service", service, out.to_str().unwrap()],
        );
        assert_eq!((code, stderr.as_str()), (0, ""), "{fixture}");
        let (alone, _, code, _) = analyze(&[out.to_str().unwrap()], &[]);
        assert_eq!(code, 0);
        let row = |r: &Value| {
            r["services"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["service"] == "Net Logon" || x["system_service"] == service)
                .unwrap()
                .clone()
        };
        let (a, b) = (row(&full), row(&alone));
        for k in [
            "flows",
            "packets_c2s",
            "packets_s2c",
            "bytes_c2s",
            "bytes_s2c",
            "clients",
        ] {
            assert_eq!(a[k], b[k], "{fixture}: {k}");
        }
        assert_eq!(
            alone["totals"]["flows"], a["flows"],
            "{fixture}: no other flows"
        );
        assert_eq!(
            alone["totals"]["packets"].as_u64().unwrap(),
            a["packets_c2s"].as_u64().unwrap() + a["packets_s2c"].as_u64().unwrap(),
            "{fixture}: no other packets"
        );
    }
    assert_eq!(
        analyze(&["fixtures/ipv4-fragments.pcap"], &[]).0["health"]["fragments_attributed"],
        3,
        "the fixture has later fragments to find"
    );
    let refused = svcscope(&[
        "analyze",
        "-q",
        "--write-service",
        "kdc",
        "/dev/null",
        "-r",
        "-",
    ]);
    assert_eq!(refused.code, 2);
    let input = temp("input-and-output.pcap");
    std::fs::copy("fixtures/vlan.pcap", &input).unwrap();
    let same = svcscope(&[
        "analyze",
        "-q",
        "--write-service",
        "kdc",
        input.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    assert_eq!(same.code, 2, "{}", same.stderr);
    assert!(same.stderr.contains("that is an input"), "{}", same.stderr);
    assert_eq!(
        std::fs::read(&input).unwrap(),
        std::fs::read("fixtures/vlan.pcap").unwrap(),
        "the input is untouched"
    );
    assert!(
        refused
            .stderr
            .contains("--write-service reads the inputs twice: - cannot be read again"),
        "{}",
        refused.stderr
    );
    if Path::new("/dev/full").exists() {
        let full = svcscope(&[
            "analyze",
            "-q",
            "--write-service",
            "Net Logon",
            "/dev/full",
            "fixtures/domain.pcapng",
        ]);
        assert_eq!(full.code, 1, "{}", full.stderr);
        assert!(
            full.stderr.starts_with("svcscope: /dev/full: ") && full.stderr.lines().count() == 1,
            "{}",
            full.stderr
        );
    }
}

#[test]
fn shared_ports_keep_every_candidate() {
    let (report, records, _, _) = analyze(&["fixtures/shared-ports.pcap"], &[]);
    let smb = app_row(&report, "SMB", Some(445));
    assert_eq!(smb["services"].as_array().unwrap().len(), 7);
    let two = flow(&records, "192.0.2.101:2869");
    assert_eq!(two["app_protocol"], "SSDP event notification | UPNP");
    assert_eq!(
        two["services"],
        serde_json::json!([
            "SSDP Discovery Service",
            "Universal Plug and Play Device Host"
        ])
    );
    // The broadcast name query and the unicast one.
    assert_eq!(flow(&records, "192.0.2.255:137")["packets_c2s"], 3);
    assert_eq!(
        flow(&records, "192.0.2.20:137")["server_rule"],
        "first-packet"
    );
    // Totals count each flow once even though SMB is under 7 services.
    assert_eq!(report["totals"]["flows"], 4);
}

#[test]
fn link_types_and_ip_variants_decode_to_the_same_flows() {
    for (file, flows) in [
        (
            "vlan.pcap",
            vec![
                ("192.0.2.10:88", "Kerberos", 6, 4),
                ("192.0.2.10:53", "DNS", 1, 1),
            ],
        ),
        (
            "sll.pcap",
            vec![
                ("192.0.2.10:389", "LDAP Server", 8, 6),
                ("192.0.2.10:53", "DNS", 1, 1),
            ],
        ),
        (
            "sll2.pcap",
            vec![
                ("192.0.2.10:389", "LDAP Server", 8, 6),
                ("192.0.2.10:53", "DNS", 1, 1),
            ],
        ),
        (
            "rawip.pcap",
            vec![
                ("192.0.2.50:443", "HTTPS", 9, 9),
                ("2001:db8::10:53", "DNS", 1, 1),
            ],
        ),
        (
            "null.pcap",
            vec![
                ("192.0.2.40:3389", "Terminal Services", 10, 8),
                ("2001:db8::20:445", "SMB", 12, 9),
            ],
        ),
        (
            "ipv6-ext.pcap",
            vec![
                ("2001:db8::20:445", "SMB", 11, 7),
                ("2001:db8::10:53", "DNS", 2, 1),
            ],
        ),
        (
            "ipv4-fragments.pcap",
            vec![
                ("192.0.2.10:88", "Kerberos", 3, 1),
                ("192.0.2.10:389", "LDAP Server", 2, 1),
            ],
        ),
        (
            "snaplen.pcap",
            vec![
                ("192.0.2.20:445", "SMB", 20, 25),
                ("192.0.2.20:139", "NetBIOS Session Service", 7, 4),
            ],
        ),
        ("multi-if.pcapng", vec![("192.0.2.10:88", "Kerberos", 6, 4)]),
    ] {
        let (report, records, code, stderr) = analyze(&[&format!("fixtures/{file}")], &[]);
        assert_eq!(code, 0, "{file}: {stderr}");
        assert_eq!(report["health"]["packets_malformed"], 0, "{file}");
        for (server, app, c2s, s2c) in flows {
            let f = flow(&records, server);
            assert_eq!(
                (
                    f["app_protocol"].as_str().unwrap(),
                    f["packets_c2s"].as_u64().unwrap(),
                    f["packets_s2c"].as_u64().unwrap()
                ),
                (app, c2s, s2c),
                "{file}: flow to {server}"
            );
        }
    }
}

#[test]
fn fragments_and_snaplen_are_accounted() {
    let (report, _, _, _) = analyze(&["fixtures/ipv4-fragments.pcap"], &[]);
    assert_eq!(report["health"]["fragments_attributed"], 3);
    assert_eq!(report["health"]["fragments_unmatched"], 0);
    let (report, _, _, _) = analyze(&["fixtures/ipv6-ext.pcap"], &[]);
    assert_eq!(report["health"]["fragments_attributed"], 1);
    let (report, _, _, _) = analyze(&["fixtures/snaplen.pcap"], &[]);
    assert!(report["health"]["packets_truncated"].as_u64().unwrap() > 20);
    // Bytes are wire lengths, not captured lengths.
    assert!(report["totals"]["bytes"].as_u64().unwrap() > 56 * 68);
    let (report, _, _, _) = analyze(&["fixtures/multi-if.pcapng"], &[]);
    assert_eq!(
        report["inputs"][0]["link_types"],
        serde_json::json!(["EN10MB", "RAW"])
    );
    assert_eq!(app_row(&report, "DNS", Some(53))["flows"], 3);
}

#[test]
fn pppoe_mpls_and_ppp_links_are_seen_through() {
    let (report, records, code, stderr) = analyze(&["fixtures/tunnels.pcapng"], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        report["inputs"][0]["link_types"],
        serde_json::json!(["EN10MB", "PPP"])
    );
    let h = &report["health"];
    assert_eq!(h["packets_malformed"], 0);
    assert_eq!(h["packets_not_ip"], 2);
    assert_eq!(
        h["not_ip"],
        serde_json::json!([
            {"layer": "ppp", "carries": "LCP", "packets": 1},
            {"layer": "pppoe", "carries": "PPPoE discovery", "packets": 1},
        ])
    );
    // Every IP packet became a flow's: Kerberos in a PPPoE session and over the PPP link, DNS over
    // IPv6 in a PPPoE session and in an MPLS pseudowire, LDAP under two labels.
    let flows = summary(&records);
    for (client, server, app) in [
        ("198.51.100.21:50200", "192.0.2.10:88", "Kerberos"),
        ("203.0.113.5:50204", "192.0.2.10:88", "Kerberos"),
        ("2001:db8:51::21:50201", "2001:db8::10:53", "DNS"),
        ("192.0.2.102:50203", "192.0.2.10:53", "DNS"),
        ("192.0.2.101:50202", "192.0.2.10:389", "LDAP Server"),
    ] {
        assert!(
            flows
                .iter()
                .any(|f| (f.1.as_str(), f.2.as_str(), f.3.as_str()) == (client, server, app)),
            "{client} → {server} {app} not in {flows:#?}"
        );
    }
    assert_eq!(flows.len(), 5);
    assert_eq!(
        report["totals"]["packets"].as_u64().unwrap(),
        report["health"]["packets_decoded"].as_u64().unwrap()
    );
}

#[test]
fn malformed_frames_are_counted_by_layer_and_never_fatal() {
    let (report, records, code, _) = analyze(&["fixtures/malformed.pcap"], &[]);
    assert_eq!(code, 0);
    assert_eq!(summary(&records).len(), 1);
    let kerberos = flow(&records, "192.0.2.10:88");
    assert_eq!(
        (&kerberos["packets_c2s"], &kerberos["packets_s2c"]),
        (&8.into(), &4.into())
    );
    let h = &report["health"];
    assert_eq!(h["packets_read"], 22);
    assert_eq!(h["packets_not_ip"], 1, "the ARP frame");
    assert_eq!(h["packets_malformed"], 9);
    let reasons: Vec<String> = h["malformed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{}: {}",
                m["layer"].as_str().unwrap(),
                m["reason"].as_str().unwrap()
            )
        })
        .collect();
    for r in [
        "ethernet: frame shorter than an Ethernet header",
        "link: empty frame",
        "ipv4: IHL below 5",
        "ipv4: total length below header length",
        "ipv4: version is not 4",
        "tcp: data offset below 5",
        "ipv6: header truncated",
        "gre: unknown GRE version",
        "udp: header truncated",
    ] {
        assert!(reasons.iter().any(|x| x == r), "{r} not in {reasons:?}");
    }
}

#[test]
fn truncated_file_reports_what_came_before_and_fails() {
    let (report, records, code, stderr) = analyze(&["fixtures/truncated.pcap"], &[]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr.trim(),
        "svcscope: fixtures/truncated.pcap: truncated capture: record 11 is cut short (40 of 100 bytes); the packets before it are reported"
    );
    assert_eq!(report["inputs"][0]["packets"], 10);
    assert_eq!(report["totals"]["packets"], 10);
    assert_eq!(summary(&records).len(), 3);
}

#[test]
fn several_files_make_one_merged_report() {
    let (report, _, code, _) = analyze(&["fixtures/multi-a.pcap", "fixtures/multi-b.pcap"], &[]);
    assert_eq!(code, 0);
    let ldap = app_row(&report, "LDAP Server", Some(389));
    assert_eq!(
        (&ldap["flows"], &ldap["clients"], &ldap["servers"]),
        (&4.into(), &2.into(), &1.into())
    );
    assert_eq!(report["inputs"].as_array().unwrap().len(), 2);
    assert_eq!(report["totals"]["packets"], 28 + 51);
    // One bad file among good ones: the good ones are reported, the status says a file failed.
    let (report, _, code, stderr) =
        analyze(&["fixtures/multi-a.pcap", "fixtures/no-such.pcap"], &[]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr.trim(),
        "svcscope: fixtures/no-such.pcap: no such file"
    );
    assert_eq!(report["totals"]["packets"], 28);
}

#[test]
fn bpf_filter_selects_packets_and_counts_the_rest() {
    let (report, _, code, _) = analyze(&["fixtures/domain.pcapng"], &["--filter", "tcp port 88"]);
    assert_eq!(code, 0);
    assert_eq!(report["app_protocols"].as_array().unwrap().len(), 1);
    assert_eq!(report["health"]["packets_filtered"], 4927 - 543);
    let run = svcscope(&["analyze", "--filter", "tcp port", "fixtures/domain.pcapng"]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr.trim(),
        "svcscope: invalid filter \"tcp port\": can't parse filter expression: syntax error"
    );
}

#[test]
fn fixtures_are_rebuilt_byte_for_byte_by_the_generator() {
    let dir = temp("regenerated");
    svcscope_testkit::generate(&["fixtures", dir.to_str().unwrap()]);
    for name in FIXTURES.iter().copied().chain(["README.md"]) {
        let a = std::fs::read(root().join("fixtures").join(name)).unwrap();
        let b = std::fs::read(Path::new(&dir).join(name)).unwrap();
        assert!(
            a == b,
            "fixtures/{name} differs from what svcscope-gen writes"
        );
    }
}

#[test]
fn catalog_command_lists_every_row() {
    let run = svcscope(&["catalog", "--format", "json"]);
    assert_eq!(run.code, 0);
    let rows: Vec<Value> = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(rows.len(), 198);
    for key in [
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
    ] {
        assert!(rows.iter().all(|r| r.get(key).is_some()), "key {key}");
    }
    // Services beyond the article document the ports they are reached on, as no candidate.
    let winreg: Vec<&Value> = rows
        .iter()
        .filter(|r| r["service"] == "Remote Registry")
        .collect();
    assert_eq!(winreg.len(), 2);
    assert!(winreg
        .iter()
        .all(|r| r["origin"] == "beyond-article" && r["candidate"] == false));
    assert_eq!(rows.iter().filter(|r| r["candidate"] == false).count(), 20);
    // A later edition's port of an article service says so on its row.
    let kpasswd: Vec<&Value> = rows.iter().filter(|r| r["port"] == 464).collect();
    assert_eq!(kpasswd.len(), 2);
    assert!(kpasswd
        .iter()
        .all(|r| r["service"] == "Kerberos Key Distribution Center"
            && r["origin"] == "later-edition"
            && r["candidate"] == true));
    let kdc_88 = rows
        .iter()
        .find(|r| r["port"] == 88 && r["transport"] == "tcp")
        .unwrap();
    assert_eq!(kdc_88["origin"], "article");
    let gre = rows.iter().find(|r| r["ip_protocol"] == 47).unwrap();
    assert_eq!(
        (&gre["transport"], &gre["port"]),
        (&"ip".into(), &Value::Null)
    );
    let dynamic = rows
        .iter()
        .find(|r| r["service"] == "Event Log" && r["port"].is_null())
        .unwrap();
    assert_eq!(dynamic["port_range"], serde_json::json!([49152, 65535]));
    let run = svcscope(&["catalog", "--port", "445"]);
    golden("catalog-port-445.txt", &run.stdout);
    let run = svcscope(&["catalog", "--service", "lsass", "--format", "csv"]);
    assert_eq!(run.stdout.lines().count(), 12);
    let run = svcscope(&[
        "catalog",
        "--protocol",
        "radius",
        "--transport",
        "udp",
        "--format",
        "json",
    ]);
    assert_eq!(
        serde_json::from_str::<Vec<Value>>(&run.stdout)
            .unwrap()
            .len(),
        4
    );
}

#[test]
fn user_catalogs_add_services_and_bad_ones_fail_with_file_and_line() {
    let site = temp("site.toml");
    std::fs::write(
        &site,
        "[[service]]\nname = \"SQL Server (ACCOUNTING)\"\nsystem = \"MSSQL$ACCOUNTING\"\nports = [\n  { app = \"SQL over TCP\", tcp = 14330 },\n]\n",
    )
    .unwrap();
    let run = svcscope(&[
        "catalog",
        "--catalog",
        site.to_str().unwrap(),
        "--port",
        "14330",
        "--format",
        "json",
    ]);
    let rows: Vec<Value> = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(rows[0]["service"], "SQL Server (ACCOUNTING)");
    assert_eq!(rows[0]["origin"], "user");

    let bad = temp("bad.toml");
    std::fs::write(
        &bad,
        "[[service]]\nname = \"X\"\nports = [\n  { app = \"A\", tcp = 70000 },\n]\n",
    )
    .unwrap();
    let run = svcscope(&[
        "analyze",
        "--catalog",
        bad.to_str().unwrap(),
        "fixtures/vlan.pcap",
    ]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr.trim(),
        format!(
            "svcscope: {}:4: port 70000 is out of range (1-65535)",
            bad.display()
        )
    );
    assert!(run.stdout.is_empty());
}

/// (label, provenance, packets c→s, packets s→c) of the flow to `server`.
fn learnt(records: &[Value], server: &str) -> (String, String, u64, u64) {
    let f = flow(records, server);
    (
        f["app_protocol"].as_str().unwrap_or("-").to_string(),
        f["provenance"].as_str().unwrap().to_string(),
        f["packets_c2s"].as_u64().unwrap(),
        f["packets_s2c"].as_u64().unwrap(),
    )
}

fn l(app: &str, provenance: &str, c2s: u64, s2c: u64) -> (String, String, u64, u64) {
    (app.to_string(), provenance.to_string(), c2s, s2c)
}

#[test]
fn dce_rpc_flows_on_dynamic_ports_are_labelled_by_interface() {
    let (report, records, code, _) = analyze(&["fixtures/rpc.pcap"], &[]);
    assert_eq!(code, 0);
    assert_eq!(learnt(&records, "192.0.2.10:135"), l("RPC", "port", 7, 4));
    // Bind split across two segments, two requests in one: the bind names Net Logon.
    assert_eq!(
        learnt(&records, "192.0.2.10:49669"),
        l("RPC drsuapi (MS-DRSR)", "rpc-bind", 8, 5)
    );
    assert_eq!(
        learnt(&records, "192.0.2.10:49670"),
        l("RPC eventlog6 (MS-EVEN6)", "rpc-bind", 7, 4)
    );
    // A bind on a dynamic port with no endpoint mapper seen.
    assert_eq!(
        learnt(&records, "192.0.2.10:49700"),
        l("RPC samr (MS-SAMR)", "rpc-bind", 7, 4)
    );
    // Connectionless RPC over UDP, by its header.
    assert_eq!(
        learnt(&records, "192.0.2.10:49800"),
        l("RPC eventlog6 (MS-EVEN6)", "rpc-header", 1, 1)
    );
    // Two flows to 49668: the one with a bind, and the mid-stream one the endpoint mapper announced.
    let netlogon: Vec<&Value> = records
        .iter()
        .filter(|r| r["server_port"] == 49668)
        .collect();
    assert_eq!(netlogon.len(), 2);
    for r in &netlogon {
        assert_eq!(r["app_protocol"], "RPC netlogon (MS-NRPC)");
        assert_eq!(r["services"], serde_json::json!(["Net Logon"]));
        assert_eq!(r["rpc_interface"], "12345678-1234-abcd-ef00-01234567cffb");
    }
    let mid = netlogon
        .iter()
        .find(|r| r["client_addr"] == "192.0.2.103")
        .unwrap();
    // It never asked the endpoint mapper (192.0.2.101 did); the newest word on the endpoint is the
    // bind 192.0.2.101 sent over its own connection to it.
    assert_eq!(
        (&mid["provenance"], &mid["server_rule"]),
        (&"learnt-endpoint".into(), &"announced".into())
    );
    let bound = netlogon
        .iter()
        .find(|r| r["client_addr"] == "192.0.2.101")
        .unwrap();
    assert_eq!(bound["provenance"], "rpc-bind");
    // Per service and per interface in the report: the interfaces' services, evidence-backed.
    for name in ["Net Logon", "Event Log"] {
        let s = service(&report, name);
        assert!(s["flows"].as_u64().unwrap() >= 2, "{name}");
        assert_eq!(
            (&s["basis"], &s["evidence_flows"]),
            (&"evidence".into(), &s["flows"])
        );
    }
    let netlogon = service(&report, "Net Logon");
    let items: Vec<(&str, &str, u64)> = netlogon["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap(),
                e["value"].as_str().unwrap_or("-"),
                e["flows"].as_u64().unwrap(),
            )
        })
        .collect();
    // The request on 135, the announcement and what the mid-stream flow learnt from it, the bind.
    let netlogon_uuid = "12345678-1234-abcd-ef00-01234567cffb";
    assert_eq!(
        items,
        [
            ("endpoint-mapper", netlogon_uuid, 1),
            ("epm-request", netlogon_uuid, 1),
            ("learnt-endpoint", netlogon_uuid, 1),
            ("rpc-bind", netlogon_uuid, 1)
        ]
    );
    // The endpoint mapper's bind names RPC itself; the other services of TCP 135 were only
    // candidates of that flow, and evidence named every flow's services: nothing undetermined.
    assert_eq!(
        service(&report, "Remote Procedure Call (RPC)")["basis"],
        "evidence"
    );
    assert!(!has_service(&report, "Certificate Services"));
    assert_eq!(report["undetermined"], serde_json::json!([]));
    assert_eq!(report["totals"]["undetermined_flows"], 0);
    assert_eq!(
        report["totals"]["evidence_flows"],
        report["totals"]["flows"]
    );
    let services = report["services"].as_array().unwrap();
    assert!(services.iter().all(|s| s["basis"] == "evidence"));
    let interfaces: Vec<&str> = report["rpc"]["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap_or("?"))
        .collect();
    for name in ["netlogon", "drsuapi", "eventlog6", "samr"] {
        assert!(interfaces.contains(&name), "{name} not in {interfaces:?}");
    }
    let h = &report["health"]["inspection"];
    assert_eq!(
        (&h["epm_answers"], &h["endpoints_announced"]),
        (&1.into(), &3.into())
    );
}

#[test]
fn ftp_data_connections_are_learnt_from_the_control_connection() {
    let (_, records, code, _) = analyze(&["fixtures/ftp.pcap"], &[]);
    assert_eq!(code, 0);
    assert_eq!(
        learnt(&records, "192.0.2.60:21"),
        l("FTP control", "port", 20, 19)
    );
    assert_eq!(
        learnt(&records, "192.0.2.60:50000"),
        l("FTP data", "ftp-control", 7, 10)
    );
    assert_eq!(
        learnt(&records, "192.0.2.60:50001"),
        l("FTP data", "ftp-control", 7, 4)
    );
    // Active mode: the server connects from port 20 to the port the client announced.
    assert_eq!(
        learnt(&records, "192.0.2.105:51210"),
        l("FTP data", "ftp-control", 5, 2)
    );
    assert_eq!(
        learnt(&records, "192.0.2.105:51211"),
        l("FTP data", "ftp-control", 6, 3)
    );
    assert_eq!(
        flow(&records, "192.0.2.60:50000")["services"],
        serde_json::json!(["FTP Publishing Service"])
    );
}

#[test]
fn tftp_answers_from_a_new_port_are_tftp() {
    let (_, records, code, _) = analyze(&["fixtures/tftp.pcap"], &[]);
    assert_eq!(code, 0);
    assert_eq!(learnt(&records, "192.0.2.70:69"), l("TFTP", "port", 1, 0));
    assert_eq!(
        learnt(&records, "192.0.2.70:61000"),
        l("TFTP", "tftp", 5, 5)
    );
    assert_eq!(
        learnt(&records, "192.0.2.70:61001"),
        l("TFTP", "tftp", 3, 4)
    );
    assert_eq!(
        flow(&records, "192.0.2.70:61000")["server_rule"],
        "announced"
    );
}

#[test]
fn catalog_lists_the_pipes_shares_and_protocols() {
    let run = svcscope(&["catalog", "--names", "--format", "json"]);
    assert_eq!(run.code, 0);
    let rows: Vec<Value> = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(rows.len(), 57);
    assert_eq!(rows.iter().filter(|r| r["kind"] == "spn").count(), 18);
    let termsrv = rows
        .iter()
        .find(|r| r["kind"] == "spn" && r["name"] == "termsrv")
        .unwrap();
    assert_eq!(
        termsrv["services"],
        serde_json::json!(["Terminal Services"])
    );
    for key in ["kind", "name", "services", "reference", "note", "source"] {
        assert!(rows.iter().all(|r| r.get(key).is_some()), "key {key}");
    }
    let sysvol = rows
        .iter()
        .find(|r| r["kind"] == "share" && r["name"] == "sysvol")
        .unwrap();
    assert_eq!(
        sysvol["services"],
        serde_json::json!(["Server", "Net Logon"])
    );
    assert!(sysvol["source"]
        .as_str()
        .unwrap()
        .starts_with("<built-in catalog/names.toml>:"));
    let run = svcscope(&["catalog", "--names", "--service", "remote registry"]);
    assert!(run.stdout.contains("winreg") && run.stdout.contains("[MS-RSP] 2.1: \\PIPE\\winreg"));
    assert!(run.stdout.contains("1 pipes, shares and protocols."));
    let run = svcscope(&["catalog", "--names", "--protocol", "smb", "--format", "csv"]);
    assert_eq!(
        run.stdout.lines().collect::<Vec<_>>(),
        [
            "kind,name,services,reference,note",
            "protocol,smb,Server,\"KB article, Server: file, print and named pipe sharing over SMB (TCP 445); [MS-SMB2], [MS-CIFS]\",",
        ]
    );
    assert_eq!(svcscope(&["catalog", "--names", "--interfaces"]).code, 2);
}

#[test]
fn catalog_lists_the_rpc_interfaces() {
    let run = svcscope(&["catalog", "--interfaces", "--format", "json"]);
    assert_eq!(run.code, 0);
    let rows: Vec<Value> = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(rows.len(), 86);
    let drsuapi = rows
        .iter()
        .find(|r| r["uuid"] == "e3514235-4b06-11d1-ab04-00c04fc2dcd2")
        .unwrap();
    assert_eq!(
        (&drsuapi["name"], &drsuapi["protocol"]),
        (&"drsuapi".into(), &"MS-DRSR".into())
    );
    assert_eq!(
        drsuapi["services"],
        serde_json::json!(["Local Security Authority"])
    );
    let run = svcscope(&["catalog", "--interfaces", "--service", "event log"]);
    assert!(run.stdout.contains("eventlog6") && run.stdout.contains("MS-EVEN6"));
}

#[test]
fn flow_records_credit_services_from_evidence_and_keep_the_candidates_apart() {
    let (_, records, code, _) = analyze(&["fixtures/rpc.pcap"], &[]);
    assert_eq!(code, 0);
    // The endpoint mapper's port is shared by many services; the bind names the mapper's own, and
    // the client's ept_map request the interface it asked for.
    let epm = records
        .iter()
        .find(|r| r["server_port"] == 135)
        .expect("a flow to TCP 135");
    assert_eq!(epm["service_basis"], "evidence");
    assert_eq!(
        epm["services"],
        serde_json::json!(["Remote Procedure Call (RPC)", "Net Logon"])
    );
    let candidates = epm["candidate_services"].as_array().unwrap();
    assert!(candidates.len() > 1, "{candidates:?}");
    assert!(candidates.contains(&"Remote Procedure Call (RPC)".into()));

    let (_, records, _, _) = analyze(&["fixtures/domain.pcapng"], &[]);
    let basis = |app: &str| -> Vec<(String, usize, usize)> {
        let mut v: Vec<(String, usize, usize)> = records
            .iter()
            .filter(|r| r["app_protocol"] == app)
            .map(|r| {
                (
                    r["service_basis"].as_str().unwrap().to_string(),
                    r["services"].as_array().unwrap().len(),
                    r["candidate_services"].as_array().unwrap().len(),
                )
            })
            .collect();
        v.dedup();
        v
    };
    // SMB: every flow's services come from its evidence (Server at least), its seven candidates
    // kept apart.
    for (b, _, candidates) in basis("SMB") {
        assert_eq!((b.as_str(), candidates), ("evidence", 7));
    }
    for r in records.iter().filter(|r| r["app_protocol"] == "SMB") {
        assert!(
            r["services"].as_array().unwrap().contains(&"Server".into()),
            "{r}"
        );
        assert!(!r["services"]
            .as_array()
            .unwrap()
            .contains(&"Fax Service".into()));
    }
    // Kerberos messages: the KDC, from evidence (its one candidate).
    assert_eq!(basis("Kerberos"), vec![("evidence".to_string(), 1, 1)]);
    let unclassified = records
        .iter()
        .find(|r| r["app_protocol"].is_null())
        .expect("an unclassified flow");
    assert_eq!(unclassified["service_basis"], "unclassified");
    assert_eq!(unclassified["candidate_services"], serde_json::json!([]));
}

/// Regression: inputs were read in the order given, so the second half of a rotated capture given
/// first split every flow crossing the two files (7 flows instead of 5). They are read by the time
/// of their first packet, as mergecap merges them, and the report lists them in that order.
#[test]
fn inputs_are_read_in_order_of_their_first_packet() {
    let (forward, _, code, _) = analyze(&["fixtures/multi-a.pcap", "fixtures/multi-b.pcap"], &[]);
    assert_eq!(code, 0);
    let (reverse, _, code, _) = analyze(&["fixtures/multi-b.pcap", "fixtures/multi-a.pcap"], &[]);
    assert_eq!(code, 0);
    assert_eq!(forward, reverse);
    assert_eq!(reverse["totals"]["flows"], 5);
    let paths: Vec<&str> = reverse["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["fixtures/multi-a.pcap", "fixtures/multi-b.pcap"]);

    // Rotated names sort wrong as text (cap.pcap10 before cap.pcap2); an unreadable file among
    // them still gets its one line and is listed last.
    let (early, late) = (temp("cap.pcap2"), temp("cap.pcap10"));
    std::fs::copy(root().join("fixtures/multi-a.pcap"), &early).unwrap();
    std::fs::copy(root().join("fixtures/multi-b.pcap"), &late).unwrap();
    let missing = temp("cap.pcap1");
    let (rotated, _, code, stderr) = analyze(
        &[
            missing.to_str().unwrap(),
            late.to_str().unwrap(),
            early.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 1);
    assert_eq!(
        stderr.trim(),
        format!("svcscope: {}: no such file", missing.display())
    );
    assert_eq!(rotated["totals"], forward["totals"]);
    let paths: Vec<String> = rotated["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["path"].as_str().unwrap().to_string())
        .collect();
    let name = |p: &PathBuf| p.display().to_string();
    assert_eq!(paths, [name(&early), name(&late), name(&missing)]);
}

/// Every traffic row in a report: objects with both `flows` and `packet_size`.
fn traffic_rows<'a>(v: &'a Value, path: String, out: &mut Vec<(String, &'a Value)>) {
    match v {
        Value::Object(m) => {
            if m.contains_key("flows") && m.contains_key("packet_size") {
                out.push((path.clone(), v));
            }
            for (k, x) in m {
                traffic_rows(x, format!("{path}.{k}"), out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                traffic_rows(x, format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// Regression: a flow relabelled by evidence (a bind on an SMB pipe, a late endpoint-mapper
/// announcement) left the sizes of its first packets under its old label, so rows of no flow
/// (smb.pcap's "RPC (interface unknown)", rpc.pcap's unclassified traffic) showed packet sizes,
/// and the distribution of the row the flow ended in lacked them. Sizes describe a row's flows,
/// and a row of flows has sizes; the largest packet of smb.pcap is an exact 1514 B.
#[test]
fn packet_sizes_belong_to_rows_with_flows() {
    for name in FIXTURES.iter().chain(&["rpc.pcap", "smb.pcap"]) {
        let (report, _, _, _) = analyze(&[&format!("fixtures/{name}")], &[]);
        let mut rows = Vec::new();
        traffic_rows(&report, String::new(), &mut rows);
        for (path, row) in rows {
            let flows = row["flows"].as_u64().unwrap();
            let sized = !row["packet_size"].is_null();
            assert_eq!(flows > 0, sized, "{name}{path}: {row}");
            if sized {
                let p = &row["packet_size"];
                assert!(p["min"].as_u64() <= p["p50"].as_u64(), "{name}{path}: {p}");
                assert!(p["p99"].as_u64() <= p["max"].as_u64(), "{name}{path}: {p}");
            }
        }
    }
    let (report, _, _, _) = analyze(&["fixtures/smb.pcap"], &[]);
    let max = report["app_protocols"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["packet_size"]["max"].as_u64())
        .max();
    assert_eq!(max, Some(1514));
}

/// `svcscope ARGS` with `input` on standard input: (exit status, standard output, standard error).
fn svcscope_stdin(args: &[&str], input: &[u8]) -> (i32, String, String) {
    use std::io::Write;
    let mut child = svcscope_testkit::command(env!("CARGO_BIN_EXE_svcscope"), &root(), args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    // Write from another thread: the child may fill its output pipe before reading all its input.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// `-` reads a capture (pcap or pcapng) from standard input, as `tcpdump -r -`, and `-r FILE`
/// names an input as tcpdump does, for `analyze`, `hosts` and `rules` alike.
#[test]
fn standard_input_and_dash_r_are_inputs_as_for_tcpdump() {
    for name in ["multi-a.pcap", "domain.pcapng"] {
        let file = format!("fixtures/{name}");
        let bytes = std::fs::read(root().join(&file)).unwrap();
        let (code, piped, stderr) = svcscope_stdin(&["analyze", "--format", "json", "-"], &bytes);
        assert_eq!((code, stderr.as_str()), (0, ""), "{name}");
        let by_name = svcscope(&["analyze", "--format", "json", &file]);
        let by_r = svcscope(&["analyze", "--format", "json", "-r", &file]);
        assert_eq!(by_r.stdout, by_name.stdout);
        let mut piped: Value = serde_json::from_str(&piped).unwrap();
        assert_eq!(piped["inputs"][0]["path"], "-");
        piped["inputs"][0]["path"] = file.clone().into();
        assert_eq!(
            piped,
            serde_json::from_str::<Value>(&by_name.stdout).unwrap()
        );
    }
    // Standard input among files, and something that is not a capture on it.
    let bytes = std::fs::read(root().join("fixtures/multi-b.pcap")).unwrap();
    let (code, out, _) = svcscope_stdin(
        &[
            "analyze",
            "--format",
            "json",
            "-r",
            "fixtures/multi-a.pcap",
            "-",
        ],
        &bytes,
    );
    assert_eq!(code, 0);
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["inputs"][0]["path"], "-", "a pipe is read first");
    assert_eq!(report["totals"]["packets"], 28 + 51);
    let (code, _, stderr) = svcscope_stdin(&["analyze", "-q", "-"], b"abc");
    assert_eq!(code, 1);
    assert_eq!(
        stderr.trim(),
        "svcscope: -: not a pcap or pcapng capture (only 3 bytes)"
    );
    for command in [
        vec!["hosts", "--format", "json"],
        vec!["rules", "--host", "192.0.2.10"],
    ] {
        let mut with_r = command.clone();
        with_r.extend(["-r", "fixtures/multi-a.pcap"]);
        let mut positional = command.clone();
        positional.push("fixtures/multi-a.pcap");
        let (a, b) = (svcscope(&with_r), svcscope(&positional));
        assert_eq!((a.code, &a.stdout), (0, &b.stdout), "{command:?}");
        assert!(!a.stdout.is_empty());
    }
}

/// Every table keyed by traffic hashes with a seed of its own, new in every run (so that crafted
/// keys cannot collide): what a capture reports must not depend on those seeds, in any format. The
/// benchmark mix has TLS servers with several names, listed first seen first, whose order came
/// from the flow table's order while the flows still open at the end were ended in it.
#[test]
fn a_capture_gives_the_same_report_every_run_whatever_the_hash_seeds() {
    let capture = temp("mix-30000.pcap");
    let capture = capture.to_str().unwrap();
    svcscope_testkit::generate(&[
        "bench",
        "--packets",
        "30000",
        "--seed",
        "1",
        "--out",
        capture,
    ]);
    let runs = [
        vec!["analyze", "-q", "--sensor", "fixture", "--format", "json"],
        vec!["analyze", "-q", "--sensor", "fixture", "--format", "csv"],
        vec![
            "analyze",
            "-q",
            "--sensor",
            "fixture",
            "--workers",
            "3",
            "--format",
            "json",
        ],
        vec!["hosts", "-q", "--format", "json"],
    ];
    for args in runs {
        let args: Vec<&str> = args.into_iter().chain([capture]).collect();
        let first = svcscope(&args);
        assert_eq!(first.code, 0, "{args:?}: {}", first.stderr);
        assert!(first.stdout.len() > 1000, "{args:?} printed too little");
        for _ in 0..2 {
            let again = svcscope(&args);
            assert!(
                again.stdout == first.stdout,
                "{args:?}: a second run differs"
            );
        }
    }
}
