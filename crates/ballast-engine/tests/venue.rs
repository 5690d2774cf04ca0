//! The engine on an external venue, over a scripted in-memory venue (the HTTP adapter and the
//! fake Alpaca are tested end to end in `crates/ballast/tests/alpaca_e2e.rs`): the journal is
//! stamped with the broker and the account and refused on another account, the startup
//! compatibility check's failures end or stop trading by class, a live engine sends nothing
//! while a condition is missing (each listed in the heartbeat), and a bar carries no fills.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use ballast_core::broker::{
    Broker, BrokerError, FillsPage, OrdersPage, VenueAccount, VenueOrder, VenuePosition,
    VenueStatus,
};
use ballast_core::config::{self, BrokerKind, Config, Mode};
use ballast_core::domain::{ClientOrderId, Order};
use ballast_core::time::Timestamp;
use ballast_engine::{CompatFailure, EngineError, ExternalVenue, Options, run_on};
use rust_decimal::Decimal;

/// What the scripted venue was asked and answers.
#[derive(Default)]
struct Book {
    account: String,
    compat: Option<CompatFailure>,
    /// Every submit, in order (client_order_id, attempt).
    submits: Vec<(String, u32)>,
    orders: BTreeMap<String, VenueOrder>,
    /// Calls that answer a schema error (by name: "positions", "orders_since", ...).
    schema: Vec<&'static str>,
    calls: Vec<&'static str>,
    /// The market data it serves (the first fetch), then a failing fetch that stops the run.
    bars: Vec<ballast_core::market::Bar>,
    fetches: Vec<Option<Timestamp>>,
    stop: Option<Arc<AtomicBool>>,
    /// The next submits refused before the venue takes them, with this text.
    refuse_submits: Option<(u32, String)>,
    /// The positions it reports.
    positions: Vec<VenuePosition>,
    /// The id epochs the engine gave the venue, one per start.
    epochs: Vec<Option<String>>,
}

#[derive(Clone, Default)]
struct Scripted(Arc<Mutex<Book>>);

impl Scripted {
    fn new(account: &str) -> Scripted {
        let s = Scripted::default();
        s.book().account = account.to_owned();
        s
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.0.lock().unwrap()
    }

    fn call(&self, name: &'static str) -> Result<(), BrokerError> {
        let mut b = self.book();
        b.calls.push(name);
        if b.schema.contains(&name) {
            return Err(BrokerError::Schema(format!(
                "field \"status\" of {name}: missing (a required field)"
            )));
        }
        Ok(())
    }
}

impl Broker for Scripted {
    fn submit(&mut self, order: &Order, attempt: u32) -> Result<(), BrokerError> {
        self.call("submit")?;
        let mut b = self.book();
        b.submits.push((order.client_order_id.to_string(), attempt));
        if let Some((n, text)) = b.refuse_submits.as_mut().filter(|(n, _)| *n > 0) {
            *n -= 1;
            return Err(BrokerError::Unavailable(text.clone()));
        }
        b.submits.pop();
        b.submits.push((order.client_order_id.to_string(), attempt));
        b.orders.insert(
            order.client_order_id.to_string(),
            VenueOrder {
                order: order.clone(),
                remaining: order.qty.value(),
                venue_id: format!("v-{}", order.client_order_id),
                status: VenueStatus::New,
                filled_qty: Decimal::ZERO,
                filled_avg_price: None,
                updated_at: Timestamp::EPOCH,
            },
        );
        Ok(())
    }
    fn cancel(&mut self, _id: &ClientOrderId) -> Result<Option<Decimal>, BrokerError> {
        self.call("cancel")?;
        Ok(None)
    }
    fn cancel_all(&mut self) -> Result<Vec<ClientOrderId>, BrokerError> {
        self.call("cancel_all")?;
        Ok(Vec::new())
    }
    fn lookup(&mut self, id: &ClientOrderId) -> Result<Option<VenueOrder>, BrokerError> {
        self.call("lookup")?;
        Ok(self.book().orders.get(id.as_str()).cloned())
    }
    fn open_orders(&mut self) -> Result<Vec<VenueOrder>, BrokerError> {
        self.call("open_orders")?;
        Ok(self.book().orders.values().cloned().collect())
    }
    fn positions(&mut self) -> Result<Vec<VenuePosition>, BrokerError> {
        self.call("positions")?;
        Ok(self.book().positions.clone())
    }
    fn account(&mut self) -> Result<VenueAccount, BrokerError> {
        self.call("account")?;
        Ok(VenueAccount {
            id: self.book().account.clone(),
            cash: Some(Decimal::from(100_000)),
        })
    }
    fn fills_since(&mut self, cursor: u64) -> Result<FillsPage, BrokerError> {
        Ok(FillsPage {
            fills: Vec::new(),
            cursor,
        })
    }
    fn orders_since(
        &mut self,
        _since: Option<Timestamp>,
        _limit: usize,
    ) -> Result<OrdersPage, BrokerError> {
        self.call("orders_since")?;
        Ok(OrdersPage {
            orders: Vec::new(),
            more: false,
        })
    }
}

