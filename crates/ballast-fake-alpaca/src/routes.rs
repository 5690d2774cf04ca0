//! The Trading API v2 handlers (ALPACA.md): one function per route.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::clock;
use crate::orders::{Order, Refusal, parse_submit};
use crate::server::{MAX_BODY_BYTES, Shared, json};
use crate::wire;

type Q = Query<HashMap<String, String>>;

/// The largest page of `GET /v2/orders`.
pub const ORDERS_LIMIT_MAX: usize = 500;
const ORDERS_LIMIT_DEFAULT: usize = 50;

pub fn refused(r: &Refusal) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
    json(status, wire::error(r.code, &r.message))
}

fn invalid(message: impl Into<String>) -> Response {
    refused(&Refusal::invalid(message))
}

fn order_not_found() -> Response {
    json(
        StatusCode::NOT_FOUND,
        wire::error(40410000, "order not found"),
    )
}

pub async fn not_found() -> Response {
    json(
        StatusCode::NOT_FOUND,
        wire::error(40410000, "endpoint not found"),
    )
}

pub async fn account(State(s): State<Arc<Shared>>) -> Response {
    let inner = s.lock();
    json(StatusCode::OK, wire::account(&inner.book, &inner.account))
}

pub async fn positions(State(s): State<Arc<Shared>>) -> Response {
    json(StatusCode::OK, wire::positions(&s.lock().book))
}

pub async fn clock(State(_s): State<Arc<Shared>>) -> Response {
    json(StatusCode::OK, wire::clock_now(clock::wall_us()))
}

/// 413: a request body over [`MAX_BODY_BYTES`].
pub fn too_large() -> Response {
    json(
        StatusCode::PAYLOAD_TOO_LARGE,
        wire::error(
            41300000,
            &format!("request body is too large: the limit is {MAX_BODY_BYTES} bytes"),
        ),
    )
}

/// Read a request body of at most [`MAX_BODY_BYTES`] as JSON (413 / 400 otherwise).
pub async fn read_json(body: Body) -> Result<Value, Response> {
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| too_large())?;
    serde_json::from_slice(&bytes).map_err(|_| {
        json(
            StatusCode::BAD_REQUEST,
            wire::error(40010000, "request body format is invalid"),
        )
    })
}

pub async fn submit(State(s): State<Arc<Shared>>, body: Body) -> Response {
    let value = match read_json(body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let mut inner = s.lock();
    // (counted by the gate, before any fault)
    let req = match parse_submit(&value) {
        Ok(r) => r,
        Err(r) => return refused(&r),
    };
    let now = inner.clock.next();
    match inner.book.submit(req, now) {
        Ok(o) => json(StatusCode::OK, wire::order(o)),
        Err(r) => refused(&r),
    }
}

pub async fn by_client_id(State(s): State<Arc<Shared>>, Query(q): Q) -> Response {
    let Some(id) = q.get("client_order_id") else {
        return invalid("client_order_id is required");
    };
    match s.lock().book.by_client_id(id) {
        Some(o) => json(StatusCode::OK, wire::order(o)),
        None => order_not_found(),
    }
}

pub async fn get_order(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    match s.lock().book.get(&id) {
        Some(o) => json(StatusCode::OK, wire::order(o)),
        None => order_not_found(),
    }
}

pub async fn cancel(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let mut inner = s.lock();
    let now = inner.clock.next();
    match inner.book.cancel(&id, now) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(r) => refused(&r),
    }
}

/// 207 with `[{id, status: 200, body: Order}]`, one per order cancelled.
pub async fn cancel_all(State(s): State<Arc<Shared>>) -> Response {
    let mut inner = s.lock();
    let now = inner.clock.next();
    let ids = inner.book.cancel_all(now);
    let items: Vec<Value> = ids
        .iter()
        .filter_map(|id| inner.book.get(id))
        .map(|o| json!({"id": o.id, "status": 200, "body": wire::order(o)}))
        .collect();
    json(StatusCode::MULTI_STATUS, Value::Array(items))
}

/// The filter of `GET /v2/orders`.
#[derive(Debug)]
struct Listing {
    status: String,
    limit: usize,
    after: Option<clock::Micros>,
    until: Option<clock::Micros>,
    ascending: bool,
    symbols: Option<Vec<String>>,
    side: Option<String>,
}

