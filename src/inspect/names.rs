//! Host names the capture itself gave: the A and AAAA answers of DNS responses, address → names,
//! so that reports can show `192.0.2.10 (dc01.corp.example)` as tshark's `-N d` does, from the
//! traffic and never from a lookup of svcscope's own.
//!
//! Bounded: at most [`MAX_ADDRS`] addresses (answers for further addresses are counted in
//! `not_kept`, not stored), [`MAX_NAMES`] names each (the first learnt kept), names of at most
//! 255 bytes as the DNS parser gives them (lower case, odd bytes escaped).

use crate::hash::HashMap;

use crate::decode::Addr;

pub const MAX_ADDRS: usize = 16_384;
pub const MAX_NAMES: usize = 4;

#[derive(Clone, Debug, Default)]
pub struct Names {
    pub by_addr: HashMap<Addr, Vec<Box<str>>>,
    /// Answers not stored: the table was full.
    pub not_kept: u64,
}

impl Names {
    /// Learns that `name` resolves to `addr`.
    pub fn learn(&mut self, addr: Addr, name: &str) {
        if name.is_empty() {
            return;
        }
        if !self.by_addr.contains_key(&addr) && self.by_addr.len() >= MAX_ADDRS {
            self.not_kept += 1;
            return;
        }
        let names = self.by_addr.entry(addr).or_default();
        if names.len() < MAX_NAMES && !names.iter().any(|n| &**n == name) {
            names.push(name.into());
        }
    }

    /// The names of an address, first learnt first.
    pub fn of(&self, addr: Addr) -> &[Box<str>] {
        self.by_addr.get(&addr).map_or(&[], Vec::as_slice)
    }

    /// The addresses a host name (as a service principal names it: full, or its first label
    /// alone, or an address written out) resolves to, by every answer learnt, in address order.
    /// Builds an index over the table: for reports, once.
    pub fn index(&self) -> NameIndex {
        let mut full: HashMap<String, Vec<Addr>> = HashMap::default();
        let mut short: HashMap<String, Vec<Addr>> = HashMap::default();
        for (&addr, names) in &self.by_addr {
            for n in names {
                let n = n.trim_end_matches('.').to_ascii_lowercase();
                if let Some((first, _)) = n.split_once('.') {
                    short.entry(first.to_string()).or_default().push(addr);
                }
                full.entry(n).or_default().push(addr);
            }
        }
        for v in full.values_mut().chain(short.values_mut()) {
            v.sort();
            v.dedup();
        }
        NameIndex { full, short }
    }

    pub fn merge(&mut self, o: &Names) {
        let mut addrs: Vec<&Addr> = o.by_addr.keys().collect();
        addrs.sort();
        for a in addrs {
            for n in &o.by_addr[a] {
                self.learn(*a, n);
            }
        }
        // Every worker learns every answer (see `learn`): the others' refusals are its own.
        self.not_kept = self.not_kept.max(o.not_kept);
    }
}

/// Host name → addresses, built by [`Names::index`].
#[derive(Debug, Default)]
pub struct NameIndex {
    full: HashMap<String, Vec<Addr>>,
    /// By first label, for principals that name the host alone (`cifs/fs01`).
    short: HashMap<String, Vec<Addr>>,
}

impl NameIndex {
    /// The addresses `host` resolves to (see [`super::learn::resolves`], the same rule per flow).
    pub fn addrs(&self, host: &str) -> Vec<Addr> {
        if let Some(addr) = super::learn::ip_literal(host) {
            return vec![addr];
        }
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let map = if host.contains('.') {
            &self.full
        } else {
            &self.short
        };
        map.get(&host).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Addr {
        Addr::from(s.parse::<std::net::IpAddr>().unwrap())
    }

    #[test]
    fn names_are_kept_per_address_bounded_and_merged() {
        let mut n = Names::default();
        n.learn(a("192.0.2.10"), "dc01.corp.example");
        n.learn(a("192.0.2.10"), "dc01.corp.example");
        for i in 0..6 {
            n.learn(a("192.0.2.10"), &format!("alias{i}.corp.example"));
        }
        assert_eq!(n.of(a("192.0.2.10")).len(), MAX_NAMES);
        assert_eq!(&*n.of(a("192.0.2.10"))[0], "dc01.corp.example");
        let mut m = Names::default();
        m.learn(a("192.0.2.20"), "fs01.corp.example");
        m.merge(&n);
        assert_eq!(m.of(a("192.0.2.10")).len(), MAX_NAMES);
        assert_eq!(&*m.of(a("192.0.2.20"))[0], "fs01.corp.example");
        let mut full = Names::default();
        for i in 0..MAX_ADDRS as u32 + 3 {
            full.learn(Addr::from_v4(i.to_be_bytes()), "x");
        }
        assert_eq!((full.by_addr.len(), full.not_kept), (MAX_ADDRS, 3));
    }

    #[test]
    fn the_index_resolves_as_the_per_flow_rule_does() {
        let mut n = Names::default();
        n.learn(a("192.0.2.50"), "portal.corp.example");
        n.learn(a("192.0.2.50"), "www.corp.example");
        n.learn(a("192.0.2.51"), "www.corp.example");
        let ix = n.index();
        let hosts = [
            "portal.corp.example",
            "PORTAL.corp.example.",
            "portal",
            "www",
            "www.corp.example",
            "portal.corp",
            "192.0.2.99",
            "nowhere",
        ];
        for host in hosts {
            let mut by_rule: Vec<Addr> = n
                .by_addr
                .iter()
                .filter(|(&addr, names)| {
                    crate::inspect::learn::resolves(
                        &host.trim_end_matches('.').to_ascii_lowercase(),
                        names,
                        addr,
                    )
                })
                .map(|(&addr, _)| addr)
                .collect();
            by_rule.sort();
            if host == "192.0.2.99" {
                by_rule = vec![a(host)];
            }
            assert_eq!(ix.addrs(host), by_rule, "{host}");
        }
        assert_eq!(ix.addrs("www"), [a("192.0.2.50"), a("192.0.2.51")]);
    }
}
