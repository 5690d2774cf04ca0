//! `run/engine.heartbeat`, rewritten every loop: its one type, reader and writer are
//! [`ballast_store::files::heartbeat`]; these are the engine's and its readers' shorthands
//! on the real file system.

use ballast_store::{Layout, RealStorage, files};

pub use files::heartbeat::{Heartbeat, MAX_BYTES};

/// The heartbeat of the data directory, if there is a readable one.
pub fn read(layout: &Layout) -> Option<Heartbeat> {
    files::heartbeat::read(&RealStorage, layout).ok()
}

pub fn write(layout: &Layout, hb: &Heartbeat) -> std::io::Result<()> {
    files::heartbeat::write(&RealStorage, layout, hb)
}
