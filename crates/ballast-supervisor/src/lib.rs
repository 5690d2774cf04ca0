//! The supervisor (SPEC §1, §6): runs services — the trading engine and the user's own
//! programs — as child processes, restarts them by the pure decisions of
//! `ballast_core::supervisor`, and answers `ballast status` over a local socket whatever state
//! the services are in.
//!
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

pub mod control;
pub mod heal;
pub mod health;
pub mod lock;
pub mod logs;
pub mod ops;

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use ballast_core::Clock;
use ballast_core::supervisor::{
    Action, ControlPlan, ControlRequest, Exit, LivenessFailure, LivenessRules, LivenessSeen,
    RestartRules, Service, ServiceState, plan_control_shown,
};
use rustix::process::{Pid, Signal, WaitOptions};

use crate::control::{Envelope, Request, Response, ServiceStatus};
use crate::logs::{LogSpec, RotatingLog};
use crate::ops::Ops;
use serde_json::json;

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
    #[error("cannot watch signals: {0}")]
    Signals(std::io::Error),
}

/// How other threads hand events to the loop: the event on a channel, then a write to an
/// eventfd the loop polls together with the children's pidfds.
#[derive(Clone)]
struct Waker {
    tx: SyncSender<Event>,
    fd: Arc<rustix::fd::OwnedFd>,
}

/// Events waiting for the loop, at most. Signals, control requests and probe results wait for
/// room; sd_notify datagrams and heartbeat changes beyond it are dropped (a service flooding
/// its socket cannot grow the supervisor's memory; the heartbeat tick still looks).
const EVENT_QUEUE: usize = 1_024;

impl Waker {
    /// Queue `ev`, waiting for room. False once the loop is gone.
    fn send(&self, ev: Event) -> bool {
        let ok = self.tx.send(ev).is_ok();
        self.wake();
        ok
    }

    /// Queue `ev` if there is room (dropped otherwise). False once the loop is gone.
    fn offer(&self, ev: Event) -> bool {
        let ok = !matches!(self.tx.try_send(ev), Err(TrySendError::Disconnected(_)));
        self.wake();
        ok
    }

    fn wake(&self) {
        let _ = rustix::io::write(&*self.fd, &1u64.to_ne_bytes());
    }
}

enum Event {
    /// SIGCHLD: some child changed state.
    Child,
    /// An sd_notify datagram from a service's notify socket.
    Notify {
        service: String,
        message: String,
    },
    /// A service's heartbeat file changed (inotify).
    Heartbeat {
        service: String,
    },
    /// The HTTP readiness probe of this start of the service answered 2xx.
    Probed {
        service: String,
        start: u64,
    },
    /// SIGINT / SIGTERM: stop everything and exit.
    Stop,
    /// Something changed (inotify): one of Ballast's own directories went away (`urgent`:
    /// sweep now), or a declared file changed (sweep soon, at most every EVENT_SWEEP_GAP).
    Heal {
        urgent: bool,
    },
    /// An event of the health monitor to journal (and log).
    Record {
        kind: String,
        body: serde_json::Value,
    },
    Control(Envelope),
}

/// A running service's process.
struct Proc {
    pid: Pid,
    /// Readable when the process exits (pidfd_open); without one, SIGCHLD still tells.
    pidfd: Option<rustix::fd::OwnedFd>,
    started: Instant,
    /// The heartbeat file's mtime just before the start: a heartbeat is a change from it (file
    /// times are coarse, and a service may touch the file before the spawn call returns).
    heartbeat_before: Option<std::time::SystemTime>,
}

/// The shortest time between two sweeps triggered by file events.
const EVENT_SWEEP_GAP: Duration = Duration::from_millis(100);

/// How soon after a child's exit the healer sweeps.
const CHILD_EXIT_SWEEP: Duration = Duration::from_millis(100);

/// How often liveness and heartbeat readiness are looked at (the heartbeat is a file's mtime).
const LIVENESS_TICK: Duration = Duration::from_millis(100);

impl ServiceSpec {
    fn needs_tick(&self) -> bool {
        self.heartbeat_ready || self.heartbeat_max_age.is_some() || self.watchdog.is_some()
    }
}

/// Heartbeat readiness, heartbeat age and the sd_notify watchdog of a running service. A failed
/// check kills the process group; the exit then counts as a liveness failure.
fn liveness(slot: &mut Slot, now: Instant, seen_by: &str, ops: &Ops, log: &mut dyn FnMut(&str)) {
    let Some(p) = &slot.proc else { return };
    if slot.stopping.is_some() || slot.liveness_kill {
        return;
    }
    let up = now.saturating_duration_since(p.started);
    let mtime = slot
        .spec
        .heartbeat_file
        .as_ref()
        .and_then(|f| std::fs::metadata(f).and_then(|m| m.modified()).ok());
    if slot.spec.heartbeat_ready
        && slot.svc.state == ServiceState::Starting
        && mtime.is_some()
        && mtime != p.heartbeat_before
    {
        slot.svc.ready();
        log(&format!(
            "{}: RUNNING (heartbeat, {seen_by})",
            slot.spec.name
        ));
        ops.record(
            "service.ready",
            json!({ "service": slot.spec.name, "via": "heartbeat" }),
        );
    }
    // Liveness applies once the service is ready: a long start (an engine replaying a big
    // journal) is not a hang.
    if slot.svc.state != ServiceState::Running {
        return;
    }
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    let rules = LivenessRules {
        heartbeat_max_age_ms: slot.spec.heartbeat_max_age.map(ms),
        watchdog_ms: slot.spec.watchdog.map(ms),
    };
    let seen = LivenessSeen {
        uptime_ms: ms(up),
        // A heartbeat is a change of the file from before the start.
        heartbeat_age_ms: mtime
            .filter(|m| Some(*m) != p.heartbeat_before)
            .and_then(|m| m.elapsed().ok())
            .map(ms),
        heartbeat_file_exists: mtime.is_some(),
        watchdog_age_ms: slot
            .last_watchdog
            .map(|t| ms(now.saturating_duration_since(t))),
    };
    let failed = ballast_core::supervisor::liveness(&rules, &seen).map(|f| match f {
        LivenessFailure::StaleHeartbeat { .. } => format!(
            "{f} ({})",
            slot.spec
                .heartbeat_file
                .as_ref()
                .map_or(String::new(), |p| p.display().to_string())
        ),
        LivenessFailure::SilentWatchdog { .. } => f.to_string(),
    });
    if let Some(why) = failed {
        log(&format!(
            "{}: liveness failed: {why}; SIGKILL to its process group",
            slot.spec.name
        ));
        ops.record(
            "service.liveness_kill",
            json!({ "service": slot.spec.name, "why": why }),
        );
        slot.liveness_kill = true;
        slot.last_exit = Some(format!("liveness: {why}"));
        let _ = rustix::process::kill_process_group(p.pid, Signal::KILL);
    }
}

struct Stopping {
    kill_at: Instant,
    /// Start again once it is down (the `restart` command).
    then_start: bool,
}

struct Slot {
    spec: ServiceSpec,
    svc: Service,
    proc: Option<Proc>,
    restart_at: Option<Instant>,
    ready_at: Option<Instant>,
    stopping: Option<Stopping>,
    /// Wanted up (false after a stop command or policy stop).
    wanted: bool,
    /// The last `WATCHDOG=1`.
    last_watchdog: Option<Instant>,
    /// The process was killed because a liveness check failed.
    liveness_kill: bool,
    /// Starts so far (tells a probe of an earlier start from the current one).
    starts: u64,
    last_exit: Option<String>,
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
    let io = |what, path: &Path| {
        let path = path.display().to_string();
        move |source| SupervisorError::Io { what, path, source }
    };
    let run_dir = ballast_store::Layout::new(data_dir).run();
    let log_dir = ballast_store::Layout::new(data_dir).logs();
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
    let socket = ballast_store::Layout::new(data_dir).control_socket();
    // Never take the place of a supervisor that still answers there (the locks say none runs;
    // this one would be a runtime that holds no lock). A socket left by a supervisor that died
    // is replaced by the rename of the new one.
    if control::with_short_path(&socket, |p| std::os::unix::net::UnixStream::connect(p)).is_ok() {
        return Err(SupervisorError::Io {
            what: "another supervisor answers on",
            path: socket.display().to_string(),
            source: std::io::Error::other(
                "one supervisor per data directory; nothing was started — `ballast status` talks to it",
            ),
        });
    }
    let (listener, bound) =
        bind_private(&run_dir, &socket).map_err(io("cannot listen on", &socket))?;

