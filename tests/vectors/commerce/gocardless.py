# Source: the `gocardless-pro` package 3.22.0 (PyPI): gocardless_pro.webhooks.parse accepts the
# genuine delivery and refuses the changed one. Signed as
# https://developer.gocardless.com/getting-started/staying-up-to-date-with-webhooks describes
# (Webhook-Signature: hex HMAC-SHA256 of the body under the endpoint's secret). Payload: the
# example of that page (a payment confirmed and a mandate created, in one webhook).
import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import json

from gocardless_pro import webhooks
from gocardless_pro.errors import InvalidSignatureError

SECRET = "ElfnXk7Ef2bM0dTwP5dTqBy6bZWhbq8yPo2kPUcR"

WEBHOOK = {
    "events": [
        {
            "id": "EV123",
            "created_at": "2014-08-04T12:00:00.000Z",
            "action": "confirmed",
            "resource_type": "payments",
            "links": {"payment": "PM123"},
            "details": {"origin": "gocardless", "cause": "payment_confirmed",
                        "description": "Payment was confirmed as collected"},
        },
        {
            "id": "EV456",
            "created_at": "2014-08-04T12:00:00.000Z",
            "action": "failed",
            "resource_type": "payments",
            "links": {"payment": "PM456"},
            "details": {"origin": "bank", "cause": "mandate_cancelled",
                        "description": "Customer cancelled the mandate at their bank branch.",
                        "scheme": "bacs", "reason_code": "ARUDD-1"},
        },
    ],
    "meta": {"webhook_id": "WB123"},
}


def verifies(body, signature):
    return not vectors.raises(InvalidSignatureError, webhooks.parse, body, SECRET, signature)


def deliveries(url):
    body = json.dumps(WEBHOOK)
    signature = vectors.hmac_hex(SECRET, body)
    assert verifies(body, signature)
    changed = body.replace('"PM123"', '"PM124"', 1)
    assert changed != body and not verifies(changed, signature)
    headers = {"Content-Type": "application/json", "Webhook-Signature": signature,
               "Origin": "https://api.gocardless.com"}
    return vectors.genuine_changed_stale(url, headers, body, changed)


if __name__ == "__main__":
    vectors.run(
        config={"sender": "gocardless", "signature": {"secret": SECRET}},
        deliveries=deliveries,
    )
