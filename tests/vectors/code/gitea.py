"""Vectors for the `gitea` preset.

Gitea (and Forgejo, which keeps the `X-Gitea-*` headers) sends `X-Gitea-Signature`: the hex
HMAC-SHA256 of the body keyed by the webhook's secret, with `X-Gitea-Event`,
`X-Gitea-Event-Type` and `X-Gitea-Delivery` (a UUID per hook task): Gitea's own source,
services/webhook/deliver.go (go-gitea/gitea), and https://docs.gitea.com/usage/webhooks. There
is no Gitea SDK on PyPI or npm that verifies, so the signature is made as deliver.go makes it
and checked by `verify` below. Payload: the push example of that docs page, without its
`secret` field (removed in Gitea 1.14).
"""

import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import hashlib
import hmac
import json

SECRET = "3gEsCfjlV2ugRwgpU#w1*WaW*wa4NXgGmpCfkbG3"

GITEA = {
    "id": 1,
    "login": "gitea",
    "full_name": "Gitea",
    "email": "someone@gitea.io",
    "avatar_url": "https://localhost:3000/avatars/1",
    "username": "gitea",
}
PUSH = {
    "ref": "refs/heads/develop",
    "before": "28e1879d029cb852e4844d9c718537df08844e03",
    "after": "bffeb74224043ba2feb48d137756c8a9331c449a",
    "compare_url": "http://localhost:3000/gitea/webhooks/compare/28e1879d029cb852e4844d9c718537df08844e03...bffeb74224043ba2feb48d137756c8a9331c449a",
    "commits": [
        {
            "id": "bffeb74224043ba2feb48d137756c8a9331c449a",
            "message": "Webhooks Yay!",
            "url": "http://localhost:3000/gitea/webhooks/commit/bffeb74224043ba2feb48d137756c8a9331c449a",
            "author": {"name": "Gitea", "email": "someone@gitea.io", "username": "gitea"},
            "committer": {"name": "Gitea", "email": "someone@gitea.io", "username": "gitea"},
            "timestamp": "2017-03-13T13:52:11-04:00",
        }
    ],
    "repository": {
        "id": 140,
        "owner": GITEA,
        "name": "webhooks",
        "full_name": "gitea/webhooks",
        "description": "",
        "private": False,
        "fork": False,
        "html_url": "http://localhost:3000/gitea/webhooks",
        "ssh_url": "ssh://gitea@localhost:2222/gitea/webhooks.git",
        "clone_url": "http://localhost:3000/gitea/webhooks.git",
        "website": "",
        "stars_count": 0,
        "forks_count": 1,
        "watchers_count": 1,
        "open_issues_count": 7,
        "default_branch": "master",
        "created_at": "2017-02-26T04:29:06-05:00",
        "updated_at": "2017-03-13T13:51:58-04:00",
    },
    "pusher": GITEA,
    "sender": GITEA,
}


def sign(body):
    """deliver.go: hex.EncodeToString(hmac.New(sha256.New, secret) over the payload)."""
    return vectors.hmac_hex(SECRET, body)


def verify(body, signature):
    expected = hmac.new(SECRET.encode(), body.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(signature, expected)


def headers(delivery, signature):
    """Every header deliver.go sets (GitHub- and Gogs-compatible ones too)."""
    return {
        "Content-Type": "application/json",
        "X-Gitea-Delivery": delivery,
        "X-Gitea-Event": "push",
        "X-Gitea-Event-Type": "push",
        "X-Gitea-Signature": signature,
        "X-Gogs-Delivery": delivery,
        "X-Gogs-Event": "push",
        "X-Gogs-Event-Type": "push",
        "X-Gogs-Signature": signature,
        "X-Hub-Signature-256": "sha256=" + signature,
        "X-GitHub-Delivery": delivery,
        "X-GitHub-Event": "push",
        "X-GitHub-Event-Type": "push",
    }


def deliveries(url):
    body = json.dumps(PUSH, separators=(",", ":"))
    bad = vectors.tamper(body)
    assert verify(body, sign(body)) and not verify(bad, sign(body))
    genuine = headers("5e0d5a0b-5b62-4e58-9d33-1c0ae2b0f3d1", sign(body))
    return [
        vectors.delivery("genuine push", url, genuine, body),
        vectors.delivery(
            "same delivery again (same X-Gitea-Delivery)", url, genuine, body, records=0,
        ),
        vectors.refused(
            "one byte changed", url, headers("7a1c2e3f-4b5d-4c6e-8f70-91a2b3c4d5e6", sign(body)),
            bad,
        ),
    ]


if __name__ == "__main__":
    vectors.run(config={"sender": "gitea", "signature": {"secret": SECRET}}, deliveries=deliveries)