impl ExternalVenue for Scripted {
    fn broker(&self) -> &'static str {
        "alpaca"
    }
    fn set_epoch(&mut self, epoch: Option<String>) -> Result<(), String> {
        self.book().epochs.push(epoch);
        Ok(())
    }
    fn compat(&mut self) -> Result<String, CompatFailure> {
        match self.book().compat.clone() {
            Some(f) => Err(f),
            None => Ok("GET /v2/account, GET /v2/clock, GET /v2/orders: as documented".into()),
        }
    }
    fn bars(
        &mut self,
        _symbols: &[ballast_core::domain::Symbol],
        after: Option<Timestamp>,
        _max: usize,
    ) -> Result<Vec<ballast_core::market::Bar>, String> {
        let mut b = self.book();
        b.fetches.push(after);
        if b.fetches.len() == 1 {
            return Ok(b.bars.clone());
        }
        if let Some(stop) = &b.stop {
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        Err("connection refused".into())
    }
}

fn alpaca_config() -> Config {
    let mut cfg = config::builtin().unwrap();
    cfg.broker.kind = BrokerKind::Alpaca;
    cfg.feed.bars_per_second = 0;
    // Trade early and often on the bundled bars.
    cfg.strategy.fast = 2;
    cfg.strategy.slow = 3;
    cfg
}

fn run_venue(
    cfg: &Config,
    dir: &std::path::Path,
    venue: &Scripted,
    bars: u64,
) -> (Result<ballast_engine::Report, EngineError>, Vec<String>) {
    let mut lines = Vec::new();
    let r = run_on(
        cfg,
        dir,
        &Options {
            max_bars: Some(bars),
            ..Options::default()
        },
        Some(Box::new(venue.clone())),
        &AtomicBool::new(false),
        &mut |l: &str| lines.push(l.to_owned()),
    );
    (r, lines)
}

/// The journal's records of `kind`, as JSON.
fn records(dir: &std::path::Path, kind: &str) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    ballast_store::journal::scan(
        &ballast_store::RealStorage,
        &dir.join("journal/engine"),
        &mut |rec: &ballast_store::record::RecordRef<'_>| {
            if &*rec.kind == kind {
                out.push(serde_json::from_str(rec.body.get()).unwrap());
            }
            Ok(())
        },
    )
    .unwrap();
    out
}

fn fingerprint(id: &str) -> String {
    ballast_core::reconcile::account_fingerprint(&VenueAccount {
        id: id.into(),
        cash: None,
    })
}

fn heartbeat(dir: &std::path::Path) -> ballast_store::files::heartbeat::Heartbeat {
    ballast_engine::heartbeat::read(&ballast_store::Layout::new(dir)).unwrap()
}

