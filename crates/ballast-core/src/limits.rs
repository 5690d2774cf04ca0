//! Every size bound, count bound and time limit of `ballast-core`, in one place (TigerBeetle's
//! `constants.zig` style): units in the names (`_BYTES`, `_CHARS`, `_COUNT`, `_MS`, `_BARS`), a
//! line each on what it bounds, and the relations between them checked at compile time. The
//! modules that enforce a bound import it from here; the configurable limits are in the
//! configuration schema (`config::schema`) instead.

// --- files read whole -------------------------------------------------------------------------

/// The largest file Ballast reads whole when it comes from outside its own writes: the
/// configuration, declared `json` / `jsonl` artifacts, the policy, health and heartbeat
/// files, the kill switch (1 MiB). Market data (CSV) is streamed and not bound by it.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

// --- the configuration -------------------------------------------------------------------

/// `[[services]]` entries a configuration may declare.
pub const MAX_SERVICES_COUNT: usize = 64;

/// `[[checks]]` entries a configuration may declare.
pub const MAX_CHECKS_COUNT: usize = 128;
/// Bound of `[[alerts.sinks]]` tables.
pub const MAX_ALERT_SINKS_COUNT: usize = 16;

/// `[[artifacts]]` entries a configuration may declare.
pub const MAX_ARTIFACTS_COUNT: usize = 256;

/// Entries a list or table value of the configuration may hold.
pub const MAX_LIST_ENTRIES_COUNT: usize = 256;

/// Symbols a symbol list of the configuration may hold (bounded like everything else).
pub const MAX_SYMBOLS_COUNT: usize = 10_000;

// --- identifiers and amounts -------------------------------------------------------------

/// Longest ticker symbol, in bytes (ASCII: one character each); a `Symbol` is stored inline in this many.
pub const SYMBOL_MAX_BYTES: usize = 16;

/// Longest `client_order_id`: brokers cap them (Alpaca at 48 characters).
pub const CLIENT_ORDER_ID_MAX_CHARS: usize = 48;

/// Longest broker fill id.
pub const FILL_ID_MAX_CHARS: usize = 128;

/// The most decimal places an amount may carry (prices of crypto pairs need 8 or more).
pub const MAX_DECIMAL_PLACES: u32 = 10;

// --- the inbox ---------------------------------------------------------------------------

/// Longest inbox signal line accepted (`inbox/signals.jsonl`).
pub const INBOX_MAX_LINE_BYTES: usize = 4096;

/// Longest free-text field of an inbox signal, in characters.
pub const INBOX_MAX_TEXT_CHARS: usize = 200;

// --- signals over HTTP (`POST /v1/signals`, `journal/signals/`) ---------------------------

/// Largest `POST /v1/signals` body read (a bigger one is refused with 413, unread).
pub const SIGNALS_BODY_MAX_BYTES: usize = 64 * 1024;

/// Idempotency keys of HTTP signals the API remembers (rebuilt from `journal/signals/` at a
/// start; the oldest forgotten first: a repeat of a forgotten key is a new signal).
pub const SIGNALS_DEDUP_KEYS_COUNT: usize = 100_000;

/// Signals the engine takes from `journal/signals/` in one record, at most.
pub const SIGNALS_TAKE_MAX_COUNT: usize = 256;

/// Signals `GET /v1/signals` answers in one page, at most (and by default).
pub const SIGNALS_PAGE_MAX_COUNT: usize = 1_000;
pub const SIGNALS_PAGE_DEFAULT_COUNT: usize = 100;

/// Records of `journal/signals/` one `GET /v1/signals` looks at, at most (with filters, a
/// page may end early: its `next` cursor goes on from where it stopped).
pub const SIGNALS_SCAN_MAX_COUNT: usize = 20_000;

// --- histories and books kept in memory --------------------------------------------------

/// Idempotency keys the guard remembers (oldest forgotten first).
pub const GUARD_MAX_KEYS_COUNT: usize = 100_000;

/// Recent orders the guard remembers for duplicate detection.
pub const GUARD_MAX_RECENT_COUNT: usize = 10_000;

/// Decisions kept for queries (oldest dropped first).
pub const DECISIONS_KEPT_COUNT: usize = 1_000;

/// Terminal signals kept for queries (oldest dropped first).
pub const DONE_SIGNALS_KEPT_COUNT: usize = 1_000;

