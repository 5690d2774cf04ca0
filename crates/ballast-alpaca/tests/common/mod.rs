//! The adapter against the fake Alpaca over real HTTP on loopback.
#![allow(dead_code)]

use std::sync::Arc;

use ballast_alpaca::broker::AlpacaBroker;
use ballast_alpaca::client::AlpacaSettings;
use ballast_alpaca::secrets::Credentials;
use ballast_core::Timestamp;
use ballast_core::domain::{
    ClientOrderId, Order, OrderKind, Price, Quantity, Side, Symbol, TimeInForce,
};
use ballast_fake_alpaca::{FakeAlpaca, FakeConfig};
use rust_decimal::Decimal;

pub fn fake() -> FakeAlpaca {
    FakeAlpaca::start(FakeConfig::default()).expect("the fake starts")
}

pub fn fake_with(cfg: FakeConfig) -> FakeAlpaca {
    FakeAlpaca::start(cfg).expect("the fake starts")
}

/// Settings for the fake with its own keys (paper), quick timeouts.
pub fn settings(fake: &FakeAlpaca) -> AlpacaSettings {
    let cfg = FakeConfig::default();
    let creds = Credentials::new(&cfg.key_id, &cfg.secret_key).unwrap();
    let mut s = AlpacaSettings::new(&fake.url(), &fake.url(), creds, false);
    s.request_timeout_ms = 2_000;
    s.connect_timeout_ms = 1_000;
    s
}

pub fn broker_with(s: AlpacaSettings) -> AlpacaBroker {
    AlpacaBroker::new(s, Arc::new(ballast_store::SystemClock)).expect("a broker")
}

pub fn broker(fake: &FakeAlpaca) -> AlpacaBroker {
    broker_with(settings(fake))
}

pub fn id(text: &str) -> ClientOrderId {
    ClientOrderId::parse(text).unwrap()
}

pub fn market(client_order_id: &str, qty: i64) -> Order {
    Order {
        client_order_id: id(client_order_id),
        symbol: Symbol::new("AAPL").unwrap(),
        side: Side::Buy,
        qty: Quantity::new(Decimal::from(qty)).unwrap(),
        kind: OrderKind::Market,
        tif: TimeInForce::Day,
        created_at: Timestamp::EPOCH,
    }
}

/// A buy limit far below the market: it rests open.
pub fn resting(client_order_id: &str, qty: i64) -> Order {
    Order {
        kind: OrderKind::Limit {
            limit_price: Price::new(Decimal::ONE).unwrap(),
        },
        ..market(client_order_id, qty)
    }
}

/// The statuses the fake answered, in order, for requests to `path`.
pub fn statuses(fake: &FakeAlpaca, path: &str) -> Vec<u16> {
    fake.requests()
        .iter()
        .filter(|s| s.path == path)
        .map(|s| s.status)
        .collect()
}
