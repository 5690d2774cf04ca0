//! The record framing shared by journal lines and snapshot files.
//!
//! A record is one line of JSON, readable with `jq`:
//!
//! ```text
//! {"v":1,"seq":42,"ts":"2026-11-22T22:59:20.123Z","type":"order.intent","body":{...},"crc":"1a2b3c4d"}
//! ```
//!
//! `crc` is the CRC32C (lower-case hex) of every byte of the line before `,"crc":`. It sits at
//! a fixed place at the end, so a reader checks it before parsing anything.

use std::borrow::Cow;

use ballast_core::Timestamp;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::limits::RECORD_KIND_MAX_BYTES;

/// The record format this build writes and the newest it reads.
pub const SCHEMA_VERSION: u32 = 1;

/// `,"crc":"` + 8 hex digits + `"}`.
const SUFFIX_LEN: usize = SUFFIX_HEAD.len() + 8 + 2;
const SUFFIX_HEAD: &[u8] = b",\"crc\":\"";

/// Is `kind` a valid event type: `[a-z][a-z0-9_.-]*`, at most 64 characters?
pub fn valid_kind(kind: &str) -> bool {
    let b = kind.as_bytes();
    !b.is_empty()
        && b.len() <= RECORD_KIND_MAX_BYTES
        && b[0].is_ascii_lowercase()
        && b.iter().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'_' | b'.' | b'-')
        })
}

/// Append one framed record (with its trailing newline) to `out`. `body` is serialized JSON
/// (serde_json's compact output never contains a raw newline). `kind` must be [`valid_kind`].
/// Returns the record's CRC32C (what a snapshot binds itself to).
pub fn encode(out: &mut Vec<u8>, seq: u64, ts: Timestamp, kind: &str, body: &[u8]) -> u32 {
    debug_assert!(valid_kind(kind), "invalid record kind {kind:?}");
    debug_assert!(!body.contains(&b'\n'), "record body contains a newline");
    let start = out.len();
    out.extend_from_slice(b"{\"v\":");
    out.extend_from_slice(SCHEMA_VERSION.to_string().as_bytes());
    out.extend_from_slice(b",\"seq\":");
    out.extend_from_slice(seq.to_string().as_bytes());
    out.extend_from_slice(b",\"ts\":\"");
    out.extend_from_slice(ts.to_string().as_bytes());
    out.extend_from_slice(b"\",\"type\":\"");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\",\"body\":");
    out.extend_from_slice(body);
    let crc = crc32c::crc32c(&out[start..]);
    out.extend_from_slice(SUFFIX_HEAD);
    out.extend_from_slice(format!("{crc:08x}").as_bytes());
    out.extend_from_slice(b"\"}\n");
    crc
}

/// A decoded record borrowing from the line it was read from.
#[derive(Debug)]
pub struct RecordRef<'a> {
    pub seq: u64,
    pub ts: Timestamp,
    pub kind: Cow<'a, str>,
    pub body: &'a RawValue,
    /// The line, without its newline.
    pub line: &'a [u8],
}

impl RecordRef<'_> {
    /// The record's CRC32C, as stored at the end of its line (checked by [`decode`]).
    pub fn crc(&self) -> u32 {
        let hex = &self.line[self.line.len() - SUFFIX_LEN + SUFFIX_HEAD.len()..self.line.len() - 2];
        hex.iter()
            .fold(0u32, |acc, b| acc << 4 | hex_value(*b).unwrap_or(0))
    }
}

/// Why a line is not a valid record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineError {
    /// Bad framing or checksum: the bytes are not what was written.
    Corrupt(String),
    /// A valid record of a newer format than this build understands.
    NewerSchema { found: u32 },
}

/// Only the format version: read first, so that a newer record with fields this build does
/// not know is a schema problem ("upgrade Ballast"), never taken for corruption.
#[derive(Deserialize)]
struct Version {
    v: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire<'a> {
    v: u32,
    seq: u64,
    #[serde(borrow)]
    ts: Cow<'a, str>,
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    body: &'a RawValue,
    #[allow(dead_code)]
    #[serde(borrow)]
    crc: Cow<'a, str>,
}

