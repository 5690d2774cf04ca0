//! `/livez` and `/readyz`, open (no token), plain text as Kubernetes reads them.
//!
//! `/livez`: 200 while the supervisor's loop publishes its health reports (it did within
//! [`Probes::live_within`]); 503 naming what is wedged. It never asks the engine: the API
//! stays up when the engine is down. `/readyz`: 503 unless trading is allowed — a report,
//! the engine up, reconciled, the policy neither EMERGENCY_SHUTDOWN nor HALTED, the system not
//! FAILED, and in live mode every condition of principle 1 (`live.<condition>` lines, from the
//! report's live gate); `?verbose` lists each check as `[+]name ok` / `[-]name failed: reason`. Both
//! decisions are pure ([`liveness`], [`readiness`]).

use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use ballast_core::guard::TradingState;
use ballast_core::health::Status;
use ballast_core::policy::Policy;
use ballast_store::files::health::HealthFile;
use serde::Deserialize;

use crate::{Access, Context, Param, RouteDoc, Routes};

/// How long the loop may go without a report before `/livez` fails, beyond its cycle.
pub const LIVE_GRACE: Duration = Duration::from_secs(10);

/// What the probes read.
#[derive(Clone)]
pub struct Probes {
    ctx: Context,
    started: Instant,
    /// A report at least this recent means the loop is alive.
    pub live_within: Duration,
}

pub fn routes(ctx: Context) -> Routes {
    let live_within = ctx.cycle * 3 + LIVE_GRACE;
    let probes = Probes {
        ctx,
        started: Instant::now(),
        live_within,
    };
    let mut livez = RouteDoc::new(
        "GET",
        "/livez",
        "Liveness: 200 while the supervisor's loop publishes its reports; 503 naming what is wedged. Plain text.",
    );
    livez.access = Access::Open;
    let mut readyz = RouteDoc::new(
        "GET",
        "/readyz",
        "Readiness: 200 only while trading is allowed (report, engine, reconciled, policy, overall); 503 otherwise. Plain text.",
    );
    readyz.access = Access::Open;
    readyz.query = &[Param {
        name: "verbose",
        description: "List every check: `[+]name ok` or `[-]name failed: reason`.",
    }];
    Routes::default()
        .add(livez, get(livez_handler))
        .add(readyz, get(readyz_handler))
        .with_state(probes)
}

/// Whether the loop is alive: it published `age` ago (never, `None`), the process started
/// `uptime` ago; alive while a report is at most `within` old (before the first, while the
/// process is younger than `within`).
pub fn liveness(age: Option<Duration>, uptime: Duration, within: Duration) -> Result<(), String> {
    match age {
        Some(age) if age <= within => Ok(()),
        Some(age) => Err(format!(
            "the supervisor's loop has published no health report for {} s (the bound is {} s): it is wedged; `ballast logs supervisor` says what it last did",
            age.as_secs(),
            within.as_secs()
        )),
        None if uptime <= within => Ok(()),
        None => Err(format!(
            "the supervisor's loop has published no health report in the {} s since the API started (the bound is {} s): it is wedged at its start; `ballast logs supervisor`",
            uptime.as_secs(),
            within.as_secs()
        )),
    }
}

/// Every readiness check of `report`, in order, with why it failed.
pub fn readiness(report: Option<&HealthFile>) -> Vec<(String, Result<(), String>)> {
    let Some(HealthFile::Report(r)) = report else {
        let why = "no health report yet (the first health cycle has not finished)".to_owned();
        return vec![("report".into(), Err(why))];
    };
    let engine_status = r
        .subsystems
        .iter()
        .find(|s| s.subsystem.name == "engine")
        .map(|s| s.status);
    let engine = match (&r.engine, engine_status) {
        (None, _) => Err("the engine's heartbeat is not there: the engine is not running".into()),
        (Some(_), Some(Status::Healthy | Status::Degraded)) => Ok(()),
        (Some(_), Some(s)) => Err(format!("the engine subsystem is {}", s.as_str())),
        (Some(_), None) => Err("the engine subsystem is not in the report".into()),
    };
    let reconciled = match &r.engine {
        Some(e) if e.orders_unknown > 0 => Err(format!(
            "{} order(s) in unknown state: the broker's answer is awaited",
            e.orders_unknown
        )),
        Some(_) => Ok(()),
        None => Err("no engine to reconcile".into()),
    };
    let policy = match (r.policy.policy, r.policy.trading_state) {
        (Policy::EmergencyShutdown, _) => Err(format!(
            "the safety policy is EMERGENCY_SHUTDOWN: {}",
            r.policy.reason
        )),
        (_, TradingState::Halted) => Err(format!(
            "trading is HALTED (policy {}): {}",
            r.policy.policy.as_str(),
            r.policy.reason
        )),
        _ => Ok(()),
    };
    let overall = if r.overall.as_str().starts_with("FAILED") {
        Err(format!("the system is {}", r.overall.as_str()))
    } else {
        Ok(())
    };
    let allowed = if r.trading_allowed {
        Ok(())
    } else {
        Err(format!(
            "the report does not allow trading (policy {}, trading {:?})",
            r.policy.policy.as_str(),
            r.policy.trading_state
        ))
    };
    let mut checks = vec![
        ("report".to_owned(), Ok(())),
        ("engine".to_owned(), engine),
        ("reconciled".to_owned(), reconciled),
        ("policy".to_owned(), policy),
        ("overall".to_owned(), overall),
        ("trading_allowed".to_owned(), allowed),
    ];
    checks.extend(live_lines(r.live_gate.as_ref()));
    checks
}

