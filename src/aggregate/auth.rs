//! The authentication inventory: per service and server, how clients authenticated (Kerberos,
//! NTLMv2, NTLMv1, anonymous, a password in clear, …) and the Kerberos encryption types of the
//! tickets and KDC replies, counted in flows and distinct clients when each flow ends.
//!
//! A flow counts once per mechanism it showed (a connection that fell back from Kerberos to NTLM
//! counts under both), under each service it is credited with, or under its label when the
//! service is not determined: like the service table, rows are not to be added up; the totals
//! count each flow once. Bounded: at most [`MAX_CELLS`] (subject, server, facet) cells, shared
//! among the workers, flows past a full table counted in `flows_not_counted`; each cell's clients
//! are a capped set. Beside it, the Kerberos service principals clients asked tickets for or
//! presented them (at most [`MAX_PRINCIPALS`]).

use std::collections::BTreeMap;

use crate::hash::HashMap;

use super::AddrSet;
use crate::bounded::Workers;
use crate::catalog::{LabelId, NameId, ServiceId};
use crate::decode::Addr;
use crate::flow::Flow;
use crate::inspect::evidence::{Attribution, Basis, EvidenceKind, Mechanism, Value};

/// At most this many (subject, server, facet) cells in all.
pub const MAX_CELLS: usize = 16_384;
/// Distinct clients counted per cell (a lower bound past it).
pub const MAX_CLIENTS: usize = 4_096;
/// At most this many distinct Kerberos service principals are counted.
pub const MAX_PRINCIPALS: usize = 4_096;

/// One Kerberos service principal: who asked the KDC for a ticket to it (TGS-REQ), and to which
/// servers a ticket for it was presented (AP-REQ in SMB, LDAP, DCE/RPC).
#[derive(Clone, Debug)]
pub struct Principal {
    /// The catalog's service principal class entry, whose services it backs.
    pub name: Option<NameId>,
    pub requested_flows: u64,
    pub presented_flows: u64,
    pub clients: AddrSet,
    /// Servers a ticket was presented to.
    pub servers: AddrSet,
    /// The encryption types of its tickets (KDC replies and AP-REQs that name it), at most 8.
    pub etypes: Vec<Box<str>>,
}

impl Principal {
    fn new(name: Option<NameId>) -> Principal {
        Principal {
            name,
            requested_flows: 0,
            presented_flows: 0,
            clients: AddrSet::with_cap(MAX_CLIENTS),
            servers: AddrSet::with_cap(MAX_CLIENTS),
            etypes: Vec::new(),
        }
    }

    fn add_etype(&mut self, e: &str) {
        if self.etypes.len() < 8 && !self.etypes.iter().any(|x| &**x == e) {
            self.etypes.push(e.into());
            self.etypes.sort();
        }
    }

    fn merge(&mut self, o: &Principal) {
        for e in &o.etypes {
            self.add_etype(e);
        }
        self.requested_flows += o.requested_flows;
        self.presented_flows += o.presented_flows;
        self.clients.merge(&o.clients);
        self.servers.merge(&o.servers);
        self.name = self.name.or(o.name);
    }
}

/// Whom an authentication went to: a service, or a label whose service was not determined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Subject {
    Service(ServiceId),
    Undetermined(LabelId),
    Unclassified,
}

/// What was counted: a mechanism, or a Kerberos encryption type (as evidence names it).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Facet {
    Mechanism(Mechanism),
    Etype(Box<str>),
}

