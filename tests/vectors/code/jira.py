"""Vectors for the `jira` preset.

Jira Cloud signs admin-registered webhooks that have a secret the WebSub way: `X-Hub-Signature:
sha256=<hex HMAC-SHA256 of the body>`, and sends `X-Atlassian-Webhook-Identifier` (unique per
delivery, the same on retries) and `X-Atlassian-Webhook-Retry`
(https://developer.atlassian.com/cloud/jira/platform/webhooks/, "Secure admin webhooks" and
"Retry policy"). Atlassian publishes no SDK on PyPI or npm that verifies it, so the signature
is made by that algorithm and checked by `verify` below (WebSub's `method=signature`). Payload:
the jira:issue_created example of that page.
"""

import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import json

SECRET = "AtlWhk8n4Q2v7LxR9sZ1pT6m"

ISSUE_CREATED = {
    "timestamp": 1525698237764,
    "webhookEvent": "jira:issue_created",
    "issue_event_type_name": "issue_created",
    "user": {
        "self": "https://your-domain.atlassian.net/rest/api/2/user?accountId=5b10a2844c20165700ede21g",
        "accountId": "5b10a2844c20165700ede21g",
        "displayName": "Mia Krystof",
        "active": True,
        "timeZone": "Australia/Sydney",
    },
    "issue": {
        "id": "10001",
        "self": "https://your-domain.atlassian.net/rest/api/2/issue/10001",
        "key": "TEST-2",
        "fields": {
            "summary": "Webhook test issue",
            "issuetype": {"id": "10002", "name": "Task", "subtask": False},
            "project": {"id": "10000", "key": "TEST", "name": "Test project"},
            "status": {"id": "10000", "name": "To Do"},
            "priority": {"id": "3", "name": "Medium"},
            "created": "2018-05-07T13:03:57.625+1000",
            "updated": "2018-05-07T13:03:57.625+1000",
        },
    },
}


def sign(body):
    return "sha256=" + vectors.hmac_hex(SECRET, body)


def verify(body, header):
    """WebSub: `method=signature`, the method naming the hash."""
    return vectors.hash_prefixed_valid(SECRET, body, header)


def headers(identifier, signature):
    return {
        "Content-Type": "application/json; charset=UTF-8",
        "User-Agent": "Atlassian Webhook HTTP Client",
        "X-Atlassian-Webhook-Identifier": identifier,
        "X-Atlassian-Webhook-Flow": "Primary",
        "X-Hub-Signature": signature,
    }


def deliveries(url):
    body = json.dumps(ISSUE_CREATED, separators=(",", ":"))
    bad = vectors.tamper(body)
    assert verify(body, sign(body)) and not verify(bad, sign(body))
    genuine = headers("1-3a6e5a3e-ffa0-4a2c-9d52-5a4c61d0a4c1", sign(body))
    retry = dict(genuine, **{"X-Atlassian-Webhook-Retry": "1"})
    return [
        vectors.delivery("genuine jira:issue_created", url, genuine, body),
        vectors.delivery(
            "retry (same X-Atlassian-Webhook-Identifier)", url, retry, body, records=0
        ),
        vectors.refused(
            "one byte changed", url, headers("1-8b2d7c4f-0e1a-4b3c-9d5e-6f7a8b9c0d1e", sign(body)),
            bad,
        ),
    ]


if __name__ == "__main__":
    vectors.run(config={"sender": "jira", "signature": {"secret": SECRET}}, deliveries=deliveries)
