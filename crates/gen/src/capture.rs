//! In-memory fixture captures: conversations add packets with exact bookkeeping of every flow,
//! then the capture is sorted by time and written as pcap or pcapng.

use crate::packet::{self as pk, Ext, Link, LinkSpec, Mac};
use crate::rng::Rng;
use crate::writer::{NgInterface, PacketSink, PcapWriter, PcapngWriter};
use std::fmt::Write as _;
use std::io;
use std::net::{IpAddr, SocketAddr};

/// 2024-03-04T09:00:00Z in microseconds since the epoch.
pub const BASE_US: u64 = 1_709_542_800 * 1_000_000;

pub const MS: u64 = 1_000;
pub const SEC: u64 = 1_000_000;

#[derive(Clone, Debug)]
pub struct Iface {
    pub link: Link,
    pub snaplen: u32,
    pub name: &'static str,
}

#[derive(Clone, Debug)]
pub struct Rec {
    /// Microseconds since [`BASE_US`].
    pub t: u64,
    pub iface: u32,
    pub data: Vec<u8>,
    pub orig_len: u32,
    /// Shown in the README with the frame's number (broken frames).
    pub note: Option<String>,
}

/// One flow as the analyzer should see it.
#[derive(Clone, Debug)]
pub struct FlowNote {
    pub proto: &'static str,
    pub client: String,
    pub server: String,
    pub c2s: u32,
    pub s2c: u32,
    pub expect: String,
}

pub type FlowId = usize;

/// How a conversation's packets travel: interface, VLAN tags, IP options, IPv6 extension
/// headers, fragmentation.
#[derive(Clone, Debug, Default)]
pub struct Wire {
    pub iface: u32,
    pub vlans: Vec<(u16, u16)>,
    /// IPv4 options (multiple of 4 bytes) in every IPv4 packet.
    pub v4_opts: Vec<u8>,
    /// IPv6 extension headers in every IPv6 packet (before any Fragment header).
    pub v6_ext: Vec<Ext>,
    /// Fragment IP payloads larger than this many bytes (a multiple of 8).
    pub frag: Option<usize>,
    /// The capturing host, for the outgoing flag of the cooked link types.
    pub local: Option<IpAddr>,
    /// PPPoE or MPLS between the Ethernet header and IP.
    pub encap: pk::Encap,
}

pub struct Capture {
    pub file: &'static str,
    pub pcapng: bool,
    pub ifaces: Vec<Iface>,
    pub recs: Vec<Rec>,
    pub flows: Vec<FlowNote>,
    /// One line: what the file contains.
    pub about: String,
    /// Extra README lines (expected classification in words, special frames).
    pub expect: Vec<String>,
    /// Summarise flows by server port instead of listing each (the big domain capture).
    pub summarize: bool,
    /// Bytes to cut off the end of the written file.
    pub cut_tail: usize,
    /// Records at the end of the file that are incomplete (README bookkeeping).
    pub incomplete: usize,
    pub rng: Rng,
    ipid: u16,
    frag_id: u32,
}

pub fn ttl_for(ip: IpAddr) -> u8 {
    match ip {
        IpAddr::V4(a) if a.octets()[0..3] == [192, 0, 2] || a.is_unspecified() => 128,
        IpAddr::V6(a) if a.segments()[0..4] == [0x2001, 0xdb8, 0, 0] => 128,
        _ => 113,
    }
}

impl Capture {
    pub fn new(file: &'static str, link: Link, seed: u64, about: &str) -> Capture {
        Capture::with_ifaces(
            file,
            false,
            vec![Iface {
                link,
                snaplen: 65535,
                name: "eth0",
            }],
            seed,
            about,
        )
    }

    pub fn with_ifaces(
        file: &'static str,
        pcapng: bool,
        ifaces: Vec<Iface>,
        seed: u64,
        about: &str,
    ) -> Capture {
        Capture {
            file,
            pcapng,
            ifaces,
            recs: Vec::new(),
            flows: Vec::new(),
            about: about.to_string(),
            expect: Vec::new(),
            summarize: false,
            cut_tail: 0,
            incomplete: 0,
            rng: Rng::new(seed),
            ipid: (seed as u16).wrapping_mul(97).wrapping_add(0x1000),
            frag_id: 0x5000 + seed as u32,
        }
    }

    pub fn link(&self, iface: u32) -> Link {
        self.ifaces[iface as usize].link
    }

    pub fn flow(
        &mut self,
        proto: &'static str,
        client: impl ToString,
        server: impl ToString,
        expect: &str,
    ) -> FlowId {
        self.flows.push(FlowNote {
            proto,
            client: client.to_string(),
            server: server.to_string(),
            c2s: 0,
            s2c: 0,
            expect: expect.to_string(),
        });
        self.flows.len() - 1
    }

