"""Records never hold an OpenID: a keyed HMAC stands in for it, stable per installation."""

from __future__ import annotations

import hashlib
import hmac


def pseudonym(key: str, channel: str, user_id: str) -> str:
    digest = hmac.new(key.encode("utf-8"), f"{channel}:{user_id}".encode(), hashlib.sha256)
    return "u_" + digest.hexdigest()[:24]


def record_key(key: str, msg_key: str) -> str:
    """A message's dedupe key fit for records: MsgIds kept (they identify no one), others hashed."""
    if msg_key.startswith("msg:"):
        return msg_key
    digest = hmac.new(key.encode("utf-8"), msg_key.encode("utf-8"), hashlib.sha256)
    return msg_key.split(":", 1)[0] + ":" + digest.hexdigest()[:32]
