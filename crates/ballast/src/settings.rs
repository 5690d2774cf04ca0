//! Reading the configuration file and environment (the I/O half of configuration; the
//! validation itself is `ballast_core::config::load`).

use std::path::{Path, PathBuf};

use ballast_core::config::{self, Config, ConfigError, ConfigErrors, Origin, Source};
use ballast_store::bounded::{self, MAX_FILE_BYTES, ReadError};

/// The default data directory.
pub const DEFAULT_DATA_DIR: &str = "./ballast-data";

/// Load the configuration from `file` (or the built-in paper configuration) plus the
/// process environment.
pub fn load(file: Option<&Path>) -> Result<Config, ConfigErrors> {
    let env: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    let here = std::env::current_dir().unwrap_or_default();
    let mut cfg = match file {
        None => config::load(None, &env)?,
        Some(path) => {
            let text = read_config(path)?;
            config::load(
                Some(Source {
                    path: &path.display().to_string(),
                    text: &text,
                }),
                &env,
            )?
        }
    };
    // A relative `cwd` is the configuration file's directory's (the built-in configuration:
    // the working directory's), resolved here once for every user of the configuration.
    let config_dir = file
        .and_then(|f| std::path::absolute(f).ok())
        .and_then(|f| f.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| here.clone());
    cfg.resolve_cwds(&config_dir, &here);
    Ok(cfg)
}

/// The configuration file's text: a regular file (or a link to one) of at most
/// [`MAX_FILE_BYTES`].
fn read_config(path: &Path) -> Result<String, ConfigErrors> {
    let bytes = bounded::read_regular(path, MAX_FILE_BYTES).map_err(|e| {
        let help = match &e {
            ReadError::NotFound { .. } => {
                "run `ballast init` to write a commented sample, or omit --config to use the built-in paper configuration"
            }
            ReadError::NotRegular { .. } | ReadError::TooLarge { .. } => {
                "give --config (or BALLAST_CONFIG) the path of a TOML file, such as the one `ballast init` writes"
            }
            ReadError::Io { .. } => "check the path and its permissions",
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
    String::from_utf8(bytes).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            origin: Origin::File {
                path: path.display().to_string(),
                line: 1,
                col: 1,
            },
            message: format!(
                "the configuration file is not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
            help: Some("save it as UTF-8".into()),
        }])
    })
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
