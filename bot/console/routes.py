"""The console's HTTP surface (all under /console, mounted by the gateway).

- /console/login (GET page, POST JSON), /console/static/{login.js,style.css,favicon.svg}
                the only things reachable without a session
- /console/, /console/app.js, /console/logout
- /console/api/me, /console/api/snapshot, /console/api/canned?q=
- /console/api/presence, /console/api/conversations/{conv_id}/{transcript,claim,reply,
  transfer,transfer-team,hand-back,close}, /console/api/tickets/{ticket_id}/{answer,transfer}
- /console/ws   the live feed (snapshots, transcripts)
- /console/report, /console/report.js, /console/api/report?from=&to=,
  /console/api/report/chart/{name}.png?from=&to=   the service report, supervisors only

Every state change is a POST with a JSON body, the session's X-CSRF-Token header and a
same-origin Origin (checked in the middleware, see app.py). Actions go through the
HandoffFlow, which tells the user, pauses or resumes Rasa and publishes the event that
refreshes every console.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import redis.asyncio as aioredis
from aiohttp import WSMsgType, web
from redis.exceptions import RedisError
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.config import Settings
from bot.console import accounts, report, snapshot
from bot.console.accounts import Account, run_sync
from bot.console.canned import CannedReplies
from bot.console.edge import NOT_FOUND, UNAVAILABLE, Refused, fail, ok, read_json, text_field
from bot.console.keys import CANNED, CLOCK, HUB
from bot.console.live import ConsoleSocket, writer
from bot.console.passwords import DUMMY_HASH, hash_password, needs_rehash, verify_password
from bot.console.ratelimit import LoginLimiter
from bot.console.sessions import COOKIE, COOKIE_PATH, Session, SessionStore
from bot.gateway.appkeys import ENGINE, FLOW, REDIS, SETTINGS
from bot.gateway.handoff_flow import EVENTS_CHANNEL, HandoffFlow
from bot.handoff import AgentUnavailable, Conflict, Conversation, HandoffError, NotFound, Ticket
from bot.handoff.models import PRESENCES
from bot.handoff.teams import Teams
from bot.records.charts import CHARTS
from bot.records.report import compute_report

log = logging.getLogger("patentdesk.console")

STATIC_DIR = Path(__file__).resolve().parent / "static"
PUBLIC_FILES = {"login.js", "style.css", "favicon.svg"}
MAX_REPLY = 1000
MAX_TICKET_ANSWER = 1000
MAX_NOTE = 500
HANDSHAKE_HEADERS = ("Upgrade", "Connection", "Sec-WebSocket-Version", "Sec-WebSocket-Key")
SESSION = "console_session"  # request key of the current Session (set by the middleware)
ACCOUNT = "console_account"

routes = web.RouteTableDef()
H = TypeVar("H", bound=Callable[..., Awaitable[web.StreamResponse]])


def public(handler: H) -> H:
    """Reachable without a session (the middleware looks for this mark)."""
    handler.__console_public__ = True  # type: ignore[attr-defined]
    return handler


def page(handler: H) -> H:
    """A page a browser navigates to: without a session it is sent to the login page
    (API calls get 401 instead)."""
    handler.__console_page__ = True  # type: ignore[attr-defined]
    return handler


# -- what handlers share -----------------------------------------------------------------

def settings_of(request: web.Request) -> Settings:
    return request.config_dict[SETTINGS]


def redis_of(request: web.Request) -> aioredis.Redis:
    return request.config_dict[REDIS]


def engine_of(request: web.Request) -> Engine:
    return request.config_dict[ENGINE]


def flow_of(request: web.Request) -> HandoffFlow:
    flow = request.config_dict.get(FLOW)
    if flow is None:
        fail(503, "人工服务尚未启用，请联系管理员。", "no_flow")
    return flow


def sessions_of(request: web.Request) -> SessionStore:
    return SessionStore(redis_of(request), settings_of(request).console_session_ttl)


def session_of(request: web.Request) -> Session:
    session: Session = request[SESSION]
    return session


def account_of(request: web.Request) -> Account:
    account: Account = request[ACCOUNT]
    return account


def client_address(request: web.Request) -> str:
    return request.remote or "unknown"


async def publish(request: web.Request, kind: str, **fields: Any) -> None:
    """Tell every console (in every gateway process) that something changed."""
    request.app[HUB].poke_all(fields.get("conv_id"))
    with contextlib.suppress(RedisError, OSError):  # this process's consoles know already
        await redis_of(request).publish(EVENTS_CHANNEL, json.dumps({"type": kind, **fields}))


async def canned_of(request: web.Request) -> CannedReplies:
    try:
        return await request.app[CANNED].get(engine=engine_of(request))
    except TimeoutError:
        fail(503, "知识库正在加载，请稍候再试。", "canned_loading")
    except Exception:
        log.exception("console: knowledge base could not be loaded")
        fail(503, "知识库暂时无法使用，请稍后再试。", "canned_unavailable")


async def conversation(request: web.Request) -> Conversation:
    conv = await flow_of(request).queue.get(request.match_info["conv_id"])
    if conv is None:
        fail(404, NOT_FOUND, "not_found")
    return conv


def held_by_me(request: web.Request, conv: Conversation) -> None:
    """Agents act only on the conversations they hold (supervisors too, except transfer)."""
    if conv.state != "assigned" or conv.agent != session_of(request).login:
        fail(403, "这段会话不在您的接待列表中，无法进行此操作。", "not_yours")


async def come_online(flow: HandoffFlow, account: Account, status: str = "online") -> None:
    await flow.queue.register_agent(account.login, name=account.name, capacity=account.capacity)
    await flow.queue.set_presence(account.login, status)


# -- pages -------------------------------------------------------------------------------

def _file(name: str) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / name, headers={"Cache-Control": "no-cache"})


@routes.get("/")
@page
async def index(request: web.Request) -> web.StreamResponse:
    return _file("console.html")


@routes.get("/app.js")
@page
async def console_script(request: web.Request) -> web.StreamResponse:
    return _file("console.js")


@routes.get("/login", name="login_page")
@public
@page
async def login_page(request: web.Request) -> web.StreamResponse:
    return _file("login.html")


@routes.get("/static/{name}")
@public
async def static_file(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in PUBLIC_FILES:
        raise web.HTTPNotFound(text="没有这个文件。")
    return _file(name)


# -- logging in and out ------------------------------------------------------------------

@routes.post("/login")
@public
async def login(request: web.Request) -> web.Response:
    settings = settings_of(request)
    data = await read_json(request)
    name = data.get("login")
    password = data.get("password")
    if not isinstance(name, str) or not isinstance(password, str) or not name.strip() or not password:
        fail(400, "请输入账号和密码。", "missing")
    name = name.strip().lower()[:64]
    address = client_address(request)
    limiter = LoginLimiter(redis_of(request), settings.console_login_attempts)
    verdict = await limiter.check(name, address)
    if not verdict.allowed:
        minutes = max((verdict.retry_after + 59) // 60, 1)
        raise Refused(429, f"登录尝试次数过多，为保护账号安全，请约 {minutes} 分钟后再试。", "rate_limited",
                      headers={"Retry-After": str(verdict.retry_after)})
    engine = engine_of(request)
    account = await run_sync(accounts.get_account, engine, name) if accounts.LOGIN_RE.match(name) else None
    usable = len(password) <= accounts.MAX_PASSWORD
    # an unknown login costs the same scrypt work as a wrong password
    matches = await run_sync(verify_password, password if usable else "",
                             account.password_hash if account else DUMMY_HASH)
    if account is None or not matches or not usable:
        await limiter.failed(name, address)
        log.info("console: failed login for %r from %s", name, address)
        fail(401, "账号或密码不正确，请重新输入。", "bad_credentials")
    if account.disabled:
        log.info("console: disabled account %s tried to log in from %s", name, address)
        fail(403, "该账号已停用，如有疑问请联系主管。", "disabled")
    await limiter.succeeded(name, address)
    if needs_rehash(account.password_hash):
        await run_sync(accounts.set_password, engine, account.login, await run_sync(hash_password, password))
    store = sessions_of(request)
    old = request.cookies.get(COOKIE)
    if old and (previous := await store.get(old, touch=False)) is not None:
        await store.delete(previous)  # a new login always gets a new id (no fixation)
    await come_online(flow_of(request), account)
    session = await store.create(account.login, account.role)
    await publish(request, "agent", agent=account.login)
    log.info("console: %s logged in from %s", account.login, address)
    response = ok({"login": account.login, "name": account.name, "role": account.role, "csrf": session.csrf})
    response.set_cookie(COOKIE, session.sid, path=COOKIE_PATH, httponly=True, samesite="Strict",
                        secure=settings.console_secure_cookie or None)
    return response


@routes.post("/logout")
async def logout(request: web.Request) -> web.Response:
    session = session_of(request)
    await sessions_of(request).delete(session)
    with contextlib.suppress(HandoffError, RedisError, OSError):  # leaving works even if the queue is unwell
        await flow_of(request).queue.set_presence(session.login, "offline")
        await publish(request, "agent", agent=session.login)
    log.info("console: %s logged out", session.login)
    response = ok()
    response.del_cookie(COOKIE, path=COOKIE_PATH)
    return response


# -- reading -----------------------------------------------------------------------------

@routes.get("/api/me")
async def me(request: web.Request) -> web.Response:
    session = session_of(request)
    account = account_of(request)
    try:
        categories = (await request.app[CANNED].get()).categories
    except Exception:  # the page must open even without canned replies
        log.exception("console: knowledge base not available for the category list")
        categories = []
    return ok({
        "login": session.login, "name": account.name, "role": session.role, "csrf": session.csrf,
        "outcomes": [{"value": k, "label": v} for k, v in snapshot.OUTCOMES.items()],
        "grades": [{"value": k, "label": v} for k, v in snapshot.GRADES.items()],
        "categories": categories,
        "presences": [{"value": p, "label": snapshot.PRESENCE_LABELS[p]} for p in PRESENCES],
        "resolutions": [{"value": k, "label": v} for k, v in snapshot.RESOLUTIONS.items()],
    })


@routes.get("/api/snapshot")
async def get_snapshot(request: web.Request) -> web.Response:
    return ok(await snapshot.build(flow_of(request), session_of(request)))


async def _transcript(flow: HandoffFlow, session: Session, conv_id: str) -> dict[str, Any]:
    conv = await flow.queue.get(conv_id)
    if conv is None:
        fail(404, NOT_FOUND, "not_found")
    if not snapshot.can_view(session, conv, flow.queue.teams):
        fail(403, "这段会话由其他客服接待，您无权查看。", "not_visible")
    names = {a.agent_id: a.name for a in await flow.queue.list_agents()}
    lines = await flow.transcript(conv_id)
    return {"type": "transcript", "conversation": snapshot.conversation_json(conv, names, flow.queue.teams),
            "lines": [snapshot.line_json(line, names) for line in lines]}


@routes.get("/api/conversations/{conv_id}/transcript")
async def transcript(request: web.Request) -> web.Response:
    return ok(await _transcript(flow_of(request), session_of(request), request.match_info["conv_id"]))


@routes.get("/api/canned")
async def canned(request: web.Request) -> web.Response:
    kb = await canned_of(request)
    found = kb.search(request.query.get("q", ""), limit=6)
    return ok({"results": [{"id": c.id, "category": c.category, "question": c.question, "text": c.text,
                            "score": c.score} for c in found]})


# -- acting ------------------------------------------------------------------------------

@routes.post("/api/presence")
async def presence(request: web.Request) -> web.Response:
    data = await read_json(request)
    status = data.get("status")
    if status not in PRESENCES:
        fail(400, "请选择在线、离开或离线。", "bad_status")
    flow = flow_of(request)
    login = session_of(request).login
    try:
        released = await flow.queue.set_presence(login, status)
    except NotFound:  # the queue forgot the agent (Redis flushed): register again
        await come_online(flow, account_of(request), status)
        released = []
    await publish(request, "agent", agent=login)
    return ok({"status": status, "released": released})


def teams_of(request: web.Request) -> Teams:
    return flow_of(request).queue.teams


def in_my_teams(request: web.Request, team: str, what: str) -> None:
    """Agents work on their teams' queues and left messages; supervisors on every team's
    (the same rule as for seeing them: an empty or unknown team is the default one)."""
    teams = teams_of(request)
    if not snapshot.in_my_teams(session_of(request), team, teams):
        fail(403, f"这{what}属于“{teams.name(team)}”团队，您不在该团队，无法处理。如需协助，请联系该团队或主管。",
             "other_team")


def team_and_note(data: dict[str, Any], request: web.Request) -> tuple[str, str]:
    """The target team (one of the configured ones) and the note that travels with it."""
    teams = teams_of(request)
    team = data.get("team")
    if not isinstance(team, str) or not teams.known(team):
        fail(400, "请选择要转交的团队。", "bad_team")
    note = text_field(data, "note", limit=MAX_NOTE, message=f"请填写转交说明（不超过 {MAX_NOTE} 字），方便接手的同事了解情况。")
    return team, note


@routes.post("/api/conversations/{conv_id}/claim")
async def claim(request: web.Request) -> web.Response:
    conv_id = request.match_info["conv_id"]
    login = session_of(request).login
    waiting = await flow_of(request).queue.get(conv_id)
    if waiting is not None and waiting.state == "waiting":
        in_my_teams(request, waiting.team, "段会话")
    try:
        conv = await flow_of(request).claim(conv_id, login)
    except Conflict as exc:
        if exc.agent == login:
            fail(409, "您已经接入了这段会话。", "already_yours")
        fail(409, "这位用户已由其他同事接入，无需重复接入。请从队列中选择其他会话。", "taken")
    except AgentUnavailable:
        fail(409, "您当前不是“在线”状态，请先将状态切换为在线再接入会话。", "not_online")
    request.app[HUB].poke_all(conv_id)
    return ok({"conversation": snapshot.conversation_json(conv, {}, teams_of(request))})


@routes.post("/api/conversations/{conv_id}/reply")
async def reply(request: web.Request) -> web.Response:
    data = await read_json(request)
    text = text_field(data, "text", limit=MAX_REPLY, message=f"回复内容不能为空，且不超过 {MAX_REPLY} 字。")
    conv = await conversation(request)
    held_by_me(request, conv)
    try:
        path = await flow_of(request).reply(conv.conv_id, session_of(request).login, text)
    except Conflict:
        fail(409, "这段会话已不在您的接待列表中（可能已转接或结束），回复未发送。", "not_held")
    request.app[HUB].poke_all(conv.conv_id)
    return ok({"path": path})


@routes.post("/api/conversations/{conv_id}/transfer")
async def transfer(request: web.Request) -> web.Response:
    data = await read_json(request)
    target = text_field(data, "to", limit=40, message="请选择要转接的同事。")
    conv = await conversation(request)
    session = session_of(request)
    if conv.state != "assigned" or conv.agent is None:
        fail(409, "这段会话当前无人接待，无法转接。", "not_assigned")
    if not session.supervisor:
        held_by_me(request, conv)
    if target == conv.agent:
        fail(400, "这段会话已由这位同事接待。", "same_agent")
    try:
        moved = await flow_of(request).transfer(conv.conv_id, conv.agent, target)
    except AgentUnavailable:
        fail(409, "对方当前不在线或暂时离开，无法转接，请选择其他同事。", "target_unavailable")
    except NotFound:
        fail(404, "没有找到这位同事，请刷新后重新选择。", "no_agent")
    except Conflict:
        fail(409, "这段会话的状态已经变化，转接未完成，请刷新后再试。", "changed")
    request.app[HUB].poke_all(conv.conv_id)
    return ok({"conversation": snapshot.conversation_json(moved, {}, teams_of(request))})


@routes.post("/api/conversations/{conv_id}/transfer-team")
async def transfer_team(request: web.Request) -> web.Response:
    """To another team's queue with a note (the agent holding it, or a supervisor)."""
    data = await read_json(request)
    team, note = team_and_note(data, request)
    conv = await conversation(request)
    session = session_of(request)
    if conv.state != "assigned" or conv.agent is None:
        fail(409, "这段会话当前无人接待，无法转交。", "not_assigned")
    if not session.supervisor:
        held_by_me(request, conv)
    flow = flow_of(request)
    if flow.queue.teams.get(conv.team).team_id == team:
        fail(400, "这段会话已在该团队，如需转给同事，请使用“转接”。", "same_team")
    try:
        moved = await flow.transfer_team(conv.conv_id, conv.agent, team, note)
    except Conflict:
        fail(409, "这段会话的状态已经变化，转交未完成，请刷新后再试。", "changed")
    request.app[HUB].poke_all(conv.conv_id)
    return ok({"conversation": snapshot.conversation_json(moved, {}, flow.queue.teams)})


