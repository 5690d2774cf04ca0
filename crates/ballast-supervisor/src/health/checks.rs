//! The user's own `[[checks]]` (`file_age`, `files_present`, `http`, `tcp`, `process`,
//! `command`): each measured with its timeout, its status decided by the core's thresholds.

use super::*;

/// Run one `[[checks]]` entry.
pub fn user_check(c: &CheckConfig, exits: &ForeignExits, now: Timestamp) -> CheckResult {
    let timeout = Duration::from_millis(u64::from(c.timeout_ms));
    let t = Instant::now();
    let mut r = match c.kind {
        CheckKind::FileAge => file_age_result(c, file_age(&c.path, now)),
        CheckKind::FilesPresent => {
            let missing: Vec<&String> = c.paths.iter().filter(|p| !Path::new(p).exists()).collect();
            files_present_result(c, &missing)
        }
        CheckKind::Http => http_result(&c.url, crate::http_status(&c.url, timeout)),
        CheckKind::Tcp => tcp_result(&c.address, tcp_connect(&c.address, timeout)),
        CheckKind::Process => process_result(&c.pattern, process_matching(&c.pattern)),
        CheckKind::Command => command_check(c, exits, timeout),
    };
    r.latency_us = micros(t);
    r
}

/// How long ago `path` was modified, in milliseconds (`None`: it cannot be read).
fn file_age(path: &str, now: Timestamp) -> Option<i64> {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .map(|m| {
            let ms = m
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
            // Not clamped: a modification time in the future is no evidence (`staleness`).
            now.unix_ms().saturating_sub(ms)
        })
}

/// The verdict of a `file_age` check on the file's age (`None`: missing).
fn file_age_result(c: &CheckConfig, age: Option<i64>) -> CheckResult {
    let st = health::staleness(
        age,
        ballast_core::time::ms_from_secs(c.healthy_max_age_secs),
        ballast_core::time::ms_from_secs(c.degraded_max_age_secs),
    );
    CheckResult::new(
        "file_age",
        st,
        match age {
            Some(a) => format!(
                "{} is {} (healthy under {}, degraded under {})",
                c.path,
                health::age_said(a, "old"),
                ballast_core::time::Human::secs(u64::from(c.healthy_max_age_secs)),
                ballast_core::time::Human::secs(u64::from(c.degraded_max_age_secs))
            ),
            None => format!("{} is missing", c.path),
        },
    )
}

