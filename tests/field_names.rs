//! Field names and keys a hostile or careless sender controls (issue 17), through the real
//! binary and HTTP, then loaded into pipelinewise-target-postgres, meltanolabs-target-postgres
//! and target-duckdb, each with `hard_delete` on: `_sdc` names, names that differ only in
//! case, empty and control-character names, too many columns, empty and numeric keys.

use std::process::Command;

use crate::common::targets::{Duck, pg};
use crate::common::*;
use serde_json::{Value, json};

/// 70 bytes: over PostgreSQL's 63, and pipelinewise's 62.
fn long_name() -> String {
    "l".repeat(70)
}

/// One record per line of this: the attack of issue 17 (a delete through `_sdc_deleted_at`),
/// reserved names in any case, an empty name, names targets fold together, a control
/// character, quotes, `%`, `:`, a backslash and an over-long name.
fn hostile() -> String {
    format!(
        r#"{{"id":"victim","_sdc_deleted_at":"2020-01-01T00:00:00Z","_SDC_SEQUENCE":5,
        "__SDC_PRIMARY_KEY":"x","_sdc_table_version":1,"":"empty","pullRequest":1,
        "pullrequest":2,"a\u0001b":"ctl","q\"uote":"q","pct%s":"p","back\\slash":"b","co:lon":"c","sin'gle":"s",
        "{}":"long"}}"#,
        long_name()
    )
}

