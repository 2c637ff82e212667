//! The release wheel (`scripts/build-wheel.sh`) as users install it, with no Rust toolchain:
//!
//! - pip installs it into a fresh venv, and the `tap-webhooks` of that venv runs a sync and a
//!   replay, all with a `PATH` that holds no `cargo`, `rustc` or `cc` and an environment that
//!   holds nothing else;
//! - a Meltano project whose plugin is the Meltano Hub definition, `pip_url` naming the wheel
//!   file, installs it and runs it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::targets::venv_exe;
use crate::common::wheel::{assert_installed_from, run_ok, wheel};
use crate::common::*;
use serde_json::{Value, json};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A `PATH` of `bin` and a directory holding only `python3` (a link to this machine's), with no
/// compiler or linker on it.
fn path_without_toolchain(tmp: &Path, bin: &Path) -> OsString {
    let python3 = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join("python3"))
        .find(|p| p.is_file())
        .expect(
            "python3 on PATH: install python3 with venv (Debian: apt-get install python3-venv)",
        );
    let tools = tmp.join("tools");
    std::fs::create_dir_all(&tools).unwrap();
    std::os::unix::fs::symlink(&python3, tools.join("python3")).unwrap();
    let path = std::env::join_paths([bin, &tools]).unwrap();
    for tool in ["cargo", "rustc", "cc", "gcc", "zig"] {
        let found: Vec<PathBuf> = std::env::split_paths(&path)
            .map(|dir| dir.join(tool))
            .filter(|p| p.exists())
            .collect();
        assert!(found.is_empty(), "{tool} is on the test's PATH: {found:?}");
    }
    path
}

/// `program` with an environment of only `PATH` and `HOME`.
fn isolated(program: &Path, path: &OsString, home: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear().env("PATH", path).env("HOME", home);
    cmd
}

/// A new venv at `dir` without pip (pip installs into it from outside, with `--python`).
fn fresh_venv(dir: &Path) -> PathBuf {
    run_ok(
        "python3 -m venv (install python3 with venv: apt-get install python3-venv)",
        Command::new("python3")
            .args(["-m", "venv", "--without-pip"])
            .arg(dir),
    );
    dir.join("bin")
}

