//! Test harness: runs the real `tap-webhooks` binary on port 0 ([`Tap`]), or the listener in
//! this process ([`InProcess`]), and talks HTTP to it ([`Listener`]).
#![allow(dead_code)]

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod in_process;
pub mod nats;
pub mod targets;
pub mod wheel;

pub use in_process::InProcess;

/// How long any wait in a test may take before it fails.
pub const DEADLINE: Duration = Duration::from_secs(60);

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_tap-webhooks")
}

/// Polls `cond` until it returns `Some` or the deadline passes.
pub fn wait_for<T>(what: &str, cond: impl FnMut() -> Option<T>) -> T {
    wait_for_explained(what, cond, String::new)
}

/// [`wait_for`], whose failure adds what `explain` says (a log, say).
pub fn wait_for_explained<T>(
    what: &str,
    mut cond: impl FnMut() -> Option<T>,
    explain: impl FnOnce() -> String,
) -> T {
    let end = Instant::now() + DEADLINE;
    loop {
        if let Some(v) = cond() {
            return v;
        }
        if Instant::now() >= end {
            panic!("timed out waiting for {what}\n{}", explain());
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// A scratch directory with a config file and the token of its first start.
pub struct Harness {
    pub tmp: tempfile::TempDir,
    pub config_path: PathBuf,
    pub token: Option<String>,
}

impl Harness {
    /// A harness whose config is `overrides` on top of `bind: 127.0.0.1:0` and a scratch
    /// `data_dir`.
    pub fn new(overrides: Value) -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let config_path = tmp.path().join("config.json");
        let mut h = Harness {
            tmp,
            config_path,
            token: None,
        };
        h.set_config(overrides);
        h
    }

    pub fn data_dir(&self) -> PathBuf {
        self.tmp.path().join("data")
    }

    pub fn set_config(&mut self, overrides: Value) {
        let mut config = json!({
            "bind": "127.0.0.1:0",
            "data_dir": self.data_dir(),
            "shutdown_grace_seconds": 20,
            // CI disks may be small; the disk guard has its own test.
            "min_free_disk_bytes": 0,
        });
        for (k, v) in overrides.as_object().expect("object").iter() {
            config[k] = v.clone();
        }
        std::fs::write(&self.config_path, config.to_string()).expect("write config");
    }

    /// Writes a state file holding `value` and returns its path.
    pub fn state_file(&self, value: &Value) -> PathBuf {
        let path = self
            .tmp
            .path()
            .join(format!("state-{}.json", rand_suffix()));
        std::fs::write(&path, value.to_string()).expect("write state");
        path
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin());
        cmd.arg("--config").arg(&self.config_path).args(args);
        cmd
    }

    /// `tap-webhooks serve --config <config>`.
    pub fn serve_command(&self) -> Command {
        let mut cmd = Command::new(bin());
        cmd.arg("serve").arg("--config").arg(&self.config_path);
        cmd
    }

    /// Starts `serve` and waits until it listens.
    pub fn start_serve(&mut self) -> Tap {
        self.start_command(self.serve_command())
    }

    /// Runs a drain (`listen: false` given in the environment) after `state`; returns it.
    pub fn drain(&self, state: Option<&Value>) -> Finished {
        let mut cmd = self.command(&[]);
        cmd.env("TAP_WEBHOOKS_LISTEN", "false");
        if let Some(state) = state {
            cmd.arg("--state").arg(self.state_file(state));
        }
        let done = Tap::spawn(cmd).wait();
        assert!(done.status.success(), "drain failed: {}", done.stderr);
        done
    }

    /// Starts a listening sync and waits until it listens.
    pub fn start(&mut self, args: &[&str]) -> Tap {
        self.start_command(self.command(args))
    }

    pub fn start_command(&mut self, cmd: Command) -> Tap {
        let mut tap = Tap::spawn(cmd);
        let base = wait_for("the listener", || {
            let err = tap.stderr();
            let at = err.find("listening on http://")?;
            let rest = &err[at + "listening on ".len()..];
            let end = rest.find('\n')?;
            Some(rest[..end].to_owned())
        });
        tap.base = base;
        if self.token.is_none() {
            let token = wait_for("the first webhook URL", || {
                let err = tap.stderr();
                let at = err.find("/webhooks/")?;
                let rest = &err[at + "/webhooks/".len()..];
                let token: String = rest.chars().take_while(|c| c.is_ascii_hexdigit()).collect();
                (token.len() == 64).then_some(token)
            });
            self.token = Some(token);
        }
        tap.token = self.token.clone().expect("token");
        tap
    }

    /// Runs a command that ends by itself (a drain) and returns what it printed.
    pub fn run(&self, args: &[&str]) -> Finished {
        Tap::spawn(self.command(args)).wait()
    }

    /// Runs `tap-webhooks token <args> --config <config>`.
    pub fn token_command(&self, args: &[&str]) -> Finished {
        let mut cmd = Command::new(bin());
        cmd.arg("token")
            .args(args)
            .arg("--config")
            .arg(&self.config_path);
        Tap::spawn(cmd).wait()
    }
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A running tap process.
pub struct Tap {
    child: Child,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    pub base: String,
    pub token: String,
    client: reqwest::blocking::Client,
}

/// An HTTP reply.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

/// What a finished process printed.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Finished {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn messages(&self) -> Vec<Value> {
        parse_lines(&self.stdout)
    }

    pub fn records(&self) -> Vec<Value> {
        records(&self.messages())
    }
}

