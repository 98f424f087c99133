//! The small test fixtures (everything but the domain capture, which is in `domain.rs`).

use crate::capture::{ip, sa, Capture, Iface, IpConv, Tcp, Udp, Wire, MS, SEC};
use crate::dcerpc::{self as rpc, Ndr};
use crate::gss;
use crate::packet::{self as pk, Ext, Link};
use crate::payload::{self as pl, Rr};
use std::net::{Ipv4Addr, SocketAddr};

// Expected classification, in words, as the catalog (catalog/windows-server.toml) names it.
pub const KRB: &str = "Kerberos — Kerberos Key Distribution Center";
pub const DNS: &str = "DNS — DNS Server (and ICF/ICS)";
pub const LDAP: &str = "LDAP Server — Local Security Authority, Distributed File System";
pub const CLDAP: &str =
    "LDAP Server over UDP (CLDAP) — Local Security Authority, Distributed File System";
pub const GC: &str = "Global Catalog Server — Local Security Authority";
pub const SMB: &str = "SMB — shared port: 7 services (Server, Net Logon, Distributed File System, Print Spooler, Fax Service, License Logging, RPC Locator)";
pub const RPC: &str = "RPC (endpoint mapper) — shared port: 17 services incl. Remote Procedure Call (RPC), Local Security Authority";
pub const RPC_DYN: &str = "RPC dynamic (unconfirmed) — dynamic port contacted right after the same client's TCP 135 to the same server";
pub const NBSS: &str =
    "NetBIOS Session Service — shared port: 10 services (Server, Net Logon, Computer Browser, ...)";
pub const NBNS: &str =
    "NetBIOS Name Resolution — shared port (Computer Browser, Net Logon, Server, SMS, WINS)";
pub const NBDGM: &str =
    "NetBIOS Datagram Service — shared port: 7 services (Computer Browser, Net Logon, Server, ...)";
pub const NTP: &str = "NTP — Windows Time";
pub const SQL: &str = "SQL over TCP — MSSQLSERVER, MSSQL$UDDI";
pub const SQLB: &str = "SQL Probe (UDP 1434) — MSSQLSERVER, MSSQL$UDDI";
pub const RDP: &str = "Terminal Services — Terminal Services, NetMeeting Remote Desktop Sharing";
pub const PPTP: &str = "PPTP — Routing and Remote Access";
pub const GRE: &str = "GRE (IP protocol 47) — Routing and Remote Access";
pub const IKE: &str = "IPSec ISAKMP (UDP 500) — Local Security Authority";
pub const NATT: &str = "NAT-T (UDP 4500) — Local Security Authority";
pub const ESP: &str = "IPSec ESP (IP protocol 50) — Routing and Remote Access";
pub const AH: &str = "IPSec AH (IP protocol 51) — Routing and Remote Access";
pub const HTTP: &str =
    "HTTP — World Wide Web Publishing Service, SharePoint Portal Server, Windows Media Services";
pub const HTTPS: &str =
    "HTTPS — HTTP SSL, World Wide Web Publishing Service, SharePoint Portal Server";
pub const DHCP: &str = "DHCP Server (UDP 67) — DHCP Server, ICF/ICS";
pub const SNMP: &str = "SNMP — SNMP Service";
pub const SSDP: &str = "SSDP event notification | UPNP — two application protocols share TCP 2869 (SSDP Discovery Service, Universal Plug and Play Device Host)";
pub const UNKNOWN: &str = "unclassified (no catalog row for this port)";

pub fn lan() -> Wire {
    Wire::default()
}

/// Kerberos AS exchange over TCP 88 (handshake, AS-REQ, AS-REP, ACK, close), or a TGS exchange
/// (`tag` [`pl::KRB_TGS_REQ`]) for `cifs/dc01.corp.example`; the client is `user<last octet>`.
pub fn kerberos_tcp(
    cap: &mut Capture,
    c: SocketAddr,
    s: SocketAddr,
    t: u64,
    wire: &Wire,
    tag: u8,
) -> u64 {
    let user = match c.ip() {
        std::net::IpAddr::V4(a) => format!("user{}", a.octets()[3]),
        std::net::IpAddr::V6(a) => format!("user{}", a.segments()[7]),
    };
    let x = gss::KdcExchange {
        realm: REALM,
        client: &user,
        service: &["cifs", "dc01.corp.example"],
        ticket_etype: gss::ETYPE_AES256_CTS,
    };
    kerberos_tcp_with(cap, c, s, t, wire, tag == pl::KRB_TGS_REQ, &x)
}

/// The realm of the generated domain.
pub const REALM: &str = "CORP.EXAMPLE";

/// A Kerberos exchange over TCP 88, AS (with pre-authentication) or TGS, real KDC messages of
/// the sizes Windows sends (a 320-byte AS-REQ, a 1,580-byte TGS-REQ carrying the TGT, a 1,490-byte
/// reply), each behind its 4-byte record mark.
pub fn kerberos_tcp_with(
    cap: &mut Capture,
    c: SocketAddr,
    s: SocketAddr,
    t: u64,
    wire: &Wire,
    tgs: bool,
    x: &gss::KdcExchange,
) -> u64 {
    let mut k = Tcp::new(cap, c, s, t, wire, KRB);
    k.handshake(cap);
    let framed = |m: Vec<u8>| {
        let mut v = (m.len() as u32).to_be_bytes().to_vec();
        v.extend(m);
        v
    };
    let req = framed(gss::kdc_req(
        &mut cap.rng,
        x,
        tgs,
        true,
        if tgs { 1576 } else { 316 },
    ));
    let rep = framed(gss::kdc_rep(&mut cap.rng, x, tgs, 1486));
    k.exchange(cap, &req, &rep);
    k.ack(cap, true);
    k.wait(20 * MS);
    k.close(cap);
    k.t
}

/// One DNS query and its answer over UDP.
#[allow(clippy::too_many_arguments)]
pub fn dns_udp(
    cap: &mut Capture,
    c: SocketAddr,
    s: SocketAddr,
    t: u64,
    wire: &Wire,
    name: &str,
    qtype: u16,
    answers: &[Rr],
) -> u64 {
    let id = cap.rng.next_u32() as u16;
    let mut u = Udp::new(cap, c, s, t, wire, DNS);
    u.send(cap, true, 0, &pl::dns_query(id, name, qtype));
    let gap = 350 + cap.rng.below(400);
    u.send(cap, false, gap, &pl::dns_response(id, name, qtype, answers));
    u.t
}

/// LDAP: bind, one search, unbind, close.
pub fn ldap_tcp(
    cap: &mut Capture,
    c: SocketAddr,
    s: SocketAddr,
    t: u64,
    wire: &Wire,
    expect: &str,
) -> u64 {
    let mut l = Tcp::new(cap, c, s, t, wire, expect);
    l.handshake(cap);
    let r = &mut cap.rng;
    let (b1, b2) = (
        pl::ldap(r, 1, pl::LDAP_BIND_REQ, 1650),
        pl::ldap(r, 1, pl::LDAP_BIND_RESP, 210),
    );
    let (s1, s2) = (
        pl::ldap(r, 2, pl::LDAP_SEARCH_REQ, 290),
        pl::ldap(r, 2, pl::LDAP_SEARCH_ENTRY, 2100),
    );
    let u = pl::ldap(r, 3, pl::LDAP_UNBIND, 16);
    l.exchange(cap, &b1, &b2);
    l.exchange(cap, &s1, &s2);
    l.send(cap, true, &u);
    l.ack(cap, false);
    l.close(cap);
    l.t
}

/// LDAP as a domain member speaks it: a SASL GSS-SPNEGO bind with a Kerberos ticket for
/// `ldap/dc01.corp.example`, a subtree search and its entry, unbind, close.
pub fn ldap_session_tcp(
    cap: &mut Capture,
    c: SocketAddr,
    s: SocketAddr,
    t: u64,
    wire: &Wire,
    expect: &str,
) -> u64 {
    let mut l = Tcp::new(cap, c, s, t, wire, expect);
    l.handshake(cap);
    // The capture's generator draws the filler these messages replaced, so that everything else
    // in the capture stays as it was; the tickets' random parts come from the connection's own
    // generator.
    let r = &mut cap.rng;
    for (id, op, len) in [
        (1, pl::LDAP_BIND_REQ, 1650),
        (1, pl::LDAP_BIND_RESP, 210),
        (2, pl::LDAP_SEARCH_REQ, 290),
        (2, pl::LDAP_SEARCH_ENTRY, 2100),
        (3, pl::LDAP_UNBIND, 16),
    ] {
        pl::ldap(r, id, op, len);
    }
    let r = &mut crate::rng::Rng::new(0x1da9_0000 ^ u64::from(c.port()));
    let b1 = crate::ldap::bind_spnego_kerberos(r, 1, "CORP.EXAMPLE", "dc01.corp.example");
    let b2 = crate::ldap::bind_response(r, 1);
    let s1 = crate::ldap::search(
        2,
        "DC=corp,DC=example",
        &["cn", "sAMAccountName", "memberOf"],
    );
    // The user's groups make the answer span two segments, as the filler it replaced did.
    let groups = (1..=44)
        .map(|n| format!("CN=Group {n:02},OU=Groups,DC=corp,DC=example").into_bytes())
        .collect();
    let s2 = [
        crate::ldap::entry(
            2,
            "CN=alice,CN=Users,DC=corp,DC=example",
            &[
                ("cn", vec![b"alice".to_vec()]),
                ("sAMAccountName", vec![b"alice".to_vec()]),
                ("memberOf", groups),
            ],
        ),
        crate::ldap::search_done(2),
    ]
    .concat();
    let u = crate::ldap::unbind(3);
    l.exchange(cap, &b1, &b2);
    l.exchange(cap, &s1, &s2);
    l.send(cap, true, &u);
    l.ack(cap, false);
    l.close(cap);
    l.t
}

/// SMB2 session: negotiate, session setup, tree connect, then `reads` file reads, close.
pub fn smb_tcp(
    cap: &mut Capture,
    c: SocketAddr,
    s: SocketAddr,
    t: u64,
    wire: &Wire,
    reads: &[usize],
) -> u64 {
    let mut m = Tcp::new(cap, c, s, t, wire, SMB);
    m.handshake(cap);
    let steps: Vec<(u16, usize, usize)> = [
        (pl::SMB2_NEGOTIATE, 254, 310),
        (pl::SMB2_SESSION_SETUP, 1780, 360),
        (pl::SMB2_TREE_CONNECT, 110, 84),
        (pl::SMB2_CREATE, 220, 228),
    ]
    .into_iter()
    .chain(reads.iter().map(|&n| (pl::SMB2_READ, 117, n + 84)))
    .chain([(pl::SMB2_CLOSE, 92, 128)])
    .collect();
    for (i, (cmd, q, a)) in steps.into_iter().enumerate() {
        let req = pl::smb2(&mut cap.rng, cmd, false, i as u64, q);
        let resp = pl::smb2(&mut cap.rng, cmd, true, i as u64, a);
        m.exchange(cap, &req, &resp);
    }
    m.ack(cap, true);
    m.wait(150 * MS);
    m.close(cap);
    m.t
}

