//! The health monitor's persistent side: the safety policy (persisted in `state/policy.json`,
//! restored from the engine's journal at a start), the recommendations waiting for approval,
//! the bounded history and `state/health.json`; the kill switch's file.

use super::*;

pub use ballast_store::files::health::HistoryEntry;
use ballast_store::files::health::{HealthFile, HealthReport, NotYet, Pending, PolicyView};
use ballast_store::{Layout, files};

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
        let layout = Layout::new(data_dir);
        let path = layout.policy_file();
        // A file written for another data directory's journal (a copy, a restored backup) is
        // not this one's: its policy, releases and floors are not taken.
        let file = match files::policy::read_state(&RealStorage, &layout) {
            policy::FileRead::Valid(s)
                if s.journal.is_some()
                    && s.journal
                        != ballast_store::journal::identity(&layout.engine_journal()) =>
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
            hysteresis_ms: ballast_core::time::ms_from_secs(config.health.hysteresis_secs),
            ttl_ms: ballast_core::time::ms_from_secs(config.health.recommendation_ttl_secs),
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
            files::policy::read_state(&RealStorage, &self.layout()),
            policy::FileRead::Valid(s)
                if s.policy == self.policy.policy && s.releases == self.policy.releases
        );
        let changed = events.iter().any(|(k, _)| k == "policy.changed");
        if replaced && !changed && self.persist_policy().is_ok() {
            events.push((
                "policy.file_restored".to_owned(),
                json!({ "policy": self.policy.policy.as_str(), "why": format!("{} was not the policy in force: written again", ballast_store::layout::rel::POLICY) }),
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
        let layout = self.layout();
        if let Some(id) = ballast_store::journal::identity(&layout.engine_journal()) {
            p.journal = Some(id);
        }
        files::policy::write(&RealStorage, &layout, &p)
    }

    fn layout(&self) -> Layout {
        Layout::new(&self.data_dir)
    }

    /// The report as `state/health.json` and `GET /v1/health` carry it.
    pub fn report_json(&self) -> Value {
        self.health_file().to_value()
    }

    /// The report of the last cycle, or the policy alone before it ([`files::health`]).
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
        }))
    }

    /// `state/health.json`, atomically (a reader never sees half of it; not synced: it is
    /// rewritten every cycle).
    pub fn write_report(&self) -> std::io::Result<()> {
        files::health::write(&RealStorage, &self.layout(), &self.health_file())
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

/// The engine's policy record type.
const ENGINE_POLICY: &str = ballast_core::engine::kinds::POLICY;

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
    let layout = Layout::new(data_dir);
    let file = files::kill_switch::KillSwitch {
        version: files::VERSION,
        engaged_at: Some(now),
        reason: Some(reason.to_owned()),
        flatten,
        by: Some(by.to_owned()),
    };
    files::kill_switch::write(&RealStorage, &layout, &file)?;
    // A release written before this engagement releases nothing.
    match std::fs::remove_file(layout.kill_switch_release()) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    Ok(layout.kill_switch())
}

/// Whether the kill switch is engaged: the engine's journaled switch (its last status) unless
/// a release from `ballast resume` waits for it, or a request to engage (`KILL_SWITCH`). A
/// `KILL_SWITCH` removed by hand releases nothing.
pub fn kill_switch_engaged(data_dir: &Path, engine: Option<&EngineStatus>) -> bool {
    let layout = Layout::new(data_dir);
    layout.kill_switch().exists()
        || (engine.is_some_and(|e| e.kill_switch)
            && std::fs::symlink_metadata(layout.kill_switch_release()).is_err())
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
