//! Replay inputs: PATH arguments expanded into an ordered list of files, each opened as a
//! stream of decompressed bytes, with the time its payloads count as received.
//!
//! Order: the arguments as given; a directory's files depth first, the entries of each
//! directory sorted by name (byte order), hidden entries (`.name`) and files of other
//! extensions skipped. Gzip is recognized by its magic bytes, whatever the name.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use flate2::read::MultiGzDecoder;

use super::ReplayError;

/// Read size: large reads, few system calls.
const READ_BUFFER: usize = 256 << 10;

/// How a file holds its payloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputFormat {
    /// `.json`: the whole file is one payload (an object or an array of objects).
    Json,
    /// `.ndjson`, `.jsonl` and stdin: one payload per line.
    Ndjson,
}

impl InputFormat {
    /// The format a file name says, looking through a `.gz` suffix.
    fn of(path: &Path) -> Option<InputFormat> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        if name.ends_with(".json") {
            Some(InputFormat::Json)
        } else if name.ends_with(".ndjson") || name.ends_with(".jsonl") {
            Some(InputFormat::Ndjson)
        } else {
            None
        }
    }
}

/// One file to replay.
#[derive(Debug)]
pub struct Input {
    /// As named on the command line (a directory's files: the directory joined with their
    /// path inside it); `-` for stdin. This is the name in messages and in the STATE.
    pub name: Arc<str>,
    /// `None` for stdin.
    path: Option<PathBuf>,
    pub format: InputFormat,
    /// Size on disk, when known (for the progress bar).
    pub size: Option<u64>,
}

/// Expands the PATH arguments into the files to replay, in replay order.
pub fn expand(args: &[PathBuf]) -> Result<Vec<Input>, ReplayError> {
    let mut inputs = Vec::new();
    let mut skipped = 0usize;
    for arg in args {
        if arg.as_os_str() == "-" {
            inputs.push(Input {
                name: Arc::from("-"),
                path: None,
                format: InputFormat::Ndjson,
                size: None,
            });
            continue;
        }
        let meta = fs::metadata(arg).map_err(|source| ReplayError::Open {
            file: arg.display().to_string(),
            source,
        })?;
        if meta.is_dir() {
            walk(arg, &mut inputs, &mut skipped)?;
        } else {
            let format = InputFormat::of(arg).ok_or_else(|| ReplayError::UnknownFormat {
                file: arg.display().to_string(),
            })?;
            inputs.push(Input {
                name: Arc::from(arg.display().to_string()),
                path: Some(arg.clone()),
                format,
                size: Some(meta.len()),
            });
        }
    }
    if skipped > 0 {
        log::info!(
            "skipped {skipped} files in directories that are not .json, .ndjson or .jsonl \
             (optionally .gz)"
        );
    }
    let mut names: Vec<&str> = inputs.iter().map(|i| &*i.name).collect();
    names.sort_unstable();
    if let Some(pair) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(ReplayError::Duplicate {
            file: pair[0].to_owned(),
        });
    }
    Ok(inputs)
}

fn walk(dir: &Path, inputs: &mut Vec<Input>, skipped: &mut usize) -> Result<(), ReplayError> {
    let read_error = |source| ReplayError::Open {
        file: dir.display().to_string(),
        source,
    };
    let mut entries = fs::read_dir(dir)
        .map_err(read_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(read_error)?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        if entry.file_name().as_encoded_bytes().starts_with(b".") {
            continue;
        }
        let path = entry.path();
        // Follows symbolic links to files; a linked directory is not entered (no cycles).
        let file_type = entry.file_type().map_err(read_error)?;
        if file_type.is_dir() {
            walk(&path, inputs, skipped)?;
            continue;
        }
        let Ok(meta) = fs::metadata(&path) else {
            *skipped += 1;
            continue;
        };
        match InputFormat::of(&path) {
            Some(format) if meta.is_file() => inputs.push(Input {
                name: Arc::from(path.display().to_string()),
                path: Some(path),
                format,
                size: Some(meta.len()),
            }),
            _ => {
                log::debug!("skipping {}: not a payload file", path.display());
                *skipped += 1;
            }
        }
    }
    Ok(())
}

