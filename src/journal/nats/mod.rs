//! The journal as a replicated NATS JetStream stream, for many receivers on many machines.
//!
//! Each accepted request is one message on the stream's subject. Its payload is the entry's
//! frame (length, CRC-32, version, record count, received time, captured headers, body; see
//! `journal::frame`), as the local journal writes it, with the sequence field left zero,
//! because the record sequences come from where the message lands in the stream:
//!
//! ```text
//! first _sdc_sequence of stream message n = base + (n - 1) * 65,536
//! _sdc_sequence of record i of that message = first + i          (i < 65,536)
//! ```
//!
//! `base` is the stream's creation time in Unix nanoseconds, written once into the stream's
//! description (`sdc_sequence_base=...`) by whichever tap creates or first opens the stream and
//! read back from there ever after. So the sequence is a pure function of the stream sequence
//! JetStream assigned: strictly increasing (stream sequences are, and no message holds more
//! than 65,536 records: receivers refuse larger requests with 422), identical on every re-read
//! from any bookmark (no receiver's clock and no earlier message is involved), 19 digits like a
//! Unix epoch in nanoseconds for the first 10^14 messages, and above every sequence a local
//! journal handed out before the stream was created, so `MAX(_sdc_sequence)` per key stays
//! right when a deployment moves from the local journal to NATS. It is not a wall-clock time:
//! it advances 65.5 µs per message, so at high rates it runs ahead of the clock.
//!
//! The journal id mixed into generated `__sdc_primary_key`s is derived from the stream name and
//! the base, so it too is the same on every re-read.

//!
//! Everything here runs its network I/O on one process-wide runtime ([`runtime`]), so that
//! the journal's synchronous face ([`super::Journal`]) works from blocking and async code
//! alike, and one connection per stream serves the whole process.

mod reader;
mod settings;
mod state;
mod writer;

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use async_nats::jetstream::{self, stream};
use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::frame;
use super::{Backend, Entry, EntryHead, JournalError, JournalId, JournalReader, JournalWriter};
use crate::sequence::{self, Sequence};

use reader::NatsReader;
pub use settings::{NatsSetting, NatsSettings, validate};
pub use state::StateBucket;
use writer::NatsJournal;

/// Record sequences reserved per stream message: the most records one message may hold.
pub const RECORDS_PER_MESSAGE: u64 = 1 << 16;

const BASE_MARKER: &str = "sdc_sequence_base=";

/// How stream messages map to record sequences and which journal id they carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Layout {
    base: u64,
    id: JournalId,
}

impl Layout {
    pub fn new(stream: &str, base: u64) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"tap-webhooks nats journal\0");
        hasher.update(stream.as_bytes());
        hasher.update(b"\0");
        hasher.update(base.to_le_bytes());
        let digest = hasher.finalize();
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest[..16]);
        Layout {
            base,
            id: JournalId(id),
        }
    }

    /// The first record sequence of stream message `n` (stream sequences start at 1).
    pub fn first_sequence(&self, n: u64) -> Sequence {
        Sequence::new(
            self.base
                .saturating_add(n.saturating_sub(1).saturating_mul(RECORDS_PER_MESSAGE)),
        )
    }

    /// The first stream message that may hold a record after `bookmark`: the one whose range
    /// holds the bookmark (the reader skips it when all its records are at or before it).
    pub fn first_message_after(&self, bookmark: Option<Sequence>) -> u64 {
        match bookmark {
            Some(b) if b.get() >= self.base => (b.get() - self.base) / RECORDS_PER_MESSAGE + 1,
            _ => 1,
        }
    }

    /// The stream message holding record sequence `s`, if `s` is one of this stream's.
    pub fn message_holding(&self, s: Sequence) -> Option<u64> {
        (s.get() >= self.base).then(|| (s.get() - self.base) / RECORDS_PER_MESSAGE + 1)
    }

    #[cfg(test)]
    pub fn journal_id(&self) -> JournalId {
        self.id
    }

    /// Decodes stream message `n` into an entry with its record sequences.
    pub fn decode(&self, stream: &str, n: u64, payload: Bytes) -> Result<Entry, JournalError> {
        let corrupt = |reason: String| JournalError::CorruptMessage {
            stream: stream.to_owned(),
            sequence: n,
            reason,
        };
        let mut entry = frame::decode_message(self.id, payload).map_err(corrupt)?;
        if u64::from(entry.record_count) > RECORDS_PER_MESSAGE {
            return Err(corrupt(format!(
                "{} records, more than {RECORDS_PER_MESSAGE}",
                entry.record_count
            )));
        }
        entry.first_sequence = self.first_sequence(n);
        Ok(entry)
    }
}

