"""The handoff queue against a real Redis: races, order, leases, presence, tickets,
restarts with AOF, Redis down; and the working calendar behind ticket due dates."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis.asyncio as aioredis

from bot.handoff import (
    AgentUnavailable,
    Assignment,
    Conflict,
    Conversation,
    HandoffQueue,
    HandoffUnavailable,
    NotFound,
    Reclaimed,
    SweepReport,
    WorkingCalendar,
    load_calendar,
)
from bot.runtime.local_stack import free_port
from tests.conftest import RedisServer

pytestmark = pytest.mark.asyncio(loop_scope="session")

SH = ZoneInfo("Asia/Shanghai")
CALENDAR = load_calendar()


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> float:
    """A Shanghai wall-clock time as epoch seconds."""
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=SH).timestamp()


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(at(2026, 3, 10, 10, 0))  # a Tuesday, open


@pytest.fixture
async def client(redis_server) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_server.url)
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.close()
    await client.connection_pool.disconnect()


def make_queue(client: aioredis.Redis, clock: FakeClock, **kw) -> HandoffQueue:
    kw.setdefault("lease_seconds", 30)
    kw.setdefault("avg_handle_seconds", 300)
    return HandoffQueue(client, clock=clock, calendar=CALENDAR, **kw)


@pytest.fixture
def queue(client: aioredis.Redis, clock: FakeClock) -> HandoffQueue:
    return make_queue(client, clock)


async def online(q: HandoffQueue, agent_id: str, capacity: int = 2) -> None:
    await q.register_agent(agent_id, capacity=capacity)
    await q.set_presence(agent_id, "online")


async def enqueue(q: HandoffQueue, conv_id: str, reason: str = "request", summary: str = "") -> Conversation:
    got = await q.enqueue(conv_id, channel="wechat", user_id=conv_id.split(":")[-1], reason=reason,
                          summary=summary)
    return got.conversation


async def waiting_ids(q: HandoffQueue) -> list[str]:
    return [w.conversation.conv_id for w in await q.list_waiting()]


# ---- claiming and assigning ------------------------------------------------------------

async def test_two_agents_claiming_at_once_exactly_one_wins(client, clock, redis_server) -> None:
    other = aioredis.Redis.from_url(redis_server.url)  # a second console process
    try:
        q1, q2 = make_queue(client, clock), make_queue(other, clock)
        await online(q1, "alice", capacity=100)
        await online(q1, "bob", capacity=100)
        wins = {"alice": 0, "bob": 0}
        for i in range(50):
            conv_id = f"wechat:user{i}"
            await enqueue(q1, conv_id)
            results = await asyncio.gather(q1.claim(conv_id, "alice"), q2.claim(conv_id, "bob"),
                                           return_exceptions=True)
            winners = [r for r in results if isinstance(r, Conversation)]
            losers = [r for r in results if isinstance(r, Conflict)]
            assert len(winners) == 1 and len(losers) == 1, results
            assert winners[0].state == "assigned"
            assert losers[0].state == "assigned" and losers[0].agent == winners[0].agent
            wins[winners[0].agent or ""] += 1
        held = {a: {c.conv_id for c in await q1.agent_conversations(a)} for a in ("alice", "bob")}
        assert len(held["alice"]) == wins["alice"] and len(held["bob"]) == wins["bob"]
        assert not held["alice"] & held["bob"] and len(held["alice"] | held["bob"]) == 50
        assert await q1.list_waiting() == []
    finally:
        await other.close()
        await other.connection_pool.disconnect()


async def test_claim_rules(queue: HandoffQueue) -> None:
    await enqueue(queue, "wechat:u1")
    await queue.register_agent("off")  # registered, never online
    await online(queue, "alice")
    with pytest.raises(AgentUnavailable):
        await queue.claim("wechat:u1", "off")
    with pytest.raises(NotFound):
        await queue.claim("wechat:u1", "nobody")
    with pytest.raises(NotFound):
        await queue.claim("wechat:missing", "alice")
    first = await queue.claim("wechat:u1", "alice")
    again = await queue.claim("wechat:u1", "alice")  # a double click is harmless
    assert first.agent == again.agent == "alice" and again.state == "assigned"


async def test_round_robin_within_capacity_and_never_to_away_agents(queue: HandoffQueue) -> None:
    await online(queue, "alice", capacity=2)
    await online(queue, "bob", capacity=1)
    await online(queue, "carol", capacity=5)
    await queue.set_presence("carol", "away")
    for i in range(5):
        await enqueue(queue, f"wechat:q{i}")
    assigned = await queue.assign_waiting()
    assert assigned == [Assignment("wechat:q0", "alice"), Assignment("wechat:q1", "bob"),
                        Assignment("wechat:q2", "alice")]
    assert await waiting_ids(queue) == ["wechat:q3", "wechat:q4"]
    assert await queue.assign_next() is None  # alice and bob full, carol away
    await queue.close("wechat:q0", "alice")
    assert await queue.assign_next() == Assignment("wechat:q3", "alice")
    await queue.set_presence("carol", "online")
    assert await queue.assign_next() == Assignment("wechat:q4", "carol")
    loads = {a.agent_id: a.load for a in await queue.list_agents()}
    assert loads == {"alice": 2, "bob": 1, "carol": 1}


async def test_concurrent_assigners_respect_capacity(client, clock, redis_server) -> None:
    clients = [aioredis.Redis.from_url(redis_server.url) for _ in range(4)]
    try:
        queues = [make_queue(c, clock) for c in clients]
        await online(queues[0], "alice", capacity=2)
        await online(queues[0], "bob", capacity=3)
        for i in range(10):
            await enqueue(queues[0], f"wechat:c{i}")
        results = await asyncio.gather(*(queues[i % 4].assign_next() for i in range(20)))
        got = [r for r in results if r is not None]
        assert len(got) == 5 and len({r.conv_id for r in got}) == 5
        assert sorted(r.conv_id for r in got) == [f"wechat:c{i}" for i in range(5)]
        agents = {a.agent_id: a for a in await queues[0].list_agents()}
        assert agents["alice"].load == 2 and agents["bob"].load == 3
        assert await waiting_ids(queues[0]) == [f"wechat:c{i}" for i in range(5, 10)]
    finally:
        for c in clients:
            await c.close()
            await c.connection_pool.disconnect()


# ---- order, position, leaving -------------------------------------------------------------

async def test_complaints_first_then_first_come_first_served(queue: HandoffQueue, clock) -> None:
    for conv_id, reason in [("wechat:r1", "request"), ("wechat:r2", "request"), ("wechat:f1", "fallback"),
                            ("wechat:k1", "complaint"), ("wechat:r3", "request"), ("wechat:k2", "complaint")]:
        await enqueue(queue, conv_id, reason)
        clock.advance(10)
    listed = await queue.list_waiting()
    assert [w.conversation.conv_id for w in listed] == [
        "wechat:k1", "wechat:k2", "wechat:r1", "wechat:r2", "wechat:f1", "wechat:r3"]
    assert [w.position for w in listed] == [1, 2, 3, 4, 5, 6]
    assert [w.waited for w in listed] == [30, 10, 60, 50, 40, 20]
    await online(queue, "alice")
    assert await queue.assign_next() == Assignment("wechat:k1", "alice")
    # a caller may set the priority outright
    await queue.enqueue("wechat:vip", channel="wechat", user_id="vip", priority=0)
    assert (await waiting_ids(queue))[:2] == ["wechat:k2", "wechat:vip"]


async def test_enqueue_is_idempotent(queue: HandoffQueue, clock) -> None:
    first = await queue.enqueue("wechat:u1", channel="wechat", user_id="u1", summary="查询专利申请进度")
    clock.advance(5)
    second = await queue.enqueue("wechat:u1", channel="wechat", user_id="u1", reason="complaint")
    assert first.created and not second.created
    assert second.conversation == first.conversation
    assert first.conversation.summary == "查询专利申请进度"
    await online(queue, "alice")
    await queue.claim("wechat:u1", "alice")
    third = await queue.enqueue("wechat:u1", channel="wechat", user_id="u1")
    assert not third.created and third.conversation.state == "assigned"
    assert await waiting_ids(queue) == []
    await queue.close("wechat:u1", "alice")
    fourth = await queue.enqueue("wechat:u1", channel="wechat", user_id="u1")
    assert fourth.created and fourth.conversation.state == "waiting"
    assert fourth.conversation.enqueued_at == clock.now and fourth.conversation.agent is None
    with pytest.raises(ValueError):
        await queue.enqueue("wechat:u2", channel="wechat", user_id="u2", reason="shouting")


async def test_position_and_wait_estimate(queue: HandoffQueue) -> None:
    await enqueue(queue, "wechat:a")
    await enqueue(queue, "wechat:b")
    await enqueue(queue, "wechat:c")
    place = await queue.position("wechat:c")
    assert place is not None and (place.position, place.ahead, place.online_agents) == (3, 2, 0)
    assert place.estimated_wait is None  # nobody online: offer a message instead
    await online(queue, "alice", capacity=1)
    assert (await queue.position("wechat:a")).estimated_wait == 0  # type: ignore[union-attr]
    assert (await queue.position("wechat:c")).estimated_wait == 600  # type: ignore[union-attr]
    await queue.claim("wechat:a", "alice")
    assert await queue.position("wechat:a") is None
    place = await queue.position("wechat:c")
    assert place is not None and (place.position, place.estimated_wait) == (2, 600)
    await online(queue, "bob", capacity=3)  # three free seats now, four seats in all
    assert (await queue.position("wechat:c")).estimated_wait == 0  # type: ignore[union-attr]
    await queue.leave("wechat:b")
    place = await queue.position("wechat:c")
    assert place is not None and (place.position, place.online_agents) == (1, 2)


async def test_leave_while_waiting_and_while_assigned(queue: HandoffQueue) -> None:
    for name in ("a", "b", "c"):
        await enqueue(queue, f"wechat:{name}")
    left = await queue.leave("wechat:b")
    assert left is not None and left.state == "left" and left.outcome == "user_left"
    assert await waiting_ids(queue) == ["wechat:a", "wechat:c"]
    assert await queue.leave("wechat:b") is None
    assert await queue.leave("wechat:never") is None
    await online(queue, "alice", capacity=1)
    await queue.claim("wechat:a", "alice")
    left = await queue.leave("wechat:a")
    assert left is not None and left.state == "left"
    assert await queue.agent_conversations("alice") == []
    assert await queue.assign_next() == Assignment("wechat:c", "alice")  # her seat is free again
    back = await queue.enqueue("wechat:b", channel="wechat", user_id="b")
    assert back.created and await waiting_ids(queue) == ["wechat:b"]


async def test_timed_out_lists_who_waited_too_long(queue: HandoffQueue, clock) -> None:
    await enqueue(queue, "wechat:old")
    clock.advance(50)
    await enqueue(queue, "wechat:new")
    clock.advance(20)
    assert [w.conversation.conv_id for w in await queue.timed_out(60)] == ["wechat:old"]
    assert len(await queue.timed_out(10)) == 2


# ---- transfer, hand back, close ------------------------------------------------------------

async def test_transfer(queue: HandoffQueue, clock) -> None:
    await online(queue, "alice")
    await online(queue, "bob")
    await queue.register_agent("dave")
    await online(queue, "erin")
    await queue.set_presence("erin", "away")
    await enqueue(queue, "wechat:u1")
    await queue.claim("wechat:u1", "alice")
    clock.advance(25)
    moved = await queue.transfer("wechat:u1", "alice", "bob")
    assert moved.agent == "bob" and moved.transfers == 1 and moved.assigned_at == clock.now
    assert await queue.agent_conversations("alice") == []
    assert [c.conv_id for c in await queue.agent_conversations("bob")] == ["wechat:u1"]
    with pytest.raises(Conflict) as err:
        await queue.transfer("wechat:u1", "alice", "bob")
    assert err.value.agent == "bob"
    with pytest.raises(AgentUnavailable):
        await queue.transfer("wechat:u1", "bob", "dave")  # offline
    with pytest.raises(AgentUnavailable):
        await queue.transfer("wechat:u1", "bob", "erin")  # away
    with pytest.raises(NotFound):
        await queue.transfer("wechat:u1", "bob", "nobody")
    # the transfer started a fresh lease for bob
    clock.advance(20)
    await queue.heartbeat("alice")
    await queue.heartbeat("erin")
    await queue.heartbeat("bob")
    assert (await queue.sweep()).reclaimed == ()


async def test_close_and_hand_back(queue: HandoffQueue, client, clock) -> None:
    await online(queue, "alice", capacity=3)
    await online(queue, "bob")
    for name in ("a", "b"):
        await enqueue(queue, f"wechat:{name}")
        await queue.claim(f"wechat:{name}", "alice")
    with pytest.raises(Conflict):
        await queue.close("wechat:a", "bob")
    clock.advance(60)
    done = await queue.close("wechat:a", "alice", "resolved")
    assert (done.state, done.outcome, done.agent, done.closed_at) == ("closed", "resolved", "alice", clock.now)
    back = await queue.hand_back("wechat:b", "alice")
    assert (back.state, back.outcome) == ("closed", "handed_back")
    assert await queue.agent_conversations("alice") == []
    with pytest.raises(Conflict) as err:
        await queue.close("wechat:a", "alice")
    assert err.value.state == "closed"
    with pytest.raises(NotFound):
        await queue.close("wechat:never", "alice")
    assert 0 < await client.pttl(queue.keys.conv("wechat:a")) <= 7 * 86400 * 1000  # finished: kept a week
    assert await client.zcard(queue.keys.leases) == 0


# ---- nothing stuck: leases and presence -----------------------------------------------------

async def test_expired_lease_returns_conversation_to_its_original_place(queue: HandoffQueue, clock) -> None:
    await online(queue, "alice")
    await online(queue, "bob")
    await enqueue(queue, "wechat:r1")
    clock.advance(1)
    await enqueue(queue, "wechat:k1", "complaint")
    clock.advance(1)
    claimed = await queue.claim("wechat:k1", "alice")  # alice's console then dies
    await enqueue(queue, "wechat:k2", "complaint")
    await enqueue(queue, "wechat:r2")
    clock.advance(20)
    assert await queue.heartbeat("bob") == "online"
    assert (await queue.sweep()).reclaimed == ()  # lease still running
    clock.advance(15)
    report = await queue.sweep()
    assert report.reclaimed[0] == Reclaimed("wechat:k1", "alice", "lease_expired")
    assert report.agents_offline == ("alice",)
    back = await queue.get("wechat:k1")
    assert back is not None and back.state == "waiting" and back.agent is None and back.requeues == 1
    assert back.enqueued_at == claimed.enqueued_at
    # ahead of the complaint queued after it, and of the earlier ordinary request
    assert await waiting_ids(queue) == ["wechat:k1", "wechat:k2", "wechat:r1", "wechat:r2"]
    alice = await queue.get_agent("alice")
    assert alice is not None and alice.status == "offline" and alice.load == 0
    assert await queue.assign_next() == Assignment("wechat:k1", "bob")  # not to the dead console
    assert await queue.heartbeat("alice") == "offline"  # a revived console learns it was dropped


async def test_heartbeats_keep_the_lease(queue: HandoffQueue, clock) -> None:
    await online(queue, "alice")
    await enqueue(queue, "wechat:u1")
    await queue.claim("wechat:u1", "alice")
    for _ in range(5):
        clock.advance(20)
        await queue.heartbeat("alice")
        assert await queue.sweep() == SweepReport()
    assert [c.conv_id for c in await queue.agent_conversations("alice")] == ["wechat:u1"]


async def test_silent_agents_get_no_assignments(queue: HandoffQueue, clock) -> None:
    await online(queue, "alice")
    await enqueue(queue, "wechat:u1")
    clock.advance(31)  # no heartbeat for longer than the presence time
    assert await queue.assign_next() is None
    assert (await queue.position("wechat:u1")).estimated_wait is None  # type: ignore[union-attr]
    await queue.heartbeat("alice")
    assert await queue.assign_next() == Assignment("wechat:u1", "alice")


async def test_going_offline_releases_and_away_keeps(queue: HandoffQueue, clock) -> None:
    await online(queue, "alice", capacity=3)
    for name in ("y1", "y2"):
        await enqueue(queue, f"wechat:{name}")
        await queue.claim(f"wechat:{name}", "alice")
    await enqueue(queue, "wechat:y3")
    await queue.set_presence("alice", "away")
    assert len(await queue.agent_conversations("alice")) == 2  # away keeps them
    assert await queue.assign_next() is None  # ...but gets nothing new
    released = await queue.set_presence("alice", "offline")
    assert released == ["wechat:y1", "wechat:y2"]
    assert await waiting_ids(queue) == ["wechat:y1", "wechat:y2", "wechat:y3"]
    assert await queue.agent_conversations("alice") == []
    with pytest.raises(AgentUnavailable):
        await queue.claim("wechat:y1", "alice")
    await queue.set_presence("alice", "online")
    assert [a.conv_id for a in await queue.assign_waiting()] == ["wechat:y1", "wechat:y2", "wechat:y3"]
    with pytest.raises(NotFound):
        await queue.set_presence("nobody", "offline")
    with pytest.raises(ValueError):
        await queue.set_presence("alice", "busy")


# ---- tickets ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("now", "due"), [
    ((2026, 1, 9, 10, 0), (2026, 1, 13, 10, 0)),    # Friday: over the weekend
    ((2026, 9, 24, 10, 0), (2026, 9, 29, 10, 0)),   # Thursday before the Mid-Autumn holiday
    ((2026, 2, 13, 10, 0), (2026, 2, 24, 10, 0)),   # Saturday 2-14 is worked, then Spring Festival
    ((2026, 1, 9, 18, 0), (2026, 1, 14, 8, 30)),    # after hours: counts from Monday's opening
])
async def test_ticket_due_in_two_working_days(queue: HandoffQueue, clock, now, due) -> None:
    clock.now = at(*now)
    await enqueue(queue, "wechat:u1", summary="年费缴纳")
    ticket = await queue.to_ticket("wechat:u1", "请回电 138xxxx")
    assert ticket.due_at == at(*due)
    assert (ticket.state, ticket.message, ticket.summary, ticket.overdue) == ("open", "请回电 138xxxx", "年费缴纳", False)
    conv = await queue.get("wechat:u1")
    assert conv is not None and conv.state == "ticket" and conv.ticket_id == ticket.ticket_id
    assert await queue.list_waiting() == []


async def test_tickets_overdue_and_answered(queue: HandoffQueue, clock) -> None:
    clock.now = at(2026, 1, 9, 10, 0)
    await enqueue(queue, "wechat:early")
    first = await queue.to_ticket("wechat:early", "first")
    clock.now = at(2026, 1, 12, 10, 0)
    await enqueue(queue, "wechat:late")
    second = await queue.to_ticket("wechat:late", "second")
    assert [t.ticket_id for t in await queue.list_tickets()] == [first.ticket_id, second.ticket_id]
    clock.now = at(2026, 1, 13, 10, 0, 1)
    overdue = {t.ticket_id: t.overdue for t in await queue.list_tickets()}
    assert overdue == {first.ticket_id: True, second.ticket_id: False}
    answered = await queue.answer_ticket(first.ticket_id, "alice", "已为您查询")
    assert (answered.state, answered.answer, answered.answered_by, answered.overdue) == (
        "answered", "已为您查询", "alice", False)
    assert [t.ticket_id for t in await queue.list_tickets()] == [second.ticket_id]
    assert [t.ticket_id for t in await queue.list_tickets("answered")] == [first.ticket_id]
    with pytest.raises(Conflict):
        await queue.answer_ticket(first.ticket_id, "bob", "again")
    with pytest.raises(NotFound):
        await queue.answer_ticket("404", "bob", "?")
    # only waiting conversations become tickets
    await online(queue, "alice")
    await enqueue(queue, "wechat:taken")
    await queue.claim("wechat:taken", "alice")
    with pytest.raises(Conflict):
        await queue.to_ticket("wechat:taken", "x")
    with pytest.raises(NotFound):
        await queue.to_ticket("wechat:never", "x")


# ---- Redis restarts and outages --------------------------------------------------------------

async def test_everything_survives_a_redis_restart_with_aof(tmp_path: Path, clock) -> None:
    server = RedisServer(tmp_path / "aof", appendonly=True)
    server.start()
    before = aioredis.Redis.from_url(server.url)
    after = aioredis.Redis.from_url(server.url)
    try:
        await before.config_set("appendfsync", "always")  # SIGKILL must not lose the last second
        q = make_queue(before, clock)
        await online(q, "alice")
        for name, reason in [("a", "request"), ("b", "complaint"), ("c", "request"), ("d", "request")]:
            await enqueue(q, f"wechat:{name}", reason)
        await q.claim("wechat:b", "alice")
        ticket = await q.to_ticket("wechat:d", "留言")
        waiting_before = await q.list_waiting()

        server.stop()  # SIGKILL
        with pytest.raises(HandoffUnavailable):
            await q.enqueue("wechat:e", channel="wechat", user_id="e")
        server.start()

        q2 = make_queue(after, clock)
        assert await q2.list_waiting() == waiting_before
        assert [c.conv_id for c in await q2.agent_conversations("alice")] == ["wechat:b"]
        assert await q2.get_ticket(ticket.ticket_id) == ticket
        clock.advance(31)  # the lease survived too: the sweeper still finds it
        report = await q2.sweep()
        assert Reclaimed("wechat:b", "alice", "lease_expired") in report.reclaimed
        assert await waiting_ids(q2) == ["wechat:b", "wechat:a", "wechat:c"]
        assert (await q2.enqueue("wechat:e", channel="wechat", user_id="e")).created  # numbering goes on
        assert await waiting_ids(q2) == ["wechat:b", "wechat:a", "wechat:c", "wechat:e"]
    finally:
        for c in (before, after):
            await c.close()
            await c.connection_pool.disconnect()
        server.stop()


async def test_redis_down_raises_handoff_unavailable(clock) -> None:
    dead = aioredis.Redis(host="127.0.0.1", port=free_port())  # nothing listens there
    q = make_queue(dead, clock)
    calls = [
        lambda: q.enqueue("wechat:u", channel="wechat", user_id="u"),
        lambda: q.position("wechat:u"),
        lambda: q.leave("wechat:u"),
        lambda: q.claim("wechat:u", "alice"),
        lambda: q.assign_next(),
        lambda: q.transfer("wechat:u", "alice", "bob"),
        lambda: q.close("wechat:u", "alice"),
        lambda: q.register_agent("alice"),
        lambda: q.set_presence("alice", "offline"),
        lambda: q.heartbeat("alice"),
        lambda: q.list_waiting(),
        lambda: q.sweep(),
        lambda: q.to_ticket("wechat:u", "x"),
        lambda: q.list_tickets(),
        lambda: q.answer_ticket("1", "alice", "x"),
    ]
    try:
        for call in calls:
            with pytest.raises(HandoffUnavailable):
                await call()
    finally:
        await dead.close()
        await dead.connection_pool.disconnect()


# ---- the working calendar --------------------------------------------------------------------

async def test_calendar_is_open() -> None:
    c = CALENDAR
    assert not c.is_open(dt.datetime(2026, 3, 10, 8, 29, tzinfo=SH))
    assert c.is_open(dt.datetime(2026, 3, 10, 8, 30, tzinfo=SH))
    assert c.is_open(dt.datetime(2026, 3, 10, 16, 59, tzinfo=SH))
    assert not c.is_open(dt.datetime(2026, 3, 10, 17, 0, tzinfo=SH))
    assert not c.is_open(dt.datetime(2026, 3, 14, 10, 0, tzinfo=SH))  # Saturday
    assert not c.is_open(dt.datetime(2026, 10, 1, 10, 0, tzinfo=SH))  # National Day, a Thursday
    assert c.is_open(dt.datetime(2026, 1, 4, 10, 0, tzinfo=SH))  # a Sunday worked (调休)
    assert c.is_open(dt.datetime(2026, 3, 10, 10, 0))  # naive: Shanghai time
    assert c.is_open(dt.datetime(2026, 3, 10, 2, 0, tzinfo=dt.UTC))  # 10:00 in Shanghai
    assert not c.is_open(dt.datetime(2026, 3, 10, 10, 0, tzinfo=dt.UTC))  # 18:00 in Shanghai


async def test_calendar_add_working_days() -> None:
    c = CALENDAR
    d = dt.datetime
    assert c.add_working_days(d(2026, 3, 10, 10, 0, tzinfo=SH), 2) == d(2026, 3, 12, 10, 0, tzinfo=SH)
    assert c.add_working_days(d(2026, 9, 18, 10, 0, tzinfo=SH), 1) == d(2026, 9, 20, 10, 0, tzinfo=SH)
    assert c.add_working_days(d(2026, 4, 30, 9, 0, tzinfo=SH), 1) == d(2026, 5, 6, 9, 0, tzinfo=SH)
    assert c.add_working_days(d(2026, 3, 10, 7, 0, tzinfo=SH), 0) == d(2026, 3, 10, 8, 30, tzinfo=SH)
    assert c.add_working_days(d(2026, 3, 14, 12, 0, tzinfo=SH), 0) == d(2026, 3, 16, 8, 30, tzinfo=SH)
    with pytest.raises(ValueError):
        c.add_working_days(d(2026, 3, 10, 10, 0, tzinfo=SH), -1)


async def test_packaged_calendar_follows_the_2026_notice() -> None:
    spring = {dt.date(2026, 2, 15) + dt.timedelta(days=i) for i in range(9)}
    assert spring <= CALENDAR.holidays
    assert len(CALENDAR.holidays) == 3 + 9 + 3 + 5 + 3 + 3 + 7
    assert CALENDAR.workdays == {dt.date(2026, 1, 4), dt.date(2026, 2, 14), dt.date(2026, 2, 28),
                                 dt.date(2026, 5, 9), dt.date(2026, 9, 20), dt.date(2026, 10, 10)}
    assert all(day.weekday() >= 5 for day in CALENDAR.workdays)


async def test_calendar_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "cal.yml"
    path.write_text("timezone: Asia/Shanghai\nopens: 09:00\ncloses: '18:00'\nweekdays: [1, 2, 3, 4, 5, 6]\n"
                    "holidays:\n  - 2030-01-01\n  - {name: x, from: 2030-01-03, to: 2030-01-04, "
                    "workdays: [2030-01-06]}\n", encoding="utf-8")
    c = WorkingCalendar.from_yaml(path)
    assert (c.opens, c.closes) == (dt.time(9), dt.time(18))
    assert c.holidays == {dt.date(2030, 1, 1), dt.date(2030, 1, 3), dt.date(2030, 1, 4)}
    assert c.is_working_day(dt.date(2030, 1, 5))  # Saturday is a weekday here
    assert c.is_working_day(dt.date(2030, 1, 6))  # adjusted Sunday
    assert c.add_working_days(dt.datetime(2030, 1, 2, 12, tzinfo=SH), 1) == dt.datetime(2030, 1, 5, 12, tzinfo=SH)
    with pytest.raises(ValueError):
        WorkingCalendar.from_mapping({"holidays": ["2030-01-06"], "workdays": ["2030-01-06"]})
