//! Before a backlog, its SCHEMA once per stream; and rejection entries, written to the
//! `_rejections` stream.

use super::*;

impl<W: Write> Emitter<W> {
    /// Declares every column the entries `reader` holds now will need, in the streams they
    /// go to, so that a backlog is preceded by one SCHEMA per stream instead of one per new
    /// column (targets flush or re-check on each). The entries are read again by the reader
    /// that writes them. Declares no further than writing will go: up to `max_records`, a
    /// value a pinned field cannot take, a record without its stream's key, or an entry that
    /// cannot be converted (unless `skip_invalid`, where writing skips it too). Call before
    /// [`Emitter::start`].
    pub async fn declare_backlog(
        &mut self,
        reader: &mut dyn JournalReader,
        skip_invalid: bool,
    ) -> Result<(), EmitError> {
        let mut budget = self
            .settings
            .max_records
            .map_or(u64::MAX, |max| max.saturating_sub(self.emitted));
        let keys_vary = self.settings.streams.keys_vary();
        'entries: while let Some(entry) = reader.next_entry().await? {
            if rejections::is_rejection(&entry.headers) {
                continue;
            }
            let json = match media::kind_of_entry(
                entry
                    .headers
                    .iter()
                    .map(|h| (h.name.as_ref(), h.value.as_ref())),
            )
            .and_then(|kind| media::to_json(&kind, &entry.body))
            {
                Ok(json) => json,
                Err(_) if skip_invalid => continue,
                Err(_) => break,
            };
            let payload = match self.parse(&json) {
                Ok(payload) => payload,
                Err(_) if skip_invalid => continue,
                Err(_) => break,
            };
            let is_array = payload.records.len() > 1;
            for (i, record) in payload.records.iter().enumerate() {
                let sequence = entry.first_sequence.offset(i as u64);
                let stream = self.route(&entry.headers, record)?;
                let s = &self.streams[stream];
                if !s.selected || self.emitted_before(&s.name, sequence) {
                    continue;
                }
                if keys_vary
                    && payload::check_record_keys(record, &s.primary_key, is_array.then_some(i))
                        .is_err()
                {
                    break 'entries;
                }
                if budget == 0 {
                    break 'entries;
                }
                let s = &mut self.streams[stream];
                let named = s.schema.name(record);
                if s.schema.observe(&named, sequence).is_err() {
                    break 'entries;
                }
                budget -= 1;
            }
        }
        for s in &mut self.streams {
            s.schema.persist()?;
        }
        Ok(())
    }

    /// Writes a rejection entry (one record) to the `_rejections` stream, with that stream's
    /// fixed SCHEMA before the first one of the run.
    pub(super) fn emit_rejection(&mut self, entry: &Entry) -> Result<Flow, EmitError> {
        let sequence = entry.first_sequence;
        if self.already_emitted_to(rejections::STREAM, sequence) {
            return Ok(Flow::Continue);
        }
        if self.limit_reached() {
            return Ok(Flow::LimitReached);
        }
        if !self.schemas.catalogs.is_stream_selected(rejections::STREAM) {
            self.bookmark = Bookmark::Journal(Some(entry.last_sequence()));
            self.since_state += 1;
            return Ok(Flow::Continue);
        }
        let payload = payload::parse_payload(&entry.body, &RecordRules::default())
            .map_err(|error| EmitError::Entry { sequence, error })?;
        if !self.rejections_schema_sent {
            self.out.schema(
                rejections::STREAM,
                &rejections::schema(&self.settings.columns),
                &[payload::GENERATED_KEY_FIELD.to_owned()],
            );
            self.rejections_schema_sent = true;
        }
        let received_at = entry
            .received_at
            .to_rfc3339_opts(SecondsFormat::Micros, true);
        let keys = KeySource::Journal(&entry.journal_id.0).keys();
        let columns = &self.settings.columns;
        for (i, record) in payload.records.iter().enumerate() {
            let meta = RecordMeta {
                sequence: sequence.offset(i as u64),
                received_at: &received_at,
                key: Some(keys.key(i, sequence.offset(i as u64))),
                sequence_alias: columns.sequence_alias.as_deref(),
                received_at_alias: columns.received_at_alias.as_deref(),
                overflow: &[],
                headers: None,
                query: None,
            };
            singer::write_record(&mut self.out, rejections::STREAM, record, &meta, |_, _| {
                singer::FieldAction::Raw
            });
            self.bookmark = Bookmark::Journal(Some(sequence.offset(i as u64)));
            self.emitted += 1;
            self.since_state += 1;
        }
        self.out.maybe_flush()?;
        Ok(if self.limit_reached() {
            Flow::LimitReached
        } else {
            Flow::Continue
        })
    }
}
