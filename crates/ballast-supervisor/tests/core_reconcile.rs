//! `Request::Reconcile` in the supervisor's pure core (issue 14 item 4): judged on the engine's
//! last report — no report yet is "not available", an unknown finding "not found", a choice it
//! does not offer or an empty reason refused — then written as the choice file for the engine,
//! answered once written; a choice already waiting is a conflict; the action is journaled with
//! its actor.
// The driver reads the clock once, for its manual clock's origin.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::time::{Duration, Instant};

use ballast_core::Timestamp;
use ballast_core::domain::Symbol;
use ballast_core::engine::{EngineStatus, ReconcileSummary, VenueReport};
use ballast_core::health::Report;
use ballast_core::reconcile::{Choice, Finding, FindingKind, Seen};
use ballast_store::files::reconcile_choice::WAITING;
use ballast_supervisor::control::Request;
use ballast_supervisor::core::{
    ControlError, CoreConfig, FileWrite, Files, Governor, Input, KillSwitchFiles, Measured, Now,
    Output, SupervisorCore, View,
};
use rust_decimal::Decimal;

const WALL_START_MS: i64 = 1_800_000_000_000;

struct Sim {
    core: SupervisorCore,
    start: Instant,
    /// What every write answers.
    write: Result<String, String>,
    written: Vec<FileWrite>,
}

impl Sim {
    fn new() -> Sim {
        let config = ballast_core::config::load(None, &[]).unwrap();
        let start = Instant::now();
        let now = Now {
            at: start,
            wall: Timestamp::from_unix_ms(WALL_START_MS),
        };
        let governor = Governor::new(ballast_core::policy::PolicyState::new(now.wall), &config);
        let core = SupervisorCore::new(
            CoreConfig {
                services: Vec::new(),
                mode: ballast_core::config::Mode::Paper,
                gated: Vec::new(),
                live_refused: None,
                sweep_every: Duration::from_secs(3600),
                config_file: None,
                supervisor_pid: 1,
                checks: Vec::new(),
                disabled: Default::default(),
                config: Box::new(config.clone()),
                config_hash: "built-in".into(),
            },
            governor,
            now,
        );
        Sim {
            core,
            start,
            write: Ok("state/reconcile-choice.json".into()),
            written: Vec::new(),
        }
    }

    fn now(&self) -> Now {
        Now {
            at: self.start,
            wall: Timestamp::from_unix_ms(WALL_START_MS),
        }
    }

    /// Hand `input` in, play the shell's writes, and return the replies.
    fn input(&mut self, input: Input) -> Vec<Result<View, ControlError>> {
        let now = self.now();
        self.core.handle(now, input);
        let mut replies = Vec::new();
        while let Some(out) = self.core.poll() {
            match out {
                Output::Write { id, file } => {
                    if matches!(file, FileWrite::ReconcileChoice(_)) {
                        self.written.push(file);
                    }
                    let result = self.write.clone();
                    self.core.handle(now, Input::Written { id, result });
                }
                Output::Reply { reply, .. } => replies.push(reply),
                _ => {}
            }
        }
        replies
    }

    fn choose(
        &mut self,
        finding: &str,
        choice: Choice,
        reason: &str,
    ) -> Result<View, ControlError> {
        self.choose_on(finding, choice, reason, None)
    }

    fn choose_on(
        &mut self,
        finding: &str,
        choice: Choice,
        reason: &str,
        seen: Option<Seen>,
    ) -> Result<View, ControlError> {
        let replies = self.input(Input::Control {
            token: 7,
            request: Request::Reconcile {
                finding: finding.into(),
                choice,
                reason: reason.into(),
                by: "cli".into(),
                seen,
            },
            kill_switch: KillSwitchFiles::default(),
        });
        assert_eq!(replies.len(), 1, "{replies:?}");
        replies.into_iter().next().unwrap()
    }

    /// A health cycle with the engine reporting `findings`.
    fn engine_reports(&mut self, findings: Vec<Finding>) {
        let at = self.now().wall;
        let engine = EngineStatus {
            venue: VenueReport {
                broker: "alpaca".into(),
                reconcile: Some(ReconcileSummary {
                    at,
                    startup: true,
                    findings,
                    unanswered: vec![],
                    flattening: Default::default(),
                }),
                ..VenueReport::default()
            },
            ..EngineStatus::default()
        };
        self.input(Input::Measured(Box::new(Measured {
            report: Report::build(Vec::new(), &[], at),
            engine: Some(engine),
            files: Files {
                kill_switch: KillSwitchFiles::default(),
                policy_file: Some((ballast_core::policy::Policy::AllowAll, 0)),
            },
        })));
    }
}

