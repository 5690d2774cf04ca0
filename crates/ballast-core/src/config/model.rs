//! The typed configuration. Built only by [`super::load`] from values the schema has already
//! validated, so every field here holds a checked value.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::Symbol;
use crate::supervisor::RestartPolicy;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub general: General,
    pub engine: Engine,
    pub journal: Journal,
    pub feed: Feed,
    pub universe: Universe,
    pub strategy: Strategy,
    pub guard: Guard,
    pub paper: Paper,
    /// `[broker]` (and `[broker.alpaca]`).
    pub broker: Broker,
    pub risk: Risk,
    pub api: Api,
    pub health: Health,
    pub heal: Heal,
    pub alerts: Alerts,
    /// `[[services]]`, in the order declared.
    pub services: Vec<ServiceConfig>,
    /// `[[artifacts]]`: files of user services the healer keeps healthy.
    pub artifacts: Vec<ArtifactConfig>,
    /// `[[checks]]`: the user's own health checks.
    pub checks: Vec<CheckConfig>,
    /// `[chaos]`: faults a paper instance injects on purpose (`CHAOS_MODE` merged into
    /// `modes`). Absent from a configuration written before it existed: no chaos.
    #[serde(default)]
    pub chaos: Chaos,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Health {
    pub cycle_ms: u32,
    pub critical_interval_secs: u32,
    pub interval_secs: u32,
    pub hysteresis_secs: u32,
    pub feed_degraded_secs: u32,
    pub feed_critical_secs: u32,
    pub engine_degraded_secs: u32,
    pub engine_critical_secs: u32,
    pub error_rate_degraded_pct: u32,
    pub error_rate_critical_pct: u32,
    pub cpu_degraded_pct: u32,
    pub memory_degraded_pct: u32,
    pub disk_free_min_pct: u32,
    pub resource_window_secs: u32,
    pub recommendation_ttl_secs: u32,
    pub history: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    FileAge,
    FilesPresent,
    Http,
    Tcp,
    Process,
    Command,
}

/// One `[[checks]]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckConfig {
    pub name: String,
    pub kind: CheckKind,
    pub critical: bool,
    pub impacts_trading: bool,
    pub depends_on: Vec<String>,
    pub interval_secs: u32,
    pub timeout_ms: u32,
    pub path: String,
    pub healthy_max_age_secs: u32,
    pub degraded_max_age_secs: u32,
    pub paths: Vec<String>,
    pub degraded_min: u32,
    pub url: String,
    pub address: String,
    pub pattern: String,
    pub command: String,
    pub args: Vec<String>,
    /// `disable`: a CRITICAL or FAILED result disables the check (supportive checks only).
    pub on_failure: OnFailure,
}

/// What happens to a supportive service that becomes FAILED, or a check that is CRITICAL or
/// FAILED: the usual recovery, or it is disabled (an alert; `ballast enable` brings it back).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnFailure {
    #[default]
    Restart,
    Disable,
}

/// `[alerts]` and its `[[alerts.sinks]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alerts {
    pub group_wait_secs: u32,
    pub group_interval_secs: u32,
    pub repeat_interval_secs: u32,
    pub escalate_after: u32,
    pub bot_silent_after_secs: u32,
    pub retry_base_ms: u64,
    pub retry_max_ms: u64,
    pub retry_max_attempts: u32,
    pub timeout_ms: u32,
    pub heartbeat_url: String,
    pub heartbeat_every_secs: u32,
    #[serde(default)]
    pub sinks: Vec<SinkConfig>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SinkKind {
    Webhook,
    Slack,
    Telegram,
    Log,
}

impl SinkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SinkKind::Webhook => "webhook",
            SinkKind::Slack => "slack",
            SinkKind::Telegram => "telegram",
            SinkKind::Log => "log",
        }
    }
}

/// One `[[alerts.sinks]]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkConfig {
    /// Unique; empty: its kind.
    pub name: String,
    pub kind: SinkKind,
    pub url: String,
    pub base_url: String,
    pub chat_id: String,
    /// The environment variable holding the Telegram bot token (never the token itself).
    pub token_env: String,
    /// A file holding the Telegram bot token.
    pub token_file: String,
    pub min_severity: crate::alerts::Severity,
}

impl SinkConfig {
    /// The name alerts are routed and journaled by.
    pub fn id(&self) -> &str {
        if self.name.is_empty() {
            self.kind.as_str()
        } else {
            &self.name
        }
    }
}

/// `[chaos]` (SPEC §10; see [`crate::chaos`]): the modes and the knobs of their schedules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chaos {
    /// Mode names (validated against [`crate::chaos::ChaosMode`]); `CHAOS_MODE`'s are merged in.
    pub modes: Vec<String>,
    pub seed: u64,
    pub every: u32,
    pub outage_calls: u32,
    pub slow_ms: u32,
    pub crash_after_records: u32,
    pub disk_full_after_writes: u32,
    pub stale_after_bars: u32,
    pub skew_secs: u32,
    pub supervisor_crash_after_secs: u32,
}

