//! The HTTP API of the real `ballast run` over 127.0.0.1 (port 0; `run/api.addr` says where):
//! the tokens and roles (401, 403), the refusal of an unsafe remote bind (exit 78), the one
//! error shape (validation, 404, 405), the kill switch engaged and released over HTTP, a
//! recommendation approved over HTTP, every control action journaled with its role and
//! remote address, the port retry, and `/openapi.json`: valid OpenAPI 3, and every path it
//! documents answers.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::report::policy;
use common::{Sup, wait, wait_health};
use serde_json::{Value, json};

/// Fast cycles, the machine's own resources only reported.
const FAST: &str = "[health]\ncycle_ms = 100\ncritical_interval_secs = 1\ninterval_secs = 1\ncpu_degraded_pct = 100\nmemory_degraded_pct = 100\ndisk_free_min_pct = 0\nhysteresis_secs = 0\n";

/// No engine, only the monitor (a check of the config file keeps `ballast run` busy).
fn monitor_only(dir: &Path, extra: &str) -> String {
    format!(
        "[engine]\nenabled = false\n{FAST}{extra}\n[[checks]]\nname = \"config\"\nkind = \"files_present\"\npaths = [\"{}\"]\n",
        dir.join("ballast.toml").display()
    )
}

/// A running supervisor, its API's URL and tokens.
struct Api {
    sup: Sup,
    url: String,
    operator: String,
    viewer: String,
}

fn start(dir: &Path, config: &str, env: &[(&str, &str)]) -> Api {
    std::fs::write(dir.join("ballast.toml"), config).unwrap();
    let child = common::ballast()
        .envs(env.iter().copied())
        .args(["run", "--data-dir"])
        .arg(dir.join("data"))
        .arg("--config")
        .arg(dir.join("ballast.toml"))
        .stdout(Stdio::from(
            std::fs::File::create(dir.join("supervisor.out")).unwrap(),
        ))
        .stderr(Stdio::from(
            std::fs::File::create(dir.join("supervisor.err")).unwrap(),
        ))
        .spawn()
        .unwrap();
    let sup = Sup {
        child,
        dir: dir.to_owned(),
    };
    let (url, operator, viewer) = common::surfaces::api_of(&dir.join("data"));
    Api {
        url,
        operator,
        viewer,
        sup,
    }
}

/// One answer: status, headers, body.
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }

    /// The error shape, checked: `{"error": {"code", "message", "field"?}}`, as JSON.
    fn error(&self) -> Value {
        assert_eq!(
            self.headers
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/json"),
            "{} {}",
            self.status,
            self.body
        );
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
        let c = reqwest::Client::new();
        let mut r = c.request(method.parse().unwrap(), url);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let a = r.timeout(Duration::from_secs(40)).send().await.unwrap();
        let (status, headers) = (a.status().as_u16(), a.headers().clone());
        // An event stream (`/v1/events`) does not end: its status and headers say enough.
        let stream = headers
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
        let body = if stream {
            String::new()
        } else {
            a.text().await.unwrap()
        };
        Answer {
            status,
            headers,
            body,
        }
    })
}

impl Api {
    fn get(&self, path: &str, token: Option<&str>) -> Answer {
        http("GET", &format!("{}{path}", self.url), token, None)
    }

    fn op(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        http(
            method,
            &format!("{}{path}", self.url),
            Some(&self.operator),
            body,
        )
    }

    /// Wait until the ops journal has a line with every one of `words`.
    fn ops_line(&self, words: &[&str]) -> String {
        wait::until(
            Duration::from_secs(30),
            || {
                let out = self.sup.cli(&["journal", "dump", "--ops"]);
                let text = String::from_utf8_lossy(&out.stdout).into_owned();
                text.lines()
                    .find(|l| words.iter().all(|w| l.contains(w)))
                    .map(str::to_owned)
                    .ok_or(text)
            },
            |text| format!("no ops record with {words:?}:\n{text}"),
        )
    }
}

