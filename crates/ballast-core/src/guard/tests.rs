use proptest::prelude::*;
use rust_decimal::Decimal;

use super::*;
use crate::domain::{Side, Symbol};
use crate::time::Timestamp;

fn d(v: i64) -> Decimal {
    Decimal::from(v)
}

fn limits() -> Limits {
    Limits {
        max_position_notional: d(10_000),
        max_notional_per_order: d(5_000),
        max_portfolio_exposure_pct: d(50),
        max_concentration_pct: d(20),
        max_price_deviation_pct: d(10),
        min_cooldown_ms: 0,
        min_cooldown_bars: 0,
        max_open_orders: 5,
        max_orders_per_second: 2,
        max_orders_per_minute: 10,
        allow_direction_flip: false,
        duplicate_window_ms: 60_000,
        daily_loss_limit_pct: d(5),
        max_drawdown_pct: d(20),
        stop_loss_streak: 3,
        stop_loss_window_ms: 3_600_000,
        stop_loss_cooldown_ms: 3_600_000,
    }
}

fn account(pos: i64) -> Account {
    Account {
        position_qty: d(pos),
        last_price: Some(d(100)),
        equity: d(100_000),
        gross_exposure: d(pos.abs() * 100),
        cash: d(100_000 - pos * 100),
        open_orders: 0,
        reserved_cash: Decimal::ZERO,
        start_of_day_equity: d(100_000),
        high_water_mark: d(100_000),
    }
}

fn order(side: Side, qty: i64) -> Candidate {
    Candidate {
        symbol: Symbol::new("AAPL").unwrap(),
        side,
        qty: d(qty),
        limit_price: None,
        idempotency_key: None,
    }
}

const NOW: Timestamp = Timestamp::from_unix_ms(1_000_000_000);

fn verdict(gate: &Gate, state: &GuardState, c: &Candidate, a: &Account) -> Verdict {
    evaluate(&limits(), gate, state, c, a, NOW)
}

fn checks(v: &Verdict) -> Vec<Check> {
    match v {
        Verdict::Approve => vec![],
        Verdict::Reject { reasons } | Verdict::Resize { reasons, .. } => {
            reasons.iter().map(|r| r.check).collect()
        }
    }
}

#[test]
fn a_plain_order_within_limits_is_approved() {
    assert_eq!(
        verdict(
            &Gate::default(),
            &GuardState::default(),
            &order(Side::Buy, 10),
            &account(0)
        ),
        Verdict::Approve
    );
}

#[test]
fn reducing_state_passes_only_strict_reductions() {
    let gate = Gate {
        trading_state: TradingState::Reducing,
        ..Gate::default()
    };
    let s = GuardState::default();
    assert_eq!(
        checks(&verdict(&gate, &s, &order(Side::Buy, 1), &account(0))),
        vec![Check::TradingState],
        "from flat"
    );
    assert_eq!(
        checks(&verdict(&gate, &s, &order(Side::Buy, 1), &account(10))),
        vec![Check::TradingState],
        "growing"
    );
    assert!(
        checks(&verdict(&gate, &s, &order(Side::Sell, 11), &account(10)))
            .contains(&Check::TradingState),
        "flip"
    );
    assert_eq!(
        verdict(&gate, &s, &order(Side::Sell, 10), &account(10)),
        Verdict::Approve,
        "to flat"
    );
    assert_eq!(
        verdict(&gate, &s, &order(Side::Buy, 3), &account(-10)),
        Verdict::Approve,
        "short reduction"
    );
}

#[test]
fn reductions_pass_exposure_checks_even_over_the_limits() {
    let mut a = account(400); // 40,000 of AAPL: over the position and concentration limits
    a.cash = Decimal::ZERO;
    assert_eq!(
        verdict(
            &Gate::default(),
            &GuardState::default(),
            &order(Side::Sell, 100),
            &a
        ),
        Verdict::Approve
    );
    assert!(matches!(
        verdict(
            &Gate::default(),
            &GuardState::default(),
            &order(Side::Buy, 1),
            &a
        ),
        Verdict::Reject { .. }
    ));
}

