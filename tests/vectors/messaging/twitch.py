# Source: Twitch's "Handling webhook events",
# https://dev.twitch.tv/docs/eventsub/handling-webhook-events/: Twitch-Eventsub-Message-Signature
# is "sha256=" + hex HMAC-SHA256, keyed with the subscription's secret, of
# Twitch-Eventsub-Message-Id + Twitch-Eventsub-Message-Timestamp (RFC 3339, nanoseconds) + the
# body; messages older than 10 minutes are to be refused and a repeated message id is a retry;
# webhook_callback_verification is answered with the challenge as text/plain. Twitch has no
# official SDK on PyPI or npm, so the deliveries are signed and checked by that algorithm here
# (verify() is the page's JavaScript example in Python). The bodies are that page's
# channel.follow notification, challenge and revocation examples.
import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import datetime
import hashlib
import hmac
import json
import time

SECRET = "s3cRe7-tw1tch-eventsub"
MESSAGE_ID = "e76c6bd4-55c9-4987-8304-da1588d8988b"

SUBSCRIPTION = {
    "id": "f1c2a387-161a-49f9-a165-0f21d7a4e1c4", "status": "enabled", "type": "channel.follow",
    "version": "2", "cost": 0,
    "condition": {"broadcaster_user_id": "1337", "moderator_user_id": "1337"},
    "transport": {"method": "webhook", "callback": "https://example.com/webhooks/callback"},
    "created_at": "2019-11-16T10:11:12.634234626Z",
}
NOTIFICATION = {
    "subscription": SUBSCRIPTION,
    "event": {"user_id": "1234", "user_login": "cool_user", "user_name": "Cool_User",
              "broadcaster_user_id": "1337", "broadcaster_user_login": "cooler_user",
              "broadcaster_user_name": "Cooler_User", "followed_at": "2020-07-15T18:16:11.17106713Z"},
}
CHALLENGE = {
    "challenge": "pogchamp-kappa-360noscope-vohiyo",
    "subscription": dict(SUBSCRIPTION, status="webhook_callback_verification_pending", cost=1,
                         condition={"broadcaster_user_id": "12826"}),
}
REVOCATION = {"subscription": dict(SUBSCRIPTION, status="authorization_revoked", cost=1,
                                   condition={"broadcaster_user_id": "12826"})}


def timestamp(seconds_ago=0):
    t = time.time() - seconds_ago
    whole = datetime.datetime.fromtimestamp(int(t), datetime.timezone.utc)
    return whole.strftime("%Y-%m-%dT%H:%M:%S") + ".%09dZ" % int((t % 1) * 1e9)


def sign(message_id, ts, body):
    mac = hmac.new(SECRET.encode(), (message_id + ts + body).encode(), hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(headers, body, now):
    ts = headers["Twitch-Eventsub-Message-Timestamp"]
    sent = datetime.datetime.fromisoformat(ts[:26] + "+00:00").timestamp()
    expected = sign(headers["Twitch-Eventsub-Message-Id"], ts, body)
    return now - sent <= 600 and hmac.compare_digest(expected, headers["Twitch-Eventsub-Message-Signature"])


def delivery(name, url, kind, message_id, body, ts=None, signed_body=None, **expect):
    ts = ts or timestamp()
    headers = {
        "Content-Type": "application/json",
        "Twitch-Eventsub-Message-Id": message_id,
        "Twitch-Eventsub-Message-Retry": "0",
        "Twitch-Eventsub-Message-Type": kind,
        "Twitch-Eventsub-Message-Signature": sign(message_id, ts, signed_body or body),
        "Twitch-Eventsub-Message-Timestamp": ts,
        "Twitch-Eventsub-Subscription-Type": "channel.follow",
        "Twitch-Eventsub-Subscription-Version": "2",
    }
    return vectors.delivery(name, url, headers, body, **expect)


def deliveries(url):
    now = time.time()
    notification = json.dumps(NOTIFICATION)
    tampered = notification.replace("Cool_User", "Cool_Usel")
    genuine = delivery("genuine", url, "notification", MESSAGE_ID, notification, status=200, records=1)
    retry = dict(genuine, name="retry of the same message id", records=0)
    retry["headers"] = dict(genuine["headers"], **{"Twitch-Eventsub-Message-Retry": "1"})
    changed = delivery("one byte changed", url, "notification", MESSAGE_ID + "-2", tampered,
                       signed_body=notification, status=401, records=0, error="invalid signature")
    stale = delivery("signed 20 minutes ago", url, "notification", MESSAGE_ID + "-3", notification,
                     ts=timestamp(1200), status=401, records=0, error="expired signature")
    challenge = delivery("webhook_callback_verification", url, "webhook_callback_verification",
                         "a1b2c3d4-0000-4000-8000-000000000001", json.dumps(CHALLENGE), status=200,
                         records=0, reply=CHALLENGE["challenge"])
    revocation = delivery("revocation", url, "revocation", "84c1e79a-2a4b-4c13-ba0b-4312293e9308",
                          json.dumps(REVOCATION), status=200, records=1)

    for d in (genuine, challenge, revocation):
        assert verify(d["headers"], d["body"], now)
    assert not verify(changed["headers"], changed["body"], now)
    assert not verify(stale["headers"], stale["body"], now)
    assert sign(MESSAGE_ID + "-3", stale["headers"]["Twitch-Eventsub-Message-Timestamp"], notification) == \
        stale["headers"]["Twitch-Eventsub-Message-Signature"]
    return [challenge, genuine, retry, changed, stale, revocation]


if __name__ == "__main__":
    vectors.run(config={"sender": "twitch", "signature": {"secret": SECRET}}, deliveries=deliveries)
