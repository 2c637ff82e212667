# Source: Intercom's "Signed notifications",
# https://developers.intercom.com/docs/webhooks/setting-up-webhooks#signed-notifications:
# X-Hub-Signature is "sha1=" + hex HMAC-SHA1 of the body keyed with the app's client secret.
# Intercom's SDKs (python-intercom on PyPI, intercom-client 7.0.3 on npm) call the REST API
# and do not verify webhooks, so the deliveries are signed and checked by that algorithm here.
# The bodies follow the "ping" and "user.created" notification examples of
# https://developers.intercom.com/docs/references/webhooks/webhook-models. Intercom signs no
# timestamp, so there is no stale delivery.
import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import hashlib
import hmac
import json

CLIENT_SECRET = "c3f5a1d2-7b8e-4f90-a1b2-c3d4e5f6a7b8"

PING = {
    "type": "notification_event", "app_id": "a86dr8yl",
    "data": {"type": "notification_event_data",
             "item": {"type": "ping", "message": "something something interzen"}},
    "links": {}, "id": None, "topic": "ping", "delivery_status": None, "delivery_attempts": 1,
    "delivered_at": 0, "first_sent_at": 1409237553, "created_at": 1409237553, "self": None,
}
USER_CREATED = {
    "type": "notification_event", "app_id": "a86dr8yl",
    "data": {"type": "notification_event_data",
             "item": {"type": "user", "id": "530370b477ad7120001d", "user_id": "25",
                      "email": "wash@serenity.io", "name": "Hoban Washburne", "unsubscribed_from_emails": False,
                      "created_at": 1392731331, "remote_created_at": 1392734388, "signed_up_at": 1392734388,
                      "updated_at": 1392734388, "session_count": 0,
                      "custom_attributes": {}, "tags": {"type": "tag.list", "tags": []}}},
    "links": {}, "id": "notif_ccd8a4d0-f965-11e3-a367-c779cae3e1b3", "topic": "user.created",
    "delivery_status": "pending", "delivery_attempts": 1, "delivered_at": 0,
    "first_sent_at": 1392731331, "created_at": 1392731331, "self": None,
}


def sign(body):
    return "sha1=" + vectors.hmac_hex(CLIENT_SECRET, body, hashlib.sha1)


def verify(body, received):
    return hmac.compare_digest(received, sign(body))


def delivery(name, url, body, signature, **expect):
    headers = {"Content-Type": "application/json", "X-Hub-Signature": signature,
               "User-Agent": "Intercom-Webhooks-Client/1.0"}
    return vectors.delivery(name, url, headers, body, **expect)


def deliveries(url):
    ping = json.dumps(PING)
    created = json.dumps(USER_CREATED)
    tampered = created.replace("Washburne", "Washburnf")

    assert verify(ping, sign(ping)) and verify(created, sign(created))
    assert not verify(tampered, sign(created))
    return [
        delivery("ping", url, ping, sign(ping), status=200, records=1),
        delivery("genuine", url, created, sign(created), status=200, records=1),
        delivery("one byte changed", url, tampered, sign(created), status=401, records=0,
                 error="invalid signature"),
    ]


if __name__ == "__main__":
    vectors.run(
        config={"sender": "intercom", "signature": {"secret": CLIENT_SECRET}},
        deliveries=deliveries,
    )
