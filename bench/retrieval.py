"""Retrieval benchmark: query latency (single and concurrent), index build time and memory,
for the real knowledge base and for a synthetic one of N entries (default 20,000).

    .venv/bin/python bench/retrieval.py [--synthetic 20000] [--queries 200]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import resource
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

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
    """As the action server serves: one retrieval thread, many waiting coroutines."""
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--synthetic", type=int, default=20000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    settings = Settings.from_env()
    queries = [q.text for q in load_questions(eval_dir(settings))][: args.queries]

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
