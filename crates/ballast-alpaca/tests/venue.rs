//! The adapter's venue calls, the compatibility check, the rate limit and the bars, against
//! the fake over real HTTP.

mod common;

use ballast_alpaca::bars::fetch_bars;
use ballast_alpaca::compat::{self, CompatError};
use ballast_alpaca::secrets::Credentials;
use ballast_core::Timestamp;
use ballast_core::broker::{Broker, BrokerError, PositionSide, VenueStatus};
use ballast_core::domain::Symbol;
use ballast_fake_alpaca::{FakeConfig, Fault, Route};
use common::*;
use rust_decimal::Decimal;

#[test]
fn orders_positions_and_cancels_round_trip() {
    let fake = fake();
    let mut b = broker(&fake);
    b.submit(&resting("bl-1-1", 3), 1).unwrap();
    b.submit(&market("bl-2-1", 2), 1).unwrap();
    let open = b.open_orders().unwrap();
    assert_eq!(open.len(), 2, "{open:?}");
    fake.tick();
    let open = b.open_orders().unwrap();
    assert_eq!(
        open.iter()
            .map(|o| o.order.client_order_id.as_str())
            .collect::<Vec<_>>(),
        ["bl-1-1"]
    );
    let positions = b.positions().unwrap();
    assert_eq!(positions.len(), 1);
    assert_eq!(
        (positions[0].qty, positions[0].side),
        (Decimal::from(2), PositionSide::Long)
    );
    let filled = b.lookup(&id("bl-2-1")).unwrap().unwrap();
    assert_eq!(
        (filled.status, filled.filled_qty, filled.remaining),
        (VenueStatus::Filled, Decimal::from(2), Decimal::ZERO)
    );
    assert!(filled.filled_avg_price.is_some());
    assert_eq!(b.cancel(&id("bl-1-1")), Ok(Some(Decimal::from(3))));
    assert_eq!(b.cancel(&id("bl-1-1")), Ok(None), "not open any more");
    assert_eq!(b.cancel(&id("bl-404-1")), Ok(None), "unknown");
    assert!(b.account().unwrap().id.starts_with("alpaca:PA"));
    assert_eq!(b.fills_since(7).unwrap().fills, Vec::new());
}

#[test]
fn cancel_all_names_the_orders_it_cancelled() {
    let fake = fake();
    let mut b = broker(&fake);
    b.submit(&resting("bl-1-1", 1), 1).unwrap();
    b.submit(&resting("bl-2-1", 1), 1).unwrap();
    let mut ids: Vec<String> = b
        .cancel_all()
        .unwrap()
        .iter()
        .map(|i| i.to_string())
        .collect();
    ids.sort();
    assert_eq!(ids, ["bl-1-1", "bl-2-1"]);
    assert_eq!(b.open_orders().unwrap(), Vec::new());
}

