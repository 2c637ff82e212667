# Source: discord-interactions 0.4.0 (PyPI, Discord's own; github.com/discord/discord-interactions-python
# discord_interactions/__init__.py): verify_key accepts or refuses each delivery here. Discord
# signs with its private key, so the deliveries are signed with a fixed Ed25519 key (PyNaCl
# 1.6.2, the library's own dependency) whose public half stands for the application's Public
# Key: X-Signature-Ed25519 is the hex signature of X-Signature-Timestamp + the body, as
# https://discord.com/developers/docs/interactions/overview#setting-up-an-endpoint-validating-security-request-headers
# specifies. Discord checks an endpoint with a signed PING ({"type": 1}, answered {"type": 1})
# and with wrongly signed requests, which must get 401. The APPLICATION_COMMAND body is the
# example of https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-object.
# An interaction must be answered within 3 seconds with an interaction response: the preset's
# reply is {"type": 5} (DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE: "thinking…", the app follows up
# with the interaction's token, which the record holds).
# verify_key does not check the timestamp's age; the tap allows 300 seconds (asserted below).
import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import contextlib
import io
import json
import time

from discord_interactions import InteractionResponseType, InteractionType, verify_key
from nacl.signing import SigningKey

SIGNING_KEY = SigningKey(bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"))
PUBLIC_KEY = SIGNING_KEY.verify_key.encode().hex()

PING = {"application_id": "771825006014889984", "id": "1089286410485719040",
        "token": "aW50ZXJhY3Rpb246MTA4OTI4NjQxMDQ4NTcxOTA0MDpFeGFtcGxlVG9rZW4", "type": 1,
        "user": {"id": "53908232506183680", "username": "Mason", "avatar": "a_d5efa99b3eeaa7dd43acca82f5692432",
                 "discriminator": "1337", "public_flags": 131141},
        "version": 1}
COMMAND = {
    "type": 2, "token": "A_UNIQUE_TOKEN",
    "member": {"user": {"id": "53908232506183680", "username": "Mason",
                        "avatar": "a_d5efa99b3eeaa7dd43acca82f5692432", "discriminator": "1337",
                        "public_flags": 131141},
               "roles": ["539082325061836999"], "premium_since": None, "permissions": "2147483647",
               "pending": False, "nick": None, "mute": False, "joined_at": "2017-03-13T19:19:14.040000+00:00",
               "is_pending": False, "deaf": False},
    "id": "786008729715212338", "guild_id": "290926798626357999", "app_permissions": "442368",
    "guild_locale": "en-US", "locale": "en-US",
    "data": {"options": [{"type": 3, "name": "cardname", "value": "The Gitrog Monster"}],
             "type": 1, "name": "cardsearch", "id": "771825006014889984"},
    "channel_id": "645027906669510667",
}


def sign(timestamp, body):
    return SIGNING_KEY.sign((timestamp + body).encode()).signature.hex()


def verified(body, signature, timestamp):
    # verify_key prints the reason of a refusal: keep stdout for the deliveries.
    with contextlib.redirect_stdout(io.StringIO()):
        return verify_key(body.encode(), signature, timestamp, PUBLIC_KEY)


def delivery(name, url, body, timestamp, signature, **expect):
    headers = {"Content-Type": "application/json", "X-Signature-Ed25519": signature,
               "X-Signature-Timestamp": timestamp, "User-Agent": "Discord-Interactions/1.0 (+https://discord.com)"}
    return vectors.delivery(name, url, headers, body, **expect)


def deliveries(url):
    now = str(int(time.time()))
    stale = str(int(time.time()) - 600)
    ping = json.dumps(PING, separators=(",", ":"))
    command = json.dumps(COMMAND, separators=(",", ":"))
    tampered = command.replace("Gitrog", "Gitroh")
    wrong = SigningKey(bytes(32)).sign((now + ping).encode()).signature.hex()

    assert verified(ping, sign(now, ping), now) and verified(command, sign(now, command), now)
    assert not verified(tampered, sign(now, command), now)
    assert not verified(ping, wrong, now)
    assert verified(command, sign(stale, command), stale) and int(now) - int(stale) > 300
    assert PING["type"] == InteractionType.PING and COMMAND["type"] == InteractionType.APPLICATION_COMMAND
    deferred = json.dumps({"type": InteractionResponseType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE})
    return [
        delivery("PING signed by another key", url, ping, now, wrong, status=401, records=0,
                 error="invalid signature"),
        delivery("PING", url, ping, now, sign(now, ping), status=200, records=0,
                 reply=json.dumps({"type": InteractionResponseType.PONG})),
        delivery("genuine (APPLICATION_COMMAND)", url, command, now, sign(now, command),
                 status=200, records=1, reply=deferred),
        delivery("one byte changed", url, tampered, now, sign(now, command), status=401,
                 records=0, error="invalid signature"),
        delivery("signed 10 minutes ago", url, command, stale, sign(stale, command), status=401,
                 records=0, error="expired signature"),
    ]


if __name__ == "__main__":
    vectors.run(
        config={"sender": "discord", "signature": {"public_key": PUBLIC_KEY}},
        deliveries=deliveries,
    )
