//! The command line. clap types stay here; the rest of the program gets validated options.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::about::{self, Format};
use crate::config::{Config, ConfigSource};
use crate::run::{self, RunError, TokenCommand};
use crate::singer::State;

#[derive(Debug, Parser)]
#[command(
    name = "tap-webhooks",
    version,
    about = "Singer tap: receives incoming webhooks, journals them durably and emits Singer messages",
    args_conflicts_with_subcommands = true
)]
struct Args {
    /// Config file (JSON); repeat to merge several, later ones winning. `ENV` reads settings
    /// from TAP_WEBHOOKS_<SETTING> variables only (they override files in any case).
    #[arg(long, value_name = "FILE")]
    config: Vec<String>,
    /// State file: resume after its bookmark.
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Catalog file (`--properties` is accepted as a legacy alias).
    #[arg(long, alias = "properties", value_name = "FILE")]
    catalog: Option<PathBuf>,
    /// Print the catalog and exit.
    #[arg(long)]
    discover: bool,
    /// Print name, version, capabilities and settings, and exit.
    #[arg(long)]
    about: bool,
    /// Format of --about.
    #[arg(long, value_enum, default_value_t = Format::Text, requires = "about")]
    format: Format,
    #[command(subcommand)]
    command: Option<Sub>,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Receiver only: journal webhooks, emit nothing on stdout.
    Serve {
        #[arg(long, value_name = "FILE", required = true)]
        config: Vec<String>,
    },
    /// Webhook URLs: create, list and revoke their tokens.
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
}

#[derive(Debug, Subcommand)]
enum TokenAction {
    /// Create a webhook URL. It is printed once, as the last line of stdout; at most 2 are
    /// active at once.
    New {
        /// Config file (JSON); repeat to merge several, or `ENV`.
        #[arg(long, value_name = "FILE", required = true)]
        config: Vec<String>,
    },
    /// List active tokens: id, created, last used. Never the tokens themselves.
    List {
        /// A JSON array of {"id", "created_at", "last_used_at"}.
        #[arg(long)]
        json: bool,
        /// Config file (JSON); repeat to merge several, or `ENV`.
        #[arg(long, value_name = "FILE", required = true)]
        config: Vec<String>,
    },
    /// Revoke a token: a running listener refuses it from the next request on.
    Revoke {
        /// The token's id, as `token list` shows it.
        id: String,
        /// Config file (JSON); repeat to merge several, or `ENV`.
        #[arg(long, value_name = "FILE", required = true)]
        config: Vec<String>,
    },
}

/// A validated command.
pub enum Command {
    Sync {
        config: Config,
        state: State,
    },
    Discover {
        config: Config,
    },
    About {
        format: Format,
    },
    Serve {
        config: Config,
    },
    Token {
        config: Config,
        command: TokenCommand,
    },
}

fn load_config(args: &[String]) -> Result<Config, RunError> {
    if args.is_empty() {
        return Err(RunError::Usage(
            "--config FILE is required (see --help)".into(),
        ));
    }
    let sources: Vec<ConfigSource> = args.iter().map(|a| ConfigSource::parse(a)).collect();
    Ok(Config::load_sources(&sources)?)
}

/// Parses arguments into a validated command. Usage errors exit through clap (code 2).
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, RunError> {
    let args = Args::parse_from(args);
    if let Some(Sub::Serve { config }) = &args.command {
        return Ok(Command::Serve {
            config: load_config(config)?,
        });
    }
    if let Some(Sub::Token { action }) = args.command {
        let (config, command) = match action {
            TokenAction::New { config } => (config, TokenCommand::New),
            TokenAction::List { json, config } => (config, TokenCommand::List { json }),
            TokenAction::Revoke { id, config } => (config, TokenCommand::Revoke { id }),
        };
        return Ok(Command::Token {
            config: load_config(&config)?,
            command,
        });
    }
    if args.about {
        return Ok(Command::About {
            format: args.format,
        });
    }
    let config = load_config(&args.config)?;
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
        Command::About { format } => {
            println!("{}", about::render(format));
            Ok(())
        }
        Command::Serve { config } => run::serve(&config),
        Command::Token { config, command } => run::token(&config, command),
    }
}
