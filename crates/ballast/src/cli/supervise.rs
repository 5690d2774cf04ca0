//! `ballast run` (the supervisor with the engine and the declared services), and the commands
//! that talk to a running supervisor over its socket: `status`, `restart`, `reset`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ballast_core::config::{Config, Readiness, ServiceKind};
use ballast_core::health::{Issue, Recommendation, Status, SubsystemHealth, SubsystemId};
use ballast_core::supervisor::{RestartPolicy, RestartRules};
use ballast_store::files::health::{HealthFile, HealthReport};
use ballast_supervisor::control::{self, Request, Response};
use ballast_supervisor::{ServiceSpec, parse_signal};

use super::{ConfigArg, DataDirArg, err, out};
use crate::exit::{self, Exit};
use crate::settings::DataDir;

/// The engine as the supervisor runs it: this binary, `engine --supervised`, on the
/// configuration in force (`run/engine-config.json`, written at its start and every applied
/// reload); `live` (`run --live` whose preconditions hold) is passed on as `--live`.
fn engine_service(dir: &Path, live: bool) -> anyhow::Result<ServiceSpec> {
    let exe = std::env::current_exe()?;
    let mut args = ["engine", "--supervised", "--config-in-force", "--data-dir"]
        .map(String::from)
        .to_vec();
    args.extend(
        [dir.display().to_string()]
            .into_iter()
            .chain(live.then(|| "--live".to_owned())),
    );
    Ok(ServiceSpec {
        name: "engine".into(),
        command: exe,
        args,
        env: Default::default(),
        cwd: None,
        critical: true,
        rules: RestartRules {
            policy: RestartPolicy::Always,
            initial_delay_ms: 1_000,
            max_delay_ms: 60_000,
            jitter_pct: 10,
            stable_after_ms: 60_000,
            max_restarts: 5,
            restart_window_ms: 600_000,
            seed: 1,
        },
        depends_on: Vec::new(),
        min_uptime: Duration::ZERO,
        notify: false,
        // The engine rewrites run/engine.heartbeat every loop: ready at its first one after
        // recovery; a minute without one is a hang.
        heartbeat_file: Some(ballast_store::Layout::new(dir).heartbeat()),
        heartbeat_ready: true,
        heartbeat_max_age: Some(Duration::from_secs(60)),
        watchdog: None,
        http_ready: None,
        stop_signal: rustix::process::Signal::TERM,
        stop_timeout: Duration::from_secs(10),
        // The engine is critical: never disabled, no fallback.
        on_failure_disable: false,
        fallback: None,
    })
}

/// The declared `[[services]]` as the supervisor runs them (at the start and at a reload).
pub(super) fn user_services(cfg: &Config) -> Vec<ServiceSpec> {
    cfg.services
        .iter()
        .map(|s| ServiceSpec {
            name: s.name.clone(),
            command: s.command.clone().into(),
            args: s.args.clone(),
            env: s.env.clone(),
            cwd: (!s.cwd.is_empty()).then(|| s.cwd.clone().into()),
            critical: s.kind == ServiceKind::Critical,
            rules: s.restart_rules(),
            depends_on: s.depends_on.clone(),
            min_uptime: match s.readiness {
                Readiness::MinUptime | Readiness::Notify => {
                    Duration::from_secs(u64::from(s.min_uptime_secs))
                }
                Readiness::Heartbeat | Readiness::Http => Duration::ZERO,
            },
            notify: s.readiness == Readiness::Notify,
            heartbeat_file: (!s.heartbeat_file.is_empty())
                .then(|| s.declared_path(&s.heartbeat_file)),
            heartbeat_ready: s.readiness == Readiness::Heartbeat,
            heartbeat_max_age: (s.heartbeat_max_age_secs > 0)
                .then(|| Duration::from_secs(u64::from(s.heartbeat_max_age_secs))),
            watchdog: (s.watchdog_secs > 0)
                .then(|| Duration::from_secs(u64::from(s.watchdog_secs))),
            http_ready: (s.readiness == Readiness::Http).then(|| s.readiness_url.clone()),
            stop_signal: parse_signal(&s.stop_signal).unwrap_or(rustix::process::Signal::TERM),
            stop_timeout: Duration::from_secs(u64::from(s.stop_timeout_secs)),
            on_failure_disable: s.on_failure == ballast_core::config::OnFailure::Disable,
            fallback: (!s.fallback.is_empty()).then(|| s.fallback.clone()),
        })
        .collect()
}

