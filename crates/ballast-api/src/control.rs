//! The control routes: the supervisor's health, services, recommendations, policy, kill
//! switch and configuration. Every call goes through [`Surface::call_as`] — the control
//! socket's path into the loop, one implementation — with the caller (role, address) as the
//! actor the loop journals; a refusal keeps the supervisor's class (404, 409, 403, …).

use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use axum::{Extension, Json};
use ballast_supervisor::control::{Actor, Request, Response};
use ballast_supervisor::surface::Surface;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{Access, ApiError, Caller, Context, Param, RouteDoc, Routes};

type Answer = Result<Json<Value>, ApiError>;

/// The routes of this module.
pub fn routes(ctx: Context) -> Routes {
    let op = |method, path, summary| {
        let mut d = RouteDoc::new(method, path, summary);
        d.access = Access::Operator;
        d.answer = Some(message_schema);
        d
    };
    let view = |method, path, summary, answer| {
        let mut d = RouteDoc::new(method, path, summary);
        d.answer = Some(answer);
        d
    };
    let mut kill = op(
        "POST",
        "/v1/kill-switch",
        "Engage the kill switch (as `ballast kill`): open orders cancelled, new orders refused; `flatten` also closes every position at market.",
    );
    kill.body = Some(kill_body_schema);
    let mut reload = op(
        "POST",
        "/v1/config/reload",
        "Read the configuration file again, validate it and apply the plan, all or nothing (as `ballast reload`).",
    );
    reload.answer = Some(object_schema);
    let mut check = op(
        "POST",
        "/v1/health/check",
        "Run a health cycle of every check now and answer its report.",
    );
    check.answer = Some(object_schema);
    let mut release_doc = op(
        "DELETE",
        "/v1/kill-switch",
        "Release the kill switch (as `ballast resume`), then leave EMERGENCY_SHUTDOWN when the engine has taken it.",
    );
    release_doc.answer = Some(object_schema);
    let mut release_post = release_doc.clone();
    release_post.method = "POST";
    release_post.path = "/v1/kill-switch/release";
    release_post.summary = "The same as DELETE /v1/kill-switch.";
    reload.query = &[Param {
        name: "dry_run",
        description: "true: only answer the plan, apply nothing.",
    }];
    Routes::<Context>::default()
        .add(view("GET", "/v1/health", "The health report of the last cycle (state/health.json as-is); 503 before the first.", object_schema), get(health))
        .add(check, post(health_check))
        .add(view("GET", "/v1/services", "Every service: state, pid, restarts, uptime, last exit, heartbeat age.", services_schema), get(services))
        .add(op("POST", "/v1/services/{name}/restart", "Restart a service (as `ballast restart`)."), post(restart))
        .add(op("POST", "/v1/services/{name}/reset", "Reset a FAILED service's failure budget and start it (as `ballast reset`)."), post(reset))
        .add(op("POST", "/v1/services/{name}/disable", "Disable a supportive service or check until enabled (as `ballast disable`)."), post(disable))
        .add(op("POST", "/v1/services/{name}/enable", "Enable a disabled service or check (as `ballast enable`)."), post(enable))
        .add(view("GET", "/v1/recommendations", "Recommendations waiting for an operator, and the recently decided ones (newest first).", recommendations_schema), get(recommendations))
        .add(op("POST", "/v1/recommendations/{id}/approve", "Approve a pending recommendation (its id URL-encoded: a/b/restart as a%2Fb%2Frestart)."), post(approve))
        .add(op("POST", "/v1/recommendations/{id}/reject", "Reject a pending recommendation (its id URL-encoded)."), post(reject))
        .add(view("GET", "/v1/policy", "The safety policy, the trading state, the reason, and where it goes next by itself (the hysteresis countdown).", object_schema), get(policy))
        .add(view("GET", "/v1/kill-switch", "Whether the kill switch is requested and engaged, by whom and why.", kill_state_schema), get(kill_state))
        .add(kill, post(engage))
        .add(release_doc, delete(release))
        .add(release_post, post(release))
        .add(view("GET", "/v1/config", "The effective configuration: every key's value (secrets masked) and origin.", config_schema), get(config))
        .add(reload, post(reload_config))
        .with_state(ctx)
}

