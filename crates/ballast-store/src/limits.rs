//! Every size bound, count bound and time limit of `ballast-store`, in one place (TigerBeetle's
//! `constants.zig` style): units in the names (`_BYTES`, `_CHARS`, `_COUNT`, `_US`), a line
//! each on what it bounds, and the relations between them checked at compile time. The limits
//! an operator sets (`[journal]` segment, record and group-commit buffer sizes) are in the
//! configuration schema; the bound on every file read whole is
//! [`ballast_core::limits::MAX_FILE_BYTES`] (re-exported as [`crate::bounded::MAX_FILE_BYTES`]).

use ballast_core::limits::MAX_FILE_BYTES;

// --- journal records ---------------------------------------------------------------------

/// Longest record type name (`[a-z][a-z0-9_.-]*`: ASCII, one byte a character).
pub const RECORD_KIND_MAX_BYTES: usize = 64;

/// Bytes of framing around a record body (`{"v":1,"seq":…,"crc":"…"}` and the newline), at most.
pub const RECORD_FRAMING_MAX_BYTES: usize = 160;

/// Characters of a refused record type name shown in the error (the rest is cut).
pub const INVALID_KIND_SHOWN_CHARS: usize = 80;

// --- files of Ballast's own read whole ---------------------------------------------------

/// Largest snapshot file read (a bounded engine state is far smaller: its lists are capped by
/// `ballast_core::limits`). A larger one is never read: it is moved aside as damaged and the
/// journal replay covers its records.
pub const SNAPSHOT_MAX_BYTES: u64 = 256 << 20;

/// Largest journal segment read: the longest segment any configuration can write (a segment
/// of `[journal] segment_max_bytes`, at most 1 GiB, plus one record of `max_record_bytes`, at
/// most 16 MiB, and its framing). A larger file is not one Ballast wrote: opening refuses it
/// by name instead of reading it whole.
pub const SEGMENT_MAX_BYTES: u64 = (1 << 30) + (16 << 20) + RECORD_FRAMING_MAX_BYTES as u64;

// --- group commit ----------------------------------------------------------------------------

/// Longest a group-commit leader waits to gather more records before it syncs, in microseconds
/// (at most half the last sync's duration).
pub const GATHER_MAX_WAIT_US: u64 = 500;

/// A group-commit leader waits for at most this many appenders before it syncs anyway.
pub const GATHER_MAX_APPENDERS_COUNT: usize = 256;

// --- files and directories read ----------------------------------------------------------

/// Largest engine heartbeat file read (a one-line JSON object; its trading view is bounded).
pub const HEARTBEAT_MAX_BYTES: u64 = 1024 * 1024;

/// The longest lock file read (it holds one short line).
pub const LOCK_FILE_MAX_BYTES: u64 = 4096;

/// The longest `/proc/locks` read (to name the holder of a data directory lock).
pub const PROC_LOCKS_MAX_BYTES: u64 = 1024 * 1024;
/// Reads of `/proc/locks` for a lock's holder before it counts as not said (a read in
/// pieces may miss a line while other locks come and go).
pub const PROC_LOCKS_READS_COUNT: usize = 3;

/// The longest `/proc/<pid>/cmdline` read to name a lock holder.
pub const CMDLINE_MAX_BYTES: u64 = 4096;

/// Entries below Ballast's directories looked at for links, at most.
pub const LINK_SCAN_MAX_COUNT: usize = 10_000;

// --- relations ---------------------------------------------------------------------------------

// A record type name fits in the framing allowance with the rest of the frame, and a refused
// one is shown whole up to its longest valid length.
const _: () = assert!(RECORD_KIND_MAX_BYTES < RECORD_FRAMING_MAX_BYTES);
const _: () = assert!(RECORD_KIND_MAX_BYTES <= INVALID_KIND_SHOWN_CHARS);
// What the store reads whole is never more than any reader takes whole.
const _: () = assert!(HEARTBEAT_MAX_BYTES <= MAX_FILE_BYTES);
const _: () = assert!(LOCK_FILE_MAX_BYTES <= MAX_FILE_BYTES);
const _: () = assert!(CMDLINE_MAX_BYTES <= MAX_FILE_BYTES);
// A group-commit leader waits well under a millisecond: gathering must not add latency an
// appender would notice next to an fdatasync.
const _: () = assert!(GATHER_MAX_WAIT_US < 1_000);
