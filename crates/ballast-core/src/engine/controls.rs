//! The controls the engine follows, each as a journaled record: the kill switch, the
//! stuck-signal healer's expiry, the safety policy (and DEFENSIVE_EXIT's closing orders), the
//! paper venue's settings.

use super::*;

/// The controls job: what the engine trades under — the journal's stamp, the kill switch and
/// the safety policy as journaled, and the trading state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Controls {
    pub trading_state: TradingState,
    /// The journal's mode and account (`journal.stamp`).
    pub stamp: Option<JournalStamp>,
    /// The kill switch, while engaged (`engine.kill_switch`).
    pub kill_switch: Option<KillSwitchRecord>,
    /// The safety policy in force (`engine.policy`); none = ALLOW_ALL.
    pub policy: Option<PolicyRecord>,
    /// The guard limits and risk rules in force (`engine.settings`); none = the configured
    /// ones (a journal written before the record existed).
    pub settings: Option<super::settings::EngineSettings>,
    /// The latest reconciliation (`reconcile.run`), its findings less those the operator
    /// closed since (`reconcile.resolve`). While any is open, trading is at most its latch.
    pub reconcile: Option<ReconcileRecord>,
    /// Findings the operator acknowledged (adopt of an order Ballast does not own): not
    /// flagged again.
    pub acknowledged: std::collections::BTreeSet<String>,
    /// The operator's flatten orders still open, with the finding each closes once filled.
    pub flattening: BTreeMap<ClientOrderId, String>,
    /// Flatten orders placed so far (their ids `bl-rec-<bar>-<n>` count on from it).
    pub reconcile_orders: u64,
    /// Closing orders of the kill switch and the policy placed so far (their ids
    /// `bl-ks-<bar>-<n>` and `bl-pol-<bar>-<n>` count on from it: two flattens within one bar
    /// never share an id, and a venue takes a client_order_id once).
    pub closing_orders: u64,
}

impl Default for Controls {
    fn default() -> Self {
        Controls {
            trading_state: TradingState::Active,
            stamp: None,
            kill_switch: None,
            policy: None,
            settings: None,
            reconcile: None,
            acknowledged: std::collections::BTreeSet::new(),
            flattening: BTreeMap::new(),
            reconcile_orders: 0,
            closing_orders: 0,
        }
    }
}

impl EngineState {
    /// Apply an `engine.kill_switch` record. Engaging cancels every open order (cancels are
    /// not orders: the kill switch allows them); the guard refuses every new order while it is
    /// engaged, and the liquidation path stops. On an external venue an order that was sent
    /// stays tracked until the venue's word settles it (`order.venue`): the runtime asks the
    /// venue to cancel it, and a fill that raced the cancel is still Ballast's to book.
    pub fn apply_kill_switch(&mut self, r: &KillSwitchRecord) {
        self.controls.closing_orders += r.orders.len() as u64;
        if !r.engaged {
            self.controls.kill_switch = None;
            return;
        }
        let external = self.external_venue();
        for (id, track) in std::mem::take(&mut self.orders.tracked) {
            self.stats.cancelled_by_kill_switch += 1;
            if external && track.send != SendState::Intent {
                self.orders.tracked.insert(id, track);
                continue;
            }
            if !external {
                self.broker.cancel(&id);
            }
            match track.owner {
                Owner::Signal(signal) => {
                    // Only live signals can be cancelled; a refused transition changes nothing.
                    let _ = self
                        .signals
                        .transition(signal, SignalState::Cancelled, r.at);
                }
                Owner::Liquidation(l) => {
                    if let Some(l) = self.orders.liquidations.get_mut(&l) {
                        l.order = None;
                    }
                }
                // The finding it was to close stays open.
                Owner::Reconcile => {
                    self.controls.flattening.remove(&id);
                }
                Owner::KillSwitch | Owner::Policy => {}
            }
        }
        for order in &r.orders {
            self.track_intent(order, Owner::KillSwitch);
        }
        self.controls.kill_switch = Some(r.clone());
    }

    /// The id of the `placed`-th closing order (from 0) of the record being built: `bl-<kind>-
    /// <bar>-<n>`, `n` counting on from every closing order placed before it in this journal.
    fn closing_id(&self, kind: &str, placed: usize) -> String {
        let n = self.controls.closing_orders + placed as u64 + 1;
        format!("bl-{kind}-{}-{n}", self.bars)
    }

    /// The record for a change of the kill switch: with `flatten`, a market order closing each
    /// position (ids `bl-ks-<bar>-<n>`, deterministic).
    pub fn kill_switch_record(
        &self,
        engaged: bool,
        reason: String,
        flatten: bool,
        at: Timestamp,
    ) -> KillSwitchRecord {
        let mut positions: Vec<&crate::domain::Position> = self.portfolio.positions().collect();
        positions.sort_by_key(|p| p.symbol);
        // On an external venue the orders already sent stay until the venue settles them and
        // may still fill: the closing orders send only what they leave (the paper venue
        // cancels them at once).
        let external = self.external_venue();
        let mut orders: Vec<Order> = Vec::new();
        if engaged && flatten {
            for p in &positions {
                let left = self.left_to_close(p, |t| external && t.send != SendState::Intent);
                let id = self.closing_id("ks", orders.len());
                orders.extend(closing_order(&left, &id, at));
            }
        }
        KillSwitchRecord {
            engaged,
            reason,
            at,
            flatten: engaged && flatten,
            orders,
        }
    }