pub(crate) fn message_schema() -> Value {
    json!({"type": "object", "properties": {"message": {"type": "string", "description": "What was done, in words."}}})
}

pub(crate) fn object_schema() -> Value {
    json!({"type": "object"})
}

fn services_schema() -> Value {
    json!({"type": "object", "properties": {"services": {"type": "array", "items": {"type": "object", "properties": {
        "name": {"type": "string"}, "state": {"type": "string"}, "critical": {"type": "boolean"},
        "pid": {"type": "integer", "nullable": true}, "restarts": {"type": "integer"},
        "uptime_secs": {"type": "integer", "nullable": true}, "last_exit": {"type": "string", "nullable": true},
        "heartbeat_age_ms": {"type": "integer", "nullable": true}
    }}}}})
}

fn recommendations_schema() -> Value {
    json!({"type": "object", "properties": {
        "pending": {"type": "array", "items": {"type": "object"}, "description": "Waiting for an operator (or automatic), as in the report."},
        "recent": {"type": "array", "items": {"type": "object"}, "description": "The last decided, newest first."}
    }})
}

pub(crate) fn kill_state_schema() -> Value {
    json!({"type": "object", "properties": {
        "requested": {"type": "boolean", "description": "KILL_SWITCH is there (a request the engine engages)."},
        "engaged": {"type": "boolean", "nullable": true, "description": "The engine's journaled switch, as its last heartbeat says."},
        "release_pending": {"type": "boolean"},
        "reason": {"type": "string", "nullable": true}, "flatten": {"type": "boolean", "nullable": true},
        "by": {"type": "string", "nullable": true}, "engaged_at": {"type": "string", "nullable": true}
    }})
}

fn config_schema() -> Value {
    json!({"type": "object", "properties": {
        "file": {"type": "string", "nullable": true}, "how": {"type": "string"},
        "settings": {"type": "array", "items": {"type": "object", "properties": {
            "section": {"type": "string"}, "key": {"type": "string"}, "value": {},
            "origin": {"type": "string", "description": "file:line:col, an environment variable, or the built-in default."}
        }}}
    }})
}

/// The actor the loop journals for `caller`.
pub fn actor(caller: &Caller) -> Actor {
    Actor {
        via: "api".into(),
        role: caller.role.map(|r| r.as_str().to_owned()),
        remote: caller.remote.map(|r| r.to_string()),
    }
}

/// `request` carried out by the loop, off the runtime's workers.
pub async fn call(
    surface: &Surface,
    caller: &Caller,
    request: Request,
) -> Result<Response, ApiError> {
    let surface = surface.clone();
    let actor = actor(caller);
    tokio::task::spawn_blocking(move || surface.call_as(actor, request))
        .await
        .map_err(|_| ApiError::internal("the control call was lost (its thread ended)"))
}

/// A `Done` answer as `{"message"}`; a refusal as its error.
fn done(r: Response) -> Answer {
    match r {
        Response::Done { message } => Ok(Json(json!({ "message": message }))),
        other => Err(refusal(other)),
    }
}

/// Any answer that is not the one asked for, as an error of its class.
pub(crate) fn refusal(r: Response) -> ApiError {
    match r {
        Response::Error { message, code } => match code
            .as_deref()
            .and_then(|c| ballast_supervisor::core::ControlError::from_code(c, message.clone()))
        {
            Some(e) => ApiError::from(e),
            None => ApiError::internal(message),
        },
        other => ApiError::internal(format!(
            "the supervisor answered with {} where another answer was expected",
            serde_json::to_value(&other)
                .ok()
                .and_then(|v| v.get("result").cloned())
                .unwrap_or(Value::Null)
        )),
    }
}

async fn health(State(ctx): State<Context>) -> Result<axum::response::Response, ApiError> {
    match ctx.surface.published.health() {
        Some(h) => Ok((
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            h.json.to_string(),
        )
            .into_response()),
        None => Err(ApiError::unavailable(
            "no health report yet: the first health cycle has not finished; try again in a second",
        )),
    }
}
async fn health_check(State(ctx): State<Context>, Extension(c): Extension<Caller>) -> Answer {
    match call(&ctx.surface, &c, Request::HealthCheck).await? {
        Response::Health { report } => Ok(Json(report.to_value())),
        other => Err(refusal(other)),
    }
}

