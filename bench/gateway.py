"""Gateway benchmark: the WeChat path (signed, AES-sealed XML through the gateway to Rasa)
against the same questions sent straight to Rasa's REST webhook, on a running stack.

    make run            # in one terminal
    .venv/bin/python bench/gateway.py [--questions 120] [--concurrency 1 8]

Prints throughput, p50/p95/p99 latency, the share answered passively, and the gateway's
overhead as a ratio of the direct-to-Rasa figures. (The full load and fault suite is
bench/load, issue 7.)
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import secrets
import statistics
import time

import aiohttp

from bot.config import Settings
from bot.knowledge.evaluation import load_questions
from bot.knowledge.service import eval_dir
from bot.secrets import with_secrets
from bot.wechat.crypto import WeChatCrypto
from bot.wechat.signature import sign
from bot.wechat.xmlio import parse_fields, render_xml

_ids = itertools.count(9_100_000_000_000_000_000 + secrets.randbelow(10**15) * 1000)  # fresh per run: dedupe outlives runs


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


async def via_gateway(session: aiohttp.ClientSession, settings: Settings, crypto: WeChatCrypto,
                      user: str, question: str) -> tuple[float, bool]:
    ts, nonce = str(int(time.time())), secrets.token_hex(5)
    xml = render_xml({"ToUserName": "gh_bench", "FromUserName": user, "CreateTime": int(ts), "MsgType": "text",
                      "Content": question, "MsgId": next(_ids)})
    sealed = parse_fields(crypto.encrypt_message(xml, ts, nonce))
    body = render_xml({"ToUserName": "gh_bench", "Encrypt": sealed["Encrypt"]})
    params = {"timestamp": ts, "nonce": nonce, "signature": sign(settings.wechat_token, ts, nonce),
              "encrypt_type": "aes", "msg_signature": sealed["MsgSignature"]}
    start = time.perf_counter()
    async with session.post(settings.wechat_webhook_url, params=params, data=body.encode(),
                            headers={"Content-Type": "text/xml"}) as resp:
        text = await resp.text()
        assert resp.status == 200, text
    return time.perf_counter() - start, text != "success"


async def via_rasa(session: aiohttp.ClientSession, settings: Settings, user: str, question: str) -> tuple[float, bool]:
    start = time.perf_counter()
    async with session.post(settings.rest_webhook_url, json={"sender": user, "message": question}) as resp:
        await resp.json()
        assert resp.status == 200
    return time.perf_counter() - start, True


async def run(path: str, questions: list[str], concurrency: int, settings: Settings) -> dict[str, float]:
    crypto = WeChatCrypto(settings.wechat_token, settings.wechat_aes_key, settings.wechat_appid)
    queue = list(enumerate(questions))
    results: list[tuple[float, bool]] = []

    async def worker(n: int) -> None:
        async with aiohttp.ClientSession() as session:
            while queue:
                i, q = queue.pop()
                user = f"o_bench_{path}_{n}_{i}"
                if path == "gateway":
                    results.append(await via_gateway(session, settings, crypto, user, q))
                else:
                    results.append(await via_rasa(session, settings, user, q))

    start = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    wall = time.perf_counter() - start
    lat = [r[0] * 1000 for r in results]
    return {"n": len(lat), "per_s": len(lat) / wall, "p50": pct(lat, 50), "p95": pct(lat, 95),
            "p99": pct(lat, 99), "passive": sum(r[1] for r in results) / len(results)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=120)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()
    settings = with_secrets(Settings.from_env())
    questions = [q.text for q in load_questions(eval_dir(settings))][: args.questions]
    print(f"{len(questions)} questions from data/eval; gateway {settings.wechat_webhook_url}, Rasa {settings.rasa_url}")
    print("| path | concurrency | messages | msg/s | p50 ms | p95 ms | p99 ms | passive |")
    print("|---|---|---|---|---|---|---|---|")
    for concurrency in args.concurrency:
        figures = {}
        for path in ("rasa", "gateway"):
            figures[path] = f = asyncio.run(run(path, questions, concurrency, settings))
            print(f"| {path} | {concurrency} | {f['n']} | {f['per_s']:.1f} | {f['p50']:.0f} | {f['p95']:.0f} | "
                  f"{f['p99']:.0f} | {f['passive']:.0%} |")
        ratio = figures["gateway"]["p50"] / figures["rasa"]["p50"]
        print(f"|  | overhead (gateway p50 / Rasa p50) | {ratio:.2f}× |  |  |  |  |  |")


if __name__ == "__main__":
    main()
