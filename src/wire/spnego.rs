//! Security blobs of SMB session setup (and of LDAP and DCE/RPC auth): just enough of the GSS-API
//! framing (RFC 2743 3.1) and SPNEGO (RFC 4178, with Microsoft's NegTokenInit2) to name the offered
//! and chosen mechanisms and to find the inner token — an NTLMSSP message, a Kerberos message (kept
//! raw for a later Kerberos parser) or NegoEx.
//!
//! DER lengths are checked against their bytes (short and long forms up to 4 bytes; the indefinite
//! form is not DER and is refused). The walk follows SPNEGO's fixed shape — wrapper, choice,
//! sequence, field, value — so nesting is at most five levels deep by construction; nothing recurses
//! on wire input.

use super::{ntlmssp, Error, Result};
use std::fmt;

/// DER encodings of the mechanism OIDs SMB sees.
pub mod oid {
    /// 1.3.6.1.5.5.2
    pub const SPNEGO: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];
    /// 1.2.840.113554.1.2.2
    pub const KERBEROS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02];
    /// 1.2.840.48018.1.2.2 (Windows 2000's misencoded Kerberos OID, still offered first)
    pub const MS_KERBEROS: &[u8] = &[0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02];
    /// 1.2.840.113554.1.2.2.3
    pub const KERBEROS_U2U: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02, 0x03];
    /// 1.3.6.1.4.1.311.2.2.10
    pub const NTLMSSP: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a];
    /// 1.3.6.1.4.1.311.2.2.30
    pub const NEGOEX: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x1e];
}

/// A mechanism, by its OID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mech {
    Kerberos,
    MsKerberos,
    KerberosU2U,
    Ntlmssp,
    NegoEx,
    Spnego,
    Other,
}

/// An object identifier as its DER content bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Oid<'a>(pub &'a [u8]);

impl Oid<'_> {
    pub fn mech(&self) -> Mech {
        match self.0 {
            oid::KERBEROS => Mech::Kerberos,
            oid::MS_KERBEROS => Mech::MsKerberos,
            oid::KERBEROS_U2U => Mech::KerberosU2U,
            oid::NTLMSSP => Mech::Ntlmssp,
            oid::NEGOEX => Mech::NegoEx,
            oid::SPNEGO => Mech::Spnego,
            _ => Mech::Other,
        }
    }
}

/// Dotted form (`1.2.840.113554.1.2.2`); arcs that overflow 64 bits print as `?`.
impl fmt::Display for Oid<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut arc: u64 = 0;
        let mut overflow = false;
        for &b in self.0 {
            overflow |= arc > u64::MAX >> 7;
            arc = (arc << 7) | u64::from(b & 0x7f);
            if b & 0x80 != 0 {
                continue;
            }
            if overflow {
                f.write_str(if first { "?" } else { ".?" })?;
            } else if first {
                let (a, b) = if arc < 80 {
                    (arc / 40, arc % 40)
                } else {
                    (2, arc - 80)
                };
                write!(f, "{a}.{b}")?;
            } else {
                write!(f, ".{arc}")?;
            }
            first = false;
            arc = 0;
            overflow = false;
        }
        Ok(())
    }
}

impl fmt::Debug for Oid<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Oid({self})")
    }
}

/// One DER element: tag, content, and what follows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tag: u8,
    pub value: &'a [u8],
    pub rest: &'a [u8],
}

/// Reads one DER element. Single-byte tags only (SPNEGO uses no others).
pub fn tlv(b: &[u8]) -> Result<Tlv<'_>> {
    let (&tag, after) = b.split_first().ok_or(Error::Truncated { need: 2 })?;
    if tag & 0x1f == 0x1f {
        return Err(Error::Malformed("DER multi-byte tag"));
    }
    let (&first, after) = after.split_first().ok_or(Error::Truncated { need: 2 })?;
    let (len, head) = match first {
        0..=0x7f => (usize::from(first), 2),
        0x81..=0x84 => {
            let n = usize::from(first & 0x7f);
            let bytes = after.get(..n).ok_or(Error::Truncated { need: 2 + n })?;
            let len = bytes.iter().fold(0usize, |l, &b| (l << 8) | usize::from(b));
            (len, 2 + n)
        }
        0x80 => return Err(Error::Malformed("DER indefinite length")),
        _ => return Err(Error::Malformed("DER length longer than 4 bytes")),
    };
    let end = head
        .checked_add(len)
        .ok_or(Error::Malformed("DER length overflows"))?;
    if b.len() < end {
        return Err(Error::Truncated { need: end });
    }
    Ok(Tlv {
        tag,
        value: &b[head..end],
        rest: &b[end..],
    })
}

