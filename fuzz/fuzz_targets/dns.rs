//! `dns`: the DNS response parser that names hosts. No input may panic; names stay within 255
//! bytes (escaping aside: at most four characters a byte), answers within their cap.
#![no_main]

use libfuzzer_sys::fuzz_target;
use svcscope::wire::dns::{self, MAX_ANSWERS, MAX_NAME};

fuzz_target!(|data: &[u8]| {
    if let Some(r) = dns::response(data) {
        assert!(r.addresses.len() <= MAX_ANSWERS);
        for a in &r.addresses {
            assert!(a.name.len() <= 4 * MAX_NAME);
        }
        for (alias, canonical) in &r.aliases {
            assert!(alias.len() <= 4 * MAX_NAME && canonical.len() <= 4 * MAX_NAME);
        }
    }
    for at in 0..data.len().min(64) {
        if let Some((n, next)) = dns::name(data, at) {
            assert!(n.len() <= 4 * MAX_NAME);
            assert!(next <= data.len());
        }
    }
});
