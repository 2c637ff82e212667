# Vectors for the `workos` preset, checked by workos 10.6.0 (PyPI): verify_header of
# workos/webhooks/_verification.py, the SDK's own verifier (the SDK has no signer, so the
# header is made by the algorithm that function checks: `t=<ms>, v1=<hex HMAC-SHA256 of
# "<t>.<body>">`, workos.com/docs/events/data-syncing/webhooks). Payload: the user.created
# example of WorkOS's docs (workos.com/docs/events/user).
import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import json
import time

# The scripts here are named after the packages they import (svix.py imports svix): keep this
# folder off the import path.
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != HERE]

from workos.webhooks._verification import verify_header

SECRET = "whsec_2MC8c4KMQhKSZw4pWYvJbRDA2"
BODY = json.dumps(
    {
        "id": "event_01HWWSE3XSD4VCR4K6W05KJ0F7",
        "event": "user.created",
        "data": {
            "object": "user",
            "id": "user_01E4ZCR3C56J083X43JQXF3JK5",
            "email": "marcelina.davis@example.com",
            "first_name": "Marcelina",
            "last_name": "Davis",
            "email_verified": True,
            "profile_picture_url": "https://workoscdn.com/images/v1/123abc",
            "created_at": "2021-06-25T19:07:33.155Z",
            "updated_at": "2021-06-25T19:07:33.155Z",
        },
        "created_at": "2021-06-25T19:07:33.155Z",
    }
)


def signed(body, at_ms):
    mac = vectors.hmac_hex(SECRET, f"{at_ms}.{body}")
    return {"Content-Type": "application/json", "WorkOS-Signature": f"t={at_ms}, v1={mac}"}


def verify(body, headers):
    verify_header(event_body=body.encode(), event_signature=headers["WorkOS-Signature"],
                  secret=SECRET)


def refused(body, headers):
    return vectors.raises(ValueError, verify, body, headers)


def deliveries(url):
    now_ms = int(time.time() * 1000)
    genuine = signed(BODY, now_ms)
    verify(BODY, genuine)
    tampered = BODY.replace("Marcelina", "Marcelinb", 1)
    assert refused(tampered, genuine)
    stale = signed(BODY, now_ms - 600_000)
    assert refused(BODY, stale)
    return vectors.genuine_changed_stale(url, genuine, BODY, tampered, stale)


if __name__ == "__main__":
    vectors.run(config={"sender": "workos", "signature": {"secret": SECRET}}, deliveries=deliveries)
