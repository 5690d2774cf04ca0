//! `run/engine.heartbeat`: pid, loop count, time, the last durable seq and what the engine
//! reports, rewritten every loop by the engine (temp file + rename, so a reader never sees
//! half a file; not fsynced: a heartbeat is about now, not history). Read by the supervisor's
//! health monitor, `ballast status` / `resume`, and recovery (the durable seq is evidence).

use serde::{Deserialize, Serialize};

use super::{FileError, read_json, replace};
use crate::{Layout, Storage};
use ballast_core::Timestamp;
use ballast_core::engine::{EngineFigures, EngineStatus, EngineView};

/// The largest heartbeat file read back.
pub const MAX_BYTES: u64 = crate::limits::HEARTBEAT_MAX_BYTES;

const WHAT: &str = "an engine heartbeat";
const HELP: &str = "the engine rewrites it on its next loop; if no engine runs, move it away";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// Format version ([`super::VERSION`]; absent before it was written: 1).
    #[serde(default = "super::v1")]
    pub version: u32,
    pub pid: u32,
    pub loops: u64,
    pub time: Timestamp,
    pub bars: u64,
    /// The last seq durable in the journal when this was written.
    pub last_seq: u64,
    /// What the supervisor's health monitor reads.
    #[serde(default)]
    pub status: EngineStatus,
    /// What `ballast status` shows of the trading (bounded).
    #[serde(default)]
    pub view: EngineView,
    /// What the metrics export of the engine: counters, the journal's sync latency, the
    /// loop's lag, the oldest order in flight (absent in older heartbeats: zero).
    #[serde(default)]
    pub figures: EngineFigures,
    /// The last seq of `journal/signals/` (HTTP signals) the engine took: the API's
    /// backpressure counts the signals after it.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub signals_seq: u64,
    /// The chaos modes this engine injects (paper only; absent: none): health, `ballast
    /// status`, the dashboard's banner and `ballast_chaos_active` show them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chaos: Vec<ballast_core::chaos::ChaosMode>,
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if"
)]
fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What the heartbeat says of `journal/signals/`: the last seq the engine took and when the
/// heartbeat was written. `None`: no readable heartbeat.
pub fn signals_taken(storage: &dyn Storage, layout: &Layout) -> Option<(u64, Timestamp)> {
    #[derive(Deserialize)]
    struct Taken {
        #[serde(default)]
        signals_seq: u64,
        time: Timestamp,
    }
    let bytes = storage.read_bounded(&layout.heartbeat(), MAX_BYTES).ok()?;
    serde_json::from_slice::<Taken>(&bytes)
        .ok()
        .map(|t| (t.signals_seq, t.time))
}

/// The heartbeat of the data directory, if there is a readable one (a regular file of at
/// most [`MAX_BYTES`]; never blocks on a FIFO put in its place).
pub fn read(storage: &dyn Storage, layout: &Layout) -> Result<Heartbeat, FileError> {
    read_json(storage, &layout.heartbeat(), MAX_BYTES, WHAT, HELP)
}

/// The last durable seq the heartbeat reports, read alone: it is recovery's evidence that
/// records up to it were acknowledged, so a flaw anywhere else in the file (a bad `pid`, a
/// newer `version`, missing fields) never discards it — evidence is only ever lost by the
/// file missing, being unreadable, or not saying a seq. `None` then.
pub fn durable_seq(storage: &dyn Storage, layout: &Layout) -> Option<u64> {
    /// The one field recovery reads, in any version of the file.
    #[derive(Deserialize)]
    struct DurableSeq {
        last_seq: u64,
    }
    let bytes = storage.read_bounded(&layout.heartbeat(), MAX_BYTES).ok()?;
    serde_json::from_slice::<DurableSeq>(&bytes)
        .ok()
        .map(|d| d.last_seq)
}

