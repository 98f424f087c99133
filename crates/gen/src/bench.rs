//! The benchmark capture: N packets of interleaved flows, streamed to disk with bounded memory.
//!
//! The capture is made of epochs of at most 65,536 flows each (one epoch up to about 5.9 million
//! packets). Every flow of an epoch gets a packet budget up front (about 90 on average, so a
//! capture of N packets holds about N/90 flows), and the epoch's packets are drawn one at a time
//! from the flows with a probability proportional to what each has left (a Fenwick tree makes that
//! O(log n)). That is a uniform shuffle of all the epoch's packets that keeps every flow's own
//! order: long flows span the whole epoch, short ones land anywhere, all of them overlap, and every
//! flow completes (TCP: SYN, SYN-ACK, ACK, data, FIN, FIN, ACK) within its epoch. Memory is bounded
//! by the epoch's flow table, whatever N is.

use crate::capture::{ttl_for, BASE_US};
use crate::packet::{self as pk, Link, LinkSpec};
use crate::rng::Rng;
use crate::writer::{NgInterface, PacketSink, PcapWriter, PcapngWriter};
use crate::{gss, ldap};
use std::fs::File;
use std::io::{self, BufWriter};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

/// Most flows in one epoch (all of them concurrent).
const EPOCH_FLOWS: usize = 65_536;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tr {
    Tcp,
    Udp,
    Gre,
    Esp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum K {
    Krb,
    Epm,
    Nbss,
    Ldap,
    Smb,
    /// A scripted SMB conversation with DCE/RPC over pipes ([`smb_scripts`]).
    SmbPipe,
    Gc,
    Rdp,
    Sql,
    DnsTcp,
    Http,
    Https,
    DnsUdp,
    KrbUdp,
    Cldap,
    Nbns,
    Nbdgm,
    Ntp,
    Gre,
    Esp,
    UnkTcp,
    UnkUdp,
}

/// Packet budget of a flow: uniform or log-uniform between two bounds.
#[derive(Clone, Copy)]
enum Budget {
    Uni(u32, u32),
    Log(u32, u32),
}

struct Spec {
    k: K,
    tr: Tr,
    port: u16,
    /// Relative number of flows.
    weight: u32,
    budget: Budget,
    /// Last octet of the 192.0.2.0/24 (and 2001:db8::/64) servers.
    servers: &'static [u8],
}

use Budget::{Log, Uni};

#[rustfmt::skip]
const SPECS: &[Spec] = &[
    // One KDC exchange a connection; the budget is the exchange's own packet count.
    Spec { k: K::Krb, tr: Tr::Tcp, port: 88, weight: 60, budget: Uni(0, 0), servers: &[10, 11] },
    Spec { k: K::Epm, tr: Tr::Tcp, port: 135, weight: 25, budget: Uni(11, 14), servers: &[10, 11, 20] },
    Spec { k: K::Nbss, tr: Tr::Tcp, port: 139, weight: 8, budget: Log(20, 300), servers: &[20, 21] },
    Spec { k: K::Ldap, tr: Tr::Tcp, port: 389, weight: 60, budget: Uni(20, 160), servers: &[10, 11] },
    Spec { k: K::Smb, tr: Tr::Tcp, port: 445, weight: 80, budget: Log(30, 1500), servers: &[20, 21, 10, 11] },
    // About 5% of the flows; the budget is the script's own packet count.
    Spec { k: K::SmbPipe, tr: Tr::Tcp, port: 445, weight: 43, budget: Uni(0, 0), servers: &[10, 11, 20, 21] },
    Spec { k: K::Gc, tr: Tr::Tcp, port: 3268, weight: 15, budget: Uni(20, 160), servers: &[10, 11] },
    Spec { k: K::Rdp, tr: Tr::Tcp, port: 3389, weight: 18, budget: Log(100, 2000), servers: &[40, 41] },
    Spec { k: K::Sql, tr: Tr::Tcp, port: 1433, weight: 15, budget: Log(20, 400), servers: &[30] },
    Spec { k: K::DnsTcp, tr: Tr::Tcp, port: 53, weight: 5, budget: Uni(9, 16), servers: &[10, 11] },
    Spec { k: K::Http, tr: Tr::Tcp, port: 80, weight: 30, budget: Log(10, 300), servers: &[50, 51] },
    Spec { k: K::Https, tr: Tr::Tcp, port: 443, weight: 60, budget: Log(15, 600), servers: &[50, 51] },
    Spec { k: K::DnsUdp, tr: Tr::Udp, port: 53, weight: 150, budget: Uni(2, 2), servers: &[10, 11] },
    Spec { k: K::KrbUdp, tr: Tr::Udp, port: 88, weight: 90, budget: Uni(2, 2), servers: &[10, 11] },
    Spec { k: K::Cldap, tr: Tr::Udp, port: 389, weight: 40, budget: Uni(2, 2), servers: &[10, 11] },
    Spec { k: K::Nbns, tr: Tr::Udp, port: 137, weight: 20, budget: Uni(1, 3), servers: &[255] },
    Spec { k: K::Nbdgm, tr: Tr::Udp, port: 138, weight: 10, budget: Uni(1, 1), servers: &[255] },
    Spec { k: K::Ntp, tr: Tr::Udp, port: 123, weight: 30, budget: Uni(2, 8), servers: &[10, 11] },
    Spec { k: K::Gre, tr: Tr::Gre, port: 0, weight: 4, budget: Log(20, 600), servers: &[1] },
    Spec { k: K::Esp, tr: Tr::Esp, port: 0, weight: 4, budget: Log(20, 600), servers: &[1] },
    Spec { k: K::UnkTcp, tr: Tr::Tcp, port: 0, weight: 60, budget: Log(10, 300), servers: &[] },
    Spec { k: K::UnkUdp, tr: Tr::Udp, port: 0, weight: 30, budget: Uni(2, 40), servers: &[] },
];

/// Ports in no catalog row, for the ~10% of unknown flows (served by 198.51.100.7..=22).
const UNKNOWN_TCP: &[u16] = &[5432, 6379, 8443, 9200, 27017, 11211, 8086];
const UNKNOWN_UDP: &[u16] = &[5353, 6343, 11211, 27015, 9995];

const PHASE_SYN: u8 = 0;
const PHASE_SYNACK: u8 = 1;
const PHASE_ACK: u8 = 2;
const PHASE_DATA: u8 = 3;
const PHASE_FIN_S: u8 = 4;
const PHASE_LAST_ACK: u8 = 5;
const PHASE_DONE: u8 = 6;

/// Fewest packets a TCP flow can have: handshake, one data segment, close.
const TCP_MIN: u32 = 7;

struct Flow {
    c: IpAddr,
    s: IpAddr,
    cport: u16,
    sport: u16,
    spec: u8,
    vlan: u16,
    phase: u8,
    cseq: u32,
    sseq: u32,
    /// Packets this flow still sends.
    left: u32,
    cur_left: u32,
    cur_client: bool,
    first_seg: bool,
    /// A pure ACK is due: 1 from the client, 2 from the server.
    ack_due: u8,
    segs: u8,
    /// Fragments planned for the next client / server datagram (0 = not fragmented).
    frag_req: u8,
    frag_resp: u8,
    nc: u32,
    ns: u32,
    /// SmbPipe: which script, and the index of the next message to start.
    script: u8,
    msg: u16,
    /// The flow opens with real messages (a variant of its spec's [`openings`]).
    open: bool,
    /// The message being sent is the script's (SmbPipe) or the opening's.
    scripted: bool,
}

#[derive(Default, Debug)]
pub struct Stats {
    pub packets: u64,
    pub bytes: u64,
    pub flows: u64,
    pub unknown_flows: u64,
    pub v6_packets: u64,
    pub vlan_packets: u64,
    pub fragments: u64,
    pub epochs: u64,
    pub max_concurrent: usize,
}

/// Prefix sums over the flows' remaining packets, for drawing a flow in proportion to them.
struct Fenwick {
    t: Vec<u64>,
}

impl Fenwick {
    fn with_weights(w: impl ExactSizeIterator<Item = u64>) -> Fenwick {
        let n = w.len();
        let mut t = vec![0u64; n + 1];
        for (i, x) in w.enumerate() {
            t[i + 1] += x;
            let j = (i + 1) + ((i + 1) & (i + 1).wrapping_neg());
            if j <= n {
                let v = t[i + 1];
                t[j] += v;
            }
        }
        Fenwick { t }
    }

    fn sub(&mut self, i: usize, x: u64) {
        let n = self.t.len() - 1;
        let mut j = i + 1;
        while j <= n {
            self.t[j] -= x;
            j += j & j.wrapping_neg();
        }
    }

    /// The index whose cumulative range holds `k` (0 <= k < total).
    fn find(&self, mut k: u64) -> usize {
        let n = self.t.len() - 1;
        let mut pos = 0;
        let mut step = n.next_power_of_two();
        while step > 0 {
            let next = pos + step;
            if next <= n && self.t[next] <= k {
                pos = next;
                k -= self.t[next];
            }
            step >>= 1;
        }
        pos
    }
}

struct Gen {
    rng: Rng,
    sink: Box<dyn PacketSink>,
    pool: Vec<u8>,
    payload: Vec<u8>,
    l4: Vec<u8>,
    frame: Vec<u8>,
    t: u64,
    ipid: u16,
    serial: u64,
    weight_total: u32,
    stats: Stats,
    scripts: Vec<Script>,
    /// Per [`SPECS`] entry, the variants of real opening messages (see [`openings`]).
    openings: Vec<Vec<Script>>,
}

/// One SMB conversation's TCP payload, message by message, client and server in turn (the
/// first from the client).
struct Script {
    msgs: Vec<(bool, Vec<u8>)>,
}

impl Script {
    /// A script from messages in turn; consecutive ones in the same direction are one message.
    fn from_turns(turns: Vec<(bool, Vec<u8>)>) -> Script {
        let mut msgs: Vec<(bool, Vec<u8>)> = Vec::new();
        for (dir, m) in turns {
            match msgs.last_mut() {
                Some((d, prev)) if *d == dir => prev.extend(m),
                _ => msgs.push((dir, m)),
            }
        }
        assert!(
            msgs.first().is_some_and(|m| m.0),
            "a script starts with the client"
        );
        Script { msgs }
    }

    /// Packets [`Gen::step_tcp`] sends for the script at `mss`: handshake, each message in
    /// MSS-sized segments with an ACK after every second one that is not the last and the
    /// client's ACK of each server message, the close.
    fn packets(&self, mss: usize) -> u32 {
        let data: usize = self
            .msgs
            .iter()
            .map(|(client, m)| {
                let n = m.len().div_ceil(mss);
                n + (n - 1) / 2 + usize::from(!client)
            })
            .sum();
        (3 + data + 3) as u32
    }
}

/// The SMB conversations of the bench mix, from the fixture scenarios (so they are
/// protocol-correct): the DC's group-policy sequence (binds over WRITE/READ, IOCTL and a
/// compound, a DFS referral, SYSVOL reads), printing (NTLMv2, spoolss), two file-share sessions
/// with `net view` (srvsvc), and a session encrypted from its setup on.
fn smb_scripts() -> Vec<Script> {
    use crate::capture::{sa, Capture, SEC};
    use crate::smb_scenarios as sc;
    let (c, dc, fs) = (
        sa("192.0.2.101", 49801),
        sa("192.0.2.10", 445),
        sa("192.0.2.20", 445),
    );
    let w = crate::fixtures::lan();
    let runs: [&dyn Fn(&mut Capture); 5] = [
        &|cap| {
            sc::dc_group_policy(cap, c, dc, SEC, &w, "WS101");
        },
        &|cap| {
            sc::print(cap, c, fs, SEC, &w, "alice", "WS101");
        },
        &|cap| {
            sc::file_share(cap, c, fs, SEC, &w, 12_000);
        },
        &|cap| {
            sc::file_share(cap, c, fs, SEC, &w, 96_000);
        },
        &|cap| {
            sc::encrypted_session(cap, c, fs, SEC, &w);
        },
    ];
    runs.iter()
        .enumerate()
        .map(|(i, run)| {
            let mut cap = Capture::new("bench-smb", Link::Ethernet, 900 + i as u64, "");
            run(&mut cap);
            cap.recs.sort_by_key(|r| r.t);
            let mut msgs: Vec<(bool, Vec<u8>)> = Vec::new();
            for r in &cap.recs {
                let (from_client, payload) = tcp_payload(&r.data, c.ip());
                if payload.is_empty() {
                    continue;
                }
                match msgs.last_mut() {
                    Some((dir, m)) if *dir == from_client => m.extend_from_slice(payload),
                    _ => msgs.push((from_client, payload.to_vec())),
                }
            }
            assert!(
                msgs.first().is_some_and(|m| m.0),
                "a script starts with the client"
            );
            Script { msgs }
        })
        .collect()
}

/// The TCP payload of an Ethernet/IPv4 frame the fixture code wrote, and whether `client` sent it.
fn tcp_payload(frame: &[u8], client: IpAddr) -> (bool, &[u8]) {
    let ip = &frame[14..];
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    let src = IpAddr::V4(Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]));
    let tcp = &ip[ihl..total];
    let off = usize::from(tcp[12] >> 4) * 4;
    (src == client, &tcp[off..])
}

