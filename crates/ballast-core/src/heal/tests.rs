use rust_decimal::Decimal;
use serde_json::json;

use super::*;

fn obs() -> Observation {
    Observation::new(Mode::Paper)
}

fn only(plan: &Plan) -> &Action {
    assert_eq!(plan.actions.len(), 1, "{plan:#?}");
    &plan.actions[0]
}

#[test]
fn missing_and_blocked_directories_are_healed() {
    let mut o = obs();
    o.dirs = vec![
        ("state".into(), PathState::Dir),
        ("logs".into(), PathState::Missing),
        ("run".into(), PathState::NotDir),
    ];
    let p = inspect(&o);
    assert_eq!(p.actions.len(), 2);
    assert_eq!(p.actions[0].op, Op::CreateDir);
    assert_eq!(p.actions[0].target, "logs");
    assert_eq!(p.actions[1].op, Op::ReplaceWithDir);
    assert!(p.heals().count() == 2 && !p.has_dangerous());
}

fn facts(problem: Option<crate::recovery::JournalProblem>) -> RecoveryFacts {
    RecoveryFacts {
        journal: Ok(crate::recovery::JournalFacts {
            dir: "journal/engine".into(),
            segments: vec!["00000000000000000001.jsonl".into()],
            last_seq: 2,
            problem,
            crc_at: Vec::new(),
            other_files: Vec::new(),
        }),
        snapshots: Vec::new(),
        heartbeat_seq: None,
        engine_running: false,
    }
}

fn problem(
    kind: crate::recovery::ProblemKind,
    tail_shaped: bool,
) -> crate::recovery::JournalProblem {
    crate::recovery::JournalProblem {
        segment: "00000000000000000001.jsonl".into(),
        offset: 120,
        kind,
        tail_shaped,
        bytes: 7,
        line: 3,
        empty_after: Vec::new(),
        at: "00000000000000000001.jsonl line 3".into(),
    }
}

#[test]
fn torn_tail_is_healed_mid_journal_damage_is_dangerous() {
    use crate::recovery::ProblemKind;
    let corrupt = ProblemKind::Corrupt {
        reason: "no newline".into(),
    };
    let mut o = obs();
    o.recovery = Some(facts(Some(problem(corrupt.clone(), true))));
    let p = inspect(&o);
    assert_eq!(only(&p).op, Op::Truncate { keep_bytes: 120 });
    assert_eq!(only(&p).class, Class::Heal);

    o.recovery = Some(facts(Some(problem(corrupt, false))));
    let p = inspect(&o);
    assert_eq!(only(&p).class, Class::Dangerous);
    assert!(engine_may_start(Mode::Paper, &p).is_ok());
    o.mode = Mode::Live;
    let p = inspect(&o);
    let why = engine_may_start(Mode::Live, &p).unwrap_err();
    assert!(
        why.contains("journal") && why.contains("1 dangerous"),
        "{why}"
    );

    // A newer format: refused in paper mode too (the engine does not start on it).
    o.mode = Mode::Paper;
    o.recovery = Some(facts(Some(problem(
        ProblemKind::Newer {
            found: 2,
            supported: 1,
        },
        false,
    ))));
    let p = inspect(&o);
    assert_eq!(only(&p).failure, FailureClass::CodeSchema);
    assert!(p.engine_refusal.unwrap().contains("upgrade Ballast"));
}

#[test]
fn corrupt_and_temp_snapshots_move_aside_newer_ones_are_dangerous() {
    use crate::recovery::{SnapshotCheck, SnapshotFacts};
    let mut f = facts(None);
    let snap = |file: &str, seq: Option<u64>, check| SnapshotFacts {
        file: file.into(),
        seq,
        engine: true,
        check,
    };
    f.snapshots = vec![
        snap(
            "state/a",
            Some(1),
            SnapshotCheck::Intact {
                bound: Some(5),
                unfit: None,
            },
        ),
        snap(
            "state/b",
            Some(1),
            SnapshotCheck::Corrupt {
                problem: "bad crc".into(),
            },
        ),
        snap("state/c.tmp", None, SnapshotCheck::Temp),
        snap("state/d", Some(2), SnapshotCheck::Newer { found: 9 }),
    ];
    if let Ok(j) = &mut f.journal {
        j.crc_at = vec![(1, 5)];
    }
    let mut o = obs();
    o.recovery = Some(f);
    let p = inspect(&o);
    let ops: Vec<_> = p.actions.iter().map(|a| (a.class, &a.op)).collect();
    assert_eq!(
        ops,
        vec![
            (Class::Heal, &Op::MoveAside),
            (Class::Heal, &Op::MoveAside),
            (Class::Dangerous, &Op::Report)
        ]
    );
}

