//! Recovery on open: what the writer needs to go on appending after whatever the last
//! process left, crash included.
//!
//! The steps, in order: drop segments a crash left shorter than their header, check that
//! every segment belongs to one journal, scan the last segment for its valid end, and cut a
//! torn tail there (keeping the bytes aside in `torn-<segment>-<offset>.bin`).

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::segment::SEGMENT_HEADER_LEN;
use super::{ActiveSegment, create_segment, list_segments, read_segment_header};
use crate::journal::frame::{self, Frame};
use crate::journal::{JournalError, JournalId};
use crate::sequence::{self, Sequence, SequenceClock};

/// Where the writer goes on.
pub(super) struct Recovered {
    pub id: JournalId,
    pub active: ActiveSegment,
    pub clock: SequenceClock,
    pub committed: Option<Sequence>,
}

fn io_err(what: &str, path: &Path, e: io::Error) -> JournalError {
    JournalError::io(format!("{what} {}", path.display()), e)
}

/// Recovers the journal in `dir` (which the caller has locked), creating its first segment
/// if it has none.
pub(super) fn recover(dir: &Path) -> Result<Recovered, JournalError> {
    let mut segments = list_segments(dir).map_err(|e| io_err("listing", dir, e))?;
    remove_incomplete_segments(&mut segments)?;
    let Some((_, last_path)) = segments.last().cloned() else {
        return start_new_journal(dir);
    };
    let id = journal_id(&segments)?;

    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&last_path)
        .map_err(|e| io_err("opening", &last_path, e))?;
    let (_, header_first) = read_segment_header(&last_path, &mut file)?;
    let tail = scan_tail(&last_path, &mut file, id)?;
    if let Some(reason) = &tail.torn {
        cut_torn_tail(dir, &last_path, &mut file, tail.end, reason)?;
    }
    file.seek(SeekFrom::Start(tail.end))
        .map_err(|e| io_err("seeking", &last_path, e))?;

    // With no entry in the last segment, its first sequence still bounds everything before it.
    let floor = tail
        .last
        .unwrap_or(Sequence::new(header_first.get().saturating_sub(1)));
    let committed = if tail.last.is_some() || segments.len() > 1 {
        Some(floor)
    } else {
        None
    };
    Ok(Recovered {
        id,
        active: ActiveSegment {
            path: last_path,
            file,
            len: tail.end,
        },
        clock: SequenceClock::starting_after(Some(floor)),
        committed,
    })
}

/// A crash while creating a segment can leave it shorter than its header: nothing was ever
/// appended to it, so it is removed.
fn remove_incomplete_segments(segments: &mut Vec<(Sequence, PathBuf)>) -> Result<(), JournalError> {
    while let Some((_, path)) = segments.last() {
        let len = fs::metadata(path)
            .map_err(|e| io_err("reading", path, e))?
            .len();
        if len >= SEGMENT_HEADER_LEN {
            break;
        }
        log::warn!(
            "removing incomplete journal segment {} ({len} bytes)",
            path.display()
        );
        fs::remove_file(path).map_err(|e| io_err("removing", path, e))?;
        segments.pop();
    }
    Ok(())
}

/// A journal with no segment yet: a new id, and a first segment starting now.
fn start_new_journal(dir: &Path) -> Result<Recovered, JournalError> {
    let id = JournalId::random().map_err(|e| JournalError::io("generating a journal id", e))?;
    let first = Sequence::new(sequence::now_nanos());
    let active = create_segment(dir, id, first)?;
    Ok(Recovered {
        id,
        active,
        clock: SequenceClock::starting_after(Some(Sequence::new(first.get().saturating_sub(1)))),
        committed: None,
    })
}

/// The id every segment carries; two different ids are corruption. (Retention in another
/// process may delete an old segment meanwhile.)
fn journal_id(segments: &[(Sequence, PathBuf)]) -> Result<JournalId, JournalError> {
    let mut id = None;
    for (_, path) in segments {
        let mut file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err("opening", path, e)),
        };
        let (segment_id, _) = read_segment_header(path, &mut file)?;
        match id {
            None => id = Some(segment_id),
            Some(id) if id != segment_id => {
                return Err(JournalError::Corrupt {
                    segment: path.clone(),
                    offset: 0,
                    reason: format!("belongs to journal {segment_id}, not {id}"),
                });
            }
            Some(_) => {}
        }
    }
    id.ok_or_else(|| {
        let dir = segments.first().map_or(Path::new(""), |(_, path)| path);
        io_err("opening", dir, io::ErrorKind::NotFound.into())
    })
}

/// How far the last segment holds valid frames.
struct Tail {
    /// Offset just past the last valid frame.
    end: u64,
    /// The last record sequence in the segment, if it holds an entry.
    last: Option<Sequence>,
    /// Why the bytes after `end` are not a valid frame, if there are any.
    torn: Option<String>,
}

/// Scans the last segment, positioned after its header, for its valid end.
fn scan_tail(path: &Path, file: &mut File, id: JournalId) -> Result<Tail, JournalError> {
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut tail = Tail {
        end: SEGMENT_HEADER_LEN,
        last: None,
        torn: None,
    };
    loop {
        match frame::read_frame(&mut reader).map_err(|e| io_err("reading", path, e))? {
            Frame::End => return Ok(tail),
            Frame::Invalid(reason) => {
                tail.torn = Some(reason);
                return Ok(tail);
            }
            Frame::Payload(payload) => {
                let len = payload.len() as u64 + frame::FRAME_HEADER_LEN as u64;
                let entry =
                    frame::decode_payload(id, payload).map_err(|reason| JournalError::Corrupt {
                        segment: path.to_owned(),
                        offset: tail.end,
                        reason,
                    })?;
                tail.last = Some(entry.last_sequence());
                tail.end += len;
            }
        }
    }
}

/// Copies the bytes after `end` aside to `torn-<segment>-<end>.bin`, then truncates the
/// segment at `end`. Those bytes were never acknowledged: the crash came before their fsync.
fn cut_torn_tail(
    dir: &Path,
    path: &Path,
    file: &mut File,
    end: u64,
    reason: &str,
) -> Result<(), JournalError> {
    let file_len = file
        .metadata()
        .map_err(|e| io_err("reading", path, e))?
        .len();
    let dropped = file_len - end;
    let aside = dir.join(format!(
        "torn-{}-{end}.bin",
        path.file_stem()
            .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
    ));
    let kept = file
        .seek(SeekFrom::Start(end))
        .and_then(|_| {
            let mut tail = Vec::new();
            (&mut *file).take(dropped).read_to_end(&mut tail)?;
            // The zeros the writer prepared ahead are not part of what was torn.
            let written = tail.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
            fs::write(&aside, &tail[..written])?;
            Ok(written)
        })
        .map_err(|e| io_err("saving the torn tail of", path, e))?;
    file.set_len(end)
        .and_then(|()| file.sync_all())
        .map_err(|e| io_err("truncating", path, e))?;
    log::warn!(
        "journal {}: dropped a torn tail of {kept} bytes at offset {end} ({reason}); these \
         bytes were never acknowledged and are kept in {}",
        path.display(),
        aside.display()
    );
    Ok(())
}
