//! `svcscope-gen flood`: floods that fill one of svcscope's caps over and over, for memory tests and
//! the flood benchmark (`scripts/bench-flood`). Deterministic; every kind is from spoofed sources in
//! 203.0.113.0/24, 198.51.100.0/24 and 192.0.2.0/24 to servers in 192.0.2.0/24 (and, for the
//! endpoint-mapper contacts, which need more distinct pairs, in 198.18.0.0/15, set aside for
//! benchmarks).
//!
//! - `syn`: every packet a TCP SYN of a new flow, to 192.0.2.10 on a rotating set of ports (the flow
//!   table); no flow repeats up to 49 million packets.
//! - `fragments`: every packet the first fragment of a new UDP datagram, 1 µs apart, so the fragment
//!   table is always full of fragments younger than a second.
//! - `epm-contacts`: clients contacting the endpoint mapper (TCP 135: SYN, then the server's
//!   SYN+ACK), one every 6.001 ms — just over the 10-minute window divided by the 100,000-contact
//!   cap — so that when the table is full, its oldest contact has only just expired (a table that
//!   expires before it clears then frees one entry per contact).
//! - `epm-announcements`: endpoint-mapper connections whose server sends `ept_map` answers, each
//!   announcing 16 endpoints of Net Logon, one answer every 9.6 ms (16 announcements in the minute
//!   over the 100,000-announcement cap); a new connection after every 150 answers (under the 256 KiB
//!   a flow is inspected for).
//! - `rpc-fragments`: TCP flows to a dynamic port, each sending the first 1,024 bytes of a DCE/RPC
//!   request that claims 65,535 (a partial PDU that never completes: the inspector's buffers).
//! - `collide`: IPv6 SYNs from 2001:db8:8000::/33 to 2001:db8::10 port 445, 1 µs apart, whose
//!   source addresses make every flow key hash alike under FxHash, the flow table's hash until
//!   2026-12-02: the second 64-bit word of each address cancels what the first added (FxHash is
//!   `(h + word) × K` per word), so the hash of every key is the same whatever follows. With that
//!   hash each new flow probed every earlier one; svcscope's seeded hash spreads them.

use std::fs::File;
use std::io::{self, BufWriter};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use crate::dcerpc;
use crate::packet::{self, Link, LinkSpec, TcpHdr};
use crate::writer::{PacketSink, PcapWriter};

const PORTS: [u16; 8] = [445, 135, 88, 389, 3389, 8080, 5432, 49700];

/// Which cap a flood fills.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    Syn,
    Fragments,
    EpmContacts,
    EpmAnnouncements,
    RpcFragments,
    Collide,
}

const START_US: u64 = 1_709_542_800_000_000;
const NETS: [[u8; 3]; 3] = [[203, 0, 113], [198, 51, 100], [192, 0, 2]];

/// The `i`-th of 768 spoofed sources.
fn source(i: u64) -> Ipv4Addr {
    let a = (i % 768) as usize;
    let net = NETS[a / 256];
    Ipv4Addr::new(net[0], net[1], net[2], (a % 256) as u8)
}

/// The `i`-th server of a flood that needs more than the documentation ranges hold: 198.18.0.0/15,
/// the range set aside for benchmarks (RFC 2544), 131,072 addresses.
fn bench_server(i: u64) -> Ipv4Addr {
    let i = i % (1 << 17);
    Ipv4Addr::new(198, 18 + (i >> 16) as u8, (i >> 8) as u8, i as u8)
}

struct Out {
    w: PcapWriter<BufWriter<File>>,
    frame: Vec<u8>,
    l4: Vec<u8>,
    written: u64,
}

impl Out {
    fn new(out: &Path) -> io::Result<Out> {
        Ok(Out {
            w: PcapWriter::new(
                BufWriter::with_capacity(1 << 20, File::create(out)?),
                65535,
                Link::Ethernet.linktype(),
            )?,
            frame: Vec::with_capacity(2048),
            l4: Vec::with_capacity(2048),
            written: 0,
        })
    }

    /// Starts a frame: the Ethernet header from `src`'s host to `dst`'s.
    fn start(&mut self, src: IpAddr, dst: IpAddr, ether_type: u16) {
        self.frame.clear();
        let spec = LinkSpec {
            link: Link::Ethernet,
            src_mac: packet::mac_for(src),
            dst_mac: packet::mac_for(dst),
            vlans: &[],
            outgoing: false,
        };
        packet::link_header(&mut self.frame, &spec, ether_type);
    }

