//! The verdict.

use rust_decimal::{Decimal, RoundingStrategy};

use super::state::OrderKey;
use super::{Account, Candidate, Check, Gate, GuardState, Limits, Reason, TradingState, Verdict};
use crate::time::Timestamp;

fn reason(check: Check, observed: Decimal, limit: Decimal, detail: impl Into<String>) -> Reason {
    Reason {
        check,
        observed,
        limit,
        detail: detail.into(),
    }
}

fn pct(part: Decimal, whole: Decimal) -> Decimal {
    if whole <= Decimal::ZERO {
        Decimal::ZERO
    } else {
        part / whole * Decimal::ONE_HUNDRED
    }
}

/// The largest `q ≥ 0` with `|pos + sign·q| ≤ bound` (`bound` in units), or a negative number
/// when even `q = 0` breaks it.
fn max_qty_within(pos: Decimal, sign: Decimal, bound: Decimal) -> Decimal {
    if bound < Decimal::ZERO {
        return bound;
    }
    // Moving away from zero: |pos| + q ≤ bound. Towards zero (and through it): q ≤ |pos| + bound.
    if pos.is_zero() || pos.is_sign_positive() == sign.is_sign_positive() {
        bound - pos.abs()
    } else {
        pos.abs() + bound
    }
}

/// Evaluate `c` against every check. Pure and deterministic.
pub fn evaluate(
    limits: &Limits,
    gate: &Gate,
    state: &GuardState,
    c: &Candidate,
    a: &Account,
    now: Timestamp,
) -> Verdict {
    let zero = Decimal::ZERO;
    let mut hard = Vec::new();
    let pos = a.position_qty;
    let reduce_only = c.is_reduce_only(pos);
    gate_checks(gate, c, pos, reduce_only, &mut hard);
    // A price to value the order at.
    let Some(price) = c
        .limit_price
        .filter(|p| *p > zero)
        .or(a.last_price.filter(|p| *p > zero))
    else {
        hard.push(reason(
            Check::ReferencePrice,
            zero,
            zero,
            "no last price for this symbol and no limit price",
        ));
        return Verdict::Reject { reasons: hard };
    };
    order_checks(limits, state, c, a, now, &mut hard);
    if !reduce_only {
        exposure_checks(limits, state, c, a, now, &mut hard);
    }
    if !hard.is_empty() {
        return Verdict::Reject { reasons: hard };
    }
    if reduce_only {
        return Verdict::Approve; // reductions always pass the exposure checks
    }
    let bounds = size_bounds(limits, gate, c, a, price);
    let scale = c.qty.normalize().scale();
    let mut allowed = c.qty;
    let mut reasons = Vec::new();
    for (check, max_q, observed, limit) in bounds {
        if max_q < c.qty {
            allowed = allowed.min(max_q);
            reasons.push(reason(
                check,
                observed,
                limit,
                format!(
                    "at most {} allowed",
                    max_q
                        .max(zero)
                        .round_dp_with_strategy(scale, RoundingStrategy::ToZero)
                ),
            ));
        }
    }
    if reasons.is_empty() {
        return Verdict::Approve;
    }
    let allowed = allowed
        .max(zero)
        .round_dp_with_strategy(scale, RoundingStrategy::ToZero);
    if allowed <= zero {
        Verdict::Reject { reasons }
    } else {
        Verdict::Resize {
            qty: allowed,
            reasons,
        }
    }
}

/// The checks of the gate and of the order itself: kill switch, mode, a valid order, the
/// trading state.
fn gate_checks(
    gate: &Gate,
    c: &Candidate,
    pos: Decimal,
    reduce_only: bool,
    hard: &mut Vec<Reason>,
) {
    let zero = Decimal::ZERO;
    if gate.kill_switch {
        hard.push(reason(
            Check::KillSwitch,
            Decimal::ONE,
            zero,
            "kill switch engaged: no orders until an operator releases it",
        ));
    }
    if let Some(why) = &gate.mode_refusal {
        hard.push(reason(Check::Mode, Decimal::ONE, zero, why.clone()));
    }
    if c.qty <= zero {
        hard.push(reason(
            Check::InvalidOrder,
            c.qty,
            zero,
            "quantity must be greater than zero",
        ));
    }
    if c.limit_price.is_some_and(|p| p <= zero) {
        hard.push(reason(
            Check::InvalidOrder,
            c.limit_price.unwrap_or(zero),
            zero,
            "limit price must be greater than zero",
        ));
    }
    match gate.trading_state {
        TradingState::Active => {}
        TradingState::Halted => hard.push(reason(
            Check::TradingState,
            Decimal::ONE,
            zero,
            "trading is HALTED",
        )),
        TradingState::Reducing if !reduce_only => hard.push(reason(
            Check::TradingState,
            c.qty,
            pos.abs(),
            if pos.is_zero() {
                "REDUCING: no new positions from flat"
            } else {
                "REDUCING: only orders that strictly reduce |position| pass"
            },
        )),
        TradingState::Reducing => {}
    }
}

