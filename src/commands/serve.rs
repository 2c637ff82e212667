//! `serve`: the receiver alone, journaling webhooks; nothing on stdout.

use super::RunError;
use super::listen::{self, ListenOptions, Listening};
use crate::config::Config;

/// A listener started in-process by [`start`].
pub type Serving = Listening;

/// `serve` from the command line: until SIGTERM or SIGINT.
pub fn run(config: &Config) -> Result<(), RunError> {
    listen::start(config, ListenOptions::command("serve"))?.wait()
}

/// `serve` in-process, for programs and tests: returns once bound (port 0 gets a real port in
/// [`Serving::addr`]); signals are left to the caller, which stops it with [`Serving::stop`].
pub fn start(config: Config) -> Result<Serving, RunError> {
    let options = ListenOptions {
        signals: false,
        ..ListenOptions::command("serve")
    };
    listen::start(&config, options)
}
