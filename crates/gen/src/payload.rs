//! Plausible application payloads: real headers where they are cheap (DNS, DHCP, NTP, NetBIOS,
//! HTTP), otherwise the protocol's framing followed by deterministic filler.

use crate::rng::Rng;
use std::net::Ipv4Addr;

/// `len` deterministic pseudo-random bytes.
pub fn filler(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    rng.fill(&mut v);
    v
}

/// `prefix` then filler up to `len` bytes in total (never shorter than the prefix).
pub fn padded(rng: &mut Rng, prefix: &[u8], len: usize) -> Vec<u8> {
    let mut v = prefix.to_vec();
    if len > v.len() {
        let start = v.len();
        v.resize(len, 0);
        rng.fill(&mut v[start..]);
    }
    v
}

/// ASCII filler (for HTTP bodies and text protocols).
pub fn text(rng: &mut Rng, len: usize) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "lorem ",
        "ipsum ",
        "domain ",
        "policy ",
        "server ",
        "report ",
        "quarterly ",
        "<div>",
        "</div>\n",
        "<p>",
        "</p>",
        "contoso ",
        "windows ",
        "share ",
    ];
    let mut v = Vec::with_capacity(len + 16);
    while v.len() < len {
        v.extend_from_slice(rng.pick(WORDS).as_bytes());
    }
    v.truncate(len);
    v
}

// ---------------------------------------------------------------------------------------------
// Kerberos

pub const KRB_AS_REQ: u8 = 0x6a;
pub const KRB_AS_REP: u8 = 0x6b;
pub const KRB_TGS_REQ: u8 = 0x6c;
pub const KRB_TGS_REP: u8 = 0x6d;
pub const KRB_ERROR: u8 = 0x7e;

fn krb_body(rng: &mut Rng, tag: u8, len: usize) -> Vec<u8> {
    let inner = len.saturating_sub(4) as u16;
    let mut p = vec![tag, 0x82];
    p.extend_from_slice(&inner.to_be_bytes());
    let seq = inner.saturating_sub(4);
    p.extend_from_slice(&[0x30, 0x82]);
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&[0xa0, 0x03, 0x02, 0x01, 0x05]); // pvno 5
    padded(rng, &p, len)
}

/// Kerberos over TCP: 4-byte record mark, then the message; `len` is the whole payload.
pub fn krb_tcp(rng: &mut Rng, tag: u8, len: usize) -> Vec<u8> {
    let mut v = ((len - 4) as u32).to_be_bytes().to_vec();
    v.extend(krb_body(rng, tag, len - 4));
    v
}

/// Kerberos over UDP: the bare message.
pub fn krb_udp(rng: &mut Rng, tag: u8, len: usize) -> Vec<u8> {
    krb_body(rng, tag, len)
}

// ---------------------------------------------------------------------------------------------
// SMB, NetBIOS session, DCE/RPC

pub const SMB2_NEGOTIATE: u16 = 0;
pub const SMB2_SESSION_SETUP: u16 = 1;
pub const SMB2_TREE_CONNECT: u16 = 3;
pub const SMB2_CREATE: u16 = 5;
pub const SMB2_CLOSE: u16 = 6;
pub const SMB2_READ: u16 = 8;

/// SMB2 message with its 4-byte NetBIOS session (direct TCP) header; `len` is the whole payload.
pub fn smb2(rng: &mut Rng, cmd: u16, response: bool, msg_id: u64, len: usize) -> Vec<u8> {
    let len = len.max(4 + 64 + 8);
    let body = (len - 4) as u32;
    let mut p = vec![0, (body >> 16) as u8, (body >> 8) as u8, body as u8];
    p.extend_from_slice(b"\xfeSMB");
    p.extend_from_slice(&64u16.to_le_bytes()); // structure size
    p.extend_from_slice(&1u16.to_le_bytes()); // credit charge
    p.extend_from_slice(&0u32.to_le_bytes()); // status
    p.extend_from_slice(&cmd.to_le_bytes());
    p.extend_from_slice(&1u16.to_le_bytes()); // credits
    p.extend_from_slice(&u32::from(response).to_le_bytes()); // flags
    p.extend_from_slice(&0u32.to_le_bytes()); // next command
    p.extend_from_slice(&msg_id.to_le_bytes());
    p.extend_from_slice(&[0u8; 4]); // reserved
    p.extend_from_slice(&1u32.to_le_bytes()); // tree id
    p.extend_from_slice(&0x0000_1000_0000_0041u64.to_le_bytes()); // session id
    p.extend_from_slice(&[0u8; 16]); // signature
    padded(rng, &p, len)
}

