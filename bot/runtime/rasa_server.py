"""`rasa` with two fixes for serving, started by the supervisor instead of `python -m rasa`.

Measured with py-spy under load (8 callers): 35% of the Rasa server's CPU went to
validating each action-server response, because Rasa calls `jsonschema.validate`, which
checks the (constant) schema itself before every response. The response is still
validated, against a validator built once. And jieba loads its dictionary on the first
message (about 1 s); we load it before the server accepts traffic.
"""

from __future__ import annotations

import functools
import logging
import sys
from typing import Any

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
    """Rasa's own check and error text, with the validator compiled once."""
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


def patch_rasa() -> None:
    from rasa.core.actions.action import RemoteAction

    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]


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
