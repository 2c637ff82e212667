//! The inspector's page in a real browser: headless Chromium from Debian (`chromium`,
//! `chromium-driver`), driven by Selenium from the `selenium` venv (tests/python/selenium.txt)
//! through `tests/browser/inspector_page.py`, against a listening sync on port 0. The script
//! posts webhooks while the page is open and checks what the page shows (see its doc).
//! `TAP_WEBHOOKS_SCREENSHOTS=DIR` also saves screenshots there.

use std::path::Path;
use std::process::Command;

use crate::common::targets::venv_exe;
use crate::common::*;
use crate::inspector::ops_base;
use serde_json::json;

/// Chromium and its driver, from Debian; a test needing them fails (never skips) without them.
fn require_chromium() {
    for path in ["/usr/bin/chromium", "/usr/bin/chromedriver"] {
        assert!(
            Path::new(path).exists(),
            "{path} is missing: the browser tests need Debian's chromium and chromium-driver \
             (apt-get install chromium chromium-driver; .ci/run installs them)"
        );
    }
}

#[test]
fn the_page_shows_deliveries_and_refusals_live_and_bodies_as_text() {
    require_chromium();
    let python = venv_exe("selenium", "python");
    let mut h = Harness::new(json!({
        "name": "Shop webhooks",
        "ops_bind": "127.0.0.1:0",
        "route": {"path": true},
        "idempotency_header": "X-GitHub-Delivery",
    }));
    let tap = h.start(&[]);
    let ops = ops_base(&tap);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut script = Command::new(python);
    script
        .arg(root.join("tests/browser/inspector_page.py"))
        .args([&ops, &tap.base, &tap.token])
        .arg(root.join("tests/fixtures"));
    if let Ok(dir) = std::env::var("TAP_WEBHOOKS_SCREENSHOTS") {
        script.arg(dir);
    }
    let done = Tap::spawn(script).wait();
    let output = format!("{}\n{}", done.stdout_text(), done.stderr);
    assert!(done.status.success(), "the browser test failed:\n{output}");
    assert!(output.contains("the inspector page passed"), "{output}");
    // Each delivery was journaled and emitted as the page showed it.
    tap.wait_for_records(3);
}
