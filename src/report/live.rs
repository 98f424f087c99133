//! Periodic reports of a live capture (`--interval`): one screenful of text, or one JSON line.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::aggregate::{Aggregate, IntervalCounters};
use crate::catalog::Catalog;
use crate::decode::Addr;

use super::table::{bytes, clip, count, Table};
use super::{label_transport, LiveHealth, Report};
use crate::catalog::PortSpec;

/// What the pipeline hands the live report at each interval: plain data, gathered by the worker.
pub struct Tick<'a> {
    /// Time since the capture started.
    pub elapsed: Duration,
    /// Length of this interval.
    pub interval: Duration,
    pub counters: &'a IntervalCounters,
    /// The statistics so far, active flows included.
    pub snapshot: &'a Aggregate,
    pub active_flows: usize,
    pub live: &'a LiveHealth,
}

#[derive(Serialize)]
pub struct TickReport {
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The sensor (`--sensor`, else the host name; set by the command line).
    pub sensor: String,
    pub time: String,
    pub elapsed_s: f64,
    pub interval_s: f64,
    pub packets: u64,
    pub bytes: u64,
    pub active_flows: usize,
    pub received: u64,
    pub dropped_by_kernel: u64,
    pub dropped_by_interface: u64,
    pub dropped_by_svcscope: u64,
    /// This interval, most bytes first.
    pub top_app_protocols: Vec<TopLabel>,
    /// Since the start, most bytes first.
    pub top_services: Vec<TopService>,
    /// This interval, most bytes first.
    pub top_hosts: Vec<TopHost>,
}

#[derive(Serialize)]
pub struct TopLabel {
    /// The application protocol, or "unclassified".
    pub app_protocol: String,
    /// As the report's `app_protocols[]`: "tcp", "udp" or the IP protocol's name; `null` for
    /// unclassified traffic.
    pub transport: Option<String>,
    /// The port; `null` for IP protocols, the dynamic RPC range and unclassified traffic.
    pub port: Option<u16>,
    /// The IP protocol number of an IP protocol row, else `null`.
    pub ip_protocol: Option<u8>,
    /// True for the dynamic RPC range.
    pub dynamic: bool,
    pub packets: u64,
    pub bytes: u64,
}

#[derive(Serialize)]
pub struct TopService {
    pub service: String,
    pub flows: u64,
    pub bytes: u64,
}

#[derive(Serialize)]
pub struct TopHost {
    pub addr: Addr,
    pub bytes: u64,
}

const TOP: usize = 8;

impl TickReport {
    pub fn new(catalog: &Catalog, t: &Tick<'_>) -> TickReport {
        let mut labels: Vec<TopLabel> = t
            .counters
            .by_label
            .iter()
            .map(|(l, &(packets, bytes))| TopLabel {
                app_protocol: l
                    .map(|l| catalog.label(l).name.clone())
                    .unwrap_or_else(|| "unclassified".into()),
                transport: l.map(|l| label_transport(catalog, l)),
                port: l.and_then(|l| match catalog.label(l).spec {
                    PortSpec::Port(p) => Some(p),
                    _ => None,
                }),
                ip_protocol: l.and_then(|l| match catalog.label(l).spec {
                    PortSpec::IpProtocol(n) => Some(n),
                    _ => None,
                }),
                dynamic: l.is_some_and(|l| catalog.label(l).spec == PortSpec::Dynamic),
                packets,
                bytes,
            })
            .collect();
        labels.sort_by(|a, b| {
            b.bytes
                .cmp(&a.bytes)
                .then_with(|| a.app_protocol.cmp(&b.app_protocol))
        });
        labels.truncate(TOP);
        let mut hosts: Vec<TopHost> = t
            .counters
            .by_host
            .iter()
            .map(|(&addr, &bytes)| TopHost { addr, bytes })
            .collect();
        hosts.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.addr.cmp(&b.addr)));
        hosts.truncate(5);
        let snapshot = Report::build(catalog, t.snapshot, Vec::new(), 0);
        let top_services = snapshot
            .services
            .iter()
            .take(TOP)
            .map(|s| TopService {
                service: s.service.clone(),
                flows: s.traffic.flows,
                bytes: s.traffic.bytes(),
            })
            .collect();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0);
        TickReport {
            kind: "interval",
            sensor: String::new(),
            time: super::rfc3339(now),
            elapsed_s: t.elapsed.as_secs_f64(),
            interval_s: t.interval.as_secs_f64(),
            packets: t.counters.packets,
            bytes: t.counters.bytes,
            active_flows: t.active_flows,
            received: t.live.received,
            dropped_by_kernel: t.live.dropped_by_kernel,
            dropped_by_interface: t.live.dropped_by_interface,
            dropped_by_svcscope: t.live.dropped_by_svcscope,
            top_app_protocols: labels,
            top_services,
            top_hosts: hosts,
        }
    }

    /// About 25 lines: fits a terminal.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let secs = self.interval_s.max(0.001);
        let _ = writeln!(
            out,
            "── {} · +{:.1}s · running {:.0}s ── {:.0} packets/s, {:.2} Mbit/s, {} flows active, dropped: kernel {}, interface {}, svcscope {}",
            self.time.get(11..19).unwrap_or(&self.time),
            self.interval_s,
            self.elapsed_s,
            self.packets as f64 / secs,
            self.bytes as f64 * 8.0 / secs / 1e6,
            count(self.active_flows as u64),
            count(self.dropped_by_kernel),
            count(self.dropped_by_interface),
            count(self.dropped_by_svcscope),
        );
        let mut t = Table::new(&["THIS INTERVAL", "PORT", ">PACKETS", ">BYTES"]);
        for l in &self.top_app_protocols {
            let port = match (&l.transport, l.port) {
                (None, _) => String::new(),
                (Some(t), Some(p)) => format!("{t}/{p}"),
                (Some(t), None) if l.dynamic => format!("{t}/dynamic"),
                (Some(t), None) => t.clone(),
            };
            t.row(vec![
                clip(&l.app_protocol, 32),
                port,
                count(l.packets),
                bytes(l.bytes),
            ]);
        }
        out.push_str(&t.render("  "));
        let mut t = Table::new(&["SINCE START: SERVICE", ">FLOWS", ">BYTES"]);
        for s in &self.top_services {
            t.row(vec![clip(&s.service, 40), count(s.flows), bytes(s.bytes)]);
        }
        out.push_str(&t.render("  "));
        let mut t = Table::new(&["TOP HOSTS (INTERVAL)", ">BYTES"]);
        for h in &self.top_hosts {
            t.row(vec![h.addr.to_string(), bytes(h.bytes)]);
        }
        out.push_str(&t.render("  "));
        out
    }
}
