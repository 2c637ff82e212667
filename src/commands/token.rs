//! `token new|list|revoke`: webhook URLs from the command line.

use chrono::{DateTime, SecondsFormat, Utc};

use super::RunError;
use crate::config::Config;
use crate::tokens::{self, TokenError, TokenSet, TokenStore};

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
    let store = TokenStore::new(&config.data_dir);
    match command {
        TokenCommand::New | TokenCommand::Revoke { .. } if config.token_digests.is_some() => {
            Err(TokenError::ReadOnly.into())
        }
        TokenCommand::New => {
            let (id, token) = store.create()?;
            log::info!(
                "created webhook URL {id}; it is printed on stdout only this once, keep it secret"
            );
            println!(
                "{}",
                tokens::webhook_url(&config.url_base(config.bind), &token)
            );
            Ok(())
        }
        TokenCommand::Revoke { id } => {
            let revoked = store.revoke(&id)?;
            log::info!(
                "revoked {}; running listeners refuse it from their next request",
                revoked.id
            );
            Ok(())
        }
        TokenCommand::List { json } => {
            let rows = rows(config, &store)?;
            if json {
                println!("{}", list_json(&rows));
            } else {
                print!("{}", list_table(&rows));
            }
            Ok(())
        }
    }
}

fn rows(config: &Config, store: &TokenStore) -> Result<Vec<Row>, RunError> {
    if let Some(digests) = &config.token_digests {
        return Ok(TokenSet::from_digests(digests)
            .ids()
            .map(|id| Row {
                id: id.to_string(),
                created_at: None,
                last_used_at: None,
            })
            .collect());
    }
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