const POOL: usize = 1 << 16;

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

fn v6(hi: u16, lo: u16) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, hi, lo))
}

/// Fragments of an IPv4 datagram with `udp_len` bytes of UDP payload.
fn frags_for(udp_len: u64) -> u8 {
    (udp_len + 8).div_ceil(1480) as u8
}

impl Gen {
    fn budget(&mut self, b: Budget) -> u32 {
        match b {
            Uni(lo, hi) => self.rng.range(u64::from(lo), u64::from(hi)) as u32,
            Log(lo, hi) => {
                let (l, h) = (f64::from(lo).ln(), f64::from(hi).ln());
                (l + self.rng.unit() * (h - l)).exp().round() as u32
            }
        }
    }

    fn new_flow(&mut self) -> Flow {
        let mut x = self.rng.below(u64::from(self.weight_total)) as u32;
        let mut si = 0;
        for (i, s) in SPECS.iter().enumerate() {
            if x < s.weight {
                si = i;
                break;
            }
            x -= s.weight;
        }
        self.flow_of(si)
    }

    fn flow_of(&mut self, si: usize) -> Flow {
        let spec = &SPECS[si];
        let k = spec.k;
        let serial = self.serial;
        self.serial += 1;
        self.stats.flows += 1;
        let broadcast = matches!(k, K::Nbns | K::Nbdgm);
        // IPv6 for about 5% of the flows (no NetBIOS over IPv6; the VPN clients are IPv4).
        let six = !broadcast && !matches!(k, K::Gre | K::Esp) && self.rng.chance(0.05);
        let vlan = if self.rng.chance(0.05) {
            [10u16, 20, 30, 40][self.rng.below(4) as usize]
        } else {
            0
        };
        // Clients: 192.0.2.64..=254 and 198.51.100.1..=254 (IPv4), 2001:db8::1:n (IPv6), VPN clients
        // 203.0.113.1..=254; ephemeral ports cycle so that (client, port) pairs do not repeat soon.
        let ncl = 191 + 254;
        let ci = serial % ncl;
        let cport = 49152 + ((serial / ncl) % 16000) as u16;
        let c = match k {
            K::Gre | K::Esp => v4(203, 0, 113, 1 + (serial % 254) as u8),
            _ if six => v6(1, (serial % 4000) as u16 + 1),
            _ if broadcast || ci < 191 => v4(192, 0, 2, 64 + (ci % 191) as u8),
            _ => v4(198, 51, 100, 1 + (ci - 191) as u8),
        };
        let (s, sport) = match k {
            K::UnkTcp | K::UnkUdp => {
                let list = if k == K::UnkTcp {
                    UNKNOWN_TCP
                } else {
                    UNKNOWN_UDP
                };
                let p = list[self.rng.below(list.len() as u64) as usize];
                let h = 7 + self.rng.below(16) as u8;
                (
                    if six {
                        v6(0xff, u16::from(h))
                    } else {
                        v4(198, 51, 100, h)
                    },
                    p,
                )
            }
            _ => {
                let last = spec.servers[self.rng.below(spec.servers.len() as u64) as usize];
                (
                    if six {
                        v6(0, u16::from(last))
                    } else {
                        v4(192, 0, 2, last)
                    },
                    spec.port,
                )
            }
        };
        let cport = match k {
            K::Nbns => 137,
            K::Nbdgm => 138,
            _ => cport,
        };
        if matches!(k, K::UnkTcp | K::UnkUdp) {
            self.stats.unknown_flows += 1;
        }
        let mss = if six { 1440 } else { 1460 };
        let variants = self.openings[si].len() as u64;
        // (No IPv6 fragments: Kerberos over UDP and IPv6 keeps its filler datagrams.)
        let open = variants > 0 && !(six && k == K::KrbUdp);
        let script = if k == K::SmbPipe {
            self.rng.below(self.scripts.len() as u64) as u8
        } else if open {
            self.rng.below(variants) as u8
        } else {
            0
        };
        let mut left = if k == K::SmbPipe {
            self.scripts[usize::from(script)].packets(mss)
        } else {
            self.budget(spec.budget).max(1)
        };
        if spec.tr == Tr::Tcp {
            left = left.max(TCP_MIN);
            if open {
                left = left.max(self.openings[si][usize::from(script)].packets(mss));
            }
        }
        // Large datagrams, fragmented (IPv4 only): Kerberos tickets with big PACs and PKINIT
        // requests over UDP 88, and some large (EDNS) DNS answers.
        let (mut frag_req, mut frag_resp) = (0u8, 0u8);
        if !six {
            match k {
                K::KrbUdp => {
                    let msgs = &self.openings[si][usize::from(script)].msgs;
                    frag_req = frags_for(msgs[0].1.len() as u64);
                    frag_resp = frags_for(msgs[1].1.len() as u64);
                }
                K::DnsUdp if self.rng.chance(0.08) => frag_resp = 2,
                _ => {}
            }
        }
        left += u32::from(frag_req.saturating_sub(1)) + u32::from(frag_resp.saturating_sub(1));
        let r = &mut self.rng;
        Flow {
            c,
            s,
            cport,
            sport,
            spec: si as u8,
            vlan,
            phase: PHASE_SYN,
            cseq: r.next_u32(),
            sseq: r.next_u32(),
            left,
            cur_left: 0,
            cur_client: true,
            first_seg: true,
            ack_due: 0,
            segs: 0,
            frag_req,
            frag_resp,
            nc: 0,
            ns: 0,
            script,
            msg: 0,
            open,
            scripted: false,
        }
    }

