//! The venue's word in the engine's state (SPEC §3 "State manager and reconciliation"):
//! orders settled terminal from it (`order.venue`), the latest reconciliation and its latch
//! (`reconcile.run`), and the operator's choice about a finding (`reconcile.resolve`).

use super::*;
use crate::broker::VenueStatus;
use crate::reconcile::{Choice, Diff, Finding, FindingKind, OnDangerous};

impl EngineState {
    /// The journal trades on an external venue (its stamp names another broker than the
    /// embedded paper one): the paper book is never touched, fills come from `venue.fills`.
    pub fn external_venue(&self) -> bool {
        self.controls
            .stamp
            .as_ref()
            .is_some_and(|s| s.broker != PAPER)
    }

    /// The dangerous findings open now (the latest run's, less those the operator closed).
    pub fn open_findings(&self) -> &[Finding] {
        self.controls
            .reconcile
            .as_ref()
            .map_or(&[], |r| r.findings.as_slice())
    }

    /// The `reconcile.run` record of a cycle's diff.
    pub fn reconcile_record(
        &self,
        diff: &Diff,
        startup: bool,
        latch: OnDangerous,
        at: Timestamp,
    ) -> ReconcileRecord {
        ReconcileRecord {
            at,
            startup,
            findings: diff.findings.clone(),
            unanswered: diff.unanswered.clone(),
            latch,
        }
    }

    /// A cycle's records, in the order they are journaled and applied: its fills
    /// (`venue.fills`, none if none), each settle (`order.venue`, after the fills that
    /// complete it) and the run (`reconcile.run`). Its lookups are asked before the next
    /// cycle (their answers go in that cycle's [`crate::reconcile::VenueAnswers::lookups`]).
    pub fn reconcile_records(
        &self,
        diff: &Diff,
        startup: bool,
        latch: OnDangerous,
        at: Timestamp,
    ) -> Vec<EngineRecord> {
        let mut out = Vec::with_capacity(diff.settles.len() + 2);
        if !diff.fills.is_empty() {
            out.push(EngineRecord::VenueFills(VenueFillsRecord {
                at,
                fills: diff.fills.clone(),
            }));
        }
        out.extend(diff.settles.iter().map(|settle| {
            EngineRecord::VenueOrder(VenueOrderRecord {
                at,
                settle: settle.clone(),
            })
        }));
        out.push(EngineRecord::Reconcile(
            self.reconcile_record(diff, startup, latch, at),
        ));
        out
    }

    /// Apply an `order.venue` record: the order settles from the venue's word — filled →
    /// FILLED, canceled or replaced → CANCELLED, expired → EXPIRED, rejected → FAILED (its
    /// liquidation, if any, moves to its next step as on a rejection at the send). An order
    /// its fills already completed is settled already: nothing changes.
    pub fn apply_venue_order(&mut self, r: &VenueOrderRecord) {
        let s = &r.settle;
        let to = match s.status {
            VenueStatus::Filled => SignalState::Filled,
            VenueStatus::Canceled | VenueStatus::Replaced => SignalState::Cancelled,
            VenueStatus::Expired => SignalState::Expired,
            VenueStatus::Rejected => SignalState::Failed,
            _ => return, // not terminal: still in flight
        };
        let Some(track) = self.orders.tracked.remove(&s.client_order_id) else {
            return;
        };
        self.stats.settled_by_venue += 1;
        if s.status == VenueStatus::Rejected {
            self.stats.venue_rejections += 1;
        }
        match track.owner {
            Owner::Signal(signal) => {
                // The venue's word is final: a state the signal cannot reach from where it is
                // (a partly filled order rejected) ends it as cancelled.
                if self.signals.transition(signal, to, r.at).is_err() {
                    let _ = self
                        .signals
                        .transition(signal, SignalState::Cancelled, r.at);
                }
            }
            // The finding it was to close stays open (it did not fill whole).
            Owner::Reconcile => self.flatten_done(&s.client_order_id, false),
            // A liquidation whose order is gone moves to its next step.
            Owner::Liquidation(_) | Owner::KillSwitch | Owner::Policy => {}
        }
    }

    /// Apply a `reconcile.run` record: it is the latest run; its findings are open. A finding
    /// the operator chose to flatten stays open while its orders are (the books took the
    /// broker's quantity, so the run no longer sees it): it closes when they fill.
    pub fn apply_reconcile(&mut self, r: &ReconcileRecord) {
        let mut r = r.clone();
        if let Some(last) = self.controls.reconcile.take() {
            let flattening: std::collections::BTreeSet<&String> =
                self.controls.flattening.values().collect();
            let kept: Vec<Finding> = last
                .findings
                .into_iter()
                .filter(|f| flattening.contains(&f.id) && !r.findings.iter().any(|n| n.id == f.id))
                .collect();
            r.findings.extend(kept);
        }
        self.controls.reconcile = Some(r);
    }

