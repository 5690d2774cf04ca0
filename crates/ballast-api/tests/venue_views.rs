//! The HTTP API's lists on an external venue: the engine runs over a scripted venue that fills
//! every order at once (its fills come only in `venue.fills`, its terminal word in
//! `order.venue`), and the read-only follower lists those orders as filled with their fills.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ballast_api::follow::{FollowOptions, Follower};
use ballast_api::views;
use ballast_core::broker::{
    Broker, BrokerError, FillsPage, OrdersPage, PositionSide, VenueAccount, VenueOrder,
    VenuePosition, VenueStatus,
};
use ballast_core::config::{self, BrokerKind, Config};
use ballast_core::domain::{ClientOrderId, Order, Side};
use ballast_core::time::Timestamp;
use ballast_engine::{CompatFailure, ExternalVenue, Options, run_on};
use rust_decimal::Decimal;
use serde_json::Value;

/// A venue that fills every order whole at 100 when it is submitted.
#[derive(Clone, Default)]
struct Filling(Arc<Mutex<BTreeMap<String, VenueOrder>>>);

fn wall_now() -> Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    Timestamp::from_unix_ms(ms)
}

impl Filling {
    fn orders(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, VenueOrder>> {
        self.0.lock().unwrap()
    }
}

impl Broker for Filling {
    fn submit(&mut self, order: &Order, _attempt: u32) -> Result<(), BrokerError> {
        self.orders().insert(
            order.client_order_id.to_string(),
            VenueOrder {
                order: order.clone(),
                remaining: Decimal::ZERO,
                venue_id: format!("v-{}", order.client_order_id),
                status: VenueStatus::Filled,
                filled_qty: order.qty.value(),
                filled_avg_price: Some(Decimal::ONE_HUNDRED),
                updated_at: wall_now(),
            },
        );
        Ok(())
    }
    fn cancel(&mut self, _id: &ClientOrderId) -> Result<Option<Decimal>, BrokerError> {
        Ok(None)
    }
    fn cancel_all(&mut self) -> Result<Vec<ClientOrderId>, BrokerError> {
        Ok(Vec::new())
    }
    fn lookup(&mut self, id: &ClientOrderId) -> Result<Option<VenueOrder>, BrokerError> {
        Ok(self.orders().get(id.as_str()).cloned())
    }
    fn open_orders(&mut self) -> Result<Vec<VenueOrder>, BrokerError> {
        Ok(Vec::new())
    }
    fn positions(&mut self) -> Result<Vec<VenuePosition>, BrokerError> {
        let mut net: BTreeMap<String, (ballast_core::domain::Symbol, Decimal)> = BTreeMap::new();
        for o in self.orders().values() {
            let signed = match o.order.side {
                Side::Buy => o.filled_qty,
                Side::Sell => -o.filled_qty,
            };
            net.entry(o.order.symbol.as_str().to_owned())
                .or_insert((o.order.symbol, Decimal::ZERO))
                .1 += signed;
        }
        Ok(net
            .into_values()
            .filter(|(_, q)| !q.is_zero())
            .map(|(symbol, qty)| VenuePosition {
                symbol,
                qty,
                side: if qty.is_sign_negative() {
                    PositionSide::Short
                } else {
                    PositionSide::Long
                },
                avg_entry_price: Decimal::ONE_HUNDRED,
            })
            .collect())
    }
    fn account(&mut self) -> Result<VenueAccount, BrokerError> {
        Ok(VenueAccount {
            id: "acct-views".into(),
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
        since: Option<Timestamp>,
        _limit: usize,
    ) -> Result<OrdersPage, BrokerError> {
        let mut orders: Vec<VenueOrder> = self
            .orders()
            .values()
            .filter(|o| since.is_none_or(|s| o.updated_at > s))
            .cloned()
            .collect();
        orders.sort_by_key(|o| o.updated_at);
        Ok(OrdersPage {
            orders,
            more: false,
        })
    }
}

impl ExternalVenue for Filling {
    fn broker(&self) -> &'static str {
        "alpaca"
    }
    fn compat(&mut self) -> Result<String, CompatFailure> {
        Ok("as documented".into())
    }
    fn bars(
        &mut self,
        _symbols: &[ballast_core::domain::Symbol],
        _after: Option<Timestamp>,
        _max: usize,
    ) -> Result<Vec<ballast_core::market::Bar>, String> {
        Err("not used: the bundled bars are replayed".into())
    }
}

fn alpaca_config() -> Config {
    let mut cfg = config::builtin().unwrap();
    cfg.broker.kind = BrokerKind::Alpaca;
    cfg.broker.alpaca.poll_interval_ms = 1;
    cfg.feed.bars_per_second = 0;
    cfg.strategy.fast = 2;
    cfg.strategy.slow = 3;
    cfg
}

async fn get(http: &reqwest::Client, base: &str, path: &str) -> (u16, Value) {
    let r = http.get(format!("{base}{path}")).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// `(type, count)` of the engine journal's records.
fn kinds(dir: &std::path::Path) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    ballast_store::journal::scan(
        &ballast_store::RealStorage,
        &dir.join("journal/engine"),
        &mut |r| {
            *out.entry(r.kind.to_string()).or_insert(0) += 1;
            Ok(())
        },
    )
    .unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_the_venue_filled_are_listed_filled_with_their_venue_fills() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = alpaca_config();
    let venue = Filling::default();
    let opts = Options {
        max_bars: Some(120),
        ..Options::default()
    };
    tokio::task::block_in_place(|| {
        run_on(
            &cfg,
            tmp.path(),
            &opts,
            Some(Box::new(venue.clone())),
            &AtomicBool::new(false),
            &mut |_| {},
        )
    })
    .expect("the engine runs on the scripted venue");
    let k = kinds(tmp.path());
    assert!(
        k.get("venue.fills").is_some_and(|n| *n > 0) && k.contains_key("order.venue"),
        "the venue's fills and words are journaled: {k:?}"
    );

    let follower =
        Arc::new(Follower::start(FollowOptions::new(tmp.path(), Arc::new(cfg))).unwrap());
    let routes = views::routes(Arc::clone(&follower));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, routes.router).await });
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let fills = loop {
        let (s, b) = get(&http, &base, "/v1/fills?limit=500").await;
        if s == 200 && b["items"].as_array().is_some_and(|a| !a.is_empty()) {
            break b["items"].as_array().unwrap().clone();
        }
        assert!(Instant::now() < deadline, "no fills listed: {s} {b}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let (s, orders) = get(&http, &base, "/v1/orders?limit=500").await;
    assert_eq!(s, 200, "{orders}");
    let orders = orders["items"].as_array().unwrap().clone();
    let venue_orders = venue.orders().clone();
    let mut seen_filled = 0;
    for o in &orders {
        let id = o["client_order_id"].as_str().unwrap();
        let Some(v) = venue_orders.get(id) else {
            continue;
        };
        if o["status"] == "open" {
            continue; // its fill not reconciled before the run ended
        }
        assert_eq!(o["status"], "filled", "{o}");
        assert_eq!(
            o["filled"].as_str().unwrap().parse::<Decimal>().unwrap(),
            v.filled_qty,
            "{o}"
        );
        assert!(
            fills.iter().any(|f| f["client_order_id"] == id),
            "its fill is listed: {o}"
        );
        seen_filled += 1;
    }
    assert!(
        seen_filled > 0,
        "some venue-filled order listed: {orders:?}"
    );
    assert!(
        orders.iter().all(|o| o["status"] != "cancelled"),
        "nothing the venue filled is shown cancelled: {orders:?}"
    );
}
