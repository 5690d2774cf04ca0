//! The bounded histories the lists answer from, folded purely from journal records: fills,
//! guard decisions and orders from the engine journal, equity points from the engine state
//! after each bar, and the ops journal's records. They are an index of the journal, not a
//! second state: each is rebuilt from the journal alone, and each keeps only the newest
//! [`HISTORY_KEEP_COUNT`] items (the oldest is dropped at the bound; the journal keeps all).

use std::collections::{HashMap, VecDeque};

use ballast_core::Timestamp;
use ballast_core::broker::VenueStatus;
use ballast_core::domain::{Order, Side};
use ballast_core::engine::{EngineRecord, EngineState, LiquidationAction, SendOutcome, TrimRules};
use ballast_core::guard::Verdict;
use ballast_core::reconcile::VenueSettle;
use rust_decimal::Decimal;
use serde::Serialize;

/// Items each history keeps (fills, decisions, orders, equity points, ops records).
pub const HISTORY_KEEP_COUNT: usize = 10_000;

/// Items of one record get keys `seq << ITEM_BITS | index`: at most this many per record
/// are indexed (a bar's fills, a kill switch's closing orders); more are not listed.
pub const ITEM_BITS: u32 = 16;
const ITEM_MAX: usize = 1 << ITEM_BITS;

