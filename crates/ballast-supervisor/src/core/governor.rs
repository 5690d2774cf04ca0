//! The health monitor's persistent side, decided purely: the safety policy, the
//! recommendations waiting for approval, the bounded history, the report as
//! `state/health.json` carries it. It reads no file: what it needs of the files (the kill
//! switch's, the policy file as found) comes in as [`Files`], what it writes goes out as a
//! [`FileWrite`] the shell carries out.

use std::collections::{BTreeMap, VecDeque};

use ballast_core::Timestamp;
use ballast_core::config::Config;
use ballast_core::engine::EngineStatus;
use ballast_core::health::clear::{CacheDecl, recommend_clear};
use ballast_core::health::{self, Advice, Approvals, Recommendation, Report};
use ballast_core::policy::{self, Policy, PolicyState, Protections, Transition};

use super::events::OpsEvent;
use super::{After, FileWrite, Step};
use crate::protocol::{HealthSummary, PendingApproval};

pub use ballast_store::files::health::HistoryEntry;
use ballast_store::files::health::{HealthFile, HealthReport, NotYet, Pending, PolicyView};

pub use crate::limits::HEALTH_HISTORY_IN_REPORT_COUNT as HISTORY_IN_REPORT;

/// The kill switch's files as found: `KILL_SWITCH` (the request to engage) and the release
/// token of `ballast resume`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KillSwitchFiles {
    pub requested: bool,
    pub release_waiting: bool,
}

impl KillSwitchFiles {
    /// Engaged: requested, or the engine's journaled switch is on and no release waits for it.
    /// A `KILL_SWITCH` removed by hand releases nothing.
    pub fn engaged(&self, engine: Option<&EngineStatus>) -> bool {
        self.requested || (engine.is_some_and(|e| e.kill_switch) && !self.release_waiting)
    }
}

/// What the shell read of the files beside a health cycle.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Files {
    pub kill_switch: KillSwitchFiles,
    /// `state/policy.json` as found, when it is a file Ballast wrote: its policy and releases.
    pub policy_file: Option<(Policy, u64)>,
}

/// What outlives a health cycle: the policy, the recommendations, the history.
pub struct Governor {
    pub policy: PolicyState,
    pub approvals: Approvals,
    pub history: VecDeque<HistoryEntry>,
    pub report: Option<Report>,
    pub engine: Option<EngineStatus>,
    history_max: usize,
    hysteresis_ms: i64,
    ttl_ms: i64,
    limits: Protections,
    kill_switch: bool,
    /// Dangerous heal findings of the last sweep (reconciliation is not clean while any).
    pub dangerous: usize,
    /// The same findings in words (`None`: no sweep yet), for the live gate.
    pub dangerous_said: Option<Vec<String>>,
    /// What principle 1 was asked at the start (the live gate of each report; `None`: none).
    pub live: Option<ballast_core::live::Asked>,
    /// What each subsystem allows besides a restart (disable, fallback): set by the core.
    pub modules: std::collections::BTreeMap<String, health::lifecycle::ModuleRecovery>,
    /// Where the policy goes next by itself (the hysteresis countdown), as of the last cycle.
    pub outlook: Option<policy::Outlook>,
    /// The declared caches (`clear_cache`'s targets; a reload replaces them with
    /// [`Governor::set_caches`]).
    pub caches: Vec<CacheDecl>,
    /// The directory each open `clear_cache` recommendation was raised for
    /// ([`ballast_core::health::clear::track_dirs`]).
    pub clear_dirs: BTreeMap<String, String>,
    /// Each service's failures inside its restart window, as of this cycle (the core sets it).
    pub failures: BTreeMap<String, usize>,
}

