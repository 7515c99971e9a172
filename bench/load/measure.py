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


@dataclass(frozen=True)
class Scenario:
    """One load run, for the warm/cold table: its figures and what each process spent."""

    name: str
    gateway: Figures
    rasa: Figures
    cpu_ms: dict[str, float]  # CPU ms per message, by process of the stack
    generator_ms: float  # the load generator's own CPU per message (same machine, not ours)


SIDE_BY_SIDE_ROLES = ("actions", "rasa", "gateway")


def side_by_side(scenarios: list[Scenario], encoder_rate: float | None) -> list[str]:
    """The scenarios as columns of one table, so cache-on and cache-off read together."""
    def other(s: Scenario) -> float:
        return sum(v for r, v in s.cpu_ms.items() if r not in SIDE_BY_SIDE_ROLES)

    rows: list[tuple[str, list[str]]] = [
        ("gateway msg/s", [f"{s.gateway.per_second:.1f}" for s in scenarios]),
        ("gateway p50 / p95 ms", [f"{s.gateway.p50_ms:.0f} / {s.gateway.p95_ms:.0f}" for s in scenarios]),
        ("Rasa alone msg/s", [f"{s.rasa.per_second:.1f}" for s in scenarios]),
        ("gateway p50 ÷ Rasa alone p50", [f"{s.gateway.p50_ms / max(s.rasa.p50_ms, 1e-9):.2f}×" for s in scenarios]),
        *((f"CPU ms per message: {role}", [f"{s.cpu_ms.get(role, 0.0):.1f}" for s in scenarios])
          for role in SIDE_BY_SIDE_ROLES),
        ("CPU ms per message: other processes", [f"{other(s):.1f}" for s in scenarios]),
        ("CPU ms per message: all of the stack", [f"{sum(s.cpu_ms.values()):.1f}" for s in scenarios]),
        ("CPU ms per message: load generator (not counted)", [f"{s.generator_ms:.1f}" for s in scenarios]),
    ]
    if encoder_rate:
        rows.append(("share of the encoder-only limit", [f"{s.gateway.per_second / encoder_rate:.0%}" for s in scenarios]))
    head = "| | " + " | ".join(s.name for s in scenarios) + " |"
    rule = "|---|" + "---|" * len(scenarios)
    return [head, rule, *(f"| {label} | {' | '.join(cells)} |" for label, cells in rows)]