/// RPC over TCP: bind/bind_ack and `calls` request/response pairs, close.
pub fn rpc_tcp(
    cap: &mut Capture,
    c: SocketAddr,
    s: SocketAddr,
    t: u64,
    wire: &Wire,
    calls: usize,
    expect: &str,
) -> u64 {
    let mut r = Tcp::new(cap, c, s, t, wire, expect);
    r.handshake(cap);
    let (b, ba) = (
        pl::dcerpc(&mut cap.rng, pl::RPC_BIND, 1, 116),
        pl::dcerpc(&mut cap.rng, pl::RPC_BIND_ACK, 1, 84),
    );
    r.exchange(cap, &b, &ba);
    for i in 0..calls {
        let q = pl::dcerpc(&mut cap.rng, pl::RPC_REQUEST, 2 + i as u32, 160 + 40 * i);
        let a = pl::dcerpc(&mut cap.rng, pl::RPC_RESPONSE, 2 + i as u32, 152 + 60 * i);
        r.exchange(cap, &q, &a);
    }
    r.ack(cap, true);
    r.close(cap);
    r.t
}

/// A client asks the endpoint mapper for `iface`: a bind to epmapper, an `ept_map` request whose
/// map tower names the interface, an answer with one tower (`port` on `addr`), then the close.
/// Returns when the connection has closed.
#[allow(clippy::too_many_arguments)]
pub fn epm_lookup(
    cap: &mut Capture,
    c: SocketAddr,
    s: SocketAddr,
    t: u64,
    wire: &Wire,
    iface: rpc::Syntax,
    port: u16,
    addr: [u8; 4],
) -> u64 {
    let mut e = Tcp::new(cap, c, s, t, wire, RPC);
    e.handshake(cap);
    let group = 0x0001_0000 | u32::from(c.port());
    push_seg(
        cap,
        &mut e,
        true,
        &rpc::bind(rpc::BIND, 1, 0, &[(0, rpc::EPMAPPER)]),
    );
    push_seg(
        cap,
        &mut e,
        false,
        &rpc::bind_ack(rpc::BIND_ACK, 1, group, "135", 1),
    );
    let map_tower = rpc::tower(iface, 0, [0; 4]);
    push_seg(
        cap,
        &mut e,
        true,
        &rpc::request(2, 0, 3, &rpc::ept_map_request(&map_tower, 4)),
    );
    let towers = [rpc::tower(iface, port, addr)];
    push_seg(
        cap,
        &mut e,
        false,
        &rpc::response(2, 0, &rpc::ept_map_response(&towers, 4)),
    );
    e.ack(cap, true);
    e.close(cap);
    e.t
}

/// Net Logon on the port the endpoint mapper handed out: a bind, NetrServerReqChallenge from
/// `computer`, the answer, the close.
pub fn netlogon_call(
    cap: &mut Capture,
    c: SocketAddr,
    s: SocketAddr,
    t: u64,
    wire: &Wire,
    computer: &str,
) -> u64 {
    let mut n = Tcp::new(cap, c, s, t, wire, RPC_NRPC);
    n.handshake(cap);
    let group = 0x0002_0000 | u32::from(c.port());
    push_seg(
        cap,
        &mut n,
        true,
        &rpc::bind(rpc::BIND, 1, 0, &[(0, rpc::NETLOGON)]),
    );
    let port = s.port().to_string();
    push_seg(
        cap,
        &mut n,
        false,
        &rpc::bind_ack(rpc::BIND_ACK, 1, group, &port, 1),
    );
    let (q, r) = nrpc_req_challenge(cap, computer);
    push_seg(cap, &mut n, true, &rpc::request(2, 0, 4, &q));
    push_seg(cap, &mut n, false, &rpc::response(2, 0, &r));
    n.ack(cap, true);
    n.close(cap);
    n.t
}

fn v4(a: &str) -> Ipv4Addr {
    a.parse().expect("ipv4 literal")
}

// ---------------------------------------------------------------------------------------------

pub fn catalog_rows() -> Capture {
    let mut cap = Capture::new(
        "catalog-rows.pcap",
        Link::Ethernet,
        2,
        "one flow per kind of catalog row (TCP port, UDP port, IP protocols 47/50/51) plus the dynamic-RPC rule",
    );
    let w = lan();
    let dc = "192.0.2.10";
    let mut t = 0;
    t = kerberos_tcp(
        &mut cap,
        sa("192.0.2.101", 49152),
        sa(dc, 88),
        t,
        &w,
        pl::KRB_AS_REQ,
    ) + SEC;
    t = dns_udp(
        &mut cap,
        sa("192.0.2.101", 49153),
        sa(dc, 53),
        t,
        &w,
        "dc01.corp.example",
        pl::DNS_A,
        &[Rr::a(v4(dc))],
    ) + SEC;
    // GRE (enhanced, PPTP data) both ways.
    let mut g = IpConv::new(
        &mut cap,
        "GRE",
        pk::PROTO_GRE,
        ip("203.0.113.50"),
        ip("192.0.2.1"),
        t,
        &w,
        GRE,
    );
    for i in 0..3u32 {
        let a = pl::gre_pptp(&mut cap.rng, 0x4000, i + 1, None, 60 + 20 * i as usize);
        g.send(&mut cap, true, 5 * MS, &a);
        let b = pl::gre_pptp(
            &mut cap.rng,
            0x8001,
            i + 1,
            Some(i + 1),
            80 + 30 * i as usize,
        );
        g.send(&mut cap, false, 2 * MS, &b);
    }
    t = g.t + SEC;
    let mut e = IpConv::new(
        &mut cap,
        "ESP",
        pk::PROTO_ESP,
        ip("203.0.113.60"),
        ip("192.0.2.1"),
        t,
        &w,
        ESP,
    );
    for i in 0..3u32 {
        let a = pl::esp(&mut cap.rng, 0xc0ff_ee01, i + 1, 120 + 16 * i as usize);
        e.send(&mut cap, true, 5 * MS, &a);
        let b = pl::esp(&mut cap.rng, 0x5eed_0002, i + 1, 200 + 16 * i as usize);
        e.send(&mut cap, false, 2 * MS, &b);
    }
    t = e.t + SEC;
    // AH in transport mode protecting ICMP echo (next header 1).
    let mut a = IpConv::new(
        &mut cap,
        "AH",
        pk::PROTO_AH,
        ip("198.51.100.20"),
        ip(dc),
        t,
        &w,
        AH,
    );
    for i in 0..2u16 {
        let inner = pl::icmp_echo(false, 1, i + 1);
        let p = pl::ah(
            &mut cap.rng,
            pk::PROTO_ICMP,
            0x0000_a401,
            u32::from(i) + 1,
            &inner,
        );
        a.send(&mut cap, true, 10 * MS, &p);
        let inner = pl::icmp_echo(true, 1, i + 1);
        let p = pl::ah(
            &mut cap.rng,
            pk::PROTO_ICMP,
            0x0000_a402,
            u32::from(i) + 1,
            &inner,
        );
        a.send(&mut cap, false, MS, &p);
    }
    t = a.t + SEC;
    // Endpoint mapper, then the dynamic port 2 s later from the same client.
    let s = "192.0.2.10";
    let t135 = t;
    rpc_tcp(
        &mut cap,
        sa("192.0.2.102", 49160),
        sa(s, 135),
        t135,
        &w,
        1,
        RPC,
    );
    let t_dyn = t135 + 2 * SEC;
    rpc_tcp(
        &mut cap,
        sa("192.0.2.102", 49161),
        sa(s, 49700),
        t_dyn,
        &w,
        2,
        RPC_DYN,
    );
    // A client that never spoke to 135.
    rpc_tcp(
        &mut cap,
        sa("192.0.2.103", 49170),
        sa(s, 49701),
        t_dyn + 3 * SEC,
        &w,
        2,
        "RPC (interface unknown)",
    );
    cap.expect.push(
        "The TCP 135 flow from 192.0.2.102 starts 2 s before its flow to 192.0.2.10:49700 (dynamic RPC); \
         192.0.2.103 never talks to port 135, so its flow to 49701 gets no label from its port or the endpoint mapper, \
         although 49701 is in the dynamic range. Its payload is DCE/RPC-shaped (PDU headers, but a bind whose body is not \
         a valid context list), so svcscope labels it RPC (interface unknown) from the PDU headers."
            .into(),
    );
    cap
}

pub fn shared_ports() -> Capture {
    let mut cap = Capture::new(
        "shared-ports.pcap",
        Link::Ethernet,
        3,
        "ports shared by several services or application protocols: TCP 445, TCP 2869, UDP 137",
    );
    let w = lan();
    let mut t = smb_tcp(
        &mut cap,
        sa("192.0.2.101", 49200),
        sa("192.0.2.20", 445),
        0,
        &w,
        &[3000],
    ) + SEC;
    let mut g = Tcp::new(
        &mut cap,
        sa("192.0.2.60", 49210),
        sa("192.0.2.101", 2869),
        t,
        &w,
        SSDP,
    );
    g.handshake(&mut cap);
    let n = pl::gena_notify(&mut cap.rng, 420);
    g.exchange(&mut cap, &n, &pl::gena_ok());
    g.close(&mut cap);
    t = g.t + SEC;
    // NetBIOS name query, unicast to the file server, both ends on port 137.
    let id = 0x8101;
    let mut u = Udp::new(
        &mut cap,
        sa("192.0.2.101", 137),
        sa("192.0.2.20", 137),
        t,
        &w,
        NBNS,
    );
    u.send(
        &mut cap,
        true,
        0,
        &pl::nbns(id, "FS01", 0x20, false, v4("192.0.2.101")),
    );
    let mut resp = pl::nbns(id, "FS01", 0x20, true, v4("192.0.2.20"));
    resp[2] = 0x85; // response, authoritative
    resp[3] = 0x00;
    resp[5] = 0; // no question in a response
    resp[7] = 1;
    resp[11] = 0;
    u.send(&mut cap, false, 600, &resp);
    t = u.t + SEC;
    // A broadcast name registration.
    let mut b = Udp::new(
        &mut cap,
        sa("192.0.2.101", 137),
        sa("192.0.2.255", 137),
        t,
        &w,
        NBNS,
    );
    for i in 0..3 {
        b.send(
            &mut cap,
            true,
            if i == 0 { 0 } else { 750 * MS },
            &pl::nbns(0x8102, "WS101", 0x00, true, v4("192.0.2.101")),
        );
    }
    cap.expect.push(
        "The UDP 137 query has port 137 on both ends: the client is the first sender 192.0.2.101, the server 192.0.2.20. \
         The broadcast registration is a one-way flow to 192.0.2.255:137."
            .into(),
    );
    cap
}

