//! Payload inspector (`payload`): the TCP, UDP and GRE flows no other inspector reads — registered
//! last, it gives each a slot, so the registry's signature check ([`super::verify`]) sees their
//! first payload too — and reads the few messages that tell a shared port's candidates apart
//! or name the server:
//!
//! - `rdp-negotiation`: an X.224 Connection Request carrying an RDP Negotiation Request
//!   ([MS-RDPBCGR] 2.2.1.1.1; RDP 5.2 and later), Terminal Services and not NetMeeting's Remote
//!   Desktop Sharing (T.120, which predates it), through the catalog's `rdp-negotiation` name;
//! - `tds-instance`: the INSTOPT of a TDS PRELOGIN ([MS-TDS] 2.2.6.5: `MSSQLServer` for the
//!   default instance, else the named instance's name), through `tds-instance:NAME`;
//! - `sql-browser`: each instance a SQL Browser answer on UDP 1434 lists ([MS-SQLR] 2.2.5) with
//!   its TCP port, through `tds-instance:NAME` too;
//! - `dns-authoritative`: a DNS answer with the AA bit (RFC 1035 4.1.1): the server holds the
//!   zone (the DNS Server, not ICS's proxy), through `dns-authoritative`;
//! - `http-server` and `http-sharepoint`: an HTTP answer's `Server` header (through
//!   `http-server:PRODUCT`: `Microsoft-IIS` is the World Wide Web Publishing Service), SharePoint's
//!   `MicrosoftSharePointTeamServices` header or a request for `/_vti_bin/` or `/_layouts/`;
//! - `tls-cert`: the subject common name of the certificate a TLS 1.2 server sends in clear (on
//!   443, 636, 3269, 993, 995, and after RDP's negotiation on 3389).
//!
//! Bounds: [`MAX_PAYLOAD_SEGMENTS`] segments and [`MAX_PAYLOAD_BYTES`] of a flow; the server's TLS
//! handshake is gathered in sequence up to [`MAX_TLS_HANDSHAKE`] bytes (counted as held), and
//! nothing else is buffered: each other message is read in the segment that carries it.

use super::verify::text_evidence;
use super::{
    Budget, Counter, Evidence, EvidenceKind, Inspector, Offer, Out, Registration, Segment, Step,
    Value,
};
use crate::catalog::NameKind;
use crate::decode::proto;
use crate::wire::signature::{rdp_negotiation, text_protocol, Wire};
use crate::wire::tls::{self, ServerFlight};

/// Payload segments read from one flow at most (both directions).
pub const MAX_PAYLOAD_SEGMENTS: u32 = 12;
/// Payload bytes read from one flow at most.
pub const MAX_PAYLOAD_BYTES: u64 = 64 << 10;
/// Bytes of a server's TLS handshake held to find its certificate.
pub const MAX_TLS_HANDSHAKE: usize = 16 << 10;
/// Instances recorded from one SQL Browser answer.
pub const MAX_BROWSER_INSTANCES: usize = 8;
/// Bytes of an HTTP header block looked at.
const MAX_HEADERS: usize = 4096;

pub static TLS_CERTIFICATES: Counter = Counter {
    key: "tls_certificates",
    text: "TLS certificates read in clear",
};

pub const PAYLOAD: Registration = Registration {
    name: "payload",
    wants: |o: &Offer| matches!(o.protocol, proto::TCP | proto::UDP | proto::GRE),
    budget: Budget {
        bytes: MAX_PAYLOAD_BYTES,
        segments: MAX_PAYLOAD_SEGMENTS,
    },
    start: || Box::<Payload>::default(),
    counters: &[&TLS_CERTIFICATES],
};

#[derive(Default)]
struct Payload {
    /// The server's raw bytes from its first TLS record on, in sequence.
    tls: Vec<u8>,
    tls_next: u32,
    /// 0: no TLS seen from the server yet; 1: gathering; 2: over.
    tls_state: u8,
    client_segments: u8,
    server_segments: u8,
    http_done: bool,
    dns_done: bool,
}

