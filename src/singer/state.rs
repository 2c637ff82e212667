//! The `--state` bookmark: what a STATE line records, and reading it back.
//!
//! The STATE value is `{"bookmarks": {"<stream>": {"sequence": N}}}` (Singer's convention),
//! one bookmark per stream: every record of that stream with `_sdc_sequence <= N` has been
//! emitted. A stream without one is as far as the furthest, so a state written before streams
//! existed (only `data`) is understood. A replay of files keeps its own bookmark beside the
//! default stream's sequence, `"replay": {"file", "line", "record", "sequence"}` (see
//! [`ReplayPosition`]), so neither disturbs the other. Other keys of a state given with
//! `--state` are carried through unchanged.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::sequence::Sequence;

/// How far a run got: what its STATE records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Bookmark {
    /// `bookmarks.<stream>.sequence`: every journal record up to this sequence has been
    /// emitted.
    Journal(Option<Sequence>),
    /// `bookmarks.<default stream>.replay`: every record of a file replay up to this one has
    /// been emitted.
    Replay(Option<ReplayPosition>),
}

/// The last record a file replay emitted, by its place in the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayPosition {
    /// The input file, as named on the command line (`-` for stdin).
    pub file: Arc<str>,
    /// The line its payload starts on (1 for a `.json` file).
    pub line: u64,
    /// Its index in the payload (an array payload holds several records).
    pub record: u32,
    /// Its `_sdc_sequence`; the replay's sequences continue after it.
    pub sequence: Sequence,
}

const REPLAY_KEY: &str = "replay";

/// The one stream of the versions before streams: their replay bookmark is
/// `bookmarks.data.replay`, whatever the default stream is called now.
const FIRST_STREAM: &str = "data";

impl ReplayPosition {
    fn to_value(&self) -> Value {
        json!({
            "file": &*self.file,
            "line": self.line,
            "record": self.record,
            "sequence": self.sequence.get(),
        })
    }

    /// The replay bookmark of `stream`, checked (errors name `bookmarks.<stream>.replay.*`).
    fn from_value(stream: &str, value: &Value) -> Result<Self, String> {
        let at = |name: &str| format!("bookmarks.{stream}.replay.{name}");
        let field = |name: &str| {
            value
                .get(name)
                .ok_or_else(|| format!("{} is missing", at(name)))
        };
        let number = |name: &str| {
            field(name)?
                .as_u64()
                .ok_or_else(|| format!("{} must be a non-negative integer", at(name)))
        };
        let file = field("file")?
            .as_str()
            .ok_or_else(|| format!("{} must be a string", at("file")))?;
        Ok(ReplayPosition {
            file: Arc::from(file),
            line: number("line")?,
            record: u32::try_from(number("record")?)
                .map_err(|_| format!("{} is too large", at("record")))?,
            sequence: Sequence::new(
                number("sequence")?
                    .try_into()
                    .ok()
                    .and_then(|s: i64| u64::try_from(s).ok())
                    .ok_or_else(|| format!("{} is out of range", at("sequence")))?,
            ),
        })
    }
}

/// The state handed in with `--state`, and the bookmark in it.
#[derive(Clone, Debug, Default)]
pub struct State {
    value: Map<String, Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{path}: cannot read state file: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "{path}: the state file is empty (a failed run may have written it: keep the state file of the last successful run). {START_OVER}"
    )]
    Empty { path: String },
    #[error("{path}: state is not valid JSON: {source}. {START_OVER}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

/// How to emit everything from the start on purpose, rather than by a broken state file.
const START_OVER: &str =
    "To start over from the first journaled webhook on purpose, leave out --state.";

impl State {
    pub fn load(path: &Path) -> Result<State, StateError> {
        let shown = path.display().to_string();
        let text = std::fs::read(path).map_err(|source| StateError::Read {
            path: shown.clone(),
            source,
        })?;
        if text.iter().all(u8::is_ascii_whitespace) {
            return Err(StateError::Empty { path: shown });
        }
        let value: Value = serde_json::from_slice(&text).map_err(|source| StateError::Parse {
            path: shown.clone(),
            source,
        })?;
        Self::from_value(value).map_err(|message| StateError::Invalid {
            path: shown,
            message,
        })
    }

