//! Test support shared by the unit tests and `tests/properties.rs` (which includes this file).

/// Property-test settings: reproducible by default, a random search on request.
///
/// `cargo test` (and so CI) runs every property with a fixed seed, so a run fails only where the
/// code changed, and replays the cases committed under `proptest-regressions/` first.
/// `SVCSCOPE_PROPTEST_SEARCH=1` (what `scripts/search` sets) draws a new random seed and runs
/// `PROPTEST_CASES` cases (default: 64 times `cases`); the failures it finds are saved to
/// `proptest-regressions/` for committing.
pub fn proptest_config(cases: u32) -> proptest::prelude::ProptestConfig {
    use proptest::test_runner::RngSeed;
    let search = std::env::var_os("SVCSCOPE_PROPTEST_SEARCH").is_some_and(|v| v != "0");
    let base = proptest::prelude::ProptestConfig::default();
    if search {
        let cases = std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(cases.saturating_mul(64));
        proptest::prelude::ProptestConfig {
            cases,
            rng_seed: RngSeed::Random,
            ..base
        }
    } else {
        proptest::prelude::ProptestConfig {
            cases,
            rng_seed: RngSeed::Fixed(FIXED_SEED),
            ..base
        }
    }
}

/// The seed of the reproducible runs.
pub const FIXED_SEED: u64 = 0x5356_4353_434f_5045; // "SVCSCOPE"
