//! The fake's HTTP shell: the router, and the gate every Alpaca route passes — the request log,
//! the auth headers (401 `{"message": "unauthorized"}`), the rate limit (429 beyond it, the
//! `X-RateLimit-*` headers on every authenticated answer) and the scripted faults. The
//! handlers are in `routes.rs`, `bars.rs` and `control.rs`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;

use crate::book::Book;
use crate::clock::{self, EventClock, Micros};
use crate::conn::Conn;
use crate::faults::{FaultQueue, Plan, Route, Scripted};
use crate::ratelimit::{RateVerdict, RateWindow};
use crate::wire::{self, AccountId};
use crate::{Seen, activities, bars, control, routes};

/// The request log keeps the latest this many requests (older ones are dropped and counted).
pub const MAX_LOGGED_REQUESTS: usize = 20_000;
/// A request body larger than this is refused 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// An answer read back to apply a schema-drift fault is at most this large.
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// Everything the handlers share.
pub struct Shared {
    pub key_id: String,
    pub secret_key: String,
    pub rate_limit_per_min: u32,
    pub started_us: Micros,
    state: Mutex<Inner>,
}

/// The mutable part, behind one lock (never held across an await).
pub struct Inner {
    pub book: Book,
    pub faults: FaultQueue,
    pub clock: EventClock,
    pub account: AccountId,
    rate: HashMap<String, RateWindow>,
    log: VecDeque<Seen>,
    pub log_dropped: u64,
}

impl Shared {
    pub fn new(cfg: &crate::FakeConfig, book: Book, account: AccountId) -> Shared {
        Shared {
            key_id: cfg.key_id.clone(),
            secret_key: cfg.secret_key.clone(),
            rate_limit_per_min: cfg.rate_limit_per_min,
            started_us: clock::wall_us(),
            state: Mutex::new(Inner {
                book,
                faults: FaultQueue::default(),
                clock: EventClock::default(),
                account,
                rate: HashMap::new(),
                log: VecDeque::new(),
                log_dropped: 0,
            }),
        }
    }

    /// The state (a panicked holder's state is still used: it is a test fake).
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Inner {
    pub fn requests(&self) -> Vec<Seen> {
        self.log.iter().cloned().collect()
    }

    /// The requests after the first `seen` ever logged, and the count ever logged (those
    /// already dropped from the log are skipped).
    pub fn requests_after(&self, seen: u64) -> (Vec<Seen>, u64) {
        let total = self.log_dropped + self.log.len() as u64;
        let skip = seen.saturating_sub(self.log_dropped);
        let skip = usize::try_from(skip).unwrap_or(usize::MAX);
        (self.log.iter().skip(skip).cloned().collect(), total)
    }

    fn record(&mut self, seen: Seen) {
        if self.log.len() >= MAX_LOGGED_REQUESTS {
            self.log.pop_front();
            self.log_dropped += 1;
        }
        self.log.push_back(seen);
    }
}

/// The whole router.
pub fn router(shared: Arc<Shared>) -> Router {
    let alpaca = Router::new()
        .route("/v2/account", get(routes::account))
        .route("/v2/positions", get(routes::positions))
        .route(
            "/v2/orders",
            get(routes::list_orders)
                .post(routes::submit)
                .delete(routes::cancel_all),
        )
        .route("/v2/orders:by_client_order_id", get(routes::by_client_id))
        .route(
            "/v2/orders/{id}",
            get(routes::get_order).delete(routes::cancel),
        )
        .route("/v2/clock", get(routes::clock))
        .route("/v2/account/activities", get(activities::activities))
        .route(
            "/v2/account/activities/{activity_type}",
            get(activities::activities_of),
        )
        .route(
            "/v2/positions/{symbol}",
            get(routes::position).delete(routes::close_position),
        )
        .route("/v2/stocks/bars", get(bars::bars))
        .fallback(routes::not_found)
        .layer(middleware::from_fn_with_state(shared.clone(), gate));
    let fake = Router::new()
        .route("/_fake/counts", get(control::counts))
        .route("/_fake/tick", post(control::tick))
        .route(
            "/_fake/fault",
            post(control::fault).delete(control::clear_faults),
        )
        .route("/_fake/position", post(control::position))
        .route("/_fake/foreign_order", post(control::foreign_order));
    fake.merge(alpaca).with_state(shared)
}

/// Which fault route a request is on.
fn route_of(method: &Method, path: &str) -> Route {
    match (method.as_str(), path) {
        ("POST", "/v2/orders") => Route::SubmitOrder,
        ("GET", "/v2/orders") => Route::ListOrders,
        ("DELETE", "/v2/orders") => Route::CancelAll,
        ("GET", "/v2/orders:by_client_order_id") => Route::OrderByClientId,
        ("GET", p) if p.starts_with("/v2/orders/") => Route::GetOrder,
        ("DELETE", p) if p.starts_with("/v2/orders/") => Route::CancelOrder,
        ("GET", "/v2/account") => Route::Account,
        ("GET", p) if p.starts_with("/v2/positions") => Route::Positions,
        ("GET", "/v2/clock") => Route::Clock,
        ("GET", "/v2/stocks/bars") => Route::Bars,
        _ => Route::Any,
    }
}

fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The gate of every Alpaca route (see the module doc).
pub async fn gate(
    State(s): State<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<Conn>,
    req: Request,
    next: Next,
) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let route = route_of(&method, &path);
    let authed = header(&req, "apca-api-key-id") == Some(s.key_id.as_str())
        && header(&req, "apca-api-secret-key") == Some(s.secret_key.as_str());
    let mut seen = Seen {
        at_ms: u64::try_from(clock::ms(clock::wall_us() - s.started_us)).unwrap_or(0),
        method: method.to_string(),
        path,
        status: 0,
    };
    // Counted whatever the answer, a 401 included.
    let req = if route == Route::SubmitOrder {
        match count_submit(&s, req).await {
            Ok(req) => req,
            Err(too_large) => {
                let resp = if authed { too_large } else { unauthorized() };
                seen.status = resp.status().as_u16();
                s.lock().record(seen);
                return resp;
            }
        }
    } else {
        req
    };
    if !authed {
        let resp = unauthorized();
        seen.status = 401;
        s.lock().record(seen);
        return resp;
    }
    let (verdict, plan) = {
        let mut inner = s.lock();
        let v = inner
            .rate
            .entry(s.key_id.clone())
            .or_default()
            .hit(clock::wall_us(), s.rate_limit_per_min);
        let plan = if v.allowed {
            inner.faults.take(route)
        } else {
            Plan::default()
        };
        (v, plan)
    };
    let resp = if !verdict.allowed {
        let mut r = json(
            StatusCode::TOO_MANY_REQUESTS,
            wire::error(42910000, "rate limit exceeded"),
        );
        set(&mut r, "retry-after", &verdict.retry_after_s.to_string());
        r
    } else if plan.drop_before {
        conn.drop_connection();
        s.lock().record(seen);
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    } else if let Some(sc) = &plan.status {
        scripted(sc, &verdict)
    } else {
        let resp = next.run(req).await;
        if route == Route::SubmitOrder
            && resp.status() == StatusCode::OK
            && s.lock().faults.take_drop_after_accept()
        {
            conn.drop_connection();
            s.lock().record(seen);
            return resp;
        }
        let resp = drift(resp, &plan).await;
        if plan.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(plan.delay_ms)).await;
        }
        resp
    };
    let mut resp = resp;
    if plan.status.is_none() {
        for (k, v) in RateWindow::headers(&verdict) {
            set(&mut resp, k, &v);
        }
    }
    seen.status = resp.status().as_u16();
    s.lock().record(seen);
    resp
}