fn row(key: &str, symbol: &str, qty: i64, price: i64) -> PositionRow {
    PositionRow {
        key: key.into(),
        symbol: symbol.into(),
        qty: Decimal::from(qty),
        avg_entry_price: Decimal::from(price),
    }
}

#[test]
fn invalid_and_duplicate_positions_are_dangerous() {
    let mut o = obs();
    o.positions = Some(vec![
        row("AAPL", "AAPL", 10, 150),
        row("IBM", "IBM", -5, 100),
    ]);
    assert!(inspect(&o).is_clean());

    o.positions = Some(vec![row("AAPL", "AAPL", 10, 0)]);
    assert!(only(&inspect(&o)).reason.contains("entry price 0"));
    o.positions = Some(vec![row("AAPL", "AAPL", 0, 12)]);
    assert!(only(&inspect(&o)).reason.contains("size 0"));
    o.positions = Some(vec![
        row("AAPL", "AAPL", 10, 150),
        row("AAPL2", "AAPL", 4, 151),
    ]);
    let p = inspect(&o);
    assert_eq!(p.dangerous().count(), 2, "{p:#?}"); // stored under another key + duplicate
    assert!(
        p.actions
            .iter()
            .any(|a| a.reason.contains("duplicate long"))
    );
    // A long and a short of one symbol are not duplicates of each other (but the key is).
    o.positions = Some(vec![
        row("MSFT", "MSFT", 1, 10),
        row("MSFT", "MSFT", -1, 10),
    ]);
    assert!(inspect(&o).is_clean());
    assert!(inspect(&o).actions.iter().all(|a| a.class != Class::Heal));
}

fn lock_obs() -> LockObs {
    LockObs {
        path: "run/bot.lock".into(),
        pid: Some(4242),
        recorded_start: Some(100),
        exists: true,
        alive: false,
        actual_start: None,
        age_ms: STALE_LOCK_MS + 1,
        held: false,
    }
}

#[test]
fn locks_are_stale_only_when_dead_or_reused_and_old() {
    let mut o = obs();
    o.locks = vec![lock_obs()];
    let p = inspect(&o);
    assert_eq!(only(&p).op, Op::MoveAside);
    assert!(only(&p).reason.contains("pid 4242 is dead"), "{p:#?}");

    // Young: left alone even though the owner is dead.
    o.locks[0].age_ms = STALE_LOCK_MS;
    assert!(inspect(&o).is_clean());
    // Alive with the same start time: owned.
    o.locks[0] = LockObs {
        alive: true,
        actual_start: Some(100),
        ..lock_obs()
    };
    assert!(inspect(&o).is_clean());
    // Alive with another start time: the pid was reused.
    o.locks[0].actual_start = Some(999);
    assert!(only(&inspect(&o)).reason.contains("pid reused"));
    // Held by flock: never stale.
    o.locks[0].held = true;
    assert!(inspect(&o).is_clean());
    // No pid: cannot tell, left alone and said so.
    o.locks[0] = LockObs {
        pid: None,
        ..lock_obs()
    };
    assert_eq!(only(&inspect(&o)).class, Class::Skip);
}

#[test]
fn stale_heartbeat_restarts_its_running_service() {
    let mut o = obs();
    let hb = HeartbeatObs {
        path: "run/bot.hb".into(),
        service: "bot".into(),
        age_ms: Some(31_000),
        max_age_ms: 30_000,
        running: true,
    };
    o.heartbeats = vec![hb.clone()];
    assert_eq!(
        only(&inspect(&o)).op,
        Op::Restart {
            service: "bot".into()
        }
    );
    o.heartbeats = vec![HeartbeatObs {
        age_ms: Some(29_000),
        ..hb.clone()
    }];
    assert!(inspect(&o).is_clean());
    o.heartbeats = vec![HeartbeatObs {
        running: false,
        ..hb.clone()
    }];
    assert!(inspect(&o).is_clean());
    o.heartbeats = vec![HeartbeatObs { age_ms: None, ..hb }];
    assert!(only(&inspect(&o)).reason.contains("missing"));
}

