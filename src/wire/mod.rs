//! Wire: pure protocol parsers. Bytes in, typed structs that borrow those bytes out; no flow state,
//! no catalog, no classification (the inspectors in `inspect` drive these).
//!
//! - [`netbios`]: the NetBIOS session service / direct-TCP framing of TCP 139 and 445, and finding
//!   a frame start in the middle of a stream;
//! - [`smb1`], [`smb2`]: SMB1 (CIFS) and SMB2/SMB3 messages, AndX chains and compounds, the bodies an
//!   inspector needs (negotiate, session setup, tree connect, create, read, write, IOCTL,
//!   transactions), the SMB3 transform and compression headers;
//! - [`spnego`], [`ntlmssp`]: the security blobs of session setup: SPNEGO's mechanism list and inner
//!   token, NTLMSSP messages (who logs on, how);
//! - [`dfs`]: DFS referral requests and responses (SMB1 TRANSACTION2, SMB2 IOCTL);
//! - [`dcerpc`]: DCE/RPC PDU headers, binds, endpoint-mapper towers, connectionless headers, and a
//!   bounded reassembler of connection-oriented PDUs;
//! - [`ftp`]: FTP control lines that announce a data connection;
//! - [`dns`]: DNS responses: the addresses A and AAAA answers give names, CNAMEs, the AA bit;
//! - [`kerberos`]: Kerberos V5 KDC exchanges, AP-REQ and KRB-ERROR (service principals, encryption
//!   types, error codes) and TCP record marking;
//! - [`ldap`]: LDAP and CLDAP messages (binds and how they authenticate, searches, the LDAP ping
//!   and a domain controller's Netlogon answer, StartTLS) and a bounded TCP message stream.
//!
//! The validity rule: **every length, offset and count read from the wire is checked against the
//! bytes that carry it** before anything is sliced, with overflow-checked arithmetic, and nothing
//! allocates in proportion to a wire length. Parsed structs hold sub-slices of the input; lists
//! (dialects, mechanisms, compound messages, AndX blocks) are lazy iterators that check each element
//! as they reach it. Strings stay raw bytes ([`WireStr`]) until decoded, and decoding stops at
//! [`MAX_STR_UNITS`] code units. Chains cannot loop: SMB2 `NextCommand` and SMB1 AndX offsets must
//! move forward. Every parser returns [`Error::Truncated`] when the input ends before what the
//! message says it holds (a streaming caller waits for more), [`Error::Malformed`] when the message
//! contradicts itself, and [`Error::NotSmb`] when the bytes are not the protocol at all.

pub mod dcerpc;
pub mod dfs;
pub mod dns;
pub mod ftp;
pub mod kerberos;
pub mod ldap;
pub mod netbios;
pub mod ntlmssp;
pub mod signature;
pub mod smb1;
pub mod smb2;
pub mod spnego;
pub mod tls;

use std::fmt;

/// Why a parse stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The input ends early: at least `need` bytes (counted from the start of the slice given to the
    /// parser that failed) are required to go on.
    Truncated { need: usize },
    /// The bytes contradict themselves (an offset inside the header, a chain that goes backwards, a
    /// wrong structure size); the reason names the field.
    Malformed(&'static str),
    /// Not this protocol (wrong magic).
    NotSmb,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated { need } => write!(f, "truncated: {need} bytes needed"),
            Error::Malformed(why) => write!(f, "malformed: {why}"),
            Error::NotSmb => f.write_str("not SMB"),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// Code units (UTF-16) or bytes (OEM) decoded from one wire string at most; the rest is dropped and
/// [`WireStr::decode`] ends the text with `…`.
pub const MAX_STR_UNITS: usize = 1024;

/// A little-endian reader over a slice: every read is bounds-checked and fails with
/// [`Error::Truncated`] naming the length the slice would need.
#[derive(Clone, Copy, Debug)]
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8]) -> Cursor<'a> {
        Cursor { buf, pos: 0 }
    }

    /// A cursor starting at `pos` (which may lie past the end: the first read then fails).
    pub fn at(buf: &'a [u8], pos: usize) -> Cursor<'a> {
        Cursor { buf, pos }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// The next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        let s = slice(self.buf, self.pos, n)?;
        self.pos += n;
        Ok(s)
    }

    pub fn skip(&mut self, n: usize) -> Result<()> {
        self.bytes(n).map(|_| ())
    }

    pub fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    pub fn u16(&mut self) -> Result<u16> {
        self.array().map(u16::from_le_bytes)
    }

    pub fn u32(&mut self) -> Result<u32> {
        self.array().map(u32::from_le_bytes)
    }

    pub fn u64(&mut self) -> Result<u64> {
        self.array().map(u64::from_le_bytes)
    }

    /// Everything after the position.
    pub fn rest(&mut self) -> &'a [u8] {
        let s = self.buf.get(self.pos..).unwrap_or_default();
        self.pos = self.buf.len().max(self.pos);
        s
    }
}

