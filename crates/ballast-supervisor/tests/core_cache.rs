//! `clear_cache` in the supervisor's pure core, without processes, files or a clock: a low
//! disk's recommendation waits for `ballast approve`, which asks the shell for the clear and
//! answers the operator only with what the shell removed, journaled as `cache.cleared`; an
//! `auto_clear` cache is asked to be cleared once while its issue lasts, without an operator.
// The driver reads the clock once, for its manual clock's origin.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::time::{Duration, Instant};

use ballast_core::Timestamp;
use ballast_core::cache::Cleared;
use ballast_core::health::{CheckResult, Report, Status, Subsystem, SubsystemHealth};
use ballast_supervisor::control::Request;
use ballast_supervisor::core::{
    CoreConfig, Files, Governor, Input, KillSwitchFiles, Measured, Now, OpsEvent, Output,
    SupervisorCore, View,
};

const WALL_START_MS: i64 = 1_800_000_000_000;

struct Sim {
    core: SupervisorCore,
    start: Instant,
    t_ms: u64,
    /// The clears asked for: (service, path, by).
    clears: Vec<(String, String, String)>,
    events: Vec<OpsEvent>,
    replies: Vec<Result<View, String>>,
    /// The simulated cache: files in it and how many one clear removes at most (None: each
    /// clear removes two and leaves nothing); `stuck`: none can be removed.
    dir: Option<(u64, u64)>,
    stuck: bool,
}

impl Sim {
    fn new(cache: &str) -> Sim {
        let text = format!(
            "[engine]\nenabled = false\n[[services]]\nname = \"bot\"\ncommand = \"x\"\ncwd = \"/srv/bot\"\n[[artifacts]]\nservice = \"bot\"\nkind = \"cache\"\npath = \"cache\"\n{cache}"
        );
        let config = ballast_core::config::load(
            Some(ballast_core::config::Source {
                path: "ballast.toml",
                text: &text,
            }),
            &[],
        )
        .unwrap();
        let start = Instant::now();
        let now = Now {
            at: start,
            wall: Timestamp::from_unix_ms(WALL_START_MS),
        };
        let governor = Governor::new(ballast_core::policy::PolicyState::new(now.wall), &config);
        let core = SupervisorCore::new(
            CoreConfig {
                services: Vec::new(),
                mode: ballast_core::config::Mode::Paper,
                gated: Vec::new(),
                live_refused: None,
                sweep_every: Duration::from_secs(3600),
                config_file: None,
                supervisor_pid: 1,
                checks: Vec::new(),
                disabled: Default::default(),
                config: Box::new(config.clone()),
                config_hash: "built-in".into(),
            },
            governor,
            now,
        );
        Sim {
            core,
            start,
            t_ms: 0,
            clears: Vec::new(),
            events: Vec::new(),
            replies: Vec::new(),
            dir: None,
            stuck: false,
        }
    }

    fn now(&self) -> Now {
        Now {
            at: self.start + Duration::from_millis(self.t_ms),
            wall: Timestamp::from_unix_ms(WALL_START_MS + self.t_ms as i64),
        }
    }

    /// Hand `input` in and play the shell: writes work, each clear removes two files.
    fn input(&mut self, input: Input) {
        let now = self.now();
        self.core.handle(now, input);
        while let Some(out) = self.core.poll() {
            match out {
                Output::Write { id, .. } => self.core.handle(
                    now,
                    Input::Written {
                        id,
                        result: Ok(String::new()),
                    },
                ),
                Output::ClearCache {
                    id,
                    service,
                    path,
                    by,
                    dir,
                } => {
                    assert_eq!(dir, format!("/srv/bot/{path}"), "the directory raised for");
                    self.clears
                        .push((service.clone(), path.clone(), by.clone()));
                    let (files, left, bound) = match &mut self.dir {
                        None => (2, 0, 1_000),
                        Some((n, bound)) => {
                            let removed = if self.stuck { 0 } else { (*n).min(*bound) };
                            *n -= removed;
                            (removed, *n, *bound)
                        }
                    };
                    let cleared = Box::new(Cleared {
                        service,
                        path: format!("/srv/bot/{path}"),
                        by,
                        files,
                        bytes: files * 5,
                        left,
                        bound,
                        failed_count: u64::from(self.stuck),
                        ..Cleared::default()
                    });
                    self.core.handle(now, Input::CacheCleared { id, cleared });
                }
                Output::Ops(ev) => self.events.push(ev),
                Output::Reply { reply, .. } => self.replies.push(reply.map_err(|e| e.to_string())),
                _ => {}
            }
        }
    }

