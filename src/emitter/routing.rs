//! Streams inside the emitter: routing a record to its stream, each stream's output, and
//! whether a stream's bookmark is already past a record.

use super::*;

impl<W: Write> Emitter<W> {
    /// Where streams other than the default one get their schemas (persisted in `data_dir`,
    /// selected by the catalog); without it they are kept in memory and all selected.
    pub fn with_schemas(mut self, schemas: StreamSchemas) -> Self {
        if let Some(data_dir) = &schemas.data_dir {
            self.existing.extend(persisted_streams(data_dir));
            if schemas.persist {
                self.observed =
                    backlog::ObservedMark::load(data_dir, &self.settings, &schemas.catalogs);
            }
        }
        self.streams[0].selected = schemas.catalogs.is_stream_selected(&self.streams[0].name);
        self.schemas = schemas;
        self
    }

    /// The names of the streams this run has met so far (the default one first).
    pub fn stream_names(&self) -> Vec<&str> {
        self.streams.iter().map(|s| s.name.as_str()).collect()
    }

    pub(super) fn stream_out(&self, name: String, schema: SchemaTracker) -> StreamOut {
        let keys = self.settings.streams.keys(&name);
        StreamOut {
            key_properties: if keys.generated_key {
                vec![GENERATED_KEY_FIELD.to_owned()]
            } else {
                keys.primary_key.clone()
            },
            primary_key: keys.primary_key,
            generated_key: keys.generated_key,
            selected: self.schemas.catalogs.is_stream_selected(&name),
            announced: false,
            since_metric: 0,
            schema: schema.for_stream(&name),
            name,
        }
    }

    /// The columns of a stream's records.
    pub(super) fn stream_columns(&self, name: &str) -> Columns {
        let keys = self.settings.streams.keys(name);
        Columns {
            primary_key: keys.primary_key,
            generated_key: keys.generated_key,
            ..self.settings.columns.clone()
        }
    }

    /// The stream a record goes to (created on its first record), by index.
    pub(super) fn route(
        &mut self,
        headers: &[Header],
        record: &payload::Fields<'_>,
    ) -> Result<usize, EmitError> {
        let name = match &self.settings.forced_stream {
            Some(name) => Some(name.clone()),
            None => self.settings.streams.route(headers, record),
        };
        let Some(name) = name else { return Ok(0) };
        if let Some(&index) = self.by_name.get(&name) {
            return Ok(index);
        }
        if !self.existing.contains(&name)
            && self.settings.streams.may_overflow(&name)
            && self.existing.len() >= self.settings.streams.max_streams
        {
            if self.overflowed.insert(name.clone()) {
                log::warn!(
                    "route value {name:?} would be stream number {} past max_streams ({}); its \
                     records go to stream {:?}",
                    self.existing.len() + 1,
                    self.settings.streams.max_streams,
                    self.streams[0].name
                );
            }
            return Ok(0);
        }
        let columns = self.stream_columns(&name);
        let catalog = self
            .schemas
            .catalogs
            .stream(&name)
            .without_columns(&columns);
        let schema = match &self.schemas.data_dir {
            Some(data_dir) => {
                let tracker = SchemaTracker::load_stream(
                    data_dir,
                    &name,
                    &self.settings.streams.default,
                    columns,
                    catalog,
                )?;
                if self.schemas.persist {
                    tracker
                } else {
                    tracker.detached()
                }
            }
            None => SchemaTracker::in_memory(columns, catalog),
        };
        let mut stream = self.stream_out(name.clone(), schema);
        if stream.selected {
            stream.schema.persist()?;
        }
        self.existing.insert(name.clone());
        self.by_name.insert(name, self.streams.len());
        self.streams.push(stream);
        Ok(self.streams.len() - 1)
    }

    /// Whether an earlier run already emitted the record with `sequence` of `stream`.
    pub(super) fn already_emitted(&mut self, stream: usize, sequence: Sequence) -> bool {
        if self.resume.is_none() {
            return false;
        }
        let name = std::mem::take(&mut self.streams[stream].name);
        let emitted = self.already_emitted_to(&name, sequence);
        self.streams[stream].name = name;
        emitted
    }

    /// Whether an earlier run already emitted the record with `sequence` of stream `name`;
    /// once past every bookmark, stops looking.
    pub(super) fn already_emitted_to(&mut self, name: &str, sequence: Sequence) -> bool {
        if self.resume.as_ref().is_some_and(|r| sequence > r.max) {
            self.resume = None;
        }
        self.emitted_before(name, sequence)
    }

    /// Whether the state this run resumes from says the record was emitted.
    pub(super) fn emitted_before(&self, name: &str, sequence: Sequence) -> bool {
        let Some(resume) = &self.resume else {
            return false;
        };
        if sequence > resume.max {
            return false;
        }
        match resume.floors.get(name) {
            None => true,
            Some(None) => false,
            Some(Some(floor)) => sequence <= *floor,
        }
    }
}