/// Where a TCP segment falls in a stream reassembled in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InSequence<'a> {
    /// The bytes that continue the stream (a retransmitted start already dropped).
    Next(&'a [u8]),
    /// All of it was read before: a retransmission.
    Old,
    /// `gap` bytes are missing before these (lost, or not captured).
    Gap { gap: usize, data: &'a [u8] },
}

/// Places the segment `data` starting at sequence number `seq` against `next`, the sequence number
/// the stream expects (`None` before its first segment); the streams of the inspectors share this
/// rule (sequence numbers wrap: a segment up to 2 GiB behind is old).
pub fn in_sequence(next: Option<u32>, seq: u32, data: &[u8]) -> InSequence<'_> {
    match next {
        None => InSequence::Next(data),
        Some(next) if seq == next => InSequence::Next(data),
        Some(next) if seq.wrapping_sub(next) > u32::MAX / 2 => {
            let dup = next.wrapping_sub(seq) as usize;
            match data.get(dup..) {
                Some(rest) if !rest.is_empty() => InSequence::Next(rest),
                _ => InSequence::Old,
            }
        }
        Some(next) => InSequence::Gap {
            gap: seq.wrapping_sub(next) as usize,
            data,
        },
    }
}

/// `buf[at..at + len]`, or [`Error::Truncated`] (also when `at + len` overflows).
pub fn slice(buf: &[u8], at: usize, len: usize) -> Result<&[u8]> {
    let end = at
        .checked_add(len)
        .ok_or(Error::Malformed("length overflows"))?;
    buf.get(at..end).ok_or(Error::Truncated { need: end })
}

/// Little-endian u16 at `at` of a slice already checked to be long enough by the caller's
/// structure size; returns 0 past the end instead of panicking.
fn le16(b: &[u8], at: usize) -> u16 {
    match b.get(at..at + 2) {
        Some(s) => u16::from_le_bytes([s[0], s[1]]),
        None => 0,
    }
}

fn le32(b: &[u8], at: usize) -> u32 {
    match b.get(at..at + 4) {
        Some(s) => u32::from_le_bytes([s[0], s[1], s[2], s[3]]),
        None => 0,
    }
}

fn le64(b: &[u8], at: usize) -> u64 {
    match b.get(at..at + 8) {
        Some(s) => u64::from_le_bytes(s.try_into().unwrap_or([0; 8])),
        None => 0,
    }
}

/// How a wire string is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Utf16,
    /// An OEM code page byte string, decoded as Latin-1 (never fails; the code page is not on the
    /// wire).
    Oem,
}

/// A string as sent: its raw bytes (no terminator) and encoding. Zero-copy until decoded.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct WireStr<'a> {
    pub raw: &'a [u8],
    pub encoding: Encoding,
}

