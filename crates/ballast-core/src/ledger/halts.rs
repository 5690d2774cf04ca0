//! Records a halt forbids, and halts left without an operator: each record is judged against
//! the trading state, kill switch and policy in force before it (the replayed state's).

use rust_decimal::Decimal;

use super::{Invariant, Report};
use crate::domain::{Order, Side};
use crate::engine::{EngineRecord, EngineState, LiquidationAction, Owner};
use crate::guard::TradingState;
use crate::policy::Policy;

/// Judge `record` (seq `seq`) against the controls of `before`.
pub fn check_record(before: &EngineState, seq: u64, record: &EngineRecord, report: &mut Report) {
    let gate = before.gate();
    let halted = gate.kill_switch || gate.trading_state == TradingState::Halted;
    let why = || halt_words(before);
    match record {
        EngineRecord::Decision(d) => {
            let Some(o) = &d.order else { return };
            if halted {
                report.push(
                    Invariant::HaltForbids,
                    Some(seq),
                    format!(
                        "order {} ({} {} {}) decided for signal {} while {}: a halt allows no new order",
                        o.client_order_id.as_str(),
                        o.side,
                        o.qty.value().normalize(),
                        o.symbol,
                        d.signal,
                        why()
                    ),
                );
            } else if gate.trading_state == TradingState::Reducing && !reduces(before, o) {
                report.push(
                    Invariant::HaltForbids,
                    Some(seq),
                    format!(
                        "order {} ({} {} {}, position {}) decided while trading is REDUCING ({}): only orders that reduce a position may pass",
                        o.client_order_id.as_str(),
                        o.side,
                        o.qty.value().normalize(),
                        o.symbol,
                        before.portfolio.qty(&o.symbol).normalize(),
                        why()
                    ),
                );
            }
        }
        EngineRecord::Sent(r) if gate.kill_switch => {
            let owner = before
                .orders
                .tracked
                .get(&r.client_order_id)
                .map(|t| t.owner);
            let forbidden = matches!(owner, Some(Owner::Signal(_) | Owner::Liquidation(_)));
            if forbidden {
                report.push(
                    Invariant::HaltForbids,
                    Some(seq),
                    format!(
                        "order {} (attempt {}) sent while the kill switch is engaged: engaging it cancels every open order and sends none but its own closing orders",
                        r.client_order_id.as_str(),
                        r.attempt
                    ),
                );
            }
        }
        EngineRecord::Liquidation(r) if gate.kill_switch => {
            for a in &r.actions {
                if let LiquidationAction::Place { order, .. } = a {
                    report.push(
                        Invariant::HaltForbids,
                        Some(seq),
                        format!(
                            "liquidation order {} placed while the kill switch is engaged: the liquidation path stops with it",
                            order.client_order_id.as_str()
                        ),
                    );
                }
            }
        }
        EngineRecord::Policy(r) => {
            let (was, releases) = before
                .controls
                .policy
                .as_ref()
                .map_or((Policy::AllowAll, 0), |p| (p.policy, p.releases));
            if was == Policy::EmergencyShutdown
                && r.policy != Policy::EmergencyShutdown
                && r.releases <= releases
            {
                report.push(
                    Invariant::HaltLeftByOperator,
                    Some(seq),
                    format!(
                        "the policy left EMERGENCY_SHUTDOWN for {} with no operator's release (releases {} before, {} now; `ballast resume` counts one up)",
                        r.policy.as_str(),
                        releases,
                        r.releases
                    ),
                );
            }
        }
        _ => {}
    }
}

/// Whether `o` strictly reduces the position in its symbol without crossing flat.
fn reduces(state: &EngineState, o: &Order) -> bool {
    let held = state.portfolio.qty(&o.symbol);
    let against = match o.side {
        Side::Buy => held < Decimal::ZERO,
        Side::Sell => held > Decimal::ZERO,
    };
    against && o.qty.value() <= held.abs()
}

/// What halts trading in `state`, in words.
fn halt_words(state: &EngineState) -> String {
    let mut out = Vec::new();
    if let Some(k) = &state.controls.kill_switch {
        out.push(format!("the kill switch is engaged ({})", k.reason));
    }
    let policy = state.policy();
    if policy != Policy::AllowAll {
        out.push(format!("the policy is {}", policy.as_str()));
    }
    if let Some(r) = state
        .controls
        .reconcile
        .as_ref()
        .filter(|r| !r.findings.is_empty())
    {
        out.push(format!(
            "{} reconciliation finding(s) are open (latch {})",
            r.findings.len(),
            state_name(r.latch.trading_state())
        ));
    }
    if out.is_empty() {
        "trading is restricted".to_owned()
    } else {
        out.join("; ")
    }
}

fn state_name(s: TradingState) -> &'static str {
    match s {
        TradingState::Active => "ACTIVE",
        TradingState::Reducing => "REDUCING",
        TradingState::Halted => "HALTED",
    }
}
