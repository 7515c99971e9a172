"""Posting what a user does to the account's server, the way the platform does, and judging the answer.

The platform's rules are the gateway's contract, so they are copied here rather than
softened: 5 seconds per try, 3 tries of the same XML (same MsgId), `success` or an empty
body means "nothing to show", a valid (and in safe mode correctly sealed) XML reply is
shown, and anything else makes WeChat tell the user the account is out of service.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass, replace
from typing import Any

import aiohttp

from bot.simulator.platform import NOTICE, OPENID_RE, Platform
from bot.wechat.crypto import WeChatCrypto, decrypt_text, encrypt_text
from bot.wechat.errors import WeChatError
from bot.wechat.menu import MENU_BY_KEY
from bot.wechat.replies import SUCCESS, TEXT_LIMIT_BYTES
from bot.wechat.signature import check_signature, sign
from bot.wechat.xmlio import Value, parse_fields, render_xml

log = logging.getLogger(__name__)

KINDS = ("text", "voice", "image", "subscribe", "unsubscribe", "click", "scan", "notice_accept")
MESSAGE_KINDS = ("text", "voice", "image")  # these carry a MsgId; events do not
MAX_CONTENT = 4000
MAX_DELIVERIES = 10
# Outcomes, best first: when N copies of one message are posted the user sees the best one.
OUTCOMES = ("passive", "transfer", "success", "empty", "invalid", "unreachable")


@dataclass(frozen=True)
class UserAction:
    """Something a user does in the chat: a message, a menu click, following or unfollowing."""

    openid: str
    kind: str
    content: str = ""
    recognition: str = ""
    event_key: str = ""
    client_id: str | None = None
    ticket: str = ""  # scan: the QR code's ticket (the platform turns it into subscribe or SCAN)
    template_id: str = ""  # notice_accept: the subscription-notice template the user allowed

    @classmethod
    def from_json(cls, data: Any) -> UserAction:
        """Validated action from /sim/send or the chat page; ValueError says what is wrong."""
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        openid = data.get("openid")
        kind = data.get("type", "text")
        if not isinstance(openid, str) or not OPENID_RE.match(openid):
            raise ValueError("openid must be 1-64 characters of A-Z a-z 0-9 _ -")
        if kind not in KINDS:
            raise ValueError(f"type must be one of {', '.join(KINDS)}")
        fields = {}
        for name in ("content", "recognition", "event_key", "client_id", "ticket", "template_id"):
            value = data.get(name)
            if value is not None and not isinstance(value, str):
                raise ValueError(f"{name} must be a string")
            fields[name] = value or ""
        if kind == "text" and not fields["content"].strip():
            raise ValueError("a text message needs content")
        if kind == "click" and not fields["event_key"]:
            raise ValueError("a click needs event_key")
        if kind == "scan" and not fields["ticket"]:
            raise ValueError("a scan needs the QR code's ticket")
        if kind == "notice_accept" and not fields["template_id"]:
            raise ValueError("notice_accept needs template_id")
        if len(fields["content"]) > MAX_CONTENT or len(fields["recognition"]) > MAX_CONTENT:
            raise ValueError(f"content is limited to {MAX_CONTENT} characters")
        return cls(openid, kind, fields["content"], fields["recognition"], fields["event_key"][:128],
                   fields["client_id"][:64] or None, fields["ticket"][:200], fields["template_id"][:128])

    @property
    def display(self) -> str:
        """How the action appears in the user's own chat history."""
        if self.kind == "text":
            return self.content
        if self.kind == "voice":
            return f"[语音] {self.recognition}".rstrip()
        if self.kind == "click":
            item = MENU_BY_KEY.get(self.event_key)
            return f"[菜单] {item.label if item else self.event_key}"
        if self.kind == "scan":
            return "[扫码]"
        if self.kind == "notice_accept":
            return "[允许接收订阅通知]"
        if self.kind == "subscribe" and self.event_key.startswith("qrscene_"):
            return "[扫码关注]"
        return {"image": "[图片]", "subscribe": "[关注]", "unsubscribe": "[取消关注]"}[self.kind]


def compose(action: UserAction, *, account_id: str, create_time: int, msg_id: str | None) -> dict[str, Value]:
    """The message's XML fields, in the platform's order (integers bare, strings in CDATA)."""
    fields: dict[str, Value] = {
        "ToUserName": account_id,
        "FromUserName": action.openid,
        "CreateTime": create_time,
    }
    if action.kind == "text":
        fields.update(MsgType="text", Content=action.content)
    elif action.kind == "voice":
        fields.update(MsgType="voice", MediaId=secrets.token_urlsafe(48), Format="amr",
                      Recognition=action.recognition)
    elif action.kind == "image":
        media = secrets.token_urlsafe(48)
        fields.update(MsgType="image", PicUrl=f"http://mmbiz.qpic.cn/mmbiz_jpg/{media[:32]}/0", MediaId=media)
    elif action.kind in ("subscribe", "unsubscribe"):
        fields.update(MsgType="event", Event=action.kind)
        if action.event_key:  # a follow through a QR code: qrscene_...
            fields["EventKey"] = action.event_key
            if action.ticket:
                fields["Ticket"] = action.ticket
    elif action.kind == "notice_accept":  # the subscription popup's answer
        fields.update(MsgType="event", Event="subscribe_msg_popup_event", SubscribeMsgPopupEvent=[
            {"TemplateId": action.template_id, "SubscribeStatusString": "accept", "PopupScene": 2}])
    elif action.kind == "scan":  # a follower scanning a code: SCAN with the bare scene
        fields.update(MsgType="event", Event="SCAN", EventKey=action.event_key, Ticket=action.ticket)
    else:
        fields.update(MsgType="event", Event="CLICK", EventKey=action.event_key)
    if msg_id is not None:
        fields["MsgId"] = int(msg_id)
    return fields


