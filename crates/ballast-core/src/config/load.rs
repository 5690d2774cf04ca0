//! Load and validate a configuration: TOML text + environment → [`Config`] or every error at
//! once. Pure: the caller reads the file and the environment and passes them in.

use std::collections::BTreeMap;
use std::ops::Range;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::Value as Json;
use toml::de::{DeTable, DeValue};

use super::error::{ConfigError, ConfigErrors, Origin};
use super::model::Config;
use super::schema::{self, KEYS, KeySpec, Kind, SECTIONS, quoted_list};
use super::suggest::closest;
use crate::domain::Symbol;
use crate::limits::{MAX_LIST_ENTRIES_COUNT, MAX_SYMBOLS_COUNT};

/// The config file's name (for messages) and text.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub path: &'a str,
    pub text: &'a str,
}

/// Prefix of the environment overrides.
pub const ENV_PREFIX: &str = "BALLAST_";

/// Validate and build the configuration. `file` is `None` when no config file is used (the
/// built-in paper configuration). `env` is the process environment (only variables that are
/// overrides are looked at: `BALLAST_<SECTION>__<KEY>` and the guard aliases).
pub fn load(file: Option<Source<'_>>, env: &[(String, String)]) -> Result<Config, ConfigErrors> {
    load_explained(file, env).map(|(config, _)| config)
}

/// One effective setting and where it came from (`ballast config show`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// `general`, or `services[0] bot` for a key of an array of tables.
    pub section: String,
    pub key: String,
    pub value: Json,
    pub origin: Origin,
}

/// As [`load`], plus every effective setting with its origin, in schema order (the arrays of
/// tables after the sections, in the order declared).
pub fn load_explained(
    file: Option<Source<'_>>,
    env: &[(String, String)],
) -> Result<(Config, Vec<Setting>), ConfigErrors> {
    load_partial(file, env).map_err(|(errors, _)| errors)
}

/// As [`load_explained`]; when it fails, the errors come with the effective settings anyway
/// (every key that was valid, with its origin; a rejected one at its default), so that the
/// caller's checks of what the configuration names on disk (a replay file) run and are
/// reported with these errors — every error at once, not the next one after a fix.
pub fn load_partial(
    file: Option<Source<'_>>,
    env: &[(String, String)],
) -> Result<(Config, Vec<Setting>), (ConfigErrors, Vec<Setting>)> {
    let mut loader = Loader::default();
    if let Some(src) = file {
        loader.read_file(src);
    }
    loader.read_env(env);
    loader.finish()
}

#[derive(Default)]
struct Loader {
    values: BTreeMap<(&'static str, &'static str), (Json, Origin)>,
    errors: Vec<ConfigError>,
    /// Keys whose value was rejected (their default stands in for the cross-field rules).
    bad_keys: Vec<(&'static str, &'static str)>,
    syntax_error: bool,
    /// `[[services]]`: each service's values and where each key came from.
    services: Vec<super::services::ServiceValues>,
    /// `[[artifacts]]` and `[[checks]]`, likewise.
    artifacts: Vec<super::services::ServiceValues>,
    checks: Vec<super::services::ServiceValues>,
    /// `[[alerts.sinks]]`, likewise.
    sinks: Vec<super::services::ServiceValues>,
}

/// The object of `section` in `tree` (a sub-table's inside its parent's), created if missing.
fn section_map<'a>(
    tree: &'a mut serde_json::Map<String, Json>,
    section: &str,
) -> Option<&'a mut serde_json::Map<String, Json>> {
    let mut map = tree;
    for part in section.split('.') {
        match map
            .entry(part)
            .or_insert_with(|| Json::Object(serde_json::Map::new()))
        {
            Json::Object(inner) => map = inner,
            _ => return None,
        }
    }
    Some(map)
}

/// 1-based line and column (in characters) of a byte offset.
pub(super) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, col)
}

impl Loader {
    fn error(&mut self, origin: Origin, message: String, help: Option<String>) {
        self.errors.push(ConfigError {
            origin,
            message,
            help,
        });
    }

