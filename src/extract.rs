//! `analyze --write-service NAME FILE`: the packets of the flows credited to a service, written to a
//! pcap file.
//!
//! A flow is credited to a service by evidence its payload shows, which may come many packets after
//! its first: a flow's packets are not known to be the service's until it ends. Rather than hold
//! every flow's packets back (bounded buffers would have to drop some), this takes two passes over
//! the inputs: the analysis notes the span of each flow credited to the service ([`SpanSink`], a
//! flow sink: key and first and last packet times), and a second read of the same files, with the
//! same filter and in the same order, writes each packet that falls in a noted span of its key
//! ([`write_packets`]). That is exact — every packet of those flows and no other — and costs one
//! more read, never memory per packet; inputs that can be read only once (standard input, pipes)
//! are refused.
//!
//! Memory: one entry per credited flow, at most [`MAX_FLOWS`]; flows past it are counted and their
//! packets not written. Later IP fragments find their flow's ports through a bounded table of first
//! fragments, as the flow table does.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::hash::HashMap;

use crate::bounded::BoundedMap;
use crate::capture::file::FileSource;
use crate::capture::savefile::{SaveFormat, Savefile};
use crate::capture::{Batch, PacketSource};
use crate::catalog::Catalog;
use crate::decode::{Addr, FlowKey, Fragment, LinkType, Outcome};
use crate::flow::{EndReason, Flow, FlowSink};
use crate::select::Selection;
use crate::time::Ts;

/// Flows whose spans are kept; the packets of credited flows past it are not written (counted).
pub const MAX_FLOWS: usize = 1_000_000;
/// First fragments remembered for their later fragments.
const MAX_FRAGMENTS: usize = 65_536;

/// The flows to write: per key, the (first, last) packet times of each flow with that key.
#[derive(Debug, Default)]
pub struct FlowSpans {
    by_key: HashMap<FlowKey, Vec<(Ts, Ts)>>,
    /// Flows noted.
    pub flows: u64,
    /// Credited flows not noted: past [`MAX_FLOWS`].
    pub flows_not_kept: u64,
}

impl FlowSpans {
    fn add(&mut self, f: &Flow) {
        if self.flows as usize >= MAX_FLOWS {
            self.flows_not_kept += 1;
            return;
        }
        self.flows += 1;
        self.by_key
            .entry(f.key)
            .or_default()
            .push((f.first_ts, f.last_ts));
    }

    /// True when a packet of this key at `ts` belongs to a noted flow.
    pub fn contains(&self, key: &FlowKey, ts: Ts) -> bool {
        self.by_key
            .get(key)
            .is_some_and(|spans| spans.iter().any(|&(a, b)| a <= ts && ts <= b))
    }
}

/// The flow sink of the first pass: notes the flows the selection (the service) credits.
#[derive(Clone)]
pub struct SpanSink {
    catalog: Arc<Catalog>,
    selection: Arc<Selection>,
    spans: Arc<Mutex<FlowSpans>>,
}

impl SpanSink {
    pub fn new(catalog: Arc<Catalog>, selection: Selection) -> SpanSink {
        SpanSink {
            catalog,
            selection: Arc::new(selection),
            spans: Arc::default(),
        }
    }

    /// What the flows sent to this sink (and its forks) noted.
    pub fn spans(&self) -> Arc<Mutex<FlowSpans>> {
        self.spans.clone()
    }
}

impl FlowSink for SpanSink {
    fn ended(&mut self, f: &Flow, _why: EndReason) {
        if !f.is_unanswered() && self.selection.matches(&self.catalog, f) {
            self.spans.lock().unwrap_or_else(|e| e.into_inner()).add(f);
        }
    }

    fn finish(&mut self) -> Result<(), String> {
        Ok(())
    }

    fn fork(&self) -> Box<dyn FlowSink> {
        Box::new(self.clone())
    }
}

/// Two flow sinks fed the same flows (flow records and [`SpanSink`]); `finish` returns the first
/// one's error, else the second's.
pub struct Tee(pub Box<dyn FlowSink>, pub Box<dyn FlowSink>);

impl FlowSink for Tee {
    fn ended(&mut self, f: &Flow, why: EndReason) {
        self.0.ended(f, why);
        self.1.ended(f, why);
    }

    fn finish(&mut self) -> Result<(), String> {
        let a = self.0.finish();
        let b = self.1.finish();
        a.and(b)
    }

    fn fork(&self) -> Box<dyn FlowSink> {
        Box::new(Tee(self.0.fork(), self.1.fork()))
    }
}

/// What the second pass wrote.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Written {
    pub packets: u64,
    /// Packets of the flows whose link type differs from the file's (the first packet written
    /// decides it: a pcap file has one link type).
    pub other_link_type: u64,
}

