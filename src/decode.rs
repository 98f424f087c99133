//! Decode: from a captured frame to the few fields flow tracking needs.
//!
//! Validity rule: the input is untrusted bytes of any length. The link layer, VLAN tags, the IP header
//! and IPv6 extension headers are sliced by etherparse in lax mode, which checks every length before it
//! reads, keeps what it could parse when a frame is cut short by the snapshot length, and reports where
//! it stopped. The transport fields this tool needs (ports, TCP flags) are at fixed offsets and are read
//! here only after checking the captured length. Nothing is copied: [`Decoded::payload`] borrows the
//! frame. An IP header's length field is held against the captured bytes by one rule on both paths
//! (`ip_extent`): beyond them, the snapshot length cut the frame; short of them, the rest is
//! padding; unknown (an IPv4 total length or IPv6 payload length of 0), the packet runs to the frame's end and may be
//! cut. A frame that cannot be attributed to a flow is a [`Malformed`] value with a layer and a
//! reason, for capture health — never a panic and never fatal.
//!
//! Link types: Ethernet (with 802.1Q / 802.1ad / QinQ tags), Linux cooked SLL and SLL2, raw IPv4/IPv6,
//! BSD loopback (null and loop), PPP (with or without the HDLC address and control bytes), PPPoE
//! without Ethernet, Cisco HDLC. Inside those: PPPoE sessions (RFC 2516) and MPLS label stacks
//! (RFC 3032, with an Ethernet pseudowire behind a control word, RFC 4448), at most four layers deep.
//! IPv4 options and fragments, IPv6 extension headers and fragments.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::err::packet::SliceError;
use etherparse::err::Layer;
use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket};

/// IP protocol numbers used by name.
pub mod proto {
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const GRE: u8 = 47;
    pub const ESP: u8 = 50;
    pub const AH: u8 = 51;
    pub const ICMPV6: u8 = 58;
}

/// TCP flag bits.
pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    pub const ECE: u8 = 0x40;
    pub const CWR: u8 = 0x80;

    /// "SYN,ACK,FIN" style text for the flag bits set.
    pub fn to_text(flags: u8) -> String {
        const NAMES: [(u8, &str); 8] = [
            (SYN, "SYN"),
            (ACK, "ACK"),
            (PSH, "PSH"),
            (FIN, "FIN"),
            (RST, "RST"),
            (URG, "URG"),
            (ECE, "ECE"),
            (CWR, "CWR"),
        ];
        NAMES
            .iter()
            .filter(|(bit, _)| flags & bit != 0)
            .map(|(_, n)| *n)
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// An IPv4 or IPv6 address as 16 bytes (IPv4 as IPv4-mapped IPv6), cheap to hash and compare, and
/// ordered like the 128-bit number. Two 64-bit halves rather than a `u128`, so that flow keys need
/// 8-byte alignment, not 16, and flow table entries stay small.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Addr([u64; 2]);

impl std::hash::Hash for Addr {
    /// One 128-bit number (an array would hash as a length-prefixed byte slice, several times
    /// slower; foldhash mixes a `u128` with one multiplication).
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u128(self.to_bits());
    }
}

impl Addr {
    pub fn from_v4(octets: [u8; 4]) -> Addr {
        Addr::from_bits(u128::from(Ipv4Addr::from(octets).to_ipv6_mapped()))
    }
    pub fn from_v6(octets: [u8; 16]) -> Addr {
        Addr::from_bits(u128::from_be_bytes(octets))
    }
    pub const fn from_bits(bits: u128) -> Addr {
        Addr([(bits >> 64) as u64, bits as u64])
    }
    pub const fn to_bits(self) -> u128 {
        ((self.0[0] as u128) << 64) | self.0[1] as u128
    }
    pub fn ip(self) -> IpAddr {
        let v6 = Ipv6Addr::from(self.to_bits());
        match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        }
    }
}

impl From<IpAddr> for Addr {
    fn from(ip: IpAddr) -> Addr {
        match ip {
            IpAddr::V4(v4) => Addr::from_v4(v4.octets()),
            IpAddr::V6(v6) => Addr::from_v6(v6.octets()),
        }
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.ip().fmt(f)
    }
}

impl fmt::Debug for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.ip().fmt(f)
    }
}

impl serde::Serialize for Addr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The link-layer header types svcscope decodes, by libpcap DLT / LINKTYPE number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LinkType {
    Ethernet,
    /// BSD loopback, address family in the capturing host's byte order.
    Null,
    /// OpenBSD loopback, address family in network byte order.
    Loop,
    /// Raw IP (v4 or v6 from the version nibble).
    Raw,
    Ipv4,
    Ipv6,
    LinuxSll,
    LinuxSll2,
    /// PPP: the protocol field, after the HDLC address and control bytes (0xff 0x03) when present
    /// (LINKTYPE_PPP 9, LINKTYPE_PPP_HDLC 50).
    Ppp,
    /// A PPPoE header without the Ethernet header (LINKTYPE_PPP_ETHER 51).
    PppEther,
    /// Cisco HDLC: address, control and an Ethernet type (LINKTYPE_C_HDLC 104).
    CiscoHdlc,
    Unsupported(i32),
}

impl LinkType {
    /// From a libpcap DLT value or a pcap-file LINKTYPE value (they agree except for raw IP).
    pub fn from_dlt(dlt: i32) -> LinkType {
        match dlt {
            1 => LinkType::Ethernet,
            0 => LinkType::Null,
            108 => LinkType::Loop,
            12 | 14 | 101 => LinkType::Raw,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            113 => LinkType::LinuxSll,
            276 => LinkType::LinuxSll2,
            9 | 50 => LinkType::Ppp,
            51 => LinkType::PppEther,
            104 => LinkType::CiscoHdlc,
            other => LinkType::Unsupported(other),
        }
    }

    pub fn name(self) -> String {
        match self {
            LinkType::Ethernet => "EN10MB".into(),
            LinkType::Null => "NULL".into(),
            LinkType::Loop => "LOOP".into(),
            LinkType::Raw => "RAW".into(),
            LinkType::Ipv4 => "IPV4".into(),
            LinkType::Ipv6 => "IPV6".into(),
            LinkType::LinuxSll => "LINUX_SLL".into(),
            LinkType::LinuxSll2 => "LINUX_SLL2".into(),
            LinkType::Ppp => "PPP".into(),
            LinkType::PppEther => "PPP_ETHER".into(),
            LinkType::CiscoHdlc => "C_HDLC".into(),
            LinkType::Unsupported(n) => format!("DLT {n}"),
        }
    }

    pub fn is_supported(self) -> bool {
        !matches!(self, LinkType::Unsupported(_))
    }
}

/// The key of a bidirectional flow: endpoints in canonical order (lower address/port first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    pub lo: Addr,
    pub hi: Addr,
    pub lo_port: u16,
    pub hi_port: u16,
    pub protocol: u8,
}

impl FlowKey {
    /// The key of a packet and whether its source is the key's `lo` side.
    #[inline]
    pub fn of(protocol: u8, src: Addr, dst: Addr, ports: Option<(u16, u16)>) -> (FlowKey, bool) {
        let (sp, dp) = ports.unwrap_or((0, 0));
        let src_is_lo = (src, sp) <= (dst, dp);
        let key = if src_is_lo {
            FlowKey {
                lo: src,
                hi: dst,
                lo_port: sp,
                hi_port: dp,
                protocol,
            }
        } else {
            FlowKey {
                lo: dst,
                hi: src,
                lo_port: dp,
                hi_port: sp,
                protocol,
            }
        };
        (key, src_is_lo)
    }
}

/// IP fragment position of a packet, for attributing fragments without transport headers to flows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fragment {
    /// Not fragmented.
    None,
    /// The first fragment: carries the transport header. `id` is the IP identification.
    First { id: u32 },
    /// A later fragment: no transport header.
    Later { id: u32 },
}

/// The fields of one IP packet that flow tracking and classification use.
#[derive(Clone, Copy, Debug)]
pub struct Decoded<'a> {
    pub ip_version: u8,
    pub src: Addr,
    pub dst: Addr,
    /// The flow's IP protocol: the transport, or AH (51) when an authentication header is present,
    /// since an AH association is the flow a firewall sees.
    pub protocol: u8,
    /// Source and destination ports (TCP and UDP; not for later fragments).
    pub ports: Option<(u16, u16)>,
    pub tcp_flags: u8,
    /// TCP sequence number (0 for other protocols or when cut by the snapshot length).
    pub tcp_seq: u32,
    pub fragment: Fragment,
    /// Transport payload as captured (may be cut by the snapshot length).
    pub payload: &'a [u8],
}

