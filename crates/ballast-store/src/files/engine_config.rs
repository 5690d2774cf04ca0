//! `run/engine-config.json`: the configuration in force, written by the supervisor (durably:
//! temp file, fdatasync, rename, directory fsync) at its start and at every applied reload, read
//! by the engine it starts ([`ballast_core::config::in_force`]).

use ballast_core::config::in_force::{InForce, decode_file, encode_file};
use ballast_core::limits::ENGINE_CONFIG_FILE_MAX_BYTES;

use super::{FileError, write_atomic};
use crate::{Layout, Storage};

const WHAT: &str = "a configuration-in-force file";
const HELP: &str = "the supervisor writes it at its start and at every reload";

/// The configuration in force, if the file is one Ballast wrote.
pub fn read(storage: &dyn Storage, layout: &Layout) -> Result<InForce, FileError> {
    let path = layout.engine_config_file();
    let bytes = storage.read_bounded(&path, ENGINE_CONFIG_FILE_MAX_BYTES)?;
    decode_file(&bytes).map_err(|detail| FileError::Invalid {
        path,
        what: WHAT,
        detail,
        help: HELP,
    })
}

/// Write it durably (`run/` created if missing), or say why not.
pub fn write(storage: &dyn Storage, layout: &Layout, file: &InForce) -> Result<(), String> {
    let path = layout.engine_config_file();
    let bytes = encode_file(file)?;
    storage
        .create_dir_all(&layout.run())
        .and_then(|()| write_atomic(storage, &path, &bytes))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::super::test_util::layout;
    use super::*;
    use crate::storage::RealStorage;

    #[test]
    fn the_configuration_in_force_round_trips_through_its_file() {
        let (_t, l) = layout();
        let file = InForce::new("built-in", &ballast_core::config::builtin().unwrap());
        write(&RealStorage, &l, &file).unwrap();
        assert_eq!(read(&RealStorage, &l).unwrap(), file);
    }
}