/// SMB1 negotiate over a NetBIOS session (port 139).
pub fn smb1(rng: &mut Rng, cmd: u8, response: bool, len: usize) -> Vec<u8> {
    let body = (len - 4) as u32;
    let mut p = vec![0, (body >> 16) as u8, (body >> 8) as u8, body as u8];
    p.extend_from_slice(b"\xffSMB");
    p.push(cmd);
    p.extend_from_slice(&[0, 0, 0, 0]);
    p.push(if response { 0x98 } else { 0x18 });
    p.extend_from_slice(&[0x07, 0xc8]);
    padded(rng, &p, len)
}

fn netbios_name(name: &str, suffix: u8) -> Vec<u8> {
    let mut raw = [b' '; 16];
    for (i, b) in name.bytes().take(15).enumerate() {
        raw[i] = b.to_ascii_uppercase();
    }
    raw[15] = suffix;
    let mut v = vec![32u8];
    for b in raw {
        v.push(b'A' + (b >> 4));
        v.push(b'A' + (b & 0x0f));
    }
    v.push(0);
    v
}

/// NetBIOS session request (port 139): called name, calling name.
pub fn nbss_request(called: &str, calling: &str) -> Vec<u8> {
    let mut names = netbios_name(called, 0x20);
    names.extend(netbios_name(calling, 0x00));
    let mut v = vec![0x81, 0, 0, names.len() as u8];
    v.extend(names);
    v
}

pub fn nbss_positive() -> Vec<u8> {
    vec![0x82, 0, 0, 0]
}

pub const RPC_REQUEST: u8 = 0;
pub const RPC_RESPONSE: u8 = 2;
pub const RPC_BIND: u8 = 11;
pub const RPC_BIND_ACK: u8 = 12;

/// A DCE/RPC connection-oriented PDU of `len` bytes.
pub fn dcerpc(rng: &mut Rng, ptype: u8, call_id: u32, len: usize) -> Vec<u8> {
    let mut p = vec![5, 0, ptype, 0x03, 0x10, 0, 0, 0];
    p.extend_from_slice(&(len as u16).to_le_bytes());
    p.extend_from_slice(&0u16.to_le_bytes());
    p.extend_from_slice(&call_id.to_le_bytes());
    padded(rng, &p, len)
}

// ---------------------------------------------------------------------------------------------
// LDAP

pub const LDAP_BIND_REQ: u8 = 0x60;
pub const LDAP_BIND_RESP: u8 = 0x61;
pub const LDAP_UNBIND: u8 = 0x42;
pub const LDAP_SEARCH_REQ: u8 = 0x63;
pub const LDAP_SEARCH_ENTRY: u8 = 0x64;

/// An LDAP message (BER, long-form lengths) of `len` bytes.
pub fn ldap(rng: &mut Rng, msg_id: u8, op: u8, len: usize) -> Vec<u8> {
    let len = len.max(16);
    let mut p = vec![0x30, 0x84];
    p.extend_from_slice(&((len - 6) as u32).to_be_bytes());
    p.extend_from_slice(&[0x02, 0x01, msg_id, op, 0x84]);
    p.extend_from_slice(&((len - 16) as u32).to_be_bytes());
    padded(rng, &p, len)
}

// ---------------------------------------------------------------------------------------------
// DNS

pub const DNS_A: u16 = 1;
pub const DNS_PTR: u16 = 12;
pub const DNS_AAAA: u16 = 28;
pub const DNS_SRV: u16 = 33;
pub const DNS_AXFR: u16 = 252;

pub fn dns_name(name: &str) -> Vec<u8> {
    let mut v = Vec::new();
    for label in name.trim_end_matches('.').split('.') {
        v.push(label.len() as u8);
        v.extend_from_slice(label.as_bytes());
    }
    v.push(0);
    v
}

