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

/// Words in a name that mark its value as a secret.
const SECRET_WORDS: [&str; 7] = [
    "SECRET",
    "TOKEN",
    "PASSWORD",
    "PASSWD",
    "KEY",
    "CREDENTIAL",
    "AUTH",
];
const MASK: &str = "********";

fn is_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_WORDS.iter().any(|w| upper.contains(w))
}

/// The value with secrets masked: a key whose name says secret, and in a service's `env`
/// table every variable whose name does.
fn masked(key: &str, value: &Json) -> Json {
    if is_secret(key) && !value.as_str().is_some_and(str::is_empty) {
        return json!(MASK);
    }
    match value {
        Json::Object(map) if key == "env" => Json::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = if is_secret(k) { json!(MASK) } else { v.clone() };
                    (k.clone(), v)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

pub fn config(cmd: ConfigCommand) -> anyhow::Result<Exit> {
    let ConfigCommand::Show { json, config } = cmd;
    let loaded = match config.load() {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    let file = loaded.choice.absolute().map(|p| p.display().to_string());
    let rows: Vec<(String, String, Json, String)> = loaded
        .settings
        .iter()
        .map(|s| {
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
            out!("\n[{sec}]");
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
