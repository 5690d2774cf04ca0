//! The engine's state as a fold of its journal (SPEC §3), and its decisions as pure
//! functions of that state.
//!
//! Per bar the runtime journals two records, each applied only after it is durable:
//!
//! 1. `market.bar` ([`BarRecord`]): the bar and the paper broker's fills on it — facts. Applying
//!    it books the fills (dedupe by fill id, overfills refused), moves signals along, marks the
//!    portfolio and feeds the strategy, which may leave a *pending target*.
//! 2. `engine.decision` ([`DecisionRecord`]): for a pending target, the signal, the guard's
//!    verdict and, if approved, the order intent with its deterministic `client_order_id`.
//!    Applying it submits the order to the embedded paper broker — after the intent is durable.
//!
//! After a crash between the two, the pending target is still in the recovered state and the
//! runtime decides it again: nothing is lost and no order is sent twice. Replaying the same
//! journal always yields the same state.

mod apply;
mod controls;
mod decisions;
mod feed;
pub mod figures;
mod fills;
pub mod kill_switch;
pub mod kinds;
mod orders;
mod poll;
mod records;
pub mod settings;
pub mod settings_gate;
mod shape;
mod status;
#[cfg(test)]
mod tests;
mod trim;
mod venue;
pub mod venue_gate;
mod view;

pub use controls::Controls;
pub use decisions::Decisions;
pub use feed::FeedUse;
pub use figures::{EngineFigures, Histogram, InFlightAges};
pub use fills::Fills;
pub use kinds::EngineRecord;
pub use orders::Orders;
pub use poll::{Cancels, Inputs, Next, PolicyChange, SettingsChange};
pub use records::{
    BarRecord, DecisionRecord, ExpiryRecord, InboxOutcome, InboxRecord, JournalStamp,
    KillSwitchRecord, PAPER, PaperSettingsRecord, PolicyRecord, ReconcileRecord, ResolveRecord,
    SendOutcome, SentRecord, SettleRecord, Stats, TakenRecord, TakenSignal, VenueFillsRecord,
    VenueOrderRecord, id_epoch,
};
pub use settings::{EngineSettings, SettingsFile, SettingsRecord, SettingsSource};
pub use status::{
    CompatOutcome, EngineStatus, MAX_AGE_MS, MAX_STUCK, ReconcileSummary, STUCK_AFTER_MS,
    VenueReport,
};
pub use trim::{Liquidation, LiquidationAction, LiquidationRecord, LiquidationStep, TrimRules};
pub use view::{EngineView, OrderView, PositionView, VIEW_DECISIONS, VIEW_ORDERS, VIEW_POSITIONS};

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::domain::{
    ClientOrderId, Order, OrderKind, Quantity, Side, SignalId, Symbol, TimeInForce,
};
use crate::guard::{self, Account, Candidate, Gate, GuardState, Limits, TradingState, Verdict};
use crate::inbox::Ask;
use crate::market::Bar;
use crate::paper::{PaperBroker, PaperConfig};
use crate::portfolio::Portfolio;
use crate::shadow::Shadow;
use crate::signal::{Signal, SignalBook, SignalState};
use crate::strategy::{SmaCross, Strategy};
use crate::time::Timestamp;
use crate::trades::RoundTrips;
use crate::universe::Universe;

/// Version of the engine state's shape (snapshots carry it).
pub const STATE_SCHEMA: u32 = 1;
/// Fill ids remembered for deduplication.
pub const FILL_ID_MEMORY: usize = 100_000;

/// Targets and external signals waiting for a decision, at most this many.
pub const MAX_PENDING: usize = 1_000;

/// A target the strategy set, or an external signal, that has not been decided yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingTarget {
    pub symbol: Symbol,
    pub ask: Ask,
    pub reason: String,
    pub strategy: String,
    pub limit_price: Option<Decimal>,
    pub idempotency_key: Option<String>,
    pub at: Timestamp,
    /// A signal taken from `journal/signals/`: its seq there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<u64>,
}