async fn status(ctx: &Context, c: &Caller) -> Result<Response, ApiError> {
    match call(&ctx.surface, c, Request::Status).await? {
        r @ Response::Status { .. } => Ok(r),
        other => Err(refusal(other)),
    }
}

async fn services(State(ctx): State<Context>, Extension(c): Extension<Caller>) -> Answer {
    match status(&ctx, &c).await? {
        Response::Status { services, .. } => Ok(Json(json!({ "services": services }))),
        _ => Err(ApiError::internal("unreachable")),
    }
}

async fn restart(
    State(ctx): State<Context>,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
) -> Answer {
    done(call(&ctx.surface, &c, Request::Restart { service: name }).await?)
}

async fn reset(
    State(ctx): State<Context>,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
) -> Answer {
    done(call(&ctx.surface, &c, Request::Reset { service: name }).await?)
}

async fn disable(
    State(ctx): State<Context>,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
) -> Answer {
    done(call(&ctx.surface, &c, Request::Disable { name }).await?)
}

async fn enable(
    State(ctx): State<Context>,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
) -> Answer {
    done(call(&ctx.surface, &c, Request::Enable { name }).await?)
}

async fn approve(
    State(ctx): State<Context>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> Answer {
    done(call(&ctx.surface, &c, Request::Approve { id }).await?)
}

async fn reject(
    State(ctx): State<Context>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> Answer {
    done(call(&ctx.surface, &c, Request::Reject { id }).await?)
}

/// The newest report's value, or 503 before the first.
fn report(ctx: &Context) -> Result<Value, ApiError> {
    ctx.surface
        .published
        .health()
        .and_then(|h| serde_json::from_str::<Value>(&h.json).ok())
        .ok_or_else(|| {
            ApiError::unavailable(
                "no health report yet: the first health cycle has not finished; try again in a second",
            )
        })
}

async fn recommendations(State(ctx): State<Context>) -> Answer {
    let r = report(&ctx)?;
    Ok(Json(json!({
        "pending": r.get("recommendations").cloned().unwrap_or(json!([])),
        "recent": r.get("decided").cloned().unwrap_or(json!([])),
    })))
}

async fn policy(State(ctx): State<Context>) -> Answer {
    let r = report(&ctx)?;
    let mut p = r.get("policy").cloned().unwrap_or(Value::Null);
    if let Value::Object(o) = &mut p {
        o.insert(
            "trading_allowed".into(),
            r.get("trading_allowed").cloned().unwrap_or(Value::Null),
        );
        o.insert("at".into(), r.get("at").cloned().unwrap_or(Value::Null));
    } else {
        // Before the first cycle: the pending form's policy alone.
        p = json!({ "policy": p });
    }
    Ok(Json(p))
}

async fn kill_state(State(ctx): State<Context>) -> Answer {
    let layout = ctx.layout.clone();
    let state = tokio::task::spawn_blocking(move || {
        ballast_supervisor::health::kill_switch_state(layout.root())
    })
    .await
    .map_err(|_| ApiError::internal("reading the kill switch's files was lost"))?;
    Ok(Json(state))
}

/// The body of `POST /v1/kill-switch` (the supervisor's and the standalone engine's).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KillBody {
    pub(crate) reason: String,
    #[serde(default)]
    pub(crate) flatten: bool,
}

pub(crate) fn kill_body_schema() -> Value {
    json!({"type": "object", "required": ["reason"], "properties": {
        "reason": {"type": "string", "description": "Why, in words (journaled)."},
        "flatten": {"type": "boolean", "description": "Also close every position at market (default false)."}
    }})
}

/// The kill switch's reason of `body`, checked by the one rule (`ballast kill` and the
/// supervisor's control socket use it too): not empty, bounded, no control character.
pub(crate) fn kill_reason(body: &KillBody) -> Result<String, ApiError> {
    ballast_core::engine::kill_switch::check_reason(&body.reason)
        .map_err(|why| ApiError::invalid("reason", why))
}

async fn engage(
    State(ctx): State<Context>,
    Extension(c): Extension<Caller>,
    Json(body): Json<KillBody>,
) -> Answer {
    let reason = kill_reason(&body)?;
    done(
        call(
            &ctx.surface,
            &c,
            Request::Kill {
                reason,
                flatten: body.flatten,
                by: "api".to_owned(),
            },
        )
        .await?,
    )
}

async fn release(State(ctx): State<Context>, Extension(c): Extension<Caller>) -> Answer {
    use ballast_core::Clock;
    let layout = ctx.layout.clone();
    let by = match c.remote {
        Some(r) => format!("api operator from {r}"),
        None => "api operator".to_owned(),
    };
    let released = tokio::task::spawn_blocking(move || {
        let now = ballast_store::SystemClock.now();
        ballast_supervisor::health::release_kill_switch(layout.root(), &by, now)
    })
    .await
    .map_err(|_| ApiError::internal("writing the release was lost"))?
    .map_err(ApiError::internal)?;
    let policy = release_policy(&ctx, &c).await.map_err(|mut e| {
        e.message = format!(
            "the kill switch's release is written ({}), but the safety policy stays: {}",
            released.token_path.display(),
            e.message
        );
        e
    })?;
    Ok(Json(json!({
        "released": true,
        "requested": released.requested,
        "release_file": released.token_path.display().to_string(),
        "message": "the release is written; the engine journals it and trading resumes on its next loop",
        "policy": policy,
    })))
}

/// Leave EMERGENCY_SHUTDOWN once the engine has taken the release: asked again within a
/// bound (the engine takes it on its next loop), as `ballast resume` does.
async fn release_policy(ctx: &Context, c: &Caller) -> Result<String, ApiError> {
    let deadline = tokio::time::Instant::now() + RELEASE_TAKEN_WITHIN;
    loop {
        match call(&ctx.surface, c, Request::Release).await? {
            Response::Done { message } => return Ok(message),
            Response::Error { message, .. }
                if message.contains(ballast_core::policy::KILL_SWITCH_STILL_ENGAGED)
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(RELEASE_POLL).await;
            }
            other => return Err(refusal(other)),
        }
    }
}

