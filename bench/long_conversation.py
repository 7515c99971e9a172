"""Does a message cost more late in a long conversation? CPU per message, block by block.

    .venv/bin/python -m bench.long_conversation [--messages 200] [--block 20]

Starts the stack `make run` starts (own ports and var/bench-long, the developer's built
index reused), lets one user ask `--messages` questions in a row straight to Rasa's REST
channel, and prints, for each block of `--block` messages, the CPU each process spent per
message and the wall time per message. Rasa works on the conversation's current session, so
without a bound (bot/runtime/session_bound.py) the late blocks cost several times the early
ones. The questions cycle through an answer, a type swap, a follow-up and a thanks, each
answered from the action server's query cache after the first round, so what grows is the
conversation, not the encoding.
"""

from __future__ import annotations

import argparse
import json
import time
import urllib.request
import uuid

from bench.load.stack import Stack
from bot.config import PROJECT_ROOT

QUESTIONS = ("年费什么时候交", "发明专利申请费多少", "那实用新型呢", "能减免吗", "谢谢")
ROLES = ("rasa", "actions")


def say(rasa_url: str, sender: str, text: str) -> None:
    body = json.dumps({"sender": sender, "message": text}).encode()
    request = urllib.request.Request(f"{rasa_url}/webhooks/rest/webhook", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as resp:
        resp.read()


def measure(stack: Stack, messages: int, block: int) -> list[dict[str, float]]:
    rasa_url = stack.settings().rasa_urls[0]
    for text in QUESTIONS:  # every answer once, so the blocks compare conversation length only
        say(rasa_url, "warm-up", text)
    sender = f"long-{uuid.uuid4().hex[:8]}"
    rows = []
    for start in range(0, messages, block):
        before, started = stack.cpu_seconds(), time.perf_counter()
        for i in range(start, min(start + block, messages)):
            say(rasa_url, sender, QUESTIONS[i % len(QUESTIONS)])
        wall, after = time.perf_counter() - started, stack.cpu_seconds()
        n = min(start + block, messages) - start
        rows.append({"first": start + 1, "last": start + n, "wall_ms": 1000 * wall / n,
                     **{role: 1000 * (after[role] - before[role]) / n for role in ROLES}})
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.long_conversation", description=__doc__.splitlines()[0])
    p.add_argument("--messages", type=int, default=200)
    p.add_argument("--block", type=int, default=20)
    p.add_argument("--port-base", type=int, default=5700)
    args = p.parse_args(argv)
    stack = Stack(PROJECT_ROOT / "var" / "bench-long", args.port_base,
                  extra_env={"WECHAT_SIMULATOR": "0"})
    stack.start()
    try:
        rows = measure(stack, args.messages, args.block)
    finally:
        stack.stop()
    print("| messages | Rasa CPU ms/msg | action server CPU ms/msg | wall ms/msg |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['first']}-{r['last']} | {r['rasa']:.1f} | {r['actions']:.1f} | {r['wall_ms']:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
