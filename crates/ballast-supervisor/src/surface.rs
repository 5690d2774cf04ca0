//! The seam between the supervisor and its operator surfaces (the HTTP API, metrics, the
//! dashboard): what the loop publishes for many readers without being asked (the newest health
//! report, rendered once), and the one way in for control — the same [`Request`] the control
//! socket carries, handed to the same loop, answered with the same [`Response`]. No second
//! implementation of any operation lives behind the API.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, RwLock};

use ballast_core::config::SinkKind;

use ballast_store::files::health::HealthFile;

use crate::control::{Actor, Envelope, Request, Response};
use crate::core::ControlError;

/// The newest health report as the loop wrote it to `state/health.json`: the typed report and
/// its JSON, rendered once for every reader.
#[derive(Debug, Clone)]
pub struct HealthSnapshot {
    pub report: HealthFile,
    pub json: Arc<str>,
}

/// What the loop publishes; readers take a cheap clone of the newest one.
#[derive(Debug, Default)]
pub struct Published {
    health: RwLock<Option<Arc<HealthSnapshot>>>,
    /// The ops events counted as they are emitted (the metrics read these, never the journal).
    ops: Mutex<crate::counts::OpsCounts>,
    /// The ports the surfaces listen on, for `ballast status`.
    listening: RwLock<Vec<crate::protocol::Listening>>,
    /// The HTTP API's URL, once it listens.
    api: RwLock<Option<String>>,
    /// When the loop last published a report (its liveness, for `/livez`).
    published_at: RwLock<Option<std::time::Instant>>,
    /// Alert deliveries and failed attempts since the start, per sink kind
    /// ([`ballast_core::config::SinkKind`] order: webhook, slack, telegram, log).
    alerts_sent: [AtomicU64; 4],
    alerts_failed: [AtomicU64; 4],
}

/// The alert delivery counters of one sink kind (for `ballast_alert_deliveries_total` and
/// `ballast_alert_delivery_failures_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertDeliveries {
    pub kind: &'static str,
    pub sent: u64,
    /// Failed attempts (each retry counts).
    pub failed: u64,
}

const SINK_KINDS: [SinkKind; 4] = [
    SinkKind::Webhook,
    SinkKind::Slack,
    SinkKind::Telegram,
    SinkKind::Log,
];

impl Published {
    /// The HTTP API's URL (`http://127.0.0.1:7878`), once it listens.
    pub fn api(&self) -> Option<String> {
        self.api.read().ok().and_then(|a| a.clone())
    }

    /// Publish the URL the API listens on (the API, once bound).
    pub fn set_api(&self, url: String) {
        if let Ok(mut a) = self.api.write() {
            *a = Some(url);
        }
    }

    /// When the loop last published a report: a loop that stops publishing is wedged.
    pub fn published_at(&self) -> Option<std::time::Instant> {
        self.published_at.read().ok().and_then(|a| *a)
    }

    /// The newest health report, once the first cycle wrote one.
    pub fn health(&self) -> Option<Arc<HealthSnapshot>> {
        self.health.read().ok().and_then(|h| h.clone())
    }

    /// Count an ops event (the loop's `emit`, for every event it journals).
    pub fn count(&self, ev: &crate::core::OpsEvent) {
        if let Ok(mut c) = self.ops.lock() {
            c.count(ev);
        }
    }

    /// Count an ops event the journal's queue could not take.
    pub fn count_dropped(&self) {
        if let Ok(mut c) = self.ops.lock() {
            c.ops_dropped = c.ops_dropped.saturating_add(1);
        }
    }

