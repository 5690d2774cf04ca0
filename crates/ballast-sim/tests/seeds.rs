//! The simulator over a fixed seed set plus a few random seeds (printed, so a failure is
//! reproducible), and `BALLAST_SIM_SEED` / `BALLAST_SIM_SEEDS` to run one seed or many.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use ballast_sim::{Options, Outcome, run, shrink};

/// Seeds every `cargo test` runs (fixed: a regression shows as the same seed failing).
const FIXED_SEEDS: u64 = 32;
/// Random seeds every `cargo test` runs on top, printed in the log.
const RANDOM_SEEDS: u64 = 3;

fn report(o: &Outcome) -> String {
    let small = shrink(o);
    let f = small.failure.as_ref().or(o.failure.as_ref());
    let mut s = format!(
        "seed {} failed at minute {}:\n{}\nreproduce: {}\nminimised trace:\n{}",
        o.seed,
        f.map_or(0, |f| f.minute),
        f.map(|f| f.problems.join("\n")).unwrap_or_default(),
        small.reproduce(),
        small.trace.join("\n")
    );
    s.push_str(&format!("\n(or: BALLAST_SIM_SEED={} cargo test -p ballast-sim --test seeds -- --exact one_seed_from_the_environment)", o.seed));
    s
}

fn check_seed(seed: u64) -> Outcome {
    let o = run(seed, &Options::default());
    assert!(o.failure.is_none(), "{}", report(&o));
    o
}

#[test]
fn a_fixed_set_of_seeds_runs_clean() {
    let mut fills = 0;
    let mut deaths = 0;
    for seed in 0..FIXED_SEEDS {
        let o = check_seed(seed);
        fills += o.figures.fills;
        deaths += o.figures.deaths;
        println!("seed {seed}: {:?}", o.figures);
    }
    // The runs trade and die: a simulator that never gets anywhere proves nothing.
    assert!(fills > 20 * FIXED_SEEDS, "{fills} fills");
    assert!(deaths > FIXED_SEEDS, "{deaths} deaths");
}

#[test]
fn a_few_random_seeds_run_clean() {
    let base = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    for i in 0..RANDOM_SEEDS {
        let seed = base.wrapping_mul(6364136223846793005).wrapping_add(i);
        println!("random seed {seed} (rerun: BALLAST_SIM_SEED={seed})");
        check_seed(seed);
    }
}

#[test]
fn one_seed_from_the_environment() {
    let Ok(seed) = std::env::var("BALLAST_SIM_SEED") else {
        return;
    };
    let seed: u64 = seed
        .trim()
        .parse()
        .expect("BALLAST_SIM_SEED is a whole number");
    let o = check_seed(seed);
    println!("{}", o.trace.join("\n"));
}
