//! The matching model: the bundled replay bars, one per tick per symbol; market orders at the
//! next open, limits when crossed, partial fills, positions (signed) and cash following fills.

mod common;

use ballast_core::domain::Symbol;
use ballast_core::market::Bar;
use ballast_fake_alpaca::Fault;
use common::{dec, start};
use rust_decimal::Decimal;
use serde_json::json;

fn aapl() -> Vec<Bar> {
    let s = Symbol::new("AAPL").unwrap();
    ballast_engine::feed::file::load_bundled(&[s])
        .unwrap()
        .bars
        .into_vec()
}

fn d(n: i64) -> Decimal {
    Decimal::from(n)
}

#[tokio::test]
async fn a_market_order_fills_at_the_next_tick_s_open_and_moves_cash_and_position() {
    let api = start();
    let bars = aapl();
    let sub = api.market("m-1", "buy", "3").await;
    assert_eq!(sub.body["status"], "new");
    assert_eq!(
        api.get("/v2/orders:by_client_order_id?client_order_id=m-1")
            .await
            .body["status"],
        "new"
    );
    api.fake.tick();
    let o = api
        .get("/v2/orders:by_client_order_id?client_order_id=m-1")
        .await
        .body;
    assert_eq!(o["status"], "filled");
    assert_eq!(dec(&o["filled_avg_price"]), bars[0].open);
    assert_ne!(o["updated_at"], sub.body["updated_at"]);
    let acct = api.get("/v2/account").await.body;
    assert_eq!(dec(&acct["cash"]), d(100_000) - d(3) * bars[0].open);
    assert_eq!(dec(&acct["long_market_value"]), d(3) * bars[0].close);
    let pos = &api.get("/v2/positions").await.body[0];
    assert_eq!(dec(&pos["avg_entry_price"]), bars[0].open);
    assert_eq!(dec(&pos["current_price"]), bars[0].close);
    assert_eq!(pos["side"], "long");
    // The next order fills at the next bar's open.
    api.market("m-2", "buy", "1").await;
    api.fake.tick();
    let o2 = api.fake.order_by_client_id("m-2").unwrap();
    assert_eq!(dec(&o2["filled_avg_price"]), bars[1].open);
    let pos = &api.get("/v2/positions").await.body[0];
    assert_eq!(dec(&pos["qty"]), d(4));
    assert_eq!(
        dec(&pos["avg_entry_price"]),
        (d(3) * bars[0].open + bars[1].open) / d(4)
    );
}

#[tokio::test]
async fn a_limit_fills_only_when_the_bar_crosses_it() {
    let api = start();
    let bars = aapl();
    api.fake.tick(); // bar 0 revealed; the next is bar 1
    let far = bars[1].low - d(1);
    let inside = (bars[1].low + bars[1].open.min(bars[1].high)) / d(2);
    let limit = |cid: &str, p: Decimal| {
        json!({"symbol": "AAPL", "side": "buy", "type": "limit", "time_in_force": "gtc",
               "qty": "2", "limit_price": p.to_string(), "client_order_id": cid})
    };
    api.post("/v2/orders", &limit("far", far)).await;
    api.post("/v2/orders", &limit("inside", inside)).await;
    api.fake.tick();
    let f = api.fake.order_by_client_id("far").unwrap();
    assert_eq!(f["status"], "new");
    let i = api.fake.order_by_client_id("inside").unwrap();
    assert_eq!(i["status"], "filled");
    let expect = if bars[1].open <= inside {
        bars[1].open
    } else {
        inside
    };
    assert_eq!(dec(&i["filled_avg_price"]), expect);
}

#[tokio::test]
async fn a_partial_fill_fault_fills_a_fraction_per_tick_cumulatively() {
    let api = start();
    let bars = aapl();
    api.fake.fault(Fault::PartialFill {
        fraction: Decimal::new(5, 1),
    });
    let sub = api.market("half", "buy", "10").await;
    api.fake.tick();
    let o = api.fake.order_by_client_id("half").unwrap();
    assert_eq!(o["status"], "partially_filled");
    assert_eq!(dec(&o["filled_qty"]), d(5));
    assert_eq!(dec(&o["filled_avg_price"]), bars[0].open);
    assert_ne!(o["updated_at"], sub.body["updated_at"]);
    let open = api.get("/v2/orders").await.body;
    assert_eq!(
        open.as_array().unwrap().len(),
        1,
        "a partially filled order is open"
    );
    assert_eq!(dec(&api.get("/v2/positions").await.body[0]["qty"]), d(5));
    api.fake.tick();
    let o2 = api.fake.order_by_client_id("half").unwrap();
    assert_eq!(o2["status"], "filled");
    assert_eq!(dec(&o2["filled_qty"]), d(10));
    let avg = ((bars[0].open * d(5) + bars[1].open * d(5)) / d(10))
        .round_dp(6)
        .normalize();
    assert_eq!(dec(&o2["filled_avg_price"]), avg);
    assert_ne!(o2["updated_at"], o["updated_at"]);
}

