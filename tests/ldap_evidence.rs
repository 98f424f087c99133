//! LDAP and CLDAP evidence in flow records, on real captures.
//!
//! For each LDAP capture in `../shared/captures/windows` (see its README), this test runs the real
//! binary (`analyze FILE --flows TMP -q`) and compares every LDAP flow's `ldap*` evidence items and
//! the services the flow is credited with against what was checked by hand with tshark 4.0:
//!
//! ```text
//! tshark -r F -Y 'ldap || cldap' -T fields -e tcp.srcport -e udp.srcport -e ldap.protocolOp \
//!     -e ldap.authentication -e ldap.mechanism -e ldap.requestName -e ntlmssp.auth.username
//! tshark -r suricata__ldap-udp_cldap.pcap -V -Y frame.number==2     # the Netlogon answer
//! ```
//!
//! - the first operation of each connection (`ldap`): tshark's first protocolOp of the client;
//! - binds (`ldap-bind`): authentication 0 is simple (who-am-i sends a password), 3 SASL with the
//!   mechanism tshark names (GSS-SPNEGO, whose inner token tshark shows as NTLMSSP or a Kerberos
//!   AP-REQ), 10/11 the Sicily negotiate and response (user `user01`);
//! - StartTLS (`ldap-starttls`): requestName 1.3.6.1.4.1.1466.20037;
//! - the CLDAP ping (`ldap-ping`): the rootDSE search for `netlogon`, and the answer's flags
//!   0x000011bd (PDC, GC, LDAP, DS, KDC, CLOSEST, WRITABLE, WDC = DS_FULL_SECRET_DOMAIN_6), server
//!   site `Default-First-Site-Name`, host `obed.s4.howto.abartlet.net`.
//!
//! Every flow credits the Local Security Authority (and the ping Net Logon) from its evidence,
//! not the port's two candidates. Skipped, with a message, when the captures are absent.

use std::path::{Path, PathBuf};

fn windows_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/captures/windows")
}

/// One flow's LDAP evidence (kind, value) in record order and the services it is credited with.
#[derive(Debug, PartialEq)]
struct Flow {
    client: String,
    evidence: Vec<(String, String)>,
    services: Vec<String>,
    basis: String,
}

