"""The action server's one retrieval index, loaded on first use (or at server start).

Searches run on a single dedicated thread: encoding is CPU-bound and must not stall
the event loop, and one thread keeps the native encoder single-entrant.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from bot.config import Settings
from bot.knowledge.index import KnowledgeIndex
from bot.knowledge.service import load_or_build

T = TypeVar("T")
_lock = threading.Lock()
_index: KnowledgeIndex | None = None
_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="retrieval")


def get_index() -> KnowledgeIndex:
    global _index
    with _lock:
        if _index is None:
            settings = Settings.from_env()
            _index = load_or_build(settings)
            _index.cache_queries(settings.retrieval_cache_size)
        return _index


async def run(fn: Callable[[KnowledgeIndex], T]) -> T:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_executor, lambda: fn(get_index()))
