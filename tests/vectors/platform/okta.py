# Vectors for the `okta` preset. Okta event hooks do not sign: they send the header the admin
# configured (authScheme {"type": "HEADER", "key": "Authorization", "value": …}) with the value
# given there, and verify the endpoint once with a GET carrying X-Okta-Verification-Challenge,
# answered {"verification": …} (developer.okta.com/docs/concepts/event-hooks/). Okta has no
# SDK that receives hooks; this follows that page. Payload: its user.session.start example.
import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import json

SECRET = "Sh4redS3cretFromOktaAdminConsole"
BODY = json.dumps(
    {
        "eventType": "com.okta.event_hook",
        "eventTypeVersion": "1.0",
        "cloudEventsVersion": "0.1",
        "source": "https://example.okta.com/api/v1/eventHooks/whoql0HfiLGPWc8Jx0g3",
        "eventId": "b5a188b9-5ece-4636-b041-482ffda96311",
        "data": {
            "events": [
                {
                    "uuid": "79d1b4ba-d84a-11e8-b3ab-ab6b5edc7b5e",
                    "published": "2019-03-27T16:59:53.032Z",
                    "eventType": "user.session.start",
                    "version": "0",
                    "displayMessage": "User login to Okta",
                    "severity": "INFO",
                    "actor": {
                        "id": "00uhf5hnmH8sVWnxP0h7",
                        "type": "User",
                        "alternateId": "user@example.com",
                        "displayName": "Example User",
                        "detailEntry": None,
                    },
                    "outcome": {"result": "SUCCESS", "reason": None},
                    "legacyEventType": "core.user_auth.login_success",
                }
            ]
        },
        "eventTime": "2019-03-27T16:59:53.032Z",
        "contentType": "application/json",
    }
)


def deliveries(url):
    genuine = {"Content-Type": "application/json", "Authorization": SECRET}
    wrong = {"Content-Type": "application/json", "Authorization": SECRET[:-1] + "X"}
    return [
        vectors.delivery(
            "one-time verification", url,
            {"Authorization": SECRET,
                     "X-Okta-Verification-Challenge": "kGrMAn8gMqyeEcA4YvzTYeAsg8zMWsBzSdeFI8Ud"},
            "", records=0, method="GET",
            reply='{"verification":"kGrMAn8gMqyeEcA4YvzTYeAsg8zMWsBzSdeFI8Ud"}',
        ),
        vectors.delivery("genuine", url, genuine, BODY),
        vectors.refused("wrong Authorization value", url, wrong, BODY),
        vectors.refused(
            "no Authorization header", url, {"Content-Type": "application/json"}, BODY,
            error="missing signature",
        ),
    ]


if __name__ == "__main__":
    vectors.run(config={"sender": "okta", "signature": {"secret": SECRET}}, deliveries=deliveries)
