//! Each scripted fault, the real rate limit, the counts per client order id, the request log
//! and the control routes over HTTP.

mod common;

use std::time::{Duration, Instant};

use ballast_fake_alpaca::{FakeConfig, Fault, Route};
use common::{market, start, start_with};
use serde_json::json;

fn status(route: Route, code: u16, body: &str, headers: &[(&str, &str)], times: u32) -> Fault {
    Fault::Status {
        route,
        status: code,
        body: body.to_owned(),
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        times,
    }
}

#[tokio::test]
async fn a_scripted_429_carries_its_headers_and_creates_nothing() {
    let api = start();
    api.fake.fault(status(
        Route::SubmitOrder,
        429,
        r#"{"code": 42910000, "message": "rate limit exceeded"}"#,
        &[
            ("X-RateLimit-Limit", "200"),
            ("X-RateLimit-Remaining", "0"),
            ("X-RateLimit-Reset", "1900000000"),
            ("Retry-After", "3"),
        ],
        1,
    ));
    let r = api.market("rl-1", "buy", "1").await;
    assert_eq!(r.status, 429);
    assert_eq!(r.body["code"], 42910000);
    assert_eq!(r.header("x-ratelimit-remaining"), Some("0"));
    assert_eq!(r.header("x-ratelimit-reset"), Some("1900000000"));
    assert_eq!(r.header("retry-after"), Some("3"));
    assert_eq!(api.fake.submits_of("rl-1"), 1);
    assert_eq!(api.fake.orders_created_of("rl-1"), 0);
    assert!(api.fake.pending_faults().is_empty(), "used once");
    let again = api.market("rl-1", "buy", "1").await;
    assert_eq!(again.status, 200);
    assert_eq!(api.fake.orders_created_of("rl-1"), 1);
}

#[tokio::test]
async fn a_status_fault_answers_its_times_then_the_route_works() {
    let api = start();
    api.fake.fault(status(
        Route::Account,
        500,
        r#"{"message": "internal server error"}"#,
        &[],
        2,
    ));
    assert_eq!(api.get("/v2/account").await.status, 500);
    assert_eq!(
        api.get("/v2/clock").await.status,
        200,
        "only the account route"
    );
    assert_eq!(api.get("/v2/account").await.status, 500);
    assert_eq!(api.get("/v2/account").await.status, 200);
    for code in [401, 403, 422] {
        api.fake.fault(status(
            Route::Positions,
            code,
            r#"{"message": "x"}"#,
            &[],
            1,
        ));
        assert_eq!(api.get("/v2/positions").await.status, code);
    }
}

#[tokio::test]
async fn a_delayed_submit_times_the_client_out_but_the_order_exists() {
    let api = start();
    api.fake.fault(Fault::Delay {
        route: Route::SubmitOrder,
        ms: 1_500,
        times: 1,
    });
    let quick = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let r = api
        .send(
            quick
                .post(api.url("/v2/orders"))
                .json(&market("slow-1", "buy", "1")),
        )
        .await;
    let e = r.err().expect("the client times out");
    assert!(e.is_timeout(), "{e}");
    assert_eq!(api.fake.orders_created_of("slow-1"), 1);
    let found = api
        .get("/v2/orders:by_client_order_id?client_order_id=slow-1")
        .await;
    assert_eq!(found.status, 200);
}

#[tokio::test]
async fn a_connection_dropped_after_accept_leaves_one_order_and_no_answer() {
    let api = start();
    api.fake.fault(Fault::DropAfterAccept { times: 1 });
    let t0 = Instant::now();
    let r = api
        .send(
            api.http
                .post(api.url("/v2/orders"))
                .json(&market("drop-1", "buy", "1")),
        )
        .await;
    let e = r.err().expect("no answer: the connection was closed");
    assert!(!e.is_timeout(), "closed, not timed out: {e}");
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert_eq!(
        api.fake.orders_created_of("drop-1"),
        1,
        "the order was accepted"
    );
    // A blind retry is refused; the lookup settles it.
    let retry = api.market("drop-1", "buy", "1").await;
    assert_eq!(retry.status, 422);
    assert_eq!(retry.body["code"], 40010001);
    assert_eq!(api.fake.submits_of("drop-1"), 2);
    assert_eq!(api.fake.orders_created_of("drop-1"), 1);
    let found = api
        .get("/v2/orders:by_client_order_id?client_order_id=drop-1")
        .await;
    assert_eq!(found.status, 200);
    let log = api.fake.requests();
    assert!(
        log.iter()
            .any(|s| s.method == "POST" && s.path == "/v2/orders" && s.status == 0),
        "{log:?}"
    );
}