fn hex_value(b: u8) -> Option<u32> {
    match b {
        b'0'..=b'9' => Some(u32::from(b - b'0')),
        b'a'..=b'f' => Some(u32::from(b - b'a' + 10)),
        _ => None,
    }
}

/// A line that is a whole JSON object of a newer format (`"v"` above this build's), whatever
/// its framing: a newer Ballast may frame or checksum its records differently, so such a line
/// is never taken for corruption (and never cut or salvaged) — it is a schema problem.
fn newer_format(line: &[u8]) -> Option<u32> {
    // Any JSON number (`2`, `2.0`, `1e1`): a newer writer's, whatever it chose.
    #[derive(Deserialize)]
    struct AnyVersion {
        v: f64,
    }
    let v = serde_json::from_slice::<AnyVersion>(line).ok()?.v;
    (v.is_finite() && v > f64::from(SCHEMA_VERSION))
        .then(|| v.ceil().min(f64::from(u32::MAX)) as u32)
}

/// Decode and validate one line (without its newline).
pub fn decode(line: &[u8]) -> Result<RecordRef<'_>, LineError> {
    decode_framed(line).map_err(|e| match (&e, newer_format(line)) {
        (LineError::Corrupt(_), Some(found)) => LineError::NewerSchema { found },
        _ => e,
    })
}

