//! The delivery thread: a small single-threaded tokio runtime driving reqwest (rustls), one
//! request at a time with a timeout, each failed attempt retried on the core's jittered,
//! capped schedule up to its bound, every attempt journaled through the ops journal's queue.
//! The dead-man's switch pings on a thread of its own, so a slow sink never delays it.
//! Sink payloads: Alertmanager-style JSON (webhook), `{"text"}` (Slack-compatible), the
//! Telegram Bot API's `sendMessage`. A Telegram token lives only inside [`Secret`] and the
//! request URL; errors are reqwest's without their URL and never a response body.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use ballast_core::alerts::outbox::{Attempt, Owed};
use ballast_core::alerts::{Notification, Retry, retry_after};
use ballast_core::config::{SinkConfig, SinkKind};
use serde_json::json;

use crate::core::OpsEvent;
use crate::ops::OpsSender;
use crate::surface::Published;

/// Bound of the deliveries waiting for a retry; beyond it the oldest is given up (journaled
/// `alert.failed` with `gave_up`, kept for its group's next repeat).
const RETRY_QUEUE: usize = 1024;
/// Attempts made at once (one slow or dead sink does not hold the others back for its
/// timeout); a stop waits for at most one such round.
const CONCURRENT: usize = 16;
/// Bound of the log lines waiting for the loop.
const LOG_LINES: usize = 64;
/// Largest token file read.
const TOKEN_FILE_MAX_BYTES: u64 = 4096;

/// A bot token: shown as `***` wherever it is formatted.
pub(super) struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(ballast_core::config::secret::MASK)
    }
}

enum Target {
    Post(String),
    Telegram {
        base: String,
        chat_id: String,
        token: Result<Secret, String>,
    },
    Log,
}

pub(super) struct Sink {
    pub name: String,
    pub kind: SinkKind,
    target: Target,
}

fn read_token(c: &SinkConfig) -> Result<Secret, String> {
    if !c.token_env.is_empty() {
        return match std::env::var(&c.token_env) {
            Ok(t) if !t.trim().is_empty() => Ok(Secret(t.trim().to_owned())),
            _ => Err(format!(
                "the bot token's environment variable {} is unset or empty",
                c.token_env
            )),
        };
    }
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(&c.token_file)
        .and_then(|f| f.take(TOKEN_FILE_MAX_BYTES).read_to_string(&mut text))
        .map_err(|e| format!("the bot token file {} cannot be read ({e})", c.token_file))?;
    match text.trim() {
        "" => Err(format!("the bot token file {} is empty", c.token_file)),
        t => Ok(Secret(t.to_owned())),
    }
}

impl Sink {
    /// The sink of `c`; a token that cannot be read is said now and fails each attempt (the
    /// start goes on).
    pub fn new(c: &SinkConfig, log: &mut dyn FnMut(&str)) -> Sink {
        let target = match c.kind {
            SinkKind::Webhook | SinkKind::Slack => Target::Post(c.url.clone()),
            SinkKind::Log => Target::Log,
            SinkKind::Telegram => {
                let token = read_token(c);
                if let Err(e) = &token {
                    log(&format!(
                        "WARNING: alerts: sink {}: {e}; its alerts are journaled and fail until it is fixed",
                        c.id()
                    ));
                }
                Target::Telegram {
                    base: c.base_url.trim_end_matches('/').to_owned(),
                    chat_id: c.chat_id.clone(),
                    token,
                }
            }
        };
        Sink {
            name: c.id().to_owned(),
            kind: c.kind,
            target,
        }
    }
}

pub(super) struct Settings {
    pub retry: Retry,
    pub timeout: Duration,
    pub heartbeat_url: Option<String>,
    pub heartbeat_every: Duration,
}

/// What the delivery threads and the loop share.
pub(super) struct Shared {
    log: Mutex<VecDeque<String>>,
    failing: Mutex<BTreeMap<String, String>>,
    /// Ballast is healthy enough for the dead-man's switch to ping.
    alive: AtomicBool,
    stopped: Mutex<bool>,
    stop: Condvar,
    /// The stop for requests in flight (a receiver that never answers must not hold the stop
    /// for its timeout).
    stop_requests: tokio::sync::watch::Sender<bool>,
}