def seal(
    xml: str, *, mode: str, token: str, crypto: WeChatCrypto | None, account_id: str,
    openid: str, timestamp: int, nonce: str,
) -> tuple[dict[str, str], str]:
    """Query string and body of the POST: signed always, AES-sealed unless the mode is plain."""
    ts = str(timestamp)
    query = {"signature": sign(token, ts, nonce), "timestamp": ts, "nonce": nonce, "openid": openid}
    if mode == "plain" or crypto is None:
        return query, xml
    encrypted = encrypt_text(crypto.key, crypto.app_id, xml)
    query.update(encrypt_type="aes", msg_signature=sign(token, ts, nonce, encrypted))
    return query, render_xml({"ToUserName": account_id, "Encrypt": encrypted})


@dataclass(frozen=True)
class Verdict:
    outcome: str  # one of OUTCOMES
    text: str | None = None
    error: str | None = None


def judge(body: bytes, *, mode: str, crypto: WeChatCrypto | None, openid: str, account_id: str) -> Verdict:
    """What the platform makes of a 200 response to a message from `openid`."""
    if body == b"":
        return Verdict("empty")
    if body == SUCCESS.encode():
        return Verdict("success")
    try:
        fields = parse_fields(body)
        if "Encrypt" in fields:
            if mode == "plain" or crypto is None:
                return Verdict("invalid", error="encrypted reply, but the account is in plaintext mode")
            missing = [n for n in ("MsgSignature", "TimeStamp", "Nonce") if not fields.get(n)]
            if missing:
                return Verdict("invalid", error=f"encrypted reply without {', '.join(missing)}")
            check_signature(fields["MsgSignature"], crypto.token, fields["TimeStamp"], fields["Nonce"],
                            fields["Encrypt"])
            fields = parse_fields(decrypt_text(crypto.key, crypto.app_id, fields["Encrypt"]))
        elif mode == "safe":
            return Verdict("invalid", error="plaintext reply, but the account is in safe mode")
    except WeChatError as exc:
        return Verdict("invalid", error=f"{type(exc).__name__}: {exc}")
    if fields.get("ToUserName") != openid:
        return Verdict("invalid", error="reply ToUserName is not the user's OpenID")
    if fields.get("FromUserName") != account_id:
        return Verdict("invalid", error="reply FromUserName is not the account id")
    msg_type = fields.get("MsgType", "")
    if msg_type == "transfer_customer_service":
        return Verdict("transfer")
    if msg_type != "text":
        return Verdict("invalid", error=f"reply MsgType {msg_type!r} is not supported by the simulator")
    content = fields.get("Content", "")
    if not content.strip():
        return Verdict("invalid", error="text reply with empty Content (answer `success` instead)")
    raw = content.encode("utf-8")
    if len(raw) > TEXT_LIMIT_BYTES:  # the platform cuts long replies
        content = raw[:TEXT_LIMIT_BYTES].decode("utf-8", "ignore")
    return Verdict("passive", text=content)


