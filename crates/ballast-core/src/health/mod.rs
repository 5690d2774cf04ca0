//! Health (SPEC §5), decided purely: check thresholds, the status of each subsystem, the
//! overall status and score, the issues with their severity and the dependents they affect,
//! and the recommendations for each issue — with the approval state machine of those that may
//! not run by themselves. The supervisor's health monitor runs the checks and feeds the
//! results in; [`crate::policy`] turns the report into the safety policy.

mod approvals;
pub mod clear;
pub mod lifecycle;
pub mod rate;
pub mod rules;
mod subsystem_id;
pub mod venue;
pub use subsystem_id::SubsystemId;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::heal::FailureClass;
use crate::time::Timestamp;

pub use approvals::{Approvals, Recommendation, RecommendationState};

/// A check's or subsystem's status, from best to worst — after DISABLED, which is below every
/// other: a module an operator (or its `on_failure = "disable"`) took out is not counted in
/// the aggregation, the score or the issues, and a subsystem is DISABLED only when all its
/// checks are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Disabled,
    Healthy,
    /// Not known yet (never checked, or the check could not run).
    Unknown,
    Degraded,
    Critical,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Disabled => "DISABLED",
            Status::Healthy => "HEALTHY",
            Status::Unknown => "UNKNOWN",
            Status::Degraded => "DEGRADED",
            Status::Critical => "CRITICAL",
            Status::Failed => "FAILED",
        }
    }
}

/// How far in the future a time another process wrote (a heartbeat, a file's modification
/// time) may be and still count: a write racing the read, the same clock read twice. Beyond
/// it the time is no evidence of freshness — a clock stepped back, a file not written when it
/// says — and is judged as no time at all (else a heartbeat dated next year is HEALTHY forever,
/// whatever the engine does).
pub const FUTURE_TOLERANCE_MS: i64 = 5_000;

/// Age thresholds: younger than `healthy_ms` is healthy, younger than `degraded_ms` degraded,
/// else critical; no age at all (never seen) is critical too, and so is an age more than
/// [`FUTURE_TOLERANCE_MS`] below zero (a time in the future).
pub fn staleness(age_ms: Option<i64>, healthy_ms: i64, degraded_ms: i64) -> Status {
    match age_ms {
        Some(a) if a < -FUTURE_TOLERANCE_MS => Status::Critical,
        Some(a) if a < healthy_ms => Status::Healthy,
        Some(a) if a < degraded_ms => Status::Degraded,
        _ => Status::Critical,
    }
}

/// An age as a check's detail says it: `3s old` (`word` = "old", "ago"), or, for a time more
/// than [`FUTURE_TOLERANCE_MS`] ahead, `2 h in the future (not evidence of freshness …)`.
pub fn age_said(age_ms: i64, word: &str) -> String {
    if age_ms < -FUTURE_TOLERANCE_MS {
        return format!(
            "{} in the future (not evidence of freshness: a clock stepped back, or not written when it says)",
            crate::time::Human(age_ms.unsigned_abs())
        );
    }
    format!(
        "{} {word}",
        crate::time::Human(age_ms.max(0).unsigned_abs())
    )
}

/// Error rate over `total` attempts: at or above `degraded_pct` degraded, at or above
/// `critical_pct` critical. No attempts: healthy.
pub fn error_rate(errors: u64, total: u64, degraded_pct: u32, critical_pct: u32) -> Status {
    if total == 0 {
        return Status::Healthy;
    }
    let pct = errors.saturating_mul(100) / total;
    if pct >= u64::from(critical_pct) {
        Status::Critical
    } else if pct >= u64::from(degraded_pct) {
        Status::Degraded
    } else {
        Status::Healthy
    }
}

