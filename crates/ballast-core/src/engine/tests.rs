use rust_decimal::Decimal;

use super::*;
use crate::config;
use crate::domain::{Fill, FillId, Notional, Price};

type Rec = EngineRecord;

fn apply(s: &mut EngineState, r: &Rec, limits: &Limits) {
    s.apply(r, limits).unwrap();
}

/// Send the intents to the paper venue, journaling the answers.
fn send(state: &mut EngineState, journal: &mut Vec<Rec>, at: Timestamp) {
    for r in state.paper_sends(at) {
        state.apply_sent(&r).unwrap();
        journal.push(Rec::Sent(r));
    }
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
    cfg.feed.symbols = vec![Symbol::new("AAA").unwrap(), Symbol::new("BBB").unwrap()];
    let limits = Limits::from(&cfg);
    (EngineState::new(&cfg), limits)
}

/// Run live, returning the journal that a runtime would have written.
fn run(state: &mut EngineState, limits: &Limits, bars: &[Bar]) -> Vec<Rec> {
    let mut journal = Vec::new();
    for bar in bars {
        let r = state.bar_record(*bar);
        state.apply_bar(&r, limits).unwrap();
        journal.push(Rec::Bar(r));
        if let Some(d) = state.decide(limits, &Gate::default()) {
            state.apply_decision(&d, limits).unwrap();
            journal.push(Rec::Decision(d));
        }
        send(state, &mut journal, bar.ts);
    }
    journal
}

fn replay(journal: &[Rec], limits: &Limits) -> EngineState {
    let (mut s, _) = setup();
    for r in journal {
        apply(&mut s, r, limits);
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
        apply(&mut s, r, &limits);
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
        let r = live.bar_record(all[i]);
        live.apply_bar(&r, &limits).unwrap();
        journal.push(Rec::Bar(r));
        i += 1;
        if !live.decisions.pending.is_empty() {
            break;
        }
        if let Some(d) = live.decide(&limits, &Gate::default()) {
            live.apply_decision(&d, &limits).unwrap();
            journal.push(Rec::Decision(d));
        }
        send(&mut live, &mut journal, all[i - 1].ts);
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
fn symbols_outside_the_universe_are_rejected_by_the_universe_check() {
    let mut cfg = config::builtin().unwrap();
    cfg.strategy.fast = 3;
    cfg.strategy.slow = 8;
    cfg.feed.symbols = vec![Symbol::new("AAA").unwrap(), Symbol::new("BBB").unwrap()];
    cfg.universe.min_avg_dollar_volume_usd = Decimal::from(1_000_000_000); // more than any bar has
    cfg.universe.force_eligible = vec![Symbol::new("BBB").unwrap()];
    let limits = Limits::from(&cfg);
    let mut s = EngineState::new(&cfg);
    run(&mut s, &limits, &bars(300));
    assert!(
        s.stats.rejections.get("universe").is_some_and(|n| *n > 5),
        "{:?}",
        s.stats.rejections
    );
    assert!(
        s.orders
            .tracked
            .values()
            .all(|o| o.order.symbol.as_str() == "BBB")
    );
    assert!(s.stats.orders > 0, "the forced symbol still trades");
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
        bar: s.bar_record(with_fill.bar).bar,
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
            bar: with_fill.bar,
            fills: vec![stranger],
        },
        &limits,
    )
    .unwrap();
    assert_eq!(s.stats.unknown_fills, 1);
    let _ = equity;
}

/// Run until an order intent is waiting to be sent; the journal so far.
fn until_an_intent(s: &mut EngineState, limits: &Limits, all: &[Bar]) -> (Vec<Rec>, usize) {
    let mut journal = Vec::new();
    for (i, bar) in all.iter().enumerate() {
        let r = s.bar_record(*bar);
        s.apply_bar(&r, limits).unwrap();
        journal.push(Rec::Bar(r));
        if let Some(d) = s.decide(limits, &Gate::default()) {
            s.apply_decision(&d, limits).unwrap();
            let ordered = d.order.is_some();
            journal.push(Rec::Decision(d));
            if ordered {
                return (journal, i + 1);
            }
        }
    }
    panic!("no order in {} bars", all.len());
}

