//! Ballast's operator surfaces over HTTP (SPEC §8): the API, the dashboard, Prometheus metrics
//! and server-sent events, served by `ballast run` for the supervisor and by `ballast engine
//! --standalone` for its own part.
//!
//! Everything here reads typed views and sends typed control inputs: control requests go to
//! the supervisor's loop through [`ballast_supervisor::surface::Surface`] — the control socket's
//! path, one implementation — and the engine's state is read from its journal, the source of
//! truth, never from a second copy. Every error is an [`ApiError`], rendered at one boundary.
//!
//! [`app`] is the whole application: each module's [`Routes`] merged (one line each), then
//! [`finish`] adds `/openapi.json`, the role check of every route's [`routes::Access`], the
//! limits and the one error shape. [`engine::engine_app`] is `ballast engine --standalone`'s:
//! the engine's own part (probes from its heartbeat, metrics, status, kill switch, views)
//! through the same [`finish`], with no supervisor behind it.

#![forbid(unsafe_code)]

pub mod auth;
pub mod bind;
pub mod bodies;
pub mod control;
pub mod dashboard;
pub mod engine;
pub mod error;
pub mod events;
pub mod follow;
pub mod metrics;
pub mod openapi;
pub mod page;
pub mod probes;
pub mod reconcile;
pub mod routes;
pub mod serve;
pub mod signals;
pub mod views;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use ballast_supervisor::surface::Surface;

pub use error::ApiError;
pub use routes::{Access, Param, RouteDoc, Routes};

/// The largest request body taken (a larger one is answered 413).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// How long one request may take to be answered (its headers; a stream such as `/v1/events`
/// then goes on): past it, 503. Above the control socket's own timeout, so a slow
/// supervisor's answer is its own words, not this.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(25);
/// The largest error body of axum's own (a rejection) kept in the message.
const MAX_REJECTION_BYTES: usize = 2048;

/// What the API's modules are built from.
#[derive(Clone)]
pub struct Context {
    /// The supervisor's handle: published health, control through its loop.
    pub surface: Surface,
    /// The data directory.
    pub layout: ballast_store::Layout,
    pub tokens: Arc<auth::Tokens>,
    /// The effective configuration as `ballast config show --json` prints it (secrets masked,
    /// each value's origin), read when asked.
    pub config: Arc<dyn Fn() -> serde_json::Value + Send + Sync>,
    /// `journal/signals/` opened for `POST/GET /v1/signals` ([`signals::SignalsState::open`];
    /// `None`: the signals routes are not served).
    pub signals: Option<signals::SignalsState>,
    /// The health cycle's period (`[health] cycle_ms`): `/livez` allows a few of them.
    pub cycle: Duration,
    /// `/metrics` on this listener (`[api] metrics_port = 0`); `None` when a separate
    /// listener serves it.
    pub metrics: Option<metrics::Metrics>,
    /// The read-only follower of the engine's journal (the engine views and `/v1/events`):
    /// `follow::Follower::start` on the data directory, with the supervisor's published
    /// health (`surface.published`).
    pub follower: Arc<follow::Follower>,
}

/// A response extension: the answer is what it says (a probe's plain text), not an error to
/// re-render in the one shape.
#[derive(Debug, Clone, Copy)]
pub struct KeepBody;

/// The whole application: every module's routes, then [`finish`].
pub fn app(ctx: &Context) -> Router {
    finish(app_routes(ctx), Arc::clone(&ctx.tokens))
}

/// Every module's routes, merged (each further module is one line here).
pub fn app_routes(ctx: &Context) -> Routes {
    let routes = Routes::default()
        .merge(probes::routes(ctx.clone()))
        .merge(control::routes(ctx.clone()))
        .merge(reconcile::routes(ctx.clone()))
        .merge(dashboard::routes())
        .merge(engine_routes(Arc::clone(&ctx.follower)));
    let routes = match &ctx.signals {
        Some(s) => routes.merge(signals::routes(s.clone())),
        None => routes,
    };
    match &ctx.metrics {
        Some(m) => routes.merge(metrics::routes(m.clone())),
        None => routes,
    }
}

