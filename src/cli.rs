//! The command line. clap types stay here; the rest of the program gets validated options.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use chrono::{DateTime, Utc};

use crate::about::{self, AboutFormat};
use crate::commands::tail::{self, TailOptions};
use crate::commands::token::TokenCommand;
use crate::commands::{RunError, serve, sync, token};
use crate::config::{Config, ConfigSource};
use crate::replay::{self, ReplayOptions, ReplaySource};
use crate::schema::catalog::Catalogs;
use crate::singer::State;

/// `--config`, the same for every command.
const CONFIG_HELP: &str = "Config file (JSON); repeat to merge several, later ones winning. \
    `ENV` reads settings from TAP_WEBHOOKS_<SETTING> variables only (they override files in any \
    case). `tap-webhooks --about` lists the settings";
/// `--state`, the same for a sync and a replay.
const STATE_HELP: &str = "State file: resume after its bookmark (the last STATE line the target \
    printed). Leave it out to start from the first journaled webhook";

const SYNC_EXAMPLES: &str = "\
Examples:
  # Listen, and stream each webhook into a target as it arrives:
  tap-webhooks --config config.json | target-postgres --config target.json
  # Emit what was journaled after the bookmark, and exit (a scheduled sync):
  TAP_WEBHOOKS_LISTEN=false tap-webhooks --config config.json --state state.json \\
    | target-postgres --config target.json > new-state.jsonl
  tap-webhooks --config config.json --discover > catalog.json
  tap-webhooks --about --format markdown

Guides: README.md and docs/ in the repository (docs/troubleshooting.md when something fails).";

const SERVE_EXAMPLES: &str = "\
Examples:
  tap-webhooks serve --config config.json
  # Meltano passes the settings as TAP_WEBHOOKS_<SETTING> variables:
  tap-webhooks serve --config ENV";

const REPLAY_EXAMPLES: &str = "\
Examples:
  # A table reset: the whole journal again, same records as the first time:
  tap-webhooks replay --config config.json --journal | target-postgres --config target.json
  tap-webhooks replay --config config.json captures/ events.ndjson.gz
  zcat old.ndjson.gz | tap-webhooks replay --config config.json --received-at 2026-03-01T00:00:00Z -";

const TAIL_EXAMPLES: &str = "\
Examples:
  tap-webhooks tail --config config.json
  # Each new delivery as it is journaled, until Ctrl-C:
  tap-webhooks tail -f --config config.json
  tap-webhooks tail --config config.json --stream push -n 50 --json
  # With ops_bind, the same live in a browser: http://127.0.0.1:9090/ (docs/inspector.md)";

const TOKEN_EXAMPLES: &str = "\
Examples:
  tap-webhooks token new --config config.json
  tap-webhooks token list --config config.json
  tap-webhooks token revoke tok_1a2b3c4d --config config.json";

const SENDERS_EXAMPLES: &str = "\
Examples:
  # Every preset: its provider, what it verifies, its handshake:
  tap-webhooks senders
  # The settings one implies, to copy into a config and edit:
  tap-webhooks senders github --format json
  # A whole config for GitHub:
  echo '{\"sender\": \"github\", \"signature\": {\"secret\": \"...\"}}' > config.json";