    /// Ends the frame begun by [`Out::start`] with `self.l4` and writes it.
    fn finish(&mut self, ts_us: u64) -> io::Result<()> {
        self.frame.extend_from_slice(&self.l4);
        packet::pad_ethernet(&mut self.frame, Link::Ethernet);
        self.written += 1;
        self.w
            .packet(ts_us, 0, &self.frame, self.frame.len() as u32)
    }

    /// Writes the IPv6 packet carrying `self.l4`.
    fn ipv6(&mut self, ts_us: u64, src: Ipv6Addr, dst: Ipv6Addr, proto: u8) -> io::Result<()> {
        self.start(IpAddr::V6(src), IpAddr::V6(dst), 0x86dd);
        packet::ipv6(&mut self.frame, src, dst, proto, 64, self.l4.len());
        self.finish(ts_us)
    }

    /// Writes the IPv4 packet carrying `self.l4` (`frag`: flags and fragment offset).
    fn ipv4(
        &mut self,
        ts_us: u64,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        proto: u8,
        id: u16,
        frag: u16,
    ) -> io::Result<()> {
        self.start(IpAddr::V4(src), IpAddr::V4(dst), 0x0800);
        packet::ipv4(
            &mut self.frame,
            src,
            dst,
            proto,
            id,
            64,
            frag,
            &[],
            self.l4.len(),
        );
        self.finish(ts_us)
    }

    #[allow(clippy::too_many_arguments)]
    fn tcp(
        &mut self,
        ts_us: u64,
        (src, sport): (Ipv4Addr, u16),
        (dst, dport): (Ipv4Addr, u16),
        seq: u32,
        flags: u8,
        payload: &[u8],
        id: u16,
    ) -> io::Result<()> {
        self.l4.clear();
        let h = TcpHdr {
            sport,
            dport,
            seq,
            ack: 0,
            flags,
            window: 64240,
            options: &[],
        };
        packet::tcp(&mut self.l4, IpAddr::V4(src), IpAddr::V4(dst), &h, payload);
        self.ipv4(ts_us, src, dst, 6, id, 0)
    }
}

