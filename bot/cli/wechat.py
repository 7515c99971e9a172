"""`patentdesk wechat menu show|diff|push` and `patentdesk wechat qrcode SCENE`: the account's
menu and QR codes on the platform, made from our own tables through the platform's API.

Each verb is an async function of the settings returning an exit code and the lines to
print, so the tests run them against the simulator exactly as the command does.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bot.cli.wechat_platform import explain, platform_api
from bot.config import Settings
from bot.gateway.account import AccountFileError, load_account
from bot.gateway.wechat_api import PlatformUnavailable
from bot.wechat import menu as menu_table
from bot.wechat.errors import APIError
from bot.wechat.qrcode import permanent_str_scene
from bot.wechat.qrcode import png as qr_png

Result = tuple[int, list[str]]


async def menu_show(settings: Settings) -> Result:
    try:
        async with platform_api(settings) as api:
            held = await api.menu_get()
    except (APIError, PlatformUnavailable) as exc:
        return 1, [explain(exc)]
    return 0, ["平台上的菜单 / menu on the platform:", *("  " + line for line in menu_table.render(held))]


async def menu_diff(settings: Settings) -> Result:
    """Exit 0 when the platform holds exactly our menu, 1 when it differs (or cannot be read)."""
    try:
        async with platform_api(settings) as api:
            held = await api.menu_get()
    except (APIError, PlatformUnavailable) as exc:
        return 1, [explain(exc)]
    changes = menu_table.diff(menu_table.menu_payload(), held)
    if not changes:
        return 0, ["平台菜单与本地菜单表一致 / the platform's menu matches ours"]
    return 1, ["平台菜单与本地菜单表不同（- 仅平台有，+ 仅本地有）/ menus differ (- platform only, + ours only):",
               *("  " + line for line in changes)]


async def menu_push(settings: Settings) -> Result:
    """Create our menu on the platform (menu/create replaces the whole menu), then read it back."""
    payload = menu_table.menu_payload()
    problems = menu_table.check_payload(payload)
    if problems:
        return 1, [f"本地菜单表不符合平台规则 / our menu breaks a platform rule: {text}" for _, text in problems]
    try:
        async with platform_api(settings) as api:
            await api.menu_create(payload)
            held = await api.menu_get()
    except (APIError, PlatformUnavailable) as exc:
        return 1, [explain(exc)]
    changes = menu_table.diff(payload, held)
    if changes:
        return 1, ["已提交，但平台返回的菜单与本地不同 / pushed, but the platform holds another menu:", *changes]
    return 0, ["菜单已创建 / menu created:", *("  " + line for line in menu_table.render(held))]


def showqrcode_url(settings: Settings, ticket: str) -> str:
    """Where the platform shows a ticket's picture (mp.weixin.qq.com for the real API)."""
    base = settings.wechat_api_base
    if base.rstrip("/").endswith("api.weixin.qq.com"):
        base = "https://mp.weixin.qq.com"
    return f"{base.rstrip('/')}/cgi-bin/showqrcode?ticket={quote(ticket, safe='')}"


async def qrcode(settings: Settings, scene: str, out_dir: Path | None = None) -> Result:
    """A permanent QR code for `scene` (QR_LIMIT_STR_SCENE), its picture saved as PNG."""
    try:
        body = permanent_str_scene(scene)
    except ValueError as exc:
        return 1, [f"场景值无效 / invalid scene: {exc}"]
    try:
        scenes = load_account(settings.wechat_account_file or None).scenes
    except AccountFileError as exc:
        return 1, [f"公众号数据文件有误 / account file: {exc}"]
    lines = []
    if scene not in scenes:
        lines.append(f"注意：{scene} 不在 WECHAT_ACCOUNT_FILE 的 scenes 中，扫码只会得到通用问候 / note: {scene} is not "
                     "among the account file's scenes; a scan gets the general greeting only")
    try:
        async with platform_api(settings) as api:
            made = await api.qrcode_create(body)
    except (APIError, PlatformUnavailable) as exc:
        return 1, [*lines, explain(exc)]
    folder = out_dir or settings.var_dir / "qrcodes"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{scene}.png"
    path.write_bytes(qr_png(str(made["url"])))
    name = scenes[scene].name if scene in scenes else scene
    return 0, [*lines, f"二维码已生成 / QR code created: {name} ({scene})", f"  picture: {path}",
               f"  url:     {made['url']}", f"  show:    {showqrcode_url(settings, str(made['ticket']))}"]


def _run(verb: Callable[[Settings], Coroutine[Any, Any, Result]], settings_fn: Callable[[], Settings]) -> int:
    from bot.secrets import with_secrets

    code, lines = asyncio.run(verb(with_secrets(settings_fn())))  # the demo's secrets live in var/secrets
    for line in lines:
        print(line)
    return int(code)


def register(sub: argparse._SubParsersAction, settings_fn: Callable[[], Settings]) -> None:
    p = sub.add_parser("wechat", help="the official account on the platform: menu, QR codes")
    wsub = p.add_subparsers(dest="wechat_command", required=True)
    m = wsub.add_parser("menu", help="the custom menu: show what the platform holds, diff it with ours, push ours")
    m.add_argument("action", choices=("show", "diff", "push"))
    verbs = {"show": menu_show, "diff": menu_diff, "push": menu_push}
    m.set_defaults(func=lambda args: _run(verbs[args.action], settings_fn))
    q = wsub.add_parser("qrcode", help="create a permanent QR code carrying SCENE; saves its picture under var/qrcodes/")
    q.add_argument("scene", help="scene value, e.g. a service window (see WECHAT_ACCOUNT_FILE)")
    q.add_argument("--out", type=Path, help="folder for the PNG (default <var>/qrcodes)")
    q.set_defaults(func=lambda args: _run(lambda s: qrcode(s, args.scene, args.out), settings_fn))