    /// The record of the operator's `choice` about the open finding `finding_id` (`by`: who
    /// and why, in their words; `seen`: the finding as the operator saw it). Refused, in words,
    /// for a finding that is not open, for a choice the finding does not offer, for a choice
    /// that does not say what it was made on (an older Ballast's file) and for one whose finding
    /// changed since (the broker's position moved: adopting what was seen would book another
    /// quantity than the operator checked).
    pub fn resolve_record(
        &self,
        finding_id: &str,
        choice: Choice,
        seen: Option<&crate::reconcile::Seen>,
        by: &str,
        at: Timestamp,
    ) -> Result<ResolveRecord, String> {
        let open = self.open_findings();
        let Some(f) = open.iter().find(|f| f.id == finding_id) else {
            let ids: Vec<&str> = open.iter().map(|f| f.id.as_str()).collect();
            return Err(if ids.is_empty() {
                format!(
                    "no reconciliation finding {finding_id:?} is open: none is (the latest reconciliation found nothing dangerous, or every finding is resolved)"
                )
            } else {
                format!(
                    "no reconciliation finding {finding_id:?} is open; the open ones are {}",
                    ids.join(", ")
                )
            });
        };
        let flattening: Vec<&str> = self
            .controls
            .flattening
            .iter()
            .filter(|(_, id)| **id == f.id)
            .map(|(o, _)| o.as_str())
            .collect();
        if !flattening.is_empty() {
            return Err(format!(
                "finding {} is being flattened: its order(s) {} are still open; it closes when they fill (a cancelled or expired one reopens the choice)",
                f.id,
                flattening.join(", ")
            ));
        }
        if !f.choices.contains(&choice) {
            let offered: Vec<&str> = f.choices.iter().map(|c| c.as_str()).collect();
            return Err(format!(
                "finding {} does not offer {choice}; its choices are {}",
                f.id,
                offered.join(", ")
            ));
        }
        let Some(seen) = seen else {
            return Err(format!(
                "the choice about {} does not say what it was made on (an older Ballast wrote it): look again with `ballast reconcile` and make it again",
                f.id
            ));
        };
        if let Some(why) = crate::reconcile::changed_since(seen, f) {
            return Err(why);
        }
        let held = f.symbol.map(|s| self.portfolio.qty(&s));
        let (before, after, orders) = match (choice, f.kind) {
            (Choice::StayHalted, _) => (held, held, Vec::new()),
            (Choice::Adopt, FindingKind::UnresolvedPartialFill) => {
                let filled = self.track_of(f).map(|t| t.filled);
                (filled, f.venue_qty, Vec::new())
            }
            (Choice::Adopt, FindingKind::QuantityMismatch | FindingKind::UnknownPosition) => {
                (held, f.venue_qty, Vec::new())
            }
            (Choice::Adopt, _) => (held, held, Vec::new()),
            (Choice::Flatten, _) => (held, f.venue_qty, self.flatten_orders(f, at)),
        };
        Ok(ResolveRecord {
            at,
            finding: f.id.clone(),
            choice,
            symbol: f.symbol,
            before,
            after,
            by: by.to_owned(),
            orders,
        })
    }

    /// The market order closing the broker's position of finding `f` (`bl-rec-<bar>-<n>`).
    fn flatten_orders(&self, f: &Finding, at: Timestamp) -> Vec<Order> {
        let (Some(symbol), Some(qty)) = (f.symbol, f.venue_qty) else {
            return Vec::new();
        };
        let position = crate::domain::Position {
            symbol,
            qty,
            avg_entry_price: f.venue_avg_price.unwrap_or_default(),
            realized_pnl: Decimal::ZERO,
        };
        let id = format!(
            "bl-rec-{}-{}",
            self.bars,
            self.controls.reconcile_orders + 1
        );
        closing_order(&position, &id, at).into_iter().collect()
    }

    /// The tracked order a finding is about.
    fn track_of(&self, f: &Finding) -> Option<&OrderTrack> {
        self.orders.tracked.get(f.client_order_id.as_ref()?)
    }

