# Vectors for the `resend` preset, checked by resend 2.51.0 (PyPI): resend.Webhooks.verify, the
# SDK's own verifier (Resend sends through Svix: svix-id, svix-timestamp, svix-signature).
# Signed with svix 2.9.1 (PyPI), the library Resend's docs name
# (resend.com/docs/webhooks/verify-webhooks-requests). Payload: the email.sent example of
# Resend's docs (resend.com/docs/dashboard/webhooks/event-types).
import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import json

# The scripts here are named after the packages they import (svix.py imports svix): keep this
# folder off the import path.
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != HERE]

import resend
from svix.webhooks import Webhook

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS3jUeqRfA8"
BODY = json.dumps(
    {
        "type": "email.sent",
        "created_at": "2024-02-22T23:41:12.126Z",
        "data": {
            "created_at": "2024-02-22T23:41:11.894719+00:00",
            "email_id": "56761188-7520-42d8-8898-ff6fc54ce618",
            "from": "Acme <onboarding@resend.dev>",
            "to": ["delivered@resend.dev"],
            "subject": "Sending this example",
            "tags": {"category": "confirm_email"},
        },
    }
)



def verify(body, headers):
    resend.Webhooks.verify(
        {
            "payload": body,
            "headers": {
                "id": headers["svix-id"],
                "timestamp": headers["svix-timestamp"],
                "signature": headers["svix-signature"],
            },
            "webhook_secret": SECRET,
        }
    )



def deliveries(url):
    tampered = BODY.replace("Acme", "Acmf")
    ids = ("msg_2cWJ6JESXD5mUOmNBSfdZnTyF8b", "msg_2cWJ6JESXD5mUOmNBSfdZnTyF8c")
    return vectors.svix_family(
        url, Webhook(SECRET), verify, ValueError, "svix", BODY, tampered, ids
    )


if __name__ == "__main__":
    vectors.run(config={"sender": "resend", "signature": {"secret": SECRET}}, deliveries=deliveries)
