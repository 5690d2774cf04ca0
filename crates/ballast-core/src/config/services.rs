//! `[[services]]`: the user's services the supervisor runs (their bot in any language, a data
//! daemon, …). Each table is checked key by key like a section; then the rules between
//! services: unique names, dependencies that exist and do not form a cycle, the settings each
//! readiness mode needs, and a failure budget that can trip.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use serde_json::Value as Json;
use toml::de::{DeArray, DeValue};

use super::error::{ConfigError, Origin};
use super::load::{check_toml, default_value, type_name};
use super::model::{Config, Readiness};
use super::schema::{KeySpec, SERVICE_KEYS};
use super::suggest::closest;
use crate::limits::MAX_SERVICES_COUNT;

/// A kind of array of tables (`[[services]]`, `[[artifacts]]`): its keys, bound and required
/// keys.
pub struct TableArray {
    pub name: &'static str,
    pub keys: &'static [KeySpec],
    pub max: usize,
    pub required: &'static [&'static str],
}

pub const SERVICES: TableArray = TableArray {
    name: "services",
    keys: SERVICE_KEYS,
    max: MAX_SERVICES_COUNT,
    required: &["name", "command"],
};

impl TableArray {
    /// Where `key` of table `i` was written — the table itself when the key was left to its
    /// default.
    pub fn origin(&self, values: &[ServiceValues], i: usize, key: &str) -> Origin {
        values
            .get(i)
            .map(|v| {
                v.origins
                    .get(key)
                    .cloned()
                    .unwrap_or_else(|| v.table.clone())
            })
            .unwrap_or(Origin::Default {
                section: self.name.into(),
                key: key.into(),
            })
    }
}

/// A service or check name: 1-64 characters of a-z, 0-9, '-' and '_'.
pub(super) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// One table of an array after key checks.
#[derive(Debug, Clone)]
pub struct ServiceValues {
    pub json: Json,
    /// Where each key was written.
    pub origins: BTreeMap<&'static str, Origin>,
    /// Where the table starts.
    pub table: Origin,
}

pub(super) fn err(origin: Origin, message: String, help: impl Into<String>) -> ConfigError {
    ConfigError {
        origin,
        message,
        help: Some(help.into()),
    }
}