@routes.post("/api/conversations/{conv_id}/hand-back")
async def hand_back(request: web.Request) -> web.Response:
    conv = await conversation(request)
    held_by_me(request, conv)
    try:
        done = await flow_of(request).hand_back(conv.conv_id, session_of(request).login)
    except Conflict:
        fail(409, "这段会话的状态已经变化，操作未完成，请刷新后再试。", "changed")
    request.app[HUB].poke_all(conv.conv_id)
    return ok({"conversation": snapshot.conversation_json(done, {}, teams_of(request))})


@routes.post("/api/conversations/{conv_id}/close")
async def close(request: web.Request) -> web.Response:
    data = await read_json(request)
    # strings first: a list or an object is unhashable, and `in` on a dict would raise
    outcome = data.get("outcome")
    if not isinstance(outcome, str) or outcome not in snapshot.OUTCOMES:
        fail(400, "请选择处理结果。", "bad_outcome")
    category = data.get("category") or None
    if category is not None and (not isinstance(category, str)
                                 or category not in (await canned_of(request)).categories):
        fail(400, "请从列表中选择业务类别。", "bad_category")
    grade = data.get("grade") or None
    if grade is not None and (not isinstance(grade, str) or grade not in snapshot.GRADES):
        fail(400, "投诉等级只能是 A、B、C、D 之一。", "bad_grade")
    conv = await conversation(request)
    held_by_me(request, conv)
    try:
        done = await flow_of(request).close(conv.conv_id, session_of(request).login, outcome=outcome,
                                            category=category, grade=grade)
    except Conflict:
        fail(409, "这段会话的状态已经变化，操作未完成，请刷新后再试。", "changed")
    request.app[HUB].poke_all(conv.conv_id)
    return ok({"conversation": snapshot.conversation_json(done, {}, teams_of(request))})


