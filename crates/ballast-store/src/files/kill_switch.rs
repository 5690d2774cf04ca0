//! `KILL_SWITCH` (the request to engage, written by `ballast kill`) and `KILL_SWITCH.release`
//! (the release `ballast resume` writes), both read by the engine, which journals what they
//! ask (SPEC §5). The request's mere presence engages the switch: an empty or hand-written
//! file is still a request (its reason is then [`DEFAULT_REASON`]), so a reader error never
//! keeps the switch off — [`request`] says so.

use serde::{Deserialize, Serialize};

use super::{FileError, read_json, write_atomic};
use crate::bounded::MAX_FILE_BYTES;
use crate::{Layout, Storage};
use ballast_core::Timestamp;
use ballast_core::engine::kill_switch::ReleaseToken;

/// The reason of a request whose file does not say one.
pub const DEFAULT_REASON: &str = "KILL_SWITCH file present";

/// The content of `KILL_SWITCH`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillSwitch {
    /// Format version ([`super::VERSION`]; absent before it was written: 1).
    #[serde(default = "super::v1")]
    pub version: u32,
    pub engaged_at: Option<Timestamp>,
    pub reason: Option<String>,
    /// Close every position at market too.
    #[serde(default)]
    pub flatten: bool,
    pub by: Option<String>,
}

/// The content of `KILL_SWITCH.release`: the token the pure kill switch takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseFile {
    /// Format version ([`super::VERSION`]; absent before it was written: 1).
    #[serde(default = "super::v1")]
    pub version: u32,
    #[serde(flatten)]
    pub token: ReleaseToken,
}

const WHAT: &str = "a kill switch request";
const HELP: &str = "it still engages the kill switch; `ballast kill` writes a proper one";
const RELEASE_WHAT: &str = "a kill switch release";
const RELEASE_HELP: &str =
    "it releases nothing and the engine removes it; `ballast resume` writes a proper one";

/// Whether a request to engage is there (whatever its content; a link at its name too).
pub fn requested(layout: &Layout) -> bool {
    std::fs::symlink_metadata(layout.kill_switch()).is_ok()
}

/// `KILL_SWITCH`'s content.
pub fn read(storage: &dyn Storage, layout: &Layout) -> Result<KillSwitch, FileError> {
    read_json(storage, &layout.kill_switch(), MAX_FILE_BYTES, WHAT, HELP)
}

/// The request as the engine follows it, if one is there: its reason (or
/// [`DEFAULT_REASON`] when it does not say one as a string) and whether to flatten (`flatten`
/// is `true`). Each field is taken on its own, whatever the rest of the file holds — a bad
/// field, a newer version, or content that is no request at all — because the file's mere
/// presence engages the switch, and a close-all an operator asked for is never dropped for a
/// flaw elsewhere in the file.
pub fn request(storage: &dyn Storage, layout: &Layout) -> Option<(String, bool)> {
    if !requested(layout) {
        return None;
    }
    let followed = storage
        .read_bounded(&layout.kill_switch(), MAX_FILE_BYTES)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<AsFollowed>(&bytes).ok())
        .unwrap_or_default();
    let reason = followed.reason.unwrap_or_else(|| DEFAULT_REASON.to_owned());
    Some((reason, followed.flatten == Some(true)))
}

/// What the engine follows of `KILL_SWITCH`: each field if it has its type, else nothing.
#[derive(Default, Deserialize)]
struct AsFollowed {
    #[serde(default, deserialize_with = "if_its_type")]
    reason: Option<String>,
    #[serde(default, deserialize_with = "if_its_type")]
    flatten: Option<bool>,
}

/// A field's value if it has the field's type, `None` otherwise (never an error).
fn if_its_type<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let value = serde_json::Value::deserialize(d)?;
    Ok(T::deserialize(value).ok())
}

/// Write `KILL_SWITCH` durably.
pub fn write(storage: &dyn Storage, layout: &Layout, file: &KillSwitch) -> std::io::Result<()> {
    let mut text = serde_json::to_string(file).map_err(std::io::Error::other)?;
    text.push('\n');
    write_atomic(storage, &layout.kill_switch(), text.as_bytes())
}

/// `KILL_SWITCH.release`'s token.
pub fn read_release(storage: &dyn Storage, layout: &Layout) -> Result<ReleaseToken, FileError> {
    let path = layout.kill_switch_release();
    read_json::<ReleaseFile>(storage, &path, MAX_FILE_BYTES, RELEASE_WHAT, RELEASE_HELP)
        .map(|f| f.token)
}