pub fn server_side() -> Capture {
    let mut cap = Capture::new(
        "server-side.pcap",
        Link::Ethernet,
        4,
        "which end is the server: SYN, catalog, port-rank and SYN-ACK rules",
    );
    let w = lan();
    // (a) SYN from source port 1000 to 50000.
    let mut a = Tcp::new(
        &mut cap,
        sa("192.0.2.101", 1000),
        sa("192.0.2.70", 50000),
        0,
        &w,
        &format!("server 192.0.2.70:50000 by the SYN rule; {UNKNOWN}"),
    );
    a.handshake(&mut cap);
    let (q, r) = (pl::filler(&mut cap.rng, 120), pl::filler(&mut cap.rng, 900));
    a.exchange(&mut cap, &q, &r);
    a.ack(&mut cap, true);
    a.close(&mut cap);
    // (b) mid-stream SMB, first packet from the server.
    let mut b = Tcp::new(
        &mut cap,
        sa("192.0.2.102", 49800),
        sa("192.0.2.20", 445),
        2 * SEC,
        &w,
        &format!("server 192.0.2.20:445 by the catalog rule; {SMB}"),
    );
    let d = pl::smb2(&mut cap.rng, pl::SMB2_READ, true, 40, 2900);
    b.send(&mut cap, false, &d);
    b.ack(&mut cap, true);
    for i in 0..2 {
        let q = pl::smb2(&mut cap.rng, pl::SMB2_READ, false, 41 + i, 117);
        let r = pl::smb2(&mut cap.rng, pl::SMB2_READ, true, 41 + i, 1200);
        b.exchange(&mut cap, &q, &r);
    }
    b.ack(&mut cap, true);
    b.close(&mut cap);
    // (c) mid-stream between 5999 and 40000, first packet from 5999.
    let mut c = Tcp::new(
        &mut cap,
        sa("192.0.2.103", 40000),
        sa("192.0.2.71", 5999),
        4 * SEC,
        &w,
        &format!("server 192.0.2.71:5999 by the port rule (lower, non-ephemeral port); {UNKNOWN}"),
    );
    let d = pl::filler(&mut cap.rng, 400);
    c.send(&mut cap, false, &d);
    c.ack(&mut cap, true);
    let (q, r) = (pl::filler(&mut cap.rng, 64), pl::filler(&mut cap.rng, 700));
    c.exchange(&mut cap, &q, &r);
    c.ack(&mut cap, true);
    c.close(&mut cap);
    // (d) SNMP request and answer.
    let mut d = Udp::new(
        &mut cap,
        sa("192.0.2.104", 49900),
        sa("192.0.2.72", 161),
        6 * SEC,
        &w,
        &format!("server 192.0.2.72:161; {SNMP}"),
    );
    d.send(&mut cap, true, 0, &pl::snmp(false, 0x2a));
    d.send(&mut cap, false, 900, &pl::snmp(true, 0x2a));
    // (e) only the SYN-ACK is seen: its sender (port 61000) is the server even though the client's port is lower.
    let mut e = Tcp::new(
        &mut cap,
        sa("192.0.2.105", 2000),
        sa("192.0.2.73", 61000),
        8 * SEC,
        &w,
        &format!("server 192.0.2.73:61000 by the SYN-ACK rule; {UNKNOWN}"),
    );
    e.cseq = e.cseq.wrapping_add(1); // the SYN (not captured) consumed one
    e.seg(&mut cap, false, pk::SYN | pk::ACK, &[]);
    e.ack(&mut cap, true);
    let (q, r) = (
        pl::filler(&mut cap.rng, 200),
        pl::filler(&mut cap.rng, 1800),
    );
    e.exchange(&mut cap, &q, &r);
    e.ack(&mut cap, true);
    e.close(&mut cap);
    cap.expect.push(
        "(a) 192.0.2.101:1000 -> 192.0.2.70:50000 with SYN: server 50000 (SYN beats port heuristics; 50000 is in the dynamic RPC range but no TCP 135 came first). \
         (b) no SYN, first packet 192.0.2.20:445 -> 192.0.2.102:49800: server 445 by the catalog. \
         (c) no SYN, first packet from 192.0.2.71:5999 to 192.0.2.103:40000, neither port in the catalog: server 5999 (lower / non-ephemeral). \
         (d) UDP 49900 -> 161: server 161. \
         (e) first packet is a SYN-ACK from 192.0.2.73:61000 to 192.0.2.105:2000: server 61000."
            .into(),
    );
    cap
}

/// A capture that sees one direction of each TCP connection (a SPAN port fed one way), and a
/// connection attempt nobody answered, to tell the two apart.
pub fn one_direction() -> Capture {
    let mut cap = Capture::new(
        "one-direction.pcap",
        Link::Ethernet,
        23,
        "TCP seen in one direction only (client side, server side) and an unanswered attempt",
    );
    let w = lan();
    // (a) Kerberos over TCP: only the client's segments are captured.
    let mut a = Tcp::new(
        &mut cap,
        sa("192.0.2.101", 49400),
        sa("192.0.2.10", 88),
        0,
        &w,
        &format!("one direction (client side); {KRB}"),
    );
    a.unseen = Some(false);
    a.handshake(&mut cap);
    let req = pl::krb_tcp(&mut cap.rng, pl::KRB_AS_REQ, 320);
    let rep = pl::krb_tcp(&mut cap.rng, pl::KRB_AS_REQ + 1, 1490);
    a.exchange(&mut cap, &req, &rep);
    a.ack(&mut cap, true);
    a.close(&mut cap);
    // (b) LDAP: only the server's segments are captured (the SYN-ACK first).
    let mut b = Tcp::new(
        &mut cap,
        sa("192.0.2.102", 49401),
        sa("192.0.2.10", 389),
        SEC,
        &w,
        &format!("one direction (server side); {LDAP}"),
    );
    b.unseen = Some(true);
    b.handshake(&mut cap);
    let (q, r) = (pl::filler(&mut cap.rng, 90), pl::filler(&mut cap.rng, 700));
    b.exchange(&mut cap, &q, &r);
    b.close(&mut cap);
    // (c) mid-stream SQL Server, client side only: no handshake at all.
    let mut c = Tcp::new(
        &mut cap,
        sa("192.0.2.103", 49402),
        sa("192.0.2.30", 1433),
        2 * SEC,
        &w,
        &format!("one direction (client side, mid-stream); {SQL}"),
    );
    c.unseen = Some(false);
    let (q, r) = (
        pl::filler(&mut cap.rng, 300),
        pl::filler(&mut cap.rng, 2000),
    );
    c.exchange(&mut cap, &q, &r);
    c.close(&mut cap);
    // (d) an attempt nobody answered: a SYN and two retransmissions.
    let mut d = Tcp::new(
        &mut cap,
        sa("192.0.2.104", 49403),
        sa("192.0.2.20", 445),
        3 * SEC,
        &w,
        &format!("unanswered attempt; {SMB}"),
    );
    for gap in [0, SEC, 2 * SEC] {
        d.wait(gap);
        d.seg(&mut cap, true, pk::SYN, &[]);
        d.cseq = d.cseq.wrapping_sub(1); // a retransmission reuses the sequence number
    }
    cap.expect.push(
        "(a) 192.0.2.101 -> 192.0.2.10:88 and (c) 192.0.2.103 -> 192.0.2.30:1433: only the client's segments; \
         (b) 192.0.2.102 -> 192.0.2.10:389: only the server's, from its SYN-ACK on. All three are service traffic \
         seen in one direction (`one_direction_flows` 3). (d) 192.0.2.104 -> 192.0.2.20:445: three SYNs, nothing \
         else: an unanswered attempt, not one-direction traffic."
            .into(),
    );
    cap
}

pub fn vlan() -> Capture {
    let mut cap = Capture::new(
        "vlan.pcap",
        Link::Ethernet,
        5,
        "802.1Q and QinQ tagged frames",
    );
    let w10 = Wire {
        vlans: vec![(pk::ETH_VLAN, 10)],
        ..Wire::default()
    };
    let t = kerberos_tcp(
        &mut cap,
        sa("192.0.2.101", 49300),
        sa("192.0.2.10", 88),
        0,
        &w10,
        pl::KRB_AS_REQ,
    );
    let qinq = Wire {
        vlans: vec![(pk::ETH_QINQ, 100), (pk::ETH_VLAN, 20)],
        ..Wire::default()
    };
    dns_udp(
        &mut cap,
        sa("192.0.2.102", 49301),
        sa("192.0.2.10", 53),
        t + SEC,
        &qinq,
        "_ldap._tcp.corp.example",
        pl::DNS_SRV,
        &[Rr::srv(389, "dc01.corp.example")],
    );
    cap.expect.push("Kerberos frames carry one 802.1Q tag (TPID 0x8100, VLAN 10); DNS frames carry QinQ (outer TPID 0x88a8 VLAN 100, inner 0x8100 VLAN 20).".into());
    cap
}

fn cooked(file: &'static str, link: Link, seed: u64) -> Capture {
    let mut cap = Capture::new(
        file,
        link,
        seed,
        "LDAP TCP 389 conversation and a DNS query/answer, captured on the server 192.0.2.10",
    );
    let w = Wire {
        local: Some(ip("192.0.2.10")),
        ..Wire::default()
    };
    let t = ldap_tcp(
        &mut cap,
        sa("192.0.2.101", 49400),
        sa("192.0.2.10", 389),
        0,
        &w,
        LDAP,
    );
    dns_udp(
        &mut cap,
        sa("192.0.2.101", 49401),
        sa("192.0.2.10", 53),
        t + SEC,
        &w,
        "fs01.corp.example",
        pl::DNS_A,
        &[Rr::a(v4("192.0.2.20"))],
    );
    cap.expect.push(
        "Packets sent by 192.0.2.10 have packet type 4 (outgoing), the others 0 (to us).".into(),
    );
    cap
}

pub fn sll() -> Capture {
    cooked("sll.pcap", Link::Sll, 6)
}

pub fn sll2() -> Capture {
    cooked("sll2.pcap", Link::Sll2, 6)
}

pub fn rawip() -> Capture {
    let mut cap = Capture::new(
        "rawip.pcap",
        Link::Raw,
        8,
        "raw IP packets (no link header): HTTPS over IPv4, DNS over IPv6",
    );
    let w = lan();
    let mut h = Tcp::new(
        &mut cap,
        sa("192.0.2.101", 49500),
        sa("192.0.2.50", 443),
        0,
        &w,
        HTTPS,
    );
    h.handshake(&mut cap);
    let r = &mut cap.rng;
    let (ch, sh) = (pl::tls(r, 22, 517), pl::tls(r, 22, 2800));
    let (fin, sfin) = (pl::tls(r, 22, 126), pl::tls(r, 22, 51));
    let (q, a) = (pl::tls(r, 23, 480), pl::tls(r, 23, 5200));
    h.exchange(&mut cap, &ch, &sh);
    h.exchange(&mut cap, &fin, &sfin);
    h.exchange(&mut cap, &q, &a);
    h.ack(&mut cap, true);
    h.close(&mut cap);
    dns_udp(
        &mut cap,
        sa("2001:db8::101", 49501),
        sa("2001:db8::10", 53),
        h.t + SEC,
        &w,
        "www.corp.example",
        pl::DNS_AAAA,
        &[Rr::aaaa("2001:db8::50".parse().expect("v6"))],
    );
    cap
}

