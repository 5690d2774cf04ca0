//! Exact amounts. Each newtype states its invariant at construction; arithmetic between them
//! yields the type a trader expects (`Price × Quantity = Notional`).

use std::fmt;
use std::ops::Mul;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize};

use crate::limits::MAX_DECIMAL_PLACES;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("{what} must be greater than zero, got {value}")]
    NotPositive { what: &'static str, value: Decimal },
    #[error("{what} must not be negative, got {value}")]
    Negative { what: &'static str, value: Decimal },
    #[error("{what} {value} has {scale} decimal places; at most {MAX_DECIMAL_PLACES} are allowed")]
    TooPrecise {
        what: &'static str,
        value: Decimal,
        scale: u32,
    },
}

fn check_scale(what: &'static str, value: Decimal) -> Result<Decimal, AmountError> {
    let value = value.normalize();
    if value.scale() > MAX_DECIMAL_PLACES {
        return Err(AmountError::TooPrecise {
            what,
            value,
            scale: value.scale(),
        });
    }
    Ok(value)
}

macro_rules! positive_amount {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(Decimal);

        impl $name {
            pub fn new(value: Decimal) -> Result<Self, AmountError> {
                if value <= Decimal::ZERO {
                    return Err(AmountError::NotPositive { what: $what, value });
                }
                check_scale($what, value).map($name)
            }

            pub fn value(self) -> Decimal {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $name::new(<Decimal as Deserialize>::deserialize(d)?).map_err(serde::de::Error::custom)
            }
        }
    };
}

positive_amount!(
    /// An order or fill quantity: strictly positive. Direction is carried by [`super::Side`].
    Quantity,
    "quantity"
);
positive_amount!(
    /// A price: strictly positive.
    Price,
    "price"
);

/// An absolute money amount in the account currency (USD): never negative.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Default)]
#[serde(transparent)]
pub struct Notional(Decimal);

impl Notional {
    pub const ZERO: Notional = Notional(Decimal::ZERO);

    pub fn new(value: Decimal) -> Result<Self, AmountError> {
        if value < Decimal::ZERO {
            return Err(AmountError::Negative {
                what: "notional",
                value,
            });
        }
        Ok(Notional(value))
    }

    pub fn value(self) -> Decimal {
        self.0
    }
}

impl fmt::Display for Notional {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl<'de> Deserialize<'de> for Notional {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Notional::new(<Decimal as Deserialize>::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl Mul<Quantity> for Price {
    type Output = Notional;
    fn mul(self, qty: Quantity) -> Notional {
        // Both factors are positive, so the product is a valid notional.
        Notional(self.0 * qty.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::prelude::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn amounts_hold_their_invariants() {
        assert!(Quantity::new(d("0")).is_err());
        assert!(Quantity::new(d("-1")).is_err());
        assert!(Price::new(d("0.00000000001")).is_err(), "11 decimals");
        assert_eq!(
            Price::new(d("101.2500")).unwrap().value().to_string(),
            "101.25"
        );
        assert!(Notional::new(d("-0.01")).is_err());
        let n = Price::new(d("101.25")).unwrap() * Quantity::new(d("3")).unwrap();
        assert_eq!(n.value(), d("303.75"));
    }

    #[test]
    fn serde_uses_exact_strings() {
        let p: Price = serde_json::from_str("\"0.1\"").unwrap();
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"0.1\"");
        assert!(serde_json::from_str::<Quantity>("\"-5\"").is_err());
    }
}
