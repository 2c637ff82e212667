# Vectors for the `monday` preset. monday.com board webhooks are not signed (apps may add a JWT
# of their own); the URL's token is what authenticates them. Before a webhook is activated,
# monday.com POSTs {"challenge": C} and expects the same JSON back; then each delivery is
# {"event": {..., "type": T}} (developer.monday.com/api-reference/docs/webhooks, "URL
# Verification", whose challenge token this uses; the create_pulse and update_column_value
# payloads are those of monday.com/integrations/webhooks). monday.com has no SDK that receives
# webhooks.
import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import json

CHALLENGE = json.dumps({"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"})
CREATE_PULSE = json.dumps({"event": {
    "app": "monday", "boardId": 224535, "groupColor": "#579bfc", "groupId": "224132",
    "groupName": "This Week", "pulseId": 983678, "pulseName": "A new task", "userId": 103892,
    "type": "create_pulse",
}})
UPDATE_COLUMN_VALUE = json.dumps({"event": {
    "app": "monday", "boardId": 224535, "changedAt": 1564587898.712963, "columnId": "status",
    "columnType": "color", "pulseId": 983678, "userId": 103892, "type": "update_column_value",
    "value": {"label": {"index": 1, "text": "Done"}},
}})


def deliveries(url):
    headers = {"Content-Type": "application/json"}
    return [
        vectors.delivery("URL verification challenge", url, headers, CHALLENGE, records=0,
                         reply=CHALLENGE),
        vectors.delivery("create_pulse", url, headers, CREATE_PULSE, stream="create_pulse"),
        vectors.delivery("update_column_value", url, headers, UPDATE_COLUMN_VALUE,
                         stream="update_column_value"),
    ]


if __name__ == "__main__":
    vectors.run(config={"sender": "monday"}, deliveries=deliveries)