/// The element with `tag` that must start `b`.
fn expect<'a>(b: &'a [u8], tag: u8, what: &'static str) -> Result<Tlv<'a>> {
    let t = tlv(b)?;
    if t.tag != tag {
        return Err(Error::Malformed(what));
    }
    Ok(t)
}

/// The elements of a constructed value, one by one.
#[derive(Clone, Copy, Debug)]
struct Elements<'a>(&'a [u8]);

impl<'a> Iterator for Elements<'a> {
    type Item = Result<Tlv<'a>>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        match tlv(self.0) {
            Ok(t) => {
                self.0 = t.rest;
                Some(Ok(t))
            }
            Err(e) => {
                self.0 = &[];
                Some(Err(e))
            }
        }
    }
}

/// The mechanism list of a NegTokenInit, checked element by element as it is iterated.
#[derive(Clone, Copy, Debug, Default)]
pub struct MechTypes<'a>(&'a [u8]);

impl<'a> Iterator for MechTypes<'a> {
    type Item = Result<Oid<'a>>;
    fn next(&mut self) -> Option<Self::Item> {
        let mut e = Elements(self.0);
        let r = e.next()?;
        self.0 = e.0;
        Some(r.and_then(|t| match t.tag {
            0x06 => Ok(Oid(t.value)),
            _ => Err(Error::Malformed("SPNEGO mechanism is not an OID")),
        }))
    }
}

/// Kerberos message type, from its APPLICATION tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KerberosKind {
    /// [APPLICATION 14]
    ApReq,
    /// [APPLICATION 15]
    ApRep,
    /// [APPLICATION 30]
    Error,
    Other(u8),
}

/// A Kerberos token, raw (a Kerberos parser reads `message`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KerberosToken<'a> {
    /// The mechanism OID when the token was GSS-wrapped.
    pub mech: Option<Mech>,
    /// RFC 1964 token id when GSS-wrapped: 0x0100 AP-REQ, 0x0200 AP-REP, 0x0300 KRB-ERROR.
    pub token_id: Option<u16>,
    pub kind: KerberosKind,
    /// The Kerberos message, starting at its APPLICATION tag.
    pub message: &'a [u8],
}

/// The token a blob carries for its mechanism.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Token<'a> {
    /// An NTLMSSP message: parse it with [`ntlmssp::Message::parse`].
    Ntlmssp(&'a [u8]),
    Kerberos(KerberosToken<'a>),
    /// A NegoEx message (`NEGOEXTS`).
    NegoEx(&'a [u8]),
    Unknown(&'a [u8]),
}

impl<'a> Token<'a> {
    /// Names the token by its first bytes.
    pub fn classify(b: &'a [u8]) -> Token<'a> {
        if ntlmssp::is_ntlmssp(b) {
            return Token::Ntlmssp(b);
        }
        if b.starts_with(b"NEGOEXTS") {
            return Token::NegoEx(b);
        }
        if let Some(k) = kerberos(b) {
            return Token::Kerberos(k);
        }
        Token::Unknown(b)
    }

    /// The NTLMSSP message, when this is one.
    pub fn ntlmssp(&self) -> Option<Result<ntlmssp::Message<'a>>> {
        match self {
            Token::Ntlmssp(b) => Some(ntlmssp::Message::parse(b)),
            _ => None,
        }
    }
}

/// A GSS-wrapped Kerberos token (0x60, a Kerberos OID, a token id, the message) or a bare Kerberos
/// AP-REQ / AP-REP / KRB-ERROR.
fn kerberos(b: &[u8]) -> Option<KerberosToken<'_>> {
    let app = |m: &[u8]| match m.first()? {
        0x6e => Some(KerberosKind::ApReq),
        0x6f => Some(KerberosKind::ApRep),
        0x7e => Some(KerberosKind::Error),
        &t if t & 0xe0 == 0x60 => Some(KerberosKind::Other(t & 0x1f)),
        _ => None,
    };
    let t = tlv(b).ok()?;
    if t.tag == 0x60 {
        let o = expect(t.value, 0x06, "").ok()?;
        let mech = Oid(o.value).mech();
        if !matches!(mech, Mech::Kerberos | Mech::MsKerberos | Mech::KerberosU2U) {
            return None;
        }
        let (id, message) = o.rest.split_at_checked(2)?;
        return Some(KerberosToken {
            mech: Some(mech),
            token_id: Some(u16::from_be_bytes([id[0], id[1]])),
            kind: app(message)?,
            message,
        });
    }
    match app(b)? {
        KerberosKind::Other(_) => None,
        kind => Some(KerberosToken {
            mech: None,
            token_id: None,
            kind,
            message: b,
        }),
    }
}

/// Which SPNEGO message a blob was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlobKind {
    /// NegTokenInit (client's first blob) or NegTokenInit2 (a server's negotiate response).
    Init,
    /// NegTokenResp (the rest of the exchange).
    Resp,
    /// No SPNEGO: a bare mechanism token (raw NTLMSSP, or a GSS-wrapped Kerberos token).
    Raw,
}

/// SPNEGO negState.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NegState {
    AcceptCompleted,
    AcceptIncomplete,
    Reject,
    RequestMic,
    Other(u8),
}

