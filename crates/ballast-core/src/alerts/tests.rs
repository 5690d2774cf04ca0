use super::outbox::{Attempt, Record, fold};
use super::*;
use crate::health::{Severity as H, Status as S};
use proptest::prelude::*;

const T: Timing = Timing {
    group_wait_ms: 1_000,
    group_interval_ms: 5_000,
    repeat_interval_ms: 60_000,
    escalate_after: 2,
};

fn at(ms: i64) -> Timestamp {
    Timestamp::from_unix_ms(1_700_000_000_000 + ms)
}

fn routes() -> Vec<Route> {
    vec![
        Route {
            name: "hook".into(),
            min_severity: Severity::Warning,
        },
        Route {
            name: "pager".into(),
            min_severity: Severity::Critical,
        },
    ]
}

fn alert(key: &str, group: &str, severity: Severity) -> Alert {
    Alert {
        key: key.into(),
        group: group.into(),
        severity,
        title: format!("{key} title"),
        text: format!("{key} text"),
        labels: BTreeMap::new(),
    }
}

fn issue(subsystem: &str, severity: H) -> Issue {
    Issue {
        id: format!("{subsystem}/state"),
        subsystem: subsystem.into(),
        check: "state".into(),
        status: S::Failed,
        severity,
        symptoms: vec!["exited 3 times in 60 s".into()],
        root_cause: None,
        impacts_trading: false,
        affects: vec![],
        since: at(0),
        policy: Policy::AllowAll,
    }
}

#[test]
fn a_new_alert_waits_group_wait_then_fires_once_to_the_sinks_of_its_severity() {
    let mut b = Book::default();
    let a = [alert("issue:x", "service:x", Severity::Warning)];
    assert!(b.step(at(0), &a, &T, &routes()).is_empty(), "group_wait");
    let n = b.step(at(1_000), &a, &T, &routes());
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].status, Status::Firing);
    assert_eq!(
        n[0].sinks,
        vec!["hook".to_string()],
        "warning: not the pager"
    );
    assert_eq!(n[0].alerts[0].started_at, at(0));
    // The same condition, every cycle: deduplicated until the repeat interval.
    for ms in (2_000..61_000).step_by(1_000) {
        assert!(b.step(at(ms), &a, &T, &routes()).is_empty(), "at {ms}");
    }
    let r = b.step(at(61_000), &a, &T, &routes());
    assert_eq!((r.len(), r[0].repeat), (1, 1));
    assert_ne!(r[0].id, n[0].id);
}

#[test]
fn alerts_that_come_together_are_one_notification_and_a_later_one_waits_group_interval() {
    let mut b = Book::default();
    let a = alert("issue:a", "g", Severity::Warning);
    let c = alert("issue:c", "g", Severity::Critical);
    b.step(at(0), std::slice::from_ref(&a), &T, &routes());
    let n = b.step(at(1_000), &[a.clone(), c.clone()], &T, &routes());
    assert_eq!(n[0].alerts.len(), 2);
    assert_eq!(n[0].severity, Severity::Critical);
    assert_eq!(n[0].sinks, vec!["hook".to_string(), "pager".to_string()]);
    let d = alert("issue:d", "g", Severity::Warning);
    let all = [a, c, d];
    assert!(b.step(at(2_000), &all, &T, &routes()).is_empty());
    let n = b.step(at(6_000), &all, &T, &routes());
    assert_eq!(
        n[0].alerts.len(),
        3,
        "the whole group, as Alertmanager sends it"
    );
}

#[test]
fn a_cleared_alert_is_resolved_after_group_interval_and_a_flap_within_group_wait_is_silent() {
    let mut b = Book::default();
    let a = [alert("issue:x", "g", Severity::Warning)];
    b.step(at(0), &a, &T, &routes());
    b.step(at(1_000), &a, &T, &routes());
    assert!(b.step(at(2_000), &[], &T, &routes()).is_empty(), "interval");
    let r = b.step(at(6_000), &[], &T, &routes());
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].status, Status::Resolved);
    assert_eq!(r[0].alerts[0].ended_at, Some(at(2_000)));
    assert!(b.active_keys().is_empty());
    // A flap: raised and cleared within group_wait is never announced.
    let mut b = Book::default();
    b.step(at(0), &a, &T, &routes());
    for ms in [500, 1_000, 10_000] {
        assert!(b.step(at(ms), &[], &T, &routes()).is_empty());
    }
}

