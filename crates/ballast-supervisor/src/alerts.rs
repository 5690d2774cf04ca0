//! The alerts shell (issue 13 item 8): each health report goes through the pure decisions of
//! [`ballast_core::alerts`]; a notification due is journaled in `journal/ops` first
//! (`alert.raised` / `alert.resolved`: the durable outbox) and then handed to the delivery
//! thread ([`deliver`]), which journals every attempt (`alert.delivered` / `alert.failed`).
//! At a start the outbox is folded back: what was raised and not delivered is delivered, and
//! the alerts in force are not raised again. Nothing here waits on a network: a notifier
//! outage delays alerts, never the loop, the start or trading.

mod deliver;

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{SyncSender, TrySendError};

use ballast_core::Timestamp;
use ballast_core::alerts::outbox::{self, Attempt, Owed, Record};
use ballast_core::alerts::{Book, Observed, Retry, Route, Timing, conditions};
use ballast_core::config::{Config, SinkKind};
use ballast_store::files::health::HealthFile;
use ballast_store::{Layout, RealStorage};

use crate::core::OpsEvent;
use crate::ops::Ops;
use crate::surface::Published;

/// Bound of the deliveries queued to the delivery thread; beyond it a notification stays in
/// the outbox (journaled, not delivered) and the next start delivers it — a line says so.
pub const DELIVERY_QUEUE: usize = 1024;

/// How long after a start restored alerts are kept though the conditions miss them (at least
/// the group wait): services are still starting.
const RESTART_GRACE_MS: i64 = 5_000;