async def open_ticket(request: web.Request) -> Ticket:
    """The ticket of the URL, open and of one of the viewer's teams."""
    ticket = await flow_of(request).queue.get_ticket(request.match_info["ticket_id"])
    if ticket is None:
        fail(404, "没有找到这条留言，请刷新后再试。", "not_found")
    if ticket.state != "open":
        fail(409, "这条留言已由其他同事答复，无需重复处理。", "answered")
    in_my_teams(request, ticket.team, "条留言")
    return ticket


@routes.post("/api/tickets/{ticket_id}/answer")
async def answer_ticket(request: web.Request) -> web.Response:
    """Answer a left message through the user's channel and close it with a resolution."""
    data = await read_json(request)
    text = text_field(data, "text", limit=MAX_TICKET_ANSWER,
                      message=f"答复内容不能为空，且不超过 {MAX_TICKET_ANSWER} 字。")
    resolution = data.get("resolution") or "resolved"
    if not isinstance(resolution, str) or resolution not in snapshot.RESOLUTIONS:
        fail(400, "请选择留言的处理结果。", "bad_resolution")
    ticket = await open_ticket(request)
    try:
        ticket = await flow_of(request).answer_ticket(ticket.ticket_id, session_of(request).login, text, resolution)
    except Conflict:
        fail(409, "这条留言已由其他同事答复，无需重复处理。", "answered")
    request.app[HUB].poke_all()
    return ok({"ticket": snapshot.ticket_json(ticket, teams_of(request))})


