//! Property tests: untrusted bytes never panic decode, the capture file reader or the tracker; decode
//! gives back what etherparse built; a user catalog row is found by its port.
//!
//! Case counts are modest so that the whole file runs in a few seconds in a debug build.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use etherparse::PacketBuilder;
use proptest::prelude::*;
use svcscope::capture::{Batch, FileSource, PacketSource};
use svcscope::catalog::{Catalog, Transport, DEFAULT_CATALOG, DEFAULT_CATALOG_NAME};
use svcscope::decode::{decode, proto, tcp_flags, Addr, LinkType, Outcome};
use svcscope::tracker::{shard_batch, Tracker, TrackerConfig};

/// The same reproducible-by-default settings as the unit tests' properties.
#[path = "../src/testing.rs"]
mod testing;

const LINKS: [LinkType; 9] = [
    LinkType::Ethernet,
    LinkType::Null,
    LinkType::Loop,
    LinkType::Raw,
    LinkType::Ipv4,
    LinkType::Ipv6,
    LinkType::LinuxSll,
    LinkType::LinuxSll2,
    LinkType::Unsupported(147),
];

fn link() -> impl Strategy<Value = LinkType> {
    (0..LINKS.len()).prop_map(|i| LINKS[i])
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

fn builtin() -> Arc<Catalog> {
    static CATALOG: OnceLock<Arc<Catalog>> = OnceLock::new();
    CATALOG.get_or_init(|| Arc::new(Catalog::builtin())).clone()
}

/// A valid TCP frame with a few bytes overwritten: gets past the first layers more often than
/// random bytes do.
fn corrupted_frame() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<bool>(),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        0usize..80,
    )
        .prop_map(|(v6, edits, cut)| {
            let mut out = Vec::new();
            let b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
            let b = if v6 {
                b.ipv6(
                    [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                    [0x20; 16],
                    64,
                )
            } else {
                b.ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
            };
            b.tcp(49152, 445, 1, 1000)
                .syn()
                .write(&mut out, &[7; 40])
                .unwrap();
            for (at, byte) in edits {
                let i = at.index(out.len());
                out[i] = byte;
            }
            out.truncate(out.len().saturating_sub(cut));
            out
        })
}

fn check_decode(link: LinkType, frame: &[u8]) {
    if let Outcome::Ip(d) = decode(link, frame) {
        assert!(d.ip_version == 4 || d.ip_version == 6);
        let _ = (
            d.src.to_string(),
            d.dst.to_string(),
            tcp_flags::to_text(d.tcp_flags),
        );
        let (start, end) = (
            frame.as_ptr() as usize,
            frame.as_ptr() as usize + frame.len(),
        );
        let p = d.payload.as_ptr() as usize;
        assert!(
            d.payload.is_empty() || (p >= start && p + d.payload.len() <= end),
            "the payload borrows the frame"
        );
    }
}

static FILES: AtomicU64 = AtomicU64::new(0);

fn temp_file(bytes: &[u8]) -> PathBuf {
    let n = FILES.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("svcscope-prop-{}-{n}.cap", std::process::id()));
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(bytes))
        .unwrap();
    path
}

/// Reads a capture file to its end or first error; checks what every batch holds.
fn read_capture(bytes: &[u8]) {
    let path = temp_file(bytes);
    if let Ok(mut source) = FileSource::open(&path, None) {
        let mut batch = Batch::default();
        loop {
            batch.clear();
            batch.link = None;
            let r = source.fill(&mut batch);
            assert!(batch.data.len() <= bytes.len());
            for (p, frame) in batch.frames() {
                assert_eq!(frame.len(), p.caplen as usize);
                assert!(p.wire_len >= p.caplen);
            }
            match r {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    assert!(!e.message.contains('\n'));
                    break;
                }
            }
        }
        assert!(source.counters().file_bytes <= bytes.len() as u64);
    }
    std::fs::remove_file(&path).unwrap();
}

