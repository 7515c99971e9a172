"""`patentdesk shell`: chat with the assistant in the terminal, as a WeChat user would."""

from __future__ import annotations

import asyncio
import sys
import uuid

from bot.config import Settings
from bot.rasa_client import RasaClient, RasaUnavailable
from bot.runtime.local_stack import rasa_endpoint

QUIT = {"/quit", "/exit", "/q"}


async def chat(settings: Settings, stdin=None, stdout=None) -> int:
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    loop = asyncio.get_running_loop()
    sender = f"shell-{uuid.uuid4().hex[:8]}"

    def show(line: str) -> None:
        stdout.write(line + "\n")
        stdout.flush()

    show("正在连接助手……（输入 /quit 退出）")
    async with rasa_endpoint(settings) as url, RasaClient(url, timeout=60) as client:
        show(f"已连接 {url}。请输入您的问题：")
        while True:
            stdout.write("您> ")
            stdout.flush()
            line = await loop.run_in_executor(None, stdin.readline)
            if not line:
                break
            text = line.strip()
            if not text:
                continue
            if text in QUIT:
                break
            try:
                reply = await client.send(sender, text, {"channel": "cli-shell"})
            except RasaUnavailable as exc:
                show(f"助手> 抱歉，服务暂时不可用（{exc}），请稍后再试。")
                continue
            for message in reply.texts or ["（助手没有回复）"]:
                show("助手> " + message.replace("\n", "\n      "))
    show("再见！")
    return 0