    pub fn from_value(value: Value) -> Result<State, String> {
        let Value::Object(mut value) = value else {
            return Err("state must be a JSON object".into());
        };
        // A saved STATE message rather than its value: take the value.
        if value.get("type").and_then(Value::as_str) == Some("STATE") {
            match value.remove("value") {
                Some(Value::Object(inner)) => value = inner,
                _ => return Err("STATE message has no object value".into()),
            }
        }
        // Meltano's `meltano state get` wraps the state: `{"singer_state": {...}}`.
        if let Some(Value::Object(inner)) = value.get("singer_state") {
            value = inner.clone();
        }
        if !value.get("bookmarks").is_some_and(Value::is_object) {
            return Err(format!(
                "state has no bookmarks: expected {{\"bookmarks\": {{...}}}}, as in the last \
                 STATE line a target printed. {START_OVER}"
            ));
        }
        let state = State { value };
        let bookmarks = state.value.get("bookmarks").and_then(Value::as_object);
        for (stream, bookmark) in bookmarks.into_iter().flatten() {
            match bookmark.get("sequence") {
                None | Some(Value::Null) => {}
                Some(v) if v.as_u64().is_some() => {}
                Some(v) => {
                    return Err(format!(
                        "bookmarks.{stream}.sequence must be a non-negative integer, not {v}"
                    ));
                }
            }
            match bookmark.get(REPLAY_KEY) {
                None | Some(Value::Null) => {}
                Some(v) => {
                    ReplayPosition::from_value(stream, v)?;
                }
            }
        }
        Ok(state)
    }

    /// `bookmarks.<stream>.replay`, if it is there and not null.
    fn replay_bookmark(&self, stream: &str) -> Option<&Value> {
        let value = self.value.get("bookmarks")?.get(stream)?.get(REPLAY_KEY)?;
        (!value.is_null()).then_some(value)
    }

    /// Every record up to this sequence has been emitted, whatever its stream: the lowest
    /// stream bookmark (for a one-stream state, `bookmarks.data.sequence`).
    pub fn bookmark(&self) -> Option<Sequence> {
        self.resume_after(|_| true)
    }

    /// `bookmarks.<stream>.sequence` of every stream the state names (`None`: a stream with
    /// a bookmark but no sequence, none of whose records has been emitted, such as one a
    /// catalog deselected).
    pub fn stream_sequences(&self) -> BTreeMap<String, Option<Sequence>> {
        let Some(bookmarks) = self.value.get("bookmarks").and_then(Value::as_object) else {
            return BTreeMap::new();
        };
        bookmarks
            .iter()
            .filter(|(_, b)| b.is_object())
            .map(|(stream, b)| {
                let sequence = b.get("sequence").and_then(Value::as_u64).map(Sequence::new);
                (stream.clone(), sequence)
            })
            .collect()
    }

    /// Where reading resumes: the lowest bookmark of the streams `selected` says are
    /// emitted (a deselected stream does not hold the others back); the start when one of
    /// them has emitted nothing yet.
    pub fn resume_after(&self, selected: impl Fn(&str) -> bool) -> Option<Sequence> {
        let mut lowest: Option<Sequence> = None;
        for (stream, sequence) in self.stream_sequences() {
            if !selected(&stream) {
                continue;
            }
            let sequence = sequence?;
            lowest = Some(lowest.map_or(sequence, |l| l.min(sequence)));
        }
        lowest
    }

