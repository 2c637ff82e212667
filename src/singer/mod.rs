//! Singer: the lines on stdout and the bookmark they carry.
//!
//! - [`columns`]: column names within what every target keeps.
//! - [`output`]: the one writer of SCHEMA, RECORD and STATE lines.
//! - [`state`]: the `--state` bookmark, read back and updated.

pub mod columns;
pub mod output;
pub mod state;

pub use output::{FieldAction, Output, RecordMeta, Sink, write_record};
pub use state::{Bookmark, ReplayPosition, State, StateError};
