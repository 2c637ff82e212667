//! The journal's key-value bucket (`journal.state_bucket`): the newest bookmark a sync
//! acknowledged (key `acknowledged`, in decimal), for retention. The webhook tokens share the
//! bucket, so that every receiver of the journal follows them ([`crate::tokens`]).

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::header::{NATS_EXPECTED_LAST_SUBJECT_SEQUENCE, NATS_MESSAGE_ID};
use async_nats::jetstream::{self, context::PublishErrorKind, kv, stream};
use bytes::Bytes;
use chrono::{DateTime, Utc};

use super::{Connection, NatsSettings, unavailable};
use crate::journal::JournalError;
use crate::sequence::Sequence;

const ACKNOWLEDGED: &str = "acknowledged";

/// The state bucket of a NATS journal.
#[derive(Clone)]
pub struct StateBucket {
    kv: kv::Store,
    js: jetstream::Context,
    name: String,
}

impl StateBucket {
    /// Connects (or reuses the process's connection) and opens the bucket of the journal
    /// `settings` describe.
    pub fn open_shared(settings: &NatsSettings) -> Result<Self, JournalError> {
        let connection = super::shared_connection(settings)?;
        super::block_on(async move { StateBucket::open(&connection).await })
    }

    /// Opens the bucket, creating it (with the journal's replicas) when missing.
    pub(super) async fn open(connection: &Connection) -> Result<Self, JournalError> {
        let settings = &connection.settings;
        let name = settings.state_bucket.clone();
        let js = connection.js.clone();
        if let Ok(kv) = js.get_key_value(&name).await {
            return Ok(StateBucket { kv, js, name });
        }
        // The bucket's stream, as `create_key_value` would make it: that call first reads the
        // account info in a shape nats-server 2.9 does not send, so the stream is created here.
        let created = connection
            .js
            .create_stream(stream::Config {
                name: format!("KV_{name}"),
                description: Some("tap-webhooks tokens and acknowledged bookmarks".into()),
                subjects: vec![format!("$KV.{name}.>")],
                max_messages_per_subject: 1,
                max_bytes: -1,
                max_messages: -1,
                max_message_size: 64 << 10,
                storage: stream::StorageType::File,
                allow_rollup: true,
                deny_delete: true,
                allow_direct: true,
                num_replicas: settings.replicas,
                discard: stream::DiscardPolicy::New,
                ..Default::default()
            })
            .await;
        // Created now, or by another tap at the same moment: open it.
        let kv = connection.js.get_key_value(&name).await.map_err(|e| {
            let created = created.err().map(|c| format!(" (creating it: {c})"));
            unavailable(
                &format!(
                    "opening key-value bucket {name}{}",
                    created.unwrap_or_default()
                ),
                e,
            )
        })?;
        Ok(StateBucket { kv, js, name })
    }

    /// The bucket's keys and values.
    pub fn kv(&self) -> &kv::Store {
        &self.kv
    }

    /// The bucket's name, for messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value of `key` (`None`: never written, or deleted) and the revision to write it at
    /// with [`Self::write_at`] (`None`: never written).
    pub async fn read_at(&self, key: &str) -> Result<(Option<Bytes>, Option<u64>), String> {
        let entry = (self.kv.entry(key).await)
            .map_err(|e| format!("reading {key} of bucket {}: {e}", self.name))?;
        Ok(match entry {
            Some(entry) if entry.operation == kv::Operation::Put => {
                (Some(entry.value), Some(entry.revision))
            }
            Some(entry) => (None, Some(entry.revision)),
            None => (None, None),
        })
    }

