"""The inspector's page in a real headless Chromium, driven by Selenium.

Run by tests/browser.rs against a tap it started:

    python inspector_page.py OPS_URL WEBHOOK_BASE TOKEN FIXTURES_DIR [SCREENSHOT_DIR]

It opens the page, then posts webhooks while the page stays open, and checks that each
delivery and refusal shows within two seconds without a reload; that clicking a delivery shows
its body and the records it became; that a body holding markup is shown as text and runs
nothing; and that no webhook token is anywhere in the page. With SCREENSHOT_DIR it saves
screenshots at a laptop's width and a narrow window's. Any failure exits non-zero with a
message saying what was expected.
"""

import json
import os
import sys
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By

APPEAR_WITHIN = 2.0


def fail(message):
    print("FAILED: " + message, file=sys.stderr)
    sys.exit(1)


def post(url, body, headers=None):
    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


def browser(width, height):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--hide-scrollbars", "--force-device-scale-factor=1",
                f"--window-size={width},{height}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def wait_until(what, condition, within):
    """Polls `condition` every 50 ms; returns the seconds it took, or fails after `within`."""
    start = time.monotonic()
    while True:
        try:
            if condition():
                return time.monotonic() - start
        except Exception:  # an element replaced while it was read: look again
            pass
        if time.monotonic() - start > within:
            fail(f"{what}: not within {within} s")
        time.sleep(0.05)


def row_texts(driver, table):
    return [row.text for row in driver.find_elements(By.CSS_SELECTOR, f"#{table} tbody tr")]


def main():
    ops, base, token, fixtures = sys.argv[1:5]
    shots = sys.argv[5] if len(sys.argv) > 5 else None
    github = open(os.path.join(fixtures, "github", "push.json"), "rb").read()
    stripe = open(os.path.join(fixtures, "stripe", "event_account_updated_custom.json"), "rb").read()
    hook = f"{base}/webhooks/{token}"

    driver = browser(1440, 1000)
    try:
        driver.get(ops + "/")
        wait_until("the page polling the tap", lambda: "live" in driver.find_element(By.ID, "live").text, 15)
        # A reload would clear this.
        driver.execute_script("window.__sameLoad = 42;")

        status = post(f"{hook}/github", github, {
            "X-GitHub-Event": "push", "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958"})
        if status != 200:
            fail(f"the GitHub push got {status}")
        took = wait_until("the GitHub delivery in the table",
                          lambda: any("github" in t for t in row_texts(driver, "deliveries")),
                          APPEAR_WITHIN)
        print(f"delivery shown after {took:.2f} s")

        if post(f"{hook}/stripe", stripe) != 200:
            fail("the Stripe event was refused")
        wait_until("the Stripe delivery", lambda: any("stripe" in t for t in row_texts(driver, "deliveries")),
                   APPEAR_WITHIN)

        if post(f"{base}/webhooks/{'0' * 64}", b'{"id": 1}') != 401:
            fail("an unknown token was not refused with 401")
        took = wait_until("the refusal in the table",
                          lambda: any("401" in t for t in row_texts(driver, "refusals")), APPEAR_WITHIN)
        print(f"refusal shown after {took:.2f} s")
        if post(f"{hook}/github", b'{"ref": "refs/heads/main",', {"X-GitHub-Event": "push"}) != 400:
            fail("a malformed body was not refused with 400")
        wait_until("the 400 refusal", lambda: any("400" in t for t in row_texts(driver, "refusals")),
                   APPEAR_WITHIN)
        if shots:
            screenshots(driver, shots, hook, github, stripe)

        # A body made to run script if it were ever written as HTML.
        hostile = json.dumps({
            "comment": "<script>window.pwned = 1; document.title = 'pwned'</script>",
            "avatar": "<img src=x onerror=\"window.pwned = 2; document.title = 'pwned'\">",
            "<svg onload=window.pwned=3>": "<iframe src=javascript:window.pwned=4>",
        }).encode()
        if post(f"{hook}/comments", hostile) != 200:
            fail("the hostile body was refused")
        wait_until("the hostile delivery", lambda: any("comments" in t for t in row_texts(driver, "deliveries")),
                   APPEAR_WITHIN)
        open_delivery(driver, "comments")
        wait_until("the hostile body shown as text",
                   lambda: "<script>window.pwned = 1;" in body_text(driver), 10)
        records = " ".join(e.text for e in driver.find_elements(By.CSS_SELECTOR, "#detail-body .record"))
        if "<img src=x onerror=" not in records:
            fail("the hostile record is not shown as text: " + records[:200])
        time.sleep(0.5)
        pwned = driver.execute_script("return window.pwned;")
        if pwned is not None or "pwned" in driver.title:
            fail(f"markup from a webhook body ran: window.pwned={pwned!r}, title={driver.title!r}")
        counts = driver.execute_script(
            "return [document.scripts.length, document.images.length, "
            "document.querySelectorAll('iframe, svg[onload], [onerror]').length];")
        if counts != [1, 0, 0]:
            fail(f"elements from a body were created: scripts, images, others = {counts}")

        # Clicking a delivery shows its body and the records it became.
        open_delivery(driver, "72d3162e-cc78-11e3")
        wait_until("the GitHub body", lambda: '"ref": "refs/tags/simple-tag"' in body_text(driver), 10)
        detail = driver.find_element(By.ID, "detail-body").text
        for expected in ("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958", "Records it became",
                         "record 1"):
            if expected not in detail:
                fail(f"the delivery's detail lacks {expected!r}")
        if "github" not in driver.find_element(By.CSS_SELECTOR, "#detail-body .record .tag").text:
            fail("the record's stream is not shown")

        if driver.execute_script("return window.__sameLoad;") != 42:
            fail("the page was reloaded")
        html = driver.page_source
        if token in html:
            fail("the webhook token is in the page")
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"
                  and "/webhooks/" not in e["message"]]
        if errors:
            fail(f"the browser logged errors: {errors}")
    finally:
        driver.quit()
    print("the inspector page passed")


