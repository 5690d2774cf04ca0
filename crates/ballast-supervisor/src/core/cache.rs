//! `clear_cache` in the core: an approved recommendation, or an automatic one of a cache
//! that says `auto_clear = true`, becomes an [`Output::ClearCache`]; the shell lists and
//! clears the declared directory ([`crate::cache`]) and answers with [`Input::CacheCleared`],
//! which is journaled (`cache.cleared`) and, for an approval, answered to the operator after
//! the first chunk. A clear that left something and made progress goes on in chunks of at
//! most `max_clear_entries`, one per wake-up of the loop (so nothing waits behind a long
//! clear), each journaled, until the directory is empty, a chunk removes nothing, or
//! [`ballast_core::cache::MAX_CLEAR_CHUNKS`] ran.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use ballast_core::cache::Cleared;
use ballast_core::health::clear::{DISK_FREE_ISSUE, parse_target};
use ballast_core::health::{Recommendation, RecommendationState, RecoveryAction};

use super::events::OpsEvent;
use super::{ControlError, Output, SupervisorCore, Token, View};

/// One clear's chunk in flight, or the next one due.
#[derive(Debug)]
struct Chunk {
    id: u64,
    /// The operator waiting for the answer (the first chunk of an approval only).
    token: Option<Token>,
    /// The recommendation.
    rec: String,
    service: String,
    path: String,
    by: String,
    /// The directory the recommendation was raised for.
    dir: String,
    /// 1 the first.
    chunk: u32,
    /// Entries removed and bytes freed by the chunks before.
    removed: u64,
    bytes: u64,
}

/// Clears in flight (answered before the next input: bounded by the outputs of one input)
/// and the next chunks due (at most one per clear in flight: bounded by the declared caches
/// the recommendations name).
#[derive(Debug, Default)]
pub(super) struct Clears {
    waiting: VecDeque<Chunk>,
    due: VecDeque<Chunk>,
    next: u64,
    /// The automatic clears done for a failing owner in its current crash loop (their
    /// recommendation ids): its state issue comes and goes as it restarts, runs and fails
    /// again, but the loop is one occurrence — it ends when no failure is left inside the
    /// owner's restart window. Bounded by the declared caches and the services' issues.
    auto_done: BTreeSet<String>,
}

impl Clears {
    /// A next chunk is due: the loop wakes at once (and handles what else came first).
    pub(super) fn due(&self, now: std::time::Instant) -> Option<std::time::Instant> {
        (!self.due.is_empty()).then_some(now)
    }
}

impl SupervisorCore {
    /// Before a health cycle: what the recommendation needs of the services (their failures
    /// inside the restart window), and the automatic clears already open.
    pub(super) fn before_cycle(&mut self) -> BTreeSet<String> {
        self.governor.failures = self
            .slots
            .iter()
            .map(|s| (s.spec.name.clone(), s.svc.failures_in_window()))
            .collect::<BTreeMap<_, _>>();
        self.auto_clears()
    }

    fn auto_clears(&self) -> BTreeSet<String> {
        self.governor
            .approvals
            .open
            .iter()
            .filter(|r| {
                r.advice.action == RecoveryAction::ClearCache
                    && r.state == RecommendationState::Auto
            })
            .map(|r| r.id.clone())
            .collect()
    }

    /// After a health cycle: an automatic clear that opened in it is carried out now (once
    /// while its issue lasts: it stays open, not new, until the issue clears).
    ///
    /// For a failing owner, once per crash loop: an issue that clears while it runs between
    /// two failures and comes back is the same occurrence while failures stay inside its
    /// restart window.
    pub(super) fn after_cycle(&mut self, before: &BTreeSet<String>) {
        let open = self.auto_clears();
        let failures = &self.governor.failures;
        self.clears.auto_done.retain(|id| {
            let owner = id
                .rsplit_once("/clear_cache/")
                .and_then(|(_, target)| parse_target(target));
            open.contains(id)
                || owner.is_some_and(|(service, _)| failures.get(service).is_some_and(|n| *n > 0))
        });
        let new: Vec<Recommendation> = self
            .governor
            .approvals
            .open
            .iter()
            .filter(|r| !before.contains(&r.id) && open.contains(&r.id))
            .filter(|r| !self.clears.auto_done.contains(&r.id))
            .cloned()
            .collect();
        for r in new {
            if r.advice.issue != DISK_FREE_ISSUE {
                self.clears.auto_done.insert(r.id.clone());
            }
            self.clear(None, &r, "auto_clear");
        }
    }

