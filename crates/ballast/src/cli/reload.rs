//! `ballast reload [--dry-run] [--json]` (issue 12, item 1), and the configuration reader the
//! supervisor re-reads its file with (for `reload` and SIGHUP): the same file `ballast run`
//! started with, under the same environment rules, validated completely as `ballast check`
//! does, its services built as at the start.

use super::err;
use std::path::Path;
use std::sync::Arc;

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

/// The supervisor's configuration reader: `choice`'s file read again now.
pub fn reader(choice: ConfigChoice) -> ballast_supervisor::Reloader {
    let file = choice.absolute();
    let read = Arc::new(move || {
        // Hashed first: a file replaced between the two reads shows the older hash, and the
        // next reload the newer.
        let hash = file_hash(choice.path.as_deref());
        let (config, _) = crate::settings::load_explained(choice.path.as_deref())
            .map_err(|errors| errors.0.iter().map(ToString::to_string).collect::<Vec<_>>())?;
        Ok(Loaded {
            services: super::supervise::user_services(&config),
            config,
            file: Some(choice.describe()),
            hash,
        })
    });
    ballast_supervisor::Reloader { read, file }
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
        Ok(Response::Error { message }) => return Ok(failed(&message, json)),
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