/// The engine views and `/v1/events` of one follower, in one table (`ballast run`'s [`app`];
/// `ballast engine --standalone` merges it into its own).
pub fn engine_routes(follower: Arc<follow::Follower>) -> Routes {
    views::routes(Arc::clone(&follower)).merge(events::routes(follower))
}

/// `routes` served: `/openapi.json` (from every route's documentation), each route's role
/// check, the body limit and the request timeout, and every error — axum's own rejections, a
/// 404, a 405 — in the one shape.
pub fn finish(routes: Routes, tokens: Arc<auth::Tokens>) -> Router {
    let routes = openapi::add(routes);
    let gate = Arc::new(Gate::new(&routes.docs, tokens));
    routes
        .router
        .route_layer(middleware::from_fn_with_state(gate, check_role))
        .fallback(|req: Request| async move {
            ApiError::not_found(format!(
                "no route {} {}: /openapi.json lists every route",
                req.method(),
                req.uri().path()
            ))
        })
        .method_not_allowed_fallback(|req: Request| async move {
            ApiError::new(
                405,
                "method_not_allowed",
                format!(
                    "{} does not take {}: /openapi.json lists the methods of every route",
                    req.uri().path(),
                    req.method()
                ),
            )
        })
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(in_time))
        .layer(middleware::from_fn(one_shape))
}

/// The caller of a request, for handlers (`Extension<Caller>`): its role (none on an open
/// route without a token) and its address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub role: Option<auth::Role>,
    pub remote: Option<std::net::SocketAddr>,
}

/// The access of every documented route, by method and path.
struct Gate {
    /// Each route's access and the query parameters it documents.
    access: HashMap<(Method, &'static str), (Access, &'static [routes::Param])>,
    tokens: Arc<auth::Tokens>,
}

impl Gate {
    fn new(docs: &[RouteDoc], tokens: Arc<auth::Tokens>) -> Gate {
        let access = docs
            .iter()
            .filter_map(|d| {
                Some((
                    (Method::from_bytes(d.method.as_bytes()).ok()?, d.path),
                    (d.access, d.query),
                ))
            })
            .collect();
        Gate { access, tokens }
    }

    /// The access of `method` on `path`: its route's; HEAD as GET's. (A method the path
    /// does not take is answered 405 before any check: the paths and their methods are
    /// public, in `/openapi.json`.)
    fn access(&self, method: &Method, path: &str) -> (Access, &'static [routes::Param]) {
        let method = if method == Method::HEAD {
            Method::GET
        } else {
            method.clone()
        };
        self.access
            .get(&(method, path))
            .copied()
            .unwrap_or((Access::Viewer, &[]))
    }
}

/// A query parameter the route does not document, refused before the route runs — a typo
/// (`?dryrun=true`) is never silently read as its absence.
fn unknown_query(query: Option<&str>, documented: &[routes::Param]) -> Option<ApiError> {
    let query = query?;
    let name = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').map_or(p, |(k, _)| k))
        .find(|k| !documented.iter().any(|d| d.name == *k))?;
    let known = documented.iter().map(|d| d.name).collect::<Vec<_>>();
    let mut e = ApiError::bad_request(format!(
        "unknown query parameter {:?}: this route takes {}",
        name.chars().take(64).collect::<String>(),
        if known.is_empty() {
            "none".to_owned()
        } else {
            known.join(", ")
        }
    ));
    e.field = Some(name.chars().take(64).collect());
    Some(e)
}

/// The remote address of a connection, as the server hands it (see [`serve`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remote(pub std::net::SocketAddr);