@routes.post("/api/tickets/{ticket_id}/transfer")
async def transfer_ticket(request: web.Request) -> web.Response:
    """A left message to another team, with a note kept on it and in the transcript."""
    data = await read_json(request)
    team, note = team_and_note(data, request)
    ticket = await open_ticket(request)
    flow = flow_of(request)
    if flow.queue.teams.get(ticket.team).team_id == team:
        fail(400, "这条留言已在该团队。", "same_team")
    try:
        moved = await flow.transfer_ticket(ticket.ticket_id, session_of(request).login, team, note)
    except Conflict:
        fail(409, "这条留言已由其他同事答复，无需转交。", "answered")
    request.app[HUB].poke_all()
    return ok({"ticket": snapshot.ticket_json(moved, flow.queue.teams)})


# -- the service report (supervisors only) -----------------------------------------------

@routes.get("/report")
@page
async def report_page(request: web.Request) -> web.StreamResponse:
    return _file("report.html")  # agents may open it: its API calls tell them why it stays empty


@routes.get("/report.js")
@page
async def report_script(request: web.Request) -> web.StreamResponse:
    return _file("report.js")


def supervisor_only(request: web.Request) -> None:
    if not session_of(request).supervisor:
        fail(403, "抱歉，服务报表仅供主管查看。如需了解相关数据，请与您的主管联系。", "supervisors_only")


