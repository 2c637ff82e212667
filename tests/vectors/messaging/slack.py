# Source: slack_sdk 3.47.0 (PyPI; github.com/slackapi/python-slack-sdk
# slack_sdk/signature/__init__.py): SignatureVerifier signs the fresh deliveries and accepts or
# refuses each one here. The signing secret, the stale delivery (timestamp 1531420618, a slash
# command's form body) and its signature are Slack's own worked example in
# https://api.slack.com/authentication/verifying-requests-from-slack; the event_callback and
# url_verification bodies are the examples of https://api.slack.com/events/app_mention and
# https://api.slack.com/events/url_verification.
import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import json
import time

from slack_sdk.signature import SignatureVerifier

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"

# Slack's published example: signed in 2018, so stale now.
DOC_TIMESTAMP = "1531420618"
DOC_BODY = (
    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
    "&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmib"
    "IGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
DOC_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"

EVENT = {
    "token": "XXYYZZ",
    "team_id": "T123ABC456",
    "api_app_id": "A123ABC456",
    "event": {
        "type": "app_mention",
        "user": "U123ABC456",
        "text": "What is the hour of the pearl, <@U0LAN0Z89>?",
        "ts": "1515449522.000016",
        "channel": "C123ABC456",
        "event_ts": "1515449522.000016",
    },
    "type": "event_callback",
    "event_id": "Ev123ABC456",
    "event_time": 1515449522000016,
    "authed_users": ["U0LAN0Z89"],
}
CHALLENGE = {
    "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
    "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
    "type": "url_verification",
}

verifier = SignatureVerifier(SECRET)


def signed(name, url, body, content_type="application/json", timestamp=None, **expect):
    timestamp = timestamp or str(int(time.time()))
    signature = verifier.generate_signature(timestamp=timestamp, body=body)
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature,
    }
    return vectors.delivery(name, url, headers, body, **expect)


def deliveries(url):
    event = json.dumps(EVENT)
    genuine = signed("genuine", url, event, status=200, records=1)
    retry = signed("retried by Slack", url, event, status=200, records=1)
    retry["headers"].update({"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    tampered = dict(genuine, name="one byte changed", body=event.replace("pearl", "pearL"),
                    status=401, records=0, error="invalid signature")
    stale = vectors.refused(
        "Slack's documented example, signed in 2018", url,
        {"Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": DOC_TIMESTAMP, "X-Slack-Signature": DOC_SIGNATURE},
        DOC_BODY, error="expired signature",
    )
    # A slash command is signed the same way: Slack's example form, signed now.
    command = signed("slash command (form)", url, DOC_BODY, "application/x-www-form-urlencoded",
                     status=200, records=1)
    challenge = json.dumps(CHALLENGE)
    handshake = signed("url_verification", url, challenge, status=200, records=0,
                       reply=json.dumps({"challenge": CHALLENGE["challenge"]}, separators=(",", ":")))

    now = int(time.time())
    for d in (genuine, retry, handshake, command):
        h = d["headers"]
        assert verifier.is_valid(d["body"], h["X-Slack-Request-Timestamp"], h["X-Slack-Signature"])
    assert not verifier.is_valid(tampered["body"], tampered["headers"]["X-Slack-Request-Timestamp"],
                                 tampered["headers"]["X-Slack-Signature"])
    # The published signature is right for its body, and too old (Slack allows 5 minutes).
    assert verifier.generate_signature(timestamp=DOC_TIMESTAMP, body=DOC_BODY) == DOC_SIGNATURE
    assert not verifier.is_valid(DOC_BODY, DOC_TIMESTAMP, DOC_SIGNATURE)
    assert now - int(DOC_TIMESTAMP) > 300
    return [genuine, retry, tampered, stale, handshake, command]


if __name__ == "__main__":
    vectors.run(config={"sender": "slack", "signature": {"secret": SECRET}}, deliveries=deliveries)
