//! Kerberos V5 messages (RFC 4120 5.4–5.9): just enough of the KDC exchanges, AP-REQ and KRB-ERROR
//! to say who asks for which service principal, with which encryption types, and what failed —
//! and the TCP record marking of RFC 4120 7.2.2 (a 4-byte big-endian length before each message).
//!
//! Read: AS-REQ / TGS-REQ (req-body cname, realm, sname, the etypes requested; the padata, and in a
//! TGS-REQ the AP-REQ of its PA-TGS-REQ with the TGT's realm, sname and enc-part etype), AS-REP /
//! TGS-REP (crealm, cname, the ticket's realm, sname and enc-part etype, the reply's enc-part
//! etype), KRB-ERROR (error-code, realm, sname, crealm, cname), AP-REQ (the ticket) and AP-REP.
//!
//! The validity rule is the wire layer's: every DER length is checked against the bytes of its
//! container before anything is sliced (an inner length past its container is
//! [`Error::Malformed`]; only the outer message, or a TCP record, cut short is
//! [`Error::Truncated`]). Nothing recurses on wire input: the walk follows the messages' fixed
//! shape (message, SEQUENCE, field, value, and at most a ticket and a principal name below), so
//! nesting is at most 12 levels deep by construction. Lists (name components, etypes, padata) are
//! lazy iterators over the bytes that carry them, checked element by element; nothing allocates in
//! proportion to a wire length or count. Principal text is cut at [`MAX_PRINCIPAL_CHARS`] and
//! [`MAX_COMPONENTS`] components. A message is taken to be Kerberos only when its APPLICATION tag,
//! `pvno` (5) and `msg-type` agree.
//!
//! Why not the rusticata `kerberos-parser` crate: it parses whole structures eagerly into `Vec`s
//! (every padata, etype, address, additional ticket and name component, each name a `String`),
//! so what it allocates grows with the counts in the message; its errors do not say how many bytes
//! a message cut short needs, which a streaming caller wants; it has no TCP record marking; and it
//! brings nom, der-parser and asn1-rs for the dozen fields read here, which share the DER element
//! reader of [`super::spnego`].

use super::spnego::{tlv, Tlv};
use super::{Error, Result};

/// Bytes of one TCP record kept for parsing: a ticket with a large PAC is a few tens of KiB
/// (Windows' default MaxTokenSize is 48,000 bytes); longer records are passed over unread.
pub const MAX_RECORD: usize = 64 * 1024;
/// Characters of a principal's text at most; a longer one ends with `…`.
pub const MAX_PRINCIPAL_CHARS: usize = 256;
/// Name components shown at most (`cifs/host` has two, `ldap/host/domain` three).
pub const MAX_COMPONENTS: usize = 8;
/// Record marking: the length of the record that follows, big-endian; its top bit is reserved.
pub const RECORD_HEADER_LEN: usize = 4;

/// PA-TGS-REQ: the padata of a TGS-REQ that carries the AP-REQ with the TGT (RFC 4120 5.2.7.1).
pub const PA_TGS_REQ: i64 = 1;

/// The message types (APPLICATION tag numbers and `msg-type` values).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    AsReq,
    AsRep,
    TgsReq,
    TgsRep,
    ApReq,
    ApRep,
    Error,
}

impl Kind {
    /// The kind of the message whose first byte (its APPLICATION tag) is `tag`.
    pub fn of_tag(tag: u8) -> Option<Kind> {
        Some(match tag {
            0x6a => Kind::AsReq,
            0x6b => Kind::AsRep,
            0x6c => Kind::TgsReq,
            0x6d => Kind::TgsRep,
            0x6e => Kind::ApReq,
            0x6f => Kind::ApRep,
            0x7e => Kind::Error,
            _ => return None,
        })
    }

    fn number(self) -> i64 {
        match self {
            Kind::AsReq => 10,
            Kind::AsRep => 11,
            Kind::TgsReq => 12,
            Kind::TgsRep => 13,
            Kind::ApReq => 14,
            Kind::ApRep => 15,
            Kind::Error => 30,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::AsReq => "AS-REQ",
            Kind::AsRep => "AS-REP",
            Kind::TgsReq => "TGS-REQ",
            Kind::TgsRep => "TGS-REP",
            Kind::ApReq => "AP-REQ",
            Kind::ApRep => "AP-REP",
            Kind::Error => "KRB-ERROR",
        }
    }
}

/// An element inside a container: a length past the container is malformed, not truncated (the
/// container's own length was already checked).
fn inner(b: &[u8]) -> Result<Tlv<'_>> {
    tlv(b).map_err(|e| match e {
        Error::Truncated { .. } => Error::Malformed("Kerberos: length past its container"),
        e => e,
    })
}

/// The explicitly tagged fields `[0]`..`[12]` of a SEQUENCE, each the one element inside its tag.
#[derive(Clone, Copy, Debug, Default)]
struct Fields<'a>([Option<Tlv<'a>>; 13]);

impl<'a> Fields<'a> {
    /// The fields of `seq`, which must be a SEQUENCE's content. Higher field numbers are skipped
    /// (extensions); a field twice is malformed.
    fn of(seq: &'a [u8]) -> Result<Fields<'a>> {
        let mut f = Fields::default();
        let mut rest = seq;
        while !rest.is_empty() {
            let t = inner(rest)?;
            rest = t.rest;
            if t.tag & 0xe0 != 0xa0 {
                return Err(Error::Malformed("Kerberos: field without a context tag"));
            }
            let value = inner(t.value)?;
            if let Some(slot) = f.0.get_mut(usize::from(t.tag & 0x1f)) {
                if slot.is_some() {
                    return Err(Error::Malformed("Kerberos: field given twice"));
                }
                *slot = Some(value);
            }
        }
        Ok(f)
    }

    fn get(&self, n: usize) -> Option<Tlv<'a>> {
        self.0[n]
    }

