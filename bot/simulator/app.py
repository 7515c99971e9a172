"""The simulator's aiohttp application: platform state, delivery client and chat sockets wired together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web

from bot.config import Settings
from bot.simulator.delivery import Deliverer
from bot.simulator.platform import (
    CUSTOM_QUOTA,
    TOKEN_GRACE,
    TOKEN_TTL,
    WINDOW_SECONDS,
    Platform,
    SimClock,
)
from bot.simulator.routes import (
    DELIVERER,
    PLATFORM,
    SETTINGS,
    SOCKETS,
    TASKS,
    SocketRegistry,
    routes,
)
from bot.wechat.menu import menu_payload

log = logging.getLogger(__name__)

# The chat page loads nothing from elsewhere; this keeps it so even if a reply smuggles markup.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


@web.middleware
async def security_headers(request: web.Request, handler: Callable) -> web.StreamResponse:
    response: web.StreamResponse = await handler(request)
    if not response.prepared:  # a WebSocket has already sent its headers
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


def create_app(
    settings: Settings,
    *,
    gateway_url: str | None = None,
    clock: Callable[[], float] | None = None,
    timeout: float = 5.0,
    tries: int = 3,
    token_ttl: int = TOKEN_TTL,
    token_grace: float = TOKEN_GRACE,
    window: float = WINDOW_SECONDS,
    custom_quota: int = CUSTOM_QUOTA,
    menu: dict[str, Any] | None | str = "ours",
) -> web.Application:
    """The simulator for `settings`' account, posting to `gateway_url` (default: the configured webhook).

    `clock` is the base time source (default time.time); the simulated clock runs ahead of
    it by whatever /sim/clock has added. `timeout` and `tries` are the platform's 5 s and 3
    tries, shrinkable so tests of slow gateways stay fast. Secrets must be filled in
    (bot.secrets.with_secrets) because the simulator signs with the gateway's token.
    `menu` is the menu the account starts with: "ours" (as if `patentdesk wechat menu push`
    had run, for the demo), None (a fresh account) or a menu/create body.
    """
    if not settings.wechat_token or not settings.wechat_appsecret:
        raise ValueError("wechat_token and wechat_appsecret are empty: pass the settings through with_secrets()")
    platform = Platform(
        appid=settings.wechat_appid, appsecret=settings.wechat_appsecret, clock=SimClock(clock or time.time),
        token_ttl=token_ttl, token_grace=token_grace, window=window, custom_quota=custom_quota,
        menu=menu_payload() if menu == "ours" else menu if isinstance(menu, dict) else None,
    )
    deliverer = Deliverer(
        platform, url=gateway_url or settings.wechat_webhook_url, token=settings.wechat_token,
        appid=settings.wechat_appid, aes_key=settings.wechat_aes_key,
        # compat accounts get the sealed form too (and may answer sealed or plain)
        mode=settings.wechat_encrypt_mode,
        timeout=timeout, tries=tries,
    )
    registry = SocketRegistry()
    platform.add_listener(registry.publish)

    app = web.Application(middlewares=[security_headers])
    app[SETTINGS] = settings
    app[PLATFORM] = platform
    app[DELIVERER] = deliverer
    app[SOCKETS] = registry
    app[TASKS] = set()
    app.add_routes(routes)
    app.cleanup_ctx.append(_delivery_client)
    app.cleanup_ctx.append(_page_tasks)  # exits first: deliveries stop before their client closes
    app.on_shutdown.append(_close_sockets)  # type: ignore[arg-type]  # aiosignal generics vs aiohttp 3.9 stubs
    return app


async def _delivery_client(app: web.Application) -> AsyncIterator[None]:
    deliverer = app[DELIVERER]
    await deliverer.start()
    log.info("simulator for %s posts to %s (%s mode)", app[PLATFORM].account_id, deliverer.url, deliverer.mode)
    yield
    await deliverer.close()


async def _page_tasks(app: web.Application) -> AsyncIterator[None]:
    yield
    pending: set[asyncio.Task[None]] = app[TASKS]
    tasks = list(pending)
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _close_sockets(app: web.Application) -> None:
    await app[SOCKETS].close_all()