impl Governor {
    /// A governor starting at `policy` (as restored from the files and journals).
    pub fn new(policy: PolicyState, config: &Config) -> Governor {
        let guard = &config.guard;
        Governor {
            policy,
            approvals: Approvals::default(),
            history: VecDeque::new(),
            report: None,
            engine: None,
            history_max: config.health.history as usize,
            hysteresis_ms: i64::from(config.health.hysteresis_secs) * 1000,
            ttl_ms: i64::from(config.health.recommendation_ttl_secs) * 1000,
            limits: Protections {
                max_drawdown_pct: guard.max_drawdown_pct,
                daily_loss_limit_pct: guard.daily_loss_limit_pct,
                stop_loss_streak: guard.stop_loss_streak,
                stop_loss_cooldown_ms: i64::from(guard.stop_loss_cooldown_minutes) * 60_000,
            },
            kill_switch: false,
            dangerous: 0,
            dangerous_said: None,
            live: None,
            modules: Default::default(),
            outlook: None,
            caches: CacheDecl::of(config),
            clear_dirs: BTreeMap::new(),
            failures: BTreeMap::new(),
        }
    }

    /// The declared caches of `config` (at a reload).
    pub fn set_caches(&mut self, config: &Config) {
        self.caches = CacheDecl::of(config);
    }

    /// A reload's new thresholds: the history's bound, the hysteresis, the recommendations'
    /// time to live and the guard's protections, from the next cycle on.
    pub fn reconfigure(&mut self, config: &Config) {
        let fresh = Governor::new(self.policy.clone(), config);
        self.history_max = fresh.history_max;
        self.hysteresis_ms = fresh.hysteresis_ms;
        self.ttl_ms = fresh.ttl_ms;
        self.limits = fresh.limits;
        while self.history.len() > self.history_max {
            self.history.pop_front();
        }
        self.set_caches(config);
    }

    fn account(&self) -> Option<policy::Account> {
        self.engine.as_ref().map(|s| policy::Account {
            equity: s.equity,
            peak_equity: s.peak_equity,
            start_of_day_equity: s.start_of_day_equity,
            losing_streak: if s.stop_loss_cooldown {
                self.limits.stop_loss_streak
            } else {
                0
            },
        })
    }

    /// Take a cycle's report: evaluate the policy, sync the recommendations, extend the
    /// history; the events to journal and the files to write, in order.
    pub fn evaluate(
        &mut self,
        report: Report,
        engine: Option<EngineStatus>,
        files: &Files,
        restartable: &dyn Fn(&str) -> bool,
        now: Timestamp,
    ) -> Vec<Step> {
        let mut out = Vec::new();
        self.engine = engine;
        self.kill_switch = files.kill_switch.engaged(self.engine.as_ref());
        let before = self.report.as_ref().map(|r| r.overall);
        if before != Some(report.overall) {
            out.push(Step::Ops(OpsEvent::HealthChanged {
                from: before.map(|o| o.as_str()),
                to: report.overall.as_str(),
                score: report.score,
                issues: report.issues.iter().map(|i| i.id.clone()).collect(),
            }));
        }
        let account = self.account();
        let input = policy::Input {
            kill_switch: self.kill_switch,
            report: &report,
            account: account.as_ref(),
        };
        let changed = policy::step(
            &mut self.policy,
            &input,
            &self.limits,
            self.hysteresis_ms,
            now,
        );
        if let Some(t) = &changed {
            out.push(Step::Ops(OpsEvent::policy_changed(t)));
        }
        self.outlook = policy::outlook(&self.policy, &input, self.hysteresis_ms, now);
        let advice: Vec<Advice> = report
            .issues
            .iter()
            .flat_map(|i| {
                let mut advice = health::recommend(i, restartable(&i.subsystem));
                advice.extend(health::lifecycle::recommend(
                    i,
                    self.modules.get(&i.subsystem),
                ));
                advice.extend(recommend_clear(i, &self.caches, &self.failures));
                advice.extend(health::venue::recommend_choices(
                    i,
                    self.engine.as_ref().map(|e| &e.venue),
                ));
                advice
            })
            .collect();
        let decided_before = self.approvals.decided.len();
        for id in self.approvals.sync(&advice, now, self.ttl_ms) {
            if let Some(r) = self.approvals.open.iter().find(|r| r.id == id) {
                out.push(Step::Ops(OpsEvent::RecommendationPending(r.clone())));
            }
        }
        health::clear::track_dirs(&mut self.clear_dirs, &self.approvals.open, &self.caches);
        for r in self.approvals.decided.iter().skip(decided_before) {
            out.push(Step::Ops(OpsEvent::RecommendationExpired(r.clone())));
        }
        self.history.push_back(HistoryEntry {
            at: now,
            overall: report.overall,
            score: report.score,
            policy: self.policy.policy,
            issues: report.issues.len(),
        });
        while self.history.len() > self.history_max.max(1) {
            self.history.pop_front();
        }
        self.report = Some(report);
        // The file is the supervisor's word to the engine: one replaced behind its back (a
        // copy, a hand edit, a forgery) is written again at once, so the engine — which
        // always takes a stricter policy — never trades less strictly than this one.
        let replaced = files.policy_file != Some((self.policy.policy, self.policy.releases));
        if changed.is_some() {
            out.push(self.write_policy(After::PersistChanged));
        } else if replaced {
            out.push(self.write_policy(After::Restored(self.policy.policy)));
        }
        out.push(self.write_report(After::HealthCycle));
        out
    }

