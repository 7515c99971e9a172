"""The official account's own data, read from one YAML file (WECHAT_ACCOUNT_FILE): its QR
code scenes (where users come from, each with a first-scan welcome) and its subscription
notice template (which keyword of the template gets what). Data, not code, because each
account adds its own templates and prints its own codes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

SCENE_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
FILLS = ("title", "summary", "time")


class AccountFileError(ValueError):
    """The account file is unreadable or breaks a rule; the message says which."""


@dataclass(frozen=True)
class Scene:
    key: str
    name: str
    welcome: str


@dataclass(frozen=True)
class NoticeTemplate:
    template_id: str
    fields: dict[str, str]  # template keyword (thing1, time3, ...) -> title | summary | time


@dataclass(frozen=True)
class AccountData:
    scenes: dict[str, Scene] = field(default_factory=dict)
    notice: NoticeTemplate | None = None


def load_account(path: str | Path | None = None) -> AccountData:
    """The given file, or the packaged demo account's."""
    try:
        if path:
            text = Path(path).read_text(encoding="utf-8")
        else:
            text = resources.files("bot.gateway").joinpath("wechat_account.yml").read_text(encoding="utf-8")
        data = yaml.safe_load(text) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise AccountFileError(f"account file {path or '(bundled)'}: {exc}") from exc
    return account_from(data)


def account_from(data: Any) -> AccountData:
    if not isinstance(data, dict):
        raise AccountFileError("account file: expected a mapping with `scenes` and `notice`")
    scenes: dict[str, Scene] = {}
    for key, value in (data.get("scenes") or {}).items():
        key = str(key)
        if not SCENE_RE.match(key):
            raise AccountFileError(f"scene {key!r}: 1-64 characters of A-Z a-z 0-9 _ -")
        if not isinstance(value, dict) or not str(value.get("welcome") or "").strip():
            raise AccountFileError(f"scene {key!r}: needs a `welcome` text")
        scenes[key] = Scene(key, str(value.get("name") or key), str(value["welcome"]).strip())
    notice = None
    raw = data.get("notice")
    if raw:
        if not isinstance(raw, dict) or not str(raw.get("template_id") or "").strip():
            raise AccountFileError("notice: needs a `template_id`")
        fields = raw.get("fields") or {}
        if not isinstance(fields, dict) or not fields or any(str(v) not in FILLS for v in fields.values()):
            raise AccountFileError(f"notice.fields: map each template keyword to one of {', '.join(FILLS)}")
        notice = NoticeTemplate(str(raw["template_id"]).strip(), {str(k): str(v) for k, v in fields.items()})
    return AccountData(scenes, notice)