/// What became of one frame.
#[derive(Clone, Copy, Debug)]
pub enum Outcome<'a> {
    Ip(Decoded<'a>),
    /// A valid frame that carries no IP (ARP, LLDP, STP, …).
    NotIp(NotIp),
    Malformed(Malformed),
}

/// What a frame that carries no IP carries instead: the layer that says so and what it names,
/// counted in capture health (`"ethernet"`, `"LLDP"`; `"ppp"`, `"LCP"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NotIp {
    pub layer: &'static str,
    pub carries: &'static str,
}

const fn not_ip(layer: &'static str, carries: &'static str) -> Outcome<'static> {
    Outcome::NotIp(NotIp { layer, carries })
}

/// What a non-IP Ethernet type (or 802.3 length field) carries, for capture health.
fn ether_type_name(ether_type: u16) -> &'static str {
    match ether_type {
        0..=0x05ff => "802.3 LLC (STP, CDP, NetBIOS over LLC, …)",
        0x0806 => "ARP",
        0x8035 => "RARP",
        0x0842 => "Wake-on-LAN",
        0x809b => "AppleTalk",
        0x8137 | 0x8138 => "IPX",
        0x8863 => "PPPoE discovery",
        0x888e => "EAPOL (802.1X)",
        0x88cc => "LLDP",
        0x8809 => "slow protocols (LACP)",
        0x88e5 => "MACsec",
        0x88f7 => "PTP",
        0x8899 => "Realtek RRCP",
        0x9000 => "loopback test",
        _ => "another Ethernet type",
    }
}

/// Why a frame could not be attributed: the layer and a short reason, counted in capture health.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Malformed {
    pub layer: &'static str,
    pub reason: &'static str,
}

const fn bad(layer: &'static str, reason: &'static str) -> Outcome<'static> {
    Outcome::Malformed(Malformed { layer, reason })
}

/// A decoded frame held apart from the frame's bytes, so that one thread can decode and another use
/// the result later: an [`Outcome`] whose payload is kept as a range of the frame.
#[derive(Clone, Copy, Debug)]
pub struct Parsed {
    /// The outcome with an empty payload.
    outcome: Outcome<'static>,
    payload_at: u32,
    payload_len: u32,
}

impl Parsed {
    /// Detaches `outcome`, decoded from `frame`, from the frame's bytes.
    pub fn new(outcome: Outcome<'_>, frame: &[u8]) -> Parsed {
        let (outcome, at, len) = match outcome {
            Outcome::Ip(d) => {
                let at = (d.payload.as_ptr() as usize).wrapping_sub(frame.as_ptr() as usize);
                // Decoding only ever slices the frame; an empty payload may point anywhere.
                let (at, len) =
                    if d.payload.is_empty() || at.saturating_add(d.payload.len()) > frame.len() {
                        (0, 0)
                    } else {
                        (at, d.payload.len())
                    };
                (Outcome::Ip(Decoded { payload: &[], ..d }), at, len)
            }
            Outcome::NotIp(n) => (Outcome::NotIp(n), 0, 0),
            Outcome::Malformed(m) => (Outcome::Malformed(m), 0, 0),
        };
        Parsed {
            outcome,
            payload_at: at as u32,
            payload_len: len as u32,
        }
    }

    /// The packet's fields without its payload (`None`: not an IP packet), for what needs only
    /// the addresses, ports and flags ([`crate::flow::FlowTable::warm`]).
    #[inline]
    pub fn headers(&self) -> Option<&Decoded<'static>> {
        match &self.outcome {
            Outcome::Ip(d) => Some(d),
            _ => None,
        }
    }

    /// The outcome again, its payload borrowed from `frame` (the frame it was decoded from).
    #[inline]
    pub fn attach<'a>(&self, frame: &'a [u8]) -> Outcome<'a> {
        match self.outcome {
            Outcome::Ip(d) => {
                let at = self.payload_at as usize;
                let payload = frame
                    .get(at..at + self.payload_len as usize)
                    .unwrap_or_default();
                Outcome::Ip(Decoded { payload, ..d })
            }
            other => other,
        }
    }
}

/// Decodes one frame of the given link type.
pub fn decode(link: LinkType, frame: &[u8]) -> Outcome<'_> {
    if let Some(d) = fast_path(link, frame) {
        return d;
    }
    decode_sliced(link, frame)
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// The common case, decoded by hand: Ethernet (up to two VLAN tags), Linux cooked or raw framing,
/// then IPv4 without fragmentation or an authentication header, or IPv6 without extension headers.
/// Anything else — and anything at all unusual — returns `None` and takes the full etherparse path,
/// which gives the same fields for the frames this accepts (a property test checks it).
#[inline]
fn fast_path(link: LinkType, frame: &[u8]) -> Option<Outcome<'_>> {
    let (mut off, mut ether_type) = match link {
        LinkType::Ethernet if frame.len() >= 14 => (14, be16(frame, 12)),
        LinkType::LinuxSll if frame.len() >= 16 => (16, be16(frame, 14)),
        LinkType::LinuxSll2 if frame.len() >= 20 => (20, be16(frame, 0)),
        LinkType::Raw | LinkType::Ipv4 | LinkType::Ipv6 => match frame.first()? >> 4 {
            4 => (0, 0x0800),
            6 => (0, 0x86dd),
            _ => return None,
        },
        _ => return None,
    };
    if link == LinkType::Ethernet {
        for _ in 0..2 {
            if !matches!(ether_type, 0x8100 | 0x88a8 | 0x9100) {
                break;
            }
            if frame.len() < off + 4 {
                return None;
            }
            ether_type = be16(frame, off + 2);
            off += 4;
        }
    }
    let ip = &frame[off..];
    let (ip_version, src, dst, transport, payload, cut) = match ether_type {
        0x0800 => {
            if ip.len() < 20 || ip[0] >> 4 != 4 {
                return None;
            }
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            let total = usize::from(be16(ip, 2));
            let frag = be16(ip, 6);
            // Fragments (MF set or an offset), AH and odd lengths take the full path.
            if ihl < 20 || ip.len() < ihl || total < ihl || frag & 0x3fff != 0 || ip[9] == proto::AH
            {
                return None;
            }
            let (end, cut) = ip_extent(Some(total), ip.len());
            let src = Addr::from_v4([ip[12], ip[13], ip[14], ip[15]]);
            let dst = Addr::from_v4([ip[16], ip[17], ip[18], ip[19]]);
            (4, src, dst, ip[9], &ip[ihl..end], cut)
        }
        0x86dd => {
            if ip.len() < 40 || ip[0] >> 4 != 6 {
                return None;
            }
            let next = ip[6];
            // Extension headers take the full path.
            if !matches!(
                next,
                proto::TCP | proto::UDP | proto::ICMPV6 | proto::GRE | proto::ESP | 4 | 41 | 132
            ) {
                return None;
            }
            // A payload length of 0 with bytes after the header is unknown (jumbograms, large
            // segmentation offload).
            let declared = usize::from(be16(ip, 4));
            let known = declared != 0 || ip.len() == 40;
            let (end, cut) = ip_extent(known.then_some(40 + declared), ip.len());
            let mut a = [0u8; 16];
            a.copy_from_slice(&ip[8..24]);
            let mut b = [0u8; 16];
            b.copy_from_slice(&ip[24..40]);
            (
                6,
                Addr::from_v6(a),
                Addr::from_v6(b),
                next,
                &ip[40..end],
                cut,
            )
        }
        _ => return None,
    };
    let decoded = Decoded {
        ip_version,
        src,
        dst,
        protocol: transport,
        ports: None,
        tcp_flags: 0,
        tcp_seq: 0,
        fragment: Fragment::None,
        payload,
    };
    Some(transport_fields(decoded, transport, payload, cut))
}

