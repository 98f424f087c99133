//! Flow records (`--flows FILE`): one JSON object per ended flow, one per line, written by the
//! [`JsonLines`] flow sink that the command line hands to the pipeline, to a [`RecordOutput`]
//! (`flowfile.rs`: plain or compressed files, rotated, or standard output).

use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::catalog::{Catalog, ServiceId};
use crate::decode::{proto, tcp_flags, Addr};
use crate::flow::{EndReason, Flow, FlowSink, C2S, S2C};
use crate::inspect::Evidence;
use crate::time::Ts;

use super::community_id::community_id;
use super::flowfile::RecordOutput;
use super::transport_name;

#[derive(Serialize)]
pub struct FlowRecord<'a> {
    /// The sensor that saw the flow (`--sensor`, else the host name).
    pub sensor: &'a str,
    pub first_seen: String,
    pub last_seen: String,
    pub ip_protocol: u8,
    pub transport: String,
    pub client_addr: Addr,
    pub client_port: Option<u16>,
    pub server_addr: Addr,
    pub server_port: Option<u16>,
    /// Community ID v1 (seed 0) of the flow; null for ICMP, ICMPv6 and SCTP.
    pub community_id: Option<String>,
    pub server_rule: &'static str,
    pub app_protocol: Option<&'a str>,
    /// The services the flow is credited with: those its evidence backs, else its label's candidates.
    pub services: Vec<&'a str>,
    /// How `services` are known: "evidence", "port" (one candidate), "candidates" (a shared port,
    /// not determined) or "unclassified".
    pub service_basis: &'static str,
    /// The candidate services of the flow's label, whatever the evidence said.
    pub candidate_services: Vec<&'a str>,
    pub provenance: &'static str,
    pub packets_c2s: u64,
    pub packets_s2c: u64,
    pub bytes_c2s: u64,
    pub bytes_s2c: u64,
    /// TCP flags seen in either direction, e.g. "SYN,ACK,PSH,FIN"; null for other protocols.
    pub tcp_flags: Option<String>,
    pub tcp_flags_c2s: Option<String>,
    pub tcp_flags_s2c: Option<String>,
    /// A TCP connection attempt the server never accepted.
    pub unanswered: bool,
    /// A TCP flow of which only one direction was seen (the capture may miss the other).
    pub one_direction: bool,
    /// "idle", "closed", "reused", "evicted" or "end-of-input".
    pub end_reason: &'static str,
    /// The DCE/RPC interface UUID seen on or announced for the flow, else null.
    pub rpc_interface: Option<String>,
    /// Whether the payload showed the label's protocol: "verified", "port-only" or "mismatch";
    /// null when unclassified.
    pub verification: Option<&'static str>,
    /// What the payload looks like ("tls", "http", "iso-mms", …, "unknown"), null without payload.
    pub payload: Option<&'static str>,
    /// What the payload (or the flow that announced this one) showed, in the order found.
    pub evidence: Vec<EvidenceRecord<'a>>,
}

/// One evidence item of a flow record.
#[derive(Serialize)]
pub struct EvidenceRecord<'a> {
    /// `rpc-bind`, `rpc-header`, `endpoint-mapper`, `ftp-control`, `tftp`.
    pub kind: &'static str,
    /// What it names (an interface UUID, …), or null.
    pub value: Option<String>,
    /// The catalog services it backs (those of its catalog name, else of the application protocol
    /// it implies).
    pub services: Vec<&'a str>,
}

impl<'a> EvidenceRecord<'a> {
    pub fn new(catalog: &'a Catalog, e: &Evidence) -> EvidenceRecord<'a> {
        EvidenceRecord {
            kind: e.kind.as_str(),
            value: e.value.text(),
            services: names(catalog, e.services(catalog)),
        }
    }
}

/// The names of these services.
fn names<'c>(catalog: &'c Catalog, services: &[ServiceId]) -> Vec<&'c str> {
    services
        .iter()
        .map(|&s| catalog.service(s).name.as_str())
        .collect()
}

