# Vectors for the `sns` preset. AWS SNS signs with RSA under a certificate it publishes at
# SigningCertURL; with no internet here the certificate is a self-made one (below, made once
# with cryptography 50.0.2), configured in signature.public_key as a user configures the PEM
# downloaded from SigningCertURL. Messages are signed by the rules of "Verifying the
# signatures of Amazon SNS messages" (SNS developer guide): SignatureVersion 1 (SHA1) and 2
# (SHA256). SignatureVersion 1 messages are checked inside this script by
# aws-sns-message-validator 0.0.5 (PyPI; SNSMessageValidator.validate_message, its
# certificate download replaced by the certificate below); that validator does only version 1,
# so version 2 messages are checked with cryptography over the validator's own string to sign.
# Both versions were also checked once with AWS's own npm validator, sns-validator 0.3.5
# (github.com/aws/aws-js-sns-message-validator; its https.get pointed at this certificate).
# Payloads: the Notification and SubscriptionConfirmation examples of the SNS developer guide
# ("HTTP/S: Parsing message formats").
import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vectors  # noqa: E402  (tests/vectors/vectors.py)

import base64
import json
import time
from datetime import datetime, timezone

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509 import load_pem_x509_certificate
from sns_message_validator import SNSMessageValidator
from sns_message_validator.exceptions import SignatureVerificationFailureException