fn ldap_flows(capture: &Path, out: &Path) -> Vec<Flow> {
    let bin = env!("CARGO_BIN_EXE_svcscope");
    let status = std::process::Command::new(bin)
        .args(["analyze", "-q", "--format", "json", "--flows"])
        .arg(out)
        .arg(capture)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.code().is_some(), "{}: killed", capture.display());
    let mut flows = Vec::new();
    for line in std::fs::read_to_string(out).unwrap().lines() {
        let r: serde_json::Value = serde_json::from_str(line).unwrap();
        if !matches!(r["server_port"].as_u64(), Some(389 | 3268)) {
            continue;
        }
        let evidence = r["evidence"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["kind"].as_str().is_some_and(|k| k.starts_with("ldap")))
            .map(|e| {
                (
                    e["kind"].as_str().unwrap().to_string(),
                    e["value"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let strings = |v: &serde_json::Value| -> Vec<String> {
            v.as_array()
                .into_iter()
                .flatten()
                .map(|s| s.as_str().unwrap().to_string())
                .collect()
        };
        flows.push(Flow {
            client: format!(
                "{}:{}",
                r["client_addr"].as_str().unwrap(),
                r["client_port"].as_u64().unwrap()
            ),
            evidence,
            services: strings(&r["services"]),
            basis: r["service_basis"].as_str().unwrap_or_default().to_string(),
        });
    }
    flows.sort_by(|a, b| a.client.cmp(&b.client));
    flows
}

fn flow(client: &str, evidence: &[(&str, &str)], services: &[&str]) -> Flow {
    Flow {
        client: client.into(),
        evidence: evidence
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        services: services.iter().map(|s| s.to_string()).collect(),
        basis: "evidence".into(),
    }
}

const LSA: &[&str] = &["Local Security Authority"];

#[test]
fn ldap_binds_starttls_and_pings_match_tshark() {
    let dir = windows_dir();
    if !dir.is_dir() {
        eprintln!("skipped: {} is absent", dir.display());
        return;
    }
    let cases: Vec<(&str, Vec<Flow>)> = vec![
        (
            "zeek__ldap_ldap-who-am-i.pcap",
            vec![flow(
                "127.0.0.1:48122",
                &[
                    ("ldap", "bindRequest"),
                    ("ldap-bind", "simple (password in clear)"),
                ],
                LSA,
            )],
        ),
        (
            "zeek__ldap_ctu-sme-11-win7ad-1-ldap-tcp-50041.pcap",
            ["192.168.1.105:50041", "192.168.1.107:50041"]
                .iter()
                .map(|c| {
                    flow(
                        c,
                        &[
                            ("ldap", "bindRequest"),
                            ("ldap-bind", "SASL GSS-SPNEGO (NTLM)"),
                        ],
                        LSA,
                    )
                })
                .collect(),
        ),
        (
            "zeek__ldap_krb5-sign-seal-01.pcap",
            vec![flow(
                "172.31.1.104:3116",
                &[
                    ("ldap", "searchRequest"),
                    ("ldap-bind", "SASL GSS-SPNEGO (Kerberos)"),
                ],
                LSA,
            )],
        ),
        (
            "zeek__ldap_ldap-starttls.pcap",
            vec![flow(
                "127.0.0.1:45936",
                &[("ldap", "extendedReq"), ("ldap-starttls", "")],
                LSA,
            )],
        ),
        (
            "suricata__krb5-request-frag-log_krb5-frag.pcap",
            vec![flow(
                "192.168.51.206:39804",
                &[
                    ("ldap", "bindRequest"),
                    ("ldap-bind", "NTLM"),
                    ("ldap-bind", "NTLM dom.test.lo.com\\user01"),
                ],
                LSA,
            )],
        ),
        (
            "suricata__ldap-udp_cldap.pcap",
            vec![flow(
                "192.168.122.145:61729",
                &[
                    ("ldap", "searchRequest"),
                    ("ldap-ping", "request"),
                    (
                        "ldap-ping",
                        "PDC GC LDAP DS KDC CLOSEST WRITABLE FULL_SECRET site \
                         Default-First-Site-Name obed.s4.howto.abartlet.net domain \
                         s4.howto.abartlet.net",
                    ),
                ],
                &["Local Security Authority", "Net Logon"],
            )],
        ),
    ];
    let tmp = std::env::temp_dir().join(format!("svcscope-ldap-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let mut checked = 0;
    for (name, want) in cases {
        let capture = dir.join(name);
        if !capture.is_file() {
            eprintln!("skipped: {} is absent", capture.display());
            continue;
        }
        let got = ldap_flows(&capture, &tmp.join(format!("{name}.jsonl")));
        assert_eq!(got, want, "{name}");
        checked += 1;
    }
    std::fs::remove_dir_all(&tmp).ok();
    eprintln!("{checked} LDAP captures checked");
}

/// The Kerberos-bound LDAP connection names the ticket it presents: tshark shows the AP-REQ's
/// sname `ldap/w2k3-101.w2k3.vmnet1.vm.base/w2k3.vmnet1.vm.base` (etype 23) in the bind.
#[test]
fn a_kerberos_bind_names_its_ticket() {
    let capture = windows_dir().join("zeek__ldap_krb5-sign-seal-01.pcap");
    if !capture.is_file() {
        eprintln!("skipped: {} is absent", capture.display());
        return;
    }
    let out = std::env::temp_dir().join(format!("svcscope-ldap-krb-{}.jsonl", std::process::id()));
    let bin = env!("CARGO_BIN_EXE_svcscope");
    let status = std::process::Command::new(bin)
        .args(["analyze", "-q", "--format", "json", "--flows"])
        .arg(&out)
        .arg(&capture)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.code().is_some());
    let text = std::fs::read_to_string(&out).unwrap();
    std::fs::remove_file(&out).ok();
    let r: serde_json::Value = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|r| r["server_port"] == 389)
        .unwrap();
    let items: Vec<(String, String)> = r["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"].as_str().unwrap().starts_with("kerberos"))
        .map(|e| {
            (
                e["kind"].as_str().unwrap().into(),
                e["value"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        items,
        [
            (
                "kerberos-spn".to_string(),
                "ldap/w2k3-101.w2k3.vmnet1.vm.base/w2k3.vmnet1.vm.base".to_string()
            ),
            ("kerberos-etype".to_string(), "rc4-hmac (weak)".to_string()),
        ]
    );
    // The ticket is for the LDAP service itself: the flow stays the directory's.
    assert_eq!(
        r["services"],
        serde_json::json!(["Local Security Authority"])
    );
}
