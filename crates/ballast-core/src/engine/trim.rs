//! Auto-trim and the liquidation path (SPEC §3).
//!
//! When gross exposure exceeds `max_total_at_risk_pct` of equity, the largest positions are
//! reduced until it fits, each through the liquidation path: a limit order at the last price
//! (the primary route), then a market order, then time-sliced (TWAP) market orders — each step
//! journaled before its order goes out (`engine.liquidation`). A trim that ends with exposure
//! still over the cap is a failure; after `max_trim_failures_before_alert` consecutive failures
//! a CRITICAL alert carries the exposure, the cap and the excess.
//!
//! Liquidation orders only ever reduce a position; they bypass the size checks of the guard
//! (they are the way back under the limits) but never a kill switch or a HALTED state.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use super::{EngineState, Owner};
use crate::config::Config;
use crate::domain::{ClientOrderId, Order, OrderKind, Price, Quantity, Side, Symbol, TimeInForce};
use crate::guard::{Gate, TradingState};

/// The rules of auto-trim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrimRules {
    pub max_total_at_risk_pct: Decimal,
    pub max_failures_before_alert: u32,
    /// Bars of its symbol an order of the liquidation path gets before the next step.
    pub patience_bars: u64,
    pub twap_slices: u32,
    /// A trim aims this far under the cap (in percent of the cap), so that fees and small price
    /// moves do not leave it a hair above and start another one.
    pub headroom_pct: Decimal,
}

impl From<&Config> for TrimRules {
    fn from(c: &Config) -> Self {
        super::EngineSettings::of(c).trim()
    }
}

/// Where a liquidation is on its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum LiquidationStep {
    Primary,
    Market,
    Twap { slices_left: u32 },
}

/// One position being reduced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Liquidation {
    pub id: u64,
    pub symbol: Symbol,
    pub side: Side,
    pub remaining: Decimal,
    pub step: LiquidationStep,
    pub order: Option<ClientOrderId>,
    pub attempt: u32,
    /// Bars of its symbol seen since the current step's order went out.
    pub bars_seen: u64,
    pub reason: String,
    /// On an external venue: the current step's order had its chance and its cancel was
    /// asked; the next step waits for the venue to settle it (`order.venue`, fills booked).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cancelling: bool,
}

/// One journaled step of auto-trim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum LiquidationAction {
    Start {
        liquidation: Liquidation,
    },
    Place {
        id: u64,
        cancel: Option<ClientOrderId>,
        step: LiquidationStep,
        order: Order,
    },
    /// On an external venue: the step's order had its chance; its cancel is asked and it
    /// stays tracked until the venue's word settles it (a fill that raced the cancel is
    /// booked), and only then does the liquidation move on.
    Cancel {
        id: u64,
        order: ClientOrderId,
    },
    /// The path ran out with quantity left.
    GiveUp {
        id: u64,
        remaining: Decimal,
    },
    /// A trim ended: did exposure get under the cap?
    TrimEnded {
        success: bool,
        exposure_pct: Decimal,
        cap_pct: Decimal,
    },
    /// CRITICAL: consecutive trims failed.
    Alert {
        failures: u32,
        exposure_pct: Decimal,
        cap_pct: Decimal,
        excess_usd: Decimal,
    },
}

/// `engine.liquidation`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiquidationRecord {
    pub actions: Vec<LiquidationAction>,
}

fn pct(part: Decimal, whole: Decimal) -> Decimal {
    if whole <= Decimal::ZERO {
        Decimal::ZERO
    } else {
        (part / whole * Decimal::ONE_HUNDRED).round_dp(4)
    }
}

/// Exposure against the cap, as a trim judges it.
#[derive(Debug, Clone, Copy)]
struct Trim {
    exposure: Decimal,
    cap: Decimal,
    exposure_pct: Decimal,
    cap_pct: Decimal,
}

impl EngineState {
    /// A bar of `symbol` was applied: liquidation orders in it had a chance to fill.
    pub(super) fn liquidation_bar(&mut self, symbol: &Symbol) {
        for l in self
            .orders
            .liquidations
            .values_mut()
            .filter(|l| &l.symbol == symbol)
        {
            l.bars_seen += 1;
        }
    }

    pub(super) fn liquidation_filled(&mut self, id: u64, qty: Decimal, order_done: bool) {
        let Some(l) = self.orders.liquidations.get_mut(&id) else {
            return;
        };
        l.remaining -= qty;
        if l.remaining <= Decimal::ZERO {
            self.orders.liquidations.remove(&id);
            self.stats.liquidations_done += 1;
        } else if order_done {
            l.order = None;
        }
    }

    fn liquidation_order(
        &self,
        l: &Liquidation,
        step: LiquidationStep,
        qty: Decimal,
    ) -> Option<Order> {
        let id = ClientOrderId::parse(&format!("bl-liq-{}-{}", l.id, l.attempt + 1)).ok()?;
        let kind = match step {
            LiquidationStep::Primary => OrderKind::Limit {
                limit_price: Price::new(self.portfolio.mark_of(&l.symbol)?).ok()?,
            },
            _ => OrderKind::Market,
        };
        Some(Order {
            client_order_id: id,
            symbol: l.symbol,
            side: l.side,
            qty: Quantity::new(qty).ok()?,
            kind,
            tif: TimeInForce::Day,
            created_at: self.last_bar?,
        })
    }

