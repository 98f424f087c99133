//! TLS handshake fields read in clear: the ClientHello's server name (SNI, RFC 6066 3) and ALPN
//! protocols (RFC 7301 3.1), and the subject common name of the server's first certificate when
//! it is sent unencrypted (TLS 1.2 and earlier: RFC 5246 7.4.2; TLS 1.3 encrypts it).
//!
//! Bounded like the rest of `wire`: every length is checked against the bytes that carry it,
//! handshake messages may span records but only the bytes given are read (a caller passes the
//! first records of one direction, at most a few kilobytes), lists are walked without allocating,
//! and names are cut to [`MAX_NAME`] bytes. The certificate's DER is walked only as far as the
//! subject (TBSCertificate: version, serial, signature algorithm, issuer, validity, subject).

/// Bytes of a name kept (SNI, ALPN list, certificate CN).
pub const MAX_NAME: usize = 255;

/// What a ClientHello says in clear.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientHello<'a> {
    pub server_name: Option<&'a [u8]>,
    /// The ALPN extension's protocol list (each entry one length byte and its name), unparsed.
    pub alpn: Option<&'a [u8]>,
}

impl ClientHello<'_> {
    /// The ALPN protocols, comma-separated, printable ASCII only, at most [`MAX_NAME`] bytes.
    pub fn alpn_text(&self) -> Option<String> {
        let mut list = self.alpn?;
        let mut out = String::new();
        while let Some((&n, rest)) = list.split_first() {
            let Some(name) = rest.get(..usize::from(n)) else {
                break;
            };
            if !out.is_empty() {
                out.push(',');
            }
            out.push_str(&printable(name));
            list = &rest[usize::from(n)..];
            if out.len() >= MAX_NAME {
                out.truncate(MAX_NAME);
                break;
            }
        }
        (!out.is_empty()).then_some(out)
    }
}

/// Text of a wire name: printable ASCII kept, anything else as `?`, cut to [`MAX_NAME`] bytes.
pub fn printable(b: &[u8]) -> String {
    b.iter()
        .take(MAX_NAME)
        .map(|&c| {
            if (0x20..0x7f).contains(&c) {
                c as char
            } else {
                '?'
            }
        })
        .collect()
}

fn be16(b: &[u8], at: usize) -> Option<usize> {
    Some(usize::from(u16::from_be_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
    ])))
}

fn be24(b: &[u8], at: usize) -> Option<usize> {
    let s = b.get(at..at + 3)?;
    Some((usize::from(s[0]) << 16) | (usize::from(s[1]) << 8) | usize::from(s[2]))
}

/// The handshake bytes of the leading handshake records of `b` (record headers dropped), at most
/// `cap` bytes, into `out`; stops at the first record of another type or cut short.
pub fn handshake_bytes(b: &[u8], cap: usize, out: &mut Vec<u8>) {
    let mut at = 0;
    while out.len() < cap {
        let Some(h) = b.get(at..at + 5) else {
            break;
        };
        if h[0] != 0x16 || h[1] != 3 {
            break;
        }
        let len = usize::from(u16::from_be_bytes([h[3], h[4]]));
        let body = &b[at + 5..b.len().min(at + 5 + len)];
        let room = cap - out.len();
        out.extend_from_slice(&body[..body.len().min(room)]);
        if body.len() < len {
            break;
        }
        at += 5 + len;
    }
}

