//! The separate `/metrics` listener of `ballast run` or a standalone engine (`[api] metrics_port`, issue 13 item 7):
//! started by the supervisor's surface hook on its own thread and runtime, on the API's address
//! and the configured port or one of the next [`PORT_RETRIES`] when it is taken; the port bound
//! is logged and published for `ballast status`. With `metrics_port = 0` the API's own listener
//! serves `/metrics` (it merges [`ballast_api::metrics::routes`] into its router).
//!
//! A listener that cannot start never stops the supervisor: trading and the control socket do
//! not depend on it. It is said (an error event in the log), and `ballast status` lists no
//! metrics listener.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ballast_api::metrics::{Metrics, routes};
use ballast_core::config::Api;
use ballast_supervisor::surface::Surface;

/// Ports tried above a taken one (the API's port does the same).
pub const PORT_RETRIES: u16 = 3;

/// Where the separate listener goes, if one is configured (validation made `bind` an address).
pub(super) fn separate_addr(api: &Api) -> Option<SocketAddr> {
    let ip: IpAddr = api.bind.parse().ok()?;
    (api.metrics_port != 0).then(|| SocketAddr::new(ip, api.metrics_port))
}

/// Start the separate metrics listener on its own thread, if `[api] metrics_port` asks for one:
/// the supervisor's metrics (its `surface`), or a standalone engine's (`None`).
pub(super) fn start_separate(api: &Api, data_dir: &Path, surface: Option<Surface>) {
    let Some(addr) = separate_addr(api) else {
        return;
    };
    let dir: PathBuf = data_dir.to_owned();
    let spawned = std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || serve(addr, surface, &dir));
    if let Err(e) = spawned {
        tracing::error!(
            target: "ballast::metrics",
            "cannot start the metrics listener's thread ({e}); /metrics is not served"
        );
    }
}

fn serve(addr: SocketAddr, surface: Option<Surface>, dir: &Path) {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("metrics-io")
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(target: "ballast::metrics", "cannot start the metrics listener's runtime ({e}); /metrics is not served");
            return;
        }
    };
    let published = surface.as_ref().map(|s| Arc::clone(&s.published));
    let metrics = match surface {
        Some(s) => Metrics::supervisor(s, dir),
        None => Metrics::engine(dir),
    };
    let app = routes(metrics).router;
    runtime.block_on(async move {
        let listener = match ballast_api::bind::bind_with_retry(addr, PORT_RETRIES).await {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(target: "ballast::metrics", "the metrics listener is not started: {e}");
                return;
            }
        };
        let bound = listener.local_addr().unwrap_or(addr);
        let url = format!("http://{bound}/metrics");
        if bound.port() != addr.port() {
            tracing::warn!(target: "ballast::metrics", "port {} was taken: metrics on {url}", addr.port());
        } else {
            tracing::info!(target: "ballast::metrics", "metrics on {url}");
        }
        if let Some(p) = &published {
            p.set_listening("metrics", &url);
        }
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(target: "ballast::metrics", "the metrics listener stopped: {e}");
        }
    });
}