async def _report(request: web.Request) -> dict[str, Any]:
    """The figures for the query's period: `patentdesk report`'s dict, as it is."""
    try:
        start, end = report.report_period(request.query)
    except report.BadPeriod as exc:
        fail(400, str(exc), "bad_period")
    try:
        teams = teams_of(request)
        return await run_sync(compute_report, engine_of(request), start, end, now=request.app[CLOCK](),
                              idle_timeout=settings_of(request).records_idle_timeout, default_team=teams.default,
                              team_names={t.team_id: t.name for t in teams})
    except SQLAlchemyError as exc:
        log.warning("console: report for %s failed: database unavailable (%s)", session_of(request).login, exc)
        fail(503, "报表数据暂时无法读取，请稍后再试。给您带来不便，敬请谅解。", "report_unavailable")


@routes.get("/api/report")
async def get_report(request: web.Request) -> web.Response:
    supervisor_only(request)
    return ok(await _report(request))


@routes.get("/api/report/chart/{name}.png")
async def report_chart(request: web.Request) -> web.Response:
    supervisor_only(request)
    name = request.match_info["name"]
    if name not in CHARTS:
        fail(404, "没有这张图表。", "no_chart")
    png = await run_sync(report.chart_png, await _report(request), name)
    return web.Response(body=png, content_type="image/png", headers={"Cache-Control": "no-store"})


