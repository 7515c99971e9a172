"""The console's edge: courteous errors, the Origin and CSRF checks, request bodies.

Typed exceptions from the layers below become HTTP statuses here and nowhere else;
every message is short, in Chinese, and safe to show as it is.
"""

from __future__ import annotations

import hmac
import json
from typing import Any, NoReturn

from aiohttp import web
from yarl import URL

from bot.config import Settings

UNAVAILABLE = "人工服务系统暂时无法连接，请稍后再试。给您带来不便，敬请谅解。"
ACCOUNTS_UNAVAILABLE = "账号服务暂时无法连接，请稍后再试。给您带来不便，敬请谅解。"
NOT_LOGGED_IN = "您尚未登录或登录已过期，请重新登录。"
CROSS_SITE = "出于安全考虑，来自其他网站的请求已被拒绝。"
STALE_PAGE = "页面的安全校验已失效，请刷新页面后再试。"
NOT_FOUND = "没有找到该会话或留言，可能已经结束，请刷新后再试。"
CHANGED = "该会话的状态已经变化，页面已为您刷新，请查看最新情况。"
FAILED = "抱歉，处理时出现问题，请稍后再试。"
BAD_BODY = "请求内容无法识别，请刷新页面后再试。"


def json_error(status: int, message: str, code: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message, "code": code}, status=status, dumps=_dumps,
                             headers={"Cache-Control": "no-store", **(headers or {})})


class Refused(Exception):
    """A request the console declines; the errors middleware turns it into JSON."""

    def __init__(self, status: int, message: str, code: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}


def fail(status: int, message: str, code: str) -> NoReturn:
    raise Refused(status, message, code)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def ok(body: dict[str, Any] | None = None, status: int = 200) -> web.Response:
    return web.json_response(body or {"ok": True}, status=status, dumps=_dumps,
                             headers={"Cache-Control": "no-store"})


async def read_json(request: web.Request) -> dict[str, Any]:
    """A JSON object body; anything else is a courteous 400 (or 415 for the wrong type,
    which also stops plain HTML forms posted from elsewhere)."""
    if request.content_type != "application/json":
        fail(415, BAD_BODY, "content_type")
    try:
        data = json.loads(await request.read() or b"{}")
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError; "[[[[..." recurses
        fail(400, BAD_BODY, "bad_json")
    if not isinstance(data, dict):
        fail(400, BAD_BODY, "bad_json")
    try:  # "\ud800" is valid JSON but no text: Redis, SQL and the WeChat XML could not carry it
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, RecursionError):
        fail(400, BAD_BODY, "bad_json")
    return data


def text_field(data: dict[str, Any], name: str, *, limit: int, required: bool = True,
               message: str = BAD_BODY) -> str:
    value = data.get(name, "")
    if not isinstance(value, str):
        fail(400, message, f"bad_{name}")
    value = value.strip()
    if (required and not value) or len(value) > limit:
        fail(400, message, f"bad_{name}")
    return value


def _origin(url: URL) -> tuple[str, str, int | None] | None:
    if url.scheme not in ("http", "https") or not url.host:
        return None
    return url.scheme, url.host.lower(), url.port


def same_origin(request: web.Request, settings: Settings) -> bool:
    """Origin must be the gateway's public address or the address this request came to.

    Without an Origin header the request did not come from a page (browsers send one on
    every POST and WebSocket upgrade), unless Sec-Fetch-Site says it is cross-site.
    """
    origin = request.headers.get("Origin")
    if origin is None:
        return request.headers.get("Sec-Fetch-Site", "same-origin") in ("same-origin", "none")
    try:
        seen = _origin(URL(origin))
        allowed = {_origin(URL(settings.gateway_public_url)) if settings.gateway_public_url else None,
                   _origin(URL(f"{request.scheme}://{request.host}"))}
    except ValueError:
        return False
    return seen is not None and seen in allowed


def csrf_ok(request: web.Request, expected: str) -> bool:
    given = request.headers.get("X-CSRF-Token", "")
    # aiohttp hands header bytes that are no UTF-8 over as surrogates: compare the bytes sent
    return bool(given) and hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode())
