//! `ballast init`: write the commented sample configuration.

use super::err;
use super::out;
use std::io::Write;
use std::path::Path;

use anyhow::Context;

use crate::exit::{self, Exit};

pub fn init(path: &Path, force: bool) -> anyhow::Result<Exit> {
    if path.exists() && !force {
        err!(
            "ballast: {} already exists; nothing was written. Use --force to overwrite it, or give another path",
            path.display()
        );
        return Ok(exit::FAILURE);
    }
    // The owner's only, whatever the umask (a configuration may come to hold credentials).
    let mut f = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(ballast_store::storage::FILE_MODE)
            .open(path)
            .with_context(|| format!("cannot create {}", path.display()))?
    };
    f.write_all(ballast_core::config::sample_toml().as_bytes())
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    out!(
        "wrote {p}: every key at its default, documented. Check it with `ballast check --config {p}`.",
        p = path.display()
    );
    Ok(exit::OK)
}
