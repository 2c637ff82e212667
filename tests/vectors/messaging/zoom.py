# Source: Zoom's "Verify webhook events" and "Validate your webhook endpoint",
# https://developers.zoom.us/docs/api/webhooks/#verify-webhook-events: x-zm-signature is
# "v0=" + hex HMAC-SHA256, keyed with the app's Secret Token, of "v0:" + x-zm-request-timestamp
# + ":" + the body; the URL validation answer's encryptedToken is hex HMAC-SHA256 of plainToken.
# Zoom has no PyPI SDK, so the deliveries are signed by that algorithm; once, on 2026-12-06,
# the genuine, tampered and URL validation deliveries were checked with Zoom's npm SDK
# @zoom/rivet 0.4.0 (AwsLambdaReceiver: 200 and the same encryptedToken, 400 "Failed to verify
# event originated from Zoom." for the changed byte; it checks no timestamp age, so it took the
# stale one, refused here by the 300 seconds the tap allows). The meeting.started body and the
# endpoint.url_validation body are the examples of that page and of
# https://developers.zoom.us/docs/api/meetings/events/#tag/meeting/POSTmeeting.started.
import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import hashlib
import hmac
import json
import time

SECRET_TOKEN = "Xt5oPnvDQ0yDy8oZJoNP5A"

MEETING_STARTED = {
    "event": "meeting.started",
    "event_ts": 1626230691572,
    "payload": {
        "account_id": "AAAAAABBBB",
        "object": {"id": "1234567890", "uuid": "4444AAAiAAAAAiAiAiiAii==",
                   "host_id": "x1yCzABCDEfg23HiJKl4mN", "topic": "My Meeting", "type": 8,
                   "start_time": "2021-07-13T21:44:51Z", "timezone": "America/Los_Angeles",
                   "duration": 60},
    },
}
URL_VALIDATION = {"payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"},
                  "event_ts": 1654503849680, "event": "endpoint.url_validation"}


def sign(timestamp, body):
    mac = hmac.new(SECRET_TOKEN.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256)
    return "v0=" + mac.hexdigest()


def verify(timestamp, body, signature, now):
    return abs(now - int(timestamp)) <= 300 and hmac.compare_digest(sign(timestamp, body), signature)


def delivery(name, url, body, timestamp, signature=None, **expect):
    headers = {"Content-Type": "application/json; charset=utf-8",
               "x-zm-request-timestamp": timestamp,
               "x-zm-signature": signature or sign(timestamp, body),
               "x-zm-trackingid": "v=2.0;clid=aw1;rid=WEB_a1b2c3d4e5f60718293a4b5c6d7e8f90"}
    return vectors.delivery(name, url, headers, body, **expect)


def deliveries(url):
    now = int(time.time())
    body = json.dumps(MEETING_STARTED, separators=(",", ":"))
    tampered = body.replace("My Meeting", "My Meetinh")
    stale = str(now - 600)
    plain = URL_VALIDATION["payload"]["plainToken"]
    encrypted = vectors.hmac_hex(SECRET_TOKEN, plain)
    validation = json.dumps(URL_VALIDATION, separators=(",", ":"))

    assert verify(str(now), body, sign(str(now), body), now)
    assert not verify(str(now), tampered, sign(str(now), body), now)
    assert not verify(stale, body, sign(stale, body), now)
    return [
        delivery("genuine", url, body, str(now), status=200, records=1),
        delivery("one byte changed", url, tampered, str(now), sign(str(now), body), status=401,
                 records=0, error="invalid signature"),
        delivery("signed 10 minutes ago", url, body, stale, status=401, records=0,
                 error="expired signature"),
        delivery("endpoint.url_validation", url, validation, str(now), status=200, records=0,
                 reply=json.dumps({"encryptedToken": encrypted, "plainToken": plain},
                                  separators=(",", ":"))),
    ]


if __name__ == "__main__":
    vectors.run(
        config={"sender": "zoom", "signature": {"secret": SECRET_TOKEN}},
        deliveries=deliveries,
    )
