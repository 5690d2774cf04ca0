//! Account activities of type FILL (one per execution, paged by id) and the single-position
//! routes (`GET` / `DELETE /v2/positions/{symbol}`).

mod common;

use ballast_fake_alpaca::Fault;
use common::{dec, start};
use rust_decimal::Decimal;
use serde_json::Value;

#[tokio::test]
async fn each_execution_is_one_fill_activity() {
    let api = start();
    api.fake.fault(Fault::PartialFill {
        fraction: Decimal::new(5, 1),
    });
    let o = api.market("act-1", "buy", "4").await;
    let oid = o.body["id"].as_str().unwrap().to_owned();
    api.fake.tick();
    api.fake.tick();
    let all = api.get("/v2/account/activities/FILL?direction=asc").await;
    assert_eq!(all.status, 200);
    let items = all.body.as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["type"], "partial_fill");
    assert_eq!(items[1]["type"], "fill");
    for (i, a) in items.iter().enumerate() {
        assert_eq!(a["activity_type"], "FILL");
        assert_eq!(a["order_id"], oid.as_str());
        assert_eq!(dec(&a["qty"]), Decimal::from(2));
        assert_eq!(dec(&a["cum_qty"]), Decimal::from(2 * (i as i64 + 1)));
        assert_eq!(a["order_status"], "filled");
        assert!(a["transaction_time"].is_string() && a["id"].is_string());
    }
    assert_ne!(items[0]["id"], items[1]["id"]);
    let same = api
        .get("/v2/account/activities?activity_types=FILL&direction=asc")
        .await;
    assert_eq!(&same.body, &all.body);
    let none = api.get("/v2/account/activities?activity_types=DIV").await;
    assert_eq!(none.body, Value::Array(vec![]));
    // Paging by the last id, and `after` on the transaction time.
    let first = api
        .get("/v2/account/activities/FILL?direction=asc&page_size=1")
        .await;
    let token = first.body[0]["id"].as_str().unwrap();
    let next = api
        .get(&format!(
            "/v2/account/activities/FILL?direction=asc&page_size=1&page_token={token}"
        ))
        .await;
    assert_eq!(next.body[0]["id"], items[1]["id"]);
    let t0 = items[0]["transaction_time"].as_str().unwrap();
    let after = api
        .get(&format!("/v2/account/activities/FILL?after={t0}"))
        .await;
    assert_eq!(after.body.as_array().unwrap().len(), 1);
    assert_eq!(
        api.get("/v2/account/activities/FILL?page_size=101")
            .await
            .status,
        422
    );
}

#[tokio::test]
async fn one_position_can_be_read_and_closed() {
    let api = start();
    assert_eq!(api.get("/v2/positions/AAPL").await.status, 404);
    assert_eq!(api.delete("/v2/positions/AAPL").await.status, 404);
    api.market("pos-1", "buy", "6").await;
    api.fake.tick();
    let p = api.get("/v2/positions/aapl").await;
    assert_eq!(p.status, 200);
    assert_eq!(dec(&p.body["qty"]), Decimal::from(6));
    let half = api.delete("/v2/positions/AAPL?percentage=50").await;
    assert_eq!(half.status, 200);
    assert_eq!(half.body["side"], "sell");
    assert_eq!(dec(&half.body["qty"]), Decimal::from(3));
    api.fake.tick();
    assert_eq!(
        dec(&api.get("/v2/positions/AAPL").await.body["qty"]),
        Decimal::from(3)
    );
    assert_eq!(api.delete("/v2/positions/AAPL?qty=7").await.status, 422);
    let rest = api.delete("/v2/positions/AAPL").await;
    assert_eq!(rest.status, 200);
    api.fake.tick();
    assert_eq!(api.get("/v2/positions/AAPL").await.status, 404);
}
