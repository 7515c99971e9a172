"""The console's knowledge pages (issue 15's feedback loop), under /console:

- /knowledge, /knowledge.js                      the page (every agent; supervisors see more)
- GET  /api/knowledge/gaps?from=&to=             the report's knowledge gaps (supervisors)
- GET  /api/knowledge/enquiries/{id}             one gap's conversation from the records (supervisors)
- GET  /api/knowledge/entries[?status=]          drafts: an agent's own, a supervisor's all
- GET  /api/knowledge/entries/{id}               one entry with its history
- POST /api/knowledge/entries                    a new draft (question, answer, source with date)
- POST /api/knowledge/entries/{id}               edit a pending or returned draft
- POST /api/knowledge/entries/{id}/publish       supervisors: serve it (after the check)
- POST /api/knowledge/entries/{id}/return        supervisors: back to its author with a note
- POST /api/knowledge/entries/{id}/withdraw      supervisors: stop serving it, with a note
- GET  /api/knowledge/status                     the published version and what each action server serves

Login, CSRF, Origin and the security headers come from the console's middlewares (app.py);
roles are checked here and again in the store. Everything from the records and the forms
is put on the page with textContent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from bot.console import report
from bot.console.accounts import run_sync
from bot.console.edge import Refused, fail, ok, read_json, text_field
from bot.console.keys import CLOCK
from bot.console.routes import _file, canned_of, engine_of, page, session_of, settings_of
from bot.curation import store
from bot.curation.errors import (
    CheckFailed,
    CurationError,
    EntryNotFound,
    InvalidDraft,
    NotAllowed,
    WrongState,
)
from bot.curation.form import parse_draft
from bot.curation.served import check_strings
from bot.knowledge.service import knowledge_dir
from bot.records.report import compute_report
from bot.records.store import get_enquiry

log = logging.getLogger("patentdesk.console")
routes = web.RouteTableDef()
P = ParamSpec("P")
R = TypeVar("R")
MAX_NOTE = 500
MAX_INT = 2**31  # PostgreSQL's integer: larger ids and revisions are bad input, not a database error
STATUS = {InvalidDraft: 400, NotAllowed: 403, EntryNotFound: 404, WrongState: 409, CheckFailed: 409}
CODES = {InvalidDraft: "invalid", NotAllowed: "not_allowed", EntryNotFound: "not_found", WrongState: "changed",
         CheckFailed: "check_failed"}


async def _do(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """A blocking store call; its typed errors become courteous JSON refusals."""
    try:
        return await run_sync(fn, *args, **kwargs)
    except CheckFailed as exc:
        raise Refused(409, exc.message + "；".join(exc.problems[:5]), "check_failed") from None
    except CurationError as exc:
        raise Refused(STATUS.get(type(exc), 400), exc.message, CODES.get(type(exc), "invalid")) from None
    except SQLAlchemyError as exc:
        log.warning("console: knowledge store unavailable (%s)", exc)
        fail(503, "知识条目暂时无法读取或保存，请稍后再试。给您带来不便，敬请谅解。", "db_unavailable")


def supervisor_only(request: web.Request, what: str = "此操作") -> None:
    if not session_of(request).supervisor:
        fail(403, f"抱歉，{what}仅限主管。如有需要，请与您的主管联系。", "supervisors_only")


def _pk(request: web.Request) -> int:
    raw = request.match_info["entry"]
    if not raw.isdigit() or len(raw) > 9:
        fail(404, "没有找到这条知识条目，请刷新后再试。", "not_found")
    return int(raw)


def _revision(data: dict[str, Any]) -> int:
    value = data.get("revision")
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value < MAX_INT:
        fail(400, "页面内容已过期，请刷新后再试。", "bad_revision")
    return value


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


def entry_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id, "entry_id": store.entry_id(row.id), "status": row.status,
        "status_label": store.STATUS_LABELS.get(row.status, row.status), "category": row.category,
        "question": row.question, "alternatives": list(row.alternatives or []), "answer": row.answer,
        "source_title": row.source_title, "source_article": row.source_article, "source_date": row.source_date,
        "reviewed": row.reviewed, "origin_question": row.origin_question, "origin_enquiry": row.origin_enquiry,
        "author": row.author, "reviewer": row.reviewer, "review_note": row.review_note, "revision": row.revision,
        "created_at": _iso(row.created_at), "updated_at": _iso(row.updated_at),
    }


def history_json(row: Any) -> dict[str, Any]:
    return {"at": _iso(row.at), "actor": row.actor, "action": row.action, "note": row.note,
            "changes": row.changes}


def _visible(request: web.Request, row: Any) -> None:
    session = session_of(request)
    if not session.supervisor and row.author != session.login:
        fail(403, "这条知识条目由其他同事起草，您无权查看。", "not_visible")


async def _categories(request: web.Request) -> list[str]:
    return (await canned_of(request)).categories


# -- pages --------------------------------------------------------------------------------

@routes.get("/knowledge")
@page
async def knowledge_page(request: web.Request) -> web.StreamResponse:
    return _file("knowledge.html")


@routes.get("/knowledge.js")
@page
async def knowledge_script(request: web.Request) -> web.StreamResponse:
    return _file("knowledge.js")


# -- gaps and their conversations (supervisors) ---------------------------------------------

@routes.get("/api/knowledge/gaps")
async def gaps(request: web.Request) -> web.Response:
    supervisor_only(request, "知识缺口")
    try:
        start, end = report.report_period(request.query)
    except report.BadPeriod as exc:
        fail(400, str(exc), "bad_period")
    figures = await _do(compute_report, engine_of(request), start, end, now=request.app[CLOCK](),
                        idle_timeout=settings_of(request).records_idle_timeout, top=50)
    return ok({"period": figures["period"], "gaps": figures["knowledge_gaps"]})


@routes.get("/api/knowledge/enquiries/{enquiry}")
async def enquiry(request: web.Request) -> web.Response:
    supervisor_only(request, "查看咨询记录")
    raw = request.match_info["enquiry"]
    found = await _do(get_enquiry, engine_of(request), int(raw)) if raw.isdigit() and len(raw) <= 9 else None
    if found is None:
        fail(404, "没有找到这段咨询记录，可能已被清理。", "not_found")
    lines = [{"at": _iso(m["at"]), "who": m["who"], "text": m["text"], "decision": m.get("decision"),
              "entry_id": m.get("entry_id"), "agent": m.get("agent")} for m in found["messages"]]
    return ok({"id": found["id"], "channel": found["channel"], "started_at": _iso(found["started_at"]),
               "resolved_by": found.get("resolved_by"), "lines": lines})


# -- entries -------------------------------------------------------------------------------

@routes.get("/api/knowledge/entries")
async def list_entries(request: web.Request) -> web.Response:
    session = session_of(request)
    status = request.query.get("status") or None
    if status is not None and status not in store.STATUS_LABELS:
        fail(400, "没有这种条目状态。", "bad_status")
    rows = await _do(store.list_entries, engine_of(request), status=status,
                     author=None if session.supervisor else session.login)
    return ok({"entries": [entry_json(r) for r in rows], "categories": await _categories(request),
               "role": session.role, "login": session.login})


@routes.get("/api/knowledge/entries/{entry}")
async def get_entry(request: web.Request) -> web.Response:
    pk = _pk(request)
    row = await _do(store.get, engine_of(request), pk)
    _visible(request, row)
    rows = await _do(store.history, engine_of(request), pk)
    return ok({"entry": entry_json(row), "history": [history_json(h) for h in rows]})


@routes.post("/api/knowledge/entries")
async def create_entry(request: web.Request) -> web.Response:
    data = await read_json(request)
    try:
        draft = parse_draft(data, await _categories(request))
    except InvalidDraft as exc:
        fail(400, exc.message, "invalid")
    origin = data.get("origin_question")
    origin = origin.strip()[:500] if isinstance(origin, str) and origin.strip() else None
    enquiry_id = data.get("origin_enquiry")
    if not isinstance(enquiry_id, int) or isinstance(enquiry_id, bool) or not 1 <= enquiry_id < MAX_INT:
        enquiry_id = None  # only a hint of where the draft came from
    pk = await _do(store.create, engine_of(request), draft, session_of(request).login,
                   origin_question=origin, origin_enquiry=enquiry_id)
    log.info("console: %s drafted knowledge entry %s", session_of(request).login, store.entry_id(pk))
    return ok({"entry": entry_json(await _do(store.get, engine_of(request), pk))}, status=201)


@routes.post("/api/knowledge/entries/{entry}")
async def edit_entry(request: web.Request) -> web.Response:
    pk = _pk(request)
    data = await read_json(request)
    try:
        draft = parse_draft(data, await _categories(request))
    except InvalidDraft as exc:
        fail(400, exc.message, "invalid")
    session = session_of(request)
    await _do(store.edit, engine_of(request), pk, draft, session.login, session.supervisor, _revision(data))
    return ok({"entry": entry_json(await _do(store.get, engine_of(request), pk))})


@routes.post("/api/knowledge/entries/{entry}/publish")
async def publish(request: web.Request) -> web.Response:
    supervisor_only(request, "发布知识条目")
    pk = _pk(request)
    data = await read_json(request)
    session = session_of(request)
    check = check_strings(knowledge_dir(settings_of(request)))
    version = await _do(store.publish, engine_of(request), pk, session.login, True, _revision(data), check)
    log.info("console: %s published %s (version %d)", session.login, store.entry_id(pk), version)
    return ok({"entry": entry_json(await _do(store.get, engine_of(request), pk)), "version": version})


@routes.post("/api/knowledge/entries/{entry}/return")
async def send_back(request: web.Request) -> web.Response:
    supervisor_only(request, "退回知识条目")
    pk = _pk(request)
    data = await read_json(request)
    note = text_field(data, "note", limit=MAX_NOTE, message=f"请填写退回说明（不超过 {MAX_NOTE} 字），告诉起草人需要修改什么。")
    session = session_of(request)
    await _do(store.send_back, engine_of(request), pk, session.login, True, _revision(data), note)
    return ok({"entry": entry_json(await _do(store.get, engine_of(request), pk))})


@routes.post("/api/knowledge/entries/{entry}/withdraw")
async def withdraw(request: web.Request) -> web.Response:
    supervisor_only(request, "撤回知识条目")
    pk = _pk(request)
    data = await read_json(request)
    note = text_field(data, "note", limit=MAX_NOTE, message=f"请填写撤回原因（不超过 {MAX_NOTE} 字）。")
    session = session_of(request)
    version = await _do(store.withdraw, engine_of(request), pk, session.login, True, _revision(data), note)
    log.info("console: %s withdrew %s (version %d)", session.login, store.entry_id(pk), version)
    return ok({"entry": entry_json(await _do(store.get, engine_of(request), pk)), "version": version})


@routes.get("/api/knowledge/status")
async def status(request: web.Request) -> web.Response:
    supervisor_only(request, "知识库状态")
    engine = engine_of(request)
    version = await _do(store.version, engine)
    servers = await _do(store.servers, engine)
    counts = await _do(store.counts, engine)
    return ok({"version": version, "counts": counts, "servers": [
        {"server": s.server, "state": s.state, "version": s.version, "wanted": s.wanted, "entries": s.entries,
         "message": s.message, "seconds": s.seconds, "updated_at": _iso(s.updated_at),
         "current": s.version == version and s.state != "failed"} for s in servers]})

