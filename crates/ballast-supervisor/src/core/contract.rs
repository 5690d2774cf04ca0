//! The core's contract: what comes in ([`Input`], at a [`Now`]), what goes out
//! ([`Output`]), and the values they carry.

use std::time::{Duration, Instant};

use ballast_core::Timestamp;
use ballast_core::config::Mode;
use ballast_core::engine::EngineStatus;
use ballast_core::heal::FailureClass;
use ballast_core::health::Report;
use ballast_core::policy::{Policy, PolicyState, Transition};
use rustix::process::Signal;

use super::{ControlError, Files, KillSwitchFiles, OpsEvent, StatusView, Token};
use crate::ServiceSpec;
use crate::control::Request;

/// The time of an input: the monotonic instant (timers) and the wall clock (records).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    pub at: Instant,
    pub wall: Timestamp,
}

/// A service's heartbeat file as the shell found it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeartbeatSeen {
    /// The file exists.
    pub exists: bool,
    /// It changed since the process started (a heartbeat of this start).
    pub fresh: bool,
    /// Age of that heartbeat (`None` when not fresh).
    pub age_ms: Option<u64>,
}

/// Why a spawn failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpawnFailed {
    /// `cannot start COMMAND: ERROR`.
    pub why: String,
    /// Why no restart can help (a missing or non-executable command), if so.
    pub permanent: Option<String>,
}

/// What a sweep of the healer found, as the core needs it.
#[derive(Debug, Clone, Default)]
pub struct Swept {
    /// The heal report, for a reply.
    pub report: Option<Box<crate::heal::Report>>,
    /// Why the plan refuses a live engine start, if it does.
    pub refusal: Option<String>,
    /// Dangerous findings and failed heals: (component, target, reason, failure class).
    pub findings: Vec<(String, String, String, FailureClass)>,
    /// Services the healer restarts (a stale heartbeat).
    pub restarts: Vec<String>,
    /// Every component was healthy.
    pub clean: bool,
}

/// A health cycle's results, measured on the monitor's thread, with what the shell read of
/// the files beside them on the loop's.
#[derive(Debug, Clone)]
pub struct Measured {
    pub report: Report,
    pub engine: Option<EngineStatus>,
    pub files: Files,
}

/// What happens to the core.
#[derive(Debug, Clone)]
pub enum Input {
    /// A service's process was reaped; `left_behind`: processes of its group that were still
    /// there (the shell killed them).
    ChildExited {
        pid: i32,
        code: Option<i32>,
        signal: Option<i32>,
        left_behind: Vec<i32>,
    },
    /// The answer to [`Output::Spawn`].
    Spawned {
        slot: usize,
        result: Result<i32, SpawnFailed>,
    },
    /// An sd_notify datagram of a service.
    Notify { service: String, message: String },
    /// The HTTP readiness probe of start number `start` answered 2xx.
    Probed { service: String, start: u64 },
    /// Inotify saw a service's heartbeat file change.
    Heartbeat { slot: usize, seen: HeartbeatSeen },
    /// A health cycle's results.
    Measured(Box<Measured>),
    /// A file Ballast watches changed (`urgent`: one of its own directories went away).
    FileChanged { urgent: bool },
    /// The answer to [`Output::Sweep`].
    Swept(Box<Swept>),
    /// The answer to [`Output::ClearCache`]: what was removed, what failed, what is left.
    CacheCleared {
        id: u64,
        cleared: Box<ballast_core::cache::Cleared>,
    },
    /// The answer to [`Output::Write`]: what was written (shown as), or why not.
    Written {
        id: u64,
        result: Result<String, String>,
    },
    /// An operator's request, with the kill switch's files as found.
    Control {
        token: Token,
        request: Request,
        kill_switch: KillSwitchFiles,
    },
    /// The end of a wake-up: timers, sweeps and starts that are due. `heartbeats`: each
    /// running service's heartbeat file as found now.
    Tick {
        heartbeats: Vec<(usize, HeartbeatSeen)>,
    },
    /// SIGINT / SIGTERM: stop every service in reverse dependency order.
    Shutdown,
    /// `ballast reload` (with its token) or SIGHUP: the configuration file as read again now.
    Reload(Box<super::reload::Reload>),
    /// Inotify saw the configuration file change.
    ConfigFileChanged,
    /// The answer to [`Output::ReadConfig`] without an approval: the file as read now.
    ConfigRead(Result<Box<super::reload::Loaded>, Vec<String>>),
}

/// A file the supervisor writes.
#[derive(Debug, Clone, PartialEq)]
pub enum FileWrite {
    /// `state/policy.json`, durably.
    Policy(PolicyState),
    /// `state/health.json`, atomically.
    HealthReport(ballast_store::files::health::HealthFile),
    /// `KILL_SWITCH`, durably (an approved close-all-positions).
    KillSwitch {
        reason: String,
        flatten: bool,
        by: String,
        at: Timestamp,
    },
    /// `state/disabled.json`, durably (a disable or an enable).
    Disabled(ballast_store::files::disabled::DisabledFile),
    /// `state/engine-settings.json`, atomically: the engine settings of a configuration (its
    /// guard and risk limits), which the running engine adopts at its next bar.
    EngineSettings(Box<ballast_core::engine::SettingsFile>),
    /// `state/reconcile-choice.json`, durably, unless a choice waits there already.
    ReconcileChoice(Box<ballast_store::files::reconcile_choice::ChoiceFile>),
}

