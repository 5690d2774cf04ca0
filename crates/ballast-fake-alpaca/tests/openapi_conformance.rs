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

mod schema {
    use serde_json::Value;

    /// Keywords that describe and never constrain.
    const ANNOTATIONS: &[&str] = &[
        "title",
        "description",
        "example",
        "x-examples",
        "x-go-name",
        "deprecated",
        "x-deprecation",
        "default",
    ];

    /// One OpenAPI document.
    pub struct Spec {
        pub doc: Value,
    }

    impl Spec {
        pub fn new(text: &str) -> Spec {
            Spec {
                doc: serde_json::from_str(text).expect("the vendored subset is JSON"),
            }
        }

        /// The target of a local `$ref`.
        pub fn resolve<'a>(&'a self, pointer: &str) -> Result<&'a Value, String> {
            pointer
                .strip_prefix('#')
                .and_then(|p| self.doc.pointer(p))
                .ok_or_else(|| format!("$ref {pointer} is not in the document"))
        }

        /// The schema of `method path`'s `status` answer: `Ok(Some)` a body schema,
        /// `Ok(None)` documented without a body, `Err` not documented.
        pub fn response(
            &self,
            path: &str,
            method: &str,
            status: u16,
        ) -> Result<Option<&Value>, String> {
            let op = &self.doc["paths"][path][method];
            if op.is_null() {
                return Err(format!("{method} {path} is not in the document"));
            }
            let mut r = &op["responses"][status.to_string()];
            if r.is_null() {
                return Err(format!("{method} {path} documents no {status}"));
            }
            if let Some(p) = r["$ref"].as_str() {
                r = self.resolve(p)?;
            }
            Ok(r["content"]["application/json"].get("schema"))
        }

        /// Every way `value` breaks `schema`, each with its JSON path (`$` the root).
        pub fn check(&self, schema: &Value, value: &Value) -> Vec<String> {
            let mut out = Vec::new();
            self.walk(schema, value, "$", &mut out);
            out
        }

        fn walk(&self, schema: &Value, v: &Value, at: &str, out: &mut Vec<String>) {
            let Some(s) = schema.as_object() else {
                out.push(format!("{at}: the schema is not an object"));
                return;
            };
            if let Some(p) = s.get("$ref").and_then(Value::as_str) {
                match self.resolve(p) {
                    Ok(target) => self.walk(target, v, at, out),
                    Err(e) => out.push(format!("{at}: {e}")),
                }
                return;
            }
            for k in s.keys() {
                let known = ANNOTATIONS.contains(&k.as_str())
                    || matches!(
                        k.as_str(),
                        "type"
                            | "nullable"
                            | "required"
                            | "properties"
                            | "additionalProperties"
                            | "items"
                            | "enum"
                            | "format"
                            | "minLength"
                            | "maxLength"
                            | "oneOf"
                            | "anyOf"
                    );
                if !known {
                    out.push(format!("{at}: the checker does not know keyword {k:?}"));
                }
            }
            if v.is_null() {
                if s.get("nullable") != Some(&Value::Bool(true)) && s.contains_key("type") {
                    out.push(format!("{at}: null, but the schema is not nullable"));
                }
                return;
            }
            for key in ["oneOf", "anyOf"] {
                if let Some(branches) = s.get(key).and_then(Value::as_array) {
                    let fits = branches.iter().any(|b| self.check(b, v).is_empty());
                    if !fits {
                        out.push(format!("{at}: matches no branch of {key}"));
                    }
                }
            }
            if let Some(t) = s.get("type").and_then(Value::as_str) {
                if !type_fits(t, v) {
                    out.push(format!("{at}: {} is not of type {t}", short(v)));
                    return;
                }
            }
            if let Some(values) = s.get("enum").and_then(Value::as_array) {
                if !values.contains(v) {
                    out.push(format!(
                        "{at}: {} is not one of {}",
                        short(v),
                        short(&Value::Array(values.clone()))
                    ));
                }
            }
            if let (Some(f), Some(text)) = (s.get("format").and_then(Value::as_str), v.as_str()) {
                if let Err(e) = format_fits(f, text) {
                    out.push(format!("{at}: {text:?} is not {f}: {e}"));
                }
            }
            if let (Some(f), Value::Number(n)) = (s.get("format").and_then(Value::as_str), v) {
                let ok = match f {
                    "double" => true,
                    "int64" => n.is_i64() || n.is_u64(),
                    _ => false,
                };
                if !ok {
                    out.push(format!("{at}: {n} is not {f}"));
                }
            }
            if let Some(text) = v.as_str() {
                let n = text.chars().count() as u64;
                if s.get("minLength")
                    .and_then(Value::as_u64)
                    .is_some_and(|m| n < m)
                {
                    out.push(format!("{at}: {text:?} is shorter than minLength"));
                }
                if s.get("maxLength")
                    .and_then(Value::as_u64)
                    .is_some_and(|m| n > m)
                {
                    out.push(format!("{at}: {} is longer than maxLength", short(v)));
                }
            }
            if let Some(obj) = v.as_object() {
                for r in s
                    .get("required")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(name) = r.as_str().filter(|n| !obj.contains_key(*n)) {
                        out.push(format!("{at}: required field {name:?} is missing"));
                    }
                }
                let props = s.get("properties").and_then(Value::as_object);
                for (k, fv) in obj {
                    let here = format!("{at}.{k}");
                    match (props.and_then(|p| p.get(k)), s.get("additionalProperties")) {
                        (Some(ps), _) => self.walk(ps, fv, &here, out),
                        (None, Some(Value::Bool(false))) => {
                            out.push(format!("{here}: not allowed (additionalProperties false)"))
                        }
                        (None, Some(extra @ Value::Object(_))) => self.walk(extra, fv, &here, out),
                        // Not described: allowed (OpenAPI's default), and not checked.
                        (None, _) => {}
                    }
                }
            }
            if let (Some(items), Some(list)) = (s.get("items"), v.as_array()) {
                for (i, item) in list.iter().enumerate() {
                    self.walk(items, item, &format!("{at}[{i}]"), out);
                }
            }
        }
    }

    fn type_fits(t: &str, v: &Value) -> bool {
        match t {
            "string" => v.is_string(),
            "number" => v.is_number(),
            "integer" => v.as_i64().is_some() || v.as_u64().is_some(),
            "boolean" => v.is_boolean(),
            "array" => v.is_array(),
            "object" => v.is_object(),
            _ => false,
        }
    }

    fn short(v: &Value) -> String {
        let t = v.to_string();
        if t.chars().count() > 80 {
            format!("{}…", t.chars().take(80).collect::<String>())
        } else {
            t
        }
    }

    fn digits(s: &str, n: usize) -> bool {
        s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
    }

    /// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` (RFC 3339's date-time).
    fn date_time(t: &str) -> Result<(), &'static str> {
        let (date, time) = t.split_once(['T', 't']).ok_or("no 'T'")?;
        let d: Vec<&str> = date.split('-').collect();
        if d.len() != 3 || !digits(d[0], 4) || !digits(d[1], 2) || !digits(d[2], 2) {
            return Err("the date is not YYYY-MM-DD");
        }
        let (clock, offset) = if let Some(c) = time.strip_suffix(['Z', 'z']) {
            (c, None)
        } else {
            let at = time.rfind(['+', '-']).ok_or("no offset (Z or ±HH:MM)")?;
            (&time[..at], Some(&time[at + 1..]))
        };
        if let Some(o) = offset {
            let parts: Vec<&str> = o.split(':').collect();
            if parts.len() != 2 || !digits(parts[0], 2) || !digits(parts[1], 2) {
                return Err("the offset is not ±HH:MM");
            }
        }
        let (hms, frac) = clock.split_once('.').unwrap_or((clock, "0"));
        let h: Vec<&str> = hms.split(':').collect();
        if h.len() != 3 || !h.iter().all(|p| digits(p, 2)) {
            return Err("the time is not HH:MM:SS");
        }
        if frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err("the fraction is not digits");
        }
        Ok(())
    }

    fn format_fits(f: &str, t: &str) -> Result<(), String> {
        match f {
            "date-time" => date_time(t).map_err(str::to_owned),
            "uuid" => {
                let groups: Vec<&str> = t.split('-').collect();
                let lens = [8, 4, 4, 4, 12];
                let ok = groups.len() == 5
                    && groups
                        .iter()
                        .zip(lens)
                        .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()));
                if ok {
                    Ok(())
                } else {
                    Err("not 8-4-4-4-12 hex digits".into())
                }
            }
            "decimal" => t
                .parse::<rust_decimal::Decimal>()
                .map(|_| ())
                .map_err(|e| e.to_string()),
            other => Err(format!("the checker does not know format {other:?}")),
        }
    }
}

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
    c.get("/v2/positions", "/v2/positions").await;
    c.get("/v2/positions/{symbol_or_asset_id}", "/v2/positions/AAPL")
        .await;
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