/// The runtime that drives every NATS connection of the process (never dropped).
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("nats")
            .enable_all()
            .build()
            .unwrap_or_else(|e| {
                // Without threads nothing else in the process could run either.
                log::error!("cannot start the NATS runtime: {e}");
                std::process::exit(1)
            })
    })
}

/// Runs `work` on the NATS runtime and waits for it, from blocking or async code alike (for
/// the journal's synchronous methods and the token store's, used at start-up and from
/// blocking tasks).
pub fn block_on<T: Send + 'static>(
    work: impl Future<Output = Result<T, JournalError>> + Send + 'static,
) -> Result<T, JournalError> {
    let (tx, rx) = std::sync::mpsc::channel();
    runtime().spawn(async move {
        let _ = tx.send(work.await);
    });
    rx.recv()
        .unwrap_or_else(|_| Err(JournalError::Unavailable("the NATS runtime stopped".into())))
}

/// The process's connection for these settings, made on first use.
fn shared_connection(settings: &NatsSettings) -> Result<Connection, JournalError> {
    static CONNECTIONS: OnceLock<Mutex<HashMap<String, Connection>>> = OnceLock::new();
    let key = format!(
        "{}|{}|{}",
        settings.servers.join(","),
        settings.stream,
        settings.subject
    );
    let connections = CONNECTIONS.get_or_init(Default::default);
    if let Some(connection) = connections.lock().ok().and_then(|c| c.get(&key).cloned()) {
        return Ok(connection);
    }
    let owned = settings.clone();
    let connection = block_on(async move { connect(&owned).await })?;
    if let Ok(mut connections) = connections.lock() {
        connections.insert(key, connection.clone());
    }
    Ok(connection)
}

/// The NATS backend of [`super::Journal`].
pub(super) struct NatsBackend {
    data_dir: PathBuf,
    settings: NatsSettings,
}

impl NatsBackend {
    pub(super) fn new(data_dir: PathBuf, settings: NatsSettings) -> Self {
        NatsBackend { data_dir, settings }
    }

    fn connection(&self) -> Result<Connection, JournalError> {
        shared_connection(&self.settings)
    }

    /// The stream's current state (first sequence, messages, bytes), with the connection.
    fn stream_state(&self) -> Result<(Connection, stream::State), JournalError> {
        let connection = self.connection()?;
        let state = block_on({
            let connection = connection.clone();
            async move {
                let info = connection
                    .stream
                    .get_info()
                    .await
                    .map_err(|e| unavailable("reading the stream", e))?;
                Ok::<_, JournalError>(info.state)
            }
        })?;
        Ok((connection, state))
    }
}

impl Backend for NatsBackend {
    /// `data_dir` holds only what is kept beside the journal: nothing else makes it.
    fn prepare_data_dir(&self) -> Result<(), JournalError> {
        crate::fsutil::ensure_dir(&self.data_dir)
            .map_err(|e| JournalError::io(format!("creating {}", self.data_dir.display()), e))
    }

    /// Any number of writers may publish to one stream: nothing is locked.
    fn open_writer(&self, _holder: &str) -> Result<Arc<dyn JournalWriter>, JournalError> {
        Ok(Arc::new(NatsJournal::new(self.connection()?)))
    }

    fn reader(&self, after: Option<Sequence>) -> Result<Box<dyn JournalReader>, JournalError> {
        Ok(Box::new(NatsReader::new(self.connection()?, after)))
    }

