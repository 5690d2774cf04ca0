//! The supervisor's decisions driven without processes, files or a clock: a [`Sim`] (like
//! quinn-proto's `Pair`) feeds `SupervisorCore` its inputs at a manual time, answers its
//! spawns, sweeps and writes as the shell would, and keeps every output with the virtual
//! time it was asked for. A crash loop, a budget trip, a reset, a dependency wait, a liveness
//! kill and a policy escalation run in milliseconds.
// The driver reads the clock once, for its manual clock's origin.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ballast_core::Timestamp;
use ballast_core::health::{CheckResult, Report, Status, Subsystem, SubsystemHealth};
use ballast_core::policy::Policy;
use ballast_core::supervisor::{RestartPolicy, RestartRules, ServiceState};
use ballast_store::files::disabled::{DisabledModule, ModuleKind, Restored};
use ballast_supervisor::ServiceSpec;
use ballast_supervisor::control::Request;
use ballast_supervisor::core::lifecycle::{CheckModule, LifecycleEvent};
use ballast_supervisor::core::{
    ControlError, CoreConfig, FileWrite, Files, Governor, Input, KillSwitchFiles, Measured, Now,
    OpsEvent, Output, ReadyVia, SupervisorCore, Swept, View,
};
use rustix::process::Signal;

/// Wall-clock time of the simulation's start.
const WALL_START_MS: i64 = 1_800_000_000_000;

/// The core, a manual clock, and the shell's side played in memory.
struct Sim {
    core: SupervisorCore,
    start: Instant,
    /// Virtual milliseconds since the start.
    t_ms: u64,
    next_pid: i32,
    /// The pid of each slot's process.
    pids: BTreeMap<usize, i32>,
    /// Every output, with the virtual time it was asked for; taken by [`Sim::take`].
    seen: Vec<(u64, Output)>,
    /// What the next sweeps find (nothing, by default).
    sweep_finds: Swept,
    /// Why every write fails, when one does (a full disk).
    writes_fail: Option<String>,
}

impl Sim {
    fn new(services: Vec<ServiceSpec>) -> Sim {
        Sim::gated(services, Vec::new(), Swept::default())
    }

    /// A simulation whose `gated` services start only when the sweeps allow it, and whose
    /// sweeps find `finds`.
    fn gated(services: Vec<ServiceSpec>, gated: Vec<String>, finds: Swept) -> Sim {
        Sim::build(services, gated, finds, Vec::new(), Vec::new())
    }

    /// A simulation with declared checks and the modules a previous run disabled.
    fn build(
        services: Vec<ServiceSpec>,
        gated: Vec<String>,
        finds: Swept,
        checks: Vec<CheckModule>,
        disabled: Vec<DisabledModule>,
    ) -> Sim {
        let config = ballast_core::config::load(None, &[]).expect("the built-in configuration");
        Sim::full(services, gated, finds, checks, disabled.into(), config)
    }

    /// A simulation of the configuration `config` running `services`.
    fn configured(
        services: Vec<ServiceSpec>,
        gated: Vec<String>,
        finds: Swept,
        config: ballast_core::config::Config,
    ) -> Sim {
        Sim::full(
            services,
            gated,
            finds,
            Vec::new(),
            Default::default(),
            config,
        )
    }

    fn full(
        services: Vec<ServiceSpec>,
        gated: Vec<String>,
        finds: Swept,
        checks: Vec<CheckModule>,
        disabled: Restored,
        config: ballast_core::config::Config,
    ) -> Sim {
        let start = Instant::now();
        let now = Now {
            at: start,
            wall: Timestamp::from_unix_ms(WALL_START_MS),
        };
        let governor = Governor::new(ballast_core::policy::PolicyState::new(now.wall), &config);
        let core = SupervisorCore::new(
            CoreConfig {
                services,
                mode: ballast_core::config::Mode::Paper,
                gated,
                live_refused: None,
                sweep_every: Duration::from_secs(10),
                config_file: None,
                supervisor_pid: 1,
                checks,
                disabled,
                config: Box::new(config.clone()),
                config_hash: "built-in".into(),
            },
            governor,
            now,
        );
        let mut sim = Sim {
            core,
            start,
            t_ms: 0,
            next_pid: 100,
            pids: BTreeMap::new(),
            seen: Vec::new(),
            sweep_finds: finds,
            writes_fail: None,
        };
        sim.core.startup_sweep(sim.now());
        sim.drain();
        sim.core.begin(sim.now());
        sim.drain();
        sim
    }

    fn now(&self) -> Now {
        Now {
            at: self.start + Duration::from_millis(self.t_ms),
            wall: Timestamp::from_unix_ms(WALL_START_MS + self.t_ms as i64),
        }
    }

    fn input(&mut self, input: Input) {
        let now = self.now();
        self.core.handle(now, input);
        self.drain();
    }

    /// Carry out the outputs as the shell does: spawns succeed, sweeps find nothing, writes
    /// work.
    fn drain(&mut self) {
        while let Some(out) = self.core.poll() {
            self.seen.push((self.t_ms, out.clone()));
            let now = self.now();
            match out {
                Output::Spawn { slot } => {
                    let pid = self.next_pid;
                    self.next_pid += 1;
                    self.pids.insert(slot, pid);
                    self.core.handle(
                        now,
                        Input::Spawned {
                            slot,
                            result: Ok(pid),
                        },
                    );
                }
                Output::Sweep { .. } => {
                    let swept = self.sweep_finds.clone();
                    self.core.handle(now, Input::Swept(Box::new(swept)));
                }
                Output::Write { id, .. } => {
                    let result = match &self.writes_fail {
                        Some(why) => Err(why.clone()),
                        None => Ok("written".into()),
                    };
                    self.core.handle(now, Input::Written { id, result });
                }
                _ => {}
            }
        }
    }

    fn tick(&mut self) {
        self.input(Input::Tick {
            heartbeats: Vec::new(),
        });
    }

    /// Let `ms` pass, waking up whenever the core asks to.
    fn run_for(&mut self, ms: u64) {
        let until = self.t_ms + ms;
        for _ in 0..100_000 {
            let wake = self
                .core
                .next_wakeup(self.now().at)
                .map(|w| w.saturating_duration_since(self.start).as_millis() as u64);
            match wake {
                Some(w) if w <= until => {
                    self.t_ms = w.max(self.t_ms);
                    self.tick();
                }
                _ => {
                    self.t_ms = until;
                    self.tick();
                    return;
                }
            }
        }
        panic!("the core kept asking to wake up before {until} ms");
    }

    /// The process of `slot` ends.
    fn exit(&mut self, slot: usize, code: Option<i32>, signal: Option<i32>) {
        let pid = self.pids.remove(&slot).expect("a running process");
        self.input(Input::ChildExited {
            pid,
            code,
            signal,
            left_behind: Vec::new(),
        });
    }

    fn take(&mut self) -> Vec<(u64, Output)> {
        std::mem::take(&mut self.seen)
    }

    fn control(&mut self, request: Request) -> Result<View, ControlError> {
        self.input(Input::Control {
            token: 7,
            request,
            kill_switch: KillSwitchFiles::default(),
        });
        // The answer is taken; the rest stays for the test to look at.
        let (replies, rest): (Vec<_>, Vec<_>) = self
            .take()
            .into_iter()
            .partition(|(_, o)| matches!(o, Output::Reply { token: 7, .. }));
        self.seen = rest;
        match replies.as_slice() {
            [(_, Output::Reply { reply, .. })] => reply.clone(),
            other => panic!("one answer for each request, not {other:?}"),
        }
    }

    /// A health cycle's report, measured with an ALLOW_ALL policy file and no engine.
    fn measure(&mut self, report: Report) {
        self.input(Input::Measured(Box::new(Measured {
            report,
            engine: None,
            files: Files {
                kill_switch: KillSwitchFiles::default(),
                policy_file: Some((Policy::AllowAll, 0)),
            },
        })));
    }

    /// The health report `ballast health` answers.
    fn health(&mut self) -> ballast_store::files::health::HealthReport {
        match self.control(Request::Health) {
            Ok(View::Health(ballast_store::files::health::HealthFile::Report(h))) => *h,
            other => panic!("a health report, not {other:?}"),
        }
    }

    fn state_of(&self, name: &str) -> String {
        let v = self.core.views(self.now().at);
        v.into_iter()
            .find(|v| v.name == name)
            .map(|v| v.shown())
            .expect("the service")
    }
}

fn spawns(out: &[(u64, Output)]) -> Vec<(u64, usize)> {
    out.iter()
        .filter_map(|(t, o)| match o {
            Output::Spawn { slot } => Some((*t, *slot)),
            _ => None,
        })
        .collect()
}

