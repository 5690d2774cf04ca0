//! `[[checks]]`: the user's own health checks (SPEC §5). Checked key by key, then: names are
//! valid, unique and not a built-in subsystem's; each kind has what it needs; thresholds are
//! ordered; dependencies name known subsystems.

use std::collections::BTreeSet;

use super::error::{ConfigError, Origin};
use super::model::{CheckConfig, CheckKind, Config};
use super::schema::CHECK_KEYS;
use super::services::{ServiceValues, TableArray, err, valid_name};
use super::suggest::closest;
use crate::limits::MAX_CHECKS_COUNT;

/// The subsystems Ballast registers itself (a check may not take their names).
pub const BUILTIN_SUBSYSTEMS: &[&str] = &[
    "engine",
    "data_feed",
    "broker",
    "execution",
    "guard",
    "journal",
    "universe",
    "shadow",
    "pipeline",
    "alerts",
    "logging",
    "resources",
    "heal",
];

pub const CHECKS: TableArray = TableArray {
    name: "checks",
    keys: CHECK_KEYS,
    max: MAX_CHECKS_COUNT,
    required: &["name"],
};

pub fn check(config: &Config, values: &[ServiceValues]) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    let origin = |i: usize, key: &str| CHECKS.origin(values, i, key);
    let mut push = |origin: Origin, message: String, help: String| {
        errors.push(err(origin, message, help));
    };
    let mut known: BTreeSet<String> = BUILTIN_SUBSYSTEMS.iter().map(|s| s.to_string()).collect();
    known.extend(
        config
            .services
            .iter()
            .map(|s| crate::health::SubsystemId::Service(s.name.clone()).to_string()),
    );
    known.extend(config.checks.iter().map(|c| c.name.clone()));
    let mut names = BTreeSet::new();
    for (i, c) in config.checks.iter().enumerate() {
        if c.name.is_empty() {
            continue; // reported as missing
        }
        let n = &c.name;
        if !valid_name(n) {
            push(
                origin(i, "name"),
                format!("[[checks]] name {n:?} is not a valid name"),
                "use 1-64 characters of a-z, 0-9, '-' and '_'".into(),
            );
        }
        if BUILTIN_SUBSYSTEMS.contains(&n.as_str()) {
            push(
                origin(i, "name"),
                format!("[[checks]] name {n:?} is a built-in subsystem"),
                "pick another name".into(),
            );
        }
        if !names.insert(n.as_str()) {
            push(
                origin(i, "name"),
                format!("[[checks]] name {n:?} is declared twice"),
                "check names must be unique".into(),
            );
        }
        if c.on_failure == super::model::OnFailure::Disable && c.critical {
            push(
                origin(i, "on_failure"),
                format!(
                    "[[checks]] {n}: on_failure = \"disable\" on a critical check: a critical check is never disabled automatically"
                ),
                "remove on_failure, or make the check supportive (critical = false)".into(),
            );
        }
        let missing = required_key(c);
        if let Some((key, help)) = missing {
            push(
                origin(i, &key),
                format!("[[checks]] {n}: kind {:?} needs {key}", c.kind),
                help,
            );
        }
        if c.kind == CheckKind::FileAge && c.healthy_max_age_secs > c.degraded_max_age_secs {
            push(
                origin(i, "healthy_max_age_secs"),
                format!(
                    "[[checks]] {n}: healthy_max_age_secs {} > degraded_max_age_secs {}",
                    c.healthy_max_age_secs, c.degraded_max_age_secs
                ),
                "the healthy age must not exceed the degraded one".into(),
            );
        }
        if c.kind == CheckKind::FilesPresent && c.degraded_min as usize > c.paths.len() {
            push(
                origin(i, "degraded_min"),
                format!(
                    "[[checks]] {n}: degraded_min {} > the {} paths listed",
                    c.degraded_min,
                    c.paths.len()
                ),
                "lower degraded_min".into(),
            );
        }
        for d in &c.depends_on {
            if !known.contains(d) || d == n {
                let help = match closest(d, known.iter().map(String::as_str)) {
                    Some(s) if d != n => format!("did you mean {s:?}?"),
                    _ => format!(
                        "known subsystems: {}",
                        known.iter().cloned().collect::<Vec<_>>().join(", ")
                    ),
                };
                push(
                    origin(i, "depends_on"),
                    format!("[[checks]] {n}: depends on unknown subsystem {d:?}"),
                    help,
                );
            }
        }
    }
    errors
}

/// The key a check of this kind cannot do without, with how to set it, when it is missing.
fn required_key(c: &CheckConfig) -> Option<(String, String)> {
    let need = |key: &str, ok: bool, help: &str| (!ok).then(|| (key.to_owned(), help.to_owned()));
    match c.kind {
        CheckKind::FileAge => need(
            "path",
            !c.path.is_empty(),
            "set path = \"/srv/bot/heartbeat\"",
        ),
        CheckKind::FilesPresent => need(
            "paths",
            !c.paths.is_empty(),
            "set paths = [\"models/a.bin\", \"models/b.bin\"]",
        ),
        CheckKind::Http => need(
            "url",
            c.url.starts_with("http://"),
            "set url = \"http://127.0.0.1:PORT/health\" (plain http: the check is local)",
        ),
        CheckKind::Tcp => need(
            "address",
            c.address.contains(':'),
            "set address = \"127.0.0.1:5432\"",
        ),
        CheckKind::Process => need(
            "pattern",
            !c.pattern.is_empty(),
            "set pattern to text of the process's command line",
        ),
        CheckKind::Command => need(
            "command",
            !c.command.is_empty(),
            "set command = \"/usr/local/bin/check-bot\"",
        ),
    }
}
