//! What the engine tells the supervisor's health monitor each loop (in its heartbeat file):
//! the figures behind the data feed, broker, execution, guard, pipeline, universe and shadow
//! checks, and the account figures behind the policy's protections.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::EngineState;
use crate::guard::TradingState;
use crate::policy::Policy;
use crate::time::Timestamp;

/// Stuck-signal thresholds of the pipeline (SPEC §3 defaults).
pub const STUCK_AFTER_MS: i64 = 3_600_000;
pub const MAX_AGE_MS: i64 = 7_200_000;
/// More stuck signals than this: the pipeline is CRITICAL.
pub const MAX_STUCK: usize = 10;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineStatus {
    /// Market time of the last bar.
    pub market_time: Option<Timestamp>,
    pub bars: u64,
    pub trading_state: TradingState,
    pub policy: Option<Policy>,
    pub kill_switch: bool,
    pub orders_open: usize,
    /// Orders whose outcome is unknown (sent, no answer): unreconciled.
    pub orders_unknown: usize,
    pub orders_sent: u64,
    /// Sends whose outcome was unknown, and outright venue rejections (the broker's errors).
    pub unknown_outcomes: u64,
    pub venue_rejections: u64,
    pub guard_rejections: u64,
    pub signals_in_flight: usize,
    pub signals_stuck: usize,
    pub universe_eligible: usize,
    pub universe_symbols: usize,
    pub shadow_trades: u64,
    pub equity: Decimal,
    pub peak_equity: Decimal,
    pub start_of_day_equity: Decimal,
    /// The guard's stop-loss cooldown is on (a losing streak).
    pub stop_loss_cooldown: bool,
    pub trim_failures: u32,
    /// The feed the bars come from (`[feed.backup]`; absent in older heartbeats: primary).
    #[serde(default)]
    pub feed: crate::market::fallback::FeedSource,
    /// Whether the engine judges by the settings of the supervisor's configuration in force
    /// (set by the runtime; absent in older heartbeats: not followed).
    #[serde(default)]
    pub settings: super::settings_gate::SettingsCheck,
    /// The venue as the engine sees it (absent in older heartbeats: the paper venue).
    #[serde(default)]
    pub venue: VenueReport,
}

/// The venue as the engine sees it: which broker, its startup compatibility check, the latest
/// reconciliation, its last failure, and (live mode) what the engine still lacks to trade.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VenueReport {
    /// `paper` or `alpaca` (empty in older heartbeats: the paper venue).
    #[serde(default)]
    pub broker: String,
    /// The startup compatibility check (`None`: not run — the paper venue, or not yet).
    #[serde(default)]
    pub compat: Option<CompatOutcome>,
    /// The latest reconciliation (the last `reconcile.run` record).
    #[serde(default)]
    pub reconcile: Option<ReconcileSummary>,
    /// The venue's last failed call, in words with its class, while it keeps failing.
    #[serde(default)]
    pub last_error: Option<String>,
    /// Live mode: the engine's conditions of principle 1 still missing, each in words (empty:
    /// none missing — or paper mode).
    #[serde(default)]
    pub live_missing: Vec<String>,
    /// The operator's last reconciliation choice the engine refused, and why (cleared when a
    /// choice is taken; a refused choice is never applied).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choice_refused: Option<String>,
    /// When the engine last ran a reconciliation (the venue's clock), whether or not it
    /// changed anything: `reconcile.at` is the last run journaled, i.e. the last that found
    /// something different (`None`: none run since the engine started, or an older engine).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run_at: Option<Timestamp>,
}

/// The outcome of the broker's startup compatibility check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompatOutcome {
    pub ok: bool,
    /// On a failure: `FAILED_CONFIG` or `FAILED_API_SCHEMA` (SPEC §7).
    #[serde(default)]
    pub class: Option<String>,
    /// What was checked, or what failed: the call, the field and the value.
    pub detail: String,
    pub at: Timestamp,
}

/// The latest reconciliation as the operator sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconcileSummary {
    pub at: Timestamp,
    pub startup: bool,
    pub findings: Vec<crate::reconcile::Finding>,
    pub unanswered: Vec<String>,
    /// The findings the operator chose to flatten whose orders are still open: finding id →
    /// its flatten orders. Such a finding stays listed until they fill.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub flattening: std::collections::BTreeMap<String, Vec<crate::domain::ClientOrderId>>,
}

impl EngineState {
    pub fn status(&self) -> EngineStatus {
        let now = self.last_bar.unwrap_or(Timestamp::EPOCH);
        EngineStatus {
            market_time: self.last_bar,
            bars: self.bars,
            trading_state: self.gate().trading_state,
            policy: self.controls.policy.as_ref().map(|p| p.policy),
            kill_switch: self.controls.kill_switch.is_some(),
            orders_open: self.orders.tracked.len(),
            orders_unknown: self.unknown_orders(),
            orders_sent: self.stats.orders,
            unknown_outcomes: self.stats.unknown_outcomes,
            venue_rejections: self.stats.venue_rejections,
            guard_rejections: self.stats.rejections.values().sum(),
            signals_in_flight: self.signals.live().count(),
            signals_stuck: {
                let (stuck, age) = self.stale_thresholds();
                self.signals.stale(now, stuck, age).len()
            },
            universe_eligible: self.universe.eligible_count(),
            universe_symbols: self.universe.symbol_count(),
            shadow_trades: self.shadow.totals.approved_trades + self.shadow.totals.rejected_trades,
            equity: self.portfolio.equity(),
            peak_equity: self.peak_equity,
            start_of_day_equity: self.start_of_day_equity,
            stop_loss_cooldown: self.guard.in_stop_loss_cooldown(now),
            trim_failures: self.orders.trim_failures,
            feed: self.feed.active,
            settings: super::settings_gate::SettingsCheck::NotFollowed,
            venue: VenueReport {
                reconcile: self.controls.reconcile.as_ref().map(|r| ReconcileSummary {
                    at: r.at,
                    startup: r.startup,
                    findings: r.findings.clone(),
                    unanswered: r.unanswered.clone(),
                    flattening: self.controls.flattening.iter().fold(
                        std::collections::BTreeMap::new(),
                        |mut m, (order, finding)| {
                            m.entry(finding.clone())
                                .or_insert_with(Vec::new)
                                .push(order.clone());
                            m
                        },
                    ),
                }),
                ..VenueReport::default()
            },
        }
    }
}