/// The start of a capture file, so that random record bytes get past the file header.
fn capture_prefix() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(Vec::new()),
        // pcap, little-endian, microseconds, any snaplen; mostly Ethernet, sometimes another link.
        (any::<u32>(), 0u32..300).prop_map(|(snap, dlt)| {
            svcscope_testkit::pcap::pcap_header(snap, if dlt < 150 { dlt } else { 1 })
        }),
        // pcap, big-endian, nanoseconds, raw IP.
        Just(vec![
            0xa1, 0xb2, 0x3c, 0x4d, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0,
            101
        ]),
        // pcapng section header and an Ethernet interface.
        Just(vec![
            0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff,
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 28, 0, 0, 0, 1, 0, 0, 0, 20, 0, 0, 0, 1, 0, 0, 0,
            0, 0, 0, 0, 20, 0, 0, 0
        ]),
    ]
}

/// A pcap record header and frame with lengths that may lie.
fn record() -> impl Strategy<Value = Vec<u8>> {
    (any::<u64>(), bytes(120), any::<bool>(), any::<u32>()).prop_map(|(ts, frame, lie, claim)| {
        // The timestamp's 8 bytes are random: seconds and microseconds of any value.
        let mut r = Vec::new();
        let caplen = if lie { claim } else { frame.len() as u32 };
        let (secs, usecs) = (ts as u32, (ts >> 32) as u32);
        svcscope_testkit::pcap::pcap_record(
            &mut r,
            secs,
            usecs,
            caplen,
            frame.len() as u32,
            &frame,
        );
        r
    })
}

proptest! {
    #![proptest_config(testing::proptest_config(256))]

    #[test]
    fn random_bytes_never_panic_decode(link in link(), frame in bytes(200)) {
        check_decode(link, &frame);
    }

    #[test]
    fn corrupted_packets_never_panic_decode(link in link(), frame in corrupted_frame()) {
        check_decode(link, &frame);
        // The same bytes without the Ethernet header, for the link types that start at IP.
        if frame.len() > 14 {
            check_decode(link, &frame[14..]);
        }
    }

    #[test]
    fn random_bytes_never_panic_the_file_reader(
        prefix in capture_prefix(),
        records in prop::collection::vec(record(), 0..4),
        tail in bytes(64),
    ) {
        let mut file = prefix;
        for r in records {
            file.extend_from_slice(&r);
        }
        file.extend_from_slice(&tail);
        read_capture(&file);
    }

    #[test]
    fn random_frame_sequences_never_panic_the_tracker(
        start in any::<i64>(),
        frames in prop::collection::vec(
            (link(), any::<u32>(), any::<bool>(), prop_oneof![bytes(120), corrupted_frame()]),
            0..24,
        ),
    ) {
        let config = TrackerConfig { max_flows: 16, ..TrackerConfig::default() };
        let mut tracker = Tracker::new(builtin(), &config, None);
        let mut ts = start;
        let n = frames.len() as u64;
        for (link, delta, more_on_wire, frame) in frames {
            ts = ts.saturating_add(i64::from(delta) * 1000);
            let wire = frame.len() as u32 + if more_on_wire { 100 } else { 0 };
            tracker.packet(link, ts, wire, &frame);
        }
        let _ = tracker.snapshot();
        let (agg, err) = tracker.finish();
        prop_assert!(err.is_none());
        prop_assert_eq!(agg.decode.packets, n);
    }
}

/// What a round-trip packet is built from.
#[derive(Debug, Clone)]
struct Spec {
    v6: bool,
    src: [u8; 16],
    dst: [u8; 16],
    tcp: bool,
    sport: u16,
    dport: u16,
    flags: u8,
    vlan: u8,
    link: usize,
    payload: Vec<u8>,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        any::<bool>(),
        any::<[u8; 16]>(),
        any::<[u8; 16]>(),
        any::<bool>(),
        any::<u16>(),
        any::<u16>(),
        any::<u8>(),
        0u8..3,
        0usize..5,
        bytes(300),
    )
        .prop_map(
            |(v6, src, dst, tcp, sport, dport, flags, vlan, link, payload)| Spec {
                v6,
                src,
                dst,
                tcp,
                sport,
                dport,
                flags,
                vlan,
                link,
                payload,
            },
        )
}