/// How long a release waits for the engine to take it before answering.
pub const RELEASE_TAKEN_WITHIN: std::time::Duration = std::time::Duration::from_secs(15);
const RELEASE_POLL: std::time::Duration = std::time::Duration::from_millis(200);

async fn config(State(ctx): State<Context>) -> Answer {
    let f = std::sync::Arc::clone(&ctx.config);
    let v = tokio::task::spawn_blocking(move || f())
        .await
        .map_err(|_| ApiError::internal("reading the configuration was lost"))?;
    Ok(Json(v))
}

#[derive(Debug, Deserialize)]
struct ReloadQuery {
    #[serde(default)]
    dry_run: bool,
}

async fn reload_config(
    State(ctx): State<Context>,
    Extension(c): Extension<Caller>,
    Query(q): Query<ReloadQuery>,
) -> Answer {
    match call(&ctx.surface, &c, Request::Reload { dry_run: q.dry_run }).await? {
        Response::Reload(answer) => match reload_refusal(&answer).filter(|_| !q.dry_run) {
            Some(e) => Err(e),
            None => Ok(Json(serde_json::to_value(*answer).unwrap_or(Value::Null))),
        },
        other => Err(refusal(other)),
    }
}

/// A reload that changed nothing because it could not (the file is invalid: 422; a key needs a
/// restart: 409; carrying it out failed: 500) is an error with its reasons, never a 200; a
/// plan (a dry run, whatever it found) or an applied reload is the answer.
fn reload_refusal(answer: &ballast_supervisor::control::ReloadAnswer) -> Option<ApiError> {
    let (status, code, reasons) = match answer.outcome.as_str() {
        "invalid" => (422, "invalid_config", &answer.errors),
        "refused" => (409, "refused", &answer.refused),
        "failed" => (500, "failed", &answer.errors),
        _ => return None,
    };
    let mut message = answer.message.clone();
    let said = reasons.iter().all(|r| message.contains(r.as_str()));
    if !reasons.is_empty() && !said {
        message = format!("{message}: {}", reasons.join("; "));
    }
    Some(ApiError::new(status, code, message))
}
