//! Bounded tables: a hash map with a cap that, when full, forgets its oldest entry, and the share of
//! a process-wide cap each classifier worker gets.
//!
//! Every table that learns from the traffic (fragments awaiting their flow, endpoint-mapper contacts,
//! known servers, announcements) is one of these, so a flood of new entries costs amortised O(1) per
//! insert whatever their timing: keys are kept in insertion order in a queue beside the map, an
//! insert into a full map pops the queue's front, and expiry pops it while its entries are too old.
//! An entry replaced since it was queued gets a second chance instead (the CLOCK scheme): it goes to
//! the back of the queue, once per replacement, so a busy entry is kept while a replacement costs one
//! hash lookup and no queue slot. Removed entries leave their slot behind (a slot is live while its
//! stamp is the entry's); the queue is compacted when it reaches twice the cap, after at least as many
//! inserts as the compaction costs.

use std::collections::VecDeque;
use std::hash::Hash;

use std::collections::hash_map::Entry;

use crate::hash::HashMap;

/// A worker's share of a cap on the whole process: the cap divided among `workers` (rounded down, so
/// the shares never add up to more than the cap), at least 1.
pub fn share(cap: usize, workers: usize) -> usize {
    (cap / workers.max(1)).max(1)
}

/// How many classifier workers share the process-wide caps (1 unless several run).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Workers(pub usize);

impl Default for Workers {
    fn default() -> Self {
        Workers(1)
    }
}

impl Workers {
    /// This worker's share of `cap` (see [`share`]).
    pub fn share(self, cap: usize) -> usize {
        share(cap, self.0)
    }
}

/// A hash map of at most `cap` entries that evicts the least recently inserted one when full.
#[derive(Clone, Debug)]
pub struct BoundedMap<K, V> {
    /// The value, the stamp of its queue slot, and whether it was replaced since it was queued.
    map: HashMap<K, (V, u64, bool)>,
    /// Keys in insertion order with the stamp they were inserted with.
    order: VecDeque<(K, u64)>,
    next: u64,
    cap: usize,
    /// Entries forgotten because the map was full.
    pub evicted: u64,
    /// Queue slots looked at by inserts, expiry and compaction: the work done, for tests.
    pub examined: u64,
}

impl<K: Copy + Eq + Hash, V> BoundedMap<K, V> {
    pub fn new(cap: usize) -> BoundedMap<K, V> {
        BoundedMap {
            map: HashMap::default(),
            order: VecDeque::new(),
            next: 0,
            cap: cap.max(1),
            evicted: 0,
            examined: 0,
        }
    }