    /// `state/policy.json` as it is now, and what follows its write.
    pub fn write_policy(&self, after: After) -> Step {
        Step::Write(FileWrite::Policy(self.policy.clone()), after)
    }

    /// `state/health.json` as it is now, and what follows its write.
    pub fn write_report(&self, after: After) -> Step {
        Step::Write(FileWrite::HealthReport(self.health_file()), after)
    }

    /// The report of the last cycle, or the policy alone before it (the one type of
    /// `state/health.json`, [`ballast_store::files::health`], and of the control socket's and
    /// `GET /v1/health`'s answer).
    pub fn health_file(&self) -> HealthFile {
        let Some(r) = self.report.as_ref() else {
            return HealthFile::Pending(Pending {
                overall: NotYet::Unknown,
                policy: self.policy.policy,
            });
        };
        let p = self.policy.policy;
        let skip = self.history.len().saturating_sub(HISTORY_IN_REPORT);
        HealthFile::Report(Box::new(HealthReport {
            version: None,
            at: r.at,
            overall: r.overall,
            score: r.score,
            policy: PolicyView {
                policy: p,
                since: self.policy.since,
                reason: self.policy.reason.clone(),
                trading_state: p.trading_state(),
                size_multiplier: p.size_multiplier(),
                floor: self.policy.floor,
                latches: self.policy.latches.clone(),
                kill_switch: self.kill_switch,
                outlook: self.outlook.clone(),
            },
            trading_allowed: p.trading_allowed() && !self.kill_switch,
            live_start: r.live_start_allowed().err(),
            subsystems: r.subsystems.clone(),
            issues: r.issues.clone(),
            recommendations: self.approvals.open.clone(),
            decided: self
                .approvals
                .decided
                .iter()
                .rev()
                .take(20)
                .cloned()
                .collect(),
            counts: r.counts.clone(),
            engine: self.engine.clone(),
            history: self.history.iter().skip(skip).cloned().collect(),
            live_gate: self.live_gate_now(r),
        }))
    }

    /// Principle 1's conditions as of the report `r` (`None`: nothing was asked).
    fn live_gate_now(&self, r: &Report) -> Option<ballast_core::live::Gate> {
        let asked = self.live.as_ref()?;
        let overall = r.overall.as_str();
        Some(ballast_core::live::gate(
            asked,
            &ballast_core::live::Observed {
                venue: self.engine.as_ref().map(|e| &e.venue),
                heal_dangerous: self.dangerous_said.as_deref(),
                health: Some(overall),
            },
        ))
    }

