//! The HTTP endpoints of the real `ballast engine --standalone` over 127.0.0.1 (port 0;
//! `run/api.addr` says where), for deployments where systemd or Kubernetes supervises it:
//! `/livez` and `/readyz` (ready while trading; 503 naming the kill switch once it is engaged
//! over HTTP, ready again after the release), the token (401 without, 403 for the viewer's on
//! control), `/openapi.json` listing exactly the routes served, `/metrics` passing `promtool
//! check metrics`, an unsafe remote bind refused with exit 78, and an API that cannot bind
//! never holding up the engine.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use common::wait;
use serde_json::{Value, json};

/// A running standalone engine, its API's URL and tokens.
struct Engine {
    child: Child,
    dir: PathBuf,
    url: String,
    operator: String,
    viewer: String,
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(dir: &Path, config: &str, env: &[(&str, &str)]) -> Child {
    std::fs::write(dir.join("ballast.toml"), config).unwrap();
    common::ballast()
        .envs(env.iter().copied())
        .args(["engine", "--standalone", "--bars-per-second", "20"])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--config")
        .arg(dir.join("ballast.toml"))
        .stdout(Stdio::from(
            std::fs::File::create(dir.join("engine.out")).unwrap(),
        ))
        .stderr(Stdio::from(
            std::fs::File::create(dir.join("engine.err")).unwrap(),
        ))
        .spawn()
        .unwrap()
}

fn start(dir: &Path, config: &str) -> Engine {
    let child = spawn(dir, config, &[]);
    let (url, operator, viewer) = common::surfaces::api_of(&dir.join("data"));
    Engine {
        child,
        dir: dir.to_owned(),
        url,
        operator,
        viewer,
    }
}

/// One answer: status, content type, body.
struct Answer {
    status: u16,
    content_type: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }

    /// The one error shape, checked.
    fn error(&self) -> Value {
        assert_eq!(self.content_type, "application/json", "{}", self.body);
        let v = self.json();
        assert!(
            v["error"]["code"].is_string() && v["error"]["message"].is_string(),
            "{v}"
        );
        v["error"].clone()
    }
}

fn http(method: &str, url: &str, token: Option<&str>, body: Option<Value>) -> Answer {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut r = reqwest::Client::new().request(method.parse().unwrap(), url);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let a = r.timeout(Duration::from_secs(40)).send().await.unwrap();
        let status = a.status().as_u16();
        let content_type = a
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        Answer {
            status,
            content_type,
            body: a.text().await.unwrap(),
        }
    })
}

impl Engine {
    fn get(&self, path: &str, token: Option<&str>) -> Answer {
        http("GET", &format!("{}{path}", self.url), token, None)
    }

