"""HTTP surface of the simulator: the platform's API, the test/demo controls, the chat page.

- /cgi-bin/token, /cgi-bin/message/custom/send, /cgi-bin/menu/create|get|delete,
  /cgi-bin/qrcode/create, /cgi-bin/showqrcode, /cgi-bin/message/subscribe/bizsend
                the real API's paths, errcodes and JSON, for the gateway's API client
- /sim/send, /sim/verify, /sim/inbox/{openid}, /sim/deliveries, /sim/stats, /sim/config
                act as a user or look at what happened (JSON)
- /sim/clock, /sim/expire-tokens, /sim/faults, /sim/account, /sim/reset
                change the world for a test; they refuse requests made by a web page
                (Origin / Sec-Fetch-* headers), so the chat page cannot move them by accident
- / , /static/*, /sim/ws
                the phone-style chat page and its live feed
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web
from yarl import URL

from bot.config import Settings
from bot.simulator.delivery import Deliverer, UserAction
from bot.simulator.platform import ACCOUNT_NAME, OPENID_RE, Platform, PlatformError
from bot.wechat.qrcode import png as qr_png

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"


@dataclass(eq=False)
class Peer:
    """One open chat page: its socket and the queue its writer drains (one writer per socket)."""

    openid: str
    ws: web.WebSocketResponse
    queue: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)


class SocketRegistry:
    """Open chat pages by OpenID; the platform's events are fanned out to them."""

    def __init__(self) -> None:
        self.peers: dict[str, set[Peer]] = {}

    def add(self, peer: Peer) -> None:
        self.peers.setdefault(peer.openid, set()).add(peer)

    def remove(self, peer: Peer) -> None:
        group = self.peers.get(peer.openid)
        if group is not None:
            group.discard(peer)
            if not group:
                del self.peers[peer.openid]

    def publish(self, openid: str, event: dict[str, Any]) -> None:
        for peer in self.peers.get(openid, ()):
            peer.queue.put_nowait(event)

    async def close_all(self) -> None:
        for group in list(self.peers.values()):
            for peer in list(group):
                await peer.ws.close(code=1001, message=b"simulator shutting down")


SETTINGS = web.AppKey("settings", Settings)
PLATFORM = web.AppKey("platform", Platform)
DELIVERER = web.AppKey("deliverer", Deliverer)
SOCKETS = web.AppKey("sockets", SocketRegistry)
# deliveries started from chat pages, cancelled on cleanup
TASKS = web.AppKey("tasks", set[asyncio.Task[None]])

routes = web.RouteTableDef()

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _from_browser(request: web.Request) -> bool:
    # browsers add these to every fetch/XHR; curl, aiohttp and pytest clients do not
    return "Origin" in request.headers or "Sec-Fetch-Mode" in request.headers


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not a browser
    try:
        url = URL(origin)
        own = URL(f"{request.scheme}://{request.host}")
    except ValueError:
        return False
    return url.scheme in ("http", "https") and bool(url.host) and (url.host, url.port) == (own.host, own.port)


def tool_only(handler: Handler) -> Handler:
    """Controls that change the world (clock, faults, reset) answer scripts, not web pages."""

    @functools.wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        if _from_browser(request):
            return _error(403, "this control is for scripts and tests (curl, a test client), not web pages")
        return await handler(request)

    return guarded