    /// What auto-trim does after this bar, if anything.
    pub fn plan_liquidations(&self, rules: &TrimRules, gate: &Gate) -> Option<LiquidationRecord> {
        if gate.kill_switch
            || self.controls.trading_state.max_with(gate.trading_state) == TradingState::Halted
        {
            return None;
        }
        let mut actions = Vec::new();
        // 1. Move each liquidation along its path when its order had its chance.
        self.advance_liquidations(rules, &mut actions);
        // 2. With no liquidation left: judge the trim that ran, and start one if needed.
        let equity = self.portfolio.equity();
        let exposure = self.portfolio.gross_exposure();
        let cap = rules.max_total_at_risk_pct * equity / Decimal::ONE_HUNDRED;
        let (exposure_pct, cap_pct) = (pct(exposure, equity), rules.max_total_at_risk_pct);
        let idle = self.orders.liquidations.is_empty()
            || self.orders.liquidations.values().all(|l| {
                actions
                    .iter()
                    .any(|a| matches!(a, LiquidationAction::GiveUp { id, .. } if *id == l.id))
            });
        let trim = Trim {
            exposure,
            cap,
            exposure_pct,
            cap_pct,
        };
        if idle && self.orders.trimming {
            self.judge_trim(rules, &trim, &mut actions);
        }
        if idle && equity > Decimal::ZERO && exposure > cap {
            self.start_trim(rules, &trim, &mut actions);
        }
        (!actions.is_empty()).then_some(LiquidationRecord { actions })
    }

    /// Each liquidation whose order had its chance moves to its next step (or gives up).
    fn advance_liquidations(&self, rules: &TrimRules, actions: &mut Vec<LiquidationAction>) {
        let external = self.external_venue();
        for l in self.orders.liquidations.values() {
            let open = l
                .order
                .as_ref()
                .is_some_and(|c| self.orders.tracked.contains_key(c));
            if open && l.bars_seen < rules.patience_bars {
                continue;
            }
            // On an external venue fills arrive only by polling: an order still tracked may
            // have filled already. It is cancelled and the next step waits for the venue's
            // word, so a liquidation never has two orders in flight.
            if open && external {
                if let (false, Some(order)) = (l.cancelling, l.order.clone()) {
                    actions.push(LiquidationAction::Cancel { id: l.id, order });
                }
                continue;
            }
            // Never more than the position held on the side this liquidation reduces.
            let held = (-l.side.sign() * self.portfolio.qty(&l.symbol)).max(Decimal::ZERO);
            let remaining = l.remaining.min(held);
            let next = match l.step {
                LiquidationStep::Primary => LiquidationStep::Market,
                LiquidationStep::Market => LiquidationStep::Twap {
                    slices_left: rules.twap_slices.max(1),
                },
                LiquidationStep::Twap { slices_left } if slices_left > 1 => LiquidationStep::Twap {
                    slices_left: slices_left - 1,
                },
                LiquidationStep::Twap { .. } => {
                    actions.push(LiquidationAction::GiveUp {
                        id: l.id,
                        remaining: l.remaining,
                    });
                    continue;
                }
            };
            if remaining <= Decimal::ZERO {
                actions.push(LiquidationAction::GiveUp {
                    id: l.id,
                    remaining: l.remaining,
                });
                continue;
            }
            let scale = remaining.normalize().scale();
            let qty = match next {
                LiquidationStep::Twap { slices_left } => (remaining / Decimal::from(slices_left))
                    .round_dp_with_strategy(scale, RoundingStrategy::AwayFromZero)
                    .min(remaining),
                _ => remaining,
            };
            if let Some(order) = self.liquidation_order(l, next, qty) {
                let cancel = l
                    .order
                    .clone()
                    .filter(|c| self.orders.tracked.contains_key(c));
                actions.push(LiquidationAction::Place {
                    id: l.id,
                    cancel,
                    step: next,
                    order,
                });
            }
        }
    }

    /// The trim that ran is over: judged, and an alert after too many failures in a row.
    fn judge_trim(&self, rules: &TrimRules, t: &Trim, actions: &mut Vec<LiquidationAction>) {
        let Trim {
            exposure,
            cap,
            exposure_pct,
            cap_pct,
        } = *t;
        let success = exposure <= cap;
        actions.push(LiquidationAction::TrimEnded {
            success,
            exposure_pct,
            cap_pct,
        });
        let failures = if success {
            0
        } else {
            self.orders.trim_failures + 1
        };
        if failures >= rules.max_failures_before_alert {
            actions.push(LiquidationAction::Alert {
                failures,
                exposure_pct,
                cap_pct,
                excess_usd: (exposure - cap).max(Decimal::ZERO).round_dp(2),
            });
        }
    }