/// Replace the heartbeat (never through a link at the temp name: the rename replaces a link
/// at the heartbeat's name, never follows it).
pub fn write(storage: &dyn Storage, layout: &Layout, hb: &Heartbeat) -> std::io::Result<()> {
    let mut bytes = serde_json::to_vec(hb).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    replace(storage, &layout.heartbeat(), &bytes)
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{layout, oversize};
    use super::*;
    use crate::storage::RealStorage;

    fn hb() -> Heartbeat {
        Heartbeat {
            version: super::super::VERSION,
            pid: 42,
            loops: 7,
            time: Timestamp::from_unix_ms(1_000),
            bars: 5,
            last_seq: 12,
            status: EngineStatus::default(),
            view: EngineView::default(),
            figures: EngineFigures::default(),
            signals_seq: 0,
            chaos: Vec::new(),
        }
    }

    #[test]
    fn the_chaos_modes_round_trip_and_an_older_heartbeat_has_none() {
        let (_t, l) = layout();
        std::fs::create_dir_all(l.run()).unwrap();
        let mut with = hb();
        with.chaos = vec![ballast_core::chaos::ChaosMode::DiskFull];
        write(&RealStorage, &l, &with).unwrap();
        let text = std::fs::read_to_string(l.heartbeat()).unwrap();
        assert!(text.contains("\"chaos\":[\"disk_full\"]"), "{text}");
        write(&RealStorage, &l, &hb()).unwrap();
        let text = std::fs::read_to_string(l.heartbeat()).unwrap();
        assert!(!text.contains("chaos"), "absent when none: {text}");
    }

    #[test]
    fn the_signals_seq_is_read_alone_and_is_zero_when_absent() {
        let (_t, l) = layout();
        assert_eq!(signals_taken(&RealStorage, &l), None);
        std::fs::create_dir_all(l.run()).unwrap();
        write(
            &RealStorage,
            &l,
            &Heartbeat {
                signals_seq: 3,
                ..hb()
            },
        )
        .unwrap();
        assert_eq!(
            signals_taken(&RealStorage, &l),
            Some((3, Timestamp::from_unix_ms(1_000)))
        );
        std::fs::write(l.heartbeat(), r#"{"time":"1970-01-01T00:00:01Z","pid":1}"#).unwrap();
        assert_eq!(signals_taken(&RealStorage, &l).map(|t| t.0), Some(0));
    }

    #[test]
    fn the_durable_seq_is_read_whatever_else_the_heartbeat_holds() {
        let (_t, l) = layout();
        for text in [
            r#"{"version":2,"pid":"x","last_seq":9,"new":true}"#,
            r#"{"last_seq":9}"#,
            r#"{"pid":1,"loops":2,"time":"bogus","bars":3,"last_seq":9}"#,
        ] {
            std::fs::write(l.heartbeat(), text).unwrap();
            assert!(read(&RealStorage, &l).is_err(), "{text}");
            assert_eq!(durable_seq(&RealStorage, &l), Some(9), "{text}");
        }
        for text in ["", "{}", r#"{"last_seq":"9"}"#, "garbage"] {
            std::fs::write(l.heartbeat(), text).unwrap();
            assert_eq!(durable_seq(&RealStorage, &l), None, "{text}");
        }
    }

    #[test]
    fn a_heartbeat_round_trips() {
        let (_t, l) = layout();
        write(&RealStorage, &l, &hb()).unwrap();
        assert_eq!(read(&RealStorage, &l).unwrap(), hb());
        let text = std::fs::read_to_string(l.heartbeat()).unwrap();
        assert!(text.starts_with("{\"version\":1,\"pid\":42,") && text.ends_with("}\n"));
    }

    #[test]
    fn a_heartbeat_written_before_the_version_reads_back() {
        let (_t, l) = layout();
        // As the engine wrote it before this type existed (status and view elided: defaults).
        std::fs::write(
            l.heartbeat(),
            "{\"pid\":42,\"loops\":7,\"time\":\"1970-01-01T00:00:01.000Z\",\"bars\":5,\"last_seq\":12}\n",
        )
        .unwrap();
        assert_eq!(read(&RealStorage, &l).unwrap(), hb());
    }

    #[test]
    fn a_heartbeat_as_the_engine_wrote_it_before_the_type_reads_back() {
        let (_t, l) = layout();
        // Today's bytes but for the version field, which the engine did not write before.
        let mut h = hb();
        h.status.bars = 5;
        h.status.kill_switch = true;
        let now = serde_json::to_string(&h).unwrap();
        let before = now.replacen("\"version\":1,", "", 1);
        assert_ne!(now, before);
        std::fs::write(l.heartbeat(), format!("{before}\n")).unwrap();
        assert_eq!(read(&RealStorage, &l).unwrap(), h);
    }

    #[test]
    fn a_newer_version_a_bad_shape_and_an_oversize_file_are_refused() {
        let (_t, l) = layout();
        std::fs::write(l.heartbeat(), "{\"version\":2,\"pid\":\"x\"}").unwrap();
        let e = read(&RealStorage, &l).unwrap_err();
        assert!(matches!(e, FileError::Version { .. }), "{e}");
        assert!(e.to_string().contains("newer than version 1"), "{e}");
        std::fs::write(l.heartbeat(), "{\"pid\":\"x\"}").unwrap();
        let e = read(&RealStorage, &l).unwrap_err();
        assert!(matches!(e, FileError::Invalid { .. }), "{e}");
        assert!(
            e.to_string()
                .contains("engine.heartbeat is not an engine heartbeat"),
            "{e}"
        );
        oversize(&l.heartbeat(), MAX_BYTES + 1);
        let e = read(&RealStorage, &l).unwrap_err();
        assert!(
            matches!(
                e,
                FileError::Read(crate::bounded::ReadError::TooLarge { .. })
            ),
            "{e}"
        );
        std::fs::remove_file(l.heartbeat()).unwrap();
        assert!(read(&RealStorage, &l).unwrap_err().is_not_found());
    }
}
