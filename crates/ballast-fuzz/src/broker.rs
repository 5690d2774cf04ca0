//! The broker's answers: `crates/ballast-alpaca`'s wire parsing of every body it reads (order,
//! order list, position list, account, clock, bars page, cancel-all entries, error bodies) and
//! the rate-limit headers it reads (`X-RateLimit-*`, `Retry-After`) into the rate budget.
//! The client reads a body within [`ballast_alpaca::client::MAX_BODY_BYTES`] before any of this.

use ballast_alpaca::client::MAX_BODY_BYTES;
use ballast_alpaca::model::{Account, BarsPage, CancelEntry, Clock, ErrorBody, Order, Position};
use ballast_alpaca::wire::decode;
use ballast_core::Timestamp;
use ballast_core::venue::budget::{Budget, BudgetConfig, Priority, ServerHint};

use crate::select;

/// A 2xx body of one of the calls (the selector picks which), decoded strictly and turned
/// into the engine's view as the adapter does; an error body read leniently.
pub fn responses(data: &[u8]) {
    let (sel, body) = select(data);
    if body.len() as u64 > MAX_BODY_BYTES {
        return;
    }
    match sel % 8 {
        0 => {
            if let Ok(o) = decode::<Order>("GET /v2/orders/{id}", body) {
                order(&o);
            }
        }
        1 => {
            if let Ok(list) = decode::<Vec<Order>>("GET /v2/orders", body) {
                list.iter().for_each(order);
            }
        }
        2 => {
            if let Ok(list) = decode::<Vec<Position>>("GET /v2/positions", body) {
                for p in &list {
                    let _ = p.to_venue("GET /v2/positions");
                }
            }
        }
        3 => {
            let _ = decode::<Account>("GET /v2/account", body);
        }
        4 => {
            let _ = decode::<Clock>("GET /v2/clock", body);
        }
        5 => {
            let _ = decode::<BarsPage>("GET /v2/stocks/bars", body);
        }
        6 => {
            let _ = decode::<Vec<CancelEntry>>("DELETE /v2/orders", body);
        }
        _ => {
            let e = ErrorBody::read(body);
            let _ = e.message.len();
        }
    }
}

fn order(o: &Order) {
    let _ = o.to_venue("GET /v2/orders");
    let _ = o.foreign_kind();
}

/// The rate-limit headers of an answer: four lines (`X-RateLimit-Limit`, `-Remaining`,
/// `-Reset`, `Retry-After`), the selector's low bit a 429; read as the client reads them, fed
/// to the rate budget at a time the selector moves, then asked for a slot.
pub fn headers(data: &[u8]) {
    let (sel, rest) = select(data);
    let text = String::from_utf8_lossy(rest);
    let mut lines = text.split('\n');
    let values: Vec<Option<&str>> = (0..4).map(|_| lines.next()).collect();
    let names = [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "retry-after",
    ];
    let status = if sel & 1 == 1 { 429 } else { 200 };
    let hint = ServerHint::from_headers(
        |name| {
            names
                .iter()
                .position(|n| *n == name)
                .and_then(|i| values[i])
        },
        status,
    );
    // Now: a fixed day, or far from it (a wall clock that stepped), as the selector says.
    let base = Timestamp::from_unix_ms(1_764_547_200_000);
    let now = match sel >> 1 & 3 {
        0 => base,
        1 => Timestamp::from_unix_ms(0),
        2 => base.plus_ms(i64::from(sel) * 3_600_000),
        _ => Timestamp::from_unix_ms(i64::MAX / 2),
    };
    let _ = hint.wait_ms(now);
    let Ok(mut budget) = Budget::new(BudgetConfig::per_minute(180)) else {
        return;
    };
    budget.observe(&hint, now);
    for priority in [Priority::Urgent, Priority::Polling] {
        let _ = budget.wait_ms(priority, now);
        let _ = budget.take(priority, now);
        let _ = budget.wait_ms(priority, now.plus_ms(61_000));
    }
}
