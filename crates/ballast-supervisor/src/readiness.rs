//! Readiness and liveness as the shell sees them: the services' sd_notify sockets, the HTTP
//! readiness probe (a small hand-written HTTP/1.1 GET for local probes: the API issue's HTTP
//! stack may replace it), and the heartbeat files' times.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rustix::process::Pid;

use crate::core::HeartbeatSeen;
use crate::main_loop::{Event, Waker};
use crate::{ServiceSpec, SupervisorError, control};

/// The sd_notify socket of every service that uses it, in `run/notify/`, each read by a
/// thread of its own (datagrams beyond the loop's queue are dropped).
pub(crate) fn bind_notify(
    run_dir: &Path,
    services: &[ServiceSpec],
    tx: &Waker,
    log: &mut dyn FnMut(&str),
) -> Result<BTreeMap<String, PathBuf>, SupervisorError> {
    let io = |what, path: &Path| {
        let path = path.display().to_string();
        move |source| SupervisorError::Io { what, path, source }
    };
    let notify_dir = run_dir.join("notify");
    let mut notify_sockets = BTreeMap::new();
    for spec in services.iter().filter(|s| s.notify) {
        ballast_store::storage::create_dirs(&notify_dir, ballast_store::storage::PRIVATE_DIR_MODE)
            .map_err(io("cannot create", &notify_dir))?;
        let path = notify_dir.join(format!("{}.sock", spec.name));
        let _ = std::fs::remove_file(&path);
        let sock = control::with_short_path(&path, |p| std::os::unix::net::UnixDatagram::bind(p))
            .map_err(io("cannot listen for sd_notify on", &path))?;
        let (name, tx) = (spec.name.clone(), tx.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = sock.recv(&mut buf) {
                let message = String::from_utf8_lossy(&buf[..n]).into_owned();
                if !tx.offer(Event::Notify {
                    service: name.clone(),
                    message,
                }) {
                    return;
                }
            }
        });
        if path.as_os_str().len() > control::MAX_SOCKET_PATH {
            log(&format!(
                "warning: {}: its NOTIFY_SOCKET {} is {} bytes, over the {} a socket address holds: `ballast notify` reaches it, but an sd_notify library may not — use a shorter --data-dir if its readiness never arrives",
                spec.name,
                path.display(),
                path.as_os_str().len(),
                control::MAX_SOCKET_PATH
            ));
        }
        notify_sockets.insert(spec.name.clone(), path);
    }
    Ok(notify_sockets)
}

/// The modification time of a heartbeat file, if it exists.
pub(crate) fn heartbeat_mtime(file: &Path) -> Option<SystemTime> {
    std::fs::metadata(file).and_then(|m| m.modified()).ok()
}

/// A heartbeat file as found now, against its time before the process started (a heartbeat
/// is a change from it: file times are coarse, and a service may touch the file before the
/// spawn call returns).
pub(crate) fn heartbeat_seen(file: Option<&Path>, before: Option<SystemTime>) -> HeartbeatSeen {
    let mtime = file.and_then(heartbeat_mtime);
    let fresh = mtime.filter(|m| Some(*m) != before);
    HeartbeatSeen {
        exists: mtime.is_some(),
        fresh: fresh.is_some(),
        age_ms: fresh
            .and_then(|m| m.elapsed().ok())
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
    }
}

/// Age of a service's heartbeat file, for `ballast status`.
pub(crate) fn heartbeat_age_ms(file: Option<&Path>) -> Option<u64> {
    file.and_then(heartbeat_mtime)
        .and_then(|m| m.elapsed().ok())
        .map(|d| d.as_millis() as u64)
}

/// Probe `url` every 100 ms while the process `pid` lives, until it answers 2xx; then report
/// it for start number `start`.
pub(crate) fn probe(url: String, service: String, start: u64, pid: Pid, events: Waker) {
    std::thread::spawn(move || {
        while Path::new(&format!("/proc/{}", pid.as_raw_nonzero())).exists() {
            if http_ok(&url) {
                let _ = events.send(Event::Probed { service, start });
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
}

/// `GET url` over plain HTTP/1.1 (the probe is local): does it answer 2xx within a second?
pub fn http_ok(url: &str) -> bool {
    http_status(url, Duration::from_secs(1)).is_ok_and(|c| (200..300).contains(&c))
}

/// `GET url` over plain HTTP/1.1 within `timeout`: the status code, or why there is none.
pub fn http_status(url: &str, timeout: Duration) -> Result<u16, String> {
    use std::io::{Read, Write};
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url:?} is not a plain http:// URL"))?;
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let addr = if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:80")
    };
    let sock = std::net::ToSocketAddrs::to_socket_addrs(&addr)
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("cannot resolve {addr}"))?;
    let mut conn = std::net::TcpStream::connect_timeout(&sock, timeout)
        .map_err(|e| format!("connect to {addr}: {e}"))?;
    let _ = conn.set_read_timeout(Some(timeout));
    let _ = conn.set_write_timeout(Some(timeout));
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    conn.write_all(req.as_bytes())
        .map_err(|e| format!("send to {addr}: {e}"))?;
    let mut head = [0u8; 32];
    let mut n = 0;
    while n < 12 {
        match conn.read(&mut head[n..]) {
            Ok(0) => break,
            Err(e) => return Err(format!("read from {addr}: {e}")),
            Ok(k) => n += k,
        }
    }
    let line = String::from_utf8_lossy(&head[..n]);
    let mut parts = line.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some(v), Some(code)) if v.starts_with("HTTP/1.") && code.len() == 3 => code
            .parse()
            .map_err(|_| format!("bad status line {line:?}")),
        _ => Err(format!("not an HTTP answer: {line:?}")),
    }
}