/// The ClientHello at the start of a client's first records, if that is what they hold.
pub fn client_hello(records: &[u8]) -> Option<ClientHello<'_>> {
    // The first record's body holds the hello in all but pathological cases (a hello split over
    // records is read as far as the first record goes).
    if records.len() < 5 || records[0] != 0x16 || records[1] != 3 {
        return None;
    }
    let rlen = be16(records, 3)?;
    let body = &records[5..records.len().min(5 + rlen)];
    if body.first() != Some(&1) {
        return None;
    }
    let hlen = be24(body, 1)?;
    let h = &body[4..body.len().min(4 + hlen)];
    // version (2), random (32), session id, cipher suites, compression methods, extensions.
    let mut at = 34;
    at += 1 + usize::from(*h.get(at)?);
    at += 2 + be16(h, at)?;
    at += 1 + usize::from(*h.get(at)?);
    let ext_len = be16(h, at)?;
    at += 2;
    let exts = h.get(at..h.len().min(at + ext_len))?;
    let mut hello = ClientHello::default();
    let mut e = 0;
    while let (Some(kind), Some(len)) = (be16(exts, e), be16(exts, e + 2)) {
        let Some(data) = exts.get(e + 4..e + 4 + len) else {
            break;
        };
        match kind {
            // server_name_list: a 2-byte length, then (type 0 = host_name, 2-byte length, name).
            0 if data.get(2) == Some(&0) => {
                if let Some(n) = be16(data, 3) {
                    hello.server_name = data.get(5..5 + n).filter(|n| !n.is_empty());
                }
            }
            16 => {
                if let Some(n) = be16(data, 0) {
                    hello.alpn = data.get(2..2 + n).filter(|l| !l.is_empty());
                }
            }
            _ => {}
        }
        e += 4 + len;
    }
    Some(hello)
}

/// What the server's first handshake messages showed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerFlight<'a> {
    /// The first certificate's subject common name.
    Certificate(Option<&'a [u8]>),
    /// TLS 1.3 (a ServerHello naming it): the certificate is encrypted.
    Encrypted,
    /// The messages end before the certificate: more bytes may tell.
    Incomplete,
    /// Not a server's handshake.
    NotHandshake,
}

/// Walks handshake messages (record headers already removed, see [`handshake_bytes`]) for the
/// server's Certificate message.
pub fn server_flight(hs: &[u8]) -> ServerFlight<'_> {
    let mut at = 0;
    loop {
        let (Some(&kind), Some(len)) = (hs.get(at), be24(hs, at + 1)) else {
            return ServerFlight::Incomplete;
        };
        let body_at = at + 4;
        match kind {
            2 => {
                let Some(body) = hs.get(body_at..body_at + len) else {
                    return ServerFlight::Incomplete;
                };
                if server_hello_is_tls13(body) {
                    return ServerFlight::Encrypted;
                }
            }
            11 => {
                // certificate_list: 3-byte length, then (3-byte length, DER) entries.
                let Some(n) = be24(hs, body_at + 3) else {
                    return ServerFlight::Incomplete;
                };
                let Some(der) = hs.get(body_at + 6..body_at + 6 + n) else {
                    return ServerFlight::Incomplete;
                };
                return ServerFlight::Certificate(subject_cn(der));
            }
            12..=14 => return ServerFlight::Certificate(None),
            _ if at == 0 => return ServerFlight::NotHandshake,
            _ => return ServerFlight::Certificate(None),
        }
        at = body_at + len;
    }
}

/// Whether a ServerHello's supported_versions extension selects TLS 1.3 (RFC 8446 4.2.1).
fn server_hello_is_tls13(h: &[u8]) -> bool {
    let mut at = 34;
    let Some(&sid) = h.get(at) else {
        return false;
    };
    at += 1 + usize::from(sid) + 3;
    let Some(ext_len) = be16(h, at) else {
        return false;
    };
    let exts = &h[(at + 2).min(h.len())..h.len().min(at + 2 + ext_len)];
    let mut e = 0;
    while let (Some(kind), Some(len)) = (be16(exts, e), be16(exts, e + 2)) {
        if kind == 43 && be16(exts, e + 4) == Some(0x0304) {
            return true;
        }
        e += 4 + len;
    }
    false
}

/// A DER element at `at`: (tag, contents start, contents end); the contents must lie in `b`.
fn der(b: &[u8], at: usize) -> Option<(u8, usize, usize)> {
    let tag = *b.get(at)?;
    let first = *b.get(at + 1)?;
    let (len, start) = if first < 0x80 {
        (usize::from(first), at + 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 3 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | usize::from(*b.get(at + 2 + i)?);
        }
        (len, at + 2 + n)
    };
    let end = start.checked_add(len)?;
    (end <= b.len()).then_some((tag, start, end))
}

