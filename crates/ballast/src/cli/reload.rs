//! `ballast reload [--dry-run] [--json]` (issue 12, item 1), and the configuration reader the
//! supervisor re-reads its file with (for `reload` and SIGHUP): the same file `ballast run`
//! started with, under the same environment rules, validated completely as `ballast check`
//! does, its services built as at the start.

use super::err;
use std::path::Path;
use std::sync::Arc;

use ballast_core::config::reload::{FileRead, FileStamp};
use ballast_store::bounded::{self, MAX_FILE_BYTES};
use ballast_supervisor::control::{self, ReloadAnswer, Request, Response};
use ballast_supervisor::core::Loaded;

use super::out;
use crate::exit::{self, Exit};
use crate::settings::{ConfigChoice, DataDir};

/// The hash `status` shows of a configuration file's bytes: `crc32c:` and 8 hex digits
/// (`built-in` without a file; `unreadable` if it cannot be read now).
pub fn file_hash(path: Option<&Path>) -> String {
    match path {
        None => "built-in".to_owned(),
        Some(p) => match bounded::read_regular(p, MAX_FILE_BYTES) {
            Ok(bytes) => format!("crc32c:{:08x}", crc32c::crc32c(&bytes)),
            Err(_) => "unreadable".to_owned(),
        },
    }
}

/// The supervisor's configuration reader: `choice`'s file read again now — once, between two
/// looks at its stamp (size, times, inode), so the core can refuse a file that changed while
/// it was read; its hash and its validation are of the same bytes.
pub fn reader(choice: ConfigChoice) -> ballast_supervisor::Reloader {
    let file = choice.absolute();
    let read = Arc::new(move || {
        let errors = |e: ballast_core::config::ConfigErrors| {
            e.0.iter().map(ToString::to_string).collect::<Vec<_>>()
        };
        let Some(path) = choice.path.as_deref() else {
            let (config, _) = crate::settings::load_explained_text(None).map_err(errors)?;
            return Ok(loaded(
                &choice,
                config,
                "built-in".to_owned(),
                FileRead::default(),
            ));
        };
        let (before, bytes, after) = between_stamps(path, |p| {
            crate::settings::read_config_bytes(p).map_err(errors)
        })?;
        let hash = format!("crc32c:{:08x}", crc32c::crc32c(&bytes));
        let text = crate::settings::config_text(path, bytes).map_err(errors)?;
        let read = FileRead {
            before,
            after,
            blank: ballast_core::config::reload::is_blank(&text),
        };
        if ballast_core::config::reload::refusal(&read).is_some() {
            // Not validated: the core refuses it by name (an empty file validates).
            let config = ballast_core::config::builtin().map_err(errors)?;
            return Ok(Loaded {
                services: Vec::new(),
                config,
                file: Some(choice.describe()),
                hash,
                read,
            });
        }
        let (config, _) =
            crate::settings::load_explained_text(Some((path, &text))).map_err(errors)?;
        Ok(loaded(&choice, config, hash, read))
    });
    ballast_supervisor::Reloader { read, file }
}

fn loaded(
    choice: &ConfigChoice,
    config: ballast_core::config::Config,
    hash: String,
    read: FileRead,
) -> Loaded {
    Loaded {
        services: super::supervise::user_services(&config),
        config,
        file: Some(choice.describe()),
        hash,
        read,
    }
}

/// `read` of `path` between two looks at its stamp.
fn between_stamps<T, E>(
    path: &Path,
    read: impl FnOnce(&Path) -> Result<T, E>,
) -> Result<(Option<FileStamp>, T, Option<FileStamp>), E> {
    let before = stamp(path);
    let value = read(path)?;
    Ok((before, value, stamp(path)))
}

