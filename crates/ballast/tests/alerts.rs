//! Alerts over the real `ballast run` (issue 13 item 8): a supportive service that fails is
//! delivered to a loopback receiver written here (a tiny HTTP server on 127.0.0.1:0 that
//! records every request and can answer 500 or be down), retried after the receiver was
//! down with every failed attempt journaled, deduplicated, resolved when the service runs
//! again, delivered exactly once after a restart, shaped as the Telegram Bot API wants it —
//! and a planted bot token appears in no output, log or journal.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{FAST_HEALTH, Sup, wait};
use serde_json::Value;

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Got {
    path: String,
    body: Value,
}

/// The loopback receiver: records each request; answers 500 while `fail_next` is above 0.
struct Receiver {
    port: u16,
    got: Arc<Mutex<Vec<Got>>>,
    fail_next: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

fn read_request(s: &mut TcpStream) -> Option<Got> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 1 << 20 {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let path = head.split_whitespace().nth(1)?.to_owned();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = serde_json::from_slice(&buf[head_end..head_end + len]).unwrap_or(Value::Null);
    Some(Got { path, body })
}

impl Receiver {
    fn start() -> Receiver {
        Receiver::on(TcpListener::bind("127.0.0.1:0").unwrap())
    }

    fn on(listener: TcpListener) -> Receiver {
        let port = listener.local_addr().unwrap().port();
        let got = Arc::new(Mutex::new(Vec::new()));
        let fail_next = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (g, f, st) = (got.clone(), fail_next.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(mut s) = conn else { continue };
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let Some(req) = read_request(&mut s) else {
                    continue;
                };
                let failing = f
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                if !failing {
                    g.lock().unwrap().push(req);
                }
                let status = if failing {
                    "500 Internal Server Error"
                } else {
                    "200 OK"
                };
                let _ = s.write_all(
                    format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        .as_bytes(),
                );
            }
        });
        Receiver {
            port,
            got,
            fail_next,
            stop,
        }
    }

    fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }

    /// Wait until a request satisfies `cond` (at most 30 s).
    fn wait(&self, what: &str, cond: impl Fn(&Got) -> bool) -> Got {
        wait::until(
            Duration::from_secs(30),
            || self.got().into_iter().find(|g| cond(g)).ok_or(()),
            |()| format!("the receiver never got {what}; it got {:?}", self.got()),
        )
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// A supportive service that fails at once (no restarts) until `dir/ok` exists, then runs.
fn flaky(dir: &Path) -> String {
    format!(
        "[[services]]\nname = \"flaky\"\nkind = \"supportive\"\ncommand = \"/bin/sh\"\nargs = [\"-c\", \"test -f {ok} && exec sleep 1000; exit 3\"]\nmax_restarts = 0\nrestart_delay_ms = 0\nmin_uptime_secs = 0\n",
        ok = dir.join("ok").display()
    )
}

const ALERTS: &str = "[alerts]\ngroup_wait_secs = 0\ngroup_interval_secs = 1\nrepeat_interval_secs = 3600\nretry_base_ms = 50\nretry_max_ms = 200\nretry_max_attempts = 100\ntimeout_ms = 1000\n";

fn config(dir: &Path, sinks: &str) -> String {
    format!(
        "[engine]\nenabled = false\n{FAST_HEALTH}{ALERTS}{sinks}\n{}",
        flaky(dir)
    )
}

fn webhook(port: u16) -> String {
    format!(
        "[[alerts.sinks]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:{port}/hook\"\n"
    )
}

fn is_flaky(a: &Value) -> bool {
    a["key"]
        .as_str()
        .is_some_and(|k| k.contains("service:flaky"))
}

fn firing_flaky(g: &Got) -> bool {
    g.body["status"] == "firing"
        && g.body["alerts"]
            .as_array()
            .is_some_and(|a| a.iter().any(is_flaky))
}

fn resolved_flaky(g: &Got) -> bool {
    g.body["status"] == "resolved"
        && g.body["alerts"]
            .as_array()
            .is_some_and(|a| a.iter().any(is_flaky))
}

/// `(type, body)` of the ops journal's alert records.
fn alert_records(data: &Path) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let _ = ballast_store::journal::scan(
        &ballast_store::RealStorage,
        &data.join("journal/ops"),
        &mut |r| {
            if r.kind.starts_with("alert.") {
                out.push((
                    r.kind.to_string(),
                    serde_json::from_str(r.body.get()).unwrap_or(Value::Null),
                ));
            }
            Ok(())
        },
    );
    out
}

