//! The disk's fdatasync cost, as the journal meets it: `fsync_probe DIR [COUNT]` writes COUNT
//! (default 2000) 4 KiB records one after another, each followed by `fdatasync`, first
//! appending to a growing file, then over a file zeroed beforehand (as the journal's segments
//! are), and prints the median and p99 of each, in microseconds:
//!
//! ```text
//! append_p50_us=180 append_p99_us=310 overwrite_p50_us=90 overwrite_p99_us=200
//! ```

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("usage: fsync_probe DIR [COUNT]");
    let count: usize = args.next().map_or(2000, |n| n.parse().expect("COUNT"));
    let record = vec![b'x'; 4096];
    let path = std::path::Path::new(&dir).join("fsync-probe.bin");

    let append = {
        let mut file = create(&path);
        measure(count, || {
            file.write_all(&record).expect("write");
            file.sync_data().expect("fdatasync");
        })
    };

    let overwrite = {
        let mut file = create(&path);
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..(count * record.len()).div_ceil(zeros.len()) {
            file.write_all(&zeros).expect("write");
        }
        file.sync_all().expect("fsync");
        drop(file);
        let mut file = OpenOptions::new().write(true).open(&path).expect("open");
        measure(count, || {
            file.write_all(&record).expect("write");
            file.sync_data().expect("fdatasync");
        })
    };
    let _ = std::fs::remove_file(&path);
    println!(
        "append_p50_us={:.0} append_p99_us={:.0} overwrite_p50_us={:.0} overwrite_p99_us={:.0}",
        append.0, append.1, overwrite.0, overwrite.1
    );
}

fn create(path: &std::path::Path) -> File {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .expect("create")
}

/// Median and p99 of `count` runs of `f`, in microseconds.
fn measure(count: usize, mut f: impl FnMut()) -> (f64, f64) {
    let mut took: Vec<f64> = (0..count)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    took.sort_by(f64::total_cmp);
    (took[count / 2], took[count * 99 / 100])
}
