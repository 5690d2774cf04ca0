//! Market Data v2's bars endpoint: the bars revealed so far, prices with the replay data's own
//! digits as JSON numbers, `start`/`end`, `limit`, `sort` and paging by `next_page_token`.

mod common;

use ballast_core::domain::Symbol;
use common::start;
use rust_decimal::Decimal;
use serde_json::Value;

/// A JSON number's text as a decimal (never through f64).
fn num(v: &Value) -> Decimal {
    match v {
        Value::Number(n) => n.to_string().parse().unwrap(),
        other => panic!("a JSON number, got {other}"),
    }
}

#[tokio::test]
async fn the_bars_are_the_ticks_so_far_with_the_data_s_prices() {
    let api = start();
    let empty = api
        .get("/v2/stocks/bars?symbols=AAPL,MSFT&timeframe=1Min")
        .await;
    assert_eq!(empty.status, 200);
    assert_eq!(empty.body["bars"], serde_json::json!({}));
    assert!(empty.body["next_page_token"].is_null());
    for _ in 0..3 {
        api.fake.tick();
    }
    let r = api
        .get("/v2/stocks/bars?symbols=AAPL,MSFT&timeframe=1Min")
        .await;
    let aapl = r.body["bars"]["AAPL"].as_array().unwrap();
    assert_eq!(aapl.len(), 3);
    assert_eq!(r.body["bars"]["MSFT"].as_array().unwrap().len(), 3);
    let data = ballast_engine::feed::file::load_bundled(&[Symbol::new("AAPL").unwrap()])
        .unwrap()
        .bars
        .into_vec();
    for (b, want) in aapl.iter().zip(&data) {
        assert_eq!(num(&b["o"]), want.open);
        assert_eq!(num(&b["h"]), want.high);
        assert_eq!(num(&b["l"]), want.low);
        assert_eq!(num(&b["c"]), want.close);
        assert_eq!(num(&b["v"]), want.volume);
        assert!(b["n"].is_u64() && b["vw"].is_number());
    }
    assert_eq!(aapl[0]["t"], "2026-01-05T14:30:00Z");
    assert_eq!(aapl[1]["t"], "2026-01-05T14:31:00Z");
}

#[tokio::test]
async fn bars_page_by_token_and_filter_by_time() {
    let api = start();
    for _ in 0..5 {
        api.fake.tick();
    }
    let mut all: Vec<(String, String)> = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..20 {
        let mut q = "/v2/stocks/bars?symbols=MSFT,AAPL&timeframe=1Min&limit=3".to_owned();
        if let Some(t) = &token {
            q.push_str(&format!("&page_token={t}"));
        }
        let r = api.get(&q).await;
        assert_eq!(r.status, 200);
        for (sym, bars) in r.body["bars"].as_object().unwrap() {
            for b in bars.as_array().unwrap() {
                all.push((sym.clone(), b["t"].as_str().unwrap().to_owned()));
            }
        }
        token = r.body["next_page_token"].as_str().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(all.len(), 10, "{all:?}");
    assert!(all[..5].iter().all(|(s, _)| s == "AAPL") && all[5..].iter().all(|(s, _)| s == "MSFT"));
    let window = api
        .get("/v2/stocks/bars?symbols=AAPL&timeframe=1Min&start=2026-01-05T14:31:00Z&end=2026-01-05T14:33:00Z")
        .await;
    let ts: Vec<&str> = window.body["bars"]["AAPL"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["t"].as_str().unwrap())
        .collect();
    assert_eq!(
        ts,
        vec![
            "2026-01-05T14:31:00Z",
            "2026-01-05T14:32:00Z",
            "2026-01-05T14:33:00Z"
        ],
        "inclusive"
    );
    let desc = api
        .get("/v2/stocks/bars?symbols=AAPL&timeframe=1Min&sort=desc&limit=1")
        .await;
    assert_eq!(desc.body["bars"]["AAPL"][0]["t"], "2026-01-05T14:34:00Z");
}

#[tokio::test]
async fn a_bad_bars_request_is_422() {
    let api = start();
    for q in [
        "timeframe=1Min",
        "symbols=AAPL",
        "symbols=AAPL&timeframe=1Day",
        "symbols=AAPL&timeframe=1Min&limit=10001",
        "symbols=AAPL&timeframe=1Min&start=soon",
        "symbols=AAPL&timeframe=1Min&page_token=garbage",
    ] {
        let r = api.get(&format!("/v2/stocks/bars?{q}")).await;
        assert_eq!(r.status, 422, "{q}: {}", r.body);
    }
}

#[tokio::test]
async fn a_bar_revealed_between_two_pages_shifts_nothing() {
    let api = start();
    for _ in 0..2 {
        api.fake.tick();
    }
    let first = api
        .get("/v2/stocks/bars?symbols=AAPL,MSFT&timeframe=1Min&limit=3")
        .await;
    assert_eq!(first.body["bars"]["AAPL"].as_array().unwrap().len(), 2);
    assert_eq!(first.body["bars"]["MSFT"].as_array().unwrap().len(), 1);
    let token = first.body["next_page_token"].as_str().unwrap().to_owned();
    api.fake.tick(); // AAPL and MSFT each gain a bar
    let next = api
        .get(&format!(
            "/v2/stocks/bars?symbols=AAPL,MSFT&timeframe=1Min&limit=3&page_token={token}"
        ))
        .await;
    assert!(next.body["bars"].get("AAPL").is_none(), "{}", next.body);
    let msft: Vec<&str> = next.body["bars"]["MSFT"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["t"].as_str().unwrap())
        .collect();
    assert_eq!(msft, vec!["2026-01-05T14:31:00Z", "2026-01-05T14:32:00Z"]);
}
