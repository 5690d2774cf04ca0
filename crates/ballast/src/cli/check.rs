//! `ballast check`: validate the configuration, and for a live one list every precondition of
//! principle 1 with what is missing.

use super::err;
use ballast_core::config::{Config, Mode};

use super::{ConfigArg, out};
use crate::exit::{self, Exit};

/// The environment variables that carry the broker's credentials (Alpaca's names).
pub const CREDENTIAL_ENV: [&str; 2] = ["APCA_API_KEY_ID", "APCA_API_SECRET_KEY"];

/// Principle 1, one line per precondition: whether it holds and what it is.
fn live_preconditions(cfg: &Config, live_flag: bool) -> Vec<(bool, String)> {
    let creds = CREDENTIAL_ENV
        .iter()
        .all(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()));
    vec![
        (
            cfg.general.mode == Mode::Live,
            "[general] mode = \"live\" in the configuration".to_owned(),
        ),
        (
            live_flag,
            "--live on the command line of `ballast run` (asked twice)".to_owned(),
        ),
        (
            false,
            "a live broker: no live broker configured (this build has only the paper broker)"
                .to_owned(),
        ),
        (
            creds,
            format!(
                "broker credentials in the environment ({})",
                CREDENTIAL_ENV.join(", ")
            ),
        ),
        (
            false,
            "a clean startup reconciliation with the broker (checked at start: needs the broker)"
                .to_owned(),
        ),
    ]
}

/// What is missing for a live start, when one is asked for (by the configuration or by
/// `--live`); empty for a paper start.
pub fn live_missing(cfg: &Config, live_flag: bool) -> Vec<String> {
    if cfg.general.mode != Mode::Live && !live_flag {
        return Vec::new();
    }
    live_preconditions(cfg, live_flag)
        .into_iter()
        .filter(|(ok, _)| !ok)
        .map(|(_, what)| what)
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
    let verdict = if c.general.mode == Mode::Live {
        "valid, but this build cannot trade live (below)"
    } else {
        "OK"
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
    if c.general.mode != Mode::Live {
        return exit::OK;
    }
    out!("live trading (principle 1: live only when asked twice) needs:");
    for (ok, what) in live_preconditions(c, false) {
        let mark = match (ok, what.starts_with("--live")) {
            (_, true) => "give   ",
            (true, false) => "ok     ",
            (false, false) => "missing",
        };
        out!("  {mark} {what}");
    }
    err!(
        "ballast check: this live configuration cannot trade: {} precondition(s) missing (above); `ballast run --live` would refuse to start",
        live_missing(c, true).len()
    );
    exit::CONFIG
}
