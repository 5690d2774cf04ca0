//! The engine's live settings: the `[guard]` limits and `[risk]` rules it judges orders and
//! trims by. They come from the configuration at the start and from `state/engine-settings.json`
//! (written by the supervisor's `ballast reload`) while running; each change is journaled as an
//! `engine.settings` record ([`SettingsRecord`]) and taken from the state from then on, so a
//! replay judges every order by the limits that were in force when it was decided.
//!
//! The file's codec is [`encode_file`] / [`decode_file`]: one line of JSON with a CRC32C last,
//! a `version` and a size bound ([`crate::sealed`], as `state/policy.json`).

use std::borrow::Cow;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{EngineState, TrimRules};
use crate::config::{self, Config};
use crate::guard::Limits;
use crate::limits::{CONFIG_HASH_MAX_CHARS, ENGINE_SETTINGS_FILE_MAX_BYTES};
use crate::time::Timestamp;

/// What the engine may adopt while running: the guard limits and the risk rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EngineSettings {
    pub guard: config::Guard,
    pub risk: config::Risk,
}

/// Read over the built-in defaults: a record or file written before a `[guard]` or `[risk]`
/// key existed still reads (the key takes its default, as the configuration would have), and
/// a key this build does not know is refused (a newer Ballast wrote it).
impl<'de> Deserialize<'de> for EngineSettings {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Tables {
            guard: serde_json::Map<String, serde_json::Value>,
            risk: serde_json::Map<String, serde_json::Value>,
        }
        #[derive(Deserialize)]
        struct Plain {
            guard: config::Guard,
            risk: config::Risk,
        }
        let written = Tables::deserialize(d)?;
        let mut tables = crate::config::builtin()
            .ok()
            .and_then(|c| serde_json::to_value(EngineSettings::of(&c)).ok())
            .unwrap_or_else(|| serde_json::json!({"guard": {}, "risk": {}}));
        for (name, table) in [("guard", written.guard), ("risk", written.risk)] {
            if let Some(base) = tables.get_mut(name).and_then(|t| t.as_object_mut()) {
                base.extend(table);
            }
        }
        // A value that does not even fit its type (a negative count) is named with its key and
        // range, as the configuration would; one in range of its type is judged later, with
        // the cross-field rules ([`EngineSettings::violations`]) — a journaled record always
        // reads back, whatever a file once put in force.
        let p: Plain = serde_json::from_value(tables.clone()).map_err(|e| {
            let (named, _) = config::check_values(&tables, &["guard", "risk"]);
            if named.is_empty() {
                D::Error::custom(e)
            } else {
                D::Error::custom(named.join("; "))
            }
        })?;
        Ok(EngineSettings {
            guard: p.guard,
            risk: p.risk,
        })
    }
}

impl EngineSettings {
    /// The settings of a configuration.
    pub fn of(config: &Config) -> Self {
        EngineSettings {
            guard: config.guard.clone(),
            risk: config.risk.clone(),
        }
    }

    /// Every way these settings break `config`'s rules for `[guard]` and `[risk]` (ranges and
    /// cross-field rules, [`config::check_sections`] over `config` with the two sections
    /// replaced), each a sentence naming the key, its value and what is allowed; empty when
    /// they may be adopted. A file's checksum does not make its values allowed.
    pub fn violations(&self, config: &Config) -> Vec<String> {
        let mut with = config.clone();
        with.guard = self.guard.clone();
        with.risk = self.risk.clone();
        config::check_sections(&with, &["guard", "risk"])
    }

