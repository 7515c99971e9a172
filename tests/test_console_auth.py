"""The agent console's doors, over real HTTP on loopback against the real gateway app (its
HandoffFlow, a real Redis, SQLite in tmp_path): passwords, sessions and their cookie,
CSRF and Origin checks, login rate limits, revocation, the `agents` command, and what
agents and supervisors may see and do. No Rasa here: conversations are queued directly,
so these tests stay fast; the browser tests drive the whole path."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import subprocess
import sys
import time
import types
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer
from aiohttp.web_urldispatcher import PrefixedSubAppResource

from bot.config import PROJECT_ROOT, Settings
from bot.console import accounts, snapshot
from bot.console.app import mount_console
from bot.console.keys import HUB
from bot.console.passwords import hash_password, needs_rehash, verify_password
from bot.console.sessions import COOKIE, session_key
from bot.gateway.app import create_app
from bot.gateway.appkeys import FLOW
from bot.gateway.handoff_flow import HandoffFlow
from bot.handoff import HandoffQueue
from bot.records.store import make_engine
from bot.runtime.local_stack import free_port
from tests.conftest import RedisServer
from tests.gateway_kit import gateway_settings

pytestmark = pytest.mark.asyncio(loop_scope="session")

PASSWORD = "correct horse 1"


# -- the stack -----------------------------------------------------------------------------

def open_calendar(folder: Path) -> str:
    """A desk open all day every day, so a queued user is never offered a message instead."""
    path = folder / "open.yml"
    path.write_text('timezone: Asia/Shanghai\nopens: "00:00"\ncloses: "23:59"\nweekdays: [1, 2, 3, 4, 5, 6, 7]\n',
                    encoding="utf-8")
    return str(path)


def console_of(app: web.Application) -> web.Application | None:
    for resource in app.router.resources():
        if isinstance(resource, PrefixedSubAppResource) and resource.get_info()["prefix"] == "/console":
            console: web.Application = resource.get_info()["app"]
            return console
    return None


@dataclass
class Desk:
    settings: Settings
    server: TestServer
    console: web.Application

    @property
    def base(self) -> str:
        return str(self.server.make_url("/console"))

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    @property
    def flow(self) -> HandoffFlow:
        return self.server.app[FLOW]

    def add(self, login: str, name: str, role: str = "agent", capacity: int = 0,
            password: str = PASSWORD) -> accounts.Account:
        engine = make_engine(self.settings.database_url)
        try:
            return accounts.create_account(engine, login, name, password, role=role, capacity=capacity)
        finally:
            engine.dispose()

    async def enqueue(self, user: str, reason: str = "request", summary: str = "转人工") -> str:
        conv_id = self.flow.conv_id_for("wechat", user)
        await self.flow.queue.enqueue(conv_id, channel="wechat", user_id=user, reason=reason, summary=summary)
        return conv_id

    @contextlib.asynccontextmanager
    async def client(self, local: str = "127.0.0.1") -> AsyncIterator[Client]:
        connector = aiohttp.TCPConnector(local_addr=(local, 0))
        async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            yield Client(self, http)


@dataclass
class Client:
    desk: Desk
    http: aiohttp.ClientSession
    csrf: str = ""

    async def login(self, login: str, password: str = PASSWORD) -> tuple[int, dict[str, Any]]:
        status, body = await self.post("/login", {"login": login, "password": password}, csrf=False)
        if status == 200:
            self.csrf = body["csrf"]
        return status, body

    async def post(self, path: str, body: Any = None, *, csrf: bool | str = True, origin: str | None = "",
                   headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
        sent = dict(headers or {})
        if origin is not None:
            sent["Origin"] = origin or self.desk.origin
        if csrf:
            sent["X-CSRF-Token"] = csrf if isinstance(csrf, str) else self.csrf
        async with self.http.post(self.desk.base + path, json=body if body is not None else {},
                                  headers=sent, allow_redirects=False) as resp:
            return resp.status, await _json(resp)

    async def get(self, path: str, **params: str) -> tuple[int, dict[str, Any]]:
        async with self.http.get(self.desk.base + path, params=params, allow_redirects=False) as resp:
            return resp.status, await _json(resp)

    def ws(self, origin: str | None = "") -> Any:
        headers = {} if origin is None else {"Origin": origin or self.desk.origin}
        return self.http.ws_connect(self.desk.base + "/ws", headers=headers)


async def _json(resp: aiohttp.ClientResponse) -> dict[str, Any]:
    try:
        return json.loads(await resp.text())
    except ValueError:
        return {"text": await resp.text()}


async def flush(url: str) -> None:
    client = aioredis.from_url(url)
    try:
        await client.flushall()
    finally:
        await client.close()


@contextlib.asynccontextmanager
async def console_desk(tmp_path: Path, redis_url: str, rasa_url: str | None = None,
                       prepare: Callable[[web.Application], None] | None = None, **env: str) -> AsyncIterator[Desk]:
    """The real gateway app with the console mounted (by the gateway itself once it does);
    `prepare` may set the console's AppKeys (its clock) before it starts."""
    await flush(redis_url)
    env = {"HANDOFF_CALENDAR": open_calendar(tmp_path), **env}
    settings = gateway_settings(tmp_path, redis_url, rasa_url or f"http://127.0.0.1:{free_port()}", **env)
    app = create_app(settings)
    console = console_of(app) or mount_console(app, settings)
    if prepare is not None:
        prepare(console)
    server = TestServer(app, host="127.0.0.1", port=settings.gateway_port)
    await server.start_server()
    try:
        await settled(settings, console)
        yield Desk(settings, server, console)
    finally:
        await server.close()


