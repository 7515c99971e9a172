"""`patentdesk doctor --wechat`: is this official account's live configuration right?

Checks what goes wrong on day one, each failure explained in Chinese and English with
where to fix it: the access_token fetch (AppId, AppSecret, the IP whitelist), the
EncodingAESKey's shape, the account file (scenes, notice template), whether the server
URL answers the platform's signed verification (token and reachability), and whether the
platform's menu is ours.
"""

from __future__ import annotations

import secrets
import time

import aiohttp

from bot.cli.doctor import Finding
from bot.cli.wechat_platform import EXPLAIN, explain, platform_api
from bot.config import Settings
from bot.gateway.account import AccountFileError, load_account
from bot.gateway.wechat_api import PlatformUnavailable, WeChatAPI
from bot.wechat import menu as menu_table
from bot.wechat.crypto import aes_key
from bot.wechat.errors import APIError
from bot.wechat.signature import sign


async def check_token(api: WeChatAPI) -> Finding:
    try:
        await api._fetch_token()  # a fresh fetch, not a cached token: this checks the credentials now
    except APIError as exc:
        meaning, fix = EXPLAIN.get(exc.errcode, (exc.errmsg, "见公众平台文档 / see the platform's documentation"))
        return Finding("wechat token", False, f"errcode {exc.errcode}: {meaning}", fix)
    except PlatformUnavailable as exc:
        return Finding("wechat token", False, f"无法连接微信接口 / cannot reach the API at {api.base_url}: {exc}",
                       "检查 WECHAT_API_BASE 与网络 / check WECHAT_API_BASE and the network")
    return Finding("wechat token", True, "access_token 获取成功 / access_token fetched")


def check_aes_key(settings: Settings) -> Finding:
    key = settings.wechat_aes_key
    try:
        aes_key(key)
    except ValueError as exc:
        return Finding("wechat aes key", False,
                       f"EncodingAESKey 格式不对（{len(key)} 个字符）/ EncodingAESKey is malformed: {exc}",
                       "从“基本配置 › 服务器配置”复制 43 位 EncodingAESKey 填入 WECHAT_AES_KEY / copy the "
                       "43-character EncodingAESKey from Server configuration into WECHAT_AES_KEY")
    mode = settings.wechat_encrypt_mode
    return Finding("wechat aes key", True, f"43 个字符，可解出 32 字节密钥 / 43 characters, a 32-byte key ({mode} mode)")


async def check_server_url(settings: Settings, http: aiohttp.ClientSession) -> Finding:
    """The GET the platform makes when the server URL is saved: signed, must echo `echostr`."""
    url = settings.wechat_webhook_url
    ts, nonce, echostr = str(int(time.time())), str(secrets.randbelow(10**9)), str(secrets.randbelow(10**18))
    query = {"signature": sign(settings.wechat_token, ts, nonce), "timestamp": ts, "nonce": nonce, "echostr": echostr}
    fix_reach = ("确认网关在运行，且服务器地址(URL)指向 https://<域名>/wechat / make sure the gateway runs and the "
                 "server URL points at https://<host>/wechat")
    try:
        async with http.get(url, params=query, timeout=aiohttp.ClientTimeout(total=5)) as resp:
            status, body = resp.status, await resp.text(errors="replace")
    except (aiohttp.ClientError, TimeoutError) as exc:
        return Finding("wechat server url", False, f"{url} 无法访问 / unreachable ({type(exc).__name__})", fix_reach)
    if status == 403:
        return Finding("wechat server url", False, f"{url} 拒绝了签名（Token 不一致）/ rejected the signature: "
                       "the token differs", "让公众平台“服务器配置”的令牌(Token)与 WECHAT_TOKEN 相同 / make the "
                       "platform's Token equal WECHAT_TOKEN")
    if status != 200 or body != echostr:
        return Finding("wechat server url", False, f"{url} 未原样返回 echostr（HTTP {status}）/ did not echo "
                       f"echostr (HTTP {status})", fix_reach)
    return Finding("wechat server url", True, f"{url} 通过签名校验 / answers the signed verification")


async def check_menu(api: WeChatAPI) -> Finding:
    try:
        held = await api.menu_get()
    except (APIError, PlatformUnavailable) as exc:
        return Finding("wechat menu", False, explain(exc), "先解决 token 问题 / fix the token first")
    fix = "运行 patentdesk wechat menu push / run `patentdesk wechat menu push`"
    if held is None:
        return Finding("wechat menu", False, EXPLAIN[46003][0], fix)
    changes = menu_table.diff(menu_table.menu_payload(), held)
    if changes:
        return Finding("wechat menu", False, "平台菜单与本地菜单表不同 / the platform's menu differs from ours: "
                       + "; ".join(changes[:6]), fix)
    return Finding("wechat menu", True, "平台菜单与本地一致 / the platform's menu matches ours")


def check_account_file(settings: Settings) -> Finding:
    where = settings.wechat_account_file or "bundled bot/gateway/wechat_account.yml"
    try:
        account = load_account(settings.wechat_account_file or None)
    except AccountFileError as exc:
        return Finding("wechat account file", False, f"公众号数据文件有误 / the account file is wrong: {exc}",
                       "修改 WECHAT_ACCOUNT_FILE 指向的 YAML / fix the YAML that WECHAT_ACCOUNT_FILE names")
    notice = (f"订阅通知模板 / notice template {account.notice.template_id}" if account.notice
              else "未配置订阅通知：48 小时后的答复将无法送达 / no notice template: replies after 48 hours are refused")
    return Finding("wechat account file", True, f"{where}: {len(account.scenes)} 个场景 / scenes; {notice}")


async def check_wechat(settings: Settings) -> list[Finding]:
    findings = [check_aes_key(settings), check_account_file(settings)]
    async with platform_api(settings) as api:
        token = await check_token(api)
        findings.append(token)
        findings.append(await check_server_url(settings, api.session))
        if token.ok:
            findings.append(await check_menu(api))
        else:
            findings.append(Finding("wechat menu", False, "未检查：没有 access_token / not checked: no access_token",
                                    "先解决 token 问题 / fix the token first"))
    return findings
