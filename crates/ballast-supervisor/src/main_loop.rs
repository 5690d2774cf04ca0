//! The loop (rust-analyzer's `main_loop.rs`): one thread that sleeps in `poll` on each child's
//! pidfd and an eventfd, hands every event to the [`SupervisorCore`] and carries out what it
//! asks for — spawns, signals, probes, sweeps, file writes, journal records, replies. Other
//! threads (signals, control connections, sd_notify sockets, inotify, probes, the health
//! monitor) only send events; the loop owns the core, and with it every decision.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Sender, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ballast_core::Clock;
use ballast_core::engine::EngineStatus;
use ballast_core::health::Report;

use crate::control::{Actor, Envelope, Request, Response};
use crate::core::{
    CoreConfig, FileWrite, HeartbeatSeen, Input, Measured, Now, OpsEvent, Output, SupervisorCore,
    Token,
};
use crate::ops::Ops;
use crate::process::{Launcher, Procs};
use crate::sweep::{SweepOf, Sweeper};
use crate::{HealOptions, ServiceSpec, health, readiness};

pub(crate) use crate::limits::EVENT_QUEUE_COUNT as EVENT_QUEUE;

/// How other threads hand events to the loop: the event on a channel, then a write to an
/// eventfd the loop polls together with the children's pidfds.
#[derive(Clone)]
pub(crate) struct Waker {
    pub tx: SyncSender<Event>,
    pub fd: Arc<rustix::fd::OwnedFd>,
}

impl Waker {
    /// Queue `ev`, waiting for room. False once the loop is gone.
    pub fn send(&self, ev: Event) -> bool {
        let ok = self.tx.send(ev).is_ok();
        self.wake();
        ok
    }

    /// Queue `ev` if there is room (dropped otherwise). False once the loop is gone.
    pub fn offer(&self, ev: Event) -> bool {
        let ok = !matches!(self.tx.try_send(ev), Err(TrySendError::Disconnected(_)));
        self.wake();
        ok
    }

    fn wake(&self) {
        let _ = rustix::io::write(&*self.fd, &1u64.to_ne_bytes());
    }
}

pub(crate) enum Event {
    /// SIGCHLD: some child changed state.
    Child,
    /// An sd_notify datagram from a service's notify socket.
    Notify { service: String, message: String },
    /// A service's heartbeat file changed (inotify).
    Heartbeat { slot: usize },
    /// The HTTP readiness probe of this start of the service answered 2xx.
    Probed { service: String, start: u64 },
    /// SIGINT / SIGTERM: stop everything and exit.
    Stop,
    /// SIGHUP: read the configuration again and apply it.
    Reload,
    /// The configuration file changed on disk (inotify).
    ConfigFile,
    /// Something changed (inotify): one of Ballast's own directories went away (`urgent`:
    /// sweep now), or a declared file changed (sweep soon).
    Heal { urgent: bool },
    /// A health cycle's report and the engine's status, measured on the monitor's thread.
    Measured(Box<(Report, Option<EngineStatus>)>),
    /// A control request and who asked.
    Control(Envelope, Actor),
}

/// The loop's side: the core, and what carries out its outputs.
pub(crate) struct Shell {
    pub core: SupervisorCore,
    pub clock: Arc<dyn Clock>,
    pub data_dir: PathBuf,
    pub heal: HealOptions,
    pub procs: Procs,
    pub launcher: Launcher,
    pub events: Waker,
    pub rx: mpsc::Receiver<Event>,
    pub wake: Arc<rustix::fd::OwnedFd>,
    pub ops: Ops,
    pub sweeper: Sweeper,
    /// Control requests waiting for their reply.
    pub replies: BTreeMap<Token, Sender<Response>>,
    /// The control actions among them: who asked for what, journaled with the answer.
    pub audits: BTreeMap<Token, Audit>,
    /// `POST /v1/health/check`s waiting for the forced cycle's report (at most
    /// [`CHECKS_WAITING_COUNT`]; more are answered busy).
    pub checks_waiting: Vec<(Sender<Response>, Actor)>,
    pub next_token: Token,
    /// What the monitor's thread reads about the services and the healer.
    pub inputs: Arc<Mutex<health::Inputs>>,
    /// Exit statuses of reaped children that are not services (a command check's).
    pub exits: Arc<health::ForeignExits>,
    /// A reloaded configuration for the monitor's thread, taken at its next cycle.
    pub monitor_config: Arc<crate::health_reconfig::HealthReconfig>,
    /// The heartbeat files (with their slot) and declared files inotify watches, and how many
    /// watches reloads added (bounded: beyond it, the tick and the periodic sweep see them).
    pub watched: std::collections::BTreeSet<(Option<usize>, PathBuf)>,
    pub reload_watches: usize,
    /// What the operator surfaces read without asking the loop (the newest health report).
    pub published: Arc<crate::surface::Published>,
    /// A service changed state since the monitor last looked: its next cycle is forced as soon
    /// as the inputs are published (at most every [`NEWS_CYCLE_EVERY`]), so the report — and
    /// the alerts decided from it — follow the event in milliseconds, not at the next cycle.
    pub health_news: bool,
    pub news_cycle_at: Option<Instant>,
    /// Alerts: decided on each health report, delivered on their own thread.
    pub alerts: crate::alerts::Alerter,
    /// systemd's notify socket, when `ballast run` is a `Type=notify` service.
    pub sd: Option<crate::systemd::SdNotify>,
}

