//! The venue's records in the engine state (`venue.fills`, `order.venue`, `reconcile.run`,
//! `reconcile.resolve`) and an external venue's journal, driven through `reconcile::diff`
//! as the runtime does: diff → records → journal → apply.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::*;
use crate::broker::{PositionSide, VenueAccount, VenueOrder, VenuePosition, VenueStatus};
use crate::reconcile::{
    self, Choice, FindingKind, OnDangerous, Rules, VenueAnswers, account_fingerprint,
};

const RULES: Rules = Rules {
    grace_ms: 5_000,
    max_lookups: 5,
    on_dangerous: OnDangerous::Halted,
};

fn d(n: &str) -> Decimal {
    n.parse().unwrap()
}

fn aaa() -> Symbol {
    Symbol::new("AAA").unwrap()
}

fn account() -> VenueAccount {
    VenueAccount {
        id: "acct-1".into(),
        cash: None,
    }
}

/// A fresh engine stamped for an external venue, and the journal so far (the stamp).
fn external() -> (EngineState, Limits, Vec<Rec>) {
    let (mut s, limits) = setup();
    let stamp = Rec::Stamp(JournalStamp {
        mode: "paper".into(),
        account: account_fingerprint(&account()),
        broker: "alpaca".into(),
        epoch: None,
    });
    apply(&mut s, &stamp, &limits);
    (s, limits, vec![stamp])
}

fn answers() -> VenueAnswers {
    VenueAnswers {
        account: Ok(account()),
        positions: Ok(Vec::new()),
        open_orders: Ok(Vec::new()),
        changed: Ok(Vec::new()),
        lookups: BTreeMap::new(),
    }
}

fn position(symbol: Symbol, qty: Decimal, avg: &str) -> VenuePosition {
    VenuePosition {
        symbol,
        qty,
        side: if qty.is_sign_negative() {
            PositionSide::Short
        } else {
            PositionSide::Long
        },
        avg_entry_price: d(avg),
    }
}

fn report(o: &Order, status: VenueStatus, filled: Decimal, avg: &str, at: Timestamp) -> VenueOrder {
    VenueOrder {
        order: o.clone(),
        remaining: o.qty.value() - filled,
        venue_id: format!("venue-{}", o.client_order_id),
        status,
        filled_qty: filled,
        filled_avg_price: Some(d(avg)),
        updated_at: at,
    }
}

/// One reconciliation cycle as the runtime carries it out: its fills, its settles, its run —
/// each journaled, then applied. The diff.
fn cycle(
    s: &mut EngineState,
    limits: &Limits,
    journal: &mut Vec<Rec>,
    v: &VenueAnswers,
    at: Timestamp,
) -> reconcile::Diff {
    let diff = reconcile::diff(s, v, &RULES, at);
    let recs = s.reconcile_records(&diff, false, RULES.on_dangerous, at);
    for r in recs {
        apply(s, &r, limits);
        journal.push(r);
    }
    diff
}

/// An intent sent and accepted by the external venue; its id and order.
fn accepted_order(s: &mut EngineState, limits: &Limits, journal: &mut Vec<Rec>) -> Order {
    let all = bars(300);
    let (j, next) = until_an_intent(s, limits, &all);
    journal.extend(j);
    let (id, t) = s.orders.tracked.iter().next().unwrap();
    let sent = Rec::Sent(SentRecord {
        client_order_id: id.clone(),
        attempt: 1,
        at: all[next - 1].ts,
        outcome: SendOutcome::Accepted,
    });
    let order = t.order.clone();
    apply(s, &sent, limits);
    journal.push(sent);
    order
}

