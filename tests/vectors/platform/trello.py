# Vectors for the `trello` preset. Trello has no SDK that verifies webhooks (py-trello does
# not), so the signature is computed by the algorithm of
# developer.atlassian.com/cloud/trello/guides/rest-api/webhooks/ ("Webhook signatures"):
# X-Trello-Webhook = base64 HMAC-SHA1 of body + callbackURL under the application's OAuth
# secret. Here the callbackURL is the tap's webhook URL as the test calls it. Payload: the
# voteOnCard example of that page (model trimmed). Trello checks the URL with a HEAD first.
import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import base64
import hashlib
import json

SECRET = "a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1"
BODY = json.dumps(
    {
        "action": {
            "id": "51f9424bcd6e040f3c002412",
            "idMemberCreator": "4fc78a59a885233f4b349bd9",
            "data": {
                "board": {"name": "Trello Development", "id": "4d5ea62fd76aa1136000000c"},
                "card": {"idShort": 1458, "name": "Webhooks", "id": "51a79e72dbb7e23c7c003778"},
                "voted": True,
            },
            "type": "voteOnCard",
            "date": "2013-07-31T16:58:51.949Z",
            "memberCreator": {
                "id": "4fc78a59a885233f4b349bd9",
                "avatarHash": "2da34d23b5f1ac1a20e2a01157bfa9fe",
                "fullName": "Doug Patti",
                "initials": "DP",
                "username": "doug",
            },
        },
        "model": {
            "id": "4d5ea62fd76aa1136000000c",
            "name": "Trello Development",
            "closed": False,
            "idOrganization": "4e1452614e4b8698470000e0",
            "pinned": True,
            "url": "https://trello.com/b/nC8QJJoZ/trello-development",
        },
    }
)


def sign(body, callback_url):
    mac = vectors.hmac_digest(SECRET, body + callback_url, hashlib.sha1)
    return base64.b64encode(mac).decode()


def deliveries(url):
    genuine = {"Content-Type": "application/json", "X-Trello-Webhook": sign(BODY, url)}
    tampered = BODY.replace("Doug", "Dovg")
    assert sign(tampered, url) != genuine["X-Trello-Webhook"]
    other_url = {"Content-Type": "application/json",
                 "X-Trello-Webhook": sign(BODY, url + "/other")}
    return [
        vectors.delivery("HEAD check at creation", url, {}, "", records=0, method="HEAD"),
        *vectors.genuine_changed_stale(url, genuine, BODY, tampered),
        vectors.refused("signed for another callbackURL", url, other_url, BODY),
    ]


if __name__ == "__main__":
    vectors.run(config={"sender": "trello", "signature": {"secret": SECRET}}, deliveries=deliveries)
