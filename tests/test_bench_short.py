"""The short variant of the load, fault and hostile-input suite (`make bench` runs the long one).

The whole stack as `make run` starts it (supervisor, embedded Redis, Rasa, action server,
gateway, WeChat simulator), simulated WeChat users and console agents on it, the baseline
straight to Rasa, the audit of the records, and the action server killed with SIGKILL under
load: nothing lost, nothing doubled, nobody left without an answer.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from bench.load.__main__ import main as bench_main
from bot.config import Settings


def free_block(size: int = 5) -> int:
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + size >= 65535:
            continue
        try:
            for port in range(base, base + size):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no block of free ports")


def test_short_load_fault_suite_loses_nothing(tmp_path: Path, settings: Settings, model: Path, index,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATENTDESK_MODEL_DIR", str(settings.model_dir))
    out = tmp_path / "report"
    code = bench_main(["--short", "--no-fuzz", "--var", str(tmp_path / "var"), "--out", str(out),
                       "--port-base", str(free_block()), "--index-from", str(settings.var_dir)])
    text = (out / "report.md").read_text(encoding="utf-8")
    assert code == 0, text
    assert "nothing lost, nothing doubled, nobody stuck" in text
    assert "PROBLEMS FOUND" not in text and "did not recover" not in text
    assert "| actions |" in text, "the action server was killed and came back"
    for chart in ("latency.png", "throughput.png", "faults.png", "memory.png"):
        assert (out / chart).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
