//! The bad-input matrix: each test runs the real binary on a file it writes into a temp dir, and checks
//! the one-line message on stderr (naming the file and what is wrong), the exit status (1 when an input
//! failed but a report was printed, 2 when nothing could run), that nothing panicked, and that the
//! packets before a fault are still in the report.

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

use etherparse::PacketBuilder;
use serde_json::Value;
use svcscope_testkit::pcap::{option, pcap_header, pcap_record, pcapng, pcapng_section};
use svcscope_testkit::Run;

const BIN: &str = env!("CARGO_BIN_EXE_svcscope");
const SUPPORTED: &str = "Ethernet, Linux cooked (SLL, SLL2), raw IP and BSD loopback";

/// 2024-03-04T09:00:00Z.
const T: u32 = 1_709_542_800;

// ---- temp dirs and running the binary ------------------------------------------------------------

/// A temp dir of one test, removed when dropped.
struct Dir(PathBuf);

impl Dir {
    fn new(test: &str) -> Dir {
        let path = std::env::temp_dir().join(format!("svcscope-bad-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Dir(path)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The checks of a run of the binary on bad input.
trait Checks {
    /// Exit status and the exact stderr lines (a panic already failed the run).
    fn check(&self, code: i32, stderr: &[&str]);
    fn json(&self) -> Value;
}

impl Checks for Run {
    fn check(&self, code: i32, stderr: &[&str]) {
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines, stderr, "stderr");
        assert_eq!(self.code, code, "exit status; stderr:\n{}", self.stderr);
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("report is not JSON ({e}):\n{}", self.stdout))
    }
}

fn command(dir: &Dir, args: &[&str]) -> Command {
    svcscope_testkit::command(BIN, &dir.0, args)
}

fn run(dir: &Dir, args: &[&str]) -> Run {
    Run::of(&mut command(dir, args))
}

/// `svcscope analyze -q --format json FILES…` in the test's dir.
fn analyze(dir: &Dir, files: &[&str]) -> Run {
    let mut args = vec!["analyze", "-q", "--format", "json"];
    args.extend_from_slice(files);
    run(dir, &args)
}

fn u64_at(v: &Value, pointer: &str) -> u64 {
    v.pointer(pointer)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("{pointer} missing in {v:#}"))
}

/// Packets of a malformed (layer, reason) in the report's capture health.
fn malformed(report: &Value, layer: &str, reason: &str) -> u64 {
    report["health"]["malformed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["layer"] == layer && m["reason"] == reason)
        .map(|m| m["packets"].as_u64().unwrap())
        .unwrap_or(0)
}

// ---- capture files written by hand -----------------------------------------------------------------

struct Rec {
    secs: u32,
    usecs: u32,
    caplen: u32,
    wire: u32,
    data: Vec<u8>,
}

fn rec(secs: u32, usecs: u32, data: Vec<u8>) -> Rec {
    let n = data.len() as u32;
    Rec {
        secs,
        usecs,
        caplen: n,
        wire: n,
        data,
    }
}

/// A little-endian microsecond pcap file.
fn pcap(link: u32, records: &[Rec]) -> Vec<u8> {
    let mut f = pcap_header(65535, link);
    for r in records {
        pcap_record(&mut f, r.secs, r.usecs, r.caplen, r.wire, &r.data);
    }
    f
}

// ---- frames ----------------------------------------------------------------------------------------

const CLIENT: [u8; 4] = [192, 0, 2, 100];
const SERVER: [u8; 4] = [192, 0, 2, 10];
const MAC_C: [u8; 6] = [2, 0, 0, 0, 2, 100];
const MAC_S: [u8; 6] = [2, 0, 0, 0, 2, 10];

/// TCP over IPv4 (no link header) between the client and server on SMB (TCP 445).
fn tcp_ip(from_client: bool, flags: &str, payload: &[u8]) -> Vec<u8> {
    let (src, dst, sport, dport) = if from_client {
        (CLIENT, SERVER, 49152, 445)
    } else {
        (SERVER, CLIENT, 445, 49152)
    };
    let mut b = PacketBuilder::ipv4(src, dst, 64).tcp(sport, dport, 1000, 64240);
    if flags.contains('S') {
        b = b.syn();
    }
    if flags.contains('A') {
        b = b.ack(1);
    }
    if flags.contains('P') {
        b = b.psh();
    }
    let mut out = Vec::new();
    b.write(&mut out, payload).unwrap();
    out
}

fn ethernet(ether_type: u16, ip: &[u8]) -> Vec<u8> {
    let mut f = MAC_S.to_vec();
    f.extend_from_slice(&MAC_C);
    f.extend_from_slice(&ether_type.to_be_bytes());
    f.extend_from_slice(ip);
    f
}

fn tcp_frame(from_client: bool, flags: &str, payload: &[u8]) -> Vec<u8> {
    ethernet(0x0800, &tcp_ip(from_client, flags, payload))
}

/// A SYN, SYN-ACK and data packet of one SMB connection.
fn good_records() -> Vec<Rec> {
    vec![
        rec(T, 0, tcp_frame(true, "S", b"")),
        rec(T, 1000, tcp_frame(false, "SA", b"")),
        rec(T, 2000, tcp_frame(true, "AP", b"hello")),
    ]
}

/// Sets the IPv4 header checksum of an Ethernet frame after its header was edited.
fn fix_ipv4_checksum(frame: &mut [u8]) {
    let ihl = usize::from(frame[14] & 0x0f) * 4;
    frame[24] = 0;
    frame[25] = 0;
    let header = &frame[14..(14 + ihl.max(20)).min(frame.len())];
    let mut sum: u32 = header
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    frame[24..26].copy_from_slice(&(!(sum as u16)).to_be_bytes());
}

fn ipv6(next_header: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    p.extend_from_slice(&[next_header, 64]);
    p.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    p.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    p.extend_from_slice(payload);
    p
}

/// A 20-byte TCP header from port 49152 to 445 (SYN), without checksum.
fn tcp_header() -> Vec<u8> {
    let mut h = vec![
        0xc0, 0x00, 0x01, 0xbd, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xfa, 0xf0,
    ];
    h.extend_from_slice(&[0, 0, 0, 0]);
    h
}

// ---- the rows --------------------------------------------------------------------------------------

#[test]
fn empty_file() {
    let dir = Dir::new("empty");
    dir.write("empty.pcap", b"");
    let r = analyze(&dir, &["empty.pcap"]);
    r.check(1, &["svcscope: empty.pcap: empty file, not a capture"]);
    let report = r.json();
    assert_eq!(report["inputs"][0]["error"], "empty file, not a capture");
    assert_eq!(u64_at(&report, "/totals/packets"), 0);
}

#[test]
fn not_a_capture() {
    let dir = Dir::new("text");
    dir.write("notes.pcap", b"hello, this is not a capture\n");
    let r = analyze(&dir, &["notes.pcap"]);
    r.check(
        1,
        &["svcscope: notes.pcap: not a pcap or pcapng capture (starts with 68 65 6c 6c)"],
    );
    // Three bytes: too short for even the magic number.
    dir.write("tiny.pcap", b"abc");
    analyze(&dir, &["tiny.pcap"]).check(
        1,
        &["svcscope: tiny.pcap: not a pcap or pcapng capture (only 3 bytes)"],
    );
}

#[test]
fn truncated_file_header() {
    let dir = Dir::new("short-header");
    dir.write("short.pcap", &pcap(1, &[])[..14]);
    let r = analyze(&dir, &["short.pcap"]);
    r.check(
        1,
        &["svcscope: short.pcap: truncated capture: the pcap file header is cut short (10 of 20 bytes)"],
    );
    assert_eq!(u64_at(&r.json(), "/inputs/0/packets"), 0);

    let ng = pcapng(&[], &[]);
    dir.write("short.pcapng", &ng[..20]);
    analyze(&dir, &["short.pcapng"]).check(
        1,
        &["svcscope: short.pcapng: truncated capture: the pcapng section header is cut short (8 of 16 bytes)"],
    );
}

#[test]
fn truncated_last_record() {
    let dir = Dir::new("truncated");
    let f = pcap(1, &good_records());
    let last = good_records()[2].data.len();
    dir.write("cut.pcap", &f[..f.len() - 7]);
    let r = analyze(&dir, &["cut.pcap"]);
    r.check(
        1,
        &[&format!(
            "svcscope: cut.pcap: truncated capture: record 3 is cut short ({} of {last} bytes); the packets before it are reported",
            last - 7
        )],
    );
    let report = r.json();
    assert_eq!(u64_at(&report, "/inputs/0/packets"), 2);
    assert_eq!(u64_at(&report, "/totals/packets"), 2);
    assert_eq!(u64_at(&report, "/totals/classified_flows"), 1);

    // Cut inside the record header.
    dir.write(
        "cut-header.pcap",
        &f[..24 + 16 + good_records()[0].data.len() + 9],
    );
    let r = analyze(&dir, &["cut-header.pcap"]);
    r.check(
        1,
        &["svcscope: cut-header.pcap: truncated capture: record 2's header is cut short (9 of 16 bytes); the packets before it are reported"],
    );
    assert_eq!(u64_at(&r.json(), "/totals/packets"), 1);
}

#[test]
fn record_claiming_4_gb() {
    let dir = Dir::new("4gb");
    let mut records = good_records();
    records.push(Rec {
        secs: T,
        usecs: 3000,
        caplen: u32::MAX,
        wire: u32::MAX,
        data: vec![0; 10],
    });
    dir.write("huge.pcap", &pcap(1, &records));
    let r = analyze(&dir, &["huge.pcap"]);
    r.check(
        1,
        &["svcscope: huge.pcap: corrupt capture: record 4 claims 4294967295 captured bytes (at most 16777216); the packets before it are reported"],
    );
    let report = r.json();
    assert_eq!(u64_at(&report, "/inputs/0/packets"), 3);
    assert_eq!(u64_at(&report, "/totals/packets"), 3);

    // Within the 16 MiB limit but past the end of the file: a truncation, not a 16 MiB buffer.
    records.pop();
    records.push(Rec {
        secs: T,
        usecs: 3000,
        caplen: 16 << 20,
        wire: 16 << 20,
        data: vec![0; 10],
    });
    dir.write("long.pcap", &pcap(1, &records));
    let r = analyze(&dir, &["long.pcap"]);
    r.check(
        1,
        &["svcscope: long.pcap: truncated capture: record 4 is cut short (10 of 16777216 bytes); the packets before it are reported"],
    );
    assert_eq!(u64_at(&r.json(), "/totals/packets"), 3);
}

#[test]
fn caplen_above_wire_length() {
    let dir = Dir::new("caplen");
    let mut records = good_records();
    let frame = tcp_frame(true, "AP", b"more");
    records.push(Rec {
        secs: T,
        usecs: 3000,
        caplen: frame.len() as u32,
        wire: 20,
        data: frame.clone(),
    });
    dir.write("caplen.pcap", &pcap(1, &records));
    let r = analyze(&dir, &["caplen.pcap"]);
    // What was captured is trusted: the packet counts with its captured size.
    r.check(0, &[]);
    let report = r.json();
    assert_eq!(u64_at(&report, "/totals/packets"), 4);
    let bytes: usize = good_records().iter().map(|r| r.data.len()).sum::<usize>() + frame.len();
    assert_eq!(u64_at(&report, "/totals/bytes"), bytes as u64);
    assert_eq!(u64_at(&report, "/health/packets_truncated"), 0);
}

#[test]
fn zero_length_frames() {
    let dir = Dir::new("zero");
    let mut records = good_records();
    records.push(rec(T, 3000, Vec::new()));
    records.push(rec(T, 4000, Vec::new()));
    dir.write("zero.pcap", &pcap(1, &records));
    let r = analyze(&dir, &["zero.pcap"]);
    r.check(0, &[]);
    let report = r.json();
    assert_eq!(u64_at(&report, "/inputs/0/packets"), 5);
    assert_eq!(u64_at(&report, "/health/packets_read"), 5);
    assert_eq!(malformed(&report, "link", "empty frame"), 2);
    assert_eq!(u64_at(&report, "/totals/packets"), 3);
}

#[test]
fn timestamps_going_backwards_and_jumping_years() {
    let dir = Dir::new("time");
    let ten_years = 10 * 365 * 86_400;
    let records = vec![
        rec(T, 0, tcp_frame(true, "S", b"")),
        rec(T - ten_years, 0, tcp_frame(false, "SA", b"")),
        rec(T + 3 * ten_years, 0, tcp_frame(true, "AP", b"x")),
        rec(0, 0, tcp_frame(true, "AP", b"y")),
        rec(u32::MAX, 999_999, tcp_frame(true, "AP", b"z")),
    ];
    dir.write("time.pcap", &pcap(1, &records));
    let r = analyze(&dir, &["time.pcap"]);
    r.check(0, &[]);
    let report = r.json();
    assert_eq!(u64_at(&report, "/totals/packets"), 5);
    assert_eq!(report["first_seen"], "1970-01-01T00:00:00.000000Z");
    assert_eq!(report["last_seen"], "2106-02-07T06:28:15.999999Z");

    // pcapng: 64-bit nanosecond timestamps past 2262, and an interface whose if_tsoffset moves its
    // times before 1970; packets of both interfaces in one flow, out of order.
    let ns = option(9, &[9]);
    let mut back = option(9, &[9]);
    back.extend(option(14, &i64::MIN.to_le_bytes()));
    let far = 2_000_000_000u64 * 1_000_000_000;
    let f = pcapng(
        &[(1, ns.clone()), (1, back)],
        &[
            (0, u64::MAX, tcp_frame(true, "S", b"")),
            (1, 5, tcp_frame(false, "SA", b"")),
            (0, far, tcp_frame(true, "AP", b"x")),
            (0, u64::from(T) * 1_000_000_000, tcp_frame(true, "AP", b"y")),
        ],
    );
    dir.write("time.pcapng", &f);
    let r = analyze(&dir, &["time.pcapng"]);
    r.check(0, &[]);
    let report = r.json();
    assert_eq!(u64_at(&report, "/totals/packets"), 4);
    assert_eq!(u64_at(&report, "/totals/flows"), 1);
    assert_eq!(report["first_seen"], "1970-01-01T00:00:00.000000Z");
}

#[test]
fn pcapng_interfaces_of_different_link_types() {
    let dir = Dir::new("multi-if");
    let ldap = |from_client: bool, flags: u8| {
        let (src, dst, sport, dport) = if from_client {
            ([192, 0, 2, 101], SERVER, 49153, 389)
        } else {
            (SERVER, [192, 0, 2, 101], 389, 49153)
        };
        let mut b = PacketBuilder::ipv4(src, dst, 64).tcp(sport, dport, 1, 1000);
        if flags & 2 != 0 {
            b = b.syn();
        }
        if flags & 0x10 != 0 {
            b = b.ack(2);
        }
        let mut out = Vec::new();
        b.write(&mut out, b"").unwrap();
        out
    };
    let mut dns = Vec::new();
    PacketBuilder::ipv6(
        [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
        64,
    )
    .udp(50000, 53)
    .write(&mut dns, b"query")
    .unwrap();
    let mut sll = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x86, 0xdd];
    sll.extend_from_slice(&dns);
    let mut null = vec![2, 0, 0, 0];
    null.extend_from_slice(&ldap(false, 0x12));
    let us = u64::from(T) * 1_000_000;
    let f = pcapng(
        &[
            (1, Vec::new()),
            (101, Vec::new()),
            (0, Vec::new()),
            (113, Vec::new()),
            (147, Vec::new()),
        ],
        &[
            (0, us, tcp_frame(true, "S", b"")),
            (1, us + 1, ldap(true, 0x02)),
            (0, us + 2, tcp_frame(false, "SA", b"")),
            (2, us + 3, null),
            (3, us + 4, sll),
            (4, us + 5, vec![1; 30]),
            (0, us + 6, tcp_frame(true, "AP", b"hello")),
        ],
    );
    dir.write("multi.pcapng", &f);
    let r = analyze(&dir, &["multi.pcapng"]);
    // The packet on the interface of a link type svcscope does not decode fails the file, and the
    // rest of it is still read and reported.
    r.check(
        1,
        &[&format!(
            "svcscope: multi.pcapng: unsupported link type 147 on interface 4: 1 packet not decoded \
             (the first is record 6); svcscope decodes {SUPPORTED}; the other packets are reported"
        )],
    );
    let report = r.json();
    assert_eq!(
        report["inputs"][0]["link_types"],
        serde_json::json!(["EN10MB", "RAW", "NULL", "LINUX_SLL", "DLT 147"])
    );
    assert_eq!(u64_at(&report, "/inputs/0/packets"), 7);
    // SMB on Ethernet, LDAP across raw IP and BSD loopback, DNS over IPv6 on Linux cooked.
    assert_eq!(u64_at(&report, "/totals/flows"), 3);
    assert_eq!(u64_at(&report, "/totals/classified_flows"), 3);
    let apps: Vec<&str> = report["app_protocols"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["app_protocol"].as_str().unwrap())
        .collect();
    for app in ["SMB", "LDAP Server", "DNS"] {
        assert!(apps.contains(&app), "{app} missing from {apps:?}");
    }
    // The packet svcscope could not decode is counted too.
    assert_eq!(malformed(&report, "link", "unsupported link type"), 1);
}

#[test]
fn unknown_link_type() {
    let dir = Dir::new("dlt");
    dir.write("dlt147.pcap", &pcap(147, &good_records()));
    let r = analyze(&dir, &["dlt147.pcap"]);
    r.check(
        1,
        &[&format!(
            "svcscope: dlt147.pcap: unsupported link type 147; svcscope decodes {SUPPORTED}"
        )],
    );
    assert_eq!(u64_at(&r.json(), "/totals/packets"), 0);
    // One libpcap has a name for.
    dir.write("wifi.pcap", &pcap(105, &good_records()));
    analyze(&dir, &["wifi.pcap"]).check(
        1,
        &[&format!(
            "svcscope: wifi.pcap: unsupported link type IEEE802_11 (105); svcscope decodes {SUPPORTED}"
        )],
    );
}

/// Regression: packets on a pcapng interface of a link type svcscope does not decode were counted
/// as malformed and the run exited 0, though "another link type is a clear error for that file".
#[test]
fn pcapng_unknown_link_type_is_an_error() {
    let dir = Dir::new("ng-dlt");
    let us = u64::from(T) * 1_000_000;
    // IEEE 802.11 only: nothing is decoded, the file fails.
    let wifi = pcapng(
        &[(105, Vec::new())],
        &[(0, us, vec![0; 40]), (0, us + 1, vec![0; 40])],
    );
    dir.write("wifi.pcapng", &wifi);
    let r = analyze(&dir, &["wifi.pcapng"]);
    r.check(
        1,
        &[&format!(
            "svcscope: wifi.pcapng: unsupported link type IEEE802_11 (105) on interface 0: 2 packets \
             not decoded (the first is record 1); svcscope decodes {SUPPORTED}"
        )],
    );
    assert_eq!(u64_at(&r.json(), "/totals/packets"), 0);
    assert_eq!(u64_at(&r.json(), "/inputs/0/packets"), 2);
    // An interface of that type described but never used loses nothing: not an error.
    let unused = pcapng(
        &[(1, Vec::new()), (105, Vec::new())],
        &[(0, us, tcp_frame(true, "S", b""))],
    );
    dir.write("unused.pcapng", &unused);
    let r = analyze(&dir, &["unused.pcapng"]);
    r.check(0, &[]);
    assert_eq!(u64_at(&r.json(), "/totals/packets"), 1);
    // A fault after such packets names both.
    let mut cut = wifi.clone();
    cut.truncate(cut.len() - 10);
    dir.write("cut.pcapng", &cut);
    analyze(&dir, &["cut.pcapng"]).check(
        1,
        &[&format!(
            "svcscope: cut.pcapng: truncated capture: record 2 is cut short (34 of 40 bytes); the \
             packets before it are reported; also unsupported link type IEEE802_11 (105) on interface 0: 1 packet before it not decoded \
             (the first is record 1); svcscope decodes {SUPPORTED}"
        )],
    );
}

/// Regression: a pcapng file whose second section is in the other byte order was read with the
/// first section's byte order (its blocks misread as corrupt, or its packets as garbage).
#[test]
fn pcapng_sections_in_both_byte_orders() {
    let dir = Dir::new("ng-bom");
    let us = u64::from(T) * 1_000_000;
    let mut f = pcapng_section(
        false,
        &[(1, Vec::new())],
        &[(0, us, tcp_frame(true, "S", b""))],
    );
    f.extend(pcapng_section(
        true,
        &[(1, Vec::new())],
        &[
            (0, us + 1000, tcp_frame(false, "SA", b"")),
            (0, us + 2000, tcp_frame(true, "AP", b"hello")),
        ],
    ));
    // And back again, with microsecond timestamps past 2^32 units in both halves.
    f.extend(pcapng_section(
        false,
        &[(1, Vec::new())],
        &[(0, us + 3000, tcp_frame(false, "AP", b"world"))],
    ));
    dir.write("both.pcapng", &f);
    let r = analyze(&dir, &["both.pcapng"]);
    r.check(0, &[]);
    let report = r.json();
    assert_eq!(u64_at(&report, "/inputs/0/packets"), 4);
    assert_eq!(u64_at(&report, "/totals/packets"), 4);
    assert_eq!(u64_at(&report, "/totals/flows"), 1, "one SMB connection");
    assert_eq!(u64_at(&report, "/totals/classified_flows"), 1);
    assert_eq!(report["first_seen"], "2024-03-04T09:00:00.000000Z");
    assert_eq!(report["last_seen"], "2024-03-04T09:00:00.003000Z");
    // The same packets all big-endian read the same.
    let mut be = pcapng_section(
        true,
        &[(1, Vec::new())],
        &[(0, us, tcp_frame(true, "S", b""))],
    );
    be.extend(pcapng_section(
        false,
        &[(1, Vec::new())],
        &[(0, us + 1000, tcp_frame(false, "SA", b""))],
    ));
    dir.write("be-first.pcapng", &be);
    let r = analyze(&dir, &["be-first.pcapng"]);
    r.check(0, &[]);
    assert_eq!(u64_at(&r.json(), "/totals/packets"), 2);
}

#[test]
fn ipv4_header_length_lies() {
    let dir = Dir::new("ihl");
    let mut long = tcp_frame(true, "AP", b"");
    long[14] = 0x4f; // IHL 15: 60 bytes of header in a 40-byte packet
    fix_ipv4_checksum(&mut long);
    let mut short = tcp_frame(true, "AP", b"");
    short[14] = 0x43; // IHL 3
    let mut total = tcp_frame(true, "AP", b"");
    total[16..18].copy_from_slice(&12u16.to_be_bytes()); // total length below the header
    fix_ipv4_checksum(&mut total);
    let mut records = good_records();
    for (i, f) in [long, short, total].into_iter().enumerate() {
        records.push(rec(T, 3000 + i as u32, f));
    }
    dir.write("ihl.pcap", &pcap(1, &records));
    let r = analyze(&dir, &["ihl.pcap"]);
    r.check(0, &[]);
    let report = r.json();
    assert_eq!(u64_at(&report, "/health/packets_read"), 6);
    assert_eq!(u64_at(&report, "/health/packets_malformed"), 3);
    assert_eq!(malformed(&report, "ipv4", "header truncated"), 1);
    assert_eq!(malformed(&report, "ipv4", "IHL below 5"), 1);
    assert_eq!(
        malformed(&report, "ipv4", "total length below header length")
            + malformed(&report, "ipv4", "length field smaller than header"),
        1
    );
    assert_eq!(u64_at(&report, "/totals/packets"), 3);
}

#[test]
fn ipv6_extension_header_loops() {
    let dir = Dir::new("ipv6-ext");
    // Destination options, then a hop-by-hop header (only allowed first).
    let mut not_first = vec![0, 0, 1, 4, 0, 0, 0, 0];
    not_first.extend_from_slice(&[6, 0, 1, 4, 0, 0, 0, 0]);
    not_first.extend_from_slice(&tcp_header());
    // 300 destination-options headers chained to each other, then TCP.
    let mut chain = Vec::new();
    for _ in 0..299 {
        chain.extend_from_slice(&[60, 0, 1, 4, 0, 0, 0, 0]);
    }
    chain.extend_from_slice(&[6, 0, 1, 4, 0, 0, 0, 0]);
    chain.extend_from_slice(&tcp_header());
    // A chain that never ends: the last header names itself and the packet ends.
    let mut endless = Vec::new();
    for _ in 0..50 {
        endless.extend_from_slice(&[60, 0, 1, 4, 0, 0, 0, 0]);
    }
    let mut records = good_records();
    records.push(rec(T, 3000, ethernet(0x86dd, &ipv6(60, &not_first))));
    records.push(rec(T, 4000, ethernet(0x86dd, &ipv6(60, &chain))));
    records.push(rec(T, 5000, ethernet(0x86dd, &ipv6(60, &endless))));
    dir.write("ext.pcap", &pcap(1, &records));
    let r = analyze(&dir, &["ext.pcap"]);
    r.check(0, &[]);
    let report = r.json();
    assert_eq!(u64_at(&report, "/health/packets_read"), 6);
    assert_eq!(
        malformed(&report, "ipv6-ext", "hop-by-hop header not first"),
        1
    );
    // The long chain is walked to its TCP header; the endless one is counted, not attributed.
    assert_eq!(
        u64_at(&report, "/health/packets_malformed"),
        2,
        "{report:#}"
    );
    assert_eq!(u64_at(&report, "/totals/packets"), 4);
}

#[test]
fn tcp_data_offset_lies() {
    let dir = Dir::new("tcp-offset");
    let mut beyond = tcp_frame(true, "AP", b"");
    beyond[14 + 20 + 12] = 0xf0; // 60-byte header in a 20-byte segment
    let mut below = tcp_frame(true, "AP", b"");
    below[14 + 20 + 12] = 0x20; // 8-byte header
    let mut records = good_records();
    records.push(rec(T, 3000, beyond));
    records.push(rec(T, 4000, below));
    dir.write("offset.pcap", &pcap(1, &records));
    let r = analyze(&dir, &["offset.pcap"]);
    r.check(0, &[]);
    let report = r.json();
    assert_eq!(
        malformed(&report, "tcp", "data offset beyond the segment"),
        1
    );
    assert_eq!(malformed(&report, "tcp", "data offset below 5"), 1);
    assert_eq!(u64_at(&report, "/totals/packets"), 3);
}

#[test]
fn gre_with_bogus_flags() {
    let dir = Dir::new("gre");
    let gre = |flags: u16| {
        let mut b = flags.to_be_bytes().to_vec();
        b.extend_from_slice(&[0x88, 0x0b, 0, 0, 0, 0, 0, 0, 0, 0]);
        let mut out = Vec::new();
        PacketBuilder::ipv4([203, 0, 113, 50], SERVER, 64)
            .write(&mut out, etherparse::IpNumber::GRE, &b)
            .unwrap();
        ethernet(0x0800, &out)
    };
    let mut records = good_records();
    records.push(rec(T, 3000, gre(0xffff))); // every flag, version 7
    records.push(rec(T, 4000, gre(0xf8_01))); // every flag bit, version 1: still GRE
    dir.write("gre.pcap", &pcap(1, &records));
    let r = analyze(&dir, &["gre.pcap"]);
    r.check(0, &[]);
    let report = r.json();
    assert_eq!(malformed(&report, "gre", "unknown GRE version"), 1);
    assert_eq!(u64_at(&report, "/totals/packets"), 4);
    assert_eq!(u64_at(&report, "/totals/flows"), 2);
}

#[test]
fn catalog_with_duplicate_and_contradictory_rows() {
    let dir = Dir::new("catalog-dup");
    dir.write("good.pcap", &pcap(1, &good_records()));
    dir.write(
        "dup.toml",
        b"[[service]]\nname = \"X\"\nports = [\n  { app = \"A\", tcp = 1 },\n  { app = \"A\", tcp = 1 },\n]\n",
    );
    let r = run(
        &dir,
        &[
            "--catalog",
            "dup.toml",
            "analyze",
            "-q",
            "--format",
            "json",
            "good.pcap",
        ],
    );
    r.check(
        2,
        &["svcscope: dup.toml:5: duplicate row: \"A\" tcp 1 already at line 4"],
    );
    assert_eq!(r.stdout, "", "no report without a catalog");
    dir.write(
        "contra.toml",
        b"[[service]]\nname = \"X\"\nports = [\n  { app = \"A\", udp = 1 },\n  { app = \"B\", udp = 1 },\n]\n",
    );
    run(
        &dir,
        &["--catalog", "contra.toml", "analyze", "-q", "good.pcap"],
    )
    .check(
        2,
        &["svcscope: contra.toml:5: contradictory rows: udp 1 is \"A\" at line 4 and \"B\" here"],
    );
    // The same service twice in one file.
    dir.write(
        "twice.toml",
        b"[[service]]\nname = \"X\"\nports = [ { app = \"A\", tcp = 1 } ]\n\n[[service]]\nname = \"x\"\nports = [ { app = \"A\", tcp = 2 } ]\n",
    );
    run(&dir, &["--catalog", "twice.toml", "catalog"]).check(
        2,
        &["svcscope: twice.toml:6: service \"x\" is defined twice in this file (first at line 2)"],
    );
}

/// Pipe, share, service principal and protocol entries of a user catalog are checked like the rest,
/// with the line.
#[test]
fn catalog_with_broken_pipes_shares_and_protocols() {
    let dir = Dir::new("catalog-names");
    dir.write("good.pcap", &pcap(1, &good_records()));
    dir.write(
        "unknown.toml",
        b"[[pipe]]\nname = \"\\\\PIPE\\\\backup\"\nservices = [\n  \"Backup Agent\",\n]\nreference = \"vendor manual\"\n",
    );
    let r = run(
        &dir,
        &["--catalog", "unknown.toml", "analyze", "-q", "good.pcap"],
    );
    r.check(
        2,
        &["svcscope: unknown.toml:4: pipe \"backup\" names service \"Backup Agent\", which no catalog defines"],
    );
    assert_eq!(r.stdout, "");
    dir.write(
        "drives.toml",
        b"[[share]]\nname = \"C$\"\nservices = []\nreference = \"site\"\n\n[[share]]\nname = \"\\\\\\\\fs1\\\\D$\"\nservices = []\nreference = \"site\"\n",
    );
    run(&dir, &["--catalog", "drives.toml", "catalog"]).check(
        2,
        &["svcscope: drives.toml:7: share \"\\\\\\\\fs1\\\\D$\" (key \"?$\") is defined twice in this file (first at line 1)"],
    );
    dir.write(
        "protocol.toml",
        b"[[protocol]]\nname = \"http\"\nservices = [\"Server\"]\nreference = \"KB\"\n",
    );
    run(&dir, &["--catalog", "protocol.toml", "catalog"]).check(
        2,
        &["svcscope: protocol.toml:2: protocol \"http\" is not one svcscope verifies (one of \"smb\", \"dfs-referral\", \"kerberos\", \"ldap\", \"ldap-ping\", \"rdp-negotiation\", \"dns-authoritative\", \"http-sharepoint\", or \"tds-instance:\" or \"http-server:\" and a name)"],
    );
    // A service principal class is a key like the others: HOST/a and host/b are one.
    dir.write(
        "spn.toml",
        b"[[spn]]\nname = \"HOST/a\"\nservices = []\nreference = \"site\"\n\n[[spn]]\nname = \"host/b\"\nservices = []\nreference = \"site\"\n",
    );
    run(&dir, &["--catalog", "spn.toml", "catalog"]).check(
        2,
        &["svcscope: spn.toml:7: spn \"host/b\" (key \"host\") is defined twice in this file (first at line 1)"],
    );
    dir.write(
        "spn-service.toml",
        b"[[spn]]\nname = \"vnc\"\nservices = [\"VNC Server\"]\nreference = \"vendor manual\"\n",
    );
    run(&dir, &["--catalog", "spn-service.toml", "catalog"]).check(
        2,
        &["svcscope: spn-service.toml:3: spn \"vnc\" names service \"VNC Server\", which no catalog defines"],
    );
    dir.write(
        "key.toml",
        b"[[share]]\nname = \"SYSVOL\"\nservices = [\"Server\"]\nreference = \"site\"\nreplicated = true\n",
    );
    let r = run(&dir, &["--catalog", "key.toml", "catalog"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .starts_with("svcscope: key.toml:5: unknown field `replicated`"),
        "{}",
        r.stderr
    );
}

#[test]
fn catalog_port_out_of_range() {
    let dir = Dir::new("catalog-port");
    dir.write("good.pcap", &pcap(1, &good_records()));
    dir.write(
        "big.toml",
        b"[[service]]\nname = \"X\"\nports = [\n  { app = \"A\", tcp = 80 },\n  { app = \"B\", tcp = 70000 },\n]\n",
    );
    let r = run(
        &dir,
        &["--catalog", "big.toml", "analyze", "-q", "good.pcap"],
    );
    r.check(
        2,
        &["svcscope: big.toml:5: port 70000 is out of range (1-65535)"],
    );
    assert_eq!(r.stdout, "");
    dir.write(
        "zero.toml",
        b"[[service]]\nname = \"X\"\nports = [ { app = \"A\", udp = 0 } ]\n",
    );
    run(&dir, &["--catalog", "zero.toml", "catalog"]).check(
        2,
        &["svcscope: zero.toml:3: port 0 is out of range (1-65535)"],
    );
}

/// A 50 MB name once made `svcscope catalog` pad every table row to its width (8.6 GB). Files,
/// fields and counts are bounded, each with the file (and line) that breaks the bound.
#[test]
fn catalog_too_large_or_with_a_huge_name() {
    let dir = Dir::new("catalog-huge");
    let mut huge = b"[[service]]\nname = \"".to_vec();
    huge.extend(std::iter::repeat_n(b'A', 50_000_000));
    huge.extend_from_slice(b"\"\nports = [ { app = \"x\", tcp = 7777 } ]\n");
    dir.write("huge.toml", &huge);
    let r = run(&dir, &["--catalog", "huge.toml", "catalog"]);
    r.check(
        2,
        &["svcscope: huge.toml: cannot read catalog: 50000060 bytes, more than the 4 MiB a catalog file may hold"],
    );
    assert_eq!(r.stdout, "");
    // Under the file bound, the name's own bound.
    let mut long = b"[[service]]\nname = \"".to_vec();
    long.extend(std::iter::repeat_n(b'A', 1_000_000));
    long.extend_from_slice(b"\"\nports = [ { app = \"x\", tcp = 7777 } ]\n");
    dir.write("long.toml", &long);
    run(&dir, &["--catalog", "long.toml", "catalog"]).check(
        2,
        &["svcscope: long.toml:2: service name is longer than 256 characters (1000000 bytes)"],
    );
    dir.write(
        "note.toml",
        format!(
            "[[service]]\nname = \"X\"\nports = [\n  {{ app = \"x\", tcp = 7777, note = \"{}\" }},\n]\n",
            "n".repeat(5000)
        )
        .as_bytes(),
    );
    run(&dir, &["--catalog", "note.toml", "catalog"]).check(
        2,
        &["svcscope: note.toml:4: note is longer than 1024 characters (5000 bytes)"],
    );
    // A file that never ends is read up to the bound, no further.
    run(&dir, &["--catalog", "/dev/zero", "catalog"]).check(
        2,
        &["svcscope: /dev/zero: cannot read catalog: more than the 4 MiB a catalog file may hold"],
    );
    let mut many = String::new();
    for i in 0..=10_000 {
        many.push_str(&format!(
            "[[service]]\nname = \"S{i}\"\nports = [ {{ app = \"A\", tcp = 1 }} ]\n"
        ));
    }
    dir.write("many.toml", many.as_bytes());
    run(&dir, &["--catalog", "many.toml", "catalog"]).check(
        2,
        &["svcscope: many.toml:30001: more than 10000 services in one file"],
    );
}

/// Names end up in terminal tables, CSV cells and firewall scripts: a control character in one is
/// refused with the line it is on.
#[test]
fn catalog_with_control_characters_in_names() {
    let dir = Dir::new("catalog-control");
    dir.write(
        "newline.toml",
        b"[[service]]\nname = \"X\"\nports = [\n  { app = \"A\\ntcp dport 22 accept\", tcp = 1 },\n]\n",
    );
    run(&dir, &["--catalog", "newline.toml", "rules", "--host", "192.0.2.1", "x.pcap"]).check(
        2,
        &["svcscope: newline.toml:4: application protocol (app) \"A\\ntcp dport 22 accept\" contains a control character (U+000A)"],
    );
    dir.write(
        "escape.toml",
        b"[[service]]\nname = \"X\"\nnote = \"\\u001b[2J\"\nports = [ { app = \"A\", tcp = 1 } ]\n",
    );
    run(&dir, &["--catalog", "escape.toml", "catalog"]).check(
        2,
        &["svcscope: escape.toml:3: note \"\\u{1b}[2J\" contains a control character (U+001B)"],
    );
    dir.write(
        "interface.toml",
        b"[[interface]]\nuuid = \"11111111-2222-3333-4444-555555555555\"\nname = \"x\\r\"\n",
    );
    run(&dir, &["--catalog", "interface.toml", "catalog"]).check(
        2,
        &["svcscope: interface.toml:3: interface name \"x\\r\" contains a control character (U+000D)"],
    );
}

#[test]
fn bad_filter() {
    let dir = Dir::new("filter");
    dir.write("good.pcap", &pcap(1, &good_records()));
    let r = run(
        &dir,
        &["analyze", "-q", "--filter", "tcp port", "good.pcap"],
    );
    assert!(!r.stderr.contains("panicked"));
    assert_eq!(r.code, 2);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr
            .starts_with("svcscope: invalid filter \"tcp port\": "),
        "{}",
        r.stderr
    );
    assert_eq!(r.stdout, "");
}

fn is_root() -> bool {
    // The effective uid of this process, from /proc (no libc binding needed).
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

#[test]
fn unreadable_file() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let dir = Dir::new("unreadable");
    let path = dir.write("secret.pcap", &pcap(1, &good_records()));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    let mut c = command(&dir, &["analyze", "-q", "--format", "json", "secret.pcap"]);
    if is_root() {
        // Root reads any file: run svcscope as nobody, for whom mode 000 means what it says.
        c.uid(65534).gid(65534);
        std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = match c.output() {
        Ok(out) => out,
        Err(e) => {
            eprintln!("skipped: cannot run svcscope as nobody ({e})");
            return;
        }
    };
    let r = Run::from_output(out);
    if r.code == 2 && r.stdout.is_empty() {
        eprintln!("skipped: svcscope did not start as nobody: {}", r.stderr);
        return;
    }
    r.check(
        1,
        &["svcscope: secret.pcap: permission denied (cannot read the file)"],
    );
    assert_eq!(u64_at(&r.json(), "/totals/packets"), 0);
}

#[test]
fn fifo_is_read_like_a_file() {
    let dir = Dir::new("fifo");
    let fifo = dir.0.join("capture.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status();
    if !made.map(|s| s.success()).unwrap_or(false) {
        eprintln!("skipped: mkfifo is not available");
        return;
    }
    // A pipe has no length; svcscope must read it (process substitution: analyze <(zcat x.gz)).
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
            let _ = f.write_all(&pcap(1, &good_records()));
        })
    };
    let r = analyze(&dir, &["capture.fifo"]);
    release(&fifo, writer);
    r.check(0, &[]);
    assert_eq!(u64_at(&r.json(), "/totals/packets"), 3);

    // An empty pipe.
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            drop(std::fs::OpenOptions::new().write(true).open(fifo).unwrap());
        })
    };
    let r = analyze(&dir, &["capture.fifo"]);
    release(&fifo, writer);
    r.check(1, &["svcscope: capture.fifo: empty file, not a capture"]);
}

