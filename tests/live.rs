//! Live capture on real interfaces.
//!
//! Every test builds its own pair of network namespaces joined by a veth pair (one end in each, none
//! in the host namespace), runs the real binary with `ip netns exec B svcscope capture -i vethB …`,
//! replays a fixture into the other end with `ip netns exec A tcpreplay -i vethA`, and compares the
//! live report with `svcscope analyze` of the same fixture. No packet ever leaves these namespaces.
//!
//! IPv6 is disabled in both namespaces before the links come up, so the kernel sends nothing of its
//! own (router solicitations, MLD reports) and the only frames on the wire are the fixture's. The
//! fixtures' frames are at least 60 bytes long (the generator pads them as an Ethernet card would)
//! and veth neither pads nor strips frames, so captured byte counts equal the file's.
//!
//! The tests need root, `ip netns` and tcpreplay; without them each test prints "skipped: …" to
//! standard error and returns.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;
use svcscope_testkit::Run;

const BIN: &str = env!("CARGO_BIN_EXE_svcscope");

/// Replay squeezes minutes of trace time into milliseconds of wall time (and a live capture stamps
/// packets with arrival time): idle timeouts long enough that no flow ends early either way.
const TIMEOUTS: [&str; 6] = [
    "--udp-timeout",
    "1d",
    "--tcp-timeout",
    "1d",
    "--other-timeout",
    "1d",
];

/// How long a capture may take to say it is listening, and to end once told to.
/// Packets in fixtures/domain.pcapng (fixtures/README.md).
const DOMAIN_PACKETS: u64 = 4735;
/// The same, as `--count` takes it.
const DOMAIN_PACKETS_ARG: &str = "4735";

const START_TIMEOUT: Duration = Duration::from_secs(15);
const END_TIMEOUT: Duration = Duration::from_secs(20);

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// Why these tests cannot run here, if they cannot.
fn skip_reason() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some(
            "not running as root: live capture tests need root to create network namespaces \
             and capture packets"
                .into(),
        );
    }
    match Command::new("ip").args(["netns", "list"]).output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            return Some(format!(
                "`ip netns list` failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ))
        }
        Err(e) => {
            return Some(format!(
                "`ip netns` unavailable (iproute2 not installed?): {e}"
            ))
        }
    }
    match Command::new("tcpreplay").arg("--version").output() {
        Ok(o) if o.status.success() => None,
        Ok(_) => Some("`tcpreplay --version` failed".into()),
        Err(e) => Some(format!("tcpreplay not installed: {e}")),
    }
}

/// Sets up a namespace pair, or prints why not and returns from the test.
macro_rules! netns_or_skip {
    () => {{
        if let Some(why) = skip_reason() {
            eprintln!("skipped: {why}");
            return;
        }
        match NetnsPair::new() {
            Ok(pair) => pair,
            Err(why) => {
                eprintln!("skipped: cannot create network namespaces: {why}");
                return;
            }
        }
    }};
}

/// Runs a command to completion; panics with its output when it fails.
fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Two fresh network namespaces, `<base>-a` holding `vethA` and `<base>-b` holding `vethB`, the two
/// ends of one veth pair. Dropping it deletes both namespaces (and with them the veth pair), also
/// when a test panics.
struct NetnsPair {
    a: String,
    b: String,
    /// Namespaces created so far (deleted on drop).
    created: Vec<String>,
}

impl NetnsPair {
    const A_IF: &'static str = "vethA";
    const B_IF: &'static str = "vethB";

    /// Err only when the namespaces themselves cannot be created (no privilege for it here);
    /// anything failing after that panics.
    fn new() -> Result<NetnsPair, String> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let base = format!(
            "svcs-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let mut pair = NetnsPair {
            a: format!("{base}-a"),
            b: format!("{base}-b"),
            created: Vec::new(),
        };
        for ns in [pair.a.clone(), pair.b.clone()] {
            let out = Command::new("ip")
                .args(["netns", "add", &ns])
                .output()
                .map_err(|e| e.to_string())?;
            if !out.status.success() {
                return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
            }
            pair.created.push(ns);
        }
        // Both ends are created directly inside their namespaces: none ever exists in the host's.
        run(Command::new("ip").args([
            "link",
            "add",
            Self::A_IF,
            "netns",
            &pair.a,
            "type",
            "veth",
            "peer",
            "name",
            Self::B_IF,
            "netns",
            &pair.b,
        ]));
        for ns in [&pair.a, &pair.b] {
            for key in ["all", "default"] {
                run(pair.exec(ns).args([
                    "sysctl",
                    "-qw",
                    &format!("net.ipv6.conf.{key}.disable_ipv6=1"),
                ]));
            }
            run(Command::new("ip").args(["-n", ns, "link", "set", "lo", "up"]));
        }
        // The veth ends were created before IPv6 was disabled in `all`/`default`: disable it on them
        // too, explicitly, before they come up.
        for (ns, dev) in [(&pair.a, Self::A_IF), (&pair.b, Self::B_IF)] {
            run(pair.exec(ns).args([
                "sysctl",
                "-qw",
                &format!("net.ipv6.conf.{dev}.disable_ipv6=1"),
            ]));
        }
        for (ns, dev) in [(&pair.a, Self::A_IF), (&pair.b, Self::B_IF)] {
            run(Command::new("ip").args(["-n", ns, "link", "set", dev, "up"]));
        }
        pair.wait_up();
        Ok(pair)
    }

    /// `ip netns exec NS` as the start of a command.
    fn exec(&self, ns: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns]);
        c
    }

    /// Waits until both ends report carrier (a veth end is only up once its peer is).
    fn wait_up(&self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let up = [(&self.a, Self::A_IF), (&self.b, Self::B_IF)]
                .iter()
                .all(|(ns, dev)| {
                    let out = run(Command::new("ip").args(["-n", ns, "-o", "link", "show", dev]));
                    let text = String::from_utf8_lossy(&out.stdout);
                    text.contains("LOWER_UP") && text.contains("state UP")
                });
            if up {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "veth pair in {} / {} did not come up",
                self.a,
                self.b
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// `svcscope capture -i vethB --user root ARGS` in namespace B, once it is listening.
    fn capture(&self, args: &[&str]) -> Capture {
        let mut cmd = self.exec(&self.b);
        cmd.args([BIN, "capture", "-i", Self::B_IF, "--user", "root"])
            .args(args);
        Capture::start(cmd)
    }

    /// `WRAPPER… svcscope capture -i vethB ARGS` in namespace B (no `--user`), once it is
    /// listening; `program` is the binary to run. The wrapper must exec it, so that its pid is the
    /// capture's.
    fn capture_via(&self, wrapper: &[&str], program: &str, args: &[&str]) -> Capture {
        let mut cmd = self.exec(&self.b);
        cmd.args(wrapper)
            .args([program, "capture", "-i", Self::B_IF])
            .args(args);
        Capture::start(cmd)
    }

    /// Replays a file into vethA at `pps` packets a second (in the background of `scope`).
    fn replay_at(&self, file: &Path, pps: u32) -> Command {
        let mut cmd = self.exec(&self.a);
        cmd.args([
            "tcpreplay",
            "-q",
            "-i",
            Self::A_IF,
            &format!("--pps={pps}"),
            file.to_str().expect("UTF-8 path"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        cmd
    }

    /// Replays a capture file into vethA at top speed; returns the number of packets sent.
    fn replay(&self, file: &Path) -> u64 {
        let out = run(self.exec(&self.a).args([
            "tcpreplay",
            "-q",
            "-i",
            Self::A_IF,
            "--topspeed",
            file.to_str().expect("UTF-8 path"),
        ]));
        let text = String::from_utf8_lossy(&out.stdout);
        let sent = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("Successful packets:"))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no packet count in tcpreplay's output:\n{text}"));
        let failed: u64 = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("Failed packets:"))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0);
        assert_eq!(failed, 0, "tcpreplay failed to send some packets:\n{text}");
        sent
    }

    /// Packets vethB has received so far.
    fn b_rx_packets(&self) -> u64 {
        let out =
            run(Command::new("ip").args(["-n", &self.b, "-j", "-s", "link", "show", Self::B_IF]));
        let v: Value = serde_json::from_slice(&out.stdout).expect("ip -j prints JSON");
        v[0]["stats64"]["rx"]["packets"]
            .as_u64()
            .unwrap_or_else(|| panic!("no rx packets in {v}"))
    }

    /// Interface statistics of vethB, for failure messages.
    fn b_stats(&self) -> String {
        Command::new("ip")
            .args(["-n", &self.b, "-s", "link", "show", Self::B_IF])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }
}

impl Drop for NetnsPair {
    fn drop(&mut self) {
        for ns in self.created.drain(..) {
            let _ = Command::new("ip")
                .args(["netns", "del", &ns])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// A running `svcscope capture`. Dropping it kills the process if it is still running.
struct Capture {
    child: Child,
    stdout: Option<JoinHandle<String>>,
    stderr_lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
    finished: bool,
}

/// What a capture printed and how it ended.
struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl Capture {
    fn start(mut cmd: Command) -> Capture {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        let mut out = child.stdout.take().expect("piped stdout");
        let stdout = thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        });
        let err = child.stderr.take().expect("piped stderr");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = channel();
        {
            let stderr = stderr.clone();
            thread::spawn(move || {
                for line in BufReader::new(err).lines() {
                    let Ok(line) = line else { break };
                    let mut all = stderr.lock().unwrap();
                    all.push_str(&line);
                    all.push('\n');
                    drop(all);
                    let _ = tx.send(line);
                }
            });
        }
        let mut cap = Capture {
            child,
            stdout: Some(stdout),
            stderr_lines: rx,
            stderr,
            finished: false,
        };
        cap.wait_listening();
        cap
    }

    fn wait_listening(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr_lines.recv_timeout(left) {
                Ok(line) if line.starts_with("svcscope: listening on") => return,
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => panic!(
                    "capture did not start listening within {START_TIMEOUT:?}; stderr:\n{}",
                    self.stderr.lock().unwrap()
                ),
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().ok();
                    self.finished = true;
                    panic!(
                        "capture ended before listening ({status:?}); stderr:\n{}",
                        self.stderr.lock().unwrap()
                    )
                }
            }
        }
    }

    fn pid(&self) -> nix::unistd::Pid {
        // `ip netns exec` execs the command: its pid is svcscope's.
        nix::unistd::Pid::from_raw(self.child.id() as i32)
    }

    /// Ctrl-C.
    fn interrupt(&self) {
        self.signal(nix::sys::signal::Signal::SIGINT);
    }

    fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(self.pid(), signal)
            .unwrap_or_else(|e| panic!("sending {signal} to the capture: {e}"));
    }

    /// The line the capture printed when it started listening.
    fn listening_line(&self) -> String {
        self.stderr
            .lock()
            .unwrap()
            .lines()
            .find(|l| l.starts_with("svcscope: listening on"))
            .expect("a listening line")
            .to_string()
    }

    /// The privileges of every thread of the running capture, from /proc/PID/task/*/status.
    fn privileges(&self) -> Vec<Privileges> {
        let dir = format!("/proc/{}/task", self.pid());
        let tasks: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{dir}: {e}"))
            .map(|e| e.unwrap().path().join("status"))
            .collect();
        assert!(!tasks.is_empty(), "no threads in {dir}");
        tasks
            .iter()
            .map(|p| Privileges::parse(&std::fs::read_to_string(p).unwrap()))
            .collect()
    }

    /// Waits for the capture to end by itself; `context` explains failures.
    fn wait(mut self, context: &dyn Fn() -> String) -> Finished {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("waiting for the capture") {
                break status;
            }
            if started.elapsed() > END_TIMEOUT {
                let _ = self.child.kill();
                let _ = self.child.wait();
                self.finished = true;
                panic!(
                    "capture did not end within {END_TIMEOUT:?}; stderr:\n{}\n{}",
                    self.stderr.lock().unwrap(),
                    context()
                );
            }
            thread::sleep(Duration::from_millis(20));
        };
        self.finished = true;
        let stdout = self
            .stdout
            .take()
            .expect("stdout reader")
            .join()
            .expect("stdout reader thread");
        // The stderr reader ends with the pipe; give it a moment to take the last lines.
        let deadline = Instant::now() + Duration::from_secs(2);
        while self
            .stderr_lines
            .recv_timeout(Duration::from_millis(50))
            .is_ok()
            && Instant::now() < deadline
        {}
        let stderr = self.stderr.lock().unwrap().clone();
        Finished {
            status,
            stdout,
            stderr,
            elapsed: started.elapsed(),
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if !self.finished {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Finished {
    /// The final report (the whole of standard output, or its last line with `--interval`).
    fn report(&self) -> Value {
        assert!(
            self.status.success(),
            "capture failed ({}); stderr:\n{}\nstdout:\n{}",
            self.status,
            self.stderr,
            self.stdout
        );
        self.json()
    }

    /// The report, whatever the exit status.
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "capture's standard output is not one JSON report ({e}):\n{}",
                self.stdout
            )
        })
    }
}

