//! The local journal on disk: torn tail, a failed write, segment roll-over, reader bounds.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use chrono::Utc;

use super::*;
use crate::journal::{Entry, Journal, JournalConfig, OnDurable};

fn settings(segment_bytes: u64) -> JournalSettings {
    JournalSettings {
        segment_bytes,
        min_free_bytes: 0,
    }
}

fn entry(body: impl Into<String>, record_count: u32) -> NewEntry {
    NewEntry {
        received_at: Utc::now(),
        record_count,
        headers: Vec::new(),
        body: Bytes::from(body.into()),
        on_durable: Default::default(),
    }
}

/// Opens the journal in `dir`, waiting (with a deadline) for the writer thread of a dropped
/// handle to let go of the lock.
fn open(dir: &Path, settings: JournalSettings, faults: Arc<Faults>) -> LocalJournal {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match LocalJournal::open_with(dir.to_owned(), settings, "test", Arc::clone(&faults)) {
            Ok(journal) => return journal,
            Err(JournalError::Locked { .. }) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("opening {}: {e}", dir.display()),
        }
    }
}

/// A journal in a scratch directory, whose writer fails as the returned [`Faults`] say: the
/// directory (removed when dropped), the journal's path in it, the faults and the journal.
fn with_faults() -> (tempfile::TempDir, PathBuf, Arc<Faults>, LocalJournal) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("journal");
    let faults = Arc::new(Faults::default());
    let journal = open(&dir, settings(1 << 20), Arc::clone(&faults));
    (tmp, dir, faults, journal)
}

/// Waits (with a deadline) until no writer holds the journal in `dir`: its threads are done.
fn wait_unlocked(dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let lock = File::open(dir.join("LOCK")).unwrap();
    while lock.try_lock().is_err() {
        assert!(Instant::now() < deadline, "the journal writer did not end");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Every entry after `after`, read without the lock.
fn read_all(dir: &Path, after: Option<Sequence>) -> Vec<Entry> {
    let mut reader = LocalReader::new(dir.to_owned(), after, None);
    let mut entries = Vec::new();
    while let Some(entry) = reader.next_entry_blocking().unwrap() {
        entries.push(entry);
    }
    entries
}

fn bodies(entries: &[Entry]) -> Vec<String> {
    entries
        .iter()
        .map(|e| String::from_utf8(e.body.to_vec()).unwrap())
        .collect()
}

fn assert_in_order(entries: &[Entry]) {
    for pair in entries.windows(2) {
        assert!(
            pair[1].first_sequence > pair[0].last_sequence(),
            "{:?} does not follow {:?}",
            pair[1].first_sequence,
            pair[0].last_sequence()
        );
    }
}

#[tokio::test]
async fn a_torn_tail_is_cut_kept_aside_and_later_appends_follow_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("journal");
    let journal = open(&dir, settings(1 << 20), Arc::default());
    journal.append(entry("a", 1)).await.unwrap();
    journal.append(entry("b", 1)).await.unwrap();
    drop(journal);

    wait_unlocked(&dir);

    // A crash in the middle of a frame: its header promises 64 bytes, 3 made it to disk, over
    // the zeros prepared ahead of the writer.
    let (_, segment) = list_segments(&dir).unwrap().pop().unwrap();
    let intact =
        SEGMENT_HEADER_LEN + frame::frame_len(&entry("a", 1)) + frame::frame_len(&entry("b", 1));
    let torn = [64u8, 0, 0, 0, 1, 2, 3, 4, 9, 9, 9];
    let file = OpenOptions::new().write(true).open(&segment).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&file, &torn, intact).unwrap();
    drop(file);

    let journal = open(&dir, settings(1 << 20), Arc::default());
    // Cut at the torn frame (and zeroed ahead again since).
    let after_cut = fs::read(&segment).unwrap();
    assert!(
        after_cut[intact as usize..]
            .iter()
            .take(torn.len())
            .all(|&b| b == 0),
        "the torn frame is still there"
    );
    let aside: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("torn-")
        })
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    let name = aside[0].file_name().unwrap().to_str().unwrap();
    assert!(name.ends_with(&format!("-{intact}.bin")), "{name}");
    assert_eq!(fs::read(&aside[0]).unwrap(), torn);

    journal.append(entry("c", 1)).await.unwrap();
    let entries = read_all(&dir, None);
    assert_eq!(bodies(&entries), ["a", "b", "c"]);
    assert_in_order(&entries);
}

