//! External signals: lines of JSON that other programs append to `inbox/signals.jsonl`.
//!
//! ```json
//! {"symbol":"AAPL","side":"buy","qty":"10","reason":"breakout","strategy":"my_bot","idempotency_key":"my-42"}
//! {"symbol":"MSFT","target_qty":"-5","reason":"hedge"}
//! ```
//!
//! Either `side` + `qty` (an order), `side` + `notional` (that much money's worth, sized when
//! decided) or `target_qty` (a signed target position). Optional: `reason`, `strategy`,
//! `limit_price`, `idempotency_key`, and over HTTP only `ttl_secs`. Parsing is pure; a bad line gets an
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
    /// Trade this much money's worth on `side`: the quantity is worked out when the signal is
    /// decided, at its limit price or the symbol's last price (cut to the decimal places a
    /// quantity may have; none yet: a quantity of 0, rejected).
    Notional { side: Side, notional: Decimal },
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
    /// `POST /v1/signals` only: seconds after the API accepted it within which the engine
    /// must take it; past them it is refused as expired (never traded late).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_secs: Option<u32>,
}

/// The fields a signal may have (the inbox line's and `POST /v1/signals`'s body).
pub const FIELDS: &[&str] = &[
    "symbol",
    "side",
    "qty",
    "target_qty",
    "notional",
    "reason",
    "strategy",
    "limit_price",
    "idempotency_key",
    "ttl_secs",
];

/// The longest `ttl_secs`: one day.
pub const MAX_TTL_SECS: u32 = 86_400;

/// Why a signal was refused, and the field at fault (`None`: the whole of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalError {
    pub field: Option<&'static str>,
    pub message: String,
}