async def settled(settings: Settings, console: web.Application, timeout: float = 15.0) -> None:
    """The gateway has migrated the records database (which holds the accounts) and the
    console's live feed has subscribed: both happen in the background at startup."""
    from bot.records.migrate import current, head

    engine = make_engine(settings.database_url)
    try:
        for _ in range(int(timeout / 0.05)):
            try:
                migrated = current(engine) == head()
            except Exception:  # the version table is not there yet
                migrated = False
            if migrated and console[HUB].connected.is_set():
                return
            await asyncio.sleep(0.05)
    finally:
        engine.dispose()
    raise AssertionError("the gateway did not migrate its database or the console did not subscribe")


async def next_snapshot(ws: Any, want: Any = lambda s: True, timeout: float = 8.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        msg = await ws.receive(timeout=max(deadline - time.monotonic(), 0.01))
        assert msg.type == WSMsgType.TEXT, msg
        data = json.loads(msg.data)
        if data["type"] == "snapshot" and want(data):
            return data


# -- passwords -----------------------------------------------------------------------------

@pytest.mark.asyncio(loop_scope="session")
async def test_password_hash_round_trip() -> None:
    stored = hash_password("专利 secret-1")
    scheme, n, r, p, salt, digest = stored.split("$")
    assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1") and len(salt) == 24 and digest
    assert verify_password("专利 secret-1", stored)
    assert not verify_password("专利 secret-2", stored)
    assert hash_password("专利 secret-1") != stored  # a fresh salt every time
    assert not needs_rehash(stored)
    for broken in ("", "plain", "scrypt$16384$8$1$@@@$AAAA", "scrypt$3$8$1$AAAA$AAAA", "bcrypt$x$y$z$a$b"):
        assert not verify_password("anything", broken)
        assert needs_rehash(broken)


# -- logging in ----------------------------------------------------------------------------

async def test_login_cookie_session_and_logout(tmp_path, redis_server) -> None:
    async with console_desk(tmp_path, redis_server.url) as desk, desk.client() as c:
        desk.add("li", "客服小李")
        assert (await c.login("li", "wrong password"))[0] == 401
        status, body = await c.login("nobody")
        assert status == 401 and body["error"] == "账号或密码不正确，请重新输入。"
        async with c.http.post(desk.base + "/login", json={"login": "li", "password": PASSWORD},
                               headers={"Origin": desk.origin}) as resp:
            assert resp.status == 200
            cookie = resp.headers["Set-Cookie"]
            c.csrf = (await resp.json())["csrf"]
        assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert "Path=/console" in cookie and "Secure" not in cookie and "Max-Age" not in cookie
        # the session lives in Redis under a hash of the cookie, with a sliding TTL
        sid = cookie.split(";")[0].split("=", 1)[1]
        redis = desk.flow.queue.redis
        assert len(sid) >= 43 and await redis.get(session_key(sid)) is not None
        await redis.expire(session_key(sid), 100)
        assert (await c.get("/api/snapshot"))[0] == 200
        assert await redis.ttl(session_key(sid)) > desk.settings.console_session_ttl - 10
        assert not [k for k in await redis.keys("*") if sid.encode() in k]
        status, me = await c.get("/api/me")
        assert status == 200 and me["login"] == "li" and me["name"] == "客服小李" and me["role"] == "agent"
        assert [g["label"] for g in me["grades"]] == ["轻微", "一般", "严重", "特别严重"]
        assert "年费" in me["categories"]
        agent = await desk.flow.queue.get_agent("li")
        assert agent is not None and agent.status == "online" and agent.name == "客服小李"
        async with c.http.get(desk.base + "/", allow_redirects=False) as resp:
            assert resp.status == 200 and "人工客服工作台" in await resp.text()
            assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
            assert "unsafe-inline" not in resp.headers["Content-Security-Policy"]
        assert (await c.post("/logout"))[0] == 200
        assert (await c.get("/api/me"))[0] == 401
        assert (await desk.flow.queue.get_agent("li")).status == "offline"  # type: ignore[union-attr]


async def test_secure_cookie_when_configured(tmp_path, redis_server) -> None:
    async with console_desk(tmp_path, redis_server.url, CONSOLE_SECURE_COOKIE="1") as desk:
        desk.add("li", "客服小李")
        async with aiohttp.ClientSession() as http, \
                http.post(desk.base + "/login", json={"login": "li", "password": PASSWORD}) as resp:
            assert resp.status == 200
            assert "Secure" in resp.headers["Set-Cookie"] and "HttpOnly" in resp.headers["Set-Cookie"]


async def test_failed_logins_are_limited_per_account_and_per_address(tmp_path, redis_server) -> None:
    async with console_desk(tmp_path, redis_server.url, CONSOLE_LOGIN_ATTEMPTS="3") as desk, \
            desk.client("127.0.0.1") as here, desk.client("127.0.0.2") as there:
        desk.add("alice", "客服甲")
        desk.add("bob", "客服乙")
        for _ in range(3):
            assert (await here.login("alice", "guess"))[0] == 401
        # the account is locked, whatever the address and even with the right password
        for client in (here, there):
            async with client.http.post(desk.base + "/login", json={"login": "alice", "password": PASSWORD}) as resp:
                assert resp.status == 429
                assert 0 < int(resp.headers["Retry-After"]) <= 900
                assert "登录尝试次数过多" in (await resp.json())["error"]
        # the address is locked for every account; another address is not
        assert (await here.login("bob"))[0] == 429
        assert (await there.login("bob"))[0] == 200


# -- CSRF and Origin -----------------------------------------------------------------------

async def test_csrf_token_and_origin_are_required(tmp_path, redis_server) -> None:
    async with console_desk(tmp_path, redis_server.url) as desk, desk.client() as c:
        desk.add("li", "客服小李")
        status, body = await c.post("/login", {"login": "li", "password": PASSWORD}, csrf=False,
                                    origin="http://evil.example")
        assert status == 403 and body["code"] == "cross_site"
        assert (await c.login("li"))[0] == 200
        away = {"status": "away"}
        assert (await c.post("/api/presence", away, csrf=False))[1]["code"] == "csrf"
        assert (await c.post("/api/presence", away, csrf="forged"))[0] == 403
        status, body = await c.post("/api/presence", away, origin="http://evil.example")
        assert status == 403 and body["error"] == "出于安全考虑，来自其他网站的请求已被拒绝。"
        assert (await c.post("/api/presence", away, origin="null"))[0] == 403
        status, _ = await c.post("/api/presence", away, origin=None, headers={"Sec-Fetch-Site": "cross-site"})
        assert status == 403
        async with c.http.post(desk.base + "/api/presence", data="status=away",
                               headers={"Origin": desk.origin, "X-CSRF-Token": c.csrf,
                                        "Content-Type": "application/x-www-form-urlencoded"}) as resp:
            assert resp.status == 415  # what a plain HTML form could send
        assert (await desk.flow.queue.get_agent("li")).status == "online"  # type: ignore[union-attr]
        status, body = await c.post("/api/presence", away)
        assert status == 200 and body["status"] == "away"
        # behind a proxy: the public address (GATEWAY_PUBLIC_URL) or the Host the request came to
        assert (await c.post("/api/presence", away, headers={"Host": "desk.internal"}))[0] == 200
        assert (await c.post("/api/presence", away, origin="http://desk.internal",
                             headers={"Host": "desk.internal"}))[0] == 200
        assert (await c.post("/api/presence", away, origin="https://desk.internal",
                             headers={"Host": "desk.internal"}))[0] == 403
        # the WebSocket: a foreign page cannot open it even with the cookie
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            async with c.ws(origin="http://evil.example"):
                pass
        assert refused.value.status == 403
        async with c.ws() as ws:
            first = await next_snapshot(ws)
            assert first["me"]["status"] == "away"


async def test_nothing_is_reachable_without_a_session(tmp_path, redis_server) -> None:
    async with console_desk(tmp_path, redis_server.url) as desk, aiohttp.ClientSession() as http:
        checked = 0
        for route in desk.console.router.routes():
            handler = route.handler
            path = route.resource.canonical if route.resource else ""
            path = path.replace("{conv_id}", "wechat-abc").replace("{ticket_id}", "7").replace("{name}", "style.css")
            if getattr(handler, "__console_public__", False):
                continue
            url = str(desk.server.make_url(path))
            async with http.request(route.method, url, json={}, headers={"Origin": desk.origin},
                                    allow_redirects=False) as resp:
                if getattr(handler, "__console_page__", False):
                    assert resp.status == 303 and resp.headers["Location"] == "/console/login", path
                else:
                    assert resp.status == 401, (route.method, path, resp.status)
                    if route.method != "HEAD":
                        assert (await resp.json())["error"] == "您尚未登录或登录已过期，请重新登录。"
            checked += 1
        assert checked >= 14
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            async with http.ws_connect(desk.base + "/ws", headers={"Origin": desk.origin}):
                pass
        assert refused.value.status == 401
        for path, status in (("/console/nowhere", 303), ("/console/static/console.js", 404),
                             ("/console/static/../console.js", 404), ("/console/login", 200),
                             ("/console/static/login.js", 200), ("/console/static/style.css", 200)):
            async with http.get(str(desk.server.make_url(path)), allow_redirects=False) as resp:
                assert resp.status in (status, 303 if status == 404 else status), (path, resp.status)
                if resp.status == 200:
                    assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
        async with http.get(desk.base + "/", headers={"Cookie": f"{COOKIE}=forged"}, allow_redirects=False) as resp:
            assert resp.status == 303


async def test_redis_down_gets_a_courteous_503(tmp_path) -> None:
    own = RedisServer(tmp_path / "redis")
    own.start()
    try:
        async with console_desk(tmp_path, own.url) as desk, desk.client() as c:
            desk.add("li", "客服小李")
            assert (await c.login("li"))[0] == 200
            own.stop()
            status, body = await c.get("/api/snapshot")
            assert status == 503 and body["error"].startswith("人工服务系统暂时无法连接")
            status, body = await c.login("li")
            assert status == 503 and "Traceback" not in json.dumps(body)
            async with c.http.get(desk.base + "/", allow_redirects=False) as resp:
                assert resp.status == 503 and "请稍后再试" in await resp.text()
    finally:
        own.stop()


# -- revocation and the command line -------------------------------------------------------

async def test_disabling_an_account_ends_its_live_session(tmp_path, redis_server, monkeypatch, capsys) -> None:
    from bot.cli import main

    async with console_desk(tmp_path, redis_server.url) as desk, desk.client() as c:
        monkeypatch.setenv("DATABASE_URL", desk.settings.database_url)
        monkeypatch.setenv("REDIS_URL", desk.settings.redis_url)
        desk.add("bob", "客服乙")
        assert (await c.login("bob"))[0] == 200
        async with c.ws() as ws:
            await next_snapshot(ws)
            code = await asyncio.get_running_loop().run_in_executor(None, main, ["agents", "disable", "bob"])
            assert code == 0 and "ended 1 console session(s) of bob" in capsys.readouterr().out
            seen = []
            while (msg := await ws.receive(timeout=5)).type == WSMsgType.TEXT:
                seen.append(json.loads(msg.data)["type"])
            assert seen[-1] == "logout" and msg.type == WSMsgType.CLOSE and msg.data == 4401
        assert (await c.get("/api/me"))[0] == 401
        status, body = await c.login("bob")
        assert status == 403 and body["error"] == "该账号已停用，如有疑问请联系主管。"


async def test_agents_command_add_list_disable(tmp_path, monkeypatch, capsys) -> None:
    from bot.cli import main

    db = f"sqlite:///{tmp_path / 'accounts.db'}"
    monkeypatch.setenv("DATABASE_URL", db)
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")  # nobody there
    monkeypatch.setattr(sys, "stdin", io.StringIO("a-long-password\n"))
    assert main(["agents", "add", "li", "--name", "客服小李", "--capacity", "2", "--password-stdin"]) == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO("another-password\n"))
    assert main(["agents", "add", "wang", "--name", "王主管", "--role", "supervisor", "--password-stdin"]) == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO("a-long-password\n"))
    assert main(["agents", "add", "li", "--name", "重复", "--password-stdin"]) == 1
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    assert main(["agents", "add", "zhao", "--name", "赵", "--password-stdin"]) == 1
    assert main(["agents", "add", "Bad Login!", "--name", "x", "--password-stdin"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["agents", "disable", "wang"]) == 0
    assert "Redis not reachable" in capsys.readouterr().out
    assert main(["agents", "disable", "nobody"]) == 1
    engine = make_engine(db)
    try:
        li = accounts.get_account(engine, "li")
        assert li is not None and li.capacity == 2 and verify_password("a-long-password", li.password_hash)
        assert "a-long-password" not in li.password_hash
    finally:
        engine.dispose()
    # the installed command, as an operator runs it
    env = {"DATABASE_URL": db, "PATH": "/usr/bin:/bin", "SQLALCHEMY_SILENCE_UBER_WARNING": "1"}
    out = subprocess.run([sys.executable, "-m", "bot.cli", "agents", "list"], capture_output=True, text=True,
                         env=env, cwd=PROJECT_ROOT, timeout=60, check=True).stdout
    rows = [line.split() for line in out.splitlines()]
    assert rows[0] == ["login", "name", "role", "capacity", "state", "created"]
    assert rows[1][:5] == ["li", "客服小李", "agent", "2", "active"]
    assert rows[2][:5] == ["wang", "王主管", "supervisor", "3", "disabled"]


async def test_demo_account_created_once(tmp_path) -> None:
    settings = Settings.from_env({"PATENTDESK_VAR_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}"})
    password = accounts.ensure_demo_account(settings)
    assert password and len(password) >= 12
    assert accounts.ensure_demo_account(settings) == password  # still the only account: shown again
    engine = make_engine(settings.database_url)
    try:
        demo = accounts.get_account(engine, "demo")
        assert demo is not None and demo.role == "supervisor" and verify_password(password, demo.password_hash)
        accounts.create_account(engine, "li", "客服小李", PASSWORD)
    finally:
        engine.dispose()
    assert accounts.ensure_demo_account(settings) is None
    assert (tmp_path / "secrets" / "console-demo-password").stat().st_mode & 0o777 == 0o600


# -- what agents and supervisors see and do ------------------------------------------------

async def test_agents_see_their_own_work_supervisors_see_everything(tmp_path, redis_server) -> None:
    async with console_desk(tmp_path, redis_server.url) as desk, \
            desk.client() as a1, desk.client() as a2, desk.client() as sup:
        desk.add("a1", "客服甲")
        desk.add("a2", "客服乙")
        desk.add("boss", "王主管", role="supervisor")
        for client, login in ((a1, "a1"), (a2, "a2"), (sup, "boss")):
            assert (await client.login(login))[0] == 200
        c1 = await desk.enqueue("o_user_one", summary="我要投诉代理机构")
        c2 = await desk.enqueue("o_user_two")
        c3 = await desk.enqueue("o_user_three", reason="complaint")
        async with a1.ws() as ws1:
            first = await next_snapshot(ws1)
            assert [q["conv_id"] for q in first["queue"]] == [c3, c1, c2]  # complaints first
            assert first["queue"][0]["reason_label"] == "投诉" and first["queue"][1]["waited"] >= 0
            assert "o_user" not in json.dumps(first)  # agents see a label, not the OpenID
            assert (await a1.post(f"/api/conversations/{c1}/claim"))[0] == 200
            status, body = await a2.post(f"/api/conversations/{c1}/claim")
            assert status == 409 and body["error"] == "这位用户已由其他同事接入，无需重复接入。请从队列中选择其他会话。"
            assert (await a2.post(f"/api/conversations/{c2}/claim"))[0] == 200
            assert (await a1.post("/api/conversations/wechat-nobody/claim"))[0] == 404
            # the socket follows: a1 holds c1, c2 left the queue (pub/sub from the flow)
            live = await next_snapshot(ws1, lambda s: [q["conv_id"] for q in s["queue"]] == [c3])
            assert [c["conv_id"] for c in live["conversations"]] == [c1] and "agents" not in live
            assert {c["agent_id"] for c in live["colleagues"]} == {"a2", "boss"}
            assert "load" not in live["colleagues"][0]
            # transcripts over the socket: the queue and their own, not a colleague's
            await ws1.send_json({"type": "transcript", "conv_id": c2})
            while (msg := json.loads((await ws1.receive(timeout=5)).data))["type"] == "snapshot":
                pass
            assert msg == {"type": "transcript_error", "conv_id": c2, "error": "这段会话由其他客服接待，您无权查看。"}
        assert (await a1.get(f"/api/conversations/{c3}/transcript"))[0] == 200
        assert (await a1.get(f"/api/conversations/{c1}/transcript"))[0] == 200
        assert (await a1.get(f"/api/conversations/{c2}/transcript"))[0] == 403
        for action, body in (("reply", {"text": "您好"}), ("transfer", {"to": "a1"}), ("hand-back", {}),
                             ("close", {"outcome": "resolved"})):
            status, answer = await a1.post(f"/api/conversations/{c2}/{action}", body)
            assert status == 403 and answer["code"] == "not_yours", action
        # supervisors see every conversation and agent, and move work around
        _, board = await sup.get("/api/snapshot")
        assert {c["conv_id"]: c["agent"] for c in board["conversations"]} == {c1: "a1", c2: "a2"}
        assert {a["agent_id"]: a["load"] for a in board["agents"]} == {"a1": 1, "a2": 1, "boss": 0}
        assert (await sup.get(f"/api/conversations/{c2}/transcript"))[0] == 200
        assert (await sup.post(f"/api/conversations/{c2}/reply", {"text": "插话"}))[0] == 403
        status, moved = await sup.post(f"/api/conversations/{c2}/transfer", {"to": "a1"})
        assert status == 200 and moved["conversation"]["agent"] == "a1"
        _, mine = await a1.get("/api/snapshot")
        assert sorted(c["conv_id"] for c in mine["conversations"]) == sorted([c1, c2])
        # replies, validation, close with outcome, category and grade
        status, sent = await a1.post(f"/api/conversations/{c1}/reply", {"text": "您好，我是客服甲。"})
        assert status == 200 and sent["path"] in ("async", "passive")
        assert (await a1.post(f"/api/conversations/{c1}/reply", {"text": "  "}))[0] == 400
        assert (await a1.post(f"/api/conversations/{c1}/reply", {"text": "长" * 1001}))[0] == 400
        _, lines = await a1.get(f"/api/conversations/{c1}/transcript")
        assert [(ln["who"], ln["text"], ln["agent_name"]) for ln in lines["lines"] if ln["who"] == "agent"] == \
            [("agent", "您好，我是客服甲。", "客服甲")]
        assert (await a1.post(f"/api/conversations/{c1}/close", {"outcome": "resolved", "grade": "E"}))[0] == 400
        assert (await a1.post(f"/api/conversations/{c1}/close", {"outcome": "done?"}))[0] == 400
        assert (await a1.post(f"/api/conversations/{c1}/close",
                              {"outcome": "resolved", "category": "不存在的类别"}))[0] == 400
        status, closed = await a1.post(f"/api/conversations/{c1}/close",
                                       {"outcome": "resolved", "category": "代理机构与投诉", "grade": "B"})
        assert status == 200 and closed["conversation"]["state"] == "closed"
        assert (await a1.post(f"/api/conversations/{c2}/hand-back"))[0] == 200
        assert (await a1.post(f"/api/conversations/{c2}/hand-back"))[0] == 403
        _, after = await a1.get("/api/snapshot")
        assert after["conversations"] == [] and [q["conv_id"] for q in after["queue"]] == [c3]


async def test_presence_heartbeat_canned_and_tickets(tmp_path, redis_server) -> None:
    async with console_desk(tmp_path, redis_server.url, HANDOFF_LEASE="3") as desk, desk.client() as c:
        desk.add("li", "客服小李")
        assert (await c.login("li"))[0] == 200
        # the open console renews presence every lease/3 seconds
        async with c.ws() as ws:
            await next_snapshot(ws)
            seen = (await desk.flow.queue.get_agent("li")).last_seen  # type: ignore[union-attr]
            await next_snapshot(ws)  # the next heartbeat's snapshot
            assert (await desk.flow.queue.get_agent("li")).last_seen > seen  # type: ignore[union-attr]
        assert (await c.post("/api/presence", {"status": "busy"}))[0] == 400
        status, body = await c.post("/api/presence", {"status": "offline"})
        assert status == 200 and body["released"] == []
        status, body = await c.post(f"/api/conversations/{await desk.enqueue('o_x')}/claim")
        assert status == 409 and body["code"] == "not_online"
        # canned replies: the knowledge base's answers with their source
        status, found = await c.get("/api/canned", q="年费晚交了有滞纳金吗")
        late_fee_entries = {"annual-fee-late-payment", "fee-sched-annual-late-fee-amounts",  # all three answer it
                            "qa-annual-late-under-one-month"}
        assert status == 200 and found["results"][0]["id"] in late_fee_entries
        assert "（依据：" in found["results"][0]["text"]
        assert (await c.get("/api/canned", q=""))[1]["results"] == []
        # left messages: listed, answered once
        conv = await desk.enqueue("o_leaver")
        ticket = await desk.flow.queue.to_ticket(conv, "请回电话告诉我年费怎么交")
        _, board = await c.get("/api/snapshot")
        assert [(t["ticket_id"], t["message"], t["overdue"]) for t in board["tickets"]] == \
            [(ticket.ticket_id, "请回电话告诉我年费怎么交", False)]
        assert (await c.get(f"/api/conversations/{conv}/transcript"))[0] == 200
        status, answered = await c.post(f"/api/tickets/{ticket.ticket_id}/answer", {"text": "您好，年费可在网上缴纳。"})
        assert status == 200 and answered["ticket"]["state"] == "answered"
        status, again = await c.post(f"/api/tickets/{ticket.ticket_id}/answer", {"text": "再答一次"})
        assert status == 409 and again["error"] == "这条留言已由其他同事答复，无需重复处理。"
        assert (await c.post("/api/tickets/99999/answer", {"text": "x"}))[0] == 404
        # a ticket past its due time is flagged
        late = await desk.flow.queue.to_ticket(await desk.enqueue("o_late"), "很久以前的留言")
        later = types.SimpleNamespace(queue=HandoffQueue(desk.flow.queue.redis, clock=lambda: late.due_at + 60))
        board = await snapshot.build(later, accounts_session("li"))  # type: ignore[arg-type]
        assert [t["overdue"] for t in board["tickets"]] == [True]


def accounts_session(login: str) -> Any:
    from bot.console.sessions import Session

    return Session(login=login, role="agent", csrf="", created=time.time())