    fn read_file(&mut self, src: Source<'_>) {
        let at = |span: Range<usize>| {
            let (line, col) = line_col(src.text, span.start);
            Origin::File {
                path: src.path.to_owned(),
                line,
                col,
            }
        };
        let (doc, syntax_errors) = DeTable::parse_recoverable(src.text);
        if !syntax_errors.is_empty() {
            self.syntax_error = true;
            for e in syntax_errors {
                let origin = at(e.span().unwrap_or(0..0));
                self.error(
                    origin,
                    format!("TOML syntax: {}", e.message().trim()),
                    Some("fix the syntax; `ballast init` writes a valid, commented sample".into()),
                );
            }
            return;
        }
        for (name, item) in doc.get_ref().iter() {
            let name_str: &str = name.get_ref();
            let array = match name_str {
                "services" => Some((&super::services::SERVICES, &mut self.services)),
                "artifacts" => Some((&super::artifacts::ARTIFACTS, &mut self.artifacts)),
                "checks" => Some((&super::checks::CHECKS, &mut self.checks)),
                _ => None,
            };
            if let Some((kind, slot)) = array {
                match item.get_ref() {
                    DeValue::Array(tables) => {
                        *slot = super::services::read(kind, tables, &at, &mut self.errors);
                    }
                    other => self.errors.push(ConfigError {
                        origin: at(name.span()),
                        message: format!(
                            "{name_str} must be [[{name_str}]] tables, found {}",
                            type_name(other)
                        ),
                        help: Some(format!("declare each one in its own [[{name_str}]] table")),
                    }),
                }
                continue;
            }
            let DeValue::Table(table) = item.get_ref() else {
                let help = match KEYS.iter().find(|k| k.key == name_str) {
                    Some(k) => format!("put it under [{}]", k.section),
                    None => "every key belongs to a [section]".into(),
                };
                self.error(
                    at(name.span()),
                    format!("key {name_str:?} is outside any section"),
                    Some(help),
                );
                continue;
            };
            if !schema::section_exists(name_str) {
                let help = unknown_section_help(name_str);
                self.error(
                    at(name.span()),
                    format!("unknown section [{name_str}]"),
                    Some(help),
                );
                continue;
            }
            self.read_table(name_str, table, &at);
        }
    }

    /// The keys of `[section]` (and of its sub-tables that are sections of their own).
    fn read_table(
        &mut self,
        section: &str,
        table: &DeTable<'_>,
        at: &dyn Fn(Range<usize>) -> Origin,
    ) {
        for (key, value) in table.iter() {
            let key_str: &str = key.get_ref();
            // `[[alerts.sinks]]`: an array of tables inside a section.
            if section == "alerts" && key_str == "sinks" {
                match value.get_ref() {
                    DeValue::Array(tables) => {
                        self.sinks = super::services::read(
                            &super::alerts::SINKS,
                            tables,
                            at,
                            &mut self.errors,
                        );
                    }
                    other => self.error(
                        at(key.span()),
                        format!(
                            "sinks must be [[alerts.sinks]] tables, found {}",
                            type_name(other)
                        ),
                        Some("declare each sink in its own [[alerts.sinks]] table".into()),
                    ),
                }
                continue;
            }
            // A sub-table with its own section (`[feed.backup]`).
            let sub = format!("{section}.{key_str}");
            if let DeValue::Table(t) = value.get_ref()
                && schema::section_exists(&sub)
            {
                self.read_table(&sub, t, at);
                continue;
            }
            let Some(spec) = schema::find(section, key_str) else {
                let help = unknown_key_help(section, key_str);
                self.error(
                    at(key.span()),
                    format!("unknown key {key_str:?} in [{section}]"),
                    Some(help),
                );
                continue;
            };
            match check_toml(spec, value.get_ref()) {
                Ok(json) => {
                    self.values
                        .insert((spec.section, spec.key), (json, at(key.span())));
                }
                Err((message, span)) => {
                    self.bad_keys.push((spec.section, spec.key));
                    let origin = at(span.unwrap_or_else(|| value.span()));
                    self.error(
                        origin,
                        format!("[{}] {}: {message}", spec.section, spec.key),
                        Some(format!(
                            "expected {}; default {}",
                            spec.allowed(),
                            spec.default
                        )),
                    );
                }
            }
        }
    }

