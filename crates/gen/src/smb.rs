//! SMB built byte by byte: NetBIOS session framing (RFC 1002 4.3), SMB2/SMB3 messages
//! ([MS-SMB2] 2.2: the 64-byte sync header, compounds, the 52-byte transform header and the
//! bodies the fixtures use), DFS referrals ([MS-DFSC] 2.2.2, 2.2.4) and SMB1 ([MS-CIFS] 2.2.3.1,
//! 2.2.4, with the extended-security forms of [MS-SMB] 2.2.4).
//!
//! Every offset in a body is from the start of its SMB header, as the specifications count it.
//! Unicode strings are UTF-16LE; SMB1 Unicode strings start 2-byte aligned from the SMB header,
//! with the pad byte the specification requires.

// ---------------------------------------------------------------------------------------------
// NetBIOS session service

/// A session message (type 0x00) with a 24-bit length, as direct TCP (445) and NetBIOS (139) frame SMB.
pub fn nbss(msg: &[u8]) -> Vec<u8> {
    let n = msg.len();
    assert!(n < 1 << 24, "NetBIOS session message too long");
    let mut v = vec![0, (n >> 16) as u8, (n >> 8) as u8, n as u8];
    v.extend_from_slice(msg);
    v
}

pub fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn u16le(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_le_bytes());
}
fn u32le(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_le_bytes());
}
fn u64le(v: &mut Vec<u8>, x: u64) {
    v.extend_from_slice(&x.to_le_bytes());
}
fn put16(v: &mut [u8], at: usize, x: u16) {
    v[at..at + 2].copy_from_slice(&x.to_le_bytes());
}

// ---------------------------------------------------------------------------------------------
// SMB2 header (2.2.1.2)

pub const NEGOTIATE: u16 = 0x00;
pub const SESSION_SETUP: u16 = 0x01;
pub const TREE_CONNECT: u16 = 0x03;
pub const TREE_DISCONNECT: u16 = 0x04;
pub const CREATE: u16 = 0x05;
pub const CLOSE: u16 = 0x06;
pub const READ: u16 = 0x08;
pub const WRITE: u16 = 0x09;
pub const IOCTL: u16 = 0x0b;

pub const FLAGS_SERVER_TO_REDIR: u32 = 0x0000_0001;
pub const FLAGS_RELATED_OPERATIONS: u32 = 0x0000_0004;
pub const FLAGS_SIGNED: u32 = 0x0000_0008;

pub const STATUS_SUCCESS: u32 = 0;
pub const STATUS_MORE_PROCESSING_REQUIRED: u32 = 0xc000_0016;

/// Dialect revisions.
pub const SMB202: u16 = 0x0202;
pub const SMB210: u16 = 0x0210;
pub const SMB300: u16 = 0x0300;
pub const SMB302: u16 = 0x0302;
pub const SMB311: u16 = 0x0311;

/// A file id of all ones: "the file of the previous operation" in a related compound, and the
/// file id of FSCTLs that name no file (DFS referrals).
pub const FILE_ID_ANY: FileId = FileId {
    persistent: u64::MAX,
    volatile: u64::MAX,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileId {
    pub persistent: u64,
    pub volatile: u64,
}

impl FileId {
    fn put(&self, v: &mut Vec<u8>) {
        u64le(v, self.persistent);
        u64le(v, self.volatile);
    }
}

/// The sync header's fields.
#[derive(Clone, Copy, Debug)]
pub struct Hdr {
    pub command: u16,
    pub status: u32,
    pub flags: u32,
    pub message_id: u64,
    pub credit_charge: u16,
    /// CreditRequest in a request, CreditResponse in a response.
    pub credits: u16,
    pub tree_id: u32,
    pub session_id: u64,
    pub signature: [u8; 16],
}

/// A message: the 64-byte header (NextCommand 0, set by [`compound`]) and `body`.
pub fn message(h: &Hdr, body: &[u8]) -> Vec<u8> {
    let mut v = b"\xfeSMB".to_vec();
    u16le(&mut v, 64); // StructureSize
    u16le(&mut v, h.credit_charge);
    u32le(&mut v, h.status);
    u16le(&mut v, h.command);
    u16le(&mut v, h.credits);
    u32le(&mut v, h.flags);
    u32le(&mut v, 0); // NextCommand
    u64le(&mut v, h.message_id);
    u32le(&mut v, 0); // Reserved (ProcessId)
    u32le(&mut v, h.tree_id);
    u64le(&mut v, h.session_id);
    v.extend_from_slice(&h.signature);
    debug_assert_eq!(v.len(), 64);
    v.extend_from_slice(body);
    v
}

/// Chains messages into one compound (3.2.4.1.4): every message but the last padded to 8 bytes,
/// its NextCommand the padded length.
pub fn compound(msgs: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        let mut m = m.clone();
        if i + 1 < msgs.len() {
            while m.len() % 8 != 0 {
                m.push(0);
            }
            let next = m.len() as u32;
            m[20..24].copy_from_slice(&next.to_le_bytes());
        }
        out.extend(m);
    }
    out
}

/// The transform header (2.2.41) around `ciphertext`, which stands for an encrypted message of
/// the same length. `dialect` 3.0/3.0.2 puts EncryptionAlgorithm AES-128-CCM (1) where 3.1.1
/// has Flags Encrypted (1): the same value.
pub fn transform(signature: [u8; 16], nonce: &[u8], session_id: u64, ciphertext: &[u8]) -> Vec<u8> {
    let mut v = b"\xfdSMB".to_vec();
    v.extend_from_slice(&signature);
    let mut n = [0u8; 16];
    n[..nonce.len()].copy_from_slice(nonce);
    v.extend_from_slice(&n);
    u32le(&mut v, ciphertext.len() as u32); // OriginalMessageSize
    u16le(&mut v, 0); // Reserved
    u16le(&mut v, 1); // Flags / EncryptionAlgorithm
    u64le(&mut v, session_id);
    debug_assert_eq!(v.len(), 52);
    v.extend_from_slice(ciphertext);
    v
}

