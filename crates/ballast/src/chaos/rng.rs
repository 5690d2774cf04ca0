//! The runner's and the soak's seeded choices: SplitMix64 (`ballast_core::hash`), so the same
//! seed makes the same choices and a run is reproduced with `--seed N`.

pub use ballast_core::hash::SplitMix64 as Rng;
