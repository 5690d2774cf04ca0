//! The operator's reconciliation choice reaches the engine through
//! `state/reconcile-choice.json` (issue 14 item 4): a valid choice about an open finding is
//! journaled as `reconcile.resolve` and applied (adopt: the books take the broker's quantity),
//! the file removed; a refused one is said in the log and the heartbeat and changes nothing;
//! without a file nothing is resolved, however many passes run.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use ballast_core::config::{self, Config};
use ballast_core::domain::Symbol;
use ballast_core::engine::ReconcileRecord;
use ballast_core::reconcile::{Choice, Finding, FindingKind, OnDangerous, Seen};
use ballast_core::{Clock, Timestamp};
use ballast_engine::{Options, run};
use ballast_store::files::reconcile_choice::{self, ChoiceFile};
use ballast_store::journal::{JournalOptions, OpenPolicy};
use ballast_store::{Journal, Layout, RealStorage, SystemClock};
use rust_decimal::Decimal;

fn config() -> Config {
    let mut cfg = config::builtin().unwrap();
    cfg.feed.bars_per_second = 0;
    cfg
}

fn run_to(cfg: &Config, dir: &Path, bars: u64) -> (ballast_engine::Report, Vec<String>) {
    let mut said = Vec::new();
    let r = run(
        cfg,
        dir,
        &Options {
            max_bars: Some(bars),
            ..Options::default()
        },
        &AtomicBool::new(false),
        &mut |l| said.push(l.to_owned()),
    )
    .unwrap();
    (r, said)
}

/// The engine journal's records of `kind`, their bodies as JSON.
fn records(dir: &Path, kind: &str) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    ballast_store::journal::scan(
        &RealStorage,
        &dir.join("journal/engine"),
        &mut |rec: &ballast_store::record::RecordRef<'_>| {
            if &*rec.kind == kind {
                out.push(serde_json::from_str(rec.body.get()).unwrap());
            }
            Ok(())
        },
    )
    .unwrap();
    out
}

/// A stopped engine's journal, with a startup reconciliation that found `symbol` held 15 at
/// the broker where Ballast holds nothing.
fn with_finding(dir: &Path, symbol: Symbol) -> String {
    let layout = Layout::new(dir);
    let (j, _) = Journal::open(
        Arc::new(RealStorage),
        &layout,
        &layout.engine_journal(),
        Arc::new(SystemClock),
        JournalOptions::default(),
        OpenPolicy::RefuseDangerous,
        &mut |_| Ok(()),
    )
    .unwrap();
    let id = format!("quantity_mismatch:{symbol}");
    let finding = Finding {
        id: id.clone(),
        kind: FindingKind::QuantityMismatch,
        symbol: Some(symbol),
        ours: format!("Ballast holds no {symbol}"),
        theirs: format!("the broker holds 15 {symbol} (avg 100)"),
        local_qty: Some(Decimal::ZERO),
        venue_qty: Some(Decimal::new(15, 0)),
        venue_avg_price: Some(Decimal::new(100, 0)),
        venue_order: None,
        explaining: vec![],
        client_order_id: None,
        choices: vec![Choice::Adopt, Choice::Flatten, Choice::StayHalted],
    };
    let rec = ReconcileRecord {
        at: Timestamp::from_unix_ms(1_000),
        startup: true,
        findings: vec![finding],
        unanswered: vec![],
        latch: OnDangerous::Halted,
    };
    j.append("reconcile.run", &rec).unwrap();
    drop(j);
    id
}

/// What the operator saw of `with_finding`'s finding: Ballast nothing, the broker `venue`.
fn seen(venue: i64) -> Seen {
    Seen {
        local_qty: Some(Decimal::ZERO),
        venue_qty: Some(Decimal::new(venue, 0)),
        venue_order: None,
    }
}

fn choose(dir: &Path, finding: &str, choice: Choice) {
    choose_on(dir, finding, choice, Some(seen(15)));
}

fn choose_on(dir: &Path, finding: &str, choice: Choice, seen: Option<Seen>) {
    reconcile_choice::write_new(
        &RealStorage,
        &Layout::new(dir),
        &ChoiceFile {
            version: 1,
            finding: finding.to_owned(),
            choice,
            by: "cli: the broker's statement shows 15".into(),
            at: SystemClock.now(),
            seen,
        },
    )
    .unwrap();
}

