//! The health monitor (SPEC §5): it registers the subsystems — the engine and what it reports
//! (data feed, broker, execution, guard, pipeline, universe, shadow), the journal, alerts,
//! logging, resources, the healer, each service, each `[[checks]]` entry — runs each one's
//! checks on its own interval with its latency, and hands the results to the pure core
//! ([`ballast_core::health`], [`ballast_core::policy`]) for the report, the issues, the
//! recommendations and the safety policy. The [`Governor`] keeps what must outlive a cycle:
//! the policy (persisted in `state/policy.json`), the recommendations waiting for approval,
//! and the bounded history; it writes `state/health.json` every cycle.
//!
//! The monitor runs on its own thread: a slow check (an HTTP probe, a command) never delays
//! the supervisor's loop.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use ballast_core::config::{CheckConfig, CheckKind, Config};
use ballast_core::engine::{EngineStatus, MAX_STUCK};
use ballast_core::heal::FailureClass;
use ballast_core::health::{
    self, Advice, Approvals, CheckResult, Issue, Recommendation, Report, Status, Subsystem,
    SubsystemHealth, rules,
};
use ballast_core::policy::{self, Policy, PolicyState, Protections, Transition};
use ballast_core::{Clock, Timestamp};
use ballast_store::{RealStorage, Storage};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// What the supervisor's loop tells the monitor about its services and the healer.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    pub services: Vec<ServiceBrief>,
    /// Dangerous findings and failed heals of the last sweep, as (component, target, reason,
    /// failure class).
    pub heal_findings: Vec<(String, String, String, FailureClass)>,
    /// Ops-journal events dropped so far, and whether its writer failed.
    pub ops_dropped: u64,
    pub ops_failed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceBrief {
    pub name: String,
    /// `RUNNING`, `STARTING`, `BACKOFF`, `FAILED`, `FAILED_CONFIG`, `STOPPED`, `HELD`, or
    /// `NOT_STARTED` before its first start.
    pub state: String,
    pub critical: bool,
    pub depends_on: Vec<String>,
    pub last_exit: Option<String>,
}

/// Exit statuses of children the supervisor's loop reaped but does not own (a `command`
/// check's process): the loop reaps every child as the subreaper, so the monitor looks its
/// check's status up here. Bounded: the most recent [`ForeignExits::MAX`].
#[derive(Debug, Default)]
pub struct ForeignExits {
    exits: Mutex<VecDeque<(i32, Option<i32>)>>,
    changed: Condvar,
}

impl ForeignExits {
    pub const MAX: usize = 256;

    /// The loop reaped `pid` (exit code, `None` when killed by a signal).
    pub fn record(&self, pid: i32, code: Option<i32>) {
        let Ok(mut e) = self.exits.lock() else { return };
        if e.len() >= Self::MAX {
            e.pop_front();
        }
        e.push_back((pid, code));
        self.changed.notify_all();
    }

    /// Wait up to `timeout` for `pid`'s exit to be recorded.
    fn take(&self, pid: i32, timeout: Duration) -> Option<Option<i32>> {
        let deadline = Instant::now() + timeout;
        let mut e = self.exits.lock().ok()?;
        loop {
            if let Some(i) = e.iter().position(|(p, _)| *p == pid) {
                return e.remove(i).map(|(_, c)| c);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            e = self.changed.wait_timeout(e, left).ok()?.0;
        }
    }
}

enum Probe {
    Engine,
    DataFeed,
    Broker,
    Execution,
    Guard,
    Journal,
    Universe,
    Shadow,
    Pipeline,
    Alerts,
    Logging,
    Resources,
    Heal,
    Service(String),
    User(Box<CheckConfig>),
}

impl Probe {
    /// Computed from the engine's heartbeat.
    fn reads_engine(&self) -> bool {
        matches!(
            self,
            Probe::Engine
                | Probe::DataFeed
                | Probe::Broker
                | Probe::Execution
                | Probe::Guard
                | Probe::Universe
                | Probe::Shadow
                | Probe::Pipeline
        )
    }
}

struct Entry {
    subsystem: Subsystem,
    probe: Probe,
    due: Option<Instant>,
    last: Vec<CheckResult>,
    checked_at: Option<Timestamp>,
}

/// The engine's heartbeat file as the monitor reads it.
#[derive(Debug, Clone, Deserialize)]
struct EngineHeartbeat {
    time: Timestamp,
    #[serde(default)]
    status: Option<EngineStatus>,
}

/// The health monitor of one data directory.
pub struct Monitor {
    data_dir: PathBuf,
    config: Arc<Config>,
    clock: Arc<dyn Clock>,
    entries: Vec<Entry>,
    sys: sysinfo::System,
    issues: Vec<Issue>,
    exits: Arc<ForeignExits>,
    /// The engine's status from its last heartbeat, and the heartbeat's age.
    engine: Option<(EngineStatus, i64)>,
    /// The policy in force, for the guard check.
    pub policy: Option<(Policy, Timestamp)>,
    services_seen: Option<Vec<ServiceBrief>>,
    /// How long each resource figure has been past its threshold ([`rules::Sustained`]).
    resource_windows: BTreeMap<String, rules::Sustained>,
}

fn sub(name: &str, critical: bool, trading: bool, deps: &[&str], interval_ms: i64) -> Subsystem {
    Subsystem {
        name: name.to_owned(),
        critical,
        impacts_trading: trading,
        depends_on: deps.iter().map(|d| (*d).to_owned()).collect(),
        interval_ms,
    }
}

impl Monitor {
    /// Register the subsystems of `config`: the engine's when it is enabled, the built-in
    /// ones, each service, each `[[checks]]` entry.
    pub fn new(
        data_dir: &Path,
        config: Arc<Config>,
        clock: Arc<dyn Clock>,
        exits: Arc<ForeignExits>,
    ) -> Monitor {
        let h = &config.health;
        let crit = i64::from(h.critical_interval_secs) * 1000;
        let supp = i64::from(h.interval_secs) * 1000;
        let mut entries = Vec::new();
        let mut add = |subsystem: Subsystem, probe: Probe| {
            entries.push(Entry {
                subsystem,
                probe,
                due: None,
                last: Vec::new(),
                checked_at: None,
            })
        };
        if config.engine.enabled {
            add(sub("engine", true, true, &[], crit), Probe::Engine);
            add(
                sub("data_feed", true, true, &["engine"], crit),
                Probe::DataFeed,
            );
            add(sub("broker", true, true, &["engine"], crit), Probe::Broker);
            add(
                sub("execution", true, true, &["broker", "engine"], crit),
                Probe::Execution,
            );
            add(sub("guard", true, true, &["engine"], crit), Probe::Guard);
            add(
                sub("universe", false, true, &["data_feed"], supp),
                Probe::Universe,
            );
            add(
                sub("shadow", false, false, &["engine"], supp),
                Probe::Shadow,
            );
            add(
                sub("pipeline", false, true, &["engine"], supp),
                Probe::Pipeline,
            );
        }
        add(sub("journal", true, false, &[], crit), Probe::Journal);
        add(sub("alerts", false, false, &[], supp), Probe::Alerts);
        add(sub("logging", false, false, &[], supp), Probe::Logging);
        add(sub("resources", false, false, &[], supp), Probe::Resources);
        add(sub("heal", false, false, &[], supp), Probe::Heal);
        for s in &config.services {
            let deps: Vec<String> = s
                .depends_on
                .iter()
                .map(|d| {
                    if d == "engine" {
                        d.clone()
                    } else {
                        format!("service:{d}")
                    }
                })
                .collect();
            let critical = s.kind == ballast_core::config::ServiceKind::Critical;
            add(
                Subsystem {
                    name: format!("service:{}", s.name),
                    critical,
                    impacts_trading: false,
                    depends_on: deps,
                    interval_ms: if critical { crit } else { supp },
                },
                Probe::Service(s.name.clone()),
            );
        }
        for c in &config.checks {
            let interval = match c.interval_secs {
                0 if c.critical => crit,
                0 => supp,
                n => i64::from(n) * 1000,
            };
            add(
                Subsystem {
                    name: c.name.clone(),
                    critical: c.critical,
                    impacts_trading: c.impacts_trading,
                    depends_on: c.depends_on.clone(),
                    interval_ms: interval,
                },
                Probe::User(Box::new(c.clone())),
            );
        }
        Monitor {
            data_dir: data_dir.to_owned(),
            config,
            clock,
            entries,
            sys: sysinfo::System::new(),
            issues: Vec::new(),
            exits,
            engine: None,
            policy: None,
            services_seen: None,
            resource_windows: BTreeMap::new(),
        }
    }

