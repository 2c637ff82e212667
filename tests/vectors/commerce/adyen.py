# Source: a notification Adyen signed, with its HMAC key, from the reference library's test
# fixtures (github.com/Adyen/adyen-python-api-library test/mocks/util/colon_notification.json, key
# in test/UtilTest.py), wrapped in notificationItems as Adyen sends it; a second one signed by the
# `Adyen` package 16.0.0 (PyPI, Adyen.util.generate_notification_sig). Adyen.util.
# is_valid_hmac_notification accepts both and refuses the changed one. Scheme:
# https://docs.adyen.com/development-resources/webhooks/secure-webhooks/verify-hmac-signatures/
# (only the payment fields are signed, so the changed byte is in amount.value). Adyen requires
# the reply `[accepted]`.
import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import copy
import json

from Adyen.util import generate_notification_sig, is_valid_hmac_notification

KEY = "74F490DD33F7327BAECC88B2947C011FC02D014A473AAA33A8EC93E4DC069174"

SIGNED_BY_ADYEN = {
    "additionalData": {
        "acquirerCode": "TestPmmAcquirer",
        "acquirerReference": "8NQH5BNF58M",
        "authCode": "039404",
        "avsResult": "5 No AVS data provided",
        "avsResultRaw": "5",
        "cardSummary": "1111",
        "checkout.cardAddedBrand": "visa",
        "cvcResult": "1 Matches",
        "cvcResultRaw": "M",
        "expiryDate": "03/2030",
        "hmacSignature": "2EQYm7YJpKO4EtHSPu55SQTyWf8dkW5u2nD1tJFpViA=",
        "paymentMethod": "visa",
        "refusalReasonRaw": "AUTHORISED",
        "retry.attempt1.acquirer": "TestPmmAcquirer",
        "retry.attempt1.acquirerAccount": "TestPmmAcquirerAccount",
        "retry.attempt1.avsResultRaw": "5",
        "retry.attempt1.rawResponse": "AUTHORISED",
        "retry.attempt1.responseCode": "Approved",
        "retry.attempt1.scaExemptionRequested": "lowValue",
        "scaExemptionRequested": "lowValue",
    },
    "amount": {"currency": "EUR", "value": 1000},
    "eventCode": "AUTHORISATION",
    "eventDate": "2023-01-10T13:40:54+01:00",
    "merchantAccountCode": "AntoniStroinski",
    "merchantReference": ":slashes are fun",
    "operations": ["CANCEL", "CAPTURE", "REFUND"],
    "paymentMethod": "visa",
    "pspReference": "M8NB66SBZSGLNK82",
    "reason": "039404:1111:03/2030",
    "success": "true",
}


def notification(item):
    return {"live": "false", "notificationItems": [{"NotificationRequestItem": item}]}


def capture():
    """A CAPTURE of the payment above, signed by the SDK."""
    item = {
        "amount": {"currency": "EUR", "value": 1000},
        "eventCode": "CAPTURE",
        "eventDate": "2023-01-10T13:41:30+01:00",
        "merchantAccountCode": "AntoniStroinski",
        "merchantReference": ":slashes are fun",
        "originalReference": "M8NB66SBZSGLNK82",
        "paymentMethod": "visa",
        "pspReference": "QFQTPCQ8HXSKGK82",
        "reason": "",
        "success": "true",
    }
    item["additionalData"] = {"hmacSignature": generate_notification_sig(item, KEY).decode()}
    return item


def deliveries(url):
    headers = {"Content-Type": "application/json"}
    out = []
    for name, item in [("genuine, signed by Adyen", SIGNED_BY_ADYEN), ("genuine CAPTURE", capture())]:
        assert is_valid_hmac_notification(notification(item), KEY)
        out.append(vectors.delivery(
            name, url, headers, json.dumps(notification(item)),
            stream=item["eventCode"].lower(), reply="[accepted]",
        ))
    changed = copy.deepcopy(SIGNED_BY_ADYEN)
    changed["amount"]["value"] = 1001
    assert not is_valid_hmac_notification(notification(changed), KEY)
    out.append(vectors.refused(
        "one byte changed (amount.value)", url, headers,
        json.dumps(notification(changed)),
    ))
    return out


if __name__ == "__main__":
    vectors.run(config={"sender": "adyen", "signature": {"secret": KEY}}, deliveries=deliveries)
