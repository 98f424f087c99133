//! Security blobs that SMB session setups carry, built byte by byte: DER (X.690) for SPNEGO
//! (RFC 4178, with Microsoft's NegTokenInit2 hints of MS-SPNG 2.2.1) and for a Kerberos AP-REQ /
//! AP-REP in their GSS-API framing (RFC 1964 section 1.1, RFC 4121 4.1), and NTLMSSP messages
//! ([MS-NLMP] 2.2.1) with an NTLMv2 response (2.2.2.8).
//!
//! Nothing here is cryptographically valid — encrypted parts, challenges, proofs and MICs are
//! deterministic random bytes — but every length, tag and offset is exact, so a decoder (or
//! Wireshark) walks the structures as it would real ones.

use crate::rng::Rng;

// ---------------------------------------------------------------------------------------------
// DER

/// One DER element: tag, definite length (short or long form), contents.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    let n = content.len();
    if n < 0x80 {
        v.push(n as u8);
    } else if n <= 0xff {
        v.extend_from_slice(&[0x81, n as u8]);
    } else if n <= 0xffff {
        v.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]);
    } else {
        assert!(n <= 0xff_ffff, "DER element too long");
        v.extend_from_slice(&[0x83, (n >> 16) as u8, (n >> 8) as u8, n as u8]);
    }
    v.extend_from_slice(content);
    v
}

fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

/// Context-specific constructed tag \[n\].
fn ctx(n: u8, content: &[u8]) -> Vec<u8> {
    tlv(0xa0 | n, content)
}

/// A small non-negative INTEGER.
fn int(v: u32) -> Vec<u8> {
    let mut b = v.to_be_bytes().to_vec();
    while b.len() > 1 && b[0] == 0 && b[1] & 0x80 == 0 {
        b.remove(0);
    }
    if b[0] & 0x80 != 0 {
        b.insert(0, 0);
    }
    tlv(0x02, &b)
}

fn general_string(s: &str) -> Vec<u8> {
    tlv(0x1b, s.as_bytes())
}

fn octets(b: &[u8]) -> Vec<u8> {
    tlv(0x04, b)
}

/// An OBJECT IDENTIFIER from its dotted text.
pub fn oid(dotted: &str) -> Vec<u8> {
    let arcs: Vec<u64> = dotted
        .split('.')
        .map(|a| a.parse().expect("oid arc"))
        .collect();
    let mut body = Vec::new();
    let mut push = |mut v: u64| {
        let mut tmp = vec![(v & 0x7f) as u8];
        v >>= 7;
        while v > 0 {
            tmp.push(0x80 | (v & 0x7f) as u8);
            v >>= 7;
        }
        tmp.reverse();
        body.extend(tmp);
    };
    push(arcs[0] * 40 + arcs[1]);
    for &a in &arcs[2..] {
        push(a);
    }
    tlv(0x06, &body)
}

pub const OID_SPNEGO: &str = "1.3.6.1.5.5.2";
pub const OID_KRB5: &str = "1.2.840.113554.1.2.2";
/// The Kerberos OID as Windows 2000 mis-encoded it, still listed first by Windows clients.
pub const OID_MS_KRB5: &str = "1.2.840.48018.1.2.2";
pub const OID_NEGOEX: &str = "1.3.6.1.4.1.311.2.2.30";
pub const OID_NTLMSSP: &str = "1.3.6.1.4.1.311.2.2.10";

// ---------------------------------------------------------------------------------------------
// SPNEGO

/// The GSS-API initial context token framing \[APPLICATION 0\] { mech OID, inner }.
fn gss_initial(mech: &str, inner: &[u8]) -> Vec<u8> {
    let mut c = oid(mech);
    c.extend_from_slice(inner);
    tlv(0x60, &c)
}

