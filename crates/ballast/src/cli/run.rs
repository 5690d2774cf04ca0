//! `ballast run`: the main job.
//!
//! This build has the foundation only (configuration, data directory, journal). It validates
//! the configuration, prepares the data directory, verifies and recovers the engine journal,
//! and says plainly that the trading engine and supervisor are not part of it yet.

use std::sync::Arc;

use anyhow::Context;
use ballast_core::config::Mode;
use ballast_store::journal::{JournalOptions, OpenPolicy};
use ballast_store::record::RecordRef;
use ballast_store::{Journal, Layout, RealStorage, Storage, SystemClock};

use super::{ConfigArg, DataDirArg};
use crate::exit::{self, Exit};
use crate::settings;

pub fn run(config: &ConfigArg, data_dir: &DataDirArg) -> anyhow::Result<Exit> {
    let cfg = match settings::load(config.config.as_deref()) {
        Ok(c) => c,
        Err(errors) => {
            eprintln!("{errors}");
            return Ok(exit::CONFIG);
        }
    };
    match &config.config {
        Some(p) => println!("configuration {}: OK", p.display()),
        None => println!(
            "no config file: using the built-in paper configuration (replay of the bundled data, sma_cross, paper broker)"
        ),
    }
    let dir = settings::data_dir(data_dir.data_dir.as_deref(), Some(&cfg));
    let storage: Arc<dyn Storage> = Arc::new(RealStorage);
    let layout = Layout::new(&dir);
    layout
        .create(&*storage)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    let policy = match cfg.general.mode {
        Mode::Paper => OpenPolicy::SalvageDangerous,
        Mode::Live => OpenPolicy::RefuseDangerous,
    };
    let mut records = 0u64;
    let opened = Journal::open(
        storage,
        &layout,
        &layout.engine_journal(),
        Arc::new(SystemClock),
        JournalOptions::from(&cfg.journal),
        policy,
        &mut |_: &RecordRef<'_>| {
            records += 1;
            Ok(())
        },
    );
    let (_journal, report) = match opened {
        Ok(o) => o,
        Err(e) => {
            eprintln!("ballast: {e}");
            return Ok(exit::DANGEROUS);
        }
    };
    println!(
        "data directory {}: ready; engine journal has {records} record(s), last seq {}",
        dir.display(),
        report.scan.last_seq
    );
    for h in &report.heals {
        println!("heal: {} ({}): {}", h.component, h.path, h.action);
    }
    if let Some(d) = &report.salvaged {
        eprintln!(
            "CRITICAL: the journal was damaged ({d}); the valid prefix was kept and the rest quarantined"
        );
    }
    println!(
        "The trading engine and the supervisor are not part of this build yet: `run` stops here after \
         validating the configuration and preparing the data directory."
    );
    Ok(exit::OK)
}