    fn need(&self, n: usize, what: &'static str) -> Result<Tlv<'a>> {
        self.get(n).ok_or(Error::Malformed(what))
    }

    fn int(&self, n: usize, what: &'static str) -> Result<i64> {
        int(self.need(n, what)?)
    }
}

/// The SEQUENCE `b` must be (its content).
fn sequence<'a>(t: Tlv<'a>, what: &'static str) -> Result<&'a [u8]> {
    if t.tag != 0x30 {
        return Err(Error::Malformed(what));
    }
    Ok(t.value)
}

/// A DER INTEGER of at most 8 bytes (Int32, UInt32, Microsoft's negative etypes).
fn int(t: Tlv<'_>) -> Result<i64> {
    if t.tag != 0x02 {
        return Err(Error::Malformed("Kerberos: INTEGER expected"));
    }
    let v = t.value;
    if v.is_empty() || v.len() > 8 {
        return Err(Error::Malformed("Kerberos: INTEGER length"));
    }
    let mut n: i64 = if v[0] & 0x80 != 0 { -1 } else { 0 };
    for &b in v {
        n = (n << 8) | i64::from(b);
    }
    Ok(n)
}

/// A KerberosString or Realm (GeneralString; IA5String and UTF8String are accepted too).
fn string<'a>(t: Tlv<'a>) -> Result<&'a [u8]> {
    match t.tag {
        0x1b | 0x16 | 0x0c => Ok(t.value),
        _ => Err(Error::Malformed("Kerberos: string expected")),
    }
}

/// A PrincipalName: a name type and its components, read lazily.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Principal<'a> {
    pub name_type: i64,
    /// The content of the `name-string` SEQUENCE OF KerberosString.
    strings: &'a [u8],
}

impl<'a> Principal<'a> {
    fn parse(t: Tlv<'a>) -> Result<Principal<'a>> {
        let f = Fields::of(sequence(t, "Kerberos: PrincipalName is not a SEQUENCE")?)?;
        let name_type = f.int(0, "Kerberos: PrincipalName without name-type")?;
        let strings = sequence(
            f.need(1, "Kerberos: PrincipalName without name-string")?,
            "Kerberos: name-string is not a SEQUENCE",
        )?;
        let p = Principal { name_type, strings };
        // Check every component once, so that a parsed principal's components all read.
        for c in p.components() {
            c?;
        }
        Ok(p)
    }

    /// The name components, as sent (`cifs`, `fs01.corp.example.com`).
    pub fn components(&self) -> Components<'a> {
        Components(self.strings)
    }

    /// The service class: the first component (`cifs` of `cifs/fs01`).
    pub fn service_class(&self) -> Option<&'a [u8]> {
        self.components().next().and_then(|c| c.ok())
    }

    /// The components joined with `/` (`cifs/fs01.corp.example.com`), lossily decoded as UTF-8 and
    /// bounded ([`MAX_COMPONENTS`], [`MAX_PRINCIPAL_CHARS`]).
    pub fn text(&self) -> String {
        self.text_at(None)
    }

    /// The principal with its realm: `alice@CORP.EXAMPLE.COM`.
    pub fn text_at(&self, realm: Option<&[u8]>) -> String {
        let mut out = String::new();
        let mut cut = false;
        for (i, c) in self.components().enumerate() {
            let Ok(c) = c else { break };
            if i == MAX_COMPONENTS {
                cut = true;
                break;
            }
            if i > 0 {
                out.push('/');
            }
            out.push_str(&String::from_utf8_lossy(c));
        }
        if let Some(r) = realm {
            out.push('@');
            out.push_str(&String::from_utf8_lossy(r));
        }
        bound(out, cut)
    }
}

/// `text` cut at [`MAX_PRINCIPAL_CHARS`] characters, with `…` when anything was left out.
fn bound(mut text: String, cut: bool) -> String {
    if let Some((i, _)) = text.char_indices().nth(MAX_PRINCIPAL_CHARS) {
        text.truncate(i);
        text.push('…');
    } else if cut {
        text.push('…');
    }
    text
}

/// The components of a principal name, each checked as it is reached.
#[derive(Clone, Copy, Debug)]
pub struct Components<'a>(&'a [u8]);

impl<'a> Iterator for Components<'a> {
    type Item = Result<&'a [u8]>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        let r = inner(self.0).and_then(|t| {
            self.0 = t.rest;
            string(t)
        });
        if r.is_err() {
            self.0 = &[];
        }
        Some(r)
    }
}

/// A SEQUENCE OF Int32 (the etypes a request asks for, in preference order), read lazily.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ints<'a>(&'a [u8]);

impl Iterator for Ints<'_> {
    type Item = Result<i64>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        let r = inner(self.0).and_then(|t| {
            self.0 = t.rest;
            int(t)
        });
        if r.is_err() {
            self.0 = &[];
        }
        Some(r)
    }
}

/// The padata of a request or reply: (padata-type, padata-value), read lazily.
#[derive(Clone, Copy, Debug, Default)]
pub struct PaData<'a>(&'a [u8]);

impl<'a> Iterator for PaData<'a> {
    type Item = Result<(i64, &'a [u8])>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        let r = inner(self.0).and_then(|t| {
            self.0 = t.rest;
            let f = Fields::of(sequence(t, "Kerberos: PA-DATA is not a SEQUENCE")?)?;
            let kind = int(f.need(1, "Kerberos: PA-DATA without padata-type")?)?;
            let value = f.need(2, "Kerberos: PA-DATA without padata-value")?;
            if value.tag != 0x04 {
                return Err(Error::Malformed(
                    "Kerberos: padata-value is not an OCTET STRING",
                ));
            }
            Ok((kind, value.value))
        });
        if r.is_err() {
            self.0 = &[];
        }
        Some(r)
    }
}

/// The etype of an EncryptedData (what its cipher text is encrypted with).
fn encrypted_etype(t: Tlv<'_>) -> Result<i64> {
    let f = Fields::of(sequence(t, "Kerberos: EncryptedData is not a SEQUENCE")?)?;
    f.int(0, "Kerberos: EncryptedData without etype")
}

/// A ticket: the service it is for, in which realm, and the etype of the service's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket<'a> {
    pub realm: &'a [u8],
    pub sname: Principal<'a>,
    /// The etype of the enc-part: the key of the service account (krbtgt's for a TGT).
    pub etype: i64,
}

