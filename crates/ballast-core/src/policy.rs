//! The safety policy (SPEC §5), evaluated every health cycle: from the kill switch, the health
//! report and the protections to one of five policies, each mapped onto the guard's trading
//! state and size multiplier. Escalation is immediate; de-escalation waits until the lower
//! target has held for the hysteresis period; EMERGENCY_SHUTDOWN is left only by an operator
//! with a clean reconciliation. The state is persisted by the supervisor (`state/policy.json`),
//! so a restart never re-arms trading.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::guard::TradingState;
use crate::health::{Issue, Report, Severity, Status};
use crate::layout::rel::POLICY as POLICY_FILE;
use crate::time::Timestamp;

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Policy {
    #[default]
    AllowAll,
    SafeRiskProfile,
    NoNewTrades,
    DefensiveExit,
    EmergencyShutdown,
}

impl Policy {
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::AllowAll => "ALLOW_ALL",
            Policy::SafeRiskProfile => "SAFE_RISK_PROFILE",
            Policy::NoNewTrades => "NO_NEW_TRADES",
            Policy::DefensiveExit => "DEFENSIVE_EXIT",
            Policy::EmergencyShutdown => "EMERGENCY_SHUTDOWN",
        }
    }

    pub fn trading_state(self) -> TradingState {
        match self {
            Policy::AllowAll | Policy::SafeRiskProfile => TradingState::Active,
            Policy::NoNewTrades | Policy::DefensiveExit => TradingState::Reducing,
            Policy::EmergencyShutdown => TradingState::Halted,
        }
    }

    /// Order sizes are multiplied by this (0.5 in SAFE_RISK_PROFILE).
    pub fn size_multiplier(self) -> Decimal {
        match self {
            Policy::SafeRiskProfile => Decimal::new(5, 1),
            _ => Decimal::ONE,
        }
    }

    /// Whether trading that adds exposure is allowed.
    pub fn trading_allowed(self) -> bool {
        self.trading_state() == TradingState::Active
    }

    /// What the policy does to trading, in words, with its name (shown beside each issue).
    pub fn effect(self) -> &'static str {
        match self {
            Policy::AllowAll => "no effect on trading",
            Policy::SafeRiskProfile => "order sizes halved (SAFE_RISK_PROFILE)",
            Policy::NoNewTrades => "no new trades (NO_NEW_TRADES)",
            Policy::DefensiveExit => {
                "only reducing orders, the riskiest positions closed (DEFENSIVE_EXIT)"
            }
            Policy::EmergencyShutdown => {
                "trading halted until `ballast resume` (EMERGENCY_SHUTDOWN)"
            }
        }
    }
}

/// A protection that trips automatically and stays tripped (latched) until its reset time or
/// an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProtectionKind {
    /// Equity this far below its high-water mark: until an operator.
    Drawdown,
    /// The day's loss reached its limit: until the next UTC day.
    DailyLoss,
    /// A streak of losing exits: for the stop-loss cooldown.
    StopLossStreak,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Latch {
    pub kind: ProtectionKind,
    pub tripped_at: Timestamp,
    /// `None`: until an operator resets it.
    pub until: Option<Timestamp>,
    pub detail: String,
}

/// What the engine reports for the protections.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub equity: Decimal,
    pub peak_equity: Decimal,
    pub start_of_day_equity: Decimal,
    /// Losing exits in the stop-loss window.
    pub losing_streak: u32,
}

/// The protection limits (from `[guard]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Protections {
    pub max_drawdown_pct: Decimal,
    pub daily_loss_limit_pct: Decimal,
    pub stop_loss_streak: u32,
    pub stop_loss_cooldown_ms: i64,
}

