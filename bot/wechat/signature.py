"""Request signatures and the replay window (wechatpy's check_signature, done safely)."""

from __future__ import annotations

import hashlib
import hmac

from bot.wechat.errors import InvalidSignature, ReplayedRequest


def sign(*parts: str) -> str:
    """SHA1 hex of the parts sorted lexicographically and joined with no separator."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def check_signature(signature: str, *parts: str) -> None:
    """Raise InvalidSignature unless `signature` signs `parts` (constant-time compare)."""
    expected = sign(*parts)
    if not signature or not hmac.compare_digest(expected, signature.lower()):
        raise InvalidSignature("signature mismatch")


def check_timestamp(timestamp: str, now: float, window: float) -> int:
    """Parse the query timestamp and reject one further than `window` seconds from now."""
    try:
        value = int(timestamp)
    except (TypeError, ValueError) as exc:
        raise ReplayedRequest(f"timestamp {timestamp!r} is not an integer") from exc
    if abs(now - value) > window:
        raise ReplayedRequest(f"timestamp {value} is {int(now - value)} s away from now (window {int(window)} s)")
    return value