/// 40 new fields: with `max_columns` 30, 2 `_sdc` columns, 16 columns from the records before
/// and one kept for `_sdc_overflow`, the first 11 get columns and the rest overflow.
fn wide() -> String {
    let fields: Vec<String> = (0..40).map(|i| format!(r#""f{i}":{i}"#)).collect();
    format!(r#"{{"id":"wide",{}}}"#, fields.join(","))
}

fn record_lines(out: &[u8]) -> Vec<&[u8]> {
    out.split(|&b| b == b'\n')
        .filter(|l| l.starts_with(br#"{"type":"RECORD""#))
        .collect()
}

/// A warehouse loaded by one target, queried in its own column names.
enum Warehouse {
    Pipelinewise(String),
    Meltanolabs(String),
    Duck(Duck),
}

impl Warehouse {
    /// One warehouse per target, new, named after `name`.
    fn every(h: &Harness, name: &str) -> [Warehouse; 3] {
        let pg = pg();
        [
            Warehouse::Pipelinewise(pg.create_database(&format!("{name}_pw"))),
            Warehouse::Meltanolabs(pg.create_database(&format!("{name}_ml"))),
            Warehouse::Duck(Duck::new(h.tmp.path(), name)),
        ]
    }

    fn load(&self, stream: &[u8], dir: &std::path::Path) {
        let pg = pg();
        match self {
            Warehouse::Pipelinewise(db) => {
                let mut config = pg.pipelinewise_config(db);
                config["hard_delete"] = json!(true);
                crate::common::targets::run_target(
                    "pipelinewise-target-postgres",
                    "target-postgres",
                    &config,
                    stream,
                    dir,
                );
            }
            Warehouse::Meltanolabs(db) => {
                let mut config = pg.meltanolabs_config(db);
                config["hard_delete"] = json!(true);
                pg.load_meltanolabs(&config, stream, dir);
            }
            Warehouse::Duck(duck) => {
                duck.load(&duck.config(json!({"hard_delete": true})), stream, dir);
            }
        }
    }

    fn rows(&self, sql: &str) -> Vec<Vec<String>> {
        match self {
            Warehouse::Pipelinewise(db) | Warehouse::Meltanolabs(db) => pg().rows(db, sql),
            Warehouse::Duck(duck) => duck.rows(sql),
        }
    }

    fn columns(&self) -> Vec<String> {
        self.rows(
            "SELECT column_name FROM information_schema.columns \
             WHERE table_schema = 'incoming_webhooks' AND table_name = 'data'",
        )
        .into_iter()
        .map(|mut r| r.remove(0))
        .collect()
    }

    /// The value of column `name` (as the tap emitted it; targets may lowercase it) in the
    /// row of `id`, as text.
    fn value(&self, id: &str, name: &str) -> String {
        let columns = self.columns();
        let column = columns
            .iter()
            .find(|c| *c == name)
            .or_else(|| {
                columns
                    .iter()
                    .find(|c| c.to_lowercase() == name.to_lowercase())
            })
            .unwrap_or_else(|| panic!("no column {name:?} in {columns:?}"));
        let rows = self.rows(&format!(
            "SELECT \"{column}\" FROM incoming_webhooks.data WHERE id = '{id}'"
        ));
        assert_eq!(rows.len(), 1, "{id}: {rows:?}");
        rows[0][0].clone()
    }

    /// A number column's value (targets store JSON numbers as double or decimal).
    fn number(&self, id: &str, name: &str) -> f64 {
        let text = self.value(id, name);
        text.parse()
            .unwrap_or_else(|e| panic!("{name} of {id}: {text:?}: {e}"))
    }

    fn ids(&self) -> Vec<String> {
        self.rows("SELECT id FROM incoming_webhooks.data ORDER BY id")
            .into_iter()
            .map(|mut r| r.remove(0))
            .collect()
    }

    /// What a hostile run left: every escaped value where the README says, nothing deleted.
    fn check(&self, ids: &[&str]) {
        assert_eq!(self.ids(), ids, "no row deleted, 42 and 42.0 one key");
        for (column, value) in [
            ("x_sdc_deleted_at", "2020-01-01T00:00:00Z"),
            ("x_empty", "empty"),
            ("a_b", "ctl"),
            ("q_uote", "q"),
            ("pct_s", "p"),
            ("co:lon", "c"),
            ("sin'gle", "s"),
            ("back\\slash", "b"),
        ] {
            assert_eq!(self.value("victim", column), value, "{column}");
        }
        assert_eq!(self.number("victim", "x_SDC_SEQUENCE"), 5.0);
        assert_eq!(self.value("victim", "x__SDC_PRIMARY_KEY"), "x");
        assert_eq!(self.number("victim", "pullRequest"), 1.0);
        assert_eq!(self.number("victim", "pullrequest__2"), 2.0);
        let long = self
            .columns()
            .into_iter()
            .find(|c| c.starts_with(&"l".repeat(53)))
            .unwrap_or_else(|| panic!("the long name's column: {:?}", self.columns()));
        assert!(long.len() <= 62, "{long}");
        assert_eq!(self.value("victim", &long), "long");
        assert_eq!(self.number("42", "v"), 2.0, "the later version of key 42");
        assert_eq!(self.number("wide", "f10"), 10.0);
        let overflow: Value = serde_json::from_str(&self.value("wide", "_sdc_overflow")).unwrap();
        let expected: serde_json::Map<String, Value> =
            (11..40).map(|i| (format!("f{i}"), json!(i))).collect();
        assert_eq!(overflow, Value::Object(expected), "nothing lost");
        let columns = self.columns();
        assert!(columns.len() <= 30 + 6, "{columns:?}"); // + the target's own _sdc columns
        assert!(!columns.iter().any(|c| c.is_empty()));
    }
}

#[test]
fn hostile_names_and_keys_load_into_every_target_and_delete_nothing() {
    let mut h = Harness::new(json!({"primary_key": "id", "max_columns": 30}));
    let tap = h.start(&[]);
    for body in [r#"{"id":"victim","v":0}"#.to_owned(), hostile()] {
        let reply = tap.post(&body);
        assert_eq!(reply.status, 200, "{body}: {:?}", reply.body);
    }
    for body in [r#"{"id":""}"#, r#"[{"id":"ok"},{"id":""}]"#] {
        let reply = tap.post(body);
        assert_eq!(reply.status, 422, "{body}");
        assert!(
            reply.body["error"]
                .as_str()
                .unwrap()
                .contains("is an empty string"),
            "{:?}",
            reply.body
        );
    }
    for body in [
        r#"{"id":42,"v":1}"#.to_owned(),
        r#"{"id":42.0,"v":2}"#.to_owned(),
        wide(),
    ] {
        assert_eq!(tap.post(&body).status, 200, "{body}");
    }
    tap.wait_for_records(5);
    tap.terminate();
    let live = tap.wait();
    assert!(live.status.success(), "{}", live.stderr);
    assert!(
        live.stderr.contains("WARN") && live.stderr.contains("\"f39\""),
        "a WARN names the overflowed fields: {}",
        live.stderr
    );

    // What the tap emits: no payload field under a metadata name, keys in one form, the key
    // column non-null.
    let messages = live.messages();
    let records = records(&messages);
    assert_eq!(records.len(), 5);
    let tap_columns = ["_sdc_sequence", "_sdc_received_at", "_sdc_overflow"];
    for record in &records {
        for name in record.as_object().unwrap().keys() {
            let lower = name.to_lowercase();
            assert!(
                !(lower.starts_with("_sdc_") || lower.starts_with("__sdc_"))
                    || tap_columns.contains(&name.as_str()),
                "{name}"
            );
        }
    }
    assert_eq!(records[1]["x_sdc_deleted_at"], "2020-01-01T00:00:00Z");
    assert_eq!(
        (&records[2]["id"], &records[3]["id"]),
        (&json!("42"), &json!("42"))
    );
    let schema = messages.iter().rfind(|m| m["type"] == "SCHEMA").unwrap();
    assert_eq!(
        schema["schema"]["properties"]["id"]["type"],
        json!(["string"])
    );
    assert_eq!(
        schema["schema"]["properties"].as_object().unwrap().len(),
        30
    );

    // The journal replayed gives the same records, byte for byte.
    let replayed = Tap::spawn({
        let mut cmd = Command::new(bin());
        cmd.args(["replay", "--journal", "--config"])
            .arg(&h.config_path);
        cmd
    })
    .wait();
    assert!(replayed.status.success(), "{}", replayed.stderr);
    assert_eq!(record_lines(&replayed.stdout), record_lines(&live.stdout));

    let warehouses = Warehouse::every(&h, "names");
    for warehouse in &warehouses {
        warehouse.load(&live.stdout, h.tmp.path());
        warehouse.check(&["42", "victim", "wide"]);
    }

    // A run after the hostile one, from its STATE: same columns for the same names, still
    // loadable, and another delete attempt deletes nothing.
    let state = h.state_file(&last_state(&messages).unwrap());
    let tap = h.start(&["--state", state.to_str().unwrap()]);
    let reply = tap.post(
        r#"{"id":"after","pullrequest":3,"_sdc_deleted_at":"2021-01-01T00:00:00Z","f39":39,"":"e"}"#,
    );
    assert_eq!(reply.status, 200);
    tap.wait_for_records(1);
    tap.terminate();
    let next = tap.wait();
    assert!(next.status.success(), "{}", next.stderr);
    let after = next.records();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0]["pullrequest__2"], 3);
    assert_eq!(after[0]["x_empty"], "e");
    assert_eq!(after[0]["_sdc_overflow"], json!({"f39": 39}));
    for warehouse in &warehouses {
        warehouse.load(&next.stdout, h.tmp.path());
        warehouse.check(&["42", "after", "victim", "wide"]);
        assert_eq!(warehouse.number("after", "pullrequest__2"), 3.0);
    }
}

/// A field of an over-long name whose type changes gets a sibling column that every target
/// keeps as the tap names it: shortened to 62 bytes with its `__in` suffix at the end (before,
/// `<62 bytes>__in`, 66 bytes, which PostgreSQL cut and pipelinewise renamed; found by the
/// `payload` fuzz target).
#[test]
fn the_sibling_of_an_over_long_field_loads_into_every_target_under_its_own_name() {
    let mut h = Harness::new(json!({"primary_key": "id"}));
    let tap = h.start(&[]);
    for body in [
        format!(r#"{{"id":"text","{}":"long"}}"#, long_name()),
        format!(r#"{{"id":"number","{}":7}}"#, long_name()),
    ] {
        assert_eq!(tap.post(&body).status, 200, "{body}");
    }
    tap.wait_for_records(2);
    tap.terminate();
    let live = tap.wait();
    assert!(live.status.success(), "{}", live.stderr);
    let records = live.records();
    let column = |record: &Value| -> String {
        let names = record.as_object().unwrap().keys();
        names.filter(|k| k.starts_with("lll")).cloned().collect()
    };
    let (long, sibling) = (column(&records[0]), column(&records[1]));
    assert!(long.len() <= 62 && sibling.len() <= 62, "{long} {sibling}");
    assert!(sibling.ends_with("__in"), "{sibling}");
    let warehouses = Warehouse::every(&h, "sibling");
    for warehouse in &warehouses {
        warehouse.load(&live.stdout, h.tmp.path());
        assert!(
            warehouse.columns().contains(&sibling),
            "{:?}",
            warehouse.columns()
        );
        assert_eq!(warehouse.value("text", &long), "long");
        assert_eq!(warehouse.number("number", &sibling), 7.0);
    }
}
