//! A tshark-like walk over the SMB conversations of a capture with the library's wire parsers,
//! shared by the tests that check those parsers on real and on generated captures.
//!
//! It reassembles each TCP direction (in order of sequence numbers, resynchronising on a NetBIOS
//! frame start after a gap or a mid-stream start), runs the wire parsers over every SMB message,
//! and keeps a little state of its own — tree ids to shares, message ids and file ids to names —
//! to say what each conversation carried: shares, pipes and files opened, the interfaces bound
//! over pipes, NTLM users and Kerberos logons, DFS referrals, transform frames, and every parse
//! error.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use svcscope::capture::{Batch, FileSource, PacketSource};
use svcscope::decode::{decode, proto, tcp_flags, Outcome};
use svcscope::wire::{
    dfs, netbios, ntlmssp, parse_smb, pipe_key, share_key, share_name, smb1, smb2, spnego, Error,
    Smb,
};

/// One TCP direction: in-order bytes waiting to be framed.
#[derive(Default)]
pub struct Direction {
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
pub struct Seen {
    /// Shares of the tree connect requests, in order, as sent.
    pub shares: Vec<String>,
    /// (share, type) of the SMB2 tree connect responses, in order.
    pub share_types: Vec<(String, smb2::ShareType)>,
    /// Names created on IPC$ trees, and elsewhere.
    pub pipes: Vec<String>,
    pub files: Vec<String>,
    /// (pipe key, interface UUID) of the binds and alter_contexts at the start of pipe writes.
    pub ifaces: BTreeSet<(String, String)>,
    /// Interface UUIDs bound over pipes whose create the capture did not show.
    pub unnamed_ifaces: BTreeSet<String>,
    /// DCE/RPC PDU types at the start of pipe payloads, requests and answers, in order.
    pub pipe_pdus: Vec<u8>,
    pub ntlm_users: BTreeSet<String>,
    pub kerberos_ap_req: bool,
    /// FSCTL_DFS_GET_REFERRALS: requested paths, and the targets answered.
    pub dfs_paths: Vec<String>,
    pub dfs_targets: Vec<String>,
    /// Compounds of more than one message.
    pub compounds: usize,
    pub transforms: usize,
    pub transform_sessions: BTreeSet<u64>,
    pub sessions: BTreeSet<u64>,
    pub dialects: BTreeSet<u16>,
    pub session_encrypt: bool,
    pub share_encrypt: BTreeSet<String>,
    pub binding: usize,
    pub smb1: usize,
    pub smb2: usize,
    pub errors: Vec<String>,
    // The walk's own state.
    trees: HashMap<u32, String>,
    tree_requests: HashMap<u64, String>,
    create_requests: HashMap<u64, String>,
    file_names: HashMap<(u64, u64), String>,
    last_tree: u32,
    /// The name of the CREATE earlier in the same compound (for related operations).
    compound_create: Option<String>,
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
        let name = self.file_names.get(&file).cloned();
        self.pipe_named(name, data);
    }

    /// A pipe write of `data` to the file called `name` (None: opened before the capture).
    fn pipe_named(&mut self, name: Option<String>, data: &[u8]) {
        self.pdu(data);
        match name {
            Some(name) => {
                let key = pipe_key(&name);
                for u in bind_uuids(data) {
                    self.ifaces.insert((key.clone(), u));
                }
            }
            None => self.unnamed_ifaces.extend(bind_uuids(data)),
        }
    }

    /// Notes the DCE/RPC PDU type at the start of a pipe payload.
    fn pdu(&mut self, data: &[u8]) {
        if data.len() >= 16 && data[0] == 5 && data[1] == 0 {
            self.pipe_pdus.push(data[2]);
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
                self.compound_create = None;
                let mut n = 0;
                for m in c {
                    n += 1;
                    match m {
                        Ok(m) => self.smb2_message(m),
                        Err(e) => self.error("SMB2 compound", e),
                    }
                }
                self.compounds += usize::from(n > 1);
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
                    self.share_types
                        .push((share_name(&path).to_string(), t.share_type));
                    self.trees.insert(tid, path);
                }
            }
            Body::CreateRequest(c) => {
                let name = c.name.decode();
                let t = self.trees.get(&tree).cloned();
                self.opened(t.as_ref(), name.clone());
                self.compound_create = Some(name.clone());
                self.create_requests.insert(h.message_id, name);
            }
            Body::CreateResponse(c) => {
                if let Some(name) = self.create_requests.remove(&h.message_id) {
                    self.file_names
                        .insert((c.file_id.persistent, c.file_id.volatile), name);
                }
            }
            Body::WriteRequest(w) => {
                let file = (w.file_id.persistent, w.file_id.volatile);
                if h.is_related() && file == (u64::MAX, u64::MAX) {
                    let name = self.compound_create.clone();
                    self.pipe_named(name, w.data);
                } else {
                    self.pipe_payload(file, w.data)
                }
            }
            Body::IoctlRequest(i) if i.ctl_code == smb2::ctl::FSCTL_PIPE_TRANSCEIVE => {
                self.pipe_payload((i.file_id.persistent, i.file_id.volatile), i.input)
            }
            Body::IoctlRequest(i) if i.ctl_code == smb2::ctl::FSCTL_DFS_GET_REFERRALS => {
                match dfs::Request::parse(i.input) {
                    Ok(r) => self.dfs_paths.push(r.file_name.decode()),
                    Err(e) => self.error("DFS referral request", e),
                }
            }
            Body::IoctlResponse(i) if i.ctl_code == smb2::ctl::FSCTL_PIPE_TRANSCEIVE => {
                self.pdu(i.output)
            }
            Body::IoctlResponse(i) if i.ctl_code == smb2::ctl::FSCTL_DFS_GET_REFERRALS => {
                match dfs::Response::parse(i.output) {
                    Ok(r) => {
                        for e in r.entries() {
                            match e {
                                Ok(e) => {
                                    if let Some(t) = e.target {
                                        self.dfs_targets.push(t.decode());
                                    }
                                }
                                Err(e) => self.error("DFS referral entry", e),
                            }
                        }
                    }
                    Err(e) => self.error("DFS referral response", e),
                }
            }
            Body::ReadResponse(r) => self.pdu(r.data),
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
                Body::ReadAndXResponse(r) => self.pdu(r.data),
                Body::TransactionResponse(t) => self.pdu(t.data),
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
pub fn run(path: &Path) -> BTreeMap<(String, String), Seen> {
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
