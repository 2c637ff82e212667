//! Real Singer targets in Python venvs and a real PostgreSQL, both set up by
//! `scripts/test-env.sh` (sourced by `scripts/test.sh`). Tests that need them fail, naming
//! what to install, when they are missing: they never skip.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// The path of `exe` in the test venv `venv`.
pub fn venv_exe(venv: &str, exe: &str) -> PathBuf {
    let root = std::env::var("TAP_WEBHOOKS_TEST_VENVS").unwrap_or_else(|_| {
        panic!(
            "TAP_WEBHOOKS_TEST_VENVS is not set: run the tests with scripts/test.sh, which installs \
             the Singer targets of tests/python/*.txt into .venvs/"
        )
    });
    let path = Path::new(&root).join(venv).join("bin").join(exe);
    assert!(
        path.exists(),
        "{} is missing: run scripts/test.sh to install {venv} (tests/python/{venv}.txt)",
        path.display()
    );
    path
}

/// Runs `exe` with `args`, feeding `input` on stdin; returns its stdout. Panics, with its
/// stderr, if it fails.
pub fn run_with_input(exe: &Path, args: &[&str], input: &[u8]) -> String {
    let mut child = Command::new(exe)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", exe.display()));
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("wait");
    writer.join().unwrap();
    assert!(
        out.status.success(),
        "{} {args:?} failed ({}):\n{}",
        exe.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Pipes a Singer stream into a target with `config`; returns what the target printed.
pub fn run_target(venv: &str, exe: &str, config: &Value, stream: &[u8], dir: &Path) -> String {
    let path = dir.join(format!("{venv}-config.json"));
    std::fs::write(&path, config.to_string()).unwrap();
    run_with_input(
        &venv_exe(venv, exe),
        &["--config", path.to_str().unwrap()],
        stream,
    )
}

/// Connection settings of the test PostgreSQL.
pub struct Pg {
    pub host: String,
    pub port: u16,
    pub user: String,
}

pub fn pg() -> Pg {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!(
                "{name} is not set: run the tests with scripts/test.sh, which starts a PostgreSQL \
                 cluster on 127.0.0.1 (it needs the PostgreSQL server: apt-get install postgresql)"
            )
        })
    };
    Pg {
        host: var("PGHOST"),
        port: var("PGPORT").parse().expect("PGPORT is a port number"),
        user: var("PGUSER"),
    }
}

impl Pg {
    /// Creates a fresh database and returns its name.
    pub fn create_database(&self, prefix: &str) -> String {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "{prefix}_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        name
    }

    /// Runs SQL and returns the rows, one per line, columns separated by `|`.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = Command::new("psql")
            .args([
                "-X",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                &self.host,
                "-p",
                &self.port.to_string(),
            ])
            .args(["-U", &self.user, "-d", db, "-c", sql])
            .output()
            .expect("psql (install postgresql-client)");
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
    }

    /// Rows of a query, split into columns.
    pub fn rows(&self, db: &str, sql: &str) -> Vec<Vec<String>> {
        self.psql(db, sql)
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| l.split('|').map(str::to_owned).collect())
            .collect()
    }

    /// Loads a Singer stream into `db` with pipelinewise-target-postgres.
    pub fn load_pipelinewise(&self, db: &str, stream: &[u8], dir: &Path) -> String {
        run_target(
            "pipelinewise-target-postgres",
            "target-postgres",
            &self.pipelinewise_config(db),
            stream,
            dir,
        )
    }

    /// Loads a Singer stream with meltanolabs-target-postgres and `config`.
    pub fn load_meltanolabs(&self, config: &Value, stream: &[u8], dir: &Path) -> String {
        run_target(
            "meltanolabs-target-postgres",
            "target-postgres",
            config,
            stream,
            dir,
        )
    }

    /// Config of pipelinewise-target-postgres for `db`.
    pub fn pipelinewise_config(&self, db: &str) -> Value {
        serde_json::json!({
            "host": self.host, "port": self.port, "user": self.user,
            "password": "unused (trust auth)", "dbname": db,
            "default_target_schema": "incoming_webhooks",
        })
    }

    /// Config of meltanolabs-target-postgres for `db`.
    pub fn meltanolabs_config(&self, db: &str) -> Value {
        serde_json::json!({
            "host": self.host, "port": self.port, "user": self.user,
            "password": "unused (trust auth)", "database": db,
            "default_target_schema": "incoming_webhooks",
        })
    }
}

/// A DuckDB file loaded by target-duckdb 0.8.0 (with `duckdb` below 1.2, see
/// tests/python/target-duckdb.txt).
pub struct Duck {
    pub path: PathBuf,
}

impl Duck {
    pub fn new(dir: &Path, name: &str) -> Duck {
        Duck {
            path: dir.join(format!("{name}.duckdb")),
        }
    }

    /// Config of target-duckdb for this file, with `extra` keys on top.
    pub fn config(&self, extra: Value) -> Value {
        let mut config = serde_json::json!({
            "path": self.path, "default_target_schema": "incoming_webhooks",
        });
        for (k, v) in extra.as_object().expect("object") {
            config[k] = v.clone();
        }
        config
    }

    /// Loads a Singer stream with target-duckdb and `config`.
    pub fn load(&self, config: &Value, stream: &[u8], dir: &Path) -> String {
        run_target("target-duckdb", "target-duckdb", config, stream, dir)
    }

    /// Rows of a query, each value as text (NULL as an empty string), as `Pg::rows` gives.
    pub fn rows(&self, sql: &str) -> Vec<Vec<String>> {
        const SCRIPT: &str = "import duckdb, json, sys\n\
            c = duckdb.connect(sys.argv[1], read_only=True)\n\
            rows = c.execute(sys.argv[2]).fetchall()\n\
            print(json.dumps([['' if v is None else str(v) for v in r] for r in rows]))\n";
        let out = run_with_input(
            &venv_exe("target-duckdb", "python"),
            &["-c", SCRIPT, self.path.to_str().expect("UTF-8 path"), sql],
            b"",
        );
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("duckdb {sql}: {e}: {out}"))
    }
}
