"""Canned replies: the agent searches the knowledge base and inserts an FAQ answer.

The same checked answers the bot gives (with their legal source), found by the same
character n-gram TF-IDF the retrieval uses for its lexical signal, over every entry's
standard and alternative questions: knowledge/ plus the entries published in the console
(a supervisor's publish or withdrawal shows in the agents' search within
KNOWLEDGE_POLL_INTERVAL seconds). Built in a worker thread; the previous index answers
while a new one is built.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from bot.config import Settings
from bot.curation.served import published_version

if TYPE_CHECKING:
    from bot.knowledge.entries import Entry
    from bot.knowledge.lexical import CharNgramIndex

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Canned:
    id: str
    category: str
    question: str
    text: str  # the answer followed by its source, as the bot would send it
    score: float


class CannedReplies:
    def __init__(self, entries: tuple[Entry, ...], index: CharNgramIndex, owners: list[int],
                 version: int = 0) -> None:
        self.entries = entries
        self._index = index
        self._owners = owners  # phrasing row -> entry position
        self.version = version  # the published-knowledge version it holds (-1: files only, unread)

    @classmethod
    def load(cls, settings: Settings) -> CannedReplies:
        from bot.curation.served import current_knowledge
        from bot.knowledge.lexical import CharNgramIndex

        version, kb = current_knowledge(settings)
        phrasings: list[str] = []
        owners: list[int] = []
        for position, entry in enumerate(kb.entries):
            for phrasing in entry.phrasings():
                phrasings.append(phrasing)
                owners.append(position)
        return cls(kb.entries, CharNgramIndex(phrasings), owners, version)

    @property
    def categories(self) -> list[str]:
        return sorted({e.category for e in self.entries if e.category})

    def search(self, query: str, limit: int = 5) -> list[Canned]:
        """Best entries for the query (each entry once, by its best phrasing)."""
        query = query.strip()[:200]
        if not query or not self.entries:
            return []
        best: dict[int, float] = {}
        for row, score in enumerate(self._index.scores(query).tolist()):
            if score > 0:
                position = self._owners[row]
                best[position] = max(best.get(position, 0.0), score)
        ranked = sorted(best.items(), key=lambda item: (-item[1], item[0]))[:limit]
        return [Canned(id=self.entries[p].id, category=self.entries[p].category, question=self.entries[p].question,
                       text=self.entries[p].reply_text(), score=round(s, 3)) for p, s in ranked]


class CannedLoader:
    """Loads the knowledge base in a worker thread while the gateway starts; handlers
    wait for it (a console opened in the first second still gets its canned replies).
    Afterwards, at most every KNOWLEDGE_POLL_INTERVAL seconds, a search checks the
    published version and, when it moved, a new index is built behind the current one."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._future: asyncio.Future[CannedReplies] | None = None
        self._next: asyncio.Future[CannedReplies] | None = None
        self._checked = 0.0

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._future = loop.run_in_executor(None, CannedReplies.load, self.settings)
        self._checked = time.monotonic()

    async def get(self, timeout: float = 15.0, engine: Engine | None = None) -> CannedReplies:
        """`engine`: the records database, to check the published version on (none: no check)."""
        if self._future is None:
            self.start()
        assert self._future is not None
        current = await asyncio.wait_for(asyncio.shield(self._future), timeout)
        self._take_next()
        if engine is not None:
            await self._maybe_reload(current, engine)
        assert self._future is not None
        return self._future.result() if self._future.done() else current

    def _take_next(self) -> None:
        if self._next is not None and self._next.done():
            if self._next.exception() is None:
                self._future, self._next = self._next, None
            else:  # a failed reload keeps the index it had; the next check tries again
                log.warning("canned replies: reload failed: %s", self._next.exception())
                self._next = None

    async def _maybe_reload(self, current: CannedReplies, engine: Engine) -> None:
        interval = self.settings.knowledge_poll_interval
        if interval <= 0 or self._next is not None or time.monotonic() - self._checked < interval:
            return
        self._checked = time.monotonic()
        loop = asyncio.get_running_loop()
        try:
            version = await loop.run_in_executor(None, published_version, engine)
        except Exception as exc:  # noqa: BLE001 - an unreadable database keeps what we have
            log.warning("canned replies: published version not read: %s", exc)
            return
        if version is not None and version != current.version:
            self._next = loop.run_in_executor(None, CannedReplies.load, self.settings)
            with contextlib.suppress(asyncio.TimeoutError):  # small bases swap in at once
                await asyncio.wait_for(asyncio.shield(self._next), 0.5)
            self._take_next()

    async def stop(self) -> None:
        for future in (self._future, self._next):
            if future is not None and not future.done():
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(asyncio.shield(future), 10)

