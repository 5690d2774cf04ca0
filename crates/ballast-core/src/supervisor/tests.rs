use super::*;

fn rules() -> RestartRules {
    RestartRules {
        policy: RestartPolicy::Always,
        initial_delay_ms: 1_000,
        max_delay_ms: 60_000,
        jitter_pct: 0,
        stable_after_ms: 60_000,
        max_restarts: 5,
        restart_window_ms: 600_000,
        seed: 1,
    }
}

fn crash() -> Exit {
    Exit {
        code: None,
        signal: Some(9),
        requested: false,
        liveness_kill: false,
    }
}

fn at(ms: i64) -> Timestamp {
    Timestamp::from_unix_ms(ms)
}

#[test]
fn delays_grow_exponentially_to_the_cap() {
    let r = rules();
    let d: Vec<u64> = (0..8).map(|i| r.base_delay_ms(i)).collect();
    assert_eq!(
        d,
        vec![1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]
    );
    assert_eq!(r.base_delay_ms(200), 60_000, "no overflow");
}

#[test]
fn the_budget_trips_after_max_restarts_even_after_running() {
    let r = rules();
    let mut s = Service::default();
    let mut t = 0;
    for i in 0..5 {
        s.started(at(t));
        s.ready();
        assert_eq!(s.state, ServiceState::Running);
        t += 10_000; // ran a while, then crashed: still counts
        match s.exited(crash(), at(t), &r) {
            Action::Restart { after_ms } => assert_eq!(after_ms, r.base_delay_ms(i)),
            other => panic!("{other:?}"),
        }
        t += 1;
    }
    s.started(at(t));
    let a = s.exited(crash(), at(t + 10), &r);
    assert!(
        matches!(
            a,
            Action::StayDown {
                state: ServiceState::Failed,
                ..
            }
        ),
        "{a:?}"
    );
    assert_eq!(s.state, ServiceState::Failed);
    s.reset();
    assert_eq!(s.failures_in_window(), 0);
}

#[test]
fn old_failures_leave_the_window_and_stable_runs_reset_the_delay() {
    let r = rules();
    let mut s = Service::default();
    for k in 0..20 {
        let t = k * 700_000; // one crash every 700 s: never 6 within 600 s
        s.started(at(t));
        let a = s.exited(crash(), at(t + 100_000), &r);
        assert_eq!(
            a,
            Action::Restart { after_ms: 1_000 },
            "stable uptime resets the delay"
        );
    }
}

#[test]
fn exit_78_is_failed_config_and_policies_apply() {
    let mut s = Service::default();
    s.started(at(0));
    let a = s.exited(
        Exit {
            code: Some(78),
            signal: None,
            requested: false,
            liveness_kill: false,
        },
        at(5),
        &rules(),
    );
    assert!(matches!(
        a,
        Action::StayDown {
            state: ServiceState::FailedConfig,
            ..
        }
    ));
    let on_failure = RestartRules {
        policy: RestartPolicy::OnFailure,
        ..rules()
    };
    let mut s = Service::default();
    s.started(at(0));
    let clean = Exit {
        code: Some(0),
        signal: None,
        requested: false,
        liveness_kill: false,
    };
    assert!(matches!(
        s.exited(clean, at(5), &on_failure),
        Action::StayDown {
            state: ServiceState::Stopped,
            ..
        }
    ));
    let never = RestartRules {
        policy: RestartPolicy::Never,
        ..rules()
    };
    assert!(matches!(
        s.exited(crash(), at(9), &never),
        Action::StayDown { .. }
    ));
    let mut s = Service::default();
    s.started(at(0));
    let stop = Exit {
        requested: true,
        ..crash()
    };
    assert!(matches!(
        s.exited(stop, at(5), &rules()),
        Action::StayDown {
            state: ServiceState::Stopped,
            ..
        }
    ));
    assert_eq!(s.restarts, 0);
}

#[test]
fn jitter_is_bounded_and_deterministic() {
    let r = RestartRules {
        jitter_pct: 20,
        ..rules()
    };
    for attempt in 0..10 {
        let base = r.base_delay_ms(attempt);
        let j = r.jittered(attempt);
        assert!(
            j >= base - base / 5 && j <= base + base / 5,
            "{attempt}: {j} vs {base}"
        );
        assert_eq!(j, r.jittered(attempt));
    }
}

#[test]
fn a_window_that_can_never_trip_is_reported() {
    assert_eq!(rules().never_trips(), None);
    let short = RestartRules {
        restart_window_ms: 10_000,
        ..rules()
    };
    let why = short.never_trips().unwrap();
    assert!(why.contains("31 s"), "{why}"); // 1+2+4+8+16 s of delays for 6 failures
}

#[test]
fn liveness_fails_on_a_stale_or_missing_heartbeat_and_a_silent_watchdog() {
    use super::{LivenessFailure, LivenessRules, LivenessSeen, liveness};
    let rules = LivenessRules {
        heartbeat_max_age_ms: Some(1_000),
        watchdog_ms: None,
    };
    let seen = |uptime, hb: Option<u64>, exists| LivenessSeen {
        uptime_ms: uptime,
        heartbeat_age_ms: hb,
        heartbeat_file_exists: exists,
        watchdog_age_ms: None,
    };
    assert_eq!(liveness(&rules, &seen(5_000, Some(999), true)), None);
    assert_eq!(
        liveness(&rules, &seen(5_000, Some(1_001), true)),
        Some(LivenessFailure::StaleHeartbeat {
            age_ms: 1_001,
            max_ms: 1_000,
            missing: false
        })
    );
    // No heartbeat since the start: the uptime counts; a deleted file says so.
    assert_eq!(liveness(&rules, &seen(800, None, false)), None);
    assert_eq!(
        liveness(&rules, &seen(1_200, None, false)),
        Some(LivenessFailure::StaleHeartbeat {
            age_ms: 1_200,
            max_ms: 1_000,
            missing: true
        })
    );
    let wd = LivenessRules {
        heartbeat_max_age_ms: None,
        watchdog_ms: Some(500),
    };
    let mut s = seen(10_000, None, false);
    s.watchdog_age_ms = Some(400);
    assert_eq!(liveness(&wd, &s), None);
    s.watchdog_age_ms = Some(600);
    assert_eq!(
        liveness(&wd, &s).map(|f| f.to_string()),
        Some("no WATCHDOG=1 for 600 ms (every 500 ms)".to_owned())
    );
    assert_eq!(
        liveness(&LivenessRules::default(), &s),
        None,
        "nothing checked"
    );
}

