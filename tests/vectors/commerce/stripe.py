# Source: the `stripe` package 16.1.0 (PyPI): stripe.WebhookSignature.verify_header accepts the
# genuine delivery and refuses the changed and the stale ones. Signed as
# https://docs.stripe.com/webhooks#verify-manually describes (t=…,v1=hex HMAC-SHA256 of "t.body",
# the whole whsec_ secret as the key). Payload: the Event object example of
# https://docs.stripe.com/api/events/object.
import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import json
import time

# This script's folder comes first on sys.path; its name would hide the package.
sys.path.pop(0)
import stripe  # noqa: E402

SECRET = "whsec_4f3c2b1a0e9d8c7b6a5f4e3d2c1b0a99"

EVENTS = [
    {
        "id": "evt_1NG8Du2eZvKYlo2CUI79vXWy",
        "object": "event",
        "api_version": "2019-02-19",
        "created": 1686089970,
        "data": {
            "object": {
                "id": "seti_1NG8Du2eZvKYlo2C9XMqbR0x",
                "object": "setup_intent",
                "application": None,
                "cancellation_reason": None,
                "client_secret": "seti_1NG8Du2eZvKYlo2C9XMqbR0x_secret_O2CdhLwGFh2Aej7bCY7qp8jlIuyR8DJ",
                "created": 1686089970,
                "customer": None,
                "livemode": False,
                "payment_method_types": ["acss_debit"],
                "status": "requires_payment_method",
                "usage": "off_session",
            }
        },
        "livemode": False,
        "pending_webhooks": 0,
        "request": {"id": None, "idempotency_key": None},
        "type": "setup_intent.created",
    },
    {
        "id": "evt_3NG8Eq2eZvKYlo2C0b2lTkBm",
        "object": "event",
        "api_version": "2019-02-19",
        "created": 1686090042,
        "data": {
            "object": {
                "id": "pi_3NG8Eq2eZvKYlo2C0uSLgJ2p",
                "object": "payment_intent",
                "amount": 2000,
                "amount_received": 2000,
                "currency": "usd",
                "customer": None,
                "livemode": False,
                "payment_method_types": ["card"],
                "status": "succeeded",
            }
        },
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": "req_a6hRGjeQxcaDq2", "idempotency_key": "4a4b7d15-7c6d-4c8e-b0f5-6b2b3c9b3f3d"},
        "type": "payment_intent.succeeded",
    },
]


def sign(body, t):
    v1 = vectors.hmac_hex(SECRET, f"{t}.{body}")
    return f"t={t},v1={v1}"


def verifies(body, header):
    try:
        return stripe.WebhookSignature.verify_header(body, header, SECRET, tolerance=300)
    except stripe.SignatureVerificationError:
        return False


def tamper(body):
    """One digit changed (a digit never becomes a leading zero, so the JSON stays valid)."""
    i = next(i for i, c in enumerate(body) if c.isdigit())
    return body[:i] + ("8" if body[i] == "9" else chr(ord(body[i]) + 1)) + body[i + 1 :]


def deliveries(url):
    now = int(time.time())
    out = []
    for event in EVENTS:
        body = json.dumps(event)
        header = sign(body, now)
        assert verifies(body, header)
        out.append(vectors.delivery(
            f"genuine {event['type']}", url,
            {"Content-Type": "application/json; charset=utf-8",
                     "Stripe-Signature": header},
            body,
        ))
    body = json.dumps(EVENTS[1])
    header = sign(body, now)
    changed = tamper(body)
    assert changed != body and not verifies(changed, header)
    out.append(vectors.refused(
        "one byte changed", url,
        {"Content-Type": "application/json; charset=utf-8", "Stripe-Signature": header},
        changed,
    ))
    stale = sign(body, now - 600)
    assert not verifies(body, stale)
    out.append(vectors.refused(
        "signed 10 minutes ago", url,
        {"Content-Type": "application/json; charset=utf-8", "Stripe-Signature": stale},
        body, error="expired signature",
    ))
    return out


if __name__ == "__main__":
    vectors.run(config={"sender": "stripe", "signature": {"secret": SECRET}}, deliveries=deliveries)
