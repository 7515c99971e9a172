"""Console accounts in the `agent_accounts` table (SQLAlchemy Core 1.4, 2.0 style).

Everything here is synchronous: async callers go through `run_sync` (a worker thread),
so neither the database nor scrypt ever stalls the event loop.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ParamSpec, TypeVar

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bot.config import Settings
from bot.console.passwords import hash_password, verify_password
from bot.records.schema import agent_accounts

log = logging.getLogger("patentdesk.console")

ROLES: tuple[str, ...] = ("agent", "supervisor")
LOGIN_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,39}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 256  # scrypt hashes anything, but a megabyte "password" is an attack
DEMO_LOGIN = "demo"
DEMO_SECRET = "console_demo_password"

P = ParamSpec("P")
R = TypeVar("R")


class AccountError(ValueError):
    """An account cannot be created or changed; the message says why."""


@dataclass(frozen=True)
class Account:
    login: str
    name: str
    role: str
    capacity: int
    disabled: bool
    created_at: datetime
    password_hash: str = ""

    @property
    def supervisor(self) -> bool:
        return self.role == "supervisor"


async def run_sync(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run a blocking call (SQL, scrypt) in the default executor."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, functools.partial(fn, *args, **kwargs))


def ensure_schema(engine: Engine) -> None:
    """Bring the records database (which holds the accounts) to the latest schema.

    For the command line and `make run`, which may come before any gateway: the records
    migrations own every table, `agent_accounts` included. The console itself never
    creates tables; the gateway's records writer migrates when it starts.
    """
    from bot.records.migrate import migrate

    migrate(engine)


def validate(login: str, name: str, role: str, capacity: int, password: str) -> None:
    if not LOGIN_RE.match(login):
        raise AccountError("login must be 2-40 characters of a-z 0-9 . _ -, starting with a letter or digit")
    if not name.strip() or len(name) > 80:
        raise AccountError("name must be 1-80 characters")
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if not 0 <= capacity <= 50:
        raise AccountError("capacity must be within 0..50")
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise AccountError(f"password must be {MIN_PASSWORD}-{MAX_PASSWORD} characters")


def _account(row: object) -> Account:
    m = row._mapping  # type: ignore[attr-defined]
    created = m["created_at"]
    if created.tzinfo is None:  # SQLite hands back naive datetimes
        created = created.replace(tzinfo=UTC)
    return Account(login=m["login"], name=m["name"], role=m["role"], capacity=int(m["capacity"]),
                   disabled=bool(m["disabled"]), created_at=created, password_hash=m["password_hash"])


def create_account(engine: Engine, login: str, name: str, password: str, *, role: str = "agent",
                   capacity: int = 3) -> Account:
    validate(login, name, role, capacity, password)
    row = {"login": login, "name": name.strip(), "role": role, "capacity": capacity,
           "password_hash": hash_password(password), "disabled": False, "created_at": datetime.now(UTC)}
    try:
        with engine.begin() as conn:
            conn.execute(insert(agent_accounts).values(**row))
    except IntegrityError as exc:
        raise AccountError(f"account {login!r} already exists") from exc
    log.info("console: account %s (%s) created", login, role)
    account = get_account(engine, login)
    assert account is not None
    return account


def get_account(engine: Engine, login: str) -> Account | None:
    with engine.connect() as conn:
        row = conn.execute(select(agent_accounts).where(agent_accounts.c.login == login)).first()
    return _account(row) if row is not None else None


def list_accounts(engine: Engine) -> list[Account]:
    with engine.connect() as conn:
        rows = conn.execute(select(agent_accounts).order_by(agent_accounts.c.login)).all()
    return [_account(r) for r in rows]


def set_disabled(engine: Engine, login: str, disabled: bool = True) -> bool:
    """True when the account exists (whatever its previous state)."""
    with engine.begin() as conn:
        result = conn.execute(update(agent_accounts).where(agent_accounts.c.login == login)
                              .values(disabled=disabled))
    if result.rowcount:
        log.info("console: account %s %s", login, "disabled" if disabled else "enabled")
    return bool(result.rowcount)


def set_password(engine: Engine, login: str, password_hash: str) -> None:
    """Store a re-hashed password (after a login with older scrypt parameters)."""
    with engine.begin() as conn:
        conn.execute(update(agent_accounts).where(agent_accounts.c.login == login)
                     .values(password_hash=password_hash))


def _demo_password(settings: Settings) -> str:
    """The demo password, generated once under var/secrets like every other local secret."""
    from bot import secrets as stored

    if DEMO_SECRET in stored.GENERATORS:
        return stored.stored_secret(settings, DEMO_SECRET)
    # bot/secrets.py does not know this name yet: same file layout, kept here until it does
    path = settings.var_dir / "secrets" / DEMO_SECRET.replace("_", "-")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(secrets.token_urlsafe(12))
        tmp.chmod(0o600)
        tmp.replace(path)
    return path.read_text().strip()


def ensure_demo_account(settings: Settings, engine: Engine | None = None) -> str | None:
    """A fresh installation gets supervisor `demo`; returns its password for the run banner.

    Later runs return it again while `demo` is the only account, still enabled and still
    using that password (the banner keeps saying how to log in); otherwise None.
    """
    from bot.records.store import make_engine

    own = engine is None
    engine = engine or make_engine(settings.database_url)
    try:
        ensure_schema(engine)
        accounts = list_accounts(engine)
        if not accounts:
            password = _demo_password(settings)
            create_account(engine, DEMO_LOGIN, "演示主管", password, role="supervisor", capacity=3)
            return password
        only = accounts[0] if len(accounts) == 1 else None
        if only is not None and only.login == DEMO_LOGIN and not only.disabled:
            password = _demo_password(settings)
            if verify_password(password, only.password_hash):
                return password
        return None
    finally:
        if own:
            engine.dispose()