#[tokio::test]
async fn a_short_has_a_negative_quantity_and_crossing_flat_resets_the_entry() {
    let api = start();
    let bars = aapl();
    api.market("s-1", "sell", "5").await;
    api.fake.tick();
    let p = &api.get("/v2/positions").await.body[0];
    assert_eq!(p["side"], "short");
    assert_eq!(dec(&p["qty"]), d(-5));
    assert!(dec(&p["market_value"]) < Decimal::ZERO);
    assert_eq!(
        dec(&api.get("/v2/account").await.body["cash"]),
        d(100_000) + d(5) * bars[0].open
    );
    api.market("s-2", "buy", "8").await;
    api.fake.tick();
    let p = &api.get("/v2/positions").await.body[0];
    assert_eq!(p["side"], "long");
    assert_eq!(dec(&p["qty"]), d(3));
    assert_eq!(dec(&p["avg_entry_price"]), bars[1].open);
    api.market("s-3", "sell", "3").await;
    api.fake.tick();
    assert_eq!(
        api.get("/v2/positions").await.body,
        json!([]),
        "flat: no position"
    );
}

#[tokio::test]
async fn fok_and_ioc_do_not_rest() {
    let api = start();
    let bars = aapl();
    let below = (bars[0].low - d(1)).to_string();
    for (cid, tif) in [("fok-1", "fok"), ("ioc-1", "ioc")] {
        api.post(
            "/v2/orders",
            &json!({"symbol": "AAPL", "side": "buy", "type": "limit",
            "time_in_force": tif, "qty": "1", "limit_price": below, "client_order_id": cid}),
        )
        .await;
    }
    api.fake.tick();
    for cid in ["fok-1", "ioc-1"] {
        assert_eq!(
            api.fake.order_by_client_id(cid).unwrap()["status"],
            "canceled",
            "{cid}"
        );
    }
}

#[tokio::test]
async fn a_position_changed_behind_our_back_is_what_the_venue_reports() {
    let api = start();
    api.market("b-1", "buy", "2").await;
    api.fake.tick();
    api.fake.set_position("AAPL", d(7), Decimal::new(10_050, 2));
    let p = &api.get("/v2/positions").await.body[0];
    assert_eq!(dec(&p["qty"]), d(7));
    assert_eq!(dec(&p["avg_entry_price"]), Decimal::new(10_050, 2));
    api.fake.set_position("MSFT", d(-4), d(30));
    assert_eq!(
        api.get("/v2/positions")
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        2
    );
    api.fake.set_position("AAPL", Decimal::ZERO, Decimal::ZERO);
    let left = api.get("/v2/positions").await.body;
    assert_eq!(left.as_array().unwrap().len(), 1);
    assert_eq!(left[0]["symbol"], "MSFT");
    assert_eq!(left[0]["side"], "short");
}

#[tokio::test]
async fn an_order_we_do_not_own_rests_open_at_the_venue() {
    let api = start();
    let id = api.fake.add_foreign_order("MSFT", "sell", d(3));
    for _ in 0..5 {
        api.fake.tick();
    }
    let open = api.get("/v2/orders").await.body;
    let all = open.as_array().unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["id"], id.as_str());
    assert_eq!(all[0]["status"], "new");
    assert_eq!(all[0]["symbol"], "MSFT");
    assert_eq!(
        all[0]["client_order_id"].as_str().unwrap().len(),
        36,
        "a venue-assigned id"
    );
    // A client order of ours is still ours alone.
    assert_eq!(api.market("mine", "buy", "1").await.status, 200);
    assert_eq!(api.fake.orders_created_of("mine"), 1);
}

#[tokio::test]
async fn a_notional_order_s_quantity_is_fixed_by_its_fill() {
    let api = start();
    let bars = aapl();
    let r = api
        .post(
            "/v2/orders",
            &json!({"symbol": "AAPL", "side": "buy", "type": "market", "time_in_force": "day",
                    "notional": "500", "client_order_id": "n-1"}),
        )
        .await;
    assert!(r.body["qty"].is_null());
    api.fake.tick();
    let o = api.fake.order_by_client_id("n-1").unwrap();
    assert_eq!(o["status"], "filled");
    let qty = (d(500) / bars[0].open).round_dp(9).normalize();
    assert_eq!(dec(&o["filled_qty"]), qty);
    assert_eq!(dec(&o["qty"]), qty);
    assert_eq!(dec(&o["notional"]), d(500));
}

#[tokio::test]
async fn an_ioc_order_keeps_its_partial_fill_and_cancels_the_rest() {
    let api = start();
    api.fake.fault(Fault::PartialFill {
        fraction: Decimal::new(25, 2),
    });
    api.post(
        "/v2/orders",
        &json!({"symbol": "AAPL", "side": "buy", "type": "market", "time_in_force": "ioc",
                "qty": "8", "client_order_id": "ioc-p"}),
    )
    .await;
    api.fake.tick();
    let o = api.fake.order_by_client_id("ioc-p").unwrap();
    assert_eq!(o["status"], "canceled");
    assert_eq!(dec(&o["filled_qty"]), d(2));
    assert_eq!(dec(&api.get("/v2/positions").await.body[0]["qty"]), d(2));
}
