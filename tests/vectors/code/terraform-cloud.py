"""Vectors for the `terraform-cloud` preset.

HCP Terraform (Terraform Cloud) and Terraform Enterprise sign generic webhook notifications with
`X-TFE-Notification-Signature`: the hex HMAC-SHA512 of the body keyed by the notification
configuration's token
(https://developer.hashicorp.com/terraform/cloud-docs/api-docs/notification-configurations,
"Notification authenticity"). HashiCorp's SDKs (go-tfe; pytfe on PyPI) do not verify
notifications, so the signature is made by that algorithm and checked by `verify` below.
Payloads: the run notification example of that page and the verification request it sends when
a configuration is created or verified.
"""

import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import hashlib
import hmac
import json

SECRET = "tfe-notification-token-1f2e3d4c5b6a"

RUN_ERRORED = {
    "payload_version": 1,
    "notification_configuration_id": "nc-AeUQ2zfKZzW9TiGZ",
    "run_url": "https://app.terraform.io/app/acme-org/my-workspace/runs/run-FwnENkvDnrpyFC7M",
    "run_id": "run-FwnENkvDnrpyFC7M",
    "run_message": "Add five new queues",
    "run_created_at": "2019-01-25T18:34:00.000Z",
    "run_created_by": "sample-user",
    "workspace_id": "ws-XdeUVMWShTesDMME",
    "workspace_name": "my-workspace",
    "organization_name": "acme-org",
    "notifications": [
        {
            "message": "Run Canceled",
            "trigger": "run:errored",
            "run_status": "canceled",
            "run_updated_at": "2019-01-25T18:37:04.000Z",
            "run_updated_by": "sample-user",
        }
    ],
}
VERIFICATION = {
    "payload_version": 1,
    "notification_configuration_id": "nc-AeUQ2zfKZzW9TiGZ",
    "run_url": None,
    "run_id": None,
    "run_message": None,
    "run_created_at": None,
    "run_created_by": None,
    "workspace_id": None,
    "workspace_name": None,
    "organization_name": None,
    "notifications": [
        {
            "message": "Verification of my-workspace-notification",
            "trigger": "verification",
            "run_status": None,
            "run_updated_at": None,
            "run_updated_by": None,
        }
    ],
}


def sign(body):
    return vectors.hmac_hex(SECRET, body, hashlib.sha512)


def verify(body, signature):
    expected = hmac.new(SECRET.encode(), body.encode(), hashlib.sha512).hexdigest()
    return hmac.compare_digest(signature, expected)


def headers(signature):
    return {
        "Content-Type": "application/json",
        "User-Agent": "TFE/v202401-1",
        "X-TFE-Notification-Signature": signature,
    }


def deliveries(url):
    run = json.dumps(RUN_ERRORED, separators=(",", ":"))
    check = json.dumps(VERIFICATION, separators=(",", ":"))
    bad = vectors.tamper(run)
    assert verify(run, sign(run)) and verify(check, sign(check)) and not verify(bad, sign(run))
    return [
        vectors.delivery(
            "genuine verification request", url, headers(sign(check)), check, stream="verification",
        ),
        vectors.delivery("genuine run:errored", url, headers(sign(run)), run, stream="run_errored"),
        vectors.refused("one byte changed", url, headers(sign(run)), bad),
    ]


if __name__ == "__main__":
    vectors.run(
        config={"sender": "terraform-cloud", "signature": {"secret": SECRET}},
        deliveries=deliveries,
    )
