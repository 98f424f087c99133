//! LDAP (RFC 4511) and CLDAP messages: just enough of an LDAPMessage to say what it is — its
//! messageID and operation; a BindRequest's version, name and authentication choice (simple, SASL
//! and its mechanism, Microsoft's "Sicily" NTLM choices); a SearchRequest's base object, scope and
//! requested attributes (the CLDAP "LDAP ping" asks for `Netlogon`); a SearchResultEntry's
//! attributes; an ExtendedRequest's OID (StartTLS) — and the NETLOGON_SAM_LOGON_RESPONSE_EX a
//! domain controller answers an LDAP ping with ([MS-ADTS] 6.3.1.9).
//!
//! BER elements are read with `spnego::tlv`: single-byte tags (every LDAP tag is one), definite
//! lengths of up to 4 bytes, each checked against its bytes (RFC 4511 5.1 forbids the indefinite
//! form). The walk follows LDAPMessage's fixed shape and never recurses on wire input: a search
//! filter is kept raw, lists are lazy iterators that check each element as they reach it.
//! [`MessageStream`] cuts a TCP stream into messages and holds at most [`MAX_MESSAGE`] bytes; a
//! longer message is passed over unread. Compressed names in a Netlogon response follow at most
//! [`MAX_POINTERS`] pointers and stop at [`MAX_NAME_CHARS`] characters.

use super::spnego::{tlv, Tlv};
use super::{Error, Result};

/// The longest message a [`MessageStream`] holds (a bind carrying a Kerberos ticket fits).
pub const MAX_MESSAGE: usize = 16 << 10;
/// Compression pointers followed in one Netlogon name at most.
pub const MAX_POINTERS: usize = 16;
/// Characters of one decoded name (a DNS name is at most 255) or attribute text at most.
pub const MAX_NAME_CHARS: usize = 255;
/// The StartTLS extended operation's OID (RFC 4511 4.14.1).
pub const STARTTLS_OID: &[u8] = b"1.3.6.1.4.1.1466.20037";

/// protocolOp tags (RFC 4511 4.2 to 4.14: [APPLICATION n], constructed unless noted).
pub mod tag {
    pub const BIND_REQUEST: u8 = 0x60;
    pub const BIND_RESPONSE: u8 = 0x61;
    /// Primitive (NULL).
    pub const UNBIND_REQUEST: u8 = 0x42;
    pub const SEARCH_REQUEST: u8 = 0x63;
    pub const SEARCH_RESULT_ENTRY: u8 = 0x64;
    pub const SEARCH_RESULT_DONE: u8 = 0x65;
    pub const MODIFY_REQUEST: u8 = 0x66;
    pub const MODIFY_RESPONSE: u8 = 0x67;
    pub const ADD_REQUEST: u8 = 0x68;
    pub const ADD_RESPONSE: u8 = 0x69;
    /// Primitive (LDAPDN).
    pub const DEL_REQUEST: u8 = 0x4a;
    pub const DEL_RESPONSE: u8 = 0x6b;
    pub const MODIFY_DN_REQUEST: u8 = 0x6c;
    pub const MODIFY_DN_RESPONSE: u8 = 0x6d;
    pub const COMPARE_REQUEST: u8 = 0x6e;
    pub const COMPARE_RESPONSE: u8 = 0x6f;
    /// Primitive (MessageID).
    pub const ABANDON_REQUEST: u8 = 0x50;
    pub const SEARCH_RESULT_REFERENCE: u8 = 0x73;
    pub const EXTENDED_REQUEST: u8 = 0x77;
    pub const EXTENDED_RESPONSE: u8 = 0x78;
    pub const INTERMEDIATE_RESPONSE: u8 = 0x79;
}

/// The name of a protocolOp tag as RFC 4511 spells it, `None` for a tag it does not define.
pub fn op_name(t: u8) -> Option<&'static str> {
    Some(match t {
        tag::BIND_REQUEST => "bindRequest",
        tag::BIND_RESPONSE => "bindResponse",
        tag::UNBIND_REQUEST => "unbindRequest",
        tag::SEARCH_REQUEST => "searchRequest",
        tag::SEARCH_RESULT_ENTRY => "searchResEntry",
        tag::SEARCH_RESULT_DONE => "searchResDone",
        tag::MODIFY_REQUEST => "modifyRequest",
        tag::MODIFY_RESPONSE => "modifyResponse",
        tag::ADD_REQUEST => "addRequest",
        tag::ADD_RESPONSE => "addResponse",
        tag::DEL_REQUEST => "delRequest",
        tag::DEL_RESPONSE => "delResponse",
        tag::MODIFY_DN_REQUEST => "modDNRequest",
        tag::MODIFY_DN_RESPONSE => "modDNResponse",
        tag::COMPARE_REQUEST => "compareRequest",
        tag::COMPARE_RESPONSE => "compareResponse",
        tag::ABANDON_REQUEST => "abandonRequest",
        tag::SEARCH_RESULT_REFERENCE => "searchResRef",
        tag::EXTENDED_REQUEST => "extendedReq",
        tag::EXTENDED_RESPONSE => "extendedResp",
        tag::INTERMEDIATE_RESPONSE => "intermediateResponse",
        _ => return None,
    })
}

