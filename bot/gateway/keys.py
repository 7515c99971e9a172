"""Every Redis key the gateway uses, built in one place (`patentdesk:{area}:{id}`)."""

from __future__ import annotations


def lease(msg_key: str) -> str:
    return f"patentdesk:wx:lease:{msg_key}"


def outcome(msg_key: str) -> str:
    return f"patentdesk:wx:outcome:{msg_key}"


def access_token(appid: str) -> str:
    return f"patentdesk:wx:{appid}:access_token"


def token_lock(appid: str) -> str:
    return f"patentdesk:wx:{appid}:access_token:lock"


OUTBOX = "patentdesk:wx:outbox"
OUTBOX_GROUP = "senders"
OUTBOX_FAILED = "patentdesk:wx:outbox:failed"
COUNTERS = "patentdesk:wx:counters"
