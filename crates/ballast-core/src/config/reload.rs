//! The reload plan (issue 12, item 1): from the running configuration and a newly validated one,
//! which keys changed and what each takes — applied live, a service restarted, started or
//! stopped, or refused ("restart Ballast to change general.mode"). Pure: it decides, the
//! supervisor acts. A plan with any refusal is refused whole: nothing of it is applied.
//!
//! What a key takes is decided by comparing the typed fields; every section is destructured in
//! full, so a field added to the model does not compile until it is classified here. The diff's
//! text (old and new value) comes from the JSON form of both configurations, secrets masked.

use std::collections::BTreeMap;

use serde_json::Value;

use super::model::*;
use super::secret;

mod read;
pub use read::{CHANGED_WHILE_READ, EMPTY_FILE, FileRead, FileStamp, is_blank, refusal};

/// What a changed key takes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    /// Guard and risk limits: the engine adopts them at the next bar boundary (journaled as a
    /// settings record, so replay sees them).
    EngineSettings,
    /// `[health]` thresholds and intervals: the health cycle uses them from its next round.
    HealthSettings,
    /// `[heal]` (the policy's sweep): the healer uses it from its next sweep.
    HealSettings,
    /// `[alerts]` grouping, escalation and the bot-silent threshold: from the next cycle.
    AlertSettings,
    /// `[[checks]]`: the declared checks are replaced.
    Checks,
    /// `[[artifacts]]`: the declared artifacts are replaced.
    Artifacts,
    /// A changed `[[services]]` entry: that service, and only it, is restarted.
    Restart(String),
    /// A new `[[services]]` entry: it is started.
    Start(String),
    /// A removed `[[services]]` entry: it is stopped.
    Stop(String),
}

/// One line of the diff: the key path, its old and new value (`None`: absent on that side),
/// as JSON text, a secret as `***`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub key: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

/// A key that cannot change while Ballast runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub key: String,
}

impl Refusal {
    /// The words the operator sees.
    pub fn message(&self) -> String {
        format!(
            "{} cannot change while Ballast runs: restart Ballast to change {}",
            self.key, self.key
        )
    }
}

/// The plan: the diff, and either the actions to apply or the refusals that stop all of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadPlan {
    /// Every changed key, in configuration order.
    pub diff: Vec<Change>,
    /// What to do, each once, in a fixed order; empty when the plan is refused.
    pub actions: Vec<Action>,
    /// The keys that cannot change live; any one refuses the whole plan.
    pub refused: Vec<Refusal>,
}

impl ReloadPlan {
    /// Nothing changed.
    pub fn is_empty(&self) -> bool {
        self.diff.is_empty()
    }

    /// Refused whole: nothing of it may be applied.
    pub fn is_refused(&self) -> bool {
        !self.refused.is_empty()
    }
}

/// `name` says it holds a secret: the one predicate ([`super::secret`]) that `config show`
/// and the error messages use too.
pub fn is_secret(name: &str) -> bool {
    super::secret::is_secret_name(name)
}

/// Push `section.field` for each listed field that differs; the destructuring is exhaustive,
/// so a new field of the section must be listed (and so classified) before this compiles.
/// Fields listed after `nested` are sub-tables, compared key by key by the caller.
macro_rules! changed_fields {
    ($keys:ident, $old:ident, $new:ident, $section:ident: $ty:ident, [$($f:ident),* $(,)?]
        $(, nested [$($n:ident),*])?) => {{
        let $ty { $($f: _,)* $($($n: _),*)? } = &$old.$section;
        $(
            if $old.$section.$f != $new.$section.$f {
                $keys.push(concat!(stringify!($section), ".", stringify!($f)));
            }
        )*
    }};
}

