//! Reading entries back from segment files, in order, from a bookmark.

use std::fs::File;
use std::io::{self, BufReader, Seek, SeekFrom};
use std::path::PathBuf;

use futures_util::future::BoxFuture;
use tokio::sync::watch;

use super::segment::SEGMENT_HEADER_LEN;
use super::{list_segments, read_segment_header};
use crate::journal::frame::{self, Frame};
use crate::journal::{Entry, JournalError, JournalId, JournalReader};
use crate::sequence::Sequence;

/// Reads entries in order from segment files. With a `bound` (the writer's committed
/// sequence) it delivers only durable entries; without one it delivers every entry whose frame
/// is complete and valid, and treats an incomplete frame at the end of the last segment as
/// "not written yet".
pub(super) struct LocalReader {
    dir: PathBuf,
    after: Option<Sequence>,
    bound: Option<watch::Receiver<Option<Sequence>>>,
    position: Option<Position>,
}

struct Position {
    first: Sequence,
    path: PathBuf,
    id: JournalId,
    file: BufReader<File>,
    offset: u64,
}

impl LocalReader {
    pub(super) fn new(
        dir: PathBuf,
        after: Option<Sequence>,
        bound: Option<watch::Receiver<Option<Sequence>>>,
    ) -> Self {
        LocalReader {
            dir,
            after,
            bound,
            position: None,
        }
    }

    /// Blocking version of [`JournalReader::next_entry`].
    pub(super) fn next_entry_blocking(&mut self) -> Result<Option<Entry>, JournalError> {
        let bound = match &self.bound {
            None => None,
            Some(bound) => match *bound.borrow() {
                None => return Ok(None),
                Some(b) if self.after.is_some_and(|after| after >= b) => return Ok(None),
                Some(b) => Some(b),
            },
        };
        loop {
            if self.position.is_none() && !self.open_first_segment()? {
                return Ok(None);
            }
            let position = self.position.as_mut().expect("opened above");
            let frame = frame::read_frame(&mut position.file)
                .map_err(|e| JournalError::io(format!("reading {}", position.path.display()), e))?;
            match frame {
                Frame::Payload(payload) => {
                    let len = payload.len() as u64 + frame::FRAME_HEADER_LEN as u64;
                    let entry = frame::decode_payload(position.id, payload).map_err(|reason| {
                        JournalError::Corrupt {
                            segment: position.path.clone(),
                            offset: position.offset,
                            reason,
                        }
                    })?;
                    if bound.is_some_and(|b| entry.first_sequence > b) {
                        self.rewind()?;
                        return Ok(None);
                    }
                    position.offset += len;
                    if self
                        .after
                        .is_some_and(|after| entry.last_sequence() <= after)
                    {
                        continue;
                    }
                    self.after = Some(entry.last_sequence());
                    return Ok(Some(entry));
                }
                Frame::End | Frame::Invalid(_) => {
                    // List first, then read the frame again from the file: a segment is sealed
                    // once a later one exists, and the buffer may hold zeros, an end or half a
                    // frame that the writer has written past since, before it moved on.
                    let sealed = self.later_segment_exists()?;
                    match self.fresh_frame()? {
                        // Written since the buffer was filled: read it on the next turn.
                        Frame::Payload(_) => self.rewind()?,
                        Frame::End if sealed => {
                            if !self.advance_segment()? {
                                self.rewind()?;
                                return Ok(None);
                            }
                        }
                        Frame::Invalid(reason) if sealed => {
                            let current = self.position.as_ref().expect("opened above");
                            return Err(JournalError::Corrupt {
                                segment: current.path.clone(),
                                offset: current.offset,
                                reason,
                            });
                        }
                        // Not written yet, a frame still being written, or a torn tail the
                        // writer will cut on its next open.
                        _ => {
                            self.rewind()?;
                            return Ok(None);
                        }
                    }
                }
            }
        }
    }

    /// Positions the reader at the segment holding the record after `after`.
    fn open_first_segment(&mut self) -> Result<bool, JournalError> {
        let segments = list_segments(&self.dir)
            .map_err(|e| JournalError::io(format!("listing {}", self.dir.display()), e))?;
        let chosen = match self.after {
            None => segments.first(),
            Some(after) => segments
                .iter()
                .rev()
                .find(|(first, _)| *first <= after.offset(1))
                .or(segments.first()),
        };
        let Some((first, path)) = chosen.cloned() else {
            return Ok(false);
        };
        self.open_segment(first, path)
    }

    /// Moves to the segment after the current one; false if there is none.
    fn advance_segment(&mut self) -> Result<bool, JournalError> {
        let current = self.position.as_ref().expect("positioned").first;
        let segments = list_segments(&self.dir)
            .map_err(|e| JournalError::io(format!("listing {}", self.dir.display()), e))?;
        match segments.into_iter().find(|(first, _)| *first > current) {
            Some((first, path)) => self.open_segment(first, path),
            None => Ok(false),
        }
    }

    fn open_segment(&mut self, first: Sequence, path: PathBuf) -> Result<bool, JournalError> {
        let mut file = match File::open(&path) {
            Ok(file) => file,
            // Deleted by retention between listing and opening: list again next time.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(JournalError::io(format!("opening {}", path.display()), e)),
        };
        let (id, _) = read_segment_header(&path, &mut file)?;
        self.position = Some(Position {
            first,
            path,
            id,
            file: BufReader::with_capacity(self.buffer_capacity(), file),
            offset: SEGMENT_HEADER_LEN,
        });
        Ok(true)
    }

    /// A reader that follows the writer (bounded) reads a few entries at a time, and each time
    /// it reaches the end it reads the segment again from there, over the zeros written ahead:
    /// a large buffer would copy megabytes of them a second. A drain or replay reads on.
    fn buffer_capacity(&self) -> usize {
        match self.bound {
            Some(_) => 32 << 10,
            None => 256 << 10,
        }
    }

    /// Whether a segment after the current one exists (the current one is then sealed).
    fn later_segment_exists(&self) -> Result<bool, JournalError> {
        let current = self.position.as_ref().expect("positioned").first;
        Ok(list_segments(&self.dir)
            .map_err(|e| JournalError::io(format!("listing {}", self.dir.display()), e))?
            .into_iter()
            .any(|(first, _)| first > current))
    }

    /// The frame at the current offset, read again from the file (not the buffer); the
    /// reader is left at an unspecified position.
    fn fresh_frame(&mut self) -> Result<Frame, JournalError> {
        self.rewind()?;
        let position = self.position.as_mut().expect("positioned");
        frame::read_frame(&mut position.file)
            .map_err(|e| JournalError::io(format!("reading {}", position.path.display()), e))
    }

    /// Returns to the start of the frame at the current offset, to read it again later.
    fn rewind(&mut self) -> Result<(), JournalError> {
        if let Some(position) = self.position.as_mut() {
            position
                .file
                .seek(SeekFrom::Start(position.offset))
                .map_err(|e| JournalError::io(format!("seeking {}", position.path.display()), e))?;
        }
        Ok(())
    }
}

impl JournalReader for LocalReader {
    fn next_entry(&mut self) -> BoxFuture<'_, Result<Option<Entry>, JournalError>> {
        let result = self.next_entry_blocking();
        Box::pin(std::future::ready(result))
    }
}
