"""Is this webhook really from the provider? Signature checks for Twilio and SendGrid callbacks.

This module is the one agreed exception to "one module per vendor SDK": besides
channels/twilio_sms.py it imports `twilio.request_validator.RequestValidator`, and besides
channels/sendgrid_email.py it imports `sendgrid.helpers.eventwebhook.EventWebhook`. Both are
verification helpers only (no API client), and re-implementing a signature scheme by hand is a
classic source of security bugs. The web routes call these functions; they hold no secret.

    verify_twilio_signature(auth_token, url, params, signature) -> bool
    verify_sendgrid_signature(public_key, payload, signature, timestamp, *, now, tolerance_seconds=600) -> bool

Both return False for anything that does not verify (bad or missing signature, stale timestamp,
undecodable input). A malformed SendGrid public key is a configuration error and raises ValueError.
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

from sendgrid.helpers.eventwebhook import EventWebhook
from twilio.request_validator import RequestValidator

__all__ = ["verify_sendgrid_signature", "verify_twilio_signature"]

_PEM_HEADER = "-----BEGIN PUBLIC KEY-----"
_PEM_FOOTER = "-----END PUBLIC KEY-----"


def verify_twilio_signature(
    auth_token: str, url: str, params: Mapping[str, Any] | str, signature: str | None
) -> bool:
    """`url` is the full URL Twilio called (scheme, host, path and query, as configured);
    `params` the POSTed form fields (or the raw body, for JSON callbacks signed by bodySHA256)."""
    if not signature:
        return False
    return bool(RequestValidator(auth_token).validate(url, params, signature))


@lru_cache(maxsize=8)
def _event_webhook(public_key: str) -> EventWebhook:
    """SendGrid shows the key as base64 DER; PEM is accepted too. Parsed once per key."""
    body = public_key.strip()
    if body.startswith(_PEM_HEADER):
        body = body.removeprefix(_PEM_HEADER).removesuffix(_PEM_FOOTER)
    body = "".join(body.split())
    try:
        return EventWebhook(body)
    except (ValueError, TypeError) as exc:
        raise ValueError("the SendGrid webhook public key cannot be read") from exc


def verify_sendgrid_signature(
    public_key_pem_or_b64: str,
    payload: bytes,
    signature: str | None,
    timestamp: str | None,
    *,
    now: datetime | float,
    tolerance_seconds: float = 600,
) -> bool:
    """Check the ECDSA signature over timestamp + raw body, and that the timestamp is recent
    (an old, validly signed request replayed later is refused)."""
    if not signature or not timestamp:
        return False
    try:
        sent_at = int(timestamp)
    except ValueError:
        return False
    current = now.timestamp() if isinstance(now, datetime) else float(now)
    if abs(current - sent_at) > tolerance_seconds:
        return False
    verifier = _event_webhook(public_key_pem_or_b64)
    try:
        return bool(verifier.verify_signature(payload.decode("utf-8"), signature, timestamp))
    except (UnicodeDecodeError, binascii.Error, ValueError):
        return False
