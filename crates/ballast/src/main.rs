//! `ballast`: the command-line entry point. Parses arguments and hands each command to its
//! module under `cli/`; every decision those commands need lives in `ballast-core`.

#![forbid(unsafe_code)]

mod chaos;
mod cli;
mod exit;
mod limits;
mod logging;
mod settings;

use std::process::ExitCode;

use cli::err;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::dispatch(args) {
        Ok(code) => code.into(),
        Err(e) => {
            err!("ballast: error: {}", chain(&e));
            exit::FAILURE.into()
        }
    }
}

/// An error and its causes, each said once: a cause whose text the message before it already
/// contains (`cannot read x: No such file or directory` caused by `No such file or
/// directory`) is not repeated.
fn chain(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        if part.is_empty() || text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}
