//! IPFIX export (`--ipfix`) against real collectors: pmacct's `nfacctd` (which resolves the
//! application names of the options records and reads svcscope's enterprise elements as custom
//! primitives) and nfdump's `nfcapd` (which stores the application id; `nfdump` prints and counts
//! it). Each test starts its collector on a free loopback port and kills it when done (on drop,
//! also when the test fails); without the collector installed (`scripts/deps test` installs the
//! `pmacct` and `nfdump` packages) it prints "skipped: …".

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_svcscope");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn installed(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

macro_rules! need {
    ($tool:expr) => {
        if !installed($tool) {
            eprintln!("skipped: {} is not installed (scripts/deps test)", $tool);
            return;
        }
    };
}

/// A temp dir of one test, removed when dropped.
struct Dir(PathBuf);

impl Dir {
    fn new(test: &str) -> Dir {
        let path =
            std::env::temp_dir().join(format!("svcscope-ipfix-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Dir(path)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A collector process, killed when dropped.
struct Collector(Child);

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Collector {
    /// Asks it to stop (SIGTERM: nfcapd closes its file) and waits at most 10 seconds.
    fn stop(mut self) {
        let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the collector did not stop");
    }
}

/// A loopback UDP port nothing is bound to now.
fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether a UDP socket is bound to 127.0.0.1:`port` (from /proc/net/udp).
fn udp_bound(port: u16) -> bool {
    let want = format!("0100007F:{port:04X}");
    std::fs::read_to_string("/proc/net/udp")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some(want.as_str()))
}

fn wait_bound(port: u16, c: &mut Collector) {
    let end = Instant::now() + Duration::from_secs(10);
    while !udp_bound(port) {
        if let Ok(Some(status)) = c.0.try_wait() {
            panic!("the collector exited: {status}");
        }
        assert!(
            Instant::now() < end,
            "the collector never listened on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// nfacctd writing one row per flow key to `dir/out.csv` every second, with svcscope's elements
/// (enterprise 32473) as custom primitives.
fn nfacctd(dir: &Path, port: u16) -> Collector {
    std::fs::write(
        dir.join("primitives.lst"),
        "name=svc_services\tfield_type=32473:101\tlen=vlen\tsemantics=str\n\
         name=svc_basis\tfield_type=32473:102\tlen=vlen\tsemantics=str\n\
         name=svc_provenance\tfield_type=32473:103\tlen=vlen\tsemantics=str\n\
         name=svc_rpc\tfield_type=32473:104\tlen=vlen\tsemantics=str\n",
    )
    .unwrap();
    let conf = format!(
        "daemonize: false\n\
         nfacctd_ip: 127.0.0.1\n\
         nfacctd_port: {port}\n\
         aggregate_primitives: {d}/primitives.lst\n\
         plugins: print[p]\n\
         aggregate[p]: src_host, dst_host, src_port, dst_port, proto, class, svc_services, svc_basis, svc_provenance, svc_rpc\n\
         print_output[p]: csv\n\
         print_output_separator[p]: |\n\
         print_output_file[p]: {d}/out.csv\n\
         print_output_file_append[p]: true\n\
         print_refresh_time[p]: 1\n",
        d = dir.display()
    );
    std::fs::write(dir.join("nfacctd.conf"), conf).unwrap();
    let out = std::fs::File::create(dir.join("nfacctd.log")).unwrap();
    let mut c = Collector(
        Command::new("nfacctd")
            .arg("-f")
            .arg(dir.join("nfacctd.conf"))
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("starting nfacctd"),
    );
    wait_bound(port, &mut c);
    // The print plugin starts after the daemon listens, and what comes before it is ready is
    // lost: wait for its first write cycle.
    let end = Instant::now() + Duration::from_secs(10);
    while !log(dir, "nfacctd.log").contains("Purging cache - END") {
        assert!(Instant::now() < end, "nfacctd's plugin never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    c
}

/// One row of nfacctd's output: (client, server, client port, server port, protocol) →
/// (class, services, basis, provenance, rpc interface, packets client to server).
type Rows =
    BTreeMap<(String, String, u64, u64, String), (String, String, String, String, String, u64)>;

/// nfacctd's rows so far (the header lines of each write skipped, packets of a key summed).
fn nfacctd_rows(dir: &Path) -> Rows {
    let text = std::fs::read_to_string(dir.join("out.csv")).unwrap_or_default();
    let mut rows = Rows::new();
    for line in text.lines().filter(|l| !l.starts_with("CLASS|")) {
        let f: Vec<&str> = line.split('|').collect();
        assert_eq!(f.len(), 12, "{line}");
        let key = (
            f[1].to_string(),
            f[2].to_string(),
            f[3].parse().unwrap(),
            f[4].parse().unwrap(),
            f[5].to_string(),
        );
        let e = rows.entry(key).or_insert_with(|| {
            (
                f[0].into(),
                f[6].into(),
                f[7].into(),
                f[8].into(),
                f[9].into(),
                0,
            )
        });
        e.5 += f[10].parse::<u64>().unwrap();
    }
    rows
}

/// Catalog display names → system names (`kdc`, `Netlogon`), as the IPFIX records name services.
fn system_names() -> HashMap<String, String> {
    let out = Command::new(BIN)
        .args(["catalog", "--format", "json"])
        .output()
        .unwrap();
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    rows.iter()
        .map(|r| {
            let name = r["service"].as_str().unwrap().to_string();
            let system = r["system_service"].as_str().unwrap_or(&name).to_string();
            (name, system)
        })
        .collect()
}

/// The rows nfacctd should print for these flow records.
fn expected_rows(records: &[Value]) -> Rows {
    let system = system_names();
    let mut rows = Rows::new();
    for r in records {
        let key = (
            r["client_addr"].as_str().unwrap().to_string(),
            r["server_addr"].as_str().unwrap().to_string(),
            r["client_port"].as_u64().unwrap_or(0),
            r["server_port"].as_u64().unwrap_or(0),
            r["transport"].as_str().unwrap().to_string(),
        );
        let services: Vec<&str> = r["services"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| system[s.as_str().unwrap()].as_str())
            .collect();
        let e = rows.entry(key).or_insert_with(|| {
            (
                r["app_protocol"]
                    .as_str()
                    .unwrap_or("unclassified")
                    .to_string(),
                services.join(","),
                r["service_basis"].as_str().unwrap().to_string(),
                r["provenance"].as_str().unwrap().to_string(),
                r["rpc_interface"].as_str().unwrap_or("").to_string(),
                0,
            )
        });
        e.5 += r["packets_c2s"].as_u64().unwrap();
    }
    rows
}

fn flow_records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Runs `svcscope analyze` on the bundled domain capture with `--ipfix` and `--flows`: the JSON
/// report and the flow records.
fn analyze(dir: &Path, collector: &str, extra: &[&str]) -> (Value, Vec<Value>) {
    analyze_file(dir, "fixtures/domain.pcapng", collector, extra)
}

fn analyze_file(dir: &Path, capture: &str, collector: &str, extra: &[&str]) -> (Value, Vec<Value>) {
    let flows = dir.join("flows.jsonl");
    let mut args = vec![
        "analyze",
        "-q",
        capture,
        "--format",
        "json",
        "--ipfix",
        collector,
        "--flows",
        flows.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = svcscope_testkit::run(BIN, &root(), &args);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stderr, "", "nothing on standard error");
    (serde_json::from_str(&stdout).unwrap(), flow_records(&flows))
}

/// A collector's log, for failure messages.
fn log(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_default()
}

/// Waits until nfacctd has printed `want` (or 10 seconds passed): its rows.
fn wait_rows(dir: &Path, want: &Rows) -> Rows {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let rows = nfacctd_rows(dir);
        if rows.len() >= want.len() || Instant::now() > end {
            return rows;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Exports `capture` into a fresh nfacctd: the rows it printed must be those of the flow records.
fn nfacctd_rows_equal_flow_records(test: &str, capture: &str, extra: &[&str]) -> (Value, Rows) {
    let dir = Dir::new(test);
    let port = free_port();
    let collector = nfacctd(&dir.0, port);
    let (report, records) = analyze_file(&dir.0, capture, &format!("127.0.0.1:{port}"), extra);
    let ipfix = &report["health"]["ipfix"];
    assert_eq!(ipfix["records"], records.len());
    assert_eq!(ipfix["records_sent"], records.len(), "{ipfix}");
    let want = expected_rows(&records);
    let got = wait_rows(&dir.0, &want);
    drop(collector);
    assert_eq!(got, want, "{}", log(&dir.0, "nfacctd.log"));
    (report, got)
}

/// IPv6 flows (their own template) and three workers (three sinks feeding one sender).
#[test]
fn nfacctd_reads_ipv6_flows_and_the_records_of_several_workers() {
    need!("nfacctd");
    let (_, rows) = nfacctd_rows_equal_flow_records("ipv6", "fixtures/ipv6-ext.pcap", &[]);
    assert!(
        rows.keys().any(|k| k.0.contains(':')),
        "no IPv6 flow: {rows:?}"
    );
    let (report, rows) =
        nfacctd_rows_equal_flow_records("workers", "fixtures/domain.pcapng", &["--workers", "3"]);
    // One record per flow.
    assert_eq!(
        report["health"]["ipfix"]["records"],
        report["totals"]["flows"]
    );
    assert!(rows.values().any(|r| r.1 == "kdc"));
}

#[test]
fn nfacctd_names_the_label_and_the_services_of_every_flow() {
    need!("nfacctd");
    let dir = Dir::new("nfacctd");
    let port = free_port();
    let collector = nfacctd(&dir.0, port);
    let (report, records) = analyze(&dir.0, &format!("127.0.0.1:{port}"), &[]);
    let ipfix = &report["health"]["ipfix"];
    assert_eq!(ipfix["records"], report["totals"]["flows"]);
    assert_eq!(ipfix["records_sent"], report["totals"]["flows"], "{ipfix}");
    let want = expected_rows(&records);
    let got = wait_rows(&dir.0, &want);
    drop(collector);
    assert_eq!(got.len(), want.len(), "{}", log(&dir.0, "nfacctd.log"));
    for (key, row) in &want {
        assert_eq!(got.get(key), Some(row), "{key:?}");
    }
    // What the user asked for, spelled out: the KDC's flows and Net Logon's.
    let kdc = got.values().filter(|r| r.0 == "Kerberos").count();
    assert!(
        kdc > 0
            && got
                .values()
                .filter(|r| r.0 == "Kerberos")
                .all(|r| r.1 == "kdc")
    );
    assert!(got
        .values()
        .any(|r| r.1.split(',').any(|s| s == "Netlogon")));
    assert!(got
        .values()
        .any(|r| r.0 == "RPC netlogon (MS-NRPC)" && r.4 == "12345678-1234-abcd-ef00-01234567cffb"));
}

/// nfcapd writing to `dir/nf`.
fn nfcapd(dir: &Path, port: u16) -> Collector {
    let store = dir.join("nf");
    std::fs::create_dir_all(&store).unwrap();
    let log = std::fs::File::create(dir.join("nfcapd.log")).unwrap();
    let mut c = Collector(
        Command::new("nfcapd")
            .args([
                "-b",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-t",
                "3600",
                "-w",
            ])
            .arg(&store)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting nfcapd"),
    );
    wait_bound(port, &mut c);
    c
}

fn nfdump(dir: &Path, args: &[&str]) -> String {
    let files: Vec<PathBuf> = std::fs::read_dir(dir.join("nf"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("nfcapd.2"))
        })
        .collect();
    assert_eq!(files.len(), 1, "one nfcapd file: {files:?}");
    let out = Command::new("nfdump")
        .arg("-r")
        .arg(&files[0])
        .args(args)
        .output()
        .expect("running nfdump");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn nfdump_counts_as_many_flows_per_application_id_as_svcscope_per_label() {
    need!("nfcapd");
    need!("nfdump");
    let dir = Dir::new("nfcapd");
    let port = free_port();
    let collector = nfcapd(&dir.0, port);
    let (report, records) = analyze(&dir.0, &format!("127.0.0.1:{port}"), &[]);
    assert_eq!(
        report["health"]["ipfix"]["records_sent"],
        report["totals"]["flows"]
    );
    // Give nfcapd the last datagrams, then let it close its file.
    std::thread::sleep(Duration::from_millis(500));
    collector.stop();

    // svcscope's labels per flow, by 5-tuple.
    // (application protocol, transport as flow records and the report name it: "gre", "esp"
    // for IP protocols); unclassified flows share one application id.
    let label = |r: &Value| match r["app_protocol"].as_str() {
        Some(app) => {
            let transport = r["transport"].as_str().unwrap();
            (app.to_string(), transport.to_string())
        }
        None => ("unclassified".to_string(), String::new()),
    };
    type Tuple = (String, u64, String, u64);
    let mut by_tuple: HashMap<Tuple, Vec<(String, String)>> = HashMap::new();
    for r in &records {
        let key = (
            r["client_addr"].as_str().unwrap().to_string(),
            r["client_port"].as_u64().unwrap_or(0),
            r["server_addr"].as_str().unwrap().to_string(),
            r["server_port"].as_u64().unwrap_or(0),
        );
        by_tuple.entry(key).or_default().push(label(r));
    }
    // nfdump's flows, grouped by application id: each id is one label.
    let listing = nfdump(&dir.0, &["-q", "-N", "-o", "fmt:%nbid|%sa|%sp|%da|%dp"]);
    let mut per_id: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for line in listing.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<String> = line.split('|').map(|s| s.trim().to_string()).collect();
        let key = (
            f[1].clone(),
            f[2].parse().unwrap(),
            f[3].clone(),
            f[4].parse().unwrap(),
        );
        let labels = by_tuple
            .get(&key)
            .unwrap_or_else(|| panic!("{line}: no such flow"));
        per_id
            .entry(f[0].clone())
            .or_default()
            .push(labels[0].clone());
    }
    let mut counts: BTreeMap<(String, String), u64> = BTreeMap::new();
    for (id, labels) in &per_id {
        assert!(
            labels.iter().all(|l| l == &labels[0]),
            "id {id}: {labels:?}"
        );
        assert!(
            counts
                .insert(labels[0].clone(), labels.len() as u64)
                .is_none(),
            "two ids"
        );
    }
    // The same counts as the report's, label by label.
    let want: BTreeMap<(String, String), u64> = report["app_protocols"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["flows"].as_u64().unwrap() > 0)
        .map(|a| {
            (
                (
                    a["app_protocol"].as_str().unwrap().to_string(),
                    a["transport"].as_str().unwrap().to_string(),
                ),
                a["flows"].as_u64().unwrap(),
            )
        })
        .collect();
    let unclassified = report["unclassified"]["flows"].as_u64().unwrap();
    let unclassified_got: u64 = counts
        .iter()
        .filter(|(l, _)| l.0 == "unclassified")
        .map(|(_, n)| n)
        .sum();
    assert_eq!(unclassified_got, unclassified);
    counts.retain(|l, _| l.0 != "unclassified");
    assert_eq!(counts, want);

    // nfdump's own aggregation (top application ids by flows) agrees.
    let stats = nfdump(&dir.0, &["-q", "-N", "-s", "nbar/flows", "-n", "0"]);
    let mut top: Vec<u64> = stats
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .filter_map(|flows| flows.split('(').next()?.parse().ok())
        .collect();
    let mut all: Vec<u64> = per_id.values().map(|v| v.len() as u64).collect();
    top.sort_unstable();
    all.sort_unstable();
    assert_eq!(top, all, "{stats}");
}

/// The bundled domain capture (pcapng, little-endian) split in two at a block boundary near the
/// middle: pcapng is read a thousand frames at a time, so the first half is analysed while the
/// second is still to come.
fn domain_capture_halves() -> (Vec<u8>, Vec<u8>) {
    let bytes = std::fs::read(root().join("fixtures/domain.pcapng")).unwrap();
    assert_eq!(
        &bytes[8..12],
        &0x1A2B_3C4Du32.to_le_bytes(),
        "little-endian pcapng"
    );
    let mut at = 0;
    while at < bytes.len() / 2 {
        at += u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
    }
    (bytes[..at].to_vec(), bytes[at..].to_vec())
}

/// Regression for a restarted collector: records exported after it came back are decoded,
/// because the templates and names are sent again on the timer (a collector without them drops
/// the records it cannot read).
#[test]
fn a_restarted_collector_reads_records_again_after_the_template_refresh() {
    need!("nfacctd");
    let (first, second) = domain_capture_halves();
    let dir = Dir::new("restart");
    let port = free_port();
    let collector = nfacctd(&dir.0, port);
    let flows = dir.0.join("flows.jsonl");
    let mut child = Command::new(BIN)
        .args([
            "analyze",
            "-q",
            "-",
            "--format",
            "json",
            "--ipfix-template-refresh",
            "1s",
        ])
        .arg("--ipfix")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--flows")
        .arg(&flows)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&first).unwrap();
    stdin.flush().unwrap();
    // The flows that ended in the first half reach the first collector.
    let end = Instant::now() + Duration::from_secs(10);
    while nfacctd_rows(&dir.0).is_empty() {
        assert!(
            Instant::now() < end,
            "nothing reached the first collector: {}",
            log(&dir.0, "nfacctd.log")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(1500));
    let before = nfacctd_rows(&dir.0);
    drop(collector);
    let _ = std::fs::remove_file(dir.0.join("out.csv"));
    // A new collector, which knows no templates; then the rest of the capture.
    let collector = nfacctd(&dir.0, port);
    std::thread::sleep(Duration::from_millis(2500));
    stdin.write_all(&second).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records = flow_records(&flows);
    let want = expected_rows(&records);
    let end = Instant::now() + Duration::from_secs(10);
    let mut after = nfacctd_rows(&dir.0);
    while before.len() + after.len() < want.len() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(200));
        after = nfacctd_rows(&dir.0);
    }
    drop(collector);
    assert!(!after.is_empty(), "the restarted collector read nothing");
    let mut got = before.clone();
    got.extend(after.clone());
    assert_eq!(
        got.len(),
        want.len(),
        "{} before, {} after",
        before.len(),
        after.len()
    );
    for (key, row) in &after {
        assert_eq!(want.get(key), Some(row), "{key:?}");
    }
}

#[test]
fn bad_collector_addresses_fail_with_one_line_and_nothing_else_runs() {
    for (bad, says) in [
        ("nowhere", "expected HOST:PORT"),
        ("127.0.0.1:70000", "the port must be 1 to 65535"),
        ("no-such-host.invalid:4739", "cannot resolve"),
    ] {
        let (code, stdout, stderr) = svcscope_testkit::run(
            BIN,
            &root(),
            &["analyze", "-q", "fixtures/domain.pcapng", "--ipfix", bad],
        );
        assert_eq!(code, 2, "{bad}: {stderr}");
        assert_eq!(stdout, "");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(says), "{bad}: {stderr}");
    }
}

/// Nothing listening on the collector's port: the report is whole, the failed sends are counted
/// and named once on standard error, and the run still succeeds.
#[test]
fn an_unreachable_collector_costs_no_local_output() {
    let port = free_port();
    let (code, stdout, stderr) = svcscope_testkit::run(
        BIN,
        &root(),
        &[
            "analyze",
            "-q",
            "fixtures/domain.pcapng",
            "--format",
            "json",
            "--ipfix-mtu",
            "512",
            "--ipfix",
            &format!("127.0.0.1:{port}"),
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["totals"]["flows"], 312);
    let ipfix = &report["health"]["ipfix"];
    assert_eq!(ipfix["records"], 312);
    let sent = ipfix["records_sent"].as_u64().unwrap();
    let unsent = ipfix["dropped_unsent"].as_u64().unwrap();
    assert_eq!(sent + unsent, 312, "{ipfix}");
    assert!(ipfix["send_errors"].as_u64().unwrap() > 0, "{ipfix}");
    assert!(unsent > 0);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("flow records not sent"), "{stderr}");
}
