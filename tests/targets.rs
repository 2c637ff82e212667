//! The tap's output piped into real Singer targets on a real PostgreSQL: pipelinewise-target-
//! postgres, meltanolabs-target-postgres, target-jsonl, and singer-check-tap as validator.
//! Everything here is set up by scripts/test.sh (see tests/common/targets.rs).

use crate::common::targets::{pg, run_target, run_with_input, venv_exe};
use crate::common::*;
use serde_json::{Value, json};

/// A realistic mix: several event types with different fields, a SendGrid-style array, a
/// field that first appears late (`refund_reason`, then `status`), an amount that is an
/// integer and later a decimal, nested objects and arrays, and three versions of `evt_1`.
const MIX: &[&str] = &[
    r#"{"id":"evt_1","type":"invoice.paid","amount":1000,"currency":"usd","customer":{"id":"cus_1","email":"a@example.com"},"lines":[{"sku":"A","qty":1}],"created":1700000000,"livemode":false}"#,
    r#"{"id":"evt_2","type":"customer.created","customer":{"id":"cus_2"},"created":1700000001}"#,
    r#"[{"id":"evt_3","type":"email.open","email":"b@example.com","ip":"54.88.76.97"},{"id":"evt_4","type":"email.click","email":"b@example.com","url":"http://hi.com"}]"#,
    r#"{"id":"evt_1","type":"invoice.paid","amount":1250.5,"currency":"usd","customer":{"id":"cus_1","email":"a@example.com"},"lines":[{"sku":"A","qty":1},{"sku":"B","qty":2}],"created":1700000100,"livemode":false}"#,
    r#"{"id":"evt_5","type":"charge.refunded","amount":300,"refund_reason":"duplicate","created":1700000200}"#,
    r#"{"id":"evt_1","type":"invoice.paid","amount":99,"status":"final","currency":"usd","customer":{"id":"cus_1"},"lines":[],"created":1700000300,"livemode":false,"note":null}"#,
];
const MIX_RECORDS: usize = 7;

/// Runs the tap with `config`, posts `bodies`, stops it, and returns its stdout.
fn capture(h: &mut Harness, bodies: &[&str], expected_records: usize) -> Vec<u8> {
    let tap = h.start(&[]);
    for body in bodies {
        let reply = tap.post(body);
        assert_eq!(reply.status, 200, "{body}: {:?}", reply.body);
    }
    tap.wait_for_records(expected_records);
    tap.terminate();
    let done = tap.wait();
    assert!(done.status.success(), "{}", done.stderr);
    done.stdout
}

fn mix_config(append_only: bool) -> Value {
    json!({
        "primary_key": "id",
        "append_only": append_only,
        "sequence_alias": "webhook_sequence",
        "received_at_alias": "webhook_received_at",
    })
}

/// Stitch's latest-version query, translated to PostgreSQL, over a sequence column.
fn latest_versions(sequence: &str) -> String {
    format!(
        "SELECT o.id, o.amount, o.status FROM incoming_webhooks.data o \
         INNER JOIN (SELECT MAX({sequence}) AS seq, id FROM incoming_webhooks.data GROUP BY id) oo \
         ON o.id = oo.id AND o.{sequence} = oo.seq ORDER BY o.id"
    )
}