class Deliverer:
    """Posts user actions to the gateway and puts what comes back on the user's screen."""

    def __init__(
        self, platform: Platform, *, url: str, token: str, appid: str, aes_key: str, mode: str,
        timeout: float = 5.0, tries: int = 3,
    ) -> None:
        if tries < 1:
            raise ValueError("tries must be at least 1")
        self.platform = platform
        self.url = url
        self.token = token
        self.mode = mode
        self.timeout = timeout
        self.tries = tries
        if mode not in ("plain", "compat", "safe"):
            raise ValueError("mode must be plain, compat or safe")
        self.crypto = WeChatCrypto(token, aes_key, appid) if mode != "plain" else None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def verify(self) -> dict[str, Any]:
        """The GET handshake the platform makes when the server URL is saved in its console."""
        if self._session is None:
            raise RuntimeError("Deliverer.start() was not awaited")
        ts, nonce = str(int(self.platform.clock.wall())), str(secrets.randbelow(10**10))
        echostr = str(secrets.randbelow(10**19))
        query = {"signature": sign(self.token, ts, nonce), "timestamp": ts, "nonce": nonce, "echostr": echostr}
        try:
            async with self._session.get(self.url, params=query) as resp:
                status, body = resp.status, await resp.text(errors="replace")
        except (TimeoutError, aiohttp.ClientError) as exc:
            log.info("verify %s -> unreachable (%s)", self.url, type(exc).__name__)
            return {"ok": False, "status": None, "echostr": echostr, "body": "", "error": type(exc).__name__}
        ok = status == 200 and body == echostr
        log.info("verify %s -> %s (HTTP %d)", self.url, "ok" if ok else "FAILED", status)
        return {"ok": ok, "status": status, "echostr": echostr, "body": body[:200]}

    async def send(self, action: UserAction, deliveries: int = 1) -> dict[str, Any]:
        """Record the action, post it (`deliveries` identical copies at once) and report."""
        if not 1 <= deliveries <= MAX_DELIVERIES:
            raise ValueError(f"deliveries must be between 1 and {MAX_DELIVERIES}")
        platform = self.platform
        if action.kind == "scan":
            action = self._scanned(action)
        if action.kind == "notice_accept":
            platform.accept_notice(action.openid, action.template_id)
        platform.user_action(action.openid, action.kind, action.display, action.client_id)
        create_time = int(platform.clock.now())
        msg_id = platform.next_msg_id() if action.kind in MESSAGE_KINDS else None
        xml = render_xml(compose(action, account_id=platform.account_id, create_time=create_time, msg_id=msg_id))
        query, body = seal(
            xml, mode=self.mode, token=self.token, crypto=self.crypto, account_id=platform.account_id,
            openid=action.openid, timestamp=int(platform.clock.wall()), nonce=str(secrets.randbelow(10**10)),
        )
        copies = await asyncio.gather(*(self._post(query, body, action.openid) for _ in range(deliveries)))
        best = min(copies, key=lambda c: OUTCOMES.index(c["outcome"]))
        outcome = best["outcome"]
        if action.kind != "unsubscribe":  # nothing reaches a user who just unfollowed
            if outcome == "passive":
                platform.show(action.openid, "passive", best["text"])
            elif outcome in ("invalid", "unreachable"):
                platform.show(action.openid, "notice", NOTICE)
        report: dict[str, Any] = {
            "msg_id": msg_id,
            "openid": action.openid,
            "type": action.kind,
            "create_time": create_time,
            "outcome": outcome,
            "passive": [c["text"] for c in copies if c["outcome"] == "passive"],
            "tries": sum(c["tries"] for c in copies),
            "statuses": [s for c in copies for s in c["statuses"]],
            "elapsed": max(c["elapsed"] for c in copies),
            "errors": [c["error"] for c in copies if c["error"]],
        }
        if deliveries > 1:
            report["copies"] = copies
        platform.record_delivery(report)
        log.info("delivery %s %s msg_id=%s -> %s tries=%d statuses=%s %.3fs%s", action.kind, action.openid,
                 msg_id, outcome, report["tries"], report["statuses"], report["elapsed"],
                 f" ({'; '.join(report['errors'])})" if report["errors"] else "")
        return report

    def _scanned(self, action: UserAction) -> UserAction:
        """What a scan becomes: a follow through the code (qrscene_X) for someone who does not
        follow the account yet, a SCAN event (X) for a follower. ValueError: no such code."""
        code = self.platform.qrcode_for(action.ticket)
        user = self.platform.users.get(action.openid)
        if user is None or not user.subscribed:
            return replace(action, kind="subscribe", event_key=f"qrscene_{code.scene}")
        return replace(action, event_key=code.scene)

    async def _post(self, query: dict[str, str], body: str, openid: str) -> dict[str, Any]:
        """One copy: up to `tries` POSTs of the same request until one answers 200."""
        if self._session is None:
            raise RuntimeError("Deliverer.start() was not awaited")
        loop = asyncio.get_running_loop()
        started = loop.time()
        statuses: list[int | str] = []
        error: str | None = None
        verdict: Verdict | None = None
        data = body.encode("utf-8")
        for _ in range(self.tries):
            try:
                async with self._session.post(self.url, params=query, data=data,
                                              headers={"Content-Type": "text/xml"}) as resp:
                    reply = await resp.read()
                    statuses.append(resp.status)
            except TimeoutError:
                statuses.append("timeout")
                error = f"no answer within {self.timeout:g} s"
                continue
            except aiohttp.ClientError as exc:
                statuses.append("error")
                error = f"{type(exc).__name__}: {exc}"
                continue
            if resp.status != 200:
                error = f"HTTP {resp.status}"
                continue
            verdict = judge(reply, mode=self.mode, crypto=self.crypto, openid=openid,
                            account_id=self.platform.account_id)
            error = verdict.error
            break
        if verdict is None:
            verdict = Verdict("unreachable", error=error)
        return {
            "outcome": verdict.outcome,
            "text": verdict.text,
            "tries": len(statuses),
            "statuses": statuses,
            "elapsed": round(loop.time() - started, 3),
            "error": verdict.error,
        }
