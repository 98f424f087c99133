//! `tracker`: a sequence of frames through the classifier worker (decode, flow table, classify,
//! aggregate), then `finish()`. No input may panic.
//!
//! Differential: the same frames go (a) one by one through `Tracker::packet`, (b) in batches decoded
//! by `Batch::decode()` through `Tracker::batch` (flows looked up ahead in groups, `FlowTable::warm`
//! and `place`), and (c) in the same batches undecoded through `Tracker::batch` (decoded one by one
//! in the tracker). A batch holds consecutive frames of one link type, at most 37 (so that groups of
//! 16 straddle batches). The three trackers must end with the same statistics; (b) and (c) must also
//! agree at every batch boundary (snapshot), and all three on the interval counters.
//!
//! Input layout: 8 bytes of start timestamp (i64 LE), 1 config byte (bit 0: a 16-flow table and short
//! timeouts; bit 7 alone: flows never time out; bit 1: interval counters), then records of
//! `[flags][delta u16 LE][len u16 LE][frame: len bytes]` (the last frame takes what is left). Flags:
//! bits 0-2 the link type, bit 3 "wire length above capture length", bits 4-7 the timestamp delta's
//! scale (delta × 16^scale ns), so timestamps never go down.
#![no_main]

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use svcscope::aggregate::{AddrSet, Aggregate, IntervalCounters, Stats};
use svcscope::capture::Batch;
use svcscope::catalog::Catalog;
use svcscope::decode::LinkType;
use svcscope::flow::Timeouts;
use svcscope::tracker::{Tracker, TrackerConfig};

const LINKS: [LinkType; 8] = [
    LinkType::Ethernet,
    LinkType::Null,
    LinkType::Loop,
    LinkType::Raw,
    LinkType::LinuxSll,
    LinkType::LinuxSll2,
    LinkType::Ipv4,
    LinkType::Unsupported(147),
];

/// Frames per batch at most.
const BATCH_FRAMES: usize = 37;

fn catalog() -> Arc<Catalog> {
    static CATALOG: OnceLock<Arc<Catalog>> = OnceLock::new();
    CATALOG.get_or_init(|| Arc::new(Catalog::builtin())).clone()
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

fn addrs(s: &AddrSet) -> String {
    format!(
        "{:?} capped={}",
        sorted(s.iter().copied().collect()),
        s.capped
    )
}

/// A histogram's recorded (value, count) pairs (a macro: the fuzz crate does not name hdrhistogram).
macro_rules! histogram {
    ($h:expr) => {{
        let d = &$h;
        let h = &d.hist;
        let v: Vec<(u64, u64)> = h
            .iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
            .collect();
        format!("n={} {:?} min={} max={}", h.len(), v, d.min, d.max)
    }};
}

fn stats(s: &Stats) -> String {
    format!(
        "flows={} packets={:?} bytes={:?} clients=[{}] servers=[{}] ts={}..{} size=[{}] duration=[{}] flow_bytes=[{}]",
        s.flows,
        s.packets,
        s.bytes,
        addrs(&s.clients),
        addrs(&s.servers),
        s.first_ts,
        s.last_ts,
        histogram!(s.packet_size),
        histogram!(s.flow_duration_us),
        histogram!(s.flow_bytes),
    )
}

/// Everything in an aggregate, in an order independent of hash tables and of the order flows ended.
fn summary(a: &Aggregate) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "decode: {:?}", a.decode);
    let _ = writeln!(o, "flow_counters: {:?}", a.flow_counters);
    let _ = writeln!(o, "inspect: {:?}", a.inspect);
    for (l, s) in a.labels() {
        let _ = writeln!(o, "label {l}: {}", stats(s));
    }
    let _ = writeln!(o, "unclassified: {}", stats(&a.unclassified));
    let _ = writeln!(o, "unanswered: {}", stats(&a.unanswered));
    let ports: Vec<_> = a
        .unclassified_ports
        .iter()
        .map(|(k, v)| (*k, v.flows, v.packets, v.bytes))
        .collect();
    let _ = writeln!(o, "unclassified_ports: {:?}", sorted(ports));
    let ub: Vec<_> = a
        .unanswered_by_label
        .iter()
        .map(|(k, v)| (*k, *v))
        .collect();
    let _ = writeln!(o, "unanswered_by_label: {:?}", sorted(ub));
    let rpc: Vec<_> = a
        .rpc_interfaces
        .iter()
        .map(|(k, v)| (k.0, v.flows, v.packets, v.bytes))
        .collect();
    let _ = writeln!(o, "rpc_interfaces: {:?}", sorted(rpc));
    let mut served: Vec<_> = a.hosts.served.iter().collect();
    served.sort_by(|x, y| x.0.cmp(y.0));
    for ((addr, offer), s) in served {
        let _ = writeln!(
            o,
            "served {addr:?} {offer:?}: flows={} packets={:?} bytes={:?} clients=[{}] ts={}..{} ports={:?}",
            s.flows,
            s.packets,
            s.bytes,
            addrs(&s.clients),
            s.first_ts,
            s.last_ts,
            sorted(s.ports.clone())
        );
    }
    let mut used: Vec<_> = a.hosts.used.iter().collect();
    used.sort_by(|x, y| x.0.cmp(y.0));
    for (k, u) in used {
        let _ = writeln!(o, "used {k:?}: {u:?}");
    }
    let _ = writeln!(o, "hosts overflow: {}", a.hosts.overflow);
    o
}