/// Checks a PostgreSQL table loaded from the mix: every record, late fields as columns,
/// missing fields NULL, nested values queryable as JSON, the amount in one column.
/// (meltanolabs-target-postgres stores a missing JSON field as jsonb `null` rather than SQL
/// NULL, hence the `jsonb_typeof` guard.)
fn check_mix_in_postgres(db: &str, sequence: &str) {
    let pg = pg();
    let count = pg.psql(db, "SELECT count(*) FROM incoming_webhooks.data");
    assert_eq!(count, MIX_RECORDS.to_string(), "every record lands");
    let rows = pg.rows(
        db,
        &format!(
            "SELECT id, COALESCE(amount::numeric, amount__nu::numeric), customer->>'email', \
             jsonb_array_length(CASE jsonb_typeof(lines) WHEN 'array' THEN lines END), lines->0->>'sku', \
             refund_reason, status, ip, url FROM incoming_webhooks.data ORDER BY {sequence}"
        ),
    );
    let expected = [
        ["evt_1", "1000", "a@example.com", "1", "A", "", "", "", ""],
        ["evt_2", "", "", "", "", "", "", "", ""],
        ["evt_3", "", "", "", "", "", "", "54.88.76.97", ""],
        ["evt_4", "", "", "", "", "", "", "", "http://hi.com"],
        ["evt_1", "1250.5", "a@example.com", "2", "A", "", "", "", ""],
        ["evt_5", "300", "", "", "", "duplicate", "", "", ""],
        ["evt_1", "99", "", "0", "", "", "final", "", ""],
    ];
    assert_eq!(
        rows,
        expected.map(|r| r.map(str::to_owned).to_vec()).to_vec()
    );
    // Nothing was scattered into renamed columns, and nested values are jsonb.
    let columns = pg.rows(
        db,
        "SELECT column_name, data_type FROM information_schema.columns \
         WHERE table_schema = 'incoming_webhooks' AND table_name = 'data' ORDER BY column_name",
    );
    let type_of = |name: &str| columns.iter().find(|c| c[0] == name).map(|c| c[1].clone());
    assert_eq!(type_of("customer").as_deref(), Some("jsonb"));
    assert_eq!(type_of("lines").as_deref(), Some("jsonb"));
    assert!(
        columns.iter().all(|c| !c[0].starts_with("amount_2")),
        "{columns:?}"
    );
}

#[test]
fn a_realistic_mix_loads_completely_into_every_target() {
    let mut h = Harness::new(mix_config(true));
    let stream = capture(&mut h, MIX, MIX_RECORDS);

    // singer-check-tap validates every record against the SCHEMA before it.
    let report = run_with_input(&venv_exe("singer-tools", "singer-check-tap"), &[], &stream);
    assert!(report.contains("The output is valid."), "{report}");
    assert!(
        report.contains(&format!("{MIX_RECORDS} record messages")),
        "{report}"
    );

    // target-jsonl keeps every record with its nested values.
    let out_dir = h.tmp.path().join("jsonl");
    std::fs::create_dir_all(&out_dir).unwrap();
    run_target(
        "target-jsonl",
        "target-jsonl",
        &json!({"destination_path": out_dir}),
        &stream,
        h.tmp.path(),
    );
    let file = std::fs::read_dir(&out_dir)
        .unwrap()
        .next()
        .expect("a jsonl file")
        .unwrap()
        .path();
    let lines = parse_lines(&std::fs::read(file).unwrap());
    assert_eq!(lines.len(), MIX_RECORDS);
    assert_eq!(lines[4]["lines"][1]["sku"], "B");
    assert_eq!(lines[0]["customer"]["email"], "a@example.com");

    let pg = pg();
    let db = pg.create_database("mix_pw");
    pg.load_pipelinewise(&db, &stream, h.tmp.path());
    check_mix_in_postgres(&db, "_sdc_sequence");

    let db = pg.create_database("mix_ml");
    pg.load_meltanolabs(&pg.meltanolabs_config(&db), &stream, h.tmp.path());
    check_mix_in_postgres(&db, "webhook_sequence");
}

