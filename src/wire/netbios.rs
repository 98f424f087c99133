//! NetBIOS session service framing (RFC 1002 on TCP 139) and SMB's direct-TCP framing on 445
//! (MS-SMB2 2.1): a 4-byte header, a type and a length, then the message.
//!
//! A session message (type 0) has a 24-bit length on 445 and a 17-bit one on 139 (the low bit of the
//! flags byte extends it); the flags byte is otherwise zero, so the 24-bit reading covers both. The
//! other types (session request, responses, keep-alive) keep RFC 1002's 17-bit length.
//!
//! A capture can start mid-stream and lose segments: [`find_frame_start`] finds a plausible frame
//! start (`\0`, a 3-byte length, then an SMB magic) to resynchronise.

use super::{Error, Magic, Result};

pub const HEADER_LEN: usize = 4;

/// The largest frame [`find_frame_start`] accepts as plausible: SMB2's largest read or write (8 MiB)
/// plus headers. A direct-TCP length can say up to 16 MiB.
pub const MAX_PLAUSIBLE_LEN: u32 = 8 * 1024 * 1024 + 4096;

/// Bytes a resynchronising caller keeps when [`find_frame_start`] finds nothing: a frame start may
/// begin in the last `RESYNC_KEEP` bytes and be completed by the next segment.
pub const RESYNC_KEEP: usize = 7;

/// The NetBIOS session packet type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageType {
    /// 0x00: carries an SMB message.
    SessionMessage,
    /// 0x81 (TCP 139 only, before SMB).
    SessionRequest,
    /// 0x82.
    PositiveResponse,
    /// 0x83.
    NegativeResponse,
    /// 0x84.
    RetargetResponse,
    /// 0x85.
    KeepAlive,
    Other(u8),
}

impl MessageType {
    pub fn from_byte(b: u8) -> MessageType {
        match b {
            0x00 => MessageType::SessionMessage,
            0x81 => MessageType::SessionRequest,
            0x82 => MessageType::PositiveResponse,
            0x83 => MessageType::NegativeResponse,
            0x84 => MessageType::RetargetResponse,
            0x85 => MessageType::KeepAlive,
            other => MessageType::Other(other),
        }
    }
}

/// The 4-byte header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub kind: MessageType,
    /// Bytes after the header.
    pub length: u32,
}

impl Header {
    pub fn parse(b: &[u8]) -> Result<Header> {
        let h: [u8; 4] = match b.get(..HEADER_LEN) {
            Some(h) => [h[0], h[1], h[2], h[3]],
            None => return Err(Error::Truncated { need: HEADER_LEN }),
        };
        let kind = MessageType::from_byte(h[0]);
        let length = match kind {
            MessageType::SessionMessage => u32::from_be_bytes([0, h[1], h[2], h[3]]),
            MessageType::Other(_) => return Err(Error::NotSmb),
            _ => {
                if h[1] & 0xfe != 0 {
                    return Err(Error::Malformed("NetBIOS flags"));
                }
                u32::from(h[1] & 1) << 16 | u32::from(u16::from_be_bytes([h[2], h[3]]))
            }
        };
        Ok(Header { kind, length })
    }

    /// Header plus payload.
    pub fn frame_len(&self) -> usize {
        HEADER_LEN + self.length as usize
    }
}

/// One whole frame at the start of `b`: its header, its payload, and the bytes after it.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    pub header: Header,
    pub payload: &'a [u8],
    pub rest: &'a [u8],
}