    fn send(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> Answer {
        http(method, &format!("{}{path}", self.url), Some(token), body)
    }

    /// Wait until `GET path` answers `status` (at most 60 s); the answer.
    fn until(&self, path: &str, status: u16) -> Answer {
        wait::until(
            Duration::from_secs(60),
            || {
                let a = self.get(path, None);
                if a.status == status {
                    Ok(a)
                } else {
                    Err(format!("{} {}", a.status, a.body))
                }
            },
            |last| format!("{path} never answered {status}; last: {last}"),
        )
    }

    /// Stop it with SIGTERM; its exit status.
    fn stop(mut self) -> std::process::ExitStatus {
        common::process::sigterm(&self.child);
        wait::until(
            Duration::from_secs(30),
            || match self.child.try_wait() {
                Ok(Some(s)) => Ok(s),
                _ => Err(()),
            },
            |()| "the engine did not stop on SIGTERM".into(),
        )
    }
}

#[test]
fn probes_token_kill_switch_and_openapi_of_a_standalone_engine() {
    let tmp = tempfile::tempdir().unwrap();
    let engine = start(tmp.path(), "");
    // Said once at start, in its log (stderr and logs/engine.log; stdout is the final
    // report): the URL, and where the token just generated is — never the token itself.
    let out = wait::until(
        Duration::from_secs(30),
        || {
            let t = std::fs::read_to_string(tmp.path().join("engine.err")).unwrap_or_default();
            t.contains("operator token").then_some(t.clone()).ok_or(t)
        },
        |t| format!("no start message: {t}"),
    );
    assert!(
        out.contains(&format!("engine API: {}/v1/health", engine.url)),
        "{out}"
    );
    assert!(out.contains("data/run/api.token"), "{out}");
    assert!(!out.contains(&engine.operator), "{out}");
    assert!(!out.contains(&engine.viewer), "{out}");

    // Live and ready while it trades.
    assert_eq!(engine.until("/livez", 200).body, "ok\n");
    let ready = engine.until("/readyz?verbose", 200);
    assert!(ready.body.contains("[+]kill_switch ok"), "{}", ready.body);
    assert!(
        ready.body.ends_with("readyz check passed\n"),
        "{}",
        ready.body
    );

    // The token: none, 401 in the one shape; the viewer's reads, but does not control.
    let none = engine.get("/v1/health", None);
    assert_eq!(none.status, 401, "{}", none.body);
    assert_eq!(none.error()["code"], "unauthorized");
    let health = engine.get("/v1/health", Some(&engine.viewer));
    assert_eq!(health.status, 200, "{}", health.body);
    let h = health.json();
    assert_eq!(h["engine"]["kill_switch"], false, "{h}");
    assert_eq!(h["ready"], true, "{h}");
    assert!(h["bars"].as_u64().is_some(), "{h}");
    let body = json!({"reason": "standalone api test"});
    let viewer = engine.send(
        "POST",
        "/v1/kill-switch",
        &engine.viewer,
        Some(body.clone()),
    );
    assert_eq!(viewer.status, 403, "{}", viewer.body);
    assert!(!tmp.path().join("data/KILL_SWITCH").exists());
    let empty = engine.send(
        "POST",
        "/v1/kill-switch",
        &engine.operator,
        Some(json!({"reason": " "})),
    );
    assert_eq!(empty.status, 422, "{}", empty.body);
    assert_eq!(empty.error()["field"], "reason");

    // The kill switch over HTTP: not ready, the reason named; the engine engages it.
    let kill = engine.send("POST", "/v1/kill-switch", &engine.operator, Some(body));
    assert_eq!(kill.status, 200, "{}", kill.body);
    let not_ready = engine.get("/readyz", None);
    assert_eq!(not_ready.status, 503, "{}", not_ready.body);
    assert!(
        not_ready
            .body
            .contains("[-]kill_switch failed: the kill switch is"),
        "{}",
        not_ready.body
    );
    assert_eq!(engine.get("/livez", None).status, 200);
    wait::until(
        Duration::from_secs(30),
        || {
            let h = engine.get("/v1/health", Some(&engine.viewer)).json();
            (h["engine"]["kill_switch"] == true).then_some(()).ok_or(h)
        },
        |h| format!("the engine never engaged the kill switch: {h}"),
    );
    let engaged = engine.get("/readyz", None);
    assert_eq!(engaged.status, 503);
    assert!(
        engaged.body.contains("the kill switch is engaged"),
        "{}",
        engaged.body
    );
    let state = engine.get("/v1/kill-switch", Some(&engine.viewer)).json();
    assert_eq!(state["reason"], "standalone api test", "{state}");

    // Released over HTTP: the engine takes it, ready again.
    let release = engine.send("DELETE", "/v1/kill-switch", &engine.operator, None);
    assert_eq!(release.status, 200, "{}", release.body);
    assert_eq!(release.json()["released"], true);
    engine.until("/readyz", 200);

    // /openapi.json lists exactly the routes served; a route it does not list is a 404.
    let doc = engine.get("/openapi.json", None).json();
    let served: BTreeSet<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(p, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| format!("{} {p}", m.to_uppercase()))
        })
        .collect();
    let expected: BTreeSet<String> = [
        "GET /livez",
        "GET /readyz",
        "GET /metrics",
        "GET /openapi.json",
        "GET /v1/health",
        "GET /v1/kill-switch",
        "POST /v1/kill-switch",
        "DELETE /v1/kill-switch",
        "POST /v1/kill-switch/release",
        "GET /v1/account",
        "GET /v1/positions",
        "GET /v1/orders",
        "GET /v1/fills",
        "GET /v1/decisions",
        "GET /v1/equity",
        "GET /v1/heals",
        "GET /v1/alerts",
        "GET /v1/events",
        "POST /v1/signals",
        "GET /v1/signals",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(served, expected);
    for route in &served {
        let (method, path) = route.split_once(' ').unwrap();
        // `/v1/events` streams (its first bytes are checked below).
        if method == "GET" && path != "/v1/events" {
            let a = engine.get(path, Some(&engine.viewer));
            assert_eq!(a.status, 200, "{route}: {}", a.body);
        }
    }
    // The engine views are the journal's: the bars it traded are in its equity points.
    let equity = wait::until(
        Duration::from_secs(30),
        || {
            let v = engine.get("/v1/equity", Some(&engine.viewer)).json();
            (v["items"].as_array().is_some_and(|i| !i.is_empty()))
                .then(|| v.clone())
                .ok_or(v)
        },
        |v| format!("no equity points: {v}"),
    );
    assert!(equity["seq"].as_u64() > Some(0), "{equity}");
    assert_eq!(events_status(&engine), 200);
    // A signal over HTTP (the operator's only), accepted into journal/signals, the engine's.
    let signal = json!({"symbol": "AAPL", "side": "buy", "qty": "1", "strategy": "standalone-test", "idempotency_key": "s-1"});
    let viewer = engine.send("POST", "/v1/signals", &engine.viewer, Some(signal.clone()));
    assert_eq!(viewer.status, 403, "{}", viewer.body);
    let accepted = engine.send("POST", "/v1/signals", &engine.operator, Some(signal));
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let services = engine.get("/v1/services", Some(&engine.viewer));
    assert_eq!(services.status, 404, "{}", services.body);
    assert_eq!(services.error()["code"], "not_found");

    // Stopped: its address is removed; its stdout is the final report alone.
    let dir = engine.dir.clone();
    let status = engine.stop();
    assert!(status.success(), "{status:?}");
    assert!(!dir.join("data/run/api.addr").exists());
    let report = std::fs::read_to_string(dir.join("engine.out")).unwrap();
    assert!(report.starts_with("engine stopped after "), "{report}");
    assert!(!report.contains(&engine_token(&dir)), "{report}");
    let log = std::fs::read_to_string(dir.join("data/logs/engine.log")).unwrap();
    assert!(log.contains("engine API: http://"), "{log}");
    assert!(
        !log.contains(&engine_token(&dir)),
        "the token in logs/engine.log"
    );
}

