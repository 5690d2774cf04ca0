//! What `ballast run` tells systemd about itself when it runs as a `Type=notify` service
//! (sd_notify, decided here, sent by the shell's `systemd.rs`): `READY=1` once the startup is
//! over — the startup self-heal ran (it runs before any service starts, and the first health
//! report follows it) and every service settled, the engine's readiness being its first
//! heartbeat, written only after its startup reconciliation; `WATCHDOG=1` at half of
//! `WATCHDOG_USEC`, from the loop's own turns; `STATUS=` with the health line when it changes;
//! `STOPPING=1` at shutdown. Pure: the environment's values, the reports, the services' views
//! and the instants come in as arguments.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use ballast_core::supervisor::ServiceState;
use ballast_store::files::health::HealthFile;

use super::ServiceView;

/// The longest `STATUS=` text sent (longer lines are cut at a character boundary, marked `…`):
/// systemd shows it in `systemctl status`, one line.
pub const STATUS_MAX_BYTES: usize = 256;
/// The shortest watchdog ping interval: a tiny `WATCHDOG_USEC` does not turn the loop into a
/// busy loop (systemd would then restart a healthy Ballast: say so in the log).
pub const WATCHDOG_EVERY_MIN: Duration = Duration::from_millis(10);
/// The longest `NOTIFY_SOCKET` value taken (a socket address holds 108 bytes; a longer path
/// is reached through its directory, as the supervisor's own sockets are).
pub const NOTIFY_SOCKET_MAX_BYTES: usize = 4096;

/// Where systemd listens: a path, or an abstract address (`@name` in `NOTIFY_SOCKET`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    Path(PathBuf),
    /// The name without its leading `@` (the kernel's leading NUL byte).
    Abstract(Vec<u8>),
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Address::Path(p) => write!(f, "{}", p.display()),
            Address::Abstract(name) => write!(f, "@{}", String::from_utf8_lossy(name)),
        }
    }
}

/// What the environment asks for: where to send, and how often to ping the watchdog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setup {
    pub address: Address,
    /// Half of `WATCHDOG_USEC` (`None`: no watchdog asked for this process).
    pub watchdog_every: Option<Duration>,
}

/// The setup of `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` as the process found them
/// (`pid`: its own), with what was wrong in them, in words (`None`: no socket, nothing sent).
pub fn setup(
    notify_socket: Option<&[u8]>,
    watchdog_usec: Option<&str>,
    watchdog_pid: Option<&str>,
    pid: u32,
) -> (Option<Setup>, Vec<String>) {
    let mut warnings = Vec::new();
    let address = match notify_socket {
        None | Some([]) => return (None, warnings),
        Some(v) if v.len() > NOTIFY_SOCKET_MAX_BYTES => {
            warnings.push(format!(
                "NOTIFY_SOCKET is {} bytes, over the {NOTIFY_SOCKET_MAX_BYTES} taken: systemd is not told of readiness; set a shorter socket path",
                v.len()
            ));
            return (None, warnings);
        }
        Some([b'@', name @ ..]) => Address::Abstract(name.to_vec()),
        // systemd gives an absolute path; the supervisor's own services may get one relative
        // to a relative --data-dir: both are paths.
        Some(v) => Address::Path(PathBuf::from(String::from_utf8_lossy(v).into_owned())),
    };
    let for_us = match watchdog_pid.map(str::trim) {
        None | Some("") => true,
        Some(p) => p.parse::<u32>().is_ok_and(|p| p == pid),
    };
    let watchdog_every = match watchdog_usec.map(str::trim) {
        None | Some("") => None,
        Some(_) if !for_us => None,
        Some(v) => match v.parse::<u64>() {
            Ok(0) => None,
            Ok(us) => {
                let every = Duration::from_micros(us / 2);
                if every < WATCHDOG_EVERY_MIN {
                    warnings.push(format!(
                        "WATCHDOG_USEC={us} asks for a ping every {} µs; Ballast pings every {} ms at most: raise WatchdogSec= (30s is usual)",
                        us / 2,
                        WATCHDOG_EVERY_MIN.as_millis()
                    ));
                }
                Some(every.max(WATCHDOG_EVERY_MIN))
            }
            Err(_) => {
                warnings.push(format!(
                    "WATCHDOG_USEC={v:?} is not a whole number of microseconds: no watchdog pings are sent; check the unit's WatchdogSec="
                ));
                None
            }
        },
    };
    let setup = Setup {
        address,
        watchdog_every,
    };
    (Some(setup), warnings)
}

/// Why the startup is not over yet, in words (`None`: it is — `READY=1` is due). It is over
/// once a health report follows the startup heal and no service is still starting or backing
/// off: each has become ready (the engine's first heartbeat comes after its startup
/// reconciliation), is held, disabled, or has failed (then the report says so, and systemd
/// hears it as `STATUS=`; restarting Ballast would not help).
pub fn waiting_for(report: &HealthFile, services: &[ServiceView]) -> Option<String> {
    if matches!(report, HealthFile::Pending(_)) {
        return Some("the first health cycle".into());
    }
    let starting: Vec<String> = services
        .iter()
        .filter(|s| starting(s, services))
        .map(|s| format!("{} ({})", s.name, s.shown()))
        .collect();
    (!starting.is_empty()).then(|| starting.join(", "))
}