    /// The state value with each of `streams` bookmarked at its sequence (`None`: left as
    /// it is), and a file replay's place under `bookmarks.<default>.replay`.
    pub fn value_with_streams<'a>(
        &self,
        streams: impl IntoIterator<Item = (&'a str, Option<Sequence>)>,
        replay: Option<(&str, &ReplayPosition)>,
    ) -> Value {
        let mut value = self.value.clone();
        let bookmarks = value
            .entry("bookmarks")
            .or_insert_with(|| Value::Object(Map::new()));
        if !bookmarks.is_object() {
            *bookmarks = Value::Object(Map::new());
        }
        let bookmarks = bookmarks.as_object_mut().expect("made an object above");
        for (stream, sequence) in streams {
            let b = stream_entry(bookmarks, stream);
            if let Some(sequence) = sequence {
                b.insert("sequence".into(), Value::from(sequence.get()));
            }
        }
        if let Some((stream, position)) = replay {
            stream_entry(bookmarks, stream).insert(REPLAY_KEY.into(), position.to_value());
        }
        Value::Object(value)
    }

    /// Where a file replay stopped (validated when the state was loaded):
    /// `bookmarks.<default>.replay`, or for a state from before streams,
    /// `bookmarks.data.replay`.
    pub fn replay_position(&self, default: &str) -> Option<ReplayPosition> {
        [default, FIRST_STREAM].into_iter().find_map(|stream| {
            ReplayPosition::from_value(stream, self.replay_bookmark(stream)?).ok()
        })
    }

    /// The state value with `stream` bookmarked: at `sequence`, or for a file replay, at
    /// `replay` beside the sequence the state had.
    pub fn value_with(&self, stream: &str, bookmark: &Bookmark) -> Value {
        match bookmark {
            Bookmark::Journal(sequence) => self.value_with_streams([(stream, *sequence)], None),
            Bookmark::Replay(position) => {
                self.value_with_streams([(stream, None)], position.as_ref().map(|p| (stream, p)))
            }
        }
    }

    /// The state value with `stream`'s bookmark set to `sequence`.
    pub fn with_bookmark(&self, stream: &str, sequence: Option<Sequence>) -> Value {
        self.value_with(stream, &Bookmark::Journal(sequence))
    }
}

