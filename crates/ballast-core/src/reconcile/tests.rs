//! One test per row of the classification table (module doc), and the invariants.

use proptest::prelude::*;
use rust_decimal::Decimal;

use super::*;
use crate::broker::{PositionSide, VenueOrder, VenuePosition, VenueStatus};
use crate::domain::{ClientOrderId, Order, OrderKind, Quantity, Side, Symbol, TimeInForce};
use crate::engine::{JournalStamp, OrderTrack, Owner, SendState};

const NOW: Timestamp = Timestamp::from_unix_ms(1_700_000_000_000);
const RULES: Rules = Rules {
    grace_ms: 5_000,
    max_lookups: 2,
    on_dangerous: OnDangerous::Halted,
};
/// Long enough ago to be judged.
const OLD: Timestamp = Timestamp::from_unix_ms(1_700_000_000_000 - 60_000);

fn d(n: &str) -> Decimal {
    n.parse().unwrap()
}

fn sym(s: &str) -> Symbol {
    Symbol::new(s).unwrap()
}

fn account() -> VenueAccount {
    VenueAccount {
        id: "904837e3-3b76-47ec-b432-046db621571b".into(),
        cash: Some(d("100000")),
    }
}

/// A fresh engine trading on an external venue, stamped with [`account`].
fn state() -> EngineState {
    let mut s = EngineState::new(&crate::config::builtin().unwrap());
    s.controls.stamp = Some(JournalStamp {
        mode: "paper".into(),
        account: account_fingerprint(&account()),
        broker: "alpaca".into(),
        epoch: None,
    });
    s
}

fn order(id: &str, symbol: &str, side: Side, qty: &str, at: Timestamp) -> Order {
    Order {
        client_order_id: ClientOrderId::parse(id).unwrap(),
        symbol: sym(symbol),
        side,
        qty: Quantity::new(d(qty)).unwrap(),
        kind: OrderKind::Market,
        tif: TimeInForce::Day,
        created_at: at,
    }
}

/// Track `o` as accepted at the venue with `filled` booked at `price`.
fn track(s: &mut EngineState, o: &Order, filled: &str, price: &str) {
    s.orders.tracked.insert(
        o.client_order_id.clone(),
        OrderTrack {
            order: o.clone(),
            owner: Owner::Policy,
            filled: d(filled),
            filled_value: d(filled) * d(price),
            send: SendState::Accepted,
            attempts: 1,
        },
    );
}

fn report(
    o: &Order,
    venue_id: &str,
    status: VenueStatus,
    filled: &str,
    avg: Option<&str>,
    at: Timestamp,
) -> VenueOrder {
    VenueOrder {
        order: o.clone(),
        remaining: o.qty.value() - d(filled),
        venue_id: venue_id.into(),
        status,
        filled_qty: d(filled),
        filled_avg_price: avg.map(d),
        updated_at: at,
    }
}

