//! Per-service statistics by basis: the traffic each service is credited with (evidence-backed, or
//! by a port it alone owns), apart from the flows where it was merely one of a shared port's
//! candidates, and a bounded summary of the evidence behind it.
//!
//! Filled when a flow ends, from its [`Attribution`]: a flow with basis `Evidence` or `Port` is
//! determined traffic of each of its services; a flow with basis `Candidates` counts as candidate
//! traffic of each candidate (never summed into their traffic) and as undetermined traffic of its
//! label. Everything merges exactly (sums, address sets, hdrhistograms), so several workers or
//! intervals combine to what one would have counted; only the capped lists below depend on order
//! once full, and then say how much they left out.

use crate::catalog::{Catalog, LabelId, ServiceId};
use crate::flow::Flow;
use crate::inspect::{Attribution, Basis, EvidenceKind, Provenance, Value};

use super::{PortCounts, Stats};

/// At most this many distinct evidence items (kind, value) are summarised per service (and per
/// host entry); flows backed by other items are counted in [`EvidenceSummary::other_flows`].
pub const MAX_SUMMARY_ITEMS: usize = 32;

/// At most this many labels are listed per service (its traffic's application protocols and
/// ports; the catalog bounds them already); past it [`ServiceStats::labels_capped`] is set.
pub const MAX_SERVICE_LABELS: usize = 64;

/// One distinct evidence item behind a service, with the flows it was found on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvidenceCount {
    pub kind: EvidenceKind,
    pub value: Value,
    pub flows: u64,
}

/// Wire text kept in a summary is cut to this many bytes (on a character boundary): pipe and
/// share names are short, and a summary must stay small whatever a packet claims.
pub const MAX_SUMMARY_TEXT: usize = 128;

/// The distinct evidence items behind a service (or a host's service), with flow counts: at most
/// `cap` ([`MAX_SUMMARY_ITEMS`] unless made smaller), in the order first seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvidenceSummary {
    pub items: Vec<EvidenceCount>,
    /// Flow counts of items that found the summary full (one per item and flow).
    pub other_flows: u64,
    cap: usize,
}

impl Default for EvidenceSummary {
    fn default() -> Self {
        EvidenceSummary::with_cap(MAX_SUMMARY_ITEMS)
    }
}

/// The value as a summary keeps it: wire text cut to [`MAX_SUMMARY_TEXT`] bytes.
fn summary_value(value: &Value) -> std::borrow::Cow<'_, Value> {
    match value {
        Value::Text(t) if t.len() > MAX_SUMMARY_TEXT => {
            let mut end = MAX_SUMMARY_TEXT;
            while !t.is_char_boundary(end) {
                end -= 1;
            }
            std::borrow::Cow::Owned(Value::Text(format!("{}…", &t[..end]).into()))
        }
        v => std::borrow::Cow::Borrowed(v),
    }
}

impl EvidenceSummary {
    /// A summary of at most `cap` distinct items.
    pub fn with_cap(cap: usize) -> EvidenceSummary {
        EvidenceSummary {
            items: Vec::new(),
            other_flows: 0,
            cap,
        }
    }

    /// Counts `flows` flows on which (kind, value) was found.
    pub fn add(&mut self, kind: EvidenceKind, value: &Value, flows: u64) {
        let value = summary_value(value);
        if let Some(c) = self
            .items
            .iter_mut()
            .find(|c| c.kind == kind && c.value == *value)
        {
            c.flows += flows;
        } else if self.items.len() < self.cap {
            self.items.push(EvidenceCount {
                kind,
                value: value.into_owned(),
                flows,
            });
        } else {
            self.other_flows += flows;
        }
    }

    pub fn merge(&mut self, o: &EvidenceSummary) {
        for c in &o.items {
            self.add(c.kind, &c.value, c.flows);
        }
        self.other_flows += o.other_flows;
    }

    /// Counts, for the service `svc`, the evidence of a flow whose attribution is evidence: each
    /// distinct (kind, value) that backs `svc` once; when none does (the label came from
    /// evidence that left no item), the kind of its provenance.
    pub fn add_flow(&mut self, catalog: &Catalog, f: &Flow, svc: ServiceId) {
        let Some(items) = f.slot.as_ref().map(|s| &s.evidence) else {
            if let Provenance::Evidence(kind) = f.class.provenance {
                self.add(kind, &Value::None, 1);
            }
            return;
        };
        let mut any = false;
        for (i, e) in items.iter().enumerate() {
            if !e.services(catalog).contains(&svc) {
                continue;
            }
            any = true;
            let seen = items.iter().take(i).any(|p| {
                p.kind == e.kind && p.value == e.value && p.services(catalog).contains(&svc)
            });
            if !seen {
                self.add(e.kind, &e.value, 1);
            }
        }
        if !any {
            if let Provenance::Evidence(kind) = f.class.provenance {
                self.add(kind, &Value::None, 1);
            }
        }
    }
}

/// What one catalog service was credited with.
#[derive(Clone, Debug, Default)]
pub struct ServiceStats {
    /// The flows credited to it: evidence-backed, or on a port (or IP protocol) it alone owns with
    /// no evidence. Packet sizes are each flow's mean frame size, once per packet: packets are
    /// recorded before a flow's evidence is known.
    pub determined: Stats,
    /// Of `determined`, the flows (and their bytes) some evidence backs.
    pub evidence_flows: u64,
    pub evidence_bytes: u64,
    /// Flows on a port it shares with other services that no evidence determined: it is merely one
    /// of their candidates (never part of `determined`).
    pub candidate_flows: u64,
    pub candidate_bytes: u64,
    /// The labels the determined flows came in on, in the order first seen.
    pub labels: Vec<LabelId>,
    /// Some labels were not listed (more than [`MAX_SERVICE_LABELS`]).
    pub labels_capped: bool,
    /// The evidence behind the evidence-backed flows.
    pub evidence: EvidenceSummary,
}

