"""Failed console logins counted in Redis, per login and per client address.

A window opens at the first failure and lasts 15 minutes; beyond `limit` failures in it
(for the account, or from the address) logins are refused without checking the
password at all, so guessing costs the attacker the window, and a flood of guesses
costs the server nothing. A successful login clears the account's counter (not the
address's: one right password must not reset a spray across many accounts).
"""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis

from bot.redis_keys import PREFIX, key

WINDOW_SECONDS = 15 * 60


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0  # seconds until the window ends, when refused


class LoginLimiter:
    def __init__(self, redis: aioredis.Redis, limit: int, window: int = WINDOW_SECONDS,
                 prefix: str = PREFIX) -> None:
        self.redis = redis
        self.limit = max(int(limit), 1)
        self.window = window
        self.prefix = prefix

    def _keys(self, login: str, address: str) -> tuple[str, str]:
        return (key("console:failed-login", login.lower()[:64], prefix=self.prefix),
                key("console:failed-addr", address[:64], prefix=self.prefix))

    async def check(self, login: str, address: str) -> Verdict:
        keys = self._keys(login, address)
        async with self.redis.pipeline(transaction=False) as pipe:
            for k in keys:
                pipe.get(k)
                pipe.ttl(k)
            login_count, login_ttl, addr_count, addr_ttl = await pipe.execute()
        waits = [int(ttl) for count, ttl in ((login_count, login_ttl), (addr_count, addr_ttl))
                 if count is not None and int(count) >= self.limit]
        if waits:
            return Verdict(False, max(max(waits), 1))
        return Verdict(True)

    async def failed(self, login: str, address: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            for k in self._keys(login, address):
                pipe.set(k, 0, ex=self.window, nx=True)  # the window starts at the first failure
                pipe.incr(k)
            await pipe.execute()

    async def succeeded(self, login: str, address: str) -> None:
        await self.redis.delete(self._keys(login, address)[0])
