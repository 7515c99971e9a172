"""The encoder's own limit on this machine, measured in the same run as the load.

A cold question costs at least one e5 encoding; e5 alone, one single-threaded process per
core, each encoding distinct questions as fast as it can, is the most any stack that encodes
every question could do here. The cold throughput is reported as a share of it (issue 17).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class EncoderLimit:
    processes: int
    questions_per_second: float
    cpu_ms_per_question: float

    def row(self) -> str:
        return (f"e5 alone, {self.processes} single-threaded processes: {self.questions_per_second:.1f} "
                f"questions/s, {self.cpu_ms_per_question:.1f} ms CPU per question")


def _worker(spec: str, questions: list[str], seconds: float, start: mp.synchronize.Event,
            results: mp.Queue) -> None:
    os.environ["OMP_NUM_THREADS"] = "1"
    from threadpoolctl import threadpool_limits

    from bot.knowledge.encoders import make_encoder

    encoder = make_encoder(spec)
    encoder.encode(questions[:2])  # loads the engine and its pools
    threadpool_limits(1)
    start.wait()
    done, cpu0, t0 = 0, time.process_time(), time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        encoder.encode([questions[done % len(questions)]])  # one question per call, as served
        done += 1
    results.put((done, time.perf_counter() - t0, time.process_time() - cpu0))


def measure(spec: str, questions: list[str], seconds: float = 15.0,
            processes: int | None = None) -> EncoderLimit:
    """Encode distinct questions in `processes` (default: one per core) for `seconds`."""
    n = processes or os.cpu_count() or 1
    ctx = mp.get_context("spawn")
    start, results = ctx.Event(), ctx.Queue()
    # each process takes its own slice, so no two encode the same text at the same time
    workers = [ctx.Process(target=_worker, args=(spec, questions[i::n] or questions, seconds, start, results))
               for i in range(n)]
    for w in workers:
        w.start()
    time.sleep(1.0)
    start.set()
    got = [results.get(timeout=seconds + 300) for _ in workers]
    for w in workers:
        w.join(timeout=30)
    done = sum(g[0] for g in got)
    rate = sum(g[0] / g[1] for g in got)
    cpu = sum(g[2] for g in got)
    return EncoderLimit(n, rate, cpu * 1000 / max(done, 1))
