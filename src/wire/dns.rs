//! DNS messages (RFC 1035 4.1), enough to learn names: the header, the question names skipped,
//! and the answer section's A and AAAA records with their owner names (compression pointers
//! followed, RFC 1035 4.1.4) and the CNAMEs that lead to them.
//!
//! Bounded like the rest of `wire`: a name is at most 255 bytes in at most 127 labels, a pointer
//! must point backwards (so chains end) and at most 32 are followed per name, counts are checked
//! against the bytes that carry the records, and at most [`MAX_ANSWERS`] answers are read.

/// Answers read per message.
pub const MAX_ANSWERS: usize = 32;
/// Longest name (RFC 1035 3.1).
pub const MAX_NAME: usize = 255;

/// One address a response gave a name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    /// The owner name, lower case, without the trailing dot.
    pub name: String,
    /// 4 (A) or 16 (AAAA) bytes.
    pub addr: std::net::IpAddr,
    pub ttl: u32,
}

/// What a response said.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Response {
    /// The answer was authoritative (AA).
    pub authoritative: bool,
    pub rcode: u8,
    /// The first question's name (lower case), `None` when there is no question.
    pub question: Option<String>,
    /// The answer count the header gives.
    pub answers: u16,
    pub addresses: Vec<Address>,
    /// CNAME records: (alias, canonical name), lower case.
    pub aliases: Vec<(String, String)>,
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// Reads the name at `at`; returns it and the offset after it in the message (after the first
/// pointer when the name is compressed).
pub fn name(msg: &[u8], at: usize) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut pos = at;
    let mut end = None;
    let mut jumps = 0;
    let mut labels = 0;
    loop {
        let len = *msg.get(pos)?;
        match len & 0xc0 {
            0x00 => {
                if len == 0 {
                    return Some((out, end.unwrap_or(pos + 1)));
                }
                labels += 1;
                let label = msg.get(pos + 1..pos + 1 + usize::from(len))?;
                if labels > 127 || out.len() + label.len() + 1 > MAX_NAME {
                    return None;
                }
                if !out.is_empty() {
                    out.push('.');
                }
                for &c in label {
                    // Names travel as bytes; anything outside printable ASCII is escaped (RFC 4343).
                    if c.is_ascii_graphic() && c != b'.' && c != b'\\' {
                        out.push(c.to_ascii_lowercase() as char);
                    } else {
                        out.push_str(&format!("\\{c:03}"));
                    }
                }
                pos += 1 + usize::from(len);
            }
            0xc0 => {
                let target = usize::from(be16(msg, pos)? & 0x3fff);
                // Backwards only: a pointer chain cannot loop.
                if target >= pos || jumps >= 32 {
                    return None;
                }
                jumps += 1;
                end.get_or_insert(pos + 2);
                pos = target;
            }
            _ => return None,
        }
    }
}

