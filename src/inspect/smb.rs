//! SMB inspector (`smb`): SMB1, SMB2 and SMB3 over TCP 445 and the NetBIOS session service (139);
//! parsing in `wire::{netbios, smb1, smb2, spnego, ntlmssp, dfs}`.
//!
//! It follows each direction of the connection frame by frame and records what says which services
//! were used:
//!
//! - `smb`: the dialect the server chose (or that the flow is SMB at all, when the negotiate was
//!   not captured);
//! - `smb-share`: each share a tree connect reached (`IPC$`, `SYSVOL`, `print$`, a user share);
//! - `smb-pipe`: each named pipe opened on IPC$ (`lsarpc`, `spoolss`, …), and `pipe-bind`: each
//!   DCE/RPC interface bound or altered to over a pipe. The RPC travels in SMB2 WRITE and IOCTL
//!   FSCTL_PIPE_TRANSCEIVE, SMB1 WRITE_ANDX and TransactNmPipe; each pipe's client-to-server bytes
//!   are reassembled into PDUs (a PDU split across several writes, several PDUs in one) by the
//!   DCE/RPC reassembler, so several binds per pipe and several pipes per connection are seen;
//! - `dfs-referral`: a DFS referral request (SMB2 IOCTL, SMB1 TRANSACTION2) and the path asked for;
//! - `auth`: how a session authenticated (NTLMv1/NTLMv2 and who, Kerberos, anonymous), and
//!   for Kerberos the ticket's service principal and etype (`kerberos-spn`, `kerberos-etype`,
//!   read by `wire::kerberos`);
//! - `smb-encrypted`: SMB3 encryption (a session or share that requires it, transform frames): what
//!   follows is not readable, and nothing is guessed from it.
//!
//! Pipes, shares and the `smb` and `dfs-referral` protocols back services through the catalog's
//! names; bound interfaces through the catalog's interfaces.
//!
//! A capture that starts mid-connection, or loses segments, resynchronises on the next NetBIOS frame
//! start that carries an SMB header; a file whose CREATE was not seen is still read when its first
//! write is a DCE/RPC PDU (the pipe's name is then unknown).
//!
//! Bounds: at most [`MAX_FRAME_KEEP`] bytes of a frame are kept (the rest of a large READ or WRITE
//! is skipped as it streams past, a gap inside it costs no resynchronisation), at most
//! [`MAX_TREES`] trees, [`MAX_FILES`] pipes and [`MAX_PENDING`] unanswered requests per connection
//! (more are counted, not tracked), and [`MAX_SMB_BYTES`] of payload per connection.

use super::{
    Budget, Counter, Evidence, EvidenceKind, Inspector, Offer, Out, Registration, Segment, Step,
    Value,
};
use crate::catalog::NameKind;
use crate::decode::proto;
use crate::wire::dcerpc::{self as rpc, ptype, PduStream};
use crate::wire::{self, dfs, netbios, parse_smb, pipe_key, share_name, smb1, smb2, Smb};

/// SMB over TCP (direct hosting).
pub const SMB_PORT: u16 = 445;
/// The NetBIOS session service.
pub const NETBIOS_SESSION_PORT: u16 = 139;

/// Payload read from one SMB connection at most (both directions).
pub const MAX_SMB_BYTES: u64 = 64 << 20;
/// Bytes of one NetBIOS frame kept for parsing: enough for every message an inspector reads (a
/// DCE/RPC PDU is at most 64 KiB); the rest of a longer frame is skipped.
pub const MAX_FRAME_KEEP: usize = netbios::HEADER_LEN + 64 + 48 + rpc::MAX_BUFFER;
/// Payload read from a connection on an SMB port before giving up when none of it is SMB.
pub const MAX_BYTES_BEFORE_SMB: u64 = 1 << 20;
/// NetBIOS frames read from a connection on an SMB port before giving up when none holds SMB.
pub const MAX_FRAMES_BEFORE_SMB: u32 = 16;
/// Trees (tree connects) tracked per connection.
pub const MAX_TREES: usize = 64;
/// Named pipes tracked per connection.
pub const MAX_FILES: usize = 32;
/// Tree-connect and create requests awaiting their answer, per connection.
pub const MAX_PENDING: usize = 64;
/// Characters of a name from the wire kept in an evidence item.
pub const MAX_VALUE_CHARS: usize = 200;

pub static SMB_CONNECTIONS: Counter = Counter {
    key: "smb_connections",
    text: "SMB connections read",
};
pub static SMB_PIPES: Counter = Counter {
    key: "smb_pipes_opened",
    text: "named pipes opened",
};
pub static SMB_PIPE_BINDS: Counter = Counter {
    key: "smb_pipe_binds",
    text: "DCE/RPC binds over pipes",
};
pub static SMB_ENCRYPTED: Counter = Counter {
    key: "smb_encrypted_frames",
    text: "encrypted SMB3 frames",
};
pub static SMB_RESYNCS: Counter = Counter {
    key: "smb_resyncs",
    text: "SMB streams resynchronised",
};
pub static SMB_NOT_SMB: Counter = Counter {
    key: "smb_ports_not_smb",
    text: "connections on SMB ports that carried no SMB",
};
pub static SMB_UNTRACKED: Counter = Counter {
    key: "smb_untracked",
    text: "SMB trees, pipes or requests not tracked (table full)",
};

pub const SESSION: Registration = Registration {
    name: "smb",
    wants: |o: &Offer| {
        o.protocol == proto::TCP && matches!(o.server_port, SMB_PORT | NETBIOS_SESSION_PORT)
    },
    budget: Budget {
        bytes: MAX_SMB_BYTES,
        segments: u32::MAX,
    },
    start: || Box::<Connection>::default(),
    counters: &[
        &SMB_CONNECTIONS,
        &SMB_PIPES,
        &SMB_PIPE_BINDS,
        &SMB_ENCRYPTED,
        &SMB_RESYNCS,
        &SMB_NOT_SMB,
        &SMB_UNTRACKED,
    ],
};

/// Bytes of a long frame looked at before it is gathered: the NetBIOS header, the SMB2 header
/// and the fixed part of a WRITE up to its file id (SMB1's header and WRITE_ANDX words fit too).
pub const PEEK_LEN: usize = netbios::HEADER_LEN + smb2::HEADER_LEN + 48;
/// A WRITE to a file not known to be a pipe is gathered when its frame is at most this long (a
/// DCE/RPC bind to a pipe whose create was not captured); longer ones are file data.
const MAX_UNKNOWN_WRITE: usize = 8 * 1024;