#[test]
fn orders_since_pages_oldest_change_first_and_is_bounded() {
    let fake = fake();
    let mut s = settings(&fake);
    s.page_size = 2;
    let mut b = broker_with(s);
    for i in 1..=5 {
        b.submit(&resting(&format!("bl-{i}-1"), 1), 1).unwrap();
    }
    let all = b.orders_since(None, 100).unwrap();
    assert_eq!(all.orders.len(), 5, "every page read");
    assert!(!all.more);
    assert!(
        all.orders
            .windows(2)
            .all(|w| w[0].updated_at <= w[1].updated_at)
    );
    let first = b.orders_since(None, 3).unwrap();
    assert_eq!((first.orders.len(), first.more), (3, true));
    let since = all.orders.iter().map(|o| o.updated_at).max().unwrap();
    // The fake's clock moves at least 1 ms per event: the next change is after `since`.
    b.submit(&resting("bl-6-1", 1), 1).unwrap();
    b.cancel(&id("bl-6-1")).unwrap();
    // The two changes the cut of `first` held back come first (the contract: ask again
    // while `more`), then the new ones.
    let held = b.orders_since(Some(since), 100).unwrap();
    assert_eq!(held.orders.len(), 2, "held back by the cut: {held:?}");
    assert!(held.more);
    let changed = b.orders_since(Some(since), 100).unwrap();
    let names: Vec<_> = changed
        .orders
        .iter()
        .map(|o| o.order.client_order_id.as_str())
        .collect();
    assert!(names.contains(&"bl-6-1"), "{names:?}");
    assert!(changed.orders.iter().all(|o| o.updated_at > since));
    let six = changed
        .orders
        .iter()
        .find(|o| o.order.client_order_id.as_str() == "bl-6-1")
        .unwrap();
    assert_eq!(six.status, VenueStatus::Canceled);
    // An order submitted before `since` and closed after it: Alpaca lists by submission
    // time, so it is fetched by id because it was open at the previous call.
    let since = changed.orders.iter().map(|o| o.updated_at).max().unwrap();
    b.cancel(&id("bl-2-1")).unwrap();
    let changed = b.orders_since(Some(since), 100).unwrap();
    let names: Vec<_> = changed
        .orders
        .iter()
        .map(|o| (o.order.client_order_id.as_str(), o.status.clone()))
        .collect();
    assert_eq!(names, [("bl-2-1", VenueStatus::Canceled)]);
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.path.starts_with("/v2/orders/") && r.method == "GET")
    );
    let again = b
        .orders_since(Some(changed.orders[0].updated_at), 100)
        .unwrap();
    assert!(again.orders.is_empty(), "reported once: {:?}", again.orders);
    let mut s = settings(&fake);
    s.page_size = 1;
    s.max_pages = 2;
    let e = broker_with(s).open_orders().unwrap_err();
    assert!(
        e.to_string().contains("max_pages"),
        "an incomplete list is never read as complete: {e}"
    );
}

#[test]
fn a_foreign_order_and_a_position_changed_behind_our_back_are_reported_as_they_are() {
    let fake = fake();
    let mut b = broker(&fake);
    fake.add_foreign_order("MSFT", "sell", Decimal::from(4));
    fake.set_position("AAPL", Decimal::from(-7), Decimal::from(150));
    let open = b.open_orders().unwrap();
    assert_eq!(open.len(), 1);
    assert!(!open[0].order.client_order_id.as_str().starts_with("bl-"));
    let p = b.positions().unwrap();
    assert_eq!(
        (p[0].qty, p[0].side),
        (Decimal::from(-7), PositionSide::Short)
    );
}

#[test]
fn the_compatibility_check_passes_on_a_matching_account_and_refuses_the_wrong_kind() {
    let fake = fake();
    let mut b = broker(&fake);
    let ok = compat::check(b.client()).unwrap();
    assert!(ok.account_number.starts_with("PA") && !ok.live, "{ok}");
    // A live account behind a paper key's settings in live mode: the key is refused first.
    let live = fake_with(FakeConfig {
        live: true,
        key_id: "AKLIVE0000000000".into(),
        ..FakeConfig::default()
    });
    let mut s = settings(&live);
    s.credentials =
        Credentials::new("AKLIVE0000000000", &FakeConfig::default().secret_key).unwrap();
    s.live = true;
    assert!(
        compat::check(broker_with(s.clone()).client()).is_ok(),
        "a live key, a live account, live mode"
    );
    s.live = false;
    let e = compat::check(broker_with(s).client()).unwrap_err();
    assert!(
        matches!(e, CompatError::Config(_)) && e.to_string().contains("live key"),
        "{e}"
    );
    // A paper key whose account is live: refused by the account's kind.
    let odd = fake_with(FakeConfig {
        live: true,
        ..FakeConfig::default()
    });
    let e = compat::check(broker(&odd).client()).unwrap_err();
    assert!(e.to_string().contains("account_number"), "{e}");
    let mut s = settings(&fake);
    s.live = true;
    let e = compat::check(broker_with(s).client()).unwrap_err();
    assert!(e.to_string().contains("paper key"), "{e}");
    assert!(
        fake.requests().iter().all(|r| r.method == "GET"),
        "no order before the check passes"
    );
}

