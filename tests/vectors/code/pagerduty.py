"""Vectors for the `pagerduty` preset.

PagerDuty v3 webhooks carry `X-PagerDuty-Signature: v1=<hex>[,v1=<hex>...]`, one hex
HMAC-SHA256 of the body per signing secret (several during a rotation), and `X-Webhook-Id`,
unique per webhook and repeated on each retry
(https://developer.pagerduty.com/docs/webhooks/verifying-signatures and .../webhook-behavior, in
PagerDuty/developer-docs: docs/webhooks/04-Signatures.md, 02-Behavior.md). No PagerDuty SDK on
PyPI or npm verifies: `PagerDutyVerifier` below is that page's Python example. The secret, body
and signatures are PagerDuty's published test vector (PagerDuty/go-pagerduty,
webhookv3/webhookv3_test.go: the "valid" and "mismatch" cases).
"""

import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import hashlib
import hmac

SECRET = "lDQHScfUeXUKaQRNF+8XIiDKZ7XX3itBAYzwU0TARw8lJqRnkKl2iB1anSb0Z+IK"
BODY = '{"event":{"id":"01BWDWL3NYY7LUFPZCC28QUCMK","event_type":"incident.priority_updated","resource_type":"incident","occurred_at":"2021-04-26T17:36:27.458Z","agent":{"html_url":"https://acme.pagerduty.com/users/PLH1HKV","id":"PLH1HKV","self":"https://api.pagerduty.com/users/PLH1HKV","summary":"Tenex Engineer","type":"user_reference"},"client":null,"data":{"id":"PGR0VU2","type":"incident","self":"https://api.pagerduty.com/incidents/PGR0VU2","html_url":"https://acme.pagerduty.com/incidents/PGR0VU2","number":2,"status":"triggered","title":"A little bump in the road","service":{"html_url":"https://acme.pagerduty.com/services/PF9KMXH","id":"PF9KMXH","self":"https://api.pagerduty.com/services/PF9KMXH","summary":"API Service","type":"service_reference"},"assignees":[{"html_url":"https://acme.pagerduty.com/users/PTUXL6G","id":"PTUXL6G","self":"https://api.pagerduty.com/users/PTUXL6G","summary":"User 123","type":"user_reference"}],"escalation_policy":{"html_url":"https://acme.pagerduty.com/escalation_policies/PUS0KTE","id":"PUS0KTE","self":"https://api.pagerduty.com/escalation_policies/PUS0KTE","summary":"Default","type":"escalation_policy_reference"},"teams":[{"html_url":"https://acme.pagerduty.com/teams/PFCVPS0","id":"PFCVPS0","self":"https://api.pagerduty.com/teams/PFCVPS0","summary":"Engineering","type":"team_reference"}],"priority":{"html_url":"https://acme.pagerduty.com/account/incident_priorities","id":"PSO75BM","self":"https://api.pagerduty.com/priorities/PSO75BM","summary":"P1","type":"priority_reference"},"urgency":"high","conference_bridge":{"conference_number":1000,"conference_url":"https://example.com"},"resolve_reason":null}}}'
VALID = "v1=0c0b9495b893a39e70d1fea2fe11fbe0a825f88b9f67846f6cc07dd2bc5476cd"
MISMATCH = "v1=7020c8a7ec668a9b7012bc3dd82e483394b038f4230acc6785efbf2a7d8bcaf5"


class PagerDutyVerifier:
    """The docs' example."""

    def __init__(self, key: str, version: str) -> None:
        self.key = key
        self.version = version

    def verify(self, payload, signatures) -> bool:
        byte_key = self.key.encode("ASCII")
        signature = hmac.new(byte_key, payload.encode(), hashlib.sha256).hexdigest()
        signed_version = self.version + "=" + signature
        signatures = signatures.split(",")
        return any(hmac.compare_digest(signed_version, item) for item in signatures)


def headers(webhook_id, signature):
    return {
        "Content-Type": "application/json",
        "User-Agent": "PagerDuty-Webhook/V3.0",
        "X-Webhook-Id": webhook_id,
        "X-Webhook-Subscription": "PY1OYTU",
        "X-PagerDuty-Signature": signature,
    }


def deliveries(url):
    verifier = PagerDutyVerifier(SECRET, "v1")
    rotating = MISMATCH + "," + VALID
    bad = vectors.tamper(BODY)
    assert verifier.verify(BODY, VALID) and verifier.verify(BODY, rotating)
    assert not verifier.verify(BODY, MISMATCH) and not verifier.verify(bad, VALID)
    genuine = headers("c2a4b1b6-6e4b-4f4a-9f2d-1a5c7e3b9d10", VALID)
    return [
        vectors.delivery(
            "genuine incident.priority_updated", url, genuine, BODY,
            stream="incident_priority_updated",
        ),
        vectors.delivery("retry (same X-Webhook-Id)", url, genuine, BODY, records=0),
        vectors.delivery(
            "two signatures during a secret rotation", url,
            headers("7e1f0d2c-3b4a-4c5d-8e6f-9a0b1c2d3e4f", rotating), BODY,
            stream="incident_priority_updated",
        ),
        vectors.refused(
            "the published mismatching signature", url,
            headers("8f2a1e3d-4c5b-4d6e-9f70-0a1b2c3d4e5f", MISMATCH), BODY,
        ),
        vectors.refused(
            "one byte changed", url, headers("9a3b2f4e-5d6c-4e7f-8a91-1b2c3d4e5f60", VALID), bad,
        ),
    ]


if __name__ == "__main__":
    vectors.run(
        config={"sender": "pagerduty", "signature": {"secret": SECRET}},
        deliveries=deliveries,
    )
