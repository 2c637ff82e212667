# Vectors for the `clerk` preset. Clerk sends its webhooks through Svix and tells receivers to
# verify them with the svix library (clerk.com/docs/webhooks/sync-data); its Python SDK
# (clerk-backend-api) has no verifier. Made and checked by svix 2.9.1 (PyPI).
# Payload: the user.created example of Clerk's docs (clerk.com/docs/webhooks/overview).
import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import json

# The scripts here are named after the packages they import (svix.py imports svix): keep this
# folder off the import path.
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != HERE]

import time
from datetime import datetime, timezone

from svix.webhooks import Webhook, WebhookVerificationError

SECRET = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
BODY = json.dumps(
    {
        "data": {
            "birthday": "",
            "created_at": 1654012591514,
            "email_addresses": [
                {
                    "email_address": "example@example.org",
                    "id": "idn_29w83yL7CwVlJXylYLxcslromF1",
                    "linked_to": [],
                    "object": "email_address",
                    "verification": {"status": "verified", "strategy": "ticket"},
                }
            ],
            "external_accounts": [],
            "external_id": "567772",
            "first_name": "Example",
            "gender": "",
            "id": "user_29w83sxmDNGwOuEthce5gg56FcC",
            "image_url": "https://img.clerk.com/xxxxxx",
            "last_name": "Example",
            "last_sign_in_at": 1654012591514,
            "object": "user",
            "password_enabled": True,
            "phone_numbers": [],
            "primary_email_address_id": "idn_29w83yL7CwVlJXylYLxcslromF1",
            "primary_phone_number_id": None,
            "primary_web3_wallet_id": None,
            "private_metadata": {},
            "profile_image_url": "https://www.gravatar.com/avatar?d=mp",
            "public_metadata": {},
            "two_factor_enabled": False,
            "unsafe_metadata": {},
            "updated_at": 1654012591835,
            "username": None,
            "web3_wallets": [],
        },
        "event_attributes": {
            "http_request": {
                "client_ip": "0.0.0.0",
                "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)",
            }
        },
        "instance_id": "ins_123",
        "object": "event",
        "timestamp": 1654012591835,
        "type": "user.created",
    }
)


def signed(msg_id, body, at):
    when = datetime.fromtimestamp(at, tz=timezone.utc)
    return {
        "Content-Type": "application/json",
        "svix-id": msg_id,
        "svix-timestamp": str(at),
        "svix-signature": Webhook(SECRET).sign(msg_id, when, body),
    }


def refused(body, headers):
    try:
        Webhook(SECRET).verify(body, headers)
    except WebhookVerificationError:
        return True
    return False


def deliveries(url):
    now = int(time.time())
    genuine = signed("msg_2ZOiK8RDQU2OFYbaxj6jk3v3b5e", BODY, now)
    Webhook(SECRET).verify(BODY, genuine)
    tampered = BODY.replace("Example", "Exbmple", 1)
    assert refused(tampered, genuine)
    stale = signed("msg_2ZOiK8RDQU2OFYbaxj6jk3v3b5f", BODY, now - 600)
    assert refused(BODY, stale)
    # Refusals first: they are never journaled, so the genuine delivery is new after them.
    return [
        vectors.refused("one byte changed", url, genuine, tampered),
        vectors.refused("signed 10 minutes ago", url, stale, BODY, error="expired signature"),
        vectors.delivery("genuine", url, genuine, BODY),
        vectors.delivery("redelivered (same svix-id)", url, genuine, BODY, records=0),
    ]


if __name__ == "__main__":
    vectors.run(config={"sender": "clerk", "signature": {"secret": SECRET}}, deliveries=deliveries)