fn interval(i: &IntervalCounters) -> String {
    let labels: Vec<_> = i.by_label.iter().map(|(k, v)| (*k, *v)).collect();
    let hosts: Vec<_> = i.by_host.iter().map(|(k, v)| (*k, *v)).collect();
    format!(
        "packets={} bytes={} by_label={:?} by_host={:?}",
        i.packets,
        i.bytes,
        sorted(labels),
        sorted(hosts)
    )
}

/// Diff of two summaries: the first lines that differ.
fn diff(what: &str, a: &str, b: &str) -> String {
    let mut o = format!("{what}\n");
    let (la, lb): (Vec<_>, Vec<_>) = (a.lines().collect(), b.lines().collect());
    for i in 0..la.len().max(lb.len()) {
        let (x, y) = (la.get(i).copied(), lb.get(i).copied());
        if x != y {
            let _ = writeln!(
                o,
                "  - {}\n  + {}",
                x.unwrap_or("<none>"),
                y.unwrap_or("<none>")
            );
        }
    }
    o
}

struct Trackers {
    /// One frame at a time.
    single: Tracker,
    /// Batches decoded by `Batch::decode()`.
    decoded: Tracker,
    /// The same batches, not decoded.
    plain: Tracker,
    batch: Batch,
    intervals: bool,
    batches: u32,
}