/// Builds the IP packet (and for Ethernet the whole frame) of a spec; returns the link type and frame.
fn build(s: &Spec) -> (LinkType, Vec<u8>) {
    let v4 = |a: &[u8; 16]| [a[0], a[1], a[2], a[3]];
    let mut out = Vec::new();
    macro_rules! finish {
        ($ip:expr) => {{
            if s.tcp {
                let mut b = $ip.tcp(s.sport, s.dport, 0x0102_0304, 8192);
                let f = s.flags;
                if f & tcp_flags::SYN != 0 {
                    b = b.syn();
                }
                if f & tcp_flags::ACK != 0 {
                    b = b.ack(77);
                }
                if f & tcp_flags::FIN != 0 {
                    b = b.fin();
                }
                if f & tcp_flags::RST != 0 {
                    b = b.rst();
                }
                if f & tcp_flags::PSH != 0 {
                    b = b.psh();
                }
                if f & tcp_flags::URG != 0 {
                    b = b.urg(1);
                }
                if f & tcp_flags::ECE != 0 {
                    b = b.ece();
                }
                if f & tcp_flags::CWR != 0 {
                    b = b.cwr();
                }
                b.write(&mut out, &s.payload).unwrap();
            } else {
                $ip.udp(s.sport, s.dport)
                    .write(&mut out, &s.payload)
                    .unwrap();
            }
        }};
    }
    macro_rules! ip {
        ($b:expr) => {{
            if s.v6 {
                finish!($b.ipv6(s.src, s.dst, 64))
            } else {
                finish!($b.ipv4(v4(&s.src), v4(&s.dst), 64))
            }
        }};
    }
    if s.link == 0 {
        let eth = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
        match s.vlan {
            0 => ip!(eth),
            1 => ip!(eth.single_vlan(100.try_into().unwrap())),
            _ => ip!(eth.double_vlan(100.try_into().unwrap(), 20.try_into().unwrap())),
        }
        return (LinkType::Ethernet, out);
    }
    if s.v6 {
        finish!(PacketBuilder::ipv6(s.src, s.dst, 64))
    } else {
        finish!(PacketBuilder::ipv4(v4(&s.src), v4(&s.dst), 64))
    }
    let ether_type: [u8; 2] = if s.v6 { [0x86, 0xdd] } else { [0x08, 0x00] };
    let (link, header) = match s.link {
        1 => (LinkType::Raw, Vec::new()),
        2 => (
            LinkType::Null,
            if s.v6 {
                vec![30, 0, 0, 0]
            } else {
                vec![2, 0, 0, 0]
            },
        ),
        3 => {
            let mut h = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0];
            h.extend_from_slice(&ether_type);
            (LinkType::LinuxSll, h)
        }
        _ => {
            let mut h = ether_type.to_vec();
            h.extend_from_slice(&[0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0]);
            (LinkType::LinuxSll2, h)
        }
    };
    let mut frame = header;
    frame.extend_from_slice(&out);
    (link, frame)
}

proptest! {
    #![proptest_config(testing::proptest_config(256))]

    #[test]
    fn decode_returns_what_was_built(s in spec()) {
        let (link, frame) = build(&s);
        let d = match decode(link, &frame) {
            Outcome::Ip(d) => d,
            other => return Err(TestCaseError::fail(format!("{s:?} on {link:?} decoded as {other:?}"))),
        };
        let (src, dst) = if s.v6 {
            (Addr::from_v6(s.src), Addr::from_v6(s.dst))
        } else {
            let v4 = |a: &[u8; 16]| Addr::from_v4([a[0], a[1], a[2], a[3]]);
            (v4(&s.src), v4(&s.dst))
        };
        prop_assert_eq!(d.ip_version, if s.v6 { 6 } else { 4 });
        prop_assert_eq!(d.src, src);
        prop_assert_eq!(d.dst, dst);
        prop_assert_eq!(d.protocol, if s.tcp { proto::TCP } else { proto::UDP });
        prop_assert_eq!(d.ports, Some((s.sport, s.dport)));
        prop_assert_eq!(d.tcp_flags, if s.tcp { s.flags } else { 0 });
        prop_assert_eq!(d.payload, &s.payload[..]);
    }
}

