"""Typed keys of the objects the gateway application shares with its handlers and with
the agent console mounted under /console (a sub-app reads them via `request.config_dict`)."""

from __future__ import annotations

import redis.asyncio as aioredis
from aiohttp import web
from sqlalchemy.engine import Engine

from bot.config import Settings
from bot.gateway.dedupe import Once
from bot.gateway.handoff_flow import HandoffFlow
from bot.gateway.notices import Notices
from bot.gateway.outbox import Outbox
from bot.gateway.pipeline import Assistant
from bot.gateway.webchat import WebChat
from bot.gateway.wechat_view import WeChatEndpoint
from bot.records.buffer import RecordBuffer
from bot.records.writer import RecordWriter

SETTINGS = web.AppKey("settings", Settings)
REDIS = web.AppKey("redis", aioredis.Redis)
ENGINE = web.AppKey("engine", Engine)
RECORDS = web.AppKey("records", RecordBuffer)
ASSISTANT = web.AppKey("assistant", Assistant)
OUTBOX = web.AppKey("outbox", Outbox)
WECHAT = web.AppKey("wechat", WeChatEndpoint)
WEBCHAT = web.AppKey("webchat", WebChat)
WRITER = web.AppKey("writer", RecordWriter)
FLOW = web.AppKey("flow", HandoffFlow)
ONCE = web.AppKey("once", Once)
NOTICES: web.AppKey[Notices | None] = web.AppKey("notices")  # None: no notice template configured

__all__ = ["ASSISTANT", "ENGINE", "FLOW", "NOTICES", "ONCE", "OUTBOX", "RECORDS", "REDIS", "SETTINGS", "WEBCHAT", "WECHAT",
           "WRITER"]