impl SignalError {
    fn at(field: &'static str, message: impl Into<String>) -> SignalError {
        SignalError {
            field: Some(field),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for SignalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

fn text(field: &'static str, v: Option<String>, default: &str) -> Result<String, SignalError> {
    let v = v.unwrap_or_else(|| default.to_owned());
    if v.chars().count() > INBOX_MAX_TEXT_CHARS {
        return Err(SignalError::at(
            field,
            format!("{field} is longer than {INBOX_MAX_TEXT_CHARS} characters"),
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(SignalError::at(
            field,
            format!("{field} contains control characters"),
        ));
    }
    Ok(v)
}

/// The field `name` of `obj` as a `T`, or what is wrong with it.
fn field<T: serde::de::DeserializeOwned>(
    obj: &mut serde_json::Map<String, serde_json::Value>,
    name: &'static str,
    want: &str,
) -> Result<Option<T>, SignalError> {
    match obj.remove(name) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(v) => {
            let shown = shown(&v);
            serde_json::from_value(v)
                .map(Some)
                .map_err(|_| SignalError::at(name, format!("{name} must be {want} (got {shown})")))
        }
    }
}

/// A value as an error message shows it: its JSON, cut to a few characters.
fn shown(v: &serde_json::Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

/// Parse one line. `symbols` is the tradable universe (a signal for another symbol is refused).
pub fn parse_line(line: &str, symbols: &[Symbol]) -> Result<ExternalSignal, String> {
    if line.len() > MAX_LINE_BYTES {
        return Err(format!(
            "line is {} bytes; at most {MAX_LINE_BYTES} are accepted",
            line.len()
        ));
    }
    let signal = parse_signal(line, symbols).map_err(|e| e.message)?;
    if signal.ttl_secs.is_some() {
        return Err(
            "ttl_secs is for POST /v1/signals: an inbox line has no time of acceptance to count from"
                .into(),
        );
    }
    Ok(signal)
}

/// Parse and validate one signal (JSON text of at most [`MAX_LINE_BYTES`] for the inbox; the
/// HTTP body's own bound is the API's): the one parser of a signal, for the inbox and for
/// `POST /v1/signals`. Decimals are JSON strings or numbers; unknown fields are refused.
pub fn parse_signal(json: &str, symbols: &[Symbol]) -> Result<ExternalSignal, SignalError> {
    let whole = |m: String| SignalError {
        field: None,
        message: m,
    };
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|e| whole(format!("not a signal: {e}")))?;
    let serde_json::Value::Object(mut obj) = value else {
        return Err(whole(
            "not a signal: a signal is a JSON object with a symbol and either side and qty, or target_qty".into(),
        ));
    };
    if let Some(unknown) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        let name: String = unknown.chars().take(64).collect();
        return Err(SignalError {
            field: Some("body"),
            message: format!(
                "not a signal: unknown field `{name}`; the fields are {}",
                FIELDS.join(", ")
            ),
        });
    }
    if let Some(twice) = duplicate_key(json) {
        let at = FIELDS
            .iter()
            .find(|f| **f == twice)
            .copied()
            .unwrap_or("body");
        return Err(SignalError::at(
            at,
            format!(
                "not a signal: `{at}` is given twice; give each field once (which one would count is anybody's guess)"
            ),
        ));
    }
    let symbol: String = field(&mut obj, "symbol", "a string")?
        .ok_or_else(|| SignalError::at("symbol", "symbol is missing"))?;
    let symbol = Symbol::new(&symbol).map_err(|e| SignalError::at("symbol", e.to_string()))?;
    if !symbols.contains(&symbol) {
        return Err(SignalError::at(
            "symbol",
            format!(
                "symbol {symbol} is not in the universe ({})",
                symbols
                    .iter()
                    .map(Symbol::as_str)
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        ));
    }
    let ask = ask(&mut obj)?;
    let limit_price =
        match field::<Decimal>(&mut obj, "limit_price", "a decimal (a string or a number)")? {
            Some(p) => Some(
                Price::new(p)
                    .map_err(|e| SignalError::at("limit_price", e.to_string()))?
                    .value(),
            ),
            None => None,
        };
    let idempotency_key = match field::<String>(&mut obj, "idempotency_key", "a string")? {
        Some(k) if k.is_empty() || k.len() > 64 || !k.bytes().all(|b| b.is_ascii_graphic()) => {
            return Err(SignalError::at(
                "idempotency_key",
                "idempotency_key must be 1-64 printable ASCII characters",
            ));
        }
        k => k,
    };
    let want = format!("a whole number of seconds from 1 to {MAX_TTL_SECS}");
    let ttl_secs = match field::<u32>(&mut obj, "ttl_secs", &want)? {
        Some(t) if !(1..=MAX_TTL_SECS).contains(&t) => {
            return Err(SignalError::at(
                "ttl_secs",
                format!("ttl_secs must be {want}"),
            ));
        }
        t => t,
    };
    let reason = field(&mut obj, "reason", "a string")?;
    let strategy = field(&mut obj, "strategy", "a string")?;
    Ok(ExternalSignal {
        symbol,
        ask,
        reason: text("reason", reason, "external")?,
        strategy: text("strategy", strategy, "inbox")?,
        limit_price,
        idempotency_key,
        ttl_secs,
    })
}

/// What the signal asks for: `side` + `qty`, or `target_qty`.
fn ask(obj: &mut serde_json::Map<String, serde_json::Value>) -> Result<Ask, SignalError> {
    let side: Option<Side> = field(obj, "side", "\"buy\" or \"sell\"")?;
    let qty: Option<Decimal> = field(obj, "qty", "a decimal (a string or a number)")?;
    let target: Option<Decimal> = field(obj, "target_qty", "a decimal (a string or a number)")?;
    let notional: Option<Decimal> = field(obj, "notional", "a decimal (a string or a number)")?;
    if let Some(n) = notional {
        if qty.is_some() || target.is_some() {
            return Err(SignalError::at(
                "notional",
                "give one of qty, target_qty or notional",
            ));
        }
        let Some(side) = side else {
            return Err(SignalError::at(
                "side",
                "a notional needs a side (buy or sell)",
            ));
        };
        let n = crate::domain::Notional::new(n)
            .map_err(|e| SignalError::at("notional", e.to_string()))?
            .value();
        if n <= Decimal::ZERO {
            return Err(SignalError::at(
                "notional",
                "notional must be greater than zero",
            ));
        }
        return Ok(Ask::Notional { side, notional: n });
    }
    Ok(match (side, qty, target) {
        (Some(side), Some(qty), None) => Ask::Order {
            side,
            qty: Quantity::new(qty)
                .map_err(|e| SignalError::at("qty", e.to_string()))?
                .value(),
        },
        (None, None, Some(t)) => {
            if t.normalize().scale() > crate::limits::MAX_DECIMAL_PLACES {
                return Err(SignalError::at(
                    "target_qty",
                    format!("target_qty {t} has too many decimal places"),
                ));
            }
            Ask::Target { qty: t.normalize() }
        }
        (_, _, Some(_)) => {
            return Err(SignalError::at(
                "target_qty",
                "give either side and qty, or target_qty",
            ));
        }
        (None, _, None) => {
            return Err(SignalError::at(
                "side",
                "give either side and qty, or target_qty",
            ));
        }
        (Some(_), None, None) => {
            return Err(SignalError::at(
                "qty",
                "give either side and qty, or target_qty",
            ));
        }
    })
}

impl std::fmt::Display for Ask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ask::Order { side, qty } => write!(f, "{side} {qty}"),
            Ask::Target { qty } => write!(f, "target position {qty}"),
            Ask::Notional { side, notional } => write!(f, "{side} {notional} worth"),
        }
    }
}

/// The first key a JSON object gives twice, if any (a JSON value parser keeps the last one;
/// a proxy or validator reading the first would approve another order than the one traded).
fn duplicate_key(json: &str) -> Option<String> {
    struct FirstTwice(Option<String>);
    impl<'de> Deserialize<'de> for FirstTwice {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct Keys;
            impl<'de> serde::de::Visitor<'de> for Keys {
                type Value = FirstTwice;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> Result<FirstTwice, A::Error> {
                    // Read to the end (the parser wants the whole object), keeping the first.
                    let (mut seen, mut twice) = (std::collections::BTreeSet::new(), None);
                    while let Some(key) = map.next_key::<String>()? {
                        map.next_value::<serde::de::IgnoredAny>()?;
                        if twice.is_none() && !seen.insert(key.clone()) {
                            twice = Some(key);
                        }
                    }
                    Ok(FirstTwice(twice))
                }
            }
            d.deserialize_map(Keys)
        }
    }
    serde_json::from_str::<FirstTwice>(json)
        .ok()
        .and_then(|k| k.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_given_twice_is_refused_by_name() {
        let e = parse_signal(
            r#"{"symbol":"AAPL","symbol":"MSFT","side":"buy","qty":1}"#,
            &universe(),
        )
        .unwrap_err();
        assert_eq!(e.field, Some("symbol"));
        assert!(e.message.contains("twice"), "{}", e.message);
        assert_eq!(
            duplicate_key(r#"{"a":{"b":1,"b":2},"c":1}"#),
            None,
            "top level only"
        );
        assert_eq!(
            duplicate_key(r#"{"qty":1,"side":"buy","qty":2}"#).as_deref(),
            Some("qty")
        );
    }

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
    fn decimals_are_strings_or_numbers_and_each_error_names_its_field() {
        let u = universe();
        let s = parse_signal(
            r#"{"symbol":"AAPL","side":"sell","qty":2.5,"limit_price":101.25}"#,
            &u,
        )
        .unwrap();
        assert_eq!(
            s.ask,
            Ask::Order {
                side: Side::Sell,
                qty: Decimal::new(25, 1)
            }
        );
        assert_eq!(s.limit_price, Some(Decimal::new(10125, 2)));
        let n = parse_signal(r#"{"symbol":"AAPL","side":"buy","notional":"1000"}"#, &u).unwrap();
        assert_eq!(
            n.ask,
            Ask::Notional {
                side: Side::Buy,
                notional: Decimal::from(1000)
            }
        );
        // A JSON number is read exactly as written (no binary float in between).
        let t = parse_signal(r#"{"symbol":"AAPL","target_qty":0.1}"#, &u).unwrap();
        assert_eq!(
            t.ask,
            Ask::Target {
                qty: Decimal::new(1, 1)
            }
        );
        let cases = [
            (r#"{"side":"buy","qty":"1"}"#, Some("symbol")),
            (r#"{"symbol":"IBM","side":"buy","qty":"1"}"#, Some("symbol")),
            (r#"{"symbol":"AAPL","side":"up","qty":"1"}"#, Some("side")),
            (r#"{"symbol":"AAPL","side":"buy","qty":"x"}"#, Some("qty")),
            (r#"{"symbol":"AAPL","side":"buy"}"#, Some("qty")),
            (r#"{"symbol":"AAPL","qty":"1"}"#, Some("side")),
            (r#"{"symbol":"AAPL","target_qty":[]}"#, Some("target_qty")),
            (r#"{"symbol":"AAPL","notional":"100"}"#, Some("side")),
            (
                r#"{"symbol":"AAPL","side":"buy","notional":"100","qty":"1"}"#,
                Some("notional"),
            ),
            (
                r#"{"symbol":"AAPL","side":"buy","notional":"-5"}"#,
                Some("notional"),
            ),
            (
                r#"{"symbol":"AAPL","side":"buy","qty":"1","limit_price":"0"}"#,
                Some("limit_price"),
            ),
            (
                r#"{"symbol":"AAPL","side":"buy","qty":"1","reason":7}"#,
                Some("reason"),
            ),
            (
                r#"{"symbol":"AAPL","side":"buy","qty":"1","strategy":"a\nb"}"#,
                Some("strategy"),
            ),
            (
                r#"{"symbol":"AAPL","side":"buy","qty":"1","idempotency_key":"a b"}"#,
                Some("idempotency_key"),
            ),
            (
                r#"{"symbol":"AAPL","side":"buy","qty":"1","x":1}"#,
                Some("body"),
            ),
            ("[1]", None),
            ("{", None),
        ];
        for (body, want) in cases {
            let e = parse_signal(body, &u).unwrap_err();
            assert_eq!(e.field, want, "{body}: {}", e.message);
        }
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
                "side must be \"buy\" or \"sell\"",
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
            (
                r#"{"symbol":"AAPL","side":"buy","qty":"1","ttl_secs":5}"#,
                "ttl_secs is for POST /v1/signals",
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
