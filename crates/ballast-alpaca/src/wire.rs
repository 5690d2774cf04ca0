//! The contract's scalar forms, strictly: decimals as JSON strings ([`Dec`]), timestamps as
//! RFC 3339 with any offset ([`Time`]), enums that keep a value outside the contract as
//! `Unknown(text)` ([`wire_enum!`]), and the bars endpoint's decimals as JSON numbers read by
//! their text ([`NumDec`]). A value of the wrong form is a deserialization error naming the
//! value; [`decode`] adds the call and the field's path.

use std::str::FromStr;

use ballast_core::Timestamp;
use rust_decimal::Decimal;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A decimal the contract writes as a JSON string (`"10.5"`): a JSON number there is drift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dec(pub Decimal);

impl<'de> Deserialize<'de> for Dec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Dec;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a decimal written as a JSON string (like \"10.5\")")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Dec, E> {
                parse_decimal(v).map(Dec).ok_or_else(|| {
                    E::invalid_value(de::Unexpected::Str(&clip(v)), &"a decimal like \"10.5\"")
                })
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Dec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

/// A decimal the bars endpoint writes as a JSON number, read by its text (never through f64
/// arithmetic: `serde_json::Number`'s shortest round-trip text is parsed as a decimal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NumDec(pub Decimal);

impl<'de> Deserialize<'de> for NumDec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = serde_json::Number::deserialize(d)?;
        let text = n.to_string();
        parse_decimal(&text).map(NumDec).ok_or_else(|| {
            de::Error::custom(format!("the number {} is not a decimal", clip(&text)))
        })
    }
}

/// `text` as a decimal (plain or scientific), `None` when it is not one.
pub fn parse_decimal(text: &str) -> Option<Decimal> {
    Decimal::from_str(text)
        .or_else(|_| Decimal::from_scientific(text))
        .ok()
}

/// An RFC 3339 timestamp with `Z` or a numeric offset, fractions to nanoseconds (kept to the
/// millisecond).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(pub Timestamp);

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Time;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an RFC 3339 timestamp string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Time, E> {
                parse_time(v).map(Time).ok_or_else(|| {
                    E::invalid_value(de::Unexpected::Str(&clip(v)), &"an RFC 3339 timestamp")
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// An RFC 3339 timestamp kept with the venue's own text too (full precision: a pagination
/// cursor sent back as the venue wrote it, so orders within one millisecond are not skipped).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stamp {
    pub at: Timestamp,
    pub text: String,
}

impl<'de> Deserialize<'de> for Stamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        match parse_time(&text) {
            Some(at) => Ok(Stamp { at, text }),
            None => Err(de::Error::invalid_value(
                de::Unexpected::Str(&clip(&text)),
                &"an RFC 3339 timestamp",
            )),
        }
    }
}

/// RFC 3339 with `Z` or `±HH:MM` into a UTC [`Timestamp`].
pub fn parse_time(text: &str) -> Option<Timestamp> {
    if text.ends_with('Z') || text.ends_with('z') {
        let utc = format!("{}Z", &text[..text.len() - 1]);
        return Timestamp::parse_rfc3339(&utc).ok();
    }
    let split = text.len().checked_sub(6)?;
    let (base, offset) = (text.get(..split)?, text.get(split..)?.as_bytes());
    let sign = match offset.first()? {
        b'+' => 1i64,
        b'-' => -1,
        _ => return None,
    };
    if offset.get(3) != Some(&b':') {
        return None;
    }
    let digits = |a: usize, b: usize| -> Option<i64> {
        let s = std::str::from_utf8(offset.get(a..b)?).ok()?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (h, m) = (digits(1, 3)?, digits(4, 6)?);
    if h > 23 || m > 59 {
        return None;
    }
    let local = Timestamp::parse_rfc3339(&format!("{base}Z")).ok()?;
    Some(local.plus_ms(-sign * (h * 60 + m) * 60_000))
}

/// At most 64 characters of an outside value, for an error text.
pub fn clip(text: &str) -> String {
    let mut out: String = text.chars().take(64).collect();
    if text.chars().count() > 64 {
        out.push('…');
    }
    out
}

/// An enum of the contract whose values outside it are kept as `Unknown(text)`.
macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant,)+
            /// A value outside the contract this build knows, as the venue wrote it.
            Unknown(String),
        }

        impl $name {
            pub fn parse(text: &str) -> Self {
                match text {
                    $($text => $name::$variant,)+
                    other => $name::Unknown(other.to_owned()),
                }
            }

            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)+
                    $name::Unknown(t) => t,
                }
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Ok($name::parse(&text))
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}
pub(crate) use wire_enum;

/// `body` as the contract's `T`, or the contract break in words: the call, the field's path
/// and what was wrong with its value.
pub fn decode<T: serde::de::DeserializeOwned>(call: &str, body: &[u8]) -> Result<T, String> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize::<_, T>(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let at = if path == "." {
            String::new()
        } else {
            format!(" at field `{path}`")
        };
        format!("{call}: the answer breaks the contract{at}: {}", e.inner())
    })?;
    de.end()
        .map_err(|e| format!("{call}: the answer breaks the contract: {e} after its JSON value"))?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_strings_and_numbers_are_drift() {
        let d: Dec = serde_json::from_str("\"10.50\"").unwrap();
        assert_eq!(d.0, Decimal::new(1050, 2));
        let e = serde_json::from_str::<Dec>("10.5").unwrap_err().to_string();
        assert!(e.contains("10.5") && e.contains("JSON string"), "{e}");
        assert!(
            serde_json::from_str::<Dec>("\"ten\"")
                .unwrap_err()
                .to_string()
                .contains("ten")
        );
        let n: NumDec = serde_json::from_str("133.32").unwrap();
        assert_eq!(n.0, Decimal::new(13332, 2), "read by its text, exactly");
    }

    #[test]
    fn timestamps_take_any_offset() {
        let z = parse_time("2021-03-16T18:38:01.942282Z").unwrap();
        assert_eq!(z.to_string(), "2021-03-16T18:38:01.942Z");
        let ny = parse_time("2021-03-16T14:38:01.942282-04:00").unwrap();
        assert_eq!(ny, z);
        assert_eq!(parse_time("2021-03-16T20:38:01.942+02:00"), Some(z));
        for bad in [
            "2021-03-16",
            "2021-03-16T18:38:01+2:00",
            "yesterday",
            "2021-03-16T18:38:01-24:00",
            "",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_contract_break_names_the_call_the_field_and_the_value() {
        #[derive(Debug, serde::Deserialize)]
        struct Row {
            #[allow(dead_code)]
            qty: Dec,
        }
        let e = decode::<Vec<Row>>("GET /v2/positions", br#"[{"qty":"1"},{"qty":5}]"#).unwrap_err();
        assert!(e.starts_with("GET /v2/positions"), "{e}");
        assert!(e.contains("[1].qty") && e.contains('5'), "{e}");
        let e = decode::<Vec<Row>>("GET /v2/positions", br#"[{}]"#).unwrap_err();
        assert!(e.contains("missing field `qty`"), "{e}");
    }
}
