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
    # compared as bytes: compare_digest refuses non-ASCII str (a TypeError, not a mismatch)
    if not signature or not hmac.compare_digest(expected.encode(), signature.lower().encode("utf-8", "replace")):
        raise InvalidSignature("signature mismatch")


def check_timestamp(timestamp: str, now: float, window: float) -> int:
    """Parse the query timestamp and reject one further than `window` seconds from now."""
    try:
        value = int(timestamp)
    except (TypeError, ValueError) as exc:
        raise ReplayedRequest(f"timestamp {str(timestamp)[:40]!r} is not an integer") from exc
    away = int(now) - value  # in integers: a timestamp beyond any float must not overflow
    if abs(away) > window:
        far = f"{away} s" if abs(away) < 10**12 else "very far"
        raise ReplayedRequest(f"timestamp is {far} away from now (window {int(window)} s)")
    return value


def jsapi_signature(ticket: str, noncestr: str, timestamp: int | str, url: str) -> str:
    """The JS-SDK's wx.config signature: SHA1 of its four fields as a query string, keys in
    ASCII order, the page URL without its #fragment (the open tags need it on our pages)."""
    page = url.split("#", 1)[0]
    plain = f"jsapi_ticket={ticket}&noncestr={noncestr}&timestamp={timestamp}&url={page}"
    return hashlib.sha1(plain.encode("utf-8")).hexdigest()
