//! Verification statistics: per label, the flows and bytes the payload verified, left at the port
//! (no payload, TLS where the protocol may be wrapped, nothing told) or contradicted; the
//! mismatches themselves per (label, server, port, what the payload was); what unclassified
//! traffic looks like per server port; and the TLS names (SNI, ALPN, certificate subject) per
//! server. Every table is capped (its share with several workers) and merges exactly up to it.

use crate::hash::HashMap;

use crate::bounded::Workers;
use crate::catalog::{Catalog, LabelId};
use crate::decode::Addr;
use crate::flow::Flow;
use crate::inspect::verify::Verification;
use crate::inspect::EvidenceKind;
use crate::wire::signature::Wire;

/// Distinct (label, server, port, payload) mismatches kept.
pub const MAX_MISMATCHES: usize = 10_000;
/// Servers whose TLS names are kept.
pub const MAX_TLS_SERVERS: usize = 10_000;
/// Names of each kind kept per TLS server.
pub const MAX_TLS_NAMES: usize = 4;

/// Flows and bytes by verification: verified, port-only, mismatch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VerifyCounts {
    pub flows: [u64; 3],
    pub bytes: [u64; 3],
}

impl VerifyCounts {
    fn add(&mut self, v: Verification, bytes: u64) {
        self.flows[v.index()] += 1;
        self.bytes[v.index()] += bytes;
    }

    fn merge(&mut self, o: &VerifyCounts) {
        for i in 0..3 {
            self.flows[i] += o.flows[i];
            self.bytes[i] += o.bytes[i];
        }
    }
}

/// One mismatch row: flows of a label on one server's port whose payload was another protocol.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MismatchCounts {
    pub flows: u64,
    pub bytes: u64,
    pub first_ts: i64,
}

/// What unclassified flows on one server port looked like.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortLooks {
    /// Flows per protocol recognised (at most one entry per [`Wire`]).
    pub wires: Vec<(Wire, u64)>,
    /// The first TLS server name seen on the port.
    pub sni: Option<Box<str>>,
}

impl PortLooks {
    fn add(&mut self, w: Wire, n: u64) {
        match self.wires.iter_mut().find(|(x, _)| *x == w) {
            Some((_, c)) => *c += n,
            None => self.wires.push((w, n)),
        }
    }

    fn merge(&mut self, o: &PortLooks) {
        for &(w, n) in &o.wires {
            self.add(w, n);
        }
        if self.sni.is_none() {
            self.sni.clone_from(&o.sni);
        }
    }

    /// The protocols seen, most flows first (ties by name).
    pub fn sorted(&self) -> Vec<(Wire, u64)> {
        let mut v = self.wires.clone();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.as_str().cmp(b.0.as_str())));
        v
    }
}

/// The TLS names one server was seen with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsNames {
    pub flows: u64,
    pub sni: Vec<Box<str>>,
    pub alpn: Vec<Box<str>>,
    pub cert: Vec<Box<str>>,
}

impl TlsNames {
    fn push(list: &mut Vec<Box<str>>, name: &str) {
        if list.len() < MAX_TLS_NAMES && !list.iter().any(|n| &**n == name) {
            list.push(name.into());
        }
    }

    fn merge(&mut self, o: &TlsNames) {
        self.flows += o.flows;
        for (a, b) in [
            (&mut self.sni, &o.sni),
            (&mut self.alpn, &o.alpn),
            (&mut self.cert, &o.cert),
        ] {
            for n in b {
                TlsNames::push(a, n);
            }
        }
    }
}

/// Everything above, for one worker or merged.
#[derive(Clone, Debug, Default)]
pub struct Verified {
    /// Indexed by label id.
    pub by_label: Vec<VerifyCounts>,
    pub mismatches: HashMap<(LabelId, Addr, u16, Wire), MismatchCounts>,
    /// Mismatching flows not kept because the table was full.
    pub mismatches_not_shown: u64,
    /// Keyed as the aggregate's unclassified ports: (IP protocol, server port).
    pub unclassified: HashMap<(u8, u16), PortLooks>,
    pub tls: HashMap<(Addr, u16), TlsNames>,
    pub tls_not_shown: u64,
}

