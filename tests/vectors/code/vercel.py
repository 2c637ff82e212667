"""Vectors for the `vercel` preset.

Vercel sends `x-vercel-signature`: the hex HMAC-SHA1 of the raw body keyed by the webhook's
secret (https://vercel.com/docs/webhooks/webhooks-api, "Securing webhooks"). No Vercel SDK on
PyPI or npm verifies webhooks, so the signature is made by that algorithm and `verify` below is
the page's Node example in Python. Payload: the deployment.created example of that page.
"""

import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import hashlib
import hmac
import json

SECRET = "vcl_wh_4Qe9Z2mX7rT1kL8pN3sV6bY0"

DEPLOYMENT_CREATED = {
    "id": "uvqC7ICXYGMFWd5Xk5sL4JeB",
    "type": "deployment.created",
    "createdAt": 1716370425455,
    "region": "sfo1",
    "payload": {
        "team": {"id": "team_kL9sDvX4n2QbT3hWmYpZc1uA"},
        "user": {"id": "8sFmR2gKc1pQx7VnB4tLw9Dz"},
        "deployment": {
            "id": "dpl_2euZBFqxN4GU2d5VjPmQ4QYf7z2u",
            "meta": {},
            "url": "my-app-git-main-acme.vercel.app",
            "name": "my-app",
            "inspectorUrl": "https://vercel.com/acme/my-app/2euZBFqxN4GU2d5VjPmQ4QYf7z2u",
        },
        "links": {
            "deployment": "https://vercel.com/acme/my-app/2euZBFqxN4GU2d5VjPmQ4QYf7z2u",
            "project": "https://vercel.com/acme/my-app",
        },
        "target": "production",
        "project": {"id": "prj_Qx8CwRmN5vB2kT7yH4jL9dZe"},
        "plan": "pro",
        "regions": ["sfo1"],
    },
}


def sign(body):
    return vectors.hmac_hex(SECRET, body, hashlib.sha1)


def verify(body, signature):
    """The docs' example: sha1 HMAC of the raw body, hex, compared with x-vercel-signature."""
    return hmac.compare_digest(signature, hmac.new(SECRET.encode(), body.encode(), hashlib.sha1).hexdigest())


def headers(signature):
    return {"Content-Type": "application/json", "x-vercel-signature": signature}


def deliveries(url):
    body = json.dumps(DEPLOYMENT_CREATED, separators=(",", ":"))
    bad = vectors.tamper(body)
    assert verify(body, sign(body)) and not verify(bad, sign(body))
    return vectors.genuine_changed_stale(
        url, headers(sign(body)), body, bad, name="genuine deployment.created",
    )


if __name__ == "__main__":
    vectors.run(config={"sender": "vercel", "signature": {"secret": SECRET}}, deliveries=deliveries)
