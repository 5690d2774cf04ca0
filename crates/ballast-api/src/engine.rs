//! The standalone engine's HTTP endpoints (`ballast engine --standalone`, SPEC §1): for
//! deployments where systemd or Kubernetes is the supervisor. The same server, tokens, role
//! checks, limits, `/openapi.json` and error shape as `ballast run`'s ([`crate::finish`]), with
//! the engine's own part only — no supervisor behind it:
//!
//! - `/livez`: the engine loop's heartbeat (`run/engine.heartbeat`, written every loop by this
//!   process) is at most [`EngineContext::live_within`] old; 503 naming why.
//! - `/readyz`: 503 unless trading is allowed — a fresh heartbeat of this process, the kill
//!   switch neither requested nor engaged, trading not HALTED, the policy not
//!   EMERGENCY_SHUTDOWN, no order of unknown outcome; `?verbose` as `ballast run`'s.
//! - `/metrics` ([`crate::metrics::Metrics::engine`]), open.
//! - behind the token: `GET /v1/health` (the heartbeat's engine status and the readiness
//!   checks), the kill switch (`GET`, `POST`, `DELETE /v1/kill-switch`, `POST
//!   /v1/kill-switch/release`) through the same files and functions as `ballast kill` /
//!   `ballast resume` — the engine takes them on its next loop, as it always does — and the
//!   engine views (`/v1/account`, `/v1/positions`, `/v1/orders`, `/v1/fills`,
//!   `/v1/decisions`, `/v1/equity`, `/v1/heals`, `/v1/alerts`) and `/v1/events`, from the
//!   journal follower as `ballast run` serves them (no ops journal here: heals and alerts are
//!   empty), and `POST`/`GET /v1/signals` (the durable signals journal the engine consumes).
//!
//! The decisions ([`liveness`], [`readiness`]) are pure: the heartbeat, its age and the
//! process's own pid and uptime are passed in.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use ballast_core::Clock;
use ballast_core::guard::TradingState;
use ballast_core::policy::Policy;
use ballast_store::files::heartbeat::Heartbeat;
use ballast_store::{Layout, RealStorage, SystemClock};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::control::{KillBody, kill_body_schema, kill_reason, kill_state_schema, object_schema};
use crate::probes::{lines, text};
use crate::{Access, ApiError, Caller, Param, RouteDoc, Routes, auth, metrics};

/// How long a release waits for the engine to take it (the release token gone, its heartbeat
/// saying the switch is off) before answering that it is written and pending.
pub const RELEASE_TAKEN_WITHIN: Duration = Duration::from_secs(5);
const RELEASE_POLL: Duration = Duration::from_millis(100);

/// What the standalone engine's API is built from.
#[derive(Clone)]
pub struct EngineContext {
    /// The data directory.
    pub layout: Layout,
    pub tokens: Arc<auth::Tokens>,
    /// The engine's process id: a heartbeat of another (an earlier run's) is not this one's.
    pub pid: u32,
    /// When the API started (before the engine's first loop).
    pub started: Instant,
    /// A heartbeat at most this old means the engine's loop is alive.
    pub live_within: Duration,
    /// `/metrics` on this listener (`[api] metrics_port = 0`); `None` when a separate
    /// listener serves it.
    pub metrics: Option<metrics::Metrics>,
    /// The read-only follower of the engine's journal: the engine views and `/v1/events`
    /// ([`crate::engine_routes`], the same as `ballast run`'s); `None` when it could not start
    /// (the probes, status and kill switch are served without them).
    pub follower: Option<Arc<crate::follow::Follower>>,
    /// `journal/signals/` opened for `POST/GET /v1/signals` (the engine takes them on its
    /// loop, as under `ballast run`); `None`: not served.
    pub signals: Option<crate::signals::SignalsState>,
}

/// The standalone engine's whole application: its routes, then [`crate::finish`]
/// (`/openapi.json` of exactly these, the role checks, the limits, the one error shape).
pub fn engine_app(ctx: &EngineContext) -> Router {
    crate::finish(engine_routes(ctx), Arc::clone(&ctx.tokens))
}

