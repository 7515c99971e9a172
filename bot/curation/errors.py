"""Typed errors of the curation layer. Messages are courteous Chinese, safe to show as
they are; the console maps each class to one HTTP status."""

from __future__ import annotations


class CurationError(Exception):
    """Base: a request about a knowledge entry that cannot be carried out."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidDraft(CurationError):
    """A form field is missing or malformed (400)."""


class EntryNotFound(CurationError):
    """No such entry (404)."""


class NotAllowed(CurationError):
    """The account's role or authorship does not permit this step (403)."""


class WrongState(CurationError):
    """The entry is not in a state this step applies to, or changed meanwhile (409)."""


class CheckFailed(CurationError):
    """Publishing would break `patentdesk knowledge check` (409); `problems` says how."""

    def __init__(self, message: str, problems: list[str]) -> None:
        super().__init__(message)
        self.problems = problems