fn wait_records(data: &Path, what: &str, cond: impl Fn(&[(String, Value)]) -> bool) {
    wait::until(
        Duration::from_secs(30),
        || {
            let r = alert_records(data);
            if cond(&r) { Ok(()) } else { Err(r) }
        },
        |r| format!("the ops journal never had {what}: {r:?}"),
    );
}

fn alerts_subsystem(h: &Value) -> Value {
    h["subsystems"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == "alerts").cloned())
        .unwrap_or(Value::Null)
}

/// The health report's time, to let the supervisor's own clock pass `ms` (several group
/// intervals) while its cycles keep running — waiting on the system, not a sleep.
fn let_cycles_pass(sup: &Sup, ms: i64) {
    let at = |s: &Sup| {
        common::health(s)
            .and_then(|h| h["at"].as_str().map(str::to_owned))
            .and_then(|t| ballast_core::Timestamp::parse_rfc3339(&t).ok())
    };
    let start = wait::until(
        Duration::from_secs(30),
        || at(sup).ok_or(()),
        |()| "no health report".into(),
    );
    wait::until(
        Duration::from_secs(30),
        || match at(sup) {
            Some(t) if t.ms_since(start) >= ms => Ok(()),
            _ => Err(()),
        },
        |()| format!("the health report's time did not pass {ms} ms"),
    );
}

#[test]
fn a_failing_service_is_alerted_once_per_group_interval_and_resolved_when_it_runs_again() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let rx = Receiver::start();
    let sup = Sup::start(dir, &config(dir, &webhook(rx.port)));
    let fired = rx.wait("the firing alert", firing_flaky);
    assert_eq!(fired.path, "/hook");
    let a = fired.body["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| is_flaky(a))
        .unwrap()
        .clone();
    assert_eq!(a["severity"], "warning", "{a}");
    assert!(
        a["title"].as_str().unwrap().contains("service:flaky"),
        "{a}"
    );
    assert!(
        a["started_at"].is_string() && a["ended_at"].is_null(),
        "{a}"
    );
    assert!(fired.body["id"].is_string(), "{}", fired.body);
    // The same condition on every 100 ms cycle, for several group intervals: one notification.
    let_cycles_pass(&sup, 3_000);
    let firing = rx.got().into_iter().filter(firing_flaky).count();
    assert_eq!(firing, 1, "deduplicated: {:?}", rx.got());
    // The service runs again: the alert is resolved, with its end.
    std::fs::write(dir.join("ok"), "").unwrap();
    let out = sup.cli(&["reset", "flaky"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let resolved = rx.wait("the resolved message", resolved_flaky);
    let a = resolved.body["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| is_flaky(a))
        .unwrap()
        .clone();
    assert!(a["ended_at"].is_string(), "{a}");
    let data = dir.join("data");
    wait_records(&data, "raised, resolved and their deliveries", |r| {
        ["alert.raised", "alert.resolved", "alert.delivered"]
            .iter()
            .all(|k| r.iter().any(|(kind, _)| kind == k))
    });
    let h = common::health(&sup).unwrap();
    let alerts = alerts_subsystem(&h).to_string();
    assert!(alerts.contains("every sink reached"), "{alerts}");
}

#[test]
fn a_receiver_that_answers_500_gets_the_alert_after_retries_and_each_failure_is_journaled() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let rx = Receiver::start();
    rx.fail_next.store(3, Ordering::SeqCst);
    let _sup = Sup::start(dir, &config(dir, &webhook(rx.port)));
    let fired = rx.wait(
        "the firing alert after the receiver came back",
        firing_flaky,
    );
    let id = fired.body["id"].as_str().unwrap().to_owned();
    let data = dir.join("data");
    wait_records(&data, "three failed attempts and the delivery", |r| {
        let of = |kind: &str| {
            r.iter()
                .filter(|(k, b)| k == kind && b["id"] == id.as_str())
                .map(|(_, b)| b.clone())
                .collect::<Vec<_>>()
        };
        let failed = of("alert.failed");
        let delivered = of("alert.delivered");
        failed.len() == 3
            && failed.iter().all(|b| {
                b["reason"].as_str().is_some_and(|r| r.contains("HTTP 500"))
                    && b["gave_up"] == false
            })
            && delivered.len() == 1
            && delivered[0]["attempt"] == 4
    });
    assert_eq!(rx.got().into_iter().filter(firing_flaky).count(), 1);
}

#[test]
fn an_alert_raised_while_the_receiver_is_down_arrives_once_after_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // A port nobody listens on: connections are refused.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = config(dir, &webhook(port));
    let sup = Sup::start(dir, &cfg);
    let data = dir.join("data");
    wait_records(&data, "a raised alert and failed attempts", |r| {
        r.iter().any(|(k, _)| k == "alert.raised")
            && r.iter().filter(|(k, _)| k == "alert.failed").count() >= 2
    });
    // A notifier outage shows in health (and only there: trading is not affected).
    let h = common::wait_health(&sup, "the alerts subsystem DEGRADED", |h| {
        alerts_subsystem(h)["status"] == "DEGRADED"
    });
    let detail = alerts_subsystem(&h).to_string();
    assert!(detail.contains("hook: request failed"), "{detail}");
    assert!(
        detail.contains("Connection refused"),
        "the cause, in words: {detail}"
    );
    assert!(
        !detail.contains(&port.to_string()),
        "no URL in the reason: {detail}"
    );
    let (status, _) = sup.stop();
    assert!(status.success());
    let raised: Vec<String> = alert_records(&data)
        .into_iter()
        .filter(|(k, _)| k == "alert.raised")
        .map(|(_, b)| b["id"].as_str().unwrap().to_owned())
        .collect();
    // The receiver is up on that port now, and the supervisor starts again.
    let rx = Receiver::on(TcpListener::bind(("127.0.0.1", port)).unwrap());
    let sup = Sup::start(dir, &cfg);
    let got = rx.wait("the alert raised before the restart", |g| {
        g.body["id"]
            .as_str()
            .is_some_and(|id| raised.iter().any(|r| r == id))
    });
    let id = got.body["id"].as_str().unwrap().to_owned();
    wait_records(&data, "its delivery", |r| {
        r.iter()
            .any(|(k, b)| k == "alert.delivered" && b["id"] == id.as_str())
    });
    let_cycles_pass(&sup, 3_000);
    let of_id = rx
        .got()
        .into_iter()
        .filter(|g| g.body["id"] == id.as_str())
        .count();
    assert_eq!(of_id, 1, "exactly once: {:?}", rx.got());
    assert_eq!(
        rx.got().into_iter().filter(firing_flaky).count(),
        1,
        "the alert in force is not raised again after the restart: {:?}",
        rx.got()
    );
}

/// Every file under `dir`, as text.
fn all_text(dir: &Path) -> String {
    let mut out = String::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(b) = std::fs::read(&p) {
                out.push_str(&String::from_utf8_lossy(&b));
            }
        }
    }
    out
}

