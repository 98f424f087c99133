//! Learn: what one conversation tells about conversations between other hosts, the same in every
//! worker.
//!
//! Two kinds of traffic speak of other hosts' flows:
//!
//! - a DNS answer names addresses (`fs01.corp.example` is 192.0.2.20): the [`Names`] table, which
//!   every report uses to show names next to addresses;
//! - a Kerberos TGS-REQ says that a client is about to use a service on a named host (a ticket for
//!   `MSSQLSvc/sql01.corp.example:1433`): the tickets table. When that client's flow to an address
//!   the host name resolves to ends, [`Learner::ticket_for`] gives the ticket as evidence for the
//!   flow (kind `kerberos-ticket`), which names the service even when the flow itself is encrypted
//!   (HTTPS with Negotiate, RDP).
//!
//! Both cross address pairs, and classifier workers are sharded by address pair. So every worker
//! reads them from every packet of its batches, its own and the others' (the capture thread sends
//! each worker the whole batch and lists the packets worth learning from, see
//! `tracker::shard_batch`), in capture order: every worker knows the same at the same packet, and
//! the results do not depend on `--workers`. Only DNS answers (UDP or TCP source port 53) and
//! Kerberos requests (UDP or TCP destination port 88) are read; everything else costs one port
//! check.
//!
//! Bounded, per worker (each holds the whole table, not a share): [`MAX_CLIENTS`] clients with
//! [`MAX_TICKETS`] tickets each (the oldest client goes first; a ticket older than
//! [`TICKET_WINDOW`] is not used), [`MAX_STREAMS`] Kerberos TCP streams being read with at most
//! [`MAX_STREAM_BYTES`] buffered across them (a stream that would pass it is dropped), and the
//! names table's own bounds.

use crate::bounded::BoundedMap;
use crate::catalog::{Catalog, LabelId, NameId, NameKind, ServiceId};
use crate::decode::{proto, Addr, Decoded};
use crate::time::Ts;
use crate::wire::kerberos::{self as krb, Kind, Message, RecordStream};

use super::evidence::{Evidence, EvidenceKind, Value};
use super::names::Names;
use super::Counter;

/// Flows a ticket asked for before them credited (counted by the worker that owns the flow).
pub static TICKET_FLOWS: Counter = Counter {
    key: "flows_credited_by_tickets",
    text: "flows credited by a Kerberos ticket asked for before them",
};

/// Clients whose tickets are remembered.
pub const MAX_CLIENTS: usize = 8_192;
/// Distinct tickets remembered per client (the oldest gives way).
pub const MAX_TICKETS: usize = 8;
/// How long a ticket asked for credits the client's flows: Windows' default ticket lifetime.
pub const TICKET_WINDOW: i64 = 10 * 3_600 * 1_000_000_000;
/// Kerberos TCP request streams read at once.
pub const MAX_STREAMS: usize = 1_024;
/// Bytes of partial Kerberos records held across those streams.
pub const MAX_STREAM_BYTES: usize = 2 << 20;
/// A stream idle this long is forgotten.
const STREAM_IDLE: i64 = 120 * 1_000_000_000;

/// A service ticket a client asked the KDC for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Asked {
    /// The service principal as sent (`MSSQLSvc/sql01.corp.example:1433`).
    pub spn: Box<str>,
    /// Its host, lower case, without a trailing dot (`sql01.corp.example`).
    pub host: Box<str>,
    /// The port the principal names (`:1433`), if any.
    pub port: Option<u16>,
    /// The catalog's entry for its service class.
    pub class: Option<NameId>,
    pub ts: Ts,
}

struct Stream {
    records: RecordStream,
    last: Ts,
}

/// What the traffic told about other hosts' flows (one per worker, all alike).
pub struct Learner {
    pub names: Names,
    tickets: BoundedMap<Addr, Vec<Asked>>,
    streams: BoundedMap<(Addr, u16, Addr), Stream>,
    buffered: usize,
    /// When idle streams were last forgotten (trace time of the packets learnt from, so that every
    /// worker forgets them at the same packet).
    last_expire: Ts,
}