fn pump(mut from: impl Read + Send + 'static, into: Arc<Mutex<Vec<u8>>>) {
    thread::spawn(move || {
        let mut buf = [0u8; 64 << 10];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => into.lock().unwrap().extend_from_slice(&buf[..n]),
            }
        }
    });
}

pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(DEADLINE)
        .build()
        .expect("client")
}

impl Tap {
    pub fn spawn(mut cmd: Command) -> Tap {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn tap-webhooks");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        pump(child.stdout.take().expect("stdout"), Arc::clone(&stdout));
        pump(child.stderr.take().expect("stderr"), Arc::clone(&stderr));
        Tap {
            child,
            stdout,
            stderr,
            base: String::new(),
            token: String::new(),
            client: client(),
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    pub fn stdout(&self) -> Vec<u8> {
        self.stdout.lock().unwrap().clone()
    }

    pub fn messages(&self) -> Vec<Value> {
        parse_lines(&self.stdout())
    }

    pub fn records(&self) -> Vec<Value> {
        records(&self.messages())
    }

    /// Waits until at least `n` RECORD messages have been written.
    pub fn wait_for_records(&self, n: usize) -> Vec<Value> {
        wait_for(&format!("{n} records"), || {
            let r = self.records();
            (r.len() >= n).then_some(r)
        })
    }

    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), signal).expect("kill");
    }

    pub fn terminate(&self) {
        self.signal(nix::sys::signal::Signal::SIGTERM);
    }

    /// Waits for the process to end by itself and returns what it printed.
    pub fn wait(mut self) -> Finished {
        let end = Instant::now() + DEADLINE;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if Instant::now() > end {
                let _ = self.child.kill();
                panic!("tap did not exit in time; stderr:\n{}", self.stderr());
            }
            thread::sleep(Duration::from_millis(10));
        };
        // The pumps finish once the pipes close.
        wait_for("stdout and stderr to close", || {
            (Arc::strong_count(&self.stdout) == 1 && Arc::strong_count(&self.stderr) == 1)
                .then_some(())
        });
        Finished {
            status,
            stdout: self.stdout(),
            stderr: self.stderr(),
        }
    }

    /// SIGKILLs the process and returns what it had printed.
    pub fn kill9(mut self) -> Finished {
        let _ = self.child.kill();
        self.wait()
    }
}

/// A listening tap as the tests talk to it: the real binary ([`Tap`]) or the listener started
/// in this process ([`InProcess`]).
pub trait Listener {
    /// `http://IP:PORT`.
    fn base(&self) -> &str;
    /// The token of the webhook URL the tests post to.
    fn token(&self) -> &str;
    fn client(&self) -> &reqwest::blocking::Client;

    fn url(&self) -> String {
        format!("{}/webhooks/{}", self.base(), self.token())
    }

    /// `IP:PORT`, for raw TCP connections.
    fn addr(&self) -> String {
        self.base().trim_start_matches("http://").to_owned()
    }

    fn post(&self, body: &str) -> Reply {
        self.send(
            self.client()
                .post(self.url())
                .header("content-type", "application/json")
                .body(body.to_owned()),
        )
    }

    fn send(&self, request: reqwest::blocking::RequestBuilder) -> Reply {
        let response = request.send().expect("request");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply {
            status,
            headers,
            body,
        }
    }
}

impl Listener for Tap {
    fn base(&self) -> &str {
        &self.base
    }

    fn token(&self) -> &str {
        &self.token
    }

