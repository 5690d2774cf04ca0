//! Alpaca's account activities of type FILL (`GET /v2/account/activities/FILL`, or
//! `GET /v2/account/activities?activity_types=FILL`): one entry per execution, with Alpaca's
//! fields (`id`, `activity_type`, `transaction_time`, `type` fill/partial_fill, `price`, `qty`,
//! `side`, `symbol`, `leaves_qty`, `order_id`, `cum_qty`, `order_status`). `after` / `until`
//! filter on `transaction_time` (exclusive), `direction` desc by default, `page_size` at most
//! 100 (default 100), `page_token` the `id` of the last activity of the previous page. Other
//! activity types (dividends, transfers) do not occur in the fake: asked for alone, they
//! answer an empty list.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use crate::book::Execution;
use crate::clock::{self, Micros};
use crate::orders::Refusal;
use crate::routes::refused;
use crate::server::{Shared, json};

const PAGE_SIZE_MAX: usize = 100;

struct Filter {
    fills: bool,
    after: Option<Micros>,
    until: Option<Micros>,
    ascending: bool,
    page_size: usize,
    token: Option<String>,
}

fn filter(types: Option<&str>, q: &HashMap<String, String>) -> Result<Filter, Refusal> {
    let fills = types.is_none_or(|t| t.split(',').any(|x| x.trim().eq_ignore_ascii_case("FILL")));
    let time = |k: &str| match q.get(k) {
        None => Ok(None),
        Some(t) => clock::parse(t)
            .map(Some)
            .ok_or_else(|| Refusal::invalid(format!("invalid {k} {t:?}: an RFC 3339 timestamp"))),
    };
    let ascending = match q.get("direction").map(String::as_str) {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(d) => {
            return Err(Refusal::invalid(format!(
                "invalid direction {d:?}: asc or desc"
            )));
        }
    };
    let page_size = match q.get("page_size").map(|p| p.parse::<usize>()) {
        None => PAGE_SIZE_MAX,
        Some(Ok(n)) if (1..=PAGE_SIZE_MAX).contains(&n) => n,
        Some(_) => {
            return Err(Refusal::invalid(format!(
                "invalid page_size: between 1 and {PAGE_SIZE_MAX}"
            )));
        }
    };
    Ok(Filter {
        fills,
        after: time("after")?,
        until: time("until")?,
        ascending,
        page_size,
        token: q.get("page_token").cloned(),
    })
}

fn activity(e: &Execution, order_status: &str) -> Value {
    json!({
        "id": e.id,
        "activity_type": "FILL",
        "transaction_time": clock::utc(e.at),
        "type": if e.partial { "partial_fill" } else { "fill" },
        "price": e.price.normalize().to_string(),
        "qty": e.qty.normalize().to_string(),
        "side": e.side.as_str(),
        "symbol": e.symbol,
        "leaves_qty": e.leaves_qty.normalize().to_string(),
        "order_id": e.order_id,
        "cum_qty": e.cum_qty.normalize().to_string(),
        "order_status": order_status,
    })
}

fn answer(s: &Shared, types: Option<&str>, q: &HashMap<String, String>) -> Response {
    let f = match filter(types, q) {
        Ok(f) => f,
        Err(r) => return refused(&r),
    };
    if !f.fills {
        return json(StatusCode::OK, Value::Array(Vec::new()));
    }
    let inner = s.lock();
    let kept = inner
        .book
        .executions()
        .iter()
        .filter(|e| f.after.is_none_or(|a| e.at > a) && f.until.is_none_or(|u| e.at < u));
    let mut all: Vec<&Execution> = kept.collect();
    if !f.ascending {
        all.reverse();
    }
    let start = match &f.token {
        Some(t) => match all.iter().position(|e| e.id == *t) {
            Some(i) => i + 1,
            None => {
                return refused(&Refusal::invalid(
                    "invalid page_token: pass the id of the last activity of the previous page",
                ));
            }
        },
        None => 0,
    };
    let page: Vec<Value> = all
        .iter()
        .skip(start)
        .take(f.page_size)
        .map(|e| {
            let status = inner.book.get(&e.order_id).map_or("filled", |o| o.status);
            activity(e, status)
        })
        .collect();
    json(StatusCode::OK, Value::Array(page))
}

/// `GET /v2/account/activities?activity_types=…`.
pub async fn activities(
    State(s): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let types = q.get("activity_types").cloned();
    answer(&s, types.as_deref(), &q)
}

/// `GET /v2/account/activities/{activity_type}`.
pub async fn activities_of(
    State(s): State<Arc<Shared>>,
    Path(kind): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    answer(&s, Some(&kind), &q)
}