impl Default for Learner {
    fn default() -> Learner {
        Learner::new()
    }
}

/// Whether a packet is one the learner reads: a DNS answer or a Kerberos request with payload.
#[inline]
pub fn wants(d: &Decoded<'_>) -> bool {
    match d.ports {
        Some((sp, dp)) if !d.payload.is_empty() => {
            (d.protocol == proto::UDP || d.protocol == proto::TCP) && (sp == 53 || dp == 88)
        }
        _ => false,
    }
}

impl Learner {
    pub fn new() -> Learner {
        Learner {
            names: Names::default(),
            tickets: BoundedMap::new(MAX_CLIENTS),
            streams: BoundedMap::new(MAX_STREAMS),
            buffered: 0,
            last_expire: Ts::MIN,
        }
    }

    /// Reads one packet that [`wants`] accepted.
    pub fn packet(&mut self, catalog: &Catalog, d: &Decoded<'_>, ts: Ts) {
        let Some((sp, dp)) = d.ports else { return };
        if ts.saturating_sub(self.last_expire) >= STREAM_IDLE / 4 {
            self.last_expire = ts;
            self.expire(ts);
        }
        if sp == 53 {
            self.dns(d);
        }
        if dp != 88 {
            return;
        }
        if d.protocol == proto::UDP {
            self.kerberos(catalog, d.src, d.payload, ts);
            return;
        }
        let key = (d.src, sp, d.dst);
        let mut stream = match self.streams.remove(&key) {
            Some(s) => s,
            None if krb::record_start(d.payload) == Some(false) => return,
            None => Stream {
                records: RecordStream::default(),
                last: ts,
            },
        };
        self.buffered -= stream.records.buffered();
        let mut messages = Vec::new();
        stream.records.push(d.tcp_seq, d.payload, |m| {
            // A TGS-REQ is all the learner reads: keep just those.
            if m.first()
                .is_some_and(|&t| Kind::of_tag(t) == Some(Kind::TgsReq))
            {
                messages.push(m.to_vec());
            }
        });
        for m in &messages {
            self.kerberos(catalog, d.src, m, ts);
        }
        let held = stream.records.buffered();
        if self.buffered + held > MAX_STREAM_BYTES {
            return;
        }
        self.buffered += held;
        stream.last = ts;
        if let Some(old) = self.streams.insert_evicting(key, stream) {
            self.buffered -= old.records.buffered();
        }
    }

    fn dns(&mut self, d: &Decoded<'_>) {
        let msg = if d.protocol == proto::UDP {
            d.payload
        } else {
            // DNS over TCP: a segment that begins a length-prefixed message holding all of it.
            match d.payload {
                [hi, lo, rest @ ..] => rest
                    .get(..usize::from(u16::from_be_bytes([*hi, *lo])))
                    .unwrap_or(&[]),
                _ => &[],
            }
        };
        if let Some(r) = crate::wire::dns::response(msg) {
            for a in &r.addresses {
                self.names.learn(Addr::from(a.addr), &a.name);
            }
        }
    }

    fn kerberos(&mut self, catalog: &Catalog, client: Addr, m: &[u8], ts: Ts) {
        let Ok(Message::Request(r)) = Message::parse(m) else {
            return;
        };
        if r.kind != Kind::TgsReq {
            return;
        }
        let Some(sname) = r.sname else { return };
        let spn = sname.text();
        let Some((host, port)) = spn_host(&spn) else {
            return;
        };
        let asked = Asked {
            class: catalog.name_id(NameKind::Principal, &spn),
            host: host.into(),
            port,
            spn: spn.into(),
            ts,
        };
        let mut list = self.tickets.remove(&client).unwrap_or_default();
        list.retain(|a| a.spn != asked.spn);
        if list.len() >= MAX_TICKETS {
            list.remove(0);
        }
        list.push(asked);
        self.tickets.insert(client, list);
    }