#[test]
fn the_client_side_budget_never_lets_more_than_its_limit_through() {
    let fake = fake();
    let mut s = settings(&fake);
    s.rate_limit_per_min = 12;
    s.max_wait_ms = 0;
    let mut b = broker_with(s);
    let answers: Vec<_> = (0..20).map(|_| b.positions()).collect();
    let sent = fake.requests().len();
    assert!(sent <= 12, "{sent} requests went");
    assert!(sent >= 10, "polling may use all but the reserve: {sent}");
    let refused = answers.iter().filter(|a| a.is_err()).count();
    assert_eq!(refused, 20 - sent);
    let e = answers.last().unwrap().clone().unwrap_err().to_string();
    assert!(e.contains("rate budget") && e.contains("not sent"), "{e}");
    // Orders may still use the reserve.
    b.submit(&market("bl-1-1", 1), 1).unwrap();
}

#[test]
fn the_servers_remaining_is_adopted_before_a_429() {
    let fake = fake_with(FakeConfig {
        rate_limit_per_min: 6,
        ..FakeConfig::default()
    });
    let mut s = settings(&fake);
    s.max_wait_ms = 0;
    let mut b = broker_with(s);
    for _ in 0..10 {
        let _ = b.positions();
    }
    let seen = fake.requests();
    assert!(
        seen.iter().all(|r| r.status != 429),
        "the budget stopped before the venue had to: {seen:?}"
    );
    assert!(seen.len() <= 6, "{}", seen.len());
}

#[test]
fn a_429_storm_slows_down_recovers_and_never_exceeds_the_limit() {
    let fake = fake();
    let mut b = broker(&fake);
    let storm = |times| Fault::Status {
        route: Route::Any,
        status: 429,
        body: r#"{"message":"rate limit exceeded"}"#.into(),
        headers: vec![
            ("Retry-After".into(), "1".into()),
            ("X-RateLimit-Remaining".into(), "0".into()),
        ],
        times,
    };
    fake.fault(storm(3));
    // A polling read never holds the engine's loop for the server's pause: it fails fast as
    // transient (never read as flat), is skipped until then, and recovers after the storm.
    let mut answered = None;
    for _ in 0..8 {
        let t = std::time::Instant::now();
        let r = b.positions();
        assert!(
            t.elapsed() < std::time::Duration::from_millis(600),
            "a polling read waited {:?}: {r:?}",
            t.elapsed()
        );
        match r {
            Ok(p) => {
                answered = Some(p);
                break;
            }
            Err(e) => assert!(e.to_string().contains("retry after"), "{e}"),
        }
        std::thread::sleep(std::time::Duration::from_millis(1_050));
    }
    assert_eq!(answered, Some(Vec::new()));
    let seen = fake.requests();
    assert_eq!(
        seen.iter().map(|r| r.status).collect::<Vec<_>>(),
        [429, 429, 429, 200]
    );
    for w in seen.windows(2) {
        assert!(
            w[1].at_ms - w[0].at_ms >= 990,
            "waited the Retry-After: {seen:?}"
        );
    }
    // A submit in a storm is not sent again: the venue refused it before accepting.
    fake.fault(storm(1));
    let e = b.submit(&market("bl-1-1", 1), 1).unwrap_err();
    assert!(matches!(e, BrokerError::Unavailable(_)), "{e:?}");
    assert_eq!(
        (fake.submits_of("bl-1-1"), fake.orders_created_of("bl-1-1")),
        (1, 0)
    );
    // Recovered: the same id goes through once the budget allows.
    b.submit(&market("bl-1-1", 1), 2).unwrap();
    assert_eq!(fake.orders_created_of("bl-1-1"), 1);
    let seen = fake.requests();
    let last = seen.last().unwrap();
    let refused = &seen[seen.len() - 2];
    assert!(
        last.at_ms - refused.at_ms >= 990,
        "the Retry-After held for the order too"
    );
    for (i, r) in seen.iter().enumerate() {
        let in_minute = seen[i..]
            .iter()
            .take_while(|s| s.at_ms - r.at_ms < 60_000)
            .count();
        assert!(in_minute <= 200, "{in_minute} requests in a minute");
    }
}