/// The key of item `i` of record `seq`: increasing in journal order.
pub fn item_key(seq: u64, i: usize) -> u64 {
    seq << ITEM_BITS | i as u64
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FillItem {
    #[serde(skip)]
    pub key: u64,
    pub seq: u64,
    pub fill_id: String,
    pub client_order_id: String,
    pub symbol: String,
    pub side: Side,
    pub qty: Decimal,
    pub price: Decimal,
    pub fee: Decimal,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReasonItem {
    pub check: &'static str,
    pub limit: Decimal,
    pub observed: Decimal,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecisionItem {
    /// The `engine.decision` record's seq.
    pub seq: u64,
    pub signal_id: u64,
    pub at: Timestamp,
    pub symbol: String,
    pub side: Side,
    pub strategy: String,
    pub reason: String,
    /// `approve`, `resize` or `reject`.
    pub verdict: &'static str,
    /// The check that decided (the first reason's), its limit and the observed value.
    pub check: Option<&'static str>,
    pub limit: Option<Decimal>,
    pub observed: Option<Decimal>,
    pub requested_qty: Decimal,
    pub approved_qty: Option<Decimal>,
    pub reasons: Vec<ReasonItem>,
    pub client_order_id: Option<String>,
}

/// An order as the journal tells it; whether it is still open is the engine state's answer
/// (asked when listing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderItem {
    pub key: u64,
    pub order: Order,
    /// Who placed it: `signal`, `liquidation`, `kill_switch`, `policy`, `reconcile` (a
    /// reconciliation finding flattened).
    pub origin: &'static str,
    /// Booked from its fills (a bar's or `venue.fills`).
    pub filled: Decimal,
    pub rejected: Option<String>,
    pub expired: bool,
    /// An external venue's terminal word about it (`order.venue`).
    pub venue: Option<VenueSettle>,
}

impl OrderItem {
    /// The status (`filled`, `cancelled`, `rejected`, `expired`) and why, of an order the
    /// engine no longer tracks: the venue's terminal word first (final), then the send's
    /// refusal, its fills, its signal's expiry; otherwise cancelled.
    pub fn closed(&self) -> (&'static str, String) {
        if let Some(v) = &self.venue {
            let booked = if v.filled_qty == self.filled {
                String::new()
            } else {
                format!(
                    " (the venue reports {} filled, {} booked from its fills)",
                    v.filled_qty, self.filled
                )
            };
            let said = v.status.as_str();
            let (status, words) = match v.status {
                VenueStatus::Filled => ("filled", "filled at the venue".to_owned()),
                VenueStatus::Expired => ("expired", "expired at the venue".to_owned()),
                VenueStatus::Rejected => ("rejected", "rejected by the venue".to_owned()),
                _ => ("cancelled", format!("{said} at the venue")),
            };
            return (status, format!("{words}{booked}"));
        }
        match &self.rejected {
            Some(why) => ("rejected", format!("refused by the venue: {why}")),
            None if self.filled >= self.order.qty.value() => ("filled", "filled".to_owned()),
            None if self.expired => ("expired", "its signal expired".to_owned()),
            None => ("cancelled", "cancelled".to_owned()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EquityPoint {
    pub seq: u64,
    /// The bar's time (market time).
    pub at: Timestamp,
    pub equity: Decimal,
    pub cash: Decimal,
    pub gross_exposure: Decimal,
    pub exposure_pct: Decimal,
    /// The auto-trim cap in force (`[risk] max_total_at_risk_pct`, or the journaled settings').
    pub exposure_cap_pct: Decimal,
}

/// One ops-journal record, its body as written.
#[derive(Debug, Clone)]
pub struct OpsItem {
    pub seq: u64,
    pub ts: Timestamp,
    pub kind: String,
    pub body: Box<serde_json::value::RawValue>,
}

fn push_bounded<T>(q: &mut VecDeque<T>, item: T) -> Option<T> {
    q.push_back(item);
    if q.len() > HISTORY_KEEP_COUNT {
        q.pop_front()
    } else {
        None
    }
}

/// The engine journal's histories.
#[derive(Debug, Default)]
pub struct History {
    pub fills: VecDeque<FillItem>,
    pub decisions: VecDeque<DecisionItem>,
    pub orders: VecDeque<OrderItem>,
    /// Client order id → key of its order in `orders`.
    order_keys: HashMap<String, u64>,
    pub equity: VecDeque<EquityPoint>,
}

fn verdict_items(v: &Verdict) -> (&'static str, &[ballast_core::guard::Reason]) {
    match v {
        Verdict::Approve => ("approve", &[]),
        Verdict::Resize { reasons, .. } => ("resize", reasons),
        Verdict::Reject { reasons } => ("reject", reasons),
    }
}

impl History {
    /// Fold one engine record (of journal seq `seq`) into the histories. The match names
    /// every record type: one that places an order, books a fill or closes an order is
    /// folded here; a new record type does not compile until it is placed on one side.
    pub fn index(&mut self, seq: u64, record: &EngineRecord) {
        match record {
            EngineRecord::Bar(b) => self.fills(seq, &b.fills),
            EngineRecord::VenueFills(v) => self.fills(seq, &v.fills),
            EngineRecord::Decision(d) => self.decision(seq, d),
            EngineRecord::KillSwitch(k) => self.orders_placed(seq, &k.orders, "kill_switch"),
            EngineRecord::Policy(p) => self.orders_placed(seq, &p.orders, "policy"),
            EngineRecord::Resolve(r) => self.orders_placed(seq, &r.orders, "reconcile"),
            EngineRecord::Liquidation(l) => {
                let orders: Vec<Order> = l
                    .actions
                    .iter()
                    .filter_map(|a| match a {
                        LiquidationAction::Place { order, .. } => Some(order.clone()),
                        _ => None,
                    })
                    .collect();
                self.orders_placed(seq, &orders, "liquidation");
            }
            EngineRecord::Sent(s) => {
                if let SendOutcome::Rejected { reason } = &s.outcome {
                    if let Some(o) = self.order_mut(s.client_order_id.as_str()) {
                        o.rejected = Some(reason.clone());
                    }
                }
            }
            EngineRecord::VenueOrder(v) => {
                if v.settle.status.is_terminal() {
                    if let Some(o) = self.order_mut(v.settle.client_order_id.as_str()) {
                        o.venue = Some(v.settle.clone());
                    }
                }
            }
            EngineRecord::Expired(e) => {
                for id in &e.cancelled {
                    if let Some(o) = self.order_mut(id.as_str()) {
                        o.expired = true;
                    }
                }
            }
            // Whether a looked-up order is still open is the engine state's answer (asked
            // when listing); these move no order and book no fill.
            EngineRecord::Settle(_)
            | EngineRecord::Stamp(_)
            | EngineRecord::Inbox(_)
            | EngineRecord::PaperSettings(_)
            | EngineRecord::Settings(_)
            | EngineRecord::FeedSwitch(_)
            | EngineRecord::Taken(_)
            | EngineRecord::Reconcile(_) => {}
        }
    }

    fn fills(&mut self, seq: u64, fills: &[ballast_core::domain::Fill]) {
        for (i, f) in fills.iter().enumerate().take(ITEM_MAX) {
            self.fill(seq, i, f);
        }
    }

    /// An equity point from the state just after a `market.bar` record was applied; `trim`:
    /// the configured auto-trim rules (the journaled settings' win).
    pub fn equity_point(&mut self, seq: u64, state: &EngineState, trim: &TrimRules) {
        let equity = state.portfolio.equity();
        let gross = state.portfolio.gross_exposure();
        let pct = if equity.is_zero() {
            Decimal::ZERO
        } else {
            (gross * Decimal::ONE_HUNDRED / equity).round_dp(2)
        };
        push_bounded(
            &mut self.equity,
            EquityPoint {
                seq,
                at: state.last_bar.unwrap_or(Timestamp::EPOCH),
                equity: equity.round_dp(2),
                cash: state.portfolio.cash.round_dp(2),
                gross_exposure: gross.round_dp(2),
                exposure_pct: pct,
                exposure_cap_pct: state.trim_or(trim).max_total_at_risk_pct,
            },
        );
    }

    fn fill(&mut self, seq: u64, i: usize, f: &ballast_core::domain::Fill) {
        if let Some(o) = self.order_mut(f.client_order_id.as_str()) {
            o.filled += f.qty.value();
        }
        push_bounded(
            &mut self.fills,
            FillItem {
                key: item_key(seq, i),
                seq,
                fill_id: f.fill_id.to_string(),
                client_order_id: f.client_order_id.as_str().to_owned(),
                symbol: f.symbol.as_str().to_owned(),
                side: f.side,
                qty: f.qty.value(),
                price: f.price.value(),
                fee: f.fee.value(),
                at: f.ts,
            },
        );
    }

    fn decision(&mut self, seq: u64, d: &ballast_core::engine::DecisionRecord) {
        let (verdict, reasons) = verdict_items(&d.verdict);
        let first = reasons.first();
        push_bounded(
            &mut self.decisions,
            DecisionItem {
                seq,
                signal_id: d.signal,
                at: d.at,
                symbol: d.symbol.as_str().to_owned(),
                side: d.side,
                strategy: d.strategy.clone(),
                reason: d.reason.clone(),
                verdict,
                check: first.map(|r| r.check.name()),
                limit: first.map(|r| r.limit),
                observed: first.map(|r| r.observed),
                requested_qty: d.candidate_qty,
                approved_qty: d.verdict.approved_qty(d.candidate_qty),
                reasons: reasons
                    .iter()
                    .map(|r| ReasonItem {
                        check: r.check.name(),
                        limit: r.limit,
                        observed: r.observed,
                        detail: r.detail.clone(),
                    })
                    .collect(),
                client_order_id: d
                    .order
                    .as_ref()
                    .map(|o| o.client_order_id.as_str().to_owned()),
            },
        );
        if let Some(o) = &d.order {
            self.orders_placed(seq, std::slice::from_ref(o), "signal");
        }
    }

    fn orders_placed(&mut self, seq: u64, orders: &[Order], origin: &'static str) {
        for (i, o) in orders.iter().enumerate().take(ITEM_MAX) {
            let id = o.client_order_id.as_str().to_owned();
            if self.order_keys.contains_key(&id) {
                continue; // a resend with the same id is the same order
            }
            let key = item_key(seq, i);
            self.order_keys.insert(id, key);
            let dropped = push_bounded(
                &mut self.orders,
                OrderItem {
                    key,
                    order: o.clone(),
                    origin,
                    filled: Decimal::ZERO,
                    rejected: None,
                    expired: false,
                    venue: None,
                },
            );
            if let Some(d) = dropped {
                self.order_keys.remove(d.order.client_order_id.as_str());
            }
        }
    }

    fn order_mut(&mut self, id: &str) -> Option<&mut OrderItem> {
        let key = *self.order_keys.get(id)?;
        let i = self.orders.binary_search_by_key(&key, |o| o.key).ok()?;
        self.orders.get_mut(i)
    }
}

/// Bytes of ops record bodies kept at most (the oldest are dropped beyond).
pub const OPS_KEPT_MAX_BYTES: usize = 32 << 20;

/// The ops journal's records, the newest [`HISTORY_KEEP_COUNT`] within [`OPS_KEPT_MAX_BYTES`].
#[derive(Debug, Default)]
pub struct OpsHistory {
    pub records: VecDeque<OpsItem>,
    bytes: usize,
}

impl OpsHistory {
    pub fn push(&mut self, item: OpsItem) {
        self.bytes += item.body.get().len();
        if let Some(old) = push_bounded(&mut self.records, item) {
            self.bytes -= old.body.get().len();
        }
        while self.bytes > OPS_KEPT_MAX_BYTES {
            let Some(old) = self.records.pop_front() else {
                break;
            };
            self.bytes -= old.body.get().len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(kind: &str, body: serde_json::Value) -> EngineRecord {
        EngineRecord::decode(kind, &body.to_string()).unwrap()
    }

    fn order(id: &str) -> serde_json::Value {
        serde_json::json!({"client_order_id": id, "symbol": "AAA", "side": "sell", "qty": "5",
            "kind": {"type": "market"}, "created_at": "2026-01-01T00:00:00Z"})
    }

    fn venue_word(id: &str, status: &str, filled: &str) -> EngineRecord {
        rec(
            "order.venue",
            serde_json::json!({"at": "2026-01-01T00:00:01Z",
                "settle": {"client_order_id": id, "status": status, "filled_qty": filled}}),
        )
    }

    #[test]
    fn a_flatten_is_listed_and_the_venues_terminal_word_closes_an_order() {
        let mut h = History::default();
        h.index(
            1,
            &rec(
                "reconcile.resolve",
                serde_json::json!({"at": "2026-01-01T00:00:00Z", "finding": "f-1",
                    "choice": "flatten", "symbol": "AAA", "before": "0", "after": "0",
                    "by": "operator", "orders": [order("bl-rec-1"), order("bl-rec-2"),
                    order("bl-rec-3"), order("bl-rec-4")]}),
            ),
        );
        let origins: Vec<&str> = h.orders.iter().map(|o| o.origin).collect();
        assert_eq!(origins, ["reconcile"; 4]);
        h.index(
            2,
            &rec(
                "venue.fills",
                serde_json::json!({"at": "2026-01-01T00:00:01Z", "fills": [{
                    "fill_id": "v-1@1", "client_order_id": "bl-rec-1", "symbol": "AAA",
                    "side": "sell", "qty": "5", "price": "10", "fee": "0",
                    "ts": "2026-01-01T00:00:01Z"}]}),
            ),
        );
        assert_eq!(h.fills.len(), 1, "a venue fill is listed");
        h.index(3, &venue_word("bl-rec-1", "filled", "5"));
        h.index(4, &venue_word("bl-rec-2", "canceled", "0"));
        h.index(5, &venue_word("bl-rec-3", "expired", "0"));
        h.index(6, &venue_word("bl-rec-4", "rejected", "0"));
        let closed: Vec<(&str, String)> = h.orders.iter().map(OrderItem::closed).collect();
        assert_eq!(
            closed,
            [
                ("filled", "filled at the venue".to_owned()),
                ("cancelled", "canceled at the venue".to_owned()),
                ("expired", "expired at the venue".to_owned()),
                ("rejected", "rejected by the venue".to_owned()),
            ]
        );
        assert_eq!(h.orders[0].filled, Decimal::from(5));
    }

    #[test]
    fn a_venue_fill_count_not_yet_booked_is_said() {
        let mut h = History::default();
        h.index(
            1,
            &rec(
                "engine.kill_switch",
                serde_json::json!({"at": "2026-01-01T00:00:00Z", "engaged": true,
                    "reason": "r", "orders": [order("bl-ks-1")]}),
            ),
        );
        h.index(2, &venue_word("bl-ks-1", "filled", "5"));
        let (status, words) = h.orders[0].closed();
        assert_eq!(status, "filled");
        assert!(
            words.contains("the venue reports 5 filled, 0 booked"),
            "{words}"
        );
    }
}
