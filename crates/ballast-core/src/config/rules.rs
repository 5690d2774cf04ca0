//! Cross-field rules: combinations of individually valid values that cannot work together.

use std::net::IpAddr;

use super::error::{ConfigError, Origin};
use super::model::Config;

/// A key, as `(section, key)`.
pub type KeyRef = (&'static str, &'static str);

/// Check `config`; `origin(section, key)` says where a value came from. Each error comes
/// with the keys it involves (the first is the one it points at).
pub fn check(
    config: &Config,
    origin: &dyn Fn(&'static str, &'static str) -> Origin,
) -> Vec<(ConfigError, Vec<KeyRef>)> {
    let mut errors = Vec::new();
    let mut fail = |keys: &[KeyRef], message: String, help: &str| {
        let (section, key) = keys[0];
        errors.push((
            ConfigError {
                origin: origin(section, key),
                message,
                help: Some(help.to_owned()),
            },
            keys.to_vec(),
        ))
    };

    chaos(config, &mut fail);
    if config.general.data_dir.trim().is_empty() {
        fail(
            &[("general", "data_dir")],
            "[general] data_dir is empty".into(),
            "set a directory path, e.g. \"./ballast-data\"",
        );
    }
    let j = &config.journal;
    if j.max_record_bytes > j.segment_max_bytes {
        fail(
            &[
                ("journal", "max_record_bytes"),
                ("journal", "segment_max_bytes"),
            ],
            format!(
                "[journal] max_record_bytes = {} exceeds segment_max_bytes = {}",
                j.max_record_bytes, j.segment_max_bytes
            ),
            "a record must fit in one segment: lower max_record_bytes or raise segment_max_bytes",
        );
    }
    if j.max_record_bytes > j.max_pending_bytes {
        fail(
            &[
                ("journal", "max_record_bytes"),
                ("journal", "max_pending_bytes"),
            ],
            format!(
                "[journal] max_record_bytes = {} exceeds max_pending_bytes = {}",
                j.max_record_bytes, j.max_pending_bytes
            ),
            "a record must fit in the group-commit buffer: raise max_pending_bytes",
        );
    }
    if config.feed.symbols.is_empty() {
        fail(
            &[("feed", "symbols")],
            "[feed] symbols is empty".into(),
            "list at least one symbol, e.g. [\"AAPL\"]",
        );
    }
    for sym in &config.universe.force_eligible {
        if !config.feed.symbols.contains(sym) {
            fail(
                &[("universe", "force_eligible"), ("feed", "symbols")],
                format!("[universe] force_eligible lists {sym}, which is not in [feed] symbols"),
                "add it to [feed] symbols, or remove it from force_eligible",
            );
        }
    }
    let s = &config.strategy;
    if s.fast >= s.slow {
        fail(
            &[("strategy", "fast"), ("strategy", "slow")],
            format!(
                "[strategy] fast = {} must be less than slow = {}",
                s.fast, s.slow
            ),
            "the fast SMA must be shorter than the slow one",
        );
    }
    let g = &config.guard;
    if g.max_notional_per_order_usd > g.max_position_notional_usd {
        fail(
            &[
                ("guard", "max_notional_per_order_usd"),
                ("guard", "max_position_notional_usd"),
            ],
            format!(
                "[guard] max_notional_per_order_usd = {} exceeds max_position_notional_usd = {}",
                g.max_notional_per_order_usd, g.max_position_notional_usd
            ),
            "one order cannot be larger than the largest allowed position: lower it or raise the position limit",
        );
    }
    if g.max_orders_per_second > g.max_orders_per_minute {
        fail(
            &[
                ("guard", "max_orders_per_second"),
                ("guard", "max_orders_per_minute"),
            ],
            format!(
                "[guard] max_orders_per_second = {} exceeds max_orders_per_minute = {}",
                g.max_orders_per_second, g.max_orders_per_minute
            ),
            "the per-minute limit must allow at least one second's worth of orders",
        );
    }
    if g.max_portfolio_exposure_pct > config.risk.max_total_at_risk_pct {
        fail(
            &[
                ("guard", "max_portfolio_exposure_pct"),
                ("risk", "max_total_at_risk_pct"),
            ],
            format!(
                "[guard] max_portfolio_exposure_pct = {} exceeds [risk] max_total_at_risk_pct = {}",
                g.max_portfolio_exposure_pct, config.risk.max_total_at_risk_pct
            ),
            "the guard would approve orders that auto-trim then sells: keep the guard's cap at or below the trim cap",
        );
    }
    let a = &config.alerts;
    if !a.heartbeat_url.is_empty() && !super::alerts::is_http_url(&a.heartbeat_url) {
        fail(
            &[("alerts", "heartbeat_url")],
            "[alerts] heartbeat_url is not an http:// or https:// URL with a host".into(),
            "set the URL your external monitor gave you (e.g. https://hc-ping.com/<uuid>), or leave it empty to turn the dead-man's switch off",
        );
    }
    if a.retry_max_ms < a.retry_base_ms {
        fail(
            &[("alerts", "retry_max_ms"), ("alerts", "retry_base_ms")],
            format!(
                "[alerts] retry_max_ms = {} is below retry_base_ms = {}",
                a.retry_max_ms, a.retry_base_ms
            ),
            "the cap of the retry delay must be at least its first step: raise retry_max_ms",
        );
    }
    let api = &config.api;
    match api.bind.parse::<IpAddr>() {
        Err(_) => fail(
            &[("api", "bind")],
            format!("[api] bind = {:?} is not an IP address", api.bind),
            "use an address such as \"127.0.0.1\" or \"::1\"",
        ),
        Ok(ip) if !ip.is_loopback() && !api.allow_remote => fail(
            &[("api", "bind"), ("api", "allow_remote")],
            format!("[api] bind = {:?} is not a loopback address", api.bind),
            "the API controls trading: keep it on 127.0.0.1, or set [api] allow_remote = true (and a non-default token)",
        ),
        Ok(_) => {}
    }
    if api.metrics_port != 0 && api.metrics_port == api.port {
        fail(
            &[("api", "metrics_port"), ("api", "port")],
            format!(
                "[api] metrics_port = {} is the API's own port",
                api.metrics_port
            ),
            "set metrics_port = 0 to serve /metrics on the API's port, or another port for a separate listener",
        );
    }
    for (keys, message, help) in super::broker::check(config) {
        fail(&keys, message, &help);
    }
    errors
}

/// `[chaos] modes` (with `CHAOS_MODE`'s): every name a mode, and none in live mode — chaos is
/// refused in live mode, always (`ballast check`, `ballast run`, the engine and the supervisor
/// all load through here).
fn chaos(config: &Config, fail: &mut dyn FnMut(&[KeyRef], String, &str)) {
    let names = config.chaos.modes.iter().map(String::as_str);
    match crate::chaos::parse_names(names, "[chaos] modes (with CHAOS_MODE)") {
        Err(e) => fail(
            &[("chaos", "modes")],
            e.to_string(),
            "write the mode names of docs/CHAOS.md, comma-separated in CHAOS_MODE or as a list in [chaos] modes",
        ),
        Ok(modes) => {
            let live = config.general.mode == super::model::Mode::Live;
            if let Some(why) = crate::chaos::live_refusal(&modes, live) {
                let (message, help) = why.split_once("\n    help: ").unwrap_or((&why, ""));
                fail(
                    &[("chaos", "modes"), ("general", "mode")],
                    message.to_owned(),
                    help,
                );
            }
        }
    }
}
