//! The release wheel that `scripts/build-wheel.sh` builds, as the tests of installing it find it:
//! `scripts/test-env.sh` builds it (or reuses it when nothing changed) and exports its path as
//! `TAP_WEBHOOKS_TEST_WHEEL`. A missing or stale wheel fails the test, saying how to build it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::SystemTime;

const BUILD: &str =
    "export TAP_WEBHOOKS_TEST_WHEEL=\"$(scripts/build-wheel.sh)\" (scripts/test-env.sh does it)";

/// What the wheel is built from (as scripts/build-wheel.sh lists them): a file among these
/// newer than the wheel makes it stale.
const SOURCES: [&str; 7] = [
    "src",
    "schemas",
    "Cargo.toml",
    "Cargo.lock",
    "pyproject.toml",
    "README.md",
    "LICENSE",
];

pub fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The path of the release wheel; panics, naming the command that builds it, when it is
/// missing or older than a source file.
pub fn wheel() -> PathBuf {
    let path = std::env::var_os("TAP_WEBHOOKS_TEST_WHEEL").unwrap_or_else(|| {
        panic!("TAP_WEBHOOKS_TEST_WHEEL is not set: build the wheel with {BUILD}")
    });
    let path = PathBuf::from(path);
    let built = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| panic!("{}: {e}: build the wheel with {BUILD}", path.display()));
    if let Some(newer) = SOURCES
        .iter()
        .flat_map(|s| newer_than(&repository().join(s), built))
        .next()
    {
        panic!(
            "{} is older than {}: rebuild it with {BUILD}",
            path.display(),
            newer.display()
        );
    }
    path
}

/// Files at or below `path` modified after `time`.
fn newer_than(path: &Path, time: SystemTime) -> Vec<PathBuf> {
    let Ok(meta) = std::fs::metadata(path) else {
        return Vec::new();
    };
    if meta.is_dir() {
        std::fs::read_dir(path)
            .unwrap()
            .flat_map(|e| newer_than(&e.unwrap().path(), time))
            .collect()
    } else if meta.modified().unwrap() > time {
        vec![path.to_owned()]
    } else {
        Vec::new()
    }
}

/// Runs `cmd` to completion; panics with its output unless it succeeds.
pub fn run_ok(what: &str, cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what} ({cmd:?}): {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Asserts that `installed` is, byte for byte, the `tap-webhooks` inside `wheel` (read by
/// `python`).
pub fn assert_installed_from(installed: &Path, python: &Path, wheel: &Path) {
    let got = std::fs::read(installed).unwrap_or_else(|e| panic!("{}: {e}", installed.display()));
    let expected = binary_in_wheel(python, wheel);
    assert!(
        got == expected,
        "{} ({} bytes) is not the tap-webhooks of {} ({} bytes)",
        installed.display(),
        got.len(),
        wheel.display(),
        expected.len()
    );
}

/// The bytes of the `tap-webhooks` binary inside `wheel` (a zip), read by `python`.
fn binary_in_wheel(python: &Path, wheel: &Path) -> Vec<u8> {
    let script = "import sys, zipfile\n\
        z = zipfile.ZipFile(sys.argv[1])\n\
        [name] = [n for n in z.namelist() if n.endswith('.data/scripts/tap-webhooks')]\n\
        sys.stdout.buffer.write(z.read(name))";
    run_ok(
        "reading the binary out of the wheel",
        Command::new(python).args(["-c", script]).arg(wheel),
    )
    .stdout
}
