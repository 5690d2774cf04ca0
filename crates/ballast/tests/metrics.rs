//! `/metrics` of a running `ballast run` over real HTTP on 127.0.0.1 (issue 13 item 7), checked
//! by `promtool check metrics` (Debian's `prometheus` package; CI installs it and a missing one
//! fails there), and the structured log it writes (item 9).

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use common::{Sup, wait};

/// A port that was free a moment ago (the supervisor retries the next 3 if it is taken since).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn config(metrics_port: u16) -> String {
    format!(
        "[feed]\nbars_per_second = 50\n\n[api]\nmetrics_port = {metrics_port}\n\n\
         [[services]]\nname = \"bot\"\ncommand = \"sh\"\nargs = [\"-c\", \"exec sleep 3600\", \"--api-key=PLANTED-key-7f3a\"]\n\
         env = {{ API_SECRET = \"PLANTED-secret-9c2e\" }}\n"
    )
}

/// The secrets [`config`] plants.
const PLANTED: [&str; 2] = ["PLANTED-key-7f3a", "PLANTED-secret-9c2e"];

/// The metrics URL `ballast status` shows, once it shows one.
fn metrics_url(sup: &Sup) -> String {
    let status = sup.wait_for("the metrics listener", |s| {
        s["listening"]
            .as_array()
            .is_some_and(|l| l.iter().any(|x| x["name"] == "metrics"))
    });
    status["listening"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "metrics")
        .unwrap()["url"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `GET url` over plain HTTP/1.0: the status line's code and the body.
fn get(url: &str) -> (u16, String) {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut s = TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let code = head.split(' ').nth(1).unwrap().parse().unwrap();
    (code, body.to_owned())
}

/// The samples of the text format: `name{labels}` → value.
fn samples(body: &str) -> BTreeMap<String, f64> {
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_owned(), v.parse().ok()?))
        })
        .collect()
}

/// Scrape until `cond` holds for the samples (at most 60 s).
fn scrape_until(
    url: &str,
    what: &str,
    cond: impl Fn(&BTreeMap<String, f64>) -> bool,
) -> (String, BTreeMap<String, f64>) {
    wait::until(
        Duration::from_secs(60),
        || {
            let (code, body) = get(url);
            let s = samples(&body);
            if code == 200 && cond(&s) {
                Ok((body, s))
            } else {
                Err(body)
            }
        },
        |body| format!("the metrics never showed {what}:\n{body}"),
    )
}

fn traded(data: &Path, url: &str) -> (String, BTreeMap<String, f64>) {
    common::buy_signal(data, "metrics-1");
    scrape_until(url, "a fill and a few bars", |s| {
        s.get("ballast_fills_total").is_some_and(|n| *n >= 1.0)
            && s.get("ballast_engine_bars_total")
                .is_some_and(|n| *n >= 5.0)
    })
}

#[test]
fn promtool_finds_nothing_wrong_with_the_metrics_of_a_running_supervisor() {
    let Some(promtool) = common::surfaces::promtool() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let sup = Sup::start(tmp.path(), &config(free_port()));
    let url = metrics_url(&sup);
    let (body, _) = traded(&tmp.path().join("data"), &url);
    let (ok, said) = common::surfaces::promtool_check(&promtool, &body);
    assert!(ok && said.is_empty(), "promtool: {said}\n{body}");
    // The check can fail: a counter family named without its `_total`, as OpenMetrics names
    // it, is refused.
    let broken = body.replacen("# HELP ballast_fills_total ", "# HELP ballast_fills ", 1);
    let broken = broken.replacen(
        "# TYPE ballast_fills_total counter",
        "# TYPE ballast_fills counter",
        1,
    );
    let (ok, said) = common::surfaces::promtool_check(&promtool, &broken);
    assert!(!ok && !said.is_empty(), "promtool took a broken text");
}

#[test]
fn the_metrics_say_what_the_system_is_doing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let sup = Sup::start(tmp.path(), &config(free_port()));
    let url = metrics_url(&sup);
    let (body, s) = traded(&data, &url);
    for family in [
        "ballast_overall_status",
        "ballast_health_score",
        "ballast_subsystem_status",
        "ballast_subsystem_healthy",
        "ballast_policy",
        "ballast_trading_state",
        "ballast_service_restarts_total",
        "ballast_heals_total",
        "ballast_alert_deliveries_total",
        "ballast_alert_delivery_failures_total",
        "ballast_orders_total",
        "ballast_fills_total",
        "ballast_equity",
        "ballast_exposure_ratio",
        "ballast_journal_fsync_duration_seconds",
        "ballast_engine_loop_lag_seconds",
        "ballast_reconciliation_drift_orders",
        "ballast_oldest_in_flight_order_age_seconds",
        "ballast_engine_heartbeat_age_seconds",
    ] {
        assert!(
            body.contains(&format!("# TYPE {family} ")),
            "{family} missing:\n{body}"
        );
    }
    let v = |k: &str| *s.get(k).unwrap_or_else(|| panic!("no {k}:\n{body}"));
    assert!(v("ballast_equity") > 0.0);
    let overall: f64 = s
        .iter()
        .filter(|(k, _)| k.starts_with("ballast_overall_status{"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(overall, 1.0, "one overall status at a time:\n{body}");
    assert_eq!(v("ballast_policy{policy=\"ALLOW_ALL\"}"), 1.0);
    assert_eq!(v("ballast_subsystem_healthy{subsystem=\"engine\"}"), 1.0);
    assert!(v("ballast_orders_total") >= 1.0);
    assert!(v("ballast_journal_fsync_duration_seconds_count") >= 5.0);
    assert!(v("ballast_engine_heartbeat_age_seconds") < 60.0);
    assert!((0.0..=1.0).contains(&v("ballast_exposure_ratio")));
    assert_eq!(v("ballast_service_restarts_total{service=\"engine\"}"), 0.0);
    for secret in PLANTED {
        assert!(!body.contains(secret), "{secret} in the metrics");
    }
    // A kill from outside: the engine is restarted, and the counter says so.
    let pid = Sup::service(&sup.status().unwrap(), "engine")["pid"]
        .as_i64()
        .unwrap();
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid as i32).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    let (body, _) = scrape_until(&url, "the engine's restart", |s| {
        s.get("ballast_service_restarts_total{service=\"engine\"}")
            .is_some_and(|n| *n >= 1.0)
            && s.get("ballast_service_unrequested_exits_total{service=\"engine\"}")
                .is_some_and(|n| *n >= 1.0)
    });
    assert!(body.contains("ballast_service_running{service=\"engine\"}"));
}