/// The changed keys of the sections that cannot change live: where the data and the journal
/// are, the mode, the engine on or off and its quarantine bound (fixed at its start), the feed,
/// universe and strategy (a running strategy's state was built on them; replay must see one),
/// the paper broker's account and fills, and the API's socket.
fn fixed_keys(old: &Config, new: &Config) -> Vec<&'static str> {
    let mut k = Vec::new();
    changed_fields!(k, old, new, general: General, [mode, data_dir]);
    changed_fields!(k, old, new, engine: Engine, [enabled, inbox_quarantine_max_bytes]);
    changed_fields!(k, old, new, journal: Journal, [
        segment_max_bytes, max_record_bytes, max_pending_bytes, snapshot_every_records,
        snapshot_retain,
    ]);
    changed_fields!(k, old, new, feed: Feed, [
        kind, replay_file, symbols, bars_per_second, skip_bad_rows, seed, synthetic_start_price,
        synthetic_volatility_pct,
    ], nested [backup]);
    // `[feed.backup]`: the engine builds both feeds at its start (their positions are in its
    // journal), so none of it changes live either.
    let FeedBackup {
        kind,
        replay_file,
        stale_secs,
        recover_secs,
    } = &old.feed.backup;
    let b = &new.feed.backup;
    for (key, changed) in [
        ("feed.backup.kind", *kind != b.kind),
        ("feed.backup.replay_file", *replay_file != b.replay_file),
        ("feed.backup.stale_secs", *stale_secs != b.stale_secs),
        ("feed.backup.recover_secs", *recover_secs != b.recover_secs),
    ] {
        if changed {
            k.push(key);
        }
    }
    changed_fields!(k, old, new, universe: Universe, [
        min_avg_dollar_volume_usd, window_bars, force_eligible,
    ]);
    changed_fields!(k, old, new, strategy: Strategy, [kind, fast, slow, qty, allow_short]);
    changed_fields!(k, old, new, paper: Paper, [
        starting_cash_usd, slippage_bps, fee_bps, participation, latency_ms,
    ]);
    broker_keys(&mut k, old, new);
    changed_fields!(k, old, new, api: Api, [
        bind, port, allow_remote, metrics_port, token_file, viewer_token_file,
        signals_max_backlog,
    ]);
    // The delivery thread, its sinks (and their tokens, read at start), retry bounds and the
    // dead-man's switch are built at the start.
    changed_fields!(k, old, new, alerts: Alerts, [
        retry_base_ms, retry_max_ms, retry_max_attempts, timeout_ms, heartbeat_url,
        heartbeat_every_secs, sinks,
    ], nested [
        group_wait_secs, group_interval_secs, repeat_interval_secs, escalate_after,
        bot_silent_after_secs
    ]);
    // The faults are set up at the start of each process (the engine's broker, storage, clock
    // and feed; the supervisor's timer and port): a restart changes them.
    changed_fields!(k, old, new, chaos: Chaos, [
        modes, seed, every, outage_calls, slow_ms, crash_after_records, disk_full_after_writes,
        stale_after_bars, skew_secs, supervisor_crash_after_secs,
    ]);
    k
}

