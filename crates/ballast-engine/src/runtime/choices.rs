//! The operator's reconciliation choice (`state/reconcile-choice.json`, written by the
//! supervisor for `ballast reconcile adopt|flatten|stay` and `POST /v1/reconciliation/…`, or
//! by the CLI when no supervisor runs): at the start of a pass, when the file changed, its
//! choice is judged by the state ([`EngineState::resolve_record`]: the finding must be open and
//! offer the choice, and be as the operator saw it — a finding that changed since is refused),
//! journaled as `reconcile.resolve` and applied — or refused, said in the
//! log and in the heartbeat (`venue.choice_refused`), never applied. Either way the file is
//! removed, so a choice is taken once. This is the only way a finding is resolved: in live mode
//! (as in paper) nothing is adopted without the operator's file.

use std::time::SystemTime;

use ballast_core::engine::{EngineRecord, EngineState, EngineStatus};
use ballast_store::files::reconcile_choice;

use super::Writer;
use crate::EngineError;

/// What the engine follows of the choice file between passes.
#[derive(Debug, Default)]
pub(super) struct Follow {
    /// The file as last seen (modified, length): read only when it changes.
    seen: Option<(SystemTime, u64)>,
    /// The last choice refused, and why (the heartbeat reports it until one is taken).
    pub(super) refused: Option<String>,
}

/// Take the operator's choice, if a new one is there.
pub(super) fn take_choice(
    state: &mut EngineState,
    w: &mut Writer<'_>,
    log: &mut dyn FnMut(&str),
) -> Result<(), EngineError> {
    let path = w.layout.reconcile_choice_file();
    let seen = std::fs::metadata(&path)
        .ok()
        .map(|m| (m.modified().unwrap_or(std::time::UNIX_EPOCH), m.len()));
    if seen == w.choices.seen {
        return Ok(());
    }
    w.choices.seen = seen;
    if seen.is_none() {
        return Ok(());
    }
    let shown = w.layout.display(&path);
    let judged = match reconcile_choice::read(w.storage, w.layout) {
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => Err(format!("{shown} cannot be taken: {}", e.reason())),
        Ok(file) => {
            let at = state.last_bar.unwrap_or(file.at);
            state
                .resolve_record(&file.finding, file.choice, file.seen.as_ref(), &file.by, at)
                .map_err(|why| {
                    format!(
                        "the choice {} for {} by {} is refused: {why}",
                        ballast_core::resolve::word(file.choice),
                        file.finding,
                        file.by
                    )
                })
        }
    };
    match judged {
        Ok(record) => {
            let said = format!(
                "reconciliation: {} {} by {} (position {} -> {})",
                ballast_core::resolve::word(record.choice),
                record.finding,
                record.by,
                qty(record.before),
                qty(record.after)
            );
            let seq = w.commit(state, EngineRecord::Resolve(record), log)?;
            log(&format!("{said}, journaled at seq {seq}"));
            w.choices.refused = None;
        }
        Err(why) => {
            log(&format!("warning: {why}; nothing was applied"));
            w.choices.refused = Some(why);
        }
    }
    // Taken once: journaled or refused, it is not read again.
    if let Err(e) = reconcile_choice::remove(w.storage, w.layout) {
        log(&format!(
            "warning: cannot remove {shown} ({e}): its choice is not taken again while the file stays as it is"
        ));
    }
    Ok(())
}

/// `status` with the last refused choice in its venue report.
pub(super) fn reported(f: &Follow, mut status: EngineStatus) -> EngineStatus {
    status.venue.choice_refused.clone_from(&f.refused);
    status
}

fn qty(q: Option<rust_decimal::Decimal>) -> String {
    q.map_or_else(|| "none".to_owned(), |q| q.normalize().to_string())
}
