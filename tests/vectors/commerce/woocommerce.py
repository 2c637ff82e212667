# Source: WooCommerce has no SDK (PyPI or npm) that verifies webhooks. Signed as WooCommerce's own
# code signs (github.com/woocommerce/woocommerce plugins/woocommerce/includes/class-wc-webhook.php:
# deliver() sends trim(wp_json_encode(payload)) with X-WC-Webhook-Signature = base64 HMAC-SHA256 of
# that body under the webhook's secret, and the X-WC-Webhook-* headers; deliver_ping() posts the
# form body webhook_id=N, unsigned, when a webhook is saved), reproduced in the script below; no
# second implementation checks it. Payload: the order.created example of
# https://woocommerce.github.io/woocommerce-rest-api-docs/#retrieve-an-order (shortened), with
# slashes escaped as wp_json_encode writes them.
import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import base64
import json

SECRET = "Wc3kT!x9pQ2vR7zL5mN8"

ORDER = {
    "id": 727,
    "parent_id": 0,
    "number": "727",
    "order_key": "wc_order_58d2d042d1d",
    "created_via": "rest-api",
    "version": "3.0.0",
    "status": "processing",
    "currency": "USD",
    "date_created": "2017-03-22T16:28:02",
    "date_created_gmt": "2017-03-22T19:28:02",
    "discount_total": "0.00",
    "shipping_total": "10.00",
    "total": "29.35",
    "total_tax": "1.35",
    "prices_include_tax": False,
    "customer_id": 0,
    "billing": {"first_name": "John", "last_name": "Doe", "address_1": "969 Market",
                "city": "San Francisco", "state": "CA", "postcode": "94103", "country": "US",
                "email": "john.doe@example.com", "phone": "(555) 555-5555"},
    "payment_method": "bacs",
    "payment_method_title": "Direct Bank Transfer",
    "transaction_id": "",
    "date_paid": "2017-03-22T16:28:08",
    "line_items": [{"id": 315, "name": "Woo Single #1", "product_id": 93, "variation_id": 0,
                    "quantity": 2, "subtotal": "6.00", "total": "6.00", "sku": "",
                    "price": 3}],
    "_links": {"self": [{"href": "https://example.com/wp-json/wc/v3/orders/727"}],
               "collection": [{"href": "https://example.com/wp-json/wc/v3/orders"}]},
}


def wp_json_encode(value):
    return json.dumps(value, separators=(",", ":")).replace("/", "\\/")


def sign(body):
    mac = vectors.hmac_digest(SECRET, body)
    return base64.b64encode(mac).decode()


def headers(signature, delivery_id):
    return {"Content-Type": "application/json",
            "User-Agent": "WooCommerce/8.6.1 Hookshot (WordPress/6.4.3)",
            "X-WC-Webhook-Source": "https://example.com/", "X-WC-Webhook-Topic": "order.created",
            "X-WC-Webhook-Resource": "order", "X-WC-Webhook-Event": "created",
            "X-WC-Webhook-Signature": signature, "X-WC-Webhook-ID": "12",
            "X-WC-Webhook-Delivery-ID": delivery_id}


def deliveries(url):
    body = wp_json_encode(ORDER)
    signature = sign(body)
    changed = body.replace('"quantity":2', '"quantity":3', 1)
    assert changed != body and sign(changed) != signature
    return [
        vectors.delivery(
            "ping when the webhook is saved", url,
            {"Content-Type": "application/x-www-form-urlencoded",
                     "User-Agent": "WooCommerce/8.6.1 Hookshot (WordPress/6.4.3)"},
            "webhook_id=12", records=0,
        ),
        vectors.delivery(
            "genuine", url, headers(signature, "f3a8c2b5e4d1a6b9c8d7e6f5a4b3c2d1"), body,
        ),
        vectors.refused(
            "one byte changed", url, headers(signature, "0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f"),
            changed,
        ),
    ]


if __name__ == "__main__":
    vectors.run(
        config={"sender": "woocommerce", "signature": {"secret": SECRET}},
        deliveries=deliveries,
    )
