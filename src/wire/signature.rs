//! Signatures: what the first payload bytes of one direction of a flow look like — a cheap check
//! of a few header fields per protocol, bytes in, verdict out, no state and no allocation.
//!
//! [`probe`] answers "is this `Wire`?" for one protocol ([`Check::Yes`], [`Check::Maybe`] when the
//! bytes fit but do not tell, [`Check::No`]); [`identify`] tries the protocols a caller expects
//! first, then every protocol with a distinctive signature, and returns the first that says yes.
//! Each recogniser reads at most the first few hundred bytes and checks every offset against the
//! slice. A recogniser says yes only when several independent fields agree (a magic number, a
//! version, a length that matches the datagram), so that random bytes are rarely taken for a
//! protocol; the weakest ones (a one-byte SQL Browser request, an NTP header) are tried only when
//! the port's protocol is expected.

use std::fmt;

/// A protocol recognised on the wire, named as flow records and reports show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Wire {
    Tls,
    Ssh,
    Smb,
    NetbiosSession,
    NetbiosName,
    NetbiosDatagram,
    Kerberos,
    /// Kerberos password change (RFC 3244).
    Kpasswd,
    Ldap,
    Dns,
    Dcerpc,
    DcerpcCl,
    RpcOverHttp,
    Rdp,
    RdpUdp,
    Tds,
    SqlBrowser,
    Http,
    Ssdp,
    Rtsp,
    Sip,
    Smtp,
    Pop3,
    Imap,
    Nntp,
    Ftp,
    Telnet,
    Ntp,
    Snmp,
    Radius,
    Ike,
    NatT,
    L2tp,
    Pptp,
    Dhcp,
    Msmq,
    WindowsMms,
    /// .NET Message Framing ([MC-NMF]): net.tcp, Active Directory Web Services.
    NetNmf,
    Tftp,
    /// Enhanced GRE (RFC 2637 4.1): version 1, PPP, the key field: PPTP's tunnel.
    GrePptp,
    /// GRE version 0 (RFC 2784): another tunnel.
    Gre,
    /// ISO transport over TCP (RFC 1006 TPKT + COTP) whose content is not told yet.
    IsoTsap,
    S7comm,
    IsoMms,
    X400,
    /// Payload that no recogniser took.
    Unknown,
}

impl Wire {
    pub fn as_str(self) -> &'static str {
        match self {
            Wire::Tls => "tls",
            Wire::Ssh => "ssh",
            Wire::Smb => "smb",
            Wire::NetbiosSession => "netbios-session",
            Wire::NetbiosName => "netbios-name",
            Wire::NetbiosDatagram => "netbios-datagram",
            Wire::Kerberos => "kerberos",
            Wire::Kpasswd => "kpasswd",
            Wire::Ldap => "ldap",
            Wire::Dns => "dns",
            Wire::Dcerpc => "dcerpc",
            Wire::DcerpcCl => "dcerpc-cl",
            Wire::RpcOverHttp => "rpc-over-http",
            Wire::Rdp => "rdp",
            Wire::RdpUdp => "rdp-udp",
            Wire::Tds => "tds",
            Wire::SqlBrowser => "sql-browser",
            Wire::Http => "http",
            Wire::Ssdp => "ssdp",
            Wire::Rtsp => "rtsp",
            Wire::Sip => "sip",
            Wire::Smtp => "smtp",
            Wire::Pop3 => "pop3",
            Wire::Imap => "imap",
            Wire::Nntp => "nntp",
            Wire::Ftp => "ftp",
            Wire::Telnet => "telnet",
            Wire::Ntp => "ntp",
            Wire::Snmp => "snmp",
            Wire::Radius => "radius",
            Wire::Ike => "ike",
            Wire::NatT => "nat-t",
            Wire::L2tp => "l2tp",
            Wire::Pptp => "pptp",
            Wire::Dhcp => "dhcp",
            Wire::Msmq => "msmq",
            Wire::WindowsMms => "mms",
            Wire::NetNmf => "net-nmf",
            Wire::Tftp => "tftp",
            Wire::GrePptp => "gre-pptp",
            Wire::Gre => "gre",
            Wire::IsoTsap => "iso-tsap",
            Wire::S7comm => "s7comm",
            Wire::IsoMms => "iso-mms",
            Wire::X400 => "x400",
            Wire::Unknown => "unknown",
        }
    }

    /// Every protocol, in declaration order (for tests and the README's list).
    pub const ALL: [Wire; 46] = [
        Wire::Tls,
        Wire::Ssh,
        Wire::Smb,
        Wire::NetbiosSession,
        Wire::NetbiosName,
        Wire::NetbiosDatagram,
        Wire::Kerberos,
        Wire::Kpasswd,
        Wire::Ldap,
        Wire::Dns,
        Wire::Dcerpc,
        Wire::DcerpcCl,
        Wire::RpcOverHttp,
        Wire::Rdp,
        Wire::RdpUdp,
        Wire::Tds,
        Wire::SqlBrowser,
        Wire::Http,
        Wire::Ssdp,
        Wire::Rtsp,
        Wire::Sip,
        Wire::Smtp,
        Wire::Pop3,
        Wire::Imap,
        Wire::Nntp,
        Wire::Ftp,
        Wire::Telnet,
        Wire::Ntp,
        Wire::Snmp,
        Wire::Radius,
        Wire::Ike,
        Wire::NatT,
        Wire::L2tp,
        Wire::Pptp,
        Wire::Dhcp,
        Wire::Msmq,
        Wire::WindowsMms,
        Wire::NetNmf,
        Wire::Tftp,
        Wire::GrePptp,
        Wire::Gre,
        Wire::IsoTsap,
        Wire::S7comm,
        Wire::IsoMms,
        Wire::X400,
        Wire::Unknown,
    ];
}

impl fmt::Display for Wire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One recogniser's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// The bytes are this protocol.
    Yes,
    /// The bytes fit the protocol but do not show it (ISO transport whose content comes in a later
    /// segment, a Telnet session without option negotiation): read the next segment.
    Maybe,
    No,
}

/// Where a payload was seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ctx {
    pub udp: bool,
    pub from_client: bool,
}

/// The protocols [`identify`] tries on TCP when nothing is expected, most distinctive first.
const TCP_ORDER: &[Wire] = &[
    Wire::Tls,
    Wire::Ssh,
    Wire::Smb,
    Wire::NetbiosSession,
    Wire::Dcerpc,
    Wire::RpcOverHttp,
    Wire::Msmq,
    Wire::WindowsMms,
    Wire::Pptp,
    Wire::Kerberos,
    Wire::Kpasswd,
    Wire::Ldap,
    Wire::S7comm,
    Wire::IsoMms,
    Wire::X400,
    Wire::Rdp,
    Wire::IsoTsap,
    Wire::Tds,
    Wire::Rtsp,
    Wire::Sip,
    Wire::Http,
    Wire::Dns,
    Wire::Telnet,
    Wire::Ftp,
    Wire::Smtp,
    Wire::Pop3,
    Wire::Imap,
    Wire::Nntp,
];

