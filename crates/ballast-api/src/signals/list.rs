//! `GET /v1/signals`: the records of `journal/signals/` after the `after` cursor, oldest first,
//! each with its state folded from the engine's journal ([`SignalStates`], followed
//! read-only: the engine's journal is the source of truth), filtered by `status`, `symbol`
//! and `strategy`, at most `limit` of them. One request looks at most at
//! [`SIGNALS_SCAN_MAX_COUNT`] records; `next` is where the next page starts (`null`: the end
//! of the journal was reached).

use std::collections::HashMap;
use std::sync::PoisonError;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use ballast_core::config::Config;
use ballast_core::domain::Side;
use ballast_core::engine::EngineRecord;
use ballast_core::engine::kinds;
use ballast_core::inbox::{Ask, ExternalSignal};
use ballast_core::intake::{self, Fate, JournaledSignal, SignalStates};
use ballast_core::limits::{
    SIGNALS_DEDUP_KEYS_COUNT, SIGNALS_PAGE_DEFAULT_COUNT, SIGNALS_PAGE_MAX_COUNT,
    SIGNALS_SCAN_MAX_COUNT,
};
use ballast_core::signal::SignalState;
use ballast_core::time::Timestamp;
use ballast_store::Layout;
use ballast_store::journal::follow::Follower;
use rust_decimal::Decimal;
use serde::Serialize;

use super::SignalsState;
use crate::error::ApiError;

/// Engine journal records folded by one request, at most (a long journal is caught up over
/// several requests; the states of signals it has not reached yet read as NEW).
const ENGINE_RECORDS_PER_REQUEST: usize = 200_000;
/// Records read at once.
const BATCH: usize = 4_096;

/// The engine's journal as followed for the signals' states.
pub(super) struct EngineFollow {
    dir: std::path::PathBuf,
    max_record_bytes: u64,
    follower: Follower,
    states: SignalStates,
}

impl EngineFollow {
    pub(super) fn new(layout: &Layout, config: &Config) -> EngineFollow {
        let dir = layout.engine_journal();
        EngineFollow {
            follower: Follower::new(&dir, 0, config.journal.max_record_bytes),
            dir,
            max_record_bytes: config.journal.max_record_bytes,
            states: SignalStates::new(SIGNALS_DEDUP_KEYS_COUNT),
        }
    }

    /// Fold what the engine journaled since the last request.
    fn catch_up(&mut self) {
        let mut folded = 0usize;
        while folded < ENGINE_RECORDS_PER_REQUEST {
            let records = match self.follower.read(BATCH) {
                Ok(r) => r,
                Err(e) => {
                    // A journal replaced under us (restored, salvaged): fold it again from
                    // its start.
                    tracing::warn!(
                        component = "api",
                        "following journal/engine/: {e}; folding it again from its start"
                    );
                    self.follower = Follower::new(&self.dir, 0, self.max_record_bytes);
                    self.states = SignalStates::new(SIGNALS_DEDUP_KEYS_COUNT);
                    return;
                }
            };
            if records.is_empty() {
                return;
            }
            folded += records.len();
            for r in records {
                if !folded_kind(&r.kind, &r.body) {
                    continue;
                }
                if let Ok(rec) = EngineRecord::decode(&r.kind, &r.body) {
                    self.states.apply(&rec);
                }
            }
        }
    }
}

/// Whether a record can change an HTTP signal's state (bars only when they carry fills).
fn folded_kind(kind: &str, body: &str) -> bool {
    match kind {
        kinds::TAKEN | kinds::DECISION | kinds::SENT | kinds::EXPIRED | kinds::KILL_SWITCH => true,
        kinds::BAR => !body.contains("\"fills\":[]"),
        _ => false,
    }
}

/// One signal of the list.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub signal_id: String,
    pub accepted_at: Timestamp,
    pub symbol: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub side: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qty: Option<Decimal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_qty: Option<Decimal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notional: Option<Decimal>,
    pub reason: String,
    pub strategy: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit_price: Option<Decimal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_secs: Option<u32>,
    pub status: SignalState,
    /// Whether the engine took it (journaled it as taken) yet.
    pub taken: bool,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub fate: Option<Fate>,
}