impl Facet {
    pub fn is_weak(&self) -> bool {
        match self {
            Facet::Mechanism(m) => m.is_weak(),
            Facet::Etype(e) => crate::wire::kerberos::etype_text_is_weak(e),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Cell {
    pub flows: u64,
    pub clients: AddrSet,
    pub servers: AddrSet,
}

impl Cell {
    fn new() -> Cell {
        Cell {
            flows: 0,
            clients: AddrSet::with_cap(MAX_CLIENTS),
            servers: AddrSet::with_cap(MAX_CLIENTS),
        }
    }

    fn merge(&mut self, o: &Cell) {
        self.flows += o.flows;
        self.clients.merge(&o.clients);
        self.servers.merge(&o.servers);
    }
}

#[derive(Clone, Debug, Default)]
pub struct AuthInventory {
    pub cells: HashMap<(Subject, Addr, Facet), Cell>,
    /// Per facet, each flow once.
    pub totals: BTreeMap<Facet, Cell>,
    /// Flows whose authentication had no room in a full table.
    pub flows_not_counted: u64,
    /// Kerberos service principals by name (as the wire spells it, bounded by the parser).
    pub principals: HashMap<Box<str>, Principal>,
    /// Principals not counted: the table was full.
    pub principals_not_counted: u64,
    workers: Workers,
}

impl AuthInventory {
    pub fn with_share(workers: Workers) -> AuthInventory {
        AuthInventory {
            workers,
            ..AuthInventory::default()
        }
    }

    /// Counts an ended flow's authentications and ticket encryption types.
    pub fn add(&mut self, f: &Flow, a: &Attribution) {
        let Some(evidence) = f.slot.as_ref().map(|s| &s.evidence) else {
            return;
        };
        // A ticket asked for on the KDC's port, else presented to the flow's server. The flow's
        // ticket encryption types go with the principals it names (a TGS exchange names one; an
        // AS exchange names krbtgt).
        let at_kdc = f.server().1 == 88;
        let etypes: Vec<&str> = evidence
            .iter()
            .filter_map(|e| match (e.kind, &e.value) {
                (EvidenceKind::KerberosEtype, Value::Text(t)) => Some(&**t),
                _ => None,
            })
            .collect();
        for e in evidence.iter() {
            let (EvidenceKind::KerberosSpn, Value::Text(spn)) = (e.kind, &e.value) else {
                continue;
            };
            let cap = self.workers.share(MAX_PRINCIPALS);
            if !self.principals.contains_key(spn) && self.principals.len() >= cap {
                self.principals_not_counted += 1;
                continue;
            }
            let p = self
                .principals
                .entry(spn.clone())
                .or_insert_with(|| Principal::new(e.name));
            p.clients.insert(f.client().0);
            for e in &etypes {
                p.add_etype(e);
            }
            if at_kdc {
                p.requested_flows += 1;
            } else {
                p.presented_flows += 1;
                p.servers.insert(f.server().0);
            }
        }
        let mut facets: Vec<Facet> = Vec::new();
        for e in evidence.iter() {
            let facet = match (e.kind, &e.value) {
                (EvidenceKind::Auth, Value::Auth { mechanism, .. }) => Facet::Mechanism(*mechanism),
                (EvidenceKind::KerberosEtype | EvidenceKind::KerberosTgtEtype, Value::Text(t)) => {
                    Facet::Etype(t.clone())
                }
                _ => continue,
            };
            if !facets.contains(&facet) {
                facets.push(facet);
            }
        }
        if facets.is_empty() {
            return;
        }
        let subjects: Vec<Subject> = match (a.basis, f.class.label) {
            (Basis::Evidence | Basis::Port, _) if !a.services.is_empty() => {
                a.services.iter().map(|&s| Subject::Service(s)).collect()
            }
            (_, Some(l)) => vec![Subject::Undetermined(l)],
            (_, None) => vec![Subject::Unclassified],
        };
        let (client, server) = (f.client().0, f.server().0);
        let cap = self.workers.share(MAX_CELLS);
        let mut counted = true;
        for facet in &facets {
            let t = self.totals.entry(facet.clone()).or_insert_with(Cell::new);
            t.flows += 1;
            t.clients.insert(client);
            t.servers.insert(server);
            for &s in &subjects {
                let key = (s, server, facet.clone());
                let n = self.cells.len();
                let cell = match self.cells.get_mut(&key) {
                    Some(c) => c,
                    None if n < cap => self.cells.entry(key).or_insert_with(Cell::new),
                    None => {
                        counted = false;
                        continue;
                    }
                };
                cell.flows += 1;
                cell.clients.insert(client);
            }
        }
        if !counted {
            self.flows_not_counted += 1;
        }
    }

    pub fn merge(&mut self, o: &AuthInventory) {
        for (k, v) in &o.cells {
            self.cells
                .entry(k.clone())
                .or_insert_with(Cell::new)
                .merge(v);
        }
        for (k, v) in &o.totals {
            self.totals
                .entry(k.clone())
                .or_insert_with(Cell::new)
                .merge(v);
        }
        self.flows_not_counted += o.flows_not_counted;
        for (k, v) in &o.principals {
            if let Some(p) = self.principals.get_mut(k) {
                p.merge(v);
            } else if self.principals.len() < MAX_PRINCIPALS {
                self.principals.insert(k.clone(), v.clone());
            } else {
                self.principals_not_counted += 1;
            }
        }
        self.principals_not_counted += o.principals_not_counted;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_facets_are_ntlmv1_clear_passwords_and_weak_etypes() {
        assert!(Facet::Mechanism(Mechanism::Ntlmv1).is_weak());
        assert!(Facet::Mechanism(Mechanism::ClearPassword).is_weak());
        assert!(!Facet::Mechanism(Mechanism::Ntlmv2).is_weak());
        assert!(Facet::Etype("rc4-hmac (weak)".into()).is_weak());
        assert!(!Facet::Etype("aes256-cts-hmac-sha1-96".into()).is_weak());
    }
}
