# Source: Typeform's "Secure your webhooks", https://www.typeform.com/developers/webhooks/secure-your-webhooks/:
# Typeform-Signature is "sha256=" + base64 HMAC-SHA256 of the body keyed with the webhook's
# secret. Typeform has no SDK on PyPI, and its npm packages (@typeform/api-client 2.10.4,
# @typeform/embed) do not verify webhooks, so the deliveries are signed and checked by that
# algorithm here (verify() compares in constant time, as the page's examples do). The body
# follows the example of https://www.typeform.com/developers/webhooks/example-payload/, shortened
# to two answers. Typeform signs no timestamp, so there is no stale delivery.
import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import base64
import hmac
import json

SECRET = "8a1bfc2e0f1d4b0c9a3b7e6d5c4f3a2b"

PAYLOAD = {
    "event_id": "LtWXD3crgy",
    "event_type": "form_response",
    "form_response": {
        "form_id": "lT4Z3j",
        "token": "a3a12ec67a1365927098a606107fac15",
        "submitted_at": "2018-01-18T18:17:02Z",
        "landed_at": "2018-01-18T18:07:02Z",
        "calculated": {"score": 9},
        "definition": {
            "id": "lT4Z3j",
            "title": "Webhooks example",
            "fields": [
                {"id": "DlXFaesGBpoF", "title": "Thanks, {{answer_60906475}}! What's it like being a robot?",
                 "type": "long_text", "ref": "readable_ref_long_text",
                 "allow_multiple_selections": False, "allow_other_choice": False},
                {"id": "SMEUb7VJz92Q", "title": "What is your email address?", "type": "email",
                 "ref": "readable_ref_email", "allow_multiple_selections": False,
                 "allow_other_choice": False},
            ],
        },
        "answers": [
            {"type": "text", "text": "It's cold right now! I'm freezing...",
             "field": {"id": "DlXFaesGBpoF", "type": "long_text", "ref": "readable_ref_long_text"}},
            {"type": "email", "email": "laura@example.com",
             "field": {"id": "SMEUb7VJz92Q", "type": "email", "ref": "readable_ref_email"}},
        ],
    },
}


def sign(body):
    mac = vectors.hmac_digest(SECRET, body)
    return "sha256=" + base64.b64encode(mac).decode()


def verify(body, received):
    return hmac.compare_digest(received, sign(body))


def deliveries(url):
    body = json.dumps(PAYLOAD)
    signature = sign(body)
    tampered = body.replace("freezing", "freezinG")
    headers = {"Content-Type": "application/json", "Typeform-Signature": signature}

    assert verify(body, signature)
    assert not verify(tampered, signature)
    return vectors.genuine_changed_stale(url, headers, body, tampered)


if __name__ == "__main__":
    vectors.run(
        config={"sender": "typeform", "signature": {"secret": SECRET}},
        deliveries=deliveries,
    )
