"""Reaching a WeChat user after the 48-hour window: the subscription notice (订阅通知).

A customer-service message is refused (45015) once a user has been silent 48 hours. When
a user leaves a message, or a follow-up may come later, we ask them to allow one notice;
past the window the outbox sends that notice instead: the account's template (from
WECHAT_ACCOUNT_FILE) filled with a title, a short summary and the time, and a link to a
page of ours holding the whole reply, from which the user returns to the conversation.
The platform allows one notice per accepted subscription; without one it answers 43101
and the reply is recorded as refused.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import redis.asyncio as aioredis

from bot import replies
from bot.gateway.account import NoticeTemplate
from bot.gateway.wechat_api import WeChatAPI
from bot.redis_keys import key
from bot.wechat.signature import jsapi_signature

PAGE_TTL = 30 * 86400
THING_MAX = 20
CHINA = timezone(timedelta(hours=8))


def notice_key(page_id: str) -> str:
    return key("wx:notice", page_id)


def page_for_key(msg_key: str) -> str:
    return key("wx:notice_for", msg_key)


def summary(text: str, limit: int = THING_MAX) -> str:
    """A `thing` keyword's value: one line of at most 20 characters."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


class Notices:
    def __init__(self, api: WeChatAPI, redis: aioredis.Redis, template: NoticeTemplate, public_url: str,
                 clock: Callable[[], float] = time.time) -> None:
        self.api = api
        self.redis = redis
        self.template = template
        self.public_url = public_url.rstrip("/")
        self.clock = clock

    @property
    def subscribe_url(self) -> str:
        return f"{self.public_url}/wechat/subscribe"

    def ask(self) -> str:
        """The request to allow one notice, appended where a reply may come after 48 hours."""
        return replies.notice_ask(self.subscribe_url)

    def data(self, text: str) -> dict[str, dict[str, str]]:
        """The template's keywords filled in (title, summary, time as the account file says)."""
        now = datetime.fromtimestamp(self.clock(), CHINA)
        fills = {"title": replies.NOTICE_TITLE, "summary": summary(text), "time": f"{now:%Y-%m-%d %H:%M}"}
        return {keyword: {"value": fills[what]} for keyword, what in self.template.fields.items()}

    async def send(self, openid: str, text: str, msg_key: str) -> str:
        """Deliver `text` past the window: a later part of the same reply joins the page the
        first part's notice links to; the first part sends the notice. Returns the page id.
        Raises APIError (e.g. 43101: no subscription left) or PlatformUnavailable."""
        existing = await self.redis.get(page_for_key(msg_key))
        if existing:
            page_id = existing.decode() if isinstance(existing, bytes) else str(existing)
            await self.redis.rpush(notice_key(page_id), json.dumps({"text": text}, ensure_ascii=False))
            return page_id
        page_id = secrets.token_urlsafe(18)
        body: dict[str, Any] = {"touser": openid, "template_id": self.template.template_id,
                                "page": f"{self.public_url}/wechat/notice/{page_id}", "data": self.data(text)}
        await self.api.call("POST", "/cgi-bin/message/subscribe/bizsend", body)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(notice_key(page_id), json.dumps({"text": text}, ensure_ascii=False))
            pipe.expire(notice_key(page_id), PAGE_TTL)
            pipe.set(page_for_key(msg_key), page_id, ex=PAGE_TTL)
            await pipe.execute()
        return page_id

    async def jsapi_config(self, url: str) -> dict[str, Any]:
        """wx.config's argument for the page at `url`: signed, opening the subscription tag."""
        timestamp, nonce = int(self.clock()), secrets.token_urlsafe(12)
        ticket = await self.api.jsapi_ticket()
        return {"debug": False, "appId": self.api.appid, "timestamp": timestamp, "nonceStr": nonce,
                "signature": jsapi_signature(ticket, nonce, timestamp, url), "jsApiList": ["checkJsApi"],
                "openTagList": ["wx-open-subscribe"]}

    async def page(self, page_id: str) -> list[str] | None:
        """The texts a notice links to (None: unknown or expired)."""
        raw = await self.redis.lrange(notice_key(page_id), 0, -1)
        return [json.loads(item)["text"] for item in raw] if raw else None
