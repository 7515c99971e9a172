"""Actions as rasa-sdk tests them: a hand-built Tracker and a CollectingDispatcher."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import numpy as np
import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from threadpoolctl import threadpool_info

from actions import knowledge_holder
from actions.fallback import ActionFallback
from actions.faq import ActionChooseOption, ActionHandleAffirm, ActionHandleDeny, ActionSmalltalk
from actions.handoff import ActionHandoff
from bot.config import Settings


def tracker(events: list[dict[str, Any]], slots: dict[str, Any] | None = None, intent: str = "nlu_fallback",
            text: str = "嗯嗯啊啊") -> Tracker:
    latest = {"text": text, "intent": {"name": intent, "confidence": 0.3}}
    return Tracker("u1", slots or {}, latest, events + [{"event": "user", "text": text}], False, None, {}, "action_listen")


def said(dispatcher: CollectingDispatcher) -> list[dict[str, Any]]:
    return [m["custom"]["patentdesk"] for m in dispatcher.messages if m.get("custom")]


@pytest.fixture(autouse=True)
def served_index(index):
    """The actions search the session's index (the fallback asks the knowledge first)."""
    knowledge_holder.serve(index)


async def test_searches_run_with_one_thread_where_they_serve() -> None:
    """OpenMP's thread count is per calling thread: the search thread must set its own."""
    pools = await knowledge_holder.run(lambda index: (index.search("年费怎么交"), threadpool_info())[1])
    counted = [p for p in pools if p["user_api"] in ("openmp", "blas")]
    assert counted, "the encoder's OpenMP and BLAS are loaded"
    assert all(p["num_threads"] == 1 for p in counted), counted


async def test_searches_encode_side_by_side_and_give_what_one_at_a_time_gives(index) -> None:
    """Issue 17: with one search thread the action server used one core of two. The native
    encoder is re-entrant, so searches run on a thread per core; what they encode at once is
    what they encode one by one."""
    if Settings.from_env().retrieval_threads < 2:
        pytest.skip("one usable core: searches run one at a time")
    barrier = threading.Barrier(2, timeout=30)

    def meet(_index) -> str:
        barrier.wait()  # returns only when two searches are running at the same moment
        return threading.current_thread().name

    names = await asyncio.gather(knowledge_holder.run(meet), knowledge_holder.run(meet))
    assert len(set(names)) == 2
    texts = [f"{kind}专利第{year}年的年费是多少" for kind in ("发明", "实用新型", "外观设计") for year in range(1, 9)]
    together = await asyncio.gather(*(knowledge_holder.run(lambda i, t=t: i.encoder.encode([t])[0]) for t in texts))
    for text, vector in zip(texts, together, strict=True):
        np.testing.assert_allclose(vector, index.encoder.encode([text])[0], atol=1e-6)


async def test_first_fallback_asks_to_rephrase() -> None:
    d = CollectingDispatcher()
    events = await ActionFallback().run(d, tracker([{"event": "action", "name": "utter_greet"}]), {})
    assert said(d) == [{"decision": "fallback", "entry_id": None, "confidence": None, "candidates": [], "stage": 1}]
    assert "换个说法" in d.messages[0]["text"]
    assert events == [SlotSet("pending_offer", None)]


@pytest.mark.parametrize(("action", "intent", "text", "response"), [
    (ActionFallback(), "nlu_fallback", "88", "utter_goodbye"),
    (ActionFallback(), "nlu_fallback", "谢啦", "utter_thank"),
    (ActionChooseOption(), "choose_option", "88", "utter_goodbye"),   # "88" is no option number
])
async def test_a_goodbye_or_thanks_the_nlu_misread_is_answered_as_one(action, intent, text, response) -> None:
    d = CollectingDispatcher()
    await action.run(d, tracker([], {"faq_last_query": "专利质押去哪登记"}, intent, text), {})
    assert [m.get("response") for m in d.messages] == [response]


async def test_second_fallback_in_a_row_offers_a_person() -> None:
    history = [{"event": "user", "text": "？？"}, {"event": "action", "name": "action_fallback"},
               {"event": "bot", "text": "抱歉"}, {"event": "action", "name": "action_listen"}]
    d = CollectingDispatcher()
    events = await ActionFallback().run(d, tracker(history), {})
    assert said(d)[0]["stage"] == 2 and "人工" in d.messages[0]["text"]
    assert events == [SlotSet("pending_offer", "human")]


async def test_the_second_fallback_counts_across_a_session_start() -> None:
    """A long conversation gets a new session between two messages (bot/runtime/session_bound.py):
    the fallback before it is still the previous bot action."""
    history = [{"event": "user", "text": "？？"}, {"event": "action", "name": "action_fallback"},
               {"event": "bot", "text": "抱歉"}, {"event": "action", "name": "action_listen"},
               {"event": "action", "name": "action_session_start"}, {"event": "session_started"},
               {"event": "action", "name": "action_listen"}]
    d = CollectingDispatcher()
    await ActionFallback().run(d, tracker(history), {})
    assert said(d)[0]["stage"] == 2