/// An order Ballast decided on and tracks to a terminal state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderTrack {
    pub order: Order,
    pub owner: Owner,
    pub filled: Decimal,
    /// Σ qty × price of the fills booked (what a fill read off the venue's cumulative average
    /// price is priced against); not written while zero, so older snapshots keep their bytes.
    #[serde(default, skip_serializing_if = "Decimal::is_zero")]
    pub filled_value: Decimal,
    /// Where it is between the engine and the venue.
    #[serde(default)]
    pub send: SendState,
    /// Sends so far.
    #[serde(default)]
    pub attempts: u32,
}

/// Where an order is between the engine and the venue (SPEC principles 3 and 4).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SendState {
    /// Journaled, not sent yet — or to be sent again with the same `client_order_id`, because a
    /// lookup did not find it.
    Intent,
    /// Sent without an answer: in flight until a lookup settles it. Looked up from the next
    /// bar on (`at_bar` is the bar count when the answer was lost), which gives the venue a
    /// moment and keeps a recovered engine's journal identical to an uninterrupted one's.
    Unknown {
        since: Timestamp,
        error: String,
        #[serde(default)]
        at_bar: u64,
    },
    /// At the venue.
    #[default]
    Accepted,
}

/// Sends of one order at most; after that an order the venue never confirmed stays in flight
/// (UNKNOWN, reported) and is only looked up.
pub const MAX_SEND_ATTEMPTS: u32 = 5;

/// Who an order belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Owner {
    Signal(SignalId),
    Liquidation(u64),
    /// A closing order of `ballast kill --flatten`.
    KillSwitch,
    /// A closing order of the safety policy's DEFENSIVE_EXIT.
    Policy,
    /// A closing order of the operator's "flatten" choice about a reconciliation finding.
    Reconcile,
}

/// An inbox line longer than the line bound whose end of line has not been read yet: its
/// bytes are skipped (and streamed to its quarantine entry) as they arrive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LongLine {
    /// Bytes of the line consumed so far.
    pub bytes: u64,
    /// Its quarantine file, if its first bytes were kept.
    pub quarantined: Option<String>,
    /// Some of its bytes did not fit in the quarantine file.
    pub dropped: bool,
}

/// Everything the engine knows, rebuilt exactly from snapshot + journal. The jobs' own state
/// is in sub-structs: [`Fills`] (the fill-id memory), [`Decisions`] (targets waiting for a
/// decision, the inbox they come from, the decision log), [`Orders`] (tracked orders and
/// liquidations), [`Controls`] (stamp, kill switch, policy, trading state). On disk it is one
/// flat object, keys in the order of the state before the split (`shape.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineState {
    pub schema: u32,
    pub portfolio: Portfolio,
    pub broker: PaperBroker,
    pub strategy: SmaCross,
    pub universe: Universe,
    /// The shadow execution engine.
    pub shadow: Shadow,
    pub signals: SignalBook,
    pub guard: GuardState,
    pub controls: Controls,
    pub orders: Orders,
    fills: Fills,
    pub decisions: Decisions,
    /// Bars applied: the feed resumes after them.
    pub bars: u64,
    pub last_bar: Option<Timestamp>,
    /// Time of the last bar of each symbol.
    pub last_bar_of: BTreeMap<Symbol, Timestamp>,
    pub peak_equity: Decimal,
    pub start_of_day_equity: Decimal,
    day: Option<(i32, u32, u32)>,
    pub stats: Stats,
    /// Round-trip trades: open ones and the most recent closed ones.
    pub trips: RoundTrips,
    /// The latest gap between two bars of one symbol (market time): stale-signal thresholds
    /// scale with it, so daily bars do not make every waiting signal "stuck".
    pub bar_interval_ms: i64,
    /// Which feed the bars come from (`feed.switch`).
    pub feed: FeedUse,
}

