//! Expected flows: endpoints a control connection announced (the endpoint mapper's towers, FTP's
//! PORT/PASV, a TFTP request), and what a later flow to them is. Classification consults them when
//! a flow starts; they are forgotten after the endpoint-mapper window, and when the table is full the
//! oldest goes first (amortised O(1) per announcement whatever their timing: see `bounded`).

use crate::bounded::BoundedMap;
use crate::catalog::{LabelId, Uuid};
use crate::decode::Addr;
use crate::time::Ts;

use super::evidence::{Evidence, EvidenceKind, Value};

/// Announced endpoints remembered, for the whole process.
pub const MAX_EXPECTED: usize = 100_000;

/// A transport endpoint: (address, port, IP protocol).
pub type Endpoint = (Addr, u16, u8);

/// What a flow to an announced endpoint is.
#[derive(Clone, Copy, Debug)]
pub struct Expected {
    pub label: LabelId,
    /// Who announced it: the endpoint mapper, FTP control, a TFTP request.
    pub kind: EvidenceKind,
    /// The DCE/RPC interface the endpoint mapper announced.
    pub interface: Option<Uuid>,
    pub ts: Ts,
}

impl Expected {
    /// The evidence a flow labelled by this announcement carries.
    pub fn evidence(&self) -> Evidence {
        Evidence::labelled(
            self.kind,
            self.interface.map_or(Value::None, Value::Interface),
            Some(self.label),
        )
    }
}

/// The announced endpoints.
pub struct Expectations {
    map: BoundedMap<Endpoint, Expected>,
}

impl Expectations {
    /// A table of at most `cap` endpoints.
    pub fn new(cap: usize) -> Expectations {
        Expectations {
            map: BoundedMap::new(cap),
        }
    }

    /// Remembers an announcement; the newest for an endpoint wins.
    pub fn announce(&mut self, at: Endpoint, e: Expected) {
        self.map.insert(at, e);
    }

    /// What a flow to `at` is, within `window` of the announcement.
    pub fn get(&self, at: Endpoint, ts: Ts, window: i64) -> Option<Expected> {
        self.map
            .get(&at)
            .filter(|e| ts.saturating_sub(e.ts) <= window)
            .copied()
    }

    /// Forgets announcements older than the window (looking only at those, oldest first).
    pub fn expire(&mut self, now: Ts, window: i64) {
        self.map.expire(|e| now.saturating_sub(e.ts) > window);
    }

    /// Announcements forgotten because the table was full.
    pub fn evicted(&self) -> u64 {
        self.map.evicted
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Queue slots looked at so far (the work the cap costs, for tests).
    pub fn examined(&self) -> u64 {
        self.map.examined
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::decode::proto;

    /// Regression: with the announcement table full of announcements younger than a minute, each
    /// new one scanned the whole table, then cleared it.
    #[test]
    fn a_flood_of_announcements_forgets_the_oldest_in_constant_work_each() {
        let label = Catalog::builtin().ftp_data_label().unwrap();
        let cap = MAX_EXPECTED / 100;
        let mut table = Expectations::new(cap);
        let n = 100_000u32;
        let at = |i: u32| {
            (
                Addr::from_v4([203, 0, (i >> 16) as u8, (i >> 8) as u8]),
                i as u16,
                proto::TCP,
            )
        };
        for i in 0..n {
            let e = Expected {
                label,
                kind: EvidenceKind::FtpControl,
                interface: None,
                ts: i64::from(i),
            };
            table.announce(at(i), e);
        }
        assert_eq!(table.len(), cap);
        assert_eq!(table.evicted(), u64::from(n) - cap as u64);
        assert!(table.examined() <= 3 * u64::from(n), "{}", table.examined());
        assert!(table
            .get(at(n - 1), i64::from(n), 600_000_000_000)
            .is_some());
        // Expiry looks only at what it forgets.
        let before = table.examined();
        table.expire(i64::from(n) + 10, 10 + (cap as i64 / 2));
        assert_eq!(table.len(), cap / 2);
        assert!(table.examined() - before <= cap as u64);
    }
}
