//! `signature`: the payload signature recognisers and the TLS handshake fields. The first byte
//! picks the transport and direction, the rest is one direction's first payload. No input may
//! panic; every slice returned must lie inside the input (or the handshake bytes gathered from
//! it); names stay within their cap; the handshake gathered is never longer than its cap or the
//! input.
#![no_main]

use std::hint::black_box;

use libfuzzer_sys::fuzz_target;
use svcscope::inspect::payload::prelogin_instance;
use svcscope::wire::signature::{identify, probe, rdp_negotiation, text_protocol, Ctx, Wire};
use svcscope::wire::tls::{self, ServerFlight, MAX_NAME};

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

fuzz_target!(|data: &[u8]| {
    let Some((&pick, b)) = data.split_first() else {
        return;
    };
    let ctx = Ctx {
        udp: pick & 1 != 0,
        from_client: pick & 2 != 0,
    };
    for w in Wire::ALL {
        black_box(probe(w, ctx, b));
    }
    let expected = &Wire::ALL[usize::from(pick >> 2) % Wire::ALL.len()..];
    let (w, _) = identify(ctx, &expected[..expected.len().min(3)], b);
    black_box(w.as_str());
    black_box(identify(ctx, &[], b));
    black_box(rdp_negotiation(b));
    black_box(text_protocol(b));
    if let Some(i) = prelogin_instance(b) {
        inside(b, i);
    }
    if let Some(h) = tls::client_hello(b) {
        if let Some(n) = h.server_name {
            inside(b, n);
        }
        if let Some(a) = h.alpn {
            inside(b, a);
        }
        assert!(h.alpn_text().map_or(0, |t| t.len()) <= MAX_NAME);
    }
    let cap = usize::from(pick) * 64;
    let mut hs = Vec::new();
    tls::handshake_bytes(b, cap, &mut hs);
    assert!(hs.len() <= cap && hs.len() <= b.len());
    if let ServerFlight::Certificate(Some(cn)) = tls::server_flight(&hs) {
        inside(&hs, cn);
        assert!(cn.len() <= MAX_NAME);
    }
    if let Some(cn) = tls::subject_cn(b) {
        inside(b, cn);
        assert!(cn.len() <= MAX_NAME);
    }
});