#[test]
fn bars_come_in_time_order_after_the_cursor_and_paginate() {
    let fake = fake();
    for _ in 0..5 {
        fake.tick();
    }
    let mut s = settings(&fake);
    s.max_pages = 10;
    let mut b = broker_with(s);
    let symbols = [Symbol::new("AAPL").unwrap(), Symbol::new("MSFT").unwrap()];
    let start = Timestamp::EPOCH;
    let all = fetch_bars(b.client(), &symbols, None, start, 1_000).unwrap();
    assert_eq!(all.bars.len(), 10, "{:?}", all.bars);
    assert!(!all.more);
    assert!(
        all.bars
            .windows(2)
            .all(|w| (w[0].ts, w[0].symbol) < (w[1].ts, w[1].symbol))
    );
    assert!(
        all.bars
            .iter()
            .all(|b| b.low <= b.open && b.open <= b.high && b.volume >= Decimal::ZERO)
    );
    let cursor = all.bars[3].ts;
    let after = fetch_bars(b.client(), &symbols, Some(cursor), start, 1_000).unwrap();
    assert!(after.bars.iter().all(|b| b.ts > cursor));
    assert_eq!(after.bars.len(), 10 - 4);
    let small = fetch_bars(b.client(), &symbols, None, start, 3).unwrap();
    // Whole minutes only: the second minute's two bars do not fit in 3 with the first's.
    assert_eq!((small.bars.len(), small.more), (2, true));
}

#[test]
fn a_cancel_uses_the_reserve_polling_and_plain_lookups_may_not() {
    let fake = fake();
    let mut s = settings(&fake);
    s.rate_limit_per_min = 36; // a reserve of 4
    s.max_wait_ms = 0;
    let mut b = broker_with(s);
    b.submit(&resting("bl-1-1", 1), 1).unwrap();
    while b.positions().is_ok() {}
    assert!(
        b.positions()
            .unwrap_err()
            .to_string()
            .contains("rate budget")
    );
    assert!(
        b.lookup(&id("bl-1-1"))
            .unwrap_err()
            .to_string()
            .contains("rate budget"),
        "a lookup of an order whose submit was answered waits like polling (the reserve is \
         for submits, cancels and settling unknown submits: \
         classification.rs only_a_lookup_settling_an_unknown_submit_uses_the_reserve)"
    );
    assert_eq!(
        b.cancel(&id("bl-1-1")),
        Ok(Some(Decimal::ONE)),
        "and the cancel"
    );
}

#[test]
fn a_partial_fill_is_reported_cumulatively_and_a_restarted_adapter_sees_the_venues_truth() {
    let fake = fake();
    let mut b = broker(&fake);
    fake.fault(Fault::PartialFill {
        fraction: Decimal::new(5, 1),
    });
    b.submit(&market("bl-1-1", 10), 1).unwrap();
    let first = b.orders_since(None, 100).unwrap();
    let since = first.orders.iter().map(|o| o.updated_at).max().unwrap();
    fake.tick();
    let part = b.orders_since(Some(since), 100).unwrap();
    assert_eq!(part.orders.len(), 1, "{part:?}");
    let o = &part.orders[0];
    assert_eq!(o.status, VenueStatus::PartiallyFilled);
    assert_eq!(
        (o.filled_qty, o.remaining),
        (Decimal::from(5), Decimal::from(5))
    );
    let since = o.updated_at;
    // A restart: a new adapter (nothing remembered) in the middle of the fill.
    drop(b);
    let mut b = broker(&fake);
    fake.tick();
    let truth = b.lookup(&id("bl-1-1")).unwrap().unwrap();
    assert_eq!(truth.status, VenueStatus::Filled);
    assert_eq!(truth.filled_qty, Decimal::from(10));
    // A fresh adapter never saw it open, and Alpaca lists by submission time: the changed
    // list cannot report it — the lookup above (reconciliation's, for an order it tracks) does.
    let changed = b.orders_since(Some(since), 100).unwrap();
    assert!(changed.orders.is_empty(), "{changed:?}");
    let p = b.positions().unwrap();
    assert_eq!(p[0].qty, Decimal::from(10));
}