    /// Kerberos streams being read and the bytes they hold (for bounds checks).
    pub fn held(&self) -> (usize, usize) {
        (self.streams.len(), self.buffered)
    }

    /// Clients with tickets remembered, and the most tickets any holds (for bounds checks).
    pub fn tickets_held(&self) -> usize {
        self.tickets.len()
    }

    /// Forgets Kerberos streams idle for two minutes.
    pub fn expire(&mut self, now: Ts) {
        let mut freed = 0;
        self.streams.expire(|s| {
            let old = now.saturating_sub(s.last) > STREAM_IDLE;
            if old {
                freed += s.records.buffered();
            }
            old
        });
        self.buffered -= freed;
    }

    /// The ticket that backs a flow from `client` to `server` on `port` with `label`: one the client
    /// asked for within [`TICKET_WINDOW`] before `first_ts`, whose host resolves to the server (by
    /// the names DNS answers gave, the server name the flow's own TLS ClientHello sent, or as its
    /// literal address), whose port (when it names one) is
    /// the flow's, and whose service class names exactly one of the label's candidate services; of
    /// several, the most specific class, then the newest.
    pub fn ticket_for(
        &self,
        catalog: &Catalog,
        client: Addr,
        (server, port): (Addr, u16),
        label: LabelId,
        first_ts: Ts,
        sni: Option<&str>,
    ) -> Option<Evidence> {
        let asked = self.tickets.get(&client)?;
        let names = self.names.of(server);
        let sni: Option<Box<str>> = sni.map(|n| n.to_ascii_lowercase().into());
        // The most specific class first (`HTTP` before `host`, which covers twenty services),
        // then the newest.
        let mut best: Option<(usize, &Asked, NameId)> = None;
        for a in asked.iter().rev() {
            let live = a.ts <= first_ts && first_ts - a.ts <= TICKET_WINDOW;
            if !live || a.port.is_some_and(|p| p != port) {
                continue;
            }
            let named = resolves(&a.host, names, server)
                || sni
                    .as_ref()
                    .is_some_and(|n| resolves(&a.host, std::slice::from_ref(n), server));
            if !named {
                continue;
            }
            let Some(class) = a.class else { continue };
            if common_services(catalog, class, label).count() != 1 {
                continue;
            }
            let breadth = catalog.name(class).services.len();
            if best.is_none_or(|(b, _, _)| breadth < b) {
                best = Some((breadth, a, class));
            }
        }
        let (_, a, class) = best?;
        Some(Evidence {
            kind: EvidenceKind::KerberosTicket,
            value: Value::Text(a.spn.clone()),
            label: Some(label),
            name: Some(class),
        })
    }
}

/// The services both a service class and a label name, in the class's order.
pub fn common_services(
    catalog: &Catalog,
    class: NameId,
    label: LabelId,
) -> impl Iterator<Item = &ServiceId> + '_ {
    let candidates = &catalog.label(label).services;
    catalog
        .name(class)
        .services
        .iter()
        .filter(move |s| candidates.contains(s))
}

/// The host and port of a service principal: its second component, lower case, without a
/// trailing dot, the port when what follows `:` is a number (`MSSQLSvc/sql01:1433`; an instance
/// name is no port).
pub fn spn_host(spn: &str) -> Option<(String, Option<u16>)> {
    let mut parts = spn.split('/');
    parts.next()?;
    let host = parts.next()?;
    let (host, port) = match host.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (h, p.parse::<u16>().ok()),
        _ => (host, None),
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty()).then_some((host, port))
}

/// Whether a principal's host is this server: one of the names DNS answers gave it, the first
/// label of one (a principal may name the host alone: `cifs/fs01`), or its address written out.
pub fn resolves(host: &str, names: &[Box<str>], server: Addr) -> bool {
    names.iter().any(|n| {
        let n = n.trim_end_matches('.');
        n.eq_ignore_ascii_case(host)
            || (!host.contains('.')
                && n.len() > host.len()
                && n.as_bytes()[host.len()] == b'.'
                && n[..host.len()].eq_ignore_ascii_case(host))
    }) || ip_literal(host) == Some(server)
}

