"""The stack `make run` starts, started for a benchmark in its own var/ and on its own ports.

It is `patentdesk run` itself (the supervisor, with its restart policy), so what is measured
is what users get; only the ports, the data folder and the desk's calendar differ, so a
developer's own `make run` can stay up beside it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from bot.config import PROJECT_ROOT, Settings
from bot.secrets import with_secrets

# the processes of the stack, by what their command line holds
PROCESS_MARKS = {
    "gateway": "bot.gateway",
    "rasa": "bot.runtime.rasa_server",
    "actions": "bot.runtime.action_server",
    "redis": "redis-server",
    "simulator": "bot.simulator",
}

OPEN_DESK = """\
# benchmark desk: open every day, all day, so handed-off users meet agents
timezone: Asia/Shanghai
opens: "00:00"
closes: "23:59"
weekdays: [1, 2, 3, 4, 5, 6, 7]
holidays: []
"""


def bench_env(var_dir: Path, port_base: int, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RASA_", "GATEWAY_", "WECHAT_", "REDIS_URL",
                                                                     "DATABASE_URL", "HANDOFF_"))}
    calendar = var_dir / "desk.yml"
    var_dir.mkdir(parents=True, exist_ok=True)
    calendar.write_text(OPEN_DESK, encoding="utf-8")
    env.update({
        "PATENTDESK_HOME": str(PROJECT_ROOT),
        "PATENTDESK_VAR_DIR": str(var_dir),
        "RASA_PORT": str(port_base), "ACTIONS_PORT": str(port_base + 1), "GATEWAY_PORT": str(port_base + 2),
        "WECHAT_SIM_PORT": str(port_base + 3), "EMBEDDED_REDIS_PORT": str(port_base + 4),
        "HANDOFF_CALENDAR": str(calendar), "HANDOFF_CLAIM_TIMEOUT": "30", "HANDOFF_NOTICE_INTERVAL": "30",
        "PATENTDESK_LOG_LEVEL": "WARNING",
        **(extra or {}),
    })
    return env


@dataclass
class Stack:
    var_dir: Path
    port_base: int = 5600
    extra_env: dict[str, str] = field(default_factory=dict)
    index_from: Path | None = None            # a var/ folder whose built index to copy
    process: subprocess.Popen | None = None
    log_path: Path | None = None

    @property
    def env(self) -> dict[str, str]:
        return bench_env(self.var_dir, self.port_base, self.extra_env)

    def settings(self) -> Settings:
        return with_secrets(Settings.from_env(self.env))

    def start(self, timeout: float = 300.0) -> float:
        """Start `patentdesk run`; returns seconds until it said ready."""
        self._reuse_index()
        self.log_path = self.var_dir / "logs" / "bench-stack.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        offset = log.tell()  # the log is appended to: only what this run writes counts
        started = time.monotonic()
        self.process = subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], env=self.env, cwd=PROJECT_ROOT,
                                        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        start_new_session=True)
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"the stack exited with code {self.process.returncode}; see {self.log_path}")
            with self.log_path.open("rb") as f:
                f.seek(offset)
                if b"ready at http" in f.read():
                    return time.monotonic() - started
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"the stack was not ready within {timeout:.0f}s; see {self.log_path}")

    def _reuse_index(self) -> None:
        """Copy the developer's built index if there is none here: building it is not what we measure
        (the served assistant still checks it against the knowledge base and rebuilds if stale)."""
        mine, theirs = self.var_dir / "index", (self.index_from or PROJECT_ROOT / "var") / "index"
        if not mine.exists() and theirs.exists():
            shutil.copytree(theirs, mine)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def processes(self) -> dict[str, psutil.Process]:
        """The stack's live processes by role (the supervisor and its children)."""
        assert self.process is not None
        found: dict[str, psutil.Process] = {}
        root = psutil.Process(self.process.pid)
        for proc in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                cmd = " ".join(proc.cmdline())
                for role, mark in PROCESS_MARKS.items():
                    if mark in cmd and role not in found:
                        found[role] = proc
                        break
                else:
                    if proc.pid == root.pid:
                        found["supervisor"] = proc
        return found

    def memory_mb(self) -> dict[str, float]:
        out = {}
        for role, proc in self.processes().items():
            with contextlib.suppress(psutil.Error):
                out[role] = proc.memory_info().rss / 2**20
        return out

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system) each process has used so far."""
        out = {}
        for role, proc in self.processes().items():
            with contextlib.suppress(psutil.Error):
                times = proc.cpu_times()
                out[role] = times.user + times.system
        return out

    def kill(self, role: str) -> int:
        """kill -9 one process of the stack (its supervisor restarts it); returns the pid."""
        proc = self.processes()[role]
        os.kill(proc.pid, signal.SIGKILL)
        return proc.pid

    def restarted(self, role: str, old_pid: int) -> bool:
        proc = self.processes().get(role)
        return proc is not None and proc.pid != old_pid
