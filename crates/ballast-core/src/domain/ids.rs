use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::limits::{CLIENT_ORDER_ID_MAX_CHARS, FILL_ID_MAX_CHARS};

/// The id the signal bus gives an accepted signal. Derived from the journal sequence number
/// of the record that accepted it, so a replay reproduces it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SignalId(pub u64);

impl fmt::Display for SignalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sig-{}", self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{what} {text:?} is {len} characters long; at most {max} are allowed")]
    TooLong {
        what: &'static str,
        text: String,
        len: usize,
        max: usize,
    },
    #[error("{what} must not be empty")]
    Empty { what: &'static str },
    #[error("{what} {text:?} has a character outside A-Z a-z 0-9 {allowed}")]
    BadChar {
        what: &'static str,
        text: String,
        allowed: &'static str,
    },
}

/// The punctuation an id may hold, as the error names it, and the bytes themselves.
const ID_PUNCTUATION: (&str, &[u8]) = ("'-' '_' '.' ':'", b"-_.:");
/// A fill id may also hold `@`: a fill read off an order's cumulative filled quantity is
/// `<venue order id>@<filled quantity>` (reconciliation).
const FILL_ID_PUNCTUATION: (&str, &[u8]) = ("'-' '_' '.' ':' '@'", b"-_.:@");

fn check_id(
    what: &'static str,
    text: &str,
    max: usize,
    (allowed, punctuation): (&'static str, &[u8]),
) -> Result<(), IdError> {
    if text.is_empty() {
        return Err(IdError::Empty { what });
    }
    if text.len() > max {
        return Err(IdError::TooLong {
            what,
            text: text.chars().take(max + 8).collect(),
            len: text.len(),
            max,
        });
    }
    if !text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || punctuation.contains(&b))
    {
        return Err(IdError::BadChar {
            what,
            text: text.chars().take(max + 8).collect(),
            allowed,
        });
    }
    Ok(())
}

/// The id Ballast gives an order before it is sent, deterministic in the signal id and the
/// attempt number so that after a crash the same intent maps to the same id (SPEC principle 4).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct ClientOrderId(String);

impl ClientOrderId {
    /// `bl-<signal>-<attempt>`: at most 3 + 20 + 1 + 10 = 34 characters.
    pub fn for_signal(signal: SignalId, attempt: u32) -> Self {
        ClientOrderId(format!("bl-{}-{}", signal.0, attempt))
    }

    pub fn parse(text: &str) -> Result<Self, IdError> {
        check_id(
            "client_order_id",
            text,
            CLIENT_ORDER_ID_MAX_CHARS,
            ID_PUNCTUATION,
        )?;
        Ok(ClientOrderId(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ClientOrderId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        ClientOrderId::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A venue's id of one execution; fills are booked at most once per fill id.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct FillId(String);

impl FillId {
    pub fn parse(text: &str) -> Result<Self, IdError> {
        check_id("fill_id", text, FILL_ID_MAX_CHARS, FILL_ID_PUNCTUATION)?;
        Ok(FillId(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FillId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for FillId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        FillId::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_order_ids_are_deterministic_and_short() {
        let a = ClientOrderId::for_signal(SignalId(u64::MAX), u32::MAX);
        assert!(a.as_str().len() <= CLIENT_ORDER_ID_MAX_CHARS);
        assert_eq!(ClientOrderId::for_signal(SignalId(7), 2).as_str(), "bl-7-2");
        assert_eq!(
            ClientOrderId::for_signal(SignalId(7), 2),
            ClientOrderId::for_signal(SignalId(7), 2)
        );
        assert!(ClientOrderId::parse(&"x".repeat(49)).is_err());
        assert!(ClientOrderId::parse("has space").is_err());
        assert!(FillId::parse("").is_err());
        // A fill read off an order's cumulative filled quantity (reconciliation).
        assert!(FillId::parse("904837e3-3b76-47ec-b432-046db621571b@2.5").is_ok());
        let e = ClientOrderId::parse("bl@1").unwrap_err().to_string();
        assert!(e.contains("'-' '_' '.' ':'") && !e.contains("'@'"), "{e}");
    }
}
