//! The simulator's checks can fail: each breaks what one of them watches, mid-run, and
//! expects the problem in words.

use ballast_core::time::Timestamp;

use crate::market::{self, DAY_START_MS};
use crate::minute::{self, Outside};
use crate::plan::Fault;
use crate::world::{Down, World};
use crate::{Failure, Options, Outcome, plan::Plan, run, shrink, shrink_by, sim_config};

/// A world run for `minutes` minutes without faults, with its outside.
fn world(minutes: usize) -> (World, Outside, Vec<Vec<ballast_core::market::Bar>>) {
    let bars = market::day(1, 390);
    let start = Timestamp::from_unix_ms(DAY_START_MS);
    let mut w = World::new(sim_config(), 1, start);
    let mut o = Outside::new(start);
    for m in 0..minutes {
        step(&mut w, &mut o, &bars, m, &[]);
    }
    assert!(w.problems.is_empty(), "{:?}", w.problems);
    (w, o, bars)
}

fn step(
    w: &mut World,
    o: &mut Outside,
    bars: &[Vec<ballast_core::market::Bar>],
    m: usize,
    faults: &[Fault],
) {
    let now = Timestamp::from_unix_ms(DAY_START_MS + m as i64 * 60_000);
    let killed = w.state.controls.kill_switch.is_some();
    let shutdown = w.state.policy() == ballast_core::policy::Policy::EmergencyShutdown;
    minute::minute(w, o, m, now, &bars[m], faults);
    minute::check(w, o, killed, shutdown);
}

#[test]
fn a_state_the_journal_does_not_explain_fails_the_minute() {
    let (mut w, mut o, bars) = world(60);
    assert!(w.state.stats.fills > 0, "the first hour trades");
    w.state.portfolio.cash += rust_decimal::Decimal::ONE;
    step(&mut w, &mut o, &bars, 60, &[]);
    let all = w.problems.join("\n");
    assert!(all.contains("cash_is_fills"), "{all}");
}

#[test]
fn an_acknowledged_record_the_disk_lost_fails_the_restart() {
    let (mut w, mut o, bars) = world(30);
    let acked = w.checker.last_seq();
    // The disk drops the journal's last record although it was synced (a lying disk): its
    // last byte is flipped, so recovery cuts it as a torn tail.
    let dir = w.layout.engine_journal();
    let last = ballast_store::Storage::list(&w.storage, &dir)
        .unwrap()
        .into_iter()
        .max()
        .unwrap();
    let path = dir.join(last);
    let len = w.storage.fs().content(&path).unwrap().len();
    assert!(w.storage.corrupt(&path, len - 2, b'#'));
    w.journal = None;
    o.down = Some(Down::Stopped);
    step(&mut w, &mut o, &bars, 30, &[]);
    let all = w.problems.join("\n");
    assert!(
        all.contains(&format!("but seq {acked} was acknowledged")),
        "{all}"
    );
}

#[test]
fn a_kill_switch_released_without_an_operator_fails_the_minute() {
    let (mut w, mut o, bars) = world(10);
    step(&mut w, &mut o, &bars, 10, &[Fault::Kill { flatten: false }]);
    assert!(w.state.controls.kill_switch.is_some());
    assert!(w.problems.is_empty(), "{:?}", w.problems);
    // The engine's state forgets the engagement (what a bug in its apply would do).
    w.state.controls.kill_switch = None;
    minute::check(&mut w, &mut o, true, false);
    let all = w.problems.join("\n");
    assert!(
        all.contains("released with no operator's `ballast resume`"),
        "{all}"
    );
    // Released by `ballast resume`: no problem.
    let (mut w, mut o, bars) = world(10);
    step(&mut w, &mut o, &bars, 10, &[Fault::Kill { flatten: true }]);
    step(&mut w, &mut o, &bars, 11, &[Fault::Resume]);
    assert!(w.state.controls.kill_switch.is_none());
    assert!(w.problems.is_empty(), "{:?}", w.problems);
}

#[test]
fn a_run_is_the_same_run_twice_and_a_failure_shrinks_to_what_causes_it() {
    let a = run(7, &Options::default());
    let b = run(7, &Options::default());
    assert_eq!(a.figures, b.figures);
    assert_eq!(a.trace, b.trace);
    // A plan that cannot pass: its reproduction runs it again; shrinking keeps what fails.
    let plan = Plan::parse("3:reject,5:stale.2,9:lost.1").unwrap();
    let o = run(
        7,
        &Options {
            minutes: 20,
            plan: Some(plan.clone()),
        },
    );
    assert!(o.failure.is_none());
    assert_eq!(
        shrink(&o).plan,
        plan,
        "a run that does not fail is not shrunk"
    );
    assert!(
        o.reproduce()
            .starts_with("ballast sim --seed 7 --minutes 20 --plan 3:reject,5:stale.2,9:lost.1")
    );
}

#[test]
fn shrinking_keeps_only_the_faults_and_minutes_that_fail() {
    // A stand-in for a bug: a run fails at the minute of its first reject at minute 5 or later,
    // if a crash came before it.
    let mut fake = |seed: u64, opts: &Options| {
        let plan = opts.plan.clone().unwrap_or_default();
        let crash = plan
            .faults
            .iter()
            .position(|p| matches!(p.fault, Fault::Crash { .. }));
        let reject = plan.faults.iter().position(|p| {
            p.fault == Fault::Reject && p.minute >= 5 && usize::from(p.minute) < opts.minutes
        });
        let failure = match (crash, reject) {
            (Some(c), Some(r)) if c < r => Some(Failure {
                minute: usize::from(plan.faults[r].minute),
                problems: vec!["bug".into()],
            }),
            _ => None,
        };
        Outcome {
            seed,
            minutes: opts.minutes,
            plan,
            failure,
            figures: Default::default(),
            trace: Vec::new(),
        }
    };
    let plan =
        Plan::parse("1:lost.1,2:crash.3,4:reject,6:stale.3,8:reject,9:kill.0,30:resume").unwrap();
    let failed = fake(
        9,
        &Options {
            minutes: 390,
            plan: Some(plan),
        },
    );
    assert_eq!(failed.failure.as_ref().unwrap().minute, 8);
    let small = shrink_by(&failed, &mut fake);
    assert_eq!(small.plan.to_string(), "2:crash.3,8:reject");
    assert_eq!(small.minutes, 9);
    assert_eq!(
        small.reproduce(),
        "ballast sim --seed 9 --minutes 9 --plan 2:crash.3,8:reject"
    );
}
