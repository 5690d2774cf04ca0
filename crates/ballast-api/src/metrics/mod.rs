//! `GET /metrics` (SPEC §8, issue 13 item 7): the Prometheus exposition of what the supervisor
//! publishes and the engine reports, with `prometheus-client`.
//!
//! A scrape is cheap and never waits on the supervisor's loop for long: the health report and
//! the ops counters are what the loop already published ([`Published`]); the services come from
//! a status answer kept for [`STATUS_MAX_AGE`] and asked again by one scrape at a time, waited
//! for at most [`STATUS_WAIT`] (an older answer is served meanwhile, flagged
//! `ballast_service_status_stale`); the engine's figures are its heartbeat file (one small
//! bounded read). No journal is read.
//!
//! Served as OpenMetrics to a scraper that asks for it (`Accept: application/openmetrics-text`,
//! as Prometheus does), as the Prometheus text format 0.0.4 otherwise.

pub mod render;
pub mod text;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use ballast_core::Clock;
use ballast_store::{Layout, RealStorage, SystemClock};
use ballast_supervisor::control::{Request, Response as Answer, ServiceStatus};
use ballast_supervisor::surface::Surface;

use crate::ApiError;
use crate::routes::{Access, RouteDoc, Routes};
pub use render::Sources;

/// How long a status answer serves scrapes before one asks the loop again.
pub const STATUS_MAX_AGE: Duration = Duration::from_secs(1);
/// How long a scrape waits for the loop's status answer before serving the older one.
pub const STATUS_WAIT: Duration = Duration::from_millis(250);

/// What `/metrics` reads: a supervisor's surface (absent for a standalone engine) and the data
/// directory (the engine's heartbeat).
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    surface: Option<Surface>,
    layout: Layout,
    /// The last status answer's services, and when it came.
    services: Mutex<Option<(Instant, Vec<ServiceStatus>)>>,
    /// One scrape at a time asks the loop.
    asking: AtomicBool,
}

impl Metrics {
    /// The metrics of a supervisor (`ballast run`) on `data_dir`.
    pub fn supervisor(surface: Surface, data_dir: &Path) -> Metrics {
        Metrics::new(Some(surface), data_dir)
    }

    /// The metrics of a standalone engine on `data_dir` (its heartbeat only).
    pub fn engine(data_dir: &Path) -> Metrics {
        Metrics::new(None, data_dir)
    }

    fn new(surface: Option<Surface>, data_dir: &Path) -> Metrics {
        Metrics {
            inner: Arc::new(Inner {
                surface,
                layout: Layout::new(data_dir),
                services: Mutex::new(None),
                asking: AtomicBool::new(false),
            }),
        }
    }

    /// The services, from a fresh enough answer or the loop's (waited for at most
    /// [`STATUS_WAIT`]); `true` with them when they are older than that.
    async fn services(&self) -> Option<(Vec<ServiceStatus>, bool)> {
        let surface = self.inner.surface.clone()?;
        let cached = |inner: &Inner| {
            inner
                .services
                .lock()
                .ok()
                .and_then(|s| s.as_ref().map(|(at, v)| (*at, v.clone())))
        };
        if let Some((at, v)) = cached(&self.inner) {
            if at.elapsed() < STATUS_MAX_AGE {
                return Some((v, false));
            }
        }
        if !self.inner.asking.swap(true, Ordering::AcqRel) {
            let inner = Arc::clone(&self.inner);
            // The answer is kept whenever it comes, even after this scrape stopped waiting.
            let ask = tokio::task::spawn_blocking(move || {
                if let Answer::Status { services, .. } = surface.call(Request::Status) {
                    if let Ok(mut s) = inner.services.lock() {
                        *s = Some((Instant::now(), services));
                    }
                }
                inner.asking.store(false, Ordering::Release);
            });
            let _ = tokio::time::timeout(STATUS_WAIT, ask).await;
        }
        cached(&self.inner).map(|(at, v)| (v, at.elapsed() >= STATUS_MAX_AGE + STATUS_WAIT))
    }

