//! SMB2 and SMB3 (MS-SMB2 2.2): the 64-byte header (sync and async), compound chains, the
//! transform (encrypted) and compression headers, and the bodies an inspector reads.
//!
//! A [`Compound`] walks the messages of one NetBIOS frame by `NextCommand` (which must move forward
//! by at least a header and stay 8-byte aligned); each [`Message`] is the header plus its bytes up
//! to the next one, and [`Message::body`] decodes the body by command and direction. Buffer offsets
//! count from the start of the message's header and are checked against the message; a buffer of
//! length 0 is empty wherever its offset points.

use super::{le16, le32, le64, slice, Cursor, Error, Result, WireStr};

pub const PROTOCOL_ID: &[u8; 4] = b"\xfeSMB";
pub const HEADER_LEN: usize = 64;

/// Header flags.
pub mod flags {
    pub const SERVER_TO_REDIR: u32 = 0x0000_0001;
    pub const ASYNC_COMMAND: u32 = 0x0000_0002;
    pub const RELATED_OPERATIONS: u32 = 0x0000_0004;
    pub const SIGNED: u32 = 0x0000_0008;
    pub const DFS_OPERATIONS: u32 = 0x1000_0000;
    pub const REPLAY_OPERATION: u32 = 0x2000_0000;
}

/// A command code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Command(pub u16);

impl Command {
    pub const NEGOTIATE: Command = Command(0x00);
    pub const SESSION_SETUP: Command = Command(0x01);
    pub const LOGOFF: Command = Command(0x02);
    pub const TREE_CONNECT: Command = Command(0x03);
    pub const TREE_DISCONNECT: Command = Command(0x04);
    pub const CREATE: Command = Command(0x05);
    pub const CLOSE: Command = Command(0x06);
    pub const FLUSH: Command = Command(0x07);
    pub const READ: Command = Command(0x08);
    pub const WRITE: Command = Command(0x09);
    pub const LOCK: Command = Command(0x0a);
    pub const IOCTL: Command = Command(0x0b);
    pub const CANCEL: Command = Command(0x0c);
    pub const ECHO: Command = Command(0x0d);
    pub const QUERY_DIRECTORY: Command = Command(0x0e);
    pub const CHANGE_NOTIFY: Command = Command(0x0f);
    pub const QUERY_INFO: Command = Command(0x10);
    pub const SET_INFO: Command = Command(0x11);
    pub const OPLOCK_BREAK: Command = Command(0x12);

    pub fn name(self) -> &'static str {
        const NAMES: [&str; 19] = [
            "NEGOTIATE",
            "SESSION_SETUP",
            "LOGOFF",
            "TREE_CONNECT",
            "TREE_DISCONNECT",
            "CREATE",
            "CLOSE",
            "FLUSH",
            "READ",
            "WRITE",
            "LOCK",
            "IOCTL",
            "CANCEL",
            "ECHO",
            "QUERY_DIRECTORY",
            "CHANGE_NOTIFY",
            "QUERY_INFO",
            "SET_INFO",
            "OPLOCK_BREAK",
        ];
        NAMES.get(usize::from(self.0)).copied().unwrap_or("unknown")
    }
}

/// An NTSTATUS code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Status(pub u32);

impl Status {
    pub const SUCCESS: Status = Status(0);
    /// An async interim response: the real one follows with the same message id.
    pub const PENDING: Status = Status(0x0000_0103);
    /// A pipe read or transceive whose data did not fit: the partial data is still carried.
    pub const BUFFER_OVERFLOW: Status = Status(0x8000_0005);
    pub const NO_MORE_FILES: Status = Status(0x8000_0006);
    pub const MORE_PROCESSING_REQUIRED: Status = Status(0xc000_0016);
    pub const ACCESS_DENIED: Status = Status(0xc000_0022);
    pub const OBJECT_NAME_NOT_FOUND: Status = Status(0xc000_0034);
    pub const LOGON_FAILURE: Status = Status(0xc000_006d);
    pub const BAD_NETWORK_NAME: Status = Status(0xc000_00cc);
    pub const NOT_FOUND: Status = Status(0xc000_0225);
    pub const PIPE_BROKEN: Status = Status(0xc000_014b);
    pub const FS_DRIVER_REQUIRED: Status = Status(0xc000_019c);

    /// Severity "error" (the top two bits set).
    pub fn is_error(self) -> bool {
        self.0 >> 30 == 3
    }
}

/// A dialect revision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Dialect(pub u16);

impl Dialect {
    pub const SMB2_0_2: Dialect = Dialect(0x0202);
    pub const SMB2_1: Dialect = Dialect(0x0210);
    pub const SMB3_0: Dialect = Dialect(0x0300);
    pub const SMB3_0_2: Dialect = Dialect(0x0302);
    pub const SMB3_1_1: Dialect = Dialect(0x0311);
    /// A server's answer to an SMB1 negotiate offering "SMB 2.???": negotiate again in SMB2.
    pub const WILDCARD: Dialect = Dialect(0x02ff);

    pub fn name(self) -> &'static str {
        match self.0 {
            0x0202 => "2.0.2",
            0x0210 => "2.1",
            0x0300 => "3.0",
            0x0302 => "3.0.2",
            0x0311 => "3.1.1",
            0x02ff => "2.???",
            _ => "unknown",
        }
    }
}

