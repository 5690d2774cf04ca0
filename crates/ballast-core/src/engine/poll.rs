//! What the engine does next, in the order the core decides: one pass after each bar (and at
//! a start) goes live settings → kill switch → safety policy → stuck-signal expiry →
//! auto-trim → decisions → lookups → sends. The runtime calls [`EngineState::poll`] until it answers `None`,
//! journaling and applying each record before it asks again (quinn-proto's `poll_*` style: the
//! caller owns the journal, the venue and time; this decides).

use super::kill_switch::Step;
use super::kinds::EngineRecord;
use super::{EngineState, MAX_SEND_ATTEMPTS, SendState, TrimRules};
use crate::domain::{ClientOrderId, Order};
use crate::guard::{Gate, Limits};
use crate::policy::Policy;
use crate::time::Timestamp;

/// A policy file the runtime found changed and adoptable (`policy::adopt` said yes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyChange {
    pub policy: Policy,
    pub reason: String,
    /// The operator releases the file carried.
    pub releases: u64,
}

/// A settings file the runtime read, valid: its settings and the configuration hash it names
/// (journaled only if they differ from those in force).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsChange {
    pub settings: super::EngineSettings,
    pub config_hash: String,
}

/// What the engine does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Journal this record, then apply it.
    Record(EngineRecord),
    /// Look this order up at the venue by `client_order_id` (its outcome is unknown); the
    /// answer is an `order.settle` record.
    Lookup {
        client_order_id: ClientOrderId,
        at: Timestamp,
    },
    /// Send this intent to the venue (attempt 1, or a resend with the same id); the answer is
    /// an `order.sent` record.
    Send {
        order: Order,
        attempt: u32,
        at: Timestamp,
    },
}

/// The cancels at the venue a record stands for (journaled first, then carried out: the
/// paper venue's book moves when the record is applied; a real venue is asked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cancels {
    None,
    /// Every open order (the kill switch engaged).
    All,
    These(Vec<ClientOrderId>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Settings,
    KillSwitch,
    Policy,
    Expiry,
    Trim,
    Decisions,
    Lookups,
    Sends,
    Done,
}

/// One pass's inputs (what the runtime read from outside before it) and where the pass is.
#[derive(Debug, Clone)]
pub struct Inputs<'a> {
    /// The configured limits and rules: those in force until an `engine.settings` record is
    /// (then the state's, [`EngineState::limits_or`]).
    pub limits: &'a Limits,
    pub trim: &'a TrimRules,
    /// Settings read from `state/engine-settings.json` (journaled first, before anything is
    /// judged by them).
    pub settings: Option<SettingsChange>,
    /// The kill switch's step ([`super::kill_switch::step`]): `Engage` and `Release` are
    /// journaled; the other steps are the runtime's (no record).
    pub kill_switch: Step,
    /// A changed safety policy to journal.
    pub policy: Option<PolicyChange>,
    /// Why the venue may not be traded on now (a live engine whose conditions are not all
    /// met, a venue whose answers broke its contract): the gate's `mode_refusal`, so every
    /// decision of the pass is refused with it (journaled as such).
    pub mode_refusal: Option<String>,
    phase: Phase,
    /// The gate of the pass's decisions (taken before the auto-trim, as the decisions see it).
    gate: Option<Gate>,
    /// The last order looked up or sent in this pass.
    cursor: Option<ClientOrderId>,
}

impl<'a> Inputs<'a> {
    /// A pass from its start.
    pub fn new(limits: &'a Limits, trim: &'a TrimRules) -> Self {
        Inputs {
            limits,
            trim,
            settings: None,
            kill_switch: Step::Nothing,
            policy: None,
            mode_refusal: None,
            phase: Phase::Settings,
            gate: None,
            cursor: None,
        }
    }
}

impl Inputs<'_> {
    /// `gate` with this pass's venue refusal, if any.
    fn refused(&self, gate: Gate) -> Gate {
        Gate {
            mode_refusal: self.mode_refusal.clone(),
            ..gate
        }
    }
}

