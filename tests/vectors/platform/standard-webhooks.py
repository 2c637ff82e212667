# Vectors for the `standard-webhooks` preset, made and checked by the reference library
# standardwebhooks 1.1.0 (PyPI; github.com/standard-webhooks/standard-webhooks, libraries/python).
# Payload: the example of the specification (spec/standard-webhooks.md, "Payload structure").
# The secret is the unpadded one the library accepts (issue #28: the tap must read it as it does).
import json
import sys
import time
from datetime import datetime, timezone

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS"
BODY = json.dumps(
    {
        "type": "contact.created",
        "timestamp": "2022-11-03T20:26:10.344522Z",
        "data": {
            "id": "1f81eb52-5198-4599-803e-771906343485",
            "type": "contact",
            "name": "Some Name",
        },
    }
)


def signed(msg_id, body, at):
    wh = Webhook(SECRET)
    when = datetime.fromtimestamp(at, tz=timezone.utc)
    return {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(at),
        "webhook-signature": wh.sign(msg_id, when, body),
    }


def refused(body, headers):
    try:
        Webhook(SECRET).verify(body, headers)
    except WebhookVerificationError:
        return True
    return False


def deliveries(url):
    now = int(time.time())
    genuine = signed("msg_2KWPBgLlAfxdpx2AI54pPJ85f1W", BODY, now)
    Webhook(SECRET).verify(BODY, genuine)
    tampered = BODY.replace("Some Name", "Some Nane")
    assert refused(tampered, genuine)
    stale = signed("msg_2KWPBgLlAfxdpx2AI54pPJ85f1X", BODY, now - 600)
    assert refused(BODY, stale)
    post = {"method": "POST", "url": url}
    # Refusals first: they are never journaled, so the genuine delivery is new after them.
    return [
        {**post, "name": "one byte changed", "headers": genuine, "body": tampered, "status": 401,
         "records": 0, "error": "invalid signature"},
        {**post, "name": "signed 10 minutes ago", "headers": stale, "body": BODY, "status": 401,
         "records": 0, "error": "expired signature"},
        {**post, "name": "genuine", "headers": genuine, "body": BODY, "status": 200, "records": 1},
        {**post, "name": "redelivered (same webhook-id)", "headers": genuine, "body": BODY,
         "status": 200, "records": 0},
    ]


if __name__ == "__main__":
    if sys.argv[1] == "config":
        print(json.dumps({"sender": "standard-webhooks", "signature": {"secret": SECRET}}))
    else:
        print(json.dumps(deliveries(sys.argv[2]), indent=1))
