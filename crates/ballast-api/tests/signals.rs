//! `POST /v1/signals` and `GET /v1/signals` over real HTTP on 127.0.0.1 (port 0), served by
//! the signals routes alone on a temp data directory: 202 only once the record is in
//! `journal/signals/`, 422 naming each bad field, idempotency (also across a restart of the
//! API), backpressure (429 + Retry-After, nothing written), group commit under concurrency,
//! and the paginated, filtered list.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ballast_api::signals::{SignalsState, routes};
use ballast_core::config::Config;
use ballast_store::{Layout, RealStorage, SystemClock};
use serde_json::{Value, json};

fn config(extra: &str) -> Config {
    let text = format!("[feed]\nsymbols = [\"AAPL\", \"MSFT\"]\n{extra}");
    ballast_core::config::load(
        Some(ballast_core::config::Source {
            path: "test.toml",
            text: &text,
        }),
        &[],
    )
    .unwrap()
}

struct Api {
    url: String,
    http: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl Api {
    async fn start(data: &Path, config: &Config) -> Api {
        let state = SignalsState::open(
            &Layout::new(data),
            config,
            Arc::new(RealStorage),
            Arc::new(SystemClock),
        )
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let router = routes(state).router;
        let server = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Api {
            url,
            http: reqwest::Client::new(),
            server,
        }
    }

    async fn post(&self, body: &str) -> (u16, Option<String>, Value) {
        let r = self
            .http
            .post(format!("{}/v1/signals", self.url))
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let retry = r
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        (status, retry, r.json().await.unwrap())
    }

    async fn get(&self, query: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}/v1/signals{query}", self.url))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    fn stop(self) {
        self.server.abort();
    }
}

fn buy(key: &str) -> String {
    json!({"symbol": "AAPL", "side": "buy", "qty": "1", "idempotency_key": key}).to_string()
}