/// IOCTL / FSCTL control codes an inspector looks for.
pub mod ctl {
    pub const FSCTL_DFS_GET_REFERRALS: u32 = 0x0006_0194;
    pub const FSCTL_DFS_GET_REFERRALS_EX: u32 = 0x0006_01b0;
    pub const FSCTL_PIPE_PEEK: u32 = 0x0011_400c;
    pub const FSCTL_PIPE_WAIT: u32 = 0x0011_0018;
    pub const FSCTL_PIPE_TRANSCEIVE: u32 = 0x0011_c017;
    pub const FSCTL_SRV_REQUEST_RESUME_KEY: u32 = 0x0014_0078;
    pub const FSCTL_QUERY_NETWORK_INTERFACE_INFO: u32 = 0x0014_01fc;
    pub const FSCTL_VALIDATE_NEGOTIATE_INFO: u32 = 0x0014_0204;
}

/// The sync or async part of the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Id {
    Sync { process_id: u32, tree_id: u32 },
    Async { async_id: u64 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub credit_charge: u16,
    /// The status (responses); in requests of SMB 3.x the channel sequence and reserved bits.
    pub status: Status,
    pub command: Command,
    /// Credits requested or granted.
    pub credits: u16,
    pub flags: u32,
    /// Offset of the next message of a compound from this header's start; 0 for the last.
    pub next_command: u32,
    pub message_id: u64,
    pub id: Id,
    pub session_id: u64,
    pub signature: [u8; 16],
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
        if le16(b, 4) != 64 {
            return Err(Error::Malformed("SMB2 header structure size"));
        }
        let flags = le32(b, 16);
        let id = if flags & flags::ASYNC_COMMAND != 0 {
            Id::Async {
                async_id: le64(b, 32),
            }
        } else {
            Id::Sync {
                process_id: le32(b, 32),
                tree_id: le32(b, 36),
            }
        };
        let mut signature = [0; 16];
        signature.copy_from_slice(&b[48..64]);
        Ok(Header {
            credit_charge: le16(b, 6),
            status: Status(le32(b, 8)),
            command: Command(le16(b, 12)),
            credits: le16(b, 14),
            flags,
            next_command: le32(b, 20),
            message_id: le64(b, 24),
            id,
            session_id: le64(b, 40),
            signature,
        })
    }

    pub fn is_response(&self) -> bool {
        self.flags & flags::SERVER_TO_REDIR != 0
    }

    pub fn is_async(&self) -> bool {
        self.flags & flags::ASYNC_COMMAND != 0
    }

    /// A related compound operation: a file id of all ones (and a zero session or tree id) means
    /// "the one of the previous operation".
    pub fn is_related(&self) -> bool {
        self.flags & flags::RELATED_OPERATIONS != 0
    }

    pub fn is_signed(&self) -> bool {
        self.flags & flags::SIGNED != 0
    }

    /// The tree id (sync headers only).
    pub fn tree_id(&self) -> Option<u32> {
        match self.id {
            Id::Sync { tree_id, .. } => Some(tree_id),
            Id::Async { .. } => None,
        }
    }

    pub fn async_id(&self) -> Option<u64> {
        match self.id {
            Id::Async { async_id } => Some(async_id),
            Id::Sync { .. } => None,
        }
    }
}

/// The messages of one SMB2 frame (one, or a compound chain).
#[derive(Clone, Copy, Debug)]
pub struct Compound<'a> {
    buf: &'a [u8],
    at: usize,
    done: bool,
}

impl<'a> Compound<'a> {
    /// Checks the first header; the rest are checked as the iterator reaches them.
    pub fn new(buf: &'a [u8]) -> Result<Compound<'a>> {
        Header::parse(buf)?;
        Ok(Compound {
            buf,
            at: 0,
            done: false,
        })
    }
}

impl<'a> Iterator for Compound<'a> {
    type Item = Result<Message<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let rest = &self.buf[self.at..];
        let r = Header::parse(rest)
            .map_err(|e| shift(e, self.at))
            .and_then(|header| {
                let next = header.next_command as usize;
                let len = match next {
                    0 => rest.len(),
                    n if n < HEADER_LEN || !n.is_multiple_of(8) => {
                        return Err(Error::Malformed("SMB2 NextCommand"));
                    }
                    n if n > rest.len() => return Err(Error::Truncated { need: self.at + n }),
                    n => n,
                };
                Ok((header, len))
            });
        match r {
            Ok((header, len)) => {
                let raw = &rest[..len];
                if header.next_command == 0 {
                    self.done = true;
                } else {
                    self.at += len;
                }
                Some(Ok(Message { header, raw }))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// An error's `need` counted from an earlier start.
fn shift(e: Error, by: usize) -> Error {
    match e {
        Error::Truncated { need } => Error::Truncated {
            need: need.saturating_add(by),
        },
        other => other,
    }
}

/// One message: its header and its bytes (header included, up to the next message of a compound).
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    pub header: Header,
    pub raw: &'a [u8],
}

/// A file handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId {
    pub persistent: u64,
    pub volatile: u64,
}

impl FileId {
    /// All ones: in a related compound operation, the file of the previous operation.
    pub const RELATED: FileId = FileId {
        persistent: u64::MAX,
        volatile: u64::MAX,
    };

    fn at(b: &[u8], at: usize) -> FileId {
        FileId {
            persistent: le64(b, at),
            volatile: le64(b, at + 8),
        }
    }
}

/// A list of little-endian u16 (dialects, ciphers), zero-copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct U16List<'a>(pub &'a [u8]);

impl U16List<'_> {
    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        self.0
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
    }

    pub fn len(&self) -> usize {
        self.0.len() / 2
    }

    pub fn is_empty(&self) -> bool {
        self.0.len() < 2
    }
}

