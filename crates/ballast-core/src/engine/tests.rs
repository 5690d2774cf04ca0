use rust_decimal::Decimal;

use super::*;
use crate::config;
use crate::domain::{Fill, FillId, Notional, Price};

#[derive(Debug, Clone)]
enum Rec {
    Bar(BarRecord),
    Decision(DecisionRecord),
}

fn bars(n: usize) -> Vec<Bar> {
    let mut out = Vec::new();
    let mut seed = 7u64;
    let mut price = [100i64, 50];
    for day in 0..n {
        for (k, sym) in ["AAA", "BBB"].iter().enumerate() {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let step = (seed >> 59) as i64 - 15;
            let open = price[k];
            price[k] = (price[k] + step).max(5);
            let (o, c) = (Decimal::from(open), Decimal::from(price[k]));
            out.push(Bar {
                symbol: Symbol::new(sym).unwrap(),
                ts: Timestamp::from_unix_ms(day as i64 * 86_400_000),
                open: o,
                high: o.max(c),
                low: o.min(c),
                close: c,
                volume: Decimal::from(1_000_000),
            });
        }
    }
    out
}

fn setup() -> (EngineState, Limits) {
    let mut cfg = config::builtin().unwrap();
    cfg.strategy.fast = 3;
    cfg.strategy.slow = 8;
    let limits = Limits::from(&cfg);
    (EngineState::new(&cfg), limits)
}

/// Run live, returning the journal that a runtime would have written.
fn run(state: &mut EngineState, limits: &Limits, bars: &[Bar]) -> Vec<Rec> {
    let mut journal = Vec::new();
    for bar in bars {
        let r = state.bar_record(bar.clone());
        state.apply_bar(&r, limits).unwrap();
        journal.push(Rec::Bar(r));
        if let Some(d) = state.decide(limits, &Gate::default()) {
            state.apply_decision(&d, limits).unwrap();
            journal.push(Rec::Decision(d));
        }
    }
    journal
}

fn replay(journal: &[Rec], limits: &Limits) -> EngineState {
    let (mut s, _) = setup();
    for r in journal {
        match r {
            Rec::Bar(b) => s.apply_bar(b, limits).unwrap(),
            Rec::Decision(d) => s.apply_decision(d, limits).unwrap(),
        }
    }
    s
}

#[test]
fn the_engine_trades_and_replay_rebuilds_the_exact_state() {
    let (mut live, limits) = setup();
    let journal = run(&mut live, &limits, &bars(300));
    assert!(live.stats.orders > 10, "{:?}", live.stats);
    assert!(live.stats.fills >= live.stats.orders - 2);
    assert_eq!(replay(&journal, &limits), live);
    // A snapshot (serialized state) mid-way plus the rest of the journal gives the same state.
    let mid = journal.len() / 2;
    let snap = serde_json::to_string(&replay(&journal[..mid], &limits)).unwrap();
    let mut s: EngineState = serde_json::from_str(&snap).unwrap();
    for r in &journal[mid..] {
        match r {
            Rec::Bar(b) => s.apply_bar(b, &limits).unwrap(),
            Rec::Decision(d) => s.apply_decision(d, &limits).unwrap(),
        }
    }
    assert_eq!(s, live);
}

#[test]
fn a_crash_between_bar_and_decision_decides_once_after_recovery() {
    let (mut live, limits) = setup();
    let all = bars(300);
    let mut journal = run(&mut live, &limits, &all[..40]);
    // Find a bar that leaves a pending target; "crash" right after journaling it.
    let mut i = 40;
    loop {
        let r = live.bar_record(all[i].clone());
        live.apply_bar(&r, &limits).unwrap();
        journal.push(Rec::Bar(r));
        i += 1;
        if !live.pending.is_empty() {
            break;
        }
        if let Some(d) = live.decide(&limits, &Gate::default()) {
            live.apply_decision(&d, &limits).unwrap();
            journal.push(Rec::Decision(d));
        }
    }
    let before = live.decide(&limits, &Gate::default()).unwrap();
    // Recovery from the journal: the pending target is there, and decides the same way.
    let mut recovered = replay(&journal, &limits);
    let again = recovered.decide(&limits, &Gate::default()).unwrap();
    assert_eq!(
        again, before,
        "the same signal id, verdict and client_order_id"
    );
    recovered.apply_decision(&again, &limits).unwrap();
    assert!(
        recovered.decide(&limits, &Gate::default()).is_none(),
        "decided once"
    );
    assert!(
        recovered.apply_decision(&again, &limits).is_err(),
        "a second application is refused"
    );
}

#[test]
fn duplicate_unknown_and_over_fills_are_refused_and_counted() {
    let (mut s, limits) = setup();
    let journal = run(&mut s, &limits, &bars(120));
    let Some(Rec::Bar(with_fill)) = journal
        .iter()
        .find(|r| matches!(r, Rec::Bar(b) if !b.fills.is_empty()))
        .cloned()
    else {
        panic!("no fills in 120 bars");
    };
    let equity = s.portfolio.equity();
    let dup = BarRecord {
        bar: s.bar_record(with_fill.bar.clone()).bar,
        fills: with_fill.fills.clone(),
    };
    s.apply_bar(&dup, &limits).unwrap();
    assert!(s.stats.duplicate_fills >= 1);
    let stranger = Fill {
        fill_id: FillId::parse("x-1").unwrap(),
        client_order_id: crate::domain::ClientOrderId::parse("not-ours").unwrap(),
        symbol: Symbol::new("AAA").unwrap(),
        side: Side::Buy,
        qty: Quantity::new(Decimal::ONE).unwrap(),
        price: Price::new(Decimal::ONE).unwrap(),
        fee: Notional::ZERO,
        ts: Timestamp::EPOCH,
    };
    s.apply_bar(
        &BarRecord {
            bar: with_fill.bar.clone(),
            fills: vec![stranger],
        },
        &limits,
    )
    .unwrap();
    assert_eq!(s.stats.unknown_fills, 1);
    let _ = equity;
}
