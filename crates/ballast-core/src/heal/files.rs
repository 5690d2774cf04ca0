//! Salvage of declared JSON and JSONL files: what parses is kept, what does not goes to
//! quarantine. Pure text in, text out.

use serde_json::{Map, Value};

/// The result of salvaging a JSON document.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonSalvage {
    /// The document to write.
    pub value: Value,
    /// Top-level keys recovered from a malformed document.
    pub salvaged: Vec<String>,
    /// Keys filled from the default.
    pub filled: Vec<String>,
    /// Why the text did not parse as an object, if it did not.
    pub parse_error: Option<String>,
    /// The file is fine as it is.
    pub unchanged: bool,
}

/// Salvage `text`: a valid object only gets its missing `required` keys from `default`; a
/// malformed one keeps every top-level member that parses completely (in order, up to the
/// first one that does not) and gets every missing key of `default`.
pub fn salvage_json(text: &str, default: &Value, required: &[String]) -> JsonSalvage {
    let empty = Map::new();
    let defaults = default.as_object().unwrap_or(&empty);
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(mut map)) => {
            let mut filled = Vec::new();
            for key in required {
                if !map.contains_key(key) {
                    map.insert(
                        key.clone(),
                        defaults.get(key).cloned().unwrap_or(Value::Null),
                    );
                    filled.push(key.clone());
                }
            }
            let unchanged = filled.is_empty();
            JsonSalvage {
                value: Value::Object(map),
                salvaged: Vec::new(),
                filled,
                parse_error: None,
                unchanged,
            }
        }
        other => {
            let parse_error = match other {
                Ok(v) => format!("the document is {} instead of an object", kind(&v)),
                Err(e) => e.to_string(),
            };
            let mut map = members(text);
            let salvaged: Vec<String> = map.keys().cloned().collect();
            let mut filled = Vec::new();
            for (k, v) in defaults {
                if !map.contains_key(k) {
                    map.insert(k.clone(), v.clone());
                    filled.push(k.clone());
                }
            }
            for key in required {
                if !map.contains_key(key) {
                    map.insert(key.clone(), Value::Null);
                    filled.push(key.clone());
                }
            }
            JsonSalvage {
                value: Value::Object(map),
                salvaged,
                filled,
                parse_error: Some(parse_error),
                unchanged: false,
            }
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The top-level members of a (possibly truncated or damaged) object that parse, in order,
/// up to the first that does not.
fn members(text: &str) -> Map<String, Value> {
    let mut out = Map::new();
    let b = text.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return out;
    }
    i += 1;
    loop {
        i = skip_ws(b, i);
        if b.get(i) != Some(&b'"') {
            return out;
        }
        let Some(key_end) = string_end(b, i) else {
            return out;
        };
        let Ok(key) = serde_json::from_str::<String>(&text[i..key_end]) else {
            return out;
        };
        i = skip_ws(b, key_end);
        if b.get(i) != Some(&b':') {
            return out;
        }
        let start = i + 1;
        let Some(end) = value_end(b, start) else {
            return out;
        };
        let Ok(value) = serde_json::from_str::<Value>(&text[start..end]) else {
            return out;
        };
        out.insert(key, value);
        i = skip_ws(b, end);
        match b.get(i) {
            Some(b',') => i += 1,
            _ => return out,
        }
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    i
}

/// Index just after the string starting at `b[i] == '"'`.
fn string_end(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
    None
}

/// Index where the value starting at `i` ends: the first `,` or `}` outside strings at depth
/// 0, or `None` when the text ends first (truncated).
fn value_end(b: &[u8], i: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut j = i;
    while j < b.len() {
        match b[j] {
            b'"' => {
                j = string_end(b, j)?;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth > 0 => depth -= 1,
            b',' | b'}' if depth == 0 => return Some(j),
            _ => {}
        }
        j += 1;
    }
    None
}

/// A JSONL file split into the lines to keep and the lines to quarantine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonlSplit {
    /// The file's new content: valid lines in order (blank lines and an unterminated last
    /// line — possibly a write in progress — are kept as they are).
    pub good: String,
    pub kept: usize,
    /// Corrupt lines: 1-based line number and text.
    pub bad: Vec<(usize, String)>,
    /// What goes to quarantine: one line per bad line, `<line number>\t<text>`.
    pub quarantined: String,
}

pub fn split_jsonl(text: &str) -> JsonlSplit {
    let mut good = String::with_capacity(text.len());
    let mut kept = 0;
    let mut bad = Vec::new();
    let mut quarantined = String::new();
    let mut rest = text;
    let mut n = 0;
    while !rest.is_empty() {
        n += 1;
        let (line, terminated, next) = match rest.find('\n') {
            Some(p) => (&rest[..p], true, &rest[p + 1..]),
            None => (rest, false, ""),
        };
        rest = next;
        let body = line.trim_end_matches('\r');
        let valid = body.trim().is_empty() || serde_json::from_str::<Value>(body).is_ok();
        if valid || !terminated {
            good.push_str(line);
            if terminated {
                good.push('\n');
            }
            if valid && !body.trim().is_empty() {
                kept += 1;
            }
        } else {
            quarantined.push_str(&format!("{n}\t{line}\n"));
            bad.push((n, line.to_owned()));
        }
    }
    JsonlSplit {
        good,
        kept,
        bad,
        quarantined,
    }
}