/// The persisted policy state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyState {
    pub policy: Policy,
    pub since: Timestamp,
    pub reason: String,
    /// A lower target seen continuously since then (de-escalation waits for the hysteresis).
    pub lower_since: Option<Timestamp>,
    /// An operator's floor ("pause trading"): the policy is at least this until released.
    pub floor: Option<Policy>,
    pub latches: Vec<Latch>,
    /// How many times an operator released the policy (`ballast resume`): the engine leaves
    /// EMERGENCY_SHUTDOWN only for a file carrying more releases than its journaled policy.
    #[serde(default)]
    pub releases: u64,
    /// The engine journal this policy is about (`ballast_store::journal::identity`: the CRC32C
    /// of its first record): a policy file copied from another data directory never lowers
    /// this one's policy. `None` before the journal exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal: Option<String>,
}

impl PolicyState {
    pub fn new(now: Timestamp) -> Self {
        PolicyState {
            policy: Policy::AllowAll,
            since: now,
            reason: "start".into(),
            lower_since: None,
            floor: None,
            latches: Vec::new(),
            releases: 0,
            journal: None,
        }
    }
}

/// One policy change, for the ops journal and the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub from: Policy,
    pub to: Policy,
    pub reason: String,
    pub at: Timestamp,
}

/// The inputs of one evaluation.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    pub kill_switch: bool,
    pub report: &'a Report,
    /// `None` when the engine has not reported yet.
    pub account: Option<&'a Account>,
}

/// Trip the protections that are newly breached and drop latches whose time has come.
pub fn update_latches(
    latches: &mut Vec<Latch>,
    account: Option<&Account>,
    limits: &Protections,
    now: Timestamp,
) {
    latches.retain(|l| l.until.is_none_or(|u| u > now));
    let Some(a) = account else { return };
    let mut trip = |kind, until, detail: String| {
        if !latches.iter().any(|l| l.kind == kind) {
            latches.push(Latch {
                kind,
                tripped_at: now,
                until,
                detail,
            });
        }
    };
    let hundred = Decimal::ONE_HUNDRED;
    if a.peak_equity > Decimal::ZERO {
        let dd = (a.peak_equity - a.equity) * hundred / a.peak_equity;
        if dd >= limits.max_drawdown_pct {
            trip(
                ProtectionKind::Drawdown,
                None,
                format!(
                    "equity {} is {} % below its high-water mark {} (limit {} %)",
                    a.equity.round_dp(2),
                    dd.round_dp(2),
                    a.peak_equity.round_dp(2),
                    limits.max_drawdown_pct
                ),
            );
        }
    }
    if a.start_of_day_equity > Decimal::ZERO {
        let loss = (a.start_of_day_equity - a.equity) * hundred / a.start_of_day_equity;
        if loss >= limits.daily_loss_limit_pct {
            let next_day = Timestamp::from_unix_ms((now.day_number() + 1) * 86_400_000);
            trip(
                ProtectionKind::DailyLoss,
                Some(next_day),
                format!(
                    "today's loss {} % of start-of-day equity {} (limit {} %)",
                    loss.round_dp(2),
                    a.start_of_day_equity.round_dp(2),
                    limits.daily_loss_limit_pct
                ),
            );
        }
    }
    if limits.stop_loss_streak > 0 && a.losing_streak >= limits.stop_loss_streak {
        trip(
            ProtectionKind::StopLossStreak,
            Some(now.plus_ms(limits.stop_loss_cooldown_ms)),
            format!(
                "{} losing exits in a row (limit {})",
                a.losing_streak, limits.stop_loss_streak
            ),
        );
    }
}

/// An issue in a policy's reason: its id and what its first symptom says (a reconciliation
/// finding's kind and symbol), so the policy's log line says what the alert says.
fn issue_said(i: &Issue) -> String {
    match i.symptoms.first() {
        Some(s) => {
            let detail = s
                .strip_prefix(i.status.as_str())
                .and_then(|d| d.strip_prefix(": "))
                .unwrap_or(s);
            format!("{}: {detail}", i.id)
        }
        None => i.id.clone(),
    }
}

