//! The venue the engine trades on, built from the configuration and the credentials: `None`
//! for the embedded paper broker, else the Alpaca adapter (`[broker] kind = "alpaca"`) with
//! the keys from `[broker.alpaca] secrets_file` or `APCA_API_KEY_ID` / `APCA_API_SECRET_KEY`
//! — never shown. Its errors name the key or the variable and what to do.

use std::sync::Arc;

use ballast_alpaca::broker::AlpacaBroker;
use ballast_alpaca::client::AlpacaSettings;
use ballast_alpaca::secrets;
use ballast_core::broker::{
    Broker, BrokerError, FillsPage, OrdersPage, VenueAccount, VenueOrder, VenuePosition,
};
use ballast_core::config::{BrokerKind, Config, Mode};
use ballast_core::domain::{ClientOrderId, Order, Symbol};
use ballast_core::market::Bar;
use ballast_core::time::Timestamp;
use ballast_engine::{CompatFailure, ExternalVenue};
use rust_decimal::Decimal;

/// The venue of `cfg`: `Ok(None)` for the paper broker; `Err` (in words) when the Alpaca
/// adapter cannot be built — no keys, a secrets file that is not private, a bound out of
/// range: a configuration error (78).
pub fn from_config(cfg: &Config) -> Result<Option<Box<dyn ExternalVenue>>, String> {
    if cfg.broker.kind == BrokerKind::Paper {
        return Ok(None);
    }
    let a = &cfg.broker.alpaca;
    let live = cfg.general.mode == Mode::Live;
    let credentials = credentials(cfg)?;
    let mut settings = AlpacaSettings::new(
        a.trading_url(cfg.general.mode),
        &a.data_url,
        credentials,
        live,
    );
    settings.connect_timeout_ms = u64::from(a.connect_timeout_ms);
    settings.request_timeout_ms = u64::from(a.request_timeout_ms);
    settings.call_deadline_ms = u64::from(a.call_deadline_ms);
    settings.rate_limit_per_min = a.rate_limit_per_min;
    settings.max_retries = a.max_retries;
    settings.page_size = a.page_size;
    settings.validate()?;
    let broker = AlpacaBroker::new(settings, Arc::new(ballast_store::SystemClock))?;
    Ok(Some(Box::new(Alpaca(broker))))
}

/// The Alpaca keys of `cfg` (the environment's, else `[broker.alpaca] secrets_file`'s table
/// for the mode), read as the engine reads them — `ballast check` uses this same loader, so it
/// refuses what the run refuses (a missing, shared, damaged or not regular file).
pub fn credentials(cfg: &Config) -> Result<secrets::Credentials, String> {
    let a = &cfg.broker.alpaca;
    let live = cfg.general.mode == Mode::Live;
    Ok(if a.secrets_file.is_empty() {
        secrets::from_env()?.ok_or_else(|| {
            format!(
                "[broker] kind = \"alpaca\" needs keys: set {} and {} in the environment, or [broker.alpaca] secrets_file (mode 0600, a [{}] table with key_id and secret_key)",
                secrets::ENV_KEY_ID,
                secrets::ENV_SECRET_KEY,
                if live { "live" } else { "paper" }
            )
        })?
    } else {
        let mode = if live {
            secrets::Mode::Live
        } else {
            secrets::Mode::Paper
        };
        secrets::from_file(std::path::Path::new(&a.secrets_file), mode)?
    })
}

/// The adapter as the engine's external venue.
struct Alpaca(AlpacaBroker);

impl Broker for Alpaca {
    fn submit(&mut self, order: &Order, attempt: u32) -> Result<(), BrokerError> {
        self.0.submit(order, attempt)
    }
    fn cancel(&mut self, id: &ClientOrderId) -> Result<Option<Decimal>, BrokerError> {
        self.0.cancel(id)
    }
    fn cancel_all(&mut self) -> Result<Vec<ClientOrderId>, BrokerError> {
        self.0.cancel_all()
    }
    fn lookup(&mut self, id: &ClientOrderId) -> Result<Option<VenueOrder>, BrokerError> {
        self.0.lookup(id)
    }
    fn open_orders(&mut self) -> Result<Vec<VenueOrder>, BrokerError> {
        self.0.open_orders()
    }
    fn positions(&mut self) -> Result<Vec<VenuePosition>, BrokerError> {
        self.0.positions()
    }
    fn account(&mut self) -> Result<VenueAccount, BrokerError> {
        self.0.account()
    }
    fn fills_since(&mut self, cursor: u64) -> Result<FillsPage, BrokerError> {
        self.0.fills_since(cursor)
    }
    fn orders_since(
        &mut self,
        since: Option<Timestamp>,
        limit: usize,
    ) -> Result<OrdersPage, BrokerError> {
        self.0.orders_since(since, limit)
    }
}

impl ExternalVenue for Alpaca {
    fn set_epoch(&mut self, epoch: Option<String>) -> Result<(), String> {
        self.0.set_epoch(epoch)
    }
    fn broker(&self) -> &'static str {
        "alpaca"
    }

    fn compat(&mut self) -> Result<String, CompatFailure> {
        use ballast_alpaca::compat::{CompatError, check};
        match check(self.0.client()) {
            Ok(summary) => Ok(summary.to_string()),
            Err(CompatError::Config(d)) => Err(CompatFailure::Config(d)),
            Err(CompatError::Schema(d)) => Err(CompatFailure::Schema(d)),
            Err(CompatError::Unreachable(d)) => Err(CompatFailure::Transient(d)),
        }
    }

    fn bars(
        &mut self,
        symbols: &[Symbol],
        after: Option<Timestamp>,
        max: usize,
    ) -> Result<Vec<Bar>, String> {
        ballast_alpaca::bars::fetch_bars(self.0.client(), symbols, after, Timestamp::EPOCH, max)
            .map(|b| b.bars)
            .map_err(|e| e.to_string())
    }
}
