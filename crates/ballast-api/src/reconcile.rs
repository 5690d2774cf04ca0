//! The reconciliation routes (issue 14 item 4): `GET /v1/reconciliation` (a viewer may read
//! it) — the latest run with each dangerous difference as a diff and its choices, with the
//! command of each — and `POST /v1/reconciliation/{finding}/{choice}` (an operator only; body
//! `{"reason": "…", "seen": {…}}`; `choice` is `adopt`, `flatten` or `stay`; `seen`: the
//! finding's quantities as the caller saw them, from the list's `seen`): judged on the newest
//! report first (an unknown finding 404, a choice it does not offer 422, a finding that changed
//! since what the caller saw 409), then handed to the
//! supervisor's loop (`Request::Reconcile`), which writes it for the engine.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Extension, Json};
use ballast_core::resolve::{self, Refusal};
use ballast_store::files::health::HealthFile;
use ballast_supervisor::control::{Request, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{Access, ApiError, Caller, Context, RouteDoc, Routes};

pub fn routes(ctx: Context) -> Routes {
    let mut list = RouteDoc::new(
        "GET",
        "/v1/reconciliation",
        "The latest reconciliation with the broker: each dangerous difference (what Ballast believes, what the broker says, the fills that would explain it) with its choices and the command of each; the queries that failed; the last choice the engine refused.",
    );
    list.answer = Some(view_schema);
    let mut choose = RouteDoc::new(
        "POST",
        "/v1/reconciliation/{finding}/{choice}",
        "Make an operator's choice about an open finding (its id URL-encoded, or its symbol): adopt (the broker's view), flatten (close the broker's position) or stay (halted). 404 for a finding that is not open, 422 for a choice it does not offer, 409 when the finding changed since what the body's `seen` says (the engine refuses it too); the engine journals it (reconcile.resolve) at its next pass.",
    );
    choose.access = Access::Operator;
    choose.body = Some(reason_schema);
    choose.answer = Some(crate::control::message_schema);
    Routes::<Context>::default()
        .add(list, get(list_handler))
        .add(choose, post(choose_handler))
        .with_state(ctx)
}

fn view_schema() -> Value {
    json!({"type": "object", "properties": {
        "broker": {"type": "string"},
        "at": {"type": "string", "nullable": true, "description": "The latest run (null: none yet)."},
        "startup": {"type": "boolean", "nullable": true},
        "findings": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "string"}, "kind": {"type": "string"}, "symbol": {"type": "string", "nullable": true},
            "ours": {"type": "string", "description": "What Ballast believes."},
            "theirs": {"type": "string", "description": "What the broker says."},
            "explaining": {"type": "array", "items": {"type": "string"}, "description": "The fills that would explain it."},
            "choices": {"type": "array", "items": {"type": "string"}},
            "said": {"type": "string"},
            "commands": {"type": "object", "description": "Each choice's command."},
            "effects": {"type": "object", "description": "What each choice does."}
        }}},
        "unanswered": {"type": "array", "items": {"type": "string"}},
        "choice_refused": {"type": "string", "nullable": true},
        "can_choose": {"type": "boolean", "description": "Whether the caller's token may make a choice (the operator's)."}
    }})
}

fn reason_schema() -> Value {
    json!({"type": "object", "required": ["reason"], "properties": {
        "reason": {"type": "string", "description": "Why, in words (journaled with the choice): one line, at most 500 characters."},
        "seen": {"type": "object", "description": "The finding as the caller saw it (the list's `seen`: local_qty, venue_qty, venue_order): the choice is refused when the finding changed since. Absent: bound to the newest report's finding.", "properties": {
            "local_qty": {"type": "string", "nullable": true},
            "venue_qty": {"type": "string", "nullable": true},
            "venue_order": {"type": "string", "nullable": true}
        }}
    }})
}

/// The engine's venue report in the newest health report (503 before one, or before the
/// engine reported).
fn venue(ctx: &Context) -> Result<ballast_core::engine::VenueReport, ApiError> {
    let snap = ctx.surface.published.health().ok_or_else(|| {
        ApiError::unavailable(
            "no health report yet: the first health cycle has not finished; try again in a second",
        )
    })?;
    match &snap.report {
        HealthFile::Report(r) => r.engine.as_ref().map(|e| e.venue.clone()).ok_or_else(|| {
            ApiError::unavailable(
                "the engine has not reported yet: its reconciliation is not known (`ballast status` says why it is not running)",
            )
        }),
        HealthFile::Pending(_) => Err(ApiError::unavailable(
            "no health report yet: the first health cycle has not finished; try again in a second",
        )),
    }
}

async fn list_handler(
    State(ctx): State<Context>,
    Extension(c): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    let v = venue(&ctx)?;
    let mut answer = serde_json::to_value(resolve::view(&v)).unwrap_or(Value::Null);
    // Whether this caller may make a choice (the dashboard shows the buttons to an operator).
    answer["can_choose"] = json!(c.role == Some(crate::auth::Role::Operator));
    Ok(Json(answer))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReasonBody {
    pub(crate) reason: String,
    #[serde(default)]
    pub(crate) seen: Option<ballast_core::reconcile::Seen>,
}

/// The path's choice word, as the route reads it.
pub(crate) fn parse_choice(choice: &str) -> Result<ballast_core::reconcile::Choice, ApiError> {
    resolve::parse(choice).ok_or_else(|| {
        ApiError::invalid(
            "choice",
            format!("{choice:?} is not a choice: adopt, flatten or stay"),
        )
    })
}

/// The body's reason, checked by the reconciliation's rule.
pub(crate) fn checked_reason(reason: &str) -> Result<String, ApiError> {
    resolve::check_reason(reason).map_err(|r| ApiError::invalid("reason", r.message().to_owned()))
}

async fn choose_handler(
    State(ctx): State<Context>,
    Extension(c): Extension<Caller>,
    Path((finding, choice)): Path<(String, String)>,
    Json(body): Json<ReasonBody>,
) -> Result<Json<Value>, ApiError> {
    let choice = parse_choice(&choice)?;
    let reason = checked_reason(&body.reason)?;
    let v = venue(&ctx)?;
    let findings = v
        .reconcile
        .as_ref()
        .map_or(&[][..], |r| r.findings.as_slice());
    let seen = match resolve::pick(findings, &finding, choice) {
        Ok(f) => match body.seen {
            None => ballast_core::reconcile::Seen::of(f),
            Some(seen) => match ballast_core::reconcile::changed_since(&seen, f) {
                None => seen,
                Some(why) => return Err(ApiError::new(409, "conflict", why)),
            },
        },
        Err(Refusal::NotFound(m)) => return Err(ApiError::not_found(m)),
        Err(r) => return Err(ApiError::invalid("choice", r.message().to_owned())),
    };
    let by = match c.remote {
        Some(r) => format!("api operator from {r}"),
        None => "api operator".to_owned(),
    };
    let request = Request::Reconcile {
        finding,
        choice,
        reason,
        by,
        seen: Some(seen),
    };
    match crate::control::call(&ctx.surface, &c, request).await? {
        Response::Done { message } => Ok(Json(json!({ "message": message }))),
        other => Err(crate::control::refusal(other)),
    }
}
