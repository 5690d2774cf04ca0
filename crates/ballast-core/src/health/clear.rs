//! `clear_cache` (SPEC §5): when it is recommended, decided purely. A declared cache
//! (`[[artifacts]] kind = "cache"`) is to be cleared when the disk is low (the resource
//! check's `disk_free` issue: every declared cache) or its service fails repeatedly (its
//! `service:NAME/state` issue while it is FAILED, or once it has failed
//! [`CLEAR_CACHE_AFTER_FAILURES`] times inside its restart window). It waits for an operator
//! unless the cache says `auto_clear = true`.

use std::collections::BTreeMap;

use super::{Advice, Issue, RecoveryAction, Status, SubsystemId};
use crate::config::{ArtifactKind, Config};

/// Failures inside a service's restart window from which clearing its caches is recommended
/// (before its failure budget is spent: a corrupt cache is a common cause of a crash loop).
pub const CLEAR_CACHE_AFTER_FAILURES: usize = 3;

/// The issue of the resource check's free disk space.
pub const DISK_FREE_ISSUE: &str = "resources/disk_free";

/// A declared cache as the recommendation sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheDecl {
    pub service: String,
    /// As declared (relative to the service's working directory, or absolute).
    pub path: String,
    pub auto_clear: bool,
    pub max_clear_entries: u32,
    /// Its directory: the path joined to the service's working directory (absolute when the
    /// working directory is; else below the supervisor's, which never changes while it runs).
    /// A recommendation is raised for this directory and clears only it.
    pub dir: String,
}

impl CacheDecl {
    /// The caches `config` declares.
    pub fn of(config: &Config) -> Vec<CacheDecl> {
        config
            .artifacts
            .iter()
            .filter(|a| a.kind == ArtifactKind::Cache)
            .map(|a| CacheDecl {
                service: a.service.clone(),
                path: a.path.clone(),
                auto_clear: a.auto_clear,
                max_clear_entries: a.max_clear_entries,
                dir: config
                    .services
                    .iter()
                    .find(|s| s.name == a.service)
                    .map_or_else(
                        || a.path.clone(),
                        |s| s.declared_path(&a.path).display().to_string(),
                    ),
            })
            .collect()
    }

    /// The recommendation's target: `cache:SERVICE:PATH`.
    pub fn target(&self) -> String {
        format!("{CACHE_PREFIX}{}:{}", self.service, self.path)
    }
}

const CACHE_PREFIX: &str = "cache:";

/// The directory each open `clear_cache` recommendation was raised for, kept beside the
/// open recommendations (`dirs`, bounded by them): a new one takes its cache's directory now;
/// one no longer open is dropped (its clear, if approved, carries the directory with it).
pub fn track_dirs(
    dirs: &mut BTreeMap<String, String>,
    open: &[super::Recommendation],
    caches: &[CacheDecl],
) {
    dirs.retain(|id, _| open.iter().any(|r| r.id == *id));
    for r in open
        .iter()
        .filter(|r| r.advice.action == RecoveryAction::ClearCache)
    {
        if dirs.contains_key(&r.id) {
            continue;
        }
        if let Some(c) = caches.iter().find(|c| c.target() == r.advice.target) {
            dirs.insert(r.id.clone(), c.dir.clone());
        }
    }
}

/// The (service, declared path) a `clear_cache` target names, if it names one.
pub fn parse_target(target: &str) -> Option<(&str, &str)> {
    target.strip_prefix(CACHE_PREFIX)?.split_once(':')
}

