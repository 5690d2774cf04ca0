//! The engine views and `/v1/events` over real HTTP on 127.0.0.1, against a data directory a
//! real engine (`ballast_engine::run`, the runtime of `ballast engine`) wrote on a temp dir:
//! the lists answer what the engine's own state says, pages walk every item exactly once,
//! events resume exactly after `Last-Event-ID`, and a damaged journal is a clear 503 that
//! recovers with the journal.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use ballast_api::events;
use ballast_api::follow::{FollowOptions, Follower};
use ballast_api::views;
use ballast_core::config::Config;
use ballast_engine::{Options, Report};
use ballast_store::files::health::{HealthFile, NotYet, Pending};
use ballast_supervisor::surface::Published;
use rust_decimal::Decimal;
use serde_json::Value;

fn config() -> Config {
    let env: Vec<(String, String)> = [
        ("BALLAST_JOURNAL__SNAPSHOT_EVERY_RECORDS", "150"),
        ("BALLAST_JOURNAL__SEGMENT_MAX_BYTES", "65536"),
        ("BALLAST_JOURNAL__MAX_RECORD_BYTES", "32768"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    ballast_core::config::load(None, &env).expect("the test configuration is valid")
}

/// The engine trades the bundled data until it has applied `bars` bars in all.
fn trade(dir: &Path, config: &Config, bars: u64) -> Report {
    let opts = Options {
        max_bars: Some(bars),
        bars_per_second: Some(0),
        ..Options::default()
    };
    ballast_engine::run(config, dir, &opts, &AtomicBool::new(false), &mut |_| {})
        .expect("the engine runs")
}

struct Api {
    base: String,
    http: reqwest::Client,
    _follower: Arc<Follower>,
}

async fn serve(dir: &Path, config: &Config, max_streams: usize) -> Api {
    serve_with(dir, config, max_streams, None).await
}

async fn serve_with(
    dir: &Path,
    config: &Config,
    max_streams: usize,
    published: Option<Arc<Published>>,
) -> Api {
    let mut opts = FollowOptions::new(dir, Arc::new(config.clone()));
    opts.published = published;
    let follower = Arc::new(Follower::start(opts).expect("follower"));
    let routes = views::routes(Arc::clone(&follower))
        .merge(events::routes_bounded(Arc::clone(&follower), max_streams));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, routes.router).await });
    Api {
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
        _follower: follower,
    }
}

impl Api {
    async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Poll `path` (every 20 ms, at most 30 s) until `ok` holds for its answer.
    async fn until(&self, path: &str, ok: impl Fn(u16, &Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (status, body) = self.get(path).await;
            if ok(status, &body) {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "{path} never answered as expected; last: {status} {body}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Wait until the view is at `seq`.
    async fn at_seq(&self, seq: u64) -> Value {
        self.until("/v1/positions", |s, b| s == 200 && b["seq"] == seq)
            .await
    }

    /// Every item of `path`, walking pages of `limit`.
    async fn walk(&self, path: &str, limit: usize) -> Vec<Value> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let url = match &after {
                Some(a) => format!("{path}{sep}limit={limit}&after={a}"),
                None => format!("{path}{sep}limit={limit}"),
            };
            let (status, body) = self.get(&url).await;
            assert_eq!(status, 200, "{url}: {body}");
            let items = body["items"].as_array().expect("items").clone();
            assert!(items.len() <= limit);
            out.extend(items);
            match body["next"].as_str() {
                Some(n) => after = Some(n.to_owned()),
                None => return out,
            }
        }
    }
}

fn dec(v: &Value) -> Decimal {
    v.as_str()
        .unwrap_or_else(|| panic!("a decimal is a string, not {v}"))
        .parse()
        .expect("a decimal")
}

/// `(type, seq)` of every record of a journal directory (read with the store's own scan).
fn journal_kinds(dir: &Path) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    ballast_store::journal::scan(&ballast_store::RealStorage, dir, &mut |r| {
        out.push((r.kind.to_string(), r.seq));
        Ok(())
    })
    .expect("scan");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lists_answer_the_engines_own_state_and_pages_walk_every_item_once() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let config = config();
    let report = tokio::task::block_in_place(|| trade(tmp.path(), &config, 1_300));
    let journal = tmp.path().join("journal/engine");
    assert!(
        std::fs::read_dir(tmp.path().join("state"))
            .expect("state dir")
            .flatten()
            .any(|e| e
                .file_name()
                .to_string_lossy()
                .starts_with("engine.snapshot.")),
        "the engine wrote a snapshot, so the view starts from one"
    );
    let before = tree(tmp.path());
    let api = serve(tmp.path(), &config, 4).await;
    api.at_seq(report.last_seq).await;

