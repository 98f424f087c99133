//! `smb`: the SMB wire layer. The first byte picks the entry point — a TCP stream of NetBIOS frames
//! (with resynchronisation), one SMB message, a security blob, an NTLMSSP message, a DFS referral —
//! the rest is the input. No input may panic; every slice a parser returns must lie inside the
//! input; decoded strings stay within the cap; chains end.
#![no_main]

use std::hint::black_box;

use libfuzzer_sys::fuzz_target;
use svcscope::wire::{
    dfs, netbios, ntlmssp, parse_smb, pipe_key, share_key, smb1, smb2, spnego, Error, Smb, WireStr,
    MAX_STR_UNITS,
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

fn text(input: &[u8], s: &WireStr) {
    inside(input, s.raw);
    let d = s.decode();
    assert!(d.chars().count() <= MAX_STR_UNITS + 1);
    black_box(pipe_key(&d));
    black_box(share_key(&d));
}

fn blob(input: &[u8], b: &[u8]) {
    inside(input, b);
    let Ok(sb) = spnego::SecurityBlob::parse(b) else {
        return;
    };
    let mut n = 0;
    for m in sb.mechs {
        n += 1;
        assert!(n <= b.len(), "mechanism list does not end");
        if let Ok(oid) = m {
            inside(input, oid.0);
            black_box(oid.to_string());
        }
    }
    black_box(sb.mech());
    match sb.token {
        Some(spnego::Token::Ntlmssp(t)) => ntlm(input, t),
        Some(spnego::Token::Kerberos(k)) => inside(input, k.message),
        Some(spnego::Token::NegoEx(t) | spnego::Token::Unknown(t)) => inside(input, t),
        None => {}
    }
}

fn ntlm(input: &[u8], b: &[u8]) {
    inside(input, b);
    match ntlmssp::Message::parse(b) {
        Ok(ntlmssp::Message::Authenticate(a)) => {
            for s in [a.domain, a.user, a.workstation] {
                text(input, &s);
            }
            inside(input, a.nt_response);
            inside(input, a.lm_response);
            black_box(a.response_kind());
            black_box(a.identity());
        }
        Ok(ntlmssp::Message::Challenge(c)) => {
            text(input, &c.target_name);
            inside(input, c.target_info);
        }
        Ok(ntlmssp::Message::Negotiate(n)) => {
            text(input, &n.domain);
            text(input, &n.workstation);
        }
        Err(_) => {}
    }
}

fn smb2_message(input: &[u8], m: smb2::Message) {
    use smb2::Body;
    inside(input, m.raw);
    let Ok(body) = m.body() else {
        return;
    };
    match body {
        Body::NegotiateRequest(n) => {
            inside(input, n.dialects.0);
            for c in n.contexts.flatten() {
                inside(input, c.data);
                black_box(c.ciphers().map(|l| l.iter().count()));
            }
        }
        Body::NegotiateResponse(n) => {
            blob(input, n.security_buffer);
            assert!(n.contexts.count() <= input.len());
        }
        Body::SessionSetupRequest(s) => blob(input, s.security_buffer),
        Body::SessionSetupResponse(s) => blob(input, s.security_buffer),
        Body::TreeConnectRequest(t) => text(input, &t.path),
        Body::CreateRequest(c) => {
            text(input, &c.name);
            inside(input, c.create_contexts);
        }
        Body::CreateResponse(c) => inside(input, c.create_contexts),
        Body::ReadResponse(r) => inside(input, r.data),
        Body::WriteRequest(w) => inside(input, w.data),
        Body::IoctlRequest(i) => {
            inside(input, i.input);
            inside(input, i.output);
            if i.ctl_code == smb2::ctl::FSCTL_DFS_GET_REFERRALS {
                if let Ok(r) = dfs::Request::parse(i.input) {
                    text(input, &r.file_name);
                }
            }
        }
        Body::IoctlResponse(i) => {
            inside(input, i.input);
            inside(input, i.output);
            referrals(input, i.output);
        }
        Body::Error(e) => inside(input, e.data),
        _ => {}
    }
}

fn referrals(input: &[u8], b: &[u8]) {
    if let Ok(r) = dfs::Response::parse(b) {
        let mut n = 0;
        for e in r.entries().flatten() {
            n += 1;
            assert!(n <= usize::from(r.number_of_referrals));
            for s in [e.path, e.target].into_iter().flatten() {
                text(input, &s);
            }
        }
    }
}

fn smb1_message(input: &[u8], m: smb1::Message) {
    use smb1::Body;
    inside(input, m.raw);
    let mut blocks = 0;
    for block in m.blocks() {
        blocks += 1;
        assert!(blocks <= m.raw.len(), "AndX chain does not end");
        let Ok(block) = block else {
            break;
        };
        inside(input, block.words);
        inside(input, block.bytes);
        let Ok(body) = block.body() else {
            continue;
        };
        match body {
            Body::NegotiateRequest(n) => {
                for d in n.dialects.flatten() {
                    text(input, &d);
                }
            }
            Body::NegotiateResponse(n) => blob(input, n.security_blob),
            Body::SessionSetupRequest(s) => {
                if let Some(b) = s.security_blob {
                    blob(input, b);
                }
                for t in [s.account, s.domain, s.native_os, s.native_lanman]
                    .into_iter()
                    .flatten()
                {
                    text(input, &t);
                }
            }
            Body::SessionSetupResponse(s) => {
                if let Some(b) = s.security_blob {
                    blob(input, b);
                }
            }
            Body::TreeConnectRequest(t) => {
                text(input, &t.path);
                black_box(smb1::Service::of(&t.service));
            }
            Body::TreeConnectResponse(t) => text(input, &t.service),
            Body::NtCreateRequest(c) => text(input, &c.name),
            Body::Transaction(t) | Body::Transaction2(t) => {
                inside(input, t.parameters);
                inside(input, t.data);
                black_box(t.pipe_fid());
                if t.subcommand() == Some(smb1::TRANS2_GET_DFS_REFERRAL) {
                    if let Ok(r) = dfs::Request::parse(t.parameters) {
                        text(input, &r.file_name);
                    }
                }
            }
            Body::TransactionResponse(t) | Body::Transaction2Response(t) => {
                inside(input, t.data);
                referrals(input, t.data);
            }
            Body::WriteAndXRequest(w) => inside(input, w.data),
            Body::ReadAndXResponse(r) => inside(input, r.data),
            _ => {}
        }
    }
}

fn message(input: &[u8], payload: &[u8]) {
    match parse_smb(payload) {
        Ok(Smb::V1(m)) => smb1_message(input, m),
        Ok(Smb::V2(c)) => {
            let mut n = 0;
            for m in c {
                n += 1;
                assert!(
                    n <= payload.len() / smb2::HEADER_LEN + 1,
                    "compound does not end"
                );
                match m {
                    Ok(m) => smb2_message(input, m),
                    Err(_) => break,
                }
            }
        }
        Ok(Smb::Transform(t)) => inside(input, t.ciphertext),
        Ok(Smb::Compressed(c)) => inside(input, c.payload),
        Err(Error::Truncated { need }) => assert!(need > payload.len()),
        Err(_) => {}
    }
}

/// A stream of frames, resynchronising after anything that is not one.
fn stream(input: &[u8]) {
    let mut at = 0;
    let mut synced = true;
    while at < input.len() {
        let rest = &input[at..];
        if !synced {
            match netbios::find_frame_start(rest) {
                Some(i) => {
                    at += i;
                    synced = true;
                    continue;
                }
                None => break,
            }
        }
        match netbios::Frame::parse(rest) {
            Ok(f) => {
                assert_eq!(f.payload.len() + f.rest.len() + 4, rest.len());
                message(input, f.payload);
                at += f.header.frame_len();
            }
            Err(Error::Truncated { need }) => {
                assert!(need > rest.len());
                break;
            }
            Err(_) => {
                synced = false;
                at += 1;
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, input)) = data.split_first() else {
        return;
    };
    match pick % 5 {
        0 => stream(input),
        1 => message(input, input),
        2 => blob(input, input),
        3 => ntlm(input, input),
        _ => {
            if let Ok(r) = dfs::Request::parse_ex(input) {
                text(input, &r.file_name);
            }
            referrals(input, input);
        }
    }
});