/// A count that should be high (files present): at least `healthy_min` healthy, at least
/// `degraded_min` degraded, else critical.
pub fn at_least(found: u64, healthy_min: u64, degraded_min: u64) -> Status {
    if found >= healthy_min {
        Status::Healthy
    } else if found >= degraded_min {
        Status::Degraded
    } else {
        Status::Critical
    }
}

/// A level that should be low (CPU %, memory %): at or above `degraded_at` degraded, at or
/// above `critical_at` critical.
pub fn at_most(value: u64, degraded_at: u64, critical_at: u64) -> Status {
    if value >= critical_at {
        Status::Critical
    } else if value >= degraded_at {
        Status::Degraded
    } else {
        Status::Healthy
    }
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    pub name: String,
    pub status: Status,
    /// How long the check took.
    pub latency_us: u64,
    /// What was observed, with the threshold (`feed age 412 s >= 300 s`).
    pub detail: String,
    /// The cause when it is known (`connection refused`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_cause: Option<String>,
    /// A persistent failure class: PERSISTENT_CONFIG → FAILED_CONFIG, CODE_SCHEMA →
    /// FAILED_API_SCHEMA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<FailureClass>,
}

impl CheckResult {
    pub fn new(name: impl Into<String>, status: Status, detail: impl Into<String>) -> Self {
        CheckResult {
            name: name.into(),
            status,
            latency_us: 0,
            detail: detail.into(),
            root_cause: None,
            failure: None,
        }
    }
}

/// A registered subsystem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subsystem {
    pub name: String,
    /// Critical subsystems decide the overall status; supportive ones only degrade it.
    pub critical: bool,
    /// Whether its trouble affects trading (a stale feed does; slow logging does not).
    pub impacts_trading: bool,
    /// Subsystems it needs (the dependency graph: an issue here affects its dependents).
    pub depends_on: Vec<String>,
    /// How often its checks run.
    pub interval_ms: i64,
}

/// A subsystem with its latest check results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubsystemHealth {
    #[serde(flatten)]
    pub subsystem: Subsystem,
    pub status: Status,
    pub checks: Vec<CheckResult>,
    /// Sum of its checks' latencies.
    pub latency_us: u64,
    pub checked_at: Option<Timestamp>,
}

impl SubsystemHealth {
    pub fn new(subsystem: Subsystem, checks: Vec<CheckResult>, at: Timestamp) -> Self {
        let status = checks
            .iter()
            .map(|c| c.status)
            .max()
            .unwrap_or(Status::Unknown);
        let latency_us = checks.iter().map(|c| c.latency_us).sum();
        SubsystemHealth {
            subsystem,
            status,
            checks,
            latency_us,
            checked_at: Some(at),
        }
    }

    fn failure(&self) -> Option<FailureClass> {
        self.checks
            .iter()
            .filter(|c| c.status >= Status::Critical)
            .find_map(|c| c.failure)
    }
}

/// The overall status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Overall {
    Healthy,
    Degraded,
    Critical,
    Failed,
    /// A persistent configuration failure: no restart loop, an operator fixes the config.
    FailedConfig,
    /// The broker's answers or a file no longer match what this build understands.
    FailedApiSchema,
}

impl Overall {
    pub fn as_str(self) -> &'static str {
        match self {
            Overall::Healthy => "HEALTHY",
            Overall::Degraded => "DEGRADED",
            Overall::Critical => "CRITICAL",
            Overall::Failed => "FAILED",
            Overall::FailedConfig => "FAILED_CONFIG",
            Overall::FailedApiSchema => "FAILED_API_SCHEMA",
        }
    }
}