/// Lines of the supervisor's log file, each parsed (every one must be JSON).
fn log_lines(data: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(data.join("logs/supervisor.log")).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?} is not JSON: {e}")))
        .collect()
}

#[test]
fn the_supervisor_log_is_filtered_json_lines_without_secrets() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    // Default filter (info): the start is said, each line a JSON object with its four fields.
    let sup = Sup::start_with_env(
        &tmp.path().join("a"),
        &config(free_port()),
        &[("RUST_LOG", ""), ("BALLAST_LOG", "info")],
    );
    metrics_url(&sup);
    let a = tmp.path().join("a/data");
    let lines = wait::until(
        Duration::from_secs(30),
        || {
            let l = log_lines(&a);
            if l.len() >= 3 { Ok(l) } else { Err(l) }
        },
        |l| format!("no lines: {l:?}"),
    );
    for l in &lines {
        for key in ["timestamp", "level", "target", "message"] {
            assert!(l[key].is_string(), "{key} missing in {l}");
        }
    }
    assert!(lines.iter().any(|l| l["level"] == "INFO"), "{lines:?}");
    drop(sup);
    // `warn`: a taken metrics port is said (WARN, with the port bound instead), nothing at INFO.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let sup = Sup::start_with_env(
        tmp.path(),
        &config(port),
        &[("BALLAST_LOG", "warn"), ("RUST_LOG", "debug")],
    );
    let url = metrics_url(&sup);
    assert!(!url.contains(&format!(":{port}/")), "{url}");
    let bound = url.clone();
    let lines = wait::until(
        Duration::from_secs(30),
        || {
            let l = log_lines(&data);
            if l.iter().any(|x| x["level"] == "WARN") {
                Ok(l)
            } else {
                Err(l)
            }
        },
        |l| format!("no warning: {l:?}"),
    );
    assert!(
        lines.iter().any(|l| l["message"]
            .as_str()
            .is_some_and(|m| m.contains(&format!("port {port} was taken")) && m.contains(&bound))),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .all(|l| l["level"] != "INFO" && l["level"] != "DEBUG"),
        "the filter lets only warnings and errors through: {lines:?}"
    );
    let status = sup.cli(&["status"]);
    assert!(
        String::from_utf8_lossy(&status.stdout).contains(&format!("metrics listening on {bound}")),
        "{}",
        String::from_utf8_lossy(&status.stdout)
    );
    drop(taken);
    drop(sup);
    for dir in [tmp.path(), &tmp.path().join("a")] {
        let log = std::fs::read_to_string(dir.join("data/logs/supervisor.log")).unwrap();
        let err = std::fs::read_to_string(dir.join("supervisor.err")).unwrap();
        for secret in PLANTED {
            assert!(!log.contains(secret), "{secret} in supervisor.log");
            assert!(!err.contains(secret), "{secret} on stderr");
        }
    }
}

#[test]
fn a_standalone_engine_writes_json_lines_to_its_log_and_text_to_stderr() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("ballast.toml");
    std::fs::write(&cfg, "[feed]\nbars_per_second = 0\n").unwrap();
    let data = tmp.path().join("data");
    let out = common::standalone_engine(&data, &cfg, 20);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.lines()
            .next()
            .is_some_and(|l| l.contains(" engine: starting: mode paper")),
        "stderr keeps its text lines: {err}"
    );
    let log = std::fs::read_to_string(data.join("logs/engine.log")).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect();
    assert!(
        lines.iter().any(|l| l["target"] == "ballast::engine"
            && l["level"] == "INFO"
            && l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("starting: mode paper"))),
        "{log}"
    );
    // The same lines as text, through `ballast logs`.
    let shown = common::ballast()
        .args(["logs", "engine", "-n", "50", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.contains(" INFO starting: mode paper"), "{shown}");
    assert!(!shown.contains("\"level\""), "{shown}");
    // For a container's collector: JSON on stderr too, when asked.
    let out = common::ballast()
        .args([
            "engine",
            "--standalone",
            "--bars-per-second",
            "0",
            "--max-bars",
            "5",
        ])
        .arg("--data-dir")
        .arg(&data)
        .arg("--config")
        .arg(&cfg)
        .env("BALLAST_LOG_FORMAT", "json")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.is_empty());
    for line in err.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        assert_eq!(v["target"], "ballast::engine", "{line}");
    }
}