impl<'a> WireStr<'a> {
    pub fn utf16(raw: &'a [u8]) -> WireStr<'a> {
        WireStr {
            raw,
            encoding: Encoding::Utf16,
        }
    }

    pub fn oem(raw: &'a [u8]) -> WireStr<'a> {
        WireStr {
            raw,
            encoding: Encoding::Oem,
        }
    }

    /// The string up to its first NUL (or the end of `raw`): for strings whose length is the rest
    /// of a buffer.
    pub fn until_nul(raw: &'a [u8], encoding: Encoding) -> WireStr<'a> {
        let len = match encoding {
            Encoding::Utf16 => raw
                .chunks_exact(2)
                .position(|c| c == [0, 0])
                .map_or(raw.len() & !1, |i| i * 2),
            Encoding::Oem => raw.iter().position(|&b| b == 0).unwrap_or(raw.len()),
        };
        WireStr {
            raw: &raw[..len],
            encoding,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Decodes lossily (unpaired surrogates and a trailing odd byte become U+FFFD), at most
    /// [`MAX_STR_UNITS`] units; a longer string ends with `…`. Trailing NULs are dropped.
    pub fn decode(&self) -> String {
        let mut out = String::new();
        match self.encoding {
            Encoding::Utf16 => {
                let units = self
                    .raw
                    .chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]));
                for c in char::decode_utf16(units.take(MAX_STR_UNITS)) {
                    out.push(c.unwrap_or(char::REPLACEMENT_CHARACTER));
                }
                if self.raw.len() / 2 > MAX_STR_UNITS {
                    out.push('…');
                } else if self.raw.len() % 2 == 1 {
                    out.push(char::REPLACEMENT_CHARACTER);
                }
            }
            Encoding::Oem => {
                out.extend(self.raw.iter().take(MAX_STR_UNITS).map(|&b| char::from(b)));
                if self.raw.len() > MAX_STR_UNITS {
                    out.push('…');
                }
            }
        }
        let trimmed = out.trim_end_matches('\0').len();
        out.truncate(trimmed);
        out
    }
}

impl fmt::Debug for WireStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.decode())
    }
}

/// A named pipe's name as a lookup key: `\PIPE\lsarpc`, `\lsarpc`, `lsarpc` and `LSARPC` all give
/// `lsarpc` (SMB names are case-insensitive; the name as sent keeps its case elsewhere).
pub fn pipe_key(name: &str) -> String {
    let name = name.trim_end_matches('\0').trim_start_matches(['\\', '/']);
    let name = match name.get(..5) {
        Some(p) if p.eq_ignore_ascii_case("pipe\\") || p.eq_ignore_ascii_case("pipe/") => {
            name[5..].trim_start_matches(['\\', '/'])
        }
        _ => name,
    };
    name.to_lowercase()
}

/// The share of a tree-connect path as sent: `\\server\IPC$` → `IPC$`, `\\10.0.0.1\share2\` →
/// `share2`; a path without a server part is returned trimmed of slashes.
pub fn share_name(path: &str) -> &str {
    let path = path.trim_end_matches('\0');
    let rest = match path
        .strip_prefix("\\\\")
        .or_else(|| path.strip_prefix("//"))
    {
        Some(rest) => rest.split_once(['\\', '/']).map_or("", |(_, share)| share),
        None => path,
    };
    rest.trim_matches(['\\', '/'])
}

/// A share name as a lookup key: [`share_name`], lower-cased (`IPC$` → `ipc$`).
pub fn share_key(path: &str) -> String {
    share_name(path).to_lowercase()
}

/// What a NetBIOS session message carries, by its first four bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Magic {
    /// `\xffSMB`.
    Smb1,
    /// `\xfeSMB`.
    Smb2,
    /// `\xfdSMB`: an SMB3 transform (encrypted) message.
    Transform,
    /// `\xfcSMB`: an SMB3 compressed message.
    Compressed,
}

impl Magic {
    pub fn of(b: &[u8]) -> Option<Magic> {
        match b.get(..4)? {
            b"\xffSMB" => Some(Magic::Smb1),
            b"\xfeSMB" => Some(Magic::Smb2),
            b"\xfdSMB" => Some(Magic::Transform),
            b"\xfcSMB" => Some(Magic::Compressed),
            _ => None,
        }
    }
}