/// SPEC §5 aggregation: FAILED_CONFIG / FAILED_API_SCHEMA when a critical subsystem fails for
/// that reason; FAILED if a critical subsystem FAILED; CRITICAL if one is CRITICAL; DEGRADED
/// if a critical one is DEGRADED or UNKNOWN or a supportive one FAILED or CRITICAL; otherwise
/// HEALTHY (a supportive subsystem that is only degraded does not make the whole degraded).
pub fn aggregate(subsystems: &[SubsystemHealth]) -> Overall {
    let critical = || subsystems.iter().filter(|s| s.subsystem.critical);
    let failing = || critical().filter(|s| s.status >= Status::Critical);
    if failing().any(|s| s.failure() == Some(FailureClass::PersistentConfig)) {
        return Overall::FailedConfig;
    }
    if failing().any(|s| s.failure() == Some(FailureClass::CodeSchema)) {
        return Overall::FailedApiSchema;
    }
    let worst = critical()
        .map(|s| s.status)
        .max()
        .unwrap_or(Status::Healthy);
    let supportive_failed = subsystems
        .iter()
        .any(|s| !s.subsystem.critical && s.status >= Status::Critical);
    match worst {
        Status::Failed => Overall::Failed,
        Status::Critical => Overall::Critical,
        Status::Degraded | Status::Unknown => Overall::Degraded,
        Status::Healthy | Status::Disabled if supportive_failed => Overall::Degraded,
        Status::Healthy | Status::Disabled => Overall::Healthy,
    }
}

/// Health score 0–100: each subsystem costs by its status (UNKNOWN 5, DEGRADED 10,
/// CRITICAL 25, FAILED 40), twice for a critical one. A live start needs ≥ [`LIVE_MIN_SCORE`].
pub fn score(subsystems: &[SubsystemHealth]) -> u32 {
    let cost: u32 = subsystems
        .iter()
        .map(|s| {
            let c = match s.status {
                Status::Healthy | Status::Disabled => 0,
                Status::Unknown => 5,
                Status::Degraded => 10,
                Status::Critical => 25,
                Status::Failed => 40,
            };
            if s.subsystem.critical { c * 2 } else { c }
        })
        .sum();
    100u32.saturating_sub(cost)
}

pub const LIVE_MIN_SCORE: u32 = 50;

/// The subsystems computed from the running engine (its loop and what it reports).
/// The name of a user check's result before its first run (the supervisor's start leaves
/// the user's checks to the health monitor's thread): UNKNOWN, and a critical one holds a
/// live start until it answers.
pub const PENDING_CHECK: &str = "pending";

pub const ENGINE_SUBSYSTEMS: &[&str] = &[
    "engine",
    "data_feed",
    "broker",
    "execution",
    "guard",
    "universe",
    "shadow",
    "pipeline",
];

/// Issue severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }
}

/// A non-healthy check, as the operator sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    /// Stable while the problem lasts: `<subsystem>/<check>`.
    pub id: String,
    pub subsystem: String,
    pub check: String,
    pub status: Status,
    pub severity: Severity,
    pub symptoms: Vec<String>,
    pub root_cause: Option<String>,
    pub impacts_trading: bool,
    /// Subsystems that depend on this one, directly or not.
    pub affects: Vec<String>,
    /// When it was first seen (kept across cycles by the caller).
    pub since: Timestamp,
    /// What the safety policy does about it ([`crate::policy::issue_policy`]).
    #[serde(default)]
    pub policy: crate::policy::Policy,
}

/// Severity of a check's status in its subsystem: a FAILED or CRITICAL critical subsystem is
/// CRITICAL, a supportive one HIGH; DEGRADED is MEDIUM where it matters (critical or impacting
/// trading) and LOW elsewhere; UNKNOWN is LOW.
pub fn severity(status: Status, s: &Subsystem) -> Option<Severity> {
    Some(match status {
        Status::Healthy | Status::Disabled => return None,
        Status::Failed | Status::Critical if s.critical => Severity::Critical,
        Status::Failed | Status::Critical => Severity::High,
        Status::Degraded if s.critical || s.impacts_trading => Severity::Medium,
        Status::Degraded | Status::Unknown => Severity::Low,
    })
}

