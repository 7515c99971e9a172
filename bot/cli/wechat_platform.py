"""The platform's API as the `patentdesk wechat` verbs and `doctor --wechat` use it: the
gateway's own client (shared token), and its errcodes explained in Chinese and English."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import aiohttp
import redis.asyncio as aioredis

from bot.config import Settings
from bot.gateway.wechat_api import WeChatAPI
from bot.wechat.errors import APIError


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


# errcode -> (what it means, what to do), each in Chinese / English
EXPLAIN: dict[int, tuple[str, str]] = {
    40164: ("调用接口的 IP 不在公众号的 IP 白名单中 / the calling IP is not on the account's IP whitelist",
            "在公众平台“设置与开发 › 基本配置 › IP白名单”中加入本服务器的出口 IP / add this server's outgoing IP "
            "under Settings & Development › Basic configuration › IP whitelist"),
    40125: ("AppSecret 不正确 / the AppSecret is wrong",
            "在“基本配置”中核对或重置 AppSecret，填入 WECHAT_APPSECRET / check or reset the AppSecret in Basic "
            "configuration and set WECHAT_APPSECRET"),
    40013: ("AppId 不正确 / the AppId is wrong",
            "把“基本配置”中的开发者ID(AppID)填入 WECHAT_APPID / set WECHAT_APPID to the account's AppID"),
    40001: ("access_token 无效（可能被其他程序刷新）/ the access_token is invalid (perhaps refreshed elsewhere)",
            "确保只有本系统获取 access_token / let only this system fetch access tokens"),
    46003: ("公众号尚未设置菜单 / the account has no menu",
            "运行 patentdesk wechat menu push / run `patentdesk wechat menu push`"),
    48001: ("公众号没有该接口的权限（需认证的服务号）/ the account lacks this API (needs a verified service account)",
            "在公众平台“接口权限”中查看 / see Interface permissions on the platform"),
}


def explain(exc: Exception) -> str:
    """A platform error as one line a person can act on, in Chinese and English."""
    if isinstance(exc, APIError):
        meaning, fix = EXPLAIN.get(exc.errcode, (f"平台返回错误 / the platform answered: {exc.errmsg}", ""))
        return f"errcode {exc.errcode}: {meaning}" + (f"；处理 / fix: {fix}" if fix else "")
    return f"无法连接微信接口 / the platform's API cannot be reached: {exc}"
