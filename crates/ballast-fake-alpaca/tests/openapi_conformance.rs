//! The fake answers like Alpaca: every body it sends, on every route the adapter uses, checked
//! against the schema Alpaca's published OpenAPI documents give that path and status (Trading
//! API 2.0.1, Market Data API 1.1; the vendored subset in `contract/`, see NOTICE.md).
//!
//! The checker ([`schema`]) is small and walks only what those schemas use: `$ref`, `type`,
//! `nullable` (OpenAPI 3.0: `null` only where it is true), `required`, `properties`,
//! `additionalProperties`, `items`, `enum`, `format` (`date-time`, `uuid`, `decimal`, `double`,
//! `int64`), `minLength`/`maxLength`, `oneOf`/`anyOf`; a keyword or format it does not know is
//! itself a failure, so a refreshed document cannot be checked only in part. `oneOf` is read as
//! "at least one branch": Alpaca's activity branches require no field, so a FILL matches both
//! and "exactly one" would refuse Alpaca's own examples; the FILL lists are therefore also
//! checked against `TradingActivities`, the branch the document says `activity_type=FILL`
//! selects.
//!
//! Statuses the document lists without a body (422 on submit and cancel, 403 on submit) and
//! the 404s ALPACA.md documents (unknown order, `client_order_id`, position) are checked
//! against the document's error model, `components/schemas/Error` (`code`, `message`); a 204
//! must have no body.

mod common;

use ballast_fake_alpaca::Fault;
use common::{Answer, start};
use rust_decimal::Decimal;
use serde_json::{Value, json};

const TRADING: &str = include_str!("../contract/trading-api-2.0.1.subset.json");
const MARKET: &str = include_str!("../contract/market-data-api-1.1.subset.json");

mod schema;

use schema::Spec;

/// Every way `answer` to `method path` (the document's path template) breaks the document.
fn conform(spec: &Spec, method: &str, path: &str, answer: &Answer) -> Vec<String> {
    let what = format!("{} {path} → {}", method.to_uppercase(), answer.status);
    let error_model = json!({"$ref": "#/components/schemas/Error"});
    let schema = match spec.response(path, method, answer.status) {
        Ok(Some(s)) => s.clone(),
        Ok(None) if answer.status == 204 => {
            return if answer.body.is_null() {
                Vec::new()
            } else {
                vec![format!("{what}: a 204 with a body")]
            };
        }
        Ok(None) if answer.status >= 400 => error_model,
        Err(_) if matches!(answer.status, 404 | 422) => error_model,
        Ok(None) => {
            return vec![format!(
                "{what}: documented without a body, got {}",
                answer.body
            )];
        }
        Err(e) => return vec![format!("{what}: {e}")],
    };
    spec.check(&schema, &answer.body)
        .into_iter()
        .map(|e| format!("{what}: {e}"))
        .collect()
}

/// Collects what breaks the document while a test drives the fake.
struct Checked<'a> {
    spec: &'a Spec,
    market: &'a Spec,
    api: &'a common::Api,
    mismatches: Vec<String>,
    seen: Vec<String>,
}

impl Checked<'_> {
    fn note(&mut self, spec_is_market: bool, method: &str, template: &str, a: &Answer) {
        let spec = if spec_is_market {
            self.market
        } else {
            self.spec
        };
        self.seen
            .push(format!("{} {template} {}", method.to_uppercase(), a.status));
        self.mismatches.extend(conform(spec, method, template, a));
    }

    async fn get(&mut self, template: &str, url: &str) -> Answer {
        let a = self.api.get(url).await;
        self.note(template.starts_with("/v2/stocks"), "get", template, &a);
        a
    }

    async fn delete(&mut self, template: &str, url: &str) -> Answer {
        let a = self.api.delete(url).await;
        self.note(false, "delete", template, &a);
        a
    }

    async fn post(&mut self, body: Value) -> Answer {
        let a = self.api.post("/v2/orders", &body).await;
        self.note(false, "post", "/v2/orders", &a);
        a
    }
}

fn order(cid: &str, symbol: &str, side: &str, kind: &str, extra: Value) -> Value {
    let mut o = json!({"symbol": symbol, "side": side, "type": kind, "time_in_force": "day",
                       "qty": "2", "client_order_id": cid});
    for (k, v) in extra.as_object().into_iter().flatten() {
        o[k] = v.clone();
    }
    o
}

