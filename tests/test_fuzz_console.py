"""Hostile input over the agent console (issue 7), fuzzed with hypothesis at the HTTP level.

One real gateway for the module, with the console mounted as the gateway mounts it, a
real Redis and SQLite accounts. Rasa is a stand-in on loopback that hands off on "转人工"
and otherwise repeats what it was told, so hostile text reaches the console both as the
user's words and inside the bot's answers. (The browser-level XSS test lives in
tests/test_console_browser.py; this file checks what the HTTP surface serves.)

- every route without a session: 401, or a redirect to the login page for pages;
- with a session but without the CSRF token or from a foreign Origin: 403;
- fuzzed bodies (wrong types, missing fields, huge strings, deep nesting, invalid UTF-8,
  not JSON) to every POST route and fuzzed queries to the GET API: 4xx, never 500;
- header bytes that are no UTF-8 (Cookie, Origin, X-CSRF-Token): no 500;
- script injection through the WeChat webhook into a handed-off conversation arrives in
  the console's JSON and WebSocket only as data, never in a served page, and every page
  carries the strict Content-Security-Policy.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer
from aiohttp.web_routedef import RouteDef
from defusedxml.ElementTree import fromstring as safe_fromstring
from hypothesis import assume, event, example, given, settings
from hypothesis import strategies as st

from bot.console.app import CSP
from bot.console.knowledge import routes as knowledge_routes
from bot.console.routes import routes as console_routes
from bot.console.sessions import COOKIE
from bot.records.charts import CHARTS
from tests.gateway_kit import ACCOUNT, Poster, text_xml
from tests.test_console_auth import PASSWORD, Client, Desk, console_desk
from tests.test_fuzz_webhook import FUZZ, STACK_LIKE, Tracebacks, examples

pytestmark = pytest.mark.asyncio(loop_scope="session")

PAYLOADS = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", '"><svg onload=alert(1)>',
            "</textarea><script>alert(document.cookie)</script>", "javascript:alert(1)",
            "]]><script>alert(1)</script><![CDATA[", "{{constructor.constructor('alert(1)')()}}"]


# -- the routes, as the console declares them ------------------------------------------------

@dataclass(frozen=True)
class Route:
    method: str
    path: str  # under /console, with {params}
    public: bool
    page: bool

    def url(self, base: str, param: str) -> str:
        """The path with every {param} replaced by `param`, percent-encoded."""
        return base + re.sub(r"\{\w+\}", quote(param, safe="") or "x", self.path)


def _declared() -> list[Route]:
    found = []
    for item in [*console_routes, *knowledge_routes]:
        if not isinstance(item, RouteDef):
            continue
        public = bool(getattr(item.handler, "__console_public__", False))
        page = bool(getattr(item.handler, "__console_page__", False))
        methods = [item.method, "HEAD"] if item.method == "GET" else [item.method]
        found += [Route(m, "/console" + item.path, public, page) for m in methods]
    return found


ROUTES = _declared()
POSTS = [r for r in ROUTES if r.method == "POST"]
assert len(ROUTES) >= 25 and len(POSTS) >= 9, ROUTES  # the fuzzing covers what the console declares


# -- a stand-in Rasa ---------------------------------------------------------------------------

HANDOFF_TEXT = "好的，正在为您转接人工客服。"
ECHO = "您说的是："


async def _rasa_webhook(request: web.Request) -> web.Response:
    message = str((await request.json()).get("message", ""))
    if "转人工" in message:
        return web.json_response([{"text": HANDOFF_TEXT,
                                   "custom": {"patentdesk": {"decision": "handoff", "reason": "request"}}}])
    return web.json_response([{"text": ECHO + message, "custom": {"patentdesk": {"decision": "fallback"}}}])


async def _rasa_events(request: web.Request) -> web.Response:
    return web.json_response({})


def fake_rasa() -> web.Application:
    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", _rasa_webhook)
    app.router.add_post("/conversations/{sender}/tracker/events", _rasa_events)
    return app


# -- the stage -----------------------------------------------------------------------------------

class Stage:
    """The gateway with its console, two signed-in clients, one anonymous, and a few
    conversations and a ticket to aim at."""

    def __init__(self, desk: Desk, agent: Client, boss: Client, anon: aiohttp.ClientSession,
                 tracebacks: Tracebacks) -> None:
        self.desk, self.agent, self.boss, self.anon, self.tracebacks = desk, agent, boss, anon, tracebacks
        self.targets: dict[str, str] = {}
        self.poster = Poster(desk.settings, str(desk.server.make_url("")).rstrip("/"))

    def __repr__(self) -> str:  # hypothesis prints the arguments of a failing example
        return f"Stage({self.desk.base})"

    @property
    def root(self) -> str:
        return str(self.desk.server.make_url("")).rstrip("/")


@pytest.fixture(scope="module")
async def stage(tmp_path_factory: pytest.TempPathFactory, redis_server) -> AsyncIterator[Stage]:
    rasa = TestServer(fake_rasa(), host="127.0.0.1")
    await rasa.start_server()
    watcher = Tracebacks()
    logging.getLogger().addHandler(watcher)
    try:
        async with contextlib.AsyncExitStack() as stack:
            desk = await stack.enter_async_context(console_desk(
                tmp_path_factory.mktemp("fuzz-console"), redis_server.url, str(rasa.make_url("")).rstrip("/"),
                CONSOLE_LOGIN_ATTEMPTS="1000000",  # the fuzzer fails many logins; no lockout here
                WECHAT_REPLY_DEADLINE="1.5"))  # an agent's passive reply waits at most ~1.2 s
            desk.add("agent", "客服小王", capacity=0)
            desk.add("boss", "王主管", role="supervisor", capacity=0)
            agent = await stack.enter_async_context(desk.client())
            boss = await stack.enter_async_context(desk.client())
            assert (await agent.login("agent"))[0] == 200 and (await boss.login("boss"))[0] == 200
            anon = await stack.enter_async_context(aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()))
            staged = Stage(desk, agent, boss, anon, watcher)
            staged.targets["held"] = await desk.enqueue("o_fuzz_held")
            assert (await agent.post(f"/api/conversations/{staged.targets['held']}/claim"))[0] == 200
            staged.targets["waiting"] = await desk.enqueue("o_fuzz_waiting", summary="<b>摘要</b>")
            ticket = await desk.flow.queue.to_ticket(await desk.enqueue("o_fuzz_ticket"), "请回电 <i>")
            staged.targets["ticket"] = ticket.ticket_id
            yield staged
    finally:
        logging.getLogger().removeHandler(watcher)
        await rasa.close()


# -- what every answer must satisfy --------------------------------------------------------------

async def send(http: aiohttp.ClientSession, method: str, url: str, body: bytes | None = None,
               headers: dict[str, str] | None = None) -> tuple[int, str, aiohttp.ClientResponse]:
    async with http.request(method, url, data=body, headers=headers or {}, allow_redirects=False) as resp:
        return resp.status, await resp.text(errors="replace"), resp


def assert_polite(status: int, body: str, resp: aiohttp.ClientResponse, what: object = "") -> None:
    """Below 500; a refusal says why in a short courteous message, as JSON where it is the
    console's own, and shows nothing of Python's insides."""
    event(f"HTTP {status}")
    assert status < 500, (status, body[:300], what)
    if status >= 400:
        assert not STACK_LIKE.search(body), (status, body[:300], what)
        if resp.content_type == "application/json" and resp.method != "HEAD":
            refusal = json.loads(body)
            assert set(refusal) == {"error", "code"} and refusal["error"], (refusal, what)
            event(f"HTTP {status} {refusal['code']}")


def param_text() -> st.SearchStrategy[str]:
    return st.one_of(st.text(max_size=40), st.sampled_from(["", ".", "..", "%2e%2e", "wechat-abc", "7", "-1",
                                                            "99999999999999999999", "style.css", "console.js",
                                                            "../app.js", "<script>", "\u0000"]))


header_text = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=60)


# -- no session ----------------------------------------------------------------------------------

@settings(max_examples=examples(150), **FUZZ)
@given(route=st.sampled_from(ROUTES), param=param_text(),
       cookie=st.one_of(st.none(), header_text, st.text(alphabet="abcdefABCDEF0123456789-_", min_size=43, max_size=43)),
       origin=st.sampled_from([None, "same", "http://evil.example"]))
@example(route=next(r for r in ROUTES if r.path == "/console/" and r.method == "GET"), param="", cookie="forged",
         origin=None)
async def test_no_session_no_entry(stage: Stage, route: Route, param: str, cookie: str | None,
                                   origin: str | None) -> None:
    headers = {"Content-Type": "application/json"}
    if cookie is not None:
        headers["Cookie"] = f"{COOKIE}={cookie}"
    if origin is not None:
        headers["Origin"] = stage.desk.origin if origin == "same" else origin
    body = b'{"login": "agent", "password": "guess", "status": "online", "text": "hi"}' if route.method == "POST" else None
    status, text, resp = await send(stage.anon, route.method, route.url(stage.root, param), body, headers)
    assert_polite(status, text, resp, (route, param))
    if route.public and route.method == "POST":  # the login form itself
        assert status in (401, 403), (status, text)
        assert status == 403 or origin != "http://evil.example"
    elif route.public:  # the login page and its assets (an unknown asset is a 404, or not matched)
        assert status in (200, 303, 404), (route, param, status)
    elif route.method == "POST":
        assert status == 401 and json.loads(text)["code"] == "login_required", (route, param, status, text)
    else:  # pages and unmatched paths go to the login page; the API says 401
        assert status in (303, 401), (route, param, status)
        if status == 303:
            assert resp.headers["Location"] == "/console/login"
        elif route.method == "GET":
            assert json.loads(text)["code"] == "login_required"
    if status == 200:
        assert resp.headers["Content-Security-Policy"] == CSP


# -- a session, but no CSRF token or a foreign Origin --------------------------------------------

def foreign_origins(port: int) -> list[str]:
    return ["http://evil.example", "null", f"https://127.0.0.1:{port}", f"http://localhost:{port}",
            f"http://127.0.0.1:{port + 1}", "file://", f"http://127.0.0.1:{port}.evil.example",
            f"http://127.0.0.1@evil.example:{port}", f"http://evil.example/127.0.0.1:{port}", "http://", "",
            f"ws://127.0.0.1:{port}", f"http://[::1]:{port}"]


@settings(max_examples=examples(150), **FUZZ)
@given(route=st.sampled_from(POSTS), param=param_text(), origin=st.one_of(
    st.sampled_from(["absent", "same"]), st.integers(0, 12).map(lambda i: f"foreign:{i}"), header_text),
    csrf=st.one_of(st.sampled_from(["absent", "right", "", "right+x", "RIGHT"]), header_text),
    fetch_site=st.sampled_from([None, "cross-site", "same-site", "same-origin", "none"]))
async def test_session_without_csrf_or_from_elsewhere_is_refused(stage: Stage, route: Route, param: str, origin: str,
                                                                 csrf: str, fetch_site: str | None) -> None:
    port = stage.desk.server.port or 0
    right = stage.agent.csrf
    headers = {"Content-Type": "application/json"}
    if origin.startswith("foreign:"):
        headers["Origin"] = foreign_origins(port)[int(origin.split(":")[1])]
    elif origin == "same":
        headers["Origin"] = stage.desk.origin
    elif origin != "absent":
        headers["Origin"] = origin
    if fetch_site is not None:
        headers["Sec-Fetch-Site"] = fetch_site
    token = {"absent": None, "right": right, "right+x": right + "x", "RIGHT": right.upper()}.get(csrf, csrf)
    if token is not None:
        headers["X-CSRF-Token"] = token
    same = headers.get("Origin") == stage.desk.origin or (
        "Origin" not in headers and fetch_site in (None, "same-origin", "none"))
    assume(not same or (not route.public and token != right))  # a correct request is not this test's business
    body = json.dumps({"status": "offline", "text": "您好", "outcome": "resolved", "to": "boss"}).encode()
    status, text, resp = await send(stage.agent.http, "POST", route.url(stage.root, param), body, headers)
    assert_polite(status, text, resp, (route, headers))
    assert status == 403, (route, headers, status, text)
    assert json.loads(text)["code"] == ("csrf" if same else "cross_site"), (headers, text)


@settings(max_examples=examples(25), **FUZZ)
@given(which=st.sampled_from(range(13)))
async def test_websocket_from_elsewhere_is_refused(stage: Stage, which: int) -> None:
    origin = foreign_origins(stage.desk.server.port or 0)[which]
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        async with stage.agent.http.ws_connect(stage.desk.base + "/ws", headers={"Origin": origin}):
            pass
    assert refused.value.status == 403


# -- fuzzed bodies -------------------------------------------------------------------------------

FIELDS = ["text", "to", "status", "outcome", "category", "grade", "login", "password", "type", "conv_id"]
NEAR_VALID = ["online", "away", "offline", "busy", "resolved", "unresolved", "follow_up", "no_reply", "A", "B", "E",
              "年费", "代理机构与投诉", "boss", "agent", "nobody", "您好", " ", ""]
json_junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40) | st.sampled_from(NEAR_VALID),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)
SPECIAL_BODIES = [
    b"", b"null", b"[]", b'"text"', b"1" * 5000, b"NaN", b'{"text": NaN}', b'{"text": Infinity}',
    b'{"text": "\\ud800"}', b'{"text": "a\\udfffb"}', b'{"login": "\\ud800", "password": "x"}',
    b'{"login": "agent", "password": "\\ud83d"}', b'{"status": "\\udc80"}', b'{"to": "\\ud800"}',
    b'{"outcome": "resolved", "category": "\\ud800"}', b'{"text": "a", "text": {"b": 1}}',
    b"\xef\xbb\xbf{\"text\": \"bom\"}", '{"text": "utf-16"}'.encode("utf-16"), '{"text": "utf-32"}'.encode("utf-32"),
    b'{"text": "\xff\xfe"}', b"\xc3\x28", b'{"text": "\\u0000\\u0001\\u000b"}', b"{" * 3, b"[" * 50_000,
    b'{"a":' * 20_000, b'{"text": [' * 10_000, b"<script>alert(1)</script>", b"status=online&text=x",
]


READS_BODY = ("/login", "/presence", "/reply", "/transfer", "/close", "/answer")  # the others ignore it


@dataclass(frozen=True)
class Body:
    raw: bytes
    content_type: str | None = "application/json"

    def __repr__(self) -> str:
        return f"Body({self.raw[:80]!r}{'...' if len(self.raw) > 80 else ''} [{len(self.raw)} bytes], {self.content_type!r})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # what hypothesis prints
        printer.text(repr(self))


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


bodies = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS), json_junk, max_size=5).map(lambda d: Body(_json(d))),
    json_junk.map(lambda v: Body(_json(v))),
    st.tuples(st.sampled_from(FIELDS), st.integers(990, 30_000)).map(lambda kv: Body(_json({kv[0]: "长" * kv[1]}))),
    st.tuples(st.sampled_from(["[", '{"a":', '{"text":[', '{"status":{"x":']), st.integers(1, 60_000)).map(
        lambda pn: Body((pn[0] * pn[1]).encode()[:60_000])),
    st.sampled_from(SPECIAL_BODIES).map(Body),
    st.binary(max_size=300).map(Body),
    st.text(max_size=200).map(lambda t: Body(t.encode("utf-8"))),
    st.tuples(st.sampled_from(SPECIAL_BODIES[:12]), st.sampled_from([
        None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
        "application/json; charset=latin-1", "APPLICATION/JSON", "application/json-patch+json", "text/html"])).map(
        lambda bc: Body(bc[0], bc[1])),
)


@settings(max_examples=examples(250), **FUZZ)
@given(route=st.sampled_from([r for r in POSTS if not r.path.endswith("/logout")]), body=bodies,
       target=st.one_of(st.sampled_from(["held", "waiting", "ticket"]), param_text()))
@example(route=next(r for r in POSTS if r.path.endswith("/reply")), body=Body(b"[" * 50_000), target="held")
@example(route=next(r for r in POSTS if r.path.endswith("/reply")), body=Body(b'{"text": "a\\udfffb"}'), target="held")
@example(route=next(r for r in POSTS if r.path.endswith("/login")),
         body=Body(b'{"login": "\\ud800", "password": "x"}'), target="")
@example(route=next(r for r in POSTS if r.path.endswith("/presence")), body=Body(b'{"status": "\\udc80"}'), target="")
@example(route=next(r for r in POSTS if r.path.endswith("/close")), body=Body(b'{"outcome": []}'), target="held")
@example(route=next(r for r in POSTS if r.path.endswith("/close")),
         body=Body(b'{"outcome": "resolved", "grade": {"A": 1}}'), target="held")
@example(route=next(r for r in POSTS if r.path.endswith("/presence")), body=Body(b'{"status": ["online"]}'), target="")
@example(route=next(r for r in POSTS if r.path.endswith("/answer")), body=Body(_json({"text": "长" * 30_000})),
         target="ticket")
async def test_fuzzed_bodies_get_a_4xx(stage: Stage, route: Route, body: Body, target: str) -> None:
    param = stage.targets.get(target, target)
    headers = {"Origin": stage.desk.origin}
    if body.content_type is not None:
        headers["Content-Type"] = body.content_type
    if route.public:  # logging in: no session, no token
        status, text, resp = await send(stage.anon, "POST", route.url(stage.root, param), body.raw, headers)
    else:
        headers["X-CSRF-Token"] = stage.agent.csrf
        status, text, resp = await send(stage.agent.http, "POST", route.url(stage.root, param), body.raw, headers)
    assert_polite(status, text, resp, (route, body))
    if len(body.raw) > stage.desk.settings.gateway_max_body and route.path.endswith(READS_BODY):
        assert status in (413, 404), (status, text)  # 404: the fuzzed id made the path no route ("." or "..")
    if route.public:
        assert status != 200, text  # no fuzzed body logs anyone in


# -- fuzzed WebSocket frames ---------------------------------------------------------------------

ws_frames = st.one_of(
    st.text(max_size=200),
    json_junk.map(lambda v: json.dumps(v, ensure_ascii=False)),
    st.fixed_dictionaries({"type": st.one_of(st.sampled_from(["transcript", "refresh", "claim", "", "snapshot"]),
                                             st.text(max_size=10))},
                          optional={"conv_id": st.one_of(st.sampled_from(["held", "waiting"]), param_text(),
                                                         json_junk)}).map(lambda d: json.dumps(d, ensure_ascii=False)),
    st.sampled_from(['{"type": "transcript", "conv_id": "\\ud800"}', "[" * 15_000, '{"a":' * 3_000,
                     '{"type": "transcript", "conv_id": "' + "x" * 10_000 + '"}', "null", "NaN", ""]),
    st.binary(max_size=100),
)


@settings(max_examples=examples(40), **FUZZ)
@given(frames=st.lists(ws_frames, min_size=1, max_size=4))
@example(frames=["[" * 15_000])
@example(frames=['{"type": "transcript", "conv_id": "\\ud800"}'])
async def test_fuzzed_websocket_frames(stage: Stage, frames: list[str | bytes]) -> None:
    """Junk on the live feed gets a notice (or nothing); the socket stays open and still
    answers a proper request afterwards."""
    held = stage.targets["held"]
    async with stage.agent.ws() as ws:
        for frame in frames:
            if isinstance(frame, bytes):
                await ws.send_bytes(frame)
            else:
                await ws.send_str(frame.replace('"held"', json.dumps(held)))
        await ws.send_json({"type": "transcript", "conv_id": held})
        deadline = time.monotonic() + 8
        while True:  # every message is a JSON object with a type, until the answer about `held`
            msg = await ws.receive(timeout=max(deadline - time.monotonic(), 0.01))
            assert msg.type == WSMsgType.TEXT, (msg, frames)
            data = json.loads(msg.data)
            assert isinstance(data, dict) and data["type"] in ("snapshot", "notice", "transcript", "transcript_error")
            event(f"ws {data['type']}")
            if data["type"] == "notice":
                assert not STACK_LIKE.search(data["text"])
            if data["type"] == "transcript_error" and data["conv_id"] == held or \
                    data["type"] == "transcript" and data["conversation"]["conv_id"] == held:
                break


# -- fuzzed queries ------------------------------------------------------------------------------

READS = ["/api/canned", "/api/report", "/api/report/chart/{name}.png", "/api/conversations/{conv_id}/transcript",
         "/api/snapshot", "/api/me"]
DATES = ["2025-03-03", "2025-03-04T08:00:00+08:00", "0001-01-01", "9999-12-31", "2025-02-30", "2025-3-3",
         "1970-01-01", "2025-03-03T25:00", "", " "]


@settings(max_examples=examples(80), **FUZZ)
@given(path=st.sampled_from(READS), who=st.sampled_from(["agent", "boss"]),
       query=st.dictionaries(st.sampled_from(["q", "from", "to", "x"]),
                             st.one_of(st.sampled_from(DATES), st.text(max_size=40)), max_size=3),
       name=st.one_of(st.sampled_from(sorted(CHARTS)), param_text()),
       target=st.one_of(st.sampled_from(["held", "waiting", "ticket"]), param_text()))
@example(path="/api/report", who="boss", query={"from": "9999-12-31", "to": "9999-12-31"}, name="", target="")
@example(path="/api/report", who="boss", query={"from": "0001-01-01", "to": "0001-01-01"}, name="", target="")
@example(path="/api/canned", who="agent", query={"q": "年费<script>" * 100}, name="", target="")
async def test_fuzzed_queries_get_a_4xx(stage: Stage, path: str, who: str, query: dict[str, str], name: str,
                                        target: str) -> None:
    if path.endswith(".png") and name in CHARTS:
        query = {**query, "from": "2025-03-03", "to": "2025-03-03"}  # one day: drawing stays quick
    client = stage.agent if who == "agent" else stage.boss
    url = stage.desk.base + path.replace("{name}", quote(name, safe="") or "x").replace(
        "{conv_id}", quote(stage.targets.get(target, target), safe="") or "x")
    async with client.http.get(url, params=query, allow_redirects=False) as resp:
        status, text = resp.status, await resp.text(errors="replace")
        assert_polite(status, text, resp, (path, query))
        if status == 200 and resp.content_type == "application/json":
            json.loads(text)


# -- header bytes that are no UTF-8 --------------------------------------------------------------

async def raw_request(host: str, port: int, method: str, path: bytes, headers: list[tuple[bytes, bytes]],
                      body: bytes = b"") -> tuple[int, bytes]:
    """One request written byte by byte (aiohttp's client only sends valid UTF-8 headers)."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        head = [method.encode() + b" " + path + b" HTTP/1.1", f"Host: {host}:{port}".encode(),
                b"Connection: close", b"Content-Length: " + str(len(body)).encode(),
                *(k + b": " + v for k, v in headers)]
        writer.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return int(data.split(b" ", 2)[1]), data.partition(b"\r\n\r\n")[2]


