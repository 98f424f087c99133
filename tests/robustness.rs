//! Long runs and floods: memory stays bounded by the flow cap while every flow is still counted, and
//! a flow that lives for days is reported as one flow, or, after a silence longer than the idle
//! timeout, as parts that keep their server side and service.

use std::path::{Path, PathBuf};
use std::process::Command;

use etherparse::PacketBuilder;
use serde_json::Value;
use svcscope_testkit::pcap;

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("svcscope-robustness-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn analyze(file: &Path, extra: &[&str]) -> (Value, Vec<Value>) {
    let flows = file.with_extension("flows");
    let out = Command::new(env!("CARGO_BIN_EXE_svcscope"))
        .args(["analyze", "--format", "json", "-q", "--flows"])
        .arg(&flows)
        .args(extra)
        .arg(file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let records = std::fs::read_to_string(&flows)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (serde_json::from_slice(&out.stdout).unwrap(), records)
}

#[test]
fn a_flood_of_spoofed_flows_stays_within_the_cap_and_counts_every_flow() {
    let file = temp("flood.pcap");
    svcscope_testkit::generate(&[
        "flood",
        "--packets",
        "60000",
        "--out",
        file.to_str().unwrap(),
    ]);
    let (report, records) = analyze(&file, &["--max-flows", "1000"]);
    let h = &report["health"];
    assert_eq!(h["flows_created"], 60_000);
    assert_eq!(
        h["peak_flows"], 1000,
        "the table never holds more than the cap"
    );
    assert!(h["flows_evicted"].as_u64().unwrap() >= 59_000);
    assert_eq!(records.len(), 60_000, "evicted flows are still reported");
    assert!(
        records
            .iter()
            .filter(|r| r["end_reason"] == "evicted")
            .count()
            >= 59_000
    );
    // Every flow is a SYN nobody answered: no service traffic, all of it unanswered.
    assert_eq!(report["unanswered"]["flows"], 60_000);
    assert_eq!(report["totals"]["classified_flows"], 0);
    assert!(report["services"].as_array().unwrap().is_empty());
    assert!(report["app_protocols"].as_array().unwrap().is_empty());
}

fn flood(kind: &str, packets: u64) -> PathBuf {
    let file = temp(&format!("flood-{kind}.pcap"));
    let packets = packets.to_string();
    svcscope_testkit::generate(&[
        "flood",
        "--kind",
        kind,
        "--packets",
        &packets,
        "--out",
        file.to_str().unwrap(),
    ]);
    file
}

fn analyze_health(file: &Path, extra: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_svcscope"))
        .args(["analyze", "--format", "json", "-q"])
        .args(extra)
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    report["health"].clone()
}

/// Regression: --max-flows was per worker (16 workers held 7.3 M flows with the default cap).
#[test]
fn with_several_workers_the_flow_cap_is_for_the_whole_process() {
    let file = flood("syn", 30_000);
    for workers in ["1", "3", "4"] {
        let h = analyze_health(&file, &["--max-flows", "1000", "--workers", workers]);
        assert_eq!(h["flows_created"], 30_000);
        let peak = h["peak_flows"].as_u64().unwrap();
        assert!(peak <= 1000, "{workers} workers held {peak} flows");
        assert!(peak >= 900, "{workers} workers held only {peak} flows");
        assert!(h["flows_evicted"].as_u64().unwrap() >= 29_000);
    }
}

/// Regression: the flow table hashed keys with FxHash, so IPv6 sources whose second word cancels
/// the first gave every flow the same hash, and each new flow probed every earlier one (20,000
/// such SYNs took 2.4 s in a release build, 100,000 would take a minute, a full table far longer).
/// The table's hash is seeded at random now: the flood is read like any other.
#[test]
fn a_flood_of_flow_keys_crafted_to_collide_is_read_like_any_flood() {
    let h = analyze_health(&flood("collide", 100_000), &[]);
    assert_eq!(h["flows_created"], 100_000);
    assert_eq!(h["peak_flows"], 100_000);
    assert_eq!(h["flows_evicted"], 0);
}

// The floods below fill a cap with entries young enough that nothing expires. With the old
// "scan (or clear) when full" caps each new entry past the cap cost a pass over the whole table:
// minutes for these sizes in a debug build. The counters show each cap held and evicted the rest.

#[test]
fn a_flood_of_first_fragments_evicts_the_oldest() {
    let h = analyze_health(&flood("fragments", 100_000), &[]);
    assert_eq!(h["packets_decoded"], 100_000);
    assert_eq!(h["fragments_evicted"], 100_000 - 65_536);
}

#[test]
fn a_flood_of_endpoint_mapper_contacts_evicts_the_oldest() {
    // 110,000 contacts (SYN, SYN/ACK to TCP 135), 6.001 ms apart: nearly 100,000 in the 10-minute
    // window, and the minute between two expiries adds 10,000 more.
    let h = analyze_health(&flood("epm-contacts", 220_000), &[]);
    assert_eq!(h["flows_created"], 110_000);
    let evicted = h["inspection"]["epm_contacts_evicted"].as_u64().unwrap();
    assert!((9_900..=10_000).contains(&evicted), "{evicted}");
}

#[test]
fn a_flood_of_endpoint_mapper_announcements_evicts_the_oldest() {
    // 16 endpoints in each ept_map answer, 9.6 ms apart: about 150,000 endpoints in 90 s.
    let h = analyze_health(&flood("epm-announcements", 9_600), &[]);
    let i = &h["inspection"];
    let announced = i["endpoints_announced"].as_u64().unwrap();
    assert!(announced > 150_000, "{announced}");
    assert_eq!(i["announcements_evicted"], announced - 100_000);
}

#[test]
fn a_flood_of_partial_rpc_pdus_keeps_the_budget_and_inspects_new_flows() {
    // 40,000 flows each holding 1 KiB of a PDU that never completes: 32 MiB hold 32,768.
    let h = analyze_health(&flood("rpc-fragments", 80_000), &[]);
    let i = &h["inspection"];
    assert_eq!(i["flows_inspected"], 40_000);
    assert_eq!(i["rpc_buffers_evicted"], 40_000 - 32_768);
}

/// A pcap writer for hand-made packets.
struct Pcap(Vec<u8>);

impl Pcap {
    fn new() -> Pcap {
        Pcap(pcap::pcap_header(65535, 1))
    }

    fn tcp(&mut self, secs: u64, client_to_server: bool, flags: &str, seq: u32, payload: &[u8]) {
        let (client, server) = ([192, 0, 2, 101], [192, 0, 2, 20]);
        let (src, dst, sp, dp) = if client_to_server {
            (client, server, 50_123, 445)
        } else {
            (server, client, 445, 50_123)
        };
        let mut b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4(src, dst, 64)
            .tcp(sp, dp, seq, 64_000);
        if flags.contains('S') {
            b = b.syn();
        }
        if flags.contains('A') {
            b = b.ack(1);
        }
        if flags.contains('F') {
            b = b.fin();
        }
        let mut frame = Vec::new();
        b.write(&mut frame, payload).unwrap();
        let ts = 1_709_542_800 + secs;
        let n = frame.len() as u32;
        pcap::pcap_record(&mut self.0, ts as u32, 0, n, n, &frame);
    }
}

#[test]
fn an_smb_session_of_three_days_is_one_flow_and_a_long_silence_keeps_its_server() {
    // Handshake, then an SMB echo every 30 minutes for three days, then FIN.
    let mut p = Pcap::new();
    p.tcp(0, true, "S", 1, b"");
    p.tcp(0, false, "SA", 1, b"");
    p.tcp(0, true, "A", 2, b"");
    let mut t = 0;
    for i in 0..(3 * 24 * 2) {
        t = 60 + i * 1800;
        p.tcp(t, true, "A", 2 + i as u32, &[0u8; 100]);
        p.tcp(t, false, "A", 2 + i as u32, &[0u8; 120]);
    }
    p.tcp(t + 1, true, "FA", 9_000, b"");
    p.tcp(t + 1, false, "FA", 9_000, b"");
    let file = temp("smb-days.pcap");
    std::fs::write(&file, &p.0).unwrap();
    let (report, records) = analyze(&file, &[]);
    assert_eq!(records.len(), 1, "{records:#?}");
    let f = &records[0];
    assert_eq!(
        (&f["app_protocol"], &f["server_addr"], &f["server_port"]),
        (&"SMB".into(), &"192.0.2.20".into(), &445.into())
    );
    assert_eq!(f["packets_c2s"], 3 * 24 * 2 + 3);
    let smb = &report["app_protocols"][0];
    assert!(smb["flow_duration_ms"]["max"].as_u64().unwrap() >= 3 * 24 * 3600 * 1000 * 99 / 100);

    // The same session with one silence of 3 hours (past the 2-hour TCP idle timeout): two flows; the
    // second starts mid-stream with the server's packet and still finds the server and service.
    let mut p = Pcap::new();
    p.tcp(0, true, "S", 1, b"");
    p.tcp(0, false, "SA", 1, b"");
    p.tcp(0, true, "A", 2, &[0u8; 100]);
    p.tcp(3 * 3600, false, "A", 3, &[0u8; 120]);
    p.tcp(3 * 3600, true, "A", 3, &[0u8; 100]);
    let file = temp("smb-gap.pcap");
    std::fs::write(&file, &p.0).unwrap();
    let (_, records) = analyze(&file, &[]);
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["end_reason"], "idle");
    for r in &records {
        assert_eq!(
            (&r["server_addr"], &r["server_port"], &r["app_protocol"]),
            (&"192.0.2.20".into(), &445.into(), &"SMB".into())
        );
    }
    assert_eq!(records[1]["server_rule"], "catalog-port");
    // A longer idle timeout keeps it one flow.
    let (_, records) = analyze(&file, &["--tcp-timeout", "4h"]);
    assert_eq!(records.len(), 1);
}
