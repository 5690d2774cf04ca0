use super::*;

#[test]
fn every_mode_has_a_name_that_parses_back_and_a_description() {
    assert_eq!(ChaosMode::ALL.len(), 15);
    for m in ChaosMode::ALL {
        assert_eq!(ChaosMode::parse(m.as_str()), Some(*m));
        assert!(m.description().len() > 40, "{m}");
        let json = serde_json::to_string(m).unwrap();
        assert_eq!(json, format!("\"{}\"", m.as_str()));
    }
    assert_eq!(ChaosMode::InvalidCreds.response(), Response::SafeHalt);
    assert_eq!(ChaosMode::EngineCrash.response(), Response::Recover);
}

#[test]
fn the_env_var_is_comma_separated_with_whitespace_tolerated() {
    let m = parse_env(" broker_down ,slow_broker,, lost_reply ,broker_down").unwrap();
    assert_eq!(
        m,
        vec![
            ChaosMode::BrokerDown,
            ChaosMode::SlowBroker,
            ChaosMode::LostReply
        ]
    );
    assert_eq!(parse_env("").unwrap(), vec![]);
    assert_eq!(parse_env("Disk_Full").unwrap(), vec![ChaosMode::DiskFull]);
}

#[test]
fn an_unknown_name_is_refused_naming_the_valid_ones() {
    let e = parse_env("broker_down,broker_dwn").unwrap_err();
    assert_eq!(e.name, "broker_dwn");
    let text = e.to_string();
    assert!(
        text.contains("\"broker_dwn\" in CHAOS_MODE is not a chaos mode"),
        "{text}"
    );
    for m in ChaosMode::ALL {
        assert!(text.contains(m.as_str()), "{text} lacks {m}");
    }
}

#[test]
fn the_union_keeps_each_mode_once() {
    let u = union(
        &[ChaosMode::DiskFull, ChaosMode::BrokerDown],
        &[ChaosMode::BrokerDown, ChaosMode::ClockSkew],
    );
    assert_eq!(
        u,
        vec![
            ChaosMode::BrokerDown,
            ChaosMode::DiskFull,
            ChaosMode::ClockSkew
        ]
    );
}

#[test]
fn chaos_is_refused_live_naming_the_modes_and_what_to_do() {
    assert_eq!(live_refusal(&[ChaosMode::BrokerDown], false), None);
    assert_eq!(live_refusal(&[], true), None);
    let why = live_refusal(&[ChaosMode::BrokerDown, ChaosMode::DiskFull], true).unwrap();
    assert!(why.contains("broker_down, disk_full are active"), "{why}");
    assert!(why.contains("refused in live mode"), "{why}");
    assert!(why.contains("unset CHAOS_MODE"), "{why}");
}

#[test]
fn the_config_merges_chaos_mode_into_the_file_and_refuses_it_live() {
    use crate::config::{Source, load};
    let file = "[chaos]\nmodes = [\"disk_full\"]\nseed = 7\n";
    let env = vec![(ENV.to_owned(), "broker_down, disk_full".to_owned())];
    let c = load(
        Some(Source {
            path: "b.toml",
            text: file,
        }),
        &env,
    )
    .unwrap();
    assert_eq!(c.chaos.modes, vec!["disk_full", "broker_down"]);
    let plan = ChaosPlan::of(&c);
    assert_eq!(plan.modes, vec![ChaosMode::BrokerDown, ChaosMode::DiskFull]);
    assert_eq!(plan.knobs.seed, 7);
    assert!(plan.banner().unwrap().contains("broker_down, disk_full"));
    let only_env = load(None, &env).unwrap();
    assert_eq!(only_env.chaos.modes, vec!["broker_down", "disk_full"]);
    assert_eq!(ChaosPlan::of(&load(None, &[]).unwrap()).banner(), None);

    let bad = vec![(ENV.to_owned(), "broker_dwn".to_owned())];
    let e = load(None, &bad).unwrap_err().to_string();
    assert!(e.contains("\"broker_dwn\""), "{e}");
    assert!(e.contains("broker_down, invalid_creds"), "{e}");

    let live = "[general]\nmode = \"live\"\n[broker]\nkind = \"alpaca\"\n";
    let e = load(
        Some(Source {
            path: "b.toml",
            text: live,
        }),
        &env,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("broker_down, disk_full are active"), "{e}");
    assert!(e.contains("refused in live mode"), "{e}");
    let live_file = format!("{live}[chaos]\nmodes = [\"clock_skew\"]\n");
    let e = load(
        Some(Source {
            path: "b.toml",
            text: &live_file,
        }),
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("clock_skew is active"), "{e}");
    assert!(
        load(
            Some(Source {
                path: "b.toml",
                text: live
            }),
            &[]
        )
        .is_ok()
    );
}

