"""The platform's state with no IO: users and their chats, access tokens, windows, quotas, faults.

Kept apart from HTTP so the rules the gateway must live with (the 48-hour window, the
per-message quota, the token grace period) read as plain code, driven by a clock that a
test can move forward instead of waiting two days.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.wechat.menu import check_payload
from bot.wechat.replies import TEXT_LIMIT_BYTES

log = logging.getLogger(__name__)

WINDOW_SECONDS = 48 * 3600
TOKEN_TTL = 7200
TOKEN_GRACE = 300
CUSTOM_QUOTA = 5
# What WeChat shows the user when the account's server answers badly or not at all.
NOTICE = "该公众号暂时无法提供服务，请稍后再试"
ACCOUNT_NAME = "专利事务咨询"

OPENID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

# errcode -> errmsg, worded as the real API words them.
ERRMSG: dict[int, str] = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40008: "invalid message type",
    40013: "invalid appid",
    40016: "invalid button size",
    40017: "invalid button type",
    40018: "invalid button name size",
    40019: "invalid button key size",
    40023: "invalid sub button size",
    40025: "invalid sub button name size",
    40055: "invalid button url domain",
    40125: "invalid appsecret",
    40164: "invalid ip, not in whitelist",
    41002: "appid missing",
    41004: "appsecret missing",
    42001: "access_token expired",
    43004: "require subscribe",
    44002: "empty post data",
    45002: "content size out of limit",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
    46003: "menu no exist",
    40053: "invalid action info, please check document",
    40037: "invalid template_id",
    43101: "user refuse to accept the msg",
    47003: "argument invalid! data.thing1.value invalid",
    40097: "invalid args",
    47001: "data format error",
}


class PlatformError(Exception):
    """One errcode the API answers with (HTTP 200 and a JSON body, as the real one does)."""

    def __init__(self, errcode: int, errmsg: str | None = None) -> None:
        self.errcode = errcode
        self.errmsg = errmsg or ERRMSG.get(errcode, "simulated error")
        super().__init__(f"{self.errcode} {self.errmsg}")

    def to_json(self) -> dict[str, Any]:
        # the real API appends a request id; clients must compare errcode, never errmsg
        rid = "-".join(secrets.token_hex(4) for _ in range(3))
        return {"errcode": self.errcode, "errmsg": f"{self.errmsg} rid: {rid}"}


class SimClock:
    """Simulator time = a base clock plus an offset that only moves forward.

    `now()` drives CreateTime, the 48-hour window and token expiry; `wall()` (the base
    clock) signs requests, so the gateway's replay window still accepts them after the
    simulated clock has jumped two days ahead.
    """

    def __init__(self, base: Callable[[], float] = time.time) -> None:
        self.base = base
        self.offset = 0.0

    def now(self) -> float:
        return self.base() + self.offset

    def wall(self) -> float:
        return self.base()

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self.offset += seconds
        return self.now()


@dataclass
class Entry:
    """One line of a user's chat: what they sent ("user") or what reached them."""

    id: int
    via: str  # user | passive | custom | notice (the platform's apology) | subscription (订阅通知)
    text: str
    at: float
    kind: str = "text"  # for via=user: text, voice, image, subscribe, unsubscribe, click
    kf_account: str | None = None
    client_id: str | None = None

    def inbox_json(self) -> dict[str, Any]:
        item: dict[str, Any] = {"via": self.via, "text": self.text, "at": self.at}
        if self.kf_account:
            item["kf_account"] = self.kf_account
        return item

    def chat_json(self) -> dict[str, Any]:
        item = self.inbox_json()
        item.update(id=self.id, kind=self.kind)
        if self.client_id:
            item["client_id"] = self.client_id
        return item


@dataclass
class User:
    openid: str
    nickname: str = ""
    subscribed: bool = True
    last_message_at: float | None = None
    custom_since_message: int = 0
    chat: list[Entry] = field(default_factory=list)


@dataclass
class Token:
    value: str
    issued_at: float
    expires_at: float
    superseded_at: float | None = None  # when a newer token's grace period ends


@dataclass
class QRCode:
    """A QR code the account made (qrcode/create): scanning it follows (qrscene_X) or SCANs (X)."""

    ticket: str
    scene: str
    url: str
    permanent: bool
    expires_at: float | None


QR_ACTIONS = {"QR_SCENE": (False, "scene_id"), "QR_STR_SCENE": (False, "scene_str"),
              "QR_LIMIT_SCENE": (True, "scene_id"), "QR_LIMIT_STR_SCENE": (True, "scene_str")}
QR_MAX_EXPIRE = 30 * 86400

