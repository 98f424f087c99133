//! Hash tables keyed by what the traffic says: addresses, ports, flow keys, names.
//!
//! Their hasher is seeded at random, per table, so that the keys a sender chooses cannot be made to
//! collide: with a fixed hash (FxHash), an IPv6 source address alone — two 64-bit words, the
//! second chosen to cancel the first — gives any number of flow keys with the same hash, and a
//! flood of 100,000 such SYNs took 137 s instead of 0.1 s (every insert probing every earlier one).
//! The hash is foldhash's fast variant, which costs about what FxHash does; its seeds come from the
//! operating system's random numbers (through the standard library's `RandomState`, which draws
//! its keys from them), not from foldhash's own guess at entropy (address-space layout and the
//! clock), and never leave the process.
//!
//! Nothing svcscope reports depends on a table's order (flows that end together are ordered by
//! their own fields first, and the report sorts what it lists); which entries a full table gives
//! up under a flood may (see the README's Floods section). The catalog's own tables, keyed by
//! the catalog's names and not by traffic, keep FxHash.

use std::hash::BuildHasher;
use std::sync::OnceLock;

use foldhash::fast::{FoldHasher, SeedableRandomState};
use foldhash::SharedSeed;

/// A hasher seeded at random for each table.
#[derive(Clone, Debug)]
pub struct Seeded(SeedableRandomState);

impl Default for Seeded {
    fn default() -> Seeded {
        static SHARED: OnceLock<SharedSeed> = OnceLock::new();
        let shared = SHARED.get_or_init(|| SharedSeed::from_u64(os_random()));
        Seeded(SeedableRandomState::with_seed(os_random(), shared))
    }
}

impl BuildHasher for Seeded {
    type Hasher = FoldHasher<'static>;

    #[inline(always)]
    fn build_hasher(&self) -> FoldHasher<'static> {
        self.0.build_hasher()
    }
}

/// 64 random bits from the operating system: each `std::hash::RandomState` holds SipHash keys
/// drawn from the system's random numbers (and a new one differs from the last), so what it makes
/// of a constant is as unpredictable as its keys.
fn os_random() -> u64 {
    std::collections::hash_map::RandomState::new().hash_one(0x7376_6373_636f_7065u64)
}

/// A hash map with a randomly seeded hasher.
pub type HashMap<K, V> = std::collections::HashMap<K, V, Seeded>;

/// A hash set with a randomly seeded hasher.
pub type HashSet<K> = std::collections::HashSet<K, Seeded>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_gets_a_seed_of_its_own() {
        let (a, b) = (Seeded::default(), Seeded::default());
        let key = (1u64, 2u16);
        assert_eq!(a.hash_one(key), a.hash_one(key));
        assert_ne!(a.hash_one(key), b.hash_one(key));
    }
}
