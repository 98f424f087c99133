//! DCE/RPC (C706, MS-RPCE): what inspection needs from it — the interface a connection binds to,
//! the endpoints the endpoint mapper hands out, and the interface in a connectionless PDU header.
//!
//! Validity rule: every function takes untrusted bytes and checks each length against the slice
//! before reading; counts from the wire (context elements, towers, floors) are bounded by the bytes
//! that could hold them, so nothing is allocated in proportion to a lying count.

pub use crate::catalog::Uuid;

/// A UUID from the NDR wire form: the first three fields in the sender's byte order.
pub fn uuid_from_wire(b: &[u8], little: bool) -> Option<Uuid> {
    let b: &[u8; 16] = b.get(..16)?.try_into().ok()?;
    let mut u = *b;
    if little {
        u[0..4].reverse();
        u[4..6].reverse();
        u[6..8].reverse();
    }
    Some(Uuid(u))
}

/// The endpoint mapper's interface.
pub const EPM_UUID: Uuid = Uuid([
    0xe1, 0xaf, 0x83, 0x08, 0x5d, 0x1f, 0x11, 0xc9, 0x91, 0xa4, 0x08, 0x00, 0x2b, 0x14, 0xa0, 0xfa,
]);

/// Connection-oriented PDU types used here.
pub mod ptype {
    pub const REQUEST: u8 = 0;
    pub const RESPONSE: u8 = 2;
    pub const BIND: u8 = 11;
    pub const BIND_ACK: u8 = 12;
    pub const ALTER_CONTEXT: u8 = 14;
    /// The third leg of a three-leg authentication (NTLM's AUTHENTICATE message), client to server.
    pub const AUTH3: u8 = 16;
}

/// A PDU's authentication verifier ([MS-RPCE] 2.2.2.11, C706 13.2.6.1): the 8-byte sec_trailer
/// and the token after it, at the end of the fragment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthVerifier<'a> {
    /// The authentication service: 9 SPNEGO, 10 NTLM, 14 Schannel, 16 Kerberos, 68 Netlogon, …
    pub auth_type: u8,
    /// 1 none … 6 packet privacy.
    pub auth_level: u8,
    pub token: &'a [u8],
}

/// The verifier of a whole PDU (`pdu` holds the fragment `h` describes), when it has one whose
/// length fits in the fragment after the header.
pub fn auth_verifier<'a>(pdu: &'a [u8], h: &CoHeader) -> Option<AuthVerifier<'a>> {
    if h.auth_len == 0 {
        return None;
    }
    let end = usize::from(h.frag_len);
    let token = pdu.get(..end)?;
    let at = end.checked_sub(usize::from(h.auth_len))?;
    let trailer = at.checked_sub(8).filter(|&t| t >= CO_HEADER_LEN)?;
    Some(AuthVerifier {
        auth_type: token[trailer],
        auth_level: token[trailer + 1],
        token: &token[at..],
    })
}

/// The common header of a connection-oriented PDU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CoHeader {
    pub ptype: u8,
    pub flags: u8,
    /// Integers are little-endian (the data representation's first nibble).
    pub little: bool,
    pub frag_len: u16,
    pub auth_len: u16,
    pub call_id: u32,
}

pub const CO_HEADER_LEN: usize = 16;

/// Parses a connection-oriented header: version 5.0 or 5.1, a known PDU type, a sane length.
pub fn co_header(b: &[u8]) -> Option<CoHeader> {
    if b.len() < CO_HEADER_LEN || b[0] != 5 || b[1] > 1 || b[2] > 19 {
        return None;
    }
    let little = b[4] & 0xf0 == 0x10;
    let u16_at = |i: usize| {
        if little {
            u16::from_le_bytes([b[i], b[i + 1]])
        } else {
            u16::from_be_bytes([b[i], b[i + 1]])
        }
    };
    let frag_len = u16_at(8);
    let auth_len = u16_at(10);
    if usize::from(frag_len) < CO_HEADER_LEN || auth_len > frag_len {
        return None;
    }
    let call_id = if little {
        u32::from_le_bytes([b[12], b[13], b[14], b[15]])
    } else {
        u32::from_be_bytes([b[12], b[13], b[14], b[15]])
    };
    Some(CoHeader {
        ptype: b[2],
        flags: b[3],
        little,
        frag_len,
        auth_len,
        call_id,
    })
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
    little: bool,
}

