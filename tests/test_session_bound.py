"""A long conversation is cut into sessions of MAX_SESSION_TURNS user messages, slots carried
over, so a message costs the same at the 200th as at the 2nd (bot/runtime/session_bound.py)."""

from __future__ import annotations

import uuid
from pathlib import Path

import aiohttp
import pytest

from bot.runtime.session_bound import (
    MAX_SESSION_TURNS,
    session_restart_events,
    user_turns_in_session,
)

HOME = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("keep_event_loop_policy")


def _tracker_with(events):
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    domain = Domain.load(str(HOME / "domain.yml"))
    return DialogueStateTracker.from_events("u1", events, domain.slots), domain


def _turn(text: str):
    from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered

    return [UserUttered(text, {"name": "ask_faq", "confidence": 0.9}), ActionExecuted("action_answer_faq"),
            BotUttered("好的"), ActionExecuted("action_listen")]


def test_a_session_restart_carries_every_slot_and_counts_turns_afresh() -> None:
    from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet, UserUttered

    events = [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]
    for i in range(MAX_SESSION_TURNS):
        events += _turn(f"问题{i}")
    events += [SlotSet("faq_topic", "申请费"), SlotSet("faq_patent_type", "invention")]
    tracker, domain = _tracker_with(events)
    assert user_turns_in_session(tracker) == MAX_SESSION_TURNS

    restart = session_restart_events(tracker)
    assert [type(e).__name__ for e in restart[:2]] == ["ActionExecuted", "SessionStarted"]
    assert restart[-1] == ActionExecuted("action_listen")
    assert {e.key: e.value for e in restart if isinstance(e, SlotSet)} == {"faq_topic": "申请费",
                                                                          "faq_patent_type": "invention"}
    tracker.update_with_events(restart, domain)
    assert user_turns_in_session(tracker) == 0
    assert tracker.get_slot("faq_topic") == "申请费" and tracker.get_slot("faq_patent_type") == "invention"
    # what the policies and the stores work on from now: the new session only
    assert not any(isinstance(e, UserUttered) for e in tracker.applied_events())


async def _say(session: aiohttp.ClientSession, url: str, sender: str, text: str) -> str:
    async with session.post(f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": text}) as resp:
        assert resp.status == 200
        return "".join(m.get("text") or "" for m in await resp.json())


async def test_a_follow_up_across_the_session_boundary_keeps_the_conversation(rasa_url: str,
                                                                            rasa_auth_token: str) -> None:
    """The question fills the session; its follow-up starts a new one and still reads it."""
    sender = f"long-{uuid.uuid4().hex[:8]}"
    async with aiohttp.ClientSession() as session:
        for _ in range(MAX_SESSION_TURNS - 1):
            await _say(session, rasa_url, sender, "你好")
        first = await _say(session, rasa_url, sender, "发明专利申请费多少")
        follow = await _say(session, rasa_url, sender, "那实用新型呢")
        for _ in range(2 * MAX_SESSION_TURNS):
            await _say(session, rasa_url, sender, "谢谢")
        async with session.get(f"{rasa_url}/conversations/{sender}/tracker",
                               params={"token": rasa_auth_token}) as resp:
            events = (await resp.json())["events"]
    assert "900元" in first
    assert "【实用新型】实用新型500元" in follow   # the type swap needed the last question's slots
    starts = [i for i, e in enumerate(events) if e["event"] == "session_started"]
    users_since = sum(e["event"] == "user" for e in events[starts[-1]:])
    assert starts and users_since <= MAX_SESSION_TURNS
