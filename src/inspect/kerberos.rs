//! Kerberos inspector (`kerberos`): the KDC's traffic on TCP and UDP 88 (parsing in
//! `wire::kerberos`). Each UDP datagram is one message; a TCP stream is cut into records (RFC 4120
//! 7.2.2) in each direction, messages split across segments reassembled.
//!
//! What it records:
//!
//! - `kerberos`: the flow carries Kerberos (the first message read, e.g. `AS-REQ`); it backs the
//!   Key Distribution Center through the catalog's `kerberos` protocol name;
//! - `kerberos-spn`: the service principal a TGS-REQ asks a ticket for (`cifs/fs01…`), backing
//!   the services of its service class through the catalog's `[[spn]]` names. That service runs
//!   on another server than the KDC, so on the KDC's flow the item shows what the client is going
//!   to use and the flow stays the KDC's (the kind ranks below the flow's own evidence, see
//!   `EvidenceKind::is_indirect`). The AS-REQ's `krbtgt/REALM` is not recorded: every logon asks
//!   for it;
//! - `kerberos-etype`: the encryption type of each ticket (the TGT presented in a TGS-REQ, the
//!   ticket a reply carries: the service account's key) and of each reply's enc-part, DES and RC4
//!   flagged `(weak)`;
//! - `kerberos-error`: each KRB-ERROR's code (`KDC_ERR_PREAUTH_REQUIRED`, which every logon
//!   without pre-authentication meets first, `KDC_ERR_S_PRINCIPAL_UNKNOWN`, …);
//! - `kerberos-client`: the client principal of an AS-REQ and of each reply
//!   (`alice@CORP.EXAMPLE.COM`).
//!
//! The SMB inspector records the same `kerberos-spn` and `kerberos-etype` for the AP-REQ of a
//! session setup ([`ticket`]).
//!
//! Bounds: the registry caps the evidence per flow; [`MAX_KERBEROS_BYTES`] and
//! [`MAX_KERBEROS_SEGMENTS`] of a flow are read; one record of at most `wire::kerberos::MAX_RECORD`
//! bytes is held per direction (counted as held), a longer record is passed over unread.

use super::{
    Budget, Counter, Evidence, EvidenceKind, Inspector, Offer, Out, Registration, Segment, Step,
    Value,
};
use crate::catalog::NameKind;
use crate::decode::proto;
use crate::wire::kerberos::{self as wire, ApReq, Message, Principal, RecordStream};

/// The Kerberos port (the KDC; kpasswd's 464 is not read).
pub const KERBEROS_PORT: u16 = 88;
/// Payload read from one flow at most (both directions).
pub const MAX_KERBEROS_BYTES: u64 = 1 << 20;
/// Payload segments (datagrams) read from one flow at most.
pub const MAX_KERBEROS_SEGMENTS: u32 = 256;

pub static KERBEROS_MESSAGES: Counter = Counter {
    key: "kerberos_messages",
    text: "Kerberos messages",
};
pub static KERBEROS_ERRORS: Counter = Counter {
    key: "kerberos_errors",
    text: "KRB-ERROR messages",
};
pub static KERBEROS_WEAK_ETYPES: Counter = Counter {
    key: "kerberos_weak_etypes",
    text: "Kerberos tickets or replies encrypted with DES or RC4",
};
/// Datagrams and records that are not Kerberos (or are longer than `wire::kerberos::MAX_RECORD`),
/// and TCP segments passed over because the stream had lost its place.
pub static KERBEROS_UNREADABLE: Counter = Counter {
    key: "kerberos_unreadable",
    text: "Kerberos records or segments not read",
};

pub const KDC: Registration = Registration {
    name: "kerberos",
    wants: |o: &Offer| {
        matches!(o.protocol, proto::TCP | proto::UDP) && o.server_port == KERBEROS_PORT
    },
    budget: Budget {
        bytes: MAX_KERBEROS_BYTES,
        segments: MAX_KERBEROS_SEGMENTS,
    },
    start: || Box::<Kdc>::default(),
    counters: &[
        &KERBEROS_MESSAGES,
        &KERBEROS_ERRORS,
        &KERBEROS_WEAK_ETYPES,
        &KERBEROS_UNREADABLE,
    ],
};

