# Source: the `coinbase-commerce` package 1.0.1 (PyPI): coinbase_commerce.webhook.Webhook.construct_event
# accepts the genuine delivery and refuses the changed one. Signed as
# https://docs.cdp.coinbase.com/commerce-onchain/docs/webhooks-security describes
# (X-CC-Webhook-Signature: hex HMAC-SHA256 of the body under the shared secret). Payload: the
# charge:created webhook example of https://docs.cdp.coinbase.com/commerce-onchain/docs/webhooks-events
# (shortened).
import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import json

from coinbase_commerce.error import SignatureVerificationError
from coinbase_commerce.webhook import Webhook

SECRET = "30291a20-0bd1-4267-9b0b-e8ef1d9f4b8c"

DELIVERY = {
    "id": 1,
    "scheduled_for": "2017-01-31T20:50:02Z",
    "attempt_number": 1,
    "event": {
        "id": "24934862-d980-46cb-9402-43c81b0cdba6",
        "resource": "event",
        "type": "charge:created",
        "api_version": "2018-03-22",
        "created_at": "2017-01-31T20:49:02Z",
        "data": {
            "code": "66BEOV2A",
            "name": "The Sovereign Individual",
            "description": "Mastering the Transition to the Information Age",
            "hosted_url": "https://commerce.coinbase.com/charges/66BEOV2A",
            "created_at": "2017-01-31T20:49:02Z",
            "expires_at": "2017-01-31T21:49:02Z",
            "timeline": [{"time": "2017-01-31T20:49:02Z", "status": "NEW"}],
            "metadata": {},
            "pricing_type": "no_price",
            "payments": [],
            "addresses": {"bitcoin": "mymZkiXhQNd6VWWG7VGSVdDX9bKmviti3U",
                          "ethereum": "0x419f91df39951fd4e8acc8f1874b01c0c78ceba6"},
        },
    },
}


def verifies(body, signature):
    return not vectors.raises(
        SignatureVerificationError, Webhook.construct_event, body, signature, SECRET
    )


def deliveries(url):
    body = json.dumps(DELIVERY)
    signature = vectors.hmac_hex(SECRET, body)
    assert verifies(body, signature)
    changed = body.replace('"attempt_number": 1', '"attempt_number": 2', 1)
    assert changed != body and not verifies(changed, signature)
    headers = {"Content-Type": "application/json", "X-CC-Webhook-Signature": signature}
    return [
        vectors.delivery("genuine", url, headers, body, stream="charge_created"),
        vectors.refused("one byte changed", url, headers, changed),
    ]


if __name__ == "__main__":
    vectors.run(
        config={"sender": "coinbase-commerce", "signature": {"secret": SECRET}},
        deliveries=deliveries,
    )
