//! Latency from an engine-journal append being durable (`Journal::append` returned: the record
//! is fdatasync'd) to its event arriving on `/v1/events` over loopback HTTP — the issue-13
//! target is a median of at most 50 ms. Run by `bench/api_events.sh`:
//! `cargo run --release -p ballast-api --example api_events -- [appends]`.

#![forbid(unsafe_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use ballast_api::follow::{FollowOptions, Follower};
use ballast_store::{Journal, JournalOptions, Layout, OpenPolicy, RealStorage, SystemClock};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let appends: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(300);
    let tmp = tempfile::tempdir()?;
    let layout = Layout::new(tmp.path());
    let (journal, _) = Journal::open(
        Arc::new(RealStorage),
        &layout,
        &layout.engine_journal(),
        Arc::new(SystemClock),
        JournalOptions::default(),
        OpenPolicy::RefuseDangerous,
        &mut |_| Ok(()),
    )?;
    journal.append(
        "journal.stamp",
        &serde_json::json!({"mode": "paper", "account": "paper"}),
    )?;
    let config = Arc::new(ballast_core::config::load(None, &[]).map_err(|e| format!("{e:?}"))?);
    let follower = Arc::new(Follower::start(FollowOptions::new(tmp.path(), config))?);
    let routes = ballast_api::events::routes(Arc::clone(&follower));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, routes.router).await });
    let mut resp = reqwest::get(format!("http://{addr}/v1/events")).await?;
    let mut buf = String::new();
    let mut lat = Vec::with_capacity(appends);
    for i in 0..appends {
        // Spread the appends over the follower's poll phase.
        tokio::time::sleep(Duration::from_micros(1_000 + (i as u64 * 1_777) % 7_000)).await;
        let body = serde_json::json!({
            "engaged": i % 2 == 0,
            "reason": "bench",
            "at": "2026-12-01T00:00:00.000Z",
        });
        let j = &journal;
        let seq = tokio::task::block_in_place(|| j.append("engine.kill_switch", &body))?;
        let durable = Instant::now();
        let want = format!("\"seq\":{seq},");
        loop {
            if let Some(at) = buf.find("\n\n") {
                let block: String = buf.drain(..at + 2).collect();
                if block.contains(&want) {
                    break;
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(5), resp.chunk())
                .await??
                .ok_or("the event stream ended")?;
            buf.push_str(std::str::from_utf8(&chunk)?);
        }
        lat.push(durable.elapsed());
    }
    lat.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let q = |p: f64| ms(lat[((lat.len() - 1) as f64 * p) as usize]);
    println!(
        "durable append -> /v1/events, {} events: median {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms (target: median <= 50 ms, {:.0}x under)",
        lat.len(),
        q(0.5),
        q(0.9),
        q(0.99),
        ms(*lat.last().unwrap_or(&Duration::ZERO)),
        50.0 / q(0.5).max(1e-3)
    );
    Ok(())
}