impl<'a> FlowRecord<'a> {
    pub fn new(catalog: &'a Catalog, sensor: &'a str, f: &Flow, why: EndReason) -> FlowRecord<'a> {
        let interface = f.slot.as_ref().and_then(|s| s.interface);
        let (client, cport) = f.client();
        let (server, sport) = f.server();
        let ports = f.has_ports();
        let label = f.class.label.map(|l| catalog.label(l));
        let tcp = f.key.protocol == proto::TCP;
        let flags = |bits: u8| tcp.then(|| tcp_flags::to_text(bits));
        let attribution = f.attribution(catalog);
        FlowRecord {
            sensor,
            first_seen: rfc3339(f.first_ts),
            last_seen: rfc3339(f.last_ts),
            ip_protocol: f.key.protocol,
            transport: transport_name(f.key.protocol),
            client_addr: client,
            client_port: ports.then_some(cport),
            server_addr: server,
            server_port: ports.then_some(sport),
            community_id: community_id(f.key.protocol, client, cport, server, sport),
            server_rule: f.class.server_rule.as_str(),
            app_protocol: label.map(|l| l.name.as_str()),
            services: names(catalog, &attribution.services),
            service_basis: attribution.basis.as_str(),
            candidate_services: label.map_or_else(Vec::new, |l| names(catalog, &l.services)),
            provenance: f.class.provenance.as_str(),
            packets_c2s: f.packets[C2S],
            packets_s2c: f.packets[S2C],
            bytes_c2s: f.bytes[C2S],
            bytes_s2c: f.bytes[S2C],
            tcp_flags: flags(f.flags[C2S] | f.flags[S2C]),
            tcp_flags_c2s: flags(f.flags[C2S]),
            tcp_flags_s2c: flags(f.flags[S2C]),
            unanswered: f.is_unanswered(),
            one_direction: f.is_one_direction(),
            end_reason: match why {
                EndReason::Idle => "idle",
                EndReason::Closed => "closed",
                EndReason::Reused => "reused",
                EndReason::Evicted => "evicted",
                EndReason::EndOfInput => "end-of-input",
            },
            rpc_interface: interface.map(|u| u.to_string()),
            verification: f.verification(catalog).map(|v| v.as_str()),
            payload: f.looks_like().map(|w| w.as_str()),
            evidence: f
                .slot
                .iter()
                .flat_map(|s| s.evidence.iter())
                .map(|e| EvidenceRecord::new(catalog, e))
                .collect(),
        }
    }
}

/// The `--flows` writer: a [`FlowSink`] rendering each ended flow as one JSON line.
///
/// Every worker has its own fork, which renders records into its own buffer and writes whole lines,
/// at least [`JsonLines::BLOCK`] bytes at a time, under the lock of the one destination: lines of
/// different workers never interleave (their order across workers follows the workers' progress).
/// After the first failed write nothing more is written, every fork reports that error, and the
/// records not written are counted. The last fork to finish closes the destination (a compressed
/// file gets its end there).
pub struct JsonLines {
    catalog: Arc<Catalog>,
    sensor: Arc<str>,
    out: Arc<Mutex<Destination>>,
    buf: Vec<u8>,
    /// Records in `buf`.
    records: u64,
    failed: bool,
    finished: bool,
}

struct Destination {
    out: Box<dyn RecordOutput>,
    error: Option<String>,
    /// Records handed over but not written (the block that failed and every record after it).
    lost: u64,
    /// Sinks sharing it that have not finished yet.
    open: usize,
}

impl JsonLines {
    /// Bytes of whole records a fork gathers before writing them out.
    pub const BLOCK: usize = 32 << 10;

    pub fn new(catalog: Arc<Catalog>, sensor: &str, out: Box<dyn RecordOutput>) -> JsonLines {
        JsonLines {
            catalog,
            sensor: sensor.into(),
            out: Arc::new(Mutex::new(Destination {
                out,
                error: None,
                lost: 0,
                open: 1,
            })),
            buf: Vec::new(),
            records: 0,
            failed: false,
            finished: false,
        }
    }