/// `svcscope analyze FILES --format json -q EXTRA` with the same flow timeouts as the captures.
fn analyze(files: &[&Path], extra: &[&str]) -> Value {
    let out = offline(&["analyze"], files, extra);
    serde_json::from_str(&out).expect("analyze prints one JSON report")
}

/// `svcscope COMMAND FILES --format json -q EXTRA` with the captures' flow timeouts: its output.
fn offline(command: &[&str], files: &[&Path], extra: &[&str]) -> String {
    let mut args = command.to_vec();
    args.extend(["--format", "json", "-q"]);
    args.extend(TIMEOUTS);
    args.extend(extra);
    let mut cmd = svcscope_testkit::command(BIN, Path::new(env!("CARGO_MANIFEST_DIR")), &args);
    let r = Run::of(cmd.args(files));
    assert_eq!(r.code, 0, "svcscope {command:?} failed:\n{}", r.stderr);
    r.stdout
}

fn u(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("no number \"{key}\" in {v}"))
}

/// totals: flows, packets, bytes.
fn totals(r: &Value) -> [u64; 3] {
    let t = &r["totals"];
    [u(t, "flows"), u(t, "packets"), u(t, "bytes")]
}

/// The per-application-protocol rows as comparable lines, sorted.
fn app_rows(r: &Value) -> Vec<String> {
    let mut rows: Vec<String> = r["app_protocols"]
        .as_array()
        .expect("app_protocols is an array")
        .iter()
        .map(|a| {
            format!(
                "{} {}/{} flows {} packets {}/{} bytes {}/{}",
                a["app_protocol"].as_str().expect("app_protocol"),
                a["transport"].as_str().expect("transport"),
                a["port"],
                u(a, "flows"),
                u(a, "packets_c2s"),
                u(a, "packets_s2c"),
                u(a, "bytes_c2s"),
                u(a, "bytes_s2c"),
            )
        })
        .collect();
    rows.sort();
    rows
}

/// Live and offline reports agree on totals and on every application-protocol row.
fn assert_same_traffic(live: &Value, offline: &Value, what: &str) {
    assert_eq!(
        totals(live),
        totals(offline),
        "{what}: totals (flows, packets, bytes) differ: live vs offline"
    );
    assert_eq!(
        app_rows(live),
        app_rows(offline),
        "{what}: app_protocols rows differ: live vs offline"
    );
}

/// The live health counters: (received, dropped_by_kernel, dropped_by_interface, dropped_by_svcscope).
fn live_health(r: &Value) -> [u64; 4] {
    let l = &r["health"]["live"];
    assert!(l.is_object(), "health.live missing in {}", r["health"]);
    [
        u(l, "received"),
        u(l, "dropped_by_kernel"),
        u(l, "dropped_by_interface"),
        u(l, "dropped_by_svcscope"),
    ]
}

/// A scratch directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "svcscope-live-{}-{tag}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).expect("creating a scratch directory");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Replays `name` into a capture that stops after exactly the fixture's packet count, and compares
/// the report with the offline analysis of the fixture.
fn live_equals_offline(name: &str, extra: &[&str]) {
    let ns = netns_or_skip!();
    let file = fixture(name);
    let offline = analyze(&[&file], &[]);
    let packets = totals(&offline)[1];
    let count = packets.to_string();
    let mut args = vec!["--format", "json", "--count", &count];
    args.extend(TIMEOUTS);
    args.extend(extra);
    let cap = ns.capture(&args);
    let sent = ns.replay(&file);
    assert_eq!(
        sent, packets,
        "tcpreplay sent a different number of packets"
    );
    let done = cap.wait(&|| format!("vethB after replay:\n{}", ns.b_stats()));
    let live = done.report();
    assert_same_traffic(&live, &offline, name);
    assert_eq!(u(&live["inputs"][0], "packets"), packets);
    let [received, kernel, interface, svcscope] = live_health(&live);
    assert_eq!(
        (kernel, interface, svcscope),
        (0, 0, 0),
        "{name}: drops reported"
    );
    assert!(received >= packets, "{name}: libpcap received {received}");
}

#[test]
fn catalog_rows_live_equals_offline() {
    live_equals_offline("catalog-rows.pcap", &[]);
}

#[test]
fn shared_ports_live_equals_offline() {
    live_equals_offline("shared-ports.pcap", &[]);
}

#[test]
fn domain_live_equals_offline() {
    // 4,735 frames (1.7 MB) at top speed: a kernel buffer with room for all of them, so that a slow
    // start of the (debug) reader thread on a busy machine cannot drop any.
    live_equals_offline("domain.pcapng", &["--buffer-size", "8MiB"]);
}