impl<'a> Frame<'a> {
    /// [`Error::Truncated`] says how many bytes the whole frame needs.
    pub fn parse(b: &'a [u8]) -> Result<Frame<'a>> {
        let header = Header::parse(b)?;
        let len = header.frame_len();
        if b.len() < len {
            return Err(Error::Truncated { need: len });
        }
        Ok(Frame {
            header,
            payload: &b[HEADER_LEN..len],
            rest: &b[len..],
        })
    }
}

/// How many bytes the frame at the start of `b` needs in all (header included): the streaming
/// helper. `Err(Truncated { need: 4 })` while the header itself is incomplete.
pub fn next_frame_len(b: &[u8]) -> Result<usize> {
    Header::parse(b).map(|h| h.frame_len())
}

/// The smallest message each magic can start.
fn min_len(magic: Magic) -> u32 {
    match magic {
        Magic::Smb1 => 32 + 3,
        Magic::Smb2 => 64,
        Magic::Transform => 52,
        Magic::Compressed => 8,
    }
}

/// The offset of the first plausible frame start in `b`: `\0`, a 3-byte length large enough for
/// the message and at most [`MAX_PLAUSIBLE_LEN`], then `\xffSMB`, `\xfeSMB`, `\xfdSMB` or
/// `\xfcSMB`. `None` if there is none (keep the last [`RESYNC_KEEP`] bytes and look again when
/// more arrive). Linear in `b`'s length.
pub fn find_frame_start(b: &[u8]) -> Option<usize> {
    // Look for "SMB" at offset 5 of a candidate, then check the rest.
    let finder = memchr::memmem::Finder::new(b"SMB");
    let mut from = 0;
    while let Some(i) = finder.find(b.get(from + 5..)?) {
        let start = from + i;
        let c = &b[start..start + 8];
        if c[0] == 0 {
            if let Some(magic) = Magic::of(&c[4..]) {
                let len = u32::from_be_bytes([0, c[1], c[2], c[3]]);
                if len >= min_len(magic) && len <= MAX_PLAUSIBLE_LEN {
                    return Some(start);
                }
            }
        }
        from = start + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_message_lengths() {
        let h = Header::parse(&[0, 0x01, 0x02, 0x03]).unwrap();
        assert_eq!(h.kind, MessageType::SessionMessage);
        assert_eq!(h.length, 0x010203);
        assert_eq!(h.frame_len(), 0x010207);
        // RFC 1002 types: 17-bit length, other flag bits malformed.
        let h = Header::parse(&[0x81, 0x01, 0x00, 0x44]).unwrap();
        assert_eq!((h.kind, h.length), (MessageType::SessionRequest, 0x10044));
        assert_eq!(
            Header::parse(&[0x85, 0x02, 0, 0]),
            Err(Error::Malformed("NetBIOS flags"))
        );
        assert_eq!(
            Header::parse(&[0x85, 0, 0, 0]).unwrap().kind,
            MessageType::KeepAlive
        );
        assert_eq!(Header::parse(&[0x47, 0x45, 0x54, 0x20]), Err(Error::NotSmb));
        assert_eq!(Header::parse(&[0, 0]), Err(Error::Truncated { need: 4 }));
    }

    #[test]
    fn frames_and_what_they_need() {
        let b = [0, 0, 0, 3, b'a', b'b', b'c', 0, 0];
        let f = Frame::parse(&b).unwrap();
        assert_eq!(f.payload, b"abc");
        assert_eq!(f.rest, &[0, 0]);
        assert_eq!(
            Frame::parse(&b[..5]).unwrap_err(),
            Error::Truncated { need: 7 }
        );
        assert_eq!(next_frame_len(&b[..4]), Ok(7));
        assert_eq!(next_frame_len(&b[..3]), Err(Error::Truncated { need: 4 }));
    }

    #[test]
    fn resync_finds_a_plausible_start() {
        let mut b = b"garbage SMB \0\0\0\x10\xfeSMB".to_vec(); // length 16 < SMB2 header: implausible
        b.extend([0, 0, 0, 0x48]);
        b.extend(b"\xfeSMB");
        b.extend([0; 60]);
        assert_eq!(find_frame_start(&b), Some(b.len() - 68));
        assert_eq!(find_frame_start(b"\0\0\0\x40\xffSM"), None);
        assert_eq!(find_frame_start(b"\0\0\0\x40\xffSMB"), Some(0));
        assert_eq!(find_frame_start(b"\0\0\0\x40\xfdSMB"), Some(0));
        assert_eq!(find_frame_start(b"\0\0\0\x10\xfcSMB"), Some(0));
        // Longer than any SMB frame.
        assert_eq!(find_frame_start(b"\0\xff\0\0\xfeSMB"), None);
        assert_eq!(find_frame_start(b""), None);
        assert_eq!(find_frame_start(b"SMBSMBSMB"), None);
    }
}
