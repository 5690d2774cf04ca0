//! One minute of the simulated day, in the order the real system runs it: the faults of the
//! minute arrive; the supervisor's health and policy cores evaluate; a dead engine is
//! restarted; the feed gives the minute's bars; the engine's pass (kill switch, policy,
//! expiry, trim, decisions, lookups, sends) runs against the faulty venue; a snapshot now and
//! then. Then every invariant is checked.

use std::collections::VecDeque;

use ballast_core::engine::kill_switch::{self, ReleaseToken, Step};
use ballast_core::engine::{
    EngineRecord, Inputs, Next, PolicyChange, SendOutcome, SentRecord, SettleRecord,
};
use ballast_core::health::{self, Status, Subsystem, SubsystemHealth};
use ballast_core::market::Bar;
use ballast_core::policy::{self, Policy, PolicyState, Protections};
use ballast_core::supervisor::{
    Action, ControlRequest, Exit, RestartPolicy, RestartRules, Service, ServiceState, plan_control,
};
use ballast_core::{Clock, Timestamp};
use ballast_store::sim::{EIO, ENOSPC, Fault as StoreFault, FaultOp};
use rust_decimal::Decimal;

use crate::plan::{DiskFault, Fault};
use crate::world::{Down, World};

/// A fault waiting for the venue's next call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VenueFault {
    Lost { received: bool },
    Reject,
    RateLimited,
    Schema { received: bool, minutes: u8 },
}

/// The feed is healthy while its last bar is younger than this, degraded below the second.
const FEED_HEALTHY_MS: i64 = 3 * 60_000;
const FEED_DEGRADED_MS: i64 = 30 * 60_000;
/// The policy steps down after its condition is clear this long.
const HYSTERESIS_MS: i64 = 5 * 60_000;
/// The journal identity the supervisor's policy file names.
const JOURNAL_ID: &str = "sim";

/// Everything outside the engine: the supervisor's policy, the operator's files, the venue's
/// pending faults, the feed.
pub struct Outside {
    pub policy: PolicyState,
    pub issues: Vec<health::Issue>,
    pub kill_request: Option<(String, bool)>,
    pub release: kill_switch::Release,
    venue: VecDeque<VenueFault>,
    pub refusal_until: usize,
    pub stale_until: usize,
    pub last_bar: Option<Timestamp>,
    pub storage_failed: bool,
    pub clock_offset_ms: i64,
    /// An operator resumed since the kill switch / EMERGENCY_SHUTDOWN was last seen.
    pub kill_resumed: bool,
    pub policy_resumed: bool,
    pub down: Option<Down>,
    /// The engine as the supervisor's restart core sees it, and the minute it restarts.
    pub service: Service,
    pub restart_at: usize,
}

/// The engine service's restart rules (SPEC §6 defaults: 1 s doubling to 60 s, 5 unrequested
/// exits in 10 minutes trip the budget).
fn restart_rules() -> RestartRules {
    RestartRules {
        policy: RestartPolicy::Always,
        initial_delay_ms: 1_000,
        max_delay_ms: 60_000,
        jitter_pct: 10,
        stable_after_ms: 60_000,
        max_restarts: 5,
        restart_window_ms: 600_000,
        seed: 1,
    }
}

impl Outside {
    pub fn new(now: Timestamp) -> Outside {
        let mut policy = PolicyState::new(now);
        policy.journal = Some(JOURNAL_ID.into());
        Outside {
            policy,
            issues: Vec::new(),
            kill_request: None,
            release: kill_switch::Release::None,
            venue: VecDeque::new(),
            refusal_until: 0,
            stale_until: 0,
            last_bar: None,
            storage_failed: false,
            clock_offset_ms: 0,
            kill_resumed: false,
            policy_resumed: false,
            down: Some(Down::Stopped),
            service: Service::default(),
            restart_at: 0,
        }
    }
}

