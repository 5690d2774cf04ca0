//! Alpaca keys: only from the environment (`APCA_API_KEY_ID`, `APCA_API_SECRET_KEY`) or from
//! a secrets file readable by its owner only (mode 0600 or stricter):
//!
//! ```toml
//! [paper]
//! key_id = "PK…"
//! secret_key = "…"
//! [live]
//! key_id = "AK…"
//! secret_key = "…"
//! ```
//!
//! A [`Credentials`] prints as `***` (Debug and Display alike); its parts are reached only
//! through [`Credentials::key_id`] / [`Credentials::secret_key`], for the auth headers.
//! Errors name the file and the table, never a key.

use std::io::Read;
use std::path::Path;

/// The environment variables Alpaca's own tools read.
pub const ENV_KEY_ID: &str = "APCA_API_KEY_ID";
pub const ENV_SECRET_KEY: &str = "APCA_API_SECRET_KEY";
/// The largest secrets file read (64 KiB: a few lines are expected).
pub const MAX_SECRETS_FILE_BYTES: u64 = 64 << 10;

/// An Alpaca key id and secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    key_id: String,
    secret_key: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials(***)")
    }
}

impl std::fmt::Display for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl Credentials {
    /// Both parts, each non-empty, printable ASCII without spaces (an HTTP header value).
    pub fn new(key_id: &str, secret_key: &str) -> Result<Credentials, String> {
        for (what, v) in [("key id", key_id), ("secret key", secret_key)] {
            if v.is_empty() {
                return Err(format!("the Alpaca {what} is empty"));
            }
            if v.len() > 256 || !v.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(format!(
                    "the Alpaca {what} is not a key: {} characters, expected at most 256 printable ones without spaces",
                    v.len()
                ));
            }
        }
        Ok(Credentials {
            key_id: key_id.to_owned(),
            secret_key: secret_key.to_owned(),
        })
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    pub fn secret_key(&self) -> &str {
        &self.secret_key
    }

    /// A paper key (Alpaca's paper key ids start with `PK`).
    pub fn is_paper_key(&self) -> bool {
        self.key_id.starts_with("PK")
    }

    /// `text` with the key id and the secret replaced by `***` (every error passes here).
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for s in [&self.secret_key, &self.key_id] {
            if !s.is_empty() {
                out = out.replace(s.as_str(), "***");
            }
        }
        out
    }
}

/// Where the keys come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Paper,
    Live,
}

impl Mode {
    pub fn table(self) -> &'static str {
        match self {
            Mode::Paper => "paper",
            Mode::Live => "live",
        }
    }
}

/// The keys from the environment, given its two values (the binary reads the environment):
/// `None` when neither is set; an error when only one is.
pub fn from_env_values(
    key_id: Option<&str>,
    secret_key: Option<&str>,
) -> Result<Option<Credentials>, String> {
    match (key_id, secret_key) {
        (None, None) => Ok(None),
        (Some(k), Some(s)) => Credentials::new(k, s)
            .map(Some)
            .map_err(|e| format!("{ENV_KEY_ID} / {ENV_SECRET_KEY}: {e}")),
        (Some(_), None) => Err(format!(
            "{ENV_KEY_ID} is set but {ENV_SECRET_KEY} is not: set both, or neither and use a secrets file"
        )),
        (None, Some(_)) => Err(format!(
            "{ENV_SECRET_KEY} is set but {ENV_KEY_ID} is not: set both, or neither and use a secrets file"
        )),
    }
}

/// The keys from the process environment (`APCA_API_KEY_ID`, `APCA_API_SECRET_KEY`).
pub fn from_env() -> Result<Option<Credentials>, String> {
    let k = std::env::var(ENV_KEY_ID).ok();
    let s = std::env::var(ENV_SECRET_KEY).ok();
    from_env_values(k.as_deref(), s.as_deref())
}

