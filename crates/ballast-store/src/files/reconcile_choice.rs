//! `state/reconcile-choice.json`: the operator's choice about one reconciliation finding
//! (`ballast reconcile adopt|flatten|stay`, `POST /v1/reconciliation/{finding}/{choice}`),
//! handed to the engine — written durably (temp file, fdatasync, rename, directory fsync) by
//! the supervisor, or by the CLI when no supervisor runs; read by the engine at the start of a
//! pass when it changed, journaled as `reconcile.resolve` (or refused, said in its log and
//! heartbeat) and then removed. One choice at a time: a second one while the first waits is
//! refused by [`write_new`] (the operator is told which one waits), never overwrites it.

use ballast_core::Timestamp;
use ballast_core::limits::RECONCILE_CHOICE_FILE_MAX_BYTES;
use ballast_core::reconcile::Choice;
use serde::{Deserialize, Serialize};

use super::{FileError, read_json, write_atomic};
use crate::{Layout, Storage};

/// The longest finding id taken (a finding id is `<kind>:<symbol or venue order id>`).
pub const FINDING_ID_MAX_CHARS: usize = 200;

/// The file's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChoiceFile {
    /// Format version ([`super::VERSION`]; absent: 1).
    #[serde(default = "super::v1")]
    pub version: u32,
    /// The finding's id, as `ballast reconcile` lists it.
    pub finding: String,
    pub choice: Choice,
    /// Who chose and why, in the operator's words (`cli: checked the broker's statement`).
    pub by: String,
    pub at: Timestamp,
    /// The finding as the operator saw it (its quantities and venue order): the engine refuses
    /// the choice when the finding changed since. Absent (an older Ballast's file): refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seen: Option<ballast_core::reconcile::Seen>,
}

const WHAT: &str = "an operator's reconciliation choice";
const HELP: &str =
    "nothing was applied: remove it and make the choice again with `ballast reconcile`";

/// What is wrong with `f`'s fields, in words (none: `Ok`).
pub fn validate(f: &ChoiceFile) -> Result<(), String> {
    let id = f.finding.trim();
    if id.is_empty() || id.chars().count() > FINDING_ID_MAX_CHARS {
        return Err(format!(
            "the finding id is empty or over {FINDING_ID_MAX_CHARS} characters"
        ));
    }
    if id.chars().any(char::is_control) {
        return Err("the finding id has a control character".into());
    }
    let by = f.by.trim();
    if by.is_empty() || by.chars().count() > 2 * ballast_core::resolve::MAX_REASON_CHARS {
        return Err(format!(
            "`by` (who chose and why) is empty or over {} characters",
            2 * ballast_core::resolve::MAX_REASON_CHARS
        ));
    }
    if by.chars().any(char::is_control) {
        return Err("`by` has a control character".into());
    }
    Ok(())
}

/// The choice waiting for the engine (at most [`RECONCILE_CHOICE_FILE_MAX_BYTES`]; version,
/// shape and fields checked).
pub fn read(storage: &dyn Storage, layout: &Layout) -> Result<ChoiceFile, FileError> {
    let path = layout.reconcile_choice_file();
    let f: ChoiceFile = read_json(storage, &path, RECONCILE_CHOICE_FILE_MAX_BYTES, WHAT, HELP)?;
    validate(&f).map_err(|detail| FileError::Invalid {
        path,
        what: WHAT,
        detail,
        help: HELP,
    })?;
    Ok(f)
}

/// The words a refusal for a waiting choice starts with (the supervisor answers it as a
/// conflict).
pub const WAITING: &str = "a choice waits for the engine already";

/// Why a choice was not written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Another choice waits for the engine.
    #[error(
        "a choice waits for the engine already: {} {} by {} at {}; it is applied at the engine's next pass — make this one after it (`ballast reconcile` shows what is open)",
        ballast_core::resolve::word(.0.choice), .0.finding, .0.by, .0.at
    )]
    Waiting(Box<ChoiceFile>),
    #[error("{0}")]
    Invalid(String),
    #[error("cannot write {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// Write `f` durably unless a readable choice waits already (an unreadable one is replaced:
/// the engine refuses it anyway). Its directory is created if missing.
pub fn write_new(storage: &dyn Storage, layout: &Layout, f: &ChoiceFile) -> Result<(), WriteError> {
    validate(f).map_err(WriteError::Invalid)?;
    if let Ok(waiting) = read(storage, layout) {
        return Err(WriteError::Waiting(Box::new(waiting)));
    }
    let path = layout.reconcile_choice_file();
    let io = |source| WriteError::Io {
        path: path.display().to_string(),
        source,
    };
    storage.create_dir_all(&layout.state()).map_err(io)?;
    let mut bytes = serde_json::to_vec(f).map_err(|e| WriteError::Invalid(e.to_string()))?;
    bytes.push(b'\n');
    write_atomic(storage, &path, &bytes).map_err(io)
}

