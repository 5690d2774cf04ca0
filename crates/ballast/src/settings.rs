//! Reading the configuration file and environment (the I/O half of configuration; the
//! validation itself is `ballast_core::config::load`), and choosing the configuration file and
//! the data directory — each with how it was chosen, so a message can say so.

use std::path::{Path, PathBuf};

use ballast_core::config::{self, Config, ConfigError, ConfigErrors, Origin, Setting, Source};
use ballast_store::bounded::{self, MAX_FILE_BYTES, ReadError};

/// The default data directory.
pub const DEFAULT_DATA_DIR: &str = "./ballast-data";
/// The configuration file used when none is named: in the working directory, as `ballast init`
/// writes it.
pub const DEFAULT_CONFIG_FILE: &str = "ballast.toml";
/// The environment variables that name the configuration file and the data directory.
pub const CONFIG_ENV: &str = "BALLAST_CONFIG";
pub const HOME_ENV: &str = "BALLAST_HOME";

/// The configuration file in use (`None`: the built-in paper configuration) and how it was
/// chosen.
#[derive(Debug, Clone)]
pub struct ConfigChoice {
    pub path: Option<PathBuf>,
    pub how: &'static str,
}

impl ConfigChoice {
    /// `--config FILE`, else `BALLAST_CONFIG`, else `./ballast.toml` if it exists, else none.
    pub fn new(flag: Option<&Path>) -> ConfigChoice {
        if let Some(p) = flag {
            return ConfigChoice {
                path: Some(p.to_path_buf()),
                how: "--config",
            };
        }
        if let Some(p) = std::env::var_os(CONFIG_ENV).filter(|v| !v.is_empty()) {
            return ConfigChoice {
                path: Some(PathBuf::from(p)),
                how: CONFIG_ENV,
            };
        }
        let local = Path::new(DEFAULT_CONFIG_FILE);
        if local.exists() {
            return ConfigChoice {
                path: Some(local.to_path_buf()),
                how: "found in the working directory",
            };
        }
        ConfigChoice {
            path: None,
            how: "no --config, BALLAST_CONFIG or ./ballast.toml",
        }
    }

    /// The file as an absolute path (for children with another working directory).
    pub fn absolute(&self) -> Option<PathBuf> {
        self.path
            .as_deref()
            .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()))
    }

    /// "FILE (how)" or "the built-in paper configuration (how)".
    pub fn describe(&self) -> String {
        match self.absolute() {
            Some(p) => format!("{} ({})", p.display(), self.how),
            None => format!("the built-in paper configuration ({})", self.how),
        }
    }
}

/// The data directory (absolute) and how it was chosen.
#[derive(Debug, Clone)]
pub struct DataDir {
    pub path: PathBuf,
    pub how: String,
}

impl DataDir {
    /// `--data-dir`, else `BALLAST_HOME`, else the configuration's `[general] data_dir`, else
    /// `./ballast-data`. `config` is the loaded configuration and its settings, if any.
    pub fn new(flag: Option<&Path>, config: Option<(&Config, &[Setting])>) -> DataDir {
        let (path, how) = if let Some(p) = flag {
            (p.to_path_buf(), "--data-dir".to_owned())
        } else if let Some(p) = std::env::var_os(HOME_ENV).filter(|v| !v.is_empty()) {
            (PathBuf::from(p), HOME_ENV.to_owned())
        } else if let Some((cfg, settings)) = config {
            let origin = settings
                .iter()
                .find(|s| s.section == "general" && s.key == "data_dir")
                .map(|s| &s.origin);
            let how = match origin {
                Some(Origin::Default { .. }) | None => {
                    format!("the default {DEFAULT_DATA_DIR}, in the working directory")
                }
                Some(o) => format!("[general] data_dir at {o}"),
            };
            // Written in a configuration file, a relative path is that file's directory's
            // (as a service's cwd and the replay file): the same data directory whatever
            // the working directory `ballast` runs in.
            let path = PathBuf::from(&cfg.general.data_dir);
            let path = match origin {
                Some(Origin::File { path: file, .. }) if path.is_relative() => {
                    config_file_dir(Path::new(file))
                        .map(|d| d.join(&path))
                        .unwrap_or(path)
                }
                _ => path,
            };
            (path, how)
        } else {
            (
                PathBuf::from(DEFAULT_DATA_DIR),
                format!("the default {DEFAULT_DATA_DIR}, in the working directory"),
            )
        };
        let path = std::path::absolute(&path).unwrap_or(path);
        DataDir { path, how }
    }