#[test]
fn an_unknown_outcome_stays_in_flight_until_a_lookup_settles_it_without_a_duplicate() {
    for received in [true, false] {
        let (mut s, limits) = setup();
        let all = bars(300);
        let (mut journal, next) = until_an_intent(&mut s, &limits, &all);
        let intent = s.paper_sends(all[next - 1].ts);
        assert_eq!(intent.len(), 1);
        let id = intent[0].client_order_id.clone();
        let signal = match s.orders.tracked[&id].owner {
            Owner::Signal(sig) => sig,
            Owner::Liquidation(_) | Owner::KillSwitch | Owner::Policy | Owner::Reconcile => {
                unreachable!()
            }
        };
        // The reply is lost.
        let lost = SentRecord {
            outcome: SendOutcome::Unknown {
                error: "timeout".into(),
                paper_venue_received: received,
            },
            ..intent[0].clone()
        };
        s.apply_sent(&lost).unwrap();
        journal.push(Rec::Sent(lost));
        assert_eq!(s.unknown_orders(), 1);
        assert!(s.paper_sends(all[next].ts).is_empty(), "not resent blindly");
        assert_eq!(
            s.signals.get(signal).map(|x| x.state),
            Some(SignalState::Submitted),
            "in flight, never rejected for a timeout"
        );
        // Whatever the strategy says meanwhile, the in-flight quantity counts: no second order.
        let pending_before = s.pending_qty(&s.orders.tracked[&id].order.symbol);
        assert!(!pending_before.is_zero());
        // The lookup settles it, from the next bar on (a bar of the other symbol: it cannot
        // fill this order).
        assert!(s.paper_lookups(all[next - 1].ts).is_empty());
        let r = s.bar_record(all[next]);
        assert!(r.fills.iter().all(|f| f.client_order_id != id));
        s.apply_bar(&r, &limits).unwrap();
        journal.push(Rec::Bar(r));
        let looked = s.paper_lookups(all[next].ts);
        assert_eq!(looked.len(), 1);
        assert_eq!(looked[0].found, received);
        s.apply_settle(&looked[0]).unwrap();
        journal.push(Rec::Settle(looked[0].clone()));
        let resend = s.paper_sends(all[next].ts);
        if received {
            assert!(resend.is_empty());
            assert_eq!(s.stats.settled_by_lookup, 1);
        } else {
            assert_eq!(resend.len(), 1, "not found: sent again");
            assert_eq!(
                (resend[0].client_order_id.clone(), resend[0].attempt),
                (id.clone(), 2)
            );
            s.apply_sent(&resend[0]).unwrap();
            journal.push(Rec::Sent(resend[0].clone()));
        }
        assert_eq!(s.unknown_orders(), 0);
        // Exactly one order at the venue under that id, filled once on the next bar.
        assert_eq!(
            s.broker
                .open_orders()
                .filter(|(o, _)| o.client_order_id == id)
                .count(),
            1
        );
        let mut fills = 0;
        for bar in &all[next + 1..next + 5] {
            let r = s.bar_record(*bar);
            fills += r.fills.iter().filter(|f| f.client_order_id == id).count();
            s.apply_bar(&r, &limits).unwrap();
            journal.push(Rec::Bar(r));
        }
        assert_eq!(fills, 1);
        assert!(!s.orders.tracked.contains_key(&id));
        // And the journal replays to the same state.
        assert_eq!(replay(&journal, &limits), s);
    }
}

