//! Verification: whether a flow's payload is the protocol its catalog label says.
//!
//! The registry looks at the first payload segments of each direction of every inspected flow
//! (every TCP and UDP flow: the last registration, `payload`, takes those no other inspector
//! wants) with the recognisers of [`crate::wire::signature`], and keeps what each direction looks
//! like in the flow's [`Slot`]: a few byte comparisons per flow, not per packet — at most
//! [`SIGNATURE_SEGMENTS`] segments a direction while the answer is a "maybe" (ISO transport whose
//! content comes in its second segment), one otherwise, and none after the flow's first
//! [`SIGNATURE_FLOW_SEGMENTS`] payload segments. A TLS ClientHello's server name and ALPN are
//! read on the way (`tls-sni`, `tls-alpn`).
//!
//! When the flow is reported, [`verdict`] compares that, and the protocol evidence of the
//! inspectors that read the flow (an SMB negotiate, a Kerberos or LDAP message, a DCE/RPC bind),
//! with what the label's application protocol speaks ([`expected`]):
//!
//! - `verified`: a direction (or the evidence) shows the protocol;
//! - `port-only`: no payload, TLS on a port whose protocol may be wrapped in TLS, a "maybe" (ISO
//!   transport that did not show what it carried, Telnet text), a TCP flow seen from the middle,
//!   or a protocol svcscope has no recogniser for;
//! - `mismatch`: the payload is something else, named (`tls`, `ssh`, `http`, `s7comm`,
//!   `iso-mms`, …, or `unknown`).

use super::{EvidenceKind, Segment, Slot};
use crate::catalog::{Catalog, Label, LabelId, PortSpec, Transport};
use crate::decode::proto;
use crate::wire::signature::{identify, Ctx, Wire};
use crate::wire::tls;

/// Segments of one direction read while the recognisers say "maybe".
pub const SIGNATURE_SEGMENTS: u8 = 3;
/// Payload segments of a flow after which its directions are no longer looked at (a flow whose
/// server never sends payload stops costing anything here).
pub const SIGNATURE_FLOW_SEGMENTS: u8 = 16;

/// What one direction's first payload looked like.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Looks {
    pub wire: Option<Wire>,
    /// The recogniser said "maybe": a later segment may tell.
    pub tentative: bool,
    /// Payload segments of this direction looked at.
    pub segments: u8,
}

impl Looks {
    fn open(&self) -> bool {
        self.wire.is_none() || (self.tentative && self.segments < SIGNATURE_SEGMENTS)
    }
}

/// A flow's verification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verification {
    Verified,
    PortOnly,
    /// The payload is this protocol, not the label's.
    Mismatch(Wire),
}

impl Verification {
    pub fn as_str(self) -> &'static str {
        match self {
            Verification::Verified => "verified",
            Verification::PortOnly => "port-only",
            Verification::Mismatch(_) => "mismatch",
        }
    }

    /// Index for per-status counters: verified, port-only, mismatch.
    pub fn index(self) -> usize {
        match self {
            Verification::Verified => 0,
            Verification::PortOnly => 1,
            Verification::Mismatch(_) => 2,
        }
    }
}

/// What an application protocol speaks: the wire protocols that verify it, and whether TLS on
/// its port is the protocol wrapped (port-only) rather than something else (a mismatch).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expect {
    pub wires: &'static [Wire],
    pub tls: bool,
}

const fn ex(wires: &'static [Wire], tls: bool) -> Option<Expect> {
    Some(Expect { wires, tls })
}

