//! `[[artifacts]]`: files and directories of user services that the healer keeps healthy
//! (SPEC §4, declared artifacts). Checked key by key like `[[services]]`, then: the service
//! is declared, the path is set, a json default is an object holding every required key, a
//! heartbeat has a max age.

use super::error::{ConfigError, Origin};
use super::model::{ArtifactKind, Config};
use super::schema::ARTIFACT_KEYS;
use super::services::{ServiceValues, TableArray, err};
use super::suggest::closest;
use crate::limits::MAX_ARTIFACTS_COUNT;

pub const ARTIFACTS: TableArray = TableArray {
    name: "artifacts",
    keys: ARTIFACT_KEYS,
    max: MAX_ARTIFACTS_COUNT,
    required: &["service", "path"],
};

pub fn check(config: &Config, values: &[ServiceValues]) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    let origin = |i: usize, key: &str| ARTIFACTS.origin(values, i, key);
    let mut push = |origin: Origin, message: String, help: String| {
        errors.push(err(origin, message, help));
    };
    for (i, a) in config.artifacts.iter().enumerate() {
        if a.service.is_empty() || a.path.is_empty() {
            continue; // reported as missing
        }
        if !config.services.iter().any(|s| s.name == a.service) {
            let help = match closest(&a.service, config.services.iter().map(|s| s.name.as_str())) {
                Some(n) => format!("did you mean {n:?}?"),
                None => "declare the service in a [[services]] table first".into(),
            };
            push(
                origin(i, "service"),
                format!(
                    "[[artifacts]] {}: service {:?} is not declared",
                    a.path, a.service
                ),
                help,
            );
        }
        match a.kind {
            ArtifactKind::Json => match serde_json::from_str::<serde_json::Value>(&a.default) {
                Ok(serde_json::Value::Object(map)) => {
                    for k in &a.required_keys {
                        if !map.contains_key(k) {
                            push(
                                origin(i, "required_keys"),
                                format!(
                                    "[[artifacts]] {}: required key {k:?} is not in default",
                                    a.path
                                ),
                                "add it to default: a missing key is filled from there".into(),
                            );
                        }
                    }
                }
                Ok(_) => push(
                    origin(i, "default"),
                    format!("[[artifacts]] {}: default must be a JSON object", a.path),
                    "write it as default = '{\"key\": \"value\"}'".into(),
                ),
                Err(e) => push(
                    origin(i, "default"),
                    format!("[[artifacts]] {}: default is not JSON: {e}", a.path),
                    "write it as default = '{\"key\": \"value\"}'".into(),
                ),
            },
            ArtifactKind::Heartbeat if a.max_age_secs == 0 => push(
                origin(i, "max_age_secs"),
                format!("[[artifacts]] {}: a heartbeat needs max_age_secs", a.path),
                "set max_age_secs to the age after which the service is restarted".into(),
            ),
            _ => {}
        }
    }
    errors
}
