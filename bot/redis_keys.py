"""The one helper that builds Redis key names (`patentdesk:{area}:{id}`) for every package."""

from __future__ import annotations

PREFIX = "patentdesk"


def key(area: str, ident: str, *, prefix: str = PREFIX) -> str:
    return f"{prefix}:{area}:{ident}"
