//! Before a backlog, its SCHEMA once per stream; and rejection entries, written to the
//! `_rejections` stream.
//!
//! The backlog is read twice: once to declare every column it needs, then to write it. The
//! first read starts after what the persisted schemas have already seen ([`Observed`]), so a
//! `replay --journal` of a journal a sync has emitted does not parse it twice.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::*;
use crate::convert::visit::Chunk;
use crate::fsutil;
use crate::journal::JournalId;

/// Where [`Observed`] is kept, in `data_dir`.
const OBSERVED_FILE: &str = "schema-observed.json";

/// How often a running emitter saves [`Observed`] (and always at its end).
const OBSERVED_EVERY: Duration = Duration::from_secs(60);

/// How far the persisted schemas have seen the journal: every entry up to `through` was routed,
/// under the settings `settings` fingerprints, to streams whose persisted schemas declare its
/// columns (a schema is saved as soon as it changes, before the record that changed it is
/// written). `entry` is the journal id of the entry holding record `through`: the first read
/// skips only if that entry is still there, in the same journal (not one recreated or
/// switched to, whose sequences may start again). With other settings (a route, a key or a
/// catalog changed, another version of the tap) the backlog is read from its start.
#[derive(Debug, Serialize, Deserialize)]
struct Observed {
    through: u64,
    entry: String,
    settings: String,
}

/// What a run knows about [`Observed`].
#[derive(Debug)]
pub(super) struct ObservedMark {
    /// Read from `data_dir`, with this run's settings: `through` and `entry`.
    loaded: Option<(Sequence, String)>,
    /// The journal id of the last entry this run emitted (the one its bookmark is in).
    pub(super) last_entry: Option<JournalId>,
    /// This run's backlog started within what the persisted schemas had seen (or at the start
    /// of the journal), so its bookmark extends `loaded`.
    extends: bool,
    saved: Option<Sequence>,
    saved_at: Instant,
    settings: String,
}

impl Default for ObservedMark {
    fn default() -> Self {
        ObservedMark {
            loaded: None,
            last_entry: None,
            extends: false,
            saved: None,
            saved_at: Instant::now(),
            settings: String::new(),
        }
    }
}

/// The fingerprint of everything that decides where a record goes and which columns it needs.
fn settings_fingerprint(settings: &EmitterSettings, catalogs: &Catalogs) -> String {
    let described = format!(
        "{:?}",
        (
            env!("CARGO_PKG_VERSION"),
            &settings.rules,
            &settings.key_properties,
            &settings.columns,
            &settings.streams,
            &settings.forced_stream,
            catalogs,
        )
    );
    hex::encode(Sha256::digest(described.as_bytes()))
}

impl ObservedMark {
    pub(super) fn load(data_dir: &Path, settings: &EmitterSettings, catalogs: &Catalogs) -> Self {
        let settings = settings_fingerprint(settings, catalogs);
        let loaded = std::fs::read(data_dir.join(OBSERVED_FILE))
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Observed>(&bytes).ok())
            .filter(|observed| observed.settings == settings)
            .map(|observed| (Sequence::new(observed.through), observed.entry));
        ObservedMark {
            saved: loaded.as_ref().map(|(through, _)| *through),
            loaded,
            settings,
            ..ObservedMark::default()
        }
    }
}

impl<W: Write> Emitter<W> {
    /// Declares every column the entries of `journal` after `after` will need, in the
    /// streams they go to, so that a backlog is preceded by one SCHEMA per stream instead of
    /// one per new column (targets flush or re-check on each). The entries are read again by
    /// the reader that writes them. Entries the persisted schemas have already seen are not
    /// read. Declares no further than writing will go: up to `max_records`, a value a pinned
    /// field cannot take, a record without its stream's key, or an entry that cannot be
    /// converted (unless `skip_invalid`, where writing skips it too). Call before
    /// [`Emitter::start`], with the `after` the writing reader starts from.
    pub async fn declare_backlog(
        &mut self,
        open: &mut dyn FnMut(Option<Sequence>) -> Result<Box<dyn JournalReader>, JournalError>,
        after: Option<Sequence>,
        skip_invalid: bool,
    ) -> Result<(), EmitError> {
        let (mut reader, mut pending) = self.backlog_reader(open, after).await?;
        let mut budget = self
            .settings
            .max_records
            .map_or(u64::MAX, |max| max.saturating_sub(self.emitted));
        loop {
            let entry = match pending.take() {
                Some(entry) => entry,
                None => match reader.next_entry().await? {
                    Some(entry) => entry,
                    None => break,
                },
            };
            if entry.kind() == EntryKind::Rejection {
                continue;
            }
            let json = match Converter::entry_json(&entry.headers, &entry.body) {
                Ok(json) => json,
                Err(_) if skip_invalid => continue,
                Err(_) => break,
            };
            let settings = Arc::clone(&self.settings);
            let converter = Converter::new(&settings.rules, &settings.streams);
            let declared = converter.records(&json, &mut |chunk| match self.declare_chunk(
                &chunk,
                &entry,
                &mut budget,
            ) {
                Ok(true) => Ok(()),
                Ok(false) => Err(None),
                Err(e) => Err(Some(e)),
            });
            match declared {
                Ok(_) => {}
                Err(VisitError::Payload(_)) if skip_invalid => continue,
                Err(VisitError::Payload(_) | VisitError::Visitor(None)) => break,
                Err(VisitError::Visitor(Some(e))) => return Err(e),
            }
        }
        for s in &mut self.streams {
            s.schema.persist()?;
        }
        Ok(())
    }

