//! Property tests of the SMB wire layer (`svcscope::wire`): random bytes and mutated messages
//! never panic and never yield a slice outside the input; a built message parses back to its
//! fields; a frame cut short asks for exactly the bytes it lacks.
//!
//! The mutated messages are the fuzz seeds (`fuzz/corpus/smb/seed-*`, built by hand: SMB1 and
//! SMB2 session setups, compounds, pipe transactions, NTLMSSP, SPNEGO/Kerberos, DFS); their first
//! byte picks the fuzz target's entry point and is skipped here. Case counts are modest so that
//! the file runs in a few seconds in a debug build.

use proptest::prelude::*;
use svcscope::wire::{
    dfs, netbios, ntlmssp, parse_smb, smb1, smb2, spnego, Error, Smb, WireStr, MAX_STR_UNITS,
};

/// The same reproducible-by-default settings as the other properties.
#[path = "../src/testing.rs"]
mod testing;

const SEEDS: &[(&str, &[u8])] = &[
    (
        "smb2-negotiate",
        include_bytes!("../fuzz/corpus/smb/seed-smb2-negotiate"),
    ),
    (
        "smb2-session-setup",
        include_bytes!("../fuzz/corpus/smb/seed-smb2-session-setup"),
    ),
    (
        "smb2-compound-create-ioctl",
        include_bytes!("../fuzz/corpus/smb/seed-smb2-compound-create-ioctl"),
    ),
    (
        "smb2-read-overflow-transform",
        include_bytes!("../fuzz/corpus/smb/seed-smb2-read-overflow-transform"),
    ),
    (
        "smb1-session-setup-tree-connect",
        include_bytes!("../fuzz/corpus/smb/seed-smb1-session-setup-tree-connect"),
    ),
    (
        "smb1-transact-nmpipe",
        include_bytes!("../fuzz/corpus/smb/seed-smb1-transact-nmpipe"),
    ),
    (
        "ntlmssp-authenticate",
        include_bytes!("../fuzz/corpus/smb/seed-ntlmssp-authenticate"),
    ),
    (
        "spnego-kerberos",
        include_bytes!("../fuzz/corpus/smb/seed-spnego-kerberos"),
    ),
    (
        "dfs-referral-response",
        include_bytes!("../fuzz/corpus/smb/seed-dfs-referral-response"),
    ),
];

/// Counts what a walk found, so that a seed can be checked to parse.
#[derive(Default, Debug)]
struct Walk {
    ok: usize,
    errors: usize,
}

impl Walk {
    fn inside(&self, input: &[u8], s: &[u8]) {
        if s.is_empty() {
            return;
        }
        let (a, b) = (input.as_ptr() as usize, s.as_ptr() as usize);
        assert!(
            b >= a && b + s.len() <= a + input.len(),
            "slice outside the input"
        );
    }

    fn text(&self, input: &[u8], s: &WireStr) {
        self.inside(input, s.raw);
        assert!(s.decode().chars().count() <= MAX_STR_UNITS + 1);
    }

    fn count<T>(&mut self, r: Result<T, Error>) -> Option<T> {
        match r {
            Ok(v) => {
                self.ok += 1;
                Some(v)
            }
            Err(e) => {
                if let Error::Malformed(why) = e {
                    assert!(!why.is_empty());
                }
                self.errors += 1;
                None
            }
        }
    }

    fn blob(&mut self, input: &[u8], b: &[u8]) {
        self.inside(input, b);
        let Some(sb) = self.count(spnego::SecurityBlob::parse(b)) else {
            return;
        };
        for m in sb.mechs {
            if let Some(oid) = self.count(m) {
                self.inside(input, oid.0);
            }
        }
        if let Some(spnego::Token::Ntlmssp(t)) = sb.token {
            self.ntlm(input, t);
        }
        if let Some(spnego::Token::Kerberos(k)) = sb.token {
            self.inside(input, k.message);
        }
    }

