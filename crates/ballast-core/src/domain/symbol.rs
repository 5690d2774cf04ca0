use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A tradable instrument's ticker: 1–16 characters of `A–Z`, `0–9`, `.`, `/`, `-`
/// (`AAPL`, `BRK.B`, `BTC/USD`). Lower-case input is upper-cased. Cheap to clone (shared).
#[derive(Clone, Debug, PartialOrd, Ord)]
pub struct Symbol(Arc<str>);

impl std::hash::Hash for Symbol {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // Consistent with `eq`: equal text, equal hash.
        self.0.hash(state);
    }
}

impl PartialEq for Symbol {
    fn eq(&self, other: &Self) -> bool {
        // Symbols of one feed share their text: comparing pointers settles most comparisons.
        Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

impl Eq for Symbol {}

impl Serialize for Symbol {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

pub const SYMBOL_MAX_LEN: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid symbol {text:?}: {why}; a symbol is 1-{SYMBOL_MAX_LEN} characters of A-Z, 0-9, '.', '/', '-'"
)]
pub struct SymbolError {
    pub text: String,
    pub why: &'static str,
}

impl Symbol {
    pub fn new(text: &str) -> Result<Self, SymbolError> {
        let err = |why| SymbolError {
            text: text.chars().take(32).collect(),
            why,
        };
        if text.is_empty() {
            return Err(err("it is empty"));
        }
        if text.len() > SYMBOL_MAX_LEN {
            return Err(err("it is too long"));
        }
        let upper = text.to_ascii_uppercase();
        if !upper.bytes().all(|b| {
            b.is_ascii_uppercase() || b.is_ascii_digit() || matches!(b, b'.' | b'/' | b'-')
        }) {
            return Err(err("it has a character outside the allowed set"));
        }
        Ok(Symbol(upper.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Symbol {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Symbol::new(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_tickers_and_rejects_garbage() {
        assert_eq!(Symbol::new("aapl").unwrap().as_str(), "AAPL");
        assert!(Symbol::new("BTC/USD").is_ok());
        assert!(Symbol::new("BRK.B").is_ok());
        assert!(Symbol::new("").is_err());
        assert!(Symbol::new("A B").is_err());
        assert!(Symbol::new("ÄPPL").is_err());
        assert!(Symbol::new(&"X".repeat(17)).is_err());
        let e = serde_json::from_str::<Symbol>("\"a;b\"").unwrap_err();
        assert!(e.to_string().contains("invalid symbol"), "{e}");
    }
}
