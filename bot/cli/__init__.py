"""The `patentdesk` command and its verbs (ask, shell, doctor, ...): what a person types.

`patentdesk` (pyproject's console script) and `python -m bot.cli` both run `main`.
Long-running processes are started through `bot.runtime`.
"""

from __future__ import annotations

from bot.cli.commands import main

__all__ = ["main"]