/// Ends a FIFO writer thread even when svcscope never opened the FIFO (the writer's open blocks
/// until a reader comes): opens it for reading without blocking, then joins the writer.
fn release(fifo: &std::path::Path, writer: std::thread::JoinHandle<()>) {
    use std::os::unix::fs::OpenOptionsExt;
    const O_NONBLOCK: i32 = 0o4000;
    let reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(O_NONBLOCK)
        .open(fifo)
        .unwrap();
    writer.join().unwrap();
    drop(reader);
}

#[test]
fn directory_as_capture_file() {
    let dir = Dir::new("directory");
    std::fs::create_dir(dir.0.join("captures")).unwrap();
    let r = analyze(&dir, &["captures"]);
    r.check(
        1,
        &["svcscope: captures: is a directory, not a capture file"],
    );
    assert_eq!(u64_at(&r.json(), "/totals/packets"), 0);
}

#[test]
fn missing_file() {
    let dir = Dir::new("missing");
    let r = analyze(&dir, &["nothere.pcap"]);
    r.check(1, &["svcscope: nothere.pcap: no such file"]);
    assert_eq!(r.json()["inputs"][0]["error"], "no such file");
}

#[test]
fn several_files_one_bad() {
    let dir = Dir::new("several");
    dir.write("a.pcap", &pcap(1, &good_records()));
    dir.write("bad.pcap", b"not a capture at all");
    let other = good_records();
    let mut b = pcap(1, &other);
    b.truncate(b.len() - 3);
    dir.write("b.pcap", &b);
    let r = analyze(&dir, &["a.pcap", "bad.pcap", "missing.pcap", "b.pcap"]);
    // Files are read by their first packet's time (a and b start together: in the order given),
    // those whose first packet cannot be read last.
    r.check(
        1,
        &[
            &format!(
                "svcscope: b.pcap: truncated capture: record 3 is cut short ({} of {} bytes); the packets before it are reported",
                other[2].data.len() - 3,
                other[2].data.len()
            ),
            "svcscope: bad.pcap: not a pcap or pcapng capture (starts with 6e 6f 74 20)",
            "svcscope: missing.pcap: no such file",
        ],
    );
    let report = r.json();
    let paths: Vec<&str> = report["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["a.pcap", "b.pcap", "bad.pcap", "missing.pcap"]);
    assert_eq!(u64_at(&report, "/inputs/0/packets"), 3);
    assert!(report["inputs"][0]["error"].is_null());
    assert_eq!(u64_at(&report, "/inputs/1/packets"), 2);
    assert_eq!(u64_at(&report, "/inputs/2/packets"), 0);
    assert_eq!(u64_at(&report, "/inputs/3/packets"), 0);
    assert_eq!(u64_at(&report, "/totals/packets"), 5);
    assert_eq!(report["first_seen"], "2024-03-04T09:00:00.000000Z");
}

/// Reproducer found by the `tracker` fuzz target: a flow whose packets span more than i64 nanoseconds
/// (trace times near i64::MIN and i64::MAX, flows that never idle out) overflows `Flow::duration`
/// (`last_ts - first_ts` in src/flow.rs): a panic in debug builds, a wrong duration in release.
/// Capture files cannot reach it any more (their times are clamped to 0..=i64::MAX), the library
/// API still can; `Flow::duration` now saturates.
#[test]
fn tracker_flow_spanning_all_of_time() {
    use std::sync::Arc;
    use std::time::Duration;
    use svcscope::catalog::Catalog;
    use svcscope::decode::LinkType;
    use svcscope::flow::Timeouts;
    use svcscope::tracker::{Tracker, TrackerConfig};

    let forever = Duration::from_secs(300 * 365 * 86_400);
    let config = TrackerConfig {
        timeouts: Timeouts {
            tcp: forever,
            tcp_closed: forever,
            udp: forever,
            other: forever,
        },
        ..TrackerConfig::default()
    };
    let mut tracker = Tracker::new(Arc::new(Catalog::builtin()), &config, None);
    let frame = tcp_frame(true, "S", b"");
    for ts in [i64::MIN, -1, i64::MAX - 1] {
        tracker.packet(LinkType::Ethernet, ts, frame.len() as u32, &frame);
    }
    let (agg, _) = tracker.finish();
    assert_eq!(agg.decode.packets, 3);
}

// ---- standard output -----------------------------------------------------------------------------

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// Regression: a report that could not be written (a full disk) exited 2, "nothing could run".
#[test]
fn a_full_standard_output_is_exit_1_with_one_line() {
    let Ok(full) = std::fs::File::create("/dev/full") else {
        eprintln!("skipped: no /dev/full");
        return;
    };
    let out = Command::new(BIN)
        .args(["analyze", "-q", "--sensor", "t"])
        .arg(fixture("vlan.pcap"))
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "svcscope: writing to standard output: No space left on device (os error 28)\n"
    );
    assert_eq!(out.status.code(), Some(1));
}

/// Regression: a pipe closed before the report was read (`| head -0`) exited 0 as if the report had
/// been delivered.
#[test]
fn a_closed_pipe_on_standard_output_is_exit_1_with_one_line() {
    for command in ["analyze", "hosts"] {
        let mut child = Command::new(BIN)
            .args([command, "-q", "--format", "json", "--sensor", "t"])
            .arg(fixture("domain.pcapng"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Closed before the report: reading 4,735 packets takes far longer than this.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "svcscope: writing to standard output: Broken pipe (os error 32)\n",
            "{command}"
        );
        assert_eq!(out.status.code(), Some(1), "{command}");
    }
}

/// Regression: `capture -w -` wrote the packets to a file named `-`; packets to standard output
/// would have mixed with the report. It is refused before any interface is opened.
#[test]
fn capture_refuses_packets_to_standard_output() {
    let out = Command::new(BIN)
        .args(["capture", "-i", "no-such-interface", "-w", "-"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "svcscope: -w -: packets cannot go to standard output, where the report goes; give -w a \
         file name\n"
    );
    assert_eq!(out.status.code(), Some(2));
}
