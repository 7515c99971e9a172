"""A scan of one of the account's QR codes: the scene's welcome the first time a user
comes through it, a short greeting after that.

"First" is remembered per user and scene in Redis (a year); with Redis down every scan
counts as a first one (a repeated welcome beats a missing one).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot import replies
from bot.gateway.account import Scene
from bot.redis_keys import key

log = logging.getLogger("patentdesk.gateway")

SEEN_TTL = 365 * 86400


class SceneGreeter:
    def __init__(self, redis: aioredis.Redis, scenes: Mapping[str, Scene]) -> None:
        self.redis = redis
        self.scenes = dict(scenes)

    async def first_scan(self, conv_id: str, scene: str) -> bool:
        try:
            return bool(await self.redis.set(key("wx:scene_seen", f"{scene}:{conv_id}"), "1", nx=True, ex=SEEN_TTL))
        except (RedisError, OSError) as exc:
            log.warning("scene %s: first scan unknown (%s); welcoming", scene, exc)
            return True

    async def greet(self, conv_id: str, scene: str, canned: list[str]) -> list[str]:
        """What a subscribe or SCAN through `scene` gets: the account's welcome (on
        subscribe) and the scene's own welcome the first time, else a short greeting."""
        known = self.scenes.get(scene)
        if known is None:
            log.info("scan of unknown scene %r", scene)
            return canned or [replies.SCAN_AGAIN]
        if await self.first_scan(conv_id, scene):
            return [*canned, known.welcome]
        return canned or [replies.SCAN_AGAIN]