#[test]
fn orders_go_to_the_external_venue_and_the_journal_is_stamped_with_its_broker_and_account() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = alpaca_config();
    let venue = Scripted::new("fp-account-1");
    let (r, lines) = run_venue(&cfg, tmp.path(), &venue, 60);
    r.unwrap();
    assert!(
        !venue.book().submits.is_empty(),
        "orders reached the venue: {lines:#?}"
    );
    let stamp = &records(tmp.path(), "journal.stamp")[0];
    assert_eq!(stamp["broker"], "alpaca");
    assert_eq!(stamp["account"], fingerprint("fp-account-1"));
    assert!(
        !stamp.to_string().contains("fp-account-1"),
        "the id itself is not journaled"
    );
    let runs = records(tmp.path(), "reconcile.run");
    assert_eq!(
        runs[0]["startup"], true,
        "a startup reconciliation, journaled"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("startup reconciliation: clean")),
        "{lines:#?}"
    );
    // The startup reconciliation asked before anything was sent.
    let calls = venue.book().calls.clone();
    let first_submit = calls.iter().position(|c| *c == "submit").unwrap();
    let asked = &calls[..first_submit];
    for call in ["account", "positions", "open_orders", "orders_since"] {
        assert!(
            asked.contains(&call),
            "{call} before the first submit: {calls:?}"
        );
    }
    for bar in records(tmp.path(), "market.bar") {
        assert_eq!(
            bar["fills"],
            serde_json::json!([]),
            "no paper fills on a bar"
        );
    }
    let hb = heartbeat(tmp.path());
    assert_eq!(hb.status.venue.broker, "alpaca");
    assert!(hb.status.venue.compat.as_ref().is_some_and(|c| c.ok));
    assert_eq!(hb.status.venue.live_missing, Vec::<String>::new());
}

/// An external journal gets an id epoch at its first stamp and the venue is given it before
/// anything is sent; a restart of the same journal gives the same one; a fresh journal on the
/// same account another (its ids never reuse the first's at the venue).
#[test]
fn an_external_journal_gets_an_id_epoch_at_its_stamp_kept_by_restarts_and_given_to_the_venue() {
    let cfg = alpaca_config();
    let tmp = tempfile::tempdir().unwrap();
    let venue = Scripted::new("fp-account-1");
    run_venue(&cfg, tmp.path(), &venue, 20).0.unwrap();
    let stamp = &records(tmp.path(), "journal.stamp")[0];
    let epoch = stamp["epoch"].as_str().expect("an id epoch").to_owned();
    assert!(!epoch.is_empty() && epoch.len() <= 8, "{epoch}");
    assert_eq!(venue.book().epochs, [Some(epoch.clone())]);
    let calls = venue.book().calls.clone();
    assert!(calls.contains(&"submit"), "{calls:?}");
    run_venue(&cfg, tmp.path(), &venue, 40).0.unwrap();
    assert_eq!(
        records(tmp.path(), "journal.stamp").len(),
        1,
        "stamped once"
    );
    assert_eq!(venue.book().epochs.last(), Some(&Some(epoch.clone())));
    std::thread::sleep(std::time::Duration::from_millis(5));
    let fresh = tempfile::tempdir().unwrap();
    run_venue(&cfg, fresh.path(), &venue, 20).0.unwrap();
    let other = records(fresh.path(), "journal.stamp")[0]["epoch"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(
        other, epoch,
        "a fresh journal on the same account: another epoch"
    );
}

#[test]
fn a_journal_of_another_account_or_broker_is_refused_by_name_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = alpaca_config();
    run_venue(&cfg, tmp.path(), &Scripted::new("fp-a"), 5)
        .0
        .unwrap();
    let before = records(tmp.path(), "market.bar").len();
    let (r, _) = run_venue(&cfg, tmp.path(), &Scripted::new("fp-b"), 10);
    let e = r.unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, EngineError::AccountMismatch { .. }), "{text}");
    assert!(
        text.contains(&format!("account {}", fingerprint("fp-a")))
            && text.contains(&format!("account {}", fingerprint("fp-b")))
            && text.contains("--data-dir"),
        "{text}"
    );
    assert_eq!(
        records(tmp.path(), "market.bar").len(),
        before,
        "nothing written"
    );
    // The paper broker on an Alpaca journal: refused too.
    let e = ballast_engine::run(
        &config::builtin().unwrap(),
        tmp.path(),
        &Options {
            max_bars: Some(10),
            ..Options::default()
        },
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains(&format!("alpaca broker's account {}", fingerprint("fp-a"))),
        "{e}"
    );
    // The same account continues.
    run_venue(&cfg, tmp.path(), &Scripted::new("fp-a"), 10)
        .0
        .unwrap();
}