/// The same on UDP.
const UDP_ORDER: &[Wire] = &[
    Wire::Kerberos,
    Wire::Kpasswd,
    Wire::Ldap,
    Wire::Snmp,
    Wire::NetbiosName,
    Wire::NetbiosDatagram,
    Wire::Dns,
    Wire::DcerpcCl,
    Wire::Ike,
    Wire::RdpUdp,
    Wire::Dhcp,
    Wire::Radius,
    Wire::L2tp,
    Wire::Ssdp,
    Wire::Sip,
    Wire::Http,
    Wire::Tls,
];

/// What a payload looks like: the first of `expected` that says yes or maybe, else the first
/// distinctive protocol that says yes, else [`Wire::Unknown`]. The flag is true for a maybe (read
/// on: a later segment may tell).
pub fn identify(ctx: Ctx, expected: &[Wire], b: &[u8]) -> (Wire, bool) {
    let mut maybe = None;
    for &w in expected {
        match probe(w, ctx, b) {
            Check::Yes => return (w, false),
            Check::Maybe => maybe = maybe.or(Some(w)),
            Check::No => {}
        }
    }
    let order = if ctx.udp { UDP_ORDER } else { TCP_ORDER };
    for &w in order {
        if expected.contains(&w) {
            continue;
        }
        match probe(w, ctx, b) {
            Check::Yes => return (w, false),
            Check::Maybe if w == Wire::IsoTsap => maybe = maybe.or(Some(w)),
            _ => {}
        }
    }
    match maybe {
        Some(w) => (w, true),
        None => (Wire::Unknown, false),
    }
}

fn yes(c: bool) -> Check {
    if c {
        Check::Yes
    } else {
        Check::No
    }
}

fn be16(b: &[u8], at: usize) -> Option<usize> {
    Some(usize::from(u16::from_be_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
    ])))
}

fn be32(b: &[u8], at: usize) -> Option<usize> {
    let s = b.get(at..at.checked_add(4)?)?;
    usize::try_from(u32::from_be_bytes([s[0], s[1], s[2], s[3]])).ok()
}

fn starts(b: &[u8], p: &[u8]) -> bool {
    b.len() >= p.len() && b[..p.len()].eq_ignore_ascii_case(p)
}

/// Whether one protocol's signature is in `b` (the first payload of one direction).
pub fn probe(w: Wire, ctx: Ctx, b: &[u8]) -> Check {
    if b.is_empty() {
        return Check::No;
    }
    match w {
        Wire::Tls => yes(is_tls(b)),
        Wire::Ssh => yes(!ctx.udp && b.starts_with(b"SSH-") && b.len() >= 8),
        Wire::Smb => yes(!ctx.udp && is_smb_frame(b)),
        Wire::NetbiosSession => yes(!ctx.udp && (is_smb_frame(b) || is_nbss_control(b))),
        Wire::NetbiosName => yes(ctx.udp && is_nbns(b)),
        Wire::NetbiosDatagram => yes(ctx.udp && is_nbdgm(b)),
        Wire::Kerberos => yes(is_kerberos(ctx.udp, b)),
        Wire::Kpasswd => yes(is_kpasswd(ctx.udp, b)),
        Wire::NetNmf => yes(!ctx.udp && is_net_nmf(ctx.from_client, b)),
        Wire::Ldap => yes(is_ldap(b)),
        Wire::Dns => yes(if ctx.udp {
            is_dns(b)
        } else {
            be16(b, 0).is_some_and(|n| n >= 12) && is_dns(&b[2..])
        }),
        Wire::Dcerpc => yes(!ctx.udp && is_dcerpc_co(b)),
        Wire::DcerpcCl => yes(ctx.udp && is_dcerpc_cl(b)),
        Wire::RpcOverHttp => {
            if ctx.udp {
                Check::No
            } else if b.starts_with(b"ncacn_http/1.0") {
                Check::Yes
            } else {
                match request_line(b) {
                    Some((m, _)) if m == b"RPC_IN_DATA" || m == b"RPC_OUT_DATA" => Check::Yes,
                    _ => yes(is_dcerpc_co(b)),
                }
            }
        }
        Wire::Rdp => rdp(b),
        Wire::RdpUdp => yes(ctx.udp && is_rdp_udp(b)),
        Wire::Tds => yes(!ctx.udp && is_tds(b) && cotp(b).is_none()),
        Wire::SqlBrowser => yes(ctx.udp && is_sql_browser(ctx.from_client, b)),
        Wire::Http => yes(matches!(text_protocol(b), Some(Wire::Http | Wire::Ssdp))),
        Wire::Ssdp => yes(ctx.udp && matches!(text_protocol(b), Some(Wire::Http | Wire::Ssdp))),
        Wire::Rtsp => yes(text_protocol(b) == Some(Wire::Rtsp)),
        Wire::Sip => yes(text_protocol(b) == Some(Wire::Sip)),
        Wire::Smtp => banner_or_command(ctx, b, &[b"220", b"421", b"554"], SMTP_COMMANDS),
        Wire::Pop3 => banner_or_command(ctx, b, &[b"+OK", b"-ERR"], POP3_COMMANDS),
        Wire::Imap => yes(!ctx.udp && is_imap(ctx.from_client, b)),
        Wire::Nntp => banner_or_command(ctx, b, &[b"200", b"201", b"400", b"502"], NNTP_COMMANDS),
        Wire::Ftp => ftp(ctx, b),
        Wire::Telnet => telnet(ctx, b),
        Wire::Ntp => yes(ctx.udp && is_ntp(b)),
        Wire::Snmp => yes(ctx.udp && is_snmp(b)),
        Wire::Radius => yes(ctx.udp && is_radius(b)),
        Wire::Ike => yes(ctx.udp && is_ike(b)),
        Wire::NatT => yes(ctx.udp && is_nat_t(b)),
        Wire::L2tp => yes(ctx.udp && is_l2tp(b)),
        Wire::Pptp => yes(!ctx.udp && is_pptp(b)),
        Wire::Dhcp => yes(ctx.udp && is_dhcp(b)),
        Wire::Msmq => yes(!ctx.udp && b.len() >= 16 && b[0] == 0x10 && &b[4..8] == b"LIOR"),
        Wire::WindowsMms => yes(!ctx.udp
            && b.len() >= 16
            && b[4..8] == [0xce, 0xfa, 0x0b, 0xb0]
            && &b[12..16] == b"MMS "),
        Wire::Tftp => yes(ctx.udp && is_tftp(b)),
        Wire::GrePptp => yes(gre(b) == Some(Wire::GrePptp)),
        Wire::Gre => yes(gre(b) == Some(Wire::Gre)),
        Wire::IsoTsap => match cotp(b) {
            Some(_) => Check::Maybe,
            None => Check::No,
        },
        Wire::S7comm => yes(matches!(cotp(b), Some(Cotp::Data(d)) if d.first() == Some(&0x32))),
        Wire::IsoMms => {
            yes(matches!(cotp(b), Some(Cotp::Data(d)) if iso_session(d) && contains(d, MMS_OID)))
        }
        Wire::X400 => {
            yes(matches!(cotp(b), Some(Cotp::Data(d)) if iso_session(d) && contains(d, MHS_OID)))
        }
        Wire::Unknown => Check::No,
    }
}