    /// Exposure over the cap: liquidations of the largest positions, down to the cap less the
    /// headroom.
    fn start_trim(&self, rules: &TrimRules, t: &Trim, actions: &mut Vec<LiquidationAction>) {
        let Trim {
            exposure,
            cap,
            exposure_pct,
            cap_pct,
        } = *t;
        let mut positions: Vec<(Decimal, &crate::domain::Position)> = self
            .portfolio
            .positions()
            .filter_map(|p| Some(((p.qty * self.portfolio.mark_of(&p.symbol)?).abs(), p)))
            .collect();
        positions.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.symbol.cmp(&b.1.symbol)));
        let target = cap * (Decimal::ONE_HUNDRED - rules.headroom_pct) / Decimal::ONE_HUNDRED;
        let mut excess = exposure - target;
        let mut next_id = self.orders.next_liquidation;
        let external = self.external_venue();
        for (value, p) in positions {
            if excess <= Decimal::ZERO {
                break;
            }
            // On an external venue an order of the symbol still in flight may have filled
            // already (its fills come by polling): no liquidation of it is planned until the
            // venue settled it.
            if external
                && self
                    .orders
                    .tracked
                    .values()
                    .any(|t| t.order.symbol == p.symbol)
            {
                continue;
            }
            let Some(price) = self
                .portfolio
                .mark_of(&p.symbol)
                .filter(|m| *m > Decimal::ZERO)
            else {
                continue;
            };
            let scale = p.qty.normalize().scale();
            let qty = (excess / price)
                .round_dp_with_strategy(scale, RoundingStrategy::AwayFromZero)
                .min(p.qty.abs());
            if qty <= Decimal::ZERO {
                continue;
            }
            excess -= (qty * price).min(value);
            let l = Liquidation {
                id: next_id,
                symbol: p.symbol,
                side: if p.qty > Decimal::ZERO {
                    Side::Sell
                } else {
                    Side::Buy
                },
                remaining: qty,
                step: LiquidationStep::Primary,
                order: None,
                attempt: 0,
                bars_seen: 0,
                cancelling: false,
                reason: format!("auto-trim: exposure {exposure_pct} % of equity > cap {cap_pct} %"),
            };
            next_id += 1;
            if let Some(order) = self.liquidation_order(&l, LiquidationStep::Primary, qty) {
                let id = l.id;
                actions.push(LiquidationAction::Start { liquidation: l });
                actions.push(LiquidationAction::Place {
                    id,
                    cancel: None,
                    step: LiquidationStep::Primary,
                    order,
                });
            }
        }
    }

    /// Apply an `engine.liquidation` record.
    pub fn apply_liquidation(&mut self, r: &LiquidationRecord) {
        for a in &r.actions {
            match a {
                LiquidationAction::Start { liquidation } => {
                    self.orders.next_liquidation =
                        self.orders.next_liquidation.max(liquidation.id + 1);
                    self.orders.trimming = true;
                    self.orders
                        .liquidations
                        .insert(liquidation.id, liquidation.clone());
                }
                LiquidationAction::Place {
                    id,
                    cancel,
                    step,
                    order,
                } => {
                    if let Some(c) = cancel.as_ref().filter(|_| !self.external_venue()) {
                        self.broker.cancel(c);
                        self.orders.tracked.remove(c);
                    }
                    // The intent; sending is the next record (`order.sent`).
                    self.track_intent(order, Owner::Liquidation(*id));
                    if let Some(l) = self.orders.liquidations.get_mut(id) {
                        l.step = *step;
                        l.order = Some(order.client_order_id.clone());
                        l.attempt += 1;
                        l.bars_seen = 0;
                        l.cancelling = false;
                    }
                }
                // The runtime asks the venue (`cancels`); the order stays tracked.
                LiquidationAction::Cancel { id, .. } => {
                    if let Some(l) = self.orders.liquidations.get_mut(id) {
                        l.cancelling = true;
                    }
                }
                LiquidationAction::GiveUp { id, .. } => {
                    let external = self.external_venue();
                    if let Some(c) = self.orders.liquidations.remove(id).and_then(|l| l.order) {
                        if !external {
                            self.broker.cancel(&c);
                            self.orders.tracked.remove(&c);
                        }
                    }
                    self.stats.liquidations_given_up += 1;
                }
                LiquidationAction::TrimEnded { success, .. } => {
                    self.orders.trimming = false;
                    self.orders.trim_failures = if *success {
                        0
                    } else {
                        self.orders.trim_failures + 1
                    };
                }
                LiquidationAction::Alert { .. } => self.stats.critical_alerts += 1,
            }
        }
    }
}

impl std::fmt::Display for LiquidationStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LiquidationStep::Primary => f.write_str("limit"),
            LiquidationStep::Market => f.write_str("market"),
            LiquidationStep::Twap { slices_left } => {
                write!(f, "TWAP slice ({slices_left} left)")
            }
        }
    }
}