/// A catalog application-protocol name: printable, not blank, no TOML escapes needed.
fn app_name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9 ()./_+-]{0,30}".prop_map(|s| s.trim_end().to_string())
}

proptest! {
    // Each case parses the whole built-in catalog again (about 12 ms in a debug build).
    #![proptest_config(testing::proptest_config(128))]

    #[test]
    fn a_user_catalog_row_is_found_by_its_port(app in app_name(), tcp in any::<bool>(), port in 1u16..=65535) {
        let (transport, key) = if tcp { (Transport::Tcp, "tcp") } else { (Transport::Udp, "udp") };
        let text = format!(
            "[[service]]\nname = \"Proptest Service\"\nports = [ {{ app = \"{app}\", {key} = {port} }} ]\n"
        );
        let catalog = Catalog::from_sources(&[
            (DEFAULT_CATALOG_NAME.to_string(), DEFAULT_CATALOG.to_string()),
            ("user.toml".to_string(), text),
        ])
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let id = catalog.lookup_port(transport, port);
        prop_assert!(id.is_some(), "{} {} not found", key, port);
        let label = catalog.label(id.unwrap());
        let group = label.groups.iter().find(|g| g.app == app);
        prop_assert!(group.is_some(), "{:?} has no group {:?}", label.name, app);
        let services: Vec<&str> = group
            .unwrap()
            .services
            .iter()
            .map(|&s| catalog.service(s).name.as_str())
            .collect();
        prop_assert!(services.contains(&"Proptest Service"), "{:?}", services);
    }
}

/// A conversation among a few hosts and ports, so that flows repeat, open and close.
fn conversation() -> impl Strategy<Value = Vec<(Spec, u32)>> {
    const ADDRS: [[u8; 16]; 3] = [
        [192, 0, 2, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        [192, 0, 2, 101, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7],
    ];
    const PORTS: [u16; 5] = [53, 135, 445, 49700, 50000];
    let packet = (
        (0usize..3, 0usize..3, 0usize..5, 0usize..5),
        any::<bool>(),
        any::<bool>(),
        prop_oneof![
            Just(tcp_flags::SYN),
            Just(tcp_flags::SYN | tcp_flags::ACK),
            Just(tcp_flags::ACK),
            Just(tcp_flags::FIN | tcp_flags::ACK),
            Just(tcp_flags::RST),
            any::<u8>()
        ],
        0usize..5,
        bytes(40),
        // Time steps from a microsecond to minutes: closes linger out, idle flows time out.
        prop_oneof![0u32..1_000, 0u32..20_000_000, Just(130_000_000)],
    )
        .prop_map(|((s, d, sp, dp), v6, tcp, flags, link, payload, step_us)| {
            let v6 = v6 && s == 2 && d == 2;
            let spec = Spec {
                v6,
                src: ADDRS[s],
                dst: ADDRS[d],
                tcp,
                sport: PORTS[sp],
                dport: PORTS[dp],
                flags,
                vlan: 0,
                link,
                payload,
            };
            (spec, step_us)
        });
    prop::collection::vec(packet, 0..200)
}

/// What must not depend on how frames reach the tracker.
fn summary(agg: &svcscope::aggregate::Aggregate) -> String {
    let labels: Vec<_> = agg
        .by_label
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            s.as_ref()
                .map(|s| (i, s.flows, s.packets, s.bytes, s.packet_size.len()))
        })
        .collect();
    let u = &agg.unclassified;
    format!(
        "{:?}\n{:?}\n{:?}\nlabels {labels:?}\nunclassified {} {:?} {:?}\nunanswered {} {:?}",
        agg.decode,
        agg.flow_counters,
        agg.inspect,
        u.flows,
        u.packets,
        u.bytes,
        agg.unanswered.flows,
        agg.unanswered.packets
    )
}

