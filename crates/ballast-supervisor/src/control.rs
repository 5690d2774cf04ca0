//! The supervisor's local control channel: a Unix stream socket in `run/`, one JSON request line
//! in, one JSON response line out. `ballast status`, `restart` and `reset` use it (an HTTP API
//! can call the same operations later).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::time::{Duration, Instant};

use crate::core::ControlError;
pub use crate::protocol::{
    Actor, ConfigLoaded, HealthSummary, PendingApproval, ReloadAnswer, ReloadChange, Request,
    Response, ServiceStatus,
};

/// What the server hands to the supervisor loop: a request and where to answer.
pub type Envelope = (Request, Sender<Response>);

use crate::limits::CONTROL_ANSWER_MAX_BYTES as MAX_ANSWER;
use crate::limits::CONTROL_CLIENT_TIMEOUT as CLIENT_TIMEOUT;
pub use crate::limits::CONTROL_CONNECTIONS_COUNT as MAX_CONNECTIONS;
use crate::limits::CONTROL_REQUEST_MAX_BYTES as MAX_LINE;
pub use crate::limits::CONTROL_REQUEST_TIMEOUT as REQUEST_TIMEOUT;

/// Serve `listener` on its own thread: each connection on a thread of its own (at most
/// [`MAX_CONNECTIONS`] at once, each bounded by [`REQUEST_TIMEOUT`]), its request handed to
/// `to_loop` — so an idle client never keeps `ballast status` waiting.
pub fn serve(listener: UnixListener, to_loop: impl Fn(Envelope) -> bool + Send + Sync + 'static) {
    let to_loop: Arc<dyn Fn(Envelope) -> bool + Send + Sync> = Arc::new(to_loop);
    let active = Arc::new(AtomicUsize::new(0));
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let _ = conn.set_write_timeout(Some(REQUEST_TIMEOUT));
            if active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
                active.fetch_sub(1, Ordering::SeqCst);
                let busy = ControlError::Busy(format!(
                    "the supervisor is serving {MAX_CONNECTIONS} connections already (its limit); try again in a few seconds — idle connections are dropped after {} s",
                    REQUEST_TIMEOUT.as_secs()
                ));
                reply(&mut conn, &Response::from(busy));
                continue;
            }
            let slot = Slot(Arc::clone(&active));
            let to_loop = Arc::clone(&to_loop);
            let spawned = std::thread::Builder::new()
                .name("control".into())
                .spawn(move || {
                    let _slot = slot;
                    handle(conn, &*to_loop);
                });
            if spawned.is_err() {
                // The thread was not created: its slot was dropped with the closure.
                continue;
            }
        }
    });
}

/// A connection's place among the ones served at once (freed on drop).
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn handle(mut conn: UnixStream, to_loop: &(dyn Fn(Envelope) -> bool + Send + Sync)) {
    let answer = match read_request(&conn, Instant::now() + REQUEST_TIMEOUT) {
        Ok(req) => {
            let (tx, rx) = mpsc::channel();
            if to_loop((req, tx)) {
                rx.recv_timeout(CLIENT_TIMEOUT).unwrap_or_else(|_| {
                    ControlError::Timeout("the supervisor did not answer in time".into()).into()
                })
            } else {
                ControlError::ShuttingDown.into()
            }
        }
        Err(e) => e.into(),
    };
    reply(&mut conn, &answer);
}

fn reply(conn: &mut UnixStream, answer: &Response) {
    if let Ok(mut line) = serde_json::to_string(answer) {
        line.push('\n');
        let _ = conn.write_all(line.as_bytes());
    }
}

/// One request line, read by `deadline` and at most [`MAX_LINE`] bytes.
fn read_request(conn: &UnixStream, deadline: Instant) -> Result<Request, ControlError> {
    let mut line = Vec::new();
    let mut buf = [0u8; 4096];
    let mut reader = conn;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ControlError::Timeout(format!(
                "no complete request within {} s; connection dropped",
                REQUEST_TIMEOUT.as_secs()
            )));
        }
        let _ = conn.set_read_timeout(Some(left));
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(e) => {
                return Err(ControlError::BadRequest(format!(
                    "cannot read the request: {e}"
                )));
            }
        };
        if take_chunk(&mut line, &buf[..n])? {
            break;
        }
    }
    parse_request(&line)
}

/// Add `chunk` (bytes read from a connection) to the request `line` read so far: `true` once
/// the line is whole (its newline seen, not kept). A line over [`MAX_LINE`] bytes is refused
/// however it was cut into chunks — at most [`MAX_LINE`] bytes and one chunk are ever held.
pub fn take_chunk(line: &mut Vec<u8>, chunk: &[u8]) -> Result<bool, ControlError> {
    let end = chunk.iter().position(|b| *b == b'\n');
    line.extend_from_slice(&chunk[..end.unwrap_or(chunk.len())]);
    if line.len() > MAX_LINE {
        return Err(ControlError::BadRequest(format!(
            "the request is longer than {MAX_LINE} bytes; connection dropped"
        )));
    }
    Ok(end.is_some())
}

