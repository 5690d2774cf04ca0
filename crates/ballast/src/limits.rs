//! Every size bound, count bound and time limit of the `ballast` binary, in one place
//! (TigerBeetle's `constants.zig` style): units in the names (`_BYTES`, `_CHARS`, `_MS`), a line
//! each on what it bounds, and the relations between them checked at compile time. The bound on
//! every file read whole is [`ballast_core::limits::MAX_FILE_BYTES`]; the supervisor's and the
//! engine's limits are in their crates.

// --- `ballast logs` ----------------------------------------------------------------------------

/// At most this many bytes are read from the end of a log for its last lines.
pub const LOG_TAIL_MAX_BYTES: u64 = 256 * 1024;

/// A line longer than this is cut (with a mark) when printed.
pub const LOG_LINE_MAX_CHARS: usize = 4_096;
/// Bytes of one structured log line at most (a longer one is replaced by a line saying so).
pub const LOG_LINE_MAX_BYTES: usize = 64 * 1024;
/// Bytes of log lines kept in memory until the data directory exists (a fresh one's start).
pub const LOG_EARLY_MAX_BYTES: usize = 256 * 1024;

/// `-f` looks for new bytes this often.
pub const LOG_FOLLOW_EVERY_MS: u64 = 200;

// --- `ballast kill` ----------------------------------------------------------------------------

/// How long `ballast kill` waits for a running supervisor to engage the kill switch (and
/// journal the action as the CLI's) before it writes the file itself.
pub const KILL_VIA_SUPERVISOR_MS: u64 = 2_000;

// --- `ballast resume` --------------------------------------------------------------------------

/// How long `resume` waits for the engine to take the release it wrote (it does on its next
/// loop) before the supervisor's policy is released.
pub const RELEASE_TAKEN_WITHIN_MS: u64 = 20_000;

/// While it waits, `resume` asks the supervisor again this often.
pub const RELEASE_POLL_MS: u64 = 200;

// --- relations ---------------------------------------------------------------------------------

// The longest line printed whole (4 bytes a character at most in UTF-8) fits in a tail read.
const _: () = assert!(LOG_LINE_MAX_CHARS as u64 * 4 <= LOG_TAIL_MAX_BYTES);
// `resume` asks more than once before it gives up.
const _: () = assert!(RELEASE_POLL_MS * 2 <= RELEASE_TAKEN_WITHIN_MS);
