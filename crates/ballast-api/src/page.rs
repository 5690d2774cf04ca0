//! Pagination and query strings, decided purely: every list takes `limit` (default
//! [`LIMIT_DEFAULT`], at most [`LIMIT_MAX`]) and `after` (an opaque cursor from a previous
//! answer's `next`), answers `{"items": [...], "next": cursor|null}`, and refuses a bad value
//! or an unknown parameter with a 422 naming it.

use std::collections::BTreeMap;

use crate::ApiError;

pub const LIMIT_DEFAULT: usize = 100;
pub const LIMIT_MAX: usize = 1_000;
/// A query string longer than this is refused (400).
pub const QUERY_MAX_BYTES: usize = 4_096;

/// The parameters of a query string, each at most once, each one the route knows.
#[derive(Debug, Default)]
pub struct Params {
    values: BTreeMap<String, String>,
}

impl Params {
    /// Parse `raw` (the part after `?`) for a route taking `known` parameters (besides
    /// `limit` and `after`).
    pub fn parse(raw: Option<&str>, known: &[&str]) -> Result<Params, ApiError> {
        let raw = raw.unwrap_or("");
        if raw.len() > QUERY_MAX_BYTES {
            return Err(ApiError::bad_request(format!(
                "the query string is {} bytes, more than the {QUERY_MAX_BYTES} allowed",
                raw.len()
            )));
        }
        let mut values = BTreeMap::new();
        for part in raw.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            let k = decode(k)?;
            let v = decode(v)?;
            if !known.contains(&k.as_str()) && k != "limit" && k != "after" {
                let mut all: Vec<&str> = known.to_vec();
                all.extend(["limit", "after"]);
                return Err(ApiError::invalid(
                    k.clone(),
                    format!(
                        "unknown query parameter {k:?}; this route takes {}",
                        all.join(", ")
                    ),
                ));
            }
            if values.insert(k.clone(), v).is_some() {
                return Err(ApiError::invalid(
                    k.clone(),
                    format!("query parameter {k:?} is given twice; give it once"),
                ));
            }
        }
        Ok(Params { values })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// `limit`: 1 to [`LIMIT_MAX`], [`LIMIT_DEFAULT`] when absent.
    pub fn limit(&self) -> Result<usize, ApiError> {
        let Some(text) = self.get("limit") else {
            return Ok(LIMIT_DEFAULT);
        };
        match text.parse::<usize>() {
            Ok(n) if (1..=LIMIT_MAX).contains(&n) => Ok(n),
            _ => Err(ApiError::invalid(
                "limit",
                format!(
                    "limit must be a whole number from 1 to {LIMIT_MAX}, not {:?}",
                    shown(text)
                ),
            )),
        }
    }

    /// `after`: a numeric cursor of this list, `None` when absent.
    pub fn after_key(&self) -> Result<Option<u64>, ApiError> {
        self.get("after")
            .map(|t| {
                t.strip_prefix('n')
                    .filter(|h| !h.is_empty() && h.len() <= 16)
                    .and_then(|h| u64::from_str_radix(h, 16).ok())
                    .ok_or_else(|| bad_cursor(t))
            })
            .transpose()
    }

    /// `after`: a text cursor of this list (positions: a symbol), `None` when absent.
    pub fn after_text(&self) -> Result<Option<String>, ApiError> {
        self.get("after")
            .map(|t| {
                t.strip_prefix('t')
                    .filter(|h| !h.is_empty() && h.len() % 2 == 0 && h.len() <= 256)
                    .and_then(|h| {
                        let bytes: Option<Vec<u8>> = (0..h.len())
                            .step_by(2)
                            .map(|i| u8::from_str_radix(h.get(i..i + 2)?, 16).ok())
                            .collect();
                        String::from_utf8(bytes?).ok()
                    })
                    .ok_or_else(|| bad_cursor(t))
            })
            .transpose()
    }

    /// A parameter that must be one of `allowed`.
    pub fn one_of(&self, name: &str, allowed: &[&str]) -> Result<Option<String>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) if allowed.contains(&v) => Ok(Some(v.to_owned())),
            Some(v) => Err(ApiError::invalid(
                name,
                format!(
                    "{name} must be one of {}, not {:?}",
                    allowed.join(", "),
                    shown(v)
                ),
            )),
        }
    }
}

