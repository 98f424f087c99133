//! `domain.pcapng`: about ten minutes of a small Windows domain.

use crate::capture::{ip, sa, Capture, FlowId, Iface, IpConv, Tcp, Udp, Wire, MS, SEC};
use crate::dcerpc as rpc;
use crate::fixtures::*;
use crate::gss;
use crate::packet::{self as pk, Link};
use crate::payload::{self as pl, Rr};
use crate::smb_scenarios as smb;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};

const DC: &str = "192.0.2.10";
const DC2: &str = "192.0.2.11";
const FS: &str = "192.0.2.20";
const SQLS: &str = "192.0.2.30";
const TS: &str = "192.0.2.40";
const GW: &str = "192.0.2.1";
const WEB: &str = "192.0.2.50";
const PPTP_CLIENT: &str = "203.0.113.50";
const IKE_CLIENT: &str = "203.0.113.60";
const EXT: &str = "198.51.100.7";

/// A workstation's computer name from its address: 192.0.2.105 is WS105.
fn workstation(host: &str) -> String {
    format!("WS{}", host.rsplit('.').next().unwrap_or("0"))
}

/// The random seed of one SMB conversation, from its client endpoint: the SMB scenarios draw
/// from streams of their own (see [`Capture::with_rng`]).
fn conv_seed(c: SocketAddr) -> u64 {
    let ip = match c.ip() {
        std::net::IpAddr::V4(a) => u64::from(u32::from(a)),
        std::net::IpAddr::V6(a) => u128::from(a) as u64,
    };
    (ip << 16 | u64::from(c.port())) ^ 0x5eed_5b00_0000_0000
}

/// Domain users, one per workstation in turn.
const USERS: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
];

/// Ephemeral port allocation per client (Windows: 49152 upwards).
struct Ports(BTreeMap<String, u16>);

impl Ports {
    fn next(&mut self, host: &str) -> u16 {
        let last: u16 = host
            .rsplit('.')
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1);
        let p = self
            .0
            .entry(host.to_string())
            .or_insert(49152 + (last * 53) % 3000);
        *p += 1;
        *p
    }
}

struct Dom {
    cap: Capture,
    ports: Ports,
    w: Wire,
    /// One flow per host for its browser announcements (same 5-tuple every time).
    announce: BTreeMap<String, FlowId>,
}

impl Dom {
    fn port(&mut self, host: &str) -> SocketAddr {
        let p = self.ports.next(host);
        sa(host, p)
    }

    fn jitter(&mut self, max_us: u64) -> u64 {
        self.cap.rng.below(max_us + 1)
    }

    fn dns(&mut self, client: &str, t: u64, name: &str, qtype: u16, answers: &[Rr]) -> u64 {
        let c = self.port(client);
        let w = self.w.clone();
        dns_udp(&mut self.cap, c, sa(DC, 53), t, &w, name, qtype, answers)
    }

    fn dns_a(&mut self, client: &str, t: u64, name: &str, addr: &str) -> u64 {
        let a: Ipv4Addr = addr.parse().expect("v4");
        self.dns(client, t, name, pl::DNS_A, &[Rr::a(a)])
    }

    fn krb_tcp(&mut self, client: &str, t: u64, tag: u8) -> u64 {
        let c = self.port(client);
        let w = self.w.clone();
        kerberos_tcp(&mut self.cap, c, sa(DC, 88), t, &w, tag)
    }

    /// A TGS exchange for `service` (its ticket in `etype`), as a client does before it connects.
    fn krb_ticket(&mut self, client: &str, t: u64, service: &[&str], etype: u32) -> u64 {
        let c = self.port(client);
        let w = self.w.clone();
        let user = format!("user{}", client.rsplit('.').next().unwrap_or("0"));
        let x = gss::KdcExchange {
            realm: REALM,
            client: &user,
            service,
            ticket_etype: etype,
        };
        kerberos_tcp_with(&mut self.cap, c, sa(DC, 88), t, &w, true, &x)
    }

    fn ntp(&mut self, client: &str, server: &str, t: u64) -> u64 {
        let c = self.port(client);
        let w = self.w.clone();
        let mut u = Udp::new(&mut self.cap, c, sa(server, 123), t, &w, NTP);
        let secs = 1_709_542_800 + t / SEC;
        let q = pl::ntp(&mut self.cap.rng, false, secs);
        u.send(&mut self.cap, true, 0, &q);
        let a = pl::ntp(&mut self.cap.rng, true, secs);
        let gap = 400 + self.jitter(800);
        u.send(&mut self.cap, false, gap, &a);
        u.t
    }

