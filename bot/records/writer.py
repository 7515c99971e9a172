"""Drains the records stream into SQL: ack only after commit, so a crash or a database
outage delays records but never drops them (unacked entries are retried by this writer,
or reclaimed by the next one after `reclaim_ms`). Applying an event twice is harmless
(its event_key is stored once), which is what makes that at-least-once delivery exact.

The writer also migrates the database to the latest schema before its first batch, and
now and then closes the enquiries that have gone quiet (`close_idle`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import redis.asyncio as aioredis
from alembic.util import CommandError
from redis.exceptions import RedisError
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.records.buffer import STREAM
from bot.records.episodes import Applied, apply_events, close_idle
from bot.records.migrate import migrate
from bot.streams import StreamConsumer, field

log = logging.getLogger("patentdesk.records")

GROUP = "writers"
BATCH = 200
T = TypeVar("T")

STORAGE_ERRORS = (RedisError, OSError, SQLAlchemyError, CommandError)


class RecordWriter:
    def __init__(self, redis: aioredis.Redis, engine: Engine, spool: Path, consumer: str | None = None,
                 retry_delay: float = 1.0, reclaim_ms: int = 30_000, idle_timeout: float = 1800.0,
                 categories: Mapping[str, str] | None = None, sweep_every: float = 30.0,
                 linger: float = 0.2) -> None:
        self.engine = engine
        self.linger = linger
        self.spool = spool
        self.retry_delay = retry_delay
        self.idle_timeout = idle_timeout
        self.categories = dict(categories or {})
        self.sweep_every = sweep_every
        self.stream = StreamConsumer(redis, STREAM, GROUP, consumer or f"writer-{os.getpid()}",
                                     batch=BATCH, reclaim_ms=reclaim_ms)
        self._schema_ready = False
        self._last_sweep = 0.0
        self.stopping = False
        self.totals = Applied()

    async def _db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(None, functools.partial(fn, *args, **kwargs))

    async def _ensure_schema(self) -> None:
        if not self._schema_ready:
            await self._db(migrate, self.engine)
            self._schema_ready = True

    async def _store(self, raws: list[Any]) -> None:
        done = await self._db(apply_events, self.engine, raws, self.idle_timeout, self.categories)
        self.totals.add(done)
        if done.duplicates:
            log.info("records: %d event(s) were already stored", done.duplicates)

    async def drain_once(self, block_ms: int | None = None) -> int:
        """Write one batch (our unacked entries first, then reclaimed ones, then new ones);
        returns how many stream entries it handled."""
        await self._ensure_schema()
        await self._replay_spool()  # needs only the database: runs even while Redis is down
        entries = await self.stream.next_batch(block_ms)
        if not entries:
            return 0
        await self._store([field(f, "record") for _, f in entries])
        await self.stream.done(*(i for i, _ in entries))
        return len(entries)

    async def _replay_spool(self) -> None:
        working = self.spool.with_suffix(".replaying")
        if not working.exists():
            if not self.spool.exists() or not self.spool.stat().st_size:
                return
            self.spool.replace(working)
        lines = [line for line in working.read_text(encoding="utf-8").splitlines() if line.strip()]
        await self._store(lines)
        working.unlink()
        log.info("records: replayed %d spooled record(s)", len(lines))

    async def sweep(self) -> int:
        """Close the enquiries that have been quiet for the idle timeout."""
        self._last_sweep = time.monotonic()
        return await self._db(close_idle, self.engine, self.idle_timeout)

    def stop(self) -> None:
        """Ask `run` to return after the current step (a cancelled blocking Redis read can hang)."""
        self.stopping = True

    async def run(self) -> None:
        """Forever: drain, sweep now and then, and on any storage error wait and try again
        (nothing is acked, so nothing is lost)."""
        while not self.stopping:
            try:
                if 0 < await self.drain_once(block_ms=500) < BATCH:
                    # a partial batch: let a few more events gather before the next commit, so
                    # a steady trickle costs a few transactions a second, not one per event
                    await asyncio.sleep(self.linger)
                if time.monotonic() - self._last_sweep >= self.sweep_every:
                    await self.sweep()
            except asyncio.CancelledError:
                raise
            except STORAGE_ERRORS as exc:
                log.warning("records: storage unavailable (%s); retrying in %.0f s", exc, self.retry_delay)
                await asyncio.sleep(self.retry_delay)

    async def flush(self, timeout: float = 5.0) -> None:
        """On shutdown: write what is buffered, within a bound (the rest stays in Redis)."""
        try:
            async with asyncio.timeout(timeout):
                while await self.drain_once():
                    pass
        except (TimeoutError, *STORAGE_ERRORS) as exc:
            log.warning("records: flush on shutdown incomplete (%s); the rest stays buffered", exc)
