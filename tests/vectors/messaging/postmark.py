# Source: Postmark's "Webhooks overview", https://postmarkapp.com/developer/webhooks/webhooks-overview#protecting-your-webhook:
# Postmark does not sign webhooks; it sends the HTTP Basic credentials set on the webhook
# (RFC 7617: Authorization: Basic base64(username:password)), so each delivery here carries
# them as Postmark sends them, and the refused ones carry other or no credentials. The bodies
# are the examples of https://postmarkapp.com/developer/webhooks/bounce-webhook and
# https://postmarkapp.com/developer/webhooks/delivery-webhook. Nothing is signed, so there is
# no tampered or stale delivery: a changed body is accepted like any other with the right
# credentials.
import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import base64
import json

USERNAME = "postmark-webhooks"
PASSWORD = "Vx8q-3rTz-0pLm-7YwK"

BOUNCE = {
    "RecordType": "Bounce", "MessageStream": "outbound", "ID": 4323372036854775807,
    "Type": "HardBounce", "TypeCode": 1, "Name": "Hard bounce", "Tag": "Test",
    "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
    "Metadata": {"a_key": "a_value", "b_key": "b_value"}, "ServerID": 23,
    "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
    "Details": "Test bounce details", "Email": "john@example.com", "From": "sender@example.com",
    "BouncedAt": "2019-11-05T16:33:54.9070259Z", "DumpAvailable": True, "Inactive": True,
    "CanActivate": True, "Subject": "Test subject", "Content": "<Full dump of bounce>",
}
DELIVERY = {
    "RecordType": "Delivery", "ServerID": 23, "MessageStream": "outbound",
    "MessageID": "00000000-0000-0000-0000-000000000000", "Recipient": "john@example.com",
    "Tag": "welcome-email", "DeliveredAt": "2021-02-21T16:34:52Z",
    "Details": "Test delivery webhook details", "Metadata": {"a_key": "a_value", "b_key": "b_value"},
}


def basic(username, password):
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def delivery(name, url, body, authorization, **expect):
    headers = {"Content-Type": "application/json", "User-Agent": "Postmark"}
    if authorization:
        headers["Authorization"] = authorization
    return vectors.delivery(name, url, headers, json.dumps(body), **expect)


def deliveries(url):
    good = basic(USERNAME, PASSWORD)
    assert base64.b64decode(good.split()[1]).decode() == f"{USERNAME}:{PASSWORD}"
    return [
        delivery("genuine (Bounce)", url, BOUNCE, good, status=200, records=1),
        delivery("genuine (Delivery)", url, DELIVERY, good, status=200, records=1),
        delivery("another password", url, BOUNCE, basic(USERNAME, PASSWORD[:-1] + "L"),
                 status=401, records=0, error="invalid signature"),
        delivery("another username", url, BOUNCE, basic(USERNAME + "x", PASSWORD), status=401,
                 records=0, error="invalid signature"),
        delivery("no credentials", url, BOUNCE, None, status=401, records=0,
                 error="missing signature"),
    ]


if __name__ == "__main__":
    vectors.run(
        config={"sender": "postmark", "signature": {"username": USERNAME, "password": PASSWORD}},
        deliveries=deliveries,
    )
