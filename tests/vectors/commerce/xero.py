# Source: Xero's SDKs (PyPI xero-python, npm xero-node) do not verify webhooks. Signed by the
# documented algorithm of
# https://developer.xero.com/documentation/guides/webhooks/configuring-your-server/
# (x-xero-signature: base64 HMAC-SHA256 of the body under the app's webhooks key), in the script
# below; no second implementation of Xero's checks it. Intent to receive as that page describes it:
# Xero sends signed deliveries with no events and expects 200 for a correct signature and 401 for
# an incorrect one; they are not events, so not recorded. Payload: the example of
# https://developer.xero.com/documentation/guides/webhooks/overview/.
import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import base64
import json

KEY = "Mm9Dhu7aWuS3bj2vtTBAzVq6pgT0UQe/Lv9dbDX8XvTZr1Hj7t9RQHuOWPclVa2ZJGfJZPmsqPGu4ivHxzxbJw=="

EVENTS = {
    "events": [
        {
            "resourceUrl": "https://api.xero.com/api.xro/2.0/Contacts/717f2bfc-c6d4-41fd-b238-3f2f0c0cf777",
            "resourceId": "717f2bfc-c6d4-41fd-b238-3f2f0c0cf777",
            "eventDateUtc": "2017-06-21T01:15:39.902",
            "eventType": "UPDATE",
            "eventCategory": "CONTACT",
            "tenantId": "c2cc9b6e-9458-4c7d-93cc-f02b81b0594f",
            "tenantType": "ORGANISATION",
        }
    ],
    "lastEventSequence": 1,
    "firstEventSequence": 1,
    "entropy": "S0m3r4Nd0mt3xt",
}

INTENT_TO_RECEIVE = {"events": [], "firstEventSequence": 0, "lastEventSequence": 0,
                     "entropy": "YSXCMKAQBJOEMGUZEPFZ"}


def sign(body):
    mac = vectors.hmac_digest(KEY, body)
    return base64.b64encode(mac).decode()


def delivery(name, url, body, signature, status, records, error=None):
    headers = {"Content-Type": "application/json", "X-Xero-Signature": signature}
    return vectors.delivery(name, url, headers, body, status, records, error or None)


def deliveries(url):
    itr = json.dumps(INTENT_TO_RECEIVE, separators=(",", ":"))
    body = json.dumps(EVENTS, separators=(",", ":"))
    changed = body.replace('"lastEventSequence":1', '"lastEventSequence":2', 1)
    assert changed != body and sign(changed) != sign(body)
    wrong = sign(itr + " ")
    return [
        delivery("intent to receive, signed", url, itr, sign(itr), 200, 0),
        delivery("intent to receive, wrongly signed", url, itr, wrong, 401, 0, "invalid signature"),
        delivery("genuine", url, body, sign(body), 200, 1),
        delivery("one byte changed", url, changed, sign(body), 401, 0, "invalid signature"),
    ]


if __name__ == "__main__":
    vectors.run(config={"sender": "xero", "signature": {"secret": KEY}}, deliveries=deliveries)