impl<'a> Ticket<'a> {
    /// `Ticket ::= [APPLICATION 1] SEQUENCE { tkt-vno [0], realm [1], sname [2], enc-part [3] }`.
    fn parse(t: Tlv<'a>) -> Result<Ticket<'a>> {
        if t.tag != 0x61 {
            return Err(Error::Malformed(
                "Kerberos: Ticket without its APPLICATION 1 tag",
            ));
        }
        let f = Fields::of(sequence(
            inner(t.value)?,
            "Kerberos: Ticket is not a SEQUENCE",
        )?)?;
        if f.int(0, "Kerberos: Ticket without tkt-vno")? != 5 {
            return Err(Error::Malformed("Kerberos: tkt-vno is not 5"));
        }
        Ok(Ticket {
            realm: string(f.need(1, "Kerberos: Ticket without realm")?)?,
            sname: Principal::parse(f.need(2, "Kerberos: Ticket without sname")?)?,
            etype: encrypted_etype(f.need(3, "Kerberos: Ticket without enc-part")?)?,
        })
    }
}

/// AS-REQ or TGS-REQ.
#[derive(Clone, Copy, Debug)]
pub struct KdcReq<'a> {
    pub kind: Kind,
    padata: &'a [u8],
    /// The client (AS-REQ only: a TGS-REQ names it inside its encrypted authenticator).
    pub cname: Option<Principal<'a>>,
    /// The server's realm (and the client's, in an AS-REQ).
    pub realm: &'a [u8],
    /// The service asked for (`krbtgt/REALM` in an AS-REQ; absent with ENC-TKT-IN-SKEY).
    pub sname: Option<Principal<'a>>,
    etypes: &'a [u8],
}

impl<'a> KdcReq<'a> {
    /// The etypes the client accepts, most preferred first.
    pub fn etypes(&self) -> Ints<'a> {
        Ints(self.etypes)
    }

    pub fn padata(&self) -> PaData<'a> {
        PaData(self.padata)
    }

    /// The AP-REQ of a TGS-REQ's PA-TGS-REQ (it presents the TGT), if there is one.
    pub fn tgs_ap_req(&self) -> Option<Result<ApReq<'a>>> {
        for p in self.padata() {
            match p {
                Ok((PA_TGS_REQ, value)) => {
                    return Some(match Message::parse(value) {
                        Ok(Message::ApReq(a)) => Ok(a),
                        Ok(_) => Err(Error::Malformed("Kerberos: PA-TGS-REQ is not an AP-REQ")),
                        Err(Error::Truncated { .. }) => {
                            Err(Error::Malformed("Kerberos: PA-TGS-REQ cut short"))
                        }
                        Err(e) => Err(e),
                    })
                }
                Ok(_) => {}
                Err(e) => return Some(Err(e)),
            }
        }
        None
    }

    /// `KDC-REQ ::= SEQUENCE { pvno [1], msg-type [2], padata [3] OPTIONAL, req-body [4] }`.
    fn parse(kind: Kind, f: &Fields<'a>) -> Result<KdcReq<'a>> {
        let padata = match f.get(3) {
            Some(t) => sequence(t, "Kerberos: padata is not a SEQUENCE")?,
            None => &[],
        };
        let body = Fields::of(sequence(
            f.need(4, "Kerberos: KDC-REQ without req-body")?,
            "Kerberos: req-body is not a SEQUENCE",
        )?)?;
        let etypes = sequence(
            body.need(8, "Kerberos: req-body without etype")?,
            "Kerberos: etype is not a SEQUENCE",
        )?;
        for e in Ints(etypes) {
            e?;
        }
        Ok(KdcReq {
            kind,
            padata,
            cname: body.get(1).map(Principal::parse).transpose()?,
            realm: string(body.need(2, "Kerberos: req-body without realm")?)?,
            sname: body.get(3).map(Principal::parse).transpose()?,
            etypes,
        })
    }
}

/// AS-REP or TGS-REP.
#[derive(Clone, Copy, Debug)]
pub struct KdcRep<'a> {
    pub kind: Kind,
    pub crealm: &'a [u8],
    pub cname: Principal<'a>,
    pub ticket: Ticket<'a>,
    /// The etype of the reply's enc-part (the client's key in an AS-REP, the TGT session key in a
    /// TGS-REP).
    pub etype: i64,
}

impl<'a> KdcRep<'a> {
    /// `KDC-REP ::= SEQUENCE { pvno [0], msg-type [1], padata [2] OPTIONAL, crealm [3],
    /// cname [4], ticket [5], enc-part [6] }`.
    fn parse(kind: Kind, f: &Fields<'a>) -> Result<KdcRep<'a>> {
        Ok(KdcRep {
            kind,
            crealm: string(f.need(3, "Kerberos: KDC-REP without crealm")?)?,
            cname: Principal::parse(f.need(4, "Kerberos: KDC-REP without cname")?)?,
            ticket: Ticket::parse(f.need(5, "Kerberos: KDC-REP without ticket")?)?,
            etype: encrypted_etype(f.need(6, "Kerberos: KDC-REP without enc-part")?)?,
        })
    }
}

/// AP-REQ: a ticket presented to a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApReq<'a> {
    pub ticket: Ticket<'a>,
    /// The etype of the authenticator (the session key's).
    pub authenticator_etype: i64,
}

/// KRB-ERROR.
#[derive(Clone, Copy, Debug)]
pub struct KrbError<'a> {
    pub code: i64,
    pub realm: &'a [u8],
    pub sname: Principal<'a>,
    pub crealm: Option<&'a [u8]>,
    pub cname: Option<Principal<'a>>,
}

