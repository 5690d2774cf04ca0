//! The control protocol's messages (`run/supervisor.sock`: one JSON line each way), one type
//! for the requests and one for the answers, used by the supervisor and by the CLI alike —
//! nobody reads them back by indexing a JSON value.
//!
//! Versioned: this is version [`VERSION`]. A message may say `"v": N`; version 1 is written
//! without it (so its lines are the ones Ballast always wrote), and a reader refuses a newer
//! version by name instead of misreading it.

use ballast_core::Timestamp;
use ballast_store::files::health::HealthFile;
use serde::{Deserialize, Serialize};

/// The protocol version this Ballast speaks.
pub const VERSION: u32 = 1;

/// Why a line is refused before it is read as a message: it is of a newer protocol version.
pub fn check_version(line: &str) -> Result<(), String> {
    #[derive(Deserialize)]
    struct Version {
        #[serde(default)]
        v: Option<u32>,
    }
    match serde_json::from_str::<Version>(line) {
        Ok(Version { v: Some(v) }) if v > VERSION => Err(format!(
            "the message is of control protocol version {v}; this Ballast speaks version {VERSION}: use the same Ballast version for the supervisor and the CLI"
        )),
        _ => Ok(()),
    }
}

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
    /// Disable a supportive service (stopped, kept stopped) or check (not run) until
    /// `Enable`; it shows DISABLED and is not counted in the health.
    Disable {
        name: String,
    },
    Enable {
        name: String,
    },
    /// Read the configuration file again, validate it and apply the plan, all or nothing;
    /// `dry_run` only answers the plan.
    Reload {
        dry_run: bool,
    },
    /// Run a health cycle now and answer its report (`POST /v1/health/check`).
    HealthCheck,
    /// Engage the kill switch as `ballast kill` does (the same function writes the file);
    /// `by` is who the file names (`ballast kill`, `api`), set by the caller's side, never
    /// taken from an HTTP body.
    Kill {
        reason: String,
        #[serde(default)]
        flatten: bool,
        by: String,
    },
    /// An operator's choice about an open reconciliation finding (`ballast reconcile
    /// adopt|flatten|stay`, `POST /v1/reconciliation/{finding}/{choice}`), named by its id or
    /// its symbol: judged on the engine's last report and written to
    /// `state/reconcile-choice.json`, which the engine journals (`reconcile.resolve`) at its
    /// next pass. `by` is who chose (`cli`, `api operator from …`), set by the caller's side.
    Reconcile {
        finding: String,
        choice: ballast_core::reconcile::Choice,
        reason: String,
        by: String,
        /// The finding as the operator saw it; refused as a conflict when the engine's last
        /// report differs (absent: the finding of the last report is what it is bound to).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seen: Option<ballast_core::reconcile::Seen>,
    },
}

/// Who asked for a control request, journaled with every control action: the CLI over the
/// control socket, or the HTTP API with the caller's role and remote address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// `cli` (the control socket) or `api`.
    pub via: String,
    /// The API caller's role (`operator`, `viewer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The API caller's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
}

impl Actor {
    /// The control socket's caller (only this user can reach it).
    pub fn cli() -> Actor {
        Actor {
            via: "cli".into(),
            ..Actor::default()
        }
    }
}

impl Request {
    /// The control action a request is, as journaled (`restart`, `approve`, …) with what it
    /// names; `None` for a read (`status`, `health`, a dry run).
    pub fn action(&self) -> Option<(&'static str, Option<&str>)> {
        Some(match self {
            Request::Status | Request::Health => return None,
            Request::Heal { dry_run: true } | Request::Reload { dry_run: true } => return None,
            Request::Heal { dry_run: false } => ("heal", None),
            Request::Reload { dry_run: false } => ("reload", None),
            Request::Restart { service } => ("restart", Some(service)),
            Request::Reset { service } => ("reset", Some(service)),
            Request::Approve { id } => ("approve", Some(id)),
            Request::Reject { id } => ("reject", Some(id)),
            Request::Release => ("release", None),
            Request::Disable { name } => ("disable", Some(name)),
            Request::Enable { name } => ("enable", Some(name)),
            Request::HealthCheck => ("health_check", None),
            Request::Kill { reason, .. } => ("kill", Some(reason)),
            Request::Reconcile { finding, .. } => ("reconcile", Some(finding)),
        })
    }
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
    /// A fallback service started now: the service it covers for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub covering: Option<String>,
    /// A service whose fallback is covering for it now: that fallback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub covered_by: Option<String>,
}

/// An operator surface and where it listens (`metrics`, `http://127.0.0.1:7879/metrics`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listening {
    pub name: String,
    pub url: String,
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
        health: Box<HealthSummary>,
        /// The configuration the supervisor runs: "FILE (how it was chosen)".
        #[serde(default)]
        config: Option<String>,
        /// Its hash, when it was loaded, and the last reload's outcome.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        loaded: Option<ConfigLoaded>,
        /// What the operator surfaces listen on (the ports actually bound).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        listening: Vec<Listening>,
        /// The HTTP API's URL, once it listens (`http://127.0.0.1:7878`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        api: Option<String>,
    },
    /// A reload's plan and what became of it.
    Reload(Box<ReloadAnswer>),
    Done {
        message: String,
    },
    /// A heal run's report.
    Heal {
        report: Box<crate::heal::Report>,
    },
    /// The health report: `state/health.json`'s type, its members sorted as there.
    Health {
        #[serde(with = "health_answer")]
        report: HealthFile,
    },
    Error {
        message: String,
        /// The refusal's class ([`crate::core::ControlError::code`]), so the HTTP API answers
        /// its status; absent from an older supervisor.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<String>,
    },
}

