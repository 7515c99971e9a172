"""Asynchronous replies wait in a Redis stream until the platform takes them.

A stream with a consumer group: an entry is acked only once the platform accepted it
(or refused it for good: outside the 48-hour window with no subscription notice allowed,
over the quota), so nothing is
lost while the platform or the network is down, nor when a gateway worker dies
(its unacked entries are reclaimed). Entries go out in order, one at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.gateway import keys
from bot.gateway.notices import Notices
from bot.gateway.wechat_api import PlatformUnavailable, WeChatAPI
from bot.streams import StreamConsumer, field
from bot.wechat.errors import APIError

log = logging.getLogger("patentdesk.outbox")


# Told how each job reached the user: (job, via = custom | notice | refused, errcode or None).
Reporter = Callable[[dict[str, Any], str, int | None], Awaitable[None]]


class Outbox:
    def __init__(self, redis: aioredis.Redis, api: WeChatAPI, consumer: str | None = None,
                 max_backoff: float = 30.0, reclaim_ms: int = 30_000, notices: Notices | None = None,
                 report: Reporter | None = None) -> None:
        self.redis = redis
        self.api = api
        self.notices = notices  # past the 48-hour window: the subscription notice, when configured
        self.report = report
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
            await self._report(job, "custom")
            return True
        except APIError as exc:
            if exc.errcode == APIError.WINDOW_ERROR and self.notices is not None:
                return await self._notice(job, exc)
            return await self._refused(job, exc)

    async def _notice(self, job: dict[str, Any], window: APIError) -> bool:
        """Outside the 48-hour window: the subscription notice, if the user allowed one."""
        assert self.notices is not None
        await self._count(f"errcode_{window.errcode}")
        try:
            await self.notices.send(job["openid"], job["text"], job["msg_key"])
        except APIError as exc:
            return await self._refused(job, exc)
        except (RedisError, OSError) as exc:
            raise PlatformUnavailable(f"notice page not stored: {exc}") from exc
        log.info("outbox: %s past the 48-hour window; sent as a subscription notice", job["msg_key"])
        await self._count("notice_sent")
        await self._report(job, "notice")
        return True

    async def _refused(self, job: dict[str, Any], exc: APIError) -> bool:
        if not exc.permanent and not exc.token_invalid:
            raise PlatformUnavailable(str(exc)) from exc
        log.warning("outbox: %s refused by the platform: %s", job["msg_key"], exc)
        await self._count(f"errcode_{exc.errcode}")
        with contextlib.suppress(RedisError, OSError):
            await self.redis.xadd(keys.OUTBOX_FAILED, {"job": json.dumps(job, ensure_ascii=False),
                                                       "errcode": exc.errcode, "errmsg": exc.errmsg},
                                  maxlen=10_000, approximate=True)
        await self._report(job, "refused", exc.errcode)
        return True

    async def _report(self, job: dict[str, Any], via: str, errcode: int | None = None) -> None:
        if self.report is None:
            return
        try:
            await self.report(job, via, errcode)
        except (RedisError, OSError) as exc:  # the message went out; only its record is late
            log.warning("outbox: delivery of %s not recorded: %s", job.get("msg_key"), exc)

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

