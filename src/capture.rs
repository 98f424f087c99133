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

// ---- live capture ------------------------------------------------------------------------------------

/// Settings of a live capture, as a tcpdump user knows them.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    pub interface: String,
    pub snaplen: i32,
    pub promisc: bool,
    /// Kernel buffer size in bytes (libpcap's default when `None`).
    pub buffer_size: Option<i32>,
    /// Deliver packets as they arrive instead of in kernel batches.
    pub immediate: bool,
    pub filter: Option<String>,
}

/// Counters of a live capture: libpcap's, as of the last read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiveCounters {
    pub received: u64,
    pub dropped: u64,
    pub if_dropped: u64,
}

/// A network interface opened with libpcap.
pub struct LiveSource {
    name: String,
    cap: pcap::Capture<pcap::Active>,
    link: LinkType,
    counters: SourceCounters,
    /// Nanoseconds per unit of the timestamps' sub-second field (1, or 1000 for microseconds).
    ts_scale: i64,
}

/// Read timeout: how often a quiet capture wakes to flush its batch and check for a stop.
pub const LIVE_TIMEOUT_MS: i32 = 100;

impl LiveSource {
    pub fn open(opts: &LiveOptions) -> Result<LiveSource, CaptureError> {
        let name = opts.interface.clone();
        let fail = |message: String| CaptureError {
            input: name.clone(),
            message,
        };
        let devices = pcap::Device::list().unwrap_or_default();
        let Some(device) = devices.into_iter().find(|d| d.name == opts.interface) else {
            let known: Vec<String> = pcap::Device::list()
                .unwrap_or_default()
                .into_iter()
                .map(|d| d.name)
                .collect();
            return Err(fail(format!(
                "no such capture interface; interfaces: {}",
                if known.is_empty() {
                    "(none visible)".to_string()
                } else {
                    known.join(", ")
                }
            )));
        };
        let mut inactive = pcap::Capture::from_device(device)
            .map_err(|e| fail(live_message(&e)))?
            .snaplen(opts.snaplen)
            .promisc(opts.promisc)
            .immediate_mode(opts.immediate)
            .timeout(LIVE_TIMEOUT_MS)
            .precision(pcap::Precision::Nano);
        if let Some(size) = opts.buffer_size {
            inactive = inactive.buffer_size(size);
        }
        let mut ts_scale = 1;
        let cap = match inactive.open() {
            Ok(c) => c,
            // Not every platform offers nanosecond timestamps.
            Err(pcap::Error::PcapError(e)) if e.contains("precision") => {
                ts_scale = 1000;
                pcap::Capture::from_device(opts.interface.as_str())
                    .and_then(|c| {
                        c.snaplen(opts.snaplen)
                            .promisc(opts.promisc)
                            .immediate_mode(opts.immediate)
                            .timeout(LIVE_TIMEOUT_MS)
                            .open()
                    })
                    .map_err(|e| fail(live_message(&e)))?
            }
            Err(e) => return Err(fail(live_message(&e))),
        };
        let dlt = cap.get_datalink();
        let link = LinkType::from_dlt(dlt.0);
        if !link.is_supported() {
            let n = dlt.get_name().unwrap_or_else(|_| format!("DLT {}", dlt.0));
            return Err(fail(format!(
                "unsupported link type {n} ({}); svcscope decodes {SUPPORTED}",
                dlt.0
            )));
        }
        // Non-blocking reads plus poll(2) with our own timeout: libpcap's read timeout does not
        // expire on Linux (TPACKET_V3) while no packet arrives, and a quiet interface must still stop.
        let mut cap = cap.setnonblock().map_err(|e| fail(live_message(&e)))?;
        if let Some(expr) = &opts.filter {
            cap.filter(expr, true).map_err(|e| {
                fail(format!(
                    "invalid filter \"{expr}\": {}",
                    strip_libpcap(&e.to_string())
                ))
            })?;
        }
        Ok(LiveSource {
            name,
            cap,
            link,
            counters: SourceCounters::default(),
            ts_scale,
        })
    }

    /// Reads one packet into `batch`; Ok(false) when the read timeout expired with nothing to read.
    /// The frame is also handed to `also` (the savefile writer) before it is counted.
    pub fn read_one(
        &mut self,
        batch: &mut Batch,
        also: &mut dyn FnMut(&pcap::PacketHeader, &[u8]),
    ) -> Result<bool, CaptureError> {
        match self.cap.next_packet() {
            Ok(p) => {
                let h = *p.header;
                also(&h, p.data);
                self.counters.packets += 1;
                #[allow(clippy::useless_conversion)]
                let ts = i64::from(h.ts.tv_sec)
                    .saturating_mul(1_000_000_000)
                    .saturating_add(i64::from(h.ts.tv_usec) * self.ts_scale);
                batch.push(ts, h.len, p.data);
                Ok(true)
            }
            Err(pcap::Error::TimeoutExpired) => {
                use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
                use std::os::fd::AsFd;
                let mut fds = [PollFd::new(self.cap.as_fd(), PollFlags::POLLIN)];
                match poll(&mut fds, PollTimeout::from(LIVE_TIMEOUT_MS as u16)) {
                    Ok(_) | Err(nix::errno::Errno::EINTR) => Ok(false),
                    Err(e) => Err(CaptureError {
                        input: self.name.clone(),
                        message: format!("capture stopped: waiting for packets failed: {e}"),
                    }),
                }
            }
            Err(e) => Err(CaptureError {
                input: self.name.clone(),
                message: format!("capture stopped: {}", strip_libpcap(&e.to_string())),
            }),
        }
    }

