"""The console's knowledge entries in the records database: drafts, review, publication,
withdrawal, and the history of every change.

Every step is one transaction that also writes its kb_history row, so no change goes
unrecorded. Steps name the revision the actor saw: an entry changed meanwhile (someone
else published or returned it) is refused rather than overwritten. Publication and
withdrawal bump kb_state's version in the same transaction; action servers poll it
(bot/curation/watcher.py), which works with any number of them sharing the database.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection, Engine

from bot.curation.errors import CheckFailed, EntryNotFound, NotAllowed, WrongState
from bot.curation.form import Draft
from bot.knowledge.entries import Entry, Source
from bot.records.schema import kb_entries, kb_history, kb_servers, kb_state

ID_PREFIX = "console-"
STATE_KEY = "published"
EDITABLE = ("pending", "returned")
STATUS_LABELS = {"pending": "待审核", "returned": "已退回", "published": "已发布", "withdrawn": "已撤回"}
FILE_LABEL = "记录库"  # where check problems about a console entry point to


def entry_id(pk: int) -> str:
    """The knowledge id of a console entry; never reused, never one of knowledge/'s."""
    return f"{ID_PREFIX}{pk}"


def _now() -> datetime:
    return datetime.now(UTC)


def to_entry(row: Any) -> Entry:
    """The served form of a row, as knowledge/*.yml would hold it."""
    return Entry(
        id=entry_id(row.id), category=row.category, question=row.question,
        alternatives=tuple(row.alternatives or ()), answer=row.answer,
        source=Source(row.source_title, row.source_article or "", row.source_date),
        reviewed=row.reviewed or "", file=FILE_LABEL,
    )


def _draft_entry(pk: int, draft: Draft, reviewed: str) -> Entry:
    return Entry(id=entry_id(pk), category=draft.category, question=draft.question,
                 alternatives=draft.alternatives, answer=draft.answer,
                 source=Source(draft.source_title, draft.source_article, draft.source_date),
                 reviewed=reviewed, file=FILE_LABEL)


def _log(conn: Connection, pk: int, actor: str, action: str, changes: dict[str, Any], note: str | None,
         at: datetime) -> None:
    conn.execute(insert(kb_history).values(entry=pk, at=at, actor=actor, action=action, note=note,
                                           changes=changes))


def _bump(conn: Connection, at: datetime) -> int:
    conn.execute(update(kb_state).where(kb_state.c.key == STATE_KEY)
                 .values(version=kb_state.c.version + 1, updated_at=at))
    return int(conn.execute(select(kb_state.c.version).where(kb_state.c.key == STATE_KEY)).scalar_one())


def _row(conn: Connection, pk: int) -> Any:
    row = conn.execute(select(kb_entries).where(kb_entries.c.id == pk)).first()
    if row is None:
        raise EntryNotFound("没有找到这条知识条目，可能已被删除，请刷新后再试。")
    return row


def _changed(conn: Connection, pk: int, revision: int, allowed: Sequence[str], values: dict[str, Any]) -> None:
    """Apply `values` if the entry is still at `revision` and in an allowed state."""
    result = conn.execute(update(kb_entries)
                          .where(kb_entries.c.id == pk, kb_entries.c.revision == revision,
                                 kb_entries.c.status.in_(allowed))
                          .values(revision=kb_entries.c.revision + 1, **values))
    if result.rowcount != 1:
        raise WrongState("这条知识条目已被其他同事修改或处理，页面已为您刷新，请查看最新内容。")


def create(engine: Engine, draft: Draft, author: str, origin_question: str | None = None,
           origin_enquiry: int | None = None, now: datetime | None = None) -> int:
    """A new draft, waiting for a supervisor's review; returns its database id."""
    at = now or _now()
    with engine.begin() as conn:
        pk = int(conn.execute(insert(kb_entries).values(
            status="pending", author=author, revision=1, created_at=at, updated_at=at,
            origin_question=origin_question, origin_enquiry=origin_enquiry, **draft.fields(),
        )).inserted_primary_key[0])
        _log(conn, pk, author, "create", {k: [None, v] for k, v in draft.fields().items()}, None, at)
    return pk


def edit(engine: Engine, pk: int, draft: Draft, actor: str, supervisor: bool, revision: int,
         now: datetime | None = None) -> None:
    """Change a draft that is pending or was returned; it goes back to review."""
    at = now or _now()
    with engine.begin() as conn:
        row = _row(conn, pk)
        if row.author != actor and not supervisor:
            raise NotAllowed("只能修改您自己起草的条目。")
        if row.status not in EDITABLE:
            raise WrongState("已发布或已撤回的条目不能修改；如需更正，请撤回后重新起草。")
        new = draft.fields()
        changes = {k: [getattr(row, k), v] for k, v in new.items() if getattr(row, k) != v}
        if row.status == "returned":
            changes["status"] = ["returned", "pending"]
        _changed(conn, pk, revision, EDITABLE, {**new, "status": "pending", "updated_at": at})
        _log(conn, pk, actor, "edit", changes, None, at)


