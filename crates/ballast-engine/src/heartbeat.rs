//! `run/engine.heartbeat`: pid, loop count and time, rewritten every loop (temp file + rename,
//! so a reader never sees half a file; not fsynced: a heartbeat is about now, not history).

use std::io::Write;
use std::path::Path;

use ballast_core::Timestamp;
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct Heartbeat {
    pub pid: u32,
    pub loops: u64,
    pub time: Timestamp,
    pub bars: u64,
    pub last_seq: u64,
    /// What the supervisor's health monitor reads.
    pub status: ballast_core::engine::EngineStatus,
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
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&tmp)?
    };
    serde_json::to_writer(&mut f, hb).map_err(std::io::Error::other)?;
    f.write_all(b"\n")?;
    std::fs::rename(&tmp, run_dir.join("engine.heartbeat"))
}