#[test]
fn kill_switch_halted_and_mode_reject_everything() {
    let s = GuardState::default();
    let ks = Gate {
        kill_switch: true,
        ..Gate::default()
    };
    assert_eq!(
        checks(&verdict(&ks, &s, &order(Side::Sell, 1), &account(10))),
        vec![Check::KillSwitch]
    );
    let halted = Gate {
        trading_state: TradingState::Halted,
        ..Gate::default()
    };
    assert_eq!(
        checks(&verdict(&halted, &s, &order(Side::Sell, 1), &account(10))),
        vec![Check::TradingState]
    );
    let live = Gate {
        mode_refusal: Some("live mode is not armed".into()),
        ..Gate::default()
    };
    assert_eq!(
        checks(&verdict(&live, &s, &order(Side::Buy, 1), &account(0))),
        vec![Check::Mode]
    );
}

#[test]
fn sizes_are_resized_down_to_the_tightest_limit_with_reasons() {
    let v = verdict(
        &Gate::default(),
        &GuardState::default(),
        &order(Side::Buy, 80),
        &account(0),
    );
    // 80 × 100 = 8,000 > 5,000 per order → 50.
    match &v {
        Verdict::Resize { qty, reasons } => {
            assert_eq!(*qty, d(50));
            assert_eq!(reasons[0].check, Check::MaxNotionalPerOrder);
            assert_eq!(
                reasons[0].to_string(),
                "max_notional_per_order: 8000 > 5000 (at most 50 allowed)"
            );
        }
        other => panic!("{other:?}"),
    }
    let half = Gate {
        size_multiplier: Decimal::new(5, 1),
        ..Gate::default()
    };
    let v = verdict(
        &half,
        &GuardState::default(),
        &order(Side::Buy, 10),
        &account(0),
    );
    assert_eq!(v.approved_qty(d(10)), Some(d(5)));
    assert_eq!(v.deciding_check(), Some(Check::SizeMultiplier));
    // SAFE_RISK_PROFILE's leverage cap: the 50 % exposure limit becomes 25 %. With 24,000 of
    // other exposure on 100,000 equity, 1,000 is left: 10 shares at 100, whatever is asked.
    let mut a = account(0);
    a.gross_exposure = d(24_000);
    a.cash = d(76_000);
    let v = verdict(&half, &GuardState::default(), &order(Side::Buy, 40), &a);
    assert_eq!(v.approved_qty(d(40)), Some(d(10)), "{v:?}");
    assert!(checks(&v).contains(&Check::MaxPortfolioExposure), "{v:?}");
    // At full size the same order passes the exposure check.
    let v = verdict(
        &Gate::default(),
        &GuardState::default(),
        &order(Side::Buy, 40),
        &a,
    );
    assert_eq!(v.approved_qty(d(40)), Some(d(40)), "{v:?}");
}

#[test]
fn flips_price_band_and_missing_prices_are_rejected() {
    let s = GuardState::default();
    assert_eq!(
        checks(&verdict(
            &Gate::default(),
            &s,
            &order(Side::Sell, 20),
            &account(10)
        )),
        vec![Check::DirectionFlip]
    );
    let mut fat = order(Side::Buy, 1);
    fat.limit_price = Some(d(150));
    assert_eq!(
        checks(&verdict(&Gate::default(), &s, &fat, &account(0))),
        vec![Check::PriceBand]
    );
    let mut a = account(0);
    a.last_price = None;
    assert_eq!(
        checks(&verdict(&Gate::default(), &s, &order(Side::Buy, 1), &a)),
        vec![Check::ReferencePrice]
    );
}

#[test]
fn the_bar_cooldown_holds_back_new_exposure_but_never_an_exit() {
    let l = Limits {
        min_cooldown_bars: 3,
        ..limits()
    };
    let mut s = GuardState::default();
    let buy = order(Side::Buy, 1);
    let aapl = buy.symbol;
    s.on_bar(&aapl);
    assert_eq!(s.bars_since_trade(&aapl), None, "never traded: no cooldown");
    s.record_submit(&buy, NOW, &l);
    for bars in 0..3 {
        let v = evaluate(
            &l,
            &Gate::default(),
            &s,
            &buy,
            &account(0),
            NOW.plus_ms(86_400_000),
        );
        assert_eq!(
            checks(&v),
            vec![Check::Cooldown],
            "{bars} bars after the trade"
        );
        // Selling out of a long position is never held back.
        let exit = evaluate(
            &l,
            &Gate::default(),
            &s,
            &order(Side::Sell, 1),
            &account(5),
            NOW,
        );
        assert!(!checks(&exit).contains(&Check::Cooldown));
        s.on_bar(&aapl);
        // Bars of another symbol do not count.
        s.on_bar(&Symbol::new("IBM").unwrap());
    }
    let v = evaluate(
        &l,
        &Gate::default(),
        &s,
        &buy,
        &account(0),
        NOW.plus_ms(86_400_000),
    );
    assert!(!checks(&v).contains(&Check::Cooldown), "3 bars later");
}

