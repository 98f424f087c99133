//! `svcscope hosts` and `svcscope rules` on the bundled domain capture: host profiles with roles, and
//! firewall rules for a domain controller, a file server and a VPN gateway in all three formats
//! (golden files in tests/golden/rules/; nftables output is checked with `nft -c` where possible).

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn svcscope(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_svcscope"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        stderr,
    )
}

fn golden(name: &str, actual: &str) {
    let path = root().join("tests/golden/rules").join(name);
    if std::env::var_os("SVCSCOPE_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("missing golden {}", path.display()));
    assert!(
        expected == actual,
        "{} differs:\n--- expected\n{expected}\n--- actual\n{actual}",
        path.display()
    );
}

fn hosts_json(args: &[&str]) -> Value {
    let mut all = vec!["hosts", "--format", "json", "-q", "fixtures/domain.pcapng"];
    all.extend_from_slice(args);
    let (code, out, err) = svcscope(&all);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

fn host<'a>(report: &'a Value, addr: &str) -> &'a Value {
    report["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["addr"] == addr)
        .unwrap_or_else(|| panic!("no host {addr}"))
}

fn serves<'a>(h: &'a Value, app: &str, transport: &str) -> &'a Value {
    h["serves"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["app_protocol"] == app && s["transport"] == transport)
        .unwrap_or_else(|| panic!("{} does not serve {app}/{transport}", h["addr"]))
}

