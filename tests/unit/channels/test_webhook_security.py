"""Webhook signatures, checked against signatures computed here independently of the SDKs."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timezone

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from channels.webhook_security import verify_sendgrid_signature, verify_twilio_signature

TOKEN = "12345678901234567890123456789012"
URL = "https://relance.example/webhooks/twilio/status?action_id=42"
PARAMS = {"MessageSid": "SM" + "a" * 32, "MessageStatus": "delivered", "To": "+33612345678"}


def twilio_signature(token: str, url: str, params: dict[str, str]) -> str:
    # Twilio's scheme: HMAC-SHA1 over the URL followed by each POST key and value, keys sorted.
    signed = url + "".join(f"{key}{params[key]}" for key in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), signed.encode(), hashlib.sha1).digest()).decode()


def test_a_twilio_callback_signed_with_our_token_is_accepted():
    assert verify_twilio_signature(TOKEN, URL, PARAMS, twilio_signature(TOKEN, URL, PARAMS))


def test_a_twilio_callback_with_a_changed_field_wrong_token_or_no_signature_is_refused():
    signature = twilio_signature(TOKEN, URL, PARAMS)
    assert not verify_twilio_signature(TOKEN, URL, {**PARAMS, "MessageStatus": "failed"}, signature)
    assert not verify_twilio_signature("0" * 32, URL, PARAMS, signature)
    assert not verify_twilio_signature(TOKEN, URL.replace("42", "43"), PARAMS, signature)
    assert not verify_twilio_signature(TOKEN, URL, PARAMS, None)
    assert not verify_twilio_signature(TOKEN, URL, PARAMS, "")


# -- SendGrid --------------------------------------------------------------------------------------

NOW = datetime(2025, 12, 31, 9, 0, tzinfo=timezone.utc)
PAYLOAD = b'[{"email":"marie@example.org","event":"delivered","action_id":"42"}]\r\n'


@pytest.fixture(scope="module")
def key_pair():
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return private, base64.b64encode(der).decode(), pem


def sign(private, payload: bytes, timestamp: str) -> str:
    return base64.b64encode(private.sign(timestamp.encode() + payload, ec.ECDSA(hashes.SHA256()))).decode()


def test_a_sendgrid_event_batch_signed_with_the_account_key_is_accepted(key_pair):
    private, b64, pem = key_pair
    stamp = str(int(NOW.timestamp()) - 5)
    signature = sign(private, PAYLOAD, stamp)
    assert verify_sendgrid_signature(b64, PAYLOAD, signature, stamp, now=NOW)
    assert verify_sendgrid_signature(pem, PAYLOAD, signature, stamp, now=NOW.timestamp())


def test_a_sendgrid_event_batch_changed_in_transit_is_refused(key_pair):
    private, b64, _ = key_pair
    stamp = str(int(NOW.timestamp()))
    signature = sign(private, PAYLOAD, stamp)
    assert not verify_sendgrid_signature(b64, PAYLOAD.replace(b"delivered", b"bounce"), signature, stamp, now=NOW)
    assert not verify_sendgrid_signature(b64, PAYLOAD, signature, str(int(stamp) + 1), now=NOW)


def test_a_validly_signed_but_stale_or_future_sendgrid_request_is_refused(key_pair):
    private, b64, _ = key_pair
    for offset in (-601, 601):
        stamp = str(int(NOW.timestamp()) + offset)
        assert not verify_sendgrid_signature(b64, PAYLOAD, sign(private, PAYLOAD, stamp), stamp, now=NOW)
    stamp = str(int(NOW.timestamp()) - 3000)
    signature = sign(private, PAYLOAD, stamp)
    assert verify_sendgrid_signature(b64, PAYLOAD, signature, stamp, now=NOW, tolerance_seconds=3600)


def test_missing_or_garbled_sendgrid_signatures_are_refused(key_pair):
    _, b64, _ = key_pair
    stamp = str(int(NOW.timestamp()))
    for signature, timestamp in [(None, stamp), ("", stamp), ("sig", None), ("%%%not-base64", stamp),
                                 (base64.b64encode(b"junk").decode(), stamp), ("c2ln", "yesterday")]:
        assert not verify_sendgrid_signature(b64, PAYLOAD, signature, timestamp, now=NOW)
    assert not verify_sendgrid_signature(b64, b"\xff\xfe", "c2ln", stamp, now=NOW)


def test_an_unreadable_sendgrid_public_key_is_a_configuration_error():
    with pytest.raises(ValueError):
        verify_sendgrid_signature("not a key", PAYLOAD, "c2ln", str(int(NOW.timestamp())), now=NOW)
