"""A Redis-stream consumer-group reader shared by the outbox and the records writer.

Both need the same delivery guarantee: an entry is acked (and deleted) only once its
work is durably done, so a failure leaves it pending for this consumer to retry, and a
crashed consumer's entries are reclaimed by another after they sit idle long enough.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

Entry = tuple[Any, dict[Any, Any]]


class StreamConsumer:
    def __init__(self, redis: aioredis.Redis, stream: str, group: str, consumer: str,
                 batch: int = 50, reclaim_ms: int = 30_000) -> None:
        self.redis = redis
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self.batch = batch
        self.reclaim_ms = reclaim_ms
        self._group_ready = False

    async def ensure_group(self) -> None:
        """Once per consumer; again only if Redis lost the group (NOGROUP, e.g. a restart without AOF)."""
        if self._group_ready:
            return
        try:
            await self.redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    async def _read(self, stream_id: str, block_ms: int | None) -> list[Entry]:
        got = await self.redis.xreadgroup(self.group, self.consumer, {self.stream: stream_id},
                                          count=self.batch, block=block_ms)
        return [(i, f) for _, items in got or [] for i, f in items if f]

    async def next_batch(self, block_ms: int | None = None) -> list[Entry]:
        """Our own unacked entries first, then a dead consumer's idle ones, then new ones."""
        await self.ensure_group()
        try:
            entries = await self._read("0", None)
        except ResponseError as exc:
            if "NOGROUP" in str(exc):
                self._group_ready = False
            raise
        if not entries:
            _, claimed, *_ = await self.redis.xautoclaim(self.stream, self.group, self.consumer,
                                                         min_idle_time=self.reclaim_ms, start_id="0-0",
                                                         count=self.batch)
            entries = [(i, f) for i, f in claimed if f]
        if not entries:
            entries = await self._read(">", block_ms)
        return entries

    async def done(self, *ids: Any) -> None:
        await self.redis.xack(self.stream, self.group, *ids)
        await self.redis.xdel(self.stream, *ids)


def field(fields: dict[Any, Any], name: str) -> Any:
    """A field of an entry, whether the client decodes responses or not."""
    return fields.get(name.encode()) or fields.get(name)
