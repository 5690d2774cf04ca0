//! `run/engine.heartbeat`: pid, loop count and time, rewritten every loop (temp file + rename,
//! so a reader never sees half a file; not fsynced: a heartbeat is about now, not history).

use std::io::Write;
use std::path::Path;

use ballast_core::Timestamp;
use serde::{Deserialize, Serialize};

/// The largest heartbeat file read back.
pub use crate::limits::HEARTBEAT_MAX_BYTES as MAX_BYTES;

#[derive(Debug, Serialize, Deserialize)]
pub struct Heartbeat {
    pub pid: u32,
    pub loops: u64,
    pub time: Timestamp,
    pub bars: u64,
    pub last_seq: u64,
    /// What the supervisor's health monitor reads.
    pub status: ballast_core::engine::EngineStatus,
    /// What `ballast status` shows of the trading (bounded).
    #[serde(default)]
    pub view: ballast_core::engine::EngineView,
}

/// The heartbeat in `run_dir`, if there is a readable one (a regular file of at most
/// [`MAX_BYTES`]; never blocks on a FIFO put in its place).
pub fn read(run_dir: &Path) -> Option<Heartbeat> {
    let bytes =
        ballast_store::bounded::read_own(&run_dir.join("engine.heartbeat"), MAX_BYTES).ok()?;
    serde_json::from_slice(&bytes).ok()
}

pub fn write(run_dir: &Path, hb: &Heartbeat) -> std::io::Result<()> {
    let tmp = run_dir.join(".engine.heartbeat.tmp");
    // Not through a link at the temp name (the rename replaces a link, never follows it).
    let mut f = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(ballast_store::storage::FILE_MODE)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&tmp)?
    };
    serde_json::to_writer(&mut f, hb).map_err(std::io::Error::other)?;
    f.write_all(b"\n")?;
    std::fs::rename(&tmp, run_dir.join("engine.heartbeat"))
}