    /// Nothing to scan: the stream's duplicate window dedupes delivery ids across receivers
    /// and restarts (a redelivery is acknowledged as a duplicate and not stored).
    fn scan_entry_heads(
        &self,
        _since: Sequence,
        _f: &mut dyn FnMut(EntryHead),
    ) -> Result<(), JournalError> {
        Ok(())
    }

    fn acknowledge(&self, bookmark: Sequence) -> Result<(), JournalError> {
        let connection = self.connection()?;
        block_on(async move {
            state::StateBucket::open(&connection)
                .await?
                .acknowledge(bookmark)
                .await
        })
    }

    fn acknowledged(&self) -> Option<Sequence> {
        let connection = self.connection().ok()?;
        block_on(async move {
            let read = async {
                state::StateBucket::open(&connection)
                    .await?
                    .acknowledged()
                    .await
            };
            tokio::time::timeout(Duration::from_secs(1), read)
                .await
                .unwrap_or(Ok(None))
        })
        .ok()
        .flatten()
    }

    fn apply_retention(
        &self,
        keep: Duration,
        now: SystemTime,
    ) -> Result<Vec<String>, JournalError> {
        let connection = self.connection()?;
        let stream = connection.settings.stream.clone();
        let below = block_on(async move {
            state::apply_retention(&connection, keep, chrono::DateTime::from(now)).await
        })?;
        Ok(if below > 0 {
            vec![format!(
                "messages of stream {stream} below sequence {below}"
            )]
        } else {
            Vec::new()
        })
    }

    fn first_sequence(&self) -> Result<Option<Sequence>, JournalError> {
        let (connection, state) = self.stream_state()?;
        Ok((state.messages > 0).then(|| connection.layout.first_sequence(state.first_sequence)))
    }

    fn size_on_disk(&self) -> Result<u64, JournalError> {
        Ok(self.stream_state()?.1.bytes)
    }
}

/// A connection to NATS with the journal's stream ready.
#[derive(Clone)]
struct Connection {
    pub client: async_nats::Client,
    pub js: jetstream::Context,
    pub stream: stream::Stream,
    pub layout: Layout,
    pub settings: NatsSettings,
}

/// A NATS error as a journal error: the journal cannot be reached now.
pub(crate) fn unavailable(what: &str, e: impl std::fmt::Display) -> JournalError {
    JournalError::Unavailable(format!("{what}: {e}"))
}

