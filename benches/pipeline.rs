//! Throughput of each pipeline stage, per packet: decode, the flow table, classification of new
//! flows, the tracker on decoded batches (flow table, classification, statistics), the tracker
//! decoding frame by frame, and the whole pipeline (capture thread + channel + tracker) on the bundled
//! capture.
//!
//! `cargo bench --bench pipeline`; `scripts/bench` compares whole runs with libpcap, tcpdump and tshark
//! on a large generated capture.

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use etherparse::PacketBuilder;

use svcscope::capture::Batch;
use svcscope::catalog::Catalog;
use svcscope::classify::{Classifier, DEFAULT_EPM_WINDOW};
use svcscope::decode::{decode, LinkType, Outcome};
use svcscope::flow::{update, Class, FlowTable, Placed, ServerRule, Timeouts};
use svcscope::inspect::Provenance;
use svcscope::pipeline::{analyze_files, AnalyzeOptions};
use svcscope::tracker::{Tracker, TrackerConfig};

/// A deterministic mix of frames: TCP to catalog and unknown ports, UDP, VLAN-tagged, IPv6. Frame
/// `i` belongs to flow `i % flows`.
fn frames(n: usize, flows: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(n);
    let ports = [88u16, 135, 389, 445, 3268, 3389, 1433, 80, 443, 8443];
    for j in 0..n {
        let i = j % flows;
        let client = [192, 0, 2, 100 + (i % 50) as u8];
        let server = [192, 0, 2, 10 + (i % 5) as u8];
        let sport = 49152 + (i % 4000) as u16;
        let dport = ports[i % ports.len()];
        let payload = vec![0u8; (j * 37) % 1200];
        let mut buf = Vec::new();
        let eth = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
        match i % 20 {
            0 => eth
                .ipv6(
                    [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                    [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
                    64,
                )
                .tcp(sport, dport, i as u32, 64240)
                .ack(1)
                .write(&mut buf, &payload),
            1 => eth
                .single_vlan(10.try_into().unwrap())
                .ipv4(client, server, 64)
                .udp(sport, 53)
                .write(&mut buf, &payload[..payload.len().min(400)]),
            2 => eth
                .ipv4(client, server, 64)
                .udp(sport, 88)
                .write(&mut buf, &payload[..payload.len().min(400)]),
            _ => eth
                .ipv4(client, server, 64)
                .tcp(sport, dport, i as u32, 64240)
                .ack(1)
                .write(&mut buf, &payload),
        }
        .expect("building a packet");
        out.push(buf);
    }
    out
}

/// `flows` TCP flows to 192.0.2.10:445 from 10.0.0.0/8, `per_flow` packets each, round robin: every
/// packet's flow was last touched `flows` packets ago, so with tens of thousands of flows each
/// lookup misses the caches, as on a busy link (the look-ahead's prefetching is what this measures).
fn round_robin(flows: usize, per_flow: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(flows * per_flow);
    for k in 0..per_flow {
        for i in 0..flows {
            let client = [10, (i >> 16) as u8, (i >> 8) as u8, i as u8];
            let mut buf = Vec::new();
            PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
                .ipv4(client, [192, 0, 2, 10], 64)
                .tcp(50_000, 445, k as u32, 64240)
                .ack(1)
                .write(&mut buf, &[])
                .expect("building a packet");
            out.push(buf);
        }
    }
    out
}

/// The decoded batches of `frames`, as the capture thread hands them over.
fn batches(frames: &[Vec<u8>]) -> Vec<Batch> {
    frames
        .chunks(1024)
        .enumerate()
        .map(|(k, chunk)| {
            let mut b = Batch {
                link: Some(LinkType::Ethernet),
                ..Batch::default()
            };
            for (i, f) in chunk.iter().enumerate() {
                b.push(((k * 1024 + i) as i64) * 1000, f.len() as u32, f);
            }
            b
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    // Nearly every frame a new flow (the worst case), and 20,000 frames in 2,000 flows of 10.
    let frames_new = frames(20_000, 20_000);
    let frames = frames(20_000, 2_000);
    // Flows far past the caches, each packet's flow cold.
    let cold = batches(&round_robin(65_536, 4));
    let catalog = Arc::new(Catalog::builtin());

    let mut g = c.benchmark_group("stages");
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function("decode", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for f in &frames {
                if let Outcome::Ip(d) = decode(LinkType::Ethernet, f) {
                    n += usize::from(d.protocol);
                }
            }
            black_box(n)
        })
    });
    let decoded: Vec<_> = frames
        .iter()
        .filter_map(|f| match decode(LinkType::Ethernet, f) {
            Outcome::Ip(d) => Some(d),
            _ => None,
        })
        .collect();
    g.throughput(Throughput::Elements(decoded.len() as u64));
    g.bench_function("flow table (2,000 flows of 10 packets)", |b| {
        let class = Class {
            client_is_lo: true,
            server_rule: ServerRule::FirstPacket,
            label: None,
            provenance: Provenance::Unknown,
            inspector: None,
        };
        b.iter(|| {
            let mut t = FlowTable::new(Timeouts::default(), 1 << 20);
            let mut ended = Vec::new();
            for (i, d) in decoded.iter().enumerate() {
                let ts = i as i64 * 1000;
                t.advance(ts, &mut ended);
                let flow = match t.place(d, None, &mut ended) {
                    Placed::Existing { flow, .. } => flow,
                    Placed::New { key, .. } => t.insert(key, class, ts, &mut ended),
                    Placed::Unmatched => continue,
                };
                update(flow, true, ts, 100, Some(d.tcp_flags));
            }
            black_box(t.len())
        })
    });
    g.throughput(Throughput::Elements(2_000));
    g.bench_function("classify (the first packet of 2,000 flows)", |b| {
        let firsts: Vec<_> = decoded[..2_000].to_vec();
        b.iter(|| {
            let mut c = Classifier::new(catalog.clone(), DEFAULT_EPM_WINDOW);
            let mut n = 0usize;
            for (i, d) in firsts.iter().enumerate() {
                let (_, src_is_lo) =
                    svcscope::decode::FlowKey::of(d.protocol, d.src, d.dst, d.ports);
                n += usize::from(c.classify(d, src_is_lo, i as i64).0.label.is_some());
            }
            black_box(n)
        })
    });
    let batches = batches(&frames);
    // One tracker through every batch, as a classifier worker takes them, then its statistics.
    let track = |batches: &[Batch]| {
        let mut t = Tracker::new(catalog.clone(), &TrackerConfig::default(), None);
        for b in batches {
            t.batch(b);
        }
        t.finish()
    };
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function(
        "tracker on decoded batches (2,000 flows of 10 packets)",
        |b| b.iter(|| black_box(track(&batches))),
    );
    g.throughput(Throughput::Elements(65_536 * 4));
    g.bench_function(
        "tracker on decoded batches (65,536 flows of 4 packets, round robin)",
        |b| b.iter(|| black_box(track(&cold))),
    );
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function(
        "tracker decoding each frame (20,000 flows of 1 packet)",
        |b| {
            b.iter(|| {
                let mut t = Tracker::new(catalog.clone(), &TrackerConfig::default(), None);
                for (i, f) in frames_new.iter().enumerate() {
                    t.packet(LinkType::Ethernet, i as i64 * 1000, f.len() as u32, f);
                }
                black_box(t.finish())
            })
        },
    );
    g.finish();

    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/domain.pcapng");
    if fixture.exists() {
        let packets = analyze_files(
            catalog.clone(),
            std::slice::from_ref(&fixture),
            AnalyzeOptions {
                workers: 1,
                tracker: TrackerConfig::default(),
                filter: None,
                flows: None,
                progress: false,
            },
        )
        .aggregate
        .decode
        .packets;
        let mut g = c.benchmark_group("pipeline");
        g.throughput(Throughput::Elements(packets));
        g.bench_function("analyze fixtures/domain.pcapng", |b| {
            b.iter(|| {
                let opts = AnalyzeOptions {
                    workers: 1,
                    tracker: TrackerConfig::default(),
                    filter: None,
                    flows: None,
                    progress: false,
                };
                black_box(
                    analyze_files(catalog.clone(), std::slice::from_ref(&fixture), opts)
                        .aggregate
                        .decode
                        .packets,
                )
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