    /// Cuts a new flow down to `r` packets (the last flow of an epoch).
    fn trim(&mut self, mut f: Flow, r: u32) -> Flow {
        if SPECS[f.spec as usize].tr == Tr::Tcp && r < TCP_MIN {
            self.stats.flows -= 1;
            if matches!(SPECS[f.spec as usize].k, K::UnkTcp) {
                self.stats.unknown_flows -= 1;
            }
            let dns = SPECS.iter().position(|s| s.k == K::DnsUdp).unwrap_or(0);
            f = self.flow_of(dns);
        }
        f.frag_req = 0;
        f.frag_resp = 0;
        // Cut short, the flow sends fillers: an opening's datagram could need more fragments
        // than the budget has left.
        f.open = false;
        f.left = r;
        f
    }

    /// The length of the next message of a TCP flow: the script's next one for an SMB pipe
    /// session (whose messages alternate as requests and responses do), else a drawn size.
    fn next_message(&mut self, f: &mut Flow, request: bool) -> u32 {
        let k = SPECS[f.spec as usize].k;
        let msgs = if k == K::SmbPipe {
            &self.scripts[usize::from(f.script)].msgs
        } else {
            match &self.openings[f.spec as usize] {
                o if f.open && usize::from(f.msg) < o[usize::from(f.script)].msgs.len() => {
                    &o[usize::from(f.script)].msgs
                }
                _ => {
                    f.scripted = false;
                    return self.msg_size(k, request);
                }
            }
        };
        let (client, m) = &msgs[usize::from(f.msg) % msgs.len()];
        debug_assert_eq!(*client, request, "scripts alternate");
        f.msg = f.msg.wrapping_add(1);
        f.scripted = true;
        m.len() as u32
    }

    fn msg_size(&mut self, k: K, request: bool) -> u32 {
        let r = &mut self.rng;
        let (lo, hi) = match (k, request) {
            (K::Krb, true) => (300, 1600),
            (K::Krb, false) => (1300, 1800),
            (K::Epm, true) => (116, 200),
            (K::Epm, false) => (84, 200),
            (K::Nbss, true) => (100, 300),
            (K::Nbss, false) => {
                if r.chance(0.3) {
                    (2000, 8000)
                } else {
                    (100, 400)
                }
            }
            (K::Ldap | K::Gc, true) => (100, 600),
            (K::Ldap | K::Gc, false) => (100, 3000),
            (K::Smb, true) => {
                if r.chance(0.1) {
                    (4000, 32000)
                } else {
                    (100, 600)
                }
            }
            (K::Smb, false) => {
                if r.chance(0.25) {
                    (4000, 48000)
                } else {
                    (100, 600)
                }
            }
            (K::Rdp, true) => (40, 200),
            (K::Rdp, false) => (100, 3000),
            (K::Sql, true) => (100, 1000),
            (K::Sql, false) => (100, 8000),
            (K::DnsTcp, true) => (40, 60),
            (K::DnsTcp, false) => (200, 6000),
            (K::Http, true) => (300, 600),
            (K::Http, false) => (500, 30000),
            (K::Https, true) => (100, 800),
            (K::Https, false) => (100, 12000),
            (K::UnkTcp, true) => (50, 1000),
            (K::UnkTcp, false) => (50, 6000),
            _ => (60, 400),
        };
        r.range(lo, hi) as u32
    }

