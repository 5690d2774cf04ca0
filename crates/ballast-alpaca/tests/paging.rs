//! Paging the venue's lists and the changed orders' cursor against the fake over real HTTP:
//! orders sharing a timestamp, the `limit` cut, lists longer than the page budget.

mod common;

use ballast_core::broker::Broker;
use common::*;

fn names(orders: &[ballast_core::broker::VenueOrder]) -> Vec<String> {
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
