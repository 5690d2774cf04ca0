//! Configuration: one TOML file (`ballast.toml`), every key documented with its default,
//! environment overrides, validation that reports every error at once with `file:line:col`.
//!
//! The schema ([`schema::KEYS`]) is the single source: it drives validation, the sample
//! written by `ballast init` ([`sample_toml`]) and the reference ([`reference_markdown`]).

pub mod alerts;
mod artifacts;
pub mod broker;
pub mod checks;
mod error;
pub mod in_force;
mod live;
mod load;
mod model;
pub mod reload;
mod rules;
pub mod schema;
pub mod secret;
mod services;
mod suggest;
#[cfg(test)]
mod tests_lifecycle;

pub use error::{ConfigError, ConfigErrors, Origin};
pub use live::{check_sections, check_values};
pub use load::{ENV_PREFIX, Setting, Source, load, load_explained, load_partial};
pub use model::*;
pub use suggest::{closest, edit_distance};

use schema::{KEYS, SECTIONS};

/// The arrays of tables: their keys, what they are, and a commented example for the sample.
const ARRAYS: &[(&services::TableArray, &str, &str)] = &[
    (
        &services::SERVICES,
        "Services the supervisor runs besides the built-in engine (your own bot in any language, a data daemon)",
        "[[services]]\nname = \"my-bot\"\ncommand = \"/usr/bin/python3\"\nargs = [\"bot.py\"]\ncwd = \"/srv/my-bot\"\nkind = \"critical\"\nrestart = \"on-failure\"\nreadiness = \"notify\"\nheartbeat_file = \"/srv/my-bot/heartbeat\"\nheartbeat_max_age_secs = 60",
    ),
    (
        &artifacts::ARTIFACTS,
        "Files and directories of those services that the healer keeps healthy (what it removes is copied to quarantine/ first; a file outside the data directory is copied next to itself as <name>.corrupt.<UTC timestamp>)",
        "[[artifacts]]\nservice = \"my-bot\"\nkind = \"json\"\npath = \"state/positions.json\"\ndefault = '{\"positions\": [], \"version\": 1}'\nrequired_keys = [\"positions\"]",
    ),
    (
        &alerts::SINKS,
        "Where alert notifications go ([alerts] decides when): a JSON webhook, a Slack-compatible webhook, a Telegram bot or the log",
        "[[alerts.sinks]]\nname = \"ops-telegram\"\nkind = \"telegram\"\nchat_id = \"-1001234567890\"\ntoken_env = \"TELEGRAM_BOT_TOKEN\"\nmin_severity = \"warning\"",
    ),
    (
        &checks::CHECKS,
        "Your own health checks, each reported as a subsystem of the health report",
        "[[checks]]\nname = \"models\"\nkind = \"files_present\"\npaths = [\"/srv/my-bot/models/a.bin\", \"/srv/my-bot/models/b.bin\"]\ndegraded_min = 1\nimpacts_trading = true",
    ),
];

/// The built-in paper configuration used when there is no config file.
pub fn builtin() -> Result<Config, ConfigErrors> {
    load(None, &[])
}

fn env_names(spec: &schema::KeySpec) -> String {
    match spec.env_alias {
        Some(alias) => format!("{} or {alias}", spec.env_name()),
        None => spec.env_name(),
    }
}

/// A complete, commented configuration with every key at its default.
pub fn sample_toml() -> String {
    let mut out = String::from(
        "# Ballast configuration. Every key is shown with its default value.\n\
         # Validate with `ballast check --config ballast.toml`.\n\
         # Any key can be overridden from the environment as BALLAST_<SECTION>__<KEY>.\n",
    );
    for section in SECTIONS {
        out.push_str(&format!("\n# {}\n[{}]\n", section.doc, section.name));
        for spec in KEYS.iter().filter(|k| k.section == section.name) {
            out.push_str(&format!(
                "\n# {}\n# Allowed: {}. Env: {}.\n{} = {}\n",
                spec.doc,
                spec.allowed(),
                env_names(spec),
                spec.key,
                spec.default
            ));
        }
    }
    for (kind, intro, example) in ARRAYS {
        out.push_str(&format!(
            "\n# {intro}: one [[{}]] table each.\n# Keys (defaults in parentheses):\n",
            kind.name
        ));
        for spec in kind.keys {
            out.push_str(&format!(
                "#   {} ({}): {}\n",
                spec.key, spec.default, spec.doc
            ));
        }
        out.push_str("#\n");
        for line in example.lines() {
            out.push_str(&format!("# {line}\n"));
        }
    }
    out
}

