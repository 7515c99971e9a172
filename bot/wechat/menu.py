"""The official account's custom menu: CLICK event keys and the question each one asks.

One table, three uses: the gateway maps a CLICK to its question, `patentdesk wechat menu
push` creates the menu on the platform from it (menu/create), and `show`/`diff` compare
what the platform holds (menu/get) with it. The platform's limits are checked here, IO-free,
so a bad table fails before any call: at most 3 top-level buttons of 16 bytes, at most 5
sub-buttons of 60 bytes each, keys of at most 128 bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class MenuItem:
    key: str
    label: str
    question: str
    group: str = ""  # the top-level button it sits under; "" = a top-level button itself


MENU: tuple[MenuItem, ...] = (
    MenuItem("FAQ_FEE_REDUCTION", "费用减缴", "怎么办理专利费用减缴？", "常见问题"),
    MenuItem("FAQ_ANNUAL_FEE", "年费缴纳", "专利年费什么时候交？", "常见问题"),
    MenuItem("FAQ_EFILING", "电子申请", "网上申请专利在哪个系统办理？", "常见问题"),
    MenuItem("FAQ_PRIORITY_EXAM", "优先审查", "怎么提出优先审查请求？", "常见问题"),
    MenuItem("FAQ_CHANGE", "著录项目变更", "哪些著录事项可以申请变更？", "常见问题"),
    MenuItem("HUMAN", "人工服务", "转人工"),
)

MENU_BY_KEY = {item.key: item for item in MENU}

# Each question is an entry's standard question, so a click always gets that entry's answer.

# Topics the welcome message lists (what most enquiries are about).
TOPICS = ("费用与费用减缴", "年费与滞纳金", "电子申请", "优先审查", "著录项目变更", "权利恢复", "期限", "PCT 国家阶段")

MAX_BUTTONS, MAX_SUB_BUTTONS = 3, 5
MAX_NAME_BYTES, MAX_SUB_NAME_BYTES, MAX_KEY_BYTES = 16, 60, 128

# A platform menu flattened to comparable lines: (group, label, type, key or url).
Line = tuple[str, str, str, str]


def menu_payload(items: tuple[MenuItem, ...] = MENU) -> dict[str, Any]:
    """The menu/create body: groups in table order, each with its sub-buttons."""
    buttons: list[dict[str, Any]] = []
    groups: dict[str, dict[str, Any]] = {}
    for item in items:
        click = {"type": "click", "name": item.label, "key": item.key}
        if not item.group:
            buttons.append(click)
            continue
        if item.group not in groups:
            groups[item.group] = {"name": item.group, "sub_button": []}
            buttons.append(groups[item.group])
        groups[item.group]["sub_button"].append(click)
    return {"button": buttons}


Problem = tuple[int, str]  # the errcode menu/create answers with, and what is wrong


def check_payload(payload: Any) -> list[Problem]:
    """What in a menu/create body breaks the platform's rules ([] when it is valid)."""
    buttons = payload.get("button") if isinstance(payload, dict) else None
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= MAX_BUTTONS:
        return [(40016, f"需要 1 至 {MAX_BUTTONS} 个一级菜单 / 1 to {MAX_BUTTONS} top-level buttons")]
    problems: list[Problem] = []
    for button in buttons:
        if not isinstance(button, dict):
            return [(40016, "菜单项不是对象 / a button is not an object")]
        subs = button.get("sub_button") or []
        problems += _check_button(button, MAX_NAME_BYTES, bool(subs))
        if not isinstance(subs, list) or len(subs) > MAX_SUB_BUTTONS:
            problems.append((40023, f"“{button.get('name')}”的子菜单超过 {MAX_SUB_BUTTONS} 个 / over {MAX_SUB_BUTTONS} sub-buttons"))
            continue
        for sub in subs:
            problems += _check_button(sub if isinstance(sub, dict) else {}, MAX_SUB_NAME_BYTES, False)
    return problems


def _check_button(button: dict[str, Any], name_limit: int, is_group: bool) -> list[Problem]:
    name = button.get("name")
    if not isinstance(name, str) or not name or len(name.encode("utf-8")) > name_limit:
        return [(40018 if name_limit == MAX_NAME_BYTES else 40025,
                 f"菜单名称“{name}”为空或超过 {name_limit} 字节 / name empty or over {name_limit} bytes")]
    if is_group:
        return []
    kind = button.get("type")
    if kind == "click":
        key = button.get("key")
        if not isinstance(key, str) or not key or len(key.encode("utf-8")) > MAX_KEY_BYTES:
            return [(40019, f"“{name}”的 key 为空或超过 {MAX_KEY_BYTES} 字节 / key empty or too long")]
        return []
    if kind == "view":
        url = button.get("url")
        return [] if isinstance(url, str) and url.startswith(("http://", "https://")) else [(40055, f"“{name}”的链接无效 / bad url")]
    return [(40017, f"“{name}”的类型 {kind!r} 不受支持 / unsupported type")]


def lines_of(payload: dict[str, Any] | None) -> list[Line]:
    """A menu (ours or menu/get's `menu`) as comparable lines, in order."""
    lines: list[Line] = []
    for button in (payload or {}).get("button", []):
        subs = button.get("sub_button") or []
        if isinstance(subs, dict):  # get_current_selfmenu_info wraps them as {"list": [...]}
            subs = subs.get("list", [])
        if subs:
            lines += [(button.get("name", ""), s.get("name", ""), s.get("type", ""), s.get("key") or s.get("url", ""))
                      for s in subs]
        else:
            lines.append(("", button.get("name", ""), button.get("type", ""), button.get("key") or button.get("url", "")))
    return lines


def diff(ours: dict[str, Any], theirs: dict[str, Any] | None) -> list[str]:
    """Lines `- ` only on the platform, `+ ` only ours (push would add them); [] when equal."""
    mine, platform = lines_of(ours), lines_of(theirs)
    if mine == platform:
        return []
    out = [f"- {_show(line)}" for line in platform if line not in mine]
    out += [f"+ {_show(line)}" for line in mine if line not in platform]
    return out or ["~ 顺序不同 / same buttons, different order"]


def render(payload: dict[str, Any] | None) -> list[str]:
    """A menu as lines a person reads."""
    return [_show(line) for line in lines_of(payload)] or ["（无菜单 / no menu）"]


def _show(line: Line) -> str:
    group, label, kind, target = line
    where = f"{group} › {label}" if group else label
    return f"{where}  [{kind} {target}]"
