//! LDAP inspector (`ldap`): the directory service's traffic on TCP 389 and 3268 (the global
//! catalog) and CLDAP on UDP 389 (parsing in `wire::ldap`). A UDP datagram holds whole messages
//! (a CLDAP answer sends the entry and the search's done in one); a
//! TCP stream is cut into messages in each direction, messages split across segments reassembled.
//!
//! What it records:
//!
//! - `ldap`: the flow carries LDAP (the first message read, e.g. `bindRequest`); it backs the
//!   Local Security Authority through the catalog's `ldap` protocol name (lsass.exe hosts the
//!   directory service; the article's DFS section lists LDAP too, for finding the domain's
//!   namespaces, but DFS does not answer it);
//! - `ldap-bind`: how a BindRequest authenticates: `simple (password in clear)`, `simple
//!   anonymous`, `SASL GSS-SPNEGO` (with the inner token's mechanism: `SASL GSS-SPNEGO (NTLM)`,
//!   `SASL GSS-SPNEGO (Kerberos)`), `SASL GSSAPI`, `SASL EXTERNAL`, `NTLM` (the Sicily choices);
//!   backs nothing. A Kerberos AP-REQ in the credentials adds the ticket's `kerberos-spn` and
//!   `kerberos-etype` as the SMB inspector does;
//! - `ldap-starttls`: an ExtendedRequest for StartTLS (what follows is TLS and is not read);
//! - `ldap-ping`: a CLDAP (or LDAP) "LDAP ping" ([MS-ADTS] 6.3.3), a search of the root DSE for
//!   `Netlogon`: `request` for the question, and for the domain controller's answer its DS flags,
//!   site and names (`PDC GC … site Default-First-Site-Name dc01.corp.example domain
//!   corp.example`). It backs the Local Security Authority and Net Logon through the catalog's
//!   `ldap-ping` protocol name: Net Logon builds the answer ([MS-ADTS] 6.3.3, [MS-NRPC] 3.5.4.3;
//!   the article's Net Logon section: on domain controllers it uses LDAP).
//!
//! Bounds: [`MAX_LDAP_BYTES`] and [`MAX_LDAP_SEGMENTS`] of a flow are read (the first messages say
//! enough); one message of at most `wire::ldap::MAX_MESSAGE` bytes is held per direction (counted
//! as held), a longer one is passed over; at most [`MAX_BINDS`] binds are recorded per flow.

use super::evidence::Mechanism;
use super::{
    Budget, Counter, Evidence, EvidenceKind, Inspector, Offer, Out, Registration, Segment, Step,
    Value,
};
use crate::catalog::NameKind;
use crate::decode::proto;
use crate::wire::ldap::{self as wire, Auth, LogonResponse, Message, MessageStream, Op};
use crate::wire::spnego;

/// LDAP's port (TCP, and CLDAP on UDP).
pub const LDAP_PORT: u16 = 389;
/// The global catalog's LDAP port (TCP).
pub const GC_PORT: u16 = 3268;
/// Payload read from one flow at most (both directions).
pub const MAX_LDAP_BYTES: u64 = 64 << 10;
/// Payload segments (datagrams) read from one flow at most.
pub const MAX_LDAP_SEGMENTS: u32 = 48;
/// Binds recorded per flow at most (a client retrying binds adds nothing new).
pub const MAX_BINDS: u8 = 4;

pub static LDAP_MESSAGES: Counter = Counter {
    key: "ldap_messages",
    text: "LDAP messages",
};
pub static LDAP_CLEAR_PASSWORDS: Counter = Counter {
    key: "ldap_clear_passwords",
    text: "LDAP simple binds with a password in clear",
};
pub static LDAP_PINGS: Counter = Counter {
    key: "ldap_pings",
    text: "LDAP pings answered by a domain controller",
};
/// Datagrams and messages that are not LDAP, longer than `wire::ldap::MAX_MESSAGE`, and TCP
/// directions that stopped (a gap, SASL-wrapped or TLS bytes).
pub static LDAP_UNREADABLE: Counter = Counter {
    key: "ldap_unreadable",
    text: "LDAP messages or streams not read (signed, sealed, TLS, gaps)",
};

pub const DIRECTORY: Registration = Registration {
    name: "ldap",
    wants: |o: &Offer| match o.protocol {
        proto::TCP => matches!(o.server_port, LDAP_PORT | GC_PORT),
        proto::UDP => o.server_port == LDAP_PORT,
        _ => false,
    },
    budget: Budget {
        bytes: MAX_LDAP_BYTES,
        segments: MAX_LDAP_SEGMENTS,
    },
    start: || Box::<Directory>::default(),
    counters: &[
        &LDAP_MESSAGES,
        &LDAP_CLEAR_PASSWORDS,
        &LDAP_PINGS,
        &LDAP_UNREADABLE,
    ],
};