    /// One cycle: run every check that is due (all of them with `force`), then build the
    /// report from the latest results of each subsystem.
    pub fn cycle(&mut self, inputs: &Inputs, force: bool) -> Report {
        let now_i = Instant::now();
        let now = self.clock.now();
        let had_engine = self.engine.is_some();
        self.engine = self.read_engine(now);
        let engine_changed = had_engine != self.engine.is_some();
        // A service changed state: its check (and the engine's) runs now, not at its interval.
        let services_changed = self.services_seen.as_ref() != Some(&inputs.services);
        if services_changed {
            self.services_seen = Some(inputs.services.clone());
        }
        for i in 0..self.entries.len() {
            // Event-driven besides the interval: a service's state changed, or the engine's
            // report appeared or went away.
            let event = (services_changed
                && matches!(self.entries[i].probe, Probe::Engine | Probe::Service(_)))
                || (engine_changed && self.entries[i].probe.reads_engine());
            let due = force || event || self.entries[i].due.is_none_or(|d| d <= now_i);
            if !due {
                continue;
            }
            let checks = self.run_probe(i, inputs, now);
            let e = &mut self.entries[i];
            e.last = checks;
            e.checked_at = Some(now);
            e.due =
                Some(now_i + Duration::from_millis(e.subsystem.interval_ms.max(0).unsigned_abs()));
        }
        let subsystems: Vec<SubsystemHealth> = self
            .entries
            .iter()
            .map(|e| {
                let mut s = SubsystemHealth::new(
                    e.subsystem.clone(),
                    e.last.clone(),
                    e.checked_at.unwrap_or(now),
                );
                s.checked_at = e.checked_at;
                s
            })
            .collect();
        let report = Report::build(subsystems, &self.issues, now);
        self.issues = report.issues.clone();
        report
    }

    /// The engine's status from `run/engine.heartbeat` (and the heartbeat's age).
    pub fn engine_status(&self) -> Option<&EngineStatus> {
        self.engine.as_ref().map(|(s, _)| s)
    }

    fn read_engine(&self, now: Timestamp) -> Option<(EngineStatus, i64)> {
        let text = ballast_store::bounded::read_own_string(
            &self.data_dir.join("run/engine.heartbeat"),
            ballast_store::bounded::MAX_FILE_BYTES,
        )
        .ok()?;
        let hb: EngineHeartbeat = serde_json::from_str(&text).ok()?;
        Some((hb.status.unwrap_or_default(), now.ms_since(hb.time).max(0)))
    }