    fn read_env(&mut self, env: &[(String, String)]) {
        // Aliases first, so that the explicit BALLAST_ form wins when both are set.
        let mut sorted: Vec<&(String, String)> = env.iter().collect();
        sorted.sort_by_key(|(k, _)| (k.starts_with(ENV_PREFIX), k.clone()));
        for (var, text) in sorted {
            let mut text = text.clone();
            let spec = if let Some(spec) = KEYS.iter().find(|k| k.env_alias == Some(var.as_str())) {
                // The seeds' percentage limits are fractions (0.30 = 30 %).
                if var.ends_with("_PCT") {
                    if let Ok(v) = Decimal::from_str(text.trim()) {
                        text = (v * Decimal::ONE_HUNDRED).normalize().to_string();
                    }
                }
                spec
            } else if let Some(rest) = var.strip_prefix(ENV_PREFIX) {
                let Some((section, key)) = rest.split_once("__") else {
                    continue; // BALLAST_HOME and friends are not overrides
                };
                let (section, key) = (section.to_ascii_lowercase(), key.to_ascii_lowercase());
                match schema::find_env(&section, &key) {
                    Some(spec) => spec,
                    None => {
                        let all: Vec<String> = KEYS.iter().map(KeySpec::env_name).collect();
                        let help = match closest(var, all.iter().map(String::as_str)) {
                            Some(s) => format!("did you mean {s}?"),
                            None => "overrides are named BALLAST_<SECTION>__<KEY>, e.g. BALLAST_GUARD__MAX_OPEN_ORDERS".into(),
                        };
                        self.error(
                            Origin::Env { var: var.clone() },
                            format!("no configuration key [{section}] {key} for this override"),
                            Some(help),
                        );
                        continue;
                    }
                }
            } else {
                continue;
            };
            match check_env(spec, &text) {
                Ok(json) => {
                    let json = self.merged(spec, json);
                    self.values.insert(
                        (spec.section, spec.key),
                        (json, Origin::Env { var: var.clone() }),
                    );
                }
                Err(message) => {
                    self.bad_keys.push((spec.section, spec.key));
                    self.error(
                        Origin::Env { var: var.clone() },
                        format!("[{}] {}: {message}", spec.section, spec.key),
                        Some(format!("expected {}", spec.allowed())),
                    );
                }
            }
        }
    }

    /// `CHAOS_MODE` adds its modes to the file's `[chaos] modes` (the union, the file's
    /// first); every other override replaces the file's value.
    fn merged(&self, spec: &KeySpec, json: Json) -> Json {
        if spec.env_alias != Some(crate::chaos::ENV) {
            return json;
        }
        let Some((Json::Array(file), _)) = self.values.get(&(spec.section, spec.key)) else {
            return json;
        };
        let mut all = file.clone();
        if let Json::Array(more) = json {
            for m in more {
                if !all.contains(&m) {
                    all.push(m);
                }
            }
        }
        all.truncate(MAX_LIST_ENTRIES_COUNT);
        Json::Array(all)
    }