/// 401 as Alpaca answers it: a message, no code.
fn unauthorized() -> Response {
    json(
        StatusCode::UNAUTHORIZED,
        serde_json::json!({"message": "unauthorized"}),
    )
}

/// Count a submit by the `client_order_id` in its body, whatever happens next (a fault, a
/// refusal): the body is read (at most [`MAX_BODY_BYTES`], else 413) and put back.
async fn count_submit(s: &Shared, req: Request) -> Result<Request, Response> {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| crate::routes::too_large())?;
    if let Ok(v) = serde_json::from_slice::<Value>(&bytes) {
        if let Some(id) = v.get("client_order_id").and_then(Value::as_str) {
            s.lock().book.count_submit(id);
        }
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// A scripted status answer: the rate headers, then the fault's own headers over them.
fn scripted(sc: &Scripted, v: &RateVerdict) -> Response {
    let code = StatusCode::from_u16(sc.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut r = (code, sc.body.clone()).into_response();
    set(&mut r, "content-type", "application/json");
    for (k, val) in RateWindow::headers(v) {
        set(&mut r, k, &val);
    }
    for (k, val) in &sc.headers {
        set(&mut r, k, val);
    }
    r
}

fn set(r: &mut Response, name: &str, value: &str) {
    if let (Ok(n), Ok(v)) = (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    ) {
        r.headers_mut().insert(n, v);
    }
}

/// Apply schema drift to a JSON answer: remove each missing field, and set each enum field
/// (where it holds a string), in every object of the answer.
async fn drift(resp: Response, plan: &Plan) -> Response {
    if plan.missing.is_empty() && plan.enums.is_empty() {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ANSWER_BYTES).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let Ok(mut value) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    edit(&mut value, plan);
    let text = serde_json::to_vec(&value).unwrap_or_default();
    let mut r = Response::from_parts(parts, Body::from(text));
    r.headers_mut().remove("content-length");
    r
}

fn edit(v: &mut Value, plan: &Plan) {
    match v {
        Value::Object(map) => {
            for f in &plan.missing {
                map.remove(f);
            }
            for (f, val) in &plan.enums {
                if let Some(slot) = map.get_mut(f).filter(|s| s.is_string()) {
                    *slot = Value::String(val.clone());
                }
            }
            map.values_mut().for_each(|c| edit(c, plan));
        }
        Value::Array(items) => items.iter_mut().for_each(|c| edit(c, plan)),
        _ => {}
    }
}

/// A JSON answer.
pub fn json(status: StatusCode, v: Value) -> Response {
    (status, axum::Json(v)).into_response()
}
