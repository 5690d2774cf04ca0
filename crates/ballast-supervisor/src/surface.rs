//! The seam between the supervisor and its operator surfaces (the HTTP API, metrics, the
//! dashboard): what the loop publishes for many readers without being asked (the newest health
//! report, rendered once), and the one way in for control — the same [`Request`] the control
//! socket carries, handed to the same loop, answered with the same [`Response`]. No second
//! implementation of any operation lives behind the API.

use std::sync::mpsc;
use std::sync::{Arc, RwLock};

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
    /// The HTTP API's URL, once it listens.
    api: RwLock<Option<String>>,
    /// When the loop last published a report (its liveness, for `/livez`).
    published_at: RwLock<Option<std::time::Instant>>,
}

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
    pub(crate) fn new(
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
