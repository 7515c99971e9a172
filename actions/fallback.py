"""Two-stage fallback: first ask to rephrase, then offer a person."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import knowledge_holder
from actions.routing import technical_handoff, technical_problem
from actions.tracker_context import context_from, previous_action, slot_events
from bot import replies
from bot.knowledge import dialogue


class ActionFallback(Action):
    def name(self) -> str:
        return "action_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list[dict[str, Any]]:
        # the intent classifier was unsure; the knowledge (with the conversation) may not be
        text = tracker.latest_message.get("text") or ""
        ctx = context_from(tracker)
        kind = dialogue.smalltalk_kind(text)
        if kind:  # "88" or "谢啦" the NLU was unsure of: a goodbye is not asked to rephrase
            dispatcher.utter_message(response=f"utter_{kind}")
            return []
        turn = await knowledge_holder.run(lambda index: dialogue.ask(index, text, ctx))
        if turn.decision in ("answer", "clarify") or (turn.decision == "smalltalk" and turn.context.applicant):
            dispatcher.utter_message(text=turn.text, json_message=turn.payload())
            return slot_events(turn)
        problem = technical_problem(tracker)
        if problem:  # an error message is not asked to be rephrased
            return technical_handoff(dispatcher, problem)
        if previous_action(tracker) == "action_fallback":
            dispatcher.utter_message(text=replies.FALLBACK_OFFER_HUMAN,
                                     json_message=replies.payload("fallback", stage=2))
            return [SlotSet("pending_offer", "human")]
        dispatcher.utter_message(text=replies.FALLBACK_REPHRASE, json_message=replies.payload("fallback", stage=1))
        return [SlotSet("pending_offer", None)]
