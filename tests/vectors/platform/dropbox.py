# Vectors for the `dropbox` preset. The dropbox SDK (PyPI) has no webhook verifier, so the
# signature is computed by the algorithm of www.dropbox.com/developers/reference/webhooks:
# X-Dropbox-Signature = hex HMAC-SHA256 of the body under the app secret (as Dropbox's own
# sample app github.com/dropbox/mdwebhook checks it). Payload: the notification example of that
# page. The verification GET ?challenge=… is answered with the challenge as text/plain.
import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import json

SECRET = "qyk3fxjz5l7l0v6"
BODY = json.dumps(
    {
        "list_folder": {
            "accounts": [
                "dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc",
                "dbid:AAA-bCdEfGhIjKlMnOpQrStUvWxYz012345",
            ]
        },
        "delta": {"users": [12345678, 23456789]},
    }
)


def sign(body):
    return vectors.hmac_hex(SECRET, body)


def deliveries(url):
    genuine = {"Content-Type": "application/json", "X-Dropbox-Signature": sign(BODY)}
    tampered = BODY.replace("12345678", "12345679")
    assert sign(tampered) != genuine["X-Dropbox-Signature"]
    return [
        vectors.delivery(
            "verification request", url + "?challenge=Pde5S3xkMZ1RyJfsxqOq7g", {}, "", records=0,
            method="GET", reply="Pde5S3xkMZ1RyJfsxqOq7g",
        ),
        *vectors.genuine_changed_stale(url, genuine, BODY, tampered),
    ]


if __name__ == "__main__":
    vectors.run(
        config={"sender": "dropbox", "signature": {"secret": SECRET}},
        deliveries=deliveries,
    )