impl Inspector for Payload {
    fn segment(&mut self, seg: &Segment<'_>, out: &mut Out<'_>) -> Step {
        if seg.protocol == proto::GRE {
            // Only the registry's signature check reads GRE (PPTP's enhanced GRE header).
            return Step::Done;
        }
        let b = seg.payload;
        let udp = seg.protocol == proto::UDP;
        if seg.from_client {
            self.client_segments = self.client_segments.saturating_add(1);
            if self.client_segments <= 2 {
                client_message(udp, b, out);
            }
        } else {
            self.server_segments = self.server_segments.saturating_add(1);
            if !udp {
                self.server_tls(seg, out);
            }
            if self.server_segments <= 2 {
                self.server_message(udp, seg.server.1, b, out);
            }
        }
        if self.client_segments >= 2 && self.server_segments >= 2 && self.tls_state != 1 {
            Step::Done
        } else {
            Step::More
        }
    }

    fn held(&self) -> usize {
        self.tls.len()
    }
}

/// Evidence of `kind` with `text`, backing the services of the catalog's protocol entry `key`.
fn named(out: &Out<'_>, kind: EvidenceKind, text: &str, key: &str) -> Evidence {
    Evidence {
        kind,
        value: Value::Text(text.into()),
        label: None,
        name: out.catalog.name_id(NameKind::Protocol, key),
    }
}

fn client_message(udp: bool, b: &[u8], out: &mut Out<'_>) {
    if !udp {
        if let Some((1, protocols)) = rdp_negotiation(b) {
            let text = rdp_protocols(protocols);
            let e = named(out, EvidenceKind::RdpNegotiation, &text, "rdp-negotiation");
            out.evidence(e);
            return;
        }
        if let Some(instance) = prelogin_instance(b) {
            let text = tls::printable(instance);
            let e = named(
                out,
                EvidenceKind::TdsInstance,
                &text,
                &format!("tds-instance:{text}"),
            );
            out.evidence(e);
            return;
        }
    }
    if text_protocol(b) == Some(Wire::Http) {
        if let Some(path) = sharepoint_path(b) {
            let text = tls::printable(&path[..path.len().min(128)]);
            let e = named(out, EvidenceKind::HttpSharepoint, &text, "http-sharepoint");
            out.evidence(e);
        }
        http_authorization(b, out);
    }
}

/// The `Authorization` header of an HTTP request (RFC 9110 11.6.2): `Negotiate` and `NTLM`
/// carry a SPNEGO, Kerberos or NTLMSSP token in base64 (RFC 4559, [MS-NTHT]), read by the same
/// rules as SMB's and LDAP's; `Basic` a user and password in clear (RFC 7617): the user is
/// recorded, never the password.
fn http_authorization(b: &[u8], out: &mut Out<'_>) {
    for (name, value) in header_fields(b) {
        if !name.eq_ignore_ascii_case(b"authorization") {
            continue;
        }
        let (scheme, credentials) = match value.iter().position(|&c| c == b' ') {
            Some(i) => (&value[..i], value[i + 1..].trim_ascii()),
            None => (value, &[][..]),
        };
        let Some(decoded) = base64(credentials) else {
            return;
        };
        if scheme.eq_ignore_ascii_case(b"negotiate") || scheme.eq_ignore_ascii_case(b"ntlm") {
            super::auth::token(&decoded, out);
        } else if scheme.eq_ignore_ascii_case(b"basic") {
            let user = decoded.split(|&c| c == b':').next().unwrap_or(&[]);
            super::auth::record(
                super::evidence::Mechanism::ClearPassword,
                Some(&tls::printable(&user[..user.len().min(128)])),
                out,
            );
        }
        return;
    }
}

/// The header fields of an HTTP message's first segment (its first [`MAX_HEADERS`] bytes): (name,
/// value without surrounding blanks) of each line after the start line that has a colon, up to
/// the empty line that ends the headers.
fn header_fields(b: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    b[..b.len().min(MAX_HEADERS)]
        .split(|&c| c == b'\n')
        .skip(1)
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .take_while(|line| !line.is_empty())
        .filter_map(|line| {
            let colon = line.iter().position(|&c| c == b':')?;
            Some((&line[..colon], line[colon + 1..].trim_ascii()))
        })
}