    pub fn live_counters(&mut self) -> LiveCounters {
        match self.cap.stats() {
            Ok(s) => LiveCounters {
                received: u64::from(s.received),
                dropped: u64::from(s.dropped),
                if_dropped: u64::from(s.if_dropped),
            },
            Err(_) => LiveCounters::default(),
        }
    }

    pub fn link_type(&self) -> LinkType {
        self.link
    }

    pub fn datalink(&self) -> pcap::Linktype {
        self.cap.get_datalink()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn counters(&self) -> SourceCounters {
        self.counters.clone()
    }

    /// A handle with this capture's link type and timestamp precision, for writing savefiles.
    pub fn dead_capture(&self) -> Result<pcap::Capture<pcap::Dead>, CaptureError> {
        let precision = if self.ts_scale == 1 {
            pcap::Precision::Nano
        } else {
            pcap::Precision::Micro
        };
        pcap::Capture::dead_with_precision(self.cap.get_datalink(), precision).map_err(|e| {
            CaptureError {
                input: self.name.clone(),
                message: format!(
                    "cannot prepare a capture file: {}",
                    strip_libpcap(&e.to_string())
                ),
            }
        })
    }
}

fn live_message(e: &pcap::Error) -> String {
    let text = strip_libpcap(&e.to_string());
    if text.contains("ermission") || text.contains("not permitted") {
        format!(
            "{text}: capturing needs root, or the CAP_NET_RAW and CAP_NET_ADMIN capabilities \
             (e.g. sudo setcap cap_net_raw,cap_net_admin=eip $(command -v svcscope))"
        )
    } else if text.contains("No such device") || text.contains("doesn't exist") {
        format!("{text}: no such interface (svcscope interfaces lists them)")
    } else if text.contains("is not up") || text.contains("went down") {
        format!("{text}: the interface is down")
    } else {
        text
    }
}

/// One capture device as `svcscope interfaces` lists it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct InterfaceInfo {
    pub name: String,
    pub description: Option<String>,
    pub addresses: Vec<String>,
    pub up: bool,
    pub running: bool,
    pub loopback: bool,
    pub wireless: bool,
}

/// The capture devices libpcap sees.
pub fn interfaces() -> Result<Vec<InterfaceInfo>, String> {
    let devices = pcap::Device::list().map_err(|e| live_message(&e))?;
    Ok(devices
        .into_iter()
        .map(|d| InterfaceInfo {
            addresses: d.addresses.iter().map(|a| a.addr.to_string()).collect(),
            up: d.flags.is_up(),
            running: d.flags.is_running(),
            loopback: d.flags.is_loopback(),
            wireless: d.flags.is_wireless(),
            description: d.desc,
            name: d.name,
        })
        .collect())
}

/// Drops root after the capture is open, so that packet parsing never runs as root (like tcpdump -Z).
/// `user`: the account to become; `None` picks "nobody" when running as root and it exists. "root"
/// keeps root. Returns the account dropped to, if any.
pub fn drop_privileges(user: Option<&str>) -> Result<Option<String>, String> {
    use nix::unistd::{geteuid, setgid, setgroups, setuid, User};
    if !geteuid().is_root() {
        return Ok(None);
    }
    let name = match user {
        Some("root") => return Ok(None),
        Some(u) => u.to_string(),
        None => match User::from_name("nobody") {
            Ok(Some(_)) => "nobody".to_string(),
            _ => return Ok(None),
        },
    };
    let account = User::from_name(&name)
        .map_err(|e| format!("cannot look up user {name}: {e}"))?
        .ok_or_else(|| format!("no such user: {name}"))?;
    setgroups(&[account.gid]).map_err(|e| format!("cannot drop supplementary groups: {e}"))?;
    setgid(account.gid).map_err(|e| format!("cannot switch to group of {name}: {e}"))?;
    setuid(account.uid).map_err(|e| format!("cannot switch to user {name}: {e}"))?;
    if setuid(nix::unistd::Uid::from_raw(0)).is_ok() {
        return Err(format!("dropping root to {name} did not stick"));
    }
    Ok(Some(name))
}
