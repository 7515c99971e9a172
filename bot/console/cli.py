"""`patentdesk agents add|list|disable`: console accounts from the command line.

Registered on the main parser by `register(sub, settings)`; heavy imports stay inside
the commands so `patentdesk --help` remains quick.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from collections.abc import Callable

from bot.config import Settings

log = logging.getLogger("patentdesk")


def register(sub: argparse._SubParsersAction, settings: Callable[[], Settings]) -> None:
    """Add the `agents` command to the main parser's subcommands."""
    p = sub.add_parser("agents", help="agent console accounts (add, list, disable)")
    asub = p.add_subparsers(dest="agents_command", required=True)
    a = asub.add_parser("add", help="create an account (the password is asked for, or read from stdin)")
    a.add_argument("login", help="2-40 characters of a-z 0-9 . _ -")
    a.add_argument("--name", required=True, help="name shown to colleagues and users (e.g. 客服小李)")
    a.add_argument("--role", choices=("agent", "supervisor"), default="agent")
    a.add_argument("--capacity", type=int, default=3,
                   help="conversations assigned automatically at once (0: only those the agent claims)")
    a.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    a.set_defaults(func=lambda args: cmd_add(args, settings()))
    ls = asub.add_parser("list", help="list accounts")
    ls.set_defaults(func=lambda args: cmd_list(args, settings()))
    d = asub.add_parser("disable", help="disable an account and end its console sessions")
    d.add_argument("login")
    d.set_defaults(func=lambda args: cmd_disable(args, settings()))


def _password(args: argparse.Namespace) -> str | None:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if first != getpass.getpass("password again: "):
        print("the two passwords differ; nothing was created", file=sys.stderr)
        return None
    return first


def cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    from bot.console.accounts import AccountError, create_account, ensure_schema, validate
    from bot.records.store import make_engine

    login = args.login.strip().lower()
    try:
        validate(login, args.name, args.role, args.capacity, "x" * 8)  # fail before asking for a password
    except AccountError as exc:
        print(f"cannot add {login!r}: {exc}", file=sys.stderr)
        return 2
    password = _password(args)
    if password is None:
        return 2
    engine = make_engine(settings.database_url)
    try:
        ensure_schema(engine)
        account = create_account(engine, login, args.name, password, role=args.role, capacity=args.capacity)
    except AccountError as exc:
        print(f"cannot add {login!r}: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(f"added {account.role} {account.login} ({account.name}), capacity {account.capacity}")
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    from bot.console.accounts import ensure_schema, list_accounts
    from bot.records.store import make_engine

    engine = make_engine(settings.database_url)
    try:
        ensure_schema(engine)
        accounts = list_accounts(engine)
    finally:
        engine.dispose()
    if not accounts:
        print("no accounts yet: patentdesk agents add LOGIN --name NAME")
        return 0
    rows = [("login", "name", "role", "capacity", "state", "created")]
    rows += [(a.login, a.name, a.role, str(a.capacity), "disabled" if a.disabled else "active",
              a.created_at.strftime("%Y-%m-%d %H:%M")) for a in accounts]
    widths = [max(_width(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell + " " * (w - _width(cell)) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _width(text: str) -> int:
    """Terminal columns: CJK characters take two."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def cmd_disable(args: argparse.Namespace, settings: Settings) -> int:
    import redis
    from redis.exceptions import RedisError

    from bot.console.accounts import ensure_schema, set_disabled
    from bot.console.sessions import revoke_login_sync
    from bot.records.store import make_engine

    login = args.login.strip().lower()
    engine = make_engine(settings.database_url)
    try:
        ensure_schema(engine)
        found = set_disabled(engine, login)
    finally:
        engine.dispose()
    if not found:
        print(f"no account {login!r}", file=sys.stderr)
        return 1
    print(f"disabled {login}")
    client = redis.Redis.from_url(settings.effective_redis_url, socket_connect_timeout=2, socket_timeout=5)
    try:
        count = revoke_login_sync(client, login)
        print(f"ended {count} console session(s) of {login}")
    except (RedisError, OSError) as exc:
        # the console also checks the account on every request, so the sessions die anyway
        print(f"Redis not reachable ({exc}); {login}'s open sessions end at their next request")
    finally:
        client.close()
    return 0
