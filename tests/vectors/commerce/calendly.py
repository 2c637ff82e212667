# Source: Calendly publishes no SDK (PyPI or npm) that verifies webhooks. Signed by the documented
# algorithm of https://developer.calendly.com/api-docs/overview/webhooks/webhook-signatures
# (Calendly-Webhook-Signature: t=…,v1=hex HMAC-SHA256 of "t.body" under the subscription's
# signing_key), in the script below; no second implementation of Calendly's checks it. Payload: the
# invitee.created example of https://developer.calendly.com/api-docs/b3A6NDAwMjY0OA-webhook-payload
# (shortened).
import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import json
import time

KEY = "sN0_Dk3yZ8FvJ2qf4Rr7Ue1WbYt9Lx5C"

EVENT = {
    "created_at": "2020-11-23T17:51:19.000000Z",
    "created_by": "https://api.calendly.com/users/AAAAAAAAAAAAAAAA",
    "event": "invitee.created",
    "payload": {
        "cancel_url": "https://calendly.com/cancellations/AAAAAAAAAAAAAAAA",
        "created_at": "2020-11-23T17:51:18.327602Z",
        "email": "test@example.com",
        "event": "https://api.calendly.com/scheduled_events/GBGBDCAADAEDCRZ2",
        "name": "John Doe",
        "new_invitee": None,
        "old_invitee": None,
        "questions_and_answers": [],
        "reschedule_url": "https://calendly.com/reschedulings/AAAAAAAAAAAAAAAA",
        "rescheduled": False,
        "status": "active",
        "text_reminder_number": None,
        "timezone": "America/New_York",
        "tracking": {"utm_campaign": None, "utm_source": None, "utm_medium": None,
                     "utm_content": None, "utm_term": None, "salesforce_uuid": None},
        "updated_at": "2020-11-23T17:51:18.341657Z",
        "uri": "https://api.calendly.com/scheduled_events/AAAAAAAAAAAAAAAA/invitees/AAAAAAAAAAAAAAAA",
        "scheduled_event": {
            "uri": "https://api.calendly.com/scheduled_events/GBGBDCAADAEDCRZ2",
            "name": "15 Minute Meeting",
            "status": "active",
            "start_time": "2019-08-24T14:15:22.123456Z",
            "end_time": "2019-08-24T14:15:22.123456Z",
            "event_type": "https://api.calendly.com/event_types/GBGBDCAADAEDCRZ2",
            "location": {"type": "physical", "location": "string"},
            "invitees_counter": {"total": 0, "active": 0, "limit": 0},
            "created_at": "2019-01-02T03:04:05.678123Z",
            "updated_at": "2019-01-02T03:04:05.678123Z",
        },
    },
}


def sign(body, t):
    v1 = vectors.hmac_hex(KEY, f"{t}.{body}")
    return f"t={t},v1={v1}"


def deliveries(url):
    now = int(time.time())
    body = json.dumps(EVENT)
    header = sign(body, now)
    changed = body.replace('"limit": 0', '"limit": 1', 1)
    assert changed != body and sign(changed, now) != header
    stale = sign(body, now - 600)
    h = lambda sig: {"Content-Type": "application/json", "Calendly-Webhook-Signature": sig}  # noqa: E731
    return vectors.genuine_changed_stale(url, h(header), body, changed, h(stale))


if __name__ == "__main__":
    vectors.run(config={"sender": "calendly", "signature": {"secret": KEY}}, deliveries=deliveries)