    pub fn cap(&self) -> usize {
        self.cap
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn get(&self, k: &K) -> Option<&V> {
        self.map.get(k).map(|(v, _, _)| v)
    }

    /// The value of `k`, to change in place (its place in the eviction order stays).
    pub fn get_mut(&mut self, k: &K) -> Option<&mut V> {
        self.map.get_mut(k).map(|(v, _, _)| v)
    }

    pub fn contains_key(&self, k: &K) -> bool {
        self.map.contains_key(k)
    }

    /// Inserts or replaces an entry. When the map is full, the oldest entry not replaced since it
    /// was queued is forgotten first (counted in `evicted`).
    pub fn insert(&mut self, k: K, v: V) {
        self.insert_evicting(k, v);
    }

    /// [`insert`](Self::insert), returning the entry forgotten to make room (for callers that
    /// account for what their values hold).
    pub fn insert_evicting(&mut self, k: K, v: V) -> Option<V> {
        if let Some(slot) = self.map.get_mut(&k) {
            slot.0 = v;
            slot.2 = true;
            return None;
        }
        let evicted = if self.map.len() >= self.cap {
            self.evict_oldest()
        } else {
            None
        };
        let stamp = self.next;
        self.next += 1;
        self.map.insert(k, (v, stamp, false));
        self.order.push_back((k, stamp));
        if self.order.len() >= 2 * self.cap {
            self.compact();
        }
        evicted
    }

    pub fn remove(&mut self, k: &K) -> Option<V> {
        self.map.remove(k).map(|(v, _, _)| v)
    }

    /// Forgets the oldest entries while `old` says they are expired; stops at the first that is not
    /// and was not replaced since it was queued (entries are in insertion order, so with timestamps
    /// that mostly grow, the rest are younger). One replaced and still young goes to the back.
    pub fn expire(&mut self, mut old: impl FnMut(&V) -> bool) {
        while let Some((k, stamp)) = self.order.pop_front() {
            self.examined += 1;
            if let Entry::Occupied(mut e) = self.map.entry(k) {
                let (v, s, replaced) = e.get_mut();
                if *s == stamp {
                    if old(v) {
                        e.remove();
                    } else if *replaced {
                        *replaced = false;
                        self.order.push_back((k, stamp));
                    } else {
                        self.order.push_front((k, stamp));
                        break;
                    }
                }
            }
        }
    }

    pub fn clear(&mut self) {
        self.map.clear();
        self.order.clear();
    }

    fn evict_oldest(&mut self) -> Option<V> {
        while let Some((k, stamp)) = self.order.pop_front() {
            self.examined += 1;
            if let Entry::Occupied(mut e) = self.map.entry(k) {
                let (_, s, replaced) = e.get_mut();
                if *s == stamp {
                    if *replaced {
                        // A second chance, once per replacement.
                        *replaced = false;
                        self.order.push_back((k, stamp));
                        continue;
                    }
                    let (v, _, _) = e.remove();
                    self.evicted += 1;
                    return Some(v);
                }
            }
        }
        None
    }

    /// Drops the queue slots of entries since removed (this comes after at least `cap` inserts).
    fn compact(&mut self) {
        self.examined += self.order.len() as u64;
        let map = &self.map;
        self.order
            .retain(|(k, stamp)| map.get(k).is_some_and(|(_, s, _)| s == stamp));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_never_add_up_to_more_than_the_cap() {
        for cap in [1usize, 10, 16, 458_752, 65_536, 100_000, 200_000] {
            for workers in 1..=64 {
                let s = share(cap, workers);
                assert!(s >= 1);
                assert!(s * workers <= cap.max(workers), "{cap} {workers}");
            }
        }
        assert_eq!(share(458_752, 16), 28_672);
    }

    #[test]
    fn a_full_map_evicts_the_oldest_in_constant_work_per_insert() {
        let mut m = BoundedMap::new(1000);
        for i in 0..1000u32 {
            m.insert(i, i);
        }
        let before = m.examined;
        for i in 1000..101_000u32 {
            m.insert(i, i);
            assert_eq!(m.len(), 1000);
        }
        assert_eq!(m.evicted, 100_000);
        // The oldest went first: the last 1000 keys are kept.
        assert!(m.get(&100_000).is_some() && m.get(&99_999).is_none());
        let work = m.examined - before;
        assert!(
            work <= 3 * 100_000,
            "{work} slots examined for 100,000 inserts"
        );
    }

    #[test]
    fn refreshed_entries_are_kept_and_stale_slots_cost_nothing_extra() {
        let mut m = BoundedMap::new(100);
        // One key refreshed over and over (a busy server) with others coming and going.
        for i in 0..100_000u32 {
            m.insert(0, i);
            m.insert(1 + i % 500, i);
            assert!(m.order.len() <= 100);
        }
        assert_eq!(m.get(&0), Some(&99_999));
        assert!(m.examined <= 4 * 200_000, "{}", m.examined);
    }

    #[test]
    fn expiry_pops_only_what_it_forgets() {
        let mut m = BoundedMap::new(1_000_000);
        for t in 0..10_000i64 {
            m.insert(t, t);
        }
        let before = m.examined;
        m.expire(|&t| t < 5_000);
        assert_eq!(m.len(), 5_000);
        assert_eq!(m.examined - before, 5_001);
        // Nothing more to forget: one slot looked at.
        m.expire(|&t| t < 5_000);
        assert_eq!(m.examined - before, 5_002);
        assert_eq!(m.evicted, 0);
    }
}
