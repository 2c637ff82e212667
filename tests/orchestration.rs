//! Running under orchestrators: `serve` with scheduled drains, retention, `--about`, and
//! settings from the environment.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use crate::common::*;
use serde_json::{Value, json};

#[test]
fn serve_writes_nothing_on_stdout_and_refuses_a_second_writer() {
    let mut h = Harness::new(json!({}));
    let serve = h.start_serve();
    assert_eq!(serve.post(r#"{"a":1}"#).status, 200);

    // A listening sync on the same data_dir is a second writer.
    assert_second_writer_refused(&h, &format!("pid {} (serve)", serve.pid()));

    serve.terminate();
    let done = serve.wait();
    assert!(done.status.success(), "{}", done.stderr);
    assert!(
        done.stdout.is_empty(),
        "serve printed {:?}",
        String::from_utf8_lossy(&done.stdout)
    );
}

/// Syncs drain while `serve` accepts concurrently: every acknowledged webhook is emitted by
/// exactly one sync.
#[test]
fn syncs_drain_while_serve_accepts_and_nothing_is_lost_or_duplicated() {
    let mut h = Harness::new(json!({}));
    let serve = h.start_serve();
    let url = serve.url();
    let acked: Arc<Mutex<HashSet<(u64, u64)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4u64)
        .map(|c| {
            let (url, acked, stop) = (url.clone(), Arc::clone(&acked), Arc::clone(&stop));
            thread::spawn(move || {
                let client = client();
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let r = client
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(format!(r#"{{"c":{c},"n":{n}}}"#))
                        .send()
                        .expect("serve keeps accepting during syncs");
                    assert_eq!(r.status(), 200);
                    acked.lock().unwrap().insert((c, n));
                    n += 1;
                }
            })
        })
        .collect();

    let mut state: Option<Value> = None;
    let mut emitted: Vec<(u64, u64)> = Vec::new();
    for round in 0..4 {
        let target = acked.lock().unwrap().len() + 100;
        wait_for("more webhooks", || {
            (acked.lock().unwrap().len() >= target).then_some(())
        });
        if round == 3 {
            stop.store(true, Ordering::Relaxed);
        }
        let done = h.drain(state.as_ref());
        assert_singer_stream(&done.messages());
        emitted.extend(
            done.records()
                .iter()
                .map(|r| (r["c"].as_u64().unwrap(), r["n"].as_u64().unwrap())),
        );
        state = last_state(&done.messages());
    }
    for c in clients {
        c.join().unwrap();
    }
    // Whatever was acknowledged after the last round's drain started comes in one more.
    let done = h.drain(state.as_ref());
    emitted.extend(
        done.records()
            .iter()
            .map(|r| (r["c"].as_u64().unwrap(), r["n"].as_u64().unwrap())),
    );

    let unique: HashSet<(u64, u64)> = emitted.iter().copied().collect();
    assert_eq!(
        unique.len(),
        emitted.len(),
        "a webhook was emitted by two syncs"
    );
    let acked = acked.lock().unwrap();
    assert_eq!(
        &unique, &*acked,
        "emitted exactly the acknowledged webhooks"
    );
    serve.terminate();
    assert!(serve.wait().status.success());
}

#[test]
fn retention_deletes_only_segments_a_sync_has_acknowledged() {
    let mut h = Harness::new(json!({"journal_segment_bytes": 4096, "journal_retention_hours": 0}));
    let serve = h.start_serve();
    let pad = "p".repeat(600);
    for i in 0..30 {
        assert_eq!(
            serve.post(&format!(r#"{{"i":{i},"pad":"{pad}"}}"#)).status,
            200
        );
    }
    let journal = h.data_dir().join("journal");
    let segments = || -> usize {
        std::fs::read_dir(&journal)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "twj")
            })
            .count()
    };
    let before = segments();
    assert!(before >= 4, "{before} segments");

    // A first sync without state acknowledges nothing: nothing is deleted.
    let all = h.drain(None);
    assert_eq!(all.records().len(), 30);
    assert_eq!(segments(), before);

    // A sync whose state says record 15 was loaded: older segments go, the rest stays.
    let bookmark = all.records()[15]["_sdc_sequence"].clone();
    let state = json!({"bookmarks": {"data": {"sequence": bookmark}}});
    let after_15 = h.drain(Some(&state));
    let is = |f: &Finished| -> Vec<u64> {
        f.records()
            .iter()
            .map(|r| r["i"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(is(&after_15), (16..30).collect::<Vec<_>>());
    let after = segments();
    assert!(after < before, "{after} segments left of {before}");
    assert!(
        after_15.stderr.contains("journal retention: deleted"),
        "{}",
        after_15.stderr
    );

    // Nothing after the bookmark was deleted: the same drain gives the same records, and a
    // drain from the start only lacks acknowledged ones.
    assert_eq!(is(&h.drain(Some(&state))), is(&after_15));
    let from_start = is(&h.drain(None));
    assert!(
        from_start.ends_with(&(16..30).collect::<Vec<_>>()),
        "{from_start:?}"
    );
    assert!(from_start.len() < 30);

    // serve keeps writing after retention.
    assert_eq!(serve.post(r#"{"i":30}"#).status, 200);
    assert_eq!(is(&h.drain(Some(&state))).last(), Some(&30));
    serve.terminate();
    assert!(serve.wait().status.success());

    // With the default retention (a week), an acknowledged segment is kept.
    h.set_config(json!({"journal_segment_bytes": 4096}));
    let kept = segments();
    let all = h.drain(None);
    let last = all.records().last().unwrap()["_sdc_sequence"].clone();
    h.drain(Some(&json!({"bookmarks": {"data": {"sequence": last}}})));
    assert_eq!(segments(), kept);
}

#[test]
fn about_lists_exactly_the_accepted_settings_in_every_format() {
    let run = |args: &[&str]| {
        let out = std::process::Command::new(bin())
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let about: Value = serde_json::from_str(&run(&["--about", "--format", "json"])).unwrap();
    assert_eq!(about["name"], "tap-webhooks");
    assert_eq!(about["version"], env!("CARGO_PKG_VERSION"));
    for capability in ["catalog", "discover", "state", "about"] {
        assert!(
            about["capabilities"]
                .as_array()
                .unwrap()
                .contains(&json!(capability))
        );
    }
    let settings = about["settings"]["properties"].as_object().unwrap();
    assert!(settings.len() >= 15, "{}", settings.len());

    // Every listed setting is accepted with its default, together.
    let h = Harness::new(json!({}));
    let mut config = json!({"data_dir": h.data_dir(), "bind": "127.0.0.1:0"});
    for (name, setting) in settings {
        assert!(
            setting["description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{name} has a description"
        );
        if let Some(default) = setting.get("default").filter(|d| !d.is_null())
            && name != "data_dir"
            && name != "bind"
        {
            config[name] = default.clone();
        }
    }
    std::fs::write(&h.config_path, config.to_string()).unwrap();
    let done = h.run(&["--discover"]);
    assert!(
        done.status.success(),
        "defaults from --about are accepted: {}",
        done.stderr
    );
    // And a setting not listed is refused.
    std::fs::write(&h.config_path, json!({"not_a_setting": 1}).to_string()).unwrap();
    assert_eq!(h.run(&["--discover"]).status.code(), Some(2));

    let markdown = run(&["--about", "--format", "markdown"]);
    let text = run(&["--about"]);
    for name in settings.keys() {
        assert!(
            markdown.contains(&format!("| `{name}` |")),
            "markdown lists {name}"
        );
        assert!(text.contains(&format!("  {name}")), "text lists {name}");
    }
    assert!(
        run(&["--version"]).starts_with(&format!("tap-webhooks {}", env!("CARGO_PKG_VERSION")))
    );
}

#[test]
fn environment_variables_override_the_config_file() {
    let h = Harness::new(json!({"name": "From File", "primary_key": "a"}));
    let discover = |envs: &[(&str, &str)], config: &[&str]| {
        let mut cmd = std::process::Command::new(bin());
        cmd.args(config).arg("--discover");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let file = ["--config", h.config_path.to_str().unwrap()];
    let (code, out, err) = discover(
        &[
            ("TAP_WEBHOOKS_NAME", "From Env"),
            ("TAP_WEBHOOKS_PRIMARY_KEY", "id"),
        ],
        &file,
    );
    assert_eq!(code, Some(0), "{err}");
    let catalog: Value = serde_json::from_str(&out).unwrap();
    let top = &catalog["streams"][0]["metadata"][0]["metadata"];
    assert_eq!(top["schema-name"], "from_env");
    assert_eq!(top["table-key-properties"], json!(["id"]));
    // One line names the settings taken from the environment.
    assert_eq!(err.matches("from the environment").count(), 1, "{err}");
    assert!(
        err.contains(
            "INFO settings from the environment (TAP_WEBHOOKS_<SETTING>): name, primary_key\n"
        ),
        "{err}"
    );

    // --config ENV: settings from the environment alone.
    let data_dir = h.data_dir();
    let (code, out, err) = discover(
        &[
            ("TAP_WEBHOOKS_DATA_DIR", data_dir.to_str().unwrap()),
            ("TAP_WEBHOOKS_APPEND_ONLY", "true"),
            ("TAP_WEBHOOKS_PRIMARY_KEY", "id"),
        ],
        &["--config", "ENV"],
    );
    assert_eq!(code, Some(0), "{err}");
    let catalog: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        catalog["streams"][0]["key_properties"],
        json!(["__sdc_primary_key"])
    );

    // A bad value names its variable and the type it needs.
    let (code, _, err) = discover(&[("TAP_WEBHOOKS_MAX_RECORDS", "lots")], &file);
    assert_eq!(code, Some(2));
    assert!(
        err.contains(
            r#"CRITICAL TAP_WEBHOOKS_MAX_RECORDS: expected an integer (such as 5), not "lots""#
        ),
        "{err}"
    );
    let (code, _, err) = discover(&[("TAP_WEBHOOKS_LISTEN", "no")], &file);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("CRITICAL TAP_WEBHOOKS_LISTEN: expected a boolean (true or false)"),
        "{err}"
    );
    // A variable that names no setting is not silently ignored; Meltano's extras are.
    let (code, _, err) = discover(
        &[
            ("TAP_WEBHOOKS_LISTN", "false"),
            ("TAP_WEBHOOKS__SELECT", "[]"),
        ],
        &file,
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("WARNING environment variable TAP_WEBHOOKS_LISTN is not a setting")
            && err.contains("did you mean TAP_WEBHOOKS_LISTEN?"),
        "{err}"
    );
    assert!(!err.contains("TAP_WEBHOOKS__SELECT"), "{err}");
}

#[test]
fn a_broken_state_file_stops_the_sync_and_meltanos_wrapper_is_understood() {
    let mut h = Harness::new(json!({}));
    let serve = h.start_serve();
    for id in 0..2 {
        assert_eq!(serve.post(&format!(r#"{{"id":{id}}}"#)).status, 200);
    }
    serve.terminate();
    assert!(serve.wait().status.success());
    let drain = |state: &std::path::Path| {
        let mut cmd = h.command(&["--state", state.to_str().unwrap()]);
        cmd.env("TAP_WEBHOOKS_LISTEN", "false");
        Tap::spawn(cmd).wait()
    };

    // What `tail -1 new-state.jsonl > state.json` writes when the target printed nothing, and
    // other files that are no state: never a silent start from the first webhook.
    let path = h.tmp.path().join("state.json");
    for (text, says) in [
        ("", "the state file is empty"),
        ("{\"bookmarks\": {\"data\": ", "not valid JSON"),
        ("{}", "state has no bookmarks"),
    ] {
        std::fs::write(&path, text).unwrap();
        let done = drain(&path);
        assert_eq!(done.status.code(), Some(2), "{text:?}: {}", done.stderr);
        assert!(done.stdout.is_empty(), "{text:?}: nothing emitted");
        assert!(
            done.stderr
                .contains(&format!("CRITICAL {}: ", path.display()))
                && done.stderr.contains(says)
                && done.stderr.contains("leave out --state"),
            "{text:?}: {}",
            done.stderr
        );
    }

    // `meltano state get` prints the state inside {"singer_state": ...}.
    let first = drain(&h.state_file(&json!({"bookmarks": {"data": {}}})));
    assert_eq!(first.records().len(), 2, "{}", first.stderr);
    let state = last_state(&first.messages()).unwrap();
    let again = drain(&h.state_file(&json!({ "singer_state": state })));
    assert!(again.status.success(), "{}", again.stderr);
    assert_eq!(again.records().len(), 0, "the wrapper's bookmark is used");
}
