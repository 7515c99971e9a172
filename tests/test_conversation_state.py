"""The conversation state (one hash per user) against a real Redis: the queue's scripts set
who holds it, the gateway's changes never override the queue, pending questions time out,
and a message reads it in one round trip."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from bot.gateway.state import (
    PENDING_SECONDS,
    Change,
    ConvState,
    StateStore,
    answered_change,
    pending_dropped,
    rating_asked_change,
)
from bot.handoff import HandoffQueue, load_calendar

pytestmark = pytest.mark.asyncio(loop_scope="session")

NOW = 1_773_108_000.0  # 2026-03-10 10:00 Shanghai, a working Tuesday


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def client(redis_server) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_server.url)
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.close()
    await client.connection_pool.disconnect()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def queue(client: aioredis.Redis, clock: Clock) -> HandoffQueue:
    return HandoffQueue(client, clock=clock, calendar=load_calendar(), lease_seconds=30)


async def holder(store: StateStore, conv_id: str, clock: Clock) -> str:
    return (await store.read(conv_id, clock())).holder


async def test_the_queue_scripts_set_who_holds_the_conversation(client, queue, clock) -> None:
    store = StateStore(client, queue.keys)
    assert await holder(store, "web-u1", clock) == "bot"  # nothing stored: the bot
    await queue.enqueue("web-u1", channel="web", user_id="u1")
    state = await store.read("web-u1", clock())
    assert state.holder == "queue" and state.since == NOW and state.conversation is not None
    assert await queue.offer_message("web-u1", "asked")
    assert await holder(store, "web-u1", clock) == "offer"
    await queue.register_agent("a1", capacity=1)
    await queue.set_presence("a1", "online")
    clock.now += 5
    await queue.claim("web-u1", "a1")
    state = await store.read("web-u1", clock())
    assert state.holder == "agent" and state.since == NOW + 5
    assert state.conversation is not None and state.conversation.offer is None  # the offer ended with the wait
    await queue.close("web-u1", "a1", "resolved", rating_seconds=PENDING_SECONDS)
    state = await store.read("web-u1", clock())
    assert state.holder == "rating" and state.rating is not None and state.rating.after == "agent"
    assert state.rating.conv_id == "web-u1"
    clock.now += PENDING_SECONDS + 1
    assert await holder(store, "web-u1", clock) == "bot"  # the rating request timed out


async def test_leaving_and_tickets_give_the_bot_the_conversation_back(client, queue, clock) -> None:
    store = StateStore(client, queue.keys)
    await queue.enqueue("web-u2", channel="web", user_id="u2")
    await queue.leave("web-u2")
    assert await holder(store, "web-u2", clock) == "bot"
    await queue.enqueue("web-u3", channel="web", user_id="u3")
    await queue.offer_message("web-u3")
    await queue.remember_notice("web-u3", 1, clock())
    await queue.to_ticket("web-u3", "请回电")
    fields = {k.decode(): v.decode() for k, v in (await client.hgetall(queue.keys.conv("web-u3"))).items()}
    assert fields["holder"] == "bot" and "offer" not in fields and "notice_pos" not in fields
    assert await queue.offer_message("web-u3") is False  # no longer waiting


async def test_gateway_changes_never_override_the_queue(client, queue, clock) -> None:
    store = StateStore(client, queue.keys)
    await queue.enqueue("web-u4", channel="web", user_id="u4")
    assert await store.write("web-u4", answered_change("e1", "年费", clock()), clock()) is False
    assert await holder(store, "web-u4", clock) == "queue"


async def test_pending_questions_and_their_expiry(client, queue, clock) -> None:
    store = StateStore(client, queue.keys)
    assert await store.write("web-u5", answered_change("fee-1", "年费什么时候交", clock()), clock())
    state = await store.read("web-u5", clock())
    assert state.holder == "feedback" and state.answered and state.answer is not None
    assert state.answer.entry_id == "fee-1"
    assert 0 < await client.pttl(queue.keys.conv("web-u5")) <= PENDING_SECONDS * 1000
    # "有用" answered: the question closes, the answer still awaits a rating on thanks
    assert await store.write("web-u5", pending_dropped(state), clock())
    state = await store.read("web-u5", clock())
    assert state.holder == "bot" and state.answered and state.answer is None
    assert await store.write("web-u5", rating_asked_change(clock()), clock())
    state = await store.read("web-u5", clock())
    assert state.holder == "rating" and not state.answered and state.rating is not None
    assert state.rating.after == "bot"
    clock.now += PENDING_SECONDS + 1
    assert await holder(store, "web-u5", clock) == "bot"


async def test_a_rating_passed_over_leaves_the_feedback_question() -> None:
    fields = {"holder": "rating", "rating_after": "bot", "rating_until": str(int((NOW + 60) * 1000)),
              "answer": '{"entry_id": "e", "question": "q"}', "answer_until": str(int((NOW + 60) * 1000))}
    state = ConvState.from_fields("c", fields, NOW)
    assert state.holder == "rating"
    after = state.after_pending()
    assert after.holder == "feedback" and after.rating is None
    merged = pending_dropped(state).then(pending_dropped(after))
    assert merged.holder == "bot" and set(merged.drop) == {"rating_after", "rating_conv", "rating_until", "answer"}


async def test_changes_merge_later_wins() -> None:
    first = Change("bot", {"a": "1", "b": "2"}, ("c",))
    later = Change("feedback", {"c": "3"}, ("a",))
    assert first.then(later) == Change("feedback", {"b": "2", "c": "3"}, ("a",))
    assert first.then(None) is first


async def test_one_round_trip_to_read(client, queue, clock) -> None:
    store = StateStore(client, queue.keys)
    await queue.enqueue("web-u6", channel="web", user_id="u6")
    before = (await client.info("commandstats")).get("cmdstat_hgetall", {}).get("calls", 0)
    await store.read("web-u6", clock())
    after = (await client.info("commandstats")).get("cmdstat_hgetall", {}).get("calls", 0)
    assert after - before == 1
