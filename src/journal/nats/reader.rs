//! Reading the stream back from a bookmark: message by message, in stream order.
//!
//! Messages are fetched with JetStream's "get message by sequence" request, which always
//! reaches the stream leader: no consumer state lives on the servers, so a reader survives
//! leader changes and node restarts by simply asking again. Up to [`WINDOW`] requests are in
//! flight at once. The reader ends (returns `None`) only when its position is past the last
//! sequence the stream reports, so a drain emits everything stored when it looked.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use async_nats::jetstream::message::StreamMessage;
use async_nats::jetstream::stream::RawMessageErrorKind;
use futures_util::future::{BoxFuture, join_all};

use super::{Connection, unavailable};
use crate::journal::{Entry, JournalError, JournalReader};
use crate::sequence::Sequence;

/// Requests in flight at once while small messages are read.
const WINDOW: u64 = 32;
/// Messages at least this large are read one at a time, to bound memory.
const LARGE_MESSAGE: usize = 1 << 20;
/// How long a read keeps retrying while the stream cannot be reached (leader election, a
/// restarting node) before it fails.
const READ_PATIENCE: Duration = Duration::from_secs(30);

pub(super) struct NatsReader {
    connection: Connection,
    after: Option<Sequence>,
    /// The next stream sequence to read.
    next: u64,
    /// The stream's last sequence when last asked.
    last_known: u64,
    window: u64,
    pending: VecDeque<Entry>,
}

impl NatsReader {
    pub fn new(connection: Connection, after: Option<Sequence>) -> Self {
        let next = connection.layout.first_message_after(after);
        NatsReader {
            connection,
            after,
            next,
            last_known: 0,
            window: 4,
            pending: VecDeque::new(),
        }
    }

    /// The stream's first and last sequence (what messages exist), retried while unreachable.
    async fn refresh(&mut self) -> Result<(), JournalError> {
        let deadline = Instant::now() + READ_PATIENCE;
        loop {
            match self.connection.stream.info().await {
                Ok(info) => {
                    let (first, last) = (info.state.first_sequence, info.state.last_sequence);
                    self.last_known = last;
                    // Purged by retention: everything before `first` was acknowledged.
                    if self.next < first {
                        self.next = first;
                    }
                    return Ok(());
                }
                Err(e) if Instant::now() >= deadline => {
                    return Err(unavailable(
                        &format!("reading stream {}", self.connection.settings.stream),
                        e,
                    ));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }

    async fn get(&self, n: u64) -> Result<Option<StreamMessage>, JournalError> {
        let deadline = Instant::now() + READ_PATIENCE;
        loop {
            match self.connection.stream.get_raw_message(n).await {
                Ok(message) => return Ok(Some(message)),
                // Purged meanwhile (retention); nothing else deletes messages.
                Err(e) if e.kind() == RawMessageErrorKind::NoMessageFound => return Ok(None),
                Err(e) if Instant::now() >= deadline => {
                    return Err(unavailable(
                        &format!(
                            "reading message {n} of stream {}",
                            self.connection.settings.stream
                        ),
                        e,
                    ));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }

    /// The next entry after the bookmark, or `None` when the stream holds no more now.
    pub async fn next(&mut self) -> Result<Option<Entry>, JournalError> {
        loop {
            if let Some(entry) = self.pending.pop_front() {
                return Ok(Some(entry));
            }
            if self.next > self.last_known {
                self.refresh().await?;
                if self.next > self.last_known {
                    return Ok(None);
                }
            }
            let end = self.last_known.min(self.next + self.window - 1);
            let messages = join_all((self.next..=end).map(|n| self.get(n))).await;
            let stream = &self.connection.settings.stream;
            let mut largest = 0;
            for (n, message) in (self.next..=end).zip(messages) {
                let Some(message) = message? else { continue };
                largest = largest.max(message.payload.len());
                let entry = self.connection.layout.decode(stream, n, message.payload)?;
                if self
                    .after
                    .is_some_and(|after| entry.last_sequence() <= after)
                {
                    continue;
                }
                self.after = Some(entry.last_sequence());
                self.pending.push_back(entry);
            }
            self.next = end + 1;
            self.window = if largest >= LARGE_MESSAGE { 1 } else { WINDOW };
        }
    }
}

impl JournalReader for NatsReader {
    fn next_entry(&mut self) -> BoxFuture<'_, Result<Option<Entry>, JournalError>> {
        Box::pin(self.next())
    }
}