    /// The ops events counted since the supervisor started.
    pub fn ops_counts(&self) -> crate::counts::OpsCounts {
        self.ops.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Say that the surface `name` (`api`, `metrics`) listens on `url` (the port actually
    /// bound, after any retry): `ballast status` shows it. At most
    /// [`crate::limits::LISTENING_COUNT`] are kept; a name published again is replaced.
    pub fn set_listening(&self, name: &str, url: &str) {
        let Ok(mut l) = self.listening.write() else {
            return;
        };
        l.retain(|x| x.name != name);
        if l.len() < crate::limits::LISTENING_COUNT {
            l.push(crate::protocol::Listening {
                name: name.to_owned(),
                url: url.to_owned(),
            });
        }
    }

    /// What the surfaces listen on.
    pub fn listening(&self) -> Vec<crate::protocol::Listening> {
        self.listening.read().map(|l| l.clone()).unwrap_or_default()
    }

    /// Count one delivery attempt to a sink of `kind` (the alerts' delivery thread).
    pub fn record_alert_delivery(&self, kind: SinkKind, delivered: bool) {
        let i = SINK_KINDS.iter().position(|k| *k == kind).unwrap_or(0);
        let counter = if delivered {
            &self.alerts_sent[i]
        } else {
            &self.alerts_failed[i]
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The alert delivery counters, one entry per sink kind (zeros included).
    pub fn alert_deliveries(&self) -> Vec<AlertDeliveries> {
        SINK_KINDS
            .iter()
            .enumerate()
            .map(|(i, k)| AlertDeliveries {
                kind: k.as_str(),
                sent: self.alerts_sent[i].load(Ordering::Relaxed),
                failed: self.alerts_failed[i].load(Ordering::Relaxed),
            })
            .collect()
    }

    /// Publish `report` (the loop, after writing it to `state/health.json`).
    pub fn set_health(&self, report: &HealthFile) {
        let Ok(json) = serde_json::to_string(report) else {
            return;
        };
        let snapshot = Arc::new(HealthSnapshot {
            report: report.clone(),
            json: json.into(),
        });
        if let Ok(mut h) = self.health.write() {
            *h = Some(snapshot);
        }
        if let Ok(mut at) = self.published_at.write() {
            *at = Some(std::time::Instant::now());
        }
    }
}

/// The surfaces' handle on a running supervisor.
#[derive(Clone)]
pub struct Surface {
    pub published: Arc<Published>,
    to_loop: Arc<dyn Fn(Envelope, Actor) -> bool + Send + Sync>,
}

impl std::fmt::Debug for Surface {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Surface")
    }
}

impl Surface {
    /// A handle whose control requests go to `to_loop` (false: the loop is gone). The
    /// supervisor builds the real one; a test may build one over a loop of its own.
    pub fn new(
        published: Arc<Published>,
        to_loop: impl Fn(Envelope, Actor) -> bool + Send + Sync + 'static,
    ) -> Surface {
        Surface {
            published,
            to_loop: Arc::new(to_loop),
        }
    }

    /// A surface with no loop behind it: every call answers that the supervisor is shutting
    /// down, and nothing is published but what `published` is given (an API without a
    /// supervisor — `ballast engine --standalone` — and tests of the API).
    pub fn without_loop(published: Arc<Published>) -> Surface {
        Surface::new(published, |_, _| false)
    }

    /// Carry out `request` as the control socket does, waiting at most the control client's
    /// timeout for the loop's answer. Blocking: call it off an async runtime's workers.
    pub fn call(&self, request: Request) -> Response {
        let actor = Actor {
            via: "api".into(),
            ..Actor::default()
        };
        self.call_as(actor, request)
    }

    /// [`Surface::call`] on behalf of `actor`, whom the loop journals with a control action.
    pub fn call_as(&self, actor: Actor, request: Request) -> Response {
        let (tx, rx) = mpsc::channel();
        if !(self.to_loop)((request, tx), actor) {
            return ControlError::ShuttingDown.into();
        }
        rx.recv_timeout(crate::limits::CONTROL_CLIENT_TIMEOUT)
            .unwrap_or_else(|_| {
                ControlError::Timeout("the supervisor did not answer in time".into()).into()
            })
    }
}

/// Called once by [`crate::run`] when the loop is about to start, with the handle the surfaces
/// use (the `ballast` binary starts the HTTP API there).
#[derive(Clone)]
pub struct SurfaceHook(pub Arc<dyn Fn(Surface) + Send + Sync>);

impl std::fmt::Debug for SurfaceHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SurfaceHook")
    }
}