#[test]
fn the_wheel_installs_into_a_fresh_venv_and_syncs_and_replays_with_no_rust_toolchain() {
    let wheel = wheel();
    let mut h = Harness::new(json!({"max_records": 2}));
    let tmp = h.tmp.path().to_owned();
    let bin = fresh_venv(&tmp.join("venv"));
    let path = path_without_toolchain(&tmp, &bin);
    let pip = venv_exe("maturin", "python");
    run_ok(
        "pip install of the wheel",
        isolated(&pip, &path, &tmp)
            .args(["-m", "pip", "--python"])
            .arg(bin.join("python"))
            .args(["install", "--no-index", "--disable-pip-version-check"])
            .arg(&wheel),
    );
    let tap = bin.join("tap-webhooks");
    assert_installed_from(&tap, &pip, &wheel);
    let out = run_ok(
        "tap-webhooks --version",
        isolated(&tap, &path, &tmp).arg("--version"),
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("tap-webhooks {VERSION}")
    );
    let out = run_ok(
        "python -c importlib.metadata.version",
        isolated(&bin.join("python"), &path, &tmp).args([
            "-c",
            "import importlib.metadata as m; print(m.version('tap-webhooks'))",
        ]),
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        VERSION,
        "the package's version is the crate's"
    );

    // A sync that listens, takes two webhooks and ends.
    let mut sync = isolated(&tap, &path, &tmp);
    sync.arg("--config").arg(&h.config_path);
    let listening = h.start_command(sync);
    for id in [1, 2] {
        assert_eq!(listening.post(&format!(r#"{{"id":{id}}}"#)).status, 200);
    }
    let synced = listening.wait();
    assert!(synced.status.success(), "{}", synced.stderr);
    assert_singer_stream(&synced.messages());
    let ids =
        |records: Vec<Value>| -> Vec<Value> { records.iter().map(|r| r["id"].clone()).collect() };
    assert_eq!(ids(synced.records()), [json!(1), json!(2)]);

    // The journal that sync wrote, replayed by the same binary.
    let mut replay = isolated(&tap, &path, &tmp);
    replay
        .args(["replay", "--journal", "--config"])
        .arg(&h.config_path);
    let replayed = Tap::spawn(replay).wait();
    assert!(replayed.status.success(), "{}", replayed.stderr);
    assert_singer_stream(&replayed.messages());
    assert_eq!(ids(replayed.records()), [json!(1), json!(2)]);
}

#[test]
fn meltano_installs_the_hub_definition_with_pip_url_naming_the_wheel_file_and_runs_it() {
    let wheel = wheel();
    let mut h = Harness::new(json!({}));
    let tmp = h.tmp.path().to_owned();
    let data_dir = h.data_dir();
    let project = tmp.join("project");
    std::fs::create_dir_all(&project).unwrap();
    let mut plugin = crate::meltano_hub::definition();
    plugin["pip_url"] = json!(wheel);
    // JSON is YAML: the project file as Meltano reads it.
    let meltano_yml = json!({
        "default_environment": "dev",
        "project_id": "tap-webhooks-wheel-test",
        "environments": [{"name": "dev"}],
        "plugins": {"extractors": [plugin]},
    });
    std::fs::write(project.join("meltano.yml"), meltano_yml.to_string()).unwrap();
    let path = path_without_toolchain(&tmp, venv_exe("meltano", "meltano").parent().unwrap());
    let meltano = |args: &[&str]| -> Command {
        let mut cmd = isolated(&venv_exe("meltano", "meltano"), &path, &tmp);
        cmd.args(args)
            .current_dir(&project)
            .env("MELTANO_SEND_ANONYMOUS_USAGE_STATS", "false")
            .env("TAP_WEBHOOKS_DATA_DIR", &data_dir)
            .env("TAP_WEBHOOKS_BIND", "127.0.0.1:0")
            .env("TAP_WEBHOOKS_MIN_FREE_DISK_BYTES", "0");
        cmd
    };

    run_ok("meltano install", &mut meltano(&["install"]));
    let installed = project.join(".meltano/extractors/tap-webhooks/venv/bin/tap-webhooks");
    assert_installed_from(&installed, &venv_exe("meltano", "python"), &wheel);
    let out = run_ok(
        "meltano invoke tap-webhooks --about",
        &mut meltano(&["invoke", "tap-webhooks", "--about", "--format", "json"]),
    );
    let about: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(about["version"], VERSION);

    // A sync run by Meltano, its settings given as Meltano reads them.
    let mut sync = meltano(&["invoke", "tap-webhooks"]);
    sync.env("TAP_WEBHOOKS_MAX_RECORDS", "1");
    let listening = h.start_command(sync);
    assert_eq!(listening.post(r#"{"id":"via-meltano"}"#).status, 200);
    let synced = listening.wait();
    assert!(synced.status.success(), "{}", synced.stderr);
    let records = synced.records();
    assert_eq!(records.len(), 1, "{}", synced.stderr);
    assert_eq!(records[0]["id"], "via-meltano");

    // A setting the definition marks sensitive goes to .env, never into meltano.yml.
    let signature = r#"{"scheme": "github", "secret": "wheel-test-signing-secret"}"#;
    run_ok(
        "meltano config set signature",
        &mut meltano(&["config", "set", "tap-webhooks", "signature", signature]),
    );
    let read = |name: &str| std::fs::read_to_string(project.join(name)).unwrap_or_default();
    assert!(!read("meltano.yml").contains("wheel-test-signing-secret"));
    assert!(
        read(".env").contains("wheel-test-signing-secret"),
        "{}",
        read(".env")
    );
}
