//! The Alpaca Trading API v2's bodies as strict types (ALPACA.md; required fields as the
//! official SDK's models require them): a required field missing, `null` or of the wrong
//! form is a contract break naming the call, the field and the value ([`crate::wire::decode`]);
//! fields this build does not read are ignored (a new field is not drift); an enum value
//! outside the contract is kept as `Unknown(text)` — an unknown order status is in flight.
//!
//! [`Order::to_venue`] and [`Position::to_venue`] turn the venue's view into the engine's
//! ([`ballast_core::broker`]), with the few cases the engine's types cannot hold named.

use std::collections::BTreeMap;

use ballast_core::broker::{PositionSide, VenueOrder, VenuePosition, VenueStatus};
use ballast_core::domain::{
    ClientOrderId, Order as OurOrder, OrderKind, Price, Quantity, Side as OurSide, Symbol,
    TimeInForce,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::wire::{Dec, NumDec, Stamp, Time, clip, wire_enum};

wire_enum!(
    /// `side` of an order.
    Side { Buy = "buy", Sell = "sell" }
);
wire_enum!(
    /// `type` of an order.
    OrderType { Market = "market", Limit = "limit", Stop = "stop", StopLimit = "stop_limit", TrailingStop = "trailing_stop" }
);
wire_enum!(
    /// `time_in_force` of an order.
    Tif { Day = "day", Gtc = "gtc", Opg = "opg", Cls = "cls", Ioc = "ioc", Fok = "fok" }
);
wire_enum!(
    /// `order_class` of an order (`""` is what Alpaca writes for a simple one at times).
    OrderClass { Simple = "simple", Bracket = "bracket", Oco = "oco", Oto = "oto", Empty = "" }
);
wire_enum!(
    /// `side` of a position.
    PosSide { Long = "long", Short = "short" }
);
wire_enum!(
    /// `status` of an account.
    AccountStatus {
        Inactive = "INACTIVE", PaperOnly = "PAPER_ONLY", Onboarding = "ONBOARDING",
        SubmissionFailed = "SUBMISSION_FAILED", Submitted = "SUBMITTED",
        AccountUpdated = "ACCOUNT_UPDATED", ApprovalPending = "APPROVAL_PENDING",
        Active = "ACTIVE", Rejected = "REJECTED", AccountClosed = "ACCOUNT_CLOSED",
        Approved = "APPROVED", AccountClosedPending = "ACCOUNT_CLOSED_PENDING",
        ActionRequired = "ACTION_REQUIRED", Limited = "LIMITED",
    }
);

/// An order's status, into the core's [`VenueStatus`] (an unknown one is kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status(pub VenueStatus);

impl<'de> Deserialize<'de> for Status {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ok(Status(VenueStatus::parse(&text)))
    }
}

/// An order (`GET /v2/orders`, `POST /v2/orders`, the lookups).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Order {
    pub id: String,
    pub client_order_id: String,
    pub created_at: Time,
    pub updated_at: Time,
    pub submitted_at: Stamp,
    #[serde(default)]
    pub filled_at: Option<Time>,
    pub order_class: OrderClass,
    pub time_in_force: Tif,
    pub status: Status,
    pub extended_hours: bool,
    pub symbol: String,
    pub side: Side,
    #[serde(rename = "type")]
    pub order_type: OrderType,
    /// `null` for an order by notional.
    #[serde(default)]
    pub qty: Option<Dec>,
    #[serde(default)]
    pub notional: Option<Dec>,
    pub filled_qty: Dec,
    #[serde(default)]
    pub filled_avg_price: Option<Dec>,
    #[serde(default)]
    pub limit_price: Option<Dec>,
    #[serde(default)]
    pub stop_price: Option<Dec>,
}