/// The services rows as comparable lines, sorted.
fn service_rows(r: &Value) -> Vec<String> {
    let mut rows: Vec<String> = r["services"]
        .as_array()
        .expect("services is an array")
        .iter()
        .map(|s| {
            format!(
                "{} flows {} packets {}/{} bytes {}/{} clients {} servers {}",
                s["service"].as_str().expect("service"),
                u(s, "flows"),
                u(s, "packets_c2s"),
                u(s, "packets_s2c"),
                u(s, "bytes_c2s"),
                u(s, "bytes_s2c"),
                u(s, "clients"),
                u(s, "servers"),
            )
        })
        .collect();
    rows.sort();
    rows
}

/// Each flow record of a JSON Lines file as a comparable line (what does not depend on the time
/// packets arrived: endpoints, classification, packets and bytes), sorted.
fn flow_summaries(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines: Vec<String> = text
        .lines()
        .map(|l| {
            let r: Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("a flow record line is not one JSON object ({e}): {l}"));
            format!(
                "{} {}:{} -> {}:{} {} {} {} {}/{} {}/{}",
                r["transport"],
                r["client_addr"],
                r["client_port"],
                r["server_addr"],
                r["server_port"],
                r["app_protocol"],
                r["server_rule"],
                r["provenance"],
                r["packets_c2s"],
                r["packets_s2c"],
                r["bytes_c2s"],
                r["bytes_s2c"],
            )
        })
        .collect();
    lines.sort();
    lines
}

/// Three classifier workers live: the report of the replayed capture is its offline report (one
/// worker), every service and application protocol row alike, and the flow records the three
/// workers write into one file are whole lines, the same flows as offline with three workers
/// (whose sharding decides the same cross-flow learning).
#[test]
fn three_workers_live_equal_offline() {
    let ns = netns_or_skip!();
    let dir = TempDir::new("workers");
    let file = fixture("domain.pcapng");
    let offline = analyze(&[&file], &[]);
    let offline_flows = dir.0.join("offline.jsonl");
    analyze(
        &[&file],
        &["--workers", "3", "--flows", offline_flows.to_str().unwrap()],
    );
    let live_flows = dir.0.join("live.jsonl");
    let count = totals(&offline)[1].to_string();
    let mut args = vec![
        "--format",
        "json",
        "--count",
        &count,
        "--buffer-size",
        "8MiB",
        "--workers",
        "3",
        "--flows",
        live_flows.to_str().unwrap(),
    ];
    args.extend(TIMEOUTS);
    let cap = ns.capture(&args);
    ns.replay(&file);
    let live = cap.wait(&|| ns.b_stats()).report();
    assert_eq!(live_health(&live)[1..], [0, 0, 0], "drops reported");
    assert_same_traffic(&live, &offline, "--workers 3");
    assert_eq!(service_rows(&live), service_rows(&offline), "services rows");
    assert_eq!(
        live["unclassified"]["top_ports"],
        offline["unclassified"]["top_ports"]
    );
    let records = flow_summaries(&live_flows);
    assert_eq!(records.len() as u64, totals(&offline)[0]);
    assert_eq!(records, flow_summaries(&offline_flows), "flow records");
}

#[test]
fn count_stops_after_exactly_n_packets() {
    let ns = netns_or_skip!();
    let cap = ns.capture(&["--format", "json", "--count", "1000"]);
    ns.replay(&fixture("domain.pcapng"));
    let done = cap.wait(&|| ns.b_stats());
    let r = done.report();
    assert_eq!(u(&r["inputs"][0], "packets"), 1000);
    assert_eq!(u(&r["health"], "packets_read"), 1000);
    assert_eq!(totals(&r)[1], 1000, "every one of the 1000 packets is IP");
}

#[test]
fn duration_stops_by_itself() {
    let ns = netns_or_skip!();
    let cap = ns.capture(&["--format", "json", "--duration", "2s"]);
    ns.replay(&fixture("catalog-rows.pcap"));
    let done = cap.wait(&|| ns.b_stats());
    let r = done.report();
    // The clock starts after "listening" is printed, so the whole run is a little over 2 s.
    assert!(
        done.elapsed >= Duration::from_millis(1500) && done.elapsed < Duration::from_secs(6),
        "--duration 2s ended after {:?}",
        done.elapsed
    );
    assert_eq!(
        totals(&r)[1],
        65,
        "the 65 replayed packets are in the report"
    );
    live_health(&r);
}

#[test]
fn sigint_ends_with_the_final_report() {
    let ns = netns_or_skip!();
    let cap = ns.capture(&["--format", "json"]);
    let before = SystemTime::now();
    ns.replay(&fixture("shared-ports.pcap"));
    let after = SystemTime::now();
    // Let the reader drain the kernel buffer (it wakes at least every 100 ms).
    thread::sleep(Duration::from_millis(1000));
    cap.interrupt();
    let done = cap.wait(&|| ns.b_stats());
    assert_eq!(done.status.code(), Some(0), "stderr:\n{}", done.stderr);
    let r = done.report();
    let [received, kernel, interface, svcscope] = live_health(&r);
    assert_eq!(r["health"]["live"]["interface"], "vethB");
    assert_eq!(received, 36, "libpcap received the 36 replayed frames");
    assert_eq!((kernel, interface, svcscope), (0, 0, 0));
    assert_eq!(totals(&r), [4, 36, 9761]);
    // Packets carry their arrival time, read at the right scale (seconds and a sub-second part).
    let margin = Duration::from_millis(50);
    for key in ["first_seen", "last_seen"] {
        let text = r[key].as_str().unwrap_or_else(|| panic!("no {key}"));
        let t = humantime::parse_rfc3339_weak(text).expect("RFC 3339 time");
        assert!(
            t + margin >= before && t <= after + margin,
            "{key} {text} is not within the replay ({} .. {})",
            humantime::format_rfc3339_micros(before),
            humantime::format_rfc3339_micros(after)
        );
    }
}

#[test]
fn write_round_trip() {
    let ns = netns_or_skip!();
    let tmp = TempDir::new("write");
    let out = tmp.0.join("shared.pcap");
    let out_s = out.to_str().unwrap();
    let mut args = vec!["--format", "json", "--count", "36", "--write", out_s];
    args.extend(TIMEOUTS);
    let cap = ns.capture(&args);
    ns.replay(&fixture("shared-ports.pcap"));
    let done = cap.wait(&|| ns.b_stats());
    let live = done.report();
    assert!(
        done.stderr.contains(&format!("svcscope: wrote {out_s}")),
        "stderr names the file written:\n{}",
        done.stderr
    );
    let written = analyze(&[&out], &[]);
    assert_same_traffic(&live, &written, "--write file");
    // The file's header states the precision its timestamps have.
    for key in ["first_seen", "last_seen"] {
        assert_eq!(live[key], written[key], "{key}: live vs --write file");
    }
    assert_same_traffic(
        &live,
        &analyze(&[&fixture("shared-ports.pcap")], &[]),
        "fixture",
    );
}

#[test]
fn write_rotate_size_makes_several_files() {
    let ns = netns_or_skip!();
    let tmp = TempDir::new("rotate");
    let out = tmp.0.join("domain.pcap");
    let out_s = out.to_str().unwrap();
    let mut args = vec![
        "--format",
        "json",
        "--count",
        DOMAIN_PACKETS_ARG,
        "--buffer-size",
        "8MiB",
        "--write",
        out_s,
        "--rotate-size",
        "256k",
    ];
    args.extend(TIMEOUTS);
    let cap = ns.capture(&args);
    ns.replay(&fixture("domain.pcapng"));
    let done = cap.wait(&|| ns.b_stats());
    let live = done.report();
    // FILE, FILE1, FILE2, … in order.
    let mut files = vec![out.clone()];
    for i in 1.. {
        let p = PathBuf::from(format!("{out_s}{i}"));
        if !p.exists() {
            break;
        }
        files.push(p);
    }
    // 1.7 MB of frames plus 16-byte record headers in files of at most 256 KiB.
    assert!(
        files.len() >= 6,
        "expected at least 6 files, got {files:?}; stderr:\n{}",
        done.stderr
    );
    for f in &files {
        let size = std::fs::metadata(f).unwrap().len();
        assert!(size <= 256 * 1024, "{} is {size} bytes", f.display());
    }
    let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    assert!(
        done.stderr
            .contains(&format!("svcscope: wrote {}", names.join(", "))),
        "stderr lists the files written:\n{}",
        done.stderr
    );
    let paths: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    let merged = analyze(&paths, &[]);
    assert_eq!(
        totals(&merged),
        totals(&live),
        "merged files vs live totals"
    );
    assert_same_traffic(&live, &merged, "rotated files");
}

#[test]
fn bad_interface_is_one_clear_error() {
    let ns = netns_or_skip!();
    let out = ns
        .exec(&ns.b)
        .args([BIN, "capture", "-i", "nosuch0", "--user", "root"])
        .stdin(Stdio::null())
        .output()
        .expect("running svcscope");
    assert!(!out.status.success(), "a bad interface must fail");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line of error:\n{stderr}");
    let line = lines[0];
    assert!(line.contains("nosuch0"), "names the interface: {line}");
    // Namespace B holds exactly lo and vethB (plus libpcap's pseudo-devices).
    assert!(
        line.contains("vethB") && line.contains("lo"),
        "lists the existing interfaces: {line}"
    );
    assert!(out.stdout.is_empty(), "no report on a failed start");
}