#[test]
fn rates_duplicates_cooldown_and_streaks_use_the_state() {
    let l = Limits {
        min_cooldown_ms: 300_000,
        ..limits()
    };
    let mut s = GuardState::default();
    let mut keyed = order(Side::Buy, 1);
    keyed.idempotency_key = Some("sig-1".into());
    s.record_submit(&keyed, NOW.plus_ms(-100), &l);
    let v = evaluate(&l, &Gate::default(), &s, &keyed, &account(0), NOW);
    let c = checks(&v);
    assert!(
        c.contains(&Check::DuplicateOrder) && c.contains(&Check::Cooldown),
        "{c:?}"
    );
    let other = Candidate {
        symbol: Symbol::new("IBM").unwrap(),
        ..order(Side::Buy, 2)
    };
    s.record_submit(&other, NOW.plus_ms(-50), &l);
    let third = Candidate {
        symbol: Symbol::new("MSFT").unwrap(),
        ..order(Side::Buy, 3)
    };
    assert_eq!(
        checks(&evaluate(
            &l,
            &Gate::default(),
            &s,
            &third,
            &account(0),
            NOW
        )),
        vec![Check::OrderRatePerSecond]
    );
    assert_eq!(
        evaluate(
            &l,
            &Gate::default(),
            &s,
            &third,
            &account(0),
            NOW.plus_ms(2_000)
        ),
        Verdict::Approve
    );
    for i in 0..3 {
        s.record_exit(d(-10), NOW.plus_ms(i), &l);
    }
    let later = NOW.plus_ms(10_000);
    assert_eq!(
        checks(&evaluate(
            &l,
            &Gate::default(),
            &s,
            &third,
            &account(0),
            later
        )),
        vec![Check::StopLossStreak]
    );
    assert_eq!(
        evaluate(
            &l,
            &Gate::default(),
            &s,
            &third,
            &account(0),
            later.plus_ms(3_600_000)
        ),
        Verdict::Approve
    );
}

#[test]
fn loss_protections_block_new_exposure_but_not_exits() {
    let mut a = account(10);
    a.equity = d(94_000); // 6 % down on the day
    let s = GuardState::default();
    assert_eq!(
        checks(&verdict(&Gate::default(), &s, &order(Side::Buy, 1), &a)),
        vec![Check::DailyLoss]
    );
    assert_eq!(
        verdict(&Gate::default(), &s, &order(Side::Sell, 10), &a),
        Verdict::Approve
    );
    a.start_of_day_equity = d(94_000);
    a.high_water_mark = d(120_000);
    assert_eq!(
        checks(&verdict(&Gate::default(), &s, &order(Side::Buy, 1), &a)),
        vec![Check::MaxDrawdown]
    );
}

fn arb_state() -> impl Strategy<Value = TradingState> {
    prop_oneof![
        Just(TradingState::Active),
        Just(TradingState::Reducing),
        Just(TradingState::Halted)
    ]
}