impl Shell {
    fn now(&self) -> Now {
        Now {
            at: Instant::now(),
            wall: self.clock.now(),
        }
    }

    /// Hand `input` to the core, then carry out everything it asks for.
    pub fn handle(&mut self, input: Input, log: &mut dyn FnMut(&str)) {
        let now = self.now();
        self.core.handle(now, input);
        self.drain(log);
    }

    /// Carry out the core's outputs in order; spawns, sweeps and writes are answered at once.
    pub fn drain(&mut self, log: &mut dyn FnMut(&str)) {
        while let Some(out) = self.core.poll() {
            match out {
                Output::Spawn { slot } => self.spawn(slot, log),
                Output::Signal { pid, signal } => crate::process::signal_group(pid, signal),
                Output::Probe {
                    service,
                    url,
                    start,
                    pid,
                } => {
                    if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                        readiness::probe(url, service, start, pid, self.events.clone());
                    }
                }
                Output::Sweep {
                    dry_run,
                    forget,
                    report,
                    ..
                } => {
                    let of = SweepOf {
                        data_dir: &self.data_dir,
                        config: &self.heal.config,
                        clock: &*self.clock,
                        core: &self.core,
                        ops: &self.ops,
                    };
                    let swept = self.sweeper.run(&of, dry_run, forget, report, log);
                    let now = self.now();
                    self.core.handle(now, Input::Swept(Box::new(swept)));
                }
                Output::Write { id, file } => {
                    if let FileWrite::HealthReport(report) = &file {
                        self.alerts.observe(report, &self.ops, log);
                        if let Some(sd) = &mut self.sd {
                            sd.on_report(report, &self.core.views(Instant::now()), log);
                        }
                    }
                    let result = self.write(file);
                    let now = self.now();
                    self.core.handle(now, Input::Written { id, result });
                }
                Output::ClearCache {
                    id,
                    service,
                    path,
                    by,
                    dir,
                } => {
                    let cleared = crate::cache::clear(
                        &self.data_dir,
                        &self.heal.config,
                        // The file itself (config_file is its description).
                        self.heal.reloader.as_ref().and_then(|r| r.file.as_deref()),
                        (&service, &path),
                        &dir,
                        &by,
                    );
                    let now = self.now();
                    let cleared = Box::new(cleared);
                    self.core.handle(now, Input::CacheCleared { id, cleared });
                }
                Output::Ops(ev) => {
                    self.health_news |= changes_health(&ev);
                    emit(&self.ops, &ev, log);
                }
                Output::Log(line) => log(&line),
                Output::Reconfigure(config) => self.reconfigure(*config, log),
                Output::ReadConfig {
                    approved: Some((token, id)),
                } => self.reload(Some(token), false, "approved recommendation", Some(id), log),
                Output::ReadConfig { approved: None } => {
                    let loaded = self.read_config();
                    let now = self.now();
                    self.core.handle(now, Input::ConfigRead(loaded));
                }
                Output::Reply { token, reply } => {
                    if let Some(tx) = self.replies.remove(&token) {
                        let answer = crate::handlers::response(reply, self.core.specs());
                        if let Some(audit) = self.audits.remove(&token) {
                            let at = self.clock.now();
                            emit(&self.ops, &audit.event(&answer, at), log);
                        }
                        let answer = crate::handlers::with_listening(answer, &self.published);
                        let _ = tx.send(answer);
                    }
                }
            }
        }
    }

    fn spawn(&mut self, slot: usize, log: &mut dyn FnMut(&str)) {
        let Some(spec) = self.core.spec(slot) else {
            return;
        };
        let result = self.launcher.spawn(spec, log).map(|proc| {
            let pid = proc.pid.as_raw_nonzero().get();
            self.procs.insert(slot, proc);
            pid
        });
        let now = self.now();
        self.core.handle(now, Input::Spawned { slot, result });
    }

    /// Carry out a file write of the core: what was written (the kill switch's path, as
    /// shown; empty for the others), or why not.
    fn write(&self, file: FileWrite) -> Result<String, String> {
        let dir = &self.data_dir;
        match file {
            FileWrite::Policy(state) => health::persist_policy(dir, &state)
                .map(|()| String::new())
                .map_err(|e| e.to_string()),
            FileWrite::HealthReport(report) => {
                // Published whether or not the file could be written: the API shows the
                // truth of this cycle, and the failed write is reported as usual.
                self.published.set_health(&report);
                health::write_report(dir, &report)
                    .map(|()| String::new())
                    .map_err(|e| e.to_string())
            }
            FileWrite::KillSwitch {
                reason,
                flatten,
                by,
                at,
            } => health::engage_kill_switch(dir, &reason, flatten, &by, at)
                .map(|p| p.display().to_string()),
            FileWrite::Disabled(file) => {
                let layout = ballast_store::Layout::new(dir);
                ballast_store::files::disabled::write(&ballast_store::RealStorage, &layout, &file)
                    .map(|()| String::new())
                    .map_err(|e| format!("{}: {e}", layout.disabled_file().display()))
            }
            FileWrite::ReconcileChoice(file) => {
                let layout = ballast_store::Layout::new(dir);
                ballast_store::files::reconcile_choice::write_new(
                    &ballast_store::RealStorage,
                    &layout,
                    &file,
                )
                .map(|()| layout.display(&layout.reconcile_choice_file()))
                .map_err(|e| e.to_string())
            }
            FileWrite::EngineSettings(file) => ballast_store::files::engine_settings::write(
                &ballast_store::RealStorage,
                &ballast_store::Layout::new(dir),
                &file,
            )
            .map(|()| String::new())
            .map_err(|e| {
                format!(
                    "{}: {e}",
                    ballast_store::Layout::new(dir)
                        .engine_settings_file()
                        .display()
                )
            }),
        }
    }

    /// Reap every child that has exited: a service's exit goes to the core (its group's
    /// leftovers killed first); any other child's status to whoever waits for it.
    pub fn reap(&mut self, log: &mut dyn FnMut(&str)) {
        while let Some(r) = crate::process::reap_one() {
            let raw = r.pid.as_raw_nonzero().get();
            let Some(slot) = self
                .procs
                .iter()
                .find(|(_, p)| p.pid == r.pid)
                .map(|(s, _)| *s)
            else {
                // An orphaned grandchild, or a command check's process.
                self.exits.record(raw, r.code);
                continue;
            };
            self.procs.remove(&slot);
            let left_behind = crate::process::kill_leftovers(r.pid);
            self.handle(
                Input::ChildExited {
                    pid: raw,
                    code: r.code,
                    signal: r.signal,
                    left_behind,
                },
                log,
            );
        }
    }

    /// Each running service's heartbeat file as found now.
    fn heartbeats(&self) -> Vec<(usize, HeartbeatSeen)> {
        self.procs
            .iter()
            .filter_map(|(slot, p)| {
                let file = self.core.spec(*slot)?.heartbeat_file.as_deref()?;
                Some((
                    *slot,
                    readiness::heartbeat_seen(Some(file), p.heartbeat_before),
                ))
            })
            .collect()
    }

    /// One event from another thread.
    pub fn event(&mut self, ev: Event, log: &mut dyn FnMut(&str)) {
        match ev {
            Event::Child => self.reap(log),
            Event::Stop => {}
            Event::Reload => self.reload(None, false, "SIGHUP", None, log),
            Event::ConfigFile => self.handle(Input::ConfigFileChanged, log),
            Event::Control(env, actor) => self.control(env, actor, log),
            Event::Notify { service, message } => {
                self.handle(Input::Notify { service, message }, log);
            }
            Event::Probed { service, start } => self.handle(Input::Probed { service, start }, log),
            Event::Heartbeat { slot } => {
                let before = self.procs.get(&slot).map(|p| p.heartbeat_before);
                let file = self.core.spec(slot).and_then(|s| s.heartbeat_file.clone());
                let seen = match before {
                    Some(before) => readiness::heartbeat_seen(file.as_deref(), before),
                    None => HeartbeatSeen::default(),
                };
                self.handle(Input::Heartbeat { slot, seen }, log);
            }
            Event::Heal { urgent } => self.handle(Input::FileChanged { urgent }, log),
            Event::Measured(m) => {
                let (report, engine) = *m;
                let files = health::governor_files(&self.data_dir);
                let measured = Measured {
                    report,
                    engine,
                    files,
                };
                self.handle(Input::Measured(Box::new(measured)), log);
                // The forced cycle's report is in: each waiting check is answered with it.
                for (reply, actor) in std::mem::take(&mut self.checks_waiting) {
                    let audit = Audit::of(actor, "health_check", None);
                    self.request(Request::Health, reply, Some(audit), log);
                }
            }
        }
    }

    /// A control request of `actor`: handed to the core (a reload read first), its control
    /// action journaled with the answer; a health check waits for the cycle it forces.
    fn control(&mut self, (request, reply): Envelope, actor: Actor, log: &mut dyn FnMut(&str)) {
        if request == Request::HealthCheck {
            if self.checks_waiting.len() >= CHECKS_WAITING_COUNT {
                let busy = crate::core::ControlError::Busy(format!(
                    "{CHECKS_WAITING_COUNT} health checks wait for a cycle already (the limit); the next report answers them — read it with GET /v1/health"
                ));
                let _ = reply.send(busy.into());
                return;
            }
            self.checks_waiting.push((reply, actor));
            self.monitor_config.force_cycle();
            return;
        }
        let audit = request
            .action()
            .map(|(action, target)| Audit::of(actor, action, target.map(str::to_owned)));
        self.request(request, reply, audit, log);
    }

    fn request(
        &mut self,
        request: Request,
        reply: Sender<Response>,
        audit: Option<Audit>,
        log: &mut dyn FnMut(&str),
    ) {
        let token = self.next_token;
        self.next_token = self.next_token.wrapping_add(1);
        self.replies.insert(token, reply);
        if let Some(audit) = audit {
            self.audits.insert(token, audit);
        }
        if let Request::Reload { dry_run } = request {
            return self.reload(Some(token), dry_run, "ballast reload", None, log);
        }
        let kill_switch = if request == Request::Release {
            health::kill_switch_files(&self.data_dir)
        } else {
            Default::default()
        };
        self.handle(
            Input::Control {
                token,
                request,
                kill_switch,
            },
            log,
        );
    }

    /// The end of a wake-up.
    pub fn tick(&mut self, log: &mut dyn FnMut(&str)) {
        let heartbeats = self.heartbeats();
        self.handle(Input::Tick { heartbeats }, log);
    }

    /// Hand the monitor's thread what it reads about the services.
    pub fn publish_inputs(&mut self) {
        let services: Vec<health::ServiceBrief> = self
            .core
            .views(Instant::now())
            .into_iter()
            .map(|v| health::ServiceBrief {
                state: v.health_state(),
                name: v.name,
                critical: v.critical,
                depends_on: v.depends_on,
                last_exit: v.last_exit,
            })
            .collect();
        let (dropped, failed) = self.ops.health();
        if let Ok(mut i) = self.inputs.lock() {
            if i.services != services {
                i.services = services;
            }
            if &i.config_file != self.core.config_file_seen() {
                i.config_file = self.core.config_file_seen().clone();
            }
            if i.heal_findings != self.core.heal_findings() {
                i.heal_findings = self.core.heal_findings().to_vec();
            }
            if i.disabled_problems != self.core.disabled_list_problems() {
                i.disabled_problems = self.core.disabled_list_problems().to_vec();
            }
            let disabled = self.core.disabled_checks();
            if i.disabled_checks != disabled {
                i.disabled_checks = disabled;
            }
            i.ops_dropped = dropped;
            i.ops_failed = failed;
            i.alert_sinks_failing = self.alerts.failing();
            i.policy = Some(self.core.policy());
        }
        let due = self
            .news_cycle_at
            .is_none_or(|at| at.elapsed() >= NEWS_CYCLE_EVERY);
        if self.health_news && due {
            self.health_news = false;
            self.news_cycle_at = Some(Instant::now());
            self.monitor_config.force_cycle();
        }
    }

    /// The next events: those queued, else whatever comes first within `timeout` — a child's
    /// exit (its pidfd becomes readable: the loop wakes directly, no other thread involved) or
    /// an event from another thread (the eventfd). `None` waits without a limit.
    pub fn wait(&self, timeout: Option<Duration>) -> Vec<Event> {
        use rustix::event::{PollFd, PollFlags, Timespec};
        let mut out: Vec<Event> = self.rx.try_iter().collect();
        if !out.is_empty() {
            return out;
        }
        let mut child = false;
        {
            let mut fds = vec![PollFd::new(&*self.wake, PollFlags::IN)];
            for p in self.procs.values() {
                if let Some(fd) = p.pidfd.as_ref() {
                    fds.push(PollFd::new(fd, PollFlags::IN));
                }
            }
            let ts = timeout.map(|d| Timespec {
                tv_sec: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                tv_nsec: i64::from(d.subsec_nanos()),
            });
            if rustix::event::poll(&mut fds, ts.as_ref()).is_ok() {
                child = fds[1..].iter().any(|f| !f.revents().is_empty());
                if !fds[0].revents().is_empty() {
                    let mut buf = [0u8; 8];
                    let _ = rustix::io::read(&*self.wake, &mut buf);
                }
            }
        }
        out.extend(self.rx.try_iter());
        if child {
            out.push(Event::Child);
        }
        out
    }

    /// How long to sleep at most.
    fn timeout(&self) -> Option<Duration> {
        let ping = self.sd.as_ref().and_then(|sd| sd.next_wakeup());
        let core = self.core.next_wakeup(Instant::now());
        [core, ping]
            .into_iter()
            .flatten()
            .min()
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// A turn of the loop: systemd's watchdog ping when it is due.
    fn turned(&mut self, log: &mut dyn FnMut(&str)) {
        if let Some(sd) = &mut self.sd {
            sd.on_turn(log);
        }
    }

    /// Run until SIGINT / SIGTERM.
    pub fn run(&mut self, log: &mut dyn FnMut(&str)) {
        loop {
            let mut stop = false;
            for ev in self.wait(self.timeout()) {
                match ev {
                    Event::Stop => stop = true,
                    ev => self.event(ev, log),
                }
            }
            if stop {
                break;
            }
            self.turned(log);
            self.tick(log);
            self.publish_inputs();
            self.ops.flush();
            self.alerts.flush(&self.ops, &self.published, log);
        }
    }

    /// Stop services in reverse dependency order, each fully down before the next.
    pub fn shutdown(&mut self, log: &mut dyn FnMut(&str)) {
        if let Some(sd) = &mut self.sd {
            sd.on_stop(log);
        }
        self.handle(Input::Shutdown, log);
        while !self.core.finished() {
            let wait = self.timeout().unwrap_or(Duration::from_secs(1));
            for ev in self.wait(Some(wait)) {
                match ev {
                    Event::Child | Event::Control(..) | Event::Measured(_) => self.event(ev, log),
                    Event::Stop
                    | Event::Notify { .. }
                    | Event::Probed { .. }
                    | Event::Heartbeat { .. }
                    | Event::Reload
                    | Event::ConfigFile
                    | Event::Heal { .. } => {}
                }
            }
            // A SIGCHLD may have been coalesced with one already handled.
            self.reap(log);
            self.turned(log);
            self.tick(log);
        }
    }
}

