"""Retrieval benchmark: query latency (single and concurrent), index build time and memory,
for the real knowledge base and for a synthetic one of N entries (default 20,000).

    .venv/bin/python bench/retrieval.py [--synthetic 20000] [--queries 200]
    .venv/bin/python bench/retrieval.py --rebuild [--queries 60] [--windows 5] [--complete]
    .venv/bin/python bench/retrieval.py --rebuild-timing

`--rebuild` measures what a console publish costs the served assistant: query latency
(p50/p95, every query encoded, one search thread limited to one core as in the action
server) while the action server's watcher rebuilds the index in its low-priority process,
against the same queries with that process paused, in windows alternating A-B-B-A (other load on
a shared machine then falls on both sides, and a drift in it cancels). The entry is published into a throwaway SQLite
records database under var/, so no real records are touched. `--rebuild-timing` runs the
rebuild alone at normal priority twice and reports its CPU seconds (encoding and the rest).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import resource
import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import psutil
from threadpoolctl import threadpool_limits

from bot.config import Settings
from bot.knowledge.encoders import make_encoder
from bot.knowledge.entries import Entry, KnowledgeBase, content_hash, load_knowledge
from bot.knowledge.evaluation import load_questions
from bot.knowledge.index import KnowledgeIndex
from bot.knowledge.service import build_index, eval_dir, knowledge_dir


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def latency(index: KnowledgeIndex, queries: list[str]) -> tuple[float, float]:
    times = []
    for q in queries:
        t = time.perf_counter()
        index.search(q)
        times.append((time.perf_counter() - t) * 1000)
    return pct(times, 50), pct(times, 95)


async def concurrent(index: KnowledgeIndex, queries: list[str], clients: int) -> tuple[float, float, float]:
    """Many waiting coroutines on one retrieval thread (the action server has one per core,
    RETRIEVAL_THREADS): the figure is per thread."""
    pool = ThreadPoolExecutor(max_workers=1)
    loop = asyncio.get_running_loop()
    times: list[float] = []

    async def one(q: str) -> None:
        t = time.perf_counter()
        await loop.run_in_executor(pool, index.search, q)
        times.append((time.perf_counter() - t) * 1000)

    start = time.perf_counter()
    for lo in range(0, len(queries), clients):
        await asyncio.gather(*(one(q) for q in queries[lo : lo + clients]))
    elapsed = time.perf_counter() - start
    return pct(times, 50), pct(times, 95), len(queries) / elapsed


def synthetic(kb: KnowledgeBase, n: int) -> KnowledgeBase:
    """N entries made by varying the real ones (distinct ids and phrasings)."""
    out: list[Entry] = []
    for i in range(n):
        e = kb.entries[i % len(kb.entries)]
        tag = f"（第{i}号）"
        out.append(dataclasses.replace(e, id=f"{e.id}-{i}", question=e.question + tag,
                                       alternatives=tuple(a + tag for a in e.alternatives[:3])))
    return KnowledgeBase(tuple(out), content_hash(out))


REBUILD_FORM = {
    "category": "保护期限", "question": "专利到期了还能续期吗？（基准测试）",
    "alternatives": "专利到期后可以续吗 基准\n专利过期了能延长吗 基准\n专利保护期满了可以续展吗 基准",
    "answer": "不能。专利权期限届满即终止，不能续展。", "source_title": "《中华人民共和国专利法》",
    "source_article": "第四十二条", "source_date": "2020-10-17",
}


def _serial_latencies(search: Callable[[str], object], queries: list[str], until: threading.Event | None = None,
                      rounds: int = 1) -> list[float]:
    """One query at a time on one search thread, as the action server runs them."""
    pool = ThreadPoolExecutor(max_workers=1, initializer=lambda: threadpool_limits(1))
    times: list[float] = []
    try:
        done = 0
        while True:
            for q in queries:
                t = time.perf_counter()
                pool.submit(search, q).result()
                times.append((time.perf_counter() - t) * 1000)
                if until is not None and until.is_set():
                    return times
            done += 1
            if until is None and done >= rounds:
                return times
    finally:
        pool.shutdown()


def _rebuild_child(parent_pid: int, timeout: float = 120.0) -> psutil.Process:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in psutil.Process(parent_pid).children(recursive=True):
            if "bot.curation.rebuild" in " ".join(child.cmdline()):
                return child
        time.sleep(0.05)
    raise RuntimeError("the rebuild process did not start")


def rebuild_bench(settings: Settings, queries: list[str], windows: int, complete: bool) -> None:
    """Latency while the watcher's rebuild runs, A/B against the same seconds without it:
    the rebuild process is paused (SIGSTOP) and resumed (SIGCONT) in alternating windows of
    the same queries, so other load on the machine falls on both sides alike."""
    import dataclasses as dc
    import os
    import signal

    from bot.curation import store
    from bot.curation.form import parse_draft
    from bot.curation.served import check_strings, current_knowledge
    from bot.curation.watcher import KnowledgeWatcher
    from bot.knowledge.service import load_or_build
    from bot.records.migrate import migrate
    from bot.records.store import make_engine

    db = settings.var_dir / "bench-rebuild.db"
    db.unlink(missing_ok=True)
    settings = dc.replace(settings, database_url=f"sqlite:///{db}", knowledge_poll_interval=0)
    engine = make_engine(settings.database_url)
    migrate(engine)
    version, kb = current_knowledge(settings)
    served = [load_or_build(settings, kb=kb)]
    served[0].cache_queries(0)  # every query encodes: the worst case for sharing the CPU
    print(f"served index: {len(kb)} entries, {len(served[0].phrasings)} phrasings; {len(queries)} queries a window")

    def swap(index: KnowledgeIndex) -> None:
        index.cache_queries(0)
        served[0] = index

    watcher = KnowledgeWatcher(settings, lambda: served[0], swap, version, name="bench:0")
    pk = store.create(engine, parse_draft(REBUILD_FORM, []), "bench")
    store.publish(engine, pk, "bench", True, 1, check_strings(knowledge_dir(settings)))
    result: dict = {}
    worker = threading.Thread(target=lambda: result.update(outcome=watcher.poll()))
    t0 = time.perf_counter()
    worker.start()
    child = _rebuild_child(os.getpid())
    without: list[float] = []
    with_rebuild: list[float] = []
    child_cpu = 0.0
    busy_wall = 0.0
    for w in range(2 * windows):
        running = w % 4 in (1, 2)  # paused, running, running, paused, ...: a drift in other load cancels
        if not child.is_running():
            break
        child.send_signal(signal.SIGCONT if running else signal.SIGSTOP)
        cpu0, wall0 = sum(child.cpu_times()[:2]), time.perf_counter()
        times = _serial_latencies(lambda q: served[0].search(q), queries)
        if running and child.is_running():
            child_cpu += sum(child.cpu_times()[:2]) - cpu0
            busy_wall += time.perf_counter() - wall0
        (with_rebuild if running else without).extend(times)
    if child.is_running():
        child.send_signal(signal.SIGCONT)
        if not complete:
            child.terminate()
    worker.join()
    outcome = result.get("outcome")
    w50, w95 = pct(without, 50), pct(without, 95)
    r50, r95 = pct(with_rebuild, 50), pct(with_rebuild, 95)
    print(f"latency without rebuild (paused): p50 {w50:.1f} ms, p95 {w95:.1f} ms ({len(without)} queries)")
    print(f"latency during rebuild (running): p50 {r50:.1f} ms, p95 {r95:.1f} ms ({len(with_rebuild)} queries); "
          f"p50 {100 * (r50 / w50 - 1):+.0f}%, p95 {100 * (r95 / w95 - 1):+.0f}%")
    print(f"the rebuild process had {100 * child_cpu / max(busy_wall, 1e-9):.0f}% of a core while running")
    if complete and outcome is not None:
        d = outcome.details
        print(f"rebuild {'ok' if outcome.ok else 'FAILED: ' + outcome.message} after {time.perf_counter() - t0:.0f}s wall: "
              f"{d.get('cpu_seconds')} CPU s, of which encoding {d.get('encode_cpu_seconds')} "
              f"({d.get('encoded')} texts encoded, {d.get('reused')} reused)")
    engine.dispose()
    db.unlink(missing_ok=True)


def rebuild_timing(settings: Settings) -> None:
    """The rebuild process alone at normal priority, twice (the second with a warm vector
    memory, as every rebuild after the first): CPU seconds of encoding and of the rest."""
    import json
    import os
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    from bot.curation.form import parse_draft
    from bot.curation.rebuild import entries_to_json
    from bot.curation.store import _draft_entry

    entry = _draft_entry(1, parse_draft(REBUILD_FORM, []), "2026-12-05")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "entries.json"
        path.write_text(entries_to_json([entry]), encoding="utf-8")
        for run in (1, 2):
            out = Path(tmp) / f"run{run}"
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "bot.curation.rebuild", "--nice", "0", "--entries", str(path),
                            "--out", str(out)], env={**os.environ, **settings.child_env(), "OMP_NUM_THREADS": "1"},
                           check=False, capture_output=True)
            d = json.loads((out / "result.json").read_text(encoding="utf-8"))
            print(f"rebuild {run}: {'ok' if d.get('ok') else 'FAILED: ' + str(d.get('message'))}, "
                  f"{time.perf_counter() - t:.0f}s wall, {d.get('cpu_seconds')} CPU s, of which encoding "
                  f"{d.get('encode_cpu_seconds')} ({d.get('encoded')} texts encoded, {d.get('reused')} reused)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--synthetic", type=int, default=20000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--rebuild", action="store_true",
                        help="latency with and without a background rebuild after a console publish")
    parser.add_argument("--windows", type=int, default=5, help="--rebuild: pairs of paused/running windows")
    parser.add_argument("--complete", action="store_true", help="--rebuild: let the rebuild finish and time it")
    parser.add_argument("--rebuild-timing", action="store_true", help="CPU time of a rebuild, alone, twice")
    args = parser.parse_args()
    settings = Settings.from_env()
    queries = [q.text for q in load_questions(eval_dir(settings))][: args.queries]
    if args.rebuild:
        rebuild_bench(settings, queries, args.windows, args.complete)
        return
    if args.rebuild_timing:
        rebuild_timing(settings)
        return

    t = time.perf_counter()
    kb = load_knowledge(knowledge_dir(settings))
    encoder = make_encoder(settings.encoder)
    real = build_index(settings, kb=kb, encoder=encoder)  # encode, calibrate on dev, save
    print(f"real KB: {len(kb)} entries, {len(real.phrasings)} phrasings, build + calibration "
          f"{time.perf_counter() - t:.1f}s, peak RSS {rss_mb():.0f} MB")
    p50, p95 = latency(real, queries)
    print(f"real KB single query: p50 {p50:.1f} ms, p95 {p95:.1f} ms ({len(queries)} eval questions)")
    for clients in (8, 32):
        c50, c95, qps = asyncio.run(concurrent(real, queries, clients))
        print(f"real KB {clients} concurrent: p50 {c50:.1f} ms, p95 {c95:.1f} ms, {qps:.0f} queries/s")

    if args.synthetic:
        big = synthetic(kb, args.synthetic)
        t = time.perf_counter()
        index = KnowledgeIndex.build(big, encoder)
        print(f"synthetic KB: {len(big)} entries, {len(index.phrasings)} phrasings, build {time.perf_counter() - t:.1f}s, "
              f"peak RSS {rss_mb():.0f} MB")
        p50, p95 = latency(index, queries[:100])
        print(f"synthetic KB single query: p50 {p50:.1f} ms, p95 {p95:.1f} ms")


if __name__ == "__main__":
    main()
