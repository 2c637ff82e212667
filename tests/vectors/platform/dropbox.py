# Vectors for the `dropbox` preset. The dropbox SDK (PyPI) has no webhook verifier, so the
# signature is computed by the algorithm of www.dropbox.com/developers/reference/webhooks:
# X-Dropbox-Signature = hex HMAC-SHA256 of the body under the app secret (as Dropbox's own
# sample app github.com/dropbox/mdwebhook checks it). Payload: the notification example of that
# page. The verification GET ?challenge=… is answered with the challenge as text/plain.
import hashlib
import hmac
import json
import sys

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
    return hmac.new(SECRET.encode(), body.encode(), hashlib.sha256).hexdigest()


def deliveries(url):
    genuine = {"Content-Type": "application/json", "X-Dropbox-Signature": sign(BODY)}
    tampered = BODY.replace("12345678", "12345679")
    assert sign(tampered) != genuine["X-Dropbox-Signature"]
    post = {"method": "POST", "url": url}
    return [
        {"name": "verification request", "method": "GET",
         "url": url + "?challenge=Pde5S3xkMZ1RyJfsxqOq7g", "headers": {}, "body": "",
         "status": 200, "records": 0, "reply": "Pde5S3xkMZ1RyJfsxqOq7g"},
        {**post, "name": "genuine", "headers": genuine, "body": BODY, "status": 200, "records": 1},
        {**post, "name": "one byte changed", "headers": genuine, "body": tampered, "status": 401,
         "records": 0, "error": "invalid signature"},
    ]


if __name__ == "__main__":
    if sys.argv[1] == "config":
        print(json.dumps({"sender": "dropbox", "signature": {"secret": SECRET}}))
    else:
        print(json.dumps(deliveries(sys.argv[2]), indent=1))