/// `[broker]` and `[broker.alpaca]`: the engine builds its venue (and the adapter's client,
/// rate limiter and credentials) at its start, and its journal is stamped with the broker and
/// account, so none of it changes live.
fn broker_keys(k: &mut Vec<&'static str>, old: &Config, new: &Config) {
    changed_fields!(k, old, new, broker: Broker, [kind, on_dangerous], nested [alpaca]);
    let AlpacaConfig {
        paper_url,
        live_url,
        data_url,
        secrets_file,
        connect_timeout_ms,
        request_timeout_ms,
        call_deadline_ms,
        max_retries,
        rate_limit_per_min,
        poll_interval_ms,
        reconcile_interval_secs,
        grace_secs,
        max_lookups,
        page_size,
        bars_timeframe,
        bars_poll_secs,
    } = &old.broker.alpaca;
    let b = &new.broker.alpaca;
    for (key, changed) in [
        ("broker.alpaca.paper_url", *paper_url != b.paper_url),
        ("broker.alpaca.live_url", *live_url != b.live_url),
        ("broker.alpaca.data_url", *data_url != b.data_url),
        (
            "broker.alpaca.secrets_file",
            *secrets_file != b.secrets_file,
        ),
        (
            "broker.alpaca.connect_timeout_ms",
            *connect_timeout_ms != b.connect_timeout_ms,
        ),
        (
            "broker.alpaca.request_timeout_ms",
            *request_timeout_ms != b.request_timeout_ms,
        ),
        (
            "broker.alpaca.call_deadline_ms",
            *call_deadline_ms != b.call_deadline_ms,
        ),
        ("broker.alpaca.max_retries", *max_retries != b.max_retries),
        (
            "broker.alpaca.rate_limit_per_min",
            *rate_limit_per_min != b.rate_limit_per_min,
        ),
        (
            "broker.alpaca.poll_interval_ms",
            *poll_interval_ms != b.poll_interval_ms,
        ),
        (
            "broker.alpaca.reconcile_interval_secs",
            *reconcile_interval_secs != b.reconcile_interval_secs,
        ),
        ("broker.alpaca.grace_secs", *grace_secs != b.grace_secs),
        ("broker.alpaca.max_lookups", *max_lookups != b.max_lookups),
        ("broker.alpaca.page_size", *page_size != b.page_size),
        (
            "broker.alpaca.bars_timeframe",
            *bars_timeframe != b.bars_timeframe,
        ),
        (
            "broker.alpaca.bars_poll_secs",
            *bars_poll_secs != b.bars_poll_secs,
        ),
    ] {
        if changed {
            k.push(key);
        }
    }
}

/// The changed keys of the sections applied live, each with its action.
fn live_keys(old: &Config, new: &Config) -> Vec<(&'static str, Action)> {
    let mut engine = Vec::new();
    changed_fields!(engine, old, new, guard: Guard, [
        max_position_notional_usd, max_notional_per_order_usd, max_portfolio_exposure_pct,
        max_concentration_per_symbol_pct, max_price_deviation_pct, min_cooldown_minutes,
        min_cooldown_bars, max_open_orders, max_orders_per_second, max_orders_per_minute,
        allow_direction_flip, duplicate_window_secs, daily_loss_limit_pct, max_drawdown_pct,
        stop_loss_streak, stop_loss_window_minutes, stop_loss_cooldown_minutes,
    ]);
    changed_fields!(engine, old, new, risk: Risk, [
        max_total_at_risk_pct, max_trim_failures_before_alert,
    ]);
    let mut health = Vec::new();
    changed_fields!(health, old, new, health: Health, [
        cycle_ms, critical_interval_secs, interval_secs, hysteresis_secs, feed_degraded_secs,
        feed_critical_secs, engine_degraded_secs, engine_critical_secs, error_rate_degraded_pct,
        error_rate_critical_pct, cpu_degraded_pct, memory_degraded_pct, disk_free_min_pct,
        resource_window_secs, recommendation_ttl_secs, history,
    ]);
    let mut heal = Vec::new();
    changed_fields!(heal, old, new, heal: Heal, [sweep_secs]);
    let mut alerts = Vec::new();
    changed_fields!(alerts, old, new, alerts: Alerts, [
        group_wait_secs, group_interval_secs, repeat_interval_secs, escalate_after,
        bot_silent_after_secs,
    ], nested [
        retry_base_ms, retry_max_ms, retry_max_attempts, timeout_ms, heartbeat_url,
        heartbeat_every_secs, sinks
    ]);
    let tag = |keys: Vec<&'static str>, a: Action| keys.into_iter().map(move |k| (k, a.clone()));
    tag(engine, Action::EngineSettings)
        .chain(tag(health, Action::HealthSettings))
        .chain(tag(heal, Action::HealSettings))
        .chain(tag(alerts, Action::AlertSettings))
        .collect()
}

/// One entry of an array of tables, its identity and its typed value.
struct Entry<'a, T> {
    id: String,
    value: &'a T,
}

fn entries<T>(items: &[T], id: impl Fn(&T) -> String) -> Vec<Entry<'_, T>> {
    items
        .iter()
        .map(|value| Entry {
            id: id(value),
            value,
        })
        .collect()
}

