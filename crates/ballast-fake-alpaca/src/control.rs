//! The fake's own control routes, `/_fake/*`, for demos and for tests in other languages: the
//! same operations as `FakeAlpaca`'s methods. They need no keys, are not rate limited and are
//! not in the request log (they are not part of Alpaca). The fake listens on loopback only.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::faults::Fault;
use crate::routes::read_json;
use crate::server::{Shared, json};
use crate::wire;

fn bad(message: String) -> Response {
    json(
        StatusCode::UNPROCESSABLE_ENTITY,
        wire::error(42210000, &message),
    )
}

/// Read a control body as `T` (422 naming what is wrong).
async fn body<T: for<'de> Deserialize<'de>>(b: Body, what: &str) -> Result<T, Response> {
    let v: Value = read_json(b).await?;
    serde_json::from_value(v).map_err(|e| bad(format!("{what}: {e}")))
}

/// `GET /_fake/counts`: per `client_order_id`, submits seen and orders created; ticks so far.
pub async fn counts(State(s): State<Arc<Shared>>) -> Response {
    let inner = s.lock();
    let counts: Vec<Value> = inner
        .book
        .counts()
        .into_iter()
        .map(|(id, submits, created)| {
            json!({"client_order_id": id, "submits": submits, "orders_created": created})
        })
        .collect();
    json(
        StatusCode::OK,
        json!({"counts": counts, "ticks": inner.book.market.ticks(),
               "requests_dropped_from_log": inner.log_dropped}),
    )
}

/// `POST /_fake/tick`: the market moves one bar.
pub async fn tick(State(s): State<Arc<Shared>>) -> Response {
    let ticks = s.tick();
    json(StatusCode::OK, json!({"ticks": ticks}))
}

/// `POST /_fake/fault` with a `Fault` as JSON (`{"kind": "status", …}`).
pub async fn fault(State(s): State<Arc<Shared>>, b: Body) -> Response {
    let f: Fault = match body(b, "a fault").await {
        Ok(f) => f,
        Err(r) => return r,
    };
    match s.fault(f) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => bad(e.to_string()),
    }
}

/// `DELETE /_fake/fault`: every queued fault dropped and whole fills again (the end of a
/// chaos scenario's fault); answers how many were queued.
pub async fn clear_faults(State(s): State<Arc<Shared>>) -> Response {
    let cleared = s.clear_faults();
    json(StatusCode::OK, json!({"cleared": cleared}))
}

#[derive(Deserialize)]
struct SetPosition {
    symbol: String,
    qty: Decimal,
    avg_entry_price: Decimal,
}

/// `POST /_fake/position` `{"symbol", "qty", "avg_entry_price"}`: change a position behind
/// the client's back.
pub async fn position(State(s): State<Arc<Shared>>, b: Body) -> Response {
    let p: SetPosition = match body(b, "a position").await {
        Ok(p) => p,
        Err(r) => return r,
    };
    s.set_position(&p.symbol, p.qty, p.avg_entry_price);
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct Foreign {
    symbol: String,
    side: String,
    qty: Decimal,
}

/// `POST /_fake/foreign_order` `{"symbol", "side", "qty"}`: an open order the client does
/// not own; answers `{"id": …}`.
pub async fn foreign_order(State(s): State<Arc<Shared>>, b: Body) -> Response {
    let f: Foreign = match body(b, "a foreign order").await {
        Ok(f) => f,
        Err(r) => return r,
    };
    match s.add_foreign_order(&f.symbol, &f.side, f.qty) {
        Ok(id) => json(StatusCode::OK, json!({"id": id})),
        Err(m) => bad(m),
    }
}
