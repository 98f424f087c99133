//! Community ID v1: the flow hash Zeek, Suricata, Elastic and others put on their records so that
//! records of one flow from different tools can be joined.
//!
//! The hash is SHA-1 over (seed, lower endpoint address, higher endpoint address, IP protocol, a zero
//! byte, lower endpoint port, higher endpoint port), every number in network byte order, written as
//! `1:` and the digest in base64. The endpoints are ordered by (address, port), so both directions
//! of a flow — and either choice of which side is the client — give the same hash.
//!
//! What svcscope covers: TCP and UDP (with ports) and the IP protocols without ports (GRE, ESP, AH,
//! …: addresses and protocol only), IPv4 and IPv6. Not covered, so no hash rather than a wrong one:
//! ICMP and ICMPv6, whose hash takes the message type and code (svcscope's flow key has neither: one
//! flow holds every ICMP message between two addresses), and SCTP, whose hash takes ports svcscope
//! does not read.

use sha1::{Digest, Sha1};

use crate::decode::{proto, Addr};

/// The Community ID v1 of a flow between (`a`, `a_port`) and (`b`, `b_port`) over `protocol` with
/// seed 0 (the default of every tool), or `None` for the protocols svcscope cannot hash (see the
/// module documentation). `a` and `b` may be given in either order. Ports are ignored for
/// protocols that have none.
pub fn community_id(protocol: u8, a: Addr, a_port: u16, b: Addr, b_port: u16) -> Option<String> {
    let ports = match protocol {
        proto::TCP | proto::UDP => true,
        proto::ICMP | proto::ICMPV6 | SCTP => return None,
        _ => false,
    };
    let (a_port, b_port) = if ports { (a_port, b_port) } else { (0, 0) };
    let ((lo, lo_port), (hi, hi_port)) = if (a, a_port) <= (b, b_port) {
        ((a, a_port), (b, b_port))
    } else {
        ((b, b_port), (a, a_port))
    };
    let mut h = Sha1::new();
    h.update(SEED.to_be_bytes());
    for addr in [lo, hi] {
        match addr.ip() {
            std::net::IpAddr::V4(v4) => h.update(v4.octets()),
            std::net::IpAddr::V6(v6) => h.update(v6.octets()),
        }
    }
    h.update([protocol, 0]);
    if ports {
        h.update(lo_port.to_be_bytes());
        h.update(hi_port.to_be_bytes());
    }
    let digest: [u8; 20] = h.finalize().into();
    Some(format!("1:{}", base64(&digest)))
}

/// The seed every tool uses unless told otherwise.
const SEED: u16 = 0;
/// SCTP's IP protocol number.
const SCTP: u8 = 132;

/// Standard base64 (RFC 4648, with padding).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> Addr {
        Addr::from(text.parse::<std::net::IpAddr>().unwrap())
    }

    /// The specification's published baseline (`baseline/baseline_deflt.json` of the Community ID
    /// specification, seed 0) for the protocols svcscope hashes, each in both directions.
    #[test]
    fn matches_the_specification_test_vectors() {
        let vectors: [(u8, &str, &str, u16, u16, &str); 6] = [
            (
                6,
                "128.232.110.120",
                "66.35.250.204",
                34855,
                80,
                "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
            ),
            (
                6,
                "2001:470:e5bf:dead:4957:2174:e82c:4887",
                "2607:f8b0:400c:c03::1a",
                63943,
                25,
                "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=",
            ),
            (
                17,
                "192.168.1.52",
                "8.8.8.8",
                54585,
                53,
                "1:d/FP5EW3wiY1vCndhwleRRKHowQ=",
            ),
            // RSVP: an IP protocol without ports.
            (
                46,
                "10.1.12.1",
                "10.1.12.2",
                0,
                0,
                "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=",
            ),
            // Zeek's own tests (`community_id_v1`, seed 0).
            (
                6,
                "1.2.3.4",
                "5.6.7.8",
                1122,
                3344,
                "1:wCb3OG7yAFWelaUydu0D+125CLM=",
            ),
            (
                17,
                "1.2.3.4",
                "5.6.7.8",
                1122,
                3344,
                "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg=",
            ),
        ];
        for (protocol, s, d, sp, dp, want) in vectors {
            let forward = community_id(protocol, addr(s), sp, addr(d), dp);
            let backward = community_id(protocol, addr(d), dp, addr(s), sp);
            assert_eq!(forward.as_deref(), Some(want), "{s}:{sp} → {d}:{dp}");
            assert_eq!(backward.as_deref(), Some(want), "{d}:{dp} → {s}:{sp}");
        }
    }

    /// The ports of a protocol without them do not change its hash (svcscope's keys hold zeros
    /// there, a caller may hold anything).
    #[test]
    fn ports_of_a_protocol_without_ports_are_ignored() {
        let (a, b) = (addr("10.1.12.1"), addr("10.1.12.2"));
        assert_eq!(community_id(46, a, 7, b, 9), community_id(46, b, 0, a, 0),);
        assert_eq!(
            community_id(46, a, 1, b, 2).as_deref(),
            Some("1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=")
        );
    }

    /// Equal addresses: the ports order the endpoints.
    #[test]
    fn equal_addresses_are_ordered_by_port() {
        let a = addr("192.0.2.1");
        assert_eq!(
            community_id(6, a, 1000, a, 80),
            community_id(6, a, 80, a, 1000)
        );
        assert_ne!(
            community_id(6, a, 1000, a, 80),
            community_id(6, a, 1000, a, 81)
        );
    }

    #[test]
    fn icmp_and_sctp_are_not_hashed() {
        let (a, b) = (addr("192.168.0.89"), addr("192.168.0.1"));
        for protocol in [proto::ICMP, proto::ICMPV6, SCTP] {
            assert_eq!(community_id(protocol, a, 8, b, 0), None, "{protocol}");
        }
    }

    #[test]
    fn base64_pads_as_rfc_4648_says() {
        // RFC 4648 section 10.
        for (text, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(text.as_bytes()), want);
        }
    }
}