/// The verdict of a `files_present` check on the paths found missing.
fn files_present_result(c: &CheckConfig, missing: &[&String]) -> CheckResult {
    let found = (c.paths.len() - missing.len()) as u64;
    let st = health::at_least(found, c.paths.len() as u64, u64::from(c.degraded_min));
    CheckResult::new(
        "files_present",
        st,
        if missing.is_empty() {
            format!("all {} present", c.paths.len())
        } else {
            format!(
                "{found} of {} present (degraded from {}); missing: {}",
                c.paths.len(),
                c.degraded_min,
                missing
                    .iter()
                    .take(5)
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        },
    )
}

/// The verdict of an `http` check on the answer's status code (or why there was none).
fn http_result(url: &str, answer: Result<u16, String>) -> CheckResult {
    match answer {
        Ok(code) if (200..300).contains(&code) => {
            CheckResult::new("http", Status::Healthy, format!("GET {url} -> {code}"))
        }
        Ok(code) => {
            let mut r = CheckResult::new("http", Status::Critical, format!("GET {url} -> {code}"));
            r.root_cause = Some(format!("HTTP {code}"));
            r
        }
        Err(e) => {
            let mut r = CheckResult::new("http", Status::Critical, format!("GET {url}: {e}"));
            r.root_cause = Some(e);
            r
        }
    }
}

/// Connect to `address` within `timeout` (and close the connection again).
fn tcp_connect(address: &str, timeout: Duration) -> Result<(), String> {
    let addr = std::net::ToSocketAddrs::to_socket_addrs(address)
        .ok()
        .and_then(|mut a| a.next());
    match addr {
        Some(a) => std::net::TcpStream::connect_timeout(&a, timeout)
            .map(drop)
            .map_err(|e| e.to_string()),
        None => Err("cannot resolve the address".into()),
    }
}

/// The verdict of a `tcp` check on whether the connection was accepted.
fn tcp_result(address: &str, res: Result<(), String>) -> CheckResult {
    match res {
        Ok(()) => CheckResult::new(
            "tcp",
            Status::Healthy,
            format!("{address} accepts connections"),
        ),
        Err(e) => {
            let mut r = CheckResult::new("tcp", Status::Critical, format!("{address}: {e}"));
            r.root_cause = Some(e);
            r
        }
    }
}

/// The verdict of a `process` check on the pid found (if any).
fn process_result(pattern: &str, found: Option<i32>) -> CheckResult {
    match found {
        Some(pid) => CheckResult::new(
            "process",
            Status::Healthy,
            format!("pid {pid} matches {pattern:?}"),
        ),
        None => CheckResult::new(
            "process",
            Status::Critical,
            format!("no process matches {pattern:?}"),
        ),
    }
}

/// A process (not this one) whose command line contains `pattern`.
fn process_matching(pattern: &str) -> Option<i32> {
    let me = std::process::id() as i32;
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let line: Vec<u8> = cmd
            .iter()
            .map(|b| if *b == 0 { b' ' } else { *b })
            .collect();
        if String::from_utf8_lossy(&line).contains(pattern) {
            return Some(pid);
        }
    }
    None
}

/// Run a `command` check: exit 0 healthy, 1 degraded, anything else (or the timeout)
/// critical; the first line of its output is the detail.
fn command_check(c: &CheckConfig, exits: &ForeignExits, timeout: Duration) -> CheckResult {
    use std::io::Read;
    use std::os::unix::process::CommandExt;
    let spawned = std::process::Command::new(&c.command)
        .env_remove(crate::systemd::SYSTEMD_ENV[0])
        .env_remove(crate::systemd::SYSTEMD_ENV[1])
        .env_remove(crate::systemd::SYSTEMD_ENV[2])
        .args(&c.args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn();
    let mut child = match spawned {
        Ok(ch) => ch,
        Err(e) => {
            let mut r = CheckResult::new(
                "command",
                Status::Critical,
                format!("cannot run {}: {e}", c.command),
            );
            r.root_cause = Some(e.to_string());
            return r;
        }
    };
    let pid = child.id() as i32;
    let deadline = Instant::now() + timeout;
    // The loop reaps the child (it reaps every child as the subreaper); its status arrives
    // through `exits`. The pidfd tells when it ends without a poll loop.
    let pidfd = rustix::process::Pid::from_raw(pid)
        .and_then(|p| rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok());
    let ended = match &pidfd {
        Some(fd) => {
            let mut fds = [rustix::event::PollFd::new(fd, rustix::event::PollFlags::IN)];
            let ts = rustix::event::Timespec {
                tv_sec: i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX),
                tv_nsec: i64::from(timeout.subsec_nanos()),
            };
            matches!(rustix::event::poll(&mut fds, Some(&ts)), Ok(n) if n > 0)
        }
        None => true, // already gone (and reaped)
    };
    if !ended {
        if let Some(p) = rustix::process::Pid::from_raw(pid) {
            let _ = rustix::process::kill_process_group(p, rustix::process::Signal::KILL);
        }
        let _ = exits.take(pid, Duration::from_secs(1));
        return CheckResult::new(
            "command",
            Status::Critical,
            format!(
                "{} did not finish within {}",
                c.command,
                ballast_core::time::Human(u64::from(c.timeout_ms))
            ),
        );
    }
    let left = deadline.saturating_duration_since(Instant::now()) + Duration::from_millis(500);
    let code = exits
        .take(pid, left)
        .or_else(|| child.try_wait().ok().flatten().map(|s| s.code()));
    let mut out = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = (&mut o).take(4096).read_to_string(&mut out);
    }
    let first = out.lines().next().unwrap_or("").trim().to_owned();
    let (st, what) = match code {
        Some(Some(0)) => (Status::Healthy, "exit 0".to_owned()),
        Some(Some(1)) => (Status::Degraded, "exit 1".to_owned()),
        Some(Some(n)) => (Status::Critical, format!("exit {n}")),
        Some(None) => (Status::Critical, "killed by a signal".to_owned()),
        None => (Status::Unknown, "its exit status was not seen".to_owned()),
    };
    let mut r = CheckResult::new(
        "command",
        st,
        if first.is_empty() {
            format!("{}: {what}", c.command)
        } else {
            format!("{}: {what}: {first}", c.command)
        },
    );
    if st >= Status::Degraded && !first.is_empty() {
        r.root_cause = Some(first);
    }
    r
}