/// The client's first token: NegTokenInit { mechTypes, mechToken }.
pub fn neg_token_init(mechs: &[&str], mech_token: &[u8]) -> Vec<u8> {
    let types: Vec<Vec<u8>> = mechs.iter().map(|m| oid(m)).collect();
    let mut fields = vec![ctx(0, &seq(&types))];
    if !mech_token.is_empty() {
        fields.push(ctx(2, &octets(mech_token)));
    }
    gss_initial(OID_SPNEGO, &ctx(0, &seq(&fields)))
}

/// The server's NEGOTIATE blob: NegTokenInit2 with the mechanisms it accepts and the fixed
/// negHints principal name of MS-SPNG 3.2.5.2.
pub fn neg_token_init2(mechs: &[&str]) -> Vec<u8> {
    let types: Vec<Vec<u8>> = mechs.iter().map(|m| oid(m)).collect();
    let hints = seq(&[ctx(
        0,
        &general_string("not_defined_in_RFC4178@please_ignore"),
    )]);
    gss_initial(
        OID_SPNEGO,
        &ctx(0, &seq(&[ctx(0, &seq(&types)), ctx(3, &hints)])),
    )
}

pub const ACCEPT_COMPLETED: u8 = 0;
pub const ACCEPT_INCOMPLETE: u8 = 1;

/// NegTokenResp { negState, supportedMech, responseToken, mechListMIC }; empty parts left out.
pub fn neg_token_resp(state: Option<u8>, mech: Option<&str>, token: &[u8], mic: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    if let Some(s) = state {
        f.push(ctx(0, &tlv(0x0a, &[s])));
    }
    if let Some(m) = mech {
        f.push(ctx(1, &oid(m)));
    }
    if !token.is_empty() {
        f.push(ctx(2, &octets(token)));
    }
    if !mic.is_empty() {
        f.push(ctx(3, &octets(mic)));
    }
    ctx(1, &seq(&f))
}

// ---------------------------------------------------------------------------------------------
// Kerberos (RFC 4120 5.3, 5.5.1, 5.5.2)

/// aes256-cts-hmac-sha1-96.
const ETYPE_AES256: u32 = 18;
const NT_SRV_INST: u32 = 2;

fn encrypted_data(etype: u32, kvno: Option<u32>, cipher: &[u8]) -> Vec<u8> {
    let mut f = vec![ctx(0, &int(etype))];
    if let Some(k) = kvno {
        f.push(ctx(1, &int(k)));
    }
    f.push(ctx(2, &octets(cipher)));
    seq(&f)
}

/// A Kerberos AP-REQ for `service`/`host` in `realm`, in its GSS-API framing (krb5 OID, token id
/// 0x0100). The ticket's and authenticator's ciphertexts are random, of realistic sizes.
pub fn krb5_ap_req(rng: &mut Rng, realm: &str, service: &str, host: &str) -> Vec<u8> {
    let mut ticket_cipher = vec![0u8; 1090 + rng.size(0, 60)];
    rng.fill(&mut ticket_cipher);
    let mut auth_cipher = vec![0u8; 170 + rng.size(0, 30)];
    rng.fill(&mut auth_cipher);
    let sname = seq(&[
        ctx(0, &int(NT_SRV_INST)),
        ctx(1, &seq(&[general_string(service), general_string(host)])),
    ]);
    let ticket = tlv(
        0x61,
        &seq(&[
            ctx(0, &int(5)),
            ctx(1, &general_string(realm)),
            ctx(2, &sname),
            ctx(3, &encrypted_data(ETYPE_AES256, Some(4), &ticket_cipher)),
        ]),
    );
    // ap-options: mutual-required (bit 2).
    let ap_options = tlv(0x03, &[0, 0x20, 0, 0, 0]);
    let ap_req = tlv(
        0x6e,
        &seq(&[
            ctx(0, &int(5)),
            ctx(1, &int(14)),
            ctx(2, &ap_options),
            ctx(3, &ticket),
            ctx(4, &encrypted_data(ETYPE_AES256, None, &auth_cipher)),
        ]),
    );
    let mut inner = vec![0x01, 0x00];
    inner.extend(ap_req);
    gss_initial(OID_KRB5, &inner)
}

