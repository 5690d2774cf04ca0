//! Symbolic links among Ballast's own paths (`quarantine/`, `journal/…`, `state/`, `logs/`,
//! `run/`, `inbox/`, `KILL_SWITCH`). The data directory itself may be a link; a link inside
//! it could send a heal's writes anywhere (`ln -s /etc data/quarantine`), so each one is
//! dangerous, and no heal writes at, under or (through `quarantine/`) via a link.

use serde::{Deserialize, Serialize};

use super::{Class, FailureClass, Op, Plan};

/// One of Ballast's own paths that is a symbolic link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SymlinkObs {
    /// Relative to the data directory.
    pub path: String,
    /// Where the link points, as written in it.
    pub target: String,
}

/// Report each link as dangerous and hold back every heal that would write through one.
pub(super) fn links(plan: &mut Plan, links: &[SymlinkObs]) {
    if links.is_empty() {
        return;
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