pub fn read(
    kind: &TableArray,
    tables: &DeArray<'_>,
    at: &dyn Fn(Range<usize>) -> Origin,
    errors: &mut Vec<ConfigError>,
) -> Vec<ServiceValues> {
    let mut out = Vec::new();
    for (i, item) in tables.iter().enumerate() {
        let table_origin = at(item.span());
        let name = kind.name;
        if i == kind.max {
            errors.push(err(
                table_origin,
                format!("more than {} [[{name}]] tables", kind.max),
                format!("declare at most {}", kind.max),
            ));
            break;
        }
        let DeValue::Table(t) = item.get_ref() else {
            errors.push(err(
                table_origin,
                format!(
                    "[[{name}]] entries must be tables, found {}",
                    type_name(item.get_ref())
                ),
                format!("write it as a [[{name}]] table"),
            ));
            continue;
        };
        let mut values = serde_json::Map::new();
        let mut origins = BTreeMap::new();
        for (key, value) in t.iter() {
            let key_str: &str = key.get_ref();
            let Some(spec) = kind.keys.iter().find(|k| k.key == key_str) else {
                let help = match closest(key_str, kind.keys.iter().map(|k| k.key)) {
                    Some(s) => format!("did you mean {s:?}?"),
                    None => format!(
                        "keys of [[{name}]]: {}",
                        kind.keys
                            .iter()
                            .map(|k| k.key)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                errors.push(err(
                    at(key.span()),
                    format!("unknown key {key_str:?} in [[{name}]]"),
                    help,
                ));
                continue;
            };
            match check_toml(spec, value.get_ref()) {
                Ok(json) => {
                    values.insert(spec.key.to_owned(), json);
                    origins.insert(spec.key, at(key.span()));
                }
                Err((message, span)) => errors.push(err(
                    at(span.unwrap_or_else(|| value.span())),
                    format!("[[{name}]] {}: {message}", spec.key),
                    format!("expected {}", spec.allowed()),
                )),
            }
        }
        for spec in kind.keys {
            if !values.contains_key(spec.key) {
                if let Ok(json) = default_value(spec) {
                    values.insert(spec.key.to_owned(), json);
                }
            }
        }
        for required in kind.required {
            if values
                .get(*required)
                .and_then(Json::as_str)
                .is_none_or(str::is_empty)
            {
                errors.push(err(
                    table_origin.clone(),
                    format!("[[{name}]] entry {} has no {required}", i + 1),
                    format!("set {required} = \"...\""),
                ));
            }
        }
        out.push(ServiceValues {
            json: Json::Object(values),
            origins,
            table: table_origin,
        });
    }
    out
}

/// The rules between services (and with the engine).
pub fn check(config: &Config, values: &[ServiceValues]) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    let origin = |i: usize, key: &str| SERVICES.origin(values, i, key);
    let mut names = BTreeSet::new();
    for (i, s) in config.services.iter().enumerate() {
        if s.name.is_empty() {
            continue; // reported as missing
        }
        if !valid_name(&s.name) {
            errors.push(err(
                origin(i, "name"),
                format!("[[services]] name {:?} is not a valid service name", s.name),
                "use 1-64 characters of a-z, 0-9, '-' and '_'",
            ));
        }
        if s.name == "engine" {
            errors.push(err(
                origin(i, "name"),
                "[[services]] name \"engine\" is reserved for the built-in engine".into(),
                "pick another name; [engine] enabled controls the built-in one",
            ));
        }
        if s.name == "supervisor" {
            errors.push(err(
                origin(i, "name"),
                "[[services]] name \"supervisor\" is reserved: logs/supervisor.log is the supervisor's own log".into(),
                "pick another name",
            ));
        }
        if !names.insert(s.name.as_str()) {
            errors.push(err(
                origin(i, "name"),
                format!("[[services]] name {:?} is declared twice", s.name),
                "service names must be unique",
            ));
        }
        match s.readiness {
            Readiness::Http if !s.readiness_url.starts_with("http://") => {
                errors.push(err(origin(i, "readiness_url"), format!("[[services]] {}: readiness = \"http\" needs readiness_url (a plain http:// URL: the probe is local), found {:?}", s.name, s.readiness_url), "set readiness_url = \"http://127.0.0.1:PORT/ready\""));
            }
            Readiness::Heartbeat if s.heartbeat_file.is_empty() => {
                errors.push(err(
                    origin(i, "heartbeat_file"),
                    format!(
                        "[[services]] {}: readiness = \"heartbeat\" needs heartbeat_file",
                        s.name
                    ),
                    "set heartbeat_file to the file the service touches",
                ));
            }
            _ => {}
        }
        if s.heartbeat_max_age_secs > 0 && s.heartbeat_file.is_empty() {
            errors.push(err(
                origin(i, "heartbeat_max_age_secs"),
                format!(
                    "[[services]] {}: heartbeat_max_age_secs needs heartbeat_file",
                    s.name
                ),
                "set heartbeat_file, or heartbeat_max_age_secs = 0",
            ));
        }
        if let Some(why) = s.restart_rules().never_trips() {
            errors.push(err(
                origin(i, "restart_window_secs"),
                format!("[[services]] {}: {why}", s.name),
                "lengthen restart_window_secs or lower max_restarts",
            ));
        }
    }
    errors.extend(check_dependencies(config, &origin));
    errors.extend(check_fallbacks(config, &origin));
    errors
}

/// `on_failure = "disable"` only on supportive services; a `fallback` names another declared
/// supportive service that is no primary itself and covers no other (no chains, no cycles).
fn check_fallbacks(config: &Config, origin: &dyn Fn(usize, &str) -> Origin) -> Vec<ConfigError> {
    use super::model::{OnFailure, ServiceKind};
    let mut errors = Vec::new();
    let by_name = |n: &str| config.services.iter().find(|s| s.name == n);
    for (i, s) in config.services.iter().enumerate() {
        if s.on_failure == OnFailure::Disable && s.kind == ServiceKind::Critical {
            errors.push(err(
                origin(i, "on_failure"),
                format!(
                    "[[services]] {}: on_failure = \"disable\" on a critical service: a critical service is never disabled",
                    s.name
                ),
                "remove on_failure, or make the service supportive (kind = \"supportive\")",
            ));
        }
        // A fallback stands by while its primary runs: a dependency on it would wait forever.
        for (j, p) in config.services.iter().enumerate() {
            if p.fallback.is_empty() || !s.depends_on.contains(&p.fallback) {
                continue;
            }
            errors.push(err(
                origin(i, "depends_on"),
                format!(
                    "[[services]] {}: depends_on {:?}, the fallback of {:?} ({}): a fallback stands by (STANDBY) while {:?} runs, so {} would wait for it forever",
                    s.name,
                    p.fallback,
                    p.name,
                    origin(j, "fallback"),
                    p.name,
                    s.name
                ),
                format!(
                    "depend on {:?} (the service it covers) instead of {:?}",
                    p.name, p.fallback
                ),
            ));
        }
        let f = s.fallback.as_str();
        if f.is_empty() {
            continue;
        }
        let why = match by_name(f) {
            _ if f == s.name => Some("names the service itself".to_owned()),
            None => Some(
                match closest(f, config.services.iter().map(|s| s.name.as_str())) {
                    Some(n) => format!("is not declared (did you mean {n:?}?)"),
                    None => "is not declared".to_owned(),
                },
            ),
            Some(b) if b.kind == ServiceKind::Critical => Some(
                "is a critical service: a fallback stands by, it is not started with the others"
                    .to_owned(),
            ),
            Some(b) if !b.fallback.is_empty() => Some(format!(
                "has a fallback of its own ({:?}): fallbacks do not chain",
                b.fallback
            )),
            Some(_) => config
                .services
                .iter()
                .find(|o| o.name != s.name && o.fallback == f)
                .map(|o| {
                    format!(
                        "is already the fallback of {:?}: one fallback covers one service",
                        o.name
                    )
                })
                .or_else(|| {
                    config
                        .services
                        .iter()
                        .any(|o| o.fallback == s.name)
                        .then(|| {
                            format!(
                                "is set while {:?} is itself a fallback: fallbacks do not chain",
                                s.name
                            )
                        })
                }),
        };
        if let Some(why) = why {
            errors.push(err(
                origin(i, "fallback"),
                format!("[[services]] {}: fallback {f:?} {why}", s.name),
                "name another declared supportive service that has no fallback of its own, or remove fallback",
            ));
        }
    }
    errors
}

/// Dependencies exist, are not the service itself, and form no cycle.
fn check_dependencies(config: &Config, origin: &dyn Fn(usize, &str) -> Origin) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    let index: BTreeMap<&str, usize> = config
        .services
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    for (i, s) in config.services.iter().enumerate() {
        for d in &s.depends_on {
            if d == &s.name {
                errors.push(err(
                    origin(i, "depends_on"),
                    format!("[[services]] {} depends on itself", s.name),
                    "remove it from depends_on",
                ));
            } else if !(index.contains_key(d.as_str()) || (d == "engine" && config.engine.enabled))
            {
                let help = match closest(d, index.keys().copied()) {
                    Some(n) => format!("did you mean {n:?}?"),
                    None => "declare that service, or remove the dependency".into(),
                };
                errors.push(err(
                    origin(i, "depends_on"),
                    format!(
                        "[[services]] {} depends on {d:?}, which is not declared",
                        s.name
                    ),
                    help,
                ));
            }
        }
    }
    if let Some(cycle) = find_cycle(config, &index) {
        let first = index.get(cycle[0].as_str()).copied().unwrap_or(0);
        errors.push(err(
            origin(first, "depends_on"),
            format!("[[services]] dependency cycle: {}", cycle.join(" -> ")),
            "break the cycle: services start in dependency order",
        ));
    }
    errors
}