/// What one catalog application protocol speaks on this transport and port; `None` for those
/// svcscope has no recogniser for (Chargen, SMS Remote Control, …: always `port-only`).
pub fn expected_app(app: &str, transport: Transport, port: Option<u16>) -> Option<Expect> {
    use Wire::*;
    let udp = transport == Transport::Udp;
    match app {
        "SMB" | "NetBIOS Session Service" => ex(&[Smb, NetbiosSession], false),
        "NetBIOS Name Resolution" => ex(&[NetbiosName], false),
        "NetBIOS Datagram Service" => ex(&[NetbiosDatagram], false),
        "Kerberos" => ex(&[Kerberos], false),
        "Kerberos password change" => ex(&[Kpasswd], false),
        "Active Directory Web Services" => ex(&[NetNmf], true),
        "LDAP Server" => ex(&[Ldap], false),
        "Global Catalog Server" if port == Some(3269) => ex(&[Tls], true),
        "Global Catalog Server" => ex(&[Ldap], false),
        "LDAP SSL"
        | "HTTPS"
        | "WS-Management (HTTPS)"
        | "IMAP over SSL"
        | "POP3 over SSL"
        | "NNTP over SSL"
        | "MOM-Encrypted" => ex(&[Tls], true),
        "DNS" => ex(&[Dns], false),
        "RPC" | "Randomly allocated high TCP ports" | "MSMQ-RPC" | "DFSR RPC" if udp => {
            ex(&[DcerpcCl], false)
        }
        "RPC" | "Randomly allocated high TCP ports" | "MSMQ-RPC" | "DFSR RPC" => {
            ex(&[Dcerpc], false)
        }
        "RPC over HTTP" => ex(&[RpcOverHttp, Dcerpc, Http], false),
        "Terminal Services" | "RDP" if udp => ex(&[RdpUdp], true),
        "Terminal Services" | "RDP" => ex(&[Rdp], true),
        "SQL over TCP" => ex(&[Tds], true),
        "SQL Probe" => ex(&[SqlBrowser], false),
        "HTTP"
        | "WS-Management (HTTP)"
        | "SSDP event notification"
        | "SSDP legacy event notification"
        | "UPNP"
        | "ASP.NET Session State" => ex(&[Http, RpcOverHttp], false),
        "SSDP" => ex(&[Ssdp, Http], false),
        "SMTP" if !udp => ex(&[Smtp], false),
        "POP3" => ex(&[Pop3], false),
        "IMAP" => ex(&[Imap], false),
        "NNTP" => ex(&[Nntp], false),
        "FTP control" => ex(&[Ftp], false),
        "Telnet" => ex(&[Telnet], false),
        "NTP" => ex(&[Ntp], false),
        "SNMP" | "SNMP Traps Outbound" => ex(&[Snmp], false),
        "RADIUS Authentication" | "RADIUS Accounting" | "Legacy RADIUS" => ex(&[Radius], false),
        "IPSec ISAKMP" => ex(&[Ike], false),
        "NAT-T" => ex(&[NatT, Ike], false),
        "L2TP" => ex(&[L2tp], false),
        "PPTP" => ex(&[Pptp], false),
        "GRE (IP protocol 47)" => ex(&[GrePptp], false),
        "DHCP Server" | "BINL" => ex(&[Dhcp], false),
        "MSMQ" if !udp => ex(&[Msmq], false),
        "RTSP" => ex(&[Rtsp], false),
        "MMS" if !udp => ex(&[WindowsMms], false),
        "X.400" => ex(&[X400], false),
        "TFTP" => ex(&[Tftp], false),
        _ => None,
    }
}

/// What a label speaks: the union of its application protocols' (TCP 2869 is both "SSDP event
/// notification" and "UPNP", both HTTP); DCE/RPC for an interface's or the dynamic range's label.
pub fn expected(label: &Label) -> Option<Expect> {
    let port = match label.spec {
        PortSpec::Port(p) => Some(p),
        _ => None,
    };
    let rpc = label.interface.is_some()
        || (matches!(label.spec, PortSpec::Dynamic)
            && matches!(
                label.name.as_str(),
                crate::catalog::RPC_DYNAMIC_APP | crate::catalog::RPC_UNKNOWN_INTERFACE_APP
            ));
    if rpc {
        return expected_app("RPC", label.transport, port);
    }
    let mut found: Option<Expect> = None;
    for g in &label.groups {
        if let Some(e) = expected_app(&g.app, label.transport, port) {
            match found {
                // Labels of several protocols whose expectations differ: the first's, with TLS
                // allowed if any allows it.
                Some(f) => {
                    found = Some(Expect {
                        wires: f.wires,
                        tls: f.tls || e.tls,
                    })
                }
                None => found = Some(e),
            }
        }
    }
    found
}

