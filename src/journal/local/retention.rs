//! Journal retention: which segments may be deleted, so that a long-running listener does
//! not fill the disk.
//!
//! A sync started with `--state` has had everything up to that state's bookmark loaded by its
//! target (the orchestrator only passes back states the target confirmed). Each sync records
//! its bookmark in `journal/ACKNOWLEDGED` (the newest one wins). The process that writes the
//! journal then deletes a segment when (1) every record in it is at or before that bookmark,
//! (2) it was last written more than `journal_retention_hours` ago, and (3) it is not the last
//! segment. Nothing is deleted before some sync has acknowledged it.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::list_segments;
use crate::fsutil;
use crate::sequence::Sequence;

const ACKNOWLEDGED: &str = "ACKNOWLEDGED";

/// The newest bookmark a sync has reported as loaded, if any, in the journal directory `dir`.
pub(super) fn acknowledged(dir: &Path) -> Option<Sequence> {
    let text = fs::read_to_string(dir.join(ACKNOWLEDGED)).ok()?;
    text.trim().parse().ok().map(Sequence::new)
}

/// Records that everything up to `bookmark` has been loaded (kept if newer than the current).
pub(super) fn acknowledge(dir: &Path, bookmark: Sequence) -> std::io::Result<()> {
    if !dir.is_dir() || acknowledged(dir).is_some_and(|current| current >= bookmark) {
        return Ok(());
    }
    fsutil::write_atomic(&dir.join(ACKNOWLEDGED), bookmark.to_string().as_bytes())
}

/// Deletes the segments the policy allows; returns their paths.
pub(super) fn apply(dir: &Path, keep: Duration, now: SystemTime) -> std::io::Result<Vec<PathBuf>> {
    let Some(acked) = acknowledged(dir) else {
        return Ok(Vec::new());
    };
    let segments = list_segments(dir)?;
    let mut deleted = Vec::new();
    for pair in segments.windows(2) {
        let ((_, path), (next_first, _)) = (&pair[0], &pair[1]);
        // Records of this segment all come before the next segment's first sequence.
        if next_first.get() > acked.get().saturating_add(1) {
            break;
        }
        let modified = fs::metadata(path)?.modified()?;
        if now.duration_since(modified).unwrap_or_default() < keep {
            break;
        }
        fs::remove_file(path)?;
        deleted.push(path.clone());
    }
    if !deleted.is_empty() {
        fsutil::sync_dir(dir)?;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::local::segment;

    fn segment(dir: &Path, first: u64) -> PathBuf {
        let path = dir.join(segment::segment_file_name(Sequence::new(first)));
        fs::write(&path, b"x").unwrap();
        path
    }

    #[test]
    fn only_acknowledged_old_segments_before_the_last_are_deleted() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("journal");
        fs::create_dir_all(&dir).unwrap();
        let a = segment(&dir, 100);
        let b = segment(&dir, 200);
        let c = segment(&dir, 300);
        let later = SystemTime::now() + Duration::from_secs(3600);
        let keep = Duration::from_secs(60);

        // Nothing acknowledged: nothing deleted.
        assert!(apply(&dir, keep, later).unwrap().is_empty());

        // Acknowledged up to 250: segment a (records 100..=199) only; b holds 250.
        acknowledge(&dir, Sequence::new(250)).unwrap();
        assert!(
            apply(&dir, keep, SystemTime::now()).unwrap().is_empty(),
            "too young"
        );
        assert_eq!(apply(&dir, keep, later).unwrap(), [a]);
        assert!(b.exists() && c.exists());

        // An older bookmark never moves the acknowledgement back.
        acknowledge(&dir, Sequence::new(150)).unwrap();
        assert_eq!(acknowledged(&dir), Some(Sequence::new(250)));

        // Everything acknowledged: the last segment stays.
        acknowledge(&dir, Sequence::new(10_000)).unwrap();
        assert_eq!(apply(&dir, keep, later).unwrap(), [b]);
        assert!(c.exists());
    }
}
