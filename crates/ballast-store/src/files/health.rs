//! `state/health.json`: the health report of the supervisor's last cycle (rewritten every
//! cycle, atomically, not synced), read by `ballast health` when no supervisor answers and
//! by the healer (a report that does not parse is rewritten). Its JSON is also the control
//! socket's and the API's health answer, so its bytes are kept as they were: members sorted
//! by name at every level, pretty-printed; `version` is read (a newer one is refused) but not
//! written while it is 1.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{FileError, replace};
use crate::bounded::MAX_FILE_BYTES;
use crate::{Layout, Storage};
use ballast_core::Timestamp;
use ballast_core::engine::EngineStatus;
use ballast_core::guard::TradingState;
use ballast_core::health::{Counts, Issue, Overall, Recommendation, SubsystemHealth};
use ballast_core::policy::{Latch, Outlook, Policy};

const WHAT: &str = "a health report";
const HELP: &str = "the supervisor writes it again on its next health cycle";

/// One point of the health timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub at: Timestamp,
    pub overall: Overall,
    pub score: u32,
    pub policy: Policy,
    pub issues: usize,
}

/// The safety policy as the report shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyView {
    pub policy: Policy,
    pub since: Timestamp,
    pub reason: String,
    pub trading_state: TradingState,
    pub size_multiplier: Decimal,
    pub floor: Option<Policy>,
    pub latches: Vec<Latch>,
    pub kill_switch: bool,
    pub outlook: Option<Outlook>,
}

/// The report of one health cycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthReport {
    /// Format version (not written while it is 1; absent: 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    pub at: Timestamp,
    pub overall: Overall,
    pub score: u32,
    pub policy: PolicyView,
    pub trading_allowed: bool,
    /// Why a live start is refused now, if it is.
    pub live_start: Option<String>,
    pub subsystems: Vec<SubsystemHealth>,
    pub issues: Vec<Issue>,
    pub recommendations: Vec<Recommendation>,
    /// The last decided recommendations, newest first.
    pub decided: Vec<Recommendation>,
    pub counts: Counts,
    pub engine: Option<EngineStatus>,
    pub history: Vec<HistoryEntry>,
    /// Principle 1's conditions as of this cycle, each with whether it holds and why (absent
    /// in reports written before it existed, and when no start asked for anything).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_gate: Option<ballast_core::live::Gate>,
}

/// What the file holds: the last cycle's report, or — before the first cycle (an operator
/// floor set at once after the start) — only the policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum HealthFile {
    Report(Box<HealthReport>),
    Pending(Pending),
}

/// The report before the first health cycle: `{"overall": "UNKNOWN", "policy": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub overall: NotYet,
    pub policy: Policy,
}

/// The overall status before the first health cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NotYet {
    #[serde(rename = "UNKNOWN")]
    Unknown,
}