/// Whether `s` is still on its way up: starting, backing off, or not started yet while its
/// start is due — or waits for a dependency that has not given up (one starting, or running
/// while this one is about to start). A dependency that failed for good, is disabled or held
/// holds it down: that is settled, and the report says so.
fn starting(s: &ServiceView, all: &[ServiceView]) -> bool {
    if s.disabled.is_some() || s.held || s.standby {
        return false;
    }
    match s.state {
        ServiceState::Starting | ServiceState::Backoff => true,
        ServiceState::Stopped if !s.waiting_for.is_empty() => s.waiting_for.iter().any(|d| {
            all.iter()
                .find(|o| &o.name == d)
                .is_some_and(|o| o.name != s.name && !given_up(o))
        }),
        ServiceState::Stopped => s.never_started,
        ServiceState::Running | ServiceState::Failed | ServiceState::FailedConfig => false,
    }
}

/// A service that will not come up by itself: failed for good, disabled, held, or stopped
/// (by an operator) with nothing to wait for.
fn given_up(s: &ServiceView) -> bool {
    s.disabled.is_some()
        || s.held
        || matches!(s.state, ServiceState::Failed | ServiceState::FailedConfig)
        || (s.state == ServiceState::Stopped && !s.never_started && s.waiting_for.is_empty())
}

/// The health line systemd shows (`systemctl status`): overall, score, policy, trading,
/// issues, the services running. One line of at most [`STATUS_MAX_BYTES`].
pub fn status_line(report: &HealthFile, services: &[ServiceView]) -> String {
    let line = match (report, waiting_for(report, services)) {
        (_, Some(what)) => format!("starting: waiting for {what}"),
        (HealthFile::Pending(p), None) => format!("starting: policy {}", p.policy.as_str()),
        (HealthFile::Report(r), None) => {
            let running = services
                .iter()
                .filter(|s| s.state == ServiceState::Running)
                .count();
            let mut line = format!(
                "{} (score {}), policy {}, trading {}, {} issue(s), {running}/{} service(s) running",
                r.overall.as_str(),
                r.score,
                r.policy.policy.as_str(),
                trading(r.policy.trading_state),
                r.issues.len(),
                services.len()
            );
            if r.policy.kill_switch {
                line.push_str(", KILL SWITCH ON");
            }
            line
        }
    };
    one_line(&line, STATUS_MAX_BYTES)
}

fn trading(t: ballast_core::guard::TradingState) -> &'static str {
    match t {
        ballast_core::guard::TradingState::Active => "ACTIVE",
        ballast_core::guard::TradingState::Reducing => "REDUCING",
        ballast_core::guard::TradingState::Halted => "HALTED",
    }
}

/// `text` on one line (a newline would start another sd_notify field) of at most `max` bytes.
pub fn one_line(text: &str, max: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.len() <= max {
        return flat;
    }
    let mut cut = max.saturating_sub('…'.len_utf8());
    while !flat.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &flat[..cut])
}

/// What has been told, and when the next watchdog ping is due.
#[derive(Debug, Clone)]
pub struct Notifier {
    ready: bool,
    status: Option<String>,
    every: Option<Duration>,
    next_ping: Option<Instant>,
    stopping: bool,
}

impl Notifier {
    /// The first ping is due at once (systemd's watchdog runs from the start).
    pub fn new(watchdog_every: Option<Duration>, now: Instant) -> Notifier {
        Notifier {
            ready: false,
            status: None,
            every: watchdog_every,
            next_ping: watchdog_every.map(|_| now),
            stopping: false,
        }
    }

    /// The message due on a new health report: `READY=1` the first time the startup is over,
    /// `STATUS=` when the line changed (`None`: nothing new).
    pub fn on_report(&mut self, report: &HealthFile, services: &[ServiceView]) -> Option<String> {
        if self.stopping {
            return None;
        }
        let mut fields = Vec::new();
        if !self.ready && waiting_for(report, services).is_none() {
            self.ready = true;
            fields.push("READY=1".to_owned());
        }
        let line = status_line(report, services);
        if self.status.as_deref() != Some(line.as_str()) {
            fields.push(format!("STATUS={line}"));
            self.status = Some(line);
        }
        (!fields.is_empty()).then(|| fields.join("\n"))
    }

    /// `WATCHDOG=1` when a ping is due at `now` (called on each turn of the loop: a loop that
    /// stops turning stops pinging, and systemd restarts the service).
    pub fn on_turn(&mut self, now: Instant) -> Option<&'static str> {
        let (every, due) = (self.every?, self.next_ping?);
        if now < due {
            return None;
        }
        self.next_ping = Some(now + every);
        Some("WATCHDOG=1")
    }

    /// When the loop must turn at the latest for the next ping.
    pub fn next_wakeup(&self) -> Option<Instant> {
        self.next_ping
    }

    /// The message of the shutdown's start (sent once).
    pub fn on_stop(&mut self) -> Option<String> {
        if std::mem::replace(&mut self.stopping, true) {
            return None;
        }
        Some("STOPPING=1\nSTATUS=stopping: the services in reverse dependency order".into())
    }

    /// Whether `READY=1` was sent.
    pub fn ready(&self) -> bool {
        self.ready
    }
}

// Tested in the shell's `systemd/tests.rs` (a test reads the clock for its instants).