pub(crate) struct Alerter {
    book: Book,
    timing: Timing,
    routes: Vec<Route>,
    /// Each sink's kind, by name.
    kinds: Vec<(String, SinkKind)>,
    bot_silent_after_ms: i64,
    engine: bool,
    started: Timestamp,
    layout: Layout,
    /// Deliveries decided this iteration, handed over after the ops journal has their records.
    jobs: Vec<Owed>,
    tx: Option<SyncSender<Owed>>,
    shared: Arc<deliver::Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn timing(c: &Config) -> Timing {
    let a = &c.alerts;
    Timing {
        group_wait_ms: ballast_core::time::ms_from_secs(a.group_wait_secs),
        group_interval_ms: ballast_core::time::ms_from_secs(a.group_interval_secs),
        repeat_interval_ms: ballast_core::time::ms_from_secs(a.repeat_interval_secs),
        escalate_after: a.escalate_after,
    }
}

/// The outbox records of the ops journal, in order (a journal that cannot be read: none, said).
fn read_outbox(data_dir: &Path, log: &mut dyn FnMut(&str)) -> Vec<Record> {
    let dir = Layout::new(data_dir).ops_journal();
    let mut records = Vec::new();
    let scan = ballast_store::journal::scan(&RealStorage, &dir, &mut |rec| {
        if rec.kind.starts_with("alert.")
            && let Some(r) = Record::parse(&rec.kind, rec.body.get())
        {
            records.push(r);
        }
        Ok(())
    });
    match scan {
        Ok(_) => {}
        Err(ballast_store::journal::scan::ScanError::Io { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => log(&format!(
            "WARNING: alerts: the ops journal {} cannot be read for undelivered alerts ({e}); alerts raised before this start are not delivered again",
            dir.display()
        )),
    }
    records
}

impl Alerter {
    /// Fold the outbox, start the delivery thread (and the dead-man's switch) and queue what
    /// a previous run left undelivered. Never waits on a network.
    pub fn start(
        data_dir: &Path,
        config: &Config,
        ops: &Ops,
        published: Arc<Published>,
        now: Timestamp,
        log: &mut dyn FnMut(&str),
    ) -> Alerter {
        let folded = outbox::fold(read_outbox(data_dir, log));
        let mut book = folded.book;
        let timing = timing(config);
        book.settle(now.plus_ms(timing.group_wait_ms.max(RESTART_GRACE_MS)));
        if folded.dropped > 0 {
            log(&format!(
                "WARNING: alerts: {} undelivered notification(s) older than the newest {} are not delivered again",
                folded.dropped,
                outbox::MAX_PENDING
            ));
        }
        let a = &config.alerts;
        let sinks: Vec<deliver::Sink> =
            a.sinks.iter().map(|s| deliver::Sink::new(s, log)).collect();
        let kinds = sinks.iter().map(|s| (s.name.clone(), s.kind)).collect();
        let routes = a
            .sinks
            .iter()
            .map(|s| Route {
                name: s.id().to_owned(),
                min_severity: s.min_severity,
            })
            .collect();
        let shared = Arc::new(deliver::Shared::default());
        let settings = deliver::Settings {
            retry: Retry {
                base_ms: a.retry_base_ms,
                max_ms: a.retry_max_ms,
                max_attempts: a.retry_max_attempts,
            },
            timeout: std::time::Duration::from_millis(u64::from(a.timeout_ms)),
            heartbeat_url: (!a.heartbeat_url.is_empty()).then(|| a.heartbeat_url.clone()),
            heartbeat_every: std::time::Duration::from_secs(u64::from(a.heartbeat_every_secs)),
        };
        let (tx, thread) = if sinks.is_empty() && settings.heartbeat_url.is_none() {
            (None, None)
        } else {
            let (tx, rx) = std::sync::mpsc::sync_channel(DELIVERY_QUEUE);
            let t = deliver::spawn(
                rx,
                sinks,
                settings,
                ops.sender(),
                Arc::clone(&shared),
                published,
            );
            (Some(tx), Some(t))
        };
        let mut alerter = Alerter {
            book,
            timing,
            routes,
            kinds,
            bot_silent_after_ms: ballast_core::time::ms_from_secs(a.bot_silent_after_secs),
            engine: config.engine.enabled,
            started: now,
            layout: Layout::new(data_dir),
            jobs: Vec::new(),
            tx,
            shared,
            thread,
        };
        for owed in folded.owed {
            if alerter.kinds.iter().any(|(n, _)| *n == owed.sink) {
                alerter.jobs.push(owed);
            } else {
                let gone = Attempt {
                    id: owed.notification.id.clone(),
                    sink: owed.sink.clone(),
                    attempt: owed.attempts + 1,
                    reason: Some("the sink is no longer configured".into()),
                    gave_up: true,
                };
                crate::main_loop::emit(ops, &OpsEvent::AlertFailed(gone), log);
            }
        }
        alerter
    }

    /// The engine heartbeat's age at `now` (none: no engine), counted from this start at the
    /// earliest: a heartbeat a previous run left behind is not a bot silent since then.
    fn heartbeat_age(&self, now: Timestamp) -> Option<i64> {
        if !self.engine {
            return None;
        }
        let hb = ballast_store::files::heartbeat::read(&RealStorage, &self.layout);
        let last = hb.ok().map(|h| h.time);
        Some(ballast_core::alerts::heartbeat_age_ms(
            now,
            last,
            self.started,
        ))
    }

    /// Decide on one health report: journal each notification due and queue its deliveries.
    pub fn observe(&mut self, report: &HealthFile, ops: &Ops, log: &mut dyn FnMut(&str)) {
        let HealthFile::Report(r) = report else {
            return;
        };
        let now = r.at;
        let observed = Observed {
            issues: &r.issues,
            policy: r.policy.policy,
            policy_reason: &r.policy.reason,
            kill_switch: r.policy.kill_switch,
            heartbeat_age_ms: self.heartbeat_age(now),
            bot_silent_after_ms: self.bot_silent_after_ms,
        };
        let alive = r.policy.policy != ballast_core::policy::Policy::EmergencyShutdown;
        self.shared.set_alive(alive);
        let alerts = conditions(&observed);
        for n in self.book.step(now, &alerts, &self.timing, &self.routes) {
            crate::main_loop::emit(ops, &OpsEvent::AlertNotified(Box::new(n.clone())), log);
            for sink in &n.sinks {
                self.jobs.push(Owed {
                    notification: n.clone(),
                    sink: sink.clone(),
                    attempts: 0,
                });
            }
        }
    }

    /// After the ops journal's flush (so a delivery's record follows its notification's):
    /// write log-sink notifications, hand the others to the delivery thread, and pass on the
    /// delivery thread's log lines.
    pub fn flush(&mut self, ops: &Ops, published: &Published, log: &mut dyn FnMut(&str)) {
        for job in std::mem::take(&mut self.jobs) {
            let kind = self.kinds.iter().find(|(n, _)| *n == job.sink).map(|k| k.1);
            if kind == Some(SinkKind::Log) {
                log(&format!("ALERT {}", job.notification.text()));
                published.record_alert_delivery(SinkKind::Log, true);
                let done = Attempt {
                    id: job.notification.id.clone(),
                    sink: job.sink.clone(),
                    attempt: job.attempts + 1,
                    reason: None,
                    gave_up: false,
                };
                ops.emit(&OpsEvent::AlertDelivered(done));
                continue;
            }
            let Some(tx) = &self.tx else { continue };
            match tx.try_send(job) {
                Ok(()) => {}
                Err(TrySendError::Full(j) | TrySendError::Disconnected(j)) => log(&format!(
                    "WARNING: alerts: the delivery queue is full ({DELIVERY_QUEUE}); notification {} to {} stays in the outbox for the next start",
                    j.notification.id, j.sink
                )),
            }
        }
        for line in self.shared.take_log() {
            log(&line);
        }
    }

    /// The sinks whose last attempt failed, and why (for the health monitor).
    pub fn failing(&self) -> Vec<(String, String)> {
        self.shared.failing()
    }

    /// A reload: grouping, escalation and the bot-silent threshold from now (sinks, retries
    /// and the dead-man's switch are refused by the reload plan).
    pub fn reconfigure(&mut self, config: &Config) {
        self.timing = timing(config);
        self.bot_silent_after_ms =
            ballast_core::time::ms_from_secs(config.alerts.bot_silent_after_secs);
    }

    /// Stop the delivery thread (it ends within one request timeout); what it had not
    /// delivered stays in the outbox for the next start.
    pub fn close(&mut self) {
        self.tx = None;
        self.shared.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