/// The keys for `mode`: the environment's when set (both variables), else the secrets file's
/// `[paper]`/`[live]` table when a file is configured; an error naming both sources when
/// neither has them. `env` is the two variables' values (the binary reads the environment:
/// [`from_env`]).
pub fn load(
    env: (Option<&str>, Option<&str>),
    secrets_file: Option<&Path>,
    mode: Mode,
) -> Result<Credentials, String> {
    if let Some(c) = from_env_values(env.0, env.1)? {
        return Ok(c);
    }
    match secrets_file {
        Some(path) => from_file(path, mode),
        None => Err(format!(
            "no Alpaca keys: set {ENV_KEY_ID} and {ENV_SECRET_KEY}, or [broker.alpaca] secrets_file to a file (mode 0600) with a [{}] table of key_id and secret_key",
            mode.table()
        )),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysTable {
    key_id: String,
    secret_key: String,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretsFile {
    paper: Option<KeysTable>,
    live: Option<KeysTable>,
}

/// The `[paper]` or `[live]` keys of the secrets file at `path`: refused when the file is
/// readable or writable by its group or others, over [`MAX_SECRETS_FILE_BYTES`], not TOML
/// of that shape, or without the table.
pub fn from_file(path: &Path, mode: Mode) -> Result<Credentials, String> {
    use std::os::unix::fs::PermissionsExt;
    let shown = path.display();
    // Judged before opening: opening a FIFO blocks until a writer comes (the engine would
    // hang in STARTING), and a directory is no secrets file whatever its mode.
    let kind = std::fs::metadata(path)
        .map_err(|e| format!("the Alpaca secrets file {shown} could not be opened: {e}"))?;
    if !kind.is_file() {
        return Err(format!(
            "the Alpaca secrets file {shown} is not a regular file: point [broker.alpaca] secrets_file at a file (mode 0600)"
        ));
    }
    let file = std::fs::File::open(path)
        .map_err(|e| format!("the Alpaca secrets file {shown} could not be opened: {e}"))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("the Alpaca secrets file {shown} could not be examined: {e}"))?;
    if !meta.is_file() {
        return Err(format!(
            "the Alpaca secrets file {shown} is not a regular file: point [broker.alpaca] secrets_file at a file (mode 0600)"
        ));
    }
    let perms = meta.permissions().mode() & 0o777;
    if perms & 0o077 != 0 {
        return Err(format!(
            "the Alpaca secrets file {shown} has mode {perms:o}: it must be readable by its owner only (chmod 600 {shown})"
        ));
    }
    let mut text = String::new();
    file.take(MAX_SECRETS_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| {
            format!("the Alpaca secrets file {shown} could not be read as UTF-8 text: {e}")
        })?;
    if text.len() as u64 > MAX_SECRETS_FILE_BYTES {
        return Err(format!(
            "the Alpaca secrets file {shown} is over {MAX_SECRETS_FILE_BYTES} bytes: it holds two tables of two keys"
        ));
    }
    parse_file(&text, mode).map_err(|e| format!("the Alpaca secrets file {shown}: {e}"))
}

/// The secrets file's text → the keys of `mode`'s table. The TOML parser's own message may
/// quote the line, so it is never shown: only the line and column.
pub fn parse_file(text: &str, mode: Mode) -> Result<Credentials, String> {
    let file: SecretsFile = toml::from_str(text).map_err(|e| {
        let at = e
            .span()
            .map(|s| format!(" at line {}", line_of(text, s.start)))
            .unwrap_or_default();
        format!("not the expected TOML{at} (tables [paper] and [live], each with key_id and secret_key, nothing else)")
    })?;
    let table = match mode {
        Mode::Paper => file.paper,
        Mode::Live => file.live,
    };
    let keys =
        table.ok_or_else(|| format!("no [{}] table with key_id and secret_key", mode.table()))?;
    Credentials::new(&keys.key_id, &keys.secret_key).map_err(|e| format!("[{}]: {e}", mode.table()))
}

/// The 1-based line of byte `at` in `text`, whatever `at` is (past the end: the last line;
/// inside a character: that character's line) — a parser's index never slices the text.
fn line_of(text: &str, at: usize) -> usize {
    let bytes = text.as_bytes();
    let before = bytes.get(..at).unwrap_or(bytes);
    before.iter().filter(|b| **b == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const FILE: &str = "[paper]\nkey_id = \"PKABCDEF\"\nsecret_key = \"s3cr3t-paper\"\n[live]\nkey_id = \"AKLIVE01\"\nsecret_key = \"s3cr3t-live\"\n";

    #[test]
    fn credentials_never_print() {
        let c = Credentials::new("PKABCDEF", "s3cr3t").unwrap();
        assert_eq!(format!("{c} {c:?}"), "*** Credentials(***)");
        assert_eq!(c.redact("key PKABCDEF secret s3cr3t"), "key *** secret ***");
        assert!(c.is_paper_key());
    }

    #[test]
    fn the_environment_needs_both_or_neither() {
        assert_eq!(from_env_values(None, None), Ok(None));
        assert!(
            from_env_values(Some("PK1"), None)
                .unwrap_err()
                .contains(ENV_SECRET_KEY)
        );
        assert!(from_env_values(Some("PK1"), Some("s")).unwrap().is_some());
        assert!(from_env_values(Some(""), Some("s")).is_err());
    }

    #[test]
    fn the_environment_comes_first_then_the_file_and_neither_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alpaca.toml");
        std::fs::write(&path, FILE).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let env = load((Some("PKENV"), Some("e")), Some(&path), Mode::Paper).unwrap();
        assert_eq!(env.key_id(), "PKENV");
        let file = load((None, None), Some(&path), Mode::Live).unwrap();
        assert_eq!(file.key_id(), "AKLIVE01");
        let e = load((None, None), None, Mode::Paper).unwrap_err();
        assert!(
            e.contains(ENV_KEY_ID) && e.contains("secrets_file") && e.contains("[paper]"),
            "{e}"
        );
    }

    #[test]
    fn a_0600_file_gives_each_modes_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alpaca.toml");
        std::fs::write(&path, FILE).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(from_file(&path, Mode::Paper).unwrap().key_id(), "PKABCDEF");
        assert_eq!(
            from_file(&path, Mode::Live).unwrap().secret_key(),
            "s3cr3t-live"
        );
    }

    #[test]
    fn a_directory_or_a_fifo_is_not_a_regular_file_and_never_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("secrets");
        std::fs::create_dir(&sub).unwrap();
        std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o755)).unwrap();
        let e = from_file(&sub, Mode::Paper).unwrap_err();
        assert!(
            e.contains("is not a regular file") && !e.contains("chmod"),
            "{e}"
        );
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        // Opening it would block until a writer came: it is refused before.
        let e = from_file(&fifo, Mode::Paper).unwrap_err();
        assert!(e.contains("is not a regular file"), "{e}");
    }

    #[test]
    fn a_file_others_can_read_is_refused_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alpaca.toml");
        std::fs::write(&path, FILE).unwrap();
        for mode in [0o644, 0o640, 0o604, 0o620] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let e = from_file(&path, Mode::Paper).unwrap_err();
            assert!(
                e.contains(&path.display().to_string()) && e.contains("chmod 600"),
                "{e}"
            );
            assert!(!e.contains("s3cr3t"), "{e}");
        }
    }

    #[test]
    fn a_parser_index_never_slices_the_text() {
        let text = "[paper]\nkey_id = \"é\"\n";
        let inside_e = text.find('é').unwrap() + 1;
        assert_eq!(line_of(text, inside_e), 2, "inside a character");
        assert_eq!(line_of(text, 10_000), 3, "past the end");
        assert_eq!(line_of(text, 0), 1);
        let e = parse_file("[paper]\nkey_id = \"é\" é\n", Mode::Paper).unwrap_err();
        assert!(e.contains("line 2") && !e.contains('é'), "{e}");
    }

    #[test]
    fn a_bad_file_is_refused_without_quoting_it() {
        let e = parse_file(
            "[paper]\nkey_id = \"PKX\"\nsecret_key = s3cr3t-unquoted\n",
            Mode::Paper,
        )
        .unwrap_err();
        assert!(e.contains("line 3") && !e.contains("s3cr3t"), "{e}");
        let e = parse_file(
            "[paper]\nkey_id = \"PKX\"\nsecret_key = \"s\"\n",
            Mode::Live,
        )
        .unwrap_err();
        assert!(e.contains("[live]"), "{e}");
        let e = parse_file(
            "[paper]\nkey_id = \"PKX\"\nsecret = \"s3cr3t\"\n",
            Mode::Paper,
        )
        .unwrap_err();
        assert!(!e.contains("s3cr3t"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.toml");
        std::fs::write(&big, "#".repeat(70_000)).unwrap();
        std::fs::set_permissions(&big, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(from_file(&big, Mode::Paper).unwrap_err().contains("over"));
    }
}