fn engine_token(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("data/run/api.token"))
        .unwrap()
        .trim()
        .to_owned()
}

/// The status of `GET /v1/events` (the stream's head only).
fn events_status(engine: &Engine) -> u16 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        reqwest::Client::new()
            .get(format!("{}/v1/events", engine.url))
            .bearer_auth(&engine.viewer)
            .timeout(Duration::from_secs(20))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    })
}

#[test]
fn promtool_finds_nothing_wrong_with_a_standalone_engines_metrics() {
    let Some(promtool) = common::surfaces::promtool() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let engine = start(tmp.path(), "");
    let body = wait::until(
        Duration::from_secs(60),
        || {
            let a = engine.get("/metrics", None);
            (a.status == 200 && a.body.contains("ballast_engine_bars_total "))
                .then(|| a.body.clone())
                .ok_or(format!("{} {}", a.status, a.body))
        },
        |last| format!("no engine metrics: {last}"),
    );
    let (ok, said) = common::surfaces::promtool_check(&promtool, &body);
    assert!(ok && said.is_empty(), "promtool: {said}\n{body}");
    // The check can fail: a counter family named without its `_total`.
    let broken = body
        .replacen(
            "# HELP ballast_engine_bars_total ",
            "# HELP ballast_engine_bars ",
            1,
        )
        .replacen(
            "# TYPE ballast_engine_bars_total counter",
            "# TYPE ballast_engine_bars counter",
            1,
        );
    assert_ne!(broken, body);
    let (ok, said) = common::surfaces::promtool_check(&promtool, &broken);
    assert!(!ok && !said.is_empty(), "promtool took a broken text");
}

