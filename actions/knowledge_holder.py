"""The action server's one retrieval index, loaded on first use (or at server start).

Searches run on dedicated threads, one per core the process may use (RETRIEVAL_THREADS):
encoding is CPU-bound and must not stall the event loop. The native encoder is re-entrant
(its weights are read-only after loading, every call allocates its own buffers, and ctypes
lets go of the GIL during the call), so two questions encode at once on two cores; with one
thread the action server could use one core only, and its ~30 ms of CPU per cold message
capped the whole stack near 33 messages a second. Each thread runs the encoder's OpenMP
and BLAS with one thread: OpenMP's thread count is set per calling thread, so a limit set
at start in the main thread does not reach it, and a second OpenMP thread only spun
against Rasa under load (issue 17: 20 -> 34 msg/s cold).

The index serves knowledge/ plus the entries published in the console; `watch` starts the
poller that rebuilds it in the background and swaps it in (bot/curation/watcher.py).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from threadpoolctl import threadpool_limits

from bot.config import Settings
from bot.curation.served import current_knowledge
from bot.curation.watcher import KnowledgeWatcher
from bot.knowledge.index import KnowledgeIndex
from bot.knowledge.service import load_or_build

log = logging.getLogger("patentdesk.knowledge")
T = TypeVar("T")
_lock = threading.Lock()
_index: KnowledgeIndex | None = None
_version = 0  # the console's published version the index serves
_watcher: KnowledgeWatcher | None = None
_limited = threading.local()


def get_index() -> KnowledgeIndex:
    global _index, _version
    with _lock:
        if _index is None:
            settings = Settings.from_env()
            _version, kb = current_knowledge(settings)
            _index = load_or_build(settings, kb=kb)
            _index.cache_queries(settings.retrieval_cache_size)
        return _index


def serve(index: KnowledgeIndex) -> None:
    """Serve another index from the next search on (tests pass the session's; the watcher
    swaps in a rebuilt one). Searches already running finish on the old one."""
    global _index
    with _lock:
        _index = index


def watch(settings: Settings) -> KnowledgeWatcher:
    """Start polling for console publications (the action server calls this once)."""
    global _watcher
    get_index()
    _watcher = KnowledgeWatcher(settings, get_index, serve, _version)
    _watcher.start()
    return _watcher


def _search_thread(fn: Callable[[KnowledgeIndex], T]) -> T:
    index = get_index()  # loading may build the index: with every thread, once
    if not getattr(_limited, "done", False):
        threadpool_limits(1)  # this thread's OpenMP and BLAS pools, now that the encoder has loaded them
        _limited.done = True
    return fn(index)


@functools.cache   # made on the first search, from the event loop's thread only
def _search_pool() -> ThreadPoolExecutor:
    threads = Settings.from_env().retrieval_threads
    log.info("searches run on %d thread(s)", threads)
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="retrieval")


async def run(fn: Callable[[KnowledgeIndex], T]) -> T:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_search_pool(), _search_thread, fn)