/// Journal an event, and log it when operators see it in the log.
pub(crate) fn emit(ops: &Ops, ev: &OpsEvent, log: &mut dyn FnMut(&str)) {
    if ev.logged() {
        log(&ev.to_string());
    }
    ops.emit(ev);
}

/// The health monitor's thread: a cycle every `every` (each check on its own interval), its
/// report handed to the loop, whose governor decides. A reload's configuration ends the wait
/// at once (its checks, thresholds and pace from then on: a cycle runs right away). Ends with
/// the supervisor.
pub(crate) fn spawn_health(
    mut monitor: health::Monitor,
    inputs: Arc<Mutex<health::Inputs>>,
    events: Waker,
    stop: Arc<std::sync::atomic::AtomicBool>,
    reloaded: Arc<crate::health_reconfig::HealthReconfig>,
) {
    std::thread::spawn(move || {
        // The first cycle at once: it runs the user's checks the start left pending.
        let mut first = true;
        loop {
            let (config, force) = if first {
                first = false;
                (None, false)
            } else {
                reloaded.wait_cycle(monitor.cycle_every())
            };
            if stop.load(std::sync::atomic::Ordering::Relaxed) {
                return;
            }
            if let Some(config) = config {
                monitor.reconfigure(config);
            }
            let snapshot = inputs.lock().map(|i| i.clone()).unwrap_or_default();
            monitor.policy = snapshot.policy;
            let report = monitor.cycle(&snapshot, force);
            let engine = monitor.engine_status().cloned();
            if !events.send(Event::Measured(Box::new((report, engine)))) {
                return;
            }
        }
    });
}