    /// A full domain logon: DNS SRV -> CLDAP ping -> Kerberos AS (UDP, then TCP) and TGS -> SMB to
    /// SYSVOL -> RPC endpoint mapper + dynamic port -> LDAP (-> Global Catalog) -> NTP.
    fn logon(&mut self, client: &str, t0: u64, gc: bool) -> u64 {
        let w = self.w.clone();
        let mut t = self.dns(
            client,
            t0,
            "_ldap._tcp.dc._msdcs.corp.example",
            pl::DNS_SRV,
            &[Rr::srv(389, "dc01.corp.example")],
        ) + MS;
        t = self.dns_a(client, t, "dc01.corp.example", DC) + 2 * MS;
        // CLDAP ping.
        let c = self.port(client);
        let mut u = Udp::new(&mut self.cap, c, sa(DC, 389), t, &w, CLDAP);
        // (The filler these messages replaced is still drawn: the rest of the capture stays.)
        pl::ldap(&mut self.cap.rng, 1, pl::LDAP_SEARCH_REQ, 208);
        pl::ldap(&mut self.cap.rng, 1, pl::LDAP_SEARCH_ENTRY, 174);
        let q = crate::ldap::ping(1, "corp.example", "WS01");
        u.send(&mut self.cap, true, 0, &q);
        // PDC GC LDAP DS KDC TIMESERV CLOSEST WRITABLE GOOD_TIMESERV FULL_SECRET ADWS DS8 DS9.
        let nl = crate::ldap::logon_response(
            &mut crate::rng::Rng::new(0x1da9_0000 ^ u64::from(c.port())),
            0x0000_f3fd,
            "corp.example",
            "dc01.corp.example",
            "CORP",
            "Default-First-Site-Name",
        );
        let a = [
            crate::ldap::entry(1, "", &[("Netlogon", vec![nl])]),
            crate::ldap::search_done(1),
        ]
        .concat();
        u.send(&mut self.cap, false, 600, &a);
        t = u.t + 4 * MS;
        // Kerberos AS-REQ over UDP without pre-authentication: KRB-ERROR (pre-auth required).
        let c = self.port(client);
        let mut k = Udp::new(&mut self.cap, c, sa(DC, 88), t, &w, KRB);
        let user = format!("user{}", client.rsplit('.').next().unwrap_or("0"));
        let x = gss::KdcExchange {
            realm: REALM,
            client: &user,
            service: &[],
            ticket_etype: gss::ETYPE_AES256_CTS,
        };
        let q = gss::kdc_req(&mut self.cap.rng, &x, false, false, 236);
        k.send(&mut self.cap, true, 0, &q);
        let e = gss::krb_error_preauth(&x, 192);
        k.send(&mut self.cap, false, 900, &e);
        t = k.t + 3 * MS;
        t = self.krb_tcp(client, t, pl::KRB_AS_REQ) + 2 * MS;
        t = self.krb_tcp(client, t, pl::KRB_TGS_REQ) + 2 * MS;
        // SMB to the DC: IPC$ pipes, the SYSVOL referral and the group policy files; runs while
        // the rest goes on.
        let c = self.port(client);
        let ws = workstation(client);
        self.cap.with_rng(conv_seed(c), |cap| {
            smb::dc_group_policy(cap, c, sa(DC, 445), t, &w, &ws)
        });
        t += 60 * MS;
        // The endpoint mapper asked for Net Logon, then the dynamic port it handed out, within a
        // second: the secure channel's challenge.
        let c = self.port(client);
        let epm_end = self.cap.with_rng(conv_seed(c), |cap| {
            epm_lookup(
                cap,
                c,
                sa(DC, 135),
                t,
                &w,
                rpc::NETLOGON,
                49667,
                [192, 0, 2, 10],
            )
        });
        let c = self.port(client);
        let dyn_start = epm_end + 40 * MS + self.jitter(500 * MS);
        let dyn_end = self.cap.with_rng(conv_seed(c), |cap| {
            netlogon_call(cap, c, sa(DC, 49667), dyn_start, &w, &ws)
        });
        t = dyn_end + 20 * MS;
        let c = self.port(client);
        t = ldap_session_tcp(&mut self.cap, c, sa(DC, 389), t, &w, LDAP) + 30 * MS;
        if gc {
            let c = self.port(client);
            t = ldap_session_tcp(&mut self.cap, c, sa(DC, 3268), t, &w, GC) + 30 * MS;
        }
        self.ntp(client, DC, t + 2 * SEC)
    }

    fn netbios_register(&mut self, host: &str, name: &str, t: u64) {
        let w = self.w.clone();
        let src: Ipv4Addr = host.parse().expect("v4");
        let mut b = Udp::new(
            &mut self.cap,
            sa(host, 137),
            sa("192.0.2.255", 137),
            t,
            &w,
            NBNS,
        );
        let id = self.cap.rng.next_u32() as u16;
        for i in 0..3 {
            b.send(
                &mut self.cap,
                true,
                if i == 0 { 0 } else { 750 * MS },
                &pl::nbns(id, name, 0x00, true, src),
            );
        }
    }