    fn client(&self) -> &reqwest::blocking::Client {
        &self.client
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Asserts that a listening sync on `h`'s data_dir is refused as a second writer, with an
/// error naming the holder (`holder`, e.g. "pid 123 (serve)").
pub fn assert_second_writer_refused(h: &Harness, holder: &str) {
    let second = h.run(&[]);
    assert_eq!(second.status.code(), Some(1), "{}", second.stderr);
    assert!(second.stderr.contains("CRITICAL"), "{}", second.stderr);
    assert!(
        second
            .stderr
            .contains("held by another tap-webhooks process"),
        "{}",
        second.stderr
    );
    assert!(second.stderr.contains(holder), "{}", second.stderr);
}

/// Every file below `dir`, recursively.
pub fn files_under(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Complete JSON lines of a stdout capture (a line cut by `kill -9` is left out).
pub fn parse_lines(out: &[u8]) -> Vec<Value> {
    let complete = match out.iter().rposition(|&b| b == b'\n') {
        Some(i) => &out[..=i],
        None => &[][..],
    };
    complete
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            serde_json::from_slice(l).unwrap_or_else(|e| {
                panic!(
                    "stdout line is not JSON ({e}): {}",
                    String::from_utf8_lossy(l)
                )
            })
        })
        .collect()
}

pub fn records(messages: &[Value]) -> Vec<Value> {
    messages
        .iter()
        .filter(|m| m["type"] == "RECORD")
        .map(|m| m["record"].clone())
        .collect()
}

/// The records of one stream.
pub fn stream_records(messages: &[Value], stream: &str) -> Vec<Value> {
    messages
        .iter()
        .filter(|m| m["type"] == "RECORD" && m["stream"] == stream)
        .map(|m| m["record"].clone())
        .collect()
}

/// The last SCHEMA message of one stream.
pub fn last_schema(messages: &[Value], stream: &str) -> Option<Value> {
    messages
        .iter()
        .rev()
        .find(|m| m["type"] == "SCHEMA" && m["stream"] == stream)
        .cloned()
}

/// The Singer `record_count` METRIC lines of a run's stderr, as (stream, count) in order.
pub fn record_counts(stderr: &str) -> Vec<(String, u64)> {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("INFO METRIC: "))
        .map(|m| serde_json::from_str::<Value>(m).expect("a METRIC line is JSON"))
        .filter(|m| m["metric"] == "record_count")
        .map(|m| {
            let stream = m["tags"]["endpoint"].as_str().expect("an endpoint tag");
            (stream.to_owned(), m["value"].as_u64().expect("a count"))
        })
        .collect()
}

/// The value of the last STATE message.
pub fn last_state(messages: &[Value]) -> Option<Value> {
    messages
        .iter()
        .rev()
        .find(|m| m["type"] == "STATE")
        .map(|m| m["value"].clone())
}

/// Checks the Singer contract of one run's output: SCHEMA first, every RECORD field declared
/// by a SCHEMA before it, only UPPERCASE SCHEMA/RECORD/STATE.
pub fn assert_singer_stream(messages: &[Value]) {
    assert_eq!(
        messages.first().map(|m| m["type"].clone()),
        Some(json!("SCHEMA")),
        "SCHEMA first"
    );
    let mut declared: std::collections::HashMap<String, Value> = Default::default();
    for m in messages {
        let stream = m["stream"].as_str().unwrap_or_default().to_owned();
        match m["type"].as_str() {
            Some("SCHEMA") => {
                assert!(!stream.is_empty(), "SCHEMA without a stream: {m}");
                assert!(m["key_properties"].is_array());
                declared.insert(stream, m["schema"]["properties"].clone());
            }
            Some("RECORD") => {
                let props = declared.get(&stream).expect("RECORD before its SCHEMA");
                for (k, _) in m["record"].as_object().expect("record object") {
                    assert!(props.get(k).is_some(), "field {k} not declared before {m}");
                }
            }
            Some("STATE") => {}
            other => panic!("unexpected message type {other:?}"),
        }
    }
}

/// HMAC-SHA256 of the concatenated `parts` under `key`, as providers sign.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("any key length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

/// POSTs `body` as `content_type` with extra `headers` to `url` of the tap.
pub fn post_to(
    tap: &Tap,
    url: &str,
    content_type: &str,
    headers: &[(&str, String)],
    body: impl Into<Vec<u8>>,
) -> Reply {
    let mut request = tap
        .client()
        .post(url)
        .header("content-type", content_type)
        .body(body.into());
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    tap.send(request)
}

/// Stops a listening tap (SIGTERM), which must exit 0, and returns what it printed.
pub fn stop(tap: Tap) -> Finished {
    tap.terminate();
    let done = tap.wait();
    assert!(done.status.success(), "{}", done.stderr);
    done
}

/// The provider's fields of each record (the `_sdc` columns removed).
pub fn provider_fields(records: &[Value]) -> Vec<Value> {
    records
        .iter()
        .map(|r| {
            let mut r = r.as_object().expect("a record is an object").clone();
            r.retain(|k, _| !k.starts_with("_sdc") && !k.starts_with("__sdc"));
            Value::Object(r)
        })
        .collect()
}

/// `tap-webhooks replay --config <config> <args>` run to its end.
pub fn run_replay(h: &Harness, args: &[&str]) -> Finished {
    let mut cmd = Command::new(bin());
    cmd.arg("replay")
        .arg("--config")
        .arg(&h.config_path)
        .args(args);
    Tap::spawn(cmd).wait()
}
