//! NTLMSSP (MS-NLMP 2.2.1): NEGOTIATE, CHALLENGE and AUTHENTICATE messages — who logs on, from
//! which workstation, and how (NTLMv1, NTLMv2, anonymous).
//!
//! Payload fields are (length, max length, offset) triples relative to the message start; each is
//! checked against the message's bytes. Strings are UTF-16LE when the UNICODE flag is set, OEM
//! otherwise.

use super::{le32, slice, Cursor, Encoding, Error, Result, WireStr};

pub const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";

/// Negotiate flags (MS-NLMP 2.2.2.5) an inspector reports.
pub mod flags {
    pub const UNICODE: u32 = 0x0000_0001;
    pub const OEM: u32 = 0x0000_0002;
    pub const REQUEST_TARGET: u32 = 0x0000_0004;
    pub const SIGN: u32 = 0x0000_0010;
    pub const SEAL: u32 = 0x0000_0020;
    pub const LM_KEY: u32 = 0x0000_0080;
    pub const NTLM: u32 = 0x0000_0200;
    pub const ANONYMOUS: u32 = 0x0000_0800;
    pub const ALWAYS_SIGN: u32 = 0x0000_8000;
    pub const EXTENDED_SESSION_SECURITY: u32 = 0x0008_0000;
    pub const TARGET_INFO: u32 = 0x0080_0000;
    pub const VERSION: u32 = 0x0200_0000;
    pub const KEY_128: u32 = 0x2000_0000;
    pub const KEY_EXCH: u32 = 0x4000_0000;
    pub const KEY_56: u32 = 0x8000_0000;
}

/// The OS version some messages carry (when the VERSION flag is set).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Version {
    pub major: u8,
    pub minor: u8,
    pub build: u16,
    pub revision: u8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Negotiate<'a> {
    pub flags: u32,
    pub domain: WireStr<'a>,
    pub workstation: WireStr<'a>,
    pub version: Option<Version>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Challenge<'a> {
    pub flags: u32,
    pub target_name: WireStr<'a>,
    pub server_challenge: [u8; 8],
    /// AV pairs (raw).
    pub target_info: &'a [u8],
    pub version: Option<Version>,
}

/// How the client answered the challenge, by the response lengths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseKind {
    /// Empty NT response and an empty (or single zero byte) LM response: an anonymous logon.
    Anonymous,
    /// A 24-byte NT response: NTLMv1 (or NTLM2 session response).
    V1,
    /// A longer NT response (16-byte proof plus a client blob): NTLMv2.
    V2,
    /// Any other length (not a valid response).
    Unknown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Authenticate<'a> {
    pub flags: u32,
    pub lm_response: &'a [u8],
    pub nt_response: &'a [u8],
    pub domain: WireStr<'a>,
    pub user: WireStr<'a>,
    pub workstation: WireStr<'a>,
    pub session_key: &'a [u8],
    pub version: Option<Version>,
}