impl Order {
    /// The order as the engine sees it. `call` names the request, for the error.
    ///
    /// What the engine's types cannot hold: an order type other than market and limit is
    /// shown as a market order (stop, trailing stop) or a limit order (stop limit, at its
    /// limit price); `opg`/`cls` as `day`, `fok` as `ioc`. A `client_order_id` Ballast could
    /// not have written (too long, other characters) is shown as `venue-<id>`: such an order
    /// is not Ballast's anyway. An order by notional (no quantity) is refused by name.
    pub fn to_venue(&self, call: &str) -> Result<VenueOrder, String> {
        let bad = |field: &str, value: &str, why: &str| {
            format!(
                "{call}: order {}: field `{field}` = {:?}: {why}",
                clip(&self.id),
                clip(value)
            )
        };
        let symbol =
            Symbol::new(&self.symbol).map_err(|e| bad("symbol", &self.symbol, &e.to_string()))?;
        let side = match &self.side {
            Side::Buy => OurSide::Buy,
            Side::Sell => OurSide::Sell,
            Side::Unknown(t) => return Err(bad("side", t, "not buy or sell")),
        };
        let qty = self.qty.ok_or_else(|| {
            bad(
                "qty",
                "null",
                "an order by notional (Ballast trades by quantity)",
            )
        })?;
        let qty =
            Quantity::new(qty.0).map_err(|e| bad("qty", &qty.0.to_string(), &e.to_string()))?;
        let filled = self.filled_qty.0;
        if filled < Decimal::ZERO || filled > qty.value() {
            return Err(bad(
                "filled_qty",
                &filled.to_string(),
                &format!("outside 0..{qty}"),
            ));
        }
        let kind = match (&self.order_type, self.limit_price) {
            (OrderType::Limit | OrderType::StopLimit, Some(p)) => OrderKind::Limit {
                limit_price: Price::new(p.0)
                    .map_err(|e| bad("limit_price", &p.0.to_string(), &e.to_string()))?,
            },
            (OrderType::Limit | OrderType::StopLimit, None) => {
                return Err(bad(
                    "limit_price",
                    "null",
                    "a limit order without a limit price",
                ));
            }
            _ => OrderKind::Market,
        };
        let tif = match self.time_in_force {
            Tif::Gtc => TimeInForce::Gtc,
            Tif::Ioc | Tif::Fok => TimeInForce::Ioc,
            _ => TimeInForce::Day,
        };
        let client_order_id = ClientOrderId::parse(&self.client_order_id)
            .or_else(|_| ClientOrderId::parse(&format!("venue-{}", self.id)))
            .map_err(|e| bad("id", &self.id, &e.to_string()))?;
        Ok(VenueOrder {
            order: OurOrder {
                client_order_id,
                symbol,
                side,
                qty,
                kind,
                tif,
                created_at: self.created_at.0,
            },
            remaining: qty.value() - filled,
            venue_id: self.id.clone(),
            status: self.status.0.clone(),
            filled_qty: filled,
            filled_avg_price: self.filled_avg_price.map(|d| d.0),
            updated_at: self.updated_at.0,
        })
    }
}

/// A position (`GET /v2/positions`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Position {
    pub asset_id: String,
    pub symbol: String,
    pub exchange: String,
    pub asset_class: String,
    pub avg_entry_price: Dec,
    pub qty: Dec,
    #[serde(default)]
    pub qty_available: Option<Dec>,
    pub side: PosSide,
    pub market_value: Dec,
    pub cost_basis: Dec,
    pub unrealized_pl: Dec,
    pub unrealized_plpc: Dec,
    pub unrealized_intraday_pl: Dec,
    pub unrealized_intraday_plpc: Dec,
    pub current_price: Dec,
    pub lastday_price: Dec,
    pub change_today: Dec,
    pub asset_marginable: bool,
}

