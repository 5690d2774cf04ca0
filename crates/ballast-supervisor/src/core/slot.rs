//! One service's slot: its state machine (`ballast_core::supervisor::Service`), the process
//! it holds, its timers — and what happens to it: a start, an exit, readiness, liveness, a
//! stop. Each decision is made here once.

use std::time::{Duration, Instant};

use ballast_core::supervisor::{
    Action, Exit, LivenessFailure, LivenessRules, LivenessSeen, Service, ServiceState, ShownState,
};
use rustix::process::Signal;

use super::events::{OpsEvent, ReadyVia};
use super::{CHILD_EXIT_SWEEP, HeartbeatSeen, Now, Output, SpawnFailed, SupervisorCore};
use crate::ServiceSpec;
use crate::protocol::HealthSummary;
use ballast_store::files::disabled::ModuleKind;

/// The process a slot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Proc {
    pub pid: i32,
    pub started: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stopping {
    pub kill_at: Instant,
    /// Start again once it is down (the `restart` command).
    pub then_start: bool,
}

pub(super) struct Slot {
    pub spec: ServiceSpec,
    pub svc: Service,
    pub proc: Option<Proc>,
    pub restart_at: Option<Instant>,
    pub ready_at: Option<Instant>,
    pub stopping: Option<Stopping>,
    /// Wanted up (false after a stop command or policy stop).
    pub wanted: bool,
    /// The last `WATCHDOG=1`.
    pub last_watchdog: Option<Instant>,
    /// The process was killed because a liveness check failed.
    pub liveness_kill: bool,
    /// Starts so far (tells a probe of an earlier start from the current one).
    pub starts: u64,
    pub last_exit: Option<String>,
    /// A fallback service started for this primary (it is not standing by).
    pub covering: Option<String>,
    /// Removed from the configuration by a reload: stopped, not shown, not started.
    pub retired: bool,
}

impl Slot {
    pub fn new(spec: ServiceSpec) -> Slot {
        Slot {
            spec,
            svc: Service::default(),
            proc: None,
            restart_at: None,
            ready_at: None,
            stopping: None,
            wanted: true,
            last_watchdog: None,
            liveness_kill: false,
            starts: 0,
            last_exit: None,
            covering: None,
            retired: false,
        }
    }
}

/// One service as `ballast status`, the health monitor and the control messages see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceView {
    pub name: String,
    pub state: ServiceState,
    /// Held back by the start gate (and holding no process).
    pub held: bool,
    /// Down only because these dependencies are not running.
    pub waiting_for: Vec<String>,
    /// Never started, and down for no reason.
    pub never_started: bool,
    pub critical: bool,
    pub depends_on: Vec<String>,
    pub pid: Option<i32>,
    pub restarts: u64,
    pub uptime: Option<Duration>,
    /// Why it is held, else why it last ended.
    pub last_exit: Option<String>,
    pub failures_in_window: usize,
    pub max_restarts: u32,
    /// Disabled, and why.
    pub disabled: Option<String>,
    /// A fallback standing by (not started while its primary is up).
    pub standby: bool,
    /// A fallback started for this primary: the primary it covers.
    pub covering: Option<String>,
    /// A primary: the fallback covering for it now.
    pub covered_by: Option<String>,
}

impl ServiceView {
    /// The state as `status` shows it: held, waiting for its dependencies, or its state.
    pub fn shown_state(&self) -> ShownState {
        if self.disabled.is_some() {
            ShownState::Disabled
        } else if self.standby && self.pid.is_none() {
            ShownState::Standby
        } else if self.held {
            ShownState::Held
        } else if !self.waiting_for.is_empty() {
            ShownState::Waiting(self.waiting_for.clone())
        } else {
            ShownState::Is(self.state)
        }
    }

    /// `HELD`, `WAITING (for NAME, …)`, or the state's name.
    pub fn shown(&self) -> String {
        self.shown_state().to_string()
    }

    /// The state as the health monitor takes it: as shown, or not started before a first
    /// start.
    pub fn health_state(&self) -> ShownState {
        match self.shown_state() {
            ShownState::Is(_) if self.never_started => ShownState::NotStarted,
            shown => shown,
        }
    }
}

