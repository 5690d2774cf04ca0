//! `run/engine-config.json`: the configuration in force, as the supervisor hands it to the
//! engine it starts. A supervised engine starts from the configuration the supervisor runs —
//! the one it started with, or the last one a reload applied — never from the file on disk,
//! which may have been edited since and not reloaded (or refused): an engine restart must not
//! apply a change the reload plan refused or never saw. Sealed like the policy file
//! ([`crate::sealed`]): one JSON line, a `version`, the hash of the file it was loaded from,
//! CRC32C last.

use serde::{Deserialize, Serialize};

use super::Config;
use crate::limits::ENGINE_CONFIG_FILE_MAX_BYTES;
use crate::sealed::{Kind, open, seal};

/// The format this build writes and the newest it reads.
pub const FILE_VERSION: u32 = 1;

const KIND: Kind = Kind {
    what: "a configuration-in-force file",
    max_bytes: ENGINE_CONFIG_FILE_MAX_BYTES,
    version: FILE_VERSION,
    rewrite: "start `ballast run` again, which writes it",
};

/// The configuration in force and the hash of the file it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InForce {
    #[serde(default = "v1")]
    pub version: u32,
    /// `crc32c:…` of the configuration file's bytes (`built-in` without a file).
    pub hash: String,
    pub config: Config,
}

fn v1() -> u32 {
    FILE_VERSION
}

impl InForce {
    /// The engine's copy of `config`: only what the engine runs on. The engine sends no alert
    /// and runs no service, check or artifact, so `[alerts]`' sinks and heartbeat URL (webhook
    /// passwords, tokens, URL keys) and the `[[services]]` (their env and args), `[[checks]]`
    /// and `[[artifacts]]` are left out: a secret the engine does not need is not copied.
    pub fn new(hash: &str, config: &Config) -> InForce {
        let mut config = config.clone();
        config.alerts.sinks.clear();
        config.alerts.heartbeat_url.clear();
        config.services.clear();
        config.checks.clear();
        config.artifacts.clear();
        InForce {
            version: FILE_VERSION,
            hash: hash.to_owned(),
            config,
        }
    }
}

/// The file's bytes, or why it cannot be written (larger than a reader takes).
pub fn encode_file(file: &InForce) -> Result<Vec<u8>, String> {
    let bytes = seal(file);
    if bytes.len() as u64 > ENGINE_CONFIG_FILE_MAX_BYTES {
        return Err(format!(
            "the configuration in force is {} bytes as JSON, more than the {ENGINE_CONFIG_FILE_MAX_BYTES} {} can be: shorten the configuration (its [[services]], [[checks]], [[artifacts]])",
            bytes.len(),
            KIND.what
        ));
    }
    Ok(bytes)
}

/// The configuration in force, if the file is one Ballast wrote (size, checksum, version and
/// shape checked). The error says what is wrong, in words.
pub fn decode_file(bytes: &[u8]) -> Result<InForce, String> {
    let line = open(bytes, &KIND)?;
    serde_json::from_slice(line).map_err(|e| {
        format!(
            "its content is not a configuration this Ballast reads ({e}): start `ballast run` again, which writes it"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_in_force_round_trips_and_a_damaged_file_is_refused() {
        let mut config = crate::config::builtin().unwrap();
        config.guard.max_open_orders = 7;
        let file = InForce::new("crc32c:0badf00d", &config);
        assert!(file.config.alerts.sinks.is_empty() && file.config.services.is_empty());
        let bytes = encode_file(&file).unwrap();
        assert_eq!(decode_file(&bytes).unwrap(), file);
        let mut flipped = bytes.clone();
        let at = flipped.len() / 2;
        flipped[at] ^= 0x01;
        let err = decode_file(&flipped).unwrap_err();
        assert!(err.contains("checksum"), "{err}");
        assert!(decode_file(b"{}").unwrap_err().contains("too short"));
    }
}
