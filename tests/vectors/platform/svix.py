# Vectors for the `svix` preset, made and checked by svix 2.9.1 (PyPI), Svix's own library
# (svix.webhooks.Webhook: sign and verify). Payload: the example event of Svix's docs
# (docs.svix.com, "Sending messages": an invoice.paid message); secret: the one of Svix's
# verification docs and library tests (docs.svix.com/receiving/verifying-payloads/how-manual).
import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import json

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




def deliveries(url):
    webhook = Webhook(SECRET)
    tampered = BODY.replace('"attempt": 2', '"attempt": 3')
    ids = ("msg_p5jXN8AQM9LWM0D4loKWxJek", "msg_p5jXN8AQM9LWM0D4loKWxJel")
    return vectors.svix_family(
        url, webhook, webhook.verify, WebhookVerificationError, "svix", BODY, tampered, ids
    )


if __name__ == "__main__":
    vectors.run(config={"sender": "svix", "signature": {"secret": SECRET}}, deliveries=deliveries)
