//! The SMB wire layer (`svcscope::wire`) against tshark on real captures.
//!
//! Reads every capture of `../shared/captures/windows/` that has an SMB conversation (TCP 445 or
//! 139 in `truth-rpc/`) with svcscope's own reader and decoder, reassembles each TCP direction
//! (in order of sequence numbers, resynchronising on a NetBIOS frame start after a gap or a
//! mid-stream start), and runs the wire parsers over every SMB message. A little state — which is
//! the test's, not the parser's: tree ids to shares, message ids and file ids to names — turns the
//! messages into what tshark's `truth-rpc/` lists per conversation:
//!
//! - `smb_pipes` and `smb_files`: names of SMB2 CREATE and SMB1 NT_CREATE_ANDX requests, on IPC$
//!   trees and elsewhere (an unknown tree counts as elsewhere, as for tshark), in order, as sent;
//! - `smb_pipe_ifaces`: the interface UUIDs of the DCE/RPC binds found at the start of the pipe
//!   payloads the parsers slice out (SMB2 WRITE and IOCTL, SMB1 WRITE_ANDX and TransactNmPipe),
//!   tied to the pipe through the create response's file id;
//! - `ntlm_users`: NTLMSSP AUTHENTICATE identities found through SPNEGO in session setups;
//! - `krb_ap_snames`: present exactly when a session setup carried a Kerberos AP-REQ.
//!
//! It also checks what `truth-rpc/` has no column for, from the captures' README: the shares of
//! the tree connects, the encrypted SMB3 sessions (transform frames, encryption flags), and the
//! multichannel binding flag. No SMB message of these captures may fail to parse.
//!
//! Skipped, with a message, when `../shared/captures/windows` is absent.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use svcscope::capture::{Batch, FileSource, PacketSource};
use svcscope::decode::{decode, proto, tcp_flags, Outcome};
use svcscope::wire::{
    netbios, ntlmssp, parse_smb, pipe_key, share_key, share_name, smb1, smb2, spnego, Error, Smb,
};

fn windows_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/captures/windows")
}

/// One truth-rpc row.
struct Truth {
    pipes: Vec<String>,
    files: Vec<String>,
    ifaces: BTreeSet<(String, String)>,
    ntlm_users: BTreeSet<String>,
    kerberos: bool,
}

fn cell(v: &str) -> Vec<String> {
    if v == "-" {
        Vec::new()
    } else {
        v.split('|').map(str::to_string).collect()
    }
}

/// The SMB conversations of each capture: (client, server) → truth.
fn truth() -> BTreeMap<String, BTreeMap<(String, String), Truth>> {
    let mut out: BTreeMap<String, BTreeMap<_, _>> = BTreeMap::new();
    let dir = windows_dir().join("truth-rpc");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "tsv"))
        .collect();
    files.sort();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines = text.lines();
        let cols: Vec<&str> = lines.next().unwrap().split('\t').collect();
        let col = |row: &[&str], name: &str| -> String {
            let i = cols.iter().position(|c| *c == name).unwrap();
            row[i].to_string()
        };
        let capture = path.file_stem().unwrap().to_string_lossy().to_string();
        for line in lines {
            let row: Vec<&str> = line.split('\t').collect();
            if col(&row, "proto") != "tcp" || !["445", "139"].contains(&&*col(&row, "server_port"))
            {
                continue;
            }
            let ifaces = cell(&col(&row, "smb_pipe_ifaces"))
                .into_iter()
                .map(|v| {
                    let mut parts = v.splitn(3, '=');
                    let pipe = parts.next().unwrap();
                    (pipe_key(pipe), parts.next().unwrap().to_string())
                })
                .collect();
            out.entry(capture.clone()).or_default().insert(
                (col(&row, "client"), col(&row, "server")),
                Truth {
                    pipes: cell(&col(&row, "smb_pipes")),
                    files: cell(&col(&row, "smb_files")),
                    ifaces,
                    ntlm_users: cell(&col(&row, "ntlm_users")).into_iter().collect(),
                    kerberos: col(&row, "krb_ap_snames") != "-",
                },
            );
        }
    }
    out
}

/// One TCP direction: in-order bytes waiting to be framed.
#[derive(Default)]
struct Direction {
    next: Option<u32>,
    buf: Vec<u8>,
    /// Out-of-order segments by sequence number.
    pending: BTreeMap<u32, Vec<u8>>,
    /// Whether `buf` starts at a frame boundary.
    synced: bool,
}

