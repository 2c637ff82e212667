# Source: the `paddle-python-sdk` package 1.16.1 (PyPI): paddle_billing.Notifications.Verifier
# accepts the genuine delivery and refuses the changed and the stale ones. Signed as
# https://developer.paddle.com/webhooks/signature-verification describes (Paddle-Signature:
# ts=…;h1=hex HMAC-SHA256 of "ts:body"). Payload: the transaction.completed example of
# https://developer.paddle.com/webhooks/transactions/transaction-completed (shortened).
import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import json
import time

from paddle_billing.Notifications import Secret, Verifier

SECRET = "pdl_ntfset_01gkpjp8bkm3tm53kdgkx6sms7_6h3qd3uFSi9YCD3OLYAShQI90XTI5vEI"

EVENT = {
    "event_id": "evt_01hv8x2acma2gz1her1a2dfbxp",
    "event_type": "transaction.completed",
    "occurred_at": "2024-04-12T10:18:49.621022Z",
    "notification_id": "ntf_01hv8x2af6tbnbsy7ab4yjzgfv",
    "data": {
        "id": "txn_01hv8wptq8987qeep44cyrewp9",
        "items": [{"price": {"id": "pri_01gsz8x8sawmvhz1pv30nge1ke", "name": "Monthly (per seat)",
                             "unit_price": {"amount": "3000", "currency_code": "USD"}},
                   "quantity": 10, "proration": None}],
        "origin": "web",
        "status": "completed",
        "details": {"totals": {"fee": "1545", "tax": "2500", "total": "32500", "earnings": "27455",
                               "subtotal": "30000", "grand_total": "32500", "currency_code": "USD"}},
        "customer_id": "ctm_01hv6y1jedq4p1n0yqn5ba3ky4",
        "address_id": "add_01hv8gq3318ktkfengj2r75gfx",
        "billed_at": "2024-04-12T10:18:48.294633Z",
        "created_at": "2024-04-12T10:12:33.2014Z",
        "updated_at": "2024-04-12T10:18:49.738971Z",
        "currency_code": "USD",
        "subscription_id": "sub_01hv8x29kz0t586xy6zn1a62ny",
        "collection_mode": "automatic",
    },
}


class Delivery:
    """What Verifier.verify reads: headers and the raw body."""

    def __init__(self, header, body):
        self.headers = {"Paddle-Signature": header}
        self.body = body.encode()


def sign(body, ts):
    h1 = vectors.hmac_hex(SECRET, f"{ts}:{body}")
    return f"ts={ts};h1={h1}"


def verifies(body, header):
    return Verifier(maximum_variance=300).verify(Delivery(header, body), Secret(SECRET))


def deliveries(url):
    now = int(time.time())
    body = json.dumps(EVENT)
    header = sign(body, now)
    assert verifies(body, header)
    changed = body.replace('"quantity": 10', '"quantity": 11', 1)
    assert changed != body and not verifies(changed, header)
    stale = sign(body, now - 600)
    assert not verifies(body, stale)
    h = lambda sig: {"Content-Type": "application/json", "Paddle-Signature": sig}  # noqa: E731
    return vectors.genuine_changed_stale(url, h(header), body, changed, h(stale))


if __name__ == "__main__":
    vectors.run(config={"sender": "paddle", "signature": {"secret": SECRET}}, deliveries=deliveries)
