//! `state/disabled.json`: the services and checks that are disabled — an operator's decision
//! (`ballast disable`) or a module's `on_failure = "disable"` — so a disable survives a
//! supervisor restart. The supervisor writes it durably on every disable and enable, and
//! reads it once at its start; a damaged file is reported there, never guessed at.

use serde::{Deserialize, Serialize};

use super::{FileError, write_atomic};
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
    let path = layout.disabled_file();
    let bytes = match storage.read_bounded(&path, MAX_FILE_BYTES) {
        Err(e) if e.is_not_found() => {
            return Ok(DisabledFile {
                version: super::VERSION,
                modules: Vec::new(),
            });
        }
        other => other?,
    };
    // Said in words: serde would take a list for the struct ("expected struct DisabledFile
    // with 2 elements").
    let top = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Object(_)) | Err(_) => None,
        Ok(serde_json::Value::Array(_)) => Some("a list"),
        Ok(serde_json::Value::String(_)) => Some("a string"),
        Ok(serde_json::Value::Number(_)) => Some("a number"),
        Ok(serde_json::Value::Bool(_)) => Some("true or false"),
        Ok(serde_json::Value::Null) => Some("null"),
    };
    if let Some(found) = top {
        return Err(FileError::Invalid {
            path,
            what: WHAT,
            detail: format!(
                "its top level is {found}, not an object with \"version\" and \"modules\""
            ),
            help: HELP,
        });
    }
    super::decode(&path, &bytes, WHAT, HELP)
}

/// The list as the supervisor takes it at its start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Restored {
    /// The disabled modules, each once.
    pub modules: Vec<DisabledModule>,
    /// What was wrong with the file, in words: damaged (and copied to `quarantine/`), of a
    /// newer version, unreadable, or listing a module twice.
    pub problems: Vec<String>,
    /// Why the file must not be overwritten (a newer version, or content that could not be
    /// read): the supervisor then refuses a disable or an enable rather than lose it.
    pub keep: Option<String>,
}

impl From<Vec<DisabledModule>> for Restored {
    fn from(modules: Vec<DisabledModule>) -> Restored {
        let mut r = Restored {
            modules: Vec::new(),
            problems: Vec::new(),
            keep: None,
        };
        r.take(modules);
        r
    }
}

impl Restored {
    /// Each module once (the first entry kept), the others named in a problem.
    fn take(&mut self, modules: Vec<DisabledModule>) {
        let mut twice = Vec::new();
        for m in modules {
            if self
                .modules
                .iter()
                .any(|k| k.kind == m.kind && k.name == m.name)
            {
                twice.push(format!("{} {}", m.kind.as_str(), m.name));
            } else {
                self.modules.push(m);
            }
        }
        if !twice.is_empty() {
            twice.dedup();
            self.problems.push(format!(
                "{} lists {} more than once; each is taken once (the first entry) and the file is rewritten so",
                crate::layout::rel::DISABLED,
                twice.join(", ")
            ));
        }
    }
}