obs_text = st.binary(min_size=1, max_size=40).map(lambda b: bytes(c if c >= 0x20 and c != 0x7f else 0x80 | c for c in b))


@settings(max_examples=examples(100), **FUZZ)
@given(header=st.sampled_from([b"Cookie", b"Origin", b"X-CSRF-Token", b"Sec-Fetch-Site", b"Content-Type", b"Upgrade",
                                b"Connection", b"Sec-WebSocket-Key", b"Sec-WebSocket-Version"]),
       value=obs_text, route=st.sampled_from([r for r in ROUTES if not r.path.endswith("/logout")]),
       signed_in=st.booleans())
@example(header=b"X-CSRF-Token", value=b"\xff\xfe", route=next(r for r in POSTS if r.path.endswith("/presence")),
         signed_in=True)
@example(header=b"Cookie", value=b"\xff", route=next(r for r in ROUTES if r.path == "/console/api/me"),
         signed_in=False)
@example(header=b"Upgrade", value=b"\x80", route=next(r for r in ROUTES if r.path == "/console/ws"), signed_in=True)
@example(header=b"Sec-WebSocket-Key", value=b"\xe9", route=next(r for r in ROUTES if r.path == "/console/ws"),
         signed_in=True)
@example(header=b"Origin", value=b"http://\xe4\xbd\xa0\xff.example", route=next(r for r in POSTS if r.path.endswith("/login")),
         signed_in=False)