#[test]
fn orphans_are_killed_in_paper_and_only_reported_in_live() {
    let mut o = obs();
    o.orphans = vec![OrphanObs {
        pid: 77,
        start_time: 5,
        service: "bot".into(),
        command: "python bot.py".into(),
    }];
    assert_eq!(
        only(&inspect(&o)).op,
        Op::Kill {
            pid: 77,
            start_time: 5
        }
    );
    o.mode = Mode::Live;
    let p = inspect(&o);
    assert_eq!(only(&p).class, Class::Skip);
    assert!(engine_may_start(Mode::Live, &p).is_ok());
}

#[test]
fn permissions_health_snapshot_and_logs() {
    let mut o = obs();
    o.read_only = vec![
        ReadOnlyObs {
            path: "state/x".into(),
            ours: true,
        },
        ReadOnlyObs {
            path: "state/y".into(),
            ours: false,
        },
    ];
    o.health_snapshot_corrupt = Some("EOF".into());
    o.logs_unwritable = Some("EACCES".into());
    let p = inspect(&o);
    let got: Vec<_> = p
        .actions
        .iter()
        .map(|a| (a.component.as_str(), a.class))
        .collect();
    assert_eq!(
        got,
        vec![
            ("permissions", Class::Heal),
            ("permissions", Class::Dangerous),
            ("health_snapshot", Class::Heal),
            ("logs", Class::Dangerous)
        ]
    );
}

fn json_artifact(text: Option<&str>) -> ArtifactObs {
    ArtifactObs {
        service: "bot".into(),
        path: "/srv/bot/state.json".into(),
        state: ArtifactState::Json {
            text: text.map(str::to_owned),
            unreadable: None,
            default: json!({"positions": [], "cash": 0, "version": 1}),
            required: vec!["positions".into(), "cash".into()],
        },
    }
}

fn rewritten(p: &Plan) -> serde_json::Value {
    match &only(p).op {
        Op::Rewrite { content, .. } => serde_json::from_str(content).unwrap(),
        other => panic!("expected a rewrite, got {other:?}"),
    }
}