#[test]
fn a_fill_settles_an_unknown_order_and_a_venue_rejection_fails_its_signal() {
    let (mut s, limits) = setup();
    let all = bars(300);
    let (_, next) = until_an_intent(&mut s, &limits, &all);
    let sent = s.paper_sends(all[next - 1].ts).remove(0);
    let id = sent.client_order_id.clone();
    s.apply_sent(&SentRecord {
        outcome: SendOutcome::Unknown {
            error: "connection reset".into(),
            paper_venue_received: true,
        },
        ..sent.clone()
    })
    .unwrap();
    for bar in &all[next..next + 4] {
        let r = s.bar_record(*bar);
        s.apply_bar(&r, &limits).unwrap();
    }
    assert!(
        !s.orders.tracked.contains_key(&id),
        "filled: settled by the fill"
    );
    assert_eq!(s.unknown_orders(), 0);

    let (mut s, limits) = setup();
    let (_, next) = until_an_intent(&mut s, &limits, &all);
    let sent = s.paper_sends(all[next - 1].ts).remove(0);
    let symbol = s.orders.tracked[&sent.client_order_id].order.symbol;
    s.apply_sent(&SentRecord {
        outcome: SendOutcome::Rejected {
            reason: "insufficient buying power".into(),
        },
        ..sent.clone()
    })
    .unwrap();
    assert!(s.pending_qty(&symbol).is_zero());
    assert_eq!(s.stats.venue_rejections, 1);
    assert_eq!(
        s.signals.recent_done().next().map(|x| x.state),
        Some(SignalState::Failed)
    );
    assert!(
        s.apply_sent(&sent).is_err(),
        "a send for an order no longer tracked is refused"
    );
}

mod trim {
    use super::*;
    use crate::domain::ClientOrderId;
    use crate::engine::{LiquidationAction, LiquidationStep, TrimRules};

    fn bar_at(n: i64, close: i64, volume: i64) -> Bar {
        let c = Decimal::from(close);
        Bar {
            symbol: Symbol::new("AAA").unwrap(),
            ts: Timestamp::from_unix_ms(n * 86_400_000),
            open: c,
            high: c + Decimal::ONE,
            low: c - Decimal::ONE,
            close: c,
            volume: Decimal::from(volume),
        }
    }

    /// A state holding 400 AAA at 100 with 100,000 cash: exposure 40,000 of 100,000 equity.
    fn heavy() -> (EngineState, Limits, TrimRules) {
        let (mut s, limits) = setup();
        let fill = Fill {
            fill_id: FillId::parse("seed").unwrap(),
            client_order_id: ClientOrderId::parse("seed").unwrap(),
            symbol: Symbol::new("AAA").unwrap(),
            side: Side::Buy,
            qty: Quantity::new(Decimal::from(400)).unwrap(),
            price: Price::new(Decimal::from(100)).unwrap(),
            fee: Notional::ZERO,
            ts: Timestamp::EPOCH,
        };
        s.portfolio.apply_fill(&fill).unwrap();
        s.portfolio.cash = Decimal::from(60_000);
        s.apply_bar(&s.bar_record(bar_at(1, 100, 1_000_000)), &limits)
            .unwrap();
        s.decisions.pending.clear();
        let rules = TrimRules {
            max_total_at_risk_pct: Decimal::from(25),
            max_failures_before_alert: 3,
            patience_bars: 1,
            twap_slices: 3,
            headroom_pct: Decimal::from(5),
        };
        (s, limits, rules)
    }

    #[test]
    fn exposure_over_the_cap_is_trimmed_through_the_primary_route() {
        let (mut s, limits, rules) = heavy();
        let r = s.plan_liquidations(&rules, &Gate::default()).unwrap();
        // Down to 95 % of the 25,000 cap: 40,000 − 23,750 = 16,250 → 163 shares, with a limit
        // order at the last price.
        match &r.actions[..] {
            [
                LiquidationAction::Start { liquidation },
                LiquidationAction::Place {
                    step: LiquidationStep::Primary,
                    order,
                    ..
                },
            ] => {
                assert_eq!(liquidation.remaining, Decimal::from(163));
                assert_eq!(order.side, Side::Sell);
                assert_eq!(
                    order.limit_price().map(|p| p.value()),
                    Some(Decimal::from(100))
                );
            }
            other => panic!("{other:?}"),
        }
        s.apply_liquidation(&r);
        send(&mut s, &mut Vec::new(), Timestamp::EPOCH);
        s.apply_bar(&s.bar_record(bar_at(2, 100, 1_000_000)), &limits)
            .unwrap();
        assert_eq!(
            s.portfolio.qty(&Symbol::new("AAA").unwrap()),
            Decimal::from(237)
        );
        let r = s.plan_liquidations(&rules, &Gate::default()).unwrap();
        assert!(
            matches!(
                r.actions[..],
                [LiquidationAction::TrimEnded { success: true, .. }]
            ),
            "{r:?}"
        );
        s.apply_liquidation(&r);
        assert_eq!((s.orders.trim_failures, s.orders.trimming), (0, false));
        assert!(s.plan_liquidations(&rules, &Gate::default()).is_none());
    }