/// Negotiate context types (SMB 3.1.1).
pub mod context {
    pub const PREAUTH_INTEGRITY: u16 = 1;
    pub const ENCRYPTION_CAPABILITIES: u16 = 2;
    pub const COMPRESSION_CAPABILITIES: u16 = 3;
    pub const NETNAME: u16 = 5;
    pub const TRANSPORT_CAPABILITIES: u16 = 6;
    pub const RDMA_TRANSFORM_CAPABILITIES: u16 = 7;
    pub const SIGNING_CAPABILITIES: u16 = 8;
}

/// One SMB 3.1.1 negotiate context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NegotiateContext<'a> {
    pub kind: u16,
    pub data: &'a [u8],
}

impl<'a> NegotiateContext<'a> {
    /// The ciphers of an ENCRYPTION_CAPABILITIES context (1 AES-128-CCM, 2 AES-128-GCM, 3
    /// AES-256-CCM, 4 AES-256-GCM).
    pub fn ciphers(&self) -> Option<U16List<'a>> {
        if self.kind != context::ENCRYPTION_CAPABILITIES {
            return None;
        }
        let n = usize::from(le16(self.data, 0));
        let list = self.data.get(2..2 + n.checked_mul(2)?)?;
        Some(U16List(list))
    }
}

/// The negotiate contexts of a 3.1.1 NEGOTIATE, each checked as it is reached.
#[derive(Clone, Copy, Debug)]
pub struct NegotiateContexts<'a> {
    raw: &'a [u8],
    at: usize,
    left: u16,
}

impl NegotiateContexts<'_> {
    fn none() -> Self {
        NegotiateContexts {
            raw: &[],
            at: 0,
            left: 0,
        }
    }
}

impl<'a> Iterator for NegotiateContexts<'a> {
    type Item = Result<NegotiateContext<'a>>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let mut c = Cursor::at(self.raw, self.at);
        let r = (|| {
            let kind = c.u16()?;
            let len = usize::from(c.u16()?);
            c.skip(4)?;
            let data = c.bytes(len)?;
            Ok(NegotiateContext { kind, data })
        })();
        match r {
            Ok(ctx) => {
                self.at = c.pos().next_multiple_of(8);
                Some(Ok(ctx))
            }
            Err(e) => {
                self.left = 0;
                Some(Err(e))
            }
        }
    }
}

fn contexts(raw: &[u8], offset: u32, count: u16) -> Result<NegotiateContexts<'_>> {
    if count == 0 {
        return Ok(NegotiateContexts::none());
    }
    let at = offset as usize;
    if at < HEADER_LEN || !at.is_multiple_of(8) {
        return Err(Error::Malformed("SMB2 negotiate context offset"));
    }
    Ok(NegotiateContexts {
        raw,
        at,
        left: count,
    })
}

#[derive(Clone, Copy, Debug)]
pub struct NegotiateRequest<'a> {
    pub dialects: U16List<'a>,
    pub security_mode: u16,
    pub capabilities: u32,
    pub client_guid: [u8; 16],
    /// Present when 3.1.1 is offered.
    pub contexts: NegotiateContexts<'a>,
}

#[derive(Clone, Copy, Debug)]
pub struct NegotiateResponse<'a> {
    pub security_mode: u16,
    pub dialect: Dialect,
    pub server_guid: [u8; 16],
    pub capabilities: u32,
    pub max_transact_size: u32,
    pub max_read_size: u32,
    pub max_write_size: u32,
    /// SPNEGO NegTokenInit2 (may be empty).
    pub security_buffer: &'a [u8],
    /// Present in 3.1.1.
    pub contexts: NegotiateContexts<'a>,
}

/// Session setup request flags.
pub const SESSION_FLAG_BINDING: u8 = 0x01;

/// Session setup response flags.
pub mod session_flags {
    pub const IS_GUEST: u16 = 0x0001;
    pub const IS_NULL: u16 = 0x0002;
    pub const ENCRYPT_DATA: u16 = 0x0004;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionSetupRequest<'a> {
    /// [`SESSION_FLAG_BINDING`]: a new channel joins an existing session (multichannel).
    pub flags: u8,
    pub security_mode: u8,
    pub capabilities: u32,
    pub previous_session_id: u64,
    pub security_buffer: &'a [u8],
}

impl SessionSetupRequest<'_> {
    pub fn is_binding(&self) -> bool {
        self.flags & SESSION_FLAG_BINDING != 0
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionSetupResponse<'a> {
    pub session_flags: u16,
    pub security_buffer: &'a [u8],
}

impl SessionSetupResponse<'_> {
    pub fn encrypts(&self) -> bool {
        self.session_flags & session_flags::ENCRYPT_DATA != 0
    }
}

/// Tree connect request flags (3.1.1).
pub const TREE_CONNECT_FLAG_EXTENSION_PRESENT: u16 = 0x0004;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeConnectRequest<'a> {
    pub flags: u16,
    /// `\\server\share`. With [`TREE_CONNECT_FLAG_EXTENSION_PRESENT`] the buffer starts with the
    /// extension and the path offset counts from there (MS-SMB2 2.2.9.1); this parser reads the
    /// offset from the header as for every other request, so such a path may come out wrong.
    pub path: WireStr<'a>,
}

/// The share type of a tree connect response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShareType {
    Disk,
    Pipe,
    Print,
    Other(u8),
}

