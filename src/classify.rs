//! Classify: decide a new flow's server side and label it from the catalog.
//!
//! The server side is decided once, from the flow's first packet, by the first rule that applies:
//!
//! 1. `syn` / `syn-ack`: a SYN without ACK comes from the client; a SYN+ACK from the server.
//! 2. `catalog-port`: exactly one side's port is a catalog row for the transport.
//! 3. `endpoint-mapper`: the client spoke to this server's RPC endpoint mapper (TCP 135) shortly before
//!    and the server's port is in the dynamic RPC range.
//! 4. `well-known-port`: one port is below 1024 and the other is not.
//! 5. `lower-port`: both ports are 1024 or above and differ: the lower port is the server's.
//! 6. `icmp-type`: ICMP echo and other request/reply pairs.
//! 7. `first-packet`: otherwise (equal ports such as UDP 137↔137, GRE/ESP/AH), the first packet's
//!    destination is the server — for UDP that is "a request to a catalog port".
//!
//! The label comes from the server's (transport, port), or the IP protocol number for port-less
//! protocols. A TCP port in the dynamic RPC range is labelled `RPC dynamic (unconfirmed)` only when the
//! same client spoke to the same server's TCP 135 within the endpoint-mapper window; the classifier
//! learns those contacts from earlier flows, and this is where later learning (endpoint-mapper answers,
//! FTP control channels) plugs in.

use std::sync::Arc;
use std::time::Duration;

use rustc_hash::FxHashMap;

use crate::catalog::{Catalog, Transport};
use crate::decode::{proto, tcp_flags, Addr, Decoded};
use crate::flow::{nanos, Class, Provenance, ServerRule, Ts};

/// The RPC endpoint mapper's port.
pub const EPM_PORT: u16 = 135;
/// How long after a client's endpoint-mapper contact its flows to dynamic ports are labelled RPC.
pub const DEFAULT_EPM_WINDOW: Duration = Duration::from_secs(600);
const MAX_EPM_CONTACTS: usize = 100_000;

pub struct Classifier {
    catalog: Arc<Catalog>,
    /// (client, server) → last time the client opened a flow to the server's TCP 135.
    epm_contacts: FxHashMap<(Addr, Addr), Ts>,
    epm_window: i64,
}

impl Classifier {
    pub fn new(catalog: Arc<Catalog>, epm_window: Duration) -> Classifier {
        Classifier {
            catalog,
            epm_contacts: FxHashMap::default(),
            epm_window: nanos(epm_window),
        }
    }

    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    fn transport(protocol: u8) -> Option<Transport> {
        match protocol {
            proto::TCP => Some(Transport::Tcp),
            proto::UDP => Some(Transport::Udp),
            _ => None,
        }
    }

    fn spoke_to_epm(&self, client: Addr, server: Addr, ts: Ts) -> bool {
        self.epm_contacts
            .get(&(client, server))
            .is_some_and(|&t| ts.saturating_sub(t) <= self.epm_window)
    }

    /// Decides the server side and label of a new flow from its first packet (`d`), whose source is
    /// the key's `lo` side when `src_is_lo`.
    pub fn classify(&mut self, d: &Decoded<'_>, src_is_lo: bool, ts: Ts) -> Class {
        let (src_is_client, server_rule) = self.server_side(d, ts);
        let (client, server) = if src_is_client {
            (d.src, d.dst)
        } else {
            (d.dst, d.src)
        };
        let (label, provenance) = match (Self::transport(d.protocol), d.ports) {
            (Some(t), Some((sp, dp))) => {
                let server_port = if src_is_client { dp } else { sp };
                if t == Transport::Tcp && server_port == EPM_PORT {
                    self.remember_epm(client, server, ts);
                }
                match self.catalog.lookup_port(t, server_port) {
                    Some(l) => (Some(l), Provenance::Port),
                    None if t == Transport::Tcp
                        && self.catalog.is_dynamic_port(server_port)
                        && self.spoke_to_epm(client, server, ts) =>
                    {
                        match self.catalog.rpc_dynamic_label() {
                            Some(l) => (Some(l), Provenance::DynamicRange),
                            None => (None, Provenance::Unknown),
                        }
                    }
                    None => (None, Provenance::Unknown),
                }
            }
            (Some(_), None) => (None, Provenance::Unknown),
            (None, _) => match self.catalog.lookup_ip_protocol(d.protocol) {
                Some(l) => (Some(l), Provenance::IpProtocol),
                None => (None, Provenance::Unknown),
            },
        };
        Class {
            client_is_lo: src_is_client == src_is_lo,
            server_rule,
            label,
            provenance,
        }
    }

