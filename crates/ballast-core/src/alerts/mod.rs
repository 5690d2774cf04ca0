//! Alerts (SPEC §8, issue 13 item 8), decided purely: which alerts fire from what the health
//! cycle observed ([`conditions`]), how they are deduplicated by key and grouped
//! Alertmanager-style into notifications with group wait / interval / repeat, resolved and
//! escalated ([`Book`]), routed by severity to sinks, retried on a jittered, capped, bounded
//! schedule ([`retry_after`]), and what a restart still owes from the ops journal's outbox
//! records ([`outbox::fold`]). Time is an argument; the supervisor's shell journals the
//! notifications and delivers them on its own thread.

mod group;
pub mod outbox;
mod retry;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Timestamp;
use crate::health::Issue;
use crate::policy::Policy;

pub use group::{Book, MAX_ACTIVE_ALERTS, Route, Timing};
pub use retry::{Retry, retry_after};

/// How urgent an alert is; sinks take the ones at or above their `min_severity`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    #[default]
    Warning,
    Critical,
}

impl Severity {
    pub const NAMES: &'static [&'static str] = &["info", "warning", "critical"];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(text: &str) -> Option<Severity> {
        match text {
            "info" => Some(Severity::Info),
            "warning" => Some(Severity::Warning),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }

    /// One level up (an escalation); critical stays critical.
    pub fn up(self) -> Severity {
        match self {
            Severity::Info => Severity::Warning,
            Severity::Warning | Severity::Critical => Severity::Critical,
        }
    }

    fn of_issue(s: crate::health::Severity) -> Severity {
        use crate::health::Severity as H;
        match s {
            H::Low => Severity::Info,
            H::Medium | H::High => Severity::Warning,
            H::Critical => Severity::Critical,
        }
    }
}

/// A condition that holds now: stable `key` while it lasts (the dedup key), the `group` it is
/// notified with, and what the operator reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub key: String,
    pub group: String,
    pub severity: Severity,
    pub title: String,
    pub text: String,
    pub labels: BTreeMap<String, String>,
}

/// Bound of [`Notification::text`], in characters.
pub const MAX_TEXT_CHARS: usize = 3500;

/// Firing or resolved: the notification's status, as Alertmanager's webhook spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Firing,
    Resolved,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Firing => "firing",
            Status::Resolved => "resolved",
        }
    }
}

/// One alert in a notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub key: String,
    pub severity: Severity,
    pub title: String,
    pub text: String,
    pub labels: BTreeMap<String, String>,
    pub started_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Timestamp>,
}

/// What is sent, to which sinks: the body of the ops journal's `alert.raised` (firing) or
/// `alert.resolved` record. `id` is stable across restarts (the outbox's key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub id: String,
    pub status: Status,
    pub group: String,
    /// The highest of its alerts', one level up when escalated.
    pub severity: Severity,
    /// Sent again this many times unresolved (0: the first time).
    pub repeat: u32,
    pub escalated: bool,
    pub at: Timestamp,
    pub alerts: Vec<Item>,
    /// The sinks (by name) it is routed to.
    pub sinks: Vec<String>,
}

impl Notification {
    /// The ops journal's record type of this notification.
    pub fn kind(&self) -> &'static str {
        match self.status {
            Status::Firing => outbox::RAISED,
            Status::Resolved => outbox::RESOLVED,
        }
    }

    /// One message for a chat or a log: status, severity and each alert's title and text, at
    /// most [`MAX_TEXT_CHARS`] characters (Telegram takes 4096): alerts that do not fit are
    /// counted at the end.
    pub fn text(&self) -> String {
        let mut out = format!(
            "[{}{}] {} ({}{})",
            self.status.as_str().to_ascii_uppercase(),
            if self.escalated { ", ESCALATED" } else { "" },
            self.severity.as_str(),
            self.group,
            if self.repeat > 0 {
                format!(", repeat {}", self.repeat)
            } else {
                String::new()
            }
        );
        for (i, a) in self.alerts.iter().enumerate() {
            let line = format!("\n- {}: {}", a.title, a.text);
            let more = format!("\n… and {} more", self.alerts.len() - i);
            if out.chars().count() + line.chars().count() + more.chars().count() > MAX_TEXT_CHARS {
                let room =
                    MAX_TEXT_CHARS.saturating_sub(out.chars().count() + more.chars().count());
                if i == 0 {
                    out.extend(line.chars().take(room));
                    if self.alerts.len() == 1 {
                        return out;
                    }
                    out.push_str(&format!("\n… and {} more", self.alerts.len() - 1));
                    return out;
                }
                out.push_str(&more);
                return out;
            }
            out.push_str(&line);
        }
        out
    }
}