    /// Writes the buffered lines, unless a write (of any fork) failed before; `last`: this fork is
    /// done (flush, and close the destination when it is the last one).
    fn write_out(&mut self, last: bool) -> Result<(), String> {
        // A fork that panicked while holding the lock left at worst a partial write behind, which
        // the error of that run reports; the others still write whole lines.
        let mut dest = self.out.lock().unwrap_or_else(|e| e.into_inner());
        if dest.error.is_none() && !self.buf.is_empty() {
            if let Err(e) = dest.out.write_block(&self.buf) {
                dest.error = Some(e.to_string());
            }
        }
        if dest.error.is_some() {
            dest.lost += self.records;
        }
        if last && !self.finished {
            self.finished = true;
            dest.open = dest.open.saturating_sub(1);
            let end = if dest.open == 0 {
                dest.out.close()
            } else {
                dest.out.flush()
            };
            if let (Err(e), None) = (end, &dest.error) {
                dest.error = Some(e.to_string());
            }
        }
        self.buf.clear();
        self.records = 0;
        self.failed = dest.error.is_some();
        match &dest.error {
            None => Ok(()),
            Some(e) => Err(format!("{e}; {} flow records not written", dest.lost)),
        }
    }
}

impl FlowSink for JsonLines {
    fn ended(&mut self, f: &Flow, why: EndReason) {
        if self.failed {
            // Counted as not written at the next write-out.
            self.records += 1;
            return;
        }
        let record = FlowRecord::new(&self.catalog, &self.sensor, f, why);
        serde_json::to_writer(&mut self.buf, &record).expect("flow records serialize");
        self.buf.push(b'\n');
        self.records += 1;
        if self.buf.len() >= JsonLines::BLOCK {
            // An error is kept for `finish`.
            let _ = self.write_out(false);
        }
    }

    fn finish(&mut self) -> Result<(), String> {
        self.write_out(true)
    }

    fn fork(&self) -> Box<dyn FlowSink> {
        let mut dest = self.out.lock().unwrap_or_else(|e| e.into_inner());
        dest.open += 1;
        Box::new(JsonLines {
            catalog: self.catalog.clone(),
            sensor: self.sensor.clone(),
            out: self.out.clone(),
            buf: Vec::new(),
            records: 0,
            failed: dest.error.is_some(),
            finished: false,
        })
    }
}