    /// Stuck after an hour (or three bar intervals, if longer) in one state; too old after two
    /// hours (or six bar intervals).
    pub fn stale_thresholds(&self) -> (i64, i64) {
        let bar = self.bar_interval_ms.max(0);
        (
            STUCK_AFTER_MS.max(bar.saturating_mul(3)),
            MAX_AGE_MS.max(bar.saturating_mul(6)),
        )
    }

    /// The stuck-signal healer: signals stale at `now` (market time), except those with an
    /// order whose outcome is unknown or not yet sent; their open orders are cancelled.
    pub fn expiry_record(&self, now: Timestamp) -> Option<ExpiryRecord> {
        let (stuck_after, max_age) = self.stale_thresholds();
        let stale = self.signals.stale(now, stuck_after, max_age);
        if stale.is_empty() {
            return None;
        }
        let mut expired = Vec::new();
        let mut cancelled = Vec::new();
        for (id, why) in stale {
            let orders: Vec<(&ClientOrderId, &OrderTrack)> = self
                .orders
                .tracked
                .iter()
                .filter(|(_, t)| t.owner == Owner::Signal(id))
                .collect();
            if orders
                .iter()
                .any(|(_, t)| !matches!(t.send, SendState::Accepted))
            {
                continue; // in flight: the lookup settles it, never a guess
            }
            cancelled.extend(orders.into_iter().map(|(c, _)| c.clone()));
            expired.push((id, why));
        }
        (!expired.is_empty()).then_some(ExpiryRecord {
            at: now,
            expired,
            cancelled,
        })
    }

    /// Apply a `signal.expired` record. On an external venue the cancelled orders stay
    /// tracked until the venue's word settles them (the runtime cancels them there; a fill
    /// that raced the cancel is still booked).
    pub fn apply_expiry(&mut self, r: &ExpiryRecord) {
        if !self.external_venue() {
            for id in &r.cancelled {
                self.broker.cancel(id);
                self.orders.tracked.remove(id);
            }
        }
        for (id, _) in &r.expired {
            // A signal that moved on meanwhile refuses the transition: nothing changes.
            if self
                .signals
                .transition(*id, SignalState::Expired, r.at)
                .is_ok()
            {
                self.stats.signals_expired += 1;
            }
        }
    }

    /// The policy in force (ALLOW_ALL when none was journaled).
    pub fn policy(&self) -> crate::policy::Policy {
        self.controls
            .policy
            .as_ref()
            .map_or(crate::policy::Policy::AllowAll, |p| p.policy)
    }

    /// What the guard is told about trading now: the policy's trading state (at most the
    /// reconciliation's latch while a dangerous finding is open) and size multiplier, and the
    /// kill switch.
    pub fn gate(&self) -> Gate {
        let p = self.policy();
        let latch = self
            .controls
            .reconcile
            .as_ref()
            .filter(|r| !r.findings.is_empty())
            .map_or(TradingState::Active, |r| r.latch.trading_state());
        Gate {
            trading_state: p.trading_state().max_with(latch),
            size_multiplier: p.size_multiplier(),
            kill_switch: self.controls.kill_switch.is_some(),
            mode_refusal: None,
        }
    }

    /// The record for a policy change. Entering DEFENSIVE_EXIT closes the riskiest positions
    /// — the largest by |notional| — until half the gross exposure is closed (at least one
    /// position); ids `bl-pol-<bar>-<n>`, deterministic.
    pub fn policy_record(
        &self,
        policy: crate::policy::Policy,
        reason: String,
        at: Timestamp,
    ) -> PolicyRecord {
        let mut orders = Vec::new();
        if policy == crate::policy::Policy::DefensiveExit
            && self.policy() != crate::policy::Policy::DefensiveExit
        {
            let notional = |p: &crate::domain::Position| {
                (p.qty
                    * self
                        .portfolio
                        .mark_of(&p.symbol)
                        .unwrap_or(p.avg_entry_price))
                .abs()
            };
            let mut positions: Vec<&crate::domain::Position> = self.portfolio.positions().collect();
            positions.sort_by(|a, b| notional(b).cmp(&notional(a)).then(a.symbol.cmp(&b.symbol)));
            let gross: Decimal = positions.iter().map(|p| notional(p)).sum();
            let mut closed = Decimal::ZERO;
            for (i, p) in positions.iter().enumerate() {
                if i > 0 && closed * Decimal::TWO >= gross {
                    break;
                }
                // The orders in flight stay (they may fill): only what they leave is closed.
                let left = self.left_to_close(p, |_| true);
                if let Some(o) = closing_order(&left, &self.closing_id("pol", orders.len()), at) {
                    closed += notional(p);
                    orders.push(o);
                }
            }
        }
        PolicyRecord {
            policy,
            reason,
            at,
            orders,
            releases: self.controls.policy.as_ref().map_or(0, |p| p.releases),
        }
    }

    /// Apply an `engine.policy` record: the policy is in force, its closing orders are intents.
    pub fn apply_policy(&mut self, r: &PolicyRecord) {
        self.controls.closing_orders += r.orders.len() as u64;
        for order in &r.orders {
            self.track_intent(order, Owner::Policy);
        }
        self.controls.policy = Some(r.clone());
    }

    /// Apply a `paper.settings` record.
    pub fn apply_paper_settings(&mut self, r: &PaperSettingsRecord) {
        self.broker.set_config(r.now.clone());
    }

    /// Orders sent whose outcome is still unknown.
    pub fn unknown_orders(&self) -> usize {
        self.orders
            .tracked
            .values()
            .filter(|t| matches!(t.send, SendState::Unknown { .. }))
            .count()
    }
}