#[test]
fn the_domain_controller_is_recognised_with_its_services_and_counts() {
    let report = hosts_json(&["--role"]);
    // Servers come first, by bytes served.
    let dc = host(&report, "192.0.2.10");
    let kerberos = serves(dc, "Kerberos", "tcp");
    assert_eq!(
        (&kerberos["flows"], &kerberos["clients"], &kerberos["port"]),
        (&42.into(), &18.into(), &88.into())
    );
    assert_eq!(serves(dc, "Kerberos", "udp")["flows"], 18);
    assert_eq!(serves(dc, "DNS", "udp")["flows"], 70);
    assert_eq!(serves(dc, "Global Catalog Server", "tcp")["clients"], 6);
    let rpc = serves(dc, "RPC dynamic (unconfirmed)", "tcp");
    assert_eq!(rpc["ports"], serde_json::json!([49667]));
    let roles: Vec<&str> = dc["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["domain controller", "DHCP server"]);
    let evidence = dc["roles"][0]["evidence"].as_array().unwrap();
    assert!(evidence.iter().any(|e| e
        .as_str()
        .unwrap()
        .starts_with("Kerberos tcp/88 (42 flows, 18 clients)")));
    assert_eq!(
        dc["roles"][0]["missing"],
        serde_json::json!(["tcp/3269", "tcp/636"])
    );
    // The DC also uses: NTP upstream.
    assert!(dc["uses"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["server"] == "198.51.100.123" && u["port"] == 123));

    let role_of = |addr: &str| -> Vec<String> {
        host(&report, addr)["roles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["role"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(role_of("192.0.2.20"), ["file server"]);
    assert_eq!(role_of("192.0.2.30"), ["SQL Server"]);
    assert_eq!(role_of("192.0.2.40"), ["terminal server"]);
    assert_eq!(role_of("192.0.2.1"), ["VPN gateway"]);
    assert_eq!(role_of("192.0.2.50"), ["web server"]);
    // Broadcast destinations are not hosts that serve.
    assert!(report["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .all(|h| h["addr"] != "192.0.2.255" && h["addr"] != "255.255.255.255"));
}

#[test]
fn host_and_net_narrow_the_view() {
    let one = hosts_json(&["--host", "192.0.2.101"]);
    let hosts = one["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 1);
    let client = &hosts[0];
    assert!(client["serves"].as_array().unwrap().is_empty());
    assert!(client["uses"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["server"] == "192.0.2.10" && u["app_protocol"] == "Kerberos"));
    let net = hosts_json(&["--net", "203.0.113.0/24"]);
    let addrs: Vec<&str> = net["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["addr"].as_str().unwrap())
        .collect();
    assert_eq!(addrs, ["203.0.113.50", "203.0.113.60"]);
    let (code, _, err) = svcscope(&["hosts", "--net", "192.0.2.0/40", "fixtures/domain.pcapng"]);
    assert_eq!(code, 2);
    assert_eq!(
        err.trim(),
        "svcscope: \"192.0.2.0/40\": prefix length must be 0-32"
    );
}

#[test]
fn hosts_table_golden() {
    let (code, out, _) = svcscope(&[
        "hosts",
        "--role",
        "-q",
        "--host",
        "192.0.2.10",
        "--host",
        "192.0.2.1",
        "fixtures/domain.pcapng",
    ]);
    assert_eq!(code, 0);
    golden("hosts-dc-and-vpn.txt", &out);
}

fn nft_check(text: &str) {
    let nft = ["/usr/sbin/nft", "/sbin/nft"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let Some(nft) = nft else {
        eprintln!("nft -c skipped: nftables is not installed");
        return;
    };
    // Tests run in parallel: one file each check.
    static CHECKS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = CHECKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let file = std::env::temp_dir().join(format!("svcscope-rules-{}-{n}.nft", std::process::id()));
    std::fs::write(&file, text).unwrap();
    let out = Command::new(nft)
        .args(["-c", "-f"])
        .arg(&file)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    if !out.status.success()
        && (err.contains("Operation not permitted") || err.contains("Permission denied"))
    {
        eprintln!("nft -c skipped: needs CAP_NET_ADMIN ({})", err.trim());
        return;
    }
    assert!(
        out.status.success(),
        "nft -c rejected the ruleset: {err}\n{text}"
    );
}

#[test]
fn rules_for_a_domain_controller_a_file_server_and_a_vpn_gateway() {
    for (name, host) in [
        ("dc", "192.0.2.10"),
        ("fileserver", "192.0.2.20"),
        ("vpn", "192.0.2.1"),
    ] {
        for format in ["powershell", "netsh", "nftables"] {
            for remote in [false, true] {
                let mut args = vec![
                    "rules",
                    "--host",
                    host,
                    "--format",
                    format,
                    "-q",
                    "fixtures/domain.pcapng",
                ];
                if remote {
                    args.push("--remote-from-observed");
                }
                let (code, out, err) = svcscope(&args);
                assert_eq!(code, 0, "{err}");
                let first = out.lines().next().unwrap();
                assert!(
                    first.contains("drafted by svcscope") && first.contains(host),
                    "{first}"
                );
                assert!(
                    out.contains("REVIEW BEFORE USE")
                        && out.contains("not a firewall configuration")
                );
                let ext = match format {
                    "powershell" => "ps1",
                    "netsh" => "cmd",
                    _ => "nft",
                };
                golden(
                    &format!("{name}{}.{ext}", if remote { "-remote" } else { "" }),
                    &out,
                );
                if format == "nftables" {
                    nft_check(&out);
                }
            }
        }
    }
    // Dynamic RPC uses the Windows firewall's keywords, and the configured range in nftables.
    let (_, ps, _) = svcscope(&[
        "rules",
        "--host",
        "192.0.2.10",
        "-q",
        "fixtures/domain.pcapng",
    ]);
    assert!(
        ps.contains("-Protocol TCP -LocalPort RPCEPMap")
            && ps.contains("-Protocol TCP -LocalPort RPC ")
    );
    let (_, netsh, _) = svcscope(&[
        "rules",
        "--host",
        "192.0.2.10",
        "--format",
        "netsh",
        "-q",
        "fixtures/domain.pcapng",
    ]);
    assert!(netsh.contains("localport=RPC-EPMap") && netsh.contains("localport=RPC "));
    let (_, nft, _) = svcscope(&[
        "rules",
        "--host",
        "192.0.2.10",
        "--format",
        "nftables",
        "-q",
        "fixtures/domain.pcapng",
    ]);
    assert!(nft.contains("tcp dport { 49152-65535, 1025-5000 } accept"));
    let (_, vpn, _) = svcscope(&[
        "rules",
        "--host",
        "192.0.2.1",
        "--format",
        "nftables",
        "-q",
        "fixtures/domain.pcapng",
    ]);
    assert!(vpn.contains("meta l4proto 47 accept") && vpn.contains("meta l4proto 50 accept"));
    assert!(vpn.contains("udp dport 500 accept") && vpn.contains("tcp dport 1723 accept"));
}

#[test]
fn rules_for_a_host_that_served_nothing_say_so() {
    let (code, out, _) = svcscope(&[
        "rules",
        "--host",
        "192.0.2.101",
        "-q",
        "fixtures/domain.pcapng",
    ]);
    assert_eq!(code, 0);
    assert!(out.contains("No catalog service was seen served by 192.0.2.101: no rules."));
    assert!(!out.contains("New-NetFirewallRule"));
    let (code, _, err) = svcscope(&[
        "rules",
        "--host",
        "192.0.2.0/24",
        "-q",
        "fixtures/domain.pcapng",
    ]);
    assert_eq!(code, 2);
    assert_eq!(
        err.trim(),
        "svcscope: --host takes one address, not a network: 192.0.2.0/24"
    );
}