#[test]
fn json_artifacts_salvage_fill_and_create() {
    let mut o = obs();
    o.artifacts = vec![json_artifact(None)];
    assert!(matches!(only(&inspect(&o)).op, Op::CreateFile { .. }));

    o.artifacts = vec![json_artifact(Some(r#"{"positions":[1],"cash":5}"#))];
    assert!(inspect(&o).is_clean());

    // Valid but missing a required key: only that key is filled.
    o.artifacts = vec![json_artifact(Some(r#"{"positions":[1]}"#))];
    assert_eq!(
        rewritten(&inspect(&o)),
        json!({"positions": [1], "cash": 0})
    );

    // Truncated mid-value: the complete members are salvaged, the rest from the default.
    o.artifacts = vec![json_artifact(Some(
        r#"{"cash": 12.5, "note": "a,}\"b", "nested": {"x": [1, {"y": 2}]}, "positions": [1, 2"#,
    ))];
    let p = inspect(&o);
    assert_eq!(
        rewritten(&p),
        json!({"cash": 12.5, "note": "a,}\"b", "nested": {"x": [1, {"y": 2}]}, "positions": [], "version": 1})
    );
    assert!(
        only(&p).reason.contains("salvaged 3 key"),
        "{}",
        only(&p).reason
    );

    // Not an object at all.
    o.artifacts = vec![json_artifact(Some("[1,2]"))];
    assert_eq!(
        rewritten(&inspect(&o)),
        json!({"positions": [], "cash": 0, "version": 1})
    );
}

#[test]
fn jsonl_artifacts_keep_valid_lines_in_order() {
    let text = "{\"a\":1}\nnot json\n\n{\"a\":2}\n{\"a\":\n{\"a\":3}\n{\"partial\":";
    let mut o = obs();
    o.artifacts = vec![ArtifactObs {
        service: "bot".into(),
        path: "/srv/bot/signals.jsonl".into(),
        state: ArtifactState::Jsonl {
            text: Some(text.into()),
            unreadable: None,
        },
    }];
    let p = inspect(&o);
    match &only(&p).op {
        Op::Rewrite {
            content,
            expect_bytes,
            bad_lines,
        } => {
            assert_eq!(content, "{\"a\":1}\n\n{\"a\":2}\n{\"a\":3}\n{\"partial\":");
            assert_eq!(*expect_bytes, text.len() as u64);
            assert_eq!(bad_lines.as_deref(), Some("2\tnot json\n5\t{\"a\":\n"));
        }
        other => panic!("{other:?}"),
    }
    assert!(only(&p).reason.contains("line 2, 5"), "{}", only(&p).reason);

    let split = split_jsonl("{}\n{}\n");
    assert!(split.bad.is_empty() && split.kept == 2);
}

#[test]
fn artifact_dirs_locks_and_heartbeats_use_the_same_rules() {
    let mut o = obs();
    o.artifacts = vec![
        ArtifactObs {
            service: "bot".into(),
            path: "/srv/bot/models".into(),
            state: ArtifactState::Dir {
                state: PathState::Missing,
            },
        },
        ArtifactObs {
            service: "bot".into(),
            path: "/srv/bot/bot.lock".into(),
            state: ArtifactState::Lock(lock_obs()),
        },
        ArtifactObs {
            service: "bot".into(),
            path: "/srv/bot/hb".into(),
            state: ArtifactState::Heartbeat(HeartbeatObs {
                path: "/srv/bot/hb".into(),
                service: "bot".into(),
                age_ms: Some(99_000),
                max_age_ms: 10_000,
                running: true,
            }),
        },
    ];
    let p = inspect(&o);
    let ops: Vec<_> = p.actions.iter().map(|a| &a.op).collect();
    assert_eq!(
        ops,
        vec![
            &Op::CreateDir,
            &Op::MoveAside,
            &Op::Restart {
                service: "bot".into()
            }
        ]
    );
    assert!(p.actions.iter().all(|a| a.component == "artifact:bot"));
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever a declared file holds, salvage never panics and always yields an object
        /// with every required key.
        #[test]
        fn salvage_always_yields_an_object_with_the_required_keys(text in "\\PC{0,200}", cut in 0usize..200) {
            let default = json!({"a": 1, "b": [2]});
            let required = vec!["a".to_string(), "b".to_string()];
            let t: String = text.chars().take(cut).collect();
            let s = salvage_json(&t, &default, &required);
            let obj = s.value.as_object().unwrap();
            prop_assert!(obj.contains_key("a") && obj.contains_key("b"));
            // A truncated valid document keeps whatever members were complete.
            let doc = json!({"a": 5, "x": "y,}", "b": [1, {"c": 2}]}).to_string();
            let part = &doc[..cut.min(doc.len())];
            let s = salvage_json(part, &default, &required);
            for (k, v) in s.value.as_object().unwrap() {
                if s.salvaged.contains(k) {
                    let full: serde_json::Value = serde_json::from_str(&doc).unwrap();
                    prop_assert_eq!(&full[k], v);
                }
            }
        }

        /// Splitting a JSONL file loses nothing: every line is kept or quarantined, in order.
        #[test]
        fn jsonl_split_loses_no_line(lines in proptest::collection::vec("[ -~]{0,20}", 0..20), newline_end in any::<bool>()) {
            let mut text = lines.join("\n");
            if newline_end && !text.is_empty() {
                text.push('\n');
            }
            let split = split_jsonl(&text);
            let kept = split.good.lines().count();
            let total = text.lines().count();
            prop_assert_eq!(kept + split.bad.len(), total);
            for (n, line) in &split.bad {
                prop_assert_eq!(text.lines().nth(n - 1), Some(line.as_str()));
            }
        }
    }
}

#[test]
fn item_8_links_are_dangerous_and_hold_back_heals_through_them() {
    let mut o = obs();
    o.dirs = vec![("logs".into(), PathState::Missing)];
    o.recovery = Some(facts(Some(problem(
        crate::recovery::ProblemKind::Corrupt {
            reason: "no newline".into(),
        },
        true,
    ))));
    o.health_snapshot_corrupt = Some("eof".into());
    o.symlinks = vec![
        SymlinkObs {
            path: "quarantine".into(),
            target: "/elsewhere".into(),
        },
        SymlinkObs {
            path: "logs".into(),
            target: "/var/log/x".into(),
        },
    ];
    let p = inspect(&o);
    // The two links, dangerous; the torn tail and the health snapshot need quarantine/, the
    // directory creation goes through logs: none is applied.
    assert_eq!(p.heals().count(), 0, "{p:#?}");
    assert!(p.has_dangerous());
    let dangerous: Vec<&str> = p
        .actions
        .iter()
        .filter(|a| a.class == Class::Dangerous)
        .map(|a| a.target.as_str())
        .collect();
    assert_eq!(dangerous, ["quarantine", "logs"]);
    assert!(
        p.actions
            .iter()
            .filter(|a| a.class == Class::Skip)
            .all(|a| a
                .reason
                .contains("is a symbolic link, and nothing is written through it"))
    );
    // Without links the same observation heals all three.
    o.symlinks.clear();
    assert_eq!(inspect(&o).heals().count(), 3);
}