/// Place an order on the fake behind the adapter's back (another client on the account).
fn place_raw(fake: &ballast_fake_alpaca::FakeAlpaca, body: serde_json::Value) {
    let cfg = FakeConfig::default();
    let r = reqwest::blocking::Client::new()
        .post(format!("{}/v2/orders", fake.url()))
        .header("APCA-API-KEY-ID", cfg.key_id.as_str())
        .header("APCA-API-SECRET-KEY", cfg.secret_key.as_str())
        .json(&body)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{:?}", r.text());
}

#[test]
fn a_notional_or_stop_order_of_another_is_listed_as_foreign_not_a_schema_error() {
    let fake = fake();
    let mut b = broker(&fake);
    place_raw(
        &fake,
        serde_json::json!({"symbol": "AAPL", "side": "buy", "type": "market",
            "time_in_force": "day", "notional": "500"}),
    );
    place_raw(
        &fake,
        serde_json::json!({"symbol": "AAPL", "side": "sell", "type": "stop",
            "time_in_force": "gtc", "qty": "2", "stop_price": "1"}),
    );
    let open = b
        .open_orders()
        .expect("valid foreign orders are not a contract break");
    let mut tags: Vec<&str> = open
        .iter()
        .map(|o| {
            o.order
                .client_order_id
                .as_str()
                .split('-')
                .next()
                .unwrap_or("")
        })
        .collect();
    tags.sort();
    assert_eq!(tags, ["notional", "stop"], "{open:?}");
    let stop = open
        .iter()
        .find(|o| o.order.client_order_id.as_str().starts_with("stop-"))
        .unwrap();
    assert!(
        stop.order.limit_price().is_some(),
        "a stop is not shown as a market order"
    );
    assert!(b.orders_since(None, 100).is_ok());
}

#[test]
fn multi_symbol_bars_read_in_small_batches_lose_no_symbol() {
    let fake = fake();
    for _ in 0..5 {
        fake.tick();
    }
    let mut b = broker(&fake);
    let symbols = [Symbol::new("AAPL").unwrap(), Symbol::new("MSFT").unwrap()];
    let mut cursor = None;
    let mut seen = Vec::new();
    for _ in 0..20 {
        let batch = fetch_bars(b.client(), &symbols, cursor, Timestamp::EPOCH, 3).unwrap();
        assert!(batch.bars.len() <= 3);
        cursor = batch.bars.iter().map(|b| b.ts).max().or(cursor);
        seen.extend(batch.bars);
        if !batch.more {
            break;
        }
    }
    for s in &symbols {
        assert_eq!(
            seen.iter().filter(|b| b.symbol == *s).count(),
            5,
            "every bar of {s}: {seen:?}"
        );
    }
}

#[test]
fn a_cancel_refused_as_not_cancelable_on_an_order_still_open_is_not_read_as_closed() {
    let fake = fake();
    let mut b = broker(&fake);
    b.submit(&resting("bl-1-1", 3), 1).unwrap();
    // A cancel already under way at the venue (pending_cancel): Alpaca answers 422.
    fake.fault(Fault::Status {
        route: Route::CancelOrder,
        status: 422,
        body: r#"{"code": 42210000, "message": "order is not cancelable"}"#.into(),
        headers: Vec::new(),
        times: 1,
    });
    assert_eq!(
        b.cancel(&id("bl-1-1")),
        Ok(Some(Decimal::from(3))),
        "still open at the venue: it may fill, so it is not reported as not open"
    );
    assert_eq!(
        b.cancel(&id("bl-1-1")),
        Ok(Some(Decimal::from(3))),
        "accepted"
    );
    assert_eq!(
        b.cancel(&id("bl-1-1")),
        Ok(None),
        "cancelled: not open any more"
    );
}