/// What `ballast status` shows.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusView {
    pub supervisor_pid: u32,
    pub overall: &'static str,
    pub services: Vec<ServiceView>,
    /// Health and policy summary.
    pub health: HealthSummary,
    pub config: Option<String>,
    pub loaded: Option<crate::protocol::ConfigLoaded>,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl SupervisorCore {
    pub(super) fn view(&self, i: usize, now: Instant) -> ServiceView {
        let s = &self.slots[i];
        let disabled = self
            .disabled_entry(ModuleKind::Service, &s.spec.name)
            .map(|d| d.reason.clone());
        // Covering only while the fallback's process really runs (not disabled, failed, in
        // its backoff or being stopped).
        let covered_by = s.spec.fallback.as_deref().and_then(|f| {
            let o = self.slot_of(f)?;
            self.covering_now(o).map(|_| f.to_owned())
        });
        let held = s.proc.is_none() && self.held.contains_key(&s.spec.name);
        let waits = self.waiting_for(i);
        let waiting = s.proc.is_none()
            && s.wanted
            && s.svc.state == ServiceState::Stopped
            && s.restart_at.is_none();
        ServiceView {
            name: s.spec.name.clone(),
            state: s.svc.state,
            held,
            waiting_for: if waiting { waits } else { Vec::new() },
            never_started: s.starts == 0
                && s.proc.is_none()
                && s.svc.state == ServiceState::Stopped
                && !self.held.contains_key(&s.spec.name),
            critical: s.spec.critical,
            depends_on: s.spec.depends_on.clone(),
            pid: s.proc.map(|p| p.pid),
            restarts: s.svc.restarts,
            uptime: s.proc.map(|p| now.saturating_duration_since(p.started)),
            last_exit: disabled
                .clone()
                .or_else(|| self.held.get(&s.spec.name).cloned())
                .or_else(|| s.svc.last_reason.clone())
                .or_else(|| s.last_exit.clone()),
            failures_in_window: s.svc.failures_in_window(),
            max_restarts: s.spec.rules.max_restarts,
            standby: self.standing_by(i),
            disabled,
            covering: self.covering_now(i).map(str::to_owned),
            covered_by,
        }
    }

    /// What `ballast status` shows.
    pub(super) fn status_view(&self, now: Instant) -> StatusView {
        // A disabled module and a fallback standing by are not counted.
        let states: Vec<(bool, ServiceState)> = (0..self.slots.len())
            .filter(|i| !self.standing_by(*i))
            .map(|i| &self.slots[i])
            .filter(|s| !s.retired)
            .filter(|s| {
                self.disabled_entry(ModuleKind::Service, &s.spec.name)
                    .is_none()
            })
            .map(|s| (s.spec.critical, s.svc.state))
            .collect();
        StatusView {
            supervisor_pid: self.supervisor_pid,
            overall: ballast_core::supervisor::overall(&states),
            services: self.views(now),
            health: crate::protocol::HealthSummary {
                disabled: self.disabled_lines(),
                disabled_problems: self.disabled_list_problems().to_vec(),
                ..self.governor.summary()
            },
            config: self.in_force.file.clone(),
            loaded: Some(self.config_loaded()),
        }
    }

    /// The answer to [`Output::Spawn`].
    pub(super) fn spawned(&mut self, i: usize, result: Result<i32, SpawnFailed>, now: Now) {
        let Some(slot) = self.slots.get_mut(i) else {
            return;
        };
        match result {
            Ok(pid) => {
                slot.proc = Some(Proc {
                    pid,
                    started: now.at,
                });
                slot.last_watchdog = None;
                slot.liveness_kill = false;
                slot.starts += 1;
                let probe = slot.spec.http_ready.clone().map(|url| Output::Probe {
                    service: slot.spec.name.clone(),
                    url,
                    start: slot.starts,
                    pid,
                });
                if !slot.spec.notify && !slot.spec.heartbeat_ready && slot.spec.http_ready.is_none()
                {
                    slot.ready_at = Some(now.at + slot.spec.min_uptime);
                }
                let service = slot.spec.name.clone();
                self.ops(OpsEvent::ServiceStarted { service, pid });
                self.out.extend(probe);
            }
            Err(failed) => {
                let name = slot.spec.name.clone();
                slot.last_exit = Some(failed.why.clone());
                let action = match failed.permanent {
                    Some(reason) => slot.svc.start_refused(reason),
                    // Counted as a failed start: code 127 like a shell's "command not found".
                    None => slot.svc.exited(
                        Exit {
                            code: Some(127),
                            signal: None,
                            requested: false,
                            liveness_kill: false,
                        },
                        now.wall,
                        &slot.spec.rules,
                    ),
                };
                self.log(format!("{name}: {}", failed.why));
                self.carry_out(i, action, now);
            }
        }
    }

    /// A service's process ended: decide, and carry the decision out.
    pub(super) fn exited(
        &mut self,
        i: usize,
        now: Now,
        code: Option<i32>,
        signal: Option<i32>,
        left: &[i32],
    ) {
        let slot = &mut self.slots[i];
        let Some(p) = slot.proc.take() else { return };
        // A service that exits leaving processes behind has most likely daemonized: say so.
        let daemonized = (!left.is_empty() && slot.stopping.is_none()).then(|| {
            format!(
                "{}: exited leaving {} process(es) of its group behind (pids {}); killed. A service that forks and exits (daemonizes) cannot be supervised: run it in the foreground",
                slot.spec.name,
                left.len(),
                left.iter()
                    .map(i32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        });
        let how = match (code, signal) {
            (Some(c), _) => format!("exit code {c}"),
            (None, Some(s)) => format!("signal {s}"),
            _ => "exited".to_owned(),
        };
        slot.ready_at = None;
        slot.last_exit = Some(how.clone());
        let stopping = slot.stopping.take();
        let liveness_kill = std::mem::take(&mut slot.liveness_kill);
        let action = slot.svc.exited(
            Exit {
                code,
                signal,
                requested: stopping.is_some(),
                liveness_kill,
            },
            now.wall,
            &slot.spec.rules,
        );
        let service = slot.spec.name.clone();
        // A child's exit is a healing event: what it left behind (a stale lock, a
        // half-written declared file) is looked at shortly — after any immediate restart,
        // so the sweep never delays one.
        self.next_sweep = self.next_sweep.min(now.at + CHILD_EXIT_SWEEP);
        if let Some(line) = daemonized {
            self.log(line);
        }
        self.ops(OpsEvent::ServiceExited {
            service,
            pid: p.pid,
            how,
            requested: stopping.is_some(),
            liveness_kill,
        });
        self.carry_out(i, action, now);
        if stopping.is_some_and(|s| s.then_start) {
            self.slots[i].wanted = true;
        }
    }

    /// The service machine's decision after an exit or a failed start, carried out: the one
    /// restart sequence (BACKOFF with its delay, then STOPPED, then started by `start_due`).
    fn carry_out(&mut self, i: usize, action: Action, now: Now) {
        let slot = &mut self.slots[i];
        let service = slot.spec.name.clone();
        match action {
            Action::Restart { after_ms } => {
                slot.restart_at = Some(now.at + Duration::from_millis(after_ms));
                let ev = OpsEvent::ServiceBackoff {
                    service,
                    after_ms,
                    failures_in_window: slot.svc.failures_in_window(),
                    max_restarts: slot.spec.rules.max_restarts,
                };
                self.ops(ev);
            }
            Action::StayDown { state, reason } => {
                // Failed, or ended on its own and the policy does not restart it.
                if state != ServiceState::Stopped || slot.stopping.is_none() {
                    slot.wanted = false;
                }
                self.ops(OpsEvent::ServiceDown {
                    service,
                    state,
                    reason: reason.clone(),
                });
                if state == ServiceState::Failed {
                    self.service_failed(i, &reason, now);
                }
            }
        }
    }

    /// Send the service's stop signal to its group (SIGKILL after its stop timeout).
    pub(super) fn stop_slot(&mut self, i: usize, then_start: bool, now: Now) {
        let slot = &mut self.slots[i];
        slot.restart_at = None;
        let Some(p) = slot.proc else {
            return;
        };
        if slot.stopping.is_some() {
            return;
        }
        slot.stopping = Some(Stopping {
            kill_at: now.at + slot.spec.stop_timeout,
            then_start,
        });
        let signal = slot.spec.stop_signal;
        let line = format!(
            "{}: stopping (signal {} to process group {})",
            slot.spec.name,
            signal.as_raw(),
            p.pid
        );
        self.log(line);
        self.out.push_back(Output::Signal { pid: p.pid, signal });
    }

    /// Make a STARTING service RUNNING (its readiness check passed).
    fn ready(&mut self, i: usize, via: ReadyVia, seen_by: &'static str) {
        let slot = &mut self.slots[i];
        slot.svc.ready();
        let service = slot.spec.name.clone();
        self.ops(OpsEvent::ServiceReady {
            service,
            via,
            seen_by,
        });
    }

    /// The HTTP probe of start `start` answered 2xx.
    pub(super) fn probed(&mut self, service: &str, start: u64) {
        if let Some(i) = self.slot_of(service) {
            let s = &self.slots[i];
            if s.starts == start && s.proc.is_some() && s.svc.state == ServiceState::Starting {
                self.ready(i, ReadyVia::Http, "");
            }
        }
    }

    /// An sd_notify message: `READY=1` makes a STARTING service RUNNING; `STATUS=` is logged.
    pub(super) fn notified(&mut self, service: &str, message: &str, now: Now) {
        let Some(i) = self.slot_of(service) else {
            return;
        };
        for line in message.lines() {
            let s = &self.slots[i];
            match line.split_once('=') {
                Some(("READY", "1"))
                    if s.proc.is_some() && s.svc.state == ServiceState::Starting =>
                {
                    self.ready(i, ReadyVia::Notify, "");
                }
                Some(("STATUS", text)) => self.log(format!("{service}: status: {text}")),
                Some(("WATCHDOG", "1")) => self.slots[i].last_watchdog = Some(now.at),
                _ => {}
            }
        }
    }

    /// Heartbeat readiness, heartbeat age and the sd_notify watchdog of a running service. A
    /// failed check kills the process group; the exit then counts as a liveness failure.
    pub(super) fn liveness(&mut self, i: usize, now: Now, seen: HeartbeatSeen, by: &'static str) {
        let Some(slot) = self.slots.get(i) else {
            return;
        };
        let Some(p) = slot.proc else { return };
        if slot.stopping.is_some() || slot.liveness_kill {
            return;
        }
        if slot.spec.heartbeat_ready && slot.svc.state == ServiceState::Starting && seen.fresh {
            self.ready(i, ReadyVia::Heartbeat, by);
        }
        let slot = &mut self.slots[i];
        // Liveness applies once the service is ready: a long start (an engine replaying a big
        // journal) is not a hang.
        if slot.svc.state != ServiceState::Running {
            return;
        }
        let rules = LivenessRules {
            heartbeat_max_age_ms: slot.spec.heartbeat_max_age.map(ms),
            watchdog_ms: slot.spec.watchdog.map(ms),
        };
        let observed = LivenessSeen {
            uptime_ms: ms(now.at.saturating_duration_since(p.started)),
            heartbeat_age_ms: seen.age_ms,
            heartbeat_file_exists: seen.exists,
            watchdog_age_ms: slot
                .last_watchdog
                .map(|t| ms(now.at.saturating_duration_since(t))),
        };
        let Some(failure) = ballast_core::supervisor::liveness(&rules, &observed) else {
            return;
        };
        let why = match failure {
            LivenessFailure::StaleHeartbeat { .. } => format!(
                "{failure} ({})",
                slot.spec
                    .heartbeat_file
                    .as_ref()
                    .map_or(String::new(), |p| p.display().to_string())
            ),
            LivenessFailure::SilentWatchdog { .. } => failure.to_string(),
        };
        slot.liveness_kill = true;
        slot.last_exit = Some(format!("liveness: {why}"));
        let service = slot.spec.name.clone();
        self.ops(OpsEvent::LivenessKill { service, why });
        self.out.push_back(Output::Signal {
            pid: p.pid,
            signal: Signal::KILL,
        });
    }
}
