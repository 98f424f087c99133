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
    svcscope_testkit::run(env!("CARGO_BIN_EXE_svcscope"), &root(), args)
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
        (&51.into(), &18.into(), &88.into())
    );
    assert_eq!(serves(dc, "Kerberos", "udp")["flows"], 18);
    assert_eq!(serves(dc, "DNS", "udp")["flows"], 70);
    assert_eq!(serves(dc, "Global Catalog Server", "tcp")["clients"], 6);
    let rpc = serves(dc, "RPC netlogon (MS-NRPC)", "tcp");
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
        .starts_with("Kerberos tcp/88 (51 flows, 18 clients)")));
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
    // The file server also shares a printer (spoolss over a pipe, print$).
    assert_eq!(role_of("192.0.2.20"), ["file server", "print server"]);
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

fn nft_binary() -> Option<&'static str> {
    ["/usr/sbin/nft", "/sbin/nft"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A temp file of its own for each call (tests run in parallel).
fn temp_file(stem: &str, text: &str) -> PathBuf {
    static FILES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = FILES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let file = std::env::temp_dir().join(format!("svcscope-{stem}-{}-{n}", std::process::id()));
    std::fs::write(&file, text).unwrap();
    file
}

/// Loads a ruleset as an administrator would (`nft -f FILE`), but in a network namespace of its own
/// that already holds a table `ip sentinel`, and with /etc/protocols and /etc/services hidden behind
/// empty files (minimal systems and containers have neither); returns `nft -j list ruleset` from
/// that namespace. `None`, with a message, when that cannot run here (not root, no nft or unshare).
fn nft_load(text: &str) -> Option<Value> {
    let Some(nft) = nft_binary() else {
        eprintln!("nft load skipped: nftables is not installed");
        return None;
    };
    if !is_root() {
        eprintln!("nft load skipped: loading into a private network namespace needs root");
        return None;
    }
    let file = temp_file("rules.nft", text);
    let empty = temp_file("empty", "");
    let script = r#"set -e
for f in /etc/protocols /etc/services; do [ -e "$f" ] && mount --bind "$2" "$f"; done
"$1" add table ip sentinel
"$1" -f "$3"
"$1" -j list ruleset"#;
    let out = Command::new("unshare")
        .args(["--mount", "--net", "sh", "-c", script, "sh", nft])
        .arg(&empty)
        .arg(&file)
        .output();
    let _ = std::fs::remove_file(&file);
    let _ = std::fs::remove_file(&empty);
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            eprintln!("nft load skipped: cannot run unshare: {e}");
            return None;
        }
    };
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "nft -f rejected the ruleset (without /etc/protocols and /etc/services): {err}\n{text}"
    );
    let listing: Value = serde_json::from_slice(&out.stdout).unwrap();
    let tables: Vec<String> = listing["nftables"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o.get("table"))
        .map(|t| {
            format!(
                "{} {}",
                t["family"].as_str().unwrap(),
                t["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        tables,
        ["ip sentinel", "inet svcscope"],
        "loading the draft must add its own table and leave every other one alone"
    );
    Some(listing)
}

/// The rules of a listing: (expressions, comment) of each, in order.
fn nft_rules(listing: &Value) -> Vec<(Value, Option<String>)> {
    listing["nftables"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o.get("rule"))
        .map(|r| {
            assert_eq!(
                (&r["table"], &r["chain"]),
                (&"svcscope".into(), &"inbound".into())
            );
            (r["expr"].clone(), r["comment"].as_str().map(String::from))
        })
        .collect()
}

/// Checks a draft loads (see [`nft_load`]); where that cannot run, at least `nft -c` (which needs
/// CAP_NET_ADMIN), else skips with a message.
fn nft_check(text: &str) {
    if nft_load(text).is_some() {
        return;
    }
    let Some(nft) = nft_binary() else {
        return;
    };
    let file = temp_file("rules-check.nft", text);
    let out = Command::new(nft)
        .args(["-c", "-f"])
        .arg(&file)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&file);
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

/// A host that served nothing gets no draft: an nftables ruleset with no rule but the policy would
/// drop everything inbound (an administrator loading it locks themself out).
#[test]
fn rules_for_a_host_that_served_nothing_draft_nothing_and_fail() {
    for format in ["powershell", "netsh", "nftables"] {
        for host in ["192.0.2.101", "198.51.100.77"] {
            let (code, out, err) = svcscope(&[
                "rules",
                "--host",
                host,
                "--format",
                format,
                "-q",
                "fixtures/domain.pcapng",
            ]);
            assert_eq!(code, 1, "{format} {host}: {err}");
            assert_eq!(out, "", "{format} {host}: no draft on standard output");
            assert_eq!(
                err,
                format!(
                    "svcscope: no rules drafted: {host} was not seen serving any catalog service\n"
                )
            );
        }
    }
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

// ---- hostile names ------------------------------------------------------------------------------

/// Text a catalog file may hold (the loader refuses control characters) that would end a quoted
/// string, start another command or expand in PowerShell, cmd or nftables if written as it is.
const HOSTILE: [&str; 10] = [
    "x' ; Start-Process calc.exe ; '",
    "x\u{2019} ; Start-Process calc.exe ; \u{2018} \u{201a} \u{201b}",
    "$(Start-Process calc.exe) `whoami` ; @{a=1} | Out-Null",
    "\" & calc.exe & \" ^& calc.exe | calc.exe > x",
    "%PATH% !PATH! %~dp0 %1",
    "\"; flush ruleset; tcp dport 22 accept comment \"",
    // U+0112 is C4 92 in UTF-8: read in Windows-1252 (Windows PowerShell 5.1 and a file without a
    // byte-order mark), that is "Ä’", and ’ ends a single-quoted string.
    "\u{112}; Start-Process calc.exe; \u{c2} \u{3a9}\u{fc} \u{65e5}\u{672c} \u{1f600}",
    "dir\\",
    "# <# #> /* */ \\\" \\ `",
    "\u{201c}calc\u{201d} \u{201e}x\u{201d} ; \u{ff05}",
];

/// The twin of hostile text i: a plain word that is no prefix of another.
fn placeholder(i: usize) -> String {
    format!("Zq{i}q")
}

fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A catalog putting the hostile names (or their placeholders) into every field a draft shows:
/// service names, application protocols and DCE/RPC interface names and protocols, on the endpoint
/// mapper and the interfaces `fixtures/rpc.pcap`'s server 192.0.2.10 serves.
fn hostile_catalog(names: &[String]) -> String {
    let h = |i: usize| toml_string(&names[i]);
    format!(
        "[[service]]\nname = {}\nsystem = {}\nports = [ {{ app = {}, tcp = 135, note = {} }} ]\n\n\
         [[service]]\nname = {}\nports = [ {{ app = \"RPC\", tcp = 135 }} ]\n\n\
         [[service]]\nname = {}\nports = [ {{ app = \"RPC\", tcp = 135 }} ]\n\n\
         [[interface]]\nuuid = \"12345678-1234-abcd-ef00-01234567cffb\"\nname = {}\nprotocol = {}\nservices = [{}]\n\n\
         [[interface]]\nuuid = \"e3514235-4b06-11d1-ab04-00c04fc2dcd2\"\nname = {}\nprotocol = {}\nservices = [{}, {}]\n\n\
         [[interface]]\nuuid = \"12345778-1234-abcd-ef00-0123456789ac\"\nname = {}\nprotocol = {}\nservices = [{}]\n",
        h(0),
        h(1),
        h(2),
        h(3),
        h(6),
        h(7),
        h(4),
        h(5),
        h(6),
        h(8),
        h(9),
        h(0),
        h(7),
        h(1),
        h(3),
        h(7),
    )
}

/// Windows-1252, the ANSI code page Windows PowerShell 5.1 reads a script without a byte-order mark
/// in on western systems.
fn windows_1252(bytes: &[u8]) -> String {
    const HIGH: [u32; 32] = [
        0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039,
        0x152, 0x8d, 0x17d, 0x8f, 0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
        0x2dc, 0x2122, 0x161, 0x203a, 0x153, 0x9d, 0x17e, 0x178,
    ];
    bytes
        .iter()
        .map(|&b| match b {
            0x80..=0x9f => char::from_u32(HIGH[usize::from(b - 0x80)]).unwrap(),
            b => char::from(b),
        })
        .collect()
}

fn is_ps_quote(c: char) -> bool {
    matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{201b}')
}

#[derive(Debug, PartialEq)]
enum PsToken {
    Word(String),
    Str(String),
}

/// PowerShell's tokens, as far as a draft may use them: bare words of letters, digits and `-.:,/`;
/// single-quoted strings, which any of the five single-quote characters opens and closes and where a
/// doubled one is one literal quote; and `(…)` concatenations of those strings and `[char]0xHHHH`.
/// Anything else (`$`, `;`, `|`, `&`, a backtick, braces, double quotes of any kind, a line
/// continuation) is an error: it would be code, not an argument.
fn ps_tokens(line: &str) -> Result<Vec<PsToken>, String> {
    fn quoted(chars: &mut std::iter::Peekable<std::str::Chars>) -> Result<String, String> {
        let open = chars.next().ok_or("end of line")?;
        if !is_ps_quote(open) {
            return Err(format!("{open:?} is not a string"));
        }
        let mut value = String::new();
        loop {
            let c = chars.next().ok_or("unterminated string")?;
            if !is_ps_quote(c) {
                value.push(c);
            } else if chars.peek().copied().is_some_and(is_ps_quote) {
                value.push(chars.next().unwrap());
            } else {
                return Ok(value);
            }
        }
    }
    let mut tokens = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c == ' ' {
            chars.next();
            continue;
        }
        if is_ps_quote(c) {
            tokens.push(PsToken::Str(quoted(&mut chars)?));
        } else if c == '(' {
            chars.next();
            let mut units: Vec<u16> = Vec::new();
            let mut first = true;
            loop {
                if chars.peek() == Some(&'[') {
                    if first {
                        return Err("a concatenation must start with a string".into());
                    }
                    let code: String = chars.by_ref().take(12).collect();
                    let hex = code.strip_prefix("[char]0x").ok_or(format!("{code:?}"))?;
                    units.push(u16::from_str_radix(hex, 16).map_err(|e| e.to_string())?);
                } else {
                    units.extend(quoted(&mut chars)?.encode_utf16());
                }
                first = false;
                match (chars.next(), chars.peek()) {
                    (Some(')'), _) => break,
                    (Some(' '), Some('+')) => {
                        chars.next();
                        if chars.next() != Some(' ') {
                            return Err("expected ' + '".into());
                        }
                    }
                    other => return Err(format!("unexpected {other:?} in a concatenation")),
                }
            }
            tokens.push(PsToken::Str(
                String::from_utf16(&units).map_err(|e| e.to_string())?,
            ));
        } else {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if c == ' ' {
                    break;
                }
                if !(c.is_ascii_alphanumeric() || "-.:,/".contains(c)) {
                    return Err(format!("{c:?} outside a string"));
                }
                word.push(c);
                chars.next();
            }
            tokens.push(PsToken::Word(word));
            continue;
        }
        if chars.peek().is_some_and(|&c| c != ' ') {
            return Err("a string runs into the next token".into());
        }
    }
    Ok(tokens)
}

/// A PowerShell draft as its commands: each line is a comment or one `New-NetFirewallRule` with
/// exactly the expected parameters, each once; returns them as (parameter, value) lists.
fn powershell_commands(text: &str) -> Vec<Vec<(String, String)>> {
    let mut commands = Vec::new();
    for line in text.lines() {
        assert!(
            !line.contains('\r'),
            "a bare CR ends a PowerShell line: {line:?}"
        );
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let tokens = ps_tokens(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert_eq!(
            tokens[0],
            PsToken::Word("New-NetFirewallRule".into()),
            "{line}"
        );
        let mut args = Vec::new();
        for pair in tokens[1..].chunks(2) {
            let [PsToken::Word(param), value] = pair else {
                panic!("not a -Parameter value pair: {pair:?} in {line}");
            };
            let value = match value {
                PsToken::Word(w) | PsToken::Str(w) => w.clone(),
            };
            args.push((param.clone(), value));
        }
        let params: Vec<&str> = args.iter().map(|(p, _)| p.as_str()).collect();
        let expected: Vec<&str> = [
            "-DisplayName",
            "-Group",
            "-Direction",
            "-Action",
            "-Protocol",
            "-LocalPort",
            "-RemoteAddress",
            "-Description",
        ]
        .into_iter()
        .filter(|p| params.contains(p) || !matches!(*p, "-LocalPort" | "-RemoteAddress"))
        .collect();
        assert_eq!(params, expected, "{line}");
        commands.push(args);
    }
    commands
}

/// cmd.exe, as far as a draft may use it: no `%` or `!` anywhere (expansion happens inside quotes
/// too); outside double quotes none of `& | < > ^ ( )`; then the C runtime's argument rules (2n
/// backslashes and a quote: n backslashes and a quote toggle; 2n+1: n backslashes and a literal quote).
fn cmd_args(line: &str) -> Result<Vec<String>, String> {
    if let Some(c) = line
        .chars()
        .find(|c| matches!(c, '%' | '!') || c.is_control())
    {
        return Err(format!("{c:?} expands or breaks the line"));
    }
    let mut quoted = false;
    for c in line.chars() {
        if c == '"' {
            quoted = !quoted;
        } else if !quoted && "&|<>^()".contains(c) {
            return Err(format!("{c:?} outside quotes"));
        }
    }
    if quoted {
        return Err("unterminated quote".into());
    }
    let mut args = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(args);
        }
        let mut arg = String::new();
        let mut in_quotes = false;
        loop {
            let mut backslashes = 0;
            while chars.peek() == Some(&'\\') {
                chars.next();
                backslashes += 1;
            }
            match chars.peek() {
                Some('"') => {
                    chars.next();
                    arg.push_str(&"\\".repeat(backslashes / 2));
                    if backslashes % 2 == 1 {
                        arg.push('"');
                    } else {
                        in_quotes = !in_quotes;
                    }
                }
                next => {
                    arg.push_str(&"\\".repeat(backslashes));
                    match next {
                        None => break,
                        Some(' ') if !in_quotes => break,
                        Some(&c) => {
                            arg.push(c);
                            chars.next();
                        }
                    }
                }
            }
        }
        args.push(arg);
    }
}