// ---------------------------------------------------------------------------------------------
// NEGOTIATE (2.2.3, 2.2.4)

pub const CAP_DFS: u32 = 0x01;
pub const CAP_LEASING: u32 = 0x02;
pub const CAP_LARGE_MTU: u32 = 0x04;
pub const CAP_MULTI_CHANNEL: u32 = 0x08;
pub const CAP_PERSISTENT_HANDLES: u32 = 0x10;
pub const CAP_DIRECTORY_LEASING: u32 = 0x20;
pub const CAP_ENCRYPTION: u32 = 0x40;

pub const SIGNING_ENABLED: u16 = 0x01;
pub const SIGNING_REQUIRED: u16 = 0x02;

/// AES-128-CCM, AES-128-GCM, AES-256-CCM, AES-256-GCM (2.2.3.1.2).
pub const AES_128_CCM: u16 = 1;
pub const AES_128_GCM: u16 = 2;
pub const AES_256_GCM: u16 = 4;

/// Negotiate contexts (2.2.3.1), each 8-byte aligned from the header start; `at` is the offset
/// from the header of the first context.
fn negotiate_contexts(v: &mut Vec<u8>, contexts: &[(u16, Vec<u8>)]) {
    for (i, (kind, data)) in contexts.iter().enumerate() {
        if i > 0 {
            while !(64 + v.len()).is_multiple_of(8) {
                v.push(0);
            }
        }
        u16le(v, *kind);
        u16le(v, data.len() as u16);
        u32le(v, 0);
        v.extend_from_slice(data);
    }
}

/// SMB2_PREAUTH_INTEGRITY_CAPABILITIES (SHA-512), SMB2_ENCRYPTION_CAPABILITIES, and
/// SMB2_SIGNING_CAPABILITIES (AES-CMAC, AES-GMAC when `both_signing`).
fn contexts_311(salt: &[u8; 32], ciphers: &[u16], signing: &[u16]) -> Vec<(u16, Vec<u8>)> {
    let mut pre = Vec::new();
    u16le(&mut pre, 1); // HashAlgorithmCount
    u16le(&mut pre, salt.len() as u16);
    u16le(&mut pre, 1); // SHA-512
    pre.extend_from_slice(salt);
    let mut enc = Vec::new();
    u16le(&mut enc, ciphers.len() as u16);
    for &c in ciphers {
        u16le(&mut enc, c);
    }
    let mut sig = Vec::new();
    u16le(&mut sig, signing.len() as u16);
    for &s in signing {
        u16le(&mut sig, s);
    }
    vec![(1, pre), (2, enc), (8, sig)]
}

/// NEGOTIATE request: `dialects`; with 3.1.1 among them, negotiate contexts offering `ciphers`.
pub fn negotiate_request(
    dialects: &[u16],
    client_guid: [u8; 16],
    salt: &[u8; 32],
    ciphers: &[u16],
) -> Vec<u8> {
    let with_contexts = dialects.contains(&SMB311);
    let mut v = Vec::new();
    u16le(&mut v, 36);
    u16le(&mut v, dialects.len() as u16);
    u16le(&mut v, SIGNING_ENABLED);
    u16le(&mut v, 0);
    let caps = CAP_DFS
        | CAP_LEASING
        | CAP_LARGE_MTU
        | CAP_MULTI_CHANNEL
        | CAP_PERSISTENT_HANDLES
        | CAP_DIRECTORY_LEASING
        | CAP_ENCRYPTION;
    u32le(&mut v, caps);
    v.extend_from_slice(&client_guid);
    let ctx_at = v.len();
    u64le(&mut v, 0); // NegotiateContextOffset/Count/Reserved2, or ClientStartTime
    for &d in dialects {
        u16le(&mut v, d);
    }
    if with_contexts {
        while (64 + v.len()) % 8 != 0 {
            v.push(0);
        }
        let off = (64 + v.len()) as u32;
        let ctxs = contexts_311(salt, ciphers, &[1, 2]);
        v[ctx_at..ctx_at + 4].copy_from_slice(&off.to_le_bytes());
        put16(&mut v, ctx_at + 4, ctxs.len() as u16);
        negotiate_contexts(&mut v, &ctxs);
    }
    v
}

pub struct NegotiateResponse<'a> {
    pub dialect: u16,
    pub server_guid: [u8; 16],
    pub capabilities: u32,
    pub system_time: u64,
    pub security_blob: &'a [u8],
    /// 3.1.1: the salt and the cipher chosen.
    pub salt: [u8; 32],
    pub cipher: u16,
}

pub fn negotiate_response(n: &NegotiateResponse) -> Vec<u8> {
    let mut v = Vec::new();
    u16le(&mut v, 65);
    u16le(&mut v, SIGNING_ENABLED | SIGNING_REQUIRED);
    u16le(&mut v, n.dialect);
    let count_at = v.len();
    u16le(&mut v, 0); // NegotiateContextCount
    v.extend_from_slice(&n.server_guid);
    u32le(&mut v, n.capabilities);
    u32le(&mut v, 8 << 20); // MaxTransactSize
    u32le(&mut v, 8 << 20); // MaxReadSize
    u32le(&mut v, 8 << 20); // MaxWriteSize
    u64le(&mut v, n.system_time);
    u64le(&mut v, 0); // ServerStartTime
    u16le(&mut v, 128); // SecurityBufferOffset
    u16le(&mut v, n.security_blob.len() as u16);
    let off_at = v.len();
    u32le(&mut v, 0); // NegotiateContextOffset
    debug_assert_eq!(v.len(), 64);
    v.extend_from_slice(n.security_blob);
    if n.dialect == SMB311 {
        while (64 + v.len()) % 8 != 0 {
            v.push(0);
        }
        let off = (64 + v.len()) as u32;
        let ctxs = contexts_311(&n.salt, &[n.cipher], &[1]);
        put16(&mut v, count_at, ctxs.len() as u16);
        v[off_at..off_at + 4].copy_from_slice(&off.to_le_bytes());
        negotiate_contexts(&mut v, &ctxs);
    }
    v
}

