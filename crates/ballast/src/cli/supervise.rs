//! `ballast run` (the supervisor with the engine and the declared services), and the commands
//! that talk to a running supervisor over its socket: `status`, `restart`, `reset`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ballast_core::config::{Config, Readiness, ServiceKind};
use ballast_core::supervisor::{RestartPolicy, RestartRules};
use ballast_supervisor::control::{self, Request, Response};
use ballast_supervisor::{ServiceSpec, parse_signal};

use super::{ConfigArg, DataDirArg};
use crate::exit::{self, Exit};
use crate::settings;

/// The engine as the supervisor runs it: this same binary, `engine --supervised`.
fn engine_service(cfg: &Config, config: &ConfigArg, dir: &Path) -> anyhow::Result<ServiceSpec> {
    let exe = std::env::current_exe()?;
    let mut args = vec![
        "engine".to_owned(),
        "--supervised".to_owned(),
        "--data-dir".to_owned(),
        dir.display().to_string(),
    ];
    if let Some(c) = &config.config {
        args.push("--config".into());
        args.push(c.display().to_string());
    }
    let _ = cfg;
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
        heartbeat_file: Some(dir.join("run/engine.heartbeat")),
        heartbeat_ready: true,
        heartbeat_max_age: Some(Duration::from_secs(60)),
        watchdog: None,
        http_ready: None,
        stop_signal: rustix::process::Signal::TERM,
        stop_timeout: Duration::from_secs(10),
    })
}

fn user_services(cfg: &Config) -> Vec<ServiceSpec> {
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
        })
        .collect()
}

pub fn run(config: &ConfigArg, data_dir: &DataDirArg) -> anyhow::Result<Exit> {
    let (cfg, dir) = match config.load_with_dir(data_dir) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let mut services = Vec::new();
    if cfg.engine.enabled {
        services.push(engine_service(&cfg, config, &dir)?);
    }
    services.extend(user_services(&cfg));
    if services.is_empty() && cfg.checks.is_empty() && cfg.artifacts.is_empty() {
        eprintln!(
            "ballast run: [engine] enabled = false and no [[services]], [[checks]] or [[artifacts]] declared: nothing to run"
        );
        return Ok(exit::FAILURE);
    }
    let mut log = |line: &str| {
        // One write per line (stderr is unbuffered), and a closed terminal must not take the
        // supervisor down.
        use std::io::Write;
        let text = format!(
            "{} supervisor: {line}\n",
            ballast_store::SystemClock.now_string()
        );
        let _ = std::io::stderr().write_all(text.as_bytes());
    };
    let heal = ballast_supervisor::HealOptions {
        gated: if cfg.engine.enabled {
            vec!["engine".to_owned()]
        } else {
            Vec::new()
        },
        sweep: Duration::from_secs(u64::from(cfg.heal.sweep_secs)),
        config: cfg,
    };
    match ballast_supervisor::run(
        &dir,
        services,
        Arc::new(ballast_store::SystemClock),
        heal,
        &mut log,
    ) {
        Ok(()) => Ok(exit::OK),
        Err(e) => {
            eprintln!("ballast run: {e}");
            Ok(exit::FAILURE)
        }
    }
}

fn socket(data_dir: &DataDirArg, config: &ConfigArg) -> std::path::PathBuf {
    let cfg = settings::load(config.config.as_deref()).ok();
    settings::data_dir(data_dir.data_dir.as_deref(), cfg.as_ref()).join("run/supervisor.sock")
}

/// `ballast status [--json]`.
pub fn status(data_dir: &DataDirArg, config: &ConfigArg, json: bool) -> anyhow::Result<Exit> {
    let answer = match control::call(&socket(data_dir, config), &Request::Status) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("ballast status: {e}");
            return Ok(exit::FAILURE);
        }
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(exit::OK);
    }
    match answer {
        Response::Status {
            supervisor_pid,
            overall,
            services,
            health,
        } => {
            println!("supervisor pid {supervisor_pid}: services {overall}");
            if let Some(policy) = health["policy"].as_str() {
                println!(
                    "health {} (score {}), safety policy {policy}: {}",
                    health["overall"].as_str().unwrap_or("UNKNOWN"),
                    health["score"],
                    health["policy_reason"].as_str().unwrap_or("")
                );
            }
            for issue in health["issues"].as_array().into_iter().flatten() {
                println!("  issue {}", issue.as_str().unwrap_or(""));
            }
            for p in health["pending"].as_array().into_iter().flatten() {
                println!(
                    "  waiting for approval: {} — {} (risks: {}) — `ballast approve {}`",
                    p["id"].as_str().unwrap_or("?"),
                    p["expected"].as_str().unwrap_or(""),
                    p["risks"].as_str().unwrap_or(""),
                    p["id"].as_str().unwrap_or("?")
                );
            }
            println!(
                "{:<16} {:<14} {:>8} {:>8} {:>10} {:>10}  LAST EXIT",
                "SERVICE", "STATE", "PID", "RESTARTS", "UPTIME", "HEARTBEAT"
            );
            for s in services {
                println!(
                    "{:<16} {:<14} {:>8} {:>8} {:>10} {:>10}  {}",
                    s.name,
                    s.state,
                    s.pid.map_or("-".into(), |p| p.to_string()),
                    s.restarts,
                    s.uptime_secs.map_or("-".into(), |u| format!("{u}s")),
                    s.heartbeat_age_ms
                        .map_or("-".into(), |a| format!("{:.1}s ago", a as f64 / 1000.0)),
                    s.last_exit.unwrap_or_default()
                );
            }
            Ok(exit::OK)
        }
        other => {
            eprintln!("ballast status: unexpected answer {other:?}");
            Ok(exit::FAILURE)
        }
    }
}

