//! SMB1 / CIFS (MS-CIFS 2.2, MS-SMB 2.2): the 32-byte header, AndX chains, and the bodies an
//! inspector reads — negotiate, session setup, tree connect, NT create, transactions (named-pipe
//! TransactNmPipe, TRANSACTION2 GET_DFS_REFERRAL), read, write and close.
//!
//! After the header each command is a parameter block (a word count and that many 16-bit words) and
//! a data block (a byte count and the bytes). AndX commands chain a next command at an offset from
//! the header's start; offsets must strictly increase, so a chain cannot loop and ends within the
//! message. Data offsets (transactions, read, write) also count from the header's start and are
//! checked against the message. Unicode strings (flags2 UNICODE) start 2-byte aligned from the
//! header.

use super::{le16, le32, le64, slice, Encoding, Error, Result, WireStr};
use crate::wire::smb2::U16List;

pub const PROTOCOL_ID: &[u8; 4] = b"\xffSMB";
pub const HEADER_LEN: usize = 32;

/// Command codes.
pub mod cmd {
    pub const CLOSE: u8 = 0x04;
    pub const TRANSACTION: u8 = 0x25;
    pub const TRANSACTION_SECONDARY: u8 = 0x26;
    pub const LOCKING_ANDX: u8 = 0x24;
    pub const OPEN_ANDX: u8 = 0x2d;
    pub const READ_ANDX: u8 = 0x2e;
    pub const WRITE_ANDX: u8 = 0x2f;
    pub const TRANSACTION2: u8 = 0x32;
    pub const TRANSACTION2_SECONDARY: u8 = 0x33;
    pub const TREE_DISCONNECT: u8 = 0x71;
    pub const NEGOTIATE: u8 = 0x72;
    pub const SESSION_SETUP_ANDX: u8 = 0x73;
    pub const LOGOFF_ANDX: u8 = 0x74;
    pub const TREE_CONNECT_ANDX: u8 = 0x75;
    pub const NT_TRANSACT: u8 = 0xa0;
    pub const NT_CREATE_ANDX: u8 = 0xa2;
    /// "No further command" in an AndX header.
    pub const NO_ANDX: u8 = 0xff;

    /// Whether the command's parameter block starts with an AndX header.
    pub fn is_andx(c: u8) -> bool {
        matches!(
            c,
            LOCKING_ANDX
                | OPEN_ANDX
                | READ_ANDX
                | WRITE_ANDX
                | SESSION_SETUP_ANDX
                | LOGOFF_ANDX
                | TREE_CONNECT_ANDX
                | NT_CREATE_ANDX
        )
    }
}

/// Header flags.
pub mod flags {
    pub const CASE_INSENSITIVE: u8 = 0x08;
    /// The message is a response.
    pub const REPLY: u8 = 0x80;
}

/// Header flags2.
pub mod flags2 {
    pub const LONG_NAMES: u16 = 0x0001;
    pub const SECURITY_SIGNATURE: u16 = 0x0004;
    pub const EXTENDED_SECURITY: u16 = 0x0800;
    pub const DFS: u16 = 0x1000;
    pub const NT_STATUS: u16 = 0x4000;
    pub const UNICODE: u16 = 0x8000;
}

/// TRANSACTION subcommands (setup word 0).
pub const TRANS_TRANSACT_NMPIPE: u16 = 0x0026;
/// TRANSACTION2 subcommand.
pub const TRANS2_GET_DFS_REFERRAL: u16 = 0x0010;

/// Capabilities (negotiate response).
pub const CAP_EXTENDED_SECURITY: u32 = 0x8000_0000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub command: u8,
    /// An NTSTATUS when flags2 has NT_STATUS, else DOS error class (low byte) and code (high half).
    pub status: u32,
    pub flags: u8,
    pub flags2: u16,
    pub tid: u16,
    /// PIDHigh << 16 | PIDLow.
    pub pid: u32,
    pub uid: u16,
    pub mid: u16,
}

impl Header {
    pub fn parse(b: &[u8]) -> Result<Header> {
        match b.get(..4) {
            Some(id) if id == PROTOCOL_ID => {}
            Some(_) => return Err(Error::NotSmb),
            None => return Err(Error::Truncated { need: HEADER_LEN }),
        }
        if b.len() < HEADER_LEN {
            return Err(Error::Truncated { need: HEADER_LEN });
        }
        Ok(Header {
            command: b[4],
            status: le32(b, 5),
            flags: b[9],
            flags2: le16(b, 10),
            tid: le16(b, 24),
            pid: u32::from(le16(b, 12)) << 16 | u32::from(le16(b, 26)),
            uid: le16(b, 28),
            mid: le16(b, 30),
        })
    }

    pub fn is_response(&self) -> bool {
        self.flags & flags::REPLY != 0
    }

