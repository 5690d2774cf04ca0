//! The governor's files (the I/O side of [`crate::core::Governor`], which decides): the safety
//! policy's `state/policy.json` (restored from the engine's journal at a start, written
//! durably), `state/health.json`, the kill switch's file.

use super::*;
use crate::core::{Files, Governor, KillSwitchFiles};
use ballast_store::files::health::HealthFile;
use ballast_store::{Layout, files};

/// Load the persisted policy, checked against the engine's journal ([`policy::restore`]): a
/// missing, damaged, hand-written or less strict file never re-arms trading — the last policy
/// the engine journaled is the floor, and only a fresh data directory starts at ALLOW_ALL. A
/// file that was not taken as it is is written again at once.
pub fn load_governor(
    data_dir: &Path,
    config: &Config,
    now: Timestamp,
    log: &mut dyn FnMut(&str),
) -> Governor {
    let layout = Layout::new(data_dir);
    let path = layout.policy_file();
    // A file written for another data directory's journal (a copy, a restored backup) is
    // not this one's: its policy, releases and floors are not taken.
    let file = match files::policy::read_state(&RealStorage, &layout) {
        policy::FileRead::Valid(s)
            if s.journal.is_some()
                && s.journal != ballast_store::journal::identity(&layout.engine_journal()) =>
        {
            policy::FileRead::Unreadable(
                "it was written for another data directory's journal (a copy or a restored backup)"
                    .into(),
            )
        }
        other => other,
    };
    let journal = journaled_policy(data_dir, log);
    let recorded = recorded_policy(data_dir, log);
    let restored = policy::restore(file, &journal, recorded, now);
    if let Some(w) = &restored.warning {
        log(w);
    } else if restored.state.policy != Policy::AllowAll {
        log(&format!(
            "safety policy {} kept from before the restart ({})",
            restored.state.policy.as_str(),
            restored.state.reason
        ));
    }
    let g = Governor::new(restored.state, config);
    if restored.rewrite {
        if let Err(e) = persist_policy(data_dir, &g.policy) {
            log(&format!(
                "CRITICAL: cannot write {} ({e}): the engine keeps the policy it journaled",
                path.display()
            ));
        }
    }
    g
}

/// What the governor needs of the files beside a health cycle: the kill switch's and the
/// policy file as found.
pub fn governor_files(data_dir: &Path) -> Files {
    let policy_file = match files::policy::read_state(&RealStorage, &Layout::new(data_dir)) {
        policy::FileRead::Valid(s) => Some((s.policy, s.releases)),
        _ => None,
    };
    Files {
        kill_switch: kill_switch_files(data_dir),
        policy_file,
    }
}

/// The kill switch's files: a request to engage (`KILL_SWITCH`) and a waiting release token.
pub fn kill_switch_files(data_dir: &Path) -> KillSwitchFiles {
    let layout = Layout::new(data_dir);
    KillSwitchFiles {
        requested: layout.kill_switch().exists(),
        release_waiting: std::fs::symlink_metadata(layout.kill_switch_release()).is_ok(),
    }
}

/// `state/policy.json`, durably (temp file, fdatasync, rename, directory fsync), with its
/// checksum ([`files::policy`]).
pub fn persist_policy(data_dir: &Path, state: &PolicyState) -> std::io::Result<()> {
    // Bound to this data directory's engine journal: a copy elsewhere lowers nothing.
    let layout = Layout::new(data_dir);
    let mut p = state.clone();
    if let Some(id) = ballast_store::journal::identity(&layout.engine_journal()) {
        p.journal = Some(id);
    }
    files::policy::write(&RealStorage, &layout, &p)
}

/// `state/health.json`, atomically (a reader never sees half of it; not synced: it is
/// rewritten every cycle).
pub fn write_report(data_dir: &Path, report: &HealthFile) -> std::io::Result<()> {
    files::health::write(&RealStorage, &Layout::new(data_dir), report)
}

