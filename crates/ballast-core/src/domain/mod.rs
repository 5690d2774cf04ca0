//! Trading domain types. Money and quantities are [`rust_decimal::Decimal`], never floats.

mod fill;
mod ids;
mod money;
mod order;
mod position;
mod side;
mod symbol;

pub use fill::Fill;
pub use ids::{ClientOrderId, FillId, IdError, SignalId};
pub use money::{AmountError, Notional, Price, Quantity};
pub use order::{Order, OrderKind, TimeInForce};
pub use position::{Position, PositionError};
pub use side::Side;
pub use symbol::{Symbol, SymbolError, SymbolMap};