/// Why a record could not be applied (the journal and the state disagree: a bug or a foreign
/// journal; reported, never guessed around).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    #[error("decision for signal {found} but the next signal id is {expected}")]
    SignalOutOfOrder { expected: u64, found: u64 },
    #[error("decision recorded with no pending target")]
    NoPendingTarget,
    #[error("send or lookup recorded for order {0}, which the engine does not track")]
    UnknownOrder(ClientOrderId),
    #[error(transparent)]
    Transition(#[from] crate::signal::TransitionError),
}

impl EngineState {
    /// A fresh engine for `config`.
    pub fn new(config: &Config) -> Self {
        let paper = &config.paper;
        let s = &config.strategy;
        EngineState {
            schema: STATE_SCHEMA,
            portfolio: Portfolio::new(paper.starting_cash_usd),
            broker: PaperBroker::new(PaperConfig::from(paper)),
            strategy: SmaCross::new(s.fast as usize, s.slow as usize, s.qty, s.allow_short),
            universe: Universe::new(config),
            shadow: Shadow::default(),
            signals: SignalBook::default(),
            guard: GuardState::default(),
            controls: Controls::default(),
            orders: Orders::default(),
            fills: Fills::default(),
            decisions: Decisions::default(),
            bars: 0,
            last_bar: None,
            last_bar_of: BTreeMap::new(),
            peak_equity: paper.starting_cash_usd,
            start_of_day_equity: paper.starting_cash_usd,
            day: None,
            stats: Stats::default(),
            trips: RoundTrips::default(),
            bar_interval_ms: 0,
            feed: FeedUse::default(),
        }
    }

    /// Record 1 of a bar: the bar and the fills the paper broker gives on it (none on an
    /// external venue: its fills are `venue.fills`).
    pub fn bar_record(&self, bar: Bar) -> BarRecord {
        let fills = if self.external_venue() {
            Vec::new()
        } else {
            self.broker.fills_for(&bar)
        };
        BarRecord { bar, fills }
    }

    /// Apply a `market.bar` record. `limits` feed the guard's memory of losing exits (it only
    /// affects decisions still to be made).
    pub fn apply_bar(&mut self, r: &BarRecord, limits: &Limits) -> Result<(), ApplyError> {
        let bar = &r.bar;
        self.book_fills(&r.fills, limits)?;
        self.portfolio.mark(&bar.symbol, bar.close);
        let equity = self.portfolio.equity();
        // A new date starts the day's loss accounting (the calendar date is only worked out
        // when the day number moves).
        let same_day = self
            .last_bar
            .is_some_and(|t| t.day_number() == bar.ts.day_number());
        if !same_day || self.day.is_none() {
            let day = bar.ts.date();
            if self.day != Some(day) {
                self.day = Some(day);
                self.start_of_day_equity = equity;
            }
        }
        if equity > self.peak_equity {
            self.peak_equity = equity;
        }
        self.bars += 1;
        if self.feed.active == crate::market::fallback::FeedSource::Backup {
            self.feed.backup_bars += 1;
        }
        self.last_bar = Some(bar.ts);
        if let Some(prev) = self.last_bar_of.insert(bar.symbol, bar.ts) {
            let gap = bar.ts.ms_since(prev);
            if gap > 0 {
                self.bar_interval_ms = gap;
            }
        }
        self.liquidation_bar(&bar.symbol);
        self.universe.on_bar(bar);
        self.shadow.on_bar(bar);
        self.guard.on_bar(&bar.symbol);
        if let Some(target) = self.strategy.on_bar(bar) {
            self.stats.targets += 1;
            let have = self.portfolio.qty(&bar.symbol) + self.pending_qty(&bar.symbol);
            if target.qty != have && self.decisions.pending.len() < MAX_PENDING {
                self.decisions.pending.push_back(PendingTarget {
                    symbol: bar.symbol,
                    ask: Ask::Target { qty: target.qty },
                    reason: target.reason.to_owned(),
                    strategy: self.strategy.name().to_owned(),
                    limit_price: None,
                    idempotency_key: None,
                    at: bar.ts,
                    source: None,
                });
            } else if target.qty != have {
                self.stats.targets_dropped += 1;
            }
        }
        Ok(())
    }