/// What one health cycle observed, the input of [`conditions`].
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    pub issues: &'a [Issue],
    pub policy: Policy,
    pub policy_reason: &'a str,
    pub kill_switch: bool,
    /// The engine heartbeat's age; `None` when no engine is run.
    pub heartbeat_age_ms: Option<i64>,
    /// The "bot silent" threshold; 0 turns it off.
    pub bot_silent_after_ms: i64,
}

/// The engine heartbeat's age at `now` for "bot silent": from its last beat, but never from
/// before `started` (this run's start: a heartbeat a previous run left behind, or none yet, is
/// no silence of this run's engine).
pub fn heartbeat_age_ms(now: Timestamp, last_beat: Option<Timestamp>, started: Timestamp) -> i64 {
    now.ms_since(last_beat.map_or(started, |b| b.max(started)))
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The alerts that hold now: one per health issue (a FAILED service, a stale feed, a failed
/// heal's finding …), the safety policy when it is not ALLOW_ALL (its level in the key: a
/// change of level is a new alert and the old one resolved), the kill switch, and "bot silent"
/// when the engine's heartbeat is older than the threshold. At most [`MAX_ACTIVE_ALERTS`].
pub fn conditions(o: &Observed<'_>) -> Vec<Alert> {
    let mut out = Vec::new();
    for i in o.issues {
        let mut text = i.symptoms.join("; ");
        if let Some(cause) = &i.root_cause {
            text.push_str(&format!(" (root cause: {cause})"));
        }
        out.push(Alert {
            key: format!("issue:{}", i.id),
            group: i.subsystem.clone(),
            severity: Severity::of_issue(i.severity),
            title: format!("{} {}: {}", i.subsystem, i.status.as_str(), i.check),
            text,
            labels: labels(&[
                ("subsystem", &i.subsystem),
                ("check", &i.check),
                ("status", i.status.as_str()),
            ]),
        });
    }
    if o.policy != Policy::AllowAll {
        let severity = match o.policy {
            Policy::AllowAll | Policy::SafeRiskProfile => Severity::Info,
            Policy::NoNewTrades => Severity::Warning,
            Policy::DefensiveExit | Policy::EmergencyShutdown => Severity::Critical,
        };
        out.push(Alert {
            key: format!("policy:{}", o.policy.as_str()),
            group: "policy".into(),
            severity,
            title: format!("safety policy {}", o.policy.as_str()),
            text: o.policy_reason.to_owned(),
            labels: labels(&[("policy", o.policy.as_str())]),
        });
    }
    if o.kill_switch {
        out.push(Alert {
            key: "kill_switch".into(),
            group: "policy".into(),
            severity: Severity::Critical,
            title: "kill switch engaged".into(),
            text: "trading is stopped until an operator releases the kill switch".into(),
            labels: BTreeMap::new(),
        });
    }
    if let Some(age) = o.heartbeat_age_ms
        && o.bot_silent_after_ms > 0
        && age > o.bot_silent_after_ms
    {
        out.push(Alert {
            key: "bot_silent".into(),
            group: "engine".into(),
            severity: Severity::Critical,
            title: "bot silent".into(),
            text: format!(
                "the engine's last heartbeat is {} old (alert after {})",
                crate::time::Human::ms(u64::try_from(age).unwrap_or(0)),
                crate::time::Human::ms(u64::try_from(o.bot_silent_after_ms).unwrap_or(0))
            ),
            labels: labels(&[("subsystem", "engine")]),
        });
    }
    out.truncate(MAX_ACTIVE_ALERTS);
    out
}
