//! Throughput of each pipeline stage, per packet: decode, flow table + classification, the whole
//! tracker, and the whole pipeline (capture thread + channel + tracker) on the bundled capture.
//!
//! `cargo bench --bench pipeline`; `scripts/bench` compares whole runs with libpcap, tcpdump and tshark
//! on a large generated capture.

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use etherparse::PacketBuilder;

use svcscope::catalog::Catalog;
use svcscope::decode::{decode, LinkType, Outcome};
use svcscope::pipeline::{analyze_files, AnalyzeOptions};
use svcscope::tracker::{Tracker, TrackerConfig};

/// A deterministic mix of frames: TCP to catalog and unknown ports, UDP, VLAN-tagged, IPv6.
fn frames(n: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(n);
    let ports = [88u16, 135, 389, 445, 3268, 3389, 1433, 80, 443, 8443];
    for i in 0..n {
        let client = [192, 0, 2, 100 + (i % 50) as u8];
        let server = [192, 0, 2, 10 + (i % 5) as u8];
        let sport = 49152 + (i % 4000) as u16;
        let dport = ports[i % ports.len()];
        let payload = vec![0u8; (i * 37) % 1200];
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

fn bench(c: &mut Criterion) {
    let frames = frames(20_000);
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
    g.bench_function(
        "tracker (decode + flow table + classify + aggregate)",
        |b| {
            b.iter(|| {
                let mut t = Tracker::new(catalog.clone(), &TrackerConfig::default(), None);
                for (i, f) in frames.iter().enumerate() {
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
