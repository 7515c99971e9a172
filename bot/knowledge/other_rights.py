"""Questions about trademarks or copyright, which a patent desk does not answer.

A user who asks whether a look-alike brand infringes their trademark got a list of three
patent FAQ titles, or the offer of a person who would only say the same thing. An agent
says at once where such a question belongs; so does the bot, with the knowledge's own
redirection entries (their text and sources are reviewed there, not here).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.knowledge.facets import patent_types
from bot.knowledge.text import compact


@dataclass(frozen=True)
class Offered:
    """An entry retrieval came close to, as far as this module needs it."""

    id: str
    question: str
    redirect: bool


# the words that name another right, and the redirection entry that says where it belongs
RIGHTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"商标"), "redir-trademark-matters"),
    (re.compile(r"版权|著作权|软著|作品登记"), "redir-copyright-works"),
)


def other_right(text: str, offered: Sequence[Offered] = ()) -> str | None:
    """The entry that redirects a message about a trademark or copyright that says nothing of
    patents ("专利和商标有什么区别" and "外观设计和商标冲突吗" are patent questions), or None.

    Of the `offered` entries (best first), one that names the same right decides: a
    redirection among them ("注册商标也是在专利这里办吗？") is given, as the closer one; an
    entry that states a fact about it ("软件著作权保护期是多久？") is the knowledge's own
    answer, left to retrieval (None). Patent entries that mention the right
    ("外观设计和别人的商标或著作权冲突会怎样？") do not count."""
    if _names_patents(text):
        return None
    core = compact(text)
    for words, fallback in RIGHTS:
        if not words.search(core):
            continue
        for entry in offered:
            about_it = words.search(compact(entry.question)) and (entry.redirect or not _names_patents(entry.question))
            if entry.id == fallback or about_it:
                return entry.id if entry.redirect else None
        return fallback
    return None


def _names_patents(text: str) -> bool:
    core = compact(text)
    return "专利" in core or bool(patent_types(core))
