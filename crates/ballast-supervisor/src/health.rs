//! The health monitor (SPEC §5): it registers the subsystems — the engine and what it reports
//! (data feed, broker, execution, guard, pipeline, universe, shadow), the journal, alerts,
//! logging, resources, the healer, each service, each `[[checks]]` entry — runs each one's
//! checks on its own interval with its latency, and hands the results to the pure core
//! ([`ballast_core::health`], [`ballast_core::policy`]) for the report, the issues, the
//! recommendations. The monitor only *measures*: its thread hands each cycle's report to the
//! supervisor's loop, whose [`crate::core::Governor`] decides the safety policy, the
//! recommendations waiting for approval and the bounded history; `governor.rs` here reads
//! and writes their files (`state/policy.json`, `state/health.json`, the kill switch).
//!
//! The monitor runs on its own thread: a slow check (an HTTP probe, a command) never delays
//! the supervisor's loop.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use ballast_core::config::{CheckConfig, CheckKind, Config};
use ballast_core::engine::{EngineStatus, MAX_STUCK};
use ballast_core::heal::{Component, FailureClass};
use ballast_core::health::{
    self, CheckResult, Issue, Report, Status, Subsystem, SubsystemHealth, rules,
};
use ballast_core::policy::{self, Policy, PolicyState};
use ballast_core::supervisor::{ServiceState, ShownState};
use ballast_core::{Clock, Timestamp};
use ballast_store::RealStorage;
use serde::Deserialize;

mod broker;
mod checks;
mod engine_settings;
mod governor;
mod reconfigure;