/// Parses a response (QR set); `None` for a query or bytes that are not DNS.
pub fn response(msg: &[u8]) -> Option<Response> {
    let flags = be16(msg, 2)?;
    if flags & 0x8000 == 0 || (flags >> 11) & 0xf > 2 {
        return None;
    }
    let qd = usize::from(be16(msg, 4)?);
    let an = usize::from(be16(msg, 6)?);
    // Each question takes at least 5 bytes and each record 11: counts beyond the bytes lie.
    if 12 + qd * 5 + an * 11 > msg.len() {
        return None;
    }
    let mut pos = 12;
    let mut question = None;
    for _ in 0..qd {
        let (q, next) = name(msg, pos)?;
        question.get_or_insert(q);
        pos = next.checked_add(4)?;
    }
    let mut r = Response {
        authoritative: flags & 0x0400 != 0,
        rcode: (flags & 0xf) as u8,
        question,
        answers: an as u16,
        ..Response::default()
    };
    for _ in 0..an.min(MAX_ANSWERS) {
        let (owner, next) = name(msg, pos)?;
        let rtype = be16(msg, next)?;
        let class = be16(msg, next + 2)?;
        let ttl = u32::from_be_bytes(msg.get(next + 4..next + 8)?.try_into().ok()?);
        let rdlen = usize::from(be16(msg, next + 8)?);
        let rdata_at = next + 10;
        let rdata = msg.get(rdata_at..rdata_at + rdlen)?;
        pos = rdata_at + rdlen;
        if class & 0x7fff != 1 {
            continue;
        }
        match (rtype, rdata.len()) {
            (1, 4) => r.addresses.push(Address {
                name: owner,
                addr: std::net::IpAddr::from(<[u8; 4]>::try_from(rdata).ok()?),
                ttl,
            }),
            (28, 16) => r.addresses.push(Address {
                name: owner,
                addr: std::net::IpAddr::from(<[u8; 16]>::try_from(rdata).ok()?),
                ttl,
            }),
            (5, _) => {
                if let Some((canonical, _)) = name(msg, rdata_at) {
                    r.aliases.push((owner, canonical));
                }
            }
            _ => {}
        }
    }
    Some(r)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A response to `qname` with answers (owner, type, rdata); owner `None` = a pointer to the
    /// question name.
    pub fn build(qname: &str, answers: &[(Option<&str>, u16, Vec<u8>)], aa: bool) -> Vec<u8> {
        let mut m = vec![
            0x12,
            0x34,
            if aa { 0x85 } else { 0x81 },
            0x80,
            0,
            1,
            0,
            0,
            0,
            0,
            0,
            0,
        ];
        m[7] = answers.len() as u8;
        let encode = |n: &str| {
            let mut v = Vec::new();
            for l in n.split('.') {
                v.push(l.len() as u8);
                v.extend_from_slice(l.as_bytes());
            }
            v.push(0);
            v
        };
        m.extend(encode(qname));
        m.extend_from_slice(&[0, 1, 0, 1]);
        for (owner, t, rdata) in answers {
            match owner {
                Some(o) => m.extend(encode(o)),
                None => m.extend_from_slice(&[0xc0, 12]),
            }
            m.extend_from_slice(&t.to_be_bytes());
            m.extend_from_slice(&[0, 1, 0, 0, 0x0e, 0x10]);
            m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            m.extend_from_slice(rdata);
        }
        m
    }

    #[test]
    fn a_and_aaaa_answers_name_their_addresses() {
        let m = build(
            "TS01.corp.example",
            &[
                (None, 1, vec![192, 0, 2, 40]),
                (
                    Some("ts01.corp.example"),
                    28,
                    vec![0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x40],
                ),
                (None, 16, b"\x04text".to_vec()),
            ],
            true,
        );
        let r = response(&m).unwrap();
        assert!(r.authoritative);
        assert_eq!(r.addresses.len(), 2);
        assert_eq!(r.addresses[0].name, "ts01.corp.example");
        assert_eq!(r.addresses[0].addr.to_string(), "192.0.2.40");
        assert_eq!(r.addresses[0].ttl, 3600);
        assert_eq!(r.addresses[1].addr.to_string(), "2001:db8::40");
    }

    #[test]
    fn cnames_are_followed_and_queries_are_not_responses() {
        let mut cname = vec![3];
        cname.extend_from_slice(b"www");
        cname.extend_from_slice(&[0xc0, 12]);
        let m = build("portal.corp.example", &[(None, 5, cname)], false);
        let r = response(&m).unwrap();
        assert_eq!(
            r.aliases,
            [(
                "portal.corp.example".to_string(),
                "www.portal.corp.example".to_string()
            )]
        );
        let mut q = m.clone();
        q[2] = 0x01;
        assert_eq!(response(&q), None);
    }

    #[test]
    fn lying_counts_loops_and_forward_pointers_are_refused() {
        let mut m = build("a.example", &[(None, 1, vec![1, 2, 3, 4])], false);
        m[7] = 200;
        assert_eq!(response(&m), None);
        // A pointer to itself, and one pointing forward.
        let mut looped = m.clone();
        looped[7] = 1;
        looped[12] = 0xc0;
        looped[13] = 12;
        assert_eq!(name(&looped, 12), None);
        assert_eq!(name(&[0xc0, 5, 0, 0, 0, 1, 0], 0), None);
        // A name longer than 255 bytes.
        let mut long = Vec::new();
        for _ in 0..5 {
            long.push(63);
            long.extend_from_slice(&[b'a'; 63]);
        }
        long.push(0);
        assert_eq!(name(&long, 0), None);
        // Odd bytes in a label are escaped, not passed through.
        let (n, _) = name(b"\x03a\x1bb\x00", 0).unwrap();
        assert_eq!(n, "a\\027b");
    }

    proptest::proptest! {
        #![proptest_config(crate::testing::proptest_config(512))]
        /// Any bytes: no panic, and every name read is at most 255 bytes before escaping.
        #[test]
        fn any_bytes_parse_or_fail_cleanly(b in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            if let Some(r) = response(&b) {
                proptest::prop_assert!(r.addresses.len() <= MAX_ANSWERS);
            }
            for at in 0..b.len().min(40) {
                let _ = name(&b, at);
            }
        }
    }
}