    fn run_probe(&mut self, i: usize, inputs: &Inputs, now: Timestamp) -> Vec<CheckResult> {
        let started = Instant::now();
        let mut results = match &self.entries[i].probe {
            Probe::Engine => vec![self.engine_check(inputs)],
            Probe::DataFeed => vec![self.feed_check()],
            Probe::Broker => vec![self.broker_check()],
            Probe::Execution => vec![self.engine_figure("unknown_orders", |s| {
                if s.orders_unknown == 0 {
                    (
                        Status::Healthy,
                        format!("{} open order(s), none unknown", s.orders_open),
                    )
                } else {
                    (
                        Status::Degraded,
                        format!(
                            "{} order(s) in unknown state: being reconciled by lookup",
                            s.orders_unknown
                        ),
                    )
                }
            })],
            Probe::Guard => vec![self.guard_check(now)],
            Probe::Universe => vec![self.engine_figure("eligible", |s| {
                if s.universe_eligible == 0 && s.universe_symbols > 0 {
                    (
                        Status::Degraded,
                        format!("none of {} symbols is eligible", s.universe_symbols),
                    )
                } else {
                    (
                        Status::Healthy,
                        format!("{} of {} eligible", s.universe_eligible, s.universe_symbols),
                    )
                }
            })],
            Probe::Shadow => vec![self.engine_figure("running", |s| {
                (
                    Status::Healthy,
                    format!("{} shadow trade(s) followed", s.shadow_trades),
                )
            })],
            Probe::Pipeline => vec![self.engine_figure("stuck_signals", |s| {
                let st = rules::stuck_signals(s.signals_stuck, MAX_STUCK);
                (
                    st,
                    format!(
                        "{} stuck of {} in flight (critical above {MAX_STUCK})",
                        s.signals_stuck, s.signals_in_flight
                    ),
                )
            })],
            Probe::Journal => vec![journal_check(inputs)],
            Probe::Alerts => vec![if inputs.ops_failed {
                CheckResult::new(
                    "ops_journal",
                    Status::Critical,
                    "the ops journal refused a write: alerts reach the log only",
                )
            } else if inputs.ops_dropped > 0 {
                CheckResult::new(
                    "ops_journal",
                    Status::Degraded,
                    format!(
                        "{} event(s) dropped: the ops journal's queue overflowed",
                        inputs.ops_dropped
                    ),
                )
            } else {
                CheckResult::new("ops_journal", Status::Healthy, "every event journaled")
            }],
            Probe::Logging => vec![self.logging_check()],
            Probe::Resources => self.resources(now),
            Probe::Heal => vec![heal_check(inputs)],
            Probe::Service(name) => vec![service_check(name, inputs)],
            Probe::User(c) => vec![user_check(c, &self.exits, now)],
        };
        // A check that reports no latency of its own gets the probe's.
        let took = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let n = results.len().max(1) as u64;
        for r in &mut results {
            if r.latency_us == 0 {
                r.latency_us = took / n;
            }
        }
        results
    }

    fn engine_check(&self, inputs: &Inputs) -> CheckResult {
        let h = &self.config.health;
        let state = inputs
            .services
            .iter()
            .find(|s| s.name == "engine")
            .map(|s| (s.state.as_str(), s.last_exit.clone()));
        match state {
            Some(("RUNNING", _)) | None => {
                let age = self.engine.as_ref().map(|(_, a)| *a);
                let st = health::staleness(
                    age,
                    i64::from(h.engine_degraded_secs) * 1000,
                    i64::from(h.engine_critical_secs) * 1000,
                );
                CheckResult::new(
                    "loop",
                    st,
                    match age {
                        Some(a) => format!(
                            "heartbeat {} old (degraded at {}, critical at {})",
                            ballast_core::time::Human(a.max(0).unsigned_abs()),
                            ballast_core::time::Human::secs(u64::from(h.engine_degraded_secs)),
                            ballast_core::time::Human::secs(u64::from(h.engine_critical_secs))
                        ),
                        None => "no heartbeat".into(),
                    },
                )
            }
            Some((state, last)) => {
                let (st, failure) = rules::service(state);
                let mut r = CheckResult::new(
                    "loop",
                    st,
                    format!(
                        "engine {state}{}",
                        last.as_ref().map(|l| format!(": {l}")).unwrap_or_default()
                    ),
                );
                r.failure = failure;
                r.root_cause = last;
                r
            }
        }
    }

    /// A check from the engine's status (UNKNOWN while the engine has not reported).
    fn engine_figure(
        &self,
        name: &str,
        f: impl Fn(&EngineStatus) -> (Status, String),
    ) -> CheckResult {
        match &self.engine {
            Some((s, _)) => {
                let (st, detail) = f(s);
                CheckResult::new(name, st, detail)
            }
            None => CheckResult::new(name, Status::Unknown, "the engine has not reported yet"),
        }
    }

    fn feed_check(&self) -> CheckResult {
        let h = &self.config.health;
        let Some((s, age)) = &self.engine else {
            return CheckResult::new(
                "bar_age",
                Status::Unknown,
                "the engine has not reported yet",
            );
        };
        let st = health::staleness(
            Some(*age),
            i64::from(h.feed_degraded_secs) * 1000,
            i64::from(h.feed_critical_secs) * 1000,
        );
        CheckResult::new(
            "bar_age",
            st,
            format!(
                "last bar {} ago (market time {}), {} bars (degraded at {}, critical at {})",
                ballast_core::time::Human((*age).max(0).unsigned_abs()),
                s.market_time.map_or("-".into(), |t| t.to_string()),
                s.bars,
                ballast_core::time::Human::secs(u64::from(h.feed_degraded_secs)),
                ballast_core::time::Human::secs(u64::from(h.feed_critical_secs))
            ),
        )
    }

    fn broker_check(&self) -> CheckResult {
        let h = &self.config.health;
        self.engine_figure("errors", |s| {
            let st = health::error_rate(
                s.unknown_outcomes,
                s.orders_sent,
                h.error_rate_degraded_pct,
                h.error_rate_critical_pct,
            );
            (
                st,
                format!(
                    "paper venue: {} of {} send(s) without an answer, {} refused (degraded at {} %)",
                    s.unknown_outcomes, s.orders_sent, s.venue_rejections, h.error_rate_degraded_pct
                ),
            )
        })
    }

    fn guard_check(&self, now: Timestamp) -> CheckResult {
        let grace = i64::from(self.config.health.engine_degraded_secs) * 1000;
        let policy = self.policy;
        self.engine_figure("policy_applied", |s| {
            let applied = s.policy.unwrap_or(Policy::AllowAll);
            match policy {
                Some((want, since)) if want != applied && now.ms_since(since) > grace => (
                    Status::Degraded,
                    format!(
                        "the engine trades under {} but the policy is {} since {} s",
                        applied.as_str(),
                        want.as_str(),
                        now.ms_since(since) / 1000
                    ),
                ),
                _ => (
                    Status::Healthy,
                    format!(
                        "{} under {}{}, {} rejection(s) so far",
                        s.trading_state,
                        applied.as_str(),
                        if s.kill_switch { ", kill switch" } else { "" },
                        s.guard_rejections
                    ),
                ),
            }
        })
    }