/// One answer record: type and RDATA.
pub struct Rr {
    pub rtype: u16,
    pub data: Vec<u8>,
    /// The record's owner name; `None`: the question's name (a compression pointer to it).
    pub owner: Option<String>,
}

impl Rr {
    pub fn a(ip: Ipv4Addr) -> Rr {
        Rr {
            rtype: DNS_A,
            data: ip.octets().to_vec(),
            owner: None,
        }
    }

    pub fn aaaa(ip: std::net::Ipv6Addr) -> Rr {
        Rr {
            rtype: DNS_AAAA,
            data: ip.octets().to_vec(),
            owner: None,
        }
    }

    /// The record with its own owner name (a zone transfer's records name their hosts).
    pub fn owned_by(mut self, owner: String) -> Rr {
        self.owner = Some(owner);
        self
    }

    pub fn srv(port: u16, target: &str) -> Rr {
        let mut d = vec![0, 0, 0, 100];
        d.extend_from_slice(&port.to_be_bytes());
        d.extend(dns_name(target));
        Rr {
            rtype: DNS_SRV,
            data: d,
            owner: None,
        }
    }
}

pub fn dns_query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut v = id.to_be_bytes().to_vec();
    v.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    v.extend(dns_name(name));
    v.extend_from_slice(&qtype.to_be_bytes());
    v.extend_from_slice(&[0, 1]);
    v
}

/// A response repeating the question, with every answer owned by the question name.
pub fn dns_response(id: u16, name: &str, qtype: u16, answers: &[Rr]) -> Vec<u8> {
    let mut v = id.to_be_bytes().to_vec();
    v.extend_from_slice(&[0x85, 0x80, 0, 1]);
    v.extend_from_slice(&(answers.len() as u16).to_be_bytes());
    v.extend_from_slice(&[0, 0, 0, 0]);
    v.extend(dns_name(name));
    v.extend_from_slice(&qtype.to_be_bytes());
    v.extend_from_slice(&[0, 1]);
    for a in answers {
        match &a.owner {
            Some(owner) => v.extend(dns_name(owner)),
            None => v.extend_from_slice(&[0xc0, 0x0c]),
        }
        v.extend_from_slice(&a.rtype.to_be_bytes());
        v.extend_from_slice(&[0, 1, 0, 0, 0x02, 0x58]); // class IN, TTL 600
        v.extend_from_slice(&(a.data.len() as u16).to_be_bytes());
        v.extend_from_slice(&a.data);
    }
    v
}

