//! `state/engine-settings.json`: the guard limits and risk rules a reload hands the running
//! engine — written by the supervisor (durably: temp file, fdatasync, rename, directory
//! fsync), read by the engine at a bar boundary, which journals what it adopts
//! (`engine.settings`). The type is [`SettingsFile`]; its bytes are the pure codec
//! [`ballast_core::engine::settings::encode_file`] / [`decode_file`] (one line of JSON with a
//! CRC32C last, a `version`, the hash of the configuration the settings come from).

use ballast_core::engine::settings::{SettingsFile, decode_file, encode_file};
use ballast_core::limits::ENGINE_SETTINGS_FILE_MAX_BYTES;

use super::{FileError, write_atomic};
use crate::{Layout, Storage};

const WHAT: &str = "an engine settings file";
const HELP: &str =
    "the engine keeps the settings in force; run `ballast reload` to write the file again";

/// The settings file, if it is one Ballast wrote (checksum, version, size and shape checked).
pub fn read(storage: &dyn Storage, layout: &Layout) -> Result<SettingsFile, FileError> {
    let path = layout.engine_settings_file();
    let bytes = storage.read_bounded(&path, ENGINE_SETTINGS_FILE_MAX_BYTES)?;
    decode_file(&bytes).map_err(|detail| FileError::Invalid {
        path,
        what: WHAT,
        detail,
        help: HELP,
    })
}

/// Write the settings file durably (its directory created if missing).
pub fn write(storage: &dyn Storage, layout: &Layout, file: &SettingsFile) -> std::io::Result<()> {
    storage.create_dir_all(&layout.state())?;
    write_atomic(storage, &layout.engine_settings_file(), &encode_file(file))
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{layout, oversize};
    use super::*;
    use crate::storage::RealStorage;
    use ballast_core::Timestamp;
    use ballast_core::engine::EngineSettings;
    use ballast_core::engine::settings::FILE_VERSION;

    fn file() -> SettingsFile {
        let mut settings = EngineSettings::of(&ballast_core::config::builtin().unwrap());
        settings.guard.max_notional_per_order_usd = rust_decimal::Decimal::new(12345, 1);
        SettingsFile {
            version: FILE_VERSION,
            config_hash: "c0ffee".into(),
            at: Timestamp::from_unix_ms(1_000),
            settings,
        }
    }

    #[test]
    fn a_settings_file_round_trips() {
        let (_t, l) = layout();
        write(&RealStorage, &l, &file()).unwrap();
        assert_eq!(read(&RealStorage, &l).unwrap(), file());
        let text = std::fs::read_to_string(l.engine_settings_file()).unwrap();
        assert!(
            text.ends_with("\"}\n") && text.lines().count() == 1,
            "{text}"
        );
        assert!(
            text.contains("\"max_notional_per_order_usd\":\"1234.5\""),
            "{text}"
        );
    }

    #[test]
    fn a_newer_version_a_damaged_a_hand_written_and_an_oversize_file_are_refused() {
        let (_t, l) = layout();
        let path = l.engine_settings_file();
        assert!(read(&RealStorage, &l).unwrap_err().is_not_found());
        let body = "{\"version\":2,\"config_hash\":\"x\"";
        let crc = crc32c::crc32c(body.as_bytes());
        std::fs::write(&path, format!("{body},\"crc\":\"{crc:08x}\"}}\n")).unwrap();
        let e = read(&RealStorage, &l).unwrap_err().to_string();
        assert!(e.contains("format version 2") && e.contains("newer"), "{e}");
        assert!(e.contains("engine-settings.json"), "names the file: {e}");
        let mut bytes = encode_file(&file());
        let i = bytes.len() / 2;
        bytes[i] ^= 0x01;
        std::fs::write(&path, &bytes).unwrap();
        let e = read(&RealStorage, &l).unwrap_err().reason();
        assert!(e.contains("checksum does not match"), "{e}");
        std::fs::write(
            &path,
            b"{\"config_hash\":\"x\",\"settings\":{\"guard\":{}}}\n",
        )
        .unwrap();
        let e = read(&RealStorage, &l).unwrap_err().reason();
        assert!(e.contains("no checksum"), "{e}");
        let wrong = ballast_core::sealed::seal(&serde_json::json!({"version": 1, "at": 5}));
        std::fs::write(&path, wrong).unwrap();
        let e = read(&RealStorage, &l).unwrap_err().to_string();
        assert!(
            e.contains("not engine settings") && e.contains("ballast reload"),
            "{e}"
        );
        oversize(&path, ENGINE_SETTINGS_FILE_MAX_BYTES + 1);
        let e = read(&RealStorage, &l).unwrap_err();
        assert!(
            matches!(
                e,
                FileError::Read(crate::bounded::ReadError::TooLarge { .. })
            ),
            "{e}"
        );
    }
}
