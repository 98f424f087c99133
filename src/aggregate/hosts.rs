//! Per-host aggregation: what each address serves (per catalog label or unclassified port) and which
//! servers and services it uses as a client. Feeds `svcscope hosts` and `svcscope rules`.
//!
//! Bounded: at most [`MAX_SERVED`] (server, service) entries and [`MAX_USED`] (client, server, service)
//! entries; flows beyond that are counted in `overflow` and missing from the host view only (the
//! per-service statistics are unaffected).

use rustc_hash::FxHashMap;

use super::{AddrSet, MAX_DISTINCT_ADDRS};
use crate::bounded::Workers;
use crate::catalog::LabelId;
use crate::decode::Addr;
use crate::flow::{Flow, C2S, S2C};
use crate::time::Ts;

/// For the whole process: with several workers, each holds its share (see [`crate::bounded::share`]).
pub const MAX_SERVED: usize = 200_000;
pub const MAX_USED: usize = 500_000;

/// What a server offers: a catalog label, or an unclassified (IP protocol, port).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Offer {
    Label(LabelId),
    Port { protocol: u8, port: u16 },
}

impl Offer {
    pub fn of(f: &Flow) -> Offer {
        match f.class.label {
            Some(l) => Offer::Label(l),
            None => Offer::Port {
                protocol: f.key.protocol,
                port: if f.has_ports() { f.server().1 } else { 0 },
            },
        }
    }
}

/// Traffic of one (server, offer).
#[derive(Clone, Debug)]
pub struct Served {
    pub flows: u64,
    pub packets: [u64; 2],
    pub bytes: [u64; 2],
    pub clients: AddrSet,
    pub first_ts: Ts,
    pub last_ts: Ts,
    /// Distinct server ports seen (dynamic RPC flows use several).
    pub ports: Vec<u16>,
}

impl Default for Served {
    fn default() -> Self {
        Served {
            flows: 0,
            packets: [0; 2],
            bytes: [0; 2],
            clients: AddrSet::default(),
            first_ts: i64::MAX,
            last_ts: i64::MIN,
            ports: Vec::new(),
        }
    }
}

/// Ports remembered per served entry (enough for dynamic RPC; more are counted, not listed).
const MAX_PORTS: usize = 64;

impl Served {
    fn add(&mut self, f: &Flow) {
        self.flows += 1;
        for d in [C2S, S2C] {
            self.packets[d] += f.packets[d];
            self.bytes[d] += f.bytes[d];
        }
        self.clients.insert(f.client().0);
        self.first_ts = self.first_ts.min(f.first_ts);
        self.last_ts = self.last_ts.max(f.last_ts);
        let port = f.server().1;
        if f.has_ports() && self.ports.len() < MAX_PORTS && !self.ports.contains(&port) {
            self.ports.push(port);
        }
    }

    fn merge(&mut self, o: &Served) {
        self.flows += o.flows;
        for d in [C2S, S2C] {
            self.packets[d] += o.packets[d];
            self.bytes[d] += o.bytes[d];
        }
        self.clients.merge(&o.clients);
        self.first_ts = self.first_ts.min(o.first_ts);
        self.last_ts = self.last_ts.max(o.last_ts);
        for &p in &o.ports {
            if self.ports.len() < MAX_PORTS && !self.ports.contains(&p) {
                self.ports.push(p);
            }
        }
    }
}

/// Traffic of one (client, server, offer).
#[derive(Clone, Copy, Debug)]
pub struct Used {
    pub flows: u64,
    pub bytes: [u64; 2],
    pub first_ts: Ts,
    pub last_ts: Ts,
}

impl Default for Used {
    fn default() -> Self {
        Used {
            flows: 0,
            bytes: [0; 2],
            first_ts: i64::MAX,
            last_ts: i64::MIN,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct HostTable {
    pub served: FxHashMap<(Addr, Offer), Served>,
    pub used: FxHashMap<(Addr, Addr, Offer), Used>,
    /// Flows left out of the host view because a table was full.
    pub overflow: u64,
    /// The workers sharing the caps.
    pub workers: Workers,
}

/// Broadcast and multicast destinations receive traffic but serve nothing: 255.255.255.255, IPv4
/// addresses ending in .255 (the directed broadcast of a /24 or larger), 224.0.0.0/4 and ff00::/8.
pub fn is_group_address(a: Addr) -> bool {
    match a.ip() {
        std::net::IpAddr::V4(v4) => v4.is_broadcast() || v4.is_multicast() || v4.octets()[3] == 255,
        std::net::IpAddr::V6(v6) => v6.is_multicast(),
    }
}

impl HostTable {
    /// The table of one of several workers: its share of each cap.
    pub fn with_share(workers: Workers) -> HostTable {
        HostTable {
            workers,
            ..HostTable::default()
        }
    }

    pub fn add(&mut self, f: &Flow) {
        let offer = Offer::of(f);
        let (client, server) = (f.client().0, f.server().0);
        if !is_group_address(server) {
            let n = self.served.len();
            match self.served.get_mut(&(server, offer)) {
                Some(s) => s.add(f),
                None if n < self.workers.share(MAX_SERVED) => {
                    let s = Served {
                        clients: AddrSet::with_cap(self.workers.share(MAX_DISTINCT_ADDRS)),
                        ..Served::default()
                    };
                    self.served.entry((server, offer)).or_insert(s).add(f)
                }
                None => self.overflow += 1,
            }
        }
        if is_group_address(client) {
            return;
        }
        let n = self.used.len();
        let key = (client, server, offer);
        let u = match self.used.get_mut(&key) {
            Some(u) => u,
            None if n < self.workers.share(MAX_USED) => self.used.entry(key).or_default(),
            None => {
                self.overflow += 1;
                return;
            }
        };
        u.flows += 1;
        u.bytes[C2S] += f.bytes[C2S];
        u.bytes[S2C] += f.bytes[S2C];
        u.first_ts = u.first_ts.min(f.first_ts);
        u.last_ts = u.last_ts.max(f.last_ts);
    }

    pub fn merge(&mut self, o: &HostTable) {
        for (k, v) in &o.served {
            self.served.entry(*k).or_default().merge(v);
        }
        for (k, v) in &o.used {
            let u = self.used.entry(*k).or_default();
            u.flows += v.flows;
            u.bytes[C2S] += v.bytes[C2S];
            u.bytes[S2C] += v.bytes[S2C];
            u.first_ts = u.first_ts.min(v.first_ts);
            u.last_ts = u.last_ts.max(v.last_ts);
        }
        self.overflow += o.overflow;
    }
}
