//! Baseline for `scripts/bench-replay.sh`: the least a replay must do. Reads an NDJSON file,
//! parses each line with serde_json and writes it back as a Singer RECORD line through one
//! BufWriter. No validation, no `_sdc` columns, no schema, no state.
//!
//! Usage: `ndjson_baseline FILE > out`

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};

fn main() -> io::Result<()> {
    let path = std::env::args_os()
        .nth(1)
        .ok_or_else(|| io::Error::other("usage: ndjson_baseline FILE"))?;
    let mut input = BufReader::with_capacity(256 << 10, File::open(path)?);
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
    let mut line = Vec::with_capacity(64 << 10);
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let record: serde_json::Value = serde_json::from_slice(&line).map_err(io::Error::other)?;
        out.write_all(br#"{"type":"RECORD","stream":"data","record":"#)?;
        serde_json::to_writer(&mut out, &record)?;
        out.write_all(b"}\n")?;
    }
    out.flush()
}