/// One request line (without its newline) as the supervisor reads it: a newer protocol
/// version is refused by name, anything else that is not a [`Request`] as a bad request.
pub fn parse_request(line: &[u8]) -> Result<Request, ControlError> {
    let text = String::from_utf8_lossy(line);
    crate::protocol::check_version(text.trim()).map_err(ControlError::BadRequest)?;
    serde_json::from_str(text.trim())
        .map_err(|e| ControlError::BadRequest(format!("not a request ({e}): {text:.200}")))
}

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "no supervisor is answering on {path}: {source}\n    help: start it with `ballast run` (with the same --data-dir)"
    )]
    NotRunning {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "no supervisor is answering on {path}, but a Ballast runtime ({}) holds the data directory: {}",
        holder.describe(),
        if holder.command.as_deref().is_some_and(|c| c.contains("--standalone")) {
            "it is a standalone engine, which has no control socket\n    help: stop it (it stops cleanly on SIGTERM) and use `ballast run` for a supervisor".to_owned()
        } else {
            format!(
                "its control socket was removed or replaced\n    help: restart it to get its socket back{}, then `ballast run`",
                holder.pid.map(|p| format!(" (`kill -TERM {p}`: it stops its services cleanly)")).unwrap_or_default()
            )
        }
    )]
    SocketGone {
        path: String,
        #[source]
        source: std::io::Error,
        holder: ballast_store::pidlock::DirHolder,
    },
    #[error("talking to the supervisor on {path}: {why}")]
    Protocol { path: String, why: String },
    /// The supervisor answered `health` with a report this Ballast cannot read (of another
    /// Ballast version, or spoiled).
    #[error(
        "the supervisor on {path} answered with a health report this Ballast cannot read: {why}"
    )]
    UnreadableHealth { path: String, why: String },
}

pub use crate::limits::SOCKET_PATH_MAX_BYTES as MAX_SOCKET_PATH;

/// Call `f` with a path to `path` that a socket address holds: `path` itself when it is at
/// most [`MAX_SOCKET_PATH`] bytes, else `/proc/self/fd/N/NAME` through a descriptor of its
/// directory (the kernel resolves it to the same place) — so a data directory with a long path
/// still binds and reaches its control socket.
pub fn with_short_path<T>(
    path: &Path,
    f: impl FnOnce(&Path) -> std::io::Result<T>,
) -> std::io::Result<T> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    if path.as_os_str().len() <= MAX_SOCKET_PATH {
        return f(path);
    }
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return f(path);
    };
    let dir_fd = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::DIRECTORY.bits() as i32)
        .open(dir)?;
    let short = Path::new(&format!("/proc/self/fd/{}", dir_fd.as_raw_fd())).join(name);
    if short.as_os_str().len() > MAX_SOCKET_PATH {
        return Err(std::io::Error::other(format!(
            "the socket name {} is too long: a socket path holds at most {MAX_SOCKET_PATH} bytes",
            name.to_string_lossy()
        )));
    }
    let r = f(&short);
    drop(dir_fd);
    r
}

/// Send one request to the supervisor listening on `socket`.
pub fn call(socket: &Path, request: &Request) -> Result<Response, ClientError> {
    call_within(socket, request, CLIENT_TIMEOUT + Duration::from_secs(1))
}

/// [`call`], waiting at most `wait` for the answer (`ballast kill` does not wait on a busy
/// supervisor: it writes the kill switch itself).
pub fn call_within(
    socket: &Path,
    request: &Request,
    wait: Duration,
) -> Result<Response, ClientError> {
    let path = socket.display().to_string();
    let mut conn = with_short_path(socket, |p| UnixStream::connect(p)).map_err(|source| {
        // A runtime holds the data directory (`run/..`) but nothing answers: say who.
        let holder = socket
            .parent()
            .and_then(Path::parent)
            .and_then(ballast_store::pidlock::dir_holder);
        match holder {
            Some(holder) => ClientError::SocketGone {
                path: path.clone(),
                source,
                holder,
            },
            None => ClientError::NotRunning {
                path: path.clone(),
                source,
            },
        }
    })?;
    let proto = |why: String| ClientError::Protocol {
        path: path.clone(),
        why,
    };
    let _ = conn.set_read_timeout(Some(wait));
    let mut line = serde_json::to_string(request).map_err(|e| proto(e.to_string()))?;
    line.push('\n');
    conn.write_all(line.as_bytes())
        .map_err(|e| proto(e.to_string()))?;
    let mut answer = Vec::new();
    BufReader::new(Read::take(&conn, MAX_ANSWER + 1))
        .read_until(b'\n', &mut answer)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => proto(format!(
                "no answer within {} (the supervisor is busy or stuck; `ballast logs supervisor` says what it does)",
                ballast_core::time::Human(wait.as_millis() as u64)
            )),
            _ => proto(e.to_string()),
        })?;
    parse_answer(&path, &answer)
}

/// One answer line (with or without its newline) as the CLI reads it from the supervisor
/// listening on `path`: over [`MAX_ANSWER`] bytes, not UTF-8, of a newer protocol version or
/// not a [`Response`] is a protocol error that says which (an unreadable health report has
/// its own error).
pub fn parse_answer(path: &str, answer: &[u8]) -> Result<Response, ClientError> {
    let proto = |why: String| ClientError::Protocol {
        path: path.to_owned(),
        why,
    };
    let answer = answer.strip_suffix(b"\n").unwrap_or(answer);
    if answer.len() as u64 > MAX_ANSWER {
        return Err(proto(format!(
            "the answer is longer than {MAX_ANSWER} bytes, the most this client reads (is the supervisor the same Ballast version?)"
        )));
    }
    let answer = std::str::from_utf8(answer)
        .map_err(|e| proto(format!("the answer is not UTF-8 text ({e})")))?
        .trim();
    crate::protocol::check_version(answer).map_err(proto)?;
    serde_json::from_str(answer).map_err(|e| {
        if crate::protocol::is_health_answer(answer) {
            ClientError::UnreadableHealth {
                path: path.to_owned(),
                why: e.to_string(),
            }
        } else {
            proto(format!("bad answer ({e})"))
        }
    })
}
