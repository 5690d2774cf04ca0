//! Which `state/engine-settings.json` a supervised engine may adopt: only the one the
//! supervisor wrote for the configuration in force (`run/engine-config.json`,
//! [`crate::config::in_force`]). The file's CRC is no authentication — anyone who can write
//! the state directory can copy an older genuine file back (a rollback) or change a value and
//! recompute the checksum (a forgery) — so the file must name the in-force configuration's
//! hash AND carry exactly its settings ([`EngineSettings::of`]).
//!
//! A reload writes the settings file first and the in-force file right after: a file naming
//! another configuration waits for the in-force file to catch up, at most [`CATCH_UP_MS`],
//! then is refused. What the engine found is in its heartbeat ([`SettingsCheck`]), so the
//! supervisor's health shows the guard DEGRADED while a file is refused or the engine judges
//! by settings that are not those of the configuration in force.

use serde::{Deserialize, Serialize};

use super::{EngineSettings, SettingsFile};
use crate::config::in_force::InForce;

/// How long a settings file naming another configuration than the one in force waits for the
/// in-force file to catch up (a reload writes both within milliseconds) before it is refused.
pub const CATCH_UP_MS: u64 = 5_000;

/// What to do with the settings file, against the configuration in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// It is the in-force configuration's: adopt it (when it differs from those in force).
    Adopt,
    /// It names another configuration, for less than [`CATCH_UP_MS`]: wait (said once).
    Wait(String),
    /// Not the in-force configuration's: refused, the reason in words (said once).
    Refuse(String),
}

/// Judge `file` against `in_force`; `waited_ms`: how long a file naming another configuration
/// has waited already (0 at first sight).
pub fn judge(file: &SettingsFile, in_force: &InForce, waited_ms: u64) -> Verdict {
    let wanted = EngineSettings::of(&in_force.config);
    if file.config_hash != in_force.hash {
        if waited_ms < CATCH_UP_MS {
            return Verdict::Wait(format!(
                "its configuration {} is not the one in force yet ({}): it waits for the configuration in force to catch up (at most {} s)",
                file.config_hash,
                in_force.hash,
                CATCH_UP_MS / 1000
            ));
        }
        return Verdict::Refuse(format!(
            "rolled back or hand-written: its configuration {} is not the one in force {}",
            file.config_hash, in_force.hash
        ));
    }
    if file.settings != wanted {
        let keys: Vec<String> = file
            .settings
            .changes(&wanted)
            .into_iter()
            .take(5)
            .map(|(k, theirs, file_says)| {
                format!("{k} = {file_says} (the configuration: {theirs})")
            })
            .collect();
        return Verdict::Refuse(format!(
            "hand-written: its settings are not those of the configuration in force {}: {}",
            in_force.hash,
            keys.join(", ")
        ));
    }
    Verdict::Adopt
}

/// What the engine reports of its settings in its heartbeat (the guard subsystem's `settings`
/// check). An older heartbeat, and a standalone engine's, say nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SettingsCheck {
    /// Not judged against a configuration in force (a standalone engine, an older heartbeat).
    #[default]
    NotFollowed,
    /// The engine judges by the settings of the configuration in force (`hash`); `settings`:
    /// their [`EngineSettings::fingerprint`], for the supervisor to compare with its own.
    InForce {
        hash: String,
        #[serde(default)]
        settings: String,
    },
    /// A settings file waits for the in-force file to catch up (a reload in progress).
    Waiting { detail: String },
    /// A settings file is refused, or the configuration in force cannot be read.
    Refused { detail: String },
    /// The engine judges by settings that are not those of the configuration in force.
    Differs { detail: String },
}

impl SettingsCheck {
    /// The report after judging (`verdict`: the settings file's, when there is one), for an
    /// engine judging by `running` while `in_force` is the configuration in force.
    pub fn of(
        running: Option<&EngineSettings>,
        in_force: &InForce,
        verdict: Option<&Verdict>,
    ) -> SettingsCheck {
        match verdict {
            Some(Verdict::Refuse(why)) => {
                return SettingsCheck::Refused {
                    detail: format!(
                        "the engine settings file is refused ({why}): the settings in force stay; remove the file (the engine keeps the settings in force) or restart `ballast run`, which writes the in-force one"
                    ),
                };
            }
            Some(Verdict::Wait(why)) => {
                return SettingsCheck::Waiting {
                    detail: format!("the engine settings file {why}"),
                };
            }
            Some(Verdict::Adopt) | None => {}
        }
        let wanted = EngineSettings::of(&in_force.config);
        match running {
            Some(r) if *r != wanted => {
                let keys: Vec<String> = r
                    .changes(&wanted)
                    .into_iter()
                    .take(5)
                    .map(|(k, in_config, engine)| {
                        format!("{k} = {engine} (the configuration: {in_config})")
                    })
                    .collect();
                SettingsCheck::Differs {
                    detail: format!(
                        "the engine judges by settings that are not those of the configuration in force {}: {}; the supervisor's settings file was not written or not adopted",
                        in_force.hash,
                        keys.join(", ")
                    ),
                }
            }
            _ => SettingsCheck::InForce {
                hash: in_force.hash.clone(),
                settings: running.unwrap_or(&wanted).fingerprint(),
            },
        }
    }
}

