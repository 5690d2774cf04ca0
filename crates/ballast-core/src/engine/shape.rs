//! The engine state's shape on disk (a snapshot's `state`): one flat object whose keys come
//! in this order — the order of the state before it was split by job, so snapshots are written
//! byte for byte as before. The table below is that shape: each key, its type, and where it
//! lives in [`EngineState`]. A new field is one line here (with `#[serde(default)]`, so older
//! snapshots still read). Attributes in brackets (`[serde(skip_serializing_if = ...)]`) are
//! the written shape's: a field absent while it is `None` keeps older snapshots' bytes.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use rust_decimal::Decimal;
use rustc_hash::FxHashSet;
use serde::{Deserialize, Serialize};

use super::FeedUse;
use super::settings::EngineSettings;
use super::{
    Controls, Decisions, EngineState, Fills, JournalStamp, KillSwitchRecord, Liquidation, LongLine,
    OrderTrack, Orders, PendingTarget, PolicyRecord, ReconcileRecord, Stats,
};
use crate::domain::{ClientOrderId, FillId, Symbol};
use crate::guard::{GuardState, TradingState};
use crate::paper::PaperBroker;
use crate::pipeline::DecisionLog;
use crate::portfolio::Portfolio;
use crate::shadow::Shadow;
use crate::signal::SignalBook;
use crate::strategy::SmaCross;
use crate::time::Timestamp;
use crate::trades::RoundTrips;
use crate::universe::Universe;

macro_rules! shape {
    ($($(#[$attr:meta])* $([$ser:meta])* $key:ident: $ty:ty = $($path:ident).+;)*) => {
        /// The state as written (borrowed).
        #[derive(Serialize)]
        struct ShapeRef<'a> {
            $($(#[$ser])* $key: &'a $ty,)*
        }

        /// The state as read.
        #[derive(Deserialize)]
        struct Shape {
            $($(#[$attr])* $key: $ty,)*
        }

        impl Serialize for EngineState {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                ShapeRef {
                    $($key: &self.$($path).+,)*
                }
                .serialize(s)
            }
        }
    };
}

shape! {
    schema: u32 = schema;
    portfolio: Portfolio = portfolio;
    broker: PaperBroker = broker;
    strategy: SmaCross = strategy;
    universe: Universe = universe;
    shadow: Shadow = shadow;
    signals: SignalBook = signals;
    guard: GuardState = guard;
    trading_state: TradingState = controls.trading_state;
    orders: BTreeMap<ClientOrderId, OrderTrack> = orders.tracked;
    fill_ids: FxHashSet<FillId> = fills.ids;
    fill_order: VecDeque<FillId> = fills.order;
    pending: VecDeque<PendingTarget> = decisions.pending;
    inbox_offset: u64 = decisions.inbox_offset;
    #[serde(default)]
    inbox_file: Option<u64> = decisions.inbox_file;
    inbox_lines: u64 = decisions.inbox_lines;
    #[serde(default)]
    inbox_long_line: Option<LongLine> = decisions.inbox_long_line;
    next_signal: u64 = decisions.next_signal;
    bars: u64 = bars;
    last_bar: Option<Timestamp> = last_bar;
    last_bar_of: BTreeMap<Symbol, Timestamp> = last_bar_of;
    peak_equity: Decimal = peak_equity;
    start_of_day_equity: Decimal = start_of_day_equity;
    day: Option<(i32, u32, u32)> = day;
    stats: Stats = stats;
    decisions: DecisionLog = decisions.log;
    liquidations: BTreeMap<u64, Liquidation> = orders.liquidations;
    next_liquidation: u64 = orders.next_liquidation;
    trim_failures: u32 = orders.trim_failures;
    trimming: bool = orders.trimming;
    #[serde(default)]
    trips: RoundTrips = trips;
    #[serde(default)]
    stamp: Option<JournalStamp> = controls.stamp;
    #[serde(default)]
    kill_switch: Option<KillSwitchRecord> = controls.kill_switch;
    #[serde(default)]
    policy: Option<PolicyRecord> = controls.policy;
    #[serde(default)]
    bar_interval_ms: i64 = bar_interval_ms;
    #[serde(default)]
    [serde(skip_serializing_if = "none")]
    settings: Option<EngineSettings> = controls.settings;
    #[serde(default)]
    [serde(skip_serializing_if = "unused")]
    feed: FeedUse = feed;
    #[serde(default)]
    [serde(skip_serializing_if = "zero")]
    signals_seq: u64 = decisions.signals_seq;
    #[serde(default)]
    [serde(skip_serializing_if = "none")]
    reconcile: Option<ReconcileRecord> = controls.reconcile;
    #[serde(default)]
    [serde(skip_serializing_if = "empty_set")]
    reconcile_acknowledged: BTreeSet<String> = controls.acknowledged;
    #[serde(default)]
    [serde(skip_serializing_if = "empty_map")]
    reconcile_flattening: BTreeMap<ClientOrderId, String> = controls.flattening;
    #[serde(default)]
    [serde(skip_serializing_if = "zero")]
    reconcile_orders: u64 = controls.reconcile_orders;
    #[serde(default)]
    [serde(skip_serializing_if = "zero")]
    closing_orders: u64 = controls.closing_orders;
}

/// Nothing acknowledged (not written).
fn empty_set(v: &&BTreeSet<String>) -> bool {
    v.is_empty()
}

/// No flatten order open (not written).
fn empty_map(v: &&BTreeMap<ClientOrderId, String>) -> bool {
    v.is_empty()
}

/// Nothing taken from `journal/signals/` yet (not written).
fn zero(v: &&u64) -> bool {
    **v == 0
}

/// The feed fallback never used (not written).
fn unused(v: &&FeedUse) -> bool {
    **v == FeedUse::default()
}

/// A borrowed field that is `None` (not written).
fn none<T>(v: &&Option<T>) -> bool {
    v.is_none()
}

impl<'de> Deserialize<'de> for EngineState {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Shape::deserialize(d)?;
        Ok(EngineState {
            schema: s.schema,
            portfolio: s.portfolio,
            broker: s.broker,
            strategy: s.strategy,
            universe: s.universe,
            shadow: s.shadow,
            signals: s.signals,
            guard: s.guard,
            controls: Controls {
                trading_state: s.trading_state,
                stamp: s.stamp,
                kill_switch: s.kill_switch,
                policy: s.policy,
                settings: s.settings,
                reconcile: s.reconcile,
                acknowledged: s.reconcile_acknowledged,
                flattening: s.reconcile_flattening,
                reconcile_orders: s.reconcile_orders,
                closing_orders: s.closing_orders,
            },
            orders: Orders {
                tracked: s.orders,
                liquidations: s.liquidations,
                next_liquidation: s.next_liquidation,
                trim_failures: s.trim_failures,
                trimming: s.trimming,
            },
            fills: Fills {
                ids: s.fill_ids,
                order: s.fill_order,
            },
            decisions: Decisions {
                pending: s.pending,
                inbox_offset: s.inbox_offset,
                inbox_file: s.inbox_file,
                inbox_lines: s.inbox_lines,
                inbox_long_line: s.inbox_long_line,
                next_signal: s.next_signal,
                signals_seq: s.signals_seq,
                log: s.decisions,
            },
            bars: s.bars,
            last_bar: s.last_bar,
            last_bar_of: s.last_bar_of,
            peak_equity: s.peak_equity,
            start_of_day_equity: s.start_of_day_equity,
            day: s.day,
            stats: s.stats,
            trips: s.trips,
            bar_interval_ms: s.bar_interval_ms,
            feed: s.feed,
        })
    }
}