# -- the live feed -----------------------------------------------------------------------

@routes.get("/ws")
async def live(request: web.Request) -> web.StreamResponse:
    session = session_of(request)
    flow = flow_of(request)
    settings = settings_of(request)
    store = sessions_of(request)
    engine = engine_of(request)
    hub = request.app[HUB]
    # aiohttp 3.9 quotes these headers in its own handshake refusals and fails (a 500) on
    # bytes that are no UTF-8 there; no browser sends such bytes, so refuse them first
    if not all(request.headers.get(name, "").isascii() for name in HANDSHAKE_HEADERS):
        fail(400, "实时连接的请求无法识别，请刷新页面后再试。", "bad_handshake")
    ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=16 * 1024)
    await ws.prepare(request)
    sock = ConsoleSocket(session, ws)

    async def tick(s: ConsoleSocket) -> bool:
        """The heartbeat: the session and account still valid, presence and leases renewed."""
        try:
            if await store.get(session.sid) is None:
                return False
            account = await run_sync(accounts.get_account, engine, session.login)
            if account is None or account.disabled:
                await store.revoke_login(session.login)
                return False
            try:
                await flow.queue.heartbeat(session.login)
            except NotFound:
                await come_online(flow, account)
        except Exception as exc:  # Redis or the database unwell: say so, keep the socket
            log.warning("console: heartbeat for %s failed (%s)", session.login, exc)
            await s.send({"type": "notice", "level": "error", "text": UNAVAILABLE})
        return True

    async def send_transcript(s: ConsoleSocket) -> None:
        if s.watching is None:
            return
        try:
            await s.send(await _transcript(flow, session, s.watching))
        except Refused as exc:  # e.g. the conversation moved to another agent
            await s.send({"type": "transcript_error", "conv_id": s.watching, "error": exc.message})
            s.watching = None

    async def push(s: ConsoleSocket) -> None:
        touched, s.touched = s.touched, set()
        try:
            await s.send(await snapshot.build(flow, session))
            if s.watching and (s.watching in touched or not touched):
                await send_transcript(s)
        except Exception as exc:
            log.warning("console: snapshot for %s failed (%s)", session.login, exc)
            await s.send({"type": "notice", "level": "error", "text": UNAVAILABLE})

    hub.add(sock)
    task = asyncio.create_task(writer(sock, max(settings.handoff_lease / 3, 1.0), tick, push))
    log.info("console: live feed opened for %s", session.login)
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            try:
                data = json.loads(msg.data)
            except (ValueError, RecursionError):  # "[[[[..." fits in a frame and recurses
                data = None
            if not isinstance(data, dict):
                await sock.send({"type": "notice", "level": "error", "text": "消息格式无法识别。"})
                continue
            if data.get("type") == "transcript" and isinstance(data.get("conv_id"), str):
                sock.watching = data["conv_id"][:200]
                try:
                    await send_transcript(sock)
                except Exception as exc:
                    log.warning("console: transcript for %s failed (%s)", session.login, exc)
                    await sock.send({"type": "notice", "level": "error", "text": UNAVAILABLE})
            elif data.get("type") == "refresh":
                sock.poke()
    finally:
        hub.remove(sock)
        if sock.closing:  # the writer ends the session: let its close frame (4401) go out
            await asyncio.wait([task], timeout=2)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        log.info("console: live feed closed for %s", session.login)
    return ws
