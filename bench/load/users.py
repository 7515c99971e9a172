"""Simulated WeChat users: signed, AES-sealed XML over real HTTP, holding a conversation.

Each user greets (sometimes), asks questions from the eval set as users wrote them, picks a
numbered option when offered, and some ask for a person (then wait or leave a message) or
thank the bot and rate it. Every message is timed from POST to reply; a reply of `success`
means the answer comes later as a customer-service message, which the audit looks for in
the simulator's inbox.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import secrets
import time
from dataclasses import dataclass, field

import aiohttp

from bot.config import Settings
from bot.wechat.crypto import WeChatCrypto
from bot.wechat.signature import sign
from bot.wechat.xmlio import parse_fields, render_xml

ACCOUNT = "gh_bench"
_msg_ids = itertools.count(6_000_000_000_000_000_000 + secrets.randbelow(10**15) * 1000)

GREETINGS = ("你好", "您好", "在吗", "hi 你好")
THANKS = ("谢谢", "好的谢谢", "明白了，谢谢")
HUMAN = ("转人工", "我要找人工客服", "人工服务")
PLATFORM_LIMIT = 5.0   # seconds the platform waits for a passive reply, per try
PLATFORM_TRIES = 3     # it delivers a message up to 3 times
LEAVE_MESSAGE = "我想咨询费减备案的进度，麻烦工作人员回复一下，谢谢"


@dataclass
class Sent:
    """One message a simulated user sent, and what came back."""

    user: str
    msg_id: int
    text: str
    kind: str                     # greet | question | choice | human | leave | thanks | rating | goodbye
    started: float                # time.time() when sent
    latency: float = 0.0          # seconds until the HTTP reply
    status: int = 0
    passive: bool = False         # answered in the HTTP reply
    reply: str = ""               # the passive reply's text
    error: str = ""
    tries: int = 1                # the platform's deliveries of this MsgId (it retries on no answer)


@dataclass
class UserLog:
    user: str
    sent: list[Sent] = field(default_factory=list)
    asked_human: bool = False


class WeChatUser:
    def __init__(self, session: aiohttp.ClientSession, settings: Settings, crypto: WeChatCrypto, user: str,
                 timeout: float = 10.0) -> None:
        self.session = session
        self.settings = settings
        self.crypto = crypto
        self.log = UserLog(user)
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.try_timeout = aiohttp.ClientTimeout(total=PLATFORM_LIMIT)

    async def follow(self) -> None:
        """Follow the account through the simulator, as a real user would before writing: the
        platform then knows the user and accepts customer-service messages to them."""
        url = f"http://{self.settings.host}:{self.settings.wechat_sim_port}/sim/send"
        try:
            async with self.session.post(url, json={"openid": self.log.user, "type": "subscribe"},
                                         timeout=self.timeout) as resp:
                await resp.read()
        except (TimeoutError, aiohttp.ClientError):
            pass  # the simulator registers a user before it delivers; a dead gateway does not undo that

    async def say(self, text: str, kind: str, tries: int = 0) -> Sent:
        """Post as the platform does: 5 s per try, and on no answer the same MsgId again, 3 tries
        (`tries` overrides the count, for probes that must not wait)."""
        tries = tries or PLATFORM_TRIES
        msg_id = next(_msg_ids)
        sent = Sent(self.log.user, msg_id, text, kind, time.time())
        self.log.sent.append(sent)
        start = time.perf_counter()
        for attempt in range(tries):
            sent.tries = attempt + 1
            try:
                status, raw = await self._post(msg_id, text)
            except (TimeoutError, aiohttp.ClientError) as exc:
                sent.error = type(exc).__name__
                if attempt + 1 < tries:
                    await asyncio.sleep(max(0.0, start + PLATFORM_LIMIT * (attempt + 1) - time.perf_counter()))
                continue
            sent.status = status
            sent.latency = time.perf_counter() - start
            sent.error = "" if status == 200 else f"HTTP {status}"
            if status == 200 and raw.strip() not in ("success", ""):
                sent.passive = True
                sent.reply = self._open(raw)
            if status == 200 or status < 500:
                return sent
        sent.latency = time.perf_counter() - start
        return sent

    async def _post(self, msg_id: int, text: str) -> tuple[int, str]:
        ts, nonce = str(int(time.time())), secrets.token_hex(5)
        xml = render_xml({"ToUserName": ACCOUNT, "FromUserName": self.log.user, "CreateTime": int(ts),
                          "MsgType": "text", "Content": text, "MsgId": msg_id})
        sealed = parse_fields(self.crypto.encrypt_message(xml, ts, nonce))
        body = render_xml({"ToUserName": ACCOUNT, "Encrypt": sealed["Encrypt"]})
        params = {"timestamp": ts, "nonce": nonce, "signature": sign(self.settings.wechat_token, ts, nonce),
                  "encrypt_type": "aes", "msg_signature": sealed["MsgSignature"]}
        async with self.session.post(self.settings.wechat_webhook_url, params=params, data=body.encode(),
                                     headers={"Content-Type": "text/xml"}, timeout=self.try_timeout) as resp:
            return resp.status, await resp.text()

    def _open(self, raw: str) -> str:
        try:
            fields = parse_fields(raw)
            if "Encrypt" in fields:
                fields = parse_fields(self.crypto.decrypt_message(raw.encode(), fields["MsgSignature"],
                                                                  fields["TimeStamp"], fields["Nonce"]))
            return fields.get("Content", "")
        except Exception as exc:  # a reply we cannot read is a finding, not a crash of the bench
            return f"<unreadable reply: {type(exc).__name__}>"


def offers_options(reply: str) -> bool:
    return "请回复序号" in reply


def offers_leave(reply: str) -> bool:
    return "留言" in reply and "编号" not in reply


async def conversation(user: WeChatUser, questions: list[str], rng: random.Random, human_share: float,
                       think: float) -> UserLog:
    """One realistic conversation; `think` seconds between messages (0 for a closed-loop load)."""

    async def pause() -> None:
        if think:
            await asyncio.sleep(rng.uniform(0.5 * think, 1.5 * think))

    await user.follow()
    if rng.random() < 0.3:
        await user.say(rng.choice(GREETINGS), "greet")
        await pause()
    for _ in range(rng.randint(1, 3)):
        sent = await user.say(rng.choice(questions), "question")
        await pause()
        if sent.passive and offers_options(sent.reply) and rng.random() < 0.5:
            await user.say(str(rng.randint(1, 2)), "choice")
            await pause()
    if rng.random() < human_share:
        user.log.asked_human = True
        sent = await user.say(rng.choice(HUMAN), "human")
        await pause()
        if sent.passive and offers_leave(sent.reply):
            left = await user.say(LEAVE_MESSAGE, "leave")
            if left.passive and "确认留言请回复 1" in left.reply:  # a message is left only on confirmation
                await user.say("1", "leave")
        return user.log
    if rng.random() < 0.3:
        sent = await user.say(rng.choice(THANKS), "thanks")
        await pause()
        if sent.passive and "评价" in sent.reply:
            await user.say(str(rng.randint(1, 3)), "rating")
    return user.log