/// Remove the file once its choice is journaled or refused (missing: nothing to do).
pub fn remove(storage: &dyn Storage, layout: &Layout) -> std::io::Result<()> {
    match storage.remove_file(&layout.reconcile_choice_file()) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{layout, oversize};
    use super::*;
    use crate::storage::RealStorage;

    fn file() -> ChoiceFile {
        ChoiceFile {
            version: super::super::VERSION,
            finding: "quantity_mismatch:AAPL".into(),
            choice: Choice::Adopt,
            by: "cli: the broker's statement shows 15".into(),
            at: Timestamp::from_unix_ms(1_000),
            seen: Some(ballast_core::reconcile::Seen {
                local_qty: Some(rust_decimal::Decimal::new(2, 0)),
                venue_qty: Some(rust_decimal::Decimal::new(3, 0)),
                venue_order: None,
            }),
        }
    }

    #[test]
    fn an_older_file_without_what_the_choice_was_made_on_still_reads() {
        let (_t, l) = layout();
        let text = serde_json::to_string(&file()).unwrap();
        assert!(
            text.contains("\"seen\":{\"local_qty\":\"2\",\"venue_qty\":\"3\"}"),
            "{text}"
        );
        let path = l.reconcile_choice_file();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            &path,
            br#"{"finding":"quantity_mismatch:AAPL","choice":"adopt","by":"cli: x","at":"1970-01-01T00:00:01.000Z"}"#,
        )
        .unwrap();
        assert_eq!(read(&RealStorage, &l).unwrap().seen, None);
    }

    #[test]
    fn a_choice_round_trips_and_a_second_waits_for_the_first() {
        let (_t, l) = layout();
        assert!(read(&RealStorage, &l).unwrap_err().is_not_found());
        write_new(&RealStorage, &l, &file()).unwrap();
        assert_eq!(read(&RealStorage, &l).unwrap(), file());
        let text = std::fs::read_to_string(l.reconcile_choice_file()).unwrap();
        assert!(text.contains("\"choice\":\"adopt\""), "{text}");
        let mut other = file();
        other.choice = Choice::Flatten;
        let e = write_new(&RealStorage, &l, &other).unwrap_err().to_string();
        assert!(
            e.contains("waits for the engine already: adopt quantity_mismatch:AAPL"),
            "{e}"
        );
        assert_eq!(read(&RealStorage, &l).unwrap().choice, Choice::Adopt);
        remove(&RealStorage, &l).unwrap();
        remove(&RealStorage, &l).unwrap();
        write_new(&RealStorage, &l, &other).unwrap();
        assert_eq!(read(&RealStorage, &l).unwrap().choice, Choice::Flatten);
    }

    #[test]
    fn a_newer_a_damaged_an_invalid_and_an_oversize_file_are_refused() {
        let (_t, l) = layout();
        let path = l.reconcile_choice_file();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"{\"version\":2,\"finding\":\"x\"}").unwrap();
        let e = read(&RealStorage, &l).unwrap_err().to_string();
        assert!(
            e.contains("format version 2") && e.contains("reconcile-choice.json"),
            "{e}"
        );
        std::fs::write(&path, b"{\"finding\":\"x\",\"choice\":\"guess\"}").unwrap();
        let e = read(&RealStorage, &l).unwrap_err().to_string();
        assert!(e.contains("ballast reconcile"), "{e}");
        let mut bad = file();
        bad.by = "two\nlines".into();
        std::fs::write(&path, serde_json::to_vec(&bad).unwrap()).unwrap();
        let e = read(&RealStorage, &l).unwrap_err().reason();
        assert!(e.contains("control character"), "{e}");
        assert!(matches!(
            write_new(&RealStorage, &l, &bad),
            Err(WriteError::Invalid(_))
        ));
        // An unreadable choice does not block a new one (the engine would refuse it).
        write_new(&RealStorage, &l, &file()).unwrap();
        oversize(&path, RECONCILE_CHOICE_FILE_MAX_BYTES + 1);
        assert!(matches!(
            read(&RealStorage, &l).unwrap_err(),
            FileError::Read(crate::bounded::ReadError::TooLarge { .. })
        ));
    }
}
