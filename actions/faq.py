"""Answering from the knowledge index: questions, numbered choices, yes and no."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import knowledge_holder
from actions.handoff import handoff_events
from actions.routing import technical_handoff, technical_problem
from actions.tracker_context import context_from, slot_events
from bot import replies
from bot.knowledge import dialogue


def _emit(dispatcher: CollectingDispatcher, turn: dialogue.Turn) -> list[dict[str, Any]]:
    dispatcher.utter_message(text=turn.text, json_message=turn.payload())
    return slot_events(turn)


async def _answer_fact(dispatcher: CollectingDispatcher, tracker: Tracker,
                       ctx: dialogue.Context) -> list[dict[str, Any]]:
    text = tracker.latest_message.get("text") or ""
    turn = await knowledge_holder.run(lambda index: dialogue.ask(index, text, ctx))
    return _emit(dispatcher, turn)


# A user stuck with a failure (an error quoted, a login refused) gets an entry only when it is all
# but certain: a near topic ("how certificates are used" for "my certificate has expired", "how to
# download the client" for a signature error) costs them a round trip a technician saves.
TECHNICAL_ANSWER_BAR = 0.95


class ActionAnswerFaq(Action):
    def name(self) -> str:
        return "action_answer_faq"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list[dict[str, Any]]:
        text = tracker.latest_message.get("text") or ""
        ctx = context_from(tracker)
        turn = await knowledge_holder.run(lambda index: dialogue.ask(index, text, ctx))
        sure = turn.decision == "answer" and (turn.confidence or 0.0) >= TECHNICAL_ANSWER_BAR
        problem = technical_problem(tracker) if not sure else None
        if problem:  # no all-but-certain answer to a technical problem: straight to technical support
            return technical_handoff(dispatcher, problem)
        return _emit(dispatcher, turn)


class ActionChooseOption(Action):
    def name(self) -> str:
        return "action_choose_option"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list[dict[str, Any]]:
        text = tracker.latest_message.get("text") or ""
        ctx = context_from(tracker)
        if (kind := dialogue.smalltalk_kind(text)) is not None:  # "88" is goodbye, not option 88
            dispatcher.utter_message(response=f"utter_{kind}")
            return []
        if dialogue.is_question_not_choice(text, ctx):  # "发明专利第7年年费多少" has a number, not a pick
            turn = await knowledge_holder.run(lambda index: dialogue.ask(index, text, ctx))
        else:
            turn = await knowledge_holder.run(lambda index: dialogue.choose(index, text, ctx))
        return _emit(dispatcher, turn)


class ActionSmalltalk(Action):
    """Greetings, thanks, "are you a bot", out of scope: the intent's reply, unless the message
    is a patent question the knowledge answers (the intent classifier alone never throws one out)."""

    def name(self) -> str:
        return "action_smalltalk"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list[dict[str, Any]]:
        text = tracker.latest_message.get("text") or ""
        intent = (tracker.latest_message.get("intent") or {}).get("name") or "greet"
        ctx = context_from(tracker)
        if dialogue.asks_for_person(text):  # "在吗 帮我转人工" read as a greeting
            return handoff_events(dispatcher, tracker, complaint=False)
        if dialogue.may_be_question(text, intent, ctx):
            # a greeting or thanks is read alone; "我是学生" (taken for "are you a bot") in context
            in_context = (intent in dialogue.CONTEXT_INTENTS or dialogue.awaits_fact(ctx)
                          or dialogue.asks_in_context(text, ctx))
            turn = await knowledge_holder.run(lambda index: dialogue.ask(index, text, ctx, use_context=in_context))
            if dialogue.overrides_intent(turn, text, dialogue.asks_in_context(text, ctx)):
                return _emit(dispatcher, turn)
        problem = technical_problem(tracker) if intent == "out_of_scope" else None
        if problem:
            return technical_handoff(dispatcher, problem)
        dispatcher.utter_message(response=f"utter_{intent}")
        return []


class ActionHandleAffirm(Action):
    """"是/好的" means yes to whatever the last reply offered."""

    def name(self) -> str:
        return "action_handle_affirm"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list[dict[str, Any]]:
        offer = tracker.get_slot("pending_offer")
        ctx = context_from(tracker)
        if dialogue.awaits_fact(ctx):  # "是纸件的" answers the calculator's question
            return await _answer_fact(dispatcher, tracker, ctx)
        text = tracker.latest_message.get("text") or ""
        if dialogue.asks_for_person(text):  # "对 转人工吧", offered or not
            return handoff_events(dispatcher, tracker, complaint=False)
        if not dialogue.is_bare_affirmation(text):  # "年费的" after "期限是多久啊": a detail, not a yes
            turn = await knowledge_holder.run(lambda index: dialogue.ask(index, text, ctx))
            if turn.decision in ("answer", "clarify"):
                return _emit(dispatcher, turn)
        if offer == "human":
            return handoff_events(dispatcher, tracker, complaint=False)
        if offer == "candidates" and len(ctx.candidates) == 1:
            turn = await knowledge_holder.run(lambda index: dialogue.choose(index, "1", ctx))
            return _emit(dispatcher, turn)
        dispatcher.utter_message(response="utter_affirm_ack")
        return []


class ActionHandleDeny(Action):
    """"不是这个/没用" after an answer moves on; "不用" after an offer is accepted politely."""

    def name(self) -> str:
        return "action_handle_deny"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list[dict[str, Any]]:
        offer = tracker.get_slot("pending_offer")
        ctx = context_from(tracker)
        text = tracker.latest_message.get("text") or ""
        if dialogue.awaits_fact(ctx):  # "不是电子的，是纸件" answers the calculator's question
            return await _answer_fact(dispatcher, tracker, ctx)
        if dialogue.asks_for_person(text):  # "你答的不是我想问的 给我找个真人"
            return handoff_events(dispatcher, tracker, complaint=False)
        if dialogue.strip_denial(text):  # "不对，我问的是外观设计": a correction, read in context
            turn = await knowledge_holder.run(lambda index: dialogue.correct(index, text, ctx))
            return _emit(dispatcher, turn)
        if not dialogue.is_bare_denial(text):  # "不交会怎样" starts like "不是" but asks something
            turn = await knowledge_holder.run(lambda index: dialogue.ask(index, text, ctx))
            if turn.decision in ("answer", "clarify"):
                return _emit(dispatcher, turn)
        if offer == "human":
            turn = dialogue.Turn("smalltalk", replies.DENY_ACK, context=dialogue.Context(last_query=ctx.last_query))
            return _emit(dispatcher, turn)
        turn = await knowledge_holder.run(lambda index: dialogue.not_this_one(index, ctx))
        return _emit(dispatcher, turn)