// ---------------------------------------------------------------------------------------------
// SESSION_SETUP (2.2.5, 2.2.6)

pub const SESSION_FLAG_ENCRYPT_DATA: u16 = 0x04;

pub fn session_setup_request(blob: &[u8]) -> Vec<u8> {
    let mut v = vec![];
    u16le(&mut v, 25);
    v.push(0); // Flags
    v.push(SIGNING_ENABLED as u8); // SecurityMode
    u32le(&mut v, CAP_DFS); // Capabilities
    u32le(&mut v, 0); // Channel
    u16le(&mut v, 64 + 24); // SecurityBufferOffset
    u16le(&mut v, blob.len() as u16);
    u64le(&mut v, 0); // PreviousSessionId
    v.extend_from_slice(blob);
    v
}

pub fn session_setup_response(session_flags: u16, blob: &[u8]) -> Vec<u8> {
    let mut v = vec![];
    u16le(&mut v, 9);
    u16le(&mut v, session_flags);
    u16le(&mut v, if blob.is_empty() { 0 } else { 64 + 8 });
    u16le(&mut v, blob.len() as u16);
    v.extend_from_slice(blob);
    v
}

// ---------------------------------------------------------------------------------------------
// TREE_CONNECT (2.2.9, 2.2.10), TREE_DISCONNECT (2.2.11, 2.2.12)

pub const SHARE_TYPE_DISK: u8 = 1;
pub const SHARE_TYPE_PIPE: u8 = 2;
pub const SHARE_TYPE_PRINT: u8 = 3;

pub const SHAREFLAG_DFS: u32 = 0x0001;
pub const SHAREFLAG_ENCRYPT_DATA: u32 = 0x8000;

pub fn tree_connect_request(path: &str) -> Vec<u8> {
    let p = utf16(path);
    let mut v = vec![];
    u16le(&mut v, 9);
    u16le(&mut v, 0); // Flags
    u16le(&mut v, 64 + 8);
    u16le(&mut v, p.len() as u16);
    v.extend(p);
    v
}

pub fn tree_connect_response(share_type: u8, share_flags: u32, maximal_access: u32) -> Vec<u8> {
    let mut v = vec![];
    u16le(&mut v, 16);
    v.push(share_type);
    v.push(0);
    u32le(&mut v, share_flags);
    u32le(&mut v, 0); // Capabilities
    u32le(&mut v, maximal_access);
    v
}

/// TREE_DISCONNECT request and response: StructureSize 4, Reserved.
pub fn four() -> Vec<u8> {
    vec![4, 0, 0, 0]
}

// ---------------------------------------------------------------------------------------------
// CREATE (2.2.13, 2.2.14), CLOSE (2.2.15, 2.2.16)

pub struct CreateRequest<'a> {
    pub name: &'a str,
    pub desired_access: u32,
    pub file_attributes: u32,
    pub share_access: u32,
    pub disposition: u32,
    pub options: u32,
}

/// FILE_OPEN.
pub const FILE_OPEN: u32 = 1;
/// FILE_OPEN_IF.
pub const FILE_OPEN_IF: u32 = 3;
/// FILE_NON_DIRECTORY_FILE.
pub const FILE_NON_DIRECTORY_FILE: u32 = 0x40;

impl CreateRequest<'_> {
    /// A named pipe as Windows opens one on IPC$: read, write, attributes, synchronize.
    pub fn pipe(name: &str) -> CreateRequest<'_> {
        CreateRequest {
            name,
            desired_access: 0x0012_019f,
            file_attributes: 0,
            share_access: 0x07,
            disposition: FILE_OPEN,
            options: 0x0040_0040, // non-directory, open no recall
        }
    }
    /// A file opened for reading (generic read).
    pub fn read(name: &str) -> CreateRequest<'_> {
        CreateRequest {
            name,
            desired_access: 0x0012_0089,
            file_attributes: 0,
            share_access: 0x07,
            disposition: FILE_OPEN,
            options: FILE_NON_DIRECTORY_FILE,
        }
    }
    /// A file opened for reading and writing, created when absent.
    pub fn read_write(name: &str) -> CreateRequest<'_> {
        CreateRequest {
            name,
            desired_access: 0x0012_019f,
            file_attributes: 0x80,
            share_access: 0x01,
            disposition: FILE_OPEN_IF,
            options: FILE_NON_DIRECTORY_FILE,
        }
    }
}

pub fn create_request(c: &CreateRequest) -> Vec<u8> {
    let name = utf16(c.name);
    let mut v = vec![];
    u16le(&mut v, 57);
    v.push(0); // SecurityFlags
    v.push(0); // RequestedOplockLevel: none
    u32le(&mut v, 2); // ImpersonationLevel: Impersonation
    u64le(&mut v, 0); // SmbCreateFlags
    u64le(&mut v, 0); // Reserved
    u32le(&mut v, c.desired_access);
    u32le(&mut v, c.file_attributes);
    u32le(&mut v, c.share_access);
    u32le(&mut v, c.disposition);
    u32le(&mut v, c.options);
    u16le(&mut v, 64 + 56); // NameOffset
    u16le(&mut v, name.len() as u16);
    u32le(&mut v, 0); // CreateContextsOffset
    u32le(&mut v, 0); // CreateContextsLength
    debug_assert_eq!(v.len(), 56);
    if name.is_empty() {
        v.push(0); // the buffer is at least one byte
    } else {
        v.extend(name);
    }
    v
}

