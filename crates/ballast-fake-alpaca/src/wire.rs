//! The fake's answers as Alpaca writes them (ALPACA.md): every field of each object, `null`
//! where unset, decimals as strings, order times in UTC with microseconds. Built as JSON values
//! so schema-drift faults can remove or change a field.

use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::book::{Book, Position};
use crate::clock::{self, Micros};
use crate::orders::Order;

fn dec(d: Decimal) -> Value {
    Value::String(d.normalize().to_string())
}

fn opt_dec(d: Option<Decimal>) -> Value {
    d.map_or(Value::Null, dec)
}

fn opt_time(t: Option<Micros>) -> Value {
    t.map_or(Value::Null, |t| Value::String(clock::utc(t)))
}

/// The Order object.
pub fn order(o: &Order) -> Value {
    let r = &o.req;
    json!({
        "id": o.id,
        "client_order_id": o.client_order_id,
        "created_at": clock::utc(o.created_at),
        "updated_at": clock::utc(o.updated_at),
        "submitted_at": clock::utc(o.submitted_at),
        "filled_at": opt_time(o.filled_at),
        "expired_at": opt_time(o.expired_at),
        "canceled_at": opt_time(o.canceled_at),
        "failed_at": null,
        "replaced_at": null,
        "replaced_by": null,
        "replaces": null,
        "asset_id": o.asset_id,
        "symbol": r.symbol,
        "asset_class": "us_equity",
        "notional": opt_dec(r.notional),
        "qty": if r.notional.is_some() && o.filled_qty.is_zero() { Value::Null } else { opt_dec(r.qty) },
        "filled_qty": dec(o.filled_qty),
        "filled_avg_price": opt_dec(o.filled_avg_price),
        "order_class": "",
        "order_type": r.kind.as_str(),
        "type": r.kind.as_str(),
        "side": r.side.as_str(),
        "position_intent": null,
        "time_in_force": r.time_in_force,
        "limit_price": opt_dec(r.limit_price),
        "stop_price": opt_dec(r.stop_price),
        "status": o.status,
        "extended_hours": r.extended_hours,
        "legs": null,
        "trail_percent": opt_dec(r.trail_percent),
        "trail_price": opt_dec(r.trail_price),
        "hwm": opt_dec(o.hwm),
        "expires_at": null,
        "subtag": null,
        "source": null,
    })
}

/// A Position object.
pub fn position(book: &Book, symbol: &str, p: &Position) -> Value {
    let price = book.market.price(symbol).unwrap_or(p.avg_entry_price);
    let last = book.market.previous_price(symbol).unwrap_or(price);
    let asset_id = book
        .market
        .find(symbol)
        .map_or_else(String::new, |s| s.asset_id.clone());
    let market_value = p.qty * price;
    let cost_basis = p.qty * p.avg_entry_price;
    let pl = market_value - cost_basis;
    let intraday_pl = p.qty * (price - last);
    let ratio = |num: Decimal, den: Decimal| {
        if den.is_zero() {
            Decimal::ZERO
        } else {
            (num / den.abs()).round_dp(6)
        }
    };
    json!({
        "asset_id": asset_id,
        "symbol": symbol,
        "exchange": "NASDAQ",
        "asset_class": "us_equity",
        "asset_marginable": true,
        "avg_entry_price": dec(p.avg_entry_price),
        "qty": dec(p.qty),
        "qty_available": dec(p.qty),
        "side": if p.qty.is_sign_negative() { "short" } else { "long" },
        "market_value": dec(market_value),
        "cost_basis": dec(cost_basis),
        "unrealized_pl": dec(pl),
        "unrealized_plpc": dec(ratio(pl, cost_basis)),
        "unrealized_intraday_pl": dec(intraday_pl),
        "unrealized_intraday_plpc": dec(ratio(intraday_pl, p.qty * last)),
        "current_price": dec(price),
        "lastday_price": dec(last),
        "change_today": dec(ratio(price - last, last)),
    })
}

/// Every position, by symbol.
pub fn positions(book: &Book) -> Value {
    Value::Array(
        book.positions()
            .iter()
            .map(|(s, p)| position(book, s, p))
            .collect(),
    )
}

/// Who the account is (fixed at start).
#[derive(Debug, Clone)]
pub struct AccountId {
    pub id: String,
    pub number: String,
    pub created_at: Micros,
}

/// The Account object.
pub fn account(book: &Book, who: &AccountId) -> Value {
    let (long, short) = book.market_values();
    let equity = book.cash + long + short;
    let bp = book.buying_power();
    json!({
        "id": who.id,
        "account_number": who.number,
        "status": "ACTIVE",
        "crypto_status": "ACTIVE",
        "currency": "USD",
        "cash": dec(book.cash),
        "buying_power": dec(bp),
        "regt_buying_power": dec(bp),
        "daytrading_buying_power": dec(Decimal::ZERO),
        "non_marginable_buying_power": dec(bp),
        "equity": dec(equity),
        "last_equity": dec(equity),
        "portfolio_value": dec(equity),
        "long_market_value": dec(long),
        "short_market_value": dec(short),
        "initial_margin": dec(Decimal::ZERO),
        "maintenance_margin": dec(Decimal::ZERO),
        "last_maintenance_margin": dec(Decimal::ZERO),
        "sma": dec(Decimal::ZERO),
        "accrued_fees": dec(Decimal::ZERO),
        "pending_transfer_in": dec(Decimal::ZERO),
        "multiplier": "1",
        "daytrade_count": 0,
        "pattern_day_trader": false,
        "shorting_enabled": true,
        "trading_blocked": false,
        "transfers_blocked": false,
        "account_blocked": false,
        "trade_suspended_by_user": false,
        "created_at": clock::utc(who.created_at),
    })
}

/// The Clock object: the fake's market is always open; the next close is today's 16:00 New
/// York (21:00 UTC, or tomorrow's once past), the next open the following 09:30.
pub fn clock_now(now: Micros) -> Value {
    const DAY: i64 = 86_400_000_000;
    const CLOSE_IN_DAY: i64 = 21 * 3_600_000_000;
    const OPEN_IN_DAY: i64 = 14 * 3_600_000_000 + 30 * 60_000_000;
    let midnight = now.div_euclid(DAY) * DAY;
    let mut close = midnight + CLOSE_IN_DAY;
    if close <= now {
        close += DAY;
    }
    let open = close - CLOSE_IN_DAY + DAY + OPEN_IN_DAY;
    json!({
        "timestamp": clock::new_york(now),
        "is_open": true,
        "next_open": clock::new_york(open),
        "next_close": clock::new_york(close),
    })
}

/// An error body: `{"code": …, "message": …}`.
pub fn error(code: u32, message: &str) -> Value {
    json!({"code": code, "message": message})
}