    /// Runs `f` with a random stream of its own, seeded by `seed`, and then restores the
    /// capture's: what `f` draws does not shift what the rest of the capture draws, so a
    /// conversation can change without changing every conversation after it.
    pub fn with_rng<T>(&mut self, seed: u64, f: impl FnOnce(&mut Capture) -> T) -> T {
        let saved = std::mem::replace(&mut self.rng, Rng::new(seed));
        let out = f(self);
        self.rng = saved;
        out
    }

    pub fn next_ipid(&mut self) -> u16 {
        self.ipid = self.ipid.wrapping_add(1);
        self.ipid
    }

    /// Appends a finished frame.
    pub fn push(&mut self, t: u64, iface: u32, data: Vec<u8>, orig_len: u32, note: Option<String>) {
        self.recs.push(Rec {
            t,
            iface,
            data,
            orig_len,
            note,
        });
    }

    /// Frames an IP packet (`ethertype` says which family) for `wire`'s interface.
    pub fn frame(
        &self,
        wire: &Wire,
        src_mac: Mac,
        dst_mac: Mac,
        outgoing: bool,
        ethertype: u16,
        ip: &[u8],
    ) -> Vec<u8> {
        let link = self.link(wire.iface);
        let spec = LinkSpec {
            link,
            src_mac,
            dst_mac,
            vlans: &wire.vlans,
            outgoing,
        };
        let mut f = Vec::with_capacity(ip.len() + 24);
        let (outer, encap) = wire.encap.header(ethertype, ip.len());
        pk::link_header(&mut f, &spec, outer);
        f.extend_from_slice(&encap);
        f.extend_from_slice(ip);
        pk::pad_ethernet(&mut f, link);
        f
    }

    /// Sends one transport-layer unit (`l4`, protocol `proto`) from `src` to `dst`: builds the IP
    /// packet(s), fragmenting as `wire` says, frames them and counts them for `flow`.
    #[allow(clippy::too_many_arguments)]
    pub fn send_l4(
        &mut self,
        t: u64,
        wire: &Wire,
        flow: Option<(FlowId, bool)>,
        src: IpAddr,
        dst: IpAddr,
        proto: u8,
        l4: &[u8],
    ) -> usize {
        self.send_l4_macs(
            t,
            wire,
            flow,
            src,
            dst,
            pk::mac_for(src),
            pk::mac_for(dst),
            proto,
            l4,
        )
    }