/// The server's AP-REP (mutual authentication), GSS-API framed with token id 0x0200.
pub fn krb5_ap_rep(rng: &mut Rng) -> Vec<u8> {
    let mut cipher = vec![0u8; 124];
    rng.fill(&mut cipher);
    let ap_rep = tlv(
        0x6f,
        &seq(&[
            ctx(0, &int(5)),
            ctx(1, &int(15)),
            ctx(2, &encrypted_data(ETYPE_AES256, None, &cipher)),
        ]),
    );
    let mut inner = vec![0x02, 0x00];
    inner.extend(ap_rep);
    gss_initial(OID_KRB5, &inner)
}

/// rc4-hmac: what a service account without AES keys still gets.
pub const ETYPE_RC4: u32 = 23;
pub const ETYPE_AES256_CTS: u32 = ETYPE_AES256;
const ETYPE_AES128: u32 = 17;
const NT_PRINCIPAL: u32 = 1;

fn principal(name_type: u32, parts: &[&str]) -> Vec<u8> {
    let names: Vec<Vec<u8>> = parts.iter().map(|p| general_string(p)).collect();
    seq(&[ctx(0, &int(name_type)), ctx(1, &seq(&names))])
}

fn time(t: &str) -> Vec<u8> {
    tlv(0x18, t.as_bytes())
}

/// Who asks the KDC for what, and how the KDC encrypts the ticket it gives.
#[derive(Clone, Copy, Debug)]
pub struct KdcExchange<'a> {
    pub realm: &'a str,
    pub client: &'a str,
    /// The service principal of a TGS exchange (`["cifs", "fs01.corp.example"]`); an AS exchange
    /// asks for `krbtgt/REALM`.
    pub service: &'a [&'a str],
    /// The encryption type of the ticket and of the reply's encrypted part.
    pub ticket_etype: u32,
}

fn sized(total: usize, build: impl Fn(usize) -> Vec<u8>) -> Vec<u8> {
    // The filler's length moves the DER length bytes by at most a few: a few tries settle it.
    let mut fill = total.saturating_sub(build(0).len());
    for _ in 0..8 {
        let m = build(fill);
        if m.len() == total {
            return m;
        }
        let diff = m.len() as isize - total as isize;
        fill = (fill as isize - diff).max(0) as usize;
    }
    build(fill)
}

fn ticket(rng: &mut Rng, realm: &str, sname: &[&str], etype: u32, cipher_len: usize) -> Vec<u8> {
    let mut cipher = vec![0u8; cipher_len];
    rng.fill(&mut cipher);
    tlv(
        0x61,
        &seq(&[
            ctx(0, &int(5)),
            ctx(1, &general_string(realm)),
            ctx(2, &principal(NT_SRV_INST, sname)),
            ctx(3, &encrypted_data(etype, Some(2), &cipher)),
        ]),
    )
}

