"""create_console(settings): the agent console, an aiohttp sub-app the gateway mounts at
/console (`app.add_subapp("/console", create_console(settings))`).

Shared clients (Redis, the database engine, the HandoffFlow) come from the gateway
through `request.config_dict`; the console owns only its pub/sub listener and the
canned-reply index. Three middlewares, outermost first:

- security headers: a strict CSP (scripts only from /console itself, no inline code),
  nosniff, no referrer, no framing;
- errors: typed exceptions become courteous Chinese messages with the right status
  (Redis down -> 503), never a traceback;
- auth: everything but the login page and its assets needs a live session; state
  changes need the session's CSRF token and a same-origin Origin, and so does the
  WebSocket upgrade (browsers do not apply CORS to WebSockets).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from functools import partial

from aiohttp import web
from aiohttp.web_exceptions import HTTPMethodNotAllowed
from aiohttp.web_urldispatcher import PrefixedSubAppResource, UrlMappingMatchInfo
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from bot.config import Settings
from bot.console import accounts, knowledge
from bot.console.canned import CannedLoader
from bot.console.edge import (
    ACCOUNTS_UNAVAILABLE,
    CHANGED,
    CROSS_SITE,
    FAILED,
    NOT_FOUND,
    NOT_LOGGED_IN,
    STALE_PAGE,
    UNAVAILABLE,
    Refused,
    csrf_ok,
    json_error,
    same_origin,
)
from bot.console.keys import CANNED, CLOCK, HUB
from bot.console.live import Hub
from bot.console.routes import ACCOUNT, SESSION, routes, sessions_of, settings_of
from bot.console.sessions import COOKIE
from bot.gateway.appkeys import ENGINE, SETTINGS
from bot.handoff import AgentUnavailable, Conflict, HandoffUnavailable, NotFound

log = logging.getLogger("patentdesk.console")

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    if not response.prepared:  # a WebSocket has already sent its headers
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
    return response


def _wants_page(request: web.Request) -> bool:
    """A browser navigating (pages, unknown paths) rather than the page's own API calls."""
    if request.method not in ("GET", "HEAD") or request.headers.get("Upgrade", "").lower() == "websocket":
        return False
    handler = request.match_info.handler
    return bool(getattr(handler, "__console_page__", False)) or request.match_info.http_exception is not None


def _error(request: web.Request, status: int, message: str, code: str) -> web.Response:
    if _wants_page(request):
        return web.Response(status=status, text=message, content_type="text/plain", charset="utf-8",
                            headers={"Cache-Control": "no-store"})
    return json_error(status, message, code)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except Refused as exc:
        return json_error(exc.status, exc.message, exc.code, exc.headers)
    except (HandoffUnavailable, RedisError, ConnectionError, TimeoutError) as exc:
        log.warning("console: %s %s: Redis unavailable (%s)", request.method, request.path, exc)
        return _error(request, 503, UNAVAILABLE, "unavailable")
    except SQLAlchemyError as exc:
        log.warning("console: %s %s: database unavailable (%s)", request.method, request.path, exc)
        return _error(request, 503, ACCOUNTS_UNAVAILABLE, "db_unavailable")
    except Conflict:
        return json_error(409, CHANGED, "changed")
    except NotFound:
        return json_error(404, NOT_FOUND, "not_found")
    except AgentUnavailable:
        return json_error(409, "您当前不是“在线”状态，请先将状态切换为在线。", "not_online")
    except (web.HTTPException, asyncio.CancelledError):
        raise
    except Exception:
        log.exception("console: unhandled error on %s %s", request.method, request.path)
        return _error(request, 500, FAILED, "failed")


@web.middleware
async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    settings = settings_of(request)
    upgrade = request.headers.get("Upgrade", "").lower() == "websocket"
    if getattr(request.match_info.handler, "__console_public__", False):
        if request.method not in SAFE_METHODS and not same_origin(request, settings):
            return json_error(403, CROSS_SITE, "cross_site")
        return await handler(request)
    store = sessions_of(request)
    sid = request.cookies.get(COOKIE, "")
    session = await store.get(sid) if sid else None
    account = None
    if session is not None:
        # disabling an account revokes its sessions; checking here too covers a revocation
        # that could not reach Redis at the time
        account = await accounts.run_sync(accounts.get_account, request.config_dict[ENGINE], session.login)
        if account is None or account.disabled:
            await store.revoke_login(session.login)
            session = None
        elif account.role != session.role:  # the account is the authority on the role
            session = dataclasses.replace(session, role=account.role)
    if session is None or account is None:
        if _wants_page(request):
            raise web.HTTPSeeOther(request.app.router["login_page"].url_for(),
                                   headers={"Cache-Control": "no-store"})
        return json_error(401, NOT_LOGGED_IN, "login_required")
    if (upgrade or request.method not in SAFE_METHODS) and not same_origin(request, settings):
        log.warning("console: cross-site %s %s refused for %s", request.method, request.path, session.login)
        return json_error(403, CROSS_SITE, "cross_site")
    if request.method not in SAFE_METHODS and not csrf_ok(request, session.csrf):
        return json_error(403, STALE_PAGE, "csrf")
    request[SESSION] = session
    request[ACCOUNT] = account
    return await handler(request)


def create_console(settings: Settings) -> web.Application:
    """The console for `settings`; mounted under /console by the gateway."""
    app = web.Application(middlewares=[security_headers, errors, auth])
    app[SETTINGS] = settings
    app[HUB] = Hub(settings.effective_redis_url)
    app[CANNED] = CannedLoader(settings)
    app[CLOCK] = _now
    app.add_routes(routes)
    app.add_routes(knowledge.routes)  # drafts, review, publication (issue 15)
    app.cleanup_ctx.append(_background)
    app.on_shutdown.append(_close_sockets)  # type: ignore[arg-type]  # aiosignal generics vs aiohttp 3.9 stubs
    return app


class _PathPrefixResource(PrefixedSubAppResource):
    """aiohttp 3.9's sub-app resource matches on `request.url`, which yarl >= 1.13 refuses
    to build when the Host header carries a port (aio-libs/aiohttp#9307, fixed in 3.10.7):
    every request to a sub-app on e.g. :8088 would fail. The path alone is enough."""

    async def resolve(self, request: web.Request) -> tuple[UrlMappingMatchInfo | None, set[str]]:
        path = request.rel_url.raw_path
        if not path.startswith(self._prefix2) and path != self._prefix:
            return None, set()
        match_info = await self._app.router.resolve(request)
        match_info.add_app(self._app)
        allowed = match_info.http_exception.allowed_methods \
            if isinstance(match_info.http_exception, HTTPMethodNotAllowed) else set()
        return match_info, allowed


def mount_console(app: web.Application, settings: Settings, prefix: str = "/console") -> web.Application:
    """`app.add_subapp(prefix, create_console(settings))`, working with aiohttp 3.9 + yarl
    >= 1.13 too (see _PathPrefixResource). Returns the console sub-app."""
    console = create_console(settings)
    app._add_subapp(partial(_PathPrefixResource, prefix.rstrip("/"), console), console)
    return console


def _now() -> datetime:
    return datetime.now(UTC)


async def _background(app: web.Application) -> AsyncIterator[None]:
    app[CANNED].start()
    await app[HUB].start()
    yield
    await app[HUB].stop()
    await app[CANNED].stop()


async def _close_sockets(app: web.Application) -> None:
    await app[HUB].close_all()
