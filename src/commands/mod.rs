//! The commands, one file each, wired from the validated [`Config`](crate::config::Config):
//!
//! - [`sync`]: a sync (SCHEMA, the journal backlog, then live with `listen`), and `--discover`;
//! - [`listen`]: the listener of a listening sync or of `serve`, startable in-process;
//! - [`serve`]: `serve`, the receiver alone (and [`serve::start`] for in-process use);
//! - [`token`]: `token new|list|revoke`;
//! - [`tail`]: `tail`, the journal's deliveries one line each, read-only beside a running tap;
//! - `background`: the tasks a listener runs beside the routes (signals, end conditions,
//!   retention, token upkeep), all ended by the run's [`Lifecycle`](crate::lifecycle::Lifecycle).
//!
//! `replay` lives in [`crate::replay`].

mod background;
pub mod listen;
pub mod serve;
pub mod sync;
pub mod tail;
pub mod token;

use std::net::SocketAddr;

use crate::config::ConfigError;
use crate::emitter::EmitError;
use crate::journal::JournalError;
use crate::replay::ReplayError;
use crate::schema::CatalogError;
use crate::schema::SchemaError;
use crate::singer::StateError;
use crate::tokens::TokenError;

/// Everything that ends a command with a non-zero exit code.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Emit(#[from] EmitError),
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error(transparent)]
    Tokens(#[from] TokenError),
    #[error(transparent)]
    Replay(#[from] ReplayError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{context}: {source}")]
    Io {
        context: &'static str,
        source: std::io::Error,
    },
}

impl RunError {
    /// 2 for what the user must fix in the command line, config or state; 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Config(_)
            | RunError::State(_)
            | RunError::Catalog(_)
            | RunError::Usage(_) => 2,
            RunError::Replay(e) => e.exit_code(),
            RunError::Tokens(e) if e.is_usage() => 2,
            _ => 1,
        }
    }

    fn io(context: &'static str, source: std::io::Error) -> Self {
        RunError::Io { context, source }
    }
}

fn current_thread_runtime() -> Result<tokio::runtime::Runtime, RunError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|source| RunError::io("starting the async runtime", source))
}
