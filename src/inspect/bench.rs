//! A test bench for one inspector: it shows the inspector segments the way the registry does and
//! keeps what the inspector writes, so an inspector's unit tests say only what they send and expect.

use super::{
    Counters, Evidence, EvidenceKind, EvidenceList, Expectations, Inspector, Out, Segment, Step,
};
use crate::catalog::Catalog;
use crate::decode::{proto, Addr};

pub(crate) struct Bench<I: Inspector> {
    pub catalog: Catalog,
    pub inspector: I,
    pub counters: Counters,
    pub expected: Expectations,
    pub evidence: EvidenceList,
    /// The next sequence number of each direction (client first) for [`Bench::send`].
    pub seq: [u32; 2],
    /// What the inspector answered, segment by segment.
    pub steps: Vec<Step>,
    server_port: u16,
    /// The most the inspector may hold after any segment.
    max_held: usize,
    /// Every segment must be answered `Step::More` (an inspector that reads its flow to the end).
    reads_on: bool,
}

impl<I: Inspector> Bench<I> {
    pub fn new(inspector: I, server_port: u16, max_held: usize) -> Bench<I> {
        Bench {
            catalog: Catalog::builtin(),
            inspector,
            counters: Counters::registry(),
            expected: Expectations::new(16),
            evidence: EvidenceList::default(),
            seq: [1000, 5000],
            steps: Vec::new(),
            server_port,
            max_held,
            reads_on: false,
        }
    }

    /// Checks from now on that the inspector never ends its inspection.
    pub fn reading_on(mut self) -> Bench<I> {
        self.reads_on = true;
        self
    }

    /// One segment (a datagram for UDP), checking the inspector's buffers stay within their bound.
    pub fn segment(&mut self, protocol: u8, from_client: bool, seq: u32, payload: &[u8]) -> Step {
        let seg = Segment {
            from_client,
            seq,
            payload,
            ts: 0,
            client: (Addr::from_v4([192, 0, 2, 100]), 50_000),
            server: (Addr::from_v4([192, 0, 2, 10]), self.server_port),
            protocol,
            label: None,
        };
        let mut out = Out {
            catalog: &self.catalog,
            counters: &mut self.counters,
            expected: &mut self.expected,
            evidence: &mut self.evidence,
            relabel: None,
        };
        let step = self.inspector.segment(&seg, &mut out);
        assert!(!self.reads_on || step == Step::More, "the inspection ended");
        self.steps.push(step);
        assert!(
            self.inspector.held() <= self.max_held,
            "holds {} bytes",
            self.inspector.held()
        );
        step
    }

    /// TCP bytes from one side, cut into segments of `mss`, in sequence.
    pub fn send(&mut self, from_client: bool, bytes: &[u8], mss: usize) {
        let d = usize::from(!from_client);
        for chunk in bytes.chunks(mss) {
            self.segment(proto::TCP, from_client, self.seq[d], chunk);
            self.seq[d] = self.seq[d].wrapping_add(chunk.len() as u32);
        }
    }

    /// The last answer.
    pub fn step(&self) -> Step {
        self.steps.last().copied().unwrap_or(Step::More)
    }

    /// The evidence found, as (kind, value text).
    pub fn found(&self) -> Vec<(&'static str, String)> {
        self.evidence
            .iter()
            .map(|e| (e.kind.as_str(), e.value.text().unwrap_or_default()))
            .collect()
    }

    /// The first item of `kind` (with this value text, when given).
    pub fn item(&self, kind: EvidenceKind, value: Option<&str>) -> &Evidence {
        self.evidence
            .iter()
            .find(|e| e.kind == kind && value.is_none_or(|v| e.value.text().as_deref() == Some(v)))
            .unwrap_or_else(|| panic!("no {kind:?} {value:?} in {:?}", self.found()))
    }

    /// The names of the services the first item of `kind` (with this value text) backs.
    pub fn services(&self, kind: EvidenceKind, value: Option<&str>) -> Vec<&str> {
        self.item(kind, value)
            .services(&self.catalog)
            .iter()
            .map(|&s| self.catalog.service(s).name.as_str())
            .collect()
    }
}

/// An expected (kind, value) pair of [`Bench::found`].
pub(crate) fn ev(kind: &'static str, value: &str) -> (&'static str, String) {
    (kind, value.to_string())
}