/// A TLS (or SSL 3) record header of a handshake, alert, change-cipher-spec or application-data
/// record with a plausible length, or an SSL 2 ClientHello.
fn is_tls(b: &[u8]) -> bool {
    if b.len() >= 5 && (0x14..=0x17).contains(&b[0]) && b[1] == 3 && b[2] <= 4 {
        let len = usize::from(u16::from_be_bytes([b[3], b[4]]));
        return len > 0 && len <= (1 << 14) + 2048 && (b[0] != 0x16 || b.len() < 6 || b[5] <= 24);
    }
    // SSL 2: a two-byte header with its top bit set, message type 1 (ClientHello), version 3.x.
    b.len() >= 5 && b[0] & 0x80 != 0 && b[2] == 1 && b[3] == 3 && b[4] <= 4
}

fn is_smb_frame(b: &[u8]) -> bool {
    b.len() >= 8 && b[0] == 0 && matches!(&b[5..8], b"SMB") && matches!(b[4], 0xfc..=0xff)
}

/// A NetBIOS session service control packet (RFC 1002 4.3): session request, positive or negative
/// response, retarget, keep-alive, with the length its type has.
fn is_nbss_control(b: &[u8]) -> bool {
    if b.len() < 4 || b[1] & 0xfe != 0 {
        return false;
    }
    let len = (usize::from(b[1] & 1) << 16) | usize::from(u16::from_be_bytes([b[2], b[3]]));
    match b[0] {
        0x81 => len == 68 && b.get(4) == Some(&0x20),
        0x82 | 0x85 => len == 0,
        0x83 => len == 1,
        0x84 => len == 6,
        _ => false,
    }
}

/// A NetBIOS name encoded as RFC 1001 says: 32 letters A–P after a 0x20 length byte.
fn netbios_name_at(b: &[u8], at: usize) -> bool {
    b.get(at) == Some(&0x20)
        && b.get(at + 1..at + 33)
            .is_some_and(|n| n.iter().all(|c| (b'A'..=b'P').contains(c)))
}

/// NetBIOS name service (RFC 1002 4.2): a DNS-like header with an opcode of its own and an
/// encoded NetBIOS name as the first question or answer.
fn is_nbns(b: &[u8]) -> bool {
    if b.len() < 12 + 33 {
        return false;
    }
    let opcode = (b[2] >> 3) & 0x0f;
    matches!(opcode, 0 | 5 | 6 | 7 | 8 | 9) && netbios_name_at(b, 12)
}

/// NetBIOS datagram service (RFC 1002 4.4).
fn is_nbdgm(b: &[u8]) -> bool {
    match b.first() {
        Some(0x10..=0x12) => {
            b.len() >= 14 + 33 && be16(b, 10).is_some_and(|len| len >= 68) && netbios_name_at(b, 14)
        }
        Some(0x13) => b.len() >= 11,
        Some(0x14..=0x16) => b.len() >= 10 + 33 && netbios_name_at(b, 10),
        _ => false,
    }
}

/// A DER length at `at`: (length, where the contents start).
fn der_len(b: &[u8], at: usize) -> Option<(usize, usize)> {
    let first = *b.get(at)?;
    if first < 0x80 {
        return Some((usize::from(first), at + 1));
    }
    let n = usize::from(first & 0x7f);
    if n == 0 || n > 4 {
        return None;
    }
    let mut len = 0usize;
    for i in 0..n {
        len = (len << 8) | usize::from(*b.get(at + 1 + i)?);
    }
    Some((len, at + 1 + n))
}

/// A Kerberos KDC or AP message (RFC 4120 5): APPLICATION 10–15 or 30, then a SEQUENCE whose
/// first element is `[0]` or `[1]` (pvno); on TCP after a four-byte record length.
fn is_kerberos(udp: bool, b: &[u8]) -> bool {
    let b = if udp {
        b
    } else {
        match be32(b, 0) {
            Some(n) if n > 0 && n < 1 << 24 => &b[4..],
            _ => return false,
        }
    };
    if !matches!(b.first(), Some(0x6a..=0x6f | 0x7e)) {
        return false;
    }
    let Some((_, at)) = der_len(b, 1) else {
        return false;
    };
    if b.get(at) != Some(&0x30) {
        return false;
    }
    let Some((_, at)) = der_len(b, at + 1) else {
        return false;
    };
    matches!(b.get(at), Some(0xa0 | 0xa1)) && b.get(at + 2) == Some(&0x02)
}

/// A Kerberos password change or set request or reply (RFC 3244 2, [MS-KILE] 3.1.5.9): a message
/// length, version 1 (change) or 0xFF80 (set), the AP-REQ or AP-REP length and that message (or,
/// with no AP-REP, a KRB-ERROR); on TCP after a four-byte record length.
fn is_kpasswd(udp: bool, b: &[u8]) -> bool {
    let b = if udp {
        b
    } else {
        match be32(b, 0) {
            Some(n) if n > 0 && n < 1 << 16 => &b[4..],
            _ => return false,
        }
    };
    let (Some(len), Some(version), Some(ap)) = (be16(b, 0), be16(b, 2), be16(b, 4)) else {
        return false;
    };
    len >= 6
        && (len == b.len() || len > b.len())
        && matches!(version, 0x0001 | 0xff80)
        && match b.get(6) {
            Some(0x6e | 0x6f) => ap > 0,
            Some(0x7e) => ap == 0,
            _ => false,
        }
}

/// .NET Message Framing ([MC-NMF] 2.2): a client's Version record (major 1, minor 0) and Mode
/// record; a server's PreambleAck (one byte 0x0B) or a Fault record.
fn is_net_nmf(from_client: bool, b: &[u8]) -> bool {
    if from_client {
        b.len() >= 5 && b[..4] == [0x00, 0x01, 0x00, 0x01] && (1..=4).contains(&b[4])
    } else {
        b == [0x0b] || (b.len() >= 2 && b[0] == 0x08 && b.len() > usize::from(b[1]))
    }
}