    #[test]
    fn the_path_falls_back_to_market_then_twap_and_repeated_failures_raise_an_alert() {
        let (mut s, limits, rules) = heavy();
        let mut steps = Vec::new();
        let mut alerts = Vec::new();
        for n in 2..60 {
            if let Some(r) = s.plan_liquidations(&rules, &Gate::default()) {
                for a in &r.actions {
                    match a {
                        LiquidationAction::Place { step, .. } => steps.push(*step),
                        LiquidationAction::Alert {
                            failures,
                            excess_usd,
                            ..
                        } => alerts.push((*failures, *excess_usd)),
                        _ => {}
                    }
                }
                s.apply_liquidation(&r);
                send(&mut s, &mut Vec::new(), Timestamp::EPOCH);
            }
            // No volume: nothing ever fills.
            s.apply_bar(&s.bar_record(bar_at(n, 100, 0)), &limits)
                .unwrap();
            s.decisions.pending.clear();
        }
        assert_eq!(
            &steps[..5],
            &[
                LiquidationStep::Primary,
                LiquidationStep::Market,
                LiquidationStep::Twap { slices_left: 3 },
                LiquidationStep::Twap { slices_left: 2 },
                LiquidationStep::Twap { slices_left: 1 },
            ]
        );
        assert_eq!(
            alerts.first(),
            Some(&(3, Decimal::from(15_000))),
            "after the third failed trim"
        );
        assert!(s.stats.liquidations_given_up >= 3);
        // The kill switch stops the liquidation path too.
        let ks = Gate {
            kill_switch: true,
            ..Gate::default()
        };
        assert!(s.plan_liquidations(&rules, &ks).is_none());
    }
}

#[test]
fn engaging_the_kill_switch_cancels_every_open_order_and_its_signal() {
    let (mut s, limits) = setup();
    let all = bars(300);
    let (_, next) = until_an_intent(&mut s, &limits, &all);
    let sent = s.paper_sends(all[next - 1].ts).remove(0);
    s.apply_sent(&sent).unwrap();
    let signal = match s.orders.tracked[&sent.client_order_id].owner {
        Owner::Signal(sig) => sig,
        Owner::Liquidation(_) | Owner::KillSwitch | Owner::Policy | Owner::Reconcile => {
            unreachable!()
        }
    };
    assert_eq!(s.broker.open_orders().count(), 1);
    let engage = s.kill_switch_record(true, "drill".into(), false, all[next - 1].ts);
    s.apply_kill_switch(&engage);
    assert!(s.orders.tracked.is_empty() && s.broker.open_orders().count() == 0);
    assert_eq!(s.stats.cancelled_by_kill_switch, 1);
    assert_eq!(
        s.signals.recent_done().next().map(|x| (x.id, x.state)),
        Some((signal, SignalState::Cancelled))
    );
    // Nothing fills afterwards, and the guard refuses new orders while it is engaged.
    for bar in &all[next..next + 4] {
        let r = s.bar_record(*bar);
        assert!(r.fills.is_empty());
        s.apply_bar(&r, &limits).unwrap();
    }
    assert!(s.controls.kill_switch.is_some());
    s.apply_kill_switch(&s.kill_switch_record(false, "resume".into(), false, all[next].ts));
    assert!(s.controls.kill_switch.is_none());
}

