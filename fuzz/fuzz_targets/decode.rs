//! `decode`: the first byte picks a link type, the rest is the frame. No input may panic, and an IP
//! outcome's payload must lie inside the frame.
#![no_main]

use std::hint::black_box;

use libfuzzer_sys::fuzz_target;
use svcscope::decode::{decode, tcp_flags, LinkType, Outcome};

const LINKS: [LinkType; 9] = [
    LinkType::Ethernet,
    LinkType::Null,
    LinkType::Loop,
    LinkType::Raw,
    LinkType::LinuxSll,
    LinkType::LinuxSll2,
    LinkType::Ppp,
    LinkType::PppEther,
    LinkType::CiscoHdlc,
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, frame)) = data.split_first() else {
        return;
    };
    let link = LINKS[usize::from(pick) % LINKS.len()];
    match decode(link, frame) {
        Outcome::Ip(d) => {
            assert!(d.ip_version == 4 || d.ip_version == 6);
            black_box(d.src.to_string());
            black_box(d.dst.ip());
            black_box(d.protocol);
            black_box(d.ports);
            black_box(tcp_flags::to_text(d.tcp_flags));
            black_box(d.tcp_seq);
            black_box(d.fragment);
            // The payload borrows the frame: it must be a sub-slice of it.
            let start = d.payload.as_ptr() as usize;
            let frame_start = frame.as_ptr() as usize;
            assert!(
                d.payload.is_empty()
                    || (start >= frame_start
                        && start + d.payload.len() <= frame_start + frame.len()),
                "payload outside the frame"
            );
            black_box(d.payload.iter().map(|&b| u32::from(b)).sum::<u32>());
        }
        Outcome::NotIp(n) => {
            assert!(!n.layer.is_empty() && !n.carries.is_empty());
        }
        Outcome::Malformed(m) => {
            assert!(!m.layer.is_empty() && !m.reason.is_empty());
        }
    }
});