/// An LDAP message (RFC 4511 4.1.1): SEQUENCE { INTEGER messageID, protocolOp [APPLICATION n] }.
fn is_ldap(b: &[u8]) -> bool {
    if b.first() != Some(&0x30) {
        return false;
    }
    let Some((_, at)) = der_len(b, 1) else {
        return false;
    };
    if b.get(at) != Some(&0x02) {
        return false;
    }
    let Some(&n) = b.get(at + 1) else {
        return false;
    };
    if !(1..=4).contains(&n) {
        return false;
    }
    let op = at + 2 + usize::from(n);
    match b.get(op) {
        // Constructed operations 0–25, and the two primitive ones (unbind 2, abandon 16).
        Some(&t) => {
            ((0x60..=0x79).contains(&t) && t != 0x62 && t != 0x70) || t == 0x42 || t == 0x50
        }
        None => false,
    }
}

/// A DNS message (RFC 1035 4.1): a header with a standard opcode and sane counts, and its first
/// question's name made of labels that end inside the message.
fn is_dns(b: &[u8]) -> bool {
    if b.len() < 12 {
        return false;
    }
    let opcode = (b[2] >> 3) & 0x0f;
    let qd = be16(b, 4).unwrap_or(0);
    let an = be16(b, 6).unwrap_or(0);
    let ns = be16(b, 8).unwrap_or(0);
    let ar = be16(b, 10).unwrap_or(0);
    if !matches!(opcode, 0 | 1 | 2 | 4 | 5)
        || b[3] & 0x40 != 0
        || qd > 16
        || an > 512
        || ns > 512
        || ar > 512
    {
        return false;
    }
    if qd == 0 {
        // An update or a NOTIFY answer may have no question; anything else needs one.
        return opcode == 5 && b[2] & 0x80 != 0;
    }
    // The first question: labels of 1–63 bytes, ending in a zero length, then type and class.
    let mut at = 12;
    let mut total = 0;
    loop {
        let Some(&len) = b.get(at) else {
            // Cut short by the capture: the header said enough.
            return total > 0 || at == 12;
        };
        if len == 0 {
            at += 1;
            break;
        }
        if len > 63 {
            return false;
        }
        total += usize::from(len) + 1;
        if total > 255 {
            return false;
        }
        at += 1 + usize::from(len);
    }
    match be16(b, at + 2) {
        Some(class) => matches!(class & 0x7fff, 1 | 3 | 4 | 254 | 255),
        None => true,
    }
}

/// A connection-oriented DCE/RPC PDU header (C706 12.6.1): version 5.0, a known type, a data
/// representation whose integer order is big or little endian, a fragment length of at least 16.
fn is_dcerpc_co(b: &[u8]) -> bool {
    if b.len() < 16 || b[0] != 5 || b[1] != 0 || b[2] > 20 || b[4] & 0xee != 0 {
        return false;
    }
    let frag = if b[4] & 0x10 != 0 {
        u16::from_le_bytes([b[8], b[9]])
    } else {
        u16::from_be_bytes([b[8], b[9]])
    };
    frag >= 16
}

/// A connectionless DCE/RPC header (C706 12.5.1): version 4, a known type, 80 bytes.
fn is_dcerpc_cl(b: &[u8]) -> bool {
    b.len() >= 80 && b[0] == 4 && b[1] <= 10 && b[4] & 0xee == 0
}

/// TPKT (RFC 1006) and a COTP TPDU (ISO 8073).
enum Cotp<'a> {
    /// A connection request or confirm, with its variable part.
    Connect(&'a [u8]),
    /// Data: the user data after the DT header.
    Data(&'a [u8]),
    Other,
}

fn cotp(b: &[u8]) -> Option<Cotp<'_>> {
    if b.len() < 7 || b[0] != 3 || b[1] != 0 {
        return None;
    }
    let len = be16(b, 2)?;
    if len < 7 {
        return None;
    }
    let li = usize::from(b[4]);
    if li < 2 || li + 5 > len {
        return None;
    }
    let end = b.len().min(len);
    let body = b.get(5 + li..end).unwrap_or(&[]);
    match b[5] & 0xf0 {
        0xe0 | 0xd0 => Some(Cotp::Connect(b.get(7..(5 + li).min(end)).unwrap_or(&[]))),
        0xf0 => Some(Cotp::Data(body)),
        0x80 | 0x70 | 0x60 | 0x50 | 0x10 | 0x20 | 0xc0 => Some(Cotp::Other),
        _ => None,
    }
}

/// RDP's first messages (MS-RDPBCGR 2.2.1.1 and 2.2.1.2): an X.224 connection request or confirm
/// over TPKT; one carrying a cookie or an RDP negotiation request or answer is RDP for certain, a
/// bare one could be T.120 or another ISO transport user.
fn rdp(b: &[u8]) -> Check {
    match cotp(b) {
        Some(Cotp::Connect(v)) => {
            if rdp_negotiation(b).is_some() || contains(v, b"Cookie: mstshash=") {
                Check::Yes
            } else {
                Check::Maybe
            }
        }
        Some(Cotp::Data(d)) if d.first().is_some_and(|&t| t >> 2 == 25 || t == 0x7f) => Check::Yes,
        _ => Check::No,
    }
}

/// The RDP negotiation structure at the end of an X.224 connection request or confirm
/// (MS-RDPBCGR 2.2.1.1.1, 2.2.1.2.1, 2.2.1.2.2): its type (1 request, 2 response, 3 failure) and
/// its flags and protocols field.
pub fn rdp_negotiation(b: &[u8]) -> Option<(u8, u32)> {
    if !matches!(cotp(b), Some(Cotp::Connect(_))) {
        return None;
    }
    let len = be16(b, 2)?;
    if len < 11 + 8 || len > b.len() {
        return None;
    }
    let n = &b[len - 8..len];
    let kind = n[0];
    if !(1..=3).contains(&kind) || n[2] != 8 || n[3] != 0 {
        return None;
    }
    Some((kind, u32::from_le_bytes([n[4], n[5], n[6], n[7]])))
}

/// An ISO session SPDU (ISO 8327): CONNECT, ACCEPT, DATA TRANSFER (with GIVE TOKENS), FINISH…
fn iso_session(d: &[u8]) -> bool {
    matches!(
        d.first(),
        Some(0x0d | 0x0e | 0x01 | 0x09 | 0x0a | 0x19 | 0x05)
    )
}

/// The ISO MMS abstract syntax, 1.0.9506.2.1 (ISO 9506-2), as DER contents.
const MMS_OID: &[u8] = &[0x28, 0xca, 0x22, 0x02, 0x01];
/// The MHS (X.400) arc, 2.6 (joint-iso-itu-t mhs), followed by the MTS or RTSE arcs: the first
/// bytes of the abstract syntaxes X.400 P1 presents.
const MHS_OID: &[u8] = &[0x06, 0x03, 0x56, 0x00];

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    let hay = &hay[..hay.len().min(512)];
    needle.len() <= hay.len() && hay.windows(needle.len()).any(|w| w == needle)
}

/// The RDP-UDP SYN or SYN+ACK datagram (MS-RDPEUDP 2.2.2.1): snSourceAck −1 and the SYN flag.
fn is_rdp_udp(b: &[u8]) -> bool {
    b.len() >= 16 && b[..4] == [0xff; 4] && u16::from_be_bytes([b[6], b[7]]) & 0x0001 != 0
}