/// DNS over TCP: 2-byte length prefix.
pub fn dns_tcp(msg: &[u8]) -> Vec<u8> {
    let mut v = (msg.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(msg);
    v
}

/// An AXFR answer stream: many A records (`wsN.<zone>` for 192.0.2.N), each message framed for
/// TCP.
pub fn dns_axfr_stream(id: u16, zone: &str, hosts: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < hosts {
        let n = (hosts - i).min(40);
        let answers: Vec<Rr> = (0..n)
            .map(|k| {
                let host = 100 + (i + k) % 150;
                Rr::a(Ipv4Addr::new(192, 0, 2, host as u8)).owned_by(format!("ws{host}.{zone}"))
            })
            .collect();
        out.extend(dns_tcp(&dns_response(id, zone, DNS_AXFR, &answers)));
        i += n;
    }
    out
}

// ---------------------------------------------------------------------------------------------
// NetBIOS name and datagram services

/// NetBIOS name service packet (UDP 137): a broadcast name query or registration.
pub fn nbns(id: u16, name: &str, suffix: u8, registration: bool, ip: Ipv4Addr) -> Vec<u8> {
    let mut v = id.to_be_bytes().to_vec();
    if registration {
        v.extend_from_slice(&[0x29, 0x10, 0, 1, 0, 0, 0, 0, 0, 1]);
    } else {
        v.extend_from_slice(&[0x01, 0x10, 0, 1, 0, 0, 0, 0, 0, 0]);
    }
    v.extend(netbios_name(name, suffix));
    v.extend_from_slice(&[0, 0x20, 0, 1]);
    if registration {
        v.extend_from_slice(&[0xc0, 0x0c, 0, 0x20, 0, 1, 0, 0x04, 0x93, 0xe0, 0, 6, 0, 0]);
        v.extend_from_slice(&ip.octets());
    }
    v
}

/// NetBIOS datagram (UDP 138) carrying a browser host announcement to the domain's master browser.
pub fn nbdgm_announce(rng: &mut Rng, id: u16, src: Ipv4Addr, host: &str, domain: &str) -> Vec<u8> {
    let mut names = netbios_name(host, 0x00);
    names.extend(netbios_name(domain, 0x1d));
    let mut smb = b"\xffSMB\x25".to_vec();
    smb.resize(32, 0);
    smb.extend(padded(
        rng,
        b"\x11\x00\x00\x21\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
        64,
    ));
    smb.extend_from_slice(b"\\MAILSLOT\\BROWSE\0");
    smb.extend_from_slice(&[1, 0, 0x80, 0xfc, 0x0a, 0]);
    let mut hn = host.as_bytes().to_vec();
    hn.resize(16, 0);
    smb.extend(hn);
    smb.extend_from_slice(&[10, 0, 0x03, 0x10, 0x84, 0, 0x0f, 1, 0x55, 0xaa, 0]);
    let mut v = vec![0x11, 0x02];
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(&src.octets());
    v.extend_from_slice(&138u16.to_be_bytes());
    v.extend_from_slice(&((names.len() + smb.len()) as u16).to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend(names);
    v.extend(smb);
    v
}

// ---------------------------------------------------------------------------------------------
// NTP, DHCP, SQL browser, SNMP

/// A 48-byte NTPv3 packet; `server` selects mode 4 (server) instead of 3 (client).
pub fn ntp(rng: &mut Rng, server: bool, ts_secs: u64) -> Vec<u8> {
    let mut v = vec![
        if server { 0x1c } else { 0x1b },
        if server { 3 } else { 0 },
        17,
        0xe9,
    ];
    v.resize(48, 0);
    let ntp_secs = (ts_secs + 2_208_988_800) as u32;
    if server {
        v[12..16].copy_from_slice(&[198, 51, 100, 123]); // reference id
        v[16..20].copy_from_slice(&(ntp_secs - 64).to_be_bytes());
        v[32..36].copy_from_slice(&ntp_secs.to_be_bytes());
        rng.fill(&mut v[36..40]);
    }
    v[40..44].copy_from_slice(&ntp_secs.to_be_bytes());
    rng.fill(&mut v[44..48]);
    v
}

pub const DHCP_DISCOVER: u8 = 1;
pub const DHCP_OFFER: u8 = 2;
pub const DHCP_REQUEST: u8 = 3;
pub const DHCP_ACK: u8 = 5;

/// A BOOTP/DHCP message (300 bytes, broadcast flag set).
pub fn dhcp(
    msg: u8,
    xid: u32,
    mac: [u8; 6],
    yiaddr: Ipv4Addr,
    server: Ipv4Addr,
    host: &str,
) -> Vec<u8> {
    let reply = msg == DHCP_OFFER || msg == DHCP_ACK;
    let mut v = vec![if reply { 2 } else { 1 }, 1, 6, 0];
    v.extend_from_slice(&xid.to_be_bytes());
    v.extend_from_slice(&[0, 0, 0x80, 0]); // secs, flags: broadcast
    v.extend_from_slice(&[0; 4]); // ciaddr
    v.extend_from_slice(&if reply { yiaddr.octets() } else { [0; 4] });
    v.extend_from_slice(&if reply { server.octets() } else { [0; 4] });
    v.extend_from_slice(&[0; 4]); // giaddr
    v.extend_from_slice(&mac);
    v.resize(236, 0); // chaddr padding, sname, file
    v.extend_from_slice(&[99, 130, 83, 99]);
    v.extend_from_slice(&[53, 1, msg]);
    if reply {
        v.extend_from_slice(&[54, 4]);
        v.extend_from_slice(&server.octets());
        v.extend_from_slice(&[51, 4, 0, 0, 0x70, 0x80]); // lease 8 days
        v.extend_from_slice(&[1, 4, 255, 255, 255, 0]);
        v.extend_from_slice(&[3, 4, 192, 0, 2, 1]);
        v.extend_from_slice(&[6, 4]);
        v.extend_from_slice(&server.octets());
        v.extend_from_slice(&[15, 12]);
        v.extend_from_slice(b"corp.example");
    } else {
        v.extend_from_slice(&[61, 7, 1]);
        v.extend_from_slice(&mac);
        if msg == DHCP_REQUEST {
            v.extend_from_slice(&[50, 4]);
            v.extend_from_slice(&yiaddr.octets());
            v.extend_from_slice(&[54, 4]);
            v.extend_from_slice(&server.octets());
        }
        v.extend_from_slice(&[12, host.len() as u8]);
        v.extend_from_slice(host.as_bytes());
        v.extend_from_slice(&[60, 8]);
        v.extend_from_slice(b"MSFT 5.0");
        v.extend_from_slice(&[55, 6, 1, 3, 6, 15, 31, 33]);
    }
    v.push(255);
    if v.len() < 300 {
        v.resize(300, 0);
    }
    v
}

/// SQL Server Browser request (CLNT_UCAST_EX) and its answer.
pub fn sql_browser_request() -> Vec<u8> {
    vec![0x03]
}

pub fn sql_browser_response(server: &str) -> Vec<u8> {
    let body = format!(
        "ServerName;{server};InstanceName;MSSQLSERVER;IsClustered;No;Version;15.0.2000.5;tcp;1433;np;\\\\{server}\\pipe\\sql\\query;;"
    );
    let mut v = vec![0x05];
    v.extend_from_slice(&(body.len() as u16).to_le_bytes());
    v.extend_from_slice(body.as_bytes());
    v
}

/// SNMPv2c get-request / get-response for sysDescr.0, community "public".
pub fn snmp(response: bool, req_id: u8) -> Vec<u8> {
    let value: &[u8] = if response {
        b"\x04\x0bsvcscope-sw"
    } else {
        b"\x05\x00"
    };
    let oid = [0x06, 0x08, 0x2b, 6, 1, 2, 1, 1, 1, 0];
    let varbind_len = oid.len() + value.len();
    let mut vb = vec![0x30, (varbind_len + 2) as u8, 0x30, varbind_len as u8];
    vb.extend_from_slice(&oid);
    vb.extend_from_slice(value);
    let mut pdu = vec![0x02, 0x01, req_id, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00];
    pdu.extend(vb);
    let mut p = vec![if response { 0xa2 } else { 0xa0 }, pdu.len() as u8];
    p.extend(pdu);
    let mut msg = vec![0x02, 0x01, 0x01, 0x04, 0x06];
    msg.extend_from_slice(b"public");
    msg.extend(p);
    let mut v = vec![0x30, msg.len() as u8];
    v.extend(msg);
    v
}

// ---------------------------------------------------------------------------------------------
// HTTP, TLS, TDS, RDP

pub fn http_get(host: &str, path: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64)\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n\r\n"
    )
    .into_bytes()
}