    /// Apply a `reconcile.resolve` record. Adopt: Ballast's books take the broker's view for
    /// the finding (a position's quantity and average entry price; an order Ballast does not
    /// own acknowledged; a partial fill's filled quantity; a missing order forgotten) and the
    /// finding closes. Flatten: the books take the broker's quantity and the closing orders
    /// are tracked (`Owner::Reconcile`); the finding closes when they fill. Stay halted:
    /// recorded, nothing changes. A choice about a finding no longer open (a run in between
    /// closed it) changes nothing either: the record is durable, and refusing it would leave
    /// a journal that cannot be replayed.
    pub fn apply_resolve(&mut self, r: &ResolveRecord) {
        let Some(f) = self
            .open_findings()
            .iter()
            .find(|f| f.id == r.finding)
            .cloned()
        else {
            return;
        };
        match r.choice {
            Choice::StayHalted => {}
            Choice::Adopt => {
                self.adopt(&f, r);
                self.close_finding(&f.id);
            }
            Choice::Flatten => {
                if let (Some(symbol), Some(qty)) = (f.symbol, r.after) {
                    self.portfolio.set_position(
                        &symbol,
                        qty,
                        f.venue_avg_price.unwrap_or_default(),
                    );
                }
                for order in &r.orders {
                    self.track_intent(order, Owner::Reconcile);
                    self.controls
                        .flattening
                        .insert(order.client_order_id.clone(), f.id.clone());
                    self.controls.reconcile_orders += 1;
                }
                if r.orders.is_empty() {
                    self.close_finding(&f.id);
                }
            }
        }
    }

    fn adopt(&mut self, f: &Finding, r: &ResolveRecord) {
        match f.kind {
            FindingKind::QuantityMismatch | FindingKind::UnknownPosition => {
                if let (Some(symbol), Some(qty)) = (f.symbol, r.after) {
                    let avg = f.venue_avg_price.unwrap_or_default();
                    self.portfolio.set_position(&symbol, qty, avg);
                }
            }
            FindingKind::ForeignOrder => {
                self.controls.acknowledged.insert(f.id.clone());
            }
            FindingKind::UnresolvedPartialFill => self.adopt_filled(f, r.at),
            FindingKind::MissingOrder => {
                if let Some(id) = &f.client_order_id {
                    self.forget_order(id, r.at);
                }
            }
            FindingKind::DuplicatePosition
            | FindingKind::InvalidPosition
            | FindingKind::AccountMismatch => {}
        }
    }

    /// A partial fill: the order's filled quantity (and value, at the venue's average) is the
    /// venue's; an order filled whole by it is done. The position is not moved: a difference
    /// there is its own finding.
    fn adopt_filled(&mut self, f: &Finding, at: Timestamp) {
        let (Some(id), Some(filled)) = (f.client_order_id.clone(), f.venue_qty) else {
            return;
        };
        let Some(track) = self.orders.tracked.get_mut(&id) else {
            return;
        };
        track.filled = filled;
        track.filled_value = f
            .venue_avg_price
            .and_then(|p| p.checked_mul(filled))
            .unwrap_or_default();
        if filled >= track.order.qty.value() {
            let owner = track.owner;
            self.orders.tracked.remove(&id);
            if let Owner::Signal(signal) = owner {
                let _ = self.signals.transition(signal, SignalState::Filled, at);
            }
        }
    }

    /// An order the venue does not have: no longer tracked, its signal cancelled (never
    /// failed: the venue did not say it refused it).
    fn forget_order(&mut self, id: &ClientOrderId, at: Timestamp) {
        let Some(track) = self.orders.tracked.remove(id) else {
            return;
        };
        match track.owner {
            Owner::Signal(signal) => {
                let _ = self.signals.transition(signal, SignalState::Cancelled, at);
            }
            Owner::Reconcile => self.flatten_done(id, false),
            Owner::Liquidation(_) | Owner::KillSwitch | Owner::Policy => {}
        }
    }

    /// A flatten order is done (`filled`: whole): the finding it was placed for closes once
    /// its orders filled; one that did not fill whole leaves it open.
    pub(super) fn flatten_done(&mut self, id: &ClientOrderId, filled: bool) {
        let Some(finding) = self.controls.flattening.remove(id) else {
            return;
        };
        let others = self.controls.flattening.values().any(|f| *f == finding);
        if filled && !others {
            self.close_finding(&finding);
        }
    }

    fn close_finding(&mut self, id: &str) {
        if let Some(r) = &mut self.controls.reconcile {
            r.findings.retain(|f| f.id != id);
        }
    }
}