#[test]
fn after_escalate_after_repeats_the_notification_goes_one_severity_up_to_more_sinks() {
    let mut b = Book::default();
    let a = [alert("issue:x", "g", Severity::Warning)];
    b.step(at(0), &a, &T, &routes());
    let first = b.step(at(1_000), &a, &T, &routes());
    let r1 = b.step(at(61_000), &a, &T, &routes());
    let r2 = b.step(at(121_000), &a, &T, &routes());
    assert!(!first[0].escalated && !r1[0].escalated);
    assert!(r2[0].escalated);
    assert_eq!(r2[0].severity, Severity::Critical);
    assert!(r2[0].sinks.contains(&"pager".to_string()));
    assert!(r2[0].text().contains("ESCALATED"), "{}", r2[0].text());
}

#[test]
fn a_held_alert_whose_severity_rises_is_notified_again_to_the_sinks_of_its_new_severity() {
    // A service's issue is LOW (not started yet) before it is HIGH (FAILED): same key.
    let mut b = Book::default();
    b.step(
        at(0),
        &[alert("issue:s", "g", Severity::Info)],
        &T,
        &routes(),
    );
    assert!(
        b.step(
            at(1_000),
            &[alert("issue:s", "g", Severity::Info)],
            &T,
            &routes()
        )
        .is_empty()
    );
    let up = [alert("issue:s", "g", Severity::Warning)];
    let n = b.step(at(1_100), &up, &T, &routes());
    assert_eq!(n.len(), 1, "risen: a change");
    assert_eq!(
        (n[0].severity, n[0].sinks.clone()),
        (Severity::Warning, vec!["hook".to_string()])
    );
    assert_eq!(
        n[0].alerts[0].started_at,
        at(0),
        "the same alert, still since its start"
    );
    // Falling back is no news, nor is rising again to what was sent.
    let down = [alert("issue:s", "g", Severity::Info)];
    assert!(b.step(at(9_000), &down, &T, &routes()).is_empty());
    assert!(b.step(at(20_000), &up, &T, &routes()).is_empty());
    // Above what was sent is.
    let crit = [alert("issue:s", "g", Severity::Critical)];
    assert_eq!(b.step(at(30_000), &crit, &T, &routes()).len(), 1);
}

#[test]
fn a_restored_alert_back_at_its_sent_severity_after_a_lower_start_is_not_sent_again() {
    let n = raised(&mut Book::default());
    let mut book = fold([Record::Notified(n)]).book;
    let low = [alert("issue:x", "g", Severity::Info)];
    let back = [alert("issue:x", "g", Severity::Critical)];
    assert!(book.step(at(2_000), &low, &T, &routes()).is_empty());
    assert!(book.step(at(9_000), &back, &T, &routes()).is_empty());
}

#[test]
fn an_alert_no_sink_takes_is_not_notified() {
    let mut b = Book::default();
    let a = [alert("policy:SAFE_RISK_PROFILE", "policy", Severity::Info)];
    b.step(at(0), &a, &T, &routes());
    assert!(b.step(at(1_000), &a, &T, &routes()).is_empty());
}

#[test]
fn conditions_cover_issues_policy_kill_switch_and_a_silent_bot() {
    let issues = [issue("service:bot", H::High)];
    let mut o = Observed {
        issues: &issues,
        policy: Policy::NoNewTrades,
        policy_reason: "feed stale",
        kill_switch: true,
        heartbeat_age_ms: Some(121_000),
        bot_silent_after_ms: 120_000,
    };
    let keys: Vec<String> = conditions(&o).into_iter().map(|a| a.key).collect();
    assert_eq!(
        keys,
        [
            "issue:service:bot/state",
            "policy:NO_NEW_TRADES",
            "kill_switch",
            "bot_silent"
        ]
    );
    o.heartbeat_age_ms = Some(119_000);
    o.policy = Policy::AllowAll;
    o.kill_switch = false;
    assert_eq!(conditions(&o).len(), 1, "young heartbeat: not silent");
    o.heartbeat_age_ms = Some(1_000_000);
    o.bot_silent_after_ms = 0;
    assert_eq!(conditions(&o).len(), 1, "0 turns bot silent off");
    o.heartbeat_age_ms = None;
    o.bot_silent_after_ms = 1;
    assert_eq!(conditions(&o).len(), 1, "no engine: no bot-silent alert");
    let a = &conditions(&Observed {
        heartbeat_age_ms: None,
        ..o
    })[0];
    assert_eq!(a.severity, Severity::Warning);
    assert!(a.text.contains("exited 3 times"), "{}", a.text);
}