/// A KDC-REQ (RFC 4120 5.4.1) of `total` bytes: an AS-REQ with an encrypted timestamp
/// (pre-authentication) or none, or a TGS-REQ presenting the client's ticket-granting ticket.
pub fn kdc_req(rng: &mut Rng, x: &KdcExchange, tgs: bool, preauth: bool, total: usize) -> Vec<u8> {
    let krbtgt = ["krbtgt", x.realm];
    let sname: &[&str] = if tgs { x.service } else { &krbtgt };
    let seed = rng.next_u64();
    sized(total, |fill| {
        let mut r = Rng::new(seed);
        let mut padata = Vec::new();
        if tgs {
            // PA-TGS-REQ: an AP-REQ with the TGT.
            let mut auth = vec![0u8; 160];
            r.fill(&mut auth);
            let ap = tlv(
                0x6e,
                &seq(&[
                    ctx(0, &int(5)),
                    ctx(1, &int(14)),
                    ctx(2, &tlv(0x03, &[0, 0, 0, 0, 0])),
                    ctx(3, &ticket(&mut r, x.realm, &krbtgt, ETYPE_AES256, fill)),
                    ctx(4, &encrypted_data(ETYPE_AES256, None, &auth)),
                ]),
            );
            padata.push(seq(&[ctx(1, &int(1)), ctx(2, &octets(&ap))]));
        } else if preauth {
            let mut ts = vec![0u8; fill];
            r.fill(&mut ts);
            padata.push(seq(&[
                ctx(1, &int(2)),
                ctx(2, &octets(&encrypted_data(ETYPE_AES256, None, &ts))),
            ]));
        }
        // PA-PAC-REQUEST (128): include the PAC.
        padata.push(seq(&[
            ctx(1, &int(128)),
            ctx(2, &octets(&seq(&[ctx(0, &tlv(0x01, &[0xff]))]))),
        ]));
        let mut body = vec![ctx(0, &tlv(0x03, &[0, 0x40, 0x81, 0x00, 0x10]))];
        if !tgs {
            body.push(ctx(1, &principal(NT_PRINCIPAL, &[x.client])));
        }
        body.push(ctx(2, &general_string(x.realm)));
        body.push(ctx(3, &principal(NT_SRV_INST, sname)));
        body.push(ctx(5, &time("20370913024805Z")));
        body.push(ctx(7, &int(r.next_u64() as u32 & 0x7fff_ffff)));
        body.push(ctx(
            8,
            &seq(&[int(ETYPE_AES256), int(ETYPE_AES128), int(ETYPE_RC4)]),
        ));
        let mut fields = vec![ctx(1, &int(5)), ctx(2, &int(if tgs { 12 } else { 10 }))];
        fields.push(ctx(3, &seq(&padata)));
        fields.push(ctx(4, &seq(&body)));
        tlv(if tgs { 0x6c } else { 0x6a }, &seq(&fields))
    })
}

/// A KDC-REP (RFC 4120 5.4.2) of `total` bytes: the ticket (for krbtgt/REALM in an AS-REP, the
/// service in a TGS-REP) and the encrypted part, both in the exchange's ticket etype.
pub fn kdc_rep(rng: &mut Rng, x: &KdcExchange, tgs: bool, total: usize) -> Vec<u8> {
    let krbtgt = ["krbtgt", x.realm];
    let sname: &[&str] = if tgs { x.service } else { &krbtgt };
    let seed = rng.next_u64();
    sized(total, |fill| {
        let mut r = Rng::new(seed);
        let t = ticket(&mut r, x.realm, sname, x.ticket_etype, fill);
        let mut enc = vec![0u8; 300];
        r.fill(&mut enc);
        tlv(
            if tgs { 0x6d } else { 0x6b },
            &seq(&[
                ctx(0, &int(5)),
                ctx(1, &int(if tgs { 13 } else { 11 })),
                ctx(3, &general_string(x.realm)),
                ctx(4, &principal(NT_PRINCIPAL, &[x.client])),
                ctx(5, &t),
                ctx(6, &encrypted_data(x.ticket_etype, Some(3), &enc)),
            ]),
        )
    })
}