/// A TDS packet header (MS-TDS 2.2.3.1): a known type, status bits, a length of at least the
/// header, window 0.
fn is_tds(b: &[u8]) -> bool {
    if b.len() < 8 {
        return false;
    }
    let len = usize::from(u16::from_be_bytes([b[2], b[3]]));
    matches!(
        b[0],
        0x01 | 0x02 | 0x03 | 0x04 | 0x06 | 0x07 | 0x0e | 0x10 | 0x11 | 0x12
    ) && b[1] & 0xe0 == 0
        && (8..=32_768).contains(&len)
        && b[7] == 0
        && (b[0] != 0x12 || b.get(8).is_some_and(|&t| t <= 8 || t == 0xff))
}

/// SQL Server Resolution Protocol (MS-SQLR 2.2): a client's broadcast, unicast or instance
/// request; the server's SVR_RESP with its length and the `ServerName;` text.
fn is_sql_browser(from_client: bool, b: &[u8]) -> bool {
    match b[0] {
        0x02 | 0x03 if from_client => b.len() == 1,
        0x04 | 0x0f if from_client => b.len() >= 2 && b.len() <= 34,
        0x05 => b.len() >= 3 + 11 && starts(&b[3..], b"ServerName;"),
        _ => false,
    }
}

/// A request line (`METHOD SP target SP`) at the start of `b`: (method, what follows).
fn request_line(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let head = &b[..b.len().min(2048)];
    // A method is at most 16 characters: look no further for its space.
    let sp = head.iter().take(17).position(|&c| c == b' ')?;
    let method = &head[..sp];
    if method.is_empty()
        || method.len() > 16
        || !method
            .iter()
            .all(|c| c.is_ascii_uppercase() || *c == b'_' || *c == b'-')
    {
        return None;
    }
    Some((method, &head[sp + 1..]))
}

/// HTTP, SSDP, RTSP or SIP: a request line naming the protocol's version, or a status line.
pub fn text_protocol(b: &[u8]) -> Option<Wire> {
    let version = |v: &[u8]| -> Option<Wire> {
        if starts(v, b"HTTP/1.") || starts(v, b"HTTP/2") {
            Some(Wire::Http)
        } else if starts(v, b"RTSP/1.") || starts(v, b"RTSP/2") {
            Some(Wire::Rtsp)
        } else if starts(v, b"SIP/2.0") {
            Some(Wire::Sip)
        } else {
            None
        }
    };
    if let Some(w) = version(b) {
        // A status line: version SP three digits.
        let sp = b.iter().take(12).position(|&c| c == b' ')?;
        let code = b.get(sp + 1..sp + 4)?;
        return code.iter().all(u8::is_ascii_digit).then_some(w);
    }
    let (method, rest) = request_line(b)?;
    if rest.starts_with(b"/") && HTTP09_METHODS.contains(&method) {
        // HTTP/0.9 (RFC 1945 4.1): "GET /path" and the end of the line, no version.
        let end = rest.iter().position(|&c| c == b'\r' || c == b'\n');
        if end.is_some_and(|e| !rest[..e].contains(&b' ')) {
            return Some(Wire::Http);
        }
    }
    let line_end = rest
        .iter()
        .position(|&c| c == b'\r' || c == b'\n')
        .unwrap_or(rest.len());
    let line = &rest[..line_end];
    let sp = line.iter().rposition(|&c| c == b' ')?;
    let w = version(&line[sp + 1..])?;
    if w == Wire::Http && (method == b"M-SEARCH" || method == b"NOTIFY") && line.starts_with(b"* ")
    {
        return Some(Wire::Ssdp);
    }
    Some(w)
}

/// The methods of a version-less (HTTP/0.9) request line.
const HTTP09_METHODS: &[&[u8]] = &[b"GET", b"HEAD", b"POST"];

const SMTP_COMMANDS: &[&[u8]] = &[b"EHLO ", b"HELO ", b"MAIL FROM:", b"STARTTLS"];
const POP3_COMMANDS: &[&[u8]] = &[b"USER ", b"CAPA", b"APOP ", b"STLS", b"AUTH "];
const NNTP_COMMANDS: &[&[u8]] = &[
    b"MODE READER",
    b"CAPABILITIES",
    b"GROUP ",
    b"ARTICLE",
    b"LIST",
];
const FTP_COMMANDS: &[&[u8]] = &[
    b"USER ",
    b"AUTH TLS",
    b"AUTH SSL",
    b"SYST",
    b"FEAT",
    b"OPTS ",
];

/// A line-based protocol: the server's greeting starts with one of `codes` and a space or dash, or
/// the client's first line is one of `commands`.
fn banner_or_command(ctx: Ctx, b: &[u8], codes: &[&[u8]], commands: &[&[u8]]) -> Check {
    if ctx.udp || b.len() < 3 {
        return Check::No;
    }
    let opens = if ctx.from_client {
        commands.iter().any(|c| starts(b, c))
    } else {
        codes
            .iter()
            .any(|c| starts(b, c) && matches!(b.get(c.len()), Some(b' ' | b'-' | b'\r' | b'\n')))
    };
    // The first line is text (looked at only once it opens like the protocol).
    let text = || {
        b.iter()
            .take(512)
            .take_while(|&&c| c != b'\n')
            .all(|&c| c == b'\r' || c == b'\t' || (0x20..0x7f).contains(&c) || c >= 0x80)
    };
    yes(opens && text())
}

fn ftp(ctx: Ctx, b: &[u8]) -> Check {
    if ctx.from_client {
        return banner_or_command(ctx, b, &[], FTP_COMMANDS);
    }
    // Greetings "220 … FTP …"; SMTP servers greet with 220 too, so the text must say FTP.
    match banner_or_command(ctx, b, &[b"220", b"120", b"421"], &[]) {
        Check::Yes
            if contains(&b[..b.len().min(256)], b"FTP")
                || contains(&b[..b.len().min(256)], b"ftp") =>
        {
            Check::Yes
        }
        Check::Yes => Check::Maybe,
        c => c,
    }
}

/// IMAP (RFC 9051): the server's untagged greeting, or a client's tagged command.
fn is_imap(from_client: bool, b: &[u8]) -> bool {
    if from_client {
        let Some(sp) = b.iter().take(32).position(|&c| c == b' ') else {
            return false;
        };
        sp > 0
            && b[..sp].iter().all(u8::is_ascii_alphanumeric)
            && [
                &b"CAPABILITY"[..],
                b"LOGIN ",
                b"AUTHENTICATE ",
                b"STARTTLS",
                b"ID ",
            ]
            .iter()
            .any(|c| starts(&b[sp + 1..], c))
    } else {
        starts(b, b"* OK") || starts(b, b"* PREAUTH") || starts(b, b"* BYE")
    }
}

