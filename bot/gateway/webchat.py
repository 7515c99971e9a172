"""JSON web chat for a website widget: the same assistant and records as WeChat.

POST /api/chat {"sender": "<widget's visitor id>", "message": "...", "id": "<optional
client message id for idempotent retries>"} -> {"messages": [{"text": ...}], ...}.
"""

from __future__ import annotations

import functools
import json
import re
import uuid

from aiohttp import web
from redis.exceptions import RedisError

from bot.gateway.dedupe import Once, Outcome
from bot.gateway.delivery import Delivery
from bot.gateway.messages import MAX_TEXT_CHARS, Inbound
from bot.gateway.pipeline import Assistant

_json = functools.partial(web.json_response, dumps=functools.partial(json.dumps, ensure_ascii=False))

SENDER = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def _error(status: int, message: str) -> web.Response:
    return _json({"error": message}, status=status)


class WebChat:
    def __init__(self, assistant: Assistant, once: Once, delivery: Delivery) -> None:
        self.assistant = assistant
        self.once = once
        self.delivery = delivery

    async def inbox(self, request: web.Request) -> web.Response:
        """Messages sent to this web user outside their requests (agent replies, notices)."""
        sender = request.query.get("sender", "")
        if not SENDER.match(sender):
            return _error(400, "sender must be 1-64 characters of letters, digits, _ . : -")
        try:
            messages = await self.delivery.take_web(sender)
        except (RedisError, OSError):
            return _error(503, "暂时无法获取消息，请稍后再试")
        return _json({"messages": messages})

    async def post(self, request: web.Request) -> web.Response:
        if request.content_type != "application/json":
            return _error(415, "send JSON (Content-Type: application/json)")
        try:
            body = json.loads(await request.read() or b"null")
            # "\ud800" is valid JSON but no text: Redis, SQL and the XML could not carry it
            json.dumps(body, ensure_ascii=False).encode("utf-8")
        except (ValueError, RecursionError, UnicodeEncodeError):  # "[[[[...": RecursionError
            return _error(400, "body is not valid JSON")
        if not isinstance(body, dict):
            return _error(400, "body must be a JSON object")
        sender, message, client_id = body.get("sender"), body.get("message"), body.get("id")
        if not isinstance(sender, str) or not SENDER.match(sender):
            return _error(400, "sender must be 1-64 characters of letters, digits, _ . : -")
        if not isinstance(message, str) or not message.strip():
            return _error(400, "message must be a non-empty string")
        if len(message) > MAX_TEXT_CHARS:
            return _error(413, f"message longer than {MAX_TEXT_CHARS} characters")
        if client_id is not None and (not isinstance(client_id, str) or not SENDER.match(client_id)):
            return _error(400, "id must be 1-64 characters of letters, digits, _ . : -")
        msg_key = f"web:{sender}:{client_id}" if client_id else f"web:{uuid.uuid4().hex}"
        claim = await self.once.claim(msg_key)
        if claim is None:
            claim = await self.once.wait_outcome(msg_key, 30.0) or Outcome("none")
        if isinstance(claim, Outcome):  # a retried request: same answer, no second bot run
            return _json({"messages": [{"text": t} for t in claim.texts], "replayed": True})
        inbound = Inbound(channel="web", user_id=sender, msg_key=msg_key, msg_type="text",
                          text_in=message.strip(), to_bot=message.strip())
        handled = await self.assistant.handle(inbound)
        await claim.settle(Outcome("passive", tuple(handled.texts)))
        await self.assistant.record(inbound, handled, "web")
        return _json({
            "messages": [{"text": t} for t in handled.texts],
            "decision": handled.info.get("decision"),
            "entry_id": handled.info.get("entry_id"),
            "candidates": handled.info.get("candidates", []),
        })
