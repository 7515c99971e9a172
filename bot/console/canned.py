"""Canned replies: the agent searches the knowledge base and inserts an FAQ answer.

The same checked answers the bot gives (with their legal source), found by the same
character n-gram TF-IDF the retrieval uses for its lexical signal, over every entry's
standard and alternative questions. Built once per console app, in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.config import Settings

if TYPE_CHECKING:
    from bot.knowledge.entries import Entry
    from bot.knowledge.lexical import CharNgramIndex


@dataclass(frozen=True)
class Canned:
    id: str
    category: str
    question: str
    text: str  # the answer followed by its source, as the bot would send it
    score: float


class CannedReplies:
    def __init__(self, entries: tuple[Entry, ...], index: CharNgramIndex, owners: list[int]) -> None:
        self.entries = entries
        self._index = index
        self._owners = owners  # phrasing row -> entry position

    @classmethod
    def load(cls, settings: Settings) -> CannedReplies:
        from bot.knowledge.entries import load_knowledge
        from bot.knowledge.lexical import CharNgramIndex
        from bot.knowledge.service import knowledge_dir

        kb = load_knowledge(knowledge_dir(settings))
        phrasings: list[str] = []
        owners: list[int] = []
        for position, entry in enumerate(kb.entries):
            for phrasing in entry.phrasings():
                phrasings.append(phrasing)
                owners.append(position)
        return cls(kb.entries, CharNgramIndex(phrasings), owners)

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
    wait for it (a console opened in the first second still gets its canned replies)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._future: asyncio.Future[CannedReplies] | None = None

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._future = loop.run_in_executor(None, CannedReplies.load, self.settings)

    async def get(self, timeout: float = 15.0) -> CannedReplies:
        if self._future is None:
            self.start()
        assert self._future is not None
        return await asyncio.wait_for(asyncio.shield(self._future), timeout)

    async def stop(self) -> None:
        if self._future is not None and not self._future.done():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._future), 10)