/// The `clear_cache` advice for `issue`: for each cache it concerns, one recommendation
/// (automatic when the cache says `auto_clear`). `failures`: each service's failures inside
/// its restart window now.
pub fn recommend_clear(
    issue: &Issue,
    caches: &[CacheDecl],
    failures: &BTreeMap<String, usize>,
) -> Vec<Advice> {
    if issue.status < Status::Degraded || issue.status == Status::Unknown {
        return Vec::new();
    }
    let (owner, priority) = if issue.id == DISK_FREE_ISSUE {
        (None, 1)
    } else {
        let SubsystemId::Service(service) = SubsystemId::parse(&issue.subsystem) else {
            return Vec::new();
        };
        let failing = issue.status == Status::Failed
            || failures.get(&service).copied().unwrap_or(0) >= CLEAR_CACHE_AFTER_FAILURES;
        if !failing {
            return Vec::new();
        }
        (Some(service), 2)
    };
    caches
        .iter()
        .filter(|c| owner.as_ref().is_none_or(|o| *o == c.service))
        .map(|c| {
            let why = if owner.is_some() {
                "a corrupt or stale cache is a common cause of a service failing again and again"
            } else {
                "its files free their space on the data directory's disk"
            };
            Advice {
                issue: issue.id.clone(),
                action: RecoveryAction::ClearCache,
                target: c.target(),
                priority,
                expected: format!(
                    "everything in {}'s cache {} (the directory {}, and only it: a reload that moves the cache makes the approval refused) is removed (files, links, directories; never the directory itself nor what a link points to; in chunks of at most {} entries, one per wake-up of the supervisor, until it is empty; each chunk journaled) and counted: {why}",
                    c.service, c.path, crate::cache::escaped(c.dir.as_bytes()), c.max_clear_entries
                ),
                risks: "the service runs slower while it rebuilds its cache (recomputes, downloads again); a file it is writing while it is removed is lost to it".into(),
                auto: c.auto_clear,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Timestamp;
    use crate::health::Severity;

    fn issue(id: &str, subsystem: &str, status: Status) -> Issue {
        Issue {
            id: id.into(),
            subsystem: subsystem.into(),
            check: "c".into(),
            status,
            severity: Severity::Medium,
            symptoms: Vec::new(),
            root_cause: None,
            impacts_trading: false,
            affects: Vec::new(),
            since: Timestamp::from_unix_ms(0),
            policy: crate::policy::Policy::AllowAll,
        }
    }

    fn decl(service: &str, path: &str, auto_clear: bool) -> CacheDecl {
        CacheDecl {
            service: service.into(),
            path: path.into(),
            auto_clear,
            max_clear_entries: 100,
            dir: format!("/srv/{service}/{path}"),
        }
    }

    #[test]
    fn clear_cache_is_recommended_for_a_low_disk_and_a_failing_owner_only() {
        let caches = [
            decl("bot", "cache", false),
            decl("feed", "/var/cache/feed", true),
        ];
        let none = BTreeMap::new();
        let disk = recommend_clear(
            &issue(DISK_FREE_ISSUE, "resources", Status::Degraded),
            &caches,
            &none,
        );
        let got: Vec<(String, bool)> = disk.iter().map(|a| (a.target.clone(), a.auto)).collect();
        assert_eq!(
            got,
            [
                ("cache:bot:cache".to_owned(), false),
                ("cache:feed:/var/cache/feed".to_owned(), true)
            ]
        );
        assert_eq!(parse_target(&got[1].0), Some(("feed", "/var/cache/feed")));
        // One issue, one recommendation per cache: each has its own id.
        assert_eq!(
            disk[0].id(),
            "resources/disk_free/clear_cache/cache:bot:cache"
        );
        // Every action's name is the one it serializes as (the ids and the playbook use it).
        for a in RecoveryAction::ALL {
            assert_eq!(serde_json::to_value(a).unwrap(), a.as_str());
        }
        assert!(disk.iter().all(|a| a.action == RecoveryAction::ClearCache));
        // Enough free space: nothing.
        let fine = issue(DISK_FREE_ISSUE, "resources", Status::Healthy);
        assert!(recommend_clear(&fine, &caches, &none).is_empty());
        // The owner FAILED: its caches only.
        let failed = recommend_clear(
            &issue("service:bot/state", "service:bot", Status::Failed),
            &caches,
            &none,
        );
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].target, "cache:bot:cache");
        // Restarting inside its window: from the threshold on.
        let backoff = issue("service:bot/state", "service:bot", Status::Degraded);
        let mut f = BTreeMap::from([("bot".to_owned(), CLEAR_CACHE_AFTER_FAILURES - 1)]);
        assert!(recommend_clear(&backoff, &caches, &f).is_empty());
        f.insert("bot".into(), CLEAR_CACHE_AFTER_FAILURES);
        assert_eq!(recommend_clear(&backoff, &caches, &f).len(), 1);
        // Another subsystem's trouble clears nothing.
        let other = issue("engine/loop", "engine", Status::Failed);
        assert!(recommend_clear(&other, &caches, &f).is_empty());
    }
}
