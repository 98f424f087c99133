//! `inspect`: one flow's payload segments through the inspector registry (whichever inspector the
//! chosen port selects: SMB on 445/139, the endpoint mapper on 135/593, FTP on 21, TFTP on 69,
//! Kerberos on TCP and UDP 88, LDAP on TCP 389 and 3268 and CLDAP on UDP 389, the DCE/RPC probe on
//! a dynamic TCP port, connectionless RPC on a UDP one, the payload inspector on TCP 3389, 1433,
//! 443 and 80 and UDP 1434 and 53), with the registry's signature check beside it. No input may
//! panic, and a flow's evidence list stays within its cap.
//!
//! Input layout: 1 byte choosing the port (index into `PORTS`), then records of
//! `[flags][len u16 LE][payload: len bytes]` (the last takes what is left). Flags: bit 0 the
//! direction (1 = from the client), bits 1-3 how far the sequence number jumps before the segment
//! (0: none, else 2^(4·k) bytes: gaps, retransmissions when it wraps), bits 4-7 unused.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use svcscope::catalog::{Catalog, Transport};
use svcscope::decode::{proto, Addr, FlowKey};
use svcscope::inspect::{Offer, Provenance, Registry, Segment, Slot, MAX_EVIDENCE};

const PORTS: [(u8, u16); 19] = [
    (proto::TCP, 445),
    (proto::TCP, 139),
    (proto::TCP, 135),
    (proto::TCP, 593),
    (proto::TCP, 21),
    (proto::UDP, 69),
    (proto::TCP, 49_700),
    (proto::UDP, 50_000),
    (proto::TCP, 88),
    (proto::UDP, 88),
    (proto::TCP, 389),
    (proto::UDP, 389),
    (proto::TCP, 3268),
    (proto::TCP, 3389),
    (proto::TCP, 1433),
    (proto::TCP, 443),
    (proto::TCP, 80),
    (proto::UDP, 1434),
    (proto::UDP, 53),
];

fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(Catalog::builtin)
}

fuzz_target!(|data: &[u8]| {
    let Some((&choice, mut rest)) = data.split_first() else {
        return;
    };
    let catalog = catalog();
    let (protocol, port) = PORTS[usize::from(choice) % PORTS.len()];
    let transport = if protocol == proto::TCP {
        Transport::Tcp
    } else {
        Transport::Udp
    };
    let label = catalog.lookup_port(transport, port);
    let offer = Offer {
        protocol,
        server_port: port,
        client_port: 50_123,
        label,
        provenance: if label.is_some() {
            Provenance::Port
        } else {
            Provenance::Unknown
        },
    };
    let mut registry = Registry::default();
    let Some(entry) = registry.pick(&offer) else {
        return;
    };
    let client = (Addr::from_v4([192, 0, 2, 100]), 50_123);
    let server = (Addr::from_v4([192, 0, 2, 10]), port);
    let (key, _) = FlowKey::of(protocol, client.0, server.0, Some((client.1, server.1)));
    let mut slot: Option<Box<Slot>> = None;
    let mut seq = [1u32, 1u32];
    let mut ts = 0i64;
    while rest.len() >= 3 {
        let flags = rest[0];
        let len = usize::from(u16::from_le_bytes([rest[1], rest[2]]));
        rest = &rest[3..];
        let payload = &rest[..len.min(rest.len())];
        rest = &rest[payload.len()..];
        let from_client = flags & 1 != 0;
        let d = usize::from(!from_client);
        let jump = (flags >> 1) & 7;
        if jump != 0 {
            seq[d] = seq[d].wrapping_add(1u32 << (4 * u32::from(jump - 1)).min(31));
        }
        ts += 1_000;
        let seg = Segment {
            from_client,
            seq: seq[d],
            payload,
            ts,
            client,
            server,
            protocol,
            label,
        };
        seq[d] = seq[d].wrapping_add(payload.len() as u32);
        let seen = registry.segment(catalog, key, entry, &mut slot, &seg);
        if let Some(s) = &slot {
            assert!(s.evidence.len() <= MAX_EVIDENCE);
        }
        if seen.done {
            break;
        }
    }
    if let Some(s) = slot.as_mut() {
        registry.flow_ended(s);
    }
});