/// Every subsystem that depends on `name`, directly or through others (sorted).
pub fn dependents(name: &str, subsystems: &[SubsystemHealth]) -> Vec<String> {
    let mut out = BTreeSet::new();
    let mut todo = vec![name.to_owned()];
    while let Some(n) = todo.pop() {
        for s in subsystems {
            if s.subsystem.depends_on.contains(&n)
                && s.subsystem.name != name
                && out.insert(s.subsystem.name.clone())
            {
                todo.push(s.subsystem.name.clone());
            }
        }
    }
    out.into_iter().collect()
}

/// The issues of a report; `since` of an issue already open is kept from `previous`.
pub fn issues(subsystems: &[SubsystemHealth], previous: &[Issue], now: Timestamp) -> Vec<Issue> {
    let before: BTreeMap<&str, Timestamp> =
        previous.iter().map(|i| (i.id.as_str(), i.since)).collect();
    let mut out = Vec::new();
    for s in subsystems {
        for c in &s.checks {
            let Some(severity) = severity(c.status, &s.subsystem) else {
                continue;
            };
            let id = format!("{}/{}", s.subsystem.name, c.name);
            let mut issue = Issue {
                since: before.get(id.as_str()).copied().unwrap_or(now),
                id,
                subsystem: s.subsystem.name.clone(),
                check: c.name.clone(),
                status: c.status,
                severity,
                symptoms: vec![format!("{}: {}", c.status.as_str(), c.detail)],
                // The cause says what the symptom does not (never the same words twice).
                root_cause: c
                    .root_cause
                    .clone()
                    .filter(|cause| !cause.trim().is_empty() && !c.detail.contains(cause.as_str())),
                impacts_trading: s.subsystem.impacts_trading,
                affects: dependents(&s.subsystem.name, subsystems),
                policy: crate::policy::Policy::AllowAll,
            };
            issue.policy = crate::policy::issue_policy(&issue);
            out.push(issue);
        }
    }
    out.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.id.cmp(&b.id)));
    out
}

/// A recovery action (SPEC §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecoveryAction {
    /// Restart (or, when FAILED, reset and start) the subsystem's service.
    RestartSubsystem,
    /// No new trades until an operator resumes (an operator floor on the policy).
    PauseTrading,
    SwitchToSafeRiskProfile,
    NoNewTrades,
    DefensiveExit,
    /// Engage the kill switch with flatten.
    CloseAllPositions,
    /// Disable a supportive service or check (stopped / not run, DISABLED, not counted)
    /// until `ballast enable` ([`lifecycle::recommend`]).
    DisableModule,
    /// Start the fallback service of a FAILED or disabled one (the supervisor does it).
    SwitchToBackup,
    /// Empty a declared cache directory (`[[artifacts]] kind = "cache"`; [`clear`]).
    ClearCache,
    /// Read the configuration file again and apply it (`ballast reload`), all or nothing.
    ReloadConfig,
    /// An operator's choice about an open reconciliation finding (adopt, flatten or stay;
    /// [`venue::recommend_choices`]): never automatic.
    ResolveFinding,
}

impl RecoveryAction {
    /// Every action, for the checks that each has its playbook row and its display.
    pub const ALL: &[RecoveryAction] = &[
        RecoveryAction::RestartSubsystem,
        RecoveryAction::PauseTrading,
        RecoveryAction::SwitchToSafeRiskProfile,
        RecoveryAction::NoNewTrades,
        RecoveryAction::DefensiveExit,
        RecoveryAction::CloseAllPositions,
        RecoveryAction::DisableModule,
        RecoveryAction::SwitchToBackup,
        RecoveryAction::ClearCache,
        RecoveryAction::ReloadConfig,
        RecoveryAction::ResolveFinding,
    ];

