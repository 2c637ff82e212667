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




def deliveries(url):
    webhook = Webhook(SECRET)
    tampered = BODY.replace("Example", "Exbmple", 1)
    ids = ("msg_2ZOiK8RDQU2OFYbaxj6jk3v3b5e", "msg_2ZOiK8RDQU2OFYbaxj6jk3v3b5f")
    return vectors.svix_family(
        url, webhook, webhook.verify, WebhookVerificationError, "svix", BODY, tampered, ids
    )


if __name__ == "__main__":
    vectors.run(config={"sender": "clerk", "signature": {"secret": SECRET}}, deliveries=deliveries)