/// A flow to an LDAP server.
#[derive(Debug, Default)]
struct Directory {
    /// Client-to-server and server-to-client messages (TCP).
    streams: [MessageStream; 2],
    state: State,
}

#[derive(Debug, Default)]
struct State {
    /// The `ldap` evidence was recorded.
    noted: bool,
    binds: u8,
}

impl Inspector for Directory {
    fn segment(&mut self, seg: &Segment<'_>, out: &mut Out<'_>) -> Step {
        let Directory { streams, state } = self;
        if seg.protocol == proto::UDP {
            // A CLDAP datagram may carry several messages (an entry and the search's done).
            let mut rest = seg.payload;
            while !rest.is_empty() {
                match wire::message_len(rest) {
                    Ok(Some(n)) if n <= rest.len() => {
                        state.message(&rest[..n], out);
                        rest = &rest[n..];
                    }
                    _ => {
                        out.count(&LDAP_UNREADABLE);
                        break;
                    }
                }
            }
            return Step::More;
        }
        let stream = &mut streams[usize::from(!seg.from_client)];
        let pushed = stream.push(seg.seq, seg.payload, |m| state.message(m, out));
        for _ in 0..pushed.skipped {
            out.count(&LDAP_UNREADABLE);
        }
        if pushed.stopped {
            out.count(&LDAP_UNREADABLE);
        }
        if streams.iter().all(MessageStream::is_stopped) {
            Step::Done
        } else {
            Step::More
        }
    }

    fn held(&self) -> usize {
        self.streams.iter().map(MessageStream::buffered).sum()
    }
}

impl State {
    fn message(&mut self, m: &[u8], out: &mut Out<'_>) {
        let msg = match Message::parse(m) {
            Ok(msg) => msg,
            Err(_) => {
                out.count(&LDAP_UNREADABLE);
                return;
            }
        };
        out.count(&LDAP_MESSAGES);
        if !self.noted {
            self.noted = true;
            out.evidence(Evidence {
                kind: EvidenceKind::Ldap,
                value: Value::Text(msg.name().into()),
                label: None,
                name: out.catalog.name_id(NameKind::Protocol, "ldap"),
            });
        }
        match msg.op {
            Op::Bind(b) => self.bind(b.name, &b.auth, out),
            Op::Search(s) if s.is_ping() => ping(Value::Text("request".into()), out),
            Op::SearchEntry(e) => {
                if let Some(v) = e.value(b"Netlogon") {
                    if let Ok(r) = LogonResponse::parse(v) {
                        out.count(&LDAP_PINGS);
                        ping(Value::Text(ping_text(&r).into()), out);
                    }
                }
            }
            Op::Extended { oid } if oid == wire::STARTTLS_OID => {
                out.evidence(Evidence::labelled(
                    EvidenceKind::LdapStarttls,
                    Value::None,
                    None,
                ));
            }
            _ => {}
        }
    }

    fn bind(&mut self, name: &[u8], auth: &Auth<'_>, out: &mut Out<'_>) {
        if self.binds >= MAX_BINDS {
            return;
        }
        self.binds += 1;
        let dn = wire::text(&name[..name.len().min(256)]);
        // How it authenticates, recorded after the bind itself.
        let mut how: Option<(Mechanism, Option<String>)> = None;
        let mut token = None;
        let text = match *auth {
            Auth::Simple { password: &[] } => {
                how = Some((Mechanism::Anonymous, Some(dn)));
                "simple anonymous".to_string()
            }
            Auth::Simple { .. } => {
                out.count(&LDAP_CLEAR_PASSWORDS);
                how = Some((Mechanism::ClearPassword, Some(dn)));
                "simple (password in clear)".to_string()
            }
            Auth::Sasl {
                mechanism,
                credentials,
            } => {
                let mech = wire::text(&mechanism[..mechanism.len().min(32)]);
                let inner = credentials.and_then(|c| {
                    let b = spnego::SecurityBlob::parse(c).ok()?;
                    match b.token? {
                        spnego::Token::Ntlmssp(_) => Some("NTLM"),
                        spnego::Token::Kerberos(_) => Some("Kerberos"),
                        spnego::Token::NegoEx(_) => Some("NegoEx"),
                        spnego::Token::Unknown(_) => None,
                    }
                });
                // The token says how (and the ticket's principal); a SASL mechanism that carries
                // none svcscope reads (DIGEST-MD5, EXTERNAL) is another mechanism.
                token = credentials;
                if inner.is_none() && !mechanism.eq_ignore_ascii_case(b"GSS-SPNEGO") {
                    how = Some((Mechanism::Other, None));
                }
                match inner {
                    Some(i) => format!("SASL {mech} ({i})"),
                    None => format!("SASL {mech}"),
                }
            }
            Auth::SicilyDiscovery => "NTLM (package discovery)".to_string(),
            Auth::SicilyNegotiate(_) => "NTLM".to_string(),
            Auth::SicilyResponse(raw) => match super::auth::ntlm(raw) {
                Some((m, who)) => {
                    let text = match &who {
                        Some(w) => format!("NTLM {w}"),
                        None => "NTLM anonymous".to_string(),
                    };
                    how = Some((m, who));
                    text
                }
                None => "NTLM".to_string(),
            },
            Auth::Other(t) => format!("unknown choice [{}]", t & 0x1f),
        };
        out.evidence(Evidence::labelled(
            EvidenceKind::LdapBind,
            Value::Text(text.into()),
            None,
        ));
        if let Some(t) = token {
            super::auth::token(t, out);
        }
        if let Some((m, who)) = how {
            super::auth::record(m, who.as_deref(), out);
        }
    }
}