/// Standard base64 (RFC 4648 4), padding optional; `None` for any other character.
fn base64(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in text.iter().take_while(|&&c| c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

impl Payload {
    fn server_tls(&mut self, seg: &Segment<'_>, out: &mut Out<'_>) {
        let b = seg.payload;
        match self.tls_state {
            0 if b.len() >= 6 && b[0] == 0x16 && b[1] == 3 && b[5] == 2 => {
                self.tls_state = 1;
                self.tls_next = seg.seq;
            }
            1 => {}
            _ => return,
        }
        if seg.seq != self.tls_next {
            // Out of order or lost: the handshake cannot be read further without reassembly.
            self.end_tls();
            return;
        }
        self.tls_next = seg.seq.wrapping_add(b.len() as u32);
        let room = MAX_TLS_HANDSHAKE - self.tls.len();
        self.tls.extend_from_slice(&b[..b.len().min(room)]);
        let mut hs = Vec::new();
        tls::handshake_bytes(&self.tls, MAX_TLS_HANDSHAKE, &mut hs);
        match tls::server_flight(&hs) {
            ServerFlight::Incomplete if self.tls.len() < MAX_TLS_HANDSHAKE => {}
            ServerFlight::Certificate(Some(cn)) => {
                out.count(&TLS_CERTIFICATES);
                out.evidence(text_evidence(EvidenceKind::TlsCert, &tls::printable(cn)));
                self.end_tls();
            }
            _ => self.end_tls(),
        }
    }

    fn end_tls(&mut self) {
        self.tls_state = 2;
        self.tls = Vec::new();
    }

    fn server_message(&mut self, udp: bool, port: u16, b: &[u8], out: &mut Out<'_>) {
        if !self.http_done && b.starts_with(b"HTTP/") {
            self.http_done = true;
            http_headers(b, out);
            return;
        }
        if udp && b.first() == Some(&0x05) {
            sql_browser(b, out);
            return;
        }
        if !self.dns_done && port == 53 {
            self.dns_done = true;
            let dns = if udp { b } else { b.get(2..).unwrap_or(&[]) };
            // Whether it speaks for its zone (the names it gives addresses are learnt by every
            // worker from every answer: see `learn`).
            if let Some(name) = authoritative_answer(dns) {
                let e = named(
                    out,
                    EvidenceKind::DnsAuthoritative,
                    &name,
                    "dns-authoritative",
                );
                out.evidence(e);
            }
        }
    }
}

/// The protocols an RDP Negotiation Request asks for ([MS-RDPBCGR] 2.2.1.1.1 requestedProtocols).
fn rdp_protocols(p: u32) -> String {
    let mut names = Vec::new();
    for (bit, name) in [
        (1, "TLS"),
        (2, "CredSSP"),
        (4, "RDSTLS"),
        (8, "CredSSP early user auth"),
        (16, "RDS AAD auth"),
    ] {
        if p & bit != 0 {
            names.push(name);
        }
    }
    if names.is_empty() {
        "request (standard RDP security)".to_string()
    } else {
        format!("request ({})", names.join(", "))
    }
}

/// The INSTOPT of a TDS PRELOGIN message in one packet ([MS-TDS] 2.2.6.5): the option table after
/// the 8-byte header, each entry a token, an offset and a length (big-endian, from the start of
/// the data), ended by 0xFF; the instance is a NUL-terminated name.
pub fn prelogin_instance(b: &[u8]) -> Option<&[u8]> {
    if b.len() < 8 || b[0] != 0x12 || b[7] != 0 {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([b[2], b[3]]));
    let data = b.get(8..len.min(b.len()))?;
    let mut at = 0;
    for _ in 0..16 {
        let &token = data.get(at)?;
        if token == 0xff {
            return None;
        }
        let entry = data.get(at + 1..at + 5)?;
        if token == 2 {
            let off = usize::from(u16::from_be_bytes([entry[0], entry[1]]));
            let n = usize::from(u16::from_be_bytes([entry[2], entry[3]]));
            let raw = data.get(off..off.checked_add(n)?)?;
            let name = &raw[..raw.iter().position(|&c| c == 0).unwrap_or(raw.len())];
            return (!name.is_empty()).then_some(name);
        }
        at += 5;
    }
    None
}

/// The path of a request for SharePoint's `/_vti_bin/` or `/_layouts/` (anywhere in the path:
/// sites live under their own prefixes).
fn sharepoint_path(b: &[u8]) -> Option<&[u8]> {
    let line = &b[..b
        .iter()
        .take(MAX_HEADERS)
        .position(|&c| c == b'\r' || c == b'\n')
        .unwrap_or(b.len().min(MAX_HEADERS))];
    let start = line.iter().position(|&c| c == b' ')? + 1;
    let rest = &line[start..];
    let path = &rest[..rest.iter().position(|&c| c == b' ').unwrap_or(rest.len())];
    let lower = path.to_ascii_lowercase();
    let hit = |needle: &[u8]| lower.windows(needle.len()).any(|w| w == needle);
    (hit(b"/_vti_bin/") || hit(b"/_layouts/")).then_some(path)
}

/// The `Server` and `MicrosoftSharePointTeamServices` headers of an HTTP answer's first segment.
fn http_headers(b: &[u8], out: &mut Out<'_>) {
    for (name, value) in header_fields(b) {
        if name.eq_ignore_ascii_case(b"server") && !value.is_empty() {
            let text = tls::printable(&value[..value.len().min(128)]);
            let product = text.split(['/', ' ']).next().unwrap_or("").to_string();
            let e = named(
                out,
                EvidenceKind::HttpServer,
                &text,
                &format!("http-server:{product}"),
            );
            out.evidence(e);
        } else if name.eq_ignore_ascii_case(b"MicrosoftSharePointTeamServices") {
            let text = tls::printable(&value[..value.len().min(128)]);
            let e = named(out, EvidenceKind::HttpSharepoint, &text, "http-sharepoint");
            out.evidence(e);
        }
    }
}

/// The instances of a SQL Browser SVR_RESP ([MS-SQLR] 2.2.5): `ServerName;S;InstanceName;I;…;tcp;
/// PORT;;` per instance, the records ending in `;;`.
fn sql_browser(b: &[u8], out: &mut Out<'_>) {
    if b.len() < 3 {
        return;
    }
    let size = usize::from(u16::from_le_bytes([b[1], b[2]]));
    let text = &b[3..b.len().min(3 + size)];
    // Fields in key;value pairs, each record ended by an empty field; walked without collecting.
    let mut key: Option<&[u8]> = None;
    let mut instance: Option<&[u8]> = None;
    let mut tcp: Option<&[u8]> = None;
    let mut n = 0;
    for field in text.split(|&c| c == b';') {
        if n >= MAX_BROWSER_INSTANCES {
            break;
        }
        if field.is_empty() {
            if let Some(i) = instance.take() {
                browser_instance(out, i, tcp.take());
                n += 1;
            }
            key = None;
            tcp = None;
            continue;
        }
        match key.take() {
            None => key = Some(field),
            Some(k) if k.eq_ignore_ascii_case(b"InstanceName") => instance = Some(field),
            Some(k) if k.eq_ignore_ascii_case(b"tcp") => tcp = Some(field),
            Some(_) => {}
        }
    }
    if n < MAX_BROWSER_INSTANCES {
        if let Some(i) = instance {
            browser_instance(out, i, tcp);
        }
    }
}

/// One instance of a SQL Browser answer as evidence.
fn browser_instance(out: &mut Out<'_>, instance: &[u8], tcp: Option<&[u8]>) {
    let name = tls::printable(&instance[..instance.len().min(64)]);
    let text = match tcp {
        Some(port) => format!("{name} tcp/{}", tls::printable(&port[..port.len().min(5)])),
        None => name.clone(),
    };
    let e = named(
        out,
        EvidenceKind::SqlBrowser,
        &text,
        &format!("tds-instance:{name}"),
    );
    out.evidence(e);
}

/// The question's name of a DNS answer with the AA bit and no error (RFC 1035 4.1.1), as text.
fn authoritative_answer(b: &[u8]) -> Option<String> {
    let r = crate::wire::dns::response(b)?;
    if !r.authoritative || r.rcode != 0 || r.answers == 0 {
        return None;
    }
    let q = r.question?;
    Some(if q.is_empty() { ".".to_string() } else { q })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::bench::{ev, Bench};

    fn encode(b: &[u8]) -> String {
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut s = String::new();
        for chunk in b.chunks(3) {
            let n =
                chunk.iter().fold(0u32, |n, &c| (n << 8) | u32::from(c)) << (8 * (3 - chunk.len()));
            for i in 0..=chunk.len() {
                s.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            }
        }
        while !s.len().is_multiple_of(4) {
            s.push('=');
        }
        s
    }

    #[test]
    fn base64_decodes_with_or_without_padding_and_refuses_other_bytes() {
        for b in [&b""[..], b"a", b"ab", b"abc", b"NTLMSSP\0\x03\0\0\0"] {
            assert_eq!(base64(encode(b).as_bytes()).as_deref(), Some(b));
            assert_eq!(
                base64(encode(b).trim_end_matches('=').as_bytes()).as_deref(),
                Some(b)
            );
        }
        assert_eq!(base64(b"ab!c"), None);
    }

    #[test]
    fn http_authorization_headers_say_how_clients_authenticate() {
        let utf16 = |s: &str| -> Vec<u8> { s.encode_utf16().flat_map(u16::to_le_bytes).collect() };
        let v1 = crate::wire::ntlmssp::build::authenticate(
            crate::wire::ntlmssp::flags::UNICODE,
            &[1; 24],
            &[2; 24],
            &utf16("CORP"),
            &utf16("bob"),
            &utf16("WS02"),
        );
        let mut b = Bench::new(Payload::default(), 80, MAX_TLS_HANDSHAKE);
        let req = format!(
            "GET /reports HTTP/1.1\r\nHost: intranet\r\nAuthorization: NTLM {}\r\n\r\n",
            encode(&v1)
        );
        b.segment(proto::TCP, true, 0, req.as_bytes());
        assert!(
            b.found().contains(&ev("auth", "NTLMv1 CORP\\bob")),
            "{:?}",
            b.found()
        );
        let mut b = Bench::new(Payload::default(), 80, MAX_TLS_HANDSHAKE);
        let req = format!(
            "GET / HTTP/1.1\r\nauthorization: Basic {}\r\n\r\n",
            encode(b"alice:secret")
        );
        b.segment(proto::TCP, true, 0, req.as_bytes());
        assert_eq!(b.found(), vec![ev("auth", "clear password alice")]);
        // A header that is not base64 says nothing.
        let mut b = Bench::new(Payload::default(), 80, MAX_TLS_HANDSHAKE);
        b.segment(
            proto::TCP,
            true,
            0,
            b"GET / HTTP/1.1\r\nAuthorization: NTLM %%%\r\n\r\n",
        );
        assert!(b.found().is_empty());
    }

    #[test]
    fn a_prelogin_names_its_instance() {
        // Options: VERSION (0) at 11, length 6; INSTOPT (2) at 17, length 5; terminator.
        let mut p = vec![0x12, 1, 0, 0, 0, 0, 1, 0];
        p.extend_from_slice(&[0, 0, 11, 0, 6, 2, 0, 17, 0, 5, 0xff]);
        p.extend_from_slice(&[9, 0, 0, 0, 0, 0]);
        p.extend_from_slice(b"UDDI\0");
        let len = p.len() as u16;
        p[2..4].copy_from_slice(&len.to_be_bytes());
        assert_eq!(prelogin_instance(&p), Some(&b"UDDI"[..]));
        assert_eq!(prelogin_instance(&p[..20]), None);
    }

    #[test]
    fn authoritative_dns_answers_name_their_zone() {
        let mut a = vec![0x12, 0x34, 0x84, 0x00, 0, 1, 0, 1, 0, 0, 0, 0, 4];
        a.extend_from_slice(b"corp\x07example\x00\x00\x01\x00\x01");
        // The answer: the question's name (a pointer), A, IN, TTL 3600, 192.0.2.10.
        a.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 192, 0, 2, 10]);
        assert_eq!(authoritative_answer(&a).as_deref(), Some("corp.example"));
        a[2] = 0x80;
        assert_eq!(
            authoritative_answer(&a),
            None,
            "no AA bit: a cache or a proxy"
        );
    }

    #[test]
    fn shared_port_messages_become_evidence_that_names_the_service() {
        // RDP 5.2+ on 3389: Terminal Services.
        let mut b = Bench::new(Payload::default(), 3389, MAX_TLS_HANDSHAKE);
        b.send(true, &crate::wire::signature::tests::rdp_cr(true), 1460);
        assert_eq!(
            b.services(EvidenceKind::RdpNegotiation, Some("request (TLS, CredSSP)")),
            vec!["Terminal Services"]
        );
        // IIS and SharePoint on 80.
        let mut b = Bench::new(Payload::default(), 80, MAX_TLS_HANDSHAKE);
        b.send(
            true,
            b"GET /sites/a/_layouts/15/start.aspx HTTP/1.1\r\nHost: portal\r\n\r\n",
            1460,
        );
        b.send(
            false,
            b"HTTP/1.1 200 OK\r\nServer: Microsoft-IIS/10.0\r\nMicrosoftSharePointTeamServices: 16.0.0.5\r\n\r\n",
            1460,
        );
        assert_eq!(
            b.services(EvidenceKind::HttpServer, Some("Microsoft-IIS/10.0")),
            vec!["World Wide Web Publishing Service"]
        );
        assert_eq!(
            b.services(EvidenceKind::HttpSharepoint, Some("16.0.0.5")),
            vec!["SharePoint Portal Server"]
        );
        assert_eq!(
            b.services(
                EvidenceKind::HttpSharepoint,
                Some("/sites/a/_layouts/15/start.aspx")
            ),
            vec!["SharePoint Portal Server"]
        );
        // An Apache answer backs nothing: no catalog entry names it.
        let mut b = Bench::new(Payload::default(), 80, MAX_TLS_HANDSHAKE);
        b.send(
            false,
            b"HTTP/1.1 200 OK\r\nServer: Apache/2.4\r\n\r\n",
            1460,
        );
        assert!(b
            .services(EvidenceKind::HttpServer, Some("Apache/2.4"))
            .is_empty());
        // The SQL Browser's answer; the default instance's PRELOGIN.
        let mut b = Bench::new(Payload::default(), 1434, MAX_TLS_HANDSHAKE);
        b.segment(proto::UDP, true, 0, &[3]);
        let text = b"ServerName;SQL1;InstanceName;UDDI;IsClustered;No;Version;8.00.194;tcp;1435;;ServerName;SQL1;InstanceName;MSSQLSERVER;IsClustered;No;Version;8.00.194;np;\\\\SQL1\\pipe\\sql\\query;;";
        let mut resp = vec![5];
        resp.extend_from_slice(&(text.len() as u16).to_le_bytes());
        resp.extend_from_slice(text);
        b.segment(proto::UDP, false, 0, &resp);
        assert_eq!(
            b.services(EvidenceKind::SqlBrowser, Some("UDDI tcp/1435")),
            vec!["MSSQL$UDDI"]
        );
        assert_eq!(
            b.services(EvidenceKind::SqlBrowser, Some("MSSQLSERVER")),
            vec!["MSSQLSERVER"],
            "an instance on a named pipe only"
        );
        // An authoritative DNS answer: the DNS Server.
        let mut b = Bench::new(Payload::default(), 53, MAX_TLS_HANDSHAKE);
        let mut a = vec![0x12, 0x34, 0x85, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 4];
        a.extend_from_slice(b"corp\x07example\x00\x00\x01\x00\x01");
        a.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 192, 0, 2, 10]);
        b.segment(proto::UDP, false, 0, &a);
        assert_eq!(
            b.services(EvidenceKind::DnsAuthoritative, Some("corp.example")),
            vec!["DNS Server"]
        );
    }

    #[test]
    fn a_tls12_certificate_is_read_across_segments_and_a_gap_ends_the_search() {
        let flight = crate::wire::tls::tests::server_flight_records("www.corp.example");
        let mut b = Bench::new(Payload::default(), 443, MAX_TLS_HANDSHAKE);
        b.send(false, &flight, 40);
        assert_eq!(b.found(), vec![ev("tls-cert", "www.corp.example")]);
        assert_eq!(b.counters.get("tls_certificates"), 1);
        assert_eq!(b.inspector.held(), 0);
        // A lost segment: nothing is guessed.
        let mut b = Bench::new(Payload::default(), 443, MAX_TLS_HANDSHAKE);
        b.segment(proto::TCP, false, 5000, &flight[..40]);
        b.segment(proto::TCP, false, 5100, &flight[100..]);
        assert!(b.found().is_empty());
        assert_eq!(b.inspector.held(), 0);
    }
}