impl<'a> Reader<'a> {
    fn u8(&mut self) -> Option<u8> {
        let v = *self.b.get(self.at)?;
        self.at += 1;
        Some(v)
    }
    fn u16(&mut self) -> Option<u16> {
        let s = self.b.get(self.at..self.at + 2)?;
        self.at += 2;
        Some(if self.little {
            u16::from_le_bytes([s[0], s[1]])
        } else {
            u16::from_be_bytes([s[0], s[1]])
        })
    }
    fn u32(&mut self) -> Option<u32> {
        let s = self.b.get(self.at..self.at + 4)?;
        self.at += 4;
        Some(if self.little {
            u32::from_le_bytes([s[0], s[1], s[2], s[3]])
        } else {
            u32::from_be_bytes([s[0], s[1], s[2], s[3]])
        })
    }
    fn skip(&mut self, n: usize) -> Option<()> {
        if self.at + n > self.b.len() {
            return None;
        }
        self.at += n;
        Some(())
    }
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
    fn align(&mut self, n: usize) {
        let pad = (n - self.at % n) % n;
        self.at = (self.at + pad).min(self.b.len());
    }
    fn uuid(&mut self) -> Option<Uuid> {
        let u = uuid_from_wire(self.b.get(self.at..)?, self.little)?;
        self.at += 16;
        Some(u)
    }
}

/// The interfaces (abstract syntaxes) a bind or alter_context PDU presents, in order.
pub fn bind_interfaces(pdu: &[u8]) -> Vec<(Uuid, u16)> {
    let mut out = Vec::new();
    let Some(h) = co_header(pdu) else { return out };
    if h.ptype != ptype::BIND && h.ptype != ptype::ALTER_CONTEXT {
        return out;
    }
    let body_end = usize::from(h.frag_len).min(pdu.len());
    let mut r = Reader {
        b: &pdu[..body_end],
        at: CO_HEADER_LEN,
        little: h.little,
    };
    // max_xmit_frag, max_recv_frag, assoc_group_id
    if r.skip(8).is_none() {
        return out;
    }
    let Some(n) = r.u8() else { return out };
    if r.skip(3).is_none() {
        return out;
    }
    for _ in 0..n {
        let parsed = (|| {
            let _context_id = r.u16()?;
            let n_transfer = r.u8()?;
            r.skip(1)?;
            let uuid = r.uuid()?;
            let major = r.u16()?;
            let _minor = r.u16()?;
            r.skip(usize::from(n_transfer) * 20)?;
            Some((uuid, major))
        })();
        match parsed {
            Some(x) => out.push(x),
            None => break,
        }
    }
    out
}

/// How an endpoint-mapper tower reaches the interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TowerTransport {
    Tcp,
    Udp,
    /// ncacn_http (RPC over HTTP), a TCP port.
    Http,
}

/// One endpoint from an endpoint-mapper answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tower {
    pub interface: Uuid,
    pub version: u16,
    pub transport: TowerTransport,
    pub port: u16,
    /// The IPv4 address in the tower (0.0.0.0 means the server's own).
    pub addr: Option<[u8; 4]>,
}

/// Parses one tower octet string (floors are little-endian whatever the PDU's byte order).
pub fn parse_tower(t: &[u8]) -> Option<Tower> {
    let floors = u16::from_le_bytes([*t.first()?, *t.get(1)?]);
    let mut at = 2;
    let mut interface = None;
    let mut version = 0;
    let mut transport = None;
    let mut port = None;
    let mut addr = None;
    // Each floor takes at least 4 bytes: the count is bounded by the bytes that could hold it.
    for i in 0..usize::from(floors).min(t.len() / 4) {
        let lhs_len = usize::from(u16::from_le_bytes([*t.get(at)?, *t.get(at + 1)?]));
        let lhs = t.get(at + 2..at + 2 + lhs_len)?;
        at += 2 + lhs_len;
        let rhs_len = usize::from(u16::from_le_bytes([*t.get(at)?, *t.get(at + 1)?]));
        let rhs = t.get(at + 2..at + 2 + rhs_len)?;
        at += 2 + rhs_len;
        match (lhs.first(), i) {
            (Some(0x0d), 0) if lhs.len() >= 19 => {
                interface = uuid_from_wire(&lhs[1..17], true);
                version = u16::from_le_bytes([lhs[17], lhs[18]]);
            }
            (Some(0x07), _) if rhs.len() == 2 => {
                transport.get_or_insert(TowerTransport::Tcp);
                port = Some(u16::from_be_bytes([rhs[0], rhs[1]]));
            }
            (Some(0x08), _) if rhs.len() == 2 => {
                transport = Some(TowerTransport::Udp);
                port = Some(u16::from_be_bytes([rhs[0], rhs[1]]));
            }
            (Some(0x1f), _) if rhs.len() == 2 => {
                transport = Some(TowerTransport::Http);
                port = Some(u16::from_be_bytes([rhs[0], rhs[1]]));
            }
            (Some(0x09), _) if rhs.len() == 4 => addr = Some([rhs[0], rhs[1], rhs[2], rhs[3]]),
            _ => {}
        }
    }
    Some(Tower {
        interface: interface?,
        version,
        transport: transport?,
        port: port?,
        addr,
    })
}