/// The address `host` writes out (IPv4 dotted, or IPv6), if it is one. The parser is asked only
/// when it could be (a digit first, or a colon): host names mostly start with a letter.
pub fn ip_literal(host: &str) -> Option<Addr> {
    let could_be = host.as_bytes().first().is_some_and(u8::is_ascii_digit) || host.contains(':');
    could_be
        .then(|| host.parse::<std::net::IpAddr>().ok().map(Addr::from))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Fragment;
    use crate::wire::kerberos::tests as build;

    fn a(s: &str) -> Addr {
        Addr::from(s.parse::<std::net::IpAddr>().unwrap())
    }

    fn packet<'a>(
        protocol: u8,
        src: &str,
        dst: &str,
        ports: (u16, u16),
        seq: u32,
        payload: &'a [u8],
    ) -> Decoded<'a> {
        Decoded {
            ip_version: 4,
            src: a(src),
            dst: a(dst),
            protocol,
            ports: Some(ports),
            tcp_flags: 0x18,
            tcp_seq: seq,
            fragment: Fragment::None,
            payload,
        }
    }

    fn tgs_req(sname: &[&str]) -> Vec<u8> {
        build::kdc_req(true, None, "CORP.EXAMPLE", sname, &[18], 18)
    }

    #[test]
    fn principal_hosts_and_ports_are_read_and_resolved_by_name_or_address() {
        assert_eq!(
            spn_host("MSSQLSvc/SQL01.corp.example.:1433"),
            Some(("sql01.corp.example".into(), Some(1433)))
        );
        assert_eq!(
            spn_host("MSSQLSvc/sql01:UDDI"),
            Some(("sql01".into(), None))
        );
        assert_eq!(
            spn_host("ldap/dc01.corp.example/corp.example"),
            Some(("dc01.corp.example".into(), None))
        );
        assert_eq!(spn_host("krbtgt"), None);
        assert_eq!(spn_host("HTTP/"), None);
        let names: Vec<Box<str>> = vec!["sql01.corp.example".into()];
        let s = a("192.0.2.30");
        assert!(resolves("sql01.corp.example", &names, s));
        assert!(resolves("SQL01", &names, s));
        assert!(!resolves("sql0", &names, s));
        assert!(!resolves("sql01.corp", &names, s));
        assert!(!resolves("sql02.corp.example", &names, s));
        assert!(resolves("192.0.2.30", &[], s));
        assert!(!resolves("192.0.2.31", &[], s));
        assert!(resolves("2001:db8::30", &[], a("2001:db8::30")));
        assert_eq!(ip_literal("192.0.2.30"), Some(a("192.0.2.30")));
        assert_eq!(ip_literal("::1"), Some(a("::1")));
        assert_eq!(ip_literal("sql01"), None);
        assert_eq!(ip_literal("1host.corp.example"), None);
    }

    #[test]
    fn a_ticket_asked_for_credits_the_clients_later_flow_to_the_host_it_names() {
        let c = Catalog::builtin();
        let mut l = Learner::new();
        let (client, kdc, sql) = ("192.0.2.101", "192.0.2.10", "192.0.2.30");
        // The answer naming sql01, then the TGS-REQ over TCP split across two segments.
        let answer = crate::wire::dns::tests::build(
            "sql01.corp.example",
            &[(None, 1, vec![192, 0, 2, 30])],
            false,
        );
        let d = packet(proto::UDP, kdc, client, (53, 51000), 0, &answer);
        assert!(wants(&d));
        l.packet(&c, &d, 1);
        let rec = build::record(&tgs_req(&["MSSQLSvc", "sql01.corp.example:1433"]));
        let (x, y) = rec.split_at(rec.len() / 2);
        for (seq, part) in [(1000, x), (1000 + x.len() as u32, y)] {
            let d = packet(proto::TCP, client, kdc, (50000, 88), seq, part);
            assert!(wants(&d));
            l.packet(&c, &d, 2);
        }
        let label = c.lookup_port(crate::catalog::Transport::Tcp, 1433).unwrap();
        let e = l
            .ticket_for(&c, a(client), (a(sql), 1433), label, 10, None)
            .expect("credited");
        assert_eq!(e.kind, EvidenceKind::KerberosTicket);
        assert_eq!(
            e.value.text().as_deref(),
            Some("MSSQLSvc/sql01.corp.example:1433")
        );
        let services: Vec<&str> = e
            .services(&c)
            .iter()
            .map(|&s| c.services[usize::from(s)].name.as_str())
            .collect();
        assert_eq!(services, ["MSSQLSERVER"]);
        // Not another client, not another server, not another port, not before it was asked,
        // not once the ticket's lifetime is over.
        assert!(l
            .ticket_for(&c, a("192.0.2.102"), (a(sql), 1433), label, 10, None)
            .is_none());
        assert!(l
            .ticket_for(&c, a(client), (a(kdc), 1433), label, 10, None)
            .is_none());
        assert!(l
            .ticket_for(&c, a(client), (a(sql), 1434), label, 10, None)
            .is_none());
        assert!(l
            .ticket_for(&c, a(client), (a(sql), 1433), label, 1, None)
            .is_none());
        assert!(l
            .ticket_for(
                &c,
                a(client),
                (a(sql), 1433),
                label,
                3 + TICKET_WINDOW,
                None
            )
            .is_none());
        assert_eq!(l.buffered, 0);
    }

    #[test]
    fn a_class_that_names_none_or_several_of_the_ports_candidates_credits_nothing() {
        let c = Catalog::builtin();
        let mut l = Learner::new();
        let (client, server) = ("192.0.2.101", "192.0.2.20");
        for sname in [&["HTTP", "192.0.2.20"][..], &["host", "192.0.2.20"]] {
            let msg = tgs_req(sname);
            l.packet(
                &c,
                &packet(proto::UDP, client, "192.0.2.10", (50001, 88), 0, &msg),
                5,
            );
        }
        let smb = c.lookup_port(crate::catalog::Transport::Tcp, 445).unwrap();
        let https = c.lookup_port(crate::catalog::Transport::Tcp, 443).unwrap();
        let e = l.ticket_for(&c, a(client), (a(server), 443), https, 9, None);
        assert_eq!(
            e.map(|e| e.value.text()),
            Some(Some("HTTP/192.0.2.20".to_string()))
        );
        // Without a DNS answer, the flow's own TLS server name says which host it went to.
        let msg = tgs_req(&["HTTP", "portal.corp.example"]);
        l.packet(
            &c,
            &packet(proto::UDP, client, "192.0.2.10", (50002, 88), 0, &msg),
            6,
        );
        let portal = a("192.0.2.50");
        assert!(l
            .ticket_for(&c, a(client), (portal, 443), https, 9, None)
            .is_none());
        let e = l.ticket_for(
            &c,
            a(client),
            (portal, 443),
            https,
            9,
            Some("Portal.corp.example"),
        );
        assert_eq!(
            e.and_then(|e| e.value.text()).as_deref(),
            Some("HTTP/portal.corp.example")
        );
        assert!(l
            .ticket_for(
                &c,
                a(client),
                (portal, 443),
                https,
                9,
                Some("www.corp.example")
            )
            .is_none());
        // HTTP names none of SMB's candidates; `host` covers many services, and credits the flow
        // only if exactly one of them is one of SMB's.
        let host = c.name_id(NameKind::Principal, "host/x").unwrap();
        let one = common_services(&c, host, smb).count() == 1;
        let e = l.ticket_for(&c, a(client), (a(server), 445), smb, 9, None);
        assert_eq!(
            e.map(|e| e.value.text()),
            one.then(|| Some("host/192.0.2.20".to_string()))
        );
    }

    #[test]
    fn streams_and_tickets_stay_within_their_bounds_under_a_flood() {
        let c = Catalog::builtin();
        let mut l = Learner::new();
        // Half records from many client ports: each held until the byte budget stops them.
        let rec = build::record(&tgs_req(&["cifs", "fs01"]));
        let half = &rec[..rec.len() - 1];
        for i in 0..(MAX_STREAMS as u32 * 4) {
            let d = packet(
                proto::TCP,
                "192.0.2.101",
                "192.0.2.10",
                (i as u16, 88),
                7,
                half,
            );
            l.packet(&c, &d, i64::from(i));
        }
        // Every stream kept holds its half record, and only those are counted.
        assert!(l.streams.len() <= MAX_STREAMS);
        assert!(l.buffered <= MAX_STREAM_BYTES);
        assert_eq!(l.buffered, l.streams.len() * half.len());
        assert!(l.streams.len() >= MAX_STREAMS.min(MAX_STREAM_BYTES / half.len()) - 1);
        l.expire(i64::from(MAX_STREAMS as u32 * 4) + STREAM_IDLE + 1);
        assert_eq!((l.streams.len(), l.buffered), (0, 0));
        // Tickets from many clients, many each.
        let msg = tgs_req(&["cifs", "fs01"]);
        for i in 0..(MAX_CLIENTS as u32 + 10) {
            let src = Addr::from_v4([10, (i >> 16) as u8, (i >> 8) as u8, i as u8]);
            let mut d = packet(proto::UDP, "192.0.2.1", "192.0.2.10", (1, 88), 0, &msg);
            d.src = src;
            l.packet(&c, &d, 0);
        }
        assert_eq!(l.tickets.len(), MAX_CLIENTS);
        for k in 0..20 {
            let msg = tgs_req(&["cifs", &format!("fs{k:02}")]);
            l.packet(
                &c,
                &packet(proto::UDP, "192.0.2.7", "192.0.2.10", (1, 88), 0, &msg),
                0,
            );
        }
        assert_eq!(l.tickets.get(&a("192.0.2.7")).unwrap().len(), MAX_TICKETS);
    }

    proptest::proptest! {
        /// A TGS-REQ over TCP cut anywhere, its segments repeated or left out: never a panic, the
        /// bytes held are the streams', and delivered whole and in order it is learnt.
        #[test]
        fn a_request_cut_and_shuffled_anywhere_stays_bounded(
            cuts in proptest::collection::vec(1usize..400, 0..8),
            order in proptest::collection::vec(0usize..16, 0..24),
            junk in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
        ) {
            let c = Catalog::builtin();
            let rec = build::record(&tgs_req(&["TERMSRV", "ts01.corp.example"]));
            let mut pieces = Vec::new();
            let mut at = 0usize;
            for cut in cuts {
                if at + cut >= rec.len() {
                    break;
                }
                pieces.push((at, at + cut));
                at += cut;
            }
            pieces.push((at, rec.len()));
            let client = "192.0.2.101";
            let send = |l: &mut Learner, (from, to): (usize, usize), port: u16| {
                let d = packet(proto::TCP, client, "192.0.2.10", (port, 88), 1000 + from as u32, &rec[from..to]);
                l.packet(&c, &d, 1);
            };
            let mut shuffled = Learner::new();
            for &i in &order {
                send(&mut shuffled, pieces[i % pieces.len()], 50000);
            }
            let d = packet(proto::TCP, client, "192.0.2.10", (50000, 88), 7, &junk);
            shuffled.packet(&c, &d, 2);
            let (streams, bytes) = shuffled.held();
            proptest::prop_assert!(streams <= 1 && bytes <= rec.len() + junk.len());
            let mut whole = Learner::new();
            for &p in &pieces {
                send(&mut whole, p, 50001);
            }
            whole.names.learn(a("192.0.2.40"), "ts01.corp.example");
            let rdp = c.lookup_port(crate::catalog::Transport::Tcp, 3389).unwrap();
            proptest::prop_assert!(whole.ticket_for(&c, a(client), (a("192.0.2.40"), 3389), rdp, 5, None).is_some());
            proptest::prop_assert_eq!(whole.held(), (1, 0));
        }
    }
}
