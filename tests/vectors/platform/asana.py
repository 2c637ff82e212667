# Vectors for the `asana` preset. Asana's handshake (developers.asana.com/reference/createwebhook)
# is a POST with X-Hook-Secret and no body, answered 200 with the same header; that secret then
# signs every delivery: X-Hook-Signature = hex HMAC-SHA256 of the body
# (developers.asana.com/docs/webhooks-guide, "Security"). The asana SDK (PyPI) has no webhook
# verifier, so signatures are computed by that algorithm. Secret: the X-Hook-Secret example of
# the createwebhook reference; payload: the event example of the webhooks guide.
import hashlib
import hmac
import json
import sys

SECRET = "b537207f20cbfa02357cf448134da559e8bd39d61597dcd5631b8012eae53e81"
BODY = json.dumps(
    {
        "events": [
            {
                "user": {"gid": "1516", "resource_type": "user"},
                "created_at": "2018-03-01T14:49:06.000Z",
                "action": "changed",
                "resource": {
                    "gid": "1337",
                    "resource_type": "task",
                    "resource_subtype": "default_task",
                },
                "parent": None,
                "change": {"field": "assignee", "action": "changed"},
            }
        ]
    }
)


def signed(body, secret=SECRET):
    mac = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Hook-Signature": mac}


def deliveries(url):
    tampered = BODY.replace('"1337"', '"1338"')
    assert signed(tampered)["X-Hook-Signature"] != signed(BODY)["X-Hook-Signature"]
    post = {"method": "POST", "url": url}
    return [
        {**post, "name": "signed before any handshake", "headers": signed(BODY), "body": BODY,
         "status": 401, "records": 0,
         "error": "invalid signature: no secret was learned"},
        {**post, "name": "handshake (X-Hook-Secret, no body)", "headers": {"X-Hook-Secret": SECRET},
         "body": "", "status": 200, "records": 0, "reply_headers": {"X-Hook-Secret": SECRET}},
        {**post, "name": "genuine", "headers": signed(BODY), "body": BODY, "status": 200,
         "records": 1},
        {**post, "name": "one byte changed", "headers": signed(BODY), "body": tampered,
         "status": 401, "records": 0, "error": "invalid signature"},
        {**post, "name": "signed with another secret", "headers": signed(BODY, "0" * 64),
         "body": BODY, "status": 401, "records": 0, "error": "invalid signature"},
    ]


if __name__ == "__main__":
    if sys.argv[1] == "config":
        print(json.dumps({"sender": "asana"}))
    else:
        print(json.dumps(deliveries(sys.argv[2]), indent=1))