pub fn null() -> Capture {
    let mut cap = Capture::new(
        "null.pcap",
        Link::Null,
        9,
        "BSD loopback framing (AF 2 = IPv4, AF 30 = IPv6): RDP over IPv4, SMB over IPv6",
    );
    let w = lan();
    let mut r = Tcp::new(
        &mut cap,
        sa("192.0.2.101", 49600),
        sa("192.0.2.40", 3389),
        0,
        &w,
        RDP,
    );
    r.handshake(&mut cap);
    r.exchange(
        &mut cap,
        &pl::rdp_connect_request(),
        &pl::rdp_connect_confirm(),
    );
    for i in 0..4 {
        let q = pl::tpkt(&mut cap.rng, 60 + 10 * i);
        let a = pl::tpkt(&mut cap.rng, 700 + 300 * i);
        r.wait(200 * MS);
        r.exchange(&mut cap, &q, &a);
    }
    r.ack(&mut cap, true);
    r.close(&mut cap);
    smb_tcp(
        &mut cap,
        sa("2001:db8::101", 49601),
        sa("2001:db8::20", 445),
        r.t + SEC,
        &w,
        &[2000],
    );
    cap
}

pub fn ipv6_ext() -> Capture {
    let mut cap = Capture::new("ipv6-ext.pcap", Link::Ethernet, 10, "IPv6 extension headers (Hop-by-Hop, Destination Options, Routing type 0) and IPv6 fragments");
    let w = Wire {
        v6_ext: vec![Ext::HopByHop, Ext::DestOpts, Ext::Routing0],
        ..Wire::default()
    };
    let t = smb_tcp(
        &mut cap,
        sa("2001:db8::101", 49700),
        sa("2001:db8::20", 445),
        0,
        &w,
        &[],
    );
    // A DNS query padded (EDNS0 padding option) past the IPv6 minimum MTU: two fragments.
    let wf = Wire {
        frag: Some(1232),
        ..Wire::default()
    };
    let id = 0x6a6a;
    let mut q = pl::dns_query(id, "_kerberos._tcp.corp.example", pl::DNS_SRV);
    q[11] = 1; // ARCOUNT 1
    let pad = 1450;
    q.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0]);
    q.extend_from_slice(&((pad + 4) as u16).to_be_bytes());
    q.extend_from_slice(&12u16.to_be_bytes());
    q.extend_from_slice(&(pad as u16).to_be_bytes());
    q.resize(q.len() + pad, 0);
    let mut u = Udp::new(
        &mut cap,
        sa("2001:db8::102", 49701),
        sa("2001:db8::10", 53),
        t + SEC,
        &wf,
        DNS,
    );
    u.send(&mut cap, true, 0, &q);
    let a = pl::dns_response(
        id,
        "_kerberos._tcp.corp.example",
        pl::DNS_SRV,
        &[Rr::srv(88, "dc01.corp.example")],
    );
    u.send(&mut cap, false, 800, &a);
    cap.expect.push(format!(
        "Every TCP packet carries Hop-by-Hop (8 bytes), Destination Options (8) and Routing type 0 with segments left 0 and one address, the packet's own destination (24) before TCP. \
         The DNS query is a {}-byte UDP datagram in two fragments (Fragment header, offsets 0 and 1232); the first carries the UDP header.",
        q.len() + 8
    ));
    cap
}

pub fn ipv4_fragments() -> Capture {
    let mut cap = Capture::new(
        "ipv4-fragments.pcap",
        Link::Ethernet,
        11,
        "fragmented IPv4 UDP datagrams, one set with IPv4 options",
    );
    let wf = Wire {
        frag: Some(1480),
        ..Wire::default()
    };
    let mut k = Udp::new(
        &mut cap,
        sa("192.0.2.101", 49750),
        sa("192.0.2.10", 88),
        0,
        &wf,
        KRB,
    );
    let req = pl::krb_udp(&mut cap.rng, pl::KRB_AS_REQ, 3000);
    k.send(&mut cap, true, 0, &req);
    let rep = pl::krb_udp(&mut cap.rng, pl::KRB_AS_REP, 1400);
    k.send(&mut cap, false, 2 * MS, &rep);
    let wo = Wire {
        frag: Some(1472),
        v4_opts: vec![1, 1, 1, 0],
        ..Wire::default()
    };
    let mut c = Udp::new(
        &mut cap,
        sa("192.0.2.102", 49751),
        sa("192.0.2.10", 389),
        SEC,
        &wo,
        CLDAP,
    );
    let q = pl::ldap(&mut cap.rng, 7, pl::LDAP_SEARCH_REQ, 2500);
    c.send(&mut cap, true, 0, &q);
    c.wire = lan();
    let a = pl::ldap(&mut cap.rng, 7, pl::LDAP_SEARCH_ENTRY, 180);
    c.send(&mut cap, false, MS, &a);
    cap.expect.push(
        "Frames 1-3: the 3,000-byte Kerberos request (UDP length 3008) in fragments of 1480, 1480 and 48 bytes, in order, the first with the UDP header; \
         frame 4: the unfragmented reply. Frames 5-6: a 2,500-byte CLDAP request (UDP length 2508) in fragments of 1472 and 1036 bytes, \
         every fragment with IHL 6 (options NOP, NOP, NOP, End); frame 7: the reply (no options)."
            .into(),
    );
    cap
}

pub fn snaplen() -> Capture {
    let mut cap = Capture::with_ifaces(
        "snaplen.pcap",
        false,
        vec![Iface {
            link: Link::Ethernet,
            snaplen: 68,
            name: "eth0",
        }],
        12,
        "snaplen 68: every frame longer than 68 bytes is cut (orig_len keeps the real size)",
    );
    let w = lan();
    let t = smb_tcp(
        &mut cap,
        sa("192.0.2.101", 49900),
        sa("192.0.2.20", 445),
        0,
        &w,
        &[16000, 8000],
    );
    let mut n = Tcp::new(
        &mut cap,
        sa("192.0.2.102", 49901),
        sa("192.0.2.20", 139),
        t + SEC,
        &w,
        NBSS,
    );
    n.opts40 = true;
    n.mss = 1420;
    n.handshake(&mut cap);
    n.exchange(
        &mut cap,
        &pl::nbss_request("FS01", "WS102"),
        &pl::nbss_positive(),
    );
    let (q, a) = (
        pl::smb1(&mut cap.rng, 0x72, false, 168),
        pl::smb1(&mut cap.rng, 0x72, true, 200),
    );
    n.exchange(&mut cap, &q, &a);
    n.ack(&mut cap, true);
    n.close(&mut cap);
    cap.expect.push(
        "SMB data frames have orig_len up to 1514 and caplen 68. Every TCP 139 segment has a 60-byte TCP header (40 bytes of options), \
         so the 68-byte snaplen cuts the TCP header itself (14 + 20 + 34 of 60 bytes)."
            .into(),
    );
    cap
}

pub fn malformed() -> Capture {
    let mut cap = Capture::new(
        "malformed.pcap",
        Link::Ethernet,
        13,
        "good Kerberos TCP 88 packets interleaved with one broken frame of each kind",
    );
    let w = lan();
    let (c, s) = (sa("192.0.2.101", 49950), sa("192.0.2.10", 88));
    let cm = pk::mac_for(c.ip());
    let sm = pk::mac_for(s.ip());
    let mut k = Tcp::new(&mut cap, c, s, 0, &w, KRB);
    let (cv4, sv4) = (v4("192.0.2.101"), v4("192.0.2.10"));

    // A valid IPv4 + TCP packet to damage.
    let good_ip = |cap: &mut Capture, payload: &[u8]| -> Vec<u8> {
        let mut l4 = Vec::new();
        let h = pk::TcpHdr {
            sport: 49950,
            dport: 88,
            seq: 1,
            ack: 1,
            flags: pk::ACK | pk::PSH,
            window: 1026,
            options: &[],
        };
        pk::tcp(&mut l4, c.ip(), s.ip(), &h, payload);
        let mut p = Vec::new();
        let id = cap.next_ipid();
        pk::ipv4(
            &mut p,
            cv4,
            sv4,
            pk::PROTO_TCP,
            id,
            128,
            pk::IPV4_DF,
            &[],
            l4.len(),
        );
        p.extend(l4);
        p
    };
    let eth = |cap: &Capture, et: u16, ip: &[u8]| cap.frame(&lan(), cm, sm, false, et, ip);
    let recompute_ipv4 = |p: &mut Vec<u8>| {
        p[10] = 0;
        p[11] = 0;
        let hl = (usize::from(p[0] & 0x0f) * 4).clamp(1, 20);
        let c = pk::csum_fold(pk::csum_add(0, &p[..hl]));
        p[10..12].copy_from_slice(&c.to_be_bytes());
    };

    let mut broken: Vec<(String, Vec<u8>, u32)> = Vec::new();
    // 1. 10-byte frame.
    let f: Vec<u8> = eth(&cap, pk::ETH_IPV4, &[])[..10].to_vec();
    broken.push((
        "10-byte frame, shorter than an Ethernet header".into(),
        f,
        10,
    ));
    // 2. zero-length record.
    broken.push(("zero-length record (caplen 0, len 0)".into(), Vec::new(), 0));
    // 3. IHL 3.
    let mut p = good_ip(&mut cap, &[0u8; 20]);
    p[0] = 0x43;
    recompute_ipv4(&mut p);
    let f = eth(&cap, pk::ETH_IPV4, &p);
    let n = f.len() as u32;
    broken.push((
        "IPv4 header with IHL 3 (12 bytes, below the 20-byte minimum)".into(),
        f,
        n,
    ));
    // 4. total length 10.
    let mut p = good_ip(&mut cap, &[0u8; 20]);
    p[2..4].copy_from_slice(&10u16.to_be_bytes());
    recompute_ipv4(&mut p);
    let f = eth(&cap, pk::ETH_IPV4, &p);
    let n = f.len() as u32;
    broken.push((
        "IPv4 total length 10 (less than its own header)".into(),
        f,
        n,
    ));
    // 5. version 6 inside ethertype IPv4.
    let mut p = good_ip(&mut cap, &[0u8; 20]);
    p[0] = 0x65;
    let f = eth(&cap, pk::ETH_IPV4, &p);
    let n = f.len() as u32;
    broken.push(("ethertype IPv4 but the version nibble is 6".into(), f, n));
    // 6. TCP data offset 2.
    let mut p = good_ip(&mut cap, &[0u8; 20]);
    p[20 + 12] = 0x20;
    let f = eth(&cap, pk::ETH_IPV4, &p);
    let n = f.len() as u32;
    broken.push((
        "IPv4 TCP segment with data offset 2 (8-byte header, below the 20-byte minimum)".into(),
        f,
        n,
    ));
    // 7. IPv6 header cut at 20 bytes.
    let mut p6 = Vec::new();
    pk::ipv6(
        &mut p6,
        "2001:db8::101".parse().expect("v6"),
        "2001:db8::10".parse().expect("v6"),
        pk::PROTO_TCP,
        128,
        20,
    );
    let f = cap.frame(&lan(), cm, sm, false, pk::ETH_IPV6, &p6[..20]);
    let f = f[..14 + 20].to_vec();
    broken.push((
        "IPv6 header cut at 20 bytes: caplen 34 (14 + 20), orig_len 74 (the 40-byte header plus payload length 20 = 60 IP bytes)".into(),
        f,
        74,
    ));
    // 8. ARP request.
    let mut arp = vec![0, 1, 8, 0, 6, 4, 0, 1];
    arp.extend_from_slice(&cm);
    arp.extend_from_slice(&cv4.octets());
    arp.extend_from_slice(&[0; 6]);
    arp.extend_from_slice(&sv4.octets());
    let f = cap.frame(&lan(), cm, pk::BROADCAST_MAC, false, pk::ETH_ARP, &arp);
    let n = f.len() as u32;
    broken.push((
        "ARP request who-has 192.0.2.10 (valid, but not IP)".into(),
        f,
        n,
    ));
    // 9. GRE with bogus flags and version 7.
    let gre = [0xff, 0x0f, 0x88, 0x0b, 0, 0, 0, 0];
    let mut p = Vec::new();
    let id = cap.next_ipid();
    pk::ipv4(&mut p, cv4, sv4, pk::PROTO_GRE, id, 128, 0, &[], gre.len());
    p.extend_from_slice(&gre);
    let f = eth(&cap, pk::ETH_IPV4, &p);
    let n = f.len() as u32;
    broken.push((
        "GRE header with all flag/reserved bits set and version 7".into(),
        f,
        n,
    ));
    // 10. UDP header of 4 bytes.
    let mut p = Vec::new();
    let id = cap.next_ipid();
    pk::ipv4(&mut p, cv4, sv4, pk::PROTO_UDP, id, 128, 0, &[], 4);
    p.extend_from_slice(&49951u16.to_be_bytes());
    p.extend_from_slice(&88u16.to_be_bytes());
    let f = eth(&cap, pk::ETH_IPV4, &p);
    let n = f.len() as u32;
    broken.push((
        "UDP datagram of 4 bytes (IPv4 total length 24): truncated UDP header".into(),
        f,
        n,
    ));

    // Interleave: good, broken, good, broken, ...
    let mut broken = broken.into_iter();
    let mut next_broken = |cap: &mut Capture, t: u64| {
        if let Some((note, f, n)) = broken.next() {
            cap.push(t + 100, 0, f, n, Some(note));
        }
    };
    // Each good packet is followed 100 µs later by the next broken frame.
    let req = pl::krb_tcp(&mut cap.rng, pl::KRB_AS_REQ, 320);
    let rep = pl::krb_tcp(&mut cap.rng, pl::KRB_AS_REP, 1400);
    let tgs = pl::krb_tcp(&mut cap.rng, pl::KRB_TGS_REQ, 900);
    let tgr = pl::krb_tcp(&mut cap.rng, pl::KRB_TGS_REP, 1300);
    let steps: Vec<(bool, u8, &[u8])> = vec![
        (true, pk::SYN, &[]),
        (false, pk::SYN | pk::ACK, &[]),
        (true, pk::ACK, &[]),
        (true, pk::PSH | pk::ACK, &req),
        (false, pk::PSH | pk::ACK, &rep),
        (true, pk::ACK, &[]),
        (true, pk::PSH | pk::ACK, &tgs),
        (false, pk::PSH | pk::ACK, &tgr),
        (true, pk::ACK, &[]),
        (true, pk::FIN | pk::ACK, &[]),
        (false, pk::FIN | pk::ACK, &[]),
        (true, pk::ACK, &[]),
    ];
    for (from_client, flags, payload) in steps {
        k.wait(300);
        k.seg(&mut cap, from_client, flags, payload);
        next_broken(&mut cap, k.t);
    }
    cap.expect.push("Broken frames (by frame number, 1-based) are listed below; every other frame belongs to the Kerberos flow.".into());
    cap
}

