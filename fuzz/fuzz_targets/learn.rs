//! `learn`: what every worker learns from DNS answers and Kerberos requests. Arbitrary packets
//! (UDP or TCP, to port 88 or from port 53, any sequence numbers) must never panic, and the
//! learner stays within its bounds: streams, bytes held, clients.
#![no_main]

use libfuzzer_sys::fuzz_target;
use svcscope::catalog::Catalog;
use svcscope::decode::{proto, Addr, Decoded, Fragment};
use svcscope::inspect::learn::{Learner, MAX_CLIENTS, MAX_STREAMS, MAX_STREAM_BYTES};

fuzz_target!(|data: &[u8]| {
    thread_local! {
        static CATALOG: Catalog = Catalog::builtin();
    }
    CATALOG.with(|catalog| {
        let mut l = Learner::new();
        let mut rest = data;
        let mut ts = 0i64;
        // Each packet: a control byte, a sequence number, a length, the payload.
        while let [ctl, s0, s1, s2, s3, len, tail @ ..] = rest {
            let n = usize::from(*len).min(tail.len());
            let (payload, next) = tail.split_at(n);
            rest = next;
            let tcp = ctl & 1 == 1;
            let dns = ctl & 2 == 2;
            let host = Addr::from_v4([192, 0, 2, ctl >> 4]);
            let (src, dst, ports) = if dns {
                (Addr::from_v4([192, 0, 2, 10]), host, (53, 50000))
            } else {
                (host, Addr::from_v4([192, 0, 2, 10]), (50000 + u16::from(ctl & 12), 88))
            };
            let d = Decoded {
                ip_version: 4,
                src,
                dst,
                protocol: if tcp { proto::TCP } else { proto::UDP },
                ports: Some(ports),
                tcp_flags: 0x18,
                tcp_seq: u32::from_le_bytes([*s0, *s1, *s2, *s3]),
                fragment: Fragment::None,
                payload,
            };
            ts += i64::from(ctl & 0x0f) * 1_000_000_000;
            if svcscope::inspect::learn::wants(&d) {
                l.packet(catalog, &d, ts);
            }
            let (streams, bytes) = l.held();
            assert!(streams <= MAX_STREAMS && bytes <= MAX_STREAM_BYTES);
            assert!(l.tickets_held() <= MAX_CLIENTS);
            if let Some(label) = catalog.lookup_port(svcscope::catalog::Transport::Tcp, 445) {
                let _ = l.ticket_for(catalog, host, (Addr::from_v4([192, 0, 2, 20]), 445), label, ts, None);
            }
        }
    });
});
