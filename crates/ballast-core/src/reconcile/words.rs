//! The findings' words: what Ballast believes and what the broker says, as an operator reads
//! them (`Ballast holds 10 AAPL`, `the broker holds 15 AAPL (avg 101.20)`).

use rust_decimal::Decimal;

use crate::broker::VenueOrder;
use crate::domain::{ClientOrderId, Order, OrderKind, Symbol};

/// A quantity without trailing zeros.
pub(super) fn qty(q: Decimal) -> String {
    q.normalize().to_string()
}

/// `who holds 10 AAPL (avg 101.20)`, `who is short 5 AAPL`, `who holds no AAPL`.
pub(super) fn holds(who: &str, q: Decimal, symbol: &Symbol, avg: Option<Decimal>) -> String {
    let avg = avg
        .filter(|_| !q.is_zero())
        .map_or(String::new(), |a| format!(" (avg {a})"));
    if q.is_zero() {
        format!("{who} holds no {symbol}")
    } else if q.is_sign_negative() {
        format!("{who} is short {} {symbol}{avg}", qty(q.abs()))
    } else {
        format!("{who} holds {} {symbol}{avg}", qty(q))
    }
}

/// `buy 5 AAPL limit 100.00` / `sell 5 AAPL market`.
pub(super) fn order(o: &Order) -> String {
    let kind = match o.kind {
        OrderKind::Market => "market".to_owned(),
        OrderKind::Limit { limit_price } => format!("limit {limit_price}"),
    };
    format!("{} {} {} {kind}", o.side, qty(o.qty.value()), o.symbol)
}

/// What Ballast knows of an order it does not track.
pub(super) fn not_ours(id: &ClientOrderId) -> String {
    if id.as_str().starts_with("bl-") {
        format!(
            "Ballast does not track an open order {id} (its id is Ballast's kind, but no order of this journal is open under it)"
        )
    } else {
        format!("Ballast did not place this order (client_order_id {id})")
    }
}

/// A fill of an order Ballast does not own that would explain a position's difference.
pub(super) fn foreign_fill(o: &VenueOrder) -> String {
    let bought = match o.order.side {
        crate::domain::Side::Buy => "bought",
        crate::domain::Side::Sell => "sold",
    };
    format!(
        "order {} (not Ballast's, client_order_id {}) {bought} {} {}{} (status {}, at {})",
        o.venue_id,
        o.order.client_order_id,
        qty(o.filled_qty),
        o.order.symbol,
        o.filled_avg_price
            .map_or(String::new(), |p| format!(" at avg {p}")),
        o.status,
        o.updated_at
    )
}
