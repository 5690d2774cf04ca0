//! The supervisor as a state machine without I/O, in the quinn-proto style (STYLE §9): inputs
//! arrive through [`SupervisorCore::handle`], outputs leave through [`SupervisorCore::poll`],
//! and the caller owns time ([`Now`], passed in as a value), processes, sockets and files.
//!
//! It owns every decision the supervisor makes: the slots (each service's state machine, the
//! process it holds, its timers), the start gate (services held back by the self-heal or the
//! live-start rules), the dependency order, the health governor (safety policy, approvals,
//! history) and the sweep schedule. It never reads a clock, a file or the environment (no
//! `std::fs`, `std::process`, `std::env`, `Instant::now`; `crates/ballast/tests/invariants.rs`
//! greps for them and clippy's `disallowed-methods` refuses them here).
//!
//! The contract: after each `handle`, the caller drains `poll` and carries each output out
//! in order — answering a [`Output::Spawn`] with [`Input::Spawned`], a [`Output::Sweep`] with
//! [`Input::Swept`] and a [`Output::Write`] with [`Input::Written`] before the next input —
//! then sleeps until [`SupervisorCore::next_wakeup`] or an event, and calls `handle` with
//! [`Input::Tick`] at the end of every wake-up.
#![deny(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    clippy::disallowed_macros
)]

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use ballast_core::Timestamp;
use ballast_core::config::Mode;
use ballast_core::heal::FailureClass;
use ballast_core::policy::Policy;
use ballast_core::supervisor::ServiceState;
use rustix::process::Signal;

use crate::ServiceSpec;

mod cache;
mod config_file;
mod contract;
pub mod errors;
pub mod events;
pub mod governor;
mod handlers;
pub mod lifecycle;
pub mod reload;
mod slot;
pub mod systemd;

pub use ballast_core::health::SubsystemId;
pub use config_file::FileSeen;
pub use contract::{
    After, CoreConfig, FileWrite, HeartbeatSeen, Input, Measured, Now, Output, SpawnFailed, Step,
    Swept, View,
};
pub use errors::ControlError;
pub use events::{ControlAction, OpsEvent, ReadyVia};
pub use governor::{Files, Governor, KillSwitchFiles};
pub use reload::{Loaded, Reload, ReloadRecord};
pub use slot::{ServiceView, StatusView};

use slot::Slot;

/// Identifies a control request, to route its reply.
pub type Token = u64;

pub use crate::limits::EVENT_SWEEP_GAP;

pub use crate::limits::CHILD_EXIT_SWEEP;

pub use crate::limits::LIVENESS_TICK;

use crate::limits::AFTER_KILL;

/// What follows a sweep.
#[derive(Debug, Clone, PartialEq)]
enum AfterSweep {
    /// The rest of a tick (timers, starts).
    Tick(Vec<(usize, HeartbeatSeen)>),
    /// Answer `ballast heal`.
    Heal(Token),
    /// Answer `ballast heal --dry-run`.
    DryRun(Token),
    /// An operator's release, judged on what is there now.
    Release(Token, KillSwitchFiles),
}

/// The supervisor's decisions.
pub struct SupervisorCore {
    slots: Vec<Slot>,
    governor: Governor,
    mode: Mode,
    gated: Vec<String>,
    live_refused: Option<String>,
    supervisor_pid: u32,
    /// The subsystems that are services the supervisor can restart.
    restartable: Vec<String>,
    /// Gated services held back, and why.
    held: BTreeMap<String, String>,
    /// Why the last sweep's plan refuses a live engine start, if it does.
    heal_refusal: Option<String>,
    /// What the health monitor sees of the healer.
    heal_findings: Vec<(String, String, String, FailureClass)>,
    sweep_every: Duration,
    next_sweep: Instant,
    last_sweep: Instant,
    /// What the sweep in flight is for.
    sweeping: Option<AfterSweep>,
    /// Writes in flight and what follows each (answered before the next input: bounded by
    /// the outputs of one input).
    writes: VecDeque<(u64, After)>,
    next_write: u64,
    /// The configuration in force, and a reload waiting for its engine-settings write.
    in_force: reload::InForce,
    pending_reload: Option<reload::Pending>,
    /// When the configuration file is looked at next, and what was found.
    watch: config_file::Watch,
    /// Shutting down: `Some(n)`: slot `n` (if any) is being stopped, `n..` are done.
    down_from: Option<usize>,
    finished: bool,
    out: VecDeque<Output>,
    /// The declared checks, and the modules disabled now ([`lifecycle`]).
    checks: Vec<lifecycle::CheckModule>,
    disabled: Vec<ballast_store::files::disabled::DisabledModule>,
    /// What is wrong with the disabled list, and whether its file may be overwritten.
    list: lifecycle::restore::ListState,
    /// The primaries down whose fallback cannot cover, said once each.
    uncovered: std::collections::BTreeSet<String>,
    /// `clear_cache` runs in flight.
    clears: cache::Clears,
}

