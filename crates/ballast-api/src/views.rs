//! The engine's state and the journals' histories as paginated lists (issue 13 item 2):
//! positions, orders, fills, guard decisions, equity points, heals and alerts. Everything is
//! read from the [`Follower`]'s view — the engine's own state rebuilt from its journal — never
//! from a copy. Each answer is `{"items": [...], "next": cursor|null, "seq": N}` (`seq`: the
//! engine journal record the view is at), plus `warning` while the journal ends in a torn
//! record; a view that cannot follow its journal answers 503 with the reason.
//!
//! Order: positions by symbol; equity points oldest first (a chart's order); every other list
//! newest first.

use std::sync::Arc;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::routing::get;
use ballast_core::engine::{EngineState, SendState};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{Value, json};

use crate::ApiError;
use crate::follow::history::{FillItem, OpsItem, OrderItem};
use crate::follow::{Follower, Status, View};
use crate::page::{Params, key_cursor, page, text_cursor};
use crate::routes::{Param, RouteDoc, Routes};

/// What the view routes share.
#[derive(Clone)]
pub struct ViewsState {
    pub follower: Arc<Follower>,
}

/// The routes of this module.
pub fn routes(follower: Arc<Follower>) -> Routes {
    Routes::default()
        .add(
            doc(
                "/v1/account",
                "Equity, cash, exposure against its cap, PnL, trading state and kill switch",
                &[],
                account_answer,
            ),
            get(account),
        )
        .add(
            doc("/v1/positions", "Open positions, by symbol", POSITIONS_Q, positions_answer),
            get(positions),
        )
        .add(
            doc("/v1/orders", "Orders, newest first", ORDERS_Q, orders_answer),
            get(orders),
        )
        .add(
            doc("/v1/fills", "Fills, newest first", FILLS_Q, fills_answer),
            get(fills),
        )
        .add(
            doc(
                "/v1/decisions",
                "Guard verdicts with the deciding check, its limit and the observed value, newest first",
                DECISIONS_Q,
                decisions_answer,
            ),
            get(decisions),
        )
        .add(
            doc(
                "/v1/equity",
                "Equity and exposure after each bar, oldest first (for charts)",
                PAGE_Q,
                equity_answer,
            ),
            get(equity),
        )
        .add(
            doc("/v1/heals", "Heal audit records of the ops journal, newest first", OPS_Q, ops_answer),
            get(heals),
        )
        .add(
            doc("/v1/alerts", "Alert records of the ops journal, newest first", OPS_Q, ops_answer),
            get(alerts),
        )
        .with_state(ViewsState { follower })
}

const LIMIT: Param = Param {
    name: "limit",
    description: "items per page, 1 to 1000 (default 100)",
};
const AFTER: Param = Param {
    name: "after",
    description: "the `next` cursor of the previous page",
};
const SYMBOL: Param = Param {
    name: "symbol",
    description: "only this symbol",
};
const PAGE_Q: &[Param] = &[LIMIT, AFTER];
const POSITIONS_Q: &[Param] = &[LIMIT, AFTER, SYMBOL];
const ORDERS_Q: &[Param] = &[
    LIMIT,
    AFTER,
    SYMBOL,
    Param {
        name: "status",
        description: "open, filled, cancelled, rejected, expired or all (default all)",
    },
];
const FILLS_Q: &[Param] = &[
    LIMIT,
    AFTER,
    SYMBOL,
    Param {
        name: "client_order_id",
        description: "only the fills of this order",
    },
];
const DECISIONS_Q: &[Param] = &[
    LIMIT,
    AFTER,
    SYMBOL,
    Param {
        name: "verdict",
        description: "approve, resize or reject",
    },
    Param {
        name: "check",
        description: "only verdicts decided by this guard check (e.g. max_notional_per_order)",
    },
];
const OPS_Q: &[Param] = &[
    LIMIT,
    AFTER,
    Param {
        name: "type",
        description: "only records of this type (e.g. heal.applied)",
    },
];

fn doc(
    path: &'static str,
    summary: &'static str,
    query: &'static [Param],
    answer: fn() -> Value,
) -> RouteDoc {
    RouteDoc {
        query,
        answer: Some(answer),
        ..RouteDoc::new("GET", path, summary)
    }
}