pub fn truncated() -> Capture {
    let mut cap = Capture::new(
        "truncated.pcap",
        Link::Ethernet,
        14,
        "a valid DNS + Kerberos exchange whose file ends in the middle of the last packet record",
    );
    let w = lan();
    let (cl, dc) = ("192.0.2.101", "192.0.2.10");
    let mut t = dns_udp(
        &mut cap,
        sa(cl, 50010),
        sa(dc, 53),
        0,
        &w,
        "_kerberos._udp.corp.example",
        pl::DNS_SRV,
        &[Rr::srv(88, "dc01.corp.example")],
    );
    let mut u = Udp::new(&mut cap, sa(cl, 50011), sa(dc, 88), t + 2 * MS, &w, KRB);
    let q = pl::krb_udp(&mut cap.rng, pl::KRB_AS_REQ, 240);
    u.send(&mut cap, true, 0, &q);
    let e = pl::krb_udp(&mut cap.rng, pl::KRB_ERROR, 190);
    u.send(&mut cap, false, MS, &e);
    t = u.t + 2 * MS;
    let mut k = Tcp::new(&mut cap, sa(cl, 50012), sa(dc, 88), t, &w, KRB);
    k.handshake(&mut cap);
    let req = pl::krb_tcp(&mut cap.rng, pl::KRB_AS_REQ, 330);
    let rep = pl::krb_tcp(&mut cap.rng, pl::KRB_AS_REP, 1380);
    k.exchange(&mut cap, &req, &rep);
    k.ack(&mut cap, true);
    // The last record: a 100-byte frame (46 bytes of TCP payload) of which only 40 bytes reach the file.
    let tail = pl::filler(&mut cap.rng, 46);
    k.seg(&mut cap, true, pk::PSH | pk::ACK, &tail);
    assert_eq!(cap.recs.last().map(|r| r.data.len()), Some(100));
    cap.cut_tail = 60;
    cap.incomplete = 1;
    let n = cap.recs.len();
    cap.flows[k.id].c2s -= 1;
    cap.expect.push(format!(
        "{} complete records; record {n} has a header saying caplen 100 / len 100 but only 40 bytes follow before end of file \
         (it would have been one more client->server packet of the TCP Kerberos flow; the counts below exclude it).",
        n - 1
    ));
    cap
}

pub fn multi_a() -> Capture {
    let mut cap = Capture::new(
        "multi-a.pcap",
        Link::Ethernet,
        15,
        "merged-report input A: LDAP TCP 389 flows from 192.0.2.101 to the DC",
    );
    let w = lan();
    let t = ldap_tcp(
        &mut cap,
        sa("192.0.2.101", 50001),
        sa("192.0.2.10", 389),
        0,
        &w,
        LDAP,
    );
    ldap_tcp(
        &mut cap,
        sa("192.0.2.101", 50002),
        sa("192.0.2.10", 389),
        t + 5 * SEC,
        &w,
        LDAP,
    );
    cap
}

pub fn multi_b() -> Capture {
    let mut cap = Capture::new(
        "multi-b.pcap",
        Link::Ethernet,
        16,
        "merged-report input B: LDAP TCP 389 flows from 192.0.2.102 and an SMB flow, same DC",
    );
    let w = lan();
    let t0 = 30 * SEC;
    let t = ldap_tcp(
        &mut cap,
        sa("192.0.2.102", 50001),
        sa("192.0.2.10", 389),
        t0,
        &w,
        LDAP,
    );
    let t = ldap_tcp(
        &mut cap,
        sa("192.0.2.102", 50002),
        sa("192.0.2.10", 389),
        t + 5 * SEC,
        &w,
        LDAP,
    );
    smb_tcp(
        &mut cap,
        sa("192.0.2.102", 50003),
        sa("192.0.2.10", 445),
        t + SEC,
        &w,
        &[4000],
    );
    cap.expect.push("Starts 30 s after multi-a.pcap; merged with it the DC 192.0.2.10 has 4 LDAP flows from 2 clients and 1 SMB flow.".into());
    cap
}

pub fn multi_if() -> Capture {
    let mut cap = Capture::with_ifaces(
        "multi-if.pcapng",
        true,
        vec![
            Iface {
                link: Link::Ethernet,
                snaplen: 65535,
                name: "eth0",
            },
            Iface {
                link: Link::Raw,
                snaplen: 65535,
                name: "tun0",
            },
        ],
        17,
        "two interfaces: Kerberos on interface 0 (Ethernet), DNS on interface 1 (raw IPv4)",
    );
    let w0 = lan();
    kerberos_tcp(
        &mut cap,
        sa("192.0.2.101", 50100),
        sa("192.0.2.10", 88),
        0,
        &w0,
        pl::KRB_AS_REQ,
    );
    let w1 = Wire {
        iface: 1,
        ..Wire::default()
    };
    for i in 0..3u64 {
        dns_udp(
            &mut cap,
            sa("192.0.2.201", 50101 + i as u16),
            sa("192.0.2.10", 53),
            500 + i * 4 * MS,
            &w1,
            "dc01.corp.example",
            pl::DNS_A,
            &[Rr::a(v4("192.0.2.10"))],
        );
    }
    cap.expect.push("Interface 0 (eth0) holds only the Kerberos flow; interface 1 (tun0) only the DNS flows, interleaved in time with it.".into());
    cap
}

// ---------------------------------------------------------------------------------------------
// DCE/RPC, FTP and TFTP: flows labelled from what other flows announce

pub const RPC_NRPC: &str = "RPC netlogon (MS-NRPC) — Net Logon";
pub const RPC_DRSR: &str = "RPC drsuapi (MS-DRSR) — Local Security Authority";
pub const RPC_EVEN6: &str = "RPC eventlog6 (MS-EVEN6) — Event Log";
pub const RPC_SAMR: &str = "RPC samr (MS-SAMR) — Local Security Authority";
pub const FTP_CONTROL: &str =
    "FTP control — Application Layer Gateway Service, FTP Publishing Service";
pub const FTP_DATA: &str = "FTP data — FTP Publishing Service";
pub const TFTP: &str = "TFTP — Trivial FTP Daemon";

/// The 1-based frame number, in the written (time-sorted) file, of the one record sent at `t`.
fn frame_at(cap: &Capture, t: u64) -> usize {
    let same = cap.recs.iter().filter(|r| r.t == t).count();
    assert_eq!(same, 1, "one record at t={t}");
    cap.recs.iter().filter(|r| r.t < t).count() + 1
}

/// Sends `data` as one segment (PSH) and returns its time.
fn push_seg(cap: &mut Capture, c: &mut Tcp, from_client: bool, data: &[u8]) -> u64 {
    c.seg(cap, from_client, pk::PSH | pk::ACK, data);
    c.t
}

/// Moves a conversation's clock to `t` (its next packet leaves then).
fn resume_at(c: &mut Tcp, t: u64) {
    c.t = t;
    c.wait(0);
}

/// MS-NRPC NetrServerReqChallenge (opnum 4): request and response stubs.
pub fn nrpc_req_challenge(cap: &mut Capture, computer: &str) -> (Vec<u8>, Vec<u8>) {
    let mut q = Ndr::default();
    q.u32(0x0002_0000).wstring("\\\\DC01"); // PrimaryName: unique
    q.wstring(computer); // ComputerName: ref
    q.bytes(&pl::filler(&mut cap.rng, 8)); // ClientChallenge
    let mut r = Ndr::default();
    r.bytes(&pl::filler(&mut cap.rng, 8)); // ServerChallenge
    r.u32(0); // STATUS_SUCCESS
    (q.done(), r.done())
}