#[test]
fn an_adopt_choice_is_journaled_applied_and_taken_once() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config();
    let symbol = cfg.feed.symbols[0];
    run_to(&cfg, tmp.path(), 3);
    let id = with_finding(tmp.path(), symbol);
    // Without the operator's file nothing is resolved, pass after pass.
    let (r, _) = run_to(&cfg, tmp.path(), 8);
    assert!(records(tmp.path(), "reconcile.resolve").is_empty());
    assert_eq!(r.state.portfolio.qty(&symbol), Decimal::ZERO);
    assert_eq!(r.state.status().venue.reconcile.unwrap().findings.len(), 1);
    choose(tmp.path(), &id, Choice::Adopt);
    let (r, said) = run_to(&cfg, tmp.path(), 11);
    let resolved = records(tmp.path(), "reconcile.resolve");
    assert_eq!(resolved.len(), 1, "{resolved:?}");
    assert_eq!(resolved[0]["finding"], id.as_str());
    assert_eq!(resolved[0]["choice"], "adopt");
    assert_eq!(resolved[0]["by"], "cli: the broker's statement shows 15");
    assert_eq!(resolved[0]["after"], "15");
    assert_eq!(r.state.portfolio.qty(&symbol), Decimal::new(15, 0));
    assert!(
        r.state
            .status()
            .venue
            .reconcile
            .unwrap()
            .findings
            .is_empty(),
        "the finding is closed"
    );
    assert!(
        said.iter()
            .any(|l| l.contains(&format!("reconciliation: adopt {id}")) && l.contains("-> 15")),
        "{said:?}"
    );
    assert!(
        !Layout::new(tmp.path()).reconcile_choice_file().exists(),
        "the file is removed once journaled"
    );
    // A restart replays it: the same books, nothing resolved twice.
    let (r, _) = run_to(&cfg, tmp.path(), 12);
    assert_eq!(r.state.portfolio.qty(&symbol), Decimal::new(15, 0));
    assert_eq!(records(tmp.path(), "reconcile.resolve").len(), 1);
}

#[test]
fn a_refused_choice_is_said_in_the_log_and_the_heartbeat_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config();
    let symbol = cfg.feed.symbols[0];
    run_to(&cfg, tmp.path(), 3);
    let id = with_finding(tmp.path(), symbol);
    choose(tmp.path(), "quantity_mismatch:NOPE", Choice::Adopt);
    let (r, said) = run_to(&cfg, tmp.path(), 6);
    assert!(records(tmp.path(), "reconcile.resolve").is_empty());
    assert_eq!(r.state.portfolio.qty(&symbol), Decimal::ZERO);
    let refusal = said
        .iter()
        .find(|l| l.contains("is refused"))
        .unwrap_or_else(|| panic!("{said:?}"));
    assert!(
        refusal.contains("quantity_mismatch:NOPE")
            && refusal.contains(&id)
            && refusal.contains("nothing was applied"),
        "{refusal}"
    );
    let layout = Layout::new(tmp.path());
    assert!(!layout.reconcile_choice_file().exists());
    let hb = ballast_store::files::heartbeat::read(&RealStorage, &layout).unwrap();
    let why = hb.status.venue.choice_refused.unwrap();
    assert!(why.contains("quantity_mismatch:NOPE"), "{why}");
    // A damaged file is refused the same way, by name.
    std::fs::write(layout.reconcile_choice_file(), b"{\"finding\":").unwrap();
    let (_, said) = run_to(&cfg, tmp.path(), 8);
    assert!(
        said.iter()
            .any(|l| l.contains("reconcile-choice.json cannot be taken")),
        "{said:?}"
    );
    assert!(records(tmp.path(), "reconcile.resolve").is_empty());
}

#[test]
fn a_choice_made_on_another_quantity_than_the_finding_shows_now_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config();
    let symbol = cfg.feed.symbols[0];
    run_to(&cfg, tmp.path(), 3);
    let id = with_finding(tmp.path(), symbol);
    // The operator adopted "broker has 3"; the broker holds 15 now, under the same finding id.
    choose_on(tmp.path(), &id, Choice::Adopt, Some(seen(3)));
    let (r, said) = run_to(&cfg, tmp.path(), 6);
    assert!(records(tmp.path(), "reconcile.resolve").is_empty());
    assert_eq!(
        r.state.portfolio.qty(&symbol),
        Decimal::ZERO,
        "nothing adopted"
    );
    let expected = format!(
        "the finding changed since the choice: broker now 15 {symbol}, the choice was made on 3 — look again with `ballast reconcile`"
    );
    assert!(
        said.iter()
            .any(|l| l.contains(&expected) && l.contains("nothing was applied")),
        "{said:?}"
    );
    let layout = Layout::new(tmp.path());
    let hb = ballast_store::files::heartbeat::read(&RealStorage, &layout).unwrap();
    let why = hb.status.venue.choice_refused.unwrap();
    assert!(why.contains(&expected), "{why}");
    // A file that does not say what it was made on (an older Ballast's) is refused too.
    choose_on(tmp.path(), &id, Choice::Adopt, None);
    let (r, said) = run_to(&cfg, tmp.path(), 8);
    assert!(records(tmp.path(), "reconcile.resolve").is_empty());
    assert_eq!(r.state.portfolio.qty(&symbol), Decimal::ZERO);
    assert!(
        said.iter()
            .any(|l| l.contains("does not say what it was made on")),
        "{said:?}"
    );
}
