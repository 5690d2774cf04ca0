//! `ballast heal [--dry-run] [--json]`: the startup self-heal by hand. With a running
//! supervisor it runs there (the supervisor owns the ops journal and restarts services);
//! otherwise here, journaling to the ops journal itself. `--dry-run` prints the plan and
//! changes nothing.

use super::err;
use super::out;
use std::sync::Arc;

use ballast_core::heal::{Class, Component};
use ballast_supervisor::control::{self, Request, Response};
use ballast_supervisor::core::OpsEvent;
use ballast_supervisor::heal::{Applied, Healer, Report, engine_lock_held};
use ballast_supervisor::ops::Ops;

use super::{ConfigArg, DataDirArg};
use crate::exit::{self, Exit};

pub fn run(
    config: &ConfigArg,
    data_dir: &DataDirArg,
    dry_run: bool,
    json: bool,
) -> anyhow::Result<Exit> {
    let (loaded, dir) = match config.load_with_dir(data_dir) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    // A mistyped data directory must not be "healed" into a fresh one.
    if let Some(problem) = not_a_data_directory(&dir.path) {
        err!(
            "ballast heal: the data directory {} (from {}) {problem}; nothing was changed\n    help: name the data directory `ballast run` uses (--data-dir DIR, BALLAST_HOME, or [general] data_dir); `ballast run` creates a new one",
            dir.path.display(),
            dir.how
        );
        if json {
            out!(
                "{}",
                serde_json::json!({ "error": format!("the data directory {} {problem}", dir.path.display()) })
            );
        }
        return Ok(exit::FAILURE);
    }
    let cfg = loaded.config;
    let dir = dir.path;
    let socket = ballast_store::Layout::new(&dir).control_socket();
    let (report, via) = match control::call(&socket, &Request::Heal { dry_run }) {
        Ok(Response::Heal { report }) => (*report, "by the running supervisor"),
        Ok(other) => {
            err!(
                "ballast heal: unexpected answer from the supervisor: {}",
                serde_json::to_string(&other).unwrap_or_default()
            );
            return Ok(exit::FAILURE);
        }
        // A supervisor holds the data directory but its socket is gone: a heal here would act
        // beside its own healer. Refused, with the way out (a standalone engine is fine: the
        // offline heal leaves what it owns alone).
        Err(e @ control::ClientError::SocketGone { .. })
            if !matches!(&e, control::ClientError::SocketGone { holder, .. }
                if holder.command.as_deref().is_some_and(|c| c.contains("--standalone"))) =>
        {
            err!(
                "ballast heal: {e}\n    nothing was healed: a heal beside a running supervisor is its own healer's job"
            );
            return Ok(exit::FAILURE);
        }
        Err(_) => (heal_here(&dir, &cfg, dry_run)?, "here (no supervisor runs)"),
    };
    if json {
        // Through a JSON value: its members in the order `heal --json` always printed them.
        out!(
            "{}",
            serde_json::to_string_pretty(&serde_json::to_value(&report)?)?
        );
    } else {
        print_report(&dir, &report, via);
    }
    let dangerous = report
        .plan
        .actions
        .iter()
        .any(|x| x.class == Class::Dangerous);
    let failed = report.applied.iter().any(|x| x.error.is_some());
    Ok(if dangerous || failed {
        exit::FAILURE
    } else {
        exit::OK
    })
}

/// Why `path` is not a data directory to heal, if it is not: it must exist (what is missing
/// inside it is the self-heal's to create), and a directory with content but none of
/// Ballast's directories in it (`--data-dir ~`) is not healed into one.
fn not_a_data_directory(path: &std::path::Path) -> Option<&'static str> {
    let ballast_dirs = ["journal", "state", "run", "logs", "quarantine", "inbox"];
    match std::fs::metadata(path) {
        Err(_) => Some("does not exist"),
        Ok(m) if !m.is_dir() => Some("is not a directory"),
        Ok(_)
            if !ballast_dirs.iter().any(|d| path.join(d).exists())
                && std::fs::read_dir(path).is_ok_and(|mut e| e.next().is_some()) =>
        {
            Some(
                "is not a Ballast data directory (it has content but none of journal/, state/, run/, logs/, quarantine/, inbox/)",
            )
        }
        Ok(_) => None,
    }
}