/// The checks every order passes, reducing or not: price band, duplicates, open orders, order
/// rates.
fn order_checks(
    limits: &Limits,
    state: &GuardState,
    c: &Candidate,
    a: &Account,
    now: Timestamp,
    hard: &mut Vec<Reason>,
) {
    let zero = Decimal::ZERO;
    if let (Some(lp), Some(last)) = (c.limit_price, a.last_price.filter(|p| *p > zero)) {
        let dev = pct((lp - last).abs(), last);
        if dev > limits.max_price_deviation_pct {
            hard.push(reason(
                Check::PriceBand,
                dev,
                limits.max_price_deviation_pct,
                format!("limit {lp} vs last {last}, in %"),
            ));
        }
    }
    if let Some(k) = &c.idempotency_key {
        if state.key_seen(k) {
            hard.push(reason(
                Check::DuplicateOrder,
                Decimal::ONE,
                zero,
                format!("idempotency key {k:?} already used"),
            ));
        }
    }
    if let Some(t) = state.last_identical(&OrderKey::of(c)) {
        let age = now.ms_since(t);
        if age < limits.duplicate_window_ms {
            hard.push(reason(
                Check::DuplicateOrder,
                Decimal::from(age),
                Decimal::from(limits.duplicate_window_ms),
                "an identical order was sent this many ms ago, within the window",
            ));
        }
    }
    if a.open_orders >= limits.max_open_orders {
        hard.push(reason(
            Check::MaxOpenOrders,
            Decimal::from(a.open_orders + 1),
            Decimal::from(limits.max_open_orders),
            "",
        ));
    }
    let per_sec = state.submits_within(now, 1_000) + 1;
    if per_sec > limits.max_orders_per_second {
        hard.push(reason(
            Check::OrderRatePerSecond,
            Decimal::from(per_sec),
            Decimal::from(limits.max_orders_per_second),
            "",
        ));
    }
    let per_min = state.submits_within(now, 60_000) + 1;
    if per_min > limits.max_orders_per_minute {
        hard.push(reason(
            Check::OrderRatePerMinute,
            Decimal::from(per_min),
            Decimal::from(limits.max_orders_per_minute),
            "",
        ));
    }
}

/// The checks of an order that adds exposure: cooldowns, daily loss, drawdown, losing streak,
/// direction flip, positive equity.
fn exposure_checks(
    limits: &Limits,
    state: &GuardState,
    c: &Candidate,
    a: &Account,
    now: Timestamp,
    hard: &mut Vec<Reason>,
) {
    let zero = Decimal::ZERO;
    let pos = a.position_qty;
    if let Some(t) = state.last_trade(&c.symbol) {
        let since = now.ms_since(t);
        if since < limits.min_cooldown_ms {
            hard.push(reason(
                Check::Cooldown,
                Decimal::from(since),
                Decimal::from(limits.min_cooldown_ms),
                "ms since the last trade in this symbol, below the cooldown",
            ));
        }
    }
    if let Some(bars) = state.bars_since_trade(&c.symbol) {
        if bars < u64::from(limits.min_cooldown_bars) {
            hard.push(reason(
                Check::Cooldown,
                Decimal::from(bars),
                Decimal::from(limits.min_cooldown_bars),
                "bars since the last trade in this symbol, below the cooldown",
            ));
        }
    }
    hard.extend(loss_over(
        Check::DailyLoss,
        a.start_of_day_equity,
        a.equity,
        limits.daily_loss_limit_pct,
        "% of start-of-day equity lost today",
    ));
    hard.extend(loss_over(
        Check::MaxDrawdown,
        a.high_water_mark,
        a.equity,
        limits.max_drawdown_pct,
        "% below the equity high-water mark",
    ));
    if let Some(until) = state.streak_cooldown_until() {
        if now < until {
            hard.push(reason(
                Check::StopLossStreak,
                Decimal::from(until.ms_since(now)),
                zero,
                format!(
                    "{} losing exits in a row: new exposure blocked until {until}",
                    limits.stop_loss_streak
                ),
            ));
        }
    }
    let sign = c.side.sign();
    let after = pos + sign * c.qty;
    if !limits.allow_direction_flip
        && !pos.is_zero()
        && !after.is_zero()
        && after.is_sign_positive() != pos.is_sign_positive()
    {
        hard.push(reason(
            Check::DirectionFlip,
            after,
            zero,
            format!("position would go from {pos} to {after} in one order"),
        ));
    }
    if a.equity <= zero {
        hard.push(reason(
            Check::MaxPortfolioExposure,
            a.equity,
            zero,
            "equity is not positive: no new exposure",
        ));
    }
}

