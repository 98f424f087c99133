//! Hand-built packet headers: link layers, IPv4 (options, fragments), IPv6 (extension headers),
//! TCP, UDP, with correct checksums. Everything appends to a `Vec<u8>` so the benchmark generator
//! can reuse one buffer.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub const ETH_IPV4: u16 = 0x0800;
pub const ETH_IPV6: u16 = 0x86DD;
pub const ETH_ARP: u16 = 0x0806;
pub const ETH_VLAN: u16 = 0x8100;
pub const ETH_QINQ: u16 = 0x88A8;
pub const ETH_PPPOE_DISCOVERY: u16 = 0x8863;
pub const ETH_PPPOE_SESSION: u16 = 0x8864;
pub const ETH_MPLS: u16 = 0x8847;

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;

pub const PROTO_ICMP: u8 = 1;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const PROTO_GRE: u8 = 47;
pub const PROTO_ESP: u8 = 50;
pub const PROTO_AH: u8 = 51;
pub const PROTO_HOPOPT: u8 = 0;
pub const PROTO_ROUTING: u8 = 43;
pub const PROTO_FRAGMENT: u8 = 44;
pub const PROTO_DSTOPTS: u8 = 60;

pub type Mac = [u8; 6];

pub const BROADCAST_MAC: Mac = [0xff; 6];
/// The router every off-subnet address is reached through.
pub const ROUTER_MAC: Mac = [0x02, 0x00, 0x00, 0x00, 0x00, 0xfe];