#[test]
fn the_stuck_signal_healer_expires_and_cancels_but_never_guesses_an_unknown_outcome() {
    for unknown in [false, true] {
        let (mut s, limits) = setup();
        let all = bars(300);
        let (_, next) = until_an_intent(&mut s, &limits, &all);
        let at = all[next - 1].ts;
        let mut sent = s.paper_sends(at).remove(0);
        if unknown {
            sent.outcome = SendOutcome::Unknown {
                error: "timeout".into(),
                paper_venue_received: true,
            };
        }
        s.apply_sent(&sent).unwrap();
        let signal = match s.orders.tracked[&sent.client_order_id].owner {
            Owner::Signal(sig) => sig,
            Owner::Liquidation(_) | Owner::KillSwitch | Owner::Policy | Owner::Reconcile => {
                unreachable!()
            }
        };
        // Daily bars: a signal waits three bar intervals (not an hour) before it is stuck.
        let (stuck_after, _) = s.stale_thresholds();
        assert_eq!(stuck_after, 3 * 86_400_000);
        assert!(
            s.expiry_record(at.plus_ms(86_400_000)).is_none(),
            "a day is normal"
        );
        assert!(s.expiry_record(at.plus_ms(stuck_after)).is_none());
        let later = at.plus_ms(stuck_after + 1);
        let r = s.expiry_record(later);
        if unknown {
            assert!(
                r.is_none(),
                "an unknown outcome is reconciled, never expired"
            );
            assert_eq!(s.unknown_orders(), 1);
            continue;
        }
        let r = r.expect("stale");
        assert_eq!(r.expired.len(), 1);
        assert_eq!(r.expired[0].0, signal);
        assert!(
            r.expired[0].1.contains("stuck in SUBMITTED"),
            "{}",
            r.expired[0].1
        );
        assert_eq!(r.cancelled, vec![sent.client_order_id.clone()]);
        // Replay of the record gives the same state as applying it live.
        let mut replayed = s.clone();
        s.apply_expiry(&r);
        replayed.apply_expiry(&serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap());
        assert_eq!(s, replayed);
        assert!(s.orders.tracked.is_empty() && s.broker.open_orders().count() == 0);
        assert_eq!(
            s.signals.get(signal).map(|x| x.state),
            Some(SignalState::Expired)
        );
        assert!(s.signals.live().all(|x| x.id != signal), "no longer live");
        assert_eq!(s.stats.signals_expired, 1);
        assert!(s.expiry_record(later.plus_ms(1)).is_none(), "healed once");
        let _ = limits;
    }
}

#[test]
fn item_7_an_over_long_inbox_line_is_one_rejection_across_its_continued_records() {
    let (mut s, _) = setup();
    let rec = |offset_after, line, outcome| InboxRecord {
        file: None,
        offset_after,
        line,
        outcome,
    };
    s.apply_inbox(&rec(
        65_536,
        1,
        InboxOutcome::Rejected {
            error: "too long".into(),
            quarantined: Some("quarantine/inbox/signals.jsonl.corrupt.20261201".into()),
            open: true,
            dropped: false,
        },
    ));
    assert_eq!(
        s.decisions.inbox_long_line.as_ref().map(|l| l.bytes),
        Some(65_536)
    );
    s.apply_inbox(&rec(
        65_536 + 1_000,
        1,
        InboxOutcome::Continued {
            bytes: 1_000,
            ended: false,
            dropped: true,
        },
    ));
    assert!(
        s.decisions
            .inbox_long_line
            .as_ref()
            .is_some_and(|l| l.dropped)
    );
    s.apply_inbox(&rec(
        65_536 + 1_010,
        1,
        InboxOutcome::Continued {
            bytes: 10,
            ended: true,
            dropped: false,
        },
    ));
    assert_eq!(s.decisions.inbox_long_line, None);
    assert_eq!(s.decisions.inbox_offset, 66_546);
    assert_eq!(s.decisions.inbox_lines, 1);
    assert_eq!(s.stats.inbox_rejected, 1, "one line, one rejection");
    assert_eq!(s.stats.inbox_quarantine_dropped, 1, "not kept whole");
    // A rotated inbox forgets the open line.
    s.apply_inbox(&rec(
        70_000,
        2,
        InboxOutcome::Rejected {
            error: "too long".into(),
            quarantined: None,
            open: true,
            dropped: true,
        },
    ));
    s.apply_inbox(&rec(
        0,
        0,
        InboxOutcome::Reset {
            previous_offset: 70_000,
        },
    ));
    assert_eq!(s.decisions.inbox_long_line, None);
}

