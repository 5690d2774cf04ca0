//! `GET /metrics` alone over real HTTP on 127.0.0.1 (port 0): a standalone engine's metrics from
//! its heartbeat file, in the format the scraper asks for.

use ballast_api::metrics::{Metrics, routes};
use ballast_api::routes::Access;
use ballast_core::Timestamp;
use ballast_store::files::heartbeat::{self, Heartbeat};
use ballast_store::{Layout, RealStorage};

async fn serve(dir: &std::path::Path) -> String {
    let r = routes(Metrics::engine(dir));
    assert!(
        r.docs
            .iter()
            .any(|d| d.path == "/metrics" && d.method == "GET" && d.access == Access::Open)
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, r.router).await });
    format!("http://{addr}/metrics")
}

fn plant_heartbeat(dir: &std::path::Path) {
    let layout = Layout::new(dir);
    std::fs::create_dir_all(layout.run()).unwrap();
    let mut hb = Heartbeat {
        version: 1,
        pid: 1,
        loops: 3,
        time: Timestamp::from_unix_ms(1_000),
        bars: 3,
        last_seq: 5,
        status: Default::default(),
        view: Default::default(),
        figures: Default::default(),
        signals_seq: 0,
        chaos: vec![
            ballast_core::chaos::ChaosMode::BrokerDown,
            ballast_core::chaos::ChaosMode::ClockSkew,
        ],
    };
    hb.view.equity = rust_decimal::Decimal::new(12_345, 1);
    hb.figures.fills = 4;
    heartbeat::write(&RealStorage, &layout, &hb).unwrap();
}

#[tokio::test]
async fn a_standalone_engine_s_metrics_come_from_its_heartbeat_in_either_format() {
    let tmp = tempfile::tempdir().unwrap();
    let url = serve(tmp.path()).await;
    let client = reqwest::Client::new();
    // No heartbeat yet: an answer all the same, saying so.
    let body = client.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(
        body.contains("ballast_engine_heartbeat_present 0.0"),
        "{body}"
    );
    plant_heartbeat(tmp.path());
    let text = client.get(&url).send().await.unwrap();
    assert_eq!(text.status(), 200);
    assert_eq!(
        text.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let body = text.text().await.unwrap();
    assert!(body.contains("ballast_equity 1234.5\n"), "{body}");
    assert!(
        body.contains("# TYPE ballast_fills_total counter\n"),
        "{body}"
    );
    assert!(body.contains("ballast_supervisor_up 0.0\n"), "{body}");
    // Every active chaos mode, one series each.
    assert!(
        body.contains("ballast_chaos_active{mode=\"broker_down\"} 1.0\n")
            && body.contains("ballast_chaos_active{mode=\"clock_skew\"} 1.0\n"),
        "{body}"
    );
    assert!(!body.contains("# EOF"), "{body}");
    let om = client
        .get(&url)
        .header("accept", "application/openmetrics-text; version=1.0.0")
        .send()
        .await
        .unwrap();
    assert!(
        om.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let body = om.text().await.unwrap();
    assert!(body.ends_with("# EOF\n"), "{body}");
    assert!(body.contains("# TYPE ballast_fills counter\n"), "{body}");
}
