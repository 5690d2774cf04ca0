//! `ballast check`: validate the configuration, and for a live one list every precondition of
//! principle 1 with what is missing.

use super::err;
use ballast_core::config::{Config, Mode};
use ballast_core::live::{self, Asked, Credentials, Met};

use super::{ConfigArg, out};
use crate::exit::{self, Exit};

/// The environment variables that carry the broker's credentials (Alpaca's names).
pub const CREDENTIAL_ENV: [&str; 2] = ["APCA_API_KEY_ID", "APCA_API_SECRET_KEY"];

/// Where the broker's credentials are, or what is missing (never their values): the
/// environment's `APCA_API_KEY_ID` and `APCA_API_SECRET_KEY`, both set and not empty.
pub fn credentials() -> Credentials {
    let unset: Vec<&str> = CREDENTIAL_ENV
        .iter()
        .copied()
        .filter(|v| std::env::var_os(v).is_none_or(|x| x.is_empty()))
        .collect();
    if unset.is_empty() {
        Credentials::Present(format!("the environment ({})", CREDENTIAL_ENV.join(", ")))
    } else {
        Credentials::Missing(format!(
            "{} not set in the environment (set {} for the account to trade)",
            unset.join(" and "),
            CREDENTIAL_ENV.join(" and ")
        ))
    }
}

/// The configured broker's kind (`[broker] kind`).
pub fn broker_kind(cfg: &Config) -> &'static str {
    cfg.broker.kind.as_str()
}

/// What the operator asked for (`flag`: `--live` at `ballast run`; `None` at `ballast check`).
pub fn asked(cfg: &Config, flag: Option<bool>) -> Asked {
    Asked {
        mode_live: cfg.general.mode == Mode::Live,
        flag,
        broker: broker_kind(cfg).to_owned(),
        credentials: broker_credentials(cfg),
    }
}

/// The broker's credentials judged as the run judges them: for Alpaca, read with the engine's
/// own loader (`venue::credentials`: a secrets file missing, shared, damaged or not a regular
/// file is refused in the same words) and the key's kind against the mode
/// (`ballast_alpaca::compat::key_mismatch`: a paper key in live mode). Never their values.
fn broker_credentials(cfg: &Config) -> Credentials {
    if cfg.broker.kind == ballast_core::config::BrokerKind::Paper {
        return match cfg.broker.alpaca.secrets_file.as_str() {
            "" => credentials(),
            file => Credentials::Present(format!("[broker.alpaca] secrets_file {file}")),
        };
    }
    let live = cfg.general.mode == Mode::Live;
    let keys = match super::venue::credentials(cfg) {
        Ok(keys) => keys,
        Err(why) => return Credentials::Missing(why),
    };
    if let Some(why) = ballast_alpaca::compat::key_mismatch(live, &keys) {
        return Credentials::Missing(why);
    }
    match cfg.broker.alpaca.secrets_file.as_str() {
        "" => credentials(),
        file => Credentials::Present(format!("[broker.alpaca] secrets_file {file}")),
    }
}

/// What is missing for a live start, when one is asked for (by the configuration or by
/// `--live`); empty for a paper start. What is only known once the engine talks to the broker
/// (the compatibility check, the reconciliation, the account) is not missing here: the engine
/// checks it at its start and the supervisor holds trading until it holds.
pub fn live_missing(cfg: &Config, live_flag: bool) -> Vec<String> {
    if cfg.general.mode != Mode::Live && !live_flag {
        return Vec::new();
    }
    live::gate(&asked(cfg, Some(live_flag)), &live::Observed::default())
        .missing()
        .map(|c| c.words.clone())
        .collect()
}

/// The one-line reason of a refused live start.
pub fn live_refusal(cfg: &Config, live_flag: bool) -> String {
    match (cfg.general.mode == Mode::Live, live_flag) {
        (true, false) => "the configuration says mode = \"live\" but --live was not given".into(),
        (false, true) => {
            "--live was given but the configuration says mode = \"paper\" (live needs mode = \"live\" too)".into()
        }
        _ => "live trading needs every precondition below".into(),
    }
}

