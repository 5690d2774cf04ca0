//! Every reader of outside input refuses what is over its bound, and never reads it whole:
//! real (sparse) files on a temp dir, one byte over each reader's limit.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use ballast_store::bounded::ReadError;
use ballast_store::files::FileError;
use ballast_store::limits::{SEGMENT_MAX_BYTES, SNAPSHOT_MAX_BYTES};
use ballast_store::{Layout, RealStorage};

/// A sparse file of `size` bytes at `path` (no disk used, no bytes to read).
fn sparse(path: &Path, size: u64) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    let f = std::fs::File::create(path).unwrap();
    f.set_len(size).unwrap();
}

fn layout() -> (tempfile::TempDir, Layout) {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::new(tmp.path().join("d"));
    layout.create(&RealStorage).unwrap();
    (tmp, layout)
}

#[test]
fn every_shared_file_over_its_limit_is_refused_as_too_large() {
    for kind in ballast_fuzz::files::KINDS {
        let (_tmp, layout) = layout();
        let path = (kind.path)(&layout);
        sparse(&path, kind.limit + 1);
        match (kind.round_trip)(&RealStorage, &layout) {
            Err(FileError::Read(ReadError::TooLarge { size, limit, .. })) => {
                assert_eq!((size, limit), (kind.limit + 1, kind.limit), "{}", kind.name);
            }
            other => panic!("{}: {other:?}", kind.name),
        }
    }
}

#[test]
fn a_snapshot_over_its_bound_is_moved_aside_unread_and_says_the_bound() {
    // Found reviewing the readers for the fuzz targets: a snapshot was read whole whatever its
    // size (a sparse file of a terabyte in state/ stopped the engine's recovery).
    let (_tmp, layout) = layout();
    let path = layout
        .state()
        .join(format!("engine.snapshot.{:020}.json", 7));
    sparse(&path, SNAPSHOT_MAX_BYTES + 1);
    let clock = ballast_core::clock::ManualClock::new(ballast_core::Timestamp::from_unix_ms(0));
    let snaps = ballast_store::snapshot::Snapshots {
        storage: &RealStorage,
        layout: &layout,
        clock: &clock,
        name: "engine",
        retain: 2,
    };
    let status = snaps.inspect().unwrap();
    let problem = status[0].problem.clone().unwrap_or_default();
    assert!(
        problem.contains(&format!("limit of {SNAPSHOT_MAX_BYTES} bytes")),
        "{problem}"
    );
    let loaded = snaps.load::<serde_json::Value>().unwrap();
    assert!(loaded.newest.is_none());
    assert_eq!(loaded.heals.len(), 1, "{:?}", loaded.heals);
    assert!(
        loaded.heals[0].before.contains("over the limit"),
        "{:?}",
        loaded.heals[0]
    );
    assert!(!path.exists(), "moved aside");
}

#[test]
fn a_journal_segment_over_its_bound_is_refused_by_name_unread() {
    let (_tmp, layout) = layout();
    let dir = layout.engine_journal();
    let name = ballast_store::journal::segment::name(1);
    sparse(&dir.join(&name), SEGMENT_MAX_BYTES + 1);
    let e = ballast_store::journal::scan(&RealStorage, &dir, &mut |_| Ok(()))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        e.contains(&name) && e.contains(&format!("limit of {SEGMENT_MAX_BYTES} bytes")),
        "{e}"
    );
}

#[test]
fn an_inbox_line_over_its_bound_is_refused() {
    let symbols = ballast_fuzz::text::symbols();
    let max = ballast_core::inbox::MAX_LINE_BYTES;
    let pad = |len: usize| {
        let head = r#"{"symbol":"AAPL","side":"buy","qty":"1","reason":""#;
        let mut line = head.to_owned();
        line.push_str(&" ".repeat(len - head.len() - 2));
        line.push_str("\"}");
        line
    };
    let over = pad(max + 1);
    let e = ballast_engine::inbox::parse(over.as_bytes(), &symbols).unwrap_err();
    assert!(e.contains(&format!("at most {max}")), "{e}");
}

#[test]
fn a_control_answer_over_its_bound_is_refused_in_words() {
    let max = ballast_supervisor::limits::CONTROL_ANSWER_MAX_BYTES as usize;
    let mut answer = br#"{"result":"done","message":""#.to_vec();
    answer.resize(max + 1, b'x');
    let e = ballast_supervisor::control::parse_answer("/d/run/supervisor.sock", &answer)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("longer than") && e.contains(&max.to_string()),
        "{e}"
    );
}

#[test]
fn a_secrets_file_over_its_bound_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("alpaca.toml");
    sparse(&path, ballast_alpaca::secrets::MAX_SECRETS_FILE_BYTES + 1);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let e = ballast_alpaca::secrets::from_file(&path, ballast_alpaca::secrets::Mode::Paper)
        .unwrap_err();
    assert!(e.contains("over"), "{e}");
}

#[test]
fn a_configuration_file_over_its_bound_is_refused_as_too_large() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("ballast.toml");
    let limit = ballast_core::limits::MAX_FILE_BYTES;
    sparse(&path, limit + 1);
    assert!(matches!(
        ballast_store::bounded::read_regular(&path, limit),
        Err(ReadError::TooLarge { .. })
    ));
}