    /// For commands that act on an existing data directory (control commands): refuse one that
    /// does not exist or was never initialised (no `journal/`), naming the path and how it was
    /// chosen — a mistyped directory must not look like success.
    pub fn require_initialised(&self, command: &str) -> Result<(), String> {
        let help = "help: name the data directory `ballast run` uses (--data-dir DIR, BALLAST_HOME, or [general] data_dir of the configuration); nothing was changed";
        match std::fs::metadata(&self.path) {
            Err(_) => Err(format!(
                "ballast {command}: the data directory {} (from {}) does not exist\n    {help}",
                self.path.display(),
                self.how
            )),
            Ok(m) if !m.is_dir() => Err(format!(
                "ballast {command}: {} (from {}) is not a directory\n    {help}",
                self.path.display(),
                self.how
            )),
            Ok(_) if !ballast_store::Layout::new(&self.path).journals().is_dir() => Err(format!(
                "ballast {command}: {} (from {}) has never been initialised as a Ballast data directory (no journal/ in it)\n    {help}",
                self.path.display(),
                self.how
            )),
            Ok(_) => Ok(()),
        }
    }
}

/// The directory of a configuration file, absolute and without `..` (a relative path written
/// in the file is this directory's).
fn config_file_dir(file: &Path) -> Option<PathBuf> {
    let dir = std::path::absolute(file).ok()?.parent()?.to_path_buf();
    Some(std::fs::canonicalize(&dir).unwrap_or(dir))
}

/// The process environment, as the configuration loader takes it.
fn environment() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// Load the configuration from `file` (or the built-in paper configuration) plus the
/// process environment, with every effective setting and its origin. Every error at once: the
/// files the configuration names are checked whatever else is wrong with it, and reported with
/// the loader's errors in file order.
pub fn load_explained(file: Option<&Path>) -> Result<(Config, Vec<Setting>), ConfigErrors> {
    match file {
        None => load_explained_text(None),
        Some(path) => {
            let text = read_config(path)?;
            load_explained_text(Some((path, &text)))
        }
    }
}

/// [`load_explained`] of a file's text already read (`reload` reads it once, between two
/// looks at the file, and validates what it read).
pub fn load_explained_text(
    file: Option<(&Path, &str)>,
) -> Result<(Config, Vec<Setting>), ConfigErrors> {
    let env = environment();
    let here = std::env::current_dir().unwrap_or_default();
    let loaded = match file {
        None => config::load_partial(None, &env),
        Some((path, text)) => config::load_partial(
            Some(Source {
                path: &path.display().to_string(),
                text,
            }),
            &env,
        ),
    };
    let file = file.map(|(path, _)| path);
    // A relative path (`cwd`, `replay_file`) is the configuration file's directory's (the
    // built-in configuration: the working directory's), resolved here once for every user of
    // the configuration.
    let config_dir = file
        .and_then(config_file_dir)
        .unwrap_or_else(|| here.clone());
    let (Ok((_, settings)) | Err((_, settings))) = &loaded;
    let (replay, mut file_errors) = replay_files(settings, &config_dir, &here);
    let (mut cfg, mut settings) = match loaded {
        Ok(ok) if file_errors.is_empty() => ok,
        Ok(_) => {
            let mut errors = ConfigErrors(file_errors);
            errors.sort();
            return Err(errors);
        }
        Err((mut errors, _)) => {
            errors.0.append(&mut file_errors);
            errors.sort();
            return Err(errors);
        }
    };
    cfg.resolve_cwds(&config_dir);
    for (section, path) in replay {
        match section {
            "feed" => cfg.feed.replay_file.clone_from(&path),
            _ => cfg.feed.backup.replay_file.clone_from(&path),
        }
        if let Some(s) = settings
            .iter_mut()
            .find(|s| s.section == section && s.key == "replay_file")
        {
            s.value = serde_json::Value::String(path);
        }
    }
    // `config show` shows each service's working directory as resolved.
    for s in &mut settings {
        let service = s
            .section
            .strip_prefix("services[")
            .and_then(|r| r.split(']').next())
            .and_then(|i| i.parse::<usize>().ok())
            .and_then(|i| cfg.services.get(i));
        if let (Some(svc), "cwd") = (service, s.key.as_str()) {
            s.value = serde_json::Value::String(svc.cwd.clone());
        }
    }
    Ok((cfg, settings))
}

