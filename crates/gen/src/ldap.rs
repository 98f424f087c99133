//! LDAP (RFC 4511) and CLDAP messages built byte by byte: a SASL GSS-SPNEGO bind carrying a
//! Kerberos AP-REQ, a subtree search and its entry, the CLDAP "LDAP ping" ([MS-ADTS] 6.3.3) and
//! the domain controller's NETLOGON_SAM_LOGON_RESPONSE_EX answer ([MS-ADTS] 6.3.1.9) with its
//! compressed names. BER with definite lengths, as the DER helpers of `gss` write them.

use crate::gss::{self, tlv};
use crate::rng::Rng;

fn int(tag: u8, v: u32) -> Vec<u8> {
    let mut b = v.to_be_bytes().to_vec();
    while b.len() > 1 && b[0] == 0 && b[1] & 0x80 == 0 {
        b.remove(0);
    }
    tlv(tag, &b)
}

fn octets(b: &[u8]) -> Vec<u8> {
    tlv(0x04, b)
}

/// An LDAPMessage: messageID and protocolOp (tag and contents).
fn message(id: u32, op: u8, content: &[u8]) -> Vec<u8> {
    tlv(0x30, &[int(0x02, id), tlv(op, content)].concat())
}

/// An LDAPResult's contents: resultCode, empty matchedDN and diagnosticMessage.
fn result(code: u32) -> Vec<u8> {
    [int(0x0a, code), octets(b""), octets(b"")].concat()
}

/// BindRequest, version 3, SASL GSS-SPNEGO with a Kerberos AP-REQ for `ldap/host`.
pub fn bind_spnego_kerberos(rng: &mut Rng, id: u32, realm: &str, host: &str) -> Vec<u8> {
    let ap_req = gss::krb5_ap_req(rng, realm, "ldap", host);
    let blob = gss::neg_token_init(&["1.2.840.48018.1.2.2", "1.2.840.113554.1.2.2"], &ap_req);
    let sasl = tlv(0xa3, &[octets(b"GSS-SPNEGO"), octets(&blob)].concat());
    message(id, 0x60, &[int(0x02, 3), octets(b""), sasl].concat())
}

/// BindRequest, version 3, simple: the DN and its password in clear (RFC 4511 4.2).
pub fn bind_simple(id: u32, dn: &str, password: &str) -> Vec<u8> {
    let auth = tlv(0x80, password.as_bytes());
    message(
        id,
        0x60,
        &[int(0x02, 3), octets(dn.as_bytes()), auth].concat(),
    )
}

/// BindResponse success without server credentials.
pub fn bind_done(id: u32) -> Vec<u8> {
    message(id, 0x61, &result(0))
}

/// BindResponse success with the server's SPNEGO answer (accept-completed, the AP-REP).
pub fn bind_response(rng: &mut Rng, id: u32) -> Vec<u8> {
    let rep = gss::krb5_ap_rep(rng);
    let blob = gss::neg_token_resp(Some(0), Some("1.2.840.48018.1.2.2"), &rep, &[]);
    message(id, 0x61, &[result(0), tlv(0x87, &blob)].concat())
}

/// A subtree search under `base` for `(objectClass=user)` asking for `attrs`.
pub fn search(id: u32, base: &str, attrs: &[&str]) -> Vec<u8> {
    let filter = tlv(0xa3, &[octets(b"objectClass"), octets(b"user")].concat());
    let list: Vec<u8> = attrs.iter().flat_map(|a| octets(a.as_bytes())).collect();
    let body = [
        octets(base.as_bytes()),
        int(0x0a, 2),
        int(0x0a, 0),
        int(0x02, 1000),
        int(0x02, 0),
        tlv(0x01, &[0]),
        filter,
        tlv(0x30, &list),
    ]
    .concat();
    message(id, 0x63, &body)
}

/// One SearchResultEntry of `object` with (attribute, values) pairs.
pub fn entry(id: u32, object: &str, attrs: &[(&str, Vec<Vec<u8>>)]) -> Vec<u8> {
    let list: Vec<u8> = attrs
        .iter()
        .flat_map(|(a, vals)| {
            let set: Vec<u8> = vals.iter().flat_map(|v| octets(v)).collect();
            tlv(0x30, &[octets(a.as_bytes()), tlv(0x31, &set)].concat())
        })
        .collect();
    message(
        id,
        0x64,
        &[octets(object.as_bytes()), tlv(0x30, &list)].concat(),
    )
}

pub fn search_done(id: u32) -> Vec<u8> {
    message(id, 0x65, &result(0))
}

pub fn unbind(id: u32) -> Vec<u8> {
    message(id, 0x42, b"")
}

/// The CLDAP LDAP ping: a base search of the root DSE, filter
/// `(&(DnsDomain=domain)(Host=host)(NtVer=0x16))`, for the `Netlogon` attribute.
pub fn ping(id: u32, domain: &str, host: &str) -> Vec<u8> {
    let eq = |a: &str, v: &[u8]| tlv(0xa3, &[octets(a.as_bytes()), octets(v)].concat());
    let filter = tlv(
        0xa0,
        &[
            eq("DnsDomain", domain.as_bytes()),
            eq("Host", host.as_bytes()),
            // NETLOGON_NT_VERSION_5 | 5EX | WITH_CLOSEST_SITE, as Windows clients ask.
            eq("NtVer", &[0x16, 0, 0, 0]),
        ]
        .concat(),
    );
    let body = [
        octets(b""),
        int(0x0a, 0),
        int(0x0a, 0),
        int(0x02, 0),
        int(0x02, 0),
        tlv(0x01, &[0]),
        filter,
        tlv(0x30, &octets(b"Netlogon")),
    ]
    .concat();
    message(id, 0x63, &body)
}

/// Labels of `name` (not compressed), ending in the root's 0.
fn labels(name: &str) -> Vec<u8> {
    let mut v = Vec::new();
    for l in name.split('.').filter(|l| !l.is_empty()) {
        v.push(l.len() as u8);
        v.extend_from_slice(l.as_bytes());
    }
    v.push(0);
    v
}

fn pointer(at: usize) -> [u8; 2] {
    [0xc0 | (at >> 8) as u8, at as u8]
}

/// NETLOGON_SAM_LOGON_RESPONSE_EX (opcode 23) of a writable DC `host` of `domain` (the forest
/// root) in `site`: the domain name written once, the others pointing into it.
pub fn logon_response(
    rng: &mut Rng,
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
    let mut guid = [0u8; 16];
    rng.fill(&mut guid);
    v.extend(guid);
    let forest_at = v.len();
    v.extend(labels(domain)); // DnsForestName
    v.extend(pointer(forest_at)); // DnsDomainName
    let short = host.split('.').next().unwrap_or(host);
    v.push(short.len() as u8); // DnsHostName: its first label, then the domain
    v.extend_from_slice(short.as_bytes());
    v.extend(pointer(forest_at));
    v.extend(labels(netbios)); // NetbiosDomainName
    v.extend(labels(&short.to_ascii_uppercase())); // NetbiosComputerName
    v.push(0); // UserName
    let site_at = v.len();
    v.extend(labels(site)); // DcSiteName
    v.extend(pointer(site_at)); // ClientSiteName
    v.extend(5u32.to_le_bytes()); // NtVersion: 1 | 5EX (no socket address, no next closest site)
    v.extend(0xffffu16.to_le_bytes());
    v.extend(0xffffu16.to_le_bytes());
    v
}