prop_compose! {
    fn arb_case()(
        pos in -300i64..300,
        price_c in 100i64..50_000,
        qty in 1i64..400,
        buy in any::<bool>(),
        others in 0i64..200_000,
        extra_cash in -20_000i64..200_000,
        reserved in 0i64..20_000,
        state in arb_state(),
        mult_tenths in 1i64..=10,
        flip in any::<bool>(),
        l_pos in 1i64..50_000, l_order in 1i64..50_000, l_exp in 1i64..200, l_conc in 1i64..100,
    ) -> (Limits, Gate, Candidate, Account) {
        let price = Decimal::new(price_c, 2);
        let limits = Limits {
            max_position_notional: d(l_pos.max(l_order)),
            max_notional_per_order: d(l_order),
            max_portfolio_exposure_pct: d(l_exp),
            max_concentration_pct: d(l_conc),
            allow_direction_flip: flip,
            ..limits()
        };
        let cash = d(extra_cash);
        let gross = d(pos).abs() * price + d(others);
        let equity = cash + d(pos) * price + d(others) / d(2);
        let a = Account {
            position_qty: d(pos),
            last_price: Some(price),
            equity,
            gross_exposure: gross,
            cash,
            open_orders: 0,
            reserved_cash: d(reserved),
            start_of_day_equity: equity,
            high_water_mark: equity,
        };
        let gate = Gate { trading_state: state, size_multiplier: Decimal::new(mult_tenths, 1), ..Gate::default() };
        let c = Candidate {
            symbol: Symbol::new("AAPL").unwrap(),
            side: if buy { Side::Buy } else { Side::Sell },
            qty: d(qty),
            limit_price: None,
            idempotency_key: None,
        };
        (limits, gate, c, a)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn verdicts_are_deterministic((l, g, c, a) in arb_case()) {
        let s = GuardState::default();
        prop_assert_eq!(evaluate(&l, &g, &s, &c, &a, NOW), evaluate(&l, &g, &s, &c, &a, NOW));
    }

    #[test]
    fn in_reducing_an_approved_order_never_increases_exposure((l, g, c, a) in arb_case()) {
        let g = Gate { trading_state: TradingState::Reducing, ..g };
        let v = evaluate(&l, &g, &GuardState::default(), &c, &a, NOW);
        if let Some(q) = v.approved_qty(c.qty) {
            let after = a.position_qty + c.side.sign() * q;
            prop_assert!(after.abs() < a.position_qty.abs(), "{} -> {}", a.position_qty, after);
            prop_assert!(after.is_zero() || after.is_sign_positive() == a.position_qty.is_sign_positive(), "flipped");
        }
    }

    #[test]
    fn an_approved_order_never_breaches_a_limit((l, g, c, a) in arb_case()) {
        let v = evaluate(&l, &g, &GuardState::default(), &c, &a, NOW);
        let Some(q) = v.approved_qty(c.qty) else { return Ok(()) };
        prop_assert!(q > Decimal::ZERO && q <= c.qty);
        let pos = a.position_qty;
        let approved = Candidate { qty: q, ..c.clone() };
        if approved.is_reduce_only(pos) {
            prop_assert!(g.trading_state != TradingState::Halted);
            return Ok(());
        }
        prop_assert_eq!(g.trading_state, TradingState::Active);
        let p = a.last_price.unwrap();
        let after = pos + c.side.sign() * q;
        let after_value = after.abs() * p;
        let hundred = Decimal::ONE_HUNDRED;
        let closing = if pos.is_zero() || pos.is_sign_positive() == c.side.sign().is_sign_positive() { Decimal::ZERO } else { pos.abs().min(c.qty) };
        prop_assert!(q <= closing + (c.qty - closing) * g.size_multiplier, "size multiplier");
        prop_assert!(q * p <= l.max_notional_per_order, "order notional");
        prop_assert!(after_value <= l.max_position_notional, "position notional");
        let others = a.gross_exposure - pos.abs() * p;
        prop_assert!(others + after_value <= l.max_portfolio_exposure_pct * a.equity / hundred, "exposure");
        prop_assert!(after_value <= l.max_concentration_pct * a.equity / hundred, "concentration");
        prop_assert!((q - closing).max(Decimal::ZERO) * p + a.reserved_cash <= a.cash, "buying power");
        if !l.allow_direction_flip && !pos.is_zero() {
            prop_assert!(after.is_zero() || after.is_sign_positive() == pos.is_sign_positive(), "flip");
        }
    }
}

#[test]
fn item_20_a_gate_s_reason_is_said_in_words_a_limit_s_with_its_figures() {
    let halted = Reason {
        check: Check::TradingState,
        observed: Decimal::ONE,
        limit: Decimal::ZERO,
        detail: "trading is HALTED".into(),
    };
    assert_eq!(halted.to_string(), "trading_state: trading is HALTED");
    let notional = Reason {
        check: Check::MaxNotionalPerOrder,
        observed: Decimal::from(2500),
        limit: Decimal::from(2000),
        detail: String::new(),
    };
    assert_eq!(notional.to_string(), "max_notional_per_order: 2500 > 2000");
}
