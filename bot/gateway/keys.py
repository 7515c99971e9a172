"""Every Redis key the gateway uses, built with the project's one key helper."""

from __future__ import annotations

from bot.redis_keys import key


def lease(msg_key: str) -> str:
    return key("wx:lease", msg_key)


def outcome(msg_key: str) -> str:
    return key("wx:outcome", msg_key)


def access_token(appid: str) -> str:
    return key("wx", f"{appid}:access_token")


def jsapi_ticket(appid: str) -> str:
    return key("wx", f"{appid}:jsapi_ticket")


def token_lock(appid: str) -> str:
    return key("wx", f"{appid}:access_token:lock")


OUTBOX = key("wx", "outbox")
OUTBOX_GROUP = "senders"
OUTBOX_FAILED = key("wx", "outbox:failed")
COUNTERS = key("wx", "counters")