/// Two journals (two id epochs) on one account: each sends its ids under its epoch, so the
/// second's `bl-1-1` is a new order at the venue (never the first's, never its fill), and
/// each reads only its own orders back under Ballast's ids; the other's are `other-<id>`.
#[test]
fn two_journals_with_their_epochs_never_share_an_order() {
    let fake = fake();
    let mut first = broker(&fake);
    first.set_epoch(Some("mh1a2b3c".into())).unwrap();
    first.submit(&market("bl-1-1", 2), 1).unwrap();
    fake.tick();
    let mut second = broker(&fake);
    second.set_epoch(Some("mh1a9z9z".into())).unwrap();
    assert_eq!(
        second.lookup(&id("bl-1-1")).unwrap(),
        None,
        "not the first's"
    );
    second.submit(&resting("bl-1-1", 3), 1).unwrap();
    assert_eq!(fake.orders_created_of("mh1a2b3c-bl-1-1"), 1);
    assert_eq!(fake.orders_created_of("mh1a9z9z-bl-1-1"), 1);
    assert_eq!(fake.orders_created_of("bl-1-1"), 0, "no bare id sent");
    let mine = second.lookup(&id("bl-1-1")).unwrap().unwrap();
    assert_eq!(
        (mine.status, mine.filled_qty, mine.remaining),
        (VenueStatus::New, Decimal::ZERO, Decimal::from(3))
    );
    let all = second.orders_since(None, 100).unwrap().orders;
    let names: Vec<String> = all
        .iter()
        .map(|o| o.order.client_order_id.to_string())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert_eq!(
        names.iter().filter(|n| *n == "bl-1-1").count(),
        1,
        "only its own order under Ballast's id: {names:?}"
    );
    let theirs = all
        .iter()
        .find(|o| o.order.client_order_id.as_str() != "bl-1-1")
        .unwrap();
    assert!(
        theirs.order.client_order_id.as_str().starts_with("other-"),
        "{names:?}"
    );
    assert_eq!(
        theirs.filled_qty,
        Decimal::from(2),
        "the first's fill is not ours"
    );
}

/// A journal without an epoch (stamped before epochs) that meets another order under its
/// id: the 422 duplicate's lookup finds an order unlike ours — never accepted, refused.
#[test]
fn a_duplicate_id_of_another_order_is_refused_not_accepted() {
    let fake = fake();
    let mut old = broker(&fake);
    old.submit(&market("bl-1-1", 2), 1).unwrap();
    fake.tick();
    let mut fresh = broker(&fake);
    let r = fresh.submit(&market("bl-1-1", 5), 1);
    match r {
        Err(BrokerError::Rejected { reason }) => {
            assert!(reason.contains("belongs to another order"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(fake.orders_created_of("bl-1-1"), 1);
    // The same order sent again (a retry of ours) is ours.
    let mut o = market("bl-1-1", 2);
    o.created_at = Timestamp::EPOCH;
    assert_eq!(fresh.submit(&o, 1), Ok(()));
}

/// The longest ids Ballast writes fit Alpaca's 48 characters with the longest epoch.
#[test]
fn the_longest_ballast_id_with_an_epoch_fits_alpaca() {
    let mut b = broker(&fake());
    let epoch = ballast_core::engine::id_epoch(2_800_000_000_000);
    assert!(
        epoch.len() <= ballast_alpaca::broker::MAX_EPOCH_LEN,
        "{epoch}"
    );
    b.set_epoch(Some(epoch)).unwrap();
    let longest = [
        format!("bl-liq-{}-{}", u64::MAX, u32::MAX),
        format!("bl-ks-{}-{}", u64::MAX, u32::MAX),
        format!("bl-pol-{}-{}", u64::MAX, u32::MAX),
        format!("bl-rec-{}-{}", u64::MAX, u32::MAX),
        format!("bl-{}-{}", u64::MAX, u32::MAX),
    ];
    for l in longest {
        let wire = b.wire_id(&id(&l));
        assert!(wire.len() <= 48, "{wire} ({} chars)", wire.len());
    }
    assert!(b.set_epoch(Some("toolong99".into())).is_err());
}