KEY_PEM = """-----BEGIN PRIVATE KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQC5jLrKt18wWezk
Tyon0tbK4j0ZWnd49keEjxe6BWgQUxW9K2+V1wepfFw9kfDSL0ETYP0gJQSYr72p
X8fMYLMh1DqSQYqEBj7dcOzp2kRtWX3m21m8iy+GOUTil070PnjK+znqjt9/o1c5
BVd+aAoEiEQBVPFyORMFJeau57c79S+yPavqIcMZYSmUUpTStZj6F5McVMI2+/fs
lZ0bPZA5SB+LQIZvUYIy1+0HeHsa1zN/BYqpiTVowNU02AVtoLbOHK3WvT/iBL2D
2m18Z94gGJqVpWjWh5hvGDG1zdhbW9SdtfnL9ap+ifbedSaW4KcF9mTV+Oo24dw7
QovfhhVnAgMBAAECggEAK01W+GEkA1YxLTT2axXOz8lNpgGRWTbsiNiWGnERkKG7
NIsS/v6QSLL/mdTZxUuG3d1oJVzOPk3hLspuB9nXZEExrBlEmLwWZrpoZ8jq6DQW
6E3vmstGu4XY+CKEqAZ+TSylHwLZ0OFPRTzkZtkj4VvltwPaVyRPtodaVx43inOu
t1GUbyeL8f8JE3T9UqSHYMOdirE1P8TmLi/EaAu8jjK4Idb6cvtUwLKQK1usyYhv
w5ryQPUAYTF+bk4AnK5uhuoJ/8eiXuZczgxJCpOBzbqvH/hyVAejuMOZQ7gWtgSv
9ey6B/cZw+UeZEyNtt8Va9E7NxnhAWTgtMmg7QYEOQKBgQD7mtRlCC3f3MY+7/oo
n8vgtRLIjQOy0dl+3h3DBgp1GgYNhkHK+ACEatm1vnv5Qzpl5mLqg5foJSA15JDB
I8HaEZwGr/yB51KVUjXBzZzqcp5ZnS3Vun6ebJT3MyhB0omIKJnez9gkxfzSvM/t
XP82yTWzlrKzCA+oamqY2KU/jwKBgQC8yoDbRzfZzduzMF/xFHoxods741IZUA8Z
dKvp/LFXsrt9scFByh+GyBi26fvcP9Hf3XeJLUcnaoulwLNYfyWitUdrLHMxNjZm
nrTyZ0DqTOY1T1g+kOizkcKBmZBMZDm3Cx8Rm7oi6G604iaKm5NZvjgK3Y5Wh1ea
WavkJw7gqQKBgQDIcNZYDqYNO6KrrR6LkpInV9m4765MnSU6DtWC8qMOG0dLKvPr
MJuo4j7CrReywj4Zw+p1jZRNGpaImKhBVa0vfuvf3/+3tYNy9eVhmd4yYFGKbs9+
/22z5Cjgrl6Z4ZIzaLT8bnRxB1GcyVKUdIvVJ4KiqaF/QyLGNtDpJ16uPQKBgGxv
+EF7D6Zn6phq4cCsXV9is3Ubpc1qQbICZLhab1aLD8wrrHBoc2FMT33IueSRN7BZ
Gc7OFf+a4ClNnPXo2iox65qwhl2u4OJiqFZPXmb10oiuUWZmf3Kc91bPaKWoL8pm
der8QpbIYMY+25pjr+gtLS14gshKptO+S9AZax85AoGBANGXHgRMqqwRQ62tmIXY
DitxWsOj+gdmTTGRH/bhF5ofmcp/Oqf6gIzfhhpwxYAY1dwZag8+7vSovvWk76B9
q54sWRF0vaFYwsRLxGMkLuAjHSBk4p5MykdS7W8+S+Yd+2kvzB0twzxuDSUs0E9k
d01RFpwTexCcmnX23MXg7iHJ
-----END PRIVATE KEY-----"""
CERT_PEM = """-----BEGIN CERTIFICATE-----
MIIC/DCCAeSgAwIBAgIUDM8pKcm3Uw+ur9qelYJ5GhYr6eQwDQYJKoZIhvcNAQEL
BQAwODE2MDQGA1UEAwwtc25zLnVzLXdlc3QtMi5hbWF6b25hd3MuY29tICh0ZXN0
LCBzZWxmLW1hZGUpMB4XDTI2MDEwMTAwMDAwMFoXDTM2MDEwMTAwMDAwMFowODE2
MDQGA1UEAwwtc25zLnVzLXdlc3QtMi5hbWF6b25hd3MuY29tICh0ZXN0LCBzZWxm
LW1hZGUpMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAuYy6yrdfMFns
5E8qJ9LWyuI9GVp3ePZHhI8XugVoEFMVvStvldcHqXxcPZHw0i9BE2D9ICUEmK+9
qV/HzGCzIdQ6kkGKhAY+3XDs6dpEbVl95ttZvIsvhjlE4pdO9D54yvs56o7ff6NX
OQVXfmgKBIhEAVTxcjkTBSXmrue3O/Uvsj2r6iHDGWEplFKU0rWY+heTHFTCNvv3
7JWdGz2QOUgfi0CGb1GCMtftB3h7GtczfwWKqYk1aMDVNNgFbaC2zhyt1r0/4gS9
g9ptfGfeIBialaVo1oeYbxgxtc3YW1vUnbX5y/Wqfon23nUmluCnBfZk1fjqNuHc
O0KL34YVZwIDAQABMA0GCSqGSIb3DQEBCwUAA4IBAQBrLyIkSTjXRIGl6KWv5pE6
liPSw1Hem3qm0W3Vr4KWf8ZQCFYkEExYYeSxQzLq2xAoiUDkkxbFeRSGbDG9r3Nv
TE0wbCp3AEFRGXPr7iEzuUixPRk9woiZXAiEkL0g8NvJZuWhvH4anJWpJLFG8jYl
aM4hbXjlSGaDcK7D3T9UxlClKQdE8jjVrms/2esKG84Q4n0FE+5MbKP54fdyJbUl
vzD27FCZNtj5j1IHmZc3t32GrrCzH7/hr+iepdp0drRSoZpwTAkJNLgSsVvFt1Gs
oR3Y/L5W5pmxOu+wkO213OGkxxVDVIq/rHh+0YaPepczooxlPUpmjEkNQWrpFeLg
-----END CERTIFICATE-----"""
# Another key: a message signed with it is not signed under the configured certificate.
OTHER_KEY_PEM = """-----BEGIN PRIVATE KEY-----
MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQDC9RPe8+n6+jV9
XvTglvmXaLmtokoLYDJZM46WnbtkPDLt5MrVaYP3lrm/bUd5FyZP/N5z/1hS7Jjx
MGPWTQfoDZfoDfrOSNAX4ZAFpPFq5FIN31IKN8KeAl8zwrDIDcBuPPEeineVIOrZ
KWrDZHM+xEkP1lc2dD2VHLaemqtEwhK2AqH9BEOHJ+Yyq9huJrHFz7ZNZwNWRU+K
hM5AEy+Uzyy8BFWpy3C4YWyD7mcZpnrfmJdizP5uq1YxIuv/1L9IjeGFLJgkfT5H
3nTtVaH3tLnE/sIcVjvF+gMOG0fID6w4v+SwBNfQLuj0azXw02nR5oES2FPU1hxX
LUHVXqKHAgMBAAECggEAFJS3vM0mEcMxO2N3WXBGuAertltQEsRcfFM3hcnv+uRq
Afgpu37QmiYUxNMd/PgHKOGKgFdf9R0aBjg0Ce8G2yX4N9yl8fn40dSTlizz+XNS
ADnnmMGLL5ATiczPScc93cVcNPusJRedA0DejvL/QYyKI/xeJ5b82011L+gnFXJy
NUc5k3QM5/rR+oLxXCUSix5qWvYubZ4Vh3bI0Ao2WcRQ5z9/chajxJvQD42x2jqY
8tlw2i7spcirBIjfNrkltXMvKtMLIaD4mij1NGN4diFRFS1JYx9p5kJSLUOSL8En
8Sk9S2oAoLEQ2ALU01xKEhBrGoChxnojyGCvDh3qGQKBgQDskzTO0WNHc9s7PoaD
kh/oCI9wU7w49wk8RIhyiBqRDPts4o+y2Fs+WwzUf8KGrn8sv9r9JyE9TibEAl6M
yVHsdcsTQ2j/XkFnOumfrE7ylYy+a78U8/+4BxfcbQg6Noj3nSW5U0kt1mEciLAJ
owL1jrsVP71D6QsAQhnwTMwczwKBgQDS9xHgnTiWikWVWcHDYcYLsE1DF/h7FWos
teyoug+VTJ4NiIRRWsAbvzxCMc3gPIOZxuu8n0CQrvJAxS9twFS9YHvGiqaR9aX4
8JeJcS2UeqQwwvgOYmIh7H++7WHjWvjjG5+OCqHyJDhFalGOY8oS5Xr4RQImP3Vn
JAaOIcy8yQKBgC6iihtm7VIthX71QWD4Ui/UWCpFZ2o3UGu/+sHREKOdUobRVpBj
1ADDxBCzqq4QAePZYhrbNtM177Bd4zOPkAWz5rdCZ5VHiE8ILvuZ5OovDtKOvNkt
jDBDvbFnEOMg0vk00jXpNBjEFNqiG0mbB79ORpTWvsF/U/rWDPTwvp/DAoGAEtGD
QLwFjjgrWNU22YzhM624VqHOwnv4iqB3yd0/ApxhBOgGlZM4y8DVSTpUGQqM2qzJ
3nt+MOnKJkjwoCOl63at09oOXbrB4WDkw5fa7wG5n7fklLPl+Qy1oHxgXP2Ccg/G
vc7o/0aH1nlTaRYxslnSDE9rj6ndeSPXidot/zECgYAaLbeA6YZMZ7XAfp7ws2lb
ISPzqTr5WshXUEGxNAvrwYJJf/UNKtbVyNV6zewwiR95apPxRsF9tt8O0HDBYBTa
g+X2nyEksC5pCUO0ELqZ0Pr+uoKyh0CQrvU56FJyoK6l0m+4L7cASKq+CCjR4R3U
MBBGg4m+3fQtMuDHs/iS2w==
-----END PRIVATE KEY-----"""