/// The id-at-commonName attribute type, 2.5.4.3.
const CN_OID: &[u8] = &[0x55, 0x04, 0x03];

/// The subject common name of an X.509 certificate (RFC 5280 4.1): the last CN of the subject.
pub fn subject_cn(cert: &[u8]) -> Option<&[u8]> {
    let (t, s, _) = der(cert, 0)?;
    if t != 0x30 {
        return None;
    }
    let (t, mut at, end) = der(cert, s)?;
    if t != 0x30 {
        return None;
    }
    let tbs = &cert[..end];
    // [0] version (optional), serial, signature, issuer, validity, subject.
    if tbs.get(at) == Some(&0xa0) {
        at = der(tbs, at)?.2;
    }
    for _ in 0..4 {
        at = der(tbs, at)?.2;
    }
    let (t, mut rdn, subject_end) = der(tbs, at)?;
    if t != 0x30 {
        return None;
    }
    let mut cn = None;
    // Name: SEQUENCE OF SET OF SEQUENCE { OID, value }.
    while rdn < subject_end {
        let (_, set_start, set_end) = der(tbs, rdn)?;
        let mut atv = set_start;
        while atv < set_end {
            let (_, a_start, a_end) = der(tbs, atv)?;
            let (ot, os, oe) = der(tbs, a_start)?;
            if ot == 0x06 && &tbs[os..oe] == CN_OID {
                let (vt, vs, ve) = der(tbs, oe)?;
                // UTF8String, PrintableString, T61String, IA5String.
                if matches!(vt, 0x0c | 0x13 | 0x14 | 0x16) && ve > vs {
                    cn = Some(&tbs[vs..ve.min(vs + MAX_NAME)]);
                }
            }
            atv = a_end;
        }
        rdn = set_end;
    }
    cn
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn push16(v: &mut Vec<u8>, n: usize) {
        v.extend_from_slice(&(n as u16).to_be_bytes());
    }

    fn push24(v: &mut Vec<u8>, n: usize) {
        v.extend_from_slice(&(n as u32).to_be_bytes()[1..]);
    }

    /// A ClientHello record with these SNI and ALPN names (RFC 8446 4.1.2).
    pub fn client_hello_record(sni: Option<&str>, alpn: &[&str]) -> Vec<u8> {
        let mut exts = Vec::new();
        if let Some(name) = sni {
            exts.extend_from_slice(&[0, 0]);
            push16(&mut exts, name.len() + 5);
            push16(&mut exts, name.len() + 3);
            exts.push(0);
            push16(&mut exts, name.len());
            exts.extend_from_slice(name.as_bytes());
        }
        if !alpn.is_empty() {
            let mut list = Vec::new();
            for a in alpn {
                list.push(a.len() as u8);
                list.extend_from_slice(a.as_bytes());
            }
            exts.extend_from_slice(&[0, 16]);
            push16(&mut exts, list.len() + 2);
            push16(&mut exts, list.len());
            exts.extend_from_slice(&list);
        }
        let mut h = vec![3, 3];
        h.extend_from_slice(&[7; 32]);
        h.push(0);
        h.extend_from_slice(&[0, 2, 0x13, 0x01, 1, 0]);
        push16(&mut h, exts.len());
        h.extend_from_slice(&exts);
        let mut hs = vec![1];
        push24(&mut hs, h.len());
        hs.extend_from_slice(&h);
        record(&hs)
    }

    pub fn record(hs: &[u8]) -> Vec<u8> {
        let mut r = vec![0x16, 3, 1];
        push16(&mut r, hs.len());
        r.extend_from_slice(hs);
        r
    }

    fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        if body.len() < 0x80 {
            v.push(body.len() as u8);
        } else {
            v.push(0x82);
            push16(&mut v, body.len());
        }
        v.extend_from_slice(body);
        v
    }

    /// A certificate whose subject is `O=Example, CN=cn` (only the fields [`subject_cn`] walks).
    pub fn certificate(cn: &str) -> Vec<u8> {
        let name = |cn: &str| {
            let o = tlv(
                0x31,
                &tlv(
                    0x30,
                    &[tlv(0x06, &[0x55, 4, 10]), tlv(0x0c, b"Example")].concat(),
                ),
            );
            let c = tlv(
                0x31,
                &tlv(
                    0x30,
                    &[tlv(0x06, CN_OID), tlv(0x13, cn.as_bytes())].concat(),
                ),
            );
            tlv(0x30, &[o, c].concat())
        };
        let tbs = tlv(
            0x30,
            &[
                tlv(0xa0, &tlv(0x02, &[2])),
                tlv(0x02, &[1, 2, 3]),
                tlv(0x30, &tlv(0x06, &[0x2a, 0x86, 0x48])),
                name("Example CA"),
                tlv(
                    0x30,
                    &[tlv(0x17, b"240101000000Z"), tlv(0x17, b"340101000000Z")].concat(),
                ),
                name(cn),
                tlv(0x30, &[0; 8]),
            ]
            .concat(),
        );
        tlv(0x30, &[tbs, tlv(0x30, &[]), tlv(0x03, &[0, 1])].concat())
    }

    /// A TLS 1.2 server flight: ServerHello, Certificate (one certificate), ServerHelloDone.
    pub fn server_flight_records(cn: &str) -> Vec<u8> {
        let mut hello = vec![3, 3];
        hello.extend_from_slice(&[9; 32]);
        hello.extend_from_slice(&[0, 0xc0, 0x2f, 0]);
        let mut hs = vec![2];
        push24(&mut hs, hello.len());
        hs.extend_from_slice(&hello);
        let cert = certificate(cn);
        let mut body = Vec::new();
        push24(&mut body, cert.len() + 3);
        push24(&mut body, cert.len());
        body.extend_from_slice(&cert);
        hs.push(11);
        push24(&mut hs, body.len());
        hs.extend_from_slice(&body);
        hs.extend_from_slice(&[14, 0, 0, 0]);
        record(&hs)
    }

    #[test]
    fn a_client_hello_gives_its_server_name_and_alpn() {
        let r = client_hello_record(Some("fs01.corp.example"), &["h2", "http/1.1"]);
        let h = client_hello(&r).unwrap();
        assert_eq!(h.server_name, Some(&b"fs01.corp.example"[..]));
        assert_eq!(h.alpn_text().as_deref(), Some("h2,http/1.1"));
        let bare = client_hello_record(None, &[]);
        assert_eq!(client_hello(&bare), Some(ClientHello::default()));
        assert_eq!(client_hello(&r[..40]).map(|h| h.server_name), None);
    }

    #[test]
    fn a_tls12_server_flight_gives_the_certificate_subject_cn() {
        let r = server_flight_records("www.corp.example");
        let mut hs = Vec::new();
        handshake_bytes(&r, 16 << 10, &mut hs);
        assert_eq!(
            server_flight(&hs),
            ServerFlight::Certificate(Some(&b"www.corp.example"[..]))
        );
        // Cut anywhere before the certificate ends, it asks for more.
        for cut in [10, 60, hs.len() - 20] {
            assert_eq!(server_flight(&hs[..cut]), ServerFlight::Incomplete, "{cut}");
        }
    }

    proptest::proptest! {
        #![proptest_config(crate::testing::proptest_config(512))]

        /// Random and mutated handshakes never panic, and names stay inside their cap.
        #[test]
        fn random_and_mutated_handshakes_never_panic(
            b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
            at in 0usize..400,
            byte: u8,
        ) {
            let _ = client_hello(&b);
            let _ = server_flight(&b);
            let _ = subject_cn(&b);
            for mut m in [client_hello_record(Some("a.example"), &["h2"]), server_flight_records("b.example")] {
                let i = at % m.len();
                m[i] = byte;
                if let Some(h) = client_hello(&m) {
                    proptest::prop_assert!(h.alpn_text().map_or(0, |t| t.len()) <= MAX_NAME);
                }
                let mut hs = Vec::new();
                handshake_bytes(&m, 4096, &mut hs);
                if let ServerFlight::Certificate(Some(cn)) = server_flight(&hs) {
                    proptest::prop_assert!(cn.len() <= MAX_NAME);
                }
            }
        }
    }
}