impl Authenticate<'_> {
    pub fn response_kind(&self) -> ResponseKind {
        match (self.lm_response.len(), self.nt_response.len()) {
            (0 | 1, 0) => ResponseKind::Anonymous,
            (_, 24) => ResponseKind::V1,
            (_, n) if n > 24 => ResponseKind::V2,
            _ => ResponseKind::Unknown,
        }
    }

    /// `domain\user@workstation`, with empty parts written `NULL` (as tshark prints them).
    pub fn identity(&self) -> String {
        let part = |s: &WireStr| {
            let s = s.decode();
            if s.is_empty() {
                "NULL".to_string()
            } else {
                s
            }
        };
        format!(
            "{}\\{}@{}",
            part(&self.domain),
            part(&self.user),
            part(&self.workstation)
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message<'a> {
    Negotiate(Negotiate<'a>),
    Challenge(Challenge<'a>),
    Authenticate(Authenticate<'a>),
}

impl<'a> Message<'a> {
    /// Parses one NTLMSSP message; [`Error::NotSmb`] when the signature is missing.
    pub fn parse(b: &'a [u8]) -> Result<Message<'a>> {
        if !is_ntlmssp(b) {
            return match b.len() {
                n if n < 8 && SIGNATURE.starts_with(b) => Err(Error::Truncated { need: 12 }),
                _ => Err(Error::NotSmb),
            };
        }
        let mut c = Cursor::at(b, 8);
        match c.u32()? {
            1 => {
                let flags = c.u32()?;
                // Both fields (always OEM) and the version are optional in old clients: absent =
                // empty.
                let domain = if b.len() >= 24 {
                    field(b, 16)?
                } else {
                    &[][..]
                };
                let workstation = if b.len() >= 32 {
                    field(b, 24)?
                } else {
                    &[][..]
                };
                Ok(Message::Negotiate(Negotiate {
                    flags,
                    domain: WireStr::oem(domain),
                    workstation: WireStr::oem(workstation),
                    version: version(b, flags, 32),
                }))
            }
            2 => {
                let target = field(b, 12)?;
                let mut c = Cursor::at(b, 20);
                let flags = c.u32()?;
                let server_challenge = c.array()?;
                let target_info = if b.len() >= 48 {
                    field(b, 40)?
                } else {
                    &[][..]
                };
                Ok(Message::Challenge(Challenge {
                    flags,
                    target_name: WireStr {
                        raw: target,
                        encoding: encoding(flags),
                    },
                    server_challenge,
                    target_info,
                    version: version(b, flags, 48),
                }))
            }
            3 => {
                // The flags follow the six fields (and are optional in very old clients).
                let flags = if b.len() >= 64 { le32(b, 60) } else { 0 };
                let enc = encoding(flags);
                let text = |raw| WireStr { raw, encoding: enc };
                Ok(Message::Authenticate(Authenticate {
                    flags,
                    lm_response: field(b, 12)?,
                    nt_response: field(b, 20)?,
                    domain: text(field(b, 28)?),
                    user: text(field(b, 36)?),
                    workstation: text(field(b, 44)?),
                    session_key: if b.len() >= 60 {
                        field(b, 52)?
                    } else {
                        &[][..]
                    },
                    version: version(b, flags, 64),
                }))
            }
            _ => Err(Error::Malformed("NTLMSSP message type")),
        }
    }

    pub fn flags(&self) -> u32 {
        match self {
            Message::Negotiate(m) => m.flags,
            Message::Challenge(m) => m.flags,
            Message::Authenticate(m) => m.flags,
        }
    }
}

/// Whether `b` starts with the NTLMSSP signature.
pub fn is_ntlmssp(b: &[u8]) -> bool {
    b.starts_with(SIGNATURE)
}

fn encoding(flags: u32) -> Encoding {
    if flags & flags::UNICODE != 0 {
        Encoding::Utf16
    } else {
        Encoding::Oem
    }
}

/// The payload a (len u16, max len u16, offset u32) field at `at` points to. A field with length 0
/// is empty wherever its offset points.
fn field(b: &[u8], at: usize) -> Result<&[u8]> {
    let mut c = Cursor::at(b, at);
    let len = c.u16()?;
    let _max = c.u16()?;
    let offset = c.u32()?;
    if len == 0 {
        return Ok(&[]);
    }
    if (offset as usize) < 8 {
        return Err(Error::Malformed("NTLMSSP field inside the signature"));
    }
    slice(b, offset as usize, usize::from(len))
}

/// The version at `at` when the flag says one is there and the bytes hold it.
fn version(b: &[u8], flags: u32, at: usize) -> Option<Version> {
    if flags & flags::VERSION == 0 {
        return None;
    }
    let v = b.get(at..at + 8)?;
    Some(Version {
        major: v[0],
        minor: v[1],
        build: u16::from_le_bytes([v[2], v[3]]),
        revision: v[7],
    })
}

#[cfg(test)]
pub(crate) mod build {
    /// An AUTHENTICATE message with the given fields, payload in field order.
    pub fn authenticate(
        flags: u32,
        lm: &[u8],
        nt: &[u8],
        domain: &[u8],
        user: &[u8],
        workstation: &[u8],
    ) -> Vec<u8> {
        let mut out = super::SIGNATURE.to_vec();
        out.extend(3u32.to_le_bytes());
        let mut payload = Vec::new();
        let base = 72u32;
        let mut fields = Vec::new();
        for f in [lm, nt, domain, user, workstation, &[][..]] {
            let off = base + payload.len() as u32;
            fields.extend((f.len() as u16).to_le_bytes());
            fields.extend((f.len() as u16).to_le_bytes());
            fields.extend(off.to_le_bytes());
            payload.extend_from_slice(f);
        }
        out.extend(fields);
        out.extend(flags.to_le_bytes());
        out.extend([0; 8]); // version (flag unset: unused)
        out.extend(payload);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    #[test]
    fn authenticate_v2_unicode() {
        let nt = [7u8; 60];
        let b = build::authenticate(
            flags::UNICODE | flags::NTLM,
            &[0; 24],
            &nt,
            &utf16("WORKGROUP"),
            &utf16("zeek"),
            &utf16("TINKYX390"),
        );
        let Message::Authenticate(a) = Message::parse(&b).unwrap() else {
            panic!("not an AUTHENTICATE")
        };
        assert_eq!(a.identity(), "WORKGROUP\\zeek@TINKYX390");
        assert_eq!(a.response_kind(), ResponseKind::V2);
        assert_eq!(a.nt_response, &nt);
        assert_eq!(a.version, None);
    }

    #[test]
    fn authenticate_v1_oem_and_anonymous() {
        let b = build::authenticate(flags::OEM, &[1; 24], &[2; 24], b"DOM", b"bob", b"PC");
        let Message::Authenticate(a) = Message::parse(&b).unwrap() else {
            panic!()
        };
        assert_eq!(a.identity(), "DOM\\bob@PC");
        assert_eq!(a.user.encoding, Encoding::Oem);
        assert_eq!(a.response_kind(), ResponseKind::V1);

        let b = build::authenticate(flags::UNICODE | flags::ANONYMOUS, &[0], &[], &[], &[], &[]);
        let Message::Authenticate(a) = Message::parse(&b).unwrap() else {
            panic!()
        };
        assert_eq!(a.response_kind(), ResponseKind::Anonymous);
        assert_eq!(a.identity(), "NULL\\NULL@NULL");
    }

    #[test]
    fn fields_are_bounded_by_the_message() {
        let mut b = build::authenticate(flags::UNICODE, &[], &[0; 24], b"D\0", b"U\0", b"W\0");
        // The user field claims 0x1000 bytes.
        b[36..38].copy_from_slice(&0x1000u16.to_le_bytes());
        let user_off = u32::from_le_bytes(b[40..44].try_into().unwrap()) as usize;
        assert_eq!(
            Message::parse(&b),
            Err(Error::Truncated {
                need: user_off + 0x1000
            })
        );
        // An offset pointing into the signature.
        b[36..38].copy_from_slice(&2u16.to_le_bytes());
        b[40..44].copy_from_slice(&2u32.to_le_bytes());
        assert!(matches!(Message::parse(&b), Err(Error::Malformed(_))));
        // Offsets near u32::MAX do not wrap.
        b[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(Message::parse(&b).is_err());
    }

    #[test]
    fn negotiate_and_challenge() {
        let mut neg = SIGNATURE.to_vec();
        neg.extend(1u32.to_le_bytes());
        neg.extend((flags::UNICODE | flags::VERSION).to_le_bytes());
        neg.extend([0; 16]);
        neg.extend([10, 0, 0x61, 0x4a, 0, 0, 0, 15]);
        let Message::Negotiate(n) = Message::parse(&neg).unwrap() else {
            panic!()
        };
        assert_eq!(
            n.version,
            Some(Version {
                major: 10,
                minor: 0,
                build: 19041,
                revision: 15
            })
        );
        // A minimal NEGOTIATE of an old client: flags only.
        assert!(Message::parse(&neg[..16]).is_ok());

        let mut ch = SIGNATURE.to_vec();
        ch.extend(2u32.to_le_bytes());
        ch.extend([8, 0, 8, 0, 48, 0, 0, 0]); // target name at 48
        ch.extend(flags::UNICODE.to_le_bytes());
        ch.extend(*b"12345678");
        ch.extend([0; 8]);
        ch.extend([0, 0, 0, 0, 56, 0, 0, 0]);
        ch.extend(utf16("TEST"));
        let Message::Challenge(c) = Message::parse(&ch).unwrap() else {
            panic!()
        };
        assert_eq!(c.target_name.decode(), "TEST");
        assert_eq!(&c.server_challenge, b"12345678");
        assert!(c.target_info.is_empty());
    }

    #[test]
    fn not_ntlmssp() {
        assert_eq!(Message::parse(b"NTLM"), Err(Error::Truncated { need: 12 }));
        assert_eq!(Message::parse(b"KERBEROS....."), Err(Error::NotSmb));
        let mut b = SIGNATURE.to_vec();
        b.extend(9u32.to_le_bytes());
        assert!(matches!(Message::parse(&b), Err(Error::Malformed(_))));
    }
}
