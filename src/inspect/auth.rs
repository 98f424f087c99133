//! Authentication: how a client proved who it is to a service, read from the security tokens that
//! SMB session setups, LDAP binds, DCE/RPC auth verifiers and HTTP `Authorization` headers carry.
//!
//! One set of rules for every protocol, so the authentication inventory counts the same thing
//! wherever a token travels:
//! - an NTLMSSP AUTHENTICATE message is NTLMv1 (a 24-byte NT response), NTLMv2 (longer), an
//!   anonymous logon (empty responses) or NTLM (another length), with `DOMAIN\user` from the
//!   message (in clear there);
//! - a Kerberos AP-REQ (bare, GSS-wrapped or inside SPNEGO) is Kerberos, and its ticket's service
//!   principal and encryption type are evidence too;
//! - NEGOTIATE and CHALLENGE messages, and SPNEGO blobs without a token, say nothing yet (the
//!   AUTHENTICATE that follows does): a mechanism is recorded once it is used, not offered; NegoEx
//!   only negotiates the mechanism that follows, and is not one.

use crate::inspect::evidence::{Evidence, EvidenceKind, Mechanism, Value};
use crate::inspect::Out;
use crate::wire::{kerberos, ntlmssp, spnego};

/// Longest `who` kept (a user name, a bind DN), in characters.
const MAX_WHO: usize = 128;

/// Records an authentication on the flow.
pub fn record(mechanism: Mechanism, who: Option<&str>, out: &mut Out<'_>) {
    let who = who
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(|w| w.chars().take(MAX_WHO).collect::<String>().into_boxed_str());
    out.evidence(Evidence::labelled(
        EvidenceKind::Auth,
        Value::Auth { mechanism, who },
        None,
    ));
}

/// The mechanism and who of an NTLMSSP AUTHENTICATE message; `None` for the other messages.
pub fn ntlm(raw: &[u8]) -> Option<(Mechanism, Option<String>)> {
    let Ok(ntlmssp::Message::Authenticate(a)) = ntlmssp::Message::parse(raw) else {
        return None;
    };
    let mechanism = match a.response_kind() {
        ntlmssp::ResponseKind::Anonymous => Mechanism::NtlmAnonymous,
        ntlmssp::ResponseKind::V1 => Mechanism::Ntlmv1,
        ntlmssp::ResponseKind::V2 => Mechanism::Ntlmv2,
        ntlmssp::ResponseKind::Unknown => Mechanism::Ntlm,
    };
    let (user, domain) = (a.user.decode(), a.domain.decode());
    let who = match (user.is_empty(), domain.is_empty()) {
        (true, _) => None,
        (false, true) => Some(user),
        (false, false) => Some(format!("{domain}\\{user}")),
    };
    Some((mechanism, who))
}

/// Reads a security token (SPNEGO, a GSS-wrapped or bare Kerberos token, raw NTLMSSP) and records
/// what it shows; true when it recorded an authentication.
pub fn token(blob: &[u8], out: &mut Out<'_>) -> bool {
    let Ok(b) = spnego::SecurityBlob::parse(blob) else {
        return false;
    };
    match b.token {
        Some(spnego::Token::Ntlmssp(raw)) => match ntlm(raw) {
            Some((m, who)) => {
                record(m, who.as_deref(), out);
                true
            }
            None => false,
        },
        Some(spnego::Token::Kerberos(k)) if k.kind == spnego::KerberosKind::ApReq => {
            record(Mechanism::Kerberos, None, out);
            if let Ok(kerberos::Message::ApReq(ap)) = kerberos::Message::parse(k.message) {
                super::kerberos::ticket(&ap, out);
            }
            true
        }
        _ => false,
    }
}

/// DCE/RPC authentication services ([MS-RPCE] 2.2.1.1.7) and what the inventory calls them when
/// the token itself is not read.
pub fn rpc_auth_type(auth_type: u8) -> Option<Mechanism> {
    match auth_type {
        // RPC_C_AUTHN_NONE: no authentication; the default (0xff) is resolved by the server.
        0 | 0xff => None,
        16 => Some(Mechanism::Kerberos),
        14 => Some(Mechanism::Schannel),
        68 => Some(Mechanism::NetlogonSecureChannel),
        // SPNEGO (9) and NTLM (10): the token says which, once it is used.
        9 | 10 => None,
        _ => Some(Mechanism::Other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ntlmssp::{build, flags};

    fn authenticate(domain: &str, user: &str, lm: &[u8], nt: &[u8]) -> Vec<u8> {
        let utf16 = |s: &str| -> Vec<u8> { s.encode_utf16().flat_map(u16::to_le_bytes).collect() };
        build::authenticate(
            flags::UNICODE | flags::NTLM,
            lm,
            nt,
            &utf16(domain),
            &utf16(user),
            &utf16("WS01"),
        )
    }

    #[test]
    fn ntlm_versions_come_from_the_response_length() {
        let v2 = authenticate("CORP", "alice", &[0; 24], &[7; 60]);
        assert_eq!(
            ntlm(&v2),
            Some((Mechanism::Ntlmv2, Some("CORP\\alice".into())))
        );
        let v1 = authenticate("CORP", "bob", &[1; 24], &[2; 24]);
        assert_eq!(
            ntlm(&v1),
            Some((Mechanism::Ntlmv1, Some("CORP\\bob".into())))
        );
        let anon = authenticate("", "", &[0], &[]);
        assert_eq!(ntlm(&anon), Some((Mechanism::NtlmAnonymous, None)));
        assert_eq!(ntlm(b"NTLMSSP\0\x01\0\0\0"), None);
        assert_eq!(ntlm(b"garbage"), None);
    }

    #[test]
    fn rpc_auth_types_name_the_mechanisms_they_fix() {
        assert_eq!(rpc_auth_type(16), Some(Mechanism::Kerberos));
        assert_eq!(rpc_auth_type(68), Some(Mechanism::NetlogonSecureChannel));
        assert_eq!(rpc_auth_type(10), None);
        assert_eq!(rpc_auth_type(0), None);
        assert_eq!(rpc_auth_type(200), Some(Mechanism::Other));
    }
}
