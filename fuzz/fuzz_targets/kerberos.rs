//! `kerberos`: the Kerberos wire layer. The first byte picks the entry point — a TCP stream of
//! records (pushed whole, then again in pieces with a gap and a retransmission), one message, a
//! GSS-API/SPNEGO blob carrying a Kerberos token — the rest is the input. No input may panic;
//! every slice a parser returns must lie inside the input; principal text stays within its cap;
//! lists end; a record stream holds at most one record.
#![no_main]

use std::hint::black_box;

use libfuzzer_sys::fuzz_target;
use svcscope::wire::kerberos::{
    self, Message, Principal, RecordStream, MAX_PRINCIPAL_CHARS, MAX_RECORD,
};
use svcscope::wire::spnego;

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

fn principal(input: &[u8], p: &Principal, realm: &[u8]) {
    let mut n = 0;
    for c in p.components() {
        n += 1;
        assert!(n <= input.len(), "components do not end");
        if let Ok(c) = c {
            inside(input, c);
        }
    }
    inside(input, realm);
    for t in [p.text(), p.text_at(Some(realm))] {
        assert!(t.chars().count() <= MAX_PRINCIPAL_CHARS + 1);
    }
    black_box(p.service_class());
}

fn message(input: &[u8], m: &[u8]) {
    inside(input, m);
    let Ok(msg) = Message::parse(m) else {
        return;
    };
    black_box(msg.kind().name());
    match msg {
        Message::Request(r) => {
            if let Some(c) = r.cname {
                principal(input, &c, r.realm);
            }
            if let Some(s) = r.sname {
                principal(input, &s, r.realm);
            }
            let mut n = 0;
            for e in r.etypes() {
                n += 1;
                assert!(n <= input.len(), "etypes do not end");
                if let Ok(e) = e {
                    black_box(kerberos::etype_text(e));
                }
            }
            for p in r.padata() {
                n += 1;
                assert!(n <= 2 * input.len(), "padata does not end");
                if let Ok((_, v)) = p {
                    inside(input, v);
                }
            }
            if let Some(Ok(ap)) = r.tgs_ap_req() {
                principal(input, &ap.ticket.sname, ap.ticket.realm);
            }
        }
        Message::Reply(r) => {
            principal(input, &r.cname, r.crealm);
            principal(input, &r.ticket.sname, r.ticket.realm);
            black_box(kerberos::etype_text(r.etype));
        }
        Message::Error(e) => {
            principal(input, &e.sname, e.realm);
            if let (Some(c), Some(r)) = (e.cname, e.crealm) {
                principal(input, &c, r);
            }
            black_box(kerberos::error_name(e.code));
        }
        Message::ApReq(a) => principal(input, &a.ticket.sname, a.ticket.realm),
        Message::ApRep => {}
    }
}

fn stream(input: &[u8]) {
    // Whole. (Messages come out of the stream's buffer: their slices must lie inside them.)
    let mut s = RecordStream::default();
    s.push(7, input, |m| message(m, m));
    assert!(s.buffered() <= input.len());
    // In pieces cut where the input says, with a retransmission and a gap.
    let mut s = RecordStream::default();
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
        if i % 5 == 4 {
            seq = seq.wrapping_add(13);
        }
        assert!(s.buffered() <= MAX_RECORD + 4 + input.len());
        seq = seq.wrapping_add(piece.len() as u32);
        rest = after;
        i += 1;
    }
    black_box(kerberos::record_start(input));
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, input)) = data.split_first() else {
        return;
    };
    match pick % 3 {
        0 => stream(input),
        1 => message(input, input),
        _ => {
            if let Ok(b) = spnego::SecurityBlob::parse(input) {
                if let Some(spnego::Token::Kerberos(k)) = b.token {
                    message(input, k.message);
                }
            }
        }
    }
});
