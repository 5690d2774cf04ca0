//! The pass order and its lookups and sends, driven through [`EngineState::poll`] alone.

use rust_decimal::Decimal;

use super::*;

/// One pass of the core, carried out as a runtime would: each record applied, every send
/// answered by `answer`, every lookup by the paper book. The kinds journaled, in order.
fn pass(
    s: &mut EngineState,
    inputs: &mut Inputs<'_>,
    answer: &dyn Fn(u32) -> SendOutcome,
) -> Vec<&'static str> {
    let mut kinds = Vec::new();
    while let Some(next) = s.poll(inputs) {
        let r = match next {
            Next::Record(r) => r,
            Next::Lookup {
                client_order_id,
                at,
            } => Rec::Settle(SettleRecord {
                found: s.broker.lookup(&client_order_id).is_some(),
                client_order_id,
                at,
            }),
            Next::Send { order, attempt, at } => Rec::Sent(SentRecord {
                client_order_id: order.client_order_id,
                attempt,
                at,
                outcome: answer(attempt),
            }),
        };
        kinds.push(r.kind());
        s.apply(&r, inputs.limits).unwrap();
        assert!(kinds.len() < 100, "a pass ends: {kinds:?}");
    }
    kinds
}

#[test]
fn a_pass_goes_kill_switch_policy_decisions_then_sends_in_the_core() {
    let (mut s, limits) = setup();
    let all = bars(300);
    let (_, next) = until_an_intent(&mut s, &limits, &all);
    let trim = TrimRules {
        max_total_at_risk_pct: Decimal::from(100),
        max_failures_before_alert: 3,
        patience_bars: 1,
        twap_slices: 3,
        headroom_pct: Decimal::from(5),
    };
    let accepted = |_| SendOutcome::Accepted;
    // The intent the bar left is sent; nothing else is due.
    let mut inputs = Inputs::new(&limits, &trim);
    assert_eq!(pass(&mut s, &mut inputs, &accepted), [kinds::SENT]);
    assert_eq!(s.poll(&mut inputs), None, "a pass is over once it said so");
    // Kill switch and policy first, each once, then the pending target decided (refused: the
    // switch is engaged), nothing sent.
    let r = s.bar_record(all[next]);
    s.apply_bar(&r, &limits).unwrap();
    let mut inputs = Inputs::new(&limits, &trim);
    inputs.kill_switch = kill_switch::Step::Engage {
        reason: "drill".into(),
        flatten: false,
    };
    inputs.policy = Some(PolicyChange {
        policy: crate::policy::Policy::NoNewTrades,
        reason: "test".into(),
        releases: 0,
    });
    s.decisions.pending.push_back(PendingTarget {
        symbol: all[next].symbol,
        ask: Ask::Target {
            qty: Decimal::from(7),
        },
        reason: "test".into(),
        strategy: "test".into(),
        limit_price: None,
        idempotency_key: None,
        at: all[next].ts,
        source: None,
    });
    let kinds = pass(&mut s, &mut inputs, &accepted);
    assert_eq!(
        kinds,
        [kinds::KILL_SWITCH, kinds::POLICY, kinds::DECISION],
        "in the core's order"
    );
    assert!(s.controls.kill_switch.is_some() && s.orders.tracked.is_empty());
}

#[test]
fn a_lost_reply_is_looked_up_on_the_next_pass_then_sent_again_in_the_same_pass() {
    let (mut s, limits) = setup();
    let all = bars(300);
    let (_, next) = until_an_intent(&mut s, &limits, &all);
    let trim = TrimRules::from(&config::builtin().unwrap());
    let lost = |attempt| {
        if attempt == 1 {
            SendOutcome::Unknown {
                error: "timeout".into(),
                paper_venue_received: false,
            }
        } else {
            SendOutcome::Accepted
        }
    };
    let mut inputs = Inputs::new(&limits, &trim);
    assert_eq!(pass(&mut s, &mut inputs, &lost), [kinds::SENT]);
    assert_eq!(s.unknown_orders(), 1);
    // Not looked up on the bar it was lost on: same pass again gives nothing.
    assert!(pass(&mut s, &mut Inputs::new(&limits, &trim), &lost).is_empty());
    let r = s.bar_record(all[next]);
    s.apply_bar(&r, &limits).unwrap();
    // The next bar: looked up (the venue never got it), then sent again with attempt 2.
    let kinds = pass(&mut s, &mut Inputs::new(&limits, &trim), &lost);
    assert_eq!(kinds, [kinds::SETTLE, kinds::SENT]);
    assert_eq!(s.unknown_orders(), 0);
    assert_eq!(
        s.orders
            .tracked
            .values()
            .map(|t| t.attempts)
            .collect::<Vec<_>>(),
        [2]
    );
}

#[test]
fn a_record_reads_back_from_its_journal_type_and_body_and_from_its_serde_form() {
    let (mut s, limits) = setup();
    let all = bars(300);
    let (journal, _) = until_an_intent(&mut s, &limits, &all);
    for r in &journal {
        let body = serde_json::to_string(&r.body()).unwrap();
        assert_eq!(&Rec::decode(r.kind(), &body).unwrap(), r);
        let tagged = serde_json::to_value(r).unwrap();
        assert_eq!(tagged["type"], r.kind());
        assert_eq!(
            tagged["body"],
            serde_json::from_str::<serde_json::Value>(&body).unwrap()
        );
        assert_eq!(&serde_json::from_value::<Rec>(tagged).unwrap(), r);
    }
    let unknown = Rec::decode("engine.future", "{}").unwrap_err();
    assert!(unknown.contains("not one this build's engine"), "{unknown}");
    let bad = Rec::decode(kinds::BAR, "{}").unwrap_err();
    assert!(bad.starts_with("bad market.bar record: "), "{bad}");
}

#[test]
fn the_cancels_a_record_stands_for_are_said_before_it_is_applied() {
    let (mut s, limits) = setup();
    let all = bars(300);
    let (_, _) = until_an_intent(&mut s, &limits, &all);
    let id = s.orders.tracked.keys().next().cloned().unwrap();
    let at = s.last_bar.unwrap();
    let engage = Rec::KillSwitch(s.kill_switch_record(true, "drill".into(), false, at));
    assert_eq!(s.cancels(&engage), Cancels::All);
    let release = Rec::KillSwitch(s.kill_switch_record(false, "resume".into(), false, at));
    assert_eq!(s.cancels(&release), Cancels::None);
    let expiry = Rec::Expired(ExpiryRecord {
        at,
        expired: Vec::new(),
        cancelled: vec![id.clone()],
    });
    assert_eq!(s.cancels(&expiry), Cancels::These(vec![id]));
    assert_eq!(s.cancels(&Rec::Bar(s.bar_record(all[0]))), Cancels::None);
}