/// The routes the standalone engine serves.
pub fn engine_routes(ctx: &EngineContext) -> Routes {
    let open = |path, summary| {
        let mut d = RouteDoc::new("GET", path, summary);
        d.access = Access::Open;
        d
    };
    let op = |method, path, summary| {
        let mut d = RouteDoc::new(method, path, summary);
        d.access = Access::Operator;
        d.answer = Some(object_schema);
        d
    };
    let livez = open(
        "/livez",
        "Liveness: 200 while the engine's loop writes its heartbeat; 503 naming what is wedged. Plain text.",
    );
    let mut readyz = open(
        "/readyz",
        "Readiness: 200 only while trading is allowed (heartbeat, kill switch, trading, policy, reconciled); 503 otherwise. Plain text.",
    );
    readyz.query = &[Param {
        name: "verbose",
        description: "List every check: `[+]name ok` or `[-]name failed: reason`.",
    }];
    let mut health = RouteDoc::new(
        "GET",
        "/v1/health",
        "The engine's status as its last heartbeat says (trading state, kill switch, orders, equity), its age and the readiness checks; 503 before the first heartbeat.",
    );
    health.answer = Some(health_schema);
    let mut kill_state = RouteDoc::new(
        "GET",
        "/v1/kill-switch",
        "Whether the kill switch is requested and engaged, by whom and why.",
    );
    kill_state.answer = Some(kill_state_schema);
    let mut kill = op(
        "POST",
        "/v1/kill-switch",
        "Engage the kill switch (as `ballast kill`): the engine cancels open orders and refuses new ones on its next loop; `flatten` also closes every position at market.",
    );
    kill.body = Some(kill_body_schema);
    let release_doc = op(
        "DELETE",
        "/v1/kill-switch",
        "Release the kill switch (as `ballast resume`): the engine journals the release on its next loop.",
    );
    let mut release_post = release_doc.clone();
    release_post.method = "POST";
    release_post.path = "/v1/kill-switch/release";
    release_post.summary = "The same as DELETE /v1/kill-switch.";
    let routes = Routes::<EngineContext>::default()
        .add(livez, get(livez_handler))
        .add(readyz, get(readyz_handler))
        .add(health, get(health_handler))
        .add(kill_state, get(kill_state_handler))
        .add(kill, post(engage))
        .add(release_doc, delete(release))
        .add(release_post, post(release))
        .with_state(ctx.clone());
    let routes = match &ctx.follower {
        Some(f) => routes.merge(crate::engine_routes(Arc::clone(f))),
        None => routes,
    };
    let routes = match &ctx.signals {
        Some(s) => routes.merge(crate::signals::routes(s.clone())),
        None => routes,
    };
    match &ctx.metrics {
        Some(m) => routes.merge(metrics::routes(m.clone())),
        None => routes,
    }
}

fn health_schema() -> Value {
    json!({"type": "object", "properties": {
        "pid": {"type": "integer"}, "at": {"type": "string", "description": "When the heartbeat was written."},
        "age_ms": {"type": "integer"}, "loops": {"type": "integer"}, "bars": {"type": "integer"},
        "last_seq": {"type": "integer", "description": "The last journal seq durable."},
        "ready": {"type": "boolean"},
        "checks": {"type": "array", "items": {"type": "object", "properties": {
            "name": {"type": "string"}, "ok": {"type": "boolean"}, "reason": {"type": "string", "nullable": true}
        }}},
        "engine": {"type": "object", "description": "The engine's status (money as decimal strings)."},
        "chaos": {"type": "array", "items": {"type": "string"}, "description": "The chaos modes the engine injects (docs/CHAOS.md); empty: none."}
    }})
}

/// A heartbeat as the probes see it: who wrote it and how old it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Beat {
    pub pid: u32,
    pub age: Duration,
}