    #[allow(clippy::too_many_arguments)]
    pub fn send_l4_macs(
        &mut self,
        t: u64,
        wire: &Wire,
        flow: Option<(FlowId, bool)>,
        src: IpAddr,
        dst: IpAddr,
        src_mac: Mac,
        dst_mac: Mac,
        proto: u8,
        l4: &[u8],
    ) -> usize {
        let ttl = ttl_for(src);
        let mut packets: Vec<(u16, Vec<u8>)> = Vec::new();
        match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let id = self.next_ipid();
                match wire.frag {
                    Some(fs) if l4.len() > fs => {
                        assert_eq!(fs % 8, 0);
                        let mut off = 0;
                        while off < l4.len() {
                            let end = (off + fs).min(l4.len());
                            let more = if end < l4.len() { pk::IPV4_MF } else { 0 };
                            let mut p = Vec::new();
                            pk::ipv4(
                                &mut p,
                                s,
                                d,
                                proto,
                                id,
                                ttl,
                                more | (off / 8) as u16,
                                &wire.v4_opts,
                                end - off,
                            );
                            p.extend_from_slice(&l4[off..end]);
                            packets.push((pk::ETH_IPV4, p));
                            off = end;
                        }
                    }
                    _ => {
                        let df = if proto == pk::PROTO_TCP {
                            pk::IPV4_DF
                        } else {
                            0
                        };
                        let mut p = Vec::new();
                        pk::ipv4(&mut p, s, d, proto, id, ttl, df, &wire.v4_opts, l4.len());
                        p.extend_from_slice(l4);
                        packets.push((pk::ETH_IPV4, p));
                    }
                }
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => match wire.frag {
                Some(fs) if l4.len() > fs => {
                    assert_eq!(fs % 8, 0);
                    self.frag_id += 1;
                    let id = self.frag_id;
                    let mut off = 0;
                    while off < l4.len() {
                        let end = (off + fs).min(l4.len());
                        let mut exts = wire.v6_ext.clone();
                        exts.push(Ext::Fragment {
                            offset: off,
                            more: end < l4.len(),
                            id,
                        });
                        let mut p = Vec::new();
                        let plen = pk::ext_chain_len(&exts) + end - off;
                        pk::ipv6(&mut p, s, d, pk::ext_first(&exts, proto), ttl, plen);
                        pk::ext_chain(&mut p, &exts, proto, d);
                        p.extend_from_slice(&l4[off..end]);
                        packets.push((pk::ETH_IPV6, p));
                        off = end;
                    }
                }
                _ => {
                    let exts = &wire.v6_ext;
                    let mut p = Vec::new();
                    let plen = pk::ext_chain_len(exts) + l4.len();
                    pk::ipv6(&mut p, s, d, pk::ext_first(exts, proto), ttl, plen);
                    pk::ext_chain(&mut p, exts, proto, d);
                    p.extend_from_slice(l4);
                    packets.push((pk::ETH_IPV6, p));
                }
            },
            _ => panic!("mixed address families"),
        }
        let outgoing = wire.local == Some(src);
        let n = packets.len();
        for (i, (et, ip)) in packets.into_iter().enumerate() {
            let f = self.frame(wire, src_mac, dst_mac, outgoing, et, &ip);
            let len = f.len() as u32;
            // Fragments of one datagram leave back to back.
            self.push(t + i as u64 * 3, wire.iface, f, len, None);
            if let Some((id, c2s)) = flow {
                if c2s {
                    self.flows[id].c2s += 1;
                } else {
                    self.flows[id].s2c += 1;
                }
            }
        }
        n
    }

    /// A UDP datagram outside any conversation helper.
    #[allow(clippy::too_many_arguments)]
    pub fn udp(
        &mut self,
        t: u64,
        wire: &Wire,
        flow: Option<(FlowId, bool)>,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
    ) {
        let mut l4 = Vec::new();
        pk::udp(&mut l4, src.ip(), dst.ip(), src.port(), dst.port(), payload);
        self.send_l4(t, wire, flow, src.ip(), dst.ip(), pk::PROTO_UDP, &l4);
    }

    /// Sorts by time (stable) and serialises the capture.
    pub fn serialize(&mut self) -> io::Result<Vec<u8>> {
        self.recs.sort_by_key(|r| r.t);
        let mut out = if self.pcapng {
            let ifs: Vec<NgInterface> = self
                .ifaces
                .iter()
                .map(|i| NgInterface {
                    linktype: i.link.linktype(),
                    snaplen: i.snaplen,
                    name: i.name.to_string(),
                })
                .collect();
            let mut w = PcapngWriter::new(Vec::new(), &ifs, "svcscope-gen")?;
            for r in &self.recs {
                w.packet(BASE_US + r.t, r.iface, &r.data, r.orig_len)?;
            }
            w.into_inner()
        } else {
            assert_eq!(self.ifaces.len(), 1, "pcap has one interface");
            let i = &self.ifaces[0];
            let mut w = PcapWriter::new(Vec::new(), i.snaplen, i.link.linktype())?;
            for r in &self.recs {
                w.packet(BASE_US + r.t, r.iface, &r.data, r.orig_len)?;
            }
            w.into_inner()
        };
        out.truncate(out.len() - self.cut_tail);
        Ok(out)
    }

    pub fn link_types(&self) -> String {
        let v: Vec<String> = self
            .ifaces
            .iter()
            .enumerate()
            .map(|(n, i)| {
                if self.ifaces.len() > 1 {
                    format!("if{n}: {}", i.link.describe())
                } else {
                    i.link.describe().to_string()
                }
            })
            .collect();
        let mut s = v.join(", ");
        if self.ifaces.iter().any(|i| i.snaplen != 65535) {
            let _ = write!(s, ", snaplen {}", self.ifaces[0].snaplen);
        }
        s
    }

    pub fn format_name(&self) -> &'static str {
        if self.pcapng {
            "pcapng"
        } else {
            "pcap"
        }
    }
}

// ---------------------------------------------------------------------------------------------
// TCP conversation

/// A TCP conversation with correct sequence and acknowledgement numbers.
pub struct Tcp {
    pub id: FlowId,
    pub c: SocketAddr,
    pub s: SocketAddr,
    /// Next sequence number each side sends.
    pub cseq: u32,
    pub sseq: u32,
    /// Time of the last packet (µs since base).
    pub t: u64,
    pub wire: Wire,
    pub mss: usize,
    /// Carry 40 bytes of options in every segment.
    pub opts40: bool,
    /// Round-trip time, µs.
    pub rtt: u64,
    pub cwin: u16,
    pub swin: u16,
    /// `Some(true)`: the client's segments are sent but not captured; `Some(false)`: the server's
    /// (a capture that sees one direction only, as a SPAN port fed one way).
    pub unseen: Option<bool>,
    last_from_client: Option<bool>,
    ts_val: u32,
}

