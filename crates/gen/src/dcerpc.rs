//! DCE/RPC built byte by byte: connection-oriented PDUs (C706 chapter 12.6, MS-RPCE 2.2.2),
//! the connectionless PDU header (C706 12.5), NDR little-endian marshalling (C706 chapter 14) of the
//! few stubs the fixtures carry, and endpoint-mapper towers (C706 appendix L, MS-RPCE 2.2.1.2).
//!
//! Every PDU uses the data representation 0x10, 0, 0, 0 (little-endian integers, ASCII, IEEE
//! floats) and one transfer syntax, NDR v2.0.

/// An interface (abstract syntax) or transfer syntax: UUID in canonical text form and version.
#[derive(Clone, Copy, Debug)]
pub struct Syntax {
    pub uuid: &'static str,
    pub major: u16,
    pub minor: u16,
}

pub const NDR: Syntax = Syntax {
    uuid: "8a885d04-1ceb-11c9-9fe8-08002b104860",
    major: 2,
    minor: 0,
};
pub const EPMAPPER: Syntax = Syntax {
    uuid: "e1af8308-5d1f-11c9-91a4-08002b14a0fa",
    major: 3,
    minor: 0,
};
/// MS-NRPC.
pub const NETLOGON: Syntax = Syntax {
    uuid: "12345678-1234-abcd-ef00-01234567cffb",
    major: 1,
    minor: 0,
};
/// MS-DRSR (AD replication).
pub const DRSUAPI: Syntax = Syntax {
    uuid: "e3514235-4b06-11d1-ab04-00c04fc2dcd2",
    major: 4,
    minor: 0,
};
/// MS-EVEN6 (EventLog Remoting Protocol 6.0).
pub const EVEN6: Syntax = Syntax {
    uuid: "f6beaff7-1e19-4fbb-9f8f-b89e2018337c",
    major: 1,
    minor: 0,
};
/// MS-SAMR.
pub const SAMR: Syntax = Syntax {
    uuid: "12345778-1234-abcd-ef00-0123456789ac",
    major: 1,
    minor: 0,
};

/// Connection-oriented PDU types (C706 12.6.4.x).
pub const REQUEST: u8 = 0;
pub const RESPONSE: u8 = 2;
pub const BIND: u8 = 11;
pub const BIND_ACK: u8 = 12;
pub const ALTER_CONTEXT: u8 = 14;
pub const ALTER_CONTEXT_RESP: u8 = 15;

/// PFC_FIRST_FRAG | PFC_LAST_FRAG: every PDU here is a whole call.
const PFC_FIRST_LAST: u8 = 0x03;
/// Little-endian integers, ASCII characters, IEEE floating point.
pub const DREP: [u8; 4] = [0x10, 0, 0, 0];
/// max_xmit_frag and max_recv_frag as Windows offers them.
const MAX_FRAG: u16 = 5840;

/// The 16 bytes of a UUID in canonical (text) order.
pub fn uuid_bytes(text: &str) -> [u8; 16] {
    let hex: Vec<u8> = text.bytes().filter(|&b| b != b'-').collect();
    assert_eq!(hex.len(), 32, "uuid {text}");
    let mut out = [0u8; 16];
    for (i, pair) in hex.chunks(2).enumerate() {
        let s = std::str::from_utf8(pair).expect("ascii");
        out[i] = u8::from_str_radix(s, 16).expect("hex uuid");
    }
    out
}

/// A UUID as NDR puts it on the wire with little-endian integers: time_low, time_mid and
/// time_hi_and_version byte-swapped, the last eight bytes as written.
pub fn uuid_wire(text: &str) -> [u8; 16] {
    let mut u = uuid_bytes(text);
    u[0..4].reverse();
    u[4..6].reverse();
    u[6..8].reverse();
    u
}

/// A syntax identifier (p_syntax_id_t): UUID then version, major in the low 16 bits.
fn syntax_id(out: &mut Vec<u8>, s: Syntax) {
    out.extend_from_slice(&uuid_wire(s.uuid));
    out.extend_from_slice(&s.major.to_le_bytes());
    out.extend_from_slice(&s.minor.to_le_bytes());
}

