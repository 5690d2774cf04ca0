//! Deduplication by key and Alertmanager-style grouping: a group's first notification waits
//! `group_wait` (alerts that come together are sent together; one that clears within it is
//! never sent), changes (new or resolved alerts) wait `group_interval` after the last
//! notification, an unchanged firing group is sent again every `repeat_interval`, and after
//! `escalate_after` such repeats its notifications go one severity up (and so, by routing, to
//! more sinks).

use std::collections::BTreeMap;

use super::{Alert, Item, Notification, Severity, Status};
use crate::Timestamp;

/// Bound of the alerts held at once (beyond it, the lowest-keyed ones of a cycle are not
/// raised; the health report's own bound on issues keeps real cycles far below it).
pub const MAX_ACTIVE_ALERTS: usize = 256;

/// The grouping intervals, in milliseconds, and the escalation threshold (0: never).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub group_wait_ms: i64,
    pub group_interval_ms: i64,
    pub repeat_interval_ms: i64,
    pub escalate_after: u32,
}

/// A sink as routing sees it: its name and the lowest severity it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub name: String,
    pub min_severity: Severity,
}

#[derive(Debug, Clone)]
struct Active {
    alert: Alert,
    started_at: Timestamp,
    /// Sent in a firing notification (only those are resolved by one).
    notified: bool,
    /// The highest severity it was sent with: only a rise above it is news.
    peak: Severity,
}

#[derive(Debug, Clone)]
struct Group {
    active: BTreeMap<String, Active>,
    resolved: Vec<Item>,
    /// When the group became non-empty.
    since: Timestamp,
    last_sent: Option<Timestamp>,
    /// An alert came in since the last notification.
    new: bool,
    repeats: u32,
}

/// The alerts in force and their groups' notification state.
#[derive(Debug, Clone, Default)]
pub struct Book {
    groups: BTreeMap<String, Group>,
    next: u64,
    /// Until then an alert in force that is missing from the conditions is kept, not resolved
    /// (after a restart: the services are still starting, their issues not back yet).
    settle_until: Option<Timestamp>,
}

fn item(a: &Active, ended_at: Option<Timestamp>) -> Item {
    Item {
        key: a.alert.key.clone(),
        severity: a.alert.severity,
        title: a.alert.title.clone(),
        text: a.alert.text.clone(),
        labels: a.alert.labels.clone(),
        started_at: a.started_at,
        ended_at,
    }
}

impl Book {
    /// The keys of the alerts in force.
    pub fn active_keys(&self) -> Vec<String> {
        self.groups
            .values()
            .flat_map(|g| g.active.keys().cloned())
            .collect()
    }

    /// The alerts in force, by group and key (for a view of what fires now).
    pub fn active(&self) -> Vec<(String, Item)> {
        self.groups
            .iter()
            .flat_map(|(name, g)| g.active.values().map(|a| (name.clone(), item(a, None))))
            .collect()
    }

    /// Fold one notification read back from the ops journal (a restart): its firing alerts
    /// are in force and already notified, its resolved ones are not in force any more.
    pub fn restore(&mut self, n: &Notification) {
        let g = self.groups.entry(n.group.clone()).or_insert_with(|| Group {
            active: BTreeMap::new(),
            resolved: Vec::new(),
            since: n.at,
            last_sent: None,
            new: false,
            repeats: 0,
        });
        g.last_sent = Some(g.last_sent.map_or(n.at, |t| t.max(n.at)));
        for i in &n.alerts {
            match n.status {
                Status::Firing => {
                    let alert = Alert {
                        key: i.key.clone(),
                        group: n.group.clone(),
                        severity: i.severity,
                        title: i.title.clone(),
                        text: i.text.clone(),
                        labels: i.labels.clone(),
                    };
                    g.active.insert(
                        i.key.clone(),
                        Active {
                            alert,
                            started_at: i.started_at,
                            notified: true,
                            peak: i.severity,
                        },
                    );
                    g.repeats = n.repeat;
                }
                Status::Resolved => {
                    g.active.remove(&i.key);
                }
            }
        }
    }

    /// Keep the alerts in force until `until` even when the conditions miss them (a restart's
    /// grace: an alert restored from the journal is not resolved and raised again just because
    /// the failing service has not failed again yet).
    pub fn settle(&mut self, until: Timestamp) {
        self.settle_until = Some(until);
    }

