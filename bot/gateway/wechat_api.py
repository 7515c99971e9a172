"""Client for the platform's API: the shared access_token and customer-service messages.

One token for every worker, cached in Redis (fetching a new one invalidates the old
one after a short grace), refreshed before expiry by whichever worker holds a short
lock. Token errors refresh and retry once; network errors and "system busy" retry
with backoff; window and quota errors surface as APIError for the outbox to record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import aiohttp
import redis.asyncio as aioredis
from redis.exceptions import RedisError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from bot.gateway import keys
from bot.wechat.errors import APIError

log = logging.getLogger("patentdesk.wechat_api")

REFRESH_MARGIN_S = 60
SYSTEM_BUSY = -1
MENU_MISSING = 46003


class PlatformUnavailable(RuntimeError):
    """Network error, HTTP error or "system busy" after retries: try again later."""


class WeChatAPI:
    def __init__(self, session: aiohttp.ClientSession, redis: aioredis.Redis, base_url: str,
                 appid: str, secret: str, attempts: int = 3, backoff: float = 0.5) -> None:
        self.session = session
        self.redis = redis
        self.base_url = base_url.rstrip("/")
        self.appid = appid
        self.secret = secret
        self.attempts = attempts
        self.backoff = backoff
        self._local: tuple[str, float] | None = None  # used only while Redis is unreachable
        self.token_fetches = 0

    # --- HTTP -------------------------------------------------------------------------
    async def _call(self, method: str, path: str, params: dict[str, str], json: Any = None) -> dict[str, Any]:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=self.backoff, max=10),
            retry=retry_if_exception_type(PlatformUnavailable),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._call_once(method, path, params, json)
        raise AssertionError("unreachable")

    async def _call_once(self, method: str, path: str, params: dict[str, str], json: Any) -> dict[str, Any]:
        url = self.base_url + path
        try:
            async with self.session.request(method, url, params=params, json=json,
                                            timeout=aiohttp.ClientTimeout(total=10)) as resp:
                if resp.status >= 500:
                    raise PlatformUnavailable(f"{path}: HTTP {resp.status}")
                data = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise PlatformUnavailable(f"{path}: {type(exc).__name__}: {exc}") from exc
        if not isinstance(data, dict):
            raise PlatformUnavailable(f"{path}: unexpected answer")
        if data.get("errcode") == SYSTEM_BUSY:
            raise PlatformUnavailable(f"{path}: system busy (-1)")
        return data

    # --- access_token -----------------------------------------------------------------
    async def access_token(self, stale: str | None = None) -> str:
        """The shared token; `stale` names one the platform rejected, forcing a refresh."""
        key, lock = keys.access_token(self.appid), keys.token_lock(self.appid)
        try:
            for _ in range(50):
                cached = await self.redis.get(key)
                token = cached.decode() if isinstance(cached, bytes) else cached
                if token and token != stale:
                    return token
                if await self.redis.set(lock, "1", nx=True, ex=15):
                    try:
                        return await self._fetch_token()
                    finally:
                        await self.redis.delete(lock)
                await asyncio.sleep(0.1)  # another worker is fetching it
        except (RedisError, OSError) as exc:
            log.warning("token cache unavailable (%s); using a local one", exc)
        if self._local and self._local[0] != stale and self._local[1] > time.time():
            return self._local[0]
        return await self._fetch_token()

    async def _fetch_token(self) -> str:
        data = await self._call("GET", "/cgi-bin/token", {"grant_type": "client_credential",
                                                          "appid": self.appid, "secret": self.secret})
        if data.get("errcode"):
            raise APIError(int(data["errcode"]), str(data.get("errmsg", "")))
        token = str(data["access_token"])
        ttl = max(int(data.get("expires_in", 7200)) - REFRESH_MARGIN_S, 1)
        self.token_fetches += 1
        self._local = (token, time.time() + ttl)
        with contextlib.suppress(RedisError, OSError):  # Redis down: the local copy serves meanwhile
            await self.redis.set(keys.access_token(self.appid), token, ex=ttl)
        log.info("access_token fetched (valid %d s)", ttl)
        return token

    # --- calls with the token ---------------------------------------------------------
    async def call(self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None) -> dict[str, Any]:
        """One API call with the shared token: a rejected token is refreshed and the call
        retried once; a non-zero errcode raises APIError."""
        token = await self.access_token()
        data = await self._call(method, path, {**(params or {}), "access_token": token}, body)
        code = int(data.get("errcode", 0) or 0)
        if code and APIError(code).token_invalid:
            log.info("access_token rejected (%d); refreshing once", code)
            token = await self.access_token(stale=token)
            data = await self._call(method, path, {**(params or {}), "access_token": token}, body)
            code = int(data.get("errcode", 0) or 0)
        if code:
            raise APIError(code, str(data.get("errmsg", "")))
        return data

    # --- customer-service messages ----------------------------------------------------
    async def send_text(self, openid: str, content: str, kf_account: str | None = None) -> None:
        body: dict[str, Any] = {"touser": openid, "msgtype": "text", "text": {"content": content}}
        if kf_account:
            body["customservice"] = {"kf_account": kf_account}
        await self.call("POST", "/cgi-bin/message/custom/send", body)

    # --- the custom menu --------------------------------------------------------------
    async def menu_get(self) -> dict[str, Any] | None:
        """The menu the platform holds (menu/get's `menu`), None when there is none (46003)."""
        try:
            data = await self.call("GET", "/cgi-bin/menu/get")
        except APIError as exc:
            if exc.errcode == MENU_MISSING:
                return None
            raise
        menu = data.get("menu")
        return menu if isinstance(menu, dict) else None

    async def menu_create(self, payload: dict[str, Any]) -> None:
        await self.call("POST", "/cgi-bin/menu/create", payload)

    async def menu_delete(self) -> None:
        await self.call("GET", "/cgi-bin/menu/delete")

    # --- the JS-SDK's ticket (for the open tag on /wechat/subscribe) ------------------
    async def jsapi_ticket(self) -> str:
        """The jsapi_ticket, shared in Redis like the token (valid 7200 s; fetched when missing)."""
        cache = keys.jsapi_ticket(self.appid)
        with contextlib.suppress(RedisError, OSError):
            cached = await self.redis.get(cache)
            if cached:
                return cached.decode() if isinstance(cached, bytes) else str(cached)
        data = await self.call("GET", "/cgi-bin/ticket/getticket", params={"type": "jsapi"})
        ticket = str(data["ticket"])
        with contextlib.suppress(RedisError, OSError):
            await self.redis.set(cache, ticket, ex=max(int(data.get("expires_in", 7200)) - REFRESH_MARGIN_S, 1))
        return ticket

    # --- QR codes ---------------------------------------------------------------------
    async def qrcode_create(self, body: dict[str, Any]) -> dict[str, Any]:
        """{"ticket", "url"[, "expire_seconds"]} of a new (or, permanent, the same) code."""
        return await self.call("POST", "/cgi-bin/qrcode/create", body)