/// The loss from `base` to `equity` in % of `base`, when `base` is positive and the loss is
/// at or over `limit_pct`.
fn loss_over(
    check: Check,
    base: Decimal,
    equity: Decimal,
    limit_pct: Decimal,
    detail: &'static str,
) -> Option<Reason> {
    if base <= Decimal::ZERO {
        return None;
    }
    let lost = pct(base - equity, base);
    (lost >= limit_pct).then(|| reason(check, lost, limit_pct, detail))
}

/// `(check, max qty, observed, limit)`: the largest quantity one size limit allows.
type SizeBound = (Check, Decimal, Decimal, Decimal);

/// Size limits: the largest quantity each of them allows, valued at `price`.
fn size_bounds(
    limits: &Limits,
    gate: &Gate,
    c: &Candidate,
    a: &Account,
    price: Decimal,
) -> Vec<SizeBound> {
    let zero = Decimal::ZERO;
    let pos = a.position_qty;
    let sign = c.side.sign();
    let mut bounds: Vec<SizeBound> = Vec::with_capacity(6);
    let notional = c.qty * price;
    // The part of the order that closes an opposite position (the rest opens exposure).
    let closing = if pos.is_zero() || pos.is_sign_positive() == sign.is_sign_positive() {
        zero
    } else {
        pos.abs().min(c.qty)
    };
    if gate.size_multiplier < Decimal::ONE {
        // The safety policy shrinks new exposure, never the closing part.
        let max_q = closing + (c.qty - closing) * gate.size_multiplier.max(zero);
        bounds.push((Check::SizeMultiplier, max_q, c.qty, max_q));
    }
    bounds.push((
        Check::MaxNotionalPerOrder,
        limits.max_notional_per_order / price,
        notional,
        limits.max_notional_per_order,
    ));
    let after_value = (pos + sign * c.qty).abs() * price;
    bounds.push((
        Check::MaxPositionNotional,
        max_qty_within(pos, sign, limits.max_position_notional / price),
        after_value,
        limits.max_position_notional,
    ));
    // SAFE_RISK_PROFILE's leverage cap: the exposure limit shrinks with the size multiplier.
    let exposure_pct = if gate.size_multiplier < Decimal::ONE {
        limits.max_portfolio_exposure_pct * gate.size_multiplier.max(zero)
    } else {
        limits.max_portfolio_exposure_pct
    };
    let exposure_cap = exposure_pct * a.equity / Decimal::ONE_HUNDRED;
    let others = a.gross_exposure - pos.abs() * price;
    bounds.push((
        Check::MaxPortfolioExposure,
        max_qty_within(pos, sign, (exposure_cap - others) / price),
        pct(others + after_value, a.equity),
        exposure_pct,
    ));
    let conc_cap = limits.max_concentration_pct * a.equity / Decimal::ONE_HUNDRED;
    bounds.push((
        Check::MaxConcentration,
        max_qty_within(pos, sign, conc_cap / price),
        pct(after_value, a.equity),
        limits.max_concentration_pct,
    ));
    // Buying power: the part that adds exposure must be paid for, net of open orders.
    let available = a.cash - a.reserved_cash;
    bounds.push((
        Check::BuyingPower,
        closing + available / price,
        (c.qty - closing).max(zero) * price + a.reserved_cash,
        a.cash,
    ));

    bounds
}
