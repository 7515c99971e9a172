"""Run the assistant once per WeChat message, however often the platform delivers it.

The platform retries a POST it got no answer to (3 tries, 5 s apart), and with several
gateway workers a retry may land elsewhere. The first delivery takes a short lease
(refreshed while it works) and records its outcome: the passive reply it gave, or that
it answered `success` and delivers asynchronously. A retry replays that outcome; if the
owner died (lease expired, no outcome), the retry takes over.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.gateway import keys

log = logging.getLogger("patentdesk.gateway")

LEASE_MS = 8000
OUTCOME_TTL_S = 3600


@dataclass(frozen=True)
class Outcome:
    delivery: str  # "passive" | "async" | "none"
    texts: tuple[str, ...] = ()


class Claimed:
    """We own the message: keep the lease alive until an outcome is stored."""

    def __init__(self, once: Once, msg_key: str) -> None:
        self.once = once
        self.msg_key = msg_key
        self._keeper = asyncio.create_task(self._keep())

    async def _keep(self) -> None:
        while True:
            await asyncio.sleep(LEASE_MS / 3000)
            try:
                await self.once.redis.pexpire(keys.lease(self.msg_key), LEASE_MS)
            except RedisError:
                return

    async def settle(self, outcome: Outcome) -> None:
        self._keeper.cancel()
        await self.once.store(self.msg_key, outcome)


class Once:
    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self.worker = f"{os.uname().nodename}:{os.getpid()}"

    async def claim(self, msg_key: str) -> Claimed | Outcome | None:
        """Claimed (ours to run), a stored Outcome (replay it), or None (another worker is on it).

        Redis unreachable: we run it (a duplicate answer beats a lost one).
        """
        try:
            stored = await self.redis.get(keys.outcome(msg_key))
            if stored:
                return _load(stored)
            if await self.redis.set(keys.lease(msg_key), self.worker, nx=True, px=LEASE_MS):
                return Claimed(self, msg_key)
            return None
        except (RedisError, OSError) as exc:
            log.warning("dedupe unavailable (%s); handling %s without it", exc, msg_key)
            return Claimed(self, msg_key)

    async def wait_outcome(self, msg_key: str, timeout: float) -> Outcome | None:
        """A retry of a message another worker holds: wait briefly for its outcome."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            try:
                stored = await self.redis.get(keys.outcome(msg_key))
            except (RedisError, OSError):
                return None
            if stored:
                return _load(stored)
            await asyncio.sleep(0.1)
        return None

    async def store(self, msg_key: str, outcome: Outcome) -> None:
        body = json.dumps({"delivery": outcome.delivery, "texts": list(outcome.texts)}, ensure_ascii=False)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.set(keys.outcome(msg_key), body, ex=OUTCOME_TTL_S)
                pipe.delete(keys.lease(msg_key))
                await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("dedupe: outcome of %s not stored (%s)", msg_key, exc)


def _load(raw: bytes | str) -> Outcome:
    data = json.loads(raw)
    return Outcome(delivery=data["delivery"], texts=tuple(data.get("texts", ())))
