//! Live capture on a network interface through libpcap.

use super::savefile::SaveFormat;
use super::{strip_libpcap, Batch, CaptureError, SourceCounters, SUPPORTED};
use crate::decode::LinkType;
use crate::time::Ts;

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
    /// libpcap's last raw counters and the widened totals (see `live_counters`).
    last_raw: [u32; 3],
    totals: [u64; 3],
    /// Nanoseconds per unit of the timestamps' sub-second field (1, or 1000 for microseconds).
    ts_scale: i64,
    snaplen: i32,
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
        // Not every platform offers nanosecond timestamps, and an unsupported precision does not make
        // opening fail: libpcap keeps microseconds, and the pcap crate neither reports the refusal
        // nor exposes pcap_get_tstamp_precision. So ask for nanoseconds only where libpcap always
        // offers them (Linux) and for microseconds elsewhere, and know which one we got.
        let (precision, ts_scale) = if cfg!(target_os = "linux") {
            (pcap::Precision::Nano, 1)
        } else {
            (pcap::Precision::Micro, 1000)
        };
        let mut inactive = pcap::Capture::from_device(device)
            .map_err(|e| fail(live_message(&e)))?
            .snaplen(opts.snaplen)
            .promisc(opts.promisc)
            .immediate_mode(opts.immediate)
            .timeout(LIVE_TIMEOUT_MS)
            .precision(precision);
        if let Some(size) = opts.buffer_size {
            inactive = inactive.buffer_size(size);
        }
        let cap = inactive.open().map_err(|e| fail(live_message(&e)))?;
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
            snaplen: opts.snaplen,
            last_raw: [0; 3],
            totals: [0; 3],
        })
    }

    /// Reads one packet into `batch`; Ok(false) when the read timeout expired with nothing to read.
    /// The frame is first handed to `also` (the savefile writer, or the shared `--count` of several
    /// sockets: time, length on the wire, frame); if it answers false the packet is left out
    /// (neither counted nor added).
    pub fn read_one(
        &mut self,
        batch: &mut Batch,
        also: &mut dyn FnMut(Ts, u32, &[u8]) -> bool,
    ) -> Result<bool, CaptureError> {
        match self.cap.next_packet() {
            Ok(p) => {
                let h = *p.header;
                #[allow(clippy::useless_conversion)]
                let ts = i64::from(h.ts.tv_sec)
                    .saturating_mul(1_000_000_000)
                    .saturating_add(i64::from(h.ts.tv_usec) * self.ts_scale);
                if also(ts, h.len, p.data) {
                    self.counters.packets += 1;
                    batch.push(ts, h.len, p.data);
                }
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

    /// libpcap's counters, widened to 64 bits: libpcap's are 32-bit and wrap after 2^32 packets, so
    /// the differences between reads are accumulated.
    pub fn live_counters(&mut self) -> LiveCounters {
        if let Ok(s) = self.cap.stats() {
            let now = [s.received, s.dropped, s.if_dropped];
            for ((total, now), last) in self.totals.iter_mut().zip(now).zip(self.last_raw) {
                *total += u64::from(now.wrapping_sub(last));
            }
            self.last_raw = now;
        }
        LiveCounters {
            received: self.totals[0],
            dropped: self.totals[1],
            if_dropped: self.totals[2],
        }
    }

    pub fn link_type(&self) -> LinkType {
        self.link
    }

    /// The packet socket under the handle (for PACKET_FANOUT).
    pub(super) fn socket(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.cap.as_fd()
    }

    /// Reads and throws away every packet queued now; returns how many.
    pub(super) fn discard_queued(&mut self) -> Result<u64, CaptureError> {
        let mut discarded = 0;
        loop {
            match self.cap.next_packet() {
                Ok(_) => discarded += 1,
                Err(pcap::Error::TimeoutExpired) => return Ok(discarded),
                Err(e) => {
                    return Err(CaptureError {
                        input: self.name.clone(),
                        message: format!("capture stopped: {}", strip_libpcap(&e.to_string())),
                    })
                }
            }
        }
    }

    /// Starts the counters (libpcap's and the packets read) from zero now.
    pub(super) fn restart_counters(&mut self) {
        self.live_counters();
        self.totals = [0; 3];
        self.counters = SourceCounters::default();
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn counters(&self) -> SourceCounters {
        self.counters.clone()
    }

    /// The header of savefiles of this capture: its link type, snapshot length and timestamp
    /// precision.
    pub fn save_format(&self) -> SaveFormat {
        SaveFormat {
            // A file records the LINKTYPE value, not the platform's DLT value.
            dlt: super::dlt_to_linktype(self.cap.get_datalink().0),
            snaplen: u32::try_from(self.snaplen).unwrap_or(262_144).max(1),
            nanos: self.ts_scale == 1,
        }
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