#[test]
fn telegram_gets_send_message_with_chat_id_and_text_and_the_token_never_leaks() {
    const TOKEN: &str = "987654:PLANTED-bot-token-never-shown";
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let rx = Receiver::start();
    rx.fail_next.store(1, Ordering::SeqCst);
    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sinks = format!(
        "[[alerts.sinks]]\nname = \"tg\"\nkind = \"telegram\"\nbase_url = \"http://127.0.0.1:{}\"\nchat_id = \"-10042\"\ntoken_env = \"BALLAST_TEST_TG_TOKEN\"\n[[alerts.sinks]]\nname = \"tg-down\"\nkind = \"telegram\"\nbase_url = \"http://127.0.0.1:{dead}/\"\nchat_id = \"7\"\ntoken_env = \"BALLAST_TEST_TG_TOKEN\"\n[[alerts.sinks]]\nkind = \"log\"\n",
        rx.port
    );
    let sup = Sup::start_with_env(
        dir,
        &config(dir, &sinks),
        &[("BALLAST_TEST_TG_TOKEN", TOKEN)],
    );
    let got = rx.wait("sendMessage", |g| {
        g.body["text"]
            .as_str()
            .is_some_and(|t| t.contains("FIRING"))
    });
    assert_eq!(got.path, format!("/bot{TOKEN}/sendMessage"));
    assert_eq!(got.body["chat_id"], "-10042");
    assert!(
        got.body["text"].as_str().unwrap().contains("service:flaky"),
        "{}",
        got.body
    );
    let data = dir.join("data");
    // The sink that is down fails with a connection error (reqwest puts the URL, and so the
    // token, in those), and the 500 answer is journaled.
    wait_records(&data, "failures of both telegram sinks", |r| {
        let failed = |s: &str| r.iter().any(|(k, b)| k == "alert.failed" && b["sink"] == s);
        failed("tg-down") && failed("tg")
    });
    wait::until(
        Duration::from_secs(30),
        || {
            let log = std::fs::read_to_string(dir.join("supervisor.err")).unwrap_or_default();
            if log.contains("ALERT [FIRING]") {
                Ok(())
            } else {
                Err(log)
            }
        },
        |log| format!("the log sink never wrote the alert: {log}"),
    );
    let mut outputs = vec![all_text(&data), all_text(dir)];
    for args in [
        vec!["status", "--json"],
        vec!["health", "--json"],
        vec!["status"],
        vec!["journal", "dump", "--ops"],
    ] {
        let out = sup.cli(&args);
        outputs.push(String::from_utf8_lossy(&out.stdout).to_string());
        outputs.push(String::from_utf8_lossy(&out.stderr).to_string());
    }
    let show = common::ballast()
        .env("BALLAST_TEST_TG_TOKEN", TOKEN)
        .args(["config", "show", "--config"])
        .arg(dir.join("ballast.toml"))
        .output()
        .unwrap();
    outputs.push(String::from_utf8_lossy(&show.stdout).to_string());
    outputs.push(String::from_utf8_lossy(&show.stderr).to_string());
    let secret = "PLANTED-bot-token";
    for (i, o) in outputs.iter().enumerate() {
        assert!(!o.contains(secret), "output {i} shows the token:\n{o}");
    }
    assert!(
        outputs[0].contains("alert.failed"),
        "the journal was searched"
    );
    assert!(
        outputs.iter().any(|o| o.contains("alert.raised")),
        "ballast journal dump --ops"
    );
}

