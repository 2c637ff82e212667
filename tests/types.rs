//! Column types never change once emitted: a value that does not fit its field's type goes to
//! a sibling column named by its type, live and in `replay --journal` alike, and real provider
//! payloads (tests/fixtures, named in tests/fixtures/SOURCES) load completely and exactly into
//! pipelinewise- and meltanolabs-target-postgres. Needs scripts/test.sh's targets and
//! PostgreSQL (see tests/common/targets.rs).

use std::path::Path;
use std::process::Command;

use crate::common::targets::pg;
use crate::common::*;
use serde_json::{Map, Value, json};

/// Top-level fields with their exact JSON text.
type RawFields = std::collections::BTreeMap<String, Box<serde_json::value::RawValue>>;

fn config() -> Value {
    json!({"sequence_alias": "webhook_sequence"})
}

/// Starts a listening sync, posts `bodies` one by one, and stops it once `records` are out.
fn live(h: &mut Harness, bodies: &[String], records: usize) -> Finished {
    let tap = h.start(&[]);
    for body in bodies {
        let reply = tap.post(body);
        assert_eq!(
            reply.status,
            200,
            "{}: {:?}",
            &body[..body.len().min(80)],
            reply.body
        );
    }
    tap.wait_for_records(records);
    tap.terminate();
    let done = tap.wait();
    assert!(done.status.success(), "{}", done.stderr);
    done
}

fn replay_journal(h: &Harness) -> Finished {
    let mut cmd = Command::new(bin());
    cmd.arg("replay")
        .arg("--config")
        .arg(&h.config_path)
        .arg("--journal");
    let done = Tap::spawn(cmd).wait();
    assert!(done.status.success(), "{}", done.stderr);
    done
}

