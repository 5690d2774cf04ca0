//! `ballast reload` and SIGHUP (issue 12, item 1), decided: the configuration file as the
//! shell read it again (validated, or its errors), the pure plan against the configuration in
//! force (`ballast_core::config::reload::plan`), and the plan applied all or nothing — the
//! engine's settings written first (a failed write applies nothing), then the services
//! restarted alone, started or stopped, the health, heal, checks and artifacts handed over.
//! Every reload is one ops-journal event with its diff (secrets masked) and is logged.

use ballast_core::Timestamp;
use ballast_core::config::Config;
use ballast_core::config::reload::{self, Action, ReloadPlan};
use serde::Serialize;

use super::slot::Slot;
use super::{After, ControlError, FileWrite, Now, OpsEvent, Output, SupervisorCore, Token, View};
use crate::ServiceSpec;
use crate::protocol::{ConfigLoaded, ReloadAnswer, ReloadChange};

/// A configuration read again by the shell and validated completely.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// With its services' working directories resolved (as at the start).
    pub config: Config,
    /// The declared `[[services]]` as the supervisor runs them (the engine's own entry does
    /// not change live: what would change it is refused).
    pub services: Vec<ServiceSpec>,
    /// The file, as `ballast status` shows it.
    pub file: Option<String>,
    /// The hash of its bytes.
    pub hash: String,
    /// How it was read (stamps before and after, blank): a file that changed while it was
    /// read, or an empty one, is refused whole ([`reload::refusal`]).
    pub read: reload::FileRead,
}

/// A reload asked for: by an operator (`token`: the reply) or SIGHUP (`None`).
#[derive(Debug, Clone)]
pub struct Reload {
    pub token: Option<Token>,
    pub dry_run: bool,
    /// Who asked: `ballast reload`, `SIGHUP`.
    pub by: &'static str,
    /// The configuration, or every error it has (each as `ballast check` prints it).
    pub loaded: Result<Box<Loaded>, Vec<String>>,
    /// The approved `reload_config` recommendation it carries out, if so (its reply then
    /// says what `ballast approve` says).
    pub approval: Option<String>,
}

/// Where a reload's reply goes: the request's token, and the approved recommendation's id.
type ReplyTo = (Option<Token>, Option<String>);

/// The configuration in force.
pub(super) struct InForce {
    pub config: Box<Config>,
    pub file: Option<String>,
    pub hash: String,
    pub loaded_at: Option<Timestamp>,
    /// The last reload's outcome, in one line.
    pub last: Option<String>,
    /// Why the engine is held: the starting configuration's engine settings could not be
    /// written, so a file of an earlier configuration could be adopted.
    pub settings_refusal: Option<String>,
}

/// A reload waiting for its engine-settings write.
pub(super) struct Pending {
    token: Option<Token>,
    approval: Option<String>,
    by: &'static str,
    plan: ReloadPlan,
    loaded: Box<Loaded>,
}

/// A reload as the ops journal records it (`config.reloaded`, `config.reload_refused`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReloadRecord {
    pub by: &'static str,
    pub outcome: &'static str,
    pub file: Option<String>,
    pub hash: Option<String>,
    pub diff: Vec<ReloadChange>,
    pub actions: Vec<String>,
    pub refused: Vec<String>,
    pub errors: Vec<String>,
    /// What became of it.
    pub message: String,
}

impl ReloadRecord {
    fn answer(&self) -> ReloadAnswer {
        ReloadAnswer {
            outcome: self.outcome.to_owned(),
            file: self.file.clone(),
            hash: self.hash.clone(),
            diff: self.diff.clone(),
            actions: self.actions.clone(),
            refused: self.refused.clone(),
            errors: self.errors.clone(),
            message: self.message.clone(),
        }
    }
}

/// `state/engine-settings.json`'s content for `config` (its file's hash `hash`), now.
fn settings_file(config: &Config, hash: &str, now: Now) -> Box<ballast_core::engine::SettingsFile> {
    Box::new(ballast_core::engine::SettingsFile::of(
        config,
        hash.to_owned(),
        now.wall,
    ))
}