/// What a request answers.
#[derive(Debug, Clone, PartialEq)]
pub enum View {
    Status(Box<StatusView>),
    Health(ballast_store::files::health::HealthFile),
    Heal(Option<Box<crate::heal::Report>>),
    Done(String),
    Reload(Box<crate::protocol::ReloadAnswer>),
}

/// What the caller must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Start the service of this slot ([`SupervisorCore::spec`]) and answer with
    /// [`Input::Spawned`].
    Spawn { slot: usize },
    /// Send `signal` to the process group led by `pid`.
    Signal { pid: i32, signal: Signal },
    /// Probe `url` until it answers 2xx while `pid` lives, then send [`Input::Probed`].
    Probe {
        service: String,
        url: String,
        start: u64,
        pid: i32,
    },
    /// Run the healer (`dry_run`: plan only; `forget`: read the engine's files again) and
    /// answer with [`Input::Swept`].
    Sweep {
        startup: bool,
        dry_run: bool,
        forget: bool,
        /// The heal report is answered to an operator.
        report: bool,
    },
    /// Write a file and answer with [`Input::Written`].
    Write { id: u64, file: FileWrite },
    /// Empty the cache `path` (as declared) of `service` — only if the configuration declares
    /// it as a cache — and answer with [`Input::CacheCleared`]. `by`: who asked, as journaled.
    ClearCache {
        id: u64,
        service: String,
        path: String,
        by: String,
        /// The directory the recommendation was raised for: only it is cleared (the
        /// configuration in force must still declare this cache there, else refused).
        dir: String,
    },
    /// Journal (and log) an event.
    Ops(OpsEvent),
    /// A line for the supervisor's log.
    Log(String),
    /// The answer to a control request.
    Reply {
        token: Token,
        reply: Result<View, ControlError>,
    },
    /// Read the configuration file again: for an approved `reload_config` (its reply and id),
    /// answered with [`Input::Reload`]; else to see what it holds, answered with
    /// [`Input::ConfigRead`].
    ReadConfig { approved: Option<(Token, String)> },
    /// A reload was applied: the healer, the watches and the health monitor take this
    /// configuration from now on (its checks, artifacts, thresholds and intervals).
    Reconfigure(Box<ballast_core::config::Config>),
}

/// What follows a write.
#[derive(Debug, Clone, PartialEq)]
pub enum After {
    Nothing,
    /// The policy changed: a failed write is journaled.
    PersistChanged,
    /// The file was not the policy in force: a successful write is journaled.
    Restored(Policy),
    /// The cycle's `state/health.json`: a failed write is journaled.
    HealthCycle,
    /// An operator's release.
    Release {
        token: Token,
        transition: Option<Transition>,
    },
    /// An approved floor.
    Floor {
        token: Token,
        id: String,
        floor: Policy,
        transition: Option<Transition>,
    },
    /// An operator's kill switch (`Request::Kill`).
    Engaged {
        token: Token,
    },
    /// An operator's reconciliation choice (`Request::Reconcile`), written for the engine.
    Chosen {
        token: Token,
        finding: String,
        choice: ballast_core::reconcile::Choice,
    },
    /// An approved close-all-positions.
    KillSwitch {
        token: Token,
        id: String,
    },
    /// The disabled list: a failed write is journaled; an operator's request is answered.
    Disabled(Option<(Token, String)>),
    /// The engine's settings of the reload in progress: applied once written, else nothing.
    Reload,
    /// The engine's settings of the starting configuration: a failed write is journaled.
    StartSettings,
}

/// One step of the governor, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Ops(OpsEvent),
    Write(FileWrite, After),
}

/// How the core is set up.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    pub services: Vec<ServiceSpec>,
    pub mode: Mode,
    /// Services that start only when the self-heal and the live gate allow it (the engine).
    pub gated: Vec<String>,
    /// Why a live start is refused whatever the heal and health say.
    pub live_refused: Option<String>,
    /// Period of the healing operator's sweep.
    pub sweep_every: Duration,
    /// The configuration file in use, as `ballast status` shows it.
    pub config_file: Option<String>,
    /// The supervisor's own pid, as `ballast status` shows it.
    pub supervisor_pid: u32,
    /// The declared `[[checks]]` (what `ballast disable` and `on_failure` act on).
    pub checks: Vec<super::lifecycle::CheckModule>,
    /// The modules disabled before (`state/disabled.json`), and what was wrong with it.
    pub disabled: ballast_store::files::disabled::Restored,
    /// The configuration in force (what a reload is compared with) and its file's hash.
    pub config: Box<ballast_core::config::Config>,
    pub config_hash: String,
}