def publish(engine: Engine, pk: int, actor: str, supervisor: bool, revision: int,
            check: Callable[[list[Entry]], list[str]], now: datetime | None = None) -> int:
    """Publish a pending entry if the whole knowledge (files and published entries with
    this one) still passes the check; returns the new published version."""
    if not supervisor:
        raise NotAllowed("只有主管可以发布知识条目。")
    at = now or _now()
    reviewed = at.astimezone(dt.timezone(dt.timedelta(hours=8))).date().isoformat()
    with engine.begin() as conn:
        row = _row(conn, pk)
        if row.status != "pending":
            raise WrongState("只有待审核的条目可以发布，请刷新后查看最新状态。")
        others = [to_entry(r) for r in conn.execute(
            select(kb_entries).where(kb_entries.c.status == "published", kb_entries.c.id != pk)
            .order_by(kb_entries.c.id))]
        this = dataclasses.replace(to_entry(row), reviewed=reviewed)
        problems = check([*others, this])
        if problems:
            raise CheckFailed("该条目未通过知识库检查，暂不能发布。请退回起草人修改：", problems)
        _changed(conn, pk, revision, ("pending",),
                 {"status": "published", "reviewer": actor, "reviewed": reviewed, "review_note": None,
                  "updated_at": at})
        _log(conn, pk, actor, "publish", {"status": ["pending", "published"], "reviewed": [row.reviewed, reviewed]},
             None, at)
        return _bump(conn, at)


def send_back(engine: Engine, pk: int, actor: str, supervisor: bool, revision: int, note: str,
              now: datetime | None = None) -> None:
    """Return a pending entry to its author with a note saying what to change."""
    if not supervisor:
        raise NotAllowed("只有主管可以退回知识条目。")
    _close_review(engine, pk, actor, revision, note, ("pending", "returned", "return"), now)


def withdraw(engine: Engine, pk: int, actor: str, supervisor: bool, revision: int, note: str,
             now: datetime | None = None) -> int:
    """Stop serving a published entry; returns the new published version."""
    if not supervisor:
        raise NotAllowed("只有主管可以撤回已发布的条目。")
    return _close_review(engine, pk, actor, revision, note, ("published", "withdrawn", "withdraw"), now,
                         bump=True)


def _close_review(engine: Engine, pk: int, actor: str, revision: int, note: str, step: tuple[str, str, str],
                  now: datetime | None, bump: bool = False) -> int:
    """A supervisor's step with a note (return, withdraw): status change and history in one
    transaction; `bump` raises the published version (what is served changes)."""
    before, after, action = step
    at = now or _now()
    with engine.begin() as conn:
        _row(conn, pk)
        _changed(conn, pk, revision, (before,),
                 {"status": after, "reviewer": actor, "review_note": note, "updated_at": at})
        _log(conn, pk, actor, action, {"status": [before, after]}, note, at)
        return _bump(conn, at) if bump else 0


# -- reading -------------------------------------------------------------------------------

def get(engine: Engine, pk: int) -> Any:
    with engine.connect() as conn:
        return _row(conn, pk)


def list_entries(engine: Engine, status: str | None = None, author: str | None = None,
                 limit: int = 200) -> list[Any]:
    query = select(kb_entries).order_by(kb_entries.c.updated_at.desc(), kb_entries.c.id.desc()).limit(limit)
    if status:
        query = query.where(kb_entries.c.status == status)
    if author:
        query = query.where(kb_entries.c.author == author)
    with engine.connect() as conn:
        return list(conn.execute(query))


def history(engine: Engine, pk: int) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(kb_history).where(kb_history.c.entry == pk)
                                 .order_by(kb_history.c.at, kb_history.c.id)))


def version(engine: Engine) -> int:
    with engine.connect() as conn:
        found = conn.execute(select(kb_state.c.version).where(kb_state.c.key == STATE_KEY)).scalar()
    return int(found or 0)


def published(engine: Engine) -> tuple[int, list[Entry]]:
    """The published version and its entries, read consistently (retried if a publish
    lands between the two reads)."""
    for _ in range(5):
        with engine.connect() as conn:
            before = conn.execute(select(kb_state.c.version).where(kb_state.c.key == STATE_KEY)).scalar() or 0
            rows = conn.execute(select(kb_entries).where(kb_entries.c.status == "published")
                                .order_by(kb_entries.c.id)).all()
            after = conn.execute(select(kb_state.c.version).where(kb_state.c.key == STATE_KEY)).scalar() or 0
        if before == after:
            return int(after), [to_entry(r) for r in rows]
    raise WrongState("知识库正在频繁更新，请稍后再试。")


# -- what the action servers serve ----------------------------------------------------------

@dataclass(frozen=True)
class ServerState:
    server: str
    state: str      # serving | building | failed
    version: int    # the published version served
    wanted: int     # the version last tried
    entries: int
    message: str | None
    seconds: float | None
    updated_at: datetime


def report_server(engine: Engine, status: ServerState) -> None:
    values = {k: v for k, v in status.__dict__.items() if k != "server"}
    with engine.begin() as conn:
        done = conn.execute(update(kb_servers).where(kb_servers.c.server == status.server).values(**values))
        if done.rowcount == 0:
            conn.execute(insert(kb_servers).values(server=status.server, **values))


def servers(engine: Engine) -> list[ServerState]:
    with engine.connect() as conn:
        rows = conn.execute(select(kb_servers).order_by(kb_servers.c.server)).all()
    return [ServerState(**r._mapping) for r in rows]


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(select(kb_entries.c.status, func.count()).group_by(kb_entries.c.status)).all()
    return {str(s): int(n) for s, n in rows}