/// What a security blob says.
#[derive(Clone, Copy, Debug)]
pub struct SecurityBlob<'a> {
    pub kind: BlobKind,
    /// Offered mechanisms (Init only), most preferred first.
    pub mechs: MechTypes<'a>,
    /// The mechanism the server chose (Resp).
    pub supported_mech: Option<Oid<'a>>,
    pub neg_state: Option<NegState>,
    /// The token for the (first) mechanism; `None` when the blob carries none (a server's
    /// NegTokenInit2, a final accept).
    pub token: Option<Token<'a>>,
    /// NegTokenInit2's hint name (`not_defined_in_RFC4178@please_ignore`), raw GeneralString.
    pub hint_name: Option<&'a [u8]>,
    pub mech_list_mic: Option<&'a [u8]>,
}

impl<'a> SecurityBlob<'a> {
    /// Parses a session-setup security blob. An empty blob is [`Error::Truncated`].
    pub fn parse(b: &'a [u8]) -> Result<SecurityBlob<'a>> {
        let mut blob = SecurityBlob {
            kind: BlobKind::Raw,
            mechs: MechTypes::default(),
            supported_mech: None,
            neg_state: None,
            token: None,
            hint_name: None,
            mech_list_mic: None,
        };
        match b.first() {
            None => return Err(Error::Truncated { need: 1 }),
            Some(0x60) => {
                let outer = tlv(b)?;
                let o = expect(outer.value, 0x06, "GSS-API token without a mechanism OID")?;
                if o.value != oid::SPNEGO {
                    blob.token = Some(Token::classify(b));
                    return Ok(blob);
                }
                blob.negotiation_token(o.rest)?;
            }
            Some(0xa0 | 0xa1) => blob.negotiation_token(b)?,
            Some(_) if ntlmssp::is_ntlmssp(b) => blob.token = Some(Token::Ntlmssp(b)),
            Some(_) => return Err(Error::Malformed("not a GSS-API or SPNEGO token")),
        }
        Ok(blob)
    }

    /// The mechanism of the token: the chosen one, else the first offered, else what the token is.
    pub fn mech(&self) -> Option<Mech> {
        if let Some(m) = self.supported_mech {
            return Some(m.mech());
        }
        let mut offered = self.mechs;
        if let Some(Ok(m)) = offered.next() {
            return Some(m.mech());
        }
        match self.token? {
            Token::Ntlmssp(_) => Some(Mech::Ntlmssp),
            Token::Kerberos(k) => Some(k.mech.unwrap_or(Mech::Kerberos)),
            Token::NegoEx(_) => Some(Mech::NegoEx),
            Token::Unknown(_) => None,
        }
    }

    fn negotiation_token(&mut self, b: &'a [u8]) -> Result<()> {
        let choice = tlv(b)?;
        let seq = expect(choice.value, 0x30, "SPNEGO token is not a SEQUENCE")?;
        self.kind = match choice.tag {
            0xa0 => BlobKind::Init,
            0xa1 => BlobKind::Resp,
            _ => return Err(Error::Malformed("SPNEGO choice")),
        };
        for field in Elements(seq.value) {
            let field = field?;
            let inner = tlv(field.value)?;
            match (self.kind, field.tag, inner.tag) {
                (BlobKind::Init, 0xa0, 0x30) => self.mechs = MechTypes(inner.value),
                (BlobKind::Init, 0xa2, 0x04) | (BlobKind::Resp, 0xa2, 0x04) => {
                    self.token = Some(Token::classify(inner.value))
                }
                // NegTokenInit2: negHints { hintName [0] GeneralString, ... }.
                (BlobKind::Init, 0xa3, 0x30) => {
                    for hint in Elements(inner.value) {
                        let hint = hint?;
                        if hint.tag == 0xa0 {
                            self.hint_name = Some(tlv(hint.value)?.value);
                        }
                    }
                }
                (BlobKind::Init, 0xa3 | 0xa4, 0x04) | (BlobKind::Resp, 0xa3, 0x04) => {
                    self.mech_list_mic = Some(inner.value)
                }
                (BlobKind::Resp, 0xa0, 0x0a) => {
                    let &[state] = inner.value else {
                        return Err(Error::Malformed("SPNEGO negState"));
                    };
                    self.neg_state = Some(match state {
                        0 => NegState::AcceptCompleted,
                        1 => NegState::AcceptIncomplete,
                        2 => NegState::Reject,
                        3 => NegState::RequestMic,
                        n => NegState::Other(n),
                    });
                }
                (BlobKind::Resp, 0xa1, 0x06) => self.supported_mech = Some(Oid(inner.value)),
                // reqFlags and anything unknown.
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DER element (short or long length form).
    pub(crate) fn der(tag: u8, value: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        match value.len() {
            n @ 0..=0x7f => out.push(n as u8),
            n @ 0x80..=0xff => out.extend([0x81, n as u8]),
            n => out.extend([0x82, (n >> 8) as u8, n as u8]),
        }
        out.extend_from_slice(value);
        out
    }

    fn init(mechs: &[&[u8]], token: &[u8]) -> Vec<u8> {
        let list: Vec<u8> = mechs.iter().flat_map(|m| der(0x06, m)).collect();
        let mut seq = der(0xa0, &der(0x30, &list));
        seq.extend(der(0xa2, &der(0x04, token)));
        let mut inner = der(0x06, oid::SPNEGO);
        inner.extend(der(0xa0, &der(0x30, &seq)));
        der(0x60, &inner)
    }

    #[test]
    fn neg_token_init_with_ntlmssp() {
        let ntlm = b"NTLMSSP\0\x01\0\0\0\x07\x82\x08\xa2";
        let b = init(&[oid::NTLMSSP, oid::NEGOEX], ntlm);
        let blob = SecurityBlob::parse(&b).unwrap();
        assert_eq!(blob.kind, BlobKind::Init);
        let mechs: Vec<Mech> = blob.mechs.map(|m| m.unwrap().mech()).collect();
        assert_eq!(mechs, [Mech::Ntlmssp, Mech::NegoEx]);
        assert_eq!(blob.mech(), Some(Mech::Ntlmssp));
        assert_eq!(blob.token, Some(Token::Ntlmssp(ntlm)));
        assert!(matches!(
            blob.token.unwrap().ntlmssp(),
            Some(Ok(ntlmssp::Message::Negotiate(_)))
        ));
    }

    #[test]
    fn neg_token_init_with_kerberos_ap_req() {
        let mut krb = der(0x06, oid::KERBEROS);
        krb.extend([0x01, 0x00]);
        krb.extend(der(0x6e, &[0x30, 0x00]));
        let krb = der(0x60, &krb);
        let b = init(&[oid::MS_KERBEROS, oid::KERBEROS, oid::NTLMSSP], &krb);
        let blob = SecurityBlob::parse(&b).unwrap();
        assert_eq!(blob.mech(), Some(Mech::MsKerberos));
        let Some(Token::Kerberos(k)) = blob.token else {
            panic!("{:?}", blob.token)
        };
        assert_eq!(k.kind, KerberosKind::ApReq);
        assert_eq!(k.token_id, Some(0x0100));
        assert_eq!(k.message, &[0x6e, 0x02, 0x30, 0x00]);
    }

    #[test]
    fn neg_token_resp_and_init2() {
        let mut seq = der(0xa0, &der(0x0a, &[1]));
        seq.extend(der(0xa1, &der(0x06, oid::NTLMSSP)));
        seq.extend(der(0xa2, &der(0x04, b"NTLMSSP\0\x02\0\0\0")));
        let b = der(0xa1, &der(0x30, &seq));
        let blob = SecurityBlob::parse(&b).unwrap();
        assert_eq!(blob.kind, BlobKind::Resp);
        assert_eq!(blob.neg_state, Some(NegState::AcceptIncomplete));
        assert_eq!(blob.mech(), Some(Mech::Ntlmssp));
        assert!(matches!(blob.token, Some(Token::Ntlmssp(_))));

        // A server's NegTokenInit2: mechanisms and a hint, no token.
        let list: Vec<u8> = der(0x06, oid::KERBEROS);
        let mut seq = der(0xa0, &der(0x30, &list));
        seq.extend(der(
            0xa3,
            &der(0x30, &der(0xa0, &der(0x1b, b"not_defined"))),
        ));
        let mut inner = der(0x06, oid::SPNEGO);
        inner.extend(der(0xa0, &der(0x30, &seq)));
        let b = der(0x60, &inner);
        let blob = SecurityBlob::parse(&b).unwrap();
        assert_eq!(blob.hint_name, Some(&b"not_defined"[..]));
        assert_eq!(blob.token, None);
        assert_eq!(blob.mech(), Some(Mech::Kerberos));
    }

    #[test]
    fn raw_tokens() {
        let blob = SecurityBlob::parse(b"NTLMSSP\0\x03\0\0\0").unwrap();
        assert_eq!(blob.kind, BlobKind::Raw);
        assert_eq!(blob.mech(), Some(Mech::Ntlmssp));
        let mut krb = der(0x06, oid::KERBEROS);
        krb.extend([0x01, 0x00]);
        krb.extend(der(0x6e, &[]));
        let b = der(0x60, &krb);
        let blob = SecurityBlob::parse(&b).unwrap();
        assert_eq!(blob.kind, BlobKind::Raw);
        assert_eq!(blob.mech(), Some(Mech::Kerberos));
    }

    #[test]
    fn der_lengths_are_checked() {
        assert_eq!(tlv(&[0x30, 0x05, 1, 2]), Err(Error::Truncated { need: 7 }));
        assert_eq!(tlv(&[0x30, 0x82, 0x01]), Err(Error::Truncated { need: 4 }));
        assert_eq!(
            tlv(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]),
            Err(Error::Truncated {
                need: 6 + 0xffff_ffff
            })
        );
        assert!(matches!(tlv(&[0x30, 0x80, 0, 0]), Err(Error::Malformed(_))));
        assert!(matches!(
            tlv(&[0x30, 0x85, 0, 0, 0, 0, 1]),
            Err(Error::Malformed(_))
        ));
        assert!(matches!(tlv(&[0x1f, 0x01, 0]), Err(Error::Malformed(_))));
        // A mechanism list cut short: the OID that fits, then an error, then the end.
        let mut list = der(0x06, oid::NTLMSSP);
        list.extend([0x06, 0x09, 0x2a]);
        let mut it = MechTypes(&list);
        assert!(it.next().unwrap().is_ok());
        assert!(it.next().unwrap().is_err());
        assert!(it.next().is_none());
        assert!(matches!(
            SecurityBlob::parse(b"\x05\x00"),
            Err(Error::Malformed(_))
        ));
        assert_eq!(
            SecurityBlob::parse(b"").unwrap_err(),
            Error::Truncated { need: 1 }
        );
    }

    #[test]
    fn oids_print_dotted() {
        assert_eq!(Oid(oid::KERBEROS).to_string(), "1.2.840.113554.1.2.2");
        assert_eq!(Oid(oid::MS_KERBEROS).to_string(), "1.2.840.48018.1.2.2");
        assert_eq!(Oid(oid::NTLMSSP).to_string(), "1.3.6.1.4.1.311.2.2.10");
        assert_eq!(Oid(oid::NEGOEX).to_string(), "1.3.6.1.4.1.311.2.2.30");
        assert_eq!(Oid(&[0xff; 12]).to_string(), "");
        assert_eq!(Oid(&[0xff; 12]).mech(), Mech::Other);
        assert_eq!(
            Oid(&[0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]).to_string(),
            "?"
        );
    }
}
