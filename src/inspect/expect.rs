//! Expected flows: endpoints a control connection announced (the endpoint mapper's towers, FTP's
//! PORT/PASV, a TFTP request) or that a bind on another connection showed, and what a later flow to
//! them is. Classification consults them when a flow starts (and when a flow that was open before
//! the announcement ends); they are forgotten after the endpoint-mapper window, and when the table
//! is full the oldest goes first (amortised O(1) per announcement whatever their timing: see
//! `bounded`).
//!
//! What is remembered per endpoint is a set: one port often carries several interfaces (a domain
//! controller's LSASS port serves Net Logon, DRSUAPI, LSA and SAM). A flow takes the announcement
//! made to its own client (the endpoint mapper answers the client that asked), else the one thing
//! everybody was told; when the set names several things and none was told to this client, the
//! flow is not labelled from it — never a guess.

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
    /// The DCE/RPC interface the endpoint mapper announced (or a bind showed).
    pub interface: Option<Uuid>,
    /// The client it was announced to; `None` for any client.
    pub client: Option<Addr>,
    pub ts: Ts,
}

/// Distinct announcements remembered per endpoint (the oldest gives way).
pub const MAX_PER_ENDPOINT: usize = 8;

impl Expected {
    /// Whether two announcements name the same thing (whoever announced it).
    fn same_as(&self, o: &Expected) -> bool {
        self.label == o.label && self.interface == o.interface
    }

    /// The evidence a flow labelled by this announcement carries.
    pub fn evidence(&self) -> Evidence {
        Evidence::labelled(
            self.kind,
            self.interface.map_or(Value::None, Value::Interface),
            Some(self.label),
        )
    }
}

/// The announced endpoints, each with the set of what was announced for it.
pub struct Expectations {
    map: BoundedMap<Endpoint, Vec<Expected>>,
}

impl Expectations {
    /// A table of at most `cap` endpoints.
    pub fn new(cap: usize) -> Expectations {
        Expectations {
            map: BoundedMap::new(cap),
        }
    }

    /// Remembers an announcement: it joins the endpoint's set, replacing an older one of the same
    /// thing to the same client.
    pub fn announce(&mut self, at: Endpoint, e: Expected) {
        let mut set = self.map.remove(&at).unwrap_or_default();
        set.retain(|o| !(o.same_as(&e) && o.client == e.client && o.kind == e.kind));
        if set.len() >= MAX_PER_ENDPOINT {
            set.remove(0);
        }
        set.push(e);
        self.map.insert(at, set);
    }

    /// What a flow from `client` to `at` is, within `window` of the announcement: the newest told
    /// to this client, else the newest when every announcement names the same thing.
    pub fn get(&self, at: Endpoint, client: Addr, ts: Ts, window: i64) -> Option<Expected> {
        let live = |e: &&Expected| ts.saturating_sub(e.ts) <= window;
        let set = self.map.get(&at)?;
        if let Some(e) = set.iter().filter(live).rfind(|e| e.client == Some(client)) {
            return Some(*e);
        }
        let newest = set.iter().rfind(live)?;
        set.iter()
            .filter(live)
            .all(|e| e.same_as(newest))
            .then_some(*newest)
    }

    /// The newest announcement for `at` within `window`, whatever it names (to decide sides).
    pub fn any(&self, at: Endpoint, ts: Ts, window: i64) -> Option<Expected> {
        self.map
            .get(&at)?
            .iter()
            .rfind(|e| ts.saturating_sub(e.ts) <= window)
            .copied()
    }

    /// Forgets announcements older than the window (looking only at those, oldest first).
    pub fn expire(&mut self, now: Ts, window: i64) {
        self.map
            .expire(|set| set.iter().all(|e| now.saturating_sub(e.ts) > window));
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
                client: None,
                ts: i64::from(i),
            };
            table.announce(at(i), e);
        }
        assert_eq!(table.len(), cap);
        assert_eq!(table.evicted(), u64::from(n) - cap as u64);
        assert!(table.examined() <= 3 * u64::from(n), "{}", table.examined());
        assert!(table
            .any(at(n - 1), i64::from(n), 600_000_000_000)
            .is_some());
        // Expiry looks only at what it forgets.
        let before = table.examined();
        table.expire(i64::from(n) + 10, 10 + (cap as i64 / 2));
        assert_eq!(table.len(), cap / 2);
        assert!(table.examined() - before <= cap as u64);
    }

    #[test]
    fn an_endpoint_remembers_a_set_and_never_guesses_between_its_members() {
        let c = Catalog::builtin();
        let netlogon = Uuid::parse("12345678-1234-abcd-ef00-01234567cffb").unwrap();
        let drsuapi = Uuid::parse("e3514235-4b06-11d1-ab04-00c04fc2dcd2").unwrap();
        let a = Addr::from_v4([192, 0, 2, 101]);
        let b = Addr::from_v4([192, 0, 2, 102]);
        let other = Addr::from_v4([192, 0, 2, 103]);
        let e = |u: Uuid, client: Option<Addr>, ts: Ts| Expected {
            label: c.interface_label(u, false).unwrap(),
            kind: EvidenceKind::EndpointMapper,
            interface: Some(u),
            client,
            ts,
        };
        let at = (Addr::from_v4([192, 0, 2, 10]), 49_667, proto::TCP);
        let mut t = Expectations::new(16);
        t.announce(at, e(netlogon, Some(a), 10));
        // One thing announced: every client's flow is it.
        assert_eq!(t.get(at, other, 20, 100).unwrap().interface, Some(netlogon));
        t.announce(at, e(drsuapi, Some(b), 30));
        // Each client gets what it was told; a third is told nothing certain.
        assert_eq!(t.get(at, a, 40, 100).unwrap().interface, Some(netlogon));
        assert_eq!(t.get(at, b, 40, 100).unwrap().interface, Some(drsuapi));
        assert!(t.get(at, other, 40, 100).is_none());
        assert!(t.any(at, 40, 100).is_some());
        // Past the window the older one is forgotten: the set is one thing again.
        assert_eq!(t.get(at, other, 115, 100).unwrap().interface, Some(drsuapi));
        t.expire(200, 100);
        assert!(t.is_empty());
        // The set stays within its cap.
        for i in 0..100 {
            t.announce(at, e(netlogon, Some(Addr::from_v4([10, 0, 0, i])), 300));
        }
        assert_eq!(t.map.get(&at).unwrap().len(), MAX_PER_ENDPOINT);
    }
}
