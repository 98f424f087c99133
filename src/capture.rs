//! Capture: packet sources. The only module that touches libpcap.
//!
//! A [`PacketSource`] fills [`Batch`]es — one contiguous buffer of frames plus a small header per
//! packet — which the pipeline sends over a channel to the classifier, so that no allocation happens
//! per packet and buffers are recycled. Offline sources read capture files through libpcap (pcap and
//! pcapng, any byte order and timestamp precision); a BPF filter is compiled by libpcap for the file's
//! link type and run on each frame here, so filtered packets are counted.

use std::fmt;
use std::path::Path;

use crate::decode::LinkType;
use crate::flow::Ts;

/// One captured frame inside a [`Batch`].
#[derive(Clone, Copy, Debug)]
pub struct RawPacket {
    pub ts: Ts,
    /// Bytes captured (the frame in the batch buffer is this long).
    pub caplen: u32,
    /// Bytes on the wire.
    pub wire_len: u32,
    /// Offset of the frame in [`Batch::data`].
    pub offset: u32,
}

/// A batch of frames of one input and one link type.
#[derive(Debug, Default)]
pub struct Batch {
    pub input: usize,
    pub link: Option<LinkType>,
    pub data: Vec<u8>,
    pub packets: Vec<RawPacket>,
}

/// Frames per batch: large enough to amortise channel costs, small enough to keep latency low live.
pub const BATCH_PACKETS: usize = 1024;
/// Bytes per batch buffer before it is sent, whatever its packet count.
pub const BATCH_BYTES: usize = 1 << 20;

impl Batch {
    pub fn clear(&mut self) {
        self.data.clear();
        self.packets.clear();
    }

    pub fn is_full(&self) -> bool {
        self.packets.len() >= BATCH_PACKETS || self.data.len() >= BATCH_BYTES
    }

    pub fn push(&mut self, ts: Ts, wire_len: u32, frame: &[u8]) {
        let offset = self.data.len() as u32;
        self.data.extend_from_slice(frame);
        self.packets.push(RawPacket {
            ts,
            caplen: frame.len() as u32,
            wire_len,
            offset,
        });
    }

    pub fn frames(&self) -> impl Iterator<Item = (&RawPacket, &[u8])> {
        self.packets.iter().map(move |p| {
            let start = p.offset as usize;
            (p, &self.data[start..start + p.caplen as usize])
        })
    }
}

/// A capture error: which input and what went wrong, in words for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureError {
    pub input: String,
    pub message: String,
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.input, self.message)
    }
}

impl std::error::Error for CaptureError {}

/// What a source counted (for capture health).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceCounters {
    pub packets: u64,
    /// Bytes of the file consumed (record headers included), for progress.
    pub file_bytes: u64,
    /// Packets rejected by the BPF filter.
    pub filtered: u64,
}

/// Something that produces batches of frames: a capture file or a live interface.
pub trait PacketSource: Send {
    /// A name for messages: the path or interface.
    fn name(&self) -> &str;
    fn link_type(&self) -> LinkType;
    /// Appends frames to `batch` until it is full or input ends. Returns Ok(false) at the end.
    fn fill(&mut self, batch: &mut Batch) -> Result<bool, CaptureError>;
    fn counters(&self) -> SourceCounters;
}

/// A capture file read with libpcap.
pub struct FileSource {
    name: String,
    cap: pcap::Capture<pcap::Offline>,
    link: LinkType,
    filter: Option<pcap::BpfProgram>,
    counters: SourceCounters,
}

const SUPPORTED: &str = "Ethernet, Linux cooked (SLL, SLL2), raw IP and BSD loopback";