#[test]
fn a_restart_in_the_middle_of_a_partial_fill_books_only_the_remainder() {
    let (mut s, limits, mut journal) = external();
    let o = accepted_order(&mut s, &limits, &mut journal);
    assert_eq!(
        s.broker.open_orders().count(),
        0,
        "the paper book is not touched"
    );
    let (qty, sign) = (o.qty.value(), o.side.sign());
    let half = qty / Decimal::TWO;
    let at = s.last_bar.unwrap().plus_ms(60_000);
    // Half filled at 100.
    let mut v = answers();
    v.open_orders = Ok(vec![report(
        &o,
        VenueStatus::PartiallyFilled,
        half,
        "100",
        at,
    )]);
    v.positions = Ok(vec![position(o.symbol, sign * half, "100")]);
    let later = at.plus_ms(60_000);
    let first = cycle(&mut s, &limits, &mut journal, &v, later);
    assert!(first.clean(), "{first:?}");
    let t = &s.orders.tracked[&o.client_order_id];
    assert_eq!((t.filled, t.filled_value), (half, half * d("100")));
    assert_eq!(s.portfolio.qty(&o.symbol), sign * half);
    // The restart: the journal replayed (and a snapshot of it) is the same state.
    let replayed = replay(&journal, &limits);
    assert_eq!(replayed, s);
    let snap: EngineState = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
    assert_eq!(snap, s);
    let mut s = snap;
    // Filled whole at an average of 101: the remainder is booked, at 102, and nothing more.
    let mut v = answers();
    v.changed = Ok(vec![report(&o, VenueStatus::Filled, qty, "101", later)]);
    v.positions = Ok(vec![position(o.symbol, sign * qty, "101")]);
    let end = later.plus_ms(60_000);
    let second = cycle(&mut s, &limits, &mut journal, &v, end);
    assert_eq!(second.fills.len(), 1, "{second:?}");
    let f = &second.fills[0];
    assert_eq!((f.qty.value(), f.price.value()), (qty - half, d("102")));
    assert_eq!(
        f.fill_id.as_str(),
        format!("venue-{}@{}", o.client_order_id, qty.normalize())
    );
    assert!(second.findings.is_empty(), "{second:?}");
    let p = s.portfolio.position(&o.symbol).unwrap();
    assert_eq!(
        (p.qty, p.avg_entry_price),
        (sign * qty, d("101")),
        "the broker's truth"
    );
    assert!(!s.orders.tracked.contains_key(&o.client_order_id));
    assert_eq!(
        s.signals.recent_done().last().map(|x| x.state),
        Some(SignalState::Filled)
    );
    // A second report, or the first record again, books nothing.
    let before = s.clone();
    let again = reconcile::diff(&s, &v, &RULES, end);
    assert!(
        again.fills.is_empty() && again.settles.is_empty() && again.clean(),
        "{again:?}"
    );
    let first_fills = journal
        .iter()
        .find(|r| matches!(r, Rec::VenueFills(_)))
        .cloned()
        .unwrap();
    apply(&mut s, &first_fills, &limits);
    assert_eq!(
        s.portfolio, before.portfolio,
        "a fill id booked twice books once"
    );
    assert_eq!(s.stats.duplicate_fills, before.stats.duplicate_fills + 1);
    assert_eq!(replay(&journal, &limits).portfolio, before.portfolio);
}

#[test]
fn adopt_clears_a_quantity_mismatch_with_before_and_after_and_lifts_the_latch() {
    let (mut s, limits, _) = external();
    s.portfolio.set_position(&aaa(), d("10"), d("100"));
    let (base, mut journal) = (s.clone(), Vec::new());
    let mut v = answers();
    v.positions = Ok(vec![position(aaa(), d("15"), "101.20")]);
    let at = Timestamp::from_unix_ms(1_000_000);
    let diff = cycle(&mut s, &limits, &mut journal, &v, at);
    assert_eq!(diff.findings.len(), 1);
    assert_eq!(s.gate().trading_state, TradingState::Halted, "latched");
    let summary = s.status().venue.reconcile.unwrap();
    assert_eq!(summary.findings[0].id, "quantity_mismatch:AAA");
    assert_eq!(s.status().trading_state, TradingState::Halted);
    // The operator adopts the broker's view.
    let r = s
        .resolve_record(
            "quantity_mismatch:AAA",
            Choice::Adopt,
            Some(&seen(&s, "quantity_mismatch:AAA")),
            "cli: the broker is right",
            at,
        )
        .unwrap();
    assert_eq!((r.before, r.after), (Some(d("10")), Some(d("15"))));
    assert_eq!(
        (r.symbol, r.by.as_str()),
        (Some(aaa()), "cli: the broker is right")
    );
    let r = Rec::Resolve(r);
    apply(&mut s, &r, &limits);
    journal.push(r);
    let p = s.portfolio.position(&aaa()).unwrap();
    assert_eq!((p.qty, p.avg_entry_price), (d("15"), d("101.20")));
    assert!(s.open_findings().is_empty());
    assert_eq!(
        s.gate().trading_state,
        TradingState::Active,
        "the latch is lifted"
    );
    assert!(s.status().venue.reconcile.unwrap().findings.is_empty());
    assert!(reconcile::diff(&s, &v, &RULES, at).clean());
    // A later difference is a finding again.
    v.positions = Ok(vec![position(aaa(), d("20"), "101.20")]);
    cycle(&mut s, &limits, &mut journal, &v, at.plus_ms(1));
    assert_eq!(s.open_findings()[0].local_qty, Some(d("15")));
    let mut replayed = base;
    for r in &journal {
        apply(&mut replayed, r, &limits);
    }
    assert_eq!(replayed, s);
    // With the reducing latch, trading is reducing.
    s.controls.reconcile.as_mut().unwrap().latch = OnDangerous::Reducing;
    assert_eq!(s.gate().trading_state, TradingState::Reducing);
}