const OPTS40_DATA: [u8; 40] = [
    1, 1, 8, 10, 0, 0, 0x10, 0, 0, 0, 0x20, 0, // NOP NOP timestamps
    1, 1, 5, 26, // NOP NOP SACK, three blocks
    0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5, 0, 0, 0, 6, 0,
];

const OPTS40_SYN: [u8; 40] = [
    2, 4, 5, 0xb4, // MSS 1460
    4, 2, // SACK permitted
    8, 10, 0, 0, 0x10, 0, 0, 0, 0, 0, // timestamps
    1, 3, 3, 8, // NOP, window scale 8
    254, 20, 0xf9, 0x89, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, // RFC 6994 experimental
];

impl Tcp {
    pub fn new(
        cap: &mut Capture,
        c: SocketAddr,
        s: SocketAddr,
        t: u64,
        wire: &Wire,
        expect: &str,
    ) -> Tcp {
        let id = cap.flow("TCP", c, s, expect);
        Tcp::with_flow(cap, id, c, s, t, wire)
    }

    pub fn with_flow(
        cap: &mut Capture,
        id: FlowId,
        c: SocketAddr,
        s: SocketAddr,
        t: u64,
        wire: &Wire,
    ) -> Tcp {
        let mss = if c.is_ipv6() { 1440 } else { 1460 };
        let mss = mss - pk::ext_chain_len(&wire.v6_ext) - wire.v4_opts.len();
        Tcp {
            id,
            c,
            s,
            cseq: cap.rng.next_u32(),
            sseq: cap.rng.next_u32(),
            t,
            wire: wire.clone(),
            mss,
            opts40: false,
            rtt: 400 + cap.rng.below(600),
            cwin: 1026,
            swin: 8212,
            unseen: None,
            last_from_client: None,
            ts_val: cap.rng.next_u32() >> 4,
        }
    }

    fn advance(&mut self, cap: &mut Capture, from_client: bool, len: usize) {
        self.t += match self.last_from_client {
            Some(x) if x == from_client => 10 + len as u64 / 125 + cap.rng.below(20),
            Some(_) => self.rtt / 2 + 30 + cap.rng.below(self.rtt / 2 + 1),
            None => 0,
        };
        self.last_from_client = Some(from_client);
    }

    /// Sends one segment; SYN and FIN consume a sequence number.
    pub fn seg(&mut self, cap: &mut Capture, from_client: bool, flags: u8, payload: &[u8]) {
        self.advance(cap, from_client, payload.len());
        let (src, dst, seq, ack) = if from_client {
            (self.c, self.s, self.cseq, self.sseq)
        } else {
            (self.s, self.c, self.sseq, self.cseq)
        };
        let syn = flags & pk::SYN != 0;
        let has_ack = flags & pk::ACK != 0;
        let mut opts: Vec<u8> = Vec::new();
        if self.opts40 {
            if syn {
                opts.extend_from_slice(&OPTS40_SYN);
            } else {
                opts.extend_from_slice(&OPTS40_DATA);
            }
            self.ts_val = self.ts_val.wrapping_add(7);
            let tsi = if syn { 8 } else { 4 };
            opts[tsi..tsi + 4].copy_from_slice(&self.ts_val.to_be_bytes());
        } else if syn {
            opts.extend_from_slice(&pk::syn_options(self.mss as u16));
        }
        let window = if syn {
            64240
        } else if from_client {
            self.cwin
        } else {
            self.swin
        };
        let h = pk::TcpHdr {
            sport: src.port(),
            dport: dst.port(),
            seq,
            ack: if has_ack { ack } else { 0 },
            flags,
            window,
            options: &opts,
        };
        let mut l4 = Vec::with_capacity(60 + payload.len());
        pk::tcp(&mut l4, src.ip(), dst.ip(), &h, payload);
        let consumed = payload.len() as u32 + u32::from(syn) + u32::from(flags & pk::FIN != 0);
        if from_client {
            self.cseq = self.cseq.wrapping_add(consumed);
        } else {
            self.sseq = self.sseq.wrapping_add(consumed);
        }
        if self.unseen == Some(from_client) {
            return;
        }
        let wire = self.wire.clone();
        cap.send_l4(
            self.t,
            &wire,
            Some((self.id, from_client)),
            src.ip(),
            dst.ip(),
            pk::PROTO_TCP,
            &l4,
        );
    }