#[test]
fn a_configuration_failure_of_the_compatibility_check_ends_the_engine_before_anything_is_traded() {
    let tmp = tempfile::tempdir().unwrap();
    let venue = Scripted::new("fp");
    venue.book().compat = Some(CompatFailure::Config(
        "GET /v2/account answered 401 {\"message\":\"unauthorized\"}".into(),
    ));
    let (r, _) = run_venue(&alpaca_config(), tmp.path(), &venue, 30);
    let e = r.unwrap_err();
    assert!(matches!(e, EngineError::VenueConfig { .. }), "{e}");
    let text = e.to_string();
    assert!(
        text.starts_with("FAILED_CONFIG") && text.contains("401"),
        "{text}"
    );
    assert!(venue.book().submits.is_empty());
}

#[test]
fn a_schema_failure_stops_trading_naming_the_call_and_field_and_the_heartbeat_says_it() {
    // At the compatibility check.
    let tmp = tempfile::tempdir().unwrap();
    let venue = Scripted::new("fp");
    venue.book().compat = Some(CompatFailure::Schema(
        "GET /v2/orders: field \"status\" = \"frozen\" is not an order status".into(),
    ));
    let (r, lines) = run_venue(&alpaca_config(), tmp.path(), &venue, 60);
    r.unwrap();
    assert!(venue.book().submits.is_empty(), "nothing sent: {lines:#?}");
    let hb = heartbeat(tmp.path());
    let c = hb.status.venue.compat.unwrap();
    assert_eq!(c.class.as_deref(), Some("FAILED_API_SCHEMA"));
    assert!(c.detail.contains("\"status\""), "{}", c.detail);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("CRITICAL: FAILED_API_SCHEMA")),
        "{lines:#?}"
    );
    // From a later call (the positions of the startup reconciliation).
    let tmp = tempfile::tempdir().unwrap();
    let venue = Scripted::new("fp");
    venue.book().schema.push("positions");
    let (r, lines) = run_venue(&alpaca_config(), tmp.path(), &venue, 60);
    r.unwrap();
    assert!(venue.book().submits.is_empty(), "nothing sent: {lines:#?}");
    let v = heartbeat(tmp.path()).status.venue;
    let c = v.compat.unwrap();
    assert_eq!(c.class.as_deref(), Some("FAILED_API_SCHEMA"));
    assert!(c.detail.contains("GET /v2/positions") && c.detail.contains("\"status\""));
    assert!(v.last_error.unwrap().contains("FAILED_API_SCHEMA"));
    let decisions = records(tmp.path(), "signal.decision");
    assert!(
        decisions
            .iter()
            .all(|d| d.to_string().contains("FAILED_API_SCHEMA") || d["approved"] != true),
        "every decision refused with the reason"
    );
}

#[test]
fn a_live_engine_sends_nothing_while_a_condition_is_missing_and_lists_each() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = alpaca_config();
    cfg.general.mode = Mode::Live;
    let venue = Scripted::new("fp-live");
    venue.book().compat = Some(CompatFailure::Transient(
        "GET /v2/clock: connection refused".into(),
    ));
    let (r, lines) = run_venue(&cfg, tmp.path(), &venue, 60);
    r.unwrap();
    assert!(venue.book().submits.is_empty(), "{lines:#?}");
    let missing = heartbeat(tmp.path()).status.venue.live_missing;
    assert!(
        missing
            .iter()
            .any(|m| m.contains("compatibility check") && m.contains("connection refused")),
        "{missing:?}"
    );
    // Every condition met: a live engine trades.
    let tmp = tempfile::tempdir().unwrap();
    let venue = Scripted::new("fp-live");
    let (r, lines) = run_venue(&cfg, tmp.path(), &venue, 60);
    r.unwrap();
    assert!(!venue.book().submits.is_empty(), "{lines:#?}");
    assert_eq!(
        heartbeat(tmp.path()).status.venue.live_missing,
        Vec::<String>::new()
    );
}