    /// Apply an `inbox.line` record: the offset moves on; an accepted signal waits for a
    /// decision.
    pub fn apply_inbox(&mut self, r: &InboxRecord) {
        let consumed = r.offset_after.saturating_sub(self.decisions.inbox_offset);
        self.decisions.inbox_offset = r.offset_after;
        self.decisions.inbox_lines = r.line;
        match &r.outcome {
            InboxOutcome::Accepted { signal } => {
                self.stats.inbox_accepted += 1;
                self.decisions.pending.push_back(PendingTarget {
                    symbol: signal.symbol,
                    ask: signal.ask.clone(),
                    reason: signal.reason.clone(),
                    strategy: signal.strategy.clone(),
                    limit_price: signal.limit_price,
                    idempotency_key: signal.idempotency_key.clone(),
                    at: self.last_bar.unwrap_or(Timestamp::EPOCH),
                    source: None,
                });
            }
            InboxOutcome::Rejected {
                quarantined,
                open,
                dropped,
                ..
            } => {
                self.stats.inbox_rejected += 1;
                if *open {
                    self.decisions.inbox_long_line = Some(LongLine {
                        bytes: consumed,
                        quarantined: quarantined.clone(),
                        dropped: *dropped,
                    });
                } else if *dropped {
                    self.stats.inbox_quarantine_dropped += 1;
                }
            }
            InboxOutcome::Continued {
                bytes,
                ended,
                dropped,
            } => {
                if let Some(long) = &mut self.decisions.inbox_long_line {
                    long.bytes += bytes;
                    long.dropped |= *dropped;
                    if *ended {
                        if long.dropped {
                            self.stats.inbox_quarantine_dropped += 1;
                        }
                        self.decisions.inbox_long_line = None;
                    }
                }
            }
            InboxOutcome::Reset { .. } => {
                self.decisions.inbox_long_line = None;
                if r.file.is_some() {
                    self.decisions.inbox_file = r.file;
                }
            }
            InboxOutcome::Opened => self.decisions.inbox_file = r.file,
        }
    }

    /// Apply a `signals.taken` record: taking resumes after `last_seq`; each signal waits for
    /// a decision.
    pub fn apply_taken(&mut self, r: &TakenRecord) {
        self.decisions.signals_seq = self.decisions.signals_seq.max(r.last_seq);
        for t in &r.signals {
            let Some(signal) = &t.signal else {
                self.stats.http_refused += 1;
                continue;
            };
            self.stats.http_taken += 1;
            self.decisions.pending.push_back(PendingTarget {
                symbol: signal.symbol,
                ask: signal.ask.clone(),
                reason: signal.reason.clone(),
                strategy: signal.strategy.clone(),
                limit_price: signal.limit_price,
                idempotency_key: signal.idempotency_key.clone(),
                at: self.last_bar.unwrap_or(Timestamp::EPOCH),
                source: Some(t.seq),
            });
        }
    }

    /// Pending targets there is room for (the inbox and `journal/signals/` wait beyond).
    pub fn pending_room(&self) -> usize {
        MAX_PENDING.saturating_sub(self.decisions.pending.len())
    }

    /// Can the inbox be read (is there room for more pending signals)?
    pub fn inbox_has_room(&self) -> bool {
        self.decisions.pending.len() < MAX_PENDING
    }

    /// The decision for the oldest pending target, if any: the signal, the verdict and the
    /// order.
    pub fn decide(&self, limits: &Limits, gate: &Gate) -> Option<DecisionRecord> {
        self.decide_with(Some((limits, gate)))
    }