    /// The trade guard's limits (the one conversion from `[guard]`).
    pub fn limits(&self) -> Limits {
        let g = &self.guard;
        let min = |m: u32| i64::from(m) * 60_000;
        Limits {
            max_position_notional: g.max_position_notional_usd,
            max_notional_per_order: g.max_notional_per_order_usd,
            max_portfolio_exposure_pct: g.max_portfolio_exposure_pct,
            max_concentration_pct: g.max_concentration_per_symbol_pct,
            max_price_deviation_pct: g.max_price_deviation_pct,
            min_cooldown_ms: min(g.min_cooldown_minutes),
            min_cooldown_bars: g.min_cooldown_bars,
            max_open_orders: g.max_open_orders,
            max_orders_per_second: g.max_orders_per_second,
            max_orders_per_minute: g.max_orders_per_minute,
            allow_direction_flip: g.allow_direction_flip,
            duplicate_window_ms: crate::time::ms_from_secs(g.duplicate_window_secs),
            daily_loss_limit_pct: g.daily_loss_limit_pct,
            max_drawdown_pct: g.max_drawdown_pct,
            stop_loss_streak: g.stop_loss_streak,
            stop_loss_window_ms: min(g.stop_loss_window_minutes),
            stop_loss_cooldown_ms: min(g.stop_loss_cooldown_minutes),
        }
    }

    /// Auto-trim's rules (the one conversion from `[risk]`).
    pub fn trim(&self) -> TrimRules {
        TrimRules {
            max_total_at_risk_pct: self.risk.max_total_at_risk_pct,
            max_failures_before_alert: self.risk.max_trim_failures_before_alert,
            patience_bars: 1,
            twap_slices: 3,
            headroom_pct: Decimal::from(5),
        }
    }

    /// The keys whose value differs from `before`'s, in table order, each as
    /// (`guard.max_open_orders`, old, new) — the values as the configuration spells them.
    pub fn changes(&self, before: &EngineSettings) -> Vec<(String, String, String)> {
        let (Ok(now), Ok(was)) = (serde_json::to_value(self), serde_json::to_value(before)) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for table in ["guard", "risk"] {
            let (Some(now), Some(was)) = (
                now.get(table).and_then(|v| v.as_object()),
                was.get(table).and_then(|v| v.as_object()),
            ) else {
                continue;
            };
            for (key, value) in now {
                let old = was.get(key);
                if old != Some(value) {
                    out.push((
                        format!("{table}.{key}"),
                        old.map_or_else(|| "(none)".to_owned(), spell),
                        spell(value),
                    ));
                }
            }
        }
        out
    }
}

/// A JSON value as the configuration spells it (a decimal without its quotes).
fn spell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Where a settings change came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SettingsSource {
    /// The configuration the engine was started with.
    Start,
    /// `state/engine-settings.json`, written by a reload.
    Reload,
}

/// `engine.settings`: the settings the engine judges by from this record on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsRecord {
    /// Those in force before (none: the configured ones of a journal without a record).
    pub previous: Option<EngineSettings>,
    pub now: EngineSettings,
    /// The hash of the configuration they come from, when known (a reload's file says it).
    pub config_hash: Option<String>,
    pub source: SettingsSource,
}

impl EngineState {
    /// Apply an `engine.settings` record: its settings are in force from now on.
    pub fn apply_settings(&mut self, r: &SettingsRecord) {
        self.controls.settings = Some(r.now.clone());
    }

    /// The guard limits in force: the journaled settings', or `configured` when none was
    /// journaled (an older journal, replayed as before).
    pub fn limits_or<'a>(&self, configured: &'a Limits) -> Cow<'a, Limits> {
        match &self.controls.settings {
            Some(s) => Cow::Owned(s.limits()),
            None => Cow::Borrowed(configured),
        }
    }

    /// Auto-trim's rules in force: the journaled settings', or `configured`.
    pub fn trim_or<'a>(&self, configured: &'a TrimRules) -> Cow<'a, TrimRules> {
        match &self.controls.settings {
            Some(s) => Cow::Owned(s.trim()),
            None => Cow::Borrowed(configured),
        }
    }

    /// The settings in force, when journaled.
    pub fn settings(&self) -> Option<&EngineSettings> {
        self.controls.settings.as_ref()
    }

    /// The record that puts `wanted` in force, unless it is already (`None`: nothing to
    /// journal). At a start a journal without settings gets its first record.
    pub fn settings_record(
        &self,
        wanted: &EngineSettings,
        config_hash: Option<String>,
        source: SettingsSource,
    ) -> Option<SettingsRecord> {
        let in_force = self.controls.settings.as_ref();
        if in_force == Some(wanted) {
            return None;
        }
        Some(SettingsRecord {
            previous: in_force.cloned(),
            now: wanted.clone(),
            config_hash,
            source,
        })
    }
}