#[test]
fn the_alpaca_feed_takes_the_venues_bars_after_the_last_one_and_a_failing_fetch_invents_none() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = alpaca_config();
    cfg.feed.kind = config::FeedKind::Alpaca;
    cfg.broker.alpaca.bars_poll_secs = 1;
    let venue = Scripted::new("fp");
    let aapl = ballast_core::domain::Symbol::new("AAPL").unwrap();
    let bar = |minute: i64, close: i64| ballast_core::market::Bar {
        symbol: aapl,
        ts: Timestamp::from_unix_ms(1_700_000_000_000 + minute * 60_000),
        open: Decimal::from(close),
        high: Decimal::from(close + 1),
        low: Decimal::from(close - 1),
        close: Decimal::from(close),
        volume: Decimal::from(1000),
    };
    venue.book().bars = vec![bar(1, 100), bar(2, 101), bar(3, 102)];
    let stop = Arc::new(AtomicBool::new(false));
    venue.book().stop = Some(Arc::clone(&stop));
    let mut lines = Vec::new();
    let r = run_on(
        &cfg,
        tmp.path(),
        &Options::default(),
        Some(Box::new(venue.clone())),
        &stop,
        &mut |l: &str| lines.push(l.to_owned()),
    )
    .unwrap();
    assert_eq!(
        r.bars, 3,
        "the venue's three bars, none invented: {lines:#?}"
    );
    let journaled: Vec<String> = records(tmp.path(), "market.bar")
        .iter()
        .map(|b| b["bar"]["close"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(journaled, ["100", "101", "102"]);
    // The second fetch asked for the bars after the last one taken.
    let fetches = venue.book().fetches.clone();
    assert_eq!(fetches, [None, Some(bar(3, 102).ts)]);
    let v = heartbeat(tmp.path()).status.venue;
    assert!(
        v.last_error
            .as_deref()
            .is_some_and(|e| e.contains("/v2/stocks/bars") && e.contains("stale")),
        "{v:?}"
    );
}

#[test]
fn a_submit_refused_before_the_venue_took_it_is_not_sent_and_goes_at_the_next_pass() {
    let tmp = tempfile::tempdir().unwrap();
    let venue = Scripted::new("fp");
    venue.book().refuse_submits = Some((
        2,
        "Alpaca POST /v2/orders: answered 429 (\"rate limit exceeded\") — TRANSIENT".into(),
    ));
    let (r, lines) = run_venue(&alpaca_config(), tmp.path(), &venue, 60);
    r.unwrap();
    let submits = venue.book().submits.clone();
    let first = &submits[0].0;
    let tries: Vec<&(String, u32)> = submits.iter().filter(|(id, _)| id == first).collect();
    assert_eq!(tries.len(), 3, "refused twice, then taken: {submits:?}");
    assert!(
        tries.iter().all(|(_, attempt)| *attempt == 1),
        "the same attempt: {tries:?}"
    );
    let sent: Vec<serde_json::Value> = records(tmp.path(), "order.sent")
        .into_iter()
        .filter(|r| r["client_order_id"] == first.as_str())
        .collect();
    assert_eq!(sent.len(), 1, "journaled once, when taken: {sent:?}");
    assert!(!sent[0].to_string().contains("unknown"), "{sent:?}");
    let warned = lines.iter().filter(|l| l.contains("429")).count();
    assert_eq!(warned, 1, "said once while it lasts: {lines:#?}");
}

#[test]
fn a_credentials_refusal_after_the_start_stops_trading_as_failed_config() {
    let tmp = tempfile::tempdir().unwrap();
    let venue = Scripted::new("fp");
    venue.book().refuse_submits = Some((
        u32::MAX,
        "Alpaca POST /v2/orders: answered 401 (\"unauthorized\") — PERSISTENT_CONFIG: trading stops (FAILED_CONFIG): check the key id and secret".into(),
    ));
    let (r, lines) = run_venue(&alpaca_config(), tmp.path(), &venue, 80);
    // The engine ends like a refusal at its start (exit 78: the supervisor does not restart
    // it), saying why.
    let e = r.unwrap_err();
    assert!(
        matches!(e, EngineError::VenueRefused { .. }) && e.to_string().contains("401"),
        "{e}"
    );
    assert_eq!(venue.book().submits.len(), 1, "no retry loop: {lines:#?}");
    // No further venue call after the refusal: no poll, no reconciliation, no bars.
    let calls = venue.book().calls.clone();
    let refused = calls.iter().position(|c| *c == "submit").unwrap();
    assert_eq!(&calls[refused + 1..], &[] as &[&str], "{calls:?}");
    let c = heartbeat(tmp.path()).status.venue.compat.unwrap();
    assert_eq!(c.class.as_deref(), Some("FAILED_CONFIG"));
    assert!(c.detail.contains("401"), "{}", c.detail);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("CRITICAL: FAILED_CONFIG")),
        "{lines:#?}"
    );
}