pub struct CreateResponse {
    pub file_id: FileId,
    pub create_action: u32,
    pub time: u64,
    pub end_of_file: u64,
    pub attributes: u32,
}

pub fn create_response(c: &CreateResponse) -> Vec<u8> {
    let mut v = vec![];
    u16le(&mut v, 89);
    v.push(0); // OplockLevel
    v.push(0); // Flags
    u32le(&mut v, c.create_action);
    for _ in 0..4 {
        u64le(&mut v, c.time);
    }
    u64le(&mut v, c.end_of_file.next_multiple_of(4096)); // AllocationSize
    u64le(&mut v, c.end_of_file);
    u32le(&mut v, c.attributes);
    u32le(&mut v, 0); // Reserved2
    c.file_id.put(&mut v);
    u32le(&mut v, 0); // CreateContextsOffset
    u32le(&mut v, 0); // CreateContextsLength
    debug_assert_eq!(v.len(), 88);
    v
}

pub fn close_request(f: FileId) -> Vec<u8> {
    let mut v = vec![];
    u16le(&mut v, 24);
    u16le(&mut v, 0);
    u32le(&mut v, 0);
    f.put(&mut v);
    v
}

pub fn close_response() -> Vec<u8> {
    let mut v = vec![];
    u16le(&mut v, 60);
    v.resize(60, 0);
    v
}

// ---------------------------------------------------------------------------------------------
// READ (2.2.19, 2.2.20), WRITE (2.2.21, 2.2.22)

pub fn read_request(f: FileId, length: u32, offset: u64) -> Vec<u8> {
    let mut v = vec![];
    u16le(&mut v, 49);
    v.push(0x50); // Padding: where the server puts the data
    v.push(0); // Flags
    u32le(&mut v, length);
    u64le(&mut v, offset);
    f.put(&mut v);
    u32le(&mut v, 0); // MinimumCount
    u32le(&mut v, 0); // Channel
    u32le(&mut v, 0); // RemainingBytes
    u16le(&mut v, 0); // ReadChannelInfoOffset
    u16le(&mut v, 0); // ReadChannelInfoLength
    v.push(0); // Buffer
    debug_assert_eq!(v.len(), 49);
    v
}

pub fn read_response(data: &[u8]) -> Vec<u8> {
    let mut v = vec![];
    u16le(&mut v, 17);
    v.push(64 + 16); // DataOffset
    v.push(0);
    u32le(&mut v, data.len() as u32);
    u32le(&mut v, 0); // DataRemaining
    u32le(&mut v, 0); // Reserved2 / Flags
    v.extend_from_slice(data);
    v
}

pub fn write_request(f: FileId, offset: u64, data: &[u8]) -> Vec<u8> {
    let mut v = vec![];
    u16le(&mut v, 49);
    u16le(&mut v, 64 + 48); // DataOffset
    u32le(&mut v, data.len() as u32);
    u64le(&mut v, offset);
    f.put(&mut v);
    u32le(&mut v, 0); // Channel
    u32le(&mut v, 0); // RemainingBytes
    u16le(&mut v, 0);
    u16le(&mut v, 0);
    u32le(&mut v, 0); // Flags
    debug_assert_eq!(v.len(), 48);
    v.extend_from_slice(data);
    v
}

pub fn write_response(count: u32) -> Vec<u8> {
    let mut v = vec![];
    u16le(&mut v, 17);
    u16le(&mut v, 0);
    u32le(&mut v, count);
    u32le(&mut v, 0); // Remaining
    u16le(&mut v, 0);
    u16le(&mut v, 0);
    v
}

// ---------------------------------------------------------------------------------------------
// IOCTL (2.2.31, 2.2.32)

pub const FSCTL_PIPE_TRANSCEIVE: u32 = 0x0011_c017;
pub const FSCTL_DFS_GET_REFERRALS: u32 = 0x0006_0194;

pub fn ioctl_request(ctl: u32, f: FileId, input: &[u8], max_output: u32) -> Vec<u8> {
    let mut v = vec![];
    u16le(&mut v, 57);
    u16le(&mut v, 0);
    u32le(&mut v, ctl);
    f.put(&mut v);
    u32le(&mut v, 64 + 56); // InputOffset
    u32le(&mut v, input.len() as u32);
    u32le(&mut v, 0); // MaxInputResponse
    u32le(&mut v, 64 + 56); // OutputOffset
    u32le(&mut v, 0); // OutputCount
    u32le(&mut v, max_output); // MaxOutputResponse
    u32le(&mut v, 1); // Flags: SMB2_0_IOCTL_IS_FSCTL
    u32le(&mut v, 0);
    debug_assert_eq!(v.len(), 56);
    v.extend_from_slice(input);
    v
}

pub fn ioctl_response(ctl: u32, f: FileId, output: &[u8]) -> Vec<u8> {
    let mut v = vec![];
    u16le(&mut v, 49);
    u16le(&mut v, 0);
    u32le(&mut v, ctl);
    f.put(&mut v);
    u32le(&mut v, 64 + 48); // InputOffset
    u32le(&mut v, 0); // InputCount
    u32le(&mut v, 64 + 48); // OutputOffset
    u32le(&mut v, output.len() as u32);
    u32le(&mut v, 0); // Flags
    u32le(&mut v, 0);
    debug_assert_eq!(v.len(), 48);
    v.extend_from_slice(output);
    v
}

// ---------------------------------------------------------------------------------------------
// DFS referrals ([MS-DFSC])

/// REQ_GET_DFS_REFERRAL (2.2.2): MaxReferralLevel, the path, NUL-terminated UTF-16.
pub fn dfs_referral_request(max_level: u16, path: &str) -> Vec<u8> {
    let mut v = max_level.to_le_bytes().to_vec();
    v.extend(utf16(path));
    v.extend_from_slice(&[0, 0]);
    v
}

