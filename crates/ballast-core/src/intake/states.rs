//! The state of each HTTP signal, folded from the engine's journal (its source of truth; no
//! second copy the engine keeps): `signals.taken` (taken, or refused), `engine.decision` with
//! the signal's `source` seq (APPROVED / REJECTED, the guard's reasons), `order.sent`
//! (SUBMITTED / FAILED), the fills in `market.bar` (PARTIALLY_FILLED / FILLED),
//! `signal.expired` (EXPIRED) and `engine.kill_switch` (CANCELLED). Pure: the API feeds it the
//! records it reads. Bounded: the newest `cap` signals (by seq) are kept; an older one reads
//! as taken with its state no longer known.

use std::collections::{BTreeMap, HashMap};

use rust_decimal::Decimal;
use serde::Serialize;

use crate::domain::ClientOrderId;
use crate::engine::{EngineRecord, SendOutcome};
use crate::guard::Verdict;
use crate::signal::SignalState;

/// What the engine did with one HTTP signal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fate {
    pub state: SignalState,
    /// The engine's signal id (`sig-<n>`) once decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine_signal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_order_id: Option<ClientOrderId>,
    /// The order's quantity and what filled of it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_qty: Option<Decimal>,
    pub filled_qty: Decimal,
    /// Why it was rejected, refused, failed or expired (the guard's reasons, in words).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// The engine's signal number (to forget it with the signal).
    #[serde(skip)]
    signal: Option<u64>,
}

impl Fate {
    fn new(state: SignalState) -> Fate {
        Fate {
            state,
            engine_signal: None,
            client_order_id: None,
            order_qty: None,
            filled_qty: Decimal::ZERO,
            why: None,
            signal: None,
        }
    }

    /// Move to `to` if the state machine allows it (SPEC §3); otherwise nothing changes.
    fn go(&mut self, to: SignalState) {
        if self.state.can_go_to(to) {
            self.state = to;
        }
    }
}

/// The fates of the newest HTTP signals.
#[derive(Debug, Clone)]
pub struct SignalStates {
    cap: usize,
    by_seq: BTreeMap<u64, Fate>,
    by_order: HashMap<ClientOrderId, u64>,
    by_signal: HashMap<u64, u64>,
    /// The last seq of `journal/signals/` the engine took (its journal says).
    pub taken_seq: u64,
}

impl SignalStates {
    pub fn new(cap: usize) -> SignalStates {
        SignalStates {
            cap: cap.max(1),
            by_seq: BTreeMap::new(),
            by_order: HashMap::new(),
            by_signal: HashMap::new(),
            taken_seq: 0,
        }
    }

    /// The fate of the signal at `seq` of `journal/signals/`; `None`: not taken yet (or
    /// taken so long ago that it was forgotten: `seq <= taken_seq`).
    pub fn get(&self, seq: u64) -> Option<&Fate> {
        self.by_seq.get(&seq)
    }

    /// Fold one engine journal record.
    pub fn apply(&mut self, record: &EngineRecord) {
        match record {
            EngineRecord::Taken(r) => {
                self.taken_seq = self.taken_seq.max(r.last_seq);
                for t in &r.signals {
                    let mut fate = Fate::new(SignalState::New);
                    if let Some(why) = &t.refused {
                        fate.state = SignalState::Rejected;
                        fate.why = Some(format!("refused by the engine: {why}"));
                    }
                    self.insert(t.seq, fate);
                }
            }
            EngineRecord::Decision(d) => {
                let Some(seq) = d.source else { return };
                let Some(fate) = self.by_seq.get_mut(&seq) else {
                    return;
                };
                fate.engine_signal = Some(crate::domain::SignalId(d.signal).to_string());
                fate.signal = Some(d.signal);
                self.by_signal.insert(d.signal, seq);
                match &d.verdict {
                    Verdict::Reject { reasons } => {
                        fate.state = SignalState::Rejected;
                        fate.why = Some(words(reasons));
                    }
                    Verdict::Approve | Verdict::Resize { .. } => {
                        fate.state = SignalState::Approved;
                        if let Verdict::Resize { reasons, .. } = &d.verdict {
                            fate.why = Some(format!("resized: {}", words(reasons)));
                        }
                    }
                }
                if let Some(o) = &d.order {
                    fate.client_order_id = Some(o.client_order_id.clone());
                    fate.order_qty = Some(o.qty.value());
                    self.by_order.insert(o.client_order_id.clone(), seq);
                }
            }
            EngineRecord::Sent(r) => {
                if let Some(fate) = self.fate_of_order(&r.client_order_id) {
                    match &r.outcome {
                        SendOutcome::Accepted | SendOutcome::Unknown { .. } => {
                            fate.go(SignalState::Submitted);
                        }
                        SendOutcome::Rejected { reason } => {
                            fate.go(SignalState::Failed);
                            fate.why = Some(format!("the venue refused the order: {reason}"));
                        }
                    }
                }
            }
            EngineRecord::Bar(r) => {
                for f in &r.fills {
                    if let Some(fate) = self.fate_of_order(&f.client_order_id) {
                        fate.filled_qty += f.qty.value();
                        let full = fate.order_qty.is_some_and(|q| fate.filled_qty >= q);
                        fate.go(if full {
                            SignalState::Filled
                        } else {
                            SignalState::PartiallyFilled
                        });
                    }
                }
            }
            EngineRecord::Expired(r) => {
                for (id, why) in &r.expired {
                    let seq = self.by_signal.get(&id.0).copied();
                    if let Some(fate) = seq.and_then(|s| self.by_seq.get_mut(&s)) {
                        fate.go(SignalState::Expired);
                        fate.why = Some(format!("expired: {why}"));
                    }
                }
            }
            EngineRecord::KillSwitch(r) if r.engaged => {
                let orders: Vec<u64> = self.by_order.values().copied().collect();
                for seq in orders {
                    if let Some(fate) = self.by_seq.get_mut(&seq) {
                        if matches!(
                            fate.state,
                            SignalState::Approved
                                | SignalState::Submitted
                                | SignalState::PartiallyFilled
                        ) {
                            fate.go(SignalState::Cancelled);
                            fate.why = Some(format!("the kill switch was engaged: {}", r.reason));
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn fate_of_order(&mut self, id: &ClientOrderId) -> Option<&mut Fate> {
        let seq = *self.by_order.get(id)?;
        self.by_seq.get_mut(&seq)
    }

    fn insert(&mut self, seq: u64, fate: Fate) {
        self.by_seq.insert(seq, fate);
        while self.by_seq.len() > self.cap {
            let Some((old, fate)) = self.by_seq.pop_first() else {
                break;
            };
            if let Some(o) = fate.client_order_id {
                self.by_order.remove(&o);
            }
            if let Some(n) = fate.signal.filter(|n| self.by_signal.get(n) == Some(&old)) {
                self.by_signal.remove(&n);
            }
        }
    }
}

/// The guard's reasons in words.
fn words(reasons: &[crate::guard::Reason]) -> String {
    reasons
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
