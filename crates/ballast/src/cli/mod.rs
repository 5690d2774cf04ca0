//! Command-line interface.

mod api;
mod backtest;
mod chaos;
mod chaos_env;
mod check;
mod config;
mod dev;
mod engine;
mod heal;
mod init;
mod journal;
mod kill;
mod logs;
mod metrics;
pub(crate) mod output;
mod probe;
mod recommendations;
mod reconcile;
mod reload;
mod sim;
mod supervise;
mod trading_view;
mod venue;

pub(crate) use output::{err, out};

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
    /// Configuration file (TOML) [default: $BALLAST_CONFIG, else ./ballast.toml if it exists,
    /// else the built-in paper configuration]
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// A loaded configuration, its settings with their origins, and which file it came from.
pub struct Loaded {
    pub config: ballast_core::config::Config,
    pub settings: Vec<ballast_core::config::Setting>,
    pub choice: crate::settings::ConfigChoice,
}

impl ConfigArg {
    /// Which file is used, and why.
    pub fn choice(&self) -> crate::settings::ConfigChoice {
        crate::settings::ConfigChoice::new(self.config.as_deref())
    }

    /// The configuration, or its errors printed (every one, with file:line:col) and exit 78.
    pub fn load(&self) -> Result<Loaded, Exit> {
        let choice = self.choice();
        match crate::settings::load_explained(choice.path.as_deref()) {
            Ok((config, settings)) => Ok(Loaded {
                config,
                settings,
                choice,
            }),
            Err(errors) => {
                err!("{errors}");
                Err(exit::CONFIG)
            }
        }
    }

    /// The configuration and the data directory it names (absolute), as [`Self::load`].
    pub fn load_with_dir(
        &self,
        data_dir: &DataDirArg,
    ) -> Result<(Loaded, crate::settings::DataDir), Exit> {
        let loaded = self.load()?;
        let dir = crate::settings::DataDir::new(
            data_dir.data_dir.as_deref(),
            Some((&loaded.config, &loaded.settings)),
        );
        Ok((loaded, dir))
    }
}

/// Which data directory to use.
#[derive(Debug, clap::Args)]
pub struct DataDirArg {
    /// Data directory [default: $BALLAST_HOME, else [general] data_dir of the configuration,
    /// else ./ballast-data]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

impl DataDirArg {
    /// The data directory a control command acts on: it must exist and have been initialised
    /// (else the refusal, naming the path and how it was chosen, is printed: exit 1). The
    /// configuration is read only when neither --data-dir nor BALLAST_HOME names it.
    /// [`Self::control`], and with `--json` the refusal as a JSON error object on stdout too
    /// (its words are on stderr), so a script reading stdout gets JSON either way.
    pub fn control_or_json_error(
        &self,
        config: &ConfigArg,
        command: &str,
        json: bool,
    ) -> Result<crate::settings::DataDir, Exit> {
        self.control(config, command).inspect_err(|_| {
            if json {
                out!(
                    "{}",
                    serde_json::json!({"error": "not a Ballast data directory (see the message on stderr)"})
                );
            }
        })
    }