    fn ntlm(&mut self, input: &[u8], b: &[u8]) {
        if let Some(ntlmssp::Message::Authenticate(a)) = self.count(ntlmssp::Message::parse(b)) {
            for s in [a.domain, a.user, a.workstation] {
                self.text(input, &s);
            }
            self.inside(input, a.nt_response);
        }
    }

    fn smb2(&mut self, input: &[u8], m: smb2::Message) {
        use smb2::Body;
        self.inside(input, m.raw);
        let Some(body) = self.count(m.body()) else {
            return;
        };
        match body {
            Body::NegotiateRequest(n) => {
                for c in n.contexts {
                    if let Some(c) = self.count(c) {
                        self.inside(input, c.data);
                    }
                }
            }
            Body::SessionSetupRequest(s) => self.blob(input, s.security_buffer),
            Body::SessionSetupResponse(s) => self.blob(input, s.security_buffer),
            Body::TreeConnectRequest(t) => self.text(input, &t.path),
            Body::CreateRequest(c) => self.text(input, &c.name),
            Body::ReadResponse(r) => self.inside(input, r.data),
            Body::WriteRequest(w) => self.inside(input, w.data),
            Body::IoctlRequest(i) => {
                self.inside(input, i.input);
                self.inside(input, i.output);
            }
            Body::IoctlResponse(i) => self.inside(input, i.output),
            Body::Error(e) => self.inside(input, e.data),
            _ => {}
        }
    }

    fn smb1(&mut self, input: &[u8], m: smb1::Message) {
        use smb1::Body;
        for block in m.blocks() {
            let Some(block) = self.count(block) else {
                break;
            };
            let Some(body) = self.count(block.body()) else {
                continue;
            };
            match body {
                Body::SessionSetupRequest(s) => {
                    if let Some(b) = s.security_blob {
                        self.blob(input, b);
                    }
                    for t in [s.account, s.domain, s.native_os].into_iter().flatten() {
                        self.text(input, &t);
                    }
                }
                Body::TreeConnectRequest(t) => self.text(input, &t.path),
                Body::NtCreateRequest(c) => self.text(input, &c.name),
                Body::Transaction(t) | Body::Transaction2(t) => self.inside(input, t.data),
                Body::TransactionResponse(t) => self.inside(input, t.data),
                Body::WriteAndXRequest(w) => self.inside(input, w.data),
                Body::ReadAndXResponse(r) => self.inside(input, r.data),
                _ => {}
            }
        }
    }

    fn message(&mut self, input: &[u8], payload: &[u8]) {
        match self.count(parse_smb(payload)) {
            Some(Smb::V1(m)) => self.smb1(input, m),
            Some(Smb::V2(c)) => {
                for m in c {
                    match self.count(m) {
                        Some(m) => self.smb2(input, m),
                        None => break,
                    }
                }
            }
            Some(Smb::Transform(t)) => self.inside(input, t.ciphertext),
            Some(Smb::Compressed(c)) => self.inside(input, c.payload),
            None => {}
        }
    }

    fn stream(&mut self, input: &[u8]) {
        let mut rest = input;
        while !rest.is_empty() {
            let Some(f) = self.count(netbios::Frame::parse(rest)) else {
                break;
            };
            self.message(input, f.payload);
            rest = f.rest;
        }
    }