    // Children must start with default dispositions. A signal the supervisor inherited as
    // ignored (nohup, a service manager) would stay ignored across exec; a handler that does
    // nothing keeps ignoring it here, and exec resets handled signals to their default — so
    // children get SIG_DFL with no code between fork and exec, and spawning keeps the
    // posix_spawn fast path.
    let swallowed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in ignored_signals() {
        if let Err(e) = signal_hook::flag::register(sig, Arc::clone(&swallowed)) {
            log(&format!(
                "warning: signal {sig} is ignored and stays ignored in services ({e})"
            ));
        }
    }
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
    control::serve(listener, move |env| to_loop.send(Event::Control(env)));
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGCHLD,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])
    .map_err(SupervisorError::Signals)?;
    let sig_handle = signals.handle();
    let sig_tx = tx.clone();
    std::thread::spawn(move || {
        for s in signals.forever() {
            let ev = if s == signal_hook::consts::SIGCHLD {
                Event::Child
            } else {
                Event::Stop
            };
            if !sig_tx.send(ev) {
                return;
            }
        }
    });

    // Heartbeat files are watched with inotify (the 100 ms tick is the fallback).
    watch_heartbeats(&services, tx.clone(), log);
    let ops = Ops::open(data_dir, Arc::clone(&clock), log);
    ops.record(
        "supervisor.started",
        json!({
            "pid": std::process::id(),
            "services": services.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        }),
    );
    let notify_dir = run_dir.join("notify");
    let mut notify_sockets = BTreeMap::new();
    for spec in services.iter().filter(|s| s.notify) {
        ballast_store::storage::create_dirs(&notify_dir, ballast_store::storage::PRIVATE_DIR_MODE)
            .map_err(io("cannot create", &notify_dir))?;
        let path = notify_dir.join(format!("{}.sock", spec.name));
        let _ = std::fs::remove_file(&path);
        let sock = control::with_short_path(&path, |p| std::os::unix::net::UnixDatagram::bind(p))
            .map_err(io("cannot listen for sd_notify on", &path))?;
        let (name, tx) = (spec.name.clone(), tx.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = sock.recv(&mut buf) {
                let message = String::from_utf8_lossy(&buf[..n]).into_owned();
                if !tx.offer(Event::Notify {
                    service: name.clone(),
                    message,
                }) {
                    return;
                }
            }
        });
        if path.as_os_str().len() > control::MAX_SOCKET_PATH {
            log(&format!(
                "warning: {}: its NOTIFY_SOCKET {} is {} bytes, over the {} a socket address holds: `ballast notify` reaches it, but an sd_notify library may not — use a shorter --data-dir if its readiness never arrives",
                spec.name,
                path.display(),
                path.as_os_str().len(),
                control::MAX_SOCKET_PATH
            ));
        }
        notify_sockets.insert(spec.name.clone(), path);
    }

    let clock_now = clock.now();
    let mut sup = Supervisor {
        slots: order_by_dependencies(services)
            .into_iter()
            .map(|spec| Slot {
                spec,
                svc: Service::default(),
                proc: None,
                restart_at: None,
                ready_at: None,
                stopping: None,
                wanted: true,
                last_exit: None,
                last_watchdog: None,
                liveness_kill: false,
                starts: 0,
            })
            .collect(),
        clock,
        log_dir,
        data_dir: data_dir.to_owned(),
        notify_sockets,
        events: tx,
        ops,
        rx,
        wake: wake_fd,
        heal_every: heal.sweep,
        next_sweep: Instant::now() + heal.sweep,
        reported: heal::Reported::default(),
        held: BTreeMap::new(),
        governor: Arc::new(std::sync::Mutex::new(health::Governor::load(
            data_dir,
            &heal.config,
            clock_now,
            log,
        ))),
        inputs: Arc::new(std::sync::Mutex::new(health::Inputs::default())),
        exits: Arc::new(health::ForeignExits::default()),
        heal_refusal: None,
        engine_files: std::cell::RefCell::new(heal::EngineFiles::default()),
        last_sweep: Instant::now(),
        heal,
    };
    // The startup self-heal, before any service starts (orphans of a previous supervisor
    // included), then a first health report for the live-start gate.
    sup.sweep(true, log);
    let mut monitor = health::Monitor::new(
        data_dir,
        Arc::new(sup.heal.config.clone()),
        Arc::clone(&sup.clock),
        Arc::clone(&sup.exits),
    );
    sup.publish_inputs();
    sup.health_cycle(&mut monitor, true, log);
    sup.apply_gate(log);
    let health_stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    spawn_health(
        monitor,
        Arc::clone(&sup.governor),
        Arc::clone(&sup.inputs),
        sup.events.clone(),
        Duration::from_millis(u64::from(sup.heal.config.health.cycle_ms)),
        Arc::clone(&health_stop),
        sup.restartable(),
    );
    // The data directory's own directories are watched: a deleted one is recreated at once.
    let artifacts: Vec<PathBuf> = {
        let healer = heal::Healer {
            data_dir,
            config: &sup.heal.config,
            clock: &*sup.clock,
            cache: None,
        };
        sup.heal
            .config
            .artifacts
            .iter()
            // A heartbeat changes all the time: the liveness path watches those.
            .filter(|a| a.kind != ballast_core::config::ArtifactKind::Heartbeat)
            .map(|a| healer.artifact_path(&a.service, &a.path))
            .collect()
    };
    watch_data_dir(data_dir, &artifacts, sup.events.clone(), log);
    log(&format!(
        "supervisor {} up: {} service(s), control socket {}",
        std::process::id(),
        sup.slots.len(),
        socket.display()
    ));
    sup.start_due(log);
    loop {
        let timeout = sup
            .next_deadline()
            .map(|d| d.saturating_duration_since(Instant::now()));
        let mut stop = false;
        for ev in sup.wait(timeout) {
            match ev {
                Event::Child => sup.reap(log),
                Event::Notify { service, message } => sup.notified(&service, &message, log),
                Event::Probed { service, start } => sup.probed(&service, start, log),
                Event::Heartbeat { service } => {
                    if let Some(slot) = sup.slots.iter_mut().find(|s| s.spec.name == service) {
                        liveness(slot, Instant::now(), "seen by inotify", &sup.ops, log);
                    }
                }
                Event::Stop => stop = true,
                // A change the kernel reported: sweep now, but not more often than every
                // EVENT_SWEEP_GAP (a bot rewriting its file in a loop must not keep the
                // supervisor sweeping).
                Event::Heal { urgent } => {
                    let at = if urgent {
                        Instant::now()
                    } else {
                        (sup.last_sweep + EVENT_SWEEP_GAP).max(Instant::now())
                    };
                    sup.next_sweep = sup.next_sweep.min(at);
                }
                Event::Record { kind, body } => sup.recorded(&kind, body, log),
                Event::Control((req, reply)) => {
                    let answer = sup.control(req, log);
                    let _ = reply.send(answer);
                }
            }
        }
        if stop {
            break;
        }
        if sup.next_sweep <= Instant::now() {
            sup.sweep(false, log);
        }
        sup.timers(log);
        sup.start_due(log);
        sup.publish_inputs();
        sup.ops.flush();
    }
    health_stop.store(true, std::sync::atomic::Ordering::Relaxed);
    log("supervisor: stopping services in reverse order");
    sup.shutdown(log);
    sup.ops
        .record("supervisor.stopped", json!({ "pid": std::process::id() }));
    sup.ops.close();
    sig_handle.close();
    // Only the socket this supervisor bound: one put in its place since is not ours to remove.
    if same_file(&socket, bound) {
        let _ = std::fs::remove_file(&socket);
    }
    log("supervisor: stopped");
    Ok(())
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

/// Watch the directories of the services' heartbeat files with inotify; a change to one (written,
/// touched, replaced, deleted) is an event for its service. Where a directory cannot be watched,
/// the 100 ms tick still sees the file.
fn watch_heartbeats(services: &[ServiceSpec], events: Waker, log: &mut dyn FnMut(&str)) {
    use rustix::fs::inotify;
    let files: Vec<(String, PathBuf)> = services
        .iter()
        .filter_map(|s| Some((s.name.clone(), s.heartbeat_file.clone()?)))
        .collect();
    if files.is_empty() {
        return;
    }
    let fd = match inotify::init(inotify::CreateFlags::CLOEXEC) {
        Ok(fd) => fd,
        Err(e) => {
            log(&format!(
                "inotify unavailable ({e}); heartbeat files are polled every 100 ms"
            ));
            return;
        }
    };
    // (watch descriptor, file name in that directory, service)
    let mut watched: Vec<(i32, std::ffi::OsString, String)> = Vec::new();
    for (service, file) in files {
        let (Some(dir), Some(name)) = (file.parent(), file.file_name()) else {
            continue;
        };
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let flags = inotify::WatchFlags::ATTRIB
            | inotify::WatchFlags::CLOSE_WRITE
            | inotify::WatchFlags::MODIFY
            | inotify::WatchFlags::CREATE
            | inotify::WatchFlags::MOVED_TO
            | inotify::WatchFlags::MOVED_FROM
            | inotify::WatchFlags::DELETE;
        match inotify::add_watch(&fd, dir, flags) {
            Ok(wd) => watched.push((wd, name.to_owned(), service)),
            Err(e) => log(&format!(
                "{service}: cannot watch {} ({e}); its heartbeat is polled every 100 ms",
                dir.display()
            )),
        }
    }
    std::thread::spawn(move || {
        let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
        let mut reader = inotify::Reader::new(&fd, &mut buf);
        loop {
            let ev = match reader.next() {
                Ok(ev) => ev,
                Err(e) if e == rustix::io::Errno::INTR => continue,
                Err(_) => return,
            };
            let Some(name) = ev.file_name() else { continue };
            let name = std::ffi::OsStr::from_bytes(name.to_bytes());
            for (wd, file, service) in &watched {
                if *wd == ev.wd() && file.as_os_str() == name {
                    let service = service.clone();
                    if !events.offer(Event::Heartbeat { service }) {
                        return;
                    }
                }
            }
        }
    });
}

