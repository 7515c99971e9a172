"""Secrets not given in the environment are generated once under var/secrets (mode 0600).

Every process of one installation then agrees on them (the simulator signs with the
same WeChat token the gateway checks) without anyone pasting keys for a demo. Processes
sharing one var/ may start at once: the first to create a secret's file wins and every
other reads it. Machines do not share var/: several gateways or Rasa servers on several
machines get their secrets from the environment (see "Running beyond one machine").
"""

from __future__ import annotations

import base64
import dataclasses
import os
import secrets
from collections.abc import Callable

from bot.config import Settings


def _aes_key() -> str:
    return base64.b64encode(os.urandom(32)).decode("ascii").rstrip("=")


GENERATORS: dict[str, Callable[[], str]] = {
    "rasa_auth_token": lambda: secrets.token_urlsafe(24),
    "wechat_token": lambda: secrets.token_hex(16),
    "wechat_appsecret": lambda: secrets.token_hex(16),
    "wechat_aes_key": _aes_key,
    "pseudonym_key": lambda: secrets.token_hex(32),
    "console_demo_password": lambda: secrets.token_urlsafe(12),
}
# the secrets that are Settings fields (with_secrets fills them); others are read where used
SETTINGS_SECRETS = ("rasa_auth_token", "wechat_token", "wechat_appsecret", "wechat_aes_key", "pseudonym_key")


def stored_secret(settings: Settings, name: str) -> str:
    path = settings.var_dir / "secrets" / name.replace("_", "-")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # written whole under a private name, then linked into place: link() fails if
        # another process got there first, and then its value is the one everybody reads
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(GENERATORS[name]())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


def with_secrets(settings: Settings) -> Settings:
    """Settings with every empty secret filled from var/secrets."""
    filled = {name: stored_secret(settings, name) for name in SETTINGS_SECRETS if not getattr(settings, name)}
    return dataclasses.replace(settings, **filled) if filled else settings  # type: ignore[arg-type]
