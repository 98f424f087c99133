//! `ldap`: the LDAP wire layer. The first byte picks the entry point — a TCP stream of messages
//! (pushed whole, then again in pieces with a retransmission and a gap), a datagram of messages,
//! a Netlogon response — the rest is the input. No input may panic; every slice a parser returns
//! must lie inside the input; names and texts stay within their caps; lists end; a stream holds
//! at most one message of `MAX_MESSAGE` bytes.
#![no_main]

use std::hint::black_box;

use libfuzzer_sys::fuzz_target;
use svcscope::wire::ldap::{
    self, Auth, LogonResponse, Message, MessageStream, Op, MAX_MESSAGE, MAX_NAME_CHARS,
};

/// Asserts `s` borrows `input`.
fn inside(input: &[u8], s: &[u8]) {
    if s.is_empty() {
        return;
    }
    let (a, b) = (input.as_ptr() as usize, s.as_ptr() as usize);
    assert!(
        b >= a && b + s.len() <= a + input.len(),
        "slice outside the input"
    );
}

fn logon(v: &[u8]) {
    if let Ok(r) = LogonResponse::parse(v) {
        for n in [&r.forest, &r.domain, &r.host, &r.dc_site, &r.client_site] {
            assert!(n.chars().count() <= MAX_NAME_CHARS + 1);
        }
        black_box(ldap::flags_text(r.flags));
    }
}

fn message(input: &[u8], m: &[u8]) {
    inside(input, m);
    let Ok(msg) = Message::parse(m) else {
        return;
    };
    black_box(msg.name());
    match msg.op {
        Op::Bind(b) => {
            inside(input, b.name);
            match b.auth {
                Auth::Simple { password } => inside(input, password),
                Auth::Sasl {
                    mechanism,
                    credentials,
                } => {
                    inside(input, mechanism);
                    credentials.into_iter().for_each(|c| inside(input, c));
                    assert!(ldap::text(mechanism).chars().count() <= MAX_NAME_CHARS + 1);
                }
                Auth::SicilyNegotiate(r) | Auth::SicilyResponse(r) => inside(input, r),
                Auth::SicilyDiscovery | Auth::Other(_) => {}
            }
        }
        Op::Search(s) => {
            inside(input, s.base);
            inside(input, s.filter.value);
            let mut n = 0;
            for a in s.attributes() {
                n += 1;
                assert!(n <= input.len(), "attributes do not end");
                if let Ok(a) = a {
                    inside(input, a);
                }
            }
            black_box(s.is_ping());
        }
        Op::SearchEntry(e) => {
            inside(input, e.object);
            let mut n = 0;
            for a in e.attributes() {
                n += 1;
                assert!(n <= input.len(), "attributes do not end");
                if let Ok((t, vals)) = a {
                    inside(input, t);
                    for v in vals {
                        n += 1;
                        assert!(n <= 2 * input.len(), "values do not end");
                        if let Ok(v) = v {
                            inside(input, v);
                        }
                    }
                }
            }
            if let Some(v) = e.value(b"Netlogon") {
                inside(input, v);
                logon(v);
            }
        }
        Op::Extended { oid } => inside(input, oid),
        Op::ExtendedResponse { oid, .. } => oid.into_iter().for_each(|o| inside(input, o)),
        Op::Result { .. } | Op::Other(_) => {}
    }
}

fn stream(input: &[u8]) {
    let mut s = MessageStream::default();
    s.push(7, input, |m| message(m, m));
    assert!(s.buffered() <= MAX_MESSAGE);
    let mut s = MessageStream::default();
    let mut seq = 1000u32;
    let mut rest = input;
    let mut i = 0usize;
    while !rest.is_empty() {
        let n = 1 + usize::from(rest[0]) % rest.len().max(1);
        let (piece, after) = rest.split_at(n.min(rest.len()));
        s.push(seq, piece, |m| message(m, m));
        if i % 5 == 3 {
            s.push(seq, piece, |m| message(m, m));
        }
        if i % 7 == 6 {
            seq = seq.wrapping_add(13);
        }
        assert!(s.buffered() <= MAX_MESSAGE);
        seq = seq.wrapping_add(piece.len() as u32);
        rest = after;
        i += 1;
    }
}

fn datagram(input: &[u8]) {
    let mut rest = input;
    while let Ok(Some(n)) = ldap::message_len(rest) {
        if n > rest.len() || n == 0 {
            break;
        }
        message(input, &rest[..n]);
        rest = &rest[n..];
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, input)) = data.split_first() else {
        return;
    };
    match pick % 3 {
        0 => stream(input),
        1 => datagram(input),
        _ => {
            logon(input);
            for at in 0..input.len().min(64) {
                if let Ok((name, next)) = ldap::dns_name(input, at) {
                    assert!(next > at && next <= input.len());
                    black_box(name);
                }
            }
        }
    }
});
