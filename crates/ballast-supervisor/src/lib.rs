//! The supervisor (SPEC §1, §6): runs services — the trading engine and the user's own
//! programs — as child processes, restarts them by the decisions of its pure
//! [`core::SupervisorCore`], and answers `ballast status` over a local socket whatever state
//! the services are in.
//!
//! - `core/` decides (no I/O, no clock: inputs in, outputs out); the rest is the shell that
//!   carries the decisions out, one job per file: `main_loop.rs` (the loop, its events,
//!   shutdown), `process.rs` (spawn, reap, process groups), `readiness.rs` (sd_notify, the
//!   HTTP probe, heartbeat files), `watch.rs` (inotify), `procfs.rs` (the `/proc` readers),
//!   `handlers.rs` (the control socket's answers), `sweep.rs` (the healer's runs).
//! - Each child leads its own process group; a stop sends the service's stop signal to the
//!   group, waits `stop_timeout`, then SIGKILL to the group — and SIGKILL to whatever is left of
//!   the group once the leader is gone, so no grandchild survives.
//! - The supervisor is a child subreaper: orphaned grandchildren are re-parented to it and
//!   reaped. Children carry `BALLAST_SUPERVISOR_PID` and `BALLAST_SERVICE` in their environment.
//! - Event-driven: one loop thread owns every decision; SIGCHLD, SIGINT/SIGTERM and control
//!   requests arrive as events, timers (restart delays, readiness, stop deadlines) as the loop's
//!   receive timeout. Children are spawned and reaped on the loop thread only, so reaping with
//!   `waitpid(-1)` never races the standard library's spawn.
//! - Child output goes to size-rotated files in `logs/`.
#![forbid(unsafe_code)]
// Only the pure core denies the I/O, clock and printing of `clippy.toml`.
#![allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    clippy::disallowed_macros
)]

mod alerts;
pub mod cache;
mod cache_guard;
pub mod control;
pub mod core;
pub mod counts;
mod handlers;
pub mod heal;
pub mod health;
mod health_reconfig;
pub mod limits;
pub mod lock;
pub mod logs;
mod main_loop;
pub mod ops;
mod process;
mod procfs;
pub mod protocol;
mod readiness;
mod reload;
pub mod surface;
mod sweep;
pub mod systemd;
mod watch;

use std::collections::BTreeMap;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ballast_core::Clock;
use ballast_core::supervisor::{RestartRules, ServiceState};
use rustix::process::Signal;

use crate::core::{Now, OpsEvent, SupervisorCore};
use crate::main_loop::{EVENT_QUEUE, Event, Shell, Waker};
use crate::ops::Ops;

pub use crate::process::DATA_DIR_TAG;
pub use crate::procfs::find_orphans;
pub use crate::readiness::{http_ok, http_status};

/// One service to supervise.
#[derive(Debug, Clone)]
pub struct ServiceSpec {
    pub name: String,
    pub command: PathBuf,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub cwd: Option<PathBuf>,
    pub critical: bool,
    pub rules: RestartRules,
    pub depends_on: Vec<String>,
    /// Running this long makes it RUNNING (ready) — unless `notify`.
    pub min_uptime: Duration,
    /// Ready when it sends `READY=1` to its `NOTIFY_SOCKET` (sd_notify protocol).
    pub notify: bool,
    /// A file the service touches: ready once it is touched after the start (when
    /// `heartbeat_ready`), and a liveness failure when older than `heartbeat_max_age`.
    pub heartbeat_file: Option<PathBuf>,
    pub heartbeat_ready: bool,
    pub heartbeat_max_age: Option<Duration>,
    /// sd_notify `WATCHDOG=1` must arrive at least this often.
    pub watchdog: Option<Duration>,
    /// Ready when a GET of this `http://` URL answers 2xx.
    pub http_ready: Option<String>,
    pub stop_signal: Signal,
    pub stop_timeout: Duration,
    /// `on_failure = "disable"`: disabled when FAILED (supportive services only).
    pub on_failure_disable: bool,
    /// The service started while this one is FAILED or disabled.
    pub fallback: Option<String>,
}