impl SupervisorCore {
    /// A core for `config`'s services (put in dependency order) and the restored `governor`.
    pub fn new(config: CoreConfig, mut governor: Governor, now: Now) -> SupervisorCore {
        let slots: Vec<Slot> = order_by_dependencies(config.services)
            .into_iter()
            .map(Slot::new)
            .collect();
        let specs: Vec<&ServiceSpec> = slots.iter().map(|s| &s.spec).collect();
        governor.modules = lifecycle::modules(&specs, &config.checks);
        let restartable = slots
            .iter()
            .map(|s| SubsystemId::of_service(&s.spec.name).to_string())
            .collect();
        let gated = config.gated.clone();
        let mut core = SupervisorCore {
            slots,
            governor,
            mode: config.mode,
            gated: config.gated,
            live_refused: config.live_refused,
            in_force: reload::InForce {
                config: config.config,
                file: config.config_file,
                hash: config.config_hash,
                loaded_at: Some(now.wall),
                last: None,
                settings_refusal: None,
            },
            pending_reload: None,
            watch: Default::default(),
            supervisor_pid: config.supervisor_pid,
            restartable,
            held: BTreeMap::new(),
            heal_refusal: None,
            heal_findings: Vec::new(),
            sweep_every: config.sweep_every,
            next_sweep: now.at + config.sweep_every,
            last_sweep: now.at,
            sweeping: None,
            writes: VecDeque::new(),
            next_write: 0,
            down_from: None,
            finished: false,
            out: VecDeque::new(),
            checks: config.checks,
            disabled: Vec::new(),
            list: Default::default(),
            uncovered: Default::default(),
            clears: cache::Clears::default(),
        };
        core.restore_disabled(config.disabled, &gated);
        core
    }

