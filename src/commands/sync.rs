//! A sync (Singer's main mode) and `--discover`.

use std::io::Stdout;

use super::listen::{self, ListenOptions};
use super::{RunError, background, current_thread_runtime};
use crate::config::Config;
use crate::convert::payload::GENERATED_KEY_FIELD;
use crate::emitter::{self, EmitError, Emitter, StreamSchemas};
use crate::rejections;
use crate::schema::catalog::Catalogs;
use crate::schema::{Catalog, Columns, SchemaTracker, catalog, persisted_streams};
use crate::sequence::Sequence;
use crate::singer::{Output, State};

/// A sync: SCHEMA, the journal backlog after the state's bookmark, then (with `listen`) the
/// live stream until a stop condition; always a final STATE.
pub fn run(config: &Config, state: State, catalogs: Catalogs) -> Result<(), RunError> {
    let settings = config.emitter_settings();
    config.journal().prepare_data_dir()?;
    let default = settings.streams.default.clone();
    // What every selected stream has loaded may go (a deselected stream's records are kept
    // only as long as retention keeps them).
    if let Some(bookmark) = state.resume_after(|stream| catalogs.is_stream_selected(stream)) {
        background::apply_retention(config, bookmark);
    }
    if config.streams.route.is_none() && !catalogs.is_stream_selected(&default) {
        log::warn!("the catalog deselects stream {default}: nothing to emit");
        let mut out = Output::new(std::io::stdout());
        out.state(&state.value_with_streams([(default.as_str(), None)], None));
        return out.flush().map_err(|e| RunError::Emit(e.into()));
    }
    let catalog = catalogs.stream(&default).without_columns(&settings.columns);
    let schema = SchemaTracker::load(&config.data_dir, settings.columns.clone(), catalog)?;
    let after = state.resume_after(|stream| catalogs.is_stream_selected(stream));
    let emitter =
        Emitter::new(std::io::stdout(), schema, state, settings).with_schemas(StreamSchemas {
            data_dir: Some(config.data_dir.clone()),
            persist: true,
            catalogs,
        });
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
    runtime.block_on(emitter.declare_backlog(&mut |start| journal.reader(start), after, false))?;
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

/// `--discover`: the default stream and every stream seen so far, each with its persisted
/// schema and key properties; `_rejections` too when refusals are recorded (`rejections`).
pub fn discover(config: &Config) -> Result<(), RunError> {
    let settings = config.emitter_settings();
    let default = settings.streams.default.clone();
    let mut entries = Vec::new();
    let mut names = vec![default.clone()];
    names.extend(
        persisted_streams(&config.data_dir)
            .into_iter()
            .filter(|n| *n != default),
    );
    for name in names {
        let keys = settings.streams.keys(&name);
        let columns = Columns {
            primary_key: keys.primary_key.clone(),
            generated_key: keys.generated_key,
            ..settings.columns.clone()
        };
        let key_properties = if keys.generated_key {
            vec![GENERATED_KEY_FIELD.to_owned()]
        } else {
            keys.primary_key
        };
        let schema = if name == default {
            SchemaTracker::load(&config.data_dir, columns.clone(), Catalog::default())?
        } else {
            SchemaTracker::load_stream(
                &config.data_dir,
                &name,
                &default,
                columns.clone(),
                Catalog::default(),
            )?
        };
        entries.push(catalog::discover_stream(
            &name,
            schema.json_schema(),
            &columns,
            &key_properties,
            &config.schema_name,
        ));
    }
    if config.rejections_per_second.is_some() {
        // `_rejections` has a fixed schema: listed whenever refusals are recorded.
        let columns = Columns {
            primary_key: Vec::new(),
            generated_key: true,
            ..settings.columns.clone()
        };
        entries.push(catalog::discover_stream(
            rejections::STREAM,
            rejections::schema(&columns),
            &columns,
            &[GENERATED_KEY_FIELD.to_owned()],
            &config.schema_name,
        ));
    }
    println!("{}", serde_json::json!({ "streams": entries }));
    Ok(())
}