/// RESP_GET_DFS_REFERRAL (2.2.4) with one DFS_REFERRAL_V3/V4 entry (2.2.5.3, 2.2.5.4) per
/// target: StorageServers set, the path consumed, each entry pointing at the shared DFS path
/// strings and its own target after all the entries.
pub fn dfs_referral_response(version: u16, path: &str, targets: &[&str]) -> Vec<u8> {
    const ENTRY: usize = 34;
    let mut v = Vec::new();
    u16le(&mut v, (path.encode_utf16().count() * 2) as u16); // PathConsumed
    u16le(&mut v, targets.len() as u16);
    u32le(&mut v, 0x0000_0002); // ReferralHeaderFlags: StorageServers
    let entries_at = v.len();
    let strings_at = entries_at + ENTRY * targets.len();
    let mut strings = Vec::new();
    let mut z = |s: &str| {
        let at = strings_at + strings.len();
        strings.extend(utf16(s));
        strings.extend_from_slice(&[0, 0]);
        at
    };
    let dfs_path = z(path);
    let alt_path = z(path);
    let target_at: Vec<usize> = targets.iter().map(|t| z(t)).collect();
    for (i, &t) in target_at.iter().enumerate() {
        let me = entries_at + ENTRY * i;
        u16le(&mut v, version);
        u16le(&mut v, ENTRY as u16);
        u16le(&mut v, 0); // ServerType: non-root targets
                          // ReferralEntryFlags: V4 marks the first target of the set (TargetSetBoundary).
        u16le(&mut v, if version == 4 && i == 0 { 0x0004 } else { 0 });
        u32le(&mut v, 900); // TimeToLive
        u16le(&mut v, (dfs_path - me) as u16);
        u16le(&mut v, (alt_path - me) as u16);
        u16le(&mut v, (t - me) as u16);
        v.extend_from_slice(&[0u8; 16]); // ServiceSiteGuid
    }
    v.extend(strings);
    v
}

// ---------------------------------------------------------------------------------------------
// SMB1 ([MS-CIFS] 2.2.3.1)

pub const SMB1_NEGOTIATE: u8 = 0x72;
pub const SMB1_SESSION_SETUP_ANDX: u8 = 0x73;
pub const SMB1_TREE_CONNECT_ANDX: u8 = 0x75;
pub const SMB1_NT_CREATE_ANDX: u8 = 0xa2;
pub const SMB1_TRANSACTION: u8 = 0x25;
pub const SMB1_WRITE_ANDX: u8 = 0x2f;
pub const SMB1_READ_ANDX: u8 = 0x2e;
pub const SMB1_CLOSE: u8 = 0x04;
pub const SMB1_TREE_DISCONNECT: u8 = 0x71;

/// Unicode, NT status codes, extended security, long names, extended attributes.
const FLAGS2: u16 = 0xc803;
/// No further AndX command.
const NO_ANDX: u8 = 0xff;

#[derive(Clone, Copy, Debug)]
pub struct Hdr1 {
    pub command: u8,
    pub status: u32,
    pub reply: bool,
    pub tid: u16,
    pub pid: u16,
    pub uid: u16,
    pub mid: u16,
}

/// An SMB1 message: header, WordCount and words, ByteCount and bytes. `bytes` is a closure of
/// the offset (from the header) where the bytes start, so that Unicode strings can be aligned.
pub fn smb1(h: &Hdr1, words: &[u8], bytes: impl FnOnce(usize) -> Vec<u8>) -> Vec<u8> {
    assert!(words.len().is_multiple_of(2) && words.len() < 512);
    let mut v = b"\xffSMB".to_vec();
    v.push(h.command);
    u32le(&mut v, h.status);
    v.push(if h.reply { 0x98 } else { 0x18 }); // case-insensitive, canonical paths (+ reply)
    u16le(&mut v, FLAGS2);
    u16le(&mut v, 0); // PIDHigh
    v.extend_from_slice(&[0u8; 8]); // SecurityFeatures
    u16le(&mut v, 0); // Reserved
    u16le(&mut v, h.tid);
    u16le(&mut v, h.pid);
    u16le(&mut v, h.uid);
    u16le(&mut v, h.mid);
    debug_assert_eq!(v.len(), 32);
    v.push((words.len() / 2) as u8);
    v.extend_from_slice(words);
    let b = bytes(v.len() + 2);
    u16le(&mut v, b.len() as u16);
    v.extend(b);
    v
}

/// A NUL-terminated UTF-16 string at offset `at` from the header, after a pad byte if `at` is odd.
fn smb1_unicode(out: &mut Vec<u8>, at: usize, s: &str) {
    if (at + out.len()) % 2 == 1 {
        out.push(0);
    }
    out.extend(utf16(s));
    out.extend_from_slice(&[0, 0]);
}

/// The dialects a Windows client that keeps SMB1 offers, "NT LM 0.12" last.
pub const SMB1_DIALECTS: &[&str] = &[
    "PC NETWORK PROGRAM 1.0",
    "LANMAN1.0",
    "Windows for Workgroups 3.1a",
    "LM1.2X002",
    "LANMAN2.1",
    "NT LM 0.12",
];

pub fn smb1_negotiate_request(dialects: &[&str]) -> Vec<u8> {
    let mut b = Vec::new();
    for d in dialects {
        b.push(0x02); // BufferFormat: dialect
        b.extend_from_slice(d.as_bytes());
        b.push(0);
    }
    b
}

/// CAP_RAW_MODE, UNICODE, LARGE_FILES, NT_SMBS, RPC_REMOTE_APIS, STATUS32, LEVEL_II_OPLOCKS,
/// LOCK_AND_READ, NT_FIND, DFS, INFOLEVEL_PASSTHRU, LARGE_READX, LARGE_WRITEX, EXTENDED_SECURITY.
pub const SMB1_CAPS: u32 = 0x8000_f3fd;

