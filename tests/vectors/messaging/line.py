# Source: line-bot-sdk 3.27.0 (PyPI; github.com/line/line-bot-sdk-python linebot/v3/webhook.py):
# WebhookParser.parse (SignatureValidator inside) accepts or refuses each delivery here and
# parses the genuine one into its event objects. X-Line-Signature is base64 HMAC-SHA256 of the
# body keyed with the channel secret, as https://developers.line.biz/en/reference/messaging-api/#signature-validation
# specifies (the SDK only verifies, so the deliveries are signed by that algorithm). The body
# is the text message example of https://developers.line.biz/en/reference/messaging-api/#message-event
# and the follow example of #follow-event. LINE signs no timestamp, so there is no stale
# delivery.
import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import base64
import json

from linebot.v3 import WebhookParser
from linebot.v3.exceptions import InvalidSignatureError

CHANNEL_SECRET = "8c570fa6dd201bb328f1c1eac23a96d8"

BODY = {
    "destination": "U3b0f1c2d3e4f5a6b7c8d9e0f1a2b3c4d",
    "events": [
        {"replyToken": "nHuyWiB7yP5Zw52FIkcQobQuGDXCTA", "type": "message", "mode": "active",
         "timestamp": 1462629479859,
         "source": {"type": "group", "groupId": "Ca56f94637c...", "userId": "U4af4980629..."},
         "webhookEventId": "01FZ74A0TDDPYRVKNK77XKC3ZR", "deliveryContext": {"isRedelivery": False},
         "message": {"id": "444573844083572737", "type": "text", "quoteToken": "q3Plxr4AgKd...",
                     "text": "@All @example Good Morning!! (love)",
                     "emojis": [{"index": 29, "length": 6, "productId": "5ac1bfd5040ab15980c9b435",
                                 "emojiId": "001"}],
                     "mention": {"mentionees": [{"index": 0, "length": 4, "type": "all"},
                                                {"index": 5, "length": 8, "userId": "U49585cd0d5...",
                                                 "type": "user", "isSelf": False}]}}},
        {"replyToken": "85cbe770fa8b4f45bbe077b1d4be4a36", "type": "follow", "mode": "active",
         "timestamp": 1705891467176, "source": {"type": "user", "userId": "U3d3edab4f36c6292e6d8a8131f141b8b"},
         "webhookEventId": "01HMQGW40RZJPJM3RAJP7BHC2Q", "deliveryContext": {"isRedelivery": False},
         "follow": {"isUnblocked": False}},
    ],
}

parser = WebhookParser(CHANNEL_SECRET)


def sign(body):
    mac = vectors.hmac_digest(CHANNEL_SECRET, body)
    return base64.b64encode(mac).decode()


def accepted(body, signature):
    try:
        return parser.parse(body, signature)
    except InvalidSignatureError:
        return None


def deliveries(url):
    body = json.dumps(BODY)
    signature = sign(body)
    tampered = body.replace("Good Morning", "Good Mornint")
    headers = {"Content-Type": "application/json; charset=utf-8", "X-Line-Signature": signature}

    events = accepted(body, signature)
    assert events is not None and [e.type for e in events] == ["message", "follow"]
    assert accepted(tampered, signature) is None
    return vectors.genuine_changed_stale(url, headers, body, tampered)


if __name__ == "__main__":
    vectors.run(
        config={"sender": "line", "signature": {"secret": CHANNEL_SECRET}},
        deliveries=deliveries,
    )
