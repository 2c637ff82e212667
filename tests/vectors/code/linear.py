"""Vectors for the `linear` preset.

Linear sends `Linear-Signature`: the hex HMAC-SHA256 of the body keyed by the webhook's signing
secret, with `Linear-Event` (the entity type) and `Linear-Delivery` (a UUID per delivery)
(https://linear.app/developers/webhooks, "Securing webhooks"). Linear's SDK is on npm only:
`verify` below is `LinearWebhookClient.verify` of @linear/sdk 98.0.0 (@linear/sdk/webhooks)
in Python, and vectors made by this script were checked once with that npm function. The SDK
also refuses a body whose `webhookTimestamp` (milliseconds, inside the signed body) is more
than 60 s off; the preset checks it the same way (`timestamp_field`, `tolerance_seconds` 60), and
a delivery signed 10 minutes ago is refused by both. Payload: the Issue create example of that
page.
"""

import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import hashlib
import hmac
import json
import time

SECRET = "lin_wh_8f3c2a1b9d7e6f5a4c3b2a1908f7e6d5"

ISSUE_CREATE = {
    "action": "create",
    "type": "Issue",
    "createdAt": "2020-01-23T12:53:18.084Z",
    "data": {
        "id": "2174add1-f7c8-44e3-bbf3-2d60b5ea8bc9",
        "createdAt": "2020-01-23T12:53:18.084Z",
        "updatedAt": "2020-01-23T12:53:18.084Z",
        "number": 1778,
        "title": "Foo bar",
        "priority": 0,
        "boardOrder": 0,
        "sortOrder": -2.33,
        "teamId": "72b2a2dc-6f4f-4423-9d34-24b5bd10634a",
        "previousIdentifiers": [],
        "creatorId": "1f53d6ca-5b0a-45ba-8e1b-3c5d4c9d2e7f",
        "stateId": "8f3e4a6b-1c2d-4e5f-9a0b-7c6d5e4f3a2b",
        "priorityLabel": "No priority",
        "subscriberIds": ["1f53d6ca-5b0a-45ba-8e1b-3c5d4c9d2e7f"],
        "labelIds": [],
    },
    "url": "https://linear.app/issue/LIN-1778/foo-bar",
    "webhookId": "000042e3-d123-4980-b49f-8e140eef9329",
    "organizationId": "b5e4c3a2-9f8e-4d7c-6b5a-4e3d2c1b0a9f",
}


def sign(body):
    return vectors.hmac_hex(SECRET, body)


def verify(body, signature):
    """@linear/sdk LinearWebhookClient.verify: hex HMAC-SHA256 of the raw body, then the signed
    body's webhookTimestamp within 60 s of now."""
    expected = hmac.new(SECRET.encode(), body.encode(), hashlib.sha256).hexdigest().encode()
    if len(expected) != len(signature.encode()) or not hmac.compare_digest(expected, signature.encode()):
        return False
    timestamp = json.loads(body).get("webhookTimestamp")
    return isinstance(timestamp, int) and abs(time.time() * 1000 - timestamp) <= 60_000


def headers(delivery, signature):
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "Linear-Webhook",
        "Linear-Delivery": delivery,
        "Linear-Event": "Issue",
        "Linear-Signature": signature,
    }


def deliveries(url):
    body = json.dumps(dict(ISSUE_CREATE, webhookTimestamp=int(time.time() * 1000)), separators=(",", ":"))
    bad = vectors.tamper(body)
    stale = json.dumps(dict(ISSUE_CREATE, webhookTimestamp=int(time.time() * 1000) - 600_000),
                       separators=(",", ":"))
    assert verify(body, sign(body)) and not verify(bad, sign(body))
    assert not verify(stale, sign(stale)), "the SDK refuses a delivery sent 10 minutes ago"
    genuine = headers("234d1a4e-b617-4388-90fe-adc3633d6b72", sign(body))
    return [
        vectors.delivery("genuine Issue create", url, genuine, body),
        vectors.delivery(
            "same delivery again (same Linear-Delivery)", url, genuine, body, records=0,
        ),
        vectors.refused(
            "one byte changed", url, headers("5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f", sign(body)),
            bad,
        ),
        vectors.refused(
            "signed 10 minutes ago (webhookTimestamp)", url,
            headers("6d7e8f9a-0b1c-4d2e-8f3a-4b5c6d7e8f9a", sign(stale)), stale,
            error="expired signature",
        ),
    ]


if __name__ == "__main__":
    vectors.run(config={"sender": "linear", "signature": {"secret": SECRET}}, deliveries=deliveries)