fn ping(value: Value, out: &mut Out<'_>) {
    out.evidence(Evidence {
        kind: EvidenceKind::LdapPing,
        value,
        label: None,
        name: out.catalog.name_id(NameKind::Protocol, "ldap-ping"),
    });
}

/// `PDC GC … site S host domain D`: the flags, the DC's site, its DNS name and its domain (names
/// are bounded by the parser).
fn ping_text(r: &LogonResponse) -> String {
    let mut s = wire::flags_text(r.flags);
    if r.opcode == wire::LOGON_SAM_PAUSE_RESPONSE_EX {
        s.insert_str(0, "paused ");
    }
    for (word, v) in [("site", &r.dc_site), ("", &r.host), ("domain", &r.domain)] {
        if v.is_empty() {
            continue;
        }
        if !s.is_empty() {
            s.push(' ');
        }
        if !word.is_empty() {
            s.push_str(word);
            s.push(' ');
        }
        s.push_str(v);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::bench::{ev, Bench};
    use crate::inspect::{attribute, Basis, Provenance};
    use crate::wire::ldap::build::*;

    /// The bench for an LDAP or CLDAP flow: a message per direction and one segment at most.
    type Run = Bench<Directory>;

    fn run() -> Run {
        let mut b = Bench::new(
            Directory::default(),
            LDAP_PORT,
            2 * (wire::MAX_MESSAGE + 65_536),
        );
        b.seq = [1000, 9000];
        b
    }

    /// What the flow is credited with, over this transport.
    fn credited(r: &Run, transport: crate::catalog::Transport) -> (Basis, Vec<&str>) {
        let label = r.catalog.lookup_port(transport, LDAP_PORT);
        let a = attribute(&r.catalog, Some(&r.evidence), label, Provenance::Port);
        let names = a
            .services
            .iter()
            .map(|&s| r.catalog.service(s).name.as_str())
            .collect();
        (a.basis, names)
    }

    #[test]
    fn a_cldap_ping_and_its_answer_name_the_domain_controller() {
        let mut r = run();
        let ask = message(
            7,
            0x63,
            &search("", 0, &ping_filter("corp.example"), &["Netlogon"]),
        );
        r.segment(proto::UDP, true, 0, &ask);
        let answer = logon_response(
            0x0000_01fd,
            "corp.example",
            "dc01.corp.example",
            "CORP",
            "Default-First-Site-Name",
        );
        // The entry and the search's done in one datagram, as domain controllers send them.
        let reply = [
            message(7, 0x64, &entry("", "Netlogon", &answer)),
            message(7, 0x65, &result(0)),
        ]
        .concat();
        r.segment(proto::UDP, false, 0, &reply);
        assert_eq!(
            r.found(),
            vec![
                ev("ldap", "searchRequest"),
                ev("ldap-ping", "request"),
                ev(
                    "ldap-ping",
                    "PDC GC LDAP DS KDC TIMESERV CLOSEST WRITABLE site \
                     Default-First-Site-Name dc01.corp.example domain corp.example"
                ),
            ]
        );
        assert_eq!(r.counters.get("ldap_messages"), 3);
        assert_eq!(r.counters.get("ldap_pings"), 1);
        assert_eq!(
            r.services(EvidenceKind::Ldap, None),
            ["Local Security Authority"]
        );
        assert_eq!(
            r.services(EvidenceKind::LdapPing, None),
            ["Local Security Authority", "Net Logon"]
        );
        // The undetermined pair (DFS, LSA) of udp/389 is settled by the evidence.
        assert_eq!(
            credited(&r, crate::catalog::Transport::Udp),
            (
                Basis::Evidence,
                vec!["Local Security Authority", "Net Logon"]
            )
        );
    }

    #[test]
    fn tcp_binds_say_how_they_authenticate() {
        let mut r = run();
        // A simple bind with a password, split into tiny segments, then its answer.
        let simple = message(1, 0x60, &bind("cn=admin,dc=example,dc=com", 0x80, b"pw"));
        r.send(true, &simple, 3);
        r.send(false, &message(1, 0x61, &result(0)), 1460);
        // An anonymous bind and a SASL EXTERNAL bind in one segment.
        let anon = message(2, 0x60, &bind("", 0x80, b""));
        let ext = message(3, 0x60, &bind("", 0xa3, &sasl("EXTERNAL", None)));
        r.send(true, &[anon, ext].concat(), 1460);
        // Sicily: discovery, then NTLMSSP negotiate.
        r.send(true, &message(4, 0x60, &bind("", 0x89, b"")), 1460);
        r.send(
            true,
            &message(5, 0x60, &bind("", 0x8a, b"NTLMSSP\0\x01\0\0\0")),
            1460,
        );
        assert_eq!(
            r.found(),
            vec![
                ev("ldap", "bindRequest"),
                ev("ldap-bind", "simple (password in clear)"),
                ev("auth", "clear password cn=admin,dc=example,dc=com"),
                ev("ldap-bind", "simple anonymous"),
                ev("auth", "anonymous"),
                ev("ldap-bind", "SASL EXTERNAL"),
                ev("auth", "other"),
                ev("ldap-bind", "NTLM (package discovery)"),
            ]
        );
        // The fifth bind is past the cap: not recorded.
        assert_eq!(r.counters.get("ldap_messages"), 6);
        assert_eq!(r.counters.get("ldap_clear_passwords"), 1);
        assert!(r.services(EvidenceKind::LdapBind, None).is_empty());
        assert_eq!(
            credited(&r, crate::catalog::Transport::Tcp),
            (Basis::Evidence, vec!["Local Security Authority"])
        );
    }

    #[test]
    fn starttls_is_recorded_and_the_tls_after_it_stops_the_streams() {
        let mut r = run();
        r.send(true, &message(1, 0x77, &el(0x80, wire::STARTTLS_OID)), 1460);
        let mut resp = result(0);
        resp.extend(el(0x8a, wire::STARTTLS_OID));
        r.send(false, &message(1, 0x78, &resp), 1460);
        // A TLS ClientHello and ServerHello.
        r.send(true, &[0x16, 0x03, 0x01, 0x00, 0x05, 1, 0, 0, 1, 0], 1460);
        r.send(false, &[0x16, 0x03, 0x03, 0x00, 0x05, 2, 0, 0, 1, 0], 1460);
        assert_eq!(
            r.found(),
            vec![ev("ldap", "extendedReq"), ev("ldap-starttls", "")]
        );
        assert_eq!(r.counters.get("ldap_unreadable"), 2);
        assert_eq!(r.steps.last(), Some(&Step::Done));
        assert_eq!(r.inspector.held(), 0);
    }

    #[test]
    fn what_is_not_ldap_is_counted_not_recorded() {
        let mut r = run();
        // The fixture generator's noise on udp/389, HTTP on tcp/389.
        r.segment(
            proto::UDP,
            true,
            0,
            &[0x30, 0x84, 0, 0, 0, 0x10, 0x5a, 0x5a],
        );
        r.segment(proto::UDP, true, 0, b"\x30\x03\x02\x01\x01");
        r.send(true, b"GET / HTTP/1.1\r\n\r\n", 1460);
        assert!(r.found().is_empty());
        assert_eq!(r.counters.get("ldap_messages"), 0);
        assert_eq!(r.counters.get("ldap_unreadable"), 3);
        assert_eq!(
            credited(&r, crate::catalog::Transport::Tcp).0,
            Basis::Candidates
        );
    }

    proptest::proptest! {
        #![proptest_config(crate::testing::proptest_config(64))]

        /// Messages, noise, gaps and retransmissions in any mix: no panic, and what is held stays
        /// within one message per direction.
        #[test]
        fn any_segments_keep_the_bounds(
            pieces in proptest::collection::vec(
                (proptest::prelude::any::<bool>(), 0u8..4, proptest::prelude::any::<u8>()),
                1..30,
            ),
        ) {
            let mut r = run();
            let messages = [
                message(1, 0x60, &bind("cn=x", 0x80, b"pw")),
                message(2, 0x63, &search("", 0, &ping_filter("x"), &["Netlogon"])),
                message(2, 0x64, &entry("", "Netlogon", &logon_response(5, "a.b", "h.a.b", "A", "S"))),
                vec![0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x02],
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
                proptest::prop_assert!(r.inspector.held() <= 2 * wire::MAX_MESSAGE);
                proptest::prop_assert!(r.evidence.len() <= crate::inspect::MAX_EVIDENCE);
            }
        }
    }
}
