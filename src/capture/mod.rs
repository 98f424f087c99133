//! Capture: packet sources. The only module that touches libpcap.
//!
//! A [`PacketSource`] fills [`Batch`]es — one contiguous buffer of frames plus a small header per
//! packet — which the pipeline sends over a channel to the classifier, so that no allocation happens
//! per packet and buffers are recycled.
//!
//! - [`file`](mod@file): capture files (pcap and pcapng, any byte order and timestamp resolution, several
//!   interfaces of different link types) read with large buffered reads by svcscope's own record
//!   parser; a BPF filter is compiled by libpcap per link type and run on each frame, so filtered
//!   packets are counted.
//! - [`live`]: network interfaces through libpcap.
//! - [`fanout`]: several sockets on one interface in one Linux PACKET_FANOUT group.
//! - [`savefile`]: svcscope's own pcap writer for `capture --write`, every write checked.
//! - [`privileges`]: giving up root and capabilities once the interface is open.

// The one module allowed to use libpcap's types (see clippy.toml).
#![allow(clippy::disallowed_types)]

pub mod fanout;
pub mod file;
pub mod live;
pub mod privileges;
pub mod savefile;

use std::fmt;

use crate::decode::{decode, LinkType, Parsed};
use crate::time::Ts;

pub use file::{FileSource, Filters};
pub use live::{interfaces, InterfaceInfo, LiveCounters, LiveOptions, LiveSource};

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
///
/// The capture thread decodes each frame as it enters the batch ([`Batch::push_at`]), while it is
/// fresh in its cache, so the classifier receives parsed packets.
#[derive(Debug, Default)]
pub struct Batch {
    pub input: usize,
    pub link: Option<LinkType>,
    /// The frames (capture files: with their record headers between them).
    pub data: Vec<u8>,
    pub packets: Vec<RawPacket>,
    /// The decoded frames, one per packet (fewer only if frames were added without decoding them:
    /// [`Batch::decode`] catches up).
    pub parsed: Vec<Parsed>,
    /// With several classifier workers: the worker each frame goes to, one per packet (set by the
    /// pipeline as it shards the batch); empty when one worker takes every frame.
    pub owners: Vec<u8>,
    /// With `owners`: the times of the batch's IP frames, if there are any.
    pub ip_times: Option<TimeSpan>,
    /// With `owners`: the positions of the frames every worker learns from, whoever owns them (DNS
    /// answers, Kerberos requests: see `inspect::learn`), ascending.
    pub learn: Vec<u32>,
}

/// The times of a run of frames: the first and the last, and whether they never go backwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeSpan {
    pub earliest: Ts,
    pub latest: Ts,
    pub in_order: bool,
}

/// Frames per batch (live capture, pcapng): large enough to amortise channel costs, small enough to
/// keep latency low live. A classic pcap batch is a chunk of about 1 MiB of the file instead, however
/// many frames it holds.
pub const BATCH_PACKETS: usize = 1024;
/// Bytes per batch buffer before it is sent, whatever its packet count.
pub const BATCH_BYTES: usize = 1 << 20;

impl Batch {
    pub fn clear(&mut self) {
        self.data.clear();
        self.packets.clear();
        self.parsed.clear();
        self.owners.clear();
        self.learn.clear();
        self.ip_times = None;
    }

    /// Decodes the frames not decoded yet into [`Batch::parsed`] (sources decode as they fill).
    pub fn decode(&mut self) {
        for i in self.parsed.len()..self.packets.len() {
            let parsed = self.parse(i);
            self.parsed.push(parsed);
        }
    }

    pub fn is_full(&self) -> bool {
        self.packets.len() >= BATCH_PACKETS || self.data.len() >= BATCH_BYTES
    }

    /// Appends a frame (of the batch's link type) and decodes it.
    pub fn push(&mut self, ts: Ts, wire_len: u32, frame: &[u8]) {
        let offset = self.data.len() as u32;
        self.data.extend_from_slice(frame);
        self.push_at(ts, wire_len, offset, frame.len() as u32);
    }

    /// Adds the frame of `caplen` bytes already in [`Batch::data`] at `offset`, and decodes it while
    /// it is in the cache.
    #[inline]
    pub fn push_at(&mut self, ts: Ts, wire_len: u32, offset: u32, caplen: u32) {
        self.packets.push(RawPacket {
            ts,
            caplen,
            wire_len,
            offset,
        });
        let parsed = self.parse(self.packets.len() - 1);
        self.parsed.push(parsed);
    }

    /// Packet `i` and its frame.
    #[inline]
    pub fn frame(&self, i: usize) -> (&RawPacket, &[u8]) {
        let p = &self.packets[i];
        (p, &self.data[p.offset as usize..][..p.caplen as usize])
    }

