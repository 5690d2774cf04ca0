//! The keys of one `[[artifacts]]` table.

use super::{KeySpec, Kind, artifact_key};

/// The keys of one `[[artifacts]]` table: a file or directory of a user service that the
/// healer keeps healthy.
pub const ARTIFACT_KEYS: &[KeySpec] = &[
    artifact_key(
        "service",
        Kind::Text,
        "\"\"",
        "Required. The declared service the artifact belongs to.",
    ),
    artifact_key(
        "kind",
        Kind::Choice(&["dir", "json", "jsonl", "lock", "heartbeat", "cache"]),
        "\"dir\"",
        "dir: must exist; json: must parse, with required_keys (malformed: a copy to quarantine, what parses salvaged, missing keys from default); jsonl: corrupt lines to quarantine with their line numbers, valid ones kept in order; lock: a pid file, stale when its owner is dead and it is older than 5 min; heartbeat: older than max_age_secs restarts the service; cache: a directory whose contents are disposable — `clear_cache` (recommended when the disk is low or the service fails repeatedly) removes what is in it, never the directory itself nor what a symbolic link in it points to; it may not be /, a top-level directory, the data directory, above or inside it, nor the service's cwd or above it, nor be or hold any service's cwd, a declared artifact or heartbeat file, another cache (nor be inside one) or the configuration file; no component of its path may be a symbolic link (`ballast check` and every clear compare resolved paths).",
    ),
    artifact_key(
        "path",
        Kind::Text,
        "\"\"",
        "Required. The file or directory; a relative path is relative to the service's cwd.",
    ),
    artifact_key(
        "default",
        Kind::Text,
        "\"{}\"",
        "json: the default document (a JSON object, as a string); a missing file is created from it.",
    ),
    artifact_key(
        "required_keys",
        Kind::Strings,
        "[]",
        "json: top-level keys the document must have; each must be in default.",
    ),
    artifact_key(
        "max_age_secs",
        Kind::Int {
            min: 0,
            max: 86_400,
        },
        "0",
        "heartbeat: older than this restarts the service (required for a heartbeat).",
    ),
    artifact_key(
        "auto_clear",
        Kind::Bool,
        "false",
        "cache: clear it without waiting for `ballast approve` when clear_cache is recommended (false: the recommendation waits for an operator).",
    ),
    artifact_key(
        "max_clear_entries",
        Kind::Int { min: 1, max: 2_000 },
        "1000",
        "cache: entries (files, links, directories) one chunk of a clear removes at most, 2000 at most (the supervisor's loop does it, one chunk per wake-up: an entry costs about 10 µs to examine and remove, so a chunk stays near 10 ms, 20 ms at most, and nothing waits long); an approved or automatic clear goes on chunk after chunk, each journaled as cache.cleared with its counts, until the directory is empty or a chunk removes nothing (at most 1000 chunks).",
    ),
];