/// Run minute `m` with its `faults` and `bars`.
pub fn minute(
    w: &mut World,
    o: &mut Outside,
    m: usize,
    now: Timestamp,
    bars: &[Bar],
    faults: &[Fault],
) {
    w.clock
        .set(Timestamp::from_unix_ms(now.unix_ms() + o.clock_offset_ms));
    for f in faults {
        w.say(format!("minute {m}: {f}"));
        inject(w, o, m, now, *f);
    }
    supervise(w, o, now);
    let result = run_engine(w, o, m, bars);
    if let Err(down) = result {
        match &down {
            Down::Storage(e) => {
                w.say(format!("  engine stopped on a storage failure: {e}"));
                o.storage_failed = true;
            }
            Down::Bug(e) => w.problems.push(e.clone()),
            Down::Crash => w.say("  engine killed".into()),
            Down::Stopped => {}
        }
        w.figures.deaths += 1;
        w.journal = None;
        died(w, o, m, now, &down);
        o.down = Some(down);
    }
}

/// The supervisor's restart core decides what a death means: a restart after its delay, or
/// FAILED (the budget is spent) until an operator resets it.
fn died(w: &mut World, o: &mut Outside, m: usize, now: Timestamp, down: &Down) {
    let exit = Exit {
        code: if matches!(down, Down::Crash) {
            None
        } else {
            Some(1)
        },
        signal: matches!(down, Down::Crash).then_some(9),
        requested: false,
        liveness_kill: false,
    };
    match o.service.exited(exit, now, &restart_rules()) {
        Action::Restart { after_ms } => {
            o.restart_at = m + 1 + (after_ms / 60_000) as usize;
            o.service.backoff_over();
        }
        Action::StayDown { state, reason } => {
            w.say(format!(
                "  supervisor: the engine is {} ({reason})",
                state.as_str()
            ));
            o.restart_at = usize::MAX;
        }
    }
}

fn run_engine(w: &mut World, o: &mut Outside, m: usize, bars: &[Bar]) -> Result<(), Down> {
    if o.down.is_some() && m < o.restart_at {
        return Ok(());
    }
    if let Some(down) = o.down.take() {
        o.service.started(w.clock.now());
        w.start(Some(&down))?;
        o.service.ready();
        // The supervisor saw the journal back (a clean start on the disk).
        o.storage_failed = false;
    }
    if m >= o.stale_until {
        for bar in bars {
            let r = w.state.bar_record(*bar);
            w.commit(EngineRecord::Bar(r))?;
            o.last_bar = Some(bar.ts);
        }
    }
    pass(w, o, m)?;
    w.snapshot_if_due()
}

fn inject(w: &mut World, o: &mut Outside, m: usize, now: Timestamp, f: Fault) {
    match f {
        Fault::Crash { after } => w.crash_after = Some(after),
        Fault::Restart => {
            if o.down.is_none() {
                w.journal = None;
                o.down = Some(Down::Stopped);
                w.figures.restarts += 1;
                let exit = Exit {
                    code: Some(0),
                    signal: None,
                    requested: true,
                    liveness_kill: false,
                };
                let _ = o.service.exited(exit, now, &restart_rules());
                o.restart_at = m;
            }
        }
        Fault::LostReply { received } => o.venue.push_back(VenueFault::Lost { received }),
        Fault::Reject => o.venue.push_back(VenueFault::Reject),
        Fault::RateLimited => o.venue.push_back(VenueFault::RateLimited),
        Fault::SchemaDrift { received, minutes } => {
            o.venue.push_back(VenueFault::Schema { received, minutes })
        }
        Fault::Disk { kind, skip } => {
            let (op, errno, partial_write) = match kind {
                DiskFault::FullTorn => (FaultOp::Write, ENOSPC, true),
                DiskFault::Full => (FaultOp::Write, ENOSPC, false),
                DiskFault::Eio => (FaultOp::Write, EIO, false),
                DiskFault::Fsync => (FaultOp::Sync, EIO, false),
            };
            w.storage.inject(StoreFault {
                op,
                skip: usize::from(skip),
                errno,
                path_contains: None,
                partial_write,
            });
            w.figures.disk_faults += 1;
        }
        Fault::ClockJump { secs } => o.clock_offset_ms += i64::from(secs) * 1_000,
        Fault::StaleFeed { minutes } => o.stale_until = o.stale_until.max(m + usize::from(minutes)),
        Fault::Kill { flatten } => {
            o.kill_request = Some(("simulated operator: kill".into(), flatten));
            w.figures.kills += 1;
        }
        Fault::Resume => resume(w, o, m, now),
    }
}