    fn netbios_query(&mut self, host: &str, name: &str, t: u64) {
        let w = self.w.clone();
        let src: Ipv4Addr = host.parse().expect("v4");
        let id = self.cap.rng.next_u32() as u16;
        let f = self
            .cap
            .flow("UDP", sa(host, 137), sa("192.0.2.255", 137), NBNS);
        self.cap.udp(
            t,
            &w,
            Some((f, true)),
            sa(host, 137),
            sa("192.0.2.255", 137),
            &pl::nbns(id, name, 0x20, false, src),
        );
    }

    fn browser_announce(&mut self, host: &str, name: &str, t: u64) {
        let w = self.w.clone();
        let src: Ipv4Addr = host.parse().expect("v4");
        let id = self.cap.rng.next_u32() as u16;
        let p = pl::nbdgm_announce(&mut self.cap.rng, id, src, name, "CORP");
        let f = match self.announce.get(host) {
            Some(&f) => f,
            None => {
                let f = self
                    .cap
                    .flow("UDP", sa(host, 138), sa("192.0.2.255", 138), NBDGM);
                self.announce.insert(host.to_string(), f);
                f
            }
        };
        self.cap.udp(
            t,
            &w,
            Some((f, true)),
            sa(host, 138),
            sa("192.0.2.255", 138),
            &p,
        );
    }

    /// A user's session on the file server: the Projects share and `net view`.
    fn smb_fs(&mut self, client: &str, t: u64, size: usize) -> u64 {
        let c = self.port(client);
        let w = self.w.clone();
        self.cap.with_rng(conv_seed(c), |cap| {
            smb::file_share(cap, c, sa(FS, 445), t, &w, size)
        })
    }

    /// Printing through the print server (the file server host), NTLMv2.
    fn smb_print(&mut self, client: &str, user: &str, t: u64) -> u64 {
        let c = self.port(client);
        let w = self.w.clone();
        let ws = workstation(client);
        self.cap.with_rng(conv_seed(c), |cap| {
            smb::print(cap, c, sa(FS, 445), t, &w, user, &ws)
        })
    }

    /// Legacy NetBIOS session (TCP 139) to the file server with SMB1 (NTLMv1 from a client still
    /// configured for it).
    fn nbss_fs(&mut self, client: &str, user: &str, t: u64, ntlm_v1: bool) -> u64 {
        let c = self.port(client);
        let w = self.w.clone();
        let ws = workstation(client);
        self.cap.with_rng(conv_seed(c), |cap| {
            smb::smb1_netbios(cap, c, sa(FS, 139), t, &w, user, &ws, ntlm_v1)
        })
    }

    fn rdp(&mut self, client: &str, t: u64, duration: u64) -> u64 {
        self.krb_ticket(
            client,
            t.saturating_sub(40 * MS),
            &["TERMSRV", "ts01.corp.example"],
            gss::ETYPE_AES256_CTS,
        );
        let c = self.port(client);
        let w = self.w.clone();
        let mut r = Tcp::new(&mut self.cap, c, sa(TS, 3389), t, &w, RDP);
        r.handshake(&mut self.cap);
        r.exchange(
            &mut self.cap,
            &pl::rdp_connect_request(),
            &pl::rdp_connect_confirm(),
        );
        let rng = &mut self.cap.rng;
        let hello = [
            (pl::tls(rng, 22, 190), pl::tls(rng, 22, 1380)),
            (pl::tls(rng, 22, 182), pl::tls(rng, 22, 59)),
            (pl::tls(rng, 23, 780), pl::tls(rng, 23, 260)),
            (pl::tls(rng, 23, 430), pl::tls(rng, 23, 3100)),
        ];
        for (q, a) in hello {
            r.exchange(&mut self.cap, &q, &a);
        }
        let end = t + duration;
        while r.t < end {
            let gap = 2 * SEC + self.jitter(5 * SEC);
            r.wait(gap);
            let ql = 40 + self.cap.rng.size(0, 120);
            let q = pl::tpkt(&mut self.cap.rng, ql);
            let al = if self.cap.rng.chance(0.2) {
                self.cap.rng.size(2000, 6000)
            } else {
                self.cap.rng.size(120, 1300)
            };
            let a = pl::tpkt(&mut self.cap.rng, al);
            r.exchange(&mut self.cap, &q, &a);
            r.ack(&mut self.cap, true);
        }
        r.close(&mut self.cap);
        r.t
    }

    fn http(&mut self, client: &str, t: u64) -> u64 {
        let c = self.port(client);
        let w = self.w.clone();
        let mut h = Tcp::new(&mut self.cap, c, sa(WEB, 80), t, &w, HTTP);
        h.handshake(&mut self.cap);
        for (path, body) in [("/", 5200), ("/css/site.css", 1800)] {
            let a = pl::http_response(&mut self.cap.rng, body);
            h.exchange(
                &mut self.cap,
                &pl::http_get("intranet.corp.example", path),
                &a,
            );
        }
        h.ack(&mut self.cap, true);
        h.wait(5 * SEC);
        h.close(&mut self.cap);
        h.t
    }

