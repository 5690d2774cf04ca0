//! At what price an open order fills against a bar, if it does (pure; `book.rs` describes the
//! model). Updates a stop's trigger and a trailing stop's best price on the way.

use ballast_core::market::Bar;
use rust_decimal::Decimal;

use crate::orders::{Kind, Order, Side};

const HUNDRED: Decimal = Decimal::ONE_HUNDRED;

/// The fill price of `o` on `bar`, or `None` if the bar does not reach it.
pub fn fill_price(o: &mut Order, bar: &Bar) -> Option<Decimal> {
    let side = o.req.side;
    match o.req.kind {
        Kind::Market => Some(bar.open),
        Kind::Limit => limit(side, o.req.limit_price?, bar),
        Kind::Stop => stop(side, o.req.stop_price?, bar),
        Kind::StopLimit => {
            let lim = o.req.limit_price?;
            if o.triggered {
                return limit(side, lim, bar);
            }
            let at = stop(side, o.req.stop_price?, bar)?;
            o.triggered = true;
            let within = match side {
                Side::Buy => at <= lim,
                Side::Sell => at >= lim,
            };
            within.then_some(at)
        }
        Kind::TrailingStop => trailing(o, bar),
    }
}

fn limit(side: Side, lim: Decimal, bar: &Bar) -> Option<Decimal> {
    match side {
        Side::Buy if bar.open <= lim => Some(bar.open),
        Side::Buy if bar.low <= lim => Some(lim),
        Side::Sell if bar.open >= lim => Some(bar.open),
        Side::Sell if bar.high >= lim => Some(lim),
        _ => None,
    }
}

fn stop(side: Side, stop: Decimal, bar: &Bar) -> Option<Decimal> {
    match side {
        Side::Buy if bar.high >= stop => Some(bar.open.max(stop)),
        Side::Sell if bar.low <= stop => Some(bar.open.min(stop)),
        _ => None,
    }
}

/// A sell trails below the highest price since submission, a buy above the lowest.
fn trailing(o: &mut Order, bar: &Bar) -> Option<Decimal> {
    let hwm = o.hwm.unwrap_or(bar.open);
    let offset = match (o.req.trail_price, o.req.trail_percent) {
        (Some(p), _) => p,
        (None, Some(pct)) => hwm * pct / HUNDRED,
        (None, None) => return None,
    };
    let hit = match o.req.side {
        Side::Sell => stop(Side::Sell, hwm - offset, bar),
        Side::Buy => stop(Side::Buy, hwm + offset, bar),
    };
    if hit.is_none() {
        o.hwm = Some(match o.req.side {
            Side::Sell => hwm.max(bar.high),
            Side::Buy => hwm.min(bar.low),
        });
    }
    hit
}