/// `ballast resume`: the kill switch's release token (for the engagement in force), then the
/// policy's release (refused while a reason to halt remains).
fn resume(w: &mut World, o: &mut Outside, m: usize, now: Timestamp) {
    w.figures.resumes += 1;
    if o.service.state == ServiceState::Failed {
        let plan = plan_control(ControlRequest::Reset, "engine", o.service.state);
        if o.service.make_startable(&plan) {
            w.say("  `ballast reset engine`: the supervisor starts it again".into());
            o.restart_at = m;
        }
    }
    let engaged = w
        .state
        .controls
        .kill_switch
        .as_ref()
        .map(|k| k.reason.clone());
    if engaged.is_some() || o.kill_request.is_some() {
        o.kill_request = None;
        o.release = kill_switch::Release::Token(ReleaseToken {
            released_at: now,
            by: "ballast resume".into(),
            engaged_reason: engaged,
        });
        o.kill_resumed = true;
    }
    let report = health_report(o, now);
    let input = policy::Input {
        kill_switch: false,
        report: &report,
        account: None,
    };
    match policy::release(&mut o.policy, &input, Ok(()), now) {
        Ok(t) => {
            o.policy_resumed = true;
            if let Some(t) = t {
                w.say(format!(
                    "  policy released: {} -> {}",
                    t.from.as_str(),
                    t.to.as_str()
                ));
            }
        }
        Err(why) => w.say(format!("  policy release refused: {why}")),
    }
}

fn protections() -> Protections {
    Protections {
        max_drawdown_pct: Decimal::from(100),
        daily_loss_limit_pct: Decimal::from(100),
        stop_loss_streak: 0,
        stop_loss_cooldown_ms: 0,
    }
}

fn subsystem(name: &str, status: Status, detail: String, now: Timestamp) -> SubsystemHealth {
    let s = Subsystem {
        name: name.into(),
        critical: true,
        impacts_trading: true,
        depends_on: Vec::new(),
        interval_ms: 60_000,
    };
    let check = health::CheckResult {
        name: name.into(),
        status,
        latency_us: 0,
        detail,
        root_cause: None,
        failure: None,
    };
    SubsystemHealth::new(s, vec![check], now)
}

fn health_report(o: &Outside, now: Timestamp) -> health::Report {
    let age = o.last_bar.map(|t| now.ms_since(t));
    let feed = health::staleness(age, FEED_HEALTHY_MS, FEED_DEGRADED_MS);
    let journal = if o.storage_failed {
        Status::Failed
    } else {
        Status::Healthy
    };
    let engine = if o.service.state == ServiceState::Failed {
        Status::Failed
    } else {
        Status::Healthy
    };
    let feed_said = age.map_or("no bar yet".to_owned(), |ms| {
        format!("last bar {} s ago", ms / 1_000)
    });
    let subs = vec![
        subsystem("data_feed", feed, feed_said, now),
        subsystem("state_journal", journal, "journal appends".into(), now),
        subsystem(
            "engine",
            engine,
            format!("engine service {}", o.service.state.as_str()),
            now,
        ),
    ];
    health::Report::build(subs, &o.issues, now)
}

/// The supervisor's cycle: health, then the policy core's step.
fn supervise(w: &mut World, o: &mut Outside, now: Timestamp) {
    let report = health_report(o, now);
    let input = policy::Input {
        kill_switch: w.state.controls.kill_switch.is_some() || o.kill_request.is_some(),
        report: &report,
        account: None,
    };
    if let Some(t) = policy::step(&mut o.policy, &input, &protections(), HYSTERESIS_MS, now) {
        w.say(format!(
            "  policy {} -> {} ({})",
            t.from.as_str(),
            t.to.as_str(),
            t.reason
        ));
    }
    o.issues = report.issues;
}

