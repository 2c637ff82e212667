# Source: no PyPI package of Shopify verifies webhooks (ShopifyAPI checks OAuth query HMACs only).
# Signed by the documented algorithm of
# https://shopify.dev/docs/apps/build/webhooks/subscribe/https#step-5-verify-the-webhook
# (X-Shopify-Hmac-Sha256: base64 HMAC-SHA256 of the body under the app's client secret), and checked
# once with Shopify's npm SDK @shopify/shopify-api 15.0.0 (shopify.webhooks.validate accepted the
# genuine deliveries and refused the changed one). Payload: the orders/create example of
# https://shopify.dev/docs/api/webhooks?reference=toml#list-orders-create (shortened).
import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import json

SECRET = "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"

ORDER = {
    "id": 820982911946154508,
    "admin_graphql_api_id": "gid://shopify/Order/820982911946154508",
    "app_id": None,
    "browser_ip": None,
    "buyer_accepts_marketing": True,
    "cancel_reason": "customer",
    "cancelled_at": "2021-12-31T19:00:00-05:00",
    "confirmation_number": None,
    "confirmed": False,
    "contact_email": "jon@example.com",
    "created_at": "2021-12-31T19:00:00-05:00",
    "currency": "USD",
    "current_subtotal_price": "398.00",
    "current_total_price": "398.00",
    "email": "jon@example.com",
    "financial_status": "voided",
    "name": "#9999",
    "note": None,
    "order_number": 1234,
    "phone": None,
    "presentment_currency": "USD",
    "processed_at": "2021-12-31T19:00:00-05:00",
    "subtotal_price": "388.00",
    "tags": "tag1, tag2",
    "test": True,
    "total_price": "398.00",
    "updated_at": "2021-12-31T19:00:00-05:00",
    "line_items": [{"id": 866550311766439020, "name": "Example T-Shirt", "price": "199.00",
                    "product_id": 788032119674292922, "quantity": 1, "sku": "example-shirt-s",
                    "title": "Example T-Shirt", "variant_id": 642667041472713922}],
}


def sign(body):
    return vectors.hmac_base64(SECRET, body)


def headers(signature, webhook_id):
    return {"Content-Type": "application/json", "X-Shopify-Topic": "orders/create",
            "X-Shopify-Hmac-Sha256": signature, "X-Shopify-Shop-Domain": "example.myshopify.com",
            "X-Shopify-API-Version": "2024-10", "X-Shopify-Webhook-Id": webhook_id,
            "X-Shopify-Triggered-At": "2021-12-31T19:00:00.000000000Z"}


def newer_names(h):
    """The same headers as newer Shopify deliveries name them (without the X- prefix)."""
    return {k[2:] if k.startswith("X-Shopify-") else k: v for k, v in h.items()}


def deliveries(url):
    body = json.dumps(ORDER)
    signature = sign(body)
    changed = body.replace('"order_number": 1234', '"order_number": 1235', 1)
    assert changed != body and sign(changed) != signature
    return [
        vectors.delivery(
            "genuine", url, headers(signature, "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"), body,
        ),
        vectors.delivery(
            "the same webhook again (a retry)", url,
            headers(signature, "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"), body, records=0,
        ),
        vectors.delivery(
            "signed in the newer header name, Shopify-Hmac-Sha256", url,
            newer_names(headers(signature, "5f1ad6c0-9f1e-4d0e-8b7a-2a9c3e4d5f60")), body,
        ),
        vectors.refused(
            "one byte changed", url, headers(signature, "0b1f2c4e-0d61-4b0a-9c36-5b5c4a1d2e3f"),
            changed,
        ),
    ]


if __name__ == "__main__":
    vectors.run(
        config={"sender": "shopify", "signature": {"secret": SECRET}},
        deliveries=deliveries,
    )
