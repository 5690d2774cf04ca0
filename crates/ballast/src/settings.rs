//! Reading the configuration file and environment (the I/O half of configuration; the
//! validation itself is `ballast_core::config::load`).

use std::path::{Path, PathBuf};

use ballast_core::config::{self, Config, ConfigError, ConfigErrors, Origin, Source};

/// The default data directory.
pub const DEFAULT_DATA_DIR: &str = "./ballast-data";

/// Load the configuration from `file` (or the built-in paper configuration) plus the
/// process environment.
pub fn load(file: Option<&Path>) -> Result<Config, ConfigErrors> {
    let env: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    match file {
        None => config::load(None, &env),
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                let help = if e.kind() == std::io::ErrorKind::NotFound {
                    "run `ballast init` to write a commented sample, or omit --config to use the built-in paper configuration"
                } else {
                    "check the path and its permissions"
                };
                ConfigErrors(vec![ConfigError {
                    origin: Origin::File {
                        path: path.display().to_string(),
                        line: 1,
                        col: 1,
                    },
                    message: format!("cannot read the configuration file: {e}"),
                    help: Some(help.into()),
                }])
            })?;
            config::load(
                Some(Source {
                    path: &path.display().to_string(),
                    text: &text,
                }),
                &env,
            )
        }
    }
}

/// The data directory: `--data-dir` / `BALLAST_HOME` (clap resolves both), else the
/// configuration's `[general] data_dir`, else `./ballast-data`.
pub fn data_dir(flag: Option<&Path>, config: Option<&Config>) -> PathBuf {
    if let Some(p) = flag {
        return p.to_path_buf();
    }
    match config {
        Some(c) => PathBuf::from(&c.general.data_dir),
        None => PathBuf::from(DEFAULT_DATA_DIR),
    }
}
