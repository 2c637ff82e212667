//! Installing the tap as Python users do, and running it under Meltano.
//!
//! - A wheel built by maturin from the source (pinned in tests/python/maturin.txt) installs
//!   into a clean venv and puts a `tap-webhooks` of the crate's version in its `bin/`. It is
//!   built with the `dev` profile (no debug info), in a cargo target directory of its own beside
//!   the tests' (`<target>/from-source`): the tests' build has the dev-dependencies' features,
//!   and a build in the same directory would replace the binary other tests run.
//! - The example project, examples/meltano/meltano.yml, unchanged and in place: `meltano
//!   install` installs the tap by its package name (`pip_url: tap-webhooks`) from the release
//!   wheel (`scripts/build-wheel.sh`; the installer finds it through `UV_FIND_LINKS`, as a
//!   package index would serve it), and target-postgres from PyPI; `serve` runs continuously
//!   as a plugin command while `meltano run` syncs twice into the test PostgreSQL, state saved
//!   and passed back by Meltano. Only the environment differs from production: Meltano's own
//!   files go to a scratch directory (`MELTANO_SYS_DIR_ROOT`) and settings that name this
//!   machine are overridden by `TAP_WEBHOOKS_*` / `TARGET_POSTGRES_*` variables.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::targets::{pg, venv_exe};
use crate::common::wheel::{binary_in_wheel, repository, run_ok, wheel};
use crate::common::*;
use serde_json::Value;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Sets what a wheel build of the tap needs: where cargo builds, with which profile, and the
/// maturin version an isolated build may download.
fn wheel_build_env(cmd: &mut Command) -> &mut Command {
    // bin() is <target>/<profile>/tap-webhooks.
    let target = Path::new(bin()).parent().and_then(Path::parent).unwrap();
    cmd.env("CARGO_TARGET_DIR", target.join("from-source"))
        .env("CARGO_PROFILE_DEV_DEBUG", "false")
        .env("MATURIN_PEP517_ARGS", "--profile dev")
        .env(
            "UV_BUILD_CONSTRAINT",
            repository().join("tests/python/maturin.txt"),
        )
}

/// A new venv at `dir`, made by the system's python3. Without pip (ensurepip takes seconds):
/// pip installs into it from outside, with `--python`.
fn clean_venv(dir: &Path) -> PathBuf {
    let out = Command::new("python3")
        .args(["-m", "venv", "--without-pip"])
        .arg(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("python3 not found ({e}): install python3 with venv (Debian: apt-get install python3-venv)")
        });
    assert!(
        out.status.success(),
        "python3 -m venv failed: install python3 with venv (Debian: apt-get install python3-venv)\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir.join("bin")
}

#[test]
fn a_wheel_built_by_maturin_installs_tap_webhooks_of_the_crates_version_into_a_clean_venv() {
    let tmp = tempfile::tempdir().unwrap();
    let dist = tmp.path().join("dist");
    run_ok(
        "maturin build",
        wheel_build_env(&mut Command::new(venv_exe("maturin", "maturin")))
            .args(["build", "--profile", "dev", "--manifest-path"])
            .arg(repository().join("Cargo.toml"))
            .arg("--out")
            .arg(&dist),
    );
    let wheels = files_under(&dist);
    assert_eq!(wheels.len(), 1, "one wheel: {wheels:?}");
    let wheel = &wheels[0];
    let name = wheel.file_name().unwrap().to_str().unwrap();
    assert!(
        name.starts_with(&format!("tap_webhooks-{VERSION}-")) && name.ends_with(".whl"),
        "the wheel has the crate's version: {name}"
    );

    let bin_dir = clean_venv(&tmp.path().join("venv"));
    run_ok(
        "pip install of the wheel",
        Command::new(venv_exe("maturin", "python"))
            .args(["-m", "pip", "--python"])
            .arg(bin_dir.join("python"))
            .args(["install", "--no-index", "--disable-pip-version-check"])
            .arg(wheel),
    );
    let out = run_ok(
        "python -c importlib.metadata.version",
        Command::new(bin_dir.join("python")).args([
            "-c",
            "import importlib.metadata as m; print(m.version('tap-webhooks'))",
        ]),
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), VERSION);

    let tap = bin_dir.join("tap-webhooks");
    let out = run_ok(
        "tap-webhooks --about",
        Command::new(&tap).args(["--about", "--format", "json"]),
    );
    let about: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(about["name"], "tap-webhooks");
    assert_eq!(about["version"], VERSION);
    assert!(
        about["settings"]["properties"]["data_dir"].is_object(),
        "{about}"
    );
    let out = run_ok(
        "tap-webhooks --version",
        Command::new(&tap).arg("--version"),
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("tap-webhooks {VERSION}")
    );
}