/// Where an IP packet ends in the bytes captured from its first header byte, and whether the frame
/// was cut short — the one rule both decoding paths follow (etherparse's lax slicing applies it on
/// the full path, [`fast_path`] calls this; a property test holds them together).
///
/// `declared` is the packet's length from its own header (IPv4 total length; 40 + the IPv6 payload
/// length), `None` where the header leaves it unknown: an IPv4 total length of 0 (frames captured
/// before segmentation offload split them) or an IPv6 payload length of 0 with bytes after the
/// header (jumbograms, large segmentation offload). A declared length beyond the captured bytes means the snapshot
/// length cut the frame; bytes past a shorter one are link-layer padding. An unknown length runs to
/// the end of the frame, which then counts as possibly cut: a transport header too short for its
/// protocol is "cut by snaplen", never "truncated", because nothing in the packet says otherwise.
#[inline]
fn ip_extent(declared: Option<usize>, captured: usize) -> (usize, bool) {
    match declared {
        Some(total) => (total.min(captured), total > captured),
        None => (captured, true),
    }
}

/// Ethernet types that carry a further link layer before IP.
const PPPOE_DISCOVERY: u16 = 0x8863;
const PPPOE_SESSION: u16 = 0x8864;
const MPLS_UNICAST: u16 = 0x8847;
const MPLS_MULTICAST: u16 = 0x8848;

/// Layers of PPPoE, PPP, MPLS and pseudowire Ethernet a frame may nest before its IP header.
const MAX_NESTING: u8 = 4;

/// The full path: etherparse slices every layer.
fn decode_sliced(link: LinkType, frame: &[u8]) -> Outcome<'_> {
    decode_nested(link, frame, 0)
}

/// The Ethernet type after a frame's VLAN tags (at most four) and where its payload starts, or
/// `None` for a frame shorter than its headers (etherparse then names the fault).
fn ethernet_payload(frame: &[u8]) -> Option<(u16, usize)> {
    let mut off = 14;
    let mut ether_type = be16(frame.get(..14)?, 12);
    for _ in 0..4 {
        if !matches!(ether_type, 0x8100 | 0x88a8 | 0x9100) {
            break;
        }
        ether_type = be16(frame.get(..off + 4)?, off + 2);
        off += 4;
    }
    Some((ether_type, off))
}

/// A frame's payload after an Ethernet type that nests another link layer (PPPoE, MPLS), decoded
/// down to IP; `None` for every other Ethernet type.
fn nested(ether_type: u16, rest: &[u8], depth: u8) -> Option<Outcome<'_>> {
    Some(match ether_type {
        PPPOE_SESSION => pppoe(rest, depth),
        PPPOE_DISCOVERY => not_ip("pppoe", "PPPoE discovery"),
        MPLS_UNICAST | MPLS_MULTICAST => mpls(rest, depth),
        _ => return None,
    })
}

/// An IP packet whose link layer says which version it is: the version nibble must agree.
fn ip_of(ether_type: u16, ip: &[u8]) -> Outcome<'_> {
    from_sliced(
        &LaxSlicedPacket::from_ether_type(EtherType(ether_type), ip),
        Some(ether_type),
    )
}

/// RFC 2516 session stage: version and type 1, code 0, the session id, a payload length, then PPP.
/// A length beyond the bytes captured is a cut frame; bytes past it are Ethernet padding.
fn pppoe(b: &[u8], depth: u8) -> Outcome<'_> {
    if b.len() < 6 {
        return bad("pppoe", "header truncated");
    }
    if b[0] != 0x11 {
        return bad("pppoe", "version or type is not 1");
    }
    if b[1] != 0 {
        return bad("pppoe", "session frame with a nonzero code");
    }
    let len = usize::from(be16(b, 4));
    let end = (6 + len).min(b.len());
    ppp(&b[6..end], depth + 1)
}

/// A PPP frame from its protocol field (RFC 1661; one byte when the field is compressed, RFC 1661
/// 6.5: an odd first byte).
fn ppp(b: &[u8], depth: u8) -> Outcome<'_> {
    if depth > MAX_NESTING {
        return bad("link", "more than four nested link layers");
    }
    let (protocol, rest) = match b {
        [p, rest @ ..] if p & 1 == 1 => (u16::from(*p), rest),
        [hi, lo, rest @ ..] => (u16::from_be_bytes([*hi, *lo]), rest),
        _ => return bad("ppp", "protocol field truncated"),
    };
    match protocol {
        0x0021 => ip_of(0x0800, rest),
        0x0057 => ip_of(0x86dd, rest),
        0x0281 | 0x0283 => mpls(rest, depth + 1),
        0xc021 => not_ip("ppp", "LCP"),
        0xc023 => not_ip("ppp", "PAP"),
        0xc223 => not_ip("ppp", "CHAP"),
        0xc227 => not_ip("ppp", "EAP"),
        0x8021 => not_ip("ppp", "IPCP"),
        0x8057 => not_ip("ppp", "IPV6CP"),
        0x80fd | 0x00fd => not_ip("ppp", "compressed datagram (CCP)"),
        _ => not_ip("ppp", "another PPP protocol"),
    }
}

/// An MPLS label stack (RFC 3032: 4 bytes a label, the last with the bottom-of-stack bit), then IPv4
/// or IPv6 by the version nibble, or an Ethernet pseudowire behind its control word (RFC 4448: a
/// first nibble of 0). At most 16 labels.
fn mpls(b: &[u8], depth: u8) -> Outcome<'_> {
    if depth > MAX_NESTING {
        return bad("link", "more than four nested link layers");
    }
    let mut off = 0;
    loop {
        let Some(entry) = b.get(off..off + 4) else {
            return bad("mpls", "label stack truncated");
        };
        off += 4;
        if entry[2] & 1 == 1 {
            break;
        }
        if off >= 16 * 4 {
            return bad("mpls", "more than 16 labels");
        }
    }
    let rest = &b[off..];
    match rest.first().map(|v| v >> 4) {
        Some(4) => ip_of(0x0800, rest),
        Some(6) => ip_of(0x86dd, rest),
        // An Ethernet pseudowire: with a control word (RFC 4448 3, first nibble 0) or without one,
        // when the inner frame's destination MAC also begins with a zero nibble (as many vendors'
        // do). Nothing in the frame says which: the reading that finds IP wins, with the control
        // word first.
        Some(0) if rest.len() >= 14 => {
            let with_cw = (rest.len() >= 4 + 14)
                .then(|| decode_nested(LinkType::Ethernet, &rest[4..], depth + 1));
            match with_cw {
                Some(o @ Outcome::Ip(_)) => o,
                _ => match decode_nested(LinkType::Ethernet, rest, depth + 1) {
                    o @ Outcome::Ip(_) => o,
                    without => with_cw.unwrap_or(without),
                },
            }
        }
        Some(_) => not_ip("mpls", "another MPLS payload"),
        None => bad("mpls", "no payload after the label stack"),
    }
}

