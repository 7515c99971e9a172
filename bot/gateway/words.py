"""The one place that reads a user's short replies to the desk's own questions: a rating
(1-4 or the words of the grades), "有用"/"没用" under an answer, "取消" to leave the queue,
"留言" to leave a message, "1" to confirm a left message. No IO; the handlers decide what each means in their state."""

from __future__ import annotations

import re

from bot import replies

RATING_WORDS = (("非常满意", 1), ("不满意", 4), ("满意", 2), ("一般", 3))

__all__ = ["RATING_WORDS", "asks_to_leave_message", "is_cancel", "is_confirm", "parse_feedback", "parse_rating"]


def _bare(text: str) -> str:
    """The text without spaces and punctuation, for matching short replies."""
    return re.sub(r"[\s。.!！,，]", "", text)


def parse_rating(text: str) -> int | None:
    """1-4 or the words of the four grades; None when the text is something else."""
    t = _bare(text)
    if t in ("1", "2", "3", "4"):
        return int(t)
    for word, value in RATING_WORDS:
        if t.startswith(word) and len(t) <= len(word) + 4:
            return value
    return None


def parse_feedback(text: str) -> bool | None:
    """True for "有用", False for "没用"/"不是这个", None for anything else."""
    t = _bare(text)
    if len(t) > 10:
        return None
    if any(t.startswith(w) or t.endswith(w) for w in replies.UNHELPFUL_WORDS):
        return False
    if any(t.startswith(w) for w in replies.HELPFUL_WORDS):
        return True
    return None


def is_cancel(text: str) -> bool:
    t = _bare(text)
    return any(t.startswith(w) for w in replies.CANCEL_WORDS) and len(t) <= 8


def asks_to_leave_message(text: str) -> bool:
    return any(w in text for w in replies.LEAVE_WORDS)


def is_confirm(text: str) -> bool:
    """"1" / "确认" under an echoed left message: the user means to leave it."""
    return _bare(text) in replies.CONFIRM_WORDS
