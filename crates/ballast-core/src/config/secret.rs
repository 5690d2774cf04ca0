//! The one secret predicate: which configuration names and values are never shown. Used by
//! everything that prints configuration values — `ballast config show`, the reload diff
//! (`reload --dry-run`, `--json`, the ops journal's `config.reloaded`) and every configuration
//! error message (`ballast check`, a refused reload, the health issue, the log). Over-masking
//! only hides a value; under-masking leaks a password into a ticket, so the rules lean wide.
//!
//! - A **name** is secret when one of its words (split at anything not a letter or digit, and
//!   at a lower-to-upper case change) contains a long secret word (`secret`, `token`,
//!   `password`, `credential`, …) or ends in a short one (`PWD`, `PASS`, `KEY`, `AUTH`, `PAT`):
//!   `DB_PASS`, `BROKER_KEY`, `PGPWD`, `AUTH`, `apiKey` — not `required_keys`, not `keyboard`.
//! - A **text** carries a secret in a URL's user information (`scheme://user:pass@host`
//!   becomes `scheme://user:***@host`), in an assignment whose name is secret
//!   (`--api-key=…`, `?token=…`, `DB_PASS = "…"`), or after `Bearer` / `Basic`.
//! - An **args array** is masked whole when any of its elements names a secret (`--pass`,
//!   `--api-key=…`, a URL with a password): the value after a flag cannot be told from a flag
//!   argument in general (`-p X` is a port or a password), so every element is hidden.

use serde_json::Value;

/// What a hidden value is shown as.
pub const MASK: &str = "***";

/// Words that mark a name as secret wherever they occur in one of its words.
const LONG_WORDS: &[&str] = &[
    "secret",
    "token",
    "password",
    "passwd",
    "passphrase",
    "apikey",
    "credential",
    "privatekey",
    "bearer",
];

/// Words that mark a name as secret when one of its words ends in them (`PGPWD`, `DB_PASS`).
const SHORT_WORDS: &[&str] = &["pwd", "pass", "key", "auth", "pat", "pw"];