mod poll;
mod venue;

#[test]
fn http_signals_taken_wait_with_their_source_and_a_notional_is_sized_at_the_last_price() {
    let (mut s, limits) = setup();
    let all = bars(2);
    for bar in &all {
        let r = s.bar_record(*bar);
        s.apply_bar(&r, &limits).unwrap();
    }
    let aaa = Symbol::new("AAA").unwrap();
    let last = s.portfolio.mark_of(&aaa).unwrap();
    let signal = |ask| crate::inbox::ExternalSignal {
        symbol: aaa,
        ask,
        reason: "http".into(),
        strategy: "bot".into(),
        limit_price: None,
        idempotency_key: None,
        ttl_secs: None,
    };
    let notional = Decimal::from(1000);
    s.apply(
        &Rec::Taken(TakenRecord {
            last_seq: 7,
            signals: vec![
                TakenSignal {
                    seq: 6,
                    signal: Some(signal(Ask::Notional {
                        side: Side::Buy,
                        notional,
                    })),
                    refused: None,
                    expired: false,
                },
                TakenSignal {
                    seq: 7,
                    signal: None,
                    refused: Some("expired".into()),
                    expired: true,
                },
            ],
        }),
        &limits,
    )
    .unwrap();
    assert_eq!(
        s.decisions.signals_seq, 7,
        "taking resumes after the last seq"
    );
    assert_eq!((s.stats.http_taken, s.stats.http_refused), (1, 1));
    assert_eq!(s.decisions.pending.len(), 1);
    let d = s.decide(&limits, &Gate::default()).unwrap();
    assert_eq!(
        d.source,
        Some(6),
        "the decision names its journal/signals seq"
    );
    assert_eq!(d.side, Side::Buy);
    assert_eq!(
        d.candidate_qty,
        (notional / last).round_dp_with_strategy(
            crate::limits::MAX_DECIMAL_PLACES,
            rust_decimal::RoundingStrategy::ToZero,
        )
    );
    assert!(d.candidate_qty * last <= notional);
    // The record survives a snapshot: the seq taken is engine state.
    let snap: EngineState = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
    assert_eq!(snap.decisions.signals_seq, 7);
    assert_eq!(snap.decisions.pending[0].source, Some(6));
}

#[test]
fn two_flattens_within_one_bar_never_share_a_client_order_id_even_across_a_snapshot() {
    let (mut s, limits) = setup();
    let all = bars(300);
    let mut next = 0;
    while s.portfolio.positions().next().is_none() {
        run(&mut s, &limits, &all[next..next + 1]);
        next += 1;
        assert!(next < all.len(), "the strategy opened a position");
    }
    let at = all[next - 1].ts;
    let first = s.kill_switch_record(true, "drill".into(), true, at);
    assert!(!first.orders.is_empty(), "a flatten closes the position");
    s.apply_kill_switch(&first);
    s.apply_kill_switch(&s.kill_switch_record(false, "resume".into(), false, at));
    // A snapshot between them (a restart) keeps the count.
    let text = serde_json::to_string(&s).unwrap();
    let mut s: EngineState = serde_json::from_str(&text).unwrap();
    let second = s.kill_switch_record(true, "again".into(), true, at);
    assert!(!second.orders.is_empty());
    s.apply_kill_switch(&second);
    let ids = |r: &KillSwitchRecord| -> Vec<String> {
        r.orders
            .iter()
            .map(|o| o.client_order_id.to_string())
            .collect()
    };
    for id in ids(&second) {
        assert!(
            !ids(&first).contains(&id),
            "{id} was the first flatten's too"
        );
    }
    // The policy's closing orders count on from the same number.
    let policy = s.policy_record(crate::policy::Policy::DefensiveExit, "drill".into(), at);
    for o in &policy.orders {
        let id = o.client_order_id.to_string();
        assert!(
            !ids(&first).contains(&id) && !ids(&second).contains(&id),
            "{id}"
        );
    }
}