impl Direction {
    fn segment(&mut self, seq: u32, syn: bool, payload: &[u8]) {
        if syn {
            self.next = Some(seq.wrapping_add(1));
            self.synced = true;
            return;
        }
        let next = *self.next.get_or_insert(seq);
        if payload.is_empty() {
            return;
        }
        let ahead = seq.wrapping_sub(next) as i32;
        if ahead > 0 {
            self.pending.insert(seq, payload.to_vec());
            if self.pending.len() > 32 {
                // A gap that will not fill: drop what is buffered and start again after it.
                let (&first, _) = self.pending.iter().next().unwrap();
                self.buf.clear();
                self.synced = false;
                self.next = Some(first);
            }
        } else {
            let skip = ahead.unsigned_abs() as usize;
            if skip < payload.len() {
                self.buf.extend_from_slice(&payload[skip..]);
                self.next = Some(next.wrapping_add((payload.len() - skip) as u32));
            }
        }
        while let Some((&s, _)) = self.pending.iter().next() {
            let next = self.next.unwrap();
            if (s.wrapping_sub(next) as i32) > 0 {
                break;
            }
            let data = self.pending.remove(&s).unwrap();
            let skip = next.wrapping_sub(s) as usize;
            if skip < data.len() {
                self.buf.extend_from_slice(&data[skip..]);
                self.next = Some(next.wrapping_add((data.len() - skip) as u32));
            }
        }
    }

    /// Whole NetBIOS session messages taken from the buffer.
    fn frames(&mut self, mut each: impl FnMut(&[u8])) {
        let mut at = 0;
        loop {
            if !self.synced {
                match netbios::find_frame_start(&self.buf[at..]) {
                    Some(i) => {
                        at += i;
                        self.synced = true;
                    }
                    None => {
                        at = self.buf.len().saturating_sub(netbios::RESYNC_KEEP).max(at);
                        break;
                    }
                }
            }
            match netbios::Frame::parse(&self.buf[at..]) {
                Ok(f) => {
                    if f.header.kind == netbios::MessageType::SessionMessage {
                        each(f.payload);
                    }
                    at += f.header.frame_len();
                }
                Err(Error::Truncated { .. }) => break,
                Err(_) => {
                    self.synced = false;
                    at += 1;
                }
            }
        }
        self.buf.drain(..at);
    }
}

/// What one conversation showed.
#[derive(Default, Debug)]
struct Seen {
    shares: Vec<String>,
    pipes: Vec<String>,
    files: Vec<String>,
    ifaces: BTreeSet<(String, String)>,
    ntlm_users: BTreeSet<String>,
    kerberos_ap_req: bool,
    transforms: usize,
    transform_sessions: BTreeSet<u64>,
    sessions: BTreeSet<u64>,
    dialects: BTreeSet<u16>,
    session_encrypt: bool,
    share_encrypt: BTreeSet<String>,
    binding: usize,
    smb1: usize,
    smb2: usize,
    errors: Vec<String>,
    // The test's own state.
    trees: HashMap<u32, String>,
    tree_requests: HashMap<u64, String>,
    create_requests: HashMap<u64, String>,
    file_names: HashMap<(u64, u64), String>,
    last_tree: u32,
}

fn push_new(list: &mut Vec<String>, v: String) {
    if !list.contains(&v) {
        list.push(v);
    }
}

fn uuid(b: &[u8]) -> String {
    format!(
        "{:08x}-{:04x}-{:04x}-{:02x}{:02x}-{}",
        u32::from_le_bytes(b[0..4].try_into().unwrap()),
        u16::from_le_bytes([b[4], b[5]]),
        u16::from_le_bytes([b[6], b[7]]),
        b[8],
        b[9],
        b[10..16]
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
    )
}

/// Abstract-syntax UUIDs of a DCE/RPC bind or alter_context at the start of a pipe payload.
fn bind_uuids(pdu: &[u8]) -> Vec<String> {
    if pdu.len() < 28 || pdu[0] != 5 || !matches!(pdu[2], 11 | 14) || pdu[4] & 0xf0 != 0x10 {
        return Vec::new();
    }
    let n = usize::from(pdu[24]);
    let mut out = Vec::new();
    let mut at = 28;
    for _ in 0..n {
        let Some(ctx) = pdu.get(at..at + 24) else {
            break;
        };
        out.push(uuid(&ctx[4..20]));
        at += 24 + usize::from(ctx[2]) * 20;
    }
    out
}

impl Seen {
    fn error(&mut self, what: &str, e: Error) {
        self.errors.push(format!("{what}: {e}"));
    }