#[test]
fn the_example_meltano_project_installs_the_tap_by_pip_url_and_loads_exactly_the_new_webhooks() {
    let wheel = wheel();
    let pg = pg();
    let db = pg.create_database("meltano");
    let mut h = Harness::new(serde_json::json!({}));
    let sys_dir = h.tmp.path().join("meltano-sys");
    let data_dir = h.data_dir();
    let project = repository().join("examples/meltano");
    let entries = |dir: &Path| -> Vec<PathBuf> {
        let mut e: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        e.sort();
        e
    };
    let project_before = entries(&project);

    let meltano = |args: &[&str]| -> Command {
        let mut cmd = Command::new(venv_exe("meltano", "meltano"));
        cmd.args(args)
            .current_dir(&project)
            .env("MELTANO_SEND_ANONYMOUS_USAGE_STATS", "false")
            .env("MELTANO_SYS_DIR_ROOT", &sys_dir)
            // The target's dependencies at the versions the other tests load with.
            .env(
                "UV_CONSTRAINT",
                repository().join("tests/python/meltanolabs-target-postgres.txt"),
            )
            .env("TAP_WEBHOOKS_DATA_DIR", &data_dir)
            .env("TAP_WEBHOOKS_BIND", "127.0.0.1:0")
            .env("TAP_WEBHOOKS_MIN_FREE_DISK_BYTES", "0")
            .env_remove("TAP_WEBHOOKS_LISTEN")
            .env("TARGET_POSTGRES_HOST", &pg.host)
            .env("TARGET_POSTGRES_PORT", pg.port.to_string())
            .env("TARGET_POSTGRES_USER", &pg.user)
            .env("TARGET_POSTGRES_PASSWORD", "unused (trust auth)")
            .env("TARGET_POSTGRES_DATABASE", &db)
            // `pip_url: tap-webhooks` resolves to the release wheel, as from a package index.
            .env("UV_FIND_LINKS", wheel.parent().unwrap());
        cmd
    };

    run_ok("meltano install", &mut meltano(&["install"]));
    // The tap Meltano runs is the one pip_url installed in the plugin's venv: the wheel's.
    let installed = sys_dir.join("extractors/tap-webhooks/venv/bin/tap-webhooks");
    assert_eq!(
        std::fs::read(&installed).unwrap(),
        binary_in_wheel(&venv_exe("meltano", "python"), &wheel),
        "pip_url: tap-webhooks installed the release wheel"
    );
    let out = run_ok(
        "the installed tap-webhooks --version",
        Command::new(&installed).arg("--version"),
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("tap-webhooks {VERSION}")
    );

    // serve, as a Meltano plugin command, in its own process group (Meltano's child included).
    let mut serve_cmd = meltano(&["invoke", "tap-webhooks:serve"]);
    serve_cmd.process_group(0);
    let serve = h.start_command(serve_cmd);
    for id in 0..3 {
        assert_eq!(serve.post(&format!(r#"{{"id":{id}}}"#)).status, 200);
    }

    let run = |label: &str| {
        let out = run_ok(
            &format!("{label} meltano run"),
            &mut meltano(&["run", "tap-webhooks", "target-postgres"]),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("Run completed"), "{stderr}");
    };
    // Every row loaded so far, in sequence order.
    let loaded = || -> Vec<String> {
        pg.rows(
            &db,
            "SELECT id FROM incoming_webhooks.data ORDER BY webhook_sequence",
        )
        .into_iter()
        .map(|row| row[0].clone())
        .collect()
    };
    run("first");
    assert_eq!(loaded(), ["0", "1", "2"]);

    for id in 3..5 {
        assert_eq!(serve.post(&format!(r#"{{"id":{id}}}"#)).status, 200);
    }
    run("second");
    // append_only: a row per record emitted, so a re-emitted webhook would be a second row.
    assert_eq!(
        loaded(),
        ["0", "1", "2", "3", "4"],
        "the second run loads exactly the new webhooks"
    );

    // Meltano saved the STATE the target echoed: the last record loaded.
    let out = run_ok(
        "meltano state get",
        &mut meltano(&["state", "get", "prod:tap-webhooks-to-target-postgres"]),
    );
    let state: Value = serde_json::from_slice(&out.stdout).unwrap();
    let last = pg.psql(
        &db,
        "SELECT max(webhook_sequence) FROM incoming_webhooks.data",
    );
    assert_eq!(
        state["singer_state"]["bookmarks"]["data"]["sequence"].to_string(),
        last
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

    assert_eq!(
        entries(&project),
        project_before,
        "Meltano wrote nothing into the repository"
    );
}
