//! The reload plan over configurations validated by the real loader.

use super::*;
use crate::config::{Source, load};

fn config(text: &str) -> Config {
    match load(
        Some(Source {
            path: "ballast.toml",
            text,
        }),
        &[],
    ) {
        Ok(c) => c,
        Err(e) => panic!("the test's configuration is invalid: {e}"),
    }
}

const TWO_SERVICES: &str = "[[services]]\nname = \"data\"\ncommand = \"/bin/sleep\"\nargs = [\"60\"]\n\n[[services]]\nname = \"bot\"\ncommand = \"python3\"\nargs = [\"bot.py\"]\n";

fn change(key: &str, old: Option<&str>, new: Option<&str>) -> Change {
    Change {
        key: key.to_string(),
        old: old.map(str::to_string),
        new: new.map(str::to_string),
    }
}

#[test]
fn no_change_is_an_empty_plan() {
    let c = config(TWO_SERVICES);
    let p = plan(&c, &c.clone());
    assert!(p.is_empty());
    assert!(!p.is_refused());
    assert_eq!(p, ReloadPlan::default());
}

#[test]
fn a_guard_limit_is_applied_live_by_the_engine() {
    let old = config("");
    let new = config("[guard]\nmax_open_orders = 3\n");
    assert_ne!(
        old.guard.max_open_orders, 3,
        "the default must differ for the test to mean anything"
    );
    let p = plan(&old, &new);
    assert_eq!(p.actions, vec![Action::EngineSettings]);
    assert!(p.refused.is_empty());
    let was = old.guard.max_open_orders.to_string();
    assert_eq!(
        p.diff,
        vec![change("guard.max_open_orders", Some(&was), Some("3"))]
    );
}

#[test]
fn health_heal_checks_and_artifacts_are_applied_live() {
    let old = config("");
    let new = config(
        "[health]\nhysteresis_secs = 7\n[heal]\nsweep_secs = 9\n\n[[services]]\nname = \"bot\"\ncommand = \"python3\"\n\n[[artifacts]]\nservice = \"bot\"\nkind = \"json\"\npath = \"state.json\"\n\n[[checks]]\nname = \"port\"\nkind = \"tcp\"\naddress = \"127.0.0.1:9\"\n",
    );
    let p = plan(&old, &new);
    assert_eq!(
        p.actions,
        vec![
            Action::HealthSettings,
            Action::HealSettings,
            Action::Checks,
            Action::Artifacts,
            Action::Start("bot".into()),
        ]
    );
    assert!(
        p.diff
            .iter()
            .any(|c| c.key == "health.hysteresis_secs" && c.new.as_deref() == Some("7"))
    );
    assert!(
        p.diff
            .iter()
            .any(|c| c.key == "checks[port].address" && c.old.is_none())
    );
    assert!(
        p.diff
            .iter()
            .any(|c| c.key == "artifacts[bot:state.json].kind")
    );
}

#[test]
fn a_changed_service_command_restarts_that_service_only() {
    let old = config(TWO_SERVICES);
    let new = config(&TWO_SERVICES.replace("python3", "/usr/bin/python3"));
    let p = plan(&old, &new);
    assert_eq!(p.actions, vec![Action::Restart("bot".into())]);
    assert_eq!(
        p.diff,
        vec![change(
            "services[bot].command",
            Some("\"python3\""),
            Some("\"/usr/bin/python3\"")
        )]
    );
}