/// How a BindRequest authenticates (RFC 4511 4.2; [MS-ADTS] 5.1.1.1.3 for the Sicily choices).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth<'a> {
    /// [0] simple: the password travels as it is (empty: an anonymous or unauthenticated bind).
    Simple { password: &'a [u8] },
    /// [3] SaslCredentials.
    Sasl {
        mechanism: &'a [u8],
        credentials: Option<&'a [u8]>,
    },
    /// [9] sicilyPackageDiscovery: which packages the server offers.
    SicilyDiscovery,
    /// [10] sicilyNegotiate: an NTLMSSP NEGOTIATE message.
    SicilyNegotiate(&'a [u8]),
    /// [11] sicilyResponse: an NTLMSSP AUTHENTICATE message.
    SicilyResponse(&'a [u8]),
    /// Another context tag.
    Other(u8),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BindRequest<'a> {
    pub version: i64,
    pub name: &'a [u8],
    pub auth: Auth<'a>,
}

/// The scope of a search (RFC 4511 4.5.1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    BaseObject,
    SingleLevel,
    WholeSubtree,
    Other(i64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SearchRequest<'a> {
    pub base: &'a [u8],
    pub scope: Scope,
    /// The filter, raw (tag and content).
    pub filter: Tlv<'a>,
    attributes: &'a [u8],
}

impl<'a> SearchRequest<'a> {
    /// The attribute descriptions asked for, each checked as it is reached.
    pub fn attributes(&self) -> Strings<'a> {
        Strings(self.attributes)
    }

    /// Whether the search asks for `name` (case-insensitively, as LDAP compares descriptions).
    pub fn asks_for(&self, name: &[u8]) -> bool {
        self.attributes()
            .any(|a| a.is_ok_and(|a| a.eq_ignore_ascii_case(name)))
    }

    /// An LDAP ping ([MS-ADTS] 6.3.3): a base-object search of the root DSE for `Netlogon`.
    pub fn is_ping(&self) -> bool {
        self.base.is_empty() && self.scope == Scope::BaseObject && self.asks_for(b"Netlogon")
    }
}

/// OCTET STRINGs of a SEQUENCE OF (or SET OF) LDAPString.
#[derive(Clone, Copy, Debug)]
pub struct Strings<'a>(&'a [u8]);

impl<'a> Iterator for Strings<'a> {
    type Item = Result<&'a [u8]>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        Some(match tlv(self.0) {
            Ok(t) if t.tag == 0x04 => {
                self.0 = t.rest;
                Ok(t.value)
            }
            Ok(_) => {
                self.0 = &[];
                Err(Error::Malformed("LDAP string is not an OCTET STRING"))
            }
            Err(e) => {
                self.0 = &[];
                Err(e)
            }
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SearchEntry<'a> {
    pub object: &'a [u8],
    attributes: &'a [u8],
}

impl<'a> SearchEntry<'a> {
    /// The entry's attributes: (type, values), each checked as it is reached.
    pub fn attributes(&self) -> Attributes<'a> {
        Attributes(self.attributes)
    }

    /// The first value of attribute `name` (case-insensitive), if the entry has it.
    pub fn value(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.attributes()
            .map_while(Result::ok)
            .find(|(t, _)| t.eq_ignore_ascii_case(name))
            .and_then(|(_, mut v)| v.next()?.ok())
    }
}

/// PartialAttributeList: SEQUENCE OF SEQUENCE { type, vals SET OF value }.
#[derive(Clone, Copy, Debug)]
pub struct Attributes<'a>(&'a [u8]);

impl<'a> Iterator for Attributes<'a> {
    type Item = Result<(&'a [u8], Strings<'a>)>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        let r = (|| {
            let a = expect(self.0, 0x30, "LDAP attribute is not a SEQUENCE")?;
            self.0 = a.rest;
            let ty = expect(a.value, 0x04, "LDAP attribute type is not an OCTET STRING")?;
            let vals = expect(ty.rest, 0x31, "LDAP attribute values are not a SET")?;
            Ok((ty.value, Strings(vals.value)))
        })();
        if r.is_err() {
            self.0 = &[];
        }
        Some(r)
    }
}

/// The operation of a message, with the fields read for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op<'a> {
    Bind(BindRequest<'a>),
    /// A response carrying an LDAPResult (bind, search done, modify, …): its resultCode.
    Result {
        tag: u8,
        code: i64,
    },
    Search(SearchRequest<'a>),
    SearchEntry(SearchEntry<'a>),
    Extended {
        oid: &'a [u8],
    },
    ExtendedResponse {
        code: i64,
        oid: Option<&'a [u8]>,
    },
    /// Another operation RFC 4511 defines (unbind, abandon, add, …), not read further.
    Other(u8),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message<'a> {
    pub id: i64,
    pub tag: u8,
    pub op: Op<'a>,
}

impl Message<'_> {
    /// The operation's name (`bindRequest`, `searchResEntry`, …).
    pub fn name(&self) -> &'static str {
        op_name(self.tag).unwrap_or("unknown")
    }
}

fn expect<'a>(b: &'a [u8], tag: u8, what: &'static str) -> Result<Tlv<'a>> {
    let t = tlv(b)?;
    if t.tag != tag {
        return Err(Error::Malformed(what));
    }
    Ok(t)
}

/// A BER INTEGER or ENUMERATED content of 1 to 8 bytes, two's complement.
fn ber_int(v: &[u8]) -> Result<i64> {
    if v.is_empty() || v.len() > 8 {
        return Err(Error::Malformed("LDAP integer length"));
    }
    let neg = v[0] & 0x80 != 0;
    let start = if neg { -1i64 } else { 0 };
    Ok(v.iter().fold(start, |n, &b| (n << 8) | i64::from(b)))
}

fn int_of<'a>(b: &'a [u8], tag: u8, what: &'static str) -> Result<(i64, &'a [u8])> {
    let t = expect(b, tag, what)?;
    Ok((ber_int(t.value)?, t.rest))
}

/// The length of the BER element starting `b` (header and content), `Ok(None)` while `b` is too
/// short to say; [`Error::NotSmb`] when `b` does not start an LDAPMessage (a SEQUENCE).
pub fn message_len(b: &[u8]) -> Result<Option<usize>> {
    match b.first() {
        None => return Ok(None),
        Some(0x30) => {}
        Some(_) => return Err(Error::NotSmb),
    }
    match tlv(b) {
        Ok(t) => Ok(Some(b.len() - t.rest.len())),
        Err(Error::Truncated { .. }) => {
            // Enough for the header? Then the length is known.
            let Some(&first) = b.get(1) else {
                return Ok(None);
            };
            let (len, head) = match first {
                0..=0x7f => (usize::from(first), 2),
                0x81..=0x84 => {
                    let n = usize::from(first & 0x7f);
                    let Some(bytes) = b.get(2..2 + n) else {
                        return Ok(None);
                    };
                    (
                        bytes.iter().fold(0usize, |l, &x| (l << 8) | usize::from(x)),
                        2 + n,
                    )
                }
                _ => return Err(Error::Malformed("LDAP message length")),
            };
            head.checked_add(len)
                .map(Some)
                .ok_or(Error::Malformed("LDAP message length overflows"))
        }
        Err(e) => Err(e),
    }
}