fn listing(q: &HashMap<String, String>) -> Result<Listing, Refusal> {
    let invalid = Refusal::invalid;
    let status = q.get("status").map_or("open", String::as_str).to_owned();
    if !matches!(status.as_str(), "open" | "closed" | "all") {
        return Err(invalid(format!(
            "invalid status {status:?}: open, closed or all"
        )));
    }
    let limit = match q.get("limit") {
        None => ORDERS_LIMIT_DEFAULT,
        Some(t) => match t.parse::<usize>() {
            Ok(n) if (1..=ORDERS_LIMIT_MAX).contains(&n) => n,
            _ => {
                return Err(invalid(format!(
                    "invalid limit {t:?}: between 1 and {ORDERS_LIMIT_MAX}"
                )));
            }
        },
    };
    let time = |k: &str| -> Result<Option<clock::Micros>, Refusal> {
        match q.get(k) {
            None => Ok(None),
            Some(t) => clock::parse(t)
                .map(Some)
                .ok_or_else(|| invalid(format!("invalid {k} {t:?}: an RFC 3339 timestamp"))),
        }
    };
    let ascending = match q.get("direction").map(String::as_str) {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(d) => return Err(invalid(format!("invalid direction {d:?}: asc or desc"))),
    };
    let side = q.get("side").cloned();
    if side.as_deref().is_some_and(|s| s != "buy" && s != "sell") {
        return Err(invalid("invalid side: buy or sell".into()));
    }
    let symbols = q.get("symbols").map(|s| {
        s.split(',')
            .map(|x| x.trim().to_ascii_uppercase())
            .filter(|x| !x.is_empty())
            .collect()
    });
    Ok(Listing {
        status,
        limit,
        after: time("after")?,
        until: time("until")?,
        ascending,
        symbols,
        side,
    })
}

impl Listing {
    /// Alpaca filters `after` / `until` on the submission time (exclusive both ends).
    fn keeps(&self, o: &Order) -> bool {
        let status_ok = match self.status.as_str() {
            "open" => o.is_open(),
            "closed" => !o.is_open(),
            _ => true,
        };
        status_ok
            && self.after.is_none_or(|a| o.submitted_at > a)
            && self.until.is_none_or(|u| o.submitted_at < u)
            && self
                .symbols
                .as_ref()
                .is_none_or(|s| s.contains(&o.req.symbol))
            && self
                .side
                .as_deref()
                .is_none_or(|s| s == o.req.side.as_str())
    }
}

/// `GET /v2/orders`: newest first unless `direction=asc`, at most `limit`; a client pages by
/// moving `until` (desc) or `after` (asc) to the last order's `submitted_at` (the fake's times
/// are distinct, so no order is skipped or repeated).
pub async fn list_orders(State(s): State<Arc<Shared>>, Query(q): Q) -> Response {
    let l = match listing(&q) {
        Ok(l) => l,
        Err(r) => return refused(&r),
    };
    let inner = s.lock();
    let kept = inner.book.orders().iter().filter(|o| l.keeps(o));
    let page: Vec<Value> = if l.ascending {
        kept.take(l.limit).map(wire::order).collect()
    } else {
        let all: Vec<&Order> = kept.collect();
        all.iter()
            .rev()
            .take(l.limit)
            .map(|o| wire::order(o))
            .collect()
    };
    json(StatusCode::OK, Value::Array(page))
}

fn no_position() -> Response {
    json(
        StatusCode::NOT_FOUND,
        wire::error(40410000, "position does not exist"),
    )
}

/// `GET /v2/positions/{symbol}`: the position, or 404.
pub async fn position(State(s): State<Arc<Shared>>, Path(symbol): Path<String>) -> Response {
    let inner = s.lock();
    let symbol = symbol.to_ascii_uppercase();
    match inner.book.positions().get(&symbol) {
        Some(p) => json(StatusCode::OK, wire::position(&inner.book, &symbol, p)),
        None => no_position(),
    }
}

/// `DELETE /v2/positions/{symbol}[?qty=|percentage=]`: a market order closing the position
/// (all of it by default), answered 200 with the Order; 404 without a position.
pub async fn close_position(
    State(s): State<Arc<Shared>>,
    Path(symbol): Path<String>,
    Query(q): Q,
) -> Response {
    let mut inner = s.lock();
    let symbol = symbol.to_ascii_uppercase();
    let Some(held) = inner.book.positions().get(&symbol).map(|p| p.qty) else {
        return no_position();
    };
    let amount = |k: &str| q.get(k).map(|t| t.parse::<rust_decimal::Decimal>());
    let qty = match (amount("qty"), amount("percentage")) {
        (None, None) => held.abs(),
        (Some(Ok(n)), None) if n > rust_decimal::Decimal::ZERO && n <= held.abs() => n,
        (None, Some(Ok(p)))
            if p > rust_decimal::Decimal::ZERO && p <= rust_decimal::Decimal::ONE_HUNDRED =>
        {
            (held.abs() * p / rust_decimal::Decimal::ONE_HUNDRED).round_dp(9)
        }
        _ => {
            return invalid(format!(
                "give qty (above 0, at most the position's {}) or percentage (0 to 100), not both",
                held.abs()
            ));
        }
    };
    let now = inner.clock.next();
    match inner.book.close_position(&symbol, held, qty, now) {
        Ok(o) => json(StatusCode::OK, wire::order(o)),
        Err(r) => refused(&r),
    }
}
