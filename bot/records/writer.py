"""Drains the records stream into SQL: ack only after commit, so a crash or a database
outage delays records but never drops them (unacked entries are reclaimed)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.records.buffer import STREAM
from bot.records.store import create_schema, insert_records
from bot.streams import StreamConsumer, field

log = logging.getLogger("patentdesk.records")

GROUP = "writers"
BATCH = 200


class RecordWriter:
    def __init__(self, redis: aioredis.Redis, engine: Engine, spool: Path, consumer: str | None = None,
                 retry_delay: float = 1.0, reclaim_ms: int = 30_000) -> None:
        self.engine = engine
        self.spool = spool
        self.retry_delay = retry_delay
        self.stream = StreamConsumer(redis, STREAM, GROUP, consumer or f"writer-{os.getpid()}",
                                     batch=BATCH, reclaim_ms=reclaim_ms)
        self._schema_ready = False
        self.stopping = False

    async def _db(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, fn, *args)

    async def _ensure_schema(self) -> None:
        if not self._schema_ready:
            await self._db(create_schema, self.engine)
            self._schema_ready = True

    async def drain_once(self, block_ms: int | None = None) -> int:
        """Write one batch (reclaimed entries first, then new ones); returns rows handled."""
        await self._ensure_schema()
        await self._replay_spool()  # needs only the database: runs even while Redis is down
        entries = await self.stream.next_batch(block_ms)
        if not entries:
            return 0
        await self._db(insert_records, self.engine, [json.loads(field(f, "record")) for _, f in entries])
        await self.stream.done(*(i for i, _ in entries))
        return len(entries)

    async def _replay_spool(self) -> None:
        working = self.spool.with_suffix(".replaying")
        if not working.exists():
            if not self.spool.exists() or not self.spool.stat().st_size:
                return
            self.spool.replace(working)
        records = [json.loads(line) for line in working.read_text(encoding="utf-8").splitlines() if line.strip()]
        await self._db(insert_records, self.engine, records)
        working.unlink()
        log.info("records: replayed %d spooled record(s)", len(records))

    def stop(self) -> None:
        """Ask `run` to return after the current step (a cancelled blocking Redis read can hang)."""
        self.stopping = True

    async def run(self) -> None:
        """Forever: drain, and on any storage error wait and try again (nothing is acked)."""
        while not self.stopping:
            try:
                await self.drain_once(block_ms=500)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, SQLAlchemyError) as exc:
                log.warning("records: storage unavailable (%s); retrying in %.0f s", exc, self.retry_delay)
                await asyncio.sleep(self.retry_delay)

    async def flush(self, timeout: float = 5.0) -> None:
        """On shutdown: write what is buffered, within a bound (the rest stays in Redis)."""
        try:
            async with asyncio.timeout(timeout):
                while await self.drain_once():
                    pass
        except (TimeoutError, RedisError, OSError, SQLAlchemyError) as exc:
            log.warning("records: flush on shutdown incomplete (%s); the rest stays buffered", exc)