/// Parse a stop signal name (`TERM`, `SIGTERM`, `INT`, `HUP`, `QUIT`, `USR1`, `USR2`, `KILL`).
pub fn parse_signal(name: &str) -> Option<Signal> {
    let n = name.trim().to_ascii_uppercase();
    Some(match n.strip_prefix("SIG").unwrap_or(&n) {
        "TERM" => Signal::TERM,
        "INT" => Signal::INT,
        "HUP" => Signal::HUP,
        "QUIT" => Signal::QUIT,
        "USR1" => Signal::USR1,
        "USR2" => Signal::USR2,
        "KILL" => Signal::KILL,
        _ => return None,
    })
}

impl ServiceSpec {
    /// Liveness or heartbeat readiness is looked at on the 100 ms tick.
    pub fn needs_tick(&self) -> bool {
        self.heartbeat_ready || self.heartbeat_max_age.is_some() || self.watchdog.is_some()
    }
}

/// Why the supervisor could not run.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Lock(#[from] lock::LockError),
    #[error("refusing to start: {0}")]
    Link(String),
    #[error("{0}; nothing was started")]
    InForce(String),
    #[error("cannot watch signals: {0}")]
    Signals(std::io::Error),
}

/// What the supervisor heals and gates (SPEC §4).
#[derive(Debug, Clone)]
pub struct HealOptions {
    /// The configuration: mode, declared artifacts, services.
    pub config: ballast_core::config::Config,
    /// Services that start only when the self-heal allows it (the engine: in live mode, not
    /// while anything dangerous is found).
    pub gated: Vec<String>,
    /// Period of the healing operator's sweep.
    pub sweep: Duration,
    /// The configuration file in use, as `ballast status` shows it.
    pub config_file: Option<String>,
    /// Why a live start is refused whatever the heal and health say (a precondition of
    /// principle 1 is missing): the gated services stay HELD with this reason.
    pub live_refused: Option<String>,
    /// What principle 1 was asked (mode, `--live`, broker, credentials): the health report's
    /// live gate ([`ballast_core::live::gate`]) is judged on it each cycle (`None`: not shown).
    pub live: Option<ballast_core::live::Asked>,
    /// The hash of the configuration file's bytes, as `ballast status` shows it.
    pub config_hash: String,
    /// Reads the same configuration file again, as at the start (`ballast reload`, SIGHUP);
    /// without one a reload answers that it cannot.
    pub reloader: Option<Reloader>,
    /// Started with the supervisor's handle for the operator surfaces (the HTTP API), if any.
    pub surface: Option<surface::SurfaceHook>,
}

/// What reads the configuration again: the file the supervisor started with, under the same
/// environment rules, validated completely, its services built — or every error, each as
/// `ballast check` prints it.
#[derive(Clone)]
pub struct Reloader {
    pub read: Arc<dyn Fn() -> Result<core::Loaded, Vec<String>> + Send + Sync>,
    /// The file it reads (watched: a change that validates is a `reload_config`
    /// recommendation), if any.
    pub file: Option<PathBuf>,
}

impl std::fmt::Debug for Reloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Reloader")
    }
}

