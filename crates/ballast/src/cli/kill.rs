//! `ballast kill` / `ballast resume`: the kill switch is the `KILL_SWITCH` file of the data
//! directory, so both work with or without a running supervisor or engine. The engine sees the
//! file on its next loop: it journals the change, cancels every open order, and its guard
//! refuses every new order until the file is removed — only explicitly, by `ballast resume`.

use super::out;
use ballast_store::Layout;

use crate::exit::{self, Exit};
use crate::settings::DataDir;

fn layout(dir: &DataDir) -> Layout {
    Layout::new(dir.path.clone())
}

/// Engage: write the file atomically (temp file, fsync, rename).
pub fn kill(dir: &DataDir, reason: &str, flatten: bool) -> anyhow::Result<Exit> {
    use ballast_core::Clock;
    let layout = layout(dir);
    let path = ballast_supervisor::health::engage_kill_switch(
        layout.root(),
        reason,
        flatten,
        "ballast kill",
        ballast_store::SystemClock.now(),
    )?;
    out!(
        "kill switch ENGAGED: {} ({reason}). The engine halts on its next loop: open orders are cancelled, new orders refused{}. Release it with `ballast resume`.",
        path.display(),
        if flatten {
            ", every position closed at market"
        } else {
            ""
        }
    );
    Ok(exit::OK)
}

/// With a running supervisor: leave EMERGENCY_SHUTDOWN and clear latched protections and
/// operator floors (it checks the reconciliation first).
fn release(layout: &ballast_store::Layout) -> Exit {
    use ballast_supervisor::control::{self, Request, Response};
    match control::call(&layout.run().join("supervisor.sock"), &Request::Release) {
        Ok(Response::Done { message }) => {
            out!("supervisor: {message}");
            exit::OK
        }
        Ok(Response::Error { message }) => {
            eprintln!("supervisor: the safety policy stays: {message}");
            exit::FAILURE
        }
        Ok(other) => {
            eprintln!(
                "supervisor: unexpected answer: {}",
                serde_json::to_string(&other).unwrap_or_default()
            );
            exit::FAILURE
        }
        // No supervisor: the file was the whole switch; the policy is evaluated at its start.
        Err(_) => exit::OK,
    }
}

/// Release: remove the file.
pub fn resume(dir: &DataDir) -> anyhow::Result<Exit> {
    let layout = layout(dir);
    let path = layout.kill_switch();
    match std::fs::remove_file(&path) {
        Ok(()) => {
            if let Ok(d) = std::fs::File::open(layout.root()) {
                let _ = d.sync_all();
            }
            out!(
                "kill switch released: {} removed; trading resumes on the engine's next loop",
                path.display()
            );
            Ok(release(&layout))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            out!(
                "the kill switch is not engaged ({} does not exist)",
                path.display()
            );
            Ok(release(&layout))
        }
        Err(e) => {
            eprintln!("ballast resume: cannot remove {}: {e}", path.display());
            Ok(exit::FAILURE)
        }
    }
}