    /// Take this cycle's conditions at `now`: the notifications due, each routed to the sinks
    /// whose `min_severity` it reaches (none routed: not returned — nobody would get it).
    pub fn step(
        &mut self,
        now: Timestamp,
        current: &[Alert],
        timing: &Timing,
        routes: &[Route],
    ) -> Vec<Notification> {
        self.take(now, current);
        let mut out = Vec::new();
        let names: Vec<String> = self.groups.keys().cloned().collect();
        for name in names {
            let Some(g) = self.groups.get_mut(&name) else {
                continue;
            };
            for n in flush(g, &name, now, timing, routes) {
                let sinks: Vec<String> = routes
                    .iter()
                    .filter(|r| n.severity >= r.min_severity)
                    .map(|r| r.name.clone())
                    .collect();
                self.next += 1;
                out.push(Notification {
                    id: format!("{}-{}", now.unix_ms(), self.next),
                    sinks,
                    ..n
                });
            }
            // An empty group is kept until a group interval after its last notification, so
            // a flapping condition is rate-limited like any other change.
            let quiet = g
                .last_sent
                .is_none_or(|last| now.ms_since(last) >= timing.group_interval_ms);
            if g.active.is_empty() && g.resolved.is_empty() && quiet {
                self.groups.remove(&name);
            }
        }
        out
    }

    /// Dedup by key: a new key joins its group, a known one updates its text silently, a
    /// missing one is resolved (announced only if its firing was).
    fn take(&mut self, now: Timestamp, current: &[Alert]) {
        let mut seen: BTreeMap<&str, ()> = BTreeMap::new();
        for a in current.iter().take(MAX_ACTIVE_ALERTS) {
            seen.insert(&a.key, ());
            let g = self.groups.entry(a.group.clone()).or_insert_with(|| Group {
                active: BTreeMap::new(),
                resolved: Vec::new(),
                since: now,
                last_sent: None,
                new: false,
                repeats: 0,
            });
            match g.active.get_mut(&a.key) {
                Some(held) => {
                    // Worse than ever sent is news (a service's issue goes from not started
                    // to FAILED under one key); better, back again or reworded is not.
                    // (One not sent yet keeps its group's `new` until it is.)
                    if held.notified && a.severity > held.peak {
                        g.new = true;
                    }
                    held.alert = a.clone();
                }
                None => {
                    g.active.insert(
                        a.key.clone(),
                        Active {
                            alert: a.clone(),
                            started_at: now,
                            notified: false,
                            peak: a.severity,
                        },
                    );
                    g.new = true;
                }
            }
        }
        if self.settle_until.is_some_and(|t| now < t) {
            return;
        }
        for g in self.groups.values_mut() {
            let gone: Vec<String> = g
                .active
                .keys()
                .filter(|k| !seen.contains_key(k.as_str()))
                .cloned()
                .collect();
            for k in gone {
                if let Some(a) = g.active.remove(&k)
                    && a.notified
                {
                    g.resolved.push(item(&a, Some(now)));
                }
            }
            if g.active.is_empty() {
                g.new = false;
                g.repeats = 0;
            }
        }
    }
}

/// The notifications `g` owes at `now` (without id and sinks yet). One that no sink takes
/// changes nothing: its alerts count as not notified (a later rise in severity is sent at
/// once, their end is not announced).
fn flush(
    g: &mut Group,
    name: &str,
    now: Timestamp,
    t: &Timing,
    routes: &[Route],
) -> Vec<Notification> {
    let routed = |n: &Notification| routes.iter().any(|r| n.severity >= r.min_severity);
    let (firing, repeat) = match g.last_sent {
        None => (g.new && now.ms_since(g.since) >= t.group_wait_ms, false),
        Some(last) => {
            let since = now.ms_since(last);
            let changed = (g.new || !g.resolved.is_empty()) && since >= t.group_interval_ms;
            let repeat = !g.active.is_empty() && !g.new && since >= t.repeat_interval_ms;
            (changed && g.new || repeat, repeat)
        }
    };
    let resolved = !g.resolved.is_empty()
        && g.last_sent
            .is_some_and(|last| now.ms_since(last) >= t.group_interval_ms);
    let mut out = Vec::new();
    if firing && !g.active.is_empty() {
        let repeats = g.repeats + u32::from(repeat);
        let escalated = t.escalate_after > 0 && repeats >= t.escalate_after;
        let items: Vec<Item> = g.active.values().map(|a| item(a, None)).collect();
        let n = notification(name, Status::Firing, now, items, repeats, escalated);
        if routed(&n) {
            g.repeats = repeats;
            for a in g.active.values_mut() {
                a.notified = true;
                a.peak = a.peak.max(a.alert.severity);
            }
            out.push(n);
        }
    }
    if resolved {
        let items = std::mem::take(&mut g.resolved);
        let n = notification(name, Status::Resolved, now, items, 0, false);
        if routed(&n) {
            out.push(n);
        }
    }
    if !out.is_empty() {
        g.last_sent = Some(now);
        g.new = false;
    }
    out
}

fn notification(
    group: &str,
    status: Status,
    at: Timestamp,
    alerts: Vec<Item>,
    repeat: u32,
    escalated: bool,
) -> Notification {
    let top = alerts
        .iter()
        .map(|a| a.severity)
        .max()
        .unwrap_or(Severity::Info);
    Notification {
        id: String::new(),
        status,
        group: group.to_owned(),
        severity: if escalated { top.up() } else { top },
        repeat,
        escalated,
        at,
        alerts,
        sinks: Vec::new(),
    }
}
