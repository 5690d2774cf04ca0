//! `state/disabled.json`: the services and checks that are disabled — an operator's decision
//! (`ballast disable`) or a module's `on_failure = "disable"` — so a disable survives a
//! supervisor restart. The supervisor writes it durably on every disable and enable, and
//! reads it once at its start; a damaged file is reported there, never guessed at.

use serde::{Deserialize, Serialize};

use super::{FileError, read_json, write_atomic};
use crate::bounded::MAX_FILE_BYTES;
use crate::{Layout, Storage};
use ballast_core::Timestamp;

/// A service or a `[[checks]]` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModuleKind {
    Service,
    Check,
}

impl ModuleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ModuleKind::Service => "service",
            ModuleKind::Check => "check",
        }
    }
}

/// One disabled module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisabledModule {
    pub name: String,
    pub kind: ModuleKind,
    /// Why, in words (`disabled by operator`, `on_failure = "disable": FAILED …`).
    pub reason: String,
    /// `operator`, `approved recommendation`, `on_failure`.
    pub by: String,
    pub at: Timestamp,
}

/// The content of `state/disabled.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisabledFile {
    /// Format version ([`super::VERSION`]; absent: 1).
    #[serde(default = "super::v1")]
    pub version: u32,
    pub modules: Vec<DisabledModule>,
}

const WHAT: &str = "a list of disabled modules";
const HELP: &str = "nothing is taken as disabled: fix or remove it, then `ballast disable` what should stay disabled";

/// The file's content; a missing file is an empty list.
pub fn read(storage: &dyn Storage, layout: &Layout) -> Result<DisabledFile, FileError> {
    match read_json(storage, &layout.disabled_file(), MAX_FILE_BYTES, WHAT, HELP) {
        Err(e) if e.is_not_found() => Ok(DisabledFile {
            version: super::VERSION,
            modules: Vec::new(),
        }),
        other => other,
    }
}

/// Write it durably (its directory created if missing).
pub fn write(storage: &dyn Storage, layout: &Layout, file: &DisabledFile) -> std::io::Result<()> {
    storage.create_dir_all(&layout.state())?;
    let mut bytes = serde_json::to_vec_pretty(file).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    write_atomic(storage, &layout.disabled_file(), &bytes)
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{layout, oversize};
    use super::*;
    use crate::storage::RealStorage;

    #[test]
    fn the_list_round_trips_a_missing_file_is_empty_and_a_damaged_one_is_refused() {
        let (_t, l) = layout();
        assert!(read(&RealStorage, &l).unwrap().modules.is_empty());
        let file = DisabledFile {
            version: 1,
            modules: vec![DisabledModule {
                name: "model".into(),
                kind: ModuleKind::Check,
                reason: "disabled by operator".into(),
                by: "operator".into(),
                at: Timestamp::from_unix_ms(1_000),
            }],
        };
        write(&RealStorage, &l, &file).unwrap();
        assert_eq!(read(&RealStorage, &l).unwrap(), file);
        std::fs::write(l.disabled_file(), b"{\"modules\": [{\"name\": 3}]}").unwrap();
        let e = read(&RealStorage, &l).unwrap_err().to_string();
        assert!(
            e.contains("disabled.json") && e.contains("nothing is taken"),
            "{e}"
        );
        std::fs::write(l.disabled_file(), b"{\"version\": 2, \"modules\": []}").unwrap();
        let e = read(&RealStorage, &l).unwrap_err().to_string();
        assert!(e.contains("format version 2"), "{e}");
        oversize(&l.disabled_file(), MAX_FILE_BYTES + 1);
        assert!(read(&RealStorage, &l).is_err());
    }
}