impl Default for Shared {
    fn default() -> Shared {
        Shared {
            log: Mutex::default(),
            failing: Mutex::default(),
            alive: AtomicBool::new(false),
            stopped: Mutex::new(false),
            stop: Condvar::new(),
            stop_requests: tokio::sync::watch::channel(false).0,
        }
    }
}

impl Shared {
    fn say(&self, line: String) {
        if let Ok(mut l) = self.log.lock() {
            if l.len() == LOG_LINES {
                l.pop_front();
            }
            l.push_back(line);
        }
    }

    pub fn take_log(&self) -> Vec<String> {
        self.log
            .lock()
            .map(|mut l| l.drain(..).collect())
            .unwrap_or_default()
    }

    pub fn failing(&self) -> Vec<(String, String)> {
        self.failing
            .lock()
            .map(|f| f.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }

    pub fn set_alive(&self, alive: bool) {
        self.alive.store(alive, Ordering::Relaxed);
    }

    pub fn stop(&self) {
        if let Ok(mut s) = self.stopped.lock() {
            *s = true;
        }
        self.stop.notify_all();
        self.stop_requests.send_replace(true);
    }

    /// Run `f` unless, or until, the stop comes first (`None`).
    async fn or_stop<T>(&self, f: impl std::future::Future<Output = T>) -> Option<T> {
        let mut stop = self.stop_requests.subscribe();
        tokio::select! {
            v = f => Some(v),
            _ = stop.wait_for(|s| *s) => None,
        }
    }

    fn is_stopped(&self) -> bool {
        self.stopped.lock().map_or(true, |s| *s)
    }

    /// Wait `d` or until stopped; whether it was stopped.
    fn sleep(&self, d: Duration) -> bool {
        let Ok(s) = self.stopped.lock() else {
            return true;
        };
        match self.stop.wait_timeout_while(s, d, |stopped| !*stopped) {
            Ok((s, _)) => *s,
            Err(_) => true,
        }
    }
}

/// The JSON a generic webhook receives (Alertmanager's shape).
pub(super) fn webhook_body(n: &Notification) -> serde_json::Value {
    json!({
        "version": "1",
        "status": n.status.as_str(),
        "id": n.id,
        "group": n.group,
        "severity": n.severity.as_str(),
        "escalated": n.escalated,
        "repeat": n.repeat,
        "alerts": n.alerts.iter().map(|a| {
            let mut v = json!({
                "status": n.status.as_str(),
                "key": a.key,
                "severity": a.severity.as_str(),
                "title": a.title,
                "text": a.text,
                "labels": a.labels,
                "started_at": a.started_at,
            });
            if let (Some(end), Some(m)) = (a.ended_at, v.as_object_mut()) {
                m.insert("ended_at".into(), json!(end));
            }
            v
        }).collect::<Vec<_>>(),
    })
}

/// Bound of a failure's words (the journal and the health detail carry them).
const WHY_MAX_CHARS: usize = 300;

/// A request's failure in words: reqwest's message without its URL (a Telegram URL holds the
/// token) and its causes (`tcp connect error: Connection refused`), bounded.
fn why(e: reqwest::Error) -> String {
    use std::error::Error;
    let e = e.without_url();
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let c_text = c.to_string();
        if !out.contains(&c_text) {
            out.push_str(": ");
            out.push_str(&c_text);
        }
        cause = c.source();
    }
    out.chars().take(WHY_MAX_CHARS).collect()
}

/// One attempt at `sink`; `Err` says why in words without the URL or the token.
async fn send(client: &reqwest::Client, sink: &Sink, n: &Notification) -> Result<(), String> {
    let request = match &sink.target {
        Target::Log => return Ok(()),
        Target::Post(url) if sink.kind == SinkKind::Slack => {
            client.post(url).json(&json!({ "text": n.text() }))
        }
        Target::Post(url) => client.post(url).json(&webhook_body(n)),
        Target::Telegram {
            base,
            chat_id,
            token,
        } => {
            let token = token.as_ref().map_err(Clone::clone)?;
            client
                .post(format!("{base}/bot{}/sendMessage", token.0))
                .json(&json!({ "chat_id": chat_id, "text": n.text() }))
        }
    };
    match request.send().await {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => Err(format!(
            "the receiver answered HTTP {}",
            r.status().as_u16()
        )),
        Err(e) => Err(format!("request failed: {}", why(e))),
    }
}

