//! The contract test: every field ALPACA.md lists, present with the JSON type Alpaca gives it
//! (decimals as strings, times RFC 3339), on every object the fake answers.

mod common;

use ballast_core::time::Timestamp;
use common::{dec, start};
use serde_json::{Value, json};

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Each `(field, allowed kinds)` is present with one of its kinds; "decimal" is a string that
/// parses as a decimal, "time" a string that parses as RFC 3339 UTC.
fn check(what: &str, obj: &Value, fields: &[(&str, &[&str])]) {
    for (field, kinds) in fields {
        let Some(v) = obj.get(field) else {
            panic!("{what}: required field {field:?} is missing in {obj}");
        };
        let ok = kinds.iter().any(|k| match *k {
            "decimal" => v
                .as_str()
                .is_some_and(|s| s.parse::<rust_decimal::Decimal>().is_ok()),
            "time" => v
                .as_str()
                .is_some_and(|s| Timestamp::parse_rfc3339(s).is_ok()),
            k => kind(v) == k,
        });
        assert!(ok, "{what}: {field:?} is {v}, expected one of {kinds:?}");
    }
}

const DEC: &[&str] = &["decimal"];
const DEC_OR_NULL: &[&str] = &["decimal", "null"];
const TIME: &[&str] = &["time"];
const TIME_OR_NULL: &[&str] = &["time", "null"];
const STR: &[&str] = &["string"];
const STR_OR_NULL: &[&str] = &["string", "null"];
const BOOL: &[&str] = &["bool"];

const ORDER: &[(&str, &[&str])] = &[
    ("id", STR),
    ("client_order_id", STR),
    ("created_at", TIME),
    ("updated_at", TIME),
    ("submitted_at", TIME),
    ("filled_at", TIME_OR_NULL),
    ("expired_at", TIME_OR_NULL),
    ("canceled_at", TIME_OR_NULL),
    ("failed_at", TIME_OR_NULL),
    ("replaced_at", TIME_OR_NULL),
    ("replaced_by", STR_OR_NULL),
    ("replaces", STR_OR_NULL),
    ("asset_id", STR),
    ("symbol", STR),
    ("asset_class", STR),
    ("notional", DEC_OR_NULL),
    ("qty", DEC_OR_NULL),
    ("filled_qty", DEC),
    ("filled_avg_price", DEC_OR_NULL),
    ("order_class", STR),
    ("type", STR),
    ("side", STR),
    ("time_in_force", STR),
    ("limit_price", DEC_OR_NULL),
    ("stop_price", DEC_OR_NULL),
    ("status", STR),
    ("extended_hours", BOOL),
    ("legs", &["array", "null"]),
    ("trail_percent", DEC_OR_NULL),
    ("trail_price", DEC_OR_NULL),
    ("hwm", DEC_OR_NULL),
    ("expires_at", TIME_OR_NULL),
];

#[tokio::test]
async fn the_account_has_every_listed_field() {
    let api = start();
    let a = api.get("/v2/account").await;
    assert_eq!(a.status, 200);
    check(
        "account",
        &a.body,
        &[
            ("id", STR),
            ("status", STR),
            ("account_number", STR),
            ("currency", STR),
            ("cash", DEC),
            ("buying_power", DEC),
            ("equity", DEC),
            ("last_equity", DEC),
            ("long_market_value", DEC),
            ("short_market_value", DEC),
            ("initial_margin", DEC),
            ("maintenance_margin", DEC),
            ("multiplier", DEC),
            ("daytrade_count", &["number"]),
            ("pattern_day_trader", BOOL),
            ("shorting_enabled", BOOL),
            ("trading_blocked", BOOL),
            ("transfers_blocked", BOOL),
            ("account_blocked", BOOL),
            ("trade_suspended_by_user", BOOL),
            ("created_at", TIME),
            ("crypto_status", STR),
        ],
    );
    assert_eq!(a.body["status"], "ACTIVE");
    assert!(a.body["account_number"].as_str().unwrap().starts_with("PA"));
}

#[tokio::test]
async fn a_live_fake_has_a_live_account_number() {
    let api = common::start_with(ballast_fake_alpaca::FakeConfig {
        live: true,
        ..Default::default()
    });
    let a = api.get("/v2/account").await;
    assert!(!a.body["account_number"].as_str().unwrap().starts_with("PA"));
}