def body_text(driver):
    bodies = driver.find_elements(By.CSS_SELECTOR, "#detail-body pre.body")
    return bodies[0].text if bodies else ""


def open_delivery(driver, text):
    """Clicks the newest delivery whose row shows `text` (a stream, a delivery id); the rows
    are rebuilt when deliveries come, so a row may go stale between finding and clicking."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            for row in driver.find_elements(By.CSS_SELECTOR, "#deliveries tbody tr"):
                if text in row.text:
                    row.click()
                    return
        except StaleElementReferenceException:
            continue
        time.sleep(0.1)
    fail(f"no delivery showing {text} to click")


def screenshots(driver, directory, hook, github, stripe):
    """A few more deliveries spread over seconds (so the sparklines have a shape), then the page
    at a laptop's width, a delivery opened, and the same in a narrow window."""
    os.makedirs(directory, exist_ok=True)
    for i in range(14):
        if i % 3 == 0:
            post(f"{hook}/github", github, {"X-GitHub-Event": "push",
                                            "X-GitHub-Delivery": f"9b2c41e0-cc78-11e3-81ab-4c9367dc{i:04d}"})
        else:
            post(f"{hook}/stripe", stripe.replace(b"evt_1Itt6eB9wPxT0ovY3LLhi5bw", f"evt_1Itt6eB9wPxT0ovY3LLh{i:04d}".encode()))
        time.sleep(0.45)
    time.sleep(3.5)
    for card in driver.find_elements(By.CSS_SELECTOR, "#streams .stream"):
        if card.find_element(By.TAG_NAME, "h3").text == "github":
            card.find_element(By.TAG_NAME, "summary").click()
    time.sleep(0.3)
    driver.save_screenshot(os.path.join(directory, "inspector-laptop.png"))
    detail_shot(driver, "github", '"ref"', os.path.join(directory, "inspector-detail.png"))
    driver.set_window_size(420, 900)
    time.sleep(1.2)
    driver.save_screenshot(os.path.join(directory, "inspector-narrow.png"))
    detail_shot(driver, "stripe", '"object"', os.path.join(directory, "inspector-narrow-detail.png"))
    driver.set_window_size(1440, 1000)
    time.sleep(0.5)


def detail_shot(driver, stream, marker, path):
    """Opens the newest delivery of `stream`, waits for its body to show `marker`, takes a
    screenshot to `path` and closes the detail again."""
    open_delivery(driver, stream)
    wait_until(f"the {stream} body", lambda: marker in body_text(driver), 10)
    driver.save_screenshot(path)
    driver.find_element(By.ID, "detail-close").click()


if __name__ == "__main__":
    main()