    fn blob(&mut self, blob: &[u8]) {
        if blob.is_empty() {
            return;
        }
        let b = match spnego::SecurityBlob::parse(blob) {
            Ok(b) => b,
            Err(e) => return self.error("security blob", e),
        };
        for m in b.mechs {
            if let Err(e) = m {
                self.error("mechanism list", e);
            }
        }
        match b.token {
            Some(spnego::Token::Ntlmssp(raw)) => match ntlmssp::Message::parse(raw) {
                Ok(ntlmssp::Message::Authenticate(a)) => {
                    self.ntlm_users.insert(a.identity());
                }
                Ok(_) => {}
                Err(e) => self.error("NTLMSSP", e),
            },
            Some(spnego::Token::Kerberos(k)) if k.kind == spnego::KerberosKind::ApReq => {
                self.kerberos_ap_req = true;
            }
            _ => {}
        }
    }

    fn pipe_payload(&mut self, file: (u64, u64), data: &[u8]) {
        if let Some(name) = self.file_names.get(&file) {
            let key = pipe_key(name);
            for u in bind_uuids(data) {
                self.ifaces.insert((key.clone(), u));
            }
        }
    }

    fn opened(&mut self, tree: Option<&String>, name: String) {
        match tree {
            // The share's root directory: tshark lists no name.
            _ if name.is_empty() => {}
            Some(t) if share_key(t) == "ipc$" => push_new(&mut self.pipes, name),
            _ => push_new(&mut self.files, name),
        }
    }

    fn message(&mut self, payload: &[u8]) {
        match parse_smb(payload) {
            Ok(Smb::V1(m)) => self.smb1_message(m),
            Ok(Smb::V2(c)) => {
                for m in c {
                    match m {
                        Ok(m) => self.smb2_message(m),
                        Err(e) => self.error("SMB2 compound", e),
                    }
                }
            }
            Ok(Smb::Transform(t)) => {
                self.transforms += 1;
                self.transform_sessions.insert(t.session_id);
            }
            Ok(Smb::Compressed(_)) => {}
            Err(e) => self.error("SMB", e),
        }
    }

    fn smb2_message(&mut self, m: smb2::Message) {
        use smb2::Body;
        self.smb2 += 1;
        let h = m.header;
        let tree = match h.tree_id() {
            Some(t) if h.is_related() && t == u32::MAX => self.last_tree,
            Some(t) => t,
            None => self.last_tree,
        };
        self.last_tree = tree;
        let body = match m.body() {
            Ok(b) => b,
            Err(e) => {
                return self.error(&format!("SMB2 {} body", h.command.name()), e);
            }
        };
        match body {
            Body::NegotiateResponse(n) => {
                self.dialects.insert(n.dialect.0);
                self.blob(n.security_buffer);
            }
            Body::SessionSetupRequest(s) => {
                self.binding += usize::from(s.is_binding());
                self.blob(s.security_buffer);
            }
            Body::SessionSetupResponse(s) => {
                self.sessions.insert(h.session_id);
                self.session_encrypt |= s.encrypts();
                self.blob(s.security_buffer);
            }
            Body::TreeConnectRequest(t) => {
                let path = t.path.decode();
                push_new(&mut self.shares, share_name(&path).to_string());
                self.tree_requests.insert(h.message_id, path);
            }
            Body::TreeConnectResponse(t) => {
                if let (Some(path), Some(tid)) =
                    (self.tree_requests.remove(&h.message_id), h.tree_id())
                {
                    if t.encrypts() {
                        self.share_encrypt.insert(share_name(&path).to_string());
                    }
                    self.trees.insert(tid, path);
                }
            }
            Body::CreateRequest(c) => {
                let name = c.name.decode();
                let t = self.trees.get(&tree).cloned();
                self.opened(t.as_ref(), name.clone());
                self.create_requests.insert(h.message_id, name);
            }
            Body::CreateResponse(c) => {
                if let Some(name) = self.create_requests.remove(&h.message_id) {
                    self.file_names
                        .insert((c.file_id.persistent, c.file_id.volatile), name);
                }
            }
            Body::WriteRequest(w) => {
                self.pipe_payload((w.file_id.persistent, w.file_id.volatile), w.data)
            }
            Body::IoctlRequest(i) if i.ctl_code == smb2::ctl::FSCTL_PIPE_TRANSCEIVE => {
                self.pipe_payload((i.file_id.persistent, i.file_id.volatile), i.input)
            }
            _ => {}
        }
    }

