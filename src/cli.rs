//! The command line. clap types stay here; the rest of the program gets validated options.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use chrono::{DateTime, Utc};

use crate::about::{self, AboutFormat};
use crate::commands::token::TokenCommand;
use crate::commands::{RunError, serve, sync, token};
use crate::config::{Config, ConfigSource};
use crate::replay::{self, ReplayOptions, ReplaySource};
use crate::schema::catalog::Catalogs;
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
    #[arg(long, value_enum, default_value_t = AboutFormat::Text, requires = "about")]
    format: AboutFormat,
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
    /// Replay captured payload files, or this data_dir's journal, as Singer messages.
    Replay {
        #[arg(long, value_name = "FILE", required = true)]
        config: Vec<String>,
        /// State file: resume after its bookmark.
        #[arg(long, value_name = "FILE")]
        state: Option<PathBuf>,
        /// Catalog file, as for a sync: field selection and pinned types.
        #[arg(long, alias = "properties", value_name = "FILE")]
        catalog: Option<PathBuf>,
        /// Re-emit this data_dir's journal (a table reset) instead of files.
        #[arg(long, conflicts_with_all = ["paths", "received_at"])]
        journal: bool,
        /// Log and count invalid payloads and go on, instead of stopping at the first.
        #[arg(long)]
        skip_invalid: bool,
        /// Put every record in this stream, whatever `route` says.
        #[arg(long, value_name = "NAME")]
        stream: Option<String>,
        /// `_sdc_received_at` of every replayed record (RFC 3339), instead of each file's
        /// capture time.
        #[arg(long, value_name = "TIME")]
        received_at: Option<String>,
        /// .json (one payload), .ndjson or .jsonl (one per line) files, optionally .gz;
        /// directories (read recursively, sorted by name); `-` for stdin (NDJSON).
        #[arg(value_name = "PATH", required_unless_present = "journal")]
        paths: Vec<PathBuf>,
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
        catalog: Catalogs,
    },
    Discover {
        config: Config,
    },
    About {
        format: AboutFormat,
    },
    Serve {
        config: Config,
    },
    Token {
        config: Config,
        command: TokenCommand,
    },
    Replay {
        config: Config,
        state: State,
        catalog: Catalogs,
        options: ReplayOptions,
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
    match args.command {
        Some(Sub::Serve { config }) => {
            return Ok(Command::Serve {
                config: load_config(&config)?,
            });
        }
        Some(Sub::Replay {
            config,
            state,
            catalog,
            journal,
            skip_invalid,
            stream,
            received_at,
            paths,
        }) => {
            let stream = stream.map(|name| stream_name(&name)).transpose()?;
            let source = if journal {
                ReplaySource::Journal
            } else {
                let received_at = received_at.map(|text| rfc3339(&text)).transpose()?;
                ReplaySource::Files { paths, received_at }
            };
            return Ok(Command::Replay {
                config: load_config(&config)?,
                state: load_state(state)?,
                catalog: load_catalog(catalog)?,
                options: ReplayOptions {
                    source,
                    skip_invalid,
                    stream,
                },
            });
        }
        Some(Sub::Token { action }) => {
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
        None => {}
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
    Ok(Command::Sync {
        config,
        state: load_state(args.state)?,
        catalog: load_catalog(args.catalog)?,
    })
}

/// `--stream NAME`: a name as routing makes them, or a usage error.
fn stream_name(name: &str) -> Result<String, RunError> {
    match crate::convert::routing::normalise(name) {
        Some(normal) if normal == name => Ok(normal),
        _ => Err(RunError::Usage(format!(
            "--stream {name:?}: not a stream name (lower case letters, digits and _)"
        ))),
    }
}

/// `--received-at TIME`: an RFC 3339 time, or a usage error.
fn rfc3339(text: &str) -> Result<DateTime<Utc>, RunError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            RunError::Usage(format!(
                "--received-at {text:?}: not an RFC 3339 time ({e}); e.g. 2026-05-01T12:00:00Z"
            ))
        })
}

fn load_catalog(path: Option<PathBuf>) -> Result<Catalogs, RunError> {
    Ok(match path {
        Some(path) => Catalogs::load(&path)?,
        None => Catalogs::default(),
    })
}

fn load_state(path: Option<PathBuf>) -> Result<State, RunError> {
    Ok(match path {
        Some(path) => State::load(&path)?,
        None => State::default(),
    })
}

/// Runs a command to completion.
pub fn execute(command: Command) -> Result<(), RunError> {
    match command {
        Command::Sync {
            config,
            state,
            catalog,
        } => sync::run(&config, state, catalog),
        Command::Discover { config } => sync::discover(&config),
        Command::About { format } => {
            println!("{}", about::render(format));
            Ok(())
        }
        Command::Serve { config } => serve::run(&config),
        Command::Token { config, command } => token::run(&config, command),
        Command::Replay {
            config,
            state,
            catalog,
            options,
        } => Ok(replay::run(&config, state, catalog, options)?),
    }
}