fn decode_nested(link: LinkType, frame: &[u8], depth: u8) -> Outcome<'_> {
    if frame.is_empty() {
        return bad("link", "empty frame");
    }
    if depth > MAX_NESTING {
        return bad("link", "more than four nested link layers");
    }
    match link {
        LinkType::Ethernet => {
            if let Some((ether_type, off)) = ethernet_payload(frame) {
                if let Some(outcome) = nested(ether_type, &frame[off..], depth + 1) {
                    return outcome;
                }
            }
            match LaxSlicedPacket::from_ethernet(frame) {
                Ok(p) => {
                    let ether_type = match (p.link_exts.last(), &p.link) {
                        (Some(etherparse::LaxLinkExtSlice::Vlan(v)), _) => Some(v.ether_type().0),
                        (None, Some(etherparse::LinkSlice::Ethernet2(e))) => Some(e.ether_type().0),
                        _ => None,
                    };
                    from_sliced(&p, ether_type)
                }
                Err(_) => bad("ethernet", "frame shorter than an Ethernet header"),
            }
        }
        // Linux cooked headers: 16 bytes with the protocol at 14 (SLL), 20 with it at 0 (SLL2).
        LinkType::LinuxSll | LinkType::LinuxSll2 => {
            let (len, at, layer, reason) = if link == LinkType::LinuxSll {
                (16, 14, "sll", "frame shorter than a Linux cooked header")
            } else {
                (20, 0, "sll2", "frame shorter than a Linux cooked v2 header")
            };
            if frame.len() < len {
                return bad(layer, reason);
            }
            let ether_type = be16(frame, at);
            nested(ether_type, &frame[len..], depth + 1).unwrap_or_else(|| {
                from_sliced(
                    &LaxSlicedPacket::from_ether_type(EtherType(ether_type), &frame[len..]),
                    Some(ether_type),
                )
            })
        }
        LinkType::Ppp => {
            // The HDLC address and control bytes, when the capture kept them (RFC 1662 3.1).
            let b = frame.strip_prefix(&[0xff, 0x03]).unwrap_or(frame);
            ppp(b, depth + 1)
        }
        LinkType::PppEther => pppoe(frame, depth + 1),
        LinkType::CiscoHdlc => {
            if frame.len() < 4 {
                return bad("c_hdlc", "frame shorter than a Cisco HDLC header");
            }
            let ether_type = be16(frame, 2);
            match ether_type {
                0x0800 | 0x86dd => ip_of(ether_type, &frame[4..]),
                _ => nested(ether_type, &frame[4..], depth + 1)
                    .unwrap_or_else(|| not_ip("c_hdlc", ether_type_name(ether_type))),
            }
        }
        LinkType::Null | LinkType::Loop => {
            if frame.len() < 4 {
                return bad("loopback", "frame shorter than a loopback header");
            }
            let raw = [frame[0], frame[1], frame[2], frame[3]];
            // The null header is in the capturing host's byte order: accept either.
            let family = if link == LinkType::Loop {
                u32::from_be_bytes(raw)
            } else {
                u32::from_le_bytes(raw).min(u32::from_be_bytes(raw))
            };
            match family {
                // AF_INET; AF_INET6 on BSD (24), FreeBSD (28), macOS (30).
                2 | 24 | 28 | 30 => match LaxSlicedPacket::from_ip(&frame[4..]) {
                    Ok(p) => from_sliced(&p, None),
                    Err(_) => bad("ip", "invalid IP header"),
                },
                _ => not_ip("loopback", "another address family"),
            }
        }
        LinkType::Raw | LinkType::Ipv4 | LinkType::Ipv6 => match LaxSlicedPacket::from_ip(frame) {
            Ok(p) => from_sliced(&p, None),
            Err(etherparse::err::ip::LaxHeaderSliceError::Len(_)) => bad("ip", "header truncated"),
            Err(etherparse::err::ip::LaxHeaderSliceError::Content(_)) => {
                bad("ip", "invalid IP header")
            }
        },
        LinkType::Unsupported(_) => bad("link", "unsupported link type"),
    }
}

/// `ether_type`: the link layer's protocol field where it has one, to catch an IP version that
/// contradicts it.
fn from_sliced<'a>(p: &LaxSlicedPacket<'a>, ether_type: Option<u16>) -> Outcome<'a> {
    // A stop at the IP layer or its extensions leaves nothing we can attribute reliably.
    if let Some((err, layer)) = &p.stop_err {
        if let Some(mut m) = ip_layer_error(err, *layer) {
            if m.layer == "ip" {
                m.layer = match ether_type {
                    Some(0x0800) => "ipv4",
                    Some(0x86dd) => "ipv6",
                    _ => "ip",
                };
            }
            return Outcome::Malformed(m);
        }
    }
    let net = match &p.net {
        Some(net) => net,
        None => {
            return match &p.stop_err {
                Some((err, layer)) => Outcome::Malformed(stop_reason(err, *layer)),
                None => not_ip(
                    "ethernet",
                    ether_type.map_or("802.3 LLC (STP, CDP, NetBIOS over LLC, …)", ether_type_name),
                ),
            }
        }
    };
    let (ip_version, src, dst, has_ah, fragment, payload) = match net {
        LaxNetSlice::Ipv4(v4) => {
            let h = v4.header();
            // A total length of 0 is unknown (captured before segmentation offload): etherparse
            // takes the packet to the frame's end, as `ip_extent` does.
            if h.total_len() != 0 && usize::from(h.total_len()) < usize::from(h.ihl()) * 4 {
                return bad("ipv4", "total length below header length");
            }
            let pl = v4.payload();
            let fragment = if h.is_fragmenting_payload() {
                let id = u32::from(h.identification());
                if h.fragments_offset().value() == 0 {
                    Fragment::First { id }
                } else {
                    Fragment::Later { id }
                }
            } else {
                Fragment::None
            };
            let has_ah = h.protocol().0 == proto::AH;
            (
                4,
                Addr::from_v4(h.source()),
                Addr::from_v4(h.destination()),
                has_ah,
                fragment,
                pl,
            )
        }
        LaxNetSlice::Ipv6(v6) => {
            let h = v6.header();
            let mut fragment = Fragment::None;
            let mut has_ah = false;
            for ext in v6.extensions().clone().into_iter() {
                match ext {
                    etherparse::Ipv6ExtensionSlice::Fragment(f) if f.is_fragmenting_payload() => {
                        let id = f.identification();
                        fragment = if f.fragment_offset().value() == 0 {
                            Fragment::First { id }
                        } else {
                            Fragment::Later { id }
                        };
                    }
                    etherparse::Ipv6ExtensionSlice::Authentication(_) => has_ah = true,
                    _ => {}
                }
            }
            (
                6,
                Addr::from_v6(h.source()),
                Addr::from_v6(h.destination()),
                has_ah,
                fragment,
                v6.payload(),
            )
        }
        LaxNetSlice::Arp(_) => return not_ip("ethernet", "ARP"),
    };
    match (ether_type, ip_version) {
        (Some(0x0800), 6) => return bad("ipv4", "version is not 4"),
        (Some(0x86dd), 4) => return bad("ipv6", "version is not 6"),
        _ => {}
    }
    let transport = payload.ip_number.0;
    let data = payload.payload;
    let protocol = if has_ah { proto::AH } else { transport };
    let mut decoded = Decoded {
        ip_version,
        src,
        dst,
        protocol,
        ports: None,
        tcp_flags: 0,
        tcp_seq: 0,
        fragment,
        payload: data,
    };
    if has_ah || matches!(fragment, Fragment::Later { .. }) {
        decoded.payload = &[];
        return Outcome::Ip(decoded);
    }
    // `incomplete` means the snapshot length cut the IP payload; short headers are then expected.
    let cut = payload.incomplete || payload.len_source == etherparse::LenSource::Slice;
    transport_fields(decoded, transport, data, cut)
}

/// Reads the transport fields (ports, TCP flags and sequence number, payload) of a packet whose IP
/// layer is decoded; `cut` is true when the snapshot length cut the IP payload.
#[inline]
fn transport_fields<'a>(
    mut decoded: Decoded<'a>,
    transport: u8,
    data: &'a [u8],
    cut: bool,
) -> Outcome<'a> {
    match transport {
        proto::TCP => {
            if data.len() < 4 {
                return if cut {
                    bad("tcp", "header cut by snaplen")
                } else {
                    bad("tcp", "header truncated")
                };
            }
            decoded.ports = Some((
                u16::from_be_bytes([data[0], data[1]]),
                u16::from_be_bytes([data[2], data[3]]),
            ));
            if data.len() >= 14 {
                decoded.tcp_flags = data[13];
                decoded.tcp_seq = u32::from_be_bytes([data[4], data[5], data[6], data[7]]);
                let header_len = usize::from(data[12] >> 4) * 4;
                if header_len < 20 {
                    return bad("tcp", "data offset below 5");
                }
                if header_len > data.len() {
                    if !cut {
                        return bad("tcp", "data offset beyond the segment");
                    }
                    decoded.payload = &[];
                } else {
                    decoded.payload = &data[header_len..];
                }
            } else if !cut {
                return bad("tcp", "header truncated");
            } else {
                decoded.payload = &[];
            }
        }
        proto::UDP => {
            if data.len() < 8 {
                if !cut || data.len() < 4 {
                    return if cut {
                        bad("udp", "header cut by snaplen")
                    } else {
                        bad("udp", "header truncated")
                    };
                }
                decoded.payload = &[];
            } else {
                decoded.payload = &data[8..];
            }
            decoded.ports = Some((
                u16::from_be_bytes([data[0], data[1]]),
                u16::from_be_bytes([data[2], data[3]]),
            ));
        }
        // RFC 2784 / 2637: version 0 (GRE) or 1 (enhanced GRE, PPTP); anything else is not GRE.
        proto::GRE if data.len() >= 2 && !cut && data[1] & 0x07 > 1 => {
            return bad("gre", "unknown GRE version");
        }
        _ => {}
    }
    Outcome::Ip(decoded)
}