#[tokio::test]
async fn a_failed_write_that_is_undone_leaves_the_journal_writable() {
    let (_tmp, dir, faults, journal) = with_faults();
    journal.append(entry("a", 1)).await.unwrap();

    faults.fail_write.store(true, Ordering::SeqCst);
    let failed = journal.append(entry("lost", 1)).await;
    assert!(matches!(failed, Err(JournalError::Io { .. })), "{failed:?}");
    faults.fail_write.store(false, Ordering::SeqCst);

    journal.check_writable().unwrap();
    journal.append(entry("c", 1)).await.unwrap();
    assert_eq!(bodies(&read_all(&dir, None)), ["a", "c"]);
}

/// What an entry hands over once durable (the receiver's split) is there before a reader can
/// know the entry: the writer calls it with the entry's first sequence before `committed`
/// moves past it; never for an entry whose write failed. One that panics harms nothing else.
#[tokio::test]
async fn an_entry_hands_over_once_durable_before_readers_are_told() {
    let (_tmp, _, faults, journal) = with_faults();
    // (name, first sequence, what `committed` said when it was called)
    type Calls = Arc<std::sync::Mutex<Vec<(String, Sequence, Option<Sequence>)>>>;
    let calls: Calls = Arc::default();
    let with_hook = |name: &str| {
        let (calls, committed, name) = (Arc::clone(&calls), journal.committed(), name.to_owned());
        NewEntry {
            body: Bytes::from(name.clone()),
            on_durable: OnDurable::new(move |first| {
                let told = *committed.borrow();
                calls.lock().unwrap().push((name, first, told));
            }),
            ..entry("", 2)
        }
    };

    // Appended together, so that some share a commit.
    let appends: Vec<_> = (0..32)
        .map(|i| journal.append(with_hook(&format!("e{i}"))))
        .collect();
    let appended = futures_util::future::join_all(appends).await;
    faults.fail_write.store(true, Ordering::SeqCst);
    assert!(journal.append(with_hook("lost")).await.is_err());
    faults.fail_write.store(false, Ordering::SeqCst);
    // A hand-over that panics does not take the writer down: its entry is answered, and the
    // next one is written.
    let panics = NewEntry {
        on_durable: OnDurable::new(|_| panic!("test: a hand-over panics")),
        ..entry("p", 1)
    };
    journal.append(panics).await.unwrap();
    journal.append(entry("after", 1)).await.unwrap();

    let calls = calls.lock().unwrap().clone();
    assert_eq!(
        calls.len(),
        32,
        "one call per durable entry, none for the failed one"
    );
    for (i, appended) in appended.into_iter().enumerate() {
        let first = appended.unwrap().first_sequence;
        let (_, called_with, told) = calls
            .iter()
            .find(|(name, ..)| *name == format!("e{i}"))
            .unwrap_or_else(|| panic!("e{i} was not handed over: {calls:?}"));
        assert_eq!(*called_with, first);
        assert!(
            told.is_none_or(|told| told < first),
            "e{i} ({first:?}) was handed over after readers were told of {told:?}"
        );
    }
}

#[tokio::test]
async fn a_failed_write_that_cannot_be_undone_poisons_the_writer() {
    let (_tmp, _, faults, journal) = with_faults();
    journal.append(entry("a", 1)).await.unwrap();

    faults.fail_write.store(true, Ordering::SeqCst);
    faults.fail_undo.store(true, Ordering::SeqCst);
    let failed = journal.append(entry("b", 1)).await;
    assert!(matches!(failed, Err(JournalError::Poisoned)), "{failed:?}");

    // The disk is fine again, but what follows the unknown bytes cannot be trusted.
    faults.fail_write.store(false, Ordering::SeqCst);
    faults.fail_undo.store(false, Ordering::SeqCst);
    let refused = journal.append(entry("c", 1)).await;
    assert!(
        matches!(refused, Err(JournalError::Poisoned)),
        "{refused:?}"
    );
    assert!(matches!(
        journal.check_writable(),
        Err(JournalError::Poisoned)
    ));
}

#[tokio::test]
async fn entries_roll_over_into_new_segments_and_read_back_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("journal");
    let journal = open(&dir, settings(1024), Arc::default());
    let expected: Vec<String> = (0..30)
        .map(|i| format!("{i:03}{}", "x".repeat(200)))
        .collect();
    for body in &expected {
        journal.append(entry(body.clone(), 2)).await.unwrap();
    }

    let segments = list_segments(&dir).unwrap();
    assert!(segments.len() >= 4, "{} segments", segments.len());
    for (first, path) in &segments[..segments.len() - 1] {
        assert!(
            fs::metadata(path).unwrap().len() >= 1024,
            "{first} sealed early"
        );
    }

    let entries = read_all(&dir, None);
    assert_eq!(bodies(&entries), expected);
    assert_in_order(&entries);
    // A rolled-over segment starts at the first sequence of its first entry.
    for (first, _) in &segments[1..] {
        assert!(
            entries.iter().any(|e| e.first_sequence == *first),
            "{first}"
        );
    }

    // The writer's own reader, bounded by what is durable, sees the same.
    let mut reader = journal.reader(None).unwrap();
    let mut durable = Vec::new();
    while let Some(entry) = reader.next_entry().await.unwrap() {
        durable.push(entry);
    }
    assert_eq!(bodies(&durable), expected);
}