#[test]
fn bpf_filter_applies_live() {
    let ns = netns_or_skip!();
    let file = fixture("domain.pcapng");
    let offline = analyze(&[&file], &["--filter", "udp"]);
    let udp_packets = totals(&offline)[1];
    assert!(udp_packets > 0 && udp_packets < DOMAIN_PACKETS);
    let count = udp_packets.to_string();
    let mut args = vec![
        "--format",
        "json",
        "--filter",
        "udp",
        "--count",
        &count,
        "--buffer-size",
        "8MiB",
    ];
    args.extend(TIMEOUTS);
    let cap = ns.capture(&args);
    ns.replay(&file);
    let done = cap.wait(&|| ns.b_stats());
    let live = done.report();
    for row in live["app_protocols"].as_array().unwrap() {
        assert_eq!(
            row["transport"], "udp",
            "a non-UDP row passed the filter: {row}"
        );
    }
    for row in live["unclassified"]["top_ports"].as_array().unwrap() {
        assert_eq!(
            row["transport"], "udp",
            "a non-UDP flow passed the filter: {row}"
        );
    }
    assert_same_traffic(&live, &offline, "--filter udp");
    // The filter runs in the kernel: libpcap never received a TCP or other frame.
    let [received, ..] = live_health(&live);
    assert_eq!(received, udp_packets);
}

#[test]
fn interval_json_lines() {
    interval_json_lines_with("1");
}

/// The interval counters of three workers merge: each replayed packet is counted once.
#[test]
fn interval_json_lines_with_three_workers() {
    interval_json_lines_with("3");
}

fn interval_json_lines_with(workers: &str) {
    let ns = netns_or_skip!();
    let cap = ns.capture(&[
        "--format",
        "json",
        "--interval",
        "1s",
        "--duration",
        "3500ms",
        "--workers",
        workers,
        "--sensor",
        "edge-1",
    ]);
    ns.replay(&fixture("catalog-rows.pcap"));
    let done = cap.wait(&|| ns.b_stats());
    assert!(done.status.success(), "stderr:\n{}", done.stderr);
    let lines: Vec<&str> = done.stdout.lines().collect();
    let (last, ticks) = lines.split_last().expect("some output");
    assert!(
        (3..=4).contains(&ticks.len()),
        "one interval line per second of a 3.5 s run, got {}:\n{}",
        ticks.len(),
        done.stdout
    );
    let schema = |name: &str| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("schemas")
            .join(name);
        let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        jsonschema::draft202012::new(&v).unwrap()
    };
    let (interval_schema, report_schema) = (schema("interval.json"), schema("report.json"));
    let (mut packets, mut numeric_ports) = (0, 0);
    for line in ticks {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("interval line is not JSON ({e}): {line}"));
        let errors: Vec<String> = interval_schema
            .iter_errors(&v)
            .map(|e| e.to_string())
            .collect();
        assert!(
            errors.is_empty(),
            "schemas/interval.json: {errors:?}\n{line}"
        );
        numeric_ports += v["top_app_protocols"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["port"].is_u64())
            .count();
        assert_eq!(v["type"], "interval", "{line}");
        assert_eq!(v["sensor"], "edge-1", "{line}");
        assert!(line.contains("\"type\":\"interval\""), "{line}");
        packets += u(&v, "packets");
    }
    let report: Value = serde_json::from_str(last).expect("the final report is one JSON line");
    assert!(
        numeric_ports > 0,
        "interval ports are numbers:\n{}",
        done.stdout
    );
    let errors: Vec<String> = report_schema
        .iter_errors(&report)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "schemas/report.json: {errors:?}");
    assert!(report.get("type").is_none(), "final line is the report");
    assert_eq!(report["sensor"], "edge-1");
    assert_eq!(totals(&report)[1], 65);
    // The replay ends within the first interval, long before the last tick.
    assert_eq!(
        packets, 65,
        "the intervals counted every replayed packet once"
    );
}

/// Regression: `--format csv --interval` printed the interval screens on standard output before the
/// CSV, which no CSV reader takes.
#[test]
fn interval_screens_go_to_stderr_with_csv() {
    let ns = netns_or_skip!();
    let cap = ns.capture(&[
        "--format",
        "csv",
        "--interval",
        "1s",
        "--duration",
        "2500ms",
    ]);
    ns.replay(&fixture("catalog-rows.pcap"));
    let done = cap.wait(&|| ns.b_stats());
    assert!(done.status.success(), "stderr:\n{}", done.stderr);
    let mut lines = done.stdout.lines();
    assert!(
        lines.next().is_some_and(|h| h.starts_with("view,name,")),
        "standard output starts with the CSV header:\n{}",
        done.stdout
    );
    assert!(!done.stdout.contains("THIS INTERVAL"), "{}", done.stdout);
    assert!(done.stderr.contains("THIS INTERVAL"), "{}", done.stderr);
}

#[test]
fn view_hosts_live_equals_offline_hosts() {
    let ns = netns_or_skip!();
    let file = fixture("domain.pcapng");
    let count = totals(&analyze(&[&file], &[]))[1].to_string();
    let mut args = vec![
        "--format",
        "json",
        "--count",
        &count,
        "--view",
        "hosts",
        "--role",
        "--buffer-size",
        "8MiB",
    ];
    args.extend(TIMEOUTS);
    let cap = ns.capture(&args);
    ns.replay(&file);
    let live = cap.wait(&|| ns.b_stats()).report();
    let offline: Value =
        serde_json::from_str(&offline(&["hosts", "--role"], &[&file], &[])).unwrap();
    // Same hosts, same roles, same served traffic (times differ: live ones are the replay's).
    let summary = |r: &Value| -> Vec<String> {
        r["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                let roles: Vec<&str> = h["roles"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["role"].as_str().unwrap())
                    .collect();
                let serves: Vec<String> = h["serves"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| {
                        format!(
                            "{} {}/{} {} {} {}",
                            s["app_protocol"],
                            s["transport"],
                            s["port"],
                            s["flows"],
                            s["bytes_c2s"],
                            s["bytes_s2c"]
                        )
                    })
                    .collect();
                format!("{} {roles:?} {serves:?}", h["addr"])
            })
            .collect()
    };
    assert_eq!(summary(&live), summary(&offline));
    let dc = live["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["addr"] == "192.0.2.10")
        .unwrap();
    assert_eq!(dc["roles"][0]["role"], "domain controller");
}

// ---- privileges -------------------------------------------------------------------------------------

/// The privilege fields of one thread's /proc status, parsed here (independently of svcscope's own
/// check of the same file).
#[derive(Debug, PartialEq, Eq)]
struct Privileges {
    /// CapInh, CapPrm, CapEff, CapBnd, CapAmb.
    caps: [u64; 5],
    /// Real, effective, saved and filesystem uid, then gid.
    uids: Vec<u32>,
    gids: Vec<u32>,
    no_new_privs: u32,
}

impl Privileges {
    fn parse(status: &str) -> Privileges {
        let field = |key: &str| -> &str {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
                .unwrap_or_else(|| panic!("no {key} in:\n{status}"))
                .trim()
        };
        let hex = |key: &str| u64::from_str_radix(field(key), 16).expect("hex capabilities");
        let ids = |key: &str| -> Vec<u32> {
            field(key)
                .split_whitespace()
                .map(|x| x.parse().expect("an id"))
                .collect()
        };
        Privileges {
            caps: ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"].map(hex),
            uids: ids("Uid"),
            gids: ids("Gid"),
            no_new_privs: field("NoNewPrivs").parse().expect("NoNewPrivs"),
        }
    }

    /// No capability in any set, the bounding set included; `uid`/`gid` everywhere; no_new_privs.
    fn dropped_to(uid: u32, gid: u32) -> Privileges {
        Privileges {
            caps: [0; 5],
            uids: vec![uid; 4],
            gids: vec![gid; 4],
            no_new_privs: 1,
        }
    }
}

/// Replays shared-ports.pcap (4 flows, 36 packets) into a running capture, checks every thread's
/// privileges against `want` while it runs, then ends it and checks that it captured everything.
fn check_privileges_while_capturing(ns: &NetnsPair, cap: Capture, want: &Privileges) -> Finished {
    ns.replay(&fixture("shared-ports.pcap"));
    thread::sleep(Duration::from_millis(500));
    let threads = cap.privileges();
    assert!(
        threads.len() >= 2,
        "the capture thread is running: {threads:?}"
    );
    for (i, t) in threads.iter().enumerate() {
        assert_eq!(t, want, "thread {i} of {}", threads.len());
    }
    cap.interrupt();
    let done = cap.wait(&|| ns.b_stats());
    assert_eq!(
        totals(&done.report()),
        [4, 36, 9761],
        "captured while checked"
    );
    done
}