/// A flow to the KDC.
#[derive(Debug, Default)]
struct Kdc {
    /// Client-to-server and server-to-client records (TCP).
    streams: [RecordStream; 2],
    /// The `kerberos` evidence was recorded.
    noted: bool,
}

impl Inspector for Kdc {
    fn segment(&mut self, seg: &Segment<'_>, out: &mut Out<'_>) -> Step {
        let Kdc { streams, noted } = self;
        if seg.protocol == proto::UDP {
            message(noted, seg.payload, out);
            return Step::More;
        }
        let pushed = streams[usize::from(!seg.from_client)]
            .push(seg.seq, seg.payload, |m| message(noted, m, out));
        for _ in 0..pushed.skipped {
            out.count(&KERBEROS_UNREADABLE);
        }
        if pushed.unread {
            out.count(&KERBEROS_UNREADABLE);
        }
        Step::More
    }

    fn held(&self) -> usize {
        self.streams.iter().map(RecordStream::buffered).sum()
    }
}

/// One message (a datagram, a record's content).
fn message(noted: &mut bool, m: &[u8], out: &mut Out<'_>) {
    let msg = match Message::parse(m) {
        Ok(msg) => msg,
        Err(_) => {
            out.count(&KERBEROS_UNREADABLE);
            return;
        }
    };
    out.count(&KERBEROS_MESSAGES);
    if !*noted {
        *noted = true;
        out.evidence(Evidence {
            kind: EvidenceKind::Kerberos,
            value: Value::Text(msg.kind().name().into()),
            label: None,
            name: out.catalog.name_id(NameKind::Protocol, "kerberos"),
        });
    }
    match msg {
        Message::Request(r) => {
            if let Some(c) = r.cname {
                client(&c, r.realm, out);
            }
            if r.kind == wire::Kind::TgsReq {
                if let Some(s) = r.sname {
                    spn(&s, out);
                }
                // The TGT presented: its etype is the krbtgt key's (kept apart from the etype
                // of the ticket asked for, which the reply shows).
                if let Some(Ok(ap)) = r.tgs_ap_req() {
                    etype(EvidenceKind::KerberosTgtEtype, &[ap.ticket.etype], out);
                }
            }
        }
        Message::Reply(r) => {
            client(&r.cname, r.crealm, out);
            etype(EvidenceKind::KerberosEtype, &[r.ticket.etype, r.etype], out);
        }
        Message::Error(e) => {
            out.count(&KERBEROS_ERRORS);
            out.evidence(Evidence::labelled(
                EvidenceKind::KerberosError,
                Value::Text(wire::error_name(e.code).into()),
                None,
            ));
        }
        Message::ApReq(ap) => ticket(&ap, out),
        Message::ApRep => {}
    }
}

/// The evidence of an AP-REQ: the service principal its ticket is for and the ticket's etype (a
/// KDC flow's AP-REQ, or one carried in an SMB session setup).
pub fn ticket(ap: &ApReq<'_>, out: &mut Out<'_>) {
    spn(&ap.ticket.sname, out);
    etype(EvidenceKind::KerberosEtype, &[ap.ticket.etype], out);
}

fn spn(p: &Principal<'_>, out: &mut Out<'_>) {
    let text = p.text();
    let name = out.catalog.name_id(NameKind::Principal, &text);
    out.evidence(Evidence {
        kind: EvidenceKind::KerberosSpn,
        value: Value::Text(text.into()),
        label: None,
        name,
    });
}

/// The etypes of one message, as evidence of `kind` (`kerberos-etype`, or `kerberos-tgt-etype`
/// for the TGT a TGS-REQ presents), counted once per message when any is weak.
fn etype(kind: EvidenceKind, etypes: &[i64], out: &mut Out<'_>) {
    if etypes.iter().any(|&e| wire::is_weak(e)) {
        out.count(&KERBEROS_WEAK_ETYPES);
    }
    for &e in etypes {
        out.evidence(Evidence::labelled(
            kind,
            Value::Text(wire::etype_text(e).into()),
            None,
        ));
    }
}

