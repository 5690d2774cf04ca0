//! External signals: lines of JSON that other programs append to `inbox/signals.jsonl`.
//!
//! ```json
//! {"symbol":"AAPL","side":"buy","qty":"10","reason":"breakout","strategy":"my_bot","idempotency_key":"my-42"}
//! {"symbol":"MSFT","target_qty":"-5","reason":"hedge"}
//! ```
//!
//! Either `side` + `qty` (an order) or `target_qty` (a signed target position). Optional:
//! `reason`, `strategy`, `limit_price`, `idempotency_key`. Parsing is pure; a bad line gets an
//! error that says what is wrong, and never blocks the lines after it.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::{Price, Quantity, Side, Symbol};
use crate::limits::INBOX_MAX_TEXT_CHARS;

pub use crate::limits::INBOX_MAX_LINE_BYTES as MAX_LINE_BYTES;

/// What an external signal asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Ask {
    /// Trade `qty` on `side`.
    Order { side: Side, qty: Decimal },
    /// Move the position to this signed quantity.
    Target { qty: Decimal },
}

/// A validated external signal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalSignal {
    pub symbol: Symbol,
    pub ask: Ask,
    pub reason: String,
    pub strategy: String,
    pub limit_price: Option<Decimal>,
    pub idempotency_key: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    symbol: String,
    side: Option<Side>,
    qty: Option<Decimal>,
    target_qty: Option<Decimal>,
    reason: Option<String>,
    strategy: Option<String>,
    limit_price: Option<Decimal>,
    idempotency_key: Option<String>,
}

fn text(field: &str, v: Option<String>, default: &str) -> Result<String, String> {
    let v = v.unwrap_or_else(|| default.to_owned());
    if v.chars().count() > INBOX_MAX_TEXT_CHARS {
        return Err(format!(
            "{field} is longer than {INBOX_MAX_TEXT_CHARS} characters"
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(format!("{field} contains control characters"));
    }
    Ok(v)
}

/// Parse one line. `symbols` is the tradable universe (a signal for another symbol is refused).
pub fn parse_line(line: &str, symbols: &[Symbol]) -> Result<ExternalSignal, String> {
    if line.len() > MAX_LINE_BYTES {
        return Err(format!(
            "line is {} bytes; at most {MAX_LINE_BYTES} are accepted",
            line.len()
        ));
    }
    let w: Wire = serde_json::from_str(line).map_err(|e| format!("not a signal: {e}"))?;
    let symbol = Symbol::new(&w.symbol).map_err(|e| e.to_string())?;
    if !symbols.contains(&symbol) {
        return Err(format!(
            "symbol {symbol} is not in the universe ({})",
            symbols
                .iter()
                .map(Symbol::as_str)
                .collect::<Vec<_>>()
                .join(",")
        ));
    }
    let ask = match (w.side, w.qty, w.target_qty) {
        (Some(side), Some(qty), None) => Ask::Order {
            side,
            qty: Quantity::new(qty).map_err(|e| e.to_string())?.value(),
        },
        (None, None, Some(t)) => {
            if t.normalize().scale() > crate::limits::MAX_DECIMAL_PLACES {
                return Err(format!("target_qty {t} has too many decimal places"));
            }
            Ask::Target { qty: t.normalize() }
        }
        _ => return Err("give either side and qty, or target_qty".into()),
    };
    let limit_price = match w.limit_price {
        Some(p) => Some(Price::new(p).map_err(|e| e.to_string())?.value()),
        None => None,
    };
    let idempotency_key = match w.idempotency_key {
        Some(k) if k.is_empty() || k.len() > 64 || !k.bytes().all(|b| b.is_ascii_graphic()) => {
            return Err("idempotency_key must be 1-64 printable ASCII characters".into());
        }
        k => k,
    };
    Ok(ExternalSignal {
        symbol,
        ask,
        reason: text("reason", w.reason, "external")?,
        strategy: text("strategy", w.strategy, "inbox")?,
        limit_price,
        idempotency_key,
    })
}

impl std::fmt::Display for Ask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ask::Order { side, qty } => write!(f, "{side} {qty}"),
            Ask::Target { qty } => write!(f, "target position {qty}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn universe() -> Vec<Symbol> {
        vec![Symbol::new("AAPL").unwrap(), Symbol::new("MSFT").unwrap()]
    }

    #[test]
    fn good_lines_parse() {
        let s = parse_line(
            r#"{"symbol":"aapl","side":"buy","qty":"10","idempotency_key":"k1"}"#,
            &universe(),
        )
        .unwrap();
        assert_eq!(
            s.ask,
            Ask::Order {
                side: Side::Buy,
                qty: Decimal::TEN
            }
        );
        assert_eq!(s.strategy, "inbox");
        let t = parse_line(
            r#"{"symbol":"MSFT","target_qty":"-5","reason":"hedge"}"#,
            &universe(),
        )
        .unwrap();
        assert_eq!(
            t.ask,
            Ask::Target {
                qty: Decimal::from(-5)
            }
        );
    }

    #[test]
    fn bad_lines_say_why() {
        let u = universe();
        let cases = [
            ("{", "not a signal"),
            (
                r#"{"symbol":"IBM","side":"buy","qty":"1"}"#,
                "not in the universe",
            ),
            (
                r#"{"symbol":"AAPL","side":"buy","qty":"0"}"#,
                "greater than zero",
            ),
            (
                r#"{"symbol":"AAPL","side":"buy","qty":"-3"}"#,
                "greater than zero",
            ),
            (
                r#"{"symbol":"AAPL","side":"buy","qty":"0.00000000001"}"#,
                "decimal places",
            ),
            (r#"{"symbol":"AAPL","side":"buy"}"#, "either side and qty"),
            (
                r#"{"symbol":"AAPL","side":"buy","qty":"1","target_qty":"1"}"#,
                "either side and qty",
            ),
            (
                r#"{"symbol":"AAPL","side":"hold","qty":"1"}"#,
                "not a signal",
            ),
            (
                r#"{"symbol":"AAPL","side":"buy","qty":"1","extra":1}"#,
                "unknown field",
            ),
            (
                r#"{"symbol":"AAPL","side":"buy","qty":"1","limit_price":"-1"}"#,
                "greater than zero",
            ),
            (
                r#"{"symbol":"AAPL","side":"buy","qty":"1","idempotency_key":""}"#,
                "idempotency_key",
            ),
        ];
        for (line, want) in cases {
            let e = parse_line(line, &u).unwrap_err();
            assert!(e.contains(want), "{line}: {e}");
        }
        assert!(
            parse_line(&"x".repeat(MAX_LINE_BYTES + 1), &u)
                .unwrap_err()
                .contains("bytes")
        );
    }
}
