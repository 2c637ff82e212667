"""Vectors for the `circleci` preset.

CircleCI sends `circleci-signature: v1=<hex HMAC-SHA256 of the body keyed by the webhook's
secret>` (comma-separated `version=signature` pairs, only `v1` so far) and `circleci-event-type`
(https://circleci.com/docs/outbound-webhooks/, "Validate webhooks"); each event's `id` is
documented for deduplication (https://circleci.com/docs/webhooks-reference/). No CircleCI SDK
on PyPI or npm verifies webhooks: `verify_signature` below is the docs' Python example. Payload:
the workflow-completed sample of the reference page.
"""

import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import hmac
import json

SECRET = "cci-wh-secret-7d4e1f9a2b6c"

WORKFLOW_COMPLETED = {
    "type": "workflow-completed",
    "id": "3888f21b-eaa7-38e3-8f3d-75a63bba8895",
    "happened_at": "2021-09-01T22:49:34.317Z",
    "webhook": {"id": "cf8c4fdd-0587-4da1-b4ca-4846e9640af9", "name": "Sample Webhook"},
    "project": {
        "id": "84996744-a854-4f5e-aea3-04e2851dc1d2",
        "name": "webhook-service",
        "slug": "github/circleci/webhook-service",
    },
    "organization": {"id": "f22b6566-597d-46d5-ba74-99ef5bb3d85c", "name": "circleci"},
    "workflow": {
        "id": "fda08377-fe7e-46b1-8992-3a7aaecac9c3",
        "name": "build-test-deploy",
        "created_at": "2021-09-01T22:49:03.616Z",
        "stopped_at": "2021-09-01T22:49:34.170Z",
        "url": "https://app.circleci.com/pipelines/github/circleci/webhook-service/130/workflows/fda08377-fe7e-46b1-8992-3a7aaecac9c3",
        "status": "success",
    },
    "pipeline": {
        "id": "1285fe1d-d3a6-44fc-8886-8979558254c4",
        "number": 130,
        "created_at": "2021-09-01T22:49:03.544Z",
        "trigger": {"type": "webhook"},
        "vcs": {
            "provider_name": "github",
            "origin_repository_url": "https://github.com/circleci/webhook-service",
            "target_repository_url": "https://github.com/circleci/webhook-service",
            "revision": "1dc6aa69429bff4806ad6afe58d3d8f57e25973e",
            "commit": {
                "subject": "Description of change",
                "body": "More details about the change",
                "author": {"name": "Author Name", "email": "author.email@example.com"},
                "authored_at": "2021-09-01T22:48:53Z",
                "committer": {"name": "Committer Name", "email": "committer.email@example.com"},
                "committed_at": "2021-09-01T22:48:53Z",
            },
            "branch": "main",
        },
    },
}


def sign(body):
    return "v1=" + vectors.hmac_hex(SECRET, body)


def verify_signature(secret, headers, body):
    """The docs' example."""
    signature_from_header = {
        k: v for k, v in [pair.split("=") for pair in headers["circleci-signature"].split(",")]
    }["v1"]
    valid_signature = hmac.new(bytes(secret, "utf-8"), bytes(body, "utf-8"), "sha256").hexdigest()
    return hmac.compare_digest(valid_signature, signature_from_header)


def headers(signature):
    return {
        "Content-Type": "application/json",
        "User-Agent": "CircleCI-Webhook/1.0",
        "circleci-event-type": "workflow-completed",
        "circleci-signature": signature,
    }


def deliveries(url):
    body = json.dumps(WORKFLOW_COMPLETED, separators=(",", ":"))
    bad = vectors.tamper(body)
    assert verify_signature(SECRET, headers(sign(body)), body)
    assert not verify_signature(SECRET, headers(sign(body)), bad)
    return vectors.genuine_changed_stale(
        url, headers(sign(body)), body, bad, name="genuine workflow-completed",
    )


if __name__ == "__main__":
    vectors.run(
        config={"sender": "circleci", "signature": {"secret": SECRET}},
        deliveries=deliveries,
    )