/// The configuration reference (`docs/CONFIG.md`), generated from the schema.
pub fn reference_markdown() -> String {
    let mut out = String::from(
        "# Configuration reference\n\n\
         <!-- Generated from crates/ballast-core/src/config/schema.rs; a test keeps it in sync. -->\n\n\
         Ballast reads one TOML file (`--config FILE`); without one it uses the built-in paper\n\
         configuration, which is every default below. `ballast init` writes a commented sample;\n\
         `ballast check` validates a file and reports every error at once with `file:line:col`\n\
         (exit code 78 on error).\n\n\
         Environment overrides take precedence over the file: `BALLAST_<SECTION>__<KEY>` for any\n\
         key (e.g. `BALLAST_GUARD__MAX_OPEN_ORDERS=10`; booleans `true/false`, lists\n\
         comma-separated), and the guard aliases listed below. The aliases keep the units of the bots\n\
         they come from: `*_PCT` aliases are fractions (`MAX_PORTFOLIO_EXPOSURE_PCT=0.30` is 30 %).\n\
         When both forms are set, the `BALLAST_` form wins. A `BALLAST_*__*` variable that names\n\
         no key is an error, so a typo never goes unnoticed.\n",
    );
    for section in SECTIONS {
        out.push_str(&format!(
            "\n## [{}]\n\n{}\n\n| key | default | allowed | env | meaning |\n|---|---|---|---|---|\n",
            section.name, section.doc
        ));
        for spec in KEYS.iter().filter(|k| k.section == section.name) {
            out.push_str(&format!(
                "| `{}` | `{}` | {} | `{}` | {} |\n",
                spec.key,
                spec.default,
                spec.allowed(),
                env_names(spec).replace(" or ", "` or `"),
                spec.doc
            ));
        }
    }
    for (kind, intro, _) in ARRAYS {
        out.push_str(&format!(
            "\n## [[{}]]\n\n{intro}, one `[[{}]]` table each. Environment overrides do not reach them.\n\n| key | default | allowed | meaning |\n|---|---|---|---|\n",
            kind.name, kind.name
        ));
        for spec in kind.keys {
            out.push_str(&format!(
                "| `{}` | `{}` | {} | {} |\n",
                spec.key,
                spec.default,
                spec.allowed(),
                spec.doc
            ));
        }
    }
    out.push_str(
        "\n## Cross-field rules\n\n\
         - `[journal] max_record_bytes` ≤ `segment_max_bytes` and ≤ `max_pending_bytes`.\n\
         - `[strategy] fast` < `slow`.\n\
         - `[guard] max_notional_per_order_usd` ≤ `max_position_notional_usd`.\n\
         - `[guard] max_orders_per_second` ≤ `max_orders_per_minute`.\n\
         - `[guard] max_portfolio_exposure_pct` ≤ `[risk] max_total_at_risk_pct`.\n\
         - `[api] bind` is an IP address; a non-loopback one needs `allow_remote = true`.\n\
         - `[api] metrics_port`, when not 0, is not `[api] port`.\n\
         - `[feed] symbols` is not empty; `[general] data_dir` is not empty.\n\
         - `[universe] force_eligible` symbols are in `[feed] symbols`.\n\
         - `[[services]]`: names unique and valid (`engine` is reserved); `depends_on` names declared\n\
           services (or `engine` while it is enabled) and forms no cycle; `readiness = \"http\"` needs\n\
           `readiness_url`, `\"heartbeat\"` needs `heartbeat_file`; the failure budget can trip\n\
           (`restart_window_secs` longer than the restart delays before `max_restarts + 1` failures).\n\
         - `[[artifacts]]`: `service` names a declared service; a `json` default is a JSON object\n\
           holding every `required_keys` entry; a `heartbeat` has `max_age_secs`; a `cache` is not\n\
           `.`, `..`, `/`, a top-level directory, the service's `cwd` or above it, the data directory\n\
           or above or inside it, and holds no other declared file; only a cache has `auto_clear`.\n\
         - `[[checks]]`: names valid, unique and not a built-in subsystem's; each kind has its key\n\
           (`path`, `paths`, `url`, `address`, `pattern`, `command`); `healthy_max_age_secs` ≤\n\
           `degraded_max_age_secs`; `degraded_min` ≤ the number of `paths`; `depends_on` names\n\
           known subsystems (built-in, `service:<name>`, other checks).\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn file(text: &str) -> Result<Config, ConfigErrors> {
        load(
            Some(Source {
                path: "ballast.toml",
                text,
            }),
            &[],
        )
    }

    #[test]
    fn the_backup_feed_is_a_sub_table_read_from_the_file_and_the_environment() {
        let c = builtin().unwrap();
        assert_eq!(c.feed.backup.kind, BackupKind::None);
        assert_eq!(
            (c.feed.backup.stale_secs, c.feed.backup.recover_secs),
            (30, 60)
        );
        let c = file("[feed]\nseed = 7\n\n[feed.backup]\nkind = \"replay\"\nreplay_file = \"b.csv\"\nstale_secs = 3\n")
            .unwrap();
        assert_eq!(c.feed.seed, 7);
        assert_eq!(c.feed.backup.kind, BackupKind::Replay);
        assert_eq!(c.feed.backup.replay_file, "b.csv");
        assert_eq!(c.feed.backup.stale_secs, 3);
        let env = [(
            "BALLAST_FEED_BACKUP__RECOVER_SECS".to_string(),
            "9".to_string(),
        )];
        assert_eq!(load(None, &env).unwrap().feed.backup.recover_secs, 9);
        let errs = file("[feed.backup]\nkind = \"tape\"\nstale = 3\n").unwrap_err();
        let text = errs.to_string();
        assert!(
            text.contains("ballast.toml:2:8: error: [feed.backup] kind"),
            "{text}"
        );
        assert!(
            text.contains("unknown key \"stale\" in [feed.backup]"),
            "{text}"
        );
        assert!(sample_toml().contains("\n[feed.backup]\n"));
        let sample = file(&sample_toml()).unwrap();
        assert_eq!(sample, builtin().unwrap(), "the sample is every default");
    }

    #[test]
    fn builtin_is_paper_and_every_default_is_valid() {
        let c = builtin().unwrap();
        assert_eq!(c.general.mode, Mode::Paper);
        assert_eq!(c.api.port, 7878);
        assert_eq!(c.feed.symbols.len(), 3);
        assert_eq!(c.paper.participation.to_string(), "0.1");
    }

    #[test]
    fn the_sample_is_the_builtin_config() {
        assert_eq!(file(&sample_toml()).unwrap(), builtin().unwrap());
    }

    #[test]
    fn misspelled_key_gets_location_and_suggestion() {
        let errs = file("[guard]\nmax_open_ordrs = 5\n").unwrap_err();
        assert_eq!(errs.0.len(), 1);
        let text = errs.0[0].to_string();
        assert!(
            text.starts_with("ballast.toml:2:1: error: unknown key \"max_open_ordrs\""),
            "{text}"
        );
        assert!(text.contains("did you mean \"max_open_orders\"?"), "{text}");
    }

    #[test]
    fn every_error_is_reported_at_once_in_file_order() {
        let text = "[guard]\nmax_open_orders = \"many\"\nbogus = 1\n[feeed]\nx = 1\n[paper]\nfee_bps = -1\n[general]\nmode = \"liev\"\n";
        let errs = file(text).unwrap_err();
        let lines: Vec<String> = errs.0.iter().map(ToString::to_string).collect();
        assert_eq!(errs.0.len(), 5, "{lines:#?}");
        assert!(lines[0].starts_with("ballast.toml:2:19:"), "{}", lines[0]);
        assert!(lines[1].starts_with("ballast.toml:3:1:"), "{}", lines[1]);
        assert!(lines[2].contains("unknown section [feeed]") && lines[2].contains("[feed]"));
        assert!(lines[3].contains("-1 is out of range"), "{}", lines[3]);
        assert!(lines[4].contains("did you mean \"live\""), "{}", lines[4]);
    }

    #[test]
    fn syntax_errors_have_locations() {
        let errs = file("[guard]\nmax_open_orders = = 3\n").unwrap_err();
        assert!(
            errs.0[0].to_string().starts_with("ballast.toml:2:"),
            "{errs}"
        );
    }

    #[test]
    fn key_in_wrong_section_is_pointed_out() {
        let errs = file("[paper]\nmax_open_orders = 3\n").unwrap_err();
        assert!(errs.to_string().contains("belongs in [guard]"), "{errs}");
        let errs = file("mode = \"paper\"\n").unwrap_err();
        assert!(
            errs.to_string().contains("put it under [general]"),
            "{errs}"
        );
    }

    #[test]
    fn decimals_stay_exact() {
        let c = file("[paper]\nparticipation = 0.3\nfee_bps = \"0.1\"\n").unwrap();
        assert_eq!(c.paper.participation, Decimal::new(3, 1));
        assert_eq!(c.paper.fee_bps, Decimal::new(1, 1));
    }

    #[test]
    fn env_overrides_file_and_aliases_work() {
        let c = load(
            Some(Source {
                path: "b.toml",
                text: "[guard]\nmax_open_orders = 3\n",
            }),
            &env(&[
                ("BALLAST_GUARD__MAX_OPEN_ORDERS", "7"),
                ("MAX_NOTIONAL_PER_ORDER", "1234.5"),
                ("MAX_CONCENTRATION_PER_SYMBOL_PCT", "0.08"),
                ("MAX_PORTFOLIO_EXPOSURE_PCT", "0.30"),
                ("BALLAST_GUARD__MAX_PORTFOLIO_EXPOSURE_PCT", "20"),
                ("BALLAST_FEED__SYMBOLS", "spy, qqq"),
                ("BALLAST_HOME", "/somewhere"),
                ("PATH", "/bin"),
            ]),
        )
        .unwrap();
        assert_eq!(c.guard.max_open_orders, 7);
        assert_eq!(c.guard.max_notional_per_order_usd, Decimal::new(12345, 1));
        assert_eq!(c.feed.symbols[1].as_str(), "QQQ");
        assert_eq!(
            c.guard.max_concentration_per_symbol_pct,
            Decimal::from(8),
            "fraction alias"
        );
        assert_eq!(
            c.guard.max_portfolio_exposure_pct,
            Decimal::from(20),
            "BALLAST_ form wins"
        );
    }

    #[test]
    fn bad_env_overrides_are_errors_with_the_variable_name() {
        let errs = load(
            None,
            &env(&[
                ("BALLAST_GUARD__MAX_OPEN_ORDRS", "7"),
                ("MIN_COOLDOWN_MINUTES", "soon"),
            ]),
        )
        .unwrap_err();
        let text = errs.to_string();
        assert!(
            text.contains("environment variable BALLAST_GUARD__MAX_OPEN_ORDRS"),
            "{text}"
        );
        assert!(
            text.contains("did you mean BALLAST_GUARD__MAX_OPEN_ORDERS?"),
            "{text}"
        );
        assert!(
            text.contains("environment variable MIN_COOLDOWN_MINUTES"),
            "{text}"
        );
    }

    #[test]
    fn cross_field_rules_point_at_the_key() {
        let errs = file(
            "[guard]\nmax_position_notional_usd = 100\nmax_notional_per_order_usd = 200\n[strategy]\nfast = 30\nslow = 10\n[api]\nbind = \"0.0.0.0\"\n",
        )
        .unwrap_err();
        let text = errs.to_string();
        assert!(
            text.contains(
                "ballast.toml:3:1: error: [guard] max_notional_per_order_usd = 200 exceeds"
            ),
            "{text}"
        );
        assert!(
            text.contains("ballast.toml:5:1: error: [strategy] fast = 30"),
            "{text}"
        );
        assert!(text.contains("not a loopback address"), "{text}");
        assert!(file("[api]\nbind = \"0.0.0.0\"\nallow_remote = true\n").is_ok());
        let e = file("[api]\nport = 9000\nmetrics_port = 9000\n").unwrap_err();
        assert!(
            e.to_string()
                .contains("[api] metrics_port = 9000 is the API's own port"),
            "{e}"
        );
        assert!(file("[api]\nport = 9000\nmetrics_port = 9001\n").is_ok());
        assert!(file("[api]\nmetrics_port = 0\n").is_ok());
    }

    #[test]
    fn cross_field_errors_come_with_key_errors_but_not_from_rejected_keys() {
        let errs =
            file("[strategy]\nfast = 50\nslow = 20\n[guard]\nmax_open_orders = -1\n").unwrap_err();
        assert_eq!(errs.0.len(), 2, "{errs}");
        // `slow` is rejected: no rule is run against its stand-in default.
        let errs = file("[strategy]\nfast = 50\nslow = \"x\"\n").unwrap_err();
        assert_eq!(errs.0.len(), 1, "{errs}");
        assert!(errs.0[0].message.contains("slow"), "{errs}");
    }

    #[test]
    fn symbol_lists_are_validated_per_item() {
        let errs = file("[feed]\nsymbols = [\"AAPL\", \"bad sym\", 3]\n").unwrap_err();
        assert!(errs.to_string().starts_with("ballast.toml:2:20:"), "{errs}");
        let errs = file("[feed]\nsymbols = [\"AAPL\", \"aapl\"]\n").unwrap_err();
        assert!(errs.to_string().contains("listed twice"), "{errs}");
    }

    #[test]
    fn the_typed_config_mirrors_the_schema() {
        // Every key in the schema appears in the typed config and nothing else does.
        let json = serde_json::to_value(builtin().unwrap()).unwrap();
        let mut n = 0;
        for (section, keys) in json.as_object().unwrap() {
            if ["services", "artifacts", "checks"].contains(&section.as_str()) {
                continue;
            }
            for (key, value) in keys.as_object().unwrap() {
                // A sub-table that is a section of its own (`[feed.backup]`).
                let sub = format!("{section}.{key}");
                if sub == "alerts.sinks" {
                    continue; // an array of tables, checked against SINK_KEYS
                }
                if schema::section_exists(&sub) {
                    for key in value.as_object().unwrap().keys() {
                        assert!(schema::find(&sub, key).is_some(), "{sub}.{key}");
                        n += 1;
                    }
                    continue;
                }
                assert!(schema::find(section, key).is_some(), "{section}.{key}");
                n += 1;
            }
        }
        assert_eq!(n, KEYS.len());
    }

    #[test]
    fn artifacts_are_checked_key_by_key_and_against_services() {
        let base = "[[services]]\nname = \"bot\"\ncommand = \"x\"\n";
        let ok = file(&format!(
            "{base}[[artifacts]]\nservice = \"bot\"\nkind = \"json\"\npath = \"s.json\"\ndefault = '{{\"a\": 1}}'\nrequired_keys = [\"a\"]\n"
        ))
        .unwrap();
        assert_eq!(ok.artifacts[0].kind, ArtifactKind::Json);
        assert_eq!(ok.heal.sweep_secs, 10);
        let errs = file(&format!(
            "{base}[[artifacts]]\nservice = \"bto\"\nkind = \"json\"\npath = \"s.json\"\ndefault = '{{\"a\": 1}}'\nrequired_keys = [\"b\"]\n\n[[artifacts]]\nservice = \"bot\"\nkind = \"heartbeat\"\npath = \"hb\"\n\n[[artifacts]]\nservice = \"bot\"\nkind = \"json\"\npath = \"x\"\ndefault = \"[1\"\nmax_age = 3\n\n[[artifacts]]\nkind = \"dir\"\n"
        ))
        .unwrap_err();
        let text = errs.to_string();
        for want in [
            "unknown key \"max_age\" in [[artifacts]]",
            "did you mean \"max_age_secs\"",
            "[[artifacts]] entry 4 has no service",
            "[[artifacts]] entry 4 has no path",
        ] {
            assert!(text.contains(want), "{want}: {text}");
        }
        // The rules between tables need valid keys first (like services).
        let errs = file(&format!(
            "{base}[[artifacts]]\nservice = \"bto\"\nkind = \"json\"\npath = \"s.json\"\ndefault = '{{\"a\": 1}}'\nrequired_keys = [\"b\"]\n\n[[artifacts]]\nservice = \"bot\"\nkind = \"heartbeat\"\npath = \"hb\"\n\n[[artifacts]]\nservice = \"bot\"\nkind = \"json\"\npath = \"x\"\ndefault = \"[1\"\n"
        ))
        .unwrap_err();
        let text = errs.to_string();
        for want in [
            "service \"bto\" is not declared",
            "did you mean \"bot\"",
            "required key \"b\" is not in default",
            "a heartbeat needs max_age_secs",
            "default is not JSON",
        ] {
            assert!(text.contains(want), "{want}: {text}");
        }
    }

    #[test]
    fn checks_are_checked_key_by_key_and_together() {
        let ok = file(
            "[[services]]\nname = \"bot\"\ncommand = \"x\"\n[[checks]]\nname = \"models\"\nkind = \"files_present\"\npaths = [\"a\", \"b\"]\ndepends_on = [\"service:bot\", \"data_feed\"]\n[[checks]]\nname = \"db\"\nkind = \"tcp\"\naddress = \"127.0.0.1:5432\"\ncritical = true\n",
        )
        .unwrap();
        assert_eq!(ok.checks.len(), 2);
        assert_eq!(ok.checks[1].kind, CheckKind::Tcp);
        assert_eq!(ok.health.hysteresis_secs, 300);
        let errs = file(
            "[[checks]]\nname = \"engine\"\nkind = \"http\"\nurl = \"https://x\"\n[[checks]]\nname = \"m\"\nkind = \"files_present\"\npaths = [\"a\"]\ndegraded_min = 2\ndepends_on = [\"data_fed\"]\n[[checks]]\nname = \"m\"\nkind = \"file_age\"\npath = \"x\"\nhealthy_max_age_secs = 10\ndegraded_max_age_secs = 5\n",
        )
        .unwrap_err()
        .to_string();
        for want in [
            "name \"engine\" is a built-in subsystem",
            "kind Http needs url",
            "degraded_min 2 > the 1 paths listed",
            "depends on unknown subsystem \"data_fed\"",
            "did you mean \"data_feed\"",
            "name \"m\" is declared twice",
            "healthy_max_age_secs 10 > degraded_max_age_secs 5",
        ] {
            assert!(errs.contains(want), "{want}: {errs}");
        }
    }

    #[test]
    fn services_are_checked_key_by_key_and_together() {
        let ok = file(
            "[[services]]\nname = \"data\"\ncommand = \"/bin/sleep\"\nargs = [\"60\"]\n\n[[services]]\nname = \"bot\"\ncommand = \"python3\"\ndepends_on = [\"data\", \"engine\"]\nenv = { MODE = \"paper\" }\nkind = \"critical\"\n",
        )
        .unwrap();
        assert_eq!(ok.services.len(), 2);
        assert_eq!(ok.services[1].env["MODE"], "paper");
        assert_eq!(ok.services[1].kind, ServiceKind::Critical);
        assert_eq!(
            ok.services[0].restart,
            crate::supervisor::RestartPolicy::OnFailure
        );

        let errs = file(
            "[[services]]\nname = \"a\"\ncommand = \"x\"\ndepends_on = [\"b\"]\nrestrat = \"always\"\n\n[[services]]\nname = \"b\"\ncommand = \"y\"\ndepends_on = [\"a\"]\nreadiness = \"http\"\n\n[[services]]\nname = \"a\"\ncommand = \"z\"\nmax_restarts = 5\nrestart_window_secs = 10\n\n[[services]]\nargs = []\n",
        )
        .unwrap_err();
        let text = errs.to_string();
        assert!(
            text.contains("ballast.toml:5:1: error: unknown key \"restrat\" in [[services]]")
                && text.contains("did you mean \"restart\"?"),
            "{text}"
        );
        assert!(
            text.contains("has no name") && text.contains("has no command"),
            "{text}"
        );
        // The key errors come first; the rules between services need a valid set of keys.
        let errs = file(
            "[[services]]\nname = \"a\"\ncommand = \"x\"\ndepends_on = [\"b\"]\n\n[[services]]\nname = \"b\"\ncommand = \"y\"\ndepends_on = [\"a\", \"nope\"]\nreadiness = \"http\"\n\n[[services]]\nname = \"c\"\ncommand = \"z\"\nmax_restarts = 5\nrestart_window_secs = 10\n\n[[services]]\nname = \"c\"\ncommand = \"w\"\n",
        )
        .unwrap_err();
        let text = errs.to_string();
        for want in [
            "dependency cycle: a -> b -> a",
            "declared twice",
            "needs readiness_url",
            "could never trip",
            "depends on \"nope\"",
        ] {
            assert!(text.contains(want), "{want}: {text}");
        }
        let off = file("[engine]\nenabled = false\n[[services]]\nname = \"bot\"\ncommand = \"x\"\ndepends_on = [\"engine\"]\n").unwrap_err();
        assert!(
            off.to_string()
                .contains("depends on \"engine\", which is not declared"),
            "{off}"
        );
    }

    #[test]
    fn garbage_never_panics() {
        for text in [
            "\u{0}",
            "[",
            "[[guard]]\nx=1",
            "[guard]\n[guard]\n",
            "a.b.c = 1",
            "[general]\nmode = 1e999",
        ] {
            let _ = file(text);
        }
    }

    #[test]
    fn item_10b_a_relative_cwd_resolves_against_the_config_directory_and_declared_paths_under_it() {
        let mut c = file(
            "[[services]]\nname = \"a\"\ncommand = \"x\"\ncwd = \"./bot\"\n\
             [[services]]\nname = \"b\"\ncommand = \"x\"\ncwd = \"/srv/b\"\n\
             [[services]]\nname = \"c\"\ncommand = \"x\"\n",
        )
        .unwrap();
        c.resolve_cwds(std::path::Path::new("/etc/ballast"));
        let cwd: Vec<&str> = c.services.iter().map(|s| s.cwd.as_str()).collect();
        assert_eq!(cwd, ["/etc/ballast/bot", "/srv/b", "/etc/ballast"]);
        let a = &c.services[0];
        assert_eq!(
            a.declared_path("state/./bot.json"),
            std::path::Path::new("/etc/ballast/bot/state/bot.json")
        );
        assert_eq!(a.declared_path("/abs/x"), std::path::Path::new("/abs/x"));
        // Resolving twice changes nothing.
        let once = c.clone();
        c.resolve_cwds(std::path::Path::new("/other"));
        assert_eq!(c, once);
    }
}