/// KRB-ERROR KDC_ERR_PREAUTH_REQUIRED (25) for an AS-REQ without pre-authentication, of `total`
/// bytes (the METHOD-DATA hint padded).
pub fn krb_error_preauth(x: &KdcExchange, total: usize) -> Vec<u8> {
    let seed = 0;
    sized(total, |fill| {
        let _ = seed;
        // ETYPE-INFO2 hint (19) with the salt: the realm and the client (and padding to size).
        let salt = format!("{}{}{}", x.realm, x.client, "x".repeat(fill));
        let info = seq(&[seq(&[
            ctx(0, &int(ETYPE_AES256)),
            ctx(1, &general_string(&salt)),
        ])]);
        let method = seq(&[seq(&[ctx(1, &int(19)), ctx(2, &octets(&info))])]);
        tlv(
            0x7e,
            &seq(&[
                ctx(0, &int(5)),
                ctx(1, &int(30)),
                ctx(4, &time("20240304090000Z")),
                ctx(5, &int(0)),
                ctx(6, &int(25)),
                ctx(9, &general_string(x.realm)),
                ctx(10, &principal(NT_SRV_INST, &["krbtgt", x.realm])),
                ctx(12, &octets(&method)),
            ]),
        )
    })
}

/// An AUTHENTICATE_MESSAGE with an NTLMv1 response (24-byte LM and NT responses), as a client
/// with LmCompatibilityLevel below 3 sends it.
pub fn ntlm_authenticate_v1(rng: &mut Rng, domain: &str, user: &str, workstation: &str) -> Vec<u8> {
    let mut lm = vec![0u8; 24];
    rng.fill(&mut lm);
    let mut nt = vec![0u8; 24];
    rng.fill(&mut nt);
    let mut f = vec![0u8; 48];
    f.extend_from_slice(&(AUTHENTICATE_FLAGS & !0x0008_0000).to_le_bytes());
    f.extend_from_slice(&VERSION);
    f.extend_from_slice(&[0u8; 16]);
    assemble(
        3,
        f,
        &[
            (12, lm),
            (20, nt),
            (28, utf16(domain)),
            (36, utf16(user)),
            (44, utf16(workstation)),
            (52, Vec::new()),
        ],
    )
}

// ---------------------------------------------------------------------------------------------
// NTLMSSP

const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";
/// Windows 10 build 19041, NTLMSSP_REVISION_W2K3.
const VERSION: [u8; 8] = [10, 0, 0x61, 0x4a, 0, 0, 0, 0x0f];
/// 56, KEY_EXCH, 128, VERSION, EXTENDED_SESSIONSECURITY, ALWAYS_SIGN, NTLM, LM_KEY, SIGN,
/// REQUEST_TARGET, OEM, UNICODE.
pub const NEGOTIATE_FLAGS: u32 = 0xe208_8297;
/// The server's answer adds TARGET_INFO and TARGET_TYPE_DOMAIN, drops OEM and LM_KEY.
const CHALLENGE_FLAGS: u32 = 0xe28a_8215;
/// What the client finally agrees to.
const AUTHENTICATE_FLAGS: u32 = 0xe288_8215;

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// An NTLMSSP message: the fixed part (signature, type, `fixed` with placeholders for each
/// payload field) and the payload; `fields` are (offset in the message of an 8-byte
/// len/maxlen/offset triple, bytes).
fn assemble(kind: u32, fixed: Vec<u8>, fields: &[(usize, Vec<u8>)]) -> Vec<u8> {
    let mut m = SIGNATURE.to_vec();
    m.extend_from_slice(&kind.to_le_bytes());
    m.extend(fixed);
    for (at, data) in fields {
        let off = m.len() as u32;
        let len = data.len() as u16;
        m[*at..*at + 2].copy_from_slice(&len.to_le_bytes());
        m[*at + 2..*at + 4].copy_from_slice(&len.to_le_bytes());
        m[*at + 4..*at + 8].copy_from_slice(&off.to_le_bytes());
        m.extend_from_slice(data);
    }
    m
}

/// NEGOTIATE_MESSAGE (2.2.1.1): no domain or workstation supplied, with a version.
pub fn ntlm_negotiate() -> Vec<u8> {
    let mut m = SIGNATURE.to_vec();
    m.extend_from_slice(&1u32.to_le_bytes());
    m.extend_from_slice(&NEGOTIATE_FLAGS.to_le_bytes());
    m.extend_from_slice(&[0u8; 16]); // DomainNameFields, WorkstationFields: empty
    m.extend_from_slice(&VERSION);
    debug_assert_eq!(m.len(), 40);
    m
}

