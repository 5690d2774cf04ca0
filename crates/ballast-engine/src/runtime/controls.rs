//! What the engine follows from outside, each change journaled before it applies: the kill
//! switch (`KILL_SWITCH`, released only by `ballast resume`'s release) and the supervisor's
//! safety policy (`state/policy.json`).

use ballast_core::engine::kill_switch::{Step, step};
use ballast_core::engine::{EngineState, PolicyChange};
use ballast_store::Layout;

use super::Writer;

/// The kill switch: the `KILL_SWITCH` file (`ballast kill`, with or without a supervisor) is a
/// request to engage it; the engine journals each change, and engaging cancels open orders.
/// It is released only by the release token of `ballast resume` (`KILL_SWITCH.release`, owned
/// by this user): the release is journaled, then the token removed. A file removed by hand
/// leaves the switch engaged (said once). Decided by [`ballast_core::engine::kill_switch::step`];
/// an engagement or a release is journaled by the pass ([`EngineState::poll`]).
pub(super) fn kill_switch(
    state: &EngineState,
    w: &mut Writer<'_>,
    log: &mut dyn FnMut(&str),
) -> Step {
    let request = ballast_store::files::kill_switch::request(&ballast_store::RealStorage, w.layout);
    let release = read_release(w.layout);
    match step(state.controls.kill_switch.as_ref(), request, &release) {
        Step::DiscardToken { why } => {
            remove_token(w);
            log(&format!(
                "{} removed: {why}",
                w.layout.display(&w.layout.kill_switch_release())
            ));
            Step::Nothing
        }
        Step::StaysEngaged { why } => {
            if !w.kill_switch_noted {
                w.kill_switch_noted = true;
                log(&format!("warning: {why}"));
            }
            Step::Nothing
        }
        journaled @ (Step::Engage { .. } | Step::Release { .. }) => {
            w.kill_switch_noted = false;
            journaled
        }
        Step::Nothing => Step::Nothing,
    }
}

/// After an `engine.kill_switch` record is journaled and applied: the release token is
/// consumed (a token written before an engagement releases nothing).
pub(super) fn kill_switch_journaled(w: &mut Writer<'_>) {
    remove_token(w);
    w.kill_switch_noted = false;
}

fn remove_token(w: &Writer<'_>) {
    let _ = std::fs::remove_file(w.layout.kill_switch_release());
}

/// The release token of `layout`: a regular file of this user (never through a link), at
/// most `MAX_FILE_BYTES`, that parses as one.
fn read_release(layout: &Layout) -> ballast_core::engine::kill_switch::Release {
    use ballast_core::engine::kill_switch::Release;
    use ballast_store::files::{FileError, kill_switch};
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::symlink_metadata(layout.kill_switch_release()) else {
        return Release::None;
    };
    if meta.uid() != rustix::process::geteuid().as_raw() {
        return Release::Invalid(format!(
            "it belongs to user id {}, not to this engine's user",
            meta.uid()
        ));
    }
    match kill_switch::read_release(&ballast_store::RealStorage, layout) {
        Ok(t) => Release::Token(t),
        Err(FileError::Invalid { detail, .. }) => {
            Release::Invalid(format!("not a release token: {detail}"))
        }
        Err(e) => Release::Invalid(e.to_string()),
    }
}

/// The supervisor's safety policy (`state/policy.json`, written by its health monitor): each
/// change is journaled (`engine.policy`), then applied — entering DEFENSIVE_EXIT places the
/// closing orders of the riskiest positions. A missing file, or one that is not a policy file
/// Ballast wrote (no or a wrong checksum), changes nothing: the last journaled policy stays in
/// force (a restart never re-arms trading). What a valid file may change is decided by
/// [`ballast_core::policy::adopt`]: out of EMERGENCY_SHUTDOWN only with an operator release.
pub(super) fn follow_policy(
    state: &EngineState,
    w: &mut Writer<'_>,
    log: &mut dyn FnMut(&str),
) -> Option<PolicyChange> {
    let path = w.layout.policy_file();
    let Ok(meta) = std::fs::metadata(&path) else {
        return None;
    };
    let seen = (meta.modified().unwrap_or(std::time::UNIX_EPOCH), meta.len());
    if w.policy_seen == Some(seen) {
        return None;
    }
    w.policy_seen = Some(seen);
    let file = match ballast_store::files::policy::read(&ballast_store::RealStorage, w.layout) {
        Ok(f) => f,
        Err(e) => {
            log(&format!(
                "warning: {} is not used ({}); the policy in force stays {}",
                path.display(),
                e.reason(),
                state.policy().as_str()
            ));
            return None;
        }
    };
    let releases = state.controls.policy.as_ref().map_or(0, |p| p.releases);
    let journal = ballast_store::journal::identity(&w.layout.engine_journal());
    match ballast_core::policy::adopt(state.policy(), releases, &file, journal.as_deref()) {
        Ok(true) => {}
        Ok(false) => return None,
        Err(refusal) => {
            log(&format!("warning: {refusal}"));
            return None;
        }
    }
    Some(PolicyChange {
        policy: file.policy,
        reason: file.reason,
        releases: file.releases,
    })
}