/// The configuration in force, as `ballast status` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConfigLoaded {
    /// The file's hash (`crc32c:` and 8 hex digits of its bytes; `built-in` without a file).
    pub hash: String,
    pub loaded_at: Option<Timestamp>,
    /// The last reload: `applied at …`, `refused at …: …`, `invalid at …: N errors`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_reload: Option<String>,
}

/// One changed key of a reload: its old and new value as JSON text (a secret as `***`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReloadChange {
    pub key: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

/// What a reload answers: `outcome` is `applied`, `unchanged`, `dry_run`, `refused` (a key
/// that cannot change live), `invalid` (the file does not validate) or `failed` (writing the
/// engine's settings failed: nothing was applied).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReloadAnswer {
    pub outcome: String,
    pub file: Option<String>,
    pub hash: Option<String>,
    pub diff: Vec<ReloadChange>,
    /// What each change takes, in words (`restart service bot`, `engine settings`).
    pub actions: Vec<String>,
    /// The keys refused, each in the words the operator sees.
    pub refused: Vec<String>,
    /// Every validation error, as `ballast check` prints it (file:line:col: message).
    pub errors: Vec<String>,
    /// What became of it, in one line.
    pub message: String,
}

/// The health and policy summary `ballast status` shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthSummary {
    /// One line per open issue (`SEVERITY id: symptoms — effect`); absent before a report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issues: Option<Vec<String>>,
    /// The overall status; absent before a report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overall: Option<String>,
    /// Recommendations waiting for an operator.
    pub pending: Vec<PendingApproval>,
    /// The safety policy in force.
    pub policy: String,
    /// Where the policy goes next by itself (the hysteresis countdown), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_outlook: Option<String>,
    pub policy_reason: String,
    /// The health score 0–100; absent before a report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<u32>,
    /// The disabled services and checks: `KIND NAME: REASON (by BY)`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub disabled: Vec<String>,
    /// What is wrong with the disabled list (`state/disabled.json`): a damaged, newer or
    /// unreadable file, an entry refused (a critical module) or listed twice.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub disabled_problems: Vec<String>,
}

impl HealthSummary {
    /// The disabled modules, then the problems of their list, as `ballast status` prints
    /// them (`disabled: …`, `disabled list: …`).
    pub fn disabled_lines(&self) -> impl Iterator<Item = String> + '_ {
        let problems = self.disabled_problems.iter();
        let modules = self.disabled.iter().map(|d| format!("disabled: {d}"));
        modules.chain(problems.map(|p| format!("disabled list: {p}")))
    }
}

/// A recommendation waiting for an operator, as `status` lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PendingApproval {
    pub expected: String,
    pub expires: Option<Timestamp>,
    pub id: String,
    pub risks: String,
}

/// Whether an answer line that did not read as a [`Response`] is a health answer (its report
/// then is what could not be read).
pub fn is_health_answer(line: &str) -> bool {
    #[derive(Deserialize)]
    struct Tag {
        result: String,
    }
    serde_json::from_str::<Tag>(line).is_ok_and(|t| t.result == "health")
}

/// The health report on the wire: written through a JSON value, so its members are sorted at
/// every level exactly as `state/health.json` and every answer before this type; read as a
/// health cycle's report, or else as the pending form written before the first cycle.
mod health_answer {
    use ballast_store::files::VERSION;
    use ballast_store::files::health::{HealthFile, HealthReport, Pending};
    use serde::de::Error as _;
    use serde::ser::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(report: &HealthFile, s: S) -> Result<S::Ok, S::Error> {
        serde_json::to_value(report)
            .map_err(S::Error::custom)?
            .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<HealthFile, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        let full = match serde_json::from_value::<HealthReport>(value.clone()) {
            // A newer format is refused by name, as `state/health.json`'s reader does.
            Ok(HealthReport {
                version: Some(v), ..
            }) if v > VERSION => {
                return Err(D::Error::custom(format!(
                    "the report is of format version {v}; this Ballast reads version {VERSION}"
                )));
            }
            Ok(r) => return Ok(HealthFile::Report(Box::new(r))),
            Err(e) => e,
        };
        serde_json::from_value::<Pending>(value)
            .map(HealthFile::Pending)
            .map_err(|_| {
                D::Error::custom(format!(
                    "the report is neither a health cycle's report ({full}) nor the pending form written before the first cycle"
                ))
            })
    }
}

