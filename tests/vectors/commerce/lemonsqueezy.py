# Source: Lemon Squeezy's SDKs (npm @lemonsqueezy/lemonsqueezy.js 4.0.0; no official PyPI one) do
# not verify webhooks. Signed by the documented algorithm of
# https://docs.lemonsqueezy.com/help/webhooks/signing-requests (X-Signature: hex HMAC-SHA256 of the
# body under the webhook's signing secret), in the script below; no second implementation of
# Lemon Squeezy's checks it. Payload: the order_created example of
# https://docs.lemonsqueezy.com/help/webhooks/webhook-requests (shortened), with X-Event-Name as
# Lemon Squeezy sends it.
import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import json

SECRET = "lsq_signing_3c1d9f"

EVENT = {
    "meta": {"event_name": "order_created", "custom_data": {"customer_id": 25}},
    "data": {
        "type": "orders",
        "id": "1",
        "attributes": {
            "store_id": 1,
            "identifier": "636f855c-1fb9-4c07-b75c-3a10afef010a",
            "order_number": 1,
            "user_name": "Darlene Daugherty",
            "user_email": "gernser@yahoo.com",
            "currency": "USD",
            "currency_rate": "1.0000",
            "subtotal": 999,
            "discount_total": 0,
            "tax": 200,
            "total": 1199,
            "subtotal_usd": 999,
            "discount_total_usd": 0,
            "tax_usd": 200,
            "total_usd": 1199,
            "tax_name": "VAT",
            "tax_rate": "20.00",
            "status": "paid",
            "status_formatted": "Paid",
            "refunded": False,
            "refunded_at": None,
            "first_order_item": {"id": 1, "order_id": 1, "product_id": 1, "variant_id": 1,
                                 "product_name": "Test Limited License for 2 years",
                                 "variant_name": "Default", "price": 1199,
                                 "created_at": "2021-08-17T09:45:53.000000Z",
                                 "updated_at": "2021-08-17T09:45:53.000000Z", "test_mode": False},
            "created_at": "2021-08-17T09:45:53.000000Z",
            "updated_at": "2021-08-17T09:45:53.000000Z",
        },
    },
}


def sign(body):
    return vectors.hmac_hex(SECRET, body)


def deliveries(url):
    body = json.dumps(EVENT)
    signature = sign(body)
    changed = body.replace('"total": 1199', '"total": 1198', 1)
    assert changed != body and sign(changed) != signature
    headers = {"Content-Type": "application/json", "X-Event-Name": "order_created",
               "X-Signature": signature}
    return vectors.genuine_changed_stale(url, headers, body, changed)


if __name__ == "__main__":
    vectors.run(
        config={"sender": "lemonsqueezy", "signature": {"secret": SECRET}},
        deliveries=deliveries,
    )
