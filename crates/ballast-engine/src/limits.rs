//! The engine runtime's bounds, in one place (the core's are in `ballast_core::limits` and
//! beside the decisions they bound; the configurable ones are in the configuration schema).

/// Bytes of the inbox read per loop for its lines, at most.
pub const INBOX_CHUNK_BYTES: usize = 64 * 1024;
/// Bytes of one over-long inbox line skipped (and streamed to quarantine) per loop, at most.
pub const INBOX_LONG_LINE_BYTES_PER_LOOP: u64 = 1 << 20;
/// Rejected inbox lines logged one by one (per process), then one in
/// [`INBOX_REJECTIONS_LOGGED_EVERY`].
pub const INBOX_REJECTIONS_LOGGED_EACH: u64 = 20;
pub const INBOX_REJECTIONS_LOGGED_EVERY: u64 = 1_000;

/// Recent decisions in the pipeline report.
pub const REPORT_DECISIONS: usize = 50;

/// Skipped-row errors of a market data file kept for the report.
pub const FEED_KEEP_ERRORS: usize = 5;
/// Bytes of a market data file read at a time when a range's last line runs past its end,
/// and for the header.
pub const FEED_STEP_BYTES: usize = 64 * 1024;

const _: () = {
    // An over-long line is skipped in chunks of the inbox read.
    assert!(INBOX_LONG_LINE_BYTES_PER_LOOP >= INBOX_CHUNK_BYTES as u64);
    assert!(INBOX_REJECTIONS_LOGGED_EACH < INBOX_REJECTIONS_LOGGED_EVERY);
};
