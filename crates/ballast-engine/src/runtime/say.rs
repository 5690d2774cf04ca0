//! What the engine's log says about each record it journals: worked out from the state
//! before the record is applied (how many orders a kill switch cancels, the policy it leaves).

use ballast_core::domain::Side;
use ballast_core::engine::{
    DecisionRecord, EngineRecord, EngineState, LiquidationAction, LiquidationRecord, SendOutcome,
    SettingsRecord, SettingsSource,
};

/// The log lines for `record`, journaled at `seq`, about to be applied to `state`.
pub(super) fn say(state: &EngineState, record: &EngineRecord, seq: u64) -> Vec<String> {
    match record {
        EngineRecord::Stamp(_) | EngineRecord::Inbox(_) | EngineRecord::Taken(_) => Vec::new(),
        EngineRecord::VenueOrder(r) => vec![format!(
            "order {}: the venue reports it {} ({} filled in all); settled from the venue's word",
            r.settle.client_order_id, r.settle.status, r.settle.filled_qty
        )],
        EngineRecord::Reconcile(r) => reconciled(r),
        EngineRecord::Resolve(r) => vec![resolved(r)],
        EngineRecord::Bar(ballast_core::engine::BarRecord { fills, .. })
        | EngineRecord::VenueFills(ballast_core::engine::VenueFillsRecord { fills, .. }) => fills
            .iter()
            .map(|f| {
                format!(
                    "{} {} {} @ {} (order {}, fill {})",
                    match f.side {
                        Side::Buy => "bought",
                        Side::Sell => "sold",
                    },
                    f.qty,
                    f.symbol,
                    f.price,
                    f.client_order_id,
                    f.fill_id
                )
            })
            .collect(),
        EngineRecord::Decision(d) => vec![decision(d)],
        EngineRecord::Liquidation(r) => liquidation(r),
        EngineRecord::Sent(r) => match &r.outcome {
            SendOutcome::Accepted => Vec::new(),
            SendOutcome::Rejected { reason } => vec![format!(
                "order {} rejected by the venue: {reason}",
                r.client_order_id
            )],
            SendOutcome::Unknown { error, .. } => vec![format!(
                "order {} (attempt {}): no answer ({error}); in flight until a lookup settles it",
                r.client_order_id, r.attempt
            )],
        },
        EngineRecord::Settle(r) => vec![format!(
            "order {} looked up: {}",
            r.client_order_id,
            if r.found {
                "the venue has it (settled)"
            } else {
                "the venue never got it; sending it again with the same id"
            }
        )],
        EngineRecord::Settings(r) => vec![settings(r, seq)],
        EngineRecord::FeedSwitch(r) => vec![feed_switch(r, seq)],
        EngineRecord::PaperSettings(r) => vec![paper_settings(r, seq)],
        EngineRecord::KillSwitch(r) if r.engaged => vec![format!(
            "KILL SWITCH ENGAGED ({}): trading HALTED, {} open order(s) cancelled{}",
            r.reason,
            state.orders.tracked.len(),
            if r.flatten {
                format!(", {} position(s) being closed at market", r.orders.len())
            } else {
                String::new()
            }
        )],
        EngineRecord::KillSwitch(r) => {
            vec![format!(
                "kill switch released ({}): trading resumes",
                r.reason
            )]
        }
        EngineRecord::Policy(r) => vec![format!(
            "safety policy {} -> {} ({}): trading {}{}",
            state.policy().as_str(),
            r.policy.as_str(),
            r.reason,
            r.policy.trading_state(),
            if r.orders.is_empty() {
                String::new()
            } else {
                format!(
                    ", closing {} riskiest position(s) at market",
                    r.orders.len()
                )
            }
        )],
        EngineRecord::Expired(r) => r
            .expired
            .iter()
            .map(|(id, why)| format!("heal: signal {id} expired: {why}"))
            .chain(
                r.cancelled
                    .iter()
                    .map(|id| format!("heal: order {id} of an expired signal cancelled")),
            )
            .collect(),
    }
}

fn decision(d: &DecisionRecord) -> String {
    match &d.order {
        Some(o) => format!(
            "{} {} {} ({}), guard {} -> order {} (signal {})",
            o.side,
            o.qty,
            o.symbol,
            why(d),
            verdict_word(d),
            o.client_order_id,
            d.signal
        ),
        None => format!(
            "no order for {} {} {} ({}) -> {} (signal {})",
            d.side,
            d.candidate_qty,
            d.symbol,
            why(d),
            verdict_word(d),
            d.signal
        ),
    }
}

fn liquidation(r: &LiquidationRecord) -> Vec<String> {
    r.actions
        .iter()
        .map(|a| match a {
            LiquidationAction::Start { liquidation: l } => format!(
                "liquidation {} {} {} {}: {}",
                l.id, l.side, l.remaining, l.symbol, l.reason
            ),
            LiquidationAction::Place {
                id, step, order, ..
            } => format!(
                "liquidation {id}: {step} order {} {} {}",
                order.client_order_id, order.side, order.qty
            ),
            LiquidationAction::Cancel { id, order } => format!(
                "liquidation {id}: order {order} had its chance; cancel asked, the next step waits for the venue's word on it"
            ),
            LiquidationAction::GiveUp { id, remaining } => {
                format!("liquidation {id}: path exhausted with {remaining} left")
            }
            LiquidationAction::TrimEnded {
                success,
                exposure_pct,
                cap_pct,
            } => format!(
                "auto-trim ended ({}): exposure {exposure_pct} % of equity, cap {cap_pct} %",
                if *success { "under the cap" } else { "FAILED" }
            ),
            LiquidationAction::Alert {
                failures,
                exposure_pct,
                cap_pct,
                excess_usd,
            } => format!(
                "CRITICAL: auto-trim failed {failures} times in a row: exposure {exposure_pct} % of equity > cap {cap_pct} % (excess {excess_usd} USD)"
            ),
        })
        .collect()
}