/// `ballast health [--json]`.
pub fn health(data_dir: &DataDirArg, config: &ConfigArg, json: bool) -> anyhow::Result<Exit> {
    let sock = socket(data_dir, config);
    let (report, live) = match control::call(&sock, &Request::Health) {
        Ok(Response::Health { report }) => (report, true),
        _ => {
            let file = sock
                .parent()
                .and_then(|run| run.parent())
                .map(|d| d.join("state/health.json"))
                .unwrap_or_default();
            match ballast_store::bounded::read_own_string(
                &file,
                ballast_store::bounded::MAX_FILE_BYTES,
            )
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            {
                Some(r) => (r, false),
                None => {
                    eprintln!(
                        "ballast health: no supervisor answers on {} and {} cannot be read\n    help: start it with `ballast run`",
                        sock.display(),
                        file.display()
                    );
                    return Ok(exit::FAILURE);
                }
            }
        }
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(exit::OK);
    }
    if !live {
        println!(
            "no supervisor runs: the last report written ({})",
            report["at"].as_str().unwrap_or("?")
        );
    }
    println!(
        "health {} (score {}), safety policy {} ({}), trading {}",
        report["overall"].as_str().unwrap_or("?"),
        report["score"],
        report["policy"]["policy"].as_str().unwrap_or("?"),
        report["policy"]["reason"].as_str().unwrap_or(""),
        if report["trading_allowed"] == true {
            "allowed"
        } else {
            "restricted"
        }
    );
    println!(
        "{:<22} {:<9} {:>9}  DETAILS",
        "SUBSYSTEM", "STATUS", "LATENCY"
    );
    for s in report["subsystems"].as_array().into_iter().flatten() {
        let details: Vec<String> = s["checks"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                format!(
                    "{}: {}",
                    c["name"].as_str().unwrap_or(""),
                    c["detail"].as_str().unwrap_or("")
                )
            })
            .collect();
        println!(
            "{:<22} {:<9} {:>7}us  {}",
            format!(
                "{}{}",
                s["name"].as_str().unwrap_or("?"),
                if s["critical"] == true { " *" } else { "" }
            ),
            s["status"].as_str().unwrap_or("?"),
            s["latency_us"],
            details.join("; ")
        );
    }
    for i in report["issues"].as_array().into_iter().flatten() {
        println!(
            "issue {} {} ({}): {}{}{}",
            i["severity"].as_str().unwrap_or("?"),
            i["id"].as_str().unwrap_or("?"),
            if i["impacts_trading"] == true {
                "impacts trading"
            } else {
                "does not impact trading"
            },
            i["symptoms"][0].as_str().unwrap_or(""),
            i["root_cause"]
                .as_str()
                .map(|c| format!("; cause: {c}"))
                .unwrap_or_default(),
            i["affects"]
                .as_array()
                .filter(|a| !a.is_empty())
                .map(|a| format!(
                    "; affects {}",
                    a.iter()
                        .filter_map(|x| x.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .unwrap_or_default()
        );
    }
    for r in report["recommendations"].as_array().into_iter().flatten() {
        println!(
            "recommendation {} [{}] priority {}: {} (risks: {})",
            r["id"].as_str().unwrap_or("?"),
            r["state"].as_str().unwrap_or("?"),
            r["priority"],
            r["expected"].as_str().unwrap_or(""),
            r["risks"].as_str().unwrap_or("")
        );
    }
    Ok(exit::OK)
}

/// `ballast restart <service>` / `ballast reset <service>`.
pub fn command(data_dir: &DataDirArg, config: &ConfigArg, req: Request) -> anyhow::Result<Exit> {
    match control::call(&socket(data_dir, config), &req) {
        Ok(Response::Done { message }) => {
            println!("{message}");
            Ok(exit::OK)
        }
        Ok(Response::Error { message }) => {
            eprintln!("ballast: {message}");
            Ok(exit::FAILURE)
        }
        Ok(other) => {
            eprintln!("ballast: unexpected answer {other:?}");
            Ok(exit::FAILURE)
        }
        Err(e) => {
            eprintln!("ballast: {e}");
            Ok(exit::FAILURE)
        }
    }
}

/// `ballast notify READY=1 …`: send sd_notify messages to `$NOTIFY_SOCKET` (for services
/// written where no sd_notify library is at hand; like `systemd-notify`).
pub fn notify(messages: &[String]) -> anyhow::Result<Exit> {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        eprintln!(
            "ballast notify: NOTIFY_SOCKET is not set (the service's readiness must be \"notify\")"
        );
        return Ok(exit::FAILURE);
    };
    let sock = std::os::unix::net::UnixDatagram::unbound()?;
    let text = messages.join("\n");
    if let Err(e) = sock.send_to(text.as_bytes(), &path) {
        eprintln!(
            "ballast notify: cannot send to {}: {e}",
            Path::new(&path).display()
        );
        return Ok(exit::FAILURE);
    }
    Ok(exit::OK)
}
