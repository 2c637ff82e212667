# Source: twilio 9.13.0 (PyPI; github.com/twilio/twilio-python twilio/request_validator.py):
# RequestValidator.compute_signature signs each delivery over the URL the tap is called at and
# the form fields, and RequestValidator.validate accepts or refuses each one here. The fields
# are those of an incoming SMS as listed in https://www.twilio.com/docs/messaging/guides/webhook-request
# (the values made up); I-Twilio-Idempotency-Token is the retry-stable id described in
# https://www.twilio.com/docs/usage/webhooks/webhooks-connection-overrides. Twilio signs no
# timestamp, so there is no stale delivery.
import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import urllib.parse

# This file is twilio.py: keep its folder off the path so that `twilio` is the SDK.
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

from twilio.request_validator import RequestValidator

AUTH_TOKEN = "12345"  # twilio-python's own test token (tests/unit/test_request_validator.py)

SMS = {
    "ToCountry": "US",
    "ToState": "CA",
    "SmsMessageSid": "SM1b2e0e0f3b8c4a2e9c5d6f7a8b9c0d1e",
    "NumMedia": "0",
    "ToCity": "SAN FRANCISCO",
    "FromZip": "94105",
    "SmsSid": "SM1b2e0e0f3b8c4a2e9c5d6f7a8b9c0d1e",
    "FromState": "CA",
    "SmsStatus": "received",
    "FromCity": "SAN FRANCISCO",
    "Body": "Ahoy! We can't wait to see what you build.",
    "FromCountry": "US",
    "To": "+14155552671",
    "ToZip": "94105",
    "NumSegments": "1",
    "MessageSid": "SM1b2e0e0f3b8c4a2e9c5d6f7a8b9c0d1e",
    "AccountSid": "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    "From": "+14155552345",
    "ApiVersion": "2010-04-01",
}
IDEMPOTENCY = "b5a4e0e3-7a5a-4f0e-9a1c-3f0a1b2c3d4e"

validator = RequestValidator(AUTH_TOKEN)


def deliveries(url):
    body = urllib.parse.urlencode(SMS)
    signature = validator.compute_signature(url, SMS)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": signature,
        "I-Twilio-Idempotency-Token": IDEMPOTENCY,
        "X-Home-Region": "us1",
    }
    genuine = vectors.delivery("genuine", url, headers, body)
    retry = dict(genuine, name="Twilio's retry, same idempotency token", records=0)
    tampered_fields = dict(SMS, Body=SMS["Body"].replace("Ahoy", "Ahoi"))
    tampered = dict(genuine, name="one byte changed", body=urllib.parse.urlencode(tampered_fields),
                    headers=dict(headers, **{"I-Twilio-Idempotency-Token": IDEMPOTENCY + "-2"}),
                    status=401, records=0, error="invalid signature")

    assert validator.validate(url, SMS, signature)
    assert not validator.validate(url, tampered_fields, signature)
    return [genuine, retry, tampered]


if __name__ == "__main__":
    vectors.run(
        config={"sender": "twilio", "signature": {"secret": AUTH_TOKEN}},
        deliveries=deliveries,
    )