#[test]
fn a_choice_is_refused_for_a_finding_not_open_or_not_offered_and_stay_halted_changes_nothing() {
    let (mut s, limits, mut journal) = external();
    let at = Timestamp::from_unix_ms(1_000_000);
    let e = s
        .resolve_record(
            "quantity_mismatch:AAA",
            Choice::Adopt,
            Some(&seen(&s, "quantity_mismatch:AAA")),
            "cli",
            at,
        )
        .unwrap_err();
    assert!(
        e.contains("\"quantity_mismatch:AAA\"") && e.contains("none is"),
        "{e}"
    );
    let mut v = answers();
    v.positions = Ok(vec![
        position(aaa(), d("10"), "100"),
        position(aaa(), d("10"), "100"),
    ]);
    cycle(&mut s, &limits, &mut journal, &v, at);
    let e = s
        .resolve_record(
            "unknown_position:AAA",
            Choice::Adopt,
            Some(&seen(&s, "unknown_position:AAA")),
            "cli",
            at,
        )
        .unwrap_err();
    assert!(
        e.contains("the open ones are duplicate_position:AAA"),
        "{e}"
    );
    let e = s
        .resolve_record(
            "duplicate_position:AAA",
            Choice::Flatten,
            Some(&seen(&s, "duplicate_position:AAA")),
            "cli",
            at,
        )
        .unwrap_err();
    assert_eq!(
        e,
        "finding duplicate_position:AAA does not offer flatten; its choices are stay_halted"
    );
    let before = s.clone();
    let r = s
        .resolve_record(
            "duplicate_position:AAA",
            Choice::StayHalted,
            Some(&seen(&s, "duplicate_position:AAA")),
            "cli",
            at,
        )
        .unwrap();
    apply(&mut s, &Rec::Resolve(r), &limits);
    assert_eq!(s, before, "recorded, nothing changes");
    assert_eq!(s.gate().trading_state, TradingState::Halted);
}

#[test]
fn flatten_closes_the_broker_s_position_and_the_finding_closes_when_it_fills() {
    let (mut s, limits, mut journal) = external();
    let at = Timestamp::from_unix_ms(1_000_000);
    let mut v = answers();
    v.positions = Ok(vec![position(aaa(), d("15"), "101.20")]);
    cycle(&mut s, &limits, &mut journal, &v, at);
    assert_eq!(s.open_findings()[0].kind, FindingKind::UnknownPosition);
    let r = s
        .resolve_record(
            "unknown_position:AAA",
            Choice::Flatten,
            Some(&seen(&s, "unknown_position:AAA")),
            "api: operator",
            at,
        )
        .unwrap();
    assert_eq!(r.orders.len(), 1);
    let o = r.orders[0].clone();
    assert_eq!(o.client_order_id.as_str(), format!("bl-rec-{}-1", s.bars));
    assert_eq!(
        (o.side, o.qty.value(), o.kind),
        (Side::Sell, d("15"), OrderKind::Market)
    );
    let r = Rec::Resolve(r);
    apply(&mut s, &r, &limits);
    journal.push(r);
    assert_eq!(s.orders.tracked[&o.client_order_id].owner, Owner::Reconcile);
    assert_eq!(s.open_findings().len(), 1, "open until the order fills");
    let again = s
        .resolve_record(
            "unknown_position:AAA",
            Choice::Flatten,
            Some(&seen(&s, "unknown_position:AAA")),
            "api: operator",
            at,
        )
        .unwrap_err();
    assert!(
        again.contains("being flattened") && again.contains(o.client_order_id.as_str()),
        "a second flatten would sell twice: {again}"
    );
    assert_eq!(
        s.portfolio.qty(&aaa()),
        d("15"),
        "the books take the broker's quantity"
    );
    // Sent, then filled at the venue.
    let sent = Rec::Sent(SentRecord {
        client_order_id: o.client_order_id.clone(),
        attempt: 1,
        at,
        outcome: SendOutcome::Accepted,
    });
    apply(&mut s, &sent, &limits);
    journal.push(sent);
    let mut v = answers();
    v.changed = Ok(vec![report(&o, VenueStatus::Filled, d("15"), "99", at)]);
    let diff = cycle(&mut s, &limits, &mut journal, &v, at.plus_ms(60_000));
    assert_eq!(diff.fills.len(), 1);
    assert!(s.open_findings().is_empty(), "{:?}", s.open_findings());
    assert!(s.portfolio.qty(&aaa()).is_zero() && s.controls.flattening.is_empty());
    assert_eq!(
        s.controls.reconcile_orders, 1,
        "the next flatten order is bl-rec-…-2"
    );
    assert_eq!(replay(&journal, &limits), s);
}

#[test]
fn the_venue_s_terminal_word_settles_an_order_and_counts_it() {
    for (status, want, rejections) in [
        (VenueStatus::Canceled, SignalState::Cancelled, 0),
        (VenueStatus::Replaced, SignalState::Cancelled, 0),
        (VenueStatus::Expired, SignalState::Expired, 0),
        (VenueStatus::Rejected, SignalState::Failed, 1),
    ] {
        let (mut s, limits, mut journal) = external();
        let o = accepted_order(&mut s, &limits, &mut journal);
        let at = s.last_bar.unwrap();
        let mut v = answers();
        v.changed = Ok(vec![report(&o, status.clone(), Decimal::ZERO, "1", at)]);
        let diff = cycle(&mut s, &limits, &mut journal, &v, at.plus_ms(60_000));
        assert_eq!(diff.settles.len(), 1, "{status}: {diff:?}");
        assert!(s.orders.tracked.is_empty());
        assert_eq!(s.stats.settled_by_venue, 1);
        assert_eq!(s.stats.venue_rejections, rejections);
        assert_eq!(
            s.signals.recent_done().last().map(|x| x.state),
            Some(want),
            "{status}"
        );
        assert_eq!(replay(&journal, &limits), s);
    }
}

