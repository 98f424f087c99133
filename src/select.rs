//! Which flows a report counts (`analyze --service, --protocol, --host, --net`), as tshark's `-Y`
//! or an nfdump filter selects them: a flow is counted whole or not at all.
//!
//! Within one kind the values are alternatives (`--host A --host B`: either), and the kinds must all
//! hold (`--service X --net N`: both). `--host` and `--net` match a flow either of whose ends is in
//! the network; `--protocol` matches the flow's application protocol (its final label) by name;
//! `--service` matches a flow credited to the service as the services table credits it: evidence
//! that names it, or a port only it uses (not a shared port's candidates).

use std::net::IpAddr;

use crate::catalog::{Catalog, LabelId, ServiceId};
use crate::decode::Addr;
use crate::flow::Flow;
use crate::inspect::Basis;

/// An address or a network (`192.0.2.0/24`, `2001:db8::/32`) to narrow the view to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Net {
    pub addr: Addr,
    pub prefix: u8,
}

impl Net {
    /// Parses "ADDR" (a single host) or "ADDR/PREFIX".
    pub fn parse(text: &str) -> Result<Net, String> {
        let (a, p) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let ip: IpAddr = a
            .trim()
            .parse()
            .map_err(|_| format!("\"{text}\" is not an IP address or network"))?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|&n| n <= max)
                .ok_or_else(|| format!("\"{text}\": prefix length must be 0-{max}"))?,
        };
        // IPv4 is stored IPv4-mapped: its prefix counts from bit 96.
        let prefix = if ip.is_ipv4() { prefix + 96 } else { prefix };
        Ok(Net {
            addr: Addr::from(ip),
            prefix,
        })
    }

    pub fn contains(&self, a: Addr) -> bool {
        if self.prefix == 0 {
            return true;
        }
        let shift = 128 - u32::from(self.prefix);
        let mask = if shift >= 128 { 0 } else { u128::MAX << shift };
        a.to_bits() & mask == self.addr.to_bits() & mask
    }
}

/// The flows to count; `None` of a kind selects every flow for it.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    pub nets: Vec<Net>,
    /// Application protocol names, lower-cased.
    pub protocols: Vec<String>,
    pub services: Vec<ServiceId>,
    /// Labels of the selected protocols, and labels whose candidates include a selected service,
    /// sorted: what [`Selection::may_count`] tests per packet.
    protocol_labels: Vec<LabelId>,
    service_labels: Vec<LabelId>,
}

impl Selection {
    /// Resolves service and protocol names against the catalog: a name it does not know is an error
    /// (a typo must not make an empty report). A service is its friendly or its system name, a
    /// protocol an application protocol's name, both case-insensitive.
    pub fn new(
        catalog: &Catalog,
        nets: Vec<Net>,
        protocols: &[String],
        services: &[String],
    ) -> Result<Selection, String> {
        let mut out = Selection {
            nets,
            ..Selection::default()
        };
        for p in protocols {
            let lower = p.to_lowercase();
            if !catalog
                .labels
                .iter()
                .any(|l| l.name.to_lowercase() == lower)
            {
                return Err(format!(
                    "--protocol {p:?}: no such application protocol in the catalog (see svcscope catalog)"
                ));
            }
            out.protocols.push(lower);
        }
        for name in services {
            let lower = name.to_lowercase();
            let found: Vec<ServiceId> = (0..catalog.services.len())
                .filter(|&i| {
                    let s = &catalog.services[i];
                    s.name.to_lowercase() == lower
                        || s.system.as_ref().is_some_and(|x| x.to_lowercase() == lower)
                })
                .map(|i| i as ServiceId)
                .collect();
            if found.is_empty() {
                return Err(format!(
                    "--service {name:?}: no such service in the catalog (see svcscope catalog)"
                ));
            }
            out.services.extend(found);
        }
        let labels = |keep: &dyn Fn(&crate::catalog::Label) -> bool| -> Vec<LabelId> {
            (0..catalog.labels.len())
                .filter(|&i| keep(&catalog.labels[i]))
                .map(|i| i as LabelId)
                .collect()
        };
        out.protocol_labels = labels(&|l| out.protocols.contains(&l.name.to_lowercase()));
        out.service_labels = labels(&|l| l.services.iter().any(|s| out.services.contains(s)));
        Ok(out)
    }