/// The last record of `kind` in the journal at `dir` (its valid prefix), as `T`, and how many
/// records the journal holds; a record that does not parse is reported and skipped.
fn last_record<T: serde::de::DeserializeOwned>(
    dir: &Path,
    kind: &str,
    log: &mut dyn FnMut(&str),
) -> Result<(u64, Option<T>), ballast_store::journal::scan::ScanError> {
    let mut last = None;
    let mut bad = None;
    let scan = ballast_store::journal::scan(&RealStorage, dir, &mut |rec| {
        if rec.kind == kind {
            match serde_json::from_str::<T>(rec.body.get()) {
                Ok(j) => last = Some(j),
                Err(e) => bad = Some(format!("seq {}: {e}", rec.seq)),
            }
        }
        Ok(())
    });
    match scan {
        Ok(s) => {
            if let Some(e) = bad {
                log(&format!(
                    "warning: a {kind} record of {} cannot be read ({e}); the last readable one is used",
                    dir.display()
                ));
            }
            Ok((s.records, last))
        }
        Err(ballast_store::journal::scan::ScanError::Io { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            Ok((0, None))
        }
        Err(e) => Err(e),
    }
}

/// The last `engine.policy` of the engine's journal (its valid prefix: a damaged journal is
/// the healer's and the engine's to refuse). A journal that cannot be read at all counts as
/// NO_NEW_TRADES: nothing says what the engine held, so nothing re-arms trading.
fn journaled_policy(data_dir: &Path, log: &mut dyn FnMut(&str)) -> policy::JournalView {
    let dir = ballast_store::Layout::new(data_dir).engine_journal();
    match last_record::<policy::Journaled>(&dir, ENGINE_POLICY, log) {
        Ok((0, _)) => policy::JournalView::Fresh,
        Ok((_, last)) => last.map_or(policy::JournalView::NeverChanged, policy::JournalView::Last),
        Err(e) => {
            log(&format!(
                "CRITICAL: the engine's journal cannot be read for its last policy ({e}): starting at NO_NEW_TRADES at least"
            ));
            policy::JournalView::Last(policy::Journaled {
                policy: Policy::NoNewTrades,
                reason: format!("the engine's journal could not be read: {e}"),
                releases: 0,
            })
        }
    }
}

/// The policy of the last `policy.changed` in the ops journal (what the supervisor decided,
/// whether or not an engine was there to journal it).
fn recorded_policy(data_dir: &Path, log: &mut dyn FnMut(&str)) -> Option<Policy> {
    #[derive(Deserialize)]
    struct Changed {
        to: Policy,
    }
    let dir = ballast_store::Layout::new(data_dir).ops_journal();
    match last_record::<Changed>(&dir, "policy.changed", log) {
        Ok((_, last)) => last.map(|c| c.to),
        Err(e) => {
            log(&format!(
                "warning: the ops journal cannot be read for the last policy change ({e}); the engine's journal decides alone"
            ));
            None
        }
    }
}

/// The engine's policy record type.
const ENGINE_POLICY: &str = ballast_core::engine::kinds::POLICY;

/// Engage the kill switch: `KILL_SWITCH` in the data directory, durably (the file is the
/// switch, with or without a supervisor).
pub fn engage_kill_switch(
    data_dir: &Path,
    reason: &str,
    flatten: bool,
    by: &str,
    now: Timestamp,
) -> Result<PathBuf, String> {
    ballast_store::storage::create_dirs(data_dir, ballast_store::storage::DIR_MODE).map_err(
        |e| {
            format!(
                "cannot create the data directory {}: {e}; the kill switch is NOT engaged: check the path and its permissions, then `ballast kill` again",
                data_dir.display()
            )
        },
    )?;
    let layout = Layout::new(data_dir);
    let file = files::kill_switch::KillSwitch {
        version: files::VERSION,
        engaged_at: Some(now),
        reason: Some(reason.to_owned()),
        flatten,
        by: Some(by.to_owned()),
    };
    files::kill_switch::write(&RealStorage, &layout, &file).map_err(|e| {
        format!(
            "cannot write the kill switch request {}: {e}; the kill switch is NOT engaged: check the directory's space and permissions, then `ballast kill` again",
            layout.kill_switch().display()
        )
    })?;
    // A release written before this engagement releases nothing.
    match std::fs::remove_file(layout.kill_switch_release()) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(format!(
                "the kill switch request {} is written, but the earlier release {} cannot be removed: {e}; remove it by hand, or the engine may take it as a release of this engagement",
                layout.kill_switch().display(),
                layout.kill_switch_release().display()
            ));
        }
        _ => {}
    }
    Ok(layout.kill_switch())
}

