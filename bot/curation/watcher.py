"""The action server's side of a publish: notice it, rebuild in the background, swap.

Every action server polls the published version in the records database (one row,
bumped in the transaction of every publish and withdrawal), so any number of them sharing
one database learn of a change within KNOWLEDGE_POLL_INTERVAL seconds, with no message to
lose. A new version starts one rebuild at a time in a separate low-priority process
(bot/curation/rebuild.py); searches go on with the old index meanwhile. A finished,
checked and calibrated index is loaded here and swapped in with one assignment; any
failure leaves the old index serving. Each server writes what it serves and why a
rebuild failed to kb_servers, which the console and `patentdesk doctor` show.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.config import Settings
from bot.curation import store
from bot.curation.rebuild import RESULT, entries_to_json
from bot.curation.served import (
    published_entries,
    published_version,
    records_engine,
    served_knowledge,
)
from bot.knowledge.index import KnowledgeIndex, StaleIndexError, index_dir
from bot.knowledge.service import knowledge_dir

log = logging.getLogger("patentdesk.knowledge")
# A rebuild runs at low priority: on a busy machine it may wait long for CPU, which is no
# failure. KNOWLEDGE_REBUILD_TIMEOUT bounds its CPU time; the wall clock gets this many times that.
WALL_FACTOR = 4


def server_name(settings: Settings) -> str:
    return f"{socket.gethostname()}:{settings.actions_port}"


@dataclass
class Outcome:
    ok: bool
    version: int
    message: str
    seconds: float
    details: dict


class KnowledgeWatcher:
    """Polls the published version; rebuilds and swaps when it changes."""

    def __init__(self, settings: Settings, current: Callable[[], KnowledgeIndex],
                 swap: Callable[[KnowledgeIndex], None], served_version: int, name: str | None = None) -> None:
        self.settings = settings
        self.current = current
        self.swap = swap
        self.served_version = served_version
        self.name = name or server_name(settings)
        self.failed_version: int | None = None
        self.last: Outcome | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._engine: Engine | None = None

    # -- the loop ---------------------------------------------------------------------------
    def start(self) -> None:
        if self.settings.knowledge_poll_interval <= 0:
            log.info("knowledge: polling for published entries is off (KNOWLEDGE_POLL_INTERVAL=0)")
            return
        self._thread = threading.Thread(target=self._loop, name="knowledge-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        self._report("serving", self.served_version, self.served_version, None)
        while not self._stop.wait(self.settings.knowledge_poll_interval):
            try:
                self.poll()
            except Exception:  # the loop must outlive a bad round (database down, disk full)
                log.exception("knowledge: poll failed")

    def engine(self) -> Engine | None:
        if self._engine is None:
            self._engine = records_engine(self.settings)
        return self._engine

    def poll(self) -> Outcome | None:
        """One round: rebuild if the published version moved (and did not just fail)."""
        try:
            wanted = published_version(self.engine())
        except SQLAlchemyError as exc:
            log.warning("knowledge: cannot read the published version (%s)", exc)
            return None
        if wanted is None or wanted == self.served_version or wanted == self.failed_version:
            return None
        return self.rebuild()

    # -- one rebuild ------------------------------------------------------------------------
    def rebuild(self) -> Outcome:
        started = time.perf_counter()
        engine = self.engine()
        version, entries = published_entries(engine)
        self._report("building", self.served_version, version, None)
        log.info("knowledge: published version %d (%d console entries): rebuilding in the background",
                 version, len(entries))
        work = self.settings.var_dir / "index-builds" / self.name.replace(":", "-")
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        (work / "entries.json").write_text(entries_to_json(entries), encoding="utf-8")
        details = self._run_child(work)
        seconds = time.perf_counter() - started
        if not details.get("ok"):
            message = str(details.get("message") or "重建失败，原因未知")
            if not details.get("retry"):  # the same inputs would fail again: wait for the next change
                self.failed_version = version
            outcome = Outcome(False, version, message, seconds, details)
            self.last = outcome
            self._report("failed", self.served_version, version, message, seconds=seconds)
            log.error("knowledge: version %d not served, the old index keeps serving: %s", version, message)
            return outcome
        try:
            kb = served_knowledge(knowledge_dir(self.settings), entries)
            old = self.current()
            new = KnowledgeIndex.load(work, kb, old.encoder)
        except (StaleIndexError, OSError, ValueError) as exc:
            message = f"新索引无法载入：{exc}"
            self.failed_version = version
            outcome = Outcome(False, version, message, seconds, details)
            self.last = outcome
            self._report("failed", self.served_version, version, message, seconds=seconds)
            return outcome
        new.cache_queries(self.settings.retrieval_cache_size)
        self.swap(new)
        self.served_version = version
        self.failed_version = None
        seconds = time.perf_counter() - started
        self._persist(work)
        outcome = Outcome(True, version, "", seconds, details)
        self.last = outcome
        self._report("serving", version, version, None, seconds=seconds, entries=len(kb))
        log.info("knowledge: now serving version %d (%d entries) after %.1f s (%s texts encoded, %s reused)",
                 version, len(kb), seconds, details.get("encoded"), details.get("reused"))
        return outcome

    def _run_child(self, work: Path) -> dict:
        calibration = self.current().calibration
        baseline = calibration.get("dev_top1")
        threshold = (calibration.get("ranker") or {}).get("answer_threshold")
        cpu_limit = int(self.settings.knowledge_rebuild_timeout)
        cmd = [sys.executable, "-m", "bot.curation.rebuild", "--entries", str(work / "entries.json"),
               "--out", str(work), "--cpu-limit", str(cpu_limit), "--nice", str(self.settings.knowledge_rebuild_nice)]
        if baseline is not None:
            cmd += ["--baseline-top1", str(baseline)]
        if threshold is not None:
            cmd += ["--baseline-threshold", str(threshold)]
        env = {**os.environ, **self.settings.child_env(), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1"}
        try:
            with open(work / "rebuild.log", "wb") as out:
                done = subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, check=False,
                                      timeout=WALL_FACTOR * max(cpu_limit, 60))
        except subprocess.TimeoutExpired:  # starved for hours: give up this round, try again
            return {"ok": False, "retry": True,
                    "message": f"重建在 {WALL_FACTOR * max(cpu_limit, 60)} 秒内未完成（服务器繁忙），将自动重试"}
        except OSError as exc:
            return {"ok": False, "message": f"无法启动重建进程：{exc}"}
        try:
            return json.loads((work / RESULT).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            if done.returncode == -signal.SIGXCPU or done.returncode == -signal.SIGKILL:
                return {"ok": False, "message": f"重建用尽了 {cpu_limit} 秒 CPU 时间仍未完成，已停止"
                                                f"（KNOWLEDGE_REBUILD_TIMEOUT）"}
            return {"ok": False, "message": f"重建进程意外退出，详见 {work / 'rebuild.log'}"}

    def _persist(self, work: Path) -> None:
        """Copy the swapped-in index over var/index/, so a restart loads it instead of
        rebuilding (under a file lock: servers on one machine share var/)."""
        target = index_dir(self.settings.var_dir, self.current().encoder.name)
        built = index_dir(work, self.current().encoder.name)
        target.mkdir(parents=True, exist_ok=True)
        with open(target.parent / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            for name in ("vectors.npz", "phrasings.json", "answers.json", "meta.json"):  # meta last: complete when present
                tmp = target / f"{name}.{os.getpid()}.tmp"
                shutil.copyfile(built / name, tmp)
                tmp.replace(target / name)

    def _report(self, state: str, version: int, wanted: int, message: str | None,
                seconds: float | None = None, entries: int | None = None) -> None:
        engine = self.engine()
        if engine is None:
            return
        status = store.ServerState(
            server=self.name, state=state, version=version, wanted=wanted,
            entries=entries if entries is not None else len(self.current().kb), message=message,
            seconds=None if seconds is None else round(seconds, 1), updated_at=datetime.now(UTC))
        with contextlib.suppress(SQLAlchemyError):
            store.report_server(engine, status)