/// Principle 1's conditions, one readiness line each (`live.<condition>`), when live trading
/// was asked for (the configuration says `mode = "live"`); none in paper mode.
fn live_lines(gate: Option<&ballast_core::live::Gate>) -> Vec<(String, Result<(), String>)> {
    let Some(g) = gate else {
        return Vec::new();
    };
    let asked = g
        .conditions
        .iter()
        .any(|c| c.name == "mode" && c.met == ballast_core::live::Met::Ok);
    if !asked {
        return Vec::new();
    }
    g.conditions
        .iter()
        .map(|c| {
            let r = match c.met {
                ballast_core::live::Met::Ok => Ok(()),
                ballast_core::live::Met::Missing => Err(c.words.clone()),
                ballast_core::live::Met::AtStart => Err(format!("not known yet: {}", c.words)),
            };
            (format!("live.{}", c.name), r)
        })
        .collect()
}

/// The Kubernetes-style lines of `checks`.
pub fn lines<N: AsRef<str>>(checks: &[(N, Result<(), String>)]) -> String {
    checks
        .iter()
        .map(|(name, r)| (name.as_ref(), r))
        .map(|(name, r)| match r {
            Ok(()) => format!("[+]{name} ok\n"),
            Err(why) => format!("[-]{name} failed: {why}\n"),
        })
        .collect()
}

/// A plain-text answer, kept as it is (not re-rendered as an error object).
pub(crate) fn text(status: StatusCode, body: String) -> Response {
    let mut r = (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response();
    r.extensions_mut().insert(crate::KeepBody);
    r
}

async fn livez_handler(State(p): State<Probes>) -> Response {
    let age = p
        .ctx
        .surface
        .published
        .published_at()
        .map(|at| at.elapsed());
    match liveness(age, p.started.elapsed(), p.live_within) {
        Ok(()) => text(StatusCode::OK, "ok\n".into()),
        Err(why) => text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("[-]loop failed: {why}\nlivez check failed\n"),
        ),
    }
}

#[derive(Debug, Deserialize)]
struct Verbose {
    verbose: Option<String>,
}

async fn readyz_handler(State(p): State<Probes>, Query(q): Query<Verbose>) -> Response {
    let report = p.ctx.surface.published.health();
    let checks = readiness(report.as_ref().map(|h| &h.report));
    let ready = checks.iter().all(|(_, r)| r.is_ok());
    match (ready, q.verbose.is_some()) {
        (true, false) => text(StatusCode::OK, "ok\n".into()),
        (true, true) => text(
            StatusCode::OK,
            format!("{}readyz check passed\n", lines(&checks)),
        ),
        (false, _) => text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{}readyz check failed\n", lines(&checks)),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loop_is_alive_while_its_reports_are_recent() {
        let s = Duration::from_secs;
        assert!(liveness(Some(s(1)), s(100), s(13)).is_ok());
        let wedged = liveness(Some(s(20)), s(100), s(13)).unwrap_err();
        assert!(
            wedged.contains("20 s") && wedged.contains("13 s"),
            "{wedged}"
        );
        assert!(liveness(None, s(5), s(13)).is_ok());
        assert!(
            liveness(None, s(14), s(13))
                .unwrap_err()
                .contains("at its start")
        );
    }

    #[test]
    fn before_a_report_nothing_is_ready() {
        let checks = readiness(None);
        assert_eq!(checks.len(), 1);
        assert!(lines(&checks).starts_with("[-]report failed: no health report yet"));
        let pending = HealthFile::Pending(ballast_store::files::health::Pending {
            overall: ballast_store::files::health::NotYet::Unknown,
            policy: Policy::NoNewTrades,
        });
        assert!(readiness(Some(&pending))[0].1.is_err());
    }
}
