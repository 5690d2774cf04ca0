//! The simulator's one source of randomness: SplitMix64 (`ballast_core::hash`), seeded. Every
//! draw of a run comes from it, so a seed replays the same run.

pub use ballast_core::hash::SplitMix64 as Rng;

/// The generator of a simulation seed (mixed once, so that nearby seeds start far apart).
pub fn seeded(seed: u64) -> Rng {
    Rng::new(seed ^ 0x9E37_79B9_7F4A_7C15)
}