async def _json(request: web.Request) -> Any:
    try:
        return json.loads(await request.read() or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise web.HTTPBadRequest(text=json.dumps({"error": "body is not JSON"}),
                                 content_type="application/json") from exc


# -- the chat page -----------------------------------------------------------------------

@routes.get("/")
async def index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


@routes.get("/sim/config")
async def config(request: web.Request) -> web.Response:
    platform = request.app[PLATFORM]
    deliverer = request.app[DELIVERER]
    return web.json_response({
        "account_id": platform.account_id,
        "account_name": ACCOUNT_NAME,
        "menu": platform.menu_items(),
        "qrcodes": qrcode_list(platform),
        "mode": deliverer.mode,
        "gateway_url": deliverer.url,
    })


# -- the platform's API ------------------------------------------------------------------

def _api_down(request: web.Request, name: str) -> web.Response | None:
    platform = request.app[PLATFORM]
    if not platform.faults.api_down:
        return None
    platform.counters[f"api.{name}.503"] += 1
    log.info("api %s -> HTTP 503 (fault: api_down)", name.replace("_", "/"))
    return web.Response(status=503, text="503 Service Temporarily Unavailable")


@routes.get("/cgi-bin/token")
async def token(request: web.Request) -> web.Response:
    if (down := _api_down(request, "token")) is not None:
        return down
    platform = request.app[PLATFORM]
    q = request.query
    try:
        body = platform.issue_token(q.get("grant_type", ""), q.get("appid", ""), q.get("secret", ""),
                                    caller_ip=request.remote or "")
    except PlatformError as exc:
        log.info("api token appid=%s -> errcode %d", q.get("appid", ""), exc.errcode)
        return web.json_response(exc.to_json())
    log.info("api token appid=%s -> ok (expires_in %d)", q.get("appid"), body["expires_in"])
    return web.json_response(body)


@routes.post("/cgi-bin/message/custom/send")
async def custom_send(request: web.Request) -> web.Response:
    if (down := _api_down(request, "custom_send")) is not None:
        return down
    platform = request.app[PLATFORM]
    body = await request.read()
    try:
        result = platform.custom_send(request.query.get("access_token", ""), body)
    except PlatformError as exc:
        log.info("api custom/send -> errcode %d %s", exc.errcode, exc.errmsg)
        return web.json_response(exc.to_json())
    log.info("api custom/send -> ok (%d bytes)", len(body))
    return web.json_response(result)


def _api_json(request: web.Request, name: str, call: Callable[[], dict[str, Any]]) -> web.Response:
    """Run one platform call: its JSON, or its errcode as the real API answers (HTTP 200)."""
    try:
        result = call()
    except PlatformError as exc:
        log.info("api %s -> errcode %d %s", name, exc.errcode, exc.errmsg)
        return web.json_response(exc.to_json())
    log.info("api %s -> ok", name)
    return web.json_response(result)


@routes.post("/cgi-bin/menu/create")
async def menu_create(request: web.Request) -> web.Response:
    if (down := _api_down(request, "menu_create")) is not None:
        return down
    body = await request.read()
    token = request.query.get("access_token", "")
    return _api_json(request, "menu/create", lambda: request.app[PLATFORM].menu_create(token, body))


@routes.get("/cgi-bin/menu/get")
async def menu_get(request: web.Request) -> web.Response:
    if (down := _api_down(request, "menu_get")) is not None:
        return down
    token = request.query.get("access_token", "")
    return _api_json(request, "menu/get", lambda: request.app[PLATFORM].menu_get(token))


@routes.get("/cgi-bin/menu/delete")
async def menu_delete(request: web.Request) -> web.Response:
    if (down := _api_down(request, "menu_delete")) is not None:
        return down
    token = request.query.get("access_token", "")
    return _api_json(request, "menu/delete", lambda: request.app[PLATFORM].menu_delete(token))


@routes.post("/cgi-bin/message/subscribe/bizsend")
async def bizsend(request: web.Request) -> web.Response:
    if (down := _api_down(request, "bizsend")) is not None:
        return down
    body = await request.read()
    token = request.query.get("access_token", "")
    return _api_json(request, "subscribe/bizsend", lambda: request.app[PLATFORM].bizsend(token, body))


@routes.get("/cgi-bin/ticket/getticket")
async def getticket(request: web.Request) -> web.Response:
    if (down := _api_down(request, "getticket")) is not None:
        return down
    q = request.query
    return _api_json(request, "ticket/getticket",
                     lambda: request.app[PLATFORM].jsapi_ticket(q.get("access_token", ""), q.get("type", "")))


@routes.post("/cgi-bin/qrcode/create")
async def qrcode_create(request: web.Request) -> web.Response:
    if (down := _api_down(request, "qrcode_create")) is not None:
        return down
    body = await request.read()
    token = request.query.get("access_token", "")
    response = _api_json(request, "qrcode/create", lambda: request.app[PLATFORM].qrcode_create(token, body))
    platform = request.app[PLATFORM]
    platform.broadcast({"type": "qrcodes", "qrcodes": qrcode_list(platform)})
    return response


@routes.get("/cgi-bin/showqrcode")
async def showqrcode(request: web.Request) -> web.Response:
    """The code's picture (the real one lives on mp.weixin.qq.com; an unknown ticket is a 404)."""
    try:
        code = request.app[PLATFORM].qrcode_for(request.query.get("ticket", ""))
    except ValueError:
        return web.Response(status=404, text="ticket not found")
    return web.Response(body=qr_png(code.url), content_type="image/png")


def qrcode_list(platform: Platform) -> list[dict[str, Any]]:
    """The codes the chat page offers to "scan" (its stand-in for pointing a camera at a poster)."""
    return [{"ticket": c.ticket, "scene": c.scene, "permanent": c.permanent} for c in platform.qrcodes.values()]


# -- test and demo controls --------------------------------------------------------------

@routes.post("/sim/send")
async def send(request: web.Request) -> web.Response:
    if not _same_origin(request):
        return _error(403, "cross-origin request refused")
    data = await _json(request)
    try:
        action = UserAction.from_json(data)
        deliveries = data.get("deliveries", 1)
        if not isinstance(deliveries, int) or isinstance(deliveries, bool):
            raise ValueError("deliveries must be an integer")
        report = await request.app[DELIVERER].send(action, deliveries)
    except ValueError as exc:
        return _error(400, str(exc))
    return web.json_response(report)


@routes.post("/sim/verify")
async def verify(request: web.Request) -> web.Response:
    """Check the gateway answers the platform's GET handshake (signature + echostr)."""
    if not _same_origin(request):
        return _error(403, "cross-origin request refused")
    return web.json_response(await request.app[DELIVERER].verify())


@routes.get("/sim/inbox/{openid}")
async def inbox(request: web.Request) -> web.Response:
    return web.json_response(request.app[PLATFORM].inbox(request.match_info["openid"]))


@routes.get("/sim/deliveries")
async def deliveries(request: web.Request) -> web.Response:
    return web.json_response(list(request.app[PLATFORM].deliveries))


@routes.get("/sim/stats")
async def stats(request: web.Request) -> web.Response:
    return web.json_response(request.app[PLATFORM].stats())


@routes.post("/sim/clock")
@tool_only
async def clock(request: web.Request) -> web.Response:
    data = await _json(request)
    seconds = data.get("advance") if isinstance(data, dict) else None
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
        return _error(400, "expected {\"advance\": seconds >= 0}")
    platform = request.app[PLATFORM]
    now = platform.clock.advance(float(seconds))
    log.info("clock advanced %gs (offset now %gs)", seconds, platform.clock.offset)
    return web.json_response({"now": now, "offset": platform.clock.offset})


@routes.post("/sim/expire-tokens")
@tool_only
async def expire_tokens(request: web.Request) -> web.Response:
    count = request.app[PLATFORM].expire_tokens()
    log.info("expired %d token(s)", count)
    return web.json_response({"expired": count})


@routes.post("/sim/faults")
@tool_only
async def faults(request: web.Request) -> web.Response:
    data = await _json(request)
    if not isinstance(data, dict):
        return _error(400, "expected a JSON object")
    errors = data.get("api_errors")
    down = data.get("api_down")
    if errors is not None and (not isinstance(errors, list)
                               or not all(isinstance(e, int) and not isinstance(e, bool) for e in errors)):
        return _error(400, "api_errors must be a list of integer errcodes")
    if down is not None and not isinstance(down, bool):
        return _error(400, "api_down must be true or false")
    state = request.app[PLATFORM].set_faults(errors, down)
    log.info("faults now %s", state)
    return web.json_response(state)


@routes.post("/sim/account")
@tool_only
async def account(request: web.Request) -> web.Response:
    """Configure the account as an operator might have (wrongly): IP whitelist, AppSecret."""
    data = await _json(request)
    if not isinstance(data, dict):
        return _error(400, "expected a JSON object")
    platform = request.app[PLATFORM]
    if "ip_whitelist" in data:
        ips = data["ip_whitelist"]
        if ips is not None and (not isinstance(ips, list) or not all(isinstance(ip, str) for ip in ips)):
            return _error(400, "ip_whitelist must be a list of addresses or null")
        platform.ip_whitelist = tuple(ips) if ips is not None else None
    if "appsecret" in data:
        if not isinstance(data["appsecret"], str) or not data["appsecret"]:
            return _error(400, "appsecret must be a non-empty string")
        platform.appsecret = data["appsecret"]
    log.info("account now: ip_whitelist=%s", platform.ip_whitelist)
    return web.json_response({"ip_whitelist": platform.ip_whitelist, "menu": platform.menu})


@routes.post("/sim/reset")
@tool_only
async def reset(request: web.Request) -> web.Response:
    request.app[PLATFORM].reset()
    log.info("platform reset")
    return web.json_response({"ok": True})


# -- the chat page's live feed -----------------------------------------------------------

@routes.get("/sim/ws")
async def websocket(request: web.Request) -> web.StreamResponse:
    """One chat page = one user: pushes every message that reaches the user, takes what they type."""
    if not _same_origin(request):
        return _error(403, "cross-origin WebSocket refused")
    openid = request.query.get("openid", "")
    if not OPENID_RE.match(openid):
        return _error(400, "openid must be 1-64 characters of A-Z a-z 0-9 _ -")
    platform = request.app[PLATFORM]
    registry = request.app[SOCKETS]
    ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=64 * 1024)
    await ws.prepare(request)
    user = platform.ensure_user(openid, request.query.get("nickname"))
    peer = Peer(openid, ws)
    peer.queue.put_nowait({
        "type": "hello", "openid": openid, "nickname": user.nickname, "subscribed": user.subscribed,
        "account_name": ACCOUNT_NAME, "menu": platform.menu_items(),
        "qrcodes": qrcode_list(platform), "templates": list(platform.templates), "chat": platform.chat(openid),
    })
    registry.add(peer)
    writer = asyncio.create_task(_pump(peer))
    log.info("chat page connected for %s", openid)
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            try:
                data = json.loads(msg.data)
                if not isinstance(data, dict):
                    raise ValueError("expected a JSON object")
            except ValueError:
                peer.queue.put_nowait({"type": "error", "error": "message is not a JSON object"})
                continue
            _handle_page_message(request.app, peer, data)
    finally:
        registry.remove(peer)
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer
        log.info("chat page disconnected for %s", openid)
    return ws