/// Closed trades an engine remembers by default (older ones are counted, not kept).
pub const CLOSED_TRADES_KEPT_COUNT: usize = 1_000;

/// Bars of its symbol after which a shadow trade is closed if no exit signal came.
pub const SHADOW_HORIZON_BARS: u64 = 20;

/// Open shadow trades kept at most (the oldest is closed at its last price beyond it).
pub const SHADOW_MAX_OPEN_COUNT: usize = 10_000;

/// Closed shadow trades kept for queries.
pub const SHADOW_CLOSED_KEPT_COUNT: usize = 1_000;

/// Recommendations waiting for an operator at most (the oldest waiting one is dropped beyond it).
pub const MAX_PENDING_APPROVALS_COUNT: usize = 256;

/// Decided recommendations (approved, rejected, expired) kept for queries.
pub const DECIDED_APPROVALS_KEPT_COUNT: usize = 100;

// --- healing and the policy file ---------------------------------------------------------

/// A lock or heartbeat is considered only after this age (SPEC §4: stale locks are older
/// than 5 min).
pub const STALE_LOCK_MS: i64 = crate::time::ms_from_secs(5 * 60);

/// Declared artifact files larger than this are reported, not rewritten (the healer reads a
/// file whole to salvage it; this bounds that read).
pub const MAX_ARTIFACT_BYTES: u64 = MAX_FILE_BYTES;

/// The longest `state/policy.json` a reader takes (a few latches and a reason: far less).
pub const POLICY_FILE_MAX_BYTES: u64 = MAX_FILE_BYTES;

/// The longest `state/engine-settings.json` a reader takes (the `[guard]` and `[risk]`
/// tables and a hash: about 1 KiB).
pub const ENGINE_SETTINGS_FILE_MAX_BYTES: u64 = 64 * 1024;

/// `state/reconcile-choice.json`: one finding id, one choice, the operator's words (at most
/// 500 characters, up to 4 bytes each), a time: far below this.
pub const RECONCILE_CHOICE_FILE_MAX_BYTES: u64 = 8 * 1024;

/// The longest `run/engine-config.json` (the configuration in force, as JSON) a reader takes:
/// what a configuration file may be (1 MiB); a longer one is refused when it is written.
pub const ENGINE_CONFIG_FILE_MAX_BYTES: u64 = MAX_FILE_BYTES;

/// The longest configuration hash a settings file may name (a reload writes `crc32c:` and 8
/// hex digits, `built-in` or `unreadable`); it is journaled and logged, so it is bounded.
pub const CONFIG_HASH_MAX_CHARS: usize = 64;

// --- relations ---------------------------------------------------------------------------------

// What the healer and the policy reader take whole is never more than any reader takes whole.
const _: () = assert!(MAX_ARTIFACT_BYTES <= MAX_FILE_BYTES);
const _: () = assert!(POLICY_FILE_MAX_BYTES <= MAX_FILE_BYTES);
const _: () = assert!(ENGINE_SETTINGS_FILE_MAX_BYTES <= MAX_FILE_BYTES);
const _: () = assert!(ENGINE_CONFIG_FILE_MAX_BYTES <= MAX_FILE_BYTES);
// A text field fits in a line, with room for the rest of the signal.
const _: () = assert!(INBOX_MAX_TEXT_CHARS * 4 < INBOX_MAX_LINE_BYTES);
// A page is never more than the records one request looks at.
const _: () = assert!(SIGNALS_PAGE_MAX_COUNT <= SIGNALS_SCAN_MAX_COUNT);
const _: () = assert!(SIGNALS_PAGE_DEFAULT_COUNT <= SIGNALS_PAGE_MAX_COUNT);
// An inbox line is far below what a file read whole may be.
const _: () = assert!((INBOX_MAX_LINE_BYTES as u64) < MAX_FILE_BYTES);
// A `Symbol` packs its bytes into one `u128` (its length is read from the leading zeros).
const _: () = assert!(SYMBOL_MAX_BYTES == 16);
// A configuration's symbol list holds more than the one-per-table lists.
const _: () = assert!(MAX_LIST_ENTRIES_COUNT <= MAX_SYMBOLS_COUNT);
// A lock is called stale only after a positive age.
const _: () = assert!(STALE_LOCK_MS > 0);
