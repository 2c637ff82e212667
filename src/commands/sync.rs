//! A sync (Singer's main mode) and `--discover`.

use std::io::Stdout;

use super::listen::{self, ListenOptions};
use super::{RunError, background, current_thread_runtime};
use crate::config::Config;
use crate::emitter::{self, EmitError, Emitter};
use crate::schema::SchemaTracker;
use crate::schema::{Catalog, catalog};
use crate::sequence::Sequence;
use crate::singer::{Output, State};

/// A sync: SCHEMA, the journal backlog after the state's bookmark, then (with `listen`) the
/// live stream until a stop condition; always a final STATE.
pub fn run(config: &Config, state: State, catalog: Catalog) -> Result<(), RunError> {
    let settings = config.emitter_settings();
    if config.nats.is_some() {
        // The local journal makes `data_dir`; with NATS it holds only the persisted schema.
        crate::fsutil::ensure_dir(&config.data_dir)
            .map_err(|source| RunError::io("creating data_dir", source))?;
    }
    if let Some(bookmark) = state.bookmark() {
        background::apply_retention(config, bookmark);
    }
    if !catalog.is_stream_selected() {
        log::warn!("the catalog deselects stream data: nothing to emit");
        let mut out = Output::new(std::io::stdout());
        out.state(&state.with_bookmark(state.bookmark()));
        return out.flush().map_err(|e| RunError::Emit(e.into()));
    }
    let catalog = catalog.without_columns(&settings.columns);
    let schema = SchemaTracker::load(&config.data_dir, settings.columns.clone(), catalog)?;
    let after = state.bookmark();
    let emitter = Emitter::new(std::io::stdout(), schema, state, settings);
    if config.listen {
        let options = ListenOptions {
            emit: Some((emitter, after)),
            ..ListenOptions::command("sync")
        };
        listen::start(config, options)?.wait()
    } else {
        drain(emitter, after, config)
    }
}

/// `listen: false`: emits the journal after `after` and ends.
fn drain(
    mut emitter: Emitter<Stdout>,
    after: Option<Sequence>,
    config: &Config,
) -> Result<(), RunError> {
    let runtime = current_thread_runtime()?;
    let journal = config.journal();
    let mut backlog = journal.reader(after)?;
    runtime.block_on(emitter.declare_backlog(backlog.as_mut(), false))?;
    let mut reader = journal.reader(after)?;
    emitter.start().map_err(EmitError::from)?;
    let drained = runtime.block_on(emitter::drain(&mut emitter, reader.as_mut()));
    let emitted = emitter.emitted();
    let finished = emitter.finish();
    drained?;
    finished.map_err(EmitError::from)?;
    log::info!("emitted {emitted} records from the journal");
    Ok(())
}

/// `--discover`: the catalog of stream `data` with the persisted schema.
pub fn discover(config: &Config) -> Result<(), RunError> {
    let settings = config.emitter_settings();
    let schema = SchemaTracker::load(
        &config.data_dir,
        settings.columns.clone(),
        Catalog::default(),
    )?;
    let catalog = catalog::discover(
        schema.json_schema(),
        &settings.columns,
        &settings.key_properties,
        &config.schema_name,
    );
    println!("{catalog}");
    Ok(())
}