/// A connection-oriented PDU: the 16-byte common header (C706 12.6.3.1) and `body`.
pub fn co_pdu(ptype: u8, call_id: u32, body: &[u8]) -> Vec<u8> {
    let len = 16 + body.len();
    let mut p = vec![5, 0, ptype, PFC_FIRST_LAST];
    p.extend_from_slice(&DREP);
    p.extend_from_slice(&(len as u16).to_le_bytes()); // frag_length
    p.extend_from_slice(&0u16.to_le_bytes()); // auth_length
    p.extend_from_slice(&call_id.to_le_bytes());
    p.extend_from_slice(body);
    p
}

/// bind (11) or alter_context (14): one presentation context per (context id, interface), each
/// offering NDR v2.0.
pub fn bind(ptype: u8, call_id: u32, assoc_group: u32, contexts: &[(u16, Syntax)]) -> Vec<u8> {
    assert!(ptype == BIND || ptype == ALTER_CONTEXT);
    let mut b = Vec::new();
    b.extend_from_slice(&MAX_FRAG.to_le_bytes());
    b.extend_from_slice(&MAX_FRAG.to_le_bytes());
    b.extend_from_slice(&assoc_group.to_le_bytes());
    b.push(contexts.len() as u8); // n_context_elem
    b.extend_from_slice(&[0, 0, 0]); // reserved, reserved2
    for &(id, iface) in contexts {
        b.extend_from_slice(&id.to_le_bytes()); // p_cont_id
        b.push(1); // n_transfer_syn
        b.push(0); // reserved
        syntax_id(&mut b, iface);
        syntax_id(&mut b, NDR);
    }
    co_pdu(ptype, call_id, &b)
}

/// bind_ack (12) or alter_context_resp (15) accepting `contexts` contexts with NDR. `sec_addr` is
/// the server's port as text ("135"), empty in an alter_context_resp.
pub fn bind_ack(
    ptype: u8,
    call_id: u32,
    assoc_group: u32,
    sec_addr: &str,
    contexts: usize,
) -> Vec<u8> {
    assert!(ptype == BIND_ACK || ptype == ALTER_CONTEXT_RESP);
    let mut b = Vec::new();
    b.extend_from_slice(&MAX_FRAG.to_le_bytes());
    b.extend_from_slice(&MAX_FRAG.to_le_bytes());
    b.extend_from_slice(&assoc_group.to_le_bytes());
    if sec_addr.is_empty() {
        b.extend_from_slice(&0u16.to_le_bytes());
    } else {
        b.extend_from_slice(&(sec_addr.len() as u16 + 1).to_le_bytes());
        b.extend_from_slice(sec_addr.as_bytes());
        b.push(0);
    }
    // The result list starts 4-byte aligned in the PDU (which has a 16-byte header).
    while (16 + b.len()) % 4 != 0 {
        b.push(0);
    }
    b.push(contexts as u8); // n_results
    b.extend_from_slice(&[0, 0, 0]);
    for _ in 0..contexts {
        b.extend_from_slice(&0u16.to_le_bytes()); // acceptance
        b.extend_from_slice(&0u16.to_le_bytes()); // reason: not specified
        syntax_id(&mut b, NDR);
    }
    co_pdu(ptype, call_id, &b)
}

/// A request PDU: alloc_hint, context id, opnum, then the NDR stub.
pub fn request(call_id: u32, context: u16, opnum: u16, stub: &[u8]) -> Vec<u8> {
    let mut b = (stub.len() as u32).to_le_bytes().to_vec();
    b.extend_from_slice(&context.to_le_bytes());
    b.extend_from_slice(&opnum.to_le_bytes());
    b.extend_from_slice(stub);
    co_pdu(REQUEST, call_id, &b)
}

/// A response PDU: alloc_hint, context id, cancel count 0, reserved, then the NDR stub.
pub fn response(call_id: u32, context: u16, stub: &[u8]) -> Vec<u8> {
    let mut b = (stub.len() as u32).to_le_bytes().to_vec();
    b.extend_from_slice(&context.to_le_bytes());
    b.extend_from_slice(&[0, 0]);
    b.extend_from_slice(stub);
    co_pdu(RESPONSE, call_id, &b)
}

/// Connectionless PDU types (C706 12.5.3.x).
pub const CL_REQUEST: u8 = 0;
pub const CL_RESPONSE: u8 = 2;