/// A page of the list.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    pub signals: Vec<Item>,
    /// The cursor of the next page (`after=`), or `null` at the end of the journal.
    pub next: Option<String>,
}

/// The query, checked.
struct Filter {
    limit: usize,
    after: u64,
    status: Option<SignalState>,
    symbol: Option<String>,
    strategy: Option<String>,
}

fn bad(field: &str, message: String) -> ApiError {
    ApiError {
        field: Some(field.to_owned()),
        ..ApiError::bad_request(message)
    }
}

fn filter(q: &HashMap<String, String>) -> Result<Filter, ApiError> {
    const KNOWN: &[&str] = &["limit", "after", "status", "symbol", "strategy"];
    if let Some(k) = q.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        let k: String = k.chars().take(64).collect();
        return Err(bad(
            &k,
            format!(
                "unknown query parameter {k:?}; the parameters are {}",
                KNOWN.join(", ")
            ),
        ));
    }
    let limit = match q.get("limit") {
        None => SIGNALS_PAGE_DEFAULT_COUNT,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=SIGNALS_PAGE_MAX_COUNT).contains(n))
            .ok_or_else(|| {
                bad(
                    "limit",
                    format!(
                        "limit must be a number from 1 to {SIGNALS_PAGE_MAX_COUNT} (got {:?})",
                        cut(v)
                    ),
                )
            })?,
    };
    let after = match q.get("after").filter(|v| !v.is_empty()) {
        None => 0,
        Some(v) => intake::parse_signal_id(v).ok_or_else(|| {
            bad(
                "after",
                format!(
                    "after must be a signal id such as api-42 (the `next` of the previous page), got {:?}",
                    cut(v)
                ),
            )
        })?,
    };
    let status = match q.get("status") {
        None => None,
        Some(v) => Some(
            SignalState::ALL
                .into_iter()
                .find(|s| s.name().eq_ignore_ascii_case(v))
                .ok_or_else(|| {
                    bad(
                        "status",
                        format!(
                            "status must be one of {} (got {:?})",
                            SignalState::ALL.map(SignalState::name).join(", "),
                            cut(v)
                        ),
                    )
                })?,
        ),
    };
    Ok(Filter {
        limit,
        after,
        status,
        symbol: q.get("symbol").map(|s| s.to_ascii_uppercase()),
        strategy: q.get("strategy").cloned(),
    })
}

fn cut(v: &str) -> String {
    v.chars().take(64).collect()
}

pub(super) async fn list(
    State(s): State<SignalsState>,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<Page>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request(format!("bad query string: {e}")))?;
    let f = filter(&q)?;
    let inner = std::sync::Arc::clone(&s.inner);
    tokio::task::spawn_blocking(move || page(&inner, &f))
        .await
        .map_err(|_| ApiError::internal("listing the signals did not finish; retry"))?
        .map(Json)
}

fn page(inner: &super::Inner, f: &Filter) -> Result<Page, ApiError> {
    let mut engine = inner.engine.lock().unwrap_or_else(PoisonError::into_inner);
    engine.catch_up();
    let mut follower = take_follower(inner, f.after);
    let mut out = Vec::new();
    let mut looked = 0usize;
    let mut last = f.after;
    let mut end = false;
    while out.len() < f.limit && looked < SIGNALS_SCAN_MAX_COUNT {
        // Never more than the page still needs: the follower stops right after the last
        // record looked at, where the next page (`after` = it) resumes.
        let want = BATCH
            .min(SIGNALS_SCAN_MAX_COUNT - looked)
            .min(f.limit - out.len());
        let records = follower
            .read(want)
            .map_err(|e| ApiError::unavailable(format!("cannot read journal/signals/: {e}")))?;
        if records.is_empty() {
            end = true;
            break;
        }
        for r in records {
            looked += 1;
            last = r.seq;
            let Ok(j) = serde_json::from_str::<JournaledSignal>(&r.body) else {
                continue;
            };
            let item = item(r.seq, j, &engine.states);
            if keep(&item, f) {
                out.push(item);
                if out.len() == f.limit {
                    break;
                }
            }
        }
    }
    keep_follower(inner, follower);
    // The end of the journal right after the last record looked at: no next page yet.
    if !end && out.len() == f.limit && last == inner.journal.durable_seq() {
        end = true;
    }
    Ok(Page {
        signals: out,
        next: (!end).then(|| intake::signal_id(last)),
    })
}