/// `[feed] replay_file` and `[feed.backup] replay_file` of the effective `settings`, each
/// resolved — a relative path written in the configuration file is the file's directory's
/// (from the environment: the working directory's) — as `(section, path)`; and every one
/// whose feed replays and that is not a regular file that exists, as a configuration error at
/// its `file:line:col`, before anything starts (not an engine that crash-loops on it). Both are
/// checked, each whatever the other (or any other key) is.
fn replay_files(
    settings: &[Setting],
    config_dir: &Path,
    here: &Path,
) -> (Vec<(&'static str, String)>, Vec<ConfigError>) {
    let mut resolved = Vec::new();
    let mut errors = Vec::new();
    for section in ["feed", "feed.backup"] {
        let find = |key: &str| {
            settings
                .iter()
                .find(|s| s.section == section && s.key == key)
        };
        let Some(setting) = find("replay_file") else {
            continue;
        };
        let Some(file) = setting.value.as_str().filter(|f| !f.is_empty()) else {
            continue;
        };
        let base = match setting.origin {
            Origin::File { .. } => config_dir,
            _ => here,
        };
        let path = Path::new(file);
        let path = if path.is_relative() {
            base.join(path)
        } else {
            path.to_path_buf()
        };
        let replay = find("kind").is_some_and(|k| k.value.as_str() == Some("replay"));
        if let Some(problem) = replay.then(|| missing_file(&path)).flatten() {
            errors.push(ConfigError {
                origin: setting.origin.clone(),
                message: format!("[{section}] replay_file: {} {problem}", path.display()),
                help: Some(
                    "name a CSV (or .csv.gz) of OHLCV bars; a relative path is the configuration file's directory's; an empty one replays the bundled data".into(),
                ),
            });
        }
        resolved.push((section, path.display().to_string()));
    }
    (resolved, errors)
}

/// What is wrong with `path` as a file to read, if anything.
fn missing_file(path: &Path) -> Option<String> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some("does not exist".to_owned()),
        Err(e) => Some(format!("cannot be read: {e}")),
        Ok(m) if !m.is_file() => Some("is not a regular file".to_owned()),
        Ok(_) => None,
    }
}

/// The configuration file's text: a regular file (or a link to one) of at most
/// [`MAX_FILE_BYTES`].
fn read_config(path: &Path) -> Result<String, ConfigErrors> {
    read_config_bytes(path).and_then(|bytes| config_text(path, bytes))
}

/// The configuration file's bytes (bounded), or the error `check` prints.
pub fn read_config_bytes(path: &Path) -> Result<Vec<u8>, ConfigErrors> {
    bounded::read_regular(path, MAX_FILE_BYTES).map_err(|e| {
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
    })
}

/// The configuration file's bytes as text, or the error `check` prints.
pub fn config_text(path: &Path, bytes: Vec<u8>) -> Result<String, ConfigErrors> {
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