fn position(symbol: &str, qty: &str, avg: &str) -> VenuePosition {
    let qty = d(qty);
    VenuePosition {
        symbol: sym(symbol),
        qty,
        side: if qty.is_sign_negative() {
            PositionSide::Short
        } else {
            PositionSide::Long
        },
        avg_entry_price: d(avg),
    }
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

fn kinds(diff: &Diff) -> Vec<(FindingKind, String)> {
    diff.findings
        .iter()
        .map(|f| (f.kind, f.id.clone()))
        .collect()
}

#[test]
fn row_a_missed_fill_is_booked_for_the_difference_priced_from_the_cumulative_average() {
    let mut s = state();
    let o = order("bl-1-0", "AAPL", Side::Buy, "10", OLD);
    track(&mut s, &o, "4", "100");
    s.portfolio.set_position(&sym("AAPL"), d("4"), d("100"));
    let mut v = answers();
    // Filled whole at an average of 103: the 6 Ballast missed cost (1030 − 400) / 6 = 105.
    v.changed = Ok(vec![report(
        &o,
        "v-1",
        VenueStatus::Filled,
        "10",
        Some("103"),
        OLD,
    )]);
    v.positions = Ok(vec![position("AAPL", "10", "103")]);
    let diff = diff(&s, &v, &RULES, NOW);
    assert_eq!(diff.fills.len(), 1, "{diff:?}");
    let f = &diff.fills[0];
    assert_eq!(f.fill_id.as_str(), "v-1@10");
    assert_eq!((f.qty.value(), f.price.value()), (d("6"), d("105")));
    assert_eq!(
        (f.side, f.fee.value(), f.ts),
        (Side::Buy, Decimal::ZERO, OLD)
    );
    // Settled after its fills; the position, judged after them, agrees.
    assert_eq!(
        diff.settles,
        [VenueSettle {
            client_order_id: o.client_order_id.clone(),
            status: VenueStatus::Filled,
            filled_qty: d("10"),
        }]
    );
    assert!(diff.clean(), "{diff:?}");
    // An average that does not divide evenly is worked out to the tenth decimal.
    v.changed = Ok(vec![report(
        &o,
        "v-1",
        VenueStatus::PartiallyFilled,
        "7",
        Some("101"),
        OLD,
    )]);
    v.positions = Ok(vec![position("AAPL", "7", "101")]);
    let diff = super::diff(&s, &v, &RULES, NOW);
    assert_eq!(diff.fills[0].price.value(), d("102.3333333333"));
    assert_eq!(diff.fills[0].fill_id.as_str(), "v-1@7");
    assert!(diff.settles.is_empty(), "partially filled: still open");
}

#[test]
fn row_b_an_order_the_venue_reports_terminal_is_settled_and_one_in_flight_is_not() {
    let mut s = state();
    let mut v = answers();
    let mut changed = Vec::new();
    let statuses = [
        (VenueStatus::Canceled, true),
        (VenueStatus::Expired, true),
        (VenueStatus::Replaced, true),
        (VenueStatus::Rejected, true),
        (VenueStatus::New, false),
        (VenueStatus::DoneForDay, false),
        (VenueStatus::Unknown("frozen".into()), false),
    ];
    for (i, (status, _)) in statuses.iter().enumerate() {
        let o = order(&format!("bl-{i}-0"), "AAPL", Side::Buy, "5", OLD);
        track(&mut s, &o, "0", "0");
        changed.push(report(
            &o,
            &format!("v-{i}"),
            status.clone(),
            "0",
            None,
            OLD,
        ));
    }
    // The ones still in flight are open at the venue.
    v.open_orders = Ok(changed
        .iter()
        .filter(|o| !o.status.is_terminal())
        .cloned()
        .collect());
    v.changed = Ok(changed);
    let diff = diff(&s, &v, &RULES, NOW);
    let settled: Vec<VenueStatus> = diff.settles.iter().map(|x| x.status.clone()).collect();
    let want: Vec<VenueStatus> = statuses
        .iter()
        .filter(|(_, t)| *t)
        .map(|(s, _)| s.clone())
        .collect();
    assert_eq!(settled, want);
    assert!(diff.clean(), "{diff:?}");
}

#[test]
fn row_c_accepted_orders_no_list_shows_are_looked_up_oldest_first_at_most_the_cap() {
    let mut s = state();
    for (i, at) in [30_000, 10_000, 20_000].into_iter().enumerate() {
        let o = order(
            &format!("bl-{i}-0"),
            "AAPL",
            Side::Buy,
            "5",
            Timestamp::from_unix_ms(at),
        );
        track(&mut s, &o, "0", "0");
    }
    // Neither an order not sent yet nor one whose send is unknown (the engine's own lookup).
    let intent = order("bl-7-0", "AAPL", Side::Buy, "5", Timestamp::EPOCH);
    track(&mut s, &intent, "0", "0");
    s.orders
        .tracked
        .get_mut(&intent.client_order_id)
        .unwrap()
        .send = SendState::Intent;
    let unknown = order("bl-8-0", "AAPL", Side::Buy, "5", Timestamp::EPOCH);
    track(&mut s, &unknown, "0", "0");
    s.orders
        .tracked
        .get_mut(&unknown.client_order_id)
        .unwrap()
        .send = SendState::Unknown {
        since: OLD,
        error: "timeout".into(),
        at_bar: 0,
    };
    let diff = diff(&s, &answers(), &RULES, NOW);
    let ids: Vec<&str> = diff.lookups.iter().map(|i| i.as_str()).collect();
    assert_eq!(ids, ["bl-1-0", "bl-2-0"], "oldest first, two a cycle");
    assert!(diff.findings.is_empty() && !diff.clean());
}

#[test]
fn row_d_a_lookup_that_finds_nothing_is_a_finding_never_a_rejection() {
    let mut s = state();
    let o = order("bl-1-0", "AAPL", Side::Buy, "5", OLD);
    track(&mut s, &o, "0", "0");
    let failed = order("bl-2-0", "AAPL", Side::Buy, "5", OLD);
    track(&mut s, &failed, "0", "0");
    let unknown = order("bl-3-0", "AAPL", Side::Buy, "5", OLD);
    track(&mut s, &unknown, "0", "0");
    s.orders
        .tracked
        .get_mut(&unknown.client_order_id)
        .unwrap()
        .send = SendState::Unknown {
        since: OLD,
        error: "timeout".into(),
        at_bar: 0,
    };
    let mut v = answers();
    v.lookups.insert(o.client_order_id.clone(), Ok(None));
    v.lookups
        .insert(failed.client_order_id.clone(), Err("HTTP 503".into()));
    v.lookups.insert(unknown.client_order_id.clone(), Ok(None));
    let diff = diff(&s, &v, &RULES, NOW);
    assert_eq!(
        kinds(&diff),
        [(FindingKind::MissingOrder, "missing_order:bl-1-0".to_owned())]
    );
    let f = &diff.findings[0];
    assert!(
        f.theirs.contains("does not know client_order_id bl-1-0"),
        "{}",
        f.theirs
    );
    assert!(diff.settles.is_empty(), "never settled as rejected");
    // The failed lookup is unanswered and asked again; the unknown send is not judged here.
    assert_eq!(
        diff.lookups.as_slice(),
        std::slice::from_ref(&failed.client_order_id)
    );
    assert!(
        diff.unanswered[0].contains("lookup of order bl-2-0: HTTP 503"),
        "{:?}",
        diff.unanswered
    );
}

#[test]
fn row_e_partial_fills_that_cannot_be_resolved_are_findings_and_not_settled() {
    let mut s = state();
    let less = order("bl-1-0", "AAPL", Side::Buy, "10", OLD);
    track(&mut s, &less, "6", "100");
    let over = order("bl-2-0", "MSFT", Side::Buy, "10", OLD);
    track(&mut s, &over, "0", "0");
    let no_avg = order("bl-3-0", "TSLA", Side::Sell, "10", OLD);
    track(&mut s, &no_avg, "0", "0");
    let mut v = answers();
    v.changed = Ok(vec![
        report(&less, "v-1", VenueStatus::Canceled, "4", Some("100"), OLD),
        report(&over, "v-2", VenueStatus::Filled, "12", Some("50"), OLD),
        report(&no_avg, "v-3", VenueStatus::Filled, "8", None, OLD),
    ]);
    v.positions = Err("not asked".into());
    let diff = diff(&s, &v, &RULES, NOW);
    assert_eq!(
        kinds(&diff),
        [
            (
                FindingKind::UnresolvedPartialFill,
                "unresolved_partial_fill:v-1".to_owned()
            ),
            (
                FindingKind::UnresolvedPartialFill,
                "unresolved_partial_fill:v-2".to_owned()
            ),
            (
                FindingKind::UnresolvedPartialFill,
                "unresolved_partial_fill:v-3".to_owned()
            ),
        ]
    );
    let theirs: Vec<&str> = diff.findings.iter().map(|f| f.theirs.as_str()).collect();
    assert!(
        theirs[0].contains("less filled than Ballast booked (4 < 6)"),
        "{}",
        theirs[0]
    );
    assert!(
        theirs[1].contains("more than the order's 10"),
        "{}",
        theirs[1]
    );
    assert!(
        theirs[2].contains("without an average fill price"),
        "{}",
        theirs[2]
    );
    assert!(diff.fills.is_empty() && diff.settles.is_empty(), "{diff:?}");
    assert_eq!(
        diff.findings[0].choices,
        [Choice::Adopt, Choice::StayHalted]
    );
    // Within the grace window none is judged yet (and still none is settled).
    let fresh: Vec<VenueOrder> = v
        .changed
        .unwrap()
        .into_iter()
        .map(|o| VenueOrder {
            updated_at: NOW,
            ..o
        })
        .collect();
    v.changed = Ok(fresh);
    let diff = super::diff(&s, &v, &RULES, NOW);
    assert!(
        diff.findings.is_empty() && diff.settles.is_empty(),
        "{diff:?}"
    );
}

#[test]
fn row_f_an_open_order_ballast_does_not_own_is_a_finding_after_the_grace_window() {
    let mut s = state();
    let theirs = order("manual-7", "AAPL", Side::Sell, "3", OLD);
    let mut v = answers();
    v.open_orders = Ok(vec![report(
        &theirs,
        "v-9",
        VenueStatus::New,
        "0",
        None,
        OLD,
    )]);
    let diff = diff(&s, &v, &RULES, NOW);
    assert_eq!(
        kinds(&diff),
        [(FindingKind::ForeignOrder, "foreign_order:v-9".to_owned())]
    );
    let f = &diff.findings[0];
    assert_eq!(
        (f.symbol, f.venue_order.as_deref()),
        (Some(sym("AAPL")), Some("v-9"))
    );
    assert!(
        f.theirs.contains("open order v-9 (sell 3 AAPL market"),
        "{}",
        f.theirs
    );
    assert!(f.ours.contains("client_order_id manual-7"), "{}", f.ours);
    // Changed just now: not yet. Acknowledged by the operator: not again.
    let mut fresh = answers();
    fresh.open_orders = Ok(vec![report(
        &theirs,
        "v-9",
        VenueStatus::New,
        "0",
        None,
        NOW,
    )]);
    assert!(super::diff(&s, &fresh, &RULES, NOW).clean());
    s.controls.acknowledged.insert("foreign_order:v-9".into());
    assert!(super::diff(&s, &v, &RULES, NOW).clean());
}

#[test]
fn row_f2_another_order_under_ballast_s_id_is_not_ballast_s() {
    let mut s = state();
    let o = order("bl-1-0", "AAPL", Side::Buy, "10", OLD);
    track(&mut s, &o, "0", "0");
    // A journal started over on the same account: bl-1-0 is an old order there.
    let old = order("bl-1-0", "MSFT", Side::Sell, "3", OLD);
    let mut v = answers();
    v.lookups.insert(
        o.client_order_id.clone(),
        Ok(Some(report(
            &old,
            "v-old",
            VenueStatus::Filled,
            "3",
            Some("300"),
            OLD,
        ))),
    );
    let diff = diff(&s, &v, &RULES, NOW);
    assert!(diff.fills.is_empty() && diff.settles.is_empty(), "{diff:?}");
    assert_eq!(
        kinds(&diff),
        [(FindingKind::ForeignOrder, "foreign_order:v-old".to_owned())]
    );
    let f = &diff.findings[0];
    assert!(
        f.theirs
            .contains("is another one (sell 3 MSFT market; 3 filled, status filled)"),
        "{}",
        f.theirs
    );
    assert_eq!(f.choices, [Choice::StayHalted]);
}

#[test]
fn row_g_a_quantity_mismatch_says_both_sides_and_the_fills_that_would_explain_it() {
    let mut s = state();
    s.portfolio.set_position(&sym("AAPL"), d("10"), d("100"));
    let manual = order("manual-1", "AAPL", Side::Buy, "5", OLD);
    let mut v = answers();
    v.positions = Ok(vec![position("AAPL", "15", "101.20")]);
    v.changed = Ok(vec![report(
        &manual,
        "v-5",
        VenueStatus::Filled,
        "5",
        Some("103.60"),
        OLD,
    )]);
    let diff = diff(&s, &v, &RULES, NOW);
    assert_eq!(
        kinds(&diff),
        [(
            FindingKind::QuantityMismatch,
            "quantity_mismatch:AAPL".to_owned()
        )]
    );
    let f = &diff.findings[0];
    assert_eq!(f.ours, "Ballast holds 10 AAPL");
    assert_eq!(f.theirs, "the broker holds 15 AAPL (avg 101.20)");
    assert_eq!(
        (f.local_qty, f.venue_qty, f.venue_avg_price),
        (Some(d("10")), Some(d("15")), Some(d("101.20")))
    );
    assert_eq!(
        f.choices,
        [Choice::Adopt, Choice::Flatten, Choice::StayHalted]
    );
    assert_eq!(f.explaining.len(), 1);
    assert!(
        f.explaining[0].contains(
            "order v-5 (not Ballast's, client_order_id manual-1) bought 5 AAPL at avg 103.60"
        ),
        "{}",
        f.explaining[0]
    );
    // The broker holds none of what Ballast holds: nothing to flatten there.
    v.positions = Ok(Vec::new());
    let diff = super::diff(&s, &v, &RULES, NOW);
    let f = &diff.findings[0];
    assert_eq!(
        (f.id.as_str(), f.theirs.as_str()),
        ("quantity_mismatch:AAPL", "the broker holds no AAPL")
    );
    assert_eq!(f.choices, [Choice::Adopt, Choice::StayHalted]);
    // Short on both sides, the same: clean.
    s.portfolio.set_position(&sym("AAPL"), d("-5"), d("100"));
    v.positions = Ok(vec![position("AAPL", "-5", "100")]);
    v.changed = Ok(Vec::new());
    assert!(super::diff(&s, &v, &RULES, NOW).clean());
}

#[test]
fn row_h_a_position_in_a_symbol_ballast_never_traded_is_unknown() {
    let s = state();
    let mut v = answers();
    v.positions = Ok(vec![position("GME", "-20", "25.5")]);
    let diff = diff(&s, &v, &RULES, NOW);
    assert_eq!(
        kinds(&diff),
        [(
            FindingKind::UnknownPosition,
            "unknown_position:GME".to_owned()
        )]
    );
    let f = &diff.findings[0];
    assert_eq!(f.ours, "Ballast never traded GME");
    assert_eq!(f.theirs, "the broker is short 20 GME (avg 25.5)");
    assert_eq!(
        f.choices,
        [Choice::Adopt, Choice::Flatten, Choice::StayHalted]
    );
}

#[test]
fn row_i_a_symbol_and_side_reported_twice_is_a_duplicate() {
    let mut s = state();
    s.portfolio.set_position(&sym("AAPL"), d("10"), d("100"));
    let mut v = answers();
    v.positions = Ok(vec![
        position("AAPL", "10", "100"),
        position("AAPL", "5", "99"),
    ]);
    let diff = diff(&s, &v, &RULES, NOW);
    assert_eq!(
        kinds(&diff),
        [(
            FindingKind::DuplicatePosition,
            "duplicate_position:AAPL".to_owned()
        )]
    );
    let f = &diff.findings[0];
    assert_eq!(
        f.theirs,
        "the broker reports AAPL 2 times: long 10 (avg 100), long 5 (avg 99)"
    );
    assert_eq!(f.choices, [Choice::StayHalted]);
}

#[test]
fn row_j_invalid_positions_are_findings_entry_size_and_side() {
    let s = state();
    let mut wrong_side = position("C", "7", "10");
    wrong_side.side = PositionSide::Short;
    let mut v = answers();
    v.positions = Ok(vec![
        position("A", "5", "0"),
        position("B", "0", "10"),
        wrong_side,
    ]);
    let diff = diff(&s, &v, &RULES, NOW);
    let why: Vec<(&str, &str)> = diff
        .findings
        .iter()
        .map(|f| (f.id.as_str(), f.theirs.as_str()))
        .collect();
    assert_eq!(why.len(), 3, "{why:?}");
    assert!(
        why[0].0 == "invalid_position:A" && why[0].1.ends_with("its entry price 0 is not above 0"),
        "{why:?}"
    );
    assert!(
        why[1].0 == "invalid_position:B" && why[1].1.ends_with("its size is 0"),
        "{why:?}"
    );
    assert!(
        why[2].0 == "invalid_position:C"
            && why[2]
                .1
                .ends_with("its side short contradicts its quantity 7"),
        "{why:?}"
    );
    assert!(
        diff.findings
            .iter()
            .all(|f| f.choices == [Choice::StayHalted])
    );
}

#[test]
fn row_k_another_account_than_the_journal_s_is_a_finding() {
    let s = state();
    let mut v = answers();
    v.account = Ok(VenueAccount {
        id: "another".into(),
        cash: None,
    });
    let diff = diff(&s, &v, &RULES, NOW);
    let other = account_fingerprint(&VenueAccount {
        id: "another".into(),
        cash: None,
    });
    assert_eq!(
        kinds(&diff),
        [(
            FindingKind::AccountMismatch,
            format!("account_mismatch:{other}")
        )]
    );
    assert!(
        diff.findings[0]
            .ours
            .contains(&account_fingerprint(&account()))
    );
    assert!(
        other.starts_with("alpaca-") && !other.contains("another"),
        "the id is not written: {other}"
    );
    assert_eq!(
        account_fingerprint(&VenueAccount {
            id: "paper".into(),
            cash: None
        }),
        "paper"
    );
    // A journal not stamped yet: nothing to compare with.
    let mut unstamped = state();
    unstamped.controls.stamp = None;
    assert!(super::diff(&unstamped, &v, &RULES, NOW).clean());
}

#[test]
fn row_l_a_failed_query_concludes_nothing_about_its_part() {
    let mut s = state();
    s.portfolio.set_position(&sym("AAPL"), d("10"), d("100"));
    let o = order("bl-1-0", "AAPL", Side::Buy, "5", OLD);
    track(&mut s, &o, "0", "0");
    let v = VenueAnswers {
        account: Err("timeout".into()),
        positions: Err("HTTP 500".into()),
        open_orders: Err("connection reset".into()),
        changed: Err("HTTP 429".into()),
        lookups: BTreeMap::new(),
    };
    let diff = diff(&s, &v, &RULES, NOW);
    assert!(diff.findings.is_empty(), "never read as flat: {diff:?}");
    assert!(diff.lookups.is_empty() && diff.settles.is_empty() && diff.fills.is_empty());
    assert_eq!(diff.unanswered.len(), 4, "{:?}", diff.unanswered);
    assert!(!diff.clean());
    for part in [
        "account: timeout",
        "positions: HTTP 500",
        "open orders: connection reset",
        "orders changed since the cursor: HTTP 429",
    ] {
        assert!(
            diff.unanswered.iter().any(|u| u.starts_with(part)),
            "{part}: {:?}",
            diff.unanswered
        );
    }
}

#[test]
fn findings_and_explaining_fills_are_bounded_and_the_rest_counted() {
    let s = state();
    let mut v = answers();
    let mut open = Vec::new();
    for i in 0..(MAX_FINDINGS + 5) {
        let o = order(&format!("manual-{i}"), "AAPL", Side::Buy, "1", OLD);
        open.push(report(
            &o,
            &format!("v-{i:04}"),
            VenueStatus::PartiallyFilled,
            "0.5",
            Some("100"),
            OLD,
        ));
    }
    v.open_orders = Ok(open);
    v.positions = Ok(vec![position("AAPL", "5", "100")]);
    let diff = diff(&s, &v, &RULES, NOW);
    assert_eq!(diff.findings.len(), MAX_FINDINGS);
    assert!(
        diff.unanswered
            .iter()
            .any(|u| u.starts_with("6 more dangerous differences than the 200 listed")),
        "{:?}",
        diff.unanswered
    );
    let unknown = diff
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::ForeignOrder)
        .unwrap();
    assert_eq!(
        unknown.id, "foreign_order:v-0000",
        "the first by id are kept"
    );
    let again = super::diff(
        &s,
        &VenueAnswers {
            open_orders: Ok(Vec::new()),
            changed: v.open_orders.clone(),
            ..v.clone()
        },
        &RULES,
        NOW,
    );
    let f = &again.findings[0];
    assert_eq!(f.id, "unknown_position:AAPL");
    assert_eq!(f.explaining.len(), MAX_EXPLAINING + 1);
    assert_eq!(
        f.explaining[MAX_EXPLAINING],
        format!("and {} more", MAX_FINDINGS + 5 - MAX_EXPLAINING)
    );
}

