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
from redis.exceptions import RedisError, ResponseError

from bot.gateway import keys
from bot.gateway.wechat_api import PlatformUnavailable, WeChatAPI
from bot.wechat.errors import APIError

log = logging.getLogger("patentdesk.outbox")


class Outbox:
    def __init__(self, redis: aioredis.Redis | None, api: WeChatAPI, consumer: str | None = None,
                 max_backoff: float = 30.0, reclaim_ms: int = 30_000) -> None:
        self.redis = redis
        self.api = api
        self.consumer = consumer or f"sender-{os.getpid()}"
        self.max_backoff = max_backoff
        self.reclaim_ms = reclaim_ms
        self._failures = 0
        self._direct: set[asyncio.Task] = set()
        self.wakeup = asyncio.Event()
        self.stopping = False

    async def put(self, openid: str, texts: list[str], msg_key: str, kf_account: str | None = None) -> None:
        jobs = [{"openid": openid, "text": t, "msg_key": msg_key, "part": i, "kf_account": kf_account}
                for i, t in enumerate(texts)]
        try:
            if self.redis is None:
                raise RedisError("no Redis")
            async with self.redis.pipeline(transaction=True) as pipe:
                for job in jobs:
                    pipe.xadd(keys.OUTBOX, {"job": json.dumps(job, ensure_ascii=False)})
                await pipe.execute()
            self.wakeup.set()
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
            if self.redis is not None:
                with contextlib.suppress(RedisError, OSError):
                    await self.redis.xadd(keys.OUTBOX_FAILED, {"job": json.dumps(job, ensure_ascii=False),
                                                               "errcode": exc.errcode, "errmsg": exc.errmsg},
                                          maxlen=10_000, approximate=True)
            return True

    async def _count(self, name: str) -> None:
        if self.redis is not None:
            with contextlib.suppress(RedisError, OSError):
                await self.redis.hincrby(keys.COUNTERS, name, 1)

    async def _ensure_group(self) -> None:
        assert self.redis is not None
        try:
            await self.redis.xgroup_create(keys.OUTBOX, keys.OUTBOX_GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _read(self, stream_id: str, block_ms: int | None) -> list[tuple[Any, dict[Any, Any]]]:
        assert self.redis is not None
        got = await self.redis.xreadgroup(keys.OUTBOX_GROUP, self.consumer, {keys.OUTBOX: stream_id},
                                          count=50, block=block_ms)
        return [(i, f) for _, items in got or [] for i, f in items if f]

    async def drain_once(self, block_ms: int | None = None) -> int:
        """Send what is waiting, in order; stops at the first entry the platform can't take now."""
        await self._ensure_group()
        assert self.redis is not None
        entries = await self._read("0", None)
        if not entries:
            _, claimed, *_ = await self.redis.xautoclaim(keys.OUTBOX, keys.OUTBOX_GROUP, self.consumer,
                                                         min_idle_time=self.reclaim_ms, start_id="0-0", count=50)
            entries = [(i, f) for i, f in claimed if f]
        if not entries:
            entries = await self._read(">", block_ms)
        done = 0
        for entry_id, fields in entries:
            job = json.loads(fields.get(b"job") or fields.get("job") or "{}")
            await self._deliver(job)  # PlatformUnavailable propagates: entry stays pending
            await self.redis.xack(keys.OUTBOX, keys.OUTBOX_GROUP, entry_id)
            await self.redis.xdel(keys.OUTBOX, entry_id)
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
        if self.redis is None:
            return {}
        counters = await self.redis.hgetall(keys.COUNTERS)
        return {
            "waiting": await self.redis.xlen(keys.OUTBOX),
            "refused": await self.redis.xlen(keys.OUTBOX_FAILED),
            **{k.decode() if isinstance(k, bytes) else k: int(v) for k, v in counters.items()},
        }