/// A page answer.
#[derive(Serialize)]
struct Page<T> {
    items: Vec<T>,
    next: Option<String>,
    seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    warning: Option<String>,
}

/// The engine view, or why there is none (503).
fn engine_view(view: &View) -> Result<&EngineState, ApiError> {
    match (&view.status, &view.state) {
        (Status::Ready, Some(s)) => Ok(s),
        (Status::Broken(why), _) => Err(unavailable(why.clone())),
        _ => Err(unavailable(format!(
            "the engine view is being read from the journal (at seq {}); try again in a moment",
            view.engine_seq
        ))),
    }
}

fn unavailable(message: String) -> ApiError {
    ApiError {
        retry_after: Some(1),
        ..ApiError::unavailable(message)
    }
}

fn answer<T: Serialize>(view: &View, items: Vec<T>, next: Option<String>) -> Json<Value> {
    Json(
        serde_json::to_value(Page {
            items,
            next,
            seq: view.engine_seq,
            warning: view.warning.clone(),
        })
        .unwrap_or(Value::Null),
    )
}

/// The account as the engine's own view computes it (`ballast status`), at the view's seq.
async fn account(
    State(s): State<ViewsState>,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let p = Params::parse(q.as_deref(), &[])?;
    if let Some(field) = ["limit", "after"].into_iter().find(|f| p.get(f).is_some()) {
        return Err(ApiError::invalid(
            field,
            format!("/v1/account is not a list: it takes no {field}"),
        ));
    }
    let view = s.follower.view();
    let state = engine_view(&view)?;
    let cap = state.trim_or(&view.trim).max_total_at_risk_pct;
    let v = state.view(cap);
    let c = &state.controls;
    Ok(Json(json!({
        "seq": view.engine_seq,
        "warning": view.warning,
        "market_time": v.market_time,
        "equity": v.equity,
        "cash": v.cash,
        "gross_exposure": v.gross_exposure,
        "exposure_pct": v.exposure_pct,
        "exposure_cap_pct": v.exposure_cap_pct,
        "day_pnl": v.day_pnl,
        "realized_pnl": v.realized_pnl,
        "fees": v.fees,
        "positions": v.positions_total,
        "open_orders": v.open_orders_total,
        "trading_state": c.trading_state,
        "kill_switch": c.kill_switch.as_ref().is_some_and(|k| k.engaged),
        "policy": c.policy.as_ref().map(|p| p.policy),
        "mode": c.stamp.as_ref().map(|s| s.mode.clone()),
    })))
}

#[derive(Serialize)]
struct PositionRow {
    symbol: String,
    /// `long` or `short`.
    side: &'static str,
    qty: Decimal,
    avg_price: Decimal,
    mark: Option<Decimal>,
    market_value: Decimal,
    unrealized_pnl: Decimal,
    realized_pnl: Decimal,
    /// |market value| as a percentage of equity.
    exposure_pct: Decimal,
}

/// Every open position of `state`, by symbol.
fn position_rows(state: &EngineState) -> Vec<PositionRow> {
    let equity = state.portfolio.equity();
    let mut rows: Vec<PositionRow> = state
        .portfolio
        .positions()
        .filter(|p| !p.qty.is_zero())
        .map(|p| {
            let mark = state.portfolio.mark_of(&p.symbol);
            let price = mark.unwrap_or(p.avg_entry_price);
            let value = p.qty * price;
            PositionRow {
                symbol: p.symbol.as_str().to_owned(),
                side: if p.qty > Decimal::ZERO {
                    "long"
                } else {
                    "short"
                },
                qty: p.qty,
                avg_price: p.avg_entry_price.round_dp(4),
                mark,
                market_value: value.round_dp(2),
                unrealized_pnl: ((price - p.avg_entry_price) * p.qty).round_dp(2),
                realized_pnl: p.realized_pnl.round_dp(2),
                exposure_pct: if equity.is_zero() {
                    Decimal::ZERO
                } else {
                    (value.abs() * Decimal::ONE_HUNDRED / equity).round_dp(2)
                },
            }
        })
        .collect();
    rows.sort_by(|a, b| a.symbol.cmp(&b.symbol));
    rows
}

