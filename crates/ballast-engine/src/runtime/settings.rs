//! The engine's live settings from outside: `state/engine-settings.json`, written by the
//! supervisor's `ballast reload`. At each bar boundary (the start of a pass) a changed file is
//! read; valid settings that differ from those in force are journaled (`engine.settings`,
//! decided by [`EngineState::settings_record`] in the pass) before anything is judged by
//! them. An invalid file is said once per state of the file and changes nothing — one Ballast
//! did not write (its checksum), and one whose values the configuration's rules forbid (the
//! checksum is no authentication: every value is judged by the rules of `[guard]` and `[risk]`,
//! [`EngineSettings::violations`], each bad key named with its value and what is allowed).

use ballast_core::engine::{EngineSettings, EngineState, SettingsChange};

use super::Writer;

/// The file's (modified, length), to read it only when it changes; `None` when absent.
pub(super) fn file_state(w: &Writer<'_>) -> Option<(std::time::SystemTime, u64)> {
    let meta = std::fs::metadata(w.layout.engine_settings_file()).ok()?;
    Some((meta.modified().unwrap_or(std::time::UNIX_EPOCH), meta.len()))
}

/// The settings file, when it changed since last seen and is valid.
pub(super) fn follow_settings(
    state: &EngineState,
    w: &mut Writer<'_>,
    log: &mut dyn FnMut(&str),
) -> Option<SettingsChange> {
    let seen = file_state(w);
    if seen.is_none() || w.settings_seen == seen {
        return None;
    }
    w.settings_seen = seen;
    match ballast_store::files::engine_settings::read(&ballast_store::RealStorage, w.layout) {
        Ok(file) => {
            let bad = EngineSettings::violations(&file.settings, w.config);
            if !bad.is_empty() {
                log(&format!(
                    "warning: {} is not used: its settings break the configuration's rules: {}; the settings in force stay",
                    w.layout.display(&w.layout.engine_settings_file()),
                    bad.join("; ")
                ));
                return None;
            }
            (state.settings() != Some(&file.settings)).then_some(SettingsChange {
                settings: file.settings,
                config_hash: file.config_hash,
            })
        }
        Err(e) if e.is_not_found() => None,
        Err(e) => {
            log(&format!(
                "warning: {} is not used ({}); the settings in force stay",
                w.layout.display(&w.layout.engine_settings_file()),
                e.reason()
            ));
            None
        }
    }
}