/// The most towers taken from one answer.
pub const MAX_TOWERS: usize = 64;

/// Endpoints in an `ept_map` response stub (opnum 3): the NDR layout is walked, and where it does not
/// fit (NDR64, a stub cut short), tower octet strings are found by their first floor instead.
pub fn ept_map_towers(stub: &[u8], little: bool) -> Vec<Tower> {
    let mut out = walk_towers(stub, little).unwrap_or_default();
    if out.is_empty() {
        out = scan_towers(stub);
    }
    out.truncate(MAX_TOWERS);
    out
}

fn walk_towers(stub: &[u8], little: bool) -> Option<Vec<Tower>> {
    let mut r = Reader {
        b: stub,
        at: 0,
        little,
    };
    r.skip(20)?; // entry_handle
    let num_towers = r.u32()? as usize;
    let _max = r.u32()?;
    let _offset = r.u32()?;
    let actual = r.u32()? as usize;
    if actual != num_towers || actual > MAX_TOWERS {
        return None;
    }
    let mut referents = 0;
    for _ in 0..actual {
        if r.u32()? != 0 {
            referents += 1;
        }
    }
    let mut out = Vec::new();
    for _ in 0..referents {
        r.align(4);
        let _conformance = r.u32()?;
        let len = r.u32()? as usize;
        let tower = r.bytes(len)?;
        if let Some(t) = parse_tower(tower) {
            out.push(t);
        }
    }
    Some(out)
}

