//! The framing of the state files Ballast writes for another process to read
//! (`state/policy.json`, `state/engine-settings.json`): one line of JSON (readable with `jq`)
//! whose last field `crc` is the CRC32C (lower-case hex) of every byte before `,"crc":`, as in
//! the journal's records — so a reader tells a file Ballast wrote from a damaged or
//! hand-written one — with a `version` (absent in files written before it: 1) and a size bound.

use serde::{Deserialize, Serialize};

/// `,"crc":"` + 8 hex digits + `"}`: the file ends like a journal record.
const CRC_HEAD: &[u8] = b",\"crc\":\"";
const CRC_SUFFIX_LEN: usize = CRC_HEAD.len() + 8 + 2;

/// The bytes of `body` (a struct serializing as a JSON object) sealed: one line, `crc` last.
pub fn seal<T: Serialize + ?Sized>(body: &T) -> Vec<u8> {
    // A struct of strings, numbers and enums always serializes.
    let mut out = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    out.pop(); // the closing brace: the checksum goes before it
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(CRC_HEAD);
    out.extend_from_slice(format!("{crc:08x}").as_bytes());
    out.extend_from_slice(b"\"}\n");
    out
}

/// What a sealed file is, for the reader's messages.
#[derive(Debug, Clone, Copy)]
pub struct Kind {
    /// "a policy file", "an engine settings file".
    pub what: &'static str,
    /// The longest such file a reader takes.
    pub max_bytes: u64,
    /// The newest format version this build reads.
    pub version: u32,
    /// What to do about a newer one besides running that Ballast ("let this supervisor write
    /// it again").
    pub rewrite: &'static str,
}

/// The JSON line of a sealed file, once its size, checksum and version are checked (the caller
/// parses it as its type). The error says what is wrong, in words.
pub fn open<'a>(bytes: &'a [u8], kind: &Kind) -> Result<&'a [u8], String> {
    let Kind {
        what,
        max_bytes,
        version: supported,
        rewrite,
    } = *kind;
    if bytes.len() as u64 > max_bytes {
        return Err(format!(
            "it is {} bytes, more than the {max_bytes} {what} can be",
            bytes.len()
        ));
    }
    let line = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if line.len() < CRC_SUFFIX_LEN + 2 {
        return Err(format!("it is too short to be {what} Ballast wrote"));
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
    // The computed checksum is never said: it would be the one to forge the file with.
    if stored != actual {
        return Err(String::from(
            "its checksum does not match its content: it was changed or damaged after Ballast wrote it",
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
    if let Some(v) = version.filter(|v| *v > f64::from(supported)) {
        return Err(format!(
            "it is of format version {v}, newer than version {supported} that this Ballast reads: a newer Ballast wrote it; run that version, or {rewrite}"
        ));
    }
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIND: Kind = Kind {
        what: "a test file",
        max_bytes: 200,
        version: 1,
        rewrite: "write it again",
    };

    #[test]
    fn a_sealed_line_opens_and_every_flipped_byte_is_refused() {
        let bytes = seal(&serde_json::json!({"version": 1, "a": "b"}));
        assert!(bytes.ends_with(b"\"}\n"));
        assert_eq!(
            open(&bytes, &KIND).unwrap(),
            &bytes[..bytes.len() - 1],
            "the line without its newline"
        );
        for i in 0..bytes.len() - 1 {
            let mut b = bytes.clone();
            b[i] ^= 0x01;
            assert!(open(&b, &KIND).is_err(), "byte {i} flipped");
        }
        let big = vec![b' '; 201];
        assert!(open(&big, &KIND).unwrap_err().contains("more than the 200"));
        assert!(
            open(b"", &KIND)
                .unwrap_err()
                .contains("too short to be a test file")
        );
        let newer = seal(&serde_json::json!({"version": 2.0}));
        let e = open(&newer, &KIND).unwrap_err();
        assert!(e.contains("format version 2") && e.contains("newer"), "{e}");
    }
}
