"""Is a message a technical problem (the e-filing system, payments, certificates, uploads)?

Why patterns and not an intent: the signs are literal (an error code quoted, "登录不了",
"上传失败"), they must be explainable to the technicians who tune them, and they are data
(`technical.yml`) so the list grows without a release or a retrained model. The detector
only says which kind of problem it sees; whether the knowledge base answers it first is
the bot's decision (`actions/routing.py`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

__all__ = ["TechnicalDetector", "TechnicalProblem", "default_detector"]


@dataclass(frozen=True)
class TechnicalProblem:
    topic: str  # error | login | certificate | upload | payment
    team: str  # the team that handles it
    matched: str  # the words that gave it away, for the record and the agent


@dataclass(frozen=True)
class TechnicalDetector:
    team: str
    patterns: tuple[tuple[str, re.Pattern[str]], ...]  # (topic, pattern), in the file's order

    def detect(self, text: str) -> TechnicalProblem | None:
        """The first topic whose pattern matches the message, or None."""
        for topic, pattern in self.patterns:
            found = pattern.search(text)
            if found:
                return TechnicalProblem(topic, self.team, found.group(0))
        return None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> TechnicalDetector:
        topics = data.get("topics")
        if not isinstance(topics, Mapping) or not topics:
            raise ValueError("technical.yml needs a non-empty 'topics' mapping")
        compiled: list[tuple[str, re.Pattern[str]]] = []
        for topic, patterns in topics.items():
            for raw in patterns or ():
                try:
                    compiled.append((str(topic), re.compile(str(raw), re.IGNORECASE)))
                except re.error as exc:
                    raise ValueError(f"technical.yml, topic {topic}: bad pattern {raw!r} ({exc})") from exc
        return cls(str(data.get("team") or "tech"), tuple(compiled))

    @classmethod
    def from_yaml(cls, path: str | Path) -> TechnicalDetector:
        return cls.from_mapping(yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {})


@lru_cache(maxsize=1)
def default_detector() -> TechnicalDetector:
    """The bundled patterns (read once per process)."""
    text = resources.files("bot.handoff").joinpath("technical.yml").read_text(encoding="utf-8")
    return TechnicalDetector.from_mapping(yaml.safe_load(text) or {})
