//! Publishing entries: one message each, answered once JetStream acknowledged it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::message::PublishMessage;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use super::{Connection, NatsReader, RECORDS_PER_MESSAGE};
use crate::journal::frame;
use crate::journal::{Appended, JournalError, JournalReader, JournalWriter, NewEntry};
use crate::sequence::Sequence;
use crate::telemetry;

/// How often the stream's state is polled: other receivers' messages, and readiness.
const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// Wait between publish attempts while the stream has no leader.
const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// The writer handle of a NATS journal; any number of them may publish to one stream.
pub(super) struct NatsJournal {
    connection: Connection,
    committed: watch::Sender<Option<Sequence>>,
    /// Why the last poll of the stream failed, if it did.
    poll_error: Arc<Mutex<Option<String>>>,
    poller: tokio::task::JoinHandle<()>,
}

impl Drop for NatsJournal {
    fn drop(&mut self) {
        self.poller.abort();
    }
}

/// The payload of an entry's message: its frame with the sequence left zero.
pub(crate) fn encode(entry: &NewEntry) -> Bytes {
    let mut payload = Vec::with_capacity(entry.body.len() + 128);
    frame::encode_frame_prefix(entry, Sequence::new(0), &mut payload);
    payload.extend_from_slice(&entry.body);
    Bytes::from(payload)
}

impl NatsJournal {
    /// Starts publishing to the connection's stream (call within a tokio runtime).
    pub fn new(connection: Connection) -> Self {
        let (committed, _) = watch::channel(None);
        let poll_error = Arc::new(Mutex::new(None));
        let poller = super::runtime().spawn(poll(
            connection.clone(),
            committed.clone(),
            Arc::clone(&poll_error),
        ));
        NatsJournal {
            connection,
            committed,
            poll_error,
            poller,
        }
    }

    /// The `Nats-Msg-Id`: the delivery's idempotency id (hashed: any bytes, bounded length),
    /// else a random id of this request.
    fn message_id(&self, entry: &NewEntry) -> Result<String, JournalError> {
        let header = self.connection.settings.idempotency_header.as_deref();
        if let Some(value) = header.and_then(|h| entry.headers.iter().find(|x| x.name == h)) {
            let digest = Sha256::digest(&value.value);
            return Ok(format!("idem-{}", hex::encode(&digest[..16])));
        }
        let mut random = [0u8; 16];
        getrandom::fill(&mut random)
            .map_err(|e| JournalError::io("generating a message id", e.into()))?;
        Ok(format!("req-{}", hex::encode(random)))
    }
}

impl JournalWriter for NatsJournal {
    fn append(&self, mut entry: NewEntry) -> BoxFuture<'static, Result<Appended, JournalError>> {
        let record_count = entry.record_count;
        if u64::from(record_count) > RECORDS_PER_MESSAGE {
            return Box::pin(std::future::ready(Err(JournalError::Rejected(format!(
                "{record_count} records in one request; the NATS journal takes at most \
                 {RECORDS_PER_MESSAGE}: split the batch"
            )))));
        }
        let message_id = self.message_id(&entry);
        let payload = encode(&entry);
        let mut on_durable = std::mem::take(&mut entry.on_durable);
        drop(entry);
        let connection = self.connection.clone();
        let committed = self.committed.clone();
        Box::pin(async move {
            let message_id = message_id?;
            let began = Instant::now();
            let ack = publish(&connection, payload, &message_id).await?;
            telemetry::hot_path()
                .fsync_seconds
                .record(began.elapsed().as_secs_f64());
            let first_sequence = connection.layout.first_sequence(ack.sequence);
            if !ack.duplicate {
                on_durable.call(first_sequence);
            }
            committed.send_if_modified(|current| {
                if current.is_none_or(|c| c < first_sequence) {
                    *current = Some(first_sequence);
                    telemetry::progress().set_committed(first_sequence.get());
                    true
                } else {
                    false
                }
            });
            Ok(Appended {
                first_sequence,
                record_count,
                duplicate: ack.duplicate,
            })
        })
    }

    fn committed(&self) -> watch::Receiver<Option<Sequence>> {
        self.committed.subscribe()
    }

    fn check_writable(&self) -> Result<(), JournalError> {
        let state = self.connection.client.connection_state();
        if state != async_nats::connection::State::Connected {
            return Err(JournalError::Unavailable(format!(
                "not connected to NATS ({}): {state}",
                self.connection.settings.servers.join(", ")
            )));
        }
        match self.poll_error.lock().map(|e| e.clone()) {
            Ok(Some(error)) => Err(JournalError::Unavailable(error)),
            _ => Ok(()),
        }
    }

    fn reader(&self, after: Option<Sequence>) -> Result<Box<dyn JournalReader>, JournalError> {
        Ok(Box::new(NatsReader::new(self.connection.clone(), after)))
    }
}