/// Writes a flood of about `packets` packets of `kind`; returns how many were written.
pub fn run(kind: Kind, packets: u64, out: &Path) -> io::Result<u64> {
    let mut o = Out::new(out)?;
    let server = Ipv4Addr::new(192, 0, 2, 10);
    const SYN: u8 = 0x02;
    const SYN_ACK: u8 = 0x12;
    const ACK: u8 = 0x10;
    match kind {
        Kind::Syn => {
            for i in 0..packets {
                let src = source(i);
                let sport = 1024 + ((i / 768) % 64_512) as u16;
                let dport = PORTS[((i / 768 / 64_512) as usize + (i % 768) as usize) % PORTS.len()];
                // 1 µs apart.
                o.tcp(
                    START_US + i,
                    (src, sport),
                    (server, dport),
                    i as u32,
                    SYN,
                    &[],
                    i as u16,
                )?;
            }
        }
        Kind::Fragments => {
            let payload = [0u8; 32];
            for i in 0..packets {
                let src = source(i);
                let id = (i / 768) as u16;
                let sport = 1024 + ((i / 768 / 65_536) % 64_512) as u16;
                o.l4.clear();
                packet::udp(
                    &mut o.l4,
                    IpAddr::V4(src),
                    IpAddr::V4(server),
                    sport,
                    88,
                    &payload,
                );
                // A first fragment: more fragments, offset 0 (the UDP length claims only this part,
                // which the decoder does not check against the datagram).
                o.ipv4(START_US + i, src, server, 17, id, packet::IPV4_MF)?;
            }
        }
        Kind::EpmContacts => {
            for c in 0..packets.div_ceil(2) {
                // A contact is a (client, server) pair: 768 clients, each to a new server.
                let client = source(c);
                let server = bench_server(c / 768);
                let sport = 1024 + ((c / 768) % 64_512) as u16;
                let t = START_US + c * 6_001;
                o.tcp(t, (client, sport), (server, 135), 1, SYN, &[], c as u16)?;
                o.tcp(
                    t + 1,
                    (server, 135),
                    (client, sport),
                    1,
                    SYN_ACK,
                    &[],
                    c as u16,
                )?;
            }
        }
        Kind::EpmAnnouncements => {
            const PER_ANSWER: u64 = 16;
            const ANSWERS_PER_FLOW: u64 = 150;
            let mut seq = 1u32;
            let mut client = (source(0), 1024);
            let mut towers = Vec::with_capacity(PER_ANSWER as usize);
            let mut n = 0u64;
            let mut t = START_US;
            while o.written < packets {
                if n.is_multiple_of(ANSWERS_PER_FLOW) {
                    let f = n / ANSWERS_PER_FLOW;
                    client = (source(f), 1024 + ((f / 768) % 64_512) as u16);
                    o.tcp(t, client, (server, 135), 0, SYN, &[], 0)?;
                    o.tcp(t, (server, 135), client, 0, SYN_ACK, &[], 0)?;
                    seq = 1;
                }
                towers.clear();
                for k in 0..PER_ANSWER {
                    // Distinct endpoints: 768 addresses, then every dynamic port.
                    let e = n * PER_ANSWER + k;
                    let port = 1024 + ((e / 768) % 64_512) as u16;
                    let addr = source(e).octets();
                    towers.push(dcerpc::tower(dcerpc::NETLOGON, port, addr));
                }
                let stub = dcerpc::ept_map_response(&towers, PER_ANSWER as u32);
                let pdu = dcerpc::response(n as u32, 0, &stub);
                o.tcp(t, (server, 135), client, seq, ACK, &pdu, n as u16)?;
                seq = seq.wrapping_add(pdu.len() as u32);
                n += 1;
                t += 9_600;
            }
        }
        Kind::RpcFragments => {
            // A request header claiming 65,535 bytes, then 1,008 bytes of stub: 1,024 held.
            let mut partial = dcerpc::co_pdu(dcerpc::REQUEST, 1, &[0u8; 1_008]);
            partial[8..10].copy_from_slice(&u16::MAX.to_le_bytes());
            for f in 0..packets.div_ceil(2) {
                let client = (source(f), 1024 + ((f / 768) % 64_512) as u16);
                let t = START_US + 2 * f;
                o.tcp(t, client, (server, 49_700), 0, SYN, &[], f as u16)?;
                o.tcp(t + 1, client, (server, 49_700), 1, ACK, &partial, f as u16)?;
            }
        }
        Kind::Collide => {
            let server = Ipv6Addr::from(COLLIDE_SERVER);
            for i in 0..packets {
                let src = colliding_source(i);
                o.l4.clear();
                let h = TcpHdr {
                    sport: 40_000,
                    dport: 445,
                    seq: i as u32,
                    ack: 0,
                    flags: SYN,
                    window: 64240,
                    options: &[],
                };
                packet::tcp(&mut o.l4, IpAddr::V6(src), IpAddr::V6(server), &h, &[]);
                o.ipv6(START_US + i, src, server, 6)?;
            }
        }
    }
    o.w.flush()?;
    Ok(o.written)
}

/// FxHash's multiplier (rustc-hash 2).
const FX_K: u64 = 0xf1357aea2e62a9c5;

/// The `collide` flood's server.
pub const COLLIDE_SERVER: u128 = 0x2001_0db8_0000_0000_0000_0000_0000_0010;

/// The `i`-th source of the `collide` flood (`i` below 2^31): 2001:db8:8000::/33, its high 64 bits
/// from `i`, its low 64 bits chosen so that FxHash's state after the address is the same for every
/// `i`. The sources are above the server, so a flow key hashes the server's address, then the
/// source's; the ports and protocol that follow are the same for every flow.
pub fn colliding_source(i: u64) -> Ipv6Addr {
    let step = |h: u64, word: u64| h.wrapping_add(word).wrapping_mul(FX_K);
    let after_server = step(
        step(0, (COLLIDE_SERVER >> 64) as u64),
        COLLIDE_SERVER as u64,
    );
    let hi = 0x2001_0db8_8000_0000 | (i & 0x7fff_ffff);
    // (after + hi) × K + lo, times K: the same for every source when the sum is.
    let lo = 0x5356_4353_434f_5045u64.wrapping_sub(step(after_server, hi));
    Ipv6Addr::from((u128::from(hi) << 64) | u128::from(lo))
}
