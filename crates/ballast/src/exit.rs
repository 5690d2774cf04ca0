//! Exit codes, shared with the supervisor and systemd (`RestartPreventExitStatus=78`).

use std::process::ExitCode;

/// A process exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit(pub u8);

/// Everything as expected.
pub const OK: Exit = Exit(0);
/// A generic failure (I/O error, refused action).
pub const FAILURE: Exit = Exit(1);
/// A journal or snapshot problem that a heal can fix (torn tail, corrupt snapshot).
pub const HEALABLE: Exit = Exit(1);
/// Dangerous damage: an operator must act.
pub const DANGEROUS: Exit = Exit(2);
/// `EX_CONFIG`: the configuration is wrong; do not restart.
pub const CONFIG: Exit = Exit(78);

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e.0)
    }
}