pub fn http_response(rng: &mut Rng, body_len: usize) -> Vec<u8> {
    let mut v = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nServer: Microsoft-IIS/10.0\r\nContent-Length: {body_len}\r\n\r\n"
    )
    .into_bytes();
    v.extend(text(rng, body_len));
    v
}

/// GENA event notification on TCP 2869 (UPnP eventing).
pub fn gena_notify(rng: &mut Rng, body_len: usize) -> Vec<u8> {
    let mut v = format!(
        "NOTIFY /upnp/eventing/abcdefgh HTTP/1.1\r\nHost: 192.0.2.60:2869\r\nContent-Type: text/xml; charset=\"utf-8\"\r\nNT: upnp:event\r\nNTS: upnp:propchange\r\nSID: uuid:4d696e69-444c-164e-9d41-000000000002\r\nSEQ: 0\r\nContent-Length: {body_len}\r\n\r\n"
    )
    .into_bytes();
    v.extend(text(rng, body_len));
    v
}

pub fn gena_ok() -> Vec<u8> {
    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec()
}

/// A TLS record of `len` bytes in total (`ctype` 22 = handshake, 23 = application data).
pub fn tls(rng: &mut Rng, ctype: u8, len: usize) -> Vec<u8> {
    let len = len.max(6);
    let mut p = vec![ctype, 3, if ctype == 22 { 1 } else { 3 }];
    p.extend_from_slice(&((len - 5) as u16).to_be_bytes());
    if ctype == 22 {
        p.push(1); // ClientHello / ServerHello type byte (approximate)
    }
    padded(rng, &p, len)
}