fn raised(b: &mut Book) -> Notification {
    let a = [alert("issue:x", "g", Severity::Critical)];
    b.step(at(0), &a, &T, &routes());
    b.step(at(1_000), &a, &T, &routes()).remove(0)
}

#[test]
fn the_outbox_owes_each_sink_without_a_delivery_or_a_final_failure() {
    let n = raised(&mut Book::default());
    let delivered = |sink: &str| {
        Record::Delivered(Attempt {
            id: n.id.clone(),
            sink: sink.into(),
            attempt: 2,
            reason: None,
            gave_up: false,
        })
    };
    let failed = |sink: &str, attempt, gave_up| {
        Record::Failed(Attempt {
            id: n.id.clone(),
            sink: sink.into(),
            attempt,
            reason: Some("connection refused".into()),
            gave_up,
        })
    };
    let f = fold([Record::Notified(n.clone()), failed("hook", 1, false)]);
    assert_eq!(f.owed.len(), 2);
    assert_eq!((f.owed[0].sink.as_str(), f.owed[0].attempts), ("hook", 1));
    let f = fold([
        Record::Notified(n.clone()),
        failed("hook", 1, false),
        delivered("hook"),
        failed("pager", 8, true),
    ]);
    assert!(f.owed.is_empty(), "{:?}", f.owed);
    let active = f.book.active();
    assert_eq!((active.len(), active[0].0.as_str()), (1, "g"));
    assert_eq!(active[0].1.key, "issue:x");
    // The alert is in force after the restart: the same condition raises nothing new.
    let mut book = f.book;
    let a = [alert("issue:x", "g", Severity::Critical)];
    assert!(book.step(at(2_000), &a, &T, &routes()).is_empty());
    assert!(book.step(at(3_000), &a, &T, &routes()).is_empty());
    // ... and its clearing is announced.
    let r = book.step(at(7_000), &[], &T, &routes());
    assert_eq!(r[0].status, Status::Resolved);
}

#[test]
fn after_a_restart_a_restored_alert_missing_during_the_settle_window_is_kept() {
    let n = raised(&mut Book::default());
    let mut book = fold([Record::Notified(n)]).book;
    book.settle(at(10_000));
    assert!(book.step(at(2_000), &[], &T, &routes()).is_empty());
    let a = [alert("issue:x", "g", Severity::Critical)];
    assert!(
        book.step(at(3_000), &a, &T, &routes()).is_empty(),
        "back: no new firing"
    );
    let r = book.step(at(11_000), &[], &T, &routes());
    assert_eq!(
        r[0].status,
        Status::Resolved,
        "after the window, resolved as usual"
    );
}

#[test]
fn records_round_trip_through_their_journal_bodies() {
    let n = raised(&mut Book::default());
    let body = serde_json::to_string(&n).unwrap_or_default();
    assert_eq!(Record::parse(n.kind(), &body), Some(Record::Notified(n)));
    assert_eq!(Record::parse("alert.delivered", "{"), None);
    assert_eq!(Record::parse("service.started", "{}"), None);
}

#[test]
fn the_outbox_takes_over_at_most_max_pending_notifications_the_newest() {
    let mut records = Vec::new();
    for i in 0..(outbox::MAX_PENDING + 3) {
        let mut n = raised(&mut Book::default());
        n.id = format!("n{i}");
        records.push(Record::Notified(n));
    }
    let f = fold(records);
    assert_eq!(f.dropped, 3);
    assert_eq!(f.owed.len(), outbox::MAX_PENDING * 2);
    assert_eq!(f.owed[0].notification.id, "n3");
}

const R: Retry = Retry {
    base_ms: 100,
    max_ms: 5_000,
    max_attempts: 6,
};