async fn positions(
    State(s): State<ViewsState>,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let p = Params::parse(q.as_deref(), &["symbol"])?;
    let (limit, after, symbol) = (p.limit()?, p.after_text()?, p.get("symbol"));
    let view = s.follower.view();
    let state = engine_view(&view)?;
    let rows = position_rows(state)
        .into_iter()
        .filter(|r| symbol.is_none_or(|s| r.symbol == s));
    let (items, next) = page(rows, |r| r.symbol.clone(), after.as_ref(), false, limit);
    Ok(answer(&view, items, next.map(|k| text_cursor(&k))))
}

const ORDER_STATUSES: &[&str] = &["open", "filled", "cancelled", "rejected", "expired", "all"];

#[derive(Serialize)]
struct OrderRow<'a> {
    client_order_id: &'a str,
    symbol: &'a str,
    side: ballast_core::domain::Side,
    qty: Decimal,
    filled: Decimal,
    /// `null` for a market order.
    limit: Option<Decimal>,
    /// `open`, `filled`, `cancelled`, `rejected` or `expired`.
    status: &'static str,
    /// Of an open order: `intent` (journaled, not sent yet), `at the venue` or `unknown
    /// outcome` (in flight until a lookup settles it); of a closed one, why it closed.
    state: String,
    /// Who placed it: `signal`, `liquidation`, `kill_switch`, `policy` or `reconcile`.
    origin: &'static str,
    created_at: ballast_core::Timestamp,
    /// Market time from its creation to the engine's last bar.
    age_ms: i64,
}

/// The status and state of an order: open while the engine tracks it (its state's answer),
/// else what the journal says closed it.
fn order_row<'a>(o: &'a OrderItem, state: &EngineState) -> OrderRow<'a> {
    let qty = o.order.qty.value();
    let (status, words, filled) = match state.orders.tracked.get(&o.order.client_order_id) {
        Some(t) => {
            let words = match &t.send {
                SendState::Intent => "intent".to_owned(),
                SendState::Unknown { error, .. } => format!("unknown outcome ({error})"),
                SendState::Accepted => "at the venue".to_owned(),
            };
            ("open", words, t.filled)
        }
        None => {
            let (status, words) = o.closed();
            (status, words, o.filled)
        }
    };
    OrderRow {
        client_order_id: o.order.client_order_id.as_str(),
        symbol: o.order.symbol.as_str(),
        side: o.order.side,
        qty,
        filled,
        limit: o.order.limit_price().map(|p| p.value()),
        status,
        state: words,
        origin: o.origin,
        created_at: o.order.created_at,
        age_ms: state
            .last_bar
            .map_or(0, |t| t.ms_since(o.order.created_at).max(0)),
    }
}

async fn orders(
    State(s): State<ViewsState>,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let p = Params::parse(q.as_deref(), &["symbol", "status"])?;
    let (limit, after) = (p.limit()?, p.after_key()?);
    let status = p.one_of("status", ORDER_STATUSES)?;
    let symbol = p.get("symbol");
    let view = s.follower.view();
    let state = engine_view(&view)?;
    let rows = view
        .history
        .orders
        .iter()
        .rev()
        .filter(|o| symbol.is_none_or(|s| o.order.symbol.as_str() == s))
        .map(|o| (o.key, order_row(o, state)))
        .filter(|(_, r)| {
            status
                .as_deref()
                .is_none_or(|s| s == "all" || s == r.status)
        });
    let (items, next) = page(rows, |(k, _)| *k, after.as_ref(), true, limit);
    let items: Vec<OrderRow<'_>> = items.into_iter().map(|(_, r)| r).collect();
    Ok(answer(&view, items, next.map(key_cursor)))
}

async fn fills(
    State(s): State<ViewsState>,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let p = Params::parse(q.as_deref(), &["symbol", "client_order_id"])?;
    let (limit, after) = (p.limit()?, p.after_key()?);
    let (symbol, order) = (p.get("symbol"), p.get("client_order_id"));
    let view = s.follower.view();
    engine_view(&view)?;
    let rows = view.history.fills.iter().rev().filter(|f: &&FillItem| {
        symbol.is_none_or(|s| f.symbol == s) && order.is_none_or(|o| f.client_order_id == o)
    });
    let (items, next) = page(rows, |f| f.key, after.as_ref(), true, limit);
    Ok(answer(&view, items, next.map(key_cursor)))
}