/// The disabled list (`state/disabled.json`): DEGRADED while something is wrong with it (a
/// damaged, newer or unreadable file, an entry refused or listed twice) — an operator looks.
pub fn disabled_list(inputs: &super::Inputs) -> CheckResult {
    match inputs.disabled_problems.as_slice() {
        [] => CheckResult::new(
            "disabled_list",
            Status::Healthy,
            "the disabled list reads and names no critical module",
        ),
        [first, rest @ ..] => CheckResult::new(
            "disabled_list",
            Status::Degraded,
            format!(
                "{} problem(s) of the disabled list; first: {first}",
                rest.len() + 1
            ),
        ),
    }
}

/// A user check not measured yet (the supervisor's first cycle leaves it to the monitor's
/// thread): UNKNOWN; a critical one holds a live start until it answers.
pub fn pending() -> CheckResult {
    CheckResult::new(
        ballast_core::health::PENDING_CHECK,
        Status::Unknown,
        "not measured yet: its first run is on the health monitor's thread, not in the supervisor's start",
    )
}

/// The ops journal, which carries the alerts' outbox.
pub(super) fn ops_journal_check(inputs: &Inputs) -> CheckResult {
    if inputs.ops_failed {
        CheckResult::new(
            "ops_journal",
            Status::Critical,
            "the ops journal refused a write: alerts reach the log only",
        )
    } else if inputs.ops_dropped > 0 {
        CheckResult::new(
            "ops_journal",
            Status::Degraded,
            format!(
                "{} event(s) dropped: the ops journal's queue overflowed",
                inputs.ops_dropped
            ),
        )
    } else {
        CheckResult::new("ops_journal", Status::Healthy, "every event journaled")
    }
}

/// Alert delivery: DEGRADED while a sink's last attempt failed (its alerts are retried and
/// kept in the outbox; trading is not affected).
pub(super) fn alert_delivery_check(inputs: &Inputs) -> CheckResult {
    match inputs.alert_sinks_failing.as_slice() {
        [] => CheckResult::new("delivery", Status::Healthy, "every sink reached"),
        failing => CheckResult::new(
            "delivery",
            Status::Degraded,
            format!(
                "alert delivery failing ({}); alerts are kept in the outbox and retried",
                failing
                    .iter()
                    .map(|(sink, why)| format!("{sink}: {why}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        ),
    }
}

/// The active chaos modes (SPEC §10): DEGRADED, naming them, so that nobody mistakes a chaos
/// run for a clean one.
pub(super) fn chaos_check(config: &Config) -> CheckResult {
    let plan = ballast_core::chaos::ChaosPlan::of(config);
    CheckResult::new(
        "modes",
        Status::Degraded,
        format!(
            "chaos modes active: {} (seed {}): faults are injected on purpose (paper only; docs/CHAOS.md)",
            ballast_core::chaos::names(&plan.modes),
            plan.knobs.seed
        ),
    )
}