/// The heal with no supervisor to run it: here, journaling to the ops journal itself (what it
/// held back or found dangerous too).
fn heal_here(
    dir: &std::path::Path,
    cfg: &ballast_core::config::Config,
    dry_run: bool,
) -> anyhow::Result<Report> {
    let clock = Arc::new(ballast_store::SystemClock);
    let healer = Healer {
        data_dir: dir,
        config: cfg,
        clock: &*clock,
        cache: None,
    };
    let ops = if dry_run {
        Ops::disabled()
    } else {
        Ops::open(dir, clock.clone(), &mut |line| err!("{line}"))
    };
    let report: Report = healer.run(
        dry_run,
        // Its lock file, or a runtime holding the data directory itself (no supervisor
        // answers: a standalone engine, whose lock file may have been removed).
        engine_lock_held(&ballast_store::Layout::new(dir))
            || ballast_store::pidlock::dir_holder(dir).is_some(),
        &|_| false,
        &mut |s| {
            Err(format!(
                "no supervisor runs, so service {s} is not running here: nothing to restart"
            ))
        },
        &mut |ev| ops.emit(&ev),
    );
    if !dry_run {
        for a in report
            .plan
            .actions
            .iter()
            .filter(|a| a.class != Class::Heal)
        {
            ops.emit(&OpsEvent::HealFinding(a.clone()));
        }
    }
    ops.close();
    Ok(report)
}

fn print_report(dir: &std::path::Path, r: &Report, via: &str) {
    out!(
        "self-heal of {} ({} mode){}, {via}",
        dir.display(),
        r.mode.as_str(),
        if r.dry_run {
            ", dry run: nothing changed"
        } else {
            ""
        }
    );
    let actions = &r.plan.actions;
    if actions.is_empty() {
        out!("  every component is healthy");
    }
    let mut heals = 0;
    for a in actions {
        let outcome = if a.class != Class::Heal {
            String::new()
        } else if r.dry_run {
            heals += 1;
            "  [would apply]".into()
        } else {
            heals += 1;
            match r.applied.iter().find(|x| x.action == *a) {
                Some(Applied { error: Some(e), .. }) => format!("  [FAILED: {e}]"),
                Some(done) => format!(
                    "  [done: {} -> {}{}]",
                    done.before,
                    done.after,
                    done.quarantined
                        .as_ref()
                        .map(|q| format!("; original in {q}"))
                        .unwrap_or_default()
                ),
                None => "  [done:  -> ]".into(),
            }
        };
        out!(
            "  {:<10} {:<18} {}: {}{outcome}",
            class_name(a.class).to_uppercase(),
            a.component,
            a.target,
            a.reason,
        );
    }
    let count = |c: Class| actions.iter().filter(|a| a.class == c).count();
    out!(
        "{heals} heal(s), {} dangerous, {} skipped",
        count(Class::Dangerous),
        count(Class::Skip)
    );
    // The engine's journal and snapshots (read as it writes them while it runs).
    let journal = |a: &&ballast_core::heal::Action| {
        matches!(
            Component::parse(&a.component),
            Component::Journal | Component::Snapshots
        )
    };
    if let Some(h) = ballast_store::files::lock::engine_holder(&ballast_store::Layout::new(dir)) {
        let pid = h.pid.map(|p| format!(" (pid {p})")).unwrap_or_default();
        let found = actions.iter().any(|a| journal(&a));
        out!(
            "engine: running{pid}: its journal and snapshots were read as it writes them{}",
            if found {
                "; a heal of them waits for its next start, which decides again"
            } else {
                ""
            }
        );
        return;
    }
    match (r.plan.engine_refusal.as_deref(), r.refusal.as_deref()) {
        (Some(why), _) => out!("engine: will refuse to start — {why}"),
        (None, Some(why)) => out!("engine: {why}"),
        (None, None)
            if actions
                .iter()
                .any(|a| a.class == Class::Dangerous && journal(&a)) =>
        {
            out!(
                "engine: may start (paper mode): it salvages at its start as said above — the valid journal prefix is kept, what it cuts or moves is copied to quarantine first, and it reports CRITICAL"
            )
        }
        (None, None) => out!("engine: may start"),
    }
}

/// A class as the report names it (`heal`, `dangerous`, `skip`).
fn class_name(c: Class) -> &'static str {
    match c {
        Class::Heal => "heal",
        Class::Dangerous => "dangerous",
        Class::Skip => "skip",
    }
}