/// Reads a payload segment's signature into the slot when its direction is still open; a TLS
/// ClientHello's server name and ALPN become evidence.
pub fn look(catalog: &Catalog, seg: &Segment<'_>, slot: &mut Slot) -> bool {
    if slot.signature_segments >= SIGNATURE_FLOW_SEGMENTS {
        return false;
    }
    slot.signature_segments += 1;
    let dir = usize::from(!seg.from_client);
    let looks = &mut slot.looks[dir];
    if !looks.open() {
        return slot.signature_open();
    }
    looks.segments += 1;
    if seg.protocol == proto::GRE {
        // The payload of IP protocol 47 is the GRE header itself.
        looks.wire = Some(crate::wire::signature::gre(seg.payload).unwrap_or(Wire::Unknown));
        looks.tentative = false;
        return slot.signature_open();
    }
    let udp = seg.protocol == proto::UDP;
    let expect = seg
        .label
        .and_then(|l| expected(catalog.label(l)))
        .map_or(&[][..], |e| e.wires);
    let (wire, tentative) = identify(
        Ctx {
            udp,
            from_client: seg.from_client,
        },
        expect,
        seg.payload,
    );
    // A maybe does not replace a definite answer of an earlier segment (there is none: a
    // direction closes at its first definite answer).
    looks.wire = Some(wire);
    looks.tentative = tentative;
    if wire == Wire::Tls && seg.from_client && !tentative {
        if let Some(hello) = tls::client_hello(seg.payload) {
            if let Some(name) = hello.server_name {
                slot.evidence
                    .add(text_evidence(EvidenceKind::TlsSni, &tls::printable(name)));
            }
            if let Some(alpn) = hello.alpn_text() {
                slot.evidence
                    .add(text_evidence(EvidenceKind::TlsAlpn, &alpn));
            }
        }
    }
    slot.signature_open()
}

/// Evidence of `kind` with this text, backing no service.
pub fn text_evidence(kind: EvidenceKind, text: &str) -> super::Evidence {
    super::Evidence::labelled(kind, super::Value::Text(text.into()), None)
}

/// The wire protocol an inspector's evidence shows the flow carries.
fn evidence_wire(kind: EvidenceKind, udp: bool) -> Option<Wire> {
    use EvidenceKind::*;
    Some(match kind {
        Smb | SmbShare | SmbPipe | PipeBind | DfsReferral | SmbEncrypted => Wire::Smb,
        Kerberos | KerberosEtype | KerberosTgtEtype | KerberosError | KerberosClient => {
            Wire::Kerberos
        }
        Ldap | LdapBind | LdapStarttls | LdapPing => Wire::Ldap,
        RpcBind | RpcHeader | EpmRequest if udp => Wire::DcerpcCl,
        RpcBind | RpcHeader | EpmRequest => Wire::Dcerpc,
        RdpNegotiation => Wire::Rdp,
        TdsInstance => Wire::Tds,
        SqlBrowser => Wire::SqlBrowser,
        DnsAuthoritative => Wire::Dns,
        HttpServer | HttpSharepoint => Wire::Http,
        _ => return None,
    })
}

/// What the payload of a flow with this label and slot says of the label (`None` when the flow
/// has no label: see [`looks_like`] for what its payload is). `saw_syn` is whether the client's
/// SYN was seen (a TCP flow picked up in the middle cannot say what its first bytes are).
pub fn verdict(
    catalog: &Catalog,
    label: Option<LabelId>,
    protocol: u8,
    slot: Option<&Slot>,
    saw_syn: bool,
) -> Option<Verification> {
    let label = catalog.label(label?);
    let Some(expect) = expected(label) else {
        return Some(Verification::PortOnly);
    };
    let Some(slot) = slot else {
        return Some(Verification::PortOnly);
    };
    let udp = protocol == proto::UDP;
    let fits = |w: Wire| expect.wires.contains(&w);
    if slot
        .evidence
        .iter()
        .filter(|e| !e.kind.is_indirect())
        .filter_map(|e| evidence_wire(e.kind, udp))
        .any(fits)
    {
        return Some(Verification::Verified);
    }
    let definite = || {
        slot.looks
            .iter()
            .filter(|l| !l.tentative)
            .filter_map(|l| l.wire)
    };
    if definite().any(fits) {
        return Some(Verification::Verified);
    }
    if expect.tls && definite().any(|w| w == Wire::Tls) {
        return Some(Verification::PortOnly);
    }
    if let Some(w) = definite().find(|&w| w != Wire::Unknown) {
        return Some(Verification::Mismatch(w));
    }
    if slot.looks.iter().any(|l| l.tentative) {
        return Some(Verification::PortOnly);
    }
    if definite().any(|w| w == Wire::Unknown) {
        if protocol == proto::TCP && !saw_syn {
            return Some(Verification::PortOnly);
        }
        return Some(Verification::Mismatch(Wire::Unknown));
    }
    Some(Verification::PortOnly)
}