#[test]
fn the_dead_man_s_switch_pings_the_heartbeat_url_while_ballast_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let rx = Receiver::start();
    rx.fail_next.store(1, Ordering::SeqCst);
    let keys = format!(
        "heartbeat_url = \"http://127.0.0.1:{}/ping/abc\"\nheartbeat_every_secs = 1\n",
        rx.port
    );
    let cfg = config(dir, &keys);
    let sup = Sup::start(dir, &cfg);
    // The first ping is answered 500 (said in the log), the next ones are counted.
    wait::until(
        Duration::from_secs(30),
        || {
            let n = rx.got().iter().filter(|g| g.path == "/ping/abc").count();
            if n >= 2 { Ok(()) } else { Err(n) }
        },
        |n| format!("{n} ping(s) answered"),
    );
    let (status, _) = sup.stop();
    assert!(status.success());
    let log = std::fs::read_to_string(dir.join("supervisor.err")).unwrap();
    assert!(
        log.contains("dead-man's switch heartbeat was answered HTTP 500"),
        "{log}"
    );
    assert!(log.contains("heartbeat is answered again"), "{log}");
}

#[test]
fn an_unresolved_group_escalates_to_the_critical_sink_and_slack_gets_text() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let rx = Receiver::start();
    let sinks = format!(
        "{}[[alerts.sinks]]\nname = \"pager\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:{p}/pager\"\nmin_severity = \"critical\"\n[[alerts.sinks]]\nkind = \"slack\"\nurl = \"http://127.0.0.1:{p}/slack\"\n",
        webhook(rx.port),
        p = rx.port
    );
    let cfg = config(dir, &sinks).replace(
        "repeat_interval_secs = 3600",
        "repeat_interval_secs = 1\nescalate_after = 2",
    );
    let _sup = Sup::start(dir, &cfg);
    // Routing by severity: the warning goes to the hook and Slack, not to the pager...
    rx.wait("the first firing", firing_flaky);
    let slack = rx.wait("the Slack text", |g| g.path == "/slack");
    let text = slack.body["text"].as_str().unwrap();
    assert!(
        text.starts_with("[FIRING] warning (service:flaky)"),
        "{text}"
    );
    // ... until two repeats unresolved: one severity up, to the pager too.
    let page = rx.wait("the escalated page", |g| g.path == "/pager");
    assert_eq!(page.body["escalated"], true, "{}", page.body);
    assert_eq!(page.body["severity"], "critical");
    assert_eq!(page.body["repeat"], 2);
    // The hook had the same three (its repeat 2 may land just after the page: one round).
    rx.wait("the hook's repeat 2", |g| {
        g.path == "/hook" && g.body["repeat"] == 2
    });
    let before: Vec<i64> = rx
        .got()
        .iter()
        .filter(|g| g.path == "/hook" && firing_flaky(g))
        .map(|g| g.body["repeat"].as_i64().unwrap())
        .collect();
    assert_eq!(&before[..3], &[0, 1, 2], "{before:?}");
}