impl ServiceStats {
    /// Statistics whose address sets hold at most `addr_cap` addresses each.
    pub fn with_addr_cap(addr_cap: usize) -> ServiceStats {
        ServiceStats {
            determined: Stats::with_addr_cap(addr_cap),
            ..ServiceStats::default()
        }
    }

    fn add_label(&mut self, label: LabelId) {
        if !self.labels.contains(&label) {
            if self.labels.len() < MAX_SERVICE_LABELS {
                self.labels.push(label);
            } else {
                self.labels_capped = true;
            }
        }
    }

    /// Folds in a determined flow (basis evidence or port).
    fn add_determined(&mut self, catalog: &Catalog, f: &Flow, basis: Basis, svc: ServiceId) {
        add_flow_sized(&mut self.determined, f);
        if let Some(l) = f.class.label {
            self.add_label(l);
        }
        if basis == Basis::Evidence {
            self.evidence_flows += 1;
            self.evidence_bytes += f.total_bytes();
            self.evidence.add_flow(catalog, f, svc);
        }
    }

    pub fn merge(&mut self, o: &ServiceStats) {
        self.determined.merge(&o.determined);
        self.evidence_flows += o.evidence_flows;
        self.evidence_bytes += o.evidence_bytes;
        self.candidate_flows += o.candidate_flows;
        self.candidate_bytes += o.candidate_bytes;
        self.labels_capped |= o.labels_capped;
        for &l in &o.labels {
            self.add_label(l);
        }
        self.evidence.merge(&o.evidence);
    }

    /// Basis "evidence" when any of its flows are evidence-backed, else "port".
    pub fn basis(&self) -> Basis {
        if self.evidence_flows > 0 {
            Basis::Evidence
        } else {
            Basis::Port
        }
    }
}

/// Per-service and per-basis statistics of a set of flows.
#[derive(Clone, Debug, Default)]
pub struct ByBasis {
    /// Indexed by service id; `None` until a flow credits or names the service.
    pub services: Vec<Option<Box<ServiceStats>>>,
    /// Per shared label: its flows that no evidence determined. Indexed by label id.
    pub undetermined: Vec<Option<Box<Stats>>>,
    /// Flows (each once) whose services evidence backs.
    pub evidence: PortCounts,
    /// Flows (each once) on shared labels that no evidence determined.
    pub candidates: PortCounts,
}

/// Adds a flow to statistics whose packets were not recorded one by one: its mean frame size counts
/// once per packet (so the exact range is that of the flows' means).
fn add_flow_sized(s: &mut Stats, f: &Flow) {
    s.add_flow(f);
    let packets = f.total_packets();
    if let Some(mean) = f.total_bytes().checked_div(packets) {
        s.packet_size.record_n(mean, packets);
    }
}

fn slot<T>(v: &mut Vec<Option<Box<T>>>, i: usize, new: impl FnOnce() -> T) -> &mut T {
    if v.len() <= i {
        v.resize_with(i + 1, || None);
    }
    v[i].get_or_insert_with(|| Box::new(new()))
}

impl ByBasis {
    /// Folds in an ended, answered flow with its attribution; `addr_cap` bounds new address sets.
    pub fn add(&mut self, catalog: &Catalog, f: &Flow, a: &Attribution, addr_cap: usize) {
        match a.basis {
            Basis::Evidence | Basis::Port => {
                if a.basis == Basis::Evidence {
                    self.evidence.add_flow(f);
                }
                for &svc in &a.services {
                    slot(&mut self.services, usize::from(svc), || {
                        ServiceStats::with_addr_cap(addr_cap)
                    })
                    .add_determined(catalog, f, a.basis, svc);
                }
            }
            Basis::Candidates => {
                self.candidates.add_flow(f);
                for &svc in &a.services {
                    let s = slot(&mut self.services, usize::from(svc), || {
                        ServiceStats::with_addr_cap(addr_cap)
                    });
                    s.candidate_flows += 1;
                    s.candidate_bytes += f.total_bytes();
                }
                if let Some(l) = f.class.label {
                    let s = slot(&mut self.undetermined, usize::from(l), || {
                        Stats::with_addr_cap(addr_cap)
                    });
                    add_flow_sized(s, f);
                }
            }
            Basis::Unclassified => {}
        }
    }

    pub fn merge(&mut self, o: &ByBasis, addr_cap: usize) {
        for (i, s) in o.services.iter().enumerate() {
            if let Some(s) = s {
                slot(&mut self.services, i, || {
                    ServiceStats::with_addr_cap(addr_cap)
                })
                .merge(s);
            }
        }
        for (i, s) in o.undetermined.iter().enumerate() {
            if let Some(s) = s {
                slot(&mut self.undetermined, i, || Stats::with_addr_cap(addr_cap)).merge(s);
            }
        }
        self.evidence.merge(&o.evidence);
        self.candidates.merge(&o.candidates);
    }

    /// (service, statistics) for every service some flow credited or named as a candidate.
    pub fn services(&self) -> impl Iterator<Item = (u16, &ServiceStats)> {
        self.services
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_deref().map(|s| (i as u16, s)))
    }

    /// (label, statistics) of the undetermined flows of every shared label that had any.
    pub fn undetermined(&self) -> impl Iterator<Item = (LabelId, &Stats)> {
        self.undetermined
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_deref().map(|s| (i as LabelId, s)))
    }
}
