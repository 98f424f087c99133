//! The report's time series: bytes per bucket for each service credited with traffic, for the
//! undetermined and for the unclassified traffic, dense over the capture's span (see
//! [`crate::aggregate::timeline`] for how flows are bucketed).

use serde::Serialize;

use super::rfc3339;
use crate::aggregate::timeline::{SeriesKey, Timeline};
use crate::catalog::Catalog;

/// The time series of a report.
#[derive(Clone, Debug, Serialize, Default)]
pub struct TimelineReport {
    /// Width of a bucket: 60 s, doubled as often as needed to keep at most 240 buckets.
    pub bucket_seconds: u64,
    /// Start of the first bucket (RFC 3339, UTC); null when no flow carried bytes.
    pub start: Option<String>,
    /// How many buckets each series has.
    pub buckets: usize,
    /// Most bytes first.
    pub series: Vec<SeriesRow>,
}

/// One series: what it counts and its bytes per bucket.
#[derive(Clone, Debug, Serialize)]
pub struct SeriesRow {
    /// "service", "undetermined" (shared ports nothing determined) or "unclassified".
    pub kind: &'static str,
    /// The service's name (null for the other kinds).
    pub service: Option<String>,
    pub bytes_total: u64,
    /// Bytes per bucket, the first bucket first.
    pub bytes: Vec<u64>,
}

impl TimelineReport {
    pub fn build(catalog: &Catalog, t: &Timeline) -> TimelineReport {
        let bucket_ns = t.bucket_ns();
        let Some((lo, hi)) = t.span else {
            return TimelineReport {
                bucket_seconds: (bucket_ns / 1_000_000_000) as u64,
                ..TimelineReport::default()
            };
        };
        let n = usize::try_from(hi - lo + 1).unwrap_or(0);
        let mut series: Vec<SeriesRow> = t
            .series
            .iter()
            .map(|(key, buckets)| {
                let mut bytes = vec![0u64; n];
                for (&b, &v) in buckets {
                    if let Some(slot) = usize::try_from(b - lo).ok().and_then(|i| bytes.get_mut(i))
                    {
                        *slot = v;
                    }
                }
                let (kind, service) = match *key {
                    SeriesKey::Service(s) => ("service", Some(catalog.service(s).name.clone())),
                    SeriesKey::Undetermined => ("undetermined", None),
                    SeriesKey::Unclassified => ("unclassified", None),
                };
                SeriesRow {
                    kind,
                    service,
                    bytes_total: bytes.iter().sum(),
                    bytes,
                }
            })
            .collect();
        series.sort_by(|a, b| {
            b.bytes_total
                .cmp(&a.bytes_total)
                .then_with(|| a.kind.cmp(b.kind))
                .then_with(|| a.service.cmp(&b.service))
        });
        TimelineReport {
            bucket_seconds: (bucket_ns / 1_000_000_000) as u64,
            start: Some(rfc3339(lo.saturating_mul(bucket_ns))),
            buckets: n,
            series,
        }
    }
}
