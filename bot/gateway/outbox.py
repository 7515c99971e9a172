"""Asynchronous replies wait in a Redis stream until the platform takes them.

A stream with a consumer group: an entry is acked only once the platform accepted it
(or refused it for good: outside the 48-hour window, over the quota), so nothing is
lost while the platform or the network is down, nor when a gateway worker dies
(its unacked entries are reclaimed). Entries go out in order, one at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.gateway import keys
from bot.gateway.wechat_api import PlatformUnavailable, WeChatAPI
from bot.streams import StreamConsumer, field
from bot.wechat.errors import APIError

log = logging.getLogger("patentdesk.outbox")


class Outbox:
    def __init__(self, redis: aioredis.Redis, api: WeChatAPI, consumer: str | None = None,
                 max_backoff: float = 30.0, reclaim_ms: int = 30_000) -> None:
        self.redis = redis
        self.api = api
        self.max_backoff = max_backoff
        self.stream = StreamConsumer(
            redis, keys.OUTBOX, keys.OUTBOX_GROUP, consumer or f"sender-{os.getpid()}", reclaim_ms=reclaim_ms)
        self._failures = 0
        self._direct: set[asyncio.Task] = set()
        self.stopping = False

    async def put(self, openid: str, texts: list[str], msg_key: str, kf_account: str | None = None) -> None:
        jobs = [{"openid": openid, "text": t, "msg_key": msg_key, "part": i, "kf_account": kf_account}
                for i, t in enumerate(texts)]
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                for job in jobs:
                    pipe.xadd(keys.OUTBOX, {"job": json.dumps(job, ensure_ascii=False)})
                await pipe.execute()
        except (RedisError, OSError) as exc:
            # Redis down: still try to deliver, from this process
            log.warning("outbox unavailable (%s); sending %s directly", exc, msg_key)
            task = asyncio.create_task(self._send_direct(jobs))
            self._direct.add(task)
            task.add_done_callback(self._direct.discard)

    async def _send_direct(self, jobs: list[dict[str, Any]]) -> None:
        for job in jobs:
            for attempt in range(6):
                try:
                    await self._deliver(job)
                    break
                except PlatformUnavailable:
                    await asyncio.sleep(min(2**attempt, self.max_backoff))

    async def _deliver(self, job: dict[str, Any]) -> bool:
        """True when done with the job (sent or refused for good); raises when worth retrying."""
        try:
            await self.api.send_text(job["openid"], job["text"], job.get("kf_account"))
            await self._count("sent")
            return True
        except APIError as exc:
            if not exc.permanent and not exc.token_invalid:
                raise PlatformUnavailable(str(exc)) from exc
            log.warning("outbox: %s refused by the platform: %s", job["msg_key"], exc)
            await self._count(f"errcode_{exc.errcode}")
            with contextlib.suppress(RedisError, OSError):
                await self.redis.xadd(keys.OUTBOX_FAILED, {"job": json.dumps(job, ensure_ascii=False),
                                                           "errcode": exc.errcode, "errmsg": exc.errmsg},
                                      maxlen=10_000, approximate=True)
            return True

    async def _count(self, name: str) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self.redis.hincrby(keys.COUNTERS, name, 1)

    async def drain_once(self, block_ms: int | None = None) -> int:
        """Send what is waiting, in order; stops at the first entry the platform can't take now."""
        done = 0
        for entry_id, fields in await self.stream.next_batch(block_ms):
            await self._deliver(json.loads(field(fields, "job") or "{}"))  # PlatformUnavailable: stays pending
            await self.stream.done(entry_id)
            done += 1
        return done

    def stop(self) -> None:
        """Ask `run` to return after the current step (a cancelled blocking Redis read can hang)."""
        self.stopping = True

    async def run(self) -> None:
        while not self.stopping:
            try:
                await self.drain_once(block_ms=500)
                self._failures = 0
            except asyncio.CancelledError:
                raise
            except PlatformUnavailable as exc:
                self._failures += 1
                delay = min(0.5 * 2**self._failures, self.max_backoff)
                log.warning("outbox: platform unavailable (%s); retrying in %.1f s", exc, delay)
                await self._count("retries")
                await asyncio.sleep(delay)
            except (RedisError, OSError) as exc:
                log.warning("outbox: Redis unavailable (%s); retrying", exc)
                await asyncio.sleep(1.0)
            except APIError as exc:  # e.g. wrong appid/secret on the token fetch: keep the entries
                log.error("outbox: platform refused our credentials (%s); retrying later", exc)
                await asyncio.sleep(self.max_backoff)

    async def stats(self) -> dict[str, Any]:
        counters = await self.redis.hgetall(keys.COUNTERS)
        return {
            "waiting": await self.redis.xlen(keys.OUTBOX),
            "refused": await self.redis.xlen(keys.OUTBOX_FAILED),
            **{k.decode() if isinstance(k, bytes) else k: int(v) for k, v in counters.items()},
        }