/// A connectionless PDU (ncadg_ip_udp): the 80-byte header (C706 12.5.3.1) and the body.
#[allow(clippy::too_many_arguments)]
pub fn cl_pdu(
    ptype: u8,
    iface: Syntax,
    activity: &str,
    server_boot: u32,
    seqnum: u32,
    opnum: u16,
    body: &[u8],
) -> Vec<u8> {
    let mut p = vec![4, ptype, 0, 0]; // rpc_vers, ptype, flags1, flags2
    p.extend_from_slice(&DREP[..3]);
    p.push(0); // serial_hi
    p.extend_from_slice(&[0u8; 16]); // object: nil
    p.extend_from_slice(&uuid_wire(iface.uuid)); // if_id (offset 24)
    p.extend_from_slice(&uuid_wire(activity)); // act_id (offset 40)
    p.extend_from_slice(&server_boot.to_le_bytes()); // offset 56
    p.extend_from_slice(&u32::from(iface.major).to_le_bytes()); // if_vers
    p.extend_from_slice(&seqnum.to_le_bytes());
    p.extend_from_slice(&opnum.to_le_bytes());
    p.extend_from_slice(&0xffffu16.to_le_bytes()); // ihint: none
    p.extend_from_slice(&0xffffu16.to_le_bytes()); // ahint: none
    p.extend_from_slice(&(body.len() as u16).to_le_bytes()); // len (offset 74)
    p.extend_from_slice(&0u16.to_le_bytes()); // fragnum
    p.push(0); // auth_proto: none
    p.push(0); // serial_lo
    assert_eq!(p.len(), 80);
    p.extend_from_slice(body);
    p
}

// ---------------------------------------------------------------------------------------------
// NDR (little-endian), alignment relative to the start of the stub

#[derive(Default)]
pub struct Ndr(pub Vec<u8>);

impl Ndr {
    pub fn align(&mut self, n: usize) -> &mut Self {
        while !self.0.len().is_multiple_of(n) {
            self.0.push(0);
        }
        self
    }
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.align(2);
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.align(4);
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.0.extend_from_slice(b);
        self
    }
    /// A GUID (struct of u32, u16, u16, u8\[8\]: 4-byte aligned).
    pub fn uuid(&mut self, text: &str) -> &mut Self {
        self.align(4);
        self.bytes(&uuid_wire(text))
    }
    /// A \[string\] wchar_t array: max_count, offset 0, actual_count, UTF-16LE with the NUL.
    pub fn wstring(&mut self, s: &str) -> &mut Self {
        let units: Vec<u16> = s.encode_utf16().chain([0]).collect();
        let n = units.len() as u32;
        self.u32(n).u32(0).u32(n);
        for u in units {
            self.0.extend_from_slice(&u.to_le_bytes());
        }
        self
    }
    /// A context handle: attributes 0 and a UUID.
    pub fn handle(&mut self, text: &str) -> &mut Self {
        self.u32(0).uuid(text)
    }
    /// A conformant byte blob as a conformant struct carries it: max_count, the length field, bytes.
    pub fn counted_bytes(&mut self, b: &[u8]) -> &mut Self {
        self.u32(b.len() as u32).u32(b.len() as u32).bytes(b)
    }
    pub fn done(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.0)
    }
}

// ---------------------------------------------------------------------------------------------
// Endpoint mapper

/// Tower floor protocol identifiers.
pub const FLOOR_UUID: u8 = 0x0d;
pub const FLOOR_RPC_CO: u8 = 0x0b;
pub const FLOOR_TCP: u8 = 0x07;
pub const FLOOR_IP: u8 = 0x09;

fn floor(t: &mut Vec<u8>, lhs: &[u8], rhs: &[u8]) {
    t.extend_from_slice(&(lhs.len() as u16).to_le_bytes());
    t.extend_from_slice(lhs);
    t.extend_from_slice(&(rhs.len() as u16).to_le_bytes());
    t.extend_from_slice(rhs);
}

fn uuid_floor(t: &mut Vec<u8>, s: Syntax) {
    let mut lhs = vec![FLOOR_UUID];
    lhs.extend_from_slice(&uuid_wire(s.uuid));
    lhs.extend_from_slice(&s.major.to_le_bytes());
    floor(t, &lhs, &s.minor.to_le_bytes());
}