/// `(seq, body)` of every record of `journal/signals/`, which must be clean.
fn records(data: &Path) -> Vec<(u64, Value)> {
    let mut out = Vec::new();
    let scan = ballast_store::journal::scan(
        &RealStorage,
        &Layout::new(data).signals_journal(),
        &mut |r| {
            assert_eq!(r.kind, "signal.accepted");
            out.push((r.seq, serde_json::from_str(r.body.get()).unwrap()));
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(scan.verdict, ballast_store::journal::Verdict::Clean);
    out
}

#[tokio::test]
async fn a_signal_is_answered_202_only_once_its_record_is_in_the_journal() {
    let tmp = tempfile::tempdir().unwrap();
    let api = Api::start(tmp.path(), &config("")).await;
    let (status, _, body) = api
        .post(r#"{"symbol":"aapl","side":"buy","qty":2.5,"limit_price":"190.10","reason":"breakout","strategy":"bot","idempotency_key":"k-1"}"#)
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body, json!({"signal_id": "api-1", "status": "accepted"}));
    // Read right after the answer: the record is there, durable, with the validated signal.
    let recs = records(tmp.path());
    assert_eq!(recs.len(), 1);
    let s = &recs[0].1["signal"];
    assert_eq!(recs[0].0, 1);
    assert_eq!(s["symbol"], "AAPL");
    assert_eq!(
        s["ask"],
        json!({"kind": "order", "side": "buy", "qty": "2.5"})
    );
    assert_eq!(s["limit_price"], "190.1");
    assert_eq!(s["idempotency_key"], "k-1");
    let (status, _, body) = api.post(r#"{"symbol":"MSFT","target_qty":"-3"}"#).await;
    assert_eq!((status, &body["signal_id"]), (202, &json!("api-2")));
    let (status, _, _) = api
        .post(r#"{"symbol":"MSFT","side":"sell","notional":"2500.50"}"#)
        .await;
    assert_eq!(status, 202);
    let recs = records(tmp.path());
    assert_eq!(recs.len(), 3);
    assert_eq!(
        recs[2].1["signal"]["ask"],
        json!({"kind": "notional", "side": "sell", "notional": "2500.50"})
    );
    let (_, page) = api.get("?after=api-2").await;
    assert_eq!(page["signals"][0]["notional"], "2500.50", "{page}");
    api.stop();
}

#[tokio::test]
async fn each_bad_field_is_a_422_that_names_it_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let api = Api::start(tmp.path(), &config("")).await;
    let long = "x".repeat(201);
    let cases = [
        (json!({"side": "buy", "qty": "1"}), "symbol", "missing"),
        (
            json!({"symbol": "IBM", "side": "buy", "qty": "1"}),
            "symbol",
            "universe",
        ),
        (
            json!({"symbol": "AAPL", "side": "hold", "qty": "1"}),
            "side",
            "buy",
        ),
        (
            json!({"symbol": "AAPL", "side": "buy", "qty": "0"}),
            "qty",
            "greater than zero",
        ),
        (
            json!({"symbol": "AAPL", "side": "buy", "qty": "ten"}),
            "qty",
            "decimal",
        ),
        (
            json!({"symbol": "AAPL", "side": "buy"}),
            "qty",
            "either side and qty",
        ),
        (
            json!({"symbol": "AAPL", "target_qty": "1", "side": "buy", "qty": "1"}),
            "target_qty",
            "either",
        ),
        (
            json!({"symbol": "AAPL", "side": "buy", "qty": "1", "limit_price": "-1"}),
            "limit_price",
            "greater than zero",
        ),
        (
            json!({"symbol": "AAPL", "side": "buy", "qty": "1", "reason": long}),
            "reason",
            "longer than 200",
        ),
        (
            json!({"symbol": "AAPL", "side": "buy", "qty": "1", "strategy": "a\u{7}"}),
            "strategy",
            "control",
        ),
        (
            json!({"symbol": "AAPL", "side": "buy", "qty": "1", "idempotency_key": ""}),
            "idempotency_key",
            "1-64",
        ),
        (
            json!({"symbol": "AAPL", "side": "buy", "qty": "1", "ttl": 5}),
            "body",
            "unknown field `ttl`",
        ),
    ];
    for (body, field, words) in cases {
        let (status, _, answer) = api.post(&body.to_string()).await;
        assert_eq!(status, 422, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid", "{body}: {answer}");
        assert_eq!(answer["error"]["field"], field, "{body}: {answer}");
        let msg = answer["error"]["message"].as_str().unwrap();
        assert!(msg.contains(words), "{body}: {msg}");
    }
    // A field given twice (JSON parsers keep the last; a proxy may read the first): 422.
    let (status, _, answer) = api
        .post(r#"{"symbol":"AAPL","symbol":"MSFT","side":"buy","qty":"1"}"#)
        .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["field"], "symbol", "{answer}");
    // Not JSON, not an object: 400 with an example; too large: 413, unread.
    for body in ["{", "[1]", "\"AAPL\""] {
        let (status, _, answer) = api.post(body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains("symbol")
        );
    }
    let huge = format!(
        r#"{{"symbol":"AAPL","side":"buy","qty":"1","reason":"{}"}}"#,
        "y".repeat(70_000)
    );
    let (status, _, answer) = api.post(&huge).await;
    assert_eq!(status, 413, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("65536")
    );
    assert!(records(tmp.path()).is_empty(), "nothing was journaled");
    api.stop();
}

#[tokio::test]
async fn the_same_key_gives_the_same_id_and_one_record_also_after_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config("");
    let api = Api::start(tmp.path(), &cfg).await;
    let (status, _, first) = api.post(&buy("once")).await;
    assert_eq!((status, &first["status"]), (202, &json!("accepted")));
    let (status, _, again) = api.post(&buy("once")).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again, json!({"signal_id": "api-1", "status": "duplicate"}));
    // The same key for another signal is refused, not taken for a repeat.
    let other = json!({"symbol": "MSFT", "side": "sell", "qty": "1", "idempotency_key": "once"});
    let (status, _, refused) = api.post(&other.to_string()).await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["field"], "idempotency_key");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("api-1")
    );
    assert_eq!(records(tmp.path()).len(), 1);
    api.stop();

    // A new API process on the same data directory rebuilds the index from the journal.
    let api = Api::start(tmp.path(), &cfg).await;
    let (status, _, after) = api.post(&buy("once")).await;
    assert_eq!(
        (status, after),
        (200, json!({"signal_id": "api-1", "status": "duplicate"}))
    );
    let (status, _, new) = api.post(&buy("twice")).await;
    assert_eq!((status, new["signal_id"].clone()), (202, json!("api-2")));
    assert_eq!(records(tmp.path()).len(), 2);
    api.stop();
}