/// Each declared cache as the filesystem shows it now (links resolved, what `clear_cache`
/// checks again before every clear: a link in any component of its path, the data directory,
/// a service's cwd, a declared file, another cache or this configuration file resolved near
/// it), at its `path`'s file:line:col. A cache that does not exist yet is fine.
fn cache_problems(loaded: &super::Loaded) -> Vec<String> {
    let c = &loaded.config;
    let data = crate::settings::DataDir::new(None, Some((c, &loaded.settings))).path;
    let file = loaded.choice.path.as_deref();
    let mut out = Vec::new();
    for (i, a) in c.artifacts.iter().enumerate() {
        if a.kind != ballast_core::config::ArtifactKind::Cache {
            continue;
        }
        let Err(why) = ballast_supervisor::cache::verify(&data, c, file, &a.service, &a.path)
        else {
            continue;
        };
        let section = format!("artifacts[{i}]");
        let at = loaded
            .settings
            .iter()
            .find(|s| s.key == "path" && s.section.split(' ').next() == Some(section.as_str()))
            .map_or_else(
                || format!("[[artifacts]] #{}", i + 1),
                |s| s.origin.to_string(),
            );
        out.push(format!(
            "{at}: error: [[artifacts]] {}: {why}\n    help: a clear would refuse it too: declare a directory of its own, with no link in its path (data directory {})",
            a.path,
            data.display()
        ));
    }
    out
}

pub fn check(arg: &ConfigArg) -> Exit {
    let loaded = match arg.load() {
        Ok(l) => l,
        Err(code) => return code,
    };
    let problems = cache_problems(&loaded);
    if !problems.is_empty() {
        for p in &problems {
            err!("{p}");
        }
        err!(
            "{} configuration error(s) found in the declared caches (the filesystem as it is now); nothing was started or changed.",
            problems.len()
        );
        return exit::CONFIG;
    }
    let c = &loaded.config;
    let source = match &loaded.choice.path {
        Some(p) => p.display().to_string(),
        None => "no config file: the built-in paper configuration".to_owned(),
    };
    let symbols: Vec<&str> = c.feed.symbols.iter().map(|s| s.as_str()).collect();
    let gate = live::gate(&asked(c, None), &live::Observed::default());
    let missing = gate.missing().count();
    let verdict = match (c.general.mode == Mode::Live, missing) {
        (false, _) => "OK",
        (true, 0) => "valid for live trading (the conditions below)",
        (true, _) => "valid, but it cannot trade live (below)",
    };
    out!(
        "{source}: {verdict} (mode {}, {} feed of {}, strategy {}, engine {}, {} service(s), {} check(s), {} artifact(s))",
        c.general.mode.as_str(),
        c.feed.kind.as_str(),
        symbols.join(","),
        c.strategy.kind.as_str(),
        if c.engine.enabled {
            "enabled"
        } else {
            "disabled"
        },
        c.services.len(),
        c.checks.len(),
        c.artifacts.len()
    );
    if let Some(banner) = ballast_core::chaos::ChaosPlan::of(c).banner() {
        out!("{banner} (docs/CHAOS.md)");
    }
    if c.general.mode != Mode::Live {
        return exit::OK;
    }
    // `[chaos] modes` and CHAOS_MODE are refused live by the loader; the BALLAST_CHAOS_* hooks
    // are the environment's, refused here.
    let hooks = match super::chaos_env::chaos_from_env() {
        Ok(h) => h,
        Err(e) => {
            err!("ballast check: {e}");
            return exit::CONFIG;
        }
    };
    if let Some(why) = super::chaos_env::live_refusal(c, false, &hooks) {
        err!("ballast check: {why}");
        return exit::CONFIG;
    }
    out!("live trading (principle 1: live only when asked twice) needs:");
    for cnd in &gate.conditions {
        let mark = match cnd.met {
            Met::Ok => "ok      ",
            Met::Missing => "missing ",
            Met::AtStart => "at start",
        };
        out!("  {mark} {}", cnd.words);
    }
    if missing == 0 {
        out!(
            "  `ballast run --live` starts the engine, which checks the broker before trading; `/readyz?verbose` and `ballast reconcile` show the result"
        );
        return exit::OK;
    }
    err!(
        "ballast check: this live configuration cannot trade: {missing} condition(s) missing (above); `ballast run --live` would refuse to start"
    );
    exit::CONFIG
}
