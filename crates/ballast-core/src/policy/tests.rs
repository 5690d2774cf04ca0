use super::*;
use crate::health::{CheckResult, Subsystem, SubsystemHealth};
use crate::limits::POLICY_FILE_MAX_BYTES;

fn report(subs: &[(&str, bool, bool, Status)]) -> Report {
    // (name, critical, impacts trading, status) of each subsystem's single check.
    let v = subs
        .iter()
        .map(|(name, critical, trading, status)| {
            SubsystemHealth::new(
                Subsystem {
                    name: name.to_string(),
                    critical: *critical,
                    impacts_trading: *trading,
                    depends_on: vec![],
                    interval_ms: 1000,
                },
                vec![CheckResult::new("main", *status, "x")],
                Timestamp::EPOCH,
            )
        })
        .collect();
    Report::build(v, &[], Timestamp::EPOCH)
}

fn limits() -> Protections {
    Protections {
        max_drawdown_pct: Decimal::from(20),
        daily_loss_limit_pct: Decimal::from(5),
        stop_loss_streak: 3,
        stop_loss_cooldown_ms: 60_000,
    }
}

fn t(s: i64) -> Timestamp {
    Timestamp::from_unix_ms(1_700_000_000_000 + s * 1000)
}

const HEALTHY: &[(&str, bool, bool, Status)] = &[("engine", true, true, Status::Healthy)];

fn input(r: &Report) -> Input<'_> {
    Input {
        kill_switch: false,
        report: r,
        account: None,
    }
}