    fn logging_check(&self) -> CheckResult {
        let logs = self.data_dir.join("logs");
        match rustix::fs::access(&logs, rustix::fs::Access::WRITE_OK) {
            Ok(()) => CheckResult::new("writable", Status::Healthy, "logs/ is writable"),
            Err(e) => {
                let mut r = CheckResult::new(
                    "writable",
                    Status::Critical,
                    format!("logs/ cannot be written: {}", std::io::Error::from(e)),
                );
                r.root_cause = Some("permissions or a missing directory".into());
                r
            }
        }
    }

    /// CPU, memory, free disk and file descriptors, each counted only once it has stayed past
    /// its threshold for `[health] resource_window_secs` (free disk below a third of its
    /// minimum at once).
    fn resources(&mut self, now: Timestamp) -> Vec<CheckResult> {
        let h = &self.config.health;
        // Each figure measured with its own latency; what it means is the core's rule.
        let timed = |f: &mut dyn FnMut() -> CheckResult| {
            let t = Instant::now();
            let mut r = f();
            r.latency_us = micros(t);
            r
        };
        let sys = &mut self.sys;
        let cpu = timed(&mut || {
            sys.refresh_cpu_usage();
            let cpu = sys.global_cpu_usage().round() as u64;
            CheckResult::new(
                "cpu",
                rules::level(cpu, h.cpu_degraded_pct, rules::CPU_CRITICAL_PCT),
                format!("{cpu} % (degraded at {} %)", h.cpu_degraded_pct),
            )
        });
        let memory = timed(&mut || {
            sys.refresh_memory();
            let mem = sys.used_memory().saturating_mul(100) / sys.total_memory().max(1);
            CheckResult::new(
                "memory",
                rules::level(mem, h.memory_degraded_pct, rules::MEMORY_CRITICAL_PCT),
                format!("{mem} % used (degraded at {} %)", h.memory_degraded_pct),
            )
        });
        let data_dir = &self.data_dir;
        let disk = timed(&mut || match rustix::fs::statvfs(data_dir) {
            Ok(v) => {
                let free = v.f_bavail.saturating_mul(100) / v.f_blocks.max(1);
                CheckResult::new(
                    "disk_free",
                    rules::disk_free(free, h.disk_free_min_pct),
                    format!(
                        "{free} % free on the data directory's file system (degraded below {} %)",
                        h.disk_free_min_pct
                    ),
                )
            }
            Err(e) => CheckResult::new(
                "disk_free",
                Status::Unknown,
                format!("statvfs: {}", std::io::Error::from(e)),
            ),
        });
        let fds = timed(&mut || {
            let open = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64);
            let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile)
                .current
                .unwrap_or(u64::MAX)
                .max(1);
            CheckResult::new(
                "open_fds",
                health::at_most(
                    open.saturating_mul(100) / limit,
                    rules::FDS_DEGRADED_PCT,
                    rules::FDS_CRITICAL_PCT,
                ),
                format!("{open} of {limit} file descriptors"),
            )
        });
        let window_ms = i64::from(h.resource_window_secs) * 1000;
        let mut out = vec![cpu, memory, disk, fds];
        for r in &mut out {
            let held = self
                .resource_windows
                .entry(r.name.clone())
                .or_default()
                .observe(r.status, now, window_ms, r.name == "disk_free");
            r.detail = rules::sustained_detail(&r.detail, &held);
            r.status = held.status;
        }
        out
    }
}

fn micros(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_micros())
        .unwrap_or(u64::MAX)
        .max(1)
}

fn journal_check(inputs: &Inputs) -> CheckResult {
    let bad: Vec<&(String, String, String, FailureClass)> = inputs
        .heal_findings
        .iter()
        .filter(|(c, ..)| crate::heal::ENGINE_OWNED.contains(&c.as_str()))
        .collect();
    match bad.first() {
        None => CheckResult::new(
            "integrity",
            Status::Healthy,
            "journal, snapshots and engine state pass the self-heal's checks",
        ),
        Some((c, target, reason, class)) => {
            let mut r = CheckResult::new(
                "integrity",
                Status::Critical,
                format!(
                    "{} dangerous finding(s) of the self-heal in the engine's journal, snapshots or state; first: {c} {target}",
                    bad.len()
                ),
            );
            // What is wrong there: the symptom names where, the cause says what.
            r.root_cause = Some(reason.clone());
            r.failure = Some(*class)
                .filter(|c| matches!(c, FailureClass::CodeSchema | FailureClass::PersistentConfig));
            r
        }
    }
}

fn heal_check(inputs: &Inputs) -> CheckResult {
    let other: Vec<_> = inputs
        .heal_findings
        .iter()
        .filter(|(c, ..)| !crate::heal::ENGINE_OWNED.contains(&c.as_str()))
        .collect();
    match other.first() {
        None => CheckResult::new(
            "findings",
            Status::Healthy,
            "nothing dangerous, every heal applied",
        ),
        Some((c, target, reason, _)) => CheckResult::new(
            "findings",
            Status::Critical,
            format!(
                "{} finding(s) need an operator; first: {c} {target}: {reason}",
                other.len()
            ),
        ),
    }
}

fn service_check(name: &str, inputs: &Inputs) -> CheckResult {
    let Some(s) = inputs.services.iter().find(|s| s.name == name) else {
        return CheckResult::new("state", Status::Unknown, "not supervised yet");
    };
    let (st, failure) = rules::service(&s.state);
    let mut r = CheckResult::new(
        "state",
        st,
        format!(
            "{}{}",
            s.state,
            s.last_exit
                .as_ref()
                .map(|l| format!(" (last exit: {l})"))
                .unwrap_or_default()
        ),
    );
    r.failure = failure;
    if st != Status::Healthy {
        r.root_cause = s.last_exit.clone();
    }
    r
}

