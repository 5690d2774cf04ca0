//! `[[alerts.sinks]]`: where alert notifications go. Checked key by key like `[[services]]`,
//! then: names (a sink's kind when unnamed) valid and unique; a webhook or Slack sink has an
//! http(s) `url`; a Telegram sink a `chat_id`, one source of its bot token (`token_env` or
//! `token_file`, never the token itself in the file) and an http(s) `base_url`; each kind only
//! the keys it uses.

use std::collections::BTreeSet;

use super::error::ConfigError;
use super::model::{Config, SinkKind};
use super::schema::{KeySpec, Kind};
use super::services::{ServiceValues, TableArray, err, valid_name};
use crate::limits::MAX_ALERT_SINKS_COUNT;

const fn key(key: &'static str, kind: Kind, default: &'static str, doc: &'static str) -> KeySpec {
    KeySpec {
        section: "alerts.sinks",
        key,
        kind,
        default,
        doc,
        env_alias: None,
    }
}

/// The keys of one `[[alerts.sinks]]` table.
pub const SINK_KEYS: &[KeySpec] = &[
    key(
        "name",
        Kind::Text,
        "\"\"",
        "Unique name the outbox records deliveries by (a-z, 0-9, '-', '_'); empty = the kind.",
    ),
    key(
        "kind",
        Kind::Choice(&["webhook", "slack", "telegram", "log"]),
        "\"log\"",
        "webhook: POST Alertmanager-style JSON {\"status\", \"alerts\": [...]} to url; slack: POST {\"text\"} to a Slack-compatible incoming webhook url; telegram: the Bot API's sendMessage at base_url; log: a line in the supervisor's log.",
    ),
    key(
        "url",
        Kind::Text,
        "\"\"",
        "webhook and slack: the http(s) URL posted to. Validation and delivery errors never echo it; `config show` and a reload's diff show it as any URL (only a password in its user information is masked): treat a Slack webhook URL shown there as exposed.",
    ),
    key(
        "base_url",
        Kind::Text,
        "\"https://api.telegram.org\"",
        "telegram: the Bot API's base URL (POST {base_url}/bot<token>/sendMessage).",
    ),
    key(
        "chat_id",
        Kind::Text,
        "\"\"",
        "telegram: the chat the bot writes to.",
    ),
    key(
        "token_env",
        Kind::Text,
        "\"\"",
        "telegram: the environment variable holding the bot token (the token never appears in logs, the journal, errors or status).",
    ),
    key(
        "token_file",
        Kind::Text,
        "\"\"",
        "telegram: a file holding the bot token (instead of token_env; read at start, at most 4 KiB, surrounding whitespace ignored).",
    ),
    key(
        "min_severity",
        Kind::Choice(crate::alerts::Severity::NAMES),
        "\"warning\"",
        "The lowest severity this sink takes (info, warning, critical): routing by severity; an escalated group reaches the sinks of the next severity up.",
    ),
];

pub const SINKS: TableArray = TableArray {
    name: "alerts.sinks",
    keys: SINK_KEYS,
    max: MAX_ALERT_SINKS_COUNT,
    required: &["kind"],
};

/// Whether `url` is an absolute http(s) URL with a host.
pub fn is_http_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    rest.is_some_and(|r| {
        let host = r.split(['/', '?', '#']).next().unwrap_or("");
        !host.is_empty() && !url.chars().any(char::is_whitespace)
    })
}

