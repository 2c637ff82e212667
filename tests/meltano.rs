//! Running the tap under Meltano as users do: the example project,
//! examples/meltano/meltano.yml, unchanged and in place. `meltano install` installs the tap by
//! its package name (`pip_url: tap-webhooks`) from the release wheel (`scripts/build-wheel.sh`;
//! the installer finds it through `UV_FIND_LINKS`, as a package index would serve it), and
//! target-postgres from PyPI; `serve` runs continuously as a plugin command while `meltano run`
//! syncs twice into the test PostgreSQL, state saved and passed back by Meltano. Only the
//! environment differs from production: Meltano's own files go to a scratch directory
//! (`MELTANO_SYS_DIR_ROOT`) and settings that name this machine are overridden by
//! `TAP_WEBHOOKS_*` / `TARGET_POSTGRES_*` variables.
//!
//! Installing the wheel with pip into a clean venv, and the Meltano Hub definition, are tested
//! in `wheel`.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::targets::{pg, venv_exe};
use crate::common::wheel::{assert_installed_from, repository, run_ok, wheel};
use crate::common::*;
use serde_json::Value;

const VERSION: &str = env!("CARGO_PKG_VERSION");

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

    // uv keeps a wheel it installed by name and version: a rebuilt wheel of the same version
    // would be ignored.
    run_ok(
        "uv cache clean tap-webhooks",
        Command::new(venv_exe("meltano", "uv")).args(["cache", "clean", "tap-webhooks"]),
    );
    run_ok("meltano install", &mut meltano(&["install"]));
    // The tap Meltano runs is the one pip_url installed in the plugin's venv: the wheel's.
    let installed = sys_dir.join("extractors/tap-webhooks/venv/bin/tap-webhooks");
    assert_installed_from(&installed, &venv_exe("meltano", "python"), &wheel);
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
