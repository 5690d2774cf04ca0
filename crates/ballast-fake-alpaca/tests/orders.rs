//! The order routes' status codes and bodies: submit validation, single-use client order ids,
//! buying power, lookups, cancels, cancel-all, listing filters and pagination, body bounds.

mod common;

use common::{dec, market, start};
use rust_decimal::Decimal;
use serde_json::{Value, json};

fn code_and_message(v: &Value) -> (i64, String) {
    (
        v["code"].as_i64().unwrap_or(-1),
        v["message"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn a_submit_is_validated_like_alpaca() {
    let api = start();
    let base = json!({"symbol": "AAPL", "side": "buy", "type": "market", "time_in_force": "day", "qty": "1"});
    let cases: Vec<(Value, &str)> = vec![
        (json!({"type": null}), "type is required"),
        (json!({"time_in_force": null}), "time_in_force is required"),
        (json!({"qty": null}), "qty or notional is required"),
        (json!({"notional": "100"}), "only one of qty or notional"),
        (
            json!({"qty": null, "notional": "100", "time_in_force": "gtc"}),
            "notional",
        ),
        (
            json!({"qty": null, "notional": "100", "type": "limit", "limit_price": "1"}),
            "notional",
        ),
        (json!({"type": "limit"}), "limit_price is required"),
        (json!({"type": "stop"}), "stop_price is required"),
        (json!({"client_order_id": "x".repeat(49)}), "48"),
        (json!({"symbol": "NOPE"}), "not found"),
        (json!({"qty": "-1"}), "qty must be > 0"),
        (json!({"side": "hold"}), "invalid side"),
        (json!({"order_class": "bracket"}), "bracket"),
    ];
    for (change, want) in cases {
        let mut body = base.clone();
        for (k, v) in change.as_object().unwrap() {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        let r = api.post("/v2/orders", &body).await;
        assert_eq!(r.status, 422, "{body} → {}", r.body);
        let (code, message) = code_and_message(&r.body);
        assert!(code > 0 && message.contains(want), "{body} → {}", r.body);
    }
    assert!(
        api.get("/v2/orders?status=all")
            .await
            .body
            .as_array()
            .unwrap()
            .is_empty()
    );
    let ok = api
        .post(
            "/v2/orders",
            &json!({"symbol": "AAPL", "side": "buy", "type": "market",
            "time_in_force": "day", "notional": "500", "client_order_id": "n-1"}),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body["notional"], "500");
    assert!(ok.body["qty"].is_null());
    let bad_json = api
        .send(api.http.post(api.url("/v2/orders")).body("{not json"))
        .await
        .unwrap();
    assert_eq!(bad_json.status, 400);
}

#[tokio::test]
async fn a_client_order_id_is_single_use_forever_even_after_cancel() {
    let api = start();
    let body = json!({"symbol": "AAPL", "side": "buy", "type": "limit", "time_in_force": "gtc",
                      "qty": "1", "limit_price": "1", "client_order_id": "once"});
    let first = api.post("/v2/orders", &body).await;
    assert_eq!(first.status, 200);
    let again = api.post("/v2/orders", &body).await;
    assert_eq!(again.status, 422);
    assert_eq!(
        again.body,
        json!({"code": 40010001, "message": "client_order_id must be unique"})
    );
    let id = first.body["id"].as_str().unwrap();
    assert_eq!(api.delete(&format!("/v2/orders/{id}")).await.status, 204);
    let after_cancel = api.post("/v2/orders", &body).await;
    assert_eq!(after_cancel.status, 422);
    assert_eq!(after_cancel.body["code"], 40010001);
    assert_eq!(api.fake.submits_of("once"), 3);
    assert_eq!(api.fake.orders_created_of("once"), 1);
}

#[tokio::test]
async fn a_buy_the_cash_does_not_cover_is_403() {
    let api = start();
    let r = api.market("big", "buy", "100000").await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.body,
        json!({"code": 40310000, "message": "insufficient buying power"})
    );
    assert_eq!(api.fake.orders_created_of("big"), 0);
    assert!(api.fake.order_by_client_id("big").is_none());
    // Open buys hold buying power back.
    let half = api.market("half", "buy", "400").await; // ~118.56 × 400 = 47k
    assert_eq!(half.status, 200, "{}", half.body);
    let bp = dec(&api.get("/v2/account").await.body["buying_power"]);
    assert!(
        bp < Decimal::from(60_000),
        "buying power {bp} keeps the open buy back"
    );
    assert_eq!(api.market("more", "buy", "500").await.status, 403);
}

#[tokio::test]
async fn lookups_and_cancels_answer_404_204_and_422() {
    let api = start();
    let missing = api
        .get("/v2/orders:by_client_order_id?client_order_id=never")
        .await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.body,
        json!({"code": 40410000, "message": "order not found"})
    );
    assert_eq!(
        api.get("/v2/orders/00000000-0000-4000-8000-000000000000")
            .await
            .status,
        404
    );
    let gone = api
        .delete("/v2/orders/00000000-0000-4000-8000-000000000000")
        .await;
    assert_eq!(gone.status, 404);
    let o = api.market("f-1", "buy", "1").await;
    api.fake.tick();
    let id = o.body["id"].as_str().unwrap();
    let filled = api.delete(&format!("/v2/orders/{id}")).await;
    assert_eq!(filled.status, 422, "a filled order is not cancelable");
    assert!(code_and_message(&filled.body).1.contains("filled"));
    let rest = api
        .post(
            "/v2/orders",
            &json!({"symbol": "AAPL", "side": "buy", "type": "limit",
            "time_in_force": "gtc", "qty": "1", "limit_price": "1", "client_order_id": "r-1"}),
        )
        .await;
    let rid = rest.body["id"].as_str().unwrap();
    let del = api
        .send(api.http.delete(api.url(&format!("/v2/orders/{rid}"))))
        .await
        .unwrap();
    assert_eq!(del.status, 204);
    assert!(del.body.is_null(), "204 has no body");
    let after = api.get(&format!("/v2/orders/{rid}")).await;
    assert_eq!(after.body["status"], "canceled");
    assert!(after.body["canceled_at"].is_string());
    assert_ne!(after.body["updated_at"], rest.body["updated_at"]);
}

#[tokio::test]
async fn cancel_all_answers_207_with_each_order() {
    let api = start();
    for i in 0..3 {
        api.post("/v2/orders", &json!({"symbol": "AAPL", "side": "buy", "type": "limit",
            "time_in_force": "gtc", "qty": "1", "limit_price": "1", "client_order_id": format!("a-{i}")}))
            .await;
    }
    let r = api.delete("/v2/orders").await;
    assert_eq!(r.status, 207);
    let items = r.body.as_array().unwrap();
    assert_eq!(items.len(), 3);
    for it in items {
        assert_eq!(it["status"], 200);
        assert_eq!(it["id"], it["body"]["id"]);
        assert_eq!(it["body"]["status"], "canceled");
    }
    let again = api.delete("/v2/orders").await;
    assert_eq!(again.status, 207);
    assert_eq!(again.body, json!([]));
}

#[tokio::test]
async fn listing_filters_and_pages_on_submission_time() {
    let api = start();
    for i in 0..7 {
        let sym = if i % 2 == 0 { "AAPL" } else { "MSFT" };
        let r = api
            .post(
                "/v2/orders",
                &json!({"symbol": sym, "side": "buy", "type": "limit",
                "time_in_force": "gtc", "qty": "1", "limit_price": "1",
                "client_order_id": format!("l-{i}")}),
            )
            .await;
        assert_eq!(r.status, 200);
    }
    let one = api
        .get("/v2/orders:by_client_order_id?client_order_id=l-0")
        .await;
    api.delete(&format!("/v2/orders/{}", one.body["id"].as_str().unwrap()))
        .await;
    let ids = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|o| o["client_order_id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        ids(&api.get("/v2/orders").await.body).len(),
        6,
        "open by default"
    );
    assert_eq!(
        ids(&api.get("/v2/orders?status=closed").await.body),
        vec!["l-0"]
    );
    let desc = ids(&api.get("/v2/orders?status=all").await.body);
    assert_eq!(
        desc.first().map(String::as_str),
        Some("l-6"),
        "newest first"
    );
    let msft = ids(&api.get("/v2/orders?status=all&symbols=MSFT").await.body);
    assert_eq!(msft, vec!["l-5", "l-3", "l-1"]);
    assert!(ids(&api.get("/v2/orders?status=all&side=sell").await.body).is_empty());
    // Page ascending by moving `after` to the last order's submitted_at.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..10 {
        let q = match &after {
            Some(a) => format!("/v2/orders?status=all&direction=asc&limit=3&after={a}"),
            None => "/v2/orders?status=all&direction=asc&limit=3".to_owned(),
        };
        let page = api.get(&q).await.body;
        let items = page.as_array().unwrap().clone();
        if items.is_empty() {
            break;
        }
        after = items
            .last()
            .map(|o| o["submitted_at"].as_str().unwrap().to_owned());
        seen.extend(ids(&Value::Array(items)));
    }
    assert_eq!(seen, (0..7).map(|i| format!("l-{i}")).collect::<Vec<_>>());
    // `until` is exclusive too.
    let third = api
        .get("/v2/orders:by_client_order_id?client_order_id=l-2")
        .await;
    let until = third.body["submitted_at"].as_str().unwrap();
    assert_eq!(
        ids(&api
            .get(&format!("/v2/orders?status=all&until={until}"))
            .await
            .body),
        vec!["l-1", "l-0"]
    );
}

#[tokio::test]
async fn a_bad_listing_is_422() {
    let api = start();
    for q in [
        "limit=501",
        "limit=0",
        "status=maybe",
        "direction=up",
        "after=yesterday",
        "side=hold",
    ] {
        let r = api.get(&format!("/v2/orders?{q}")).await;
        assert_eq!(r.status, 422, "{q}");
        assert_eq!(r.body["code"], 40010000, "{q}");
    }
    assert_eq!(api.get("/v2/orders?limit=500").await.status, 200);
}

#[tokio::test]
async fn a_body_over_the_bound_is_413_and_not_an_order() {
    let api = start();
    let mut body = market("huge", "buy", "1");
    body["padding"] = json!("x".repeat(ballast_fake_alpaca::MAX_BODY_BYTES));
    let r = api.post("/v2/orders", &body).await;
    assert_eq!(r.status, 413);
    assert_eq!(r.body["code"], 41300000);
    assert_eq!(api.fake.orders_created_of("huge"), 0);
}