impl<'a> Message<'a> {
    /// One LDAPMessage, which must fill `b` (a datagram, or a message cut from a stream).
    pub fn parse(b: &'a [u8]) -> Result<Message<'a>> {
        let m = expect(b, 0x30, "LDAPMessage is not a SEQUENCE")?;
        if !m.rest.is_empty() {
            return Err(Error::Malformed("bytes after the LDAPMessage"));
        }
        let (id, rest) = int_of(m.value, 0x02, "LDAP messageID is not an INTEGER")?;
        if !(0..=i64::from(i32::MAX)).contains(&id) {
            return Err(Error::Malformed("LDAP messageID out of range"));
        }
        let op = tlv(rest)?;
        // What may follow: controls [0].
        if !op.rest.is_empty() && op.rest[0] != 0xa0 {
            return Err(Error::Malformed(
                "LDAPMessage has bytes after its operation",
            ));
        }
        let name = op_name(op.tag).ok_or(Error::Malformed("LDAP operation tag"))?;
        let v = op.value;
        let parsed = match op.tag {
            tag::BIND_REQUEST => Op::Bind(bind_request(v)?),
            tag::SEARCH_REQUEST => Op::Search(search_request(v)?),
            tag::SEARCH_RESULT_ENTRY => {
                let object = expect(v, 0x04, "LDAP objectName is not an OCTET STRING")?;
                let attrs = expect(object.rest, 0x30, "LDAP attributes are not a SEQUENCE")?;
                Op::SearchEntry(SearchEntry {
                    object: object.value,
                    attributes: attrs.value,
                })
            }
            tag::EXTENDED_REQUEST => {
                let oid = expect(v, 0x80, "LDAP extended request has no requestName")?;
                Op::Extended { oid: oid.value }
            }
            tag::EXTENDED_RESPONSE => {
                let (code, rest) = ldap_result(v)?;
                let mut oid = None;
                let mut r = rest;
                // Optional referral [3], then responseName [10].
                while !r.is_empty() {
                    let t = tlv(r)?;
                    if t.tag == 0x8a {
                        oid = Some(t.value);
                    }
                    r = t.rest;
                }
                Op::ExtendedResponse { code, oid }
            }
            tag::BIND_RESPONSE
            | tag::SEARCH_RESULT_DONE
            | tag::MODIFY_RESPONSE
            | tag::ADD_RESPONSE
            | tag::DEL_RESPONSE
            | tag::MODIFY_DN_RESPONSE
            | tag::COMPARE_RESPONSE => Op::Result {
                tag: op.tag,
                code: ldap_result(v)?.0,
            },
            t => Op::Other(t),
        };
        let _ = name;
        Ok(Message {
            id,
            tag: op.tag,
            op: parsed,
        })
    }
}

/// An LDAPResult's resultCode, matchedDN and diagnosticMessage; returns the code and what follows.
fn ldap_result(v: &[u8]) -> Result<(i64, &[u8])> {
    let (code, rest) = int_of(v, 0x0a, "LDAP resultCode is not ENUMERATED")?;
    let dn = expect(rest, 0x04, "LDAP matchedDN is not an OCTET STRING")?;
    let diag = expect(
        dn.rest,
        0x04,
        "LDAP diagnosticMessage is not an OCTET STRING",
    )?;
    Ok((code, diag.rest))
}

fn bind_request(v: &[u8]) -> Result<BindRequest<'_>> {
    let (version, rest) = int_of(v, 0x02, "LDAP bind version is not an INTEGER")?;
    let name = expect(rest, 0x04, "LDAP bind name is not an OCTET STRING")?;
    let a = tlv(name.rest)?;
    let auth = match a.tag {
        0x80 => Auth::Simple { password: a.value },
        0xa3 => {
            let m = expect(a.value, 0x04, "SASL mechanism is not an OCTET STRING")?;
            let credentials = if m.rest.is_empty() {
                None
            } else {
                Some(expect(m.rest, 0x04, "SASL credentials are not an OCTET STRING")?.value)
            };
            Auth::Sasl {
                mechanism: m.value,
                credentials,
            }
        }
        0x89 => Auth::SicilyDiscovery,
        0x8a => Auth::SicilyNegotiate(a.value),
        0x8b => Auth::SicilyResponse(a.value),
        t if t & 0xc0 == 0x80 => Auth::Other(t),
        _ => {
            return Err(Error::Malformed(
                "LDAP bind authentication is not a context tag",
            ))
        }
    };
    Ok(BindRequest {
        version,
        name: name.value,
        auth,
    })
}

fn search_request(v: &[u8]) -> Result<SearchRequest<'_>> {
    let base = expect(v, 0x04, "LDAP search base is not an OCTET STRING")?;
    let (scope, rest) = int_of(base.rest, 0x0a, "LDAP search scope is not ENUMERATED")?;
    let (_deref, rest) = int_of(rest, 0x0a, "LDAP derefAliases is not ENUMERATED")?;
    let (_size, rest) = int_of(rest, 0x02, "LDAP sizeLimit is not an INTEGER")?;
    let (_time, rest) = int_of(rest, 0x02, "LDAP timeLimit is not an INTEGER")?;
    let types = expect(rest, 0x01, "LDAP typesOnly is not a BOOLEAN")?;
    let filter = tlv(types.rest)?;
    if filter.tag & 0xc0 != 0x80 {
        return Err(Error::Malformed("LDAP filter is not a context tag"));
    }
    let attrs = expect(
        filter.rest,
        0x30,
        "LDAP search attributes are not a SEQUENCE",
    )?;
    Ok(SearchRequest {
        base: base.value,
        scope: match scope {
            0 => Scope::BaseObject,
            1 => Scope::SingleLevel,
            2 => Scope::WholeSubtree,
            s => Scope::Other(s),
        },
        filter,
        attributes: attrs.value,
    })
}

