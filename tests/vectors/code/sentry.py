"""Vectors for the `sentry` preset.

Sentry's integration platform signs each webhook with `Sentry-Hook-Signature`: the hex
HMAC-SHA256 of the body (`json.dumps` of the event) keyed by the integration's client secret,
and sends `Sentry-Hook-Resource`, `Sentry-Hook-Timestamp` (not signed) and `Request-ID` (a new
UUID per request): https://docs.sentry.io/organization/integrations/integration-platform/webhooks/
and Sentry's source, src/sentry/sentry_apps/api/serializers/app_platform_event.py
(`sentry_headers`) and models/sentry_app.py (`build_signature`), mirrored below. No Sentry SDK
on PyPI or npm verifies webhooks, so `verify` is the docs' Python example. Payload: the
issue.created example of the docs' "Issues" webhook page.
"""

import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import hashlib
import hmac
import json

SECRET = "9f3c0e8d5a7b41e2b6c4d0f1a2e3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5"

ISSUE_CREATED = {
    "action": "created",
    "installation": {"uuid": "a8e5d37a-696c-4c54-adb5-b3f28d64c7de"},
    "data": {
        "issue": {
            "id": "1170820242",
            "shortId": "FRONTEND-1",
            "title": "Error: Something broke",
            "culprit": "?(runner)",
            "level": "error",
            "status": "unresolved",
            "platform": "javascript",
            "project": {"id": "5048377", "name": "frontend", "slug": "frontend", "platform": "javascript"},
            "type": "error",
            "metadata": {"type": "Error", "value": "Something broke", "filename": "/runner"},
            "firstSeen": "2019-08-19T20:58:37.391000Z",
            "lastSeen": "2019-08-19T20:58:37.391000Z",
            "count": "1",
            "userCount": 0,
            "web_url": "https://sentry.io/organizations/acme/issues/1170820242/",
        }
    },
    "actor": {"type": "application", "id": "sentry", "name": "Sentry"},
}


def build_signature(body):
    """models/sentry_app.py build_signature."""
    return hmac.new(key=SECRET.encode("utf-8"), msg=body.encode("utf-8"), digestmod=hashlib.sha256).hexdigest()


def verify(body, signature):
    """The docs' example: hex HMAC-SHA256 of the body with the client secret."""
    digest = hmac.new(key=SECRET.encode("utf-8"), msg=body.encode("utf-8"), digestmod=hashlib.sha256).hexdigest()
    return hmac.compare_digest(digest, signature)


def headers(request_id, signature):
    return {
        "Content-Type": "application/json",
        "Request-ID": request_id,
        "Sentry-Hook-Resource": "issue",
        "Sentry-Hook-Timestamp": "1566248317",
        "Sentry-Hook-Signature": signature,
    }


def deliveries(url):
    body = json.dumps(ISSUE_CREATED)
    bad = vectors.tamper(body)
    assert verify(body, build_signature(body)) and not verify(bad, build_signature(body))
    return [
        vectors.delivery(
            "genuine issue.created", url,
            headers("bd3c7b3a0d6c4c6f9a3b0e0b0b2d7a41", build_signature(body)), body,
        ),
        vectors.refused(
            "one byte changed", url,
            headers("0f4e5d6c7b8a49f8a7b6c5d4e3f2a1b0", build_signature(body)), bad,
        ),
    ]


if __name__ == "__main__":
    vectors.run(config={"sender": "sentry", "signature": {"secret": SECRET}}, deliveries=deliveries)