/// Run the supervisor until SIGINT / SIGTERM, then stop every service in reverse dependency
/// order. `data_dir` holds `run/supervisor.sock`, `run/notify/` and `logs/`. Before any service
/// starts, the startup self-heal runs (orphans of a previous supervisor of the same data
/// directory are killed in paper mode, else reported); then the healing operator sweeps every
/// `heal.sweep` and whenever inotify reports a change to the data directory's own directories.
pub fn run(
    data_dir: &Path,
    services: Vec<ServiceSpec>,
    clock: Arc<dyn Clock>,
    heal: HealOptions,
    log: &mut dyn FnMut(&str),
) -> Result<(), SupervisorError> {
    let layout = ballast_store::Layout::new(data_dir);
    let (run_dir, log_dir) = (layout.run(), layout.logs());
    let held = prepare(data_dir, &clock, log)?;
    let socket = layout.control_socket();
    let (listener, bound) = listen(&run_dir, &socket)?;
    keep_default_dispositions(log);
    let (tx, rx) = mpsc::sync_channel::<Event>(EVENT_QUEUE);
    let wake_fd = rustix::event::eventfd(
        0,
        rustix::event::EventfdFlags::CLOEXEC | rustix::event::EventfdFlags::NONBLOCK,
    )
    .map_err(|e| SupervisorError::Signals(e.into()))?;
    let wake_fd = Arc::new(wake_fd);
    let tx = Waker {
        tx,
        fd: Arc::clone(&wake_fd),
    };
    let to_loop = tx.clone();
    control::serve(listener, move |env| {
        to_loop.send(Event::Control(env, control::Actor::cli()))
    });
    let published = Arc::new(surface::Published::default());
    if let Some(hook) = &heal.surface {
        let to_loop = tx.clone();
        let handle = surface::Surface::new(Arc::clone(&published), move |env, actor| {
            to_loop.send(Event::Control(env, actor))
        });
        (hook.0)(handle);
    }
    let sig_handle = watch_signals(tx.clone())?;
    let mut ops = Ops::open(data_dir, Arc::clone(&clock), log);
    ops.count_into(Arc::clone(&published));
    let alerts = alerts::Alerter::start(
        data_dir,
        &heal.config,
        &ops,
        Arc::clone(&published),
        clock.now(),
        log,
    );
    let names = services.iter().map(|s| s.name.clone()).collect();
    main_loop::emit(
        &ops,
        &OpsEvent::SupervisorStarted {
            pid: std::process::id(),
            services: names,
        },
        log,
    );
    // The engine it starts runs the configuration in force (this one until a reload applies
    // another), never a file edited since and not reloaded.
    let in_force = ballast_core::config::in_force::InForce::new(&heal.config_hash, &heal.config);
    ballast_store::files::engine_config::write(&ballast_store::RealStorage, &layout, &in_force)
        .map_err(SupervisorError::InForce)?;
    let notify_sockets = readiness::bind_notify(&run_dir, &services, &tx, log)?;
    let now = Now {
        at: Instant::now(),
        wall: clock.now(),
    };
    let mut governor = health::load_governor(data_dir, &heal.config, now.wall, log);
    governor.live = heal.live.clone();
    let core = SupervisorCore::new(
        main_loop::core_config(services, &heal, data_dir),
        governor,
        now,
    );
    let mut shell = Shell {
        core,
        clock,
        data_dir: data_dir.to_owned(),
        procs: Default::default(),
        launcher: process::Launcher {
            data_dir: data_dir.to_owned(),
            log_dir,
            notify_sockets,
        },
        events: tx,
        rx,
        wake: wake_fd,
        ops,
        sweeper: Default::default(),
        replies: BTreeMap::new(),
        audits: BTreeMap::new(),
        checks_waiting: Vec::new(),
        next_token: 0,
        inputs: Default::default(),
        exits: Default::default(),
        monitor_config: Default::default(),
        health_news: false,
        news_cycle_at: None,
        watched: Default::default(),
        reload_watches: 0,
        heal,
        published,
        alerts,
        sd: systemd::SdNotify::from_env(log),
    };
    if let Some(file) = shell.heal.reloader.as_ref().and_then(|r| r.file.clone()) {
        shell.core.watch_config_file();
        reload::watch_config_file(&file, shell.events.clone(), log);
    }
    let health_stop = start(&mut shell, log);
    log(&format!(
        "supervisor {} up: {} service(s), control socket {}",
        std::process::id(),
        shell.core.specs().count(),
        socket.display()
    ));
    shell.core.begin(shell_now(&shell));
    shell.drain(log);
    shell.run(log);
    health_stop.store(true, std::sync::atomic::Ordering::Relaxed);
    log("supervisor: stopping services in reverse order");
    shell.shutdown(log);
    let stopped = OpsEvent::SupervisorStopped {
        pid: std::process::id(),
    };
    main_loop::emit(&shell.ops, &stopped, log);
    shell.alerts.flush(&shell.ops, &shell.published, log);
    shell.alerts.close();
    shell.ops.close();
    sig_handle.close();
    // Only the socket this supervisor bound: one put in its place since is not ours to remove.
    if same_file(&socket, bound) {
        let _ = std::fs::remove_file(&socket);
    }
    log("supervisor: stopped");
    drop(held);
    Ok(())
}

fn shell_now(shell: &Shell) -> Now {
    Now {
        at: Instant::now(),
        wall: shell.clock.now(),
    }
}

