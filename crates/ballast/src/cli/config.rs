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

/// The value with secrets masked by the one predicate every printer of configuration values
/// uses ([`ballast_core::config::secret`]): a key whose name says secret, in a service's `env`
/// table every variable whose name does, a service's `args` that name one, the password of any
/// URL and a bearer token.
fn masked(key: &str, value: &Json) -> Json {
    ballast_core::config::secret::mask_value(key, value)
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
    let rows = rows(&loaded.settings, &dir);
    if json {
        out!(
            "{}",
            serde_json::to_string_pretty(&document(file, loaded.choice.how, &rows))?
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

/// One effective value: section, key, value (secrets masked), origin.
type Row = (String, String, Json, String);

/// Every effective value of `settings`, the data directory as `dir` resolves it.
fn rows(settings: &[ballast_core::config::Setting], dir: &crate::settings::DataDir) -> Vec<Row> {
    settings
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
        .collect()
}

/// `ballast config show --json`'s document.
fn document(file: Option<String>, how: &str, rows: &[Row]) -> Json {
    let settings: Vec<Json> = rows
        .iter()
        .map(|(section, key, value, origin)| {
            json!({"section": section, "key": key, "value": value, "origin": origin})
        })
        .collect();
    json!({ "file": file, "how": how, "settings": settings })
}

/// The effective configuration of `choice`'s file, read now, as `ballast config show
/// --json` prints it (the API's `/v1/config`), with `dir` the data directory in use; its
/// errors as `{"error", "errors"}`.
pub fn effective(choice: &crate::settings::ConfigChoice, dir: &crate::settings::DataDir) -> Json {
    match crate::settings::load_explained(choice.path.as_deref()) {
        Ok((_, settings)) => {
            let file = choice.absolute().map(|p| p.display().to_string());
            document(file, choice.how, &rows(&settings, dir))
        }
        Err(e) => json!({
            "error": "the configuration file does not validate now (the supervisor runs the one it loaded)",
            "errors": e.0.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }),
    }
}

/// What `GET /v1/config` answers: the configuration in force (the one the supervisor loaded or
/// last reloaded, `run/engine-config.json`'s hash) — the file's values and origins while the
/// file is that configuration; once the file is edited and not reloaded, the document of the
/// configuration in force as last seen, with `file_changed` saying the file holds something
/// else (`ballast reload` applies it). Never the edited file's values as if they were in force.
pub fn in_force(
    choice: &crate::settings::ConfigChoice,
    dir: &crate::settings::DataDir,
    seen: &std::sync::Mutex<Option<(String, Json)>>,
) -> Json {
    let layout = ballast_store::Layout::new(&dir.path);
    let loaded = ballast_store::files::engine_config::read(&ballast_store::RealStorage, &layout)
        .map(|f| f.hash)
        .ok();
    let file = super::reload::file_hash(choice.path.as_deref());
    let mut seen = seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if loaded.as_deref() == Some(file.as_str()) {
        let doc = effective(choice, dir);
        *seen = Some((file, doc.clone()));
        return doc;
    }
    let note = "the configuration file changed since it was loaded: these are the values in force; `ballast reload` applies the file (`--dry-run` shows the plan)";
    match &*seen {
        Some((hash, doc)) if loaded.as_deref() == Some(hash.as_str()) => {
            let mut doc = doc.clone();
            if let Some(o) = doc.as_object_mut() {
                o.insert("file_changed".into(), json!(true));
                o.insert("note".into(), json!(note));
            }
            doc
        }
        _ => json!({
            "error": "the configuration in force is not the file as it is now, and its values were not seen before the file changed",
            "file_changed": true,
            "note": note,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_url_passwords_are_masked() {
        let env = json!({"DB_URL": "postgres://u:p@h/db", "API_KEY": "k", "DB_PASS": "p",
            "PGPWD": "w", "AUTH": "Bearer b", "LEVEL": "info"});
        let m = masked("env", &env);
        assert_eq!(m["DB_URL"], "postgres://u:***@h/db");
        for k in ["API_KEY", "DB_PASS", "PGPWD", "AUTH"] {
            assert_eq!(m[k], "***", "{k}");
        }
        assert_eq!(m["LEVEL"], "info");
        assert_eq!(
            masked("args", &json!(["--pass", "hunter2", "-k", "x"])),
            json!(["***", "***", "***", "***"])
        );
        assert_eq!(
            masked("readiness_url", &json!("https://a:b@c")),
            "https://a:***@c"
        );
    }
}