/// A TDS packet (SQL Server): 1 = SQL batch, 4 = tabular result, 0x10 = login7, 0x12 = prelogin.
pub fn tds(rng: &mut Rng, ptype: u8, len: usize) -> Vec<u8> {
    let p = [ptype, 1, (len >> 8) as u8, len as u8, 0, 0, 1, 0];
    padded(rng, &p, len)
}

/// RDP: a TPKT + X.224 data header, then filler.
pub fn tpkt(rng: &mut Rng, len: usize) -> Vec<u8> {
    let len = len.max(8);
    let p = [3, 0, (len >> 8) as u8, len as u8, 2, 0xf0, 0x80];
    padded(rng, &p, len)
}

/// RDP connection request (X.224 CR with an RDP negotiation request).
pub fn rdp_connect_request() -> Vec<u8> {
    let cookie = b"Cookie: mstshash=user\r\n";
    let len = 4 + 7 + cookie.len() + 8;
    let mut v = vec![3, 0, 0, len as u8, (len - 5) as u8, 0xe0, 0, 0, 0, 0, 0];
    v.extend_from_slice(cookie);
    v.extend_from_slice(&[1, 0, 8, 0, 3, 0, 0, 0]);
    v
}

pub fn rdp_connect_confirm() -> Vec<u8> {
    vec![
        3, 0, 0, 19, 14, 0xd0, 0, 0, 0x12, 0x34, 0, 2, 0x1f, 8, 0, 2, 0, 0, 0,
    ]
}

// ---------------------------------------------------------------------------------------------
// VPN: PPTP control, enhanced GRE, IKE, ESP, AH

pub const PPTP_SCCRQ: u16 = 1;
pub const PPTP_SCCRP: u16 = 2;
pub const PPTP_ECHO_RQ: u16 = 5;
pub const PPTP_ECHO_RP: u16 = 6;
pub const PPTP_OCRQ: u16 = 7;
pub const PPTP_OCRP: u16 = 8;
pub const PPTP_CCRQ: u16 = 12;
pub const PPTP_CDN: u16 = 13;
pub const PPTP_SLI: u16 = 15;
pub const PPTP_STOP_RQ: u16 = 3;
pub const PPTP_STOP_RP: u16 = 4;

pub fn pptp_ctrl_len(msg: u16) -> usize {
    match msg {
        PPTP_SCCRQ | PPTP_SCCRP => 156,
        PPTP_OCRQ => 168,
        PPTP_OCRP => 32,
        PPTP_SLI => 24,
        PPTP_ECHO_RQ => 16,
        PPTP_ECHO_RP => 20,
        PPTP_CCRQ => 16,
        PPTP_CDN => 148,
        _ => 16,
    }
}