/// The engine's pass, as `ballast-engine`'s runtime carries it out.
fn pass(w: &mut World, o: &mut Outside, m: usize) -> Result<(), Down> {
    let limits = w.limits.clone();
    let trim = w.trim.clone();
    let mut inputs = Inputs::new(&limits, &trim);
    let step = kill_switch::step(
        w.state.controls.kill_switch.as_ref(),
        o.kill_request.clone(),
        &o.release,
    );
    match step {
        Step::Engage { .. } | Step::Release { .. } => inputs.kill_switch = step,
        Step::DiscardToken { .. } => o.release = kill_switch::Release::None,
        _ => {}
    }
    let in_force = w.state.policy();
    let releases = w.state.controls.policy.as_ref().map_or(0, |p| p.releases);
    if let Ok(true) = policy::adopt(in_force, releases, &o.policy, Some(JOURNAL_ID)) {
        inputs.policy = Some(PolicyChange {
            policy: o.policy.policy,
            reason: o.policy.reason.clone(),
            releases: o.policy.releases,
        });
    }
    if m < o.refusal_until {
        inputs.mode_refusal =
            Some("the venue's answers broke their contract (simulated schema drift)".into());
    }
    while let Some(next) = w.state.poll(&mut inputs) {
        let record = match next {
            Next::Record(r) => r,
            Next::Lookup {
                client_order_id,
                at,
            } => {
                if o.venue.front() == Some(&VenueFault::RateLimited) {
                    o.venue.pop_front();
                    w.figures.rate_limited += 1;
                    return Ok(());
                }
                let found = w.state.broker.lookup(&client_order_id).is_some();
                EngineRecord::Settle(SettleRecord {
                    client_order_id,
                    at,
                    found,
                })
            }
            Next::Send { order, attempt, at } => {
                if inputs.mode_refusal.is_some() {
                    continue;
                }
                let Some(outcome) = venue_answer(w, o, m) else {
                    return Ok(());
                };
                EngineRecord::Sent(SentRecord {
                    client_order_id: order.client_order_id,
                    attempt,
                    at,
                    outcome,
                })
            }
        };
        let released = matches!(&record, EngineRecord::KillSwitch(k) if !k.engaged);
        w.commit(record)?;
        if released {
            o.release = kill_switch::Release::None;
        }
    }
    Ok(())
}

/// The venue's answer to a send (`None`: a 429, nothing journaled, the pass stops).
fn venue_answer(w: &mut World, o: &mut Outside, m: usize) -> Option<SendOutcome> {
    let f = o.venue.pop_front();
    Some(match f {
        None => SendOutcome::Accepted,
        Some(VenueFault::RateLimited) => {
            w.figures.rate_limited += 1;
            return None;
        }
        Some(VenueFault::Lost { received }) => {
            w.figures.lost_replies += 1;
            SendOutcome::Unknown {
                error: "the venue's answer was lost (simulated timeout)".into(),
                paper_venue_received: received,
            }
        }
        Some(VenueFault::Reject) => {
            w.figures.rejects += 1;
            SendOutcome::Rejected {
                reason: "simulated venue refusal".into(),
            }
        }
        Some(VenueFault::Schema { received, minutes }) => {
            w.figures.schema_drifts += 1;
            o.refusal_until = o.refusal_until.max(m + usize::from(minutes));
            SendOutcome::Unknown {
                error: "the venue's answer broke its contract (simulated schema drift)".into(),
                paper_venue_received: received,
            }
        }
    })
}

/// The invariants after the minute: the ledger's (against the engine's state, when it is
/// up), and no halt left without an operator.
pub fn check(w: &mut World, o: &mut Outside, was_killed: bool, was_shutdown: bool) {
    if o.down.is_none() {
        let report = w.checker.verify(&w.state);
        if !report.is_clean() {
            w.problems.push(report.to_string());
        }
    }
    let killed = w.state.controls.kill_switch.is_some();
    if was_killed && !killed && !o.kill_resumed {
        w.problems
            .push("the kill switch was released with no operator's `ballast resume`".into());
    }
    let shutdown = w.state.policy() == Policy::EmergencyShutdown;
    if was_shutdown && !shutdown && !o.policy_resumed {
        w.problems.push(format!(
            "the engine left EMERGENCY_SHUTDOWN for {} with no operator's `ballast resume`",
            w.state.policy().as_str()
        ));
    }
    if !killed {
        o.kill_resumed = false;
    }
    if !shutdown {
        o.policy_resumed = false;
    }
}