#[tokio::test]
async fn a_connection_dropped_before_leaves_nothing() {
    let api = start();
    api.fake.fault(Fault::DropBefore {
        route: Route::SubmitOrder,
        times: 1,
    });
    let r = api
        .send(
            api.http
                .post(api.url("/v2/orders"))
                .json(&market("before-1", "buy", "1")),
        )
        .await;
    assert!(r.is_err(), "no answer");
    assert_eq!(api.fake.submits_of("before-1"), 1);
    assert_eq!(api.fake.orders_created_of("before-1"), 0);
    let lookup = api
        .get("/v2/orders:by_client_order_id?client_order_id=before-1")
        .await;
    assert_eq!(lookup.status, 404);
    api.fake.fault(Fault::DropBefore {
        route: Route::Clock,
        times: 1,
    });
    assert!(api.send(api.http.get(api.url("/v2/clock"))).await.is_err());
    assert_eq!(api.get("/v2/clock").await.status, 200);
}

#[tokio::test]
async fn schema_drift_removes_a_field_or_writes_an_unknown_enum_value() {
    let api = start();
    api.fake.fault(Fault::MissingField {
        route: Route::Account,
        field: "id".into(),
        times: 1,
    });
    let a = api.get("/v2/account").await;
    assert_eq!(a.status, 200);
    assert!(a.body.get("id").is_none(), "{}", a.body);
    assert!(a.body.get("cash").is_some());
    assert!(
        api.get("/v2/account").await.body.get("id").is_some(),
        "once only"
    );
    let o = api.market("drift-1", "buy", "1").await;
    let id = o.body["id"].as_str().unwrap().to_owned();
    api.fake.fault(Fault::EnumValue {
        route: Route::GetOrder,
        field: "status".into(),
        value: "frozen".into(),
        times: 1,
    });
    let got = api.get(&format!("/v2/orders/{id}")).await;
    assert_eq!(got.body["status"], "frozen");
    assert_eq!(got.body["id"], id.as_str());
    api.fake.fault(Fault::MissingField {
        route: Route::ListOrders,
        field: "client_order_id".into(),
        times: 1,
    });
    let list = api.get("/v2/orders").await.body;
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|o| o.get("client_order_id").is_none())
    );
    api.fake.fault(Fault::EnumValue {
        route: Route::Positions,
        field: "side".into(),
        value: "sideways".into(),
        times: 1,
    });
    api.fake.tick();
    assert_eq!(api.get("/v2/positions").await.body[0]["side"], "sideways");
}

#[tokio::test]
async fn the_rate_limit_answers_429_with_headers_beyond_it() {
    let api = start_with(FakeConfig {
        rate_limit_per_min: 5,
        ..Default::default()
    });
    for left in (0..5).rev() {
        let r = api.get("/v2/clock").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-ratelimit-limit"), Some("5"));
        assert_eq!(
            r.header("x-ratelimit-remaining"),
            Some(left.to_string().as_str())
        );
        assert!(
            r.header("x-ratelimit-reset")
                .unwrap()
                .parse::<i64>()
                .unwrap()
                > 1_700_000_000
        );
    }
    let refused = api.market("limited", "buy", "1").await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.body["code"], 42910000);
    assert_eq!(refused.header("x-ratelimit-remaining"), Some("0"));
    let wait: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait));
    assert_eq!(api.fake.orders_created_of("limited"), 0);
}

