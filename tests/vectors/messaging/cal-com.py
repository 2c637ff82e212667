# Source: Cal.com's webhook docs,
# https://cal.com/docs/developing/guides/automation/webhooks#verifying-the-authenticity-of-the-received-payload,
# and the code that signs (github.com/calcom/cal.com packages/features/webhooks/lib/sendPayload.ts:
# createHmac("sha256", secretKey).update(body).digest("hex") sent as X-Cal-Signature-256).
# Cal.com publishes no SDK that verifies (none on PyPI; @calcom/sdk and @calcom/atoms call the
# API), so the deliveries are signed and checked by that algorithm here. The body follows the
# BOOKING_CREATED example of https://cal.com/docs/developing/guides/automation/webhooks
# (shortened), in the shape sendPayload.ts gives it (triggerEvent, createdAt, payload). Cal.com signs no timestamp, so there is no stale delivery.
import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import hmac
import json

SECRET = "f7e0c1a9b2d34e5f8a6b7c9d0e1f2a3b"

BOOKING_CREATED = {
    "triggerEvent": "BOOKING_CREATED",
    "createdAt": "2023-05-24T09:30:00.538Z",
    "payload": {
        "type": "60min",
        "title": "60min between Pro Example and John Doe",
        "description": "",
        "additionalNotes": "",
        "customInputs": {},
        "startTime": "2023-05-25T09:30:00Z",
        "endTime": "2023-05-25T10:30:00Z",
        "organizer": {"id": 5, "name": "Pro Example", "email": "pro@example.com", "username": "pro",
                      "timeZone": "Asia/Kolkata", "language": {"locale": "en"}, "timeFormat": "h:mma"},
        "responses": {"name": {"label": "your_name", "value": "John Doe"},
                      "email": {"label": "email_address", "value": "john.doe@example.com"}},
        "attendees": [{"email": "john.doe@example.com", "name": "John Doe", "timeZone": "Asia/Kolkata",
                       "language": {"locale": "en"}}],
        "location": "Cal Video",
        "destinationCalendar": None,
        "hideCalendarNotes": False,
        "requiresConfirmation": None,
        "eventTypeId": 7,
        "seatsShowAttendees": True,
        "seatsPerTimeSlot": None,
        "uid": "bFJeNb2uX8ANpT3JL5EfXw",
        "conferenceData": {"createRequest": {"requestId": "4a2f5ad5-e3e2-4b2e-8c86-3b0d3a4b0b0a"}},
        "videoCallData": {"type": "daily_video", "id": "dvvpmlY2KOsO6Sp0Gnl9",
                          "password": "", "url": "https://meetco.daily.co/dvvpmlY2KOsO6Sp0Gnl9"},
        "appsStatus": [],
        "eventTitle": "60min",
        "eventDescription": None,
        "price": 0,
        "currency": "usd",
        "length": 60,
        "bookingId": 91,
        "metadata": {"videoCallUrl": "https://app.cal.com/video/bFJeNb2uX8ANpT3JL5EfXw"},
        "status": "ACCEPTED",
    },
}


def sign(body):
    return vectors.hmac_hex(SECRET, body)


def verify(body, received):
    return hmac.compare_digest(received, sign(body))


def deliveries(url):
    body = json.dumps(BOOKING_CREATED)
    signature = sign(body)
    tampered = body.replace("John Doe", "John Dof", 1)
    headers = {"Content-Type": "application/json", "X-Cal-Signature-256": signature}

    assert verify(body, signature)
    assert not verify(tampered, signature)
    return vectors.genuine_changed_stale(url, headers, body, tampered)


if __name__ == "__main__":
    vectors.run(
        config={"sender": "cal-com", "signature": {"secret": SECRET}},
        deliveries=deliveries,
    )