#[test]
fn tokens_roles_and_the_one_error_shape_over_the_real_binary() {
    let tmp = tempfile::tempdir().unwrap();
    let api = start(tmp.path(), &monitor_only(tmp.path(), ""), &[]);
    // Printed once at start: the dashboard's URL and the token just generated.
    let out = wait::until(
        Duration::from_secs(30),
        || {
            let t = std::fs::read_to_string(tmp.path().join("supervisor.out")).unwrap_or_default();
            t.contains("operator token").then_some(t.clone()).ok_or(t)
        },
        |t| format!("no start message: {t}"),
    );
    assert!(out.contains(&format!("dashboard: {}/", api.url)), "{out}");
    assert!(out.contains(&api.operator), "{out}");
    assert!(!out.contains(&api.viewer), "{out}");
    for name in ["api.token", "api.viewer.token"] {
        let mode = std::fs::metadata(tmp.path().join("data/run").join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }
    // `ballast status` shows where the API listens.
    let status = api.sup.wait_for("a status", |s| s["api"].is_string());
    assert_eq!(status["api"], api.url.as_str());

    let none = api.get("/v1/health", None);
    assert_eq!(none.status, 401);
    assert_eq!(none.headers["www-authenticate"], "Bearer");
    assert_eq!(none.error()["code"], "unauthorized");
    let wrong = api.get("/v1/health", Some("not-the-token"));
    assert_eq!(
        (wrong.status, wrong.error()["code"].clone()),
        (401, json!("unauthorized"))
    );
    let h = wait::until(
        Duration::from_secs(30),
        || {
            let a = api.get("/v1/health", Some(&api.viewer));
            (a.status == 200).then(|| a.json()).ok_or(a.body)
        },
        |b| format!("no report: {b}"),
    );
    assert!(h["overall"].is_string(), "{h}");
    // The viewer reads but does not control.
    let kill = json!({"reason": "viewer"});
    let v = http(
        "POST",
        &format!("{}/v1/kill-switch", api.url),
        Some(&api.viewer),
        Some(kill),
    );
    assert_eq!(
        (v.status, v.error()["code"].clone()),
        (403, json!("forbidden"))
    );
    assert!(!tmp.path().join("data/KILL_SWITCH").exists());
    // Validation: the field named; a body that is not the request's in the shape too.
    let empty = api.op("POST", "/v1/kill-switch", Some(json!({"reason": "  "})));
    let e = empty.error();
    assert_eq!(
        (empty.status, e["field"].clone()),
        (422, json!("reason")),
        "{e}"
    );
    let missing = api.op("POST", "/v1/kill-switch", Some(json!({"flatten": true})));
    assert_eq!(missing.status, 422);
    assert!(
        missing.error()["message"]
            .as_str()
            .unwrap()
            .contains("reason")
    );
    let nothing = api.get("/v1/nothing", Some(&api.viewer));
    assert_eq!(
        (nothing.status, nothing.error()["code"].clone()),
        (404, json!("not_found"))
    );
    let put = http(
        "PUT",
        &format!("{}/v1/health", api.url),
        Some(&api.operator),
        None,
    );
    assert_eq!(
        (put.status, put.error()["code"].clone()),
        (405, json!("method_not_allowed"))
    );
    let svc = api.op("POST", "/v1/services/nope/restart", None);
    assert_eq!(
        (svc.status, svc.error()["code"].clone()),
        (404, json!("not_found"))
    );
    // The probes are open: alive; not ready without an engine, each check said.
    assert_eq!(api.get("/livez", None).status, 200);
    let ready = api.get("/readyz?verbose", None);
    assert_eq!(ready.status, 503, "{}", ready.body);
    assert!(ready.body.contains("[+]report ok"), "{}", ready.body);
    assert!(ready.body.contains("[-]engine failed: "), "{}", ready.body);
    // No secret in the supervisor's log.
    let err = std::fs::read_to_string(tmp.path().join("supervisor.err")).unwrap();
    assert!(!err.contains(&api.operator) && !err.contains(&api.viewer));
    api.sup.stop();
}

#[test]
fn the_kill_switch_is_engaged_and_released_over_http_and_each_action_journals_its_actor() {
    let tmp = tempfile::tempdir().unwrap();
    let api = start(tmp.path(), &monitor_only(tmp.path(), ""), &[]);
    wait_health(&api.sup, "a report", |h| policy(h) == "ALLOW_ALL");
    let state = api.get("/v1/kill-switch", Some(&api.viewer)).json();
    assert_eq!(state["requested"], false, "{state}");
    let a = api.op(
        "POST",
        "/v1/kill-switch",
        Some(json!({"reason": "drill over http"})),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.json()["message"].as_str().unwrap().contains("ENGAGED"));
    let h = wait_health(&api.sup, "emergency", |h| policy(h) == "EMERGENCY_SHUTDOWN");
    assert_eq!(h["policy"]["trading_state"], "HALTED");
    let state = api.get("/v1/kill-switch", Some(&api.viewer)).json();
    assert_eq!(
        (state["requested"].clone(), state["reason"].clone()),
        (json!(true), json!("drill over http"))
    );
    assert_eq!(state["by"], "api", "{state}");
    let p = api.get("/v1/policy", Some(&api.viewer)).json();
    assert_eq!(p["policy"], "EMERGENCY_SHUTDOWN", "{p}");
    // The kill, journaled: the action, its reason, who (the API, the operator's role, the
    // remote address) and the outcome.
    let line = api.ops_line(&["control.action", "\"action\":\"kill\""]);
    for w in [
        "\"via\":\"api\"",
        "\"role\":\"operator\"",
        "\"remote\":\"127.0.0.1:",
        "drill over http",
        "\"outcome\":\"done\"",
        "\"at\":",
    ] {
        assert!(line.contains(w), "{w} in {line}");
    }
    // Release: as `ballast resume`, then the policy leaves EMERGENCY_SHUTDOWN.
    let r = api.op("DELETE", "/v1/kill-switch", None);
    assert_eq!(r.status, 200, "{}", r.body);
    let r = r.json();
    assert!(
        r["policy"]
            .as_str()
            .unwrap()
            .contains("EMERGENCY_SHUTDOWN -> ALLOW_ALL"),
        "{r}"
    );
    assert!(!tmp.path().join("data/KILL_SWITCH").exists());
    wait_health(&api.sup, "allowed again", |h| policy(h) == "ALLOW_ALL");
    api.ops_line(&[
        "control.action",
        "\"action\":\"release\"",
        "\"via\":\"api\"",
        "\"outcome\":\"done\"",
    ]);
    // The CLI's socket calls are journaled too, as the CLI's.
    let out = api.sup.cli(&["reject", "nope"]);
    assert!(!out.status.success());
    api.ops_line(&[
        "control.action",
        "\"action\":\"reject\"",
        "\"target\":\"nope\"",
        "\"via\":\"cli\"",
        "\"outcome\":\"not_found\"",
    ]);
    // `ballast kill` beside a running supervisor engages through its loop: journaled as the
    // CLI's, the file naming `ballast kill`.
    let out = api.sup.cli(&["kill", "--reason", "cli drill"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    api.ops_line(&[
        "control.action",
        "\"action\":\"kill\"",
        "cli drill",
        "\"via\":\"cli\"",
        "\"outcome\":\"done\"",
    ]);
    let state = api.get("/v1/kill-switch", Some(&api.viewer)).json();
    assert_eq!(state["by"], "ballast kill", "{state}");
    api.sup.stop();
}

#[test]
fn a_forced_health_cycle_is_answered_at_once_with_a_newer_report() {
    let tmp = tempfile::tempdir().unwrap();
    // A cycle a minute: only a forced one answers within the test.
    let slow = monitor_only(tmp.path(), "").replace("cycle_ms = 100", "cycle_ms = 60000");
    let api = start(tmp.path(), &slow, &[]);
    let before = wait::until(
        Duration::from_secs(30),
        || {
            let a = api.get("/v1/health", Some(&api.viewer));
            (a.status == 200).then(|| a.json()).ok_or(a.body)
        },
        |b| format!("no first report: {b}"),
    );
    let viewer = http(
        "POST",
        &format!("{}/v1/health/check", api.url),
        Some(&api.viewer),
        None,
    );
    assert_eq!(viewer.status, 403);
    let t = std::time::Instant::now();
    let c = api.op("POST", "/v1/health/check", None);
    assert_eq!(c.status, 200, "{}", c.body);
    let after = c.json();
    assert!(
        after["at"].as_str() > before["at"].as_str(),
        "{after} after {before}"
    );
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
    // Published for every reader.
    let now = api.get("/v1/health", Some(&api.viewer)).json();
    assert_eq!(now["at"], after["at"]);
    api.ops_line(&[
        "control.action",
        "\"action\":\"health_check\"",
        "\"role\":\"operator\"",
    ]);
    api.sup.stop();
}

#[test]
fn the_configuration_is_served_with_its_origins_and_a_planted_secret_never_appears() {
    let tmp = tempfile::tempdir().unwrap();
    let secret = "planted-broker-secret-7f3a";
    let config = monitor_only(
        tmp.path(),
        &format!(
            "\n[[services]]\nname = \"bot\"\ncommand = \"/bin/sleep\"\nargs = [\"600\"]\nenv = {{ BROKER_API_KEY = \"{secret}\" }}\n"
        ),
    );
    let api = start(tmp.path(), &config, &[("BROKER_SECRET", secret)]);
    wait_health(&api.sup, "a report", |h| policy(h) == "ALLOW_ALL");
    let c = api.get("/v1/config", Some(&api.viewer));
    assert_eq!(c.status, 200, "{}", c.body);
    let v = c.json();
    let row = |section: &str, key: &str| {
        v["settings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["section"] == section && r["key"] == key)
            .cloned()
            .unwrap_or_else(|| panic!("no {section}.{key}: {v}"))
    };
    assert_eq!(row("health", "cycle_ms")["value"], 100);
    assert!(
        row("health", "cycle_ms")["origin"]
            .as_str()
            .unwrap()
            .contains("ballast.toml:")
    );
    assert_eq!(
        row("api", "port")["origin"],
        "environment variable BALLAST_API__PORT"
    );
    for path in [
        "/v1/config",
        "/v1/services",
        "/v1/health",
        "/v1/policy",
        "/v1/recommendations",
        "/openapi.json",
    ] {
        let a = api.get(path, Some(&api.operator));
        assert_eq!(a.status, 200, "{path}: {}", a.body);
        assert!(!a.body.contains(secret), "{path}: {}", a.body);
    }
    assert!(c.body.contains("***"), "{}", c.body);
    let log = std::fs::read_to_string(tmp.path().join("supervisor.err")).unwrap();
    let out = std::fs::read_to_string(tmp.path().join("supervisor.out")).unwrap();
    assert!(!log.contains(secret) && !out.contains(secret));
    api.sup.stop();
}

#[test]
fn a_recommendation_is_approved_over_http() {
    let tmp = tempfile::tempdir().unwrap();
    let starts = tmp.path().join("starts");
    let config = monitor_only(
        tmp.path(),
        &format!(
            "\n[[services]]\nname = \"flaky\"\ncommand = \"/bin/sh\"\nargs = [\"-c\", \"echo start >> {}; exit 3\"]\nmax_restarts = 0\nrestart_delay_ms = 0\n",
            starts.display()
        ),
    );
    let api = start(tmp.path(), &config, &[]);
    let id = "service:flaky/state/restart_subsystem";
    wait::until(
        Duration::from_secs(30),
        || {
            let r = api.get("/v1/recommendations", Some(&api.viewer));
            let v: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
            let pending = v["pending"].as_array().cloned().unwrap_or_default();
            pending
                .iter()
                .any(|p| p["id"] == id && p["state"] == "PENDING")
                .then_some(())
                .ok_or(r.body)
        },
        |b| format!("no pending restart: {b}"),
    );
    let encoded = id.replace(':', "%3A").replace('/', "%2F");
    let viewer = http(
        "POST",
        &format!("{}/v1/recommendations/{encoded}/approve", api.url),
        Some(&api.viewer),
        None,
    );
    assert_eq!(viewer.status, 403);
    let a = api.op(
        "POST",
        &format!("/v1/recommendations/{encoded}/approve"),
        None,
    );
    assert_eq!(a.status, 200, "{}", a.body);
    wait::until(
        Duration::from_secs(30),
        || {
            let n = std::fs::read_to_string(&starts)
                .unwrap_or_default()
                .lines()
                .count();
            (n >= 2).then_some(()).ok_or(n)
        },
        |n| format!("not restarted: {n} start(s)"),
    );
    // Decided already: a conflict, in the shape, with the supervisor's words.
    let again = api.op(
        "POST",
        &format!("/v1/recommendations/{encoded}/approve"),
        None,
    );
    assert_eq!(again.status, 409, "{}", again.body);
    assert!(
        again.error()["message"]
            .as_str()
            .unwrap()
            .contains("already approved")
    );
    api.ops_line(&[
        "control.action",
        "\"action\":\"approve\"",
        id,
        "\"role\":\"operator\"",
    ]);
    api.sup.stop();
}

#[test]
fn an_unsafe_remote_bind_is_refused_with_exit_78_for_each_missing_condition() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |config: &str| {
        std::fs::write(tmp.path().join("ballast.toml"), config).unwrap();
        let mut c = common::ballast();
        c.args(["run", "--data-dir"])
            .arg(tmp.path().join("data"))
            .arg("--config")
            .arg(tmp.path().join("ballast.toml"));
        common::output_within(&mut c, 30)
    };
    let out = run("[api]\nbind = \"0.0.0.0\"\n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(err.contains("allow_remote"), "{err}");
    // allow_remote alone is not enough: the generated token may not guard a remote bind.
    let out = run("[api]\nbind = \"0.0.0.0\"\nallow_remote = true\n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(
        err.contains("token_file") && err.contains("nothing was started"),
        "{err}"
    );
    assert!(!tmp.path().join("data/run/supervisor.sock").exists());
    // A token file of the operator's that others may read is refused too.
    let token = tmp.path().join("op.token");
    std::fs::write(&token, format!("{}\n", "k".repeat(40))).unwrap();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run("[api]\ntoken_file = \"op.token\"\n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(err.contains("chmod 600"), "{err}");
    assert!(!err.contains(&"k".repeat(40)), "{err}");
}

#[test]
fn a_taken_port_is_skipped_said_and_the_bound_one_shown() {
    let tmp = tempfile::tempdir().unwrap();
    // A port whose next one is free now.
    let (held, port) = loop {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let p = l.local_addr().unwrap().port();
        if p < 65_000 && std::net::TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
            break (l, p);
        }
    };
    let port_text = port.to_string();
    let api = start(
        tmp.path(),
        &monitor_only(tmp.path(), ""),
        &[("BALLAST_API__PORT", &port_text)],
    );
    let bound: u16 = api.url.rsplit(':').next().unwrap().parse().unwrap();
    assert!(bound > port && bound <= port + 3, "{bound} for {port}");
    let err = std::fs::read_to_string(tmp.path().join("supervisor.err")).unwrap();
    assert!(
        err.contains(&format!("port {port} on 127.0.0.1 is taken")),
        "{err}"
    );
    let status = api.sup.wait_for("a status", |s| s["api"].is_string());
    assert_eq!(status["api"], api.url.as_str());
    let out = api.sup.cli(&["status"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("API and dashboard {}/", api.url))
    );
    drop(held);
    api.sup.stop();
    assert!(
        !tmp.path().join("data/run/api.addr").exists(),
        "removed at the end"
    );
}

/// The validator of the OpenAPI document (`.ci/run` installs it into target/venv).
fn validator() -> Option<PathBuf> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/venv/bin/openapi-spec-validator");
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{} is missing: CI installs it (.ci/run)",
        path.display()
    );
    eprintln!(
        "skipping the OpenAPI validation: install the validator with `python3 -m venv target/venv && target/venv/bin/pip install openapi-spec-validator`"
    );
    None
}

#[test]
fn the_openapi_document_is_valid_and_every_path_it_documents_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let api = start(tmp.path(), &monitor_only(tmp.path(), ""), &[]);
    wait_health(&api.sup, "a report", |h| policy(h) == "ALLOW_ALL");
    let doc = api.get("/openapi.json", None);
    assert_eq!(doc.status, 200);
    let doc = doc.json();
    assert_eq!(doc["openapi"], "3.0.3");
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/livez",
        "/readyz",
        "/v1/health",
        "/v1/kill-switch",
        "/v1/recommendations/{id}/approve",
        "/openapi.json",
    ] {
        assert!(paths.contains_key(p), "{p} is not documented");
    }
    // Every documented path answers something other than "no such route" or "not this
    // method": the table cannot promise a route the router does not have.
    for (path, methods) in paths {
        let concrete = path.replace("{name}", "nope").replace("{id}", "nope");
        for method in methods.as_object().unwrap().keys() {
            let m = method.to_ascii_uppercase();
            let a = http(
                &m,
                &format!("{}{concrete}", api.url),
                Some(&api.operator),
                None,
            );
            let routed = !(a.status == 404 && a.body.contains("no route")) && a.status != 405;
            assert!(routed, "{m} {path}: {} {}", a.status, a.body);
        }
    }
    if let Some(v) = validator() {
        let file = tmp.path().join("openapi.json");
        std::fs::write(&file, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
        let out = std::process::Command::new(v).arg(&file).output().unwrap();
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    api.sup.stop();
}

/// `ballast run` with its engine trading: the engine views follow the engine's journal (the
/// viewer's token reads them, none is a 401) and `/v1/events` streams its records live.
#[test]
fn the_engine_views_and_events_follow_the_running_engine() {
    let tmp = tempfile::tempdir().unwrap();
    let api = start(
        tmp.path(),
        &format!("{FAST}[feed]\nbars_per_second = 200\n"),
        &[],
    );
    assert_eq!(api.get("/v1/positions", None).status, 401);
    let seq_now = || {
        let a = api.get("/v1/account", Some(&api.viewer));
        (a.status == 200)
            .then(|| a.json()["seq"].as_u64().unwrap_or(0))
            .filter(|s| *s > 10)
            .ok_or(format!("{} {}", a.status, a.body))
    };
    let first = wait::until(Duration::from_secs(60), seq_now, |last| {
        format!("the engine view never moved: {last}")
    });
    // It keeps following: a later answer is at a later record.
    wait::until(
        Duration::from_secs(60),
        || seq_now().and_then(|s| (s > first).then_some(s).ok_or(format!("still at {s}"))),
        |last| format!("the view stopped at {first}: {last}"),
    );
    let points = api.get("/v1/equity?limit=5", Some(&api.viewer)).json();
    assert!(!points["items"].as_array().unwrap().is_empty(), "{points}");
    let decisions = api.get("/v1/decisions?limit=1000", Some(&api.viewer));
    assert_eq!(decisions.status, 200, "{}", decisions.body);
    // The stream: journal records with resumable ids, as they are written.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut r = reqwest::Client::new()
            .get(format!("{}/v1/events", api.url))
            .bearer_auth(&api.viewer)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let mut text = String::new();
        // One whole `market` event (a bar), with its resumable id.
        let block = loop {
            if let Some(at) = text.find("event: market") {
                if let Some(end) = text[at..].find("\n\n") {
                    break text[at..at + end].to_owned();
                }
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), r.chunk())
                .await
                .expect("an event within 10 s")
                .unwrap()
                .expect("the stream stays open");
            text.push_str(&String::from_utf8_lossy(&chunk));
        };
        assert!(block.contains("\nid: "), "{block}");
        assert!(block.contains("\"type\":\"market.bar\""), "{block}");
    });
    api.sup.stop();
}