/// Share flags an inspector reports.
pub mod share_flags {
    pub const DFS: u32 = 0x0000_0001;
    pub const DFS_ROOT: u32 = 0x0000_0002;
    pub const ENCRYPT_DATA: u32 = 0x0000_8000;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeConnectResponse {
    pub share_type: ShareType,
    pub share_flags: u32,
    pub capabilities: u32,
    pub maximal_access: u32,
}

impl TreeConnectResponse {
    pub fn encrypts(&self) -> bool {
        self.share_flags & share_flags::ENCRYPT_DATA != 0
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CreateRequest<'a> {
    pub oplock_level: u8,
    pub impersonation_level: u32,
    pub desired_access: u32,
    pub file_attributes: u32,
    pub share_access: u32,
    pub create_disposition: u32,
    pub create_options: u32,
    /// Relative to the share, no leading backslash (`lsarpc`, `dir\file.txt`).
    pub name: WireStr<'a>,
    pub create_contexts: &'a [u8],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CreateResponse<'a> {
    pub oplock_level: u8,
    pub flags: u8,
    pub create_action: u32,
    pub allocation_size: u64,
    pub end_of_file: u64,
    pub file_attributes: u32,
    pub file_id: FileId,
    pub create_contexts: &'a [u8],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CloseRequest {
    pub flags: u16,
    pub file_id: FileId,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadRequest {
    pub flags: u8,
    pub length: u32,
    pub offset: u64,
    pub file_id: FileId,
    pub minimum_count: u32,
    pub remaining: u32,
}

/// A read response's data: for a pipe, DCE/RPC bytes. With [`Status::BUFFER_OVERFLOW`] it is the
/// first part of a longer message; the rest comes in later reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadResponse<'a> {
    pub data: &'a [u8],
    pub data_remaining: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteRequest<'a> {
    pub offset: u64,
    pub file_id: FileId,
    pub remaining: u32,
    pub flags: u32,
    pub data: &'a [u8],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteResponse {
    pub count: u32,
    pub remaining: u32,
}

/// IOCTL request flags: the control code is an FSCTL.
pub const IOCTL_IS_FSCTL: u32 = 0x0000_0001;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoctlRequest<'a> {
    /// See [`ctl`].
    pub ctl_code: u32,
    pub file_id: FileId,
    /// FSCTL_PIPE_TRANSCEIVE: the DCE/RPC request; FSCTL_DFS_GET_REFERRALS: the referral request.
    pub input: &'a [u8],
    pub max_input_response: u32,
    pub output: &'a [u8],
    pub max_output_response: u32,
    pub flags: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoctlResponse<'a> {
    pub ctl_code: u32,
    pub file_id: FileId,
    pub input: &'a [u8],
    /// FSCTL_PIPE_TRANSCEIVE: the DCE/RPC response (partial with [`Status::BUFFER_OVERFLOW`]).
    pub output: &'a [u8],
    pub flags: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorResponse<'a> {
    pub error_context_count: u8,
    pub data: &'a [u8],
}

/// A decoded body.
#[derive(Clone, Copy, Debug)]
pub enum Body<'a> {
    NegotiateRequest(NegotiateRequest<'a>),
    NegotiateResponse(NegotiateResponse<'a>),
    SessionSetupRequest(SessionSetupRequest<'a>),
    SessionSetupResponse(SessionSetupResponse<'a>),
    TreeConnectRequest(TreeConnectRequest<'a>),
    TreeConnectResponse(TreeConnectResponse),
    CreateRequest(CreateRequest<'a>),
    CreateResponse(CreateResponse<'a>),
    CloseRequest(CloseRequest),
    /// Close responses carry only times and sizes.
    CloseResponse,
    ReadRequest(ReadRequest),
    ReadResponse(ReadResponse<'a>),
    WriteRequest(WriteRequest<'a>),
    WriteResponse(WriteResponse),
    IoctlRequest(IoctlRequest<'a>),
    IoctlResponse(IoctlResponse<'a>),
    /// The error response (also STATUS_PENDING interim responses).
    Error(ErrorResponse<'a>),
    /// A command this parser does not decode (the header says which).
    Other,
}

impl<'a> Message<'a> {
    /// The bytes after the header.
    pub fn body_bytes(&self) -> &'a [u8] {
        self.raw.get(HEADER_LEN..).unwrap_or_default()
    }

    /// Whether this response is in the error format: a response whose status is not success, with
    /// a 9-byte structure, except a session setup asking for more processing and a query-info
    /// buffer overflow (both 9-byte bodies of their own).
    pub fn is_error_response(&self) -> bool {
        let h = &self.header;
        h.is_response()
            && h.status != Status::SUCCESS
            && le16(self.body_bytes(), 0) == 9
            && !(h.command == Command::SESSION_SETUP
                && h.status == Status::MORE_PROCESSING_REQUIRED)
            && !(h.command == Command::QUERY_INFO && h.status == Status::BUFFER_OVERFLOW)
    }

    /// Decodes the body by command and direction.
    pub fn body(&self) -> Result<Body<'a>> {
        let h = &self.header;
        let b = self.body_bytes();
        if b.len() < 2 {
            return Err(Error::Truncated {
                need: HEADER_LEN + 2,
            });
        }
        if self.is_error_response() {
            fixed(self.raw, 9)?;
            let count = usize::try_from(le32(b, 4)).unwrap_or(usize::MAX);
            return Ok(Body::Error(ErrorResponse {
                error_context_count: b[2],
                data: slice(self.raw, HEADER_LEN + 8, count)?,
            }));
        }
        let raw = self.raw;
        let body = match (h.command, h.is_response()) {
            (Command::NEGOTIATE, false) => {
                fixed(raw, 36)?;
                let count = usize::from(le16(b, 2));
                let dialects = U16List(slice(raw, HEADER_LEN + 36, count * 2)?);
                let contexts = if dialects.iter().any(|d| d == Dialect::SMB3_1_1.0) {
                    contexts(raw, le32(b, 28), le16(b, 32))?
                } else {
                    NegotiateContexts::none()
                };
                Body::NegotiateRequest(NegotiateRequest {
                    dialects,
                    security_mode: le16(b, 4),
                    capabilities: le32(b, 8),
                    client_guid: guid(b, 12),
                    contexts,
                })
            }
            (Command::NEGOTIATE, true) => {
                fixed(raw, 65)?;
                let dialect = Dialect(le16(b, 4));
                Body::NegotiateResponse(NegotiateResponse {
                    security_mode: le16(b, 2),
                    dialect,
                    server_guid: guid(b, 8),
                    capabilities: le32(b, 24),
                    max_transact_size: le32(b, 28),
                    max_read_size: le32(b, 32),
                    max_write_size: le32(b, 36),
                    security_buffer: buffer(raw, le16(b, 56).into(), le16(b, 58).into())?,
                    contexts: if dialect == Dialect::SMB3_1_1 {
                        contexts(raw, le32(b, 60), le16(b, 6))?
                    } else {
                        NegotiateContexts::none()
                    },
                })
            }
            (Command::SESSION_SETUP, false) => {
                fixed(raw, 25)?;
                Body::SessionSetupRequest(SessionSetupRequest {
                    flags: b[2],
                    security_mode: b[3],
                    capabilities: le32(b, 4),
                    previous_session_id: le64(b, 16),
                    security_buffer: buffer(raw, le16(b, 12).into(), le16(b, 14).into())?,
                })
            }
            (Command::SESSION_SETUP, true) => {
                fixed(raw, 9)?;
                Body::SessionSetupResponse(SessionSetupResponse {
                    session_flags: le16(b, 2),
                    security_buffer: buffer(raw, le16(b, 4).into(), le16(b, 6).into())?,
                })
            }
            (Command::TREE_CONNECT, false) => {
                fixed(raw, 9)?;
                Body::TreeConnectRequest(TreeConnectRequest {
                    flags: le16(b, 2),
                    path: WireStr::utf16(buffer(raw, le16(b, 4).into(), le16(b, 6).into())?),
                })
            }
            (Command::TREE_CONNECT, true) => {
                fixed(raw, 16)?;
                Body::TreeConnectResponse(TreeConnectResponse {
                    share_type: match b[2] {
                        1 => ShareType::Disk,
                        2 => ShareType::Pipe,
                        3 => ShareType::Print,
                        n => ShareType::Other(n),
                    },
                    share_flags: le32(b, 4),
                    capabilities: le32(b, 8),
                    maximal_access: le32(b, 12),
                })
            }
            (Command::CREATE, false) => {
                fixed(raw, 57)?;
                Body::CreateRequest(CreateRequest {
                    oplock_level: b[3],
                    impersonation_level: le32(b, 4),
                    desired_access: le32(b, 24),
                    file_attributes: le32(b, 28),
                    share_access: le32(b, 32),
                    create_disposition: le32(b, 36),
                    create_options: le32(b, 40),
                    name: WireStr::utf16(buffer(raw, le16(b, 44).into(), le16(b, 46).into())?),
                    create_contexts: buffer(raw, le32(b, 48), le32(b, 52))?,
                })
            }
            (Command::CREATE, true) => {
                fixed(raw, 89)?;
                Body::CreateResponse(CreateResponse {
                    oplock_level: b[2],
                    flags: b[3],
                    create_action: le32(b, 4),
                    allocation_size: le64(b, 40),
                    end_of_file: le64(b, 48),
                    file_attributes: le32(b, 56),
                    file_id: FileId::at(b, 64),
                    create_contexts: buffer(raw, le32(b, 80), le32(b, 84))?,
                })
            }
            (Command::CLOSE, false) => {
                fixed(raw, 24)?;
                Body::CloseRequest(CloseRequest {
                    flags: le16(b, 2),
                    file_id: FileId::at(b, 8),
                })
            }
            (Command::CLOSE, true) => {
                fixed(raw, 60)?;
                Body::CloseResponse
            }
            (Command::READ, false) => {
                fixed(raw, 49)?;
                Body::ReadRequest(ReadRequest {
                    flags: b[3],
                    length: le32(b, 4),
                    offset: le64(b, 8),
                    file_id: FileId::at(b, 16),
                    minimum_count: le32(b, 32),
                    remaining: le32(b, 40),
                })
            }
            (Command::READ, true) => {
                fixed(raw, 17)?;
                Body::ReadResponse(ReadResponse {
                    data: buffer(raw, b[2].into(), le32(b, 4))?,
                    data_remaining: le32(b, 8),
                })
            }
            (Command::WRITE, false) => {
                fixed(raw, 49)?;
                Body::WriteRequest(WriteRequest {
                    offset: le64(b, 8),
                    file_id: FileId::at(b, 16),
                    remaining: le32(b, 36),
                    flags: le32(b, 44),
                    data: buffer(raw, le16(b, 2).into(), le32(b, 4))?,
                })
            }
            (Command::WRITE, true) => {
                fixed(raw, 17)?;
                Body::WriteResponse(WriteResponse {
                    count: le32(b, 4),
                    remaining: le32(b, 8),
                })
            }
            (Command::IOCTL, false) => {
                fixed(raw, 57)?;
                Body::IoctlRequest(IoctlRequest {
                    ctl_code: le32(b, 4),
                    file_id: FileId::at(b, 8),
                    input: buffer(raw, le32(b, 24), le32(b, 28))?,
                    max_input_response: le32(b, 32),
                    output: buffer(raw, le32(b, 36), le32(b, 40))?,
                    max_output_response: le32(b, 44),
                    flags: le32(b, 48),
                })
            }
            (Command::IOCTL, true) => {
                fixed(raw, 49)?;
                Body::IoctlResponse(IoctlResponse {
                    ctl_code: le32(b, 4),
                    file_id: FileId::at(b, 8),
                    input: buffer(raw, le32(b, 24), le32(b, 28))?,
                    output: buffer(raw, le32(b, 32), le32(b, 36))?,
                    flags: le32(b, 40),
                })
            }
            _ => Body::Other,
        };
        Ok(body)
    }
}

/// Checks the body's structure size and that its fixed part (the size without the variable
/// buffer's first byte) is present.
fn fixed(raw: &[u8], size: u16) -> Result<()> {
    let b = raw.get(HEADER_LEN..).unwrap_or_default();
    if le16(b, 0) != size {
        return Err(Error::Malformed("SMB2 body structure size"));
    }
    let need = HEADER_LEN + usize::from(size & !1);
    if raw.len() < need {
        return Err(Error::Truncated { need });
    }
    Ok(())
}

fn guid(b: &[u8], at: usize) -> [u8; 16] {
    let mut g = [0; 16];
    if let Some(s) = b.get(at..at + 16) {
        g.copy_from_slice(s);
    }
    g
}

/// A buffer at `offset` (from the header's start) of `len` bytes inside the message.
fn buffer(raw: &[u8], offset: u32, len: u32) -> Result<&[u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    let offset = offset as usize;
    if offset < HEADER_LEN {
        return Err(Error::Malformed("SMB2 buffer offset inside the header"));
    }
    slice(raw, offset, len as usize)
}

pub const TRANSFORM_PROTOCOL_ID: &[u8; 4] = b"\xfdSMB";
pub const TRANSFORM_HEADER_LEN: usize = 52;

/// An SMB3 TRANSFORM_HEADER: an encrypted message (or compound). Only the session is visible.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transform<'a> {
    pub signature: [u8; 16],
    pub nonce: [u8; 16],
    pub original_message_size: u32,
    /// 0x0001 = encrypted (3.1.1 "Flags"; 3.0 "EncryptionAlgorithm" AES-128-CCM).
    pub flags: u16,
    pub session_id: u64,
    pub ciphertext: &'a [u8],
}

impl<'a> Transform<'a> {
    pub fn parse(b: &'a [u8]) -> Result<Transform<'a>> {
        match b.get(..4) {
            Some(id) if id == TRANSFORM_PROTOCOL_ID => {}
            Some(_) => return Err(Error::NotSmb),
            None => {
                return Err(Error::Truncated {
                    need: TRANSFORM_HEADER_LEN,
                })
            }
        }
        let mut c = Cursor::at(b, 4);
        let signature = c.array()?;
        let nonce = c.array()?;
        let original_message_size = c.u32()?;
        c.skip(2)?;
        let flags = c.u16()?;
        let session_id = c.u64()?;
        Ok(Transform {
            signature,
            nonce,
            original_message_size,
            flags,
            session_id,
            ciphertext: c.rest(),
        })
    }
}

pub const COMPRESSION_PROTOCOL_ID: &[u8; 4] = b"\xfcSMB";

/// An SMB 3.1.1 COMPRESSION_TRANSFORM_HEADER (reported, not decompressed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Compression<'a> {
    pub original_size: u32,
    /// 0 none, 1 LZNT1, 2 LZ77, 3 LZ77+Huffman, 4 Pattern_V1, 5 LZ4.
    pub algorithm: u16,
    /// 0 unchained, 1 chained.
    pub flags: u16,
    /// Unchained: bytes sent uncompressed before the compressed data; chained: the first payload's
    /// length.
    pub offset_or_length: u32,
    pub payload: &'a [u8],
}

impl<'a> Compression<'a> {
    pub fn parse(b: &'a [u8]) -> Result<Compression<'a>> {
        match b.get(..4) {
            Some(id) if id == COMPRESSION_PROTOCOL_ID => {}
            Some(_) => return Err(Error::NotSmb),
            None => return Err(Error::Truncated { need: 16 }),
        }
        let mut c = Cursor::at(b, 4);
        Ok(Compression {
            original_size: c.u32()?,
            algorithm: c.u16()?,
            flags: c.u16()?,
            offset_or_length: c.u32()?,
            payload: c.rest(),
        })
    }

    pub fn is_chained(&self) -> bool {
        self.flags & 1 != 0
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A sync header.
    pub(crate) fn header(command: u16, flags: u32, status: u32, next: u32, mid: u64) -> Vec<u8> {
        let mut h = PROTOCOL_ID.to_vec();
        h.extend(64u16.to_le_bytes());
        h.extend(1u16.to_le_bytes());
        h.extend(status.to_le_bytes());
        h.extend(command.to_le_bytes());
        h.extend(1u16.to_le_bytes());
        h.extend(flags.to_le_bytes());
        h.extend(next.to_le_bytes());
        h.extend(mid.to_le_bytes());
        h.extend(0xfeffu32.to_le_bytes()); // process id
        h.extend(7u32.to_le_bytes()); // tree id
        h.extend(0x1122_3344_5566_7788u64.to_le_bytes());
        h.extend([0; 16]);
        h
    }

    fn utf16(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    fn one(m: &[u8]) -> Message<'_> {
        let mut c = Compound::new(m).unwrap();
        let msg = c.next().unwrap().unwrap();
        assert!(c.next().is_none());
        msg
    }

    #[test]
    fn header_fields() {
        let m = header(
            5,
            flags::SERVER_TO_REDIR | flags::SIGNED,
            0xc000_0034,
            0,
            42,
        );
        let h = Header::parse(&m).unwrap();
        assert_eq!(h.command, Command::CREATE);
        assert_eq!(h.command.name(), "CREATE");
        assert!(h.is_response() && h.is_signed() && !h.is_async() && !h.is_related());
        assert_eq!(h.status, Status::OBJECT_NAME_NOT_FOUND);
        assert!(h.status.is_error());
        assert_eq!(h.message_id, 42);
        assert_eq!(h.tree_id(), Some(7));
        assert_eq!(h.session_id, 0x1122_3344_5566_7788);

        let mut a = header(
            8,
            flags::SERVER_TO_REDIR | flags::ASYNC_COMMAND,
            0x103,
            0,
            9,
        );
        a[32..40].copy_from_slice(&0x55u64.to_le_bytes());
        let h = Header::parse(&a).unwrap();
        assert_eq!(h.async_id(), Some(0x55));
        assert_eq!(h.tree_id(), None);
        assert_eq!(Header::parse(&a[..63]), Err(Error::Truncated { need: 64 }));
        a[4] = 63;
        assert!(matches!(Header::parse(&a), Err(Error::Malformed(_))));
        assert_eq!(Header::parse(b"\xffSMB"), Err(Error::NotSmb));
    }

    #[test]
    fn status_pending_interim_is_an_error_response() {
        let mut m = header(
            8,
            flags::SERVER_TO_REDIR | flags::ASYNC_COMMAND,
            0x103,
            0,
            9,
        );
        m.extend([9, 0, 0, 0, 0, 0, 0, 0, 0]);
        let msg = one(&m);
        let Body::Error(e) = msg.body().unwrap() else {
            panic!()
        };
        assert!(e.data.is_empty());
        // An error body of 8 bytes (no error data byte) is still an error response.
        let msg = one(&m[..m.len() - 1]);
        assert!(matches!(msg.body().unwrap(), Body::Error(_)));
    }

    #[test]
    fn compound_chain_is_bounded() {
        let mut m = header(5, 0, 0, 0x68, 1); // CREATE; next at 104
        m.extend([0; 40]);
        m.extend(header(6, flags::RELATED_OPERATIONS, 0, 0, 2));
        m.extend([0; 24]);
        let msgs: Vec<Message> = Compound::new(&m).unwrap().map(Result::unwrap).collect();
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0].raw.len(), 0x68);
        assert!(msgs[1].header.is_related());
        assert_eq!(msgs[1].header.command, Command::CLOSE);

        // NextCommand pointing past the frame, inside the header, unaligned: one error, then done.
        for (next, want) in [
            (0x1000, Error::Truncated { need: 0x1000 }),
            (8, Error::Malformed("SMB2 NextCommand")),
            (0x69, Error::Malformed("SMB2 NextCommand")),
        ] {
            m[20..24].copy_from_slice(&u32::to_le_bytes(next));
            let all: Vec<_> = Compound::new(&m).unwrap().collect();
            assert_eq!(all.len(), 1);
            assert_eq!(all[0].as_ref().unwrap_err(), &want);
        }
        // The second header cut short: its need counts from the frame start.
        m[20..24].copy_from_slice(&0x68u32.to_le_bytes());
        let all: Vec<_> = Compound::new(&m[..0x68 + 10]).unwrap().collect();
        assert_eq!(
            all[1].as_ref().unwrap_err(),
            &Error::Truncated { need: 0x68 + 64 }
        );
    }

    #[test]
    fn tree_connect_and_create() {
        let path = utf16("\\\\DC1\\IPC$");
        let mut m = header(3, 0, 0, 0, 3);
        m.extend(9u16.to_le_bytes());
        m.extend(0u16.to_le_bytes());
        m.extend(72u16.to_le_bytes());
        m.extend((path.len() as u16).to_le_bytes());
        m.extend(&path);
        let Body::TreeConnectRequest(t) = one(&m).body().unwrap() else {
            panic!()
        };
        assert_eq!(t.path.decode(), "\\\\DC1\\IPC$");
        // Path length past the message.
        m[70] = 0xff;
        assert!(matches!(one(&m).body(), Err(Error::Truncated { .. })));
        // Offset inside the header.
        m[70] = path.len() as u8;
        m[68] = 8;
        assert!(matches!(one(&m).body(), Err(Error::Malformed(_))));

        let mut r = header(3, flags::SERVER_TO_REDIR, 0, 0, 3);
        r.extend([16, 0, 2, 0]);
        r.extend(share_flags::ENCRYPT_DATA.to_le_bytes());
        r.extend([0; 8]);
        let Body::TreeConnectResponse(t) = one(&r).body().unwrap() else {
            panic!()
        };
        assert_eq!(t.share_type, ShareType::Pipe);
        assert!(t.encrypts());

        let name = utf16("lsarpc");
        let mut c = header(5, 0, 0, 0, 4);
        let mut body = vec![0u8; 56];
        body[0] = 57;
        body[44..46].copy_from_slice(&120u16.to_le_bytes());
        body[46..48].copy_from_slice(&(name.len() as u16).to_le_bytes());
        c.extend(body);
        c.extend(&name);
        let Body::CreateRequest(cr) = one(&c).body().unwrap() else {
            panic!()
        };
        assert_eq!(cr.name.decode(), "lsarpc");

        let mut resp = header(5, flags::SERVER_TO_REDIR, 0, 0, 4);
        let mut body = vec![0u8; 88];
        body[0] = 89;
        body[64..72].copy_from_slice(&5u64.to_le_bytes());
        body[72..80].copy_from_slice(&6u64.to_le_bytes());
        resp.extend(body);
        let Body::CreateResponse(cr) = one(&resp).body().unwrap() else {
            panic!()
        };
        assert_eq!(
            cr.file_id,
            FileId {
                persistent: 5,
                volatile: 6
            }
        );
        // The fixed part cut short.
        assert_eq!(
            one(&resp[..100]).body().unwrap_err(),
            Error::Truncated { need: 64 + 88 }
        );
    }

    #[test]
    fn read_overflow_still_carries_data() {
        let mut m = header(8, flags::SERVER_TO_REDIR, Status::BUFFER_OVERFLOW.0, 0, 5);
        m.extend([17, 0, 80, 0]);
        m.extend(4u32.to_le_bytes());
        m.extend(100u32.to_le_bytes());
        m.extend([0; 4]);
        m.extend(b"\x05\x00\x02\x03");
        let msg = one(&m);
        assert!(!msg.is_error_response());
        let Body::ReadResponse(r) = msg.body().unwrap() else {
            panic!()
        };
        assert_eq!(r.data, b"\x05\x00\x02\x03");
        assert_eq!(r.data_remaining, 100);
    }

    #[test]
    fn ioctl_transceive_slices() {
        let mut m = header(11, 0, 0, 0, 6);
        let mut body = vec![0u8; 56];
        body[0] = 57;
        body[4..8].copy_from_slice(&ctl::FSCTL_PIPE_TRANSCEIVE.to_le_bytes());
        body[8..16].copy_from_slice(&1u64.to_le_bytes());
        body[24..28].copy_from_slice(&120u32.to_le_bytes());
        body[28..32].copy_from_slice(&3u32.to_le_bytes());
        body[36..40].copy_from_slice(&123u32.to_le_bytes());
        body[48] = 1;
        m.extend(body);
        m.extend(b"abc");
        let Body::IoctlRequest(i) = one(&m).body().unwrap() else {
            panic!()
        };
        assert_eq!(i.ctl_code, ctl::FSCTL_PIPE_TRANSCEIVE);
        assert_eq!(i.file_id.persistent, 1);
        assert_eq!(i.input, b"abc");
        assert!(i.output.is_empty());
        // An input count near u32::MAX cannot wrap.
        m[64 + 28..64 + 32].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(one(&m).body().is_err());
    }

    #[test]
    fn negotiate_311_contexts() {
        let mut m = header(0, 0, 0, 0, 0);
        let mut body = vec![0u8; 36];
        body[0] = 36;
        body[2] = 2; // two dialects
        body[28..32].copy_from_slice(&104u32.to_le_bytes()); // 64 + 36 + 4 bytes of dialects
        body[32] = 2;
        m.extend(body);
        m.extend(0x0302u16.to_le_bytes());
        m.extend(0x0311u16.to_le_bytes());
        m.extend([2, 0, 6, 0, 0, 0, 0, 0, 2, 0, 2, 0, 1, 0]); // ciphers GCM, CCM
        m.extend([0, 0]); // pad to 8
        m.extend([1, 0, 2, 0, 0, 0, 0, 0, 9, 9]);
        let Body::NegotiateRequest(n) = one(&m).body().unwrap() else {
            panic!()
        };
        assert_eq!(n.dialects.iter().collect::<Vec<_>>(), [0x0302, 0x0311]);
        let ctxs: Vec<NegotiateContext> = n.contexts.map(Result::unwrap).collect();
        assert_eq!(ctxs.len(), 2);
        assert_eq!(
            ctxs[0].ciphers().unwrap().iter().collect::<Vec<_>>(),
            [2, 1]
        );
        assert_eq!(ctxs[1].kind, context::PREAUTH_INTEGRITY);
        // A count beyond what is there: an error, then the end.
        m[64 + 32] = 9;
        let Body::NegotiateRequest(n) = one(&m).body().unwrap() else {
            panic!()
        };
        assert_eq!(n.contexts.count(), 3);
    }

    #[test]
    fn transform_and_compression() {
        let mut t = TRANSFORM_PROTOCOL_ID.to_vec();
        t.extend([1; 16]);
        t.extend([2; 16]);
        t.extend(200u32.to_le_bytes());
        t.extend([0, 0, 1, 0]);
        t.extend(0x99u64.to_le_bytes());
        t.extend(b"ciphertext");
        let x = Transform::parse(&t).unwrap();
        assert_eq!(x.session_id, 0x99);
        assert_eq!(x.flags, 1);
        assert_eq!(x.ciphertext, b"ciphertext");
        assert_eq!(
            Transform::parse(&t[..51]),
            Err(Error::Truncated { need: 52 })
        );

        let mut c = COMPRESSION_PROTOCOL_ID.to_vec();
        c.extend(4096u32.to_le_bytes());
        c.extend([3, 0, 1, 0]);
        c.extend(10u32.to_le_bytes());
        let x = Compression::parse(&c).unwrap();
        assert_eq!(
            (x.algorithm, x.is_chained(), x.original_size),
            (3, true, 4096)
        );
    }
}