/// Telnet (RFC 854): option negotiation (IAC WILL/WONT/DO/DONT/SB) says yes; printable text could
/// be a login prompt, a maybe.
fn telnet(ctx: Ctx, b: &[u8]) -> Check {
    if ctx.udp {
        return Check::No;
    }
    if b.len() >= 3 && b[0] == 0xff && (0xfa..=0xfe).contains(&b[1]) {
        return Check::Yes;
    }
    if b.iter()
        .take(256)
        .all(|&c| c == b'\r' || c == b'\n' || (0x20..0x7f).contains(&c))
    {
        return Check::Maybe;
    }
    Check::No
}

/// NTP (RFC 5905 7.3): version 1–4 and a mode of 1–5 in a 48-byte header (or longer, with
/// extensions or a MAC); modes 6 and 7 are control messages of 12 bytes and more.
fn is_ntp(b: &[u8]) -> bool {
    let version = (b[0] >> 3) & 7;
    let mode = b[0] & 7;
    (1..=4).contains(&version)
        && match mode {
            1..=5 => b.len() >= 48 && b[1] <= 16,
            6 | 7 => b.len() >= 12,
            _ => false,
        }
}

/// SNMP (RFC 3416, 3412): SEQUENCE { INTEGER version 0, 1 or 3, … }.
fn is_snmp(b: &[u8]) -> bool {
    if b[0] != 0x30 {
        return false;
    }
    let Some((_, at)) = der_len(b, 1) else {
        return false;
    };
    b.get(at..at + 3)
        .is_some_and(|v| v[0] == 0x02 && v[1] == 1 && matches!(v[2], 0 | 1 | 3))
        && matches!(b.get(at + 3), Some(0x04 | 0x30))
}

/// RADIUS (RFC 2865 3, 2866, 5176): a known code and a length that is the datagram's.
fn is_radius(b: &[u8]) -> bool {
    let Some(len) = be16(b, 2) else {
        return false;
    };
    matches!(b[0], 1..=5 | 11..=13 | 40..=45) && (20..=4096).contains(&len) && len == b.len()
}

/// ISAKMP / IKE (RFC 2408 3.1, RFC 7296 3.1): a 28-byte header with a non-zero initiator SPI,
/// version 1.0 or 2.0, a known exchange type and a length at least the header.
fn is_ike(b: &[u8]) -> bool {
    if b.len() < 28 || b[..8] == [0; 8] {
        return false;
    }
    let exchange = b[18];
    let ok_exchange = match b[17] {
        0x10 => matches!(exchange, 1..=6 | 32..=35),
        0x20 => matches!(exchange, 34..=37),
        _ => false,
    };
    ok_exchange && be32(b, 24).is_some_and(|n| n >= 28)
}

/// IKE and ESP over UDP 4500 (RFC 3948 2): a keep-alive (one 0xFF byte), IKE after the four-byte
/// non-ESP marker, or ESP (a non-zero SPI and a sequence number).
fn is_nat_t(b: &[u8]) -> bool {
    (b.len() == 1 && b[0] == 0xff)
        || (b.len() >= 32 && b[..4] == [0; 4] && is_ike(&b[4..]))
        || (b.len() >= 16 && b[..4] != [0; 4])
}

/// L2TP (RFC 2661 3.1): version 2 (or 3); a control message has its length and sequence bits set
/// and the length of the datagram.
fn is_l2tp(b: &[u8]) -> bool {
    if b.len() < 6 || !matches!(b[1] & 0x0f, 2 | 3) || b[1] & 0xf0 != 0 || b[0] & 0x34 != 0 {
        return false;
    }
    if b[0] & 0x80 != 0 {
        return b[0] & 0x48 == 0x48 && be16(b, 2).is_some_and(|n| n == b.len() || n > b.len());
    }
    true
}

/// PPTP (RFC 2637 2.1): a length, message type 1 or 2 and the magic cookie 0x1A2B3C4D.
fn is_pptp(b: &[u8]) -> bool {
    b.len() >= 12
        && be16(b, 0).is_some_and(|n| n >= 12)
        && matches!(be16(b, 2), Some(1 | 2))
        && b[4..8] == [0x1a, 0x2b, 0x3c, 0x4d]
}

/// DHCP / BOOTP (RFC 2131 2, RFC 951): op 1 or 2, a hardware address length of at most 16, the
/// magic cookie 99.130.83.99 after the fixed fields.
fn is_dhcp(b: &[u8]) -> bool {
    b.len() >= 240 && matches!(b[0], 1 | 2) && b[2] <= 16 && b[236..240] == [99, 130, 83, 99]
}

/// A GRE header (the payload of IP protocol 47): version 1 with protocol type PPP (0x880B) and the
/// key bit, PPTP's enhanced GRE (RFC 2637 4.1); version 0 with no reserved bits, plain GRE (RFC
/// 2784 2.1).
pub fn gre(b: &[u8]) -> Option<Wire> {
    if b.len() < 4 {
        return None;
    }
    let ptype = u16::from_be_bytes([b[2], b[3]]);
    match b[1] & 0x07 {
        1 if ptype == 0x880b && b[0] & 0x20 != 0 && b.len() >= 8 => Some(Wire::GrePptp),
        0 if b[0] & 0x0f == 0 && b[1] & 0xf8 == 0 => Some(Wire::Gre),
        _ => None,
    }
}