proptest! {
    #![proptest_config(testing::proptest_config(128))]

    /// The capture thread decodes batches and the tracker looks flows up in groups ahead of
    /// processing them: the same frames one at a time must give the same statistics.
    #[test]
    fn batches_and_single_frames_give_the_same_statistics(packets in conversation()) {
        let config = TrackerConfig::default();
        let mut one = Tracker::new(builtin(), &config, None);
        let mut batched = Tracker::new(builtin(), &config, None);
        let mut batch = Batch::default();
        let flush = |batch: &mut Batch, t: &mut Tracker| {
            batch.decode();
            t.batch(batch);
            batch.clear();
            batch.link = None;
        };
        let mut ts = 1_700_000_000_000_000_000i64;
        for (spec, step_us) in &packets {
            ts += i64::from(*step_us) * 1000;
            let (link, frame) = build(spec);
            one.packet(link, ts, frame.len() as u32, &frame);
            if batch.link.is_some_and(|l| l != link) || batch.packets.len() == 37 {
                flush(&mut batch, &mut batched);
            }
            batch.link = Some(link);
            batch.push(ts, frame.len() as u32, &frame);
        }
        flush(&mut batch, &mut batched);
        let (a, _) = one.finish();
        let (b, _) = batched.finish();
        prop_assert_eq!(summary(&a), summary(&b));
    }
}

/// What the number of workers must not change, whatever cross-flow learning across address pairs
/// they lose (it can relabel a flow, never make or split one): decoding, the flow table's counters
/// but its peak (with several workers the sum of theirs), and the flows, packets and bytes in all.
fn flows_summary(agg: &svcscope::aggregate::Aggregate) -> String {
    let mut counters = agg.flow_counters;
    counters.peak_flows = 0;
    let all = agg
        .by_label
        .iter()
        .flatten()
        .map(|s| &**s)
        .chain([&agg.unclassified, &agg.unanswered]);
    let (mut flows, mut packets, mut bytes) = (0, 0, 0);
    for s in all {
        flows += s.flows;
        packets += s.packets[0] + s.packets[1];
        bytes += s.bytes[0] + s.bytes[1];
    }
    format!(
        "{:?}\n{counters:?}\nflows {flows} packets {packets} bytes {bytes}",
        agg.decode
    )
}

proptest! {
    #![proptest_config(testing::proptest_config(128))]

    /// Three workers on the shards of the same batches, each one's flow-table clock following the
    /// others' frames, end and split flows exactly as one tracker does, also when time goes
    /// backwards now and then.
    #[test]
    fn sharded_workers_make_the_flows_of_one_tracker(
        packets in conversation(),
        backwards in prop::collection::vec(prop::bool::weighted(0.1), 200),
    ) {
        let config = TrackerConfig::default();
        let mut one = Tracker::new(builtin(), &config, None);
        let mut workers: Vec<Tracker> =
            (0..3).map(|_| Tracker::with_share(builtin(), &config, None, 3)).collect();
        let mut batch = Batch::default();
        let flush = |batch: &mut Batch, workers: &mut [Tracker]| {
            shard_batch(batch, workers.len());
            for (me, w) in workers.iter_mut().enumerate() {
                w.batch_shard(batch, me);
            }
            batch.clear();
            batch.link = None;
        };
        let mut ts = 1_700_000_000_000_000_000i64;
        for ((spec, step_us), back) in packets.iter().zip(&backwards) {
            let step = i64::from(*step_us) * 1000;
            ts += if *back { -step } else { step };
            let (link, frame) = build(spec);
            one.packet(link, ts, frame.len() as u32, &frame);
            if batch.link.is_some_and(|l| l != link) || batch.packets.len() == 37 {
                flush(&mut batch, &mut workers);
            }
            batch.link = Some(link);
            batch.push(ts, frame.len() as u32, &frame);
        }
        flush(&mut batch, &mut workers);
        let (a, _) = one.finish();
        let mut merged = svcscope::aggregate::Aggregate::default();
        for w in workers {
            merged.merge(&w.finish().0);
        }
        prop_assert_eq!(flows_summary(&a), flows_summary(&merged));
    }
}