/// The MAC address of an IP address as seen on the 192.0.2.0/24 (and 2001:db8::/64) LAN:
/// local hosts get 02:00:00:00:02:xx (02:00:00:00:06:xx for IPv6), off-subnet ones the router,
/// broadcast and multicast their usual group addresses.
pub fn mac_for(ip: IpAddr) -> Mac {
    match ip {
        IpAddr::V4(a) => {
            let o = a.octets();
            if a.is_broadcast() || (o[0..3] == [192, 0, 2] && o[3] == 255) {
                BROADCAST_MAC
            } else if a.is_multicast() {
                [0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]]
            } else if o[0..3] == [192, 0, 2] {
                [0x02, 0x00, 0x00, 0x00, 0x02, o[3]]
            } else {
                ROUTER_MAC
            }
        }
        IpAddr::V6(a) => {
            let o = a.octets();
            if a.is_multicast() {
                [0x33, 0x33, o[12], o[13], o[14], o[15]]
            } else if o[0..8] == [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0] {
                [0x02, 0x00, 0x00, 0x00, 0x06, o[15]]
            } else {
                ROUTER_MAC
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Checksums

/// Adds `data` to a ones'-complement sum. Every piece but the last must have even length.
pub fn csum_add(mut sum: u64, data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        sum += u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
    }
    let r = chunks.remainder();
    if !r.is_empty() {
        let mut b = [0u8; 4];
        b[..r.len()].copy_from_slice(r);
        sum += u64::from(u32::from_be_bytes(b));
    }
    sum
}

pub fn csum_fold(mut sum: u64) -> u16 {
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn pseudo_sum(src: IpAddr, dst: IpAddr, proto: u8, len: usize) -> u64 {
    let s = match (src, dst) {
        (IpAddr::V4(a), IpAddr::V4(b)) => csum_add(csum_add(0, &a.octets()), &b.octets()),
        (IpAddr::V6(a), IpAddr::V6(b)) => csum_add(csum_add(0, &a.octets()), &b.octets()),
        _ => panic!("mixed address families {src} {dst}"),
    };
    s + u64::from(proto) + len as u64
}

// ---------------------------------------------------------------------------------------------
// Transport

#[derive(Clone, Copy, Debug)]
pub struct TcpHdr<'a> {
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    /// Length must be a multiple of 4.
    pub options: &'a [u8],
}

/// Appends a TCP segment (header + payload) with its checksum.
pub fn tcp(out: &mut Vec<u8>, src: IpAddr, dst: IpAddr, h: &TcpHdr, payload: &[u8]) {
    assert_eq!(h.options.len() % 4, 0, "TCP options must be padded");
    let start = out.len();
    let hlen = 20 + h.options.len();
    out.extend_from_slice(&h.sport.to_be_bytes());
    out.extend_from_slice(&h.dport.to_be_bytes());
    out.extend_from_slice(&h.seq.to_be_bytes());
    out.extend_from_slice(&h.ack.to_be_bytes());
    out.push(((hlen / 4) as u8) << 4);
    out.push(h.flags);
    out.extend_from_slice(&h.window.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
    out.extend_from_slice(h.options);
    out.extend_from_slice(payload);
    let len = out.len() - start;
    let sum = csum_add(pseudo_sum(src, dst, PROTO_TCP, len), &out[start..]);
    let c = csum_fold(sum);
    out[start + 16..start + 18].copy_from_slice(&c.to_be_bytes());
}

/// Appends a UDP datagram (header + payload) with its checksum.
pub fn udp(out: &mut Vec<u8>, src: IpAddr, dst: IpAddr, sport: u16, dport: u16, payload: &[u8]) {
    let start = out.len();
    let len = 8 + payload.len();
    out.extend_from_slice(&sport.to_be_bytes());
    out.extend_from_slice(&dport.to_be_bytes());
    out.extend_from_slice(&(len as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(payload);
    let mut c = csum_fold(csum_add(
        pseudo_sum(src, dst, PROTO_UDP, len),
        &out[start..],
    ));
    if c == 0 {
        c = 0xffff;
    }
    out[start + 6..start + 8].copy_from_slice(&c.to_be_bytes());
}

/// Windows-style SYN options: MSS, NOP, window scale 8, NOP, NOP, SACK permitted.
pub fn syn_options(mss: u16) -> [u8; 12] {
    let m = mss.to_be_bytes();
    [2, 4, m[0], m[1], 1, 3, 3, 8, 1, 1, 4, 2]
}

// ---------------------------------------------------------------------------------------------
// Network

/// Appends an IPv4 header (with `options`, padded by the caller to a multiple of 4) for a payload of
/// `payload_len` bytes. `frag` is the flags + fragment offset field.
#[allow(clippy::too_many_arguments)]
pub fn ipv4(
    out: &mut Vec<u8>,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    id: u16,
    ttl: u8,
    frag: u16,
    options: &[u8],
    payload_len: usize,
) {
    assert_eq!(options.len() % 4, 0, "IPv4 options must be padded");
    let start = out.len();
    let hlen = 20 + options.len();
    out.push(0x40 | (hlen / 4) as u8);
    out.push(0);
    out.extend_from_slice(&((hlen + payload_len) as u16).to_be_bytes());
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&frag.to_be_bytes());
    out.push(ttl);
    out.push(proto);
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&src.octets());
    out.extend_from_slice(&dst.octets());
    out.extend_from_slice(options);
    let c = csum_fold(csum_add(0, &out[start..]));
    out[start + 10..start + 12].copy_from_slice(&c.to_be_bytes());
}

pub const IPV4_DF: u16 = 0x4000;
pub const IPV4_MF: u16 = 0x2000;

/// Appends an IPv6 fixed header.
pub fn ipv6(
    out: &mut Vec<u8>,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    next: u8,
    hop: u8,
    payload_len: usize,
) {
    out.extend_from_slice(&[0x60, 0, 0, 0]);
    out.extend_from_slice(&(payload_len as u16).to_be_bytes());
    out.push(next);
    out.push(hop);
    out.extend_from_slice(&src.octets());
    out.extend_from_slice(&dst.octets());
}

/// An IPv6 extension header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ext {
    /// 8 bytes: a PadN option.
    HopByHop,
    /// 8 bytes: a PadN option.
    DestOpts,
    /// Routing type 0, segments left 0, one address (24 bytes): the packet's own destination, so
    /// the final destination is the same whichever view (sender's or recipient's) a checker takes.
    Routing0,
    /// Fragment header; offset in bytes (multiple of 8).
    Fragment { offset: usize, more: bool, id: u32 },
}

impl Ext {
    pub fn proto(&self) -> u8 {
        match self {
            Ext::HopByHop => PROTO_HOPOPT,
            Ext::DestOpts => PROTO_DSTOPTS,
            Ext::Routing0 => PROTO_ROUTING,
            Ext::Fragment { .. } => PROTO_FRAGMENT,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Ext::Routing0 => 24,
            _ => 8,
        }
    }
}

/// The next-header value of the IPv6 fixed header in front of `exts` followed by `last`.
pub fn ext_first(exts: &[Ext], last: u8) -> u8 {
    exts.first().map_or(last, Ext::proto)
}

pub fn ext_chain_len(exts: &[Ext]) -> usize {
    exts.iter().map(Ext::len).sum()
}

/// Appends a chain of extension headers, the last one pointing to `last`; `dst` is the packet's
/// destination address.
pub fn ext_chain(out: &mut Vec<u8>, exts: &[Ext], last: u8, dst: Ipv6Addr) {
    for (i, e) in exts.iter().enumerate() {
        let next = exts.get(i + 1).map_or(last, Ext::proto);
        match e {
            Ext::HopByHop | Ext::DestOpts => {
                out.extend_from_slice(&[next, 0, 1, 4, 0, 0, 0, 0]);
            }
            Ext::Routing0 => {
                out.extend_from_slice(&[next, 2, 0, 0, 0, 0, 0, 0]);
                out.extend_from_slice(&dst.octets());
            }
            Ext::Fragment { offset, more, id } => {
                assert_eq!(offset % 8, 0);
                let field = (*offset as u16) | u16::from(*more);
                out.extend_from_slice(&[next, 0]);
                out.extend_from_slice(&field.to_be_bytes());
                out.extend_from_slice(&id.to_be_bytes());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Link layers

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    Ethernet,
    Null,
    Raw,
    Sll,
    Sll2,
    /// PPP with the HDLC address and control bytes (LINKTYPE_PPP).
    Ppp,
}

impl Link {
    pub fn linktype(self) -> u16 {
        use crate::writer::*;
        match self {
            Link::Ethernet => LINKTYPE_ETHERNET,
            Link::Null => LINKTYPE_NULL,
            Link::Raw => LINKTYPE_RAW,
            Link::Sll => LINKTYPE_LINUX_SLL,
            Link::Sll2 => LINKTYPE_LINUX_SLL2,
            Link::Ppp => LINKTYPE_PPP,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Link::Ethernet => "1 (Ethernet)",
            Link::Null => "0 (BSD loopback)",
            Link::Raw => "101 (raw IP)",
            Link::Sll => "113 (Linux cooked SLL)",
            Link::Sll2 => "276 (Linux cooked SLL2)",
            Link::Ppp => "9 (PPP)",
        }
    }
}

/// How one frame is framed on its link.
#[derive(Clone, Copy, Debug)]
pub struct LinkSpec<'a> {
    pub link: Link,
    pub src_mac: Mac,
    pub dst_mac: Mac,
    /// (TPID, TCI) pairs, outermost first.
    pub vlans: &'a [(u16, u16)],
    /// For the cooked link types: sent by the capturing host.
    pub outgoing: bool,
}

/// Appends the link header for a frame carrying `ethertype`.
pub fn link_header(out: &mut Vec<u8>, spec: &LinkSpec, ethertype: u16) {
    match spec.link {
        Link::Ethernet => {
            out.extend_from_slice(&spec.dst_mac);
            out.extend_from_slice(&spec.src_mac);
            for (tpid, tci) in spec.vlans {
                out.extend_from_slice(&tpid.to_be_bytes());
                out.extend_from_slice(&tci.to_be_bytes());
            }
            out.extend_from_slice(&ethertype.to_be_bytes());
        }
        Link::Null => {
            let af: u32 = if ethertype == ETH_IPV6 { 30 } else { 2 };
            out.extend_from_slice(&af.to_le_bytes());
        }
        Link::Raw => {}
        Link::Sll => {
            let pkttype: u16 = if spec.outgoing { 4 } else { 0 };
            out.extend_from_slice(&pkttype.to_be_bytes());
            out.extend_from_slice(&1u16.to_be_bytes()); // ARPHRD_ETHER
            out.extend_from_slice(&6u16.to_be_bytes());
            out.extend_from_slice(&spec.src_mac);
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(&ethertype.to_be_bytes());
        }
        Link::Sll2 => {
            out.extend_from_slice(&ethertype.to_be_bytes());
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(&2u32.to_be_bytes()); // interface index
            out.extend_from_slice(&1u16.to_be_bytes()); // ARPHRD_ETHER
            out.push(if spec.outgoing { 4 } else { 0 });
            out.push(6);
            out.extend_from_slice(&spec.src_mac);
            out.extend_from_slice(&[0, 0]);
        }
        Link::Ppp => {
            out.extend_from_slice(&[0xff, 0x03]);
            out.extend_from_slice(&ppp_protocol(ethertype).to_be_bytes());
        }
    }
}

/// The PPP protocol number of an IP packet of this Ethernet type (RFC 1661, RFC 5072).
pub fn ppp_protocol(ethertype: u16) -> u16 {
    if ethertype == ETH_IPV6 {
        0x0057
    } else {
        0x0021
    }
}

/// Link layers between Ethernet and IP: a PPPoE session or an MPLS label stack (which may carry
/// an Ethernet pseudowire).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Encap {
    #[default]
    None,
    /// RFC 2516 session stage with this session id, PPP inside.
    Pppoe(u16),
    /// RFC 3032 labels, outermost first (TTL 64, the last with the bottom-of-stack bit).
    Mpls(Vec<u32>),
    /// MPLS labels, then a control word of zeros and an inner Ethernet header (RFC 4448) with
    /// these MAC addresses.
    MplsEthernet(Vec<u32>),
}

impl Encap {
    /// The Ethernet type the outer header carries, and the bytes between it and the IP packet
    /// (`ip_len` bytes of Ethernet type `ethertype`).
    pub fn header(&self, ethertype: u16, ip_len: usize) -> (u16, Vec<u8>) {
        let labels = |labels: &[u32]| {
            let mut out = Vec::new();
            for (i, l) in labels.iter().enumerate() {
                let bos = u32::from(i + 1 == labels.len());
                out.extend_from_slice(&((l << 12) | (bos << 8) | 64).to_be_bytes());
            }
            out
        };
        match self {
            Encap::None => (ethertype, Vec::new()),
            Encap::Pppoe(session) => {
                let mut h = vec![0x11, 0x00];
                h.extend_from_slice(&session.to_be_bytes());
                h.extend_from_slice(&((ip_len + 2) as u16).to_be_bytes());
                h.extend_from_slice(&ppp_protocol(ethertype).to_be_bytes());
                (ETH_PPPOE_SESSION, h)
            }
            Encap::Mpls(l) => (ETH_MPLS, labels(l)),
            Encap::MplsEthernet(l) => {
                let mut h = labels(l);
                h.extend_from_slice(&[0, 0, 0, 0]);
                h.extend_from_slice(&[0x02, 0, 0, 0, 0x0c, 0x01]);
                h.extend_from_slice(&[0x02, 0, 0, 0, 0x0c, 0x02]);
                h.extend_from_slice(&ethertype.to_be_bytes());
                (ETH_MPLS, h)
            }
        }
    }
}

/// Pads an Ethernet frame to the 60-byte minimum (without FCS).
pub fn pad_ethernet(frame: &mut Vec<u8>, link: Link) {
    if link == Link::Ethernet && frame.len() < 60 {
        frame.resize(60, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_header_checksum_verifies() {
        let mut b = Vec::new();
        ipv4(
            &mut b,
            Ipv4Addr::new(192, 0, 2, 1),
            Ipv4Addr::new(192, 0, 2, 2),
            PROTO_UDP,
            7,
            64,
            0,
            &[],
            8,
        );
        assert_eq!(csum_fold(csum_add(0, &b)), 0);
    }

    #[test]
    fn udp_checksum_verifies() {
        let (s, d): (IpAddr, IpAddr) = (
            "2001:db8::1".parse().unwrap(),
            "2001:db8::2".parse().unwrap(),
        );
        let mut b = Vec::new();
        udp(&mut b, s, d, 1, 2, b"hello");
        assert_eq!(
            csum_fold(csum_add(pseudo_sum(s, d, PROTO_UDP, b.len()), &b)),
            0
        );
    }
}
