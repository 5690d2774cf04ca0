//! `ballast`: the command-line entry point. Parses arguments and hands each command to its
//! module under `cli/`; every decision those commands need lives in `ballast-core`.

mod cli;
mod exit;

mod settings;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::dispatch(args) {
        Ok(code) => code.into(),
        Err(e) => {
            eprintln!("ballast: error: {e:#}");
            exit::FAILURE.into()
        }
    }
}