/// An ncacn_ip_tcp tower octet string (75 bytes): five floors, interface, NDR, connection-oriented
/// RPC, TCP port (big-endian), IPv4 address. Floor lengths are little-endian.
pub fn tower(iface: Syntax, port: u16, addr: [u8; 4]) -> Vec<u8> {
    let mut t = 5u16.to_le_bytes().to_vec();
    uuid_floor(&mut t, iface);
    uuid_floor(&mut t, NDR);
    floor(&mut t, &[FLOOR_RPC_CO], &0u16.to_le_bytes());
    floor(&mut t, &[FLOOR_TCP], &port.to_be_bytes());
    floor(&mut t, &[FLOOR_IP], &addr);
    t
}

/// A twr_t behind a pointer: conformance, tower_length, the octets (then 4-byte alignment).
fn twr(n: &mut Ndr, tower: &[u8]) {
    n.counted_bytes(tower);
}

/// The stub of an ept_map request (opnum 3): object (pointer to a nil UUID), the map tower, a nil
/// entry handle, max_towers.
pub fn ept_map_request(map_tower: &[u8], max_towers: u32) -> Vec<u8> {
    let mut n = Ndr::default();
    n.u32(1).bytes(&[0u8; 16]); // object: referent 1, nil UUID
    n.u32(2); // map_tower: referent 2
    twr(&mut n, map_tower);
    n.align(4).bytes(&[0u8; 20]); // entry_handle
    n.u32(max_towers);
    n.done()
}

/// The stub of an ept_map response: entry handle (nil: no more entries), num_towers, the
/// conformant-varying array of tower pointers (max_count, offset, actual_count, referents), the
/// towers, status 0.
pub fn ept_map_response(towers: &[Vec<u8>], max_towers: u32) -> Vec<u8> {
    let mut n = Ndr::default();
    n.bytes(&[0u8; 20]);
    let count = towers.len() as u32;
    n.u32(count);
    n.u32(max_towers).u32(0).u32(count);
    for i in 0..count {
        n.u32(3 + i);
    }
    for t in towers {
        twr(&mut n, t);
    }
    n.u32(0); // status
    n.done()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_go_on_the_wire_with_swapped_first_fields() {
        assert_eq!(
            uuid_wire(NETLOGON.uuid),
            [
                0x78, 0x56, 0x34, 0x12, 0x34, 0x12, 0xcd, 0xab, 0xef, 0x00, 0x01, 0x23, 0x45, 0x67,
                0xcf, 0xfb
            ]
        );
    }

    #[test]
    fn bind_and_ack_lengths() {
        let b = bind(BIND, 1, 0, &[(0, NETLOGON)]);
        assert_eq!(b.len(), 72);
        assert_eq!(u16::from_le_bytes([b[8], b[9]]), 72);
        assert_eq!(bind_ack(BIND_ACK, 1, 0x1234, "135", 1).len(), 60);
        assert_eq!(bind_ack(BIND_ACK, 1, 0x1234, "49668", 1).len(), 60);
        assert_eq!(bind_ack(ALTER_CONTEXT_RESP, 2, 0x1234, "", 1).len(), 56);
    }

    #[test]
    fn towers_have_five_floors() {
        let t = tower(NETLOGON, 49668, [192, 0, 2, 10]);
        assert_eq!(t.len(), 75);
        assert_eq!(&t[0..2], &[5, 0]);
        assert_eq!(&t[2..5], &[19, 0, 0x0d]);
        assert_eq!(&t[t.len() - 16..t.len() - 9], &[1, 0, 7, 2, 0, 0xc2, 0x04]);
        assert_eq!(&t[t.len() - 9..t.len() - 4], &[1, 0, 9, 4, 0]);
    }

    #[test]
    fn cl_header_is_80_bytes() {
        let p = cl_pdu(
            CL_REQUEST,
            EVEN6,
            "6f1a2b3c-4d5e-4f60-8172-a3b4c5d6e7f8",
            0,
            0,
            19,
            &[0; 4],
        );
        assert_eq!(p.len(), 84);
        assert_eq!(&p[24..40], &uuid_wire(EVEN6.uuid));
        assert_eq!(u16::from_le_bytes([p[74], p[75]]), 4);
    }
}
