"""Vectors for the `gitlab` preset.

GitLab does not sign: it sends the webhook's secret token in `X-Gitlab-Token`, to be compared
with the configured one (https://docs.gitlab.com/user/project/integrations/webhooks/, "Create a
webhook" and "Delivery headers"); no GitLab SDK on PyPI or npm verifies it, so the check below is
that comparison. Headers as that page lists them (`Idempotency-Key` since GitLab 17.4). Payload:
the push event example of doc/user/project/integrations/webhook_events.md (gitlabhq/gitlabhq),
trimmed of its second commit.
"""

import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import hmac
import json

SECRET = "glwt-6e5c9a4f1d2b8e7a"

PUSH = {
    "object_kind": "push",
    "event_name": "push",
    "before": "95790bf891e76fee5e1747ab589903a6a1f80f22",
    "after": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
    "ref": "refs/heads/master",
    "checkout_sha": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
    "user_id": 4,
    "user_name": "John Smith",
    "user_username": "jsmith",
    "user_email": "john@example.com",
    "project_id": 15,
    "project": {
        "id": 15,
        "name": "Diaspora",
        "description": "",
        "web_url": "http://example.com/mike/diaspora",
        "avatar_url": None,
        "git_ssh_url": "git@example.com:mike/diaspora.git",
        "git_http_url": "http://example.com/mike/diaspora.git",
        "namespace": "Mike",
        "visibility_level": 0,
        "path_with_namespace": "mike/diaspora",
        "default_branch": "master",
    },
    "commits": [
        {
            "id": "b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327",
            "message": "Update Catalan translation to e38cb41.",
            "timestamp": "2011-12-12T14:27:31+02:00",
            "url": "http://example.com/mike/diaspora/commit/b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327",
            "author": {"name": "Jordi Mallach", "email": "jordi@softcatala.org"},
            "added": ["CHANGELOG"],
            "modified": ["app/controller/application.rb"],
            "removed": [],
        }
    ],
    "total_commits_count": 4,
}


def accepted(token):
    """GitLab's documented check: the header equals the secret token."""
    return token is not None and hmac.compare_digest(token.encode(), SECRET.encode())


def headers(key, token):
    h = {
        "Content-Type": "application/json",
        "User-Agent": "GitLab/17.6.0",
        "X-Gitlab-Event": "Push Hook",
        "X-Gitlab-Instance": "https://gitlab.example.com",
        "X-Gitlab-Webhook-UUID": "02affd2d-2cba-4033-917d-ec22d5dc4b38",
        "X-Gitlab-Event-UUID": "13792a34-cac6-4fda-95a8-c58e00a3954e",
        "Idempotency-Key": key,
    }
    if token is not None:
        h["X-Gitlab-Token"] = token
    return h


def deliveries(url):
    body = json.dumps(PUSH, separators=(",", ":"))
    wrong = SECRET[:-1] + "b"
    assert accepted(SECRET) and not accepted(wrong) and not accepted(None)
    genuine = headers("f5e5f430-f57b-4e6e-9fac-d9128cd7232f", SECRET)
    return [
        vectors.delivery("genuine push", url, genuine, body),
        vectors.delivery("retry (same Idempotency-Key)", url, genuine, body, records=0),
        vectors.refused(
            "wrong token", url, headers("0c7d9b1e-2f3a-4b5c-8d6e-7f8091a2b3c4", wrong), body,
        ),
        vectors.refused(
            "no token", url, headers("1d8e0c2f-3a4b-4c5d-9e7f-8091a2b3c4d5", None), body,
            error="missing signature",
        ),
    ]


if __name__ == "__main__":
    vectors.run(config={"sender": "gitlab", "signature": {"secret": SECRET}}, deliveries=deliveries)