#[test]
fn a_position_is_judged_after_this_cycle_s_fills_and_not_while_an_order_of_ours_fills_now() {
    let mut s = state();
    let o = order("bl-1-0", "AAPL", Side::Buy, "10", OLD);
    track(&mut s, &o, "0", "0");
    let mut v = answers();
    // The venue's position already has the 10; the order's report is fresh and says 4 so far.
    v.positions = Ok(vec![position("AAPL", "10", "100")]);
    v.open_orders = Ok(vec![report(
        &o,
        "v-1",
        VenueStatus::PartiallyFilled,
        "4",
        Some("100"),
        NOW,
    )]);
    let diff = diff(&s, &v, &RULES, NOW);
    assert_eq!(diff.fills.len(), 1, "the fill is booked: {diff:?}");
    assert!(
        diff.findings.is_empty(),
        "the position waits for the order: {diff:?}"
    );
    // Once the order's report is older than the grace window, the difference is judged.
    v.open_orders = Ok(vec![report(
        &o,
        "v-1",
        VenueStatus::PartiallyFilled,
        "4",
        Some("100"),
        OLD,
    )]);
    let diff = super::diff(&s, &v, &RULES, NOW);
    let f = &diff.findings[0];
    assert_eq!(
        (f.id.as_str(), f.local_qty),
        ("quantity_mismatch:AAPL", Some(d("4")))
    );
}

