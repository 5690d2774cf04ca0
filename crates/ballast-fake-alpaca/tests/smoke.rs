//! The first path a client takes: account, submit, tick, lookup, list, cancel, counts.

mod common;

use common::{dec, start};
use rust_decimal::Decimal;

#[tokio::test]
async fn an_order_goes_from_submit_to_filled_and_is_counted_once() {
    let api = start();
    let acct = api.get("/v2/account").await;
    assert_eq!(acct.status, 200);
    assert_eq!(dec(&acct.body["cash"]), Decimal::from(100_000));
    let sub = api.market("smoke-1", "buy", "3").await;
    assert_eq!(sub.status, 200, "{}", sub.body);
    assert_eq!(sub.body["status"], "new");
    assert_eq!(sub.body["client_order_id"], "smoke-1");
    api.fake.tick();
    let got = api
        .get("/v2/orders:by_client_order_id?client_order_id=smoke-1")
        .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["status"], "filled");
    assert_eq!(dec(&got.body["filled_qty"]), Decimal::from(3));
    let pos = api.get("/v2/positions").await;
    assert_eq!(pos.body[0]["symbol"], "AAPL");
    assert_eq!(dec(&pos.body[0]["qty"]), Decimal::from(3));
    assert_eq!(api.fake.orders_created_of("smoke-1"), 1);
    assert_eq!(api.fake.submits_of("smoke-1"), 1);
}

#[test]
fn the_handle_can_be_shared_across_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<ballast_fake_alpaca::FakeAlpaca>();
}

#[tokio::test]
async fn an_auto_ticking_market_moves_by_itself() {
    let api = common::start_with(ballast_fake_alpaca::FakeConfig {
        auto_tick_ms: Some(10),
        ..Default::default()
    });
    api.market("auto-1", "buy", "1").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let o = api
            .get("/v2/orders:by_client_order_id?client_order_id=auto-1")
            .await;
        if o.body["status"] == "filled" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never filled: {}",
            o.body
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(api.fake.ticks() >= 1);
}

#[tokio::test]
async fn a_live_demo_account_has_a_live_key_and_number() {
    let api = common::start_with(ballast_fake_alpaca::FakeConfig::live_demo());
    assert!(api.key.starts_with("AK"));
    let a = api.get("/v2/account").await;
    assert_eq!(a.status, 200);
    assert!(!a.body["account_number"].as_str().unwrap().starts_with("PA"));
}

#[test]
fn the_config_s_debug_shows_no_key() {
    let cfg = ballast_fake_alpaca::FakeConfig {
        key_id: "AKREALKEY123".into(),
        secret_key: "real-secret-456".into(),
        ..Default::default()
    };
    let shown = format!("{cfg:?}");
    assert!(
        !shown.contains("AKREALKEY123") && !shown.contains("real-secret-456"),
        "{shown}"
    );
    assert!(shown.contains("rate_limit_per_min"));
}