TOPIC = "arn:aws:sns:us-west-2:123456789012:MyTopic"
CERT_URL = ("https://sns.us-west-2.amazonaws.com/"
            "SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem")
UNSUBSCRIBE = ("https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe&SubscriptionArn="
               f"{TOPIC}:c9135db0-26c4-47ec-8998-413945fb5a96")
TOKEN = ("2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a747ba6f3beb7"
         "1854e285d6ad02428b09ceece29417f1f02d609c582afbacc99c583a916b9981dd2728f4ae6fdb82efd087"
         "cc3b7849e05798d2d2785c03b0879594eeac82c01f235d0e717736")


def timestamp(at):
    return datetime.fromtimestamp(at, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def string_to_sign(message):
    return SNSMessageValidator()._get_plaintext_to_sign(message).encode()


def sign(message, version="1", key_pem=KEY_PEM):
    message = {**message, "SignatureVersion": version, "SigningCertURL": CERT_URL}
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    digest = hashes.SHA1() if version == "1" else hashes.SHA256()
    signature = key.sign(string_to_sign(message), padding.PKCS1v15(), digest)
    return {**message, "Signature": base64.b64encode(signature).decode()}


class CertificateSession:
    """Stands for the validator's download of SigningCertURL."""

    def get(self, url):
        assert url == CERT_URL, url
        return type("Response", (), {"content": CERT_PEM.encode()})()


def valid(message):
    if message["SignatureVersion"] == "1":
        validator = SNSMessageValidator()
        validator._cert_session = CertificateSession()
        try:
            validator.validate_message(message)
        except SignatureVerificationFailureException:
            return False
        return True
    public_key = load_pem_x509_certificate(CERT_PEM.encode()).public_key()
    try:
        public_key.verify(base64.b64decode(message["Signature"]), string_to_sign(message),
                          padding.PKCS1v15(), hashes.SHA256())
    except Exception:
        return False
    return True


def notification(message_id, at, subject=True):
    message = {
        "Type": "Notification",
        "MessageId": message_id,
        "TopicArn": TOPIC,
        "Message": "Hello world!",
        "Timestamp": timestamp(at),
        "UnsubscribeURL": UNSUBSCRIBE,
    }
    if subject:
        message["Subject"] = "My First Message"
    return message


def confirmation(at):
    return {
        "Type": "SubscriptionConfirmation",
        "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "Token": TOKEN,
        "TopicArn": TOPIC,
        "Message": f"You have chosen to subscribe to the topic {TOPIC}.\nTo confirm the "
                   "subscription, visit the SubscribeURL included in this message.",
        "SubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&"
                        f"TopicArn={TOPIC}&Token={TOKEN}",
        "Timestamp": timestamp(at),
    }


def delivery(url, name, message, status, records, error=None):
    headers = {
        "Content-Type": "text/plain; charset=UTF-8",
        "x-amz-sns-message-type": message["Type"],
        "x-amz-sns-message-id": message["MessageId"],
        "x-amz-sns-topic-arn": TOPIC,
        "User-Agent": "Amazon Simple Notification Service Agent",
    }
    if message["Type"] == "Notification":
        headers["x-amz-sns-subscription-arn"] = f"{TOPIC}:c9135db0-26c4-47ec-8998-413945fb5a96"
    body = json.dumps(message, indent=2)
    return vectors.delivery(name, url, headers, body, status, records, error or None)


def deliveries(url):
    now = int(time.time())
    confirm = sign(confirmation(now))
    v1 = sign(notification("22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324", now))
    v2 = sign(notification("da41e39f-ea4d-435a-b922-c6aae3915ebe", now, subject=False), "2")
    assert valid(confirm) and valid(v1) and valid(v2)
    tampered = {**v1, "Message": "Hello world?"}
    assert not valid(tampered)
    other = sign(notification("0b9b1e5e-c4a3-4f0e-9ad0-3ad3c1c2a7a1", now), key_pem=OTHER_KEY_PEM)
    assert not valid(other)
    # SNS retries HTTP deliveries for up to an hour: the preset accepts an hour of skew.
    stale = sign(notification("4a2b1d1f-2d0e-4d8e-9b55-8b1f0c9b7e11", now - 7200))
    assert valid(stale)
    return [
        delivery(url, "one byte of Message changed", tampered, 401, 0, "invalid signature"),
        delivery(url, "signed under another certificate", other, 401, 0, "invalid signature"),
        delivery(url, "signed 2 hours ago", stale, 401, 0, "expired signature"),
        delivery(url, "subscription confirmation (signature version 1)", confirm, 200, 1),
        delivery(url, "notification (signature version 1)", v1, 200, 1),
        delivery(url, "notification without Subject (signature version 2)", v2, 200, 1),
        delivery(url, "notification redelivered (same message id)", v1, 200, 0),
    ]


if __name__ == "__main__":
    vectors.run(
        config={"sender": "sns", "signature": {"public_key": CERT_PEM}},
        deliveries=deliveries,
    )