#[test]
fn a_frozen_engine_raises_bot_silent_and_its_return_resolves_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let rx = Receiver::start();
    let cfg = format!(
        "{FAST_HEALTH}{ALERTS}bot_silent_after_secs = 2\n{}[[alerts.sinks]]\nname = \"pager\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:{}/pager\"\nmin_severity = \"critical\"\n",
        "", rx.port
    );
    let sup = Sup::start(dir, &cfg);
    let s = sup.wait_for("the engine's pid", |s| {
        Sup::service(s, "engine")["state"] == "RUNNING" && Sup::service(s, "engine")["pid"].is_i64()
    });
    let pid = Sup::service(&s, "engine")["pid"].as_i64().unwrap() as i32;
    let p = rustix::process::Pid::from_raw(pid).unwrap();
    let silent = |g: &Got| {
        g.body["alerts"]
            .as_array()
            .is_some_and(|a| a.iter().any(|a| a["key"] == "bot_silent"))
    };
    assert!(
        !rx.got().iter().any(silent),
        "a beating engine is not silent"
    );
    rustix::process::kill_process(p, rustix::process::Signal::STOP).unwrap();
    let got = rx.wait("bot silent", |g| silent(g) && g.body["status"] == "firing");
    let a = got.body["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["key"] == "bot_silent")
        .unwrap()
        .clone();
    assert_eq!(a["severity"], "critical");
    assert!(
        a["text"].as_str().unwrap().contains("last heartbeat"),
        "{a}"
    );
    rustix::process::kill_process(p, rustix::process::Signal::CONT).unwrap();
    rx.wait("bot silent resolved", |g| {
        silent(g) && g.body["status"] == "resolved"
    });
}

#[test]
fn a_receiver_that_never_answers_holds_neither_the_start_nor_the_loop() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // Accepts connections (the kernel's backlog) and never answers a byte.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let cfg = config(dir, &webhook(port)).replace("timeout_ms = 1000", "timeout_ms = 60000");
    let sup = Sup::start(dir, &cfg);
    let data = dir.join("data");
    wait_records(&data, "the raised alert", |r| {
        r.iter().any(|(k, _)| k == "alert.raised")
    });
    // The delivery waits up to 60 s for an answer; control and health cycles go on meanwhile.
    let t = std::time::Instant::now();
    assert!(sup.status().is_some());
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "status took {:?}",
        t.elapsed()
    );
    let_cycles_pass(&sup, 1_500);
    assert!(
        !alert_records(&data)
            .iter()
            .any(|(k, _)| k == "alert.delivered"),
        "nothing answered, nothing delivered"
    );
    let t = std::time::Instant::now();
    let (status, _) = sup.stop();
    assert!(status.success());
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "the stop took {:?}",
        t.elapsed()
    );
    drop(silent);
}

#[test]
fn a_reloaded_group_wait_applies_live_and_a_changed_sink_is_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let rx = Receiver::start();
    let slow =
        config(dir, &webhook(rx.port)).replace("group_wait_secs = 0", "group_wait_secs = 3600");
    let sup = Sup::start(dir, &slow);
    let data = dir.join("data");
    // The service is FAILED (its issue is in the health report) but the group waits an hour.
    common::wait_health(&sup, "the flaky service's issue", |h| {
        h["issues"].as_array().is_some_and(|i| {
            i.iter()
                .any(|i| i["id"] == "service:flaky/state" && i["status"] == "FAILED")
        })
    });
    assert!(!rx.got().iter().any(firing_flaky), "{:?}", rx.got());
    // A sink's change cannot apply live: refused by name, nothing changes.
    let cfg = dir.join("ballast.toml");
    std::fs::write(&cfg, slow.replace("name = \"hook\"", "name = \"hook2\"")).unwrap();
    let out = sup.cli(&["reload"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("alerts.sinks cannot change while Ballast runs"),
        "{said}"
    );
    // The group wait can: from the next cycle the alert goes out.
    std::fs::write(&cfg, config(dir, &webhook(rx.port))).unwrap();
    let out = sup.cli(&["reload"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("alert grouping"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let got = rx.wait("the alert after the reload", firing_flaky);
    assert_eq!(got.path, "/hook");
    assert!(
        alert_records(&data)
            .iter()
            .any(|(k, _)| k == "alert.raised")
    );
}