#[test]
fn overall_follows_critical_services() {
    use super::{ServiceState as S, overall};
    assert_eq!(
        overall(&[(true, S::Running), (false, S::Running)]),
        "HEALTHY"
    );
    assert_eq!(
        overall(&[(true, S::Running), (false, S::Failed)]),
        "DEGRADED"
    );
    assert_eq!(overall(&[(true, S::Failed), (false, S::Running)]), "FAILED");
    assert_eq!(
        overall(&[(true, S::Failed), (true, S::FailedConfig)]),
        "FAILED_CONFIG"
    );
    assert_eq!(overall(&[(true, S::Backoff)]), "DEGRADED");
}

/// A service driven into `state` by real transitions, and whether it then holds a process.
fn service_in(state: ServiceState) -> (Service, bool) {
    let mut s = Service::default();
    let mut r = rules();
    match state {
        ServiceState::Stopped => {}
        ServiceState::Starting => s.started(at(0)),
        ServiceState::Running => {
            s.started(at(0));
            s.ready();
        }
        ServiceState::Backoff => {
            s.started(at(0));
            assert!(matches!(
                s.exited(crash(), at(10), &r),
                Action::Restart { .. }
            ));
        }
        ServiceState::Failed => {
            r.max_restarts = 0;
            s.started(at(0));
            s.exited(crash(), at(10), &r);
        }
        ServiceState::FailedConfig => {
            s.started(at(0));
            let exit = Exit {
                code: Some(EX_CONFIG),
                ..crash()
            };
            s.exited(exit, at(10), &r);
        }
    }
    assert_eq!(s.state, state);
    (s, holds_process(state))
}

/// issue 10 item 1: every control request against every service state. The table is the
/// contract; after each plan is carried out as the runtime does it, the recorded state still
/// matches the process held — a live process is never recorded as down.
#[test]
fn item_1_every_control_request_against_every_service_state_keeps_the_process_accounted_for() {
    use ControlPlan as P;
    use ControlRequest as Q;
    use ServiceState as S;
    let want = |q: Q, s: S| -> &'static str {
        match (q, s) {
            (Q::Reset, S::Failed | S::FailedConfig) => "clear",
            (Q::Reset, _) => "refuse",
            (Q::Restart, S::Failed | S::FailedConfig) => "refuse",
            (Q::Restart | Q::Recover, S::Starting | S::Running) => "stop-then-start",
            (Q::Restart | Q::Recover, S::Backoff | S::Stopped) => "start",
            (Q::Recover, S::Failed | S::FailedConfig) => "clear",
        }
    };
    for q in Q::ALL {
        for st in S::ALL {
            let (mut svc, mut process) = service_in(st);
            let before = svc.clone();
            let plan = plan_control(q, "bot", st);
            let got = match &plan {
                P::StopThenStart => "stop-then-start",
                P::StartNow => "start",
                P::ClearThenStart => "clear",
                P::Refuse(_) => "refuse",
            };
            assert_eq!(got, want(q, st), "{} on {}", q.as_str(), st.as_str());
            let startable = svc.make_startable(&plan);
            match &plan {
                P::Refuse(why) => {
                    assert_eq!(svc, before, "a refusal changes nothing");
                    assert!(!startable);
                    assert!(why.contains(st.as_str()), "{why}");
                    let hint = if q == Q::Reset {
                        "ballast restart bot"
                    } else {
                        "ballast reset bot"
                    };
                    assert!(why.contains(hint), "{why}");
                }
                P::StopThenStart => {
                    // The state is untouched while the process is up; it follows the exit.
                    assert!(!startable);
                    assert_eq!(svc, before);
                    assert!(process);
                    svc.exited(
                        Exit {
                            requested: true,
                            ..crash()
                        },
                        at(20),
                        &rules(),
                    );
                    process = false;
                    assert_eq!(svc.state, S::Stopped, "down on request, then started again");
                }
                P::StartNow | P::ClearThenStart => {
                    assert!(startable && !process);
                    assert_eq!(svc.state, S::Stopped);
                    if matches!(plan, P::ClearThenStart) {
                        assert_eq!(svc.failures_in_window(), 0);
                        assert_eq!(svc.last_reason, None);
                    }
                }
            }
            assert_eq!(
                holds_process(svc.state),
                process,
                "{} on {}: state {} with process {process}",
                q.as_str(),
                st.as_str(),
                svc.state.as_str()
            );
        }
    }
}

#[test]
fn make_startable_never_touches_a_service_that_holds_a_process() {
    for st in [ServiceState::Starting, ServiceState::Running] {
        for plan in [ControlPlan::StartNow, ControlPlan::ClearThenStart] {
            let (mut svc, _) = service_in(st);
            assert!(!svc.make_startable(&plan));
            assert_eq!(svc.state, st);
        }
    }
}