#[tokio::test]
async fn a_reader_starts_exactly_after_its_bookmark() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("journal");
    let journal = open(&dir, settings(1 << 20), Arc::default());
    // Five entries of three records each.
    for i in 0..5 {
        journal.append(entry(format!("e{i}"), 3)).await.unwrap();
    }
    let all = read_all(&dir, None);
    assert_eq!(bodies(&all), ["e0", "e1", "e2", "e3", "e4"]);
    let e2 = &all[2];
    let first_read = |after: Sequence| bodies(&read_all(&dir, Some(after))).first().cloned();

    assert_eq!(first_read(all[1].last_sequence()).as_deref(), Some("e2"));
    // A bookmark inside e2 (its first or second record loaded): e2 again, it holds the rest.
    assert_eq!(first_read(e2.first_sequence).as_deref(), Some("e2"));
    assert_eq!(
        first_read(e2.first_sequence.offset(1)).as_deref(),
        Some("e2")
    );
    assert_eq!(first_read(e2.last_sequence()).as_deref(), Some("e3"));
    assert_eq!(
        bodies(&read_all(&dir, Some(e2.first_sequence))),
        ["e2", "e3", "e4"]
    );
    // At or past the end: nothing.
    assert!(read_all(&dir, Some(all[4].last_sequence())).is_empty());
    assert!(read_all(&dir, Some(all[4].last_sequence().offset(1_000_000))).is_empty());
    // Before the start: everything.
    let before = Sequence::new(all[0].first_sequence.get() - 1_000);
    assert_eq!(bodies(&read_all(&dir, Some(before))), bodies(&all));

    // The writer's reader keeps the same bounds.
    let mut reader = journal.reader(Some(e2.first_sequence)).unwrap();
    let next = reader.next_entry().await.unwrap().unwrap();
    assert_eq!(next.first_sequence, e2.first_sequence);
}

#[tokio::test]
async fn a_reader_from_before_the_retained_journal_starts_at_its_first_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let journal = Journal::new(JournalConfig::Local {
        data_dir: tmp.path().to_owned(),
        segment_bytes: 600,
        min_free_bytes: 0,
    });
    let writer = journal.open_writer("test").unwrap();
    let mut appended = Vec::new();
    for i in 0..20 {
        let body = format!("{i:02}{}", "y".repeat(150));
        appended.push(writer.append(entry(body, 1)).await.unwrap());
    }
    let size_before = journal.size_on_disk().unwrap();

    journal.acknowledge(appended[9].first_sequence).unwrap();
    let deleted = journal
        .apply_retention(
            Duration::ZERO,
            SystemTime::now() + Duration::from_secs(3600),
        )
        .unwrap();
    assert!(!deleted.is_empty());
    assert!(journal.size_on_disk().unwrap() < size_before);
    let start = journal.first_sequence().unwrap().unwrap();
    let kept = appended
        .iter()
        .position(|a| a.first_sequence == start)
        .expect("the retained journal starts at an entry");
    assert!(kept > 0 && kept <= 10, "retained from entry {kept}");

    for after in [
        Sequence::new(appended[0].first_sequence.get() - 1),
        appended[0].first_sequence,
    ] {
        let mut reader = journal.reader(Some(after)).unwrap();
        let mut firsts = Vec::new();
        while let Some(entry) = reader.next_entry().await.unwrap() {
            firsts.push(entry.first_sequence);
        }
        let expected: Vec<Sequence> = appended[kept..].iter().map(|a| a.first_sequence).collect();
        assert_eq!(firsts, expected, "after {after}");
    }
}

#[tokio::test]
async fn segments_are_zeroed_ahead_and_zeros_read_as_the_end() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("journal");
    let journal = open(&dir, settings(1 << 20), Arc::default());
    journal.append(entry("a", 1)).await.unwrap();
    journal.append(entry("b", 1)).await.unwrap();
    let (_, segment) = list_segments(&dir).unwrap().pop().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while fs::metadata(&segment).unwrap().len() < 1 << 20 {
        assert!(
            Instant::now() < deadline,
            "the segment was not zeroed ahead"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // Readers, the writer's own and one without the lock, stop at the zeros.
    assert_eq!(bodies(&read_all(&dir, None)), ["a", "b"]);
    drop(journal);
    wait_unlocked(&dir);

    // Recovery takes the zeros for the end too: no torn tail, appends follow the entries.
    let journal = open(&dir, settings(1 << 20), Arc::default());
    journal.append(entry("c", 1)).await.unwrap();
    let torn = fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("torn-")
        })
        .count();
    assert_eq!(torn, 0);
    let entries = read_all(&dir, None);
    assert_eq!(bodies(&entries), ["a", "b", "c"]);
    assert_in_order(&entries);
    assert_eq!(fs::metadata(&segment).unwrap().len(), 1 << 20);
}