impl EngineSettings {
    /// `crc32c:` and 8 hex digits of these settings as JSON: what the engine reports of the
    /// settings it judges by, for the supervisor to compare with its configuration's.
    pub fn fingerprint(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        format!("crc32c:{:08x}", crc32c::crc32c(&json))
    }
}

/// The supervisor's view of the engine's report: what is wrong, if anything. `wanted`: the
/// settings of the supervisor's own configuration in force; `settled`: it has been in force
/// long enough for the engine to have adopted it (a reload's change is no alarm). An engine
/// that says it runs the in-force settings but whose fingerprint is not `wanted`'s read an
/// in-force file the supervisor did not write for its configuration (both files rolled back).
pub fn supervisor_view(
    check: &SettingsCheck,
    wanted: &EngineSettings,
    settled: bool,
) -> Option<String> {
    match check {
        SettingsCheck::Refused { detail } | SettingsCheck::Differs { detail } => {
            Some(detail.clone())
        }
        SettingsCheck::InForce { hash, settings }
            if settled && !settings.is_empty() && *settings != wanted.fingerprint() =>
        {
            Some(format!(
                "the engine judges by settings {settings} (of the configuration {hash}, it says) that are not those of the supervisor's configuration in force ({}): run/engine-config.json and the settings file were changed behind the supervisor (rolled back?); restart `ballast run`, which writes both",
                wanted.fingerprint()
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Timestamp;

    fn config(per_order: i64) -> crate::config::Config {
        let mut c = crate::config::builtin().unwrap();
        c.guard.max_notional_per_order_usd = per_order.into();
        c
    }

    fn file(per_order: i64, hash: &str) -> SettingsFile {
        SettingsFile::of(&config(per_order), hash.into(), Timestamp::from_unix_ms(1))
    }

    #[test]
    fn only_the_in_force_configurations_settings_are_adopted() {
        let in_force = InForce::new("crc32c:00000100", &config(100));
        assert_eq!(
            judge(&file(100, "crc32c:00000100"), &in_force, 0),
            Verdict::Adopt
        );
        // Ahead of the in-force file (a reload between its two writes): waits, then refused.
        let ahead = file(200, "crc32c:00000200");
        assert!(matches!(judge(&ahead, &in_force, 0), Verdict::Wait(_)));
        assert!(matches!(
            judge(&ahead, &in_force, CATCH_UP_MS - 1),
            Verdict::Wait(_)
        ));
        let Verdict::Refuse(why) = judge(&ahead, &in_force, CATCH_UP_MS) else {
            panic!("refused after the wait");
        };
        assert_eq!(
            why,
            "rolled back or hand-written: its configuration crc32c:00000200 is not the one in force crc32c:00000100"
        );
        // The right hash, other values: refused at once, the key named.
        let Verdict::Refuse(why) = judge(&file(4000, "crc32c:00000100"), &in_force, 0) else {
            panic!("a forged value is refused");
        };
        assert!(why.starts_with("hand-written"), "{why}");
        assert!(
            why.contains("guard.max_notional_per_order_usd = 4000 (the configuration: 100)"),
            "{why}"
        );
    }

    #[test]
    fn the_report_says_a_refusal_a_wait_and_settings_that_differ_from_the_configuration() {
        let in_force = InForce::new("crc32c:00000100", &config(100));
        let ok = EngineSettings::of(&config(100));
        let other = EngineSettings::of(&config(5000));
        assert_eq!(
            SettingsCheck::of(Some(&ok), &in_force, None),
            SettingsCheck::InForce {
                hash: "crc32c:00000100".into(),
                settings: ok.fingerprint(),
            }
        );
        // The supervisor's view: the fingerprint of other settings is seen once settled.
        let said = SettingsCheck::InForce {
            hash: "crc32c:00005000".into(),
            settings: other.fingerprint(),
        };
        assert_eq!(supervisor_view(&said, &other, true), None);
        assert_eq!(
            supervisor_view(&said, &ok, false),
            None,
            "a reload settling"
        );
        let why = supervisor_view(&said, &ok, true).unwrap();
        assert!(why.contains("changed behind the supervisor"), "{why}");
        let SettingsCheck::Differs { detail } = SettingsCheck::of(Some(&other), &in_force, None)
        else {
            panic!("the engine runs other limits");
        };
        assert!(
            detail.contains("= 5000 (the configuration: 100)"),
            "{detail}"
        );
        let refused = Verdict::Refuse("rolled back or hand-written: x".into());
        assert!(matches!(
            SettingsCheck::of(Some(&ok), &in_force, Some(&refused)),
            SettingsCheck::Refused { .. }
        ));
        let wait = Verdict::Wait("w".into());
        assert!(matches!(
            SettingsCheck::of(Some(&ok), &in_force, Some(&wait)),
            SettingsCheck::Waiting { .. }
        ));
        // An older heartbeat (no field) reads as not followed.
        let v: SettingsCheck = serde_json::from_str(r#"{"state":"not_followed"}"#).unwrap();
        assert_eq!(v, SettingsCheck::default());
    }
}
