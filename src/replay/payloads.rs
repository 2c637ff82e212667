//! Splits an input's bytes into payloads, streaming: one line at a time for NDJSON (blank
//! lines skipped), the whole input for `.json`. Each payload is at most `max_body_bytes`, as
//! a webhook body is; a longer one is reported (and skipped over) without being held in
//! memory. The line buffer is reused from one payload to the next.

use std::io::{self, BufRead, Read};

use super::input::InputFormat;

/// What comes next in an input.
#[derive(Debug, PartialEq, Eq)]
pub enum Item<'a> {
    /// A payload starting on `line` (1-based), trailing whitespace removed.
    Payload { line: u64, body: &'a [u8] },
    /// A payload longer than the limit (`size` bytes, or more for a `.json` file).
    TooLarge { line: u64, size: u64 },
}

pub struct Payloads<R> {
    reader: R,
    format: InputFormat,
    limit: u64,
    buf: Vec<u8>,
    next_line: u64,
    bytes: u64,
    done: bool,
}

impl<R: BufRead> Payloads<R> {
    pub fn new(reader: R, format: InputFormat, limit: u64) -> Self {
        Payloads {
            reader,
            format,
            limit,
            buf: Vec::with_capacity(64 << 10),
            next_line: 1,
            bytes: 0,
            done: false,
        }
    }

    /// Bytes consumed so far (decompressed).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The line the next read starts on.
    pub fn next_line(&self) -> u64 {
        self.next_line
    }

    /// The next payload, or `None` at the end of the input.
    pub fn next_item(&mut self) -> io::Result<Option<Item<'_>>> {
        if self.done {
            return Ok(None);
        }
        match self.format {
            InputFormat::Json => self.whole(),
            InputFormat::Ndjson => self.line(),
        }
    }

    fn whole(&mut self) -> io::Result<Option<Item<'_>>> {
        self.done = true;
        self.buf.clear();
        let read = (&mut self.reader)
            .take(self.limit.saturating_add(1))
            .read_to_end(&mut self.buf)?;
        self.bytes += read as u64;
        if read as u64 > self.limit {
            return Ok(Some(Item::TooLarge {
                line: 1,
                size: read as u64,
            }));
        }
        let body = trim_end(&self.buf);
        if body.is_empty() {
            return Ok(None);
        }
        Ok(Some(Item::Payload { line: 1, body }))
    }

    fn line(&mut self) -> io::Result<Option<Item<'_>>> {
        loop {
            self.buf.clear();
            let line = self.next_line;
            let (consumed, size, too_large) = self.read_line()?;
            if consumed == 0 {
                self.done = true;
                return Ok(None);
            }
            self.next_line += 1;
            if too_large {
                return Ok(Some(Item::TooLarge { line, size }));
            }
            if trim_end(&self.buf).is_empty() {
                continue;
            }
            return Ok(Some(Item::Payload {
                line,
                body: trim_end(&self.buf),
            }));
        }
    }

    /// Reads one line (up to and including `\n`) into `buf`, keeping at most `limit` bytes of
    /// content; returns the bytes consumed, the content's length (without the `\n`) and
    /// whether it went over the limit.
    fn read_line(&mut self) -> io::Result<(u64, u64, bool)> {
        let mut size = 0u64;
        let mut content_len = 0u64;
        let mut too_large = false;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(available) => available,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                break;
            }
            let (take, end) = match memchr::memchr(b'\n', available) {
                Some(i) => (i + 1, true),
                None => (available.len(), false),
            };
            let content = if end { take - 1 } else { take };
            if !too_large && (self.buf.len() + content) as u64 > self.limit {
                too_large = true;
                self.buf.clear();
            }
            if !too_large {
                self.buf.extend_from_slice(&available[..take]);
            }
            self.reader.consume(take);
            size += take as u64;
            content_len += content as u64;
            if end {
                break;
            }
        }
        self.bytes += size;
        Ok((size, content_len, too_large))
    }
}

fn trim_end(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    &bytes[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(text: &[u8], format: InputFormat, limit: u64) -> Vec<(u64, String)> {
        let mut p = Payloads::new(io::BufReader::with_capacity(7, text), format, limit);
        let mut out = Vec::new();
        while let Some(item) = p.next_item().unwrap() {
            out.push(match item {
                Item::Payload { line, body } => (line, String::from_utf8_lossy(body).into()),
                Item::TooLarge { line, size } => (line, format!("too large: {size}")),
            });
        }
        if format == InputFormat::Ndjson {
            assert_eq!(p.bytes(), text.len() as u64);
        }
        out
    }

    #[test]
    fn ndjson_gives_one_payload_per_line_with_its_line_number() {
        let text = b"{\"a\":1}\r\n\n   \n[{\"b\":2}]\n{\"c\":3}";
        assert_eq!(
            items(text, InputFormat::Ndjson, 100),
            [
                (1, r#"{"a":1}"#.to_owned()),
                (4, r#"[{"b":2}]"#.to_owned()),
                (5, r#"{"c":3}"#.to_owned())
            ]
        );
    }

    #[test]
    fn a_line_over_the_limit_is_reported_and_the_next_one_still_read() {
        let text = b"{\"a\":1}\n{\"pad\":\"xxxxxxxxxxxxxxxxxxxxxxxxx\"}\n{\"c\":3}\n";
        assert_eq!(
            items(text, InputFormat::Ndjson, 10),
            [
                (1, r#"{"a":1}"#.to_owned()),
                (2, "too large: 35".to_owned()),
                (3, r#"{"c":3}"#.to_owned())
            ]
        );
    }

    #[test]
    fn a_json_file_is_one_payload_and_an_empty_one_none() {
        let text = b"{\n  \"a\": 1\n}\n\n";
        assert_eq!(
            items(text, InputFormat::Json, 100),
            [(1, "{\n  \"a\": 1\n}".to_owned())]
        );
        assert!(items(b" \n", InputFormat::Json, 100).is_empty());
        assert!(items(b"", InputFormat::Ndjson, 100).is_empty());
        assert_eq!(
            items(&[b' '; 20], InputFormat::Json, 10),
            [(1, "too large: 11".to_owned())]
        );
    }
}
