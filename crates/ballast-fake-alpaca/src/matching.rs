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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orders::Submit;
    use ballast_core::domain::Symbol;
    use ballast_core::time::Timestamp;

    fn d(n: i64) -> Decimal {
        Decimal::from(n)
    }

    fn bar(open: i64, high: i64, low: i64, close: i64) -> Bar {
        Bar {
            symbol: Symbol::new("AAPL").unwrap(),
            ts: Timestamp::EPOCH,
            open: d(open),
            high: d(high),
            low: d(low),
            close: d(close),
            volume: d(1000),
        }
    }

    fn order(kind: Kind, side: Side, limit: Option<i64>, stop: Option<i64>) -> Order {
        Order {
            id: "o".into(),
            client_order_id: "c".into(),
            asset_id: "a".into(),
            req: Submit {
                symbol: "AAPL".into(),
                side,
                kind,
                time_in_force: "gtc".into(),
                qty: Some(d(1)),
                notional: None,
                limit_price: limit.map(d),
                stop_price: stop.map(d),
                trail_price: None,
                trail_percent: None,
                extended_hours: false,
                client_order_id: None,
            },
            status: "new",
            filled_qty: Decimal::ZERO,
            filled_avg_price: None,
            triggered: false,
            hwm: None,
            created_at: 0,
            updated_at: 0,
            submitted_at: 0,
            filled_at: None,
            canceled_at: None,
            expired_at: None,
        }
    }

    #[test]
    fn limits_fill_at_the_open_or_the_limit_when_crossed() {
        let b = bar(100, 105, 95, 101);
        let mut buy = order(Kind::Limit, Side::Buy, Some(97), None);
        assert_eq!(fill_price(&mut buy, &b), Some(d(97)));
        let mut buy_above = order(Kind::Limit, Side::Buy, Some(102), None);
        assert_eq!(fill_price(&mut buy_above, &b), Some(d(100)));
        let mut sell = order(Kind::Limit, Side::Sell, Some(104), None);
        assert_eq!(fill_price(&mut sell, &b), Some(d(104)));
        let mut sell_far = order(Kind::Limit, Side::Sell, Some(106), None);
        assert_eq!(fill_price(&mut sell_far, &b), None);
    }

    #[test]
    fn stops_trigger_when_reached_and_fill_at_the_worse_price() {
        let b = bar(100, 105, 95, 101);
        let mut buy = order(Kind::Stop, Side::Buy, None, Some(103));
        assert_eq!(fill_price(&mut buy, &b), Some(d(103)));
        let mut gap = order(Kind::Stop, Side::Buy, None, Some(90));
        assert_eq!(
            fill_price(&mut gap, &b),
            Some(d(100)),
            "gapped through: the open"
        );
        let mut sell = order(Kind::Stop, Side::Sell, None, Some(94));
        assert_eq!(fill_price(&mut sell, &b), None);
    }

    #[test]
    fn a_stop_limit_triggers_then_rests_as_a_limit() {
        // Triggered at 103, limit 102: no fill on this bar, a resting limit after.
        let mut o = order(Kind::StopLimit, Side::Buy, Some(102), Some(103));
        assert_eq!(fill_price(&mut o, &bar(100, 105, 99, 104)), None);
        assert!(o.triggered);
        assert_eq!(fill_price(&mut o, &bar(104, 106, 103, 105)), None);
        assert_eq!(fill_price(&mut o, &bar(103, 104, 101, 102)), Some(d(102)));
    }

    #[test]
    fn a_trailing_sell_stop_follows_the_high() {
        let mut o = order(Kind::TrailingStop, Side::Sell, None, None);
        o.req.trail_price = Some(d(5));
        o.hwm = Some(d(100));
        // Stop at 95: not reached; the high moves the mark to 110.
        assert_eq!(fill_price(&mut o, &bar(100, 110, 96, 108)), None);
        assert_eq!(o.hwm, Some(d(110)));
        // Stop now 105: reached.
        assert_eq!(fill_price(&mut o, &bar(107, 108, 104, 104)), Some(d(105)));
        let mut pct = order(Kind::TrailingStop, Side::Buy, None, None);
        pct.req.trail_percent = Some(d(10));
        pct.hwm = Some(d(100));
        assert_eq!(fill_price(&mut pct, &bar(100, 109, 90, 95)), None);
        assert_eq!(pct.hwm, Some(d(90)));
        assert_eq!(fill_price(&mut pct, &bar(95, 100, 94, 99)), Some(d(99)));
    }
}