/// MS-NRPC DsrGetDcNameEx2 (opnum 34): request and response stubs (a DOMAIN_CONTROLLER_INFOW).
fn nrpc_get_dc_name() -> (Vec<u8>, Vec<u8>) {
    let mut q = Ndr::default();
    q.u32(0x0002_0000).wstring("\\\\DC01"); // ComputerName
    q.u32(0); // AccountName: null
    q.u32(0); // AllowableAccountControlBits
    q.u32(0x0002_0004).wstring("corp.example"); // DomainName
    q.u32(0); // DomainGuid: null
    q.u32(0); // SiteName: null
    q.u32(0x4000_0000); // Flags: DS_RETURN_DNS_NAME
    let mut r = Ndr::default();
    r.u32(0x0002_0000); // DomainControllerInfo
    r.u32(0x0002_0004).u32(0x0002_0008); // DomainControllerName, DomainControllerAddress
    r.u32(1); // DS_INET_ADDRESS
    r.uuid("6c1a0f3e-57d2-4b7c-9a41-2f3d5e6a7b8c"); // DomainGuid
    r.u32(0x0002_000c).u32(0x0002_0010); // DomainName, DnsForestName
    r.u32(0xe000_03fd); // Flags: PDC, GC, LDAP, DS, KDC, time server, closest, writable, DNS names
    r.u32(0x0002_0014).u32(0x0002_0018); // DcSiteName, ClientSiteName
    for s in [
        "\\\\dc01.corp.example",
        "\\\\192.0.2.10",
        "corp.example",
        "corp.example",
        "Default-First-Site-Name",
        "Default-First-Site-Name",
    ] {
        r.wstring(s);
    }
    r.u32(0); // NO_ERROR
    (q.done(), r.done())
}

/// MS-EVEN6 EvtRpcGetChannelList (opnum 19): request (flags 0) and response stubs.
fn even6_channel_list() -> (Vec<u8>, Vec<u8>) {
    let mut q = Ndr::default();
    q.u32(0);
    let channels = [
        "Application",
        "DFS Replication",
        "Directory Service",
        "DNS Server",
        "Security",
        "System",
    ];
    let n = channels.len() as u32;
    let mut r = Ndr::default();
    r.u32(n); // numChannelPaths
    r.u32(0x0002_0000).u32(n); // channelPaths: pointer, conformance
    for i in 0..n {
        r.u32(0x0002_0004 + 4 * i);
    }
    for c in channels {
        r.wstring(c);
    }
    r.u32(0); // ERROR_SUCCESS
    (q.done(), r.done())
}

/// A flow's expected label and how the analyzer learns it (the flow record's provenance).
fn learnt(label: &str, how: &str) -> String {
    format!("{label} (provenance {how})")
}

pub fn rpc() -> Capture {
    let mut cap = Capture::new(
        "rpc.pcap",
        Link::Ethernet,
        18,
        "DCE/RPC: an endpoint-mapper ept_map answer announcing three dynamic ports, binds on them, a bind without the endpoint mapper, a mid-stream flow, connectionless RPC over UDP",
    );
    let w = lan();
    let dc = "192.0.2.10";
    let dc_ip = [192, 0, 2, 10];
    let c1 = "192.0.2.101";

    // (a) The endpoint mapper: bind, ept_map for Net Logon, an answer with three towers.
    let mut e = Tcp::new(
        &mut cap,
        sa(c1, 49720),
        sa(dc, 135),
        0,
        &w,
        &learnt(
            RPC,
            "port: TCP 135 is a catalog row; the bind to epmapper leaves it",
        ),
    );
    e.handshake(&mut cap);
    let t_epm_bind = push_seg(
        &mut cap,
        &mut e,
        true,
        &rpc::bind(rpc::BIND, 1, 0, &[(0, rpc::EPMAPPER)]),
    );
    push_seg(
        &mut cap,
        &mut e,
        false,
        &rpc::bind_ack(rpc::BIND_ACK, 1, 0x0000_a0e1, "135", 1),
    );
    let map_tower = rpc::tower(rpc::NETLOGON, 0, [0; 4]);
    let t_map_req = push_seg(
        &mut cap,
        &mut e,
        true,
        &rpc::request(2, 0, 3, &rpc::ept_map_request(&map_tower, 4)),
    );
    let towers = [
        rpc::tower(rpc::NETLOGON, 49668, dc_ip),
        rpc::tower(rpc::DRSUAPI, 49669, [0, 0, 0, 0]),
        rpc::tower(rpc::EVEN6, 49670, dc_ip),
    ];
    let answer = rpc::response(2, 0, &rpc::ept_map_response(&towers, 4));
    let answer_len = answer.len();
    let t_map_resp = push_seg(&mut cap, &mut e, false, &answer);
    e.ack(&mut cap, true);
    e.close(&mut cap);

    // (b) Net Logon on 49668 right after: the bind in two segments, two requests in one.
    let mut n = Tcp::new(
        &mut cap,
        sa(c1, 49721),
        sa(dc, 49668),
        e.t + 3 * MS,
        &w,
        &learnt(
            RPC_NRPC,
            "rpc-bind: the endpoint mapper announced 192.0.2.10:49668 for Net Logon, the bind names it",
        ),
    );
    n.handshake(&mut cap);
    let bind = rpc::bind(rpc::BIND, 1, 0, &[(0, rpc::NETLOGON)]);
    n.seg(&mut cap, true, pk::ACK, &bind[..20]);
    let t_split1 = n.t;
    let t_split2 = push_seg(&mut cap, &mut n, true, &bind[20..]);
    push_seg(
        &mut cap,
        &mut n,
        false,
        &rpc::bind_ack(rpc::BIND_ACK, 1, 0x0000_a0e2, "49668", 1),
    );
    let (q4, r4) = nrpc_req_challenge(&mut cap, "WS101");
    let (q34, r34) = nrpc_get_dc_name();
    let mut two = rpc::request(2, 0, 4, &q4);
    let first_len = two.len();
    two.extend(rpc::request(3, 0, 34, &q34));
    let t_two = push_seg(&mut cap, &mut n, true, &two);
    push_seg(&mut cap, &mut n, false, &rpc::response(2, 0, &r4));
    push_seg(&mut cap, &mut n, false, &rpc::response(3, 0, &r34));
    n.ack(&mut cap, true);
    n.close(&mut cap);

    // (c) drsuapi on 49669 (tower address 0.0.0.0: the server's own) and Event Log on 49670.
    let mut d = Tcp::new(
        &mut cap,
        sa(c1, 49722),
        sa(dc, 49669),
        n.t + 2 * SEC,
        &w,
        &learnt(
            RPC_DRSR,
            "rpc-bind: announced for drsuapi at 0.0.0.0:49669, i.e. the endpoint mapper's own address; the bind names it",
        ),
    );
    d.handshake(&mut cap);
    push_seg(
        &mut cap,
        &mut d,
        true,
        &rpc::bind(rpc::BIND, 1, 0, &[(0, rpc::DRSUAPI)]),
    );
    push_seg(
        &mut cap,
        &mut d,
        false,
        &rpc::bind_ack(rpc::BIND_ACK, 1, 0x0000_a0e3, "49669", 1),
    );
    let t_alter = push_seg(
        &mut cap,
        &mut d,
        true,
        &rpc::bind(rpc::ALTER_CONTEXT, 2, 0x0000_a0e3, &[(1, rpc::DRSUAPI)]),
    );
    push_seg(
        &mut cap,
        &mut d,
        false,
        &rpc::bind_ack(rpc::ALTER_CONTEXT_RESP, 2, 0x0000_a0e3, "", 1),
    );
    // IDL_DRSBind (opnum 0) on the new context 1.
    let ext_client = {
        let mut x = Ndr::default();
        x.u32(0x3fff_ff7f).bytes(&[0; 16]).u32(0x0000_0c64).u32(0);
        x.done()
    };
    let mut q = Ndr::default();
    q.u32(0x0002_0000)
        .uuid("e24d201a-4fd6-11d1-a3da-0000f875ae0d") // puuidClientDsa: NTDSAPI_CLIENT_GUID
        .u32(0x0002_0004)
        .counted_bytes(&ext_client); // pextClient
    let ext_server = {
        let mut x = Ndr::default();
        x.u32(0x7fff_ffff)
            .uuid("3a9b7c1e-2d4f-4e6a-8b0c-1d2e3f405162")
            .u32(0x0000_02a8)
            .u32(0);
        x.done()
    };
    let mut r = Ndr::default();
    r.u32(0x0002_0000).counted_bytes(&ext_server); // ppextServer
    r.align(4).handle("5d4c3b2a-1908-4f7e-a6d5-c4b3a2918070"); // phDrs
    r.u32(0);
    push_seg(&mut cap, &mut d, true, &rpc::request(3, 1, 0, &q.done()));
    push_seg(&mut cap, &mut d, false, &rpc::response(3, 1, &r.done()));
    d.ack(&mut cap, true);
    d.close(&mut cap);

    let mut ev = Tcp::new(
        &mut cap,
        sa(c1, 49723),
        sa(dc, 49670),
        d.t + 2 * SEC,
        &w,
        &learnt(
            RPC_EVEN6,
            "rpc-bind: announced for MS-EVEN6 at 192.0.2.10:49670; the bind names it",
        ),
    );
    ev.handshake(&mut cap);
    push_seg(
        &mut cap,
        &mut ev,
        true,
        &rpc::bind(rpc::BIND, 1, 0, &[(0, rpc::EVEN6)]),
    );
    push_seg(
        &mut cap,
        &mut ev,
        false,
        &rpc::bind_ack(rpc::BIND_ACK, 1, 0x0000_a0e4, "49670", 1),
    );
    let (q19, r19) = even6_channel_list();
    push_seg(&mut cap, &mut ev, true, &rpc::request(2, 0, 19, &q19));
    push_seg(&mut cap, &mut ev, false, &rpc::response(2, 0, &r19));
    ev.ack(&mut cap, true);
    ev.close(&mut cap);

    // (d) A bind to MS-SAMR on a dynamic port by a client that never spoke to the endpoint mapper.
    let mut s = Tcp::new(
        &mut cap,
        sa("192.0.2.102", 49730),
        sa(dc, 49700),
        ev.t + 3 * SEC,
        &w,
        &learnt(
            RPC_SAMR,
            "rpc-bind: no endpoint mapper seen for this client or port; the bind alone names MS-SAMR",
        ),
    );
    s.handshake(&mut cap);
    let t_samr_bind = push_seg(
        &mut cap,
        &mut s,
        true,
        &rpc::bind(rpc::BIND, 1, 0, &[(0, rpc::SAMR)]),
    );
    push_seg(
        &mut cap,
        &mut s,
        false,
        &rpc::bind_ack(rpc::BIND_ACK, 1, 0x0000_a0e5, "49700", 1),
    );
    // SamrConnect (opnum 0): ServerName (a unique pointer to one wchar_t), DesiredAccess.
    let mut q = Ndr::default();
    q.u32(0x0002_0000).u16(u16::from(b'\\')).u32(0x0000_0031);
    let mut r = Ndr::default();
    r.handle("0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9").u32(0);
    push_seg(&mut cap, &mut s, true, &rpc::request(2, 0, 0, &q.done()));
    push_seg(&mut cap, &mut s, false, &rpc::response(2, 0, &r.done()));
    s.ack(&mut cap, true);
    s.close(&mut cap);

    // (e) Net Logon on 49668 from another client, mid-stream: no handshake, no bind.
    let mut m = Tcp::new(
        &mut cap,
        sa("192.0.2.103", 49740),
        sa(dc, 49668),
        s.t + 3 * SEC,
        &w,
        &learnt(
            RPC_NRPC,
            "endpoint-mapper: no bind captured; 192.0.2.10:49668 was announced for Net Logon by the ept_map answer to 192.0.2.101",
        ),
    );
    let (q34, r34) = nrpc_get_dc_name();
    let t_mid = push_seg(&mut cap, &mut m, true, &rpc::request(7, 0, 34, &q34));
    push_seg(&mut cap, &mut m, false, &rpc::response(7, 0, &r34));
    let (q4, r4) = nrpc_req_challenge(&mut cap, "WS103");
    push_seg(&mut cap, &mut m, true, &rpc::request(8, 0, 4, &q4));
    push_seg(&mut cap, &mut m, false, &rpc::response(8, 0, &r4));
    m.ack(&mut cap, true);
    m.close(&mut cap);

    // (f) Connectionless DCE/RPC (ncadg_ip_udp): one request, one response.
    let mut u = Udp::new(
        &mut cap,
        sa("192.0.2.104", 50500),
        sa(dc, 49800),
        m.t + 2 * SEC,
        &w,
        &learnt(
            RPC_EVEN6,
            "rpc-header: the connectionless header names MS-EVEN6; server side by the lower port",
        ),
    );
    let activity = "9f3c2a71-5b4e-4d08-a1c6-7e2f90b3d845";
    let (q19, r19) = even6_channel_list();
    let cl_req = rpc::cl_pdu(rpc::CL_REQUEST, rpc::EVEN6, activity, 0, 0, 19, &q19);
    let cl_resp = rpc::cl_pdu(
        rpc::CL_RESPONSE,
        rpc::EVEN6,
        activity,
        0x65e5_8a10,
        0,
        19,
        &r19,
    );
    u.send(&mut cap, true, 0, &cl_req);
    let t_cl = u.t;
    u.send(&mut cap, false, 700, &cl_resp);

    let f = |t| frame_at(&cap, t);
    let (fr_epm_bind, fr_map_req, fr_map_resp) = (f(t_epm_bind), f(t_map_req), f(t_map_resp));
    let (fr_split1, fr_split2, fr_two, fr_alter) = (f(t_split1), f(t_split2), f(t_two), f(t_alter));
    let (fr_samr, fr_mid, fr_cl) = (f(t_samr_bind), f(t_mid), f(t_cl));
    cap.expect.push(
        "Every connection-oriented PDU is version 5.0 with data representation 0x10,0,0,0 (little-endian), flags PFC_FIRST_FRAG|PFC_LAST_FRAG (0x03), no authentication; \
         every bind and alter_context presents one context with one transfer syntax, NDR 8a885d04-1ceb-11c9-9fe8-08002b104860 v2.0, which the server accepts. \
         Towers are ncacn_ip_tcp, 75 bytes, five floors: interface UUID + major version (minor in the right-hand side), NDR v2, 0x0b (connection-oriented RPC), \
         0x07 TCP port (big-endian), 0x09 IPv4 address."
            .into(),
    );
    cap.expect.push(format!(
        "(a) 192.0.2.101 -> 192.0.2.10:135, the endpoint mapper: frame {} bind to epmapper e1af8308-5d1f-11c9-91a4-08002b14a0fa v3.0, then bind_ack (secondary address \"135\"); \
         frame {} request opnum 3 (ept_map) whose map tower names Net Logon 12345678-1234-abcd-ef00-01234567cffb v1.0 (port 0, address 0.0.0.0), max_towers 4; \
         frame {} the response ({answer_len}-byte PDU): nil context handle, num_towers 3, array max_count 4 / offset 0 / actual_count 3, referents 3, 4, 5, \
         three towers, status 0. The towers: Net Logon v1.0 at 192.0.2.10:49668, drsuapi e3514235-4b06-11d1-ab04-00c04fc2dcd2 v4.0 at 0.0.0.0:49669 \
         (the endpoint mapper's own address), MS-EVEN6 f6beaff7-1e19-4fbb-9f8f-b89e2018337c v1.0 at 192.0.2.10:49670.",
        fr_epm_bind,
        fr_map_req,
        fr_map_resp
    ));
    cap.expect.push(format!(
        "(b) 3 ms after that flow closes, 192.0.2.101 -> 192.0.2.10:49668: the 72-byte bind to Net Logon is split, frame {} carrying its first 20 bytes and frame {} the other 52; \
         frame {} carries two request PDUs back to back ({first_len} bytes: call 2, opnum 4 NetrServerReqChallenge; then call 3, opnum 34 DsrGetDcNameEx2), \
         answered by two response segments. \
         (c) 2 s later 192.0.2.101 -> 192.0.2.10:49669: bind to drsuapi v4.0 (context 0), alter_context in frame {} adding context 1 (drsuapi again), alter_context_resp, \
         then IDL_DRSBind (opnum 0) on context 1; 2 s later 192.0.2.101 -> 192.0.2.10:49670: bind to MS-EVEN6 v1.0 and EvtRpcGetChannelList (opnum 19).",
        fr_split1,
        fr_split2,
        fr_two,
        fr_alter
    ));
    cap.expect.push(format!(
        "(d) 192.0.2.102 never talks to port 135: its flow to 192.0.2.10:49700 (frame {} binds to MS-SAMR 12345778-1234-abcd-ef00-0123456789ac v1.0, then SamrConnect) \
         is RPC only because of its bind. \
         (e) 192.0.2.103 -> 192.0.2.10:49668 starts mid-stream at frame {}: no SYN, no bind, only request/response PDUs (calls 7 and 8, opnums 34 and 4) on context 0, \
         then a FIN close; the endpoint 192.0.2.10:49668 was announced for Net Logon by the ept_map answer (frame {}), which gives both the server side and the interface. \
         (f) Frame {}: a connectionless request 192.0.2.104:50500 -> 192.0.2.10:49800 (80-byte header: version 4, ptype 0, drep 0x10,0,0, \
         MS-EVEN6 interface UUID at offset 24 in wire order, opnum 19, body length {} at offset 74); the next frame is its response (ptype 2, body length {}).",
        fr_samr,
        fr_mid,
        fr_map_resp,
        fr_cl,
        cl_req.len() - 80,
        cl_resp.len() - 80
    ));
    cap
}

