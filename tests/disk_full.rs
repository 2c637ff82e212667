//! A full disk with the free-space guard off (`min_free_disk_bytes: 0`): a write the file system
//! refuses for lack of space (`ENOSPC`) is a temporary 503 with `Retry-After`, `/readyz` is not
//! ready until a write succeeds again, and nothing acknowledged is lost.
//!
//! The disk is a real one: a 16 MB tmpfs mounted on the `data_dir`, filled up by the test.
//! Mounting needs root: under CI (`CI=true`) a tmpfs that cannot be mounted fails the test;
//! elsewhere the test says it skipped and checks nothing.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;
use serde_json::json;

/// A tmpfs mounted on a directory for as long as it lives.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// The tmpfs, or `None` (outside CI) when it cannot be mounted.
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output();
        let why = match mounted {
            Ok(out) if out.status.success() => return Some(Tmpfs(dir.to_owned())),
            Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            Err(e) => format!("cannot run mount: {e}"),
        };
        let why = format!(
            "cannot mount a tmpfs on {} (run the tests as root, or in a container with \
             CAP_SYS_ADMIN): {why}",
            dir.display()
        );
        assert!(!in_ci(), "{why}");
        eprintln!("SKIPPED (outside CI): {why}");
        None
    }
}

/// Whether the tests run under CI, where nothing may be skipped (`CI=true`, as CI services set).
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"))
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the file system holding `path` until a write fails for lack of space.
fn fill(path: &Path) {
    let mut file = std::fs::File::create(path).unwrap();
    let chunk = vec![b'x'; 64 << 10];
    let mut size = chunk.len();
    while size > 0 {
        match file.write(&chunk[..size]) {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => size /= 2,
            Err(e) => panic!("filling {}: {e}", path.display()),
        }
    }
}

#[test]
fn a_full_disk_is_a_temporary_503_and_readyz_waits_for_a_write_to_succeed() {
    let mut h = Harness::new(json!({"min_free_disk_bytes": 0}));
    let Some(_tmpfs) = Tmpfs::mount(&h.data_dir(), "16m") else {
        return;
    };
    let tap = h.start(&[]);
    let readyz = format!("{}/readyz", tap.url().split("/webhooks/").next().unwrap());
    // Bodies larger than a page, so that a full disk cannot take them in a page's slack.
    let body = |i: u32| format!(r#"{{"i":{i},"pad":"{}"}}"#, "p".repeat(16 << 10));
    assert_eq!(tap.post(&body(0)).status, 200);
    // The first record's schema is persisted before the disk fills.
    tap.wait_for_records(1);
    assert_eq!(tap.client().get(&readyz).send().unwrap().status(), 200);

    let filler = h.data_dir().join("filler");
    fill(&filler);
    // Space the journal had set aside before the disk filled may still take a few bodies;
    // then every webhook is refused, temporarily.
    let mut accepted = vec![0];
    let mut i = 1;
    let first_refusal = loop {
        let reply = tap.post(&body(i));
        if reply.status != 200 {
            break reply;
        }
        accepted.push(i);
        i += 1;
        assert!(i < 1000, "a full disk kept taking webhooks");
    };
    let mut refused = vec![first_refusal];
    for _ in 0..4 {
        i += 1;
        refused.push(tap.post(&body(i)));
    }
    for reply in &refused {
        assert_eq!(reply.status, 503, "{:?}", reply.body);
        assert_eq!(reply.headers["retry-after"], "30");
        assert!(
            reply.body["error"].as_str().unwrap().contains("disk"),
            "{:?}",
            reply.body
        );
    }
    let not_ready = tap.client().get(&readyz).send().unwrap();
    assert_eq!(not_ready.status(), 503);
    let text = not_ready.text().unwrap();
    assert!(text.contains("full"), "{text}");

    // Space is back: ready again without a webhook having to get through first.
    std::fs::remove_file(&filler).unwrap();
    wait_for("/readyz to be ready again", || {
        (tap.client().get(&readyz).send().unwrap().status() == 200).then_some(())
    });
    for _ in 0..3 {
        i += 1;
        assert_eq!(tap.post(&body(i)).status, 200);
        accepted.push(i);
    }
    tap.wait_for_records(accepted.len());
    tap.terminate();
    let done = tap.wait();
    assert!(done.status.success(), "{}", done.stderr);
    let is: Vec<u32> = done
        .records()
        .iter()
        .map(|r| r["i"].as_u64().unwrap() as u32)
        .collect();
    // Every webhook answered 200 is there, once; none of the refused ones.
    assert_eq!(is, accepted);
    assert!(
        done.stderr.contains("disk holding the journal is full"),
        "{}",
        done.stderr
    );
}