    /// Every entry point on `input`, as the fuzz target's first byte would pick them.
    fn all(&mut self, pick: u8, input: &[u8]) {
        match pick % 5 {
            0 => self.stream(input),
            1 => self.message(input, input),
            2 => self.blob(input, input),
            3 => self.ntlm(input, input),
            _ => {
                if let Some(r) = self.count(dfs::Response::parse(input)) {
                    for e in r.entries().take(1000) {
                        if let Some(e) = self.count(e) {
                            for s in [e.path, e.target].into_iter().flatten() {
                                self.text(input, &s);
                            }
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn every_seed_parses_without_error() {
    for (name, seed) in SEEDS {
        let mut w = Walk::default();
        w.all(seed[0], &seed[1..]);
        assert_eq!(w.errors, 0, "{name}: {w:?}");
        assert!(w.ok >= 1, "{name}: {w:?}");
    }
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn smb2_header(command: u16, flags: u32, status: u32, mid: u64, tree: u32, sess: u64) -> Vec<u8> {
    let mut h = b"\xfeSMB".to_vec();
    h.extend(64u16.to_le_bytes());
    h.extend(1u16.to_le_bytes());
    h.extend(status.to_le_bytes());
    h.extend(command.to_le_bytes());
    h.extend(1u16.to_le_bytes());
    h.extend(flags.to_le_bytes());
    h.extend(0u32.to_le_bytes());
    h.extend(mid.to_le_bytes());
    h.extend(0u32.to_le_bytes());
    h.extend(tree.to_le_bytes());
    h.extend(sess.to_le_bytes());
    h.extend([0; 16]);
    h
}

fn name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9$_\\\\. é€-]{0,40}"
}

proptest! {
    #![proptest_config(testing::proptest_config(512))]

    #[test]
    fn random_bytes_never_panic(pick in any::<u8>(), input in prop::collection::vec(any::<u8>(), 0..600)) {
        Walk::default().all(pick, &input);
        let _ = netbios::find_frame_start(&input);
    }

    #[test]
    fn mutated_seeds_never_panic(
        seed in 0..SEEDS.len(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut b = SEEDS[seed].1.to_vec();
        for (at, v) in edits {
            let i = 1 + at.index(b.len() - 1);
            b[i] = v;
        }
        let len = 1 + cut.index(b.len());
        Walk::default().all(b[0], &b[1..len]);
    }

    #[test]
    fn smb2_header_round_trips(
        command in 0u16..0x20, flags in any::<u32>(), status in any::<u32>(),
        mid in any::<u64>(), tree in any::<u32>(), sess in any::<u64>(),
    ) {
        let flags = flags & !smb2::flags::ASYNC_COMMAND;
        let m = smb2_header(command, flags, status, mid, tree, sess);
        let h = smb2::Header::parse(&m).unwrap();
        prop_assert_eq!(h.command, smb2::Command(command));
        prop_assert_eq!(h.flags, flags);
        prop_assert_eq!(h.status, smb2::Status(status));
        prop_assert_eq!(h.message_id, mid);
        prop_assert_eq!(h.tree_id(), Some(tree));
        prop_assert_eq!(h.session_id, sess);
        prop_assert_eq!(h.is_response(), flags & 1 != 0);
    }

    #[test]
    fn smb2_tree_connect_and_write_round_trip(
        path in name(), data in prop::collection::vec(any::<u8>(), 0..300), pad in 0usize..16,
    ) {
        let p = utf16(&path);
        let mut m = smb2_header(3, 0, 0, 1, 0, 9);
        m.extend(9u16.to_le_bytes());
        m.extend(0u16.to_le_bytes());
        m.extend(((72 + pad) as u16).to_le_bytes());
        m.extend((p.len() as u16).to_le_bytes());
        m.extend(vec![0; pad]);
        m.extend(&p);
        let msg = smb2::Compound::new(&m).unwrap().next().unwrap().unwrap();
        let smb2::Body::TreeConnectRequest(t) = msg.body().unwrap() else { panic!() };
        prop_assert_eq!(t.path.decode(), path);

        let mut w = smb2_header(9, 0, 0, 2, 1, 9);
        let mut body = vec![0u8; 48];
        body[0] = 49;
        body[2..4].copy_from_slice(&((112 + pad) as u16).to_le_bytes());
        body[4..8].copy_from_slice(&(data.len() as u32).to_le_bytes());
        body[16..24].copy_from_slice(&7u64.to_le_bytes());
        w.extend(body);
        w.extend(vec![0; pad]);
        w.extend(&data);
        let msg = smb2::Compound::new(&w).unwrap().next().unwrap().unwrap();
        let smb2::Body::WriteRequest(wr) = msg.body().unwrap() else { panic!() };
        prop_assert_eq!(wr.data, &data[..]);
        prop_assert_eq!(wr.file_id.persistent, 7);
        // One byte short of the data: the need is the whole message.
        if !data.is_empty() {
            let msg = smb2::Compound::new(&w[..w.len() - 1]).unwrap().next().unwrap().unwrap();
            prop_assert_eq!(msg.body().unwrap_err(), Error::Truncated { need: w.len() });
        }
    }

    #[test]
    fn smb2_compound_yields_each_message(sizes in prop::collection::vec(0usize..6, 1..6)) {
        let mut frame = Vec::new();
        let mut starts = Vec::new();
        for (i, extra) in sizes.iter().enumerate() {
            let mut m = smb2_header(13, 0, 0, i as u64, 0, 0); // ECHO
            m.extend(vec![0; extra * 8]);
            if i + 1 < sizes.len() {
                let next = m.len() as u32;
                m[20..24].copy_from_slice(&next.to_le_bytes());
            }
            starts.push(frame.len());
            frame.extend(m);
        }
        let msgs: Vec<smb2::Message> =
            smb2::Compound::new(&frame).unwrap().map(Result::unwrap).collect();
        prop_assert_eq!(msgs.len(), sizes.len());
        for (i, m) in msgs.iter().enumerate() {
            prop_assert_eq!(m.header.message_id, i as u64);
            prop_assert_eq!(m.raw.len(), 64 + sizes[i] * 8);
        }
    }

    #[test]
    fn smb1_nt_create_round_trips(file in name(), unicode in any::<bool>(), odd in any::<bool>()) {
        // A TREE_CONNECT_ANDX-less NT_CREATE_ANDX, after a LOGOFF_ANDX of 0 or 1 pad bytes so
        // that the name's offset is odd or even.
        let flags2 = if unicode { smb1::flags2::UNICODE } else { 0 };
        let mut m = b"\xffSMB".to_vec();
        m.push(smb1::cmd::LOGOFF_ANDX);
        m.extend([0; 5]);
        m.extend(flags2.to_le_bytes());
        m.extend([0; 20]);
        let andx_at = m.len() + 1 + 4 + 2 + usize::from(odd);
        m.extend([2, smb1::cmd::NT_CREATE_ANDX, 0]);
        m.extend((andx_at as u16).to_le_bytes());
        m.extend((u16::from(odd)).to_le_bytes());
        if odd {
            m.push(0);
        }
        let raw_name = if unicode { utf16(&file) } else { file.bytes().collect() };
        let mut words = vec![0u8; 48];
        words[0] = smb1::cmd::NO_ANDX;
        words[5..7].copy_from_slice(&(raw_name.len() as u16).to_le_bytes());
        let bytes_at = andx_at + 1 + 48 + 2;
        let mut bytes = Vec::new();
        if unicode && bytes_at % 2 == 1 {
            bytes.push(0);
        }
        bytes.extend(&raw_name);
        m.push(24);
        m.extend(words);
        m.extend((bytes.len() as u16).to_le_bytes());
        m.extend(bytes);
        let msg = smb1::Message::parse(&m).unwrap();
        let blocks: Vec<smb1::Block> = msg.blocks().map(Result::unwrap).collect();
        prop_assert_eq!(blocks.len(), 2);
        let smb1::Body::NtCreateRequest(c) = blocks[1].body().unwrap() else { panic!() };
        let want = if unicode {
            file.clone()
        } else {
            file.bytes().map(char::from).collect()
        };
        prop_assert_eq!(c.name.decode(), want);
    }

    #[test]
    fn ntlmssp_authenticate_round_trips(
        domain in name(), user in name(), ws in name(), nt_len in 0usize..120, unicode in any::<bool>(),
    ) {
        let enc = |s: &str| if unicode { utf16(s) } else { s.bytes().collect() };
        let fields = [vec![0u8; 24], vec![1u8; nt_len], enc(&domain), enc(&user), enc(&ws), Vec::new()];
        let mut head = Vec::new();
        let mut payload: Vec<u8> = Vec::new();
        for f in &fields {
            head.extend((f.len() as u16).to_le_bytes());
            head.extend((f.len() as u16).to_le_bytes());
            head.extend((72 + payload.len() as u32).to_le_bytes());
            payload.extend(f);
        }
        let mut b = b"NTLMSSP\0".to_vec();
        b.extend(3u32.to_le_bytes());
        b.extend(head);
        b.extend(u32::from(unicode).to_le_bytes());
        b.extend([0; 8]);
        b.extend(payload);
        let ntlmssp::Message::Authenticate(a) = ntlmssp::Message::parse(&b).unwrap() else { panic!() };
        let latin1 = |s: &str| if unicode { s.to_string() } else { s.bytes().map(char::from).collect() };
        prop_assert_eq!(a.user.decode(), latin1(&user));
        prop_assert_eq!(a.domain.decode(), latin1(&domain));
        prop_assert_eq!(a.workstation.decode(), latin1(&ws));
        let kind = match nt_len {
            0 => ntlmssp::ResponseKind::Unknown, // a 24-byte LM response without NT: neither
            24 => ntlmssp::ResponseKind::V1,
            n if n > 24 => ntlmssp::ResponseKind::V2,
            _ => ntlmssp::ResponseKind::Unknown,
        };
        prop_assert_eq!(a.response_kind(), kind);
    }

    #[test]
    fn netbios_frames_resync_and_ask_for_what_they_lack(
        garbage in prop::collection::vec(any::<u8>(), 0..100), body in 64usize..400, cut in any::<prop::sample::Index>(),
    ) {
        let mut frame = vec![0u8];
        frame.extend(&(body as u32).to_be_bytes()[1..]);
        frame.extend(b"\xfeSMB");
        frame.extend(vec![0; body - 4]);
        let mut stream = garbage.clone();
        stream.extend(&frame);
        let at = netbios::find_frame_start(&stream).unwrap();
        prop_assert!(at <= garbage.len());
        let f = netbios::Frame::parse(&stream[garbage.len()..]).unwrap();
        prop_assert_eq!(f.payload.len(), body);
        let short = 4 + cut.index(frame.len() - 4);
        prop_assert_eq!(netbios::Frame::parse(&frame[..short]).unwrap_err(), Error::Truncated { need: frame.len() });
    }
}

// ---- Kerberos ------------------------------------------------------------------------------------

use svcscope::wire::kerberos::{self, Message, Principal, RecordStream};

/// The Kerberos fuzz seeds (`fuzz/corpus/kerberos/seed-*`, built by hand): their first byte picks
/// the entry point (0 a TCP record stream, 1 one message, 2 a GSS-API/SPNEGO blob).
const KRB_SEEDS: &[(&str, &[u8])] = &[
    (
        "tcp-as-exchange",
        include_bytes!("../fuzz/corpus/kerberos/seed-tcp-as-exchange"),
    ),
    (
        "tcp-tgs-req",
        include_bytes!("../fuzz/corpus/kerberos/seed-tcp-tgs-req"),
    ),
    (
        "as-req",
        include_bytes!("../fuzz/corpus/kerberos/seed-as-req"),
    ),
    (
        "tgs-req",
        include_bytes!("../fuzz/corpus/kerberos/seed-tgs-req"),
    ),
    (
        "as-rep",
        include_bytes!("../fuzz/corpus/kerberos/seed-as-rep"),
    ),
    (
        "krb-error",
        include_bytes!("../fuzz/corpus/kerberos/seed-krb-error"),
    ),
    (
        "ap-req",
        include_bytes!("../fuzz/corpus/kerberos/seed-ap-req"),
    ),
    (
        "spnego-ap-req",
        include_bytes!("../fuzz/corpus/kerberos/seed-spnego-ap-req"),
    ),
];

impl Walk {
    fn principal(&mut self, input: &[u8], p: &Principal, realm: &[u8]) {
        for c in p.components() {
            if let Some(c) = self.count(c) {
                self.inside(input, c);
            }
        }
        self.inside(input, realm);
        assert!(p.text_at(Some(realm)).chars().count() <= kerberos::MAX_PRINCIPAL_CHARS + 1);
    }

    fn krb_message(&mut self, input: &[u8], m: &[u8]) {
        self.inside(input, m);
        match self.count(Message::parse(m)) {
            Some(Message::Request(r)) => {
                for p in r.cname.iter().chain(r.sname.iter()) {
                    self.principal(input, p, r.realm);
                }
                for e in r.etypes() {
                    self.count(e);
                }
                for p in r.padata() {
                    if let Some((_, v)) = self.count(p) {
                        self.inside(input, v);
                    }
                }
                if let Some(ap) = r.tgs_ap_req() {
                    if let Some(ap) = self.count(ap) {
                        self.principal(input, &ap.ticket.sname, ap.ticket.realm);
                    }
                }
            }
            Some(Message::Reply(r)) => {
                self.principal(input, &r.cname, r.crealm);
                self.principal(input, &r.ticket.sname, r.ticket.realm);
            }
            Some(Message::Error(e)) => self.principal(input, &e.sname, e.realm),
            Some(Message::ApReq(a)) => self.principal(input, &a.ticket.sname, a.ticket.realm),
            Some(Message::ApRep) | None => {}
        }
    }

    fn krb(&mut self, pick: u8, input: &[u8]) {
        match pick % 3 {
            0 => {
                let mut s = RecordStream::default();
                let mut messages = Vec::new();
                let p = s.push(1, input, |m| messages.push(m.to_vec()));
                if p.unread {
                    self.errors += 1;
                }
                for m in messages {
                    self.krb_message(&m, &m);
                }
                assert!(s.buffered() <= input.len());
            }
            1 => self.krb_message(input, input),
            _ => {
                if let Some(b) = self.count(spnego::SecurityBlob::parse(input)) {
                    if let Some(spnego::Token::Kerberos(k)) = b.token {
                        self.krb_message(input, k.message);
                    }
                }
            }
        }
    }
}

#[test]
fn every_kerberos_seed_parses_without_error() {
    for (name, seed) in KRB_SEEDS {
        let mut w = Walk::default();
        w.krb(seed[0], &seed[1..]);
        assert_eq!(w.errors, 0, "{name}: {w:?}");
        assert!(w.ok >= 2, "{name}: {w:?}");
    }
}

fn der(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    match value.len() {
        n @ 0..=0x7f => out.push(n as u8),
        n @ 0x80..=0xff => out.extend([0x81, n as u8]),
        n => out.extend([0x82, (n >> 8) as u8, n as u8]),
    }
    out.extend_from_slice(value);
    out
}

fn der_int(n: i64) -> Vec<u8> {
    let b = n.to_be_bytes();
    let mut i = 0;
    while i < 7 && ((b[i] == 0 && b[i + 1] & 0x80 == 0) || (b[i] == 0xff && b[i + 1] & 0x80 != 0)) {
        i += 1;
    }
    der(0x02, &b[i..])
}

/// A TGS-REQ without padata for `sname` in `realm`, accepting `etypes`.
fn tgs_req(realm: &str, sname: &[String], etypes: &[i64]) -> Vec<u8> {
    let ctx = |n: u8, v: Vec<u8>| der(0xa0 + n, &v);
    let strings: Vec<u8> = sname.iter().flat_map(|s| der(0x1b, s.as_bytes())).collect();
    let principal = der(
        0x30,
        &[ctx(0, der_int(2)), ctx(1, der(0x30, &strings))].concat(),
    );
    let ets: Vec<u8> = etypes.iter().flat_map(|&e| der_int(e)).collect();
    let body = der(
        0x30,
        &[
            ctx(0, der(0x03, &[0, 0, 0, 0, 0])),
            ctx(2, der(0x1b, realm.as_bytes())),
            ctx(3, principal),
            ctx(5, der(0x18, b"20370913024805Z")),
            ctx(7, der_int(7)),
            ctx(8, der(0x30, &ets)),
        ]
        .concat(),
    );
    der(
        0x6c,
        &der(
            0x30,
            &[ctx(1, der_int(5)), ctx(2, der_int(12)), ctx(4, body)].concat(),
        ),
    )
}

proptest! {
    #![proptest_config(testing::proptest_config(512))]

    #[test]
    fn kerberos_random_bytes_never_panic(pick in any::<u8>(), input in prop::collection::vec(any::<u8>(), 0..600)) {
        Walk::default().krb(pick, &input);
        let _ = kerberos::record_start(&input);
    }

    #[test]
    fn kerberos_mutated_seeds_never_panic(
        seed in 0..KRB_SEEDS.len(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut b = KRB_SEEDS[seed].1.to_vec();
        for (at, v) in edits {
            let i = 1 + at.index(b.len() - 1);
            b[i] = v;
        }
        let len = 1 + cut.index(b.len());
        Walk::default().krb(b[0], &b[1..len]);
    }

    #[test]
    fn kerberos_tgs_req_round_trips(
        realm in "[A-Z.]{1,30}",
        sname in prop::collection::vec("[a-zA-Z0-9.$-]{1,40}", 1..4),
        etypes in prop::collection::vec(-200i64..200, 1..12),
        mss in 1usize..200,
    ) {
        let m = tgs_req(&realm, &sname, &etypes);
        let Message::Request(r) = Message::parse(&m).unwrap() else { panic!() };
        prop_assert_eq!(r.kind, kerberos::Kind::TgsReq);
        prop_assert_eq!(r.realm, realm.as_bytes());
        prop_assert_eq!(r.sname.unwrap().text(), sname.join("/"));
        prop_assert_eq!(r.etypes().map(Result::unwrap).collect::<Vec<_>>(), etypes);
        // Cut short, it asks for the whole message.
        prop_assert_eq!(
            Message::parse(&m[..m.len() - 1]).unwrap_err(),
            Error::Truncated { need: m.len() }
        );
        // As two TCP records cut into segments of any size, both come out whole.
        let mut rec = (m.len() as u32).to_be_bytes().to_vec();
        rec.extend(&m);
        let stream = [rec.clone(), rec].concat();
        let mut s = RecordStream::default();
        let mut out = Vec::new();
        for (i, chunk) in stream.chunks(mss).enumerate() {
            s.push((i * mss) as u32, chunk, |msg| out.push(msg.to_vec()));
        }
        prop_assert_eq!(out, vec![m.clone(), m]);
        prop_assert_eq!(s.buffered(), 0);
    }
}

// ---- LDAP ----------------------------------------------------------------------------------------

use svcscope::wire::ldap::{self, LogonResponse, MessageStream};

/// The LDAP fuzz seeds (`fuzz/corpus/ldap/seed-*`, built by hand): their first byte picks the
/// entry point (0 a TCP message stream, 1 a datagram of messages, 2 a Netlogon response).
const LDAP_SEEDS: &[(&str, &[u8])] = &[
    (
        "tcp-simple-bind",
        include_bytes!("../fuzz/corpus/ldap/seed-tcp-simple-bind"),
    ),
    (
        "tcp-sasl-spnego-bind",
        include_bytes!("../fuzz/corpus/ldap/seed-tcp-sasl-spnego-bind"),
    ),
    (
        "tcp-sicily-search",
        include_bytes!("../fuzz/corpus/ldap/seed-tcp-sicily-search"),
    ),
    (
        "cldap-ping",
        include_bytes!("../fuzz/corpus/ldap/seed-cldap-ping"),
    ),
    (
        "cldap-ping-answer",
        include_bytes!("../fuzz/corpus/ldap/seed-cldap-ping-answer"),
    ),
    (
        "netlogon-response",
        include_bytes!("../fuzz/corpus/ldap/seed-netlogon-response"),
    ),
];

impl Walk {
    fn ldap_message(&mut self, input: &[u8], m: &[u8]) {
        self.inside(input, m);
        let Some(msg) = self.count(ldap::Message::parse(m)) else {
            return;
        };
        match msg.op {
            ldap::Op::Bind(b) => self.inside(input, b.name),
            ldap::Op::Search(s) => {
                self.inside(input, s.base);
                for a in s.attributes() {
                    if let Some(a) = self.count(a) {
                        self.inside(input, a);
                    }
                }
            }
            ldap::Op::SearchEntry(e) => {
                for a in e.attributes() {
                    if let Some((t, vals)) = self.count(a) {
                        self.inside(input, t);
                        for v in vals {
                            if let Some(v) = self.count(v) {
                                self.inside(input, v);
                            }
                        }
                    }
                }
                if let Some(v) = e.value(b"Netlogon") {
                    self.logon(v);
                }
            }
            _ => {}
        }
    }

    fn logon(&mut self, v: &[u8]) {
        if let Some(r) = self.count(LogonResponse::parse(v)) {
            for n in [&r.forest, &r.domain, &r.host, &r.dc_site, &r.client_site] {
                assert!(n.chars().count() <= ldap::MAX_NAME_CHARS + 1);
            }
        }
    }

    fn ldap(&mut self, pick: u8, input: &[u8]) {
        match pick % 3 {
            0 => {
                let mut s = MessageStream::default();
                let mut messages = Vec::new();
                let p = s.push(1, input, |m| messages.push(m.to_vec()));
                if p.stopped {
                    self.errors += 1;
                }
                for m in messages {
                    self.ldap_message(&m, &m);
                }
                assert!(s.buffered() <= ldap::MAX_MESSAGE);
            }
            1 => {
                let mut rest = input;
                while !rest.is_empty() {
                    match self.count(ldap::message_len(rest)) {
                        Some(Some(n)) if n <= rest.len() => {
                            self.ldap_message(input, &rest[..n]);
                            rest = &rest[n..];
                        }
                        _ => break,
                    }
                }
            }
            _ => self.logon(input),
        }
    }
}

#[test]
fn every_ldap_seed_parses_without_error() {
    for (name, seed) in LDAP_SEEDS {
        let mut w = Walk::default();
        w.ldap(seed[0], &seed[1..]);
        assert_eq!(w.errors, 0, "{name}: {w:?}");
        assert!(w.ok >= 1, "{name}: {w:?}");
    }
}

proptest! {
    #![proptest_config(testing::proptest_config(512))]

    #[test]
    fn ldap_random_bytes_never_panic(pick in any::<u8>(), input in prop::collection::vec(any::<u8>(), 0..600)) {
        Walk::default().ldap(pick, &input);
        for at in 0..input.len().min(16) {
            if let Ok((name, next)) = ldap::dns_name(&input, at) {
                prop_assert!(next > at && next <= input.len());
                prop_assert!(name.chars().count() <= ldap::MAX_NAME_CHARS + 1);
            }
        }
    }

    #[test]
    fn ldap_mutated_seeds_never_panic(
        seed in 0..LDAP_SEEDS.len(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut b = LDAP_SEEDS[seed].1.to_vec();
        for (at, v) in edits {
            let i = 1 + at.index(b.len() - 1);
            b[i] = v;
        }
        let len = 1 + cut.index(b.len());
        Walk::default().ldap(b[0], &b[1..len]);
    }

    /// A seed's messages as a TCP stream cut into segments of any size come out whole, in order.
    #[test]
    fn ldap_streams_reassemble_at_any_segment_size(seed in 0..3usize, mss in 1usize..200) {
        let bytes = &LDAP_SEEDS[seed].1[1..];
        let mut whole = Vec::new();
        MessageStream::default().push(0, bytes, |m| whole.push(m.to_vec()));
        prop_assert!(!whole.is_empty());
        let mut s = MessageStream::default();
        let mut out = Vec::new();
        for (i, chunk) in bytes.chunks(mss).enumerate() {
            s.push((i * mss) as u32, chunk, |m| out.push(m.to_vec()));
        }
        prop_assert_eq!(out, whole);
        prop_assert_eq!(s.buffered(), 0);
    }
}