/// The core's setting from the options of `run`.
pub(crate) fn core_config(
    services: Vec<ServiceSpec>,
    heal: &HealOptions,
    data_dir: &Path,
) -> CoreConfig {
    let layout = ballast_store::Layout::new(data_dir);
    let disabled = ballast_store::files::disabled::restore(
        &ballast_store::RealStorage,
        &layout,
        &ballast_store::SystemClock,
    );
    let checks = crate::core::lifecycle::CheckModule::of_config(&heal.config);
    CoreConfig {
        checks,
        disabled,
        services,
        mode: heal.config.general.mode,
        gated: heal.gated.clone(),
        live_refused: heal.live_refused.clone(),
        sweep_every: heal.sweep,
        config_file: heal.config_file.clone(),
        supervisor_pid: std::process::id(),
        config: Box::new(heal.config.clone()),
        config_hash: heal.config_hash.clone(),
    }
}

/// The declared artifacts inotify watches (a heartbeat changes all the time: the liveness
/// path watches those).
pub(crate) fn watched_artifacts(
    data_dir: &Path,
    heal: &HealOptions,
    clock: &dyn Clock,
) -> Vec<PathBuf> {
    let healer = crate::heal::Healer {
        data_dir,
        config: &heal.config,
        clock,
        cache: None,
    };
    heal.config
        .artifacts
        .iter()
        // A cache changes all the time and is not the healer's: not watched.
        .filter(|a| {
            !matches!(
                a.kind,
                ballast_core::config::ArtifactKind::Heartbeat
                    | ballast_core::config::ArtifactKind::Cache
            )
        })
        .map(|a| healer.artifact_path(&a.service, &a.path))
        .collect()
}