impl Trackers {
    fn flush(&mut self) {
        if self.batch.packets.is_empty() {
            return;
        }
        // The undecoded path: the same frames with `parsed` empty (`Batch::push` may decode).
        let plain = Batch {
            input: self.batch.input,
            link: self.batch.link,
            data: self.batch.data.clone(),
            packets: self.batch.packets.clone(),
            parsed: Vec::new(),
            ..Batch::default()
        };
        self.plain.batch(&plain);
        self.batch.decode();
        assert_eq!(self.batch.parsed.len(), self.batch.packets.len());
        self.decoded.batch(&self.batch);
        self.batch.clear();
        self.batches += 1;

        assert_eq!(self.decoded.active_flows(), self.single.active_flows());
        assert_eq!(self.decoded.active_flows(), self.plain.active_flows());
        let (d, p) = (
            summary(&self.decoded.snapshot()),
            summary(&self.plain.snapshot()),
        );
        if d != p {
            panic!(
                "{}",
                diff(
                    &format!(
                        "snapshot after batch {}: plain (-) vs decoded (+)",
                        self.batches
                    ),
                    &p,
                    &d
                )
            );
        }
        let _ = self.single.snapshot();
        if self.intervals {
            let s = interval(&self.single.take_interval());
            let d = interval(&self.decoded.take_interval());
            let p = interval(&self.plain.take_interval());
            assert_eq!(p, d, "interval {}: plain vs decoded", self.batches);
            assert_eq!(s, d, "interval {}: single vs decoded", self.batches);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 9 {
        return;
    }
    let mut ts = i64::from_le_bytes(data[..8].try_into().unwrap());
    let cfg = data[8];
    let config = if cfg & 0x81 == 0x80 {
        // Flows that never idle out (a user's --tcp-timeout 300y): one flow may span any time.
        let forever = Duration::from_secs(300 * 365 * 86_400);
        TrackerConfig {
            timeouts: Timeouts {
                tcp: forever,
                tcp_closed: forever,
                udp: forever,
                other: forever,
            },
            ..TrackerConfig::default()
        }
    } else if cfg & 1 == 0 {
        TrackerConfig::default()
    } else {
        // Small table and short timeouts: eviction, sweeps and EPM expiry on short inputs.
        TrackerConfig {
            timeouts: Timeouts {
                tcp: Duration::from_millis(u64::from(cfg >> 1) * 10),
                tcp_closed: Duration::from_millis(u64::from(cfg >> 4)),
                udp: Duration::from_millis(u64::from(cfg >> 2)),
                other: Duration::from_nanos(u64::from(cfg)),
            },
            max_flows: 16,
            epm_window: Duration::from_millis(u64::from(cfg) * 100),
            active_timeout: None,
            selection: None,
        }
    };
    let mut t = Trackers {
        single: Tracker::new(catalog(), &config, None),
        decoded: Tracker::new(catalog(), &config, None),
        plain: Tracker::new(catalog(), &config, None),
        batch: Batch::default(),
        intervals: cfg & 2 != 0,
        batches: 0,
    };
    if t.intervals {
        t.single.count_intervals();
        t.decoded.count_intervals();
        t.plain.count_intervals();
    }
    let mut rest = &data[9..];
    let mut n = 0u32;
    while rest.len() >= 5 {
        let flags = rest[0];
        let delta = u64::from(u16::from_le_bytes([rest[1], rest[2]]));
        let len = usize::from(u16::from_le_bytes([rest[3], rest[4]]));
        rest = &rest[5..];
        let len = len.min(rest.len());
        let (frame, tail) = rest.split_at(len);
        rest = tail;
        let link = LINKS[usize::from(flags & 7)];
        let scale = u32::from(flags >> 4) * 4;
        let step = i64::try_from(delta.saturating_mul(1u64 << scale.min(60))).unwrap_or(i64::MAX);
        ts = ts.saturating_add(step);
        let wire = if flags & 8 != 0 {
            (frame.len() as u32).saturating_add(u32::from(flags))
        } else {
            frame.len() as u32
        };
        if t.batch.link != Some(link) || t.batch.packets.len() >= BATCH_FRAMES {
            t.flush();
            t.batch.link = Some(link);
        }
        t.batch.push(ts, wire, frame);
        t.single.packet(link, ts, wire, frame);
        n += 1;
        if n % 8 == 0 {
            let _ = t.single.snapshot();
        }
    }
    t.flush();
    let _ = t.single.active_flows();
    let Trackers {
        single,
        decoded,
        plain,
        ..
    } = t;
    let (single, err) = single.finish();
    assert!(err.is_none());
    assert_eq!(single.decode.packets, u64::from(n));
    let (decoded, err) = decoded.finish();
    assert!(err.is_none());
    assert_eq!(decoded.decode.packets, u64::from(n));
    let (plain, err) = plain.finish();
    assert!(err.is_none());
    assert_eq!(plain.decode.packets, u64::from(n));
    let (s, d, p) = (summary(&single), summary(&decoded), summary(&plain));
    if p != d {
        panic!(
            "{}",
            diff("finish: plain batches (-) vs decoded batches (+)", &p, &d)
        );
    }
    if s != d {
        panic!(
            "{}",
            diff("finish: one at a time (-) vs decoded batches (+)", &s, &d)
        );
    }
});
