//! What the guard remembers between orders: recent submits (rate limits), recent orders and
//! idempotency keys (duplicates), the last trade per symbol (cooldown) and losing exits
//! (stop-loss streak). Every collection is bounded.

use std::collections::VecDeque;

use rustc_hash::{FxHashMap, FxHashSet};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{Candidate, Limits};
use crate::domain::{Side, Symbol, SymbolMap};
use crate::limits::{GUARD_MAX_KEYS_COUNT, GUARD_MAX_RECENT_COUNT};
use crate::time::Timestamp;

/// An order's identity for "identical order" detection.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OrderKey {
    pub symbol: Symbol,
    pub side: Side,
    pub qty: Decimal,
    pub limit_price: Option<Decimal>,
}

impl OrderKey {
    pub fn of(c: &Candidate) -> Self {
        OrderKey {
            symbol: c.symbol,
            side: c.side,
            qty: c.qty.normalize(),
            limit_price: c.limit_price.map(|p| p.normalize()),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuardState {
    /// Submit times within the last minute, oldest first.
    submits: VecDeque<Timestamp>,
    recent: VecDeque<(Timestamp, OrderKey)>,
    #[serde(with = "as_pairs")]
    recent_last: FxHashMap<OrderKey, Timestamp>,
    keys: FxHashSet<String>,
    key_order: VecDeque<String>,
    last_trade: SymbolMap<Timestamp>,
    /// Bars seen per symbol, and the count at each symbol's last trade (the bar cooldown).
    #[serde(default)]
    bars: SymbolMap<u64>,
    #[serde(default)]
    last_trade_bar: SymbolMap<u64>,
    losses: VecDeque<Timestamp>,
    streak_cooldown_until: Option<Timestamp>,
}

impl GuardState {
    /// Submits in `(now - window_ms, now]`.
    pub fn submits_within(&self, now: Timestamp, window_ms: i64) -> u32 {
        let from = now.plus_ms(-window_ms);
        self.submits.iter().rev().take_while(|t| **t > from).count() as u32
    }

    /// When an identical order was last sent, if within memory.
    pub fn last_identical(&self, key: &OrderKey) -> Option<Timestamp> {
        self.recent_last.get(key).copied()
    }

    pub fn key_seen(&self, key: &str) -> bool {
        self.keys.contains(key)
    }

    pub fn last_trade(&self, symbol: &Symbol) -> Option<Timestamp> {
        self.last_trade.get(symbol).copied()
    }

    /// A bar of `symbol` closed.
    pub fn on_bar(&mut self, symbol: &Symbol) {
        *self.bars.entry(*symbol).or_default() += 1;
    }

    /// Bars of `symbol` since its last trade, if it traded.
    pub fn bars_since_trade(&self, symbol: &Symbol) -> Option<u64> {
        let last = self.last_trade_bar.get(symbol)?;
        Some(
            self.bars
                .get(symbol)
                .copied()
                .unwrap_or(0)
                .saturating_sub(*last),
        )
    }

    /// Until when new exposure is blocked by a stop-loss streak.
    pub fn streak_cooldown_until(&self) -> Option<Timestamp> {
        self.streak_cooldown_until
    }

    /// Whether the stop-loss cooldown of a losing streak is on at `now`.
    pub fn in_stop_loss_cooldown(&self, now: Timestamp) -> bool {
        self.streak_cooldown_until.is_some_and(|u| u > now)
    }

    /// Record an order that was sent.
    pub fn record_submit(&mut self, c: &Candidate, now: Timestamp, limits: &Limits) {
        self.submits.push_back(now);
        let minute_ago = now.plus_ms(-60_000);
        while self.submits.front().is_some_and(|t| *t <= minute_ago)
            || self.submits.len() > limits.max_orders_per_minute as usize + 1
        {
            self.submits.pop_front();
        }
        let key = OrderKey::of(c);
        self.recent.push_back((now, key.clone()));
        self.recent_last.insert(key, now);
        let horizon = now.plus_ms(-limits.duplicate_window_ms);
        while let Some((t, k)) = self.recent.front() {
            if *t > horizon && self.recent.len() <= GUARD_MAX_RECENT_COUNT {
                break;
            }
            if self.recent_last.get(k) == Some(t) {
                self.recent_last.remove(k);
            }
            self.recent.pop_front();
        }
        if let Some(k) = &c.idempotency_key {
            if self.keys.insert(k.clone()) {
                self.key_order.push_back(k.clone());
                if self.key_order.len() > GUARD_MAX_KEYS_COUNT {
                    if let Some(old) = self.key_order.pop_front() {
                        self.keys.remove(&old);
                    }
                }
            }
        }
        self.last_trade.insert(c.symbol, now);
        self.last_trade_bar
            .insert(c.symbol, self.bars.get(&c.symbol).copied().unwrap_or(0));
    }

    /// Record a closed trade's PnL; a streak of losses starts a cooldown.
    pub fn record_exit(&mut self, pnl: Decimal, now: Timestamp, limits: &Limits) {
        if pnl >= Decimal::ZERO {
            self.losses.clear();
            return;
        }
        self.losses.push_back(now);
        let from = now.plus_ms(-limits.stop_loss_window_ms);
        while self.losses.front().is_some_and(|t| *t <= from)
            || self.losses.len() > limits.stop_loss_streak as usize
        {
            self.losses.pop_front();
        }
        if self.losses.len() >= limits.stop_loss_streak as usize {
            self.streak_cooldown_until = Some(now.plus_ms(limits.stop_loss_cooldown_ms));
            self.losses.clear();
        }
    }
}

/// A map with struct keys, serialized as a list of pairs (JSON keys must be strings).
mod as_pairs {
    use std::collections::HashMap;
    use std::hash::{BuildHasher, Hash};

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<K: Serialize, V: Serialize, H, S: Serializer>(
        map: &HashMap<K, V, H>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut pairs: Vec<(&K, &V)> = map.iter().collect();
        // A stable order, so the same state always serializes to the same bytes.
        pairs.sort_by_cached_key(|(k, _)| serde_json::to_string(k).unwrap_or_default());
        pairs.serialize(s)
    }

    pub fn deserialize<'de, K, V, H, D>(d: D) -> Result<HashMap<K, V, H>, D::Error>
    where
        K: Deserialize<'de> + Eq + Hash,
        H: BuildHasher + Default,
        V: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Ok(Vec::<(K, V)>::deserialize(d)?.into_iter().collect())
    }
}