/// The health monitor's thread: a cycle every `every` (each check on its own interval), its
/// events handed to the loop to journal. Ends with the supervisor.
fn spawn_health(
    mut monitor: health::Monitor,
    governor: Arc<std::sync::Mutex<health::Governor>>,
    inputs: Arc<std::sync::Mutex<health::Inputs>>,
    events: Waker,
    every: Duration,
    stop: Arc<std::sync::atomic::AtomicBool>,
    restartable: Vec<String>,
) {
    std::thread::spawn(move || {
        let (_keep, tick) = mpsc::channel::<()>();
        loop {
            // Nothing is ever sent: this is a timer that the thread's own channel cannot miss.
            let _ = tick.recv_timeout(every);
            if stop.load(std::sync::atomic::Ordering::Relaxed) {
                return;
            }
            let snapshot = inputs.lock().map(|i| i.clone()).unwrap_or_default();
            if let Ok(g) = governor.lock() {
                monitor.policy = Some((g.policy.policy, g.policy.since));
            }
            let report = monitor.cycle(&snapshot, false);
            let engine = monitor.engine_status().cloned();
            let now = report.at;
            let out = match governor.lock() {
                Ok(mut g) => {
                    g.evaluate(report, engine, &|s| restartable.iter().any(|r| r == s), now)
                }
                Err(_) => return,
            };
            for (kind, body) in out {
                if !events.send(Event::Record { kind, body }) {
                    return;
                }
            }
        }
    });
}

/// Watch the data directory and its `journal/` with inotify: when one of Ballast's own
/// directories is deleted or moved away, the loop sweeps at once (it is recreated within
/// milliseconds, not at the next periodic sweep).
fn watch_data_dir(
    data_dir: &Path,
    artifacts: &[PathBuf],
    events: Waker,
    log: &mut dyn FnMut(&str),
) {
    use rustix::fs::inotify;
    let fd = match inotify::init(inotify::CreateFlags::CLOEXEC) {
        Ok(fd) => fd,
        Err(e) => {
            log(&format!(
                "inotify unavailable ({e}); the data directory is checked by the periodic sweep only"
            ));
            return;
        }
    };
    let flags = inotify::WatchFlags::DELETE
        | inotify::WatchFlags::MOVED_FROM
        | inotify::WatchFlags::DELETE_SELF
        | inotify::WatchFlags::MOVE_SELF;
    let mut dir_wds: Vec<i32> = Vec::new();
    for dir in [
        data_dir.to_path_buf(),
        ballast_store::Layout::new(data_dir).journals(),
    ] {
        match inotify::add_watch(&fd, &dir, flags) {
            Ok(wd) => dir_wds.push(wd),
            Err(e) => log(&format!(
                "cannot watch {} ({e}); it is checked by the periodic sweep",
                dir.display()
            )),
        }
    }
    // Declared artifacts: a write, a replacement or a deletion of one of them. Only events on
    // their names count (the directory may hold much else).
    let mut named: Vec<(i32, std::ffi::OsString)> = Vec::new();
    // MASK_ADD: a declared file in one of the directories above keeps that watch's events.
    let file_flags = flags
        | inotify::WatchFlags::CLOSE_WRITE
        | inotify::WatchFlags::MOVED_TO
        | inotify::WatchFlags::CREATE
        | inotify::WatchFlags::MASK_ADD;
    for a in artifacts {
        let (Some(dir), Some(name)) = (a.parent(), a.file_name()) else {
            continue;
        };
        match inotify::add_watch(&fd, dir, file_flags) {
            Ok(wd) => named.push((wd, name.to_owned())),
            Err(e) => log(&format!(
                "cannot watch {} ({e}); {} is checked by the periodic sweep",
                dir.display(),
                a.display()
            )),
        }
    }
    std::thread::spawn(move || {
        let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
        let mut reader = inotify::Reader::new(&fd, &mut buf);
        loop {
            match reader.next() {
                Ok(ev) => {
                    use inotify::ReadFlags as R;
                    // Something of the data directory or its journal/ went away: now.
                    let removal = ev
                        .events()
                        .intersects(R::DELETE | R::MOVED_FROM | R::DELETE_SELF | R::MOVE_SELF);
                    let urgent = removal && dir_wds.contains(&ev.wd());
                    // A declared file changed: soon.
                    let declared = ev.file_name().is_some_and(|n| {
                        let n = std::ffi::OsStr::from_bytes(n.to_bytes());
                        named
                            .iter()
                            .any(|(wd, name)| *wd == ev.wd() && name.as_os_str() == n)
                    });
                    if (urgent || declared) && !events.offer(Event::Heal { urgent }) {
                        return;
                    }
                }
                Err(e) if e == rustix::io::Errno::INTR => continue,
                Err(_) => return,
            }
        }
    });
}

/// Probe `url` every 100 ms while the process `pid` lives, until it answers 2xx; then report
/// it for start number `start`.
fn probe(url: String, service: String, start: u64, pid: Pid, events: Waker) {
    std::thread::spawn(move || {
        while Path::new(&format!("/proc/{}", pid.as_raw_nonzero())).exists() {
            if http_ok(&url) {
                let _ = events.send(Event::Probed { service, start });
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
}

/// `GET url` over plain HTTP/1.1 (the probe is local): does it answer 2xx within a second?
pub fn http_ok(url: &str) -> bool {
    http_status(url, Duration::from_secs(1)).is_ok_and(|c| (200..300).contains(&c))
}

/// `GET url` over plain HTTP/1.1 within `timeout`: the status code, or why there is none.
pub fn http_status(url: &str, timeout: Duration) -> Result<u16, String> {
    use std::io::{Read, Write};
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url:?} is not a plain http:// URL"))?;
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let addr = if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:80")
    };
    let sock = std::net::ToSocketAddrs::to_socket_addrs(&addr)
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("cannot resolve {addr}"))?;
    let mut conn = std::net::TcpStream::connect_timeout(&sock, timeout)
        .map_err(|e| format!("connect to {addr}: {e}"))?;
    let _ = conn.set_read_timeout(Some(timeout));
    let _ = conn.set_write_timeout(Some(timeout));
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    conn.write_all(req.as_bytes())
        .map_err(|e| format!("send to {addr}: {e}"))?;
    let mut head = [0u8; 32];
    let mut n = 0;
    while n < 12 {
        match conn.read(&mut head[n..]) {
            Ok(0) => break,
            Err(e) => return Err(format!("read from {addr}: {e}")),
            Ok(k) => n += k,
        }
    }
    let line = String::from_utf8_lossy(&head[..n]);
    let mut parts = line.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some(v), Some(code)) if v.starts_with("HTTP/1.") && code.len() == 3 => code
            .parse()
            .map_err(|_| format!("bad status line {line:?}")),
        _ => Err(format!("not an HTTP answer: {line:?}")),
    }
}

/// Signals ignored in this process, from `SigIgn` of `/proc/self/status`, without SIGPIPE (the
/// standard library ignores it here and resets it in children itself) and without 32 and 33,
/// which the C library reserves for its threads and handles itself whenever it uses them.
fn ignored_signals() -> Vec<i32> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let mask = status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        .unwrap_or(0);
    (1..=64)
        .filter(|n| {
            mask & (1u64 << (n - 1)) != 0
                && *n != signal_hook::consts::SIGPIPE
                && !(32..=33).contains(n)
        })
        .collect()
}

/// Live processes in process group `pgid` (from `/proc/<pid>/stat`).
fn group_members(pgid: Pid) -> Vec<i32> {
    let want = pgid.as_raw_nonzero().get();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            // After "(comm)": state ppid pgrp …
            let mut f = stat.rsplit_once(')')?.1.split_whitespace();
            let state = f.next()?;
            let pgrp: i32 = f.nth(1)?.parse().ok()?;
            (pgrp == want && state != "Z").then_some(pid)
        })
        .collect()
}

/// The environment variable that tags every child with its supervisor's data directory.
pub const DATA_DIR_TAG: &str = "BALLAST_DATA_DIR";

