//! `token new|list|revoke`: webhook URLs from the command line.

use chrono::{DateTime, SecondsFormat, Utc};

use super::RunError;
use crate::config::Config;
use crate::tokens::{self, Store, TokenError, TokenSet};

/// A `token` subcommand.
#[derive(Debug)]
pub enum TokenCommand {
    New,
    List { json: bool },
    Revoke { id: String },
}

/// One row of `token list`: never the token itself.
struct Row {
    id: String,
    created_at: Option<String>,
    last_used_at: Option<String>,
}

/// `token new`: the URL alone on stdout (its last line); `token list`: ids and times, never a
/// token; `token revoke`: gone for running listeners from their next request.
pub fn run(config: &Config, command: TokenCommand) -> Result<(), RunError> {
    if let Some(digests) = &config.token_digests {
        return match command {
            TokenCommand::List { json } => {
                print_list(&config_rows(digests), json);
                Ok(())
            }
            TokenCommand::New | TokenCommand::Revoke { .. } => Err(TokenError::ReadOnly.into()),
        };
    }
    let store = Store::open(&config.journal_config())?;
    match command {
        TokenCommand::New => {
            let (id, token) = store.create()?;
            log::info!(
                "created webhook URL {id}; it is printed on stdout only this once, keep it secret"
            );
            println!(
                "{}",
                tokens::webhook_url(&config.url_base(config.bind), &token)
            );
        }
        TokenCommand::Revoke { id } => {
            let revoked = store.revoke(&id)?;
            log::info!(
                "revoked {}; running listeners refuse it from their next request",
                revoked.id
            );
        }
        TokenCommand::List { json } => print_list(&stored_rows(&store)?, json),
    }
    Ok(())
}

/// The rows of the tokens `token_sha256` lists (no times: the config keeps none).
fn config_rows(digests: &[[u8; 32]]) -> Vec<Row> {
    TokenSet::from_digests(digests)
        .ids()
        .map(|id| Row {
            id: id.to_string(),
            created_at: None,
            last_used_at: None,
        })
        .collect()
}

fn stored_rows(store: &Store) -> Result<Vec<Row>, TokenError> {
    let time = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    Ok(store
        .list()?
        .into_iter()
        .map(|t| Row {
            id: t.id.to_string(),
            created_at: Some(time(t.created_at)),
            last_used_at: t.last_used_at.map(time),
        })
        .collect())
}

fn print_list(rows: &[Row], json: bool) {
    if json {
        println!("{}", list_json(rows));
    } else {
        print!("{}", list_table(rows));
    }
}

fn list_json(rows: &[Row]) -> serde_json::Value {
    rows.iter()
        .map(|r| {
            serde_json::json!({
                "id": r.id,
                "created_at": r.created_at,
                "last_used_at": r.last_used_at,
            })
        })
        .collect()
}

fn list_table(rows: &[Row]) -> String {
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