fn arb_answer<T: std::fmt::Debug + Clone>(
    ok: impl Strategy<Value = T>,
) -> impl Strategy<Value = Answer<T>> {
    prop_oneof![ok.prop_map(Ok), Just(Err("the query failed".to_owned()))]
}

prop_compose! {
    fn arb_case()(
        held in proptest::collection::vec((0usize..3, -20i64..20), 0..3),
        tracked in proptest::collection::vec((0usize..3, 1i64..10, 0i64..10, 0u8..3), 0..4),
        venue_positions in proptest::collection::vec((0usize..4, -20i64..20, -1i64..200), 0..4),
        venue_orders in proptest::collection::vec((0usize..6, 0i64..12, 0usize..17, any::<bool>(), any::<bool>()), 0..6),
        open_ok in any::<bool>(),
        positions_ok in any::<bool>(),
        changed in arb_answer(Just(())),
        lookups in proptest::collection::vec((0usize..4, 0u8..3), 0..3),
    ) -> (EngineState, VenueAnswers) {
        let symbols = ["AAA", "BBB", "CCC", "DDD"];
        let mut s = state();
        for (k, q) in held {
            s.portfolio.set_position(&sym(symbols[k]), Decimal::from(q), d("100"));
        }
        let mut orders = Vec::new();
        for (i, (k, qty, filled, send)) in tracked.into_iter().enumerate() {
            let o = order(&format!("bl-{i}-0"), symbols[k], Side::Buy, &qty.to_string(), OLD);
            track(&mut s, &o, &filled.min(qty).to_string(), "100");
            let t = s.orders.tracked.get_mut(&o.client_order_id).unwrap();
            t.send = match send {
                0 => SendState::Accepted,
                1 => SendState::Intent,
                _ => SendState::Unknown { since: OLD, error: "timeout".into(), at_bar: 0 },
            };
            orders.push(o);
        }
        // Reports: of Ballast's orders (ids 0..4) and of others (4..6).
        let mut reported = Vec::new();
        for (i, filled, status, with_avg, fresh) in venue_orders {
            let o = orders.get(i).cloned().unwrap_or_else(|| order(&format!("x-{i}"), "AAA", Side::Sell, "9", OLD));
            let status = VenueStatus::KNOWN[status].1.clone();
            let avg = with_avg.then_some("101");
            reported.push(report(&o, &format!("v-{i}"), status, &filled.to_string(), avg, if fresh { NOW } else { OLD }));
        }
        let open: Vec<VenueOrder> = reported.iter().filter(|o| !o.status.is_terminal()).cloned().collect();
        let positions = venue_positions.into_iter().map(|(k, q, avg)| {
            let mut p = position(symbols[k], &q.to_string(), &avg.to_string());
            if avg == 0 { p.side = PositionSide::Short; }
            p
        }).collect();
        let mut v = answers();
        v.positions = if positions_ok { Ok(positions) } else { Err("HTTP 500".into()) };
        v.open_orders = if open_ok { Ok(open) } else { Err("HTTP 500".into()) };
        v.changed = changed.map(|()| reported);
        for (i, a) in lookups {
            if let Some(o) = orders.get(i) {
                let answer = match a { 0 => Ok(None), 1 => Err("timeout".into()), _ => Ok(Some(report(o, &format!("v-{i}"), VenueStatus::New, "0", None, OLD))) };
                v.lookups.insert(o.client_order_id.clone(), answer);
            }
        }
        (s, v)
    }
}