struct Waiting {
    owed: Owed,
    due: Instant,
}

fn seed_of(id: &str, sink: &str, salt: u64) -> u64 {
    id.bytes()
        .chain(sink.bytes())
        .fold(salt ^ 0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        })
}

/// Start the delivery thread (and the dead-man's switch's, if configured).
pub(super) fn spawn(
    rx: Receiver<Owed>,
    sinks: Vec<Sink>,
    settings: Settings,
    ops: OpsSender,
    shared: Arc<Shared>,
    published: Arc<Published>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let built = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
            .and_then(|rt| {
                reqwest::Client::builder()
                    .timeout(settings.timeout)
                    .connect_timeout(settings.timeout)
                    .build()
                    .map(|c| (rt, c))
                    .map_err(|e| e.without_url().to_string())
            });
        let (rt, client) = match built {
            Ok(b) => b,
            Err(e) => {
                shared.say(format!(
                    "CRITICAL: alerts: the delivery runtime cannot start ({e}); alerts are journaled but not delivered"
                ));
                return;
            }
        };
        let pinger = settings.heartbeat_url.clone().map(|url| {
            let (shared, client) = (Arc::clone(&shared), client.clone());
            let every = settings.heartbeat_every;
            std::thread::spawn(move || ping(&client, &url, every, &shared))
        });
        let salt = u64::from(std::process::id())
            ^ std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
        let d = Deliverer {
            sinks,
            retry: settings.retry,
            ops,
            shared: Arc::clone(&shared),
            published,
            salt,
        };
        d.run(&rx, &rt, &client);
        shared.stop();
        if let Some(p) = pinger {
            let _ = p.join();
        }
    })
}

struct Deliverer {
    sinks: Vec<Sink>,
    retry: Retry,
    ops: OpsSender,
    shared: Arc<Shared>,
    published: Arc<Published>,
    salt: u64,
}