    /// An approved `clear_cache`: cleared, and answered once the shell has.
    pub(super) fn clear_approved(&mut self, token: Token, r: &Recommendation) {
        self.clear(Some(token), r, "ballast approve");
    }

    fn clear(&mut self, token: Option<Token>, r: &Recommendation, by: &str) {
        let Some((service, path)) = parse_target(&r.advice.target) else {
            let why = format!(
                "{} approved, but its target {:?} names no cache",
                r.id, r.advice.target
            );
            self.log(why.clone());
            if let Some(token) = token {
                self.reply(token, Err(ControlError::Failed(why)));
            }
            return;
        };
        let Some(dir) = self.governor.clear_dirs.get(&r.id).cloned() else {
            let why = format!(
                "{}: the directory it was raised for is not known (the recommendation is no longer open): nothing removed",
                r.id
            );
            self.log(why.clone());
            if let Some(token) = token {
                self.reply(token, Err(ControlError::Failed(why)));
            }
            return;
        };
        let chunk = Chunk {
            id: 0,
            token,
            rec: r.id.clone(),
            service: service.to_owned(),
            path: path.to_owned(),
            by: format!("{by} ({})", r.id),
            dir,
            chunk: 1,
            removed: 0,
            bytes: 0,
        };
        self.ask_chunk(chunk);
    }

    fn ask_chunk(&mut self, mut chunk: Chunk) {
        chunk.id = self.clears.next;
        self.clears.next = self.clears.next.wrapping_add(1);
        self.out.push_back(Output::ClearCache {
            id: chunk.id,
            service: chunk.service.clone(),
            path: chunk.path.clone(),
            by: chunk.by.clone(),
            dir: chunk.dir.clone(),
        });
        self.clears.waiting.push_back(chunk);
    }

    /// At a tick: the next chunk of one clear that goes on (one per wake-up).
    pub(super) fn continue_clears(&mut self) {
        if let Some(next) = self.clears.due.pop_front() {
            self.ask_chunk(next);
        }
    }

    /// The shell's answer to [`Output::ClearCache`]: journaled, answered (the first chunk of
    /// an approval), and the next chunk made due when the clear goes on.
    pub(super) fn cache_cleared(&mut self, id: u64, mut cleared: Cleared) {
        let Some(at) = self.clears.waiting.iter().position(|w| w.id == id) else {
            return;
        };
        let Some(mut chunk) = self.clears.waiting.remove(at) else {
            return;
        };
        cleared.chunk = chunk.chunk;
        cleared.decide_next();
        chunk.removed = chunk.removed.saturating_add(cleared.progress());
        chunk.bytes = chunk.bytes.saturating_add(cleared.bytes);
        let summary = cleared.summary();
        let refused = cleared.refused.is_some();
        let continues = cleared.continues;
        if chunk.chunk > 1 && !continues {
            self.log(format!(
                "cache {} of {}: the clear ended after {} chunks: {} entries removed, {} bytes freed in all",
                cleared.path, cleared.service, chunk.chunk, chunk.removed, chunk.bytes
            ));
        }
        self.ops(OpsEvent::CacheCleared(Box::new(cleared)));
        if let Some(token) = chunk.token.take() {
            let reply = if refused {
                Err(ControlError::Failed(format!(
                    "{} approved, but {summary}",
                    chunk.rec
                )))
            } else {
                Ok(View::Done(format!("{} approved: {summary}", chunk.rec)))
            };
            self.reply(token, reply);
        }
        if continues {
            chunk.chunk = chunk.chunk.saturating_add(1);
            self.clears.due.push_back(chunk);
        }
    }
}