async def test_header_bytes_that_are_no_utf8(stage: Stage, header: bytes, value: bytes, route: Route,
                                             signed_in: bool) -> None:
    headers: list[tuple[bytes, bytes]] = [(b"Content-Type", b"application/json")]
    sid = _sid(stage.agent) if signed_in else ""
    if header == b"Cookie":
        headers.append((b"Cookie", COOKIE.encode() + b"=" + value))
    else:
        if sid:
            headers.append((b"Cookie", f"{COOKIE}={sid}".encode()))
        headers.append((header, value))
    if header != b"Origin":
        headers.append((b"Origin", stage.desk.origin.encode()))
    if header != b"X-CSRF-Token" and signed_in:
        headers.append((b"X-CSRF-Token", stage.agent.csrf.encode()))
    path = route.url("", "x").encode()
    port = stage.desk.server.port or 0
    status, body = await raw_request("127.0.0.1", port, route.method, path, headers,
                                     b'{"status": "online"}' if route.method == "POST" else b"")
    event(f"HTTP {status}")
    text = body.decode("utf-8", "replace")
    assert status < 500, (status, text[:300], header, value)
    if status >= 400:
        assert not STACK_LIKE.search(text), (status, text[:300])


def _sid(client: Client) -> str:
    for cookie in client.http.cookie_jar:
        if cookie.key == COOKIE:
            return cookie.value
    raise AssertionError("the client has no session cookie")


