//! Trace time, the ground floor every stage shares: packet timestamps as nanoseconds since the Unix
//! epoch. Timeouts and windows follow trace time, never the wall clock, so a capture file gives the
//! same answer however fast it is read.

use std::time::Duration;

/// Trace time: nanoseconds since the Unix epoch.
pub type Ts = i64;

/// A duration in trace-time nanoseconds (saturating at `i64::MAX`).
pub fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}