/// Publishes with the message id until acknowledged or `publish_timeout` has passed. A retry
/// after a lost acknowledgement is stored once: JetStream drops a repeated `Nats-Msg-Id`
/// within the duplicate window and acknowledges it again.
async fn publish(
    connection: &Connection,
    payload: Bytes,
    message_id: &str,
) -> Result<async_nats::jetstream::publish::PublishAck, JournalError> {
    let settings = &connection.settings;
    let deadline = Instant::now() + settings.publish_timeout;
    // Each attempt waits at most a third of the time for its acknowledgement, so that a
    // publish that went to a leader that just died is retried while time remains.
    let attempt_timeout = (settings.publish_timeout / 3).max(Duration::from_millis(500));
    let mut last_error = String::from("no attempt made");
    loop {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        let wait = attempt_timeout.min(deadline - now);
        let message = PublishMessage::build()
            .payload(payload.clone())
            .message_id(message_id);
        let attempt = async {
            let ack = connection
                .js
                .send_publish(settings.subject.clone(), message)
                .await?;
            ack.await
        };
        match tokio::time::timeout(wait, attempt).await {
            Ok(Ok(ack)) => return Ok(ack),
            Ok(Err(e)) => {
                if matches!(e.kind(), PublishErrorKind::MaxPayloadExceeded) {
                    return Err(JournalError::Rejected(format!(
                        "the message is larger than NATS takes: {e}"
                    )));
                }
                last_error = e.to_string();
                let pause = RETRY_PAUSE.min(deadline.saturating_duration_since(Instant::now()));
                tokio::time::sleep(pause).await;
            }
            Err(_) => last_error = format!("no acknowledgement within {wait:?}"),
        }
    }
    Err(JournalError::Unavailable(format!(
        "publishing to stream {} did not succeed within {:?}: {last_error}",
        settings.stream, settings.publish_timeout
    )))
}

/// Follows the stream's last sequence (messages from every receiver) for followers of
/// `committed`, and remembers whether the stream can be reached, for readiness.
async fn poll(
    mut connection: Connection,
    committed: watch::Sender<Option<Sequence>>,
    poll_error: Arc<Mutex<Option<String>>>,
) {
    let mut tick = tokio::time::interval(POLL_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let outcome = tokio::time::timeout(
            connection.settings.publish_timeout,
            connection.stream.info(),
        )
        .await;
        let error = match outcome {
            Ok(Ok(info)) => {
                let last = info.state.last_sequence;
                if last > 0 {
                    let last = connection.layout.first_sequence(last);
                    committed.send_if_modified(|current| {
                        if current.is_none_or(|c| c < last) {
                            *current = Some(last);
                            telemetry::progress().set_committed(last.get());
                            true
                        } else {
                            false
                        }
                    });
                }
                None
            }
            Ok(Err(e)) => Some(format!(
                "stream {} cannot be reached: {e}",
                connection.settings.stream
            )),
            Err(_) => Some(format!(
                "stream {} did not answer within {:?}",
                connection.settings.stream, connection.settings.publish_timeout
            )),
        };
        if let Ok(mut slot) = poll_error.lock() {
            if slot.is_some() && error.is_none() {
                log::info!("stream {}: reachable again", connection.settings.stream);
            }
            *slot = error;
        }
    }
}
