"""Vectors for the `notion` preset.

Notion first POSTs `{"verification_token": "secret_..."}` (unsigned) to a new subscription's
URL; that token then signs every event: `X-Notion-Signature: sha256=<hex HMAC-SHA256 of the
body keyed by the token>` (https://developers.notion.com/reference/webhooks, "Step 2: Verifying
the subscription" and "Step 3: Validating event payloads"). Notion's SDKs (notion-client on
PyPI, @notionhq/client on npm) do not verify webhooks: `is_trusted_payload` below is that page's
JavaScript example in Python. Payloads: that page's verification request and the page.created
example of https://developers.notion.com/reference/webhooks-events-delivery.
"""

import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import hashlib
import hmac
import json

TOKEN = "secret_tMrlL1qK5vuQAh1b6cZGhFChZTSYJlce98V0pYn7yBl"

PAGE_CREATED = {
    "id": "367cba44-b6f3-4c92-81e7-6a2e9659efd4",
    "timestamp": "2024-12-05T23:55:34.285Z",
    "workspace_id": "13950b26-c203-4f3b-b97d-93ec06319565",
    "workspace_name": "Quantify Labs",
    "subscription_id": "29d75c0d-5546-4414-8459-7b7a92f1fc4b",
    "integration_id": "0ef2e755-4912-8096-91c1-00376a88a5ca",
    "type": "page.created",
    "authors": [{"id": "c7c11cca-1d73-471d-9b6e-bdef51470190", "type": "person"}],
    "accessible_by": [
        {"id": "556a1abf-4f08-40c6-878a-75890d2a88ba", "type": "person"},
        {"id": "1edc05f6-2702-81b5-8408-00279347f034", "type": "bot"},
    ],
    "attempt_number": 1,
    "entity": {"id": "153104cd-477e-809d-8dc4-ff2d96ae3090", "type": "page"},
    "data": {"parent": {"id": "13950b26-c203-4f3b-b97d-93ec06319565", "type": "space"}},
}


def sign(body):
    return "sha256=" + vectors.hmac_hex(TOKEN, body)


def is_trusted_payload(body, header):
    """The docs' example: `sha256=` + hex HMAC-SHA256 of the body, compared in constant time."""
    calculated = "sha256=" + hmac.new(TOKEN.encode(), body.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(calculated.encode(), header.encode())


def headers(signature):
    h = {"Content-Type": "application/json", "User-Agent": "notion-api"}
    if signature is not None:
        h["X-Notion-Signature"] = signature
    return h


def deliveries(url):
    verification = json.dumps({"verification_token": TOKEN})
    event = json.dumps(PAGE_CREATED, separators=(",", ":"))
    bad = vectors.tamper(event)
    assert is_trusted_payload(event, sign(event)) and not is_trusted_payload(bad, sign(event))
    return [
        vectors.delivery(
            "verification request (handshake)", url, headers(None), verification, records=0,
        ),
        *vectors.genuine_changed_stale(
            url, headers(sign(event)), event, bad, name="genuine page.created",
        ),
    ]


if __name__ == "__main__":
    vectors.run(config={"sender": "notion", "signature": {"secret": TOKEN}}, deliveries=deliveries)