/// NEGOTIATE response words (17) for NT LM 0.12 with extended security; bytes: server GUID and
/// the security blob.
pub fn smb1_negotiate_response(
    dialect_index: u16,
    system_time: u64,
    server_guid: [u8; 16],
    blob: &[u8],
) -> (Vec<u8>, Vec<u8>) {
    let mut w = Vec::new();
    u16le(&mut w, dialect_index);
    w.push(0x03); // SecurityMode: user level, challenge/response
    u16le(&mut w, 50); // MaxMpxCount
    u16le(&mut w, 1); // MaxNumberVcs
    u32le(&mut w, 16644); // MaxBufferSize
    u32le(&mut w, 65536); // MaxRawSize
    u32le(&mut w, 0); // SessionKey
    u32le(&mut w, SMB1_CAPS);
    u64le(&mut w, system_time);
    u16le(&mut w, 0); // ServerTimeZone
    w.push(0); // ChallengeLength: 0 with extended security
    debug_assert_eq!(w.len(), 34);
    let mut b = server_guid.to_vec();
    b.extend_from_slice(blob);
    (w, b)
}

/// SESSION_SETUP_ANDX request, extended security ([MS-SMB] 2.2.4.6.1): 12 words.
pub fn smb1_session_setup_request(h: &Hdr1, blob: &[u8], os: &str, lanman: &str) -> Vec<u8> {
    let mut w = vec![NO_ANDX, 0];
    u16le(&mut w, 0); // AndXOffset
    u16le(&mut w, 16644); // MaxBufferSize
    u16le(&mut w, 50); // MaxMpxCount
    u16le(&mut w, 0); // VcNumber
    u32le(&mut w, 0); // SessionKey
    u16le(&mut w, blob.len() as u16);
    u32le(&mut w, 0); // Reserved
    u32le(&mut w, 0x8000_d05c); // Capabilities: extended security, dynamic reauth, ...
    smb1(h, &w, |at| {
        let mut b = blob.to_vec();
        smb1_unicode(&mut b, at, os);
        smb1_unicode(&mut b, at, lanman);
        b
    })
}

/// SESSION_SETUP_ANDX response, extended security ([MS-SMB] 2.2.4.6.2): 4 words.
pub fn smb1_session_setup_response(h: &Hdr1, blob: &[u8], os: &str, lanman: &str) -> Vec<u8> {
    let mut w = vec![NO_ANDX, 0];
    u16le(&mut w, 0);
    u16le(&mut w, 0); // Action
    u16le(&mut w, blob.len() as u16);
    smb1(h, &w, |at| {
        let mut b = blob.to_vec();
        smb1_unicode(&mut b, at, os);
        smb1_unicode(&mut b, at, lanman);
        b
    })
}

/// TREE_CONNECT_ANDX request (2.2.4.55.1): an empty password, the UNC path, service "?????".
pub fn smb1_tree_connect_request(h: &Hdr1, path: &str) -> Vec<u8> {
    let mut w = vec![NO_ANDX, 0];
    u16le(&mut w, 0);
    u16le(&mut w, 0x0008); // Flags: TREE_CONNECT_ANDX_EXTENDED_RESPONSE
    u16le(&mut w, 1); // PasswordLength
    smb1(h, &w, |at| {
        let mut b = vec![0]; // Password
        smb1_unicode(&mut b, at, path);
        b.extend_from_slice(b"?????\0");
        b
    })
}

/// TREE_CONNECT_ANDX extended response ([MS-SMB] 2.2.4.7.2): 7 words, service, native file system.
pub fn smb1_tree_connect_response(h: &Hdr1, service: &str, fs: &str) -> Vec<u8> {
    let mut w = vec![NO_ANDX, 0];
    u16le(&mut w, 0);
    u16le(&mut w, 0x0001); // OptionalSupport: SMB_SUPPORT_SEARCH_BITS
    u32le(&mut w, 0x001f_01ff); // MaximalShareAccessRights
    u32le(&mut w, 0); // GuestMaximalShareAccessRights
    smb1(h, &w, |at| {
        let mut b = service.as_bytes().to_vec();
        b.push(0);
        smb1_unicode(&mut b, at, fs);
        b
    })
}

/// NT_CREATE_ANDX request (2.2.4.64.1) opening `name` (a pipe: "\srvsvc").
pub fn smb1_nt_create_request(h: &Hdr1, name: &str) -> Vec<u8> {
    let mut w = vec![NO_ANDX, 0];
    u16le(&mut w, 0);
    w.push(0); // Reserved
    u16le(&mut w, (name.encode_utf16().count() * 2) as u16); // NameLength
    u32le(&mut w, 0x16); // Flags: request oplock, batch oplock, extended response
    u32le(&mut w, 0); // RootDirectoryFID
    u32le(&mut w, 0x0002_019f); // DesiredAccess
    u64le(&mut w, 0); // AllocationSize
    u32le(&mut w, 0); // ExtFileAttributes
    u32le(&mut w, 0x03); // ShareAccess: read, write
    u32le(&mut w, FILE_OPEN); // CreateDisposition
    u32le(&mut w, 0x0040_0040); // CreateOptions
    u32le(&mut w, 2); // ImpersonationLevel
    w.push(0); // SecurityFlags
    debug_assert_eq!(w.len(), 48);
    smb1(h, &w, |at| {
        let mut b = Vec::new();
        smb1_unicode(&mut b, at, name);
        b
    })
}

