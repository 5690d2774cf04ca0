//! The engine's live settings from outside: `state/engine-settings.json`, written by the
//! supervisor's `ballast reload`. At each bar boundary (the start of a pass) a changed file is
//! read; valid settings that differ from those in force are journaled (`engine.settings`,
//! decided by [`EngineState::settings_record`] in the pass) before anything is judged by
//! them. An invalid file is said once per state of the file and changes nothing — one Ballast
//! did not write (its checksum), and one whose values the configuration's rules forbid (the
//! checksum is no authentication: every value is judged by the rules of `[guard]` and `[risk]`,
//! [`EngineSettings::violations`], each bad key named with its value and what is allowed).
//!
//! A supervised engine adopts only the file the supervisor wrote for the configuration in
//! force (`run/engine-config.json`): its hash and its settings must be that configuration's
//! ([`settings_gate::judge`]); it looks again whenever either file changes. A file naming
//! another configuration waits for the in-force file to catch up (a reload writes the settings
//! first), then is refused — a rolled-back or hand-written file — said once, and reported in
//! the heartbeat ([`SettingsCheck`]) for the supervisor's health. A standalone engine does not
//! consult the in-force file (it has no supervisor): it adopts any valid file, as before.

use std::time::{Instant, SystemTime};

use ballast_core::config::in_force::InForce;
use ballast_core::engine::settings_gate::{self, SettingsCheck, Verdict};
use ballast_core::engine::{EngineSettings, EngineState, SettingsChange, SettingsFile};

use super::Writer;

type Seen = Option<(SystemTime, u64)>;

/// What the engine follows of the two files, between passes.
#[derive(Debug, Default)]
pub(super) struct Follow {
    /// `state/engine-settings.json` as last seen (modified, length): read only when it changes.
    settings_seen: Seen,
    /// `run/engine-config.json` as last seen (a supervised engine).
    in_force_seen: Seen,
    /// Since when a file naming another configuration waits for the in-force file.
    waiting_since: Option<Instant>,
    /// The last warning said (each is said once per state of the files).
    said: Option<String>,
    /// What the heartbeat reports.
    pub(super) check: SettingsCheck,
}

/// A file's (modified, length), to read it only when it changes; `None` when absent.
fn state_of(path: &std::path::Path) -> Seen {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().unwrap_or(std::time::UNIX_EPOCH), meta.len()))
}

/// At a start: a standalone engine sees the file there without adopting it (it may be stale:
/// the configuration it was started with wins); a supervised one judges both files at its
/// first pass (its configuration is the one in force, so only a refusal can come of it).
pub(super) fn started(w: &mut Writer<'_>) {
    if w.opts.supervisor.is_none() {
        w.settings.settings_seen = state_of(&w.layout.engine_settings_file());
    }
}

/// The settings file, when it changed since last seen, is valid and (supervised) is the
/// configuration in force's.
pub(super) fn follow_settings(
    state: &EngineState,
    w: &mut Writer<'_>,
    log: &mut dyn FnMut(&str),
) -> Option<SettingsChange> {
    let supervised = w.opts.supervisor.is_some();
    let seen = state_of(&w.layout.engine_settings_file());
    let in_force_seen = if supervised {
        state_of(&w.layout.engine_config_file())
    } else {
        None
    };
    let f = &mut w.settings;
    let changed = f.settings_seen != seen || f.in_force_seen != in_force_seen;
    if !changed && f.waiting_since.is_none() {
        return None;
    }
    f.settings_seen = seen;
    f.in_force_seen = in_force_seen;
    let file = match read_settings(w) {
        Ok(file) => file,
        Err(why) => {
            log(&format!("warning: {why}"));
            if supervised {
                w.settings.waiting_since = None;
                w.settings.check = SettingsCheck::Refused { detail: why };
            }
            return None;
        }
    };
    if !supervised {
        return adoptable(state, file, w, log);
    }
    let in_force = match ballast_store::files::engine_config::read(
        &ballast_store::RealStorage,
        w.layout,
    ) {
        Ok(i) => i,
        Err(e) => {
            let why = format!(
                "the configuration in force ({}) cannot be read ({}): no engine settings file is adopted",
                w.layout.display(&w.layout.engine_config_file()),
                e.reason()
            );
            w.settings.check = SettingsCheck::Refused {
                detail: why.clone(),
            };
            say_once(w, log, format!("warning: {why}"));
            return None;
        }
    };
    let Some(file) = file else {
        w.settings.waiting_since = None;
        w.settings.check = SettingsCheck::of(state.settings(), &in_force, None);
        return None;
    };
    gate(state, file, &in_force, w, log)
}

/// A supervised engine's settings file against the configuration in force.
fn gate(
    state: &EngineState,
    file: SettingsFile,
    in_force: &InForce,
    w: &mut Writer<'_>,
    log: &mut dyn FnMut(&str),
) -> Option<SettingsChange> {
    let waited = w.settings.waiting_since.map_or(0, |t| {
        u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
    });
    let verdict = settings_gate::judge(&file, in_force, waited);
    let path = w.layout.display(&w.layout.engine_settings_file());
    match &verdict {
        Verdict::Adopt => {
            w.settings.waiting_since = None;
            w.settings.said = None;
            let change = adoptable(state, Some(file), w, log);
            let running = change.as_ref().map(|c| &c.settings).or(state.settings());
            w.settings.check = SettingsCheck::of(running, in_force, None);
            return change;
        }
        Verdict::Wait(why) => {
            w.settings.waiting_since.get_or_insert_with(Instant::now);
            say_once(w, log, format!("{path}: {why}"));
        }
        Verdict::Refuse(why) => {
            w.settings.waiting_since = None;
            say_once(
                w,
                log,
                format!("warning: {path} is not used: {why}; the settings in force stay"),
            );
        }
    }
    w.settings.check = SettingsCheck::of(state.settings(), in_force, Some(&verdict));
    None
}

fn say_once(w: &mut Writer<'_>, log: &mut dyn FnMut(&str), line: String) {
    if w.settings.said.as_ref() != Some(&line) {
        log(&line);
        w.settings.said = Some(line);
    }
}

/// The settings file, `Ok(None)` when absent; why it is not used when it is not one Ballast
/// wrote.
fn read_settings(w: &Writer<'_>) -> Result<Option<SettingsFile>, String> {
    match ballast_store::files::engine_settings::read(&ballast_store::RealStorage, w.layout) {
        Ok(file) => Ok(Some(file)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(format!(
            "{} is not used ({}); the settings in force stay",
            w.layout.display(&w.layout.engine_settings_file()),
            e.reason()
        )),
    }
}

/// `file`'s settings, when the configuration's rules allow them and they differ from those
/// in force.
fn adoptable(
    state: &EngineState,
    file: Option<SettingsFile>,
    w: &Writer<'_>,
    log: &mut dyn FnMut(&str),
) -> Option<SettingsChange> {
    let file = file?;
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
