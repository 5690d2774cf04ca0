//! Paging the venue's lists and the changed orders' cursor against the fake over real HTTP:
//! orders sharing a timestamp, the `limit` cut, lists longer than the page budget.

mod common;

use ballast_core::Timestamp;
use ballast_core::broker::{Broker, VenueOrder, VenueStatus};
use common::*;

fn names(orders: &[VenueOrder]) -> Vec<String> {
    let mut n: Vec<String> = orders
        .iter()
        .map(|o| o.order.client_order_id.to_string())
        .collect();
    n.sort();
    n
}

#[test]
fn orders_sharing_a_submitted_at_across_a_page_boundary_are_all_listed() {
    let fake = fake();
    let mut s = settings(&fake);
    s.page_size = 3;
    let mut b = broker_with(s);
    b.submit(&resting("bl-1-1", 1), 1).unwrap();
    b.submit(&resting("bl-2-1", 1), 1).unwrap();
    b.submit(&resting("bl-3-1", 1), 1).unwrap();
    // Frozen, the next event gets the last one's time: 3 and 4 share one submitted_at, and
    // the first page ends at 3.
    fake.freeze_clock(true);
    b.submit(&resting("bl-4-1", 1), 1).unwrap();
    fake.freeze_clock(false);
    b.submit(&resting("bl-5-1", 1), 1).unwrap();
    let open = b.open_orders().unwrap();
    assert_eq!(
        names(&open),
        ["bl-1-1", "bl-2-1", "bl-3-1", "bl-4-1", "bl-5-1"]
    );
    let all = b.orders_since(None, 100).unwrap();
    assert_eq!(names(&all.orders).len(), 5, "{:?}", names(&all.orders));
}

#[test]
fn a_full_page_of_orders_within_one_microsecond_is_read_whole() {
    let fake = fake();
    let mut s = settings(&fake);
    s.page_size = 2;
    let mut b = broker_with(s);
    fake.freeze_clock(true);
    for i in 1..=3 {
        b.submit(&resting(&format!("bl-{i}-1"), 1), 1).unwrap();
    }
    fake.freeze_clock(false);
    b.submit(&resting("bl-4-1", 1), 1).unwrap();
    let open = b.open_orders().unwrap();
    assert_eq!(names(&open), ["bl-1-1", "bl-2-1", "bl-3-1", "bl-4-1"]);
}

/// The wall clock in ms (the fake's order times are the wall clock).
fn fake_now(_fake: &ballast_fake_alpaca::FakeAlpaca) -> i64 {
    #[allow(clippy::disallowed_methods)]
    let now = std::time::SystemTime::now();
    now.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0))
}

/// Polls like the engine (`venue_gate::next_cursor`: the latest change seen, one millisecond
/// back, never moving back) until `more` is false, at most `calls` calls: every change seen.
fn poll(
    b: &mut ballast_alpaca::broker::AlpacaBroker,
    cursor: &mut Timestamp,
    limit: usize,
    calls: usize,
) -> Vec<VenueOrder> {
    let mut seen = Vec::new();
    for _ in 0..calls {
        let page = b.orders_since(Some(*cursor), limit).unwrap();
        if let Some(l) = page.orders.iter().map(|o| o.updated_at).max() {
            *cursor = (*cursor).max(l.plus_ms(-1));
        }
        seen.extend(page.orders);
        if !page.more {
            break;
        }
    }
    seen
}

fn filled(seen: &[VenueOrder], name: &str) -> bool {
    seen.iter()
        .any(|o| o.order.client_order_id.as_str() == name && o.status == VenueStatus::Filled)
}

#[test]
fn a_change_cut_by_the_limit_is_returned_by_the_next_call() {
    let fake = fake();
    let mut b = broker(&fake);
    let mut cursor = Timestamp::from_unix_ms(fake_now(&fake) - 1_000);
    // X is submitted first and fills last; Y changes in between.
    b.submit(&market("bl-1-1", 1), 1).unwrap();
    b.submit(&resting("bl-2-1", 1), 1).unwrap();
    b.cancel(&id("bl-2-1")).unwrap();
    fake.tick();
    let first = b.orders_since(Some(cursor), 1).unwrap();
    assert_eq!(first.orders.len(), 1);
    assert!(first.more);
    cursor = first.orders[0].updated_at.plus_ms(-1);
    let rest = poll(&mut b, &mut cursor, 1, 10);
    let mut all = first.orders;
    all.extend(rest);
    assert!(filled(&all, "bl-1-1"), "X's fill is reported: {all:?}");
    assert!(
        all.iter()
            .any(|o| o.order.client_order_id.as_str() == "bl-2-1")
    );
}

#[test]
fn unread_pages_of_the_all_list_are_read_even_when_the_cursor_jumped() {
    let fake = fake();
    let mut s = settings(&fake);
    s.page_size = 2;
    s.max_pages = 2;
    let mut b = broker_with(s);
    let mut cursor = Timestamp::from_unix_ms(fake_now(&fake) - 1_000);
    for i in 1..=6 {
        b.submit(&market(&format!("bl-{i}-1"), 1), 1).unwrap();
    }
    fake.tick();
    // An open order changed after every fill: the engine's cursor jumps to it.
    b.submit(&resting("bl-9-1", 1), 1).unwrap();
    let seen = poll(&mut b, &mut cursor, 100, 10);
    for i in 1..=6 {
        assert!(
            filled(&seen, &format!("bl-{i}-1")),
            "bl-{i}-1's fill: {seen:?}"
        );
    }
    assert!(
        seen.iter()
            .any(|o| o.order.client_order_id.as_str() == "bl-9-1")
    );
}

#[test]
fn more_open_orders_than_the_page_budget_do_not_starve_the_all_list() {
    let fake = fake();
    let mut s = settings(&fake);
    s.page_size = 2;
    s.max_pages = 2;
    let mut b = broker_with(s);
    let mut cursor = Timestamp::from_unix_ms(fake_now(&fake) - 1_000);
    for i in 1..=5 {
        b.submit(&resting(&format!("bl-{i}-1"), 1), 1).unwrap();
    }
    b.submit(&market("bl-7-1", 1), 1).unwrap();
    fake.tick();
    let seen = poll(&mut b, &mut cursor, 100, 10);
    assert!(filled(&seen, "bl-7-1"), "the fill is reported: {seen:?}");
    assert!(b.open_list_partial(), "the cut open list is reported");
}

#[test]
fn changes_in_the_same_millisecond_as_the_cursor_are_not_dropped() {
    let fake = fake();
    let mut b = broker(&fake);
    let since = Timestamp::from_unix_ms(fake_now(&fake) - 1_000);
    b.submit(&resting("bl-1-1", 1), 1).unwrap();
    fake.freeze_clock(true);
    b.submit(&resting("bl-2-1", 1), 1).unwrap();
    fake.freeze_clock(false);
    let first = b.orders_since(Some(since), 1).unwrap();
    assert_eq!(names(&first.orders), ["bl-1-1"]);
    assert!(first.more);
    // Asked again from the last change's own time (the contract: `since` inclusive).
    let next = b.orders_since(Some(first.orders[0].updated_at), 1).unwrap();
    assert_eq!(
        names(&next.orders),
        ["bl-2-1"],
        "the same millisecond's sibling"
    );
    let again = b
        .orders_since(Some(first.orders[0].updated_at), 10)
        .unwrap();
    assert!(
        again.orders.is_empty(),
        "each change is returned once: {again:?}"
    );
    assert!(!again.more);
}
