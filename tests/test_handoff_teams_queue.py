"""Per-team queues against a real Redis: each team's waiting set and round-robin among its
members, an agent in two teams, a conversation reclaimed (lease expiry, agent offline) back
to its own team's queue, a transfer between teams at its original place, ticket due times
by the team's hours, and a teams file that is wrong."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from bot.handoff import Conflict, HandoffQueue, TeamsError, load_teams
from tests.test_handoff_queue import CALENDAR, FakeClock, at, online

pytestmark = pytest.mark.asyncio(loop_scope="session")

TEAMS_YAML = """
default: business
teams:
  business:
    name: 业务咨询
    members: [b1, duo]
  tech:
    name: 技术支持
    members: [t1, duo]
    ticket_working_days: 3
    hours:
      opens: "09:00"
      closes: "12:00"
"""


@pytest.fixture
def teams_path(tmp_path: Path) -> Path:
    path = tmp_path / "teams.yml"
    path.write_text(TEAMS_YAML, encoding="utf-8")
    return path


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(at(2026, 3, 10, 10, 0))  # a Tuesday


@pytest.fixture
async def queue(redis_server, teams_path: Path, clock: FakeClock):
    client = aioredis.Redis.from_url(redis_server.url)
    await client.flushdb()
    yield HandoffQueue(client, clock=clock, calendar=CALENDAR, lease_seconds=30,
                       teams=load_teams(teams_path, CALENDAR))
    await client.flushdb()
    await client.close()
    await client.connection_pool.disconnect()


async def ask(q: HandoffQueue, conv_id: str, team: str | None = None, reason: str = "request") -> None:
    await q.enqueue(conv_id, channel="wechat", user_id=conv_id, reason=reason, team=team)


async def ids(q: HandoffQueue, team: str) -> list[str]:
    return [w.conversation.conv_id for w in await q.list_waiting(team)]


async def test_each_team_has_its_queue_and_its_members(queue: HandoffQueue) -> None:
    await ask(queue, "c-biz")
    await ask(queue, "c-tech", team="tech", reason="technical")
    await ask(queue, "c-biz2", team="business")
    assert await ids(queue, "business") == ["c-biz", "c-biz2"] and await ids(queue, "tech") == ["c-tech"]
    assert (await queue.position("c-tech")).position == 1  # type: ignore[union-attr]
    assert (await queue.position("c-biz2")).position == 2  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="unknown team"):
        await ask(queue, "c-x", team="nosuch")
    # only business members: t1 gets nothing from the business queue
    await online(queue, "t1", capacity=5)
    assert [a.agent for a in await queue.assign_waiting()] == ["t1"]
    assert (await queue.get("c-tech")).agent == "t1"  # type: ignore[union-attr]
    assert await ids(queue, "business") == ["c-biz", "c-biz2"]
    # an agent of both teams serves either
    await online(queue, "duo", capacity=5)
    assert {(a.conv_id, a.agent) for a in await queue.assign_waiting()} == {("c-biz", "duo"), ("c-biz2", "duo")}


async def test_reclaimed_work_returns_to_its_own_team(queue: HandoffQueue, clock: FakeClock) -> None:
    await ask(queue, "c-first-tech", team="tech")
    await ask(queue, "c-tech", team="tech")
    await online(queue, "duo", capacity=0)
    await queue.claim("c-tech", "duo")
    clock.advance(31)  # the lease runs out without a heartbeat
    await queue.register_agent("duo", capacity=0)
    report = await queue.sweep()
    assert [r.conv_id for r in report.reclaimed] == ["c-tech"]
    assert await ids(queue, "tech") == ["c-first-tech", "c-tech"] and await ids(queue, "business") == []
    await queue.set_presence("duo", "online")
    await queue.claim("c-first-tech", "duo")
    assert await queue.set_presence("duo", "offline") == ["c-first-tech"]
    assert await ids(queue, "tech") == ["c-first-tech", "c-tech"]


async def test_transfer_between_teams_keeps_the_place_and_the_note(queue: HandoffQueue) -> None:
    await ask(queue, "c-early")
    await ask(queue, "c-late", team="tech")
    await online(queue, "b1", capacity=0)
    await queue.claim("c-early", "b1")
    with pytest.raises(Conflict):
        await queue.transfer_team("c-early", "t1", "tech", "not mine")
    moved = await queue.transfer_team("c-early", "b1", "tech", "系统报错，请技术支持处理")
    assert (moved.state, moved.team, moved.agent, moved.transfers) == ("waiting", "tech", None, 1)
    assert await ids(queue, "tech") == ["c-early", "c-late"]  # its first arrival comes first
    assert (await queue.get_agent("b1")).load == 0  # type: ignore[union-attr]
    raw = await queue.redis.hmget(queue.keys.conv("c-early"), ["transfer_note", "previous_team", "holder"])
    assert [v.decode() for v in raw] == ["系统报错，请技术支持处理", "business", "queue"]
    with pytest.raises(ValueError):
        await queue.transfer_team("c-early", "b1", "nosuch", "x")


async def test_tickets_are_due_by_the_teams_hours_and_move_between_teams(queue: HandoffQueue) -> None:
    await ask(queue, "c-biz")
    await ask(queue, "c-tech", team="tech")
    biz = await queue.to_ticket("c-biz", "请回电", '[{"who": "user", "text": "转人工"}]')
    tech = await queue.to_ticket("c-tech", "证书登录失败")
    local = CALENDAR.local
    # business: two working days at 17:00 close; tech: three working days, its own hours
    assert local(dt.datetime.fromtimestamp(biz.due_at, dt.UTC)).date() == dt.date(2026, 3, 12)
    assert local(dt.datetime.fromtimestamp(tech.due_at, dt.UTC)).date() == dt.date(2026, 3, 13)
    assert biz.context == ({"who": "user", "text": "转人工"},) and biz.team == "business"
    assert [t.ticket_id for t in await queue.list_tickets(teams=["tech"])] == [tech.ticket_id]
    moved = await queue.transfer_ticket(biz.ticket_id, "tech", '{"from": "business", "to": "tech", "note": "n"}')
    assert moved.team == "tech" and moved.notes == ({"from": "business", "to": "tech", "note": "n"},)
    assert moved.due_at == biz.due_at
    assert {t.ticket_id for t in await queue.list_tickets(teams=["tech"])} == {biz.ticket_id, tech.ticket_id}
    assert await queue.list_tickets(teams=["business"]) == []
    await queue.answer_ticket(tech.ticket_id, "t1", "已处理", "resolved")
    with pytest.raises(Conflict):
        await queue.transfer_ticket(tech.ticket_id, "business", "{}")


async def test_a_wrong_teams_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    for text, message in (("teams: []", "non-empty 'teams'"), ("teams:\n  Tech Team: {}\n", "lower-case"),
                          ("default: nope\nteams:\n  a: {}\n", "default team"),
                          ("teams:\n  a:\n    ticket_working_days: 0\n", "ticket_working_days"),
                          ("teams:\n  a:\n    members: b1\n", "list of account names"),
                          ("teams: [unclosed\n", "not valid YAML")):
        bad.write_text(text, encoding="utf-8")
        with pytest.raises(TeamsError, match=message):
            load_teams(bad, CALENDAR)
    assert load_teams(None, CALENDAR).default == "business"  # the bundled file


async def test_a_removed_teams_work_goes_to_the_default_team(queue: HandoffQueue, clock: FakeClock,
                                                             tmp_path: Path) -> None:
    """A team taken out of the teams file counts as the default team: its left messages are
    the default team's, and its waiting users join the default queue at the places they had."""
    await ask(queue, "c-early")
    await ask(queue, "c-tech", team="tech", reason="technical")
    await ask(queue, "c-held", team="tech", reason="technical")
    await ask(queue, "c-late")
    await ask(queue, "c-left", team="tech", reason="technical")
    ticket = await queue.to_ticket("c-left", "证书登录失败")
    await online(queue, "duo", capacity=0)
    await queue.claim("c-held", "duo")

    only_business = tmp_path / "business.yml"
    only_business.write_text("default: business\nteams:\n  business:\n    name: 业务咨询\n    members: [b1, duo]\n",
                             encoding="utf-8")
    after = HandoffQueue(queue.redis, clock=clock, calendar=CALENDAR, lease_seconds=30,
                         teams=load_teams(only_business, CALENDAR))
    assert [t.ticket_id for t in await after.list_tickets(teams=["business"])] == [ticket.ticket_id]
    assert await ids(after, "business") == ["c-early", "c-late"]  # not yet adopted
    assert await after.adopt_orphans() == ["c-tech"]
    assert await ids(after, "business") == ["c-early", "c-tech", "c-late"]
    assert await after.redis.exists(after.keys.team_waiting("tech")) == 0
    raw = await after.redis.hmget(after.keys.conv("c-tech"), ["team", "queue", "previous_team", "state"])
    assert [v.decode() for v in raw] == ["business", after.keys.waiting, "tech", "waiting"]
    assert (await after.position("c-tech")).position == 2  # type: ignore[union-attr]

    # held by an agent when the team went: its lease runs out, it goes back to the removed
    # team's set, and the next adoption brings it to its place in the default queue
    clock.advance(31)
    assert [r.conv_id for r in (await after.sweep()).reclaimed] == ["c-held"]
    assert await after.adopt_orphans() == ["c-held"]
    assert await ids(after, "business") == ["c-early", "c-tech", "c-held", "c-late"]
    assert await after.adopt_orphans() == []

    await online(after, "b1", capacity=0)
    claimed = await after.claim("c-tech", "b1")
    assert (claimed.state, claimed.agent, claimed.team) == ("assigned", "b1", "business")
    assert await ids(after, "business") == ["c-early", "c-held", "c-late"]
