//! `state/policy.json`'s codec: one line of JSON carrying the persisted [`PolicyState`]
//! and what the engine applies, ended by a CRC32C like a journal record, so a reader tells
//! a file Ballast wrote from a damaged or hand-written one.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::PolicyState;
use crate::guard::TradingState;
use crate::limits::POLICY_FILE_MAX_BYTES;

/// `,"crc":"` + 8 hex digits + `"}`: the file ends like a journal record.
const CRC_HEAD: &[u8] = b",\"crc\":\"";
const CRC_SUFFIX_LEN: usize = CRC_HEAD.len() + 8 + 2;

/// What `state/policy.json` carries: the persisted state plus what the engine applies.
#[derive(Serialize)]
struct FileBody<'a> {
    version: u32,
    #[serde(flatten)]
    state: &'a PolicyState,
    trading_state: TradingState,
    size_multiplier: Decimal,
    trading_allowed: bool,
}

/// The bytes of `state/policy.json`: one line of JSON (readable with `jq`) whose last field
/// `crc` is the CRC32C (lower-case hex) of every byte before `,"crc":`, as in the journal's
/// records — a reader tells a file Ballast wrote from a damaged or hand-written one.
pub fn encode_file(state: &PolicyState) -> Vec<u8> {
    let p = state.policy;
    let body = FileBody {
        version: FILE_VERSION,
        state,
        trading_state: p.trading_state(),
        size_multiplier: p.size_multiplier(),
        trading_allowed: p.trading_allowed(),
    };
    // A struct of strings, numbers and enums always serializes.
    let mut out = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
    out.pop(); // the closing brace: the checksum goes before it
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(CRC_HEAD);
    out.extend_from_slice(format!("{crc:08x}").as_bytes());
    out.extend_from_slice(b"\"}\n");
    out
}

/// Read `state/policy.json`'s bytes back: only a file whose checksum matches is a policy
/// Ballast wrote. The error says what is wrong, in words.
pub fn decode_file(bytes: &[u8]) -> Result<PolicyState, String> {
    if bytes.len() as u64 > POLICY_FILE_MAX_BYTES {
        return Err(format!(
            "it is {} bytes, more than the {POLICY_FILE_MAX_BYTES} a policy file can be",
            bytes.len()
        ));
    }
    let line = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if line.len() < CRC_SUFFIX_LEN + 2 {
        return Err("it is too short to be a policy file Ballast wrote".into());
    }
    let (prefix, suffix) = line.split_at(line.len() - CRC_SUFFIX_LEN);
    if !suffix.starts_with(CRC_HEAD) || !suffix.ends_with(b"\"}") {
        return Err(
            "it has no checksum (`\"crc\"` last): Ballast did not write it (a hand-written or older file)"
                .into(),
        );
    }
    let hex = &suffix[CRC_HEAD.len()..CRC_SUFFIX_LEN - 2];
    let stored = std::str::from_utf8(hex)
        .ok()
        .filter(|h| {
            h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
        .and_then(|h| u32::from_str_radix(h, 16).ok())
        .ok_or("its checksum is not 8 lower-case hex digits")?;
    let actual = crc32c::crc32c(prefix);
    if stored != actual {
        return Err(format!(
            "its checksum does not match its content (stored {stored:08x}, computed {actual:08x}): it was changed or damaged after Ballast wrote it"
        ));
    }
    #[derive(Deserialize)]
    struct Version {
        #[serde(default)]
        version: Option<serde_json::Value>,
    }
    let version = serde_json::from_slice::<Version>(line)
        .ok()
        .and_then(|v| v.version)
        .and_then(|v| v.as_f64())
        .filter(|v| v.is_finite());
    // Any JSON number (`2`, `2.0`, `1e1`): a newer writer's, whatever it chose.
    if let Some(v) = version.filter(|v| *v > f64::from(FILE_VERSION)) {
        return Err(format!(
            "it is of format version {v}, newer than version {FILE_VERSION} that this Ballast reads: a newer Ballast wrote it; run that version, or let this supervisor write it again"
        ));
    }
    serde_json::from_slice(line).map_err(|e| format!("its content is not a policy state: {e}"))
}

/// The format version of `state/policy.json` (absent in files written before it: 1).
pub const FILE_VERSION: u32 = 1;

/// `state/policy.json` as a reader found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileRead {
    Missing,
    /// It could not be read, or is not a file Ballast wrote (why, in words).
    Unreadable(String),
    Valid(PolicyState),
}
