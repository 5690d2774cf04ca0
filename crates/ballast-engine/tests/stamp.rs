//! The journal is stamped with its mode and account: a paper journal is refused in live mode
//! (and the other way round), with a message saying so, before anything is written.

use std::sync::atomic::AtomicBool;

use ballast_core::config::{self, Mode};
use ballast_engine::{EngineError, Options, run};

#[test]
fn a_paper_journal_is_refused_in_live_mode_and_stamped_once() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config::builtin().unwrap();
    cfg.feed.bars_per_second = 0;
    let opts = Options {
        max_bars: Some(5),
        ..Options::default()
    };
    let stop = AtomicBool::new(false);
    run(&cfg, tmp.path(), &opts, &stop, &mut |_| {}).unwrap();
    let journal_bytes = || -> u64 {
        std::fs::read_dir(tmp.path().join("journal/engine"))
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .sum()
    };
    let before = journal_bytes();
    cfg.general.mode = Mode::Live;
    let e = run(&cfg, tmp.path(), &opts, &stop, &mut |_| {}).unwrap_err();
    assert!(matches!(e, EngineError::ModeMismatch { .. }), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("written in paper mode") && text.contains("asks for live mode"),
        "{text}"
    );
    assert_eq!(journal_bytes(), before, "nothing written");
    // Back in paper mode it continues, and the stamp is not written twice.
    cfg.general.mode = Mode::Paper;
    let r = run(
        &cfg,
        tmp.path(),
        &Options {
            max_bars: Some(8),
            ..Options::default()
        },
        &stop,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(r.bars, 8);
    let mut stamps = 0;
    ballast_store::journal::scan(
        &ballast_store::RealStorage,
        &tmp.path().join("journal/engine"),
        &mut |rec: &ballast_store::record::RecordRef<'_>| {
            if &*rec.kind == "journal.stamp" {
                stamps += 1;
            }
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(stamps, 1);
}

#[test]
fn a_second_engine_on_the_same_data_directory_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("run")).unwrap();
    let _first = ballast_engine::lock::acquire(&tmp.path().join("run")).unwrap();
    let mut cfg = config::builtin().unwrap();
    cfg.feed.bars_per_second = 0;
    let e = run(
        &cfg,
        tmp.path(),
        &Options {
            max_bars: Some(1),
            ..Options::default()
        },
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(matches!(e, EngineError::Lock(_)), "{e}");
    assert!(
        e.to_string().contains("one engine per data directory"),
        "{e}"
    );
    assert!(
        !tmp.path()
            .join("journal/engine")
            .read_dir()
            .is_ok_and(|mut d| d.next().is_some()),
        "no journal written"
    );
}