async def _pump(peer: Peer) -> None:
    while True:
        event = await peer.queue.get()
        try:
            await peer.ws.send_json(event)
        except ConnectionResetError:
            return


def _handle_page_message(app: web.Application, peer: Peer, data: dict[str, Any]) -> None:
    if data.get("type") == "nickname" and isinstance(data.get("nickname"), str):
        app[PLATFORM].ensure_user(peer.openid, data["nickname"])
        return
    if data.get("type") != "send":
        peer.queue.put_nowait({"type": "error", "error": "unknown message type"})
        return
    try:
        action = UserAction.from_json({**data, "openid": peer.openid, "type": data.get("kind", "text")})
    except ValueError as exc:
        peer.queue.put_nowait({"type": "error", "error": str(exc), "client_id": data.get("client_id")})
        return
    task = asyncio.create_task(_deliver_for_page(app, peer, action))
    tasks: set[asyncio.Task[None]] = app[TASKS]
    tasks.add(task)
    task.add_done_callback(tasks.discard)


async def _deliver_for_page(app: web.Application, peer: Peer, action: UserAction) -> None:
    try:
        report = await app[DELIVERER].send(action)
    except Exception:  # the page must hear back even when the simulator itself fails
        log.exception("delivery from the chat page failed")
        report = {"outcome": "unreachable", "msg_id": None, "tries": 0}
    peer.queue.put_nowait({
        "type": "delivery", "client_id": action.client_id,
        "report": {k: report.get(k) for k in ("outcome", "msg_id", "tries", "elapsed")},
    })


routes.static("/static", STATIC_DIR)
