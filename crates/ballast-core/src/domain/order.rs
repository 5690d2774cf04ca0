use serde::{Deserialize, Serialize};

use super::{ClientOrderId, Price, Quantity, Side, Symbol};
use crate::time::Timestamp;

/// How an order is priced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OrderKind {
    Market,
    Limit { limit_price: Price },
}

/// How long an order rests at the venue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TimeInForce {
    #[default]
    Day,
    Gtc,
    Ioc,
}

/// An order as Ballast intends to send it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub client_order_id: ClientOrderId,
    pub symbol: Symbol,
    pub side: Side,
    pub qty: Quantity,
    pub kind: OrderKind,
    #[serde(default)]
    pub tif: TimeInForce,
    pub created_at: Timestamp,
}

impl Order {
    /// The limit price, if any.
    pub fn limit_price(&self) -> Option<Price> {
        match self.kind {
            OrderKind::Market => None,
            OrderKind::Limit { limit_price } => Some(limit_price),
        }
    }
}
