//! A real Meltano project (Meltano from PyPI, in the venv scripts/test.sh sets up) with the
//! tap as a custom extractor and target-jsonl as loader: `serve` runs continuously as a
//! plugin command while `meltano run` syncs twice, state saved and passed back by Meltano.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use crate::common::targets::venv_exe;
use crate::common::*;
use serde_json::Value;

fn meltano(project: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(venv_exe("meltano", "meltano"));
    cmd.args(args)
        .current_dir(project)
        .env("MELTANO_SEND_ANONYMOUS_USAGE_STATS", "false")
        .env_remove("TAP_WEBHOOKS_LISTEN");
    cmd
}

/// Records target-jsonl has written so far (it appends to `data.jsonl`).
fn loaded(dir: &Path) -> Vec<Value> {
    parse_lines(&std::fs::read(dir.join("data.jsonl")).unwrap_or_default())
}

#[test]
fn meltano_runs_serve_and_scheduled_syncs_that_load_exactly_the_new_webhooks() {
    let mut h = Harness::new(serde_json::json!({}));
    let project = h.tmp.path().join("project");
    let output = project.join("output");
    std::fs::create_dir_all(&output).unwrap();
    let meltano_yml = format!(
        r#"version: 1
default_environment: dev
project_id: tap-webhooks-test
send_anonymous_usage_stats: false
environments:
- name: dev
plugins:
  extractors:
  - name: tap-webhooks
    namespace: tap_webhooks
    executable: {tap}
    capabilities: [catalog, discover, state, about]
    settings:
    - name: data_dir
    - name: bind
    - name: listen
      kind: boolean
    - name: min_free_disk_bytes
      kind: integer
    config:
      data_dir: {data_dir}
      bind: 127.0.0.1:0
      listen: false
      min_free_disk_bytes: 0
    commands:
      serve:
        args: serve --config ENV
        description: Receive webhooks continuously into the journal
  loaders:
  - name: target-jsonl
    namespace: target_jsonl
    executable: {jsonl}
    settings:
    - name: destination_path
    - name: do_timestamp_file
      kind: boolean
    config:
      destination_path: {output}
      do_timestamp_file: false
"#,
        tap = bin(),
        data_dir = h.data_dir().display(),
        jsonl = venv_exe("target-jsonl", "target-jsonl").display(),
        output = output.display(),
    );
    std::fs::write(project.join("meltano.yml"), meltano_yml).unwrap();

    // serve, as a Meltano plugin command, in its own process group (Meltano's child included).
    let mut serve_cmd = meltano(&project, &["invoke", "tap-webhooks:serve"]);
    serve_cmd.process_group(0);
    let serve = h.start_command(serve_cmd);
    for i in 0..3 {
        assert_eq!(serve.post(&format!(r#"{{"i":{i}}}"#)).status, 200);
    }

    let run = |label: &str| {
        let out = meltano(&project, &["run", "tap-webhooks", "target-jsonl"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{label} meltano run failed:\n{stderr}"
        );
        assert!(stderr.contains("Run completed"), "{stderr}");
    };
    run("first");
    let is = |records: &[Value]| -> Vec<u64> {
        records.iter().map(|r| r["i"].as_u64().unwrap()).collect()
    };
    let first = loaded(&output);
    assert_eq!(is(&first), [0, 1, 2]);

    for i in 3..5 {
        assert_eq!(serve.post(&format!(r#"{{"i":{i}}}"#)).status, 200);
    }
    run("second");
    let all = loaded(&output);
    let second = &all[first.len()..];
    assert_eq!(
        is(second),
        [3, 4],
        "the second run loads exactly the new webhooks"
    );

    // Meltano saved the STATE the target echoed.
    let state = meltano(
        &project,
        &["state", "get", "dev:tap-webhooks-to-target-jsonl"],
    )
    .output()
    .unwrap();
    let state: Value = serde_json::from_slice(&state.stdout).unwrap();
    assert_eq!(
        state["singer_state"]["bookmarks"]["data"]["sequence"],
        second[1]["_sdc_sequence"]
    );

    // Stop serve: SIGTERM to the process group.
    nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(serve.pid()),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let done = serve.wait();
    assert!(
        done.stderr.contains("stopping: received SIGTERM"),
        "{}",
        done.stderr
    );
}