async fn decisions(
    State(s): State<ViewsState>,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let p = Params::parse(q.as_deref(), &["symbol", "verdict", "check"])?;
    let (limit, after) = (p.limit()?, p.after_key()?);
    let verdict = p.one_of("verdict", &["approve", "resize", "reject"])?;
    let (symbol, check) = (p.get("symbol"), p.get("check"));
    let view = s.follower.view();
    engine_view(&view)?;
    let rows = view.history.decisions.iter().rev().filter(|d| {
        symbol.is_none_or(|s| d.symbol == s)
            && verdict.as_deref().is_none_or(|v| d.verdict == v)
            && check.is_none_or(|c| d.reasons.iter().any(|r| r.check == c))
    });
    let (items, next) = page(rows, |d| d.seq, after.as_ref(), true, limit);
    Ok(answer(&view, items, next.map(key_cursor)))
}

async fn equity(
    State(s): State<ViewsState>,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let p = Params::parse(q.as_deref(), &[])?;
    let (limit, after) = (p.limit()?, p.after_key()?);
    let view = s.follower.view();
    engine_view(&view)?;
    let (items, next) = page(
        view.history.equity.iter(),
        |e| e.seq,
        after.as_ref(),
        false,
        limit,
    );
    Ok(answer(&view, items, next.map(key_cursor)))
}

#[derive(Serialize)]
struct OpsRow<'a> {
    seq: u64,
    ts: ballast_core::Timestamp,
    #[serde(rename = "type")]
    kind: &'a str,
    body: &'a serde_json::value::RawValue,
}

/// The ops records whose type starts with `prefix`, newest first.
fn ops_list(s: &ViewsState, q: Option<&str>, prefix: &str) -> Result<Json<Value>, ApiError> {
    let p = Params::parse(q, &["type"])?;
    let (limit, after, kind) = (p.limit()?, p.after_key()?, p.get("type"));
    let view = s.follower.view();
    if let Status::Broken(why) = &view.ops_status {
        return Err(unavailable(why.clone()));
    }
    let rows = view
        .ops
        .records
        .iter()
        .rev()
        .filter(|r: &&OpsItem| r.kind.starts_with(prefix) && kind.is_none_or(|k| r.kind == k))
        .map(|r| OpsRow {
            seq: r.seq,
            ts: r.ts,
            kind: &r.kind,
            body: &r.body,
        });
    let (items, next) = page(rows, |r| r.seq, after.as_ref(), true, limit);
    Ok(answer(&view, items, next.map(key_cursor)))
}