/// What a release wrote: the release token, the request removed (if it was there), and what
/// the engine's last heartbeat said of the switch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Released {
    /// `KILL_SWITCH` was there (and is removed now).
    pub requested: bool,
    /// The engine's journaled switch as its last heartbeat says (it may lag the journal).
    pub engaged: Option<bool>,
    pub token_path: PathBuf,
    pub request_path: PathBuf,
}

/// Release the kill switch as `ballast resume` does: write the release token (atomically,
/// this user's only), then remove the request — the engine journals the release and removes
/// the token, now or at its next start. A release is written whatever the heartbeat says (the
/// engine discards one that finds nothing engaged), so an engaged switch always has a way out.
pub fn release_kill_switch(data_dir: &Path, by: &str, now: Timestamp) -> Result<Released, String> {
    let layout = Layout::new(data_dir);
    let path = layout.kill_switch();
    let token_path = layout.kill_switch_release();
    let requested = files::kill_switch::requested(&layout);
    let engaged = files::heartbeat::read(&RealStorage, &layout)
        .ok()
        .map(|h| h.status.kill_switch);
    let engaged_reason = requested
        .then(|| files::kill_switch::read(&RealStorage, &layout).ok())
        .flatten()
        .and_then(|f| f.reason);
    let token = ballast_core::engine::kill_switch::ReleaseToken {
        released_at: now,
        by: by.to_owned(),
        engaged_reason,
    };
    files::kill_switch::write_release(&RealStorage, &layout, &token).map_err(|e| {
        format!(
            "cannot write the release {}: {e}; the kill switch stays engaged",
            token_path.display()
        )
    })?;
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            // The request stays: the release would wait for it forever, so it is taken back.
            let _ = std::fs::remove_file(&token_path);
            return Err(format!(
                "cannot remove {}: {e}; the kill switch stays engaged",
                path.display()
            ));
        }
    }
    if let Ok(d) = std::fs::File::open(layout.root()) {
        let _ = d.sync_all();
    }
    Ok(Released {
        requested,
        engaged,
        token_path,
        request_path: path,
    })
}

/// The kill switch as the files say: the request (`KILL_SWITCH`: its reason, flatten, by,
/// when), a release waiting for the engine, and the engine's journaled switch as its last
/// heartbeat says.
pub fn kill_switch_state(data_dir: &Path) -> serde_json::Value {
    let layout = Layout::new(data_dir);
    let requested = files::kill_switch::requested(&layout);
    let request = requested
        .then(|| files::kill_switch::read(&RealStorage, &layout).ok())
        .flatten();
    let engaged = files::heartbeat::read(&RealStorage, &layout)
        .ok()
        .map(|h| h.status.kill_switch);
    serde_json::json!({
        "requested": requested,
        "engaged": engaged,
        "release_pending": std::fs::symlink_metadata(layout.kill_switch_release()).is_ok(),
        "reason": request.as_ref().and_then(|r| r.reason.clone()),
        "flatten": request.as_ref().map(|r| r.flatten),
        "by": request.as_ref().and_then(|r| r.by.clone()),
        "engaged_at": request.as_ref().and_then(|r| r.engaged_at),
    })
}