fn client(p: &Principal<'_>, realm: &[u8], out: &mut Out<'_>) {
    out.evidence(Evidence::labelled(
        EvidenceKind::KerberosClient,
        Value::Text(p.text_at(Some(realm)).into()),
        None,
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::bench::{ev, Bench};
    use crate::inspect::{attribute, Basis, Provenance};
    use crate::wire::kerberos::tests::{ap_req, kdc_rep, kdc_req, krb_error, record};

    /// The bench for a KDC flow: a record per direction and one segment at most; the inspector
    /// reads the flow to its end.
    type Run = Bench<Kdc>;

    fn run() -> Run {
        let mut b = Bench::new(
            Kdc::default(),
            KERBEROS_PORT,
            2 * (wire::MAX_RECORD + 65_536),
        )
        .reading_on();
        b.seq = [1000, 9000];
        b
    }

    const REALM: &str = "CORP.EXAMPLE.COM";

    #[test]
    fn a_logon_over_udp_then_tcp_records_client_service_etypes_and_errors() {
        let mut r = run();
        // UDP: AS-REQ without pre-authentication, answered KDC_ERR_PREAUTH_REQUIRED.
        let as_req = kdc_req(
            false,
            Some("alice"),
            REALM,
            &["krbtgt", REALM],
            &[18, 23],
            0,
        );
        r.segment(proto::UDP, true, 0, &as_req);
        r.segment(
            proto::UDP,
            false,
            0,
            &krb_error(25, REALM, &["krbtgt", REALM]),
        );
        // TCP: the AS-REP (AES ticket, RC4 reply), a TGS-REQ with an AES TGT for cifs/fs01 split
        // into small segments, and its TGS-REP in one.
        let as_rep = kdc_rep(false, REALM, "alice", &["krbtgt", REALM], 18, 23);
        r.send(false, &record(&as_rep), 1460);
        let tgs = kdc_req(
            true,
            None,
            REALM,
            &["cifs", "fs01.corp.example.com"],
            &[18, 17],
            18,
        );
        r.send(true, &record(&tgs), 7);
        let tgs_rep = kdc_rep(
            true,
            REALM,
            "alice",
            &["cifs", "fs01.corp.example.com"],
            18,
            18,
        );
        r.send(false, &record(&tgs_rep), 1460);
        assert_eq!(
            r.found(),
            vec![
                ev("kerberos", "AS-REQ"),
                ev("kerberos-client", "alice@CORP.EXAMPLE.COM"),
                ev("kerberos-error", "KDC_ERR_PREAUTH_REQUIRED"),
                ev("kerberos-etype", "aes256-cts-hmac-sha1-96"),
                ev("kerberos-etype", "rc4-hmac (weak)"),
                ev("kerberos-spn", "cifs/fs01.corp.example.com"),
                ev("kerberos-tgt-etype", "aes256-cts-hmac-sha1-96"),
            ]
        );
        assert_eq!(r.counters.get("kerberos_messages"), 5);
        assert_eq!(r.counters.get("kerberos_errors"), 1);
        assert_eq!(r.counters.get("kerberos_weak_etypes"), 1);
        assert_eq!(r.counters.get("kerberos_unreadable"), 0);
        // The protocol backs the KDC, the SPN its service class's service.
        assert_eq!(
            r.services(EvidenceKind::Kerberos, Some("AS-REQ")),
            ["Kerberos Key Distribution Center"]
        );
        assert_eq!(
            r.services(
                EvidenceKind::KerberosSpn,
                Some("cifs/fs01.corp.example.com")
            ),
            ["Server"]
        );
        // The flow is the KDC's: the ticket asked for is for a service elsewhere.
        let kdc = r
            .catalog
            .lookup_port(crate::catalog::Transport::Tcp, KERBEROS_PORT);
        let a = attribute(&r.catalog, Some(&r.evidence), kdc, Provenance::Port);
        let names: Vec<&str> = a
            .services
            .iter()
            .map(|&s| r.catalog.service(s).name.as_str())
            .collect();
        assert_eq!(
            (a.basis, names),
            (Basis::Evidence, vec!["Kerberos Key Distribution Center"])
        );
    }

    #[test]
    fn unknown_classes_back_nothing_and_are_kept_as_sent() {
        let mut r = run();
        // S4U2Self: a TGS-REQ for a user's own name.
        let tgs = kdc_req(true, None, REALM, &["Administrator"], &[18], 23);
        r.segment(proto::UDP, true, 0, &tgs);
        let spn = r
            .evidence
            .iter()
            .find(|e| e.kind == EvidenceKind::KerberosSpn)
            .unwrap();
        assert_eq!(spn.value.text().as_deref(), Some("Administrator"));
        assert!(spn.name.is_none());
        assert!(spn.services(&r.catalog).is_empty());
        // The TGT was RC4: flagged.
        assert!(r
            .found()
            .contains(&ev("kerberos-tgt-etype", "rc4-hmac (weak)")));
        assert_eq!(r.counters.get("kerberos_weak_etypes"), 1);
        // An AP-REQ on the KDC port (a kpasswd-style exchange) names its ticket.
        r.segment(
            proto::UDP,
            true,
            0,
            &ap_req(REALM, &["kadmin", "changepw"], 18),
        );
        assert!(r.found().contains(&ev("kerberos-spn", "kadmin/changepw")));
    }

    #[test]
    fn what_is_not_kerberos_is_counted_not_recorded() {
        let mut r = run();
        // The fixture generator's messages: an APPLICATION tag and pvno in field 0, then noise.
        let mut fake = vec![0x6c, 0x82, 0x00, 0x40, 0x30, 0x82, 0x00, 0x3c];
        fake.extend([0xa0, 0x03, 0x02, 0x01, 0x05]);
        fake.extend([0x5a; 55]);
        r.segment(proto::UDP, true, 0, &fake);
        r.send(true, &record(&fake), 1460);
        r.segment(proto::UDP, true, 0, b"GET / HTTP/1.1\r\n\r\n");
        assert!(r.found().is_empty());
        assert_eq!(r.counters.get("kerberos_unreadable"), 3);
        assert_eq!(r.counters.get("kerberos_messages"), 0);
    }

    #[test]
    fn a_stream_that_loses_its_place_starts_again_at_a_record() {
        let mut r = run();
        let err = record(&krb_error(7, REALM, &["cifs", "gone"]));
        // The capture starts in the middle of a record.
        r.send(false, &err[10..], 1460);
        assert!(r.found().is_empty());
        r.send(false, &err, 1460);
        assert_eq!(
            r.found(),
            vec![
                ev("kerberos", "KRB-ERROR"),
                ev("kerberos-error", "KDC_ERR_S_PRINCIPAL_UNKNOWN"),
            ]
        );
        assert!(r.counters.get("kerberos_unreadable") >= 1);
        // A record of 1 MiB is passed over, holding nothing.
        let mut big = (1u32 << 20).to_be_bytes().to_vec();
        big.extend(vec![0x6d; 1 << 20]);
        r.send(false, &big, 65_000);
        assert_eq!(r.inspector.held(), 0);
        r.send(false, &err, 1460);
        assert_eq!(r.counters.get("kerberos_messages"), 2);
    }

    proptest::proptest! {
        #![proptest_config(crate::testing::proptest_config(64))]

        /// Messages, noise, gaps and retransmissions in any mix: no panic, and what is held stays
        /// within one record per direction.
        #[test]
        fn any_segments_keep_the_bounds(
            pieces in proptest::collection::vec(
                (proptest::prelude::any::<bool>(), 0u8..4, proptest::prelude::any::<u8>()),
                1..30,
            ),
        ) {
            let mut r = run();
            let messages = [
                record(&kdc_req(true, None, REALM, &["cifs", "fs01"], &[18], 23)),
                record(&krb_error(25, REALM, &["krbtgt", REALM])),
                record(&kdc_rep(false, REALM, "alice", &["krbtgt", REALM], 18, 18)),
                vec![0x7f, 0xff, 0xff, 0xff, 0x6a, 0x84],
            ];
            for (from_client, which, jump) in pieces {
                let d = usize::from(!from_client);
                match jump % 8 {
                    0 => r.seq[d] = r.seq[d].wrapping_add(u32::from(jump)),
                    1 => r.seq[d] = r.seq[d].wrapping_sub(u32::from(jump)),
                    _ => {}
                }
                let m = &messages[usize::from(which)];
                let cut = (usize::from(jump) * 3) % m.len();
                r.send(from_client, &m[cut..], 1 + usize::from(jump));
                proptest::prop_assert!(r.evidence.len() <= crate::inspect::MAX_EVIDENCE);
            }
        }
    }
}
