//! The command line. clap types stay here; the rest of the program gets validated options.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::run::{self, RunError};
use crate::singer::State;

#[derive(Debug, Parser)]
#[command(
    name = "tap-webhooks",
    version,
    about = "Singer tap: receives incoming webhooks, journals them durably and emits Singer messages",
    args_conflicts_with_subcommands = true
)]
struct Args {
    /// Config file (JSON).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// State file: resume after its bookmark.
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Catalog file (`--properties` is accepted as a legacy alias).
    #[arg(long, alias = "properties", value_name = "FILE")]
    catalog: Option<PathBuf>,
    /// Print the catalog and exit.
    #[arg(long)]
    discover: bool,
    #[command(subcommand)]
    command: Option<Sub>,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Receiver only: journal webhooks, emit nothing on stdout.
    Serve {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
}

/// A validated command.
pub enum Command {
    Sync { config: Config, state: State },
    Discover { config: Config },
    Serve { config: Config },
}

/// Parses arguments into a validated command. Usage errors exit through clap (code 2).
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, RunError> {
    let args = Args::parse_from(args);
    if let Some(Sub::Serve { config }) = args.command {
        return Ok(Command::Serve {
            config: Config::load(&config)?,
        });
    }
    let config_path = args
        .config
        .ok_or_else(|| RunError::Usage("--config FILE is required (see --help)".into()))?;
    let config = Config::load(&config_path)?;
    if args.discover {
        return Ok(Command::Discover { config });
    }
    let state = match args.state {
        Some(path) => State::load(&path)?,
        None => State::default(),
    };
    let _ = args.catalog;
    Ok(Command::Sync { config, state })
}

/// Runs a command to completion.
pub fn execute(command: Command) -> Result<(), RunError> {
    match command {
        Command::Sync { config, state } => run::sync(&config, state),
        Command::Discover { config } => run::discover(&config),
        Command::Serve { config } => run::serve(&config),
    }
}