/// A netsh draft as its commands: each line is a `REM` comment (no `%` or `!`) or one `netsh
/// advfirewall firewall add rule` with exactly the expected key=value arguments.
fn netsh_commands(text: &str) -> Vec<Vec<(String, String)>> {
    let mut commands = Vec::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(rem) = line.strip_prefix("REM ") {
            assert!(
                !rem.contains(['%', '!', '\r']),
                "a REM line that expands: {line}"
            );
            continue;
        }
        let args = cmd_args(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert_eq!(
            args[..5],
            ["netsh", "advfirewall", "firewall", "add", "rule"],
            "{line}"
        );
        let pairs: Vec<(String, String)> = args[5..]
            .iter()
            .map(|a| {
                let (k, v) = a
                    .split_once('=')
                    .unwrap_or_else(|| panic!("{a:?} in {line}"));
                (k.to_string(), v.to_string())
            })
            .collect();
        let keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
        let expected: Vec<&str> = [
            "name",
            "dir",
            "action",
            "protocol",
            "localport",
            "remoteip",
            "description",
        ]
        .into_iter()
        .filter(|k| keys.contains(k) || !matches!(*k, "localport" | "remoteip"))
        .collect();
        assert_eq!(keys, expected, "{line}");
        commands.push(pairs);
    }
    commands
}