fn position_kind(k: FindingKind) -> bool {
    matches!(
        k,
        FindingKind::QuantityMismatch
            | FindingKind::UnknownPosition
            | FindingKind::DuplicatePosition
            | FindingKind::InvalidPosition
    )
}

proptest! {
    #[test]
    fn invariants_a_failed_query_concludes_nothing_and_the_same_inputs_give_the_same_diff((s, v) in arb_case()) {
        let diff = diff(&s, &v, &RULES, NOW);
        prop_assert_eq!(&diff, &super::diff(&s.clone(), &v.clone(), &RULES, NOW), "deterministic");
        if v.positions.is_err() {
            prop_assert!(diff.findings.iter().all(|f| !position_kind(f.kind)), "{:?}", diff);
            // The rest of the diff is what it would be with any positions answered.
            let mut answered = v.clone();
            answered.positions = Ok(Vec::new());
            let other = super::diff(&s, &answered, &RULES, NOW);
            prop_assert_eq!(&diff.fills, &other.fills);
            prop_assert_eq!(&diff.settles, &other.settles);
            prop_assert_eq!(&diff.lookups, &other.lookups);
            let rest: Vec<&Finding> = other.findings.iter().filter(|f| !position_kind(f.kind)).collect();
            prop_assert_eq!(diff.findings.iter().collect::<Vec<_>>(), rest);
        }
        if v.open_orders.is_err() {
            prop_assert!(diff.lookups.is_empty());
            prop_assert!(diff.findings.iter().all(|f| !matches!(f.kind, FindingKind::ForeignOrder | FindingKind::MissingOrder)), "{:?}", diff);
        }
        // Every fill and settle is of an order Ballast owns that an answered query reported.
        let answered: Vec<&VenueOrder> = v.changed.iter().flatten()
            .chain(v.open_orders.iter().flatten())
            .chain(v.lookups.values().filter_map(|a| a.as_ref().ok()?.as_ref()))
            .collect();
        for id in diff.fills.iter().map(|f| &f.client_order_id).chain(diff.settles.iter().map(|x| &x.client_order_id)) {
            prop_assert!(s.orders.tracked.contains_key(id));
            prop_assert!(answered.iter().any(|o| &o.order.client_order_id == id));
        }
        prop_assert!(diff.lookups.len() <= RULES.max_lookups);
        for id in &diff.lookups {
            prop_assert_eq!(&s.orders.tracked[id].send, &SendState::Accepted, "an unknown send is the engine's own lookup");
        }
        // Unknown never becomes rejected without the venue's word: a settle is a status it reported.
        for x in &diff.settles {
            prop_assert!(x.status.is_terminal());
            prop_assert!(answered.iter().any(|o| o.order.client_order_id == x.client_order_id && o.status == x.status));
        }
    }
}