/// The format version of `state/engine-settings.json`.
pub const FILE_VERSION: u32 = 1;

/// What `state/engine-settings.json` carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsFile {
    pub version: u32,
    /// The hash of the configuration the settings come from.
    pub config_hash: String,
    /// When it was written.
    pub at: Timestamp,
    pub settings: EngineSettings,
}

impl SettingsFile {
    /// The file a reload writes for the validated `config` (whose hash is `config_hash`).
    pub fn of(config: &Config, config_hash: String, at: Timestamp) -> Self {
        SettingsFile {
            version: FILE_VERSION,
            config_hash,
            at,
            settings: EngineSettings::of(config),
        }
    }
}

const KIND: crate::sealed::Kind = crate::sealed::Kind {
    what: "an engine settings file",
    max_bytes: ENGINE_SETTINGS_FILE_MAX_BYTES,
    version: FILE_VERSION,
    rewrite: "run `ballast reload` again to write it",
};

/// The bytes of `state/engine-settings.json`: one line of JSON, `crc` last
/// ([`crate::sealed::seal`]).
pub fn encode_file(file: &SettingsFile) -> Vec<u8> {
    crate::sealed::seal(file)
}

/// Read `state/engine-settings.json`'s bytes back: only a file whose checksum matches, of a
/// version this build reads, within its size bound. The error says what is wrong, in words.
pub fn decode_file(bytes: &[u8]) -> Result<SettingsFile, String> {
    let line = crate::sealed::open(bytes, &KIND)?;
    #[derive(Deserialize)]
    struct Body {
        #[serde(default = "v1")]
        version: u32,
        config_hash: String,
        at: Timestamp,
        settings: EngineSettings,
    }
    fn v1() -> u32 {
        FILE_VERSION
    }
    let b: Body = serde_json::from_slice(line)
        .map_err(|e| format!("its content is not engine settings: {e}"))?;
    // Journaled and logged: a hash of a reload's form, not any text.
    let n = b.config_hash.chars().count();
    if n > CONFIG_HASH_MAX_CHARS || b.config_hash.chars().any(char::is_control) {
        return Err(format!(
            "its config_hash ({n} characters) is not a configuration hash: at most {CONFIG_HASH_MAX_CHARS} characters without control characters (a reload writes `crc32c:` and 8 hex digits)"
        ));
    }
    Ok(SettingsFile {
        version: b.version,
        config_hash: b.config_hash,
        at: b.at,
        settings: b.settings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{EngineRecord, Inputs, Next};

    fn config() -> Config {
        crate::config::builtin().unwrap()
    }

    fn file() -> SettingsFile {
        let mut c = config();
        c.guard.max_open_orders = 3;
        SettingsFile::of(&c, "abc".into(), Timestamp::from_unix_ms(5))
    }

    #[test]
    fn the_file_round_trips_and_every_damage_is_refused() {
        let bytes = encode_file(&file());
        assert_eq!(decode_file(&bytes).unwrap(), file());
        for i in 0..bytes.len() - 1 {
            let mut b = bytes.clone();
            b[i] ^= 0x01;
            assert!(decode_file(&b).is_err(), "byte {i} flipped");
        }
        let big = vec![b' '; ENGINE_SETTINGS_FILE_MAX_BYTES as usize + 1];
        assert!(decode_file(&big).unwrap_err().contains("more than"));
        // A sealed file whose hash is not one (journaled and logged: bounded, one line).
        for hash in [
            "x".repeat(CONFIG_HASH_MAX_CHARS + 1),
            "crc32c:1\nforged".into(),
        ] {
            let mut f = file();
            f.config_hash = hash;
            let e = decode_file(&encode_file(&f)).unwrap_err();
            assert!(e.contains("is not a configuration hash"), "{e}");
        }
        let mut f = file();
        f.config_hash = "x".repeat(CONFIG_HASH_MAX_CHARS);
        assert_eq!(decode_file(&encode_file(&f)).unwrap(), f);
    }

    #[test]
    fn settings_written_before_a_key_existed_read_with_its_default_and_unknown_keys_are_refused() {
        let mut v = serde_json::to_value(EngineSettings::of(&config())).unwrap();
        v["guard"]
            .as_object_mut()
            .unwrap()
            .remove("max_open_orders");
        v["risk"]["max_total_at_risk_pct"] = "7".into();
        let s: EngineSettings = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(s.guard.max_open_orders, config().guard.max_open_orders);
        assert_eq!(s.risk.max_total_at_risk_pct, Decimal::from(7));
        let mut negative = v.clone();
        negative["guard"]["max_open_orders"] = (-5).into();
        let e = serde_json::from_value::<EngineSettings>(negative).unwrap_err();
        assert!(
            e.to_string()
                .contains("[guard] max_open_orders: -5 is out of range (allowed 1 to 100000)"),
            "{e}"
        );
        v["guard"]["max_leverage"] = "2".into();
        let e = serde_json::from_value::<EngineSettings>(v).unwrap_err();
        assert!(e.to_string().contains("max_leverage"), "{e}");
    }

    #[test]
    fn the_changed_keys_are_named_with_old_and_new_values() {
        let was = EngineSettings::of(&config());
        let mut now = was.clone();
        now.guard.max_notional_per_order_usd = Decimal::from(300);
        now.risk.max_total_at_risk_pct = Decimal::from(10);
        let c = now.changes(&was);
        assert_eq!(c.len(), 2, "{c:?}");
        assert_eq!(c[0].0, "guard.max_notional_per_order_usd");
        assert_eq!(c[0].2, "300");
        assert_eq!(
            c[1],
            (
                "risk.max_total_at_risk_pct".into(),
                was.risk.max_total_at_risk_pct.to_string(),
                "10".into()
            )
        );
        assert!(was.changes(&was).is_empty());
    }

    /// The engine judges by the settings in force: a record changes the limits its next
    /// decision uses, a replay of the records gives the same state, and a snapshot carries
    /// them (one written before the field existed still loads, with none).
    #[test]
    fn a_settings_record_changes_the_next_decision_and_replays_and_snapshots_the_same() {
        let cfg = config();
        let limits = Limits::from(&cfg);
        let trim = TrimRules::from(&cfg);
        let mut live = EngineState::new(&cfg);
        assert_eq!(
            *live.limits_or(&limits),
            limits,
            "none journaled: the configured ones"
        );
        let mut journal = Vec::new();
        let start = live
            .settings_record(&EngineSettings::of(&cfg), None, SettingsSource::Start)
            .unwrap();
        journal.push(EngineRecord::Settings(Box::new(start)));
        live.apply(journal.last().unwrap(), &limits).unwrap();
        assert!(
            live.settings_record(&EngineSettings::of(&cfg), None, SettingsSource::Start)
                .is_none(),
            "the same settings again: nothing to journal"
        );
        let mut inputs = Inputs::new(&limits, &trim);
        inputs.settings = Some(crate::engine::SettingsChange {
            settings: file().settings,
            config_hash: "abc".into(),
        });
        let Some(Next::Record(r @ EngineRecord::Settings(_))) = live.poll(&mut inputs) else {
            panic!("the pass journals the settings first");
        };
        let EngineRecord::Settings(sr) = &r else {
            unreachable!()
        };
        assert_eq!(sr.source, SettingsSource::Reload);
        assert_eq!(sr.config_hash.as_deref(), Some("abc"));
        assert_eq!(sr.previous.as_ref(), Some(&EngineSettings::of(&cfg)));
        live.apply(&r, &limits).unwrap();
        journal.push(r);
        assert_eq!(live.limits_or(&limits).max_open_orders, 3);
        assert_eq!(live.settings(), Some(&file().settings));
        let mut replayed = EngineState::new(&cfg);
        for r in &journal {
            replayed.apply(r, &limits).unwrap();
        }
        assert_eq!(replayed, live);
        let snap = serde_json::to_value(&live).unwrap();
        assert_eq!(
            serde_json::from_value::<EngineState>(snap.clone()).unwrap(),
            live
        );
        let mut old = snap;
        old.as_object_mut().unwrap().remove("settings");
        let old: EngineState = serde_json::from_value(old).unwrap();
        assert_eq!(old.settings(), None);
        assert_eq!(*old.limits_or(&limits), limits);
    }
}
