"""Vectors for the `github` preset.

Signed and checked with gidgethub 6.0.0 (PyPI): `gidgethub.sansio.validate_event`, which checks
`X-Hub-Signature-256` as GitHub documents it
(https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries), on JSON and
form bodies. The secret is that page's test secret, and the page's test vector is checked
first; the vectors were also checked once with @octokit/webhooks-methods 6.0.0 (npm).
Payloads: the push and ping examples of octokit/webhooks
(payload-examples/api.github.com/push/payload.json, ping/payload.json), trimmed of URL fields.
"""

import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import json
from urllib.parse import urlencode

from gidgethub import ValidationFailure
from gidgethub.sansio import validate_event

SECRET = "It's a Secret to Everybody"

# GitHub's documented test vector.
validate_event(
    b"Hello, World!",
    signature="sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
    secret=SECRET,
)

OWNER = {
    "name": "Codertocat",
    "email": "21031067+Codertocat@users.noreply.github.com",
    "login": "Codertocat",
    "id": 21031067,
    "node_id": "MDQ6VXNlcjIxMDMxMDY3",
    "avatar_url": "https://avatars1.githubusercontent.com/u/21031067?v=4",
    "type": "User",
    "site_admin": False,
}
REPOSITORY = {
    "id": 186853002,
    "node_id": "MDEwOlJlcG9zaXRvcnkxODY4NTMwMDI=",
    "name": "Hello-World",
    "full_name": "Codertocat/Hello-World",
    "private": False,
    "owner": OWNER,
    "html_url": "https://github.com/Codertocat/Hello-World",
    "description": None,
    "fork": False,
    "created_at": 1557933565,
    "updated_at": "2019-05-15T15:20:41Z",
    "pushed_at": 1557933657,
    "default_branch": "master",
    "visibility": "public",
}
PUSH = {
    "ref": "refs/tags/simple-tag",
    "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
    "after": "0000000000000000000000000000000000000000",
    "created": False,
    "deleted": True,
    "forced": False,
    "base_ref": None,
    "compare": "https://github.com/Codertocat/Hello-World/compare/6113728f27ae...000000000000",
    "commits": [],
    "head_commit": None,
    "repository": REPOSITORY,
    "pusher": {"name": "Codertocat", "email": "21031067+Codertocat@users.noreply.github.com"},
    "sender": {k: v for k, v in OWNER.items() if k not in ("name", "email")},
}
PING = {
    "zen": "Non-blocking is better than blocking.",
    "hook_id": 30,
    "hook": {
        "type": "Repository",
        "id": 30,
        "name": "web",
        "active": True,
        "events": ["push", "pull_request"],
        "config": {"content_type": "json", "insecure_ssl": "0", "url": "https://example.com/webhook"},
        "updated_at": "2019-05-15T15:20:49Z",
        "created_at": "2019-05-15T15:20:49Z",
    },
    "repository": REPOSITORY,
    "sender": {k: v for k, v in OWNER.items() if k not in ("name", "email")},
}


def body_of(payload):
    return json.dumps(payload, separators=(",", ":"))


def sign(body):
    return "sha256=" + vectors.hmac_hex(SECRET, body)


def refused(body, signature):
    return vectors.raises(
        ValidationFailure, validate_event, body.encode(), signature=signature, secret=SECRET
    )


def headers(event, delivery, signature, content_type="application/json"):
    h = {
        "Content-Type": content_type,
        "User-Agent": "GitHub-Hookshot/a7f8d49",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-GitHub-Hook-ID": "292430182",
        "X-GitHub-Hook-Installation-Target-ID": "186853002",
        "X-GitHub-Hook-Installation-Target-Type": "repository",
    }
    if signature is not None:
        h["X-Hub-Signature-256"] = signature
    return h


def deliveries(url):
    push = body_of(PUSH)
    ping = body_of(PING)
    bad = vectors.tamper(push)
    # A webhook whose content type is application/x-www-form-urlencoded: the JSON in `payload`,
    # the signature over the form body as sent.
    form = urlencode({"payload": push})
    validate_event(form.encode(), signature=sign(form), secret=SECRET)
    validate_event(push.encode(), signature=sign(push), secret=SECRET)
    validate_event(ping.encode(), signature=sign(ping), secret=SECRET)
    assert refused(bad, sign(push))
    genuine = headers("push", "72d3162e-cc78-11e3-81ab-4c9367dc0958", sign(push))
    return [
        vectors.delivery("genuine push", url, genuine, push),
        vectors.delivery(
            "redelivery of the push (same X-GitHub-Delivery)", url, genuine, push, records=0,
        ),
        vectors.delivery(
            "genuine ping", url,
            headers("ping", "a8b1e4f0-77c1-11e9-8a2f-2d9ed0d4e4a0", sign(ping)), ping,
        ),
        vectors.delivery(
            "genuine push, form content type", url,
            headers("push", "c4d5e6f7-cc78-11e3-9a0b-1c2d3e4f5a6b", sign(form),
                    "application/x-www-form-urlencoded"),
            form,
        ),
        vectors.refused(
            "one byte changed", url,
            headers("push", "9d6c1b60-cc78-11e3-9d3b-6f0b5d1b3c11", sign(push)), bad,
        ),
        vectors.refused(
            "no signature", url, headers("push", "b3c0e7a2-cc78-11e3-8f0e-1a2b3c4d5e6f", None),
            push, error="missing signature",
        ),
    ]


if __name__ == "__main__":
    vectors.run(config={"sender": "github", "signature": {"secret": SECRET}}, deliveries=deliveries)