    /// Writes the frame in `self.frame` (already complete).
    fn write_frame(&mut self) -> io::Result<()> {
        let len = self.frame.len() as u32;
        self.sink.packet(BASE_US + self.t, 0, &self.frame, len)?;
        self.stats.packets += 1;
        self.stats.bytes += u64::from(len);
        self.t += 1 + self.rng.exp(40.0) as u64;
        Ok(())
    }

    /// Frames `self.l4` (protocol `proto`) from one end of the flow to the other, fragmenting
    /// IPv4 datagrams larger than 1480 bytes; returns the number of frames written.
    fn emit_l4(&mut self, f: &Flow, from_client: bool, proto: u8) -> io::Result<u32> {
        let (src, dst) = if from_client { (f.c, f.s) } else { (f.s, f.c) };
        let vlans = [(pk::ETH_VLAN, f.vlan)];
        let spec = LinkSpec {
            link: Link::Ethernet,
            src_mac: pk::mac_for(src),
            dst_mac: pk::mac_for(dst),
            vlans: if f.vlan != 0 { &vlans } else { &[] },
            outgoing: false,
        };
        let ttl = ttl_for(src);
        match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                self.ipid = self.ipid.wrapping_add(1);
                let n = self.l4.len();
                if n <= 1480 {
                    self.frame.clear();
                    pk::link_header(&mut self.frame, &spec, pk::ETH_IPV4);
                    let df = if proto == pk::PROTO_TCP {
                        pk::IPV4_DF
                    } else {
                        0
                    };
                    pk::ipv4(&mut self.frame, s, d, proto, self.ipid, ttl, df, &[], n);
                    self.frame.extend_from_slice(&self.l4);
                    pk::pad_ethernet(&mut self.frame, Link::Ethernet);
                    self.count_tags(f, false);
                    self.write_frame()?;
                    Ok(1)
                } else {
                    let mut frames = 0;
                    let mut off = 0;
                    while off < n {
                        let end = (off + 1480).min(n);
                        let mf = if end < n { pk::IPV4_MF } else { 0 };
                        self.frame.clear();
                        pk::link_header(&mut self.frame, &spec, pk::ETH_IPV4);
                        pk::ipv4(
                            &mut self.frame,
                            s,
                            d,
                            proto,
                            self.ipid,
                            ttl,
                            mf | (off / 8) as u16,
                            &[],
                            end - off,
                        );
                        self.frame.extend_from_slice(&self.l4[off..end]);
                        pk::pad_ethernet(&mut self.frame, Link::Ethernet);
                        self.stats.fragments += 1;
                        self.count_tags(f, false);
                        self.write_frame()?;
                        frames += 1;
                        off = end;
                    }
                    Ok(frames)
                }
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                self.frame.clear();
                pk::link_header(&mut self.frame, &spec, pk::ETH_IPV6);
                pk::ipv6(&mut self.frame, s, d, proto, ttl, self.l4.len());
                self.frame.extend_from_slice(&self.l4);
                pk::pad_ethernet(&mut self.frame, Link::Ethernet);
                self.count_tags(f, true);
                self.write_frame()?;
                Ok(1)
            }
            _ => unreachable!("flows never mix address families"),
        }
    }

    fn count_tags(&mut self, f: &Flow, six: bool) {
        if six {
            self.stats.v6_packets += 1;
        }
        if f.vlan != 0 {
            self.stats.vlan_packets += 1;
        }
    }

    /// Fills `self.payload` with `len` bytes: a protocol-looking prefix on the first segment of a
    /// message, then bytes from the random pool.
    fn fill_payload(&mut self, k: K, len: usize, first: bool, from_client: bool, msg_len: u32) {
        self.payload.clear();
        let off = self.rng.below((POOL - len) as u64) as usize;
        self.payload.extend_from_slice(&self.pool[off..off + len]);
        if !first || len < 8 {
            return;
        }
        let m = msg_len.saturating_sub(4);
        let prefix: [u8; 8] = match k {
            K::Smb | K::Nbss => [
                0,
                (m >> 16) as u8,
                (m >> 8) as u8,
                m as u8,
                0xfe,
                b'S',
                b'M',
                b'B',
            ],
            K::Krb => [
                (m >> 24) as u8,
                (m >> 16) as u8,
                (m >> 8) as u8,
                m as u8,
                if from_client { 0x6c } else { 0x6d },
                0x82,
                0,
                0,
            ],
            K::Ldap | K::Gc => [
                0x30,
                0x84,
                (m >> 24) as u8,
                (m >> 16) as u8,
                (m >> 8) as u8,
                m as u8,
                0x02,
                0x01,
            ],
            K::Epm => [5, 0, if from_client { 0 } else { 2 }, 3, 0x10, 0, 0, 0],
            K::Rdp => [
                3,
                0,
                (msg_len >> 8) as u8,
                msg_len as u8,
                2,
                0xf0,
                0x80,
                0x64,
            ],
            K::Sql => [
                if from_client { 1 } else { 4 },
                1,
                (msg_len >> 8) as u8,
                msg_len as u8,
                0,
                0,
                1,
                0,
            ],
            K::Https | K::UnkTcp => [0x17, 3, 3, (m >> 8) as u8, m as u8, 0, 0, 0],
            K::Http => {
                if from_client {
                    *b"GET /ind"
                } else {
                    *b"HTTP/1.1"
                }
            }
            K::DnsTcp => [(m >> 8) as u8, m as u8, 0x0a, 0x0f, 0x85, 0x80, 0, 1],
            _ => return,
        };
        self.payload[..8].copy_from_slice(&prefix);
    }

    fn tcp_seg(
        &mut self,
        f: &mut Flow,
        from_client: bool,
        flags: u8,
        len: usize,
        msg_len: u32,
    ) -> io::Result<u32> {
        let k = SPECS[f.spec as usize].k;
        if len > 0 && f.scripted {
            // The current message is the one before `f.msg`; `cur_left` of it is still to send.
            let msgs = if k == K::SmbPipe {
                &self.scripts[usize::from(f.script)].msgs
            } else {
                &self.openings[f.spec as usize][usize::from(f.script)].msgs
            };
            let m = &msgs[(usize::from(f.msg) + msgs.len() - 1) % msgs.len()].1;
            let off = m.len() - f.cur_left as usize;
            self.payload.clear();
            self.payload.extend_from_slice(&m[off..off + len]);
        } else if len > 0 {
            self.fill_payload(k, len, f.first_seg, from_client, msg_len);
        } else {
            self.payload.clear();
        }
        let syn = flags & pk::SYN != 0;
        let mss: u16 = if f.c.is_ipv6() { 1440 } else { 1460 };
        let opts = pk::syn_options(mss);
        let (src, dst, sp, dp, seq, ack) = if from_client {
            (f.c, f.s, f.cport, f.sport, f.cseq, f.sseq)
        } else {
            (f.s, f.c, f.sport, f.cport, f.sseq, f.cseq)
        };
        let h = pk::TcpHdr {
            sport: sp,
            dport: dp,
            seq,
            ack: if flags & pk::ACK != 0 { ack } else { 0 },
            flags,
            window: if syn { 64240 } else { 1026 },
            options: if syn { &opts } else { &[] },
        };
        self.l4.clear();
        pk::tcp(&mut self.l4, src, dst, &h, &self.payload);
        let consumed = len as u32 + u32::from(syn) + u32::from(flags & pk::FIN != 0);
        if from_client {
            f.cseq = f.cseq.wrapping_add(consumed);
        } else {
            f.sseq = f.sseq.wrapping_add(consumed);
        }
        self.emit_l4(f, from_client, pk::PROTO_TCP)
    }

    /// Emits the next packet of a TCP flow.
    fn step_tcp(&mut self, f: &mut Flow) -> io::Result<u32> {
        match f.phase {
            PHASE_SYN => {
                f.phase = PHASE_SYNACK;
                self.tcp_seg(f, true, pk::SYN, 0, 0)
            }
            PHASE_SYNACK => {
                f.phase = PHASE_ACK;
                self.tcp_seg(f, false, pk::SYN | pk::ACK, 0, 0)
            }
            PHASE_ACK => {
                f.phase = PHASE_DATA;
                f.cur_client = true;
                f.cur_left = self.next_message(f, true);
                f.first_seg = true;
                self.tcp_seg(f, true, pk::ACK, 0, 0)
            }
            PHASE_DATA => {
                // Three packets of the budget are kept for the close.
                if f.left <= 3 {
                    f.phase = PHASE_FIN_S;
                    return self.tcp_seg(f, true, pk::FIN | pk::ACK, 0, 0);
                }
                if f.ack_due != 0 {
                    let by_client = f.ack_due == 1;
                    f.ack_due = 0;
                    return self.tcp_seg(f, by_client, pk::ACK, 0, 0);
                }
                if f.cur_left == 0 {
                    f.cur_client = true;
                    f.cur_left = self.next_message(f, true);
                    f.first_seg = true;
                }
                let mss = if f.c.is_ipv6() { 1440 } else { 1460 };
                let n = f.cur_left.min(mss);
                let last = n == f.cur_left;
                let from_client = f.cur_client;
                let msg_len = if f.first_seg { f.cur_left } else { 0 };
                let flags = if last { pk::PSH | pk::ACK } else { pk::ACK };
                let sent = self.tcp_seg(f, from_client, flags, n as usize, msg_len)?;
                f.first_seg = false;
                f.cur_left -= n;
                f.segs += 1;
                if !last {
                    if f.segs >= 2 {
                        f.segs = 0;
                        f.ack_due = if from_client { 2 } else { 1 };
                    }
                } else {
                    f.segs = 0;
                    if from_client {
                        f.cur_client = false;
                        f.cur_left = self.next_message(f, false);
                        f.first_seg = true;
                    } else {
                        f.ack_due = 1;
                    }
                }
                Ok(sent)
            }
            PHASE_FIN_S => {
                f.phase = PHASE_LAST_ACK;
                self.tcp_seg(f, false, pk::FIN | pk::ACK, 0, 0)
            }
            PHASE_LAST_ACK => {
                f.phase = PHASE_DONE;
                self.tcp_seg(f, true, pk::ACK, 0, 0)
            }
            _ => Ok(0),
        }
    }

    /// Emits the next datagram of a UDP, GRE or ESP flow (several frames when fragmented).
    fn step_other(&mut self, f: &mut Flow) -> io::Result<u32> {
        let spec = &SPECS[f.spec as usize];
        let k = spec.k;
        let sent = f.nc + f.ns;
        let from_client = match k {
            K::Nbns | K::Nbdgm => true,
            K::Gre | K::Esp | K::UnkUdp => sent == 0 || self.rng.chance(0.5),
            _ => sent.is_multiple_of(2),
        };
        let planned = if from_client { f.frag_req } else { f.frag_resp };
        let r = &mut self.rng;
        let len = if planned > 1 {
            // A datagram that needs exactly `planned` fragments.
            let p = u64::from(planned);
            r.range((p - 1) * 1480 - 7, p * 1480 - 8)
        } else {
            match k {
                K::DnsUdp => {
                    if from_client {
                        r.range(30, 70)
                    } else {
                        r.range(60, 450)
                    }
                }
                K::KrbUdp => {
                    if from_client {
                        r.range(200, 320)
                    } else {
                        r.range(150, 1400)
                    }
                }
                K::Cldap => {
                    if from_client {
                        r.range(180, 240)
                    } else {
                        r.range(150, 200)
                    }
                }
                K::Nbns => 50,
                K::Nbdgm => r.range(200, 240),
                K::Ntp => 48,
                K::Gre | K::Esp | K::UnkUdp => {
                    if r.chance(0.35) {
                        r.range(900, 1400)
                    } else {
                        r.range(40, 300)
                    }
                }
                _ => 100,
            }
        } as usize;
        if from_client {
            f.nc += 1;
            f.frag_req = 0;
        } else {
            f.ns += 1;
            f.frag_resp = 0;
        }
        let seqno = if from_client { f.nc } else { f.ns };
        self.payload.clear();
        // The opening's datagrams (request, then answer), else filler of the drawn length.
        let opening = match &self.openings[f.spec as usize] {
            o if f.open => o[usize::from(f.script)]
                .msgs
                .get(sent as usize)
                .filter(|m| m.0 == from_client),
            _ => None,
        };
        let len = match opening {
            Some((_, m)) => {
                self.payload.extend_from_slice(m);
                m.len()
            }
            None => {
                let off = self.rng.below((POOL - len) as u64) as usize;
                self.payload.extend_from_slice(&self.pool[off..off + len]);
                len
            }
        };
        let (src, dst, sp, dp) = if from_client {
            (f.c, f.s, f.cport, f.sport)
        } else {
            (f.s, f.c, f.sport, f.cport)
        };
        self.l4.clear();
        let proto = match spec.tr {
            Tr::Udp => {
                pk::udp(&mut self.l4, src, dst, sp, dp, &self.payload);
                pk::PROTO_UDP
            }
            Tr::Gre => {
                let call: u16 = if from_client { 0x8001 } else { 0x4000 };
                self.l4.extend_from_slice(&[0x30, 0x01, 0x88, 0x0b]);
                self.l4.extend_from_slice(&(len as u16).to_be_bytes());
                self.l4.extend_from_slice(&call.to_be_bytes());
                self.l4.extend_from_slice(&seqno.to_be_bytes());
                self.l4.extend_from_slice(&self.payload);
                pk::PROTO_GRE
            }
            Tr::Esp => {
                let spi: u32 = if from_client {
                    0xc3a1_0001
                } else {
                    0x7e55_0002
                };
                self.l4.extend_from_slice(&spi.to_be_bytes());
                self.l4.extend_from_slice(&seqno.to_be_bytes());
                self.l4.extend_from_slice(&self.payload);
                pk::PROTO_ESP
            }
            Tr::Tcp => unreachable!("TCP flows use step_tcp"),
        };
        self.emit_l4(f, from_client, proto)
    }

    /// Emits the next packet(s) of `f` and returns how many frames were written.
    fn step(&mut self, f: &mut Flow) -> io::Result<u32> {
        let n = if SPECS[f.spec as usize].tr == Tr::Tcp {
            self.step_tcp(f)?
        } else {
            self.step_other(f)?
        };
        debug_assert!(n >= 1 && n <= f.left, "flow budget overrun");
        f.left -= n;
        Ok(n)
    }
}