#[test]
fn an_unsafe_remote_bind_is_refused_with_exit_78_and_nothing_started() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |config: &str| {
        let mut child = spawn(tmp.path(), config, &[]);
        let status = wait::until(
            Duration::from_secs(30),
            || match child.try_wait() {
                Ok(Some(s)) => Ok(s),
                _ => Err(()),
            },
            |()| "the engine started with an unsafe remote bind".into(),
        );
        let err = std::fs::read_to_string(tmp.path().join("engine.err")).unwrap();
        (status.code(), err)
    };
    let (code, err) = run("[api]\nbind = \"0.0.0.0\"\n");
    assert_eq!(code, Some(78), "{err}");
    assert!(err.contains("allow_remote"), "{err}");
    // allow_remote alone is not enough: the generated token may not guard a remote bind —
    // the API's own check, as `ballast run`'s.
    let (code, err) = run("[api]\nbind = \"0.0.0.0\"\nallow_remote = true\n");
    assert_eq!(code, Some(78), "{err}");
    assert!(err.contains("ballast engine: "), "{err}");
    assert!(
        err.contains("token_file") && err.contains("nothing was started"),
        "{err}"
    );
    assert!(!tmp.path().join("data/journal/engine").exists());
    assert!(!tmp.path().join("data/run/engine.heartbeat").exists());
}

#[test]
fn an_api_that_cannot_bind_never_holds_up_the_engine() {
    // Its port and the three next held (ports taken since by others: another try).
    let held = wait::until(
        Duration::from_secs(30),
        || {
            let first = std::net::TcpListener::bind("127.0.0.1:0").map_err(|_| ())?;
            let port = first.local_addr().map_err(|_| ())?.port();
            let mut held = vec![first];
            for p in 1..=3 {
                let next = port.checked_add(p).ok_or(())?;
                held.push(std::net::TcpListener::bind(("127.0.0.1", next)).map_err(|_| ())?);
            }
            Ok(held)
        },
        |()| "no four free ports in a row".into(),
    );
    let port = held[0].local_addr().unwrap().port().to_string();
    let tmp = tempfile::tempdir().unwrap();
    let mut child = spawn(tmp.path(), "", &[("BALLAST_API__PORT", &port)]);
    let said = wait::until(
        Duration::from_secs(30),
        || {
            let t = std::fs::read_to_string(tmp.path().join("engine.err")).unwrap_or_default();
            t.contains("the API is off").then_some(t.clone()).ok_or(t)
        },
        |t| format!("the API's failure is not said: {t}"),
    );
    assert!(said.contains("the engine runs without it"), "{said}");
    // It trades: its heartbeat counts bars.
    let hb = tmp.path().join("data/run/engine.heartbeat");
    wait::until(
        Duration::from_secs(30),
        || {
            let v: Value = serde_json::from_str(&std::fs::read_to_string(&hb).map_err(|_| ())?)
                .map_err(|_| ())?;
            (v["bars"].as_u64() > Some(2)).then_some(()).ok_or(())
        },
        |()| "the engine does not trade without its API".into(),
    );
    assert!(!tmp.path().join("data/run/api.addr").exists());
    let _ = child.kill();
    let _ = child.wait();
    drop(held);
}
