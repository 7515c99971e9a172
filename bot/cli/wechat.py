"""`patentdesk wechat menu show|diff|push` and `patentdesk wechat qrcode SCENE`: the account's
menu and QR codes on the platform, made from our own tables through the platform's API.

Each verb is an async function of the settings returning an exit code and the lines to
print, so the tests run them against the simulator exactly as the command does.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import aiohttp
import redis.asyncio as aioredis

from bot.config import Settings
from bot.gateway.wechat_api import PlatformUnavailable, WeChatAPI
from bot.wechat import menu as menu_table
from bot.wechat.errors import APIError

Result = tuple[int, list[str]]


@contextlib.asynccontextmanager
async def platform_api(settings: Settings) -> AsyncIterator[WeChatAPI]:
    """The gateway's own API client (shared token in Redis when Redis is up, else its own)."""
    redis = aioredis.from_url(settings.effective_redis_url, socket_timeout=2, socket_connect_timeout=1)
    async with aiohttp.ClientSession() as http:
        try:
            yield WeChatAPI(http, redis, settings.wechat_api_base, settings.wechat_appid, settings.wechat_appsecret,
                            attempts=2, backoff=0.2)
        finally:
            await redis.close()


def explain_api_error(exc: Exception) -> str:
    """One line in Chinese and English for what the platform said (see `wechat_doctor`)."""
    from bot.cli.wechat_doctor import explain

    return explain(exc)


async def menu_show(settings: Settings) -> Result:
    try:
        async with platform_api(settings) as api:
            held = await api.menu_get()
    except (APIError, PlatformUnavailable) as exc:
        return 1, [explain_api_error(exc)]
    return 0, ["平台上的菜单 / menu on the platform:", *("  " + line for line in menu_table.render(held))]


async def menu_diff(settings: Settings) -> Result:
    """Exit 0 when the platform holds exactly our menu, 1 when it differs (or cannot be read)."""
    try:
        async with platform_api(settings) as api:
            held = await api.menu_get()
    except (APIError, PlatformUnavailable) as exc:
        return 1, [explain_api_error(exc)]
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
        return 1, [explain_api_error(exc)]
    changes = menu_table.diff(payload, held)
    if changes:
        return 1, ["已提交，但平台返回的菜单与本地不同 / pushed, but the platform holds another menu:", *changes]
    return 0, ["菜单已创建 / menu created:", *("  " + line for line in menu_table.render(held))]


def _run(verb: Callable[[Settings], Coroutine[Any, Any, Result]], settings_fn: Callable[[], Settings]) -> int:
    code, lines = asyncio.run(verb(settings_fn()))
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