#[test]
fn pipelinewise_keeps_every_version_when_append_only_and_upserts_otherwise() {
    let pg = pg();
    // append_only: every version is a row, and the latest-version query finds the newest.
    let mut h = Harness::new(mix_config(true));
    let stream = capture(&mut h, MIX, MIX_RECORDS);
    assert_eq!(
        parse_lines(&stream)[0]["key_properties"],
        json!(["__sdc_primary_key"])
    );
    let db = pg.create_database("append_pw");
    pg.load_pipelinewise(&db, &stream, h.tmp.path());
    assert_eq!(
        pg.psql(
            &db,
            "SELECT count(*) FROM incoming_webhooks.data WHERE id = 'evt_1'"
        ),
        "3"
    );
    let latest = pg.rows(&db, &latest_versions("_sdc_sequence"));
    assert_eq!(
        latest,
        [
            ["evt_1", "99", "final"],
            ["evt_2", "", ""],
            ["evt_3", "", ""],
            ["evt_4", "", ""],
            ["evt_5", "300", ""]
        ]
        .map(|r| r.map(str::to_owned).to_vec())
        .to_vec()
    );

    // Not append_only: key_properties is the id and the target upserts to one row per id.
    let mut h = Harness::new(mix_config(false));
    let stream = capture(&mut h, MIX, MIX_RECORDS);
    assert_eq!(parse_lines(&stream)[0]["key_properties"], json!(["id"]));
    let db = pg.create_database("upsert_pw");
    pg.load_pipelinewise(&db, &stream, h.tmp.path());
    let rows = pg.rows(
        &db,
        "SELECT id, amount, status FROM incoming_webhooks.data ORDER BY id",
    );
    assert_eq!(rows.len(), 5, "{rows:?}");
    assert_eq!(rows[0], ["evt_1", "99", "final"]);
}

#[test]
fn meltanolabs_users_find_the_latest_version_through_sequence_alias() {
    let pg = pg();
    let mut h = Harness::new(mix_config(true));
    let stream = capture(&mut h, MIX, MIX_RECORDS);
    for add_record_metadata in [false, true] {
        let db = pg.create_database("latest_ml");
        let mut config = pg.meltanolabs_config(&db);
        config["add_record_metadata"] = json!(add_record_metadata);
        // The target refuses activate_version (its default) without record metadata.
        config["activate_version"] = json!(add_record_metadata);
        pg.load_meltanolabs(&config, &stream, h.tmp.path());
        // The target drops or overwrites _sdc_sequence ...
        let tap_sequences: Vec<String> = records(&parse_lines(&stream))
            .iter()
            .map(|r| r["_sdc_sequence"].to_string())
            .collect();
        let has_sdc = pg.psql(
            &db,
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'incoming_webhooks' \
             AND column_name = '_sdc_sequence'",
        ) == "1";
        if has_sdc {
            let stored = pg.rows(&db, "SELECT _sdc_sequence FROM incoming_webhooks.data");
            assert!(
                stored.iter().all(|r| !tap_sequences.contains(&r[0])),
                "overwritten by the target"
            );
        }
        // ... but the alias is left alone, and the latest-version query works on it.
        let latest = pg.rows(&db, &latest_versions("webhook_sequence"));
        assert_eq!(latest.len(), 5, "{latest:?}");
        assert_eq!(latest[0], ["evt_1", "99", "final"]);
        let aliases = pg.rows(
            &db,
            "SELECT webhook_sequence FROM incoming_webhooks.data ORDER BY 1",
        );
        let mut expected = tap_sequences.clone();
        expected.sort();
        assert_eq!(
            aliases
                .into_iter()
                .map(|r| r[0].clone())
                .collect::<Vec<_>>(),
            expected
        );
    }
}

