//! `state/policy.json`: the safety policy the supervisor writes (durably: temp file,
//! fdatasync, rename, directory fsync) and the engine follows. The type is
//! [`PolicyState`]; its bytes are the pure codec [`ballast_core::policy::encode_file`] /
//! [`ballast_core::policy::decode_file`] (one line of JSON with a CRC32C last, a `version`,
//! the journal it is bound to).

use ballast_core::policy::{FileRead, PolicyState, decode_file, encode_file};

use super::{FileError, write_atomic};
use crate::bounded::MAX_FILE_BYTES;
use crate::{Layout, Storage};

const WHAT: &str = "a policy file";
const HELP: &str = "the supervisor writes it again from the engine's journal at its start";

/// The policy file, if it is one Ballast wrote (checksum, version and shape checked).
pub fn read(storage: &dyn Storage, layout: &Layout) -> Result<PolicyState, FileError> {
    let path = layout.policy_file();
    let bytes = storage.read_bounded(&path, MAX_FILE_BYTES)?;
    decode_file(&bytes).map_err(|detail| FileError::Invalid {
        path,
        what: WHAT,
        detail,
        help: HELP,
    })
}

/// [`read`] as the policy's restore and the supervisor's check take it.
pub fn read_state(storage: &dyn Storage, layout: &Layout) -> FileRead {
    match read(storage, layout) {
        Ok(s) => FileRead::Valid(s),
        Err(e) if e.is_not_found() => FileRead::Missing,
        Err(e) => FileRead::Unreadable(e.reason()),
    }
}

/// Write the policy file durably (its directory created if missing).
pub fn write(storage: &dyn Storage, layout: &Layout, state: &PolicyState) -> std::io::Result<()> {
    storage.create_dir_all(&layout.state())?;
    write_atomic(storage, &layout.policy_file(), &encode_file(state))
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{layout, oversize};
    use super::*;
    use crate::storage::RealStorage;
    use ballast_core::Timestamp;
    use ballast_core::policy::Policy;

    fn state() -> PolicyState {
        let mut s = PolicyState::new(Timestamp::from_unix_ms(1_000));
        s.policy = Policy::NoNewTrades;
        s.reason = "test".into();
        s.journal = Some("0badf00d".into());
        s
    }

    #[test]
    fn a_policy_file_round_trips() {
        let (_t, l) = layout();
        write(&RealStorage, &l, &state()).unwrap();
        assert_eq!(read(&RealStorage, &l).unwrap(), state());
        assert_eq!(read_state(&RealStorage, &l), FileRead::Valid(state()));
    }

    #[test]
    fn a_policy_file_written_before_the_version_reads_back() {
        let (_t, l) = layout();
        // The bytes the supervisor wrote before the file had a version.
        std::fs::write(
            l.policy_file(),
            "{\"policy\":\"NO_NEW_TRADES\",\"since\":\"1970-01-01T00:00:01.000Z\",\"reason\":\"test\",\"lower_since\":null,\"floor\":null,\"latches\":[],\"releases\":0,\"journal\":\"0badf00d\",\"trading_state\":\"REDUCING\",\"size_multiplier\":\"1\",\"trading_allowed\":false,\"crc\":\"03887852\"}\n",
        )
        .unwrap();
        assert_eq!(read(&RealStorage, &l).unwrap(), state());
    }

    #[test]
    fn a_newer_version_a_damaged_and_an_oversize_file_are_refused() {
        let (_t, l) = layout();
        let body = "{\"version\":2,\"policy\":\"ALLOW_ALL\"";
        let crc = crc32c::crc32c(body.as_bytes());
        std::fs::write(l.policy_file(), format!("{body},\"crc\":\"{crc:08x}\"}}\n")).unwrap();
        let e = read(&RealStorage, &l).unwrap_err().to_string();
        assert!(e.contains("format version 2") && e.contains("newer"), "{e}");
        std::fs::write(l.policy_file(), b"{\"policy\":\"ALLOW_ALL\"}\n").unwrap();
        let FileRead::Unreadable(why) = read_state(&RealStorage, &l) else {
            panic!("a hand-written file was taken");
        };
        assert!(why.contains("no checksum"), "{why}");
        oversize(&l.policy_file(), MAX_FILE_BYTES + 1);
        let e = read(&RealStorage, &l).unwrap_err();
        assert!(
            matches!(
                e,
                FileError::Read(crate::bounded::ReadError::TooLarge { .. })
            ),
            "{e}"
        );
        std::fs::remove_file(l.policy_file()).unwrap();
        assert_eq!(read_state(&RealStorage, &l), FileRead::Missing);
    }
}
