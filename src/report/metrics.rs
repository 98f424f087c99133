//! Prometheus metrics of a live capture (`capture --metrics ADDR`): the report's numbers in the
//! Prometheus text exposition format (version 0.0.4).
//!
//! Every series comes from a [`Report`] built from a snapshot of the capture (active flows
//! included), so the metrics and the JSON report say the same thing: traffic per application
//! protocol row and per service row (credited as `services[]` credits them: evidence, else a
//! port only that service uses), unclassified and unanswered traffic, capture health. Label values
//! are catalog names (application protocols, services) and fixed words: the number of series is
//! bounded by the catalog, never by the traffic (no addresses, no unclassified ports).
//!
//! Counters never go down: a flow is counted under the label it has at the snapshot, and when later
//! evidence relabels an active flow (a bind on a pipe, a late endpoint-mapper announcement), the
//! old series keeps what it had counted while the new one counts the flow too. [`Metrics`] keeps
//! the highest value each series has shown and shows every series it has shown, so a series never
//! falls back or disappears (Prometheus would take either for a counter reset).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{Report, Traffic};

/// The exposition format's content type.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
}

struct Family {
    help: &'static str,
    kind: Kind,
    /// Rendered label set (`{a="x",b="y"}` or empty) → value.
    series: BTreeMap<String, u64>,
}

/// The metrics served, carried from one snapshot to the next so that counters stay monotonic.
#[derive(Default)]
pub struct Metrics {
    families: BTreeMap<&'static str, Family>,
}

/// A label set in the exposition format, values escaped (backslash, double quote, newline).
fn labels(pairs: &[(&str, &str)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let mut out = String::from("{");
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(k);
        out.push_str("=\"");
        for c in v.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push('}');
    out
}

/// One snapshot's values, summed per series before they are merged into [`Metrics`].
#[derive(Default)]
struct Values(BTreeMap<&'static str, (&'static str, Kind, BTreeMap<String, u64>)>);

impl Values {
    fn add(&mut self, name: &'static str, help: &'static str, kind: Kind, l: String, v: u64) {
        let f = self
            .0
            .entry(name)
            .or_insert_with(|| (help, kind, BTreeMap::new()));
        let s = f.2.entry(l).or_insert(0);
        *s = s.saturating_add(v);
    }

    fn counter(&mut self, name: &'static str, help: &'static str, l: &[(&str, &str)], v: u64) {
        self.add(name, help, Kind::Counter, labels(l), v);
    }

    fn gauge(&mut self, name: &'static str, help: &'static str, l: &[(&str, &str)], v: u64) {
        self.add(name, help, Kind::Gauge, labels(l), v);
    }