#[tokio::test]
async fn orders_have_every_listed_field_on_every_route() {
    let api = start();
    let sub = api.market("c-1", "buy", "1").await;
    assert_eq!(sub.status, 200);
    check("submit", &sub.body, ORDER);
    let limit = api
        .post(
            "/v2/orders",
            &json!({"symbol": "MSFT", "side": "sell", "type": "limit", "time_in_force": "gtc",
                    "qty": "1", "limit_price": "999", "client_order_id": "c-2"}),
        )
        .await;
    check("limit submit", &limit.body, ORDER);
    api.fake.tick();
    let id = sub.body["id"].as_str().unwrap();
    check(
        "get",
        &api.get(&format!("/v2/orders/{id}")).await.body,
        ORDER,
    );
    let by = api
        .get("/v2/orders:by_client_order_id?client_order_id=c-1")
        .await;
    check("by client id", &by.body, ORDER);
    assert_eq!(by.body["filled_at"].as_str().map(|_| ()), Some(()));
    for o in api
        .get("/v2/orders?status=all")
        .await
        .body
        .as_array()
        .unwrap()
    {
        check("list", o, ORDER);
    }
    let all = api.delete("/v2/orders").await;
    assert_eq!(all.status, 207);
    for item in all.body.as_array().unwrap() {
        assert!(item["id"].is_string() && item["status"] == 200, "{item}");
        check("cancel-all body", &item["body"], ORDER);
    }
}

#[tokio::test]
async fn positions_have_every_listed_field() {
    let api = start();
    api.market("p-1", "buy", "2").await;
    api.post(
        "/v2/orders",
        &json!({"symbol": "MSFT", "side": "sell", "type": "market", "time_in_force": "day",
                "qty": "3", "client_order_id": "p-2"}),
    )
    .await;
    api.fake.tick();
    let p = api.get("/v2/positions").await;
    assert_eq!(p.status, 200);
    let all = p.body.as_array().unwrap();
    assert_eq!(all.len(), 2);
    for pos in all {
        check(
            "position",
            pos,
            &[
                ("asset_id", STR),
                ("symbol", STR),
                ("exchange", STR),
                ("asset_class", STR),
                ("avg_entry_price", DEC),
                ("qty", DEC),
                ("side", STR),
                ("market_value", DEC),
                ("cost_basis", DEC),
                ("unrealized_pl", DEC),
                ("unrealized_plpc", DEC),
                ("unrealized_intraday_pl", DEC),
                ("unrealized_intraday_plpc", DEC),
                ("current_price", DEC),
                ("lastday_price", DEC),
                ("change_today", DEC),
                ("asset_marginable", BOOL),
                ("qty_available", DEC),
            ],
        );
    }
    let msft = all.iter().find(|p| p["symbol"] == "MSFT").unwrap();
    assert_eq!(msft["side"], "short");
    assert_eq!(dec(&msft["qty"]), rust_decimal::Decimal::from(-3));
}

#[tokio::test]
async fn the_clock_has_its_four_fields_with_an_offset() {
    let api = start();
    let c = api.get("/v2/clock").await;
    assert_eq!(c.status, 200);
    assert_eq!(c.body["is_open"], true);
    for f in ["timestamp", "next_open", "next_close"] {
        let t = c.body[f].as_str().unwrap_or_else(|| panic!("{f} missing"));
        assert!(
            t.ends_with("-05:00"),
            "{f} = {t}: Alpaca writes New York time"
        );
    }
}

#[tokio::test]
async fn every_route_refuses_missing_or_wrong_keys_with_401_and_no_code() {
    let api = start();
    let paths = [
        "/v2/account",
        "/v2/positions",
        "/v2/orders",
        "/v2/clock",
        "/v2/orders:by_client_order_id?client_order_id=x",
        "/v2/stocks/bars?symbols=AAPL&timeframe=1Min",
    ];
    for p in paths {
        let r = api.http.get(api.url(p)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401, "{p}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body, json!({"message": "unauthorized"}), "{p}");
        let wrong = api
            .http
            .get(api.url(p))
            .header("APCA-API-KEY-ID", &api.key)
            .header("APCA-API-SECRET-KEY", "not-the-secret")
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status().as_u16(), 401, "{p}");
    }
    let post = api
        .http
        .post(api.url("/v2/orders"))
        .json(&common::market("k-1", "buy", "1"))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status().as_u16(), 401);
    assert_eq!(api.fake.orders_created_of("k-1"), 0);
    assert_eq!(
        api.fake.submits_of("k-1"),
        1,
        "a submit is counted whatever its answer"
    );
}

#[tokio::test]
async fn an_unknown_route_is_404_with_alpaca_s_body() {
    let api = start();
    let r = api.get("/v2/nothing-here").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["code"], 40410000);
}
