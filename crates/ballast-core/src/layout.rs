//! The data directory's names, relative to it (SPEC §1), for the pure core's messages and
//! observations. Only this table and `ballast_store::Layout` (which builds every path from
//! it) spell a path inside the data directory; `crates/ballast/tests/invariants.rs` checks it.

/// Relative paths inside the data directory.
pub mod rel {
    /// Directory of the journals.
    pub const JOURNAL: &str = "journal";
    /// The engine's segmented journal: the source of truth.
    pub const ENGINE_JOURNAL: &str = "journal/engine";
    /// The supervisor's ops journal.
    pub const OPS_JOURNAL: &str = "journal/ops";
    /// The signals accepted over HTTP (`POST /v1/signals`), written by the API with group
    /// commit and taken in order by the engine.
    pub const SIGNALS_JOURNAL: &str = "journal/signals";
    /// Snapshots and the state files.
    pub const STATE: &str = "state";
    /// Lock files, heartbeats, the control socket.
    pub const RUN: &str = "run";
    pub const QUARANTINE: &str = "quarantine";
    pub const LOGS: &str = "logs";
    pub const INBOX: &str = "inbox";
    /// The engine's heartbeat.
    pub const HEARTBEAT: &str = "run/engine.heartbeat";
    /// One engine per data directory.
    pub const ENGINE_LOCK: &str = "run/engine.lock";
    /// One supervisor per data directory.
    pub const SUPERVISOR_LOCK: &str = "run/supervisor.lock";
    /// The configuration in force, as the supervisor hands it to the engine it starts.
    pub const ENGINE_CONFIG: &str = "run/engine-config.json";
    /// The supervisor's control socket.
    pub const CONTROL_SOCKET: &str = "run/supervisor.sock";
    /// The HTTP API's operator token, generated at first start (0600).
    pub const API_TOKEN: &str = "run/api.token";
    /// The HTTP API's read-only viewer token, generated at first start (0600).
    pub const API_VIEWER_TOKEN: &str = "run/api.viewer.token";
    /// The address the HTTP API bound (`http://127.0.0.1:7878`), for scripts and tests.
    pub const API_ADDR: &str = "run/api.addr";
    /// The safety policy the supervisor writes and the engine follows.
    pub const POLICY: &str = "state/policy.json";
    /// The guard limits and risk rules the supervisor's `ballast reload` hands the engine.
    pub const ENGINE_SETTINGS: &str = "state/engine-settings.json";
    /// The health report of the last cycle.
    pub const HEALTH: &str = "state/health.json";
    /// The operator's choice about a reconciliation finding, for the engine to journal.
    pub const RECONCILE_CHOICE: &str = "state/reconcile-choice.json";
    /// The services and checks an operator (or `on_failure = "disable"`) disabled.
    pub const DISABLED: &str = "state/disabled.json";
    /// The request to engage the kill switch.
    pub const KILL_SWITCH: &str = "KILL_SWITCH";
    /// The release `ballast resume` writes.
    pub const KILL_SWITCH_RELEASE: &str = "KILL_SWITCH.release";

    /// The file name (last component) of a relative path of this table.
    pub fn name(rel: &str) -> &str {
        rel.rsplit('/').next().unwrap_or(rel)
    }
}