impl EngineState {
    /// The next thing to do in this pass, or `None` when the pass is over. Each answer is
    /// for the state as it is now: journal and apply a record (or the venue's answer to a
    /// lookup or a send) before asking again.
    pub fn poll(&self, inputs: &mut Inputs<'_>) -> Option<Next> {
        let at = self.last_bar.unwrap_or(Timestamp::EPOCH);
        loop {
            match inputs.phase {
                Phase::Settings => {
                    inputs.phase = Phase::KillSwitch;
                    let change = inputs.settings.take();
                    let r = change.and_then(|c| {
                        self.settings_record(
                            &c.settings,
                            Some(c.config_hash),
                            super::SettingsSource::Reload,
                        )
                    });
                    if let Some(r) = r {
                        return Some(Next::Record(EngineRecord::Settings(Box::new(r))));
                    }
                }
                Phase::KillSwitch => {
                    inputs.phase = Phase::Policy;
                    let step = std::mem::replace(&mut inputs.kill_switch, Step::Nothing);
                    let r = match step {
                        Step::Engage { reason, flatten } => {
                            self.kill_switch_record(true, reason, flatten, at)
                        }
                        Step::Release { reason } => {
                            self.kill_switch_record(false, reason, false, at)
                        }
                        _ => continue,
                    };
                    return Some(Next::Record(EngineRecord::KillSwitch(r)));
                }
                Phase::Policy => {
                    inputs.phase = Phase::Expiry;
                    if let Some(p) = inputs.policy.take() {
                        let mut r = self.policy_record(p.policy, p.reason, at);
                        r.releases = p.releases;
                        return Some(Next::Record(EngineRecord::Policy(r)));
                    }
                }
                Phase::Expiry => {
                    inputs.phase = Phase::Trim;
                    // The stuck-signal healer, on market time (so replay decides the same).
                    let expired = self.last_bar.and_then(|now| self.expiry_record(now));
                    if let Some(r) = expired {
                        return Some(Next::Record(EngineRecord::Expired(r)));
                    }
                }
                Phase::Trim => {
                    inputs.phase = Phase::Decisions;
                    let gate = inputs.refused(self.gate());
                    let plan = self.plan_liquidations(&self.trim_or(inputs.trim), &gate);
                    inputs.gate = Some(gate);
                    if let Some(r) = plan {
                        return Some(Next::Record(EngineRecord::Liquidation(r)));
                    }
                }
                Phase::Decisions => {
                    let refused = inputs.refused(self.gate());
                    let gate = inputs.gate.get_or_insert(refused);
                    if let Some(d) = self.decide(&self.limits_or(inputs.limits), gate) {
                        return Some(Next::Record(EngineRecord::Decision(d)));
                    }
                    inputs.phase = Phase::Lookups;
                }
                Phase::Lookups => {
                    // Each order whose outcome is unknown is looked up once a pass (one that
                    // is not found and may not be sent again stays unknown), in id order.
                    let unknown = self.orders_after(inputs.cursor.as_ref()).find(
                        |(_, t)| matches!(t.send, SendState::Unknown { at_bar, .. } if at_bar < self.bars),
                    );
                    if let Some((id, _)) = unknown {
                        inputs.cursor = Some(id.clone());
                        return Some(Next::Lookup {
                            client_order_id: id.clone(),
                            at,
                        });
                    }
                    inputs.phase = Phase::Sends;
                    inputs.cursor = None;
                }
                Phase::Sends => {
                    let intent = self.orders_after(inputs.cursor.as_ref()).find(|(_, t)| {
                        t.send == SendState::Intent && t.attempts < MAX_SEND_ATTEMPTS
                    });
                    if let Some((id, t)) = intent {
                        inputs.cursor = Some(id.clone());
                        return Some(Next::Send {
                            order: t.order.clone(),
                            attempt: t.attempts + 1,
                            at,
                        });
                    }
                    inputs.phase = Phase::Done;
                }
                Phase::Done => return None,
            }
        }
    }

    /// The cancels `record` stands for, for the state before it is applied.
    pub fn cancels(&self, record: &EngineRecord) -> Cancels {
        use super::LiquidationAction;
        let ids: Vec<ClientOrderId> = match record {
            EngineRecord::KillSwitch(r) if r.engaged => return Cancels::All,
            EngineRecord::Expired(r) => r.cancelled.clone(),
            EngineRecord::Liquidation(r) => r
                .actions
                .iter()
                .filter_map(|a| match a {
                    LiquidationAction::Place { cancel, .. } => cancel.clone(),
                    LiquidationAction::Cancel { order, .. } => Some(order.clone()),
                    LiquidationAction::GiveUp { id, .. } => self
                        .orders
                        .liquidations
                        .get(id)
                        .and_then(|l| l.order.clone()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        if ids.is_empty() {
            Cancels::None
        } else {
            Cancels::These(ids)
        }
    }

    /// The tracked orders after `id` (all of them for `None`), in id order.
    fn orders_after(
        &self,
        id: Option<&ClientOrderId>,
    ) -> impl Iterator<Item = (&ClientOrderId, &super::OrderTrack)> {
        use std::ops::Bound;
        let from = id.map_or(Bound::Unbounded, Bound::Excluded);
        self.orders
            .tracked
            .range::<ClientOrderId, _>((from, Bound::Unbounded))
    }
}