/// The policy the rules ask for right now (SPEC §5 evaluation order: the first match wins).
pub fn target(input: &Input<'_>, latches: &[Latch]) -> (Policy, String) {
    let r = input.report;
    if input.kill_switch {
        return (Policy::EmergencyShutdown, "kill switch engaged".into());
    }
    if let Some(s) = r
        .subsystems
        .iter()
        .find(|s| s.subsystem.critical && s.status == Status::Failed)
    {
        return (
            Policy::EmergencyShutdown,
            format!("critical subsystem {} FAILED", s.subsystem.name),
        );
    }
    if let Some(i) = r
        .issues
        .iter()
        // `issue_policy` says which issue asks for an exit (never an open reconciliation
        // finding: an exit would close positions by the books the broker contradicts).
        .find(|i| {
            i.severity == Severity::Critical
                && i.impacts_trading
                && issue_policy(i) >= Policy::DefensiveExit
        })
    {
        return (
            Policy::DefensiveExit,
            format!("CRITICAL issue {} impacts trading", issue_said(i)),
        );
    }
    if let Some(i) = r.issues.iter().find(|i| i.severity == Severity::Critical) {
        return (
            Policy::NoNewTrades,
            format!("CRITICAL issue {}", issue_said(i)),
        );
    }
    if let Some(s) = r
        .subsystems
        .iter()
        .find(|s| s.subsystem.impacts_trading && s.status >= Status::Degraded)
    {
        return (
            Policy::NoNewTrades,
            format!(
                "{} is {} and impacts trading",
                s.subsystem.name,
                s.status.as_str()
            ),
        );
    }
    if let Some(l) = latches.first() {
        return (
            Policy::NoNewTrades,
            format!("protection {:?} tripped: {}", l.kind, l.detail),
        );
    }
    if let Some(i) = r.issues.iter().find(|i| i.severity == Severity::High) {
        return (
            Policy::SafeRiskProfile,
            format!("HIGH issue {}", issue_said(i)),
        );
    }
    (Policy::AllowAll, "all clear".into())
}

/// What the safety policy does about one issue on its own: the rules of [`target`] applied
/// to that issue alone (the policy is the strictest of its issues', the kill switch and the
/// protections aside). Shown beside the issue so its words never contradict the policy.
pub fn issue_policy(i: &Issue) -> Policy {
    if i.id == crate::health::venue::RECONCILIATION_ISSUE && i.status >= Status::Degraded {
        // Never an exit on books the broker contradicts (the engine's latch governs).
        Policy::NoNewTrades
    } else if i.status == Status::Failed && i.severity == Severity::Critical {
        Policy::EmergencyShutdown
    } else if i.severity == Severity::Critical && i.impacts_trading {
        Policy::DefensiveExit
    } else if i.severity == Severity::Critical
        || (i.impacts_trading && i.status >= Status::Degraded)
    {
        Policy::NoNewTrades
    } else if i.severity == Severity::High {
        Policy::SafeRiskProfile
    } else {
        Policy::AllowAll
    }
}

/// The policy the rules and the operator's floor ask for now.
fn wanted(state: &PolicyState, input: &Input<'_>) -> (Policy, String) {
    let (mut want, mut why) = target(input, &state.latches);
    if let Some(floor) = state.floor {
        if floor > want {
            want = floor;
            why = format!("operator: {} until released", floor.as_str());
        }
    }
    (want, why)
}

/// Where the policy goes next by itself, for `ballast health` / `ballast status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outlook {
    /// The policy it steps down to if the conditions stay clear (none: only an operator).
    pub to: Option<Policy>,
    /// In how long.
    pub in_ms: Option<i64>,
    /// `steps down to ALLOW_ALL in 4 min 10 s if clear`.
    pub text: String,
}

/// The hysteresis countdown (after [`step`] at `now`): where a lower target is waiting, when
/// the policy steps down to it; in EMERGENCY_SHUTDOWN, that only an operator leaves it.
pub fn outlook(
    state: &PolicyState,
    input: &Input<'_>,
    hysteresis_ms: i64,
    now: Timestamp,
) -> Option<Outlook> {
    if state.policy == Policy::EmergencyShutdown {
        return Some(Outlook {
            to: None,
            in_ms: None,
            text: "stays EMERGENCY_SHUTDOWN until an operator runs `ballast resume`".into(),
        });
    }
    let (want, _) = wanted(state, input);
    if want >= state.policy {
        let rules = target(input, &state.latches).0;
        return (state.floor == Some(state.policy) && rules < state.policy).then(|| Outlook {
            to: None,
            in_ms: None,
            text: format!(
                "held at {} by an operator until `ballast resume`",
                state.policy.as_str()
            ),
        });
    }
    let waited = state.lower_since.map_or(0, |s| now.ms_since(s).max(0));
    let left = (hysteresis_ms - waited).max(0);
    Some(Outlook {
        to: Some(want),
        in_ms: Some(left),
        text: format!(
            "steps down to {} in {} if clear",
            want.as_str(),
            duration_words(left)
        ),
    })
}