#[test]
fn an_added_service_starts_and_a_removed_one_stops() {
    let old = config(TWO_SERVICES);
    let only_data = "[[services]]\nname = \"data\"\ncommand = \"/bin/sleep\"\nargs = [\"60\"]\n";
    let with_new =
        format!("{TWO_SERVICES}\n[[services]]\nname = \"feedd\"\ncommand = \"/bin/true\"\n");

    let removed = plan(&old, &config(only_data));
    assert_eq!(removed.actions, vec![Action::Stop("bot".into())]);
    assert!(
        removed
            .diff
            .iter()
            .all(|c| c.key.starts_with("services[bot].") && c.new.is_none())
    );
    assert!(
        removed
            .diff
            .iter()
            .any(|c| c.key == "services[bot].command")
    );

    let added = plan(&old, &config(&with_new));
    assert_eq!(added.actions, vec![Action::Start("feedd".into())]);
    assert!(
        added
            .diff
            .iter()
            .all(|c| c.key.starts_with("services[feedd].") && c.old.is_none())
    );
    assert!(added.diff.contains(&change(
        "services[feedd].command",
        None,
        Some("\"/bin/true\"")
    )));
}

#[test]
fn general_mode_is_refused_by_name() {
    let old = config("");
    let new = config("[general]\nmode = \"live\"\n");
    let p = plan(&old, &new);
    assert!(p.is_refused());
    assert!(p.actions.is_empty());
    assert_eq!(
        p.refused,
        vec![Refusal {
            key: "general.mode".into()
        }]
    );
    assert!(
        p.refused[0]
            .message()
            .contains("restart Ballast to change general.mode")
    );
    assert_eq!(
        p.diff,
        vec![change("general.mode", Some("\"paper\""), Some("\"live\""))]
    );
}

#[test]
fn keys_that_cannot_change_live_are_each_refused() {
    let old = config("");
    let new = config(
        "[general]\ndata_dir = \"elsewhere\"\n[engine]\nenabled = false\n[paper]\nstarting_cash_usd = 12345\n",
    );
    let p = plan(&old, &new);
    let keys: Vec<&str> = p.refused.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "general.data_dir",
            "engine.enabled",
            "paper.starting_cash_usd"
        ]
    );
}

#[test]
fn a_secret_is_masked_in_the_diff() {
    let old = config(&format!(
        "{TWO_SERVICES}env = {{ API_TOKEN = \"old-value\", MODE = \"paper\" }}\n"
    ));
    let new = config(&format!(
        "{TWO_SERVICES}env = {{ API_TOKEN = \"new-value\", MODE = \"live\" }}\n"
    ));
    let p = plan(&old, &new);
    assert_eq!(p.actions, vec![Action::Restart("bot".into())]);
    assert_eq!(
        p.diff,
        vec![
            change("services[bot].env.API_TOKEN", Some("***"), Some("***")),
            change(
                "services[bot].env.MODE",
                Some("\"paper\""),
                Some("\"live\"")
            ),
        ]
    );
    let text = format!("{:?}", p.diff);
    assert!(
        !text.contains("old-value") && !text.contains("new-value"),
        "{text}"
    );
}

#[test]
fn secret_names_are_recognised_in_any_spelling() {
    for name in [
        "token",
        "API_KEY",
        "api-key",
        "ApiKey",
        "db_password",
        "client_secret",
        "PASSWD",
    ] {
        assert!(is_secret(name), "{name}");
    }
    for name in ["mode", "command", "max_open_orders", "keyboard"] {
        assert!(!is_secret(name), "{name}");
    }
}

#[test]
fn one_refusal_among_several_changes_refuses_the_whole_plan() {
    let old = config(TWO_SERVICES);
    let new = config(&format!(
        "[general]\nmode = \"live\"\n[guard]\nmax_open_orders = 3\n[health]\nhistory = 50\n{}",
        TWO_SERVICES.replace("python3", "python3.12")
    ));
    let p = plan(&old, &new);
    assert!(p.is_refused());
    assert!(
        p.actions.is_empty(),
        "nothing of a refused plan is applied: {:?}",
        p.actions
    );
    assert_eq!(
        p.refused,
        vec![Refusal {
            key: "general.mode".into()
        }]
    );
    let keys: Vec<&str> = p.diff.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "general.mode",
            "guard.max_open_orders",
            "health.history",
            "services[bot].command"
        ]
    );
}

