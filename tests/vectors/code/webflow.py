"""Vectors for the `webflow` preset.

Webflow sends `x-webflow-timestamp` (Unix milliseconds) and `x-webflow-signature`: the hex
HMAC-SHA256 of `<timestamp>:<body>` keyed by the webhook's secret, and asks receivers to refuse
timestamps more than 5 minutes old
(https://developers.webflow.com/data/docs/working-with-webhooks, "Validating request
signatures"). Webflow's SDK that verifies is on npm only (webflow-api 3.3.4,
`client.webhooks.verifySignature`, which checks the signature but not the age): `verify` below
is that function plus the documented 5-minute check, in Python, and vectors made by this script
were checked once with the npm function. Payload: the form_submission example of
https://developers.webflow.com/data/reference/webhooks/events/form-submission.
"""

import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import hashlib
import hmac
import json
import time

SECRET = "wf_whsec_3c1a9e7f5d2b4a6c8e0f"

FORM_SUBMISSION = {
    "triggerType": "form_submission",
    "payload": {
        "name": "Contact Us",
        "siteId": "65427cf400e02b306eaa049c",
        "data": {
            "First Name": "Zaphod",
            "Last Name": "Beeblebrox",
            "email": "zaphod@heartofgold.ai",
            "Phone Number": 15550000000,
        },
        "schema": [
            {"fieldName": "First Name", "fieldType": "FormTextInput", "fieldElementId": "285042f7-d554-dc7f-102c-aa10d6a2d2c4"},
            {"fieldName": "Last Name", "fieldType": "FormTextInput", "fieldElementId": "285042f7-d554-dc7f-102c-aa10d6a2d2c5"},
            {"fieldName": "email", "fieldType": "FormTextInput", "fieldElementId": "285042f7-d554-dc7f-102c-aa10d6a2d2c6"},
            {"fieldName": "Phone Number", "fieldType": "FormTextInput", "fieldElementId": "285042f7-d554-dc7f-102c-aa10d6a2d2c7"},
        ],
        "submittedAt": "2022-09-14T12:35:16.117Z",
        "id": "6321ca84df3949bfc6752327",
        "formId": "65429eadebe8a9f3a30f62d0",
        "formElementId": "4e038d2c-6a1e-4953-7be9-a59a2b453177",
    },
}


def sign(timestamp, body):
    return vectors.hmac_hex(SECRET, f"{timestamp}:{body}")


def verify(headers, body):
    """webflow-api verifySignature, then the documented 5-minute window."""
    message = f"{headers['x-webflow-timestamp']}:{body}"
    generated = hmac.new(SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()
    fresh = abs(time.time() * 1000 - int(headers["x-webflow-timestamp"])) <= 300_000
    return hmac.compare_digest(headers["x-webflow-signature"], generated) and fresh


def headers(timestamp, body):
    return {
        "Content-Type": "application/json",
        "x-webflow-timestamp": str(timestamp),
        "x-webflow-signature": sign(timestamp, body),
    }


def deliveries(url):
    body = json.dumps(FORM_SUBMISSION, separators=(",", ":"))
    now = int(time.time() * 1000)
    stale = now - 10 * 60 * 1000
    bad = vectors.tamper(body)
    assert verify(headers(now, body), body)
    assert not verify(headers(now, body), bad) and not verify(headers(stale, body), body)
    return vectors.genuine_changed_stale(
        url, headers(now, body), body, bad, headers(stale, body), name="genuine form_submission",
    )


if __name__ == "__main__":
    vectors.run(
        config={"sender": "webflow", "signature": {"secret": SECRET}},
        deliveries=deliveries,
    )
