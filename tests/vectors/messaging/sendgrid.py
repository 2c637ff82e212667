# Source: sendgrid 6.12.5 (PyPI; github.com/sendgrid/sendgrid-python
# sendgrid/helpers/eventwebhook/__init__.py): EventWebhook.verify_signature accepts or refuses
# each delivery here. SendGrid signs with its own private key, so the deliveries are signed
# with a fixed P-256 key (cryptography, the SDK's own dependency) whose public half stands for
# the Verification Key; ECDSA P-256 with SHA-256 over the timestamp header followed by the
# body, as https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features
# specifies. The events are the examples of
# https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/event (the dropped event
# is sendgrid-python's test/unit/test_eventwebhook.py payload). The SDK does not check the
# timestamp's age; the tap allows 300 seconds, asserted below for the stale delivery.
import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import base64
import json
import time

# This file is sendgrid.py: keep its folder off the path so that `sendgrid` is the SDK.
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from sendgrid.helpers.eventwebhook import EventWebhook  # noqa: E402

PRIVATE = ec.derive_private_key(0x5EED_5E9D_6B1D_0C0F_FEE0_2020_0914_1234, ec.SECP256R1())
PUBLIC_KEY = base64.b64encode(PRIVATE.public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()

EVENTS = [
    {"email": "example@test.com", "timestamp": 1513299569, "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
     "event": "processed", "category": "cat facts", "sg_event_id": "rbtnWrG1DVDGGGFHFyun0A==",
     "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.000000000000000000000"},
    {"email": "example@test.com", "timestamp": 1513299569, "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
     "event": "delivered", "category": "cat facts", "sg_event_id": "rWVYmVk90MjZJ9iohOBa3w==",
     "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.000000000000000000000",
     "response": "250 OK"},
    {"email": "hello@world.com", "event": "dropped", "reason": "Bounced Address",
     "sg_event_id": "ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA",
     "sg_message_id": "LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0",
     "smtp-id": "<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>", "timestamp": 1600112492},
]

webhook = EventWebhook(PUBLIC_KEY)


def sign(timestamp, body):
    der = PRIVATE.sign((timestamp + body).encode(), ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(der).decode()


def delivery(name, url, body, timestamp, signature, **expect):
    headers = {
        "Content-Type": "application/json",
        "X-Twilio-Email-Event-Webhook-Signature": signature,
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
    }
    return vectors.delivery(name, url, headers, body, **expect)


def deliveries(url):
    body = json.dumps(EVENTS) + "\r\n"
    now = str(int(time.time()))
    signature = sign(now, body)
    tampered_body = body.replace("cat facts", "cat facTs", 1)
    stale = str(int(time.time()) - 600)
    stale_signature = sign(stale, body)

    assert webhook.verify_signature(body, signature, now)
    assert not webhook.verify_signature(tampered_body, signature, now)
    assert webhook.verify_signature(body, stale_signature, stale)
    assert int(now) - int(stale) > 300
    return [
        delivery("genuine", url, body, now, signature, status=200, records=len(EVENTS)),
        delivery("one byte changed", url, tampered_body, now, signature, status=401, records=0,
                 error="invalid signature"),
        delivery("signed 10 minutes ago", url, body, stale, stale_signature, status=401,
                 records=0, error="expired signature"),
    ]


if __name__ == "__main__":
    vectors.run(
        config={"sender": "sendgrid", "signature": {"public_key": PUBLIC_KEY}},
        deliveries=deliveries,
    )
