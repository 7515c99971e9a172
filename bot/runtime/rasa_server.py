"""`rasa` with fixes for serving, started by the supervisor instead of `python -m rasa`.

Measured with py-spy under load (8 callers): 35% of the Rasa server's CPU went to
validating each action-server response, because Rasa calls `jsonschema.validate`, which
checks the (constant) schema itself before every response. The response is still
validated, against a validator built once, and each event against the one schema branch
its name selects (`bot.runtime.event_schema`); events posted to a tracker likewise. And
jieba loads its dictionary on the first message (about 1 s); we load it before the server
accepts traffic.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from typing import Any

from bot.runtime.event_schema import event_class_lookup, events_check, response_valid

log = logging.getLogger("patentdesk.rasa")


@functools.lru_cache(maxsize=1)
def _response_validator() -> Any:
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    spec = RemoteAction.action_response_format_spec()
    cls = validator_for(spec)
    cls.check_schema(spec)
    return cls(spec)


def _validate_action_result(self: Any, result: dict[str, Any]) -> bool:
    """Rasa's own check and error text, with the validator compiled once (and a response that
    passes the one-branch-per-event check needs no second look: `bot.runtime.event_schema`)."""
    if response_valid(result):
        return True
    from jsonschema import ValidationError
    from jsonschema.exceptions import best_match
    from rasa.shared.constants import DOCS_BASE_URL

    error = best_match(_response_validator().iter_errors(result))
    if error is None:
        return True
    assert isinstance(error, ValidationError)
    error.message += (
        ". Failed to validate Action server response from API, make sure your response from the "
        f"Action endpoint is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions"
    )
    raise error


def _events_body_check(original: Callable[[Any], None]) -> Callable[[Any], None]:
    """Events posted to a tracker (pause/resume of a handoff): Rasa's check runs only on a
    body the one-branch check does not pass, so a bad body still gets Rasa's 400 and text."""

    def validate_events_in_request_body(request: Any) -> None:
        body = request.json
        if events_check().valid(body if isinstance(body, list) else [body]):
            return
        original(request)

    return validate_events_in_request_body


@functools.lru_cache(maxsize=1)
def patch_rasa() -> None:
    """Once per process: a second call must not wrap the wrapped checks again."""
    import rasa.server
    from rasa.core.actions.action import RemoteAction
    from rasa.core.processor import MessageProcessor
    from rasa.shared.core.events import Event

    from bot.runtime.session_bound import bound_sessions

    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
    rasa.server.validate_events_in_request_body = _events_body_check(rasa.server.validate_events_in_request_body)
    Event.resolve_by_type = event_class_lookup()  # type: ignore[method-assign]
    bound_sessions(MessageProcessor)   # a message's cost no longer grows with the conversation


def warm_jieba() -> None:
    try:
        import jieba

        jieba.setLogLevel(logging.WARNING)
        jieba.initialize()
    except ImportError:  # a pipeline without jieba needs no warm-up
        pass


def main() -> None:
    patch_rasa()
    if sys.argv[1:2] == ["run"]:
        warm_jieba()
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