/// The strategy and its reason, the strategy named once (`sma_cross: sma_cross 10/30 cross
/// up` reads `sma_cross 10/30 cross up`).
fn why(d: &DecisionRecord) -> String {
    if d.reason.starts_with(&d.strategy) {
        d.reason.clone()
    } else {
        format!("{}: {}", d.strategy, d.reason)
    }
}

fn verdict_word(d: &DecisionRecord) -> String {
    use ballast_core::guard::Verdict;
    let joined = |reasons: &[ballast_core::guard::Reason]| {
        reasons
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    };
    match &d.verdict {
        Verdict::Approve => "approved".into(),
        Verdict::Resize { qty, reasons } => format!("resized to {qty}: {}", joined(reasons)),
        Verdict::Reject { reasons } => format!("rejected: {}", joined(reasons)),
    }
}

/// An `engine.settings` record: where the settings come from and each key that changed.
fn settings(r: &SettingsRecord, seq: u64) -> String {
    let from = match (r.source, &r.config_hash) {
        (SettingsSource::Start, _) => "the configuration at the start".to_owned(),
        (SettingsSource::Reload, Some(h)) => format!("a reload (configuration {h})"),
        (SettingsSource::Reload, None) => "a reload".to_owned(),
    };
    let Some(previous) = &r.previous else {
        return format!(
            "settings at seq {seq}: the [guard] limits and [risk] rules of {from} are in force (the journal had none)"
        );
    };
    let changes = r.now.changes(previous);
    if changes.is_empty() {
        return format!("settings at seq {seq} from {from}: unchanged");
    }
    let list: Vec<String> = changes
        .iter()
        .map(|(key, old, new)| format!("{key} {old} -> {new}"))
        .collect();
    format!(
        "settings changed at seq {seq} by {from}: {}; the next order is judged by them",
        list.join(", ")
    )
}

/// A `feed.switch` record: an alert line, with why.
fn feed_switch(r: &ballast_core::market::fallback::FeedSwitch, seq: u64) -> String {
    format!(
        "ALERT: market data switched to the {} feed at seq {seq}: {}",
        r.to.as_str(),
        r.why
    )
}

/// A reconciliation's outcome: clean, or each dangerous finding as a CRITICAL line naming
/// the symbol, what Ballast believes, what the broker says and the way forward; each query
/// that failed (nothing concluded from it).
fn reconciled(r: &ballast_core::engine::ReconcileRecord) -> Vec<String> {
    let when = if r.startup {
        "startup reconciliation"
    } else {
        "reconciliation"
    };
    let mut out = Vec::new();
    if r.findings.is_empty() && r.unanswered.is_empty() {
        out.push(format!(
            "{when}: clean (the broker agrees with the journal)"
        ));
    }
    let latch = match r.latch {
        ballast_core::reconcile::OnDangerous::Halted => "HALTED",
        ballast_core::reconcile::OnDangerous::Reducing => "REDUCING",
    };
    for f in &r.findings {
        let choices: Vec<String> = f
            .choices
            .iter()
            .map(|c| {
                serde_json::to_value(c)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            })
            .collect();
        out.push(format!(
            "CRITICAL: {when}: {} {}: Ballast believes {}; the broker says {}{} — trading {latch} until the operator chooses ({}) with `ballast reconcile`",
            serde_json::to_value(f.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            f.symbol.map_or_else(|| f.id.clone(), |s| s.to_string()),
            f.ours,
            f.theirs,
            if f.explaining.is_empty() {
                String::new()
            } else {
                format!(" (would be explained by: {})", f.explaining.join(", "))
            },
            choices.join(", ")
        ));
    }
    for u in &r.unanswered {
        out.push(format!(
            "warning: {when}: not answered: {u} (nothing is concluded from it; asked again next cycle)"
        ));
    }
    out
}

/// The operator's choice about a finding, with what it changed.
fn resolved(r: &ballast_core::engine::ResolveRecord) -> String {
    let show =
        |q: Option<rust_decimal::Decimal>| q.map_or_else(|| "none".to_owned(), |q| q.to_string());
    format!(
        "reconciliation: finding {} resolved by {}: {}{}{}",
        r.finding,
        r.by,
        serde_json::to_value(r.choice)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        r.symbol.map_or_else(String::new, |s| format!(
            " ({s}: {} -> {})",
            show(r.before),
            show(r.after)
        )),
        if r.orders.is_empty() {
            String::new()
        } else {
            format!(", {} order(s) placed", r.orders.len())
        }
    )
}

fn paper_settings(r: &ballast_core::engine::PaperSettingsRecord, seq: u64) -> String {
    format!(
        "[paper] settings changed at seq {seq}: slippage {} -> {} bps, fee {} -> {} bps, participation {} -> {}, latency {} -> {} ms",
        r.previous.slippage_bps,
        r.now.slippage_bps,
        r.previous.fee_bps,
        r.now.fee_bps,
        r.previous.participation,
        r.now.participation,
        r.previous.latency_ms,
        r.now.latency_ms
    )
}
