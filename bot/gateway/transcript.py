"""The recent conversation of one user, as the agent who picks it up must see it.

A capped Redis list per user (channel + pseudonym): every exchange appends the user's
message and the bot's replies (with the knowledge entry used), and agent and system
messages are appended by the handoff flow. It is a working copy for the console; the
durable history is the records database.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.redis_keys import key

log = logging.getLogger("patentdesk.gateway")

KEEP_LINES = 200
KEEP_SECONDS = 3 * 86400


@dataclass(frozen=True)
class Line:
    """One line of a user's transcript."""

    at: float  # seconds since the epoch
    who: str  # user | bot | agent | system
    text: str
    agent: str | None = None
    decision: str | None = None  # bot lines: answer | clarify | handoff | ...
    entry_id: str | None = None  # bot lines: the knowledge entry used
    confidence: float | None = None


def transcript_key(conv_id: str) -> str:
    return key("transcript", conv_id)


class Transcripts:
    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis

    async def append(self, conv_id: str, *lines: Line) -> None:
        """Best effort: a Redis failure loses console context, never the reply or the record."""
        if not lines:
            return
        k = transcript_key(conv_id)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.rpush(k, *(json.dumps(asdict(line), ensure_ascii=False) for line in lines))
                pipe.ltrim(k, -KEEP_LINES, -1)
                pipe.expire(k, KEEP_SECONDS)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("transcript of %s not kept: %s", conv_id, exc)

    async def read(self, conv_id: str, limit: int = KEEP_LINES) -> list[Line]:
        raw = await self.redis.lrange(transcript_key(conv_id), -limit, -1)
        return [Line(**json.loads(item)) for item in raw]