/// What a flow's payload looks like, whatever its label: the client's first payload's protocol,
/// else the server's (for unclassified traffic).
pub fn looks_like(slot: Option<&Slot>) -> Option<Wire> {
    let slot = slot?;
    let known = |l: &Looks| l.wire.filter(|&w| w != Wire::Unknown);
    known(&slot.looks[0])
        .or_else(|| known(&slot.looks[1]))
        .or_else(|| slot.looks.iter().find_map(|l| l.wire))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::Evidence;

    fn label(c: &Catalog, t: Transport, port: u16) -> Option<LabelId> {
        c.lookup_port(t, port)
    }

    fn slot(c2s: Option<(Wire, bool)>, s2c: Option<(Wire, bool)>) -> Slot {
        let mut s = Slot::default();
        for (i, l) in [c2s, s2c].into_iter().enumerate() {
            if let Some((w, tentative)) = l {
                s.looks[i] = Looks {
                    wire: Some(w),
                    tentative,
                    segments: 1,
                };
            }
        }
        s
    }

    #[test]
    fn every_catalog_protocol_with_a_recogniser_is_listed_and_the_rest_are_port_only() {
        let c = Catalog::builtin();
        let mut without = Vec::new();
        for id in 0..c.labels.len() {
            let l = c.label(id as LabelId);
            if expected(l).is_none() {
                without.push(l.name.clone());
            }
        }
        without.sort();
        without.dedup();
        // The rows without a wire format svcscope checks: say so, so a new row is a decision.
        for name in &without {
            assert!(
                [
                    "Chargen",
                    "Cluster Services",
                    "Daytime",
                    "Discard",
                    "Echo",
                    "FTP data",
                    "FTP default data",
                    "File Server for Macintosh",
                    "LPD",
                    "MADCAP",
                    "MOM-Clear",
                    "MS Theater",
                    "MSMQ",
                    "MSMQ-DCs",
                    "MSMQ-Mgmt",
                    "MSMQ-Ping",
                    "MMS",
                    "OLAP Services 7.0",
                    "Quotd",
                    "RTCP",
                    "RTP",
                    "SMS Remote Chat",
                    "SMS Remote Control (control)",
                    "SMS Remote Control (data)",
                    "SMS Remote File Transfer",
                    "SQL Analysis Services",
                    "SMTP",
                    "WINS Replication",
                ]
                .contains(&name.as_str())
                    || name.starts_with("IPSec AH")
                    || name.starts_with("IPSec ESP"),
                "{name} has no expectation"
            );
        }
    }

    #[test]
    fn the_payload_verifies_or_contradicts_the_label() {
        let c = Catalog::builtin();
        let tcp = proto::TCP;
        let x400 = label(&c, Transport::Tcp, 102);
        let v = |l, s: &Slot| verdict(&c, l, tcp, Some(s), true);
        // MMS on X.400's port: a mismatch naming it; ISO transport that never said: port-only.
        let mms = slot(Some((Wire::IsoMms, false)), Some((Wire::IsoTsap, true)));
        assert_eq!(v(x400, &mms), Some(Verification::Mismatch(Wire::IsoMms)));
        let cotp = slot(Some((Wire::IsoTsap, true)), Some((Wire::IsoTsap, true)));
        assert_eq!(v(x400, &cotp), Some(Verification::PortOnly));
        // TLS on 445 is a mismatch; on 3389 and 1433 it is the protocol wrapped: port-only.
        let tls = slot(Some((Wire::Tls, false)), Some((Wire::Tls, false)));
        assert_eq!(
            v(label(&c, Transport::Tcp, 445), &tls),
            Some(Verification::Mismatch(Wire::Tls))
        );
        assert_eq!(
            v(label(&c, Transport::Tcp, 3389), &tls),
            Some(Verification::PortOnly)
        );
        assert_eq!(
            v(label(&c, Transport::Tcp, 443), &tls),
            Some(Verification::Verified)
        );
        // SSH on 3389.
        let ssh = slot(Some((Wire::Ssh, false)), Some((Wire::Ssh, false)));
        assert_eq!(
            v(label(&c, Transport::Tcp, 3389), &ssh),
            Some(Verification::Mismatch(Wire::Ssh))
        );
        // Unknown bytes: a mismatch when the connection was seen from its start.
        let unknown = slot(Some((Wire::Unknown, false)), None);
        let http = label(&c, Transport::Tcp, 80);
        assert_eq!(
            v(http, &unknown),
            Some(Verification::Mismatch(Wire::Unknown))
        );
        assert_eq!(
            verdict(&c, http, tcp, Some(&unknown), false),
            Some(Verification::PortOnly)
        );
        // No payload, no label, no recogniser.
        assert_eq!(
            verdict(&c, http, tcp, None, true),
            Some(Verification::PortOnly)
        );
        assert_eq!(verdict(&c, None, tcp, Some(&unknown), true), None);
        let chargen = label(&c, Transport::Tcp, 19);
        assert_eq!(v(chargen, &unknown), Some(Verification::PortOnly));
        // The SMB inspector's evidence verifies SMB whatever the first bytes looked like.
        let mut smb = slot(Some((Wire::Unknown, false)), None);
        smb.evidence.add(Evidence::labelled(
            EvidenceKind::Smb,
            crate::inspect::Value::None,
            None,
        ));
        assert_eq!(
            v(label(&c, Transport::Tcp, 445), &smb),
            Some(Verification::Verified)
        );
    }

    #[test]
    fn what_unclassified_payload_looks_like_prefers_a_known_protocol() {
        let s = slot(Some((Wire::Unknown, false)), Some((Wire::Http, false)));
        assert_eq!(looks_like(Some(&s)), Some(Wire::Http));
        let s = slot(Some((Wire::Unknown, false)), None);
        assert_eq!(looks_like(Some(&s)), Some(Wire::Unknown));
        assert_eq!(looks_like(None), None);
    }

    /// Through the registry as the tracker calls it: the ClientHello of a flow on 443 gives its
    /// SNI and ALPN and verifies HTTPS; TLS on 445 is a mismatch though the SMB inspector reads it;
    /// the check stops once both directions are known.
    #[test]
    fn the_registry_checks_each_direction_beside_the_inspector() {
        use crate::decode::Addr;
        use crate::inspect::{Offer, Provenance, Registry, Segment};
        let c = Catalog::builtin();
        let hello =
            crate::wire::tls::tests::client_hello_record(Some("portal.corp.example"), &["h2"]);
        let server_hello = [0x16, 3, 3, 0, 4, 2, 0, 0, 0];
        for (port, want) in [
            (443, Verification::Verified),
            (445, Verification::Mismatch(Wire::Tls)),
        ] {
            let mut r = Registry::default();
            let label = c.lookup_port(Transport::Tcp, port);
            let offer = Offer {
                protocol: proto::TCP,
                server_port: port,
                client_port: 50_000,
                label,
                provenance: Provenance::Port,
            };
            let entry = r.pick(&offer).unwrap();
            let client = (Addr::from_v4([192, 0, 2, 100]), 50_000);
            let server = (Addr::from_v4([192, 0, 2, 10]), port);
            let (key, _) =
                crate::decode::FlowKey::of(proto::TCP, client.0, server.0, Some((client.1, port)));
            let mut slot = None;
            let seg = |from_client, seq, payload| Segment {
                from_client,
                seq,
                payload,
                ts: 0,
                client,
                server,
                protocol: proto::TCP,
                label,
            };
            r.segment(&c, key, entry, &mut slot, &seg(true, 1, &hello));
            r.segment(&c, key, entry, &mut slot, &seg(false, 1, &server_hello));
            let s = slot.as_deref().unwrap();
            assert_eq!(s.looks[0].wire, Some(Wire::Tls));
            assert_eq!(s.looks[1].wire, Some(Wire::Tls));
            assert!(!s.signature_open());
            assert_eq!(
                verdict(&c, label, proto::TCP, Some(s), true),
                Some(want),
                "{port}"
            );
            let found: Vec<_> = s
                .evidence
                .iter()
                .map(|e| (e.kind.as_str(), e.value.text()))
                .collect();
            assert!(
                found.contains(&("tls-sni", Some("portal.corp.example".into()))),
                "{found:?}"
            );
            assert!(
                found.contains(&("tls-alpn", Some("h2".into()))),
                "{found:?}"
            );
        }
    }
}