fn events(out: &[(u64, Output)]) -> Vec<OpsEvent> {
    out.iter()
        .filter_map(|(_, o)| match o {
            Output::Ops(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

fn spec(name: &str) -> ServiceSpec {
    ServiceSpec {
        name: name.into(),
        command: PathBuf::from("/bin/true"),
        args: Vec::new(),
        env: BTreeMap::new(),
        cwd: None,
        critical: true,
        rules: RestartRules {
            policy: RestartPolicy::Always,
            initial_delay_ms: 1_000,
            max_delay_ms: 60_000,
            jitter_pct: 0,
            stable_after_ms: 60_000,
            max_restarts: 5,
            restart_window_ms: 600_000,
            seed: 0,
        },
        depends_on: Vec::new(),
        min_uptime: Duration::ZERO,
        notify: false,
        heartbeat_file: None,
        heartbeat_ready: false,
        heartbeat_max_age: None,
        watchdog: None,
        http_ready: None,
        stop_signal: Signal::TERM,
        stop_timeout: Duration::from_secs(5),
        on_failure_disable: false,
        fallback: None,
    }
}

#[test]
fn a_crash_loop_backs_off_exponentially_trips_its_budget_and_a_reset_starts_it_again() {
    let mut sim = Sim::new(vec![spec("bot")]);
    assert_eq!(spawns(&sim.take()), vec![(0, 0)], "started at once");
    for (n, delay) in [1_000u64, 2_000, 4_000, 8_000, 16_000]
        .into_iter()
        .enumerate()
    {
        sim.run_for(50);
        sim.exit(0, Some(1), None);
        let out = sim.take();
        assert!(
            events(&out).contains(&OpsEvent::ServiceBackoff {
                service: "bot".into(),
                after_ms: delay,
                failures_in_window: n + 1,
                max_restarts: 5,
            }),
            "crash {}: backoff of {delay} ms in {out:?}",
            n + 1
        );
        assert_eq!(sim.state_of("bot"), "BACKOFF");
        let crashed_at = sim.t_ms;
        sim.run_for(delay - 1);
        assert!(spawns(&sim.take()).is_empty(), "not before its delay");
        sim.run_for(1);
        assert_eq!(
            spawns(&sim.take()),
            vec![(crashed_at + delay, 0)],
            "restarted exactly after {delay} ms"
        );
    }
    // The sixth unrequested exit within the window trips the budget: FAILED, no restart.
    sim.run_for(50);
    sim.exit(0, Some(1), None);
    let out = sim.take();
    let down = events(&out)
        .into_iter()
        .find_map(|e| match e {
            OpsEvent::ServiceDown { state, reason, .. } => Some((state, reason)),
            _ => None,
        })
        .expect("it stays down");
    assert_eq!(down.0, ServiceState::Failed);
    assert!(down.1.contains("budget 5"), "{}", down.1);
    sim.run_for(120_000);
    assert!(spawns(&sim.take()).is_empty(), "FAILED is sticky");
    assert_eq!(sim.state_of("bot"), "FAILED");
    // `restart` does not start a FAILED service; `reset` does.
    let refused = sim.control(Request::Restart {
        service: "bot".into(),
    });
    assert!(
        matches!(refused, Err(ControlError::InvalidState(_))),
        "{refused:?}"
    );
    let reset = sim.control(Request::Reset {
        service: "bot".into(),
    });
    assert_eq!(
        reset,
        Ok(View::Done("bot: reset (was FAILED); starting".into()))
    );
    sim.tick();
    assert_eq!(
        spawns(&sim.take()).len(),
        1,
        "started again after the reset"
    );
    let unknown = sim.control(Request::Reset {
        service: "nope".into(),
    });
    assert_eq!(
        unknown,
        Err(ControlError::NotFound(
            "no service named \"nope\"; the services are: bot".into()
        ))
    );
}

#[test]
fn a_service_waits_for_its_dependency_to_be_ready() {
    let mut app = spec("app");
    app.depends_on = vec!["db".into()];
    let mut db = spec("db");
    db.notify = true;
    // Declared app first: the dependency order starts db first all the same.
    let mut sim = Sim::new(vec![app, db]);
    let first = spawns(&sim.take());
    assert_eq!(first.len(), 1);
    assert_eq!(
        sim.core.spec(first[0].1).map(|s| s.name.as_str()),
        Some("db")
    );
    assert_eq!(sim.state_of("app"), "WAITING (for db)");
    assert_eq!(sim.state_of("db"), "STARTING");
    sim.run_for(30_000);
    assert!(
        spawns(&sim.take()).is_empty(),
        "app waits while db is starting"
    );
    sim.input(Input::Notify {
        service: "db".into(),
        message: "READY=1".into(),
    });
    assert!(events(&sim.take()).contains(&OpsEvent::ServiceReady {
        service: "db".into(),
        via: ReadyVia::Notify,
        seen_by: "",
    }));
    sim.tick();
    let next = spawns(&sim.take());
    assert_eq!(next.len(), 1);
    assert_eq!(
        sim.core.spec(next[0].1).map(|s| s.name.as_str()),
        Some("app")
    );
}

#[test]
fn a_silent_watchdog_is_a_liveness_kill_that_counts_as_a_failure() {
    let mut bot = spec("bot");
    bot.notify = true;
    bot.watchdog = Some(Duration::from_secs(1));
    let mut sim = Sim::new(vec![bot]);
    let pid = *sim.pids.get(&0).expect("started");
    sim.input(Input::Notify {
        service: "bot".into(),
        message: "READY=1\nWATCHDOG=1".into(),
    });
    assert_eq!(sim.state_of("bot"), "RUNNING");
    sim.run_for(500);
    sim.input(Input::Notify {
        service: "bot".into(),
        message: "WATCHDOG=1".into(),
    });
    sim.run_for(900);
    assert!(
        !sim.take()
            .iter()
            .any(|(_, o)| matches!(o, Output::Signal { .. })),
        "a watchdog 900 ms old is alive"
    );
    sim.run_for(300);
    let out = sim.take();
    let kill = out
        .iter()
        .find(|(_, o)| matches!(o, Output::Signal { .. }))
        .expect("killed");
    assert_eq!(
        kill.1,
        Output::Signal {
            pid,
            signal: Signal::KILL
        }
    );
    assert!(
        kill.0 > 1_500 && kill.0 <= 1_600,
        "killed on the first tick past 1 s of silence, at {} ms",
        kill.0
    );
    assert!(events(&out).iter().any(|e| matches!(
        e,
        OpsEvent::LivenessKill { why, .. } if why.contains("WATCHDOG=1")
    )));
    sim.exit(0, None, Some(9));
    let out = events(&sim.take());
    assert!(out.iter().any(|e| matches!(
        e,
        OpsEvent::ServiceExited {
            liveness_kill: true,
            ..
        }
    )));
    assert!(
        out.iter().any(|e| matches!(
            e,
            OpsEvent::ServiceBackoff {
                failures_in_window: 1,
                ..
            }
        )),
        "the kill counts against the budget: {out:?}"
    );
}

fn report(status: Status, at: Timestamp) -> Report {
    let journal = Subsystem {
        name: "journal".into(),
        critical: true,
        impacts_trading: false,
        depends_on: Vec::new(),
        interval_ms: 5_000,
    };
    let checks = vec![CheckResult::new("integrity", status, "as simulated")];
    Report::build(vec![SubsystemHealth::new(journal, checks, at)], &[], at)
}

#[test]
fn a_failed_critical_subsystem_escalates_the_policy_at_once_and_writes_it() {
    let mut sim = Sim::new(Vec::new());
    let files = Files {
        kill_switch: KillSwitchFiles::default(),
        policy_file: Some((Policy::AllowAll, 0)),
    };
    let at = sim.now().wall;
    sim.input(Input::Measured(Box::new(Measured {
        report: report(Status::Healthy, at),
        engine: None,
        files: files.clone(),
    })));
    let out = sim.take();
    assert!(
        !events(&out)
            .iter()
            .any(|e| matches!(e, OpsEvent::PolicyChanged { .. })),
        "healthy: ALLOW_ALL stays"
    );
    assert_eq!(sim.core.policy().0, Policy::AllowAll);
    sim.run_for(1_000);
    sim.take();
    let at = sim.now().wall;
    sim.input(Input::Measured(Box::new(Measured {
        report: report(Status::Failed, at),
        engine: None,
        files,
    })));
    let out = sim.take();
    let changed = events(&out)
        .into_iter()
        .find_map(|e| match e {
            OpsEvent::PolicyChanged { from, to, .. } => Some((from, to)),
            _ => None,
        })
        .expect("the policy changes");
    assert_eq!(changed, ("ALLOW_ALL", "EMERGENCY_SHUTDOWN"));
    assert_eq!(sim.core.policy(), (Policy::EmergencyShutdown, at));
    let written: Vec<&FileWrite> = out
        .iter()
        .filter_map(|(_, o)| match o {
            Output::Write { file, .. } => Some(file),
            _ => None,
        })
        .collect();
    assert!(
        matches!(written.first(), Some(FileWrite::Policy(p)) if p.policy == Policy::EmergencyShutdown),
        "the policy file first, durably: {written:?}"
    );
    assert!(matches!(written.get(1), Some(FileWrite::HealthReport(_))));
    // An operator's release is refused while the cause stands.
    let release = sim.control(Request::Release);
    assert!(
        matches!(release, Err(ControlError::Refused(_))),
        "{release:?}"
    );
}

#[test]
fn a_restart_stops_the_process_and_starts_it_again_without_counting_a_failure() {
    let mut sim = Sim::new(vec![spec("bot")]);
    sim.run_for(10);
    let pid = *sim.pids.get(&0).expect("started");
    sim.take();
    let answer = sim.control(Request::Restart {
        service: "bot".into(),
    });
    assert_eq!(
        answer,
        Ok(View::Done(format!(
            "bot: restarting (was RUNNING, pid {pid}: stopping it, then starting it again)"
        )))
    );
    let out = sim.take();
    assert!(out.contains(&(
        sim.t_ms,
        Output::Signal {
            pid,
            signal: Signal::TERM
        }
    )));
    assert!(spawns(&out).is_empty(), "not before it is down");
    sim.exit(0, None, Some(15));
    sim.tick();
    let out = sim.take();
    assert_eq!(spawns(&out).len(), 1, "started again once reaped");
    let views = sim.core.views(sim.now().at);
    assert_eq!(
        views[0].failures_in_window, 0,
        "a requested exit is no failure"
    );
}

#[test]
fn a_shutdown_stops_dependents_first_each_fully_down_and_kills_what_outlives_its_timeout() {
    let mut app = spec("app");
    app.depends_on = vec!["db".into()];
    let mut sim = Sim::new(vec![spec("db"), app]);
    sim.run_for(10); // db runs; app starts
    sim.run_for(10);
    let (db, app) = (sim.pids[&0], sim.pids[&1]);
    sim.take();
    sim.input(Input::Shutdown);
    let signals = |out: &[(u64, Output)]| -> Vec<(i32, Signal)> {
        out.iter()
            .filter_map(|(_, o)| match o {
                Output::Signal { pid, signal } => Some((*pid, *signal)),
                _ => None,
            })
            .collect()
    };
    assert_eq!(
        signals(&sim.take()),
        vec![(app, Signal::TERM)],
        "the dependent first"
    );
    // app ignores SIGTERM: SIGKILL to its group after its stop timeout (5 s), and db waits.
    sim.run_for(4_999);
    assert!(signals(&sim.take()).is_empty());
    sim.run_for(1);
    assert_eq!(signals(&sim.take()), vec![(app, Signal::KILL)]);
    assert!(!sim.core.finished());
    sim.exit(1, None, Some(9));
    assert_eq!(signals(&sim.take()), vec![(db, Signal::TERM)], "then db");
    sim.exit(0, Some(0), None);
    assert!(sim.core.finished());
    sim.run_for(60_000);
    assert!(
        spawns(&sim.take()).is_empty(),
        "nothing restarts during a shutdown"
    );
    // A request now is refused in words.
    let late = sim.control(Request::Status);
    assert_eq!(late, Err(ControlError::ShuttingDown));
}

#[test]
fn a_gated_service_is_held_while_the_sweep_refuses_it_and_started_once_it_clears() {
    let refused = Swept {
        refusal: Some("journal: a bad record with valid records after it".into()),
        ..Swept::default()
    };
    let mut sim = Sim::gated(vec![spec("engine")], vec!["engine".into()], refused);
    let out = sim.take();
    assert!(spawns(&out).is_empty(), "held at the start");
    assert!(events(&out).iter().any(|e| matches!(
        e,
        OpsEvent::EngineHeld { service, why } if service == "engine" && why.contains("bad record")
    )));
    assert_eq!(sim.state_of("engine"), "HELD");
    let status = sim.core.views(sim.now().at);
    assert_eq!(
        status[0].last_exit.as_deref(),
        Some("journal: a bad record with valid records after it")
    );
    // The next periodic sweep (10 s) finds nothing: released and started.
    sim.sweep_finds = Swept {
        clean: true,
        ..Swept::default()
    };
    sim.run_for(9_000);
    assert!(spawns(&sim.take()).is_empty());
    sim.run_for(1_000);
    let out = sim.take();
    assert!(events(&out).contains(&OpsEvent::EngineReleased {
        service: "engine".into()
    }));
    assert_eq!(spawns(&out), vec![(10_000, 0)]);
}

/// A report of one critical subsystem that impacts trading, in `status`.
fn feed_report(status: Status, at: Timestamp) -> Report {
    let feed = Subsystem {
        name: "data_feed".into(),
        critical: true,
        impacts_trading: true,
        depends_on: Vec::new(),
        interval_ms: 5_000,
    };
    let checks = vec![CheckResult::new("bar_age", status, "as simulated")];
    Report::build(vec![SubsystemHealth::new(feed, checks, at)], &[], at)
}

/// The id of the recommendation waiting for `action` among `out`'s events.
fn pending(out: &[(u64, Output)], action: ballast_core::health::RecoveryAction) -> String {
    events(out)
        .into_iter()
        .find_map(|e| match e {
            OpsEvent::RecommendationPending(r) if r.advice.action == action => Some(r.id),
            _ => None,
        })
        .expect("a recommendation waits for an operator")
}

#[test]
fn an_approved_floor_is_persisted_before_it_is_confirmed_and_says_so_when_it_cannot_be() {
    use ballast_core::health::RecoveryAction;
    let mut sim = Sim::new(Vec::new());
    let files = Files {
        kill_switch: KillSwitchFiles::default(),
        policy_file: Some((Policy::AllowAll, 0)),
    };
    let at = sim.now().wall;
    sim.input(Input::Measured(Box::new(Measured {
        report: feed_report(Status::Degraded, at),
        engine: None,
        files: files.clone(),
    })));
    let out = sim.take();
    assert_eq!(sim.core.policy().0, Policy::NoNewTrades, "a degraded feed");
    let pause = pending(&out, RecoveryAction::PauseTrading);
    let unknown = sim.control(Request::Approve {
        id: "nothing/here".into(),
    });
    assert!(
        matches!(unknown, Err(ControlError::NotFound(_))),
        "{unknown:?}"
    );
    // The disk is full: the approval stands, the floor is not confirmed.
    sim.writes_fail = Some("No space left on device".into());
    let failed = sim.control(Request::Approve { id: pause.clone() });
    assert_eq!(
        failed,
        Err(ControlError::Failed(format!(
            "{pause} approved, but cannot persist the policy: No space left on device"
        )))
    );
    let again = sim.control(Request::Approve { id: pause.clone() });
    assert!(matches!(again, Err(ControlError::Conflict(_))), "{again:?}");
    // A floor that can be written is confirmed once it is.
    sim.writes_fail = None;
    sim.run_for(1_000);
    let at = sim.now().wall;
    sim.input(Input::Measured(Box::new(Measured {
        report: feed_report(Status::Critical, at),
        engine: None,
        files,
    })));
    let out = sim.take();
    let close = pending(&out, RecoveryAction::CloseAllPositions);
    let closed = sim.control(Request::Approve { id: close.clone() });
    assert_eq!(
        closed,
        Ok(View::Done(format!(
            "{close} approved: kill switch engaged with flatten (written): every position is closed at market; `ballast resume` releases it"
        )))
    );
    let wrote_switch = sim.take().into_iter().any(|(_, o)| {
        matches!(
            o,
            Output::Write {
                file: FileWrite::KillSwitch {
                    flatten: true,
                    ref by,
                    ..
                },
                ..
            } if by == "ballast approve"
        )
    });
    assert!(wrote_switch, "the kill switch's file is what engages it");
}

/// A supportive service that is ready after 1 s of uptime.
fn supportive(name: &str) -> ServiceSpec {
    ServiceSpec {
        critical: false,
        min_uptime: Duration::from_secs(1),
        rules: RestartRules {
            max_restarts: 1,
            ..spec(name).rules
        },
        ..spec(name)
    }
}

fn lifecycle_events(out: &[(u64, Output)]) -> Vec<LifecycleEvent> {
    events(out)
        .into_iter()
        .filter_map(|e| match e {
            OpsEvent::Lifecycle(l) => Some(l),
            _ => None,
        })
        .collect()
}

/// The disabled list of the last `state/disabled.json` write.
fn last_disabled_write(out: &[(u64, Output)]) -> Option<Vec<String>> {
    out.iter().rev().find_map(|(_, o)| match o {
        Output::Write {
            file: FileWrite::Disabled(f),
            ..
        } => Some(f.modules.iter().map(|m| m.name.clone()).collect()),
        _ => None,
    })
}

#[test]
fn a_disabled_service_is_stopped_kept_stopped_not_counted_and_an_enable_starts_it_again() {
    let mut sim = Sim::new(vec![spec("engine"), supportive("model")]);
    sim.run_for(1_000);
    let pid = sim.pids[&1];
    sim.take();
    let done = sim.control(Request::Disable {
        name: "model".into(),
    });
    assert!(
        matches!(&done, Ok(View::Done(m)) if m.contains("DISABLED") && m.contains(&format!("stopping pid {pid}"))),
        "{done:?}"
    );
    let out = sim.take();
    assert!(
        out.iter().any(|(_, o)| *o
            == Output::Signal {
                pid,
                signal: Signal::TERM
            }),
        "its stop signal to its group: {out:?}"
    );
    assert_eq!(last_disabled_write(&out), Some(vec!["model".to_owned()]));
    assert!(matches!(
        lifecycle_events(&out).as_slice(),
        [LifecycleEvent::Disabled { module, by, .. }] if module == "model" && by == "operator"
    ));
    sim.exit(1, None, Some(15));
    sim.run_for(60_000);
    assert!(spawns(&sim.take()).is_empty(), "kept stopped");
    assert_eq!(sim.state_of("model"), "DISABLED");
    let Ok(View::Status(status)) = sim.control(Request::Status) else {
        panic!("a status");
    };
    assert_eq!(
        status.overall, "HEALTHY",
        "a disabled service is not counted"
    );
    // Twice is a conflict; the critical engine is refused with what to do instead.
    assert!(matches!(
        sim.control(Request::Disable {
            name: "model".into()
        }),
        Err(ControlError::Conflict(_))
    ));
    let refused = sim.control(Request::Disable {
        name: "engine".into(),
    });
    assert!(
        matches!(&refused, Err(ControlError::Refused(m)) if m.contains("critical") && m.contains("ballast kill") && m.contains("ballast restart engine")),
        "{refused:?}"
    );
    assert!(matches!(
        sim.control(Request::Restart { service: "model".into() }),
        Err(ControlError::InvalidState(m)) if m.contains("ballast enable model")
    ));
    let enabled = sim.control(Request::Enable {
        name: "model".into(),
    });
    assert!(
        matches!(&enabled, Ok(View::Done(m)) if m.contains("enabled")),
        "{enabled:?}"
    );
    sim.tick();
    let out = sim.take();
    assert_eq!(spawns(&out).len(), 1, "started again: {out:?}");
    assert_eq!(last_disabled_write(&out), Some(Vec::new()));
    assert!(matches!(
        sim.control(Request::Enable {
            name: "model".into()
        }),
        Err(ControlError::InvalidState(_))
    ));
}

#[test]
fn a_disable_restored_from_the_file_keeps_the_service_down_and_a_check_is_listed_for_the_monitor() {
    let at = Timestamp::from_unix_ms(WALL_START_MS);
    let restored = |name: &str, kind| DisabledModule {
        name: name.into(),
        kind,
        reason: "disabled by operator".into(),
        by: "operator".into(),
        at,
    };
    let check = |name: &str, critical| CheckModule {
        name: name.into(),
        critical,
        disable_on_failure: false,
    };
    let mut sim = Sim::build(
        vec![spec("engine"), supportive("model")],
        Vec::new(),
        Swept::default(),
        vec![check("gpu", false), check("db", true)],
        vec![
            restored("model", ModuleKind::Service),
            restored("gpu", ModuleKind::Check),
            restored("gone", ModuleKind::Service),
        ],
    );
    sim.run_for(10_000);
    let out = sim.take();
    assert_eq!(spawns(&out), vec![(0, 0)], "only the engine starts");
    assert!(
        out.iter().any(|(_, o)| matches!(o, Output::Log(l) if l.contains("service gone disabled but no longer declared"))),
        "{out:?}"
    );
    assert_eq!(sim.state_of("model"), "DISABLED");
    assert_eq!(
        sim.core.disabled_checks(),
        vec![("gpu".to_owned(), "disabled by operator".to_owned())]
    );
    assert!(matches!(
        sim.control(Request::Disable { name: "db".into() }),
        Err(ControlError::Refused(m)) if m.contains("critical check")
    ));
    assert!(matches!(
        sim.control(Request::Disable { name: "nope".into() }),
        Err(ControlError::NotFound(m)) if m.contains("engine, model") && m.contains("gpu, db")
    ));
    assert!(sim.control(Request::Enable { name: "gpu".into() }).is_ok());
    assert!(sim.core.disabled_checks().is_empty());
}

#[test]
fn on_failure_disable_disables_a_supportive_service_once_its_budget_is_spent() {
    let model = ServiceSpec {
        on_failure_disable: true,
        ..supportive("model")
    };
    let mut sim = Sim::new(vec![spec("engine"), model]);
    for _ in 0..2 {
        sim.run_for(5_000);
        sim.exit(1, Some(1), None);
    }
    let out = sim.take();
    assert!(
        lifecycle_events(&out).iter().any(|e| matches!(e,
            LifecycleEvent::Disabled { module, by, reason, .. }
                if module == "model" && by == "on_failure" && reason.contains("FAILED"))),
        "{out:?}"
    );
    assert_eq!(last_disabled_write(&out), Some(vec!["model".to_owned()]));
    assert_eq!(sim.state_of("model"), "DISABLED");
    // Enabled, it starts with a fresh budget.
    assert!(
        sim.control(Request::Enable {
            name: "model".into()
        })
        .is_ok()
    );
    sim.tick();
    assert_eq!(spawns(&sim.take()).len(), 1);
    assert_eq!(sim.state_of("model"), "STARTING");
}

#[test]
fn a_fallback_stands_by_covers_a_failed_primary_and_hands_back_after_its_min_uptime() {
    let feed = ServiceSpec {
        fallback: Some("replay".into()),
        ..supportive("feed")
    };
    let mut sim = Sim::new(vec![feed, supportive("replay")]);
    sim.run_for(2_000);
    assert_eq!(
        spawns(&sim.take()),
        vec![(0, 0)],
        "the fallback is not started"
    );
    assert_eq!(sim.state_of("replay"), "STANDBY");
    assert_eq!(sim.state_of("feed"), "RUNNING");
    // The primary fails: the fallback is started, with an alert.
    for _ in 0..2 {
        sim.exit(0, Some(1), None);
        sim.run_for(5_000);
    }
    let out = sim.take();
    assert!(
        lifecycle_events(&out).iter().any(|e| matches!(e,
            LifecycleEvent::FallbackEngaged { service, fallback, why }
                if service == "feed" && fallback == "replay" && why == "FAILED")),
        "{out:?}"
    );
    assert!(
        spawns(&out).iter().any(|(_, s)| *s == 1),
        "replay started: {out:?}"
    );
    assert_eq!(sim.state_of("replay"), "RUNNING");
    let views = sim.core.views(sim.now().at);
    assert_eq!(views[0].covered_by.as_deref(), Some("replay"));
    assert_eq!(views[1].covering.as_deref(), Some("feed"));
    // Reset, the primary runs again; the fallback is stopped once it ran its min uptime.
    assert!(
        sim.control(Request::Reset {
            service: "feed".into()
        })
        .is_ok()
    );
    sim.tick();
    let restarted = sim.t_ms;
    sim.run_for(999);
    let replay_pid = sim.pids[&1];
    let out = sim.take();
    assert!(
        !out.iter()
            .any(|(_, o)| matches!(o, Output::Signal { pid, .. } if *pid == replay_pid)),
        "not before the primary's min uptime: {out:?}"
    );
    sim.run_for(1);
    let out = sim.take();
    assert!(
        out.iter().any(|(t, o)| *t == restarted + 1_000
            && *o
                == Output::Signal {
                    pid: replay_pid,
                    signal: Signal::TERM
                }),
        "stopped at the primary's min uptime: {out:?}"
    );
    assert!(lifecycle_events(&out).iter().any(|e| matches!(e,
        LifecycleEvent::FallbackReleased { service, fallback } if service == "feed" && fallback == "replay")));
    sim.exit(1, None, Some(15));
    sim.run_for(30_000);
    assert!(spawns(&sim.take()).is_empty(), "it stands by again");
    assert_eq!(sim.state_of("replay"), "STANDBY");
    // Disabling the primary engages it too.
    assert!(
        sim.control(Request::Disable {
            name: "feed".into()
        })
        .is_ok()
    );
    sim.tick();
    let out = sim.take();
    assert!(spawns(&out).iter().any(|(_, s)| *s == 1), "{out:?}");
    assert!(lifecycle_events(&out).iter().any(|e| matches!(e,
        LifecycleEvent::FallbackEngaged { why, .. } if why == "disabled")));
}

#[test]
fn a_trading_check_disabled_on_failure_moves_no_policy_and_is_reported_disabled_at_once() {
    let check = CheckModule {
        name: "model".into(),
        critical: false,
        disable_on_failure: true,
    };
    let mut sim = Sim::build(
        Vec::new(),
        Vec::new(),
        Swept::default(),
        vec![check],
        Vec::new(),
    );
    let model = Subsystem {
        name: "model".into(),
        critical: false,
        impacts_trading: true,
        depends_on: Vec::new(),
        interval_ms: 1_000,
    };
    let files = Files {
        kill_switch: KillSwitchFiles::default(),
        policy_file: Some((Policy::AllowAll, 0)),
    };
    for _ in 0..2 {
        let at = sim.now().wall;
        let checks = vec![CheckResult::new(
            "files_present",
            Status::Critical,
            "model.bin missing",
        )];
        let report = Report::build(
            vec![SubsystemHealth::new(model.clone(), checks, at)],
            &[],
            at,
        );
        sim.input(Input::Measured(Box::new(Measured {
            report,
            engine: None,
            files: files.clone(),
        })));
        sim.run_for(1_000);
    }
    let out = sim.take();
    let disabled: Vec<_> = lifecycle_events(&out)
        .into_iter()
        .filter(|e| matches!(e, LifecycleEvent::Disabled { module, by, .. } if module == "model" && by == "on_failure"))
        .collect();
    assert_eq!(disabled.len(), 1, "disabled once: {out:?}");
    assert_eq!(
        sim.core.policy().0,
        Policy::AllowAll,
        "no defensive exit for it"
    );
    assert_eq!(
        sim.core.disabled_checks(),
        vec![(
            "model".to_owned(),
            "on_failure = \"disable\": CRITICAL model.bin missing".to_owned()
        )]
    );
    let h = sim.health();
    assert_eq!(h.subsystems[0].status, Status::Disabled, "{h:?}");
    assert!(h.issues.is_empty());
}

#[test]
fn an_approved_disable_module_disables_the_failed_service_and_a_switch_to_backup_is_automatic() {
    let feed = ServiceSpec {
        fallback: Some("replay".into()),
        ..supportive("feed")
    };
    let mut sim = Sim::new(vec![feed, supportive("replay")]);
    let report = failed_service("feed", sim.now().wall);
    sim.measure(report);
    let h = sim.health();
    let rec = |id: &str| h.recommendations.iter().find(|r| r.id == id).cloned();
    let switch = rec("service:feed/state/switch_to_backup").expect("switch advised");
    assert!(switch.advice.auto && switch.advice.expected.contains("replay"));
    let disable = rec("service:feed/state/disable_module").expect("disable advised");
    assert!(!disable.advice.auto, "it waits for an operator");
    assert!(matches!(
        sim.control(Request::Approve {
            id: switch.id.clone()
        }),
        Err(ControlError::InvalidState(_))
    ));
    let approved = sim.control(Request::Approve {
        id: disable.id.clone(),
    });
    assert!(
        matches!(&approved, Ok(View::Done(m)) if m.contains("approved") && m.contains("DISABLED")),
        "{approved:?}"
    );
    assert_eq!(sim.state_of("feed"), "DISABLED");
    let out = sim.take();
    assert!(lifecycle_events(&out).iter().any(|e| matches!(e,
        LifecycleEvent::Disabled { by, .. } if by == "approved recommendation")));
}

/// The health report's outlook as last written.
fn written_outlook(out: &[(u64, Output)]) -> Option<String> {
    out.iter().rev().find_map(|(_, o)| match o {
        Output::Write {
            file: FileWrite::HealthReport(ballast_store::files::health::HealthFile::Report(r)),
            ..
        } => Some(
            r.policy
                .outlook
                .as_ref()
                .map_or(String::new(), |o| o.text.clone()),
        ),
        _ => None,
    })
}

#[test]
fn the_outlook_written_after_a_release_is_the_new_policys() {
    let mut sim = Sim::new(Vec::new());
    let files = Files {
        kill_switch: KillSwitchFiles::default(),
        policy_file: Some((Policy::AllowAll, 0)),
    };
    let at = sim.now().wall;
    sim.input(Input::Measured(Box::new(Measured {
        report: report(Status::Failed, at),
        engine: None,
        files: files.clone(),
    })));
    assert_eq!(sim.core.policy().0, Policy::EmergencyShutdown);
    sim.run_for(1_000);
    let at = sim.now().wall;
    sim.input(Input::Measured(Box::new(Measured {
        report: report(Status::Healthy, at),
        engine: None,
        files: files.clone(),
    })));
    sim.take();
    let released = sim.control(Request::Release);
    assert!(matches!(released, Ok(View::Done(_))), "{released:?}");
    assert_eq!(sim.core.policy().0, Policy::AllowAll);
    let outlook = written_outlook(&sim.take()).expect("the report is written after a release");
    assert!(
        !outlook.contains("EMERGENCY_SHUTDOWN"),
        "the report written after the release says where ALLOW_ALL goes, not the old policy: {outlook:?}"
    );
}
/// A configuration from TOML text (the built-in one with `text` over it).
fn config_of(text: &str) -> ballast_core::config::Config {
    ballast_core::config::load(
        Some(ballast_core::config::Source {
            path: "ballast.toml",
            text,
        }),
        &[],
    )
    .expect("a valid configuration")
}

/// `[[services]]` entries named `names`, each running `/bin/true` (as [`spec`]).
fn services_toml(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("[[services]]\nname = \"{n}\"\ncommand = \"/bin/true\"\n"))
        .collect()
}

fn reload_to(
    sim: &mut Sim,
    text: &str,
    names: &[&str],
) -> ballast_supervisor::control::ReloadAnswer {
    let loaded = ballast_supervisor::core::Loaded {
        config: config_of(text),
        services: names.iter().map(|n| spec(n)).collect(),
        file: Some("ballast.toml".into()),
        hash: format!("crc32c:{:08x}", text.len()),
        read: Default::default(),
    };
    sim.input(Input::Reload(Box::new(ballast_supervisor::core::Reload {
        token: Some(9),
        dry_run: false,
        by: "ballast reload",
        loaded: Ok(Box::new(loaded)),
        approval: None,
    })));
    let reply = sim.seen.iter().find_map(|(_, o)| match o {
        Output::Reply {
            token: 9,
            reply: Ok(View::Reload(a)),
        } => Some((**a).clone()),
        _ => None,
    });
    reply.expect("a reload's answer")
}

#[test]
fn a_reload_whose_engine_settings_cannot_be_written_applies_nothing() {
    let first = format!("[engine]\nenabled = false\n{}", services_toml(&["a"]));
    let mut sim = Sim::configured(
        vec![spec("a")],
        Vec::new(),
        Swept::default(),
        config_of(&first),
    );
    sim.run_for(10);
    sim.take();
    // A guard limit and a new service: the settings are written first, and fail.
    sim.writes_fail = Some("No space left on device".into());
    let next = format!(
        "[engine]\nenabled = false\n[guard]\nmax_open_orders = 3\n{}",
        services_toml(&["a", "b"])
    );
    let answer = reload_to(&mut sim, &next, &["a", "b"]);
    assert_eq!(answer.outcome, "failed", "{answer:?}");
    assert!(answer.message.contains("No space left"), "{answer:?}");
    let out = sim.take();
    assert!(spawns(&out).is_empty(), "nothing started: {out:?}");
    assert!(
        out.iter().any(|(_, o)| matches!(
            o,
            Output::Write {
                file: FileWrite::EngineSettings(_),
                ..
            }
        )),
        "{out:?}"
    );
    assert!(
        !out.iter().any(|(_, o)| matches!(o, Output::Reconfigure(_))),
        "nothing handed to the shell"
    );
    // The settings in force are written back (a failed write may have replaced the file).
    let settings: Vec<String> = out
        .iter()
        .filter_map(|(_, o)| match o {
            Output::Write {
                file: FileWrite::EngineSettings(f),
                ..
            } => Some(f.settings.guard.max_open_orders.to_string()),
            _ => None,
        })
        .collect();
    let before = config_of(&first).guard.max_open_orders.to_string();
    assert_eq!(settings, ["3".to_owned(), before], "{out:?}");
    assert!(
        events(&out)
            .iter()
            .any(|e| matches!(e, OpsEvent::ConfigReloadRefused(r) if r.outcome == "failed"))
    );
    let names: Vec<String> = sim
        .core
        .views(sim.now().at)
        .into_iter()
        .map(|v| v.name)
        .collect();
    assert_eq!(names, ["a"]);
    // Written, the same reload applies whole.
    sim.writes_fail = None;
    let answer = reload_to(&mut sim, &next, &["a", "b"]);
    assert_eq!(answer.outcome, "applied", "{answer:?}");
    assert_eq!(spawns(&sim.take()), [(10, 1)], "b started in a new slot");
}

#[test]
fn a_removed_service_is_retired_and_keeps_every_slot_index_valid() {
    let both = format!("[engine]\nenabled = false\n{}", services_toml(&["a", "b"]));
    let mut sim = Sim::configured(
        vec![spec("a"), spec("b")],
        Vec::new(),
        Swept::default(),
        config_of(&both),
    );
    sim.run_for(10);
    sim.take();
    let a_pid = sim.pids[&0];
    let only_b = format!("[engine]\nenabled = false\n{}", services_toml(&["b"]));
    let answer = reload_to(&mut sim, &only_b, &["b"]);
    assert_eq!(answer.actions, ["stop service a"], "{answer:?}");
    let out = sim.take();
    assert!(
        out.iter().any(|(_, o)| matches!(o, Output::Signal { pid, signal } if *pid == a_pid && *signal == Signal::TERM)),
        "a is stopped: {out:?}"
    );
    sim.exit(0, None, Some(15));
    sim.run_for(5_000);
    // a is gone and never started again; b keeps slot 1, and its restart is slot 1's.
    assert!(spawns(&sim.take()).is_empty());
    let names: Vec<String> = sim
        .core
        .views(sim.now().at)
        .into_iter()
        .map(|v| v.name)
        .collect();
    assert_eq!(names, ["b"]);
    assert!(
        sim.core.slot_of("a").is_none(),
        "a removed service has no slot"
    );
    // Nor is it named among the services an unknown name is told of.
    for request in [
        Request::Restart {
            service: "a".into(),
        },
        Request::Enable { name: "a".into() },
    ] {
        match sim.control(request) {
            Err(ControlError::NotFound(m)) => {
                assert!(m.contains("the services are: b"), "{m}");
                assert!(!m.contains("a, b") && !m.contains("b, a"), "{m}");
            }
            other => panic!("not found expected: {other:?}"),
        }
    }
    sim.exit(1, Some(1), None);
    sim.run_for(5_000);
    assert_eq!(
        spawns(&sim.take())
            .iter()
            .map(|(_, s)| *s)
            .collect::<Vec<_>>(),
        [1],
        "b restarted in its own slot"
    );
    // a returns: its old slot is taken again.
    let answer = reload_to(&mut sim, &both, &["a", "b"]);
    assert_eq!(answer.actions, ["start service a"], "{answer:?}");
    assert_eq!(
        spawns(&sim.take())
            .iter()
            .map(|(_, s)| *s)
            .collect::<Vec<_>>(),
        [0]
    );
}

#[test]
fn an_editor_saving_in_a_loop_has_the_file_read_at_most_once_a_second() {
    let mut sim = Sim::new(vec![spec("a")]);
    sim.core.watch_config_file();
    sim.run_for(10);
    sim.take();
    let reads = |out: &[(u64, Output)]| -> Vec<u64> {
        out.iter()
            .filter(|(_, o)| matches!(o, Output::ReadConfig { approved: None }))
            .map(|(t, _)| *t)
            .collect()
    };
    // A change every 10 ms for 3 s: read at once, then at most once a second.
    for _ in 0..300 {
        sim.input(Input::ConfigFileChanged);
        sim.run_for(10);
    }
    let times = reads(&sim.take());
    assert!(times.len() >= 3 && times.len() <= 4, "{times:?}");
    assert!(times.windows(2).all(|w| w[1] - w[0] >= 1_000), "{times:?}");
    // Quiet: nothing more is read.
    sim.run_for(5_000);
    assert!(reads(&sim.take()).len() <= 1);
}

#[test]
fn an_approved_reload_of_a_file_that_changed_since_its_recommendation_applies_nothing() {
    let first = format!("[engine]\nenabled = false\n{}", services_toml(&["a"]));
    let mut sim = Sim::configured(
        vec![spec("a")],
        Vec::new(),
        Swept::default(),
        config_of(&first),
    );
    sim.run_for(10);
    sim.take();
    let next = format!("[engine]\nenabled = false\n{}", services_toml(&["a", "b"]));
    let approve = |sim: &mut Sim, hash: &str| {
        sim.input(Input::Reload(Box::new(ballast_supervisor::core::Reload {
            token: Some(9),
            dry_run: false,
            by: "approved recommendation",
            loaded: Ok(Box::new(ballast_supervisor::core::Loaded {
                config: config_of(&next),
                services: vec![spec("a"), spec("b")],
                file: None,
                hash: hash.into(),
                read: Default::default(),
            })),
            approval: Some("configuration/reload_0000aaaa/reload_config".into()),
        })));
        sim.take()
            .into_iter()
            .find_map(|(_, o)| match o {
                Output::Reply { token: 9, reply } => Some(reply),
                _ => None,
            })
            .expect("the approval's answer")
    };
    match approve(&mut sim, "crc32c:0000bbbb") {
        Err(ControlError::Failed(why)) => assert!(why.contains("changed since"), "{why}"),
        other => panic!("refused, not {other:?}"),
    }
    let names: Vec<String> = sim
        .core
        .views(sim.now().at)
        .into_iter()
        .map(|v| v.name)
        .collect();
    assert_eq!(names, ["a"], "nothing applied");
    match approve(&mut sim, "crc32c:0000aaaa") {
        Ok(View::Done(message)) => assert!(message.contains("start service b"), "{message}"),
        other => panic!("applied, not {other:?}"),
    }
}

/// Every interleaving of `disable`, `enable`, a stop timeout passing and the stubborn
/// process finally reaped ends as the last request said: enabled means started again once the
/// process is down (as `restart` does), disabled means DISABLED and down. An `enable` always
/// succeeds on a disabled service and says "not disabled" only on an enabled one.
#[test]
fn every_interleaving_of_disable_enable_and_the_reap_ends_as_the_last_request_said() {
    #[derive(Debug, Clone, Copy)]
    enum Step {
        Disable,
        Enable,
        Timeout,
        Reap,
    }
    let all = [Step::Disable, Step::Enable, Step::Timeout, Step::Reap];
    let mut sequences: Vec<Vec<Step>> = vec![Vec::new()];
    for _ in 0..5 {
        let longer: Vec<Vec<Step>> = sequences
            .iter()
            .filter(|s| s.len() == sequences.last().map_or(0, Vec::len))
            .flat_map(|s| {
                all.iter().map(move |x| {
                    let mut s = s.clone();
                    s.push(*x);
                    s
                })
            })
            .collect();
        sequences.extend(longer);
    }
    let model = ServiceSpec {
        rules: RestartRules {
            max_restarts: 50,
            ..spec("model").rules
        },
        ..supportive("model")
    };
    for seq in sequences {
        let mut sim = Sim::new(vec![spec("engine"), model.clone()]);
        sim.run_for(2_000);
        assert_eq!(sim.state_of("model"), "RUNNING");
        // Whether the last effective request was a disable, and whether the process held
        // now was asked to stop.
        let (mut disabled, mut stop_asked) = (false, false);
        for step in &seq {
            let before = sim.pids.get(&1).copied();
            match step {
                Step::Disable => {
                    let r = sim.control(Request::Disable {
                        name: "model".into(),
                    });
                    assert_eq!(r.is_ok(), !disabled, "{seq:?}: disable answered {r:?}");
                    disabled = true;
                    stop_asked |= before.is_some();
                }
                Step::Enable => {
                    let r = sim.control(Request::Enable {
                        name: "model".into(),
                    });
                    assert_eq!(r.is_ok(), disabled, "{seq:?}: enable answered {r:?}");
                    disabled = false;
                }
                Step::Timeout => sim.run_for(6_000),
                Step::Reap if stop_asked => {
                    sim.exit(1, None, Some(9));
                    stop_asked = false;
                }
                Step::Reap => {}
            }
            sim.tick();
            if sim.pids.get(&1).copied() != before && sim.pids.contains_key(&1) {
                stop_asked = false;
            }
        }
        if stop_asked {
            sim.exit(1, None, Some(9));
        }
        sim.run_for(10_000);
        if disabled {
            assert_eq!(sim.state_of("model"), "DISABLED", "{seq:?}");
            assert!(!sim.pids.contains_key(&1), "{seq:?}: kept down");
        } else {
            assert!(
                sim.pids.contains_key(&1) && sim.state_of("model") == "RUNNING",
                "{seq:?}: enabled, it runs again, not {}",
                sim.state_of("model")
            );
        }
    }
}

/// A hand-edited `state/disabled.json` never disables a critical module: the engine, a
/// critical service and a critical check named there are refused at the start (an ALERT
/// each, a line in `status`), start or run as usual, and are dropped from the file; a
/// supportive one listed twice is taken once.
#[test]
fn a_list_naming_the_engine_or_a_critical_module_is_refused_and_reported_at_the_start() {
    let at = Timestamp::from_unix_ms(WALL_START_MS);
    let restored = |name: &str, kind| DisabledModule {
        name: name.into(),
        kind,
        reason: "hand-edited".into(),
        by: "operator".into(),
        at,
    };
    let check = |name: &str, critical| CheckModule {
        name: name.into(),
        critical,
        disable_on_failure: false,
    };
    let engine = ServiceSpec {
        critical: false,
        ..spec("engine")
    };
    let mut sim = Sim::build(
        vec![engine, spec("broker"), supportive("model")],
        vec!["engine".into()],
        Swept::default(),
        vec![check("db", true), check("gpu", false)],
        vec![
            restored("engine", ModuleKind::Service),
            restored("broker", ModuleKind::Service),
            restored("db", ModuleKind::Check),
            restored("model", ModuleKind::Service),
            restored("model", ModuleKind::Service),
        ],
    );
    sim.run_for(5_000);
    let out = sim.take();
    let refused: Vec<String> = lifecycle_events(&out)
        .into_iter()
        .filter_map(|e| match e {
            LifecycleEvent::DisableRefused { module, why, .. } => {
                assert!(why.contains("never disabled"), "{why}");
                Some(module)
            }
            _ => None,
        })
        .collect();
    assert_eq!(refused, ["engine", "broker", "db"]);
    let started: Vec<usize> = spawns(&out).into_iter().map(|(_, s)| s).collect();
    assert!(
        started.contains(&0) && started.contains(&1) && !started.contains(&2),
        "the engine and broker start, model stays disabled: {out:?}"
    );
    assert_eq!(sim.state_of("model"), "DISABLED");
    assert!(sim.core.disabled_checks().is_empty(), "db is run");
    assert_eq!(
        last_disabled_write(&out),
        Some(vec!["model".to_owned()]),
        "dropped from the file, model once"
    );
    let Ok(View::Status(status)) = sim.control(Request::Status) else {
        panic!("a status");
    };
    let problems = status.health.disabled_problems.join("\n");
    for name in [
        "service engine",
        "service broker",
        "check db",
        "service model more than once",
    ] {
        assert!(problems.contains(name), "{name} in {problems}");
    }
    assert_eq!(sim.core.disabled_list_problems().len(), 4);
}

/// A list file that must not be overwritten (a newer version, unreadable content): an
/// operator's disable is refused and says why; an automatic one holds in memory only and
/// says it is not saved; the file is never written.
#[test]
fn a_list_that_must_not_be_overwritten_refuses_a_disable_and_is_never_written() {
    let keep = "state/disabled.json is not overwritten: format version 9".to_owned();
    let model = ServiceSpec {
        on_failure_disable: true,
        ..supportive("model")
    };
    let config = ballast_core::config::load(None, &[]).expect("the built-in configuration");
    let mut sim = Sim::full(
        vec![spec("engine"), model],
        Vec::new(),
        Swept::default(),
        Vec::new(),
        Restored {
            modules: Vec::new(),
            problems: vec![keep.clone()],
            keep: Some(keep),
        },
        config,
    );
    sim.run_for(2_000);
    let refused = sim.control(Request::Disable {
        name: "model".into(),
    });
    assert!(
        matches!(&refused, Err(ControlError::Refused(m)) if m.contains("format version 9")),
        "{refused:?}"
    );
    for _ in 0..2 {
        sim.exit(1, Some(1), None);
        sim.run_for(5_000);
    }
    let out = sim.take();
    assert_eq!(sim.state_of("model"), "DISABLED", "on_failure still acts");
    assert_eq!(last_disabled_write(&out), None, "never written");
    assert!(
        lifecycle_events(&out).iter().any(
            |e| matches!(e, LifecycleEvent::PersistFailed { error } if error.contains("version 9"))
        ),
        "{out:?}"
    );
    let Ok(View::Status(status)) = sim.control(Request::Status) else {
        panic!("a status");
    };
    assert!(status.health.disabled_problems[0].contains("version 9"));
}

/// Covering is claimed only while the fallback really runs: a disabled fallback is never
/// started and the alert says the primary is uncovered and why (once); a fallback disabled
/// while covering, by an operator or by its own `on_failure`, ends the cover with an alert.
#[test]
fn a_disabled_or_lost_fallback_never_claims_to_cover_and_the_primary_is_said_uncovered() {
    let feed = ServiceSpec {
        fallback: Some("replay".into()),
        ..supportive("feed")
    };
    let replay = ServiceSpec {
        on_failure_disable: true,
        ..supportive("replay")
    };
    let uncovered = |out: &[(u64, Output)]| -> Vec<String> {
        lifecycle_events(out)
            .into_iter()
            .filter_map(|e| match e {
                LifecycleEvent::Uncovered {
                    service,
                    fallback,
                    why,
                } => {
                    assert_eq!((service.as_str(), fallback.as_str()), ("feed", "replay"));
                    Some(why)
                }
                _ => None,
            })
            .collect()
    };
    let covered = |sim: &Sim| {
        let v = sim.core.views(sim.now().at);
        (v[0].covered_by.clone(), v[1].covering.clone())
    };
    let mut sim = Sim::new(vec![feed, replay]);
    sim.run_for(2_000);
    assert!(
        sim.control(Request::Disable {
            name: "replay".into()
        })
        .is_ok()
    );
    sim.take();
    for _ in 0..2 {
        sim.exit(0, Some(1), None);
        sim.run_for(5_000);
    }
    sim.run_for(30_000);
    let out = sim.take();
    assert!(
        !lifecycle_events(&out)
            .iter()
            .any(|e| matches!(e, LifecycleEvent::FallbackEngaged { .. })),
        "nothing engaged: {out:?}"
    );
    assert!(
        !spawns(&out).iter().any(|(_, s)| *s == 1),
        "the disabled fallback is never started"
    );
    let whys = uncovered(&out);
    assert!(
        matches!(whys.as_slice(), [w] if w.contains("DISABLED")),
        "said once, with why: {whys:?}"
    );
    assert_eq!(covered(&sim), (None, None));
    // Enabled: it engages and covers once it runs.
    assert!(
        sim.control(Request::Enable {
            name: "replay".into()
        })
        .is_ok()
    );
    sim.run_for(1_000);
    let out = sim.take();
    assert!(
        lifecycle_events(&out)
            .iter()
            .any(|e| matches!(e, LifecycleEvent::FallbackEngaged { .. }))
    );
    assert_eq!(covered(&sim), (Some("replay".into()), Some("feed".into())));
    // Disabled while covering: the cover ends, with an alert.
    assert!(
        sim.control(Request::Disable {
            name: "replay".into()
        })
        .is_ok()
    );
    let out = sim.take();
    assert!(
        matches!(uncovered(&out).as_slice(), [w] if w.contains("disabled")),
        "{out:?}"
    );
    assert_eq!(covered(&sim), (None, None), "not while it is being stopped");
    sim.exit(1, None, Some(15));
    sim.run_for(5_000);
    assert_eq!(covered(&sim), (None, None));
    // Enabled again, then its own on_failure disables it while covering.
    assert!(
        sim.control(Request::Enable {
            name: "replay".into()
        })
        .is_ok()
    );
    sim.run_for(2_000);
    assert_eq!(covered(&sim), (Some("replay".into()), Some("feed".into())));
    sim.take();
    for _ in 0..2 {
        sim.exit(1, Some(1), None);
        sim.run_for(5_000);
    }
    let out = sim.take();
    assert_eq!(sim.state_of("replay"), "DISABLED");
    assert!(!uncovered(&out).is_empty(), "{out:?}");
    assert_eq!(covered(&sim), (None, None));
}

/// A disabled fallback is not advised as a switch to backup: the advice would promise a
/// cover that never starts.
#[test]
fn a_disabled_fallback_is_not_advised_as_a_switch_to_backup() {
    let feed = ServiceSpec {
        fallback: Some("replay".into()),
        ..supportive("feed")
    };
    let mut sim = Sim::new(vec![feed, supportive("replay")]);
    assert!(
        sim.control(Request::Disable {
            name: "replay".into()
        })
        .is_ok()
    );
    let report = failed_service("feed", sim.now().wall);
    sim.measure(report);
    let h = sim.health();
    let ids: Vec<&str> = h.recommendations.iter().map(|r| r.id.as_str()).collect();
    assert!(
        !ids.contains(&"service:feed/state/switch_to_backup")
            && ids.contains(&"service:feed/state/disable_module"),
        "{ids:?}"
    );
}

/// A reload that makes a disabled service critical enables it: a critical module is never
/// disabled, whichever way it became so.
#[test]
fn a_reload_that_makes_a_disabled_service_critical_enables_it_with_an_alert() {
    let first = format!(
        "[engine]\nenabled = false\n{}[[services]]\nname = \"m\"\ncommand = \"/bin/true\"\n",
        services_toml(&["a"])
    );
    let mut sim = Sim::configured(
        vec![spec("a"), supportive("m")],
        Vec::new(),
        Swept::default(),
        config_of(&first),
    );
    sim.run_for(10);
    assert!(sim.control(Request::Disable { name: "m".into() }).is_ok());
    sim.exit(1, None, Some(15));
    sim.run_for(10);
    assert_eq!(sim.state_of("m"), "DISABLED");
    sim.take();
    let next = format!(
        "[engine]\nenabled = false\n{}[[services]]\nname = \"m\"\ncommand = \"/bin/true\"\nkind = \"critical\"\n",
        services_toml(&["a"])
    );
    let answer = reload_to(&mut sim, &next, &["a", "m"]);
    assert_eq!(answer.outcome, "applied", "{answer:?}");
    sim.run_for(10);
    let out = sim.take();
    assert!(
        lifecycle_events(&out)
            .iter()
            .any(|e| matches!(e, LifecycleEvent::DisableRefused { module, .. } if module == "m")),
        "{out:?}"
    );
    assert_eq!(last_disabled_write(&out), Some(Vec::new()));
    assert!(spawns(&out).iter().any(|(_, s)| *s == 1), "m runs: {out:?}");
}

/// bot (whose fallback is `fallback`, none if empty), backoff and spare: the TOML and the specs.
fn fallback_setup(fallback: &str) -> (String, Vec<ServiceSpec>) {
    let line = if fallback.is_empty() {
        String::new()
    } else {
        format!("fallback = \"{fallback}\"\n")
    };
    let toml = format!(
        "[engine]\nenabled = false\n[[services]]\nname = \"bot\"\ncommand = \"/bin/true\"\n{line}\
         [[services]]\nname = \"backoff\"\ncommand = \"/bin/true\"\n\
         [[services]]\nname = \"spare\"\ncommand = \"/bin/true\"\n"
    );
    let bot = ServiceSpec {
        fallback: (!fallback.is_empty()).then(|| fallback.to_owned()),
        ..supportive("bot")
    };
    (toml, vec![bot, supportive("backoff"), supportive("spare")])
}

fn reload_setup(sim: &mut Sim, fallback: &str) -> ballast_supervisor::control::ReloadAnswer {
    let (toml, services) = fallback_setup(fallback);
    sim.input(Input::Reload(Box::new(ballast_supervisor::core::Reload {
        token: Some(9),
        dry_run: false,
        by: "ballast reload",
        loaded: Ok(Box::new(ballast_supervisor::core::Loaded {
            config: config_of(&toml),
            services,
            file: Some("ballast.toml".into()),
            hash: format!("crc32c:{:08x}", toml.len()),
            read: Default::default(),
        })),
        approval: None,
    })));
    let reply = sim.seen.iter().find_map(|(_, o)| match o {
        Output::Reply {
            token: 9,
            reply: Ok(View::Reload(a)),
        } => Some((**a).clone()),
        _ => None,
    });
    reply.expect("the reload's answer")
}

/// The processes the core signalled to stop, ended as they would.
fn end_stopped(sim: &mut Sim) {
    let out = sim.take();
    for (_, o) in &out {
        if let Output::Signal { pid, .. } = o {
            let slot = sim.pids.iter().find(|(_, p)| *p == pid).map(|(s, _)| *s);
            if let Some(slot) = slot {
                sim.exit(slot, None, Some(15));
            }
        }
    }
    sim.seen.extend(out);
}

#[test]
fn a_reload_that_moves_a_fallback_restarts_both_roles_and_never_leaves_a_standby_running() {
    let (toml, services) = fallback_setup("backoff");
    let mut sim = Sim::configured(services, Vec::new(), Swept::default(), config_of(&toml));
    sim.run_for(2_000);
    sim.take();
    assert_eq!(sim.state_of("backoff"), "STANDBY");
    assert_eq!(sim.state_of("spare"), "RUNNING");
    // The fallback moves to spare: the plan names both roles, spare stops to STANDBY and
    // backoff starts as a plain service.
    let answer = reload_setup(&mut sim, "spare");
    for s in ["backoff", "bot", "spare"] {
        let words = format!("restart service {s} (only it)");
        assert!(answer.actions.contains(&words), "{words}: {answer:?}");
    }
    end_stopped(&mut sim);
    sim.run_for(5_000);
    end_stopped(&mut sim);
    sim.run_for(5_000);
    assert_eq!(sim.state_of("spare"), "STANDBY");
    assert_eq!(sim.state_of("backoff"), "RUNNING");
    assert_eq!(sim.state_of("bot"), "RUNNING");
    // And back.
    reload_setup(&mut sim, "backoff");
    end_stopped(&mut sim);
    sim.run_for(5_000);
    end_stopped(&mut sim);
    sim.run_for(5_000);
    assert_eq!(sim.state_of("backoff"), "STANDBY");
    assert_eq!(sim.state_of("spare"), "RUNNING");
    assert_eq!(sim.state_of("bot"), "RUNNING");
}

#[test]
fn a_fallback_covering_for_a_primary_that_no_longer_names_it_is_a_plain_service_and_the_new_one_covers()
 {
    let (toml, services) = fallback_setup("backoff");
    let mut sim = Sim::configured(services, Vec::new(), Swept::default(), config_of(&toml));
    sim.run_for(2_000);
    // bot fails its budget: backoff covers.
    for _ in 0..2 {
        sim.exit(0, Some(1), None);
        sim.run_for(5_000);
    }
    sim.take();
    assert_eq!(sim.state_of("backoff"), "RUNNING");
    let views = sim.core.views(sim.now().at);
    assert_eq!(views[1].covering.as_deref(), Some("bot"));
    // A reload names spare instead (bot restarts afresh): backoff no longer covers — a plain
    // service, running — and spare stands by.
    reload_setup(&mut sim, "spare");
    end_stopped(&mut sim);
    sim.run_for(5_000);
    end_stopped(&mut sim);
    sim.run_for(5_000);
    let views = sim.core.views(sim.now().at);
    let view = |n: &str| {
        views
            .iter()
            .find(|v| v.name == n)
            .cloned()
            .expect("the service")
    };
    assert_eq!(view("backoff").covering, None, "{:?}", view("backoff"));
    assert_eq!(sim.state_of("backoff"), "RUNNING");
    assert_eq!(sim.state_of("spare"), "STANDBY");
    assert_eq!(sim.state_of("bot"), "RUNNING");
    // Back to backoff: it stops to STANDBY beside its running primary, and nothing left
    // running stands by.
    reload_setup(&mut sim, "backoff");
    end_stopped(&mut sim);
    sim.run_for(5_000);
    end_stopped(&mut sim);
    sim.run_for(5_000);
    assert_eq!(sim.state_of("backoff"), "STANDBY");
    assert_eq!(sim.state_of("spare"), "RUNNING");
    for v in sim.core.views(sim.now().at) {
        assert!(
            !(v.standby && v.pid.is_some()),
            "a standby left running: {v:?}"
        );
    }
}

#[test]
fn a_running_service_a_reload_makes_a_fallback_stops_to_standby_and_is_not_started_again() {
    // spare runs as a plain service; a reload makes it bot's fallback (bot's entry is what
    // changed): spare is stopped and stands by.
    let (toml, services) = fallback_setup("");
    let mut sim = Sim::configured(services, Vec::new(), Swept::default(), config_of(&toml));
    sim.run_for(2_000);
    sim.take();
    let spare_pid = sim.pids[&2];
    reload_setup(&mut sim, "spare");
    let out = sim.take();
    assert!(
        out.iter()
            .any(|(_, o)| matches!(o, Output::Signal { pid, .. } if *pid == spare_pid)),
        "spare is stopped: {out:?}"
    );
    assert!(
        lifecycle_events(&out).iter().any(|e| matches!(e,
            LifecycleEvent::FallbackStoodDown { fallback, primary }
                if fallback == "spare" && primary == "bot")),
        "journaled: {out:?}"
    );
    sim.seen.extend(out);
    end_stopped(&mut sim);
    sim.run_for(10_000);
    assert_eq!(sim.state_of("spare"), "STANDBY");
    assert!(
        !spawns(&sim.take()).iter().any(|(_, s)| *s == 2),
        "a standby is not started again"
    );
}

/// A health cycle measured before a reload applied the file it saw: its `reload_<hash>` for the
/// configuration now in force asks for nothing (the file is in force).
#[test]
fn a_cycle_measured_before_the_reload_it_saw_asks_for_no_reload_of_what_runs() {
    use ballast_core::health::RecoveryAction;
    let mut sim = Sim::new(Vec::new());
    let at = sim.now().wall;
    let configuration = Subsystem {
        name: "configuration".into(),
        critical: true,
        impacts_trading: false,
        depends_on: Vec::new(),
        interval_ms: 1_000,
    };
    let report = |check: &str| {
        let checks = vec![
            CheckResult::new("file", Status::Healthy, "validates"),
            CheckResult::new(check, Status::Degraded, "differs from what runs"),
        ];
        Report::build(
            vec![SubsystemHealth::new(configuration.clone(), checks, at)],
            &[],
            at,
        )
    };
    let files = Files {
        kill_switch: KillSwitchFiles::default(),
        policy_file: Some((Policy::AllowAll, 0)),
    };
    // The in-force configuration's hash is "built-in": a cycle that saw exactly it.
    sim.input(Input::Measured(Box::new(Measured {
        report: report("reload_built-in"),
        engine: None,
        files: files.clone(),
    })));
    let asked = |out: &[(u64, Output)]| {
        events(out).into_iter().any(|e| {
            matches!(e, OpsEvent::RecommendationPending(r) if r.advice.action == RecoveryAction::ReloadConfig)
        })
    };
    assert!(
        !asked(&sim.take()),
        "no reload of the configuration in force"
    );
    // Another file's content still asks.
    sim.run_for(1_000);
    sim.input(Input::Measured(Box::new(Measured {
        report: report("reload_0badf00d"),
        engine: None,
        files,
    })));
    assert!(
        asked(&sim.take()),
        "a file that differs asks for its reload"
    );
}

/// A report of the supportive service `name` FAILED.
fn failed_service(name: &str, at: Timestamp) -> Report {
    let failed = Subsystem {
        name: format!("service:{name}"),
        critical: false,
        impacts_trading: false,
        depends_on: Vec::new(),
        interval_ms: 1_000,
    };
    let checks = vec![CheckResult::new("state", Status::Failed, "FAILED")];
    Report::build(vec![SubsystemHealth::new(failed, checks, at)], &[], at)
}
