//! Bounds shared by every crate.

/// The largest file Ballast reads whole when it comes from outside its own writes: the
/// configuration, declared `json` / `jsonl` artifacts, the policy, health and heartbeat
/// files, the kill switch (1 MiB). Market data (CSV) is streamed and not bound by it.
pub const MAX_FILE_BYTES: u64 = 1 << 20;