/// RECORD lines exactly as printed.
fn record_lines(out: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(out)
        .lines()
        .filter(|l| l.starts_with(r#"{"type":"RECORD""#))
        .map(str::to_owned)
        .collect()
}

fn schemas(done: &Finished) -> Vec<Value> {
    done.messages()
        .into_iter()
        .filter(|m| m["type"] == "SCHEMA")
        .collect()
}

/// No property's declaration differs between two SCHEMA messages of the run.
fn assert_types_never_change(schemas: &[Value]) {
    let mut first: Map<String, Value> = Map::new();
    for schema in schemas {
        for (name, declared) in schema["schema"]["properties"].as_object().unwrap() {
            let earlier = first.entry(name.clone()).or_insert(declared.clone());
            assert_eq!(earlier, declared, "{name} changed type");
        }
    }
}

/// The rows of `incoming_webhooks.data`, in the tap's sequence order, as JSON objects.
fn table(db: &str) -> Vec<Map<String, Value>> {
    let text = pg().psql(
        db,
        "SELECT coalesce(json_agg(t ORDER BY webhook_sequence), '[]') FROM incoming_webhooks.data t",
    );
    let rows: Vec<Value> = serde_json::from_str(&text).expect("rows as JSON");
    rows.into_iter()
        .map(|r| r.as_object().unwrap().clone())
        .collect()
}

/// Whether a column name looks like pipelinewise's renamed column (`name_20261130_1118`).
fn is_renamed(column: &str) -> bool {
    let parts: Vec<&str> = column.rsplitn(3, '_').collect();
    parts.len() == 3
        && parts[0].len() == 4
        && parts[1].len() == 8
        && parts[..2]
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

/// Loads `stream` into a fresh database with each PostgreSQL target (any target error fails
/// the test), checks that no column was renamed, and returns the two databases.
fn load_both(stream: &[u8], dir: &Path, name: &str) -> [String; 2] {
    let pg = pg();
    let pw = pg.create_database(&format!("{name}_pw"));
    pg.load_pipelinewise(&pw, stream, dir);
    let ml = pg.create_database(&format!("{name}_ml"));
    pg.load_meltanolabs(&pg.meltanolabs_config(&ml), stream, dir);
    for db in [&pw, &ml] {
        let columns = pg.psql(
            db,
            "SELECT string_agg(column_name, ' ') FROM information_schema.columns \
             WHERE table_schema = 'incoming_webhooks' AND table_name = 'data'",
        );
        for column in columns.split(' ') {
            assert!(!is_renamed(column), "{db}: a renamed column: {column}");
        }
    }
    [pw, ml]
}

const CONFLICTS: &[&str] = &[
    r#"{"k":1,"workflow":{"path":".github/ci.yml"},"note":"first","tag":true,"score":1.5,"timestamp":1700000000,"amount":1000,"id":9223372036854775807}"#,
    r#"{"k":2,"workflow":".github/workflows/ci.yml","note":{"by":"bot"},"tag":"v1.2","score":"n/a","timestamp":"2023-11-14T22:13:20Z","amount":1250.5,"id":9223372036854775809}"#,
    r#"{"k":3,"workflow":{"path":"x"},"note":"third","tag":false,"score":2,"timestamp":1700000300,"amount":99,"id":-9223372036854775808}"#,
];

#[test]
fn each_type_conflict_goes_to_a_sibling_column_live_and_in_a_journal_replay_and_loads_into_both_targets()
 {
    let mut h = Harness::new(config());
    let bodies: Vec<String> = CONFLICTS.iter().map(|b| b.to_string()).collect();
    let live = live(&mut h, &bodies, 3);
    let replayed = replay_journal(&h);
    assert_eq!(record_lines(&replayed.stdout), record_lines(&live.stdout));
    assert_eq!(schemas(&replayed).len(), 1, "one SCHEMA for the journal");
    let live_schemas = schemas(&live);
    assert_types_never_change(&live_schemas);
    let last = live_schemas.last().unwrap()["schema"]["properties"].clone();
    assert_eq!(last, schemas(&replayed)[0]["schema"]["properties"]);
    for (field, declared) in [
        ("workflow", json!(["null", "object", "array"])),
        ("workflow__st", json!(["null", "string"])),
        ("note", json!(["null", "string"])),
        ("note__js", json!(["null", "object", "array"])),
        ("tag", json!(["null", "boolean"])),
        ("tag__st", json!(["null", "string"])),
        ("score", json!(["null", "number"])),
        ("score__st", json!(["null", "string"])),
        ("timestamp", json!(["null", "integer"])),
        ("timestamp__st", json!(["null", "string"])),
        ("amount", json!(["null", "integer"])),
        ("amount__nu", json!(["null", "number"])),
        ("id", json!(["null", "integer"])),
        ("id__st", json!(["null", "string"])),
    ] {
        assert_eq!(last[field]["type"], declared, "{field}");
    }
    let second = &live.records()[1];
    assert_eq!(second["tag__st"], "v1.2");
    assert_eq!(second["id__st"], "9223372036854775809");
    assert_eq!(second["note__js"], json!({"by": "bot"}));
    assert!(second.get("tag").is_none() && second.get("id").is_none());

    // Both streams load; the SQL the README gives reads each split field back whole.
    // (meltanolabs stores a JSON field a record lacks as jsonb null, hence the NULLIF.)
    let pg = pg();
    let [live_pw, live_ml] = load_both(&live.stdout, h.tmp.path(), "conflicts_live");
    let [replay_pw, replay_ml] = load_both(&replayed.stdout, h.tmp.path(), "conflicts_replay");
    for db in [&live_pw, &live_ml, &replay_pw, &replay_ml] {
        let rows = pg.rows(
            db,
            "SELECT COALESCE(tag::text, tag__st), \
             COALESCE(NULLIF(workflow::text, 'null'), workflow__st), \
             COALESCE(\"timestamp\"::text, timestamp__st), COALESCE(amount::numeric, amount__nu::numeric), \
             id::text, id__st, COALESCE(score::text, score__st) \
             FROM incoming_webhooks.data ORDER BY k",
        );
        assert_eq!(
            rows,
            [
                [
                    "true",
                    r#"{"path": ".github/ci.yml"}"#,
                    "1700000000",
                    "1000",
                    "9223372036854775807",
                    "",
                    "1.5"
                ],
                [
                    "v1.2",
                    ".github/workflows/ci.yml",
                    "2023-11-14T22:13:20Z",
                    "1250.5",
                    "",
                    "9223372036854775809",
                    "n/a"
                ],
                [
                    "false",
                    r#"{"path": "x"}"#,
                    "1700000300",
                    "99",
                    "-9223372036854775808",
                    "",
                    "2"
                ],
            ]
            .map(|r| r.map(str::to_owned).to_vec())
            .to_vec(),
            "{db}"
        );
    }
}

#[test]
fn a_backlog_of_1000_entries_with_50_fields_gets_one_schema_and_live_records_only_new_columns() {
    let mut h = Harness::new(config());
    let serve = h.start_serve();
    for i in 0..1000 {
        let body = format!(r#"{{"f{}":{i}}}"#, i % 50);
        assert_eq!(serve.post(&body).status, 200);
    }
    serve.terminate();
    assert!(serve.wait().status.success());

    let drained = h.drain(None);
    assert_eq!(drained.records().len(), 1000);
    let schemas_out = schemas(&drained);
    assert_eq!(schemas_out.len(), 1, "one SCHEMA for the backlog");
    let properties = schemas_out[0]["schema"]["properties"].as_object().unwrap();
    assert_eq!(properties.keys().filter(|k| k.starts_with('f')).count(), 50);
    assert_eq!(schemas(&replay_journal(&h)).len(), 1);

    // Live: a SCHEMA only before a record that adds a column.
    let tap = h.start(&[]);
    assert_eq!(tap.post(r#"{"f1":1}"#).status, 200);
    tap.wait_for_records(1001);
    assert_eq!(tap.post(r#"{"f1":2,"late":"x"}"#).status, 200);
    assert_eq!(tap.post(r#"{"f2":3,"late":"y"}"#).status, 200);
    tap.wait_for_records(1003);
    tap.terminate();
    let done = tap.wait();
    let kinds: Vec<String> = done
        .messages()
        .iter()
        .filter(|m| m["type"] != "STATE")
        .map(|m| m["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kinds[kinds.len() - 4..],
        ["RECORD", "SCHEMA", "RECORD", "RECORD"]
    );
    assert_eq!(kinds.iter().filter(|k| *k == "SCHEMA").count(), 2);
}

/// A column name as targets make it: pipelinewise lowercases; meltanolabs also replaces `-`,
/// `.` and spaces with `_` and drops other characters.
fn folded(name: &str) -> String {
    name.to_lowercase()
        .chars()
        .filter_map(|c| match c {
            '-' | '.' | ' ' => Some('_'),
            c if c.is_ascii_alphanumeric() || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// Whether a warehouse value is the payload's value exactly (numbers compared as the numbers
/// they are, an integer beyond 64 bits as its digits in a text column).
fn same(stored: &Value, sent: &Value, sent_text: &str) -> bool {
    match (stored, sent) {
        (Value::String(s), Value::Number(_)) => s == sent_text,
        (Value::Number(a), Value::Number(b)) if a.is_f64() || b.is_f64() => {
            a.as_f64() == b.as_f64()
        }
        _ => stored == sent,
    }
}

/// Every non-null top-level value of `record` is in `row`, in its column or a sibling of it.
fn assert_found(
    record: &Map<String, Value>,
    raw: &RawFields,
    row: &Map<String, Value>,
    what: &str,
) {
    for (name, sent) in record {
        if sent.is_null() {
            continue;
        }
        let base = folded(name);
        let found = row.iter().any(|(column, stored)| {
            let column = folded(column);
            let rest = match column.strip_prefix(&base) {
                Some(rest) => rest,
                None => return false,
            };
            let siblings = rest.is_empty()
                || rest
                    .as_bytes()
                    .chunks(4)
                    .all(|c| matches!(c, b"__st" | b"__in" | b"__nu" | b"__bo" | b"__js"));
            siblings && same(stored, sent, raw[name].get())
        });
        assert!(
            found,
            "{what}: field {name:?} = {} not found in {:?}",
            raw[name].get(),
            row.iter()
                .filter(|(c, _)| folded(c).starts_with(&base))
                .collect::<Vec<_>>()
        );
    }
}

#[test]
fn real_provider_payloads_load_completely_and_exactly_into_both_postgres_targets() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let sources = std::fs::read_to_string(root.join("SOURCES")).unwrap();
    let mut providers: Vec<(String, Vec<String>)> = Vec::new();
    for line in sources
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let file = line.split_whitespace().next().unwrap();
        assert_eq!(line.split_whitespace().count(), 4, "SOURCES: {line}");
        let provider = file.split('/').next().unwrap().to_owned();
        if providers.last().map(|(p, _)| p) != Some(&provider) {
            providers.push((provider.clone(), Vec::new()));
        }
        providers.last_mut().unwrap().1.push(file.to_owned());
    }
    assert!(providers.len() >= 5, "{providers:?}");
    let mut payloads = 0;
    for (provider, files) in &providers {
        let bodies: Vec<String> = files
            .iter()
            .map(|f| String::from_utf8(std::fs::read(root.join(f)).unwrap()).unwrap())
            .collect();
        // Records in order, each with its raw top-level values (the bodies' exact text).
        let mut sent = Vec::new();
        for (file, body) in files.iter().zip(&bodies) {
            let text = body.trim_start_matches('\u{feff}');
            let records: Vec<RawFields> = match serde_json::from_str(text) {
                Ok(one) => vec![one],
                Err(_) => serde_json::from_str(text).unwrap(),
            };
            for raw in records {
                let parsed: Map<String, Value> = raw
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::from_str(v.get()).unwrap()))
                    .collect();
                sent.push((file.clone(), parsed, raw));
            }
        }
        payloads += files.len();
        let mut h = Harness::new(config());
        let live = live(&mut h, &bodies, sent.len());
        assert_types_never_change(&schemas(&live));
        let replayed = replay_journal(&h);
        assert_eq!(
            record_lines(&replayed.stdout),
            record_lines(&live.stdout),
            "{provider}"
        );
        let dbs = load_both(&live.stdout, h.tmp.path(), &format!("corpus_{provider}"));
        for (target, db) in ["pipelinewise", "meltanolabs"].iter().zip(&dbs) {
            let rows = table(db);
            assert_eq!(rows.len(), sent.len(), "{provider} into {target}");
            for ((file, record, raw), row) in sent.iter().zip(&rows) {
                assert_found(record, raw, row, &format!("{file} in {target}"));
            }
        }
    }
    assert!(payloads >= 50, "{payloads} payloads");
}

#[test]
fn a_journal_replay_reads_the_backlog_once_when_the_schema_has_seen_it_and_twice_when_settings_change()
 {
    let mut h = Harness::new(config());
    let serve = h.start_serve();
    for i in 0..200 {
        let body = match i % 2 {
            0 => format!(r#"{{"type":"push","p{}":{i}}}"#, i % 20),
            _ => format!(r#"{{"type":"issues","i{}":"{i}"}}"#, i % 20),
        };
        assert_eq!(serve.post(&body).status, 200);
    }
    serve.terminate();
    assert!(serve.wait().status.success());
    let observed_file = h.data_dir().join("schema-observed.json");
    assert!(
        !observed_file.exists(),
        "serve emits nothing, so it has seen nothing"
    );

    // The sync reads the backlog twice (one SCHEMA), then records how far its schema has seen
    // the journal: its last record.
    let drained = h.drain(None);
    assert_eq!(schemas(&drained).len(), 1);
    let last = drained.records().last().unwrap()["webhook_sequence"].clone();
    let observed: Value = serde_json::from_slice(&std::fs::read(&observed_file).unwrap()).unwrap();
    assert_eq!(observed["through"], last);

    // Same settings: the replay does not read the journal a second time, and the persisted
    // schema is the one SCHEMA, with every column.
    let replayed = replay_journal(&h);
    let skipped = format!("has seen the journal through sequence {last}");
    assert!(replayed.stderr.contains(&skipped), "{}", replayed.stderr);
    assert_eq!(
        record_lines(&replayed.stdout),
        record_lines(&drained.stdout)
    );
    assert_eq!(schemas(&replayed), schemas(&drained));

    // Routed by `type`, the streams are new: the whole journal is read first again, so each
    // stream gets one SCHEMA declaring all its columns before its first record.
    h.set_config(json!({"sequence_alias": "webhook_sequence", "route": {"field": "type"}}));
    let routed = replay_journal(&h);
    assert!(
        !routed.stderr.contains("has seen the journal"),
        "{}",
        routed.stderr
    );
    assert_singer_stream(&routed.messages());
    for (stream, prefix) in [("push", 'p'), ("issues", 'i')] {
        let declared: Vec<Value> = schemas(&routed)
            .into_iter()
            .filter(|m| m["stream"] == stream)
            .collect();
        assert_eq!(declared.len(), 1, "{stream}: one SCHEMA");
        let properties = declared[0]["schema"]["properties"].as_object().unwrap();
        let columns = properties
            .keys()
            .filter(|k| k.starts_with(prefix) && k[1..].parse::<u32>().is_ok())
            .count();
        assert_eq!(columns, 10, "{stream}: {properties:?}");
        assert_eq!(stream_records(&routed.messages(), stream).len(), 100);
    }

    // A journal made anew (here: removed, then written again) is not the one the schema saw:
    // its backlog is read from the start.
    std::fs::remove_dir_all(h.data_dir().join("journal")).unwrap();
    let serve = h.start_serve();
    assert_eq!(serve.post(r#"{"type":"push","late":1}"#).status, 200);
    serve.terminate();
    assert!(serve.wait().status.success());
    let anew = replay_journal(&h);
    assert!(
        !anew.stderr.contains("has seen the journal"),
        "{}",
        anew.stderr
    );
    assert_eq!(anew.records().len(), 1);
    assert!(replay_journal(&h).stderr.contains("has seen the journal"));

    // The entry holding that sequence must be the one the schema saw (same journal id), not
    // another journal's whose sequences overlap.
    let mut observed: Value =
        serde_json::from_slice(&std::fs::read(&observed_file).unwrap()).unwrap();
    observed["entry"] = json!("00".repeat(16));
    std::fs::write(&observed_file, observed.to_string()).unwrap();
    let other = replay_journal(&h);
    assert!(
        !other.stderr.contains("has seen the journal"),
        "{}",
        other.stderr
    );
}
