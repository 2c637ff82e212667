# Source: the `squareup` package 46.0.0.20260916 (PyPI): square.utils.webhooks_helper.verify_signature
# accepts the genuine delivery and refuses the changed one. Signed as
# https://developer.squareup.com/docs/webhooks/step3validate describes (x-square-hmacsha256-signature:
# base64 HMAC-SHA256 of the notification URL followed by the body). Payload: the payment.created
# example of https://developer.squareup.com/reference/square/payments-api/webhooks/payment.created.
import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import base64
import json

# This script's folder comes first on sys.path; its name would hide the package.
sys.path.pop(0)
from square.utils.webhooks_helper import verify_signature  # noqa: E402

KEY = "asdf1234ZXCVqwer5678poiuLKJH"

EVENT = {
    "merchant_id": "6SSW7HV8K2ST5",
    "type": "payment.created",
    "event_id": "13b867cf-db3d-4b1c-90b6-2f32a9d78124",
    "created_at": "2020-02-06T21:27:30.792Z",
    "data": {
        "type": "payment",
        "id": "KkAkhdMsgzn59SM8A89WgKwekxLZY",
        "object": {
            "payment": {
                "amount_money": {"amount": 100, "currency": "USD"},
                "approved_money": {"amount": 100, "currency": "USD"},
                "card_details": {
                    "avs_status": "AVS_ACCEPTED",
                    "card": {"bin": "540988", "card_brand": "MASTERCARD", "card_type": "CREDIT",
                             "exp_month": 11, "exp_year": 2022, "last_4": "9029"},
                    "cvv_status": "CVV_ACCEPTED",
                    "entry_method": "KEYED",
                    "status": "AUTHORIZED",
                },
                "created_at": "2020-11-22T21:16:51.086Z",
                "id": "hYy9pRFVxpDsO1FB05SunFWUe9JZY",
                "location_id": "S8GWD5R9QB376",
                "order_id": "03O3USaPaAaFnI6kkwB1JxGgBsUZY",
                "source_type": "CARD",
                "status": "APPROVED",
                "total_money": {"amount": 100, "currency": "USD"},
                "updated_at": "2020-11-22T21:16:51.198Z",
                "version": 1,
            }
        },
    },
}


def sign(url, body):
    mac = vectors.hmac_digest(KEY, url + body)
    return base64.b64encode(mac).decode()


def verifies(url, body, header):
    return verify_signature(request_body=body, signature_header=header, signature_key=KEY,
                            notification_url=url)


def deliveries(url):
    body = json.dumps(EVENT)
    header = sign(url, body)
    assert verifies(url, body, header)
    changed = body.replace('"amount": 100,', '"amount": 900,', 1)
    assert changed != body and not verifies(url, changed, header)
    headers = {"Content-Type": "application/json", "X-Square-Hmacsha256-Signature": header,
               "Square-Version": "2020-11-18", "Square-Environment": "Production",
               "Square-Initial-Delivery-Timestamp": "2020-11-22T21:16:51.300Z"}
    return vectors.genuine_changed_stale(url, headers, body, changed)


if __name__ == "__main__":
    vectors.run(config={"sender": "square", "signature": {"secret": KEY}}, deliveries=deliveries)