    fn smb1_message(&mut self, m: smb1::Message) {
        use smb1::Body;
        self.smb1 += 1;
        let h = m.header;
        for block in m.blocks() {
            let block = match block {
                Ok(b) => b,
                Err(e) => return self.error("SMB1 AndX", e),
            };
            let body = match block.body() {
                Ok(b) => b,
                Err(e) => return self.error(&format!("SMB1 {:#04x} body", block.command), e),
            };
            let mid = u64::from(h.mid);
            match body {
                Body::SessionSetupRequest(s) => {
                    if let Some(blob) = s.security_blob {
                        self.blob(blob);
                    }
                }
                Body::SessionSetupResponse(s) => {
                    if let Some(blob) = s.security_blob {
                        self.blob(blob);
                    }
                }
                Body::NegotiateResponse(n) => self.blob(n.security_blob),
                Body::TreeConnectRequest(t) => {
                    let path = t.path.decode();
                    push_new(&mut self.shares, share_name(&path).to_string());
                    self.tree_requests.insert(mid, path);
                }
                Body::TreeConnectResponse(_) => {
                    if let Some(path) = self.tree_requests.remove(&mid) {
                        self.trees.insert(u32::from(h.tid), path);
                    }
                }
                Body::NtCreateRequest(c) => {
                    let name = c.name.decode();
                    let t = self.trees.get(&u32::from(h.tid)).cloned();
                    self.opened(t.as_ref(), name.clone());
                    self.create_requests.insert(mid, name);
                }
                Body::NtCreateResponse(c) => {
                    if let Some(name) = self.create_requests.remove(&mid) {
                        self.file_names.insert((u64::from(c.fid), 0), name);
                    }
                }
                Body::WriteAndXRequest(w) => self.pipe_payload((u64::from(w.fid), 0), w.data),
                Body::Transaction(t) => {
                    if let Some(fid) = t.pipe_fid() {
                        self.pipe_payload((u64::from(fid), 0), t.data);
                    }
                }
                _ => {}
            }
        }
    }
}

/// Runs the parsers over one capture's SMB conversations: (client, server) → what was seen.
fn run(path: &Path) -> BTreeMap<(String, String), Seen> {
    let mut source = FileSource::open(path, None).unwrap();
    let mut batch = Batch::default();
    let mut dirs: HashMap<(String, String), Direction> = HashMap::new();
    let mut convs: BTreeMap<(String, String), Seen> = BTreeMap::new();
    loop {
        batch.clear();
        batch.link = None;
        let more = source.fill(&mut batch).unwrap();
        let link = batch.link;
        for (_, frame) in batch.frames() {
            let link = link.unwrap();
            // Frames captured before segmentation offload (zeek__krb_kerberos_tso.pcapng, IPv4
            // total length 0) decode to the frame's end.
            let d = match decode(link, frame) {
                Outcome::Ip(d) => d,
                _ => continue,
            };
            let Some((sport, dport)) = d.ports else {
                continue;
            };
            if d.protocol != proto::TCP {
                continue;
            }
            let src = format!("{}:{sport}", d.src);
            let dst = format!("{}:{dport}", d.dst);
            let key = match (sport, dport) {
                (_, 445 | 139) => (src.clone(), dst.clone()),
                (445 | 139, _) => (dst.clone(), src.clone()),
                _ => continue,
            };
            let dir = dirs.entry((src, dst)).or_default();
            dir.segment(d.tcp_seq, d.tcp_flags & tcp_flags::SYN != 0, d.payload);
            let seen = convs.entry(key).or_default();
            dir.frames(|payload| seen.message(payload));
        }
        if !more {
            break;
        }
    }
    convs
}

/// What the captures' README says beyond truth-rpc, per capture: shares tree-connected (by
/// [`share_key`]).
const SHARES: &[(&str, &[&str])] = &[
    (
        "suricata__filestore-filecontainer-smb_filecontainer-smb.pcap",
        &["ipc$", "admin$", "c$"],
    ),
    (
        "zeek__smb_smb2-zero-byte-error-ioctl.pcapng",
        &["ipc$", "shared"],
    ),
    ("zeek__smb_smb3_multichannel.pcap", &["share2"]),
    ("zeek__smb_smb3.pcap", &["encrypted"]),
    (
        "suricata__dcerpc-smb-test-01_input.pcap",
        &["ipc$", "admin$"],
    ),
];

