# Vectors for the `microsoft-graph` preset. Graph change notifications are not signed: each
# carries the subscription's clientState, which the receiver compares; the endpoint is first
# validated with POST ?validationToken=…, answered with the token as text/plain; a
# notification is answered with any 2xx once kept (the tap answers 200 once journaled)
# (learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks). No Microsoft SDK
# on PyPI receives notifications (msgraph-sdk sends requests), so this follows that page.
# Payloads: its change notification example (a created message) and the lifecycle
# notification example of learn.microsoft.com/en-us/graph/change-notifications-lifecycle-events.
import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import json
from urllib.parse import urlencode

SECRET = "secretClientValue"
TOKEN = ("Validation: Testing client application reachability for subscription Request-Id: "
         "c5a0b1f7-3a29-4b1e-9c2e-0d0f7b8e6a51")


def notification(client_state):
    item = {
        "id": "lsgTZMr9KwAAA",
        "subscriptionId": "f2b8c7a3-4d5e-4c6f-8a9b-0c1d2e3f4a5b",
        "subscriptionExpirationDateTime": "2016-03-19T22:11:09.952Z",
        "changeType": "created",
        "resource": "users/d5c1a3b7-0f9e-4d2c-8b6a-5e4f3a2b1c0d@84bd8158-6d4d-4958-8b9f-9d6445542f95"
                    "/messages/AAMkADM0ZGRhMjcwLWE1YjMtNDVmYi1hNDQ3LWYxZWNhYTIyNjE1ZQBGAAA=",
        "tenantId": "84bd8158-6d4d-4958-8b9f-9d6445542f95",
        "resourceData": {
            "@odata.type": "#Microsoft.Graph.Message",
            "@odata.id": "Users/d5c1a3b7-0f9e-4d2c-8b6a-5e4f3a2b1c0d/Messages/"
                         "AAMkADM0ZGRhMjcwLWE1YjMtNDVmYi1hNDQ3LWYxZWNhYTIyNjE1ZQBGAAA=",
            "@odata.etag": "W/\"CQAAABYAAADkrWGo7bouTKlsgTZMr9KwAAAUWRHf\"",
            "id": "AAMkADM0ZGRhMjcwLWE1YjMtNDVmYi1hNDQ3LWYxZWNhYTIyNjE1ZQBGAAA=",
        },
    }
    if client_state is not None:
        item["clientState"] = client_state
    return json.dumps({"value": [item]})


LIFECYCLE = json.dumps(
    {
        "value": [
            {
                "subscriptionId": "f2b8c7a3-4d5e-4c6f-8a9b-0c1d2e3f4a5b",
                "subscriptionExpirationDateTime": "2019-09-18T00:00:00.000Z",
                "tenantId": "84bd8158-6d4d-4958-8b9f-9d6445542f95",
                "clientState": SECRET,
                "lifecycleEvent": "reauthorizationRequired",
            }
        ]
    }
)


def deliveries(url):
    post = {"method": "POST", "url": url, "headers": {"Content-Type": "application/json"}}
    return [
        vectors.delivery(
            "endpoint validation", url + "?" + urlencode({"validationToken": TOKEN}),
            {"Content-Type": "text/plain; charset=utf-8"}, "", records=0, reply=TOKEN,
        ),
        {**post, "name": "change notification", "body": notification(SECRET), "status": 200,
         "records": 1},
        {**post, "name": "lifecycle notification", "body": LIFECYCLE, "status": 200,
         "records": 1},
        {**post, "name": "another clientState", "body": notification("secretClientValuf"),
         "status": 401, "records": 0, "error": "invalid signature"},
        {**post, "name": "no clientState", "body": notification(None), "status": 401,
         "records": 0, "error": "invalid signature: notification 1 has no clientState"},
    ]


if __name__ == "__main__":
    vectors.run(
        config={"sender": "microsoft-graph", "signature": {"secret": SECRET}},
        deliveries=deliveries,
    )
