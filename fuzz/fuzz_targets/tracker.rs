//! `tracker`: a sequence of frames through the classifier worker (decode, flow table, classify,
//! aggregate), then `finish()`. No input may panic.
//!
//! Input layout: 8 bytes of start timestamp (i64 LE), 1 config byte (bit 0: a 16-flow table and short
//! timeouts; bit 7 alone: flows never time out; bit 1: interval counters), then records of
//! `[flags][delta u16 LE][len u16 LE][frame: len bytes]` (the last frame takes what is left). Flags:
//! bits 0-2 the link type, bit 3 "wire length above capture length", bits 4-7 the timestamp delta's
//! scale (delta × 16^scale ns), so timestamps never go down.
#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
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

fn catalog() -> Arc<Catalog> {
    static CATALOG: OnceLock<Arc<Catalog>> = OnceLock::new();
    CATALOG.get_or_init(|| Arc::new(Catalog::builtin())).clone()
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
        }
    };
    let mut tracker = Tracker::new(catalog(), &config, None);
    if cfg & 2 != 0 {
        tracker.count_intervals();
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
        tracker.packet(link, ts, wire, frame);
        n += 1;
        if n % 8 == 0 {
            let _ = tracker.snapshot();
            let _ = tracker.take_interval();
        }
    }
    let _ = tracker.active_flows();
    let (agg, err) = tracker.finish();
    assert!(err.is_none());
    assert_eq!(agg.decode.packets, u64::from(n));
});
