//! Traffic over time: bytes per service (and for the undetermined and the unclassified traffic) in
//! time buckets, bounded, merging exactly.
//!
//! The base bucket is one minute of trace time, aligned to the Unix epoch. A flow's bytes are
//! spread evenly over the minutes it was active (first to last packet), the remainder of the
//! division going to its first minutes, so every byte is counted once and the figures never depend
//! on the order flows end in. At most [`MAX_BUCKETS`] buckets span the capture: when a flow would
//! widen the span past it, every bucket doubles in width (2, 4, 8 … minutes, still aligned to the
//! epoch) until the span fits. A wide bucket holds exactly the sum of the minutes it covers, and
//! the width is the least that fits every flow seen, so several workers' or files' timelines merge
//! to what one would have counted.

use std::collections::BTreeMap;

use crate::catalog::ServiceId;
use crate::flow::Flow;
use crate::inspect::{Attribution, Basis};
use crate::time::Ts;

/// Nanoseconds of the base bucket: one minute.
pub const BASE_BUCKET_NS: i64 = 60_000_000_000;

/// At most this many buckets span the timeline; the bucket width doubles to keep within it.
pub const MAX_BUCKETS: i64 = 240;

/// What a series counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SeriesKey {
    /// Traffic credited to a service (evidence, or a port it alone owns).
    Service(ServiceId),
    /// Flows on shared ports that no evidence determined.
    Undetermined,
    /// Flows no catalog label matched.
    Unclassified,
}

/// Bytes per bucket for each series, bucket `b` covering base minutes `b << shift` to
/// `((b + 1) << shift) - 1`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Timeline {
    /// log2 of the bucket width in minutes.
    pub shift: u32,
    /// Per series, bytes per bucket index (buckets with no bytes are absent).
    pub series: BTreeMap<SeriesKey, BTreeMap<i64, u64>>,
    /// The least and greatest bucket index any flow touched.
    pub span: Option<(i64, i64)>,
}

fn minute(ts: Ts) -> i64 {
    ts.div_euclid(BASE_BUCKET_NS)
}

impl Timeline {
    /// Width of a bucket in nanoseconds (saturating).
    pub fn bucket_ns(&self) -> i64 {
        BASE_BUCKET_NS.saturating_mul(1i64.checked_shl(self.shift).unwrap_or(i64::MAX))
    }

    fn bucket(&self, minute: i64) -> i64 {
        minute >> self.shift
    }

    /// Widens the buckets until the span, extended by [lo, hi] (base minutes), fits.
    fn fit(&mut self, lo_minute: i64, hi_minute: i64) {
        loop {
            let (lo, hi) = (self.bucket(lo_minute), self.bucket(hi_minute));
            let (lo, hi) = match self.span {
                Some((a, b)) => (a.min(lo), b.max(hi)),
                None => (lo, hi),
            };
            if i128::from(hi) - i128::from(lo) < i128::from(MAX_BUCKETS) {
                self.span = Some((lo, hi));
                return;
            }
            self.coarsen(self.shift + 1);
        }
    }

    /// Re-buckets everything at `shift` (not below the current one): wider buckets sum the ones
    /// they cover.
    fn coarsen(&mut self, shift: u32) {
        if shift <= self.shift {
            return;
        }
        let by = shift - self.shift;
        for buckets in self.series.values_mut() {
            let mut wide: BTreeMap<i64, u64> = BTreeMap::new();
            for (&b, &v) in buckets.iter() {
                let e = wide.entry(b >> by).or_default();
                *e = e.saturating_add(v);
            }
            *buckets = wide;
        }
        self.span = self.span.map(|(lo, hi)| (lo >> by, hi >> by));
        self.shift = shift;
    }

    /// Adds `bytes` spread over the base minutes `m0..=m1` to `key`'s buckets.
    fn spread(&mut self, key: SeriesKey, m0: i64, m1: i64, bytes: u64) {
        if bytes == 0 {
            return;
        }
        let n = i128::from(m1) - i128::from(m0) + 1;
        let (q, r) = (i128::from(bytes) / n, i128::from(bytes) % n);
        let shift = self.shift;
        let buckets = self.series.entry(key).or_default();
        let (b0, b1) = (m0 >> shift, m1 >> shift);
        for b in b0..=b1 {
            // The minutes of bucket b that the flow covers, as offsets from its first minute.
            let a = (i128::from(b) << shift).max(i128::from(m0)) - i128::from(m0);
            let z = ((i128::from(b) + 1) << shift).min(i128::from(m1) + 1) - 1 - i128::from(m0);
            let extra = (z.min(r - 1) - a + 1).max(0);
            let v = (z - a + 1) * q + extra;
            let v = u64::try_from(v).unwrap_or(u64::MAX);
            if v > 0 {
                let e = buckets.entry(b).or_default();
                *e = e.saturating_add(v);
            }
        }
    }

    /// Counts an ended, answered flow under the series its attribution names.
    pub fn add_flow(&mut self, f: &Flow, a: &Attribution) {
        let bytes = f.total_bytes();
        if bytes == 0 {
            return;
        }
        let (m0, m1) = (minute(f.first_ts.min(f.last_ts)), minute(f.last_ts));
        self.fit(m0, m1);
        match a.basis {
            Basis::Evidence | Basis::Port => {
                for &s in &a.services {
                    self.spread(SeriesKey::Service(s), m0, m1, bytes);
                }
            }
            Basis::Candidates => self.spread(SeriesKey::Undetermined, m0, m1, bytes),
            Basis::Unclassified => self.spread(SeriesKey::Unclassified, m0, m1, bytes),
        }
    }

