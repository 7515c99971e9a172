"""Figures from a run: throughput, latency percentiles, passive share, errors."""

from __future__ import annotations

import statistics
from dataclasses import dataclass


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 10) - 1]


@dataclass(frozen=True)
class Figures:
    path: str
    messages: int
    seconds: float
    errors: int
    passive: int

    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0

    @property
    def passive_share(self) -> float:
        return self.passive / self.messages if self.messages else 0.0

    def row(self) -> str:
        return (f"| {self.path} | {self.messages} | {self.per_second:.1f} | {self.p50_ms:.0f} | {self.p95_ms:.0f} | "
                f"{self.p99_ms:.0f} | {self.max_ms:.0f} | {self.passive_share:.1%} | {self.errors} |")


HEADER = ("| path | messages | msg/s | p50 ms | p95 ms | p99 ms | max ms | answered passively | errors |\n"
          "|---|---|---|---|---|---|---|---|---|")


def figures(path: str, latencies_s: list[float], seconds: float, errors: int, passive: int) -> Figures:
    ms = [x * 1000 for x in latencies_s]
    return Figures(path, len(ms), seconds, errors, passive, percentile(ms, 50), percentile(ms, 95),
                   percentile(ms, 99), max(ms, default=0.0))