async fn heals(
    State(s): State<ViewsState>,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>, ApiError> {
    ops_list(&s, q.as_deref(), "heal.")
}

async fn alerts(
    State(s): State<ViewsState>,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>, ApiError> {
    ops_list(&s, q.as_deref(), "alert.")
}

// The answers' JSON schemas (OpenAPI). Decimals are strings.

fn list_schema(item: Value) -> Value {
    json!({
        "type": "object",
        "required": ["items", "next", "seq"],
        "properties": {
            "items": {"type": "array", "items": item},
            "next": {"type": "string", "nullable": true, "description": "pass as `after` for the next page; null: no more"},
            "seq": {"type": "integer", "description": "the engine journal record the view is at"},
            "warning": {"type": "string", "description": "set while the engine journal ends in a torn record"}
        }
    })
}

fn object(props: &[(&str, &str)]) -> Value {
    let mut p = serde_json::Map::new();
    for (name, ty) in props {
        let schema = match *ty {
            "decimal" => json!({"type": "string", "format": "decimal"}),
            "decimal?" => json!({"type": "string", "nullable": true, "format": "decimal"}),
            "time" => json!({"type": "string", "format": "date-time"}),
            "string?" => json!({"type": "string", "nullable": true}),
            "time?" => json!({"type": "string", "nullable": true, "format": "date-time"}),
            "reasons" => json!({"type": "array", "items": object(&[
                ("check", "string"),
                ("limit", "decimal"),
                ("observed", "decimal"),
                ("detail", "string"),
            ])}),
            "any" => json!({}),
            t => json!({"type": t}),
        };
        p.insert((*name).to_owned(), schema);
    }
    json!({"type": "object", "properties": p})
}

fn account_answer() -> Value {
    object(&[
        ("seq", "integer"),
        ("warning", "string?"),
        ("market_time", "time?"),
        ("equity", "decimal"),
        ("cash", "decimal"),
        ("gross_exposure", "decimal"),
        ("exposure_pct", "decimal"),
        ("exposure_cap_pct", "decimal"),
        ("day_pnl", "decimal"),
        ("realized_pnl", "decimal"),
        ("fees", "decimal"),
        ("positions", "integer"),
        ("open_orders", "integer"),
        ("trading_state", "string"),
        ("kill_switch", "boolean"),
        ("policy", "string?"),
        ("mode", "string?"),
    ])
}

fn positions_answer() -> Value {
    list_schema(object(&[
        ("symbol", "string"),
        ("side", "string"),
        ("qty", "decimal"),
        ("avg_price", "decimal"),
        ("mark", "decimal?"),
        ("market_value", "decimal"),
        ("unrealized_pnl", "decimal"),
        ("realized_pnl", "decimal"),
        ("exposure_pct", "decimal"),
    ]))
}

fn orders_answer() -> Value {
    list_schema(object(&[
        ("client_order_id", "string"),
        ("symbol", "string"),
        ("side", "string"),
        ("qty", "decimal"),
        ("filled", "decimal"),
        ("limit", "decimal?"),
        ("status", "string"),
        ("state", "string"),
        ("origin", "string"),
        ("created_at", "time"),
        ("age_ms", "integer"),
    ]))
}

fn fills_answer() -> Value {
    list_schema(object(&[
        ("seq", "integer"),
        ("fill_id", "string"),
        ("client_order_id", "string"),
        ("symbol", "string"),
        ("side", "string"),
        ("qty", "decimal"),
        ("price", "decimal"),
        ("fee", "decimal"),
        ("at", "time"),
    ]))
}

fn decisions_answer() -> Value {
    list_schema(object(&[
        ("seq", "integer"),
        ("signal_id", "integer"),
        ("at", "time"),
        ("symbol", "string"),
        ("side", "string"),
        ("strategy", "string"),
        ("reason", "string"),
        ("verdict", "string"),
        ("check", "string?"),
        ("limit", "decimal?"),
        ("observed", "decimal?"),
        ("requested_qty", "decimal"),
        ("approved_qty", "decimal?"),
        ("reasons", "reasons"),
        ("client_order_id", "string?"),
    ]))
}

fn equity_answer() -> Value {
    list_schema(object(&[
        ("seq", "integer"),
        ("at", "time"),
        ("equity", "decimal"),
        ("cash", "decimal"),
        ("gross_exposure", "decimal"),
        ("exposure_pct", "decimal"),
    ]))
}

fn ops_answer() -> Value {
    list_schema(object(&[
        ("seq", "integer"),
        ("ts", "time"),
        ("type", "string"),
        ("body", "any"),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Valid for OpenAPI 3.0 and 3.1 alike: no type lists, every array has `items`.
    fn check(v: &Value, at: &str) {
        match v {
            Value::Object(m) => {
                assert!(
                    !m.get("type").is_some_and(Value::is_array),
                    "{at}: a type list"
                );
                if m.get("type") == Some(&json!("array")) {
                    assert!(m.contains_key("items"), "{at}: an array without items");
                }
                for (k, x) in m {
                    check(x, &format!("{at}.{k}"));
                }
            }
            Value::Array(a) => a.iter().for_each(|x| check(x, at)),
            _ => {}
        }
    }

    #[test]
    fn every_answer_schema_is_openapi_3_0_and_3_1() {
        for (name, f) in [
            ("account", account_answer as fn() -> Value),
            ("positions", positions_answer),
            ("orders", orders_answer),
            ("fills", fills_answer),
            ("decisions", decisions_answer),
            ("equity", equity_answer),
            ("ops", ops_answer),
        ] {
            check(&f(), name);
        }
    }
}