    /// Its name as it serializes (`clear_cache`).
    pub fn as_str(self) -> &'static str {
        match self {
            RecoveryAction::RestartSubsystem => "restart_subsystem",
            RecoveryAction::PauseTrading => "pause_trading",
            RecoveryAction::SwitchToSafeRiskProfile => "switch_to_safe_risk_profile",
            RecoveryAction::NoNewTrades => "no_new_trades",
            RecoveryAction::DefensiveExit => "defensive_exit",
            RecoveryAction::CloseAllPositions => "close_all_positions",
            RecoveryAction::DisableModule => "disable_module",
            RecoveryAction::SwitchToBackup => "switch_to_backup",
            RecoveryAction::ClearCache => "clear_cache",
            RecoveryAction::ReloadConfig => "reload_config",
            RecoveryAction::ResolveFinding => "resolve_finding",
        }
    }
}

/// One recommendation before it is tracked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Advice {
    pub issue: String,
    pub action: RecoveryAction,
    /// The subsystem acted on (for restarts).
    pub target: String,
    /// 1 = first.
    pub priority: u8,
    pub expected: String,
    pub risks: String,
    /// Runs without an operator (the safety policy or the supervisor does it).
    pub auto: bool,
}

impl Advice {
    /// The recommendation's id, what `ballast approve` takes: `<issue id>/<action>`; for
    /// `clear_cache`, `/<target>` after it (one issue, a low disk, can advise clearing several
    /// caches); for `resolve_finding` too (`<finding id>/<choice>`: one per choice of each
    /// finding).
    pub fn id(&self) -> String {
        match self.action {
            RecoveryAction::ClearCache | RecoveryAction::ResolveFinding => {
                format!("{}/{}/{}", self.issue, self.action.as_str(), self.target)
            }
            _ => format!("{}/{}", self.issue, self.action.as_str()),
        }
    }
}
/// The issues of a configuration file that validates and differs from what runs (the check's
/// name goes on with the file's hash): their one recommendation is `reload_config`.
pub const RELOAD_ISSUE: &str = "configuration/reload";

/// The recommendations for `issue`. `restartable`: the subsystem is a service the supervisor
/// can restart.
pub fn recommend(issue: &Issue, restartable: bool) -> Vec<Advice> {
    let mut out = Vec::new();
    if issue.status == Status::Unknown {
        return out; // nothing is known to be wrong yet
    }
    let mut add = |action, priority, expected: &str, risks: &str, auto| {
        out.push(Advice {
            issue: issue.id.clone(),
            action,
            target: issue.subsystem.clone(),
            priority,
            expected: expected.to_owned(),
            risks: risks.to_owned(),
            auto,
        })
    };
    if issue.id == venue::RECONCILIATION_ISSUE {
        // The way forward is the operator's choice about each finding (`ballast reconcile`).
        return out;
    }
    if issue.id.starts_with(RELOAD_ISSUE) {
        // Never automatic: an operator reads the diff (`ballast reload --dry-run`) first.
        add(
            RecoveryAction::ReloadConfig,
            1,
            "the changed configuration is applied all or nothing: limits and thresholds live, a changed service restarted alone",
            "a changed service restarts; new limits bind the next orders (`ballast reload --dry-run` shows the plan)",
            false,
        );
        return out;
    }
    let bad = issue.status >= Status::Critical;
    if restartable && bad {
        add(
            RecoveryAction::RestartSubsystem,
            1,
            "the service starts again from its durable state (a FAILED one has its failure budget reset)",
            "if the cause persists it fails again; a FAILED service stays down until this is approved",
            issue.status != Status::Failed,
        );
    }
    if issue.impacts_trading && bad {
        add(
            RecoveryAction::DefensiveExit,
            2,
            "only reducing orders pass and the riskiest positions are closed",
            "closing at market costs spread and slippage",
            true,
        );
        add(
            RecoveryAction::CloseAllPositions,
            3,
            "every position is closed at market and trading halts (kill switch with flatten)",
            "realizes every open loss; trading stays halted until `ballast resume`",
            false,
        );
    } else if issue.impacts_trading {
        add(
            RecoveryAction::NoNewTrades,
            2,
            "orders that add exposure are refused until the condition clears",
            "missed entries while it lasts",
            true,
        );
        add(
            RecoveryAction::PauseTrading,
            3,
            "no new trades until an operator resumes, even if the condition clears",
            "stays paused until `ballast approve` of a resume or `ballast resume`",
            false,
        );
    } else if issue.severity == Severity::Critical {
        add(
            RecoveryAction::NoNewTrades,
            2,
            "orders that add exposure are refused until the issue clears",
            "missed entries while it lasts",
            true,
        );
    } else if issue.severity >= Severity::High {
        add(
            RecoveryAction::SwitchToSafeRiskProfile,
            2,
            "order sizes are halved until the issue clears",
            "smaller positions earn less",
            true,
        );
    }
    out
}