#[test]
fn a_liquidation_whose_order_the_venue_rejected_moves_to_its_next_step() {
    let (mut s, _limits, _) = external();
    s.portfolio.set_position(&aaa(), d("10"), d("100"));
    s.last_bar = Some(Timestamp::from_unix_ms(1_000));
    let o = closing_order(
        s.portfolio.position(&aaa()).unwrap(),
        "bl-liq-1-1",
        Timestamp::EPOCH,
    )
    .unwrap();
    s.orders.liquidations.insert(
        1,
        Liquidation {
            id: 1,
            symbol: aaa(),
            side: Side::Sell,
            remaining: d("10"),
            step: LiquidationStep::Primary,
            order: Some(o.client_order_id.clone()),
            attempt: 1,
            bars_seen: 0,
            reason: "test".into(),
            cancelling: false,
        },
    );
    s.track_intent(&o, Owner::Liquidation(1));
    s.apply_venue_order(&VenueOrderRecord {
        at: Timestamp::EPOCH,
        settle: reconcile::VenueSettle {
            client_order_id: o.client_order_id.clone(),
            status: VenueStatus::Rejected,
            filled_qty: Decimal::ZERO,
        },
    });
    let trim = TrimRules {
        max_total_at_risk_pct: Decimal::from(100),
        max_failures_before_alert: 3,
        patience_bars: 5,
        twap_slices: 3,
        headroom_pct: Decimal::from(5),
    };
    let plan = s.plan_liquidations(&trim, &s.gate()).unwrap();
    assert!(
        plan.actions.iter().any(|a| matches!(
            a,
            LiquidationAction::Place {
                step: LiquidationStep::Market,
                cancel: None,
                ..
            }
        )),
        "{plan:?}"
    );
}