/// Writes the benchmark capture to `out` and returns what it holds.
pub fn run(packets: u64, seed: u64, out: &Path, pcapng: bool) -> io::Result<Stats> {
    let file = BufWriter::with_capacity(1 << 20, File::create(out)?);
    let sink: Box<dyn PacketSink> = if pcapng {
        let ifs = [NgInterface {
            linktype: Link::Ethernet.linktype(),
            snaplen: 65535,
            name: "eth0".into(),
        }];
        Box::new(PcapngWriter::new(file, &ifs, "svcscope-gen bench")?)
    } else {
        Box::new(PcapWriter::new(file, 65535, Link::Ethernet.linktype())?)
    };
    let mut rng = Rng::new(seed ^ 0x5C5C_0BE5_C0DE_0001);
    let mut pool = vec![0u8; POOL];
    rng.fill(&mut pool);
    let mut g = Gen {
        rng,
        sink,
        pool,
        payload: Vec::with_capacity(2048),
        l4: Vec::with_capacity(16384),
        frame: Vec::with_capacity(2048),
        t: 0,
        ipid: seed as u16,
        serial: 0,
        weight_total: SPECS.iter().map(|s| s.weight).sum(),
        stats: Stats::default(),
        scripts: smb_scripts(),
        openings: openings(),
    };
    let mut flows: Vec<Flow> = Vec::new();
    let mut remaining = packets;
    while remaining > 0 {
        // Lay out one epoch: flows whose budgets add up to the epoch's packets.
        flows.clear();
        let mut sum = 0u64;
        while sum < remaining && flows.len() < EPOCH_FLOWS {
            let mut f = g.new_flow();
            if sum + u64::from(f.left) > remaining {
                f = g.trim(f, (remaining - sum) as u32);
            }
            sum += u64::from(f.left);
            flows.push(f);
        }
        g.stats.epochs += 1;
        g.stats.max_concurrent = g.stats.max_concurrent.max(flows.len());
        // Draw packets in proportion to what each flow has left.
        let mut fen = Fenwick::with_weights(flows.iter().map(|f| u64::from(f.left)));
        let mut total = sum;
        while total > 0 {
            let i = fen.find(g.rng.below(total));
            let n = g.step(&mut flows[i])?;
            fen.sub(i, u64::from(n));
            total -= u64::from(n);
        }
        remaining -= sum;
    }
    g.sink.flush()?;
    Ok(g.stats)
}