#[test]
fn a_secret_in_a_value_or_a_url_password_is_masked_too() {
    let old = config(TWO_SERVICES);
    let new = config(&TWO_SERVICES.replace(
        "args = [\"bot.py\"]",
        "args = [\"bot.py\", \"--api-key=abc123\"]\nreadiness_url = \"http://me:hunter2@127.0.0.1:8080/ready\"",
    ));
    let p = plan(&old, &new);
    assert_eq!(p.actions, vec![Action::Restart("bot".into())]);
    let shown = |key: &str| {
        p.diff
            .iter()
            .find(|c| c.key == key)
            .and_then(|c| c.new.clone())
    };
    assert_eq!(shown("services[bot].args").as_deref(), Some("***"));
    assert_eq!(shown("services[bot].readiness_url").as_deref(), Some("***"));
    assert_eq!(
        p.diff
            .iter()
            .find(|c| c.key == "services[bot].args")
            .and_then(|c| c.old.clone()),
        Some("[\"bot.py\"]".to_string()),
        "a value that holds no secret is still shown"
    );
    assert!(!secret::text_has_secret("http://127.0.0.1:8080/a@b"));
}

#[test]
fn the_backup_feed_keys_are_refused_each_by_name() {
    let old = config("");
    let new = config("[feed.backup]\nkind = \"replay\"\nstale_secs = 5\n");
    let p = plan(&old, &new);
    let keys: Vec<&str> = p.refused.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, ["feed.backup.kind", "feed.backup.stale_secs"]);
    assert!(
        p.refused[1]
            .message()
            .contains("restart Ballast to change feed.backup.stale_secs")
    );
    assert_eq!(
        p.diff,
        vec![
            change("feed.backup.kind", Some("\"none\""), Some("\"replay\"")),
            change("feed.backup.stale_secs", Some("30"), Some("5")),
        ]
    );
}

#[test]
fn every_secret_config_show_masks_is_masked_in_the_diff() {
    let old = config(TWO_SERVICES);
    let new = config(&TWO_SERVICES.replace(
        "args = [\"bot.py\"]",
        "args = [\"--pass\", \"hunter2\", \"-k\", \"x\"]\nenv = { DB_PASS = \"s3cr3t-a\", BROKER_KEY = \"s3cr3t-b\", AUTH = \"Bearer s3cr3t-c\", PGPWD = \"s3cr3t-d\", LEVEL = \"info\" }",
    ));
    let p = plan(&old, &new);
    let text = format!("{:?}", p.diff);
    for leaked in ["hunter2", "s3cr3t-a", "s3cr3t-b", "s3cr3t-c", "s3cr3t-d"] {
        assert!(!text.contains(leaked), "{leaked} in {text}");
    }
    assert!(
        text.contains("info"),
        "a plain value is still shown: {text}"
    );
}

#[test]
fn a_file_that_changed_while_read_or_is_empty_is_never_applied() {
    let stamp = FileStamp {
        len: 10,
        modified_ns: 1,
        changed_ns: 1,
        inode: 7,
        device: 1,
    };
    let read = |before: FileStamp, after: FileStamp, blank| FileRead {
        before: Some(before),
        after: Some(after),
        blank,
    };
    assert_eq!(refusal(&read(stamp, stamp, false)), None);
    assert_eq!(
        refusal(&FileRead::default()),
        None,
        "the built-in configuration"
    );
    for after in [
        FileStamp { len: 0, ..stamp },
        FileStamp {
            modified_ns: 2,
            ..stamp
        },
        FileStamp {
            changed_ns: 2,
            ..stamp
        },
        FileStamp { inode: 8, ..stamp },
    ] {
        assert_eq!(
            refusal(&read(stamp, after, false)),
            Some(CHANGED_WHILE_READ)
        );
    }
    let gone = FileRead {
        before: Some(stamp),
        after: None,
        blank: false,
    };
    assert_eq!(refusal(&gone), Some(CHANGED_WHILE_READ));
    assert_eq!(refusal(&read(stamp, stamp, true)), Some(EMPTY_FILE));
    for text in ["", "  \n\t\n", "# all gone\n\n   # really\n"] {
        assert!(is_blank(text), "{text:?}");
    }
    assert!(!is_blank("# a comment\n[guard]\n"));
}