/// Errors at the IP layer or its extension headers make a frame malformed; later-layer stops do not
/// (the transport fields are read by hand above).
fn ip_layer_error(err: &SliceError, layer: Layer) -> Option<Malformed> {
    match layer {
        Layer::IpHeader
        | Layer::Ipv4Header
        | Layer::Ipv4Packet
        | Layer::Ipv6Header
        | Layer::Ipv6Packet
        | Layer::Ipv6ExtHeader
        | Layer::Ipv6HopByHopHeader
        | Layer::Ipv6DestOptionsHeader
        | Layer::Ipv6RouteHeader
        | Layer::Ipv6FragHeader
        | Layer::IpAuthHeader => {
            // An extension header cut by the snapshot length still leaves the addresses; but without
            // the transport we cannot place the packet in a port flow: count it.
            Some(stop_reason(err, layer))
        }
        _ => None,
    }
}

fn stop_reason(err: &SliceError, layer: Layer) -> Malformed {
    let layer_name = match layer {
        Layer::LinuxSllHeader => "sll",
        Layer::Ethernet2Header | Layer::EtherPayload => "ethernet",
        Layer::VlanHeader => "vlan",
        Layer::MacsecHeader | Layer::MacsecPacket => "macsec",
        Layer::IpHeader => "ip",
        Layer::Ipv4Header | Layer::Ipv4Packet => "ipv4",
        Layer::IpAuthHeader => "ip-auth",
        Layer::Ipv6Header | Layer::Ipv6Packet => "ipv6",
        Layer::Ipv6ExtHeader
        | Layer::Ipv6HopByHopHeader
        | Layer::Ipv6DestOptionsHeader
        | Layer::Ipv6RouteHeader
        | Layer::Ipv6FragHeader => "ipv6-ext",
        Layer::TcpHeader => "tcp",
        Layer::UdpHeader | Layer::UdpPayload => "udp",
        _ => "other",
    };
    use etherparse::err::{ip, ipv4, ipv6, ipv6_exts};
    let reason = match err {
        SliceError::Len(l) => match l.len_source {
            etherparse::LenSource::Slice => "header truncated",
            _ => "length field smaller than header",
        },
        SliceError::Ip(ip::HeaderError::UnsupportedIpVersion { .. }) => "unsupported IP version",
        SliceError::Ip(ip::HeaderError::Ipv4HeaderLengthSmallerThanHeader { .. }) => "IHL below 5",
        SliceError::Ipv4(ipv4::HeaderError::UnexpectedVersion { .. }) => "version is not 4",
        SliceError::Ipv4(ipv4::HeaderError::HeaderLengthSmallerThanHeader { .. }) => "IHL below 5",
        SliceError::Ipv6(ipv6::HeaderError::UnexpectedVersion { .. }) => "version is not 6",
        SliceError::Ipv6Exts(ipv6_exts::HeaderError::HopByHopNotAtStart) => {
            "hop-by-hop header not first"
        }
        SliceError::Ipv6Exts(_) => "invalid extension header",
        SliceError::Ipv4Exts(_) => "invalid authentication header",
        SliceError::Tcp(_) => "invalid TCP header",
        SliceError::LinuxSll(_) => "invalid Linux cooked header",
        SliceError::Macsec(_) => "invalid MACsec header",
    };
    let layer = match err {
        SliceError::Ip(ip::HeaderError::Ipv4HeaderLengthSmallerThanHeader { .. }) => "ipv4",
        _ => layer_name,
    };
    Malformed { layer, reason }
}

/// Decoded packets for the tests of later stages.
#[cfg(test)]
pub(crate) mod test_packets {
    use super::*;

    /// 192.0.2.`last`.
    pub fn addr(last: u8) -> Addr {
        Addr::from_v4([192, 0, 2, last])
    }

