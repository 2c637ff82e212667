//! One delivery read back from the journal: its journaled headers, its body for reading, and
//! the records it becomes through the one conversion path, each with the stream it is routed
//! to, as the emitter writes them.

use chrono::SecondsFormat;
use serde_json::{Value, json};

use crate::capture::secrets::{is_placeholder, placeholder};
use crate::capture::{PATH_NAME, QUERY};
use crate::convert::Converter;
use crate::convert::media::{self, Kind};
use crate::convert::payload::Fields;
use crate::convert::visit::VisitError;
use crate::journal::{Entry, EntryKind, Journal, JournalError};
use crate::sequence::Sequence;

use super::pretty;
use super::rings::cut_bytes;

/// Bytes of a body shown, at most.
pub const MAX_BODY_TEXT_BYTES: usize = 64 * 1024;
/// Records of a delivery shown, at most, and bytes of their text in all.
pub const MAX_RECORDS_SHOWN: usize = 50;
pub const MAX_RECORDS_TEXT_BYTES: usize = 64 * 1024;

/// The entry whose first record has `sequence`, if the journal still holds it. Blocking for
/// the local journal: call it from a blocking task.
pub async fn find(journal: &Journal, sequence: Sequence) -> Result<Option<Entry>, JournalError> {
    let after = sequence.get().checked_sub(1).map(Sequence::new);
    let mut reader = journal.reader(after)?;
    Ok(reader
        .next_entry()
        .await?
        .filter(|entry| entry.first_sequence == sequence))
}

/// The API's view of an entry: headers always; its body and records unless `bodies` is false.
pub fn describe(entry: &Entry, converter: &Converter<'_>, bodies: bool) -> Value {
    // Credentials were never journaled as sent; this holds whatever an older tap kept.
    let secrets = converter.streams.capture_headers.secrets();
    let headers: Vec<Value> = entry
        .headers
        .iter()
        .filter(|h| !h.name.starts_with(':'))
        .map(|h| {
            let value = if secrets.redacts(&h.name, &h.value) && !is_placeholder(&h.value) {
                placeholder(h.value.len())
            } else {
                String::from_utf8_lossy(&h.value).into_owned()
            };
            json!({"name": h.name, "value": value})
        })
        .collect();
    let pseudo = |name: &str| {
        entry
            .headers
            .iter()
            .find(|h| h.name == name)
            .map(|h| String::from_utf8_lossy(&h.value).into_owned())
    };
    let kind = match entry.kind() {
        EntryKind::Webhook => "webhook",
        EntryKind::Rejection => "rejection",
    };
    let mut value = json!({
        "sequence": entry.first_sequence.to_string(),
        "received_at": entry.received_at.to_rfc3339_opts(SecondsFormat::Micros, true),
        "kind": kind,
        "records": entry.record_count,
        "bytes": entry.body.len(),
        "headers": headers,
        "path_name": pseudo(PATH_NAME),
        "query": pseudo(QUERY),
        "bodies_hidden": !bodies,
        "body": null,
        "converted": null,
    });
    if bodies {
        value["body"] = body(entry);
        value["converted"] = records(entry, converter);
    }
    value
}

/// The body for reading: JSON indented, anything else as text; cut at
/// [`MAX_BODY_TEXT_BYTES`].
fn body(entry: &Entry) -> Value {
    let kind = media::kind_of_entry(
        entry
            .headers
            .iter()
            .map(|h| (h.name.as_ref(), h.value.as_ref())),
    );
    let (text, truncated, format) = match kind {
        Ok(Kind::Json | Kind::Text) => {
            let json = entry
                .body
                .strip_prefix(b"\xEF\xBB\xBF")
                .unwrap_or(&entry.body);
            let (text, cut) = pretty::indent(json, MAX_BODY_TEXT_BYTES);
            (text, cut, "json")
        }
        _ => {
            let cut = entry.body.len() > MAX_BODY_TEXT_BYTES;
            (
                cut_bytes(&entry.body, MAX_BODY_TEXT_BYTES).into_string(),
                cut,
                "text",
            )
        }
    };
    json!({"text": text, "truncated": truncated, "format": format})
}

/// The records the body becomes under the current settings, each with its stream: the first
/// [`MAX_RECORDS_SHOWN`], or why it cannot be converted now.
fn records(entry: &Entry, converter: &Converter<'_>) -> Value {
    if entry.kind() == EntryKind::Rejection {
        let text = pretty::indent(&entry.body, MAX_RECORDS_TEXT_BYTES).0;
        let shown = json!([{"stream": crate::rejections::STREAM, "index": 0, "record": text}]);
        return json!({"total": 1, "shown": shown, "error": null});
    }
    let json = match Converter::entry_json(&entry.headers, &entry.body) {
        Ok(json) => json,
        Err(e) => return json!({"total": 0, "shown": [], "error": e.to_string()}),
    };
    let streams = converter.streams;
    let mut shown = Vec::new();
    let mut text_bytes = 0;
    let visited = converter.records(&json, &mut |chunk| {
        for (j, record) in chunk.payload.records.iter().enumerate() {
            if shown.len() >= MAX_RECORDS_SHOWN || text_bytes >= MAX_RECORDS_TEXT_BYTES {
                break;
            }
            let (text, _) =
                pretty::indent(&object_text(record), MAX_RECORDS_TEXT_BYTES - text_bytes);
            text_bytes += text.len();
            let stream = streams
                .route(&entry.headers, record)
                .unwrap_or_else(|| streams.default.clone());
            shown.push(json!({"stream": stream, "index": chunk.first + j, "record": text}));
        }
        Ok::<(), ()>(())
    });
    let (total, error) = match visited {
        Ok(total) => (total, None),
        Err(VisitError::Payload(e)) => (0, Some(e.to_string())),
        Err(VisitError::Visitor(())) => (0, None),
    };
    json!({"total": total, "shown": shown, "error": error})
}

/// A record's fields as one JSON object's text, values as the body wrote them.
fn object_text(record: &Fields<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.push(b'{');
    for (i, (name, value)) in record.fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut out, name.as_ref()).expect("writing to a Vec cannot fail");
        out.push(b':');
        out.extend_from_slice(value.as_bytes());
    }
    out.push(b'}');
    out
}