#[test]
fn readyz_is_ready_while_the_engine_trades_and_names_the_policy_when_the_kill_switch_halts_it() {
    let tmp = tempfile::tempdir().unwrap();
    let api = start(tmp.path(), FAST, &[]);
    let ready = wait::until(
        Duration::from_secs(60),
        || {
            let a = api.get("/readyz?verbose", None);
            (a.status == 200).then_some(a.body.clone()).ok_or(a.body)
        },
        |b| format!("never ready: {b}"),
    );
    for check in [
        "report",
        "engine",
        "reconciled",
        "policy",
        "overall",
        "trading_allowed",
    ] {
        assert!(ready.contains(&format!("[+]{check} ok")), "{ready}");
    }
    assert!(ready.ends_with("readyz check passed\n"), "{ready}");
    assert_eq!(api.get("/readyz", None).body, "ok\n");
    assert_eq!(api.get("/livez", None).status, 200);
    let a = api.op("POST", "/v1/kill-switch", Some(json!({"reason": "drill"})));
    assert_eq!(a.status, 200, "{}", a.body);
    let not = wait::until(
        Duration::from_secs(30),
        || {
            let a = api.get("/readyz", None);
            (a.status == 503).then_some(a.body.clone()).ok_or(a.body)
        },
        |b| format!("still ready: {b}"),
    );
    assert!(
        not.contains("[-]policy failed: the safety policy is EMERGENCY_SHUTDOWN"),
        "{not}"
    );
    // The API stays up while the engine is halted: alive, and it answers.
    assert_eq!(api.get("/livez", None).status, 200);
    api.sup.stop();
}