    fn https(
        &mut self,
        client: &str,
        host: &str,
        port: u16,
        t: u64,
        expect: &str,
        requests: usize,
    ) -> u64 {
        let c = self.port(client);
        let w = self.w.clone();
        let mut h = Tcp::new(&mut self.cap, c, sa(host, port), t, &w, expect);
        h.handshake(&mut self.cap);
        let rng = &mut self.cap.rng;
        let (ch, sh, f1, f2) = (
            pl::tls(rng, 22, 517),
            pl::tls(rng, 22, 2900),
            pl::tls(rng, 22, 126),
            pl::tls(rng, 22, 51),
        );
        h.exchange(&mut self.cap, &ch, &sh);
        h.exchange(&mut self.cap, &f1, &f2);
        for _ in 0..requests {
            h.wait(300 * MS + self.jitter(2 * SEC));
            let (ql, al) = (
                400 + self.cap.rng.size(0, 300),
                600 + self.cap.rng.size(0, 7000),
            );
            let q = pl::tls(&mut self.cap.rng, 23, ql);
            let a = pl::tls(&mut self.cap.rng, 23, al);
            h.exchange(&mut self.cap, &q, &a);
            h.ack(&mut self.cap, true);
        }
        h.close(&mut self.cap);
        h.t
    }

    fn sql(&mut self, client: &str, t: u64, queries: usize) -> u64 {
        // The SQL Server service account has no AES keys: its tickets are RC4.
        self.krb_ticket(
            client,
            t.saturating_sub(40 * MS),
            &["MSSQLSvc", "sql01.corp.example:1433"],
            gss::ETYPE_RC4,
        );
        let c = self.port(client);
        let w = self.w.clone();
        let mut s = Tcp::new(&mut self.cap, c, sa(SQLS, 1433), t, &w, SQL);
        s.handshake(&mut self.cap);
        let rng = &mut self.cap.rng;
        let steps = [
            (pl::tds(rng, 0x12, 88), pl::tds(rng, 0x04, 48)),
            (pl::tds(rng, 0x10, 380), pl::tds(rng, 0x04, 420)),
        ];
        for (q, a) in steps {
            s.exchange(&mut self.cap, &q, &a);
        }
        for _ in 0..queries {
            s.wait(SEC + self.jitter(8 * SEC));
            let (ql, al) = (
                200 + self.cap.rng.size(0, 400),
                300 + self.cap.rng.size(0, 6000),
            );
            let q = pl::tds(&mut self.cap.rng, 0x01, ql);
            let a = pl::tds(&mut self.cap.rng, 0x04, al);
            s.exchange(&mut self.cap, &q, &a);
            s.ack(&mut self.cap, true);
        }
        s.close(&mut self.cap);
        s.t
    }

    fn dhcp_boot(&mut self, mac_host: &str, t: u64) -> u64 {
        let w = self.w.clone();
        let mac = pk::mac_for(ip(mac_host));
        let yi: Ipv4Addr = mac_host.parse().expect("v4");
        let dc: Ipv4Addr = DC.parse().expect("v4");
        let xid = 0x3903_f326;
        let any = sa("0.0.0.0", 68);
        let bcast = sa("255.255.255.255", 67);
        let cf = self.cap.flow("UDP", any, bcast, DHCP);
        let sf = self
            .cap
            .flow("UDP", sa("255.255.255.255", 68), sa(DC, 67), DHCP);
        let mut tt = t;
        for (msg, from_client) in [
            (pl::DHCP_DISCOVER, true),
            (pl::DHCP_OFFER, false),
            (pl::DHCP_REQUEST, true),
            (pl::DHCP_ACK, false),
        ] {
            let p = pl::dhcp(msg, xid, mac, yi, dc, "WS120");
            let mut l4 = Vec::new();
            if from_client {
                pk::udp(&mut l4, any.ip(), bcast.ip(), 68, 67, &p);
                self.cap.send_l4_macs(
                    tt,
                    &w,
                    Some((cf, true)),
                    any.ip(),
                    bcast.ip(),
                    mac,
                    pk::BROADCAST_MAC,
                    pk::PROTO_UDP,
                    &l4,
                );
            } else {
                let (s, d) = (ip(DC), ip("255.255.255.255"));
                pk::udp(&mut l4, s, d, 67, 68, &p);
                self.cap
                    .send_l4(tt, &w, Some((sf, false)), s, d, pk::PROTO_UDP, &l4);
            }
            tt += 2 * MS + self.jitter(8 * MS);
        }
        tt
    }