#[tokio::test]
async fn concurrent_posts_share_syncs_and_a_key_posted_at_once_is_journaled_once() {
    let tmp = tempfile::tempdir().unwrap();
    let api = Arc::new(Api::start(tmp.path(), &config("")).await);
    let mut tasks = Vec::new();
    for i in 0..64 {
        let api = Arc::clone(&api);
        tasks.push(tokio::spawn(async move {
            api.post(&buy(&format!("c-{i}"))).await
        }));
    }
    for _ in 0..16 {
        let api = Arc::clone(&api);
        tasks.push(tokio::spawn(async move { api.post(&buy("same")).await }));
    }
    let mut ids = std::collections::BTreeSet::new();
    let mut same = Vec::new();
    for (i, t) in tasks.into_iter().enumerate() {
        let (status, _, body) = t.await.unwrap();
        if i < 64 {
            assert_eq!(status, 202, "{body}");
            assert!(ids.insert(body["signal_id"].as_str().unwrap().to_owned()));
        } else {
            same.push((status, body));
        }
    }
    // The repeated key: one 202, the others a duplicate of it or 409 (its first request was
    // still being made durable) — never a second record.
    assert_eq!(
        same.iter().filter(|(s, _)| *s == 202).count(),
        1,
        "{same:?}"
    );
    assert!(
        same.iter()
            .all(|(s, b)| *s == 202 || *s == 409 || b["status"] == "duplicate")
    );
    let recs = records(tmp.path());
    assert_eq!(recs.len(), 65);
    let keys: std::collections::BTreeSet<_> = recs
        .iter()
        .map(|(_, b)| b["signal"]["idempotency_key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(keys.len(), 65, "every key once");
    Arc::try_unwrap(api).ok().unwrap().stop();
}

/// A heartbeat of an engine that took signals up to `seq`, written now.
fn heartbeat(data: &Path, seq: u64) {
    let now = ballast_core::Clock::now(&SystemClock);
    let hb =
        json!({"pid": 1, "loops": 1, "time": now, "bars": 0, "last_seq": 1, "signals_seq": seq});
    std::fs::create_dir_all(data.join("run")).unwrap();
    std::fs::write(data.join("run/engine.heartbeat"), hb.to_string()).unwrap();
}

#[tokio::test]
async fn over_the_backlog_bound_the_answer_is_429_with_retry_after_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let api = Api::start(tmp.path(), &config("[api]\nsignals_max_backlog = 3\n")).await;
    for i in 0..3 {
        assert_eq!(api.post(&buy(&format!("b-{i}"))).await.0, 202);
    }
    // No engine (no heartbeat): the backlog is full; wait longer.
    let (status, retry, body) = api.post(&buy("b-3")).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(retry.as_deref(), Some("5"));
    assert_eq!(body["error"]["code"], "too_many_requests");
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("signals_max_backlog = 3") && msg.contains("not running"),
        "{msg}"
    );
    assert_eq!(records(tmp.path()).len(), 3, "nothing written at the bound");
    // A repeat of a journaled key is still answered (it takes no place in the backlog).
    assert_eq!(api.post(&buy("b-0")).await.0, 200);

    // A running engine that took two of them: room for two more, then 429 with one second.
    heartbeat(tmp.path(), 2);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _, _) = api.post(&buy("b-3")).await;
        if status == 202 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the heartbeat was never read: {status}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(api.post(&buy("b-4")).await.0, 202);
    let (status, retry, _) = api.post(&buy("b-5")).await;
    assert_eq!((status, retry.as_deref()), (429, Some("1")));
    assert_eq!(records(tmp.path()).len(), 5);
    api.stop();
}