fn decode_framed(line: &[u8]) -> Result<RecordRef<'_>, LineError> {
    let corrupt = |why: &str| LineError::Corrupt(why.to_owned());
    if line.len() < SUFFIX_LEN + 2 {
        return Err(corrupt("line too short to be a record"));
    }
    let (prefix, suffix) = line.split_at(line.len() - SUFFIX_LEN);
    if &suffix[..SUFFIX_HEAD.len()] != SUFFIX_HEAD || &suffix[SUFFIX_LEN - 2..] != b"\"}" {
        return Err(corrupt("no checksum at the end of the line"));
    }
    let mut stored = 0u32;
    for &b in &suffix[SUFFIX_HEAD.len()..SUFFIX_LEN - 2] {
        stored =
            stored << 4 | hex_value(b).ok_or_else(|| corrupt("checksum is not lower-case hex"))?;
    }
    let actual = crc32c::crc32c(prefix);
    if stored != actual {
        // The computed checksum is never said: it would be the one to forge the line with.
        return Err(LineError::Corrupt(
            "the checksum does not match the line's content".into(),
        ));
    }
    let version: Version = serde_json::from_slice(line)
        .map_err(|e| LineError::Corrupt(format!("checksum ok but not a record: {e}")))?;
    if version.v > SCHEMA_VERSION {
        return Err(LineError::NewerSchema { found: version.v });
    }
    let wire: Wire<'_> = serde_json::from_slice(line)
        .map_err(|e| LineError::Corrupt(format!("checksum ok but not a record: {e}")))?;
    if wire.v == 0 {
        return Err(corrupt("record format version 0"));
    }
    if !valid_kind(&wire.kind) {
        return Err(corrupt("invalid event type"));
    }
    let ts = Timestamp::parse_rfc3339(&wire.ts).map_err(|e| LineError::Corrupt(e.to_string()))?;
    Ok(RecordRef {
        seq: wire.seq,
        ts,
        kind: wire.kind,
        body: wire.body,
        line,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_6_a_newer_record_framed_differently_is_newer_not_corrupt() {
        // An extra field after the checksum: this build's framing does not hold, the line is
        // still a whole JSON object of format 2.
        let line = br#"{"v":2,"seq":7,"ts":"2026-12-01T00:00:00.000Z","type":"market.bar","body":{},"crc":"00000000","sig":"ab"}"#;
        assert_eq!(
            decode(line).unwrap_err(),
            LineError::NewerSchema { found: 2 }
        );
        // A damaged line of this format stays corrupt.
        let bad = br#"{"v":1,"seq":7,"ts":"2026-12-01T00:00:00.000Z","type":"market.bar","body":{},"crc":"00000000","sig":"ab"}"#;
        assert!(matches!(decode(bad), Err(LineError::Corrupt(_))));
        assert!(matches!(decode(b"{\"v\":2"), Err(LineError::Corrupt(_))));
        for v in ["2.0", "1e1", "1.5"] {
            let line = format!("{{\"v\":{v},\"seq\":1587}}");
            assert!(
                matches!(decode(line.as_bytes()), Err(LineError::NewerSchema { .. })),
                "{v}"
            );
        }
    }

    fn one(seq: u64, body: &str) -> Vec<u8> {
        let mut out = Vec::new();
        encode(
            &mut out,
            seq,
            Timestamp::from_unix_ms(1_763_852_360_123),
            "order.intent",
            body.as_bytes(),
        );
        out
    }

    #[test]
    fn round_trip_and_jq_readable() {
        let line = one(42, r#"{"qty":"1.5","sym":"AAPL"}"#);
        assert_eq!(line.last(), Some(&b'\n'));
        let text = std::str::from_utf8(&line).unwrap();
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(v["seq"], 42);
        assert_eq!(v["type"], "order.intent");
        assert_eq!(v["body"]["qty"], "1.5");
        let r = decode(&line[..line.len() - 1]).unwrap();
        assert_eq!(r.seq, 42);
        assert_eq!(r.ts.to_string(), "2025-11-22T22:59:20.123Z");
        assert_eq!(r.body.get(), r#"{"qty":"1.5","sym":"AAPL"}"#);
    }

    #[test]
    fn every_single_byte_change_is_detected() {
        let line = one(7, r#"{"a":[1,2,3],"crc":"x"}"#);
        let line = &line[..line.len() - 1];
        for i in 0..line.len() {
            for flip in [0x01u8, 0x20, 0xff] {
                let mut bad = line.to_vec();
                bad[i] ^= flip;
                assert!(decode(&bad).is_err(), "byte {i} ^ {flip:#x} went unnoticed");
            }
        }
    }

    #[test]
    fn newer_schema_is_not_corruption() {
        let mut line = one(1, "{}");
        line.pop();
        let text = String::from_utf8(line)
            .unwrap()
            .replacen("\"v\":1", "\"v\":9", 1);
        let prefix_end = text.len() - SUFFIX_LEN;
        let crc = crc32c::crc32c(&text.as_bytes()[..prefix_end]);
        let fixed = format!("{},\"crc\":\"{crc:08x}\"}}", &text[..prefix_end]);
        assert_eq!(
            decode(fixed.as_bytes()).unwrap_err(),
            LineError::NewerSchema { found: 9 }
        );
    }

    /// Issue 10 item 6: a newer record may carry fields this build does not know; the version
    /// is read before unknown fields are rejected.
    #[test]
    fn item_6_a_newer_record_with_an_extra_field_is_newer_not_corrupt() {
        let mut line = one(1, "{}");
        line.pop();
        let text = String::from_utf8(line)
            .unwrap()
            .replacen("\"v\":1", "\"v\":2", 1)
            .replacen(",\"crc\":", ",\"origin\":\"x\",\"crc\":", 1);
        let prefix_end = text.len() - SUFFIX_LEN;
        let crc = crc32c::crc32c(&text.as_bytes()[..prefix_end]);
        let fixed = format!("{},\"crc\":\"{crc:08x}\"}}", &text[..prefix_end]);
        assert_eq!(
            decode(fixed.as_bytes()).unwrap_err(),
            LineError::NewerSchema { found: 2 }
        );
        // The same extra field in a v1 record is corruption.
        let v1 = fixed.replacen("\"v\":2", "\"v\":1", 1);
        let prefix_end = v1.len() - SUFFIX_LEN;
        let crc = crc32c::crc32c(&v1.as_bytes()[..prefix_end]);
        let v1 = format!("{},\"crc\":\"{crc:08x}\"}}", &v1[..prefix_end]);
        assert!(matches!(decode(v1.as_bytes()), Err(LineError::Corrupt(_))));
    }

    #[test]
    fn crc_of_a_decoded_record_is_the_one_encode_returned() {
        let mut out = Vec::new();
        let crc = encode(&mut out, 3, Timestamp::from_unix_ms(5), "a.b", b"{}");
        assert_eq!(decode(&out[..out.len() - 1]).unwrap().crc(), crc);
    }

    #[test]
    fn kinds() {
        assert!(valid_kind("signal.accepted"));
        assert!(!valid_kind("Signal"));
        assert!(!valid_kind(""));
        assert!(!valid_kind("a\"b"));
    }
}
