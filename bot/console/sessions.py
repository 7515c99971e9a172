"""Server-side console sessions in Redis.

The cookie holds only a random id; the session itself (login, role, CSRF token) lives
in Redis under the SHA-256 of that id, so a Redis dump yields no usable cookies, and
deleting the key ends the session at once: logging out, or disabling the account
(every session of a login is indexed in a set), takes effect on the next request.
The TTL slides: each authenticated request or console heartbeat renews it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from dataclasses import asdict, dataclass

import redis as redis_sync
import redis.asyncio as aioredis

from bot.redis_keys import PREFIX, key

log = logging.getLogger("patentdesk.console")

COOKIE = "pd_console"
COOKIE_PATH = "/console"
REVOKED_CHANNEL = key("console", "revoked")
"""Pub/sub channel: a login whose sessions were just revoked (open consoles close)."""


@dataclass(frozen=True)
class Session:
    login: str
    role: str
    csrf: str
    created: float
    sid: str = ""  # the cookie value; never stored

    @property
    def supervisor(self) -> bool:
        return self.role == "supervisor"

    def to_json(self) -> str:
        data = asdict(self)
        del data["sid"]
        return json.dumps(data)


def _digest(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def session_key(sid: str, prefix: str = PREFIX) -> str:
    return key("console:session", _digest(sid), prefix=prefix)


def login_index_key(login: str, prefix: str = PREFIX) -> str:
    return key("console:sessions", login, prefix=prefix)


class SessionStore:
    def __init__(self, redis: aioredis.Redis, ttl: int, prefix: str = PREFIX) -> None:
        self.redis = redis
        self.ttl = max(int(ttl), 60)
        self.prefix = prefix

    async def create(self, login: str, role: str) -> Session:
        session = Session(login=login, role=role, csrf=secrets.token_urlsafe(32), created=time.time(),
                          sid=secrets.token_urlsafe(32))
        index = login_index_key(login, self.prefix)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(session_key(session.sid, self.prefix), session.to_json(), ex=self.ttl)
            pipe.sadd(index, _digest(session.sid))
            pipe.expire(index, self.ttl)
            await pipe.execute()
        return session

    async def get(self, sid: str, *, touch: bool = True) -> Session | None:
        """The live session for a cookie value (its TTL renewed), or None."""
        if not sid or len(sid) > 128:
            return None
        skey = session_key(sid, self.prefix)
        if touch:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.get(skey)
                pipe.expire(skey, self.ttl)
                raw, _ = await pipe.execute()
        else:
            raw = await self.redis.get(skey)
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            session = Session(login=str(data["login"]), role=str(data["role"]), csrf=str(data["csrf"]),
                              created=float(data["created"]), sid=sid)
        except (ValueError, KeyError, TypeError):
            log.warning("console: unreadable session dropped")
            await self.redis.delete(skey)
            return None
        if touch:
            await self.redis.expire(login_index_key(session.login, self.prefix), self.ttl)
        return session

    async def delete(self, session: Session) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(session_key(session.sid, self.prefix))
            pipe.srem(login_index_key(session.login, self.prefix), _digest(session.sid))
            await pipe.execute()

    async def revoke_login(self, login: str) -> int:
        """End every session of a login; returns how many there were."""
        index = login_index_key(login, self.prefix)
        digests = [d.decode() if isinstance(d, bytes) else d for d in await self.redis.smembers(index)]
        async with self.redis.pipeline(transaction=True) as pipe:
            for digest in digests:
                pipe.delete(key("console:session", digest, prefix=self.prefix))
            pipe.delete(index)
            pipe.publish(REVOKED_CHANNEL, login)
            await pipe.execute()
        log.info("console: %d session(s) of %s revoked", len(digests), login)
        return len(digests)


def revoke_login_sync(client: redis_sync.Redis, login: str, prefix: str = PREFIX) -> int:
    """The same, for the command line (no event loop there)."""
    index = login_index_key(login, prefix)
    digests = [d.decode() if isinstance(d, bytes) else d for d in client.smembers(index)]
    pipe = client.pipeline(transaction=True)
    for digest in digests:
        pipe.delete(key("console:session", digest, prefix=prefix))
    pipe.delete(index)
    pipe.publish(REVOKED_CHANNEL, login)
    pipe.execute()
    return len(digests)