/// One SMB message as it comes out of a NetBIOS session message.
#[derive(Clone, Debug)]
pub enum Smb<'a> {
    V1(smb1::Message<'a>),
    /// An SMB2 message or compound chain: iterate it.
    V2(smb2::Compound<'a>),
    Transform(smb2::Transform<'a>),
    Compressed(smb2::Compression<'a>),
}

/// Parses the payload of one NetBIOS session message.
pub fn parse_smb(payload: &[u8]) -> Result<Smb<'_>> {
    match Magic::of(payload) {
        Some(Magic::Smb1) => smb1::Message::parse(payload).map(Smb::V1),
        Some(Magic::Smb2) => smb2::Compound::new(payload).map(Smb::V2),
        Some(Magic::Transform) => smb2::Transform::parse(payload).map(Smb::Transform),
        Some(Magic::Compressed) => smb2::Compression::parse(payload).map(Smb::Compressed),
        None if payload.len() < 4 => Err(Error::Truncated { need: 4 }),
        None => Err(Error::NotSmb),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn segments_fall_in_sequence_with_wrapping_numbers() {
        let data = b"abcdef";
        assert_eq!(in_sequence(None, 7, data), InSequence::Next(data));
        assert_eq!(in_sequence(Some(7), 7, data), InSequence::Next(data));
        // Two bytes were read already: the rest continues the stream.
        assert_eq!(in_sequence(Some(9), 7, data), InSequence::Next(b"cdef"));
        assert_eq!(in_sequence(Some(13), 7, data), InSequence::Old);
        assert_eq!(in_sequence(Some(20), 7, data), InSequence::Old);
        assert_eq!(
            in_sequence(Some(3), 7, data),
            InSequence::Gap { gap: 4, data }
        );
        // Across the wrap of the sequence space.
        assert_eq!(
            in_sequence(Some(u32::MAX - 1), 2, data),
            InSequence::Gap { gap: 4, data }
        );
        assert_eq!(
            in_sequence(Some(1), u32::MAX, data),
            InSequence::Next(b"cdef")
        );
    }

    use super::*;

    fn utf16(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    #[test]
    fn cursor_reports_what_it_needs() {
        let mut c = Cursor::new(&[1, 2, 3]);
        assert_eq!(c.u16(), Ok(0x0201));
        assert_eq!(c.u16(), Err(Error::Truncated { need: 4 }));
        assert_eq!(c.u8(), Ok(3));
        assert_eq!(c.u8(), Err(Error::Truncated { need: 4 }));
        assert_eq!(
            slice(&[0; 4], usize::MAX, 2),
            Err(Error::Malformed("length overflows"))
        );
        assert_eq!(slice(&[0; 4], 3, 2), Err(Error::Truncated { need: 5 }));
    }

    #[test]
    fn strings_decode_lossily_and_bounded() {
        assert_eq!(
            WireStr::utf16(&utf16("\\PIPE\\lsarpc")).decode(),
            "\\PIPE\\lsarpc"
        );
        // An unpaired surrogate and an odd trailing byte.
        assert_eq!(
            WireStr::utf16(&[0x00, 0xd8, 0x41, 0x00, 0x42]).decode(),
            "\u{fffd}A\u{fffd}"
        );
        let long = utf16(&"x".repeat(MAX_STR_UNITS + 5));
        let s = WireStr::utf16(&long).decode();
        assert_eq!(s.chars().count(), MAX_STR_UNITS + 1);
        assert!(s.ends_with('…'));
        assert_eq!(WireStr::oem(b"caf\xe9\0").decode(), "café");
        let mut with_nul = utf16("IPC");
        with_nul.extend([0, 0, b'X', 0]);
        assert_eq!(
            WireStr::until_nul(&with_nul, Encoding::Utf16).decode(),
            "IPC"
        );
        assert_eq!(WireStr::until_nul(b"A:\0junk", Encoding::Oem).raw, b"A:");
    }

    #[test]
    fn names_normalise_for_lookups() {
        for name in [
            "\\PIPE\\lsarpc",
            "lsarpc",
            "\\lsarpc",
            "LSARPC",
            "\\pipe\\LsaRpc\0",
        ] {
            assert_eq!(pipe_key(name), "lsarpc", "{name}");
        }
        assert_eq!(
            pipe_key("PSEXESVC-VICTIM-PC-2412-stdin"),
            "psexesvc-victim-pc-2412-stdin"
        );
        assert_eq!(share_name("\\\\WS2016\\encrypted"), "encrypted");
        assert_eq!(share_name("\\\\10.0.0.1\\IPC$\0"), "IPC$");
        assert_eq!(share_name("\\\\server"), "");
        assert_eq!(share_name("C$"), "C$");
        assert_eq!(share_key("\\\\DC1\\IPC$"), "ipc$");
    }

    #[test]
    fn dispatch_by_magic() {
        assert_eq!(
            parse_smb(b"\xfeS").unwrap_err(),
            Error::Truncated { need: 4 }
        );
        assert_eq!(parse_smb(b"GET / HTTP/1.1").unwrap_err(), Error::NotSmb);
        assert!(matches!(
            parse_smb(b"\xfeSMB").unwrap_err(),
            Error::Truncated { need: 64 }
        ));
    }
}