/// Text of a wire string for evidence: UTF-8 where it is, `\xNN` otherwise, control characters
/// escaped, cut at [`MAX_NAME_CHARS`] characters with `…`.
pub fn text(b: &[u8]) -> String {
    let mut s = String::new();
    push_text(&mut s, b, MAX_NAME_CHARS);
    s
}

/// Appends the text of `b` (as [`text`] shows it) to `s` while `s` has fewer than `max`
/// characters, then `…` if anything was left out; returns whether everything fit.
fn push_text(s: &mut String, b: &[u8], max: usize) -> bool {
    // Printable ASCII, what names and attributes mostly are, is its own text: a character a byte,
    // nothing to escape.
    if let Some(ascii) = printable_ascii(b) {
        let room = max.saturating_sub(s.chars().count());
        if ascii.len() <= room {
            s.push_str(ascii);
            return true;
        }
        s.push_str(&ascii[..room]);
        s.push('…');
        return false;
    }
    push_escaped(s, b, max)
}

/// `b` as text when every byte is printable ASCII (space to `~`).
fn printable_ascii(b: &[u8]) -> Option<&str> {
    if b.iter().all(|c| (0x20..0x7f).contains(c)) {
        std::str::from_utf8(b).ok()
    } else {
        None
    }
}

/// [`push_text`] for any bytes: invalid UTF-8 replaced, control characters escaped.
fn push_escaped(s: &mut String, b: &[u8], max: usize) -> bool {
    // A character is at most 4 bytes: what lies past the cap's bytes is never shown.
    let b = &b[..b.len().min(4 * max + 4)];
    let mut n = s.chars().count();
    for c in String::from_utf8_lossy(b).chars() {
        let escaped = c.is_control().then(|| c.escape_default());
        for c in escaped
            .into_iter()
            .flatten()
            .chain((!c.is_control()).then_some(c))
        {
            if n >= max {
                s.push('…');
                return false;
            }
            s.push(c);
            n += 1;
        }
    }
    true
}

// ── NETLOGON_SAM_LOGON_RESPONSE_EX ──────────────────────────────────────────────────────────

/// LOGON_SAM_LOGON_RESPONSE_EX ([MS-ADTS] 6.3.1.9, opcodes in 6.3.1.2).
pub const LOGON_SAM_LOGON_RESPONSE_EX: u16 = 23;
/// LOGON_SAM_PAUSE_RESPONSE_EX: the Net Logon service is paused.
pub const LOGON_SAM_PAUSE_RESPONSE_EX: u16 = 24;
/// LOGON_SAM_USER_UNKNOWN_EX: the DC answers but does not know the user asked about.
pub const LOGON_SAM_USER_UNKNOWN_EX: u16 = 25;

/// NETLOGON_NT_VERSION_5EX_WITH_IP ([MS-ADTS] 6.3.1.1): DcSockAddr is present.
const NT_VERSION_5EX_WITH_IP: u32 = 0x0000_0008;
/// NETLOGON_NT_VERSION_WITH_CLOSEST_SITE: NextClosestSiteName is present.
const NT_VERSION_WITH_CLOSEST_SITE: u32 = 0x0000_0010;

/// The DS_FLAG bits of a response ([MS-ADTS] 6.3.1.2; [MS-NRPC] 2.2.1.2.1), with short names.
pub const DS_FLAGS: &[(u32, &str)] = &[
    (0x0000_0001, "PDC"),
    (0x0000_0004, "GC"),
    (0x0000_0008, "LDAP"),
    (0x0000_0010, "DS"),
    (0x0000_0020, "KDC"),
    (0x0000_0040, "TIMESERV"),
    (0x0000_0080, "CLOSEST"),
    (0x0000_0100, "WRITABLE"),
    (0x0000_0200, "GOOD_TIMESERV"),
    (0x0000_0400, "NDNC"),
    (0x0000_0800, "RODC"),
    (0x0000_1000, "FULL_SECRET"),
    (0x0000_2000, "ADWS"),
    (0x0000_4000, "DS8"),
    (0x0000_8000, "DS9"),
    (0x0001_0000, "DS10"),
    (0x0002_0000, "KEY_LIST"),
    (0x2000_0000, "DNS_CONTROLLER"),
    (0x4000_0000, "DNS_DOMAIN"),
    (0x8000_0000, "DNS_FOREST"),
];

/// The names of the set flags, space-separated, in [`DS_FLAGS`] order; unnamed bits as hex.
pub fn flags_text(flags: u32) -> String {
    use std::fmt::Write;
    let mut text = String::with_capacity(64);
    let mut rest = flags;
    for &(bit, name) in DS_FLAGS {
        if flags & bit != 0 {
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(name);
            rest &= !bit;
        }
    }
    if rest != 0 {
        if !text.is_empty() {
            text.push(' ');
        }
        // Writing to a String cannot fail.
        let _ = write!(text, "0x{rest:x}");
    }
    text
}

/// A domain controller's answer to an LDAP ping (NETLOGON_SAM_LOGON_RESPONSE_EX).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogonResponse {
    pub opcode: u16,
    pub flags: u32,
    pub forest: String,
    pub domain: String,
    pub host: String,
    pub netbios_domain: String,
    pub netbios_host: String,
    pub user: String,
    pub dc_site: String,
    pub client_site: String,
    pub next_closest_site: Option<String>,
    pub nt_version: u32,
}