async fn check_role(State(gate): State<Arc<Gate>>, mut req: Request, next: Next) -> Response {
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let (access, documented) = gate.access(req.method(), &path);
    match auth::authorize(access, auth::bearer(req.headers()), &gate.tokens) {
        Err(e) => e.into_response(),
        Ok(role) => {
            if let Some(e) = unknown_query(req.uri().query(), documented) {
                return e.into_response();
            }
            let remote = req.extensions().get::<ConnectInfo<Remote>>().map(|c| c.0.0);
            req.extensions_mut().insert(Caller { role, remote });
            next.run(req).await
        }
    }
}

async fn in_time(req: Request, next: Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(req)).await {
        Ok(r) => r,
        Err(_) => ApiError::unavailable(format!(
            "no answer within {} s (the request timeout): the supervisor may be busy; try again, and see `ballast logs supervisor`",
            REQUEST_TIMEOUT.as_secs()
        ))
        .into_response(),
    }
}

/// Every error answer in the one JSON shape: an error of axum's own (a body it could not
/// read, a body too large) is re-rendered with its words; ours pass as they are.
async fn one_shape(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    if response.extensions().get::<KeepBody>().is_some() {
        return response;
    }
    let status = response.status();
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || json {
        return response;
    }
    let body = axum::body::to_bytes(response.into_body(), MAX_REJECTION_BYTES)
        .await
        .unwrap_or_default();
    let words = String::from_utf8_lossy(&body).trim().to_owned();
    let (code, message) = match status.as_u16() {
        413 => (
            "too_large",
            format!("the request body is over {MAX_BODY_BYTES} bytes (the limit); send less"),
        ),
        415 => (
            "unsupported_media_type",
            format!("{words}: send `Content-Type: application/json`"),
        ),
        422 => ("invalid", words),
        400 => ("bad_request", words),
        _ if words.is_empty() => (
            "error",
            status.canonical_reason().unwrap_or("error").to_owned(),
        ),
        _ => ("error", words),
    };
    let (field, message) = plain_words(&message);
    let mut e = ApiError::new(status.as_u16(), code, message);
    e.field = field;
    e.into_response()
}

/// A body rejection of axum's in words a person reads: the field it names (serde's path,
/// `flatten: invalid type …`) as the error's `field`, and no Rust type names (`expected struct
/// KillBody with 2 elements` is "expected a JSON object").
fn plain_words(message: &str) -> (Option<String>, String) {
    const INTO: &str = "into the target type: ";
    let Some(at) = message.find(INTO) else {
        return (None, message.to_owned());
    };
    let (head, rest) = message.split_at(at + INTO.len());
    let (field, detail) = match rest.split_once(": ") {
        Some((path, detail))
            if !path.is_empty()
                && path
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']')) =>
        {
            (Some(path.to_owned()), detail)
        }
        _ => (None, rest),
    };
    let detail = match (detail.find("expected struct "), detail.find(" at line ")) {
        (Some(s), end) => {
            let tail = end.map(|e| &detail[e..]).unwrap_or("");
            format!("{}expected a JSON object{tail}", &detail[..s])
        }
        _ => detail.to_owned(),
    };
    let head = head.trim_end_matches(INTO).trim_end();
    let message = match &field {
        Some(f) => format!("{head}: {f}: {detail}"),
        None => format!("{head}: {detail}"),
    };
    (field, message)
}

#[cfg(test)]
mod words_tests {
    use super::plain_words;

    #[test]
    fn a_rejection_names_its_field_and_no_rust_type() {
        let (f, m) = plain_words(
            "Failed to deserialize the JSON body into the target type: flatten: invalid type: string \"yes\", expected a boolean at line 1 column 17",
        );
        assert_eq!(f.as_deref(), Some("flatten"));
        assert!(m.contains("flatten: invalid type"), "{m}");
        let (f, m) = plain_words(
            "Failed to deserialize the JSON body into the target type: invalid type: sequence, expected struct KillBody with 2 elements at line 1 column 2",
        );
        assert_eq!(f, None);
        assert!(!m.contains("KillBody"), "{m}");
        assert!(
            m.contains("expected a JSON object at line 1 column 2"),
            "{m}"
        );
        assert_eq!(plain_words("other words").1, "other words");
    }
}