/// The startup self-heal (orphans of a previous supervisor included) before any service
/// starts, a first health report for the live-start gate, then the monitor's thread and the
/// watches. Returns the monitor thread's stop flag.
fn start(shell: &mut Shell, log: &mut dyn FnMut(&str)) -> Arc<std::sync::atomic::AtomicBool> {
    shell.core.startup_sweep(shell_now(shell));
    shell.drain(log);
    let mut monitor = health::Monitor::new(
        &shell.data_dir,
        Arc::new(shell.heal.config.clone()),
        Arc::clone(&shell.clock),
        Arc::clone(&shell.exits),
    );
    if shell.core.config_file_seen() != &crate::core::FileSeen::NotWatched {
        monitor.watch_config_file();
    }
    shell.publish_inputs();
    let inputs = shell.inputs.lock().map(|i| i.clone()).unwrap_or_default();
    let report = monitor.first_cycle(&inputs);
    let engine = monitor.engine_status().cloned();
    shell.event(Event::Measured(Box::new((report, engine))), log);
    let health_stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    main_loop::spawn_health(
        monitor,
        Arc::clone(&shell.inputs),
        shell.events.clone(),
        Arc::clone(&health_stop),
        Arc::clone(&shell.monitor_config),
    );
    // Heartbeat files, the data directory's own directories (a deleted one is recreated at
    // once) and the declared files.
    let heartbeats: Vec<(usize, PathBuf)> = shell
        .core
        .specs()
        .enumerate()
        .filter_map(|(i, s)| Some((i, s.heartbeat_file.clone()?)))
        .collect();
    let artifacts = main_loop::watched_artifacts(&shell.data_dir, &shell.heal, &*shell.clock);
    shell.watched = heartbeats
        .iter()
        .map(|(i, p)| (Some(*i), p.clone()))
        .chain(artifacts.iter().map(|p| (None, p.clone())))
        .collect();
    watch::watch(
        &shell.data_dir,
        &heartbeats,
        &artifacts,
        shell.events.clone(),
        log,
    );
    health_stop
}

/// Refuse links, create `run/` and `logs/`, take the locks, become the subreaper.
fn prepare(
    data_dir: &Path,
    clock: &Arc<dyn Clock>,
    log: &mut dyn FnMut(&str),
) -> Result<lock::SupervisorLock, SupervisorError> {
    let layout = ballast_store::Layout::new(data_dir);
    let (run_dir, log_dir) = (layout.run(), layout.logs());
    // Nothing is written through a link inside the data directory — not the lock, the socket,
    // the logs: refused before anything is created (the engine refuses the same).
    if let Some(why) =
        ballast_core::heal::link_refusal(&ballast_store::Layout::new(data_dir).symlink_obs())
    {
        return Err(SupervisorError::Link(why));
    }
    // run/ is the owner's only (0700 whatever the umask; a missing data directory is created
    // with it): the control socket, the locks and the notify sockets live there.
    ballast_store::storage::create_dirs(&run_dir, ballast_store::storage::PRIVATE_DIR_MODE)
        .map_err(io("cannot create", &run_dir))?;
    // One supervisor per data directory, and none beside a standalone engine: decided before
    // anything else is touched.
    let held = lock::acquire(data_dir, &clock.now().to_string())?;
    if let Some(w) = held.dir.warning(data_dir) {
        log(&format!("warning: {w}"));
    }
    if let Some(mode) = ballast_store::storage::open_to_others(data_dir) {
        log(&format!(
            "WARNING: {}",
            ballast_core::heal::open_to_others(&data_dir.display().to_string(), mode)
        ));
    }
    ballast_store::storage::create_dirs(&log_dir, ballast_store::storage::DIR_MODE)
        .map_err(io("cannot create", &log_dir))?;
    // Orphans re-parent to us and are reaped here.
    if let Err(e) = rustix::process::set_child_subreaper(Some(rustix::process::getpid())) {
        log(&format!("warning: cannot become a child subreaper: {e}"));
    }
    Ok(held)
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> SupervisorError {
    let path = path.display().to_string();
    move |source| SupervisorError::Io { what, path, source }
}

/// The control socket, unless a supervisor still answers there (the locks say none runs;
/// this one would be a runtime that holds no lock). A socket left by a supervisor that died
/// is replaced by the rename of the new one.
fn listen(run_dir: &Path, socket: &Path) -> Result<(UnixListener, (u64, u64)), SupervisorError> {
    if control::with_short_path(socket, |p| std::os::unix::net::UnixStream::connect(p)).is_ok() {
        return Err(SupervisorError::Io {
            what: "another supervisor answers on",
            path: socket.display().to_string(),
            source: std::io::Error::other(
                "one supervisor per data directory; nothing was started — `ballast status` talks to it",
            ),
        });
    }
    bind_private(run_dir, socket).map_err(io("cannot listen on", socket))
}

/// Children must start with default dispositions. A signal the supervisor inherited as
/// ignored (nohup, a service manager) would stay ignored across exec; a handler that does
/// nothing keeps ignoring it here, and exec resets handled signals to their default — so
/// children get SIG_DFL with no code between fork and exec, and spawning keeps the
/// posix_spawn fast path.
fn keep_default_dispositions(log: &mut dyn FnMut(&str)) {
    let swallowed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in procfs::ignored_signals() {
        if let Err(e) = signal_hook::flag::register(sig, Arc::clone(&swallowed)) {
            log(&format!(
                "warning: signal {sig} is ignored and stays ignored in services ({e})"
            ));
        }
    }
}

/// SIGCHLD, SIGINT, SIGTERM and SIGHUP (reload the configuration) as events of the loop,
/// from a thread of their own.
fn watch_signals(tx: Waker) -> Result<signal_hook::iterator::Handle, SupervisorError> {
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGCHLD,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ])
    .map_err(SupervisorError::Signals)?;
    let handle = signals.handle();
    std::thread::spawn(move || {
        for s in signals.forever() {
            let ev = match s {
                signal_hook::consts::SIGCHLD => Event::Child,
                signal_hook::consts::SIGHUP => Event::Reload,
                _ => Event::Stop,
            };
            if !tx.send(ev) {
                return;
            }
        }
    });
    Ok(handle)
}

