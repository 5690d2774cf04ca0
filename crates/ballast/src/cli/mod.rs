//! Command-line interface.

mod backtest;
mod check;
mod engine;
mod heal;
mod init;
mod journal;
mod kill;
mod supervise;

use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand};
use clap_complete::Shell;

use crate::exit::{self, Exit};

/// Ballast: a self-healing, risk-aware runtime for automated trading.
#[derive(Debug, Parser)]
#[command(name = "ballast", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the configuration comes from.
#[derive(Debug, clap::Args)]
pub struct ConfigArg {
    /// Configuration file (TOML). Without it, the built-in paper configuration is used.
    #[arg(long, short = 'c', env = "BALLAST_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl ConfigArg {
    /// The configuration, or its errors printed (every one, with file:line:col) and exit 78.
    pub fn load(&self) -> Result<ballast_core::config::Config, Exit> {
        crate::settings::load(self.config.as_deref()).map_err(|errors| {
            eprintln!("{errors}");
            exit::CONFIG
        })
    }

    /// The configuration and the data directory it names (absolute), as [`Self::load`].
    pub fn load_with_dir(
        &self,
        data_dir: &DataDirArg,
    ) -> Result<(ballast_core::config::Config, PathBuf), Exit> {
        let cfg = self.load()?;
        let dir = crate::settings::data_dir(data_dir.data_dir.as_deref(), Some(&cfg));
        let dir = std::path::absolute(&dir).unwrap_or(dir);
        Ok((cfg, dir))
    }
}

/// Which data directory to use.
#[derive(Debug, clap::Args)]
pub struct DataDirArg {
    /// Data directory [default: ./ballast-data, or [general] data_dir of the config]
    #[arg(long, env = "BALLAST_HOME", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start Ballast: the supervisor, which runs the trading engine and the declared
    /// [[services]] (foreground; Ctrl-C / SIGTERM stops them in reverse order).
    Run {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        data_dir: DataDirArg,
    },
    /// Services of the running supervisor: state, pid, restarts, uptime, last exit.
    Status {
        /// As JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        data_dir: DataDirArg,
    },
    /// Restart a service of the running supervisor.
    Restart {
        service: String,
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        data_dir: DataDirArg,
    },
    /// Engage the kill switch: the engine cancels open orders and refuses new ones until
    /// `ballast resume` (works with or without a running supervisor).
    Kill {
        /// Why (recorded in the switch and the engine journal).
        #[arg(long, default_value = "operator")]
        reason: String,
        /// Also close every position with a market order.
        #[arg(long)]
        flatten: bool,
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        data_dir: DataDirArg,
    },
    /// Release the kill switch.
    Resume {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        data_dir: DataDirArg,
    },
    /// Run the self-heal now: every component checked, safe problems healed (originals to
    /// quarantine), dangerous ones reported. Exit 1 when something is dangerous or a heal failed.
    Heal {
        /// Print the plan and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// As JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        data_dir: DataDirArg,
    },
    /// The health report of the running supervisor: overall status, score, safety policy,
    /// subsystems, issues and recommendations (without a supervisor: the last one written).
    Health {
        /// As JSON (the content of state/health.json).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        data_dir: DataDirArg,
    },
    /// Approve a recommendation waiting for an operator (its id is in `ballast status`).
    Approve {
        id: String,
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        data_dir: DataDirArg,
    },
    /// Reject a recommendation waiting for an operator.
    Reject {
        id: String,
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        data_dir: DataDirArg,
    },
    /// Send sd_notify messages (`READY=1`, `STATUS=…`) to the supervisor from a service.
    Notify {
        #[arg(required = true, value_name = "MESSAGE")]
        messages: Vec<String>,
    },
    /// Clear a FAILED service's failure budget and start it again.
    Reset {
        service: String,
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        data_dir: DataDirArg,
    },
    /// The trading engine (`--standalone` to run it without the supervisor).
    Engine(engine::EngineArgs),
    /// Validate a configuration: every error at once with file:line:col; exit 78 on error.
    Check {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Write a fully commented sample configuration.
    Init {
        /// Where to write it.
        #[arg(default_value = "ballast.toml")]
        path: PathBuf,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Inspect the engine's journal and snapshots.
    Journal {
        #[command(subcommand)]
        command: journal::JournalCommand,
    },
    /// Run a strategy over a CSV file as fast as possible and print a summary.
    Backtest(backtest::BacktestArgs),
    /// Print shell completions.
    Completions {
        /// The shell.
        shell: Shell,
    },
}

pub fn dispatch(cli: Cli) -> anyhow::Result<Exit> {
    match cli.command {
        Command::Run { config, data_dir } => supervise::run(&config, &data_dir),
        Command::Heal {
            dry_run,
            json,
            config,
            data_dir,
        } => heal::run(&config, &data_dir, dry_run, json),
        Command::Status {
            json,
            config,
            data_dir,
        } => supervise::status(&data_dir, &config, json),
        Command::Restart {
            service,
            config,
            data_dir,
        } => supervise::command(
            &data_dir,
            &config,
            ballast_supervisor::control::Request::Restart { service },
        ),
        Command::Notify { messages } => supervise::notify(&messages),
        Command::Health {
            json,
            config,
            data_dir,
        } => supervise::health(&data_dir, &config, json),
        Command::Approve {
            id,
            config,
            data_dir,
        } => supervise::command(
            &data_dir,
            &config,
            ballast_supervisor::control::Request::Approve { id },
        ),
        Command::Reject {
            id,
            config,
            data_dir,
        } => supervise::command(
            &data_dir,
            &config,
            ballast_supervisor::control::Request::Reject { id },
        ),
        Command::Kill {
            reason,
            flatten,
            config,
            data_dir,
        } => kill::kill(&data_dir, &config, &reason, flatten),
        Command::Resume { config, data_dir } => kill::resume(&data_dir, &config),
        Command::Reset {
            service,
            config,
            data_dir,
        } => supervise::command(
            &data_dir,
            &config,
            ballast_supervisor::control::Request::Reset { service },
        ),
        Command::Engine(args) => engine::engine(&args),
        Command::Check { config } => Ok(check::check(&config)),
        Command::Init { path, force } => init::init(&path, force),
        Command::Journal { command } => journal::journal(command),
        Command::Backtest(args) => backtest::backtest(&args),
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "ballast", &mut std::io::stdout());
            Ok(exit::OK)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
