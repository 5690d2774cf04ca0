//! The supervisor's bounds, in one place (TigerBeetle's `constants` style: each with its
//! unit in its name or its type, and the relations between them asserted). What an operator
//! sets is in the configuration schema; the core's and the store's bounds are in their own
//! `limits.rs`.

use std::time::Duration;

/// Ops events waiting for the journal writer, at most (beyond it they are counted and `ops.dropped` is journaled).
pub const OPS_QUEUE_COUNT: usize = 4_096;
/// How long the ops journal writer lets a burst of events gather before writing it (one sync).
pub const OPS_BATCH_WAIT: Duration = Duration::from_millis(5);
/// How long a control client (the CLI) waits for an answer.
pub const CONTROL_CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest control request line accepted.
pub const CONTROL_REQUEST_MAX_BYTES: usize = 64 * 1024;
/// The longest control answer line a client reads.
pub const CONTROL_ANSWER_MAX_BYTES: u64 = 16 * 1024 * 1024;
/// Control connections served at once, at most; one more is answered with an error and closed.
pub const CONTROL_CONNECTIONS_COUNT: usize = 16;
/// How long a control connection may take to send its whole request line, and to take the
/// answer: an idle or trickling client is dropped after this, whatever it sends.
pub const CONTROL_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest path a Unix socket address holds (`sun_path`, less its NUL byte).
pub const SOCKET_PATH_MAX_BYTES: usize = 107;
/// Events waiting for the loop, at most. Signals, control requests and probe results wait for
/// room; sd_notify datagrams and heartbeat changes beyond it are dropped (a service flooding
/// its socket cannot grow the supervisor's memory; the heartbeat tick still looks).
pub const EVENT_QUEUE_COUNT: usize = 1_024;
/// Files looked at by the healer's permissions check, at most (the data directory's own files).
pub const PERMISSION_ENTRIES_COUNT: usize = 20_000;
/// History entries `state/health.json` carries, at most (the governor keeps the configured
/// `health.history`).
pub const HEALTH_HISTORY_IN_REPORT_COUNT: usize = 100;
/// The shortest time between two healer sweeps triggered by file events.
pub const EVENT_SWEEP_GAP: Duration = Duration::from_millis(100);
/// The shortest time between two looks at the configuration file after inotify saw it change
/// (an editor saving in a loop is read at most this often).
pub const CONFIG_CHECK_GAP: Duration = Duration::from_secs(1);
/// Inotify watchers reloads may add over a supervisor's life (each watches the heartbeat and
/// declared files that a reload brought; beyond it, the tick and the periodic sweep see them).
pub const RELOAD_WATCHERS_COUNT: usize = 16;
/// How soon after a child's exit the healer sweeps.
pub const CHILD_EXIT_SWEEP: Duration = Duration::from_millis(100);
/// How often liveness and heartbeat readiness are looked at (the heartbeat is a file's mtime).
pub const LIVENESS_TICK: Duration = Duration::from_millis(100);
/// How long a stop's deadline is pushed back once SIGKILL was sent.
pub const AFTER_KILL: Duration = Duration::from_secs(3600);
/// Bytes of a service's log at most: the live file and the rolled ones (`SERVICE_LOG_KEEP_COUNT`).
pub const SERVICE_LOG_MAX_BYTES: u64 = 10 * 1024 * 1024;
/// Rolled log files kept per service.
pub const SERVICE_LOG_KEEP_COUNT: u32 = 3;
/// Names (heal components, services) the metrics' ops counters split by, per counter; past it,
/// new names count under `other`.
pub const OPS_COUNTED_KEYS_COUNT: usize = 256;
/// Listeners the surfaces publish for `ballast status` (the API's, the metrics'); more are not shown.
pub const LISTENING_COUNT: usize = 8;

// A sweep after a child's exit waits no less than the gap between event sweeps (one burst of
// file events and an exit sweep do not double the healer's work), and liveness is looked at
// at least as often as either.
const _: () = assert!(CHILD_EXIT_SWEEP.as_millis() >= EVENT_SWEEP_GAP.as_millis());
const _: () = assert!(LIVENESS_TICK.as_millis() <= EVENT_SWEEP_GAP.as_millis());
// A client waits longer than the server gives a connection, so it hears the server's answer.
const _: () = assert!(CONTROL_CLIENT_TIMEOUT.as_secs() > CONTROL_REQUEST_TIMEOUT.as_secs());