/// Run one `[[checks]]` entry.
pub fn user_check(c: &CheckConfig, exits: &ForeignExits, now: Timestamp) -> CheckResult {
    let timeout = Duration::from_millis(u64::from(c.timeout_ms));
    let t = Instant::now();
    let mut r = match c.kind {
        CheckKind::FileAge => {
            let age = std::fs::metadata(&c.path)
                .and_then(|m| m.modified())
                .ok()
                .map(|m| {
                    let ms = m
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
                    now.unix_ms().saturating_sub(ms).max(0)
                });
            let st = health::staleness(
                age,
                i64::from(c.healthy_max_age_secs) * 1000,
                i64::from(c.degraded_max_age_secs) * 1000,
            );
            CheckResult::new(
                "file_age",
                st,
                match age {
                    Some(a) => format!(
                        "{} is {} old (healthy under {}, degraded under {})",
                        c.path,
                        ballast_core::time::Human(a.max(0).unsigned_abs()),
                        ballast_core::time::Human::secs(u64::from(c.healthy_max_age_secs)),
                        ballast_core::time::Human::secs(u64::from(c.degraded_max_age_secs))
                    ),
                    None => format!("{} is missing", c.path),
                },
            )
        }
        CheckKind::FilesPresent => {
            let missing: Vec<&String> = c.paths.iter().filter(|p| !Path::new(p).exists()).collect();
            let found = (c.paths.len() - missing.len()) as u64;
            let st = health::at_least(found, c.paths.len() as u64, u64::from(c.degraded_min));
            CheckResult::new(
                "files_present",
                st,
                if missing.is_empty() {
                    format!("all {} present", c.paths.len())
                } else {
                    format!(
                        "{found} of {} present (degraded from {}); missing: {}",
                        c.paths.len(),
                        c.degraded_min,
                        missing
                            .iter()
                            .take(5)
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                },
            )
        }
        CheckKind::Http => match crate::http_status(&c.url, timeout) {
            Ok(code) if (200..300).contains(&code) => {
                CheckResult::new("http", Status::Healthy, format!("GET {} -> {code}", c.url))
            }
            Ok(code) => {
                let mut r =
                    CheckResult::new("http", Status::Critical, format!("GET {} -> {code}", c.url));
                r.root_cause = Some(format!("HTTP {code}"));
                r
            }
            Err(e) => {
                let mut r =
                    CheckResult::new("http", Status::Critical, format!("GET {}: {e}", c.url));
                r.root_cause = Some(e);
                r
            }
        },
        CheckKind::Tcp => {
            let addr = std::net::ToSocketAddrs::to_socket_addrs(&c.address)
                .ok()
                .and_then(|mut a| a.next());
            let res = match addr {
                Some(a) => {
                    std::net::TcpStream::connect_timeout(&a, timeout).map_err(|e| e.to_string())
                }
                None => Err("cannot resolve the address".into()),
            };
            match res {
                Ok(_) => CheckResult::new(
                    "tcp",
                    Status::Healthy,
                    format!("{} accepts connections", c.address),
                ),
                Err(e) => {
                    let mut r =
                        CheckResult::new("tcp", Status::Critical, format!("{}: {e}", c.address));
                    r.root_cause = Some(e);
                    r
                }
            }
        }
        CheckKind::Process => {
            let found = process_matching(&c.pattern);
            match found {
                Some(pid) => CheckResult::new(
                    "process",
                    Status::Healthy,
                    format!("pid {pid} matches {:?}", c.pattern),
                ),
                None => CheckResult::new(
                    "process",
                    Status::Critical,
                    format!("no process matches {:?}", c.pattern),
                ),
            }
        }
        CheckKind::Command => command_check(c, exits, timeout),
    };
    r.latency_us = micros(t);
    r
}

/// A process (not this one) whose command line contains `pattern`.
fn process_matching(pattern: &str) -> Option<i32> {
    let me = std::process::id() as i32;
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let line: Vec<u8> = cmd
            .iter()
            .map(|b| if *b == 0 { b' ' } else { *b })
            .collect();
        if String::from_utf8_lossy(&line).contains(pattern) {
            return Some(pid);
        }
    }
    None
}

/// Run a `command` check: exit 0 healthy, 1 degraded, anything else (or the timeout)
/// critical; the first line of its output is the detail.
fn command_check(c: &CheckConfig, exits: &ForeignExits, timeout: Duration) -> CheckResult {
    use std::io::Read;
    use std::os::unix::process::CommandExt;
    let spawned = std::process::Command::new(&c.command)
        .args(&c.args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn();
    let mut child = match spawned {
        Ok(ch) => ch,
        Err(e) => {
            let mut r = CheckResult::new(
                "command",
                Status::Critical,
                format!("cannot run {}: {e}", c.command),
            );
            r.root_cause = Some(e.to_string());
            return r;
        }
    };
    let pid = child.id() as i32;
    let deadline = Instant::now() + timeout;
    // The loop reaps the child (it reaps every child as the subreaper); its status arrives
    // through `exits`. The pidfd tells when it ends without a poll loop.
    let pidfd = rustix::process::Pid::from_raw(pid)
        .and_then(|p| rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok());
    let ended = match &pidfd {
        Some(fd) => {
            let mut fds = [rustix::event::PollFd::new(fd, rustix::event::PollFlags::IN)];
            let ts = rustix::event::Timespec {
                tv_sec: i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX),
                tv_nsec: i64::from(timeout.subsec_nanos()),
            };
            matches!(rustix::event::poll(&mut fds, Some(&ts)), Ok(n) if n > 0)
        }
        None => true, // already gone (and reaped)
    };
    if !ended {
        if let Some(p) = rustix::process::Pid::from_raw(pid) {
            let _ = rustix::process::kill_process_group(p, rustix::process::Signal::KILL);
        }
        let _ = exits.take(pid, Duration::from_secs(1));
        return CheckResult::new(
            "command",
            Status::Critical,
            format!(
                "{} did not finish within {}",
                c.command,
                ballast_core::time::Human(u64::from(c.timeout_ms))
            ),
        );
    }
    let left = deadline.saturating_duration_since(Instant::now()) + Duration::from_millis(500);
    let code = exits
        .take(pid, left)
        .or_else(|| child.try_wait().ok().flatten().map(|s| s.code()));
    let mut out = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = (&mut o).take(4096).read_to_string(&mut out);
    }
    let first = out.lines().next().unwrap_or("").trim().to_owned();
    let (st, what) = match code {
        Some(Some(0)) => (Status::Healthy, "exit 0".to_owned()),
        Some(Some(1)) => (Status::Degraded, "exit 1".to_owned()),
        Some(Some(n)) => (Status::Critical, format!("exit {n}")),
        Some(None) => (Status::Critical, "killed by a signal".to_owned()),
        None => (Status::Unknown, "its exit status was not seen".to_owned()),
    };
    let mut r = CheckResult::new(
        "command",
        st,
        if first.is_empty() {
            format!("{}: {what}", c.command)
        } else {
            format!("{}: {what}: {first}", c.command)
        },
    );
    if st >= Status::Degraded && !first.is_empty() {
        r.root_cause = Some(first);
    }
    r
}