    /// `PREFIX_flows_total`, `PREFIX_packets_total` and `PREFIX_bytes_total` by direction.
    fn traffic(&mut self, names: [&'static str; 3], l: &[(&str, &str)], t: &Traffic) {
        self.counter(names[0], TRAFFIC_HELP[0], l, t.flows);
        for (dir, packets, bytes) in [
            ("c2s", t.packets_c2s, t.bytes_c2s),
            ("s2c", t.packets_s2c, t.bytes_s2c),
        ] {
            let mut with = l.to_vec();
            with.push(("direction", dir));
            self.counter(names[1], TRAFFIC_HELP[1], &with, packets);
            self.counter(names[2], TRAFFIC_HELP[2], &with, bytes);
        }
    }
}

const TRAFFIC_HELP: [&str; 3] = [
    "Flows, active ones included.",
    "Packets by direction (c2s: client to server).",
    "Bytes (frame lengths on the wire) by direction (c2s: client to server).",
];

impl Metrics {
    /// Takes in a snapshot's report (`sensor` is in `report.sensor`), keeping counters monotonic.
    pub fn update(&mut self, report: &Report, active_flows: usize, unix_time: u64) {
        let mut v = Values::default();
        v.gauge(
            "svcscope_info",
            "Always 1: the sensor name and svcscope's version as labels.",
            &[
                ("sensor", &report.sensor),
                ("version", env!("CARGO_PKG_VERSION")),
            ],
            1,
        );
        v.gauge(
            "svcscope_snapshot_timestamp_seconds",
            "When the snapshot these metrics come from was taken (Unix time).",
            &[],
            unix_time,
        );
        for row in &report.app_protocols {
            let port = match (row.port, &row.port_ranges) {
                (Some(p), _) => p.to_string(),
                (None, Some(_)) => "dynamic".to_string(),
                (None, None) => String::new(),
            };
            let l = [
                ("app_protocol", row.app_protocol.as_str()),
                // The catalog's transports, as the README's metrics table says: an IP
                // protocol row is "ip".
                (
                    "transport",
                    if row.ip_protocol.is_some() {
                        "ip"
                    } else {
                        row.transport.as_str()
                    },
                ),
                ("port", port.as_str()),
            ];
            v.traffic(
                [
                    "svcscope_app_protocol_flows_total",
                    "svcscope_app_protocol_packets_total",
                    "svcscope_app_protocol_bytes_total",
                ],
                &l,
                &row.traffic,
            );
        }
        for row in &report.services {
            v.traffic(
                [
                    "svcscope_service_flows_total",
                    "svcscope_service_packets_total",
                    "svcscope_service_bytes_total",
                ],
                &[("service", row.service.as_str())],
                &row.traffic,
            );
        }
        v.traffic(
            [
                "svcscope_unclassified_flows_total",
                "svcscope_unclassified_packets_total",
                "svcscope_unclassified_bytes_total",
            ],
            &[],
            &report.unclassified.traffic,
        );
        let u = &report.unanswered;
        v.counter(
            "svcscope_unanswered_flows_total",
            "TCP connection attempts the server never accepted.",
            &[],
            u.flows,
        );
        v.counter(
            "svcscope_unanswered_packets_total",
            "Packets of unanswered connection attempts.",
            &[],
            u.packets,
        );
        v.counter(
            "svcscope_unanswered_bytes_total",
            "Bytes of unanswered connection attempts.",
            &[],
            u.bytes,
        );
        let h = &report.health;
        for (name, help, value) in [
            (
                "svcscope_packets_read_total",
                "Packets read from the interface (after the capture filter).",
                h.packets_read,
            ),
            (
                "svcscope_read_bytes_total",
                "Bytes of the packets read (frame lengths on the wire).",
                h.bytes_read,
            ),
            (
                "svcscope_packets_malformed_total",
                "Packets that could not be attributed to a flow (see the report's health.malformed).",
                h.packets_malformed,
            ),
            (
                "svcscope_packets_not_ip_total",
                "Packets that were not IP.",
                h.packets_not_ip,
            ),
            ("svcscope_flows_created_total", "Flows started.", h.flows_created),
            (
                "svcscope_flows_evicted_total",
                "Flows ended early because the flow table was full.",
                h.flows_evicted,
            ),
        ] {
            v.counter(name, help, &[], value);
        }
        if let Some(live) = &h.live {
            v.counter(
                "svcscope_packets_received_total",
                "Packets libpcap received on the interface.",
                &[],
                live.received,
            );
            for (by, n) in [
                ("kernel", live.dropped_by_kernel),
                ("interface", live.dropped_by_interface),
                ("svcscope", live.dropped_by_svcscope),
            ] {
                v.counter(
                    "svcscope_packets_dropped_total",
                    "Packets dropped, by who dropped them (kernel buffer, interface, svcscope's \
                     classifier falling behind).",
                    &[("by", by)],
                    n,
                );
            }
        }
        v.gauge(
            "svcscope_active_flows",
            "Flows in the flow table now.",
            &[],
            active_flows as u64,
        );
        for (name, (help, kind, series)) in v.0 {
            let f = self.families.entry(name).or_insert_with(|| Family {
                help,
                kind,
                series: BTreeMap::new(),
            });
            if kind == Kind::Gauge {
                f.series = series;
                continue;
            }
            for (l, value) in series {
                let s = f.series.entry(l).or_insert(0);
                *s = (*s).max(value);
            }
        }
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (name, f) in &self.families {
            let kind = match f.kind {
                Kind::Counter => "counter",
                Kind::Gauge => "gauge",
            };
            let _ = writeln!(out, "# HELP {name} {}", f.help);
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (l, value) in &f.series {
                let _ = writeln!(out, "{name}{l} {value}");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::Aggregate;
    use crate::catalog::Catalog;

    fn report(sensor: &str) -> Report {
        let mut r = Report::build(&Catalog::builtin(), &Aggregate::default(), vec![], 10);
        r.sensor = sensor.to_string();
        r
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(
            labels(&[("a", "x\"y\\z\nw"), ("b", "")]),
            r#"{a="x\"y\\z\nw",b=""}"#
        );
        assert_eq!(labels(&[]), "");
    }

    /// A series that falls (its flow relabelled) keeps its highest value, and one that vanishes is
    /// still shown; gauges show the latest value.
    #[test]
    fn counters_never_go_down_or_disappear() {
        let mut m = Metrics::default();
        let mut r = report("s1");
        r.unanswered.flows = 5;
        m.update(&r, 7, 100);
        r.unanswered.flows = 3;
        m.update(&r, 2, 101);
        let text = m.render();
        assert!(
            text.contains("\nsvcscope_unanswered_flows_total 5\n"),
            "{text}"
        );
        assert!(text.contains("\nsvcscope_active_flows 2\n"), "{text}");
        assert!(
            text.contains("\nsvcscope_snapshot_timestamp_seconds 101\n"),
            "{text}"
        );
        assert!(
            text.contains("svcscope_info{sensor=\"s1\",version=\""),
            "{text}"
        );
    }

    /// Every family has one HELP and one TYPE line before its series, counters end in `_total`,
    /// and every sample line is `name{labels} value`.
    #[test]
    fn the_text_follows_the_exposition_format() {
        let mut m = Metrics::default();
        m.update(&report("s"), 0, 1);
        let text = m.render();
        let mut current = None;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                current = rest.split(' ').next().map(str::to_string);
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let mut parts = rest.split(' ');
                let name = parts.next().unwrap();
                assert_eq!(Some(name.to_string()), current);
                let kind = parts.next().unwrap();
                assert_eq!(kind == "counter", name.ends_with("_total"), "{line}");
            } else {
                let name = current.as_deref().unwrap();
                assert!(line.starts_with(name), "{line}");
                let value = line.rsplit(' ').next().unwrap();
                value.parse::<u64>().unwrap_or_else(|_| panic!("{line}"));
            }
        }
    }
}