/// The entries (by identity) added, removed and changed between `old` and `new`, in the order
/// of `old` then the additions in the order of `new`.
fn entry_changes<'a, T: PartialEq>(
    old: &[Entry<'a, T>],
    new: &[Entry<'a, T>],
) -> Vec<(String, EntryChange)> {
    let new_by_id: BTreeMap<&str, &T> = new.iter().map(|e| (e.id.as_str(), e.value)).collect();
    let old_by_id: BTreeMap<&str, &T> = old.iter().map(|e| (e.id.as_str(), e.value)).collect();
    let mut out = Vec::new();
    for e in old {
        match new_by_id.get(e.id.as_str()) {
            None => out.push((e.id.clone(), EntryChange::Removed)),
            Some(n) if *n != e.value => out.push((e.id.clone(), EntryChange::Changed)),
            Some(_) => {}
        }
    }
    for e in new {
        if !old_by_id.contains_key(e.id.as_str()) {
            out.push((e.id.clone(), EntryChange::Added));
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EntryChange {
    Added,
    Removed,
    Changed,
}

fn artifact_id(a: &ArtifactConfig) -> String {
    format!("{}:{}", a.service, a.path)
}

/// The plan from the running configuration `old` to the validated `new` one.
pub fn plan(old: &Config, new: &Config) -> ReloadPlan {
    // Every section is classified below: a new one does not compile until it is.
    let Config {
        general: _,
        engine: _,
        journal: _,
        feed: _,
        universe: _,
        strategy: _,
        guard: _,
        paper: _,
        broker: _,
        risk: _,
        api: _,
        health: _,
        heal: _,
        alerts: _,
        services: _,
        artifacts: _,
        checks: _,
        chaos: _,
    } = old;
    let (old_json, new_json) = (json(old), json(new));
    let mut plan = ReloadPlan::default();
    let mut actions = Vec::new();
    for key in fixed_keys(old, new) {
        plan.diff.extend(diff_key(&old_json, &new_json, key));
        plan.refused.push(Refusal {
            key: key.to_string(),
        });
    }
    for (key, action) in live_keys(old, new) {
        plan.diff.extend(diff_key(&old_json, &new_json, key));
        actions.push(action);
    }
    let services = entry_changes(
        &entries(&old.services, |s| s.name.clone()),
        &entries(&new.services, |s| s.name.clone()),
    );
    for (name, change) in services {
        let id = |s: &ServiceConfig| s.name == name;
        plan.diff.extend(diff_entry(
            "services",
            &name,
            &old.services,
            &new.services,
            id,
        ));
        actions.push(match change {
            EntryChange::Added => Action::Start(name),
            EntryChange::Removed => Action::Stop(name),
            EntryChange::Changed => Action::Restart(name),
        });
    }
    // A service whose role changes (it becomes, or stops being, a fallback, or covers another
    // primary) is restarted too, though its own entry is the same: one now standing by stops
    // to STANDBY, one no longer a fallback starts.
    for name in role_changes(&old.services, &new.services) {
        actions.push(Action::Restart(name));
    }
    let checks = entry_changes(
        &entries(&old.checks, |c| c.name.clone()),
        &entries(&new.checks, |c| c.name.clone()),
    );
    for (name, _) in checks {
        let id = |c: &CheckConfig| c.name == name;
        plan.diff
            .extend(diff_entry("checks", &name, &old.checks, &new.checks, id));
        actions.push(Action::Checks);
    }
    let artifacts = entry_changes(
        &entries(&old.artifacts, artifact_id),
        &entries(&new.artifacts, artifact_id),
    );
    for (name, _) in artifacts {
        let id = |a: &ArtifactConfig| artifact_id(a) == name;
        plan.diff.extend(diff_entry(
            "artifacts",
            &name,
            &old.artifacts,
            &new.artifacts,
            id,
        ));
        actions.push(Action::Artifacts);
    }
    if !plan.is_refused() {
        actions.sort();
        actions.dedup();
        plan.actions = actions;
    }
    plan
}

/// The services, in both configurations, that a different primary names as its fallback
/// (or none does, or one now does).
fn role_changes(old: &[ServiceConfig], new: &[ServiceConfig]) -> Vec<String> {
    let covers = |services: &[ServiceConfig], name: &str| {
        services
            .iter()
            .find(|p| p.fallback == name)
            .map(|p| p.name.clone())
    };
    new.iter()
        .filter(|s| old.iter().any(|o| o.name == s.name))
        .filter(|s| covers(old, &s.name) != covers(new, &s.name))
        .map(|s| s.name.clone())
        .collect()
}

fn json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// The diff lines under `section.field`.
fn diff_key(old: &Value, new: &Value, key: &str) -> Vec<Change> {
    let pointer = format!("/{}", key.replace('.', "/"));
    diff_values(key, old.pointer(&pointer), new.pointer(&pointer))
}

/// The diff lines of the entry `array[id]` (either side may lack it).
fn diff_entry<T: serde::Serialize>(
    array: &str,
    id: &str,
    old: &[T],
    new: &[T],
    is: impl Fn(&T) -> bool,
) -> Vec<Change> {
    let old = old.iter().find(|e| is(e)).map(json);
    let new = new.iter().find(|e| is(e)).map(json);
    diff_values(&format!("{array}[{id}]"), old.as_ref(), new.as_ref())
}

/// The leaves (objects flattened, arrays and scalars whole) that differ under `prefix`. They
/// are compared by their real text and shown masked, so a changed secret is seen as changed.
fn diff_values(prefix: &str, old: Option<&Value>, new: Option<&Value>) -> Vec<Change> {
    let (mut o, mut n) = (BTreeMap::new(), BTreeMap::new());
    if let Some(v) = old {
        leaves(prefix, v, false, &mut o);
    }
    if let Some(v) = new {
        leaves(prefix, v, false, &mut n);
    }
    let keys: std::collections::BTreeSet<&String> = o.keys().chain(n.keys()).collect();
    let shown = |leaf: Option<&Leaf>| leaf.map(|l| l.shown.clone());
    keys.into_iter()
        .filter(|k| o.get(*k).map(|l| &l.text) != n.get(*k).map(|l| &l.text))
        .map(|k| Change {
            key: k.clone(),
            old: shown(o.get(k)),
            new: shown(n.get(k)),
        })
        .collect()
}

/// A leaf's value as JSON text (compared), and as shown: `***` under a secret's name or when
/// its own text carries one, else masked through the one predicate ([`secret::mask_value`],
/// which recurses into the tables of an array such as `alerts.sinks`).
struct Leaf {
    text: String,
    shown: String,
}

/// The leaves of `value` by key path. A value is masked when its key names a secret (and all
/// under it), or when its own text does (`--api-key=…` in a service's args) or carries a
/// URL's password: a journal must not keep them, and over-masking only hides a value.
fn leaves(path: &str, value: &Value, secret: bool, out: &mut BTreeMap<String, Leaf>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let child = format!("{path}.{k}");
                leaves(&child, v, secret || is_secret(k), out);
            }
        }
        _ => {
            let text = value.to_string();
            let shown = if secret || carries_secret(path, value) {
                secret::MASK.to_string()
            } else {
                let name = path.rsplit('.').next().unwrap_or(path);
                secret::mask_value(name, value).to_string()
            };
            out.insert(path.to_string(), Leaf { text, shown });
        }
    }
}

/// A leaf's own value carries a secret: a string with one ([`secret::text_has_secret`]), an
/// array with such an element, or a service's `args` that name one (hidden whole: the value
/// after `--pass` cannot be told apart in general).
fn carries_secret(path: &str, value: &Value) -> bool {
    match value {
        Value::String(text) => secret::text_has_secret(text),
        Value::Array(items) => {
            let texts: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
            (path.ends_with(".args") && secret::args_name_secret(&texts))
                || texts.iter().any(|t| secret::text_has_secret(t))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests;