    fn pptp(&mut self, t: u64, duration: u64) -> u64 {
        let w = self.w.clone();
        let c = self.port(PPTP_CLIENT);
        let mut k = Tcp::new(&mut self.cap, c, sa(GW, 1723), t, &w, PPTP);
        k.rtt = 28 * MS;
        k.handshake(&mut self.cap);
        k.exchange(
            &mut self.cap,
            &pl::pptp_ctrl(pl::PPTP_SCCRQ),
            &pl::pptp_ctrl(pl::PPTP_SCCRP),
        );
        k.exchange(
            &mut self.cap,
            &pl::pptp_ctrl(pl::PPTP_OCRQ),
            &pl::pptp_ctrl(pl::PPTP_OCRP),
        );
        k.send(&mut self.cap, true, &pl::pptp_ctrl(pl::PPTP_SLI));
        k.ack(&mut self.cap, false);
        // PPP over GRE both ways: LCP/auth/IPCP, then tunnelled traffic.
        let mut g = IpConv::new(
            &mut self.cap,
            "GRE",
            pk::PROTO_GRE,
            ip(PPTP_CLIENT),
            ip(GW),
            k.t,
            &w,
            GRE,
        );
        let (mut cs, mut ss) = (0u32, 0u32);
        let end = t + duration;
        let mut echo_due = k.t + 60 * SEC;
        while g.t < end {
            let from_client = self.cap.rng.chance(0.5);
            let len = if self.cap.rng.chance(0.3) {
                self.cap.rng.size(900, 1400)
            } else {
                self.cap.rng.size(40, 300)
            };
            let gap = 200 * MS + self.jitter(3 * SEC);
            let p = if from_client {
                cs += 1;
                pl::gre_pptp(&mut self.cap.rng, 0x8001, cs, (ss > 0).then_some(ss), len)
            } else {
                ss += 1;
                pl::gre_pptp(&mut self.cap.rng, 0x4000, ss, (cs > 0).then_some(cs), len)
            };
            g.send(&mut self.cap, from_client, gap, &p);
            if g.t > echo_due {
                k.wait(g.t - k.t + 5 * MS);
                k.exchange(
                    &mut self.cap,
                    &pl::pptp_ctrl(pl::PPTP_ECHO_RQ),
                    &pl::pptp_ctrl(pl::PPTP_ECHO_RP),
                );
                k.ack(&mut self.cap, true);
                echo_due += 60 * SEC;
            }
        }
        k.wait(g.t.saturating_sub(k.t) + 50 * MS);
        k.exchange(
            &mut self.cap,
            &pl::pptp_ctrl(pl::PPTP_CCRQ),
            &pl::pptp_ctrl(pl::PPTP_CDN),
        );
        k.exchange(
            &mut self.cap,
            &pl::pptp_ctrl(pl::PPTP_STOP_RQ),
            &pl::pptp_ctrl(pl::PPTP_STOP_RP),
        );
        k.close(&mut self.cap);
        k.t
    }

    fn ipsec(&mut self, t: u64, duration: u64) -> u64 {
        let w = self.w.clone();
        let (ispi, rspi) = (0x1122_3344_5566_7788u64, 0x99aa_bbcc_ddee_ff00u64);
        // IKE_SA_INIT on UDP 500 (source port rewritten by the client's NAT).
        let mut i = Udp::new(
            &mut self.cap,
            sa(IKE_CLIENT, 50500),
            sa(GW, 500),
            t,
            &w,
            IKE,
        );
        let q = pl::ike(&mut self.cap.rng, ispi, 0, 34, true, 0, 528, false);
        i.send(&mut self.cap, true, 0, &q);
        let a = pl::ike(&mut self.cap.rng, ispi, rspi, 34, false, 0, 456, false);
        i.send(&mut self.cap, false, 31 * MS, &a);
        // NAT detected: IKE_AUTH on UDP 4500.
        let mut n = Udp::new(
            &mut self.cap,
            sa(IKE_CLIENT, 50501),
            sa(GW, 4500),
            i.t + 20 * MS,
            &w,
            NATT,
        );
        let q = pl::ike(&mut self.cap.rng, ispi, rspi, 35, true, 1, 1296, true);
        n.send(&mut self.cap, true, 0, &q);
        let a = pl::ike(&mut self.cap.rng, ispi, rspi, 35, false, 1, 1104, true);
        n.send(&mut self.cap, false, 40 * MS, &a);
        // ESP both ways.
        let mut e = IpConv::new(
            &mut self.cap,
            "ESP",
            pk::PROTO_ESP,
            ip(IKE_CLIENT),
            ip(GW),
            n.t + 10 * MS,
            &w,
            ESP,
        );
        let (mut cs, mut ss) = (0u32, 0u32);
        let end = t + duration;
        let mut keepalive_due = n.t + 20 * SEC;
        while e.t < end {
            let from_client = self.cap.rng.chance(0.45);
            let len = 8 + 16 * self.cap.rng.size(4, 85);
            let gap = 300 * MS + self.jitter(3 * SEC);
            let p = if from_client {
                cs += 1;
                pl::esp(&mut self.cap.rng, 0xc3a1_0001, cs, len)
            } else {
                ss += 1;
                pl::esp(&mut self.cap.rng, 0x7e55_0002, ss, len)
            };
            e.send(&mut self.cap, from_client, gap, &p);
            if e.t > keepalive_due {
                let gap = e.t.saturating_sub(n.t) + MS;
                n.send(&mut self.cap, true, gap, &[0xff]);
                keepalive_due += 20 * SEC;
            }
        }
        // INFORMATIONAL (delete) on 4500.
        let gap = e.t.saturating_sub(n.t) + 100 * MS;
        let q = pl::ike(&mut self.cap.rng, ispi, rspi, 37, true, 2, 80, true);
        n.send(&mut self.cap, true, gap, &q);
        let a = pl::ike(&mut self.cap.rng, ispi, rspi, 37, false, 2, 80, true);
        n.send(&mut self.cap, false, 30 * MS, &a);
        n.t
    }

