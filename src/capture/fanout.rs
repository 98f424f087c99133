//! Several capture sockets on one interface (`capture --sockets N`), each with its own capture
//! thread, in one Linux `PACKET_FANOUT` group that splits the traffic between them by address pair.
//!
//! Each socket is an ordinary libpcap handle ([`LiveSource`], same options and filter); the
//! `svcscope-fanout` crate joins its packet socket to the group (the kernel picks a group id no
//! other process uses) and gives the group its classic BPF program: a symmetric hash of the
//! packet's two addresses, so both directions of a flow, all flows between two hosts and all
//! fragments of a datagram reach one socket — the guarantee the classifier workers' sharding by
//! address pair gives with one socket. Not IP: socket 0.
//!
//! Until a socket joins, it receives every packet of the interface, like any libpcap handle; so once
//! all have joined, what they queued before is read and thrown away for [`SETTLE`] (at least twice
//! libpcap's block timeout: a TPACKET_V3 block holding such packets is handed over when it times out),
//! and every counter starts from zero. The capture proper starts with each packet in one socket only.

use std::time::{Duration, Instant};

use svcscope_fanout::Group;

use super::live::{LiveOptions, LiveSource, LIVE_TIMEOUT_MS};
use super::CaptureError;

/// At most this many sockets (each has a capture thread and a kernel buffer).
pub const MAX_SOCKETS: usize = 16;

/// How long after the last socket joins its queued packets are thrown away.
pub const SETTLE: Duration = Duration::from_millis(3 * LIVE_TIMEOUT_MS as u64);

/// Opens `sockets` handles on `opts.interface`, all in one new fanout group, with nothing queued
/// from before the group was complete. Any handle that cannot join is an error naming it: never a
/// silent single socket.
pub fn open_group(opts: &LiveOptions, sockets: usize) -> Result<Vec<LiveSource>, CaptureError> {
    let fail = |message: String| CaptureError {
        input: opts.interface.clone(),
        message,
    };
    if !(2..=MAX_SOCKETS).contains(&sockets) {
        return Err(fail(format!(
            "--sockets {sockets}: from 2 to {MAX_SOCKETS} for a fanout group"
        )));
    }
    let mut sources: Vec<LiveSource> = Vec::with_capacity(sockets);
    let mut group: Option<Group> = None;
    for i in 0..sockets {
        let source = LiveSource::open(opts)?;
        let joined = match group {
            None => Group::create(source.socket()).map(|g| group = Some(g)),
            Some(g) => g.join(source.socket()),
        };
        joined.map_err(|e| {
            fail(format!(
                "socket {} of {sockets} cannot join a PACKET_FANOUT group{}: {e}",
                i + 1,
                group
                    .map(|g| format!(" (id {})", g.id()))
                    .unwrap_or_default()
            ))
        })?;
        sources.push(source);
    }
    let settled = Instant::now() + SETTLE;
    while Instant::now() < settled {
        for s in &mut sources {
            s.discard_queued()?;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    for s in &mut sources {
        s.restart_counters();
    }
    Ok(sources)
}