    /// Combines another timeline into this one: both at the wider width, summed, widened again
    /// while the joint span does not fit.
    pub fn merge(&mut self, o: &Timeline) {
        if o.span.is_none() {
            return;
        }
        let mut o = o.clone();
        let shift = self.shift.max(o.shift);
        o.coarsen(shift);
        self.coarsen(shift);
        for (key, buckets) in &o.series {
            let mine = self.series.entry(*key).or_default();
            for (&b, &v) in buckets {
                let e = mine.entry(b).or_default();
                *e = e.saturating_add(v);
            }
        }
        // The other's span, at the common width, joins this one; then widen until it fits.
        let (olo, ohi) = o.span.expect("a timeline with a span keeps it");
        let (lo, hi) = match self.span {
            Some((a, b)) => (a.min(olo), b.max(ohi)),
            None => (olo, ohi),
        };
        self.span = Some((lo, hi));
        while let Some((lo, hi)) = self.span {
            if i128::from(hi) - i128::from(lo) < i128::from(MAX_BUCKETS) {
                break;
            }
            self.coarsen(self.shift + 1);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.span.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::test_flow;

    const MIN: i64 = BASE_BUCKET_NS;

    fn flow_at(start_min: i64, end_min: i64, bytes: u64) -> Flow {
        let mut f = test_flow(Some(3), 101, [bytes, 0], true);
        f.first_ts = start_min * MIN + 5;
        f.last_ts = end_min * MIN + 7;
        f
    }

    fn port(s: ServiceId) -> Attribution {
        Attribution {
            basis: Basis::Port,
            services: vec![s],
        }
    }

    fn total(t: &Timeline) -> u64 {
        t.series.values().flat_map(|b| b.values()).sum()
    }

    #[test]
    fn a_flow_is_spread_over_its_minutes_and_every_byte_counted_once() {
        let mut t = Timeline::default();
        t.add_flow(&flow_at(10, 12, 10), &port(1));
        let s = &t.series[&SeriesKey::Service(1)];
        // 10 bytes over 3 minutes: 4, 3, 3 (the remainder goes to the first minutes).
        assert_eq!(
            s.iter().map(|(&b, &v)| (b, v)).collect::<Vec<_>>(),
            [(10, 4), (11, 3), (12, 3)]
        );
        assert_eq!((t.shift, t.span), (0, Some((10, 12))));
        t.add_flow(
            &flow_at(11, 11, 5),
            &Attribution {
                basis: Basis::Candidates,
                services: vec![1, 2],
            },
        );
        assert_eq!(t.series[&SeriesKey::Undetermined][&11], 5);
        assert_eq!(total(&t), 15);
    }

    #[test]
    fn long_captures_widen_the_buckets_and_keep_the_sums() {
        let mut t = Timeline::default();
        t.add_flow(&flow_at(0, 0, 100), &port(1));
        t.add_flow(&flow_at(1000, 1000, 50), &port(1));
        // 1001 minutes in at most 240 buckets: 8-minute buckets (126 of them).
        assert_eq!(t.shift, 3);
        assert_eq!(t.span, Some((0, 125)));
        assert_eq!(t.series[&SeriesKey::Service(1)][&0], 100);
        assert_eq!(t.series[&SeriesKey::Service(1)][&125], 50);
        assert_eq!(t.bucket_ns(), 8 * MIN);
        // One flow spanning far more than the cap: still at most MAX_BUCKETS buckets.
        t.add_flow(&flow_at(-5, 1_000_000, 1_000_007), &port(2));
        let (lo, hi) = t.span.unwrap();
        assert!(hi - lo < MAX_BUCKETS, "{lo}..{hi}");
        assert!(t.series.values().all(|b| b.len() as i64 <= MAX_BUCKETS));
        assert_eq!(total(&t), 100 + 50 + 1_000_007);
    }

    /// Timestamps at the ends of the range do not overflow.
    #[test]
    fn extreme_timestamps_stay_bounded() {
        let mut t = Timeline::default();
        let mut f = flow_at(0, 0, 9);
        f.first_ts = i64::MIN;
        f.last_ts = i64::MAX;
        t.add_flow(&f, &port(1));
        let (lo, hi) = t.span.unwrap();
        assert!(hi - lo < MAX_BUCKETS);
        assert_eq!(total(&t), 9);
    }

    #[test]
    fn timelines_merge_to_what_one_counts_whatever_the_split() {
        let flows: Vec<(Flow, Attribution)> = (0..40i64)
            .map(|i| {
                let start = (i * 37) % 700;
                (
                    flow_at(start, start + i % 5, 1000 + i as u64 * 7),
                    port((i % 3) as u16),
                )
            })
            .chain([(
                flow_at(2000, 2003, 99),
                Attribution {
                    basis: Basis::Unclassified,
                    services: vec![],
                },
            )])
            .collect();
        let mut one = Timeline::default();
        for (f, a) in &flows {
            one.add_flow(f, a);
        }
        for parts in [2usize, 3, 7] {
            let mut shares = vec![Timeline::default(); parts];
            for (i, (f, a)) in flows.iter().enumerate() {
                shares[(i * 5 + i / 3) % parts].add_flow(f, a);
            }
            let mut merged = Timeline::default();
            for s in shares.iter().rev() {
                merged.merge(s);
            }
            assert_eq!(merged, one, "{parts} parts");
        }
        assert!(
            one.shift > 0,
            "the test spans more than {MAX_BUCKETS} minutes"
        );
    }
}
