# Vectors for the `hubspot` preset (v3 signature), made and checked by hubspot-api-client
# 12.0.0 (PyPI): hubspot.utils.signature.Signature.get_signature and is_valid with
# signature_version="v3" (HMAC-SHA256 over method + URI + body + X-HubSpot-Request-Timestamp,
# base64; developers.hubspot.com/docs/api/webhooks/validating-requests). Payload: the
# contact.creation example of that page, plus a contact.propertyChange event in the same batch
# (HubSpot sends a JSON array of events; the tap routes each by its subscriptionType).
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

from hubspot.exceptions import InvalidSignatureTimestampError
from hubspot.utils.signature import Signature

SECRET = "6e3f1a4c-9b2d-4f7e-8a15-0c3d5b7e9f21"
BODY = json.dumps(
    [
        {"eventId": 1, "subscriptionId": 12345, "portalId": 62515, "occurredAt": 1564113600000,
         "subscriptionType": "contact.creation", "attemptNumber": 0, "objectId": 123,
         "changeSource": "CRM", "changeFlag": "NEW", "appId": 54321},
        {"eventId": 2, "subscriptionId": 12346, "portalId": 62515, "occurredAt": 1564113600500,
         "subscriptionType": "contact.propertyChange", "attemptNumber": 0, "objectId": 123,
         "propertyName": "firstname", "propertyValue": "Brian", "changeSource": "CRM",
         "appId": 54321},
    ],
    separators=(",", ":"),
)


def signed(url, body, at_ms):
    sig = Signature.get_signature(SECRET, body, "v3", http_uri=url, http_method="POST",
                                  timestamp=str(at_ms))
    return {
        "Content-Type": "application/json",
        "X-HubSpot-Signature-v3": sig,
        "X-HubSpot-Request-Timestamp": str(at_ms),
    }


def valid(url, body, headers):
    try:
        return Signature.is_valid(headers["X-HubSpot-Signature-v3"], SECRET, body, http_uri=url,
                                  http_method="POST", signature_version="v3",
                                  timestamp=headers["X-HubSpot-Request-Timestamp"])
    except InvalidSignatureTimestampError:
        return False


def deliveries(url):
    now_ms = int(time.time() * 1000)
    genuine = signed(url, BODY, now_ms)
    assert valid(url, BODY, genuine)
    tampered = BODY.replace('"objectId":123', '"objectId":124', 1)
    assert not valid(url, tampered, genuine)
    stale = signed(url, BODY, now_ms - 600_000)
    assert not valid(url, BODY, stale)
    return vectors.genuine_changed_stale(
        url, genuine, BODY, tampered, stale, name="genuine (two events)", records=2,
    )


if __name__ == "__main__":
    vectors.run(
        config={"sender": "hubspot", "signature": {"secret": SECRET}},
        deliveries=deliveries,
    )