    /// A TCP packet from 192.0.2.`src`:`sport` to 192.0.2.`dst`:`dport`, without payload.
    pub fn tcp(src: u8, sport: u16, dst: u8, dport: u16, flags: u8) -> Decoded<'static> {
        Decoded {
            ip_version: 4,
            src: addr(src),
            dst: addr(dst),
            protocol: proto::TCP,
            ports: Some((sport, dport)),
            tcp_flags: flags,
            tcp_seq: 0,
            fragment: Fragment::None,
            payload: &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    const MAC_A: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const MAC_B: [u8; 6] = [2, 0, 0, 0, 0, 2];

    fn tcp_v4(sport: u16, dport: u16, syn: bool, payload: &[u8]) -> Vec<u8> {
        let mut b = PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
            .tcp(sport, dport, 1000, 64240);
        if syn {
            b = b.syn();
        }
        let mut out = Vec::new();
        b.write(&mut out, payload).unwrap();
        out
    }

    fn ip(outcome: Outcome<'_>) -> Decoded<'_> {
        match outcome {
            Outcome::Ip(d) => d,
            other => panic!("expected an IP packet, got {other:?}"),
        }
    }

    fn malformed(outcome: Outcome<'_>) -> Malformed {
        match outcome {
            Outcome::Malformed(m) => m,
            other => panic!("expected malformed, got {other:?}"),
        }
    }

    #[test]
    fn ethernet_tcp_fields() {
        let f = tcp_v4(49152, 445, true, b"hello");
        let d = ip(decode(LinkType::Ethernet, &f));
        assert_eq!(d.src.to_string(), "192.0.2.1");
        assert_eq!(d.dst.to_string(), "192.0.2.2");
        assert_eq!((d.protocol, d.ports), (proto::TCP, Some((49152, 445))));
        assert_eq!(d.tcp_flags & tcp_flags::SYN, tcp_flags::SYN);
        assert_eq!(d.payload, b"hello");
        assert_eq!(d.fragment, Fragment::None);
    }

    #[test]
    fn snaplen_cut_keeps_ports_and_flags() {
        let f = tcp_v4(49152, 445, false, &[0u8; 1000]);
        let d = ip(decode(LinkType::Ethernet, &f[..54 - 6]));
        assert_eq!(d.ports, Some((49152, 445)));
        assert_eq!(d.tcp_flags & tcp_flags::ACK, 0);
        let d = ip(decode(LinkType::Ethernet, &f[..14 + 20 + 4]));
        assert_eq!(d.ports, Some((49152, 445)));
    }

    #[test]
    fn vlan_and_qinq() {
        let mut out = Vec::new();
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .double_vlan(100.try_into().unwrap(), 20.try_into().unwrap())
            .ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
            .udp(5000, 53)
            .write(&mut out, b"q")
            .unwrap();
        let d = ip(decode(LinkType::Ethernet, &out));
        assert_eq!((d.protocol, d.ports), (proto::UDP, Some((5000, 53))));
    }

    #[test]
    fn linux_cooked_and_loopback_and_raw() {
        let eth = tcp_v4(50000, 389, true, b"");
        let ip_part = &eth[14..];
        let mut sll = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00];
        sll.extend_from_slice(ip_part);
        assert_eq!(
            ip(decode(LinkType::LinuxSll, &sll)).ports,
            Some((50000, 389))
        );
        let mut sll2 = vec![
            0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0,
        ];
        sll2.extend_from_slice(ip_part);
        assert_eq!(
            ip(decode(LinkType::LinuxSll2, &sll2)).ports,
            Some((50000, 389))
        );
        let mut null = vec![2, 0, 0, 0];
        null.extend_from_slice(ip_part);
        assert_eq!(ip(decode(LinkType::Null, &null)).ports, Some((50000, 389)));
        let mut null_be = vec![0, 0, 0, 2];
        null_be.extend_from_slice(ip_part);
        assert_eq!(
            ip(decode(LinkType::Null, &null_be)).ports,
            Some((50000, 389))
        );
        assert_eq!(ip(decode(LinkType::Raw, ip_part)).ports, Some((50000, 389)));
    }

    #[test]
    fn ipv6_with_extension_headers_and_fragments() {
        // IPv6, hop-by-hop (8 bytes), fragment header (first fragment, M=1), UDP 53.
        let mut pkt = vec![0x60, 0, 0, 0, 0, 0, 0, 64];
        let src = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let dst = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
        pkt.extend_from_slice(&src);
        pkt.extend_from_slice(&dst);
        pkt.extend_from_slice(&[44, 0, 1, 4, 0, 0, 0, 0]); // hop-by-hop → fragment, PadN
        pkt.extend_from_slice(&[17, 0, 0, 1, 0, 0, 0, 7]); // fragment → UDP, offset 0, M=1, id 7
        pkt.extend_from_slice(&[0xc3, 0x50, 0, 53, 0, 16, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
        let plen = (pkt.len() - 40) as u16;
        pkt[4..6].copy_from_slice(&plen.to_be_bytes());
        pkt[6] = 0; // next header: hop-by-hop
        let d = ip(decode(LinkType::Raw, &pkt));
        assert_eq!(d.ip_version, 6);
        assert_eq!(d.fragment, Fragment::First { id: 7 });
        assert_eq!((d.protocol, d.ports), (proto::UDP, Some((50000, 53))));
        assert_eq!(d.src.to_string(), "2001:db8::1");
    }

    #[test]
    fn ipv4_later_fragment_has_no_ports() {
        let mut out = Vec::new();
        let mut h = etherparse::Ipv4Header::new(
            8,
            64,
            etherparse::IpNumber::UDP,
            [192, 0, 2, 1],
            [192, 0, 2, 2],
        )
        .unwrap();
        h.identification = 77;
        h.fragment_offset = 185.try_into().unwrap();
        h.write(&mut out).unwrap();
        out.extend_from_slice(&[9; 8]);
        let d = ip(decode(LinkType::Raw, &out));
        assert_eq!(d.fragment, Fragment::Later { id: 77 });
        assert_eq!(d.ports, None);
        assert_eq!(d.protocol, proto::UDP);
    }

    #[test]
    fn authentication_header_makes_the_flow_ah() {
        let mut out = Vec::new();
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ip(etherparse::IpHeaders::Ipv4(
                etherparse::Ipv4Header::new(
                    0,
                    64,
                    etherparse::IpNumber::AUTHENTICATION_HEADER,
                    [192, 0, 2, 1],
                    [192, 0, 2, 2],
                )
                .unwrap(),
                etherparse::Ipv4Extensions {
                    auth: Some(
                        etherparse::IpAuthHeader::new(etherparse::IpNumber::UDP, 1, 1, &[0; 12])
                            .unwrap(),
                    ),
                },
            ))
            .udp(500, 500)
            .write(&mut out, b"x")
            .unwrap();
        let d = ip(decode(LinkType::Ethernet, &out));
        assert_eq!((d.protocol, d.ports), (proto::AH, None));
    }

    #[test]
    fn malformed_frames_are_named() {
        assert_eq!(
            malformed(decode(LinkType::Ethernet, &[0; 10])).layer,
            "ethernet"
        );
        assert_eq!(
            malformed(decode(LinkType::Ethernet, &[])).reason,
            "empty frame"
        );
        let mut f = tcp_v4(1, 2, false, b"");
        f[14] = 0x43; // IHL 3
        assert_eq!(
            malformed(decode(LinkType::Ethernet, &f)),
            Malformed {
                layer: "ipv4",
                reason: "IHL below 5"
            }
        );
        let mut f = tcp_v4(1, 2, false, b"");
        f[14 + 20 + 12] = 0x20; // data offset 2
        assert_eq!(
            malformed(decode(LinkType::Ethernet, &f)),
            Malformed {
                layer: "tcp",
                reason: "data offset below 5"
            }
        );
        let mut f = tcp_v4(1, 2, false, b"");
        f[14 + 20 + 12] = 0xf0; // data offset 15 in a 20-byte segment, not cut by snaplen
        assert_eq!(
            malformed(decode(LinkType::Ethernet, &f)),
            Malformed {
                layer: "tcp",
                reason: "data offset beyond the segment"
            }
        );
        let mut f = tcp_v4(1, 2, false, b"");
        f[14] = 0x65; // version 6 in an IPv4 ethertype
        assert_eq!(malformed(decode(LinkType::Ethernet, &f)).layer, "ipv4");
        assert_eq!(
            malformed(decode(LinkType::Unsupported(147), &f)).reason,
            "unsupported link type"
        );
    }

    #[test]
    fn arp_is_not_ip() {
        let mut f = vec![0xff; 12];
        f.extend_from_slice(&[0x08, 0x06]);
        f.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
        f.extend_from_slice(&[0; 20]);
        assert!(matches!(
            decode(LinkType::Ethernet, &f),
            Outcome::NotIp(NotIp { carries: "ARP", .. })
        ));
    }

    #[test]
    fn fast_path_takes_the_common_frames_and_leaves_the_rest() {
        let f = tcp_v4(49152, 445, true, b"hello");
        assert!(matches!(
            fast_path(LinkType::Ethernet, &f),
            Some(Outcome::Ip(_))
        ));
        assert!(matches!(
            fast_path(LinkType::Raw, &f[14..]),
            Some(Outcome::Ip(_))
        ));
        // Cut by the snapshot length: still the fast path, same answer.
        assert!(same(
            &fast_path(LinkType::Ethernet, &f[..40]).unwrap(),
            &decode_sliced(LinkType::Ethernet, &f[..40])
        ));
        // Version mismatch, IHL lies, fragments: the full path names them.
        let mut bad_version = f.clone();
        bad_version[14] = 0x65;
        assert!(fast_path(LinkType::Ethernet, &bad_version).is_none());
        let mut frag = f.clone();
        frag[14 + 6] = 0x20; // MF
        assert!(fast_path(LinkType::Ethernet, &frag).is_none());
        assert!(fast_path(LinkType::Null, &f).is_none());
    }

    /// Regression: an IPv6/UDP frame cut to 55 bytes whose payload length was zeroed was "udp: header
    /// truncated" on the fast path and "udp: header cut by snaplen" on the full path, so the health
    /// counters depended on the path a frame took. A payload length of 0 with bytes after the header
    /// is unknown, so the short header counts as cut; with nothing after the header it is truncated.
    #[test]
    fn ipv6_payload_length_zero_names_the_same_fault_on_both_paths() {
        let mut f = Vec::new();
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv6(
                [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
                64,
            )
            .udp(53, 53)
            .write(&mut f, &[])
            .unwrap();
        f[18] = 0;
        f[19] = 0;
        let cut = &f[..55];
        let want = Malformed {
            layer: "udp",
            reason: "header cut by snaplen",
        };
        assert_eq!(malformed(fast_path(LinkType::Ethernet, cut).unwrap()), want);
        assert_eq!(malformed(decode_sliced(LinkType::Ethernet, cut)), want);
        let header_only = &f[..54];
        let want = Malformed {
            layer: "udp",
            reason: "header truncated",
        };
        assert_eq!(
            malformed(fast_path(LinkType::Ethernet, header_only).unwrap()),
            want
        );
        assert_eq!(
            malformed(decode_sliced(LinkType::Ethernet, header_only)),
            want
        );
    }

    /// Frames captured before segmentation offload split them carry an IPv4 total length of 0: the
    /// packet runs to the end of the frame (they were "total length below header length").
    #[test]
    fn ipv4_total_length_zero_is_a_segmentation_offload_frame() {
        let mut f = tcp_v4(49152, 445, false, &[7u8; 3000]);
        f[16] = 0;
        f[17] = 0;
        let d = ip(decode(LinkType::Ethernet, &f));
        assert_eq!(d.ports, Some((49152, 445)));
        assert_eq!(d.payload.len(), 3000);
        // Below the header length but not 0 still lies.
        f[17] = 10;
        assert_eq!(
            malformed(decode(LinkType::Ethernet, &f)),
            Malformed {
                layer: "ipv4",
                reason: "total length below header length"
            }
        );
    }

    fn same(a: &Outcome<'_>, b: &Outcome<'_>) -> bool {
        match (a, b) {
            (Outcome::Ip(x), Outcome::Ip(y)) => {
                (
                    x.ip_version,
                    x.src,
                    x.dst,
                    x.protocol,
                    x.ports,
                    x.tcp_flags,
                    x.tcp_seq,
                    x.fragment,
                    x.payload,
                ) == (
                    y.ip_version,
                    y.src,
                    y.dst,
                    y.protocol,
                    y.ports,
                    y.tcp_flags,
                    y.tcp_seq,
                    y.fragment,
                    y.payload,
                )
            }
            (Outcome::NotIp(a), Outcome::NotIp(b)) => a == b,
            (Outcome::Malformed(x), Outcome::Malformed(y)) => x == y,
            _ => false,
        }
    }

    /// Overwrites one header length field of a built Ethernet frame (`ip` = offset of the IP header):
    /// the IP length (IPv4 total length, IPv6 payload length), the IPv4 IHL, the TCP data offset or the
    /// UDP length, or the Ethernet/VLAN type before the IP header.
    fn lie(frame: &mut [u8], ip: usize, v6: bool, tcp: bool, field: u8, value: u16) {
        let transport = ip + if v6 { 40 } else { 20 };
        let mut put16 = |at: usize, v: u16| {
            if at + 2 <= frame.len() {
                frame[at..at + 2].copy_from_slice(&v.to_be_bytes());
            }
        };
        match field {
            0 => put16(ip + if v6 { 4 } else { 2 }, value),
            1 if !v6 => {
                if ip < frame.len() {
                    frame[ip] = 0x40 | (value as u8 & 0x0f);
                }
            }
            1 => put16(ip + 4, value % 64),
            2 if tcp => {
                if transport + 12 < frame.len() {
                    frame[transport + 12] = (value as u8 & 0x0f) << 4;
                }
            }
            2 => put16(transport + 4, value % 64),
            _ => put16(
                ip - 2,
                [0x0800, 0x86dd, 0x8100, value][usize::from(value % 4)],
            ),
        }
    }

    /// `ip` wrapped in the given link layers: PPPoE session (with its PPP protocol), MPLS labels,
    /// an Ethernet pseudowire.
    fn pppoe_frame(ip: &[u8], ppp_protocol: &[u8], padding: usize) -> Vec<u8> {
        let mut f = vec![0xff; 12];
        f.extend_from_slice(&PPPOE_SESSION.to_be_bytes());
        f.extend_from_slice(&[0x11, 0x00, 0x12, 0x34]);
        let len = (ppp_protocol.len() + ip.len()) as u16;
        f.extend_from_slice(&len.to_be_bytes());
        f.extend_from_slice(ppp_protocol);
        f.extend_from_slice(ip);
        f.extend(std::iter::repeat_n(0, padding));
        f
    }

    fn mpls_labels(labels: &[u32]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, l) in labels.iter().enumerate() {
            let bos = u32::from(i + 1 == labels.len());
            out.extend_from_slice(&((l << 12) | (bos << 8) | 64).to_be_bytes());
        }
        out
    }

    fn mpls_frame(ip: &[u8], labels: &[u32]) -> Vec<u8> {
        let mut f = vec![0xff; 12];
        f.extend_from_slice(&MPLS_UNICAST.to_be_bytes());
        f.extend(mpls_labels(labels));
        f.extend_from_slice(ip);
        f
    }

    fn ports_of(o: &Outcome<'_>) -> Option<(u16, u16)> {
        match o {
            Outcome::Ip(d) => d.ports,
            _ => None,
        }
    }

    #[test]
    fn pppoe_sessions_carry_ip_and_pppoe_discovery_does_not() {
        let eth = tcp_v4(49152, 88, true, b"krb");
        let ip = &eth[14..];
        let plain = decode(LinkType::Raw, ip);
        for (protocol, pad) in [(&[0x00, 0x21][..], 0), (&[0x21][..], 10)] {
            let f = pppoe_frame(ip, protocol, pad);
            let o = decode(LinkType::Ethernet, &f);
            assert!(same(&o, &plain), "{o:?}");
            assert_eq!(ports_of(&o), Some((49152, 88)));
            // The session payload without Ethernet (LINKTYPE_PPP_ETHER).
            assert!(same(&decode(LinkType::PppEther, &f[14..]), &plain));
        }
        // A session frame that says IPv4 but holds IPv6 is malformed, not guessed.
        let mut v6 = vec![0x60, 0, 0, 0, 0, 0, 17, 64];
        v6.extend_from_slice(&[0; 32]);
        assert!(matches!(
            decode(LinkType::Ethernet, &pppoe_frame(&v6, &[0x00, 0x21], 0)),
            Outcome::Malformed(Malformed { layer: "ipv4", .. })
        ));
        let mut padi = vec![0xff; 12];
        padi.extend_from_slice(&[0x88, 0x63, 0x11, 0x09, 0, 0, 0, 0]);
        assert!(matches!(
            decode(LinkType::Ethernet, &padi),
            Outcome::NotIp(NotIp {
                carries: "PPPoE discovery",
                ..
            })
        ));
        let lcp = pppoe_frame(&[1, 1, 0, 4], &[0xc0, 0x21], 0);
        assert!(matches!(
            decode(LinkType::Ethernet, &lcp),
            Outcome::NotIp(NotIp {
                layer: "ppp",
                carries: "LCP"
            })
        ));
        let mut bad_version = pppoe_frame(ip, &[0x00, 0x21], 0);
        bad_version[14] = 0x21;
        assert!(matches!(
            decode(LinkType::Ethernet, &bad_version),
            Outcome::Malformed(Malformed { layer: "pppoe", .. })
        ));
        assert!(matches!(
            decode(LinkType::Ethernet, &pppoe_frame(ip, &[0x00, 0x21], 0)[..17]),
            Outcome::Malformed(Malformed { layer: "pppoe", .. })
        ));
    }

    #[test]
    fn mpls_label_stacks_and_ethernet_pseudowires_carry_ip() {
        let eth = tcp_v4(49153, 389, true, b"ldap");
        let ip = &eth[14..];
        let plain = decode(LinkType::Raw, ip);
        for labels in [&[16][..], &[16, 1000, 70000]] {
            let f = mpls_frame(ip, labels);
            let o = decode(LinkType::Ethernet, &f);
            assert!(same(&o, &plain), "{labels:?}: {o:?}");
        }
        // An Ethernet pseudowire: control word, then a whole Ethernet frame with a VLAN tag.
        let mut inner = eth[..12].to_vec();
        inner.extend_from_slice(&[0x81, 0x00, 0x00, 0x07, 0x08, 0x00]);
        inner.extend_from_slice(ip);
        let mut pw = vec![0, 0, 0, 0];
        pw.extend_from_slice(&inner);
        let f = mpls_frame(&pw, &[17, 300]);
        let o = decode(LinkType::Ethernet, &f);
        assert_eq!(ports_of(&o), Some((49153, 389)), "{o:?}");
        // The same pseudowire without a control word, its inner destination MAC beginning with 0.
        let mut no_cw = vec![
            0x00, 0x1b, 0x21, 0, 0, 1, 0x00, 0x1b, 0x21, 0, 0, 2, 0x08, 0x00,
        ];
        no_cw.extend_from_slice(ip);
        let f = mpls_frame(&no_cw, &[17, 300]);
        assert_eq!(
            ports_of(&decode(LinkType::Ethernet, &f)),
            Some((49153, 389))
        );
        let deep = mpls_frame(ip, &(0..17).collect::<Vec<u32>>());
        assert!(matches!(
            decode(LinkType::Ethernet, &deep),
            Outcome::Malformed(Malformed {
                layer: "mpls",
                reason: "more than 16 labels"
            })
        ));
        let mut no_bottom = vec![0xff; 12];
        no_bottom.extend_from_slice(&[0x88, 0x47, 0, 1, 0, 64]);
        assert!(matches!(
            decode(LinkType::Ethernet, &no_bottom),
            Outcome::Malformed(Malformed { layer: "mpls", .. })
        ));
        // MPLS inside a PPPoE session (PPP protocol 0x0281).
        let mut m = mpls_labels(&[20]);
        m.extend_from_slice(ip);
        assert!(same(
            &decode(LinkType::Ethernet, &pppoe_frame(&m, &[0x02, 0x81], 0)),
            &plain
        ));
    }

    #[test]
    fn nested_link_layers_stop_at_four() {
        // Pseudowires inside pseudowires: each level is MPLS, a control word, Ethernet.
        let eth = tcp_v4(49154, 445, true, b"smb");
        let mut frame = eth.clone();
        for _ in 0..6 {
            let mut outer = eth[..12].to_vec();
            outer.extend_from_slice(&MPLS_UNICAST.to_be_bytes());
            outer.extend(mpls_labels(&[99]));
            outer.extend_from_slice(&[0, 0, 0, 0]);
            outer.extend_from_slice(&frame);
            frame = outer;
        }
        assert!(matches!(
            decode(LinkType::Ethernet, &frame),
            Outcome::Malformed(Malformed { layer: "link", .. })
        ));
    }

    #[test]
    fn ppp_and_cisco_hdlc_links_carry_ip() {
        let eth = tcp_v4(49155, 3389, true, b"rdp");
        let ip = &eth[14..];
        let plain = decode(LinkType::Raw, ip);
        for header in [&[0xff, 0x03, 0x00, 0x21][..], &[0x00, 0x21], &[0x21]] {
            let mut f = header.to_vec();
            f.extend_from_slice(ip);
            assert!(
                same(&decode(LinkType::from_dlt(9), &f), &plain),
                "{header:?}"
            );
            assert!(same(&decode(LinkType::from_dlt(50), &f), &plain));
        }
        let mut hdlc = vec![0x0f, 0x00, 0x08, 0x00];
        hdlc.extend_from_slice(ip);
        assert!(same(&decode(LinkType::from_dlt(104), &hdlc), &plain));
        assert!(matches!(
            decode(LinkType::Ppp, &[0xff, 0x03, 0x80, 0x21, 1, 1, 0, 4]),
            Outcome::NotIp(NotIp {
                carries: "IPCP",
                ..
            })
        ));
        assert!(matches!(
            decode(LinkType::Ppp, &[0x00]),
            Outcome::Malformed(Malformed { layer: "ppp", .. })
        ));
    }

    proptest::proptest! {
        #![proptest_config(crate::testing::proptest_config(512))]

        /// The hand-written fast path agrees with the full etherparse path on every frame it accepts:
        /// built TCP/UDP packets over IPv4/IPv6, VLAN-tagged or not, behind Ethernet, Linux cooked
        /// (SLL, SLL2) or raw framing, cut anywhere, with a length field lying and bytes flipped.
        #[test]
        fn fast_path_agrees_with_the_full_path(
            v6 in proptest::bool::ANY,
            vlans in 0usize..3,
            tcp in proptest::bool::ANY,
            ports in (proptest::num::u16::ANY, proptest::num::u16::ANY),
            payload in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
            cut in 0usize..200,
            lie_in in proptest::option::of((0u8..4, proptest::num::u16::ANY)),
            flip in proptest::option::of((0usize..120, proptest::num::u8::ANY)),
        ) {
            let eth = PacketBuilder::ethernet2(MAC_A, MAC_B);
            let mut out = Vec::new();
            let ip_step = |b: etherparse::PacketBuilderStep<etherparse::Ethernet2Header>| b;
            let b = ip_step(eth);
            let built = match (vlans, v6) {
                (0, false) => b.ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64),
                (0, true) => b.ipv6([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], 64),
                (1, false) => b.single_vlan(5.try_into().unwrap()).ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64),
                (1, true) => b.single_vlan(5.try_into().unwrap()).ipv6([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], 64),
                (_, false) => b.double_vlan(5.try_into().unwrap(), 6.try_into().unwrap()).ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64),
                (_, true) => b.double_vlan(5.try_into().unwrap(), 6.try_into().unwrap()).ipv6([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], 64),
            };
            if tcp {
                built.tcp(ports.0, ports.1, 7, 1000).syn().write(&mut out, &payload).unwrap();
            } else {
                built.udp(ports.0, ports.1).write(&mut out, &payload).unwrap();
            }
            let ip_start = 14 + 4 * vlans.min(2);
            if let Some((field, value)) = lie_in {
                lie(&mut out, ip_start, v6, tcp, field, value);
            }
            if let Some((at, byte)) = flip {
                if at < out.len() {
                    out[at] = byte;
                }
            }
            out.truncate(out.len().min(cut.max(1)));
            if let Some(fast) = fast_path(LinkType::Ethernet, &out) {
                let slow = decode_sliced(LinkType::Ethernet, &out);
                proptest::prop_assert!(same(&fast, &slow), "ethernet: fast {:?} slow {:?}", fast, slow);
            }
            if out.len() > ip_start {
                let raw = &out[ip_start..];
                if let Some(fast) = fast_path(LinkType::Raw, raw) {
                    let slow = decode_sliced(LinkType::Raw, raw);
                    proptest::prop_assert!(same(&fast, &slow), "raw: fast {:?} slow {:?}", fast, slow);
                }
                // The same IP packet behind Linux cooked headers (protocol field from the frame's
                // own Ethernet type, which the lie may have changed).
                let ether_type = [out[ip_start - 2], out[ip_start - 1]];
                let mut sll = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0];
                sll.extend_from_slice(&ether_type);
                sll.extend_from_slice(raw);
                if let Some(fast) = fast_path(LinkType::LinuxSll, &sll) {
                    let slow = decode_sliced(LinkType::LinuxSll, &sll);
                    proptest::prop_assert!(same(&fast, &slow), "sll: fast {:?} slow {:?}", fast, slow);
                }
                let mut sll2 = ether_type.to_vec();
                sll2.extend_from_slice(&[0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0]);
                sll2.extend_from_slice(raw);
                if let Some(fast) = fast_path(LinkType::LinuxSll2, &sll2) {
                    let slow = decode_sliced(LinkType::LinuxSll2, &sll2);
                    proptest::prop_assert!(same(&fast, &slow), "sll2: fast {:?} slow {:?}", fast, slow);
                }
                // Behind PPPoE, MPLS, PPP and Cisco HDLC the same IP bytes decode as they do raw
                // (the protocol field naming the version the packet's first nibble says).
                if matches!(raw[0] >> 4, 4 | 6) {
                    // A malformed IP header may be named more exactly where the link layer gave
                    // its version: malformed either way is the agreement asked for.
                    let plain = decode(LinkType::Raw, raw);
                    let same = |a: &Outcome<'_>, b: &Outcome<'_>| {
                        matches!((a, b), (Outcome::Malformed(_), Outcome::Malformed(_))) || same(a, b)
                    };
                    let (ppp_protocol, hdlc_type) = if raw[0] >> 4 == 4 {
                        ([0x00, 0x21], [0x08, 0x00])
                    } else {
                        ([0x00, 0x57], [0x86, 0xdd])
                    };
                    let pppoe = pppoe_frame(raw, &ppp_protocol, 0);
                    let wrapped = decode(LinkType::Ethernet, &pppoe);
                    proptest::prop_assert!(same(&wrapped, &plain), "pppoe: {:?} raw {:?}", wrapped, plain);
                    let mpls = mpls_frame(raw, &[16, 17]);
                    let wrapped = decode(LinkType::Ethernet, &mpls);
                    proptest::prop_assert!(same(&wrapped, &plain), "mpls: {:?} raw {:?}", wrapped, plain);
                    let mut ppp = vec![0xff, 0x03];
                    ppp.extend_from_slice(&ppp_protocol);
                    ppp.extend_from_slice(raw);
                    let wrapped = decode(LinkType::Ppp, &ppp);
                    proptest::prop_assert!(same(&wrapped, &plain), "ppp: {:?} raw {:?}", wrapped, plain);
                    let mut hdlc = vec![0x0f, 0x00];
                    hdlc.extend_from_slice(&hdlc_type);
                    hdlc.extend_from_slice(raw);
                    let wrapped = decode(LinkType::CiscoHdlc, &hdlc);
                    proptest::prop_assert!(same(&wrapped, &plain), "c_hdlc: {:?} raw {:?}", wrapped, plain);
                }
            }
        }

        /// Any bytes behind the nesting link layers decode without a panic.
        #[test]
        fn nested_link_layers_take_any_bytes(
            link in proptest::sample::select(vec![LinkType::Ethernet, LinkType::Ppp, LinkType::PppEther, LinkType::CiscoHdlc, LinkType::LinuxSll]),
            head in proptest::sample::select(vec![0x8864u16, 0x8863, 0x8847, 0x8848, 0x0021, 0x0281]),
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..96),
        ) {
            let mut f = match link {
                LinkType::Ethernet => vec![0xff; 12],
                LinkType::LinuxSll => vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0],
                LinkType::CiscoHdlc => vec![0x0f, 0],
                _ => vec![],
            };
            f.extend_from_slice(&head.to_be_bytes());
            f.extend_from_slice(&body);
            let _ = decode(link, &f);
        }
    }
}
