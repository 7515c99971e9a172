"""The benchmark report: Markdown with the figures, and PNG charts beside it."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from bench.load.users import Sent  # noqa: E402


def latency_chart(path: Path, gateway: list[float], baseline: list[float]) -> None:
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, values in (("gateway (WeChat, AES)", gateway), ("Rasa REST (baseline)", baseline)):
        if values:
            ms = sorted(v * 1000 for v in values)
            ax.plot(ms, [i / len(ms) for i in range(1, len(ms) + 1)], label=label)
    ax.axvline(1000, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xlabel("reply latency (ms)")
    ax.set_ylabel("share of messages")
    ax.set_title("Reply latency, cumulative")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def throughput_chart(path: Path, sent: list[Sent], kills: list[tuple[str, float]] | None = None) -> None:
    if not sent:
        return
    t0 = min(s.started for s in sent)
    seconds: dict[int, int] = {}
    for s in sent:
        if not s.error:
            second = int(s.started + s.latency - t0)
            seconds[second] = seconds.get(second, 0) + 1
    xs = list(range(max(seconds) + 1))
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(xs, [seconds.get(x, 0) for x in xs])
    for name, at in kills or []:
        ax.axvline(at - t0, color="red", linewidth=0.8)
        ax.text(at - t0, ax.get_ylim()[1] * 0.9, name, rotation=90, fontsize=8, color="red")
    ax.set_xlabel("seconds into the run")
    ax.set_ylabel("replies per second")
    ax.set_title("Throughput over time")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def memory_chart(path: Path, rest: dict[str, float], load: dict[str, float]) -> None:
    roles = sorted(set(rest) | set(load))
    fig, ax = plt.subplots(figsize=(7, 3.5))
    xs = range(len(roles))
    ax.bar([x - 0.2 for x in xs], [rest.get(r, 0) for r in roles], width=0.4, label="at rest")
    ax.bar([x + 0.2 for x in xs], [load.get(r, 0) for r in roles], width=0.4, label="under load (peak)")
    ax.set_xticks(list(xs), roles)
    ax.set_ylabel("resident memory (MB)")
    ax.set_title("Memory per process")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def memory_table(rest: dict[str, float], load: dict[str, float]) -> list[str]:
    lines = ["| process | at rest MB | under load MB (peak) |", "|---|---|---|"]
    for role in sorted(set(rest) | set(load)):
        lines.append(f"| {role} | {rest.get(role, 0):.0f} | {load.get(role, 0):.0f} |")
    return lines
