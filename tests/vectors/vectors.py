"""What every vector script shares: the command line, delivery builders and HMAC helpers.

The scripts (tests/vectors/<group>/<preset>.py) put this folder on sys.path and import it; the
provider-specific signing and the SDK checks stay in each script.
"""

import base64
import hashlib
import hmac
import json
import re
import sys
import time
from datetime import datetime, timezone


def run(config, deliveries):
    """`<script> config` prints `config`; `<script> deliveries <url>` prints `deliveries(url)`."""
    args = sys.argv[1:]
    if args == ["config"]:
        print(json.dumps(config))
    elif len(args) == 2 and args[0] == "deliveries":
        print(json.dumps(deliveries(args[1]), indent=1))
    else:
        sys.exit(f"usage: {sys.argv[0]} config | deliveries <url>")


def delivery(name, url, headers, body, status=200, records=1, error=None, **extra):
    """One delivery as the driver reads it; `extra` adds method, reply, stream, body_base64…"""
    d = {"name": name, "method": "POST", "url": url, "headers": headers}
    if body is not None:
        d["body"] = body
    d.update(status=status, records=records)
    if error is not None:
        d["error"] = error
    d.update(extra)
    return d


def refused(name, url, headers, body, error="invalid signature", **extra):
    """A delivery the tap must refuse with 401 and no records."""
    return delivery(name, url, headers, body, status=401, records=0, error=error, **extra)


def genuine_changed_stale(url, headers, body, changed, stale=None, name="genuine", records=1):
    """The genuine delivery, the same with one byte changed, and (if `stale` headers are given)
    the genuine body signed 10 minutes ago."""
    out = [
        delivery(name, url, headers, body, records=records),
        refused("one byte changed", url, headers, changed),
    ]
    if stale is not None:
        out.append(refused("signed 10 minutes ago", url, stale, body, error="expired signature"))
    return out


def raises(error, verify, *args, **kwargs):
    """Whether `verify(*args, **kwargs)` (an SDK's verify function) raises `error`."""
    try:
        verify(*args, **kwargs)
    except error:
        return True
    return False


def tamper(body):
    """The same body with one byte of its first string value changed."""
    i = re.search(r'":\s*"', body).end()
    return body[:i] + ("X" if body[i] != "X" else "Y") + body[i + 1 :]


def _bytes(text):
    return text.encode() if isinstance(text, str) else text


def hmac_digest(key, message, digest=hashlib.sha256):
    return hmac.new(_bytes(key), _bytes(message), digest).digest()


def hmac_hex(key, message, digest=hashlib.sha256):
    return hmac.new(_bytes(key), _bytes(message), digest).hexdigest()


def hash_prefixed_valid(key, body, header):
    """Whether `header` is `<hash>=<hex HMAC of body>` (WebSub's `X-Hub-Signature`), the hash
    named by the header, compared in constant time."""
    method, _, digest = header.partition("=")
    expected = hmac.new(_bytes(key), _bytes(body), getattr(hashlib, method)).hexdigest()
    return hmac.compare_digest(digest, expected)


def hmac_base64(key, message, digest=hashlib.sha256):
    return base64.b64encode(hmac_digest(key, message, digest)).decode()


# The Svix / Standard Webhooks family (svix, clerk, resend, standard-webhooks): the same three
# headers under a prefix, signed by the SDK's `Webhook(secret).sign(msg_id, when, body)`.


def svix_headers(webhook, prefix, msg_id, body, at):
    """Headers `<prefix>-id`, `-timestamp`, `-signature` signed by `webhook` (an SDK Webhook)."""
    when = datetime.fromtimestamp(at, tz=timezone.utc)
    return {
        "Content-Type": "application/json",
        f"{prefix}-id": msg_id,
        f"{prefix}-timestamp": str(at),
        f"{prefix}-signature": webhook.sign(msg_id, when, body),
    }


def svix_deliveries(url, prefix, body, genuine, tampered, stale):
    """Refusals first (never journaled, so the genuine delivery is new after them), then the
    genuine delivery and its redelivery under the same id (no new record)."""
    return [
        refused("one byte changed", url, genuine, tampered),
        refused("signed 10 minutes ago", url, stale, body, error="expired signature"),
        delivery("genuine", url, genuine, body),
        delivery(f"redelivered (same {prefix}-id)", url, genuine, body, records=0),
    ]


def svix_family(url, webhook, verify, error, prefix, body, tampered, ids):
    """The Standard Webhooks flow (Svix, Clerk, Resend, the spec's own library): `webhook` (the
    SDK's Webhook) signs a genuine delivery and one 10 minutes old under the two message `ids`;
    the SDK's `verify(body, headers)` must accept the genuine one and raise `error` for the
    `tampered` body and the stale one. Then the deliveries of `svix_deliveries`."""
    now = int(time.time())
    genuine = svix_headers(webhook, prefix, ids[0], body, now)
    verify(body, genuine)
    assert raises(error, verify, tampered, genuine), "the SDK refuses a changed body"
    stale = svix_headers(webhook, prefix, ids[1], body, now - 600)
    assert raises(error, verify, body, stale), "the SDK refuses a stale signature"
    return svix_deliveries(url, prefix, body, genuine, tampered, stale)