pub fn pptp_ctrl(msg: u16) -> Vec<u8> {
    let len = pptp_ctrl_len(msg);
    let mut v = (len as u16).to_be_bytes().to_vec();
    v.extend_from_slice(&1u16.to_be_bytes());
    v.extend_from_slice(&0x1A2B_3C4Du32.to_be_bytes());
    v.extend_from_slice(&msg.to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    if msg == PPTP_SCCRQ || msg == PPTP_SCCRP {
        v.extend_from_slice(&[1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0]);
        v.resize(28, 0);
        v.extend_from_slice(b"vpn.corp.example");
    }
    v.resize(len, 0);
    v
}

/// Enhanced GRE (version 1) as PPTP uses it, carrying an (encrypted) PPP frame of `ppp_len` bytes.
pub fn gre_pptp(
    rng: &mut Rng,
    call_id: u16,
    seq: u32,
    ack: Option<u32>,
    ppp_len: usize,
) -> Vec<u8> {
    let mut v = vec![0x30, if ack.is_some() { 0x81 } else { 0x01 }, 0x88, 0x0b];
    v.extend_from_slice(&(ppp_len as u16).to_be_bytes());
    v.extend_from_slice(&call_id.to_be_bytes());
    v.extend_from_slice(&seq.to_be_bytes());
    if let Some(a) = ack {
        v.extend_from_slice(&a.to_be_bytes());
    }
    v.extend(padded(rng, &[0xff, 0x03, 0x00, 0xfd], ppp_len));
    v
}

/// An IKEv2 message of `len` bytes; `nat_t` prefixes the 4-byte non-ESP marker (UDP 4500).
#[allow(clippy::too_many_arguments)]
pub fn ike(
    rng: &mut Rng,
    ispi: u64,
    rspi: u64,
    exchange: u8,
    initiator: bool,
    msg_id: u32,
    len: usize,
    nat_t: bool,
) -> Vec<u8> {
    let mut v = Vec::new();
    if nat_t {
        v.extend_from_slice(&[0, 0, 0, 0]);
    }
    v.extend_from_slice(&ispi.to_be_bytes());
    v.extend_from_slice(&rspi.to_be_bytes());
    v.extend_from_slice(&[if exchange == 34 { 33 } else { 46 }, 0x20, exchange]);
    v.push(if initiator { 0x08 } else { 0x20 });
    v.extend_from_slice(&msg_id.to_be_bytes());
    v.extend_from_slice(&(len as u32).to_be_bytes());
    let total = len + if nat_t { 4 } else { 0 };
    padded(rng, &v, total)
}

/// ESP: SPI, sequence number, then `len - 8` bytes of ciphertext and ICV.
pub fn esp(rng: &mut Rng, spi: u32, seq: u32, len: usize) -> Vec<u8> {
    let mut v = spi.to_be_bytes().to_vec();
    v.extend_from_slice(&seq.to_be_bytes());
    padded(rng, &v, len)
}

/// AH (12-byte ICV) in front of `inner`, whose protocol is `next`.
pub fn ah(rng: &mut Rng, next: u8, spi: u32, seq: u32, inner: &[u8]) -> Vec<u8> {
    let mut v = vec![next, 4, 0, 0];
    v.extend_from_slice(&spi.to_be_bytes());
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend(filler(rng, 12));
    v.extend_from_slice(inner);
    v
}

/// ICMP echo request/reply with a Windows-style 32-byte payload.
pub fn icmp_echo(reply: bool, id: u16, seq: u16) -> Vec<u8> {
    let mut v = vec![if reply { 0 } else { 8 }, 0, 0, 0];
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(b"abcdefghijklmnopqrstuvwabcdefghi");
    let c = crate::packet::csum_fold(crate::packet::csum_add(0, &v));
    v[2..4].copy_from_slice(&c.to_be_bytes());
    v
}

// ---------------------------------------------------------------------------------------------
// TFTP (RFC 1350)

pub const TFTP_RRQ: u16 = 1;
pub const TFTP_WRQ: u16 = 2;

/// A read or write request: opcode, file name, NUL, mode, NUL.
pub fn tftp_request(opcode: u16, file: &str, mode: &str) -> Vec<u8> {
    let mut v = opcode.to_be_bytes().to_vec();
    v.extend_from_slice(file.as_bytes());
    v.push(0);
    v.extend_from_slice(mode.as_bytes());
    v.push(0);
    v
}

/// DATA (opcode 3): block number, then up to 512 bytes.
pub fn tftp_data(block: u16, data: &[u8]) -> Vec<u8> {
    assert!(data.len() <= 512);
    let mut v = vec![0, 3];
    v.extend_from_slice(&block.to_be_bytes());
    v.extend_from_slice(data);
    v
}

/// ACK (opcode 4) of a block.
pub fn tftp_ack(block: u16) -> Vec<u8> {
    let mut v = vec![0, 4];
    v.extend_from_slice(&block.to_be_bytes());
    v
}
