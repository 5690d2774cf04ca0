//! The replay comparison: where two engine states differ, as figures in words.

use std::collections::BTreeSet;

use super::pair;
use crate::engine::EngineState;

/// The parts in which `produced` and `replayed` differ, figures first (an empty list never
/// comes back: the caller asks only when they differ).
pub fn differences(produced: &EngineState, replayed: &EngineState) -> String {
    let (a, b) = (produced, replayed);
    let mut out = Vec::new();
    if a.portfolio.cash != b.portfolio.cash {
        out.push(format!("cash {}", pair(a.portfolio.cash, b.portfolio.cash)));
    }
    if a.portfolio.equity() != b.portfolio.equity() {
        out.push(format!(
            "equity {}",
            pair(a.portfolio.equity(), b.portfolio.equity())
        ));
    }
    let symbols: BTreeSet<_> = a
        .portfolio
        .stored()
        .chain(b.portfolio.stored())
        .map(|(s, _)| *s)
        .collect();
    for s in symbols {
        let (qa, qb) = (a.portfolio.qty(&s), b.portfolio.qty(&s));
        if qa != qb {
            out.push(format!("position in {s} {}", pair(qa, qb)));
        }
    }
    let counts = [
        ("bars", a.bars, b.bars),
        ("fills", a.stats.fills, b.stats.fills),
        ("orders", a.stats.orders, b.stats.orders),
        ("signals", a.stats.signals, b.stats.signals),
        (
            "orders tracked",
            a.orders.tracked.len() as u64,
            b.orders.tracked.len() as u64,
        ),
        (
            "targets pending",
            a.decisions.pending.len() as u64,
            b.decisions.pending.len() as u64,
        ),
    ];
    for (what, x, y) in counts {
        if x != y {
            out.push(format!("{what} {x} vs {y}"));
        }
    }
    let parts = [
        ("the tracked orders", a.orders != b.orders),
        ("the signals", a.signals != b.signals),
        (
            "the pending targets and decision log",
            a.decisions != b.decisions,
        ),
        (
            "the controls (kill switch, policy, reconciliation)",
            a.controls != b.controls,
        ),
        ("the paper venue's book", a.broker != b.broker),
        ("the guard's memory", a.guard != b.guard),
        ("the strategy", a.strategy != b.strategy),
        ("the counters", a.stats != b.stats),
    ];
    out.extend(
        parts
            .iter()
            .filter(|(_, differ)| *differ)
            .map(|(what, _)| format!("{what} differ")),
    );
    if out.is_empty() {
        out.push("another part of the state differs (shadow, universe, trades or feed)".to_owned());
    }
    format!("{} (produced vs replayed)", out.join("; "))
}