/// The twin's commands with each placeholder replaced by what its hostile text must become.
fn expected_commands(
    twin: Vec<Vec<(String, String)>>,
    render: impl Fn(&str) -> String,
) -> Vec<Vec<(String, String)>> {
    let mut out: Vec<Vec<(String, String)>> = twin
        .into_iter()
        .map(|c| {
            c.into_iter()
                .map(|(k, mut v)| {
                    for (i, h) in HOSTILE.iter().enumerate() {
                        v = v.replace(&placeholder(i), &render(h));
                    }
                    (k, v)
                })
                .collect()
        })
        .collect();
    out.sort();
    out
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

/// Hostile catalog names and a hostile capture file name go through all three formats: every line of
/// every draft is a comment or exactly one of the intended commands, with the intended arguments
/// (the same commands as a twin catalog with plain names gives, the names put back); the nftables
/// draft loads, adds only its own table, and holds the twin's rules.
#[test]
fn hostile_names_cannot_add_commands_to_the_drafts() {
    let dir = std::env::temp_dir().join(format!("svcscope-hostile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let hostile_names: Vec<String> = HOSTILE.iter().map(|s| s.to_string()).collect();
    let twin_names: Vec<String> = (0..HOSTILE.len()).map(placeholder).collect();
    let hostile_catalog_file = dir.join("hostile.toml");
    std::fs::write(&hostile_catalog_file, hostile_catalog(&hostile_names)).unwrap();
    let twin_catalog_file = dir.join("twin.toml");
    std::fs::write(&twin_catalog_file, hostile_catalog(&twin_names)).unwrap();
    // The capture under a name that, unescaped, ends the header comment and empties the firewall.
    let capture = root().join("fixtures/rpc.pcap");
    let hostile_capture =
        dir.join("cap\nflush ruleset\n# x'\u{2019}\"%PATH%!x!\r& calc.exe\u{1b}[2J.pcap");
    std::fs::copy(&capture, &hostile_capture).unwrap();
    let draft = |catalog: &PathBuf, capture: &PathBuf, format: &str| {
        let (code, out, err) = svcscope(&[
            "--catalog",
            catalog.to_str().unwrap(),
            "rules",
            "--host",
            "192.0.2.10",
            "--format",
            format,
            "-q",
            capture.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{err}");
        out
    };

    let ps = draft(&hostile_catalog_file, &hostile_capture, "powershell");
    let twin = draft(&twin_catalog_file, &capture, "powershell");
    let commands = powershell_commands(&ps);
    assert!(commands.len() >= 5, "{ps}");
    assert!(ps.is_ascii() || ps.lines().all(|l| l.is_ascii() || l.starts_with('#')));
    assert_eq!(
        sorted(commands),
        expected_commands(powershell_commands(&twin), |h| h.to_string()),
        "{ps}"
    );
    // Windows PowerShell 5.1 reads a file without a byte-order mark as Windows-1252: the same lines,
    // the same commands.
    let ansi = windows_1252(ps.as_bytes());
    assert_eq!(ansi.lines().count(), ps.lines().count());
    assert_eq!(
        sorted(powershell_commands(&ansi)),
        sorted(powershell_commands(&ps))
    );
    assert!(ps.contains("# Traffic: ") && ps.contains("cap\\nflush ruleset\\n# x'"));

    let netsh = draft(&hostile_catalog_file, &hostile_capture, "netsh");
    let twin = draft(&twin_catalog_file, &capture, "netsh");
    let commands = netsh_commands(&netsh);
    assert!(commands.len() >= 5, "{netsh}");
    assert_eq!(
        sorted(commands),
        expected_commands(netsh_commands(&twin), |h| h
            .replace('"', "'")
            .replace('%', "\u{ff05}")
            .replace('!', "\u{ff01}")),
        "{netsh}"
    );

    let nft = draft(&hostile_catalog_file, &hostile_capture, "nftables");
    let twin = draft(&twin_catalog_file, &capture, "nftables");
    assert!(nft.contains("# Traffic: ") && nft.contains("cap\\nflush ruleset\\n# x'"));
    for line in nft.lines() {
        let code = line.trim_start();
        assert!(
            !code.starts_with("flush") && !code.starts_with("tcp dport 22"),
            "{line}"
        );
    }
    if let (Some(hostile), Some(twin)) = (nft_load(&nft), nft_load(&twin)) {
        let nft_comment = |c: String| {
            let mut c = c;
            for (i, h) in HOSTILE.iter().enumerate() {
                c = c.replace(&placeholder(i), &h.replace('"', "'"));
            }
            if c.len() > 120 {
                let mut cut = 117;
                while !c.is_char_boundary(cut) {
                    cut -= 1;
                }
                c.truncate(cut);
                c.push_str("...");
            }
            c
        };
        let expected: Vec<(String, Option<String>)> = nft_rules(&twin)
            .into_iter()
            .map(|(e, c)| (e.to_string(), c.map(nft_comment)))
            .collect();
        let actual: Vec<(String, Option<String>)> = nft_rules(&hostile)
            .into_iter()
            .map(|(e, c)| (e.to_string(), c))
            .collect();
        assert_eq!(sorted(actual), sorted(expected), "{nft}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// With evidence, a host serves the services its payload showed (an interface bound) ahead of its
/// ports, and its rules are grouped by those services; a shared port whose every flow evidence
/// determined (the endpoint mapper's 135) is no "not determined" group, while one with flows
/// nothing determined (SMB on the domain's DC) is, listing its candidates.
#[test]
fn hosts_and_rules_lead_with_the_services_evidence_showed() {
    let (code, out, err) = svcscope(&["hosts", "--format", "json", "-q", "fixtures/rpc.pcap"]);
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let server = host(&report, "192.0.2.10");
    let served: Vec<(&str, u64)> = server["services_served"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["service"].as_str().unwrap(), s["flows"].as_u64().unwrap()))
        .collect();
    for want in [
        // Its two flows on 49668, and the endpoint-mapper flow whose request asked for it.
        ("Net Logon", 3),
        ("Event Log", 2),
        ("Local Security Authority", 2),
        ("Remote Procedure Call (RPC)", 1),
    ] {
        assert!(served.contains(&want), "{want:?} not in {served:?}");
    }
    assert!(
        !served.iter().any(|s| s.0 == "Certificate Services"),
        "{served:?}"
    );
    let netlogon = server["services_served"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == "Net Logon")
        .unwrap();
    assert_eq!(netlogon["ports"], serde_json::json!([135, 49668]));
    assert_eq!(netlogon["evidence"][0]["name"], "netlogon");
    let client = host(&report, "192.0.2.101");
    assert!(client["services_used"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["service"] == "Net Logon" && u["server"] == "192.0.2.10"));
    let epm = serves(server, "RPC", "tcp");
    assert_eq!(
        (&epm["evidence_flows"], &epm["undetermined_flows"]),
        (&1.into(), &0.into())
    );

    let (code, table, _) = svcscope(&["hosts", "-q", "fixtures/rpc.pcap"]);
    assert_eq!(code, 0);
    let first_serves = table
        .lines()
        .position(|l| l.starts_with("  serves "))
        .unwrap();
    let port_table = table
        .lines()
        .position(|l| l.starts_with("  SERVES "))
        .unwrap();
    assert!(first_serves < port_table, "{table}");
    assert!(
        table.contains(
            "  serves Net Logon (endpoint-mapper netlogon, epm-request netlogon, learnt-endpoint netlogon, rpc-b…; 2 clients, 3 flows) via RPC tcp/135, RPC netlogon (MS-NRPC) tcp/dynamic\n"
        ),
        "{table}"
    );

    let (code, ps, err) = svcscope(&["rules", "--host", "192.0.2.10", "-q", "fixtures/rpc.pcap"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        ps.contains("# Net Logon — from evidence: endpoint-mapper netlogon, epm-request netlogon, learnt-endpoint netlogon, rpc-bind netlogon\n"),
        "{ps}"
    );
    assert!(ps.contains("-Group 'svcscope: Net Logon' -Direction Inbound -Action Allow -Protocol TCP -LocalPort RPC "));
    assert!(ps.contains("-Group 'svcscope: Remote Procedure Call (RPC)' -Direction Inbound -Action Allow -Protocol TCP -LocalPort RPCEPMap "));
    assert!(!ps.contains("not determined"), "{ps}");
    assert!(!ps.contains("shared by"), "{ps}");

    // Connectionless RPC (Event Log over UDP) gets a UDP rule on the dynamic ranges, not the TCP
    // `RPC` keyword.
    assert!(
        ps.contains("-Protocol UDP -LocalPort 49152-65535,1025-5000 "),
        "{ps}"
    );
    let (_, nft, _) = svcscope(&[
        "rules",
        "--host",
        "192.0.2.10",
        "--format",
        "nftables",
        "-q",
        "fixtures/rpc.pcap",
    ]);
    assert!(nft.contains("    udp dport { 49152-65535, 1025-5000 } accept comment \"RPC eventlog6 (MS-EVEN6) (dynamic UDP ports)\"\n"), "{nft}");
    nft_check(&nft);

    let (_, dc, _) = svcscope(&[
        "rules",
        "--host",
        "192.0.2.10",
        "-q",
        "fixtures/domain.pcapng",
    ]);
    // The DC's SMB is determined by what it carried: no "SMB not determined" group, and the
    // services the pipes, shares and referrals showed each get theirs.
    assert!(!dc.contains("# SMB — service not determined"), "{dc}");
    for group in [
        "# Server — from evidence: kerberos-spn cifs/dc01.corp.example, kerberos-ticket cifs/dc01.corp.example, smb 3.1.1, IPC$ share",
        "# Net Logon — from evidence: endpoint-mapper netlogon, epm-request netlogon, ldap-ping request, pipe-bind netlogon, rpc-bind netlogon, netlogon pipe",
        "# Remote Procedure Call (RPC) — from evidence: rpc-bind epmapper",
        "# Local Security Authority — from evidence: ldap bindRequest, kerberos-spn ldap/dc01.corp.example, ldap searchRequest, pipe-bind lsarpc",
        "# Kerberos Key Distribution Center — from evidence: kerberos AS-REQ, kerberos TGS-REQ",
        "# Distributed File System — from evidence: dfs-referral \\corp.example\\SYSVOL",
    ] {
        assert!(dc.contains(group), "{group}\n{dc}");
    }
    // LDAP and CLDAP are verified: their ports are LSA's rules, not a group of candidates.
    assert!(
        !dc.contains("# LDAP Server — service not determined"),
        "{dc}"
    );
    for rule in ["LDAP Server (TCP 389)", "LDAP Server (UDP 389)"] {
        assert!(
            dc.contains(&format!(
                "-DisplayName 'svcscope: {rule}' -Group 'svcscope: Local Security Authority'"
            )),
            "{rule}\n{dc}"
        );
    }
    // A shared port nothing determined stays one group that says so.
    assert!(dc.contains("# DHCP Server — service not determined (no evidence of which was used); candidates: DHCP Server, Internet Connection Firewall (ICF)/Internet Connection Sharing (ICS)"), "{dc}");
    // Every DNS answer the DC gave spoke for its zone: DNS is the DNS Server's, by evidence.
    assert!(
        dc.contains("# DNS Server — from evidence: dns-authoritative "),
        "{dc}"
    );
    assert!(!dc.contains("# DNS — service not determined"), "{dc}");
}