/// The real protocol messages that open flows of the mix, per [`SPECS`] entry (empty where the
/// flow is all filler): Kerberos AS and TGS exchanges over TCP and UDP (the KDC's messages as
/// [`gss::kdc_req`] and [`gss::kdc_rep`] build them), LDAP binds and searches, the CLDAP LDAP
/// ping and its NETLOGON answer, TLS handshakes with the server's name (SNI) and certificate, and
/// RDP's X.224 connection request and confirm followed by its TLS handshake. A flow draws one
/// variant; the rest of its budget (if any) is filler that looks like its protocol.
fn openings() -> Vec<Vec<Script>> {
    let mut rng = Rng::new(0x0be7_1e55);
    SPECS
        .iter()
        .map(|s| match s.k {
            K::Krb => (0..12).map(|i| krb_tcp_opening(&mut rng, i)).collect(),
            K::KrbUdp => (0..16).map(|i| krb_udp_opening(&mut rng, i)).collect(),
            K::Ldap | K::Gc => (0..8).map(|i| ldap_opening(&mut rng, i)).collect(),
            K::Cldap => (0..8).map(|i| cldap_opening(&mut rng, i)).collect(),
            K::Https => (0..8)
                .map(|i| {
                    let host = HTTPS_NAMES[i % HTTPS_NAMES.len()];
                    Script::from_turns(tls_handshake(&mut rng, host, i))
                })
                .collect(),
            K::Rdp => (0..4)
                .map(|i| {
                    let host = ["ts01.corp.example", "ts02.corp.example"][i % 2];
                    let mut turns = vec![
                        (true, crate::payload::rdp_connect_request()),
                        (false, crate::payload::rdp_connect_confirm()),
                    ];
                    turns.extend(tls_handshake(&mut rng, host, i));
                    Script::from_turns(turns)
                })
                .collect(),
            _ => Vec::new(),
        })
        .collect()
}

const REALM: &str = "CORP.EXAMPLE";
const HTTPS_NAMES: &[&str] = &[
    "intranet.corp.example",
    "adfs.corp.example",
    "mail.corp.example",
    "wsus.corp.example",
    "pki.corp.example",
];
const CLIENTS: &[&str] = &["alice", "bob", "carol", "WS101$", "WS117$", "svc-backup"];
/// Service principals of TGS exchanges and the etype of the tickets the KDC issues for them (the
/// SQL service account has no AES keys: RC4).
const SERVICES: &[(&[&str], u32)] = &[
    (&["cifs", "fs01.corp.example"], gss::ETYPE_AES256_CTS),
    (&["ldap", "dc01.corp.example"], gss::ETYPE_AES256_CTS),
    (&["HTTP", "intranet.corp.example"], gss::ETYPE_AES256_CTS),
    (&["TERMSRV", "ts01.corp.example"], gss::ETYPE_AES256_CTS),
    (&["MSSQLSvc", "sql01.corp.example:1433"], gss::ETYPE_RC4),
];

fn krb_framed(m: Vec<u8>) -> Vec<u8> {
    let mut v = (m.len() as u32).to_be_bytes().to_vec();
    v.extend(m);
    v
}

/// A KDC exchange of variant `i`: an AS exchange (pre-authenticated, or refused for the lack of
/// it), else a TGS exchange for one of [`SERVICES`].
fn kdc_messages(rng: &mut Rng, i: usize, req_len: usize, rep_len: usize) -> (Vec<u8>, Vec<u8>) {
    let client = CLIENTS[i % CLIENTS.len()];
    // Variants 2, 3, 6, 7, ... are TGS exchanges: they go round the services in turn.
    let (service, etype) = SERVICES[(i / 4 * 2 + i % 2) % SERVICES.len()];
    let x = gss::KdcExchange {
        realm: REALM,
        client,
        service,
        ticket_etype: etype,
    };
    match i % 4 {
        0 => (
            gss::kdc_req(rng, &x, false, false, 220),
            gss::krb_error_preauth(&x, 190),
        ),
        1 => {
            let x = gss::KdcExchange {
                ticket_etype: gss::ETYPE_AES256_CTS,
                ..x
            };
            (
                gss::kdc_req(rng, &x, false, true, req_len.min(400)),
                gss::kdc_rep(rng, &x, false, rep_len),
            )
        }
        _ => (
            gss::kdc_req(rng, &x, true, true, req_len),
            gss::kdc_rep(rng, &x, true, rep_len),
        ),
    }
}

/// One KDC exchange over TCP 88 (one a connection, as Windows clients do), framed with its
/// four-byte length.
fn krb_tcp_opening(rng: &mut Rng, i: usize) -> Script {
    let req = rng.size(1300, 1700);
    let rep = rng.size(1300, 1800);
    let (q, a) = kdc_messages(rng, i, req, rep);
    Script::from_turns(vec![(true, krb_framed(q)), (false, krb_framed(a))])
}

/// One KDC exchange over UDP 88: most answers carry a ticket with a large PAC and are fragmented,
/// and some requests are too (a TGS-REQ with a large TGT).
fn krb_udp_opening(rng: &mut Rng, i: usize) -> Script {
    let req = if rng.chance(0.3) {
        rng.size(1500, 3000)
    } else {
        rng.size(1200, 1450)
    };
    let rep = if rng.chance(0.7) {
        rng.size(3000, 8000)
    } else {
        rng.size(1200, 1400)
    };
    let (q, a) = kdc_messages(rng, i, req, rep);
    Script {
        msgs: vec![(true, q), (false, a)],
    }
}