impl Verified {
    /// Counts an ended, answered flow. `unclassified_port` is whether its port has a row in the
    /// aggregate's unclassified ports (so the two tables hold the same keys).
    pub fn add(&mut self, catalog: &Catalog, f: &Flow, workers: Workers, unclassified_port: bool) {
        let (server, port) = f.server();
        let bytes = f.total_bytes();
        if let Some(label) = f.class.label {
            if let Some(v) = f.verification(catalog) {
                let i = usize::from(label);
                if self.by_label.len() <= i {
                    self.by_label.resize(i + 1, VerifyCounts::default());
                }
                self.by_label[i].add(v, bytes);
                if let Verification::Mismatch(w) = v {
                    let key = (label, server, port, w);
                    let full = self.mismatches.len() >= workers.share(MAX_MISMATCHES);
                    match self.mismatches.get_mut(&key) {
                        Some(m) => {
                            m.flows += 1;
                            m.bytes += bytes;
                            m.first_ts = m.first_ts.min(f.first_ts);
                        }
                        None if !full => {
                            self.mismatches.insert(
                                key,
                                MismatchCounts {
                                    flows: 1,
                                    bytes,
                                    first_ts: f.first_ts,
                                },
                            );
                        }
                        None => self.mismatches_not_shown += 1,
                    }
                }
            }
        } else if unclassified_port {
            if let Some(w) = f.looks_like() {
                let e = self.unclassified.entry((f.key.protocol, port)).or_default();
                e.add(w, 1);
                if e.sni.is_none() {
                    e.sni = sni(f).map(Into::into);
                }
            }
        }
        self.add_tls(f, server, port, workers);
    }

    fn add_tls(&mut self, f: &Flow, server: Addr, port: u16, workers: Workers) {
        let Some(slot) = f.slot.as_deref() else {
            return;
        };
        let mut items = slot
            .evidence
            .iter()
            .filter(|e| {
                matches!(
                    e.kind,
                    EvidenceKind::TlsSni | EvidenceKind::TlsAlpn | EvidenceKind::TlsCert
                )
            })
            .peekable();
        if items.peek().is_none() {
            return;
        }
        let full = self.tls.len() >= workers.share(MAX_TLS_SERVERS);
        let names = match self.tls.get_mut(&(server, port)) {
            Some(n) => n,
            None if !full => self.tls.entry((server, port)).or_default(),
            None => {
                self.tls_not_shown += 1;
                return;
            }
        };
        names.flows += 1;
        for e in items {
            let Some(text) = e.value.text() else {
                continue;
            };
            let list = match e.kind {
                EvidenceKind::TlsSni => &mut names.sni,
                EvidenceKind::TlsAlpn => &mut names.alpn,
                _ => &mut names.cert,
            };
            TlsNames::push(list, &text);
        }
    }

    pub fn merge(&mut self, o: &Verified) {
        if self.by_label.len() < o.by_label.len() {
            self.by_label
                .resize(o.by_label.len(), VerifyCounts::default());
        }
        for (a, b) in self.by_label.iter_mut().zip(&o.by_label) {
            a.merge(b);
        }
        for (k, v) in &o.mismatches {
            let n = self.mismatches.len();
            match self.mismatches.get_mut(k) {
                Some(m) => {
                    m.flows += v.flows;
                    m.bytes += v.bytes;
                    m.first_ts = m.first_ts.min(v.first_ts);
                }
                None if n < MAX_MISMATCHES => {
                    self.mismatches.insert(*k, *v);
                }
                None => self.mismatches_not_shown += v.flows,
            }
        }
        self.mismatches_not_shown += o.mismatches_not_shown;
        for (k, v) in &o.unclassified {
            self.unclassified.entry(*k).or_default().merge(v);
        }
        for (k, v) in &o.tls {
            let n = self.tls.len();
            match self.tls.get_mut(k) {
                Some(t) => t.merge(v),
                None if n < MAX_TLS_SERVERS => {
                    self.tls.insert(*k, v.clone());
                }
                None => self.tls_not_shown += v.flows,
            }
        }
        self.tls_not_shown += o.tls_not_shown;
    }

    /// The counts of a label (zero when none of its flows ended yet).
    pub fn of(&self, label: LabelId) -> VerifyCounts {
        self.by_label
            .get(usize::from(label))
            .copied()
            .unwrap_or_default()
    }
}

/// The flow's TLS server name, if its ClientHello had one.
fn sni(f: &Flow) -> Option<String> {
    f.slot
        .as_deref()?
        .evidence
        .iter()
        .find(|e| e.kind == EvidenceKind::TlsSni)
        .and_then(|e| e.value.text())
}