pub fn run(config: &ConfigArg, data_dir: &DataDirArg, live: bool) -> anyhow::Result<Exit> {
    let (loaded, dir) = match config.load_with_dir(data_dir) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    // Principle 1: live only when asked twice. `--live` on a paper configuration is a
    // contradiction: refused before anything starts. A live configuration that lacks any
    // precondition is refused trading — said here, on the operator's terminal — while the
    // supervisor, `status` and `health` stay up with the engine HELD and the reason.
    if let Some(code) = super::chaos_env::refuse_live("ballast run", &loaded.config, live)? {
        return Ok(code); // chaos is refused in live mode, always: with --live too
    }
    let missing = super::check::live_missing(&loaded.config, live);
    let live_refused = if missing.is_empty() {
        None
    } else {
        let why = super::check::live_refusal(&loaded.config, live);
        err!(
            "ballast run: live trading refused: {why}\n{}",
            missing
                .iter()
                .map(|m| format!("    missing: {m}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        if loaded.config.general.mode != ballast_core::config::Mode::Live {
            err!("    nothing was started");
            return Ok(exit::CONFIG);
        }
        err!(
            "    the supervisor starts without the engine (HELD): `ballast status` shows why; `ballast check` lists the preconditions"
        );
        Some(format!(
            "live start refused: {why}; missing: {}",
            missing.join("; ")
        ))
    };
    let api = match super::api::prepare(&loaded.config, &loaded.choice, &dir) {
        Ok(api) => api,
        Err(code) => return Ok(code),
    };
    let (cfg, dir) = (loaded.config, dir.path);
    let mut services = Vec::new();
    if cfg.engine.enabled {
        services.push(engine_service(&dir, live && live_refused.is_none())?);
    }
    services.extend(user_services(&cfg));
    if services.is_empty() && cfg.checks.is_empty() && cfg.artifacts.is_empty() {
        err!(
            "ballast run: [engine] enabled = false and no [[services]], [[checks]] or [[artifacts]] declared: nothing to run"
        );
        return Ok(exit::FAILURE);
    }
    // Every line a tracing event: text on stderr, JSON lines in logs/supervisor.log (opened
    // once the supervisor has created logs/: logging never creates the data directory).
    let logs_dir = Some(ballast_store::Layout::new(&dir).logs());
    if let Some(warning) = crate::logging::init(crate::logging::Setup {
        component: "supervisor",
        logs_dir,
    }) {
        err!("ballast run: warning: {warning}");
    }
    let mut log = |line: &str| crate::logging::bridge("ballast::supervisor", line);
    // Chaos (paper only): the API's port taken, the supervisor's own crash timer.
    let _chaos = super::chaos_env::supervisor_chaos(&cfg, &mut log);
    let asked = super::check::asked(&cfg, Some(live));
    let mut heal = heal_options(cfg, &loaded.choice, live_refused, api.hook.clone());
    heal.live = Some(asked);
    match ballast_supervisor::run(
        &dir,
        services,
        Arc::new(ballast_store::SystemClock),
        heal,
        &mut log,
    ) {
        Ok(()) => Ok(exit::OK),
        Err(e) => {
            err!("ballast run: {e}");
            // A link inside the data directory is the operator's environment to fix: 78, as
            // the engine's own refusal, so systemd does not restart into it.
            Ok(match e {
                ballast_supervisor::SupervisorError::Link(_) => exit::CONFIG,
                _ => exit::FAILURE,
            })
        }
    }
}

/// What the supervisor heals and gates, and how it reads `choice`'s file again.
fn heal_options(
    cfg: Config,
    choice: &crate::settings::ConfigChoice,
    live_refused: Option<String>,
    surface: ballast_supervisor::surface::SurfaceHook,
) -> ballast_supervisor::HealOptions {
    ballast_supervisor::HealOptions {
        gated: if cfg.engine.enabled {
            vec!["engine".to_owned()]
        } else {
            Vec::new()
        },
        sweep: Duration::from_secs(u64::from(cfg.heal.sweep_secs)),
        config: cfg,
        config_file: Some(choice.describe()),
        live_refused,
        live: None,
        config_hash: super::reload::file_hash(choice.path.as_deref()),
        reloader: Some(super::reload::reader(choice.clone())),
        surface: Some(surface),
    }
}

fn socket(dir: &DataDir) -> PathBuf {
    ballast_store::Layout::new(&dir.path).control_socket()
}

/// What to say when no supervisor answers: who runs here instead (a standalone engine), and
/// what to do.
fn no_supervisor(dir: &DataDir, e: &control::ClientError) -> (String, String) {
    let engine = ballast_store::files::lock::engine_holder(&ballast_store::Layout::new(&dir.path));
    match (e, engine) {
        (control::ClientError::NotRunning { .. }, Some(h)) => (
            format!(
                "no supervisor runs for the data directory {}; a standalone engine ({}) trades there",
                dir.path.display(),
                h.describe()
            ),
            "`ballast journal verify`, `ballast logs` and `ballast kill` work without a supervisor; to supervise the engine, stop it (SIGTERM) and start `ballast run`".to_owned(),
        ),
        (control::ClientError::NotRunning { .. }, None) => (
            format!("no supervisor runs for the data directory {}", dir.path.display()),
            "start one with `ballast run` (with the same data directory)".to_owned(),
        ),
        (control::ClientError::SocketGone { .. }, _) => {
            // Who holds the data directory, and what to do: its own help line.
            let text = e.to_string();
            match text.split_once("\n    help: ") {
                Some((m, h)) => (m.to_owned(), h.to_owned()),
                None => (text, "`ballast logs supervisor` says what it is doing".to_owned()),
            }
        }
        (other, _) => (
            other.to_string(),
            "try again; `ballast logs supervisor` says what the supervisor is doing".to_owned(),
        ),
    }
}

/// How many log lines `status` shows for a service that is not running.
const STATUS_LOG_LINES: usize = 5;

/// `ballast status [--json]`.
pub fn status(dir: &DataDir, json: bool) -> anyhow::Result<Exit> {
    let answer = match control::call(&socket(dir), &Request::Status) {
        Ok(a) => a,
        Err(e) => {
            let (message, help) = no_supervisor(dir, &e);
            if json {
                out!("{}", serde_json::json!({ "error": message, "help": help }));
            }
            err!("ballast status: {message}\n    help: {help}");
            return Ok(exit::FAILURE);
        }
    };
    let heartbeat = ballast_engine::heartbeat::read(&ballast_store::Layout::new(&dir.path));
    if json {
        let mut v = serde_json::to_value(&answer)?;
        if let (Some(map), Some(hb)) = (v.as_object_mut(), &heartbeat) {
            let mut engine = serde_json::to_value(&hb.view)?;
            if let Some(e) = engine.as_object_mut() {
                e.insert("feed".into(), serde_json::to_value(hb.status.feed)?);
                e.insert("chaos".into(), serde_json::to_value(&hb.chaos)?);
            }
            map.insert("engine".into(), engine);
        }
        out!("{}", serde_json::to_string_pretty(&v)?);
        // An error answer (the supervisor is busy or shutting down) is printed as JSON too,
        // and is a failure.
        return Ok(if matches!(answer, Response::Error { .. }) {
            exit::FAILURE
        } else {
            exit::OK
        });
    }
    match answer {
        Response::Status {
            supervisor_pid,
            overall,
            services,
            health,
            config,
            loaded,
            listening,
            api,
        } => {
            out!("supervisor pid {supervisor_pid}: services {overall}");
            listening
                .iter()
                .for_each(|l| out!("{} listening on {}", l.name, l.url));
            out!("data directory {}", dir.path.display());
            if let Some(url) = api {
                out!("API and dashboard {url}/");
            }
            if let Some(c) = config {
                out!("configuration {c}");
            }
            if let Some(l) = loaded {
                out!(
                    "configuration hash {}, loaded {}{}",
                    l.hash,
                    l.loaded_at.map_or("-".to_owned(), |t| t.to_string()),
                    l.last_reload
                        .map(|r| format!("; last reload: {r}"))
                        .unwrap_or_default()
                );
            }
            print_health_summary(&health);
            print_services(&services);
            if let Some(hb) = &heartbeat {
                super::trading_view::print_trading(hb);
            }
            print_stopped_logs(dir, &services);
            Ok(exit::OK)
        }
        Response::Error { message, .. } => {
            err!("ballast status: {message}");
            Ok(exit::FAILURE)
        }
        _ => {
            err!("ballast status: the supervisor answered something other than a status");
            Ok(exit::FAILURE)
        }
    }
}

/// `status`: the health and policy line, the open issues and the recommendations waiting
/// for approval.
fn print_health_summary(health: &control::HealthSummary) {
    if !health.policy.is_empty() {
        out!(
            "health {} (score {}), safety policy {}: {}{}",
            health.overall.as_deref().unwrap_or("UNKNOWN"),
            health.score.map_or("null".to_owned(), |s| s.to_string()),
            health.policy,
            health.policy_reason,
            health
                .policy_outlook
                .as_ref()
                .map(|t| format!("; {t}"))
                .unwrap_or_default()
        );
    }
    for issue in health.issues.iter().flatten() {
        out!("  issue {issue}");
    }
    for p in &health.pending {
        out!(
            "  waiting for approval: {} — {} (risks: {}) — `ballast approve {}`",
            p.id,
            p.expected,
            p.risks,
            p.id
        );
    }
    for line in health.disabled_lines() {
        out!("  {line}");
    }
}

/// `status`: the table of services.
fn print_services(services: &[control::ServiceStatus]) {
    // The columns fit the longest name and state (`WAITING (for my-bot)`).
    let nw = services
        .iter()
        .map(|s| s.name.len())
        .max()
        .unwrap_or(0)
        .max(16);
    let sw = services
        .iter()
        .map(|s| s.state.len())
        .max()
        .unwrap_or(0)
        .max(14);
    out!(
        "{:<nw$} {:<sw$} {:>8} {:>8} {:>10} {:>10}  LAST EXIT",
        "SERVICE",
        "STATE",
        "PID",
        "RESTARTS",
        "UPTIME",
        "HEARTBEAT"
    );
    for s in services {
        out!(
            "{:<nw$} {:<sw$} {:>8} {:>8} {:>10} {:>10}  {}",
            s.name,
            s.state,
            s.pid.map_or("-".into(), |p| p.to_string()),
            s.restarts,
            s.uptime_secs
                .map_or("-".into(), |u| ballast_core::time::Human::secs(u)
                    .to_string()),
            s.heartbeat_age_ms.map_or("-".into(), |a| format!(
                "{} ago",
                ballast_core::time::Human(a)
            )),
            last_column(s)
        );
    }
}

/// The last exit, and which fallback covers for which service.
fn last_column(s: &control::ServiceStatus) -> String {
    let cover = match (&s.covering, &s.covered_by) {
        (Some(primary), _) => Some(format!("fallback covering {primary}")),
        (None, Some(fallback)) => Some(format!("covered by its fallback {fallback}")),
        (None, None) => None,
    };
    match (cover, &s.last_exit) {
        (Some(c), Some(l)) => format!("{c}; {l}"),
        (Some(c), None) => c,
        (None, l) => l.clone().unwrap_or_default(),
    }
}

/// `status`: why a service is not running, as `systemctl status` shows it: its last lines.
fn print_stopped_logs(dir: &DataDir, services: &[control::ServiceStatus]) {
    for s in services.iter().filter(|s| s.state != "RUNNING") {
        let tail = super::logs::tail(&dir.path, &s.name, STATUS_LOG_LINES);
        if tail.is_empty() {
            continue;
        }
        out!(
            "\n{} is {}{}; the last lines of its log (`ballast logs {}`):",
            s.name,
            s.state,
            s.last_exit
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default(),
            s.name
        );
        for line in tail {
            out!("  {line}");
        }
    }
}

/// `ballast health [--json]`.
pub fn health(dir: &DataDir, json: bool) -> anyhow::Result<Exit> {
    let Some((report, live)) = health_answer(dir, json) else {
        return Ok(exit::FAILURE);
    };
    if json {
        out!("{}", serde_json::to_string_pretty(&report.to_value())?);
        return Ok(exit::OK);
    }
    let report = match report {
        HealthFile::Report(report) => report,
        HealthFile::Pending(pending) => {
            // Before the first health cycle only the policy is known. This prints what the
            // report read as JSON always printed for it — no time, `score null`, `safety
            // policy ? ()` (the policy was looked for one level deeper) — on purpose: its
            // bytes stay as they were.
            if !live {
                out!("no supervisor runs: the last report written (?)");
            }
            out!(
                "health {} (score null), safety policy ? (), trading restricted",
                serde_name(&pending.overall)
            );
            print_subsystems(&[]);
            return Ok(exit::OK);
        }
    };
    print_health_head(&report, live);
    print_subsystems(&report.subsystems);
    print_unhealthy_logs(dir, &report.subsystems);
    print_issues(&report.issues);
    print_recommendations(&report.recommendations);
    Ok(exit::OK)
}

/// The health report: the supervisor's answer (`true`: live), or else the last one it wrote
/// (`false`). `None` when neither can be had, or the supervisor's answer cannot be read (the
/// error is printed, as JSON too with `json`).
fn health_answer(dir: &DataDir, json: bool) -> Option<(HealthFile, bool)> {
    let sock = socket(dir);
    let failed = |message: String, help: &str| {
        if json {
            out!("{}", serde_json::json!({ "error": message }));
        }
        err!("ballast health: {message}\n    help: {help}");
        None
    };
    match control::call(&sock, &Request::Health) {
        Ok(Response::Health { report }) => Some((report, true)),
        // A supervisor runs: its last file would be shown as if none did.
        Err(e @ control::ClientError::UnreadableHealth { .. }) => failed(
            e.to_string(),
            "use the same Ballast version for the supervisor and the CLI (`ballast logs supervisor` says which runs)",
        ),
        _ => {
            let layout = ballast_store::Layout::new(&dir.path);
            let file = layout.health_report();
            match ballast_store::files::health::read(&ballast_store::RealStorage, &layout) {
                Ok(r) => Some((r, false)),
                Err(e) => {
                    // Why, unless it is simply not there (no supervisor has written one).
                    let why = if e.is_not_found() {
                        String::new()
                    } else {
                        format!(" ({})", e.reason())
                    };
                    failed(
                        format!(
                            "no supervisor answers on {} and {} cannot be read{why}",
                            sock.display(),
                            file.display()
                        ),
                        "start it with `ballast run`",
                    )
                }
            }
        }
    }
}

/// `health`: where the report comes from (when no supervisor runs) and the overall line.
fn print_health_head(report: &HealthReport, live: bool) {
    if !live {
        out!(
            "no supervisor runs: the last report written ({})",
            report.at
        );
    }
    let policy = &report.policy;
    out!(
        "health {} (score {}), safety policy {} ({}), trading {}{}",
        report.overall.as_str(),
        report.score,
        policy.policy.as_str(),
        policy.reason,
        if report.trading_allowed {
            "allowed"
        } else {
            "restricted"
        },
        // `; steps down to ALLOW_ALL in 4 min 10 s if clear` (the hysteresis countdown).
        policy
            .outlook
            .as_ref()
            .map(|o| format!("; {}", o.text))
            .unwrap_or_default()
    );
}

/// `health`: the table of subsystems with their checks' details.
fn print_subsystems(subsystems: &[SubsystemHealth]) {
    out!(
        "{:<22} {:<9} {:>9}  DETAILS",
        "SUBSYSTEM",
        "STATUS",
        "LATENCY"
    );
    for s in subsystems {
        let details: Vec<String> = s
            .checks
            .iter()
            .map(|c| format!("{}: {}", c.name, c.detail))
            .collect();
        out!(
            "{:<22} {:<9} {:>7}us  {}",
            format!(
                "{}{}",
                s.subsystem.name,
                if s.subsystem.critical { " *" } else { "" }
            ),
            s.status.as_str(),
            s.latency_us,
            details.join("; ")
        );
    }
}

/// `health`: a service that is not healthy: its last log lines (the exit reason is usually
/// there).
fn print_unhealthy_logs(dir: &DataDir, subsystems: &[SubsystemHealth]) {
    for sub in subsystems {
        let SubsystemId::Service(name) = SubsystemId::parse(&sub.subsystem.name) else {
            continue;
        };
        if sub.status == Status::Healthy {
            continue;
        }
        let tail = super::logs::tail(&dir.path, &name, STATUS_LOG_LINES);
        if !tail.is_empty() {
            out!("{name}: the last lines of its log (`ballast logs {name}`):");
            for line in tail {
                out!("  {line}");
            }
        }
    }
}

/// `health`: one line per open issue.
fn print_issues(issues: &[Issue]) {
    for i in issues {
        out!(
            "issue {} {} ({}): {}{}{}",
            i.severity.as_str(),
            i.id,
            i.policy.effect(),
            i.symptoms.first().map_or("", String::as_str),
            i.root_cause
                .as_deref()
                .map(|c| format!("; cause: {c}"))
                .unwrap_or_default(),
            if i.affects.is_empty() {
                String::new()
            } else {
                format!("; affects {}", i.affects.join(", "))
            }
        );
    }
}

/// `health`: one line per recommendation.
fn print_recommendations(recommendations: &[Recommendation]) {
    for r in recommendations {
        super::recommendations::print(r);
    }
}

/// An enum's name as it serializes (`PENDING`), for those without an `as_str`.
pub(super) fn serde_name(value: &impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "?".to_owned(),
    }
}

/// `ballast restart <service>` / `ballast reset <service>`.
pub fn command(dir: &DataDir, req: Request) -> anyhow::Result<Exit> {
    match control::call(&socket(dir), &req) {
        Ok(Response::Done { message }) => {
            out!("{message}");
            Ok(exit::OK)
        }
        Ok(Response::Error { message, .. }) => {
            err!("ballast: {message}");
            Ok(exit::FAILURE)
        }
        Ok(_) => {
            err!("ballast: the supervisor answered something other than done or an error");
            Ok(exit::FAILURE)
        }
        Err(e) => {
            err!("ballast: {e}");
            Ok(exit::FAILURE)
        }
    }
}

/// `ballast notify READY=1 …`: send sd_notify messages to `$NOTIFY_SOCKET` (for services
/// written where no sd_notify library is at hand; like `systemd-notify`).
pub fn notify(messages: &[String]) -> anyhow::Result<Exit> {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        err!(
            "ballast notify: NOTIFY_SOCKET is not set (the service's readiness must be \"notify\")"
        );
        return Ok(exit::FAILURE);
    };
    use std::os::unix::ffi::OsStrExt;
    // A path or an abstract address (`@name`), as systemd and sd_notify(3) take it.
    if let Err(e) = ballast_supervisor::systemd::notify(path.as_bytes(), &messages.join("\n")) {
        err!("ballast notify: {e}");
        return Ok(exit::FAILURE);
    }
    Ok(exit::OK)
}