    /// Writes `value` to `key` only if the key is still at `revision` (`None`: never
    /// written); `Ok(false)` when another wrote first. Two writers that read the same revision
    /// never both succeed, on any nats-server: besides the expected revision (which a
    /// clustered nats-server before 2.9.21 checks before the write is replicated, so that two
    /// at once may both pass: nats-server issue 4320), each write carries a message id naming
    /// the revision it replaces, and a replicated stream stores only the first of two writes
    /// with one id (the second is acknowledged as a duplicate).
    pub async fn write_at(
        &self,
        key: &str,
        value: Bytes,
        revision: Option<u64>,
    ) -> Result<bool, String> {
        let revision = revision.unwrap_or(0);
        let mut headers = HeaderMap::new();
        headers.insert(NATS_EXPECTED_LAST_SUBJECT_SEQUENCE, revision.to_string());
        headers.insert(NATS_MESSAGE_ID, format!("{key}@{revision}"));
        let subject = format!(
            "{}{key}",
            self.kv.put_prefix.as_ref().unwrap_or(&self.kv.prefix)
        );
        let error =
            |e: &dyn std::fmt::Display| format!("writing {key} of bucket {}: {e}", self.name);
        let ack = match self.js.publish_with_headers(subject, headers, value).await {
            Ok(ack) => ack.await,
            Err(e) => return Err(error(&e)),
        };
        match ack {
            Ok(ack) => Ok(!ack.duplicate),
            Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => Ok(false),
            Err(e) => Err(error(&e)),
        }
    }

    /// The newest bookmark a sync acknowledged.
    pub(super) async fn acknowledged(&self) -> Result<Option<Sequence>, JournalError> {
        let value = self
            .kv
            .get(ACKNOWLEDGED)
            .await
            .map_err(|e| unavailable(&format!("reading bucket {}", self.name), e))?;
        Ok(value.and_then(|v| {
            std::str::from_utf8(&v)
                .ok()?
                .trim()
                .parse()
                .ok()
                .map(Sequence::new)
        }))
    }

    /// Records that everything up to `bookmark` was loaded (kept if newer than the current).
    pub(super) async fn acknowledge(&self, bookmark: Sequence) -> Result<(), JournalError> {
        for _ in 0..10 {
            let (value, revision) =
                (self.read_at(ACKNOWLEDGED).await).map_err(JournalError::Unavailable)?;
            let current =
                value.and_then(|v| std::str::from_utf8(&v).ok()?.trim().parse::<u64>().ok());
            if current.is_some_and(|c| c >= bookmark.get()) {
                return Ok(());
            }
            let value = Bytes::from(bookmark.to_string());
            if let Ok(true) = self.write_at(ACKNOWLEDGED, value, revision).await {
                return Ok(());
            }
        }
        Err(JournalError::Unavailable(format!(
            "bucket {}: could not record the acknowledged bookmark (too many concurrent writers)",
            self.name
        )))
    }
}

/// Applies retention once; returns the sequence purged below (0: nothing purged).
pub async fn apply_retention(
    connection: &Connection,
    keep: Duration,
    now: DateTime<Utc>,
) -> Result<u64, JournalError> {
    let bucket = StateBucket::open(connection).await?;
    let Some(acked) = bucket.acknowledged().await? else {
        return Ok(0);
    };
    let Some(holding) = connection.layout.message_holding(acked) else {
        return Ok(0);
    };
    let mut stream = connection.stream.clone();
    let info = stream
        .info()
        .await
        .map_err(|e| unavailable("reading the stream", e))?;
    let first = info.state.first_sequence;
    // Messages before the one holding the bookmark are wholly acknowledged; the last message
    // of the stream always stays (as the local journal keeps its last segment).
    let limit = holding.min(info.state.last_sequence);
    if limit <= first {
        return Ok(0);
    }
    let cutoff = now - chrono::Duration::from_std(keep).unwrap_or(chrono::Duration::MAX);
    // The last message in [first, limit) received at or before the cutoff: binary search on
    // the stream's own timestamps (they grow with the sequence, give or take clock skew
    // between leaders, which only makes retention keep a little more).
    let old_enough = async |n: u64| -> Result<bool, JournalError> {
        match connection.stream.get_raw_message(n).await {
            Ok(message) => Ok(message.time <= cutoff),
            Err(e)
                if e.kind()
                    == async_nats::jetstream::stream::RawMessageErrorKind::NoMessageFound =>
            {
                Ok(true)
            }
            Err(e) => Err(unavailable("reading the stream", e)),
        }
    };
    let (mut lo, mut hi) = (first, limit); // answer: first n in [first, limit] not old enough
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if old_enough(mid).await? {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if lo <= first {
        return Ok(0);
    }
    stream
        .purge()
        .sequence(lo)
        .await
        .map_err(|e| unavailable("purging the stream", e))?;
    Ok(lo)
}
