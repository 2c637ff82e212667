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
use crate::fsutil;
use crate::journal::Journal;

/// Where [`Observed`] is kept, in `data_dir`.
const OBSERVED_FILE: &str = "schema-observed.json";

/// How often a running emitter saves [`Observed`] (and always at its end).
const OBSERVED_EVERY: Duration = Duration::from_secs(60);

/// How far the persisted schemas have seen the journal: every entry up to `through` was routed,
/// under the settings `settings` fingerprints, to streams whose persisted schemas declare its
/// columns (a schema is saved as soon as it changes, before the record that changed it is
/// written). With other settings (a route, a key or a catalog changed) it is not used, and a
/// backlog is read from its start.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Observed {
    through: u64,
    settings: String,
}

/// What a run knows about [`Observed`].
#[derive(Debug)]
pub(super) struct ObservedMark {
    /// Read from `data_dir`, with this run's settings.
    loaded: Option<Sequence>,
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
            .map(|observed| Sequence::new(observed.through));
        ObservedMark {
            loaded,
            saved: loaded,
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
        journal: &Journal,
        after: Option<Sequence>,
        skip_invalid: bool,
    ) -> Result<(), EmitError> {
        let seen = self.observed.loaded;
        self.observed.extends = after.is_none_or(|after| seen.is_some_and(|seen| after <= seen));
        // With `max_records`, the records before `seen` count against it: read them all.
        let start = match seen {
            Some(seen) if self.settings.max_records.is_none() => after.max(Some(seen)),
            _ => after,
        };
        if start != after {
            log::info!(
                "the persisted schema has seen the journal through sequence {}: declaring \
                 columns from there",
                seen.map_or(0, Sequence::get)
            );
        }
        let mut reader = journal.reader(start)?;
        let reader = reader.as_mut();
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
                if s.schema
                    .observe(&named, sequence, &mut self.actions)
                    .is_err()
                {
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

    /// Saves how far the persisted schemas have seen the journal (this run's bookmark), if
    /// this run's backlog began within what they had seen, at most every [`OBSERVED_EVERY`]
    /// unless `now`. A failure only costs a later backlog a longer first read: it is logged.
    pub(super) fn save_observed(&mut self, now: bool) {
        let (Bookmark::Journal(Some(through)), Some(data_dir), true, true) = (
            &self.bookmark,
            &self.schemas.data_dir,
            self.schemas.persist,
            self.observed.extends,
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