impl Deliverer {
    /// Deliver what comes in and retry what failed, until the loop's side hangs up or stops.
    fn run(&self, rx: &Receiver<Owed>, rt: &tokio::runtime::Runtime, client: &reqwest::Client) {
        let mut waiting: Vec<Waiting> = Vec::new();
        loop {
            let now = Instant::now();
            let wait = waiting
                .iter()
                .map(|w| w.due.saturating_duration_since(now))
                .min()
                .unwrap_or(Duration::from_secs(3600));
            match rx.recv_timeout(wait) {
                Ok(owed) => waiting.push(Waiting { owed, due: now }),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            waiting.extend(rx.try_iter().map(|owed| Waiting { owed, due: now }));
            let now = Instant::now();
            let (due, later): (Vec<_>, Vec<_>) = waiting.drain(..).partition(|w| w.due <= now);
            waiting = later;
            let mut due = due.into_iter().peekable();
            while due.peek().is_some() && !self.shared.is_stopped() {
                let round = due
                    .by_ref()
                    .take(CONCURRENT)
                    .map(|w| self.attempt(client, w.owed));
                let round = futures_util::future::join_all(round);
                // A stop abandons the round: its attempts are not journaled, so they stay
                // owed in the outbox for the next start.
                let Some(again) = rt.block_on(self.shared.or_stop(round)) else {
                    break;
                };
                waiting.extend(again.into_iter().flatten());
            }
            if self.shared.is_stopped() {
                break; // what is left stays owed in the outbox for the next start
            }
            while waiting.len() > RETRY_QUEUE {
                let w = waiting.remove(0);
                self.journal(
                    &w.owed,
                    w.owed.attempts,
                    Some("the retry queue is full".into()),
                    true,
                );
            }
        }
    }
    fn journal(&self, owed: &Owed, attempt: u32, reason: Option<String>, gave_up: bool) {
        let a = Attempt {
            id: owed.notification.id.clone(),
            sink: owed.sink.clone(),
            attempt,
            reason: reason.clone(),
            gave_up,
        };
        let failed = reason.is_some();
        if gave_up {
            self.shared
                .say(format!("WARNING: {}", OpsEvent::AlertFailed(a.clone())));
        }
        self.ops.emit(if failed {
            OpsEvent::AlertFailed(a)
        } else {
            OpsEvent::AlertDelivered(a)
        });
    }

    /// One attempt; the delivery to wait for again, if it is retried.
    async fn attempt(&self, client: &reqwest::Client, mut owed: Owed) -> Option<Waiting> {
        let sink = self.sinks.iter().find(|s| s.name == owed.sink)?;
        owed.attempts += 1;
        let attempt = owed.attempts;
        let result = send(client, sink, &owed.notification).await;
        self.published
            .record_alert_delivery(sink.kind, result.is_ok());
        if let Ok(mut f) = self.shared.failing.lock() {
            match &result {
                Ok(()) => f.remove(&sink.name),
                Err(why) => f.insert(sink.name.clone(), why.clone()),
            };
        }
        let why = match result {
            Ok(()) => {
                self.journal(&owed, attempt, None, false);
                return None;
            }
            Err(why) => why,
        };
        let seed = seed_of(&owed.notification.id, &owed.sink, self.salt);
        match retry_after(&self.retry, attempt, seed) {
            Some(ms) => {
                self.journal(&owed, attempt, Some(why), false);
                Some(Waiting {
                    owed,
                    due: Instant::now() + Duration::from_millis(ms),
                })
            }
            None => {
                self.journal(&owed, attempt, Some(why), true);
                None
            }
        }
    }
}

/// The dead-man's switch: GET `url` every `every` while Ballast is alive enough, until stopped.
fn ping(client: &reqwest::Client, url: &str, every: Duration, shared: &Shared) {
    // Its own runtime: the delivery thread's drives only while it sends.
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            shared.say(format!(
                "CRITICAL: alerts: the dead-man's switch cannot start ({e}); an external monitor will report Ballast dead"
            ));
            return;
        }
    };
    let mut failing = false;
    loop {
        if shared.alive.load(Ordering::Relaxed) {
            // Built inside the runtime (the request's timeout needs its timer).
            let Some(r) = rt.block_on(shared.or_stop(async { client.get(url).send().await }))
            else {
                return;
            };
            let ok = matches!(&r, Ok(resp) if resp.status().is_success());
            if ok == failing {
                failing = !ok;
                shared.say(match (ok, r) {
                    (true, _) => "alerts: the dead-man's switch heartbeat is answered again".into(),
                    (false, Ok(resp)) => format!(
                        "WARNING: alerts: the dead-man's switch heartbeat was answered HTTP {}",
                        resp.status().as_u16()
                    ),
                    (false, Err(e)) => format!(
                        "WARNING: alerts: the dead-man's switch heartbeat failed: {}",
                        why(e)
                    ),
                });
            }
        }
        if shared.sleep(every) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ballast_core::Timestamp;
    use ballast_core::alerts::{Item, Severity, Status};

    fn note(status: Status, ended: Option<Timestamp>) -> Notification {
        Notification {
            id: "1-1".into(),
            status,
            group: "service:bot".into(),
            severity: Severity::Warning,
            repeat: 0,
            escalated: false,
            at: Timestamp::from_unix_ms(1_000),
            alerts: vec![Item {
                key: "issue:service:bot/state".into(),
                severity: Severity::Warning,
                title: "service:bot FAILED: state".into(),
                text: "exit code 3".into(),
                labels: [("subsystem".to_string(), "service:bot".to_string())].into(),
                started_at: Timestamp::from_unix_ms(500),
                ended_at: ended,
            }],
            sinks: vec!["hook".into()],
        }
    }

    #[test]
    fn the_webhook_body_is_alertmanager_s_shape_with_ended_at_only_once_resolved() {
        let b = webhook_body(&note(Status::Firing, None));
        assert_eq!(b["status"], "firing");
        let a = &b["alerts"][0];
        for k in ["key", "severity", "title", "text", "labels", "started_at"] {
            assert!(!a[k].is_null(), "{k}: {b}");
        }
        assert!(a.get("ended_at").is_none(), "{b}");
        let b = webhook_body(&note(
            Status::Resolved,
            Some(Timestamp::from_unix_ms(2_000)),
        ));
        assert_eq!(b["status"], "resolved");
        assert_eq!(b["alerts"][0]["ended_at"], "1970-01-01T00:00:02.000Z");
    }

    #[test]
    fn a_token_is_masked_wherever_it_is_formatted() {
        let s = Secret("123:abc".into());
        assert_eq!(format!("{s:?}"), "***");
    }
}