/// Whether the engine's loop is alive: its heartbeat `beat` (none, `None`), the engine's own
/// `pid`, the API started `uptime` ago; alive while this process's heartbeat is at most
/// `within` old (before its first, while the API is younger than `within`).
pub fn liveness(
    beat: Option<Beat>,
    pid: u32,
    uptime: Duration,
    within: Duration,
) -> Result<(), String> {
    match beat {
        Some(b) if b.pid == pid && b.age <= within => Ok(()),
        Some(b) if b.pid == pid => Err(format!(
            "the engine's loop has written no heartbeat for {} s (the bound is {} s): it is wedged; its log (logs/engine.log) says what it last did",
            b.age.as_secs(),
            within.as_secs()
        )),
        _ if uptime <= within => Ok(()),
        Some(b) => Err(format!(
            "the heartbeat is pid {}'s, not this engine's (pid {pid}), and this engine has written none in the {} s since it started (the bound is {} s): it is wedged at its start; see logs/engine.log",
            b.pid,
            uptime.as_secs(),
            within.as_secs()
        )),
        None => Err(format!(
            "the engine has written no heartbeat in the {} s since it started (the bound is {} s): it is wedged at its start; see logs/engine.log",
            uptime.as_secs(),
            within.as_secs()
        )),
    }
}

/// What readiness reads besides the heartbeat: the kill switch's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Switch {
    /// `KILL_SWITCH` is there (a request the engine engages on its next loop).
    pub requested: bool,
    /// `KILL_SWITCH.release` is there (a release the engine has not taken yet).
    pub release_pending: bool,
}

/// Every readiness check, in order, with why it failed: the heartbeat `hb` of age `age` (none,
/// `None`), the engine's own `pid`, the liveness bound `within` and the kill switch's files.
pub fn readiness(
    hb: Option<&Heartbeat>,
    age: Duration,
    pid: u32,
    within: Duration,
    switch: Switch,
) -> Vec<(&'static str, Result<(), String>)> {
    let Some(hb) = hb.filter(|h| h.pid == pid) else {
        let why = "no heartbeat of this engine yet (its first loop has not finished)".to_owned();
        return vec![("heartbeat", Err(why))];
    };
    let s = &hb.status;
    let heartbeat = if age <= within {
        Ok(())
    } else {
        Err(format!(
            "the heartbeat is {} s old (the bound is {} s): the engine's loop is wedged",
            age.as_secs(),
            within.as_secs()
        ))
    };
    let kill_switch = match (s.kill_switch, switch.requested, switch.release_pending) {
        (true, _, true) => Err("the kill switch is engaged; its release is written and the engine takes it on its next loop".to_owned()),
        (true, _, false) => Err("the kill switch is engaged: `ballast resume` (or DELETE /v1/kill-switch) releases it".to_owned()),
        (false, true, _) => Err("the kill switch is requested (KILL_SWITCH): the engine engages it on its next loop".to_owned()),
        (false, false, _) => Ok(()),
    };
    let trading = match s.trading_state {
        TradingState::Halted => Err("trading is HALTED: no orders are sent".to_owned()),
        _ => Ok(()),
    };
    let policy = match s.policy {
        Some(Policy::EmergencyShutdown) => {
            Err("the safety policy is EMERGENCY_SHUTDOWN".to_owned())
        }
        _ => Ok(()),
    };
    let reconciled = if s.orders_unknown > 0 {
        Err(format!(
            "{} order(s) in unknown state: the broker's answer is awaited",
            s.orders_unknown
        ))
    } else {
        Ok(())
    };
    vec![
        ("heartbeat", heartbeat),
        ("kill_switch", kill_switch),
        ("trading", trading),
        ("policy", policy),
        ("reconciled", reconciled),
    ]
}

/// What one probe reads: the heartbeat (if readable), its age, the kill switch's files.
struct Read {
    hb: Option<Heartbeat>,
    age: Duration,
    switch: Switch,
}

async fn read(ctx: &EngineContext) -> Result<Read, ApiError> {
    let layout = ctx.layout.clone();
    tokio::task::spawn_blocking(move || {
        let hb = ballast_store::files::heartbeat::read(&RealStorage, &layout).ok();
        let now = SystemClock.now();
        let age = hb
            .as_ref()
            .map(|h| Duration::from_millis(u64::try_from(now.ms_since(h.time)).unwrap_or(0)))
            .unwrap_or_default();
        let switch = Switch {
            requested: ballast_store::files::kill_switch::requested(&layout),
            release_pending: layout.kill_switch_release().exists(),
        };
        Read { hb, age, switch }
    })
    .await
    .map_err(|_| ApiError::internal("reading the engine's heartbeat was lost"))
}

impl Read {
    fn beat(&self) -> Option<Beat> {
        self.hb.as_ref().map(|h| Beat {
            pid: h.pid,
            age: self.age,
        })
    }