pub use checks::*;
pub use governor::*;

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
    /// The sinks whose last delivery attempt failed, and why (the alerts' delivery thread).
    pub alert_sinks_failing: Vec<(String, String)>,
    /// The policy in force and since when (the loop's governor decides it; the guard check
    /// compares the engine's with it).
    pub policy: Option<(Policy, Timestamp)>,
    /// The disabled `[[checks]]` and why: not run, reported DISABLED.
    pub disabled_checks: Vec<(String, String)>,
    /// What is wrong with the disabled list (`state/disabled.json`).
    pub disabled_problems: Vec<String>,
    /// The configuration file as last read, against the one in force.
    pub config_file: crate::core::FileSeen,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceBrief {
    pub name: String,
    /// Its state as shown (`RUNNING`, `HELD`, `WAITING (for …)`, `NOT_STARTED` before its
    /// first start, …).
    pub state: ShownState,
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
    /// The active chaos modes (only registered when some are).
    Chaos,
    /// The configuration file on disk against the one in force.
    Config,
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
    /// The engine's sends and sends without an answer over the last minute (the broker's
    /// error rate: a rate since the journal began would never decay).
    send_errors: health::rate::RateWindow,
    /// The policy in force, for the guard check.
    pub policy: Option<(Policy, Timestamp)>,
    /// When `config` came in force (the start, a reload), for the engine's settings check.
    config_since: Timestamp,
    services_seen: Option<Vec<ServiceBrief>>,
    disabled_seen: Vec<(String, String)>,
    /// How long each resource figure has been past its threshold ([`rules::Sustained`]).
    resource_windows: BTreeMap<String, rules::Sustained>,
    /// The first cycle, on the supervisor's loop: the user's checks wait for the thread.
    defer_user: bool,
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
        let crit = ballast_core::time::ms_from_secs(h.critical_interval_secs);
        let supp = ballast_core::time::ms_from_secs(h.interval_secs);
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
        // A chaos run is never mistaken for a clean one: critical, so its DEGRADED is the
        // overall status's; it impacts no trading (the faults' own effects are checked).
        if !ballast_core::chaos::ChaosPlan::of(&config).is_empty() {
            add(sub("chaos", true, false, &[], crit), Probe::Chaos);
        }
        for s in &config.services {
            let deps: Vec<String> = s
                .depends_on
                .iter()
                .map(|d| health::SubsystemId::of_service(d).to_string())
                .collect();
            let critical = s.kind == ballast_core::config::ServiceKind::Critical;
            add(
                Subsystem {
                    name: health::SubsystemId::Service(s.name.clone()).to_string(),
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
                n => ballast_core::time::ms_from_secs(n),
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
            config_since: clock.now(),
            clock,
            entries,
            sys: sysinfo::System::new(),
            issues: Vec::new(),
            exits,
            engine: None,
            send_errors: health::rate::RateWindow::new(health::rate::SEND_ERRORS_WINDOW_MS),
            policy: None,
            services_seen: None,
            disabled_seen: Vec::new(),
            resource_windows: BTreeMap::new(),
            defer_user: false,
        }
    }

    /// The first cycle, taken on the supervisor's loop before any service starts: every
    /// check but the user's `[[checks]]` (a command may take its whole timeout), which are
    /// UNKNOWN (pending) until the monitor's thread runs them at once.
    pub fn first_cycle(&mut self, inputs: &Inputs) -> Report {
        self.defer_user = true;
        let report = self.cycle(inputs, true);
        self.defer_user = false;
        report
    }

    /// One cycle: run every check that is due (all of them with `force`), then build the
    /// report from the latest results of each subsystem.
    pub fn cycle(&mut self, inputs: &Inputs, force: bool) -> Report {
        let now_i = Instant::now();
        let now = self.clock.now();
        let had_engine = self.engine.is_some();
        self.engine = self.read_engine(now);
        if let Some((s, _)) = &self.engine {
            self.send_errors
                .observe(now, s.unknown_outcomes, s.orders_sent);
        }
        let engine_changed = had_engine != self.engine.is_some();
        // A service changed state: its check (and the engine's) runs now, not at its interval.
        let services_changed = self.services_seen.as_ref() != Some(&inputs.services);
        if services_changed {
            self.services_seen = Some(inputs.services.clone());
        }
        // A check disabled or enabled: its result changes now, not at its interval.
        let disabled_changed = self.disabled_seen != inputs.disabled_checks;
        if disabled_changed {
            self.disabled_seen = inputs.disabled_checks.clone();
        }
        for i in 0..self.entries.len() {
            // Event-driven besides the interval: a service's state changed, or the engine's
            // report appeared or went away.
            let event = (services_changed
                && matches!(self.entries[i].probe, Probe::Engine | Probe::Service(_)))
                || (engine_changed && self.entries[i].probe.reads_engine())
                || (disabled_changed && matches!(self.entries[i].probe, Probe::User(_)));
            // The configuration file's check only reads what the loop found: every cycle.
            let event = event || matches!(self.entries[i].probe, Probe::Config);
            let due = force || event || self.entries[i].due.is_none_or(|d| d <= now_i);
            if !due {
                continue;
            }
            if let (true, Probe::User(c)) = (self.defer_user, &self.entries[i].probe) {
                if !inputs.disabled_checks.iter().any(|(n, _)| *n == c.name) {
                    // Left due: the monitor's thread runs it at its first cycle.
                    self.entries[i].last = vec![checks::pending()];
                    continue;
                }
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
        let layout = ballast_store::Layout::new(&self.data_dir);
        let hb = ballast_store::files::heartbeat::read(&RealStorage, &layout).ok()?;
        // Not clamped: a heartbeat dated in the future is no sign of life (`staleness`).
        Some((hb.status, now.ms_since(hb.time)))
    }

    fn run_probe(&mut self, i: usize, inputs: &Inputs, now: Timestamp) -> Vec<CheckResult> {
        let started = Instant::now();
        let mut results = match &self.entries[i].probe {
            Probe::Engine => vec![self.engine_check(inputs)],
            Probe::DataFeed => vec![self.feed_check()],
            Probe::Broker => vec![
                self.broker_check(),
                self.engine_check_of("compat", health::venue::compat),
                self.engine_check_of("reconciliation", health::venue::reconciliation),
            ],
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
            Probe::Guard => vec![self.guard_check(now), self.settings_check()],
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
            Probe::Alerts => vec![ops_journal_check(inputs), alert_delivery_check(inputs)],
            Probe::Logging => vec![self.logging_check()],
            Probe::Resources => self.resources(now),
            Probe::Heal => vec![heal_check(inputs), checks::disabled_list(inputs)],
            Probe::Chaos => vec![checks::chaos_check(&self.config)],
            Probe::Config => reconfigure::config_checks(inputs),
            Probe::Service(name) => vec![service_check(name, inputs)],
            Probe::User(c) => match inputs.disabled_checks.iter().find(|(n, _)| *n == c.name) {
                Some((_, why)) => vec![CheckResult::new(
                    "check",
                    Status::Disabled,
                    format!(
                        "DISABLED: {why} (not run; `ballast enable {}` runs it again)",
                        c.name
                    ),
                )],
                None => vec![user_check(c, &self.exits, now)],
            },
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
            .map(|s| (&s.state, s.last_exit.clone()));
        match state {
            Some((ShownState::Is(ServiceState::Running), _)) | None => {
                let age = self.engine.as_ref().map(|(_, a)| *a);
                let st = health::staleness(
                    age,
                    ballast_core::time::ms_from_secs(h.engine_degraded_secs),
                    ballast_core::time::ms_from_secs(h.engine_critical_secs),
                );
                CheckResult::new(
                    "loop",
                    st,
                    match age {
                        Some(a) => format!(
                            "heartbeat {} (degraded at {}, critical at {})",
                            health::age_said(a, "old"),
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
            ballast_core::time::ms_from_secs(h.feed_degraded_secs),
            ballast_core::time::ms_from_secs(h.feed_critical_secs),
        );
        // On the backup feed ([feed.backup]) the bars' age is the backup's: trading goes on, as
        // the operator declared it may (a DEGRADED feed would stop new trades), and the detail
        // says where the bars come from.
        let feed = match s.feed {
            ballast_core::market::fallback::FeedSource::Backup => {
                "on the BACKUP feed (the primary is stale): "
            }
            ballast_core::market::fallback::FeedSource::Primary => "",
        };
        CheckResult::new(
            "bar_age",
            st,
            format!(
                "{feed}last bar {} (market time {}), {} bars (degraded at {}, critical at {})",
                health::age_said(*age, "ago"),
                s.market_time.map_or("-".into(), |t| t.to_string()),
                s.bars,
                ballast_core::time::Human::secs(u64::from(h.feed_degraded_secs)),
                ballast_core::time::Human::secs(u64::from(h.feed_critical_secs))
            ),
        )
    }

    fn guard_check(&self, now: Timestamp) -> CheckResult {
        let grace = ballast_core::time::ms_from_secs(self.config.health.engine_degraded_secs);
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
        let logs = ballast_store::Layout::new(&self.data_dir).logs();
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
        let window_ms = ballast_core::time::ms_from_secs(h.resource_window_secs);
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
        .filter(|(c, ..)| Component::parse(c).is_engine_owned())
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
        .filter(|(c, ..)| !Component::parse(c).is_engine_owned())
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