/// Regression: started as root, a capture dropped to `nobody` but kept its bounding set, and
/// without the account it kept root and everything. Now: uid/gid 65534 (or --user), every set empty,
/// no_new_privs, in every thread, while it captures.
#[test]
fn root_drops_every_privilege() {
    let ns = netns_or_skip!();
    let cap = ns.capture_via(&[], BIN, &["--format", "json"]);
    assert!(
        cap.listening_line().ends_with(
            "running as nobody (uid 65534, gid 65534), capabilities: none; Ctrl-C to stop"
        ),
        "{}",
        cap.listening_line()
    );
    check_privileges_while_capturing(&ns, cap, &Privileges::dropped_to(65534, 65534));

    // --user: that account (daemon is uid 1, gid 1 on Debian).
    let cap = ns.capture_via(&[], BIN, &["--format", "json", "--user", "daemon"]);
    assert!(
        cap.listening_line()
            .contains("running as daemon (uid 1, gid 1), capabilities: none"),
        "{}",
        cap.listening_line()
    );
    check_privileges_while_capturing(&ns, cap, &Privileges::dropped_to(1, 1));

    // --user root keeps root, and says so.
    let cap = ns.capture_via(&[], BIN, &["--format", "json", "--user", "root"]);
    assert!(
        cap.listening_line()
            .contains("running as root (uid 0, gid 0), capabilities: all kept (--user root)"),
        "{}",
        cap.listening_line()
    );
    cap.interrupt();
    cap.wait(&|| ns.b_stats()).report();
}

