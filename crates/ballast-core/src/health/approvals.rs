//! Recommendations over time: automatic ones are listed as such; the others wait for an
//! operator (`ballast approve ID` / `ballast reject ID`), and expire after their time to live
//! or as soon as their issue is gone. Bounded: at most [`MAX_PENDING_APPROVALS_COUNT`] waiting and the last
//! [`DECIDED_APPROVALS_KEPT_COUNT`] decided ones.

use serde::{Deserialize, Serialize};

use super::Advice;
use crate::limits::{DECIDED_APPROVALS_KEPT_COUNT, MAX_PENDING_APPROVALS_COUNT};
use crate::time::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RecommendationState {
    /// Runs without an operator.
    Auto,
    Pending,
    Approved,
    Rejected,
    Expired,
}

impl std::fmt::Display for RecommendationState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RecommendationState::Auto => "automatic",
            RecommendationState::Pending => "waiting for an operator",
            RecommendationState::Approved => "approved",
            RecommendationState::Rejected => "rejected",
            RecommendationState::Expired => "expired",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recommendation {
    /// `<issue id>/<action>` ([`Advice::id`]): what `ballast approve` takes.
    pub id: String,
    #[serde(flatten)]
    pub advice: Advice,
    pub state: RecommendationState,
    pub created: Timestamp,
    /// When a pending one expires.
    pub expires: Option<Timestamp>,
    pub decided: Option<Timestamp>,
    /// Why it ended (`approved by operator`, `issue cleared`, `time to live passed`).
    pub note: Option<String>,
    /// While it waits for an operator: the command that approves it (`ballast approve ID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approve_with: Option<String>,
    /// A decided one: its issue cleared after the decision, so the decision no longer stands
    /// (when the issue comes back, its recommendation is new and needs a new approval).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lapsed: bool,
}

impl Recommendation {
    /// It has ended: nothing is left to approve.
    fn ended(&mut self, state: RecommendationState, now: Timestamp, note: String) {
        self.state = state;
        self.decided = Some(now);
        self.note = Some(note);
        self.approve_with = None;
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approvals {
    /// Current recommendations (auto and pending), in priority order.
    pub open: Vec<Recommendation>,
    /// Decided or expired ones, newest last.
    pub decided: Vec<Recommendation>,
}

impl Approvals {
    /// Bring the open list in line with this cycle's advice: new advice is added (pending ones
    /// with `ttl_ms`), advice no longer given expires ("issue cleared"), pending ones past
    /// their time expire. Returns the ids that became pending.
    pub fn sync(&mut self, advice: &[Advice], now: Timestamp, ttl_ms: i64) -> Vec<String> {
        let mut added = Vec::new();
        let ids: Vec<String> = advice.iter().map(Advice::id).collect();
        let (keep, gone): (Vec<_>, Vec<_>) = std::mem::take(&mut self.open)
            .into_iter()
            .partition(|r| ids.contains(&r.id));
        self.open = keep;
        for mut r in gone {
            if r.state == RecommendationState::Pending {
                r.ended(RecommendationState::Expired, now, "issue cleared".into());
                self.remember(r);
            }
        }
        // A decision stands while its issue lasts: once the advice is no longer given, it
        // lapses, and the advice given again later is a new recommendation.
        for r in self.decided.iter_mut().filter(|r| !ids.contains(&r.id)) {
            r.lapsed = true;
        }
        for (a, id) in advice.iter().zip(ids) {
            if self.open.iter().any(|r| r.id == id) {
                continue;
            }
            // A recent decision on the same recommendation stands while the issue lasts.
            if self
                .decided
                .iter()
                .any(|r| r.id == id && r.state != RecommendationState::Expired && !r.lapsed)
            {
                continue;
            }
            let pending = !a.auto;
            if pending && self.pending().count() >= MAX_PENDING_APPROVALS_COUNT {
                continue;
            }
            self.open.push(Recommendation {
                id: id.clone(),
                advice: a.clone(),
                state: if pending {
                    RecommendationState::Pending
                } else {
                    RecommendationState::Auto
                },
                created: now,
                expires: pending.then(|| now.plus_ms(ttl_ms)),
                decided: None,
                note: None,
                approve_with: pending.then(|| format!("ballast approve {id}")),
                lapsed: false,
            });
            if pending {
                added.push(id);
            }
        }
        let expired: Vec<usize> = self
            .open
            .iter()
            .enumerate()
            .filter(|(_, r)| r.expires.is_some_and(|t| t <= now))
            .map(|(i, _)| i)
            .collect();
        for i in expired.into_iter().rev() {
            let mut r = self.open.remove(i);
            r.ended(
                RecommendationState::Expired,
                now,
                "time to live passed without a decision".into(),
            );
            self.remember(r);
        }
        self.open.sort_by(|a, b| {
            a.advice
                .priority
                .cmp(&b.advice.priority)
                .then(a.id.cmp(&b.id))
        });
        added
    }

    pub fn pending(&self) -> impl Iterator<Item = &Recommendation> {
        self.open
            .iter()
            .filter(|r| r.state == RecommendationState::Pending)
    }

    fn remember(&mut self, r: Recommendation) {
        self.decided.push(r);
        if self.decided.len() > DECIDED_APPROVALS_KEPT_COUNT {
            let extra = self.decided.len() - DECIDED_APPROVALS_KEPT_COUNT;
            self.decided.drain(..extra);
        }
    }

    fn decide(
        &mut self,
        id: &str,
        now: Timestamp,
        state: RecommendationState,
        note: String,
    ) -> Result<Recommendation, String> {
        let Some(i) = self.open.iter().position(|r| r.id == id) else {
            let known: Vec<&str> = self.pending().map(|r| r.id.as_str()).collect();
            return Err(match self.decided.iter().rev().find(|r| r.id == id) {
                Some(r) => format!(
                    "recommendation {id} is already {}{}",
                    r.state,
                    r.note
                        .as_ref()
                        .map(|n| format!(" ({n})"))
                        .unwrap_or_default()
                ),
                None if known.is_empty() => {
                    format!("no recommendation {id}: none is waiting for approval")
                }
                None => format!(
                    "no recommendation {id}; waiting for approval: {}",
                    known.join(", ")
                ),
            });
        };
        if self.open[i].state != RecommendationState::Pending {
            return Err(format!(
                "recommendation {id} runs automatically: there is nothing to approve"
            ));
        }
        let mut r = self.open.remove(i);
        r.ended(state, now, note);
        self.remember(r.clone());
        Ok(r)
    }

    /// An operator approves `id`: it is returned for the caller to carry out.
    pub fn approve(&mut self, id: &str, now: Timestamp) -> Result<Recommendation, String> {
        self.decide(
            id,
            now,
            RecommendationState::Approved,
            "approved by an operator".into(),
        )
    }

    pub fn reject(&mut self, id: &str, now: Timestamp) -> Result<Recommendation, String> {
        self.decide(
            id,
            now,
            RecommendationState::Rejected,
            "rejected by an operator".into(),
        )
    }
}
