use super::*;

fn clean(last: u64) -> JournalFacts {
    JournalFacts {
        dir: "journal/engine".into(),
        segments: vec!["1.jsonl".into(), "2.jsonl".into()],
        last_seq: last,
        problem: None,
        crc_at: vec![(last, 7)],
        other_files: Vec::new(),
    }
}

fn snap(seq: u64, bound: Option<u32>) -> SnapshotFacts {
    SnapshotFacts {
        file: format!("state/engine.snapshot.{seq}.json"),
        seq: Some(seq),
        engine: true,
        check: SnapshotCheck::Intact { bound, unfit: None },
    }
}

fn torn(at_seq: u64) -> JournalFacts {
    JournalFacts {
        problem: Some(JournalProblem {
            segment: "2.jsonl".into(),
            offset: 100,
            kind: ProblemKind::Corrupt {
                reason: "checksum mismatch".into(),
            },
            tail_shaped: true,
            bytes: 40,
            line: 3,
            empty_after: Vec::new(),
            at: "2.jsonl line 3".into(),
        }),
        ..clean(at_seq)
    }
}

fn facts(j: JournalFacts, snaps: Vec<SnapshotFacts>, hb: Option<u64>) -> RecoveryFacts {
    RecoveryFacts {
        journal: Ok(j),
        snapshots: snaps,
        heartbeat_seq: hb,
        engine_running: false,
    }
}

#[test]
fn a_bound_snapshot_is_used_and_a_foreign_one_is_not() {
    let d = decide(
        Mode::Paper,
        &facts(clean(10), vec![snap(10, Some(7))], None),
    );
    assert_eq!(d.outcome, Outcome::Clean);
    assert_eq!(d.snapshot.map(|s| s.0), Some(10));
    let d = decide(
        Mode::Paper,
        &facts(clean(10), vec![snap(10, Some(8))], None),
    );
    assert_eq!(d.outcome, Outcome::Salvage);
    assert_eq!(d.snapshot, None);
    assert!(d.findings[0].reason.contains("does not belong"));
    assert_eq!(
        decide(Mode::Live, &facts(clean(10), vec![snap(10, Some(8))], None)).outcome,
        Outcome::Refuse
    );
}

#[test]
fn a_torn_tail_is_healed_only_without_evidence_of_acknowledgement() {
    let d = decide(Mode::Live, &facts(torn(10), vec![], Some(10)));
    assert_eq!(d.outcome, Outcome::Heal);
    for evidence in [
        facts(torn(10), vec![], Some(11)),
        facts(torn(10), vec![snap(12, Some(1))], None),
    ] {
        let d = decide(Mode::Live, &evidence);
        assert_eq!(d.outcome, Outcome::Refuse, "{d:#?}");
        let d = decide(Mode::Paper, &evidence);
        assert_eq!(d.outcome, Outcome::Salvage);
        assert_eq!(d.keep_seq, 10);
        assert!(d.steps.contains(&Step::Truncate {
            path: "journal/engine/2.jsonl".into(),
            keep_bytes: 100
        }));
    }
}

#[test]
fn paper_salvage_quarantines_snapshots_ahead_and_starts_from_an_older_one() {
    let mut j = torn(10);
    j.problem.as_mut().unwrap().tail_shaped = false;
    j.crc_at.push((5, 3));
    let d = decide(
        Mode::Paper,
        &facts(j, vec![snap(5, Some(3)), snap(20, Some(1))], Some(20)),
    );
    assert_eq!(d.outcome, Outcome::Salvage);
    assert_eq!(d.snapshot.map(|s| s.0), Some(5));
    assert!(d.steps.contains(&Step::MoveAside {
        path: "state/engine.snapshot.20.json".into()
    }));
    assert!(d.steps.contains(&Step::MoveAside {
        path: HEARTBEAT.into()
    }));
}

#[test]
fn a_journal_ending_before_what_the_heartbeat_reported_is_dangerous() {
    let d = decide(Mode::Paper, &facts(clean(10), vec![], Some(15)));
    assert_eq!(d.outcome, Outcome::Salvage);
    assert!(d.findings[0].reason.contains("are missing"), "{d:#?}");
    assert_eq!(
        d.steps,
        vec![Step::MoveAside {
            path: HEARTBEAT.into()
        }]
    );
    assert_eq!(
        decide(Mode::Paper, &facts(clean(10), vec![], Some(10))).outcome,
        Outcome::Clean
    );
}

#[test]
fn unbound_snapshots_are_moved_aside_and_unfit_ones_are_dangerous() {
    let d = decide(Mode::Live, &facts(clean(10), vec![snap(10, None)], None));
    assert_eq!(d.outcome, Outcome::Heal);
    assert_eq!(d.snapshot, None, "an unbound snapshot is never used");
    let mut unfit = snap(10, Some(7));
    unfit.check = SnapshotCheck::Intact {
        bound: Some(7),
        unfit: Some("missing field".into()),
    };
    let d = decide(Mode::Paper, &facts(clean(10), vec![unfit], None));
    assert_eq!(d.outcome, Outcome::Salvage);
    assert_eq!(d.snapshot, None);
}

#[test]
fn with_the_engine_running_a_partial_last_record_is_being_written_not_torn() {
    let mut f = facts(torn(10), vec![], Some(10));
    f.snapshots.push(SnapshotFacts {
        file: "state/.engine.snapshot.tmp".into(),
        seq: None,
        engine: false,
        check: SnapshotCheck::Temp,
    });
    f.engine_running = true;
    let d = decide(Mode::Live, &f);
    assert_eq!(d.outcome, Outcome::Clean, "{d:#?}");
    assert!(d.findings.is_empty() && d.steps.is_empty());
    assert_eq!(d.writing.len(), 2, "{d:#?}");
    // Acknowledged records missing stay dangerous, running or not.
    f.heartbeat_seq = Some(11);
    assert_eq!(decide(Mode::Live, &f).outcome, Outcome::Refuse);
    // Without the engine: the torn tail and the leftover are healed.
    f.heartbeat_seq = Some(10);
    f.engine_running = false;
    assert_eq!(decide(Mode::Live, &f).outcome, Outcome::Heal);
}

#[test]
fn an_unreadable_journal_is_refused_in_every_mode() {
    let f = RecoveryFacts {
        journal: Err("permission denied".into()),
        snapshots: vec![],
        heartbeat_seq: None,
        engine_running: false,
    };
    for mode in [Mode::Paper, Mode::Live] {
        let d = decide(mode, &f);
        assert_eq!(d.outcome, Outcome::Refuse);
        assert!(d.refusal.unwrap().contains("permission denied"));
    }
}

#[test]
fn newer_formats_are_refused_in_every_mode() {
    let mut j = clean(3);
    j.problem = Some(JournalProblem {
        kind: ProblemKind::Newer {
            found: 2,
            supported: 1,
        },
        ..torn(3).problem.unwrap()
    });
    for mode in [Mode::Paper, Mode::Live] {
        let d = decide(mode, &facts(j.clone(), vec![], None));
        assert_eq!(d.outcome, Outcome::Refuse);
        assert!(d.refusal.unwrap().contains("upgrade Ballast"));
        assert!(d.steps.is_empty());
    }
}