/// Why an approved `reload_config` (`id` names the file's hash it was raised for) must not
/// apply the file read now (of hash `hash`): it changed since the operator saw it.
fn changed_since(id: &str, hash: &str) -> Option<String> {
    let prefix = format!("{}_", ballast_core::health::RELOAD_ISSUE);
    let seen = id.strip_prefix(&prefix)?.split('/').next()?;
    let now = hash.trim_start_matches("crc32c:");
    (seen != now).then(|| {
        format!(
            "the configuration file changed since this recommendation (hash {seen}, now {now}); nothing was changed: review it (`ballast reload --dry-run`) and approve the new recommendation or run `ballast reload`"
        )
    })
}

/// What an action takes, in the operator's words.
pub fn action_words(a: &Action) -> String {
    match a {
        Action::EngineSettings => {
            "engine settings (guard and risk limits): the running engine adopts them at its next bar".into()
        }
        Action::HealthSettings => {
            "health thresholds and intervals: from the next health cycle".into()
        }
        Action::HealSettings => "heal sweep period: from now".into(),
        Action::AlertSettings => {
            "alert grouping, escalation and bot-silent threshold: from the next health cycle".into()
        }
        Action::Checks => "checks: the declared checks are replaced".into(),
        Action::Artifacts => "artifacts: the declared artifacts are replaced".into(),
        Action::Restart(s) => format!("restart service {s} (only it)"),
        Action::Start(s) => format!("start service {s}"),
        Action::Stop(s) => format!("stop service {s}"),
    }
}

fn record(
    by: &'static str,
    outcome: &'static str,
    loaded: Option<&Loaded>,
    plan: &ReloadPlan,
    errors: Vec<String>,
    message: String,
) -> ReloadRecord {
    ReloadRecord {
        by,
        outcome,
        file: loaded.and_then(|l| l.file.clone()),
        hash: loaded.map(|l| l.hash.clone()),
        diff: plan
            .diff
            .iter()
            .map(|c| ReloadChange {
                key: c.key.clone(),
                old: c.old.clone(),
                new: c.new.clone(),
            })
            .collect(),
        actions: plan.actions.iter().map(action_words).collect(),
        refused: plan.refused.iter().map(|r| r.message()).collect(),
        errors,
        message,
    }
}

impl SupervisorCore {
    /// The hash of the configuration in force (its file's, or `built-in`).
    pub fn config_hash(&self) -> &str {
        &self.in_force.hash
    }

    /// The configuration in force as `status` shows it.
    pub(super) fn config_loaded(&self) -> ConfigLoaded {
        ConfigLoaded {
            hash: self.in_force.hash.clone(),
            loaded_at: self.in_force.loaded_at,
            last_reload: self.in_force.last.clone(),
        }
    }

    /// The starting configuration's engine settings, written before any service starts, so
    /// the engine never adopts a file left by an earlier configuration.
    pub(super) fn write_start_settings(&mut self, now: Now) {
        let file = settings_file(&self.in_force.config, &self.in_force.hash, now);
        self.write(FileWrite::EngineSettings(file), After::StartSettings);
    }

    /// The starting settings were written (the engine may start), or not (it is held, and
    /// the write is tried again at every sweep).
    pub(super) fn start_settings_written(&mut self, result: Result<String, String>) {
        let refusal = result.err().map(|e| {
            format!(
                "cannot write the engine's settings of the configuration in force ({e}): an older file could be adopted; fix the state directory, it is tried again at every sweep"
            )
        });
        if refusal != self.in_force.settings_refusal {
            if let Some(why) = &refusal {
                self.log(format!("CRITICAL: {why}"));
            }
            self.in_force.settings_refusal = refusal;
            self.apply_gate();
        }
    }

