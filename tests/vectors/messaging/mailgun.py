# Source: mailgun 1.10.0 (PyPI, Mailgun's Python SDK; github.com/mailgun/mailgun-python
# mailgun/security.py): SecurityGuard.verify_webhook accepts or refuses each delivery here. The
# signature is hex HMAC-SHA256 of timestamp + token with the webhook signing key, as
# https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks
# specifies (the SDK only verifies, so the deliveries are signed by that algorithm). The body
# follows the "delivered" webhook example of
# https://documentation.mailgun.com/docs/mailgun/user-manual/events/webhooks; the signing key is
# made up. Mailgun signs timestamp and token only, not the event data: the byte changed is in
# the token.
import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import json
import time

# This file is mailgun.py: keep its folder off the path so that `mailgun` is the SDK.
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

from mailgun.security import SecurityGuard  # noqa: E402

SIGNING_KEY = "key-7e55d003b1e3d7b5c8f9e4a2a1f3b2c4"  # made up
TOKEN = "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0"

EVENT_DATA = {
    "tags": ["my_tag_1", "my_tag_2"],
    "timestamp": 1521472262.908181,
    "storage": {"url": "https://se.api.mailgun.net/v3/domains/sandbox.mailgun.org/messages/message_key",
                "key": "message_key"},
    "envelope": {"transport": "smtp", "sender": "bob@sandbox.mailgun.org",
                 "sending-ip": "209.61.154.250", "targets": "alice@example.com"},
    "recipient-domain": "example.com",
    "id": "CPgfbmQMTCKtHW6uIWtuVe",
    "campaigns": [],
    "user-variables": {"my_var_1": "Mailgun Variable #1", "my-var-2": "awesome"},
    "flags": {"is-routed": False, "is-authenticated": True, "is-system-test": False, "is-test-mode": False},
    "log-level": "info",
    "message": {"headers": {"to": "Alice <alice@example.com>", "message-id": "20130503182626.18666.16540@sandbox.mailgun.org",
                            "from": "Bob <bob@sandbox.mailgun.org>", "subject": "Test delivered webhook"},
                "attachments": [], "size": 111},
    "recipient": "alice@example.com",
    "event": "delivered",
    "delivery-status": {"tls": True, "mx-host": "smtp-in.example.com", "attempt-no": 1, "description": "",
                        "session-seconds": 0.4331989288330078, "utf8": True, "code": 250,
                        "message": "OK", "certificate-verified": True},
}


def sign(timestamp, token):
    return vectors.hmac_hex(SIGNING_KEY, timestamp + token)


def delivery(name, url, timestamp, token, signature, **expect):
    body = json.dumps({"signature": {"timestamp": timestamp, "token": token, "signature": signature},
                       "event-data": EVENT_DATA})
    return vectors.delivery(name, url, {"Content-Type": "application/json"}, body, **expect)


def verify(timestamp, token, signature):
    # 300 seconds: the tap's default tolerance (the SDK's own default is 900).
    return SecurityGuard.verify_webhook(SIGNING_KEY, token, timestamp, signature, max_age_seconds=300)


def deliveries(url):
    now = str(int(time.time()))
    signature = sign(now, TOKEN)
    tampered = TOKEN[:-1] + "1"
    stale = str(int(time.time()) - 600)
    stale_signature = sign(stale, TOKEN)

    assert verify(now, TOKEN, signature)
    assert not verify(now, tampered, signature)
    assert not verify(stale, TOKEN, stale_signature)
    assert SecurityGuard.verify_webhook(SIGNING_KEY, TOKEN, stale, stale_signature, max_age_seconds=0)
    return [
        delivery("genuine", url, now, TOKEN, signature, status=200, records=1),
        delivery("one byte changed (the token)", url, now, tampered, signature, status=401,
                 records=0, error="invalid signature"),
        delivery("signed 10 minutes ago", url, stale, TOKEN, stale_signature, status=401,
                 records=0, error="expired signature"),
    ]


if __name__ == "__main__":
    vectors.run(
        config={"sender": "mailgun", "signature": {"secret": SIGNING_KEY}},
        deliveries=deliveries,
    )
