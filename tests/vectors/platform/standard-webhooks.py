# Vectors for the `standard-webhooks` preset, made and checked by the reference library
# standardwebhooks 1.1.0 (PyPI; github.com/standard-webhooks/standard-webhooks, libraries/python).
# Payload: the example of the specification (spec/standard-webhooks.md, "Payload structure").
# The secret is the unpadded one the library accepts (issue #28: the tap must read it as it does).
import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import json

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




def deliveries(url):
    webhook = Webhook(SECRET)
    tampered = BODY.replace("Some Name", "Some Nane")
    ids = ("msg_2KWPBgLlAfxdpx2AI54pPJ85f1W", "msg_2KWPBgLlAfxdpx2AI54pPJ85f1X")
    return vectors.svix_family(
        url, webhook, webhook.verify, WebhookVerificationError, "webhook", BODY, tampered, ids
    )


if __name__ == "__main__":
    vectors.run(
        config={"sender": "standard-webhooks", "signature": {"secret": SECRET}},
        deliveries=deliveries,
    )
