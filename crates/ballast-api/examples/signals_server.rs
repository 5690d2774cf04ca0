//! The signals routes alone on a data directory, for `bench/api_signals.sh` until `ballast
//! run` serves the whole API: `signals_server DATA_DIR CONFIG_FILE [PORT]` prints
//! `listening on http://ADDR` once bound (port 0: any free port) and serves until killed.
//! No authentication: loopback only, for benchmarks.

#![forbid(unsafe_code)]

use std::sync::Arc;

use ballast_api::signals::{SignalsState, routes};
use ballast_store::{Layout, RealStorage, SystemClock};

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let [_, data, config, rest @ ..] = args.as_slice() else {
        return Err("usage: signals_server DATA_DIR CONFIG_FILE [PORT]".into());
    };
    let port: u16 = match rest.first() {
        Some(p) => p.parse().map_err(|_| format!("not a port: {p}"))?,
        None => 0,
    };
    let text = std::fs::read_to_string(config).map_err(|e| format!("{config}: {e}"))?;
    let config = ballast_core::config::load(
        Some(ballast_core::config::Source {
            path: config,
            text: &text,
        }),
        &[],
    )
    .map_err(|e| e.to_string())?;
    let state = SignalsState::open(
        &Layout::new(data),
        &config,
        Arc::new(RealStorage),
        Arc::new(SystemClock),
    )?;
    let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| e.to_string())?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        println!("listening on http://{addr}");
        axum::serve(listener, routes(state).router)
            .await
            .map_err(|e| e.to_string())
    })
}