#[test]
fn the_retry_schedule_gives_up_after_max_attempts() {
    assert!(retry_after(&R, 5, 7).is_some());
    assert_eq!(retry_after(&R, 6, 7), None);
    assert_eq!(retry_after(&R, 0, 7), None);
    let one = Retry {
        max_attempts: 1,
        ..R
    };
    assert_eq!(retry_after(&one, 1, 7), None, "one attempt: no retry");
}

proptest! {
    #[test]
    fn retry_delays_are_jittered_within_half_to_the_capped_step(
        attempt in 1u32..6, seed in any::<u64>(), base in 1u64..10_000, max in 1u64..100_000,
    ) {
        let r = Retry { base_ms: base, max_ms: max, max_attempts: 6 };
        let step = base.saturating_mul(1 << (attempt - 1)).min(max);
        let d = retry_after(&r, attempt, seed);
        prop_assert!(d.is_some_and(|d| d >= step / 2 && d <= step), "{d:?} of {step}");
    }

    /// Whatever the conditions do, a group is notified at most once per group interval, and
    /// every alert announced firing is announced resolved once it has been clear long enough.
    #[test]
    fn grouping_rate_limits_and_always_resolves(
        cycles in proptest::collection::vec(proptest::collection::vec(0u8..4, 0..4), 1..60),
    ) {
        let mut b = Book::default();
        let mut last: BTreeMap<String, i64> = BTreeMap::new();
        let mut firing: BTreeMap<String, ()> = BTreeMap::new();
        let mut ms = 0i64;
        let cycle = |b: &mut Book, ms: i64, cur: &[Alert], last: &mut BTreeMap<String, i64>,
                     firing: &mut BTreeMap<String, ()>| -> Result<(), TestCaseError> {
            for n in b.step(at(ms), cur, &T, &routes()) {
                if let Some(prev) = last.get(&n.group) {
                    prop_assert!(ms - prev >= T.group_interval_ms || ms == *prev,
                        "{} notified at {prev} and {ms}", n.group);
                }
                last.insert(n.group.clone(), ms);
                for a in &n.alerts {
                    match n.status {
                        Status::Firing => { firing.insert(a.key.clone(), ()); }
                        Status::Resolved => { firing.remove(&a.key); }
                    }
                }
            }
            Ok(())
        };
        for keys in cycles {
            let cur: Vec<Alert> = keys.iter()
                .map(|k| alert(&format!("k{k}"), if *k < 2 { "g1" } else { "g2" }, Severity::Warning))
                .collect();
            cycle(&mut b, ms, &cur, &mut last, &mut firing)?;
            ms += 700;
        }
        for _ in 0..20 {
            cycle(&mut b, ms, &[], &mut last, &mut firing)?;
            ms += 700;
        }
        prop_assert!(firing.is_empty(), "never resolved: {firing:?}");
        prop_assert!(b.active_keys().is_empty());
    }
}

#[test]
fn the_text_of_a_big_group_is_bounded_and_says_how_many_did_not_fit() {
    let mut b = Book::default();
    let many: Vec<Alert> = (0..200)
        .map(|i| Alert {
            text: "x".repeat(100),
            ..alert(&format!("issue:{i}"), "g", Severity::Warning)
        })
        .collect();
    b.step(at(0), &many, &T, &routes());
    let n = b.step(at(1_000), &many, &T, &routes()).remove(0);
    let t = n.text();
    assert!(t.chars().count() <= MAX_TEXT_CHARS, "{}", t.len());
    assert!(t.contains("more"), "{t}");
    let one = [Alert {
        text: "y".repeat(10_000),
        ..alert("issue:big", "h", Severity::Warning)
    }];
    let mut b = Book::default();
    b.step(at(0), &one, &T, &routes());
    let t = b.step(at(1_000), &one, &T, &routes()).remove(0).text();
    assert!(
        t.chars().count() <= MAX_TEXT_CHARS && t.contains("yyy"),
        "{}",
        t.len()
    );
}

#[test]
fn a_heartbeat_left_by_a_previous_run_is_no_silence_of_this_one() {
    let started = at(100_000);
    assert_eq!(heartbeat_age_ms(at(101_000), Some(at(0)), started), 1_000);
    assert_eq!(heartbeat_age_ms(at(101_000), None, started), 1_000);
    assert_eq!(
        heartbeat_age_ms(at(101_000), Some(at(100_500)), started),
        500
    );
}