    fn finish(mut self) -> Result<(Config, Vec<Setting>), (ConfigErrors, Vec<Setting>)> {
        let mut origins = BTreeMap::new();
        let mut settings = Vec::new();
        let mut tree = serde_json::Map::new();
        for spec in KEYS {
            let (json, origin) = match self.values.remove(&(spec.section, spec.key)) {
                Some(v) => v,
                None => match default_value(spec) {
                    Ok(json) => (
                        json,
                        Origin::Default {
                            section: spec.section.into(),
                            key: spec.key.into(),
                        },
                    ),
                    Err(message) => {
                        // A bug in the schema table, caught by the tests; reported, not panicked.
                        self.error(
                            Origin::Default {
                                section: spec.section.into(),
                                key: spec.key.into(),
                            },
                            format!("invalid built-in default: {message}"),
                            None,
                        );
                        continue;
                    }
                },
            };
            settings.push(Setting {
                section: spec.section.into(),
                key: spec.key.into(),
                value: json.clone(),
                origin: origin.clone(),
            });
            origins.insert((spec.section, spec.key), origin);
            // A sub-table (`feed.backup`) is an object inside its parent's.
            if let Some(map) = section_map(&mut tree, spec.section) {
                map.insert(spec.key.into(), json);
            }
        }
        if self.syntax_error {
            return Err((sorted(self.errors), settings));
        }
        self.insert_arrays(&mut tree);
        let config = match typed(tree) {
            Ok(c) => c,
            Err(e) => return Err((e, settings)),
        };
        let cross = super::rules::check(&config, &|section, key| {
            origins
                .get(&(section, key))
                .cloned()
                .unwrap_or(Origin::Default {
                    section: section.into(),
                    key: key.into(),
                })
        });
        // Cross-field rules run even when some keys were rejected, so every error is reported
        // at once; a rule involving a rejected key is skipped (its default stood in).
        let mut errors = self.errors;
        errors.extend(super::services::check(&config, &self.services));
        errors.extend(super::artifacts::check(&config, &self.artifacts));
        errors.extend(super::checks::check(&config, &self.checks));
        errors.extend(super::alerts::check(&config, &self.sinks));
        let bad = self.bad_keys;
        errors.extend(
            cross
                .into_iter()
                .filter(|(_, keys)| !keys.iter().any(|k| bad.contains(k)))
                .map(|(e, _)| e),
        );
        if errors.is_empty() {
            for (array, tables) in [
                ("services", &self.services),
                ("artifacts", &self.artifacts),
                ("checks", &self.checks),
                ("alerts.sinks", &self.sinks),
            ] {
                settings.extend(super::services::settings(array, tables));
            }
            Ok((config, settings))
        } else {
            Err((sorted(errors), settings))
        }
    }
}

impl Loader {
    /// The arrays of tables into the tree: `[[services]]`, `[[artifacts]]`, `[[checks]]` and
    /// `[alerts]`'s `[[alerts.sinks]]`.
    fn insert_arrays(&self, tree: &mut serde_json::Map<String, Json>) {
        let array = |v: &[super::services::ServiceValues]| {
            Json::Array(v.iter().map(|s| s.json.clone()).collect())
        };
        tree.insert("services".into(), array(&self.services));
        tree.insert("artifacts".into(), array(&self.artifacts));
        tree.insert("checks".into(), array(&self.checks));
        if let Some(map) = section_map(tree, "alerts") {
            map.insert("sinks".into(), array(&self.sinks));
        }
    }
}

/// The validated values as the typed [`Config`]; a mismatch is a bug in Ballast, reported.
fn typed(tree: serde_json::Map<String, Json>) -> Result<Config, ConfigErrors> {
    serde_json::from_value(Json::Object(tree)).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            origin: Origin::Default {
                section: "?".into(),
                key: "?".into(),
            },
            message: format!("internal: validated values do not fit the typed configuration: {e}"),
            help: Some("this is a bug in Ballast; please report it".into()),
        }])
    })
}

fn sorted(errors: Vec<ConfigError>) -> ConfigErrors {
    let mut errors = ConfigErrors(errors);
    errors.sort();
    errors
}

/// How to fix an unknown section name: the closest known one, or the list of them.
fn unknown_section_help(name: &str) -> String {
    match closest(name, SECTIONS.iter().map(|s| s.name)) {
        Some(s) => format!("did you mean [{s}]?"),
        None => format!(
            "known sections: {}",
            SECTIONS
                .iter()
                .map(|s| format!("[{}]", s.name))
                .collect::<Vec<_>>()
                .join(" ")
        ),
    }
}