impl LogonResponse {
    /// The value of the `Netlogon` attribute. Responses of other shapes (the pre-Windows 2000
    /// NETLOGON_SAM_LOGON_RESPONSE of opcode 19, …) are [`Error::NotSmb`].
    pub fn parse(b: &[u8]) -> Result<LogonResponse> {
        let mut c = super::Cursor::new(b);
        let opcode = c.u16()?;
        if !matches!(
            opcode,
            LOGON_SAM_LOGON_RESPONSE_EX | LOGON_SAM_PAUSE_RESPONSE_EX | LOGON_SAM_USER_UNKNOWN_EX
        ) {
            return Err(Error::NotSmb);
        }
        let _sbz = c.u16()?;
        let flags = c.u32()?;
        let _guid = c.bytes(16)?;
        let mut pos = c.pos();
        let name = |pos: &mut usize| -> Result<String> {
            let (s, next) = dns_name(b, *pos)?;
            *pos = next;
            Ok(s)
        };
        let forest = name(&mut pos)?;
        let domain = name(&mut pos)?;
        let host = name(&mut pos)?;
        let netbios_domain = name(&mut pos)?;
        let netbios_host = name(&mut pos)?;
        let user = name(&mut pos)?;
        let dc_site = name(&mut pos)?;
        let client_site = name(&mut pos)?;
        // The version is the structure's last 8 bytes but 4 (NtVersion, LmNtToken, Lm20Token).
        let tail = b
            .len()
            .checked_sub(8)
            .filter(|&t| t >= pos)
            .ok_or(Error::Truncated { need: pos + 8 })?;
        let nt_version = u32::from_le_bytes(b[tail..tail + 4].try_into().expect("4 bytes"));
        if nt_version & NT_VERSION_5EX_WITH_IP != 0 {
            let size = usize::from(*b.get(pos).ok_or(Error::Truncated { need: pos + 1 })?);
            pos = pos
                .checked_add(1 + size)
                .filter(|&p| p <= tail)
                .ok_or(Error::Malformed("Netlogon DcSockAddr past the end"))?;
        }
        let next_closest_site = if nt_version & NT_VERSION_WITH_CLOSEST_SITE != 0 && pos < tail {
            Some(name(&mut pos)?)
        } else {
            None
        };
        Ok(LogonResponse {
            opcode,
            flags,
            forest,
            domain,
            host,
            netbios_domain,
            netbios_host,
            user,
            dc_site,
            client_site,
            next_closest_site,
            nt_version,
        })
    }
}

/// A compressed DNS-style name (RFC 1035 4.1.4) at `at` in `b`: its dotted text and where the
/// next field begins. Pointers (offsets from the start of `b`) are followed at most
/// [`MAX_POINTERS`] times; the text stops growing at [`MAX_NAME_CHARS`] characters.
pub fn dns_name(b: &[u8], at: usize) -> Result<(String, usize)> {
    let mut out = String::new();
    let mut pos = at;
    let mut next = None;
    let mut jumps = 0;
    let mut cut = false;
    loop {
        let &len = b.get(pos).ok_or(Error::Truncated { need: pos + 1 })?;
        match len {
            0 => {
                return Ok((out, next.unwrap_or(pos + 1)));
            }
            0xc0..=0xff => {
                let &lo = b.get(pos + 1).ok_or(Error::Truncated { need: pos + 2 })?;
                jumps += 1;
                if jumps > MAX_POINTERS {
                    return Err(Error::Malformed("Netlogon name pointers loop"));
                }
                next.get_or_insert(pos + 2);
                pos = (usize::from(len & 0x3f) << 8) | usize::from(lo);
            }
            0x40..=0xbf => return Err(Error::Malformed("Netlogon name label type")),
            _ => {
                let label = super::slice(b, pos + 1, usize::from(len))?;
                if !cut {
                    if !out.is_empty() {
                        if out.chars().count() >= MAX_NAME_CHARS {
                            out.push('…');
                            cut = true;
                            pos += 1 + usize::from(len);
                            continue;
                        }
                        out.push('.');
                    }
                    cut = !push_text(&mut out, label, MAX_NAME_CHARS);
                }
                pos += 1 + usize::from(len);
            }
        }
    }
}

// ── TCP streams ─────────────────────────────────────────────────────────────────────────────

/// One direction of an LDAP-over-TCP connection, cut into messages. Holds at most
/// [`MAX_MESSAGE`] bytes; a longer message is passed over. A gap, or bytes where a message should
/// begin that do not begin one (SASL-wrapped traffic after a signing bind, TLS after StartTLS),
/// stops the stream: LDAP has no marker to find its place again.
#[derive(Debug, Default)]
pub struct MessageStream {
    buf: Vec<u8>,
    next_seq: Option<u32>,
    skip: usize,
    stopped: bool,
}

/// What [`MessageStream::push`] saw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pushed {
    /// Messages longer than [`MAX_MESSAGE`] passed over.
    pub skipped: u32,
    /// The stream stopped at this segment (a gap, or bytes that are not an LDAPMessage).
    pub stopped: bool,
}

impl MessageStream {
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The stream has stopped: nothing more is read.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    fn stop(&mut self, out: &mut Pushed) {
        self.stopped = true;
        self.buf = Vec::new();
        out.stopped = true;
    }

