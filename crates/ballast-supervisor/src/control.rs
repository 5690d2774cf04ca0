//! The supervisor's local control channel: a Unix stream socket in `run/`, one JSON request line
//! in, one JSON response line out. `ballast status`, `restart` and `reset` use it (an HTTP API
//! can call the same operations later).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::mpsc::{self, Sender};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Request {
    Status,
    Restart {
        service: String,
    },
    Reset {
        service: String,
    },
    /// Run the healer now; `dry_run` only reports the plan.
    Heal {
        dry_run: bool,
    },
    /// The health report (`state/health.json`'s content).
    Health,
    /// Approve or reject a recommendation waiting for an operator.
    Approve {
        id: String,
    },
    Reject {
        id: String,
    },
    /// Leave EMERGENCY_SHUTDOWN (and clear latched protections and operator floors), given a
    /// clean reconciliation and a released kill switch.
    Release,
}

/// One service as `status` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceStatus {
    pub name: String,
    pub state: String,
    pub critical: bool,
    pub pid: Option<i32>,
    pub restarts: u64,
    /// Seconds since the current process started.
    pub uptime_secs: Option<u64>,
    pub last_exit: Option<String>,
    /// Unrequested exits inside the failure budget's window, and the budget.
    pub failures_in_window: usize,
    pub max_restarts: u32,
    /// Age of the service's heartbeat file, if it has one.
    #[serde(default)]
    pub heartbeat_age_ms: Option<u64>,
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Response {
    Status {
        supervisor_pid: u32,
        overall: String,
        services: Vec<ServiceStatus>,
        /// Health and policy summary: overall, score, policy, issues, pending approvals.
        #[serde(default)]
        health: serde_json::Value,
        /// The configuration the supervisor runs: "FILE (how it was chosen)".
        #[serde(default)]
        config: Option<String>,
    },
    Done {
        message: String,
    },
    /// A heal run's report (`heal::Report` as JSON).
    Heal {
        report: serde_json::Value,
    },
    /// The health report.
    Health {
        report: serde_json::Value,
    },
    Error {
        message: String,
    },
}

/// What the server hands to the supervisor loop: a request and where to answer.
pub type Envelope = (Request, Sender<Response>);

/// How long a client waits for an answer.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest request line accepted.
const MAX_LINE: usize = 64 * 1024;

/// Serve `listener` forever on its own thread: each connection's request goes to `to_loop`.
pub fn serve(listener: UnixListener, to_loop: impl Fn(Envelope) -> bool + Send + 'static) {
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let (tx, rx) = mpsc::channel();
            let request = read_request(&conn);
            let answer = match request {
                Ok(req) => {
                    if !to_loop((req, tx)) {
                        return; // the supervisor is gone
                    }
                    rx.recv_timeout(CLIENT_TIMEOUT)
                        .unwrap_or_else(|_| Response::Error {
                            message: "the supervisor did not answer in time".into(),
                        })
                }
                Err(message) => Response::Error { message },
            };
            let mut conn = conn;
            if let Ok(mut line) = serde_json::to_string(&answer) {
                line.push('\n');
                let _ = conn.write_all(line.as_bytes());
            }
        }
    });
}

fn read_request(conn: &UnixStream) -> Result<Request, String> {
    let _ = conn.set_read_timeout(Some(CLIENT_TIMEOUT));
    let mut line = String::new();
    let mut reader = BufReader::new(conn.take_limit());
    reader
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the request: {e}"))?;
    serde_json::from_str(line.trim()).map_err(|e| format!("not a request ({e}): {line:.200}"))
}

trait TakeLimit {
    fn take_limit(&self) -> std::io::Take<&UnixStream>;
}

impl TakeLimit for UnixStream {
    fn take_limit(&self) -> std::io::Take<&UnixStream> {
        std::io::Read::take(self, MAX_LINE as u64)
    }
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
    #[error("talking to the supervisor on {path}: {why}")]
    Protocol { path: String, why: String },
}

/// Send one request to the supervisor listening on `socket`.
pub fn call(socket: &Path, request: &Request) -> Result<Response, ClientError> {
    let path = socket.display().to_string();
    let mut conn = UnixStream::connect(socket).map_err(|source| ClientError::NotRunning {
        path: path.clone(),
        source,
    })?;
    let proto = |why: String| ClientError::Protocol {
        path: path.clone(),
        why,
    };
    let _ = conn.set_read_timeout(Some(CLIENT_TIMEOUT + Duration::from_secs(1)));
    let mut line = serde_json::to_string(request).map_err(|e| proto(e.to_string()))?;
    line.push('\n');
    conn.write_all(line.as_bytes())
        .map_err(|e| proto(e.to_string()))?;
    let mut answer = String::new();
    BufReader::new(&conn)
        .read_line(&mut answer)
        .map_err(|e| proto(e.to_string()))?;
    serde_json::from_str(answer.trim()).map_err(|e| proto(format!("bad answer ({e})")))
}