#[test]
fn smb_wire_layer_agrees_with_tshark() {
    let dir = windows_dir();
    if !dir.is_dir() {
        eprintln!(
            "skipped: {} is absent (the Windows captures are not in this checkout)",
            dir.display()
        );
        return;
    }
    let mut failures = Vec::new();
    let mut conversations = 0;
    let mut messages = 0;
    for (capture, rows) in truth() {
        let seen = run(&dir.join(&capture));
        let mut shares = BTreeSet::new();
        for ((client, server), t) in &rows {
            conversations += 1;
            let Some(s) = seen.get(&(client.clone(), server.clone())) else {
                failures.push(format!(
                    "{capture} {client}→{server}: conversation not seen"
                ));
                continue;
            };
            messages += s.smb1 + s.smb2 + s.transforms;
            let at = format!("{capture} {client}→{server}");
            shares.extend(s.shares.iter().map(|s| s.to_lowercase()));
            if !s.errors.is_empty() {
                failures.push(format!("{at}: parse errors {:?}", s.errors));
            }
            if s.pipes != t.pipes {
                failures.push(format!("{at}: pipes {:?}, tshark {:?}", s.pipes, t.pipes));
            }
            let files: Vec<String> = s.files.iter().take(20).cloned().collect();
            if files != t.files {
                failures.push(format!("{at}: files {files:?}, tshark {:?}", t.files));
            }
            if s.ifaces != t.ifaces {
                failures.push(format!("{at}: binds {:?}, tshark {:?}", s.ifaces, t.ifaces));
            }
            if s.ntlm_users != t.ntlm_users {
                failures.push(format!(
                    "{at}: NTLMSSP users {:?}, tshark {:?}",
                    s.ntlm_users, t.ntlm_users
                ));
            }
            if s.kerberos_ap_req != t.kerberos {
                failures.push(format!(
                    "{at}: Kerberos AP-REQ seen {}, tshark {}",
                    s.kerberos_ap_req, t.kerberos
                ));
            }
        }
        if let Some((_, want)) = SHARES.iter().find(|(c, _)| *c == capture) {
            for w in *want {
                if !shares.contains(*w) {
                    failures.push(format!("{capture}: share {w} not seen in {shares:?}"));
                }
            }
        }
        let all = || seen.values();
        match capture.as_str() {
            // The share \\WS2016\encrypted requires encryption; then transform frames only (44
            // of 54).
            "zeek__smb_smb3.pcap" => {
                let s = all().next().unwrap();
                check(
                    &mut failures,
                    &capture,
                    "44 transform frames",
                    s.transforms == 44,
                );
                check(
                    &mut failures,
                    &capture,
                    "dialect 3.0",
                    s.dialects.contains(&0x0300),
                );
                check(
                    &mut failures,
                    &capture,
                    "share encrypts",
                    s.share_encrypt.contains("encrypted"),
                );
                check(
                    &mut failures,
                    &capture,
                    "transform frames",
                    s.transforms > 0,
                );
                check(
                    &mut failures,
                    &capture,
                    "transforms in the session set up",
                    s.transform_sessions.is_subset(&s.sessions),
                );
            }
            // Session encryption: after session setup only transform frames (28 of 34). The
            // server does not set the session's encrypt-data flag: the client asked for it.
            "zeek__smb_smb311.pcap" => {
                let s = all().next().unwrap();
                check(
                    &mut failures,
                    &capture,
                    "dialect 3.1.1",
                    s.dialects.contains(&0x0311),
                );
                check(
                    &mut failures,
                    &capture,
                    "28 transform frames",
                    s.transforms == 28,
                );
                check(
                    &mut failures,
                    &capture,
                    "no encrypt-data flag",
                    !s.session_encrypt,
                );
                check(
                    &mut failures,
                    &capture,
                    "no tree connect in clear",
                    s.shares.is_empty(),
                );
                check(
                    &mut failures,
                    &capture,
                    "transform frames",
                    s.transforms > 0,
                );
                check(
                    &mut failures,
                    &capture,
                    "transforms in the session set up",
                    s.transform_sessions.is_subset(&s.sessions) && !s.sessions.is_empty(),
                );
            }
            // Three of the four connections bind to the first one's session.
            "zeek__smb_smb3_multichannel.pcap" => {
                let binding = all().filter(|s| s.binding > 0).count();
                check(
                    &mut failures,
                    &capture,
                    "3 binding connections",
                    binding == 3,
                );
            }
            _ => {}
        }
        eprintln!(
            "{capture}: {} conversations, {} SMB messages",
            seen.len(),
            seen.values()
                .map(|s| s.smb1 + s.smb2 + s.transforms)
                .sum::<usize>()
        );
    }
    eprintln!("{conversations} SMB conversations, {messages} messages compared with tshark");
    assert!(
        conversations >= 30,
        "too few SMB conversations: {conversations}"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn check(failures: &mut Vec<String>, capture: &str, what: &str, ok: bool) {
    if !ok {
        failures.push(format!("{capture}: {what}"));
    }
}