/// A Kerberos message.
#[derive(Clone, Copy, Debug)]
pub enum Message<'a> {
    /// AS-REQ or TGS-REQ.
    Request(KdcReq<'a>),
    /// AS-REP or TGS-REP.
    Reply(KdcRep<'a>),
    ApReq(ApReq<'a>),
    /// AP-REP: the service's answer (its content is encrypted).
    ApRep,
    Error(KrbError<'a>),
}

impl<'a> Message<'a> {
    pub fn kind(&self) -> Kind {
        match self {
            Message::Request(r) => r.kind,
            Message::Reply(r) => r.kind,
            Message::ApReq(_) => Kind::ApReq,
            Message::ApRep => Kind::ApRep,
            Message::Error(_) => Kind::Error,
        }
    }

    /// Parses one message, starting at its APPLICATION tag (a UDP datagram, a TCP record's
    /// content, the Kerberos token of a GSS-API blob). Bytes after the message are ignored.
    pub fn parse(b: &'a [u8]) -> Result<Message<'a>> {
        let first = *b.first().ok_or(Error::Truncated { need: 1 })?;
        let kind = Kind::of_tag(first).ok_or(Error::Malformed("not a Kerberos message"))?;
        let outer = tlv(b)?;
        let f = Fields::of(sequence(
            inner(outer.value)?,
            "Kerberos: message is not a SEQUENCE",
        )?)?;
        // KDC-REQ numbers its fields from 1, the others from 0.
        let (pvno, msg_type) = match kind {
            Kind::AsReq | Kind::TgsReq => (1, 2),
            _ => (0, 1),
        };
        if f.int(pvno, "Kerberos: message without pvno")? != 5 {
            return Err(Error::Malformed("Kerberos: pvno is not 5"));
        }
        if f.int(msg_type, "Kerberos: message without msg-type")? != kind.number() {
            return Err(Error::Malformed(
                "Kerberos: msg-type does not match the APPLICATION tag",
            ));
        }
        Ok(match kind {
            Kind::AsReq | Kind::TgsReq => Message::Request(KdcReq::parse(kind, &f)?),
            Kind::AsRep | Kind::TgsRep => Message::Reply(KdcRep::parse(kind, &f)?),
            // AP-REQ ::= SEQUENCE { pvno [0], msg-type [1], ap-options [2], ticket [3],
            // authenticator [4] }
            Kind::ApReq => Message::ApReq(ApReq {
                ticket: Ticket::parse(f.need(3, "Kerberos: AP-REQ without ticket")?)?,
                authenticator_etype: encrypted_etype(
                    f.need(4, "Kerberos: AP-REQ without authenticator")?,
                )?,
            }),
            Kind::ApRep => Message::ApRep,
            // KRB-ERROR ::= SEQUENCE { pvno [0], msg-type [1], ctime [2], cusec [3], stime [4],
            // susec [5], error-code [6], crealm [7], cname [8], realm [9], sname [10], e-text [11],
            // e-data [12] }
            Kind::Error => Message::Error(KrbError {
                code: f.int(6, "Kerberos: KRB-ERROR without error-code")?,
                crealm: f.get(7).map(string).transpose()?,
                cname: f.get(8).map(Principal::parse).transpose()?,
                realm: string(f.need(9, "Kerberos: KRB-ERROR without realm")?)?,
                sname: Principal::parse(f.need(10, "Kerberos: KRB-ERROR without sname")?)?,
            }),
        })
    }
}

/// The length a TCP record mark announces, or why it is none: [`Error::Truncated`] before 4
/// bytes, [`Error::Malformed`] with the reserved top bit set.
pub fn record_len(b: &[u8]) -> Result<usize> {
    let m = b.get(..RECORD_HEADER_LEN).ok_or(Error::Truncated {
        need: RECORD_HEADER_LEN,
    })?;
    let len = u32::from_be_bytes([m[0], m[1], m[2], m[3]]);
    if len & 0x8000_0000 != 0 {
        return Err(Error::Malformed(
            "Kerberos record mark with the reserved bit set",
        ));
    }
    Ok(len as usize)
}

/// Whether `b` begins a TCP record holding a Kerberos message: a record mark, an APPLICATION tag
/// of a Kerberos message, and a DER length that fills the record exactly (where a stream that lost
/// its place starts again). `None` when `b` is too short to say.
pub fn record_start(b: &[u8]) -> Option<bool> {
    let len = match record_len(b) {
        Ok(len) => len,
        Err(Error::Truncated { .. }) => return None,
        Err(_) => return Some(false),
    };
    let msg = &b[RECORD_HEADER_LEN..];
    if Kind::of_tag(*msg.first()?).is_none() {
        return Some(false);
    }
    // The DER header of the message: tag, then a short or long (1-4 byte) length.
    let first = *msg.get(1)?;
    let (content, head) = match first {
        0..=0x7f => (usize::from(first), 2),
        0x81..=0x84 => {
            let n = usize::from(first & 0x7f);
            let bytes = msg.get(2..2 + n)?;
            (
                bytes.iter().fold(0usize, |l, &b| (l << 8) | usize::from(b)),
                2 + n,
            )
        }
        _ => return Some(false),
    };
    Some(content.checked_add(head) == Some(len))
}

/// Bytes [`record_start`] may need to decide: the mark and the longest DER header.
const START_LEN: usize = RECORD_HEADER_LEN + 6;

/// One direction of a Kerberos TCP connection cut into records: bounded ([`MAX_RECORD`] kept, a
/// longer record passed over as it streams by), retransmissions dropped. The stream is read from
/// a segment that begins a record ([`record_start`]): its first, or the first after a gap.
#[derive(Debug, Default)]
pub struct RecordStream {
    buf: Vec<u8>,
    next_seq: Option<u32>,
    /// Bytes of a long record still to pass over.
    skip: usize,
    /// `buf` starts at a record boundary.
    synced: bool,
}

/// What [`RecordStream::push`] saw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pushed {
    /// Records longer than [`MAX_RECORD`] passed over.
    pub skipped: u32,
    /// Bytes were not read: the stream lost its place (a gap, bytes where a record mark should be
    /// that are none), or it has none and the segment does not begin a record.
    pub unread: bool,
}

impl RecordStream {
    /// Bytes held waiting for the rest of a record.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Adds a segment; calls `each` with the message of every record it completes.
    pub fn push(&mut self, seq: u32, data: &[u8], mut each: impl FnMut(&[u8])) -> Pushed {
        let mut out = Pushed::default();
        if data.is_empty() {
            return out;
        }
        // The stream continues after this segment's last byte, whatever part of it is new.
        let end = seq.wrapping_add(data.len() as u32);
        let mut data = match super::in_sequence(self.next_seq, seq, data) {
            super::InSequence::Next(data) => data,
            super::InSequence::Old => return out,
            super::InSequence::Gap { gap, data } => {
                if self.skip > gap {
                    // Inside a record being passed over: nothing is lost.
                    self.skip -= gap;
                } else {
                    self.lose();
                    out.unread = true;
                }
                data
            }
        };
        self.next_seq = Some(end);
        if self.skip > 0 {
            let n = self.skip.min(data.len());
            self.skip -= n;
            data = &data[n..];
        }
        if data.is_empty() {
            return out;
        }
        if !self.synced {
            // Only a segment that begins a record (with what follows it, while too short to say).
            if self.buf.is_empty() && record_start(data) == Some(false) {
                out.unread = true;
                return out;
            }
            self.buf.extend_from_slice(data);
            match record_start(&self.buf) {
                Some(true) => self.synced = true,
                Some(false) => {
                    self.buf = Vec::new();
                    out.unread = true;
                    return out;
                }
                None => {
                    if self.buf.len() >= START_LEN {
                        self.buf = Vec::new();
                        out.unread = true;
                    }
                    return out;
                }
            }
        } else {
            self.buf.extend_from_slice(data);
        }
        let mut at = 0;
        loop {
            let rest = &self.buf[at..];
            let len = match record_len(rest) {
                Ok(len) => len,
                Err(Error::Truncated { .. }) => break,
                Err(_) => {
                    self.lose();
                    out.unread = true;
                    return out;
                }
            };
            let Some(total) = len.checked_add(RECORD_HEADER_LEN) else {
                self.lose();
                out.unread = true;
                return out;
            };
            if len > MAX_RECORD {
                // Pass over it (what is here of it, then the rest as it arrives).
                out.skipped += 1;
                let here = rest.len().min(total);
                self.skip = total - here;
                at += here;
                if self.skip > 0 {
                    break;
                }
                continue;
            }
            if rest.len() < total {
                break;
            }
            each(&rest[RECORD_HEADER_LEN..total]);
            at += total;
        }
        self.buf.drain(..at);
        if self.buf.capacity() > 2 * self.buf.len() + 4096 {
            self.buf.shrink_to(self.buf.len());
        }
        out
    }

    fn lose(&mut self) {
        self.buf = Vec::new();
        self.skip = 0;
        self.synced = false;
    }
}

/// An encryption type's name (RFC 3961 8, RFC 3962, RFC 8009, RFC 4757; Microsoft's negative
/// numbers for the old RC4 variants), or `None` for one this table does not know.
pub fn etype_name(etype: i64) -> Option<&'static str> {
    Some(match etype {
        1 => "des-cbc-crc",
        2 => "des-cbc-md4",
        3 => "des-cbc-md5",
        5 => "des3-cbc-md5",
        7 => "des3-cbc-sha1",
        16 => "des3-cbc-sha1-kd",
        17 => "aes128-cts-hmac-sha1-96",
        18 => "aes256-cts-hmac-sha1-96",
        19 => "aes128-cts-hmac-sha256-128",
        20 => "aes256-cts-hmac-sha384-192",
        23 => "rc4-hmac",
        24 => "rc4-hmac-exp",
        25 => "camellia128-cts-cmac",
        26 => "camellia256-cts-cmac",
        -128 => "rc4-hmac-old",
        -133 => "rc4-md4",
        -135 => "rc4-hmac-old-exp",
        _ => return None,
    })
}

/// Whether an etype is DES (single or triple, RFC 6649 and RFC 8429 deprecate them) or RC4
/// (RFC 8429), the encryption that ticket-cracking attacks and downgrades look for.
pub fn is_weak(etype: i64) -> bool {
    matches!(etype, 1..=3 | 5 | 7 | 16 | 23 | 24 | -128 | -133 | -135)
}

/// Whether an etype's evidence text ([`etype_text`]) marks it weak.
pub fn etype_text_is_weak(text: &str) -> bool {
    text.ends_with(" (weak)")
}

/// An etype as evidence shows it: `aes256-cts-hmac-sha1-96`, `rc4-hmac (weak)`, `etype 99`.
pub fn etype_text(etype: i64) -> String {
    let name = match etype_name(etype) {
        Some(n) => n.to_string(),
        None => format!("etype {etype}"),
    };
    if is_weak(etype) {
        format!("{name} (weak)")
    } else {
        name
    }
}

/// A KRB-ERROR code's name (RFC 4120 7.5.9, RFC 4556 for the PKINIT ones), or `KRB_ERROR n`.
pub fn error_name(code: i64) -> String {
    let name = match code {
        0 => "KDC_ERR_NONE",
        1 => "KDC_ERR_NAME_EXP",
        2 => "KDC_ERR_SERVICE_EXP",
        3 => "KDC_ERR_BAD_PVNO",
        4 => "KDC_ERR_C_OLD_MAST_KVNO",
        5 => "KDC_ERR_S_OLD_MAST_KVNO",
        6 => "KDC_ERR_C_PRINCIPAL_UNKNOWN",
        7 => "KDC_ERR_S_PRINCIPAL_UNKNOWN",
        8 => "KDC_ERR_PRINCIPAL_NOT_UNIQUE",
        9 => "KDC_ERR_NULL_KEY",
        10 => "KDC_ERR_CANNOT_POSTDATE",
        11 => "KDC_ERR_NEVER_VALID",
        12 => "KDC_ERR_POLICY",
        13 => "KDC_ERR_BADOPTION",
        14 => "KDC_ERR_ETYPE_NOSUPP",
        15 => "KDC_ERR_SUMTYPE_NOSUPP",
        16 => "KDC_ERR_PADATA_TYPE_NOSUPP",
        17 => "KDC_ERR_TRTYPE_NOSUPP",
        18 => "KDC_ERR_CLIENT_REVOKED",
        19 => "KDC_ERR_SERVICE_REVOKED",
        20 => "KDC_ERR_TGT_REVOKED",
        21 => "KDC_ERR_CLIENT_NOTYET",
        22 => "KDC_ERR_SERVICE_NOTYET",
        23 => "KDC_ERR_KEY_EXPIRED",
        24 => "KDC_ERR_PREAUTH_FAILED",
        25 => "KDC_ERR_PREAUTH_REQUIRED",
        26 => "KDC_ERR_SERVER_NOMATCH",
        27 => "KDC_ERR_MUST_USE_USER2USER",
        28 => "KDC_ERR_PATH_NOT_ACCEPTED",
        29 => "KDC_ERR_SVC_UNAVAILABLE",
        31 => "KRB_AP_ERR_BAD_INTEGRITY",
        32 => "KRB_AP_ERR_TKT_EXPIRED",
        33 => "KRB_AP_ERR_TKT_NYV",
        34 => "KRB_AP_ERR_REPEAT",
        35 => "KRB_AP_ERR_NOT_US",
        36 => "KRB_AP_ERR_BADMATCH",
        37 => "KRB_AP_ERR_SKEW",
        38 => "KRB_AP_ERR_BADADDR",
        39 => "KRB_AP_ERR_BADVERSION",
        40 => "KRB_AP_ERR_MSG_TYPE",
        41 => "KRB_AP_ERR_MODIFIED",
        42 => "KRB_AP_ERR_BADORDER",
        44 => "KRB_AP_ERR_BADKEYVER",
        45 => "KRB_AP_ERR_NOKEY",
        46 => "KRB_AP_ERR_MUT_FAIL",
        47 => "KRB_AP_ERR_BADDIRECTION",
        48 => "KRB_AP_ERR_METHOD",
        49 => "KRB_AP_ERR_BADSEQ",
        50 => "KRB_AP_ERR_INAPP_CKSUM",
        51 => "KRB_AP_PATH_NOT_ACCEPTED",
        52 => "KRB_ERR_RESPONSE_TOO_BIG",
        60 => "KRB_ERR_GENERIC",
        61 => "KRB_ERR_FIELD_TOOLONG",
        62 => "KDC_ERR_CLIENT_NOT_TRUSTED",
        63 => "KDC_ERR_KDC_NOT_TRUSTED",
        64 => "KDC_ERR_INVALID_SIG",
        65 => "KDC_ERR_DH_KEY_PARAMETERS_NOT_ACCEPTED",
        68 => "KDC_ERR_WRONG_REALM",
        69 => "KRB_AP_ERR_USER_TO_USER_REQUIRED",
        70 => "KDC_ERR_CANT_VERIFY_CERTIFICATE",
        71 => "KDC_ERR_INVALID_CERTIFICATE",
        72 => "KDC_ERR_REVOKED_CERTIFICATE",
        73 => "KDC_ERR_REVOCATION_STATUS_UNKNOWN",
        74 => "KDC_ERR_REVOCATION_STATUS_UNAVAILABLE",
        75 => "KDC_ERR_CLIENT_NAME_MISMATCH",
        76 => "KDC_ERR_KDC_NAME_MISMATCH",
        _ => return format!("KRB_ERROR {code}"),
    };
    name.to_string()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// DER element (short or long length form).
    pub fn der(tag: u8, value: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        match value.len() {
            n @ 0..=0x7f => out.push(n as u8),
            n @ 0x80..=0xff => out.extend([0x81, n as u8]),
            n => out.extend([0x82, (n >> 8) as u8, n as u8]),
        }
        out.extend_from_slice(value);
        out
    }

    fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
        der(0x30, &parts.concat())
    }

    fn field(n: u8, value: Vec<u8>) -> Vec<u8> {
        der(0xa0 + n, &value)
    }

    pub fn int(n: i64) -> Vec<u8> {
        let bytes = n.to_be_bytes();
        let mut i = 0;
        while i < 7
            && ((bytes[i] == 0 && bytes[i + 1] & 0x80 == 0)
                || (bytes[i] == 0xff && bytes[i + 1] & 0x80 != 0))
        {
            i += 1;
        }
        der(0x02, &bytes[i..])
    }

    fn gstr(s: &str) -> Vec<u8> {
        der(0x1b, s.as_bytes())
    }

    pub fn principal(name_type: i64, parts: &[&str]) -> Vec<u8> {
        let strings: Vec<Vec<u8>> = parts.iter().map(|p| gstr(p)).collect();
        seq(&[field(0, int(name_type)), field(1, seq(&strings))])
    }

    fn encrypted(etype: i64) -> Vec<u8> {
        seq(&[
            field(0, int(etype)),
            field(1, int(2)),
            field(2, der(0x04, &[0xee; 24])),
        ])
    }

    pub fn ticket(realm: &str, sname: &[&str], etype: i64) -> Vec<u8> {
        der(
            0x61,
            &seq(&[
                field(0, int(5)),
                field(1, gstr(realm)),
                field(2, principal(2, sname)),
                field(3, encrypted(etype)),
            ]),
        )
    }

    pub fn ap_req(realm: &str, sname: &[&str], etype: i64) -> Vec<u8> {
        der(
            0x6e,
            &seq(&[
                field(0, int(5)),
                field(1, int(14)),
                field(2, der(0x03, &[0, 0, 0, 0, 0])),
                field(3, ticket(realm, sname, etype)),
                field(4, encrypted(18)),
            ]),
        )
    }

    /// An AS-REQ (no padata) or a TGS-REQ (PA-TGS-REQ with an AP-REQ for krbtgt/REALM whose
    /// ticket is encrypted with `tgt_etype`).
    pub fn kdc_req(
        tgs: bool,
        cname: Option<&str>,
        realm: &str,
        sname: &[&str],
        etypes: &[i64],
        tgt_etype: i64,
    ) -> Vec<u8> {
        let mut body = vec![field(0, der(0x03, &[0, 0x40, 0x81, 0, 0x10]))];
        if let Some(c) = cname {
            body.push(field(1, principal(1, &[c])));
        }
        body.push(field(2, gstr(realm)));
        body.push(field(3, principal(2, sname)));
        body.push(field(5, der(0x18, b"20370913024805Z")));
        body.push(field(7, int(0x1234_5678)));
        body.push(field(
            8,
            seq(&etypes.iter().map(|&e| int(e)).collect::<Vec<_>>()),
        ));
        let mut parts = vec![field(1, int(5)), field(2, int(if tgs { 12 } else { 10 }))];
        if tgs {
            let pa = seq(&[
                field(1, int(PA_TGS_REQ)),
                field(2, der(0x04, &ap_req(realm, &["krbtgt", realm], tgt_etype))),
            ]);
            parts.push(field(3, seq(&[pa])));
        } else {
            // PA-PAC-REQUEST (128).
            let pa = seq(&[field(1, int(128)), field(2, der(0x04, &[0x30, 0]))]);
            parts.push(field(3, seq(&[pa])));
        }
        parts.push(field(4, seq(&body)));
        der(if tgs { 0x6c } else { 0x6a }, &seq(&parts))
    }

    pub fn kdc_rep(
        tgs: bool,
        crealm: &str,
        cname: &str,
        sname: &[&str],
        ticket_etype: i64,
        etype: i64,
    ) -> Vec<u8> {
        der(
            if tgs { 0x6d } else { 0x6b },
            &seq(&[
                field(0, int(5)),
                field(1, int(if tgs { 13 } else { 11 })),
                field(3, gstr(crealm)),
                field(4, principal(1, &[cname])),
                field(5, ticket(crealm, sname, ticket_etype)),
                field(6, encrypted(etype)),
            ]),
        )
    }

    pub fn krb_error(code: i64, realm: &str, sname: &[&str]) -> Vec<u8> {
        der(
            0x7e,
            &seq(&[
                field(0, int(5)),
                field(1, int(30)),
                field(4, der(0x18, b"20240304090000Z")),
                field(5, int(1)),
                field(6, int(code)),
                field(9, gstr(realm)),
                field(10, principal(2, sname)),
            ]),
        )
    }

    pub fn record(msg: &[u8]) -> Vec<u8> {
        let mut r = (msg.len() as u32).to_be_bytes().to_vec();
        r.extend_from_slice(msg);
        r
    }

    #[test]
    fn tgs_req_names_the_service_and_the_tgt() {
        let m = kdc_req(
            true,
            None,
            "CORP.EXAMPLE.COM",
            &["cifs", "fs01.corp.example.com"],
            &[18, 17, 23, -135],
            23,
        );
        let Message::Request(r) = Message::parse(&m).unwrap() else {
            panic!()
        };
        assert_eq!(r.kind, Kind::TgsReq);
        assert_eq!(r.realm, b"CORP.EXAMPLE.COM");
        assert!(r.cname.is_none());
        let sname = r.sname.unwrap();
        assert_eq!(sname.text(), "cifs/fs01.corp.example.com");
        assert_eq!(sname.name_type, 2);
        assert_eq!(sname.service_class(), Some(&b"cifs"[..]));
        let etypes: Vec<i64> = r.etypes().map(Result::unwrap).collect();
        assert_eq!(etypes, [18, 17, 23, -135]);
        let ap = r.tgs_ap_req().unwrap().unwrap();
        assert_eq!(ap.ticket.sname.text(), "krbtgt/CORP.EXAMPLE.COM");
        assert_eq!(ap.ticket.realm, b"CORP.EXAMPLE.COM");
        assert_eq!(ap.ticket.etype, 23);
        assert_eq!(ap.authenticator_etype, 18);
    }

    #[test]
    fn as_req_reply_and_error_fields() {
        let m = kdc_req(
            false,
            Some("alice"),
            "CORP.EXAMPLE.COM",
            &["krbtgt", "CORP.EXAMPLE.COM"],
            &[18],
            0,
        );
        let Message::Request(r) = Message::parse(&m).unwrap() else {
            panic!()
        };
        assert_eq!(r.kind, Kind::AsReq);
        assert_eq!(
            r.cname.unwrap().text_at(Some(r.realm)),
            "alice@CORP.EXAMPLE.COM"
        );
        assert!(r.tgs_ap_req().is_none());
        let pa: Vec<(i64, &[u8])> = r.padata().map(Result::unwrap).collect();
        assert_eq!(pa, [(128, &[0x30, 0][..])]);

        let m = kdc_rep(true, "CORP.EXAMPLE.COM", "alice", &["ldap", "dc01"], 18, 23);
        let Message::Reply(r) = Message::parse(&m).unwrap() else {
            panic!()
        };
        assert_eq!(r.kind, Kind::TgsRep);
        assert_eq!(r.cname.text_at(Some(r.crealm)), "alice@CORP.EXAMPLE.COM");
        assert_eq!(r.ticket.sname.text(), "ldap/dc01");
        assert_eq!((r.ticket.etype, r.etype), (18, 23));

        let m = krb_error(25, "CORP.EXAMPLE.COM", &["krbtgt", "CORP.EXAMPLE.COM"]);
        let Message::Error(e) = Message::parse(&m).unwrap() else {
            panic!()
        };
        assert_eq!(e.code, 25);
        assert_eq!(error_name(e.code), "KDC_ERR_PREAUTH_REQUIRED");
        assert_eq!(e.sname.text(), "krbtgt/CORP.EXAMPLE.COM");
        assert_eq!(e.realm, b"CORP.EXAMPLE.COM");
        assert!(e.cname.is_none() && e.crealm.is_none());
        assert_eq!(error_name(7), "KDC_ERR_S_PRINCIPAL_UNKNOWN");
        assert_eq!(error_name(1000), "KRB_ERROR 1000");

        let m = ap_req("CORP", &["HOST", "admin-pc"], -128);
        let Message::ApReq(a) = Message::parse(&m).unwrap() else {
            panic!()
        };
        assert_eq!(a.ticket.sname.text(), "HOST/admin-pc");
        assert_eq!(etype_text(a.ticket.etype), "rc4-hmac-old (weak)");
    }

    #[test]
    fn etypes_are_named_and_weak_ones_flagged() {
        assert_eq!(etype_text(18), "aes256-cts-hmac-sha1-96");
        assert_eq!(etype_text(17), "aes128-cts-hmac-sha1-96");
        assert_eq!(etype_text(23), "rc4-hmac (weak)");
        assert_eq!(etype_text(3), "des-cbc-md5 (weak)");
        assert_eq!(etype_text(16), "des3-cbc-sha1-kd (weak)");
        assert_eq!(etype_text(20), "aes256-cts-hmac-sha384-192");
        assert_eq!(etype_text(99), "etype 99");
        assert_eq!(etype_text(-1), "etype -1");
    }

    #[test]
    fn a_message_must_say_it_is_kerberos() {
        // msg-type 12 under the AS-REQ tag.
        let mut m = kdc_req(false, Some("a"), "R", &["krbtgt", "R"], &[18], 0);
        let at = m.windows(3).position(|w| w == [0xa2, 0x03, 0x02]).unwrap();
        m[at + 4] = 12;
        assert!(matches!(Message::parse(&m), Err(Error::Malformed(_))));
        // pvno 4.
        let mut m = krb_error(25, "R", &["krbtgt", "R"]);
        let at = m.windows(3).position(|w| w == [0xa0, 0x03, 0x02]).unwrap();
        m[at + 4] = 4;
        assert_eq!(
            Message::parse(&m).unwrap_err(),
            Error::Malformed("Kerberos: pvno is not 5")
        );
        assert!(matches!(
            Message::parse(b"GET / HTTP/1.1"),
            Err(Error::Malformed(_))
        ));
        assert_eq!(
            Message::parse(b"").unwrap_err(),
            Error::Truncated { need: 1 }
        );
    }

    #[test]
    fn lengths_are_checked_against_their_container() {
        let m = kdc_rep(false, "R", "alice", &["krbtgt", "R"], 18, 18);
        // Cut short: the outer element says how much it needs.
        assert_eq!(
            Message::parse(&m[..m.len() - 1]).unwrap_err(),
            Error::Truncated { need: m.len() }
        );
        // An inner length longer than its container.
        let mut bad = m.clone();
        let at = bad.windows(2).position(|w| w == [0x1b, 0x05]).unwrap();
        bad[at + 1] = 0x7f;
        assert_eq!(
            Message::parse(&bad).unwrap_err(),
            Error::Malformed("Kerberos: length past its container")
        );
        // A field given twice.
        let twice = der(
            0x7e,
            &seq(&[field(0, int(5)), field(0, int(5)), field(1, int(30))]),
        );
        assert_eq!(
            Message::parse(&twice).unwrap_err(),
            Error::Malformed("Kerberos: field given twice")
        );
        // An integer of 9 bytes.
        let big = der(0x7e, &seq(&[field(0, der(0x02, &[1; 9]))]));
        assert_eq!(
            Message::parse(&big).unwrap_err(),
            Error::Malformed("Kerberos: INTEGER length")
        );
    }

    #[test]
    fn principal_text_is_bounded() {
        let long = "x".repeat(1000);
        let p = principal(1, &[&long]);
        let text = Principal::parse(inner(&p).unwrap()).unwrap().text();
        assert_eq!(text.chars().count(), MAX_PRINCIPAL_CHARS + 1);
        assert!(text.ends_with('…'));
        let many: Vec<String> = (0..20).map(|i| i.to_string()).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        let p = principal(1, &refs);
        let text = Principal::parse(inner(&p).unwrap()).unwrap().text();
        assert_eq!(text, "0/1/2/3/4/5/6/7…");
        // Not UTF-8: replaced, never a panic.
        let p = seq(&[field(0, int(1)), field(1, seq(&[der(0x1b, &[0xff, b'a'])]))]);
        assert_eq!(
            Principal::parse(inner(&p).unwrap()).unwrap().text(),
            "\u{fffd}a"
        );
    }

    #[test]
    fn records_split_and_joined_are_cut_apart() {
        let a = record(&krb_error(25, "R", &["krbtgt", "R"]));
        let b = record(&kdc_rep(false, "R", "alice", &["krbtgt", "R"], 18, 18));
        assert_eq!(
            (record_start(&a), record_start(&b)),
            (Some(true), Some(true))
        );
        assert_eq!(record_start(&a[1..]), Some(false));
        assert_eq!(record_start(&a[..5]), None);
        let both = [a.clone(), b.clone()].concat();
        for cut in 1..both.len() {
            let mut s = RecordStream::default();
            let mut got = Vec::new();
            s.push(100, &both[..cut], |m| got.push(m.to_vec()));
            let p = s.push(100 + cut as u32, &both[cut..], |m| got.push(m.to_vec()));
            assert_eq!(p, Pushed::default());
            assert_eq!(got, [a[4..].to_vec(), b[4..].to_vec()], "cut at {cut}");
            assert_eq!(s.buffered(), 0);
        }
        // A retransmission is not read twice.
        let mut s = RecordStream::default();
        let mut n = 0;
        s.push(1, &a, |_| n += 1);
        s.push(1, &a, |_| n += 1);
        assert_eq!(n, 1);
        // What does not begin a record (the reserved bit, the middle of one) is not read, until a
        // segment begins one.
        let mut s = RecordStream::default();
        s.push(1, &[0x80, 0, 0, 1, 0x6a, 0x01, 0], |_| n += 1);
        s.push(8, &a[3..], |_| n += 1);
        assert_eq!((n, s.buffered()), (1, 0));
        s.push(8 + a.len() as u32 - 3, &b, |_| n += 1);
        assert_eq!(n, 2);
        // After records, a mark with the reserved bit loses the place.
        let p = s.push(
            8 + (a.len() + b.len()) as u32 - 3,
            &[0x80, 0, 0, 1, 0],
            |_| n += 1,
        );
        assert!(p.unread);
    }

    #[test]
    fn a_long_record_is_passed_over_and_a_gap_inside_it_keeps_the_place() {
        let mut s = RecordStream::default();
        let mut long = ((MAX_RECORD + 10) as u32).to_be_bytes().to_vec();
        long.extend([0x6b, 0x83, 0x01, 0x00, 0x05]);
        long.extend(vec![0x6b; MAX_RECORD + 5]);
        let mut n = 0;
        let p = s.push(0, &long[..1000], |_| n += 1);
        assert_eq!(p.skipped, 1);
        // 5000 bytes lost inside the long record.
        s.push(6000, &long[6000..], |_| n += 1);
        assert!(s.buffered() == 0);
        let next = record(&krb_error(7, "R", &["cifs", "x"]));
        let p = s.push(long.len() as u32, &next, |_| n += 1);
        assert!(!p.unread);
        assert_eq!(n, 1);
        // A gap outside a long record: sync is lost, and found again at a record.
        let p = s.push(1_000_000, &next[2..], |_| n += 1);
        assert!(p.unread);
        s.push(1_000_000 + next.len() as u32 - 2, &next, |_| n += 1);
        assert_eq!(n, 2);
    }
}