/// The shortest time between two health cycles forced by service events (a crash loop does not
/// turn into a cycle loop; the regular cycle still runs).
const NEWS_CYCLE_EVERY: Duration = Duration::from_millis(100);

/// Whether `ev` changes what the health report says of a service (its exit, FAILED, readiness),
/// so the report should not wait for the next cycle.
fn changes_health(ev: &OpsEvent) -> bool {
    matches!(
        ev,
        OpsEvent::ServiceExited {
            requested: false,
            ..
        } | OpsEvent::ServiceDown { .. }
            | OpsEvent::ServiceReady { .. }
            | OpsEvent::LivenessKill { .. }
    )
}

/// Health checks waiting for a forced cycle at most.
pub(crate) const CHECKS_WAITING_COUNT: usize = 64;

/// A control action waiting for its answer: who asked for what.
#[derive(Debug, Clone)]
pub(crate) struct Audit {
    actor: Actor,
    action: &'static str,
    target: Option<String>,
}

impl Audit {
    fn of(actor: Actor, action: &'static str, target: Option<String>) -> Audit {
        Audit {
            actor,
            action,
            target,
        }
    }

    /// The ops event of the action answered with `answer` at `at`.
    fn event(self, answer: &Response, at: ballast_core::Timestamp) -> OpsEvent {
        let (outcome, message) = match answer {
            Response::Error { message, code } => (
                code.clone().unwrap_or_else(|| "refused".into()),
                Some(message.clone()),
            ),
            Response::Done { message } => ("done".into(), Some(message.clone())),
            Response::Reload(r) => (r.outcome.clone(), Some(r.message.clone())),
            _ => ("done".into(), None),
        };
        OpsEvent::ControlAction(Box::new(crate::core::ControlAction {
            action: self.action,
            target: self.target,
            via: self.actor.via,
            role: self.actor.role,
            remote: self.actor.remote,
            at,
            outcome,
            message,
        }))
    }
}
