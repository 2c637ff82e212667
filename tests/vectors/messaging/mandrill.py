# Source: Mailchimp Transactional's (Mandrill's) "Authenticating webhook requests",
# https://mailchimp.com/developer/transactional/guides/track-respond-activity-webhooks/#authenticating-webhook-requests:
# base64 HMAC-SHA1, keyed with the webhook's key, of the webhook URL exactly as entered followed
# by each POST field's name and value, names sorted. No SDK on PyPI or npm verifies Mandrill
# webhooks (mailchimp-transactional only calls the API), so generate_signature below follows
# the guide's Python reference function, and verify() compares against it as the guide says.
# The events are the guide's example events (the "exampleaaaa…" ids Mandrill's "Send Test"
# posts; https://mailchimp.com/developer/transactional/docs/webhooks/#event-data), posted as
# the form field mandrill_events. Mandrill checks a new URL with HEAD first. No timestamp is
# signed, so there is no stale delivery.
import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import base64
import hashlib
import hmac
import json
import urllib.parse

WEBHOOK_KEY = "dQ3ZPp4Xo6wGqfm-ZKE4_w"

EVENTS = [
    {"event": "send", "_id": "exampleaaaaaaaaaaaaaaaaaaaaaaaaa", "ts": 1365109999,
     "msg": {"ts": 1365109999, "subject": "This an example webhook message",
             "email": "example.webhook@mandrillapp.com", "sender": "example.sender@mandrillapp.com",
             "tags": ["webhook-example"], "opens": [], "clicks": [], "state": "sent",
             "metadata": {"user_id": 111}, "_id": "exampleaaaaaaaaaaaaaaaaaaaaaaaaa",
             "_version": "exampleaaaaaaaaaaaaaaa"}},
    {"event": "open", "_id": "exampleaaaaaaaaaaaaaaaaaaaaaaaaa", "ts": 1365111111,
     "ip": "127.0.0.1", "location": {"country_short": "US", "country": "United States",
                                      "region": "Oklahoma", "city": "Oklahoma City"},
     "user_agent": "Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10.6; en-US; rv:1.9.1.8) Gecko/20100317 Postbox/1.1.3",
     "user_agent_parsed": {"type": "Email Client", "ua_family": "Postbox", "ua_name": "Postbox 1.1.3",
                           "ua_version": "1.1.3", "os_family": "OS X", "os_name": "OS X 10.6 Snow Leopard"},
     "msg": {"ts": 1365109999, "subject": "This an example webhook message",
             "email": "example.webhook@mandrillapp.com", "sender": "example.sender@mandrillapp.com",
             "tags": ["webhook-example"], "opens": [{"ts": 1365111111}], "clicks": [], "state": "sent",
             "metadata": {"user_id": 111}, "_id": "exampleaaaaaaaaaaaaaaaaaaaaaaaaa",
             "_version": "exampleaaaaaaaaaaaaaaa"}},
]


def generate_signature(key, url, params):
    # As the guide's Python reference function.
    signed_data = url
    sorted_key = sorted(params.keys())
    for k in sorted_key:
        signed_data += k
        signed_data += params[k]
    return base64.b64encode(hmac.new(key.encode("utf-8"), signed_data.encode("utf-8"), hashlib.sha1).digest()).decode()


def verify(url, params, signature):
    return hmac.compare_digest(generate_signature(WEBHOOK_KEY, url, params), signature)


def deliveries(url):
    params = {"mandrill_events": json.dumps(EVENTS)}
    signature = generate_signature(WEBHOOK_KEY, url, params)
    tampered = {"mandrill_events": params["mandrill_events"].replace("Oklahoma City", "Oklahoma Citz")}
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Mandrill-Signature": signature}

    assert verify(url, params, signature)
    assert not verify(url, tampered, signature)
    assert not verify(url + "/", params, signature)
    return [
        vectors.delivery(
            "HEAD check of a new webhook URL", url, {}, None, records=0, method="HEAD"
        ),
        *vectors.genuine_changed_stale(
            url,
            headers,
            urllib.parse.urlencode(params),
            urllib.parse.urlencode(tampered),
            records=len(EVENTS),
        ),
    ]


if __name__ == "__main__":
    vectors.run(
        config={"sender": "mandrill", "signature": {"secret": WEBHOOK_KEY}},
        deliveries=deliveries,
    )
