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

fn check_plan(seed: u64, minutes: usize, plan: &str) {
    let plan = ballast_sim::plan::Plan::parse(plan).unwrap();
    let o = run(
        seed,
        &Options {
            minutes,
            plan: Some(plan),
        },
    );
    assert!(o.failure.is_none(), "{}", report(&o));
}

/// Found by the 10,000-seed run: a second disk fault still armed made the restart's
/// recovery fail (its quarantine copy hit ENOSPC / EIO). The simulator took that for a
/// failure; the engine simply cannot start until the disk is back, and the supervisor starts
/// it again.
#[test]
fn regression_a_recovery_on_a_disk_still_failing_waits_for_the_disk() {
    check_plan(
        541,
        311,
        "76:disk.105,214:crash.4,257:crash.4,307:disk.7,310:disk.100",
    );
    check_plan(2062, 46, "22:stale.21,41:disk.305,42:disk.5");
}

/// Found by the 10,000-seed run (seeds 603, 2295): after an fsync failed, the restart's
/// recovery replays the record whose sync failed (it is in the file, not on the disk) and the
/// engine acts on it; a power cut before the next successful sync loses it — the engine acted
/// on a record that was never durable (an intent replayed this way could be sent and then
/// lost). The fix belongs in `ballast-store`'s journal open: sync what is replayed before the
/// engine acts on it. Not fixed yet.
#[test]
#[ignore = "open bug: a record whose fsync failed is replayed at recovery as if durable"]
fn regression_a_record_whose_fsync_failed_is_not_acted_on_before_it_is_durable() {
    check_plan(603, 38, "8:disk.102,34:disk.5,34:disk.304");
}

/// Found by the 10,000-seed run (seed 3283): `ballast kill --flatten` twice with no bar in
/// between (a stalled feed) gives both flatten orders the same id `bl-ks-<bars>-1`: the venue
/// would take the second for the first. Fixed: the kill switch's and the policy's closing
/// orders count on from `Controls::closing_orders`, kept in the snapshot.
#[test]
fn regression_two_flattens_without_a_bar_between_use_two_order_ids() {
    check_plan(3283, 168, "150:stale.28,154:kill.1,160:resume,167:kill.1");
}