#[test]
fn a_changed_fallback_restarts_every_service_whose_role_changes() {
    let three = |fallback: &str| {
        config(&format!(
            "[[services]]\nname = \"bot\"\ncommand = \"x\"\nfallback = \"{fallback}\"\n\
             [[services]]\nname = \"backoff\"\ncommand = \"x\"\n\
             [[services]]\nname = \"spare\"\ncommand = \"x\"\n"
        ))
    };
    // The fallback moves from backoff to spare: bot's entry changed, backoff is no longer a
    // fallback (it starts), spare becomes one (it stops to STANDBY).
    let p = plan(&three("backoff"), &three("spare"));
    assert_eq!(
        p.actions,
        vec![
            Action::Restart("backoff".into()),
            Action::Restart("bot".into()),
            Action::Restart("spare".into()),
        ]
    );
    // A fallback named for the first time, and one no longer named.
    let p = plan(&three(""), &three("backoff"));
    assert_eq!(
        p.actions,
        vec![
            Action::Restart("backoff".into()),
            Action::Restart("bot".into())
        ]
    );
    let p = plan(&three("spare"), &three(""));
    assert_eq!(
        p.actions,
        vec![
            Action::Restart("bot".into()),
            Action::Restart("spare".into())
        ]
    );
}

#[test]
fn alert_grouping_applies_live_and_sinks_retries_and_the_heartbeat_url_are_refused() {
    let old = config("");
    let p = plan(
        &old,
        &config("[alerts]\ngroup_wait_secs = 1\nbot_silent_after_secs = 30\n"),
    );
    assert!(!p.is_refused(), "{p:?}");
    assert_eq!(p.actions, vec![Action::AlertSettings]);
    assert_eq!(p.diff.len(), 2);
    for text in [
        "[alerts]\nretry_max_attempts = 2\n",
        "[alerts]\nheartbeat_url = \"https://hc.example/x\"\n",
        "[[alerts.sinks]]\nkind = \"log\"\n",
    ] {
        let p = plan(&old, &config(text));
        assert!(p.is_refused(), "{text}: {p:?}");
        assert!(p.actions.is_empty(), "{text}: {p:?}");
    }
    let p = plan(&old, &config("[[alerts.sinks]]\nkind = \"log\"\n"));
    assert_eq!(p.refused[0].key, "alerts.sinks");
}

#[test]
fn a_diff_of_alert_sinks_masks_url_passwords_and_secret_query_keys_inside_the_tables() {
    let sink = |port: u16, q: &str| {
        format!(
            "[alerts]\nheartbeat_url = \"http://127.0.0.1:1/ping?{q}=HB-SECRET-{port}\"\n[[alerts.sinks]]\nname = \"h\"\nkind = \"webhook\"\nurl = \"http://user:URLPASS-{port}@127.0.0.1:{port}/hook?apikey=Q-SECRET-{port}&x=1\"\n"
        )
    };
    for q in ["key", "token", "secret", "password", "apikey"] {
        let p = plan(&config(&sink(1, q)), &config(&sink(2, q)));
        let text = format!("{:?}", p.diff);
        assert!(
            text.contains("alerts.sinks") && text.contains("***"),
            "{text}"
        );
        for s in ["URLPASS", "Q-SECRET", "HB-SECRET"] {
            assert!(!text.contains(s), "{q}: {s} shown: {text}");
        }
        assert!(
            text.contains("127.0.0.1:2/hook"),
            "the rest is shown: {text}"
        );
    }
}