    /// What one scrape reads.
    pub async fn sources(&self) -> Sources {
        let services = self.services().await;
        let inner = Arc::clone(&self.inner);
        let (stale, services) = match services {
            Some((v, stale)) => (stale, Some(v)),
            None => (false, None),
        };
        let read = tokio::task::spawn_blocking(move || {
            let published = inner.surface.as_ref().map(|s| &s.published);
            Sources {
                health: published.and_then(|p| p.health()).map(|h| h.report.clone()),
                ops: published.map(|p| p.ops_counts()),
                alerts: published.map(|p| p.alert_deliveries()),
                heartbeat: ballast_store::files::heartbeat::read(&RealStorage, &inner.layout).ok(),
                services: None,
                services_stale: false,
            }
        })
        .await
        .unwrap_or_default();
        Sources {
            services,
            services_stale: stale,
            ..read
        }
    }
}

/// The route: `GET /metrics`, open (Prometheus scrapes without a token; nothing secret is in
/// it).
pub fn routes(metrics: Metrics) -> Routes {
    Routes::default()
        .add(
            RouteDoc {
                access: Access::Open,
                ..RouteDoc::new(
                    "GET",
                    "/metrics",
                    "Prometheus metrics (OpenMetrics when asked for, else text format 0.0.4)",
                )
            },
            axum::routing::get(scrape),
        )
        .with_state(metrics)
}

async fn scrape(State(metrics): State<Metrics>, headers: HeaderMap) -> Response {
    let sources = metrics.sources().await;
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let open = text::wants_openmetrics(accept);
    let rendered = tokio::task::spawn_blocking(move || {
        let reg = render::registry(&sources, SystemClock.now());
        let om = text::openmetrics(&reg);
        if open {
            om
        } else {
            text::to_prometheus_text(&om)
        }
    })
    .await;
    let Ok(body) = rendered else {
        return ApiError::internal("the metrics could not be rendered; try the scrape again")
            .into_response();
    };
    let kind = if open { text::OPENMETRICS } else { text::TEXT };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ballast_supervisor::control::Envelope;
    use ballast_supervisor::surface::Published;

    /// A supervisor whose loop takes requests and never answers (wedged), holding them in
    /// `held` until the test lets them go.
    fn wedged() -> (Surface, Arc<Mutex<Vec<Envelope>>>) {
        let held = Arc::new(Mutex::new(Vec::new()));
        let h = Arc::clone(&held);
        let surface = Surface::new(Arc::new(Published::default()), move |env, _actor| {
            h.lock().unwrap().push(env);
            true
        });
        (surface, held)
    }

    #[tokio::test]
    async fn a_wedged_loop_delays_a_scrape_by_the_short_wait_only_and_is_asked_once() {
        let tmp = tempfile::tempdir().unwrap();
        let (surface, held) = wedged();
        let m = Metrics::supervisor(surface, tmp.path());
        for _ in 0..3 {
            let t = Instant::now();
            let s = m.sources().await;
            assert!(
                t.elapsed() < STATUS_WAIT + Duration::from_millis(500),
                "{:?}",
                t.elapsed()
            );
            assert!(s.services.is_none());
            assert!(s.ops.is_some());
        }
        assert_eq!(
            held.lock().unwrap().len(),
            1,
            "one request in flight at a time"
        );
        // Answered at last: the next scrape has the services, and asks no more while fresh.
        let (_, reply) = held.lock().unwrap().pop().unwrap();
        reply
            .send(Answer::Status {
                supervisor_pid: 1,
                overall: "HEALTHY".into(),
                services: Vec::new(),
                health: Default::default(),
                config: None,
                loaded: None,
                listening: Vec::new(),
                api: None,
            })
            .unwrap();
        let s = until_services(&m).await;
        assert_eq!(s.services.as_deref(), Some(&[][..]));
        assert!(!s.services_stale);
        assert!(held.lock().unwrap().is_empty());
    }

    /// Scrape until the services are there (the answer lands on the blocking thread).
    async fn until_services(m: &Metrics) -> Sources {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let s = m.sources().await;
            if s.services.is_some() {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("the answer was never kept");
    }
}