impl Default for Chaos {
    /// The schema's defaults (a test checks they agree).
    fn default() -> Self {
        Chaos {
            modes: Vec::new(),
            seed: 0,
            every: 3,
            outage_calls: 20,
            slow_ms: 1500,
            crash_after_records: 40,
            disk_full_after_writes: 200,
            stale_after_bars: 10,
            skew_secs: 300,
            supervisor_crash_after_secs: 30,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Heal {
    pub sweep_secs: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArtifactKind {
    Dir,
    Json,
    Jsonl,
    Lock,
    Heartbeat,
    /// A directory whose contents the user declares disposable: `clear_cache` may empty it.
    Cache,
}

/// One declared artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArtifactConfig {
    pub service: String,
    pub kind: ArtifactKind,
    pub path: String,
    pub default: String,
    pub required_keys: Vec<String>,
    pub max_age_secs: u32,
    /// cache: cleared without an operator's approval when `clear_cache` is recommended.
    pub auto_clear: bool,
    /// cache: entries removed at most by one clear.
    pub max_clear_entries: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Engine {
    pub enabled: bool,
    /// Bytes, at most, of each day's quarantine file of bad inbox lines.
    pub inbox_quarantine_max_bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceKind {
    Critical,
    Supportive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Readiness {
    MinUptime,
    Notify,
    Http,
    Heartbeat,
}

/// One user service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    pub name: String,
    pub command: String,
    pub args: Vec<String>,
    pub env: std::collections::BTreeMap<String, String>,
    pub cwd: String,
    pub kind: ServiceKind,
    pub restart: RestartPolicy,
    pub depends_on: Vec<String>,
    pub readiness: Readiness,
    pub readiness_url: String,
    pub min_uptime_secs: u32,
    pub heartbeat_file: String,
    pub heartbeat_max_age_secs: u32,
    pub watchdog_secs: u32,
    pub stop_signal: String,
    pub stop_timeout_secs: u32,
    pub max_restarts: u32,
    pub restart_delay_ms: u64,
    pub restart_window_secs: u64,
    /// `disable`: FAILED (its failure budget spent) disables the service (supportive only).
    pub on_failure: OnFailure,
    /// A declared service started when this one is FAILED or disabled, stopped again once
    /// this one runs for its `min_uptime_secs`; empty: none.
    pub fallback: String,
}

impl ServiceConfig {
    /// Where a path declared for this service is — its artifacts, its heartbeat file: an
    /// absolute path as it is, a relative one under the service's `cwd`. The one place that
    /// decides it, for the healer's inspection and action, the health checks and the
    /// supervisor alike (`cwd` is absolute once the configuration is loaded:
    /// [`super::Config::resolve_cwds`]).
    pub fn declared_path(&self, path: &str) -> std::path::PathBuf {
        let p = std::path::Path::new(path);
        if p.is_absolute() || self.cwd.is_empty() {
            return p.to_path_buf();
        }
        normal(&std::path::Path::new(&self.cwd).join(p))
    }

    /// The supervisor's restart rules for this service.
    pub fn restart_rules(&self) -> crate::supervisor::RestartRules {
        crate::supervisor::RestartRules {
            policy: self.restart,
            initial_delay_ms: self.restart_delay_ms,
            max_delay_ms: 60_000,
            jitter_pct: 10,
            stable_after_ms: 60_000,
            max_restarts: self.max_restarts,
            restart_window_ms: self.restart_window_secs.saturating_mul(1000),
            seed: crate::hash::fnv1a(self.name.bytes()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Paper,
    Live,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Paper => "paper",
            Mode::Live => "live",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct General {
    pub mode: Mode,
    pub data_dir: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Journal {
    pub segment_max_bytes: u64,
    pub max_record_bytes: u64,
    pub max_pending_bytes: u64,
    pub snapshot_every_records: u64,
    pub snapshot_retain: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeedKind {
    Replay,
    Synthetic,
    /// Alpaca Market Data bars by REST polling.
    Alpaca,
}

impl FeedKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedKind::Replay => "replay",
            FeedKind::Synthetic => "synthetic",
            FeedKind::Alpaca => "alpaca",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Feed {
    pub kind: FeedKind,
    pub replay_file: String,
    pub symbols: Vec<Symbol>,
    pub bars_per_second: u32,
    pub skip_bad_rows: bool,
    pub seed: u64,
    pub synthetic_start_price: Decimal,
    pub synthetic_volatility_pct: Decimal,
    /// `[feed.backup]`.
    pub backup: FeedBackup,
}

/// `[feed.backup]`: the feed switched to while the primary is stale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedBackup {
    pub kind: BackupKind,
    pub replay_file: String,
    pub stale_secs: u32,
    pub recover_secs: u32,
}

/// What the backup feed is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackupKind {
    /// No backup: a stale primary is waited for.
    None,
    Replay,
    Synthetic,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Universe {
    pub min_avg_dollar_volume_usd: Decimal,
    pub window_bars: u32,
    pub force_eligible: Vec<Symbol>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StrategyKind {
    SmaCross,
}

impl StrategyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StrategyKind::SmaCross => "sma_cross",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Strategy {
    pub kind: StrategyKind,
    pub fast: u32,
    pub slow: u32,
    pub qty: Decimal,
    pub allow_short: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Guard {
    pub max_position_notional_usd: Decimal,
    pub max_notional_per_order_usd: Decimal,
    pub max_portfolio_exposure_pct: Decimal,
    pub max_concentration_per_symbol_pct: Decimal,
    pub max_price_deviation_pct: Decimal,
    pub min_cooldown_minutes: u32,
    pub min_cooldown_bars: u32,
    pub max_open_orders: u32,
    pub max_orders_per_second: u32,
    pub max_orders_per_minute: u32,
    pub allow_direction_flip: bool,
    pub duplicate_window_secs: u32,
    pub daily_loss_limit_pct: Decimal,
    pub max_drawdown_pct: Decimal,
    pub stop_loss_streak: u32,
    pub stop_loss_window_minutes: u32,
    pub stop_loss_cooldown_minutes: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Paper {
    pub starting_cash_usd: Decimal,
    pub slippage_bps: Decimal,
    pub fee_bps: Decimal,
    pub participation: Decimal,
    pub latency_ms: u32,
}

/// `[broker]`: the venue the engine trades on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Broker {
    pub kind: BrokerKind,
    /// What a dangerous reconciliation difference does to trading (reconciliation's latch).
    pub on_dangerous: crate::reconcile::OnDangerous,
    /// `[broker.alpaca]`.
    pub alpaca: AlpacaConfig,
}

/// Which venue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BrokerKind {
    /// The embedded simulator (fills with each bar).
    Paper,
    /// Alpaca's REST API.
    Alpaca,
}

impl BrokerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BrokerKind::Paper => "paper",
            BrokerKind::Alpaca => "alpaca",
        }
    }
}

/// `[broker.alpaca]`: the Alpaca adapter's endpoints and bounds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlpacaConfig {
    pub paper_url: String,
    pub live_url: String,
    pub data_url: String,
    pub secrets_file: String,
    pub connect_timeout_ms: u32,
    pub request_timeout_ms: u32,
    pub call_deadline_ms: u32,
    pub max_retries: u32,
    pub rate_limit_per_min: u32,
    pub poll_interval_ms: u32,
    pub reconcile_interval_secs: u32,
    pub grace_secs: u32,
    pub max_lookups: u32,
    pub page_size: u32,
    pub bars_timeframe: String,
    pub bars_poll_secs: u32,
}

impl AlpacaConfig {
    /// The trading API's base URL for `mode`.
    pub fn trading_url(&self, mode: Mode) -> &str {
        match mode {
            Mode::Paper => &self.paper_url,
            Mode::Live => &self.live_url,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Risk {
    pub max_total_at_risk_pct: Decimal,
    pub max_trim_failures_before_alert: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Api {
    pub bind: String,
    pub port: u16,
    pub allow_remote: bool,
    /// A separate `/metrics` listener's port (0: on the API's port).
    pub metrics_port: u16,
    /// The operator's token file ("" = generated into `run/api.token`).
    pub token_file: String,
    /// The viewer's token file ("" = generated into `run/api.viewer.token`).
    pub viewer_token_file: String,
    /// Signals accepted over HTTP and not yet taken by the engine, at most (then 429).
    pub signals_max_backlog: u64,
}

/// `path` without `.` components (lexically; `..` is kept).
fn normal(path: &std::path::Path) -> std::path::PathBuf {
    path.components().collect()
}

impl super::Config {
    /// Resolve every service's `cwd` once: a relative one against `config_dir` (the
    /// configuration file's directory), an empty one to `config_dir` itself — so a service,
    /// and the files declared relative to it, are in the same place whichever directory
    /// `ballast` is run from (with the built-in configuration, `config_dir` is the working
    /// directory). Pure: the caller gives the directory, absolute.
    pub fn resolve_cwds(&mut self, config_dir: &std::path::Path) {
        for s in &mut self.services {
            let cwd = std::path::Path::new(&s.cwd);
            let resolved = if s.cwd.is_empty() {
                config_dir.to_path_buf()
            } else if cwd.is_relative() {
                normal(&config_dir.join(cwd))
            } else {
                continue;
            };
            s.cwd = resolved.display().to_string();
        }
    }
}