/// Regression: as root on a system without a `nobody` account, the capture kept running as root
/// with every capability, silently. Here /etc/passwd (and nsswitch.conf, since nss-systemd makes up
/// a `nobody`) are replaced in a private mount namespace by ones without it.
#[test]
fn root_without_nobody_account_runs_as_65534() {
    let ns = netns_or_skip!();
    let tmp = TempDir::new("passwd");
    let passwd = tmp.0.join("passwd");
    let all = std::fs::read_to_string("/etc/passwd").unwrap();
    let without: String = all
        .lines()
        .filter(|l| !l.starts_with("nobody:"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&passwd, without).unwrap();
    let nss = tmp.0.join("nsswitch.conf");
    std::fs::write(&nss, "passwd: files\ngroup: files\n").unwrap();
    let script = format!(
        "mount --bind {} /etc/passwd && mount --bind {} /etc/nsswitch.conf && exec \"$@\"",
        passwd.display(),
        nss.display()
    );
    let cap = ns.capture_via(
        &[
            "unshare",
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            &script,
            "sh",
        ],
        BIN,
        &["--format", "json"],
    );
    assert!(
        cap.listening_line()
            .contains("running as uid 65534, gid 65534 (no account), capabilities: none"),
        "{}",
        cap.listening_line()
    );
    check_privileges_while_capturing(&ns, cap, &Privileges::dropped_to(65534, 65534));
}

/// Regression: run as a user with file capabilities (the README's setcap recipe), packet parsing
/// kept CAP_NET_RAW and CAP_NET_ADMIN for the whole run and --user was ignored. A copy of the binary
/// with those file capabilities, run as nobody: after start-up every set is empty (the bounding set
/// stays: emptying it needs CAP_SETPCAP, which the recipe does not give), no_new_privs is set, and
/// it captures. --user without CAP_SETUID/CAP_SETGID is an error; with them, it is honoured.
#[test]
fn file_capabilities_are_dropped_after_start() {
    let ns = netns_or_skip!();
    if Command::new("setcap").arg("-v").output().is_err() {
        eprintln!("skipped: setcap not installed (libcap2-bin)");
        return;
    }
    let tmp = TempDir::new("setcap");
    let copy = |name: &str, caps: &str| -> String {
        let bin = tmp.0.join(name);
        std::fs::copy(BIN, &bin).unwrap();
        run(Command::new("setcap").arg(caps).arg(&bin));
        bin.to_str().unwrap().to_string()
    };
    let recipe = copy("svcscope", "cap_net_raw,cap_net_admin=eip");
    let as_nobody = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
    ];
    // Our bounding set, which a process without CAP_SETPCAP keeps.
    let own = Privileges::parse(&std::fs::read_to_string("/proc/self/status").unwrap());
    let want = Privileges {
        caps: [0, 0, 0, own.caps[3], 0],
        ..Privileges::dropped_to(65534, 65534)
    };
    let cap = ns.capture_via(&as_nobody, &recipe, &["--format", "json"]);
    assert!(
        cap.listening_line()
            .contains("running as nobody (uid 65534, gid 65534), capabilities: none"),
        "{}",
        cap.listening_line()
    );
    check_privileges_while_capturing(&ns, cap, &want);

    // --user without the capabilities to switch: a clear error before any packet.
    let out = ns
        .exec(&ns.b)
        .args(as_nobody)
        .args([
            &recipe,
            "capture",
            "-i",
            NetnsPair::B_IF,
            "--user",
            "daemon",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "svcscope: vethB: --user daemon: switching to another user needs root or the CAP_SETUID \
         and CAP_SETGID capabilities (svcscope runs as uid 65534)\n"
    );
    assert!(out.stdout.is_empty());

    // With them, --user is honoured, and CAP_SETPCAP empties the bounding set too.
    let switcher = copy(
        "svcscope-switch",
        "cap_net_raw,cap_net_admin,cap_setuid,cap_setgid,cap_setpcap=eip",
    );
    let cap = ns.capture_via(
        &as_nobody,
        &switcher,
        &["--format", "json", "--user", "daemon"],
    );
    assert!(
        cap.listening_line()
            .contains("running as daemon (uid 1, gid 1), capabilities: none"),
        "{}",
        cap.listening_line()
    );
    check_privileges_while_capturing(&ns, cap, &Privileges::dropped_to(1, 1));
}

// ---- data loss ----------------------------------------------------------------------------------------

/// A savefile read back by svcscope (which fails on a cut record) and by tcpdump: its packets.
fn read_back(file: &Path) -> u64 {
    let report = analyze(&[file], &[]);
    let packets = u(&report["health"], "packets_read");
    if let Ok(out) = Command::new("tcpdump")
        .args(["-n", "-q", "-r"])
        .arg(file)
        .output()
    {
        assert!(
            out.status.success(),
            "tcpdump -r {}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let lines = String::from_utf8_lossy(&out.stdout).lines().count() as u64;
        assert_eq!(
            lines,
            packets,
            "tcpdump and svcscope read {}",
            file.display()
        );
    }
    packets
}

/// Regression: `-w` onto a full disk printed "wrote FILE", exited 0 and reported health "ok" while the
/// file ended in a cut record and most packets were missing. On a 64 KiB tmpfs (in a private mount
/// namespace), with and without rotation: exit 1, the loss in the health and on stderr, the
/// classification of every packet still in the report, and files that read back whole.
#[test]
fn full_disk_is_reported_and_savefiles_stay_whole() {
    let ns = netns_or_skip!();
    let file = fixture("domain.pcapng");
    for rotate in [None, Some("16k")] {
        let tmp = TempDir::new("full");
        let (mnt, keep) = (tmp.0.join("mnt"), tmp.0.join("keep"));
        std::fs::create_dir(&mnt).unwrap();
        std::fs::create_dir(&keep).unwrap();
        // The tmpfs lives as long as the shell: it copies what was written out of it at the end.
        let script = format!(
            "mount -t tmpfs -o size=64k svcscope-test {m} && \"$@\"; status=$?; cp {m}/* {k}/; exit $status",
            m = mnt.display(),
            k = keep.display()
        );
        let out = mnt.join("domain.pcap");
        let out_s = out.to_str().unwrap();
        let mut args = vec![
            "--format",
            "json",
            "--count",
            DOMAIN_PACKETS_ARG,
            "--buffer-size",
            "8MiB",
            "--user",
            "root",
            "--write",
            out_s,
        ];
        if let Some(size) = rotate {
            args.extend(["--rotate-size", size]);
        }
        args.extend(TIMEOUTS);
        let cap = ns.capture_via(
            &[
                "unshare",
                "-m",
                "--propagation",
                "private",
                "sh",
                "-c",
                &script,
                "sh",
            ],
            BIN,
            &args,
        );
        ns.replay(&file);
        let done = cap.wait(&|| ns.b_stats());
        let what = format!("rotate {rotate:?}; stderr:\n{}", done.stderr);
        assert_eq!(done.status.code(), Some(1), "{what}");
        let r = done.json();
        assert_eq!(
            totals(&r)[1],
            DOMAIN_PACKETS,
            "every packet classified: {what}"
        );
        assert!(
            r["inputs"][0]["error"].is_null(),
            "the capture itself is fine"
        );
        let saved = &r["health"]["live"]["savefile"];
        let (ok, lost) = (u(saved, "packets_saved"), u(saved, "packets_not_saved"));
        assert!(ok > 0 && lost > 0, "{saved}");
        assert_eq!(ok + lost, DOMAIN_PACKETS, "{saved}");
        let error = saved["error"].as_str().expect("a savefile error");
        assert!(error.contains("No space left on device"), "{error}");
        assert!(
            done.stderr.contains(&format!(
                "; {lost} packets not saved ({ok} saved in {out_s}"
            )),
            "{what}"
        );
        assert!(!done.stderr.contains("svcscope: wrote"), "{what}");
        // Every file on the disk holds whole records, and together the packets said saved.
        let files: Vec<PathBuf> = saved["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| keep.join(Path::new(f.as_str().unwrap()).file_name().unwrap()))
            .collect();
        if rotate.is_some() {
            assert!(files.len() >= 3, "{files:?}");
        }
        let read: u64 = files.iter().map(|f| read_back(f)).sum();
        assert_eq!(read, ok, "packets in {files:?}");
    }
}

/// A savefile that cannot take even its header (/dev/full) stops the capture before it starts.
#[test]
fn unwritable_savefile_fails_at_start() {
    let ns = netns_or_skip!();
    let out = ns
        .exec(&ns.b)
        // --duration: a capture that wrongly starts anyway still ends.
        .args([BIN, "capture", "-i", NetnsPair::B_IF, "-w", "/dev/full"])
        .args(["--duration", "3s"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "svcscope: /dev/full: cannot write capture file: No space left on device (os error 28)\n"
    );
    assert!(out.stdout.is_empty());
}

/// Regression: a second SIGINT/SIGTERM threw the report away (exit 130; `timeout` sends two, and 3
/// of 20 short runs lost everything), and SIGHUP ended a capture with no report and a savefile cut
/// mid-record. Ten runs, each sent two signals back to back while packets arrive: every one ends
/// with the report and a savefile holding exactly the packets reported, whole.
#[test]
fn two_signals_still_give_the_report_and_a_whole_savefile() {
    use nix::sys::signal::Signal::{SIGHUP, SIGINT, SIGTERM};
    let ns = netns_or_skip!();
    let tmp = TempDir::new("signals");
    let pairs = [
        (SIGTERM, SIGTERM),
        (SIGINT, SIGINT),
        (SIGHUP, SIGHUP),
        (SIGINT, SIGTERM),
        (SIGHUP, SIGINT),
    ];
    for run in 0..10 {
        let (first, second) = pairs[run % pairs.len()];
        let out = tmp.0.join(format!("run{run}.pcap"));
        let out_s = out.to_str().unwrap();
        // --immediate: packets reach svcscope as they arrive, not when a kernel block is full or
        // 100 ms old, so the signals find some read. Its kernel ring has one slot per snapshot
        // length: -s 2048 (the fixture's frames are at most 1,514 bytes) gives it thousands.
        let mut args = vec![
            "--format",
            "json",
            "--immediate",
            "-s",
            "2048",
            "--buffer-size",
            "8MiB",
            "--write",
            out_s,
        ];
        args.extend(TIMEOUTS);
        let cap = ns.capture(&args);
        let before = ns.b_rx_packets();
        thread::scope(|s| {
            // 4,625 packets at 5,000 a second: the signals come in the middle of them, once the
            // first have arrived.
            let replay = s.spawn(|| ns.replay_at(&fixture("domain.pcapng"), 5_000).status());
            let deadline = Instant::now() + START_TIMEOUT;
            while ns.b_rx_packets() == before {
                assert!(Instant::now() < deadline, "the replay did not start");
                thread::sleep(Duration::from_millis(5));
            }
            thread::sleep(Duration::from_millis(20 + 25 * run as u64));
            cap.signal(first);
            cap.signal(second);
            let _ = replay.join();
        });
        let done = cap.wait(&|| ns.b_stats());
        let what = format!("run {run} ({first}, {second}); stderr:\n{}", done.stderr);
        let r = done.json();
        // 3 only with drops (a busy machine): they are reported, and the savefile holds every
        // packet captured either way.
        let dropped = u(&r["health"]["live"], "packets_dropped");
        let want = if dropped > 0 { 3 } else { 0 };
        assert_eq!(done.status.code(), Some(want), "{what}");
        let packets = u(&r["inputs"][0], "packets");
        assert!(packets > 0, "{what}");
        assert_eq!(totals(&r)[1], packets, "{what}");
        let saved = &r["health"]["live"]["savefile"];
        assert_eq!(u(saved, "packets_saved"), packets, "{what}");
        assert_eq!(u(saved, "packets_not_saved"), 0, "{what}");
        assert_eq!(read_back(&out), packets, "{what}");
    }
}

/// Regression: live health said "ok" and the exit status was 0 while the kernel dropped half the
/// packets. The capture is stopped (SIGSTOP) while a burst larger than its small kernel buffer
/// arrives, so the kernel must drop: the drops are in the health, on stderr, and exit status 3.
#[test]
fn kernel_drops_are_reported_and_fail_the_run() {
    use nix::sys::signal::Signal::{SIGCONT, SIGSTOP};
    let ns = netns_or_skip!();
    let mut args = vec!["--format", "json", "--buffer-size", "64k"];
    args.extend(TIMEOUTS);
    let cap = ns.capture(&args);
    cap.signal(SIGSTOP);
    let sent = ns.replay(&fixture("domain.pcapng"));
    cap.signal(SIGCONT);
    thread::sleep(Duration::from_millis(1000));
    cap.interrupt();
    let done = cap.wait(&|| ns.b_stats());
    assert_eq!(done.status.code(), Some(3), "stderr:\n{}", done.stderr);
    let r = done.json();
    let [received, kernel, interface, svcscope] = live_health(&r);
    let live = &r["health"]["live"];
    assert!(kernel > 0, "the kernel dropped packets: {live}");
    assert_eq!(u(live, "packets_dropped"), kernel + interface + svcscope);
    let captured = u(&r["inputs"][0], "packets");
    assert!(captured < sent, "{captured} of {sent} captured");
    assert!(received <= sent, "{received} received of {sent}");
    assert!(
        done.stderr.contains(&format!(
            "svcscope: {} packets dropped ({kernel} by the kernel, {interface} by the interface, \
             {svcscope} by svcscope): the report is incomplete",
            kernel + interface + svcscope
        )),
        "stderr:\n{}",
        done.stderr
    );
}

/// `-q` on `capture` leaves standard error to faults and warnings: no "listening on" or "wrote"
/// status line, as `-q` on `analyze` leaves out the progress bar; the report and the file written
/// are the same.
#[test]
fn quiet_capture_prints_no_status_lines() {
    let ns = netns_or_skip!();
    let tmp = TempDir::new("quiet");
    for quiet in [false, true] {
        let out = tmp.0.join(format!("quiet-{quiet}.pcap"));
        let mut cmd = ns.exec(&ns.b);
        cmd.args([BIN, "capture", "-i", NetnsPair::B_IF, "--user", "root"])
            .args(["--format", "json", "--duration", "1s", "-w"])
            .arg(&out);
        if quiet {
            cmd.arg("-q");
        }
        let done = Run::of(&mut cmd);
        assert_eq!(done.code, 0, "{}", done.stderr);
        let report: Value = serde_json::from_str(&done.stdout).unwrap();
        assert_eq!(report["inputs"][0]["packets"], 0);
        assert!(out.exists());
        let status = done.stderr.contains("svcscope: listening on")
            && done.stderr.contains("svcscope: wrote");
        assert_eq!(status, !quiet, "-q {quiet}: {}", done.stderr);
        if quiet {
            assert_eq!(done.stderr, "");
        }
    }
}

/// A Prometheus server (the `prometheus` binary, in the capture's namespace) scraping
/// `capture --metrics` every second while a file is replayed: PromQL over its HTTP API
/// (`/api/v1/query`) gives the final JSON report's flows, packets and bytes per application
/// protocol row and per service, and its capture health.
#[test]
fn prometheus_scrapes_the_numbers_of_the_final_report() {
    let ns = netns_or_skip!();
    for tool in ["prometheus", "curl"] {
        if Command::new(tool).arg("--version").output().is_err() {
            eprintln!("skipped: {tool} not installed (scripts/deps test)");
            return;
        }
    }
    // SMB evidence only adds services to a flow (none is credited before it): the counters of a
    // snapshot taken mid-replay stay below the final ones, as a counter's must (README: a flow
    // relabelled from one label to another would leave its old series higher).
    let file = fixture("smb.pcap");
    let sent = totals(&analyze(&[&file], &[]))[1];
    let tmp = TempDir::new("prometheus");
    // A fresh namespace: its loopback ports are all free.
    let (metrics, web) = ("127.0.0.1:9464", "127.0.0.1:9090");
    let config = tmp.0.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: \
             svcscope\n    static_configs:\n      - targets: ['{metrics}']\n"
        ),
    )
    .unwrap();
    let log = std::fs::File::create(tmp.0.join("prometheus.log")).unwrap();
    let mut server = KillOnDrop(
        ns.exec(&ns.b)
            .args(["prometheus", "--web.listen-address", web])
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                tmp.0.join("data").display()
            ))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting prometheus"),
    );
    let mut args = vec!["--format", "json", "--sensor", "ns-b", "--metrics", metrics];
    args.extend(TIMEOUTS);
    let cap = ns.capture(&args);
    // About three seconds of replay: Prometheus scrapes while packets arrive.
    let replay = run(&mut ns.replay_at(&file, 100));
    assert!(replay.status.success());
    // PromQL over the HTTP API, from inside the namespace: the result vector.
    let query = |expr: &str| -> Vec<Value> {
        let out = run(ns.exec(&ns.b).args([
            "curl",
            "-sfG",
            "--max-time",
            "5",
            "--data-urlencode",
            &format!("query={expr}"),
            &format!("http://{web}/api/v1/query"),
        ]));
        let v: Value = serde_json::from_slice(&out.stdout).expect("a Prometheus API answer");
        assert_eq!(v["status"], "success", "{expr}: {v}");
        v["data"]["result"].as_array().cloned().unwrap_or_default()
    };
    let scalar = |expr: &str| -> Option<u64> {
        let r = query(expr);
        r.first()
            .and_then(|s| s["value"][1].as_str())
            .and_then(|v| v.parse::<f64>().ok())
            .map(|v| v as u64)
    };
    // Prometheus has scraped a snapshot holding every packet.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(status)) = server.0.try_wait() {
            panic!(
                "prometheus ended ({status}):\n{}",
                std::fs::read_to_string(tmp.0.join("prometheus.log")).unwrap_or_default()
            );
        }
        let read =
            std::panic::catch_unwind(|| scalar("svcscope_packets_read_total{job=\"svcscope\"}"))
                .ok()
                .flatten();
        if read == Some(sent) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no scrape with {sent} packets read (last: {read:?}); prometheus log:\n{}",
            std::fs::read_to_string(tmp.0.join("prometheus.log")).unwrap_or_default()
        );
        thread::sleep(Duration::from_millis(500));
    }
    let series = |expr: &str, label: &str| -> Vec<String> {
        let mut rows: Vec<String> = query(expr)
            .iter()
            .map(|s| {
                format!(
                    "{} {}",
                    s["metric"][label].as_str().unwrap_or("?"),
                    s["value"][1].as_str().unwrap_or("?")
                )
            })
            .collect();
        rows.sort();
        rows
    };
    let by_service = |metric: &str, dir: Option<&str>| {
        let filter = dir.map_or(String::new(), |d| format!(",direction=\"{d}\""));
        series(
            &format!("sum by (service) ({metric}{{job=\"svcscope\"{filter}}})"),
            "service",
        )
    };
    let by_app = |metric: &str, dir: Option<&str>| {
        let filter = dir.map_or(String::new(), |d| format!(",direction=\"{d}\""));
        series(
            &format!(
                "sum by (app_protocol) (label_join({metric}{{job=\"svcscope\"{filter}}}, \
                 \"app_protocol\", \" \", \"app_protocol\", \"transport\", \"port\"))"
            ),
            "app_protocol",
        )
    };
    let promql = [
        by_service("svcscope_service_flows_total", None),
        by_service("svcscope_service_packets_total", Some("c2s")),
        by_service("svcscope_service_packets_total", Some("s2c")),
        by_service("svcscope_service_bytes_total", Some("c2s")),
        by_service("svcscope_service_bytes_total", Some("s2c")),
        by_app("svcscope_app_protocol_flows_total", None),
        by_app("svcscope_app_protocol_packets_total", Some("c2s")),
        by_app("svcscope_app_protocol_bytes_total", Some("s2c")),
    ];
    let info = query("svcscope_info");
    cap.interrupt();
    let done = cap.wait(&|| ns.b_stats());
    let report = done.report();
    assert_eq!(info.len(), 1, "{info:?}");
    assert_eq!(info[0]["metric"]["sensor"], "ns-b");
    let rows = |key: &str, name: &dyn Fn(&Value) -> String, field: &str| -> Vec<String> {
        let mut v: Vec<String> = report[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| format!("{} {}", name(r), u(r, field)))
            .collect();
        v.sort();
        v
    };
    let service = |r: &Value| r["service"].as_str().unwrap().to_string();
    let app = |r: &Value| {
        let port = match (&r["port"], &r["port_ranges"]) {
            (Value::Number(p), _) => p.to_string(),
            (_, Value::Array(_)) => "dynamic".into(),
            _ => String::new(),
        };
        format!(
            "{} {} {port}",
            r["app_protocol"].as_str().unwrap(),
            r["transport"].as_str().unwrap()
        )
    };
    let want = [
        rows("services", &service, "flows"),
        rows("services", &service, "packets_c2s"),
        rows("services", &service, "packets_s2c"),
        rows("services", &service, "bytes_c2s"),
        rows("services", &service, "bytes_s2c"),
        rows("app_protocols", &app, "flows"),
        rows("app_protocols", &app, "packets_c2s"),
        rows("app_protocols", &app, "bytes_s2c"),
    ];
    assert!(
        want[0].len() >= 5,
        "a fixture with several services: {:?}",
        want[0]
    );
    for (got, want) in promql.iter().zip(&want) {
        assert_eq!(got, want, "PromQL vs the final report");
    }
    assert_eq!(u(&report["health"], "packets_read"), sent);
}

