//! A fake Alpaca (ALPACA.md) on loopback: every Trading API v2 endpoint with its exact status
//! codes and bodies, Market Data v2's bars endpoint, an in-memory matching model fed by the
//! bundled replay data, scriptable faults, and per-`client_order_id` counts so a test can
//! prove there was never a duplicate order. A faithful stand-in: a client written against
//! Alpaca's documentation works against it unchanged (the module docs say where it
//! simplifies: no bracket/oco/oto orders, cancels are immediate, the market never closes).
//!
//! Code map: `lib.rs` the handle ([`FakeAlpaca`]) and its runtime thread; `server.rs` the
//! router and the gate (auth, rate limit, faults, log); `routes.rs` / `bars.rs` /
//! `control.rs` the handlers; `book.rs` + `matching.rs` the venue state and matching;
//! `orders.rs` submit validation; `wire.rs` the JSON objects; `faults.rs` the fault queue;
//! `ratelimit.rs`, `clock.rs`, `ids.rs`, `market.rs`, `conn.rs` (droppable connections).

#![forbid(unsafe_code)]

mod activities;
mod bars;
mod book;
mod clock;
mod conn;
mod control;
mod faults;
mod ids;
mod market;
mod matching;
mod ops;
mod orders;
mod ratelimit;
mod routes;
mod server;
mod wire;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rust_decimal::Decimal;

pub use faults::{Fault, FaultError, MAX_QUEUED_FAULTS, Route};
pub use market::DEFAULT_SYMBOLS;
pub use server::{MAX_BODY_BYTES, MAX_LOGGED_REQUESTS};

/// The fake's demo key id (a paper key: Alpaca's paper keys start with `PK`).
pub const DEMO_KEY_ID: &str = "PKTEST0000000000000";
/// The fake's demo key id for a live account (Alpaca's live keys start with `AK`).
pub const DEMO_LIVE_KEY_ID: &str = "AKTEST0000000000000";
/// The fake's demo secret: not a secret, it opens only this fake.
pub const DEMO_SECRET_KEY: &str = "fake-secret-for-the-fake-alpaca-only";

/// How the fake starts. Its `Debug` shows neither key (a key given to the fake may be real).
#[derive(Clone)]
pub struct FakeConfig {
    /// The only credentials it accepts (else 401).
    pub key_id: String,
    pub secret_key: String,
    /// false: a paper account (account_number "PA…"); true: a live one.
    pub live: bool,
    /// Traded symbols (bars from the bundled replay data); empty = AAPL, MSFT.
    pub symbols: Vec<String>,
    /// Starting cash.
    pub cash: Decimal,
    /// Requests per minute per key, like Alpaca's 200; 429 with headers beyond.
    pub rate_limit_per_min: u32,
    /// Advance the market one bar every N ms (a demo); `None`: only [`FakeAlpaca::tick`].
    pub auto_tick_ms: Option<u64>,
    /// Seeds the order, asset and account ids.
    pub seed: u64,
}

impl Default for FakeConfig {
    fn default() -> Self {
        FakeConfig {
            key_id: DEMO_KEY_ID.to_owned(),
            secret_key: DEMO_SECRET_KEY.to_owned(),
            live: false,
            symbols: Vec::new(),
            cash: Decimal::from(100_000),
            rate_limit_per_min: 200,
            auto_tick_ms: None,
            seed: 14,
        }
    }
}

impl std::fmt::Debug for FakeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeConfig")
            .field("key_id", &"<not shown>")
            .field("secret_key", &"<not shown>")
            .field("live", &self.live)
            .field("symbols", &self.symbols)
            .field("cash", &self.cash)
            .field("rate_limit_per_min", &self.rate_limit_per_min)
            .field("auto_tick_ms", &self.auto_tick_ms)
            .field("seed", &self.seed)
            .finish()
    }
}

impl FakeConfig {
    /// A live account with the live demo key ([`DEMO_LIVE_KEY_ID`]), otherwise the defaults.
    pub fn live_demo() -> Self {
        FakeConfig {
            key_id: DEMO_LIVE_KEY_ID.to_owned(),
            live: true,
            ..FakeConfig::default()
        }
    }
}

/// One request the fake saw (the `/_fake/*` routes are not logged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// Milliseconds since the fake started.
    pub at_ms: u64,
    pub method: String,
    /// Without the query.
    pub path: String,
    /// The status answered; 0 when the connection was dropped with no answer.
    pub status: u16,
}

/// A running fake (its own tokio runtime); stops when dropped.
pub struct FakeAlpaca {
    shared: Arc<server::Shared>,
    addr: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
}