    /// Returns (the packet's source is the client, the rule that decided).
    pub fn server_side(&self, d: &Decoded<'_>, ts: Ts) -> (bool, ServerRule) {
        if d.protocol == proto::TCP {
            let syn_ack = d.tcp_flags & (tcp_flags::SYN | tcp_flags::ACK);
            if syn_ack == tcp_flags::SYN {
                return (true, ServerRule::Syn);
            }
            if syn_ack == tcp_flags::SYN | tcp_flags::ACK {
                return (false, ServerRule::SynAck);
            }
        }
        if let (Some(t), Some((sp, dp))) = (Self::transport(d.protocol), d.ports) {
            let s_cat = self.catalog.lookup_port(t, sp).is_some();
            let d_cat = self.catalog.lookup_port(t, dp).is_some();
            if d_cat != s_cat {
                return (d_cat, ServerRule::CatalogPort);
            }
            if t == Transport::Tcp && !d_cat {
                if self.catalog.is_dynamic_port(dp) && self.spoke_to_epm(d.src, d.dst, ts) {
                    return (true, ServerRule::EndpointMapper);
                }
                if self.catalog.is_dynamic_port(sp) && self.spoke_to_epm(d.dst, d.src, ts) {
                    return (false, ServerRule::EndpointMapper);
                }
            }
            if (sp < 1024) != (dp < 1024) {
                return (dp < 1024, ServerRule::WellKnownPort);
            }
            if sp != dp && sp >= 1024 {
                return (dp < sp, ServerRule::LowerPort);
            }
            return (true, ServerRule::FirstPacket);
        }
        if matches!(d.protocol, proto::ICMP | proto::ICMPV6) {
            if let Some(&icmp_type) = d.payload.first() {
                // Replies come from the server: echo reply (0 / 129), timestamp, information, address
                // mask replies; ICMPv6 node information reply.
                let reply = if d.protocol == proto::ICMP {
                    matches!(icmp_type, 0 | 14 | 16 | 18)
                } else {
                    matches!(icmp_type, 129 | 140)
                };
                let request = if d.protocol == proto::ICMP {
                    matches!(icmp_type, 8 | 13 | 15 | 17)
                } else {
                    matches!(icmp_type, 128 | 139)
                };
                if reply || request {
                    return (request, ServerRule::IcmpType);
                }
            }
        }
        (true, ServerRule::FirstPacket)
    }

    fn remember_epm(&mut self, client: Addr, server: Addr, ts: Ts) {
        if self.epm_contacts.len() >= MAX_EPM_CONTACTS {
            self.expire(ts);
            if self.epm_contacts.len() >= MAX_EPM_CONTACTS {
                self.epm_contacts.clear();
            }
        }
        self.epm_contacts.insert((client, server), ts);
    }

    /// Forgets endpoint-mapper contacts older than the window.
    pub fn expire(&mut self, now: Ts) {
        let window = self.epm_window;
        self.epm_contacts
            .retain(|_, t| now.saturating_sub(*t) <= window);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Fragment;

    fn classifier() -> Classifier {
        Classifier::new(Arc::new(Catalog::builtin()), DEFAULT_EPM_WINDOW)
    }

    fn a(last: u8) -> Addr {
        Addr::from_v4([192, 0, 2, last])
    }

    fn tcp(src: u8, sport: u16, dst: u8, dport: u16, flags: u8) -> Decoded<'static> {
        Decoded {
            ip_version: 4,
            src: a(src),
            dst: a(dst),
            protocol: proto::TCP,
            ports: Some((sport, dport)),
            tcp_flags: flags,
            fragment: Fragment::None,
            payload: &[],
        }
    }