/// Processes tagged with this data directory whose supervisor is gone (a supervisor that was
/// killed leaves its services behind). Found through `/proc/<pid>/environ`.
pub fn find_orphans(data_dir: &Path) -> Vec<(i32, String)> {
    let me = std::process::id() as i32;
    let my_start = heal::start_time(me);
    let want = format!("{DATA_DIR_TAG}={}", data_dir.display());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(env) = std::fs::read(e.path().join("environ")) else {
            continue;
        };
        let vars: Vec<&[u8]> = env.split(|b| *b == 0).collect();
        if !vars.contains(&want.as_bytes()) {
            continue;
        }
        let value = |key: &str| {
            vars.iter().find_map(|v| {
                std::str::from_utf8(v)
                    .ok()?
                    .strip_prefix(key)?
                    .strip_prefix('=')
                    .map(str::to_owned)
            })
        };
        let supervisor: Option<i32> = value("BALLAST_SUPERVISOR_PID").and_then(|p| p.parse().ok());
        // Tagged with our own pid: ours (a service or one of its children) — unless it is older
        // than we are, i.e. left by an earlier supervisor that had the same pid.
        let supervisor_alive = match supervisor {
            Some(p) if p == me => heal::start_time(pid) >= my_start,
            Some(p) => Path::new(&format!("/proc/{p}")).exists(),
            None => false,
        };
        let zombie = std::fs::read_to_string(e.path().join("stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .is_some_and(|r| r.trim_start().starts_with('Z'))
            })
            .unwrap_or(true);
        if !supervisor_alive && !zombie {
            out.push((pid, value("BALLAST_SERVICE").unwrap_or_else(|| "?".into())));
        }
    }
    out
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

struct Supervisor {
    slots: Vec<Slot>,
    clock: Arc<dyn Clock>,
    log_dir: PathBuf,
    data_dir: PathBuf,
    notify_sockets: BTreeMap<String, PathBuf>,
    events: Waker,
    ops: Ops,
    rx: mpsc::Receiver<Event>,
    wake: Arc<rustix::fd::OwnedFd>,
    heal: HealOptions,
    heal_every: Duration,
    next_sweep: Instant,
    /// Dangerous and skipped findings already journaled.
    reported: heal::Reported,
    /// Gated services held back by the self-heal, and why.
    held: BTreeMap<String, String>,
    /// The health monitor's persistent side: policy, recommendations, history.
    governor: Arc<std::sync::Mutex<health::Governor>>,
    /// What the monitor's thread reads about services and the healer.
    inputs: Arc<std::sync::Mutex<health::Inputs>>,
    /// Exit statuses of reaped children that are not services (a command check's).
    exits: Arc<health::ForeignExits>,
    /// Why the last sweep's plan refuses a live engine start, if it does.
    heal_refusal: Option<String>,
    /// The engine's files as the last sweep saw them (rescanned only when they change).
    engine_files: std::cell::RefCell<heal::EngineFiles>,
    last_sweep: Instant,
}

impl Supervisor {
    fn next_deadline(&self) -> Option<Instant> {
        // Liveness and heartbeat readiness are checked on a tick while such a service runs.
        let tick = self
            .slots
            .iter()
            .any(|s| s.proc.is_some() && s.spec.needs_tick())
            .then(|| Instant::now() + LIVENESS_TICK);
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
            .chain([self.next_sweep])
            .min()
    }

