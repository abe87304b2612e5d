"""Standard Webhooks signature verification (shared/api/shipbob.md §6).

signed content = f"{webhook-id}.{webhook-timestamp}.".encode() + raw body
signature      = base64(HMAC-SHA256(key, signed content)), sent as "v1,<b64>"
key            = base64-decoded secret without its "whsec_" prefix

Implemented here rather than with `standardwebhooks.Webhook.verify` because
that takes one secret, decodes the body as text and raises on malformed
signature entries; we need several secrets (rotation + the subscription
secret) over raw bytes, with bad entries simply not matching.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

TOLERANCE_SECONDS = 5 * 60
SECRET_PREFIX = "whsec_"
_TIMESTAMP = re.compile(r"[0-9]{1,15}")


class SignatureError(Exception):
    """Verification failed; `reason` is safe to log (no secret, no signature)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class NoSecretError(SignatureError):
    """No secret is configured, so nothing can be verified."""

    def __init__(self) -> None:
        super().__init__("no webhook secret configured")


@dataclass(frozen=True)
class SignedHeaders:
    webhook_id: str
    timestamp: str  # as sent: it is part of the signed content
    signatures: tuple[str, ...]


def decode_secret(secret: str) -> bytes:
    """The HMAC key of a "whsec_<base64>" secret, decoded as the
    standardwebhooks library does (so both sides derive the same key)."""
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX) + "==")
    except (binascii.Error, ValueError):
        raise ValueError("webhook secret is not base64") from None
    if not key:
        raise ValueError("webhook secret is empty")
    return key


def sign(key: bytes, webhook_id: str, timestamp: str | int, body: bytes) -> str:
    """One "v1,<base64>" signature entry."""
    return "v1," + base64.b64encode(_digest(key, webhook_id, str(timestamp), body)).decode()


def parse_headers(headers: Mapping[str, str], now: float | None = None) -> SignedHeaders:
    """Read and check the three signature headers; no secret needed yet.

    `headers` may be any case-insensitive mapping (Flask's request.headers) or
    a plain dict with lower-case names.
    """
    webhook_id = headers.get("webhook-id") or ""
    timestamp = headers.get("webhook-timestamp") or ""
    signature = headers.get("webhook-signature") or ""
    if not (webhook_id and timestamp and signature):
        raise SignatureError("missing signature headers")
    if not _TIMESTAMP.fullmatch(timestamp):
        raise SignatureError("malformed timestamp")
    skew = int(timestamp) - (time.time() if now is None else now)
    if skew < -TOLERANCE_SECONDS:
        raise SignatureError("timestamp too old")
    if skew > TOLERANCE_SECONDS:
        raise SignatureError("timestamp in the future")
    return SignedHeaders(webhook_id, timestamp, tuple(signature.split()))


def verify(body: bytes, signed: SignedHeaders, keys: Iterable[bytes]) -> None:
    """Pass if any v1 entry matches the HMAC under any key; else raise.

    `keys` is consumed lazily, so a caller can put a slow source (the
    database) last and it is only read when the earlier keys did not match.
    """
    candidates = _decoded_v1_entries(signed.signatures)
    tried = 0
    for key in keys:
        tried += 1
        expected = _digest(key, signed.webhook_id, signed.timestamp, body)
        # Check every entry without an early exit per entry, so timing does
        # not tell which one was close; compare_digest is constant-time.
        matched = False
        for candidate in candidates:
            matched |= hmac.compare_digest(expected, candidate)
        if matched:
            return
    if tried == 0:
        raise NoSecretError()
    raise SignatureError("no matching signature")


def _decoded_v1_entries(entries: Iterable[str]) -> list[bytes]:
    decoded = []
    for entry in entries:
        version, _, value = entry.partition(",")
        if version != "v1":
            continue  # unknown schemes (e.g. v1a asymmetric) are not ours to check
        try:
            decoded.append(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            continue  # a garbled entry just does not match; others still may
    return decoded


def _digest(key: bytes, webhook_id: str, timestamp: str, body: bytes) -> bytes:
    signed_content = f"{webhook_id}.{timestamp}.".encode() + body
    return hmac.new(key, signed_content, hashlib.sha256).digest()