/// `4 min 10 s`, `45 s`, `1 h 5 min` (rounded up to the second).
pub fn duration_words(ms: i64) -> String {
    let secs = (ms.max(0) + 999) / 1000;
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    match (h, m, s) {
        (0, 0, s) => format!("{s} s"),
        (0, m, 0) => format!("{m} min"),
        (0, m, s) => format!("{m} min {s} s"),
        (h, 0, _) => format!("{h} h"),
        (h, m, _) => format!("{h} h {m} min"),
    }
}

/// One evaluation: escalate at once, de-escalate after `hysteresis_ms` of a lower target,
/// never leave EMERGENCY_SHUTDOWN by itself.
pub fn step(
    state: &mut PolicyState,
    input: &Input<'_>,
    limits: &Protections,
    hysteresis_ms: i64,
    now: Timestamp,
) -> Option<Transition> {
    update_latches(&mut state.latches, input.account, limits, now);
    let (want, why) = wanted(state, input);
    let from = state.policy;
    if want > from {
        state.lower_since = None;
        return Some(set(state, want, why, now));
    }
    if want == from {
        state.lower_since = None;
        return None;
    }
    if from == Policy::EmergencyShutdown {
        // Only `release` leaves it.
        state.lower_since = None;
        return None;
    }
    let since = *state.lower_since.get_or_insert(now);
    if now.ms_since(since) >= hysteresis_ms {
        state.lower_since = None;
        return Some(set(
            state,
            want,
            format!(
                "{why}, clear for {}",
                crate::time::Human(hysteresis_ms.max(0).unsigned_abs())
            ),
            now,
        ));
    }
    None
}

fn set(state: &mut PolicyState, to: Policy, reason: String, now: Timestamp) -> Transition {
    let t = Transition {
        from: state.policy,
        to,
        reason: reason.clone(),
        at: now,
    };
    state.policy = to;
    state.since = now;
    state.reason = reason;
    t
}

/// An operator puts a floor under the policy (pause trading, safe profile, defensive exit):
/// the policy is at least `floor` until released, and is raised to it now if it is lower.
/// Returns the change, if the policy changed.
pub fn set_floor(state: &mut PolicyState, floor: Policy, now: Timestamp) -> Option<Transition> {
    state.floor = Some(state.floor.map_or(floor, |f| f.max(floor)));
    if floor <= state.policy {
        return None;
    }
    let t = Transition {
        from: state.policy,
        to: floor,
        reason: format!("operator: {} until released", floor.as_str()),
        at: now,
    };
    state.policy = floor;
    state.since = now;
    state.reason = t.reason.clone();
    Some(t)
}

/// An operator leaves EMERGENCY_SHUTDOWN (and clears the latches and the operator floor):
/// only with a clean reconciliation and the kill switch released. The policy then drops to
/// what the rules ask for now — never below it.
pub fn release(
    state: &mut PolicyState,
    input: &Input<'_>,
    reconciliation: Result<(), String>,
    now: Timestamp,
) -> Result<Option<Transition>, String> {
    if input.kill_switch {
        return Err(KILL_SWITCH_STILL_ENGAGED.into());
    }
    reconciliation.map_err(|why| format!("reconciliation is not clean: {why}"))?;
    state.latches.clear();
    state.floor = None;
    state.lower_since = None;
    let (want, why) = target(input, &state.latches);
    if want == Policy::EmergencyShutdown {
        return Err(format!("still {}: {why}", want.as_str()));
    }
    state.releases = state.releases.saturating_add(1);
    if want == state.policy {
        return Ok(None);
    }
    Ok(Some(set(
        state,
        want,
        format!("released by an operator: {why}"),
        now,
    )))
}

