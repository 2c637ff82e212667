# Source: Mux's Python package (mux-python) has no webhook verifier. Signed by the documented
# algorithm of https://docs.mux.com/core/verify-webhook-signatures (Mux-Signature: t=…,v1=hex
# HMAC-SHA256 of "t.body"), and checked once with Mux's npm SDK @mux/mux-node 15.3.0
# (mux.webhooks.verifySignature accepted the genuine delivery and refused the changed and the
# stale ones). Payload: the video.asset.ready example of https://docs.mux.com/core/listen-for-webhooks
# (shortened).
import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import json
import time

SECRET = "okl7tv1eq2ka8iq5ib6l6ec4v1mf2m5h"

EVENT = {
    "type": "video.asset.ready",
    "object": {"type": "asset", "id": "0201p02fGKPE7MrbC269XRD7LpcHhrmbu0002"},
    "id": "3a56ac3d-33da-4366-855b-f592d898409d",
    "environment": {"name": "Demo pages", "id": "j0863n"},
    "data": {
        "tracks": [
            {"type": "video", "max_width": 1280, "max_height": 544, "max_frame_rate": 23.976,
             "id": "0201p02fGKPE7MrbC269XRD7LpcHhrmbu0002", "duration": 153.361542},
            {"type": "audio", "max_channels": 2, "max_channel_layout": "stereo",
             "id": "FzB95vBizv02bYNqO5QVzNWRrVo5SnQju", "duration": 153.361497},
        ],
        "status": "ready",
        "max_stored_resolution": "SD",
        "max_stored_frame_rate": 23.976,
        "id": "0201p02fGKPE7MrbC269XRD7LpcHhrmbu0002",
        "duration": 153.361542,
        "created_at": "2018-02-15T01:04:45.000Z",
        "aspect_ratio": "40:17",
    },
    "created_at": "2018-02-15T01:04:45.000Z",
    "accessor_source": None,
    "accessor": None,
    "request_id": None,
}


def sign(body, t):
    v1 = vectors.hmac_hex(SECRET, f"{t}.{body}")
    return f"t={t},v1={v1}"


def deliveries(url):
    now = int(time.time())
    body = json.dumps(EVENT)
    header = sign(body, now)
    changed = body.replace('"max_width": 1280', '"max_width": 1281', 1)
    assert changed != body
    stale = sign(body, now - 600)
    h = lambda sig: {"Content-Type": "application/json", "Mux-Signature": sig}  # noqa: E731
    return vectors.genuine_changed_stale(url, h(header), body, changed, h(stale))


if __name__ == "__main__":
    vectors.run(config={"sender": "mux", "signature": {"secret": SECRET}}, deliveries=deliveries)