/// A child process killed (by its pid) and reaped when the test ends, however it ends.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `--metrics` on a port in use is one line at start (exit 2); an address that is not one is
/// refused by the argument parser.
#[test]
fn metrics_port_in_use_is_one_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let r = Run::of(&mut svcscope_testkit::command(
        BIN,
        Path::new(env!("CARGO_MANIFEST_DIR")),
        &["capture", "-i", "lo", "--metrics", &addr],
    ));
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        format!(
            "svcscope: --metrics {addr}: cannot listen: Address already in use (os error 98)\n"
        )
    );
    let r = Run::of(&mut svcscope_testkit::command(
        BIN,
        Path::new(env!("CARGO_MANIFEST_DIR")),
        &["capture", "-i", "lo", "--metrics", "localhost"],
    ));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("invalid value 'localhost' for '--metrics <ADDR>'"),
        "{}",
        r.stderr
    );
}

/// SIGTERM ends a capture's compressed flow records with whole streams (zstd frame ends), rotated
/// ones included: every file decompresses, and together they hold one record per flow of the
/// final report, each naming the sensor.
#[test]
fn a_stopped_capture_finishes_its_compressed_flow_records() {
    let ns = netns_or_skip!();
    let tmp = TempDir::new("zst");
    let flows = tmp.0.join("flows.jsonl.zst");
    let mut args = vec![
        "--format",
        "json",
        "--sensor",
        "edge-2",
        "--buffer-size",
        "8MiB",
        "--flows",
        flows.to_str().unwrap(),
        "--flows-rotate-size",
        "4k",
    ];
    args.extend(TIMEOUTS);
    let cap = ns.capture(&args);
    ns.replay(&fixture("domain.pcapng"));
    // Let the reader drain the kernel buffer (it wakes at least every 100 ms).
    thread::sleep(Duration::from_millis(1000));
    cap.signal(nix::sys::signal::Signal::SIGTERM);
    let done = cap.wait(&|| ns.b_stats());
    let report = done.report();
    let mut files = vec![flows.clone()];
    for n in 1.. {
        let next = PathBuf::from(format!("{}{n}", flows.display()));
        if !next.exists() {
            break;
        }
        files.push(next);
    }
    assert!(files.len() > 1, "rotated: {files:?}");
    let mut records = 0;
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        let text = zstd::decode_all(&bytes[..])
            .unwrap_or_else(|e| panic!("{}: not a whole zstd stream: {e}", f.display()));
        for line in String::from_utf8(text).unwrap().lines() {
            let r: Value = serde_json::from_str(line).expect("a whole record");
            assert_eq!(r["sensor"], "edge-2");
            records += 1;
        }
    }
    assert_eq!(records, totals(&report)[0], "one record per flow");
}

