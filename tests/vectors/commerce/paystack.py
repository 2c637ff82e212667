# Source: Paystack publishes no Python SDK of its own; the `pypaystack2` package 3.4.0 (PyPI, a
# community client) verifies with PaystackClient.is_verified_webhook_payload, which accepts the
# genuine delivery and refuses the changed one. Signed as
# https://paystack.com/docs/payments/webhooks/#verify-event-origin describes (x-paystack-signature:
# hex HMAC-SHA512 of the body under the secret key). Payload: the charge.success example of that
# page.
import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import hashlib
import json

from pypaystack2 import PaystackClient

SECRET = "sk_test_5f8d3e2a1b9c4d7e6f0a1b2c3d4e5f6a7b8c9d0e"

EVENT = {
    "event": "charge.success",
    "data": {
        "id": 302961,
        "domain": "live",
        "status": "success",
        "reference": "qTPrJoy9Bx",
        "amount": 10000,
        "message": None,
        "gateway_response": "Approved by Financial Institution",
        "paid_at": "2016-09-30T21:10:19.000Z",
        "created_at": "2016-09-30T21:09:56.000Z",
        "channel": "card",
        "currency": "NGN",
        "ip_address": "41.242.49.37",
        "metadata": 0,
        "fees": None,
        "customer": {"id": 68324, "first_name": "BoJack", "last_name": "Horseman",
                     "email": "bojack@horseman.com", "customer_code": "CUS_qo38as2hpsgk2r0",
                     "phone": None, "metadata": None, "risk_action": "default"},
        "authorization": {"authorization_code": "AUTH_f5rnfq9p", "bin": "539999", "last4": "8877",
                          "exp_month": "08", "exp_year": "2020", "card_type": "mastercard DEBIT",
                          "bank": "Guaranty Trust Bank", "country_code": "NG", "brand": "mastercard"},
        "plan": {},
    },
}


def verifies(body, signature):
    return PaystackClient(secret_key=SECRET).is_verified_webhook_payload(body.encode(), signature)


def deliveries(url):
    body = json.dumps(EVENT)
    signature = vectors.hmac_hex(SECRET, body, hashlib.sha512)
    assert verifies(body, signature)
    changed = body.replace('"amount": 10000,', '"amount": 90000,', 1)
    assert changed != body and not verifies(changed, signature)
    headers = {"Content-Type": "application/json", "X-Paystack-Signature": signature}
    return vectors.genuine_changed_stale(url, headers, body, changed)


if __name__ == "__main__":
    vectors.run(
        config={"sender": "paystack", "signature": {"secret": SECRET}},
        deliveries=deliveries,
    )
