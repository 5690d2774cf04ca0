//! The orders the engine tracks: what is pending per symbol, the cash they reserve, the paper
//! venue's sends and lookups, and applying the venue's answers (`order.sent`, `order.settle`).

use super::*;

/// The orders job: the orders Ballast decided on, tracked to a terminal state, and the
/// liquidations (auto-trim) that place some of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Orders {
    pub tracked: BTreeMap<ClientOrderId, OrderTrack>,
    /// Liquidations in progress (auto-trim), by id.
    pub liquidations: BTreeMap<u64, Liquidation>,
    pub next_liquidation: u64,
    /// Consecutive auto-trims that did not bring exposure under the cap.
    pub trim_failures: u32,
    /// Exposure was over the cap when the current trim started.
    pub trimming: bool,
}

impl Default for Orders {
    fn default() -> Self {
        Orders {
            tracked: BTreeMap::new(),
            liquidations: BTreeMap::new(),
            next_liquidation: 1,
            trim_failures: 0,
            trimming: false,
        }
    }
}

impl EngineState {
    /// Track a new order intent of `owner` (journaled; sending it is a later record,
    /// `order.sent`).
    pub(super) fn track_intent(&mut self, order: &Order, owner: Owner) {
        self.orders.tracked.insert(
            order.client_order_id.clone(),
            OrderTrack {
                order: order.clone(),
                owner,
                filled: Decimal::ZERO,
                filled_value: Decimal::ZERO,
                send: SendState::Intent,
                attempts: 0,
            },
        );
        self.stats.orders += 1;
    }
}

impl EngineState {
    /// Unfilled signed quantity of the orders the engine tracks in `symbol` (sent or not: an
    /// intent counts, so a target is never ordered twice).
    pub fn pending_qty(&self, symbol: &Symbol) -> Decimal {
        self.orders
            .tracked
            .values()
            .filter(|t| t.order.symbol == *symbol)
            .map(|t| t.order.side.sign() * (t.order.qty.value() - t.filled))
            .sum()
    }

    /// A closing order explicitly chosen — the kill switch's flatten or the operator's
    /// flatten of a reconciliation finding — tracked now: reduce-only by construction, it is
    /// sent under the live hold ([`super::venue_gate::closing_refusal`]).
    pub fn is_closing_choice(&self, id: &ClientOrderId) -> bool {
        self.orders
            .tracked
            .get(id)
            .is_some_and(|t| matches!(t.owner, Owner::KillSwitch | Owner::Reconcile))
    }

    /// Cash the tracked orders would use, at their limit price or the symbol's mark.
    pub fn reserved_cash(&self) -> Decimal {
        self.orders
            .tracked
            .values()
            .map(|t| {
                let price = t
                    .order
                    .limit_price()
                    .map(|p| p.value())
                    .or_else(|| self.portfolio.mark_of(&t.order.symbol))
                    .unwrap_or(Decimal::ZERO);
                (t.order.qty.value() - t.filled) * price
            })
            .sum()
    }

    /// Orders waiting to be sent, in id order, with the embedded paper venue's answer (it
    /// accepts every well-formed order). A runtime with another venue sends them itself.
    pub fn paper_sends(&self, at: Timestamp) -> Vec<SentRecord> {
        self.orders
            .tracked
            .iter()
            .filter(|(_, t)| t.send == SendState::Intent && t.attempts < MAX_SEND_ATTEMPTS)
            .map(|(id, t)| SentRecord {
                client_order_id: id.clone(),
                attempt: t.attempts + 1,
                at,
                outcome: SendOutcome::Accepted,
            })
            .collect()
    }

    /// Lookups by `client_order_id` of the orders whose outcome is unknown, answered by the
    /// embedded paper venue (none on an external venue: it is asked itself).
    pub fn paper_lookups(&self, at: Timestamp) -> Vec<SettleRecord> {
        if self.external_venue() {
            return Vec::new();
        }
        self.orders
            .tracked
            .iter()
            .filter(
                |(_, t)| matches!(t.send, SendState::Unknown { at_bar, .. } if at_bar < self.bars),
            )
            .map(|(id, _)| SettleRecord {
                client_order_id: id.clone(),
                at,
                found: self.broker.lookup(id).is_some(),
            })
            .collect()
    }

    /// Apply an `order.sent` record.
    pub fn apply_sent(&mut self, r: &SentRecord) -> Result<(), ApplyError> {
        let external = self.external_venue();
        let id = &r.client_order_id;
        let Some(track) = self.orders.tracked.get_mut(id) else {
            return Err(ApplyError::UnknownOrder(id.clone()));
        };
        track.attempts = r.attempt;
        let owner = track.owner;
        match &r.outcome {
            SendOutcome::Accepted => {
                track.send = SendState::Accepted;
                if !external {
                    self.broker.submit(track.order.clone());
                }
            }
            SendOutcome::Unknown {
                error,
                paper_venue_received,
            } => {
                track.send = SendState::Unknown {
                    since: r.at,
                    error: error.clone(),
                    at_bar: self.bars,
                };
                self.stats.unknown_outcomes += 1;
                if *paper_venue_received && !external {
                    self.broker.submit(track.order.clone());
                }
            }
            SendOutcome::Rejected { .. } => {
                self.orders.tracked.remove(id);
                self.controls.flattening.remove(id);
                self.stats.venue_rejections += 1;
                if let Owner::Signal(signal) = owner {
                    self.signals.transition(signal, SignalState::Failed, r.at)?;
                }
                // A liquidation whose order is gone moves to its next step.
                return Ok(());
            }
        }
        if let Owner::Signal(signal) = owner {
            if self
                .signals
                .get(signal)
                .is_some_and(|s| s.state == SignalState::Approved)
            {
                self.signals
                    .transition(signal, SignalState::Submitted, r.at)?;
            }
        }
        Ok(())
    }

    /// Apply an `order.settle` record: found → at the venue; not found → to be sent again —
    /// except, on an external venue, an order the engaged kill switch cancelled (kept until
    /// the venue's word): not at the venue, it is done, never sent again.
    pub fn apply_settle(&mut self, r: &SettleRecord) -> Result<(), ApplyError> {
        let cancelled_by_kill_switch = self.external_venue() && self.controls.kill_switch.is_some();
        let Some(track) = self.orders.tracked.get_mut(&r.client_order_id) else {
            return Err(ApplyError::UnknownOrder(r.client_order_id.clone()));
        };
        let closing = matches!(track.owner, Owner::KillSwitch | Owner::Reconcile);
        if r.found {
            track.send = SendState::Accepted;
            self.stats.settled_by_lookup += 1;
        } else if cancelled_by_kill_switch && !closing {
            let owner = track.owner;
            self.orders.tracked.remove(&r.client_order_id);
            if let Owner::Signal(signal) = owner {
                let _ = self
                    .signals
                    .transition(signal, SignalState::Cancelled, r.at);
            }
        } else if track.attempts < MAX_SEND_ATTEMPTS {
            track.send = SendState::Intent;
        }
        Ok(())
    }
}
