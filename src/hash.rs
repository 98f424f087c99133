//! Hash tables keyed by what the traffic says: addresses, ports, flow keys, names.
//!
//! Their hasher is seeded at random, per table, so that the keys a sender chooses cannot be made to
//! collide: with a fixed hash (FxHash), an IPv6 source address alone — two 64-bit words, the
//! second chosen to cancel the first — gives any number of flow keys with the same hash, and a
//! flood of 20,000 such SYNs took 2.4 s instead of 0.02 s (every insert probing every earlier
//! one), a full flow table minutes. foldhash's fast variant costs about what FxHash does and is
//! "minimally DoS-resistant": collisions need the seed, which never leaves the process.
//!
//! Nothing svcscope reports depends on a table's order (flows that end together are ordered by
//! their own fields first, and the report sorts what it lists); which entries a full table gives
//! up under a flood may (see the README's Floods section). The catalog's own tables, keyed by
//! the catalog's names and not by traffic, keep FxHash.

/// A randomly seeded hasher (a new seed per table).
pub type Seeded = foldhash::fast::RandomState;

/// A hash map with a randomly seeded hasher.
pub type HashMap<K, V> = std::collections::HashMap<K, V, Seeded>;

/// A hash set with a randomly seeded hasher.
pub type HashSet<K> = std::collections::HashSet<K, Seeded>;