    pub fn frames(&self) -> impl Iterator<Item = (&RawPacket, &[u8])> {
        (0..self.packets.len()).map(|i| self.frame(i))
    }

    /// Decodes frame `i`.
    #[inline]
    fn parse(&self, i: usize) -> Parsed {
        let link = self.link.unwrap_or(LinkType::Unsupported(-1));
        let (_, frame) = self.frame(i);
        Parsed::new(decode(link, frame), frame)
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
    /// Appends frames of one link type to an empty `batch` (setting `batch.link`) until it is full
    /// (for a source's own measure of full), the link type changes or input ends, decoding each.
    /// Returns Ok(false) at the end.
    fn fill(&mut self, batch: &mut Batch) -> Result<bool, CaptureError>;
    fn counters(&self) -> SourceCounters;
    /// Link types seen so far, by name.
    fn link_types(&self) -> Vec<String>;
}

/// The link types svcscope decodes, for messages.
pub const SUPPORTED: &str = "Ethernet, Linux cooked (SLL, SLL2), raw IP and BSD loopback";

/// Compiles a BPF expression for a link type.
/// The libpcap DLT value for a capture file's LINKTYPE value (pcap-linktype(7)). They agree except
/// for the few link types whose DLT values differ between platforms, which files record under
/// numbers of their own: raw IP is LINKTYPE_RAW 101 in a file and DLT_RAW 12 to Linux's libpcap.
pub fn linktype_to_dlt(linktype: i32) -> i32 {
    match linktype {
        100 => 11, // ATM_RFC1483
        101 => 12, // RAW
        102 => 15, // SLIP_BSDOS
        103 => 16, // PPP_BSDOS
        other => other,
    }
}

/// The LINKTYPE value a savefile records for a live capture's DLT (the inverse of
/// [`linktype_to_dlt`]; DLT_RAW is 14 on OpenBSD).
pub fn dlt_to_linktype(dlt: i32) -> i32 {
    match dlt {
        11 => 100,
        12 | 14 => 101,
        15 => 102,
        16 => 103,
        other => other,
    }
}

/// Checks that a BPF filter compiles (for Ethernet), for a clear error before any input is read.
pub fn check_filter(expr: &str) -> Result<(), String> {
    compile_filter(pcap::Linktype::ETHERNET, expr).map(|_| ())
}

pub(crate) fn compile_filter(dlt: pcap::Linktype, expr: &str) -> Result<pcap::BpfProgram, String> {
    let dead = pcap::Capture::dead(dlt).map_err(|e| format!("cannot compile filter: {e}"))?;
    dead.compile(expr, true).map_err(|e| filter_error(expr, &e))
}

fn filter_error(expr: &str, e: &pcap::Error) -> String {
    format!(
        "invalid filter \"{expr}\": {}",
        strip_libpcap(&e.to_string())
    )
}

/// Compiles a filter for frames read from a capture file of this LINKTYPE, as libpcap compiles
/// it for a savefile: for BSD loopback (NULL, LOOP) `ip6` then matches every platform's AF_INET6
/// value (24, 28, 30), not only this machine's, which a handle that is not a savefile would check.
/// The savefile is a pcap header alone, read from a pipe; where that cannot be opened (no
/// `/dev/fd`), the filter is compiled as for a live capture of the same link type.
pub(crate) fn compile_file_filter(linktype: i32, expr: &str) -> Result<pcap::BpfProgram, String> {
    use std::io::Write;
    use std::os::fd::AsRawFd;
    let dlt = pcap::Linktype(linktype_to_dlt(linktype));
    let savefile = (|| {
        let (reader, mut writer) = std::io::pipe().ok()?;
        let mut header = Vec::with_capacity(24);
        header.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        header.extend_from_slice(&2u16.to_le_bytes());
        header.extend_from_slice(&4u16.to_le_bytes());
        header.extend_from_slice(&[0; 8]);
        header.extend_from_slice(&262_144u32.to_le_bytes());
        header.extend_from_slice(&(linktype as u32).to_le_bytes());
        writer.write_all(&header).ok()?;
        drop(writer);
        pcap::Capture::from_file(format!("/dev/fd/{}", reader.as_raw_fd())).ok()
    })();
    match savefile {
        Some(cap) => cap.compile(expr, true).map_err(|e| filter_error(expr, &e)),
        None => compile_filter(dlt, expr),
    }
}

pub(crate) fn strip_libpcap(s: &str) -> String {
    s.trim_start_matches("libpcap error: ").to_string()
}
