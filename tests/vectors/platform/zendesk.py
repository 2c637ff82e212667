# Vectors for the `zendesk` preset. Zendesk has no SDK that verifies webhooks (zenpy and
# node-zendesk do not), so the signature is computed by the algorithm of
# developer.zendesk.com/documentation/webhooks/verifying/: base64(HMAC-SHA256(secret,
# TIMESTAMP + BODY)), with X-Zendesk-Webhook-Signature-Timestamp in ISO 8601, and the static
# secret that page gives for test deliveries. Payload: the zen:event-type:user.created example
# of developer.zendesk.com/api-reference/webhooks/event-types/user-events/.
import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import base64
import json
import time

SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="
BODY = json.dumps(
    {
        "account_id": 22129848,
        "detail": {
            "created_at": "2022-11-22T23:57:46Z",
            "email": "john@example.com",
            "external_id": None,
            "default_group_id": "0",
            "id": "8141698296090",
            "organization_id": None,
            "role": "end-user",
            "updated_at": "2022-11-22T23:57:46Z",
        },
        "event": {},
        "id": "cbe4028c-7239-495d-b020-f22348516046",
        "subject": "zen:user:8141698296090",
        "time": "2022-11-22T23:57:46.491Z",
        "type": "zen:event-type:user.created",
        "zendesk_event_version": "2022-11-06",
    }
)


def sign(timestamp, body):
    mac = vectors.hmac_digest(SECRET, timestamp + body)
    return base64.b64encode(mac).decode()


def signed(body, at):
    timestamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
    return {
        "Content-Type": "application/json",
        "X-Zendesk-Webhook-Id": "01GJBJBYQHWQG5NEBFNZR4E2Y8",
        "X-Zendesk-Webhook-Invocation-Id": "8141698296091",
        "X-Zendesk-Account-Id": "22129848",
        "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
        "X-Zendesk-Webhook-Signature": sign(timestamp, body),
    }


def deliveries(url):
    now = int(time.time())
    genuine = signed(BODY, now)
    tampered = BODY.replace("john@", "joho@")
    assert sign(genuine["X-Zendesk-Webhook-Signature-Timestamp"], tampered) != \
        genuine["X-Zendesk-Webhook-Signature"]
    stale = signed(BODY, now - 600)
    return vectors.genuine_changed_stale(url, genuine, BODY, tampered, stale)


if __name__ == "__main__":
    vectors.run(
        config={"sender": "zendesk", "signature": {"secret": SECRET}},
        deliveries=deliveries,
    )
