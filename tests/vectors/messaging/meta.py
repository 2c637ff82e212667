# Source: Meta's "Getting started" with Webhooks,
# https://developers.facebook.com/docs/graph-api/webhooks/getting-started: the verification
# request (GET ?hub.mode=subscribe&hub.challenge=…&hub.verify_token=…, answered with the
# challenge; the values here are that page's example) and "Validate payloads":
# X-Hub-Signature-256 is "sha256=" + hex HMAC-SHA256 of the body (Unicode escaped, as
# json.dumps writes it) keyed with the App Secret. Meta publishes no SDK that verifies
# webhooks (facebook-business on PyPI calls the Marketing API), so the deliveries are signed
# and checked by that algorithm here. The bodies follow the Messenger "messages" example of
# https://developers.facebook.com/docs/messenger-platform/reference/webhook-events/messages and
# the WhatsApp text message example of
# https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/payload-examples (its text
# given a non-ASCII part, to sign the escaped form Meta sends). Meta signs
# no timestamp, so there is no stale delivery.
import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import hmac
import json
import urllib.parse

APP_SECRET = "d1a3c5e7f9b2d4f6a8c0e2b4d6f8a0c2"
VERIFY_TOKEN = "meatyhamhock"
CHALLENGE = "1158201444"

MESSENGER = {
    "object": "page",
    "entry": [{"id": "106540352242922", "time": 1458692752478, "messaging": [{
        "sender": {"id": "4102290129340398"}, "recipient": {"id": "106540352242922"},
        "timestamp": 1458692752478,
        "message": {"mid": "mid.1457764197618:41d102a3e1ae206a38", "text": "hello, world!",
                    "quick_reply": {"payload": "DEVELOPER_DEFINED_PAYLOAD"}}}]}],
}
WHATSAPP = {
    "object": "whatsapp_business_account",
    "entry": [{"id": "102290129340398", "changes": [{"value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
        "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}],
        "messages": [{"from": "16505551234", "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
                      "timestamp": "1749416383", "type": "text",
                      "text": {"body": "Does it come in another color? ¿En otro color?"}}]},
        "field": "messages"}]}],
}


def sign(body):
    return "sha256=" + vectors.hmac_hex(APP_SECRET, body)


def verify(body, received):
    return hmac.compare_digest(received, sign(body))


def post(name, url, body, signature, **expect):
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": signature}
    return vectors.delivery(name, url, headers, body, **expect)


def get(name, url, token, **expect):
    query = urllib.parse.urlencode({"hub.mode": "subscribe", "hub.challenge": CHALLENGE,
                                    "hub.verify_token": token})
    return vectors.delivery(name, f"{url}?{query}", {}, None, method="GET", **expect)


def deliveries(url):
    messenger = json.dumps(MESSENGER)
    whatsapp = json.dumps(WHATSAPP)
    tampered = messenger.replace("hello, world!", "hello, world?")

    assert "\\u00bf" in whatsapp  # escaped, as Meta sends it
    assert verify(messenger, sign(messenger)) and verify(whatsapp, sign(whatsapp))
    assert not verify(tampered, sign(messenger))
    return [
        get("verification request", url, VERIFY_TOKEN, status=200, records=0, reply=CHALLENGE),
        get("verification request with another verify token", url, "not-" + VERIFY_TOKEN,
            status=403, records=0),
        post("genuine (Messenger)", url, messenger, sign(messenger), status=200, records=1),
        post("genuine (WhatsApp)", url, whatsapp, sign(whatsapp), status=200, records=1),
        post("one byte changed", url, tampered, sign(messenger), status=401, records=0,
             error="invalid signature"),
    ]


if __name__ == "__main__":
    vectors.run(
        config={
            "sender": "meta",
            "signature": {"secret": APP_SECRET},
            "handshake": {"verify_token": VERIFY_TOKEN},
        },
        deliveries=deliveries,
    )