#[test]
fn an_external_venue_s_journal_never_touches_the_paper_book() {
    let (mut s, limits, mut journal) = external();
    let o = accepted_order(&mut s, &limits, &mut journal);
    assert_eq!(s.broker.open_orders().count(), 0);
    let r = s.bar_record(bars(300)[0]);
    assert!(r.fills.is_empty(), "fills come only from venue.fills");
    // An unknown outcome is looked up at the venue, never in the paper book.
    let t = s.orders.tracked.get_mut(&o.client_order_id).unwrap();
    t.send = SendState::Unknown {
        since: Timestamp::EPOCH,
        error: "timeout".into(),
        at_bar: 0,
    };
    s.bars += 1;
    assert!(s.paper_lookups(Timestamp::EPOCH).is_empty());
    let ks = s.kill_switch_record(true, "drill".into(), false, Timestamp::EPOCH);
    s.apply_kill_switch(&ks);
    assert_eq!(s.broker.open_orders().count(), 0);
    // A paper journal's stamp is written as before; an external one names its broker.
    let paper = JournalStamp {
        mode: "paper".into(),
        account: "paper".into(),
        broker: PAPER.into(),
        epoch: None,
    };
    assert_eq!(
        serde_json::to_string(&paper).unwrap(),
        r#"{"mode":"paper","account":"paper"}"#
    );
    let old: JournalStamp = serde_json::from_str(r#"{"mode":"paper","account":"paper"}"#).unwrap();
    assert_eq!(old, paper);
    let Some(Rec::Stamp(ext)) = journal.first() else {
        panic!()
    };
    assert!(
        serde_json::to_string(ext)
            .unwrap()
            .ends_with(r#","broker":"alpaca"}"#)
    );
    // A track with nothing filled is written as before (no filled_value).
    let (mut p, limits) = setup();
    let _ = until_an_intent(&mut p, &limits, &bars(300));
    let json = serde_json::to_string(p.orders.tracked.values().next().unwrap()).unwrap();
    assert!(!json.contains("filled_value"), "{json}");
    let json = serde_json::to_string(&p).unwrap();
    assert!(!json.contains("reconcile"), "{json}");
}

#[test]
fn adopting_an_order_ballast_does_not_own_acknowledges_it_across_a_snapshot() {
    let (mut s, limits, mut journal) = external();
    let at = Timestamp::from_unix_ms(1_000_000);
    let theirs = Order {
        client_order_id: ClientOrderId::parse("manual-1").unwrap(),
        symbol: aaa(),
        side: Side::Buy,
        qty: Quantity::new(d("3")).unwrap(),
        kind: OrderKind::Market,
        tif: TimeInForce::Day,
        created_at: Timestamp::EPOCH,
    };
    let mut v = answers();
    v.open_orders = Ok(vec![report(
        &theirs,
        VenueStatus::New,
        Decimal::ZERO,
        "1",
        Timestamp::EPOCH,
    )]);
    cycle(&mut s, &limits, &mut journal, &v, at);
    let id = "foreign_order:venue-manual-1";
    assert_eq!(s.open_findings()[0].id, id);
    let r = Rec::Resolve(
        s.resolve_record(id, Choice::Adopt, Some(&seen(&s, id)), "cli", at)
            .unwrap(),
    );
    apply(&mut s, &r, &limits);
    journal.push(r);
    let snap: EngineState = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
    assert!(
        reconcile::diff(&snap, &v, &RULES, at).clean(),
        "not flagged again"
    );
    assert_eq!(replay(&journal, &limits), s);
}

#[test]
fn a_paper_engine_reconciled_against_its_own_paper_venue_is_clean() {
    use crate::broker::{Broker, PaperChaos, PaperVenue};
    let (mut s, limits) = setup();
    let all = bars(300);
    let _ = run(&mut s, &limits, &all[..151]);
    assert!(s.portfolio.positions().count() > 0 || !s.orders.tracked.is_empty());
    let mut venue = PaperVenue::new(&s.broker, &s.portfolio, PaperChaos::default());
    let v = VenueAnswers {
        account: venue.account().map_err(|e| e.to_string()),
        positions: venue.positions().map_err(|e| e.to_string()),
        open_orders: venue.open_orders().map_err(|e| e.to_string()),
        changed: venue
            .orders_since(None, 500)
            .map(|p| p.orders)
            .map_err(|e| e.to_string()),
        lookups: BTreeMap::new(),
    };
    let mut stamped = s.clone();
    stamped.controls.stamp = Some(JournalStamp {
        mode: "paper".into(),
        account: PAPER.into(),
        broker: PAPER.into(),
        epoch: None,
    });
    let diff = reconcile::diff(&stamped, &v, &RULES, all[150].ts);
    assert!(diff.clean(), "{diff:?}");
}

#[test]
fn a_choice_about_a_finding_a_later_run_closed_changes_nothing_and_replays() {
    let (mut s, limits, _) = external();
    s.portfolio.set_position(&aaa(), d("10"), d("100"));
    let mut journal = Vec::new();
    let at = Timestamp::from_unix_ms(1_000_000);
    let mut v = answers();
    v.positions = Ok(vec![position(aaa(), d("15"), "101.20")]);
    cycle(&mut s, &limits, &mut journal, &v, at);
    let r = s
        .resolve_record(
            "quantity_mismatch:AAA",
            Choice::Adopt,
            Some(&seen(&s, "quantity_mismatch:AAA")),
            "cli",
            at,
        )
        .unwrap();
    // The broker's answer agrees again before the choice is applied: the run closes it.
    v.positions = Ok(vec![position(aaa(), d("10"), "100")]);
    cycle(&mut s, &limits, &mut journal, &v, at.plus_ms(1));
    let before = s.clone();
    apply(&mut s, &Rec::Resolve(r), &limits);
    assert_eq!(s, before);
    assert_eq!(s.portfolio.qty(&aaa()), d("10"));
}

proptest::proptest! {
    /// Whatever the venue reports, in whatever order and however often: each part of the
    /// order is booked once, the books end at the venue's filled quantity and value, and the
    /// journal replays to the same state.
    #[test]
    fn cumulative_reports_book_each_fill_once_whatever_the_repeats(
        steps in proptest::collection::vec((0u32..4, 90u32..110, proptest::bool::ANY, proptest::bool::ANY), 1..12),
    ) {
        let (mut s, limits, mut journal) = external();
        let o = Order {
            client_order_id: ClientOrderId::parse("bl-rec-0-1").unwrap(),
            symbol: aaa(),
            side: Side::Buy,
            qty: Quantity::new(d("20")).unwrap(),
            kind: OrderKind::Market,
            tif: TimeInForce::Day,
            created_at: Timestamp::EPOCH,
        };
        let intent = Rec::Policy(PolicyRecord {
            policy: crate::policy::Policy::AllowAll,
            reason: "the order's intent".into(),
            at: Timestamp::EPOCH,
            orders: vec![o.clone()],
            releases: 0,
        });
        apply(&mut s, &intent, &limits);
        journal.push(intent);
        let sent = Rec::Sent(SentRecord { client_order_id: o.client_order_id.clone(), attempt: 1, at: Timestamp::EPOCH, outcome: SendOutcome::Accepted });
        apply(&mut s, &sent, &limits);
        journal.push(sent);
        let (mut filled, mut value) = (Decimal::ZERO, Decimal::ZERO);
        let mut at = Timestamp::from_unix_ms(1_000_000);
        let mut last = None;
        for (inc, price, repeat, again) in steps {
            let inc = Decimal::from(inc).min(d("20") - filled);
            filled += inc;
            value += inc * Decimal::from(price);
            at = at.plus_ms(60_000);
            if filled.is_zero() { continue; }
            // The venue's average as it reports it: rounded to 4 decimals.
            let avg = (value / filled).round_dp(4);
            let status = if filled == d("20") { VenueStatus::Filled } else { VenueStatus::PartiallyFilled };
            let r = VenueOrder { filled_avg_price: Some(avg), ..report(&o, status, filled, "1", at) };
            let mut v = answers();
            v.changed = Ok(vec![r.clone()]);
            if repeat { v.open_orders = Ok(vec![r.clone()]); }
            v.positions = Err("not asked".into());
            let n = journal.len();
            cycle(&mut s, &limits, &mut journal, &v, at.plus_ms(60_000));
            if again {
                // The same records applied twice (a replay over a snapshot that had them).
                for r in &journal[n..] { apply(&mut s, r, &limits); }
            }
            last = Some((filled, avg));
        }
        let Some((filled, avg)) = last else { return Ok(()); };
        proptest::prop_assert_eq!(s.portfolio.qty(&aaa()), filled);
        let booked: Decimal = s.portfolio.position(&aaa()).map_or(Decimal::ZERO, |p| p.avg_entry_price * p.qty);
        // The books' value is the venue's average times its filled quantity (to rounding).
        proptest::prop_assert!((booked - avg * filled).abs() < d("0.0001"), "{} vs {}", booked, avg * filled);
        if let Some(t) = s.orders.tracked.get(&o.client_order_id) {
            proptest::prop_assert_eq!(t.filled, filled);
        } else {
            proptest::prop_assert_eq!(filled, d("20"));
        }
        // The journal replayed: the same state (the repeats only counted as duplicates).
        let mut replayed = replay(&journal, &limits);
        proptest::prop_assert!(replayed.stats.duplicate_fills <= s.stats.duplicate_fills);
        replayed.stats.duplicate_fills = s.stats.duplicate_fills;
        proptest::prop_assert_eq!(replayed, s);
    }
}

#[test]
fn on_an_external_venue_the_kill_switch_keeps_a_sent_order_until_the_venue_settles_it() {
    let (mut s, limits, mut journal) = external();
    let o = accepted_order(&mut s, &limits, &mut journal);
    let at = s.last_bar.unwrap();
    let ks = Rec::KillSwitch(s.kill_switch_record(true, "drill".into(), false, at));
    assert_eq!(
        s.cancels(&ks),
        Cancels::All,
        "the runtime cancels at the venue"
    );
    apply(&mut s, &ks, &limits);
    journal.push(ks);
    assert!(
        s.orders.tracked.contains_key(&o.client_order_id),
        "tracked until the venue's word"
    );
    assert_eq!(s.stats.cancelled_by_kill_switch, 1);
    // The cancel raced a fill of 1: the fill is booked, then the order settles cancelled.
    let mut v = answers();
    v.changed = Ok(vec![report(
        &o,
        VenueStatus::Canceled,
        Decimal::ONE,
        "100",
        at,
    )]);
    let diff = cycle(&mut s, &limits, &mut journal, &v, at.plus_ms(60_000));
    assert_eq!((diff.fills.len(), diff.settles.len()), (1, 1), "{diff:?}");
    assert_eq!(s.portfolio.qty(&o.symbol), o.side.sign());
    assert!(s.orders.tracked.is_empty());
    assert_eq!(
        s.signals.recent_done().last().map(|x| x.state),
        Some(SignalState::Cancelled)
    );
    assert_eq!(replay(&journal, &limits), s);
}

#[test]
fn on_an_external_venue_an_unknown_order_the_kill_switch_cancelled_is_never_sent_again() {
    let (mut s, limits, mut journal) = external();
    let all = bars(300);
    let (j, next) = until_an_intent(&mut s, &limits, &all);
    journal.extend(j);
    let id = s.orders.tracked.keys().next().unwrap().clone();
    let lost = Rec::Sent(SentRecord {
        client_order_id: id.clone(),
        attempt: 1,
        at: all[next - 1].ts,
        outcome: SendOutcome::Unknown {
            error: "timeout".into(),
            paper_venue_received: false,
        },
    });
    apply(&mut s, &lost, &limits);
    let ks = Rec::KillSwitch(s.kill_switch_record(true, "drill".into(), false, all[next - 1].ts));
    apply(&mut s, &ks, &limits);
    assert!(
        s.orders.tracked.contains_key(&id),
        "unknown: kept until the venue's word"
    );
    // The lookup finds nothing: done, not an intent to send again.
    apply(
        &mut s,
        &Rec::Settle(SettleRecord {
            client_order_id: id.clone(),
            at: all[next].ts,
            found: false,
        }),
        &limits,
    );
    assert!(
        s.orders.tracked.is_empty(),
        "never sent again under the kill switch"
    );
    assert_eq!(
        s.signals.recent_done().last().map(|x| x.state),
        Some(SignalState::Cancelled)
    );
}

#[test]
fn on_an_external_venue_an_order_the_healer_cancelled_keeps_a_fill_that_raced_the_cancel() {
    let (mut s, limits, mut journal) = external();
    let o = accepted_order(&mut s, &limits, &mut journal);
    let late = s.last_bar.unwrap().plus_ms(7 * 86_400_000); // past six daily bars
    let r = s.expiry_record(late).expect("stale after hours");
    assert_eq!(
        r.cancelled.as_slice(),
        std::slice::from_ref(&o.client_order_id)
    );
    let r = Rec::Expired(r);
    assert_eq!(
        s.cancels(&r),
        Cancels::These(vec![o.client_order_id.clone()])
    );
    apply(&mut s, &r, &limits);
    journal.push(r);
    assert!(s.orders.tracked.contains_key(&o.client_order_id));
    assert_eq!(
        s.signals.recent_done().last().map(|x| x.state),
        Some(SignalState::Expired)
    );
    // The venue filled 1 before the cancel took: booked; the order settles; the signal stays
    // expired.
    let mut v = answers();
    v.changed = Ok(vec![report(
        &o,
        VenueStatus::Canceled,
        Decimal::ONE,
        "100",
        late,
    )]);
    v.positions = Ok(vec![position(o.symbol, o.side.sign(), "100")]);
    let diff = cycle(&mut s, &limits, &mut journal, &v, late.plus_ms(60_000));
    assert!(diff.findings.is_empty(), "{diff:?}");
    assert_eq!(s.portfolio.qty(&o.symbol), o.side.sign());
    assert!(s.orders.tracked.is_empty());
    assert_eq!(
        s.signals.recent_done().last().map(|x| x.state),
        Some(SignalState::Expired)
    );
    assert_eq!(replay(&journal, &limits), s);
}

/// What the open finding `id` shows now (a finding not open: nothing in particular).
fn seen(s: &EngineState, id: &str) -> reconcile::Seen {
    s.open_findings()
        .iter()
        .find(|f| f.id == id)
        .map(reconcile::Seen::of)
        .unwrap_or_default()
}

#[test]
fn a_choice_made_on_a_finding_that_changed_since_is_refused_and_changes_nothing() {
    let (mut s, limits, mut journal) = external();
    s.portfolio.set_position(&aaa(), d("2"), d("100"));
    let at = Timestamp::from_unix_ms(1_000_000);
    let mut v = answers();
    v.positions = Ok(vec![position(aaa(), d("3"), "100")]);
    cycle(&mut s, &limits, &mut journal, &v, at);
    // The operator sees "Ballast 2, broker 3" and adopts it.
    let seen_then = seen(&s, "quantity_mismatch:AAA");
    assert_eq!(seen_then.venue_qty, Some(d("3")));
    // The broker's position moves to 40 before the engine takes the choice.
    v.positions = Ok(vec![position(aaa(), d("40"), "100")]);
    cycle(&mut s, &limits, &mut journal, &v, at.plus_ms(1));
    assert_eq!(s.open_findings()[0].id, "quantity_mismatch:AAA", "same id");
    let before = s.clone();
    let e = s
        .resolve_record(
            "quantity_mismatch:AAA",
            Choice::Adopt,
            Some(&seen_then),
            "cli: broker has 3",
            at,
        )
        .unwrap_err();
    assert_eq!(
        e,
        "the finding changed since the choice: broker now 40 AAA, the choice was made on 3 — look again with `ballast reconcile`"
    );
    // A choice that does not say what it was made on (an older file) is refused too.
    let e = s
        .resolve_record("quantity_mismatch:AAA", Choice::Adopt, None, "cli", at)
        .unwrap_err();
    assert!(e.contains("does not say what it was made on"), "{e}");
    assert_eq!(s, before, "nothing changed");
    // Made on what the finding shows now (40 written as 40.00 is the same), it is taken.
    let now = reconcile::Seen {
        venue_qty: Some(d("40.00")),
        ..seen(&s, "quantity_mismatch:AAA")
    };
    let r = s
        .resolve_record(
            "quantity_mismatch:AAA",
            Choice::Adopt,
            Some(&now),
            "cli",
            at,
        )
        .unwrap();
    assert_eq!((r.before, r.after), (Some(d("2")), Some(d("40"))));
}

/// Auto-trim on an external venue whose fills arrive a few passes late (by polling): every
/// order the venue fills in full, whatever Ballast cancelled. The liquidation never has more
/// than its one order in flight, steps on only after the venue settled the previous one (its
/// fills booked), and never sells more than the position held.
#[test]
fn on_an_external_venue_auto_trim_never_sells_more_than_held_while_fills_arrive_late() {
    let (mut s, limits, mut journal) = external();
    s.portfolio.set_position(&aaa(), d("500"), d("100"));
    s.portfolio.mark(&aaa(), d("100"));
    s.last_bar = Some(Timestamp::from_unix_ms(1_000));
    let trim = TrimRules {
        max_total_at_risk_pct: Decimal::from(25),
        max_failures_before_alert: 3,
        patience_bars: 1,
        twap_slices: 3,
        headroom_pct: Decimal::from(5),
    };
    // What the venue holds: each sent order with the pass it went out at.
    let mut at_venue: Vec<(Order, u64)> = Vec::new();
    let mut delivered = 0usize;
    let mut fill_no = 0u32;
    for pass in 0..40u64 {
        let at = Timestamp::from_unix_ms(1_000 + 1_000 * i64::try_from(pass).unwrap());
        s.liquidation_bar(&aaa());
        if let Some(plan) = s.plan_liquidations(&trim, &s.gate()) {
            let r = Rec::Liquidation(plan);
            apply(&mut s, &r, &limits);
            journal.push(r);
        }
        let intents: Vec<Order> = s
            .orders
            .tracked
            .values()
            .filter(|t| t.send == SendState::Intent)
            .map(|t| t.order.clone())
            .collect();
        for o in intents {
            let sent = Rec::Sent(SentRecord {
                client_order_id: o.client_order_id.clone(),
                attempt: 1,
                at,
                outcome: SendOutcome::Accepted,
            });
            apply(&mut s, &sent, &limits);
            journal.push(sent);
            at_venue.push((o, pass));
        }
        let in_flight = s
            .orders
            .tracked
            .values()
            .filter(|t| t.order.symbol == aaa())
            .count();
        assert!(in_flight <= 1, "pass {pass}: {in_flight} orders in flight");
        // The venue filled each order whole; its word arrives three passes after the send.
        let mut changed = Vec::new();
        let mut fills = Vec::new();
        while delivered < at_venue.len() && at_venue[delivered].1 + 3 <= pass {
            let o = &at_venue[delivered].0;
            fill_no += 1;
            fills.push(Fill {
                fill_id: crate::domain::FillId::parse(&format!("f-{fill_no}")).unwrap(),
                client_order_id: o.client_order_id.clone(),
                symbol: o.symbol,
                side: o.side,
                qty: o.qty,
                price: Price::new(d("100")).unwrap(),
                fee: crate::domain::Notional::new(Decimal::ZERO).unwrap(),
                ts: at,
            });
            changed.push(report(o, VenueStatus::Filled, o.qty.value(), "100", at));
            delivered += 1;
        }
        if !fills.is_empty() {
            let r = Rec::VenueFills(VenueFillsRecord { at, fills });
            apply(&mut s, &r, &limits);
            journal.push(r);
            for c in &changed {
                let r = Rec::VenueOrder(VenueOrderRecord {
                    at,
                    settle: reconcile::VenueSettle {
                        client_order_id: c.order.client_order_id.clone(),
                        status: VenueStatus::Filled,
                        filled_qty: c.filled_qty,
                    },
                });
                apply(&mut s, &r, &limits);
                journal.push(r);
            }
        }
        let sold: Decimal = at_venue.iter().map(|(o, _)| o.qty.value()).sum();
        assert!(
            sold <= d("500"),
            "pass {pass}: the venue sold {sold} of a position of 500"
        );
    }
    assert_eq!(s.stats.unknown_fills, 0, "every fill booked");
    let held = s.portfolio.qty(&aaa());
    let sold: Decimal = at_venue.iter().map(|(o, _)| o.qty.value()).sum();
    assert_eq!(held, d("500") - sold, "Ballast's books match the venue's");
    assert!(
        held > Decimal::ZERO && s.orders.liquidations.is_empty(),
        "{held}"
    );
}

/// On an external venue an order still tracked may have filled already (fills come by
/// polling): the kill switch's flatten and DEFENSIVE_EXIT's closing orders send only what the
/// orders in flight that reduce the position leave, so the position never crosses flat.
#[test]
fn on_an_external_venue_closing_orders_leave_what_orders_in_flight_may_still_sell() {
    let (mut s, limits, _) = external();
    s.portfolio.set_position(&aaa(), d("500"), d("100"));
    s.portfolio.mark(&aaa(), d("100"));
    s.last_bar = Some(Timestamp::from_unix_ms(1_000));
    let mut p = s.portfolio.position(&aaa()).unwrap().clone();
    p.qty = d("100");
    let o = closing_order(&p, "bl-liq-1-1", Timestamp::EPOCH).unwrap();
    s.track_intent(&o, Owner::Liquidation(1));
    let sent = Rec::Sent(SentRecord {
        client_order_id: o.client_order_id.clone(),
        attempt: 1,
        at: Timestamp::EPOCH,
        outcome: SendOutcome::Accepted,
    });
    apply(&mut s, &sent, &limits);
    let at = Timestamp::from_unix_ms(2_000);
    let ks = s.kill_switch_record(true, "test".into(), true, at);
    assert_eq!(
        ks.orders.iter().map(|o| o.qty.value()).collect::<Vec<_>>(),
        vec![d("400")],
        "{ks:?}"
    );
    let pol = s.policy_record(crate::policy::Policy::DefensiveExit, "test".into(), at);
    assert_eq!(
        pol.orders.iter().map(|o| o.qty.value()).collect::<Vec<_>>(),
        vec![d("400")],
        "{pol:?}"
    );
}
