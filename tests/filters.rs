//! `--filter` on every link type svcscope reads, against tcpdump: a BPF filter is compiled for the
//! link type each capture records (a file's LINKTYPE value mapped to libpcap's DLT value, and
//! compiled as for a savefile, so BSD loopback's `ip6` matches every platform's AF_INET6), and keeps
//! exactly the packets `tcpdump -r FILE FILTER` prints. Before, a raw-IP capture refused every
//! filter ("unknown data link type 101") and `ip6` on BSD loopback kept nothing.
//!
//! Needs tcpdump (`scripts/deps test` installs it); skipped with a message without it.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// One fixture per link type the decoder reads.
const FIXTURES: &[&str] = &[
    "fixtures/domain.pcapng",
    "fixtures/null.pcap",
    "fixtures/rawip.pcap",
    "fixtures/sll.pcap",
    "fixtures/sll2.pcap",
    "fixtures/vlan.pcap",
    "fixtures/ipv6-ext.pcap",
];

const FILTERS: &[&str] = &[
    "ip or ip6",
    "tcp",
    "ip6",
    "udp port 53",
    "vlan and (ip or ip6)",
    "host 192.0.2.10",
];

/// Packets kept, or the input's error (a filter that does not compile for the link type).
fn kept_by_svcscope(file: &str, filter: &str) -> Result<u64, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (code, out, err) = svcscope_testkit::run(
        env!("CARGO_BIN_EXE_svcscope"),
        root,
        &[
            "analyze", "-q", "--format", "json", "--filter", filter, file,
        ],
    );
    let r: Value = serde_json::from_str(&out).unwrap();
    let input = &r["inputs"][0];
    if let Some(e) = input["error"].as_str() {
        assert_eq!(code, 1, "{file} {filter:?}");
        assert!(err.contains(e), "{err}");
        return Err(e.to_string());
    }
    assert_eq!(code, 0, "{file} --filter {filter:?}: {err}");
    Ok(input["packets"].as_u64().unwrap() - input["filtered"].as_u64().unwrap())
}

/// Packets tcpdump prints, or its error; `None` without tcpdump.
fn kept_by_tcpdump(file: &str, filter: &str) -> Option<Result<u64, String>> {
    let out = Command::new("tcpdump")
        .args(["-nn", "-r", file, filter])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    if !out.status.success() {
        return Some(Err(String::from_utf8_lossy(&out.stderr).to_string()));
    }
    Some(Ok(out.stdout.iter().filter(|&&b| b == b'\n').count() as u64))
}

#[test]
fn a_filter_keeps_what_tcpdump_keeps_on_every_link_type() {
    if kept_by_tcpdump("fixtures/null.pcap", "ip").is_none() {
        eprintln!("skipped: tcpdump is not installed");
        return;
    }
    let mut checked = 0;
    for file in FIXTURES {
        for filter in FILTERS {
            match (
                kept_by_tcpdump(file, filter).unwrap(),
                kept_by_svcscope(file, filter),
            ) {
                (Ok(want), Ok(got)) => assert_eq!(got, want, "{file} --filter {filter:?}"),
                // Both refuse it (VLAN on BSD loopback): the same libpcap message.
                (Err(t), Err(s)) => {
                    let reason = s.rsplit(": ").next().unwrap();
                    assert!(
                        t.contains(reason),
                        "{file} {filter:?}: tcpdump {t:?}, svcscope {s:?}"
                    );
                }
                (t, s) => panic!("{file} --filter {filter:?}: tcpdump {t:?}, svcscope {s:?}"),
            }
            checked += 1;
        }
    }
    // The cases this was written for.
    assert_eq!(kept_by_svcscope("fixtures/rawip.pcap", "tcp"), Ok(18));
    assert_eq!(kept_by_svcscope("fixtures/null.pcap", "ip6"), Ok(21));
    eprintln!("{checked} (fixture, filter) pairs agree with tcpdump");
}