# -- script injection, end to end ----------------------------------------------------------------

def _reply_content(poster: Poster, status: int, body: str) -> str:
    """The passive reply's text, parsed as the platform would (defusedxml, no DTD)."""
    assert status == 200, (status, body)
    if body == "success":
        return ""
    fields = {child.tag: child.text or "" for child in safe_fromstring(body.encode("utf-8"), forbid_dtd=True)}
    assert fields["FromUserName"] == ACCOUNT
    return fields["Content"]


def _texts(value: Any) -> list[str]:
    """Every string inside a JSON value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    return []


async def _json_get(client: Client, path: str) -> tuple[Any, aiohttp.ClientResponse]:
    async with client.http.get(client.desk.base + path, allow_redirects=False) as resp:
        assert resp.status == 200, (path, resp.status)
        assert resp.content_type == "application/json"  # data, never a document a browser would render
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Content-Security-Policy"] == CSP
        return json.loads(await resp.text()), resp


async def test_script_injection_reaches_the_console_only_as_data(stage: Stage) -> None:
    desk, agent, poster = stage.desk, stage.agent, stage.poster
    assert (await agent.post("/api/presence", {"status": "online"}))[0] == 200  # so the user is queued, not offered
    openid = "o_xss_user"
    conv_id = desk.flow.conv_id_for("wechat", openid)
    async with aiohttp.ClientSession() as http:
        # to the bot first: its answer repeats the text, and the reply XML keeps it as text
        for i, payload in enumerate(PAYLOADS):
            safe = i % 2 == 1  # plaintext and AES replies alike
            status, body = await poster.post(http, text_xml(openid, payload), safe=safe)
            content = poster.open_reply(body, safe=True)["Content"] if safe else _reply_content(poster, status, body)
            assert content == ECHO + payload
        # "转人工" with a payload: queued (the summary carries it), then more while waiting
        status, body = await poster.post(http, text_xml(openid, "转人工 " + PAYLOADS[0]))
        assert _reply_content(poster, status, body) not in ("", ECHO + "转人工 " + PAYLOADS[0])
        conv = await desk.flow.queue.get(conv_id)
        assert conv is not None and conv.state == "waiting"
        for payload in PAYLOADS:
            assert (await poster.post(http, text_xml(openid, payload)))[0] == 200
        assert (await agent.post(f"/api/conversations/{conv_id}/claim"))[0] == 200
        # with the agent: the user's words go to the console, the agent's (hostile) answer
        # comes back as the passive reply, escaped in the XML
        paths = []
        for payload in PAYLOADS[:3]:
            pending = asyncio.create_task(poster.post(http, text_xml(openid, payload)))
            await asyncio.sleep(0.3)  # the user's request now waits for the agent (up to ~1.2 s)
            status, sent = await agent.post(f"/api/conversations/{conv_id}/reply", {"text": "客服：" + payload})
            assert status == 200, sent
            got = await pending
            paths.append(sent["path"])
            if sent["path"] == "passive":
                assert _reply_content(poster, *got) == "客服：" + payload
        assert "passive" in paths, paths
    # a left message (ticket) carrying a payload
    other = "o_xss_leaver"
    async with aiohttp.ClientSession() as http:
        for text in ("转人工", "留言", PAYLOADS[1], "1"):  # echoed back, then confirmed
            assert (await poster.post(http, text_xml(other, text)))[0] == 200

    lines, _ = await _json_get(agent, f"/api/conversations/{conv_id}/transcript")
    said = [line["text"] for line in lines["lines"] if line["who"] == "user"]
    for payload in PAYLOADS:
        assert payload in said  # the user's words, byte for byte: data, not markup
        assert ECHO + payload in [line["text"] for line in lines["lines"] if line["who"] == "bot"]
    assert "客服：" + PAYLOADS[0] in [line["text"] for line in lines["lines"] if line["who"] == "agent"]
    board, _ = await _json_get(agent, "/api/snapshot")
    assert any(c["summary"] == "转人工 " + PAYLOADS[0] for c in board["conversations"])
    assert PAYLOADS[1] in [t["message"] for t in board["tickets"]]
    # the live feed: the same strings, as JSON data
    async with agent.ws() as ws:
        await ws.send_json({"type": "transcript", "conv_id": conv_id})
        deadline = time.monotonic() + 8
        while True:
            msg = await ws.receive(timeout=max(deadline - time.monotonic(), 0.01))
            assert msg.type == WSMsgType.TEXT, msg
            data = json.loads(msg.data)
            if data["type"] == "transcript":
                break
        for payload in PAYLOADS:
            assert payload in _texts(data)
    # no page the gateway serves holds any of it, and every page has the strict policy
    await assert_pages_clean(stage, [*PAYLOADS, "alert(1)", "onerror="])


PAGES = ["/console/", "/console/login", "/console/report", "/console/app.js", "/console/report.js",
         "/console/static/login.js", "/console/static/style.css", "/console/static/favicon.svg"]


async def assert_pages_clean(stage: Stage, forbidden: list[str]) -> None:
    for client in (stage.agent, stage.boss):
        for page in PAGES:
            async with client.http.get(stage.root + page, allow_redirects=False) as resp:
                text = await resp.text()
                assert resp.status == 200, (page, resp.status)
                policy = resp.headers["Content-Security-Policy"]
                assert policy == CSP, page
                assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
                assert "default-src 'none'" in policy and "script-src 'self'" in policy
                assert "frame-ancestors 'none'" in policy
                assert resp.headers["X-Content-Type-Options"] == "nosniff" and resp.headers["X-Frame-Options"] == "DENY"
                for needle in forbidden:
                    assert needle not in text, (page, needle)
                if page.endswith(".js"):
                    # user text goes on the page through textContent only
                    assert not re.search(r"\.innerHTML\s*=|outerHTML|insertAdjacentHTML|document\.write|\beval\(",
                                         text), page
                if resp.content_type == "text/html":
                    # no inline script anywhere (the policy would refuse it anyway)
                    assert all("src=" in tag for tag in re.findall(r"<script\b[^>]*>", text)), page


@settings(max_examples=examples(60), **FUZZ)
@given(text=st.text(min_size=1, max_size=300).filter(lambda t: bool(t.strip())))
@example(text="<script>alert(1)</script>")
@example(text="]]></Content><Content>x")
@example(text='{"type": "transcript", "lines": []}')
@example(text="算了")  # leaves the queue
async def test_any_user_text_reaches_the_transcript_unchanged(stage: Stage, text: str) -> None:
    """Whatever a waiting user writes, the console reads that very string back (JSON data)."""
    openid = "o_fuzz_text"
    conv_id = stage.desk.flow.conv_id_for("wechat", openid)
    conv = await stage.desk.flow.queue.get(conv_id)
    if conv is None or conv.state != "waiting":
        await stage.desk.flow.queue.enqueue(conv_id, channel="wechat", user_id=openid, reason="request",
                                            summary="转人工")
    xml_text = "".join(c for c in text if c in "\t\n\r" or " " <= c <= "\ud7ff" or "\ue000" <= c <= "\ufffd"
                       or c >= "\U00010000")
    expected = xml_text.replace("\r\n", "\n").replace("\r", "\n").strip()[:2000]
    async with aiohttp.ClientSession() as http:
        status, body = await stage.poster.post(http, text_xml(openid, text))
    assert status == 200, (status, body)
    if not expected:  # nothing XML can carry: the user is asked to write text
        return
    # read as the supervisor: a text like "算了" leaves the queue, and agents then no longer see it
    lines, _ = await _json_get(stage.boss, f"/api/conversations/{conv_id}/transcript")
    assert [line["text"] for line in lines["lines"] if line["who"] == "user"][-1] == expected


# -- still serving -------------------------------------------------------------------------------

async def test_still_serving_after_the_fuzzing(stage: Stage) -> None:
    status, me = await stage.agent.get("/api/me")
    assert status == 200 and me["login"] == "agent"
    status, board = await stage.boss.get("/api/snapshot")
    assert status == 200 and "agents" in board
    async with aiohttp.ClientSession() as http, stage.desk.client() as fresh:
        assert (await fresh.login("agent", PASSWORD))[0] == 200
        status, body = await stage.poster.post(http, text_xml("o_after_fuzz", "年费怎么交"))
        assert _reply_content(stage.poster, status, body) == ECHO + "年费怎么交"
    assert not stage.tracebacks.seen, [r.getMessage() for r in stage.tracebacks.seen][:5]
