# Vectors for the `asana` preset. Asana's handshake (developers.asana.com/reference/createwebhook)
# is a POST with X-Hook-Secret and no body, answered 200 with the same header; that secret then
# signs every delivery: X-Hook-Signature = hex HMAC-SHA256 of the body
# (developers.asana.com/docs/webhooks-guide, "Security"). The asana SDK (PyPI) has no webhook
# verifier, so signatures are computed by that algorithm. Secret: the X-Hook-Secret example of
# the createwebhook reference; payload: the event example of the webhooks guide.
import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import json

SECRET = "b537207f20cbfa02357cf448134da559e8bd39d61597dcd5631b8012eae53e81"
BODY = json.dumps(
    {
        "events": [
            {
                "user": {"gid": "1516", "resource_type": "user"},
                "created_at": "2018-03-01T14:49:06.000Z",
                "action": "changed",
                "resource": {
                    "gid": "1337",
                    "resource_type": "task",
                    "resource_subtype": "default_task",
                },
                "parent": None,
                "change": {"field": "assignee", "action": "changed"},
            }
        ]
    }
)


def signed(body, secret=SECRET):
    mac = vectors.hmac_hex(secret, body)
    return {"Content-Type": "application/json", "X-Hook-Signature": mac}


def deliveries(url):
    tampered = BODY.replace('"1337"', '"1338"')
    assert signed(tampered)["X-Hook-Signature"] != signed(BODY)["X-Hook-Signature"]
    return [
        vectors.refused(
            "signed before any handshake", url, signed(BODY), BODY,
            error="invalid signature: no secret was learned",
        ),
        vectors.delivery(
            "handshake (X-Hook-Secret, no body)", url, {"X-Hook-Secret": SECRET}, "", records=0,
            reply_headers={"X-Hook-Secret": SECRET},
        ),
        *vectors.genuine_changed_stale(url, signed(BODY), BODY, tampered),
        vectors.refused("signed with another secret", url, signed(BODY, "0" * 64), BODY),
    ]


if __name__ == "__main__":
    vectors.run(config={"sender": "asana"}, deliveries=deliveries)
