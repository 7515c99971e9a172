"""Secrets not given in the environment are generated once under var/secrets (mode 0600).

Every process of one installation then agrees on them (the simulator signs with the
same WeChat token the gateway checks) without anyone pasting keys for a demo.
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
        tmp = path.with_suffix(".tmp")
        tmp.write_text(GENERATORS[name]())
        tmp.chmod(0o600)
        tmp.replace(path)
    return path.read_text().strip()


def with_secrets(settings: Settings) -> Settings:
    """Settings with every empty secret filled from var/secrets."""
    filled = {name: stored_secret(settings, name) for name in SETTINGS_SECRETS if not getattr(settings, name)}
    return dataclasses.replace(settings, **filled) if filled else settings  # type: ignore[arg-type]
