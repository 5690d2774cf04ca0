//! `state/policy.json`'s codec: one line of JSON carrying the persisted [`PolicyState`]
//! and what the engine applies, ended by a CRC32C like a journal record, so a reader tells
//! a file Ballast wrote from a damaged or hand-written one.

use rust_decimal::Decimal;
use serde::Serialize;

use super::PolicyState;
use crate::guard::TradingState;
use crate::limits::POLICY_FILE_MAX_BYTES;

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
    crate::sealed::seal(&body)
}

/// Read `state/policy.json`'s bytes back: only a file whose checksum matches is a policy
/// Ballast wrote. The error says what is wrong, in words.
pub fn decode_file(bytes: &[u8]) -> Result<PolicyState, String> {
    let line = crate::sealed::open(
        bytes,
        &crate::sealed::Kind {
            what: "a policy file",
            max_bytes: POLICY_FILE_MAX_BYTES,
            version: FILE_VERSION,
            rewrite: "let this supervisor write it again",
        },
    )?;
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