fn scan_towers(stub: &[u8]) -> Vec<Tower> {
    let mut out = Vec::new();
    let mut i = 0;
    // A tower starts with its floor count (u16) and a 19-byte first floor beginning with 0x0d.
    while i + 5 <= stub.len() && out.len() < MAX_TOWERS {
        if tower_start(&stub[i..]) {
            if let Some(t) = parse_tower(&stub[i..]) {
                out.push(t);
                i += 5;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// The interface an `ept_map` request (opnum 3) asks for: the first floor of its map tower. The NDR
/// layout (object pointer and UUID, tower pointer, conformance, length, octets) is walked; where it
/// does not fit, the first tower start found is read instead.
pub fn ept_map_request_interface(stub: &[u8], little: bool) -> Option<Uuid> {
    let walked = (|| {
        let mut r = Reader {
            b: stub,
            at: 0,
            little,
        };
        if r.u32()? != 0 {
            r.skip(16)?; // the object UUID
        }
        if r.u32()? == 0 {
            return None; // no tower
        }
        let _conformance = r.u32()?;
        let len = r.u32()? as usize;
        first_floor_interface(r.bytes(len)?)
    })();
    walked.or_else(|| {
        (0..stub.len().saturating_sub(4))
            .filter(|&i| tower_start(&stub[i..]))
            .find_map(|i| first_floor_interface(&stub[i..]))
    })
}

/// A tower's floor count (u16) then a 19-byte first floor beginning with 0x0d.
fn tower_start(b: &[u8]) -> bool {
    b.len() >= 5 && b[1] == 0 && (3..=8).contains(&b[0]) && b[2] == 19 && b[3] == 0 && b[4] == 0x0d
}

/// The interface UUID of a tower's first floor.
fn first_floor_interface(t: &[u8]) -> Option<Uuid> {
    if !tower_start(t) || t.len() < 2 + 2 + 19 {
        return None;
    }
    uuid_from_wire(&t[5..21], true)
}

/// DCOM's activation and OXID-resolution interfaces, whose answers carry string bindings:
/// IRemoteSCMActivator (ISystemActivator), IActivation, IObjectExporter (IOXIDResolver).
pub const DCOM_ACTIVATION: [Uuid; 3] = [
    Uuid([
        0x00, 0x00, 0x01, 0xa0, 0, 0, 0, 0, 0xc0, 0, 0, 0, 0, 0, 0, 0x46,
    ]),
    Uuid([
        0x4d, 0x9f, 0x4a, 0xb8, 0x7d, 0x1c, 0x11, 0xcf, 0x86, 0x1e, 0x00, 0x20, 0xaf, 0x6e, 0x7c,
        0x57,
    ]),
    Uuid([
        0x99, 0xfc, 0xfe, 0xc4, 0x52, 0x60, 0x10, 0x1b, 0xbb, 0xcb, 0x00, 0xaa, 0x00, 0x21, 0x34,
        0x7a,
    ]),
];

/// A TCP string binding of a DCOM answer (MS-DCOM 2.2.19.3 STRINGBINDING with tower id
/// ncacn_ip_tcp): the network address as sent and the port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StringBinding {
    pub host: String,
    pub port: u16,
}

/// The most string bindings taken from one answer, and the longest address read.
pub const MAX_BINDINGS: usize = 16;
const MAX_BINDING_UNITS: usize = 256;

/// The `ncacn_ip_tcp` string bindings (`DC1[49724]`, `192.0.2.10[49724]`) in a DCOM activation or
/// OXID-resolution answer: the DUALSTRINGARRAY entries are found by their tower id (0x0007)
/// followed by UTF-16 printable text ending in `[port]` and a NUL. Security bindings and bindings
/// without a port are skipped.
pub fn tcp_string_bindings(stub: &[u8]) -> Vec<StringBinding> {
    let mut out: Vec<StringBinding> = Vec::new();
    let mut i = 0;
    while i + 4 <= stub.len() && out.len() < MAX_BINDINGS {
        if stub[i] != 0x07 || stub[i + 1] != 0 {
            i += 1;
            continue;
        }
        let mut text = String::new();
        let mut at = i + 2;
        let mut ended = false;
        while let Some(u) = stub.get(at..at + 2) {
            let unit = u16::from_le_bytes([u[0], u[1]]);
            at += 2;
            if unit == 0 {
                ended = true;
                break;
            }
            match char::from_u32(u32::from(unit)) {
                Some(c) if c.is_ascii_graphic() && text.len() < MAX_BINDING_UNITS => text.push(c),
                _ => break,
            }
        }
        let parsed = ended
            .then(|| {
                let (host, port) = text.strip_suffix(']')?.rsplit_once('[')?;
                let port: u16 = port.parse().ok()?;
                (!host.is_empty() && port != 0).then(|| StringBinding {
                    host: host.to_string(),
                    port,
                })
            })
            .flatten();
        match parsed {
            Some(b) => {
                if !out.contains(&b) {
                    out.push(b);
                }
                i = at;
            }
            None => i += 1,
        }
    }
    out
}

/// The stub data of a request or response PDU (after the header, the 8-byte request/response header
/// and an object UUID when flagged), without the authentication trailer.
pub fn stub<'a>(pdu: &'a [u8], h: &CoHeader) -> Option<(u16, &'a [u8])> {
    let end = usize::from(h.frag_len).min(pdu.len());
    let auth = if h.auth_len > 0 {
        usize::from(h.auth_len) + 8
    } else {
        0
    };
    let end = end.checked_sub(auth)?;
    let mut r = Reader {
        b: &pdu[..end],
        at: CO_HEADER_LEN,
        little: h.little,
    };
    r.skip(4)?; // alloc_hint
    let _context = r.u16()?;
    let opnum = r.u16()?; // (cancel count + reserved in a response)
    if h.ptype == ptype::REQUEST && h.flags & 0x80 != 0 {
        r.skip(16)?;
    }
    Some((opnum, r.b.get(r.at..)?))
}

/// The interface UUID of a connectionless (UDP) PDU header, when the bytes are one: version 4, a
/// known PDU type, a body length that matches.
pub fn cl_interface(b: &[u8]) -> Option<Uuid> {
    if b.len() < 80 || b[0] != 4 || b[1] > 10 {
        return None;
    }
    let little = b[4] & 0xf0 == 0x10;
    let body = if little {
        u16::from_le_bytes([b[74], b[75]])
    } else {
        u16::from_be_bytes([b[74], b[75]])
    };
    if 80 + usize::from(body) != b.len() {
        return None;
    }
    uuid_from_wire(&b[24..40], little)
}

/// Reassembles one direction of a TCP stream into whole PDUs, in sequence order. Out-of-order data
/// and gaps drop what is buffered and resynchronise on the next segment that starts a PDU.
#[derive(Debug, Default)]
pub struct PduStream {
    buf: Vec<u8>,
    next_seq: Option<u32>,
}

/// The most bytes buffered per direction: one maximal fragment.
pub const MAX_BUFFER: usize = 65_536 + CO_HEADER_LEN;

impl PduStream {
    /// Bytes held waiting for the rest of a PDU.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Drops what is held (the stream is given up).
    pub fn clear(&mut self) {
        self.buf = Vec::new();
    }

    /// Adds a segment; calls `each` with every PDU it completes. Returns false when the stream is not
    /// DCE/RPC (the data at a PDU boundary is no PDU header).
    pub fn push(&mut self, seq: u32, data: &[u8], mut each: impl FnMut(&CoHeader, &[u8])) -> bool {
        if data.is_empty() {
            return true;
        }
        // The stream continues after this segment's last byte, whatever part of it is new.
        let end = seq.wrapping_add(data.len() as u32);
        let data = match super::in_sequence(self.next_seq, seq, data) {
            super::InSequence::Next(data) => data,
            super::InSequence::Old => return true,
            super::InSequence::Gap { data, .. } => {
                // A gap: lose sync and start again at this segment.
                self.buf.clear();
                data
            }
        };
        self.next_seq = Some(end);
        if self.buf.len() + data.len() > MAX_BUFFER {
            self.buf.clear();
        }
        self.buf.extend_from_slice(data);
        let mut at = 0;
        let mut ok = true;
        while self.buf.len() - at >= CO_HEADER_LEN {
            let Some(h) = co_header(&self.buf[at..]) else {
                ok = false;
                break;
            };
            let len = usize::from(h.frag_len);
            if self.buf.len() - at < len {
                break;
            }
            each(&h, &self.buf[at..at + len]);
            at += len;
        }
        if ok {
            self.buf.drain(..at);
        } else {
            self.buf.clear();
        }
        // What is held is counted against the inspector's budget by length: keep the allocation near
        // it, not at the size of the largest PDU the stream ever carried.
        if self.buf.capacity() > 2 * self.buf.len() + 4096 {
            self.buf.shrink_to(self.buf.len());
        }
        ok
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn auth_verifiers_are_read_from_the_fragments_end() {
        // A bind with 4 bytes of stub and an 8-byte NTLM token behind its sec_trailer.
        let mut pdu = vec![5, 0, ptype::BIND, 3, 0x10, 0, 0, 0];
        let frag_len = 16 + 4 + 8 + 8;
        pdu.extend_from_slice(&(frag_len as u16).to_le_bytes());
        pdu.extend_from_slice(&8u16.to_le_bytes());
        pdu.extend_from_slice(&1u32.to_le_bytes());
        pdu.extend_from_slice(&[0xaa; 4]);
        pdu.extend_from_slice(&[10, 2, 0, 0, 0, 0, 0, 0]);
        pdu.extend_from_slice(b"NTLMSSP\0");
        let h = co_header(&pdu).unwrap();
        let v = auth_verifier(&pdu, &h).unwrap();
        assert_eq!(
            (v.auth_type, v.auth_level, v.token),
            (10, 2, &b"NTLMSSP\0"[..])
        );
        // A PDU shorter than its fragment length, or a token longer than the fragment allows.
        assert_eq!(auth_verifier(&pdu[..frag_len - 1], &h), None);
        let mut lying = h;
        lying.auth_len = (frag_len - 16 - 7) as u16;
        assert_eq!(auth_verifier(&pdu, &lying), None);
        lying.auth_len = 0;
        assert_eq!(auth_verifier(&pdu, &lying), None);
    }

    /// Builds a little-endian bind PDU for one interface.
    pub fn bind(call_id: u32, iface: Uuid, major: u16) -> Vec<u8> {
        let mut b = vec![5, 0, ptype::BIND, 3, 0x10, 0, 0, 0, 0, 0, 0, 0];
        b.extend_from_slice(&call_id.to_le_bytes());
        b.extend_from_slice(&[0xb8, 0x10, 0xb8, 0x10, 0, 0, 0, 0]);
        b.extend_from_slice(&[1, 0, 0, 0]); // one context
        b.extend_from_slice(&[0, 0, 1, 0]); // context 0, one transfer syntax
        b.extend_from_slice(&wire(iface));
        b.extend_from_slice(&major.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&wire(
            Uuid::parse("8a885d04-1ceb-11c9-9fe8-08002b104860").unwrap(),
        ));
        b.extend_from_slice(&2u32.to_le_bytes());
        let len = b.len() as u16;
        b[8..10].copy_from_slice(&len.to_le_bytes());
        b
    }

    pub fn wire(u: Uuid) -> [u8; 16] {
        let mut w = u.0;
        w[0..4].reverse();
        w[4..6].reverse();
        w[6..8].reverse();
        w
    }

    /// A tower octet string for ncacn_ip_tcp.
    pub fn tower(iface: Uuid, port: u16, addr: [u8; 4]) -> Vec<u8> {
        let mut t = vec![5, 0];
        t.extend_from_slice(&19u16.to_le_bytes());
        t.push(0x0d);
        t.extend_from_slice(&wire(iface));
        t.extend_from_slice(&1u16.to_le_bytes());
        t.extend_from_slice(&2u16.to_le_bytes());
        t.extend_from_slice(&0u16.to_le_bytes());
        t.extend_from_slice(&19u16.to_le_bytes());
        t.push(0x0d);
        t.extend_from_slice(&wire(
            Uuid::parse("8a885d04-1ceb-11c9-9fe8-08002b104860").unwrap(),
        ));
        t.extend_from_slice(&2u16.to_le_bytes());
        t.extend_from_slice(&2u16.to_le_bytes());
        t.extend_from_slice(&0u16.to_le_bytes());
        t.extend_from_slice(&[1, 0, 0x0b, 2, 0, 0, 0]);
        t.extend_from_slice(&[1, 0, 0x07, 2, 0]);
        t.extend_from_slice(&port.to_be_bytes());
        t.extend_from_slice(&[1, 0, 0x09, 4, 0]);
        t.extend_from_slice(&addr);
        t
    }

    /// Regression: a segment that repeats the end of the previous one (re-segmented on
    /// retransmission) set the next expected sequence number short by the repeated bytes, so the
    /// following segment looked like a gap and the PDU was lost.
    #[test]
    fn a_partly_repeated_segment_keeps_the_stream_in_step() {
        let netlogon = Uuid::parse("12345678-1234-abcd-ef00-01234567cffb").unwrap();
        let pdu = bind(1, netlogon, 1);
        let mut s = PduStream::default();
        let mut seen = Vec::new();
        assert!(s.push(100, &pdu[..30], |_, p| seen.push(p.to_vec())));
        // Bytes 20..50 again, ten of them new.
        assert!(s.push(120, &pdu[20..50], |_, p| seen.push(p.to_vec())));
        assert!(s.push(150, &pdu[50..], |_, p| seen.push(p.to_vec())));
        assert_eq!(seen, [pdu]);
    }

    #[test]
    fn an_ept_map_request_names_the_interface_asked_for() {
        let netlogon = Uuid::parse("12345678-1234-abcd-ef00-01234567cffb").unwrap();
        let t = tower(netlogon, 0, [0; 4]);
        for object in [true, false] {
            let mut s = Vec::new();
            if object {
                s.extend_from_slice(&1u32.to_le_bytes());
                s.extend_from_slice(&[0u8; 16]);
            } else {
                s.extend_from_slice(&0u32.to_le_bytes());
            }
            s.extend_from_slice(&2u32.to_le_bytes());
            s.extend_from_slice(&(t.len() as u32).to_le_bytes());
            s.extend_from_slice(&(t.len() as u32).to_le_bytes());
            s.extend_from_slice(&t);
            s.extend_from_slice(&[0u8; 24]);
            assert_eq!(ept_map_request_interface(&s, true), Some(netlogon));
            // A length that lies: the walk fails, the scan still finds the tower.
            s[if object { 24 } else { 8 }] = 0xff;
            assert_eq!(ept_map_request_interface(&s, true), Some(netlogon));
            // Cut inside the first floor: nothing.
            let cut = if object { 28 } else { 12 } + 10;
            assert_eq!(ept_map_request_interface(&s[..cut], true), None);
        }
        assert_eq!(ept_map_request_interface(&[], true), None);
    }

    #[test]
    fn dcom_answers_carry_tcp_string_bindings() {
        let utf16 = |s: &str| -> Vec<u8> { s.encode_utf16().flat_map(u16::to_le_bytes).collect() };
        let mut stub = vec![0xcc; 10];
        // DUALSTRINGARRAY: entry count, security offset, then bindings.
        stub.extend([0x2c, 0, 0x16, 0]);
        for b in ["DC1[49724]", "192.168.56.101[49724]"] {
            stub.extend([7, 0]);
            stub.extend(utf16(b));
            stub.extend([0, 0]);
        }
        // A binding without a port, and a security binding, are not endpoints.
        stub.extend([7, 0]);
        stub.extend(utf16("DC1"));
        stub.extend([0, 0, 0, 0, 0x0a, 0, 0xff, 0xff]);
        stub.extend(utf16("PURP\\Administrator"));
        stub.extend([0, 0]);
        let found = tcp_string_bindings(&stub);
        assert_eq!(
            found,
            [
                StringBinding {
                    host: "DC1".into(),
                    port: 49724
                },
                StringBinding {
                    host: "192.168.56.101".into(),
                    port: 49724
                }
            ]
        );
        // Cut anywhere: never a panic, never a binding that was not whole.
        for cut in 0..stub.len() {
            assert!(tcp_string_bindings(&stub[..cut]).len() <= 2);
        }
        assert_eq!(
            DCOM_ACTIVATION[0],
            Uuid::parse("000001a0-0000-0000-c000-000000000046").unwrap()
        );
        assert_eq!(
            DCOM_ACTIVATION[1],
            Uuid::parse("4d9f4ab8-7d1c-11cf-861e-0020af6e7c57").unwrap()
        );
        assert_eq!(
            DCOM_ACTIVATION[2],
            Uuid::parse("99fcfec4-5260-101b-bbcb-00aa0021347a").unwrap()
        );
    }

    /// An ept_map response stub with these towers (NDR, little-endian).
    pub fn ept_map_stub(towers: &[Vec<u8>]) -> Vec<u8> {
        let mut s = vec![0u8; 20];
        let n = towers.len() as u32;
        s.extend_from_slice(&n.to_le_bytes());
        s.extend_from_slice(&n.to_le_bytes());
        s.extend_from_slice(&0u32.to_le_bytes());
        s.extend_from_slice(&n.to_le_bytes());
        for i in 0..n {
            s.extend_from_slice(&(0x20000 + i).to_le_bytes());
        }
        for t in towers {
            while !s.len().is_multiple_of(4) {
                s.push(0);
            }
            s.extend_from_slice(&(t.len() as u32).to_le_bytes());
            s.extend_from_slice(&(t.len() as u32).to_le_bytes());
            s.extend_from_slice(t);
        }
        while !s.len().is_multiple_of(4) {
            s.push(0);
        }
        s.extend_from_slice(&0u32.to_le_bytes());
        s
    }

    fn netlogon() -> Uuid {
        Uuid::parse("12345678-1234-abcd-ef00-01234567cffb").unwrap()
    }

    #[test]
    fn uuids_round_trip_between_text_and_wire() {
        let u = netlogon();
        assert_eq!(u.to_string(), "12345678-1234-abcd-ef00-01234567cffb");
        assert_eq!(uuid_from_wire(&wire(u), true), Some(u));
        assert_eq!(uuid_from_wire(&u.0, false), Some(u));
        assert_eq!(Uuid::parse("12345678-1234-abcd-ef00-01234567cff"), None);
        assert_eq!(Uuid::parse("1234567812-34-abcd-ef00-01234567cffb"), None);
    }

    #[test]
    fn bind_names_its_interface() {
        let pdu = bind(1, netlogon(), 1);
        let h = co_header(&pdu).unwrap();
        assert_eq!(
            (h.ptype, h.frag_len as usize, h.call_id),
            (ptype::BIND, pdu.len(), 1)
        );
        assert_eq!(bind_interfaces(&pdu), vec![(netlogon(), 1)]);
        // A bind that lies about its context count gives what fits, no more.
        let mut lying = pdu.clone();
        lying[24] = 200;
        assert_eq!(bind_interfaces(&lying), vec![(netlogon(), 1)]);
        assert!(bind_interfaces(&pdu[..30]).is_empty());
    }

    #[test]
    fn ept_map_towers_give_ports_and_addresses() {
        let drsuapi = Uuid::parse("e3514235-4b06-11d1-ab04-00c04fc2dcd2").unwrap();
        let stub = ept_map_stub(&[
            tower(netlogon(), 49668, [192, 0, 2, 10]),
            tower(drsuapi, 49669, [0, 0, 0, 0]),
        ]);
        let towers = ept_map_towers(&stub, true);
        assert_eq!(towers.len(), 2);
        assert_eq!(
            towers[0],
            Tower {
                interface: netlogon(),
                version: 1,
                transport: TowerTransport::Tcp,
                port: 49668,
                addr: Some([192, 0, 2, 10])
            }
        );
        assert_eq!(towers[1].interface, drsuapi);
        assert_eq!(towers[1].port, 49669);
        // Without the NDR frame (say NDR64), the towers are still found.
        let mut shifted = vec![0u8; 7];
        shifted.extend_from_slice(&tower(netlogon(), 50000, [0; 4]));
        assert_eq!(ept_map_towers(&shifted, true)[0].port, 50000);
        // A huge tower count is not believed.
        let mut lying = stub.clone();
        lying[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(ept_map_towers(&lying, true).len() <= MAX_TOWERS);
    }

    #[test]
    fn streams_reassemble_split_and_joined_pdus() {
        let a = bind(1, netlogon(), 1);
        let b = bind(2, netlogon(), 1);
        let mut joined = a.clone();
        joined.extend_from_slice(&b);
        let mut s = PduStream::default();
        let mut seen = Vec::new();
        // First half of PDU 1, then the rest plus PDU 2 in one segment.
        assert!(s.push(1000, &joined[..20], |h, _| seen.push(h.call_id)));
        assert!(seen.is_empty());
        assert!(s.push(1020, &joined[20..], |h, _| seen.push(h.call_id)));
        assert_eq!(seen, [1, 2]);
        // A retransmission of old bytes changes nothing.
        assert!(s.push(1000, &joined[..40], |h, _| seen.push(h.call_id)));
        assert_eq!(seen, [1, 2]);
        // Not DCE/RPC.
        let mut other = PduStream::default();
        assert!(!other.push(1, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", |_, _| {}));
    }

    #[test]
    fn a_fragment_that_never_ends_stays_bounded() {
        // A header claiming a 65,535-byte PDU, then endless data that never completes it.
        let mut header = bind(1, netlogon(), 1);
        header[8..10].copy_from_slice(&u16::MAX.to_le_bytes());
        let mut s = PduStream::default();
        let mut seq = 1u32;
        assert!(s.push(seq, &header[..16], |_, _| panic!("no PDU completes")));
        seq += 16;
        for _ in 0..1000 {
            s.push(seq, &[0u8; 1400], |_, _| {});
            seq = seq.wrapping_add(1400);
            assert!(s.buf.len() <= MAX_BUFFER);
        }
        // Lengths that lie the other way (frag_len below the header) are not DCE/RPC.
        let mut short = bind(1, netlogon(), 1);
        short[8..10].copy_from_slice(&8u16.to_le_bytes());
        assert!(co_header(&short).is_none());
        assert!(!PduStream::default().push(1, &short, |_, _| {}));
    }

    /// Regression: a stream kept the allocation of the largest PDU it ever reassembled (64 KiB per
    /// direction of every inspected flow) while the budget counted only the bytes still held.
    #[test]
    fn a_completed_big_pdu_gives_its_memory_back() {
        let mut pdu = bind(1, netlogon(), 1);
        let len = 60_000u16;
        pdu.resize(usize::from(len), 0);
        pdu[8..10].copy_from_slice(&len.to_le_bytes());
        let mut s = PduStream::default();
        let mut seq = 1u32;
        let mut done = 0;
        for chunk in pdu.chunks(1400) {
            assert!(s.push(seq, chunk, |_, _| done += 1));
            seq = seq.wrapping_add(chunk.len() as u32);
        }
        assert_eq!((done, s.buffered()), (1, 0));
        assert!(s.buf.capacity() <= 4096, "{}", s.buf.capacity());
    }

    #[test]
    fn connectionless_header_names_its_interface() {
        let mut pdu = vec![0u8; 80];
        pdu[0] = 4;
        pdu[4] = 0x10;
        pdu[24..40].copy_from_slice(&wire(netlogon()));
        pdu.extend_from_slice(&[1, 2, 3, 4]);
        pdu[74] = 4;
        assert_eq!(cl_interface(&pdu), Some(netlogon()));
        pdu[74] = 5;
        assert_eq!(cl_interface(&pdu), None);
    }
}
