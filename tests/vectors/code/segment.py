"""Vectors for the `segment` preset.

Segment's Webhooks destination, given a shared secret, sends `X-Signature`: the hex HMAC-SHA1
of the body keyed by that secret
(https://segment.com/docs/connections/destinations/catalog/webhooks/, "Authentication"); every
message carries `messageId`, its unique id (https://segment.com/docs/connections/spec/common/).
No Segment SDK on PyPI or npm verifies webhooks: `verify` below is that page's Node example in
Python. Payloads: the track and identify examples of the Segment Spec
(https://segment.com/docs/connections/spec/track/, .../identify/).
"""

import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import hashlib
import hmac
import json

SECRET = "seg-shared-secret-6b2f9e1c"

TRACK = {
    "anonymousId": "23adfd82-aa0f-45a7-a756-24f2a7a4c895",
    "context": {
        "library": {"name": "analytics.js", "version": "2.11.1"},
        "page": {
            "path": "/academy/",
            "referrer": "",
            "search": "",
            "title": "Analytics Academy",
            "url": "https://segment.com/academy/",
        },
        "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_10_5) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/46.0.2490.86 Safari/537.36",
        "ip": "108.0.78.21",
    },
    "event": "Course Clicked",
    "integrations": {},
    "messageId": "ajs-f8ca1e4de5024d9430b3928bd8ac6b96",
    "properties": {"title": "Intro to Analytics"},
    "receivedAt": "2015-12-12T19:11:01.266Z",
    "sentAt": "2015-12-12T19:11:01.169Z",
    "timestamp": "2015-12-12T19:11:01.249Z",
    "type": "track",
    "userId": "AiUGstSDIg",
    "originalTimestamp": "2015-12-12T19:11:01.152Z",
}
IDENTIFY = {
    "anonymousId": "507f191e810c19729de860ea",
    "channel": "browser",
    "context": {
        "ip": "8.8.8.8",
        "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_12_6) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/61.0.3163.100 Safari/537.36",
    },
    "integrations": {"All": False, "Mixpanel": True, "Salesforce": True},
    "messageId": "022bb90c-bbac-11e4-8dfc-aa07a5b093db",
    "receivedAt": "2015-02-23T22:28:55.387Z",
    "sentAt": "2015-02-23T22:28:55.111Z",
    "timestamp": "2015-02-23T22:28:55.111Z",
    "traits": {
        "name": "Peter Gibbons",
        "email": "peter@example.com",
        "plan": "premium",
        "logins": 5,
        "address": {"street": "6th St", "city": "San Francisco", "state": "CA", "postalCode": "94103", "country": "USA"},
    },
    "type": "identify",
    "userId": "97980cfea0067",
    "version": "1.1",
}


def sign(body):
    return vectors.hmac_hex(SECRET, body, hashlib.sha1)


def verify(body, signature):
    """The docs' example: createHmac('sha1', sharedSecret) over the body, hex."""
    digest = hmac.new(SECRET.encode(), body.encode("utf-8"), hashlib.sha1).hexdigest()
    return hmac.compare_digest(digest, signature)


def headers(signature):
    return {"Content-Type": "application/json", "User-Agent": "Segment.io/1.0", "X-Signature": signature}


def deliveries(url):
    track = json.dumps(TRACK, separators=(",", ":"))
    identify = json.dumps(IDENTIFY, separators=(",", ":"))
    bad = vectors.tamper(track)
    assert verify(track, sign(track)) and verify(identify, sign(identify))
    assert not verify(bad, sign(track))
    return [
        vectors.delivery("genuine track", url, headers(sign(track)), track),
        vectors.delivery("genuine identify", url, headers(sign(identify)), identify),
        vectors.refused("one byte changed", url, headers(sign(track)), bad),
    ]


if __name__ == "__main__":
    vectors.run(
        config={"sender": "segment", "signature": {"secret": SECRET}},
        deliveries=deliveries,
    )