#[derive(Debug, Parser)]
#[command(
    name = "tap-webhooks",
    version,
    about = "Singer tap: receives incoming webhooks, journals them durably and emits Singer messages",
    args_conflicts_with_subcommands = true,
    after_help = SYNC_EXAMPLES
)]
struct Args {
    #[arg(long, value_name = "FILE", help = CONFIG_HELP)]
    config: Vec<String>,
    #[arg(long, value_name = "FILE", help = STATE_HELP)]
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
    #[command(after_help = SERVE_EXAMPLES)]
    Serve {
        #[arg(long, value_name = "FILE", required = true, help = CONFIG_HELP)]
        config: Vec<String>,
    },
    /// Replay captured payload files, or this data_dir's journal, as Singer messages.
    #[command(after_help = REPLAY_EXAMPLES)]
    Replay {
        #[arg(long, value_name = "FILE", required = true, help = CONFIG_HELP)]
        config: Vec<String>,
        #[arg(long, value_name = "FILE", help = STATE_HELP)]
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
    /// Print the journal's deliveries, one line each (time, stream, records, size, delivery
    /// id, the body's first characters); read-only beside a running tap.
    #[command(after_help = TAIL_EXAMPLES)]
    Tail {
        #[arg(long, value_name = "FILE", required = true, help = CONFIG_HELP)]
        config: Vec<String>,
        /// After the last deliveries, print each new one as it is journaled, until Ctrl-C.
        #[arg(long, short = 'f')]
        follow: bool,
        /// Only deliveries with a record in this stream (`_rejections`: the refusals recorded
        /// with `rejections: true`).
        #[arg(long, value_name = "NAME")]
        stream: Option<String>,
        /// One JSON object a line: sequence, received_at, stream, streams, records, bytes,
        /// delivery_id, body_start.
        #[arg(long)]
        json: bool,
        /// How many of the last deliveries to print first.
        #[arg(long, short = 'n', value_name = "N", default_value_t = 10)]
        lines: usize,
    },
    /// Sender presets (the `sender` setting): list them, or print the settings one implies.
    #[command(after_help = SENDERS_EXAMPLES)]
    Senders {
        /// A preset's name: print the settings it implies instead of the list.
        #[arg(value_name = "NAME")]
        name: Option<String>,
        /// `text` (default), `json` (a preset's settings; the list as an array) or `markdown`
        /// (the docs' table).
        #[arg(long, value_enum, default_value_t = AboutFormat::Text)]
        format: AboutFormat,
    },
    /// Webhook URLs: create, list and revoke their tokens.
    #[command(after_help = TOKEN_EXAMPLES)]
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
}

#[derive(Debug, Subcommand)]
enum TokenAction {
    /// Create a webhook URL. It is printed once, as the last line of stdout; at most 2 are
    /// active at once.
    #[command(after_help = TOKEN_EXAMPLES)]
    New {
        #[arg(long, value_name = "FILE", required = true, help = CONFIG_HELP)]
        config: Vec<String>,
    },
    /// List active tokens: id, created, last used. Never the tokens themselves.
    #[command(after_help = TOKEN_EXAMPLES)]
    List {
        /// A JSON array of {"id", "created_at", "last_used_at"}.
        #[arg(long)]
        json: bool,
        #[arg(long, value_name = "FILE", required = true, help = CONFIG_HELP)]
        config: Vec<String>,
    },
    /// Revoke a token: a running listener refuses it from the next request on.
    #[command(after_help = TOKEN_EXAMPLES)]
    Revoke {
        /// The token's id, as `token list` shows it.
        id: String,
        #[arg(long, value_name = "FILE", required = true, help = CONFIG_HELP)]
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
    Tail {
        config: Config,
        options: TailOptions,
    },
    Senders {
        name: Option<String>,
        format: AboutFormat,
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
        Some(Sub::Tail {
            config,
            follow,
            stream,
            json,
            lines,
        }) => return tail_command(&config, follow, stream, json, lines),
        Some(Sub::Senders { name, format }) => return Ok(Command::Senders { name, format }),
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

/// `tail`, its `--stream` a stream name or `_rejections`.
fn tail_command(
    config: &[String],
    follow: bool,
    stream: Option<String>,
    json: bool,
    lines: usize,
) -> Result<Command, RunError> {
    let stream = match stream {
        Some(name) if name == crate::rejections::STREAM => Some(name),
        Some(name) => Some(stream_name(&name)?),
        None => None,
    };
    Ok(Command::Tail {
        config: load_config(config)?,
        options: TailOptions {
            follow,
            stream,
            json,
            lines,
        },
    })
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
        Command::About { format } => print_text(&about::render(format)),
        Command::Serve { config } => serve::run(&config),
        Command::Token { config, command } => token::run(&config, command),
        Command::Replay {
            config,
            state,
            catalog,
            options,
        } => Ok(replay::run(&config, state, catalog, options)?),
        Command::Tail { config, options } => tail::run(&config, &options),
        Command::Senders { name, format } => {
            let text = about::senders::render(name.as_deref(), format).map_err(RunError::Usage)?;
            print_text(text.trim_end())
        }
    }
}

/// Prints `text` and a newline; a reader that stopped early (`| head`) is no error, any other
/// failure to write is.
fn print_text(text: &str) -> Result<(), RunError> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(RunError::Io {
            context: "writing to stdout",
            source: e,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every option and argument of every command, and the command itself, says what it does;
    /// every command ends its help with examples.
    #[test]
    fn every_option_of_every_command_has_a_description_and_every_command_examples() {
        fn check(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            let path = format!("{path} {}", cmd.get_name()).trim().to_owned();
            if cmd.get_name() == "help" {
                return;
            }
            for arg in cmd.get_arguments() {
                let builtin = matches!(arg.get_id().as_str(), "help" | "version");
                if !builtin
                    && arg
                        .get_help()
                        .is_none_or(|h| h.to_string().trim().is_empty())
                {
                    missing.push(format!("{path}: --{} has no description", arg.get_id()));
                }
            }
            if !cmd
                .get_after_help()
                .is_some_and(|h| h.to_string().contains("Examples:"))
            {
                missing.push(format!("{path}: no examples (after_help)"));
            }
            for sub in cmd.get_subcommands() {
                if sub.get_about().is_none() && sub.get_name() != "help" {
                    missing.push(format!("{path} {}: no description", sub.get_name()));
                }
                check(sub, &path, missing);
            }
        }
        let mut missing = Vec::new();
        check(&Args::command(), "", &mut missing);
        assert!(missing.is_empty(), "{missing:#?}");
    }
}