fn unknown_key_help(section: &str, key: &str) -> String {
    let in_section = KEYS.iter().filter(|k| k.section == section).map(|k| k.key);
    if let Some(s) = closest(key, in_section) {
        return format!("did you mean {s:?}?");
    }
    if let Some(k) = KEYS.iter().find(|k| k.key == key) {
        return format!("{key:?} belongs in [{}]", k.section);
    }
    format!(
        "keys of [{section}]: {}",
        KEYS.iter()
            .filter(|k| k.section == section)
            .map(|k| k.key)
            .collect::<Vec<_>>()
            .join(", ")
    )
}

pub(super) fn default_value(spec: &KeySpec) -> Result<Json, String> {
    let parsed = DeValue::parse(spec.default).map_err(|e| e.message().to_owned())?;
    check_toml(spec, parsed.get_ref()).map_err(|(m, _)| m)
}

pub(super) type ValueError = (String, Option<Range<usize>>);

pub(super) fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a datetime",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

pub(super) fn check_toml(spec: &KeySpec, v: &DeValue<'_>) -> Result<Json, ValueError> {
    let wrong = || (format!("found {}", type_name(v)), None);
    match (spec.kind, v) {
        (Kind::Bool, DeValue::Boolean(b)) => Ok(Json::Bool(*b)),
        (Kind::Int { min, max }, DeValue::Integer(i)) => {
            let digits = i.as_str().replace('_', "");
            let n = i64::from_str_radix(&digits, i.radix())
                .map_err(|_| (format!("{digits} does not fit a 64-bit integer"), None))?;
            check_int(n, min, max).map_err(|m| (m, None))
        }
        (Kind::Dec { .. }, DeValue::Integer(i)) if i.radix() == 10 => {
            check_dec(spec.kind, &i.as_str().replace('_', "")).map_err(|m| (m, None))
        }
        (Kind::Dec { .. }, DeValue::Float(f)) => {
            check_dec(spec.kind, &f.as_str().replace('_', "")).map_err(|m| (m, None))
        }
        (Kind::Dec { .. }, DeValue::String(s)) => check_dec(spec.kind, s).map_err(|m| (m, None)),
        (Kind::Choice(words), DeValue::String(s)) => check_choice(words, s).map_err(|m| (m, None)),
        (Kind::Text, DeValue::String(s)) => Ok(Json::String(s.to_string())),
        (Kind::Symbols, DeValue::Array(items)) => {
            if items.len() > MAX_SYMBOLS_COUNT {
                return Err((
                    format!(
                        "{} symbols; at most {MAX_SYMBOLS_COUNT} are allowed",
                        items.len()
                    ),
                    None,
                ));
            }
            let mut out = Vec::with_capacity(items.len());
            for item in items.iter() {
                let DeValue::String(s) = item.get_ref() else {
                    return Err((
                        format!(
                            "a symbol must be a string, found {}",
                            type_name(item.get_ref())
                        ),
                        Some(item.span()),
                    ));
                };
                let sym = check_symbol(s, &out).map_err(|m| (m, Some(item.span())))?;
                out.push(sym);
            }
            Ok(Json::Array(out))
        }
        (Kind::Strings, DeValue::Array(items)) => {
            if items.len() > MAX_LIST_ENTRIES_COUNT {
                return Err((
                    format!(
                        "{} entries; at most {MAX_LIST_ENTRIES_COUNT} are allowed",
                        items.len()
                    ),
                    None,
                ));
            }
            let mut out = Vec::with_capacity(items.len());
            for item in items.iter() {
                let DeValue::String(v) = item.get_ref() else {
                    return Err((
                        format!(
                            "an entry must be a string, found {}",
                            type_name(item.get_ref())
                        ),
                        Some(item.span()),
                    ));
                };
                out.push(Json::String(v.to_string()));
            }
            Ok(Json::Array(out))
        }
        (Kind::StringMap, DeValue::Table(t)) => {
            if t.len() > MAX_LIST_ENTRIES_COUNT {
                return Err((
                    format!(
                        "{} entries; at most {MAX_LIST_ENTRIES_COUNT} are allowed",
                        t.len()
                    ),
                    None,
                ));
            }
            let mut out = serde_json::Map::new();
            for (k, v) in t.iter() {
                let DeValue::String(text) = v.get_ref() else {
                    return Err((
                        format!(
                            "{:?} must be a string, found {}",
                            k.get_ref(),
                            type_name(v.get_ref())
                        ),
                        Some(v.span()),
                    ));
                };
                out.insert(k.get_ref().to_string(), Json::String(text.to_string()));
            }
            Ok(Json::Object(out))
        }
        _ => Err(wrong()),
    }
}

