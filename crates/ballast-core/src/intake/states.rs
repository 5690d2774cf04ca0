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
                        fate.state = if t.expired {
                            SignalState::Expired
                        } else {
                            SignalState::Rejected
                        };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Order, OrderKind, Quantity, Side, SignalId, Symbol, TimeInForce};
    use crate::engine::{DecisionRecord, SentRecord, TakenRecord, TakenSignal};
    use crate::guard::{Check, Reason};
    use crate::inbox::{Ask, ExternalSignal};
    use crate::time::Timestamp;

    fn taken(last_seq: u64, seqs: &[u64], refused: &[u64]) -> EngineRecord {
        let signal = ExternalSignal {
            symbol: Symbol::new("AAPL").unwrap(),
            ask: Ask::Order {
                side: Side::Buy,
                qty: Decimal::ONE,
            },
            reason: "r".into(),
            strategy: "s".into(),
            limit_price: None,
            idempotency_key: None,
            ttl_secs: None,
        };
        let mut signals: Vec<TakenSignal> = seqs
            .iter()
            .map(|s| TakenSignal {
                seq: *s,
                signal: Some(signal.clone()),
                refused: None,
                expired: false,
            })
            .collect();
        signals.extend(refused.iter().map(|s| TakenSignal {
            seq: *s,
            signal: None,
            refused: Some("symbol IBM is no longer in the universe".into()),
            expired: false,
        }));
        EngineRecord::Taken(TakenRecord { last_seq, signals })
    }

    fn decision(signal: u64, source: u64, verdict: Verdict) -> EngineRecord {
        let id = SignalId(signal);
        let order = verdict.approved_qty(Decimal::ONE).map(|q| Order {
            client_order_id: ClientOrderId::for_signal(id, 0),
            symbol: Symbol::new("AAPL").unwrap(),
            side: Side::Buy,
            qty: Quantity::new(q).unwrap(),
            kind: OrderKind::Market,
            tif: TimeInForce::Day,
            created_at: Timestamp::EPOCH,
        });
        EngineRecord::Decision(DecisionRecord {
            signal,
            symbol: Symbol::new("AAPL").unwrap(),
            target_qty: Decimal::ONE,
            reason: "r".into(),
            strategy: "s".into(),
            at: Timestamp::EPOCH,
            side: Side::Buy,
            candidate_qty: Decimal::ONE,
            verdict,
            order,
            source: Some(source),
        })
    }

    #[test]
    fn taken_decided_sent_and_refused_signals_fold_to_their_states_and_the_oldest_is_forgotten() {
        let mut s = SignalStates::new(3);
        s.apply(&taken(3, &[1, 2], &[3]));
        assert_eq!(s.taken_seq, 3);
        assert_eq!(s.get(1).unwrap().state, SignalState::New);
        let refused = s.get(3).unwrap();
        assert_eq!(refused.state, SignalState::Rejected);
        assert!(refused.why.as_deref().unwrap().contains("IBM"));
        s.apply(&decision(7, 1, Verdict::Approve));
        let reject = Verdict::Reject {
            reasons: vec![Reason {
                check: Check::Universe,
                observed: Decimal::ZERO,
                limit: Decimal::ONE,
                detail: "not eligible".into(),
            }],
        };
        s.apply(&decision(8, 2, reject));
        let one = s.get(1).unwrap();
        assert_eq!(one.state, SignalState::Approved);
        assert_eq!(one.engine_signal.as_deref(), Some("sig-7"));
        assert!(
            s.get(2)
                .unwrap()
                .why
                .as_deref()
                .unwrap()
                .contains("not eligible")
        );
        s.apply(&EngineRecord::Sent(SentRecord {
            client_order_id: ClientOrderId::for_signal(SignalId(7), 0),
            attempt: 1,
            at: Timestamp::EPOCH,
            outcome: SendOutcome::Accepted,
        }));
        assert_eq!(s.get(1).unwrap().state, SignalState::Submitted);
        // A fourth signal: the oldest (seq 1) is forgotten with its order.
        s.apply(&taken(4, &[4], &[]));
        assert!(s.get(1).is_none());
        assert_eq!(s.by_order.len(), 0);
        assert_eq!(s.get(4).unwrap().state, SignalState::New);
    }
}