impl From<crate::core::ControlError> for Response {
    /// A refusal on the wire: its words, as the error renders them.
    fn from(e: crate::core::ControlError) -> Response {
        Response::Error {
            message: e.to_string(),
            code: Some(e.code().to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_1_lines_are_the_ones_ballast_always_wrote_and_a_newer_version_is_refused() {
        let line = serde_json::to_string(&Request::Restart {
            service: "bot".into(),
        })
        .unwrap();
        assert_eq!(line, r#"{"cmd":"restart","service":"bot"}"#);
        assert!(check_version(&line).is_ok());
        assert!(check_version(r#"{"v":1,"cmd":"status"}"#).is_ok());
        let newer = check_version(r#"{"v":2,"cmd":"status"}"#).unwrap_err();
        assert!(
            newer.contains("version 2") && newer.contains("version 1"),
            "{newer}"
        );
    }

    /// The reload request and answer on the wire; an old supervisor's status (without
    /// `loaded`) still reads.
    #[test]
    fn the_reload_messages_read_back_and_an_older_status_still_reads() {
        let line = serde_json::to_string(&Request::Reload { dry_run: true }).unwrap();
        assert_eq!(line, r#"{"cmd":"reload","dry_run":true}"#);
        let answer = Response::Reload(Box::new(ReloadAnswer {
            outcome: "invalid".into(),
            errors: vec!["ballast.toml:4:1: error: unknown key".into()],
            ..Default::default()
        }));
        let line = serde_json::to_string(&answer).unwrap();
        assert!(
            line.starts_with(r#"{"result":"reload","outcome":"invalid""#),
            "{line}"
        );
        assert_eq!(serde_json::from_str::<Response>(&line).unwrap(), answer);
        let old =
            r#"{"result":"status","supervisor_pid":1,"overall":"OK","services":[],"config":null}"#;
        match serde_json::from_str::<Response>(old).unwrap() {
            Response::Status { loaded, .. } => assert_eq!(loaded, None),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_status_summary_keeps_its_fields_and_their_order() {
        let s = HealthSummary {
            issues: Some(vec!["HIGH a/b: x — y".into()]),
            overall: Some("DEGRADED".into()),
            pending: vec![PendingApproval {
                expected: "e".into(),
                expires: None,
                id: "a/b/restart".into(),
                risks: "r".into(),
            }],
            policy: "ALLOW_ALL".into(),
            policy_outlook: None,
            policy_reason: "start".into(),
            score: Some(80),
            disabled: Vec::new(),
            disabled_problems: Vec::new(),
        };
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"issues":["HIGH a/b: x — y"],"overall":"DEGRADED","pending":[{"expected":"e","expires":null,"id":"a/b/restart","risks":"r"}],"policy":"ALLOW_ALL","policy_reason":"start","score":80}"#
        );
        let back: HealthSummary =
            serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
    }

    /// The health answer's line is the one the untyped answer was: `result` first, then the
    /// report with its members sorted at every level; it reads back to the same value, and a
    /// report of neither form is refused in words.
    #[test]
    fn the_health_answer_keeps_its_bytes_and_refuses_a_report_it_cannot_read() {
        use ballast_store::files::health::{NotYet, Pending};
        let report = r#"{"at":"1970-01-01T00:00:01.000Z","counts":{"critical":0,"degraded":0,"failed":0,"healthy":0,"issues":0,"subsystems":0,"unknown":0},"decided":[],"engine":null,"history":[],"issues":[],"live_start":null,"overall":"HEALTHY","policy":{"floor":null,"kill_switch":false,"latches":[],"outlook":{"in_ms":5,"text":"t","to":"ALLOW_ALL"},"policy":"ALLOW_ALL","reason":"start","since":"1970-01-01T00:00:00.000Z","size_multiplier":"1","trading_state":"ACTIVE"},"recommendations":[],"score":100,"subsystems":[],"trading_allowed":true}"#;
        let pending = HealthFile::Pending(Pending {
            overall: NotYet::Unknown,
            policy: ballast_core::policy::Policy::NoNewTrades,
        });
        let full = HealthFile::Report(Box::new(serde_json::from_str(report).unwrap()));
        for (file, bytes) in [
            (pending, r#"{"overall":"UNKNOWN","policy":"NO_NEW_TRADES"}"#),
            (full, report),
        ] {
            let line = serde_json::to_string(&Response::Health {
                report: file.clone(),
            })
            .unwrap();
            assert_eq!(line, format!(r#"{{"result":"health","report":{bytes}}}"#));
            let back: Response = serde_json::from_str(&line).unwrap();
            assert_eq!(back, Response::Health { report: file });
        }
        let bad = r#"{"result":"health","report":{"overall":"HEALTHY"}}"#;
        let err = serde_json::from_str::<Response>(bad)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("neither a health cycle's report") && err.contains("missing field"),
            "{err}"
        );
        assert!(is_health_answer(bad));
        let newer = format!(
            r#"{{"result":"health","report":{}}}"#,
            report.replacen('{', r#"{"version":2,"#, 1)
        );
        let err = serde_json::from_str::<Response>(&newer)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("format version 2") && err.contains("reads version 1"),
            "{err}"
        );
        assert!(!is_health_answer(r#"{"result":"done","message":"x"}"#));
    }
}