    // Positions: the engine's own view of its state (ballast status shows the same).
    let own = report.state.view(Decimal::from(25));
    assert!(
        !own.positions.is_empty(),
        "the engine holds positions after trading"
    );
    let listed = api.walk("/v1/positions", 2).await;
    assert_eq!(listed.len(), own.positions_total);
    for p in &own.positions {
        let row = listed
            .iter()
            .find(|r| r["symbol"] == p.symbol.as_str())
            .unwrap_or_else(|| panic!("{} is listed", p.symbol));
        assert_eq!(dec(&row["qty"]), p.qty);
        assert_eq!(dec(&row["avg_price"]), p.avg_price);
        assert_eq!(dec(&row["market_value"]), p.market_value);
        assert_eq!(dec(&row["unrealized_pnl"]), p.unrealized_pnl);
    }

    // The account: the engine's own numbers.
    let (status, acct) = api.get("/v1/account").await;
    assert_eq!(status, 200, "{acct}");
    assert_eq!(dec(&acct["equity"]), own.equity);
    assert_eq!(dec(&acct["cash"]), own.cash);
    assert_eq!(dec(&acct["exposure_pct"]), own.exposure_pct);
    assert_eq!(dec(&acct["exposure_cap_pct"]), Decimal::from(25));
    assert_eq!(dec(&acct["realized_pnl"]), own.realized_pnl);
    assert_eq!(acct["positions"], own.positions_total);

    // Open orders: exactly the orders the engine tracks.
    let open: BTreeSet<String> = api
        .walk("/v1/orders?status=open", 3)
        .await
        .iter()
        .map(|o| o["client_order_id"].as_str().unwrap_or_default().to_owned())
        .collect();
    let tracked: BTreeSet<String> = report
        .state
        .orders
        .tracked
        .keys()
        .map(|k| k.as_str().to_owned())
        .collect();
    assert_eq!(open, tracked);

    // Every fill and decision of the journal, each once, newest first, across small pages.
    let kinds = journal_kinds(&journal);
    let decisions = api.walk("/v1/decisions", 7).await;
    let decision_seqs: Vec<u64> = kinds
        .iter()
        .filter(|(k, _)| k == "engine.decision")
        .map(|(_, s)| *s)
        .rev()
        .collect();
    assert!(decision_seqs.len() > 7, "more decisions than one page");
    assert_eq!(
        decisions
            .iter()
            .map(|d| d["seq"].as_u64().unwrap_or(0))
            .collect::<Vec<_>>(),
        decision_seqs
    );
    let fills = api.walk("/v1/fills", 5).await;
    let ids: BTreeSet<&str> = fills.iter().filter_map(|f| f["fill_id"].as_str()).collect();
    assert_eq!(ids.len(), fills.len(), "no fill twice");
    assert_eq!(fills.len() as u64, report.state.stats.fills);
    let all_orders = api.walk("/v1/orders", 9).await;
    assert_eq!(all_orders.len() as u64, report.state.stats.orders);
    let filled = api.walk("/v1/orders?status=filled", 50).await;
    assert!(filled.iter().all(|o| dec(&o["filled"]) == dec(&o["qty"])));

    // Equity points: one per bar applied after the snapshot the view started from, oldest first.
    let points = api.walk("/v1/equity", 1000).await;
    let seqs: Vec<u64> = points
        .iter()
        .map(|p| p["seq"].as_u64().unwrap_or(0))
        .collect();
    assert!(!seqs.is_empty() && seqs.windows(2).all(|w| w[0] < w[1]));
    let last = points.last().expect("a point");
    assert_eq!(dec(&last["equity"]), own.equity);
    assert_eq!(dec(&last["exposure_pct"]), own.exposure_pct);
    assert_eq!(dec(&last["exposure_cap_pct"]), Decimal::from(25));
    let bars = kinds.iter().filter(|(k, _)| k == "market.bar").count();
    assert_eq!(points.len(), bars, "one point per bar of the whole journal");
    assert_eq!(tree(tmp.path()), before, "the follower wrote nothing");
}