    fn udp(src: u8, sport: u16, dst: u8, dport: u16) -> Decoded<'static> {
        Decoded {
            protocol: proto::UDP,
            ..tcp(src, sport, dst, dport, 0)
        }
    }

    fn side(c: &Classifier, d: &Decoded<'_>) -> (bool, &'static str) {
        let (client, rule) = c.server_side(d, 0);
        (client, rule.as_str())
    }

    const ACK: u8 = tcp_flags::ACK;
    const SYN: u8 = tcp_flags::SYN;

    #[test]
    fn syn_beats_every_port_heuristic() {
        let c = classifier();
        // Client on port 1000 connects to a server on 50000: ports alone would say the opposite.
        assert_eq!(side(&c, &tcp(101, 1000, 10, 50000, SYN)), (true, "syn"));
        assert_eq!(
            side(&c, &tcp(10, 50000, 101, 1000, SYN | ACK)),
            (false, "syn-ack")
        );
        // SYN from a catalog port (client bound to 445 by accident) still makes the sender the client.
        assert_eq!(side(&c, &tcp(101, 445, 10, 50000, SYN)), (true, "syn"));
    }

    #[test]
    fn mid_stream_uses_the_catalog_then_port_numbers() {
        let c = classifier();
        assert_eq!(
            side(&c, &tcp(10, 445, 101, 49800, ACK)),
            (false, "catalog-port")
        );
        assert_eq!(
            side(&c, &tcp(101, 49800, 10, 445, ACK)),
            (true, "catalog-port")
        );
        // Neither in the catalog: 5999 vs 40000.
        assert_eq!(
            side(&c, &tcp(10, 5999, 101, 40000, ACK)),
            (false, "lower-port")
        );
        assert_eq!(
            side(&c, &tcp(101, 40000, 10, 5999, ACK)),
            (true, "lower-port")
        );
        // Well-known (not in the catalog) vs ephemeral.
        assert_eq!(
            side(&c, &tcp(10, 22, 101, 1030, ACK)),
            (false, "well-known-port")
        );
    }

    #[test]
    fn udp_request_to_a_catalog_port() {
        let c = classifier();
        assert_eq!(side(&c, &udp(101, 49900, 10, 161)), (true, "catalog-port"));
        assert_eq!(side(&c, &udp(10, 161, 101, 49900)), (false, "catalog-port"));
        // NetBIOS name service between two 137s: the first packet's destination serves.
        assert_eq!(side(&c, &udp(101, 137, 10, 137)), (true, "first-packet"));
    }

    #[test]
    fn labels_by_port_and_ip_protocol() {
        let mut c = classifier();
        let class = c.classify(&tcp(101, 50000, 10, 88, SYN), true, 0);
        let cat = c.catalog().clone();
        assert_eq!(cat.label(class.label.unwrap()).name, "Kerberos");
        assert_eq!(class.provenance, Provenance::Port);
        let mut gre = tcp(101, 0, 10, 0, 0);
        gre.protocol = proto::GRE;
        gre.ports = None;
        let class = c.classify(&gre, true, 0);
        assert_eq!(cat.label(class.label.unwrap()).name, "GRE (IP protocol 47)");
        assert_eq!(class.provenance, Provenance::IpProtocol);
        let class = c.classify(&tcp(101, 50000, 10, 8443, SYN), true, 0);
        assert_eq!((class.label, class.provenance), (None, Provenance::Unknown));
    }

    #[test]
    fn dynamic_port_is_rpc_only_after_the_endpoint_mapper() {
        let mut c = classifier();
        let cat = c.catalog().clone();
        let second = 1_000_000_000;
        // Client .102 never spoke to 135: a dynamic port stays unclassified.
        let class = c.classify(&tcp(102, 50001, 10, 49701, SYN), true, 0);
        assert_eq!(class.label, None);
        // Client .101 asks the endpoint mapper, then connects to a dynamic port.
        c.classify(&tcp(101, 50000, 10, 135, SYN), true, second);
        let class = c.classify(&tcp(101, 50002, 10, 49700, SYN), true, 2 * second);
        assert_eq!(
            cat.label(class.label.unwrap()).name,
            "RPC dynamic (unconfirmed)"
        );
        assert_eq!(class.provenance, Provenance::DynamicRange);
        // The other direction (server → client port) does not count.
        let class = c.classify(&tcp(10, 50003, 101, 49702, SYN), false, 2 * second);
        assert_eq!(class.label, None);
        // Mid-stream, the endpoint-mapper contact also decides the server side.
        assert_eq!(
            c.server_side(&tcp(10, 49703, 101, 60000, ACK), 2 * second),
            (false, ServerRule::EndpointMapper)
        );
        // After the window, the contact is forgotten.
        let late = 2 * second + nanos(DEFAULT_EPM_WINDOW) + second;
        assert_eq!(
            c.classify(&tcp(101, 50004, 10, 49704, SYN), true, late)
                .label,
            None
        );
    }

    #[test]
    fn icmp_echo_server_is_the_one_that_replies() {
        let c = classifier();
        let mut d = tcp(101, 0, 10, 0, 0);
        d.protocol = proto::ICMP;
        d.ports = None;
        d.payload = &[8, 0];
        assert_eq!(side(&c, &d), (true, "icmp-type"));
        d.payload = &[0, 0];
        assert_eq!(side(&c, &d), (false, "icmp-type"));
        d.payload = &[3, 3];
        assert_eq!(side(&c, &d), (true, "first-packet"));
    }
}
