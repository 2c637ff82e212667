# Source: the `razorpay` package 2.0.1 (PyPI): Client.utility.verify_webhook_signature accepts
# the genuine delivery and refuses the changed one. Signed as
# https://razorpay.com/docs/webhooks/validate-test/ describes (X-Razorpay-Signature: hex
# HMAC-SHA256 of the body). Payload: the payment.captured example of
# https://razorpay.com/docs/webhooks/payloads/payments/ (shortened).
import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import json

# This script's folder comes first on sys.path; its name would hide the package.
sys.path.pop(0)
import razorpay  # noqa: E402
from razorpay.errors import SignatureVerificationError  # noqa: E402

SECRET = "whk_9fT3xQ2pL8sV1mZ6"

EVENT = {
    "entity": "event",
    "account_id": "acc_BFQ7uQEaa7j2z7",
    "event": "payment.captured",
    "contains": ["payment"],
    "payload": {
        "payment": {
            "entity": {
                "id": "pay_DESlfW9H8K9uqM",
                "entity": "payment",
                "amount": 100,
                "currency": "INR",
                "base_amount": 100,
                "status": "captured",
                "order_id": "order_DESlLckIVRkHWj",
                "international": False,
                "method": "netbanking",
                "amount_refunded": 0,
                "captured": True,
                "description": None,
                "bank": "HDFC",
                "email": "gaurav.kumar@example.com",
                "contact": "+919876543210",
                "fee": 2,
                "tax": 0,
                "created_at": 1567674599,
            }
        }
    },
    "created_at": 1567674606,
}


def verifies(body, signature):
    client = razorpay.Client(auth=("rzp_test_key", "rzp_test_secret"))
    try:
        return client.utility.verify_webhook_signature(body, signature, SECRET)
    except SignatureVerificationError:
        return False


def deliveries(url):
    body = json.dumps(EVENT)
    signature = vectors.hmac_hex(SECRET, body)
    assert verifies(body, signature)
    changed = body.replace('"amount": 100,', '"amount": 900,', 1)
    assert changed != body and not verifies(changed, signature)

    def h(event_id):
        return {"Content-Type": "application/json", "X-Razorpay-Signature": signature,
                "X-Razorpay-Event-Id": event_id}

    return [
        vectors.delivery("genuine", url, h("KiKBOBvYwnTDlq"), body),
        vectors.delivery(
            "the same event again (a retry)", url, h("KiKBOBvYwnTDlq"), body, records=0,
        ),
        vectors.refused("one byte changed", url, h("KiKBOBvYwnTDlr"), changed),
    ]


if __name__ == "__main__":
    vectors.run(
        config={"sender": "razorpay", "signature": {"secret": SECRET}},
        deliveries=deliveries,
    )
