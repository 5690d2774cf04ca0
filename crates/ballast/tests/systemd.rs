//! `ballast run` as systemd's `Type=notify` service (issue 16): under the test's own
//! `NOTIFY_SOCKET` — a datagram socket the test binds and reads, as systemd does — it says
//! `READY=1` once the engine has started (its first heartbeat follows its startup
//! reconciliation), pings `WATCHDOG=1` at half of `WATCHDOG_USEC`, tells its health line as
//! `STATUS=`, and `STOPPING=1` on SIGTERM; its services do not inherit the socket. A socket
//! that is gone does not fail the run. `ballast notify` reaches an abstract address too.
//! Every wait reads the socket with a deadline; none sleeps a fixed time hoping.

mod common;

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{FAST_HEALTH, Sup, ballast, state};

/// Datagrams read from `sock` until `done` holds of all read so far (at most `secs`).
fn read_until(
    sock: &UnixDatagram,
    got: &mut Vec<String>,
    secs: u64,
    what: &str,
    done: impl Fn(&[String]) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut buf = [0u8; 4096];
    while !done(got) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "timed out waiting for {what}; got {got:#?}"
        );
        sock.set_read_timeout(Some(left)).unwrap();
        if let Ok(n) = sock.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
}

fn has(got: &[String], field: &str) -> bool {
    got.iter().any(|m| m.lines().any(|l| l.starts_with(field)))
}

fn environ(pid: u64) -> String {
    String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default())
        .replace('\0', "\n")
}

fn bind(dir: &Path) -> (UnixDatagram, String) {
    let path = dir.join("notify.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    (sock, path.display().to_string())
}

/// A service of the user's that starts after the engine and is ready after one second.
const BOT: &str = "\n[[services]]\nname = \"bot\"\ncommand = \"sh\"\nargs = [\"-c\", \"exec sleep 3600\"]\ndepends_on = [\"engine\"]\nmin_uptime_secs = 1\n";

#[test]
fn ballast_run_tells_systemd_ready_watchdog_status_and_stopping() {
    let tmp = tempfile::tempdir().unwrap();
    let (sock, path) = bind(tmp.path());
    let sup = Sup::start_with_env(
        tmp.path(),
        &format!("{FAST_HEALTH}{BOT}"),
        &[("NOTIFY_SOCKET", &path), ("WATCHDOG_USEC", "200000")],
    );
    let mut got = Vec::new();
    read_until(&sock, &mut got, 60, "READY=1", |g| has(g, "READY=1"));
    // READY=1 came after the engine's startup: it is RUNNING, its heartbeat written.
    let status = sup.status().expect("the supervisor answers");
    assert_eq!(state(&status, "engine"), "RUNNING", "{status}");
    // …and after the services that start after it, once they are ready.
    assert_eq!(state(&status, "bot"), "RUNNING", "{status}");
    assert!(sup.dir.join("data/run/engine.heartbeat").exists());
    let ready = got.iter().find(|m| m.contains("READY=1")).unwrap();
    assert!(
        ready.contains("\nSTATUS=") && ready.contains("policy "),
        "READY=1 comes with the health line: {ready:?}"
    );
    // Before it, at most "starting" lines.
    let before: Vec<_> = got.iter().take_while(|m| !m.contains("READY=1")).collect();
    assert!(
        before
            .iter()
            .all(|m| !m.contains("STATUS=") || m.contains("STATUS=starting")),
        "{before:?}"
    );
    // Watchdog pings keep coming from the loop (every 100 ms: three more within 10 s).
    let pings = |g: &[String]| g.iter().filter(|m| *m == "WATCHDOG=1").count();
    let seen = pings(&got);
    read_until(&sock, &mut got, 10, "three more WATCHDOG=1", |g| {
        pings(g) >= seen + 3
    });
    // The engine does not inherit Ballast's own socket or watchdog.
    let pid = status["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "engine")
        .and_then(|s| s["pid"].as_u64())
        .expect("the engine's pid");
    let env = environ(pid);
    assert!(!env.is_empty(), "the engine's environment is readable");
    assert!(
        !env.contains("NOTIFY_SOCKET=") && !env.contains("WATCHDOG_USEC="),
        "{env}"
    );
    let (code, _) = sup.stop();
    assert!(code.success(), "{code:?}");
    read_until(&sock, &mut got, 5, "STOPPING=1", |g| has(g, "STOPPING=1"));
    let stop_at = got.iter().position(|m| m.contains("STOPPING=1")).unwrap();
    let ready_at = got.iter().position(|m| m.contains("READY=1")).unwrap();
    assert!(stop_at > ready_at);
    assert_eq!(
        got.iter().filter(|m| m.contains("READY=1")).count(),
        1,
        "READY=1 once: {got:#?}"
    );
}

#[test]
fn a_notify_socket_that_is_gone_does_not_fail_the_run_and_is_said_once() {
    let tmp = tempfile::tempdir().unwrap();
    let gone = tmp.path().join("no-such.sock").display().to_string();
    let sup = Sup::start_with_env(
        tmp.path(),
        FAST_HEALTH,
        &[("NOTIFY_SOCKET", &gone), ("WATCHDOG_USEC", "100000")],
    );
    sup.wait_for("the engine running", |s| state(s, "engine") == "RUNNING");
    // Every watchdog ping fails; the log says so once.
    let err = sup.dir.join("supervisor.err");
    common::wait::until(
        Duration::from_secs(30),
        || {
            let log = std::fs::read_to_string(&err).unwrap_or_default();
            if log.contains("cannot send to NOTIFY_SOCKET") {
                Ok(log)
            } else {
                Err(log)
            }
        },
        |log| format!("no warning of the missing socket in the log:\n{log}"),
    );
    let (code, _) = sup.stop();
    assert!(code.success(), "{code:?}");
    let log = std::fs::read_to_string(&err).unwrap();
    assert_eq!(
        log.matches("cannot send to NOTIFY_SOCKET").count(),
        1,
        "said once:\n{log}"
    );
}

#[test]
fn ballast_notify_reaches_an_abstract_address() {
    use std::os::linux::net::SocketAddrExt;
    let name = format!("ballast-test-{}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let sock = UnixDatagram::bind_addr(&addr).unwrap();
    let out = ballast()
        .args(["notify", "READY=1", "STATUS=up"])
        .env("NOTIFY_SOCKET", format!("@{name}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut got = Vec::new();
    read_until(&sock, &mut got, 10, "the message", |g| !g.is_empty());
    assert_eq!(got[0], "READY=1\nSTATUS=up");
}