/// NT_CREATE_ANDX response (2.2.4.64.2) for a message-mode named pipe: 34 words.
pub fn smb1_nt_create_response(h: &Hdr1, fid: u16, time: u64) -> Vec<u8> {
    let mut w = vec![NO_ANDX, 0];
    u16le(&mut w, 0);
    w.push(0); // OplockLevel
    u16le(&mut w, fid);
    u32le(&mut w, FILE_OPEN); // CreateDisposition
    for _ in 0..4 {
        u64le(&mut w, time);
    }
    u32le(&mut w, 0x80); // ExtFileAttributes: normal
    u64le(&mut w, 4096); // AllocationSize
    u64le(&mut w, 0); // EndOfFile
    u16le(&mut w, 2); // ResourceType: FileTypeMessageModePipe
    u16le(&mut w, 0x05ff); // NMPipeStatus: message mode, read mode message, 255 instances
    w.push(0); // Directory
    debug_assert_eq!(w.len(), 68);
    smb1(h, &w, |_| Vec::new())
}

/// TRANS_TRANSACT_NMPIPE request (2.2.5.6.1): SMB_COM_TRANSACTION, setup (0x0026, FID), name
/// "\PIPE\", no parameters, `data` 4-byte aligned.
pub fn smb1_transact_nmpipe_request(h: &Hdr1, fid: u16, data: &[u8]) -> Vec<u8> {
    // Header 32 + WordCount 1 + 16 words + ByteCount 2 = 67; pad 1, "\PIPE\" 14 bytes → 82;
    // pad to 84.
    let data_off: u16 = 84;
    let mut w = Vec::new();
    u16le(&mut w, 0); // TotalParameterCount
    u16le(&mut w, data.len() as u16); // TotalDataCount
    u16le(&mut w, 0); // MaxParameterCount
    u16le(&mut w, 4280); // MaxDataCount
    w.push(0); // MaxSetupCount
    w.push(0);
    u16le(&mut w, 0); // Flags
    u32le(&mut w, 0); // Timeout
    u16le(&mut w, 0);
    u16le(&mut w, 0); // ParameterCount
    u16le(&mut w, data_off); // ParameterOffset
    u16le(&mut w, data.len() as u16); // DataCount
    u16le(&mut w, data_off); // DataOffset
    w.push(2); // SetupCount
    w.push(0);
    u16le(&mut w, 0x0026); // TransactNmPipe
    u16le(&mut w, fid);
    smb1(h, &w, |at| {
        let mut b = Vec::new();
        smb1_unicode(&mut b, at, "\\PIPE\\");
        while (at + b.len()) % 4 != 0 {
            b.push(0);
        }
        assert_eq!(at + b.len(), usize::from(data_off));
        b.extend_from_slice(data);
        b
    })
}

/// The TransactNmPipe response: 10 words, no parameters, `data` 4-byte aligned.
pub fn smb1_transact_nmpipe_response(h: &Hdr1, data: &[u8]) -> Vec<u8> {
    // 32 + 1 + 20 + 2 = 55; pad to 56.
    let data_off: u16 = 56;
    let mut w = Vec::new();
    u16le(&mut w, 0); // TotalParameterCount
    u16le(&mut w, data.len() as u16); // TotalDataCount
    u16le(&mut w, 0); // Reserved1
    u16le(&mut w, 0); // ParameterCount
    u16le(&mut w, data_off); // ParameterOffset
    u16le(&mut w, 0); // ParameterDisplacement
    u16le(&mut w, data.len() as u16); // DataCount
    u16le(&mut w, data_off); // DataOffset
    u16le(&mut w, 0); // DataDisplacement
    w.push(0); // SetupCount
    w.push(0);
    smb1(h, &w, |at| {
        let mut b = vec![0u8; usize::from(data_off) - at];
        b.extend_from_slice(data);
        b
    })
}

/// WRITE_ANDX request (2.2.4.43.1, 14 words) of `data` to a pipe, message start.
pub fn smb1_write_andx_request(h: &Hdr1, fid: u16, data: &[u8]) -> Vec<u8> {
    // 32 + 1 + 28 + 2 = 63; one pad byte: data at 64.
    let mut w = vec![NO_ANDX, 0];
    u16le(&mut w, 0);
    u16le(&mut w, fid);
    u32le(&mut w, 0); // Offset
    u32le(&mut w, 0); // Timeout
    u16le(&mut w, 0x0008); // WriteMode: message start
    u16le(&mut w, data.len() as u16); // Remaining
    u16le(&mut w, 0); // DataLengthHigh
    u16le(&mut w, data.len() as u16); // DataLength
    u16le(&mut w, 64); // DataOffset
    u32le(&mut w, 0); // OffsetHigh
    smb1(h, &w, |at| {
        let mut b = vec![0u8; 64 - at];
        b.extend_from_slice(data);
        b
    })
}

pub fn smb1_write_andx_response(h: &Hdr1, count: u16) -> Vec<u8> {
    let mut w = vec![NO_ANDX, 0];
    u16le(&mut w, 0);
    u16le(&mut w, count);
    u16le(&mut w, 0xffff); // Available
    u16le(&mut w, 0); // CountHigh
    u16le(&mut w, 0);
    smb1(h, &w, |_| Vec::new())
}

/// READ_ANDX request (2.2.4.42.1, 12 words).
pub fn smb1_read_andx_request(h: &Hdr1, fid: u16, max: u16) -> Vec<u8> {
    let mut w = vec![NO_ANDX, 0];
    u16le(&mut w, 0);
    u16le(&mut w, fid);
    u32le(&mut w, 0); // Offset
    u16le(&mut w, max); // MaxCountOfBytesToReturn
    u16le(&mut w, max); // MinCountOfBytesToReturn
    u32le(&mut w, 0xffff_ffff); // Timeout
    u16le(&mut w, max); // Remaining
    u32le(&mut w, 0); // OffsetHigh
    smb1(h, &w, |_| Vec::new())
}