/// Bind the control socket at `socket` with its permissions right from the first instant: it
/// is bound inside a fresh private directory (0700), restricted to 0600 there, then renamed
/// into place — so neither the umask nor the mode of `run/` ever leaves it reachable by
/// another user, not even between bind and chmod. Only this user may operate the supervisor
/// (approve, release, restart): the socket's permissions are the authentication of the local
/// control channel.
///
/// Returns the listener and the socket file's (device, inode), to remove it at exit only if it
/// is still the one bound. A path longer than a socket address holds is bound through a
/// descriptor of its directory ([`control::with_short_path`]).
fn bind_private(run_dir: &Path, socket: &Path) -> std::io::Result<(UnixListener, (u64, u64))> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    let private = run_dir.join(format!(".control.{}", std::process::id()));
    // Left by an earlier supervisor that had this pid.
    let _ = std::fs::remove_file(private.join("supervisor.sock"));
    let _ = std::fs::remove_dir(&private);
    std::fs::DirBuilder::new().mode(0o700).create(&private)?;
    let bound = (|| {
        let path = private.join("supervisor.sock");
        let listener = control::with_short_path(&path, |p| UnixListener::bind(p))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        let meta = std::fs::symlink_metadata(&path)?;
        std::fs::rename(&path, socket)?;
        Ok((listener, (meta.dev(), meta.ino())))
    })();
    let _ = std::fs::remove_file(private.join("supervisor.sock"));
    let _ = std::fs::remove_dir(&private);
    bound
}

/// Whether `path` is (still) the file `(device, inode)`, not following a link at it.
fn same_file(path: &Path, (dev, ino): (u64, u64)) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path).is_ok_and(|m| m.dev() == dev && m.ino() == ino)
}

pub fn state_name(s: ServiceState) -> &'static str {
    s.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeat_files_are_seen_by_inotify_when_written_replaced_or_deleted() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tempfile::tempdir().unwrap();
        let hb = tmp.path().join("bot.heartbeat");
        let other = tmp.path().join("unrelated");
        let (tx, rx) = mpsc::sync_channel(EVENT_QUEUE);
        let fd = rustix::event::eventfd(0, rustix::event::EventfdFlags::NONBLOCK).unwrap();
        let waker = Waker {
            tx,
            fd: Arc::new(fd),
        };
        watch::watch(data.path(), &[(3, hb.clone())], &[], waker, &mut |_| {});
        let next = || match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Event::Heartbeat { slot }) => slot,
            _ => panic!("no heartbeat event"),
        };
        std::fs::write(&other, "x").unwrap(); // another file in the directory: no event
        std::fs::write(&hb, "1").unwrap();
        assert_eq!(next(), 3);
        while rx.try_recv().is_ok() {} // create + write + close may each report
        let tmpfile = tmp.path().join(".bot.tmp");
        std::fs::write(&tmpfile, "2").unwrap();
        std::fs::rename(&tmpfile, &hb).unwrap(); // the engine's way: write, then rename
        assert_eq!(next(), 3);
        while rx.try_recv().is_ok() {}
        std::fs::remove_file(&hb).unwrap();
        assert_eq!(next(), 3);
    }
}