    /// A health cycle whose only figure is the free disk space, `status`.
    fn cycle(&mut self, status: Status) {
        self.t_ms += 1_000;
        let at = self.now().wall;
        let resources = Subsystem {
            name: "resources".into(),
            critical: false,
            impacts_trading: false,
            depends_on: Vec::new(),
            interval_ms: 1_000,
        };
        let checks = vec![CheckResult::new("disk_free", status, "3 % free")];
        let report = Report::build(vec![SubsystemHealth::new(resources, checks, at)], &[], at);
        self.input(Input::Measured(Box::new(Measured {
            report,
            engine: None,
            files: Files::default(),
        })));
    }

    fn approve(&mut self, id: &str) -> Result<View, String> {
        self.input(Input::Control {
            token: 1,
            request: Request::Approve { id: id.into() },
            kill_switch: KillSwitchFiles::default(),
        });
        self.replies.pop().expect("an answer")
    }

    fn journaled(&self, kind: &str) -> usize {
        self.events.iter().filter(|e| e.kind() == kind).count()
    }
}

const ID: &str = "resources/disk_free/clear_cache/cache:bot:cache";

#[test]
fn an_approved_clear_is_answered_with_what_the_shell_removed_and_journaled() {
    let mut sim = Sim::new("");
    sim.cycle(Status::Degraded);
    sim.cycle(Status::Degraded);
    assert!(sim.clears.is_empty(), "nothing is cleared without approval");
    assert_eq!(sim.journaled("recommendation.pending"), 1);
    let answer = sim.approve(ID).unwrap();
    let View::Done(said) = answer else {
        panic!("{answer:?}")
    };
    assert!(
        said.starts_with(&format!("{ID} approved: cache /srv/bot/cache of bot cleared by ballast approve ({ID}): 2 files (10 bytes freed)")),
        "{said}"
    );
    assert_eq!(
        sim.clears,
        [(
            "bot".into(),
            "cache".into(),
            format!("ballast approve ({ID})")
        )]
    );
    assert_eq!(sim.journaled("cache.cleared"), 1);
    // The record's body is the counts, by these names (`ballast journal dump --ops`).
    let ev = sim
        .events
        .iter()
        .find(|e| e.kind() == "cache.cleared")
        .unwrap();
    let (_, body) = ev.record();
    for (key, value) in [
        ("service", serde_json::json!("bot")),
        ("path", serde_json::json!("/srv/bot/cache")),
        ("files", serde_json::json!(2)),
        ("bytes", serde_json::json!(10)),
        ("links", serde_json::json!(0)),
        ("dirs", serde_json::json!(0)),
        ("failed_count", serde_json::json!(0)),
        ("left", serde_json::json!(0)),
    ] {
        assert_eq!(body[key], value, "{key}: {body}");
    }
    assert!(ev.logged(), "a clear is logged too");
    // Decided: it is not advised again while the disk stays low.
    sim.cycle(Status::Degraded);
    assert_eq!(sim.clears.len(), 1);
    assert!(sim.approve(ID).unwrap_err().contains("already approved"));
}

#[test]
fn an_auto_clear_cache_is_cleared_once_while_its_issue_lasts_and_again_when_it_returns() {
    let mut sim = Sim::new("auto_clear = true\n");
    sim.cycle(Status::Healthy);
    assert!(sim.clears.is_empty());
    sim.cycle(Status::Degraded);
    assert_eq!(sim.clears.len(), 1, "cleared without an operator");
    assert!(sim.clears[0].2.starts_with("auto_clear"));
    sim.cycle(Status::Critical);
    sim.cycle(Status::Degraded);
    assert_eq!(sim.clears.len(), 1, "once while the issue lasts");
    assert_eq!(sim.journaled("recommendation.pending"), 0);
    // Nothing to approve.
    assert!(sim.approve(ID).unwrap_err().contains("automatically"));
    sim.cycle(Status::Healthy);
    sim.cycle(Status::Degraded);
    assert_eq!(sim.clears.len(), 2, "the issue came back");
    assert_eq!(sim.journaled("cache.cleared"), 2);
}