/// Every file under `dir` with its size and modification time.
fn tree(dir: &Path) -> Vec<(String, u64, std::time::SystemTime)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("read dir").flatten() {
            let m = e.metadata().expect("metadata");
            if m.is_dir() {
                todo.push(e.path());
            } else {
                let t = m.modified().expect("mtime");
                out.push((e.path().display().to_string(), m.len(), t));
            }
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_limit_cursor_or_filter_is_a_422_naming_the_field() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let config = config();
    let report = tokio::task::block_in_place(|| trade(tmp.path(), &config, 300));
    let api = serve(tmp.path(), &config, 4).await;
    api.at_seq(report.last_seq).await;
    for (path, field) in [
        ("/v1/orders?limit=0", "limit"),
        ("/v1/orders?limit=1001", "limit"),
        ("/v1/fills?limit=ten", "limit"),
        ("/v1/decisions?after=garbage", "after"),
        ("/v1/positions?after=n12", "after"),
        ("/v1/orders?status=done", "status"),
        ("/v1/decisions?verdict=maybe", "verdict"),
        ("/v1/heals?limt=5", "limt"),
        ("/v1/events?after=12", "after"),
    ] {
        let (status, body) = api.get(path).await;
        assert_eq!(status, 422, "{path}: {body}");
        assert_eq!(body["error"]["field"], field, "{path}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.len() > 20)
        );
    }
    let r = api
        .http
        .get(format!("{}/v1/events", api.base))
        .header("Last-Event-ID", "nope")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 422);
}

/// One server-sent event.
#[derive(Debug, Clone, PartialEq)]
struct Ev {
    id: Option<String>,
    event: String,
    data: String,
}

struct Stream {
    resp: reqwest::Response,
    buf: String,
}

impl Stream {
    async fn open_url(api: &Api, path: &str) -> Stream {
        let resp = api
            .http
            .get(format!("{}{path}", api.base))
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status().as_u16(), 200);
        Stream {
            resp,
            buf: String::new(),
        }
    }

    async fn open(api: &Api, last_event_id: Option<&str>) -> Stream {
        let mut req = api.http.get(format!("{}/v1/events", api.base));
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id);
        }
        let resp = req.send().await.expect("request");
        assert_eq!(resp.status().as_u16(), 200);
        Stream {
            resp,
            buf: String::new(),
        }
    }

    /// The next event (comments skipped), within 10 s.
    async fn next(&mut self) -> Ev {
        self.next_or_end().await.expect("the stream stays open")
    }

    /// The next event, or `None` once the server closed the stream.
    async fn next_or_end(&mut self) -> Option<Ev> {
        loop {
            if let Some(i) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..i + 2).collect();
                let mut ev = Ev {
                    id: None,
                    event: "message".into(),
                    data: String::new(),
                };
                let mut any = false;
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        ev.id = Some(v.trim_start().to_owned());
                        any = true;
                    } else if let Some(v) = line.strip_prefix("event:") {
                        ev.event = v.trim_start().to_owned();
                        any = true;
                    } else if let Some(v) = line.strip_prefix("data:") {
                        ev.data.push_str(v.trim_start());
                        any = true;
                    }
                }
                if any {
                    return Some(ev);
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.resp.chunk())
                .await
                .expect("an event within 10 s")
                .expect("the stream reads");
            let chunk = chunk?;
            self.buf
                .push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
        }
    }
}