    /// The next thing to carry out.
    pub fn poll(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When the core wants a [`Input::Tick`] at the latest.
    pub fn next_wakeup(&self, now: Instant) -> Option<Instant> {
        // Liveness and heartbeat readiness are checked on a tick while such a service runs.
        let tick = self
            .slots
            .iter()
            .any(|s| s.proc.is_some() && s.spec.needs_tick())
            .then(|| now + LIVENESS_TICK);
        self.slots
            .iter()
            .flat_map(|s| {
                [
                    s.restart_at,
                    s.ready_at,
                    s.stopping.as_ref().map(|x| x.kill_at),
                ]
            })
            .flatten()
            .chain(tick)
            .chain(self.fallback_wakeup(now))
            // No sweep runs while shutting down: its time wakes nothing then.
            .chain(Some(self.next_sweep).filter(|_| self.down_from.is_none()))
            .chain(self.watch.due)
            .chain(self.clears.due(now).filter(|_| self.down_from.is_none()))
            .min()
    }

    /// Shut down and every service is down.
    pub fn finished(&self) -> bool {
        self.finished
    }

    /// The services, in dependency order (a slot is an index into it).
    pub fn specs(&self) -> impl Iterator<Item = &ServiceSpec> + Clone {
        self.slots.iter().map(|s| &s.spec)
    }

    pub fn spec(&self, slot: usize) -> Option<&ServiceSpec> {
        self.slots.get(slot).map(|s| &s.spec)
    }

    /// The names of the services declared now (a service a reload removed is not one), in
    /// dependency order: what a request naming an unknown one is told of.
    pub fn service_names(&self) -> Vec<&str> {
        self.slots
            .iter()
            .filter(|s| !s.retired)
            .map(|s| s.spec.name.as_str())
            .collect()
    }

    /// The slot of the service named `name` (a removed one has none).
    pub fn slot_of(&self, name: &str) -> Option<usize> {
        self.slots
            .iter()
            .position(|s| s.spec.name == name && !s.retired)
    }

    /// The slot whose process is `pid`.
    pub fn slot_of_pid(&self, pid: i32) -> Option<usize> {
        self.slots
            .iter()
            .position(|s| s.proc.as_ref().is_some_and(|p| p.pid == pid))
    }

    /// The service running as `name` (a process is held).
    pub fn is_running(&self, name: &str) -> bool {
        self.slots
            .iter()
            .any(|s| s.spec.name == name && s.proc.is_some())
    }

    /// Every service as `status` and the health monitor see it (a removed one is not).
    pub fn views(&self, now: Instant) -> Vec<ServiceView> {
        (0..self.slots.len())
            .filter(|i| !self.slots[*i].retired)
            .map(|i| self.view(i, now))
            .collect()
    }

    /// What the health monitor reads of the healer.
    pub fn heal_findings(&self) -> &[(String, String, String, FailureClass)] {
        &self.heal_findings
    }

    /// The policy in force and since when (for the guard check).
    pub fn policy(&self) -> (Policy, Timestamp) {
        (self.governor.policy.policy, self.governor.policy.since)
    }

    /// The subsystems that are services the supervisor can restart.
    pub fn restartable(&self) -> &[String] {
        &self.restartable
    }

    /// Carry out one input.
    pub fn handle(&mut self, now: Now, input: Input) {
        let shutting_down = self.down_from.is_some();
        match input {
            Input::ChildExited {
                pid,
                code,
                signal,
                left_behind,
            } => {
                if let Some(i) = self.slot_of_pid(pid) {
                    self.exited(i, now, code, signal, &left_behind);
                }
                self.advance_shutdown(now);
            }
            Input::Spawned { slot, result } => self.spawned(slot, result, now),
            Input::Control { token, .. } if shutting_down => {
                self.reply(token, Err(ControlError::ShuttingDown))
            }
            Input::Reload(r) if shutting_down => {
                if let Some(token) = r.token {
                    self.reply(token, Err(ControlError::ShuttingDown));
                }
            }
            Input::Reload(r) => self.reload(*r, now),
            Input::ConfigFileChanged | Input::ConfigRead(_) if shutting_down => {}
            Input::ConfigFileChanged => self.config_file_changed(now),
            Input::ConfigRead(loaded) => self.config_file_read(loaded),
            Input::Control {
                token,
                request,
                kill_switch,
            } => self.control(token, request, kill_switch, now),
            Input::Notify { .. }
            | Input::Probed { .. }
            | Input::Heartbeat { .. }
            | Input::FileChanged { .. }
                if shutting_down => {}
            Input::Notify { service, message } => self.notified(&service, &message, now),
            Input::Probed { service, start } => self.probed(&service, start),
            Input::Heartbeat { slot, seen } => self.liveness(slot, now, seen, "seen by inotify"),
            Input::FileChanged { urgent } => {
                // Sweep now, but not more often than every EVENT_SWEEP_GAP (a bot rewriting
                // its file in a loop must not keep the supervisor sweeping).
                let at = if urgent {
                    now.at
                } else {
                    (self.last_sweep + EVENT_SWEEP_GAP).max(now.at)
                };
                self.next_sweep = self.next_sweep.min(at);
            }
            Input::Measured(m) => self.measured(*m, now),
            Input::Swept(s) => self.swept(*s, now),
            Input::Written { id, result } => self.written(id, result, now),
            Input::CacheCleared { id, cleared } => self.cache_cleared(id, *cleared),
            Input::Tick { heartbeats } => self.tick(heartbeats, now),
            Input::Shutdown => {
                if !shutting_down {
                    self.down_from = Some(self.slots.len());
                    self.advance_shutdown(now);
                }
            }
        }
        if self.down_from.is_none() {
            self.fallbacks(now);
        }
    }

    /// Stop the services one at a time, last first, each fully down before the next.
    fn advance_shutdown(&mut self, now: Now) {
        while let Some(n) = self.down_from {
            if self.slots.get(n).is_some_and(|s| s.proc.is_some()) {
                return;
            }
            if n == 0 {
                self.finished = true;
                return;
            }
            let i = n - 1;
            self.down_from = Some(i);
            self.slots[i].wanted = false;
            self.slots[i].restart_at = None;
            self.stop_slot(i, false, now);
        }
    }

    /// The end of a wake-up: a due sweep first, then the timers and the starts.
    fn tick(&mut self, heartbeats: Vec<(usize, HeartbeatSeen)>, now: Now) {
        if self.down_from.is_some() {
            self.timers(&heartbeats, now);
            self.advance_shutdown(now);
            return;
        }
        self.config_check_due(now);
        if self.next_sweep <= now.at {
            self.sweep(false, false, AfterSweep::Tick(heartbeats), now);
            return;
        }
        self.timers(&heartbeats, now);
        self.start_due(now);
        self.continue_clears();
    }

    /// Ask for a sweep; `then` follows its result.
    fn sweep(&mut self, startup: bool, forget: bool, then: AfterSweep, now: Now) {
        self.next_sweep = now.at + self.sweep_every;
        self.last_sweep = now.at;
        let report = matches!(then, AfterSweep::Heal(_));
        self.sweeping = Some(then);
        self.out.push_back(Output::Sweep {
            startup,
            dry_run: false,
            forget,
            report,
        });
    }

    /// The startup self-heal, before any service starts (the engine's settings of the
    /// starting configuration written first).
    pub fn startup_sweep(&mut self, now: Now) {
        if self.in_force.config.engine.enabled {
            self.write_start_settings(now);
        }
        self.sweeping = None;
        self.next_sweep = now.at + self.sweep_every;
        self.last_sweep = now.at;
        self.out.push_back(Output::Sweep {
            startup: true,
            dry_run: false,
            forget: false,
            report: false,
        });
    }

    /// Start what is due (after the startup sweep and the first health cycle).
    pub fn begin(&mut self, now: Now) {
        self.start_due(now);
    }

    fn swept(&mut self, s: Swept, now: Now) {
        let then = self.sweeping.take();
        if let Some(AfterSweep::DryRun(token)) = then {
            // A plan only: nothing the core holds changes.
            self.reply(token, Ok(View::Heal(s.report)));
            return;
        }
        for service in &s.restarts {
            if let Some(i) = self.slot_of(service) {
                let slot = &mut self.slots[i];
                if slot.proc.is_some() && slot.stopping.is_none() {
                    slot.last_exit = Some("restarted by the healer: stale heartbeat".into());
                    self.stop_slot(i, true, now);
                }
            }
        }
        // A finding stands exactly while it is found: after a paper salvage it clears.
        self.governor.dangerous = s.findings.len();
        self.governor.dangerous_said = Some(
            s.findings
                .iter()
                .map(|(component, target, reason, _)| format!("{component} {target}: {reason}"))
                .collect(),
        );
        if self.in_force.settings_refusal.is_some() {
            // Tried again at every sweep until it is written.
            self.write_start_settings(now);
        }
        self.heal_findings = s.findings;
        self.heal_refusal = s.refusal;
        self.apply_gate();
        match then {
            None if s.clean => self.log("self-heal: every component is healthy".to_owned()),
            None => {}
            Some(AfterSweep::Tick(heartbeats)) => {
                self.timers(&heartbeats, now);
                self.start_due(now);
            }
            Some(AfterSweep::Heal(token)) => self.reply(token, Ok(View::Heal(s.report))),
            Some(AfterSweep::Release(token, ks)) => self.release(token, ks, now),
            Some(AfterSweep::DryRun(_)) => {}
        }
    }

    /// Take a health cycle: the governor's events and writes, in order.
    fn measured(&mut self, mut m: Measured, now: Now) {
        // A check that its `on_failure` disables, and every disabled module, counts as
        // DISABLED in this very cycle (the policy never acts on what is disabled).
        self.checks_measured(&m.report, now);
        m.report = self.mask_disabled(m.report);
        m.report = self.mask_reloaded(m.report);
        let auto_before = self.before_cycle();
        let restartable = &self.restartable;
        let steps = self.governor.evaluate(
            m.report,
            m.engine,
            &m.files,
            &|s| restartable.iter().any(|r| r == s),
            now.wall,
        );
        self.steps(steps);
        self.after_cycle(&auto_before);
        // A critical check's first answer (pending until now) may release a held live start
        // with no change of the overall health.
        if self.down_from.is_none() {
            self.apply_gate();
        }
    }

    fn steps(&mut self, steps: Vec<Step>) {
        for step in steps {
            match step {
                Step::Ops(ev) => self.recorded(ev),
                Step::Write(file, after) => self.write(file, after),
            }
        }
    }

    /// Journal an event of the governor; the live gate may change with the health.
    fn recorded(&mut self, ev: OpsEvent) {
        let gate = matches!(
            ev,
            OpsEvent::HealthChanged { .. } | OpsEvent::PolicyChanged { .. }
        );
        self.ops(ev);
        if gate && self.down_from.is_none() {
            self.apply_gate();
        }
    }

    fn write(&mut self, file: FileWrite, after: After) {
        let id = self.next_write;
        self.next_write = self.next_write.wrapping_add(1);
        self.writes.push_back((id, after));
        self.out.push_back(Output::Write { id, file });
    }

    fn written(&mut self, id: u64, result: Result<String, String>, now: Now) {
        let Some(at) = self.writes.iter().position(|(w, _)| *w == id) else {
            return;
        };
        let Some((_, after)) = self.writes.remove(at) else {
            return;
        };
        match (after, result) {
            (After::Nothing, _) => {}
            (After::PersistChanged, Err(error)) => {
                self.recorded(OpsEvent::PolicyPersistFailed { error });
            }
            (After::Restored(p), Ok(_)) => self.recorded(OpsEvent::PolicyFileRestored {
                policy: p.as_str(),
                why: format!(
                    "{} was not the policy in force: written again",
                    ballast_core::layout::rel::POLICY
                ),
            }),
            (After::HealthCycle, Err(error)) => {
                self.recorded(OpsEvent::HealthWriteFailed { error });
            }
            (After::PersistChanged | After::Restored(_) | After::HealthCycle, _) => {}
            (After::Reload, result) => self.reload_written(result, now),
            (After::StartSettings, result) => self.start_settings_written(result),
            (After::Release { token, transition }, result) => {
                self.released(token, transition, result);
            }
            (
                After::Floor {
                    token,
                    id,
                    floor,
                    transition,
                },
                result,
            ) => self.floored(token, &id, floor, transition, result),
            (After::Disabled(reply), result) => self.disabled_written(reply, result),
            (After::Engaged { token }, result) => {
                let reply = match result {
                    Ok(path) => Ok(View::Done(format!(
                        "kill switch ENGAGED ({path}): the engine halts on its next loop — open orders cancelled, new orders refused; only a release (`ballast resume`, DELETE /v1/kill-switch) lifts it"
                    ))),
                    Err(e) => Err(ControlError::Failed(format!(
                        "cannot engage the kill switch: {e}; engage it with `ballast kill` on the host"
                    ))),
                };
                self.reply(token, reply);
            }
            (
                After::Chosen {
                    token,
                    finding,
                    choice,
                },
                result,
            ) => {
                let word = ballast_core::resolve::word(choice);
                let reply = match result {
                    Ok(path) => Ok(View::Done(format!(
                        "{word} {finding}: the choice is written ({path}); the engine journals it (reconcile.resolve) at its next pass — `ballast reconcile` shows what is still open"
                    ))),
                    Err(e) if e.contains(ballast_store::files::reconcile_choice::WAITING) => {
                        Err(ControlError::Conflict(e))
                    }
                    Err(e) => Err(ControlError::Failed(format!(
                        "cannot write the choice {word} {finding}: {e}"
                    ))),
                };
                self.reply(token, reply);
            }
            (After::KillSwitch { token, id }, result) => {
                let reply = match result {
                    Ok(path) => Ok(View::Done(format!(
                        "{id} approved: kill switch engaged with flatten ({path}): every position is closed at market; `ballast resume` releases it"
                    ))),
                    Err(e) => Err(ControlError::Failed(format!(
                        "{id} approved, but cannot engage the kill switch: {e}"
                    ))),
                };
                self.reply(token, reply);
            }
        }
    }

    /// Hold or release the gated services (the engine): in live mode it starts only with
    /// nothing dangerous found by the self-heal and a health report that allows a live start
    /// (SPEC §4 mode gating; the engine's own subsystems do not count before it runs).
    fn apply_gate(&mut self) {
        let health = if self.mode == Mode::Live {
            self.governor
                .live_gate()
                .err()
                .map(|why| format!("live start refused: {why}"))
        } else {
            None
        };
        let refusal = self
            .heal_refusal
            .clone()
            .or(health)
            .or_else(|| self.live_refused.clone())
            .or_else(|| self.in_force.settings_refusal.clone());
        for name in self.gated.clone() {
            match (&refusal, self.held.contains_key(&name)) {
                (Some(why), false) => {
                    self.ops(OpsEvent::EngineHeld {
                        service: name.clone(),
                        why: why.clone(),
                    });
                    self.held.insert(name, why.clone());
                }
                (None, true) => {
                    self.ops(OpsEvent::EngineReleased {
                        service: name.clone(),
                    });
                    self.held.remove(&name);
                }
                (Some(why), true) => {
                    // Still held, perhaps for another reason now: status shows the current one.
                    if let Some(held) = self.held.get_mut(&name) {
                        held.clone_from(why);
                    }
                }
                (None, false) => {}
            }
        }
    }

    /// Start every wanted service that is down, not waiting for a restart delay, not failed,
    /// not held, and whose dependencies are running.
    fn start_due(&mut self, now: Now) {
        for i in 0..self.slots.len() {
            let s = &self.slots[i];
            let down = s.proc.is_none() && s.restart_at.is_none() && s.stopping.is_none();
            let startable = s.svc.state == ServiceState::Stopped
                && s.wanted
                && !self.held.contains_key(&s.spec.name)
                && !self.standing_by(i)
                && self
                    .disabled_entry(
                        ballast_store::files::disabled::ModuleKind::Service,
                        &s.spec.name,
                    )
                    .is_none();
            if down && startable && self.waiting_for(i).is_empty() {
                self.slots[i].svc.started(now.wall);
                self.out.push_back(Output::Spawn { slot: i });
            }
        }
    }

    /// The dependencies of slot `i` that are not RUNNING (it waits for them to start).
    fn waiting_for(&self, i: usize) -> Vec<String> {
        self.slots[i]
            .spec
            .depends_on
            .iter()
            .filter(|d| {
                !self
                    .slots
                    .iter()
                    .any(|o| &o.spec.name == *d && o.svc.state == ServiceState::Running)
            })
            .cloned()
            .collect()
    }

    /// Restart delays, readiness by uptime, stop deadlines and liveness.
    fn timers(&mut self, heartbeats: &[(usize, HeartbeatSeen)], now: Now) {
        for i in 0..self.slots.len() {
            let seen = heartbeats
                .iter()
                .find(|(s, _)| *s == i)
                .map(|(_, h)| *h)
                .unwrap_or_default();
            self.liveness(i, now, seen, "seen on the 100 ms tick");
            let slot = &mut self.slots[i];
            if slot.restart_at.is_some_and(|t| t <= now.at) {
                slot.restart_at = None;
                slot.svc.backoff_over(); // start_due starts it
            }
            if slot.ready_at.is_some_and(|t| t <= now.at) {
                slot.ready_at = None;
                slot.svc.ready();
                let service = slot.spec.name.clone();
                self.ops(OpsEvent::ServiceReady {
                    service,
                    via: ReadyVia::MinUptime,
                    seen_by: "",
                });
            }
            let slot = &mut self.slots[i];
            let Some(st) = &mut slot.stopping else {
                continue;
            };
            if st.kill_at <= now.at {
                st.kill_at = now.at + AFTER_KILL;
                if let Some(p) = &slot.proc {
                    let (pid, name) = (p.pid, slot.spec.name.clone());
                    self.log(format!(
                        "{name}: still up after its stop timeout; SIGKILL to its process group"
                    ));
                    self.out.push_back(Output::Signal {
                        pid,
                        signal: Signal::KILL,
                    });
                }
            }
        }
    }

    fn ops(&mut self, ev: OpsEvent) {
        self.out.push_back(Output::Ops(ev));
    }

    fn log(&mut self, line: String) {
        self.out.push_back(Output::Log(line));
    }

    fn reply(&mut self, token: Token, reply: Result<View, ControlError>) {
        self.out.push_back(Output::Reply { token, reply });
    }
}

/// Dependencies first (the configuration was checked for cycles and unknown names; anything
/// left over keeps its place at the end).
fn order_by_dependencies(mut rest: Vec<ServiceSpec>) -> Vec<ServiceSpec> {
    let mut out: Vec<ServiceSpec> = Vec::with_capacity(rest.len());
    while !rest.is_empty() {
        let ready = rest.iter().position(|s| {
            s.depends_on
                .iter()
                .all(|d| out.iter().any(|o| &o.name == d) || !rest.iter().any(|r| &r.name == d))
        });
        match ready {
            Some(i) => out.push(rest.remove(i)),
            None => out.append(&mut rest),
        }
    }
    out
}