#[tokio::test]
async fn the_list_pages_with_a_cursor_and_filters_by_status_symbol_and_strategy() {
    let tmp = tempfile::tempdir().unwrap();
    let api = Api::start(tmp.path(), &config("")).await;
    for (i, (sym, strat)) in [
        ("AAPL", "a"),
        ("MSFT", "b"),
        ("AAPL", "b"),
        ("MSFT", "a"),
        ("AAPL", "a"),
    ]
    .into_iter()
    .enumerate()
    {
        let body = json!({"symbol": sym, "side": "buy", "qty": "1", "strategy": strat, "idempotency_key": format!("l-{i}")});
        assert_eq!(api.post(&body.to_string()).await.0, 202);
    }
    let (status, page) = api.get("?limit=2").await;
    assert_eq!(status, 200, "{page}");
    let ids = |p: &Value| -> Vec<String> {
        p["signals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["signal_id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&page), ["api-1", "api-2"]);
    assert_eq!(page["next"], "api-2");
    let first = &page["signals"][0];
    assert_eq!(first["status"], "NEW");
    assert_eq!(first["taken"], false);
    assert_eq!(
        (&first["side"], &first["qty"], &first["strategy"]),
        (&json!("buy"), &json!("1"), &json!("a"))
    );
    let (_, page) = api.get("?limit=2&after=api-2").await;
    assert_eq!(ids(&page), ["api-3", "api-4"]);
    let (_, page) = api.get("?limit=2&after=api-4").await;
    assert_eq!(ids(&page), ["api-5"]);
    assert_eq!(page["next"], Value::Null, "the end of the journal");
    let (_, page) = api.get("?symbol=aapl&strategy=a").await;
    assert_eq!(ids(&page), ["api-1", "api-5"]);
    let (_, page) = api.get("?status=NEW&symbol=MSFT").await;
    assert_eq!(ids(&page), ["api-2", "api-4"]);
    let (_, page) = api.get("?status=FILLED").await;
    assert_eq!(ids(&page), Vec::<String>::new());
    for (q, field) in [
        ("?limit=0", "limit"),
        ("?limit=1001", "limit"),
        ("?after=sig-3", "after"),
        ("?status=DONE", "status"),
        ("?colour=red", "colour"),
    ] {
        let (status, body) = api.get(q).await;
        assert_eq!(status, 400, "{q}: {body}");
        assert_eq!(body["error"]["field"], field, "{q}: {body}");
    }
    api.stop();
}

#[tokio::test]
async fn in_the_application_posting_takes_the_operator_token_and_listing_the_viewer_s() {
    use ballast_api::auth::{Origin, Token, Tokens};
    const OP: &str = "operator-token-0123456789abcdef0123456789";
    const VIEW: &str = "viewer-token-0123456789abcdef0123456789ab";
    let tmp = tempfile::tempdir().unwrap();
    let state = SignalsState::open(
        &Layout::new(tmp.path()),
        &config(""),
        Arc::new(RealStorage),
        Arc::new(SystemClock),
    )
    .unwrap();
    let tokens = Arc::new(Tokens {
        operator: Token::new(OP, Origin::Kept("op".into())),
        viewer: Token::new(VIEW, Origin::Kept("view".into())),
    });
    let app = ballast_api::finish(routes(state), tokens);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(ballast_api::serve::serve(listener, app));
    let c = reqwest::Client::new();
    let post = |token: Option<&'static str>| {
        let mut r = c.post(format!("{url}/v1/signals")).body(buy("auth-1"));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    assert_eq!(post(None).await.unwrap().status(), 401);
    assert_eq!(post(Some(VIEW)).await.unwrap().status(), 403);
    assert!(
        records(tmp.path()).is_empty(),
        "refused before anything was journaled"
    );
    assert_eq!(post(Some(OP)).await.unwrap().status(), 202);
    let list = c.get(format!("{url}/v1/signals"));
    assert_eq!(list.send().await.unwrap().status(), 401);
    let page: Value = c
        .get(format!("{url}/v1/signals"))
        .bearer_auth(VIEW)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["signals"][0]["signal_id"], "api-1");
    // Both routes are documented in /openapi.json with their schemas.
    let doc: Value = c
        .get(format!("{url}/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let signals = &doc["paths"]["/v1/signals"];
    assert!(
        signals["post"].is_object() && signals["get"].is_object(),
        "{signals}"
    );
}

#[tokio::test]
async fn a_journal_behind_what_the_engine_took_is_refused_rather_than_never_taken() {
    let tmp = tempfile::tempdir().unwrap();
    let api = Api::start(tmp.path(), &config("")).await;
    assert_eq!(api.post(&buy("r-1")).await.0, 202);
    api.stop();
    heartbeat(tmp.path(), 1);
    // Taken up to 1, the journal holds 1: fine.
    assert!(
        SignalsState::open(
            &Layout::new(tmp.path()),
            &config(""),
            Arc::new(RealStorage),
            Arc::new(SystemClock)
        )
        .is_ok()
    );
    // The journal replaced by an empty one: refused, saying why.
    std::fs::remove_dir_all(Layout::new(tmp.path()).signals_journal()).unwrap();
    let e = SignalsState::open(
        &Layout::new(tmp.path()),
        &config(""),
        Arc::new(RealStorage),
        Arc::new(SystemClock),
    )
    .err()
    .unwrap();
    assert!(
        e.contains("ends at seq 0 but the engine took signals up to seq 1"),
        "{e}"
    );
}