/// Two positions at the broker that Ballast never traded: two findings, a live engine held.
/// The operator flattens one: its closing order (`bl-rec-*`, reduce-only, chosen) goes to the
/// venue under the live hold while the other finding is still open, and the flattened finding
/// stays listed, marked flattening with its order, until the order fills.
#[test]
fn the_operator_s_flatten_is_sent_under_the_live_hold_and_stays_listed_until_it_fills() {
    use ballast_core::broker::PositionSide;
    use ballast_core::domain::Symbol;
    use ballast_core::reconcile::Choice;
    use ballast_store::files::reconcile_choice::{self, ChoiceFile};
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = alpaca_config();
    cfg.general.mode = Mode::Live;
    let held = |s: &str, q: i64| VenuePosition {
        symbol: Symbol::new(s).unwrap(),
        qty: Decimal::from(q),
        side: PositionSide::Long,
        avg_entry_price: Decimal::from(20),
    };
    let venue = || {
        let v = Scripted::new("fp-live");
        v.book().positions = vec![held("BBB", 15), held("CCC", 7)];
        v
    };
    let first = venue();
    let (r, lines) = run_venue(&cfg, tmp.path(), &first, 5);
    r.unwrap();
    assert!(first.book().submits.is_empty(), "held: {lines:#?}");
    let open = heartbeat(tmp.path())
        .status
        .venue
        .reconcile
        .unwrap()
        .findings;
    assert_eq!(open.len(), 2, "{open:?}");
    reconcile_choice::write_new(
        &ballast_store::RealStorage,
        &ballast_store::Layout::new(tmp.path()),
        &ChoiceFile {
            version: 1,
            finding: "unknown_position:BBB".into(),
            choice: Choice::Flatten,
            by: "cli: operator".into(),
            at: Timestamp::from_unix_ms(1_000),
            seen: open
                .iter()
                .find(|f| f.id == "unknown_position:BBB")
                .map(ballast_core::reconcile::Seen::of),
        },
    )
    .unwrap();
    let second = venue();
    let (r, lines) = run_venue(&cfg, tmp.path(), &second, 10);
    r.unwrap();
    let submits = second.book().submits.clone();
    assert!(
        submits.len() == 1 && submits[0].0.starts_with("bl-rec-"),
        "only the flatten order went, under the live hold: {submits:?} {lines:#?}"
    );
    let order = &second.book().orders[&submits[0].0].order.clone();
    assert_eq!(order.qty.value(), Decimal::from(15));
    // A restart reconciles again (the books took the broker's 15, so the run itself no longer
    // sees a difference); the broker has not filled the order: the finding stays listed,
    // flattening, with its order.
    let third = venue();
    third.book().orders = second.book().orders.clone();
    let (r, lines) = run_venue(&cfg, tmp.path(), &third, 12);
    r.unwrap();
    assert!(
        third.book().submits.is_empty(),
        "not sent twice: {lines:#?}"
    );
    assert!(
        records(tmp.path(), "reconcile.run").len() >= 3,
        "the restart reconciled"
    );
    let summary = heartbeat(tmp.path()).status.venue.reconcile.unwrap();
    assert!(
        summary
            .findings
            .iter()
            .any(|f| f.id == "unknown_position:BBB"),
        "{summary:?}"
    );
    assert_eq!(
        summary
            .flattening
            .get("unknown_position:BBB")
            .map(|v| v.iter().map(|c| c.to_string()).collect::<Vec<_>>()),
        Some(vec![submits[0].0.clone()]),
        "{summary:?}"
    );
}