pub fn ftp() -> Capture {
    let mut cap = Capture::new(
        "ftp.pcap",
        Link::Ethernet,
        19,
        "FTP: a control connection on TCP 21 announcing two passive (PASV, EPSV) and two active (PORT, EPRT) data connections",
    );
    let w = lan();
    let (cl, srv) = ("192.0.2.105", "192.0.2.60");
    let mut c = Tcp::new(
        &mut cap,
        sa(cl, 51200),
        sa(srv, 21),
        0,
        &w,
        &learnt(FTP_CONTROL, "port"),
    );
    c.handshake(&mut cap);
    push_seg(&mut cap, &mut c, false, b"220 Microsoft FTP Service\r\n");
    c.exchange(
        &mut cap,
        b"USER svc-backup\r\n",
        b"331 Password required for svc-backup.\r\n",
    );
    c.exchange(
        &mut cap,
        b"PASS backup-2024\r\n",
        b"230 User logged in.\r\n",
    );
    c.exchange(&mut cap, b"TYPE I\r\n", b"200 Type set to I.\r\n");

    // Passive (PASV): the client connects to 192.0.2.60:50000 and downloads a file.
    c.wait(800 * MS);
    push_seg(&mut cap, &mut c, true, b"PASV\r\n");
    let t_pasv = push_seg(
        &mut cap,
        &mut c,
        false,
        b"227 Entering Passive Mode (192,0,2,60,195,80).\r\n",
    );
    let mut d1 = Tcp::new(
        &mut cap,
        sa(cl, 51201),
        sa(srv, 50000),
        c.t + 400,
        &w,
        &learnt(
            FTP_DATA,
            "ftp-control: the 227 reply announced 192.0.2.60:50000",
        ),
    );
    d1.handshake(&mut cap);
    resume_at(&mut c, d1.t + 200);
    c.exchange(
        &mut cap,
        b"RETR report.pdf\r\n",
        b"125 Data connection already open; Transfer starting.\r\n",
    );
    resume_at(&mut d1, c.t + 150);
    let file = pl::padded(&mut cap.rng, b"%PDF-1.7\n", 9000);
    d1.send(&mut cap, false, &file);
    d1.ack(&mut cap, true);
    d1.close_by_server(&mut cap);
    resume_at(&mut c, d1.t + 300);
    push_seg(&mut cap, &mut c, false, b"226 Transfer complete.\r\n");
    c.ack(&mut cap, true);

    // Extended passive (EPSV): the client connects to port 50001 and uploads.
    c.wait(1200 * MS);
    push_seg(&mut cap, &mut c, true, b"EPSV\r\n");
    let t_epsv = push_seg(
        &mut cap,
        &mut c,
        false,
        b"229 Entering Extended Passive Mode (|||50001|)\r\n",
    );
    let mut d2 = Tcp::new(
        &mut cap,
        sa(cl, 51202),
        sa(srv, 50001),
        c.t + 400,
        &w,
        &learnt(
            FTP_DATA,
            "ftp-control: the 229 reply announced port 50001 of the control connection's server",
        ),
    );
    d2.handshake(&mut cap);
    resume_at(&mut c, d2.t + 200);
    c.exchange(
        &mut cap,
        b"STOR backup-2024-03-04.log\r\n",
        b"125 Data connection already open; Transfer starting.\r\n",
    );
    resume_at(&mut d2, c.t + 150);
    let upload = pl::text(&mut cap.rng, 4200);
    d2.send(&mut cap, true, &upload);
    d2.ack(&mut cap, false);
    d2.close(&mut cap);
    resume_at(&mut c, d2.t + 300);
    push_seg(&mut cap, &mut c, false, b"226 Transfer complete.\r\n");
    c.ack(&mut cap, true);

    // Active (PORT): the server connects from its port 20 to 192.0.2.105:51210 and sends a listing.
    c.wait(900 * MS);
    let t_port = push_seg(&mut cap, &mut c, true, b"PORT 192,0,2,105,200,10\r\n");
    push_seg(&mut cap, &mut c, false, b"200 PORT command successful.\r\n");
    c.exchange(
        &mut cap,
        b"LIST\r\n",
        b"150 Opening ASCII mode data connection.\r\n",
    );
    let mut a1 = Tcp::new(
        &mut cap,
        sa(srv, 20),
        sa(cl, 51210),
        c.t + 300,
        &w,
        &learnt(
            FTP_DATA,
            "ftp-control: the PORT command announced 192.0.2.105:51210; the SYN makes 192.0.2.60:20 the client",
        ),
    );
    a1.handshake(&mut cap);
    let listing = b"03-04-24  08:12AM                 9000 report.pdf\r\n\
03-04-24  09:00AM                 4200 backup-2024-03-04.log\r\n\
02-27-24  04:41PM                 2731 notes.txt\r\n\
01-15-24  10:03AM       <DIR>          archive\r\n";
    a1.send(&mut cap, true, listing);
    a1.close(&mut cap);
    resume_at(&mut c, a1.t + 300);
    push_seg(&mut cap, &mut c, false, b"226 Transfer complete.\r\n");
    c.ack(&mut cap, true);

    // Active (EPRT): the server connects from port 20 to 192.0.2.105:51211 and sends a file.
    c.wait(1500 * MS);
    let t_eprt = push_seg(&mut cap, &mut c, true, b"EPRT |1|192.0.2.105|51211|\r\n");
    push_seg(&mut cap, &mut c, false, b"200 EPRT command successful.\r\n");
    c.exchange(
        &mut cap,
        b"RETR notes.txt\r\n",
        b"150 Opening BINARY mode data connection.\r\n",
    );
    let mut a2 = Tcp::new(
        &mut cap,
        sa(srv, 20),
        sa(cl, 51211),
        c.t + 300,
        &w,
        &learnt(
            FTP_DATA,
            "ftp-control: the EPRT command announced 192.0.2.105:51211; the SYN makes 192.0.2.60:20 the client",
        ),
    );
    a2.handshake(&mut cap);
    let notes = pl::text(&mut cap.rng, 2731);
    a2.send(&mut cap, true, &notes);
    a2.ack(&mut cap, false);
    a2.close(&mut cap);
    resume_at(&mut c, a2.t + 300);
    push_seg(&mut cap, &mut c, false, b"226 Transfer complete.\r\n");
    c.ack(&mut cap, true);

    c.wait(700 * MS);
    c.exchange(&mut cap, b"QUIT\r\n", b"221 Goodbye.\r\n");
    c.close(&mut cap);

    let f = |t| frame_at(&cap, t);
    let (fr_pasv, fr_epsv, fr_port, fr_eprt) = (f(t_pasv), f(t_epsv), f(t_port), f(t_eprt));
    cap.expect.push(format!(
        "One control connection 192.0.2.105:51200 -> 192.0.2.60:21 (banner, USER, PASS, TYPE I, then one transfer per mode, QUIT), every line CRLF-terminated. \
         Frame {fr_pasv}: \"227 Entering Passive Mode (192,0,2,60,195,80).\", then the client connects to 192.0.2.60:50000 and sends RETR; the server sends the file \
         and closes the data connection first (server FIN, client FIN, server ACK). \
         Frame {fr_epsv}: \"229 Entering Extended Passive Mode (|||50001|)\", then the client connects to 192.0.2.60:50001 and uploads (STOR). \
         Frame {fr_port}: \"PORT 192,0,2,105,200,10\" (port 51210); after LIST the server opens the data connection itself: SYN from 192.0.2.60:20 to 192.0.2.105:51210. \
         Frame {fr_eprt}: \"EPRT |1|192.0.2.105|51211|\"; after RETR the SYN comes from 192.0.2.60:20 to 192.0.2.105:51211. \
         Each data connection lies inside its command's 125/150 ... 226 replies; the data ports are in no catalog row, so only the control connection's announcements label them. \
         For the active ones the analyzer's client is 192.0.2.60:20 (it sent the SYN)."
    ));
    cap
}