/// `bookmarks.<stream>`, made an object if it is not one.
fn stream_entry<'a>(
    bookmarks: &'a mut Map<String, Value>,
    stream: &str,
) -> &'a mut Map<String, Value> {
    let b = bookmarks
        .entry(stream)
        .or_insert_with(|| Value::Object(Map::new()));
    if !b.is_object() {
        *b = Value::Object(Map::new());
    }
    b.as_object_mut().expect("made an object above")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bookmark_round_trips_and_other_keys_are_kept() {
        let s =
            State::from_value(json!({"bookmarks": {"data": {"sequence": 42}}, "x": 1})).unwrap();
        assert_eq!(s.bookmark(), Some(Sequence::new(42)));
        let v = s.with_bookmark("data", Some(Sequence::new(50)));
        assert_eq!(v, json!({"bookmarks": {"data": {"sequence": 50}}, "x": 1}));
        assert_eq!(
            State::from_value(v).unwrap().bookmark(),
            Some(Sequence::new(50))
        );
    }

    #[test]
    fn a_saved_state_message_is_accepted_and_bad_bookmarks_are_named() {
        let s = State::from_value(
            json!({"type": "STATE", "value": {"bookmarks": {"data": {"sequence": 7}}}}),
        )
        .unwrap();
        assert_eq!(s.bookmark(), Some(Sequence::new(7)));
        let e = State::from_value(json!({"bookmarks": {"data": {"sequence": "7"}}})).unwrap_err();
        assert!(e.contains("bookmarks.data.sequence"), "{e}");
        assert_eq!(
            State::default().with_bookmark("data", None),
            json!({"bookmarks": {"data": {}}})
        );
    }

    #[test]
    fn each_stream_has_its_own_bookmark_and_a_deselected_one_holds_nothing_back() {
        let s = State::from_value(json!({"bookmarks": {
            "push": {"sequence": 40}, "issues": {"sequence": 30}, "data": {"sequence": 50}}}))
        .unwrap();
        assert_eq!(s.bookmark(), Some(Sequence::new(30)));
        assert_eq!(
            s.resume_after(|stream| stream != "issues"),
            Some(Sequence::new(40))
        );
        let v = s.value_with_streams(
            [
                ("push", Some(Sequence::new(60))),
                ("issues", None),
                ("new", Some(Sequence::new(60))),
            ],
            None,
        );
        assert_eq!(
            v,
            json!({"bookmarks": {"push": {"sequence": 60}, "issues": {"sequence": 30},
                "data": {"sequence": 50}, "new": {"sequence": 60}}})
        );
        let e = State::from_value(json!({"bookmarks": {"push": {"sequence": -1}}})).unwrap_err();
        assert!(e.contains("bookmarks.push.sequence"), "{e}");
    }

    #[test]
    fn a_state_file_that_is_empty_not_json_or_without_bookmarks_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        for (text, says) in [
            ("", "the state file is empty"),
            ("\n", "the state file is empty"),
            ("{\"bookmarks\": ", "state is not valid JSON"),
            ("{}", "state has no bookmarks"),
            ("{\"value\": {\"bookmarks\": {}}}", "state has no bookmarks"),
        ] {
            let path = dir.path().join("state.json");
            std::fs::write(&path, text).unwrap();
            let e = State::load(&path).unwrap_err().to_string();
            assert!(e.contains(says), "{text:?}: {e}");
            assert!(
                e.ends_with("on purpose, leave out --state."),
                "{text:?}: {e}"
            );
        }
    }

    #[test]
    fn meltanos_singer_state_wrapper_is_understood() {
        let s =
            State::from_value(json!({"singer_state": {"bookmarks": {"data": {"sequence": 9}}}}))
                .unwrap();
        assert_eq!(s.bookmark(), Some(Sequence::new(9)));
        assert_eq!(
            s.with_bookmark("data", Some(Sequence::new(10))),
            json!({"bookmarks": {"data": {"sequence": 10}}})
        );
    }

    #[test]
    fn replay_bookmark_sits_beside_the_sequence_and_round_trips() {
        let s = State::from_value(json!({"bookmarks": {"data": {"sequence": 42}}})).unwrap();
        let position = ReplayPosition {
            file: Arc::from("captures/a.ndjson"),
            line: 7,
            record: 1,
            sequence: Sequence::new(1_790_000_000_000_000_001),
        };
        let v = s.value_with("data", &Bookmark::Replay(Some(position.clone())));
        assert_eq!(v["bookmarks"]["data"]["sequence"], 42);
        assert_eq!(v["bookmarks"]["data"]["replay"]["line"], 7);
        let back = State::from_value(v).unwrap();
        assert_eq!(back.replay_position("data"), Some(position));
        assert_eq!(back.bookmark(), Some(Sequence::new(42)));
        let e = State::from_value(json!({"bookmarks": {"data": {"replay": {"file": "a"}}}}))
            .unwrap_err();
        assert!(e.contains("bookmarks.data.replay.line"), "{e}");
    }

    #[test]
    fn the_replay_bookmark_is_the_default_streams_and_an_old_data_one_still_resumes() {
        let position = ReplayPosition {
            file: Arc::from("a.ndjson"),
            line: 3,
            record: 0,
            sequence: Sequence::new(9),
        };
        let v = State::default().value_with("events", &Bookmark::Replay(Some(position.clone())));
        assert_eq!(v["bookmarks"]["events"]["replay"]["line"], 3);
        let s = State::from_value(v.clone()).unwrap();
        assert_eq!(s.replay_position("events"), Some(position.clone()));
        assert_eq!(s.replay_position("data"), None);
        // A state written when the one stream was `data` resumes under any default name.
        let old = json!({"bookmarks": {"data": {"replay": v["bookmarks"]["events"]["replay"]}}});
        let s = State::from_value(old).unwrap();
        assert_eq!(s.replay_position("events"), Some(position));
        let e = State::from_value(json!({"bookmarks": {"events": {"replay": {"file": 1}}}}))
            .unwrap_err();
        assert!(
            e.contains("bookmarks.events.replay.file must be a string"),
            "{e}"
        );
    }
}
