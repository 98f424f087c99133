//! Host names the capture itself gave: the A and AAAA answers of DNS responses, address → names,
//! so that reports can show `192.0.2.10 (dc01.corp.example)` as tshark's `-N d` does, from the
//! traffic and never from a lookup of svcscope's own.
//!
//! Bounded: at most [`MAX_ADDRS`] addresses (answers for further addresses are counted in
//! `not_kept`, not stored), [`MAX_NAMES`] names each (the first learnt kept), names of at most
//! 255 bytes as the DNS parser gives them (lower case, odd bytes escaped).

use rustc_hash::FxHashMap;

use crate::decode::Addr;

pub const MAX_ADDRS: usize = 16_384;
pub const MAX_NAMES: usize = 4;

#[derive(Clone, Debug, Default)]
pub struct Names {
    pub by_addr: FxHashMap<Addr, Vec<Box<str>>>,
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
}