/// RFC 3339 UTC time with microseconds, e.g. `2024-03-04T09:00:00.000000Z`.
pub fn rfc3339(ts: Ts) -> String {
    let secs = ts.div_euclid(1_000_000_000);
    let micros = ts.rem_euclid(1_000_000_000) / 1000;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::FlowKey;
    use crate::flow::{Class, ServerRule};
    use crate::inspect::Provenance;
    use crate::report::flowfile::Unrotated;
    use std::io::Write;

    /// A TCP flow from 192.0.2.`client`:`port` to 192.0.2.10:445.
    fn flow(client: u8, port: u16) -> Flow {
        let server = Addr::from_v4([192, 0, 2, 10]);
        let (key, _) = FlowKey::of(
            proto::TCP,
            Addr::from_v4([192, 0, 2, client]),
            server,
            Some((port, 445)),
        );
        let class = Class {
            client_is_lo: key.lo != server,
            server_rule: ServerRule::Syn,
            label: None,
            provenance: Provenance::Port,
            inspector: None,
        };
        Flow::new(key, class, 0)
    }

    /// A destination that records each write it is given, and fails after `fail_after` of them.
    #[derive(Clone)]
    struct Writes {
        writes: Arc<Mutex<Vec<Vec<u8>>>>,
        fail_after: usize,
    }

    impl Write for Writes {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let mut w = self.writes.lock().unwrap();
            if w.len() >= self.fail_after {
                return Err(std::io::Error::other("disk full"));
            }
            w.push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn forks_on_several_threads_write_only_whole_lines() {
        let writes = Writes {
            writes: Arc::default(),
            fail_after: usize::MAX,
        };
        let first = JsonLines::new(
            Arc::new(Catalog::builtin()),
            "sensor-a",
            Box::new(Unrotated(writes.clone())),
        );
        let per_thread = 2_000u16;
        let threads: Vec<_> = (0..4u8)
            .map(|t| {
                let mut sink = first.fork();
                std::thread::spawn(move || {
                    for port in 0..per_thread {
                        sink.ended(&flow(100 + t, 10_000 + port), EndReason::Idle);
                    }
                    sink.finish()
                })
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().unwrap(), Ok(()));
        }
        let writes = writes.writes.lock().unwrap();
        // Records were gathered into blocks rather than written one by one.
        assert!(
            writes.len() < usize::from(per_thread),
            "{} writes",
            writes.len()
        );
        let mut seen = std::collections::HashSet::new();
        for w in writes.iter() {
            assert_eq!(w.last(), Some(&b'\n'), "a write ends inside a line");
            for line in std::str::from_utf8(w).unwrap().lines() {
                let v: serde_json::Value = serde_json::from_str(line).expect("a whole record");
                let client = (v["client_addr"].to_string(), v["client_port"].as_u64());
                assert!(seen.insert(client), "a record written twice: {line}");
            }
        }
        assert_eq!(seen.len(), 4 * usize::from(per_thread));
    }

    #[test]
    fn a_failed_write_stops_every_fork_and_each_reports_it() {
        let writes = Writes {
            writes: Arc::default(),
            fail_after: 1,
        };
        let mut a = JsonLines::new(
            Arc::new(Catalog::builtin()),
            "sensor-a",
            Box::new(Unrotated(writes.clone())),
        );
        let mut b = a.fork();
        // Enough records for a block each: `a` writes its block, `b`'s write fails.
        let mut port = 0;
        while writes.writes.lock().unwrap().is_empty() {
            port += 1;
            a.ended(&flow(101, port), EndReason::Closed);
        }
        for port in 1..=port {
            b.ended(&flow(102, port), EndReason::Closed);
        }
        // `b` fills a block as `a` did: all its records were in the failed write.
        assert_eq!(
            b.finish(),
            Err(format!("disk full; {port} flow records not written"))
        );
        a.ended(&flow(101, 1), EndReason::Closed);
        a.ended(&flow(101, 2), EndReason::Closed);
        assert_eq!(
            a.finish(),
            Err(format!("disk full; {} flow records not written", port + 2))
        );
        assert_eq!(
            writes.writes.lock().unwrap().len(),
            1,
            "written after the failure"
        );
    }

    /// The Community ID does not depend on which side svcscope took for the client, and is the
    /// specification's for the flow.
    #[test]
    fn records_carry_the_sensor_and_a_community_id_whichever_side_is_the_client() {
        let catalog = Catalog::builtin();
        let server = Addr::from_v4([66, 35, 250, 204]);
        let (key, _) = FlowKey::of(
            proto::TCP,
            Addr::from_v4([128, 232, 110, 120]),
            server,
            Some((34855, 80)),
        );
        let class = Class {
            client_is_lo: key.lo != server,
            server_rule: ServerRule::Syn,
            label: None,
            provenance: Provenance::Port,
            inspector: None,
        };
        let mut f = Flow::new(key, class, 0);
        let a = serde_json::to_value(FlowRecord::new(&catalog, "s1", &f, EndReason::Idle)).unwrap();
        f.flip();
        let b = serde_json::to_value(FlowRecord::new(&catalog, "s1", &f, EndReason::Idle)).unwrap();
        assert_eq!(a["sensor"], "s1");
        assert_ne!(
            a["client_addr"], b["client_addr"],
            "the flip swapped the sides"
        );
        assert_eq!(a["community_id"], "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
        assert_eq!(b["community_id"], a["community_id"]);
    }

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            rfc3339(1_709_542_800_123_456_789),
            "2024-03-04T09:00:00.123456Z"
        );
        assert_eq!(
            rfc3339(951_782_400_000_000_000),
            "2000-02-29T00:00:00.000000Z"
        );
        assert_eq!(rfc3339(-1_000_000_000), "1969-12-31T23:59:59.000000Z");
    }
}
