use super::*;
use ballast_core::ManualClock;
use ballast_core::Timestamp;
use std::sync::Arc;

#[test]
fn the_engine_files_are_rescanned_exactly_when_they_change() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::new(tmp.path());
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_ms(1_000)));
    let (journal, _) = ballast_store::Journal::open(
        Arc::new(RealStorage),
        &layout,
        &layout.engine_journal(),
        clock.clone(),
        ballast_store::JournalOptions::default(),
        ballast_store::OpenPolicy::RefuseDangerous,
        &mut |_| Ok(()),
    )
    .unwrap();
    journal
        .append(
            "journal.stamp",
            &serde_json::json!({"mode": "paper", "account": "paper"}),
        )
        .unwrap();
    drop(journal);
    let config = ballast_core::config::builtin().unwrap();
    let cache = std::cell::RefCell::new(EngineFiles::default());
    let healer = Healer {
        data_dir: tmp.path(),
        config: &config,
        clock: &*clock,
        cache: Some(&cache),
    };
    let seg = layout.engine_journal().join("00000000000000000001.jsonl");
    let clean = std::fs::read(&seg).unwrap();
    let verdict = |o: Observation| {
        o.recovery
            .map(|f| ballast_core::recovery::decide(Mode::Paper, &f).outcome)
    };
    use ballast_core::recovery::Outcome;
    assert_eq!(
        verdict(healer.observe(false, &|_| false)),
        Some(Outcome::Clean)
    );
    let mut torn = clean.clone();
    torn.extend_from_slice(b"{\"v\":1,\"se");
    std::fs::write(&seg, &torn).unwrap();
    assert_eq!(
        verdict(healer.observe(false, &|_| false)),
        Some(Outcome::Heal)
    );
    // Unchanged: the cached verdict. Changed back: scanned again.
    assert_eq!(
        verdict(healer.observe(false, &|_| false)),
        Some(Outcome::Heal)
    );
    std::fs::write(&seg, &clean).unwrap();
    assert_eq!(
        verdict(healer.observe(false, &|_| false)),
        Some(Outcome::Clean)
    );
    // Also read while the engine runs (what is found stands only while it is there).
    assert_eq!(
        verdict(healer.observe(true, &|_| false)),
        Some(Outcome::Clean)
    );
}

#[test]
fn lock_files_name_their_owner_as_a_number_or_json() {
    assert_eq!(parse_lock("4242\n"), (Some(4242), None));
    assert_eq!(parse_lock("4242 99"), (Some(4242), Some(99)));
    assert_eq!(
        parse_lock(r#"{"pid": 7, "start_time": 12}"#),
        (Some(7), Some(12))
    );
    assert_eq!(parse_lock("garbage"), (None, None));
    assert_eq!(parse_lock("-3"), (None, None));
    assert!(start_time(std::process::id() as i32).is_some());
}

#[test]
fn every_heal_carried_out_is_reported_as_its_ops_event_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(Timestamp::from_unix_ms(1_000));
    let config = ballast_core::config::builtin().unwrap();
    let healer = Healer {
        data_dir: tmp.path(),
        config: &config,
        clock: &clock,
        cache: None,
    };
    let mut events = Vec::new();
    let report = healer.run(false, false, &|_| false, &mut |_| Ok(()), &mut |ev| {
        events.push(ev)
    });
    // A fresh data directory: its directories are made, each a heal on record.
    assert!(!report.applied.is_empty(), "{report:?}");
    let wanted: Vec<OpsEvent> = report
        .applied
        .iter()
        .cloned()
        .map(OpsEvent::HealApplied)
        .collect();
    assert_eq!(events, wanted);
    assert!(events.iter().all(|e| e.kind() == "heal.applied"));
    // A dry run applies nothing and records nothing.
    let mut none = Vec::new();
    let dry = healer.run(true, false, &|_| false, &mut |_| Ok(()), &mut |ev| {
        none.push(ev)
    });
    assert!(dry.applied.is_empty() && none.is_empty());
}
