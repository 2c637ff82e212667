//! `token new|list|revoke`: webhook URLs from the command line.

use chrono::{DateTime, SecondsFormat, Utc};

use super::RunError;
use crate::config::Config;
use crate::journal::nats::SharedTokens;
use crate::tokens::{self, StoredToken, Token, TokenError, TokenId, TokenSet, TokenStore};

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
    let store = Store::of(config)?;
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

/// Where the tokens are: the file in `data_dir`, or the bucket of a NATS journal.
enum Store {
    File(TokenStore),
    Shared(Box<SharedTokens>),
}

impl Store {
    fn of(config: &Config) -> Result<Self, RunError> {
        Ok(match &config.nats {
            Some(settings) if config.token_digests.is_none() => {
                Store::Shared(Box::new(SharedTokens::open(settings)?))
            }
            _ => Store::File(TokenStore::new(&config.data_dir)),
        })
    }

    fn create(&self) -> Result<(TokenId, Token), TokenError> {
        match self {
            Store::File(store) => store.create(),
            Store::Shared(shared) => shared.create(),
        }
    }

    fn revoke(&self, id: &str) -> Result<StoredToken, TokenError> {
        match self {
            Store::File(store) => store.revoke(id),
            Store::Shared(shared) => shared.revoke(id),
        }
    }

    fn list(&self) -> Result<Vec<StoredToken>, TokenError> {
        match self {
            Store::File(store) => store.list(),
            Store::Shared(shared) => shared.list(),
        }
    }
}

fn rows(config: &Config, store: &Store) -> Result<Vec<Row>, RunError> {
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