impl Position {
    /// The position as reported (reconciliation judges an invalid one: nothing is cleaned
    /// here). Alpaca writes a short position's `qty` negative; a positive `qty` on a short is
    /// made negative (the side is the venue's word on the direction).
    pub fn to_venue(&self, call: &str) -> Result<VenuePosition, String> {
        let bad = |field: &str, value: &str, why: &str| {
            format!(
                "{call}: position {}: field `{field}` = {:?}: {why}",
                clip(&self.symbol),
                clip(value)
            )
        };
        let symbol =
            Symbol::new(&self.symbol).map_err(|e| bad("symbol", &self.symbol, &e.to_string()))?;
        let (side, qty) = match &self.side {
            PosSide::Long => (PositionSide::Long, self.qty.0),
            PosSide::Short => (PositionSide::Short, -self.qty.0.abs()),
            PosSide::Unknown(t) => return Err(bad("side", t, "not long or short")),
        };
        Ok(VenuePosition {
            symbol,
            qty,
            side,
            avg_entry_price: self.avg_entry_price.0,
        })
    }
}

/// The account (`GET /v2/account`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Account {
    pub id: String,
    pub account_number: String,
    pub status: AccountStatus,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub cash: Option<Dec>,
    #[serde(default)]
    pub buying_power: Option<Dec>,
    #[serde(default)]
    pub equity: Option<Dec>,
    #[serde(default)]
    pub trading_blocked: Option<bool>,
    #[serde(default)]
    pub account_blocked: Option<bool>,
    #[serde(default)]
    pub trade_suspended_by_user: Option<bool>,
}

/// The market clock (`GET /v2/clock`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Clock {
    pub timestamp: Time,
    pub is_open: bool,
    pub next_open: Time,
    pub next_close: Time,
}

/// An error body: `{"code": 40010001, "message": "…"}`; `code` may be absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub code: Option<i64>,
    #[serde(default)]
    pub message: String,
}

impl ErrorBody {
    /// The body of a failed call, leniently: a body that is not the contract's JSON keeps its
    /// first characters as the message (the status decides the class, not the body).
    pub fn read(body: &[u8]) -> ErrorBody {
        serde_json::from_slice(body).unwrap_or_else(|_| ErrorBody {
            code: None,
            message: clip(String::from_utf8_lossy(body).trim()),
        })
    }
}

/// One entry of `DELETE /v2/orders`'s 207: the order and the status of its cancel.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CancelEntry {
    pub id: String,
    pub status: u16,
}

/// `POST /v2/orders`'s body (a simple order by quantity).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderRequest {
    pub symbol: String,
    pub qty: Dec,
    pub side: Side,
    #[serde(rename = "type")]
    pub order_type: OrderType,
    pub time_in_force: Tif,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit_price: Option<Dec>,
    pub client_order_id: String,
}

impl OrderRequest {
    pub fn of(order: &OurOrder) -> OrderRequest {
        let (order_type, limit_price) = match order.kind {
            OrderKind::Market => (OrderType::Market, None),
            OrderKind::Limit { limit_price } => (OrderType::Limit, Some(Dec(limit_price.value()))),
        };
        OrderRequest {
            symbol: order.symbol.to_string(),
            qty: Dec(order.qty.value()),
            side: match order.side {
                OurSide::Buy => Side::Buy,
                OurSide::Sell => Side::Sell,
            },
            order_type,
            time_in_force: match order.tif {
                TimeInForce::Day => Tif::Day,
                TimeInForce::Gtc => Tif::Gtc,
                TimeInForce::Ioc => Tif::Ioc,
            },
            limit_price,
            client_order_id: order.client_order_id.to_string(),
        }
    }
}

/// One bar of the market data API (prices are JSON numbers there).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct WireBar {
    pub t: Time,
    pub o: NumDec,
    pub h: NumDec,
    pub l: NumDec,
    pub c: NumDec,
    pub v: NumDec,
}

/// A page of `GET /v2/stocks/bars`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BarsPage {
    /// Bars by symbol (`null` when there are none).
    #[serde(default)]
    pub bars: Option<BTreeMap<String, Vec<WireBar>>>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

#[cfg(test)]
mod tests;