# The demo account's subscription-notice templates (订阅通知 › 我的模板): id -> keywords.
TEMPLATES: dict[str, tuple[str, ...]] = {"patentdesk_reply_notice": ("thing1", "thing2", "time3")}
# What a keyword's value may be (the platform's limits per keyword kind).
THING_MAX, PHRASE_MAX, STRING_MAX = 20, 5, 32
TIME_RE = re.compile(r"^\d{4}[-年/]\d{1,2}[-月/]\d{1,2}日?( \d{1,2}:\d{2}(:\d{2})?)?$")


@dataclass
class Faults:
    api_errors: deque[int] = field(default_factory=deque)
    api_down: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"api_errors": list(self.api_errors), "api_down": self.api_down}


Listener = Callable[[str, dict[str, Any]], None]


class Platform:
    """Everything the platform remembers, and the API rules applied to it."""

    def __init__(
        self,
        *,
        appid: str,
        appsecret: str,
        clock: SimClock | None = None,
        token_ttl: int = TOKEN_TTL,
        token_grace: float = TOKEN_GRACE,
        window: float = WINDOW_SECONDS,
        custom_quota: int = CUSTOM_QUOTA,
        menu: dict[str, Any] | None = None,
        ip_whitelist: tuple[str, ...] | None = None,
        templates: dict[str, tuple[str, ...]] | None = None,
    ) -> None:
        self.templates = dict(TEMPLATES if templates is None else templates)
        self.appid = appid
        self.initial_menu = menu
        # None: any caller may fetch a token; else only these addresses (the account's IP whitelist)
        self.ip_whitelist = ip_whitelist
        self.appsecret = appsecret
        self.clock = clock or SimClock()
        self.token_ttl = token_ttl
        self.token_grace = token_grace
        self.window = window
        self.custom_quota = custom_quota
        # stable across restarts, so a gateway's logs keep naming the same account
        self.account_id = "gh_" + hashlib.sha1(appid.encode("utf-8")).hexdigest()[:12]
        self._listeners: list[Listener] = []
        self._reset_state()

    def _reset_state(self) -> None:
        self.users: dict[str, User] = {}
        self.tokens: dict[str, Token] = {}
        self.faults = Faults()
        self.counters: Counter[str] = Counter()
        self.deliveries: deque[dict[str, Any]] = deque(maxlen=200)
        self.menu: dict[str, Any] | None = self.initial_menu
        self.qrcodes: dict[str, QRCode] = {}
        self.ticket: tuple[str, float] | None = None  # the jsapi_ticket and when it expires
        # one-time subscriptions accepted and not used yet: (openid, template_id) -> count
        self.subscriptions: Counter[tuple[str, str]] = Counter()
        self._entry_seq = 0
        # MsgIds look like the platform's: 64-bit, about 19 digits, increasing
        self._msg_id = 6_000_000_000_000_000_000 + secrets.randbelow(10**17)

    def reset(self) -> None:
        """A fresh platform for the next test: no users, tokens, faults, counters or clock offset."""
        self.clock.offset = 0.0
        self._reset_state()

    # -- listeners (the app fans these out to WebSockets) -------------------------------

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _emit(self, openid: str, event: dict[str, Any]) -> None:
        for listener in list(self._listeners):
            try:
                listener(openid, event)
            except Exception:  # a broken listener must not break the API call
                log.exception("listener failed for %s", openid)

    # -- users and chats ----------------------------------------------------------------

    def ensure_user(self, openid: str, nickname: str | None = None) -> User:
        if not OPENID_RE.match(openid):
            raise ValueError("openid must be 1-64 characters of A-Z a-z 0-9 _ -")
        user = self.users.get(openid)
        if user is None:
            user = self.users[openid] = User(openid)
        if nickname is not None:
            user.nickname = nickname.strip()[:32]
        return user

    def next_msg_id(self) -> str:
        self._msg_id += 1 + secrets.randbelow(1000)
        return str(self._msg_id)

    def _append(self, user: User, via: str, text: str, **extra: Any) -> Entry:
        self._entry_seq += 1
        entry = Entry(self._entry_seq, via, text, round(self.clock.now(), 3), **extra)
        user.chat.append(entry)
        self._emit(user.openid, {"type": "message", "entry": entry.chat_json()})
        return entry

    def user_action(self, openid: str, kind: str, text: str, client_id: str | None = None) -> Entry:
        """Record what the user did; a message, click or follow reopens the 48-hour window."""
        user = self.ensure_user(openid)
        if kind == "unsubscribe":
            user.subscribed = False
            self._emit(openid, {"type": "state", "subscribed": False})
        else:
            user.last_message_at = self.clock.now()
            user.custom_since_message = 0
            if kind == "subscribe":
                user.subscribed = True
                self._emit(openid, {"type": "state", "subscribed": True})
        return self._append(user, "user", text, kind=kind, client_id=client_id)

    def show(self, openid: str, via: str, text: str, kf_account: str | None = None) -> Entry:
        """Put a message on the user's screen (passive reply, customer-service message, notice)."""
        return self._append(self.ensure_user(openid), via, text, kf_account=kf_account)

    def inbox(self, openid: str) -> list[dict[str, Any]]:
        user = self.users.get(openid)
        return [e.inbox_json() for e in user.chat if e.via != "user"] if user else []

    def chat(self, openid: str) -> list[dict[str, Any]]:
        user = self.users.get(openid)
        return [e.chat_json() for e in user.chat] if user else []

    # -- access tokens ------------------------------------------------------------------

    def issue_token(self, grant_type: str, appid: str, secret: str, caller_ip: str = "127.0.0.1") -> dict[str, Any]:
        """GET /cgi-bin/token: a new token; the previous ones keep working for the grace period."""
        try:
            if self.ip_whitelist is not None and caller_ip not in self.ip_whitelist:
                raise PlatformError(40164, f"invalid ip {caller_ip} ipv6 ::ffff:{caller_ip}, not in whitelist")
            if grant_type != "client_credential":
                raise PlatformError(40002)
            if not appid:
                raise PlatformError(41002)
            if appid != self.appid:
                raise PlatformError(40013)
            if not secret:
                raise PlatformError(41004)
            if not secrets.compare_digest(secret.encode(), self.appsecret.encode()):
                raise PlatformError(40125)
        except PlatformError as exc:
            self.counters[f"api.token.{exc.errcode}"] += 1
            raise
        now = self.clock.now()
        for old in self.tokens.values():
            if old.superseded_at is None:
                old.superseded_at = now + self.token_grace
        value = f"{secrets.randbelow(90) + 10}_" + secrets.token_urlsafe(104)[:137]
        self.tokens[value] = Token(value, now, now + self.token_ttl)
        self._forget_dead_tokens(now)
        self.counters["api.token.ok"] += 1
        return {"access_token": value, "expires_in": self.token_ttl}

    def _forget_dead_tokens(self, now: float) -> None:
        # keep dead tokens a day so their callers still get the precise errcode
        dead = [v for v, t in self.tokens.items() if min(t.expires_at, t.superseded_at or t.expires_at) < now - 86400]
        for value in dead:
            del self.tokens[value]

    def check_token(self, value: str) -> None:
        if not value:
            raise PlatformError(40001)
        token = self.tokens.get(value)
        now = self.clock.now()
        if token is None or (token.superseded_at is not None and now >= token.superseded_at):
            raise PlatformError(40001)
        if now >= token.expires_at:
            raise PlatformError(42001)

    def expire_tokens(self) -> int:
        now = self.clock.now()
        for token in self.tokens.values():
            token.expires_at = min(token.expires_at, now)
        return len(self.tokens)

    # -- customer-service messages ------------------------------------------------------

    def custom_send(self, access_token: str, body: bytes) -> dict[str, Any]:
        """POST /cgi-bin/message/custom/send, rule by rule in the platform's order."""
        try:
            self.check_token(access_token)
            if self.faults.api_errors:
                raise PlatformError(self.faults.api_errors.popleft())
            if not body.strip():
                raise PlatformError(44002)
            try:
                payload = json.loads(body)
            except (ValueError, UnicodeDecodeError) as exc:
                raise PlatformError(47001) from exc
            if not isinstance(payload, dict):
                raise PlatformError(47001)
            touser = payload.get("touser")
            msgtype = payload.get("msgtype")
            if not isinstance(touser, str) or not isinstance(msgtype, str):
                raise PlatformError(47001)
            if msgtype != "text":
                raise PlatformError(40008)
            text = payload.get("text")
            content = text.get("content") if isinstance(text, dict) else None
            if not isinstance(content, str):
                raise PlatformError(47001)
            kf = payload.get("customservice")
            kf_account = kf.get("kf_account") if isinstance(kf, dict) else None
            user = self.users.get(touser)
            if user is None:
                raise PlatformError(40003)
            if not user.subscribed:
                raise PlatformError(43004)
            if user.last_message_at is None or self.clock.now() - user.last_message_at > self.window:
                raise PlatformError(45015)
            if len(content.encode("utf-8")) > TEXT_LIMIT_BYTES:
                raise PlatformError(45002)
            if user.custom_since_message >= self.custom_quota:
                raise PlatformError(45047)
        except PlatformError as exc:
            self.counters[f"api.custom_send.{exc.errcode}"] += 1
            raise
        user.custom_since_message += 1
        self.counters["api.custom_send.ok"] += 1
        self.show(touser, "custom", content, kf_account=kf_account if isinstance(kf_account, str) else None)
        return {"errcode": 0, "errmsg": "ok"}

    # -- the custom menu ------------------------------------------------------------------

    def _json_body(self, body: bytes) -> Any:
        if not body.strip():
            raise PlatformError(44002)
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise PlatformError(47001) from exc

    def menu_create(self, access_token: str, body: bytes) -> dict[str, Any]:
        """POST /cgi-bin/menu/create: replaces the whole menu, or says which rule it breaks."""
        try:
            self.check_token(access_token)
            payload = self._json_body(body)
            problems = check_payload(payload)
            if problems:
                raise PlatformError(problems[0][0])
        except PlatformError as exc:
            self.counters[f"api.menu_create.{exc.errcode}"] += 1
            raise
        self.menu = {"button": payload["button"]}
        self.counters["api.menu_create.ok"] += 1
        self.broadcast({"type": "menu", "menu": self.menu_items()})
        return {"errcode": 0, "errmsg": "ok"}

    def menu_get(self, access_token: str) -> dict[str, Any]:
        """GET /cgi-bin/menu/get: {"menu": {"button": [...]}} (sub_button always present), or 46003."""
        self.check_token(access_token)
        if self.menu is None:
            raise PlatformError(46003)
        buttons = [{**b, "sub_button": list(b.get("sub_button") or [])} for b in self.menu["button"]]
        return {"menu": {"button": buttons}}

    def menu_delete(self, access_token: str) -> dict[str, Any]:
        self.check_token(access_token)
        self.menu = None
        self.broadcast({"type": "menu", "menu": []})
        return {"errcode": 0, "errmsg": "ok"}

    def menu_items(self) -> list[dict[str, str]]:
        """The menu as the chat page draws it: one entry per clickable button, with its group."""
        items = []
        for button in (self.menu or {}).get("button", []):
            for sub in button.get("sub_button") or [button]:
                items.append({"key": sub.get("key", ""), "label": sub.get("name", ""), "type": sub.get("type", ""),
                              "group": button.get("name", "") if button.get("sub_button") else ""})
        return items

    # -- QR codes with a scene ------------------------------------------------------------

    def qrcode_create(self, access_token: str, body: bytes) -> dict[str, Any]:
        """POST /cgi-bin/qrcode/create: a temporary or permanent code carrying a scene value."""
        try:
            self.check_token(access_token)
            payload = self._json_body(body)
            action = payload.get("action_name") if isinstance(payload, dict) else None
            if action not in QR_ACTIONS:
                raise PlatformError(40097)
            permanent, kind = QR_ACTIONS[action]
            info = payload.get("action_info")
            scene_info = info.get("scene") if isinstance(info, dict) else None
            value = scene_info.get(kind) if isinstance(scene_info, dict) else None
            if kind == "scene_str":
                if not isinstance(value, str) or not 1 <= len(value) <= 64:
                    raise PlatformError(40053)
            elif isinstance(value, bool) or not isinstance(value, int) or not (
                    1 <= value <= 100_000 if permanent else 1 <= value <= 2**32 - 1):
                raise PlatformError(40053)
            expire = payload.get("expire_seconds", 60) if not permanent else None
            if expire is not None and (not isinstance(expire, int) or not 1 <= expire):
                raise PlatformError(40097)
        except PlatformError as exc:
            self.counters[f"api.qrcode_create.{exc.errcode}"] += 1
            raise
        scene = str(value)
        for code in self.qrcodes.values():  # a permanent code for a scene is always the same code
            if permanent and code.permanent and code.scene == scene:
                return {"ticket": code.ticket, "url": code.url}
        ticket = secrets.token_urlsafe(72)
        url = f"http://weixin.qq.com/q/{secrets.token_urlsafe(18)}"
        expires = None if expire is None else self.clock.now() + min(expire, QR_MAX_EXPIRE)
        self.qrcodes[ticket] = QRCode(ticket, scene, url, permanent, expires)
        self.counters["api.qrcode_create.ok"] += 1
        body_out: dict[str, Any] = {"ticket": ticket, "url": url}
        if expire is not None:
            body_out["expire_seconds"] = min(int(expire), QR_MAX_EXPIRE)
        return body_out

    def qrcode_for(self, ticket: str) -> QRCode:
        """The code a ticket names, if it exists and has not expired (ValueError otherwise)."""
        code = self.qrcodes.get(ticket)
        if code is None or (code.expires_at is not None and self.clock.now() >= code.expires_at):
            raise ValueError("no such QR code (unknown or expired ticket)")
        return code

    # -- the JS-SDK ticket -----------------------------------------------------------------

    def jsapi_ticket(self, access_token: str, kind: str) -> dict[str, Any]:
        """GET /cgi-bin/ticket/getticket?type=jsapi: the ticket wx.config signatures use."""
        self.check_token(access_token)
        if kind != "jsapi":
            raise PlatformError(40097)
        if self.ticket is None or self.clock.now() >= self.ticket[1]:
            self.ticket = (secrets.token_urlsafe(64), self.clock.now() + TOKEN_TTL)
        return {"errcode": 0, "errmsg": "ok", "ticket": self.ticket[0], "expires_in": TOKEN_TTL}

    # -- subscription notices (订阅通知) ---------------------------------------------------

    def accept_notice(self, openid: str, template_id: str) -> None:
        """The user tapped "允许" for a template: one notice of it may now be sent to them."""
        if template_id not in self.templates:
            raise ValueError("no such notice template on this account")
        self.ensure_user(openid)
        self.subscriptions[(openid, template_id)] += 1

    def bizsend(self, access_token: str, body: bytes) -> dict[str, Any]:
        """POST /cgi-bin/message/subscribe/bizsend: one notice per accepted subscription,
        every keyword of the template filled within its kind's limits; no 48-hour window."""
        try:
            self.check_token(access_token)
            payload = self._json_body(body)
            if not isinstance(payload, dict):
                raise PlatformError(47001)
            touser, template_id = payload.get("touser"), payload.get("template_id")
            if not isinstance(touser, str) or touser not in self.users:
                raise PlatformError(40003)
            user = self.users[touser]
            if not isinstance(template_id, str) or template_id not in self.templates:
                raise PlatformError(40037)
            data = payload.get("data")
            values = _notice_values(self.templates[template_id], data)
            page = payload.get("page", "")
            if page and (not isinstance(page, str) or not page.startswith(("http://", "https://"))):
                raise PlatformError(47003, "argument invalid! page invalid")
            if not user.subscribed or self.subscriptions[(touser, template_id)] <= 0:
                raise PlatformError(43101)
        except PlatformError as exc:
            self.counters[f"api.bizsend.{exc.errcode}"] += 1
            raise
        self.subscriptions[(touser, template_id)] -= 1
        self.counters["api.bizsend.ok"] += 1
        text = "\n".join(values) + (f"\n{page}" if page else "")
        self.show(touser, "subscription", text)
        return {"errcode": 0, "errmsg": "ok"}

    def broadcast(self, event: dict[str, Any]) -> None:
        for openid in list(self.users):
            self._emit(openid, event)

    # -- faults and statistics ----------------------------------------------------------

    def set_faults(self, api_errors: list[int] | None = None, api_down: bool | None = None) -> dict[str, Any]:
        if api_errors is not None:
            self.faults.api_errors = deque(api_errors)
        if api_down is not None:
            self.faults.api_down = api_down
        return self.faults.to_json()

    def record_delivery(self, report: dict[str, Any]) -> None:
        self.counters["deliveries"] += 1
        self.counters["delivery.tries"] += report["tries"]
        self.counters[f"delivery.{report['outcome']}"] += 1
        self.deliveries.append(report)

    def stats(self) -> dict[str, Any]:
        now = self.clock.now()
        live = 0
        for token in self.tokens.values():
            if now < token.expires_at and (token.superseded_at is None or now < token.superseded_at):
                live += 1
        return {
            "counters": dict(sorted(self.counters.items())),
            "users": len(self.users),
            "tokens_live": live,
            "clock": {"now": round(now, 3), "offset": self.clock.offset},
            "faults": self.faults.to_json(),
        }


def _notice_values(keywords: tuple[str, ...], data: Any) -> list[str]:
    """The template's keyword values in order, or the 47003 the platform answers with."""
    if not isinstance(data, dict):
        raise PlatformError(47003, "argument invalid! data invalid")
    values = []
    for keyword in keywords:
        item = data.get(keyword)
        value = item.get("value") if isinstance(item, dict) else None
        kind = keyword.rstrip("0123456789")
        if not isinstance(value, str) or not value or (
                kind == "thing" and len(value) > THING_MAX or kind == "phrase" and len(value) > PHRASE_MAX
                or kind == "character_string" and len(value) > STRING_MAX or kind == "time" and not TIME_RE.match(value)):
            raise PlatformError(47003, f"argument invalid! data.{keyword}.value invalid")
        values.append(value)
    return values