async def test_yes_after_the_offer_hands_off_and_no_is_accepted_politely() -> None:
    d = CollectingDispatcher()
    await ActionHandleAffirm().run(d, tracker([], {"pending_offer": "human"}, "affirm", "是的"), {})
    assert said(d)[0]["decision"] == "handoff"
    d = CollectingDispatcher()
    await ActionHandleDeny().run(d, tracker([], {"pending_offer": "human"}, "deny", "不用了"), {})
    assert said(d)[0]["decision"] == "smalltalk" and "没问题" in d.messages[0]["text"]


@pytest.mark.parametrize(("action", "intent", "text"), [
    (ActionHandleDeny(), "deny", "你答的不是我想问的 给我找个真人"),
    (ActionSmalltalk(), "greet", "你好 帮我转人工"),
    (ActionHandleAffirm(), "affirm", "对 转人工吧"),
])
async def test_a_request_for_a_person_hands_off_whatever_intent_it_was_read_as(action, intent, text) -> None:
    d = CollectingDispatcher()
    await action.run(d, tracker([], {}, intent, text), {})
    assert said(d)[0]["decision"] == "handoff" and said(d)[0]["reason"] == "request"


async def test_saying_a_time_limit_has_passed_is_no_goodbye() -> None:
    """"已经超了一个多月了" after the priority period (the NLU reads it as goodbye) asks what can
    still be done: it is read with the conversation, not answered with "再见"."""
    slots = {"faq_last_query": "优先权期限是多长时间？", "faq_last_entry": "priority-period", "faq_topic": "优先权"}
    d = CollectingDispatcher()
    await ActionSmalltalk().run(d, tracker([], slots, "goodbye", "已经超了一个多月了"), {})
    reply = said(d)[0]
    assert reply["decision"] in ("answer", "clarify"), reply
    d = CollectingDispatcher()
    await ActionSmalltalk().run(d, tracker([], slots, "goodbye", "好的 再见"), {})
    assert d.messages[0].get("response") == "utter_goodbye"


async def test_asking_whether_we_are_a_person_is_no_request_for_one() -> None:
    d = CollectingDispatcher()
    await ActionSmalltalk().run(d, tracker([], {}, "bot_challenge", "你是真人吗"), {})
    assert d.messages[0].get("response") == "utter_bot_challenge"


async def test_a_detail_read_as_yes_after_the_offer_of_a_person_is_asked_of_the_knowledge() -> None:
    """"期限是多久啊" gets the offer of a person; "年费的" (which the NLU reads as a yes) names the
    deadline meant, so it is answered in context instead of handing off. "是的" still hands off."""
    slots = {"pending_offer": "human", "faq_last_query": "期限是多久啊"}
    d = CollectingDispatcher()
    await ActionHandleAffirm().run(d, tracker([], slots, "affirm", "年费的"), {})
    reply = said(d)[0]
    assert reply["decision"] in ("answer", "clarify"), reply
    assert (reply["entry_id"] or reply["candidates"][0]["id"]).startswith("annual-fee"), reply
    d = CollectingDispatcher()
    await ActionHandleAffirm().run(d, tracker([], slots, "affirm", "是的"), {})
    assert said(d)[0]["decision"] == "handoff"


async def test_yes_without_an_offer_just_acknowledges() -> None:
    d = CollectingDispatcher()
    await ActionHandleAffirm().run(d, tracker([], {}, "affirm", "好的"), {})
    assert d.messages[0]["response"] == "utter_affirm_ack"


async def test_complaint_handoff_apologises() -> None:
    d = CollectingDispatcher()
    await ActionHandoff().run(d, tracker([], {}, "complain", "太差了"), {})
    assert said(d)[0] == {"decision": "handoff", "entry_id": None, "confidence": None, "candidates": [],
                          "reason": "complaint"}
    assert "抱歉" in d.messages[0]["text"]


async def test_yes_or_no_to_the_calculators_question_completes_the_calculation() -> None:
    """"是纸件的" or "不是电子的，是纸件" may be read as affirm or deny: after the calculator asked
    which kind of service, either is the answer it waits for, not a yes to an offer."""
    from bot.rules import compute

    asked = compute("驳回决定是2026年3月2日发出的，复审请求最晚哪天提")
    slots = {"faq_calc": asked.context.to_dict(), "pending_offer": "fact",
             "faq_last_query": "驳回决定是2026年3月2日发出的，复审请求最晚哪天提"}
    for action, intent, text in ((ActionHandleAffirm(), "affirm", "是纸件邮寄的"),
                                 (ActionHandleDeny(), "deny", "不是电子的，是纸件")):
        d = CollectingDispatcher()
        events = await action.run(d, tracker([], dict(slots), intent, text), {})
        reply = said(d)[0]
        assert reply["decision"] == "answer" and reply["entry_id"] == "calc:reexamination-deadline", text
        assert reply["value"] == "2026-06-17" and "6月17日" in d.messages[0]["text"]
        assert SlotSet("pending_offer", None) in events
