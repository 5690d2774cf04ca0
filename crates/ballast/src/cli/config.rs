//! `ballast config show [--json]`: the effective configuration — every key after environment
//! overrides, with its origin (`file:line:col`, an environment variable, or the built-in
//! default) — with secrets masked.

use clap::Subcommand;
use serde_json::{Value as Json, json};

use super::{ConfigArg, out};
use crate::exit::{self, Exit};

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Every effective value and where it came from (secrets masked).
    Show {
        /// As JSON: {"file": …, "how": …, "settings": [{section, key, value, origin}]}.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
}

/// Words in a name that mark its value as a secret (whole words of the name: `API_KEY`,
/// `APCA_API_SECRET_KEY`, `DB_PASSWORD` — not `required_keys`).
const SECRET_WORDS: [&str; 12] = [
    "PAT",
    "SECRET",
    "TOKEN",
    "PASSWORD",
    "PASSWD",
    "PASS",
    "PWD",
    "KEY",
    "APIKEY",
    "CREDENTIAL",
    "CREDENTIALS",
    "AUTH",
];
const MASK: &str = "********";

fn is_secret(name: &str) -> bool {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .any(|word| SECRET_WORDS.contains(&word.to_ascii_uppercase().as_str()))
}

/// A URL's password (`scheme://user:password@host`) masked, the rest kept.
fn mask_url_password(text: &str) -> String {
    let Some(scheme_end) = text.find("://") else {
        return text.to_owned();
    };
    let rest = &text[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return text.to_owned();
    };
    let userinfo = &rest[..at];
    let user = userinfo.split(':').next().unwrap_or("");
    let masked = if userinfo.contains(':') {
        format!("{user}:{MASK}")
    } else {
        MASK.to_owned()
    };
    format!("{}{masked}{}", &text[..scheme_end + 3], &rest[at..])
}

/// Every `NAME=value` inside a text whose NAME says secret (`--api-key=sk_live_…`, a URL's
/// `?token=…`) with its value masked.
fn mask_assignments(text: &str) -> String {
    let name_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(eq) = rest.find('=') {
        let (before, after) = rest.split_at(eq);
        let name_start = before
            .char_indices()
            .rev()
            .take_while(|(_, c)| name_char(*c))
            .last()
            .map_or(before.len(), |(i, _)| i);
        let name = &before[name_start..];
        out.push_str(before);
        out.push('=');
        let after = &after[1..];
        let end = after
            .find(|c: char| c == '&' || c == ';' || c == ',' || c.is_whitespace())
            .unwrap_or(after.len());
        if is_secret(name) && end > 0 {
            out.push_str(MASK);
        } else {
            out.push_str(&after[..end]);
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// The value with secrets masked: a key whose name says secret, in a service's `env` table
/// every variable whose name does, and the password of any URL (a `DB_URL` with
/// `user:password@`, a readiness URL).
fn masked(key: &str, value: &Json) -> Json {
    if is_secret(key) && !value.as_str().is_some_and(str::is_empty) {
        return json!(MASK);
    }
    match value {
        Json::Object(map) => Json::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = if is_secret(k) && key == "env" {
                        json!(MASK)
                    } else {
                        masked(k, v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Json::Array(items) => Json::Array(items.iter().map(|v| masked("", v)).collect()),
        Json::String(text) => Json::String(mask_assignments(&mask_url_password(text))),
        other => other.clone(),
    }
}

pub fn config(cmd: ConfigCommand) -> anyhow::Result<Exit> {
    let ConfigCommand::Show { json, config } = cmd;
    let loaded = match config.load() {
        Ok(l) => l,
        Err(code) => {
            if json {
                out!(
                    "{}",
                    json!({ "error": "the configuration is invalid: every error is on stderr" })
                );
            }
            return Ok(code);
        }
    };
    let file = loaded.choice.absolute().map(|p| p.display().to_string());
    // The data directory every command uses (BALLAST_HOME wins over the file), resolved.
    let dir = crate::settings::DataDir::new(None, Some((&loaded.config, &loaded.settings)));
    let rows: Vec<(String, String, Json, String)> = loaded
        .settings
        .iter()
        .map(|s| {
            if s.section == "general" && s.key == "data_dir" {
                let origin = if dir.how == crate::settings::HOME_ENV {
                    format!("environment variable {}", crate::settings::HOME_ENV)
                } else {
                    s.origin.to_string()
                };
                return (
                    s.section.clone(),
                    s.key.clone(),
                    json!(dir.path.display().to_string()),
                    origin,
                );
            }
            (
                s.section.clone(),
                s.key.clone(),
                masked(&s.key, &s.value),
                s.origin.to_string(),
            )
        })
        .collect();
    if json {
        let settings: Vec<Json> = rows
            .iter()
            .map(|(section, key, value, origin)| {
                json!({"section": section, "key": key, "value": value, "origin": origin})
            })
            .collect();
        out!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "file": file,
                "how": loaded.choice.how,
                "settings": settings,
            }))?
        );
        return Ok(exit::OK);
    }
    out!("# configuration: {}", loaded.choice.describe());
    let mut section = String::new();
    for (sec, key, value, origin) in &rows {
        if *sec != section {
            out!("\n[{}]", sec.trim_end());
            section.clone_from(sec);
        }
        let origin = if origin.ends_with("(built-in default)") {
            "default".to_owned()
        } else {
            origin.clone()
        };
        out!("{key} = {value}    # {origin}");
    }
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_url_passwords_are_masked() {
        assert_eq!(
            mask_url_password("postgres://u:urlpass444@h/db"),
            "postgres://u:********@h/db"
        );
        assert_eq!(
            mask_url_password("http://token@127.0.0.1:1/x?a=b@c"),
            "http://********@127.0.0.1:1/x?a=b@c"
        );
        assert_eq!(
            mask_url_password("http://127.0.0.1:1/"),
            "http://127.0.0.1:1/"
        );
        let env = json!({"DB_URL": "postgres://u:p@h/db", "API_KEY": "k", "LEVEL": "info"});
        let m = masked("env", &env);
        assert_eq!(m["DB_URL"], "postgres://u:********@h/db");
        assert_eq!(m["API_KEY"], MASK);
        assert_eq!(m["LEVEL"], "info");
        assert_eq!(
            masked("args", &json!(["--pass=x", "https://a:b@c"]))[1],
            "https://a:********@c"
        );
    }
}
