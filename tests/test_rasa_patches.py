"""The Rasa server's shortcuts give Rasa's own verdicts: same valid/invalid, same errors, same classes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.runtime.event_schema import EventsCheck, events_check, response_valid
from bot.runtime.rasa_server import _response_validator, patch_rasa

EVENT_NAMES = ["slot", "bot", "user", "action", "pause", "resume", "restart", "reset_slots", "followup",
               "session_started", "action_execution_rejected", "active_loop", "loop_interrupted", "export",
               "cancel", "reminder", "undo", "rewind", "no_such_event", "", 3, None]
VALUES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5),
                   st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
KEYS = ["event", "name", "value", "text", "data", "timestamp", "metadata", "policy", "confidence", "intent",
        "parse_data", "input_channel", "date_time", "entities", "kill_on_user_msg"]

events = st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=6).flatmap(
    lambda d: st.sampled_from(EVENT_NAMES).map(lambda n: {**d, "event": n}) if "event" not in d else st.just(d))


pytestmark = pytest.mark.usefixtures("keep_event_loop_policy")


def _full_events_validator():
    from jsonschema.validators import validator_for
    from rasa.shared.utils.schemas.events import EVENTS_SCHEMA

    return validator_for(EVENTS_SCHEMA)(EVENTS_SCHEMA)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(events, VALUES), max_size=3))
def test_events_check_agrees_with_rasas_schema(batch):
    assert events_check().valid(batch) == _full_events_validator().is_valid(batch)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["events", "responses", "other"]),
                       st.one_of(st.lists(events, max_size=2), VALUES, st.lists(VALUES, max_size=2)), max_size=3))
def test_response_check_never_passes_what_rasa_rejects(result):
    assert response_valid(result) == _response_validator().is_valid(result)


def test_typical_action_responses_pass_both_ways():
    ok = {"events": [{"event": "slot", "name": "faq_last_entry", "value": "fee-application-amount",
                      "timestamp": None},
                     {"event": "bot", "text": "申请费：发明专利900元", "data": {"custom": {"patentdesk": {}}}}],
          "responses": [{"text": "申请费：发明专利900元", "custom": {"patentdesk": {"decision": "answer"}}}]}
    assert response_valid(ok) and _response_validator().is_valid(ok)
    for bad in ({"events": [{"event": "slot"}]},            # a slot without a name
                {"events": [{"event": "no_such_event"}]},
                {"events": {"event": "slot", "name": "x"}},  # not a list
                {"responses": "text"}):
        assert not response_valid(bad) and not _response_validator().is_valid(bad)


def test_branches_that_share_a_name_turn_the_shortcut_off():
    schema = {"type": "object", "required": ["event"],
              "oneOf": [{"properties": {"event": {"const": "a"}}}, {"properties": {"event": {"const": "a"}}}]}
    check = EventsCheck(schema)
    assert not check.exact and not check.valid([{"event": "a"}])  # "ask Rasa", never a wrong yes


def test_patched_server_still_raises_rasas_errors():
    import rasa.server
    from jsonschema import ValidationError
    from rasa.core.actions.action import RemoteAction
    from rasa.server import ErrorResponse

    patch_rasa()
    patch_rasa()  # idempotent: the events check is not wrapped twice
    action = RemoteAction("action_answer_faq", None)
    assert action._validate_action_result({"events": [], "responses": []})
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        action._validate_action_result({"events": [{"event": "slot"}]})

    class Body:
        def __init__(self, json):
            self.json = json

    rasa.server.validate_events_in_request_body(Body({"event": "pause"}))
    rasa.server.validate_events_in_request_body(Body([{"event": "resume"}, {"event": "pause"}]))
    with pytest.raises(ErrorResponse):
        rasa.server.validate_events_in_request_body(Body({"event": "no_such_event"}))


def test_event_classes_resolve_as_before():
    from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered

    patch_rasa()
    assert Event.resolve_by_type("slot") is SlotSet
    assert Event.resolve_by_type("user") is UserUttered
    assert Event.resolve_by_type("action") is ActionExecuted
    assert Event.resolve_by_type("slot") is SlotSet  # the remembered answer
    assert Event.resolve_by_type("topic") is None
    assert Event.resolve_by_type("no_such_event", SlotSet) is SlotSet
    with pytest.raises(ValueError, match="Unknown event name"):
        Event.resolve_by_type("no_such_event")
    assert Event.from_parameters({"event": "slot", "name": "x", "value": 1}) == SlotSet("x", 1)
