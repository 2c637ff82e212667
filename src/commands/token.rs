//! `token new|list|revoke`: webhook URLs from the command line.

use super::RunError;
use crate::config::Config;
use crate::tokens::{self, Listed, Store, TokenError};

/// A `token` subcommand.
#[derive(Debug)]
pub enum TokenCommand {
    New,
    List { json: bool },
    Revoke { id: String },
}

/// `token new`: the URL alone on stdout (its last line); `token list`: ids and times, never a
/// token; `token revoke`: gone for running listeners from their next request.
pub fn run(config: &Config, command: TokenCommand) -> Result<(), RunError> {
    let store = || Store::open(&config.journal_config());
    match command {
        TokenCommand::List { json } => {
            let listed = tokens::listed(config.token_digests.as_deref(), &config.journal_config())?;
            print_list(&listed, json);
        }
        _ if config.token_digests.is_some() => return Err(TokenError::ReadOnly.into()),
        TokenCommand::New => {
            let (id, token) = store()?.create()?;
            log::info!(
                "created webhook URL {id}; it is printed on stdout only this once, keep it secret"
            );
            println!(
                "{}",
                tokens::webhook_url(&config.url_base(config.bind), &token)
            );
        }
        TokenCommand::Revoke { id } => {
            let revoked = store()?.revoke(&id)?;
            log::info!(
                "revoked {}; running listeners refuse it from their next request",
                revoked.id
            );
        }
    }
    Ok(())
}

fn print_list(rows: &[Listed], json: bool) {
    if json {
        println!("{}", list_json(rows));
    } else {
        print!("{}", list_table(rows));
    }
}

fn list_json(rows: &[Listed]) -> serde_json::Value {
    rows.iter().map(Listed::json).collect()
}

fn list_table(rows: &[Listed]) -> String {
    let mut out = format!("{:<14} {:<22} LAST USED\n", "ID", "CREATED");
    for r in rows {
        out += &format!(
            "{:<14} {:<22} {}\n",
            r.id,
            r.created_at.as_deref().unwrap_or("(config)"),
            r.last_used_at.as_deref().unwrap_or("never")
        );
    }
    out
}