    /// Adds a segment; calls `each` with every message it completes.
    pub fn push(&mut self, seq: u32, data: &[u8], mut each: impl FnMut(&[u8])) -> Pushed {
        let mut out = Pushed::default();
        if data.is_empty() || self.stopped {
            return out;
        }
        // The stream continues after this segment's last byte, whatever part of it is new.
        let end = seq.wrapping_add(data.len() as u32);
        let mut data = match super::in_sequence(self.next_seq, seq, data) {
            super::InSequence::Next(data) => data,
            super::InSequence::Old => return out,
            super::InSequence::Gap { gap, data } => {
                if self.skip > gap {
                    self.skip -= gap;
                } else {
                    self.stop(&mut out);
                    return out;
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
        // Whole messages straight from the segment while nothing is held.
        if self.buf.is_empty() {
            loop {
                match message_len(data) {
                    Ok(Some(n)) if n <= data.len() && n <= MAX_MESSAGE => {
                        each(&data[..n]);
                        data = &data[n..];
                        if data.is_empty() {
                            return out;
                        }
                    }
                    Ok(Some(n)) if n > MAX_MESSAGE => {
                        out.skipped += 1;
                        if n <= data.len() {
                            data = &data[n..];
                            if data.is_empty() {
                                return out;
                            }
                        } else {
                            self.skip = n - data.len();
                            return out;
                        }
                    }
                    Ok(_) => break,
                    Err(_) => {
                        self.stop(&mut out);
                        return out;
                    }
                }
            }
        }
        self.buf.extend_from_slice(data);
        loop {
            match message_len(&self.buf) {
                Ok(Some(n)) if n > MAX_MESSAGE => {
                    out.skipped += 1;
                    if n <= self.buf.len() {
                        self.buf.drain(..n);
                    } else {
                        self.skip = n - self.buf.len();
                        self.buf = Vec::new();
                        return out;
                    }
                }
                Ok(Some(n)) if n <= self.buf.len() => {
                    each(&self.buf[..n]);
                    self.buf.drain(..n);
                }
                Ok(_) => {
                    if self.buf.is_empty() {
                        self.buf = Vec::new();
                    }
                    return out;
                }
                Err(_) => {
                    self.stop(&mut out);
                    return out;
                }
            }
        }
    }
}

#[cfg(test)]
pub mod build {
    //! Hand-built LDAP messages for tests (BER with minimal lengths).

    /// One element: tag, length, content.
    pub fn el(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        let n = content.len();
        if n < 0x80 {
            v.push(n as u8);
        } else if n < 0x100 {
            v.extend([0x81, n as u8]);
        } else {
            v.push(0x82);
            v.extend((n as u16).to_be_bytes());
        }
        v.extend_from_slice(content);
        v
    }

    pub fn int(tag: u8, n: u32) -> Vec<u8> {
        let b = n.to_be_bytes();
        let mut i = 0;
        while i < 3 && b[i] == 0 && b[i + 1] & 0x80 == 0 {
            i += 1;
        }
        el(tag, &b[i..])
    }

    pub fn octets(s: &[u8]) -> Vec<u8> {
        el(0x04, s)
    }

    /// An LDAPMessage of `id` with `op` (tag and content).
    pub fn message(id: u32, op_tag: u8, op: &[u8]) -> Vec<u8> {
        let mut body = int(0x02, id);
        body.extend(el(op_tag, op));
        el(0x30, &body)
    }

    /// A BindRequest's content with an authentication choice `auth` (tag and content).
    pub fn bind(name: &str, auth_tag: u8, auth: &[u8]) -> Vec<u8> {
        let mut v = int(0x02, 3);
        v.extend(octets(name.as_bytes()));
        v.extend(el(auth_tag, auth));
        v
    }

    pub fn sasl(mech: &str, creds: Option<&[u8]>) -> Vec<u8> {
        let mut v = octets(mech.as_bytes());
        if let Some(c) = creds {
            v.extend(octets(c));
        }
        v
    }

    /// A SearchRequest's content: base, scope, an equality filter, attributes.
    pub fn search(base: &str, scope: u32, filter: &[u8], attrs: &[&str]) -> Vec<u8> {
        let mut v = octets(base.as_bytes());
        v.extend(int(0x0a, scope));
        v.extend(int(0x0a, 0));
        v.extend(int(0x02, 0));
        v.extend(int(0x02, 0));
        v.extend(el(0x01, &[0]));
        v.extend_from_slice(filter);
        let list: Vec<u8> = attrs.iter().flat_map(|a| octets(a.as_bytes())).collect();
        v.extend(el(0x30, &list));
        v
    }

    /// A CLDAP ping filter: (&(DnsDomain=d)(NtVer=\x16\0\0\0)).
    pub fn ping_filter(domain: &str) -> Vec<u8> {
        let eq = |a: &str, v: &[u8]| {
            let mut c = octets(a.as_bytes());
            c.extend(octets(v));
            el(0xa3, &c)
        };
        let mut and = eq("DnsDomain", domain.as_bytes());
        and.extend(eq("NtVer", &[0x16, 0, 0, 0]));
        el(0xa0, &and)
    }

    /// A SearchResultEntry's content with one attribute of one value.
    pub fn entry(object: &str, attr: &str, value: &[u8]) -> Vec<u8> {
        let mut v = octets(object.as_bytes());
        let mut a = octets(attr.as_bytes());
        a.extend(el(0x31, &octets(value)));
        v.extend(el(0x30, &el(0x30, &a)));
        v
    }

    /// An LDAPResult's content.
    pub fn result(code: u32) -> Vec<u8> {
        let mut v = int(0x0a, code);
        v.extend(octets(b""));
        v.extend(octets(b""));
        v
    }

    /// A name as uncompressed labels.
    pub fn labels(name: &str) -> Vec<u8> {
        let mut v = Vec::new();
        for l in name.split('.').filter(|l| !l.is_empty()) {
            v.push(l.len() as u8);
            v.extend_from_slice(l.as_bytes());
        }
        v.push(0);
        v
    }

    /// A NETLOGON_SAM_LOGON_RESPONSE_EX (NtVersion 5EX, no socket address), the domain name
    /// given once and the host name compressed against it.
    pub fn logon_response(
        flags: u32,
        domain: &str,
        host: &str,
        netbios: &str,
        site: &str,
    ) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend(23u16.to_le_bytes());
        v.extend(0u16.to_le_bytes());
        v.extend(flags.to_le_bytes());
        v.extend([0x11; 16]);
        let domain_at = v.len();
        v.extend(labels(domain)); // forest
        v.extend([0xc0 | (domain_at >> 8) as u8, domain_at as u8]); // domain → forest
        let short = host.split('.').next().unwrap_or_default();
        v.push(short.len() as u8);
        v.extend_from_slice(short.as_bytes());
        v.extend([0xc0 | (domain_at >> 8) as u8, domain_at as u8]); // host: short + domain
        v.extend(labels(netbios));
        let nb_host = short.to_ascii_uppercase();
        v.extend(labels(&nb_host));
        v.push(0); // user
        let site_at = v.len();
        v.extend(labels(site)); // DC site
        v.extend([0xc0 | (site_at >> 8) as u8, site_at as u8]); // client site
        v.extend(5u32.to_le_bytes());
        v.extend(0xffffu16.to_le_bytes());
        v.extend(0xffffu16.to_le_bytes());
        v
    }
}

#[cfg(test)]
mod tests {
    use super::build::*;
    use super::*;

    #[test]
    fn binds_are_read_with_their_authentication() {
        let m = message(
            1,
            0x60,
            &bind("cn=admin,dc=example,dc=com", 0x80, b"secret"),
        );
        let p = Message::parse(&m).unwrap();
        assert_eq!((p.id, p.name()), (1, "bindRequest"));
        let Op::Bind(b) = p.op else { panic!() };
        assert_eq!(b.version, 3);
        assert_eq!(b.name, b"cn=admin,dc=example,dc=com");
        assert_eq!(
            b.auth,
            Auth::Simple {
                password: b"secret"
            }
        );
        let m = message(
            2,
            0x60,
            &bind("", 0xa3, &sasl("GSS-SPNEGO", Some(b"\x60\x01\x00"))),
        );
        let Op::Bind(b) = Message::parse(&m).unwrap().op else {
            panic!()
        };
        assert_eq!(
            b.auth,
            Auth::Sasl {
                mechanism: b"GSS-SPNEGO",
                credentials: Some(b"\x60\x01\x00")
            }
        );
        let m = message(3, 0x60, &bind("", 0xa3, &sasl("EXTERNAL", None)));
        let Op::Bind(b) = Message::parse(&m).unwrap().op else {
            panic!()
        };
        assert_eq!(
            b.auth,
            Auth::Sasl {
                mechanism: b"EXTERNAL",
                credentials: None
            }
        );
        for (t, want) in [
            (0x89, Auth::SicilyDiscovery),
            (0x8a, Auth::SicilyNegotiate(b"NTLMSSP\0")),
            (0x8b, Auth::SicilyResponse(b"NTLMSSP\0")),
        ] {
            let content: &[u8] = if t == 0x89 { b"" } else { b"NTLMSSP\0" };
            let m = message(4, 0x60, &bind("", t, content));
            let Op::Bind(b) = Message::parse(&m).unwrap().op else {
                panic!()
            };
            assert_eq!(b.auth, want);
        }
    }

    #[test]
    fn searches_pings_entries_and_extended_operations() {
        let ping = message(
            5,
            0x63,
            &search("", 0, &ping_filter("corp.example"), &["Netlogon"]),
        );
        let Op::Search(s) = Message::parse(&ping).unwrap().op else {
            panic!()
        };
        assert!(s.is_ping());
        assert_eq!(s.filter.tag, 0xa0);
        let sub = message(
            6,
            0x63,
            &search("dc=corp", 2, &ping_filter("x"), &["cn", "netlogon"]),
        );
        let Op::Search(s) = Message::parse(&sub).unwrap().op else {
            panic!()
        };
        assert_eq!(s.scope, Scope::WholeSubtree);
        assert!(s.asks_for(b"CN") && !s.is_ping());
        let e = message(5, 0x64, &entry("", "netlogon", b"\x17\x00"));
        let Op::SearchEntry(e) = Message::parse(&e).unwrap().op else {
            panic!()
        };
        assert_eq!(e.value(b"Netlogon"), Some(&b"\x17\x00"[..]));
        assert_eq!(e.value(b"cn"), None);
        let x = message(1, 0x77, &el(0x80, STARTTLS_OID));
        assert_eq!(
            Message::parse(&x).unwrap().op,
            Op::Extended { oid: STARTTLS_OID }
        );
        let mut r = result(0);
        r.extend(el(0x8a, STARTTLS_OID));
        let x = message(1, 0x78, &r);
        assert_eq!(
            Message::parse(&x).unwrap().op,
            Op::ExtendedResponse {
                code: 0,
                oid: Some(STARTTLS_OID)
            }
        );
        let d = message(7, 0x61, &result(49));
        assert_eq!(
            Message::parse(&d).unwrap().op,
            Op::Result {
                tag: 0x61,
                code: 49
            }
        );
        let u = message(8, 0x42, b"");
        assert_eq!(Message::parse(&u).unwrap().name(), "unbindRequest");
    }

    #[test]
    fn what_is_not_ldap_is_refused() {
        let good = message(1, 0x60, &bind("", 0x80, b""));
        // Every truncation fails, and no prefix parses.
        for n in 0..good.len() {
            assert!(Message::parse(&good[..n]).is_err(), "{n}");
        }
        // Trailing bytes, a wrong op tag, a negative messageID, the fixture generator's noise.
        let mut long = good.clone();
        long.push(0);
        assert!(Message::parse(&long).is_err());
        assert!(Message::parse(&message(1, 0x7f, b"")).is_err());
        assert!(Message::parse(&message(0xffff_ffff, 0x42, b"")).is_err());
        assert!(Message::parse(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(Message::parse(b"\x30\x80\x02\x01\x01\x42\x00\x00\x00").is_err());
        // Attribute lists stop at the first bad element.
        let bad = SearchEntry {
            object: b"",
            attributes: &[0x30, 0x03, 0x04, 0x01, b'a', 0x30, 0x01],
        };
        assert!(bad.attributes().next().unwrap().is_err());
        assert_eq!(bad.attributes().count(), 1);
    }

    #[test]
    fn a_logon_response_is_read_with_its_compressed_names() {
        let b = logon_response(
            0x0000_f3fd,
            "corp.example",
            "dc01.corp.example",
            "CORP",
            "Default-First-Site-Name",
        );
        let r = LogonResponse::parse(&b).unwrap();
        assert_eq!(r.opcode, 23);
        assert_eq!(r.forest, "corp.example");
        assert_eq!(r.domain, "corp.example");
        assert_eq!(r.host, "dc01.corp.example");
        assert_eq!(
            (r.netbios_domain.as_str(), r.netbios_host.as_str()),
            ("CORP", "DC01")
        );
        assert_eq!(r.user, "");
        assert_eq!(r.dc_site, "Default-First-Site-Name");
        assert_eq!(r.client_site, "Default-First-Site-Name");
        assert_eq!(r.nt_version, 5);
        assert_eq!(
            flags_text(r.flags),
            "PDC GC LDAP DS KDC TIMESERV CLOSEST WRITABLE GOOD_TIMESERV FULL_SECRET ADWS DS8 DS9"
        );
        assert_eq!(flags_text(0x0100_0002), "0x1000002");
        assert_eq!(flags_text(0x8100_0005), "PDC GC DNS_FOREST 0x1000000");
        assert_eq!(flags_text(0), "");
        // Every truncation fails.
        for n in 0..b.len() {
            assert!(LogonResponse::parse(&b[..n]).is_err(), "{n}");
        }
        // Other opcodes are not this structure.
        let mut old = b.clone();
        old[0] = 19;
        assert_eq!(LogonResponse::parse(&old), Err(Error::NotSmb));
    }

    #[test]
    fn texts_are_escaped_and_capped() {
        assert_eq!(text(b"dc01\x01\xff"), "dc01\\u{1}\u{fffd}");
        let long = text(&[1u8; 4096]);
        assert_eq!(long.chars().count(), MAX_NAME_CHARS + 1);
        assert!(long.ends_with('…'));
        assert_eq!(
            text(&[b'a'; MAX_NAME_CHARS]).chars().count(),
            MAX_NAME_CHARS
        );
    }

    proptest::proptest! {
        /// The printable-ASCII shortcut appends what the general path does, cut or not, whatever
        /// the text already holds.
        #[test]
        fn ascii_text_is_appended_as_the_general_path_appends_it(
            before in "[ -~é]{0,12}",
            b in proptest::collection::vec(0x20u8..0x7f, 0..24),
            max in 0usize..30,
        ) {
            // Every such input takes the shortcut, so the comparison is of the two paths.
            proptest::prop_assert!(printable_ascii(&b).is_some());
            let (mut fast, mut general) = (before.clone(), before);
            let fit = push_text(&mut fast, &b, max);
            proptest::prop_assert_eq!(fit, push_escaped(&mut general, &b, max));
            proptest::prop_assert_eq!(fast, general);
        }
    }

    #[test]
    fn only_printable_ascii_takes_the_shortcut() {
        assert_eq!(
            printable_ascii(b"dc01.corp.example"),
            Some("dc01.corp.example")
        );
        for b in [&b"a\x1fb"[..], b"a\x7fb", b"a\xc3\xa9", b"a\n"] {
            assert_eq!(printable_ascii(b), None, "{b:?}");
        }
        assert_eq!(printable_ascii(b""), Some(""));
    }

    #[test]
    fn name_pointers_are_bounded() {
        // A pointer to itself, and two pointing at each other.
        assert!(dns_name(&[0xc0, 0x00], 0).is_err());
        assert!(dns_name(&[0xc0, 0x02, 0xc0, 0x00], 0).is_err());
        // A pointer past the end, a reserved label type.
        assert!(dns_name(&[0xc0, 0x40], 0).is_err());
        assert!(dns_name(&[0x40, 0x00], 0).is_err());
        // A chain of labels each pointing on: the text stops growing at the cap.
        let mut b = Vec::new();
        for i in 0..MAX_POINTERS as u16 {
            b.extend([1, b'a']);
            let next = (i + 1) * 4;
            b.extend([0xc0 | (next >> 8) as u8, next as u8]);
        }
        b.push(0);
        let (s, next) = dns_name(&b, 0).unwrap();
        assert_eq!(s.split('.').count(), MAX_POINTERS);
        assert_eq!(next, 4);
        // A 255-character cap on one long name of many labels.
        let mut long = Vec::new();
        for _ in 0..100 {
            long.extend([63]);
            long.extend([b'x'; 63]);
        }
        long.push(0);
        let (s, next) = dns_name(&long, 0).unwrap();
        assert_eq!(s.chars().count(), MAX_NAME_CHARS + 1);
        assert!(s.ends_with('…'));
        assert_eq!(next, long.len());
    }

    #[test]
    fn streams_reassemble_skip_long_messages_and_stop_at_what_is_not_ldap() {
        let a = message(1, 0x60, &bind("cn=x", 0x80, b"pw"));
        let b = message(2, 0x42, b"");
        let both = [a.clone(), b.clone()].concat();
        for cut in 0..=both.len() {
            let mut s = MessageStream::default();
            let mut got = Vec::new();
            s.push(100, &both[..cut], |m| got.push(m.to_vec()));
            let p = s.push(100 + cut as u32, &both[cut..], |m| got.push(m.to_vec()));
            assert_eq!(p, Pushed::default());
            assert_eq!(got, [a.clone(), b.clone()], "cut at {cut}");
            assert_eq!(s.buffered(), 0);
        }
        // A retransmission is not read twice.
        let mut s = MessageStream::default();
        let mut n = 0;
        s.push(1, &a, |_| n += 1);
        s.push(1, &a, |_| n += 1);
        assert_eq!(n, 1);
        // A message longer than the cap is passed over, in pieces, holding nothing.
        let big = message(3, 0x64, &entry("cn=big", "x", &vec![b'y'; MAX_MESSAGE]));
        let mut seq = 1 + a.len() as u32;
        for chunk in big.chunks(1460) {
            s.push(seq, chunk, |_| n += 1);
            assert!(s.buffered() <= 1460);
            seq += chunk.len() as u32;
        }
        s.push(seq, &b, |_| n += 1);
        assert_eq!(n, 2);
        // SASL-wrapped bytes (a 4-byte length first) stop the stream.
        seq += b.len() as u32;
        let p = s.push(seq, &[0, 0, 0, 5, 1, 2, 3, 4, 5], |_| n += 1);
        assert!(p.stopped && s.is_stopped());
        assert_eq!(s.buffered(), 0);
        // So does a gap.
        let mut s = MessageStream::default();
        s.push(1, &a[..5], |_| n += 1);
        assert!(s.push(1000, &a, |_| n += 1).stopped);
    }
}
