//! The durable outbox, read back: the ops journal's `alert.raised` / `alert.resolved` records
//! (a [`Notification`] to send to its sinks) and `alert.delivered` / `alert.failed` (one
//! attempt at one sink). Folded in journal order at a start, they give the deliveries still
//! owed — each notification's sinks without a delivery and without a final failure, with the
//! attempts already made — and the [`Book`] of the alerts in force, so a restart neither loses
//! an alert nor announces one twice.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Book, Notification};

pub const RAISED: &str = "alert.raised";
pub const RESOLVED: &str = "alert.resolved";
pub const DELIVERED: &str = "alert.delivered";
pub const FAILED: &str = "alert.failed";

/// Bound of the notifications a start takes over (the newest; older ones are counted and
/// left undelivered, a line in the log says how many).
pub const MAX_PENDING: usize = 256;

/// The body of `alert.delivered` and `alert.failed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub id: String,
    pub sink: String,
    /// 1-based.
    pub attempt: u32,
    /// Why it failed (`alert.failed`; never the sink's URL or token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The last attempt allowed failed: no more until the group's next repeat.
    #[serde(default)]
    pub gave_up: bool,
}

/// One ops-journal record of the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    Notified(Notification),
    Delivered(Attempt),
    Failed(Attempt),
}

impl Record {
    /// The record of `kind` with `body`, if it is an outbox record that parses.
    pub fn parse(kind: &str, body: &str) -> Option<Record> {
        match kind {
            RAISED | RESOLVED => serde_json::from_str(body).ok().map(Record::Notified),
            DELIVERED => serde_json::from_str(body).ok().map(Record::Delivered),
            FAILED => serde_json::from_str(body).ok().map(Record::Failed),
            _ => None,
        }
    }
}

/// A delivery still owed: `notification` to `sink`, `attempts` made so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owed {
    pub notification: Notification,
    pub sink: String,
    pub attempts: u32,
}

/// What the outbox records say at a start.
#[derive(Debug, Clone, Default)]
pub struct Folded {
    pub book: Book,
    /// Oldest first.
    pub owed: Vec<Owed>,
    /// Notifications beyond [`MAX_PENDING`] left undelivered.
    pub dropped: usize,
}

/// Fold the outbox records, in journal order.
pub fn fold(records: impl IntoIterator<Item = Record>) -> Folded {
    let mut book = Book::default();
    let mut order: Vec<String> = Vec::new();
    let mut notes: BTreeMap<String, Notification> = BTreeMap::new();
    // (id, sink) -> (attempts, done)
    let mut state: BTreeMap<(String, String), (u32, bool)> = BTreeMap::new();
    for r in records {
        match r {
            Record::Notified(n) => {
                book.restore(&n);
                for s in &n.sinks {
                    state.insert((n.id.clone(), s.clone()), (0, false));
                }
                if !notes.contains_key(&n.id) {
                    order.push(n.id.clone());
                }
                notes.insert(n.id.clone(), n);
            }
            Record::Delivered(a) => {
                if let Some(s) = state.get_mut(&(a.id, a.sink)) {
                    *s = (s.0.max(a.attempt), true);
                }
            }
            Record::Failed(a) => {
                if let Some(s) = state.get_mut(&(a.id, a.sink)) {
                    *s = (s.0.max(a.attempt), s.1 || a.gave_up);
                }
            }
        }
    }
    let mut owed = Vec::new();
    let mut with_owed: Vec<&String> = order
        .iter()
        .filter(|id| {
            notes.get(*id).is_some_and(|n| {
                n.sinks
                    .iter()
                    .any(|s| state.get(&((*id).clone(), s.clone())).is_some_and(|x| !x.1))
            })
        })
        .collect();
    let dropped = with_owed.len().saturating_sub(MAX_PENDING);
    with_owed.drain(..dropped);
    for id in with_owed {
        let Some(n) = notes.get(id) else { continue };
        for s in &n.sinks {
            if let Some((attempts, false)) = state.get(&(id.clone(), s.clone())) {
                owed.push(Owed {
                    notification: n.clone(),
                    sink: s.clone(),
                    attempts: *attempts,
                });
            }
        }
    }
    Folded {
        book,
        owed,
        dropped,
    }
}
