//! Symbolic links among Ballast's own paths (`quarantine/`, `journal/…`, `state/`, `logs/`,
//! `run/`, `inbox/`, `KILL_SWITCH`). The data directory itself may be a link; a link inside
//! it could send a heal's writes anywhere (`ln -s /etc data/quarantine`), so each one is
//! dangerous, and no heal writes at, under or (through `quarantine/`) via a link.

use serde::{Deserialize, Serialize};

use super::{Class, FailureClass, Op, Plan};
use crate::layout::rel;

/// One of Ballast's own paths that is a symbolic link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SymlinkObs {
    /// Relative to the data directory.
    pub path: String,
    /// Where the link points, as written in it.
    pub target: String,
}

/// The paths the engine and `ballast run` (which also writes the services' logs) write under:
/// they refuse to start while one of them, or anything below it, is a link.
pub const ENGINE_PATHS: [&str; 6] = [
    rel::JOURNAL,
    rel::ENGINE_JOURNAL,
    rel::STATE,
    rel::QUARANTINE,
    rel::RUN,
    rel::LOGS,
];

/// Why the engine refuses to start in a data directory with these links (in every mode: it
/// would write its journal, snapshots, quarantine copies or lock through them), if it does.
pub fn engine_refusal(links: &[SymlinkObs]) -> Option<String> {
    // The heartbeat is replaced by a rename each loop, never written through: a link there
    // is reported (and replaced), not a reason to refuse.
    let l = links.iter().find(|l| {
        l.path != rel::HEARTBEAT
            && ENGINE_PATHS
                .iter()
                .any(|p| l.path == *p || l.path.starts_with(&format!("{p}/")))
    })?;
    Some(format!(
        "{} in the data directory is a symbolic link (to {}): Ballast writes nothing through a link inside its data directory; make it a real directory or file (move the link away, create it, move the contents back), or link the whole data directory instead",
        l.path, l.target
    ))
}

/// Report each link as dangerous and hold back every heal that would write through one.
pub(super) fn links(plan: &mut Plan, links: &[SymlinkObs]) {
    if links.is_empty() {
        return;
    }
    if let Some(why) = engine_refusal(links) {
        plan.engine_refusal.get_or_insert(why);
    }
    for a in &mut plan.actions {
        if a.class != Class::Heal {
            continue;
        }
        let inside = !a.target.starts_with('/');
        let through = links.iter().find(|l| {
            let under = a.target == l.path || a.target.starts_with(&format!("{}/", l.path));
            under || (inside && l.path == "quarantine" && uses_quarantine(&a.op))
        });
        if let Some(l) = through {
            a.class = Class::Skip;
            a.reason = format!(
                "{} — not done: {} is a symbolic link, and nothing is written through it",
                a.reason, l.path
            );
        }
    }
    for l in links {
        plan.push(
            "links",
            l.path.clone(),
            Class::Dangerous,
            FailureClass::PersistentConfig,
            Op::Report,
            format!(
                "{} is a symbolic link (to {}): Ballast writes nothing through a link inside its data directory, so what needs it is not healed; make it a real directory or file (move the link away, create it, move the contents back), or link the whole data directory instead",
                l.path, l.target
            ),
        );
    }
}

/// The ops that first copy or move the original into `quarantine/`.
fn uses_quarantine(op: &Op) -> bool {
    matches!(
        op,
        Op::ReplaceWithDir | Op::Truncate { .. } | Op::MoveAside | Op::Rewrite { .. }
    )
}