/// The last policy the engine journaled (`engine.policy`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journaled {
    pub policy: Policy,
    pub reason: String,
    #[serde(default)]
    pub releases: u64,
}

/// What the engine's journal says about the policy when the supervisor starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JournalView {
    /// No engine journal with a record yet: a fresh data directory (or no engine).
    Fresh,
    /// Records, none of them `engine.policy`: the engine has only traded under ALLOW_ALL.
    NeverChanged,
    Last(Journaled),
}

/// The supervisor's policy at its start, and what to tell the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    pub state: PolicyState,
    /// A line for the log when the file was not taken as it is.
    pub warning: Option<String>,
    /// The file must be written again (it was missing, unreadable or overruled).
    pub rewrite: bool,
}

/// The supervisor's policy at its start (SPEC principle 6: halts survive restarts). The
/// engine's journal is the source of truth: a valid file is taken when it is at least as
/// strict as the last journaled policy (it may be stricter: the engine was down when the
/// supervisor escalated); a less strict one is overruled; a missing or unreadable one is
/// rebuilt from the journal (so an operator release the engine had not followed yet when the
/// supervisor stopped is asked for again). `recorded`, the last policy change in the supervisor's ops
/// journal, is a floor too (it covers what the engine could not journal: it was down, or
/// disabled). Only a fresh data directory with no file starts at ALLOW_ALL (a damaged file
/// there starts at NO_NEW_TRADES until an operator resumes: nothing says what it held).
pub fn restore(
    file: FileRead,
    journal: &JournalView,
    recorded: Option<Policy>,
    now: Timestamp,
) -> Restored {
    let (journaled, source, said) = strictest_record(journal, recorded);
    let rebuilt = |j: &Journaled, why: &str| {
        let mut s = PolicyState::new(now);
        s.policy = j.policy;
        s.releases = j.releases;
        s.reason = format!("rebuilt from {source} ({why}): {}", j.reason);
        s
    };
    match (file, journaled) {
        (FileRead::Valid(s), None) => Restored {
            state: s,
            warning: None,
            rewrite: false,
        },
        (FileRead::Valid(mut s), Some(j)) => {
            s.releases = s.releases.max(j.releases);
            if s.policy >= j.policy {
                return Restored {
                    state: s,
                    warning: None,
                    rewrite: false,
                };
            }
            let warning = format!(
                "{POLICY_FILE} says {} but {said} {}: the journal wins, the policy stays {}{}",
                s.policy.as_str(),
                j.policy.as_str(),
                j.policy.as_str(),
                leave_hint(j.policy)
            );
            s.reason = format!(
                "kept from {source} (the file said {}): {}",
                s.policy.as_str(),
                j.reason
            );
            s.policy = j.policy;
            s.since = now;
            s.lower_since = None;
            Restored {
                state: s,
                warning: Some(warning),
                rewrite: true,
            }
        }
        (FileRead::Missing, None) => Restored {
            state: PolicyState::new(now),
            warning: None,
            rewrite: false,
        },
        (FileRead::Missing, Some(j)) => Restored {
            warning: Some(format!(
                "{POLICY_FILE} is missing: the policy is rebuilt from {source} as {}{}",
                j.policy.as_str(),
                leave_hint(j.policy)
            )),
            state: rebuilt(&j, &format!("{POLICY_FILE} was missing")),
            rewrite: true,
        },
        (FileRead::Unreadable(e), Some(j)) => Restored {
            warning: Some(format!(
                "CRITICAL: {POLICY_FILE} cannot be used ({e}): the policy is rebuilt from {source} as {}{}",
                j.policy.as_str(),
                leave_hint(j.policy)
            )),
            state: rebuilt(&j, &format!("{POLICY_FILE} could not be used: {e}")),
            rewrite: true,
        },
        (FileRead::Unreadable(e), None) => {
            let mut s = PolicyState::new(now);
            s.policy = Policy::NoNewTrades;
            s.floor = Some(Policy::NoNewTrades);
            s.reason = format!("the persisted policy could not be used: {e}");
            Restored {
                state: s,
                warning: Some(format!(
                    "CRITICAL: {POLICY_FILE} cannot be used ({e}) and no engine journal says what it held: starting at NO_NEW_TRADES until an operator runs `ballast resume`"
                )),
                rewrite: true,
            }
        }
    }
}