impl HealthFile {
    /// The JSON the file and the control socket carry (members sorted).
    pub fn to_value(&self) -> serde_json::Value {
        // Plain data of strings, numbers and enums always serializes.
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// The report of the last cycle (or the pending one before it).
pub fn read(storage: &dyn Storage, layout: &Layout) -> Result<HealthFile, FileError> {
    let path = layout.health_report();
    let bytes = storage.read_bounded(&path, MAX_FILE_BYTES)?;
    match super::decode::<HealthReport>(&path, &bytes, WHAT, HELP) {
        Ok(r) => Ok(HealthFile::Report(Box::new(r))),
        Err(e @ FileError::Invalid { .. }) => serde_json::from_slice::<Pending>(&bytes)
            .map(HealthFile::Pending)
            .map_err(|_| e),
        Err(e) => Err(e),
    }
}

/// Whether the report parses as JSON at all (the healer's question: one that does not is
/// rewritten — it is rewritten every cycle anyway), without its version or shape being looked
/// at; `Ok` for a missing report.
pub fn check(storage: &dyn Storage, layout: &Layout) -> Result<(), FileError> {
    let path = layout.health_report();
    let bytes = match storage.read_bounded(&path, MAX_FILE_BYTES) {
        Err(e) if e.is_not_found() => return Ok(()),
        other => other?,
    };
    serde_json::from_slice::<serde::de::IgnoredAny>(&bytes)
        .map(|_| ())
        .map_err(|e| FileError::Invalid {
            path,
            what: WHAT,
            detail: e.to_string(),
            help: HELP,
        })
}

/// Replace the report (atomically; not synced: it is rewritten every cycle).
pub fn write(storage: &dyn Storage, layout: &Layout, report: &HealthFile) -> std::io::Result<()> {
    let bytes = serde_json::to_vec_pretty(&report.to_value()).map_err(std::io::Error::other)?;
    replace(storage, &layout.health_report(), &bytes)
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{layout, oversize};
    use super::*;
    use crate::storage::RealStorage;

    fn report() -> HealthReport {
        HealthReport {
            version: None,
            at: Timestamp::from_unix_ms(1_000),
            overall: Overall::Healthy,
            score: 100,
            policy: PolicyView {
                policy: Policy::AllowAll,
                since: Timestamp::from_unix_ms(0),
                reason: "start".into(),
                trading_state: TradingState::default(),
                size_multiplier: Decimal::ONE,
                floor: None,
                latches: Vec::new(),
                kill_switch: false,
                outlook: None,
            },
            trading_allowed: true,
            live_start: None,
            subsystems: Vec::new(),
            issues: Vec::new(),
            recommendations: Vec::new(),
            decided: Vec::new(),
            counts: Counts::default(),
            engine: None,
            history: vec![HistoryEntry {
                at: Timestamp::from_unix_ms(1_000),
                overall: Overall::Healthy,
                score: 100,
                policy: Policy::AllowAll,
                issues: 0,
            }],
            live_gate: None,
        }
    }

    /// `state/health.json` as the supervisor wrote it with `json!` before this type.
    const OLD: &str = r#"{
  "at": "1970-01-01T00:00:01.000Z",
  "counts": {
    "critical": 0,
    "degraded": 0,
    "failed": 0,
    "healthy": 0,
    "issues": 0,
    "subsystems": 0,
    "unknown": 0
  },
  "decided": [],
  "engine": null,
  "history": [
    {
      "at": "1970-01-01T00:00:01.000Z",
      "issues": 0,
      "overall": "HEALTHY",
      "policy": "ALLOW_ALL",
      "score": 100
    }
  ],
  "issues": [],
  "live_start": null,
  "overall": "HEALTHY",
  "policy": {
    "floor": null,
    "kill_switch": false,
    "latches": [],
    "outlook": null,
    "policy": "ALLOW_ALL",
    "reason": "start",
    "since": "1970-01-01T00:00:00.000Z",
    "size_multiplier": "1",
    "trading_state": "ACTIVE"
  },
  "recommendations": [],
  "score": 100,
  "subsystems": [],
  "trading_allowed": true
}"#;

    #[test]
    fn a_report_round_trips_with_the_bytes_written_before() {
        let (_t, l) = layout();
        let file = HealthFile::Report(Box::new(report()));
        write(&RealStorage, &l, &file).unwrap();
        assert_eq!(read(&RealStorage, &l).unwrap(), file);
        assert_eq!(std::fs::read_to_string(l.health_report()).unwrap(), OLD);
        std::fs::write(l.health_report(), OLD).unwrap();
        assert_eq!(read(&RealStorage, &l).unwrap(), file);
        // Before the first cycle.
        let pending = HealthFile::Pending(Pending {
            overall: NotYet::Unknown,
            policy: Policy::NoNewTrades,
        });
        write(&RealStorage, &l, &pending).unwrap();
        assert_eq!(
            std::fs::read_to_string(l.health_report()).unwrap(),
            "{\n  \"overall\": \"UNKNOWN\",\n  \"policy\": \"NO_NEW_TRADES\"\n}"
        );
        assert_eq!(read(&RealStorage, &l).unwrap(), pending);
    }

    #[test]
    fn a_newer_version_a_bad_shape_and_an_oversize_report_are_refused() {
        let (_t, l) = layout();
        assert!(check(&RealStorage, &l).is_ok());
        std::fs::write(l.health_report(), "{\"version\":2.0}").unwrap();
        assert!(
            check(&RealStorage, &l).is_ok(),
            "a newer report is no damage"
        );
        let e = read(&RealStorage, &l).unwrap_err();
        assert!(matches!(e, FileError::Version { .. }), "{e}");
        std::fs::write(l.health_report(), "{\"overall\":\"HEALTHY\"}").unwrap();
        let e = read(&RealStorage, &l).unwrap_err().to_string();
        assert!(e.contains("health.json is not a health report"), "{e}");
        assert!(check(&RealStorage, &l).is_ok());
        std::fs::write(l.health_report(), "{\"overall\"").unwrap();
        assert!(check(&RealStorage, &l).is_err());
        oversize(&l.health_report(), MAX_FILE_BYTES + 1);
        let e = read(&RealStorage, &l).unwrap_err();
        assert!(
            matches!(
                e,
                FileError::Read(crate::bounded::ReadError::TooLarge { .. })
            ),
            "{e}"
        );
    }
}