/// The words of a name, lower case: split at non-alphanumerics and at camel-case humps.
fn words(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if !c.is_alphanumeric() {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        word.extend(c.to_lowercase());
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// `name` says its value is a secret.
pub fn is_secret_name(name: &str) -> bool {
    let folded: String = name
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    if LONG_WORDS.iter().any(|w| folded.contains(w)) {
        return true;
    }
    words(name)
        .iter()
        .any(|w| SHORT_WORDS.iter().any(|s| w.ends_with(s)))
}

/// `text` with every secret it carries masked (URL passwords, secret assignments, bearer
/// tokens); unchanged when it carries none.
pub fn mask_text(text: &str) -> String {
    mask_bearer(&mask_assignments(&mask_url_credentials(text)))
}

/// `text` carries a secret [`mask_text`] would hide.
pub fn text_has_secret(text: &str) -> bool {
    mask_text(text) != text
}

/// Every URL's password (`scheme://user:password@host` → `scheme://user:***@host`; a user
/// alone, often a token, → `scheme://***@host`).
fn mask_url_credentials(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        out.push_str(&rest[..i + 3]);
        rest = &rest[i + 3..];
        let end = rest
            .find(|c: char| matches!(c, '/' | '?' | '#' | '"' | '\'' | '`') || c.is_whitespace())
            .unwrap_or(rest.len());
        if let Some(at) = rest[..end].rfind('@') {
            let userinfo = &rest[..at];
            match userinfo.split_once(':') {
                Some((user, _)) => {
                    out.push_str(user);
                    out.push(':');
                    out.push_str(MASK);
                }
                None => out.push_str(MASK),
            }
            rest = &rest[at..];
        }
    }
    out.push_str(rest);
    out
}

/// Every `NAME=value` (spaces allowed around `=`, the value bare or quoted) whose NAME is
/// secret, with its value masked.
fn mask_assignments(text: &str) -> String {
    let name_char = |c: char| c.is_alphanumeric() || c == '_' || c == '-' || c == '.';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(eq) = rest.find('=') {
        let (before, after) = rest.split_at(eq);
        let trimmed = before.trim_end_matches([' ', '\t', '"', '\'']);
        let name_start = trimmed
            .char_indices()
            .rev()
            .take_while(|(_, c)| name_char(*c))
            .last()
            .map_or(trimmed.len(), |(i, _)| i);
        let name = &trimmed[name_start..];
        out.push_str(before);
        out.push('=');
        let after = &after[1..];
        let lead = after.len() - after.trim_start_matches([' ', '\t']).len();
        out.push_str(&after[..lead]);
        let value = &after[lead..];
        let end = match value.chars().next() {
            Some(q @ ('"' | '\'')) => value[1..].find(q).map_or(value.len(), |i| i + 2),
            _ => value
                .find(|c: char| matches!(c, '&' | ';' | ',' | ']' | '}') || c.is_whitespace())
                .unwrap_or(value.len()),
        };
        if is_secret_name(name) && end > 0 {
            out.push_str(MASK);
        } else {
            out.push_str(&value[..end]);
        }
        rest = &value[end..];
    }
    out.push_str(rest);
    out
}

/// The credential after `Bearer ` or `Basic ` (any case) masked.
fn mask_bearer(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let lower = rest.to_ascii_lowercase();
        let hit = ["bearer ", "basic "]
            .iter()
            .filter_map(|w| lower.find(w).map(|i| (i, w.len())))
            .min();
        let Some((i, len)) = hit else { break };
        out.push_str(&rest[..i + len]);
        let value = rest[i + len..].trim_start_matches(' ');
        out.push_str(&" ".repeat(rest[i + len..].len() - value.len()));
        let end = value
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | ';'))
            .unwrap_or(value.len());
        if end > 0 {
            out.push_str(MASK);
        }
        rest = &value[end..];
    }
    out.push_str(rest);
    out
}

/// An args array names a secret: one of its elements is a secret flag (`--pass`, `--token`) or
/// carries a secret ([`text_has_secret`]).
pub fn args_name_secret(args: &[&str]) -> bool {
    args.iter().any(|a| {
        let flag = a.split('=').next().unwrap_or("");
        (a.starts_with('-') && is_secret_name(flag)) || text_has_secret(a)
    })
}

/// `value` (the value of the key `key`) with every secret masked: the whole value when the key
/// names a secret (or, for `args`, when the array names one), inside tables each entry whose
/// name does, and every string's secrets ([`mask_text`]).
pub fn mask_value(key: &str, value: &Value) -> Value {
    if is_secret_name(key) && !value.as_str().is_some_and(str::is_empty) {
        return Value::String(MASK.into());
    }
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), mask_value(k, v)))
                .collect(),
        ),
        Value::Array(items) => {
            let texts: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
            if key == "args" && args_name_secret(&texts) {
                return Value::Array(items.iter().map(|_| Value::String(MASK.into())).collect());
            }
            Value::Array(items.iter().map(|v| mask_value("", v)).collect())
        }
        Value::String(text) => Value::String(mask_text(text)),
        other => other.clone(),
    }
}

/// A configuration error message with no secret in it: [`mask_text`], and when the message
/// names a secret key, the quoted value after `found` masked.
pub fn mask_message(message: &str) -> String {
    let masked = mask_text(message);
    let Some(i) = masked.find("found \"") else {
        return masked;
    };
    let (head, tail) = masked.split_at(i + "found ".len());
    if !words(head).iter().any(|w| w.len() > 3 && is_secret_name(w))
        && !head
            .split_whitespace()
            .any(|w| w.contains('_') && is_secret_name(w))
    {
        return masked;
    }
    let end = tail[1..].find('"').map_or(tail.len(), |j| j + 2);
    format!("{head}\"{MASK}\"{}", &tail[end..])
}

#[cfg(test)]
mod tests;
