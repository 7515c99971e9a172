"""Running child processes as one service: prefixed logs, readiness, clean shutdown.

Each child gets its own process group (so its helpers die with it) and, on Linux, a
parent-death signal, so even a killed supervisor leaves no orphans. When one child
fails to start, the others are stopped and the failure is reported; a child that dies
after it was ready is restarted (up to `restarts` times within `RESTART_WINDOW` seconds, so a
crash loop still stops the service instead of spinning), as systemd's Restart=on-failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("patentdesk.supervisor")

ReadyProbe = Callable[[], Awaitable[bool]]
COLOURS = ("36", "33", "35", "32", "34", "31")
RESTART_WINDOW = 300.0


class ChildFailed(RuntimeError):
    """A child exited or never became ready; the message names it and its exit code."""


@dataclass
class ChildSpec:
    name: str
    argv: list[str]
    ready: ReadyProbe
    env: dict[str, str] | None = None
    cwd: Path | None = None


@dataclass
class Child:
    spec: ChildSpec
    process: asyncio.subprocess.Process
    colour: str
    pump: asyncio.Task | None = None
    tail: list[str] = field(default_factory=list)


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGTERM when the supervisor dies (Linux prctl)."""
    os.setsid()
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Supervisor:
    def __init__(self, out=None, colour: bool | None = None, stop_timeout: float = 15.0, restarts: int = 0) -> None:
        self.children: list[Child] = []
        self._restarts = restarts
        self._restart_times: dict[str, list[float]] = {}
        self._out = out or sys.stdout
        self._colour = self._out.isatty() if colour is None else colour
        self._stop_timeout = stop_timeout
        self._width = 8

    # --- output -------------------------------------------------------------------
    def say(self, name: str, line: str, colour: str = "1") -> None:
        prefix = f"{name:>{self._width}} |"
        if self._colour:
            prefix = f"\x1b[{colour}m{prefix}\x1b[0m"
        self._out.write(f"{prefix} {line}\n")
        self._out.flush()

    async def _pump(self, child: Child) -> None:
        assert child.process.stdout is not None
        while True:
            raw = await child.process.stdout.readline()
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip()
            if line:
                child.tail = (child.tail + [line])[-20:]
                self.say(child.spec.name, line, child.colour)

    # --- lifecycle ----------------------------------------------------------------
    async def start(self, spec: ChildSpec, replacing: Child | None = None) -> Child:
        self._width = max(self._width, len(spec.name))
        process = await asyncio.create_subprocess_exec(
            *spec.argv, cwd=spec.cwd, env=spec.env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        if replacing is not None:  # same place in the stop order, same colour
            child = Child(spec, process, replacing.colour)
            self.children[self.children.index(replacing)] = child
        else:
            child = Child(spec, process, COLOURS[len(self.children) % len(COLOURS)])
            self.children.append(child)
        child.pump = asyncio.create_task(self._pump(child))
        self.say("run", f"started {spec.name} (pid {process.pid})")
        return child

    async def wait_ready(self, child: Child, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        started = time.monotonic()
        while time.monotonic() < deadline:
            if child.process.returncode is not None:
                raise ChildFailed(f"{child.spec.name} exited with code {child.process.returncode} before it was ready")
            with contextlib.suppress(Exception):
                if await child.spec.ready():
                    self.say("run", f"{child.spec.name} ready after {time.monotonic() - started:.1f}s")
                    return
            await asyncio.sleep(0.3)
        raise ChildFailed(f"{child.spec.name} was not ready within {timeout:.0f}s")

    async def start_all(self, specs: list[ChildSpec], timeout: float) -> None:
        """Start every child, then wait until all are ready (they start in parallel)."""
        children = [await self.start(s) for s in specs]
        await asyncio.gather(*(self.wait_ready(c, timeout) for c in children))

    async def watch(self, stop: asyncio.Event) -> Child | None:
        """Block until `stop` is set (returns None) or a child exits (returns it)."""
        waits = {asyncio.create_task(c.process.wait()): c for c in self.children}
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([*waits, stopper], return_when=asyncio.FIRST_COMPLETED)
        for task in [*waits, stopper]:
            if task not in done:
                task.cancel()
        for task in done:
            if task in waits:
                return waits[task]
        return None

    async def restart(self, failed: Child, timeout: float) -> bool:
        """Start a dead child again unless it has died too often lately (then False)."""
        now = time.monotonic()
        recent = [t for t in self._restart_times.get(failed.spec.name, []) if now - t < RESTART_WINDOW]
        if len(recent) >= self._restarts:
            return False
        self._restart_times[failed.spec.name] = [*recent, now]
        if failed.pump:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(failed.pump, 2)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(failed.process.pid, signal.SIGKILL)  # helpers left in its group
        self.say("run", f"{failed.spec.name} exited with code {failed.process.returncode}; restarting it "
                        f"({len(recent) + 1}/{self._restarts} in {RESTART_WINDOW:.0f}s)", "33")
        child = await self.start(failed.spec, replacing=failed)
        await self.wait_ready(child, timeout)
        return True

    async def stop_all(self) -> None:
        """Stop the last started first, each before the next, so the gateway can still flush
        its buffers into Redis before Redis goes; SIGTERM, then SIGKILL what remains."""
        for child in reversed(self.children):
            if child.process.returncode is None:
                self.say("run", f"stopping {child.spec.name}")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(child.process.wait(), self._stop_timeout)
            except TimeoutError:
                self.say("run", f"{child.spec.name} did not stop in {self._stop_timeout:.0f}s; killing it")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.process.pid, signal.SIGKILL)
                await child.process.wait()
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.process.pid, signal.SIGKILL)  # stragglers in the group
            if child.pump:
                with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(child.pump, 2)

    async def serve(self, specs: list[ChildSpec], timeout: float, on_ready: Callable[[], None],
                    stop: asyncio.Event | None = None) -> int:
        """Run until Ctrl-C/SIGTERM (exit 0) or a child fails (exit 1, the rest stopped)."""
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        code = 0
        try:
            start = asyncio.create_task(self.start_all(specs, timeout))
            stopper = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait([start, stopper], return_when=asyncio.FIRST_COMPLETED)
            if start in done:
                stopper.cancel()
                start.result()
                on_ready()
                failed = await self.watch(stop)
                while failed is not None and await self.restart(failed, timeout):
                    failed = await self.watch(stop)
                if failed is not None:
                    self.say("run", f"{failed.spec.name} exited unexpectedly with code {failed.process.returncode}; stopping the rest", "31")
                    code = 1
            else:
                start.cancel()
                with contextlib.suppress(asyncio.CancelledError, ChildFailed):
                    await start
        except ChildFailed as exc:
            self.say("run", f"{exc}; stopping the rest", "31")
            code = 1
        finally:
            await self.stop_all()
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(sig)
        self.say("run", "all processes stopped")
        return code
