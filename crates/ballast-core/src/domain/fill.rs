use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{ClientOrderId, FillId, Notional, Price, Quantity, Side, Symbol};
use crate::time::Timestamp;

/// One execution reported by a broker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fill {
    pub fill_id: FillId,
    pub client_order_id: ClientOrderId,
    pub symbol: Symbol,
    pub side: Side,
    pub qty: Quantity,
    pub price: Price,
    /// Fee charged for this fill, in the account currency.
    pub fee: Notional,
    pub ts: Timestamp,
}

impl Fill {
    /// The signed change this fill makes to a position (`+qty` buy, `-qty` sell).
    pub fn signed_qty(&self) -> Decimal {
        self.side.sign() * self.qty.value()
    }

    /// Cash the fill moves (negative for a buy), fees included.
    pub fn cash_delta(&self) -> Decimal {
        -self.signed_qty() * self.price.value() - self.fee.value()
    }
}