/// The LINKTYPE number a file records for frames of this link type.
fn linktype(link: LinkType) -> Option<i32> {
    Some(match link {
        LinkType::Ethernet => 1,
        LinkType::Null => 0,
        LinkType::Loop => 108,
        LinkType::Raw => 101,
        LinkType::Ipv4 => 228,
        LinkType::Ipv6 => 229,
        LinkType::LinuxSll => 113,
        LinkType::LinuxSll2 => 276,
        LinkType::Ppp => 9,
        LinkType::PppEther => 51,
        LinkType::CiscoHdlc => 104,
        LinkType::Unsupported(_) => return None,
    })
}

/// Inputs that can be read a second time: regular files (not `-`, pipes or devices), none of
/// them the file to write (which would be emptied before its second read).
pub fn check_rereadable(paths: &[PathBuf], out: &Path) -> Result<(), String> {
    let out_file = std::fs::canonicalize(out).ok();
    for p in paths {
        if out_file.is_some() && std::fs::canonicalize(p).ok() == out_file {
            return Err(format!(
                "--write-service {}: that is an input; write the packets to another file",
                out.display()
            ));
        }
        let once = p.as_os_str() == crate::capture::file::STDIN
            || std::fs::metadata(p).is_ok_and(|m| !m.is_file());
        if once {
            return Err(format!(
                "--write-service reads the inputs twice: {} cannot be read again (standard input, \
                 a pipe, a device); save it to a file first",
                p.display()
            ));
        }
    }
    Ok(())
}

/// Key of a first fragment: (source, destination, protocol, IP identification).
type FragKey = (Addr, Addr, u8, u32);

/// The second pass: reads `paths` (in the order the analysis read them) through `filter` and writes
/// each packet of a noted flow to `out`. Every write is checked: the first error ends the pass, and
/// the file keeps the whole records written before it. Inputs that fail to open or stop part way
/// (the analysis told of them) contribute what could be read.
pub fn write_packets(
    paths: &[PathBuf],
    filter: Option<&str>,
    spans: &FlowSpans,
    out: &Path,
) -> Result<Written, String> {
    let mut file: Option<(Savefile, LinkType)> = None;
    let mut written = Written::default();
    let mut fragments: BoundedMap<FragKey, (u16, u16)> = BoundedMap::new(MAX_FRAGMENTS);
    let mut batch = Batch::default();
    let fail = |e: std::io::Error, n: u64| {
        format!(
            "{}: writing failed: {e} ({n} packets written)",
            out.display()
        )
    };
    // The file exists, with its header, even when no packet is the service's.
    let create = |link: LinkType| -> Result<Savefile, String> {
        let dlt = linktype(link).unwrap_or(1);
        Savefile::create(
            out,
            SaveFormat {
                dlt,
                snaplen: 262_144,
                nanos: true,
            },
        )
        .map_err(|e| format!("{}: cannot write capture file: {e}", out.display()))
    };
    let mut filters = crate::capture::file::Filters::default();
    for path in paths {
        let Ok(mut source) = FileSource::open_with(path, filter, std::mem::take(&mut filters))
        else {
            continue;
        };
        loop {
            batch.clear();
            let more = source.fill(&mut batch).unwrap_or(false);
            let link = batch.link.unwrap_or(LinkType::Unsupported(-1));
            for i in 0..batch.packets.len() {
                let (p, frame) = batch.frame(i);
                let Outcome::Ip(d) = batch.parsed[i].attach(frame) else {
                    continue;
                };
                let ports = match d.fragment {
                    Fragment::None => d.ports,
                    Fragment::First { id } => {
                        if let Some(ports) = d.ports {
                            fragments.insert((d.src, d.dst, d.protocol, id), ports);
                        }
                        d.ports
                    }
                    Fragment::Later { id } => {
                        fragments.get(&(d.src, d.dst, d.protocol, id)).copied()
                    }
                };
                let (key, _) = FlowKey::of(d.protocol, d.src, d.dst, ports);
                if !spans.contains(&key, p.ts) {
                    continue;
                }
                let (f, file_link) = match &mut file {
                    Some((f, l)) => (f, *l),
                    None => {
                        let f = create(link)?;
                        let (f, l) = file.insert((f, link));
                        (f, *l)
                    }
                };
                if file_link != link {
                    written.other_link_type += 1;
                    continue;
                }
                f.write(p.ts, p.wire_len, frame)
                    .map_err(|e| fail(e.error, f.saved()))?;
                written.packets += 1;
            }
            if !more {
                break;
            }
        }
        filters = source.take_filters();
    }
    let f = match file {
        Some((f, _)) => f,
        None => create(LinkType::Ethernet)?,
    };
    f.finish().map_err(|(e, n)| fail(e.error, n))?;
    Ok(written)
}