    pub fn control(
        &self,
        config: &ConfigArg,
        command: &str,
    ) -> Result<crate::settings::DataDir, Exit> {
        let named = self.data_dir.is_some()
            || std::env::var_os(crate::settings::HOME_ENV).is_some_and(|v| !v.is_empty());
        let dir = if named {
            crate::settings::DataDir::new(self.data_dir.as_deref(), None)
        } else {
            let choice = config.choice();
            match crate::settings::load_explained(choice.path.as_deref()) {
                Ok((cfg, settings)) => crate::settings::DataDir::new(None, Some((&cfg, &settings))),
                Err(errors) => {
                    err!(
                        "{errors}\nballast {command}: the data directory comes from the configuration, which is invalid\n    help: fix it, or name the data directory with --data-dir DIR"
                    );
                    return Err(exit::CONFIG);
                }
            }
        };
        match dir.require_initialised(command) {
            Ok(()) => Ok(dir),
            Err(message) => {
                err!("{message}");
                Err(exit::FAILURE)
            }
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start Ballast: the supervisor, which runs the trading engine and the declared
    /// [[services]] (foreground; Ctrl-C / SIGTERM stops them in reverse order).
    Run {
        /// Trade live: needs `[general] mode = "live"` too (asked twice), broker credentials and
        /// a clean reconciliation; `ballast check` lists what is missing.
        #[arg(long)]
        live: bool,
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
    /// Read the configuration file again and apply it to the running supervisor, all or
    /// nothing: limits and thresholds live, a changed service restarted alone, a new one
    /// started, a removed one stopped; a key that cannot change live is refused by name.
    /// Exit 78 when the file does not validate, 1 when refused.
    Reload(reload::ReloadArgs),
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
        /// Why (recorded in the switch and the engine journal): one line of printable text, at
        /// most 500 characters.
        #[arg(long, default_value = "operator", value_parser = kill_reason)]
        reason: String,
        /// Also close every position with a market order.
        #[arg(long)]
        flatten: bool,
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        data_dir: DataDirArg,
    },
    /// The latest reconciliation with the broker: each dangerous difference as a diff (what
    /// Ballast believes, what the broker says, the fills that would explain it) with the
    /// choices; `adopt|flatten|stay <finding> --reason` makes one (exit 1 while one is open).
    Reconcile(reconcile::ReconcileArgs),
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
    /// Probe the running API's /livez or /readyz once (exit 0 on a 2xx answer): a
    /// container's HEALTHCHECK, where there is no curl.
    Probe {
        #[arg(value_enum)]
        which: probe::Which,
        /// The API's base URL (http://HOST:PORT) [default: the one `ballast run` wrote to
        /// run/api.addr of the data directory]
        #[arg(long, value_name = "URL")]
        url: Option<String>,
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
    /// Disable a supportive service (stopped and kept stopped) or a check (not run): it shows
    /// DISABLED and is not counted in the health until `ballast enable`; survives a restart.
    Disable {
        /// A service or a [[checks]] name (service:NAME or check:NAME when both exist).
        name: String,
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        data_dir: DataDirArg,
    },
    /// Enable a disabled service (started again with a fresh failure budget) or check.
    Enable {
        name: String,
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        data_dir: DataDirArg,
    },
    /// The trading engine (`--standalone` to run it without the supervisor).
    Engine(engine::EngineArgs),
    /// Chaos scenarios, each against a throw-away paper instance (the fake Alpaca, `ballast
    /// run`): a fault injected, the expected recovery or safe halt checked, then the ledger
    /// invariants; a table (or --json), exit 1 if any scenario fails.
    Chaos(chaos::ChaosArgs),
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
    /// The effective configuration: every value after environment overrides, with where it
    /// came from (secrets masked).
    Config {
        #[command(subcommand)]
        command: config::ConfigCommand,
    },
    /// The supervisor's log and each service's (`logs/<name>.log`): the last lines, or follow.
    Logs {
        /// A service (`engine`, one of your [[services]]) or `supervisor`; without it, every log.
        service: Option<String>,
        /// Keep printing lines as they are written (Ctrl-C stops).
        #[arg(long, short = 'f')]
        follow: bool,
        /// How many of the last lines to print first.
        #[arg(long, short = 'n', default_value_t = 20, value_name = "N")]
        lines: usize,
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        data_dir: DataDirArg,
    },
    /// Inspect the engine's journal and snapshots.
    Journal {
        #[command(subcommand)]
        command: journal::JournalCommand,
    },
    /// Run a strategy over a CSV file as fast as possible and print a summary.
    Backtest(backtest::BacktestArgs),
    /// Run the deterministic whole-system simulator: `--seeds N [--from S]` (seeds per
    /// second, every failure with its reproduction), or `--seed N [--plan P]` (one run's
    /// trace).
    Sim(sim::SimArgs),
    /// Developer tools: `ballast dev fake-alpaca --port N` runs a fake Alpaca to try the
    /// Alpaca adapter without an account.
    Dev {
        #[command(subcommand)]
        command: dev::DevCommand,
    },
    /// Print shell completions.
    Completions {
        /// The shell.
        shell: Shell,
    },
}

pub fn dispatch(cli: Cli) -> anyhow::Result<Exit> {
    // A control command: the data directory must be a real one (else the refusal is printed).
    macro_rules! control {
        ($data_dir:expr, $config:expr, $name:expr) => {
            match $data_dir.control(&$config, $name) {
                Ok(d) => d,
                Err(code) => return Ok(code),
            }
        };
    }
    match cli.command {
        Command::Run {
            live,
            config,
            data_dir,
        } => supervise::run(&config, &data_dir, live),
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
        } => match data_dir.control_or_json_error(&config, "status", json) {
            Ok(dir) => supervise::status(&dir, json),
            Err(code) => Ok(code),
        },
        request @ (Command::Restart { .. }
        | Command::Reset { .. }
        | Command::Approve { .. }
        | Command::Reject { .. }
        | Command::Disable { .. }
        | Command::Enable { .. }) => operator_request(request),
        Command::Notify { messages } => supervise::notify(&messages),
        Command::Probe {
            which,
            url,
            data_dir,
        } => {
            let dir = crate::settings::DataDir::new(data_dir.data_dir.as_deref(), None);
            probe::run(which, url.as_deref(), &dir.path)
        }
        Command::Reload(args) => reload::run(&args),
        Command::Health {
            json,
            config,
            data_dir,
        } => match data_dir.control_or_json_error(&config, "health", json) {
            Ok(dir) => supervise::health(&dir, json),
            Err(code) => Ok(code),
        },
        Command::Kill {
            reason,
            flatten,
            config,
            data_dir,
        } => kill::kill(&control!(data_dir, config, "kill"), &reason, flatten),
        Command::Reconcile(args) => reconcile::run(&args),
        Command::Resume { config, data_dir } => kill::resume(&control!(data_dir, config, "resume")),
        Command::Logs {
            service,
            follow,
            lines,
            config,
            data_dir,
        } => logs::logs(
            &control!(data_dir, config, "logs"),
            service.as_deref(),
            lines,
            follow,
        ),
        Command::Engine(args) => engine::engine(&args),
        Command::Chaos(args) => chaos::run(&args),
        Command::Check { config } => Ok(check::check(&config)),
        Command::Config { command } => config::config(command),
        Command::Init { path, force } => init::init(&path, force),
        Command::Journal { command } => journal::journal(command),
        Command::Backtest(args) => backtest::backtest(&args),
        Command::Sim(args) => sim::sim(&args),
        Command::Dev { command } => dev::dev(command),
        Command::Completions { shell } => Ok(completions(shell)),
    }
}

/// `ballast kill --reason`, checked as the API checks it (clap refuses it with exit 2).
fn kill_reason(reason: &str) -> Result<String, String> {
    ballast_core::engine::kill_switch::check_reason(reason)
}

/// The commands that are one operator request to the running supervisor, each answered as it
/// says (`dispatch` hands over only these).
fn operator_request(command: Command) -> anyhow::Result<Exit> {
    use ballast_supervisor::control::Request;
    let (name, request, config, data_dir) = match command {
        Command::Restart {
            service,
            config,
            data_dir,
        } => ("restart", Request::Restart { service }, config, data_dir),
        Command::Reset {
            service,
            config,
            data_dir,
        } => ("reset", Request::Reset { service }, config, data_dir),
        Command::Approve {
            id,
            config,
            data_dir,
        } => ("approve", Request::Approve { id }, config, data_dir),
        Command::Reject {
            id,
            config,
            data_dir,
        } => ("reject", Request::Reject { id }, config, data_dir),
        Command::Disable {
            name,
            config,
            data_dir,
        } => ("disable", Request::Disable { name }, config, data_dir),
        Command::Enable {
            name,
            config,
            data_dir,
        } => ("enable", Request::Enable { name }, config, data_dir),
        _ => return Ok(exit::FAILURE),
    };
    match data_dir.control(&config, name) {
        Ok(dir) => supervise::command(&dir, request),
        Err(code) => Ok(code),
    }
}

/// `ballast completions SHELL`: generated into memory, then written (a closed pipe is a quiet
/// exit, not a panic).
fn completions(shell: Shell) -> Exit {
    let mut cmd = Cli::command();
    let mut text = Vec::new();
    clap_complete::generate(shell, &mut cmd, "ballast", &mut text);
    output::write_stdout(&text);
    exit::OK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