/// Connects to NATS (failing after `connect_timeout`), then creates or checks the stream.
async fn connect(settings: &NatsSettings) -> Result<Connection, JournalError> {
    let client = connect_client(settings).await?;
    let mut js = jetstream::new(client.clone());
    js.set_timeout(settings.publish_timeout);
    // A cluster that is starting (no meta leader yet) answers "temporarily unavailable":
    // keep asking for as long as a connection may take.
    let deadline = std::time::Instant::now() + settings.connect_timeout;
    let (stream, layout) = loop {
        match ensure_stream(&js, settings).await {
            Ok(found) => break found,
            Err(e) if std::time::Instant::now() < deadline => {
                log::debug!("{e}; retrying");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => return Err(e),
        }
    };
    Ok(Connection {
        client,
        js,
        stream,
        layout,
        settings: settings.clone(),
    })
}

async fn connect_client(settings: &NatsSettings) -> Result<async_nats::Client, JournalError> {
    let servers = settings.servers.join(", ");
    let mut options = async_nats::ConnectOptions::new()
        .name(format!("tap-webhooks {}", std::process::id()))
        .connection_timeout(settings.connect_timeout)
        .request_timeout(Some(settings.publish_timeout))
        // Reconnect forever, quickly: a receiver answers 503 meanwhile and must be back as
        // soon as the cluster is.
        .max_reconnects(None)
        .reconnect_delay_callback(|attempts| {
            Duration::from_millis((attempts as u64).saturating_mul(100).min(1000))
        })
        .event_callback(|event| async move {
            match event {
                async_nats::Event::Connected => log::info!("NATS: connected"),
                async_nats::Event::Disconnected => {
                    log::warn!("NATS: disconnected; reconnecting")
                }
                other => log::warn!("NATS: {other}"),
            }
        });
    if let Some(path) = &settings.credentials_file {
        options = options.credentials_file(path).await.map_err(|e| {
            JournalError::io(
                format!("reading the NATS credentials file {}", path.display()),
                e,
            )
        })?;
    }
    if let Some(path) = &settings.token_file {
        let token = std::fs::read_to_string(path).map_err(|e| {
            JournalError::io(format!("reading the NATS token file {}", path.display()), e)
        })?;
        options = options.token(token.trim().to_owned());
    }
    if let Some(path) = &settings.tls_ca_file {
        options = options.add_root_certificates(path.clone());
    }
    let client = tokio::time::timeout(
        settings.connect_timeout + Duration::from_secs(1),
        options.connect(settings.servers.as_slice()),
    )
    .await
    .map_err(|_| {
        JournalError::Unavailable(format!(
            "cannot connect to NATS at {servers}: no answer within {:?}",
            settings.connect_timeout
        ))
    })?
    .map_err(|e| JournalError::Unavailable(format!("cannot connect to NATS at {servers}: {e}")))?;
    let max_payload = client.server_info().max_payload as u64;
    let needed = settings.max_message_bytes();
    if max_payload < needed {
        return Err(JournalError::Unavailable(format!(
            "NATS at {servers} takes messages of at most {max_payload} bytes, but bodies of \
             max_body_bytes ({}) need {needed}: set max_payload: {} (or more) in every \
             nats-server's config, or lower max_body_bytes",
            settings.max_body_bytes,
            needed.next_power_of_two().max(needed)
        )));
    }
    Ok(client)
}

/// The stream's configuration as this tap wants it.
fn wanted_config(settings: &NatsSettings, base: u64) -> stream::Config {
    stream::Config {
        name: settings.stream.clone(),
        description: Some(format!(
            "tap-webhooks journal; {BASE_MARKER}{base} (never change it: records' \
             _sdc_sequence derive from it)"
        )),
        subjects: vec![settings.subject.clone()],
        num_replicas: settings.replicas,
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        discard: stream::DiscardPolicy::New,
        max_message_size: settings.max_message_bytes() as i32,
        duplicate_window: settings.duplicate_window,
        max_bytes: -1,
        max_messages: -1,
        max_messages_per_subject: -1,
        max_consumers: -1,
        deny_delete: true,
        ..Default::default()
    }
}

fn parse_base(description: Option<&str>) -> Option<u64> {
    let text = description?;
    let at = text.find(BASE_MARKER)? + BASE_MARKER.len();
    let digits: String = text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Creates the stream if it is missing; otherwise checks it and brings the settings this
/// tap owns (message size, duplicate window, the sequence base) up to date.
async fn ensure_stream(
    js: &jetstream::Context,
    settings: &NatsSettings,
) -> Result<(stream::Stream, Layout), JournalError> {
    let name = &settings.stream;
    for _ in 0..3 {
        match js.get_stream(name).await {
            Ok(mut stream) => {
                let info = stream
                    .info()
                    .await
                    .map_err(|e| unavailable(&format!("reading stream {name}"), e))?
                    .clone();
                let config = &info.config;
                if !config.subjects.iter().any(|s| s == &settings.subject) {
                    return Err(JournalError::Unavailable(format!(
                        "stream {name} exists but does not take subject {} (its subjects: {}); \
                         set journal.subject to one of them",
                        settings.subject,
                        config.subjects.join(", ")
                    )));
                }
                let base = parse_base(config.description.as_deref());
                let too_small = config.max_message_size >= 0
                    && (config.max_message_size as u64) < settings.max_message_bytes();
                if base.is_none()
                    || too_small
                    || config.duplicate_window != settings.duplicate_window
                {
                    let base = base.unwrap_or_else(|| {
                        info.created.timestamp_nanos_opt().unwrap_or(0).max(0) as u64
                    });
                    let mut update = config.clone();
                    update.description = wanted_config(settings, base).description;
                    if too_small {
                        update.max_message_size = settings.max_message_bytes() as i32;
                    }
                    update.duplicate_window = settings.duplicate_window;
                    js.update_stream(&update)
                        .await
                        .map_err(|e| unavailable(&format!("updating stream {name}"), e))?;
                    log::info!(
                        "stream {name}: updated (max message size, duplicate window {:?}, \
                         sequence base)",
                        settings.duplicate_window
                    );
                    continue;
                }
                if config.num_replicas != settings.replicas {
                    log::warn!(
                        "stream {name} has {} replicas, journal.replicas says {}; change it with \
                         `nats stream edit` (the tap does not move data)",
                        config.num_replicas,
                        settings.replicas
                    );
                }
                let base = base.expect("checked above");
                return Ok((stream, Layout::new(name, base)));
            }
            Err(e) if is_not_found(&e) => {
                let base = sequence::now_nanos();
                match js.create_stream(wanted_config(settings, base)).await {
                    Ok(_) => log::info!(
                        "created stream {name} ({} replicas, subject {})",
                        settings.replicas,
                        settings.subject
                    ),
                    // Another tap created it at the same moment: read it back.
                    Err(e) => log::info!("creating stream {name}: {e}; reading it back"),
                }
            }
            Err(e) => return Err(unavailable(&format!("reading stream {name}"), e)),
        }
    }
    Err(JournalError::Unavailable(format!(
        "stream {name} could not be created or brought to its settings"
    )))
}

fn is_not_found(e: &jetstream::context::GetStreamError) -> bool {
    matches!(
        e.kind(),
        jetstream::context::GetStreamErrorKind::JetStream(js)
            if js.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_are_a_pure_increasing_function_of_the_stream_sequence() {
        let layout = Layout::new("S", 1_790_000_000_000_000_000);
        assert_eq!(layout.first_sequence(1).get(), 1_790_000_000_000_000_000);
        assert_eq!(
            layout.first_sequence(3).get(),
            1_790_000_000_000_000_000 + 2 * RECORDS_PER_MESSAGE
        );
        assert_eq!(layout.first_message_after(None), 1);
        assert_eq!(layout.first_message_after(Some(Sequence::new(5))), 1);
        for n in [1, 2, 77, 1_000_000] {
            let first = layout.first_sequence(n);
            assert_eq!(layout.first_message_after(Some(first)), n);
            assert_eq!(
                layout.first_message_after(Some(first.offset(RECORDS_PER_MESSAGE - 1))),
                n
            );
            assert_eq!(
                layout.first_message_after(Some(first.offset(RECORDS_PER_MESSAGE))),
                n + 1
            );
        }
        // 10^14 messages still fit in 19 digits and in a signed 64-bit column.
        let far = layout.first_sequence(100_000_000_000_000);
        assert!(far.get() < i64::MAX as u64 && far.get() >= 1_000_000_000_000_000_000);
        assert_ne!(
            layout.journal_id(),
            Layout::new("T", layout.base).journal_id()
        );
    }

    #[test]
    fn the_base_is_read_from_the_description() {
        assert_eq!(
            parse_base(Some("tap-webhooks journal; sdc_sequence_base=123 (x)")),
            Some(123)
        );
        assert_eq!(parse_base(Some("made by hand")), None);
        assert_eq!(parse_base(None), None);
    }

    #[test]
    fn messages_decode_to_entries_with_stream_derived_sequences() {
        let layout = Layout::new("S", 1_790_000_000_000_000_000);
        let entry = super::super::NewEntry {
            received_at: chrono::DateTime::from_timestamp_nanos(1_790_000_000_123_000_000),
            record_count: 2,
            headers: vec![],
            body: Bytes::from_static(b"[{},{}]"),
            on_durable: Default::default(),
        };
        let payload = writer::encode(&entry);
        let back = layout.decode("S", 5, payload.clone()).unwrap();
        assert_eq!(back.first_sequence, layout.first_sequence(5));
        assert_eq!(back.record_count, 2);
        assert_eq!(back.received_at, entry.received_at);
        assert_eq!(back.body, entry.body);
        let mut flipped = payload.to_vec();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(layout.decode("S", 5, Bytes::from(flipped)).is_err());
    }
}