    /// Declares the columns of a chunk of `entry`'s records, within `budget` records; `false`
    /// where writing would stop (a record without its stream's key, a value a pinned field
    /// cannot take, the budget spent).
    fn declare_chunk(
        &mut self,
        chunk: &Chunk<'_, '_>,
        entry: &Entry,
        budget: &mut u64,
    ) -> Result<bool, EmitError> {
        let keys_vary = self.settings.streams.keys_vary();
        let indexed = chunk.indexed();
        for (j, record) in chunk.payload.records.iter().enumerate() {
            let i = chunk.first + j;
            let sequence = entry.first_sequence.offset(i as u64);
            let stream = self.route(&entry.headers, record)?;
            let s = &self.streams[stream];
            if !s.selected || self.emitted_before(&s.name, sequence) {
                continue;
            }
            if keys_vary
                && payload::check_record_keys(record, &s.primary_key, indexed.then_some(i)).is_err()
            {
                return Ok(false);
            }
            if *budget == 0 {
                return Ok(false);
            }
            let s = &mut self.streams[stream];
            let named = s.schema.name(record);
            if s.schema
                .observe(&named, sequence, &mut self.actions)
                .is_err()
            {
                return Ok(false);
            }
            *budget -= 1;
        }
        Ok(true)
    }

    /// The first read of a backlog after `after`: from the entry holding the last record the
    /// persisted schemas have seen, if it is still in the journal (returned first), else from
    /// `after`. Records up to that one are not read, unless:
    /// - this run's resume point or the bookmarks of its state lie past it (a `data_dir` that
    ///   has not seen them);
    /// - `max_records` is set (the records before it count against the limit);
    /// - the catalog deselects a stream (with `max_streams`, where a record goes can depend
    ///   on the streams met before it, and a deselected stream's are not saved).
    async fn backlog_reader(
        &mut self,
        open: &mut dyn FnMut(Option<Sequence>) -> Result<Box<dyn JournalReader>, JournalError>,
        after: Option<Sequence>,
    ) -> Result<(Box<dyn JournalReader>, Option<Entry>), EmitError> {
        // Whether the entry holding the last record the schemas have seen is still there, in
        // this journal (not one recreated or switched to, whose sequences may start again).
        let mut verified = None;
        if let Some((seen, entry_id)) = &self.observed.loaded {
            let mut reader = open(seen.get().checked_sub(1).map(Sequence::new))?;
            if let Some(entry) = reader.next_entry().await?
                && entry.first_sequence <= *seen
                && entry.journal_id.to_string() == *entry_id
            {
                verified = Some((*seen, reader, entry));
            }
        }
        if verified.is_none() {
            // What was saved is about another journal: this run's bookmark replaces it.
            self.observed.saved = None;
        }
        let fresh = after.is_none() && self.resume.is_none();
        let resumed_past = |seen: Sequence| {
            after.is_some_and(|after| after > seen)
                || self.resume.as_ref().is_some_and(|resume| resume.max > seen)
        };
        self.observed.extends = fresh
            || verified
                .as_ref()
                .is_some_and(|(seen, ..)| !resumed_past(*seen));
        match verified {
            Some((seen, reader, entry))
                if self.observed.extends
                    && after.is_none_or(|after| after < seen)
                    && self.settings.max_records.is_none()
                    && !self.schemas.catalogs.deselects_a_stream() =>
            {
                log::info!(
                    "the persisted schema has seen the journal through sequence {}: declaring \
                     columns from there",
                    seen.get()
                );
                Ok((reader, Some(entry)))
            }
            _ => Ok((open(after)?, None)),
        }
    }

    /// Saves how far the persisted schemas have seen the journal (this run's bookmark), if
    /// this run's backlog began within what they had seen, at most every [`OBSERVED_EVERY`]
    /// unless `now`. A failure only costs a later backlog a longer first read: it is logged.
    pub(super) fn save_observed(&mut self, now: bool) {
        let (Bookmark::Journal(Some(through)), Some(data_dir), true, true, Some(entry)) = (
            &self.bookmark,
            &self.schemas.data_dir,
            self.schemas.persist,
            self.observed.extends,
            self.observed.last_entry,
        ) else {
            return;
        };
        let mark = &mut self.observed;
        if mark.saved.is_some_and(|saved| saved >= *through)
            || !now && mark.saved_at.elapsed() < OBSERVED_EVERY
        {
            return;
        }
        let observed = Observed {
            through: through.get(),
            entry: entry.to_string(),
            settings: mark.settings.clone(),
        };
        let path = data_dir.join(OBSERVED_FILE);
        let bytes = serde_json::to_vec(&observed).expect("Observed serializes");
        match fsutil::write_atomic(&path, &bytes) {
            Ok(()) => {
                mark.saved = Some(*through);
                mark.saved_at = Instant::now();
            }
            Err(e) => log::warn!("could not write {}: {e}", path.display()),
        }
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
        let payload = crate::convert::visit::parse_payload(&entry.body, &RecordRules::default())
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
            singer::write_record(
                &mut self.out,
                rejections::STREAM,
                record,
                &meta,
                |_, _, _| singer::FieldAction::Raw,
            );
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