    pub fn is_unicode(&self) -> bool {
        self.flags2 & flags2::UNICODE != 0
    }

    /// The NTSTATUS, when the header carries one.
    pub fn nt_status(&self) -> Option<u32> {
        (self.flags2 & flags2::NT_STATUS != 0).then_some(self.status)
    }

    /// Whether the status says the command failed (NT error severity, or a DOS error class).
    pub fn is_error(&self) -> bool {
        match self.nt_status() {
            Some(s) => s >> 30 == 3,
            None => self.status & 0xff != 0,
        }
    }
}

/// One SMB1 message: the header and its bytes; [`Message::blocks`] walks the AndX chain.
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    pub header: Header,
    pub raw: &'a [u8],
}

impl<'a> Message<'a> {
    /// Parses the header and checks the first command's blocks.
    pub fn parse(raw: &'a [u8]) -> Result<Message<'a>> {
        let header = Header::parse(raw)?;
        let m = Message { header, raw };
        m.block_at(HEADER_LEN, header.command)?;
        Ok(m)
    }

    /// The commands of the message: the first, then each AndX follower.
    pub fn blocks(&self) -> Blocks<'a> {
        Blocks {
            msg: *self,
            next: Next::At(HEADER_LEN, self.header.command),
        }
    }

    fn block_at(&self, at: usize, command: u8) -> Result<Block<'a>> {
        let raw = self.raw;
        let wc = usize::from(*raw.get(at).ok_or(Error::Truncated { need: at + 1 })?);
        let words = slice(raw, at + 1, wc * 2)?;
        let bc_at = at + 1 + wc * 2;
        let bc = usize::from(le16(slice(raw, bc_at, 2)?, 0));
        let bytes_at = bc_at + 2;
        let bytes = slice(raw, bytes_at, bc)?;
        Ok(Block {
            header: self.header,
            raw,
            command,
            offset: at,
            words,
            bytes,
            bytes_at,
        })
    }
}

/// The AndX chain of a message.
#[derive(Clone, Copy, Debug)]
pub struct Blocks<'a> {
    msg: Message<'a>,
    next: Next,
}

#[derive(Clone, Copy, Debug)]
enum Next {
    At(usize, u8),
    Fail(Error),
    Done,
}

impl<'a> Iterator for Blocks<'a> {
    type Item = Result<Block<'a>>;
    fn next(&mut self) -> Option<Self::Item> {
        let (at, command) = match std::mem::replace(&mut self.next, Next::Done) {
            Next::At(at, command) => (at, command),
            Next::Fail(e) => return Some(Err(e)),
            Next::Done => return None,
        };
        let block = match self.msg.block_at(at, command) {
            Ok(b) => b,
            Err(e) => return Some(Err(e)),
        };
        if cmd::is_andx(command) && block.words.len() >= 4 {
            let next_cmd = block.words[0];
            let next_at = usize::from(le16(block.words, 2));
            if next_cmd != cmd::NO_ANDX {
                self.next = if next_at <= at {
                    Next::Fail(Error::Malformed("SMB1 AndX offset does not increase"))
                } else {
                    Next::At(next_at, next_cmd)
                };
            }
        }
        Some(Ok(block))
    }
}

/// One command of a message: its parameter words and data bytes.
#[derive(Clone, Copy, Debug)]
pub struct Block<'a> {
    pub header: Header,
    /// The whole message (offsets count from its start).
    pub raw: &'a [u8],
    pub command: u8,
    /// Offset of the word count in the message.
    pub offset: usize,
    pub words: &'a [u8],
    pub bytes: &'a [u8],
    /// Offset of `bytes` in the message.
    pub bytes_at: usize,
}

#[derive(Clone, Copy, Debug)]
pub struct NegotiateRequest<'a> {
    /// The dialect strings offered ("NT LM 0.12", "SMB 2.002", "SMB 2.???").
    pub dialects: Dialects<'a>,
}

/// The dialect strings of a negotiate request: each a 0x02 byte and a NUL-terminated OEM string.
#[derive(Clone, Copy, Debug)]
pub struct Dialects<'a>(&'a [u8]);