impl FakeAlpaca {
    /// Start on 127.0.0.1, a free port.
    pub fn start(cfg: FakeConfig) -> std::io::Result<FakeAlpaca> {
        Self::start_on(cfg, SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Start on `addr`.
    pub fn start_on(cfg: FakeConfig, addr: SocketAddr) -> std::io::Result<FakeAlpaca> {
        let bad = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, e);
        let market = market::Market::load(&cfg.symbols).map_err(|e| bad(e.to_string()))?;
        let mut book = book::Book::new(market, cfg.cash, cfg.seed);
        let account = wire::AccountId {
            id: book.uuid(),
            number: account_number(cfg.live, cfg.seed),
            created_at: clock::wall_us(),
        };
        let shared = Arc::new(server::Shared::new(&cfg, book, account));
        let std_listener = std::net::TcpListener::bind(addr)?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("fake-alpaca")
            .enable_all()
            .build()?;
        let listener = {
            let _guard = runtime.enter();
            tokio::net::TcpListener::from_std(std_listener)?
        };
        let app =
            server::router(shared.clone()).into_make_service_with_connect_info::<conn::Conn>();
        runtime.spawn(async move {
            let _ = axum::serve(conn::FakeListener { inner: listener }, app).await;
        });
        if let Some(ms) = cfg.auto_tick_ms.filter(|ms| *ms > 0) {
            let s = shared.clone();
            runtime.spawn(async move {
                let mut every = tokio::time::interval(Duration::from_millis(ms));
                // A stalled runtime does not make the market jump several bars at once.
                every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                every.tick().await;
                loop {
                    every.tick().await;
                    s.tick();
                }
            });
        }
        Ok(FakeAlpaca {
            shared,
            addr,
            runtime: Some(runtime),
        })
    }

    /// `http://127.0.0.1:PORT`: the trading and the data endpoints.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Queue a scripted fault. A fault refused (the queue is full, a partial fill fraction
    /// outside (0, 1]) panics: it is a bug in the test. [`FakeAlpaca::try_fault`] returns it.
    pub fn fault(&self, f: Fault) {
        if let Err(e) = self.try_fault(f) {
            panic!("fake Alpaca: {e}");
        }
    }

    pub fn try_fault(&self, f: Fault) -> Result<(), FaultError> {
        self.shared.fault(f)
    }

    /// The market moves one bar: open orders match against it.
    pub fn tick(&self) {
        self.shared.tick();
    }

    /// Drop every queued fault and go back to whole fills (as `DELETE /_fake/fault`); how
    /// many faults were queued.
    pub fn clear_faults(&self) -> usize {
        self.shared.clear_faults()
    }

    /// Faults still queued (a test can check that its fault was used).
    pub fn pending_faults(&self) -> Vec<Fault> {
        self.shared.lock().faults.pending().to_vec()
    }

    /// The traded symbols.
    pub fn symbols(&self) -> Vec<String> {
        let inner = self.shared.lock();
        inner
            .book
            .market
            .series()
            .iter()
            .map(|s| s.symbol.clone())
            .collect()
    }

    /// Ticks so far.
    pub fn ticks(&self) -> u64 {
        self.shared.lock().book.market.ticks()
    }

    /// `POST /v2/orders` requests carrying that id (whatever the answer).
    pub fn submits_of(&self, client_order_id: &str) -> u32 {
        self.shared.lock().book.submits_of(client_order_id)
    }

    /// Orders created with that id (never more than 1).
    pub fn orders_created_of(&self, client_order_id: &str) -> u32 {
        self.shared.lock().book.orders_created_of(client_order_id)
    }

    /// Every request so far (the latest [`MAX_LOGGED_REQUESTS`]).
    pub fn requests(&self) -> Vec<Seen> {
        self.shared.lock().requests()
    }

    /// The requests logged after the first `seen` ever logged, and how many were ever logged
    /// (pass it back next time: a tail of the log).
    pub fn requests_after(&self, seen: u64) -> (Vec<Seen>, u64) {
        self.shared.lock().requests_after(seen)
    }

    /// Freeze (`true`) or thaw the fake's event clock: while frozen every order event (submit,
    /// fill, cancel) gets the time of the last one, so several orders share `submitted_at`
    /// and `updated_at` — what a burst of orders at Alpaca can produce, and what pagination on
    /// timestamps must survive.
    pub fn freeze_clock(&self, on: bool) {
        self.shared.lock().clock.freeze(on);
    }

    /// Change a position behind the client's back (qty signed; 0 removes it).
    pub fn set_position(&self, symbol: &str, qty: Decimal, avg_entry_price: Decimal) {
        self.shared.set_position(symbol, qty, avg_entry_price);
    }

    /// An open order the client does not own (a resting limit far from the market); its id.
    /// Panics on a symbol the fake does not trade or a side other than buy/sell (a test bug).
    pub fn add_foreign_order(&self, symbol: &str, side: &str, qty: Decimal) -> String {
        match self.shared.add_foreign_order(symbol, side, qty) {
            Ok(id) => id,
            Err(e) => panic!("fake Alpaca: {e}"),
        }
    }

    /// The fake's view of an order, as `GET /v2/orders:by_client_order_id` would answer it.
    pub fn order_by_client_id(&self, client_order_id: &str) -> Option<serde_json::Value> {
        let inner = self.shared.lock();
        inner.book.by_client_id(client_order_id).map(wire::order)
    }
}

impl Drop for FakeAlpaca {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// "PA" + 8 digits for paper (Alpaca's paper account numbers start with PA), 9 digits live.
fn account_number(live: bool, seed: u64) -> String {
    let digits = format!("{:09}", seed.wrapping_mul(2_654_435_761) % 1_000_000_000);
    if live {
        digits
    } else {
        format!("PA{}", &digits[1..])
    }
}