#[tokio::test]
async fn the_request_log_sees_every_alpaca_request() {
    let api = start();
    api.get("/v2/account").await;
    api.http.get(api.url("/v2/clock")).send().await.unwrap();
    api.market("log-1", "buy", "1").await;
    let seen: Vec<(String, String, u16)> = api
        .fake
        .requests()
        .into_iter()
        .map(|s| (s.method, s.path, s.status))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("GET".into(), "/v2/account".into(), 200),
            ("GET".into(), "/v2/clock".into(), 401),
            ("POST".into(), "/v2/orders".into(), 200),
        ]
    );
}

#[tokio::test]
async fn the_control_routes_do_over_http_what_the_methods_do() {
    let api = start();
    let fault = json!({"kind": "status", "route": "account", "status": 503, "body": "{}", "headers": [["Retry-After", "1"]], "times": 1});
    let r = api
        .http
        .post(api.url("/_fake/fault"))
        .json(&fault)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let a = api.get("/v2/account").await;
    assert_eq!(a.status, 503);
    assert_eq!(a.header("retry-after"), Some("1"));
    let bad = api
        .http
        .post(api.url("/_fake/fault"))
        .json(&json!({"kind": "nonsense"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 422);
    let partial = json!({"kind": "partial_fill", "fraction": "2"});
    let r = api
        .http
        .post(api.url("/_fake/fault"))
        .json(&partial)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 422, "a fraction above 1 is refused");
    api.market("ctl-1", "buy", "1").await;
    let t: serde_json::Value = api
        .http
        .post(api.url("/_fake/tick"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(t["ticks"], 1);
    assert_eq!(
        api.fake.order_by_client_id("ctl-1").unwrap()["status"],
        "filled"
    );
    let pos = json!({"symbol": "MSFT", "qty": "-2", "avg_entry_price": "30.5"});
    assert_eq!(
        api.http
            .post(api.url("/_fake/position"))
            .json(&pos)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        204
    );
    let f: serde_json::Value = api
        .http
        .post(api.url("/_fake/foreign_order"))
        .json(&json!({"symbol": "AAPL", "side": "buy", "qty": "1"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(f["id"].is_string());
    let counts: serde_json::Value = api
        .http
        .get(api.url("/_fake/counts"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let c = counts["counts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client_order_id"] == "ctl-1")
        .unwrap();
    assert_eq!(
        (c["submits"].as_u64(), c["orders_created"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(
        api.get("/v2/positions")
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        api.get("/v2/orders").await.body.as_array().unwrap().len(),
        1
    );
}

#[tokio::test]
async fn the_log_can_be_tailed() {
    let api = start();
    for _ in 0..3 {
        api.get("/v2/clock").await;
    }
    let (all, total) = api.fake.requests_after(0);
    assert_eq!((all.len(), total), (3, 3));
    api.get("/v2/account").await;
    let (new, total) = api.fake.requests_after(total);
    assert_eq!(total, 4);
    assert_eq!(new.len(), 1);
    assert_eq!(new[0].path, "/v2/account");
    assert!(api.fake.requests_after(total).0.is_empty());
}

#[tokio::test]
async fn delete_fault_lifts_every_queued_fault_and_the_partial_fills() {
    let api = start();
    let down =
        json!({"kind": "status", "route": "any", "status": 500, "body": "{}", "times": u32::MAX});
    for f in [down, json!({"kind": "partial_fill", "fraction": "0.5"})] {
        let r = api
            .http
            .post(api.url("/_fake/fault"))
            .json(&f)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 204);
    }
    assert_eq!(api.get("/v2/account").await.status, 500);
    let r = api
        .http
        .delete(api.url("/_fake/fault"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let cleared: serde_json::Value = r.json().await.unwrap();
    assert_eq!(cleared["cleared"], 1);
    assert_eq!(
        api.get("/v2/account").await.status,
        200,
        "the outage is lifted"
    );
    assert!(api.fake.pending_faults().is_empty());
    api.market("clr-1", "buy", "4").await;
    api.fake.tick();
    assert_eq!(
        api.fake.order_by_client_id("clr-1").unwrap()["status"],
        "filled",
        "whole fills again"
    );
}