#[test]
fn a_decimal_after_integers_goes_to_amount_nu_in_a_later_run_without_renaming_a_column() {
    let pg = pg();
    let db = pg.create_database("widen_pw");
    let mut h = Harness::new(json!({}));
    // First run: only integers; the target creates the table with a bigint column.
    let first = capture(&mut h, &[r#"{"amount":10}"#, r#"{"amount":20}"#], 2);
    pg.load_pipelinewise(&db, &first, h.tmp.path());
    // A later run: a decimal arrives, and goes to its sibling column.
    let second = capture(&mut h, &[r#"{"amount":10.75}"#], 1);
    pg.load_pipelinewise(&db, &second, h.tmp.path());
    let amounts = pg.rows(
        &db,
        "SELECT COALESCE(amount::numeric, amount__nu::numeric) FROM incoming_webhooks.data \
         ORDER BY _sdc_sequence",
    );
    assert_eq!(
        amounts,
        [["10"], ["20"], ["10.75"]]
            .map(|r| r.map(str::to_owned).to_vec())
            .to_vec()
    );
    let columns = pg.psql(
        &db,
        "SELECT string_agg(column_name || ' ' || data_type, ',' ORDER BY column_name) \
         FROM information_schema.columns \
         WHERE table_schema = 'incoming_webhooks' AND column_name LIKE 'amount%'",
    );
    assert_eq!(
        columns, "amount numeric,amount__nu double precision",
        "exact integers, and no renamed amount_<date> column"
    );
}

/// GitHub deliveries routed by `X-GitHub-Event`: one table per event type in both PostgreSQL
/// targets, each with its own columns and rows, the event header as jsonb.
#[test]
fn routed_streams_load_as_one_table_per_stream_into_both_postgres_targets() {
    let mut h = Harness::new(json!({
        "route": {"header": "X-GitHub-Event"},
        "capture_headers": ["X-GitHub-Event"],
        "sequence_alias": "webhook_sequence",
    }));
    let tap = h.start_serve();
    let deliveries = [
        (
            "push",
            r#"{"ref":"refs/heads/main","after":"abc123","commits":[{"id":"c1"}]}"#,
        ),
        (
            "issues",
            r#"{"action":"opened","issue":{"number":7,"title":"Bug"}}"#,
        ),
        (
            "push",
            r#"{"ref":"refs/heads/dev","after":"def456","commits":[]}"#,
        ),
        (
            "pull_request",
            r#"{"action":"closed","number":3,"merged":true}"#,
        ),
        ("", r#"{"zen":"Keep it logically awesome."}"#),
    ];
    for (event, body) in deliveries {
        let mut request = tap
            .client()
            .post(tap.url())
            .header("content-type", "application/json")
            .body(body);
        if !event.is_empty() {
            request = request.header("x-github-event", event);
        }
        assert_eq!(tap.send(request).status, 200);
    }
    let stream = h.drain(None).stdout;
    let report = run_with_input(&venv_exe("singer-tools", "singer-check-tap"), &[], &stream);
    assert!(report.contains("The output is valid."), "{report}");

    let pg = pg();
    let tables = |db: &str| {
        pg.rows(
            db,
            "SELECT table_name FROM information_schema.tables \
             WHERE table_schema = 'incoming_webhooks' ORDER BY table_name",
        )
        .concat()
    };
    let expected_tables = ["data", "issues", "pull_request", "push"];
    let db = pg.create_database("streams_pw");
    pg.load_pipelinewise(&db, &stream, h.tmp.path());
    assert_eq!(tables(&db), expected_tables);
    assert_eq!(
        pg.rows(
            &db,
            "SELECT ref, after, _sdc_headers->>'x-github-event' FROM incoming_webhooks.push \
             ORDER BY _sdc_sequence"
        ),
        [
            ["refs/heads/main", "abc123", "push"],
            ["refs/heads/dev", "def456", "push"]
        ]
    );
    assert_eq!(
        pg.psql(&db, "SELECT issue->>'title' FROM incoming_webhooks.issues"),
        "Bug"
    );
    let push_columns = pg.psql(
        &db,
        "SELECT count(*) FROM information_schema.columns \
         WHERE table_schema = 'incoming_webhooks' AND table_name = 'push' \
         AND column_name IN ('issue', 'zen', 'merged')",
    );
    assert_eq!(
        push_columns, "0",
        "other events' fields stay in their tables"
    );

    let db = pg.create_database("streams_ml");
    pg.load_meltanolabs(&pg.meltanolabs_config(&db), &stream, h.tmp.path());
    assert_eq!(tables(&db), expected_tables);
    for (table, rows) in [
        ("push", "2"),
        ("issues", "1"),
        ("pull_request", "1"),
        ("data", "1"),
    ] {
        assert_eq!(
            pg.psql(
                &db,
                &format!("SELECT count(*) FROM incoming_webhooks.{table}")
            ),
            rows,
            "{table}"
        );
    }
    assert_eq!(
        pg.psql(
            &db,
            "SELECT merged FROM incoming_webhooks.pull_request WHERE number = 3"
        ),
        "t"
    );
}
