"""Getting a message to a user outside the request they sent: an agent's reply, a queue
notice, the answer to a left message.

WeChat: a customer-service message through the outbox (reliable, retried, ordered).
Web chat: a per-user inbox list the page collects with GET /api/chat/inbox.
An agent's reply can also ride on the user's own pending request as a passive reply:
`AgentReplySlot` hands it over when that request is still waiting for one.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time

import redis.asyncio as aioredis

from bot.gateway.outbox import Outbox
from bot.redis_keys import key
from bot.wechat.replies import TEXT_LIMIT_BYTES, split_text

WEB_INBOX_SECONDS = 86400
POLL_SECONDS = 0.1

# KEYS: waiter, replies   ARGV: text
OFFER = """
if redis.call('DEL', KEYS[1]) == 1 then
  redis.call('RPUSH', KEYS[2], ARGV[1])
  redis.call('PEXPIRE', KEYS[2], 30000)
  return 1
end
return 0
"""

# KEYS: waiter, replies   ARGV: token
GIVE_UP = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return false
end
return redis.call('LPOP', KEYS[2])
"""


def web_inbox_key(sender: str) -> str:
    return key("web:inbox", sender)


class Delivery:
    def __init__(self, redis: aioredis.Redis, outbox: Outbox) -> None:
        self.redis = redis
        self.outbox = outbox

    async def send(self, channel: str, user_id: str, texts: list[str], msg_key: str) -> str:
        """Queue the texts for the user; returns the path: async (WeChat) or web."""
        if channel == "web":
            inbox = web_inbox_key(user_id)
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.rpush(inbox, *(json.dumps({"text": t, "at": time.time()}, ensure_ascii=False) for t in texts))
                pipe.expire(inbox, WEB_INBOX_SECONDS)
                await pipe.execute()
            return "web"
        pieces = [p for t in texts for p in split_text(t, TEXT_LIMIT_BYTES)]
        await self.outbox.put(user_id, pieces, msg_key)
        return "async"

    async def take_web(self, sender: str) -> list[dict[str, object]]:
        """Everything waiting for a web chat user, oldest first, removed as it is read."""
        inbox = web_inbox_key(sender)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lrange(inbox, 0, -1)
            pipe.delete(inbox)
            raw, _ = await pipe.execute()
        return [json.loads(item) for item in raw]


class AgentReplySlot:
    """Lets an agent's reply become the passive reply to the user's pending message.

    The user's request registers a waiter and polls a short list; the agent's reply
    atomically consumes the waiter and pushes the text, or, when no request waits, is
    sent on its own. Giving up is atomic too, so a reply arriving at that instant is
    either taken by the request or sent separately, never lost or sent twice. Polling
    instead of BLPOP: a cancelled blocking read can leave a redis-py 4.6 connection hung.
    """

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self._offer = redis.register_script(OFFER)
        self._give_up = redis.register_script(GIVE_UP)

    @staticmethod
    def _keys(conv_id: str) -> list[str]:
        return [key("handoff:waiter", conv_id), key("handoff:passive", conv_id)]

    async def wait(self, conv_id: str, budget: float) -> str | None:
        if budget <= 0:
            return None
        waiter, replies = self._keys(conv_id)
        token = secrets.token_hex(8)
        await self.redis.set(waiter, token, px=int((budget + 5) * 1000))
        deadline = time.monotonic() + budget
        while time.monotonic() < deadline:
            got = await self.redis.lpop(replies)
            if got is not None:
                return got.decode() if isinstance(got, bytes) else str(got)
            await asyncio.sleep(POLL_SECONDS)
        last = await self._give_up(keys=[waiter, replies], args=[token])
        if last is None:
            return None
        return last.decode() if isinstance(last, bytes) else str(last)

    async def offer(self, conv_id: str, text: str) -> bool:
        """True when a waiting request took the text as its passive reply."""
        return bool(await self._offer(keys=self._keys(conv_id), args=[text]))