/// The whole report of one health cycle (written as `state/health.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub at: Timestamp,
    pub overall: Overall,
    pub score: u32,
    pub subsystems: Vec<SubsystemHealth>,
    pub issues: Vec<Issue>,
    pub counts: Counts,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub subsystems: usize,
    pub healthy: usize,
    pub degraded: usize,
    pub critical: usize,
    pub failed: usize,
    pub unknown: usize,
    pub issues: usize,
    /// Disabled subsystems: written only when there are some, so a report without any keeps
    /// the bytes it always had (absent in reports written before the status existed).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub disabled: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Report {
    pub fn build(subsystems: Vec<SubsystemHealth>, previous: &[Issue], at: Timestamp) -> Report {
        let issues = issues(&subsystems, previous, at);
        let n = |st: Status| subsystems.iter().filter(|s| s.status == st).count();
        let counts = Counts {
            subsystems: subsystems.len(),
            healthy: n(Status::Healthy),
            degraded: n(Status::Degraded),
            critical: n(Status::Critical),
            failed: n(Status::Failed),
            unknown: n(Status::Unknown),
            issues: issues.len(),
            disabled: n(Status::Disabled),
        };
        Report {
            at,
            overall: aggregate(&subsystems),
            score: score(&subsystems),
            issues,
            counts,
            subsystems,
        }
    }

    /// A live start needs a score ≥ 50 and nothing CRITICAL or FAILED.
    pub fn live_start_allowed(&self) -> Result<(), String> {
        if self.score < LIVE_MIN_SCORE {
            return Err(format!("health score {} < {LIVE_MIN_SCORE}", self.score));
        }
        match self.overall {
            Overall::Healthy | Overall::Degraded => Ok(()),
            o => Err(format!("overall health is {}", o.as_str())),
        }
    }

    /// The live-start gate before the engine runs: as [`Self::live_start_allowed`] over the
    /// subsystems that do not need the engine running and are known (the engine's own are
    /// unknown, or report its absence, until it starts).
    pub fn live_start_allowed_before_the_engine(&self) -> Result<(), String> {
        // Not measured yet is not known to be fine: a critical check must answer first.
        if let Some(s) = self
            .subsystems
            .iter()
            .find(|s| s.subsystem.critical && s.checks.iter().any(|c| c.name == PENDING_CHECK))
        {
            return Err(format!(
                "critical check {} not measured yet (its first run is under way)",
                s.subsystem.name
            ));
        }
        let known: Vec<SubsystemHealth> = self
            .subsystems
            .iter()
            .filter(|s| {
                !ENGINE_SUBSYSTEMS.contains(&s.subsystem.name.as_str())
                    && s.status != Status::Unknown
            })
            .cloned()
            .collect();
        Report::build(known, &[], self.at).live_start_allowed()
    }

    /// A critical subsystem is FAILED (policy rule 1).
    pub fn critical_failed(&self) -> bool {
        self.subsystems
            .iter()
            .any(|s| s.subsystem.critical && s.status == Status::Failed)
    }
}