/// The file at the supervisor's start: its modules; a damaged file is copied to
/// `quarantine/` first (its next write replaces it); a newer or unreadable one is kept as
/// it is. Nothing is taken from a file that does not read.
pub fn restore(
    storage: &dyn Storage,
    layout: &Layout,
    clock: &dyn ballast_core::Clock,
) -> Restored {
    let rel = crate::layout::rel::DISABLED;
    let e = match read(storage, layout) {
        Ok(file) => return Restored::from(file.modules),
        Err(e) => e,
    };
    let mut r = Restored::default();
    match &e {
        FileError::Invalid { .. } | FileError::Read(crate::bounded::ReadError::TooLarge { .. }) => {
            let q = crate::quarantine::Quarantine {
                storage,
                layout,
                clock,
            };
            let copied = match q.copy(&layout.disabled_file()) {
                Ok(to) => {
                    let to = to
                        .strip_prefix(layout.root())
                        .unwrap_or(&to)
                        .display()
                        .to_string();
                    format!("a copy is in {to}; the next disable or enable rewrites it")
                }
                Err(c) => {
                    let why = format!(
                        "it could not be copied to quarantine ({c}), so it is not overwritten: move it away, then `ballast disable` what should stay disabled"
                    );
                    r.keep = Some(format!("{rel} is damaged and {why}"));
                    why
                }
            };
            r.problems.push(format!("{e}; {copied}"));
        }
        FileError::Version { .. } | FileError::Read(_) => {
            r.problems.push(format!(
                "{e}; nothing is taken as disabled, and the file is kept as it is"
            ));
            r.keep = Some(format!("{rel} is not overwritten: {}", e.reason()));
        }
    }
    r
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

#[cfg(test)]
mod restore_tests {
    use super::super::test_util::layout;
    use super::*;
    use crate::storage::RealStorage;
    use ballast_core::clock::ManualClock;

    fn module(name: &str) -> DisabledModule {
        DisabledModule {
            name: name.into(),
            kind: ModuleKind::Service,
            reason: "disabled by operator".into(),
            by: "operator".into(),
            at: Timestamp::from_unix_ms(1_000),
        }
    }

    fn quarantined(l: &Layout) -> Vec<Vec<u8>> {
        let dir = l.quarantine().join("state");
        std::fs::read_dir(dir)
            .map(|d| {
                d.flatten()
                    .map(|e| std::fs::read(e.path()).unwrap())
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn a_damaged_list_is_copied_to_quarantine_and_said_in_words() {
        let (_t, l) = layout();
        let clock = ManualClock::new(Timestamp::from_unix_ms(1_000));
        std::fs::create_dir_all(l.state()).unwrap();
        std::fs::write(l.disabled_file(), b"[]").unwrap();
        let r = restore(&RealStorage, &l, &clock);
        assert!(r.modules.is_empty() && r.keep.is_none(), "{r:?}");
        let p = r.problems.join("\n");
        assert!(
            p.contains("top level is a list")
                && p.contains("quarantine/state/disabled.json.corrupt.")
                && !p.contains("struct"),
            "{p}"
        );
        assert_eq!(quarantined(&l), vec![b"[]".to_vec()]);
    }

    #[test]
    fn a_newer_or_unreadable_list_is_kept_and_never_taken() {
        let (_t, l) = layout();
        let clock = ManualClock::new(Timestamp::from_unix_ms(1_000));
        std::fs::create_dir_all(l.state()).unwrap();
        std::fs::write(l.disabled_file(), b"{\"version\": 9, \"modules\": [{}]}").unwrap();
        let r = restore(&RealStorage, &l, &clock);
        assert!(r.modules.is_empty(), "{r:?}");
        assert!(
            r.keep
                .as_deref()
                .is_some_and(|k| k.contains("format version 9")),
            "{r:?}"
        );
        assert!(quarantined(&l).is_empty());
        // A directory where the file belongs is unreadable content: kept, reported.
        std::fs::remove_file(l.disabled_file()).unwrap();
        std::fs::create_dir(l.disabled_file()).unwrap();
        let r = restore(&RealStorage, &l, &clock);
        assert!(r.keep.is_some() && !r.problems.is_empty(), "{r:?}");
    }

    #[test]
    fn a_module_listed_twice_is_taken_once_and_said() {
        let r = Restored::from(vec![module("model"), module("feed"), module("model")]);
        let names: Vec<&str> = r.modules.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["model", "feed"]);
        assert!(
            r.problems[0].contains("service model more than once"),
            "{r:?}"
        );
    }

    #[test]
    fn a_failed_write_leaves_no_temp_file() {
        let (_t, l) = layout();
        std::fs::create_dir_all(l.state()).unwrap();
        // The target is a non-empty directory: the rename over it fails.
        std::fs::create_dir_all(l.disabled_file().join("x")).unwrap();
        assert!(write(&RealStorage, &l, &DisabledFile::default()).is_err());
        let left: Vec<String> = std::fs::read_dir(l.state())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, ["disabled.json"], "no temp file left");
    }
}