    fn zone_transfer(&mut self, t: u64) -> u64 {
        let w = self.w.clone();
        let c = self.port(DC2);
        let mut z = Tcp::new(&mut self.cap, c, sa(DC, 53), t, &w, DNS);
        z.handshake(&mut self.cap);
        let q = pl::dns_tcp(&pl::dns_query(0x0a0f, "corp.example", pl::DNS_AXFR));
        let a = pl::dns_axfr_stream(0x0a0f, "corp.example", 320);
        z.exchange(&mut self.cap, &q, &a);
        z.ack(&mut self.cap, true);
        z.close(&mut self.cap);
        z.t
    }

    fn unknown_tcp(&mut self, client: &str, port: u16, t: u64, exchanges: usize) -> u64 {
        let c = self.port(client);
        let w = self.w.clone();
        let mut u = Tcp::new(&mut self.cap, c, sa(EXT, port), t, &w, UNKNOWN);
        u.rtt = 18 * MS;
        u.handshake(&mut self.cap);
        for _ in 0..exchanges {
            let (ql, al) = (
                80 + self.cap.rng.size(0, 500),
                100 + self.cap.rng.size(0, 3000),
            );
            let q = pl::filler(&mut self.cap.rng, ql);
            let a = pl::filler(&mut self.cap.rng, al);
            u.exchange(&mut self.cap, &q, &a);
            u.ack(&mut self.cap, true);
            u.wait(100 * MS + self.jitter(SEC));
        }
        u.close(&mut self.cap);
        u.t
    }

    fn mdns(&mut self, host: &str, t: u64) {
        let w = self.w.clone();
        let mut m = Udp::new(
            &mut self.cap,
            sa(host, 5353),
            sa("224.0.0.251", 5353),
            t,
            &w,
            UNKNOWN,
        );
        for (i, name) in ["_ipp._tcp.local", "_printer._tcp.local", "_ipp._tcp.local"]
            .into_iter()
            .enumerate()
        {
            let mut q = pl::dns_query(0, name, pl::DNS_PTR);
            q[2] = 0; // standard query, no recursion
            m.send(&mut self.cap, true, if i == 0 { 0 } else { SEC }, &q);
        }
    }
}