fn check_env(spec: &KeySpec, text: &str) -> Result<Json, String> {
    let text = text.trim();
    match spec.kind {
        Kind::Bool => match text.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(Json::Bool(true)),
            "false" | "0" | "no" | "off" => Ok(Json::Bool(false)),
            _ => Err(format!("{text:?} is not a boolean")),
        },
        Kind::Int { min, max } => {
            let n = text
                .replace('_', "")
                .parse::<i64>()
                .map_err(|_| format!("{text:?} is not an integer"))?;
            check_int(n, min, max)
        }
        Kind::Dec { .. } => check_dec(spec.kind, text),
        Kind::Choice(words) => check_choice(words, text),
        Kind::Text => Ok(Json::String(text.to_owned())),
        Kind::Strings => Ok(Json::Array(
            text.split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .take(MAX_LIST_ENTRIES_COUNT)
                .map(|p| Json::String(p.to_owned()))
                .collect(),
        )),
        Kind::StringMap => {
            Err("a table cannot be set from the environment; set it in the file".into())
        }
        Kind::Symbols => {
            let mut out = Vec::new();
            for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                if out.len() == MAX_SYMBOLS_COUNT {
                    return Err(format!("more than {MAX_SYMBOLS_COUNT} symbols"));
                }
                let sym = check_symbol(part, &out)?;
                out.push(sym);
            }
            Ok(Json::Array(out))
        }
    }
}

pub(super) fn check_int(n: i64, min: i64, max: i64) -> Result<Json, String> {
    if n < min || n > max {
        return Err(format!("{n} is out of range (allowed {min} to {max})"));
    }
    Ok(Json::from(n))
}

pub(super) fn check_dec(kind: Kind, text: &str) -> Result<Json, String> {
    let Kind::Dec {
        min,
        max,
        min_exclusive,
    } = kind
    else {
        return Err("internal: not a decimal key".into());
    };
    let lower = text.to_ascii_lowercase();
    let value = if lower.contains('e') {
        Decimal::from_scientific(&lower)
    } else {
        Decimal::from_str(text)
    }
    .map_err(|_| format!("{text:?} is not a decimal number"))?;
    let (lo, hi) = match (Decimal::from_str(min), Decimal::from_str(max)) {
        (Ok(lo), Ok(hi)) => (lo, hi),
        _ => return Err("internal: bad bounds in the schema".into()),
    };
    let below = if min_exclusive {
        value <= lo
    } else {
        value < lo
    };
    if below || value > hi {
        let range = if min_exclusive {
            format!("greater than {lo}, at most {hi}")
        } else {
            format!("{lo} to {hi}")
        };
        return Err(format!("{value} is out of range (allowed {range})"));
    }
    Ok(Json::String(value.normalize().to_string()))
}

fn check_choice(words: &[&str], s: &str) -> Result<Json, String> {
    if words.contains(&s) {
        return Ok(Json::String(s.to_owned()));
    }
    let hint = closest(s, words.iter().copied())
        .map(|w| format!(" (did you mean \"{w}\"?)"))
        .unwrap_or_default();
    Err(format!("{s:?} is not one of {}{hint}", quoted_list(words)))
}

fn check_symbol(s: &str, seen: &[Json]) -> Result<Json, String> {
    let sym = Symbol::new(s).map_err(|e| e.to_string())?;
    let json = Json::String(sym.as_str().to_owned());
    if seen.contains(&json) {
        return Err(format!("symbol {sym} is listed twice"));
    }
    Ok(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        let t = "ab\ncdé\nxyz";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 3), (2, 1));
        assert_eq!(line_col(t, 8), (3, 1));
        assert_eq!(line_col(t, 100), (3, 4));
    }
}