fn mismatch() -> Finding {
    Finding {
        id: "quantity_mismatch:AAPL".into(),
        kind: FindingKind::QuantityMismatch,
        symbol: Symbol::new("AAPL").ok(),
        ours: "Ballast holds 10 AAPL".into(),
        theirs: "the broker holds 15 AAPL".into(),
        local_qty: Some(Decimal::new(10, 0)),
        venue_qty: Some(Decimal::new(15, 0)),
        venue_avg_price: None,
        venue_order: None,
        explaining: vec![],
        client_order_id: None,
        choices: vec![Choice::Adopt, Choice::StayHalted],
    }
}

#[test]
fn a_choice_is_judged_on_the_engines_report_then_written_for_the_engine() {
    let mut sim = Sim::new();
    let e = sim.choose("AAPL", Choice::Adopt, "checked").unwrap_err();
    assert!(matches!(e, ControlError::Unavailable(_)), "{e:?}");
    sim.engine_reports(vec![mismatch()]);
    let e = sim.choose("TSLA", Choice::Adopt, "checked").unwrap_err();
    assert!(
        matches!(&e, ControlError::NotFound(m) if m.contains("quantity_mismatch:AAPL")),
        "{e:?}"
    );
    let e = sim.choose("AAPL", Choice::Flatten, "checked").unwrap_err();
    assert!(
        matches!(&e, ControlError::InvalidState(m) if m.contains("its choices are adopt, stay")),
        "{e:?}"
    );
    let e = sim.choose("AAPL", Choice::Adopt, "  ").unwrap_err();
    assert!(
        matches!(&e, ControlError::InvalidState(m) if m.starts_with("reason:")),
        "{e:?}"
    );
    assert!(sim.written.is_empty(), "nothing written for a refusal");
    let done = sim
        .choose("aapl", Choice::Adopt, " checked the statement ")
        .unwrap();
    let View::Done(said) = done else {
        panic!("{done:?}")
    };
    assert!(
        said.contains(
            "adopt quantity_mismatch:AAPL: the choice is written (state/reconcile-choice.json)"
        ),
        "{said}"
    );
    let [FileWrite::ReconcileChoice(f)] = sim.written.as_slice() else {
        panic!("{:?}", sim.written)
    };
    assert_eq!(f.finding, "quantity_mismatch:AAPL");
    assert_eq!(f.choice, Choice::Adopt);
    assert_eq!(f.by, "cli: checked the statement");
    assert_eq!(
        f.seen,
        Some(Seen::of(&mismatch())),
        "bound to the finding as reported"
    );
    // The shell finds a choice waiting: a conflict, said as the file's writer says it.
    sim.write = Err(format!(
        "{WAITING}: adopt quantity_mismatch:AAPL by cli at …"
    ));
    let e = sim.choose("AAPL", Choice::StayHalted, "again").unwrap_err();
    assert!(
        matches!(&e, ControlError::Conflict(m) if m.contains(WAITING)),
        "{e:?}"
    );
    sim.write = Err("No space left on device".into());
    let e = sim.choose("AAPL", Choice::StayHalted, "again").unwrap_err();
    assert!(
        matches!(&e, ControlError::Failed(m) if m.contains("cannot write the choice stay quantity_mismatch:AAPL")),
        "{e:?}"
    );
    assert_eq!(
        Request::Reconcile {
            finding: "AAPL".into(),
            choice: Choice::Adopt,
            reason: "r".into(),
            by: "cli".into(),
            seen: None,
        }
        .action(),
        Some(("reconcile", Some("AAPL")))
    );
}

#[test]
fn a_choice_made_on_another_quantity_than_the_engine_reports_now_is_a_conflict() {
    let mut sim = Sim::new();
    sim.engine_reports(vec![mismatch()]);
    let then = Seen {
        venue_qty: Some(Decimal::new(3, 0)),
        ..Seen::of(&mismatch())
    };
    let e = sim
        .choose_on("AAPL", Choice::Adopt, "broker has 3", Some(then))
        .unwrap_err();
    assert!(
        matches!(&e, ControlError::Conflict(m) if m.contains("broker now 15 AAPL, the choice was made on 3")),
        "{e:?}"
    );
    assert!(sim.written.is_empty(), "nothing written for a stale choice");
    sim.choose_on(
        "AAPL",
        Choice::Adopt,
        "broker has 15",
        Some(Seen::of(&mismatch())),
    )
    .unwrap();
    let [FileWrite::ReconcileChoice(f)] = sim.written.as_slice() else {
        panic!("{:?}", sim.written)
    };
    assert_eq!(f.seen, Some(Seen::of(&mismatch())));
}