/// The names a server describes itself with in its CHALLENGE's target info.
pub struct Target<'a> {
    pub nb_domain: &'a str,
    pub nb_computer: &'a str,
    pub dns_domain: &'a str,
    pub dns_computer: &'a str,
}

fn av(out: &mut Vec<u8>, id: u16, value: &[u8]) {
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&(value.len() as u16).to_le_bytes());
    out.extend_from_slice(value);
}

fn target_info(t: &Target, filetime: u64) -> Vec<u8> {
    let mut v = Vec::new();
    av(&mut v, 2, &utf16(t.nb_domain)); // MsvAvNbDomainName
    av(&mut v, 1, &utf16(t.nb_computer)); // MsvAvNbComputerName
    av(&mut v, 4, &utf16(t.dns_domain)); // MsvAvDnsDomainName
    av(&mut v, 3, &utf16(t.dns_computer)); // MsvAvDnsComputerName
    av(&mut v, 5, &utf16(t.dns_domain)); // MsvAvDnsTreeName
    av(&mut v, 7, &filetime.to_le_bytes()); // MsvAvTimestamp
    v
}

/// CHALLENGE_MESSAGE (2.2.1.2) from the server named by `t`.
pub fn ntlm_challenge(rng: &mut Rng, t: &Target, filetime: u64) -> Vec<u8> {
    let mut info = target_info(t, filetime);
    av(&mut info, 0, &[]); // MsvAvEOL
    let mut challenge = [0u8; 8];
    rng.fill(&mut challenge);
    // After signature and type: TargetNameFields (8), flags, challenge, reserved, TargetInfoFields, version.
    let mut f = vec![0u8; 8];
    f.extend_from_slice(&CHALLENGE_FLAGS.to_le_bytes());
    f.extend_from_slice(&challenge);
    f.extend_from_slice(&[0u8; 8]);
    f.extend_from_slice(&[0u8; 8]);
    f.extend_from_slice(&VERSION);
    assemble(2, f, &[(12, utf16(t.nb_domain)), (40, info)])
}

/// AUTHENTICATE_MESSAGE (2.2.1.3) for `domain`\\`user` from `workstation`: an empty-LM (Z(24))
/// response, an NTLMv2 response over the server's target info plus MsvAvFlags (MIC present) and
/// MsvAvTargetName `spn`, an encrypted session key and a MIC.
#[allow(clippy::too_many_arguments)]
pub fn ntlm_authenticate(
    rng: &mut Rng,
    t: &Target,
    filetime: u64,
    domain: &str,
    user: &str,
    workstation: &str,
    spn: &str,
) -> Vec<u8> {
    let mut nt = vec![0u8; 16]; // NTProofStr
    rng.fill(&mut nt);
    nt.extend_from_slice(&[1, 1, 0, 0, 0, 0, 0, 0]); // RespType, HiRespType, Reserved1, Reserved2
    nt.extend_from_slice(&filetime.to_le_bytes());
    let mut cc = [0u8; 8];
    rng.fill(&mut cc);
    nt.extend_from_slice(&cc); // ChallengeFromClient
    nt.extend_from_slice(&[0u8; 4]); // Reserved3
    let mut info = target_info(t, filetime);
    av(&mut info, 6, &2u32.to_le_bytes()); // MsvAvFlags: MIC provided
    av(&mut info, 9, &utf16(spn)); // MsvAvTargetName
    av(&mut info, 0, &[]);
    nt.extend(info);
    nt.extend_from_slice(&[0u8; 4]);
    let mut key = vec![0u8; 16];
    rng.fill(&mut key);
    let mut mic = [0u8; 16];
    rng.fill(&mut mic);
    // After signature and type: Lm, Nt, Domain, User, Workstation, SessionKey fields (6 × 8),
    // flags, version, MIC: 88 bytes in all.
    let mut f = vec![0u8; 48];
    f.extend_from_slice(&AUTHENTICATE_FLAGS.to_le_bytes());
    f.extend_from_slice(&VERSION);
    f.extend_from_slice(&mic);
    assemble(
        3,
        f,
        &[
            (12, vec![0u8; 24]),
            (20, nt),
            (28, utf16(domain)),
            (36, utf16(user)),
            (44, utf16(workstation)),
            (52, key),
        ],
    )
}