#[test]
fn the_rules_in_order_first_match_wins() {
    type Subs<'a> = &'a [(&'a str, bool, bool, Status)];
    let cases: &[(Subs<'_>, Policy)] = &[
        (HEALTHY, Policy::AllowAll),
        (
            &[("engine", true, true, Status::Failed)],
            Policy::EmergencyShutdown,
        ),
        (
            &[("engine", true, true, Status::Critical)],
            Policy::DefensiveExit,
        ),
        (
            &[("journal", true, false, Status::Critical)],
            Policy::NoNewTrades,
        ),
        (
            &[("feed", true, true, Status::Degraded)],
            Policy::NoNewTrades,
        ),
        (
            &[("resources", false, false, Status::Critical)],
            Policy::SafeRiskProfile,
        ),
        (
            &[("service:bot", false, false, Status::Failed)],
            Policy::SafeRiskProfile,
        ),
        (
            &[("logging", false, false, Status::Degraded)],
            Policy::AllowAll,
        ),
        // A CRITICAL trading issue is treated more strictly than a DEGRADED one, never less.
        (
            &[
                ("feed", true, true, Status::Degraded),
                ("engine", true, true, Status::Critical),
            ],
            Policy::DefensiveExit,
        ),
    ];
    for (subs, want) in cases {
        let r = report(subs);
        assert_eq!(target(&input(&r), &[]).0, *want, "{subs:?}");
    }
    let r = report(HEALTHY);
    let ks = Input {
        kill_switch: true,
        ..input(&r)
    };
    assert_eq!(target(&ks, &[]).0, Policy::EmergencyShutdown);
    assert_eq!(
        Policy::EmergencyShutdown.trading_state(),
        TradingState::Halted
    );
    assert_eq!(
        Policy::DefensiveExit.trading_state(),
        TradingState::Reducing
    );
    assert_eq!(
        Policy::SafeRiskProfile.size_multiplier(),
        Decimal::new(5, 1)
    );
}

#[test]
fn escalation_is_immediate_de_escalation_waits_for_the_hysteresis() {
    let mut st = PolicyState::new(t(0));
    let bad = report(&[("feed", true, true, Status::Degraded)]);
    let good = report(HEALTHY);
    let tr = step(&mut st, &input(&bad), &limits(), 300_000, t(1)).unwrap();
    assert_eq!((tr.from, tr.to), (Policy::AllowAll, Policy::NoNewTrades));
    // Clear, but not for long enough.
    assert!(step(&mut st, &input(&good), &limits(), 300_000, t(2)).is_none());
    assert!(step(&mut st, &input(&good), &limits(), 300_000, t(301)).is_none());
    // The condition comes back: the clock starts over.
    assert!(step(&mut st, &input(&bad), &limits(), 300_000, t(302)).is_none());
    assert!(step(&mut st, &input(&good), &limits(), 300_000, t(303)).is_none());
    assert!(step(&mut st, &input(&good), &limits(), 300_000, t(602)).is_none());
    let down = step(&mut st, &input(&good), &limits(), 300_000, t(603)).unwrap();
    assert_eq!(down.to, Policy::AllowAll);
    assert!(down.reason.contains("clear for 5 min"), "{}", down.reason);
}

#[test]
fn emergency_shutdown_is_left_only_by_an_operator_with_a_clean_reconciliation() {
    let mut st = PolicyState::new(t(0));
    let failed = report(&[("engine", true, true, Status::Failed)]);
    let good = report(HEALTHY);
    step(&mut st, &input(&failed), &limits(), 1_000, t(1)).unwrap();
    assert_eq!(st.policy, Policy::EmergencyShutdown);
    for s in [10, 100, 10_000] {
        assert!(step(&mut st, &input(&good), &limits(), 1_000, t(s)).is_none());
    }
    assert_eq!(st.policy, Policy::EmergencyShutdown);
    let ks = Input {
        kill_switch: true,
        ..input(&good)
    };
    assert!(
        release(&mut st, &ks, Ok(()), t(20_000))
            .unwrap_err()
            .contains("kill switch")
    );
    let e = release(
        &mut st,
        &input(&good),
        Err("1 order in unknown state".into()),
        t(20_000),
    );
    assert!(e.unwrap_err().contains("1 order in unknown state"));
    assert!(
        release(&mut st, &input(&failed), Ok(()), t(20_000))
            .unwrap_err()
            .contains("still EMERGENCY_SHUTDOWN")
    );
    let tr = release(&mut st, &input(&good), Ok(()), t(20_001))
        .unwrap()
        .unwrap();
    assert_eq!(tr.to, Policy::AllowAll);
}

#[test]
fn protections_latch_until_their_reset_or_an_operator() {
    let good = report(HEALTHY);
    let mut st = PolicyState::new(t(0));
    let acct = |equity: i64, peak: i64, sod: i64, streak| Account {
        equity: Decimal::from(equity),
        peak_equity: Decimal::from(peak),
        start_of_day_equity: Decimal::from(sod),
        losing_streak: streak,
    };
    fn with<'a>(good: &'a Report, a: &'a Account) -> Input<'a> {
        Input {
            kill_switch: false,
            report: good,
            account: Some(a),
        }
    }
    let with = |a| with(&good, a);
    // Daily loss: latched until the next UTC day, even when equity recovers.
    let down = acct(94_000, 100_000, 100_000, 0);
    let tr = step(&mut st, &with(&down), &limits(), 0, t(0)).unwrap();
    assert_eq!(tr.to, Policy::NoNewTrades);
    assert!(tr.reason.contains("DailyLoss"), "{}", tr.reason);
    let up = acct(100_000, 100_000, 100_000, 0);
    assert!(step(&mut st, &with(&up), &limits(), 0, t(60)).is_none());
    let midnight = (t(0).day_number() + 1) * 86_400_000;
    let after = Timestamp::from_unix_ms(midnight);
    let tr = step(&mut st, &with(&up), &limits(), 0, after).unwrap();
    assert_eq!(tr.to, Policy::AllowAll);
    // Drawdown: until an operator.
    let dd = acct(79_000, 100_000, 79_500, 0);
    step(&mut st, &with(&dd), &limits(), 0, after.plus_ms(1)).unwrap();
    assert!(
        step(
            &mut st,
            &with(&up),
            &limits(),
            0,
            after.plus_ms(86_400_000 * 30)
        )
        .is_none()
    );
    assert_eq!(st.policy, Policy::NoNewTrades);
    release(&mut st, &with(&up), Ok(()), after.plus_ms(86_400_000 * 30)).unwrap();
    assert_eq!(st.policy, Policy::AllowAll);
    // Stop-loss streak: for the cooldown.
    let streak = acct(100_000, 100_000, 100_000, 3);
    let start = after.plus_ms(86_400_000 * 31);
    step(&mut st, &with(&streak), &limits(), 0, start).unwrap();
    let calm = acct(100_000, 100_000, 100_000, 0);
    assert!(step(&mut st, &with(&calm), &limits(), 0, start.plus_ms(59_000)).is_none());
    assert_eq!(
        step(&mut st, &with(&calm), &limits(), 0, start.plus_ms(60_000))
            .unwrap()
            .to,
        Policy::AllowAll
    );
}

#[test]
fn an_operator_floor_holds_until_released_and_the_state_round_trips() {
    let good = report(HEALTHY);
    let mut st = PolicyState::new(t(0));
    st.floor = Some(Policy::NoNewTrades);
    let tr = step(&mut st, &input(&good), &limits(), 0, t(1)).unwrap();
    assert!(tr.reason.contains("operator"), "{}", tr.reason);
    assert!(step(&mut st, &input(&good), &limits(), 0, t(1_000)).is_none());
    let json = serde_json::to_string(&st).unwrap();
    let back: PolicyState = serde_json::from_str(&json).unwrap();
    assert_eq!(back, st);
    release(&mut st, &input(&good), Ok(()), t(1_001)).unwrap();
    assert_eq!(st.policy, Policy::AllowAll);
}
#[test]
fn item_2_the_policy_file_carries_a_checksum_and_only_an_intact_one_is_read() {
    let mut st = PolicyState::new(t(0));
    st.policy = Policy::EmergencyShutdown;
    st.releases = 3;
    st.reason = "critical subsystem service:risk-feed FAILED".into();
    let bytes = encode_file(&st);
    assert_eq!(bytes.iter().filter(|b| **b == b'\n').count(), 1, "one line");
    assert_eq!(decode_file(&bytes).unwrap(), st);
    // What the engine and `jq` read is plain JSON.
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["policy"], "EMERGENCY_SHUTDOWN");
    assert_eq!(v["trading_state"], "HALTED");
    // Any changed byte of the content, a hand-written file, an older one without the
    // checksum, an empty or oversized one: refused, with what is wrong in words.
    for i in [2, 12, bytes.len() / 2, bytes.len() - 14] {
        let mut b = bytes.clone();
        b[i] ^= 0x01;
        assert!(decode_file(&b).is_err(), "byte {i} flipped");
    }
    let hand = br#"{"policy":"ALLOW_ALL","reason":"by hand"}"#;
    assert!(decode_file(hand).unwrap_err().contains("no checksum"));
    assert!(decode_file(b"").unwrap_err().contains("too short"));
    let big = vec![b' '; (POLICY_FILE_MAX_BYTES + 1) as usize];
    assert!(decode_file(&big).unwrap_err().contains("more than"));
}

#[test]
fn item_2_a_restart_never_starts_less_strict_than_the_engine_journaled() {
    let j = |p: Policy, releases| {
        JournalView::Last(Journaled {
            policy: p,
            reason: "critical subsystem service:risk-feed FAILED".into(),
            releases,
        })
    };
    let file = |p: Policy| {
        let mut s = PolicyState::new(t(0));
        s.policy = p;
        s.reason = "from the file".into();
        FileRead::Valid(s)
    };
    let es = Policy::EmergencyShutdown;
    let bad = || FileRead::Unreadable("its checksum does not match".into());
    // (file, journal) -> (policy, floor, written again and warned about)
    let cases: Vec<(FileRead, JournalView, Policy, Option<Policy>, bool)> = vec![
        // A fresh data directory.
        (
            FileRead::Missing,
            JournalView::Fresh,
            Policy::AllowAll,
            None,
            false,
        ),
        (
            bad(),
            JournalView::Fresh,
            Policy::NoNewTrades,
            Some(Policy::NoNewTrades),
            true,
        ),
        (
            file(Policy::SafeRiskProfile),
            JournalView::Fresh,
            Policy::SafeRiskProfile,
            None,
            false,
        ),
        // Deleted or damaged: rebuilt from the journal.
        (FileRead::Missing, j(es, 2), es, None, true),
        (bad(), j(es, 2), es, None, true),
        (
            FileRead::Missing,
            j(Policy::NoNewTrades, 0),
            Policy::NoNewTrades,
            None,
            true,
        ),
        (
            FileRead::Missing,
            JournalView::NeverChanged,
            Policy::AllowAll,
            None,
            true,
        ),
        // A valid but less strict file (forged, or written before the engine followed):
        // the journal wins.
        (file(Policy::AllowAll), j(es, 0), es, None, true),
        (
            file(Policy::SafeRiskProfile),
            j(Policy::DefensiveExit, 0),
            Policy::DefensiveExit,
            None,
            true,
        ),
        // As strict or stricter (the engine was down when the supervisor escalated).
        (file(es), j(Policy::AllowAll, 0), es, None, false),
        (file(es), JournalView::NeverChanged, es, None, false),
        (
            file(Policy::NoNewTrades),
            j(Policy::NoNewTrades, 0),
            Policy::NoNewTrades,
            None,
            false,
        ),
    ];
    for (i, (f, jv, want, floor, rewrite)) in cases.into_iter().enumerate() {
        let r = restore(f, &jv, None, t(5));
        assert_eq!(r.state.policy, want, "case {i}");
        assert_eq!(r.state.floor, floor, "case {i}");
        assert_eq!(r.rewrite, rewrite, "case {i}");
        assert_eq!(r.warning.is_some(), rewrite, "case {i}: {:?}", r.warning);
        if let JournalView::Last(j) = &jv {
            assert!(r.state.releases >= j.releases, "case {i}");
        }
        if let Some(w) = &r.warning {
            assert!(!w.contains("Some(") && !w.contains("{"), "words only: {w}");
            if want == es {
                assert!(w.contains("only `ballast resume` leaves it"), "{w}");
            }
        }
    }
    // The ops journal's last change is a floor too: the engine was down (or disabled) when
    // the supervisor escalated.
    let ops = |f: FileRead, jv: JournalView, rec: Policy| restore(f, &jv, Some(rec), t(5));
    let r = ops(FileRead::Missing, JournalView::Fresh, es);
    assert_eq!((r.state.policy, r.rewrite), (es, true));
    assert!(
        r.warning
            .unwrap()
            .contains("rebuilt from the supervisor's ops journal as EMERGENCY_SHUTDOWN")
    );
    let r = ops(file(Policy::AllowAll), JournalView::NeverChanged, es);
    assert_eq!(r.state.policy, es);
    assert!(
        r.warning
            .unwrap()
            .contains("the ops journal last recorded EMERGENCY_SHUTDOWN")
    );
    let r = ops(FileRead::Missing, j(Policy::NoNewTrades, 2), es);
    assert_eq!((r.state.policy, r.state.releases), (es, 2));
    let r = ops(FileRead::Missing, j(es, 1), Policy::AllowAll);
    assert_eq!(r.state.policy, es, "the stricter of the two");
    assert!(
        r.state.reason.contains("engine's journal"),
        "{}",
        r.state.reason
    );
    let r = ops(file(es), JournalView::Fresh, Policy::NoNewTrades);
    assert_eq!((r.state.policy, r.rewrite), (es, false));
    // Rebuilt from the journal, EMERGENCY_SHUTDOWN is still left only by a release.
    let mut st = restore(FileRead::Missing, &j(es, 0), None, t(5)).state;
    let good = report(HEALTHY);
    assert!(step(&mut st, &input(&good), &limits(), 0, t(6_000)).is_none());
    assert_eq!(st.policy, es);
    release(&mut st, &input(&good), Ok(()), t(6_001)).unwrap();
    assert_eq!((st.policy, st.releases), (Policy::AllowAll, 1));
}

#[test]
fn item_2_the_engine_leaves_emergency_shutdown_only_for_a_newer_operator_release() {
    let file = |p: Policy, releases| {
        let mut s = PolicyState::new(t(0));
        s.policy = p;
        s.releases = releases;
        s.journal = Some("0badc0de".into());
        s
    };
    let es = Policy::EmergencyShutdown;
    let all = [
        Policy::AllowAll,
        Policy::SafeRiskProfile,
        Policy::NoNewTrades,
        Policy::DefensiveExit,
        es,
    ];
    for in_force in all {
        for to in all {
            for (journaled, carried) in [(0, 0), (2, 2), (2, 1), (2, 3)] {
                let got = adopt(in_force, journaled, &file(to, carried), Some("0badc0de"));
                // Another journal's file never lowers the policy; a stricter one is taken.
                let foreign = adopt(in_force, journaled, &file(to, carried), Some("feedbeef"));
                assert_eq!(foreign.is_ok(), to >= in_force, "{in_force:?} -> {to:?}");
                if let Err(e) = &foreign {
                    assert!(e.contains("not written for this data directory"), "{e}");
                }
                let want = if to == in_force {
                    Ok(false)
                } else if to > in_force || in_force != es || carried > journaled {
                    Ok(true)
                } else {
                    Err(())
                };
                assert_eq!(
                    got.clone().map_err(|_| ()),
                    want,
                    "{in_force:?} -> {to:?} releases {journaled}/{carried}"
                );
                if let Err(e) = got {
                    assert!(e.contains("`ballast resume`"), "{e}");
                    assert!(e.contains(to.as_str()), "{e}");
                }
            }
        }
    }
}
#[test]
fn item_21_each_issue_names_what_the_policy_does_and_never_contradicts_it() {
    let statuses = [
        Status::Healthy,
        Status::Unknown,
        Status::Degraded,
        Status::Critical,
        Status::Failed,
    ];
    let mut kinds = Vec::new();
    for critical in [false, true] {
        for trading in [false, true] {
            for st in statuses {
                kinds.push((critical, trading, st));
            }
        }
    }
    for a in &kinds {
        for b in &kinds {
            let subs = [("a", a.0, a.1, a.2), ("b", b.0, b.1, b.2)];
            let r = report(&subs);
            let strictest = r.issues.iter().map(|i| i.policy).max().unwrap_or_default();
            assert_eq!(target(&input(&r), &[]).0, strictest, "{subs:?}");
        }
    }
    // The case of issue 10 item 21: a busy machine is HIGH and halves order sizes — and says so.
    let r = report(&[("resources", false, false, Status::Critical)]);
    assert_eq!(r.issues[0].policy, Policy::SafeRiskProfile);
    assert_eq!(
        r.issues[0].policy.effect(),
        "order sizes halved (SAFE_RISK_PROFILE)"
    );
    let r = report(&[("logging", false, false, Status::Degraded)]);
    assert_eq!(r.issues[0].policy.effect(), "no effect on trading");
}

#[test]
fn item_21_the_outlook_counts_the_hysteresis_down() {
    let mut st = PolicyState::new(t(0));
    let high = report(&[("resources", false, false, Status::Critical)]);
    let good = report(HEALTHY);
    step(&mut st, &input(&high), &limits(), 300_000, t(1)).unwrap();
    assert_eq!(
        outlook(&st, &input(&high), 300_000, t(1)),
        None,
        "nothing lower yet"
    );
    assert!(step(&mut st, &input(&good), &limits(), 300_000, t(10)).is_none());
    let o = outlook(&st, &input(&good), 300_000, t(60)).unwrap();
    assert_eq!(o.to, Some(Policy::AllowAll));
    assert_eq!(o.in_ms, Some(250_000));
    assert_eq!(o.text, "steps down to ALLOW_ALL in 4 min 10 s if clear");
    let o = outlook(&st, &input(&good), 300_000, t(309)).unwrap();
    assert_eq!(o.text, "steps down to ALLOW_ALL in 1 s if clear");
    // An operator floor holds it: no countdown below the floor, and it says who holds it.
    st.floor = Some(Policy::SafeRiskProfile);
    let o = outlook(&st, &input(&good), 300_000, t(60)).unwrap();
    assert_eq!((o.to, o.in_ms), (None, None));
    assert_eq!(
        o.text,
        "held at SAFE_RISK_PROFILE by an operator until `ballast resume`"
    );
    assert_eq!(outlook(&st, &input(&high), 300_000, t(60)), None);
    st.floor = None;
    // EMERGENCY_SHUTDOWN: only an operator.
    let failed = report(&[("engine", true, true, Status::Failed)]);
    step(&mut st, &input(&failed), &limits(), 300_000, t(400)).unwrap();
    let o = outlook(&st, &input(&good), 300_000, t(500)).unwrap();
    assert_eq!((o.to, o.in_ms), (None, None));
    assert!(o.text.contains("`ballast resume`"), "{}", o.text);
    for (ms, words) in [
        (0, "0 s"),
        (1, "1 s"),
        (45_000, "45 s"),
        (60_000, "1 min"),
        (250_000, "4 min 10 s"),
        (3_600_000, "1 h"),
        (3_900_000, "1 h 5 min"),
    ] {
        assert_eq!(duration_words(ms), words);
    }
}

#[test]
fn an_open_reconciliation_finding_asks_for_no_new_trades_never_an_exit() {
    // A DEFENSIVE_EXIT would close positions by Ballast's books — the very books the broker
    // contradicts; the engine's reconciliation latch halts or reduces, the operator chooses.
    let sub = Subsystem {
        name: "broker".to_string(),
        critical: true,
        impacts_trading: true,
        depends_on: vec![],
        interval_ms: 1000,
    };
    let checks = vec![CheckResult::new("reconciliation", Status::Critical, "x")];
    let r = Report::build(
        vec![SubsystemHealth::new(sub, checks, Timestamp::EPOCH)],
        &[],
        Timestamp::EPOCH,
    );
    assert_eq!(r.issues[0].id, crate::health::venue::RECONCILIATION_ISSUE);
    let (policy, why) = target(&input(&r), &[]);
    assert_eq!(policy, Policy::NoNewTrades, "{why}");
    assert_eq!(
        issue_policy(&r.issues[0]),
        policy,
        "the issue's words agree"
    );
}

#[test]
fn an_issue_s_policy_reason_says_what_it_is_so_the_log_line_names_the_symbol() {
    let v = vec![SubsystemHealth::new(
        Subsystem {
            name: "broker".into(),
            critical: true,
            impacts_trading: false,
            depends_on: vec![],
            interval_ms: 1000,
        },
        vec![CheckResult::new(
            "reconciliation",
            Status::Critical,
            "quantity mismatch AAA: Ballast 10, broker 15",
        )],
        Timestamp::EPOCH,
    )];
    let r = Report::build(v, &[], Timestamp::EPOCH);
    let (p, why) = target(&input(&r), &[]);
    assert_eq!(p, Policy::NoNewTrades);
    assert_eq!(
        why,
        "CRITICAL issue broker/reconciliation: quantity mismatch AAA: Ballast 10, broker 15"
    );
}