/// Followers where the last pages stopped, at most this many: the next page of a listing
/// resumes where its previous one stopped instead of reading its segment from the start.
const FOLLOWERS_KEPT: usize = 8;

fn take_follower(inner: &super::Inner, after: u64) -> Follower {
    let mut kept = inner.pages.lock().unwrap_or_else(PoisonError::into_inner);
    match kept.iter().position(|f| f.next_seq() == after + 1) {
        Some(i) => kept.remove(i).unwrap_or_else(|| new_follower(inner, after)),
        None => new_follower(inner, after),
    }
}

/// A new follower of `journal/signals/` after `after`.
fn new_follower(inner: &super::Inner, after: u64) -> Follower {
    Follower::new(
        inner.layout.signals_journal(),
        after,
        inner.max_record_bytes,
    )
}

fn keep_follower(inner: &super::Inner, follower: Follower) {
    let mut kept = inner.pages.lock().unwrap_or_else(PoisonError::into_inner);
    kept.retain(|f| f.next_seq() != follower.next_seq());
    kept.push_back(follower);
    while kept.len() > FOLLOWERS_KEPT {
        kept.pop_front();
    }
}

fn keep(i: &Item, f: &Filter) -> bool {
    f.status.is_none_or(|s| s == i.status)
        && f.symbol.as_deref().is_none_or(|s| s == i.symbol)
        && f.strategy.as_deref().is_none_or(|s| s == i.strategy)
}

fn item(seq: u64, j: JournaledSignal, states: &SignalStates) -> Item {
    let ExternalSignal {
        symbol,
        ask,
        reason,
        strategy,
        limit_price,
        idempotency_key,
        ttl_secs,
    } = j.signal;
    let fate = states.get(seq).cloned();
    let mut notional = None;
    let (side, qty, target_qty) = match ask {
        Ask::Order { side, qty } => (
            Some(match side {
                Side::Buy => "buy",
                Side::Sell => "sell",
            }),
            Some(qty),
            None,
        ),
        Ask::Target { qty } => (None, None, Some(qty)),
        Ask::Notional { side, notional: n } => {
            notional = Some(n);
            (
                Some(match side {
                    Side::Buy => "buy",
                    Side::Sell => "sell",
                }),
                None,
                None,
            )
        }
    };
    Item {
        signal_id: intake::signal_id(seq),
        accepted_at: j.at,
        symbol: symbol.as_str().to_owned(),
        side,
        qty,
        target_qty,
        notional,
        reason,
        strategy,
        limit_price,
        idempotency_key,
        ttl_secs,
        status: fate.as_ref().map_or(SignalState::New, |f| f.state),
        taken: seq <= states.taken_seq,
        fate,
    }
}

pub(super) fn page_schema() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "required": ["signals", "next"],
        "properties": {
            "signals": {"type": "array", "items": {"type": "object", "required": ["signal_id", "accepted_at", "symbol", "status", "taken"], "properties": {
                "signal_id": {"type": "string"},
                "accepted_at": {"type": "string", "format": "date-time"},
                "symbol": {"type": "string"},
                "side": {"type": "string", "enum": ["buy", "sell"]},
                "qty": {"type": "string"},
                "target_qty": {"type": "string"},
                "notional": {"type": "string"},
                "reason": {"type": "string"},
                "strategy": {"type": "string"},
                "limit_price": {"type": "string"},
                "idempotency_key": {"type": "string"},
                "ttl_secs": {"type": "integer"},
                "status": {"type": "string", "enum": SignalState::ALL.map(SignalState::name)},
                "taken": {"type": "boolean"},
                "engine_signal": {"type": "string"},
                "client_order_id": {"type": "string"},
                "order_qty": {"type": "string"},
                "filled_qty": {"type": "string"},
                "why": {"type": "string"},
            }}},
            "next": {"type": "string", "nullable": true, "description": "the cursor of the next page (after=), null at the end of the journal"},
        }
    })
}