impl FileSource {
    pub fn open(path: &Path, filter: Option<&str>) -> Result<FileSource, CaptureError> {
        let name = path.display().to_string();
        let fail = |message: String| CaptureError {
            input: name.clone(),
            message,
        };
        match std::fs::metadata(path) {
            Err(e) => return Err(fail(io_message(&e))),
            Ok(m) if m.is_dir() => return Err(fail("is a directory, not a capture file".into())),
            Ok(m) if m.len() == 0 => return Err(fail("empty file, not a capture".into())),
            Ok(_) => {}
        }
        if let Err(e) = std::fs::File::open(path) {
            return Err(fail(io_message(&e)));
        }
        let cap = pcap::Capture::from_file_with_precision(path, pcap::Precision::Nano)
            .map_err(|e| fail(open_message(&e)))?;
        let dlt = cap.get_datalink();
        let link = LinkType::from_dlt(dlt.0);
        if !link.is_supported() {
            let name = dlt.get_name().unwrap_or_else(|_| format!("DLT {}", dlt.0));
            return Err(fail(format!(
                "unsupported link type {name} ({}); svcscope decodes {SUPPORTED}",
                dlt.0
            )));
        }
        let filter = match filter {
            None => None,
            Some(expr) => Some(compile_filter(dlt, expr).map_err(fail)?),
        };
        Ok(FileSource {
            name,
            cap,
            link,
            filter,
            counters: SourceCounters::default(),
        })
    }
}

/// Compiles a BPF expression for a link type.
pub fn compile_filter(dlt: pcap::Linktype, expr: &str) -> Result<pcap::BpfProgram, String> {
    let dead = pcap::Capture::dead(dlt).map_err(|e| format!("cannot compile filter: {e}"))?;
    dead.compile(expr, true).map_err(|e| {
        format!(
            "invalid filter \"{expr}\": {}",
            strip_libpcap(&e.to_string())
        )
    })
}

fn strip_libpcap(s: &str) -> String {
    s.trim_start_matches("libpcap error: ").to_string()
}

fn io_message(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied (cannot read the file)".into(),
        _ => format!("cannot read: {e}"),
    }
}

fn open_message(e: &pcap::Error) -> String {
    let text = strip_libpcap(&e.to_string());
    if text.contains("unknown file format") || text.contains("bad dump file format") {
        "not a pcap or pcapng capture (unknown file format)".into()
    } else if text.contains("truncated dump file") || text.contains("truncated") {
        format!("truncated capture header ({text})")
    } else {
        format!("cannot open capture: {text}")
    }
}

impl PacketSource for FileSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn link_type(&self) -> LinkType {
        self.link
    }

    fn fill(&mut self, batch: &mut Batch) -> Result<bool, CaptureError> {
        loop {
            if batch.is_full() {
                return Ok(true);
            }
            match self.cap.next_packet() {
                Ok(p) => {
                    let h = p.header;
                    self.counters.packets += 1;
                    self.counters.file_bytes += 16 + u64::from(h.caplen);
                    if let Some(f) = &self.filter {
                        if !f.filter(p.data) {
                            self.counters.filtered += 1;
                            continue;
                        }
                    }
                    // Precision::Nano: tv_usec holds nanoseconds.
                    // time_t and suseconds_t are i64 on 64-bit Linux, narrower elsewhere.
                    #[allow(clippy::useless_conversion)]
                    let ts = i64::from(h.ts.tv_sec)
                        .saturating_mul(1_000_000_000)
                        .saturating_add(i64::from(h.ts.tv_usec));
                    batch.push(ts, h.len, p.data);
                }
                Err(pcap::Error::NoMorePackets) => return Ok(false),
                Err(e) => {
                    let text = strip_libpcap(&e.to_string());
                    let message = if text.contains("truncated") {
                        format!(
                            "truncated capture after {} packets ({text}); the packets before it are reported",
                            self.counters.packets
                        )
                    } else {
                        format!(
                            "corrupt capture after {} packets ({text}); the packets before it are reported",
                            self.counters.packets
                        )
                    };
                    return Err(CaptureError {
                        input: self.name.clone(),
                        message,
                    });
                }
            }
        }
    }

    fn counters(&self) -> SourceCounters {
        self.counters.clone()
    }
}