    pub fn handshake(&mut self, cap: &mut Capture) {
        self.seg(cap, true, pk::SYN, &[]);
        self.seg(cap, false, pk::SYN | pk::ACK, &[]);
        self.seg(cap, true, pk::ACK, &[]);
    }

    /// Sends `data` in MSS-sized segments (PSH on the last); the receiver ACKs every second segment.
    pub fn send(&mut self, cap: &mut Capture, from_client: bool, data: &[u8]) {
        let chunks: Vec<&[u8]> = data.chunks(self.mss).collect();
        let n = chunks.len();
        for (i, c) in chunks.into_iter().enumerate() {
            let last = i + 1 == n;
            self.seg(
                cap,
                from_client,
                if last { pk::PSH | pk::ACK } else { pk::ACK },
                c,
            );
            if !last && i % 2 == 1 {
                self.seg(cap, !from_client, pk::ACK, &[]);
            }
        }
    }

    pub fn ack(&mut self, cap: &mut Capture, by_client: bool) {
        self.seg(cap, by_client, pk::ACK, &[]);
    }

    /// Request from the client, response from the server.
    pub fn exchange(&mut self, cap: &mut Capture, req: &[u8], resp: &[u8]) {
        self.send(cap, true, req);
        self.send(cap, false, resp);
    }

    /// Client FIN, server FIN, client ACK.
    pub fn close(&mut self, cap: &mut Capture) {
        self.seg(cap, true, pk::FIN | pk::ACK, &[]);
        self.seg(cap, false, pk::FIN | pk::ACK, &[]);
        self.seg(cap, true, pk::ACK, &[]);
    }

    /// Server FIN, client FIN, server ACK (the server closes first, as an FTP server does after
    /// sending a file on a passive data connection).
    pub fn close_by_server(&mut self, cap: &mut Capture) {
        self.seg(cap, false, pk::FIN | pk::ACK, &[]);
        self.seg(cap, true, pk::FIN | pk::ACK, &[]);
        self.seg(cap, false, pk::ACK, &[]);
    }

    /// Idle time: the next packet comes `us` later.
    pub fn wait(&mut self, us: u64) {
        self.t += us;
        self.last_from_client = None;
    }
}

// ---------------------------------------------------------------------------------------------
// UDP and bare-IP conversations

pub struct Udp {
    pub id: FlowId,
    pub c: SocketAddr,
    pub s: SocketAddr,
    pub t: u64,
    pub wire: Wire,
}

impl Udp {
    pub fn new(
        cap: &mut Capture,
        c: SocketAddr,
        s: SocketAddr,
        t: u64,
        wire: &Wire,
        expect: &str,
    ) -> Udp {
        let id = cap.flow("UDP", c, s, expect);
        Udp {
            id,
            c,
            s,
            t,
            wire: wire.clone(),
        }
    }

    /// Sends after `gap` µs.
    pub fn send(&mut self, cap: &mut Capture, from_client: bool, gap: u64, payload: &[u8]) {
        self.t += gap;
        let (a, b) = if from_client {
            (self.c, self.s)
        } else {
            (self.s, self.c)
        };
        let wire = self.wire.clone();
        cap.udp(self.t, &wire, Some((self.id, from_client)), a, b, payload);
    }
}

/// A conversation of a bare IP protocol (GRE, ESP, AH).
pub struct IpConv {
    pub id: FlowId,
    pub c: IpAddr,
    pub s: IpAddr,
    pub proto: u8,
    pub t: u64,
    pub wire: Wire,
}

impl IpConv {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        cap: &mut Capture,
        name: &'static str,
        proto: u8,
        c: IpAddr,
        s: IpAddr,
        t: u64,
        wire: &Wire,
        expect: &str,
    ) -> IpConv {
        let id = cap.flow(name, c, s, expect);
        IpConv {
            id,
            c,
            s,
            proto,
            t,
            wire: wire.clone(),
        }
    }

    pub fn send(&mut self, cap: &mut Capture, from_client: bool, gap: u64, payload: &[u8]) {
        self.t += gap;
        let (a, b) = if from_client {
            (self.c, self.s)
        } else {
            (self.s, self.c)
        };
        let wire = self.wire.clone();
        cap.send_l4(
            self.t,
            &wire,
            Some((self.id, from_client)),
            a,
            b,
            self.proto,
            payload,
        );
    }
}

/// Shorthand for socket addresses.
pub fn sa(ip: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip.parse().expect("ip literal"), port)
}

pub fn ip(ip: &str) -> IpAddr {
    ip.parse().expect("ip literal")
}