/// A wake-up of the loop with nothing else to do.
fn tick(sim: &mut Sim) {
    sim.input(Input::Tick {
        heartbeats: Vec::new(),
    });
}

#[test]
fn an_approved_clear_goes_on_in_bounded_chunks_one_per_wake_up_until_the_cache_is_empty() {
    let mut sim = Sim::new("max_clear_entries = 10\n");
    sim.dir = Some((45, 10));
    sim.cycle(Status::Degraded);
    let View::Done(said) = sim.approve(ID).unwrap() else {
        panic!("not done")
    };
    // Answered after the first chunk, saying it goes on.
    assert_eq!(sim.clears.len(), 1);
    assert!(
        said.contains("10 files (50 bytes freed)")
            && said.contains("35 entries left: the clear goes on in chunks of at most 10 entries"),
        "{said}"
    );
    // The next chunk is due at once, and asked for at the next wake-up only (the loop handles
    // what else came first).
    let now = sim.now().at;
    assert_eq!(sim.core.next_wakeup(now), Some(now));
    for want in 2..=5 {
        tick(&mut sim);
        assert_eq!(sim.clears.len(), want);
    }
    assert_eq!(sim.dir, Some((0, 10)));
    tick(&mut sim);
    assert_eq!(sim.clears.len(), 5, "empty: it ends");
    let chunks: Vec<(u64, u64, bool)> = sim
        .events
        .iter()
        .filter(|e| e.kind() == "cache.cleared")
        .map(|e| {
            let (_, b) = e.record();
            (
                b["chunk"].as_u64().unwrap(),
                b["left"].as_u64().unwrap(),
                b["continues"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        chunks,
        [
            (1, 35, true),
            (2, 25, true),
            (3, 15, true),
            (4, 5, true),
            (5, 0, false)
        ]
    );
    assert!(sim.replies.is_empty(), "one answer, after the first chunk");
}

#[test]
fn a_chunk_that_removes_nothing_stops_the_clear_and_says_why() {
    let mut sim = Sim::new("max_clear_entries = 10\n");
    sim.dir = Some((45, 10));
    sim.stuck = true;
    sim.cycle(Status::Degraded);
    let View::Done(said) = sim.approve(ID).unwrap() else {
        panic!("not done")
    };
    assert!(
        said.contains("45 entries left: this chunk removed nothing, so the clear stops"),
        "{said}"
    );
    tick(&mut sim);
    assert_eq!(sim.clears.len(), 1, "no further chunk");
}

#[test]
fn a_decided_clear_is_offered_again_as_new_when_the_low_disk_clears_and_comes_back() {
    let mut sim = Sim::new("");
    sim.cycle(Status::Degraded);
    assert!(sim.approve(ID).is_ok());
    assert_eq!(sim.clears.len(), 1);
    sim.cycle(Status::Degraded);
    assert!(sim.approve(ID).unwrap_err().contains("already approved"));
    // The disk recovers, then is low again: a new recommendation, a new approval.
    sim.cycle(Status::Healthy);
    sim.cycle(Status::Degraded);
    assert_eq!(sim.journaled("recommendation.pending"), 2);
    assert_eq!(sim.clears.len(), 1, "not cleared without the new approval");
    assert!(sim.approve(ID).is_ok());
    assert_eq!(sim.clears.len(), 2);
    // A rejection lapses the same way.
    sim.cycle(Status::Healthy);
    sim.cycle(Status::Degraded);
    sim.input(Input::Control {
        token: 1,
        request: Request::Reject { id: ID.into() },
        kill_switch: KillSwitchFiles::default(),
    });
    assert!(sim.replies.pop().expect("an answer").is_ok());
    sim.cycle(Status::Healthy);
    sim.cycle(Status::Degraded);
    assert_eq!(sim.journaled("recommendation.pending"), 4);
}
