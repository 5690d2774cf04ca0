//! The configuration schema: one table that drives validation, env overrides, the sample
//! written by `ballast init`, and the reference in `docs/CONFIG.md`. A key exists in exactly
//! one place — here — and the typed [`super::Config`] mirrors it (a test checks they agree).

use crate::limits::{MAX_LIST_ENTRIES_COUNT, MAX_SYMBOLS_COUNT};

mod artifact_keys;
pub use artifact_keys::ARTIFACT_KEYS;

/// What a key accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bool,
    /// An integer in `min..=max`.
    Int {
        min: i64,
        max: i64,
    },
    /// An exact decimal in `min..=max` (written as a TOML number or string; kept exact).
    /// `min_exclusive` makes the lower bound strict.
    Dec {
        min: &'static str,
        max: &'static str,
        min_exclusive: bool,
    },
    /// One of a fixed set of words.
    Choice(&'static [&'static str]),
    /// Free text (paths, addresses); may be empty where the doc says so.
    Text,
    /// A list of ticker symbols.
    Symbols,
    /// A list of strings (at most [`MAX_LIST_ENTRIES_COUNT`]).
    Strings,
    /// A table of string values (at most [`MAX_LIST_ENTRIES_COUNT`] entries), e.g. `env = { KEY = "v" }`.
    StringMap,
}

/// One documented key.
#[derive(Debug, Clone, Copy)]
pub struct KeySpec {
    pub section: &'static str,
    pub key: &'static str,
    pub kind: Kind,
    /// The default as a TOML literal; the sample config prints it verbatim.
    pub default: &'static str,
    pub doc: &'static str,
    /// An extra environment variable name accepted for this key (the seeds' guard names).
    pub env_alias: Option<&'static str>,
}

impl KeySpec {
    /// `BALLAST_<SECTION>__<KEY>` (a sub-table's dot as `_`: `BALLAST_FEED_BACKUP__KIND`).
    pub fn env_name(&self) -> String {
        format!(
            "BALLAST_{}__{}",
            self.section.replace('.', "_").to_ascii_uppercase(),
            self.key.to_ascii_uppercase()
        )
    }

    /// What values are allowed, for messages and the docs.
    pub fn allowed(&self) -> String {
        match self.kind {
            Kind::Bool => "true or false".into(),
            Kind::Int { min, max } => format!("an integer from {min} to {max}"),
            Kind::Dec {
                min,
                max,
                min_exclusive: false,
            } => format!("a number from {min} to {max}"),
            Kind::Dec {
                min,
                max,
                min_exclusive: true,
            } => format!("a number greater than {min}, at most {max}"),
            Kind::Choice(words) => format!("one of {}", quoted_list(words)),
            Kind::Text => "a string".into(),
            Kind::Symbols => format!("a list of up to {MAX_SYMBOLS_COUNT} ticker symbols"),
            Kind::Strings => format!("a list of up to {MAX_LIST_ENTRIES_COUNT} strings"),
            Kind::StringMap => format!("a table of up to {MAX_LIST_ENTRIES_COUNT} string values"),
        }
    }
}