/// A directory client's session: a Kerberos (SPNEGO) bind, or now and then a simple bind with
/// the password in clear; a subtree search and its entries.
fn ldap_opening(rng: &mut Rng, i: usize) -> Script {
    let host = ["dc01.corp.example", "dc02.corp.example"][i % 2];
    let (bind, done) = if i % 8 == 7 {
        (
            ldap::bind_simple(1, "CN=svc-app,OU=Service,DC=corp,DC=example", "Winter2026!"),
            ldap::bind_done(1),
        )
    } else {
        (
            ldap::bind_spnego_kerberos(rng, 1, REALM, host),
            ldap::bind_response(rng, 1),
        )
    };
    let base = "DC=corp,DC=example";
    let attrs = [
        "sAMAccountName",
        "memberOf",
        "userAccountControl",
        "lastLogonTimestamp",
    ];
    let mut entries = Vec::new();
    for n in 0..(1 + i % 6) {
        let user = format!("user{:03}", 10 * i + n);
        let dn = format!("CN={user},OU=Staff,{base}");
        entries.extend(ldap::entry(
            2,
            &dn,
            &[
                ("sAMAccountName", vec![user.into_bytes()]),
                (
                    "memberOf",
                    vec![format!("CN=Staff,OU=Groups,{base}").into_bytes()],
                ),
                ("userAccountControl", vec![b"512".to_vec()]),
            ],
        ));
    }
    entries.extend(ldap::search_done(2));
    Script::from_turns(vec![
        (true, bind),
        (false, done),
        (true, ldap::search(2, base, &attrs)),
        (false, entries),
    ])
}

/// The CLDAP LDAP ping of a domain member and the DC's NETLOGON_SAM_LOGON_RESPONSE_EX.
fn cldap_opening(rng: &mut Rng, i: usize) -> Script {
    let host = format!("WS{}", 101 + i);
    let nl = ldap::logon_response(
        rng,
        0x0000_f3fd,
        "corp.example",
        ["dc01.corp.example", "dc02.corp.example"][i % 2],
        "CORP",
        "Default-First-Site-Name",
    );
    let answer = [
        ldap::entry(1 + i as u32, "", &[("Netlogon", vec![nl])]),
        ldap::search_done(1 + i as u32),
    ]
    .concat();
    Script {
        msgs: vec![
            (true, ldap::ping(1 + i as u32, "corp.example", &host)),
            (false, answer),
        ],
    }
}

fn tls_record(ctype: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![ctype, 3, 3];
    v.extend((body.len() as u16).to_be_bytes());
    v.extend_from_slice(body);
    v
}

fn tls_handshake_msg(htype: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![htype];
    v.extend(&(body.len() as u32).to_be_bytes()[1..]);
    v.extend_from_slice(body);
    v
}

fn tls_ext(t: u16, body: &[u8]) -> Vec<u8> {
    let mut v = t.to_be_bytes().to_vec();
    v.extend((body.len() as u16).to_be_bytes());
    v.extend_from_slice(body);
    v
}

fn random_bytes(rng: &mut Rng, n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    rng.fill(&mut v);
    v
}

/// A TLS 1.2 ClientHello (in a record of version 3.1, as clients send the first one) offering
/// TLS 1.3 and 1.2, with `host` in the server_name extension (RFC 6066 3).
pub(crate) fn client_hello(rng: &mut Rng, host: &str) -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend(random_bytes(rng, 32));
    b.push(32);
    b.extend(random_bytes(rng, 32));
    let suites: [u16; 9] = [
        0x1302, 0x1301, 0xc02c, 0xc02b, 0xc030, 0xc02f, 0xc024, 0xc023, 0x009d,
    ];
    b.extend(((suites.len() * 2) as u16).to_be_bytes());
    for s in suites {
        b.extend(s.to_be_bytes());
    }
    b.extend([1, 0]);
    let name = host.as_bytes();
    let mut sni = ((name.len() + 3) as u16).to_be_bytes().to_vec();
    sni.push(0);
    sni.extend((name.len() as u16).to_be_bytes());
    sni.extend_from_slice(name);
    let mut key_share = vec![0, 36, 0, 0x1d, 0, 32];
    key_share.extend(random_bytes(rng, 32));
    let exts = [
        tls_ext(0x0000, &sni),
        tls_ext(0x000a, &[0, 6, 0, 0x1d, 0, 0x17, 0, 0x18]),
        tls_ext(0x000b, &[1, 0]),
        tls_ext(0x000d, &[0, 8, 8, 4, 8, 5, 4, 1, 5, 1]),
        tls_ext(0x0017, &[]),
        tls_ext(0xff01, &[0]),
        tls_ext(0x002b, &[4, 3, 4, 3, 3]),
        tls_ext(0x0033, &key_share),
    ]
    .concat();
    b.extend((exts.len() as u16).to_be_bytes());
    b.extend(exts);
    let mut r = tls_record(22, &tls_handshake_msg(1, &b));
    r[2] = 1;
    r
}

/// A server certificate for `host` (DER, X.509 v3 shaped: serial, signature algorithm, issuer,
/// validity, subject with the host as CN, an RSA-2048 key and signature of random bytes).
fn certificate(rng: &mut Rng, host: &str) -> Vec<u8> {
    use gss::{oid, tlv};
    let name = |cn: &str| {
        tlv(
            0x30,
            &tlv(
                0x31,
                &tlv(0x30, &[oid("2.5.4.3"), tlv(0x0c, cn.as_bytes())].concat()),
            ),
        )
    };
    let alg = tlv(0x30, &[oid("1.2.840.113549.1.1.11"), vec![5, 0]].concat());
    let mut key = vec![0u8];
    key.extend(tlv(
        0x30,
        &[tlv(0x02, &random_bytes(rng, 257)), tlv(0x02, &[1, 0, 1])].concat(),
    ));
    let spki = tlv(
        0x30,
        &[
            tlv(0x30, &[oid("1.2.840.113549.1.1.1"), vec![5, 0]].concat()),
            tlv(0x03, &key),
        ]
        .concat(),
    );
    let tbs = tlv(
        0x30,
        &[
            tlv(0xa0, &tlv(0x02, &[2])),
            tlv(0x02, &random_bytes(rng, 16)),
            alg.clone(),
            name("CORP-CA01-CA"),
            tlv(
                0x30,
                &[tlv(0x17, b"260101000000Z"), tlv(0x17, b"280101000000Z")].concat(),
            ),
            name(host),
            spki,
        ]
        .concat(),
    );
    let mut sig = vec![0u8];
    sig.extend(random_bytes(rng, 256));
    tlv(0x30, &[tbs, alg, tlv(0x03, &sig)].concat())
}