    /// Hold or release the gated services (the engine): in live mode it starts only with
    /// nothing dangerous found by the self-heal and a health report that allows a live start
    /// (SPEC §4 mode gating; the engine's own subsystems do not count before it runs).
    fn apply_gate(&mut self, log: &mut dyn FnMut(&str)) {
        let live = self.heal.config.general.mode == ballast_core::config::Mode::Live;
        let health = if live {
            self.governor
                .lock()
                .ok()
                .and_then(|g| g.live_gate().err())
                .map(|why| format!("live start refused: {why}"))
        } else {
            None
        };
        let refusal = self
            .heal_refusal
            .clone()
            .or(health)
            .or_else(|| self.heal.live_refused.clone());
        for name in self.heal.gated.clone() {
            match (&refusal, self.held.contains_key(&name)) {
                (Some(why), false) => {
                    log(&format!("{name}: not started: {why}"));
                    self.ops
                        .record("heal.engine_held", json!({ "service": name, "why": why }));
                    self.held.insert(name, why.clone());
                }
                (None, true) => {
                    log(&format!(
                        "{name}: nothing dangerous and health allows it now; starting it"
                    ));
                    self.ops
                        .record("heal.engine_released", json!({ "service": name }));
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

    /// Hand the monitor's thread what it reads about the services.
    fn publish_inputs(&self) {
        let services: Vec<health::ServiceBrief> = self
            .slots
            .iter()
            .map(|s| health::ServiceBrief {
                name: s.spec.name.clone(),
                state: match self.held.get(&s.spec.name) {
                    Some(_) if s.proc.is_none() => "HELD".to_owned(),
                    // Down only because a dependency is not running: health says so.
                    _ if !self.waiting_for(&s.spec.name).is_empty()
                        && self.shown_state(s).starts_with("WAITING") =>
                    {
                        self.shown_state(s)
                    }
                    // Never started and not down for a reason (a command that cannot start
                    // is FAILED_CONFIG before any start).
                    None if s.starts == 0
                        && s.proc.is_none()
                        && s.svc.state == ServiceState::Stopped =>
                    {
                        "NOT_STARTED".to_owned()
                    }
                    _ => state_name(s.svc.state).to_owned(),
                },
                critical: s.spec.critical,
                depends_on: s.spec.depends_on.clone(),
                last_exit: self
                    .held
                    .get(&s.spec.name)
                    .cloned()
                    .or_else(|| s.svc.last_reason.clone())
                    .or_else(|| s.last_exit.clone()),
            })
            .collect();
        let (dropped, failed) = self.ops.health();
        if let Ok(mut i) = self.inputs.lock() {
            if i.services != services {
                i.services = services;
            }
            i.ops_dropped = dropped;
            i.ops_failed = failed;
        }
    }

    /// Which subsystems are services the supervisor can restart.
    fn restartable(&self) -> Vec<String> {
        self.slots
            .iter()
            .map(|s| {
                if s.spec.name == "engine" {
                    "engine".to_owned()
                } else {
                    format!("service:{}", s.spec.name)
                }
            })
            .collect()
    }

    /// One health cycle on the loop's thread (at startup, before the monitor's thread runs).
    fn health_cycle(
        &mut self,
        monitor: &mut health::Monitor,
        force: bool,
        log: &mut dyn FnMut(&str),
    ) {
        let inputs = self.inputs.lock().map(|i| i.clone()).unwrap_or_default();
        let restartable = self.restartable();
        let report = monitor.cycle(&inputs, force);
        let engine = monitor.engine_status().cloned();
        let events = match self.governor.lock() {
            Ok(mut g) => g.evaluate(
                report,
                engine,
                &|s| restartable.iter().any(|r| r == s),
                self.clock.now(),
            ),
            Err(_) => Vec::new(),
        };
        for (kind, body) in events {
            self.recorded(&kind, body, log);
        }
    }

    /// Journal an event of the health monitor, and log the ones an operator must see.
    fn recorded(&mut self, kind: &str, body: serde_json::Value, log: &mut dyn FnMut(&str)) {
        match kind {
            "policy.changed" => {
                let to = body["to"].as_str().unwrap_or("?");
                let level = if matches!(to, "EMERGENCY_SHUTDOWN" | "DEFENSIVE_EXIT") {
                    "CRITICAL: "
                } else {
                    ""
                };
                log(&format!(
                    "{level}safety policy {} -> {to}: {}",
                    body["from"].as_str().unwrap_or("?"),
                    body["reason"].as_str().unwrap_or("")
                ));
            }
            "health.changed" => log(&format!(
                "health {} -> {} (score {})",
                body["from"].as_str().unwrap_or("-"),
                body["to"].as_str().unwrap_or("?"),
                body["score"]
            )),
            "recommendation.pending" => log(&format!(
                "recommendation {} waits for an operator: {} (risks: {}) — `ballast approve {}` or `ballast reject {}`",
                body["id"].as_str().unwrap_or("?"),
                body["expected"].as_str().unwrap_or(""),
                body["risks"].as_str().unwrap_or(""),
                body["id"].as_str().unwrap_or("?"),
                body["id"].as_str().unwrap_or("?"),
            )),
            "policy.persist_failed" | "health.write_failed" => log(&format!(
                "CRITICAL: {kind}: {}",
                body["error"].as_str().unwrap_or("")
            )),
            _ => {}
        }
        self.ops.record(kind, body);
        if kind == "health.changed" || kind == "policy.changed" {
            // The live gate may change with the health.
            self.apply_gate(log);
        }
    }

    /// An operator approves (and the supervisor carries out) or rejects a recommendation.
    fn decide(&mut self, id: &str, approve: bool, log: &mut dyn FnMut(&str)) -> Response {
        let now = self.clock.now();
        let decided = self
            .governor
            .lock()
            .map_err(|_| "the health monitor is unavailable".to_owned())
            .and_then(|mut g| {
                if approve {
                    g.approve(id, now)
                } else {
                    g.reject(id, now)
                }
            });
        let r = match decided {
            Err(message) => return Response::Error { message },
            Ok(r) => r,
        };
        let word = if approve { "approved" } else { "rejected" };
        self.ops.record(&format!("recommendation.{word}"), json!(r));
        log(&format!("recommendation {id} {word} by an operator"));
        if !approve {
            return Response::Done {
                message: format!("{id} rejected"),
            };
        }
        match self.carry_out(&r, log) {
            Ok(message) => Response::Done {
                message: format!("{id} approved: {message}"),
            },
            Err(message) => Response::Error {
                message: format!("{id} approved, but {message}"),
            },
        }
    }

    /// Carry out an approved recommendation.
    fn carry_out(
        &mut self,
        r: &ballast_core::health::Recommendation,
        log: &mut dyn FnMut(&str),
    ) -> Result<String, String> {
        use ballast_core::health::RecoveryAction as A;
        use ballast_core::policy::Policy;
        let now = self.clock.now();
        let floor = |p| -> Option<Policy> { Some(p) };
        let wanted = match r.advice.action {
            A::RestartSubsystem => None,
            A::PauseTrading | A::NoNewTrades => floor(Policy::NoNewTrades),
            A::SwitchToSafeRiskProfile => floor(Policy::SafeRiskProfile),
            A::DefensiveExit => floor(Policy::DefensiveExit),
            A::CloseAllPositions => {
                let path = health::engage_kill_switch(
                    &self.data_dir,
                    &format!("approved recommendation {}", r.id),
                    true,
                    "ballast approve",
                    now,
                )
                .map_err(|e| format!("cannot engage the kill switch: {e}"))?;
                return Ok(format!(
                    "kill switch engaged with flatten ({}): every position is closed at market; `ballast resume` releases it",
                    path.display()
                ));
            }
        };
        if let Some(p) = wanted {
            let t = self
                .governor
                .lock()
                .map_err(|_| "the health monitor is unavailable".to_owned())?
                .set_floor(p, now)?;
            if let Some(t) = t {
                let (kind, body) = health::transition_event(&t);
                self.recorded(&kind, body, log);
            }
            return Ok(format!(
                "policy is at least {} until `ballast resume`",
                p.as_str()
            ));
        }
        let name = r
            .advice
            .target
            .strip_prefix("service:")
            .unwrap_or(&r.advice.target)
            .to_owned();
        self.control_service(
            ControlRequest::Recover,
            &name,
            "approved recommendation",
            log,
        )
    }

    /// One healing pass: observe, plan, apply the heals, journal and log what was done and
    /// what is dangerous, restart services with stale heartbeats, and hold or release the
    /// gated services (SPEC §4 mode gating).
    fn sweep(&mut self, startup: bool, log: &mut dyn FnMut(&str)) -> heal::Report {
        self.next_sweep = Instant::now() + self.heal_every;
        self.last_sweep = Instant::now();
        // Its lock file, or the engine service's process (the lock file may have been removed).
        let engine_running = heal::engine_lock_held(&ballast_store::Layout::new(&self.data_dir))
            || self
                .slots
                .iter()
                .any(|s| s.spec.name == "engine" && s.proc.is_some());
        let running: BTreeMap<String, bool> = self
            .slots
            .iter()
            .map(|s| (s.spec.name.clone(), s.proc.is_some()))
            .collect();
        let mut restarts = Vec::new();
        let ops = &self.ops;
        let healer = heal::Healer {
            data_dir: &self.data_dir,
            config: &self.heal.config,
            clock: &*self.clock,
            cache: Some(&self.engine_files),
        };
        let report = healer.run(
            false,
            engine_running,
            &|s| running.get(s).copied().unwrap_or(false),
            &mut |s| {
                restarts.push(s.to_owned());
                Ok(())
            },
            &mut |kind, body| ops.record(kind, body),
        );
        for a in &report.applied {
            match &a.error {
                None => log(&format!(
                    "heal: {} {}: {} ({} -> {}){}",
                    a.action.component,
                    a.action.target,
                    a.action.reason,
                    a.before,
                    a.after,
                    a.quarantined
                        .as_ref()
                        .map(|q| format!(", original in {q}"))
                        .unwrap_or_default()
                )),
                Some(e) => log(&format!(
                    "heal failed: {} {}: {e}",
                    a.action.component, a.action.target
                )),
            }
        }
        for a in self.reported.new_findings(&report.plan) {
            let (kind, level) = match a.class {
                ballast_core::heal::Class::Dangerous => ("heal.dangerous", "CRITICAL"),
                _ => ("heal.skipped", "warning"),
            };
            log(&format!(
                "{level}: {} {}: {}",
                a.component, a.target, a.reason
            ));
            self.ops
                .record(kind, serde_json::to_value(a).unwrap_or_default());
        }
        for service in restarts {
            if let Some(slot) = self.slots.iter_mut().find(|s| s.spec.name == service) {
                if slot.proc.is_some() && slot.stopping.is_none() {
                    slot.last_exit = Some("restarted by the healer: stale heartbeat".into());
                    Self::stop_slot(slot, true, log);
                }
            }
        }
        // What the health monitor sees of the healer: dangerous findings and failed heals.
        let findings: Vec<(String, String, String, ballast_core::heal::FailureClass)> = report
            .plan
            .dangerous()
            .map(|a| {
                (
                    a.component.clone(),
                    a.target.clone(),
                    a.reason.clone(),
                    a.failure,
                )
            })
            .chain(report.applied.iter().filter_map(|a| {
                let e = a.error.as_ref()?;
                Some((
                    a.action.component.clone(),
                    a.action.target.clone(),
                    format!("heal failed: {e}"),
                    a.action.failure,
                ))
            }))
            .collect();
        if let Ok(mut i) = self.inputs.lock() {
            // The engine's files are inspected also while it runs (read-only, in an order that
            // keeps them consistent): a finding stands exactly while it is found — after a
            // paper salvage it clears, and a damage found stays.
            if let Ok(mut g) = self.governor.lock() {
                g.dangerous = findings.len();
            }
            i.heal_findings = findings;
        }
        self.heal_refusal = report.refusal.clone();
        self.apply_gate(log);
        if startup && report.plan.is_clean() {
            log("self-heal: every component is healthy");
        }
        report
    }

    /// Start every wanted service that is down, not waiting for a restart delay, not failed,
    /// and whose dependencies are running.
    fn start_due(&mut self, log: &mut dyn FnMut(&str)) {
        for i in 0..self.slots.len() {
            let s = &self.slots[i];
            let down = s.proc.is_none() && s.restart_at.is_none() && s.stopping.is_none();
            let startable = matches!(s.svc.state, ServiceState::Stopped)
                && s.wanted
                && !self.held.contains_key(&s.spec.name);
            let deps_up = s.spec.depends_on.iter().all(|d| {
                self.slots
                    .iter()
                    .any(|o| &o.spec.name == d && o.svc.state == ServiceState::Running)
            });
            if down && startable && deps_up {
                self.spawn(i, log);
            }
        }
    }

    fn spawn(&mut self, i: usize, log: &mut dyn FnMut(&str)) {
        let now = self.clock.now();
        let log_dir = self.log_dir.clone();
        let slot = &mut self.slots[i];
        let spec = &slot.spec;
        let mut cmd = Command::new(&spec.command);
        if let Some(sock) = self.notify_sockets.get(&spec.name) {
            cmd.env("NOTIFY_SOCKET", sock);
        }
        cmd.args(&spec.args)
            .envs(&spec.env)
            .env("BALLAST_SERVICE", &spec.name)
            .env("BALLAST_SUPERVISOR_PID", std::process::id().to_string())
            .env(DATA_DIR_TAG, &self.data_dir)
            .stdin(Stdio::null())
            .process_group(0);
        // stdout and stderr share one pipe, read by one thread into the service's log.
        let output = match rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC) {
            Ok((read, write)) => match write.try_clone() {
                Ok(write2) => {
                    cmd.stdout(Stdio::from(write)).stderr(Stdio::from(write2));
                    Some(std::fs::File::from(read))
                }
                Err(_) => None,
            },
            Err(e) => {
                log(&format!(
                    "{}: cannot create its output pipe ({e}); output discarded",
                    spec.name
                ));
                None
            }
        };
        if output.is_none() {
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
        }
        if let Some(cwd) = &spec.cwd {
            cmd.current_dir(cwd);
        }
        let heartbeat_before = spec
            .heartbeat_file
            .as_ref()
            .and_then(|f| std::fs::metadata(f).and_then(|m| m.modified()).ok());
        slot.svc.started(now);
        match cmd.spawn() {
            Ok(child) => {
                // The parent's copies of the pipe's write end go with the command, so the
                // log thread sees end-of-file when the service's processes are gone.
                drop(cmd);
                let pid = Pid::from_child(&child);
                if let Some(output) = output {
                    let spec = LogSpec::for_service(&log_dir, &slot.spec.name);
                    let name = slot.spec.name.clone();
                    std::thread::spawn(move || {
                        use std::io::Write;
                        match RotatingLog::open(spec) {
                            Ok(mut l) => logs::pump(output, &mut l, &mut |e| {
                                let _ = writeln!(
                                    std::io::stderr(),
                                    "supervisor: cannot write the log of {name}: {e}"
                                );
                            }),
                            Err(e) => {
                                let _ = writeln!(
                                    std::io::stderr(),
                                    "supervisor: cannot open the log of {name}: {e}; its output is discarded"
                                );
                                logs::pump(output, &mut NullLog, &mut |_| {});
                            }
                        }
                    });
                }
                // The handle is not waited on: the loop reaps every child with waitpid(-1).
                drop(child);
                log(&format!(
                    "{}: started, pid {}",
                    slot.spec.name,
                    pid.as_raw_nonzero()
                ));
                self.ops.record(
                    "service.started",
                    json!({ "service": slot.spec.name, "pid": pid.as_raw_nonzero().get() }),
                );
                slot.proc = Some(Proc {
                    pid,
                    pidfd: rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())
                        .ok(),
                    started: Instant::now(),
                    heartbeat_before,
                });
                slot.last_watchdog = None;
                slot.liveness_kill = false;
                slot.starts += 1;
                if let Some(url) = &slot.spec.http_ready {
                    probe(
                        url.clone(),
                        slot.spec.name.clone(),
                        slot.starts,
                        pid,
                        self.events.clone(),
                    );
                }
                if !slot.spec.notify && !slot.spec.heartbeat_ready && slot.spec.http_ready.is_none()
                {
                    slot.ready_at = Some(Instant::now() + slot.spec.min_uptime);
                }
            }
            Err(e) => {
                let name = slot.spec.name.clone();
                let command = slot.spec.command.display().to_string();
                let cwd = slot.spec.cwd.clone();
                // The program as the child looks for it (a relative path is its cwd's).
                let program = match &cwd {
                    Some(d) if slot.spec.command.is_relative() => d.join(&slot.spec.command),
                    _ => slot.spec.command.clone(),
                };
                let fix = format!(
                    "fix `command` of the [[services]] entry \"{name}\", then `ballast reset {name}`"
                );
                // A missing or non-executable command stays so: FAILED_CONFIG at once, not a
                // restart loop. Anything else (out of processes, memory) may pass: a failure.
                let permanent = match e.kind() {
                    std::io::ErrorKind::NotFound => Some(match &cwd {
                        Some(d) if !d.is_dir() => format!(
                            "working directory not found: {} — fix `cwd` of the [[services]] entry \"{name}\", then `ballast reset {name}`",
                            d.display()
                        ),
                        _ if !command.contains('/') => {
                            format!("command not found: {command} (searched PATH) — {fix}")
                        }
                        // The file is there: what is missing is its #! interpreter.
                        _ if program.is_file() => format!(
                            "the interpreter of {command} is not found (its #! line names a program that does not exist) — fix its #! line, or run it through an interpreter that exists, then `ballast reset {name}`"
                        ),
                        _ => format!("command not found: {command} — {fix}"),
                    }),
                    std::io::ErrorKind::PermissionDenied if program.is_dir() => {
                        Some(format!("not a program: {command} is a directory — {fix}"))
                    }
                    std::io::ErrorKind::PermissionDenied => Some(format!(
                        "not executable: {command} (permission denied; `chmod +x` it, or run it through its interpreter) — {fix}"
                    )),
                    _ if e.raw_os_error() == Some(rustix::io::Errno::NOEXEC.raw_os_error()) => {
                        Some(format!(
                            "not executable: {command} (not a program this system can run, e.g. a script without a #! line) — {fix}"
                        ))
                    }
                    _ => None,
                };
                let why = format!("cannot start {command}: {e}");
                log(&format!("{name}: {why}"));
                slot.last_exit = Some(why);
                let action = match permanent {
                    Some(reason) => slot.svc.start_refused(reason),
                    // Counted as a failed start: code 127 like a shell's "command not found".
                    None => slot.svc.exited(
                        Exit {
                            code: Some(127),
                            signal: None,
                            requested: false,
                            liveness_kill: false,
                        },
                        now,
                        &slot.spec.rules,
                    ),
                };
                apply_action(slot, action, &self.ops, log);
            }
        }
    }

    /// Reap every child that has exited (services, and orphans re-parented to us).
    fn reap(&mut self, log: &mut dyn FnMut(&str)) {
        loop {
            match rustix::process::wait(WaitOptions::NOHANG) {
                Ok(Some((pid, status))) => {
                    if !(status.exited() || status.signaled()) {
                        continue;
                    }
                    let code = status.exit_status();
                    let signal = status.terminating_signal();
                    let now = self.clock.now();
                    let Some(slot) = self
                        .slots
                        .iter_mut()
                        .find(|s| s.proc.as_ref().is_some_and(|p| p.pid == pid))
                    else {
                        // An orphaned grandchild, or a command check's process: its status
                        // goes to whoever waits for it.
                        self.exits.record(pid.as_raw_nonzero().get(), code);
                        continue;
                    };
                    // Whatever the leader left behind in its group goes with it. A service that
                    // exits leaving processes behind has most likely daemonized: say so.
                    // (kill(-pgid, 0) first: the /proc scan only when something is left.)
                    let left = if rustix::process::test_kill_process_group(pid).is_ok() {
                        group_members(pid)
                    } else {
                        Vec::new()
                    };
                    let _ = rustix::process::kill_process_group(pid, Signal::KILL);
                    if !left.is_empty() && slot.stopping.is_none() {
                        log(&format!(
                            "{}: exited leaving {} process(es) of its group behind (pids {}); killed. A service that forks and exits (daemonizes) cannot be supervised: run it in the foreground",
                            slot.spec.name,
                            left.len(),
                            left.iter()
                                .map(i32::to_string)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ));
                    }
                    let how = match (code, signal) {
                        (Some(c), _) => format!("exit code {c}"),
                        (None, Some(s)) => format!("signal {s}"),
                        _ => "exited".to_owned(),
                    };
                    slot.proc = None;
                    slot.ready_at = None;
                    slot.last_exit = Some(how.clone());
                    // A child's exit is a healing event: what it left behind (a stale lock, a
                    // half-written declared file) is looked at shortly — after any immediate
                    // restart, so the sweep never delays one.
                    self.next_sweep = self.next_sweep.min(Instant::now() + CHILD_EXIT_SWEEP);
                    let stopping = slot.stopping.take();
                    let liveness_kill = std::mem::take(&mut slot.liveness_kill);
                    let action = slot.svc.exited(
                        Exit {
                            code,
                            signal,
                            requested: stopping.is_some(),
                            liveness_kill,
                        },
                        now,
                        &slot.spec.rules,
                    );
                    log(&format!("{}: {how}", slot.spec.name));
                    self.ops.record(
                        "service.exited",
                        json!({
                            "service": slot.spec.name,
                            "pid": pid.as_raw_nonzero().get(),
                            "how": how,
                            "requested": stopping.is_some(),
                            "liveness_kill": liveness_kill,
                        }),
                    );
                    apply_action(slot, action, &self.ops, log);
                    if stopping.is_some_and(|s| s.then_start) {
                        slot.wanted = true;
                    }
                }
                Ok(None) => return,
                Err(e) if e == rustix::io::Errno::INTR => {}
                Err(_) => return, // ECHILD: no children left
            }
        }
    }

    /// The HTTP probe of start `start` answered 2xx.
    fn probed(&mut self, service: &str, start: u64, log: &mut dyn FnMut(&str)) {
        if let Some(slot) = self.slots.iter_mut().find(|s| s.spec.name == service) {
            if slot.starts == start
                && slot.proc.is_some()
                && slot.svc.state == ServiceState::Starting
            {
                slot.svc.ready();
                log(&format!("{service}: RUNNING (HTTP probe)"));
                self.ops.record(
                    "service.ready",
                    json!({ "service": service, "via": "http" }),
                );
            }
        }
    }

    /// An sd_notify message: `READY=1` makes a STARTING service RUNNING; `STATUS=` is logged.
    fn notified(&mut self, service: &str, message: &str, log: &mut dyn FnMut(&str)) {
        let Some(slot) = self.slots.iter_mut().find(|s| s.spec.name == service) else {
            return;
        };
        for line in message.lines() {
            match line.split_once('=') {
                Some(("READY", "1"))
                    if slot.proc.is_some() && slot.svc.state == ServiceState::Starting =>
                {
                    slot.svc.ready();
                    log(&format!("{service}: RUNNING (READY=1)"));
                    self.ops.record(
                        "service.ready",
                        json!({ "service": service, "via": "notify" }),
                    );
                }
                Some(("STATUS", text)) => log(&format!("{service}: status: {text}")),
                Some(("WATCHDOG", "1")) => slot.last_watchdog = Some(Instant::now()),
                _ => {}
            }
        }
    }

    fn timers(&mut self, log: &mut dyn FnMut(&str)) {
        let now = Instant::now();
        for slot in &mut self.slots {
            liveness(slot, now, "seen on the 100 ms tick", &self.ops, log);
            if slot.restart_at.is_some_and(|t| t <= now) {
                slot.restart_at = None;
                if slot.svc.state == ServiceState::Backoff {
                    slot.svc.state = ServiceState::Stopped; // start_due starts it
                }
            }
            if slot.ready_at.is_some_and(|t| t <= now) {
                slot.ready_at = None;
                slot.svc.ready();
                log(&format!("{}: RUNNING", slot.spec.name));
                self.ops.record(
                    "service.ready",
                    json!({ "service": slot.spec.name, "via": "min_uptime" }),
                );
            }
            if let Some(st) = &slot.stopping {
                if st.kill_at <= now {
                    if let Some(p) = &slot.proc {
                        log(&format!(
                            "{}: still up after its stop timeout; SIGKILL to its process group",
                            slot.spec.name
                        ));
                        let _ = rustix::process::kill_process_group(p.pid, Signal::KILL);
                    }
                    slot.stopping = Some(Stopping {
                        kill_at: now + Duration::from_secs(3600),
                        then_start: st.then_start,
                    });
                }
            }
        }
    }

    fn stop_slot(slot: &mut Slot, then_start: bool, log: &mut dyn FnMut(&str)) {
        slot.restart_at = None;
        let Some(p) = &slot.proc else {
            return;
        };
        if slot.stopping.is_some() {
            return;
        }
        log(&format!(
            "{}: stopping (signal {} to process group {})",
            slot.spec.name,
            slot.spec.stop_signal.as_raw(),
            p.pid.as_raw_nonzero()
        ));
        let _ = rustix::process::kill_process_group(p.pid, slot.spec.stop_signal);
        slot.stopping = Some(Stopping {
            kill_at: Instant::now() + slot.spec.stop_timeout,
            then_start,
        });
    }

    fn control(&mut self, req: Request, log: &mut dyn FnMut(&str)) -> Response {
        match req {
            Request::Status => self.status(),
            Request::Health => Response::Health {
                report: self
                    .governor
                    .lock()
                    .map(|g| g.report_json())
                    .unwrap_or_default(),
            },
            Request::Approve { id } => self.decide(&id, true, log),
            Request::Reject { id } => self.decide(&id, false, log),
            Request::Release => {
                // Judged on what is there now: a dangerous finding of the last sweep that is
                // gone since (the engine salvaged at its start) does not hold the release.
                if self.governor.lock().is_ok_and(|g| g.dangerous > 0) {
                    self.engine_files.borrow_mut().forget();
                    self.sweep(false, log);
                }
                let now = self.clock.now();
                let released = self
                    .governor
                    .lock()
                    .map_err(|_| "the health monitor is unavailable".to_owned())
                    .and_then(|mut g| g.release(now));
                match released {
                    Err(message) => Response::Error { message },
                    Ok(t) => {
                        self.ops
                            .record("policy.released", json!({ "by": "operator" }));
                        let message = match &t {
                            Some(t) => {
                                format!("safety policy {} -> {}", t.from.as_str(), t.to.as_str())
                            }
                            None => "latches and operator floors cleared; the policy is unchanged"
                                .into(),
                        };
                        if let Some(t) = t {
                            let (kind, body) = health::transition_event(&t);
                            self.recorded(&kind, body, log);
                        }
                        Response::Done { message }
                    }
                }
            }
            Request::Heal { dry_run } => {
                // The operator asked: everything is read again now, the engine's files too.
                self.engine_files.borrow_mut().forget();
                let report = if dry_run {
                    heal::Healer {
                        data_dir: &self.data_dir,
                        config: &self.heal.config,
                        clock: &*self.clock,
                        cache: Some(&self.engine_files),
                    }
                    .run(
                        true,
                        heal::engine_lock_held(&ballast_store::Layout::new(&self.data_dir)),
                        &|s| {
                            self.slots
                                .iter()
                                .any(|x| x.spec.name == s && x.proc.is_some())
                        },
                        &mut |_| Ok(()),
                        &mut |_, _| {},
                    )
                } else {
                    self.sweep(false, log)
                };
                Response::Heal {
                    report: serde_json::to_value(&report).unwrap_or_default(),
                }
            }
            Request::Restart { service } => {
                answer(self.control_service(ControlRequest::Restart, &service, "operator", log))
            }
            Request::Reset { service } => {
                answer(self.control_service(ControlRequest::Reset, &service, "operator", log))
            }
        }
    }

    /// One path for every request that acts on a service — `restart`, `reset`, an approved
    /// restart recommendation: the core's plan for the service's state, carried out. A service
    /// whose process is up is only ever stopped (and started again once reaped); its recorded
    /// state is never changed under it.
    fn control_service(
        &mut self,
        request: ControlRequest,
        service: &str,
        by: &str,
        log: &mut dyn FnMut(&str),
    ) -> Result<String, String> {
        let known = self
            .slots
            .iter()
            .map(|s| s.spec.name.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        // The state as `status` shows it (WAITING (for …), HELD), for the messages.
        let shown = match self.slots.iter().find(|s| s.spec.name == service) {
            Some(s) if s.proc.is_none() && self.held.contains_key(service) => "HELD".to_owned(),
            Some(s) => self.shown_state(s),
            None => String::new(),
        };
        let Some(slot) = self.slots.iter_mut().find(|s| s.spec.name == service) else {
            return Err(format!(
                "no service named \"{service}\"; the services are: {known}"
            ));
        };
        let was = slot.svc.state;
        let was_shown = shown.as_str();
        // The plan follows the process actually held: a process that is up is stopped first,
        // whatever the recorded state says.
        let plan = match (
            &slot.proc,
            plan_control_shown(request, service, was, was_shown),
        ) {
            (Some(_), ControlPlan::StartNow | ControlPlan::ClearThenStart) => {
                ControlPlan::StopThenStart
            }
            (_, plan) => plan,
        };
        let kind = match request {
            ControlRequest::Reset => "service.reset",
            ControlRequest::Restart | ControlRequest::Recover => "service.restart_requested",
        };
        match plan {
            ControlPlan::Refuse(why) => {
                log(&format!("{service}: {} refused: {why}", request.as_str()));
                Err(why)
            }
            ControlPlan::StopThenStart => {
                let pid = slot
                    .proc
                    .as_ref()
                    .map_or(0, |p| p.pid.as_raw_nonzero().get());
                slot.wanted = true;
                Self::stop_slot(slot, true, log);
                self.ops.record(
                    kind,
                    json!({ "service": service, "was": was_shown, "by": by, "pid": pid }),
                );
                Ok(format!(
                    "{service}: restarting (was {}, pid {pid}: stopping it, then starting it again)",
                    was_shown
                ))
            }
            ControlPlan::StartNow | ControlPlan::ClearThenStart => {
                slot.restart_at = None;
                slot.wanted = true;
                slot.svc.make_startable(&plan);
                log(&format!(
                    "{service}: {} by {by} (was {})",
                    if request == ControlRequest::Reset {
                        "reset"
                    } else {
                        "restart"
                    },
                    was_shown
                ));
                self.ops.record(
                    kind,
                    json!({ "service": service, "was": was_shown, "by": by }),
                );
                let waits: Vec<&str> = self.waiting_for(service);
                if let Some(why) = self.held.get(service) {
                    return Ok(format!(
                        "{service}: {} (was {}); it stays held until this clears: {why}",
                        if request == ControlRequest::Reset {
                            "reset"
                        } else {
                            "restarting"
                        },
                        was_shown
                    ));
                }
                Ok(if waits.is_empty() {
                    format!(
                        "{service}: {} (was {}); starting",
                        if request == ControlRequest::Reset {
                            "reset"
                        } else {
                            "restarting"
                        },
                        was_shown
                    )
                } else {
                    format!(
                        "{service}: {} (was {}); it starts once {} runs",
                        if request == ControlRequest::Reset {
                            "reset"
                        } else {
                            "restarting"
                        },
                        was_shown,
                        waits.join(", ")
                    )
                })
            }
        }
    }

    /// A service's state as `status` shows it: a wanted service that is down only because a
    /// dependency is not running is `WAITING (for NAME, …)`, not STOPPED.
    fn shown_state(&self, s: &Slot) -> String {
        let waits = self.waiting_for(&s.spec.name);
        if s.proc.is_none()
            && s.wanted
            && s.svc.state == ServiceState::Stopped
            && s.restart_at.is_none()
            && !waits.is_empty()
        {
            format!("WAITING (for {})", waits.join(", "))
        } else {
            state_name(s.svc.state).to_owned()
        }
    }

    /// The dependencies of `service` that are not RUNNING (it waits for them to start).
    fn waiting_for(&self, service: &str) -> Vec<&str> {
        let Some(slot) = self.slots.iter().find(|s| s.spec.name == service) else {
            return Vec::new();
        };
        slot.spec
            .depends_on
            .iter()
            .filter(|d| {
                !self
                    .slots
                    .iter()
                    .any(|o| &o.spec.name == *d && o.svc.state == ServiceState::Running)
            })
            .map(String::as_str)
            .collect()
    }

    fn status(&self) -> Response {
        let services: Vec<ServiceStatus> = self
            .slots
            .iter()
            .map(|s| ServiceStatus {
                name: s.spec.name.clone(),
                state: match self.held.get(&s.spec.name) {
                    Some(_) if s.proc.is_none() => "HELD".to_owned(),
                    // Down only because a dependency is not running: health says so.
                    _ if !self.waiting_for(&s.spec.name).is_empty()
                        && self.shown_state(s).starts_with("WAITING") =>
                    {
                        self.shown_state(s)
                    }
                    _ => self.shown_state(s),
                },
                critical: s.spec.critical,
                pid: s.proc.as_ref().map(|p| p.pid.as_raw_nonzero().get()),
                restarts: s.svc.restarts,
                uptime_secs: s.proc.as_ref().map(|p| p.started.elapsed().as_secs()),
                last_exit: self
                    .held
                    .get(&s.spec.name)
                    .cloned()
                    .or_else(|| s.svc.last_reason.clone())
                    .or_else(|| s.last_exit.clone()),
                failures_in_window: s.svc.failures_in_window(),
                max_restarts: s.spec.rules.max_restarts,
                heartbeat_age_ms: s
                    .spec
                    .heartbeat_file
                    .as_ref()
                    .and_then(|f| std::fs::metadata(f).and_then(|m| m.modified()).ok())
                    .and_then(|m| m.elapsed().ok())
                    .map(|d| d.as_millis() as u64),
            })
            .collect();
        let states: Vec<(bool, ServiceState)> = self
            .slots
            .iter()
            .map(|s| (s.spec.critical, s.svc.state))
            .collect();
        let overall = ballast_core::supervisor::overall(&states);
        Response::Status {
            supervisor_pid: std::process::id(),
            overall: overall.to_owned(),
            services,
            health: self
                .governor
                .lock()
                .map(|g| json!(health::summary(&g)))
                .unwrap_or_default(),
            config: self.heal.config_file.clone(),
        }
    }

    /// Stop services in reverse dependency order, each fully down before the next.
    fn shutdown(&mut self, log: &mut dyn FnMut(&str)) {
        for i in (0..self.slots.len()).rev() {
            self.slots[i].wanted = false;
            self.slots[i].restart_at = None;
            Self::stop_slot(&mut self.slots[i], false, log);
            while self.slots[i].proc.is_some() {
                let wait = self.next_deadline().map_or(Duration::from_secs(1), |d| {
                    d.saturating_duration_since(Instant::now())
                });
                for ev in self.wait(Some(wait)) {
                    match ev {
                        Event::Child => self.reap(log),
                        Event::Control((_, reply)) => {
                            let _ = reply.send(Response::Error {
                                message: "the supervisor is shutting down".into(),
                            });
                        }
                        Event::Stop
                        | Event::Notify { .. }
                        | Event::Probed { .. }
                        | Event::Heartbeat { .. }
                        | Event::Heal { .. } => {}
                        Event::Record { kind, body } => self.ops.record(&kind, body),
                    }
                }
                // A SIGCHLD may have been coalesced with one already handled.
                self.reap(log);
                self.timers(log);
            }
        }
    }

    /// The next events: those queued, else whatever comes first within `timeout` — a child's
    /// exit (its pidfd becomes readable: the loop wakes directly, no other thread involved) or
    /// an event from another thread (the eventfd). `None` waits without a limit.
    fn wait(&self, timeout: Option<Duration>) -> Vec<Event> {
        use rustix::event::{PollFd, PollFlags, Timespec};
        let mut out: Vec<Event> = self.rx.try_iter().collect();
        if !out.is_empty() {
            return out;
        }
        let mut child = false;
        {
            let mut fds = vec![PollFd::new(&*self.wake, PollFlags::IN)];
            for s in &self.slots {
                if let Some(fd) = s.proc.as_ref().and_then(|p| p.pidfd.as_ref()) {
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
}

/// A control request's outcome as the client's answer.
fn answer(r: Result<String, String>) -> Response {
    match r {
        Ok(message) => Response::Done { message },
        Err(message) => Response::Error { message },
    }
}

fn apply_action(slot: &mut Slot, action: Action, ops: &Ops, log: &mut dyn FnMut(&str)) {
    match action {
        Action::Restart { after_ms } => {
            ops.record(
                "service.backoff",
                json!({
                    "service": slot.spec.name,
                    "after_ms": after_ms,
                    "failures_in_window": slot.svc.failures_in_window(),
                    "max_restarts": slot.spec.rules.max_restarts,
                }),
            );
            log(&format!(
                "{}: BACKOFF, restart in {} ({} of {} failures in the window)",
                slot.spec.name,
                ballast_core::time::Human(after_ms),
                slot.svc.failures_in_window(),
                slot.spec.rules.max_restarts
            ));
            slot.restart_at = Some(Instant::now() + Duration::from_millis(after_ms));
        }
        Action::StayDown { state, reason } => {
            ops.record(
                "service.down",
                json!({ "service": slot.spec.name, "state": state_name(state), "reason": reason }),
            );
            log(&format!(
                "{}: {} — {reason}",
                slot.spec.name,
                state_name(state)
            ));
            if state != ServiceState::Stopped {
                slot.wanted = false;
            } else if slot.stopping.is_none() {
                // Ended on its own and the policy does not restart it.
                slot.wanted = false;
            }
        }
    }
}

pub fn state_name(s: ServiceState) -> &'static str {
    s.as_str()
}

/// A log that drops what it is given (when the log file cannot be opened: the child must still
/// never block on a full pipe).
struct NullLog;

impl logs::Sink for NullLog {}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, heartbeat: &Path) -> ServiceSpec {
        ServiceSpec {
            name: name.into(),
            command: "/bin/true".into(),
            args: Vec::new(),
            env: BTreeMap::new(),
            cwd: None,
            critical: false,
            rules: RestartRules {
                policy: ballast_core::supervisor::RestartPolicy::Never,
                initial_delay_ms: 0,
                max_delay_ms: 0,
                jitter_pct: 0,
                stable_after_ms: 0,
                max_restarts: 1,
                restart_window_ms: 1,
                seed: 0,
            },
            depends_on: Vec::new(),
            min_uptime: Duration::ZERO,
            notify: false,
            heartbeat_file: Some(heartbeat.to_owned()),
            heartbeat_ready: true,
            heartbeat_max_age: None,
            watchdog: None,
            http_ready: None,
            stop_signal: Signal::TERM,
            stop_timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn heartbeat_files_are_seen_by_inotify_when_written_replaced_or_deleted() {
        let tmp = tempfile::tempdir().unwrap();
        let hb = tmp.path().join("bot.heartbeat");
        let other = tmp.path().join("unrelated");
        let (tx, rx) = mpsc::sync_channel(EVENT_QUEUE);
        let fd = rustix::event::eventfd(0, rustix::event::EventfdFlags::NONBLOCK).unwrap();
        let waker = Waker {
            tx,
            fd: Arc::new(fd),
        };
        watch_heartbeats(&[spec("bot", &hb)], waker, &mut |_| {});
        let next = || match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Event::Heartbeat { service }) => service,
            _ => panic!("no heartbeat event"),
        };
        std::fs::write(&other, "x").unwrap(); // another file in the directory: no event
        std::fs::write(&hb, "1").unwrap();
        assert_eq!(next(), "bot");
        while rx.try_recv().is_ok() {} // create + write + close may each report
        let tmpfile = tmp.path().join(".bot.tmp");
        std::fs::write(&tmpfile, "2").unwrap();
        std::fs::rename(&tmpfile, &hb).unwrap(); // the engine's way: write, then rename
        assert_eq!(next(), "bot");
        while rx.try_recv().is_ok() {}
        std::fs::remove_file(&hb).unwrap();
        assert_eq!(next(), "bot");
    }
}