/// At most 64 characters of a caller's value, for an error message.
fn shown(v: &str) -> String {
    v.chars().take(64).collect()
}

fn bad_cursor(t: &str) -> ApiError {
    ApiError::invalid(
        "after",
        format!(
            "after {:?} is not a cursor of this list; pass the `next` of a previous answer of this route, or leave it out to start at the beginning",
            shown(t)
        ),
    )
}

/// The cursor of numeric key `k`.
pub fn key_cursor(k: u64) -> String {
    format!("n{k:x}")
}

/// The cursor of text key `k`.
pub fn text_cursor(k: &str) -> String {
    let mut s = String::from("t");
    for b in k.bytes() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

fn decode(s: &str) -> Result<String, ApiError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        ApiError::bad_request("the query string has a bad %-escape (want %XX)")
                    })?;
                out.push(hex);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| ApiError::bad_request("the query string is not UTF-8"))
}

/// One page of `items`, which come in list order (keys increasing, or decreasing when
/// `newest_first`): those after `after`, at most `limit`, and the key to continue after when
/// more follow.
pub fn page<T, K: Ord + Clone>(
    items: impl Iterator<Item = T>,
    key: impl Fn(&T) -> K,
    after: Option<&K>,
    newest_first: bool,
    limit: usize,
) -> (Vec<T>, Option<K>) {
    let mut rest = items.filter(|t| match after {
        None => true,
        Some(a) if newest_first => key(t) < *a,
        Some(a) => key(t) > *a,
    });
    let out: Vec<T> = rest.by_ref().take(limit).collect();
    let next = match (rest.next(), out.last()) {
        (Some(_), Some(last)) => Some(key(last)),
        _ => None,
    };
    (out, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_walk_every_item_once_in_both_orders() {
        for newest_first in [false, true] {
            let mut keys: Vec<u64> = (1..=25).collect();
            if newest_first {
                keys.reverse();
            }
            let mut seen = Vec::new();
            let mut after = None;
            loop {
                let (items, next) = page(
                    keys.iter().copied(),
                    |k| *k,
                    after.as_ref(),
                    newest_first,
                    10,
                );
                seen.extend(items);
                match next {
                    Some(n) => after = Some(n),
                    None => break,
                }
            }
            assert_eq!(seen, keys);
        }
    }

    #[test]
    fn an_exact_last_page_has_no_next() {
        let (items, next) = page(1..=10u64, |k| *k, None, false, 10);
        assert_eq!((items.len(), next), (10, None));
    }

    #[test]
    fn limit_and_cursors_are_checked_and_name_their_field() {
        let p = |q: &str| Params::parse(Some(q), &["symbol"]).unwrap();
        assert_eq!(p("").limit().unwrap(), LIMIT_DEFAULT);
        assert_eq!(p("limit=1000").limit().unwrap(), 1000);
        for bad in ["limit=0", "limit=1001", "limit=x", "limit=-1"] {
            let e = p(bad).limit().unwrap_err();
            assert_eq!(
                (e.status, e.field.as_deref()),
                (422, Some("limit")),
                "{bad}"
            );
        }
        assert_eq!(
            p(&format!("after={}", key_cursor(77))).after_key().unwrap(),
            Some(77)
        );
        assert_eq!(
            p(&format!("after={}", text_cursor("AAPL")))
                .after_text()
                .unwrap()
                .as_deref(),
            Some("AAPL")
        );
        for bad in [
            "after=zz",
            "after=n",
            "after=nxyz",
            "after=t4",
            "after=n11111111111111111",
        ] {
            let e = p(bad).after_key().unwrap_err();
            assert_eq!(e.field.as_deref(), Some("after"), "{bad}");
            let e = p(bad).after_text().unwrap_err();
            assert_eq!(e.field.as_deref(), Some("after"), "{bad}");
        }
        let e = Params::parse(Some("stauts=open"), &["status"]).unwrap_err();
        assert_eq!((e.status, e.field.as_deref()), (422, Some("stauts")));
        let e = Params::parse(Some("symbol=A&symbol=B"), &["symbol"]).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("symbol"));
        assert_eq!(p("symbol=BRK%2EB").get("symbol"), Some("BRK.B"));
    }
}