    pub fn is_everything(&self) -> bool {
        self.nets.is_empty() && self.protocols.is_empty() && self.services.is_empty()
    }

    /// True when either end of the flow is in a selected network (or none is selected).
    pub fn addresses_match(&self, f: &Flow) -> bool {
        self.nets.is_empty()
            || self
                .nets
                .iter()
                .any(|n| n.contains(f.key.lo) || n.contains(f.key.hi))
    }

    /// Whether a packet of this flow may count, by what the flow is so far: its ends, its label, and
    /// for a service, a label whose candidates include it or any evidence (which may name it). The
    /// flow itself counts only if [`Selection::matches`] it when it ends; this keeps the packet-size
    /// distributions of flows that cannot match out of the report.
    #[inline]
    pub fn may_count(&self, f: &Flow) -> bool {
        let label = f.class.label;
        self.addresses_match(f)
            && (self.protocols.is_empty()
                || label.is_some_and(|l| self.protocol_labels.binary_search(&l).is_ok()))
            && (self.services.is_empty()
                || f.slot.is_some()
                || label.is_some_and(|l| self.service_labels.binary_search(&l).is_ok()))
    }

    /// Whether the flow is counted, by what it is now (call when it has ended).
    pub fn matches(&self, catalog: &Catalog, f: &Flow) -> bool {
        if !self.addresses_match(f) {
            return false;
        }
        if !self.protocols.is_empty() {
            let Some(label) = f.class.label else {
                return false;
            };
            let name = catalog.label(label).name.to_lowercase();
            if !self.protocols.contains(&name) {
                return false;
            }
        }
        if !self.services.is_empty() {
            let a = f.attribution(catalog);
            if !matches!(a.basis, Basis::Evidence | Basis::Port)
                || !a.services.iter().any(|s| self.services.contains(s))
            {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::test_flow;

    #[test]
    fn nets_match_either_end() {
        let n = Net::parse("192.0.2.0/24").unwrap();
        assert!(n.contains(Addr::from(IpAddr::from([192, 0, 2, 7]))));
        assert!(!n.contains(Addr::from(IpAddr::from([192, 0, 3, 7]))));
    }

    #[test]
    fn kinds_must_all_hold_and_names_must_exist() {
        let catalog = Catalog::builtin();
        let kerberos = catalog
            .labels
            .iter()
            .position(|l| l.name == "Kerberos")
            .unwrap();
        let f = test_flow(
            Some(kerberos as crate::catalog::LabelId),
            101,
            [100, 200],
            true,
        );
        let sel = |nets: &[&str], protocols: &[&str], services: &[&str]| {
            let nets = nets.iter().map(|n| Net::parse(n).unwrap()).collect();
            let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
            Selection::new(&catalog, nets, &owned(protocols), &owned(services))
        };
        assert!(sel(&[], &[], &[]).unwrap().matches(&catalog, &f));
        assert!(sel(&["192.0.2.10"], &["kerberos"], &["kdc"])
            .unwrap()
            .matches(&catalog, &f));
        assert!(sel(&["192.0.2.10", "198.51.100.0/24"], &[], &[])
            .unwrap()
            .matches(&catalog, &f));
        assert!(!sel(&["198.51.100.0/24"], &[], &[])
            .unwrap()
            .matches(&catalog, &f));
        assert!(!sel(&[], &["LDAP Server"], &[])
            .unwrap()
            .matches(&catalog, &f));
        assert!(!sel(&["192.0.2.10"], &["Kerberos"], &["Net Logon"])
            .unwrap()
            .matches(&catalog, &f));
        assert!(sel(&[], &["Kerbros"], &[])
            .unwrap_err()
            .contains("no such application protocol"));
        assert!(sel(&[], &[], &["Netlogn"])
            .unwrap_err()
            .contains("no such service"));
    }
}
