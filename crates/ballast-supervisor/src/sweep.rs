//! The healer carried out for the core's [`crate::core::Output::Sweep`]: observe, plan, apply
//! the heals, journal and log what was done and what is dangerous (each finding once), and
//! hand the core what it decides on.

use std::cell::RefCell;
use std::path::Path;

use ballast_core::Clock;
use ballast_core::config::Config;

use crate::core::{OpsEvent, SupervisorCore, Swept};
use crate::heal;
use crate::ops::Ops;

/// What the healer remembers between sweeps.
#[derive(Default)]
pub(crate) struct Sweeper {
    /// Dangerous and skipped findings already journaled.
    reported: heal::Reported,
    /// The engine's files as the last sweep saw them (rescanned only when they change).
    engine_files: RefCell<heal::EngineFiles>,
}

/// One sweep's setting.
pub(crate) struct SweepOf<'a> {
    pub data_dir: &'a Path,
    pub config: &'a Config,
    pub clock: &'a dyn Clock,
    pub core: &'a SupervisorCore,
    pub ops: &'a Ops,
}

impl Sweeper {
    /// One healing pass (`dry_run`: the plan only, nothing journaled or restarted;
    /// `forget`: the engine's files are read again).
    pub fn run(
        &mut self,
        of: &SweepOf<'_>,
        dry_run: bool,
        forget: bool,
        with_report: bool,
        log: &mut dyn FnMut(&str),
    ) -> Swept {
        if forget {
            self.engine_files.borrow_mut().forget();
        }
        let healer = heal::Healer {
            data_dir: of.data_dir,
            config: of.config,
            clock: of.clock,
            cache: Some(&self.engine_files),
        };
        let lock_held = heal::engine_lock_held(&ballast_store::Layout::new(of.data_dir));
        let running = |s: &str| of.core.is_running(s);
        if dry_run {
            let report = healer.run(true, lock_held, &running, &mut |_| Ok(()), &mut |_| {});
            return Swept {
                report: Some(Box::new(report)),
                ..Swept::default()
            };
        }
        // Its lock file, or the engine service's process (the lock file may have been removed).
        let engine_running = lock_held || of.core.is_running("engine");
        let mut restarts = Vec::new();
        let report = healer.run(
            false,
            engine_running,
            &running,
            &mut |s| {
                restarts.push(s.to_owned());
                Ok(())
            },
            // Each heal is journaled and logged as it is done (with before, after and the
            // quarantine); each dangerous or skipped finding once.
            &mut |ev| crate::main_loop::emit(of.ops, &ev, log),
        );
        for a in self.reported.new_findings(&report.plan) {
            crate::main_loop::emit(of.ops, &OpsEvent::HealFinding(a.clone()), log);
        }
        // What the health monitor sees of the healer: dangerous findings and failed heals.
        let findings = report
            .plan
            .dangerous()
            .map(|a| {
                (
                    a.component.clone(),
                    a.target.clone(),
                    a.reason.clone(),
                    a.failure,
                )
            })
            .chain(report.applied.iter().filter_map(|a| {
                let e = a.error.as_ref()?;
                Some((
                    a.action.component.clone(),
                    a.action.target.clone(),
                    format!("heal failed: {e}"),
                    a.action.failure,
                ))
            }))
            .collect();
        let refusal = report.refusal.clone();
        let clean = report.plan.is_clean();
        Swept {
            report: with_report.then(|| Box::new(report)),
            refusal,
            findings,
            restarts,
            clean,
        }
    }
}
