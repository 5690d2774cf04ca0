//! The seam between the supervisor and its operator surfaces (the HTTP API, metrics, the
//! dashboard): what the loop publishes for many readers without being asked (the newest health
//! report, rendered once), and the one way in for control — the same [`Request`] the control
//! socket carries, handed to the same loop, answered with the same [`Response`]. No second
//! implementation of any operation lives behind the API.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, RwLock};

use ballast_core::config::SinkKind;

use ballast_store::files::health::HealthFile;

use crate::control::{Envelope, Request, Response};
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
    /// The newest health report, once the first cycle wrote one.
    pub fn health(&self) -> Option<Arc<HealthSnapshot>> {
        self.health.read().ok().and_then(|h| h.clone())
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
    }
}

/// The surfaces' handle on a running supervisor.
#[derive(Clone)]
pub struct Surface {
    pub published: Arc<Published>,
    to_loop: Arc<dyn Fn(Envelope) -> bool + Send + Sync>,
}

impl std::fmt::Debug for Surface {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Surface")
    }
}

impl Surface {
    pub(crate) fn new(
        published: Arc<Published>,
        to_loop: impl Fn(Envelope) -> bool + Send + Sync + 'static,
    ) -> Surface {
        Surface {
            published,
            to_loop: Arc::new(to_loop),
        }
    }

    /// Carry out `request` as the control socket does, waiting at most the control client's
    /// timeout for the loop's answer. Blocking: call it off an async runtime's workers.
    pub fn call(&self, request: Request) -> Response {
        let (tx, rx) = mpsc::channel();
        if !(self.to_loop)((request, tx)) {
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