pub fn domain() -> Capture {
    let cap = Capture::with_ifaces(
        "domain.pcapng",
        true,
        vec![Iface { link: Link::Ethernet, snaplen: 65535, name: "eth0" }],
        1,
        "about ten minutes of a small Windows domain (DC, file, SQL, terminal, web servers, VPN gateway, 18 clients)",
    );
    let mut d = Dom {
        cap,
        ports: Ports(BTreeMap::new()),
        w: lan(),
        announce: BTreeMap::new(),
    };
    d.cap.summarize = true;

    // A client boots: DHCP, NetBIOS registration, logon.
    let t = d.dhcp_boot("192.0.2.120", 400 * MS);
    d.netbios_register("192.0.2.120", "WS120", t + 300 * MS);
    d.logon("192.0.2.120", t + 3 * SEC, false);

    // Logons of 192.0.2.101..117, each followed by its work.
    let clients: Vec<String> = (101..=117).map(|n| format!("192.0.2.{n}")).collect();
    for (i, c) in clients.iter().enumerate() {
        let t0 = 8 * SEC + i as u64 * 20 * SEC + d.jitter(4 * SEC);
        let end = d.logon(c, t0, i % 3 == 0);
        let user = USERS[i % USERS.len()];
        if i % 3 != 2 {
            let size = d.cap.rng.size(6000, 40000);
            let ts = end + 5 * SEC + d.jitter(20 * SEC);
            d.dns_a(c, ts - 30 * MS, "fs01.corp.example", FS);
            d.smb_fs(c, ts, size);
        }
        if i % 5 == 1 {
            let tp = end + 40 * SEC + d.jitter(30 * SEC);
            d.smb_print(c, user, tp);
        }
        if i % 4 == 1 {
            let th = end + 10 * SEC + d.jitter(30 * SEC);
            d.dns_a(c, th - 20 * MS, "intranet.corp.example", WEB);
            d.http(c, th);
        }
        if i % 4 == 3 {
            let th = end + 10 * SEC + d.jitter(30 * SEC);
            d.dns_a(c, th - 20 * MS, "portal.corp.example", WEB);
            // Integrated Windows authentication: the browser asks for the site's ticket, which
            // then travels inside TLS.
            d.krb_ticket(
                c,
                th - 10 * MS,
                &["HTTP", "portal.corp.example"],
                gss::ETYPE_AES256_CTS,
            );
            d.https(c, WEB, 443, th, HTTPS, 2);
        }
    }

    // Kerberos service-ticket renewals during the day.
    let renewed: [&[&str]; 3] = [
        &["cifs", "fs01.corp.example"],
        &["ldap", "dc01.corp.example"],
        &["HTTP", "portal.corp.example"],
    ];
    for k in 0..6u64 {
        let c = clients[(k as usize * 5) % clients.len()].clone();
        let t = 200 * SEC + k * 60 * SEC + d.jitter(20 * SEC);
        d.krb_ticket(&c, t, renewed[k as usize % 3], gss::ETYPE_AES256_CTS);
    }
    // Name lookups in between.
    let names = [
        ("fs01.corp.example", FS),
        ("sql01.corp.example", SQLS),
        ("ts01.corp.example", TS),
        ("www.corp.example", WEB),
        ("dc01.corp.example", DC),
    ];
    for k in 0..14u64 {
        let c = clients[(k as usize * 7) % clients.len()].clone();
        let (n, a) = names[k as usize % names.len()];
        let t = 30 * SEC + k * 40 * SEC + d.jitter(10 * SEC);
        d.dns_a(&c, t, n, a);
    }

    // Legacy NetBIOS sessions to the file server.
    d.nbss_fs("192.0.2.111", "grace", 150 * SEC, false);
    d.nbss_fs("192.0.2.116", "dave", 410 * SEC, true);

    // Encrypted SMB3: a session that encrypts everything, a share that requires encryption.
    let c = d.port("192.0.2.104");
    d.cap.with_rng(conv_seed(c), |cap| {
        smb::encrypted_session(cap, c, sa(FS, 445), 236 * SEC, &lan())
    });
    for (k, host) in ["192.0.2.106", "192.0.2.113"].into_iter().enumerate() {
        let c = d.port(host);
        let t = 270 * SEC + k as u64 * 95 * SEC;
        let ws = workstation(host);
        d.cap.with_rng(conv_seed(c), |cap| {
            smb::encrypted_share(cap, c, sa(FS, 445), t, &lan(), USERS[k + 4], &ws)
        });
    }
    // A pipe conversation already under way when the capture started, and replication from the
    // second DC joined mid-stream.
    let c = d.port("192.0.2.117");
    d.cap.with_rng(conv_seed(c), |cap| {
        smb::mid_stream(cap, c, sa(DC, 445), 2 * SEC, &lan())
    });
    let c = d.port(DC2);
    d.cap.with_rng(conv_seed(c), |cap| {
        smb::dc_replication(
            cap,
            c,
            sa(DC, 49669),
            560 * SEC,
            &lan(),
            smb::RPC_DRSR_LEARNT,
        )
    });

    // SQL: a browser probe, then sessions.
    let c = d.port("192.0.2.105");
    let w = d.w.clone();
    let mut b = Udp::new(&mut d.cap, c, sa(SQLS, 1434), 118 * SEC, &w, SQLB);
    b.send(&mut d.cap, true, 0, &pl::sql_browser_request());
    b.send(&mut d.cap, false, 700, &pl::sql_browser_response("SQL01"));
    d.sql("192.0.2.105", b.t + 20 * MS, 6);
    d.sql("192.0.2.110", 330 * SEC, 4);

    // Long remote desktop sessions.
    d.rdp("192.0.2.103", 70 * SEC, 300 * SEC);
    d.rdp("192.0.2.108", 190 * SEC, 240 * SEC);
    d.rdp("192.0.2.114", 335 * SEC, 240 * SEC);

    // VPN: PPTP + GRE, then IKE / NAT-T / ESP.
    d.pptp(120 * SEC, 150 * SEC);
    d.ipsec(340 * SEC, 120 * SEC);

    // DNS zone transfer to the secondary, NTP of the DC upstream.
    d.zone_transfer(300 * SEC);
    d.ntp(DC, "198.51.100.123", 100 * SEC);
    d.ntp(DC, "198.51.100.123", 500 * SEC);

    // NetBIOS name queries and browser announcements (broadcast).
    d.netbios_register(FS, "FS01", 15 * SEC);
    d.netbios_query("192.0.2.104", "FS01", 61 * SEC);
    d.netbios_query("192.0.2.113", "PRINT01", 287 * SEC);
    for k in 0..5u64 {
        d.browser_announce(FS, "FS01", 20 * SEC + k * 120 * SEC);
        d.browser_announce(DC, "DC01", 50 * SEC + k * 120 * SEC);
    }
    d.browser_announce("192.0.2.109", "WS109", 222 * SEC);

    // An application binding with a service account's password in clear (LDAP simple bind).
    let c = d.port("192.0.2.107");
    let w = d.w.clone();
    let mut l = Tcp::new(&mut d.cap, c, sa(DC, 389), 255 * SEC, &w, LDAP);
    l.handshake(&mut d.cap);
    l.exchange(
        &mut d.cap,
        &crate::ldap::bind_simple(
            1,
            "cn=svc-helpdesk,ou=Service Accounts,dc=corp,dc=example",
            "Summer2024!",
        ),
        &crate::ldap::bind_done(1),
    );
    let q = crate::ldap::search(2, "dc=corp,dc=example", &["mail", "telephoneNumber"]);
    let a = [
        crate::ldap::entry(
            2,
            "cn=Alice,ou=Staff,dc=corp,dc=example",
            &[("mail", vec![b"alice@corp.example".to_vec()])],
        ),
        crate::ldap::search_done(2),
    ]
    .concat();
    l.exchange(&mut d.cap, &q, &a);
    l.send(&mut d.cap, true, &crate::ldap::unbind(3));
    l.close(&mut d.cap);

    // Traffic on ports in no catalog row.
    d.unknown_tcp("192.0.2.107", 8443, 260 * SEC, 3);
    d.unknown_tcp("192.0.2.107", 5432, 265 * SEC, 4);
    d.mdns("192.0.2.112", 45 * SEC);
    d.mdns("192.0.2.115", 412 * SEC);

    d.cap.expect.push(
        "SMB (the conversations of smb.pcap, built by the same code): every logon includes the group-policy sequence on the DC (SMB 3.1.1, Kerberos, \
         IPC$ with lsarpc, samr and netlogon bound over pipes, a CREATE + WRITE compound, the DFS referral for \\corp.example\\SYSVOL, GPT.INI and Registry.pol from SYSVOL, NETLOGON); \
         12 clients use the Projects share on the file server and list its shares over srvsvc (net view); 4 print through it (SMB 3.0.2, NTLMv2, spoolss, print$, the print queue HP-Floor2); \
         192.0.2.104 holds an SMB 3.1.1 session encrypted from its session setup on, 192.0.2.106 and 192.0.2.113 connect to the encrypting share Finance over SMB 3.0; \
         192.0.2.111 and 192.0.2.116 use SMB1 over NetBIOS 139 (srvsvc by TransactNmPipe); 192.0.2.117's pipe conversation with the DC started before the capture \
         (no handshake, no create, an alter_context to drsuapi); DC02 192.0.2.11 replicates from the DC on its drsuapi port 49669, joined mid-stream \
         (DCE/RPC over TCP, an alter_context to drsuapi)."
            .into(),
    );
    d.cap.expect.push(
        "Servers: DC 192.0.2.10 (Kerberos, LDAP/CLDAP, GC, DNS, SMB SYSVOL, RPC 135 + Net Logon on dynamic 49667, NTP, DHCP), file and print server 192.0.2.20 (SMB 445, NetBIOS 139), \
         SQL 192.0.2.30 (1433, browser 1434), terminal server 192.0.2.40 (3389), VPN gateway 192.0.2.1 (PPTP 1723 + GRE from 203.0.113.50; IKE 500, NAT-T 4500, ESP from 203.0.113.60), \
         web 192.0.2.50 (80, 443). Every flow to 192.0.2.10:49667 starts less than 1 s after the same client's TCP 135 flow to 192.0.2.10 ends, in which the endpoint mapper announced it for Net Logon; it binds Net Logon. \
         Browser announcements (UDP 138 to 192.0.2.255) repeat every 120 s from 192.0.2.20 and 192.0.2.10 (5 each, one 5-tuple per host). \
         Unclassified: TCP 8443 and 5432 to 198.51.100.7, mDNS UDP 5353 to 224.0.0.251. DHCP: DISCOVER/REQUEST 0.0.0.0:68 -> 255.255.255.255:67, OFFER/ACK 192.0.2.10:67 -> 255.255.255.255:68."
            .into(),
    );
    d.cap
}