fn find_cycle(config: &Config, index: &BTreeMap<&str, usize>) -> Option<Vec<String>> {
    // 0 = unvisited, 1 = on the stack, 2 = done.
    let mut mark = vec![0u8; config.services.len()];
    fn visit(
        i: usize,
        config: &Config,
        index: &BTreeMap<&str, usize>,
        mark: &mut [u8],
        path: &mut Vec<usize>,
    ) -> Option<Vec<String>> {
        mark[i] = 1;
        path.push(i);
        for d in &config.services[i].depends_on {
            let Some(&j) = index.get(d.as_str()) else {
                continue;
            };
            if j == i {
                continue; // reported separately
            }
            if mark[j] == 1 {
                let start = path.iter().position(|p| *p == j).unwrap_or(0);
                let mut c: Vec<String> = path[start..]
                    .iter()
                    .map(|k| config.services[*k].name.clone())
                    .collect();
                c.push(config.services[j].name.clone());
                return Some(c);
            }
            if mark[j] == 0 {
                if let Some(c) = visit(j, config, index, mark, path) {
                    return Some(c);
                }
            }
        }
        path.pop();
        mark[i] = 2;
        None
    }
    for i in 0..config.services.len() {
        if mark[i] == 0 {
            if let Some(c) = visit(i, config, index, &mut mark, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

/// The effective settings of one array of tables (`services`, `artifacts`, `checks`), each
/// key with where it was written (the built-in default where it was not).
pub(super) fn settings(array: &str, tables: &[ServiceValues]) -> Vec<super::load::Setting> {
    let mut out = Vec::new();
    for (i, t) in tables.iter().enumerate() {
        let Json::Object(map) = &t.json else { continue };
        let name = map.get("name").and_then(Json::as_str).unwrap_or("");
        let section = format!("{array}[{i}] {name}");
        for (key, value) in map {
            let origin = t
                .origins
                .iter()
                .find(|(k, _)| **k == key.as_str())
                .map(|(_, o)| o.clone())
                .unwrap_or_else(|| Origin::Default {
                    section: format!("[{array}]"),
                    key: key.clone(),
                });
            out.push(super::load::Setting {
                section: section.clone(),
                key: key.clone(),
                value: value.clone(),
                origin,
            });
        }
    }
    out
}