pub fn tftp() -> Capture {
    let mut cap = Capture::new(
        "tftp.pcap",
        Link::Ethernet,
        20,
        "TFTP (RFC 1350): a read and a write request to UDP 69, each answered from a new server port",
    );
    let w = lan();
    let srv = "192.0.2.70";
    // RRQ: the server answers from 61000 with DATA blocks, the client ACKs each to 61000.
    let (c1, c2) = (sa("192.0.2.106", 50600), sa("192.0.2.107", 50601));
    let mut rq = Udp::new(&mut cap, c1, sa(srv, 69), 0, &w, &learnt(TFTP, "port"));
    rq.send(
        &mut cap,
        true,
        0,
        &pl::tftp_request(pl::TFTP_RRQ, "boot.wim", "octet"),
    );
    let mut x = Udp::new(
        &mut cap,
        c1,
        sa(srv, 61000),
        rq.t,
        &w,
        &learnt(
            TFTP,
            "tftp: the server's answer from a new port to 192.0.2.106:50600's request on UDP 69; the requester is the client",
        ),
    );
    let image = pl::padded(&mut cap.rng, b"MSWIM\0\0\0", 4 * 512 + 300);
    let rrq_blocks = image.chunks(512).count();
    for (i, block) in image.chunks(512).enumerate() {
        let gap = if i == 0 {
            1200
        } else {
            150 + cap.rng.below(100)
        };
        x.send(&mut cap, false, gap, &pl::tftp_data(i as u16 + 1, block));
        let gap = 250 + cap.rng.below(150);
        x.send(&mut cap, true, gap, &pl::tftp_ack(i as u16 + 1));
    }
    // WRQ: the server ACKs block 0 from 61001, the client sends DATA there, the server ACKs each.
    let mut wq = Udp::new(
        &mut cap,
        c2,
        sa(srv, 69),
        x.t + 2 * SEC,
        &w,
        &learnt(TFTP, "port"),
    );
    wq.send(
        &mut cap,
        true,
        0,
        &pl::tftp_request(pl::TFTP_WRQ, "unattend.xml", "octet"),
    );
    let mut y = Udp::new(
        &mut cap,
        c2,
        sa(srv, 61001),
        wq.t,
        &w,
        &learnt(
            TFTP,
            "tftp: the server's answer from a new port to 192.0.2.107:50601's request on UDP 69; the requester is the client",
        ),
    );
    y.send(&mut cap, false, 1100, &pl::tftp_ack(0));
    let mut xml = b"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<unattend xmlns=\"urn:schemas-microsoft-com:unattend\">\n".to_vec();
    xml.extend(pl::text(&mut cap.rng, 1300 - xml.len() - 12));
    xml.extend_from_slice(b"</unattend>\n");
    let wrq_blocks = xml.chunks(512).count();
    for (i, block) in xml.chunks(512).enumerate() {
        let gap = 200 + cap.rng.below(100);
        y.send(&mut cap, true, gap, &pl::tftp_data(i as u16 + 1, block));
        let gap = 300 + cap.rng.below(150);
        y.send(&mut cap, false, gap, &pl::tftp_ack(i as u16 + 1));
    }
    cap.expect.push(format!(
        "Frame 1: RRQ \"boot.wim\" mode \"octet\" from 192.0.2.106:50600 to 192.0.2.70:69 (no options); frames 2-{}: the server answers from 192.0.2.70:61000 \
         with DATA blocks 1-{rrq_blocks} ({} bytes: {} blocks of 512, the last of 300), each ACKed by the client to 61000. \
         Frame {}: WRQ \"unattend.xml\" mode \"octet\" from 192.0.2.107:50601 to 192.0.2.70:69; the server answers ACK 0 from 192.0.2.70:61001, then the client sends \
         DATA blocks 1-{wrq_blocks} ({} bytes, the last block {} bytes) to 61001 and the server ACKs each. \
         Neither 61000 nor 61001 is a catalog port: the request on UDP 69 from the same client endpoint labels the answer, and the requester is the client.",
        1 + 2 * rrq_blocks,
        image.len(),
        rrq_blocks - 1,
        2 + 2 * rrq_blocks,
        xml.len(),
        xml.len() % 512
    ));
    cap
}

// ---------------------------------------------------------------------------------------------
// Link layers inside Ethernet and PPP links

pub fn tunnels() -> Capture {
    let mut cap = Capture::with_ifaces(
        "tunnels.pcapng",
        true,
        vec![
            Iface {
                link: Link::Ethernet,
                snaplen: 65535,
                name: "eth0",
            },
            Iface {
                link: Link::Ppp,
                snaplen: 65535,
                name: "ppp0",
            },
        ],
        23,
        "PPPoE sessions, MPLS label stacks, an Ethernet pseudowire over MPLS and a PPP link",
    );
    let client_mac = [0x02, 0, 0, 0, 0x0b, 0x01];
    // PPPoE discovery (PADI, broadcast) and the session's LCP echo: not IP, counted by what they carry.
    let padi = [0x11, 0x09, 0x00, 0x00, 0x00, 0x04, 0x01, 0x01, 0x00, 0x00];
    let f = cap.frame(
        &lan(),
        client_mac,
        pk::BROADCAST_MAC,
        false,
        pk::ETH_PPPOE_DISCOVERY,
        &padi,
    );
    let n = f.len() as u32;
    cap.push(0, 0, f, n, Some("PPPoE discovery: PADI (not IP)".into()));
    let lcp_echo = [
        0x11, 0x00, 0x00, 0x2a, 0x00, 0x0a, 0xc0, 0x21, 0x09, 0x01, 0x00, 0x08, 0, 0, 0, 0,
    ];
    let f = cap.frame(
        &lan(),
        client_mac,
        pk::BROADCAST_MAC,
        false,
        pk::ETH_PPPOE_SESSION,
        &lcp_echo,
    );
    let n = f.len() as u32;
    cap.push(
        MS,
        0,
        f,
        n,
        Some("PPPoE session 42: LCP echo request (not IP)".into()),
    );
    let pppoe = Wire {
        encap: pk::Encap::Pppoe(42),
        ..Wire::default()
    };
    let t = kerberos_tcp(
        &mut cap,
        sa("198.51.100.21", 50200),
        sa("192.0.2.10", 88),
        10 * MS,
        &pppoe,
        pl::KRB_AS_REQ,
    );
    let pppoe6 = Wire {
        encap: pk::Encap::Pppoe(43),
        ..Wire::default()
    };
    dns_udp(
        &mut cap,
        sa("2001:db8:51::21", 50201),
        sa("2001:db8::10", 53),
        t + SEC,
        &pppoe6,
        "dc01.corp.example",
        pl::DNS_AAAA,
        &[Rr::aaaa("2001:db8::10".parse().expect("v6"))],
    );
    let mpls = Wire {
        encap: pk::Encap::Mpls(vec![16, 1000]),
        ..Wire::default()
    };
    let t = ldap_tcp(
        &mut cap,
        sa("192.0.2.101", 50202),
        sa("192.0.2.10", 389),
        t + 2 * SEC,
        &mpls,
        LDAP,
    );
    let pseudowire = Wire {
        encap: pk::Encap::MplsEthernet(vec![17, 300]),
        ..Wire::default()
    };
    dns_udp(
        &mut cap,
        sa("192.0.2.102", 50203),
        sa("192.0.2.10", 53),
        t + SEC,
        &pseudowire,
        "fs01.corp.example",
        pl::DNS_A,
        &[Rr::a(v4("192.0.2.20"))],
    );
    let ppp = Wire {
        iface: 1,
        ..Wire::default()
    };
    kerberos_tcp(
        &mut cap,
        sa("203.0.113.5", 50204),
        sa("192.0.2.10", 88),
        t + 2 * SEC,
        &ppp,
        pl::KRB_AS_REQ,
    );
    cap.expect.push("Interface 0 (Ethernet): a PPPoE discovery frame and an LCP echo (not IP), Kerberos in PPPoE session 42 (IPv4, PPP protocol 0x0021), DNS in session 43 (IPv6, 0x0057), LDAP under two MPLS labels (16, 1000), DNS in an Ethernet pseudowire (labels 17, 300, a zero control word, an inner Ethernet header). Interface 1 (PPP, with address and control bytes 0xff 0x03): Kerberos.".into());
    cap
}