/// One point of the health timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub at: Timestamp,
    pub overall: health::Overall,
    pub score: u32,
    pub policy: Policy,
    pub issues: usize,
}

/// What outlives a health cycle: the policy, the recommendations, the history.
pub struct Governor {
    data_dir: PathBuf,
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
    /// Where the policy goes next by itself (the hysteresis countdown), as of the last cycle.
    pub outlook: Option<policy::Outlook>,
}

/// How many history entries `state/health.json` carries.
pub const HISTORY_IN_REPORT: usize = 100;

impl Governor {
    /// Load the persisted policy, checked against the engine's journal
    /// ([`policy::restore`]): a missing, damaged, hand-written or less strict file never
    /// re-arms trading — the last policy the engine journaled is the floor, and only a fresh
    /// data directory starts at ALLOW_ALL. A file that was not taken as it is is written
    /// again at once.
    pub fn load(
        data_dir: &Path,
        config: &Config,
        now: Timestamp,
        log: &mut dyn FnMut(&str),
    ) -> Governor {
        let path = data_dir.join("state/policy.json");
        // A file written for another data directory's journal (a copy, a restored backup) is
        // not this one's: its policy, releases and floors are not taken.
        let file = match read_policy_file(&path) {
            policy::FileRead::Valid(s)
                if s.journal.is_some()
                    && s.journal
                        != ballast_store::journal::identity(&data_dir.join("journal/engine")) =>
            {
                policy::FileRead::Unreadable(
                    "it was written for another data directory's journal (a copy or a restored backup)".into(),
                )
            }
            other => other,
        };
        let journal = journaled_policy(data_dir, log);
        let recorded = recorded_policy(data_dir, log);
        let restored = policy::restore(file, &journal, recorded, now);
        if let Some(w) = &restored.warning {
            log(w);
        } else if restored.state.policy != Policy::AllowAll {
            log(&format!(
                "safety policy {} kept from before the restart ({})",
                restored.state.policy.as_str(),
                restored.state.reason
            ));
        }
        let policy = restored.state;
        let guard = &config.guard;
        let g = Governor {
            data_dir: data_dir.to_owned(),
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
            outlook: None,
        };
        if restored.rewrite {
            if let Err(e) = g.persist_policy() {
                log(&format!(
                    "CRITICAL: cannot write {} ({e}): the engine keeps the policy it journaled",
                    path.display()
                ));
            }
        }
        g
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
    /// history, persist what changed and write `state/health.json`. Returns the events to
    /// journal.
    pub fn evaluate(
        &mut self,
        report: Report,
        engine: Option<EngineStatus>,
        restartable: &dyn Fn(&str) -> bool,
        now: Timestamp,
    ) -> Vec<(String, Value)> {
        let mut events = Vec::new();
        self.engine = engine;
        self.kill_switch = kill_switch_engaged(&self.data_dir, self.engine.as_ref());
        let before = self.report.as_ref().map(|r| r.overall);
        if before != Some(report.overall) {
            events.push((
                "health.changed".to_owned(),
                json!({
                    "from": before.map(|o| o.as_str()),
                    "to": report.overall.as_str(),
                    "score": report.score,
                    "issues": report.issues.iter().map(|i| &i.id).collect::<Vec<_>>(),
                }),
            ));
        }
        let account = self.account();
        let input = policy::Input {
            kill_switch: self.kill_switch,
            report: &report,
            account: account.as_ref(),
        };
        if let Some(t) = policy::step(
            &mut self.policy,
            &input,
            &self.limits,
            self.hysteresis_ms,
            now,
        ) {
            events.push(transition_event(&t));
        }
        self.outlook = policy::outlook(&self.policy, &input, self.hysteresis_ms, now);
        let advice: Vec<Advice> = report
            .issues
            .iter()
            .flat_map(|i| health::recommend(i, restartable(&i.subsystem)))
            .collect();
        let decided_before = self.approvals.decided.len();
        for id in self.approvals.sync(&advice, now, self.ttl_ms) {
            if let Some(r) = self.approvals.open.iter().find(|r| r.id == id) {
                events.push(("recommendation.pending".to_owned(), json!(r)));
            }
        }
        for r in self.approvals.decided.iter().skip(decided_before) {
            events.push(("recommendation.expired".to_owned(), json!(r)));
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
        let replaced = !matches!(
            read_policy_file(&self.data_dir.join("state/policy.json")),
            policy::FileRead::Valid(s)
                if s.policy == self.policy.policy && s.releases == self.policy.releases
        );
        let changed = events.iter().any(|(k, _)| k == "policy.changed");
        if replaced && !changed && self.persist_policy().is_ok() {
            events.push((
                "policy.file_restored".to_owned(),
                json!({ "policy": self.policy.policy.as_str(), "why": "state/policy.json was not the policy in force: written again" }),
            ));
        }
        if changed {
            if let Err(e) = self.persist_policy() {
                events.push((
                    "policy.persist_failed".to_owned(),
                    json!({ "error": e.to_string() }),
                ));
            }
        }
        if let Err(e) = self.write_report() {
            events.push((
                "health.write_failed".to_owned(),
                json!({ "error": e.to_string() }),
            ));
        }
        events
    }

    /// `state/policy.json`, durably (temp file, fdatasync, rename, directory fsync), with its
    /// checksum ([`policy::encode_file`]).
    pub fn persist_policy(&self) -> std::io::Result<()> {
        // Bound to this data directory's engine journal: a copy elsewhere lowers nothing.
        let mut p = self.policy.clone();
        if let Some(id) = ballast_store::journal::identity(&self.data_dir.join("journal/engine")) {
            p.journal = Some(id);
        }
        let body = policy::encode_file(&p);
        let dir = self.data_dir.join("state");
        RealStorage.create_dir_all(&dir)?;
        crate::heal::write_atomic(&RealStorage, &dir.join("policy.json"), &body)
    }

    /// The report as `state/health.json` and `GET /v1/health` carry it.
    pub fn report_json(&self) -> Value {
        let Some(r) = &self.report else {
            return json!({ "overall": "UNKNOWN", "policy": self.policy.policy.as_str() });
        };
        let p = self.policy.policy;
        let skip = self.history.len().saturating_sub(HISTORY_IN_REPORT);
        json!({
            "at": r.at,
            "overall": r.overall.as_str(),
            "score": r.score,
            "policy": {
                "policy": p.as_str(),
                "since": self.policy.since,
                "reason": self.policy.reason,
                "trading_state": p.trading_state(),
                "size_multiplier": p.size_multiplier(),
                "floor": self.policy.floor,
                "latches": self.policy.latches,
                "kill_switch": self.kill_switch,
                "outlook": self.outlook,
            },
            "trading_allowed": p.trading_allowed() && !self.kill_switch,
            "live_start": r.live_start_allowed().err(),
            "subsystems": r.subsystems,
            "issues": r.issues,
            "recommendations": self.approvals.open,
            "decided": self.approvals.decided.iter().rev().take(20).collect::<Vec<_>>(),
            "counts": r.counts,
            "engine": self.engine,
            "history": self.history.iter().skip(skip).collect::<Vec<_>>(),
        })
    }

    /// `state/health.json`, atomically (a reader never sees half of it; not synced: it is
    /// rewritten every cycle).
    pub fn write_report(&self) -> std::io::Result<()> {
        let dir = self.data_dir.join("state");
        let tmp = dir.join(".health.json.tmp");
        {
            let mut f = RealStorage.create_truncate(&tmp)?;
            f.write_all(
                &serde_json::to_vec_pretty(&self.report_json()).map_err(std::io::Error::other)?,
            )?;
        }
        std::fs::rename(&tmp, dir.join("health.json"))
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

    /// An operator releases EMERGENCY_SHUTDOWN, the latches and any floor.
    pub fn release(&mut self, now: Timestamp) -> Result<Option<Transition>, String> {
        let Some(report) = self.report.clone() else {
            return Err("no health report yet: try again in a moment".into());
        };
        self.kill_switch = kill_switch_engaged(&self.data_dir, self.engine.as_ref());
        // Latches are cleared by the release: the account does not re-trip them here.
        let input = policy::Input {
            kill_switch: self.kill_switch,
            report: &report,
            account: None,
        };
        let rec = self.reconciliation();
        let t = policy::release(&mut self.policy, &input, rec, now)?;
        self.persist_policy()
            .map_err(|e| format!("cannot persist the policy: {e}"))?;
        let _ = self.write_report();
        Ok(t)
    }

    /// Put an operator floor under the policy (pause trading, safe profile, defensive exit)
    /// and apply it now.
    pub fn set_floor(
        &mut self,
        floor: Policy,
        now: Timestamp,
    ) -> Result<Option<Transition>, String> {
        self.policy.floor = Some(self.policy.floor.map_or(floor, |f| f.max(floor)));
        let t = if floor > self.policy.policy {
            let t = Transition {
                from: self.policy.policy,
                to: floor,
                reason: format!("operator: {} until released", floor.as_str()),
                at: now,
            };
            self.policy.policy = floor;
            self.policy.since = now;
            self.policy.reason = t.reason.clone();
            Some(t)
        } else {
            None
        };
        self.persist_policy()
            .map_err(|e| format!("cannot persist the policy: {e}"))?;
        let _ = self.write_report();
        Ok(t)
    }

    pub fn approve(&mut self, id: &str, now: Timestamp) -> Result<Recommendation, String> {
        self.approvals.approve(id, now)
    }

    pub fn reject(&mut self, id: &str, now: Timestamp) -> Result<Recommendation, String> {
        let r = self.approvals.reject(id, now)?;
        let _ = self.write_report();
        Ok(r)
    }
}

/// `state/policy.json` as found: missing, unusable (why), or a file Ballast wrote.
fn read_policy_file(path: &Path) -> policy::FileRead {
    use ballast_store::bounded::{self, ReadError};
    let bytes = match bounded::read_own(path, bounded::MAX_FILE_BYTES) {
        Err(ReadError::NotFound { .. }) => return policy::FileRead::Missing,
        Err(e) => return policy::FileRead::Unreadable(e.to_string()),
        Ok(b) => b,
    };
    match policy::decode_file(&bytes) {
        Ok(s) => policy::FileRead::Valid(s),
        Err(e) => policy::FileRead::Unreadable(e),
    }
}

/// The last record of `kind` in the journal at `dir` (its valid prefix), as `T`, and how many
/// records the journal holds; a record that does not parse is reported and skipped.
fn last_record<T: serde::de::DeserializeOwned>(
    dir: &Path,
    kind: &str,
    log: &mut dyn FnMut(&str),
) -> Result<(u64, Option<T>), ballast_store::journal::scan::ScanError> {
    let mut last = None;
    let mut bad = None;
    let scan = ballast_store::journal::scan(&RealStorage, dir, &mut |rec| {
        if rec.kind == kind {
            match serde_json::from_str::<T>(rec.body.get()) {
                Ok(j) => last = Some(j),
                Err(e) => bad = Some(format!("seq {}: {e}", rec.seq)),
            }
        }
        Ok(())
    });
    match scan {
        Ok(s) => {
            if let Some(e) = bad {
                log(&format!(
                    "warning: a {kind} record of {} cannot be read ({e}); the last readable one is used",
                    dir.display()
                ));
            }
            Ok((s.records, last))
        }
        Err(ballast_store::journal::scan::ScanError::Io { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            Ok((0, None))
        }
        Err(e) => Err(e),
    }
}

/// The last `engine.policy` of the engine's journal (its valid prefix: a damaged journal is
/// the healer's and the engine's to refuse). A journal that cannot be read at all counts as
/// NO_NEW_TRADES: nothing says what the engine held, so nothing re-arms trading.
fn journaled_policy(data_dir: &Path, log: &mut dyn FnMut(&str)) -> policy::JournalView {
    let dir = ballast_store::Layout::new(data_dir).engine_journal();
    match last_record::<policy::Journaled>(&dir, ENGINE_POLICY, log) {
        Ok((0, _)) => policy::JournalView::Fresh,
        Ok((_, last)) => last.map_or(policy::JournalView::NeverChanged, policy::JournalView::Last),
        Err(e) => {
            log(&format!(
                "CRITICAL: the engine's journal cannot be read for its last policy ({e}): starting at NO_NEW_TRADES at least"
            ));
            policy::JournalView::Last(policy::Journaled {
                policy: Policy::NoNewTrades,
                reason: format!("the engine's journal could not be read: {e}"),
                releases: 0,
            })
        }
    }
}

/// The policy of the last `policy.changed` in the ops journal (what the supervisor decided,
/// whether or not an engine was there to journal it).
fn recorded_policy(data_dir: &Path, log: &mut dyn FnMut(&str)) -> Option<Policy> {
    #[derive(Deserialize)]
    struct Changed {
        to: Policy,
    }
    let dir = ballast_store::Layout::new(data_dir).ops_journal();
    match last_record::<Changed>(&dir, "policy.changed", log) {
        Ok((_, last)) => last.map(|c| c.to),
        Err(e) => {
            log(&format!(
                "warning: the ops journal cannot be read for the last policy change ({e}); the engine's journal decides alone"
            ));
            None
        }
    }
}

/// The engine's policy record type (`ballast_engine::runtime::POLICY`).
const ENGINE_POLICY: &str = "engine.policy";

/// The ops-journal event of a policy change.
pub fn transition_event(t: &Transition) -> (String, Value) {
    (
        "policy.changed".to_owned(),
        json!({
            "from": t.from.as_str(),
            "to": t.to.as_str(),
            "reason": t.reason,
            "at": t.at,
            "trading_state": t.to.trading_state(),
        }),
    )
}

/// Engage the kill switch: `KILL_SWITCH` in the data directory, durably (the file is the
/// switch, with or without a supervisor).
pub fn engage_kill_switch(
    data_dir: &Path,
    reason: &str,
    flatten: bool,
    by: &str,
    now: Timestamp,
) -> std::io::Result<PathBuf> {
    ballast_store::storage::create_dirs(data_dir, ballast_store::storage::DIR_MODE)?;
    let body = json!({
        "engaged_at": now,
        "reason": reason,
        "flatten": flatten,
        "by": by,
    });
    let path = data_dir.join("KILL_SWITCH");
    let mut text = body.to_string();
    text.push('\n');
    crate::heal::write_atomic(&RealStorage, &path, text.as_bytes())?;
    // A release written before this engagement releases nothing.
    match std::fs::remove_file(data_dir.join(KILL_SWITCH_RELEASE)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    Ok(path)
}

/// The release token `ballast resume` writes beside `KILL_SWITCH`.
pub const KILL_SWITCH_RELEASE: &str = "KILL_SWITCH.release";

/// Whether the kill switch is engaged: the engine's journaled switch (its last status) unless
/// a release from `ballast resume` waits for it, or a request to engage (`KILL_SWITCH`). A
/// `KILL_SWITCH` removed by hand releases nothing.
pub fn kill_switch_engaged(data_dir: &Path, engine: Option<&EngineStatus>) -> bool {
    data_dir.join("KILL_SWITCH").exists()
        || (engine.is_some_and(|e| e.kill_switch)
            && std::fs::symlink_metadata(data_dir.join(KILL_SWITCH_RELEASE)).is_err())
}

/// Keep only the serializable map of health for `ballast status`.
pub fn summary(g: &Governor) -> BTreeMap<&'static str, Value> {
    let mut m = BTreeMap::new();
    m.insert("policy", json!(g.policy.policy.as_str()));
    m.insert("policy_reason", json!(g.policy.reason));
    if let Some(o) = &g.outlook {
        m.insert("policy_outlook", json!(o.text));
    }
    if let Some(r) = &g.report {
        m.insert("overall", json!(r.overall.as_str()));
        m.insert("score", json!(r.score));
        m.insert(
            "issues",
            json!(
                r.issues
                    .iter()
                    .map(|i| format!(
                        "{} {}: {} — {}",
                        i.severity.as_str(),
                        i.id,
                        i.symptoms.join("; "),
                        i.policy.effect()
                    ))
                    .collect::<Vec<_>>()
            ),
        );
    }
    m.insert(
        "pending",
        json!(g.approvals.pending().map(|r| json!({"id": r.id, "expected": r.advice.expected, "risks": r.advice.risks, "expires": r.expires})).collect::<Vec<_>>()),
    );
    m
}