/// A reload over HTTP: a mistyped query parameter is refused (400, naming it) and applies
/// nothing — never read as a real reload; an invalid file is a 422 and a key that needs a
/// restart a 409, each in the one error shape with its reasons; a good edit is applied.
#[test]
fn a_reload_over_http_refuses_a_typo_an_invalid_file_and_a_restart_key_in_the_error_shape() {
    let tmp = tempfile::tempdir().unwrap();
    let config = monitor_only(tmp.path(), "");
    let api = start(tmp.path(), &config, &[]);
    wait_health(&api.sup, "a report", |h| policy(h) == "ALLOW_ALL");
    // The hash of the configuration in force, as `ballast status --json` shows it.
    let in_force = |api: &Api| {
        let out = api.sup.cli(&["status", "--json"]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["loaded"]["hash"].as_str().unwrap().to_owned()
    };
    let started = in_force(&api);
    // `/v1/config`'s value of health.cycle_ms, and whether it says the file changed since.
    let shown = |api: &Api| {
        let v = api.get("/v1/config", Some(&api.viewer)).json();
        let value = v["settings"]
            .as_array()
            .unwrap_or_else(|| panic!("{v}"))
            .iter()
            .find(|r| r["section"] == "health" && r["key"] == "cycle_ms")
            .map(|r| r["value"].clone())
            .unwrap();
        (value, v["file_changed"] == true)
    };
    assert_eq!(shown(&api), (Value::from(100), false));
    let file = tmp.path().join("ballast.toml");
    std::fs::write(&file, config.replace("cycle_ms = 100", "cycle_ms = 200")).unwrap();

    assert_eq!(
        shown(&api),
        (Value::from(100), true),
        "the values in force, not the edited file's"
    );
    let typo = api.op("POST", "/v1/config/reload?dryrun=true", None);
    assert_eq!(typo.status, 400, "{}", typo.body);
    let e = typo.error();
    assert_eq!(e["field"], "dryrun", "{e}");
    assert!(e["message"].as_str().unwrap().contains("dry_run"), "{e}");
    assert_eq!(in_force(&api), started, "a typo applied nothing");

    let plan = api.op("POST", "/v1/config/reload?dry_run=true", None);
    assert_eq!(plan.status, 200, "{}", plan.body);
    assert_eq!(in_force(&api), started, "a dry run applied nothing");

    std::fs::write(&file, "[general\nmode=").unwrap();
    let invalid = api.op("POST", "/v1/config/reload", None);
    assert_eq!(invalid.status, 422, "{}", invalid.body);
    let e = invalid.error();
    assert_eq!(e["code"], "invalid_config", "{e}");
    assert!(
        e["message"].as_str().unwrap().contains("ballast.toml:1"),
        "{e}"
    );

    std::fs::write(
        &file,
        config.replace(
            "[engine]\nenabled = false",
            "[engine]\nenabled = false\n[api]\nallow_remote = true",
        ),
    )
    .unwrap();
    let refused = api.op("POST", "/v1/config/reload", None);
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(
        refused.error()["message"]
            .as_str()
            .unwrap()
            .contains("api.allow_remote"),
        "{}",
        refused.body
    );
    assert_eq!(in_force(&api), started, "a refused reload applied nothing");

    std::fs::write(&file, config.replace("cycle_ms = 100", "cycle_ms = 200")).unwrap();
    let applied = api.op("POST", "/v1/config/reload", None);
    assert_eq!(applied.status, 200, "{}", applied.body);
    assert_eq!(applied.json()["outcome"], "applied", "{}", applied.body);
    assert_ne!(in_force(&api), started);
    assert_eq!(shown(&api), (Value::from(200), false));
    api.sup.stop();
}

/// A hostile tester's storm: concurrent releases over HTTP, concurrent `ballast resume`,
/// and concurrent `ballast kill` mixed with resumes. Every writer of `KILL_SWITCH` and
/// `KILL_SWITCH.release` writes its own temp file, so none finds its temp gone: a release
/// answers 200 (or 409 when the policy has nothing left to release), never 500, and no
/// process fails with a bare "No such file or directory".
#[test]
fn concurrent_kills_and_releases_each_succeed_and_never_fail_on_a_shared_temp_file() {
    let tmp = tempfile::tempdir().unwrap();
    let api = start(tmp.path(), &monitor_only(tmp.path(), ""), &[]);
    wait_health(&api.sup, "a report", |h| policy(h) == "ALLOW_ALL");
    let a = api.op("POST", "/v1/kill-switch", Some(json!({"reason": "storm"})));
    assert_eq!(a.status, 200, "{}", a.body);
    wait_health(&api.sup, "emergency", |h| policy(h) == "EMERGENCY_SHUTDOWN");
    let answers: Vec<Answer> = std::thread::scope(|s| {
        let calls: Vec<_> = (0..10)
            .map(|_| s.spawn(|| api.op("DELETE", "/v1/kill-switch", None)))
            .collect();
        calls.into_iter().map(|c| c.join().unwrap()).collect()
    });
    for a in &answers {
        assert!(
            a.status == 200 || a.status == 409,
            "{} {}",
            a.status,
            a.body
        );
    }
    assert!(answers.iter().any(|a| a.status == 200));
    // 8 concurrent `ballast resume` after an engagement.
    let out = api.sup.cli(&["kill", "--reason", "again"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_health(&api.sup, "emergency", |h| policy(h) == "EMERGENCY_SHUTDOWN");
    let storm = |args: Vec<Vec<String>>| -> Vec<(Vec<String>, std::process::Output)> {
        std::thread::scope(|s| {
            let runs: Vec<_> = args
                .into_iter()
                .map(|a| {
                    let sup = &api.sup;
                    s.spawn(move || {
                        let words: Vec<&str> = a.iter().map(String::as_str).collect();
                        let out = sup.cli(&words);
                        (a.clone(), out)
                    })
                })
                .collect();
            runs.into_iter().map(|r| r.join().unwrap()).collect()
        })
    };
    let no_bare_io_error = |runs: &[(Vec<String>, std::process::Output)]| {
        for (args, out) in runs {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                !err.contains("os error") || err.contains(".tmp") || err.contains("KILL_SWITCH"),
                "{args:?}: {err}"
            );
            assert!(
                !err.contains("No such file or directory"),
                "{args:?}: {err}"
            );
        }
    };
    let resumes = storm((0..8).map(|_| vec!["resume".to_owned()]).collect());
    no_bare_io_error(&resumes);
    for (_, out) in &resumes {
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // 30 kills mixed with resumes: every kill engages (exit 0); a resume may be refused
    // by a kill that came after it, but says so in words.
    let mixed = storm(
        (0..30)
            .map(|i| match i % 3 {
                0 => vec!["resume".to_owned()],
                _ => vec!["kill".to_owned(), "--reason".to_owned(), format!("cli{i}")],
            })
            .collect(),
    );
    no_bare_io_error(&mixed);
    for (args, out) in &mixed {
        if args[0] == "kill" {
            assert!(
                out.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path().join("data"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    api.sup.stop();
}

/// A remote bind needs an operator token of the operator's own: a generated one (prefix
/// `bgen_`) is refused wherever `token_file` finds it — this data directory's
/// `run/api.token`, or another instance's `run/api.viewer.token` — with exit 78; a token made
/// with `openssl rand -hex 32` into a 0600 file serves on 0.0.0.0 (port 0, reached on
/// 127.0.0.1).
#[test]
fn a_remote_bind_refuses_a_generated_token_passed_as_token_file_and_serves_an_own_one() {
    let tmp = tempfile::tempdir().unwrap();
    // Another instance's data directory, with its generated tokens.
    let other = tmp.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    let first = start(&other, &monitor_only(&other, ""), &[]);
    assert!(
        first.operator.starts_with("bgen_"),
        "generated tokens are marked"
    );
    first.sup.stop();
    let here = tmp.path().join("here");
    std::fs::create_dir_all(&here).unwrap();
    std::fs::write(here.join("ballast.toml"), monitor_only(&here, "")).unwrap();
    // This directory's own generated token, made by a first (loopback) start.
    let local = start(&here, &monitor_only(&here, ""), &[]);
    local.sup.stop();
    assert!(
        !here.join("data/run/api.addr").exists(),
        "a stop removes run/api.addr"
    );
    let run = |token_file: &Path| {
        let mut c = common::ballast();
        c.env("BALLAST_API__BIND", "0.0.0.0")
            .env("BALLAST_API__ALLOW_REMOTE", "true")
            .env("BALLAST_API__TOKEN_FILE", token_file)
            .args(["run", "--data-dir"])
            .arg(here.join("data"))
            .arg("--config")
            .arg(here.join("ballast.toml"));
        common::output_within(&mut c, 30)
    };
    for file in [
        here.join("data/run/api.token"),
        other.join("data/run/api.viewer.token"),
    ] {
        let out = run(&file);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(78), "{}: {err}", file.display());
        assert!(
            err.contains("generated") && err.contains("openssl rand -hex 32"),
            "{err}"
        );
        let secret = std::fs::read_to_string(&file).unwrap();
        assert!(!err.contains(secret.trim()), "{err}");
    }
    // A token of the operator's own: served on every address, reached on loopback.
    let mine = tmp.path().join("mine.token");
    std::fs::write(&mine, format!("{}\n", "5e".repeat(32))).unwrap();
    std::fs::set_permissions(&mine, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mine_s = mine.display().to_string();
    let api = start(
        &here,
        &monitor_only(&here, ""),
        &[
            ("BALLAST_API__BIND", "0.0.0.0"),
            ("BALLAST_API__ALLOW_REMOTE", "true"),
            ("BALLAST_API__TOKEN_FILE", &mine_s),
        ],
    );
    let port = api.url.rsplit(':').next().unwrap().trim_end_matches('/');
    let a = http(
        "GET",
        &format!("http://127.0.0.1:{port}/v1/health"),
        Some(&"5e".repeat(32)),
        None,
    );
    assert!(
        a.status == 200 || a.status == 503,
        "{} {}",
        a.status,
        a.body
    );
    api.sup.stop();
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &str, found: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            files_containing(&p, needle, found);
        } else if std::fs::read(&p)
            .is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
        {
            found.push(p.display().to_string());
        }
    }
}

/// The hostile tester's secrets: a webhook sink's URL password, the heartbeat URL's `key`, a
/// Telegram token (in the environment, named by `token_env`). A reload's diff of
/// `alerts.sinks` (an array of tables) over HTTP and the CLI — dry run, refused, applied — the
/// ops journal's records, and every file of the data directory (`run/engine-config.json`
/// included) never carry one.
#[test]
fn a_reload_of_alert_sinks_never_shows_a_url_password_or_key_anywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let sinks = |port: u16, sev: &str| {
        format!(
            "[alerts]\nheartbeat_url = \"http://127.0.0.1:1/ping?key=PLANTED-HB-URLKEY\"\n[[alerts.sinks]]\nname = \"h\"\nkind = \"webhook\"\nurl = \"http://user:PLANTED-URLPASS@127.0.0.1:{port}/hook\"\nmin_severity = \"{sev}\"\n[[alerts.sinks]]\nname = \"tg\"\nkind = \"telegram\"\nbase_url = \"http://127.0.0.1:1\"\nchat_id = \"7\"\ntoken_env = \"PLANTED_TG_TOKEN_ENV\"\n"
        )
    };
    let env = [("PLANTED_TG_TOKEN_ENV", "PLANTED-TG-TOKEN")];
    let api = start(
        tmp.path(),
        &monitor_only(tmp.path(), &sinks(18081, "critical")),
        &env,
    );
    wait_health(&api.sup, "a report", |h| policy(h) == "ALLOW_ALL");
    let cfg = tmp.path().join("ballast.toml");
    let mut said = Vec::new();
    // A changed sink: dry run over HTTP and the CLI.
    std::fs::write(&cfg, monitor_only(tmp.path(), &sinks(18082, "warning"))).unwrap();
    let dry = api.op("POST", "/v1/config/reload?dry_run=true", None);
    assert_eq!(dry.status, 200, "{}", dry.body);
    assert!(dry.body.contains("alerts.sinks"), "{}", dry.body);
    said.push(dry.body);
    for args in [
        vec!["reload", "--dry-run"],
        vec!["reload", "--dry-run", "--json"],
    ] {
        let out = api.sup.cli(&args);
        said.push(format!(
            "{args:?} {}{}",
            common::process::text(&out.stdout),
            common::process::text(&out.stderr)
        ));
    }
    // Refused (a key that cannot change live with it), over HTTP and the CLI.
    let refused = monitor_only(tmp.path(), &sinks(18083, "warning")).replace(
        "[engine]\nenabled = false\n",
        "[engine]\nenabled = false\ninbox_quarantine_max_bytes = 12345\n",
    );
    std::fs::write(&cfg, refused).unwrap();
    said.push(api.op("POST", "/v1/config/reload", None).body);
    let out = api.sup.cli(&["reload"]);
    said.push(format!(
        "{}{}",
        common::process::text(&out.stdout),
        common::process::text(&out.stderr)
    ));
    // Applied (sinks cannot change live: the first ones again, a live key changed).
    let live = sinks(18081, "critical").replace("[alerts]\n", "[alerts]\ngroup_wait_secs = 7\n");
    std::fs::write(&cfg, monitor_only(tmp.path(), &live)).unwrap();
    let applied = api.op("POST", "/v1/config/reload", None);
    assert_eq!(applied.status, 200, "{}", applied.body);
    said.push(applied.body);
    api.ops_line(&["config.reloaded", "group_wait_secs"]);
    api.ops_line(&["config.reload_refused", "alerts.sinks"]);
    let ops = api.sup.cli(&["journal", "dump", "--ops"]);
    said.push(common::process::text(&ops.stdout));
    let logs = api.sup.cli(&["logs", "supervisor"]);
    said.push(common::process::text(&logs.stdout));
    for a in ["/v1/config", "/v1/health", "/v1/alerts"] {
        said.push(api.get(a, Some(&api.operator)).body);
    }
    let said = said.join("\n");
    assert!(said.contains("***"), "{said}");
    let data = tmp.path().join("data");
    for s in ["PLANTED-URLPASS", "PLANTED-HB-URLKEY", "PLANTED-TG-TOKEN"] {
        assert!(!said.contains(s), "{s} shown: {said}");
        let mut found = Vec::new();
        files_containing(&data, s, &mut found);
        assert!(found.is_empty(), "{s} kept in {found:?}");
        for f in ["supervisor.out", "supervisor.err"] {
            let t = std::fs::read_to_string(tmp.path().join(f)).unwrap_or_default();
            assert!(!t.contains(s), "{s} in {f}: {t}");
        }
    }
    api.sup.stop();
}

/// A forged log line through the kill reason: a line break, a NUL or another control
/// character is refused with 422 naming `reason` (the CLI: exit 2, said why), nothing engages,
/// and no log or journal of the data directory holds the forged text.
#[test]
fn a_kill_reason_with_a_line_break_or_nul_is_refused_over_http_and_the_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let api = start(tmp.path(), &monitor_only(tmp.path(), ""), &[]);
    wait_health(&api.sup, "a report", |h| policy(h) == "ALLOW_ALL");
    let forged = "x\n2026-12-01T18:21:00.000Z engine: FORGED kill switch RELEASED by admin";
    for reason in [
        forged,
        "x\u{0}FORGED-NUL",
        "x\rFORGED-CR",
        "x\u{7f}FORGED-DEL",
    ] {
        let a = api.op("POST", "/v1/kill-switch", Some(json!({ "reason": reason })));
        assert_eq!(a.status, 422, "{reason:?}: {}", a.body);
        let e = a.error();
        assert_eq!(e["field"], "reason", "{e}");
        assert!(
            e["message"].as_str().unwrap().contains("control character"),
            "{e}"
        );
    }
    let long = "r".repeat(501);
    let a = api.op("POST", "/v1/kill-switch", Some(json!({ "reason": long })));
    assert_eq!(
        (a.status, a.error()["field"].clone()),
        (422, json!("reason"))
    );
    let out = api.sup.cli(&["kill", "--reason", forged]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = common::process::text(&out.stderr);
    assert!(
        err.contains("--reason") && err.contains("control character"),
        "{err}"
    );
    assert!(!tmp.path().join("data/KILL_SWITCH").exists());
    let state = api.get("/v1/kill-switch", Some(&api.viewer)).json();
    assert_eq!(state["requested"], false, "{state}");
    // A clean reason still engages.
    let ok = api.op("POST", "/v1/kill-switch", Some(json!({"reason": "drill"})));
    assert_eq!(ok.status, 200, "{}", ok.body);
    let mut found = Vec::new();
    files_containing(&tmp.path().join("data"), "FORGED", &mut found);
    assert!(found.is_empty(), "the forged text kept in {found:?}");
    api.sup.stop();
}