#[tokio::test]
async fn a_reader_holding_zeros_in_its_buffer_does_not_skip_what_was_written_over_them() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("journal");
    let journal = open(&dir, settings(4096), Arc::default());
    let body = |c: char| c.to_string().repeat(600);
    journal.append(entry(body('a'), 1)).await.unwrap();
    let (_, segment) = list_segments(&dir).unwrap().pop().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while fs::metadata(&segment).unwrap().len() < 4096 {
        assert!(
            Instant::now() < deadline,
            "the segment was not zeroed ahead"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // The reader's buffer now holds `a` and the zeros after it.
    let mut reader = journal.reader(None).unwrap();
    let first = reader.next_entry().await.unwrap().unwrap();
    assert_eq!(bodies(&[first]), [body('a')]);
    // Written over those zeros, then on into a new segment.
    for c in ['b', 'c', 'd', 'e', 'f', 'g', 'h'] {
        journal.append(entry(body(c), 1)).await.unwrap();
    }
    assert!(list_segments(&dir).unwrap().len() > 1);
    let mut rest = Vec::new();
    while let Some(entry) = reader.next_entry().await.unwrap() {
        rest.push(entry);
    }
    let expected: Vec<String> = "bcdefgh".chars().map(body).collect();
    assert_eq!(bodies(&rest), expected);
}

/// Waits (with a deadline) until the preparer of `journal` has its next segment ready, and
/// returns that file's inode.
fn wait_for_next_segment(journal: &LocalJournal, next: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;

    let deadline = Instant::now() + Duration::from_secs(10);
    while !journal.prepared.next_ready() {
        assert!(
            Instant::now() < deadline,
            "the next segment was not readied"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    fs::metadata(next).unwrap().ino()
}

#[tokio::test]
async fn the_next_segment_is_readied_ahead_and_taken_at_the_roll() {
    use std::os::unix::fs::MetadataExt;

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("journal");
    fs::create_dir_all(&dir).unwrap();
    let limit: u64 = 64 << 10;
    // What a crash may leave: a next segment half readied, or anything else under its name.
    let next = dir.join(prepare::NEXT_SEGMENT);
    fs::write(&next, vec![0xAB; limit as usize + 3000]).unwrap();
    let journal = open(&dir, settings(limit), Arc::default());
    journal.append(entry("a", 1)).await.unwrap();

    // Readied in the background: zeros, as long as a segment this small.
    let readied = wait_for_next_segment(&journal, &next);
    let bytes = fs::read(&next).unwrap();
    assert_eq!(bytes.len() as u64, limit);
    assert!(bytes.iter().all(|&b| b == 0), "not all zeros");

    // The first segment fills; the next entry rolls over into the readied file, and so again.
    let big = "x".repeat(limit as usize);
    journal.append(entry(big.clone(), 1)).await.unwrap();
    journal.append(entry("c", 1)).await.unwrap();
    let readied_again = wait_for_next_segment(&journal, &next);
    journal.append(entry(big.clone(), 1)).await.unwrap();
    journal.append(entry("e", 1)).await.unwrap();
    let segments = list_segments(&dir).unwrap();
    assert_eq!(segments.len(), 3, "{segments:?}");
    let inodes: Vec<u64> = segments[1..]
        .iter()
        .map(|(_, path)| fs::metadata(path).unwrap().ino())
        .collect();
    assert_eq!(inodes, [readied, readied_again], "not the readied files");
    let entries = read_all(&dir, None);
    assert_eq!(bodies(&entries), ["a", &big, "c", &big, "e"]);
    assert_in_order(&entries);
    assert_eq!(entries[2].first_sequence, segments[1].0);
    assert_eq!(entries[4].first_sequence, segments[2].0);

    // A clean stop leaves no next segment behind; recovery reads the taken ones like any.
    drop(journal);
    wait_unlocked(&dir);
    assert!(!next.exists(), "left behind");
    let journal = open(&dir, settings(limit), Arc::default());
    journal.append(entry("f", 1)).await.unwrap();
    let entries = read_all(&dir, None);
    assert_eq!(bodies(&entries), ["a", &big, "c", &big, "e", "f"]);
    assert_in_order(&entries);
}
