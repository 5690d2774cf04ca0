//! The configuration file changed on disk (issue 12, item 4), decided: a look at it is asked
//! for at most every [`CONFIG_CHECK_GAP`] (an editor saving in a loop does not keep the
//! supervisor reading), and what is found is handed to the health monitor — a file that does
//! not validate is a MEDIUM issue naming its errors, one that validates and differs from what
//! runs raises a `reload_config` recommendation that waits for `ballast approve` (never
//! automatic), one that changes a key that cannot change live says so. Either clears once the
//! file is the configuration in force again (put back, or reloaded).

use std::time::Instant;

use ballast_core::config::reload;
use ballast_core::health::{CheckResult, Report, Status, SubsystemHealth};

use super::{Now, Output, SupervisorCore, Token};
use crate::core::reload::Loaded;
pub use crate::limits::CONFIG_CHECK_GAP;

/// The configuration file as last read, against the one in force.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum FileSeen {
    /// No file is watched (the built-in configuration, or no reader).
    #[default]
    NotWatched,
    /// The file is the configuration in force (or differs only in what changes nothing).
    InForce,
    /// It does not validate: every error, as `ballast check` prints it.
    Invalid(Vec<String>),
    /// It validates and differs: the changes and what each takes.
    Differs {
        /// The file's hash: each content is its own recommendation (one rejected stands for
        /// that content only).
        hash: String,
        changes: Vec<String>,
        actions: Vec<String>,
    },
    /// It changes keys that cannot change live (each in the operator's words).
    Refused(Vec<String>),
}

/// When the file is looked at next.
#[derive(Debug, Clone, Default)]
pub(super) struct Watch {
    pub due: Option<Instant>,
    pub last: Option<Instant>,
    pub seen: FileSeen,
}

impl SupervisorCore {
    /// A cycle measured before the reload it saw the file for: its `reload_<hash>` check for
    /// the very configuration now in force is no longer true (the file is in force), so it is
    /// not raised — the report says so instead of asking to reload what runs.
    pub(super) fn mask_reloaded(&self, report: Report) -> Report {
        let check = format!(
            "reload_{}",
            self.in_force.hash.trim_start_matches("crc32c:")
        );
        let stale = |s: &SubsystemHealth| {
            s.subsystem.name == "configuration"
                && s.checks
                    .iter()
                    .any(|c| c.name == check && c.status != Status::Healthy)
        };
        if !report.subsystems.iter().any(stale) {
            return report;
        }
        let Report {
            at,
            subsystems,
            issues,
            ..
        } = report;
        let subsystems = subsystems
            .into_iter()
            .map(|s| {
                if !stale(&s) {
                    return s;
                }
                let checks = s
                    .checks
                    .iter()
                    .map(|c| {
                        if c.name == check {
                            CheckResult::new(
                                "reload",
                                Status::Healthy,
                                "the file on disk is the configuration in force (reloaded)",
                            )
                        } else {
                            c.clone()
                        }
                    })
                    .collect();
                SubsystemHealth::new(s.subsystem, checks, at)
            })
            .collect();
        Report::build(subsystems, &issues, at)
    }

    /// What the monitor reads of the configuration file.
    pub fn config_file_seen(&self) -> &FileSeen {
        &self.watch.seen
    }

    /// The file is watched (the supervisor started with one and can read it again).
    pub fn watch_config_file(&mut self) {
        self.watch.seen = FileSeen::InForce;
    }

    /// Inotify saw the file (or its directory's entry for it) change: look at it soon.
    pub(super) fn config_file_changed(&mut self, now: Now) {
        if self.watch.seen == FileSeen::NotWatched {
            return;
        }
        let at = self
            .watch
            .last
            .map_or(now.at, |l| (l + CONFIG_CHECK_GAP).max(now.at));
        self.watch.due = Some(self.watch.due.map_or(at, |d| d.min(at)));
    }

    /// The tick: ask the shell to read the file when its look is due.
    pub(super) fn config_check_due(&mut self, now: Now) {
        if self.watch.due.is_some_and(|d| d <= now.at) {
            self.watch.due = None;
            self.watch.last = Some(now.at);
            self.out.push_back(Output::ReadConfig { approved: None });
        }
    }

    /// What the file holds now, against the configuration in force.
    /// A file caught while it was being written is not judged: the writer's close is seen
    /// again by inotify and the file looked at then. An empty one is refused (a reload never
    /// applies it).
    pub(super) fn config_file_read(&mut self, loaded: Result<Box<Loaded>, Vec<String>>) {
        self.watch.seen = match loaded {
            Err(errors) => FileSeen::Invalid(errors),
            Ok(l) if reload::refusal(&l.read) == Some(reload::CHANGED_WHILE_READ) => return,
            Ok(l) if reload::refusal(&l.read).is_some() => {
                FileSeen::Refused(vec![reload::EMPTY_FILE.to_owned()])
            }
            Ok(l) => {
                let plan = reload::plan(&self.in_force.config, &l.config);
                if plan.is_refused() {
                    FileSeen::Refused(plan.refused.iter().map(|r| r.message()).collect())
                } else if plan.is_empty() {
                    FileSeen::InForce
                } else {
                    FileSeen::Differs {
                        hash: l.hash.clone(),
                        changes: plan.diff.iter().map(|c| c.key.clone()).collect(),
                        actions: plan
                            .actions
                            .iter()
                            .map(super::reload::action_words)
                            .collect(),
                    }
                }
            }
        };
    }

    /// After a reload: the file read then is what is known of it.
    pub(super) fn config_file_reloaded(&mut self, outcome: &str, errors: &[String]) {
        if self.watch.seen == FileSeen::NotWatched {
            return;
        }
        match outcome {
            "applied" | "unchanged" => self.watch.seen = FileSeen::InForce,
            "invalid" => self.watch.seen = FileSeen::Invalid(errors.to_vec()),
            _ => {}
        }
    }

    /// An approved `reload_config`: the shell reads the file and answers with the reload.
    pub(super) fn approved_reload(&mut self, token: Token, id: String) {
        self.out.push_back(Output::ReadConfig {
            approved: Some((token, id)),
        });
    }
}