    /// Whether health allows a live engine start: score ≥ 50 and nothing CRITICAL or FAILED
    /// among the subsystems that do not depend on the engine running (the engine's own are
    /// unknown before it starts).
    pub fn live_gate(&self) -> Result<(), String> {
        self.report
            .as_ref()
            .map_or(Ok(()), Report::live_start_allowed_before_the_engine)
    }

    /// Whether reconciliation is clean enough to leave EMERGENCY_SHUTDOWN.
    pub fn reconciliation(&self) -> Result<(), String> {
        if let Some(s) = &self.engine {
            if s.orders_unknown > 0 {
                return Err(format!("{} order(s) in unknown state", s.orders_unknown));
            }
        }
        if self.dangerous > 0 {
            return Err(format!(
                "the self-heal reports {} dangerous finding(s)",
                self.dangerous
            ));
        }
        Ok(())
    }

    /// An operator releases EMERGENCY_SHUTDOWN, the latches and any floor (the policy file
    /// is then to be written). `Err(None)`: no report yet.
    pub fn release(
        &mut self,
        kill_switch: KillSwitchFiles,
        now: Timestamp,
    ) -> Result<Option<Transition>, Option<String>> {
        let Some(report) = self.report.clone() else {
            return Err(None);
        };
        self.kill_switch = kill_switch.engaged(self.engine.as_ref());
        // Latches are cleared by the release: the account does not re-trip them here.
        let input = policy::Input {
            kill_switch: self.kill_switch,
            report: &report,
            account: None,
        };
        let rec = self.reconciliation();
        let released = policy::release(&mut self.policy, &input, rec, now).map_err(Some)?;
        self.refresh_outlook(now);
        Ok(released)
    }

    /// The outlook follows every change of the policy, not only a cycle's: the report written
    /// after a release or an approved floor says where the new policy goes.
    fn refresh_outlook(&mut self, now: Timestamp) {
        let Some(report) = self.report.as_ref() else {
            return;
        };
        let account = self.account();
        let input = policy::Input {
            kill_switch: self.kill_switch,
            report,
            account: account.as_ref(),
        };
        self.outlook = policy::outlook(&self.policy, &input, self.hysteresis_ms, now);
    }

    /// Put an operator floor under the policy (pause trading, safe profile, defensive exit)
    /// and apply it now ([`policy::set_floor`]; the policy file is then to be written).
    pub fn set_floor(&mut self, floor: Policy, now: Timestamp) -> Option<Transition> {
        let changed = policy::set_floor(&mut self.policy, floor, now);
        self.refresh_outlook(now);
        changed
    }

    pub fn approve(&mut self, id: &str, now: Timestamp) -> Result<Recommendation, String> {
        self.approvals.approve(id, now)
    }

    pub fn reject(&mut self, id: &str, now: Timestamp) -> Result<Recommendation, String> {
        self.approvals.reject(id, now)
    }

    /// The health and policy summary `ballast status` shows.
    pub fn summary(&self) -> HealthSummary {
        let report = self.report.as_ref();
        HealthSummary {
            issues: report.map(|r| {
                r.issues
                    .iter()
                    .map(|i| {
                        format!(
                            "{} {}: {} — {}",
                            i.severity.as_str(),
                            i.id,
                            i.symptoms.join("; "),
                            i.policy.effect()
                        )
                    })
                    .collect()
            }),
            overall: report.map(|r| r.overall.as_str().to_owned()),
            pending: self
                .approvals
                .pending()
                .map(|r| PendingApproval {
                    expected: r.advice.expected.clone(),
                    expires: r.expires,
                    id: r.id.clone(),
                    risks: r.advice.risks.clone(),
                })
                .collect(),
            policy: self.policy.policy.as_str().to_owned(),
            policy_outlook: self.outlook.as_ref().map(|o| o.text.clone()),
            policy_reason: self.policy.reason.clone(),
            score: report.map(|r| r.score),
            // The core lists what it disabled.
            disabled: Vec::new(),
            disabled_problems: Vec::new(),
        }
    }
}