/// An NTLMSSP_MESSAGE_SIGNATURE (2.2.2.9.1, extended session security), as SPNEGO's
/// mechListMIC carries it: version 1, an 8-byte checksum, the sequence number.
pub fn ntlm_verifier(rng: &mut Rng, seq: u32) -> Vec<u8> {
    let mut v = 1u32.to_le_bytes().to_vec();
    let mut sum = [0u8; 8];
    rng.fill(&mut sum);
    v.extend_from_slice(&sum);
    v.extend_from_slice(&seq.to_le_bytes());
    v
}

/// A Windows FILETIME (100 ns since 1601) for a Unix time in seconds.
pub fn filetime(unix_secs: u64) -> u64 {
    (unix_secs + 11_644_473_600) * 10_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oids_encode_as_der() {
        assert_eq!(oid(OID_SPNEGO), [6, 6, 0x2b, 6, 1, 5, 5, 2]);
        assert_eq!(
            oid(OID_KRB5),
            [6, 9, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 1, 2, 2]
        );
        assert_eq!(
            oid(OID_NTLMSSP),
            [6, 10, 0x2b, 6, 1, 4, 1, 0x82, 0x37, 2, 2, 0x0a]
        );
    }

    #[test]
    fn long_form_lengths() {
        assert_eq!(&tlv(4, &[0; 200])[..3], &[4, 0x81, 200]);
        assert_eq!(&tlv(4, &[0; 300])[..4], &[4, 0x82, 1, 44]);
        assert_eq!(int(128), [2, 2, 0, 128]);
        assert_eq!(int(5), [2, 1, 5]);
    }

    #[test]
    fn ntlm_messages_have_their_fixed_sizes_and_offsets() {
        let n = ntlm_negotiate();
        assert_eq!(n.len(), 40);
        let t = Target {
            nb_domain: "CORP",
            nb_computer: "FS01",
            dns_domain: "corp.example",
            dns_computer: "fs01.corp.example",
        };
        let mut rng = Rng::new(1);
        let c = ntlm_challenge(&mut rng, &t, filetime(0));
        // TargetName right after the 56-byte header.
        assert_eq!(u32::from_le_bytes(c[16..20].try_into().unwrap()), 56);
        let a = ntlm_authenticate(&mut rng, &t, 0, "CORP", "alice", "WS1", "cifs/fs01");
        // The user name's offset points at "alice" in UTF-16.
        let len = usize::from(u16::from_le_bytes([a[36], a[37]]));
        let off = u32::from_le_bytes(a[40..44].try_into().unwrap()) as usize;
        assert_eq!(&a[off..off + len], &utf16("alice")[..]);
        // The LM response comes first, at 88.
        assert_eq!(u32::from_le_bytes(a[16..20].try_into().unwrap()), 88);
    }

    #[test]
    fn ap_req_is_framed_for_gss() {
        let mut rng = Rng::new(2);
        let t = krb5_ap_req(&mut rng, "CORP.EXAMPLE", "cifs", "dc01.corp.example");
        assert_eq!(t[0], 0x60);
        let o = oid(OID_KRB5);
        // 0x60, long length (2 bytes of length), the OID, token id 01 00, [APPLICATION 14].
        assert_eq!(&t[4..4 + o.len()], &o[..]);
        assert_eq!(&t[4 + o.len()..4 + o.len() + 3], &[1, 0, 0x6e]);
    }
}
