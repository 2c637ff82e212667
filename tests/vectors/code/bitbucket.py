"""Vectors for the `bitbucket` preset.

Bitbucket Cloud signs the raw body with HMAC-SHA256 keyed by the webhook's secret and sends
`X-Hub-Signature: sha256=<hex>`
(https://support.atlassian.com/bitbucket-cloud/docs/manage-webhooks/, "Secure webhooks"); headers as https://support.atlassian.com/bitbucket-cloud/docs/event-payloads/
lists them. Atlassian publishes no SDK on PyPI or npm that verifies it, so the signature is made
by that documented algorithm and checked by `verify` below, written from the same page. Payload:
the repo:push example of the event-payloads page (as kept in go-playground/webhooks,
testdata/bitbucket/repo-push.json), trimmed of its links.
"""

import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import json

SECRET = "bb-whsec-2f1e8d7c6b5a4938"

EMMA = {
    "username": "emmap1",
    "display_name": "Emma",
    "uuid": "{a54f16da-24e9-4d7f-a3a7-b1ba2cd98aa3}",
}
PUSH = {
    "actor": EMMA,
    "repository": {
        "uuid": "{673a6070-3421-46c9-9d48-90745f7bfe8e}",
        "full_name": "team_name/repo_name",
        "name": "repo_name",
        "scm": "git",
        "is_private": True,
    },
    "push": {
        "changes": [
            {
                "new": {
                    "type": "branch",
                    "name": "name-of-branch",
                    "target": {
                        "type": "commit",
                        "hash": "709d658dc5b6d6afcd46049c2f332ee3f515a67d",
                        "author": EMMA,
                        "message": "new commit message\n",
                        "date": "2015-06-09T03:34:49+00:00",
                        "parents": [{"type": "commit", "hash": "1e65c05c1d5171631d92438a13901ca7dae9618c"}],
                    },
                },
                "old": {
                    "type": "branch",
                    "name": "name-of-branch",
                    "target": {
                        "type": "commit",
                        "hash": "1e65c05c1d5171631d92438a13901ca7dae9618c",
                        "author": EMMA,
                        "message": "old commit message\n",
                        "date": "2015-06-08T21:34:56+00:00",
                        "parents": [{"type": "commit", "hash": "e0d0c2041e09746be5ce4b55067d5a8e3098c843"}],
                    },
                },
                "created": False,
                "forced": False,
                "closed": False,
                "commits": [
                    {
                        "hash": "03f4a7270240708834de475bcf21532d6134777e",
                        "type": "commit",
                        "message": "commit message\n",
                        "author": EMMA,
                    }
                ],
                "truncated": False,
            }
        ]
    },
}


def sign(body):
    return "sha256=" + vectors.hmac_hex(SECRET, body)


def verify(body, header):
    """As the "Secure webhooks" page says: HMAC-SHA256 of the body, `sha256=` then hex."""
    return vectors.hash_prefixed_valid(SECRET, body, header)


def headers(request_uuid, signature):
    return {
        "Content-Type": "application/json",
        "User-Agent": "Bitbucket-Webhooks/2.0",
        "X-Event-Key": "repo:push",
        "X-Hook-UUID": "cb3ea7e4-57ad-4ebc-a1b6-9e2a1a4d8b2c",
        "X-Request-UUID": request_uuid,
        "X-Attempt-Number": "1",
        "X-Hub-Signature": signature,
    }


def deliveries(url):
    body = json.dumps(PUSH, separators=(",", ":"))
    bad = vectors.tamper(body)
    assert verify(body, sign(body)) and not verify(bad, sign(body))
    genuine = headers("9f0e4b1a-7c3d-4e2f-8a5b-6c7d8e9f0a1b", sign(body))
    return [
        vectors.delivery("genuine repo:push", url, genuine, body),
        vectors.delivery("same request again (same X-Request-UUID)", url, genuine, body, records=0),
        vectors.refused(
            "one byte changed", url, headers("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", sign(body)),
            bad,
        ),
    ]


if __name__ == "__main__":
    vectors.run(
        config={"sender": "bitbucket", "signature": {"secret": SECRET}},
        deliveries=deliveries,
    )
