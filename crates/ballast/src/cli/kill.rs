//! `ballast kill` / `ballast resume`, with or without a running supervisor or engine. `kill`
//! writes the `KILL_SWITCH` file, the request to engage: the engine sees it on its next loop,
//! journals the engagement, cancels every open order, and its guard refuses every new order.
//! The switch is then the engine's journaled state: removing the file by hand releases
//! nothing. `resume` writes the release token `KILL_SWITCH.release` (then removes the file);
//! the engine journals the release and removes the token, now or at its next start.

use super::err;
use super::out;
use crate::limits::{KILL_VIA_SUPERVISOR_MS, RELEASE_POLL_MS, RELEASE_TAKEN_WITHIN_MS};
use ballast_store::Layout;

use crate::exit::{self, Exit};
use crate::settings::DataDir;

fn layout(dir: &DataDir) -> Layout {
    Layout::new(dir.path.clone())
}

/// Engage: write the file atomically (temp file, fsync, rename) — by a running supervisor's
/// loop when it answers within [`KILL_VIA_SUPERVISOR_MS`] (`Request::Kill`: the same
/// function, and the action journaled as the CLI's), else here, so the switch always engages.
pub fn kill(dir: &DataDir, reason: &str, flatten: bool) -> anyhow::Result<Exit> {
    use ballast_core::Clock;
    use ballast_supervisor::control::{self, Request, Response};
    let layout = layout(dir);
    let request = Request::Kill {
        reason: reason.to_owned(),
        flatten,
        by: "ballast kill".to_owned(),
    };
    let wait = std::time::Duration::from_millis(KILL_VIA_SUPERVISOR_MS);
    let answer = control::call_within(&layout.control_socket(), &request, wait);
    let path = if matches!(answer, Ok(Response::Done { .. })) {
        layout.kill_switch()
    } else {
        match ballast_supervisor::health::engage_kill_switch(
            layout.root(),
            reason,
            flatten,
            "ballast kill",
            ballast_store::SystemClock.now(),
        ) {
            Ok(path) => path,
            Err(e) => {
                err!("ballast kill: {e}");
                return Ok(exit::FAILURE);
            }
        }
    };
    let what = if flatten {
        ", every position closed at market"
    } else {
        ""
    };
    // An engine that runs journals the engagement on its next loop, and from then on only
    // `ballast resume` releases it. With none running, the request is the file alone until
    // an engine starts: said as it is.
    if ballast_supervisor::heal::engine_lock_held(&layout) {
        out!(
            "kill switch ENGAGED: {} ({reason}). The engine halts on its next loop: open orders are cancelled, new orders refused{what}; it journals the switch, and only `ballast resume` releases it.",
            path.display()
        );
    } else {
        out!(
            "kill switch requested: {} ({reason}). No engine runs now: the engine engages it when it starts (before any order{what}) and journals it; until then the request is this file — do not remove it by hand; `ballast resume` releases it.",
            path.display()
        );
    }
    Ok(exit::OK)
}

/// With a running supervisor: leave EMERGENCY_SHUTDOWN and clear latched protections and
/// operator floors (it checks the reconciliation first).
fn release(layout: &ballast_store::Layout) -> Exit {
    use ballast_supervisor::control::{self, Request, Response};
    // The engine takes the release on its next loop and reports it in its heartbeat; the
    // supervisor sees that on its next health cycle. Until then it answers that the kill
    // switch is engaged: asked again, within a bound, rather than told to the operator.
    let deadline =
        std::time::Instant::now() + std::time::Duration::from_millis(RELEASE_TAKEN_WITHIN_MS);
    let answer = loop {
        let answer = control::call(&layout.control_socket(), &Request::Release);
        let waiting = matches!(&answer, Ok(Response::Error { message, .. })
            if message.contains(ballast_core::policy::KILL_SWITCH_STILL_ENGAGED));
        if !waiting || std::time::Instant::now() >= deadline {
            break answer;
        }
        std::thread::sleep(std::time::Duration::from_millis(RELEASE_POLL_MS));
    };
    match answer {
        Ok(Response::Error { message, .. })
            if message.contains(ballast_core::policy::KILL_SWITCH_STILL_ENGAGED) =>
        {
            err!(
                "supervisor: the safety policy stays EMERGENCY_SHUTDOWN for now: the engine has not taken the release within {} (is it running? `ballast status` shows its kill switch); once it has, `ballast resume` again releases the policy",
                ballast_core::time::Human(RELEASE_TAKEN_WITHIN_MS)
            );
            exit::FAILURE
        }
        Ok(Response::Done { message }) => {
            out!("supervisor: {message}");
            exit::OK
        }
        Ok(Response::Error { message, .. }) => {
            err!("supervisor: the safety policy stays: {message}");
            exit::FAILURE
        }
        Ok(other) => {
            err!(
                "supervisor: unexpected answer: {}",
                serde_json::to_string(&other).unwrap_or_default()
            );
            exit::FAILURE
        }
        // No supervisor: the file was the whole switch; the policy is evaluated at its start.
        Err(_) => exit::OK,
    }
}

/// Release: write the release token (atomically, this user's only), then remove the request
/// — the one function the API's release calls too.
pub fn resume(dir: &DataDir) -> anyhow::Result<Exit> {
    use ballast_core::Clock;
    let layout = layout(dir);
    let released = match ballast_supervisor::health::release_kill_switch(
        layout.root(),
        "ballast resume",
        ballast_store::SystemClock.now(),
    ) {
        Ok(r) => r,
        Err(e) => {
            err!("ballast resume: {e}");
            return Ok(exit::FAILURE);
        }
    };
    let (path, token_path) = (&released.request_path, &released.token_path);
    if !released.requested && released.engaged == Some(false) {
        out!(
            "the kill switch is not engaged ({} does not exist and the engine's last heartbeat says it is released); a release was left in {} in case the engine's journal says otherwise (the engine discards it if nothing is engaged)",
            path.display(),
            token_path.display()
        );
        return Ok(release(&layout));
    }
    out!(
        "kill switch released: {} written{}; the engine journals the release and trading resumes on its next loop (or at its next start)",
        token_path.display(),
        if released.requested {
            format!(", {} removed", path.display())
        } else {
            format!(
                " ({} was already removed by hand, which released nothing)",
                path.display()
            )
        }
    );
    Ok(release(&layout))
}