fn id_of(a: &Answer) -> String {
    a.body["id"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn every_answer_the_fake_gives_matches_alpacas_schema_for_its_path_and_status() {
    let (spec, market) = (Spec::new(TRADING), Spec::new(MARKET));
    let api = start();
    let mut c = Checked {
        spec: &spec,
        market: &market,
        api: &api,
        mismatches: Vec::new(),
        seen: Vec::new(),
    };
    c.get("/v2/account", "/v2/account").await;
    c.get("/v2/clock", "/v2/clock").await;
    c.get("/v2/positions", "/v2/positions").await;
    // Place: market (fills at the next tick), a resting limit, stop, stop limit, trailing
    // stop, and one by notional (no quantity until it fills).
    let m = c
        .post(order("m-1", "AAPL", "buy", "market", json!({})))
        .await;
    let l = c
        .post(order(
            "l-1",
            "MSFT",
            "buy",
            "limit",
            json!({"limit_price": "1", "time_in_force": "gtc"}),
        ))
        .await;
    c.post(order(
        "s-1",
        "AAPL",
        "sell",
        "stop",
        json!({"stop_price": "1"}),
    ))
    .await;
    c.post(order(
        "sl-1",
        "AAPL",
        "buy",
        "stop_limit",
        json!({"stop_price": "100000", "limit_price": "100001"}),
    ))
    .await;
    c.post(order(
        "t-1",
        "AAPL",
        "sell",
        "trailing_stop",
        json!({"trail_percent": "50", "qty": "1"}),
    ))
    .await;
    let n = c.post(json!({"symbol": "MSFT", "side": "buy", "type": "market", "time_in_force": "day", "notional": "500", "client_order_id": "n-1"})).await;
    assert!(n.body["qty"].is_null(), "{}", n.body);
    // Fill by tick.
    api.fake.tick();
    let filled = c
        .get(
            "/v2/orders/{order_id}",
            &format!("/v2/orders/{}", id_of(&m)),
        )
        .await;
    assert_eq!(filled.body["status"], "filled", "{}", filled.body);
    c.get(
        "/v2/orders/{order_id}",
        &format!("/v2/orders/{}", id_of(&n)),
    )
    .await;
    // Partially fill.
    api.fake.fault(Fault::PartialFill {
        fraction: Decimal::new(5, 1),
    });
    let p = c
        .post(order("p-1", "AAPL", "buy", "market", json!({"qty": "4"})))
        .await;
    api.fake.tick();
    let partial = c
        .get(
            "/v2/orders:by_client_order_id",
            "/v2/orders:by_client_order_id?client_order_id=p-1",
        )
        .await;
    assert_eq!(
        partial.body["status"], "partially_filled",
        "{}",
        partial.body
    );
    api.fake.fault(Fault::PartialFill {
        fraction: Decimal::ONE,
    });
    for status in ["open", "closed", "all"] {
        c.get(
            "/v2/orders",
            &format!("/v2/orders?status={status}&direction=asc&limit=500"),
        )
        .await;
    }
    // A short position changed behind the client's back, with the long one.
    api.fake
        .set_position("MSFT", Decimal::from(-3), Decimal::from(100));
    let held = c.get("/v2/positions", "/v2/positions").await;
    assert_eq!(held.body.as_array().map(Vec::len), Some(2), "{}", held.body);
    for symbol in ["AAPL", "MSFT"] {
        c.get(
            "/v2/positions/{symbol_or_asset_id}",
            &format!("/v2/positions/{symbol}"),
        )
        .await;
    }
    for (template, url) in [
        ("/v2/account/activities", "/v2/account/activities"),
        (
            "/v2/account/activities/{activity_type}",
            "/v2/account/activities/FILL",
        ),
    ] {
        let a = c.get(template, url).await;
        let trading =
            json!({"items": {"$ref": "#/components/schemas/TradingActivities"}, "type": "array"});
        assert!(
            a.body.as_array().is_some_and(|l| !l.is_empty()),
            "{url}: {}",
            a.body
        );
        c.mismatches.extend(
            spec.check(&trading, &a.body)
                .into_iter()
                .map(|e| format!("{url} as TradingActivities: {e}")),
        );
    }
    // Cancel, cancel again (422), unknown ids (404), a reused id (422), no buying power (403).
    let cancel = c
        .delete(
            "/v2/orders/{order_id}",
            &format!("/v2/orders/{}", id_of(&l)),
        )
        .await;
    assert_eq!(cancel.status, 204);
    let again = c
        .delete(
            "/v2/orders/{order_id}",
            &format!("/v2/orders/{}", id_of(&m)),
        )
        .await;
    assert_eq!(again.status, 422, "{}", again.body);
    let unknown = "00000000-0000-4000-8000-000000000000";
    assert_eq!(
        c.get("/v2/orders/{order_id}", &format!("/v2/orders/{unknown}"))
            .await
            .status,
        404
    );
    assert_eq!(
        c.delete("/v2/orders/{order_id}", &format!("/v2/orders/{unknown}"))
            .await
            .status,
        404
    );
    assert_eq!(
        c.get(
            "/v2/orders:by_client_order_id",
            "/v2/orders:by_client_order_id?client_order_id=nope"
        )
        .await
        .status,
        404
    );
    assert_eq!(
        c.post(order("m-1", "AAPL", "buy", "market", json!({})))
            .await
            .status,
        422
    );
    assert_eq!(
        c.post(order(
            "big-1",
            "AAPL",
            "buy",
            "market",
            json!({"qty": "100000000"})
        ))
        .await
        .status,
        403
    );
    assert_eq!(
        c.post(order("bad-1", "AAPL", "buy", "limit", json!({})))
            .await
            .status,
        422
    );
    assert_eq!(
        c.get("/v2/positions/{symbol_or_asset_id}", "/v2/positions/ZZZZ")
            .await
            .status,
        404
    );
    // Cancel all (207), then close a position (200 with the closing order).
    let all = c.delete("/v2/orders", "/v2/orders").await;
    assert_eq!(all.status, 207);
    assert!(
        all.body.as_array().is_some_and(|l| !l.is_empty()),
        "{}",
        all.body
    );
    let _ = p;
    let close = c
        .delete("/v2/positions/{symbol_or_asset_id}", "/v2/positions/AAPL")
        .await;
    assert_eq!(close.status, 200, "{}", close.body);
    // Bars: a first page with a token, the next page, and a range with no bars.
    let first = c
        .get(
            "/v2/stocks/bars",
            "/v2/stocks/bars?symbols=AAPL,MSFT&timeframe=1Min&limit=2",
        )
        .await;
    let token = first.body["next_page_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!token.is_empty(), "{}", first.body);
    c.get(
        "/v2/stocks/bars",
        &format!("/v2/stocks/bars?symbols=AAPL,MSFT&timeframe=1Min&limit=2&page_token={token}"),
    )
    .await;
    c.get(
        "/v2/stocks/bars",
        "/v2/stocks/bars?symbols=AAPL&timeframe=1Min&start=2100-01-01T00:00:00Z",
    )
    .await;
    assert!(c.seen.len() >= 34, "{:?}", c.seen);
    assert!(
        c.mismatches.is_empty(),
        "the fake breaks Alpaca's document:\n{}",
        c.mismatches.join("\n")
    );
}

#[tokio::test]
async fn the_fake_takes_alpacas_request_examples_it_can_trade_and_refuses_the_others_like_alpaca() {
    let spec = Spec::new(TRADING);
    let api = start();
    let (schema, examples) = spec
        .request("/v2/orders", "post")
        .expect("a request schema");
    assert_eq!(examples.len(), 5);
    for (name, body) in examples {
        assert_eq!(
            spec.check(schema, &body),
            Vec::<String>::new(),
            "{name} is a valid request"
        );
        let a = api.post("/v2/orders", &body).await;
        let expected = match name.as_str() {
            // An AAPL limit gtc by quantity: what the fake trades.
            "Equity" => 200,
            // The fake trades US equities by quantity or by notional for market + day only
            // (its documented simplifications): a crypto pair, an option contract, a
            // multileg order and a gtc notional order are refused 422 with Alpaca's error body.
            "Crypto" | "Options" | "MultilegOptions" | "IPO" => 422,
            other => panic!("a request example not decided: {other}"),
        };
        assert_eq!(a.status, expected, "{name}: {}", a.body);
        assert_eq!(
            conform(&spec, "post", "/v2/orders", &a),
            Vec::<String>::new(),
            "{name}"
        );
    }
}

#[test]
fn the_checker_accepts_alpacas_own_examples_but_the_ones_that_break_its_schema() {
    let spec = Spec::new(TRADING);
    let schemas = spec.doc["components"]["schemas"].as_object().unwrap();
    let order = json!({"$ref": "#/components/schemas/Order"});
    let mut broken = Vec::new();
    for (name, e) in spec.doc["components"]["examples"].as_object().unwrap() {
        if !spec.check(&order, &e["value"]).is_empty() {
            broken.push(name.clone());
        }
    }
    for (name, s) in schemas {
        for (ex, value) in s["x-examples"].as_object().into_iter().flatten() {
            let r = json!({"$ref": format!("#/components/schemas/{name}")});
            if !spec.check(&r, value).is_empty() {
                broken.push(format!("{name}/{ex}"));
            }
        }
    }
    // Findings in Alpaca's document, each an example that breaks its own schema:
    // - MultilegOptionsOrderResponse: `type: ""`, `side: ""`, `asset_class: ""` (outside
    //   their enums) and `asset_id: ""` (not a uuid) on the parent of a multileg order;
    // - AdvancedInstructions/example-1..3 (a submit's `advanced_instructions`, which Ballast
    //   never sends): `display_qty: 100`, `max_percentage: 0.314` as JSON numbers where the
    //   schema says decimal strings;
    // - NonTradeActivities/example-1: `date: "2019-08-01"`, a date where the schema says
    //   date-time;
    // - Position/example-1: no `asset_marginable`, which the schema requires.
    assert_eq!(
        broken,
        [
            "MultilegOptionsOrderResponse",
            "AdvancedInstructions/example-1",
            "AdvancedInstructions/example-2",
            "AdvancedInstructions/example-3",
            "NonTradeActivities/example-1",
            "Position/example-1",
        ]
    );
}

#[test]
fn the_checker_fails_on_a_mutated_body() {
    let spec = Spec::new(TRADING);
    let order = json!({"$ref": "#/components/schemas/Order"});
    let good = spec.doc["components"]["examples"]["EquityOrderResponse"]["value"].clone();
    assert_eq!(spec.check(&order, &good), Vec::<String>::new());
    let cases: [(&str, Value, &str); 8] = [
        ("time_in_force", Value::Null, "$.time_in_force: null"),
        (
            "filled_qty",
            json!(4),
            "$.filled_qty: 4 is not of type string",
        ),
        (
            "status",
            json!("frozen"),
            "$.status: \"frozen\" is not one of",
        ),
        (
            "created_at",
            json!("2023-12-12 22:31"),
            "$.created_at: \"2023-12-12 22:31\" is not date-time",
        ),
        ("id", json!("order-1"), "$.id: \"order-1\" is not uuid"),
        (
            "symbol",
            json!(""),
            "$.symbol: \"\" is shorter than minLength",
        ),
        (
            "position_intent",
            Value::Null,
            "$.position_intent: null, but the schema is not nullable",
        ),
        (
            "legs",
            json!([{"side": "up"}]),
            "$.legs[0].side: \"up\" is not one of",
        ),
    ];
    for (field, value, expected) in cases {
        let mut bad = good.clone();
        bad[field] = value;
        let errors = spec.check(&order, &bad);
        assert!(
            errors.iter().any(|e| e.starts_with(expected)),
            "{field}: {errors:?}"
        );
    }
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("notional");
    assert_eq!(
        spec.check(&order, &missing),
        ["$: required field \"notional\" is missing"]
    );
    // The bars' map of arrays (additionalProperties) and a number format.
    let market = Spec::new(MARKET);
    let bars = json!({"$ref": "#/components/schemas/stock_bars_resp"});
    let page = json!({"bars": {"AAPL": [{"t": "2022-01-03T09:00:00Z", "o": "1", "h": 1, "l": 1, "c": 1, "v": 1.5, "n": 1, "vw": 1}]}, "next_page_token": null});
    let errors = market.check(&bars, &page);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].starts_with("$.bars.AAPL[0].o: \"1\" is not of type number"),
        "{errors:?}"
    );
    assert!(
        errors[1].starts_with("$.bars.AAPL[0].v: 1.5 is not of type integer"),
        "{errors:?}"
    );
    assert!(
        !market
            .check(&bars, &json!({"bars": null, "next_page_token": null}))
            .is_empty()
    );
    // A keyword the checker does not know is a failure, not a pass.
    assert!(
        !spec
            .check(&json!({"type": "string", "pattern": "^a"}), &json!("a"))
            .is_empty()
    );
}