pub(crate) fn quoted_list(words: &[&str]) -> String {
    words
        .iter()
        .map(|w| format!("\"{w}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One section of the file.
#[derive(Debug, Clone, Copy)]
pub struct SectionSpec {
    pub name: &'static str,
    pub doc: &'static str,
}

pub const SECTIONS: &[SectionSpec] = &[
    SectionSpec {
        name: "general",
        doc: "How this instance runs.",
    },
    SectionSpec {
        name: "engine",
        doc: "The built-in trading engine, a critical service of the supervisor.",
    },
    SectionSpec {
        name: "journal",
        doc: "The engine's crash-safe event journal and its snapshots (data_dir/journal, data_dir/state).",
    },
    SectionSpec {
        name: "feed",
        doc: "Market data feeding the engine.",
    },
    SectionSpec {
        name: "feed.backup",
        doc: "A backup market-data feed, switched to while the primary feed is stale and back when it is fresh again for recover_secs.",
    },
    SectionSpec {
        name: "universe",
        doc: "Which of the feed's symbols may be traded: an optional liquidity filter.",
    },
    SectionSpec {
        name: "strategy",
        doc: "The built-in strategy.",
    },
    SectionSpec {
        name: "guard",
        doc: "The trade guard: limits every order is checked against before it leaves.",
    },
    SectionSpec {
        name: "paper",
        doc: "The embedded paper broker (simulator), the default broker.",
    },
    SectionSpec {
        name: "broker",
        doc: "Which broker the engine trades on: the embedded paper broker (default) or Alpaca, and what a dangerous reconciliation difference does to trading.",
    },
    SectionSpec {
        name: "broker.alpaca",
        doc: "The Alpaca adapter (with [broker] kind = \"alpaca\"): base URLs, timeouts, retries, the client-side rate limit, polling and reconciliation. Keys come from APCA_API_KEY_ID / APCA_API_SECRET_KEY or secrets_file, never from this file.",
    },
    SectionSpec {
        name: "risk",
        doc: "Portfolio-level risk: auto-trim of total exposure.",
    },
    SectionSpec {
        name: "api",
        doc: "The HTTP API and dashboard.",
    },
    SectionSpec {
        name: "health",
        doc: "The health monitor and the safety policy: thresholds of the built-in checks, check intervals, policy hysteresis.",
    },
    SectionSpec {
        name: "alerts",
        doc: "Alerts: notifications of issues, policy changes, the kill switch and a silent bot, grouped, deduplicated, retried and journaled (journal/ops) until each [[alerts.sinks]] has them; and the dead-man's switch.",
    },
    SectionSpec {
        name: "heal",
        doc: "Self-healing: the startup self-heal and the healing operator of the supervisor.",
    },
    SectionSpec {
        name: "chaos",
        doc: "Chaos modes (docs/CHAOS.md): faults a paper instance injects on purpose at its seams, to show that it heals or halts. CHAOS_MODE (comma-separated) adds modes to these. Refused in live mode, always.",
    },
];

const fn int(min: i64, max: i64) -> Kind {
    Kind::Int { min, max }
}

const fn dec(min: &'static str, max: &'static str) -> Kind {
    Kind::Dec {
        min,
        max,
        min_exclusive: false,
    }
}

const fn dec_pos(max: &'static str) -> Kind {
    Kind::Dec {
        min: "0",
        max,
        min_exclusive: true,
    }
}

macro_rules! keys {
    ($( [$section:literal] $key:literal : $kind:expr, $default:literal, $env:expr, $doc:literal; )*) => {
        pub const KEYS: &[KeySpec] = &[
            $( KeySpec { section: $section, key: $key, kind: $kind, default: $default, doc: $doc, env_alias: $env }, )*
        ];
    };
}

keys! {
    ["general"] "mode": Kind::Choice(&["paper", "live"]), "\"paper\"", None,
        "Trading mode. \"live\" also needs --live on the command line, broker credentials and a clean startup reconciliation.";
    ["general"] "data_dir": Kind::Text, "\"./ballast-data\"", None,
        "Data directory (journal, state, quarantine, logs, run). --data-dir and BALLAST_HOME take precedence.";

    ["engine"] "enabled": Kind::Bool, "true", None,
        "Run the built-in engine. false: the supervisor runs only the [[services]] declared below.";
    ["engine"] "inbox_quarantine_max_bytes": int(4096, 1 << 30), "16777216", None,
        "Bound of each day's quarantine file of bad inbox lines (data_dir/quarantine/inbox/signals.jsonl.corrupt.<YYYYMMDD>, one entry per line: its number, a tab, the line). Lines that no longer fit are dropped from it, counted and logged; the inbox itself is left as it is.";

    ["journal"] "segment_max_bytes": int(4096, 1 << 30), "67108864", None,
        "A journal segment is closed and a new one started once it reaches this size.";
    ["journal"] "max_record_bytes": int(256, 16 << 20), "1048576", None,
        "Largest single journal record; larger appends are refused with an error.";
    ["journal"] "max_pending_bytes": int(65536, 256 << 20), "8388608", None,
        "Bound of the group-commit buffer; appenders wait when it is full.";
    ["journal"] "snapshot_every_records": int(1, 10_000_000), "10000", None,
        "The engine writes a state snapshot after this many journal records.";
    ["journal"] "snapshot_retain": int(1, 100), "3", None,
        "How many snapshots are kept; older ones are removed once a newer one is durable.";

    ["feed"] "kind": Kind::Choice(&["replay", "synthetic", "alpaca"]), "\"replay\"", None,
        "replay: CSV OHLCV bars (then a seeded synthetic walk when the file ends); synthetic: seeded geometric Brownian motion; alpaca: Alpaca Market Data bars by REST polling (needs [broker] kind = \"alpaca\" and its keys; see [broker.alpaca] bars_timeframe, bars_poll_secs).";
    ["feed"] "replay_file": Kind::Text, "\"\"", None,
        "CSV or CSV.gz file to replay (Ticker,Date,Open,High,Low,Close,Volume,...). Empty = the bundled real data.";
    ["feed"] "symbols": Kind::Symbols, "[\"AAPL\", \"IBM\", \"MSFT\"]", None,
        "Symbols the engine trades.";
    ["feed"] "bars_per_second": int(0, 1_000_000), "10", None,
        "Replay speed; 0 = as fast as possible.";
    ["feed"] "skip_bad_rows": Kind::Bool, "false", None,
        "Skip malformed CSV rows with a counted warning instead of stopping with an error.";
    ["feed"] "seed": int(0, i64::MAX), "42", None,
        "Seed of the synthetic walk.";
    ["feed"] "synthetic_start_price": dec_pos("1000000"), "100", None,
        "Start price of synthetic symbols that have no replayed history.";
    ["feed"] "synthetic_volatility_pct": dec("0", "100"), "2", None,
        "Volatility of the synthetic walk per bar, in percent.";

    ["feed.backup"] "kind": Kind::Choice(&["none", "replay", "synthetic"]), "\"none\"", None,
        "The backup feed the engine switches to while the primary [feed] is stale: none (no backup: a stale feed is waited for), replay (CSV bars of replay_file, then the seeded walk) or synthetic (a seeded walk from [feed] synthetic_start_price, with its own seed). Its bars are journaled like the primary's, after a feed.switch record.";
    ["feed.backup"] "replay_file": Kind::Text, "\"\"", None,
        "CSV or CSV.gz file the replay backup plays (same format as [feed] replay_file). Empty = the bundled real data.";
    ["feed.backup"] "stale_secs": int(1, 86_400), "30", None,
        "The primary is stale once it delivered no bar for this long (wall clock): the engine switches to the backup, journaled and alerted.";
    ["feed.backup"] "recover_secs": int(1, 86_400), "60", None,
        "Back to the primary once it has delivered bars again without a gap of stale_secs for this long (the backup's bars meanwhile are the ones traded on).";

    ["universe"] "min_avg_dollar_volume_usd": dec("0", "1000000000000000"), "0", None,
        "A symbol is tradable only when its average close x volume over window_bars reaches this; 0 turns the filter off.";
    ["universe"] "window_bars": int(1, 100_000), "20", None,
        "Window of the liquidity filter, in bars of the symbol.";
    ["universe"] "force_eligible": Kind::Symbols, "[]", None,
        "Symbols that are always tradable, whatever their liquidity.";

    ["strategy"] "kind": Kind::Choice(&["sma_cross"]), "\"sma_cross\"", None,
        "Built-in strategy.";
    ["strategy"] "fast": int(1, 10_000), "10", None,
        "Fast SMA length in bars.";
    ["strategy"] "slow": int(2, 10_000), "30", None,
        "Slow SMA length in bars; must be greater than fast.";
    ["strategy"] "qty": dec_pos("1000000000"), "25", None,
        "Quantity bought on a cross up.";
    ["strategy"] "allow_short": Kind::Bool, "false", None,
        "Long/short: a cross down also opens a short.";

    ["guard"] "max_position_notional_usd": dec_pos("1000000000000"), "10000", Some("MAX_POSITION_SIZE_USD"),
        "Largest position notional per symbol.";
    ["guard"] "max_notional_per_order_usd": dec_pos("1000000000000"), "5000", Some("MAX_NOTIONAL_PER_ORDER"),
        "Largest notional of a single order; must not exceed max_position_notional_usd.";
    ["guard"] "max_portfolio_exposure_pct": dec_pos("1000"), "25", Some("MAX_PORTFOLIO_EXPOSURE_PCT"),
        "Largest gross exposure as a percentage of equity; must not exceed risk.max_total_at_risk_pct.";
    ["guard"] "max_concentration_per_symbol_pct": dec_pos("100"), "10", Some("MAX_CONCENTRATION_PER_SYMBOL_PCT"),
        "Largest share of equity in one symbol, in percent.";
    ["guard"] "max_price_deviation_pct": dec_pos("100"), "10", Some("MAX_PRICE_DEVIATION_PCT"),
        "Fat-finger band: a limit price further than this from the last trade is rejected.";
    ["guard"] "min_cooldown_minutes": int(0, 10_080), "0", Some("MIN_COOLDOWN_MINUTES"),
        "Minimum time between a trade in a symbol and new exposure in it (exits are never held back).";
    ["guard"] "min_cooldown_bars": int(0, 100_000), "3", None,
        "New exposure in a symbol waits this many of its bars after its last trade, whatever the bar length (exits are never held back); 0 turns it off.";
    ["guard"] "max_open_orders": int(1, 100_000), "20", None,
        "Largest number of orders open at once.";
    ["guard"] "max_orders_per_second": int(1, 10_000), "5", None,
        "Order submit rate limit per second.";
    ["guard"] "max_orders_per_minute": int(1, 600_000), "60", None,
        "Order submit rate limit per minute; must be at least max_orders_per_second.";
    ["guard"] "allow_direction_flip": Kind::Bool, "false", None,
        "Allow one order to take a position from long to short (or back) in one step.";
    ["guard"] "duplicate_window_secs": int(0, 86_400), "60", None,
        "An identical order (symbol, side, quantity, price) within this window is a duplicate.";
    ["guard"] "daily_loss_limit_pct": dec_pos("100"), "5", None,
        "Trading stops for the day once the day's loss reaches this share of start-of-day equity.";
    ["guard"] "max_drawdown_pct": dec_pos("100"), "20", None,
        "Trading stops once equity falls this far below its high-water mark.";
    ["guard"] "stop_loss_streak": int(1, 1000), "3", None,
        "This many losing exits within stop_loss_window_minutes start a cooldown.";
    ["guard"] "stop_loss_window_minutes": int(1, 525_600), "1440", None,
        "Window of the stop-loss streak.";
    ["guard"] "stop_loss_cooldown_minutes": int(1, 525_600), "1440", None,
        "Length of the cooldown after a stop-loss streak.";

    ["paper"] "starting_cash_usd": dec_pos("1000000000000"), "100000", None,
        "Cash the paper account starts with.";
    ["paper"] "slippage_bps": dec("0", "1000"), "5", None,
        "Market orders fill at the next bar's open plus (buy) or minus (sell) this many basis points.";
    ["paper"] "fee_bps": dec("0", "1000"), "1", None,
        "Fee per fill in basis points of its notional.";
    ["paper"] "participation": dec_pos("1"), "0.1", None,
        "Largest fraction of a bar's volume one order can take; the rest fills on later bars.";
    ["paper"] "latency_ms": int(0, 60_000), "0", None,
        "Simulated order latency: an order can fill only on a bar at least this long after it was sent (and never on the bar it was sent on).";

    ["broker"] "kind": Kind::Choice(&["paper", "alpaca"]), "\"paper\"", None,
        "The venue: paper (the embedded simulator, fills with each bar) or alpaca (orders at Alpaca over its REST API, fills by polling, reconciled at the start and every [broker.alpaca] reconcile_interval_secs).";
    ["broker"] "on_dangerous": Kind::Choice(&["halted", "reducing"]), "\"halted\"", None,
        "What trading becomes while reconciliation has a dangerous difference open (a quantity mismatch, an order or position Ballast does not own): halted (no order) or reducing (only orders that reduce a position). Either way it is CRITICAL and a live start is refused.";

    ["broker.alpaca"] "paper_url": Kind::Text, "\"https://paper-api.alpaca.markets\"", None,
        "Trading API base URL in paper mode (an http URL only for a loopback host: the fake of `ballast dev fake-alpaca`).";
    ["broker.alpaca"] "live_url": Kind::Text, "\"https://api.alpaca.markets\"", None,
        "Trading API base URL in live mode (an http URL only for a loopback host). A paper key pointed here, or a live key at paper_url, is refused by name.";
    ["broker.alpaca"] "data_url": Kind::Text, "\"https://data.alpaca.markets\"", None,
        "Market Data API base URL ([feed] kind = \"alpaca\" bars).";
    ["broker.alpaca"] "secrets_file": Kind::Text, "\"\"", None,
        "A TOML file readable by its owner only (mode 0600) with a [paper] and/or [live] table, each with key_id and secret_key (the mode's table is used); empty = the keys come from APCA_API_KEY_ID and APCA_API_SECRET_KEY. Never logged, journaled or shown.";
    ["broker.alpaca"] "connect_timeout_ms": int(100, 60_000), "3000", None,
        "Timeout of a connection to Alpaca.";
    ["broker.alpaca"] "request_timeout_ms": int(100, 120_000), "10000", None,
        "Timeout of a whole request (at least connect_timeout_ms). A submit that times out is settled by a lookup of its client_order_id, never sent blind again.";
    ["broker.alpaca"] "call_deadline_ms": int(1_000, 300_000), "15000", None,
        "The longest one call to Alpaca takes across its tries, backoffs and rate-budget waits (at least request_timeout_ms): the engine's loop is never held longer by one call. A retry or a wait that would pass it is not made; a submit that reaches it unanswered is unknown and settled by a lookup.";
    ["broker.alpaca"] "max_retries": int(0, 10), "3", None,
        "Retries of an idempotent call after a transient error (jittered exponential backoff); a submit is never retried blind.";
    ["broker.alpaca"] "rate_limit_per_min": int(1, 199), "180", None,
        "Client-side request budget per minute, below Alpaca's 200; X-RateLimit-* and Retry-After are honoured too, and submits and cancels go before polling when the budget is low.";
    ["broker.alpaca"] "poll_interval_ms": int(100, 600_000), "1000", None,
        "How often the engine asks for the orders changed since its cursor (fills and terminal orders are journaled from them). A poll takes about 2 requests, a reconciliation 5 and an Alpaca feed 1 per symbol every bars_poll_secs: together they must fit in three quarters of rate_limit_per_min (the rest is kept for orders, cancels and lookups).";
    ["broker.alpaca"] "reconcile_interval_secs": int(5, 86_400), "60", None,
        "How often a full reconciliation runs (account, positions, open orders, changed orders); one also runs at every start.";
    ["broker.alpaca"] "grace_secs": int(0, 3_600), "5", None,
        "Orders the venue changed less than this long ago are not judged by reconciliation yet.";
    ["broker.alpaca"] "max_lookups": int(1, 100), "10", None,
        "Targeted lookups by client_order_id per reconciliation cycle, at most (the rest wait for the next cycle).";
    ["broker.alpaca"] "page_size": int(1, 500), "100", None,
        "Orders asked for per page when polling (at most 500, Alpaca's limit); pages per poll are bounded, the rest is read at the next poll.";
    ["broker.alpaca"] "bars_timeframe": Kind::Choice(&["1Min"]), "\"1Min\"", None,
        "Bar timeframe of [feed] kind = \"alpaca\" (one-minute bars, the only one this build reads).";
    ["broker.alpaca"] "bars_poll_secs": int(1, 3_600), "60", None,
        "How often [feed] kind = \"alpaca\" asks for the bars after the last one journaled; a failing fetch makes the feed stale, it never invents bars.";

    ["risk"] "max_total_at_risk_pct": dec_pos("1000"), "25", None,
        "Auto-trim reduces positions whenever gross exposure exceeds this share of equity.";
    ["risk"] "max_trim_failures_before_alert": int(1, 100), "3", None,
        "Consecutive failed trims before a CRITICAL alert.";

    ["api"] "bind": Kind::Text, "\"127.0.0.1\"", None,
        "Address the HTTP API and dashboard listen on. A non-loopback address needs allow_remote = true.";
    ["api"] "port": int(0, 65_535), "7878", None,
        "HTTP port; when taken, the next 3 ports are tried (the port bound is logged, shown by `ballast status` and written to run/api.addr). 0 takes any free port.";
    ["api"] "allow_remote": Kind::Bool, "false", None,
        "Allow binding a non-loopback address; it then also needs an operator token of your own in token_file (`ballast run` refuses to start otherwise, exit 78).";
    ["api"] "metrics_port": int(0, 65_535), "0", None,
        "Port of a separate Prometheus /metrics listener on the same address (0 = /metrics on the API's port); when taken, the next 3 ports are tried.";
    ["api"] "token_file": Kind::Text, "\"\"", None,
        "File (mode 0600, at least 32 characters) holding the operator's bearer token (control and reads). Empty: a token is generated at first start into run/api.token. A relative path is against the configuration file's directory. Restart to change.";
    ["api"] "viewer_token_file": Kind::Text, "\"\"", None,
        "File (mode 0600, at least 32 characters) holding the read-only viewer's bearer token. Empty: one is generated at first start into run/api.viewer.token. Restart to change.";
    ["api"] "signals_max_backlog": int(1, 10_000_000), "10000", None,
        "Signals accepted by POST /v1/signals (durable in data_dir/journal/signals/) and not yet taken by the engine, at most. At the bound POST /v1/signals answers 429 with Retry-After and journals nothing (never a silent loss): the engine is down or slower than the producers.";

    ["health"] "cycle_ms": int(100, 60_000), "1000", None,
        "How often the health report and the safety policy are evaluated (each check runs on its own interval).";
    ["health"] "critical_interval_secs": int(1, 3600), "5", None,
        "Interval of the checks of critical subsystems.";
    ["health"] "interval_secs": int(1, 3600), "30", None,
        "Interval of the checks of supportive subsystems.";
    ["health"] "hysteresis_secs": int(0, 86_400), "300", None,
        "The safety policy steps down only after the lower level has held this long (escalation is immediate).";
    ["health"] "feed_degraded_secs": int(1, 86_400), "300", None,
        "Data feed: no bar for this long is DEGRADED (stops new trades).";
    ["health"] "feed_critical_secs": int(1, 604_800), "3600", None,
        "Data feed: no bar for this long is CRITICAL (defensive exit).";
    ["health"] "engine_degraded_secs": int(1, 86_400), "15", None,
        "Engine loop: a heartbeat older than this is DEGRADED.";
    ["health"] "engine_critical_secs": int(1, 86_400), "60", None,
        "Engine loop: a heartbeat older than this is CRITICAL.";
    ["health"] "error_rate_degraded_pct": int(1, 100), "20", None,
        "Broker: this share of sends with an error or unknown outcome is DEGRADED.";
    ["health"] "error_rate_critical_pct": int(1, 100), "50", None,
        "Broker: this share of sends with an error or unknown outcome is CRITICAL.";
    ["health"] "cpu_degraded_pct": int(1, 100), "90", None,
        "Resources: machine CPU use at or above this is DEGRADED, at 98 % CRITICAL; 100 only reports the figure.";
    ["health"] "memory_degraded_pct": int(1, 100), "90", None,
        "Resources: machine memory use at or above this is DEGRADED, at 97 % CRITICAL; 100 only reports the figure.";
    ["health"] "disk_free_min_pct": int(0, 100), "10", None,
        "Resources: less free space than this on the data directory's file system is DEGRADED (a third of it is CRITICAL); 0 only reports the figure.";
    ["health"] "resource_window_secs": int(0, 3600), "60", None,
        "Resources: CPU, memory, free disk and file descriptors count only after they stay past their threshold this long, so a burst of load beside Ballast (a build) raises no issue and moves no policy; free disk below a third of its minimum counts at once; 0: at once.";
    ["health"] "recommendation_ttl_secs": int(10, 604_800), "900", None,
        "A recommendation waiting for an operator's approval expires after this.";
    ["health"] "history": int(1, 100_000), "500", None,
        "Health reports kept for the dashboard's timeline (state/health.json carries the last 100).";

    ["alerts"] "group_wait_secs": int(0, 3600), "10", None,
        "A group's first notification waits this long, so alerts that come together are sent together (and one that clears within it is never sent).";
    ["alerts"] "group_interval_secs": int(0, 86_400), "60", None,
        "A group's changes (new or resolved alerts) wait this long after its last notification; a flapping condition is rate-limited by it.";
    ["alerts"] "repeat_interval_secs": int(1, 604_800), "3600", None,
        "An unchanged firing group is sent again this often.";
    ["alerts"] "escalate_after": int(0, 1000), "3", None,
        "After this many repeats without resolution a group's notifications go one severity up (and so to the sinks of that severity); 0: never.";
    ["alerts"] "bot_silent_after_secs": int(0, 86_400), "120", None,
        "\"bot silent\" (critical) when the engine's heartbeat is older than this; 0: off.";
    ["alerts"] "retry_base_ms": int(10, 600_000), "500", None,
        "First retry delay of a failed delivery; doubled each attempt, jittered (half of it random), capped at retry_max_ms.";
    ["alerts"] "retry_max_ms": int(10, 3_600_000), "60000", None,
        "Largest retry delay; at least retry_base_ms.";
    ["alerts"] "retry_max_attempts": int(1, 100), "8", None,
        "Attempts per notification and sink; after the last one alert.failed is journaled with gave_up and the alert waits for its group's next repeat.";
    ["alerts"] "timeout_ms": int(100, 60_000), "5000", None,
        "Timeout of one delivery request (and of one heartbeat ping).";
    ["alerts"] "heartbeat_url": Kind::Text, "\"\"", None,
        "Dead-man's switch: an http(s) URL pinged (GET) every heartbeat_every_secs while Ballast runs and its policy is not EMERGENCY_SHUTDOWN, so an external monitor notices when Ballast itself is dead; empty = off.";
    ["alerts"] "heartbeat_every_secs": int(1, 86_400), "60", None,
        "Interval of the dead-man's switch pings.";

    ["heal"] "sweep_secs": int(1, 3600), "10", None,
        "Period of the healing operator's sweep over every component (changes the kernel reports — a deleted directory, a child's exit — are handled at once).";

    ["chaos"] "modes": Kind::Strings, "[]", Some(crate::chaos::ENV),
        "Chaos modes on (paper only; docs/CHAOS.md): broker_down, invalid_creds, slow_broker, schema_drift, rate_limited, partial_fills, engine_crash, supervisor_crash, state_corrupt, journal_torn_tail, disk_full, stale_feed, clock_skew, port_conflict, lost_reply. CHAOS_MODE's comma-separated names are added to these (the union). Any mode with mode = \"live\" or --live is refused.";
    ["chaos"] "seed": int(0, 4_294_967_295), "0", None,
        "Seeds every chaos schedule (which call, record, write or clock read a fault fires at): the same seed, the same faults.";
    ["chaos"] "every": int(1, 1000), "3", None,
        "slow_broker, rate_limited, schema_drift, partial_fills and lost_reply hit about one broker call (send, fill) in this many, seeded; 1: every one.";
    ["chaos"] "outage_calls": int(0, 1_000_000), "20", None,
        "broker_down: the broker answers no call for this many calls from a seeded one of its first four, then answers again; 0: for the whole run.";
    ["chaos"] "slow_ms": int(1, 60_000), "1500", None,
        "slow_broker: how late a slowed broker call answers.";
    ["chaos"] "crash_after_records": int(1, 1_000_000), "40", None,
        "engine_crash: the engine aborts right after the journal record of a seeded seq from 1 to this (once per data directory: the restarted engine is past it).";
    ["chaos"] "disk_full_after_writes": int(1, 1_000_000), "200", None,
        "disk_full: the engine's storage refuses every write with ENOSPC after this many writes.";
    ["chaos"] "stale_after_bars": int(1, 1_000_000), "10", None,
        "stale_feed: the primary feed delivers nothing from this bar number on.";
    ["chaos"] "skew_secs": int(1, 86_400), "300", None,
        "clock_skew: how far the engine's clock jumps forward (at a seeded read) before it jumps back.";
    ["chaos"] "supervisor_crash_after_secs": int(1, 86_400), "30", None,
        "supervisor_crash: the supervisor aborts this long after its start (whoever runs it — systemd, the chaos runner — starts it again).";
}

/// The spec of `[section] key`, if it exists.
pub fn find(section: &str, key: &str) -> Option<&'static KeySpec> {
    KEYS.iter().find(|k| k.section == section && k.key == key)
}

/// The spec of the key an environment override names (`feed_backup`, `kind`: a sub-table's
/// dot spelled `_`).
pub fn find_env(section: &str, key: &str) -> Option<&'static KeySpec> {
    KEYS.iter()
        .find(|k| k.section.replace('.', "_") == section && k.key == key)
}

pub fn section_exists(name: &str) -> bool {
    SECTIONS.iter().any(|s| s.name == name)
}

/// The keys of one `[[services]]` table (environment overrides do not reach services).
pub const SERVICE_KEYS: &[KeySpec] = &[
    KeySpec {
        section: "services",
        key: "name",
        kind: Kind::Text,
        default: "\"\"",
        doc: "Required. Unique name: a-z, 0-9, '-' and '_' (\"engine\" is reserved).",
        env_alias: None,
    },
    KeySpec {
        section: "services",
        key: "command",
        kind: Kind::Text,
        default: "\"\"",
        doc: "Required. Executable to run (a path, or a name looked up in PATH).",
        env_alias: None,
    },
    KeySpec {
        section: "services",
        key: "args",
        kind: Kind::Strings,
        default: "[]",
        doc: "Arguments.",
        env_alias: None,
    },
    KeySpec {
        section: "services",
        key: "env",
        kind: Kind::StringMap,
        default: "{}",
        doc: "Extra environment variables.",
        env_alias: None,
    },
    KeySpec {
        section: "services",
        key: "cwd",
        kind: Kind::Text,
        default: "\"\"",
        doc: "Working directory; a relative one is relative to the configuration file's directory (resolved once, when the configuration is loaded); empty = the configuration file's directory.",
        env_alias: None,
    },
    KeySpec {
        section: "services",
        key: "kind",
        kind: Kind::Choice(&["critical", "supportive"]),
        default: "\"supportive\"",
        doc: "A critical service FAILED makes the whole system FAILED; a supportive one degrades it.",
        env_alias: None,
    },
    KeySpec {
        section: "services",
        key: "restart",
        kind: Kind::Choice(&["always", "on-failure", "never"]),
        default: "\"on-failure\"",
        doc: "When to restart after an exit the supervisor did not ask for.",
        env_alias: None,
    },
    KeySpec {
        section: "services",
        key: "depends_on",
        kind: Kind::Strings,
        default: "[]",
        doc: "Services started before this one (and stopped after it).",
        env_alias: None,
    },
    KeySpec {
        section: "services",
        key: "readiness",
        kind: Kind::Choice(&["min-uptime", "notify", "http", "heartbeat"]),
        default: "\"min-uptime\"",
        doc: "How readiness is known: running min_uptime_secs, sd_notify READY=1, an HTTP probe, or a fresh heartbeat file.",
        env_alias: None,
    },
    KeySpec {
        section: "services",
        key: "readiness_url",
        kind: Kind::Text,
        default: "\"\"",
        doc: "HTTP probe URL (readiness = \"http\"); 2xx = ready.",
        env_alias: None,
    },
    KeySpec {
        section: "services",
        key: "min_uptime_secs",
        kind: Kind::Int { min: 0, max: 3600 },
        default: "5",
        doc: "Uptime after which a min-uptime service is ready.",
        env_alias: None,
    },
    KeySpec {
        section: "services",
        key: "heartbeat_file",
        kind: Kind::Text,
        default: "\"\"",
        doc: "A file the service touches; liveness and heartbeat readiness use it.",
        env_alias: None,
    },
    KeySpec {
        section: "services",
        key: "heartbeat_max_age_secs",
        kind: Kind::Int {
            min: 0,
            max: 86_400,
        },
        default: "0",
        doc: "A heartbeat older than this is a liveness failure (the service is restarted); 0 = not checked.",
        env_alias: None,
    },
    KeySpec {
        section: "services",
        key: "watchdog_secs",
        kind: Kind::Int {
            min: 0,
            max: 86_400,
        },
        default: "0",
        doc: "sd_notify WATCHDOG=1 must arrive at least this often; 0 = not checked.",
        env_alias: None,
    },
    KeySpec {
        section: "services",
        key: "stop_signal",
        kind: Kind::Choice(&[
            "SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP", "SIGUSR1", "SIGUSR2",
        ]),
        default: "\"SIGTERM\"",
        doc: "Signal sent to the service's process group to stop it.",
        env_alias: None,
    },
    KeySpec {
        section: "services",
        key: "stop_timeout_secs",
        kind: Kind::Int { min: 0, max: 3600 },
        default: "10",
        doc: "After this long the process group is killed (SIGKILL).",
        env_alias: None,
    },
    KeySpec {
        section: "services",
        key: "max_restarts",
        kind: Kind::Int {
            min: 0,
            max: 10_000,
        },
        default: "5",
        doc: "More unrequested exits than this within restart_window_secs: FAILED until reset.",
        env_alias: None,
    },
    KeySpec {
        section: "services",
        key: "restart_delay_ms",
        kind: Kind::Int {
            min: 0,
            max: 60_000,
        },
        default: "1000",
        doc: "First restart delay; it doubles on each restart up to 60 s (with 10 % jitter) and starts over after 60 s of uptime.",
        env_alias: None,
    },
    KeySpec {
        section: "services",
        key: "restart_window_secs",
        kind: Kind::Int {
            min: 1,
            max: 604_800,
        },
        default: "600",
        doc: "The failure budget's sliding window.",
        env_alias: None,
    },
    KeySpec {
        section: "services",
        key: "on_failure",
        kind: Kind::Choice(&["restart", "disable"]),
        default: "\"restart\"",
        doc: "restart: a FAILED service waits for `ballast reset` (or an approved restart); disable: a FAILED one is disabled at once, with an alert, until `ballast enable` (supportive services only).",
        env_alias: None,
    },
    KeySpec {
        section: "services",
        key: "fallback",
        kind: Kind::Text,
        default: "\"\"",
        doc: "Another declared supportive service that stands by (STANDBY, not started) and is started while this one is FAILED or disabled, then stopped once this one runs again for its min_uptime_secs; empty = none.",
        env_alias: None,
    },
];

const fn artifact_key(
    key: &'static str,
    kind: Kind,
    default: &'static str,
    doc: &'static str,
) -> KeySpec {
    KeySpec {
        section: "artifacts",
        key,
        kind,
        default,
        doc,
        env_alias: None,
    }
}

const fn check_key(
    key: &'static str,
    kind: Kind,
    default: &'static str,
    doc: &'static str,
) -> KeySpec {
    KeySpec {
        section: "checks",
        key,
        kind,
        default,
        doc,
        env_alias: None,
    }
}

/// The keys of one `[[checks]]` table: a health check of the user's own (SPEC §5).
pub const CHECK_KEYS: &[KeySpec] = &[
    check_key(
        "name",
        Kind::Text,
        "\"\"",
        "Required. The subsystem this check reports as: a-z, 0-9, '-' and '_'.",
    ),
    check_key(
        "kind",
        Kind::Choice(&[
            "file_age",
            "files_present",
            "http",
            "tcp",
            "process",
            "command",
        ]),
        "\"file_age\"",
        "file_age: a file's age against healthy/degraded maxima; files_present: how many of paths exist (all: healthy, at least degraded_min: degraded); http: GET url answers 2xx; tcp: address accepts a connection; process: a process whose command line contains pattern runs; command: exit 0 healthy, 1 degraded, other critical.",
    ),
    check_key(
        "critical",
        Kind::Bool,
        "false",
        "A critical check decides the overall status; a supportive one only degrades it.",
    ),
    check_key(
        "impacts_trading",
        Kind::Bool,
        "false",
        "Its trouble moves the safety policy (DEGRADED: no new trades; CRITICAL: defensive exit).",
    ),
    check_key(
        "depends_on",
        Kind::Strings,
        "[]",
        "Subsystems it needs (built-in names, services as service:<name>, other checks): an issue there lists this one as affected.",
    ),
    check_key(
        "interval_secs",
        Kind::Int {
            min: 0,
            max: 86_400,
        },
        "0",
        "How often it runs; 0 = [health] critical_interval_secs or interval_secs.",
    ),
    check_key(
        "timeout_ms",
        Kind::Int {
            min: 10,
            max: 60_000,
        },
        "2000",
        "http, tcp, command: longer than this is CRITICAL.",
    ),
    check_key("path", Kind::Text, "\"\"", "file_age: the file."),
    check_key(
        "healthy_max_age_secs",
        Kind::Int {
            min: 1,
            max: 604_800,
        },
        "300",
        "file_age: younger than this is healthy.",
    ),
    check_key(
        "degraded_max_age_secs",
        Kind::Int {
            min: 1,
            max: 604_800,
        },
        "3600",
        "file_age: younger than this is degraded; older (or missing) is critical.",
    ),
    check_key("paths", Kind::Strings, "[]", "files_present: the files."),
    check_key(
        "degraded_min",
        Kind::Int { min: 0, max: 256 },
        "1",
        "files_present: at least this many present is degraded; fewer is critical.",
    ),
    check_key("url", Kind::Text, "\"\"", "http: a plain http:// URL."),
    check_key("address", Kind::Text, "\"\"", "tcp: host:port."),
    check_key(
        "pattern",
        Kind::Text,
        "\"\"",
        "process: text the process's command line contains.",
    ),
    check_key(
        "command",
        Kind::Text,
        "\"\"",
        "command: the executable; exit 0 healthy, 1 degraded, other critical; the first line of its output is the detail (output beyond 64 KiB is not read and can make it time out).",
    ),
    check_key("args", Kind::Strings, "[]", "command: its arguments."),
    check_key(
        "on_failure",
        Kind::Choice(&["restart", "disable"]),
        "\"restart\"",
        "restart: a CRITICAL or FAILED result is reported and recovered as usual; disable: it disables the check at once, with an alert, until `ballast enable` (supportive checks only).",
    ),
];