    /// A reload: refused or invalid changes nothing; a dry run only answers the plan.
    pub(super) fn reload(&mut self, r: Reload, now: Now) {
        let Reload {
            token,
            dry_run,
            by,
            loaded,
            approval,
        } = r;
        if self.pending_reload.is_some() {
            let e = ControlError::Unavailable("a reload is being applied: try again".into());
            return self.reply_to((token, approval), Err(e));
        }
        let loaded = match loaded {
            Ok(l) => l,
            Err(errors) => {
                let n = errors.len();
                let message = format!(
                    "{n} configuration error{} found; nothing was changed",
                    if n == 1 { "" } else { "s" }
                );
                let rec = record(by, "invalid", None, &ReloadPlan::default(), errors, message);
                return self.reload_ended((token, approval), rec, dry_run, now);
            }
        };
        if let Some(why) = reload::refusal(&loaded.read)
            .map(|why| format!("{why}; nothing was changed"))
            .or_else(|| {
                approval
                    .as_deref()
                    .and_then(|id| changed_since(id, &loaded.hash))
            })
        {
            let rec = record(
                by,
                "refused",
                Some(&loaded),
                &ReloadPlan::default(),
                Vec::new(),
                why,
            );
            return self.reload_ended((token, approval), rec, dry_run, now);
        }
        let plan = reload::plan(&self.in_force.config, &loaded.config);
        if plan.is_refused() {
            let message = format!(
                "refused: {}; nothing was changed",
                plan.refused
                    .iter()
                    .map(|r| r.message())
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            let rec = record(by, "refused", Some(&loaded), &plan, Vec::new(), message);
            return self.reload_ended((token, approval), rec, dry_run, now);
        }
        if dry_run {
            let message = if plan.is_empty() {
                "dry run: nothing changed in the configuration".to_owned()
            } else {
                format!(
                    "dry run: {} change(s) would be applied; nothing was changed",
                    plan.diff.len()
                )
            };
            let rec = record(by, "dry_run", Some(&loaded), &plan, Vec::new(), message);
            return self.reload_ended((token, approval), rec, true, now);
        }
        let pending = Pending {
            token,
            approval,
            by,
            plan,
            loaded,
        };
        // Every applied reload writes the engine's settings, changed or not: the file names the
        // configuration in force, and a supervised engine adopts only that configuration's (one
        // written for the previous configuration would be refused as rolled back). Written
        // first: if it cannot be, nothing is applied.
        let file = settings_file(&pending.loaded.config, &pending.loaded.hash, now);
        self.pending_reload = Some(pending);
        self.write(FileWrite::EngineSettings(file), After::Reload);
    }

    /// The engine settings of the reload in progress were written (or not).
    pub(super) fn reload_written(&mut self, result: Result<String, String>, now: Now) {
        let Some(p) = self.pending_reload.take() else {
            return;
        };
        match result {
            Ok(_) => {
                // The file is the configuration in force's now: nothing older can be adopted.
                if self.in_force.settings_refusal.take().is_some() {
                    self.apply_gate();
                }
                self.apply_reload(p, now);
            }
            Err(e) => {
                let message = format!(
                    "cannot write the engine's settings ({e}); nothing was changed: fix it and reload again"
                );
                let rec = record(
                    p.by,
                    "failed",
                    Some(&p.loaded),
                    &p.plan,
                    Vec::new(),
                    message,
                );
                self.reload_ended((p.token, p.approval), rec, false, now);
                // A write that failed after its rename (a directory sync) may have left the new
                // settings for the engine: the ones in force are written back.
                self.write_start_settings(now);
            }
        }
    }

    /// Every action of the plan (the engine's settings are written already).
    fn apply_reload(&mut self, p: Pending, now: Now) {
        let Pending {
            token,
            approval,
            by,
            plan,
            loaded,
        } = p;
        let mut added = Vec::new();
        for action in &plan.actions {
            let spec = |name: &str| loaded.services.iter().find(|s| s.name == name).cloned();
            match action {
                Action::Restart(name) => {
                    if let (Some(i), Some(spec)) = (self.slot_of(name), spec(name)) {
                        self.reload_restart(i, spec, now);
                    }
                }
                Action::Start(name) => added.extend(spec(name)),
                Action::Stop(name) => {
                    if let Some(i) = self.slot_of(name) {
                        self.retire(i, now);
                    }
                }
                Action::HealSettings => {
                    self.sweep_every =
                        std::time::Duration::from_secs(u64::from(loaded.config.heal.sweep_secs));
                    self.next_sweep = self.next_sweep.min(now.at + self.sweep_every);
                }
                Action::EngineSettings | Action::HealthSettings => {
                    self.governor.reconfigure(&loaded.config);
                }
                // The declared caches (what `clear_cache` may empty) follow the artifacts.
                Action::Artifacts => self.governor.set_caches(&loaded.config),
                // The shell's alerter takes them with the reconfigured configuration.
                Action::Checks | Action::AlertSettings => {}
            }
        }
        for spec in super::order_by_dependencies(added) {
            self.add_service(spec);
        }
        // The checks, and what each subsystem allows besides a restart (disable, fallback),
        // from the services and checks now declared.
        self.reconfigure_lifecycle(super::lifecycle::CheckModule::of_config(&loaded.config));
        self.settle_fallback_roles(now);
        self.restartable = self
            .slots
            .iter()
            .filter(|s| !s.retired)
            .map(|s| super::SubsystemId::of_service(&s.spec.name).to_string())
            .collect();
        self.out
            .push_back(Output::Reconfigure(Box::new(loaded.config.clone())));
        let message = if plan.is_empty() {
            "nothing changed in the configuration; its hash and load time are updated".to_owned()
        } else {
            format!("applied {} change(s)", plan.diff.len())
        };
        let outcome = if plan.is_empty() {
            "unchanged"
        } else {
            "applied"
        };
        let rec = record(by, outcome, Some(&loaded), &plan, Vec::new(), message);
        *self.in_force.config = loaded.config.clone();
        self.in_force.file.clone_from(&loaded.file);
        self.in_force.hash.clone_from(&loaded.hash);
        self.reload_ended((token, approval), rec, false, now);
        self.start_due(now);
    }

    /// A changed service: stopped (by its old stop signal) and started again with its new
    /// entry; one that is down starts afresh with it (a FAILED one gets a new chance).
    fn reload_restart(&mut self, i: usize, spec: ServiceSpec, now: Now) {
        let slot = &mut self.slots[i];
        if slot.proc.is_some() {
            slot.wanted = true;
            if let Some(st) = &mut slot.stopping {
                st.then_start = true;
            }
            self.stop_slot(i, true, now);
            self.slots[i].spec = spec;
        } else {
            let starts = slot.starts;
            *slot = Slot::new(spec);
            slot.starts = starts;
        }
    }

    /// The fallback roles as the new services name them: a service covering for a primary
    /// that no longer names it covers for nothing (a plain service now, or standing by), and
    /// no fallback standing by is left running (its primary is not FAILED or disabled: the
    /// next `fallbacks` engages it if it is) — stopped, journaled.
    fn settle_fallback_roles(&mut self, now: Now) {
        for i in 0..self.slots.len() {
            let name = self.slots[i].spec.name.clone();
            if let Some(p) = self.slots[i].covering.clone() {
                let still = self
                    .slot_of(&p)
                    .is_some_and(|j| self.slots[j].spec.fallback.as_deref() == Some(&name));
                if !still {
                    self.slots[i].covering = None;
                }
            }
            let slot = &self.slots[i];
            if slot.retired || slot.proc.is_none() || !self.standing_by(i) {
                continue;
            }
            let Some(primary) = self
                .slots
                .iter()
                .find(|p| !p.retired && p.spec.fallback.as_deref() == Some(&name))
                .map(|p| p.spec.name.clone())
            else {
                continue;
            };
            let slot = &mut self.slots[i];
            slot.wanted = false;
            if let Some(st) = &mut slot.stopping {
                st.then_start = false;
            }
            self.stop_slot(i, false, now);
            self.ops(OpsEvent::Lifecycle(
                super::lifecycle::LifecycleEvent::FallbackStoodDown {
                    fallback: name,
                    primary,
                },
            ));
        }
    }

    /// A removed service: stopped, then no longer shown; its slot stays (so the slots the
    /// shell holds keep their meaning) and is taken again if a service of its name returns.
    fn retire(&mut self, i: usize, now: Now) {
        let slot = &mut self.slots[i];
        slot.wanted = false;
        slot.retired = true;
        slot.restart_at = None;
        if let Some(st) = &mut slot.stopping {
            st.then_start = false;
        }
        self.stop_slot(i, false, now);
    }

    /// A new service: a retired slot of its name, else a new slot at the end (after what it
    /// depends on: the new ones come in dependency order).
    fn add_service(&mut self, spec: ServiceSpec) {
        let Some(i) = self
            .slots
            .iter()
            .position(|s| s.retired && s.spec.name == spec.name)
        else {
            return self.slots.push(Slot::new(spec));
        };
        let slot = &mut self.slots[i];
        if slot.proc.is_some() {
            // Still stopping: started again once it is down.
            slot.spec = spec;
            slot.retired = false;
            slot.wanted = true;
            if let Some(st) = &mut slot.stopping {
                st.then_start = true;
            }
        } else {
            let starts = slot.starts;
            *slot = Slot::new(spec);
            slot.starts = starts;
        }
    }

    /// Journal, log and answer a reload's end.
    fn reload_ended(&mut self, to: ReplyTo, rec: ReloadRecord, dry_run: bool, now: Now) {
        let line = format!(
            "reload by {} ({}): {}{}",
            rec.by,
            rec.outcome,
            rec.message,
            if rec.actions.is_empty() {
                String::new()
            } else {
                format!(" — {}", rec.actions.join("; "))
            }
        );
        if !dry_run {
            self.config_file_reloaded(rec.outcome, &rec.errors);
            self.in_force.last = Some(format!("{} at {}: {}", rec.outcome, now.wall, rec.message));
            match rec.outcome {
                "applied" | "unchanged" => {
                    self.in_force.loaded_at = Some(now.wall);
                    self.ops(OpsEvent::ConfigReloaded(Box::new(rec.clone())));
                }
                _ => self.ops(OpsEvent::ConfigReloadRefused(Box::new(rec.clone()))),
            }
        }
        // The journal's event is logged as it is; a dry run, which journals nothing, here.
        if dry_run {
            self.log(line);
        }
        self.reply_to(to, Ok(View::Reload(Box::new(rec.answer()))));
    }

    /// The reply of a reload; an approval's says what `ballast approve` says.
    fn reply_to(&mut self, (token, approval): ReplyTo, reply: Result<View, ControlError>) {
        let Some(token) = token else {
            return;
        };
        let reply = match (approval, reply) {
            (None, reply) => reply,
            (Some(id), Err(e)) => Err(ControlError::Failed(format!("{id} approved, but {e}"))),
            (Some(id), Ok(View::Reload(a))) => match a.outcome.as_str() {
                "applied" | "unchanged" => Ok(View::Done(format!(
                    "{id} approved: configuration reloaded, {}{}",
                    a.message,
                    a.actions
                        .iter()
                        .map(|x| format!("; {x}"))
                        .collect::<String>()
                ))),
                _ => Err(ControlError::Failed(format!(
                    "{id} approved, but the reload was not applied: {}{}",
                    a.message,
                    a.errors
                        .iter()
                        .chain(&a.refused)
                        .map(|x| format!("\n  {x}"))
                        .collect::<String>()
                ))),
            },
            (Some(_), other) => other,
        };
        self.reply(token, reply);
    }
}
