# Vectors for the `svix` preset, made and checked by svix 2.9.1 (PyPI), Svix's own library
# (svix.webhooks.Webhook: sign and verify). Payload: the example event of Svix's docs
# (docs.svix.com, "Sending messages": an invoice.paid message); secret: the one of Svix's
# verification docs and library tests (docs.svix.com/receiving/verifying-payloads/how-manual).
import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import json
import time

# The scripts here are named after the packages they import (svix.py imports svix): keep this
# folder off the import path.
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != HERE]

from svix.webhooks import Webhook, WebhookVerificationError

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS"
BODY = json.dumps(
    {
        "type": "invoice.paid",
        "id": "invoice_WF7WtCLFFtd8ubcTgboSFNql",
        "status": "paid",
        "attempt": 2,
    }
)


def signed(msg_id, body, at):
    return vectors.svix_headers(Webhook(SECRET), "svix", msg_id, body, at)


def refused(body, headers):
    return vectors.raises(WebhookVerificationError, Webhook(SECRET).verify, body, headers)


def deliveries(url):
    now = int(time.time())
    genuine = signed("msg_p5jXN8AQM9LWM0D4loKWxJek", BODY, now)
    Webhook(SECRET).verify(BODY, genuine)
    tampered = BODY.replace('"attempt": 2', '"attempt": 3')
    assert refused(tampered, genuine)
    stale = signed("msg_p5jXN8AQM9LWM0D4loKWxJel", BODY, now - 600)
    assert refused(BODY, stale)
    return vectors.svix_deliveries(url, "svix", BODY, genuine, tampered, stale)


if __name__ == "__main__":
    vectors.run(config={"sender": "svix", "signature": {"secret": SECRET}}, deliveries=deliveries)