/// The last policy on record that the file must not undercut — the engine's journaled one, or
/// the ops journal's when stricter — with where it comes from, as the warnings name it.
fn strictest_record(
    journal: &JournalView,
    recorded: Option<Policy>,
) -> (Option<Journaled>, &'static str, &'static str) {
    let engine = match journal {
        JournalView::Fresh => None,
        JournalView::NeverChanged => Some(Journaled {
            policy: Policy::AllowAll,
            reason: "the engine never journaled another policy".into(),
            releases: 0,
        }),
        JournalView::Last(j) => Some(j.clone()),
    };
    match (engine, recorded) {
        (e, Some(r)) if e.as_ref().is_none_or(|e| r > e.policy) => (
            Some(Journaled {
                policy: r,
                reason: format!(
                    "the supervisor's ops journal last recorded a change to {}",
                    r.as_str()
                ),
                releases: e.map_or(0, |e| e.releases),
            }),
            "the supervisor's ops journal",
            "the ops journal last recorded",
        ),
        (e, _) => (e, "the engine's journal", "the engine last journaled"),
    }
}

fn leave_hint(p: Policy) -> &'static str {
    if p == Policy::EmergencyShutdown {
        " (only `ballast resume` leaves it)"
    } else {
        ""
    }
}

/// Whether the engine, under the policy it journaled (`in_force`, with the operator releases
/// that record carried), takes the policy of a valid `state/policy.json`: `Ok(true)` to
/// journal and apply it, `Ok(false)` when nothing changes, `Err` (why, in words) when it
/// refuses. A stricter policy is always taken; a less strict one too (the supervisor's
/// hysteresis), except out of EMERGENCY_SHUTDOWN: that needs an operator release newer than
/// the journaled policy — a forged, restored or stale file never re-arms trading.
/// The refusal of a release while the engine still reports its kill switch engaged (`ballast
/// resume` retries it while the engine takes the release it just wrote).
pub const KILL_SWITCH_STILL_ENGAGED: &str =
    "the kill switch is engaged: `ballast resume` releases it first";

pub fn adopt(
    in_force: Policy,
    in_force_releases: u64,
    file: &PolicyState,
    journal: Option<&str>,
) -> Result<bool, String> {
    if file.policy == in_force {
        return Ok(false);
    }
    if file.policy > in_force {
        return Ok(true);
    }
    // Less strict: only a policy written for this journal (a copy of another data directory's
    // file — a restored backup, a neighbour's state/ — never lowers it).
    if file.journal.as_deref() != journal || journal.is_none() {
        return Err(format!(
            "{POLICY_FILE} asks for {} but it was not written for this data directory's journal (it names journal {}, this one is {}): it is not followed; the policy stays {} until this supervisor changes it (`ballast resume` for EMERGENCY_SHUTDOWN)",
            file.policy.as_str(),
            file.journal.as_deref().unwrap_or("none"),
            journal.unwrap_or("not started"),
            in_force.as_str()
        ));
    }
    if in_force != Policy::EmergencyShutdown {
        return Ok(true);
    }
    if file.releases > in_force_releases {
        return Ok(true);
    }
    Err(format!(
        "{POLICY_FILE} asks for {} but the engine journaled EMERGENCY_SHUTDOWN and no operator released it since (releases {} in the file, {} journaled): trading stays halted until `ballast resume`",
        file.policy.as_str(),
        file.releases,
        in_force_releases
    ))
}

mod file;
pub use file::{FILE_VERSION, FileRead, decode_file, encode_file};

#[cfg(test)]
mod tests;