/// An input opened for reading.
pub struct Opened {
    /// The decompressed bytes.
    pub reader: Box<dyn BufRead>,
    /// When the payloads count as received, if the input says: the gzip header's MTIME when
    /// set, else the file's modification time; `None` for a pipe.
    pub captured_at: Option<DateTime<Utc>>,
}

/// Opens an input; `read` counts the bytes read from disk (compressed), for the progress bar.
pub fn open(input: &Input, read: Arc<AtomicU64>) -> io::Result<Opened> {
    let file = match &input.path {
        Some(path) => File::open(path)?,
        None => File::from(io::stdin().as_fd().try_clone_to_owned()?),
    };
    let meta = file.metadata()?;
    let modified = if meta.is_file() {
        meta.modified().ok().and_then(to_utc)
    } else {
        None
    };
    let mut raw = BufReader::with_capacity(READ_BUFFER, Counting { inner: file, read });
    if !raw.fill_buf()?.starts_with(&[0x1f, 0x8b]) {
        return Ok(Opened {
            reader: Box::new(raw),
            captured_at: modified,
        });
    }
    let mut gz = BufReader::with_capacity(READ_BUFFER, MultiGzDecoder::new(raw));
    gz.fill_buf()?; // reads the first member's header
    let header_time = gz
        .get_ref()
        .header()
        .map(|h| h.mtime())
        .filter(|&t| t != 0)
        .and_then(|t| DateTime::from_timestamp(i64::from(t), 0));
    Ok(Opened {
        reader: Box::new(gz),
        captured_at: header_time.or(modified),
    })
}

fn to_utc(time: SystemTime) -> Option<DateTime<Utc>> {
    let since = time.duration_since(SystemTime::UNIX_EPOCH).ok()?;
    DateTime::from_timestamp(i64::try_from(since.as_secs()).ok()?, since.subsec_nanos())
}

/// Counts the bytes read through it.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_comes_from_the_extension_through_gz() {
        assert_eq!(
            InputFormat::of(Path::new("a.json")),
            Some(InputFormat::Json)
        );
        assert_eq!(
            InputFormat::of(Path::new("a.JSON.gz")),
            Some(InputFormat::Json)
        );
        assert_eq!(
            InputFormat::of(Path::new("d/a.ndjson")),
            Some(InputFormat::Ndjson)
        );
        assert_eq!(
            InputFormat::of(Path::new("a.jsonl.gz")),
            Some(InputFormat::Ndjson)
        );
        assert_eq!(InputFormat::of(Path::new("a.txt")), None);
        assert_eq!(InputFormat::of(Path::new("a.gz")), None);
    }

    #[test]
    fn directories_expand_depth_first_sorted_by_name_skipping_others() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for name in [
            "b.ndjson",
            "a/z.json",
            "a/b/c.jsonl.gz",
            "a-b.json",
            ".hidden.json",
            "notes.txt",
        ] {
            let path = root.join(name);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, "{}").unwrap();
        }
        let inputs = expand(&[root.to_path_buf()]).unwrap();
        let names: Vec<String> = inputs
            .iter()
            .map(|i| {
                Path::new(&*i.name)
                    .strip_prefix(root)
                    .unwrap()
                    .display()
                    .to_string()
            })
            .collect();
        assert_eq!(
            names,
            ["a/b/c.jsonl.gz", "a/z.json", "a-b.json", "b.ndjson"]
        );
    }

    #[test]
    fn an_unknown_extension_or_a_file_given_twice_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let txt = dir.path().join("a.txt");
        fs::write(&txt, "{}").unwrap();
        let e = expand(std::slice::from_ref(&txt)).unwrap_err();
        assert!(e.to_string().contains("a.txt"), "{e}");
        let json = dir.path().join("a.json");
        fs::write(&json, "{}").unwrap();
        let e = expand(&[dir.path().to_path_buf(), json]).unwrap_err();
        assert!(e.to_string().contains("twice"), "{e}");
    }
}
