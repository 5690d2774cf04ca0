//! `clear_cache` in the core: an approved recommendation, or an automatic one of a cache
//! that says `auto_clear = true`, becomes an [`Output::ClearCache`]; the shell lists and
//! clears the declared directory ([`crate::cache`]) and answers with [`Input::CacheCleared`],
//! which is journaled (`cache.cleared`) and, for an approval, answered to the operator.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use ballast_core::cache::Cleared;
use ballast_core::health::clear::parse_target;
use ballast_core::health::{Recommendation, RecommendationState, RecoveryAction};

use super::events::OpsEvent;
use super::{ControlError, Output, SupervisorCore, Token, View};

/// Clears in flight: (id, the operator waiting for it, the recommendation). Answered before
/// the next input: bounded by the outputs of one input.
#[derive(Debug, Default)]
pub(super) struct Clears {
    waiting: VecDeque<(u64, Option<Token>, String)>,
    next: u64,
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
    pub(super) fn after_cycle(&mut self, before: &BTreeSet<String>) {
        let new: Vec<Recommendation> = self
            .governor
            .approvals
            .open
            .iter()
            .filter(|r| !before.contains(&r.id) && self.auto_clears().contains(&r.id))
            .cloned()
            .collect();
        for r in new {
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
        let id = self.clears.next;
        self.clears.next = self.clears.next.wrapping_add(1);
        self.clears.waiting.push_back((id, token, r.id.clone()));
        self.out.push_back(Output::ClearCache {
            id,
            service: service.to_owned(),
            path: path.to_owned(),
            by: format!("{by} ({})", r.id),
        });
    }

    /// The shell's answer to [`Output::ClearCache`].
    pub(super) fn cache_cleared(&mut self, id: u64, cleared: Cleared) {
        let Some(at) = self.clears.waiting.iter().position(|(w, ..)| *w == id) else {
            return;
        };
        let Some((_, token, rec)) = self.clears.waiting.remove(at) else {
            return;
        };
        let summary = cleared.summary();
        let refused = cleared.refused.is_some();
        self.ops(OpsEvent::CacheCleared(Box::new(cleared)));
        if let Some(token) = token {
            let reply = if refused {
                Err(ControlError::Failed(format!(
                    "{rec} approved, but {summary}"
                )))
            } else {
                Ok(View::Done(format!("{rec} approved: {summary}")))
            };
            self.reply(token, reply);
        }
    }
}