fn seq_of(ev: &Ev) -> u64 {
    serde_json::from_str::<Value>(&ev.data).expect("JSON data")["seq"]
        .as_u64()
        .expect("a seq")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_resume_exactly_after_last_event_id_and_follow_new_records() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let config = config();
    let report = tokio::task::block_in_place(|| trade(tmp.path(), &config, 1_000));
    let api = serve(tmp.path(), &config, 4).await;
    api.at_seq(report.last_seq).await;

    // From the start: the journal's records in order.
    let mut s = Stream::open(&api, Some("0.0")).await;
    let mut first = Vec::new();
    for _ in 0..60 {
        first.push(s.next().await);
    }
    drop(s);
    let seqs: Vec<u64> = first.iter().map(seq_of).collect();
    assert_eq!(seqs, (1..=60).collect::<Vec<_>>());
    assert_eq!(first[0].event, "journal", "the stamp record's family");

    // Resumed after the 25th: exactly the 26th onwards (`?after=` as a browser would).
    let resume = first[24].id.clone().expect("an id");
    let mut b = Stream::open_url(&api, &format!("/v1/events?after={resume}")).await;
    assert_eq!(b.next().await, first[25]);
    drop(b);
    let mut s = Stream::open(&api, Some(&resume)).await;
    for want in &first[25..] {
        assert_eq!(&s.next().await, want);
    }

    // Live: the engine trades on while the stream is open; every new record arrives once,
    // in order.
    let config2 = config.clone();
    let dir = tmp.path().to_path_buf();
    let more = tokio::task::spawn_blocking(move || trade(&dir, &config2, 1_050))
        .await
        .expect("engine thread");
    assert!(more.last_seq > report.last_seq);
    for want in 61..=more.last_seq {
        assert_eq!(seq_of(&s.next().await), want, "no gap, no duplicate");
    }
    // The view followed the new records: it holds what the engine holds now.
    api.at_seq(more.last_seq).await;
    let own = more.state.view(Decimal::from(25));
    assert!(
        own.positions_total > 0,
        "the engine opened a position meanwhile"
    );
    let listed = api.walk("/v1/positions", 1000).await;
    let qty = |sym: &str| {
        listed
            .iter()
            .find(|r| r["symbol"] == sym)
            .map(|r| dec(&r["qty"]))
    };
    assert_eq!(listed.len(), own.positions_total);
    for p in &own.positions {
        assert_eq!(qty(&p.symbol), Some(p.qty), "{}", p.symbol);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_beyond_the_bound_are_refused_and_events_carry_no_secret() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let config = config();
    let report = tokio::task::block_in_place(|| trade(tmp.path(), &config, 200));
    // Secrets beside the journals: the API token and a broker secrets file.
    let planted = "PLANTED-SECRET-d41d8cd98f00b204";
    std::fs::create_dir_all(tmp.path().join("run")).expect("run dir");
    std::fs::write(tmp.path().join("run/api.token"), planted).expect("token");
    std::fs::write(
        tmp.path().join("secrets.env"),
        format!("APCA_API_SECRET_KEY={planted}\n"),
    )
    .expect("secrets");
    let api = serve(tmp.path(), &config, 1).await;
    api.at_seq(report.last_seq).await;
    let mut s = Stream::open(&api, Some("0.0")).await;
    let (status, body) = api.get("/v1/events").await;
    assert_eq!(status, 503, "{body}");
    for _ in 0..report.last_seq {
        let ev = s.next().await;
        assert!(!ev.data.contains(planted) && !ev.event.contains(planted));
    }
    for path in [
        "/v1/positions",
        "/v1/orders",
        "/v1/fills",
        "/v1/decisions",
        "/v1/heals",
    ] {
        let (_, body) = api.get(path).await;
        assert!(!body.to_string().contains(planted), "{path}");
    }
    drop(s);
    // The slot is free again once the stream is gone.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = api
            .http
            .get(format!("{}/v1/events", api.base))
            .send()
            .await
            .expect("request");
        if r.status().as_u16() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the slot was never freed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The last segment of the engine journal.
fn last_segment(dir: &Path) -> std::path::PathBuf {
    let mut segs: Vec<_> = std::fs::read_dir(dir.join("journal/engine"))
        .expect("journal")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    segs.sort();
    segs.pop().expect("a segment")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_journal_is_a_clear_503_and_the_view_recovers_with_the_journal() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let config = config();
    let report = tokio::task::block_in_place(|| trade(tmp.path(), &config, 300));
    let api = serve(tmp.path(), &config, 4).await;
    api.at_seq(report.last_seq).await;
    let seg = last_segment(tmp.path());
    let len = std::fs::metadata(&seg).expect("segment").len();

    // A torn tail (an engine killed mid-append): the valid prefix is served, with a warning.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&seg)
        .expect("open");
    f.write_all(b"{\"v\":1,\"seq\":").expect("write");
    let body = api
        .until("/v1/positions", |s, b| s == 200 && b["warning"].is_string())
        .await;
    assert!(
        body["warning"]
            .as_str()
            .is_some_and(|w| w.contains("torn tail")),
        "{body}"
    );
    assert_eq!(body["seq"], report.last_seq);

    // Corruption with a record after it: 503 naming the segment and the problem.
    f.write_all(b"garbage\n{\"v\":1}\n").expect("write");
    drop(f);
    let body = api.until("/v1/orders", |s, _| s == 503).await;
    let msg = body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(msg.contains("corrupt") && msg.contains(".jsonl"), "{msg}");
    assert_eq!(body["error"]["code"], "unavailable");

    // Repaired (truncated back, as `ballast heal` would after quarantining): served again.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&seg)
        .and_then(|f| f.set_len(len))
        .expect("truncate");
    let body = api
        .until("/v1/orders", |s, b| s == 200 && b["warning"].is_null())
        .await;
    assert_eq!(body["seq"], report.last_seq);
    let (status, _) = api.get("/v1/positions").await;
    assert_eq!(status, 200);
}

fn ops_journal(dir: &Path) -> ballast_store::Journal {
    let layout = ballast_store::Layout::new(dir);
    ballast_store::Journal::open(
        Arc::new(ballast_store::RealStorage),
        &layout,
        &layout.ops_journal(),
        Arc::new(ballast_store::SystemClock),
        ballast_store::JournalOptions::default(),
        ballast_store::OpenPolicy::RefuseDangerous,
        &mut |_| Ok(()),
    )
    .expect("the ops journal opens")
    .0
}

fn pending(policy: ballast_core::policy::Policy) -> HealthFile {
    HealthFile::Pending(Pending {
        overall: NotYet::Unknown,
        policy,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heals_and_alerts_list_the_ops_records_and_stream_with_health_changes() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let ops = ops_journal(tmp.path());
    for (kind, n) in [
        ("service.started", 1),
        ("heal.applied", 2),
        ("alert.raised", 3),
        ("heal.failed", 4),
        ("alert.resolved", 5),
    ] {
        ops.append(kind, &serde_json::json!({"n": n}))
            .expect("append");
    }
    let published = Arc::new(Published::default());
    published.set_health(&pending(ballast_core::policy::Policy::AllowAll));
    let api = serve_with(tmp.path(), &config(), 4, Some(Arc::clone(&published))).await;
    let heals = api
        .until("/v1/heals", |s, b| {
            s == 200 && b["items"].as_array().is_some_and(|i| i.len() == 2)
        })
        .await;
    let kinds: Vec<&str> = heals["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["type"].as_str())
        .collect();
    assert_eq!(
        kinds,
        ["heal.failed", "heal.applied"],
        "newest first, heal.* only"
    );
    assert_eq!(heals["items"][0]["body"]["n"], 4);
    let alerts = api.walk("/v1/alerts", 1).await;
    assert_eq!(alerts.len(), 2);
    assert_eq!(api.walk("/v1/heals?type=heal.applied", 10).await.len(), 1);
    // No engine journal yet: an empty engine view, not an error.
    assert_eq!(api.walk("/v1/positions", 10).await.len(), 0);

    let mut s = Stream::open(&api, Some("0.0")).await;
    let health = s.next().await;
    assert_eq!(
        (health.event.as_str(), health.id.as_deref()),
        ("health", None)
    );
    assert!(health.data.contains("ALLOW_ALL"), "{}", health.data);
    let mut got = Vec::new();
    for _ in 0..5 {
        let e = s.next().await;
        got.push((e.id.unwrap_or_default(), e.event));
    }
    let want: Vec<(String, String)> = [
        ("0.1", "service"),
        ("0.2", "heal"),
        ("0.3", "alert"),
        ("0.4", "heal"),
        ("0.5", "alert"),
    ]
    .iter()
    .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
    .collect();
    assert_eq!(got, want);
    // Live: a new record, then a health change.
    ops.append("alert.raised", &serde_json::json!({"n": 6}))
        .expect("append");
    let e = s.next().await;
    assert_eq!((e.id.as_deref(), e.event.as_str()), (Some("0.6"), "alert"));
    published.set_health(&pending(ballast_core::policy::Policy::NoNewTrades));
    let e = s.next().await;
    assert_eq!(e.event, "health");
    assert!(e.data.contains("NO_NEW_TRADES"), "{}", e.data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_read_is_dropped_not_buffered() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let ops = ops_journal(tmp.path());
    let api = serve(tmp.path(), &config(), 4).await;
    let mut s = Stream::open(&api, None).await;
    // Far more than the lag bound, while the client reads nothing.
    let body = serde_json::json!({"pad": "z".repeat(1000)});
    let total = 30_000u64;
    for _ in 0..(total / 1000) {
        let batch: Vec<(&str, &Value)> = (0..1000).map(|_| ("heal.applied", &body)).collect();
        ops.append_many(batch).expect("append");
    }
    api.until("/v1/heals?limit=1", |st, b| {
        st == 200 && b["items"][0]["seq"] == total
    })
    .await;
    let mut read = 0u64;
    let last = loop {
        let e = s.next_or_end().await;
        match e {
            Some(e) if e.event == "dropped" => break Some(e),
            Some(_) => read += 1,
            None => break None,
        }
    };
    let last = last.expect("a `dropped` event before the stream closes");
    assert!(
        last.data.contains("reconnect with Last-Event-ID"),
        "{}",
        last.data
    );
    assert!(
        read < total,
        "the stream was dropped before it delivered everything"
    );
    assert!(
        s.next_or_end().await.is_none(),
        "the stream is closed after `dropped`"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_serves_the_views_and_events_behind_the_viewer_token_and_documents_them() {
    use ballast_api::auth::{Origin, Token, Tokens};
    const OP: &str = "operator-token-0123456789abcdef0123456789";
    const VIEW: &str = "viewer-token-0123456789abcdef0123456789ab";
    let tmp = tempfile::tempdir().expect("temp dir");
    let config = config();
    let report = tokio::task::block_in_place(|| trade(tmp.path(), &config, 300));
    let follower = Arc::new(
        Follower::start(FollowOptions::new(tmp.path(), Arc::new(config.clone())))
            .expect("follower"),
    );
    let tokens = Arc::new(Tokens {
        operator: Token::new(OP, Origin::Kept("op".into())),
        viewer: Token::new(VIEW, Origin::Kept("view".into())),
    });
    let app = ballast_api::finish(ballast_api::engine_routes(follower), tokens);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(ballast_api::serve::serve(listener, app));
    let http = reqwest::Client::new();
    let get = |path: &str, token: Option<&str>| {
        let mut r = http.get(format!("{base}{path}"));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    let r = get("/v1/positions", None).await.expect("request");
    assert_eq!(r.status().as_u16(), 401);
    let r = get("/v1/events", None).await.expect("request");
    assert_eq!(r.status().as_u16(), 401);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = get("/v1/orders", Some(VIEW)).await.expect("request");
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        if status == 200 && body["seq"] == report.last_seq {
            break;
        }
        assert!(Instant::now() < deadline, "never ready: {status} {body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let r = get("/v1/events?after=0.0", Some(VIEW))
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 200);
    assert!(
        r.headers()
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"))
    );
    let mut s = Stream {
        resp: r,
        buf: String::new(),
    };
    assert_eq!(seq_of(&s.next().await), 1);
    let doc: Value = get("/openapi.json", None)
        .await
        .expect("request")
        .json()
        .await
        .expect("JSON");
    for path in [
        "/v1/account",
        "/v1/positions",
        "/v1/orders",
        "/v1/fills",
        "/v1/decisions",
        "/v1/equity",
        "/v1/heals",
        "/v1/alerts",
        "/v1/events",
    ] {
        assert!(
            doc["paths"][path]["get"].is_object(),
            "{path} in /openapi.json"
        );
    }
    let params = doc["paths"]["/v1/orders"]["get"]["parameters"].to_string();
    assert!(params.contains("status") && params.contains("limit") && params.contains("after"));
}