/// The file's stamp (a link followed), `None` if it cannot be looked at.
fn stamp(path: &Path) -> Option<FileStamp> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    let ns = |secs: i64, nanos: i64| i128::from(secs) * 1_000_000_000 + i128::from(nanos);
    Some(FileStamp {
        len: m.len(),
        modified_ns: ns(m.mtime(), m.mtime_nsec()),
        changed_ns: ns(m.ctime(), m.ctime_nsec()),
        inode: m.ino(),
        device: m.dev(),
    })
}

/// `ballast reload`'s arguments.
#[derive(Debug, clap::Args)]
pub struct ReloadArgs {
    /// Print the plan and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// As JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    config: super::ConfigArg,
    #[command(flatten)]
    data_dir: super::DataDirArg,
}

/// `ballast reload` on the data directory its arguments name.
pub fn run(args: &ReloadArgs) -> anyhow::Result<Exit> {
    match args
        .data_dir
        .control_or_json_error(&args.config, "reload", args.json)
    {
        Ok(dir) => reload(&dir, args.dry_run, args.json),
        Err(code) => Ok(code),
    }
}

/// `ballast reload`: exit 0 applied (or unchanged, or a dry run), 78 when the file does not
/// validate (as `check`), 1 when refused or not applied.
pub fn reload(dir: &DataDir, dry_run: bool, json: bool) -> anyhow::Result<Exit> {
    let socket = ballast_store::Layout::new(&dir.path).control_socket();
    let answer = match control::call(&socket, &Request::Reload { dry_run }) {
        Ok(Response::Reload(a)) => a,
        Ok(Response::Error { message, .. }) => return Ok(failed(&message, json)),
        Ok(_) => {
            return Ok(failed(
                "the supervisor answered something other than a reload",
                json,
            ));
        }
        Err(e) => return Ok(failed(&e.to_string(), json)),
    };
    if json {
        out!("{}", serde_json::to_string_pretty(&answer)?);
    } else {
        print_answer(&answer);
    }
    Ok(match answer.outcome.as_str() {
        "applied" | "unchanged" | "dry_run" => exit::OK,
        "invalid" => exit::CONFIG,
        _ => exit::FAILURE,
    })
}

fn failed(message: &str, json: bool) -> Exit {
    if json {
        out!("{}", serde_json::json!({ "error": message }));
    }
    err!("ballast reload: {message}");
    exit::FAILURE
}

fn print_answer(a: &ReloadAnswer) {
    if let Some(file) = &a.file {
        out!(
            "configuration {file}, hash {}",
            a.hash.as_deref().unwrap_or("?")
        );
    }
    for c in &a.diff {
        out!(
            "  {}: {} -> {}",
            c.key,
            c.old.as_deref().unwrap_or("(absent)"),
            c.new.as_deref().unwrap_or("(absent)")
        );
    }
    for action in &a.actions {
        out!("  takes: {action}");
    }
    for r in &a.refused {
        err!("  refused: {r}");
    }
    for e in &a.errors {
        err!("{e}");
    }
    if matches!(a.outcome.as_str(), "applied" | "unchanged" | "dry_run") {
        out!("{}", a.message);
    } else {
        err!("ballast reload: {}", a.message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_written_while_it_is_read_has_two_stamps_and_is_refused() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("ballast.toml");
        std::fs::write(&path, "[guard]\nmax_open_orders = 5\n").unwrap_or_else(|e| panic!("{e}"));
        let (before, _, after) =
            between_stamps(&path, |p| std::fs::read(p)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(before, after, "a file left alone has one stamp");
        assert!(before.is_some());
        // `cp` or an editor writing in place while the reload reads.
        let (before, text, after) = between_stamps(&path, |p| {
            let text = std::fs::read(p);
            std::fs::write(p, "[guard]\nmax_open_orders = 50\n# more\n")?;
            text
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(before, after);
        let read = FileRead {
            before,
            after,
            blank: ballast_core::config::reload::is_blank(&String::from_utf8_lossy(&text)),
        };
        assert_eq!(
            ballast_core::config::reload::refusal(&read),
            Some(ballast_core::config::reload::CHANGED_WHILE_READ)
        );
    }
}