    /// [`Self::decide`], or with `None` every order the strategy asks for is approved without
    /// the trade guard (a backtest with `--guard off`; the universe still applies).
    pub fn decide_with(&self, guard: Option<(&Limits, &Gate)>) -> Option<DecisionRecord> {
        let p = self.decisions.pending.front()?;
        let id = SignalId(self.decisions.next_signal);
        let (side, qty, target_qty) = match &p.ask {
            Ask::Target { qty } => {
                let have = self.portfolio.qty(&p.symbol) + self.pending_qty(&p.symbol);
                let delta = *qty - have;
                (
                    if delta > Decimal::ZERO {
                        Side::Buy
                    } else {
                        Side::Sell
                    },
                    delta.abs(),
                    *qty,
                )
            }
            Ask::Order { side, qty } => (
                *side,
                *qty,
                self.portfolio.qty(&p.symbol) + side.sign() * *qty,
            ),
            Ask::Notional { side, notional } => {
                let qty = p
                    .limit_price
                    .or_else(|| self.portfolio.mark_of(&p.symbol))
                    .filter(|px| *px > Decimal::ZERO)
                    .map_or(Decimal::ZERO, |px| {
                        (*notional / px).round_dp_with_strategy(
                            crate::limits::MAX_DECIMAL_PLACES,
                            rust_decimal::RoundingStrategy::ToZero,
                        )
                    });
                (
                    *side,
                    qty,
                    self.portfolio.qty(&p.symbol) + side.sign() * qty,
                )
            }
        };
        let candidate = Candidate {
            symbol: p.symbol,
            side,
            qty,
            limit_price: p.limit_price,
            idempotency_key: Some(p.idempotency_key.clone().unwrap_or_else(|| id.to_string())),
        };
        let account = Account::from_portfolio(
            &self.portfolio,
            &p.symbol,
            u32::try_from(self.orders.tracked.len()).unwrap_or(u32::MAX),
            self.reserved_cash(),
            self.start_of_day_equity,
            self.peak_equity,
        );
        let verdict = if !self.universe.eligible(&p.symbol) {
            Verdict::Reject {
                reasons: vec![guard::Reason {
                    check: guard::Check::Universe,
                    observed: Decimal::ZERO,
                    limit: Decimal::ONE,
                    detail: format!(
                        "{} is not in the tradable universe now (liquidity filter)",
                        p.symbol
                    ),
                }],
            }
        } else if let Some((limits, gate)) = guard {
            let gate = Gate {
                trading_state: self.controls.trading_state.max_with(gate.trading_state),
                ..gate.clone()
            };
            guard::evaluate(limits, &gate, &self.guard, &candidate, &account, p.at)
        } else {
            Verdict::Approve
        };
        let kind = match p.limit_price.map(crate::domain::Price::new) {
            Some(Ok(limit_price)) => OrderKind::Limit { limit_price },
            _ => OrderKind::Market,
        };
        let order = verdict.approved_qty(candidate.qty).and_then(|q| {
            Some(Order {
                client_order_id: ClientOrderId::for_signal(id, 0),
                symbol: p.symbol,
                side,
                qty: Quantity::new(q).ok()?,
                kind,
                tif: TimeInForce::Day,
                created_at: p.at,
            })
        });
        Some(DecisionRecord {
            signal: id.0,
            symbol: p.symbol,
            target_qty,
            reason: p.reason.clone(),
            strategy: p.strategy.clone(),
            at: p.at,
            candidate_qty: candidate.qty,
            side,
            verdict,
            order,
            source: p.source,
        })
    }