/// READ_ANDX response (2.2.4.42.2, 12 words): data after one pad byte, at 60.
pub fn smb1_read_andx_response(h: &Hdr1, data: &[u8]) -> Vec<u8> {
    let mut w = vec![NO_ANDX, 0];
    u16le(&mut w, 0);
    u16le(&mut w, 0xffff); // Available
    u16le(&mut w, 0); // DataCompactionMode
    u16le(&mut w, 0); // Reserved1
    u16le(&mut w, data.len() as u16); // DataLength
    u16le(&mut w, 60); // DataOffset
    w.extend_from_slice(&[0u8; 10]); // DataLengthHigh, Reserved2
    smb1(h, &w, |at| {
        let mut b = vec![0u8; 60 - at];
        b.extend_from_slice(data);
        b
    })
}

/// CLOSE request (2.2.4.5.1): FID, LastTimeModified (not changed).
pub fn smb1_close_request(h: &Hdr1, fid: u16) -> Vec<u8> {
    let mut w = Vec::new();
    u16le(&mut w, fid);
    u32le(&mut w, 0xffff_ffff);
    smb1(h, &w, |_| Vec::new())
}

/// A message with no words and no bytes (CLOSE and TREE_DISCONNECT responses, TREE_DISCONNECT
/// requests).
pub fn smb1_empty(h: &Hdr1) -> Vec<u8> {
    smb1(h, &[], |_| Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(command: u16) -> Hdr {
        Hdr {
            command,
            status: 0,
            flags: 0,
            message_id: 7,
            credit_charge: 1,
            credits: 1,
            tree_id: 5,
            session_id: 0x11,
            signature: [0; 16],
        }
    }

    #[test]
    fn header_is_64_bytes_with_fields_in_place() {
        let m = message(&hdr(CREATE), &[]);
        assert_eq!(m.len(), 64);
        assert_eq!(&m[..4], b"\xfeSMB");
        assert_eq!(u16::from_le_bytes([m[12], m[13]]), CREATE);
        assert_eq!(u64::from_le_bytes(m[24..32].try_into().unwrap()), 7);
        assert_eq!(u32::from_le_bytes(m[36..40].try_into().unwrap()), 5);
        assert_eq!(u64::from_le_bytes(m[40..48].try_into().unwrap()), 0x11);
    }

    #[test]
    fn compound_pads_and_links() {
        let a = message(
            &hdr(CREATE),
            &create_request(&CreateRequest::pipe("lsarpc")),
        );
        let b = message(&hdr(WRITE), &write_request(FILE_ID_ANY, 0, &[1, 2, 3]));
        let c = compound(&[a.clone(), b.clone()]);
        let next = u32::from_le_bytes(c[20..24].try_into().unwrap()) as usize;
        assert_eq!(next, a.len().next_multiple_of(8));
        assert_eq!(&c[next..next + 4], b"\xfeSMB");
        assert_eq!(c.len(), next + b.len());
        assert_eq!(
            u32::from_le_bytes(c[next + 20..next + 24].try_into().unwrap()),
            0
        );
    }

    #[test]
    fn fixed_body_sizes() {
        let f = FileId {
            persistent: 1,
            volatile: 2,
        };
        assert_eq!(
            create_response(&CreateResponse {
                file_id: f,
                create_action: 1,
                time: 0,
                end_of_file: 0,
                attributes: 0
            })
            .len(),
            88
        );
        assert_eq!(read_request(f, 1024, 0).len(), 49);
        assert_eq!(read_response(&[]).len(), 16);
        assert_eq!(write_response(3).len(), 16);
        assert_eq!(ioctl_response(FSCTL_PIPE_TRANSCEIVE, f, &[]).len(), 48);
        assert_eq!(close_response().len(), 60);
        assert_eq!(transform([0; 16], &[1; 11], 9, &[0; 10]).len(), 62);
    }

    #[test]
    fn negotiate_contexts_are_8_byte_aligned() {
        let r = negotiate_request(&[SMB202, SMB311], [0; 16], &[7; 32], &[AES_128_GCM]);
        let off = u32::from_le_bytes(r[28..32].try_into().unwrap()) as usize;
        assert_eq!(off % 8, 0);
        assert_eq!(u16::from_le_bytes([r[32], r[33]]), 3);
        // The first context, from the body's start (the header is 64 bytes).
        assert_eq!(u16::from_le_bytes([r[off - 64], r[off - 63]]), 1);
    }

    #[test]
    fn dfs_entry_offsets_point_at_their_strings() {
        let r = dfs_referral_response(
            4,
            "\\corp.example\\SYSVOL",
            &["\\dc01.corp.example\\SYSVOL"],
        );
        let entry = 8;
        let target = entry + usize::from(u16::from_le_bytes([r[entry + 16], r[entry + 17]]));
        let want = utf16("\\dc01.corp.example\\SYSVOL");
        assert_eq!(&r[target..target + want.len()], &want[..]);
        assert_eq!(u16::from_le_bytes([r[0], r[1]]), 40);
    }

    #[test]
    fn smb1_unicode_is_aligned_from_the_header() {
        let h = Hdr1 {
            command: SMB1_NT_CREATE_ANDX,
            status: 0,
            reply: false,
            tid: 1,
            pid: 1,
            uid: 1,
            mid: 1,
        };
        let m = smb1_nt_create_request(&h, "\\srvsvc");
        // 32 + 1 + 48 + 2 = 83: one pad byte, then the name at 84.
        assert_eq!(m[83], 0);
        assert_eq!(&m[84..86], &[b'\\', 0]);
        let t = smb1_transact_nmpipe_request(&h, 0x4000, &[5, 0, 11]);
        assert_eq!(&t[84..87], &[5, 0, 11]);
        let r = smb1_read_andx_response(&h, &[5]);
        assert_eq!(r[60], 5);
        let w = smb1_write_andx_request(&h, 1, &[5]);
        assert_eq!(w[64], 5);
    }
}