/// Live IPFIX export with an active timeout (nfcapd in namespace B, on its loopback): flows still
/// going are exported every second, each record with the packets since the previous one, so that
/// what the collector sums equals the report's totals.
#[test]
fn ipfix_exports_active_flows_with_delta_counts() {
    let ns = netns_or_skip!();
    if Command::new("nfcapd").arg("-V").output().is_err() {
        eprintln!("skipped: nfcapd is not installed (scripts/deps test)");
        return;
    }
    let dir = TempDir::new("ipfix");
    let store = dir.0.join("nf");
    std::fs::create_dir_all(&store).unwrap();
    /// nfcapd, stopped (SIGTERM: it closes its file) when dropped, also when the test fails.
    struct Nfcapd(Child);
    impl Drop for Nfcapd {
        fn drop(&mut self) {
            // `ip netns exec` execs nfcapd: the pid is nfcapd's.
            let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(10);
            while self.0.try_wait().ok().flatten().is_none() {
                if Instant::now() > deadline {
                    let _ = self.0.kill();
                    let _ = self.0.wait();
                    return;
                }
                thread::sleep(Duration::from_millis(50));
            }
        }
    }
    let collector = Nfcapd(
        ns.exec(&ns.b)
            .args([
                "nfcapd",
                "-b",
                "127.0.0.1",
                "-p",
                "4739",
                "-t",
                "3600",
                "-w",
            ])
            .arg(&store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting nfcapd"),
    );
    // 4739 is 0x1283.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !String::from_utf8_lossy(&run(ns.exec(&ns.b).args(["cat", "/proc/net/udp"])).stdout)
        .contains("0100007F:1283")
    {
        assert!(Instant::now() < deadline, "nfcapd never listened");
        thread::sleep(Duration::from_millis(50));
    }
    let mut args = vec![
        "--format",
        "json",
        "--count",
        DOMAIN_PACKETS_ARG,
        "--ipfix",
        "127.0.0.1:4739",
        "--ipfix-active-timeout",
        "1s",
    ];
    args.extend(TIMEOUTS);
    let cap = ns.capture(&args);
    // About five seconds of traffic, so that the long flows are still going after each second.
    let replayed = ns
        .replay_at(&fixture("domain.pcapng"), 1000)
        .status()
        .expect("running tcpreplay");
    assert!(replayed.success());
    let done = cap.wait(&|| ns.b_stats());
    thread::sleep(Duration::from_millis(300));
    drop(collector);
    let r = done.report();
    let ipfix = &r["health"]["ipfix"];
    let flows = u(&r["totals"], "flows");
    let active = u(ipfix, "active_records");
    assert!(active > 0, "no active records: {ipfix}");
    assert_eq!(u(ipfix, "records"), flows + active, "{ipfix}");
    assert_eq!(u(ipfix, "records_sent"), flows + active, "{ipfix}");

    let file = std::fs::read_dir(&store)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("nfcapd.2")
        })
        .expect("nfcapd's file");
    let out = run(Command::new("nfdump").arg("-r").arg(&file).args([
        "-q",
        "-N",
        "-o",
        "fmt:%ipkt|%opkt|%byt",
    ]));
    let mut records = 0;
    let mut packets = 0;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<u64> = line.split('|').map(|v| v.trim().parse().unwrap()).collect();
        records += 1;
        packets += f[0] + f[1];
    }
    assert_eq!(records, flows + active);
    assert_eq!(
        packets,
        totals(&r)[1],
        "the deltas add up to every packet once"
    );
}

// ---- capture --sockets: a PACKET_FANOUT group ----------------------------------------------------

/// `value` without what depends on when packets arrived (times, durations, the time series), for
/// comparing a live report with an offline one section by section.
fn timeless(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| {
                    !(k.ends_with("_seen") || k.contains("duration") || k.as_str() == "timeline")
                })
                .map(|(k, v)| (k.clone(), timeless(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(timeless).collect()),
        other => other.clone(),
    }
}

/// The per-socket status lines of `capture --sockets N` (socket, of, packets read, libpcap
/// received, kernel drops, svcscope drops).
fn socket_lines(stderr: &str) -> Vec<[u64; 6]> {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("svcscope: socket "))
        .map(|l| {
            let numbers: Vec<u64> = l
                .split(|c: char| !c.is_ascii_digit())
                .filter(|w| !w.is_empty())
                .map(|w| w.parse().unwrap())
                .collect();
            numbers
                .try_into()
                .unwrap_or_else(|n| panic!("six numbers in a socket line: {l} ({n:?})"))
        })
        .collect()
}

/// Replays `name` into a capture with `sockets` sockets in one fanout group, which stops after the
/// fixture's packet count: the report is the offline report of one worker — every flow, service,
/// application protocol, evidence item, RPC interface and unclassified port — every socket read
/// packets (if `spread`: the fixture has enough address pairs), and the sockets' counters add up to
/// the capture health.
fn sockets_live_equal_one_worker(name: &str, sockets: u64, spread: bool) {
    sockets_live_equal_one_worker_filtered(name, sockets, spread, None);
}

/// As [`sockets_live_equal_one_worker`], live and offline both with `filter`.
fn sockets_live_equal_one_worker_filtered(
    name: &str,
    sockets: u64,
    spread: bool,
    filter: Option<&str>,
) {
    let ns = netns_or_skip!();
    let file = fixture(name);
    let replayed = totals(&analyze(&[&file], &[]))[1];
    let filter_args: Vec<&str> = filter.map_or(vec![], |f| vec!["--filter", f]);
    let offline = analyze(&[&file], &filter_args);
    let packets = totals(&offline)[1];
    let (count, n) = (packets.to_string(), sockets.to_string());
    let mut args = vec![
        "--format",
        "json",
        "--count",
        &count,
        "--buffer-size",
        "8MiB",
        "--sockets",
        &n,
    ];
    args.extend(TIMEOUTS);
    args.extend(filter_args.iter().copied());
    let cap = ns.capture(&args);
    let listening = cap.listening_line();
    assert!(
        listening.contains(&format!(", {sockets} sockets)")),
        "{listening}"
    );
    assert_eq!(ns.replay(&file), replayed);
    let done = cap.wait(&|| ns.b_stats());
    let live = done.report();
    let [received, kernel, interface, svcscope] = live_health(&live);
    assert_eq!((kernel, interface, svcscope), (0, 0, 0), "{name}: drops");
    assert_eq!(u(&live["inputs"][0], "packets"), packets);
    assert_same_traffic(&live, &offline, name);
    assert_eq!(
        service_rows(&live),
        service_rows(&offline),
        "{name}: services"
    );
    for section in [
        "services",
        "app_protocols",
        "undetermined",
        "unclassified",
        "rpc",
        "authentication",
    ] {
        assert_eq!(
            timeless(&live[section]),
            timeless(&offline[section]),
            "{name}, {sockets} sockets: {section} differ from one worker's"
        );
    }
    let lines = socket_lines(&done.stderr);
    assert_eq!(lines.len() as u64, sockets, "stderr:\n{}", done.stderr);
    for (i, [socket, of, read, got, dropped, unclassified]) in lines.iter().enumerate() {
        assert_eq!((*socket, *of), (i as u64 + 1, sockets));
        assert!(
            (*read > 0 || !spread) && *got >= *read,
            "{name}: socket {socket} read {read}, received {got}: {}",
            done.stderr
        );
        assert_eq!((*dropped, *unclassified), (0, 0));
    }
    assert_eq!(lines.iter().map(|l| l[2]).sum::<u64>(), packets);
    assert_eq!(lines.iter().map(|l| l[3]).sum::<u64>(), received);
}

/// Without its DNS answers: a socket's workers learn names and tickets from that socket's traffic
/// only, so a ticket asked of the KDC credits a client's later flow only where the three address
/// pairs meet in one socket (see the README); without names no ticket credits a flow, live or
/// offline, and everything else must be equal.
#[test]
fn two_sockets_domain_equals_one_worker() {
    sockets_live_equal_one_worker_filtered("domain.pcapng", 2, true, Some("not port 53"));
}

#[test]
fn three_sockets_domain_equals_one_worker() {
    sockets_live_equal_one_worker_filtered("domain.pcapng", 3, true, Some("not port 53"));
}

/// The endpoint mapper's answers and the dynamic-port connections they announce meet in one socket
/// (the same address pair), and so do 192.0.2.101's and 192.0.2.103's flows to 192.0.2.10 with two
/// sockets (their address pairs hash alike), where 192.0.2.103's mid-stream flow is labelled by
/// the answer to 192.0.2.101.
#[test]
fn two_sockets_rpc_equals_one_worker() {
    sockets_live_equal_one_worker("rpc.pcap", 2, true);
}

/// Fragments of one datagram meet in one socket (the fanout program reads addresses only, not the
/// ports only the first fragment has): the datagrams are reassembled as with one socket.
#[test]
fn three_sockets_ipv4_fragments_equal_one_worker() {
    sockets_live_equal_one_worker("ipv4-fragments.pcap", 3, false);
}

/// `--count` across sockets takes exactly N packets, however the sockets race for the last ones.
#[test]
fn sockets_count_stops_after_exactly_n_packets() {
    let ns = netns_or_skip!();
    let cap = ns.capture(&["--format", "json", "--count", "1000", "--sockets", "2"]);
    ns.replay(&fixture("domain.pcapng"));
    let done = cap.wait(&|| ns.b_stats());
    let r = done.report();
    assert_eq!(u(&r["inputs"][0], "packets"), 1000);
    assert_eq!(u(&r["health"], "packets_read"), 1000);
    let lines = socket_lines(&done.stderr);
    assert_eq!(lines.iter().map(|l| l[2]).sum::<u64>(), 1000);
}

#[test]
fn sockets_refuse_write() {
    let ns = netns_or_skip!();
    let out = ns
        .exec(&ns.b)
        .args([
            BIN,
            "capture",
            "-i",
            NetnsPair::B_IF,
            "--sockets",
            "2",
            "-w",
        ])
        .arg(std::env::temp_dir().join("svcscope-never-written.pcap"))
        .output()
        .expect("running svcscope");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim(),
        "svcscope: --write takes one capture socket: it does not go with --sockets"
    );
}
