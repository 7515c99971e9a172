"""The write path: an XADD to a Redis stream (AOF-backed), never a database round trip.

A reply is never held up by the database. If Redis itself is unreachable the record
goes to an fsync'ed spool file under var/, which the writer replays later.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.redis_keys import PREFIX

log = logging.getLogger("patentdesk.records")

STREAM = f"{PREFIX}:records"


class RecordBuffer:
    def __init__(self, redis: aioredis.Redis, spool: Path) -> None:
        self.redis = redis
        self.spool = spool

    async def add(self, record: dict[str, Any]) -> None:
        data = json.dumps(record, ensure_ascii=False, default=str)
        try:
            await self.redis.xadd(STREAM, {"record": data})
        except (RedisError, OSError) as exc:
            log.warning("records: Redis unavailable (%s); spooling to %s", exc, self.spool)
            await asyncio.get_running_loop().run_in_executor(None, self._spool, data)

    def _spool(self, data: str) -> None:
        self.spool.parent.mkdir(parents=True, exist_ok=True)
        with self.spool.open("a", encoding="utf-8") as fh:
            fh.write(data + "\n")
            fh.flush()
            os.fsync(fh.fileno())