impl<'a> Iterator for Dialects<'a> {
    type Item = Result<WireStr<'a>>;
    fn next(&mut self) -> Option<Self::Item> {
        let (&format, rest) = self.0.split_first()?;
        if format != 0x02 {
            self.0 = &[];
            return Some(Err(Error::Malformed("SMB1 dialect buffer format")));
        }
        let s = WireStr::until_nul(rest, Encoding::Oem);
        self.0 = rest.get(s.raw.len() + 1..).unwrap_or_default();
        Some(Ok(s))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NegotiateResponse<'a> {
    /// Index of the chosen dialect in the request's list; 0xFFFF = none.
    pub dialect_index: u16,
    pub security_mode: u8,
    pub capabilities: u32,
    pub server_guid: Option<[u8; 16]>,
    /// Extended security: the server's SPNEGO blob (may be empty).
    pub security_blob: &'a [u8],
    /// Without extended security: the 8-byte challenge.
    pub challenge: &'a [u8],
}

impl NegotiateResponse<'_> {
    pub fn extended_security(&self) -> bool {
        self.capabilities & CAP_EXTENDED_SECURITY != 0
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionSetupRequest<'a> {
    pub capabilities: u32,
    pub vc_number: u16,
    /// Extended security (word count 12): the SPNEGO or NTLMSSP blob.
    pub security_blob: Option<&'a [u8]>,
    /// Without extended security: the LM (OEM, case-insensitive) password or response length.
    pub lm_password_len: u16,
    /// Without extended security: the NT (case-sensitive) password or response length.
    pub nt_password_len: u16,
    pub account: Option<WireStr<'a>>,
    pub domain: Option<WireStr<'a>>,
    pub native_os: Option<WireStr<'a>>,
    pub native_lanman: Option<WireStr<'a>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionSetupResponse<'a> {
    /// Bit 0: logged on as guest.
    pub action: u16,
    pub security_blob: Option<&'a [u8]>,
    pub native_os: Option<WireStr<'a>>,
    pub native_lanman: Option<WireStr<'a>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeConnectRequest<'a> {
    pub flags: u16,
    /// `\\server\share`.
    pub path: WireStr<'a>,
    /// "IPC", "A:" (disk), "LPT1:" (printer), "COMM", "?????" (any).
    pub service: WireStr<'a>,
}

/// The service of a tree connect, as a share type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    Ipc,
    Disk,
    Printer,
    Comm,
    Any,
    Other,
}

impl Service {
    pub fn of(s: &WireStr) -> Service {
        match s.raw {
            b"IPC" => Service::Ipc,
            b"A:" => Service::Disk,
            b"LPT1:" => Service::Printer,
            b"COMM" => Service::Comm,
            b"?????" => Service::Any,
            _ => Service::Other,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeConnectResponse<'a> {
    pub optional_support: u16,
    pub service: WireStr<'a>,
    pub native_fs: Option<WireStr<'a>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NtCreateRequest<'a> {
    pub flags: u32,
    pub root_fid: u32,
    pub desired_access: u32,
    pub ext_file_attributes: u32,
    pub share_access: u32,
    pub create_disposition: u32,
    pub create_options: u32,
    /// As sent (`\lsarpc`, `\dir\file.txt`).
    pub name: WireStr<'a>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NtCreateResponse {
    pub oplock_level: u8,
    pub fid: u16,
    pub create_disposition: u32,
    pub end_of_file: u64,
    /// 0 disk file or directory, 1 byte-mode pipe, 2 message-mode pipe, 3 printer.
    pub resource_type: u16,
    pub directory: bool,
}

/// A TRANSACTION or TRANSACTION2 request (the first part: secondaries are not decoded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transaction<'a> {
    pub total_parameter_count: u16,
    pub total_data_count: u16,
    pub max_data_count: u16,
    pub flags: u16,
    pub setup: U16List<'a>,
    /// TRANSACTION only: `\PIPE\` or `\PIPE\LANMAN`.
    pub name: Option<WireStr<'a>>,
    pub parameters: &'a [u8],
    pub data: &'a [u8],
}

impl Transaction<'_> {
    /// Setup word 0: the subcommand (TransactNmPipe 0x26; TRANSACTION2 GET_DFS_REFERRAL 0x10).
    pub fn subcommand(&self) -> Option<u16> {
        self.setup.iter().next()
    }

    /// The pipe's FID of a TransactNmPipe (setup word 1).
    pub fn pipe_fid(&self) -> Option<u16> {
        if self.subcommand() != Some(TRANS_TRANSACT_NMPIPE) {
            return None;
        }
        self.setup.iter().nth(1)
    }
}

/// A TRANSACTION or TRANSACTION2 response (or one part of a multi-part one: see the
/// displacements).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TransactionResponse<'a> {
    pub total_parameter_count: u16,
    pub total_data_count: u16,
    pub parameter_displacement: u16,
    pub data_displacement: u16,
    pub setup: U16List<'a>,
    pub parameters: &'a [u8],
    /// TransactNmPipe: the DCE/RPC response.
    pub data: &'a [u8],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteAndXRequest<'a> {
    pub fid: u16,
    pub offset: u64,
    pub write_mode: u16,
    pub remaining: u16,
    pub data: &'a [u8],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteAndXResponse {
    pub count: u32,
    pub available: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadAndXRequest {
    pub fid: u16,
    pub offset: u64,
    pub max_count: u32,
    pub min_count: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadAndXResponse<'a> {
    pub available: u16,
    pub data: &'a [u8],
}

#[derive(Clone, Copy, Debug)]
pub enum Body<'a> {
    NegotiateRequest(NegotiateRequest<'a>),
    NegotiateResponse(NegotiateResponse<'a>),
    SessionSetupRequest(SessionSetupRequest<'a>),
    SessionSetupResponse(SessionSetupResponse<'a>),
    TreeConnectRequest(TreeConnectRequest<'a>),
    TreeConnectResponse(TreeConnectResponse<'a>),
    NtCreateRequest(NtCreateRequest<'a>),
    NtCreateResponse(NtCreateResponse),
    /// TRANSACTION (0x25) request.
    Transaction(Transaction<'a>),
    TransactionResponse(TransactionResponse<'a>),
    /// TRANSACTION2 (0x32) request.
    Transaction2(Transaction<'a>),
    Transaction2Response(TransactionResponse<'a>),
    WriteAndXRequest(WriteAndXRequest<'a>),
    WriteAndXResponse(WriteAndXResponse),
    ReadAndXRequest(ReadAndXRequest),
    ReadAndXResponse(ReadAndXResponse<'a>),
    CloseRequest {
        fid: u16,
    },
    /// No parameter words: an error response, an interim transaction response, or a command whose
    /// answer is empty.
    Empty,
    /// A command this parser does not decode.
    Other,
}

/// Reads NUL-terminated strings from a data block, aligning Unicode ones to 2 bytes from the
/// header's start.
struct Strings<'a> {
    raw: &'a [u8],
    at: usize,
    end: usize,
    unicode: bool,
}

impl<'a> Strings<'a> {
    fn of(block: &Block<'a>, skip: usize) -> Strings<'a> {
        Strings {
            raw: block.raw,
            at: block.bytes_at.saturating_add(skip),
            end: block.bytes_at + block.bytes.len(),
            unicode: block.header.is_unicode(),
        }
    }

    /// The next string, or `None` at the end of the block. `oem` forces OEM (services).
    fn next(&mut self, oem: bool) -> Option<WireStr<'a>> {
        let unicode = self.unicode && !oem;
        if unicode && self.at % 2 == 1 {
            self.at += 1;
        }
        let rest = self.raw.get(self.at..self.end)?;
        if rest.is_empty() {
            return None;
        }
        let enc = if unicode {
            Encoding::Utf16
        } else {
            Encoding::Oem
        };
        let s = WireStr::until_nul(rest, enc);
        let width = if unicode { 2 } else { 1 };
        self.at += (s.raw.len() + width).min(rest.len());
        Some(s)
    }
}

/// `data` at `offset` (from the header's start) of `len` bytes; empty when `len` is 0.
fn data(raw: &[u8], offset: usize, len: usize) -> Result<&[u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if offset < HEADER_LEN {
        return Err(Error::Malformed("SMB1 data offset inside the header"));
    }
    slice(raw, offset, len)
}

impl<'a> Block<'a> {
    fn wc(&self) -> usize {
        self.words.len() / 2
    }

    /// Decodes the block by command and direction.
    pub fn body(&self) -> Result<Body<'a>> {
        let w = self.words;
        let response = self.header.is_response();
        if w.is_empty() && (response || self.command != cmd::NEGOTIATE) {
            return Ok(Body::Empty);
        }
        let bad_wc = Err(Error::Malformed("SMB1 word count"));
        let body = match (self.command, response) {
            (cmd::NEGOTIATE, false) => Body::NegotiateRequest(NegotiateRequest {
                dialects: Dialects(self.bytes),
            }),
            (cmd::NEGOTIATE, true) => {
                let dialect_index = le16(w, 0);
                if self.wc() == 17 {
                    let capabilities = le32(w, 19);
                    let challenge_len = usize::from(w[33]);
                    let ext = capabilities & CAP_EXTENDED_SECURITY != 0;
                    let (server_guid, security_blob, challenge) = if ext {
                        let guid = slice(self.bytes, 0, 16)?;
                        let mut g = [0; 16];
                        g.copy_from_slice(guid);
                        (Some(g), &self.bytes[16..], &[][..])
                    } else {
                        (None, &[][..], slice(self.bytes, 0, challenge_len)?)
                    };
                    Body::NegotiateResponse(NegotiateResponse {
                        dialect_index,
                        security_mode: w[2],
                        capabilities,
                        server_guid,
                        security_blob,
                        challenge,
                    })
                } else {
                    Body::NegotiateResponse(NegotiateResponse {
                        dialect_index,
                        security_mode: 0,
                        capabilities: 0,
                        server_guid: None,
                        security_blob: &[],
                        challenge: &[],
                    })
                }
            }
            (cmd::SESSION_SETUP_ANDX, false) => match self.wc() {
                12 => {
                    let blob_len = usize::from(le16(w, 14));
                    let blob = slice(self.bytes, 0, blob_len)?;
                    let mut s = Strings::of(self, blob_len);
                    Body::SessionSetupRequest(SessionSetupRequest {
                        capabilities: le32(w, 20),
                        vc_number: le16(w, 8),
                        security_blob: Some(blob),
                        lm_password_len: 0,
                        nt_password_len: 0,
                        account: None,
                        domain: None,
                        native_os: s.next(false),
                        native_lanman: s.next(false),
                    })
                }
                10 | 13 => {
                    let (lm, nt, caps) = if self.wc() == 13 {
                        (le16(w, 14), le16(w, 16), le32(w, 22))
                    } else {
                        (le16(w, 14), 0, 0)
                    };
                    let pw = usize::from(lm) + usize::from(nt);
                    slice(self.bytes, 0, pw)?;
                    let mut s = Strings::of(self, pw);
                    Body::SessionSetupRequest(SessionSetupRequest {
                        capabilities: caps,
                        vc_number: le16(w, 8),
                        security_blob: None,
                        lm_password_len: lm,
                        nt_password_len: nt,
                        account: s.next(false),
                        domain: s.next(false),
                        native_os: s.next(false),
                        native_lanman: s.next(false),
                    })
                }
                _ => return bad_wc,
            },
            (cmd::SESSION_SETUP_ANDX, true) => match self.wc() {
                4 => {
                    let blob_len = usize::from(le16(w, 6));
                    let blob = slice(self.bytes, 0, blob_len)?;
                    let mut s = Strings::of(self, blob_len);
                    Body::SessionSetupResponse(SessionSetupResponse {
                        action: le16(w, 4),
                        security_blob: Some(blob),
                        native_os: s.next(false),
                        native_lanman: s.next(false),
                    })
                }
                3 => {
                    let mut s = Strings::of(self, 0);
                    Body::SessionSetupResponse(SessionSetupResponse {
                        action: le16(w, 4),
                        security_blob: None,
                        native_os: s.next(false),
                        native_lanman: s.next(false),
                    })
                }
                _ => return bad_wc,
            },
            (cmd::TREE_CONNECT_ANDX, false) => {
                if self.wc() != 4 {
                    return bad_wc;
                }
                let pw = usize::from(le16(w, 6));
                slice(self.bytes, 0, pw)?;
                let mut s = Strings::of(self, pw);
                let path = s
                    .next(false)
                    .ok_or(Error::Malformed("SMB1 tree connect path"))?;
                Body::TreeConnectRequest(TreeConnectRequest {
                    flags: le16(w, 4),
                    path,
                    service: s.next(true).unwrap_or(WireStr::oem(&[])),
                })
            }
            (cmd::TREE_CONNECT_ANDX, true) => {
                if self.wc() < 3 {
                    return bad_wc;
                }
                let mut s = Strings::of(self, 0);
                Body::TreeConnectResponse(TreeConnectResponse {
                    optional_support: le16(w, 4),
                    service: s.next(true).unwrap_or(WireStr::oem(&[])),
                    native_fs: s.next(false),
                })
            }
            (cmd::NT_CREATE_ANDX, false) => {
                if self.wc() != 24 {
                    return bad_wc;
                }
                let name_len = usize::from(le16(w, 5));
                let unicode = self.header.is_unicode();
                let pad = usize::from(unicode && self.bytes_at % 2 == 1);
                let name = match self.bytes.get(pad..) {
                    Some(b) => b.get(..name_len).unwrap_or(b),
                    None => &[],
                };
                let enc = if unicode {
                    Encoding::Utf16
                } else {
                    Encoding::Oem
                };
                Body::NtCreateRequest(NtCreateRequest {
                    flags: le32(w, 7),
                    root_fid: le32(w, 11),
                    desired_access: le32(w, 15),
                    ext_file_attributes: le32(w, 27),
                    share_access: le32(w, 31),
                    create_disposition: le32(w, 35),
                    create_options: le32(w, 39),
                    name: WireStr::until_nul(name, enc),
                })
            }
            (cmd::NT_CREATE_ANDX, true) => {
                if self.wc() < 34 {
                    return bad_wc;
                }
                Body::NtCreateResponse(NtCreateResponse {
                    oplock_level: w[4],
                    fid: le16(w, 5),
                    create_disposition: le32(w, 7),
                    end_of_file: le64(w, 55),
                    resource_type: le16(w, 63),
                    directory: w[67] != 0,
                })
            }
            (cmd::TRANSACTION | cmd::TRANSACTION2, false) => {
                if self.wc() < 14 {
                    return bad_wc;
                }
                let setup_count = usize::from(w[26]);
                if self.wc() != 14 + setup_count {
                    return bad_wc;
                }
                let name = if self.command == cmd::TRANSACTION {
                    Strings::of(self, 0).next(false)
                } else {
                    None
                };
                let t = Transaction {
                    total_parameter_count: le16(w, 0),
                    total_data_count: le16(w, 2),
                    max_data_count: le16(w, 6),
                    flags: le16(w, 10),
                    setup: U16List(&w[28..28 + setup_count * 2]),
                    name,
                    parameters: data(self.raw, le16(w, 20).into(), le16(w, 18).into())?,
                    data: data(self.raw, le16(w, 24).into(), le16(w, 22).into())?,
                };
                if self.command == cmd::TRANSACTION {
                    Body::Transaction(t)
                } else {
                    Body::Transaction2(t)
                }
            }
            (cmd::TRANSACTION | cmd::TRANSACTION2, true) => {
                if self.wc() < 10 {
                    return bad_wc;
                }
                let setup_count = usize::from(w[18]);
                if self.wc() != 10 + setup_count {
                    return bad_wc;
                }
                let t = TransactionResponse {
                    total_parameter_count: le16(w, 0),
                    total_data_count: le16(w, 2),
                    parameter_displacement: le16(w, 10),
                    data_displacement: le16(w, 16),
                    setup: U16List(&w[20..20 + setup_count * 2]),
                    parameters: data(self.raw, le16(w, 8).into(), le16(w, 6).into())?,
                    data: data(self.raw, le16(w, 14).into(), le16(w, 12).into())?,
                };
                if self.command == cmd::TRANSACTION {
                    Body::TransactionResponse(t)
                } else {
                    Body::Transaction2Response(t)
                }
            }
            (cmd::WRITE_ANDX, false) => {
                let high = match self.wc() {
                    12 => 0,
                    14 => u64::from(le32(w, 24)),
                    _ => return bad_wc,
                };
                let len = usize::from(le16(w, 18)) << 16 | usize::from(le16(w, 20));
                Body::WriteAndXRequest(WriteAndXRequest {
                    fid: le16(w, 4),
                    offset: high << 32 | u64::from(le32(w, 6)),
                    write_mode: le16(w, 14),
                    remaining: le16(w, 16),
                    data: data(self.raw, le16(w, 22).into(), len)?,
                })
            }
            (cmd::WRITE_ANDX, true) => {
                if self.wc() < 6 {
                    return bad_wc;
                }
                Body::WriteAndXResponse(WriteAndXResponse {
                    count: u32::from(le16(w, 8)) << 16 | u32::from(le16(w, 4)),
                    available: le16(w, 6),
                })
            }
            (cmd::READ_ANDX, false) => {
                let high = match self.wc() {
                    10 => 0,
                    12 => u64::from(le32(w, 20)),
                    _ => return bad_wc,
                };
                // MaxCountHigh shares the Timeout field; all ones means "no high part".
                let max_high = match le32(w, 14) {
                    u32::MAX => 0,
                    t => t & 0xffff,
                };
                Body::ReadAndXRequest(ReadAndXRequest {
                    fid: le16(w, 4),
                    offset: high << 32 | u64::from(le32(w, 6)),
                    max_count: max_high << 16 | u32::from(le16(w, 10)),
                    min_count: le16(w, 12),
                })
            }
            (cmd::READ_ANDX, true) => {
                if self.wc() != 12 {
                    return bad_wc;
                }
                let len = usize::from(le16(w, 14)) << 16 | usize::from(le16(w, 10));
                Body::ReadAndXResponse(ReadAndXResponse {
                    available: le16(w, 4),
                    data: data(self.raw, le16(w, 12).into(), len)?,
                })
            }
            (cmd::CLOSE, false) => {
                if self.wc() != 3 {
                    return bad_wc;
                }
                Body::CloseRequest { fid: le16(w, 0) }
            }
            _ => Body::Other,
        };
        Ok(body)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A header with the given command, flags2 and ids.
    pub(crate) fn header(command: u8, reply: bool, flags2: u16, tid: u16, mid: u16) -> Vec<u8> {
        let mut h = PROTOCOL_ID.to_vec();
        h.push(command);
        h.extend([0; 4]);
        h.push(if reply { flags::REPLY } else { 0 });
        h.extend(flags2.to_le_bytes());
        h.extend([0; 12]);
        h.extend(tid.to_le_bytes());
        h.extend(0x1234u16.to_le_bytes());
        h.extend(0x0800u16.to_le_bytes());
        h.extend(mid.to_le_bytes());
        h
    }

    fn utf16z(s: &str) -> Vec<u8> {
        s.encode_utf16()
            .chain([0])
            .flat_map(u16::to_le_bytes)
            .collect()
    }

    fn block(m: &mut Vec<u8>, words: &[u8], bytes: &[u8]) {
        m.push((words.len() / 2) as u8);
        m.extend(words);
        m.extend((bytes.len() as u16).to_le_bytes());
        m.extend(bytes);
    }

    #[test]
    fn negotiate_dialects() {
        let mut m = header(cmd::NEGOTIATE, false, 0xc853, 0, 0);
        block(
            &mut m,
            &[],
            b"\x02NT LM 0.12\0\x02SMB 2.002\0\x02SMB 2.???\0",
        );
        let msg = Message::parse(&m).unwrap();
        let Body::NegotiateRequest(n) = msg.blocks().next().unwrap().unwrap().body().unwrap()
        else {
            panic!()
        };
        let d: Vec<String> = n.dialects.map(|d| d.unwrap().decode()).collect();
        assert_eq!(d, ["NT LM 0.12", "SMB 2.002", "SMB 2.???"]);
        let bad = Dialects(b"\x02A\0\x05B\0");
        assert_eq!(bad.count(), 2);
    }

    #[test]
    fn andx_chain_session_setup_then_tree_connect() {
        let f2 = flags2::UNICODE | flags2::NT_STATUS;
        let mut m = header(cmd::SESSION_SETUP_ANDX, false, f2, 0, 3);
        // Legacy session setup (word count 13): 0 + 24-byte passwords, then account and domain.
        let mut words = vec![cmd::TREE_CONNECT_ANDX, 0, 0, 0];
        words.extend([0; 10]);
        words.extend(0u16.to_le_bytes()); // LM length
        words.extend(24u16.to_le_bytes()); // NT length
        words.extend([0; 8]);
        let mut bytes = vec![0xaa; 24];
        // Bytes start at 32 + 1 + 26 + 2 = 61; after 24 bytes of password 85 is odd: one pad.
        bytes.push(0);
        bytes.extend(utf16z("alice"));
        bytes.extend(utf16z("CORP"));
        let tc_at = m.len() + 1 + words.len() + 2 + bytes.len();
        words[2..4].copy_from_slice(&(tc_at as u16).to_le_bytes());
        block(&mut m, &words, &bytes);
        // The tree connect: password of 1 byte, the path (aligned), the service.
        let mut tw = vec![cmd::NO_ANDX, 0, 0, 0, 0, 0];
        tw.extend(1u16.to_le_bytes());
        let mut tb = vec![0];
        if (tc_at + 1 + 8 + 2 + 1) % 2 == 1 {
            tb.push(0);
        }
        tb.extend(utf16z("\\\\SRV\\IPC$"));
        tb.extend(b"?????\0");
        block(&mut m, &tw, &tb);

        let msg = Message::parse(&m).unwrap();
        let bodies: Vec<Body> = msg.blocks().map(|b| b.unwrap().body().unwrap()).collect();
        assert_eq!(bodies.len(), 2);
        let Body::SessionSetupRequest(s) = bodies[0] else {
            panic!()
        };
        assert_eq!((s.lm_password_len, s.nt_password_len), (0, 24));
        assert_eq!(s.account.unwrap().decode(), "alice");
        assert_eq!(s.domain.unwrap().decode(), "CORP");
        let Body::TreeConnectRequest(t) = bodies[1] else {
            panic!()
        };
        assert_eq!(t.path.decode(), "\\\\SRV\\IPC$");
        assert_eq!(Service::of(&t.service), Service::Any);

        // An AndX offset that points back at the first block: one block, then an error.
        m[32 + 3..32 + 5].copy_from_slice(&32u16.to_le_bytes());
        let all: Vec<_> = Message::parse(&m).unwrap().blocks().collect();
        assert_eq!(all.len(), 2);
        assert!(matches!(all[1], Err(Error::Malformed(_))));
        // Past the end.
        m[32 + 3..32 + 5].copy_from_slice(&0xfff0u16.to_le_bytes());
        let all: Vec<_> = Message::parse(&m).unwrap().blocks().collect();
        assert_eq!(
            all[1].as_ref().unwrap_err(),
            &Error::Truncated { need: 0xfff1 }
        );
    }

    #[test]
    fn nt_create_name_with_pad() {
        let mut m = header(cmd::NT_CREATE_ANDX, false, flags2::UNICODE, 1, 4);
        let name = utf16z("\\lsarpc");
        let mut words = vec![0u8; 48];
        words[0] = cmd::NO_ANDX;
        words[5..7].copy_from_slice(&(name.len() as u16).to_le_bytes());
        // Bytes start at 32 + 1 + 48 + 2 = 83: odd, so one pad byte.
        let mut bytes = vec![0];
        bytes.extend(&name);
        block(&mut m, &words, &bytes);
        let msg = Message::parse(&m).unwrap();
        let Body::NtCreateRequest(c) = msg.blocks().next().unwrap().unwrap().body().unwrap() else {
            panic!()
        };
        assert_eq!(c.name.decode(), "\\lsarpc");
    }

    #[test]
    fn transact_nmpipe_and_read_andx() {
        let mut m = header(cmd::TRANSACTION, false, flags2::UNICODE, 1, 5);
        let mut words = vec![0u8; 28];
        words[26] = 2; // setup count
        words.extend(TRANS_TRANSACT_NMPIPE.to_le_bytes());
        words.extend(0x4000u16.to_le_bytes());
        // Bytes at 32 + 1 + 32 + 2 = 67: pad, "\PIPE\", then the data.
        let mut bytes = vec![0];
        bytes.extend(utf16z("\\PIPE\\"));
        let data_at = 67 + bytes.len();
        bytes.extend(b"\x05\x00\x0b\x03");
        words[22..24].copy_from_slice(&4u16.to_le_bytes());
        words[24..26].copy_from_slice(&(data_at as u16).to_le_bytes());
        block(&mut m, &words, &bytes);
        let msg = Message::parse(&m).unwrap();
        let Body::Transaction(t) = msg.blocks().next().unwrap().unwrap().body().unwrap() else {
            panic!()
        };
        assert_eq!(t.pipe_fid(), Some(0x4000));
        assert_eq!(t.name.unwrap().decode(), "\\PIPE\\");
        assert_eq!(t.data, b"\x05\x00\x0b\x03");
        // Data count beyond the message.
        let at = 33 + 22;
        m[at..at + 2].copy_from_slice(&0x100u16.to_le_bytes());
        let msg = Message::parse(&m).unwrap();
        assert!(matches!(
            msg.blocks().next().unwrap().unwrap().body(),
            Err(Error::Truncated { .. })
        ));

        let mut r = header(cmd::READ_ANDX, true, 0, 1, 6);
        let mut words = vec![0u8; 24];
        words[0] = cmd::NO_ANDX;
        words[10..12].copy_from_slice(&3u16.to_le_bytes());
        let data_at = 32 + 1 + 24 + 2 + 1;
        words[12..14].copy_from_slice(&(data_at as u16).to_le_bytes());
        block(&mut r, &words, &[0, b'x', b'y', b'z']);
        let msg = Message::parse(&r).unwrap();
        let Body::ReadAndXResponse(rd) = msg.blocks().next().unwrap().unwrap().body().unwrap()
        else {
            panic!()
        };
        assert_eq!(rd.data, b"xyz");
    }

    #[test]
    fn write_andx_high_length_and_offset() {
        let mut m = header(cmd::WRITE_ANDX, false, 0, 1, 7);
        let mut words = vec![0u8; 28];
        words[0] = cmd::NO_ANDX;
        words[4..6].copy_from_slice(&0x4001u16.to_le_bytes());
        words[6..10].copy_from_slice(&0x10u32.to_le_bytes());
        words[18..20].copy_from_slice(&1u16.to_le_bytes()); // DataLengthHigh: 64 KiB more
        words[20..22].copy_from_slice(&2u16.to_le_bytes());
        words[22..24].copy_from_slice(&64u16.to_le_bytes());
        words[24..28].copy_from_slice(&1u32.to_le_bytes()); // OffsetHigh
        block(&mut m, &words, &[]);
        m.resize(64 + 0x10002, 7);
        let msg = Message::parse(&m).unwrap();
        let Body::WriteAndXRequest(w) = msg.blocks().next().unwrap().unwrap().body().unwrap()
        else {
            panic!()
        };
        assert_eq!(w.fid, 0x4001);
        assert_eq!(w.offset, 1 << 32 | 0x10);
        assert_eq!(w.data.len(), 0x10002);
        let msg = Message::parse(&m[..1000]).unwrap();
        assert_eq!(
            msg.blocks().next().unwrap().unwrap().body().unwrap_err(),
            Error::Truncated { need: 64 + 0x10002 }
        );
    }

    #[test]
    fn header_and_blocks_are_bounded() {
        assert_eq!(Header::parse(b"\xffSM"), Err(Error::Truncated { need: 32 }));
        assert_eq!(Header::parse(&[0; 40]), Err(Error::NotSmb));
        let mut m = header(cmd::CLOSE, false, 0, 1, 1);
        m.push(200); // 200 words that are not there
        assert_eq!(
            Message::parse(&m).unwrap_err(),
            Error::Truncated { need: 433 }
        );
        // An error response: no words, no bytes.
        let mut e = header(cmd::NT_CREATE_ANDX, true, flags2::NT_STATUS, 1, 1);
        e[5..9].copy_from_slice(&0xc000_0034u32.to_le_bytes());
        block(&mut e, &[], &[]);
        let msg = Message::parse(&e).unwrap();
        assert!(msg.header.is_error());
        assert!(matches!(
            msg.blocks().next().unwrap().unwrap().body().unwrap(),
            Body::Empty
        ));
    }
}