    /// Apply an `engine.decision` record: the signal's life so far, the guard's memory, and the
    /// order handed to the broker.
    pub fn apply_decision(
        &mut self,
        d: &DecisionRecord,
        limits: &Limits,
    ) -> Result<(), ApplyError> {
        if self.decisions.pending.is_empty() {
            return Err(ApplyError::NoPendingTarget);
        }
        if d.signal != self.decisions.next_signal {
            return Err(ApplyError::SignalOutOfOrder {
                expected: self.decisions.next_signal,
                found: d.signal,
            });
        }
        let pending = self.decisions.pending.pop_front();
        self.decisions.next_signal += 1;
        let id = SignalId(d.signal);
        self.signals.add(Signal {
            id,
            symbol: d.symbol,
            target_qty: d.target_qty,
            reason: d.reason.clone(),
            strategy: d.strategy.clone(),
            created_at: d.at,
            state: SignalState::New,
            since: d.at,
            filled_qty: Decimal::ZERO,
        });
        self.stats.signals += 1;
        self.decisions.log.record(
            d.signal,
            d.at,
            d.symbol.as_str(),
            d.side,
            d.candidate_qty,
            &d.verdict,
        );
        if let Some(price) = self.portfolio.mark_of(&d.symbol) {
            // A signal towards flat opens no shadow trade; it only closes the other side.
            let qty = if d.target_qty.is_zero() {
                Decimal::ZERO
            } else {
                d.candidate_qty
            };
            self.shadow.on_signal(
                d.signal,
                &d.symbol,
                d.side,
                qty,
                price,
                d.order.is_some(),
                d.at,
            );
        }
        self.signals.transition(id, SignalState::Validated, d.at)?;
        match (&d.verdict, &d.order) {
            (Verdict::Reject { reasons }, _) | (Verdict::Resize { reasons, .. }, None) => {
                self.signals.transition(id, SignalState::Rejected, d.at)?;
                let check = reasons.first().map_or("guard", |r| r.check.name());
                *self.stats.rejections.entry(check.to_owned()).or_default() += 1;
            }
            (_, None) => {
                self.signals.transition(id, SignalState::Rejected, d.at)?;
                *self
                    .stats
                    .rejections
                    .entry("invalid_quantity".to_owned())
                    .or_default() += 1;
            }
            (verdict, Some(order)) => {
                if let Verdict::Resize { reasons, .. } = verdict {
                    let check = reasons.first().map_or("guard", |r| r.check.name());
                    *self.stats.resized.entry(check.to_owned()).or_default() += 1;
                }
                self.signals.transition(id, SignalState::Approved, d.at)?;
                let sent = Candidate {
                    symbol: order.symbol,
                    side: order.side,
                    qty: order.qty.value(),
                    limit_price: order.limit_price().map(|p| p.value()),
                    idempotency_key: Some(
                        pending
                            .and_then(|p| p.idempotency_key)
                            .unwrap_or_else(|| id.to_string()),
                    ),
                };
                self.guard.record_submit(&sent, d.at, limits);
                // The intent is durable; sending is the next record (`order.sent`).
                self.track_intent(order, Owner::Signal(id));
            }
        }
        Ok(())
    }
}

/// A market order closing position `p` whole, under `id`.
impl EngineState {
    /// Position `p` less what the orders in flight that reduce it may still fill (of those
    /// `counts`): what a closing order may send so that, whatever they do, the position never
    /// crosses flat (on an external venue an order still tracked may have filled already —
    /// its fills come by polling).
    fn left_to_close(
        &self,
        p: &crate::domain::Position,
        counts: impl Fn(&OrderTrack) -> bool,
    ) -> crate::domain::Position {
        let reducing: Decimal = self
            .orders
            .tracked
            .values()
            .filter(|t| t.order.symbol == p.symbol && counts(t))
            .map(|t| t.order.side.sign() * (t.order.qty.value() - t.filled))
            .filter(|q| !q.is_zero() && q.is_sign_positive() != p.qty.is_sign_positive())
            .map(|q| q.abs())
            .sum();
        let left = (p.qty.abs() - reducing).max(Decimal::ZERO);
        crate::domain::Position {
            qty: if p.qty.is_sign_negative() {
                -left
            } else {
                left
            },
            ..p.clone()
        }
    }
}

fn closing_order(p: &crate::domain::Position, id: &str, at: Timestamp) -> Option<Order> {
    Some(Order {
        client_order_id: ClientOrderId::parse(id).ok()?,
        symbol: p.symbol,
        side: if p.qty > Decimal::ZERO {
            Side::Sell
        } else {
            Side::Buy
        },
        qty: Quantity::new(p.qty.abs()).ok()?,
        kind: OrderKind::Market,
        tif: TimeInForce::Day,
        created_at: at,
    })
}

impl TradingState {
    /// The stricter of two states.
    pub fn max_with(self, other: TradingState) -> TradingState {
        let rank = |s: TradingState| match s {
            TradingState::Active => 0,
            TradingState::Reducing => 1,
            TradingState::Halted => 2,
        };
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}