/// What a framer hands its caller.
enum Part<'a> {
    /// The first [`PEEK_LEN`] bytes (after the NetBIOS header) of a frame of `len` bytes that has
    /// not all arrived: the caller says whether to gather it (else it is passed over unread).
    Start(&'a [u8], usize),
    /// A whole session message (cut to [`MAX_FRAME_KEEP`]).
    Frame(&'a [u8]),
}

/// One direction of the connection, cut into NetBIOS frames. Frames are read where they lie in
/// the segment when they can be; only a frame that spans segments is copied, and only when the
/// caller wants it (a large READ answer or file WRITE is passed over without being copied).
#[derive(Debug, Default)]
struct Framer {
    next_seq: Option<u32>,
    /// `buf` starts at a frame boundary.
    synced: bool,
    /// The start of the current frame (at most [`MAX_FRAME_KEEP`] bytes plus one segment), or,
    /// unsynced, the last bytes searched for a frame start.
    buf: Vec<u8>,
    /// The caller was shown the start of the frame in `buf` and wants it whole.
    peeked: bool,
    /// Bytes of the current frame still to pass over unread.
    skip: usize,
    /// Times the framer lost sync after being in sync.
    resyncs: u64,
}

impl Framer {
    /// Adds a segment; calls `on` with the start of each long frame and with every session message
    /// it completes.
    fn push(&mut self, seq: u32, data: &[u8], on: &mut impl FnMut(Part<'_>) -> bool) {
        // The stream continues after this segment's last byte, whatever part of it is new.
        let end = seq.wrapping_add(data.len() as u32);
        let data = match wire::in_sequence(self.next_seq, seq, data) {
            wire::InSequence::Next(data) => data,
            wire::InSequence::Old => return,
            wire::InSequence::Gap { gap, data } => {
                // Inside a frame being skipped a gap costs nothing; elsewhere sync is lost.
                let current = match netbios::Header::parse(&self.buf) {
                    Ok(h) if self.synced => Some(h.frame_len()),
                    _ => None,
                };
                if self.synced && self.skip > gap {
                    self.skip -= gap;
                } else if let Some(want) = current.filter(|&w| w > self.buf.len() + gap) {
                    // The gap falls inside the frame being gathered: that frame is lost, not the
                    // framing.
                    self.skip = want - self.buf.len() - gap;
                    self.buf.clear();
                    self.peeked = false;
                } else {
                    self.lose_sync();
                }
                data
            }
        };
        self.next_seq = Some(end);
        let mut data = data;
        if self.skip > 0 {
            let n = self.skip.min(data.len());
            self.skip -= n;
            data = &data[n..];
        }
        if self.synced && self.buf.is_empty() {
            data = self.direct(data, on);
        }
        if data.is_empty() {
            return;
        }
        if !self.synced {
            self.search(data, on);
            return;
        }
        self.buf.extend_from_slice(data);
        self.frames(on);
    }

    /// Looks for a frame start in a segment while out of sync, without copying it: only the last
    /// few bytes are kept, for a start that straddles two segments.
    fn search(&mut self, data: &[u8], on: &mut impl FnMut(Part<'_>) -> bool) {
        if !self.buf.is_empty() {
            let kept = self.buf.len();
            self.buf
                .extend_from_slice(&data[..data.len().min(netbios::RESYNC_KEEP + 1)]);
            if let Some(i) = netbios::find_frame_start(&self.buf).filter(|&i| i < kept) {
                self.buf.truncate(kept);
                self.buf.drain(..i);
                self.synced = true;
                self.buf.extend_from_slice(data);
                self.frames(on);
                return;
            }
            self.buf.clear();
        }
        match netbios::find_frame_start(data) {
            Some(i) => {
                self.synced = true;
                let rest = self.direct(&data[i..], on);
                if !rest.is_empty() {
                    self.buf.extend_from_slice(rest);
                    self.frames(on);
                }
            }
            None => {
                let keep = data.len().min(netbios::RESYNC_KEEP);
                self.buf.extend_from_slice(&data[data.len() - keep..]);
            }
        }
    }

    fn lose_sync(&mut self) {
        if self.synced {
            self.resyncs += 1;
        }
        self.synced = false;
        self.skip = 0;
        self.peeked = false;
        self.buf.clear();
    }

    /// Reads the frames that lie whole in `data`, in place; returns what is left (a frame that
    /// continues in the next segment, to be gathered, or bytes after sync was lost).
    fn direct<'d>(
        &mut self,
        mut data: &'d [u8],
        on: &mut impl FnMut(Part<'_>) -> bool,
    ) -> &'d [u8] {
        while data.len() >= netbios::HEADER_LEN {
            let header = match netbios::Header::parse(data) {
                Ok(h) => h,
                Err(_) => {
                    self.resyncs += 1;
                    self.synced = false;
                    return data;
                }
            };
            let want = header.frame_len();
            let session = header.kind == netbios::MessageType::SessionMessage;
            if data.len() >= want {
                if session {
                    on(Part::Frame(
                        &data[netbios::HEADER_LEN..want.min(MAX_FRAME_KEEP)],
                    ));
                }
                data = &data[want..];
                continue;
            }
            if data.len() >= PEEK_LEN && want > PEEK_LEN {
                let wanted = session
                    && on(Part::Start(&data[netbios::HEADER_LEN..PEEK_LEN], want))
                    && want <= MAX_FRAME_KEEP;
                if !wanted {
                    self.skip = want - data.len();
                    return &[];
                }
                self.peeked = true;
            }
            return data;
        }
        data
    }

    /// Takes whole frames (or kept prefixes of long ones) from the buffer.
    fn frames(&mut self, on: &mut impl FnMut(Part<'_>) -> bool) {
        let mut at = 0;
        loop {
            if !self.synced {
                match netbios::find_frame_start(&self.buf[at..]) {
                    Some(i) => {
                        at += i;
                        self.synced = true;
                        self.peeked = false;
                    }
                    None => {
                        at = self.buf.len().saturating_sub(netbios::RESYNC_KEEP).max(at);
                        break;
                    }
                }
            }
            let rest = &self.buf[at..];
            let header = match netbios::Header::parse(rest) {
                Ok(h) => h,
                Err(wire::Error::Truncated { .. }) => break,
                Err(_) => {
                    self.resyncs += 1;
                    self.synced = false;
                    at += 1;
                    continue;
                }
            };
            let want = header.frame_len();
            let session = header.kind == netbios::MessageType::SessionMessage;
            let keep = want.min(MAX_FRAME_KEEP);
            if rest.len() < keep {
                if !self.peeked && rest.len() >= PEEK_LEN && want > PEEK_LEN {
                    let wanted = session
                        && on(Part::Start(&rest[netbios::HEADER_LEN..PEEK_LEN], want))
                        && want <= MAX_FRAME_KEEP;
                    if !wanted {
                        self.skip = want - rest.len();
                        at = self.buf.len();
                        break;
                    }
                    self.peeked = true;
                }
                break;
            }
            if session {
                on(Part::Frame(&rest[netbios::HEADER_LEN..keep]));
            }
            self.peeked = false;
            let held = rest.len();
            if held >= want {
                at += want;
            } else {
                // The rest of a long frame: pass over it as it arrives.
                self.skip = want - held;
                at = self.buf.len();
                break;
            }
        }
        self.buf.drain(..at);
        if self.buf.capacity() > 2 * self.buf.len() + 4096 {
            self.buf.shrink_to(self.buf.len());
        }
    }
}

/// Which file a pipe entry is: a file id from a create response, or a create whose response is
/// still to come (a related compound writes to it before).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FileKey {
    File(u64, u64),
    Pending(u64),
}

/// A named pipe being read.
#[derive(Debug)]
struct Pipe {
    key: FileKey,
    /// The bare pipe name (`lsarpc`); `None` for a file whose create was not seen.
    name: Option<Box<str>>,
    /// Client-to-server DCE/RPC.
    rpc: PduStream,
    /// Bytes written to the pipe so far (the reassembler's sequence numbers).
    written: u32,
    /// The stream stopped parsing as DCE/RPC; it starts again at the next write that begins a PDU.
    lost: bool,
}

/// A tree the connection reached.
#[derive(Debug)]
struct Tree {
    id: u32,
    ipc: bool,
}

/// A request awaiting its answer.
#[derive(Debug)]
enum Pending {
    Tree { id: u64, share: Box<str> },
    Create { id: u64, pipe: Option<Box<str>> },
}

impl Pending {
    fn id(&self) -> u64 {
        match self {
            Pending::Tree { id, .. } | Pending::Create { id, .. } => *id,
        }
    }
}

/// An SMB connection.
#[derive(Debug, Default)]
struct Connection {
    framers: [Framer; 2],
    state: State,
}

#[derive(Debug, Default)]
struct State {
    counted: bool,
    /// Payload bytes seen, both directions.
    bytes: u64,
    /// Some SMB message was read.
    smb: bool,
    /// NetBIOS frames seen (whole, or the start of a long one).
    frames: u32,
    /// The `smb` evidence was recorded.
    noted: bool,
    trees: Vec<Tree>,
    pipes: Vec<Pipe>,
    pending: Vec<Pending>,
    /// Sessions whose authentication was recorded.
    authenticated: u8,
    /// The previous SMB2 message of the current compound: its tree and file.
    compound_tree: u32,
    compound_file: Option<FileKey>,
    encrypted_noted: bool,
}

impl Inspector for Connection {
    fn segment(&mut self, seg: &Segment<'_>, out: &mut Out<'_>) -> Step {
        let Connection { framers, state } = self;
        if !state.counted {
            state.counted = true;
            out.count(&SMB_CONNECTIONS);
        }
        state.bytes += seg.payload.len() as u64;
        let framer = &mut framers[usize::from(!seg.from_client)];
        let before = framer.resyncs;
        framer.push(seg.seq, seg.payload, &mut |part| match part {
            Part::Frame(payload) => {
                state.frames += 1;
                state.message(payload, seg.from_client, out);
                true
            }
            Part::Start(prefix, len) => {
                state.frames += 1;
                state.wants(prefix, len, seg.from_client, out)
            }
        });
        for _ in before..framer.resyncs {
            out.count(&SMB_RESYNCS);
        }
        if !state.smb
            && (state.bytes > MAX_BYTES_BEFORE_SMB || state.frames > MAX_FRAMES_BEFORE_SMB)
        {
            // Something else on an SMB port: not read further.
            out.count(&SMB_NOT_SMB);
            return Step::Done;
        }
        Step::More
    }

    fn held(&self) -> usize {
        self.framers.iter().map(|f| f.buf.len()).sum::<usize>()
            + self
                .state
                .pipes
                .iter()
                .map(|p| p.rpc.buffered())
                .sum::<usize>()
    }
}

/// Text from the wire for an evidence value: at most [`MAX_VALUE_CHARS`] characters.
fn bounded(text: &str) -> Box<str> {
    match text.char_indices().nth(MAX_VALUE_CHARS) {
        Some((i, _)) => format!("{}…", &text[..i]).into(),
        None => text.into(),
    }
}

impl State {
    /// Whether a long frame, of which `prefix` is the start, is worth gathering whole: SMB, and not
    /// a READ answer (the server's data is not read) nor a WRITE of file data; a transform frame is
    /// counted from its header alone.
    fn wants(&mut self, prefix: &[u8], len: usize, from_client: bool, out: &mut Out<'_>) -> bool {
        match wire::Magic::of(prefix) {
            Some(wire::Magic::Transform) => {
                self.smb = true;
                self.transform(out);
                false
            }
            Some(wire::Magic::Smb2) => {
                // A header that does not parse is not SMB2, whatever its first bytes.
                let Ok(h) = smb2::Header::parse(prefix) else {
                    return false;
                };
                self.smb = true;
                if h.next_command != 0 || h.is_response() == from_client {
                    return true;
                }
                match (h.command, h.is_response()) {
                    (smb2::Command::READ, true) => false,
                    (smb2::Command::WRITE, false) => {
                        let id = |at: usize| {
                            prefix
                                .get(at..at + 8)
                                .map_or(0, |b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
                        };
                        let at = smb2::HEADER_LEN + 16;
                        let file = smb2::FileId {
                            persistent: id(at),
                            volatile: id(at + 8),
                        };
                        let key = if file == smb2::FileId::RELATED {
                            self.compound_file
                        } else {
                            Some(FileKey::File(file.persistent, file.volatile))
                        };
                        len <= MAX_UNKNOWN_WRITE
                            || key.is_some_and(|k| self.pipes.iter().any(|p| p.key == k))
                    }
                    _ => true,
                }
            }
            Some(wire::Magic::Smb1) if prefix.len() >= smb1::HEADER_LEN + 7 => {
                if smb1::Header::parse(prefix).is_err() {
                    return false;
                }
                self.smb = true;
                let command = prefix[4];
                let response = prefix[9] & 0x80 != 0;
                match (command, response) {
                    (smb1::cmd::READ_ANDX, true) => false,
                    (smb1::cmd::WRITE_ANDX, false) => {
                        // Word count, AndX command, reserved, offset, then the FID.
                        let at = smb1::HEADER_LEN + 5;
                        let fid = u16::from_le_bytes([prefix[at], prefix[at + 1]]);
                        len <= MAX_UNKNOWN_WRITE
                            || self
                                .pipes
                                .iter()
                                .any(|p| p.key == FileKey::File(u64::from(fid), 0))
                    }
                    _ => true,
                }
            }
            Some(wire::Magic::Smb1) => true,
            Some(wire::Magic::Compressed) => smb2::Compression::parse(prefix).is_ok(),
            // Not SMB inside the NetBIOS frame: nothing to read.
            None => false,
        }
    }

    fn transform(&mut self, out: &mut Out<'_>) {
        out.count(&SMB_ENCRYPTED);
        self.note_smb(out, "SMB3");
        if !self.encrypted_noted {
            self.encrypted_noted = true;
            out.evidence(Evidence::labelled(
                EvidenceKind::SmbEncrypted,
                Value::Text("transform frames".into()),
                None,
            ));
        }
    }

    /// One session message (an SMB message, an SMB2 compound, a transform).
    fn message(&mut self, payload: &[u8], from_client: bool, out: &mut Out<'_>) {
        let parsed = parse_smb(payload);
        self.smb |= parsed.is_ok();
        match parsed {
            Ok(Smb::V1(m)) => self.smb1(m, from_client, out),
            Ok(Smb::V2(compound)) => {
                self.compound_file = None;
                for m in compound {
                    match m {
                        Ok(m) => self.smb2(m, from_client, out),
                        // A message cut by MAX_FRAME_KEEP or malformed: the rest of the chain too.
                        Err(_) => break,
                    }
                }
            }
            Ok(Smb::Transform(_)) => self.transform(out),
            // Compressed messages would need decompressing first; the rest is not SMB or was cut
            // by MAX_FRAME_KEEP: left unread.
            Ok(Smb::Compressed(_)) | Err(_) => {}
        }
    }

    /// The `smb` evidence, once: the dialect when the negotiate answer is seen, else the version.
    fn note_smb(&mut self, out: &mut Out<'_>, what: &str) {
        if self.noted {
            return;
        }
        self.noted = true;
        out.evidence(Evidence {
            kind: EvidenceKind::Smb,
            value: Value::Text(what.into()),
            label: None,
            name: out.catalog.name_id(NameKind::Protocol, "smb"),
        });
    }

    fn named(out: &Out<'_>, kind: EvidenceKind, name_kind: NameKind, text: &str) -> Evidence {
        Evidence {
            kind,
            value: Value::Text(bounded(text)),
            label: None,
            name: out.catalog.name_id(name_kind, text),
        }
    }

    fn expect(&mut self, p: Pending, out: &mut Out<'_>) {
        let id = p.id();
        self.pending.retain(|q| q.id() != id);
        if self.pending.len() >= MAX_PENDING {
            out.count(&SMB_UNTRACKED);
            self.pending.remove(0);
        }
        self.pending.push(p);
    }

    fn answered(&mut self, id: u64) -> Option<Pending> {
        let i = self.pending.iter().position(|p| p.id() == id)?;
        Some(self.pending.remove(i))
    }

    fn tree(&mut self, id: u32, share: &str, out: &mut Out<'_>) {
        let ipc = share.eq_ignore_ascii_case("ipc$");
        out.evidence(Self::named(
            out,
            EvidenceKind::SmbShare,
            NameKind::Share,
            share,
        ));
        self.trees.retain(|t| t.id != id);
        if self.trees.len() >= MAX_TREES {
            out.count(&SMB_UNTRACKED);
            self.trees.remove(0);
        }
        self.trees.push(Tree { id, ipc });
    }

    /// Whether a create on this tree opens a pipe: the tree is IPC$, or (tree connect not seen) the
    /// catalog knows the name as a pipe.
    fn opens_pipe(&self, tree: u32, name: &str, out: &Out<'_>) -> bool {
        match self.trees.iter().find(|t| t.id == tree) {
            Some(t) => t.ipc,
            None => out.catalog.name_id(NameKind::Pipe, name).is_some(),
        }
    }

    /// The bare name of the pipe a create on this tree opens, if it opens one (an empty name is the
    /// share's root, not a pipe).
    fn pipe_name(&self, tree: u32, name: &str, out: &Out<'_>) -> Option<Box<str>> {
        let key = pipe_key(name);
        (!key.is_empty() && self.opens_pipe(tree, name, out)).then(|| bounded(&key))
    }

    fn opened(&mut self, key: FileKey, name: Option<Box<str>>, out: &mut Out<'_>) {
        if let Some(n) = &name {
            out.count(&SMB_PIPES);
            out.evidence(Self::named(out, EvidenceKind::SmbPipe, NameKind::Pipe, n));
        }
        self.pipes.retain(|p| p.key != key);
        if self.pipes.len() >= MAX_FILES {
            out.count(&SMB_UNTRACKED);
            self.pipes.remove(0);
        }
        self.pipes.push(Pipe {
            key,
            name,
            rpc: PduStream::default(),
            written: 0,
            lost: false,
        });
    }

    /// Client-to-server bytes of a file: DCE/RPC when it is a pipe (or an unknown file whose data
    /// starts with a PDU).
    fn written(&mut self, key: FileKey, data: &[u8], out: &mut Out<'_>) {
        if data.is_empty() {
            return;
        }
        let i = match self.pipes.iter().position(|p| p.key == key) {
            Some(i) => i,
            None => {
                if !matches!(rpc::co_header(data), Some(h) if matches!(h.ptype, ptype::BIND | ptype::ALTER_CONTEXT | ptype::REQUEST))
                {
                    return;
                }
                self.opened(key, None, out);
                self.pipes.len() - 1
            }
        };
        let pipe = &mut self.pipes[i];
        if pipe.lost {
            // Start again only where a write begins a PDU.
            if rpc::co_header(data).is_none() {
                return;
            }
            pipe.lost = false;
            pipe.rpc.clear();
            pipe.written = pipe.written.wrapping_add(1 << 20);
        }
        let seq = pipe.written;
        pipe.written = pipe.written.wrapping_add(data.len() as u32);
        let mut binds = Vec::new();
        let mut verifiers = Vec::new();
        let ok = pipe.rpc.push(seq, data, |h, pdu| {
            if matches!(h.ptype, ptype::BIND | ptype::ALTER_CONTEXT) {
                binds.extend(rpc::bind_interfaces(pdu).into_iter().map(|(u, _)| u));
            }
            // RPC over a pipe may authenticate too, beyond the SMB session (a few per pipe).
            if matches!(h.ptype, ptype::BIND | ptype::ALTER_CONTEXT | ptype::AUTH3)
                && h.auth_len > 0
                && verifiers.len() < 2
            {
                verifiers.push((*h, pdu.to_vec()));
            }
        });
        for (h, pdu) in &verifiers {
            super::dcerpc::auth(pdu, h, out);
        }
        if !ok {
            pipe.lost = true;
        }
        for uuid in binds {
            out.count(&SMB_PIPE_BINDS);
            let label = out.catalog.interface_label(uuid, false);
            out.evidence(Evidence::labelled(
                EvidenceKind::PipeBind,
                Value::Interface(uuid),
                label,
            ));
        }
    }

    fn closed(&mut self, key: FileKey) {
        self.pipes.retain(|p| p.key != key);
    }

    fn referral(&mut self, request: &[u8], ex: bool, out: &mut Out<'_>) {
        let r = if ex {
            dfs::Request::parse_ex(request)
        } else {
            dfs::Request::parse(request)
        };
        let Ok(r) = r else { return };
        let path = r.file_name.decode();
        out.evidence(Evidence {
            kind: EvidenceKind::DfsReferral,
            value: Value::Text(bounded(&path)),
            label: None,
            name: out.catalog.name_id(NameKind::Protocol, "dfs-referral"),
        });
    }

    /// A session setup's security blob: how the client authenticates (and, for Kerberos, the
    /// service principal and etype of the ticket presented).
    fn blob(&mut self, blob: &[u8], out: &mut Out<'_>) {
        if blob.is_empty() || self.authenticated >= 4 {
            return;
        }
        if super::auth::token(blob, out) {
            self.authenticated += 1;
        }
    }

    fn encrypted(&mut self, what: &str, out: &mut Out<'_>) {
        out.evidence(Evidence::labelled(
            EvidenceKind::SmbEncrypted,
            Value::Text(bounded(what)),
            None,
        ));
    }

    fn smb2(&mut self, m: smb2::Message<'_>, from_client: bool, out: &mut Out<'_>) {
        use smb2::Body;
        let h = m.header;
        // In a related compound, the tree and file of the previous message.
        let tree = match h.tree_id() {
            Some(t) if h.is_related() && t == u32::MAX => self.compound_tree,
            Some(t) => t,
            None => self.compound_tree,
        };
        self.compound_tree = tree;
        let file = |id: smb2::FileId, s: &State| {
            if id == smb2::FileId::RELATED && h.is_related() {
                s.compound_file
            } else {
                Some(FileKey::File(id.persistent, id.volatile))
            }
        };
        if h.is_response() == from_client {
            // A response from the client's side: the sides are not what they seem; read nothing.
            return;
        }
        if h.is_response() && m.is_error_response() {
            // A failed tree connect or create: nothing was reached or opened.
            self.answered(h.message_id);
            return;
        }
        let Ok(body) = m.body() else { return };
        if !matches!(body, Body::NegotiateRequest(_) | Body::NegotiateResponse(_)) {
            self.note_smb(out, "SMB 2/3");
        }
        let ok = !h.status.is_error() || !h.is_response();
        match body {
            // The wildcard answer to a multi-protocol negotiate: the real one follows.
            Body::NegotiateResponse(n) if ok && n.dialect != smb2::Dialect::WILDCARD => {
                let dialect = n.dialect.name();
                self.note_smb(out, dialect);
                self.blob(n.security_buffer, out);
            }
            Body::SessionSetupRequest(s) => self.blob(s.security_buffer, out),
            Body::SessionSetupResponse(s) if ok && s.encrypts() => {
                self.encrypted("session", out);
            }
            Body::TreeConnectRequest(t) => {
                let path = t.path.decode();
                let share = bounded(share_name(&path));
                self.expect(
                    Pending::Tree {
                        id: h.message_id,
                        share,
                    },
                    out,
                );
            }
            Body::TreeConnectResponse(t) => {
                if let Some(Pending::Tree { share, .. }) = self.answered(h.message_id) {
                    if ok {
                        self.tree(tree, &share, out);
                        if t.encrypts() {
                            self.encrypted(&format!("share {share}"), out);
                        }
                    }
                }
            }
            Body::CreateRequest(c) => {
                let name = c.name.decode();
                let pipe = self.pipe_name(tree, &name, out);
                if pipe.is_some() {
                    self.compound_file = Some(FileKey::Pending(h.message_id));
                }
                self.expect(
                    Pending::Create {
                        id: h.message_id,
                        pipe,
                    },
                    out,
                );
            }
            Body::CreateResponse(c) => {
                if let Some(Pending::Create { pipe, id }) = self.answered(h.message_id) {
                    let key = FileKey::File(c.file_id.persistent, c.file_id.volatile);
                    if ok && pipe.is_some() {
                        // A related write already created the entry under the request's id.
                        if let Some(p) = self
                            .pipes
                            .iter_mut()
                            .find(|p| p.key == FileKey::Pending(id))
                        {
                            p.key = key;
                            out.count(&SMB_PIPES);
                            let name = p.name.clone().unwrap_or_default();
                            out.evidence(Self::named(
                                out,
                                EvidenceKind::SmbPipe,
                                NameKind::Pipe,
                                &name,
                            ));
                        } else {
                            self.opened(key, pipe, out);
                        }
                    } else {
                        self.closed(FileKey::Pending(id));
                    }
                }
            }
            Body::WriteRequest(w) => {
                if let Some(key) = file(w.file_id, self) {
                    self.write_to(key, w.data, out);
                }
            }
            Body::IoctlRequest(i) => match i.ctl_code {
                smb2::ctl::FSCTL_PIPE_TRANSCEIVE => {
                    if let Some(key) = file(i.file_id, self) {
                        self.write_to(key, i.input, out);
                    }
                }
                smb2::ctl::FSCTL_DFS_GET_REFERRALS => self.referral(i.input, false, out),
                smb2::ctl::FSCTL_DFS_GET_REFERRALS_EX => self.referral(i.input, true, out),
                _ => {}
            },
            Body::CloseRequest(c) => {
                if let Some(key) = file(c.file_id, self) {
                    self.closed(key);
                }
            }
            _ => {}
        }
    }

    /// Bytes written to a file: a pipe's entry may still be pending its create's answer.
    fn write_to(&mut self, key: FileKey, data: &[u8], out: &mut Out<'_>) {
        if let FileKey::Pending(id) = key {
            if !self.pipes.iter().any(|p| p.key == key) {
                let name = self.pending.iter().find_map(|p| match p {
                    Pending::Create { id: i, pipe } if *i == id => pipe.clone(),
                    _ => None,
                });
                let Some(name) = name else { return };
                // Counted and recorded when the create is answered.
                if self.pipes.len() >= MAX_FILES {
                    out.count(&SMB_UNTRACKED);
                    self.pipes.remove(0);
                }
                self.pipes.push(Pipe {
                    key,
                    name: Some(name),
                    rpc: PduStream::default(),
                    written: 0,
                    lost: false,
                });
            }
        }
        self.written(key, data, out);
    }

    fn smb1(&mut self, m: smb1::Message<'_>, from_client: bool, out: &mut Out<'_>) {
        use smb1::Body;
        let h = m.header;
        if h.is_response() == from_client {
            return;
        }
        let ok = !h.is_error();
        let id = u64::from(h.pid) << 16 | u64::from(h.mid);
        if h.is_response() && !ok {
            // A failed request: its answer has no parameters to read.
            self.answered(id);
            return;
        }
        for block in m.blocks() {
            let Ok(block) = block else { return };
            let Ok(body) = block.body() else { return };
            if !matches!(body, Body::NegotiateRequest(_)) {
                self.note_smb(out, "SMB1");
            }
            match body {
                Body::SessionSetupRequest(s) => {
                    if let Some(blob) = s.security_blob {
                        self.blob(blob, out);
                    }
                }
                Body::TreeConnectRequest(t) => {
                    let path = t.path.decode();
                    let share = bounded(share_name(&path));
                    self.expect(Pending::Tree { id, share }, out);
                }
                Body::TreeConnectResponse(_) => {
                    if let Some(Pending::Tree { share, .. }) = self.answered(id) {
                        if ok {
                            self.tree(u32::from(h.tid), &share, out);
                        }
                    }
                }
                Body::NtCreateRequest(c) => {
                    let name = c.name.decode();
                    let pipe = self.pipe_name(u32::from(h.tid), &name, out);
                    self.expect(Pending::Create { id, pipe }, out);
                }
                Body::NtCreateResponse(c) => {
                    if let Some(Pending::Create { pipe, .. }) = self.answered(id) {
                        if ok && pipe.is_some() {
                            self.opened(FileKey::File(u64::from(c.fid), 0), pipe, out);
                        }
                    }
                }
                Body::WriteAndXRequest(w) => {
                    self.written(FileKey::File(u64::from(w.fid), 0), w.data, out)
                }
                Body::Transaction(t) => {
                    if let Some(fid) = t.pipe_fid() {
                        self.written(FileKey::File(u64::from(fid), 0), t.data, out);
                    }
                }
                Body::Transaction2(t) if t.subcommand() == Some(smb1::TRANS2_GET_DFS_REFERRAL) => {
                    self.referral(t.parameters, false, out)
                }
                Body::CloseRequest { fid } => self.closed(FileKey::File(u64::from(fid), 0)),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Uuid;
    use crate::inspect::bench::{ev, Bench};
    use crate::wire::smb2::tests::header;

    const RESPONSE: u32 = 1;
    const RELATED: u32 = 4;

    fn utf16(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    fn msg(command: u16, flags: u32, mid: u64, tree: u32, body: &[u8]) -> Vec<u8> {
        let mut m = header(command, flags, 0, 0, mid);
        m[36..40].copy_from_slice(&tree.to_le_bytes());
        m.extend_from_slice(body);
        m
    }

    fn tree_connect(mid: u64, path: &str) -> Vec<u8> {
        let p = utf16(path);
        let mut b = vec![9, 0, 0, 0];
        b.extend(72u16.to_le_bytes());
        b.extend((p.len() as u16).to_le_bytes());
        b.extend(p);
        msg(3, 0, mid, 0, &b)
    }

    fn tree_connected(mid: u64, tree: u32, share_flags: u32) -> Vec<u8> {
        let mut b = vec![16, 0, 2, 0];
        b.extend(share_flags.to_le_bytes());
        b.extend([0; 8]);
        msg(3, RESPONSE, mid, tree, &b)
    }

    fn create(mid: u64, tree: u32, name: &str, flags: u32) -> Vec<u8> {
        let n = utf16(name);
        let mut b = vec![57, 0, 0, 0];
        b.extend([0; 40]);
        b.extend(120u16.to_le_bytes());
        b.extend((n.len() as u16).to_le_bytes());
        b.extend([0; 8]);
        b.extend(n);
        msg(5, flags, mid, tree, &b)
    }

    fn created(mid: u64, tree: u32, file: u64) -> Vec<u8> {
        let mut b = vec![89, 0, 0, 0];
        b.extend([0; 60]);
        b.extend(file.to_le_bytes());
        b.extend(file.to_le_bytes());
        b.extend([0; 8]);
        b.push(0);
        msg(5, RESPONSE, mid, tree, &b)
    }

    fn write(mid: u64, tree: u32, file: u64, flags: u32, data: &[u8]) -> Vec<u8> {
        let mut b = vec![49, 0];
        b.extend(112u16.to_le_bytes());
        b.extend((data.len() as u32).to_le_bytes());
        b.extend([0; 8]);
        b.extend(file.to_le_bytes());
        b.extend(file.to_le_bytes());
        b.extend([0; 16]);
        b.extend(data);
        msg(9, flags, mid, tree, &b)
    }

    /// One NetBIOS session message holding `messages` as a compound.
    fn frame(messages: &[Vec<u8>]) -> Vec<u8> {
        let mut body = Vec::new();
        for (i, m) in messages.iter().enumerate() {
            let mut m = m.clone();
            if i + 1 < messages.len() {
                while m.len() % 8 != 0 {
                    m.push(0);
                }
                let next = m.len() as u32;
                m[20..24].copy_from_slice(&next.to_le_bytes());
            }
            body.extend(m);
        }
        let mut f = (body.len() as u32).to_be_bytes().to_vec();
        f.extend(body);
        f
    }

    /// The bench for an SMB connection: a frame kept, one segment and a PDU per pipe at most.
    type Run = Bench<Connection>;

    fn run() -> Run {
        Bench::new(
            Connection::default(),
            SMB_PORT,
            2 * (MAX_FRAME_KEEP + 65_536) + 2 * rpc::MAX_BUFFER,
        )
    }

    /// One TCP segment.
    fn segment(r: &mut Run, from_client: bool, seq: u32, payload: &[u8]) {
        r.segment(proto::TCP, from_client, seq, payload);
    }

    const LSARPC: &str = "12345778-1234-abcd-ef00-0123456789ab";
    const SAMR: &str = "12345778-1234-abcd-ef00-0123456789ac";

    fn bind(uuid: &str) -> Vec<u8> {
        crate::wire::dcerpc::tests::bind(1, Uuid::parse(uuid).unwrap(), 0)
    }

    #[test]
    fn shares_pipes_and_binds_over_pipes_are_evidence() {
        let mut r = run();
        r.send(true, &frame(&[tree_connect(1, "\\\\dc1\\IPC$")]), 1460);
        r.send(false, &frame(&[tree_connected(1, 7, 0)]), 1460);
        r.send(true, &frame(&[create(2, 7, "lsarpc", 0)]), 1460);
        r.send(false, &frame(&[created(2, 7, 0x11)]), 1460);
        // The bind split across two writes, each cut into small segments.
        let b = bind(LSARPC);
        r.send(true, &frame(&[write(3, 7, 0x11, 0, &b[..30])]), 40);
        r.send(true, &frame(&[write(4, 7, 0x11, 0, &b[30..])]), 40);
        assert_eq!(
            r.found(),
            vec![
                ev("smb", "SMB 2/3"),
                ev("smb-share", "IPC$"),
                ev("smb-pipe", "lsarpc"),
                ev("pipe-bind", LSARPC),
            ]
        );
        assert_eq!(r.counters.get("smb_pipes_opened"), 1);
        assert_eq!(r.counters.get("smb_pipe_binds"), 1);
        // The bind backs the interface's service.
        let bound = r.evidence.iter().last().unwrap();
        let services: Vec<&str> = bound
            .services(&r.catalog)
            .iter()
            .map(|&s| r.catalog.service(s).name.as_str())
            .collect();
        assert_eq!(services, ["Local Security Authority"]);
    }

    #[test]
    fn a_related_compound_writes_to_the_pipe_it_creates() {
        let mut r = run();
        r.send(true, &frame(&[tree_connect(1, "\\\\dc1\\IPC$")]), 1460);
        r.send(false, &frame(&[tree_connected(1, 7, 0)]), 1460);
        // CREATE samr + related WRITE (file id all ones), in one frame; then the answers.
        let related = write(6, u32::MAX, u64::MAX, RELATED, &bind(SAMR));
        r.send(
            true,
            &frame(&[create(5, 7, "\\PIPE\\samr", 0), related]),
            1460,
        );
        r.send(false, &frame(&[created(5, 7, 0x22)]), 1460);
        let found = r.found();
        assert!(found.contains(&ev("pipe-bind", SAMR)), "{found:?}");
        assert!(found.contains(&ev("smb-pipe", "samr")), "{found:?}");
        // Later writes to the file id reach the same pipe.
        r.send(true, &frame(&[write(7, 7, 0x22, 0, &bind(LSARPC))]), 1460);
        assert!(r.found().contains(&ev("pipe-bind", LSARPC)));
    }

    #[test]
    fn a_create_of_the_ipc_root_is_not_a_pipe() {
        let mut r = run();
        r.send(true, &frame(&[tree_connect(1, "\\\\dc1\\IPC$")]), 1460);
        r.send(false, &frame(&[tree_connected(1, 7, 0)]), 1460);
        r.send(true, &frame(&[create(2, 7, "", 0)]), 1460);
        r.send(false, &frame(&[created(2, 7, 0x11)]), 1460);
        assert!(
            !r.found().iter().any(|(k, _)| *k == "smb-pipe"),
            "{:?}",
            r.found()
        );
    }

    #[test]
    fn a_failed_create_opens_nothing() {
        let mut r = run();
        r.send(true, &frame(&[tree_connect(1, "\\\\dc1\\IPC$")]), 1460);
        r.send(false, &frame(&[tree_connected(1, 7, 0)]), 1460);
        r.send(true, &frame(&[create(2, 7, "spoolss", 0)]), 1460);
        let mut failed = header(5, RESPONSE, 0xc000_0034, 0, 2);
        failed.extend([9, 0, 0, 0, 0, 0, 0, 0, 0]);
        r.send(false, &frame(&[failed]), 1460);
        assert!(!r.found().iter().any(|(k, _)| *k == "smb-pipe"));
        assert!(r.inspector.state.pending.is_empty());
    }

    #[test]
    fn a_connection_caught_mid_stream_resynchronises_and_reads_binds_to_unknown_files() {
        let mut r = run();
        // The capture starts in the middle of a large read answer.
        let mut junk = vec![0x5a; 3000];
        junk[100..108].copy_from_slice(b"\0\0\x10\0SMB!");
        r.send(false, &junk, 1460);
        // Then a write of a bind to a file whose create was not seen.
        r.send(true, &[7u8; 50], 50);
        r.send(true, &frame(&[write(9, 7, 0x33, 0, &bind(SAMR))]), 1460);
        assert!(
            r.found().contains(&ev("pipe-bind", SAMR)),
            "{:?}",
            r.found()
        );
        // A file write that is not DCE/RPC is not a pipe.
        r.send(
            true,
            &frame(&[write(10, 7, 0x44, 0, b"hello, world")]),
            1460,
        );
        assert_eq!(r.inspector.state.pipes.len(), 1);
    }

    #[test]
    fn long_frames_are_skipped_and_a_gap_inside_them_keeps_sync() {
        let mut r = run();
        // A 1 MiB write of file data.
        let big = write(1, 7, 0x55, 0, &vec![0xab; 1 << 20]);
        let f = frame(&[big]);
        let start = r.seq[0];
        segment(&mut r, true, start, &f[..1460]);
        // Lose 100 KB in the middle, then the rest arrives.
        let resume = 1460 + 100_000;
        segment(
            &mut r,
            true,
            start.wrapping_add(resume as u32),
            &f[resume..resume + 1460],
        );
        let mut at = resume + 1460;
        while at < f.len() {
            let end = (at + 65_000).min(f.len());
            segment(&mut r, true, start.wrapping_add(at as u32), &f[at..end]);
            at = end;
        }
        r.seq[0] = start.wrapping_add(f.len() as u32);
        assert!(r.inspector.held() <= MAX_FRAME_KEEP + 65_000);
        // The next frame is read: no resynchronisation was needed.
        r.send(true, &frame(&[tree_connect(2, "\\\\fs\\Projects")]), 1460);
        r.send(false, &frame(&[tree_connected(2, 9, 0)]), 1460);
        assert!(r.found().contains(&ev("smb-share", "Projects")));
        assert_eq!(r.counters.get("smb_resyncs"), 0);
    }

    fn read_response(mid: u64, data: &[u8]) -> Vec<u8> {
        let mut b = vec![17, 0, 80, 0];
        b.extend((data.len() as u32).to_le_bytes());
        b.extend([0; 8]);
        b.extend(data);
        msg(8, RESPONSE, mid, 7, &b)
    }

    /// File data streams past uncopied: a large READ answer and a large WRITE to a file that is not
    /// a pipe are looked at (their first bytes) and passed over, whatever the segment sizes.
    #[test]
    fn file_data_is_passed_over_without_being_gathered() {
        for mss in [1460, 100, 65_000] {
            let mut r = run();
            let read = frame(&[read_response(1, &vec![0x42; 60_000])]);
            let d = 1;
            for chunk in read.chunks(mss) {
                let seq = r.seq[d];
                segment(&mut r, false, seq, chunk);
                r.seq[d] = r.seq[d].wrapping_add(chunk.len() as u32);
                assert!(
                    r.inspector.held() <= mss.max(PEEK_LEN),
                    "{mss}: {}",
                    r.inspector.held()
                );
            }
            let data = frame(&[write(2, 7, 0x99, 0, &vec![0x43; 50_000])]);
            for chunk in data.chunks(mss) {
                let seq = r.seq[0];
                segment(&mut r, true, seq, chunk);
                r.seq[0] = r.seq[0].wrapping_add(chunk.len() as u32);
                assert!(
                    r.inspector.held() <= mss.max(PEEK_LEN),
                    "{mss}: {}",
                    r.inspector.held()
                );
            }
            // Still in step: the next messages are read.
            r.send(true, &frame(&[tree_connect(3, "\\\\fs\\Projects")]), mss);
            r.send(false, &frame(&[tree_connected(3, 9, 0)]), mss);
            assert!(r.found().contains(&ev("smb-share", "Projects")), "{mss}");
            // A bind written to a file whose create was not seen, in small segments, is read.
            r.send(true, &frame(&[write(4, 7, 0x33, 0, &bind(SAMR))]), 30);
            assert!(r.found().contains(&ev("pipe-bind", SAMR)), "{mss}");
            assert_eq!(r.counters.get("smb_resyncs"), 0);
        }
    }

    /// Something that is not SMB on port 445 (a tunnel, a scanner's noise) is scanned for a frame
    /// start without being copied, and given up after a bound.
    #[test]
    fn a_connection_that_never_carries_smb_is_given_up() {
        let mut r = run();
        let mut x = 0x1234_5678u32;
        let noise: Vec<u8> = (0..1460 * 800)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        for chunk in noise.chunks(1460) {
            r.send(true, chunk, 1460);
            assert!(r.inspector.held() <= netbios::RESYNC_KEEP);
            if r.step() == Step::Done {
                break;
            }
        }
        assert_eq!(r.step(), Step::Done);
        assert_eq!(r.counters.get("smb_ports_not_smb"), 1);
        assert!(r.evidence.is_empty());
    }

    #[test]
    fn an_encrypting_share_and_transform_frames_are_said_not_guessed() {
        let mut r = run();
        r.send(true, &frame(&[tree_connect(1, "\\\\fs\\Finance")]), 1460);
        r.send(false, &frame(&[tree_connected(1, 9, 0x8000)]), 1460);
        let mut t = b"\xfdSMB".to_vec();
        t.extend([0x11; 48]);
        t.extend([0x22; 80]);
        r.send(true, &frame(&[t]), 1460);
        let found = r.found();
        assert!(
            found.contains(&ev("smb-encrypted", "share Finance")),
            "{found:?}"
        );
        assert!(found.contains(&ev("smb-encrypted", "transform frames")));
        assert_eq!(r.counters.get("smb_encrypted_frames"), 1);
    }

    #[test]
    fn tables_stay_bounded_under_a_flood_of_opens() {
        let mut r = run();
        r.send(true, &frame(&[tree_connect(1, "\\\\dc1\\IPC$")]), 1460);
        r.send(false, &frame(&[tree_connected(1, 7, 0)]), 1460);
        for i in 0..1000u64 {
            r.send(
                true,
                &frame(&[create(10 + i, 7, &format!("p{i}"), 0)]),
                1460,
            );
            r.send(false, &frame(&[created(10 + i, 7, 100 + i)]), 1460);
            r.send(true, &frame(&[create(5000 + i, 7, "x", 0)]), 1460);
        }
        assert!(r.inspector.state.pipes.len() <= MAX_FILES);
        assert!(r.inspector.state.pending.len() <= MAX_PENDING);
        assert!(r.counters.get("smb_untracked") > 0);
    }

    /// An SMB2 SESSION_SETUP request whose SPNEGO NegTokenInit carries a GSS-wrapped AP-REQ.
    fn session_setup_kerberos(ap_req: &[u8]) -> Vec<u8> {
        use crate::wire::spnego::oid;
        let der = crate::wire::kerberos::tests::der;
        let mut krb = der(0x06, oid::KERBEROS);
        krb.extend([0x01, 0x00]);
        krb.extend_from_slice(ap_req);
        let token = der(0x60, &krb);
        let mut init = der(0xa0, &der(0x30, &der(0x06, oid::MS_KERBEROS)));
        init.extend(der(0xa2, &der(0x04, &token)));
        let mut blob = der(0x06, oid::SPNEGO);
        blob.extend(der(0xa0, &der(0x30, &init)));
        let blob = der(0x60, &blob);
        let mut b = vec![25, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        b.extend(88u16.to_le_bytes());
        b.extend((blob.len() as u16).to_le_bytes());
        b.extend([0; 8]);
        b.extend(blob);
        msg(1, 0, 1, 0, &b)
    }

    #[test]
    fn a_kerberos_session_setup_names_the_ticket_service_and_etype() {
        let mut r = run();
        let ap = crate::wire::kerberos::tests::ap_req(
            "CORP.EXAMPLE.COM",
            &["cifs", "fs01.corp.example.com"],
            23,
        );
        r.send(true, &frame(&[session_setup_kerberos(&ap)]), 1460);
        assert_eq!(
            r.found(),
            vec![
                ev("smb", "SMB 2/3"),
                ev("auth", "Kerberos"),
                ev("kerberos-spn", "cifs/fs01.corp.example.com"),
                ev("kerberos-etype", "rc4-hmac (weak)"),
            ]
        );
        let spn = r.evidence.iter().nth(2).unwrap();
        let services: Vec<&str> = spn
            .services(&r.catalog)
            .iter()
            .map(|&s| r.catalog.service(s).name.as_str())
            .collect();
        assert_eq!(services, ["Server"]);
        assert_eq!(r.counters.get("kerberos_weak_etypes"), 1);
    }

    #[test]
    fn wire_values_are_bounded() {
        let long = "x".repeat(5000);
        assert_eq!(bounded(&long).chars().count(), MAX_VALUE_CHARS + 1);
        assert_eq!(&*bounded("IPC$"), "IPC$");
    }

    /// A piece of an SMB connection for the property below: a valid message, or noise.
    fn piece() -> impl proptest::strategy::Strategy<Value = (bool, Vec<u8>, u8)> {
        use proptest::prelude::*;
        let valid = prop_oneof![
            (0u64..4).prop_map(|m| frame(&[tree_connect(m, "\\\\dc\\IPC$")])),
            (0u64..4, 0u32..3).prop_map(|(m, t)| frame(&[tree_connected(m, t, 0)])),
            (0u64..4, 0u32..3).prop_map(|(m, t)| frame(&[create(m, t, "lsarpc", 0)])),
            (0u64..4, 0u64..3).prop_map(|(m, f)| frame(&[created(m, 1, f)])),
            (0u64..4, 0u64..3, 0usize..80).prop_map(|(m, f, cut)| {
                let b = bind(SAMR);
                frame(&[write(m, 1, f, 0, &b[..cut.min(b.len())])])
            }),
        ];
        let bytes = prop_oneof![valid, proptest::collection::vec(any::<u8>(), 0..300)];
        (any::<bool>(), bytes, any::<u8>())
    }

    proptest::proptest! {
        #![proptest_config(crate::testing::proptest_config(64))]

        /// Any mix of messages, noise, gaps and retransmissions: no panic, and every table and
        /// buffer within its bound.
        #[test]
        fn any_segments_keep_the_bounds(pieces in proptest::collection::vec(piece(), 1..40)) {
            let mut r = run();
            for (from_client, bytes, jump) in pieces {
                let d = usize::from(!from_client);
                // Sometimes skip ahead (a gap) or step back (a retransmission).
                match jump % 8 {
                    0 => r.seq[d] = r.seq[d].wrapping_add(u32::from(jump)),
                    1 => r.seq[d] = r.seq[d].wrapping_sub(u32::from(jump)),
                    _ => {}
                }
                if bytes.is_empty() {
                    continue;
                }
                r.send(from_client, &bytes, 1 + usize::from(jump) * 7);
                let st = &r.inspector.state;
                proptest::prop_assert!(st.pipes.len() <= MAX_FILES);
                proptest::prop_assert!(st.trees.len() <= MAX_TREES);
                proptest::prop_assert!(st.pending.len() <= MAX_PENDING);
                proptest::prop_assert!(r.evidence.len() <= crate::inspect::MAX_EVIDENCE);
            }
        }
    }
}
