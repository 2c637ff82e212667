//! Driving an emitter from a journal reader: a drain to the end, or following a live journal
//! until the listener closes.

use super::*;

/// Emits every entry the reader has now, then stops (drain mode, `listen: false`).
pub async fn drain<W: Write>(
    emitter: &mut Emitter<W>,
    reader: &mut dyn JournalReader,
) -> Result<Flow, EmitError> {
    while let Some(entry) = reader.next_entry().await? {
        if emitter.emit_entry(&entry)? == Flow::LimitReached {
            return Ok(Flow::LimitReached);
        }
        emitter.tick()?;
    }
    emitter.flush()?;
    Ok(Flow::Continue)
}

/// Follows the journal while the listener runs: emits entries as they are committed, until
/// the listener has closed and everything committed before that has been emitted.
pub async fn follow<W: Write>(
    emitter: &mut Emitter<W>,
    reader: &mut dyn JournalReader,
    mut committed: watch::Receiver<Option<Sequence>>,
    lifecycle: &Lifecycle,
) -> Result<(), EmitError> {
    loop {
        let finished = lifecycle.is_closed();
        committed.borrow_and_update();
        let drained_at = Instant::now();
        if drain(emitter, reader).await? == Flow::LimitReached {
            lifecycle.request_stop(StopReason::MaxRecords);
            return Ok(());
        }
        if finished {
            return Ok(());
        }
        let due = emitter.next_due();
        tokio::select! {
            _ = committed.changed() => {
                tokio::time::sleep_until((drained_at + FOLLOW_INTERVAL).into()).await;
            }
            _ = lifecycle.closed() => {}
            _ = sleep_until(due) => emitter.tick()?,
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