/// TFTP (RFC 1350 5): an opcode 1–6; a request names a file and a mode.
fn is_tftp(b: &[u8]) -> bool {
    match be16(b, 0) {
        Some(1 | 2) => b.len() >= 4 && b.ends_with(&[0]),
        Some(3..=6) => b.len() >= 4,
        _ => false,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub const TCP_C: Ctx = Ctx {
        udp: false,
        from_client: true,
    };
    pub const TCP_S: Ctx = Ctx {
        udp: false,
        from_client: false,
    };
    pub const UDP_C: Ctx = Ctx {
        udp: true,
        from_client: true,
    };
    pub const UDP_S: Ctx = Ctx {
        udp: true,
        from_client: false,
    };

    fn id(ctx: Ctx, b: &[u8]) -> Wire {
        identify(ctx, &[], b).0
    }

    /// A TPKT + COTP DT carrying `d`.
    pub fn cotp_dt(d: &[u8]) -> Vec<u8> {
        let len = (7 + d.len()) as u16;
        let mut v = vec![3, 0];
        v.extend_from_slice(&len.to_be_bytes());
        v.extend_from_slice(&[2, 0xf0, 0x80]);
        v.extend_from_slice(d);
        v
    }

    /// An X.224 connection request with an RDP negotiation request (MS-RDPBCGR 4.1.1).
    pub fn rdp_cr(neg: bool) -> Vec<u8> {
        let cookie = b"Cookie: mstshash=alice\r\n";
        let mut v = vec![3, 0, 0, 0, 0, 0xe0, 0, 0, 0, 0, 0];
        v.extend_from_slice(cookie);
        if neg {
            v.extend_from_slice(&[1, 0, 8, 0, 3, 0, 0, 0]);
        }
        let len = v.len() as u16;
        v[2..4].copy_from_slice(&len.to_be_bytes());
        v[4] = (len - 5) as u8;
        v
    }

    #[test]
    fn tls_records_and_ssl2_hellos_are_tls_and_random_bytes_are_not() {
        assert_eq!(id(TCP_C, &[0x16, 3, 1, 0, 0xc8, 1, 0, 0, 0xc4]), Wire::Tls);
        assert_eq!(id(TCP_S, &[0x15, 3, 3, 0, 2, 2, 40]), Wire::Tls);
        assert_eq!(id(TCP_C, &[0x80, 0x2e, 1, 3, 1, 0, 0x15]), Wire::Tls);
        assert_eq!(id(TCP_C, &[0x16, 3, 9, 0, 5]), Wire::Unknown);
        assert_eq!(id(TCP_C, &[0x16, 3, 1, 0, 0]), Wire::Unknown);
    }

    #[test]
    fn smb_and_netbios_session_frames() {
        let mut smb2 = vec![0, 0, 0, 0x40, 0xfe, b'S', b'M', b'B'];
        smb2.extend_from_slice(&[0; 60]);
        assert_eq!(id(TCP_C, &smb2), Wire::Smb);
        let mut req = vec![0x81, 0, 0, 68, 0x20];
        req.extend_from_slice(&[b'E'; 32]);
        assert_eq!(id(TCP_C, &req), Wire::NetbiosSession);
        assert_eq!(
            probe(Wire::NetbiosSession, TCP_S, &[0x82, 0, 0, 0]),
            Check::Yes
        );
        assert_eq!(probe(Wire::Smb, TCP_S, &[0x82, 0, 0, 0]), Check::No);
    }

    #[test]
    fn iso_transport_on_102_tells_s7comm_mms_and_x400_apart_and_a_connect_alone_is_a_maybe() {
        let cr = [
            3, 0, 0, 22, 17, 0xe0, 0, 0, 0, 1, 0, 0xc1, 2, 1, 0, 0xc2, 2, 1, 2, 0xc0, 1, 10,
        ];
        assert_eq!(identify(TCP_C, &[Wire::X400], &cr), (Wire::IsoTsap, true));
        let s7 = cotp_dt(&[
            0x32, 1, 0, 0, 0, 0, 0, 8, 0, 0, 0xf0, 0, 0, 1, 0, 1, 1, 0xe0,
        ]);
        assert_eq!(identify(TCP_C, &[Wire::X400], &s7), (Wire::S7comm, false));
        // ISO session CONNECT carrying a presentation context for MMS (1.0.9506.2.1).
        let mut cn = vec![
            0x0d, 0x40, 0x05, 0x06, 0x13, 0x01, 0x00, 0x31, 0x30, 0x06, 0x05,
        ];
        cn.extend_from_slice(MMS_OID);
        assert_eq!(
            identify(TCP_C, &[Wire::X400], &cotp_dt(&cn)),
            (Wire::IsoMms, false)
        );
        let mut x400 = vec![0x0d, 0x40, 0x05, 0x06, 0x13, 0x01, 0x00, 0x31, 0x30];
        x400.extend_from_slice(&[0x06, 0x03, 0x56, 0x00, 0x01]);
        assert_eq!(
            identify(TCP_C, &[Wire::X400], &cotp_dt(&x400)),
            (Wire::X400, false)
        );
    }

    #[test]
    fn rdp_connection_requests_with_a_negotiation_request_are_rdp() {
        let cr = rdp_cr(true);
        assert_eq!(rdp_negotiation(&cr), Some((1, 3)));
        assert_eq!(probe(Wire::Rdp, TCP_C, &cr), Check::Yes);
        let old = rdp_cr(false);
        assert_eq!(rdp_negotiation(&old), None);
        assert_eq!(
            probe(Wire::Rdp, TCP_C, &old),
            Check::Yes,
            "the cookie says RDP"
        );
        let mut bare = vec![3, 0, 0, 11, 6, 0xe0, 0, 0, 0, 0, 0];
        assert_eq!(probe(Wire::Rdp, TCP_C, &bare), Check::Maybe);
        bare[5] = 0x77;
        assert_eq!(probe(Wire::Rdp, TCP_C, &bare), Check::No);
        let mut syn = vec![0xff, 0xff, 0xff, 0xff, 0, 64, 0, 1];
        syn.extend_from_slice(&[0; 24]);
        assert_eq!(id(UDP_C, &syn), Wire::RdpUdp);
    }

    #[test]
    fn text_protocols_by_their_request_or_status_line() {
        assert_eq!(
            id(TCP_C, b"GET /_vti_bin/x HTTP/1.1\r\nHost: a\r\n"),
            Wire::Http
        );
        assert_eq!(id(TCP_S, b"HTTP/1.1 200 OK\r\n"), Wire::Http);
        assert_eq!(id(TCP_C, b"OPTIONS rtsp://a/b RTSP/1.0\r\n"), Wire::Rtsp);
        assert_eq!(
            id(
                UDP_C,
                b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n"
            ),
            Wire::Ssdp
        );
        assert_eq!(id(UDP_C, b"INVITE sip:bob@b SIP/2.0\r\n"), Wire::Sip);
        assert_eq!(
            id(TCP_C, b"RPC_IN_DATA /rpc/rpcproxy.dll?a:6001 HTTP/1.1\r\n"),
            Wire::RpcOverHttp
        );
        assert_eq!(
            probe(Wire::RpcOverHttp, TCP_C, b"RPC_IN_DATA /rpc HTTP/1.1\r\n"),
            Check::Yes
        );
        assert_eq!(id(TCP_S, b"ncacn_http/1.0"), Wire::RpcOverHttp);
        assert_eq!(id(TCP_C, b"GETX"), Wire::Unknown);
        assert_eq!(id(TCP_C, b"GET /bad.html\r\n"), Wire::Http, "HTTP/0.9");
        assert_eq!(id(TCP_C, b"GET /a b\r\n"), Wire::Unknown);
    }

    #[test]
    fn mail_and_news_banners_and_commands() {
        assert_eq!(
            probe(Wire::Smtp, TCP_S, b"220 mail.example ESMTP\r\n"),
            Check::Yes
        );
        assert_eq!(probe(Wire::Smtp, TCP_C, b"EHLO client\r\n"), Check::Yes);
        assert_eq!(probe(Wire::Pop3, TCP_S, b"+OK POP3 ready\r\n"), Check::Yes);
        assert_eq!(probe(Wire::Imap, TCP_S, b"* OK IMAP4rev1\r\n"), Check::Yes);
        assert_eq!(probe(Wire::Imap, TCP_C, b"a001 CAPABILITY\r\n"), Check::Yes);
        assert_eq!(probe(Wire::Nntp, TCP_S, b"200 news ready\r\n"), Check::Yes);
        assert_eq!(
            probe(Wire::Ftp, TCP_S, b"220 Microsoft FTP Service\r\n"),
            Check::Yes
        );
        assert_eq!(probe(Wire::Ftp, TCP_S, b"220 mail ESMTP\r\n"), Check::Maybe);
        assert_eq!(id(TCP_S, b"220 Microsoft FTP Service\r\n"), Wire::Ftp);
        assert_eq!(id(TCP_S, b"SSH-2.0-OpenSSH_9.6\r\n"), Wire::Ssh);
        assert_eq!(probe(Wire::Telnet, TCP_S, &[0xff, 0xfd, 0x18]), Check::Yes);
    }

    #[test]
    fn binary_protocols_by_their_headers() {
        // Kerberos AS-REQ on UDP and TCP.
        let asreq = [
            0x6a, 0x81, 0x10, 0x30, 0x81, 0x0d, 0xa1, 0x03, 0x02, 0x01, 0x05,
        ];
        assert_eq!(id(UDP_C, &asreq), Wire::Kerberos);
        let mut tcp = vec![0, 0, 0, asreq.len() as u8];
        tcp.extend_from_slice(&asreq);
        assert_eq!(id(TCP_C, &tcp), Wire::Kerberos);
        // LDAP bindRequest; an SNMP get.
        assert_eq!(
            id(
                TCP_C,
                &[0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x03]
            ),
            Wire::Ldap
        );
        assert_eq!(
            id(UDP_C, &[0x30, 0x26, 0x02, 0x01, 0x01, 0x04, 0x06, b'p']),
            Wire::Snmp
        );
        // A DNS query for example.com A IN.
        let mut q = vec![0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 7];
        q.extend_from_slice(b"example\x03com\x00\x00\x01\x00\x01");
        assert_eq!(id(UDP_C, &q), Wire::Dns);
        let mut t = (q.len() as u16).to_be_bytes().to_vec();
        t.extend_from_slice(&q);
        assert_eq!(id(TCP_C, &t), Wire::Dns);
        // DCE/RPC bind; PPTP start-control-connection; MSMQ; TDS prelogin.
        let bind = [5, 0, 11, 3, 0x10, 0, 0, 0, 0x48, 0, 0, 0, 1, 0, 0, 0];
        assert_eq!(id(TCP_C, &bind), Wire::Dcerpc);
        let pptp = [0, 156, 0, 1, 0x1a, 0x2b, 0x3c, 0x4d, 0, 1, 0, 0];
        assert_eq!(id(TCP_C, &pptp), Wire::Pptp);
        let mut msmq = vec![0x10, 0, 0, 0];
        msmq.extend_from_slice(b"LIOR");
        msmq.extend_from_slice(&[0; 8]);
        assert_eq!(id(TCP_C, &msmq), Wire::Msmq);
        let pre = [0x12, 1, 0, 0x2f, 0, 0, 1, 0, 0, 0, 0x1a, 0, 6];
        assert_eq!(id(TCP_C, &pre), Wire::Tds);
        // IKEv2 SA_INIT; RADIUS Access-Request of 20 bytes; L2TP SCCRQ header.
        let mut ike = vec![
            1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0, 33, 0x20, 34, 8, 0, 0, 0, 0, 0, 0, 0,
            28,
        ];
        assert_eq!(id(UDP_C, &ike), Wire::Ike);
        let mut natt = vec![0, 0, 0, 0];
        natt.append(&mut ike);
        assert_eq!(probe(Wire::NatT, UDP_C, &natt), Check::Yes);
        let mut radius = vec![1, 7, 0, 20];
        radius.extend_from_slice(&[0; 16]);
        assert_eq!(id(UDP_C, &radius), Wire::Radius);
        let l2tp = [0xc8, 0x02, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(id(UDP_C, &l2tp), Wire::L2tp);
        // kpasswd: a change request on UDP 464; .NET Message Framing's preamble.
        let mut kp = vec![0, 20, 0, 1, 0, 4, 0x6e, 2, 0x30, 0];
        kp.extend_from_slice(&[0; 10]);
        assert_eq!(id(UDP_C, &kp), Wire::Kpasswd);
        assert_eq!(
            probe(Wire::NetNmf, TCP_C, &[0, 1, 0, 1, 2, 2, 0x20]),
            Check::Yes
        );
        assert_eq!(probe(Wire::NetNmf, TCP_S, &[0x0b]), Check::Yes);
        // SQL Browser: a one-byte broadcast and an answer.
        assert_eq!(probe(Wire::SqlBrowser, UDP_C, &[0x02]), Check::Yes);
        let mut resp = vec![5, 20, 0];
        resp.extend_from_slice(b"ServerName;SQL1;InstanceName;MSSQLSERVER;");
        assert_eq!(probe(Wire::SqlBrowser, UDP_S, &resp), Check::Yes);
        assert_eq!(
            id(UDP_C, &[0x02]),
            Wire::Unknown,
            "too weak to be named unasked"
        );
        // NTP client request.
        let mut ntp = vec![0x23];
        ntp.extend_from_slice(&[0; 47]);
        assert_eq!(probe(Wire::Ntp, UDP_C, &ntp), Check::Yes);
        // DHCP discover.
        let mut dhcp = vec![0u8; 240];
        dhcp[0] = 1;
        dhcp[1] = 1;
        dhcp[2] = 6;
        dhcp[236..240].copy_from_slice(&[99, 130, 83, 99]);
        assert_eq!(id(UDP_C, &dhcp), Wire::Dhcp);
    }

    #[test]
    fn pptp_tunnels_are_enhanced_gre() {
        // Key present, sequence present, version 1, PPP; payload length and call ID.
        let v1 = [0x30, 0x81, 0x88, 0x0b, 0, 20, 0, 1, 0, 0, 0, 1];
        assert_eq!(gre(&v1), Some(Wire::GrePptp));
        assert_eq!(gre(&[0, 0, 0x08, 0x00]), Some(Wire::Gre), "IPv4 in GRE");
        assert_eq!(gre(&[0x30, 0x82, 0x88, 0x0b]), None, "version 2");
    }

    #[test]
    fn every_wire_has_a_distinct_name() {
        let mut names: Vec<_> = Wire::ALL.iter().map(|w| w.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Wire::ALL.len());
    }

    proptest::proptest! {
        #![proptest_config(crate::testing::proptest_config(512))]

        /// Random bytes never panic any recogniser, in either direction on either transport.
        #[test]
        fn random_bytes_never_panic(b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600), udp: bool, from_client: bool) {
            let ctx = Ctx { udp, from_client };
            for w in Wire::ALL {
                let _ = probe(w, ctx, &b);
            }
            let _ = identify(ctx, &Wire::ALL, &b);
            let _ = rdp_negotiation(&b);
        }
    }
}
