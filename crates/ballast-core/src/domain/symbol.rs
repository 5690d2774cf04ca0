use std::fmt;
use std::hash::Hasher;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::limits::SYMBOL_MAX_BYTES;

/// A tradable instrument's ticker: 1–16 characters of `A–Z`, `0–9`, `.`, `/`, `-`
/// (`AAPL`, `BRK.B`, `BTC/USD`). Lower-case input is upper-cased.
///
/// Held inline as 16 ASCII bytes padded with zeros: `Copy`, compared as one 128-bit integer,
/// ordered like its text (zero sorts before every allowed character), hashed as one word — the
/// per-bar path of an engine or a backtest looks symbols up several times per bar.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Symbol([u8; SYMBOL_MAX_BYTES]);

impl std::hash::Hash for Symbol {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // One 128-bit word (consistent with `eq`: equal bytes).
        state.write_u128(u128::from_le_bytes(self.0));
    }
}

/// A map keyed by symbol, with the fast non-keyed hash of [`rustc_hash`]: symbols come from
/// configuration and data files, not from an adversary.
pub type SymbolMap<V> = rustc_hash::FxHashMap<Symbol, V>;

impl fmt::Debug for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Symbol({:?})", self.as_str())
    }
}

impl Serialize for Symbol {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid symbol {text:?}: {why}; a symbol is 1-{SYMBOL_MAX_BYTES} characters of A-Z, 0-9, '.', '/', '-'"
)]
pub struct SymbolError {
    pub text: String,
    pub why: &'static str,
}

impl Symbol {
    pub fn new(text: &str) -> Result<Self, SymbolError> {
        Self::from_bytes(text.as_bytes()).map_err(|why| SymbolError {
            text: text.chars().take(32).collect(),
            why,
        })
    }

    /// [`Symbol::new`] on raw bytes, with only the reason on failure (the CSV hot path).
    pub fn from_bytes(text: &[u8]) -> Result<Self, &'static str> {
        if text.is_empty() {
            return Err("it is empty");
        }
        if text.len() > SYMBOL_MAX_BYTES {
            return Err("it is too long");
        }
        let mut out = [0u8; SYMBOL_MAX_BYTES];
        for (o, b) in out.iter_mut().zip(text) {
            let b = b.to_ascii_uppercase();
            if !(b.is_ascii_uppercase() || b.is_ascii_digit() || matches!(b, b'.' | b'/' | b'-')) {
                return Err("it has a character outside the allowed set");
            }
            *o = b;
        }
        Ok(Symbol(out))
    }

    pub fn as_str(&self) -> &str {
        let len = SYMBOL_MAX_BYTES - (u128::from_le_bytes(self.0).leading_zeros() / 8) as usize;
        // Only ASCII is ever stored, so this never falls back.
        std::str::from_utf8(&self.0[..len]).unwrap_or("?")
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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
        assert_eq!(
            Symbol::new(&"X".repeat(16)).unwrap().as_str(),
            "X".repeat(16)
        );
    }

    #[test]
    fn orders_like_its_text_and_hashes_equal_symbols_equally() {
        let mut texts = ["AB", "A", "B", "A.B", "AA", "Z9", "A-", "BTC/USD", "BRK.B"];
        let mut syms: Vec<Symbol> = texts.iter().map(|t| Symbol::new(t).unwrap()).collect();
        texts.sort_unstable();
        syms.sort();
        let back: Vec<&str> = syms.iter().map(Symbol::as_str).collect();
        assert_eq!(back, texts);
        let mut m = SymbolMap::default();
        m.insert(Symbol::new("aapl").unwrap(), 1);
        assert_eq!(m.get(&Symbol::new("AAPL").unwrap()), Some(&1));
        assert_eq!(m.get(&Symbol::new("AAPM").unwrap()), None);
        let e = serde_json::from_str::<Symbol>("\"a;b\"").unwrap_err();
        assert!(e.to_string().contains("invalid symbol"), "{e}");
    }
}