/// A full TLS 1.2 handshake with `host`: ClientHello with SNI; ServerHello, Certificate (the
/// server's and its CA's), ServerKeyExchange and ServerHelloDone; the client's key exchange,
/// ChangeCipherSpec and Finished; the server's ChangeCipherSpec and Finished.
fn tls_handshake(rng: &mut Rng, host: &str, i: usize) -> Vec<(bool, Vec<u8>)> {
    let mut sh = vec![3, 3];
    sh.extend(random_bytes(rng, 32));
    sh.push(32);
    sh.extend(random_bytes(rng, 32));
    sh.extend(
        if i.is_multiple_of(2) {
            0xc030u16
        } else {
            0xc02fu16
        }
        .to_be_bytes(),
    );
    sh.push(0);
    let exts = [tls_ext(0xff01, &[0]), tls_ext(0x0017, &[])].concat();
    sh.extend((exts.len() as u16).to_be_bytes());
    sh.extend(exts);
    let mut chain = Vec::new();
    for c in [certificate(rng, host), certificate(rng, "CORP-CA01-CA")] {
        chain.extend(&(c.len() as u32).to_be_bytes()[1..]);
        chain.extend(c);
    }
    let mut certs = (chain.len() as u32).to_be_bytes()[1..].to_vec();
    certs.extend(chain);
    let mut ske = vec![3, 0, 0x17, 65, 4];
    ske.extend(random_bytes(rng, 64));
    ske.extend([4, 1, 1, 0]);
    ske.extend(random_bytes(rng, 256));
    let server = [
        tls_record(22, &tls_handshake_msg(2, &sh)),
        tls_record(22, &tls_handshake_msg(11, &certs)),
        tls_record(22, &tls_handshake_msg(12, &ske)),
        tls_record(22, &tls_handshake_msg(14, &[])),
    ]
    .concat();
    let mut cke = vec![65, 4];
    cke.extend(random_bytes(rng, 64));
    let client = [
        tls_record(22, &tls_handshake_msg(16, &cke)),
        tls_record(20, &[1]),
        tls_record(22, &random_bytes(rng, 40)),
    ]
    .concat();
    let done = [tls_record(20, &[1]), tls_record(22, &random_bytes(rng, 40))].concat();
    vec![
        (true, client_hello(rng, host)),
        (false, server),
        (true, client),
        (false, done),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every SMB pipe flow's budget is exactly its script: the last packet is the close's final
    /// ACK, every message went out once and in order, and the bytes sent are the script's.
    #[test]
    fn smb_pipe_flows_send_their_script_exactly() {
        let sink: Box<dyn PacketSink> =
            Box::new(PcapWriter::new(io::sink(), 65535, Link::Ethernet.linktype()).unwrap());
        let mut rng = Rng::new(7);
        let mut pool = vec![0u8; POOL];
        rng.fill(&mut pool);
        let mut g = Gen {
            rng,
            sink,
            pool,
            payload: Vec::new(),
            l4: Vec::new(),
            frame: Vec::new(),
            t: 0,
            ipid: 1,
            serial: 0,
            weight_total: SPECS.iter().map(|s| s.weight).sum(),
            stats: Stats::default(),
            scripts: smb_scripts(),
            openings: openings(),
        };
        let si = SPECS.iter().position(|s| s.k == K::SmbPipe).unwrap();
        let mut seen = vec![false; g.scripts.len()];
        for _ in 0..40 {
            let mut f = g.flow_of(si);
            let script = usize::from(f.script);
            seen[script] = true;
            let msgs = g.scripts[script].msgs.len();
            let data: usize = g.scripts[script].msgs.iter().map(|m| m.1.len()).sum();
            let (c0, s0) = (f.cseq, f.sseq);
            while f.left > 0 {
                g.step(&mut f).unwrap();
            }
            assert_eq!(f.phase, PHASE_DONE, "script {script}");
            assert_eq!(usize::from(f.msg), msgs, "script {script}");
            // SYN and FIN take one sequence number each way.
            let sent = f.cseq.wrapping_sub(c0) as usize + f.sseq.wrapping_sub(s0) as usize;
            assert_eq!(sent, data + 4, "script {script}");
        }
        assert!(seen.iter().all(|&s| s), "every script drawn");
    }

    /// Flows with an opening send its messages first, byte for byte, and the opening fits the
    /// budget: a Kerberos flow over TCP is one framed KDC exchange, an HTTPS flow starts with a
    /// ClientHello naming its server, CLDAP is the LDAP ping and its answer.
    #[test]
    fn openings_are_sent_first_and_whole() {
        use crate::writer::PacketSink;
        use std::{cell::RefCell, rc::Rc};
        struct Grab(Rc<RefCell<Vec<Vec<u8>>>>);
        impl PacketSink for Grab {
            fn packet(&mut self, _: u64, _: u32, data: &[u8], _: u32) -> io::Result<()> {
                self.0.borrow_mut().push(data.to_vec());
                Ok(())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let frames = Rc::new(RefCell::new(Vec::new()));
        let mut rng = Rng::new(3);
        let mut pool = vec![0u8; POOL];
        rng.fill(&mut pool);
        let mut g = Gen {
            rng,
            sink: Box::new(Grab(frames.clone())),
            pool,
            payload: Vec::new(),
            l4: Vec::new(),
            frame: Vec::new(),
            t: 0,
            ipid: 1,
            serial: 0,
            weight_total: SPECS.iter().map(|s| s.weight).sum(),
            stats: Stats::default(),
            scripts: smb_scripts(),
            openings: openings(),
        };
        for k in [K::Krb, K::Ldap, K::Https, K::Rdp, K::Cldap, K::KrbUdp] {
            let si = SPECS.iter().position(|s| s.k == k).unwrap();
            for _ in 0..20 {
                let mut f = g.flow_of(si);
                if f.c.is_ipv6() || f.vlan != 0 {
                    continue;
                }
                assert!(f.open, "{k:?}");
                frames.borrow_mut().clear();
                while f.left > 0 {
                    g.step(&mut f).unwrap();
                }
                let script = &g.openings[si][usize::from(f.script)];
                // The payload each way, reassembled from the frames (IPv4, no VLAN).
                let mut sent = [Vec::new(), Vec::new()];
                for fr in frames.borrow().iter() {
                    let ip = &fr[14..];
                    let src = IpAddr::V4(Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]));
                    let ihl = usize::from(ip[0] & 0x0f) * 4;
                    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
                    let frag_off = u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff;
                    let l4 = &ip[ihl..total];
                    let payload = match SPECS[si].tr {
                        Tr::Tcp => &l4[usize::from(l4[12] >> 4) * 4..],
                        _ if frag_off == 0 => &l4[8..],
                        _ => l4,
                    };
                    sent[usize::from(src != f.c)].extend_from_slice(payload);
                }
                for (client, m) in &script.msgs {
                    let side = &sent[usize::from(!client)];
                    assert!(
                        side.windows(m.len()).any(|w| w == m.as_slice()),
                        "{k:?}: a message of the opening is missing"
                    );
                }
                if k == K::Krb {
                    let data: usize = script.msgs.iter().map(|m| m.1.len()).sum();
                    assert_eq!(sent[0].len() + sent[1].len(), data, "one exchange only");
                    assert!(matches!(sent[0][4], 0x6a | 0x6c), "AS-REQ or TGS-REQ");
                }
                if k == K::Https {
                    let name = HTTPS_NAMES
                        .iter()
                        .any(|n| sent[0].windows(n.len()).any(|w| w == n.as_bytes()));
                    assert!(
                        sent[0].starts_with(&[22, 3, 1]) && name,
                        "ClientHello with SNI"
                    );
                }
            }
        }
    }

    #[test]
    fn fenwick_draws_by_weight() {
        let mut f = Fenwick::with_weights([3u64, 0, 2, 5].into_iter());
        let picks: Vec<usize> = (0..10).map(|k| f.find(k)).collect();
        assert_eq!(picks, vec![0, 0, 0, 2, 2, 3, 3, 3, 3, 3]);
        f.sub(3, 4);
        assert_eq!(f.find(5), 3);
        f.sub(0, 3);
        assert_eq!(f.find(0), 2);
    }
}