pub fn check(config: &Config, values: &[ServiceValues]) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    let origin = |i: usize, key: &str| SINKS.origin(values, i, key);
    let mut names = BTreeSet::new();
    for (i, s) in config.alerts.sinks.iter().enumerate() {
        let id = s.id();
        let mut push = |key: &str, message: String, help: &str| {
            errors.push(err(
                origin(i, key),
                format!("[[alerts.sinks]] {id}: {message}"),
                help,
            ));
        };
        if !valid_name(id) {
            push(
                "name",
                format!("name {id:?} is not a valid sink name"),
                "use 1-64 characters of a-z, 0-9, '-' and '_'",
            );
        }
        if !names.insert(id.to_owned()) {
            push(
                "name",
                format!("a second sink named {id:?}"),
                "give each sink a unique name (two sinks of one kind need names)",
            );
        }
        let uses_url = matches!(s.kind, SinkKind::Webhook | SinkKind::Slack);
        if uses_url && !is_http_url(&s.url) {
            // The URL itself may carry a secret (a Slack webhook's path): not echoed.
            push(
                "url",
                format!(
                    "url is {} (needs an http:// or https:// URL with a host)",
                    if s.url.is_empty() {
                        "empty"
                    } else {
                        "not an http(s) URL"
                    }
                ),
                "set url = \"https://hooks.example.com/...\"",
            );
        }
        if !uses_url && !s.url.is_empty() {
            push(
                "url",
                format!(
                    "url applies to webhook and slack sinks, not {}",
                    s.kind.as_str()
                ),
                "remove url (a telegram sink uses base_url)",
            );
        }
        let telegram = s.kind == SinkKind::Telegram;
        if telegram {
            if s.chat_id.trim().is_empty() {
                push(
                    "chat_id",
                    "chat_id is empty".into(),
                    "set chat_id = \"<the chat's id>\"",
                );
            }
            if s.token_env.is_empty() == s.token_file.is_empty() {
                push(
                    "token_env",
                    "needs exactly one of token_env and token_file".into(),
                    "set token_env = \"TELEGRAM_BOT_TOKEN\" (the variable's name) or token_file = \"/path/to/token\"",
                );
            }
            if !is_http_url(&s.base_url) {
                push(
                    "base_url",
                    format!("base_url {:?} is not an http(s) URL", s.base_url),
                    "keep the default https://api.telegram.org or set a http(s) URL",
                );
            }
        } else {
            for (k, v) in [
                ("chat_id", &s.chat_id),
                ("token_env", &s.token_env),
                ("token_file", &s.token_file),
            ] {
                if !v.is_empty() {
                    push(
                        k,
                        format!("{k} applies to telegram sinks only"),
                        "remove it, or set kind = \"telegram\"",
                    );
                }
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use crate::config::load;

    fn errors(toml: &str) -> String {
        match load(
            Some(crate::config::Source {
                path: "b.toml",
                text: toml,
            }),
            &[],
        ) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn sinks_are_read_with_defaults_and_checked() {
        let ok = load(
            Some(crate::config::Source {
                path: "b.toml",
                text: "[alerts]\ngroup_wait_secs = 0\n[[alerts.sinks]]\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/x\"\n[[alerts.sinks]]\nkind = \"telegram\"\nchat_id = \"42\"\ntoken_env = \"TG\"\nmin_severity = \"critical\"\n",
            }),
            &[],
        );
        let Ok(c) = ok else {
            panic!("valid sinks refused");
        };
        assert_eq!(c.alerts.group_wait_secs, 0);
        assert_eq!(c.alerts.sinks.len(), 2);
        assert_eq!(c.alerts.sinks[1].base_url, "https://api.telegram.org");
        assert_eq!(c.alerts.sinks[1].id(), "telegram");
        assert_eq!(
            c.alerts.sinks[0].min_severity,
            crate::alerts::Severity::Warning
        );
        assert!(crate::config::builtin().is_ok_and(|c| c.alerts.sinks.is_empty()));
    }

    #[test]
    fn bad_sinks_say_what_to_fix_without_echoing_a_url() {
        let e =
            errors("[[alerts.sinks]]\nkind = \"slack\"\nurl = \"ftp://hooks/T000/SECRETPATH\"\n");
        assert!(e.contains("not an http(s) URL"), "{e}");
        assert!(!e.contains("SECRETPATH"), "{e}");
        let e = errors("[[alerts.sinks]]\nkind = \"telegram\"\nchat_id = \"1\"\n");
        assert!(e.contains("exactly one of token_env and token_file"), "{e}");
        let e = errors("[[alerts.sinks]]\nkind = \"log\"\n[[alerts.sinks]]\nkind = \"log\"\n");
        assert!(e.contains("a second sink named \"log\""), "{e}");
        let e = errors("[[alerts.sinks]]\nkind = \"pager\"\n");
        assert!(e.contains("kind"), "{e}");
        let e = errors("[alerts]\nheartbeat_url = \"udp://x\"\n");
        assert!(e.contains("heartbeat_url"), "{e}");
        let e = errors("[alerts]\nretry_base_ms = 5000\nretry_max_ms = 100\n");
        assert!(e.contains("retry_max_ms"), "{e}");
    }
}