#[test]
fn the_defaults_of_the_model_are_the_schema_s() {
    let loaded = crate::config::load(None, &[]).unwrap();
    assert_eq!(loaded.chaos, crate::config::Chaos::default());
}

mod broker_faults {
    use super::super::*;
    use crate::broker::{Broker, BrokerError, PaperChaos, PaperVenue};
    use crate::paper::PaperBroker;
    use crate::portfolio::Portfolio;

    fn plan(modes: &[ChaosMode], knobs: impl FnOnce(&mut crate::config::Chaos)) -> ChaosPlan {
        let mut k = crate::config::Chaos::default();
        knobs(&mut k);
        ChaosPlan {
            modes: modes.to_vec(),
            knobs: k,
        }
    }

    fn calls_with(p: &ChaosPlan, n: usize) -> (Vec<Result<(), BrokerError>>, ChaosCalls, Vec<u64>) {
        let book = PaperBroker::default();
        let account = Portfolio::new(rust_decimal::Decimal::from(1000));
        let mut calls = ChaosCalls::default();
        let mut slept = Vec::new();
        let mut out = Vec::new();
        for _ in 0..n {
            let mut sleep = |ms| slept.push(ms);
            let mut b = ChaosBroker::new(
                PaperVenue::new(&book, &account, PaperChaos::default()),
                p,
                &mut calls,
                &mut sleep,
            );
            out.push(b.account().map(|_| ()));
        }
        (out, calls, slept)
    }

    #[test]
    fn no_mode_no_fault() {
        let (r, calls, slept) = calls_with(&plan(&[], |_| {}), 30);
        assert!(r.iter().all(Result::is_ok));
        assert!(calls.injected.is_empty() && slept.is_empty());
    }

    #[test]
    fn broker_down_is_an_outage_that_ends() {
        let p = plan(&[ChaosMode::BrokerDown], |k| k.outage_calls = 5);
        let (r, calls, _) = calls_with(&p, 30);
        let down = r.iter().filter(|r| r.is_err()).count();
        assert_eq!(down, 5);
        assert!(r.last().unwrap().is_ok(), "it answers again");
        assert!(matches!(
            r.iter().find(|r| r.is_err()),
            Some(Err(BrokerError::Unavailable(_)))
        ));
        assert_eq!(calls.persistent, None);
    }

    #[test]
    fn invalid_creds_is_the_config_class_every_time() {
        let (r, calls, _) = calls_with(&plan(&[ChaosMode::InvalidCreds], |_| {}), 3);
        for e in &r {
            let Err(BrokerError::Unavailable(t)) = e else {
                panic!("{e:?}")
            };
            assert!(t.contains("FAILED_CONFIG") && t.contains("401"), "{t}");
        }
        assert!(calls.persistent.unwrap().contains("FAILED_CONFIG"));
    }

    #[test]
    fn rate_limited_is_a_429_with_retry_after_on_its_share() {
        let (r, calls, _) = calls_with(&plan(&[ChaosMode::RateLimited], |k| k.every = 3), 300);
        let limited = r.iter().filter(|r| r.is_err()).count();
        assert!((60..140).contains(&limited), "{limited} of 300");
        let Some(Err(BrokerError::Unavailable(t))) = r.iter().find(|r| r.is_err()) else {
            panic!()
        };
        assert!(t.contains("429") && t.contains("Retry-After"), "{t}");
        assert_eq!(calls.injected[&ChaosMode::RateLimited], limited as u64);
    }

    #[test]
    fn schema_drift_names_a_field_and_is_persistent() {
        let (r, calls, _) = calls_with(&plan(&[ChaosMode::SchemaDrift], |k| k.every = 1), 2);
        let Err(BrokerError::Schema(t)) = &r[0] else {
            panic!("{:?}", r[0])
        };
        assert!(t.contains("field \"status\""), "{t}");
        assert!(calls.persistent.unwrap().starts_with("FAILED_API_SCHEMA"));
    }

    #[test]
    fn slow_broker_waits_through_the_injected_sleeper() {
        let p = plan(&[ChaosMode::SlowBroker], |k| {
            k.every = 1;
            k.slow_ms = 250;
        });
        let (r, _, slept) = calls_with(&p, 4);
        assert!(r.iter().all(Result::is_ok));
        assert_eq!(slept, vec![250; 4]);
    }
}

#[test]
fn chaos_keys_change_only_with_a_restart() {
    use crate::config::{Source, load, reload};
    let old = load(None, &[]).unwrap();
    let text = "[chaos]\nmodes = [\"broker_down\"]\nseed = 4\n";
    let new = load(
        Some(Source {
            path: "b.toml",
            text,
        }),
        &[],
    )
    .unwrap();
    let plan = reload::plan(&old, &new);
    let refused: Vec<&str> = plan.refused.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(refused, vec!["chaos.modes", "chaos.seed"]);
    assert!(plan.actions.is_empty());
}