/// Write `KILL_SWITCH.release` durably.
pub fn write_release(
    storage: &dyn Storage,
    layout: &Layout,
    token: &ReleaseToken,
) -> std::io::Result<()> {
    let file = ReleaseFile {
        version: super::VERSION,
        token: token.clone(),
    };
    let mut text = serde_json::to_string(&file).map_err(std::io::Error::other)?;
    text.push('\n');
    write_atomic(storage, &layout.kill_switch_release(), text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{layout, oversize};
    use super::*;
    use crate::storage::RealStorage;

    fn kill() -> KillSwitch {
        KillSwitch {
            version: 1,
            engaged_at: Some(Timestamp::from_unix_ms(1_000)),
            reason: Some("drill".into()),
            flatten: true,
            by: Some("ballast kill".into()),
        }
    }

    fn token() -> ReleaseToken {
        ReleaseToken {
            released_at: Timestamp::from_unix_ms(2_000),
            by: "ballast resume".into(),
            engaged_reason: Some("drill".into()),
        }
    }

    #[test]
    fn a_request_and_a_release_round_trip() {
        let (_t, l) = layout();
        assert_eq!(request(&RealStorage, &l), None);
        write(&RealStorage, &l, &kill()).unwrap();
        assert_eq!(read(&RealStorage, &l).unwrap(), kill());
        assert_eq!(request(&RealStorage, &l), Some(("drill".into(), true)));
        write_release(&RealStorage, &l, &token()).unwrap();
        assert_eq!(read_release(&RealStorage, &l).unwrap(), token());
    }

    #[test]
    fn files_written_before_the_version_read_back_and_any_file_is_a_request() {
        let (_t, l) = layout();
        // As `ballast kill` and `ballast resume` wrote them before (json! sorts its keys).
        std::fs::write(
            l.kill_switch(),
            "{\"by\":\"ballast kill\",\"engaged_at\":\"1970-01-01T00:00:01.000Z\",\"flatten\":true,\"reason\":\"drill\"}\n",
        )
        .unwrap();
        assert_eq!(read(&RealStorage, &l).unwrap(), kill());
        std::fs::write(
            l.kill_switch_release(),
            "{\"released_at\":\"1970-01-01T00:00:02.000Z\",\"by\":\"ballast resume\",\"engaged_reason\":\"drill\"}\n",
        )
        .unwrap();
        assert_eq!(read_release(&RealStorage, &l).unwrap(), token());
        // `touch KILL_SWITCH`, or a file that says something else: still a request.
        std::fs::write(l.kill_switch(), b"").unwrap();
        assert_eq!(
            request(&RealStorage, &l),
            Some((DEFAULT_REASON.into(), false))
        );
        std::fs::write(l.kill_switch(), b"{\"reason\":\"r\",\"flatten\":\"yes\"}").unwrap();
        assert_eq!(request(&RealStorage, &l), Some(("r".into(), false)));
    }

    #[test]
    fn a_request_is_followed_field_by_field_whatever_else_the_file_holds() {
        // What the engine follows of a hand-written request: its `reason` if it is a string,
        // and `flatten` if it is `true` — a flaw in another field, or a newer version, never
        // drops the close-all an operator asked for.
        let (_t, l) = layout();
        for (text, reason, flatten) in [
            (r#"{"flatten":true,"reason":5}"#, DEFAULT_REASON, true),
            (r#"{"flatten":true,"by":5,"reason":"r"}"#, "r", true),
            (
                r#"{"flatten":true,"engaged_at":"bogus","reason":"r"}"#,
                "r",
                true,
            ),
            (r#"{"version":2,"flatten":true,"reason":"r"}"#, "r", true),
            (r#"{"version":"1","flatten":true}"#, DEFAULT_REASON, true),
            (r#"{"flatten":1,"reason":"r"}"#, "r", false),
            (r#"{"flatten":"yes"}"#, DEFAULT_REASON, false),
            (r#"[1,2]"#, DEFAULT_REASON, false),
            ("null", DEFAULT_REASON, false),
            (r#"{"flatten":true"#, DEFAULT_REASON, false),
        ] {
            std::fs::write(l.kill_switch(), text).unwrap();
            assert_eq!(
                request(&RealStorage, &l),
                Some((reason.to_owned(), flatten)),
                "{text}"
            );
        }
    }

    #[test]
    fn a_newer_version_a_bad_shape_and_an_oversize_file_are_refused() {
        let (_t, l) = layout();
        std::fs::write(l.kill_switch(), b"{\"version\":1e1,\"reason\":\"r\"}").unwrap();
        let e = read(&RealStorage, &l).unwrap_err();
        assert!(matches!(e, FileError::Version { .. }), "{e}");
        assert_eq!(request(&RealStorage, &l), Some(("r".into(), false)));
        std::fs::write(l.kill_switch_release(), b"{\"by\":\"me\"}").unwrap();
        let e = read_release(&RealStorage, &l).unwrap_err().to_string();
        assert!(
            e.contains("is not a kill switch release") && e.contains("released_at"),
            "{e}"
        );
        std::fs::write(l.kill_switch_release(), b"{\"version\":2}").unwrap();
        let e = read_release(&RealStorage, &l).unwrap_err();
        assert!(matches!(e, FileError::Version { .. }), "{e}");
        oversize(&l.kill_switch(), MAX_FILE_BYTES + 1);
        let e = read(&RealStorage, &l).unwrap_err();
        assert!(
            matches!(
                e,
                FileError::Read(crate::bounded::ReadError::TooLarge { .. })
            ),
            "{e}"
        );
        assert_eq!(
            request(&RealStorage, &l),
            Some((DEFAULT_REASON.into(), false))
        );
    }
}