    fn checks(&self, ctx: &EngineContext) -> Vec<(&'static str, Result<(), String>)> {
        readiness(
            self.hb.as_ref(),
            self.age,
            ctx.pid,
            ctx.live_within,
            self.switch,
        )
    }
}

async fn livez_handler(State(ctx): State<EngineContext>) -> Response {
    let r = match read(&ctx).await {
        Ok(r) => r,
        Err(e) => {
            return text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("[-]loop failed: {}\nlivez check failed\n", e.message),
            );
        }
    };
    match liveness(r.beat(), ctx.pid, ctx.started.elapsed(), ctx.live_within) {
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

async fn readyz_handler(State(ctx): State<EngineContext>, Query(q): Query<Verbose>) -> Response {
    let checks = match read(&ctx).await {
        Ok(r) => r.checks(&ctx),
        Err(e) => vec![("heartbeat", Err(e.message))],
    };
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

type Answer = Result<Json<Value>, ApiError>;

async fn health_handler(State(ctx): State<EngineContext>) -> Answer {
    let r = read(&ctx).await?;
    let checks = r.checks(&ctx);
    let Some(hb) = r.hb.as_ref().filter(|h| h.pid == ctx.pid) else {
        return Err(ApiError::unavailable(
            "the engine has written no heartbeat yet (its first loop has not finished); ask again shortly",
        ));
    };
    let ready = checks.iter().all(|(_, c)| c.is_ok());
    let checks: Vec<Value> = checks
        .iter()
        .map(|(name, c)| json!({"name": name, "ok": c.is_ok(), "reason": c.as_ref().err()}))
        .collect();
    Ok(Json(json!({
        "pid": hb.pid,
        "at": hb.time,
        "age_ms": u64::try_from(r.age.as_millis()).unwrap_or(u64::MAX),
        "loops": hb.loops,
        "bars": hb.bars,
        "last_seq": hb.last_seq,
        "ready": ready,
        "checks": checks,
        "engine": hb.status,
        "chaos": hb.chaos,
    })))
}

async fn kill_state_handler(State(ctx): State<EngineContext>) -> Answer {
    let layout = ctx.layout.clone();
    let state = tokio::task::spawn_blocking(move || {
        ballast_supervisor::health::kill_switch_state(layout.root())
    })
    .await
    .map_err(|_| ApiError::internal("reading the kill switch's files was lost"))?;
    Ok(Json(state))
}

/// Who did it, as the kill switch's files record it.
fn by(c: &Caller) -> String {
    match c.remote {
        Some(r) => format!("api operator from {r}"),
        None => "api operator".to_owned(),
    }
}

async fn engage(
    State(ctx): State<EngineContext>,
    Extension(c): Extension<Caller>,
    Json(body): Json<KillBody>,
) -> Answer {
    let reason = kill_reason(&body)?;
    let layout = ctx.layout.clone();
    let (by, flatten) = (by(&c), body.flatten);
    let said = reason.clone();
    let path = tokio::task::spawn_blocking(move || {
        ballast_supervisor::health::engage_kill_switch(
            layout.root(),
            &reason,
            flatten,
            &by,
            SystemClock.now(),
        )
    })
    .await
    .map_err(|_| ApiError::internal("writing the kill switch was lost"))?
    .map_err(|e| {
        ApiError::internal(format!(
            "cannot write the kill switch {}: {e}; it is NOT engaged — `ballast kill` on this host writes it too",
            ctx.layout.kill_switch().display()
        ))
    })?;
    tracing::warn!(reason = %said, flatten, "kill switch requested over the API");
    Ok(Json(json!({
        "engaged": true,
        "kill_switch": path.display().to_string(),
        "message": format!(
            "kill switch requested ({said}): the engine engages it on its next loop — open orders cancelled, new orders refused{}; only a release (DELETE /v1/kill-switch, `ballast resume`) lifts it",
            if flatten { ", every position closed at market" } else { "" }
        ),
    })))
}

async fn release(State(ctx): State<EngineContext>, Extension(c): Extension<Caller>) -> Answer {
    let layout = ctx.layout.clone();
    let by = by(&c);
    let released = tokio::task::spawn_blocking(move || {
        ballast_supervisor::health::release_kill_switch(layout.root(), &by, SystemClock.now())
    })
    .await
    .map_err(|_| ApiError::internal("writing the release was lost"))?
    .map_err(ApiError::internal)?;
    tracing::warn!("kill switch released over the API");
    let taken = taken_within(&ctx, RELEASE_TAKEN_WITHIN).await;
    let message = if taken {
        "the kill switch is released: the engine has journaled the release and trading resumes"
            .to_owned()
    } else {
        format!(
            "the release is written ({}); the engine has not taken it within {} s (is it busy? GET /v1/health shows its kill switch) — it journals it on its next loop",
            released.token_path.display(),
            RELEASE_TAKEN_WITHIN.as_secs()
        )
    };
    Ok(Json(json!({
        "released": true,
        "requested": released.requested,
        "taken": taken,
        "release_file": released.token_path.display().to_string(),
        "message": message,
    })))
}

/// Whether the engine takes the release within `bound`: the token is gone and this engine's
/// heartbeat says the switch is off.
async fn taken_within(ctx: &EngineContext, bound: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + bound;
    loop {
        if let Ok(r) = read(ctx).await {
            let off =
                r.hb.as_ref()
                    .is_some_and(|h| h.pid == ctx.pid && !h.status.kill_switch);
            if off && !r.switch.release_pending && !r.switch.requested {
                return true;
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(RELEASE_POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn the_loop_is_alive_while_its_own_heartbeat_is_recent() {
        let me = 42;
        let beat = |pid, age| Some(Beat { pid, age: S(age) });
        assert!(liveness(beat(me, 1), me, S(100), S(13)).is_ok());
        let wedged = liveness(beat(me, 20), me, S(100), S(13)).unwrap_err();
        assert!(
            wedged.contains("20 s") && wedged.contains("13 s"),
            "{wedged}"
        );
        // An earlier run's heartbeat is not this engine's: alive only while starting.
        assert!(liveness(beat(7, 0), me, S(5), S(13)).is_ok());
        let other = liveness(beat(7, 0), me, S(14), S(13)).unwrap_err();
        assert!(
            other.contains("pid 7") && other.contains("at its start"),
            "{other}"
        );
        assert!(liveness(None, me, S(5), S(13)).is_ok());
        assert!(liveness(None, me, S(14), S(13)).is_err());
    }

    fn hb(pid: u32) -> Heartbeat {
        Heartbeat {
            version: 1,
            pid,
            loops: 3,
            time: ballast_core::Timestamp::EPOCH,
            bars: 3,
            last_seq: 9,
            signals_seq: 0,
            chaos: Vec::new(),
            status: Default::default(),
            view: Default::default(),
            figures: Default::default(),
        }
    }

    fn failed(checks: &[(&'static str, Result<(), String>)]) -> Vec<&'static str> {
        checks
            .iter()
            .filter(|(_, r)| r.is_err())
            .map(|(n, _)| *n)
            .collect()
    }

    #[test]
    fn a_trading_engine_is_ready_and_each_reason_not_to_trade_is_named() {
        let ok = readiness(Some(&hb(1)), S(1), 1, S(13), Switch::default());
        assert!(failed(&ok).is_empty(), "{}", lines(&ok));
        assert_eq!(
            failed(&readiness(Some(&hb(2)), S(1), 1, S(13), Switch::default())),
            ["heartbeat"]
        );
        assert_eq!(
            failed(&readiness(Some(&hb(1)), S(20), 1, S(13), Switch::default())),
            ["heartbeat"]
        );
        let requested = Switch {
            requested: true,
            release_pending: false,
        };
        let r = readiness(Some(&hb(1)), S(1), 1, S(13), requested);
        assert_eq!(failed(&r), ["kill_switch"]);
        assert!(lines(&r).contains("[-]kill_switch failed: the kill switch is requested"));
        let mut engaged = hb(1);
        engaged.status.kill_switch = true;
        engaged.status.trading_state = TradingState::Halted;
        engaged.status.orders_unknown = 2;
        engaged.status.policy = Some(Policy::EmergencyShutdown);
        let r = readiness(Some(&engaged), S(1), 1, S(13), Switch::default());
        assert_eq!(
            failed(&r),
            ["kill_switch", "trading", "policy", "reconciled"]
        );
        assert!(lines(&r).contains("2 order(s) in unknown state"));
    }
}
